//! What the local runtime (`verimesh up`) allocated: the trust domain, the workload instances
//! with their addresses, and the virtual IPs of services. The placement is the only source of
//! addresses: a `clusterIP` written in a manifest is used only if the placement repeats it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// `cluster.local` unless the mesh says otherwise.
    pub trust_domain: String,
    pub instances: Vec<Instance>,
    /// Virtual IPs by `namespace/name` of the Service (or ServiceEntry, whose own `addresses`
    /// are used as well).
    #[serde(default)]
    pub service_addresses: BTreeMap<String, Vec<IpAddr>>,
}

/// One running replica.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    /// Replica name, e.g. `reviews-v1-0`.
    pub name: String,
    pub namespace: String,
    /// The Deployment it belongs to (named container ports are looked up there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub service_account: String,
    pub address: IpAddr,
    /// Whether a sidecar proxy runs next to it (only those get a proxy config, and only those
    /// are reached over mesh mTLS by auto mTLS).
    pub sidecar: bool,
    /// Whether it is a gateway: a proxy with no application (Istio's gateway injection
    /// template, `inject.istio.io/templates: gateway`). It gets a config; callers reach it
    /// in plaintext or TLS, never mesh mTLS.
    #[serde(default)]
    pub gateway: bool,
}

impl Placement {
    pub fn instance(&self, namespace: &str, name: &str) -> Option<&Instance> {
        self.instances
            .iter()
            .find(|i| i.namespace == namespace && i.name == name)
    }

    pub fn addresses_of(&self, namespace: &str, name: &str) -> &[IpAddr] {
        self.service_addresses
            .get(&format!("{namespace}/{name}"))
            .map_or(&[], Vec::as_slice)
    }
}

impl Instance {
    /// Whether the control plane compiles a config for it.
    pub fn has_proxy(&self) -> bool {
        self.sidecar || self.gateway
    }

    /// `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`.
    pub fn identity(&self, trust_domain: &str) -> String {
        spiffe_id(trust_domain, &self.namespace, &self.service_account)
    }
}

pub fn spiffe_id(trust_domain: &str, namespace: &str, service_account: &str) -> String {
    format!("spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}")
}
