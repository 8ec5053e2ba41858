//! Sidecar injection analyzers, and what they share: the injector's ConfigMap.

pub mod image;
pub mod image_auto;
pub mod namespaces;

use verimesh_config::k8s::ConfigMap;

pub(crate) const INJECTOR_CONFIG_MAP: &str = "istio-sidecar-injector";
pub(crate) const REVISION_LABEL: &str = "istio.io/rev";
pub(crate) const DATAPLANE_MODE_LABEL: &str = "istio.io/dataplane-mode";

/// The injector ConfigMap of a revision: `istio-sidecar-injector`, or `…-<revision>`.
pub(crate) fn injector_config_map_name(revision: &str) -> String {
    if revision.is_empty() || revision == "default" {
        INJECTOR_CONFIG_MAP.to_string()
    } else {
        format!("{INJECTOR_CONFIG_MAP}-{revision}")
    }
}

/// The Helm values the injector was installed with (the ConfigMap's `values`, JSON).
pub(crate) fn injector_values(cm: &ConfigMap) -> Option<serde_json::Value> {
    serde_json::from_str(cm.data.get("values")?).ok()
}
