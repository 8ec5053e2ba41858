//! The verimesh proxy: sidecar and gateway data plane.

pub mod admin;
mod body;
pub mod detect;
mod error;
pub mod flags;
mod gateway;
mod h2_body;
mod http;
mod idle_copy;
mod inbound;
pub mod intercept;
pub mod lb;
mod mesh_tls;
mod outbound;
mod rand;
mod routes;
mod runtime;
mod security;
mod server;
mod sniff;
mod state;
mod tcp;
pub mod telemetry;
mod upstream;
mod workers;

pub use error::{ConnError, ProxyError};
pub use http::XFCC;
pub use mesh_tls::{MESH_ALPN, MESH_ALPN_H2, MESH_ALPN_HTTP1};
pub use runtime::{runtime, DEFAULT_WORKERS};
pub use security::jwks::JwksOptions;
pub use server::{start, OriginalDst, Proxy, ProxyOptions, Shared};
pub use state::{check_config, StateError};
pub use telemetry::LogTarget;
