//! The verimesh proxy: sidecar and gateway data plane.

pub mod detect;
pub mod intercept;
