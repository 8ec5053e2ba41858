//! The workload a proxy serves, its inbound side, and the services it can call.

use crate::route::{HttpRoute, TcpRoute};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Workload {
    pub name: String,
    pub namespace: String,
    pub service_account: String,
    /// `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`.
    pub identity: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Application protocols the proxy handles differently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Http2,
    Grpc,
    Tcp,
    Tls,
    /// Not declared: detected from the first bytes.
    #[default]
    Auto,
}

impl Protocol {
    pub fn is_http(self) -> bool {
        matches!(self, Protocol::Http | Protocol::Http2 | Protocol::Grpc)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MtlsMode {
    Strict,
    #[default]
    Permissive,
    Disable,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inbound {
    /// Where the application listens; the proxy forwards to this address and the original port.
    pub app_address: IpAddr,
    /// The mode for ports without their own.
    #[serde(default)]
    pub mtls: MtlsMode,
    #[serde(default)]
    pub ports: Vec<InboundPort>,
}

impl Default for Inbound {
    fn default() -> Self {
        Inbound {
            app_address: IpAddr::from([127, 0, 0, 1]),
            mtls: MtlsMode::Permissive,
            ports: Vec::new(),
        }
    }
}

impl Inbound {
    pub fn port(&self, port: u16) -> Option<&InboundPort> {
        self.ports.iter().find(|p| p.port == port)
    }

    /// The mTLS mode in force on a port.
    pub fn mtls_on(&self, port: u16) -> MtlsMode {
        self.port(port).and_then(|p| p.mtls).unwrap_or(self.mtls)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InboundPort {
    pub port: u16,
    #[serde(default)]
    pub protocol: Protocol,
    /// Overrides the inbound default (PeerAuthentication portLevelMtls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls: Option<MtlsMode>,
}

/// A service the proxy can call, by any of its names or addresses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    /// The fully qualified name, e.g. `reviews.default.svc.cluster.local`.
    pub hostname: String,
    /// Other names that reach it from this proxy's namespace (`reviews`, `reviews.default`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Virtual IPs the application may dial.
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
    pub ports: Vec<ServicePort>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    pub port: u16,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub protocol: Protocol,
    /// Evaluated in order; the first match wins. Empty: everything to `default_cluster`.
    #[serde(default)]
    pub http_routes: Vec<HttpRoute>,
    #[serde(default)]
    pub tcp_routes: Vec<TcpRoute>,
    /// The cluster used when no route is configured for this port.
    pub default_cluster: String,
}
