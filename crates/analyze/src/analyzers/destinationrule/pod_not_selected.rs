//! `destinationrule.PodNotSelectedAnalyzer`: a DestinationRule's host must be a known service,
//! and each subset must select at least one workload; a subset without endpoints makes every
//! request routed to it fail with 503 (no healthy upstream).

use crate::analyzers::Analyzer;
use crate::hosts::selector_matches;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::BTreeMap;
use verimesh_config::Kind;

pub struct PodNotSelectedAnalyzer;

impl Analyzer for PodNotSelectedAnalyzer {
    fn name(&self) -> &'static str {
        "destinationrule.PodNotSelectedAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for r in snap.of_kind(Kind::DestinationRule) {
            let Some(dr) = r.as_destination_rule() else {
                continue;
            };
            let Some(entry) = snap.registry().lookup(snap.ns(r), &dr.export_to, &dr.host) else {
                out.add(
                    messages::UNKNOWN_DESTINATION_RULE_HOST,
                    r,
                    "spec.host",
                    format!(
                        "host {:?} is not defined by any Service or ServiceEntry visible here, so this rule applies \
                         to nothing; fix the host or add the service",
                        dr.host
                    ),
                );
                continue;
            };
            // A ServiceEntry's workloadSelector narrows every subset; a Service's selector is
            // not part of the subset (Istio matches subset labels against all pods).
            let base: BTreeMap<String, String> = if entry.resource.kind == Kind::ServiceEntry {
                entry.selector.clone()
            } else {
                BTreeMap::new()
            };
            for (i, subset) in dr.subsets.iter().enumerate() {
                let mut selector = base.clone();
                selector.extend(subset.labels.clone());
                let selected = snap
                    .workloads()
                    .iter()
                    .any(|w| selector_matches(&selector, w.labels));
                if !selected {
                    out.add(
                        messages::DESTINATION_RULE_SUBSET_NOT_SELECT_PODS,
                        r,
                        &format!("spec.subsets[{i}].labels"),
                        format!(
                            "subset {:?} selects no pod, so requests routed to it fail with 503 (no healthy upstream); \
                             fix its labels to match the workloads' labels",
                            subset.name
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

    fn input(host: &str, version: &str) -> String {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: d, namespace: ns}}\n\
             spec:\n  host: {host}\n  subsets: [{{name: s, labels: {{version: {version}}}}}]\n---\n\
             apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: ns}}\n\
             spec:\n  selector: {{app: web}}\n  ports: [{{name: http, port: 80}}]\n---\n\
             apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web-v1, namespace: ns}}\n\
             spec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web, version: v1}}}}\n    \
             spec: {{containers: [{{name: web, image: web}}]}}\n"
        )
    }

    #[test]
    fn reports_unknown_hosts_and_empty_subsets() {
        let a = PodNotSelectedAnalyzer;
        assert_eq!(
            run(&a, &input("web", "v2")),
            ["IST0173 DestinationRule ns/d"]
        );
        assert_eq!(
            run(&a, &input("nope", "v1")),
            ["IST0174 DestinationRule ns/d"]
        );
    }

    #[test]
    fn silent_when_a_workload_is_selected() {
        assert!(run(
            &PodNotSelectedAnalyzer,
            &input("web.ns.svc.cluster.local", "v1")
        )
        .is_empty());
    }
}
