//! How the proxy keeps its connections to a cluster's endpoints (DestinationRule
//! connectionPool, beyond the limits on how many): probes that find a dead peer, and when a
//! connection is retired. Unset fields take the proxy's defaults, which follow Istio's.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionOptions {
    /// connectionPool.tcp.tcpKeepalive: SO_KEEPALIVE on upstream sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_keepalive: Option<TcpKeepalive>,
    /// connectionPool.http.http2KeepAlive: PINGs on HTTP/2 connections to the endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_keepalive: Option<Http2Keepalive>,
    /// connectionPool.http.idleTimeout: an upstream HTTP connection with no request for this
    /// long is closed (Istio's default: an hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_idle_timeout_ms: Option<u64>,
    /// connectionPool.http.maxRequestsPerConnection: requests one connection carries before
    /// it is retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_connection: Option<u32>,
    /// connectionPool.tcp.maxConnectionDuration: age at which an HTTP connection takes no
    /// new request (the ones in flight finish; an HTTP/2 connection then closes by itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connection_duration_ms: Option<u64>,
    /// connectionPool.tcp.idleTimeout: a proxied TCP connection with no byte either way for
    /// this long is closed (Istio's default: an hour; 0 turns it off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_idle_timeout_ms: Option<u64>,
}

impl ConnectionOptions {
    pub fn is_default(&self) -> bool {
        *self == ConnectionOptions::default()
    }
}

/// TCP keepalive probes; an unset field keeps the kernel's value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpKeepalive {
    /// Idle time before the first probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
    /// Time between probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
    /// Unanswered probes before the connection is dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<u32>,
}

/// A PING after `interval_ms` without a frame from the peer; the connection fails when
/// nothing comes `timeout_ms` after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Http2Keepalive {
    pub interval_ms: u64,
    pub timeout_ms: u64,
}
