//! External control plane analyzers.

pub mod webhooks;
