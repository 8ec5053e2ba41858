//! EnvoyFilter analyzers.

pub mod patch;
