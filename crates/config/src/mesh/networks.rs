//! MeshNetworks: which networks a multi-network mesh has, the registries or CIDRs whose
//! endpoints are in each, and the gateways that reach them. Held by the `istio` ConfigMap under
//! the key `meshNetworks`.

use crate::yaml;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The ConfigMap key holding MeshNetworks.
pub const MESH_NETWORKS_KEY: &str = "meshNetworks";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshNetworks {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Network>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<NetworkEndpoints>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<NetworkGateway>,
}

/// One of: endpoints in a CIDR, or endpoints of a service registry (a cluster ID, or one of
/// Istio's registries `Kubernetes`, `External`, `Mock`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkEndpoints {
    #[serde(default, alias = "from_cidr", skip_serializing_if = "Option::is_none")]
    pub from_cidr: Option<String>,
    #[serde(
        default,
        alias = "from_registry",
        skip_serializing_if = "Option::is_none"
    )]
    pub from_registry: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkGateway {
    #[serde(
        default,
        alias = "registry_service_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub registry_service_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default)]
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
}

impl MeshNetworks {
    /// Parses MeshNetworks YAML (a file, or the ConfigMap value). Empty text is no networks.
    pub fn from_yaml_str(text: &str) -> Result<MeshNetworks, String> {
        let docs = yaml::parse_documents(text).map_err(|e| e.to_string())?;
        match docs.into_iter().flatten().next() {
            None => Ok(MeshNetworks::default()),
            Some(node) if node.is_null() => Ok(MeshNetworks::default()),
            Some(node) => serde_path_to_error::deserialize(&node).map_err(|e| {
                let path = e.path().to_string();
                format!("{path}: {}", e.inner())
            }),
        }
    }

    /// The MeshNetworks a ConfigMap holds under `meshNetworks`, if it has that key.
    pub fn from_config_map(cm: &crate::k8s::ConfigMap) -> Option<Result<MeshNetworks, String>> {
        cm.data
            .get(MESH_NETWORKS_KEY)
            .map(|t| MeshNetworks::from_yaml_str(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_spellings() {
        let m = MeshNetworks::from_yaml_str(
            "networks:\n  n1:\n    endpoints:\n    - fromRegistry: Kubernetes\n    - from_cidr: 10.0.0.0/8\n    gateways:\n    - registry_service_name: gw.ns.svc.cluster.local\n      port: 443\n",
        )
        .expect("parses");
        let n = &m.networks["n1"];
        assert_eq!(n.endpoints[0].from_registry.as_deref(), Some("Kubernetes"));
        assert_eq!(n.endpoints[1].from_cidr.as_deref(), Some("10.0.0.0/8"));
        assert_eq!(n.gateways[0].port, 443);
        assert_eq!(
            MeshNetworks::from_yaml_str("").expect("empty"),
            MeshNetworks::default()
        );
        assert!(MeshNetworks::from_yaml_str("networks: [1]").is_err());
    }
}
