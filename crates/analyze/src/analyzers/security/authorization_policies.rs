//! IST0127: AuthorizationPolicies that select no workload in the mesh (so they protect
//! nothing), and IST0101: source namespaces that match no namespace.

use crate::analyzers::Analyzer;
use crate::hosts::{selector_matches, selector_string};
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::BTreeMap;
use verimesh_config::Kind;

pub struct AuthorizationPolicies;

/// Istio's namespace patterns: `*`, `*suffix`, `prefix*`, or an exact name (case-insensitive).
pub(crate) fn namespace_matches(ns: &str, pattern: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return ns.ends_with(suffix);
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return ns.starts_with(prefix);
    }
    ns.eq_ignore_ascii_case(pattern)
}

impl Analyzer for AuthorizationPolicies {
    fn name(&self) -> &'static str {
        "authz.AuthorizationPoliciesAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        // Label sets of the workloads in the mesh, by namespace.
        let mut mesh_labels: BTreeMap<&str, Vec<&BTreeMap<String, String>>> = BTreeMap::new();
        for w in snap.workloads() {
            if snap.in_mesh(w) || w.in_ambient() {
                mesh_labels
                    .entry(w.namespace.as_str())
                    .or_default()
                    .push(w.labels);
            }
        }
        let root = snap.mesh.root_namespace();
        for r in snap.of_kind(Kind::AuthorizationPolicy) {
            let Some(ap) = r.as_authorization_policy() else {
                continue;
            };
            let ns = snap.ns(r);
            let selector = ap.selector.as_ref().map(|s| &s.match_labels);
            let matches_in = |labels: &[&BTreeMap<String, String>],
                              sel: &BTreeMap<String, String>| {
                labels.iter().any(|l| selector_matches(sel, l))
            };
            let no_workload = if ns == root {
                match selector {
                    Some(sel) => !mesh_labels.values().any(|ls| matches_in(ls, sel)),
                    None => false,
                }
            } else {
                let here = mesh_labels.get(ns).map_or(&[][..], Vec::as_slice);
                match selector {
                    Some(sel) => !matches_in(here, sel),
                    None => here.is_empty(),
                }
            };
            if no_workload {
                let sel = selector.map(selector_string).unwrap_or_default();
                let text = if sel.is_empty() {
                    format!("no workload in the mesh runs in namespace {ns:?}, so this policy applies to nothing")
                } else {
                    format!("no workload in the mesh matches the selector {sel:?}, so this policy applies to nothing")
                };
                out.add(
                    messages::NO_MATCHING_WORKLOADS_FOUND,
                    r,
                    "spec.selector",
                    text,
                );
            }

            let namespaces: Vec<&str> = snap
                .of_kind(Kind::Namespace)
                .iter()
                .map(|n| n.name())
                .collect();
            for (i, rule) in ap.rules.iter().enumerate() {
                for (j, from) in rule.from.iter().enumerate() {
                    let Some(src) = &from.source else { continue };
                    let lists = [
                        ("namespaces", &src.namespaces),
                        ("notNamespaces", &src.not_namespaces),
                    ];
                    for (field, list) in lists {
                        for (k, pattern) in list.iter().enumerate() {
                            if !namespaces.iter().any(|n| namespace_matches(n, pattern)) {
                                out.add(
                                    messages::REFERENCED_RESOURCE_NOT_FOUND,
                                    r,
                                    &format!("spec.rules[{i}].from[{j}].source.{field}[{k}]"),
                                    format!("source namespace {pattern:?} matches no namespace"),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::namespace_matches;
    use crate::analyzers::test_support::run;

    #[test]
    fn patterns() {
        assert!(namespace_matches("prod-a", "prod-*"));
        assert!(namespace_matches("a-test", "*-test"));
        assert!(namespace_matches("Foo", "foo"));
        assert!(!namespace_matches("foo", "bar*"));
    }

    const BASE: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {istio-injection: enabled}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: x}]}
"#;

    #[test]
    fn policies_without_workloads_and_unknown_namespaces() {
        let yaml = format!(
            r#"{BASE}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: ok, namespace: a}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  rules: [{{from: [{{source: {{namespaces: ["a", "*"]}}}}]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: nothing, namespace: a}}
spec:
  selector: {{matchLabels: {{app: gone}}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: empty-ns, namespace: b}}
spec: {{}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: bogus, namespace: a}}
spec:
  rules: [{{from: [{{source: {{notNamespaces: ["zzz-*"]}}}}]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: mesh-wide, namespace: istio-system}}
spec: {{}}
"#
        );
        let msgs = run(&super::AuthorizationPolicies, &yaml);
        assert_eq!(
            msgs,
            [
                "IST0101 AuthorizationPolicy a/bogus",
                "IST0127 AuthorizationPolicy a/nothing",
                "IST0127 AuthorizationPolicy b/empty-ns",
            ]
        );
    }
}
