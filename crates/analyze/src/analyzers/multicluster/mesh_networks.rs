//! `multicluster.MeshNetworksAnalyzer`: MeshNetworks endpoints taken from a service registry
//! that does not exist: neither one of Istio's (`Kubernetes`, `External`, `Mock`) nor a remote
//! cluster with a secret (label `istio/multiCluster: "true"`, one key per cluster).
//!
//! MeshNetworks is read from the `istio` ConfigMap in the root namespace (key `meshNetworks`);
//! findings name it as Istio does, `MeshNetworks <namespace>/meshnetworks`.

use crate::analyzers::Analyzer;
use crate::message::Message;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::BTreeSet;
use verimesh_config::mesh::{MeshNetworks, MESH_NETWORKS_KEY};
use verimesh_config::{Kind, ResourceRef};

pub struct MeshNetworksAnalyzer;

const BUILTIN_REGISTRIES: &[&str] = &["Mock", "Kubernetes", "External"];
const MULTI_CLUSTER_SECRET_LABEL: &str = "istio/multiCluster";
const MESH_CONFIG_MAP: &str = "istio";

impl Analyzer for MeshNetworksAnalyzer {
    fn name(&self) -> &'static str {
        "multicluster.MeshNetworksAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let mut registries: BTreeSet<&str> = BUILTIN_REGISTRIES.iter().copied().collect();
        for s in snap.of_kind(Kind::Secret) {
            if s.meta
                .labels
                .get(MULTI_CLUSTER_SECRET_LABEL)
                .map(String::as_str)
                != Some("true")
            {
                continue;
            }
            if let Some(secret) = s.as_secret() {
                // stringData becomes data once applied.
                registries.extend(
                    secret
                        .data
                        .keys()
                        .chain(secret.string_data.keys())
                        .map(String::as_str),
                );
            }
        }
        let root = snap.mesh.root_namespace();
        for cm in snap.of_kind(Kind::ConfigMap) {
            if cm.name() != MESH_CONFIG_MAP || snap.ns(cm) != root {
                continue;
            }
            let Some(Ok(networks)) = cm.as_config_map().and_then(MeshNetworks::from_config_map)
            else {
                continue;
            };
            let mut origin = cm.origin_of(&format!("data.{MESH_NETWORKS_KEY}"));
            origin.pos.col = 0;
            let mut seen = BTreeSet::new();
            for (network, n) in &networks.networks {
                for e in &n.endpoints {
                    let Some(registry) = e.from_registry.as_deref() else {
                        continue;
                    };
                    if registries.contains(registry) || !seen.insert((network, registry)) {
                        continue;
                    }
                    out.messages.push(Message {
                        kind: messages::UNKNOWN_MESH_NETWORKS_SERVICE_REGISTRY,
                        text: format!(
                            "network {network} takes endpoints from registry {registry:?}, which is neither Kubernetes, External nor a remote cluster with a secret"
                        ),
                        resource: Some(ResourceRef {
                            kind: "MeshNetworks".to_string(),
                            namespace: Some(snap.ns(cm).to_string()),
                            name: "meshnetworks".to_string(),
                        }),
                        origin: Some(origin.clone()),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testutil::run;

    fn cm(networks: &str) -> String {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: istio, namespace: istio-system}}\ndata:\n  meshNetworks: |\n{}---\n", networks.lines().map(|l| format!("    {l}\n")).collect::<String>())
    }

    const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: remote\n  namespace: istio-system\n  labels: {istio/multiCluster: \"true\"}\nstringData: {cluster2: kubeconfig}\n---\n";

    #[test]
    fn reports_unknown_registries() {
        let yaml = format!("{SECRET}{}", cm("networks:\n  n1:\n    endpoints:\n    - fromRegistry: kubernetes\n  n2:\n    endpoints:\n    - fromRegistry: cluster3\n"));
        assert_eq!(
            run(&super::MeshNetworksAnalyzer, &yaml),
            [
                "IST0126 MeshNetworks istio-system/meshnetworks",
                "IST0126 MeshNetworks istio-system/meshnetworks"
            ]
        );
    }

    #[test]
    fn silent_for_known_registries() {
        let yaml = format!("{SECRET}{}", cm("networks:\n  n1:\n    endpoints:\n    - fromRegistry: Kubernetes\n    - fromRegistry: cluster2\n    - fromCidr: 10.0.0.0/8\n"));
        assert!(run(&super::MeshNetworksAnalyzer, &yaml).is_empty());
    }
}
