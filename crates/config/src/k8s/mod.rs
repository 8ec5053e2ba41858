//! The Kubernetes kinds a mesh needs.

mod config_map;
mod deployment;
mod namespace;
mod pod;
mod secret;
mod service;
mod service_account;

pub use config_map::*;
pub use deployment::*;
pub use namespace::*;
pub use pod::*;
pub use secret::*;
pub use service::*;
pub use service_account::*;
