//! `gateway.ConflictingGatewayAnalyzer`: two Gateways for the same workloads (equal selectors,
//! or selectors that pick a common pod) with a server on the same port, the same bind address
//! and a common host. Envoy cannot build both listeners, so one of them is dropped.

use super::selector_field;
use crate::analyzers::Analyzer;
use crate::hosts::{selector_matches, selector_string};
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::BTreeMap;
use verimesh_config::networking::Server;
use verimesh_config::{Kind, Resource};

pub struct ConflictingGatewayAnalyzer;

/// host → bind address of one Gateway's server on one port.
type HostsBind<'a> = BTreeMap<&'a str, &'a str>;

/// (selector string, port) → gateway full name → the hosts that gateway serves there. A later
/// server of a gateway on the same port replaces the earlier one, as in Istio.
type GatewayMap<'a> = BTreeMap<(String, u32), ByGateway<'a>>;

/// Gateway full name → its hosts on one (selector, port).
type ByGateway<'a> = BTreeMap<String, HostsBind<'a>>;

fn port_of(s: &Server) -> u32 {
    s.port.as_ref().map_or(0, |p| p.number)
}

fn bind_of(s: &Server) -> &str {
    s.bind.as_deref().unwrap_or("")
}

/// Parses `a=b,c=d` back into labels.
fn parse_selector(s: &str) -> BTreeMap<String, String> {
    s.split(',')
        .filter_map(|pair| {
            let mut kv = pair.split('=');
            match (kv.next(), kv.next(), kv.next()) {
                (Some(k), Some(v), None) => Some((k.to_string(), v.to_string())),
                _ => None,
            }
        })
        .collect()
}

fn gateway_map<'a>(snap: &Snapshot<'a>) -> GatewayMap<'a> {
    let mut map = GatewayMap::new();
    for r in snap.of_kind(Kind::Gateway) {
        let Some(gw) = r.as_gateway() else { continue };
        let sel = selector_string(&gw.selector);
        for s in &gw.servers {
            let hb: HostsBind<'a> = s.hosts.iter().map(|h| (h.as_str(), bind_of(s))).collect();
            map.entry((sel.clone(), port_of(s)))
                .or_default()
                .insert(snap.full_name(r), hb);
        }
    }
    map
}

impl Analyzer for ConflictingGatewayAnalyzer {
    fn name(&self) -> &'static str {
        "gateway.ConflictingGatewayAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let map = gateway_map(snap);
        for r in snap.of_kind(Kind::Gateway) {
            analyze_gateway(snap, r, &map, out);
        }
    }
}

fn analyze_gateway(snap: &Snapshot<'_>, r: &Resource, map: &GatewayMap<'_>, out: &mut Report) {
    let Some(gw) = r.as_gateway() else { return };
    let name = snap.full_name(r);
    let sel = selector_string(&gw.selector);
    // Entries whose selector is the same, or overlaps (one contains the other) and picks a
    // pod this gateway's selector picks too.
    let same_workloads: Vec<(&(String, u32), &ByGateway<'_>)> = map
        .iter()
        .filter(|((other_sel, _), _)| {
            if *other_sel == sel {
                return true;
            }
            if !(other_sel.contains(sel.as_str()) || sel.contains(other_sel.as_str())) {
                return false;
            }
            let other = parse_selector(other_sel);
            snap.workloads().iter().any(|p| {
                selector_matches(&gw.selector, p.labels) && selector_matches(&other, p.labels)
            })
        })
        .collect();
    if !sel.is_empty() && same_workloads.is_empty() {
        out.add(
            messages::REFERENCED_RESOURCE_NOT_FOUND,
            r,
            &selector_field(&gw.selector),
            format!("the selector {sel:?} matches no gateway workload; fix it to match the gateway pods' labels"),
        );
        return;
    }
    for (i, server) in gw.servers.iter().enumerate() {
        let port = port_of(server);
        let mut conflicting: Vec<&str> = Vec::new();
        for ((_, p), gateways) in &same_workloads {
            if *p != port {
                continue;
            }
            for (other, known) in *gateways {
                let clash = server
                    .hosts
                    .iter()
                    .any(|h| known.get(h.as_str()) == Some(&bind_of(server)));
                if *other != name && clash {
                    conflicting.push(other);
                }
            }
        }
        if conflicting.is_empty() {
            continue;
        }
        conflicting.sort_unstable();
        out.add(
            messages::CONFLICTING_GATEWAYS,
            r,
            &format!("spec.servers[{i}]"),
            format!(
                "port {port} with hosts [{}] is also served by gateway(s) {} on the same workloads (selector {sel:?}); \
                 the proxies can only keep one of them. Merge the servers into one Gateway or use different hosts or ports",
                server.hosts.join(", "),
                conflicting.join(", ")
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testutil::run;

    fn gw(name: &str, selector: &str, port: u32, host: &str) -> String {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: ns}}\n\
             spec:\n  selector: {selector}\n  servers:\n  - port: {{number: {port}, name: p, protocol: HTTP}}\n    hosts: [{host}]\n---\n"
        )
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns, labels: {istio: ingress, app: x}}\n\
        spec:\n  containers: [{name: istio-proxy, image: proxyv2}]\n";

    #[test]
    fn reports_same_port_and_host_on_shared_workloads() {
        let yaml = gw("a", "{istio: ingress}", 80, "foo.com")
            + &gw("b", "{istio: ingress, app: x}", 80, "foo.com")
            + POD;
        assert_eq!(
            run(&ConflictingGatewayAnalyzer, &yaml),
            ["IST0145 Gateway ns/a", "IST0145 Gateway ns/b"]
        );
    }

    #[test]
    fn silent_for_other_hosts_or_ports() {
        let yaml = gw("a", "{istio: ingress}", 80, "foo.com")
            + &gw("b", "{istio: ingress}", 80, "bar.com")
            + &gw("c", "{istio: ingress}", 443, "foo.com")
            + POD;
        assert!(run(&ConflictingGatewayAnalyzer, &yaml).is_empty());
    }
}
