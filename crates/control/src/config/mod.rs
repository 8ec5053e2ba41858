//! Config distribution: the control plane's compiled config for each proxy, streamed to it
//! over `verimesh.config.v1` (xDS's ideas — versions, nonces, ACK/NACK — in a small protocol
//! of our own, incremental: only resources that changed are sent). [`ConfigHub`] holds the
//! configs as shared encoded resources and each proxy's push state; [`ConfigService`] serves
//! one stream per connected proxy on the control plane's gRPC port.

mod delta;
mod hub;
mod requests;
mod resources;
mod service;
mod stream_body;
mod wire;

pub use hub::{
    ConfigHub, HubEvent, HubOptions, NackRecord, NoPlacements, Placement, PlacementLookup,
    ProxyStatus,
};
pub use resources::{EncodeError, ProxyParts, SharedOutbound};
pub use service::ConfigService;
pub use stream_body::STREAM_PATH;

use std::fmt;

/// A proxy: its workload replica's name in its namespace (what the proxy's hello names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProxyKey {
    pub namespace: String,
    pub name: String,
}

impl ProxyKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ProxyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A lookup from a plain function or closure.
impl<F> PlacementLookup for F
where
    F: Fn(&ProxyKey) -> Option<Placement> + Send + Sync + 'static,
{
    fn placement(&self, proxy: &ProxyKey) -> Option<Placement> {
        self(proxy)
    }
}
