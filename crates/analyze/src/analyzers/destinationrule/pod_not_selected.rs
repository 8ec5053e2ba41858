//! `destinationrule.PodNotSelectedAnalyzer`: a DestinationRule's host must be a known service,
//! and each subset must select at least one workload; a subset without endpoints makes every
//! request routed to it fail with 503 (no healthy upstream).
//!
//! Subsets are matched against workload labels as istiod sees them on endpoints: the pod's own
//! labels plus the topology labels of its node (region, zone and subzone from the Node's
//! labels, `kubernetes.io/hostname` from `nodeName`). Analysis knows no cluster or network, so
//! it adds neither.

use crate::analyzers::Analyzer;
use crate::hosts::selector_matches;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use crate::topology;
use std::collections::{BTreeMap, HashMap};
use verimesh_config::Kind;

pub struct PodNotSelectedAnalyzer;

impl Analyzer for PodNotSelectedAnalyzer {
    fn name(&self) -> &'static str {
        "destinationrule.PodNotSelectedAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let mut node_labels = HashMap::new();
        for n in snap.of_kind(Kind::Node) {
            node_labels.insert(n.name(), &n.meta.labels);
        }
        let workload_labels: Vec<BTreeMap<String, String>> = snap
            .workloads()
            .iter()
            .map(|w| {
                let node = w.spec.node_name.as_deref().unwrap_or("");
                let locality = node_labels
                    .get(node)
                    .map(|l| topology::node_locality(l))
                    .unwrap_or_default();
                topology::augment_labels(w.labels, "", &locality, node, "")
            })
            .collect();
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
                let selected = workload_labels
                    .iter()
                    .any(|labels| selector_matches(&selector, labels));
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
    fn subsets_select_by_node_topology() {
        let input = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d, namespace: ns}
spec:
  host: web
  subsets:
  - {name: region, labels: {topology.kubernetes.io/region: r1}}
  - {name: zone, labels: {topology.kubernetes.io/zone: z1, app: web}}
  - {name: host, labels: {kubernetes.io/hostname: n1}}
  - {name: subzone, labels: {topology.istio.io/subzone: s1}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: ns, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: web, image: web}]}
---
apiVersion: v1
kind: Node
metadata:
  name: n1
  labels:
    topology.kubernetes.io/region: r1
    topology.kubernetes.io/zone: z1
"#;
        // Region, zone and hostname come from the node; the node has no subzone.
        assert_eq!(
            run(&PodNotSelectedAnalyzer, input),
            ["IST0173 DestinationRule ns/d"]
        );
        let with_subzone = format!("{input}    topology.istio.io/subzone: s1\n");
        assert!(run(&PodNotSelectedAnalyzer, &with_subzone).is_empty());
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
