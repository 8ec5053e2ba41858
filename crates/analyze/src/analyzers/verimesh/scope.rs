//! Which workloads a policy or a service reaches.

use crate::hosts::selector_matches;
use crate::snapshot::Snapshot;
use crate::workloads::Workload;
use verimesh_config::k8s::IntOrString;
use verimesh_config::{Kind, Resource};
use verimesh_policy::scope::PolicyScope;

/// Workloads with a sidecar that a security policy (AuthorizationPolicy,
/// RequestAuthentication) applies to, by the decision engine's own attachment rules
/// (namespace, root namespace, selector, targetRefs), so the analyzer and the proxy agree.
/// Workloads without a sidecar enforce no policy at all.
pub fn policy_workloads<'s, 'a>(
    snap: &'s Snapshot<'a>,
    policy: &Resource,
) -> Vec<&'s Workload<'a>> {
    let ns = snap.ns(policy);
    let scope = if let Some(ap) = policy.as_authorization_policy() {
        PolicyScope::new(
            ns,
            ap.selector.as_ref(),
            ap.target_ref.as_ref(),
            &ap.target_refs,
        )
    } else if let Some(ra) = policy.as_request_authentication() {
        PolicyScope::new(
            ns,
            ra.selector.as_ref(),
            ra.target_ref.as_ref(),
            &ra.target_refs,
        )
    } else {
        return Vec::new();
    };
    let root = snap.mesh.root_namespace();
    let applies = |w: &&Workload<'a>| {
        let target = verimesh_policy::Workload {
            namespace: w.namespace.clone(),
            labels: w.labels.clone(),
            waypoint: false,
            services: Vec::new(),
        };
        scope.applies_to(&target, root) && snap.in_mesh(w)
    };
    if ns == root {
        snap.workloads().iter().filter(applies).collect()
    } else {
        snap.workloads_in(ns).filter(applies).collect()
    }
}

/// Services in the workload's namespace whose selector picks it.
pub fn services_of<'a>(snap: &Snapshot<'a>, w: &Workload<'_>) -> Vec<&'a Resource> {
    snap.in_namespace(Kind::Service, &w.namespace)
        .iter()
        .copied()
        .filter(|s| {
            s.as_service().is_some_and(|svc| {
                !svc.spec.selector.is_empty() && selector_matches(&svc.spec.selector, w.labels)
            })
        })
        .collect()
}

/// Workloads with a sidecar that a Service selects.
pub fn workloads_of<'s, 'a>(snap: &'s Snapshot<'a>, service: &Resource) -> Vec<&'s Workload<'a>> {
    let Some(svc) = service.as_service() else {
        return Vec::new();
    };
    if svc.spec.selector.is_empty() {
        return Vec::new();
    }
    snap.workloads_in(snap.ns(service))
        .filter(|w| selector_matches(&svc.spec.selector, w.labels) && snap.in_mesh(w))
        .collect()
}

/// The port a workload receives a service port's traffic on.
pub fn target_port(w: &Workload<'_>, port: i64, target: Option<&IntOrString>) -> Option<u32> {
    let n = match target {
        None => port,
        Some(IntOrString::Int(0)) => port,
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(name)) => {
            w.spec.containers.iter().find_map(|c| c.port_named(name))?
        }
    };
    u32::try_from(n).ok()
}
