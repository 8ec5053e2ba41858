//! What one proxy sees, Istio's way: the Sidecar resource that applies to it, the services
//! exported to its namespace and admitted by that Sidecar's egress hosts, the DestinationRule
//! that applies to each host, and the VirtualService that binds each host.

use crate::hash::FastMap;
use crate::index::{Index, ServiceDef};
use std::collections::BTreeMap;
use verimesh_analyze::hosts::{host_matches, selector_matches};

const MESH_GATEWAY: &str = "mesh";

/// The proxy-dependent inputs of scoping.
#[derive(Clone, Copy)]
pub(crate) struct Viewer<'p> {
    pub namespace: &'p str,
    /// `Index::ns_id` of `namespace`.
    pub ns_id: usize,
    pub labels: &'p BTreeMap<String, String>,
    /// Set while compiling a gateway's routes: the Gateway resource (`namespace/name`) whose
    /// server is being compiled; `None` is the mesh (sidecars).
    pub gateway: Option<&'p str>,
}

impl Index<'_> {
    /// Istio's Sidecar precedence: one with a workloadSelector matching the workload in its
    /// namespace, else the namespace's Sidecar without selector, else the root namespace's
    /// Sidecar without selector. Several candidates: the first (oldest) wins.
    pub(crate) fn sidecar_for(&self, v: Viewer<'_>) -> Option<usize> {
        let in_ns = |ns: &str, selected: bool| {
            self.sidecars.iter().position(|s| {
                s.namespace == ns
                    && match &s.spec.workload_selector {
                        Some(sel) if !sel.labels.is_empty() => {
                            selected && selector_matches(&sel.labels, v.labels)
                        }
                        _ => !selected,
                    }
            })
        };
        in_ns(v.namespace, true)
            .or_else(|| in_ns(v.namespace, false))
            .or_else(|| in_ns(&self.root_ns, false))
    }

    /// Whether the Sidecar's egress hosts (`ns/host`, `./host`, `*/host`, `~/host`) admit a
    /// service. No Sidecar admits everything exported.
    pub(crate) fn egress_allows(
        &self,
        sidecar: Option<usize>,
        viewer_ns: &str,
        svc: &ServiceDef<'_>,
    ) -> bool {
        let Some(sc) = sidecar.and_then(|i| self.sidecars.get(i)) else {
            return true;
        };
        if sc.spec.egress.is_empty() {
            return true;
        }
        sc.spec.egress.iter().flat_map(|e| &e.hosts).any(|h| {
            let (ns, host) = h.split_once('/').unwrap_or(("*", h.as_str()));
            let ns_ok = match ns {
                "*" => true,
                "~" => false,
                "." => svc.namespace == viewer_ns,
                other => svc.namespace == other,
            };
            ns_ok && (host == "*" || host_matches(host, &svc.hostname))
        })
    }

    /// Services the viewer sees, one per hostname (a host defined in several namespaces: the
    /// viewer's own namespace first, else the first defined), in hostname order.
    pub(crate) fn visible_services(&self, v: Viewer<'_>, sidecar: Option<usize>) -> Vec<usize> {
        // `hostname_order` groups a hostname's definitions, in input order: one pass, no map.
        let mut out: Vec<usize> = Vec::with_capacity(self.services.len());
        let mut current: Option<usize> = None;
        for &i in &self.hostname_order {
            let s = &self.services[i];
            if !s.export.visible_in(v.namespace) || !self.egress_allows(sidecar, v.namespace, s) {
                continue;
            }
            let host = self.service_host[i];
            if current == Some(host) {
                // A later definition replaces an earlier one only from the viewer's namespace.
                if let Some(last) = out.last_mut() {
                    if self.services[*last].namespace != v.namespace && s.namespace == v.namespace {
                        *last = i;
                    }
                }
                continue;
            }
            current = Some(host);
            out.push(i);
        }
        out
    }

    /// The DestinationRules that apply to a host for this viewer, the first giving the traffic
    /// policy (Istio's merge: later ones only add subsets of new names). Lookup order: the
    /// viewer's namespace (where a rule with a matching workloadSelector beats the others),
    /// then the service's namespace, then the root namespace; in each, the most specific host.
    /// DestinationRules naming a host: exact ones first (their count is returned), then those
    /// whose wildcard host matches it. Independent of the viewer, so computed once per service.
    pub(crate) fn dr_candidates(&self, host: &str) -> (Vec<usize>, usize) {
        let mut candidates: Vec<usize> = self.drs_by_host.get(host).cloned().unwrap_or_default();
        let exact = candidates.len();
        for key in &self.wildcard_dr_hosts {
            if key != host && host_matches(key, host) {
                candidates.extend(self.drs_by_host.get(key).map_or(&[][..], Vec::as_slice));
            }
        }
        (candidates, exact)
    }

    pub(crate) fn destination_rules(&self, v: Viewer<'_>, si: usize) -> Vec<usize> {
        let (candidates, exact) = &self.service_drs[si];
        let exact = *exact;
        if candidates.is_empty() {
            return Vec::new();
        }
        let tiers = [v.ns_id, self.service_ns[si], self.root_ns_id];
        for (t, ns) in tiers.iter().enumerate() {
            if tiers[..t].contains(ns) {
                continue;
            }
            let usable = |i: &usize| {
                let d = &self.destination_rules[*i];
                let d_ns = self.dr_ns[*i];
                let local = d_ns == v.ns_id;
                d_ns == *ns
                    && (local || d.export.visible_in(v.namespace))
                    && match &d.spec.workload_selector {
                        Some(sel) if !sel.match_labels.is_empty() => {
                            local && selector_matches(&sel.match_labels, v.labels)
                        }
                        _ => true,
                    }
            };
            // Exact hosts first; among wildcards, the longest (most specific) host.
            let mut in_tier: Vec<(usize, usize)> = candidates
                .iter()
                .enumerate()
                .filter(|(_, i)| usable(i))
                .map(|(pos, i)| {
                    let specificity = if pos < exact {
                        usize::MAX
                    } else {
                        self.destination_rules[*i].spec.host.len()
                    };
                    (specificity, *i)
                })
                .collect();
            let Some(best) = in_tier.iter().map(|(s, _)| *s).max() else {
                continue;
            };
            in_tier.retain(|(s, _)| *s == best);
            in_tier.sort_by_key(|(_, i)| *i);
            let selected = in_tier.iter().find(|(_, i)| {
                self.destination_rules[*i]
                    .spec
                    .workload_selector
                    .as_ref()
                    .is_some_and(|s| !s.match_labels.is_empty())
            });
            return match selected {
                Some((_, i)) => vec![*i],
                None => in_tier.into_iter().map(|(_, i)| i).collect(),
            };
        }
        Vec::new()
    }
}

