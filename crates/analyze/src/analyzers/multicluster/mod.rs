//! Multi-cluster analyzers.

pub mod mesh_networks;
pub mod service;
