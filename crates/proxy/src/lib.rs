//! The verimesh proxy: sidecar and gateway data plane.

pub mod detect;
pub mod flags;
pub mod intercept;
pub mod lb;
