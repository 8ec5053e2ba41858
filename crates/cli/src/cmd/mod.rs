pub mod analyze;
pub mod authz;
pub mod conformance;
