//! The proxy-facing configuration model.
//!
//! The control plane compiles Istio resources into this small, explicit model, scoped to one
//! proxy; the proxy never reads Istio resources. It is plain data: serializable (a proxy can
//! boot from a JSON file of it, which the data-plane tests use), versioned, and checked for
//! internal consistency before a proxy accepts it (a bad one is refused and the last good one
//! stays in force).

mod cluster;
mod connections;
mod gateway;
mod route;
mod security;
mod service;
mod validate;

pub use cluster::{Cluster, ConnectionLimits, Endpoint, LbPolicy, Transport, TLS_MODE_LABEL};
pub use connections::{ConnectionOptions, Http2Keepalive, TcpKeepalive};
pub use gateway::{
    domain_rank, Gateway, GatewayListener, ListenerProtocol, ServerTls, ServerTlsMode, VirtualHost,
};
pub use route::{
    HeaderMatch, HeaderOps, HttpAction, HttpMatch, HttpRoute, Redirect, Retries, Rewrite,
    StringMatch, TcpRoute, WeightedCluster,
};
pub use security::{Scoped, Security, DEFAULT_ROOT_NAMESPACE, DEFAULT_TRUST_DOMAIN};
pub use service::{Inbound, InboundPort, MtlsMode, Protocol, Service, ServicePort, Workload};
pub use validate::ModelError;

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Everything one proxy needs.
///
/// Services and clusters are behind `Arc`s: the compiler shares one service or cluster
/// between every proxy that sees it, and a proxy applying a change of one service to its
/// config clones pointers and replaces only what changed (a config of a large mesh is
/// megabytes once parsed; deep-cloning it per update was the cost of every push).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyConfig {
    /// Changes with every compilation that changes this proxy's config; reported in ACKs.
    pub version: String,
    pub workload: Workload,
    pub inbound: Inbound,
    /// Services this proxy may call, with their routes.
    #[serde(default)]
    pub services: Vec<Arc<Service>>,
    /// Upstream endpoint sets the routes refer to by name.
    #[serde(default)]
    pub clusters: Vec<Arc<Cluster>>,
    /// Connections to destinations that are no known service: passed through to their
    /// original destination (Istio's ALLOW_ANY) or refused (REGISTRY_ONLY).
    #[serde(default)]
    pub allow_unknown_destinations: bool,
    /// Who may call the workload: the authentication and authorization policies that apply
    /// to it, for the proxy's inbound side.
    #[serde(default)]
    pub security: Security,
    /// Set for a gateway: its listeners. A gateway has no inbound side and intercepts
    /// nothing; it routes what arrives on these ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Gateway>,
}

impl ProxyConfig {
    /// Parses and checks a JSON config.
    pub fn from_json(text: &str) -> Result<ProxyConfig, ModelError> {
        let cfg: ProxyConfig =
            serde_json::from_str(text).map_err(|e| ModelError::Parse(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name).map(|c| &**c)
    }
}
