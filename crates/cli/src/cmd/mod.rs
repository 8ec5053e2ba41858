pub mod analyze;
pub mod conformance;
pub mod demo_app;
pub mod iptables;
