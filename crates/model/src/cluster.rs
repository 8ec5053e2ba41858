//! Clusters: named sets of upstream endpoints, how to balance over them, and how to connect.

use crate::connections::ConnectionOptions;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LbPolicy {
    RoundRobin,
    #[default]
    LeastRequest,
    Random,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, tag = "type")]
pub enum Transport {
    /// Plain TCP (to workloads outside the mesh, or where mTLS is disabled).
    Plain,
    /// Mesh mutual TLS with this proxy's workload certificate; the peer must present one of
    /// the endpoint's identity (or, without one, any of `identities`).
    MeshMtls {
        #[serde(default)]
        identities: Vec<String>,
    },
    /// TLS originated to a server outside the mesh, verified against system or given roots.
    Tls {
        sni: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ca_certificates: Option<String>,
        /// DestinationRule MUTUAL: the client certificate and key files to present.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_certificate: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        private_key: Option<String>,
        /// Names the server certificate must carry (any one); empty: the SNI.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        subject_alt_names: Vec<String>,
    },
}

/// The endpoint label that marks an endpoint running a mesh proxy, as Istio writes it.
pub const TLS_MODE_LABEL: &str = "security.istio.io/tlsMode";

impl Default for Transport {
    fn default() -> Self {
        Transport::MeshMtls {
            identities: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionLimits {
    /// DestinationRule connectionPool.tcp.maxConnections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// connectionPool.http.http2MaxRequests: concurrent requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<u32>,
    /// connectionPool.http.http1MaxPendingRequests: requests waiting for a connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pending_requests: Option<u32>,
    /// connectionPool.http.maxRetries: retries outstanding across the cluster at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    /// Istio-style, e.g. `outbound|9080|v1|reviews.default.svc.cluster.local`.
    pub name: String,
    #[serde(default)]
    pub lb: LbPolicy,
    #[serde(default)]
    pub transport: Transport,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    #[serde(default)]
    pub limits: ConnectionLimits,
    #[serde(default, skip_serializing_if = "ConnectionOptions::is_default")]
    pub connections: ConnectionOptions,
    /// Connect to the address the application dialled instead of `endpoints` (ServiceEntry
    /// resolution NONE, DestinationRule loadBalancer PASSTHROUGH).
    #[serde(default, skip_serializing_if = "is_false")]
    pub original_destination: bool,
    /// Istio's auto mTLS over endpoints of which only some run a proxy: with `MeshMtls`,
    /// endpoints without the label `security.istio.io/tlsMode: istio` are connected to in
    /// plain TCP. (A field rather than a `Transport` variant so existing matches stay valid.)
    #[serde(default, skip_serializing_if = "is_false")]
    pub auto_mtls: bool,
    /// `host:port` names the proxy resolves by DNS and balances over, besides `endpoints`
    /// (ServiceEntry resolution DNS / DNS_ROUND_ROBIN).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_endpoints: Vec<String>,
    /// Set when a route names a host or subset that does not exist: the cluster has no
    /// endpoints by construction and the proxy answers 503 with response flag NC (cluster not
    /// found), as Envoy does. The text says what was missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn default_connect_timeout_ms() -> u64 {
    // Istio's default connectTimeout is 10 s.
    10_000
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Endpoint {
    /// The workload's address and target port (the destination's proxy captures it).
    pub address: SocketAddr,
    /// The SPIFFE ID the endpoint must prove under mesh mTLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_weight() -> u32 {
    1
}
