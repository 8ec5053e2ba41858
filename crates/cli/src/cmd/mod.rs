pub mod analyze;
pub mod conformance;
