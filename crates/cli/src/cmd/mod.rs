pub mod analyze;
pub mod authz;
pub mod ca;
pub mod conformance;
pub mod control;
pub mod demo_app;
mod duration;
pub mod iptables;
pub mod proxy;
