//! verimesh's own analyzers (VM codes): misconfigurations Istio's analyzer misses, above all
//! those that surface at run time only as an opaque 503 or a policy that silently does
//! nothing.

mod http_on_tcp_port;
mod jwt_not_required;
mod mtls_conflict;
mod peer_mode;
mod policy_never_matches;
mod scope;

pub use http_on_tcp_port::HttpOnTcpPort;
pub use jwt_not_required::JwtNotRequired;
pub use mtls_conflict::MtlsConflict;
pub use policy_never_matches::PolicyNeverMatches;
