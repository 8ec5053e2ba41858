//! The endpoints of each service port: the placement's instances selected by a Service (at
//! their target port, by number or by the named container port of their Deployment), a
//! ServiceEntry's inline endpoints and the WorkloadEntries and instances its workloadSelector
//! selects, or the names a DNS-resolved entry resolves. Each endpoint carries its identity,
//! its labels, and whether it speaks mesh mTLS (runs a proxy whose PeerAuthentication does not
//! DISABLE mTLS on that port), which is what Istio's auto mTLS decides on.

use crate::index::{Index, PortDef, ServiceDef, ServiceKind, Target};
use crate::placement::{spiffe_id, Instance, Placement};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use verimesh_analyze::hosts::selector_matches;
use verimesh_config::networking::{Resolution, WorkloadEntry};
use verimesh_model::{Endpoint, MtlsMode, TLS_MODE_LABEL};

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MeshEndpoint {
    pub endpoint: Endpoint,
    /// Runs a proxy that accepts mesh mTLS on this port.
    pub mesh: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PortEndpoints {
    pub endpoints: Vec<MeshEndpoint>,
    pub dns: Vec<String>,
    pub original_destination: bool,
}

/// Per-instance facts computed once: instances by namespace and by label (selectors pick
/// their candidates from one label's index entry instead of scanning a namespace), the inbound
/// PeerAuthentication of each instance, and the services selecting each instance.
pub(crate) struct InstanceFacts {
    pub by_namespace: HashMap<String, Vec<usize>>,
    by_label: HashMap<(String, String, String), Vec<usize>>,
    pub peer_auth: Vec<crate::peer_auth::Resolved>,
    /// Per instance, the services (indices, in input order) whose selector selects it.
    pub selected_by: Vec<Vec<usize>>,
}

impl InstanceFacts {
    pub(crate) fn new(ix: &Index<'_>, placement: &Placement) -> InstanceFacts {
        let mut by_namespace: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_label: HashMap<(String, String, String), Vec<usize>> = HashMap::new();
        for (i, inst) in placement.instances.iter().enumerate() {
            by_namespace
                .entry(inst.namespace.clone())
                .or_default()
                .push(i);
            for (k, v) in &inst.labels {
                by_label
                    .entry((inst.namespace.clone(), k.clone(), v.clone()))
                    .or_default()
                    .push(i);
            }
        }
        let peer_auth = placement
            .instances
            .iter()
            .map(|i| ix.peer_authentication(&i.namespace, &i.labels))
            .collect();
        let mut facts = InstanceFacts {
            by_namespace,
            by_label,
            peer_auth,
            selected_by: vec![Vec::new(); placement.instances.len()],
        };
        for (si, svc) in ix.services.iter().enumerate() {
            let selector = match svc.kind {
                ServiceKind::Kubernetes {
                    selector,
                    external_name: None,
                } => selector,
                ServiceKind::Entry(se) => match &se.workload_selector {
                    Some(sel) => &sel.labels,
                    None => continue,
                },
                ServiceKind::Kubernetes { .. } => continue,
            };
            if selector.is_empty() {
                continue;
            }
            let selected: Vec<usize> = facts
                .selected(placement, &svc.namespace, selector)
                .collect();
            for i in selected {
                facts.selected_by[i].push(si);
            }
        }
        facts
    }

    /// Instances of a namespace whose labels a selector matches.
    pub(crate) fn selected<'s>(
        &'s self,
        placement: &'s Placement,
        ns: &str,
        selector: &'s BTreeMap<String, String>,
    ) -> impl Iterator<Item = usize> + 's {
        let candidates = match selector.iter().next() {
            None => self.by_namespace.get(ns),
            Some((k, v)) => self.by_label.get(&(ns.to_string(), k.clone(), v.clone())),
        };
        candidates
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .copied()
            .filter(move |i| selector_matches(selector, &placement.instances[*i].labels))
    }
}

fn is_istio_tls_mode(labels: &BTreeMap<String, String>) -> bool {
    labels.get(TLS_MODE_LABEL).map(String::as_str) == Some("istio")
}

pub(crate) struct EndpointSource<'c, 'a> {
    pub ix: &'c Index<'a>,
    pub placement: &'c Placement,
    pub facts: &'c InstanceFacts,
}

