//! Istio's Gateway analyzers: the gateway workload and its Service ports, gateways that
//! conflict on a port, certificates shared between gateways, and credential secrets.

mod certificate;
mod conflicting_gateway;
mod ingress_gateway_port;
mod secret;

pub use certificate::CertificateAnalyzer;
pub use conflicting_gateway::ConflictingGatewayAnalyzer;
pub use ingress_gateway_port::IngressGatewayPortAnalyzer;
pub use secret::SecretAnalyzer;

use std::collections::BTreeMap;

/// The field a selector message points at: the selector's first label, as Istio does.
pub(crate) fn selector_field(selector: &BTreeMap<String, String>) -> String {
    match selector.keys().next() {
        Some(k) => format!("spec.selector.{k}"),
        None => "spec.selector".to_string(),
    }
}
