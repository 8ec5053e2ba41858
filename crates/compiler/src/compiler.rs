//! The compiler over one snapshot and placement: `compile` for one proxy, `compile_all` for
//! every proxy of the mesh with outbound views shared between proxies that see the same thing.
//! Versions are content hashes, so a proxy whose config did not change keeps its version.

use crate::endpoints::{EndpointSource, InstanceFacts, PortEndpoints};
use crate::error::CompileError;
use crate::hash::{hex, FastMap, Fnv128};
use crate::index::Index;
use crate::placement::{Instance, Placement};
use crate::scope::Viewer;
use crate::unit::{Unit, UnitKey};
use crate::view::{ClusterSet, Outbound};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;
use verimesh_analyze::hosts::selector_matches;
use verimesh_analyze::Snapshot;
use verimesh_model::{Gateway, Inbound, ProxyConfig, Security, Workload};

/// One proxy's compiled config, its outbound part shared with the proxies of the same view.
#[derive(Clone, Debug)]
pub struct CompiledProxy {
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub workload: Workload,
    pub inbound: Inbound,
    pub security: Security,
    pub outbound: Arc<Outbound>,
    /// A gateway's listeners; `None` for sidecars.
    pub gateway: Option<Gateway>,
}

impl CompiledProxy {
    /// The full config as the proxy receives it.
    pub fn to_config(&self) -> ProxyConfig {
        ProxyConfig {
            services: self.outbound.services.clone(),
            clusters: self.outbound.clusters.clone(),
            ..self.core()
        }
    }

    /// Every top-level field of the config, without the services and clusters (the shared
    /// outbound view): what differs between proxies of one view.
    pub fn core(&self) -> ProxyConfig {
        ProxyConfig {
            version: self.version.clone(),
            workload: self.workload.clone(),
            inbound: self.inbound.clone(),
            services: Vec::new(),
            clusters: Vec::new(),
            allow_unknown_destinations: self.outbound.allow_unknown_destinations,
            security: self.security.clone(),
            gateway: self.gateway.clone(),
        }
    }
}

/// What makes two proxies' outbound views differ: namespace, Sidecar resource, and which
/// label conditions (VirtualService sourceLabels, DestinationRule workloadSelectors) hold.
type ViewKey = (String, Option<usize>, Vec<bool>);

/// A service and the DestinationRules chosen for it.
pub(crate) type ClusterKey = (usize, Vec<usize>);

pub struct Compiler<'a> {
    pub(crate) ix: Index<'a>,
    pub(crate) placement: &'a Placement,
    pub(crate) facts: InstanceFacts,
    /// Endpoints per service, per port (in the service's port order).
    pub(crate) endpoints: Vec<Vec<PortEndpoints>>,
    pub(crate) cluster_cache: RefCell<FastMap<ClusterKey, Rc<ClusterSet>>>,
    pub(crate) unit_cache: RefCell<FastMap<UnitKey, Arc<Unit>>>,
    label_conditions: Vec<&'a BTreeMap<String, String>>,
    notes: RefCell<BTreeSet<String>>,
    trust_domain: String,
}

