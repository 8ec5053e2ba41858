//! `sidecar.SelectorAnalyzer`: a Sidecar's workloadSelector must select a pod in its
//! namespace; a pod must be selected by at most one Sidecar, and a namespace can have at most
//! one Sidecar without selector (otherwise which one applies is undefined). In ambient mode
//! there is no sidecar, so Sidecars there have no effect.

use crate::analyzers::Analyzer;
use crate::hosts::{selector_matches, selector_string};
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use crate::workloads::REVISION_LABEL;
use std::collections::{BTreeMap, BTreeSet};
use verimesh_config::{Kind, Resource};

pub struct SelectorAnalyzer;

const DATAPLANE_MODE_LABEL: &str = "istio.io/dataplane-mode";

/// A namespace in ambient mode (and not also marked for sidecar injection).
fn namespace_in_ambient(ns: Option<&Resource>) -> bool {
    let Some(ns) = ns else { return false };
    let labels = &ns.meta.labels;
    if labels
        .get(crate::workloads::NAMESPACE_INJECTION_LABEL)
        .is_some_and(|v| v == "enabled")
        || labels.get(REVISION_LABEL).is_some_and(|v| !v.is_empty())
    {
        return false;
    }
    labels
        .get(DATAPLANE_MODE_LABEL)
        .is_some_and(|v| v == "ambient")
}

fn sorted_names(list: &[&Resource]) -> String {
    let mut names: Vec<&str> = list.iter().map(|r| r.name()).collect();
    names.sort_unstable();
    names.join(", ")
}

impl Analyzer for SelectorAnalyzer {
    fn name(&self) -> &'static str {
        "sidecar.SelectorAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let workloads = snap.workloads();
        // Workload index → Sidecars selecting it; namespace → Sidecars without selector.
        let mut by_workload: BTreeMap<usize, Vec<&Resource>> = BTreeMap::new();
        let mut by_namespace: BTreeMap<&str, Vec<&Resource>> = BTreeMap::new();
        for r in snap.of_kind(Kind::Sidecar) {
            let Some(sc) = r.as_sidecar() else { continue };
            let ns = snap.ns(r);
            let selector = match &sc.workload_selector {
                Some(s) if !s.labels.is_empty() => &s.labels,
                _ => {
                    by_namespace.entry(ns).or_default().push(r);
                    continue;
                }
            };
            let mut found = false;
            for (i, w) in workloads.iter().enumerate() {
                if w.namespace == ns && selector_matches(selector, w.labels) {
                    found = true;
                    by_workload.entry(i).or_default().push(r);
                }
            }
            if !found {
                let field = selector.keys().next().map_or_else(
                    || "spec.workloadSelector".to_string(),
                    |k| format!("spec.workloadSelector.labels.{k}"),
                );
                out.add(
                    messages::REFERENCED_RESOURCE_NOT_FOUND,
                    r,
                    &field,
                    format!(
                        "the workloadSelector {:?} selects no pod in namespace {ns:?}, so this Sidecar applies to \
                         nothing; fix the labels (a Sidecar only selects pods of its own namespace)",
                        selector_string(selector)
                    ),
                );
            }
        }
        let mut ineffective: BTreeSet<String> = BTreeSet::new();
        for (i, sidecars) in &by_workload {
            let w = &workloads[*i];
            let ambient = w.in_ambient();
            if sidecars.len() == 1 && !ambient {
                continue;
            }
            let names = sorted_names(sidecars);
            for r in sidecars {
                if ambient {
                    if ineffective.insert(snap.full_name(r)) {
                        out.add(
                            messages::INEFFECTIVE_POLICY,
                            r,
                            "spec.workloadSelector",
                            format!(
                                "it selects pod {} which runs in ambient mode, where there is no sidecar to configure",
                                w.resource.name()
                            ),
                        );
                    }
                    continue;
                }
                out.add(
                    messages::CONFLICTING_SIDECAR_WORKLOAD_SELECTORS,
                    r,
                    "metadata.name",
                    format!(
                        "Sidecars {names} in namespace {:?} all select pod {}; which one applies is undefined. \
                         Make their workloadSelectors disjoint or merge them",
                        w.namespace,
                        w.resource.name()
                    ),
                );
            }
        }
        for (ns, sidecars) in &by_namespace {
            if namespace_in_ambient(snap.namespace_object(ns)) {
                for r in sidecars {
                    if ineffective.insert(snap.full_name(r)) {
                        out.add(
                            messages::INEFFECTIVE_POLICY,
                            r,
                            "",
                            format!(
                                "namespace {ns:?} runs in ambient mode, where there are no sidecars to configure"
                            ),
                        );
                    }
                }
                continue;
            }
            if sidecars.len() > 1 {
                let names = sorted_names(sidecars);
                for r in sidecars {
                    out.add(
                        messages::MULTIPLE_SIDECARS_WITHOUT_WORKLOAD_SELECTORS,
                        r,
                        "",
                        format!(
                            "Sidecars {names} in namespace {ns:?} have no workloadSelector, so each claims the whole \
                             namespace and which one applies is undefined; keep one, or give the others selectors"
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testutil::run;

    fn sidecar(name: &str, selector: &str) -> String {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {{name: {name}, namespace: ns}}\n\
             spec:\n{selector}  egress: [{{hosts: [\"./*\"]}}]\n---\n"
        )
    }

    const POD: &str =
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns, labels: {app: a}}\n\
        spec:\n  containers: [{name: app, image: app}]\n---\n";

    #[test]
    fn reports_missing_pods_conflicts_and_unselective_sidecars() {
        let yaml = POD.to_string()
            + &sidecar("s1", "  workloadSelector: {labels: {app: a}}\n")
            + &sidecar("s2", "  workloadSelector: {labels: {app: a}}\n")
            + &sidecar("s3", "  workloadSelector: {labels: {app: b}}\n")
            + &sidecar("n1", "")
            + &sidecar("n2", "");
        assert_eq!(
            run(&SelectorAnalyzer, &yaml),
            [
                "IST0101 Sidecar ns/s3",
                "IST0110 Sidecar ns/s1",
                "IST0110 Sidecar ns/s2",
                "IST0111 Sidecar ns/n1",
                "IST0111 Sidecar ns/n2"
            ]
        );
    }

    #[test]
    fn silent_for_one_sidecar_per_pod_and_namespace() {
        let yaml = POD.to_string()
            + &sidecar("s1", "  workloadSelector: {labels: {app: a}}\n")
            + &sidecar("n1", "");
        assert!(run(&SelectorAnalyzer, &yaml).is_empty());
    }
}
