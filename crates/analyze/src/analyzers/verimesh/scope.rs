//! Which workloads a policy or a service reaches.

use crate::hosts::selector_matches;
use crate::snapshot::Snapshot;
use crate::workloads::Workload;
use std::collections::BTreeMap;
use verimesh_config::k8s::IntOrString;
use verimesh_config::{Kind, Resource};

/// Workloads a namespaced policy applies to: its namespace (every namespace when it is in the
/// mesh root namespace), narrowed by its selector when it has one.
pub fn policy_workloads<'s, 'a>(
    snap: &'s Snapshot<'a>,
    policy: &Resource,
    selector: Option<&BTreeMap<String, String>>,
) -> Vec<&'s Workload<'a>> {
    let ns = snap.ns(policy);
    let mesh_wide = ns == snap.mesh.root_namespace();
    snap.workloads()
        .iter()
        .filter(|w| mesh_wide || w.namespace == ns)
        .filter(|w| selector.is_none_or(|s| selector_matches(s, w.labels)))
        .collect()
}

/// Services in the workload's namespace whose selector picks it.
pub fn services_of<'a>(snap: &Snapshot<'a>, w: &Workload<'_>) -> Vec<&'a Resource> {
    snap.of_kind(Kind::Service)
        .iter()
        .copied()
        .filter(|s| {
            snap.ns(s) == w.namespace
                && s.as_service().is_some_and(|svc| {
                    !svc.spec.selector.is_empty() && selector_matches(&svc.spec.selector, w.labels)
                })
        })
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
