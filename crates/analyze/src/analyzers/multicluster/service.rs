//! `multicluster.ServiceAnalyzer`: a Service of the same namespace and name in several
//! clusters is one service to the mesh, whose endpoints span the clusters; its definitions
//! must agree, or which ports, protocols and addressing a client gets depends on which
//! cluster's copy istiod read.
//!
//! Three differences count, as in Istio: headless (`clusterIP: None`) in some clusters but not
//! in others, which marks every cluster; a different `type`, as written (an omitted type and an
//! explicit `ClusterIP` differ); and different ports, compared as written after sorting by port
//! name: the same count, each with the same name, protocol, appProtocol, port, targetPort and
//! nodePort. The other clusters are compared with the first one that has the Service, and one
//! message per Service lists the clusters involved and the differences.

use crate::analyzers::MultiClusterAnalyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::{BTreeMap, BTreeSet};
use verimesh_config::k8s::{IntOrString, Protocol, ServicePort, ServiceSpec};
use verimesh_config::{Kind, Resource};

pub struct ServiceAnalyzer;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Difference {
    Headless,
    Type,
    Ports,
}

impl Difference {
    fn describe(self) -> &'static str {
        match self {
            Difference::Headless => "headless (clusterIP: None) in some clusters only",
            Difference::Type => "the service type differs",
            Difference::Ports => {
                "the ports differ (count, name, protocol, appProtocol, port, targetPort or nodePort)"
            }
        }
    }
}

/// A port with Kubernetes' zero values filled in where Istio compares them as such: an omitted
/// name, targetPort or nodePort equals an empty name, port 0 and node port 0; an omitted
/// protocol or appProtocol differs from any written one.
#[derive(PartialEq)]
struct PortKey<'a> {
    name: &'a str,
    protocol: &'a str,
    app_protocol: Option<&'a str>,
    port: i64,
    target_port: IntOrString,
    node_port: i64,
}

fn port_keys(ports: &[ServicePort]) -> Vec<PortKey<'_>> {
    let mut keys: Vec<PortKey<'_>> = ports
        .iter()
        .map(|p| PortKey {
            name: p.name.as_deref().unwrap_or(""),
            protocol: p.protocol.as_ref().map_or("", Protocol::as_str),
            app_protocol: p.app_protocol.as_deref(),
            port: p.port,
            target_port: p.target_port.clone().unwrap_or(IntOrString::Int(0)),
            node_port: p.node_port.unwrap_or(0),
        })
        .collect();
    // Stable: ports of the same name keep their order.
    keys.sort_by(|a, b| a.name.cmp(b.name));
    keys
}

