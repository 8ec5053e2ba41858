//! One outbound view: the services and clusters that every proxy with the same namespace,
//! Sidecar resource and caller-condition outcomes sees identically. Built once per distinct
//! view and shared by its proxies; within it, services and clusters are shared with other
//! views through the unit and cluster caches, so a view costs lookups and reference counts.

use crate::clusters::{ClusterBuilder, MergedRule};
use crate::compiler::Compiler;
use crate::hash::{FastMap, Fnv128};
use crate::scope::{Viewer, VsTable};
use crate::unit::{content_hash, ViewFacts};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use verimesh_config::mesh::OutboundMode;
use verimesh_config::networking::OutboundTrafficPolicyMode;
use verimesh_model::{Cluster, Service};

/// Clusters with their content hashes, as cached per (service, DestinationRule choice).
pub(crate) type ClusterSet = (Vec<Arc<Cluster>>, Vec<u128>);

/// The part of a proxy config shared by every proxy of one view.
#[derive(Debug, PartialEq)]
pub struct Outbound {
    /// By hostname.
    pub services: Vec<Arc<Service>>,
    /// By service (in `services` order), then port and subset; clusters for missing route
    /// targets last, by name.
    pub clusters: Vec<Arc<Cluster>>,
    pub allow_unknown_destinations: bool,
    pub(crate) hash: u128,
}

impl Outbound {
    /// This view plus clusters a gateway's routes name that no service provides (each a
    /// `missing` cluster answering 503 NC); the same view when there are none.
    pub(crate) fn with_missing(self: Arc<Self>, missing: Vec<Cluster>) -> Arc<Outbound> {
        let mut extra: BTreeMap<String, Cluster> = BTreeMap::new();
        for c in missing {
            if !self.clusters.iter().any(|have| have.name == c.name) {
                extra.entry(c.name.clone()).or_insert(c);
            }
        }
        if extra.is_empty() {
            return self;
        }
        let mut h = Fnv128::default();
        h.u128(self.hash);
        let mut clusters = self.clusters.clone();
        for c in extra.into_values() {
            h.u128(content_hash(&c));
            clusters.push(Arc::new(c));
        }
        Arc::new(Outbound {
            services: self.services.clone(),
            clusters,
            allow_unknown_destinations: self.allow_unknown_destinations,
            hash: h.finish(),
        })
    }
}

impl Compiler<'_> {
    pub(crate) fn build_view(
        &self,
        v: Viewer<'_>,
        sidecar: Option<usize>,
        bits: &[bool],
    ) -> Outbound {
        let ix = &self.ix;
        let (visible, facts) = self.view_facts(v, sidecar);
        let sets: Vec<_> = visible
            .iter()
            .map(|si| self.clusters_of(*si, facts.rules.get(si).map_or(&[], Vec::as_slice)))
            .collect();
        let table = VsTable::new(ix, v);
        let units: Vec<_> = visible
            .iter()
            .map(|&si| {
                let vs = table.lookup(ix.service_host[si], &ix.services[si].hostname);
                self.unit(si, vs, v, bits, &facts)
            })
            .collect();
        // Clusters in service (hostname) order, each service's in port and subset order; they
        // cannot collide, since names carry the hostname. Then the missing ones, by name.
        let mut clusters: Vec<(Arc<Cluster>, u128)> = sets
            .iter()
            .flat_map(|set| set.0.iter().cloned().zip(set.1.iter().copied()))
            .collect();
        let mut missing: BTreeMap<&str, (Arc<Cluster>, u128)> = BTreeMap::new();
        for u in &units {
            for (c, h) in &u.missing {
                missing
                    .entry(c.name.as_str())
                    .or_insert((Arc::clone(c), *h));
            }
        }
        clusters.extend(missing.into_values());
        let sidecar_mode = sidecar
            .and_then(|i| ix.sidecars.get(i))
            .and_then(|s| s.spec.outbound_traffic_policy.as_ref())
            .and_then(|p| p.mode);
        let allow_unknown_destinations = match sidecar_mode {
            Some(mode) => mode == OutboundTrafficPolicyMode::AllowAny,
            None => ix.mesh.outbound_mode() != OutboundMode::RegistryOnly,
        };
        let mut h = Fnv128::default();
        for u in &units {
            h.u128(u.hash);
        }
        h.bytes(&[0xfe]);
        for (_, ch) in &clusters {
            h.u128(*ch);
        }
        h.value(&allow_unknown_destinations);
        Outbound {
            services: units.iter().map(|u| Arc::clone(&u.service)).collect(),
            clusters: clusters.into_iter().map(|(c, _)| c).collect(),
            allow_unknown_destinations,
            hash: h.finish(),
        }
    }

    /// The services a viewer sees and, per service, the DestinationRules chosen for it.
    pub(crate) fn view_facts(
        &self,
        v: Viewer<'_>,
        sidecar: Option<usize>,
    ) -> (Vec<usize>, ViewFacts) {
        let ix = &self.ix;
        let visible = ix.visible_services(v, sidecar);
        let mut facts = ViewFacts {
            by_host: {
                let mut v = vec![usize::MAX; ix.host_ids.len()];
                for &si in &visible {
                    v[ix.service_host[si]] = si;
                }
                v
            },
            rules: FastMap::default(),
        };
        for &si in &visible {
            facts.rules.insert(si, ix.destination_rules(v, si));
        }
        (visible, facts)
    }

    /// The clusters of a service under one DestinationRule choice, built once per choice.
    fn clusters_of(&self, si: usize, rules: &[usize]) -> Rc<ClusterSet> {
        let key = (si, rules.to_vec());
        if let Some(c) = self.cluster_cache.borrow().get(&key) {
            return Rc::clone(c);
        }
        let builder = ClusterBuilder {
            ix: &self.ix,
            default_connect_timeout_ms: u64::try_from(self.ix.mesh.connect_timeout().as_millis())
                .unwrap_or(10_000),
        };
        let mut notes = Vec::new();
        let clusters = builder.build(
            &self.ix.services[si],
            &self.endpoints[si],
            &MergedRule::new(&self.ix, rules),
            &mut notes,
        );
        self.note_all(notes);
        let hashes = clusters.iter().map(content_hash).collect();
        let built = Rc::new((clusters.into_iter().map(Arc::new).collect(), hashes));
        self.cluster_cache
            .borrow_mut()
            .insert(key, Rc::clone(&built));
        built
    }
}
