//! The PeerAuthentication mode a workload enforces on a port, as Istio resolves it: a
//! workload-level policy (port-level first), then the namespace's, then the mesh root
//! namespace's, else PERMISSIVE.

use crate::hosts::selector_matches;
use crate::snapshot::Snapshot;
use crate::workloads::Workload;
use verimesh_config::security::MtlsMode;
use verimesh_config::{Kind, Resource};

pub struct PeerMode<'a> {
    pub mode: MtlsMode,
    /// The policy that decided, when one did.
    pub policy: Option<&'a Resource>,
}

pub fn peer_mode<'a>(snap: &Snapshot<'a>, w: &Workload<'_>, port: u32) -> PeerMode<'a> {
    let root = snap.mesh.root_namespace();
    let policies = snap.of_kind(Kind::PeerAuthentication);
    // Policies are taken in name order, so the choice among duplicates is stable.
    let mut sorted: Vec<&'a Resource> = policies.to_vec();
    sorted.sort_by(|a, b| a.name().cmp(b.name()));
    let has_selector = |r: &Resource| {
        r.as_peer_authentication()
            .and_then(|p| p.selector.as_ref())
            .is_some_and(|s| !s.match_labels.is_empty())
    };
    let workload_level = sorted.iter().copied().find(|r| {
        snap.ns(r) == w.namespace
            && r.as_peer_authentication()
                .and_then(|p| p.selector.as_ref())
                .is_some_and(|s| {
                    !s.match_labels.is_empty() && selector_matches(&s.match_labels, w.labels)
                })
    });
    let namespace_level = sorted
        .iter()
        .copied()
        .find(|r| snap.ns(r) == w.namespace && !has_selector(r));
    let mesh_level = sorted
        .iter()
        .copied()
        .find(|r| snap.ns(r) == root && !has_selector(r));

    if let Some(r) = workload_level {
        if let Some(pa) = r.as_peer_authentication() {
            if let Some((_, m)) = pa
                .port_modes()
                .find(|(p, m)| u32::from(*p) == port && *m != MtlsMode::Unset)
            {
                return PeerMode {
                    mode: m,
                    policy: Some(r),
                };
            }
        }
    }
    for r in [workload_level, namespace_level, mesh_level]
        .into_iter()
        .flatten()
    {
        if let Some(pa) = r.as_peer_authentication() {
            if pa.mode() != MtlsMode::Unset {
                return PeerMode {
                    mode: pa.mode(),
                    policy: Some(r),
                };
            }
        }
    }
    PeerMode {
        mode: MtlsMode::Permissive,
        policy: None,
    }
}
