//! What a cluster's `ConnectionOptions` mean for its pooled connections: the probes that
//! find a dead peer, and when a connection stops taking requests. Unset options take
//! Istio's defaults, except HTTP/2 keepalive between proxies, which is on (as Linkerd has
//! it): a peer proxy whose host vanished is found in seconds, not at each request's timeout.

use std::time::{Duration, Instant};
use verimesh_model::{ConnectionOptions, TcpKeepalive};

/// Istio's default idle timeout for upstream HTTP connections.
const DEFAULT_HTTP_IDLE: Duration = Duration::from_secs(3600);
/// Between proxies, without http2KeepAlive: a PING after 10 s without a frame, and the
/// connection given up 5 s later.
pub const MESH_KEEPALIVE: verimesh_http2::Keepalive = verimesh_http2::Keepalive {
    interval: Duration::from_secs(10),
    timeout: Duration::from_secs(5),
};

#[derive(Clone, Debug)]
pub struct ConnPolicy {
    pub tcp_keepalive: Option<TcpKeepalive>,
    pub http2_keepalive: verimesh_http2::Keepalive,
    pub http_idle: Duration,
    pub max_age: Option<Duration>,
    pub max_uses: Option<u32>,
}

impl ConnPolicy {
    pub fn new(options: &ConnectionOptions) -> ConnPolicy {
        ConnPolicy {
            tcp_keepalive: options.tcp_keepalive,
            http2_keepalive: options.http2_keepalive.map_or(MESH_KEEPALIVE, |k| {
                verimesh_http2::Keepalive {
                    interval: Duration::from_millis(k.interval_ms),
                    timeout: Duration::from_millis(k.timeout_ms),
                }
            }),
            http_idle: options
                .http_idle_timeout_ms
                .filter(|ms| *ms > 0)
                .map_or(DEFAULT_HTTP_IDLE, Duration::from_millis),
            max_age: options
                .max_connection_duration_ms
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis),
            max_uses: options.max_requests_per_connection,
        }
    }

    /// A connection opened at `opened` that has carried `uses` requests takes no more.
    pub fn retired(&self, opened: Instant, uses: u32) -> bool {
        self.max_uses.is_some_and(|max| uses >= max)
            || self.max_age.is_some_and(|max| opened.elapsed() >= max)
    }
}

/// Turns on SO_KEEPALIVE with the given probe timing (unset values: the kernel's).
pub fn set_tcp_keepalive(socket: &tokio::net::TcpStream, k: &TcpKeepalive) -> std::io::Result<()> {
    let mut params = socket2::TcpKeepalive::new();
    if let Some(ms) = k.time_ms {
        params = params.with_time(Duration::from_millis(ms));
    }
    if let Some(ms) = k.interval_ms {
        params = params.with_interval(Duration::from_millis(ms));
    }
    if let Some(n) = k.probes {
        params = params.with_retries(n);
    }
    let sock = socket2::SockRef::from(socket);
    sock.set_keepalive(true)?;
    sock.set_tcp_keepalive(&params)
}
