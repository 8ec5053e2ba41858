//! `virtualservice.DestinationHostAnalyzer`: every route and mirror destination names a host
//! that a Service or ServiceEntry visible from the VirtualService defines, with the port it
//! asks for (or a port chosen when the service has several); and on gateways, routes without a
//! subset to a host that the mesh routes by subsets.

use super::{mirror_destinations, route_destinations, PlacedDestination};
use crate::analyzers::Analyzer;
use crate::messages;
use crate::registry::RegistryEntry;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::networking::VirtualService;
use verimesh_config::{Kind, Resource};

pub struct DestinationHostAnalyzer;

impl Analyzer for DestinationHostAnalyzer {
    fn name(&self) -> &'static str {
        "virtualservice.DestinationHostAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for r in snap.of_kind(Kind::VirtualService) {
            let Some(vs) = r.as_virtual_service() else {
                continue;
            };
            check_hosts(snap, r, vs, out);
            check_gateway_subsets(snap, r, vs, out);
        }
    }
}

fn check_hosts(snap: &Snapshot<'_>, r: &Resource, vs: &VirtualService, out: &mut Report) {
    let ns = snap.ns(r);
    for (what, dests) in [
        ("destination", route_destinations(vs)),
        ("mirror", mirror_destinations(vs)),
    ] {
        for d in dests {
            let host = &d.destination.host;
            match snap.registry().lookup(ns, &vs.export_to, host) {
                None => out.add(
                    messages::REFERENCED_RESOURCE_NOT_FOUND,
                    r,
                    &d.host_path,
                    format!(
                        "{what} host {host:?} is not defined by any Service or ServiceEntry visible from namespace {ns:?}; \
                         requests routed there fail. Fix the host name, or add the Service or a ServiceEntry for it"
                    ),
                ),
                Some(entry) => check_port(r, &d, entry, out),
            }
        }
    }
}

fn check_port(
    r: &Resource,
    d: &PlacedDestination<'_>,
    entry: &RegistryEntry<'_>,
    out: &mut Report,
) {
    let host = &d.destination.host;
    let Some(port) = &d.destination.port else {
        if entry.ports.len() > 1 {
            let ports: Vec<String> = entry.ports.iter().map(|p| p.number.to_string()).collect();
            out.add(
                messages::VIRTUAL_SERVICE_DESTINATION_PORT_SELECTOR_REQUIRED,
                r,
                &d.host_path,
                format!(
                    "{host:?} has several ports ({}), so the destination must say which one: add `port: {{number: N}}`",
                    ports.join(", ")
                ),
            );
        }
        return;
    };
    let number = port.number.unwrap_or(0);
    if !entry.ports.iter().any(|p| p.number == number) {
        let ports: Vec<String> = entry.ports.iter().map(|p| p.number.to_string()).collect();
        out.add(
            messages::REFERENCED_RESOURCE_NOT_FOUND,
            r,
            &d.host_path,
            format!(
                "destination port {number} is not a port of {host:?} (its ports: {}); use one of them",
                if ports.is_empty() {
                    "none".to_string()
                } else {
                    ports.join(", ")
                }
            ),
        );
    }
}

/// A VirtualService bound to gateways that routes to a host without a subset, while another
/// VirtualService for that host splits it by subsets: gateway requests use only this one's
/// routes, so the subset routing does not apply to them.
fn check_gateway_subsets(snap: &Snapshot<'_>, r: &Resource, vs: &VirtualService, out: &mut Report) {
    if vs.gateways.is_empty() {
        return;
    }
    for (i, rule) in vs.http.iter().enumerate() {
        for (j, rd) in rule.route.iter().enumerate() {
            let Some(d) = &rd.destination else { continue };
            if d.subset.as_deref().is_some_and(|s| !s.is_empty()) {
                continue;
            }
            for other in snap.of_kind(Kind::VirtualService) {
                let Some(other_vs) = other.as_virtual_service() else {
                    continue;
                };
                for _ in subset_destinations_of_own_hosts(other_vs).filter(|h| *h == d.host) {
                    out.add(
                        messages::INGRESS_ROUTE_RULES_NOT_AFFECTED,
                        r,
                        &format!("spec.http[{i}].route[{j}].destination.host"),
                        format!(
                            "VirtualService {} routes {:?} by subsets, but this gateway route to it has no subset, \
                             and gateway requests follow only this VirtualService; name the subset here too",
                            snap.full_name(other),
                            d.host
                        ),
                    );
                }
            }
        }
    }
}

/// Hosts of HTTP destinations with a subset, where the host is one of the VirtualService's own.
fn subset_destinations_of_own_hosts(vs: &VirtualService) -> impl Iterator<Item = &str> {
    vs.http
        .iter()
        .flat_map(|h| &h.route)
        .filter_map(|rd| rd.destination.as_ref())
        .filter(|d| d.subset.as_deref().is_some_and(|s| !s.is_empty()))
        .flat_map(move |d| {
            vs.hosts
                .iter()
                .filter(move |h| **h == d.host)
                .map(|_| d.host.as_str())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testutil::run;

    const SVC: &str =
        "apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: default}\n\
        spec:\n  ports: [{port: 8080, name: http}, {port: 9090, name: grpc}]\n";

    fn vs(dest: &str) -> String {
        format!(
            "{SVC}---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: r}}\n\
             spec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {dest}\n"
        )
    }

    #[test]
    fn unknown_host_and_port_problems() {
        let a = DestinationHostAnalyzer;
        assert_eq!(run(&a, &vs("{host: nope}")), ["IST0101 VirtualService r"]);
        assert_eq!(
            run(&a, &vs("{host: reviews}")),
            ["IST0112 VirtualService r"]
        );
        assert_eq!(
            run(&a, &vs("{host: reviews, port: {number: 1}}")),
            ["IST0101 VirtualService r"]
        );
    }

    #[test]
    fn silent_when_host_and_port_exist() {
        let a = DestinationHostAnalyzer;
        assert!(run(&a, &vs("{host: reviews, port: {number: 9090}}")).is_empty());
        assert!(run(
            &a,
            &vs("{host: reviews.default.svc.cluster.local, port: {number: 8080}}")
        )
        .is_empty());
    }
}
