//! `gateway.IngressGatewayPortAnalyzer`: a Gateway's selector must pick some workload, and
//! each server port must be a (target) port of a Service in front of those workloads;
//! otherwise nothing outside reaches that listener.

use super::selector_field;
use crate::analyzers::Analyzer;
use crate::hosts::{selector_matches, selector_string};
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::BTreeSet;
use verimesh_config::k8s::{IntOrString, Protocol};
use verimesh_config::{Kind, Resource};

pub struct IngressGatewayPortAnalyzer;

/// A Service target port as a number: a number, or a name that is all digits; else 0.
fn target_port_number(tp: Option<&IntOrString>) -> i64 {
    match tp {
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(s)) => s.parse().unwrap_or(0),
        None => 0,
    }
}

impl Analyzer for IngressGatewayPortAnalyzer {
    fn name(&self) -> &'static str {
        "gateway.IngressGatewayPortAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for r in snap.of_kind(Kind::Gateway) {
            analyze_gateway(snap, r, out);
        }
    }
}

fn analyze_gateway(snap: &Snapshot<'_>, r: &Resource, out: &mut Report) {
    let Some(gw) = r.as_gateway() else { return };
    // Ports the proxy is reached on (target ports), and the service ports that map to them.
    let mut target_ports: BTreeSet<i64> = BTreeSet::new();
    let mut service_ports: BTreeSet<i64> = BTreeSet::new();
    let mut selected = 0;
    for pod in snap.workloads() {
        if !selector_matches(&gw.selector, pod.labels) {
            continue;
        }
        selected += 1;
        for svc_res in snap.of_kind(Kind::Service) {
            if snap.ns(svc_res) != pod.namespace {
                continue;
            }
            let Some(svc) = svc_res.as_service() else {
                continue;
            };
            if !selector_matches(&svc.spec.selector, pod.labels) {
                continue;
            }
            for p in &svc.spec.ports {
                // Kubernetes defaults an unset protocol to TCP.
                if p.protocol.as_ref().is_some_and(|p| *p != Protocol::Tcp) {
                    continue;
                }
                let tp = target_port_number(p.target_port.as_ref());
                if tp != 0 {
                    target_ports.insert(tp);
                    service_ports.insert(p.port);
                } else {
                    target_ports.insert(p.port);
                }
            }
        }
    }
    let sel = selector_string(&gw.selector);
    if selected == 0 {
        out.add(
            messages::REFERENCED_RESOURCE_NOT_FOUND,
            r,
            &selector_field(&gw.selector),
            format!(
                "the selector {sel:?} matches no gateway workload, so this Gateway configures no proxy; \
                 fix the selector to match the labels of the gateway pods"
            ),
        );
        return;
    }
    for (i, server) in gw.servers.iter().enumerate() {
        let Some(port) = &server.port else { continue };
        let n = i64::from(port.number);
        if !target_ports.contains(&n) && !service_ports.contains(&n) {
            out.add(
                messages::GATEWAY_PORT_NOT_DEFINED_ON_SERVICE,
                r,
                &format!("spec.servers[{i}].port.number"),
                format!(
                    "server port {n} is not a port of any Service in front of the gateway pods (selector {sel:?}), \
                     so clients cannot reach this listener through the Service; add the port to the gateway's Service"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testutil::run;

    fn input(port: u32, selector: &str) -> String {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: gw, namespace: ns}}\n\
             spec:\n  selector: {selector}\n  servers:\n  - port: {{number: {port}, name: http, protocol: HTTP}}\n    hosts: [\"*\"]\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: ns, labels: {{app: gw}}}}\n\
             spec:\n  containers: [{{name: istio-proxy, image: proxyv2}}]\n---\n\
             apiVersion: v1\nkind: Service\nmetadata: {{name: gw, namespace: ns}}\n\
             spec:\n  selector: {{app: gw}}\n  ports: [{{name: http, port: 80, targetPort: 8080, protocol: TCP}}]\n"
        )
    }

    #[test]
    fn reports_unselected_workloads_and_missing_ports() {
        let a = IngressGatewayPortAnalyzer;
        assert_eq!(
            run(&a, &input(80, "{app: other}")),
            ["IST0101 Gateway ns/gw"]
        );
        assert_eq!(
            run(&a, &input(9999, "{app: gw}")),
            ["IST0162 Gateway ns/gw"]
        );
    }

    #[test]
    fn silent_for_service_or_target_ports() {
        let a = IngressGatewayPortAnalyzer;
        assert!(run(&a, &input(80, "{app: gw}")).is_empty());
        assert!(run(&a, &input(8080, "{app: gw}")).is_empty());
        // A Service port without `protocol` is TCP, as Kubernetes defaults it.
        let unset = input(80, "{app: gw}").replace(", protocol: TCP}", "}");
        assert!(!unset.contains("protocol: TCP"));
        assert!(run(&a, &unset).is_empty());
        let udp = input(80, "{app: gw}").replace("protocol: TCP}", "protocol: UDP}");
        assert_eq!(run(&a, &udp), ["IST0162 Gateway ns/gw"]);
    }
}
