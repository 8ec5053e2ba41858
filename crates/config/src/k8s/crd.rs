//! CustomResourceDefinitions: which custom kinds a cluster serves, and (through the Gateway API
//! `bundle-version` annotation) which release of them is installed.

use super::webhook::warn_cluster_scoped;
use crate::validate::{common, Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceDefinition {
    #[serde(default)]
    pub spec: CrdSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrdSpec {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub names: CrdNames,
    /// `Namespaced` or `Cluster`.
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<CrdVersion>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrdNames {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub plural: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub singular: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrdVersion {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub served: bool,
    #[serde(default)]
    pub storage: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<serde_json::Value>,
}

/// The annotation with which Gateway API CRDs say which release they come from.
pub const GATEWAY_API_BUNDLE_VERSION: &str = "gateway.networking.k8s.io/bundle-version";

impl Validate for CustomResourceDefinition {
    fn validate(&self, cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        warn_cluster_scoped(cx, "CustomResourceDefinition", out);
        let spec = at.field("spec");
        let s = &self.spec;
        if s.group.is_empty() || !common::is_k8s_dns1123_subdomain(&s.group) {
            out.error(
                &spec.field("group"),
                format!("{:?} is not a valid API group name", s.group),
            );
        }
        if s.names.plural.is_empty() {
            out.error(
                &spec.field("names").field("plural"),
                "the plural name is required",
            );
        }
        if s.names.kind.is_empty() {
            out.error(&spec.field("names").field("kind"), "the kind is required");
        }
        let expected = format!("{}.{}", s.names.plural, s.group);
        if !s.names.plural.is_empty() && !s.group.is_empty() && cx.meta.name != expected {
            out.error(
                &FieldPath::root().field("metadata").field("name"),
                format!("must be {expected:?}: the plural name, a dot, and the group"),
            );
        }
        if s.scope != "Namespaced" && s.scope != "Cluster" {
            out.error(
                &spec.field("scope"),
                format!("{:?} is not one of: Namespaced, Cluster", s.scope),
            );
        }
        if s.versions.is_empty() {
            out.error(&spec.field("versions"), "at least one version is required");
        } else if s.versions.iter().filter(|v| v.storage).count() != 1 {
            out.error(
                &spec.field("versions"),
                "exactly one version must be the storage version",
            );
        }
        for (i, v) in s.versions.iter().enumerate() {
            if !common::is_k8s_dns1123_label(&v.name) {
                out.error(
                    &spec.field("versions").index(i).field("name"),
                    format!("{:?} is not a valid version name", v.name),
                );
            }
        }
    }
}
