//! `injection.ImageAnalyzer`: pods in injection-enabled namespaces whose proxy image is not the
//! one the injector would use now, typically left over from before a control-plane upgrade.

use super::{injector_config_map_name, injector_values, INJECTOR_CONFIG_MAP, REVISION_LABEL};
use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use crate::workloads::{NAMESPACE_INJECTION_LABEL, PROXY_CONTAINER};
use std::collections::BTreeMap;
use verimesh_config::k8s::ConfigMap;
use verimesh_config::{Kind, Resource};

pub struct ImageAnalyzer;

const PROXY_IMAGE_ANNOTATION: &str = "sidecar.istio.io/proxyImage";
const PROXY_CONFIG_ANNOTATION: &str = "proxy.istio.io/config";

/// The proxy image an injector ConfigMap's values select: `global.proxy.image` when it is a
/// full reference, else `<hub>/<image>:<tag>`; empty when the values are unreadable.
pub(crate) fn proxy_image(cm: &ConfigMap) -> String {
    let Some(values) = injector_values(cm) else {
        return String::new();
    };
    let global = values.get("global");
    let field = |v: Option<&serde_json::Value>| -> Option<String> {
        match v {
            None | Some(serde_json::Value::Null) => Some(String::new()),
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(_) => None,
        }
    };
    let (Some(hub), Some(tag), Some(image)) = (
        field(global.and_then(|g| g.get("hub"))),
        field(global.and_then(|g| g.get("tag"))),
        field(
            global
                .and_then(|g| g.get("proxy"))
                .and_then(|p| p.get("image")),
        ),
    ) else {
        return String::new();
    };
    if image.contains('/') {
        image
    } else {
        format!("{hub}/{image}:{tag}")
    }
}

/// The image variant (e.g. `distroless`) in force for a pod: the mesh default, overridden by
/// the pod's `proxy.istio.io/config` annotation; `default` means none.
fn image_type(snap: &Snapshot<'_>, pod: &Resource) -> String {
    let from_json = |v: &serde_json::Value| -> Option<String> {
        v.get("imageType")?.as_str().map(str::to_string)
    };
    let mut variant = snap
        .mesh
        .default_config
        .as_ref()
        .and_then(|c| c.image.as_ref())
        .and_then(from_json)
        .unwrap_or_default();
    if let Some(text) = pod.meta.annotations.get(PROXY_CONFIG_ANNOTATION) {
        if let Ok(docs) = verimesh_config::yaml::parse_documents(text) {
            if let Some(Some(node)) = docs.first() {
                let json = node.to_json();
                if let Some(t) = json
                    .get("image")
                    .and_then(from_json)
                    .filter(|t| !t.is_empty())
                {
                    variant = t;
                }
            }
        }
    }
    if variant == "default" {
        String::new()
    } else {
        variant
    }
}

impl Analyzer for ImageAnalyzer {
    fn name(&self) -> &'static str {
        "injection.ImageAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let mut images: BTreeMap<&str, String> = BTreeMap::new();
        for r in snap.of_kind(Kind::ConfigMap) {
            if r.name().starts_with(INJECTOR_CONFIG_MAP) {
                if let Some(cm) = r.as_config_map() {
                    images.insert(r.name(), proxy_image(cm));
                }
            }
        }
        if images.is_empty() {
            return;
        }
        // Injection-enabled namespaces and the revision that injects them.
        let mut injected: BTreeMap<&str, (&Resource, String)> = BTreeMap::new();
        for ns in snap.of_kind(Kind::Namespace) {
            let labels = &ns.meta.labels;
            if let Some(rev) = labels.get(REVISION_LABEL) {
                injected.insert(ns.name(), (ns, rev.clone()));
            } else if labels.get(NAMESPACE_INJECTION_LABEL).map(String::as_str) == Some("enabled") {
                injected.insert(ns.name(), (ns, "default".to_string()));
            }
        }
        let mut mismatched: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for w in snap.workloads() {
            if w.resource.kind != Kind::Pod {
                continue;
            }
            let Some((_, rev)) = injected.get(w.namespace.as_str()) else {
                continue;
            };
            if w.annotations
                .get(PROXY_IMAGE_ANNOTATION)
                .is_some_and(|v| !v.is_empty())
            {
                continue;
            }
            let variant = image_type(snap, w.resource);
            for c in w.containers().filter(|c| c.name == PROXY_CONTAINER) {
                let Some(expected) = images.get(injector_config_map_name(rev).as_str()) else {
                    break;
                };
                let image = c.image.as_deref().unwrap_or("");
                if image != expected && image != format!("{expected}-{variant}") {
                    if let Some((ns, _)) = injected.get_key_value(w.namespace.as_str()) {
                        mismatched.entry(ns).or_default().push(w.resource.name());
                    }
                }
            }
        }
        for (ns, mut pods) in mismatched {
            pods.sort_unstable();
            if let Some((res, _)) = injected.get(ns) {
                out.add(
                    messages::PODS_ISTIO_PROXY_IMAGE_MISMATCH_IN_NAMESPACE,
                    res,
                    "metadata.name",
                    format!(
                        "pods {} run a proxy image other than the one the injector now uses; this is usual after a control-plane upgrade, and redeploying them fixes it",
                        pods.join(", ")
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testutil::{run, run_with_mesh};
    use verimesh_config::mesh::MeshConfig;

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio-sidecar-injector, namespace: istio-system}\ndata:\n  values: '{\"global\":{\"hub\":\"reg/istio\",\"tag\":\"1.2\",\"proxy\":{\"image\":\"proxyv2\"}}}'\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: app, labels: {istio-injection: enabled}}\n---\n";

    fn pod(name: &str, image: &str) -> String {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: app}}\nspec: {{containers: [{{name: istio-proxy, image: {image}}}]}}\n---\n")
    }

    #[test]
    fn reports_old_proxies_per_namespace() {
        let yaml = format!(
            "{CM}{}{}{}",
            pod("old", "reg/istio/proxyv2:1.1"),
            pod("older", "reg/istio/proxyv2:1.0"),
            pod("new", "reg/istio/proxyv2:1.2")
        );
        assert_eq!(run(&super::ImageAnalyzer, &yaml), ["IST0158 Namespace app"]);
    }

    #[test]
    fn silent_for_current_and_variant_images() {
        let yaml = format!(
            "{CM}{}{}",
            pod("new", "reg/istio/proxyv2:1.2"),
            pod("slim", "reg/istio/proxyv2:1.2-distroless")
        );
        assert!(run(&super::ImageAnalyzer, &yaml).len() == 1);
        let mesh =
            MeshConfig::from_yaml_str("m", "defaultConfig:\n  image:\n    imageType: distroless\n")
                .expect("mesh");
        assert!(run_with_mesh(&super::ImageAnalyzer, &yaml, mesh).is_empty());
    }
}
