//! Analyzers of authentication and authorization policy.

mod authorization_policies;
mod blocked_cidrs;

pub use authorization_policies::AuthorizationPolicies;
pub use blocked_cidrs::BlockedCidrs;
