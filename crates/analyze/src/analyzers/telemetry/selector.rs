//! `telemetry.SelectorAnalyzer`: a Telemetry whose selector matches no workload in its
//! namespace, and workloads selected by more than one Telemetry (which one applies is
//! undefined).

use crate::analyzers::Analyzer;
use crate::hosts::selector_string;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::BTreeMap;
use verimesh_config::{Kind, Resource};

pub struct SelectorAnalyzer;

impl Analyzer for SelectorAnalyzer {
    fn name(&self) -> &'static str {
        "telemetry.SelectorAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        // Workload (by index in snap.workloads()) -> the Telemetries selecting it.
        let mut selected: BTreeMap<usize, Vec<&Resource>> = BTreeMap::new();
        let workloads = snap.workloads();
        for res in snap.of_kind(Kind::Telemetry) {
            let Some(sel) = res.as_telemetry().and_then(|t| t.selector.as_ref()) else {
                continue;
            };
            if sel.match_labels.is_empty() {
                continue;
            }
            let ns = snap.ns(res);
            let mut found = false;
            for (i, w) in workloads.iter().enumerate() {
                if w.namespace == ns && sel.matches(w.labels) {
                    found = true;
                    selected.entry(i).or_default().push(res);
                }
            }
            if !found {
                let field = sel
                    .match_labels
                    .keys()
                    .next()
                    .map(|k| format!("spec.selector.matchLabels.{k}"))
                    .unwrap_or_default();
                out.add(
                    messages::REFERENCED_RESOURCE_NOT_FOUND,
                    res,
                    &field,
                    format!(
                        "the selector {} matches no workload in namespace {ns:?}",
                        selector_string(&sel.match_labels)
                    ),
                );
            }
        }
        for (i, list) in selected {
            if list.len() < 2 {
                continue;
            }
            let Some(w) = workloads.get(i) else {
                continue;
            };
            let mut names: Vec<&str> = list.iter().map(|r| r.name()).collect();
            names.sort_unstable();
            for res in list {
                out.add(
                    messages::CONFLICTING_TELEMETRY_WORKLOAD_SELECTORS,
                    res,
                    "metadata.name",
                    format!(
                        "Telemetries {} in namespace {:?} all select {} {}: which one applies is undefined",
                        names.join(", "),
                        w.namespace,
                        w.resource.kind.name(),
                        w.resource.name()
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testutil::run;

    fn tel(name: &str, ns: &str, sel: &str) -> String {
        format!("apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  selector: {{matchLabels: {sel}}}\n---\n")
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a, labels: {app: x, tier: y}}\nspec: {containers: [{name: c, image: i}]}\n---\n";

    #[test]
    fn reports_missing_and_conflicting() {
        let yaml = format!(
            "{POD}{}{}{}{}",
            tel("one", "a", "{app: x}"),
            tel("two", "a", "{tier: y}"),
            tel("none", "a", "{app: z}"),
            tel("elsewhere", "b", "{app: x}")
        );
        assert_eq!(
            run(&super::SelectorAnalyzer, &yaml),
            [
                "IST0101 Telemetry a/none",
                "IST0101 Telemetry b/elsewhere",
                "IST0159 Telemetry a/one",
                "IST0159 Telemetry a/two"
            ]
        );
    }

    #[test]
    fn silent_for_one_match_or_no_selector() {
        let yaml = format!(
            "{POD}{}apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {{name: ns-wide, namespace: a}}\nspec: {{}}\n",
            tel("one", "a", "{app: x}")
        );
        assert!(run(&super::SelectorAnalyzer, &yaml).is_empty());
    }
}
