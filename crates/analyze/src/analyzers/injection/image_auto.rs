//! `injection.ImageAutoAnalyzer`: `image: auto` on an `istio-proxy` container is a placeholder
//! the injector fills in. In a Pod it is always broken (pods are not re-injected); in a
//! Deployment it is broken when no Istio injection webhook selects the pods.

use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use crate::workloads::{WorkloadSource, PROXY_CONTAINER};
use std::collections::BTreeMap;
use verimesh_config::k8s::{LabelSelector, PodSpec, SelectorOperator, Webhook};
use verimesh_config::Kind;

pub struct ImageAutoAnalyzer;

fn has_auto_image(spec: &PodSpec) -> bool {
    spec.containers
        .iter()
        .any(|c| c.name == PROXY_CONTAINER && c.image.as_deref() == Some("auto"))
}

/// Kubernetes selector semantics: absent matches everything; an invalid selector matches
/// nothing.
fn selects(sel: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    let Some(sel) = sel else {
        return true;
    };
    let invalid = sel.match_expressions.iter().any(|e| match e.operator {
        SelectorOperator::In | SelectorOperator::NotIn => e.values.is_empty(),
        SelectorOperator::Exists | SelectorOperator::DoesNotExist => !e.values.is_empty(),
    });
    !invalid && sel.matches(labels)
}

impl Analyzer for ImageAutoAnalyzer {
    fn name(&self) -> &'static str {
        "injection.ImageAutoAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let hooks: Vec<&Webhook> = snap
            .of_kind(Kind::MutatingWebhookConfiguration)
            .iter()
            .filter_map(|r| r.as_mutating_webhook_configuration())
            .flat_map(|c| &c.webhooks)
            .filter(|h| h.name.ends_with("istio.io"))
            .collect();
        let empty = BTreeMap::new();
        for w in snap.workloads() {
            if !has_auto_image(w.spec) {
                continue;
            }
            match w.source {
                WorkloadSource::Pod => out.add(
                    messages::IMAGE_AUTO_WITHOUT_INJECTION_ERROR,
                    w.resource,
                    "spec.containers",
                    format!(
                        "Pod {} has an istio-proxy container with `image: auto`, which only injection replaces, and pods are never injected after creation",
                        w.resource.name()
                    ),
                ),
                WorkloadSource::Deployment => {
                    let ns = if w.namespace.is_empty() { "default" } else { w.namespace.as_str() };
                    let ns_labels = snap
                        .of_kind(Kind::Namespace)
                        .iter()
                        .find(|n| n.name() == ns)
                        .map_or(&empty, |n| &n.meta.labels);
                    let injected = hooks.iter().any(|h| {
                        selects(h.namespace_selector.as_ref(), ns_labels)
                            && selects(h.object_selector.as_ref(), w.labels)
                    });
                    if !injected {
                        out.add(
                            messages::IMAGE_AUTO_WITHOUT_INJECTION_WARNING,
                            w.resource,
                            "spec.template.spec.containers",
                            format!(
                                "Deployment {} has an istio-proxy container with `image: auto`, but no Istio injection webhook selects its pods, so the image is never filled in",
                                w.resource.name()
                            ),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testutil::run;

    const HOOK: &str = "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata: {name: istio-sidecar-injector}\nwebhooks:\n- name: namespace.sidecar-injector.istio.io\n  sideEffects: None\n  admissionReviewVersions: [v1]\n  clientConfig: {service: {name: istiod, namespace: istio-system}}\n  namespaceSelector: {matchLabels: {istio-injection: enabled}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: on, labels: {istio-injection: enabled}}\n---\n";

    fn deploy(name: &str, ns: &str) -> String {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  selector: {{matchLabels: {{app: g}}}}\n  template:\n    metadata: {{labels: {{app: g}}}}\n    spec: {{containers: [{{name: istio-proxy, image: auto}}]}}\n---\n")
    }

    #[test]
    fn reports_pods_and_uninjected_deployments() {
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: on}\nspec: {containers: [{name: istio-proxy, image: auto}]}\n---\n";
        let yaml = format!("{HOOK}{pod}{}", deploy("off", "elsewhere"));
        assert_eq!(
            run(&super::ImageAutoAnalyzer, &yaml),
            ["IST0146 Deployment elsewhere/off", "IST0147 Pod on/p"]
        );
    }

    #[test]
    fn silent_for_injected_deployments() {
        let yaml = format!("{HOOK}{}", deploy("gw", "on"));
        assert!(run(&super::ImageAutoAnalyzer, &yaml).is_empty());
    }
}
