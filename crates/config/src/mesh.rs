//! Istio's MeshConfig: from the `istio` ConfigMap in `istio-system` (key `mesh`) or a plain file.

use serde::{Deserialize, Serialize};

/// Placeholder until the full schema lands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshConfig {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl MeshConfig {
    /// Placeholder: parses the mesh config as free-form fields.
    pub fn from_yaml_str(file: &str, text: &str) -> Result<MeshConfig, Vec<crate::Diagnostic>> {
        let _ = (file, text);
        Ok(MeshConfig::default())
    }
}
