//! IST0116 / IST0137: a Deployment selected by several Services that disagree about a port —
//! the same port with different protocols, or one target port behind different service ports.
//! The sidecar can only configure one protocol per port, so one of the Services breaks.

use crate::analyzers::Analyzer;
use crate::hosts::selector_matches;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::{BTreeMap, BTreeSet};
use verimesh_config::k8s::IntOrString;
use verimesh_config::{Kind, Resource};

pub struct ServiceAssociation;

const WAYPOINT_LABEL: (&str, &str) = ("gateway.istio.io/managed", "istio.io-mesh-controller");

impl Analyzer for ServiceAssociation {
    fn name(&self) -> &'static str {
        "deployment.ServiceAssociationAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for w in snap.workloads() {
            let Some(d) = w.resource.as_deployment() else {
                continue;
            };
            let r = w.resource;
            if r.meta.labels.get(WAYPOINT_LABEL.0).map(String::as_str) == Some(WAYPOINT_LABEL.1) {
                continue;
            }
            if !snap.in_mesh(w) {
                continue;
            }
            let labels = &d.spec.template.metadata.labels;
            let services: Vec<&Resource> = snap
                .of_kind(Kind::Service)
                .iter()
                .copied()
                .filter(|s| {
                    s.as_service().is_some_and(|svc| {
                        !svc.spec.selector.is_empty()
                            && selector_matches(&svc.spec.selector, labels)
                            && snap.ns(s) == w.namespace
                    })
                })
                .collect();
            report_protocol_conflicts(snap, r, &services, out);
            report_target_port_conflicts(snap, r, &services, out);
        }
    }
}

fn report_protocol_conflicts(
    snap: &Snapshot<'_>,
    r: &Resource,
    services: &[&Resource],
    out: &mut Report,
) {
    // port -> protocol -> services
    let mut ports: BTreeMap<i64, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for s in services {
        let Some(svc) = s.as_service() else { continue };
        for p in &svc.spec.ports {
            let proto = p
                .protocol
                .as_ref()
                .map_or("TCP", |p| p.as_str())
                .to_string();
            ports
                .entry(p.port)
                .or_default()
                .entry(proto)
                .or_default()
                .push(snap.full_name(s));
        }
    }
    for (port, protocols) in ports {
        if protocols.len() > 1 {
            let mut names: Vec<String> = protocols.into_values().flatten().collect();
            names.sort();
            out.add(
                messages::DEPLOYMENT_ASSOCIATED_TO_MULTIPLE_SERVICES,
                r,
                "metadata.name",
                format!(
                    "deployment {} is selected by services that use port {port} with different protocols ({}); a port can carry one protocol",
                    r.name(),
                    names.join(", ")
                ),
            );
        }
    }
}

fn report_target_port_conflicts(
    snap: &Snapshot<'_>,
    r: &Resource,
    services: &[&Resource],
    out: &mut Report,
) {
    // target port -> service port -> service
    let mut targets: BTreeMap<String, BTreeMap<i64, String>> = BTreeMap::new();
    for s in services {
        let Some(svc) = s.as_service() else { continue };
        for p in &svc.spec.ports {
            let target = match &p.target_port {
                Some(IntOrString::Int(0)) | None => p.port.to_string(),
                Some(IntOrString::String(t)) if t.is_empty() => p.port.to_string(),
                Some(IntOrString::Int(n)) => n.to_string(),
                Some(IntOrString::String(t)) => t.clone(),
            };
            targets
                .entry(target)
                .or_default()
                .insert(p.port, snap.full_name(s));
        }
    }
    for (target, by_port) in targets {
        if by_port.len() > 1 {
            let names: BTreeSet<&String> = by_port.values().collect();
            let ports: Vec<String> = by_port.keys().map(ToString::to_string).collect();
            out.add(
                messages::DEPLOYMENT_CONFLICTING_PORTS,
                r,
                "metadata.name",
                format!(
                    "deployment {} has target port {target} exposed by services {} on different ports ({}); use one service port per target port",
                    r.name(),
                    names.into_iter().cloned().collect::<Vec<_>>().join(", "),
                    ports.join(", ")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::test_support::run;

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: a}\nspec:\n  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d, sidecar.istio.io/inject: 'true'}}\n    spec: {containers: [{name: app, image: x}]}\n";

    #[test]
    fn conflicting_protocols_and_target_ports() {
        let yaml = format!(
            "{DEPLOYMENT}---\napiVersion: v1\nkind: Service\nmetadata: {{name: s1, namespace: a}}\nspec:\n  selector: {{app: d}}\n  ports: [{{name: http, port: 80, targetPort: 8080}}]\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: s2, namespace: a}}\nspec:\n  selector: {{app: d}}\n  ports: [{{name: udp, port: 80, protocol: UDP, targetPort: 9090}}, {{name: http-b, port: 81, targetPort: 8080}}]\n"
        );
        let msgs = run(&super::ServiceAssociation, &yaml);
        assert_eq!(msgs, ["IST0116 Deployment a/d", "IST0137 Deployment a/d"]);
    }

    #[test]
    fn consistent_services_are_fine() {
        let yaml = format!(
            "{DEPLOYMENT}---\napiVersion: v1\nkind: Service\nmetadata: {{name: s1, namespace: a}}\nspec:\n  selector: {{app: d}}\n  ports: [{{name: http, port: 80}}]\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: s2, namespace: a}}\nspec:\n  selector: {{app: d}}\n  ports: [{{name: http, port: 80}}]\n"
        );
        assert!(run(&super::ServiceAssociation, &yaml).is_empty());
    }
}
