//! Which workloads a policy or a service reaches.

use crate::hosts::selector_matches;
use crate::snapshot::Snapshot;
use crate::workloads::Workload;
use std::collections::BTreeMap;
use verimesh_config::k8s::IntOrString;
use verimesh_config::{Kind, Resource};

/// Workloads with a sidecar that a namespaced policy applies to: its namespace (every namespace
/// when it is in the mesh root namespace), narrowed by its selector when it has one. Workloads
/// without a sidecar enforce no policy at all.
pub fn policy_workloads<'s, 'a>(
    snap: &'s Snapshot<'a>,
    policy: &Resource,
    selector: Option<&BTreeMap<String, String>>,
) -> Vec<&'s Workload<'a>> {
    let ns = snap.ns(policy);
    let selected = |w: &&Workload<'a>| {
        selector.is_none_or(|s| selector_matches(s, w.labels)) && snap.in_mesh(w)
    };
    if ns == snap.mesh.root_namespace() {
        snap.workloads().iter().filter(selected).collect()
    } else {
        snap.workloads_in(ns).filter(selected).collect()
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
