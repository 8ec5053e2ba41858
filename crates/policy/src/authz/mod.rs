//! AuthorizationPolicy: the compiled policy set, scoping to a workload, and evaluation.

mod check;
mod compile;
mod eval;
mod explain;

pub(crate) use check::claim as claim_value;
pub use eval::{Decision, DryRun, Miss, MissWhy, RuleRef, Selected};

use crate::scope::{PolicyScope, Workload};
use compile::{compile_rule, CompiledRule, RuleContext};
use verimesh_config::mesh::MeshConfig;
use verimesh_config::security::{Action, AuthorizationPolicy};
use verimesh_config::Resource;

pub const DRY_RUN_ANNOTATION: &str = "istio.io/dry-run";

/// What a compiled policy does when one of its rules matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
    Audit,
    /// Delegate to the named extension provider (ext_authz).
    Custom {
        provider: String,
    },
}

/// One AuthorizationPolicy, compiled.
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    pub namespace: String,
    pub name: String,
    pub effect: Effect,
    /// Evaluated and reported, never enforced.
    pub dry_run: bool,
    /// A CUSTOM policy whose provider is missing or not an ext_authz provider: it denies
    /// what it matches, as Istio does.
    pub bad_provider: Option<String>,
    pub scope: PolicyScope,
    rules: Vec<CompiledRule>,
}

impl CompiledPolicy {
    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }
}

/// Every AuthorizationPolicy of a configuration, compiled once.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    policies: Vec<CompiledPolicy>,
    root_namespace: String,
}

/// Whether a policy whose `istio.io/dry-run` annotation has this value is dry-run (Istio's
/// boolean spellings; anything else leaves it enforced).
pub fn is_dry_run(annotation: Option<&str>) -> bool {
    annotation.and_then(parse_bool).unwrap_or(false)
}

/// Istio's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

impl PolicySet {
    /// Compiles every AuthorizationPolicy among `resources`, in namespace/name order.
    pub fn build<'a>(
        resources: impl IntoIterator<Item = &'a Resource>,
        mesh: &MeshConfig,
    ) -> PolicySet {
        let mut items: Vec<(&str, &str, Option<&str>, &AuthorizationPolicy)> = resources
            .into_iter()
            .filter_map(|r| {
                let dry = r
                    .meta
                    .annotations
                    .get(DRY_RUN_ANNOTATION)
                    .map(String::as_str);
                r.as_authorization_policy()
                    .map(|p| (r.namespace(), r.name(), dry, p))
            })
            .collect();
        items.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let mut set = PolicySet {
            policies: Vec::with_capacity(items.len()),
            root_namespace: mesh.root_namespace().to_string(),
        };
        for (ns, name, dry, p) in items {
            set.push(ns, name, dry, p, mesh);
        }
        set
    }

    /// Adds one policy. `dry_run` is the `istio.io/dry-run` annotation's value, if any; a
    /// value that is not a boolean leaves the policy enforced.
    pub fn push(
        &mut self,
        namespace: &str,
        name: &str,
        dry_run: Option<&str>,
        p: &AuthorizationPolicy,
        mesh: &MeshConfig,
    ) {
        let mut trust_domains = vec![mesh.trust_domain().to_string()];
        trust_domains.extend(mesh.trust_domain_aliases.iter().cloned());
        let cx = RuleContext {
            namespace,
            trust_domains: &trust_domains,
        };
        let mut bad_provider = None;
        let effect = match p.action() {
            Action::Allow => Effect::Allow,
            Action::Deny => Effect::Deny,
            Action::Audit => Effect::Audit,
            Action::Custom => {
                let provider = p
                    .provider
                    .as_ref()
                    .map(|x| x.name.clone())
                    .unwrap_or_default();
                match mesh.extension_provider(&provider) {
                    Some(ep) if ep.is_ext_authz() => {}
                    Some(_) => {
                        bad_provider = Some(format!(
                            "provider {provider:?} is not an ext_authz provider"
                        ))
                    }
                    None => {
                        bad_provider = Some(format!(
                        "provider {provider:?} is not among the mesh config's extensionProviders"
                    ))
                    }
                }
                Effect::Custom { provider }
            }
        };
        self.policies.push(CompiledPolicy {
            namespace: namespace.to_string(),
            name: name.to_string(),
            effect,
            dry_run: dry_run.and_then(parse_bool).unwrap_or(false),
            bad_provider,
            scope: PolicyScope::new(
                namespace,
                p.selector.as_ref(),
                p.target_ref.as_ref(),
                &p.target_refs,
            ),
            rules: p.rules.iter().map(|r| compile_rule(r, &cx)).collect(),
        });
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn policy(&self, index: usize) -> Option<&CompiledPolicy> {
        self.policies.get(index)
    }

    pub fn root_namespace(&self) -> &str {
        &self.root_namespace
    }

    /// The policies that apply to a workload, grouped by action; compute once per workload.
    pub fn select(&self, w: &Workload) -> Selected {
        let mut s = Selected::default();
        for (i, p) in self.policies.iter().enumerate() {
            if !p.scope.applies_to(w, &self.root_namespace) {
                continue;
            }
            let i = i as u32;
            let list = match (&p.effect, p.dry_run) {
                (_, true) => &mut s.dry_run,
                (Effect::Custom { .. }, false) => &mut s.custom,
                (Effect::Deny, false) => &mut s.deny,
                (Effect::Allow, false) => &mut s.allow,
                (Effect::Audit, false) => &mut s.audit,
            };
            list.push(i);
        }
        s
    }
}
