pub mod analyze;
pub mod authz;
pub mod conformance;
pub mod demo_app;
pub mod iptables;
