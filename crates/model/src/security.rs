//! Authentication and authorization for the workload's inbound traffic.
//!
//! The policies are carried in the decision engine's own input form (Istio's
//! AuthorizationPolicy and RequestAuthentication specs, as `verimesh_config` types), already
//! scoped by the compiler to the ones that apply to this proxy's workload. The proxy builds
//! the one engine (`verimesh_policy::Engine::from_specs`) from them, so what it enforces is
//! exactly what `verimesh authz check` explains; it never reads YAML and never scopes
//! policies itself. A compiled form was not chosen because the engine's compiled checks are
//! not plain data, and a second, serializable representation of every check would be a
//! second implementation to keep in step.

use crate::validate::invalid;
use crate::ModelError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use verimesh_config::mesh::{ExtensionProvider, NormalizationType};
use verimesh_config::security::{AuthorizationPolicy, RequestAuthentication};

pub const DEFAULT_ROOT_NAMESPACE: &str = "istio-system";
pub const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Security {
    /// The mesh root namespace: policies there apply mesh-wide.
    #[serde(default = "default_root_namespace")]
    pub root_namespace: String,
    /// The mesh trust domain, and its aliases (principals in policies written with an alias
    /// match identities of the trust domain, and the other way round).
    #[serde(default = "default_trust_domain")]
    pub trust_domain: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust_domain_aliases: Vec<String>,
    /// How request paths are normalized before routing and policy (mesh `pathNormalization`;
    /// DEFAULT is stored as BASE).
    #[serde(default = "default_normalization")]
    pub path_normalization: NormalizationType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_policies: Vec<Scoped<AuthorizationPolicy>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_authentications: Vec<Scoped<RequestAuthentication>>,
    /// The mesh's extension providers that CUSTOM policies here name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension_providers: Vec<ExtensionProvider>,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            root_namespace: default_root_namespace(),
            trust_domain: default_trust_domain(),
            trust_domain_aliases: Vec::new(),
            path_normalization: default_normalization(),
            authorization_policies: Vec::new(),
            request_authentications: Vec::new(),
            extension_providers: Vec::new(),
        }
    }
}

impl Security {
    /// Every `jwksUri` a jwtRule without inline keys names: what the proxy must fetch.
    pub fn jwks_uris(&self) -> impl Iterator<Item = &str> {
        self.request_authentications
            .iter()
            .flat_map(|r| &r.spec.jwt_rules)
            .filter(|r| r.jwks.as_deref().is_none_or(str::is_empty))
            .filter_map(|r| r.jwks_uri.as_deref())
    }
}

/// A policy resource with the namespace and name it was written in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scoped<T> {
    pub namespace: String,
    pub name: String,
    /// `istio.io/dry-run`: evaluated and logged, never enforced.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    pub spec: T,
}

fn default_root_namespace() -> String {
    DEFAULT_ROOT_NAMESPACE.to_string()
}

fn default_trust_domain() -> String {
    DEFAULT_TRUST_DOMAIN.to_string()
}

fn default_normalization() -> NormalizationType {
    NormalizationType::Base
}

