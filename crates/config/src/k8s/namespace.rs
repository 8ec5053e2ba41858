//! Namespaces; verimesh reads their labels (sidecar injection, discovery selectors).

use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<NamespaceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

/// The label that turns sidecar injection on or off for a namespace.
pub const INJECTION_LABEL: &str = "istio-injection";

impl Validate for Namespace {
    fn validate(&self, cx: &Context<'_>, _at: &FieldPath, out: &mut Findings) {
        if let Some(v) = cx.meta.labels.get(INJECTION_LABEL) {
            if v != "enabled" && v != "disabled" {
                let p = FieldPath::root()
                    .field("metadata")
                    .field("labels")
                    .field(INJECTION_LABEL);
                out.warning(&p, format!("{v:?} has no effect: sidecar injection is controlled by \"enabled\" or \"disabled\""));
            }
        }
    }
}
