//! The whole decision for one request or connection: normalize (400), authenticate (401),
//! authorize (403). The proxy and `verimesh authz check` both call [`Engine::decide`].

use crate::attrs::{Attributes, Connection};
use crate::authz::{Decision, PolicySet, Selected};
use crate::jwt::{AuthnResult, Jwks, JwtError, JwtPolicy};
use crate::normalize::{HttpRequest, Normalizer, RawRequest, RequestError};
use crate::scope::{PolicyScope, Workload};
use std::collections::HashMap;
use verimesh_config::mesh::{MeshConfig, NormalizationType};
use verimesh_config::security::{AuthorizationPolicy, JwtRule, RequestAuthentication};
use verimesh_config::Resource;

/// Every policy of a configuration, compiled.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    pub policies: PolicySet,
    pub path_normalization: NormalizationType,
    authn: Vec<(PolicyScope, Vec<JwtRule>)>,
    jwks: HashMap<String, Jwks>,
}

/// One AuthorizationPolicy as [`Engine::from_specs`] takes it.
#[derive(Clone, Copy, Debug)]
pub struct AuthzSpec<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// The `istio.io/dry-run` annotation's value, if any.
    pub dry_run: Option<&'a str>,
    pub spec: &'a AuthorizationPolicy,
}

/// One RequestAuthentication as [`Engine::from_specs`] takes it.
#[derive(Clone, Copy, Debug)]
pub struct AuthnSpec<'a> {
    pub namespace: &'a str,
    pub spec: &'a RequestAuthentication,
}

/// An engine narrowed to one workload: compute once per workload (or config push).
#[derive(Clone, Debug, Default)]
pub struct WorkloadPolicies {
    pub selected: Selected,
    pub jwt: JwtPolicy,
    reserved_headers: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny,
}

/// The full outcome: the verdict, the HTTP status the proxy answers (none for TCP), and
/// each stage's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub status: Option<u16>,
    /// Set when normalization refused the request (400).
    pub bad_request: Option<RequestError>,
    /// Set when a token was refused (401).
    pub bad_token: Option<JwtError>,
    pub request: Option<HttpRequest>,
    pub authn: AuthnResult,
    /// The authorization decision, when authorization ran.
    pub decision: Option<Decision>,
}

