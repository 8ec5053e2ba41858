//! The Kubernetes Gateway API (gateway.networking.k8s.io): Gateway and HTTPRoute, as Istio
//! implements them.

mod common;
mod gateway;
mod http_route;

pub use common::*;
pub use gateway::*;
pub use http_route::*;