impl<'a> Compiler<'a> {
    pub fn new(
        snapshot: &Snapshot<'a>,
        placement: &'a Placement,
    ) -> Result<Compiler<'a>, CompileError> {
        let ix = Index::build(snapshot, placement);
        let trust_domain = if placement.trust_domain.is_empty() {
            ix.mesh.trust_domain().to_string()
        } else {
            placement.trust_domain.clone()
        };
        if trust_domain.is_empty()
            || !trust_domain
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
        {
            return Err(CompileError::TrustDomain(trust_domain));
        }
        let facts = InstanceFacts::new(&ix, placement);
        let endpoints = {
            let src = EndpointSource {
                ix: &ix,
                placement,
                facts: &facts,
            };
            ix.services
                .iter()
                .map(|s| s.ports.iter().map(|p| src.for_port(s, p)).collect())
                .collect()
        };
        let mut label_conditions: Vec<&'a BTreeMap<String, String>> = Vec::new();
        for vs in &ix.virtual_services {
            let http = vs
                .spec
                .http
                .iter()
                .flat_map(|r| &r.r#match)
                .map(|m| &m.source_labels);
            let tcp = vs
                .spec
                .tcp
                .iter()
                .flat_map(|r| &r.r#match)
                .map(|m| &m.source_labels);
            label_conditions.extend(http.chain(tcp).filter(|l| !l.is_empty()));
        }
        for dr in &ix.destination_rules {
            if let Some(sel) = dr
                .spec
                .workload_selector
                .as_ref()
                .filter(|s| !s.match_labels.is_empty())
            {
                label_conditions.push(&sel.match_labels);
            }
        }
        label_conditions.sort();
        label_conditions.dedup();
        Ok(Compiler {
            ix,
            placement,
            facts,
            endpoints,
            cluster_cache: RefCell::new(FastMap::default()),
            unit_cache: RefCell::new(FastMap::default()),
            label_conditions,
            notes: RefCell::new(BTreeSet::new()),
            trust_domain,
        })
    }

    pub(crate) fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    pub(crate) fn note_all(&self, notes: Vec<String>) {
        if !notes.is_empty() {
            self.notes.borrow_mut().extend(notes);
        }
    }

    /// What could not be compiled exactly (unsupported fields, approximations), deduplicated.
    pub fn notes(&self) -> Vec<String> {
        self.notes.borrow().iter().cloned().collect()
    }

    fn label_bits(&self, inst: &Instance) -> Vec<bool> {
        self.label_conditions
            .iter()
            .map(|l| selector_matches(l, &inst.labels))
            .collect()
    }

    fn proxy(&self, index: usize, outbound: Arc<Outbound>) -> CompiledProxy {
        let inst = &self.placement.instances[index];
        let src = EndpointSource {
            ix: &self.ix,
            placement: self.placement,
            facts: &self.facts,
        };
        let workload = Workload {
            name: inst.name.clone(),
            namespace: inst.namespace.clone(),
            service_account: inst.service_account.clone(),
            identity: inst.identity(&self.trust_domain),
            labels: inst.labels.clone(),
        };
        let security = self.security(inst);
        let (inbound, gateway, outbound) = if inst.gateway {
            let (gateway, missing) = self.gateway(index, inst);
            (
                Inbound::default(),
                Some(gateway),
                outbound.with_missing(missing),
            )
        } else {
            (src.inbound(index, inst), None, outbound)
        };
        let mut h = Fnv128::default();
        h.u128(outbound.hash);
        h.value(&workload);
        h.value(&inbound);
        h.value(&security);
        h.value(&gateway);
        CompiledProxy {
            namespace: inst.namespace.clone(),
            name: inst.name.clone(),
            version: hex(h.finish()),
            workload,
            inbound,
            security,
            outbound,
            gateway,
        }
    }

    fn viewer<'i>(&self, inst: &'i Instance) -> Viewer<'i> {
        Viewer {
            namespace: &inst.namespace,
            ns_id: self.ix.ns_id(&inst.namespace),
            labels: &inst.labels,
            gateway: None,
        }
    }

    /// A Gateway API Gateway of Istio's class with no instance labelled with its name has
    /// no proxy to serve it (the runtime deploys gateways when it starts): said, not dropped.
    fn note_undeployed_gateways(&self) {
        let mut notes = Vec::new();
        for gw in &self.ix.kubernetes_gateways {
            if gw.spec.gateway_class_name != crate::ISTIO_CLASS || !gw.spec.addresses.is_empty() {
                continue;
            }
            let served = self.placement.instances.iter().any(|i| {
                i.gateway
                    && i.namespace == gw.namespace
                    && i.labels.get(crate::GATEWAY_NAME_LABEL) == Some(&gw.name)
            });
            if !served {
                notes.push(format!(
                    "Gateway {}/{} (gateway.networking.k8s.io) has no gateway deployed for it: \
                     `verimesh up` deploys gateways for the Gateways present when it starts; \
                     restart it to serve this one",
                    gw.namespace, gw.name
                ));
            }
        }
        self.note_all(notes);
    }

    /// The config of one proxy.
    pub fn compile(&self, namespace: &str, name: &str) -> Result<ProxyConfig, CompileError> {
        let index = self
            .placement
            .instances
            .iter()
            .position(|i| i.namespace == namespace && i.name == name)
            .ok_or_else(|| CompileError::UnknownInstance {
                namespace: namespace.into(),
                name: name.into(),
            })?;
        let inst = &self.placement.instances[index];
        if !inst.has_proxy() {
            return Err(CompileError::NoSidecar {
                namespace: namespace.into(),
                name: name.into(),
            });
        }
        let v = self.viewer(inst);
        let sidecar = self.ix.sidecar_for(v);
        let outbound = Arc::new(self.build_view(v, sidecar, &self.label_bits(inst)));
        let cfg = self.proxy(index, outbound).to_config();
        cfg.validate()?;
        Ok(cfg)
    }

    /// Every proxy of the placement (sidecars and gateways), in placement order. Proxies
    /// of one view share its outbound part; each view is built once.
    pub fn compile_all(&self) -> Vec<CompiledProxy> {
        self.note_undeployed_gateways();
        let mut views: FastMap<ViewKey, Arc<Outbound>> = FastMap::default();
        let mut out = Vec::new();
        for (index, inst) in self.placement.instances.iter().enumerate() {
            if !inst.has_proxy() {
                continue;
            }
            let v = self.viewer(inst);
            let sidecar = self.ix.sidecar_for(v);
            let bits = self.label_bits(inst);
            let key = (inst.namespace.clone(), sidecar, bits);
            let outbound = match views.get(&key) {
                Some(o) => Arc::clone(o),
                None => {
                    let o = Arc::new(self.build_view(v, sidecar, &key.2));
                    views.insert(key, Arc::clone(&o));
                    o
                }
            };
            out.push(self.proxy(index, outbound));
        }
        out
    }
}
