//! VM0004: a VirtualService with HTTP routes for a service whose every port is declared as a
//! non-HTTP protocol (`tcp-…`, `tls`, `mongo`, …). The proxy treats such ports as opaque TCP,
//! so the HTTP routes (matches, retries, faults, rewrites) are silently never applied.

use crate::analyzers::Analyzer;
use crate::hosts::{self, MESH_GATEWAY};
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::protocol::Protocol;
use verimesh_config::Kind;

pub struct HttpOnTcpPort;

impl Analyzer for HttpOnTcpPort {
    fn name(&self) -> &'static str {
        "verimesh.HttpRouteOnTcpPortAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for r in snap.of_kind(Kind::VirtualService) {
            let Some(vs) = r.as_virtual_service() else {
                continue;
            };
            if vs.http.is_empty() {
                continue;
            }
            let for_sidecars =
                vs.gateways.is_empty() || vs.gateways.iter().any(|g| g == MESH_GATEWAY);
            if !for_sidecars {
                continue;
            }
            for (i, host) in vs.hosts.iter().enumerate() {
                let Some(entry) = snap.registry().lookup(snap.ns(r), &vs.export_to, host) else {
                    continue;
                };
                let Some(svc) = entry.resource.as_service() else {
                    continue;
                };
                let protocols: Vec<(i64, String, Protocol)> = svc
                    .spec
                    .ports
                    .iter()
                    .map(|p| {
                        let name = p.name.clone().unwrap_or_default();
                        let udp = p.protocol.as_ref().is_some_and(|x| x.as_str() == "UDP");
                        let proto = Protocol::of_service_port(
                            p.port,
                            &name,
                            udp,
                            p.app_protocol.as_deref(),
                        );
                        (p.port, name, proto)
                    })
                    .collect();
                let all_opaque = !protocols.is_empty()
                    && protocols
                        .iter()
                        .all(|(_, _, p)| !p.is_http() && !p.is_unsupported());
                if all_opaque {
                    let ports: Vec<String> = protocols
                        .iter()
                        .map(|(n, name, p)| format!("{n} ({name:?}: {p})"))
                        .collect();
                    out.add(
                        messages::HTTP_ROUTE_ON_NON_HTTP_PORT,
                        r,
                        &format!("spec.hosts[{i}]"),
                        format!(
                            "the HTTP routes for {host} never apply: every port of service {} is declared non-HTTP ({}); name the port http-… / grpc-… or set appProtocol, or write tcp/tls routes",
                            hosts::to_fqdn(snap.ns(entry.resource), entry.resource.name()),
                            ports.join(", ")
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::test_support::run;

    fn case(port_name: &str, gateways: &str) -> Vec<String> {
        let yaml = format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: db, namespace: a}}\nspec:\n  selector: {{app: db}}\n  ports: [{{name: {port_name}, port: 80}}]\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: db, namespace: a}}\nspec:\n  hosts: [db]\n  gateways: {gateways}\n  http:\n  - route: [{{destination: {{host: db}}}}]\n"
        );
        run(&super::HttpOnTcpPort, &yaml)
    }

    #[test]
    fn http_routes_on_tcp_ports_are_reported() {
        assert_eq!(case("tcp-db", "[]"), ["VM0004 VirtualService a/db"]);
        assert_eq!(case("tls", "[mesh]"), ["VM0004 VirtualService a/db"]);
    }

    #[test]
    fn http_or_sniffed_ports_and_gateway_only_routes_are_fine() {
        assert!(case("http-web", "[]").is_empty());
        assert!(
            case("web", "[]").is_empty(),
            "unnamed protocols are sniffed"
        );
        assert!(case("tcp-db", "[istio-system/ingress]").is_empty());
    }
}