impl Engine {
    /// Compiles the AuthorizationPolicies and RequestAuthentications among `resources`.
    /// `jwks` holds key sets fetched for `jwksUri`s.
    pub fn build<'a>(
        resources: impl IntoIterator<Item = &'a Resource> + Clone,
        mesh: &MeshConfig,
        jwks: HashMap<String, Jwks>,
    ) -> Engine {
        let authn = resources.clone().into_iter().filter_map(|r| {
            r.as_request_authentication().map(|ra| AuthnSpec {
                namespace: r.namespace(),
                spec: ra,
            })
        });
        let mut engine = Engine::from_specs(std::iter::empty(), authn, mesh, jwks);
        engine.policies = PolicySet::build(resources, mesh);
        engine
    }

    /// The same engine from typed specs rather than loaded resources: what a proxy has, its
    /// compiled config carrying the policies that apply to it.
    pub fn from_specs<'a>(
        authz: impl IntoIterator<Item = AuthzSpec<'a>>,
        authn: impl IntoIterator<Item = AuthnSpec<'a>>,
        mesh: &MeshConfig,
        jwks: HashMap<String, Jwks>,
    ) -> Engine {
        let mut authn: Vec<(PolicyScope, Vec<JwtRule>)> = authn
            .into_iter()
            .map(|a| {
                let ra = a.spec;
                let scope = PolicyScope::new(
                    a.namespace,
                    ra.selector.as_ref(),
                    ra.target_ref.as_ref(),
                    &ra.target_refs,
                );
                (scope, ra.jwt_rules.clone())
            })
            .collect();
        authn.sort_by(|a, b| a.0.namespace.cmp(&b.0.namespace));
        let mut authz: Vec<AuthzSpec<'a>> = authz.into_iter().collect();
        authz.sort_by(|a, b| (a.namespace, a.name).cmp(&(b.namespace, b.name)));
        let mut policies = PolicySet::build(std::iter::empty(), mesh);
        for p in authz {
            policies.push(p.namespace, p.name, p.dry_run, p.spec, mesh);
        }
        Engine {
            policies,
            path_normalization: mesh.path_normalization(),
            authn,
            jwks,
        }
    }

    /// The `jwksUri`s of every jwtRule without inline keys: what the caller must fetch.
    pub fn jwks_uris(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .authn
            .iter()
            .flat_map(|(_, rules)| rules)
            .filter(|r| r.jwks.as_deref().is_none_or(str::is_empty))
            .filter_map(|r| r.jwks_uri.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Replaces the fetched key sets (a JWKS refresh); call `for_workload` again after.
    pub fn set_jwks(&mut self, jwks: HashMap<String, Jwks>) {
        self.jwks = jwks;
    }

    pub fn for_workload(&self, w: &Workload) -> WorkloadPolicies {
        let root = self.policies.root_namespace();
        let rules = self
            .authn
            .iter()
            .filter(|(scope, _)| scope.applies_to(w, root))
            .flat_map(|(_, rules)| rules.iter());
        let jwt = JwtPolicy::new(rules, &self.jwks);
        let reserved_headers = jwt.output_headers();
        WorkloadPolicies {
            selected: self.policies.select(w),
            jwt,
            reserved_headers,
        }
    }

    /// Decides a request (`Some`) or a TCP connection (`None`) at `now` (Unix seconds),
    /// with the reasons other rules did not match.
    pub fn decide(
        &self,
        wp: &WorkloadPolicies,
        conn: &Connection,
        raw: Option<&RawRequest>,
        now: u64,
    ) -> Outcome {
        self.decide_with(wp, conn, raw, now, true)
    }

    /// The same outcome without the misses: the proxy's hot path.
    pub fn decide_quiet(
        &self,
        wp: &WorkloadPolicies,
        conn: &Connection,
        raw: Option<&RawRequest>,
        now: u64,
    ) -> Outcome {
        self.decide_with(wp, conn, raw, now, false)
    }

    fn evaluate(&self, sel: &Selected, a: &Attributes<'_>, explain: bool) -> Decision {
        if explain {
            self.policies.evaluate(sel, a)
        } else {
            self.policies.evaluate_quiet(sel, a)
        }
    }

    fn decide_with(
        &self,
        wp: &WorkloadPolicies,
        conn: &Connection,
        raw: Option<&RawRequest>,
        now: u64,
        explain: bool,
    ) -> Outcome {
        let mut out = Outcome {
            verdict: Verdict::Deny,
            status: None,
            bad_request: None,
            bad_token: None,
            request: None,
            authn: AuthnResult::default(),
            decision: None,
        };
        let Some(raw) = raw else {
            let d = self.evaluate(
                &wp.selected,
                &Attributes {
                    conn,
                    http: None,
                    auth: None,
                },
                explain,
            );
            out.verdict = if d.allowed {
                Verdict::Allow
            } else {
                Verdict::Deny
            };
            out.decision = Some(d);
            return out;
        };
        let normalizer = Normalizer {
            mode: self.path_normalization,
            reserved_headers: &wp.reserved_headers,
        };
        let req = match normalizer.normalize(raw) {
            Ok(r) => r,
            Err(e) => {
                out.status = Some(400);
                out.bad_request = Some(e);
                return out;
            }
        };
        match wp.jwt.authenticate(&req, now) {
            Ok(a) => out.authn = a,
            Err(e) => {
                out.status = Some(401);
                out.bad_token = Some(e);
                out.request = Some(req);
                return out;
            }
        }
        let attrs = Attributes {
            conn,
            http: Some(&req),
            auth: out.authn.auth.as_ref(),
        };
        let d = self.evaluate(&wp.selected, &attrs, explain);
        out.verdict = if d.allowed {
            Verdict::Allow
        } else {
            Verdict::Deny
        };
        out.status = Some(if d.allowed { 200 } else { 403 });
        out.decision = Some(d);
        out.request = Some(req);
        out
    }
}
