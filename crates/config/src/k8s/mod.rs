//! The Kubernetes kinds a mesh needs. Unlike Istio kinds, unknown fields are accepted: the
//! Kubernetes API has many more fields than a mesh acts on.

pub mod base64;
mod common;
mod config_map;
mod container;
mod crd;
mod deployment;
mod namespace;
mod node;
mod pod;
mod secret;
mod service;
mod service_account;
mod webhook;

pub use common::*;
pub use config_map::*;
pub use container::*;
pub use crd::*;
pub use deployment::*;
pub use namespace::*;
pub use node::*;
pub use pod::*;
pub use secret::*;
pub use service::*;
pub use service_account::*;
pub use webhook::*;
