//! networking.istio.io kinds: VirtualService, DestinationRule, Gateway, ServiceEntry, Sidecar,
//! WorkloadEntry and WorkloadGroup, with every message of the Istio API and its validation.

mod checks;
mod common;
mod connection_pool;
mod destination_rule;
mod gateway;
mod http_policy;
mod http_route;
mod load_balancer;
mod service_entry;
mod sidecar;
mod tls;
mod unreachable;
mod virtual_service;
mod workload_entry;
mod workload_group;

pub use common::*;
pub use connection_pool::*;
pub use destination_rule::*;
pub use gateway::*;
pub use http_policy::*;
pub use http_route::{
    Delegate, HttpBody, HttpDirectResponse, HttpMatchRequest, HttpMirrorPolicy, HttpRedirect,
    HttpRewrite, HttpRoute, HttpRouteDestination, RedirectPortSelection, RegexRewrite,
};
pub use load_balancer::*;
pub use service_entry::*;
pub use sidecar::*;
pub use tls::*;
pub use virtual_service::*;
pub use workload_entry::WorkloadEntry;
pub use workload_group::*;
