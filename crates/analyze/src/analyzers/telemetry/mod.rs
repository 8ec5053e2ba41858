//! Telemetry analyzers.

pub mod default_selector;
pub mod lightstep;
pub mod provider;
pub mod selector;
