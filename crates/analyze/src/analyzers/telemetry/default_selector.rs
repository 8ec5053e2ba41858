//! `telemetry.DefaultSelectorAnalyzer`: more than one Telemetry without a selector in a
//! namespace; which one applies namespace-wide is undefined.

use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::BTreeMap;
use verimesh_config::{Kind, Resource};

pub struct DefaultSelectorAnalyzer;

impl Analyzer for DefaultSelectorAnalyzer {
    fn name(&self) -> &'static str {
        "telemetry.DefaultSelectorAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let mut by_ns: BTreeMap<&str, Vec<&Resource>> = BTreeMap::new();
        for res in snap.of_kind(Kind::Telemetry) {
            if res.as_telemetry().is_some_and(|t| t.selector.is_none()) {
                by_ns.entry(snap.ns(res)).or_default().push(res);
            }
        }
        for (ns, list) in by_ns {
            if list.len() < 2 {
                continue;
            }
            let mut names: Vec<&str> = list.iter().map(|r| r.name()).collect();
            names.sort_unstable();
            for res in list {
                out.add(
                    messages::MULTIPLE_TELEMETRIES_WITHOUT_WORKLOAD_SELECTORS,
                    res,
                    "metadata.name",
                    format!(
                        "Telemetries {} in namespace {ns:?} have no selector: which one applies is undefined",
                        names.join(", ")
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testutil::run;

    fn tel(name: &str, ns: &str, spec: &str) -> String {
        format!("apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {spec}\n---\n")
    }

    #[test]
    fn reports_two_selectorless_in_a_namespace() {
        let yaml = format!("{}{}", tel("a", "x", "{}"), tel("b", "x", "{}"));
        assert_eq!(
            run(&super::DefaultSelectorAnalyzer, &yaml),
            ["IST0160 Telemetry x/a", "IST0160 Telemetry x/b"]
        );
    }

    #[test]
    fn silent_across_namespaces_or_with_selectors() {
        let yaml = format!(
            "{}{}{}",
            tel("a", "x", "{}"),
            tel("b", "y", "{}"),
            tel("c", "x", "{selector: {matchLabels: {app: q}}}")
        );
        assert!(run(&super::DefaultSelectorAnalyzer, &yaml).is_empty());
    }
}
