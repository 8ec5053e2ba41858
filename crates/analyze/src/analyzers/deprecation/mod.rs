//! Istio's deprecation analyzer.

mod field;

pub use field::FieldAnalyzer;