/// The VirtualServices bound to sidecars (`mesh`) that a namespace sees, by host, in Istio's
/// order: the namespace's own, then those exported to it by name, then those exported to all;
/// by input order within each. For a host, the first VirtualService wins (Istio merges several
/// only for gateways); an exact host beats a wildcard, a longer wildcard a shorter one.
pub(crate) struct VsTable<'i> {
    /// By hostname id; hosts that name no service can never be looked up.
    exact: FastMap<usize, usize>,
    wildcards: Vec<(&'i str, usize)>,
}

impl<'i> VsTable<'i> {
    pub(crate) fn new(ix: &'i Index<'_>, v: Viewer<'_>) -> VsTable<'i> {
        let ns = v.namespace;
        let tier = |i: usize| {
            let vs = &ix.virtual_services[i];
            if ix.vs_ns[i] == v.ns_id {
                0
            } else if vs.export.namespaces.contains(ns) {
                1
            } else {
                2
            }
        };
        let mut order: Vec<usize> = (0..ix.virtual_services.len())
            .filter(|i| {
                let vs = &ix.virtual_services[*i];
                let gateways = &vs.spec.gateways;
                vs.export.visible_in(ns)
                    && (gateways.is_empty() || gateways.iter().any(|g| g == MESH_GATEWAY))
            })
            .collect();
        order.sort_by_key(|i| (tier(*i), *i));
        let mut table = VsTable {
            exact: FastMap::default(),
            wildcards: Vec::new(),
        };
        for i in order {
            for h in &ix.vs_hosts[i] {
                if h.starts_with('*') {
                    table.wildcards.push((h, i));
                } else {
                    if let Some(id) = ix.host_ids.get(h) {
                        table.exact.entry(*id).or_insert(i);
                    }
                }
            }
        }
        table
    }

    pub(crate) fn lookup(&self, host_id: usize, host: &str) -> Option<usize> {
        if let Some(i) = self.exact.get(&host_id) {
            return Some(*i);
        }
        let mut best: Option<(usize, usize)> = None;
        for (pattern, i) in &self.wildcards {
            if host_matches(pattern, host) && best.is_none_or(|(len, _)| pattern.len() > len) {
                best = Some((pattern.len(), *i));
            }
        }
        best.map(|(_, i)| i)
    }
}
