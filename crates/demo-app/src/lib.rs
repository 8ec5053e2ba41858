//! `verimesh demo-app`: a small app for demos, tests and benchmarks. It answers httpbin-like
//! endpoints, can echo TCP, and can play one of the services of Istio's bookinfo sample, so
//! that sample's traffic rules can be tried on verimesh without container images.

mod bookinfo;
mod client;
mod ext_authz;
mod ext_authz_grpc;
mod httpbin;
mod reply;
mod server;
mod tcp_echo;

pub use ext_authz_grpc::serve_ext_authz_grpc;
pub use server::{serve, Running};
pub use tcp_echo::serve_tcp_echo;

use std::net::SocketAddr;

/// Which service the app plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// httpbin-like endpoints only.
    Httpbin,
    Productpage,
    Details,
    Reviews,
    Ratings,
    /// An external authorizer like Istio's ext-authz sample: `x-ext-authz: allow` or 403
    /// (HTTP here; gRPC with `serve_ext_authz_grpc`).
    ExtAuthz,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Httpbin => "httpbin",
            Role::Productpage => "productpage",
            Role::Details => "details",
            Role::Reviews => "reviews",
            Role::Ratings => "ratings",
            Role::ExtAuthz => "ext-authz",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "httpbin" => Role::Httpbin,
            "productpage" => Role::Productpage,
            "details" => Role::Details,
            "reviews" => Role::Reviews,
            "ratings" => Role::Ratings,
            "ext-authz" => Role::ExtAuthz,
            _ => {
                return Err(format!(
                    "unknown role {s:?}: expected httpbin, productpage, details, reviews, ratings or ext-authz"
                ))
            }
        })
    }
}

/// Where the bookinfo roles find the services they call (`host:port`, resolved at call time so
/// the mesh's names work).
#[derive(Clone, Debug)]
pub struct Upstreams {
    pub details: String,
    pub reviews: String,
    pub ratings: String,
}

impl Default for Upstreams {
    fn default() -> Self {
        Upstreams {
            details: "details:9080".into(),
            reviews: "reviews:9080".into(),
            ratings: "ratings:9080".into(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub role: Role,
    /// Reported in every answer, e.g. `v2`.
    pub version: String,
    pub http: SocketAddr,
    pub upstreams: Upstreams,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}
