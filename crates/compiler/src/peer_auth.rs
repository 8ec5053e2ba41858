//! PeerAuthentication resolved Istio's way for one workload: the workload-selector policy of
//! its namespace, else the namespace-wide one, else the mesh-wide one (root namespace, no
//! selector); UNSET inherits from the next scope out and PERMISSIVE is the default. Port-level
//! modes come from the workload-selector policy only, keyed by the workload's port; an UNSET
//! port inherits the workload's mode.

use crate::index::Index;
use std::collections::BTreeMap;
use verimesh_analyze::hosts::selector_matches;
use verimesh_config::security::{MtlsMode as IstioMode, PeerAuthentication};
use verimesh_model::MtlsMode;

/// The effective modes for one workload.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Resolved {
    pub mode: MtlsMode,
    pub ports: BTreeMap<u16, MtlsMode>,
}

impl Resolved {
    pub(crate) fn on_port(&self, port: u16) -> MtlsMode {
        self.ports.get(&port).copied().unwrap_or(self.mode)
    }
}

fn set(mode: IstioMode) -> Option<MtlsMode> {
    match mode {
        IstioMode::Unset => None,
        IstioMode::Disable => Some(MtlsMode::Disable),
        IstioMode::Permissive => Some(MtlsMode::Permissive),
        IstioMode::Strict => Some(MtlsMode::Strict),
    }
}

fn has_selector(pa: &PeerAuthentication) -> bool {
    pa.selector
        .as_ref()
        .is_some_and(|s| !s.match_labels.is_empty())
}

impl Index<'_> {
    pub(crate) fn peer_authentication(
        &self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> Resolved {
        // The oldest policy wins when several apply at one level.
        let find = |ns: &str, selected: bool| {
            self.peer_authentications.iter().find(|p| {
                p.namespace == ns
                    && if selected {
                        p.spec.selector.as_ref().is_some_and(|s| {
                            !s.match_labels.is_empty() && selector_matches(&s.match_labels, labels)
                        })
                    } else {
                        !has_selector(p.spec)
                    }
            })
        };
        let workload = find(namespace, true);
        let namespace_wide = find(namespace, false);
        let mesh_wide = find(&self.root_ns, false);
        let mode = [workload, namespace_wide, mesh_wide]
            .into_iter()
            .flatten()
            .find_map(|p| set(p.spec.mode()))
            .unwrap_or(MtlsMode::Permissive);
        let mut ports = BTreeMap::new();
        if let Some(w) = workload {
            for (port, m) in &w.spec.port_level_mtls {
                let Ok(port) = port.parse::<u16>() else {
                    continue;
                };
                if let Some(m) = m.mode.and_then(set) {
                    ports.insert(port, m);
                }
            }
        }
        Resolved { mode, ports }
    }
}
