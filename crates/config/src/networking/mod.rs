//! networking.istio.io kinds: VirtualService, DestinationRule, Gateway, ServiceEntry, Sidecar,
//! WorkloadEntry and WorkloadGroup, with every message of the Istio API and its validation.
//!
//! Large optional sub-messages at the top of a spec are boxed, so that every kind's body stays
//! small (the decoded body of any kind is one variant of `kind::Body`).

mod checks;
mod common;
mod connection_pool;
mod destination_rule;
mod gateway;
mod headers;
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
pub use http_route::is_jwt_claim_header;
pub use http_route::{
    Delegate, HttpBody, HttpDirectResponse, HttpMatchRequest, HttpMirrorPolicy, HttpRedirect,
    HttpRewrite, HttpRoute, HttpRouteDestination, RedirectPortSelection, RegexRewrite,
};
pub use load_balancer::*;
pub use service_entry::*;
pub use sidecar::*;
pub use tls::*;
pub use unreachable::{is_unreachable_message, unreachable_rules, Unreachable};
pub use virtual_service::*;
pub use workload_entry::WorkloadEntry;
pub use workload_group::*;

#[cfg(test)]
mod size_tests {
    /// Bodies of very different sizes make `kind::Body` wasteful (and trip clippy).
    #[test]
    fn spec_types_stay_small() {
        use std::mem::size_of;
        for (name, size) in [
            ("VirtualService", size_of::<super::VirtualService>()),
            ("DestinationRule", size_of::<super::DestinationRule>()),
            ("Gateway", size_of::<super::Gateway>()),
            ("ServiceEntry", size_of::<super::ServiceEntry>()),
            ("Sidecar", size_of::<super::Sidecar>()),
            ("WorkloadEntry", size_of::<super::WorkloadEntry>()),
            ("WorkloadGroup", size_of::<super::WorkloadGroup>()),
        ] {
            assert!(size <= 200, "{name} is {size} bytes; box its large fields");
        }
    }
}
