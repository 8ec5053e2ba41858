//! Cross-resource analysis.
