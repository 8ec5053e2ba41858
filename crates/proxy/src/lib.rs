//! The verimesh proxy: sidecar and gateway data plane.

pub mod admin;
pub mod detect;
pub mod flags;
pub mod intercept;
pub mod lb;
pub mod tcp;

pub use tcp::{start, OriginalDst, Proxy, ProxyError, ProxyOptions};
