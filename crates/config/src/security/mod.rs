//! security.istio.io kinds: PeerAuthentication, RequestAuthentication, AuthorizationPolicy.

mod authorization_policy;
mod authz_rules;
mod peer_authentication;
mod request_authentication;
mod target;

pub use authorization_policy::*;
pub use authz_rules::{condition_key_kind, ConditionKey};
pub use peer_authentication::*;
pub use request_authentication::*;
pub use target::{PolicyTargetReference, WorkloadSelector};