impl EndpointSource<'_, '_> {
    /// The port an instance serves a service port on, if it has it.
    pub(crate) fn target_port(&self, inst: &Instance, port: &PortDef) -> Option<u16> {
        match &port.target {
            Target::Number(n) => Some(*n),
            Target::Name(name) => {
                let deployment = inst.deployment.as_deref()?;
                self.ix
                    .deployment_ports
                    .get(&(inst.namespace.clone(), deployment.to_string()))?
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, p)| *p)
            }
        }
    }

    fn instances(
        &self,
        ns: &str,
        selector: &BTreeMap<String, String>,
        port: &PortDef,
        out: &mut PortEndpoints,
    ) {
        let td = &self.placement.trust_domain;
        for i in self.facts.selected(self.placement, ns, selector) {
            let inst = &self.placement.instances[i];
            let Some(target) = self.target_port(inst, port) else {
                continue;
            };
            let mesh = inst.sidecar && self.facts.peer_auth[i].on_port(target) != MtlsMode::Disable;
            out.endpoints.push(MeshEndpoint {
                endpoint: Endpoint {
                    address: SocketAddr::new(inst.address, target),
                    identity: Some(inst.identity(td)),
                    labels: inst.labels.clone(),
                    weight: 1,
                },
                mesh,
            });
        }
    }

    fn workload_entry(
        &self,
        ns: &str,
        we: &WorkloadEntry,
        port: &PortDef,
        dns_ok: bool,
        out: &mut PortEndpoints,
    ) {
        let target = we
            .ports
            .get(&port.name)
            .and_then(|p| u16::try_from(*p).ok())
            .filter(|p| *p > 0)
            .unwrap_or(match port.target {
                Target::Number(n) => n,
                Target::Name(_) => port.number,
            });
        let Some(address) = we.address.as_deref().filter(|a| !a.is_empty()) else {
            return;
        };
        match address.parse::<IpAddr>() {
            Ok(ip) => {
                let identity = we
                    .service_account
                    .as_deref()
                    .map(|sa| spiffe_id(&self.placement.trust_domain, ns, sa));
                let mesh = is_istio_tls_mode(&we.labels)
                    && self.ix.peer_authentication(ns, &we.labels).on_port(target)
                        != MtlsMode::Disable;
                out.endpoints.push(MeshEndpoint {
                    endpoint: Endpoint {
                        address: SocketAddr::new(ip, target),
                        identity,
                        labels: we.labels.clone(),
                        weight: we.weight.filter(|w| *w > 0).unwrap_or(1),
                    },
                    mesh,
                });
            }
            // A name: resolved by the proxy when the entry asks for DNS; unix sockets are not
            // reachable through the mesh.
            Err(_) if dns_ok && !address.starts_with("unix://") => {
                out.dns.push(format!("{address}:{target}"));
            }
            Err(_) => {}
        }
    }

    pub(crate) fn for_port(&self, svc: &ServiceDef<'_>, port: &PortDef) -> PortEndpoints {
        let mut out = PortEndpoints::default();
        match svc.kind {
            ServiceKind::Kubernetes {
                external_name: Some(name),
                ..
            } => out.dns.push(format!("{name}:{}", port.number)),
            ServiceKind::Kubernetes { selector, .. } => {
                // A Service without selector has endpoints managed by hand, which a placement
                // does not describe.
                if !selector.is_empty() {
                    self.instances(&svc.namespace, selector, port, &mut out);
                }
            }
            ServiceKind::Entry(se) => {
                let resolution = se.resolution.unwrap_or_default();
                let dns_ok = matches!(resolution, Resolution::Dns | Resolution::DnsRoundRobin);
                match resolution {
                    Resolution::None | Resolution::DynamicDns => out.original_destination = true,
                    Resolution::Static | Resolution::Dns | Resolution::DnsRoundRobin => {
                        for we in &se.endpoints {
                            self.workload_entry(&svc.namespace, we, port, dns_ok, &mut out);
                        }
                        if let Some(sel) = se.workload_selector.as_ref() {
                            for we in &self.ix.workload_entries {
                                if we.namespace == svc.namespace
                                    && selector_matches(&sel.labels, &we.spec.labels)
                                {
                                    self.workload_entry(
                                        &we.namespace,
                                        we.spec,
                                        port,
                                        dns_ok,
                                        &mut out,
                                    );
                                }
                            }
                            self.instances(&svc.namespace, &sel.labels, port, &mut out);
                        } else if dns_ok
                            && se.endpoints.is_empty()
                            && !svc.hostname.starts_with('*')
                        {
                            // DNS without endpoints resolves the host itself.
                            out.dns.push(format!("{}:{}", svc.hostname, port.number));
                        }
                    }
                }
            }
        }
        out.endpoints.sort_by_key(|e| e.endpoint.address);
        out.endpoints
            .dedup_by(|a, b| a.endpoint.address == b.endpoint.address);
        out.dns.sort();
        out.dns.dedup();
        if svc.resolution() == Resolution::DnsRoundRobin {
            // DNS_ROUND_ROBIN uses only the first name.
            out.dns.truncate(1);
        }
        out
    }
}
