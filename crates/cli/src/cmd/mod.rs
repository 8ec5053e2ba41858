pub mod analyze;
pub mod ca;
pub mod conformance;
pub mod control;
mod duration;
