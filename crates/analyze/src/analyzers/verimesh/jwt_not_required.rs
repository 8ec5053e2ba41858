//! VM0006: a RequestAuthentication with no AuthorizationPolicy requiring a token. A
//! RequestAuthentication only rejects *invalid* tokens; a request with no token at all passes
//! unless an AuthorizationPolicy demands a request principal — a classic false sense of safety.

use super::scope::policy_workloads;
use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use crate::workloads::Workload;
use verimesh_config::security::{Action, AuthorizationPolicy};
use verimesh_config::{Kind, Resource};

pub struct JwtNotRequired;

/// Every rule demands a request principal, so tokenless requests match none of them.
fn allow_requires_token(ap: &AuthorizationPolicy) -> bool {
    ap.rules.iter().all(|rule| {
        !rule.from.is_empty()
            && rule.from.iter().all(|f| {
                f.source
                    .as_ref()
                    .is_some_and(|s| !s.request_principals.is_empty())
            })
    })
}

/// Some rule denies requests without a request principal.
fn deny_requires_token(ap: &AuthorizationPolicy) -> bool {
    ap.rules.iter().any(|rule| {
        rule.from.iter().any(|f| {
            f.source
                .as_ref()
                .is_some_and(|s| s.not_request_principals.iter().any(|p| p == "*"))
        })
    })
}

fn token_required(snap: &Snapshot<'_>, w: &Workload<'_>) -> bool {
    let mut allows = Vec::new();
    let candidates = snap
        .in_namespace(Kind::AuthorizationPolicy, &w.namespace)
        .iter()
        .chain(snap.in_namespace(Kind::AuthorizationPolicy, snap.mesh.root_namespace()));
    for r in candidates {
        let Some(ap) = r.as_authorization_policy() else {
            continue;
        };
        let applies = policy_workloads(snap, r)
            .iter()
            .any(|x| std::ptr::eq(x.resource, w.resource));
        if !applies {
            continue;
        }
        match ap.action() {
            Action::Deny if deny_requires_token(ap) => return true,
            Action::Allow => allows.push(ap),
            _ => {}
        }
    }
    !allows.is_empty() && allows.iter().all(|ap| allow_requires_token(ap))
}

impl Analyzer for JwtNotRequired {
    fn name(&self) -> &'static str {
        "verimesh.JwtNotRequiredAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for r in snap.of_kind(Kind::RequestAuthentication) {
            let workloads = policy_workloads(snap, r);
            let open: Vec<&str> = workloads
                .iter()
                .filter(|w| !token_required(snap, w))
                .map(|w| w.resource.name())
                .collect();
            if !open.is_empty() {
                report(r, &open, out);
            }
        }
    }
}

fn report(r: &Resource, open: &[&str], out: &mut Report) {
    out.add(
        messages::JWT_NOT_REQUIRED,
        r,
        "spec.jwtRules",
        format!(
            "requests without a token are still accepted by {}: a RequestAuthentication only rejects invalid tokens; add an AuthorizationPolicy that requires requestPrincipals (e.g. ALLOW with from.source.requestPrincipals: [\"*\"])",
            open.join(", ")
        ),
    );
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testutil::run;

    const BASE: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: a}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api, sidecar.istio.io/inject: 'true'}}
    spec: {containers: [{name: api, image: x}]}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: a}
spec:
  selector: {matchLabels: {app: api}}
  jwtRules: [{issuer: "https://issuer.example.com", jwksUri: "https://issuer.example.com/jwks"}]
"#;

    fn with(policy: &str) -> Vec<String> {
        run(&super::JwtNotRequired, &format!("{BASE}{policy}"))
    }

    #[test]
    fn missing_requirement_is_reported() {
        assert_eq!(with(""), ["VM0006 RequestAuthentication a/jwt"]);
        let partial = "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  rules:\n  - from: [{source: {requestPrincipals: ['*']}}]\n  - to: [{operation: {paths: ['/public']}}]\n";
        assert_eq!(with(partial), ["VM0006 RequestAuthentication a/jwt"]);
    }

    #[test]
    fn allow_or_deny_requirements_satisfy_it() {
        let allow = "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  selector: {matchLabels: {app: api}}\n  rules: [{from: [{source: {requestPrincipals: ['*']}}]}]\n";
        assert!(with(allow).is_empty());
        let deny = "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: istio-system}\nspec:\n  action: DENY\n  rules: [{from: [{source: {notRequestPrincipals: ['*']}}]}]\n";
        assert!(with(deny).is_empty());
    }

    #[test]
    fn policies_attached_by_target_ref_do_not_protect_sidecars() {
        // Same attachment rules as the decision engine: a targetRef policy is for a gateway.
        let gateway_only = "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: edge}\n  rules: [{from: [{source: {requestPrincipals: ['*']}}]}]\n";
        assert_eq!(with(gateway_only), ["VM0006 RequestAuthentication a/jwt"]);
    }
}
