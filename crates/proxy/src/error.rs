//! Errors of the proxy as a whole (start-up) and of single connections (logged, then closed).

use std::net::SocketAddr;

/// The proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no valid workload certificate")]
    NoCredentials,
    #[error("invalid proxy config: {0}")]
    Config(#[from] crate::state::StateError),
    #[error("cannot open the access log: {0}")]
    AccessLog(std::io::Error),
    #[error("cannot start the worker threads: {0}")]
    Workers(std::io::Error),
    #[error(transparent)]
    Tls(#[from] verimesh_identity::tls::ConfigError),
}

/// Why one connection was closed without being proxied (or ended in error).
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("cannot recover the original destination: {0}")]
    OriginalDst(std::io::Error),
    #[error("{0} is no known service and unknown destinations are not allowed")]
    UnknownDestination(SocketAddr),
    #[error("connection to {0} was not redirected (it would loop back to the proxy)")]
    Loop(SocketAddr),
    #[error("cluster {0:?} has no endpoints")]
    NoEndpoint(String),
    #[error("cluster {0:?} has no identity to verify its endpoint against")]
    NoIdentity(String),
    #[error("endpoint identity {0:?} is not a SPIFFE ID")]
    BadIdentity(String),
    #[error("cluster {0:?} is not in the config")]
    NoCluster(String),
    #[error("cluster {0:?} is at its connection limit")]
    Overflow(String),
    #[error("upstream: {0}")]
    Upstream(String),
    #[error("TLS handshake with {addr}: {source}")]
    Handshake {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS handshake on {0} timed out")]
    HandshakeTimeout(SocketAddr),
    #[error("mesh peer on {0} presented no identity")]
    NoPeerIdentity(SocketAddr),
    #[error("refused by authorization: {0}")]
    Denied(String),
    #[error("plaintext refused on port {0}: mTLS is STRICT")]
    PlaintextRefused(u16),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("HTTP/2: {0}")]
    Http2(#[from] verimesh_http2::Error),
    #[error(transparent)]
    Tls(#[from] verimesh_identity::tls::ConfigError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