/// The clusters that differ from the first one, and how; both empty when all agree.
fn differences<'c>(
    copies: &[(&'c str, &ServiceSpec)],
) -> (BTreeSet<&'c str>, BTreeSet<Difference>) {
    let mut clusters = BTreeSet::new();
    let mut found = BTreeSet::new();
    let Some(&(first_id, first)) = copies.first() else {
        return (clusters, found);
    };
    let first_ports = port_keys(&first.ports);
    for &(id, spec) in copies {
        if first.is_headless() != spec.is_headless() && found.insert(Difference::Headless) {
            clusters.extend(copies.iter().map(|(c, _)| *c));
        }
        if first.type_ != spec.type_ {
            clusters.insert(id);
            found.insert(Difference::Type);
        }
        if port_keys(&spec.ports) != first_ports {
            clusters.insert(id);
            found.insert(Difference::Ports);
        }
    }
    if !clusters.is_empty() {
        clusters.insert(first_id);
    }
    (clusters, found)
}

impl MultiClusterAnalyzer for ServiceAnalyzer {
    fn name(&self) -> &'static str {
        "multicluster.ServiceAnalyzer"
    }

    fn analyze(&self, clusters: &[(&str, Snapshot<'_>)], out: &mut Report) {
        // (namespace, name) -> one copy per cluster, in cluster order; within a cluster the
        // last definition wins.
        let mut services: BTreeMap<(String, String), Vec<(&str, &Resource)>> = BTreeMap::new();
        for (id, snap) in clusters {
            if id.is_empty() {
                continue;
            }
            for r in snap.of_kind(Kind::Service) {
                let copies = services
                    .entry((snap.ns(r).to_string(), r.name().to_string()))
                    .or_default();
                match copies.iter_mut().find(|(c, _)| c == id) {
                    Some(copy) => copy.1 = r,
                    None => copies.push((id, r)),
                }
            }
        }
        for ((ns, name), copies) in &services {
            if copies.len() < 2 {
                continue;
            }
            let specs: Vec<(&str, &ServiceSpec)> = copies
                .iter()
                .filter_map(|(id, r)| r.as_service().map(|s| (*id, &*s.spec)))
                .collect();
            let (involved, found) = differences(&specs);
            if found.is_empty() {
                continue;
            }
            let Some((_, resource)) = copies.first() else {
                continue;
            };
            out.add(
                messages::MULTI_CLUSTER_INCONSISTENT_SERVICE,
                resource,
                "",
                format!(
                    "service {name} in namespace {ns:?} is defined differently in clusters [{}]: {}; \
                     clients get whichever definition the control plane read, so make them identical",
                    involved.into_iter().collect::<Vec<_>>().join(", "),
                    found
                        .into_iter()
                        .map(Difference::describe)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verimesh_config::mesh::MeshConfig;
    use verimesh_config::Loaded;

    fn service(name: &str, spec: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: ns}}\nspec:\n{spec}---\n"
        )
    }

    const BASE: &str = "  selector: {app: a}\n  ports:\n  - {name: http, port: 80, targetPort: 8080, protocol: TCP}\n  - {name: grpc, port: 90}\n";

    /// Runs the analyzer over one YAML per cluster; returns `resource: text` per message.
    fn run(clusters: &[(&str, &str)]) -> Vec<String> {
        let loaded: Vec<Loaded> = clusters
            .iter()
            .map(|(_, yaml)| {
                let mut l = Loaded::default();
                verimesh_config::load_str(&mut l, "test.yaml", yaml);
                l
            })
            .collect();
        let snaps: Vec<(&str, Snapshot<'_>)> = clusters
            .iter()
            .zip(&loaded)
            .map(|((id, _), l)| (*id, Snapshot::new(&l.resources, MeshConfig::default())))
            .collect();
        let mut out = Report::default();
        ServiceAnalyzer.analyze(&snaps, &mut out);
        out.messages
            .iter()
            .map(|m| {
                assert_eq!(m.kind.code, "IST0170");
                format!("{}: {}", m.resource.as_ref().unwrap(), m.text)
            })
            .collect()
    }

    #[test]
    fn reports_services_that_differ_between_clusters() {
        let c1 = [
            service("same", BASE),
            service("reordered", BASE),
            service("ports", BASE),
            service("kind", BASE),
            service("headless", BASE),
            service("only-here", BASE),
        ]
        .concat();
        let reordered = "  selector: {app: other}\n  ports:\n  - {name: grpc, port: 90}\n  - {name: http, port: 80, targetPort: 8080, protocol: TCP}\n";
        let c2 = [
            service("same", BASE),
            service("reordered", reordered),
            // The protocol written out is a difference, as the YAML differs.
            service(
                "ports",
                &BASE.replace(
                    "{name: grpc, port: 90}",
                    "{name: grpc, port: 90, protocol: TCP}",
                ),
            ),
            service("kind", &format!("  type: ClusterIP\n{BASE}")),
            service("headless", &format!("  clusterIP: None\n{BASE}")),
        ]
        .concat();
        let found = run(&[
            ("east", &c1),
            ("west", &c2),
            ("north", &service("same", BASE)),
        ]);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found[0].starts_with("Service ns/headless: service headless in namespace \"ns\" is defined differently in clusters [east, west]: headless"));
        assert!(
            found[1].starts_with("Service ns/kind: ")
                && found[1].contains("[east, west]: the service type differs;")
        );
        assert!(
            found[2].starts_with("Service ns/ports: ")
                && found[2].contains("[east, west]: the ports differ")
        );
    }

    #[test]
    fn one_cluster_or_unnamed_clusters_say_nothing() {
        let a = service("s", BASE);
        let b = service("s", &format!("  type: NodePort\n{BASE}"));
        assert!(run(&[("east", &a)]).is_empty());
        assert!(run(&[("", &a), ("west", &b)]).is_empty());
        assert_eq!(run(&[("east", &a), ("west", &b)]).len(), 1);
    }
}
