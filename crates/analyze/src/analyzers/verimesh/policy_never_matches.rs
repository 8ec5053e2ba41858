//! VM0005: AuthorizationPolicy values that can never match a request, so the rule silently
//! does nothing (an ALLOW then denies what it meant to allow; a DENY protects nothing).

use super::peer_mode::peer_mode;
use super::scope::{policy_workloads, services_of, target_port};
use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::protocol::Protocol;
use verimesh_config::security::{Action, AuthorizationPolicy, MtlsMode, Rule};
use verimesh_config::{Kind, Resource};

pub struct PolicyNeverMatches;

impl Analyzer for PolicyNeverMatches {
    fn name(&self) -> &'static str {
        "verimesh.PolicyNeverMatchesAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for r in snap.of_kind(Kind::AuthorizationPolicy) {
            let Some(ap) = r.as_authorization_policy() else {
                continue;
            };
            check_values(r, ap, out);
            check_against_workloads(snap, r, ap, out);
        }
    }
}

/// Values whose form can never equal what the proxy compares them with.
fn check_values(r: &Resource, ap: &AuthorizationPolicy, out: &mut Report) {
    for (i, rule) in ap.rules.iter().enumerate() {
        for (j, from) in rule.from.iter().enumerate() {
            let Some(src) = &from.source else { continue };
            for (field, list) in [
                ("principals", &src.principals),
                ("notPrincipals", &src.not_principals),
            ] {
                for (k, p) in list.iter().enumerate() {
                    if p.starts_with("spiffe://") {
                        out.add(
                            messages::POLICY_NEVER_MATCHES,
                            r,
                            &format!("spec.rules[{i}].from[{j}].source.{field}[{k}]"),
                            format!(
                                "principal {p:?} never matches: principals are written without the spiffe:// scheme, e.g. {:?}",
                                p.trim_start_matches("spiffe://")
                            ),
                        );
                    }
                }
            }
            for (field, list) in [
                ("requestPrincipals", &src.request_principals),
                ("notRequestPrincipals", &src.not_request_principals),
            ] {
                for (k, p) in list.iter().enumerate() {
                    if !p.contains('/') && !p.contains('*') {
                        out.add(
                            messages::POLICY_NEVER_MATCHES,
                            r,
                            &format!("spec.rules[{i}].from[{j}].source.{field}[{k}]"),
                            format!(
                                "request principal {p:?} never matches: a request principal is <issuer>/<subject> of a validated JWT"
                            ),
                        );
                    }
                }
            }
        }
        for (j, to) in rule.to.iter().enumerate() {
            let Some(op) = &to.operation else { continue };
            for (field, list) in [("paths", &op.paths), ("notPaths", &op.not_paths)] {
                for (k, p) in list.iter().enumerate() {
                    if !p.starts_with('/') && !p.starts_with('*') {
                        out.add(
                            messages::POLICY_NEVER_MATCHES,
                            r,
                            &format!("spec.rules[{i}].to[{j}].operation.{field}[{k}]"),
                            format!(
                                "path {p:?} never matches: request paths always start with '/'"
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// Whether a rule tests something only HTTP requests have.
fn uses_http_only_fields(rule: &Rule) -> bool {
    let from = rule
        .from
        .iter()
        .filter_map(|f| f.source.as_ref())
        .any(|s| !s.request_principals.is_empty() || !s.not_request_principals.is_empty());
    let to = rule
        .to
        .iter()
        .filter_map(|t| t.operation.as_ref())
        .any(|o| {
            !(o.hosts.is_empty()
                && o.not_hosts.is_empty()
                && o.methods.is_empty()
                && o.not_methods.is_empty()
                && o.paths.is_empty()
                && o.not_paths.is_empty())
        });
    let when = rule.when.iter().any(|c| c.key.starts_with("request."));
    from || to || when
}

fn uses_peer_identity(rule: &Rule) -> bool {
    rule.from.iter().filter_map(|f| f.source.as_ref()).any(|s| {
        !s.principals.is_empty()
            || !s.not_principals.is_empty()
            || !s.namespaces.is_empty()
            || !s.not_namespaces.is_empty()
            || !s.service_accounts.is_empty()
            || !s.not_service_accounts.is_empty()
    }) || rule.when.iter().any(|c| {
        matches!(
            c.key.as_str(),
            "source.principal" | "source.namespace" | "source.serviceAccount"
        )
    })
}

/// Rules that the selected workloads' ports or mTLS settings make unmatchable.
fn check_against_workloads(
    snap: &Snapshot<'_>,
    r: &Resource,
    ap: &AuthorizationPolicy,
    out: &mut Report,
) {
    if ap.action() != Action::Allow {
        return;
    }
    let workloads = policy_workloads(snap, r);
    if workloads.is_empty() {
        return;
    }
    // (protocol, workload port) of every service port that reaches a selected workload.
    let mut ports: Vec<(Protocol, u32, &str)> = Vec::new();
    for w in &workloads {
        for s in services_of(snap, w) {
            let Some(svc) = s.as_service() else { continue };
            for p in &svc.spec.ports {
                let name = p.name.clone().unwrap_or_default();
                let udp = p.protocol.as_ref().is_some_and(|x| x.as_str() == "UDP");
                let proto =
                    Protocol::of_service_port(p.port, &name, udp, p.app_protocol.as_deref());
                if let Some(tp) = target_port(w, p.port, p.target_port.as_ref()) {
                    ports.push((proto, tp, w.resource.name()));
                }
            }
        }
    }
    for (i, rule) in ap.rules.iter().enumerate() {
        let at = format!("spec.rules[{i}]");
        let all_tcp = !ports.is_empty() && ports.iter().all(|(p, _, _)| p.is_tcp());
        if all_tcp && uses_http_only_fields(rule) {
            out.add(
                messages::POLICY_NEVER_MATCHES,
                r,
                &at,
                "this ALLOW rule uses HTTP-only attributes (methods, paths, hosts, request principals or request.* conditions), but every port of the selected workloads is TCP: the rule never matches and their traffic is denied".to_string(),
            );
        }
        if uses_peer_identity(rule) {
            let plaintext_only = workloads.iter().all(|w| {
                let tps: Vec<u32> = ports
                    .iter()
                    .filter(|(_, _, n)| *n == w.resource.name())
                    .map(|(_, p, _)| *p)
                    .collect();
                !tps.is_empty()
                    && tps
                        .iter()
                        .all(|p| peer_mode(snap, w, *p).mode == MtlsMode::Disable)
            });
            if plaintext_only {
                out.add(
                    messages::POLICY_NEVER_MATCHES,
                    r,
                    &at,
                    "this rule tests the caller's identity (principals, namespaces or service accounts), but mutual TLS is DISABLEd for every selected workload, so callers have no identity and the rule never matches".to_string(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testutil::run;

    const APP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: a}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db, sidecar.istio.io/inject: 'true'}}
    spec: {containers: [{name: db, image: x}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: a}
spec:
  selector: {app: db}
  ports: [{name: PORTNAME, port: 5432}]
"#;

    fn policy(rules: &str, port_name: &str, extra: &str) -> Vec<String> {
        let yaml = format!(
            "{}---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: p, namespace: a}}\nspec:\n  selector: {{matchLabels: {{app: db}}}}\n  rules: {rules}\n{extra}",
            APP.replace("PORTNAME", port_name)
        );
        run(&super::PolicyNeverMatches, &yaml)
    }

    #[test]
    fn malformed_values_never_match() {
        let msgs = policy(
            r#"[{from: [{source: {principals: ["spiffe://cluster.local/ns/a/sa/x"], requestPrincipals: ["alice"]}}], to: [{operation: {paths: ["api/v1"]}}]}]"#,
            "http",
            "",
        );
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(policy(
            r#"[{from: [{source: {principals: ["cluster.local/ns/a/sa/x"], requestPrincipals: ["iss/sub", "*"]}}], to: [{operation: {paths: ["/api/*", "*.js"]}}]}]"#,
            "http",
            ""
        )
        .is_empty());
    }

    #[test]
    fn http_fields_on_tcp_workloads_never_match() {
        let rules = r#"[{to: [{operation: {methods: ["GET"]}}]}]"#;
        assert_eq!(
            policy(rules, "tcp-postgres", ""),
            ["VM0005 AuthorizationPolicy a/p"]
        );
        assert!(policy(rules, "http", "").is_empty());
        assert!(policy(
            r#"[{to: [{operation: {ports: ["5432"]}}]}]"#,
            "tcp-postgres",
            ""
        )
        .is_empty());
    }

    #[test]
    fn identities_without_mtls_never_match() {
        let rules = r#"[{from: [{source: {namespaces: ["b"]}}]}]"#;
        let off = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: off, namespace: a}\nspec: {mtls: {mode: DISABLE}}\n";
        assert_eq!(
            policy(rules, "http", off),
            ["VM0005 AuthorizationPolicy a/p"]
        );
        assert!(policy(rules, "http", "").is_empty());
    }
}
