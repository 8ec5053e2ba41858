//! verimesh's one decision engine. Pure (no I/O, no clock): request normalization, JWT
//! verification and AuthorizationPolicy evaluation, used alike by the proxy, `verimesh
//! authz check` and the dashboard, so that what the CLI explains is what the proxy does.
//!
//! The flow for one request ([`Engine::decide`]):
//! 1. [`normalize`]: the raw request becomes an [`normalize::HttpRequest`] or a 400;
//! 2. [`jwt`]: tokens are found and verified against the workload's RequestAuthentication
//!    rules; a present but invalid token is a 401, a missing one passes;
//! 3. [`authz`]: the workload's AuthorizationPolicies decide (CUSTOM → DENY → ALLOW); a
//!    denial is a 403 for HTTP and a refused connection for TCP.

#![forbid(unsafe_code)]

pub mod attrs;
pub mod authz;
mod engine;
pub mod jwt;
pub mod matcher;
pub mod normalize;
pub mod scope;

pub use attrs::{Attributes, Authenticated, Connection, Peer};
pub use authz::{Decision, PolicySet, Selected};
pub use engine::{AuthnSpec, AuthzSpec, Engine, Outcome, Verdict, WorkloadPolicies};
pub use jwt::{Jwks, JwtError, JwtPolicy};
pub use normalize::{HttpRequest, Normalizer, RawRequest, RequestError};
pub use scope::Workload;
