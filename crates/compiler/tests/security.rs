//! The proxy's `security` section: exactly the AuthorizationPolicies and
//! RequestAuthentications Istio attaches to the workload (own namespace, root namespace,
//! selectors; never other namespaces, never targetRef policies on sidecars), dry-run marked,
//! the extension providers CUSTOM policies name, and the mesh settings the engine needs.

mod common;

use common::apps::*;

const POLICIES: &str = r#"
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-deny, namespace: istio-system}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: [/admin]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ns-allow, namespace: a}
spec:
  rules: [{from: [{source: {principals: [cluster.local/ns/a/sa/client]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: v2-only, namespace: a, annotations: {istio.io/dry-run: "true"}}
spec:
  selector: {matchLabels: {version: v2}}
  action: DENY
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-ns, namespace: b}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: gateway-only, namespace: a}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge}]
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext, namespace: a}
spec:
  selector: {matchLabels: {app: reviews}}
  action: CUSTOM
  provider: {name: opa}
  rules: [{to: [{operation: {paths: [/ext/*]}}]}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: a}
spec:
  selector: {matchLabels: {app: reviews}}
  jwtRules: [{issuer: https://issuer.example, jwksUri: http://keys.example/jwks}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    trustDomainAliases: [old.example]
    pathNormalization: {normalization: MERGE_SLASHES}
    extensionProviders:
    - name: opa
      envoyExtAuthzHttp: {service: opa.a.svc.cluster.local, port: 8181}
    - name: unused
      envoyExtAuthzHttp: {service: x.a.svc.cluster.local, port: 1}
"#;

fn names<T>(list: &[verimesh_model::Scoped<T>]) -> Vec<String> {
    list.iter()
        .map(|p| {
            format!(
                "{}/{}{}",
                p.namespace,
                p.name,
                if p.dry_run { " (dry-run)" } else { "" }
            )
        })
        .collect()
}

#[test]
fn policies_are_scoped_to_the_workload() {
    let v2 = compile(POLICIES, "a", "reviews-v2-0");
    assert_eq!(
        names(&v2.security.authorization_policies),
        [
            "a/ext",
            "a/ns-allow",
            "a/v2-only (dry-run)",
            "istio-system/mesh-deny"
        ]
    );
    assert_eq!(names(&v2.security.request_authentications), ["a/jwt"]);
    assert_eq!(
        v2.security
            .extension_providers
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["opa"]
    );
    let v1 = compile(POLICIES, "a", "reviews-v1-0");
    assert_eq!(
        names(&v1.security.authorization_policies),
        ["a/ext", "a/ns-allow", "istio-system/mesh-deny"]
    );
    let client = compile(POLICIES, "a", "client-0");
    assert_eq!(
        names(&client.security.authorization_policies),
        ["a/ns-allow", "istio-system/mesh-deny"]
    );
    assert!(client.security.request_authentications.is_empty());
    assert!(client.security.extension_providers.is_empty());
    let ratings = compile(POLICIES, "b", "ratings-0");
    assert_eq!(
        names(&ratings.security.authorization_policies),
        ["b/other-ns", "istio-system/mesh-deny"]
    );
}

#[test]
fn mesh_settings_reach_the_proxy_and_change_the_version() {
    let with = compile(POLICIES, "a", "client-0");
    assert_eq!(with.security.root_namespace, "istio-system");
    assert_eq!(with.security.trust_domain, "cluster.local");
    assert_eq!(with.security.trust_domain_aliases, ["old.example"]);
    assert_eq!(
        with.security.path_normalization,
        verimesh_config::mesh::NormalizationType::MergeSlashes
    );
    let without = compile("", "a", "client-0");
    assert!(without.security.authorization_policies.is_empty());
    assert_ne!(
        with.version, without.version,
        "policies are part of the version"
    );
    with.validate().expect("valid");
}
