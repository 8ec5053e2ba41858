//! The proxy's `security` section: the AuthorizationPolicies and RequestAuthentications that
//! apply to its workload, chosen by the policy crate's attachment rules
//! (`verimesh_policy::scope`, the same code `verimesh authz check` uses), with the mesh
//! settings the decision engine needs (root namespace, trust domain and aliases, path
//! normalization) and the extension providers CUSTOM policies name.

use crate::compiler::Compiler;
use crate::index::Scoped;
use crate::placement::Instance;
use verimesh_config::security::{
    AuthorizationPolicy, PolicyTargetReference, RequestAuthentication, WorkloadSelector,
};
use verimesh_config::Resource;
use verimesh_model::{Scoped as ModelScoped, Security};
use verimesh_policy::authz::{is_dry_run, DRY_RUN_ANNOTATION};
use verimesh_policy::scope::{PolicyScope, Workload};

/// A security policy with its attachment resolved once per snapshot.
pub(crate) struct Attached<'a, T> {
    pub scoped: Scoped<'a, T>,
    pub scope: PolicyScope,
    pub dry_run: bool,
}

pub(crate) fn dry_run_of(r: &Resource) -> bool {
    is_dry_run(
        r.meta
            .annotations
            .get(DRY_RUN_ANNOTATION)
            .map(String::as_str),
    )
}

/// A policy with its attachment (selector or targetRefs) resolved once.
fn attach<'a, T>(
    scoped: Scoped<'a, T>,
    selector: Option<&WorkloadSelector>,
    target_ref: Option<&PolicyTargetReference>,
    target_refs: &[PolicyTargetReference],
    dry_run: bool,
) -> Attached<'a, T> {
    let scope = PolicyScope::new(&scoped.namespace, selector, target_ref, target_refs);
    Attached {
        scoped,
        scope,
        dry_run,
    }
}

pub(crate) fn attach_authz<'a>(
    scoped: Scoped<'a, AuthorizationPolicy>,
    dry_run: bool,
) -> Attached<'a, AuthorizationPolicy> {
    let p = scoped.spec;
    attach(
        scoped,
        p.selector.as_ref(),
        p.target_ref.as_ref(),
        &p.target_refs,
        dry_run,
    )
}

pub(crate) fn attach_authn<'a>(
    scoped: Scoped<'a, RequestAuthentication>,
) -> Attached<'a, RequestAuthentication> {
    let p = scoped.spec;
    attach(
        scoped,
        p.selector.as_ref(),
        p.target_ref.as_ref(),
        &p.target_refs,
        false,
    )
}

fn pick<T: Clone>(items: &[Attached<'_, T>], w: &Workload, root: &str) -> Vec<ModelScoped<T>> {
    let mut out: Vec<ModelScoped<T>> = items
        .iter()
        .filter(|a| a.scope.applies_to(w, root))
        .map(|a| ModelScoped {
            namespace: a.scoped.namespace.clone(),
            name: a.scoped.name.clone(),
            dry_run: a.dry_run,
            spec: a.scoped.spec.clone(),
        })
        .collect();
    // Versions are content hashes: a stable order keeps unchanged configs unchanged.
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out.dedup_by(|a, b| a.namespace == b.namespace && a.name == b.name);
    out
}

impl Compiler<'_> {
    /// The security section of one sidecar's config.
    pub(crate) fn security(&self, inst: &Instance) -> Security {
        let mesh = &self.ix.mesh;
        let root = self.ix.root_ns.as_str();
        let w = Workload {
            namespace: inst.namespace.clone(),
            labels: inst.labels.clone(),
            waypoint: false,
            services: Vec::new(),
        };
        let authorization_policies = pick(&self.ix.authorization_policies, &w, root);
        let request_authentications = pick(&self.ix.request_authentications, &w, root);
        let mut extension_providers: Vec<_> = mesh
            .extension_providers
            .iter()
            .filter(|ep| {
                authorization_policies.iter().any(|p| {
                    p.spec
                        .provider
                        .as_ref()
                        .is_some_and(|pr| pr.name == ep.name)
                })
            })
            .cloned()
            .collect();
        extension_providers.dedup_by(|a, b| a.name == b.name);
        Security {
            root_namespace: root.to_string(),
            trust_domain: self.trust_domain().to_string(),
            trust_domain_aliases: mesh.trust_domain_aliases.clone(),
            path_normalization: mesh.path_normalization(),
            authorization_policies,
            request_authentications,
            extension_providers,
        }
    }
}
