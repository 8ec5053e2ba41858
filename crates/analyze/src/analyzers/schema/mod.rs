//! Istio's schema validation analyzers that have messages of their own.

mod virtual_service;

pub use virtual_service::VirtualServiceValidationAnalyzer;
