//! The compiler: Istio and Kubernetes resources plus what the local runtime placed, compiled
//! into the proxy-facing model (`verimesh_model::ProxyConfig`), one proxy at a time. Pure: no
//! I/O, no clock; the same inputs give the same configs and the same versions.
//!
//! Shape: an index of the snapshot is built once (services with their endpoints, rules with
//! their scopes resolved); a proxy's outbound part (services, routes, clusters) depends only on
//! its namespace, the Sidecar resource that applies to it and which label conditions hold for
//! it, so `Compiler::compile_all` builds each such view once and shares it; clusters are
//! cached per (service, DestinationRule choice) across views. Per proxy, only the workload,
//! the inbound side and the version are computed.

#![forbid(unsafe_code)]

mod clusters;
mod compiler;
mod endpoints;
mod error;
mod gateway;
mod gateway_api;
mod hash;
mod inbound;
mod index;
mod matches;
mod peer_auth;
mod placement;
mod policy;
mod pool_options;
mod routes;
mod scope;
mod security;
mod services;
mod synth;
mod unit;
mod view;

pub use compiler::{CompiledProxy, Compiler};
pub use error::CompileError;
pub use gateway_api::{GATEWAY_NAME_LABEL, ISTIO_CLASS};
pub use placement::{spiffe_id, Instance, Placement};
pub use synth::{is_gateway, INJECT_TEMPLATES};
pub use view::Outbound;

use verimesh_analyze::Snapshot;
use verimesh_model::ProxyConfig;

/// Compiles the config of one proxy: the instance `namespace/name` of the placement.
pub fn compile<'a>(
    snapshot: &Snapshot<'a>,
    placement: &'a Placement,
    namespace: &str,
    name: &str,
) -> Result<ProxyConfig, CompileError> {
    Compiler::new(snapshot, placement)?.compile(namespace, name)
}
