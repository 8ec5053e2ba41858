//! Istio's Sidecar analyzers.

mod selector;

pub use selector::SelectorAnalyzer;