impl Security {
    /// Checks what the proxy relies on: the mesh settings are set, each policy is named once
    /// and lives where a policy for this workload can (its own namespace or the root), and
    /// every `jwksUri` is an absolute http(s) URI.
    pub(crate) fn validate(&self, workload_namespace: &str) -> Result<(), ModelError> {
        if self.root_namespace.is_empty() {
            return Err(invalid(
                "security.rootNamespace".into(),
                "must not be empty",
            ));
        }
        if self.trust_domain.is_empty() {
            return Err(invalid("security.trustDomain".into(), "must not be empty"));
        }
        let authz = self
            .authorization_policies
            .iter()
            .map(|p| (&p.namespace, &p.name));
        self.check_names("security.authorizationPolicies", authz, workload_namespace)?;
        let authn = self
            .request_authentications
            .iter()
            .map(|p| (&p.namespace, &p.name));
        self.check_names("security.requestAuthentications", authn, workload_namespace)?;
        for (i, ra) in self.request_authentications.iter().enumerate() {
            for (j, rule) in ra.spec.jwt_rules.iter().enumerate() {
                let Some(uri) = rule.jwks_uri.as_deref() else {
                    continue;
                };
                if !jwks_uri_ok(uri) {
                    return Err(invalid(
                        format!("security.requestAuthentications[{i}].spec.jwtRules[{j}].jwksUri"),
                        format!("{uri:?} is not an absolute http:// or https:// URI"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_names<'a>(
        &self,
        at: &str,
        items: impl Iterator<Item = (&'a String, &'a String)>,
        workload_namespace: &str,
    ) -> Result<(), ModelError> {
        let mut seen = BTreeSet::new();
        for (i, (ns, name)) in items.enumerate() {
            if name.is_empty() || ns.is_empty() {
                return Err(invalid(
                    format!("{at}[{i}]"),
                    "namespace and name are required",
                ));
            }
            if ns != &self.root_namespace && ns != workload_namespace {
                return Err(invalid(
                    format!("{at}[{i}].namespace"),
                    format!(
                        "a policy in {ns:?} cannot apply to a workload in {workload_namespace:?}"
                    ),
                ));
            }
            if !seen.insert((ns, name)) {
                return Err(invalid(
                    format!("{at}[{i}].name"),
                    format!("{ns}/{name} listed twice"),
                ));
            }
        }
        Ok(())
    }
}

/// `http://host[:port]/...` or `https://...`, with a host and nothing that would make the
/// host ambiguous (user info).
fn jwks_uri_ok(uri: &str) -> bool {
    let Some(rest) = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !authority.is_empty() && !authority.contains('@') && !uri.bytes().any(|b| b <= b' ')
}

#[cfg(test)]
mod tests {
    use crate::*;
    use verimesh_config::security::{AuthorizationPolicy, JwtRule, RequestAuthentication};

    fn with_policies(namespaces: &[(&str, &str)], jwks_uri: &str) -> ProxyConfig {
        let mut cfg = ProxyConfig::default();
        cfg.workload.namespace = "b".into();
        for (ns, name) in namespaces {
            cfg.security.authorization_policies.push(Scoped {
                namespace: ns.to_string(),
                name: name.to_string(),
                dry_run: false,
                spec: AuthorizationPolicy::default(),
            });
        }
        cfg.security.request_authentications.push(Scoped {
            namespace: "b".into(),
            name: "jwt".into(),
            dry_run: false,
            spec: RequestAuthentication {
                jwt_rules: vec![JwtRule {
                    issuer: "https://issuer.example".into(),
                    jwks_uri: Some(jwks_uri.into()),
                    ..Default::default()
                }],
                ..Default::default()
            },
        });
        cfg
    }

    #[test]
    fn security_round_trips_and_defaults() {
        let cfg = with_policies(&[("b", "allow"), ("istio-system", "deny")], "http://k/jwks");
        cfg.validate().unwrap();
        let text = serde_json::to_string(&cfg).unwrap();
        assert_eq!(ProxyConfig::from_json(&text).unwrap(), cfg);
        assert_eq!(
            cfg.security.jwks_uris().collect::<Vec<_>>(),
            ["http://k/jwks"]
        );
        // A config written before the field existed gets Istio's defaults.
        let old = ProxyConfig::from_json(r#"{"version": "1", "workload": {"name": "w",
            "namespace": "b", "serviceAccount": "s", "identity": "spiffe://cluster.local/ns/b/sa/s"},
            "inbound": {"appAddress": "127.0.0.1"}}"#)
        .unwrap();
        assert_eq!(old.security, Security::default());
        assert_eq!(old.security.root_namespace, "istio-system");
    }

    #[test]
    fn misplaced_duplicate_and_badly_addressed_policies_are_refused() {
        let err = |cfg: ProxyConfig| cfg.validate().unwrap_err().to_string();
        let e = err(with_policies(&[("c", "allow")], "http://k/jwks"));
        assert!(e.contains("cannot apply to a workload in \"b\""), "{e}");
        let e = err(with_policies(&[("b", "x"), ("b", "x")], "http://k/jwks"));
        assert!(e.contains("b/x listed twice"), "{e}");
        for bad in [
            "file:///etc/passwd",
            "http://",
            "http://user@host/x",
            "//k/jwks",
        ] {
            let e = err(with_policies(&[], bad));
            assert!(e.contains("jwksUri"), "{bad}: {e}");
        }
        let mut cfg = with_policies(&[], "https://k/jwks");
        cfg.security.root_namespace.clear();
        assert!(err(cfg).contains("rootNamespace"));
    }
}
