//! `injection.Analyzer`: namespaces with no injection setting, namespaces with conflicting
//! injection labels, and pods in injection-enabled namespaces that run without a proxy.

use super::{injector_config_map_name, injector_values, DATAPLANE_MODE_LABEL, REVISION_LABEL};
use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use crate::workloads::{INJECT_LABEL, NAMESPACE_INJECTION_LABEL, PROXY_CONTAINER};
use std::collections::BTreeSet;
use verimesh_config::Kind;

pub struct InjectionAnalyzer;

const ISTIO_SYSTEM: &str = "istio-system";

impl Analyzer for InjectionAnalyzer {
    fn name(&self) -> &'static str {
        "injection.Analyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        // Like Istio, the last injector ConfigMap consulted decides for later namespaces too.
        let mut enabled_by_default = false;
        let mut injected: BTreeSet<&str> = BTreeSet::new();
        for ns in snap.of_kind(Kind::Namespace) {
            let name = ns.name();
            if name == ISTIO_SYSTEM {
                continue;
            }
            let labels = &ns.meta.labels;
            let injection = labels.get(NAMESPACE_INJECTION_LABEL);
            let revision = labels.get(REVISION_LABEL);
            let mut set: Vec<String> = Vec::new();
            if let Some(v) = injection {
                set.push(format!("{NAMESPACE_INJECTION_LABEL}={v}"));
            }
            if injection.is_none_or(|v| v == "enabled") {
                for l in [REVISION_LABEL, DATAPLANE_MODE_LABEL] {
                    if let Some(v) = labels.get(l) {
                        set.push(format!("{l}={v}"));
                    }
                }
            }
            if set.len() > 1 {
                out.add(
                    messages::NAMESPACE_MULTIPLE_INJECTION_LABELS,
                    ns,
                    "metadata.labels",
                    format!(
                        "namespace {name} has more than one injection label ({}); which one applies is undefined: keep only one",
                        set.join(", ")
                    ),
                );
            }
            if labels.get(DATAPLANE_MODE_LABEL).map(String::as_str) == Some("ambient") {
                continue;
            }
            let cm_name = injector_config_map_name(revision.map_or("", String::as_str));
            if let Some(cm) = snap
                .of_kind(Kind::ConfigMap)
                .iter()
                .find(|r| r.name() == cm_name)
                .and_then(|r| r.as_config_map())
            {
                enabled_by_default = injector_values(cm)
                    .and_then(|v| {
                        v.get("sidecarInjectorWebhook")?
                            .get("enableNamespacesByDefault")?
                            .as_bool()
                    })
                    .unwrap_or(false);
            }
            let injection = injection.map_or("", String::as_str);
            if injection.is_empty() && revision.is_none() {
                if enabled_by_default {
                    out.add(
                        messages::NAMESPACE_INJECTION_ENABLED_BY_DEFAULT,
                        ns,
                        "metadata.name",
                        format!("namespace {name} gets sidecars: Istio is installed with enableNamespacesByDefault, and the namespace has no injection label"),
                    );
                } else {
                    out.add(
                        messages::NAMESPACE_NOT_INJECTED,
                        ns,
                        "metadata.name",
                        format!("namespace {name} has no injection label: label it istio-injection=enabled to add sidecars, or istio-injection=disabled to say it needs none"),
                    );
                }
                continue;
            }
            if injection == "enabled" {
                injected.insert(name);
            }
        }
        for w in snap.workloads() {
            if w.resource.kind != Kind::Pod || !injected.contains(w.namespace.as_str()) {
                continue;
            }
            let inject = w
                .labels
                .get(INJECT_LABEL)
                .or_else(|| w.annotations.get(INJECT_LABEL));
            if inject.is_some_and(|v| v.eq_ignore_ascii_case("false")) {
                continue;
            }
            if w.spec.host_network == Some(true) {
                continue;
            }
            let proxy_image = w
                .containers()
                .find(|c| c.name == PROXY_CONTAINER)
                .and_then(|c| c.image.as_deref())
                .unwrap_or("");
            if proxy_image.is_empty() {
                out.add(
                    messages::POD_MISSING_PROXY,
                    w.resource,
                    "spec.containers",
                    format!(
                        "pod {} runs without the Istio proxy although its namespace has injection enabled; restarting or redeploying the workload usually fixes it",
                        snap.full_name(w.resource)
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testutil::run;

    fn ns(name: &str, labels: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {labels}}}\n---\n"
        )
    }

    fn pod(name: &str, meta: &str, containers: &str) -> String {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: on{meta}}}\nspec: {{containers: {containers}}}\n---\n")
    }

    #[test]
    fn reports_namespaces_and_pods() {
        let yaml = format!(
            "{}{}{}{}{}{}",
            ns("on", "{istio-injection: enabled}"),
            ns("bare", "{}"),
            ns("both", "{istio-injection: enabled, istio.io/rev: canary}"),
            pod("plain", "", "[{name: app, image: a}]"),
            pod(
                "proxied",
                "",
                "[{name: app, image: a}, {name: istio-proxy, image: p}]"
            ),
            pod(
                "optout",
                ", labels: {sidecar.istio.io/inject: 'False'}",
                "[{name: app, image: a}]"
            ),
        );
        assert_eq!(
            run(&super::InjectionAnalyzer, &yaml),
            [
                "IST0102 Namespace bare",
                "IST0103 Pod on/plain",
                "IST0123 Namespace both"
            ]
        );
    }

    #[test]
    fn enabled_by_default_and_silent_cases() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio-sidecar-injector, namespace: istio-system}\ndata:\n  values: '{\"sidecarInjectorWebhook\":{\"enableNamespacesByDefault\":true}}'\n---\n";
        let yaml = format!("{cm}{}", ns("bare", "{}"));
        assert_eq!(
            run(&super::InjectionAnalyzer, &yaml),
            ["IST0148 Namespace bare"]
        );
        let quiet = format!(
            "{}{}{}{}",
            ns("istio-system", "{}"),
            ns("off", "{istio-injection: disabled, istio.io/rev: x}"),
            ns("amb", "{istio.io/dataplane-mode: ambient}"),
            ns("rev", "{istio.io/rev: canary}")
        );
        assert!(run(&super::InjectionAnalyzer, &quiet).is_empty());
    }
}
