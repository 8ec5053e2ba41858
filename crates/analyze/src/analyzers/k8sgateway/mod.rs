//! Kubernetes Gateway API analyzers.

pub mod crd_version;
