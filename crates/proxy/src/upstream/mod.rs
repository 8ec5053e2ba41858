//! Connections to upstreams: endpoints of clusters (outbound) and the application
//! (inbound). Per endpoint one pool: a shared HTTP/2 connection (always between proxies,
//! where it carries requests from many application connections) and idle HTTP/1.1
//! connections. Pools are keyed by address and transport and outlive config swaps, so a
//! route change does not drop connections.

mod conn_policy;
mod connect;
mod h1_client;
mod h1_codec;
mod h2_client;
mod pool;
#[cfg(test)]
mod recorded_io;

pub use conn_policy::MESH_KEEPALIVE;
pub use connect::{connect_tcp, Connector};
pub use pool::{EndpointPool, Pools, UpstreamKind};

use crate::flags::ResponseFlag;

/// Why a request got no response from its upstream; each maps to Envoy's response flag.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("connection failure: {0}")]
    Connect(String),
    #[error("overflow")]
    Overflow,
    #[error("remote reset: {0}")]
    Reset(String),
    #[error("connection termination: {0}")]
    Terminated(String),
    /// The upstream's response was not valid HTTP.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl UpstreamError {
    pub fn flag(&self) -> ResponseFlag {
        match self {
            UpstreamError::Connect(_) => ResponseFlag::UpstreamConnectionFailure,
            UpstreamError::Overflow => ResponseFlag::UpstreamOverflow,
            UpstreamError::Reset(_) => ResponseFlag::UpstreamRemoteReset,
            UpstreamError::Terminated(_) => ResponseFlag::UpstreamConnectionTermination,
            UpstreamError::Protocol(_) => ResponseFlag::UpstreamProtocolError,
        }
    }

    /// The status of the local answer: 502 when the upstream spoke broken HTTP (as Envoy
    /// answers a protocol error), 503 for every other failure.
    pub fn status(&self) -> http::StatusCode {
        match self {
            UpstreamError::Protocol(_) => http::StatusCode::BAD_GATEWAY,
            _ => http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Envoy's words for the reset reason in its 503 body.
    pub fn reason(&self) -> &'static str {
        match self {
            UpstreamError::Connect(_) => "connection failure",
            UpstreamError::Overflow => "overflow",
            UpstreamError::Reset(_) => "remote reset",
            UpstreamError::Terminated(_) => "connection termination",
            UpstreamError::Protocol(_) => "protocol error",
        }
    }

    pub(crate) fn from_hyper(e: &hyper::Error) -> Self {
        let mut text = e.to_string();
        if let Some(src) = std::error::Error::source(e) {
            text = format!("{text}: {src}");
        }
        if e.is_closed() || e.is_incomplete_message() || e.is_canceled() {
            UpstreamError::Terminated(text)
        } else {
            UpstreamError::Reset(text)
        }
    }
}
