//! Nodes: only their metadata (labels such as topology zones) matters to a mesh; the rest is
//! accepted as it is.

use super::webhook::warn_cluster_scoped;
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

impl Validate for Node {
    fn validate(&self, cx: &Context<'_>, _at: &FieldPath, out: &mut Findings) {
        warn_cluster_scoped(cx, "Node", out);
    }
}
