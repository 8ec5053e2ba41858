//! `virtualservice.DestinationRuleAnalyzer`: a destination that names a subset needs a
//! DestinationRule for that host defining the subset; otherwise Envoy has no such cluster and
//! the route answers 503.

use super::{mirror_destinations, route_destinations};
use crate::analyzers::Analyzer;
use crate::hosts::resource_name_of_host;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::BTreeSet;
use verimesh_config::Kind;

pub struct DestinationRuleAnalyzer;

impl Analyzer for DestinationRuleAnalyzer {
    fn name(&self) -> &'static str {
        "virtualservice.DestinationRuleAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        // (namespace, service name, subset) for every subset of every DestinationRule.
        let mut subsets: BTreeSet<(String, String, &str)> = BTreeSet::new();
        for r in snap.of_kind(Kind::DestinationRule) {
            let Some(dr) = r.as_destination_rule() else {
                continue;
            };
            let (ns, name) = resource_name_of_host(snap.ns(r), &dr.host);
            for s in &dr.subsets {
                subsets.insert((ns.clone(), name.clone(), s.name.as_str()));
            }
        }
        for r in snap.of_kind(Kind::VirtualService) {
            let Some(vs) = r.as_virtual_service() else {
                continue;
            };
            let vs_ns = snap.ns(r);
            for (what, dests) in [
                ("destination", route_destinations(vs)),
                ("mirror", mirror_destinations(vs)),
            ] {
                for d in dests {
                    let Some(subset) = d.destination.subset.as_deref().filter(|s| !s.is_empty())
                    else {
                        continue;
                    };
                    let host = &d.destination.host;
                    let (ns, name) = resource_name_of_host(vs_ns, host);
                    if !subsets.contains(&(ns.clone(), name.clone(), subset)) {
                        out.add(
                            messages::REFERENCED_RESOURCE_NOT_FOUND,
                            r,
                            &d.host_path,
                            format!(
                                "{what} {host:?} names subset {subset:?}, but no DestinationRule for {name}.{ns} defines it; \
                                 requests to it would fail with 503. Add the subset to the host's DestinationRule or fix the name"
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
    use super::*;
    use crate::analyzers::testutil::run;

    fn input(subset: &str) -> String {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: d, namespace: default}}\n\
             spec:\n  host: reviews.default.svc.cluster.local\n  subsets: [{{name: v1, labels: {{version: v1}}}}]\n---\n\
             apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: r, namespace: default}}\n\
             spec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {{host: reviews, subset: {subset}}}\n    \
             mirror: {{host: reviews, subset: {subset}}}\n"
        )
    }

    #[test]
    fn reports_unknown_subsets_of_routes_and_mirrors() {
        assert_eq!(
            run(&DestinationRuleAnalyzer, &input("v2")),
            [
                "IST0101 VirtualService default/r",
                "IST0101 VirtualService default/r"
            ]
        );
    }

    #[test]
    fn silent_when_subset_is_defined() {
        assert!(run(&DestinationRuleAnalyzer, &input("v1")).is_empty());
    }
}
