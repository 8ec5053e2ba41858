//! One outbound view: the services and clusters that every proxy with the same namespace,
//! Sidecar resource and caller-condition outcomes sees identically. Built once per distinct
//! view and shared, so compiling a thousand proxies costs a handful of views plus cheap
//! per-proxy assembly (workload, inbound, version).

use crate::clusters::{cluster_name, missing_cluster, ClusterBuilder, MergedRule};
use crate::compiler::Compiler;
use crate::hash::Fnv128;
use crate::index::{ServiceDef, ServiceKind};
use crate::routes::{default_http_route, http_routes, tcp_routes, Resolver};
use crate::scope::{Viewer, VsTable};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use verimesh_analyze::hosts::to_fqdn;
use verimesh_config::mesh::OutboundMode;
use verimesh_config::networking::{Destination, OutboundTrafficPolicyMode};
use verimesh_model::{Cluster, Protocol, Service, ServicePort};

/// The part of a proxy config shared by every proxy of one view.
#[derive(Debug, PartialEq)]
pub struct Outbound {
    pub services: Vec<Service>,
    pub clusters: Vec<Cluster>,
    pub allow_unknown_destinations: bool,
    pub(crate) hash: u128,
}

struct ViewResolver<'v, 'c, 'a> {
    compiler: &'v Compiler<'a>,
    by_host: &'v HashMap<&'c str, usize>,
    rules: &'v HashMap<usize, Vec<usize>>,
    missing: BTreeMap<String, Cluster>,
}

impl Resolver for ViewResolver<'_, '_, '_> {
    fn cluster(&mut self, vs_namespace: &str, dest: &Destination, port: u16) -> String {
        let ix = &self.compiler.ix;
        let host = to_fqdn(vs_namespace, &dest.host);
        let subset = dest.subset.as_deref().unwrap_or("");
        let wanted = dest
            .port
            .as_ref()
            .and_then(|p| p.number)
            .and_then(|n| u16::try_from(n).ok());
        let Some(&si) = self.by_host.get(host.as_str()) else {
            let name = cluster_name(wanted.unwrap_or(port), subset, &host);
            let why = format!("no service {host} is visible to this proxy");
            self.missing
                .insert(name.clone(), missing_cluster(name.clone(), why));
            return name;
        };
        let svc = &ix.services[si];
        // No port given: the service's only port, else the port being routed.
        let p = wanted.unwrap_or(match svc.ports.as_slice() {
            [only] => only.number,
            _ => port,
        });
        let name = cluster_name(p, subset, &host);
        let why = if svc.port(p).is_none() {
            Some(format!("service {host} has no port {p}"))
        } else if !subset.is_empty()
            && !MergedRule::new(ix, self.rules.get(&si).map_or(&[][..], Vec::as_slice))
                .has_subset(subset)
        {
            Some(format!(
                "no DestinationRule that applies to {host} defines subset {subset:?}"
            ))
        } else {
            None
        };
        if let Some(why) = why {
            self.missing
                .insert(name.clone(), missing_cluster(name.clone(), why));
        }
        name
    }
}

/// `reviews` (same namespace only), `reviews.ns`, `reviews.ns.svc`.
fn aliases(svc: &ServiceDef<'_>, viewer_ns: &str) -> Vec<String> {
    match svc.kind {
        ServiceKind::Kubernetes { .. } => {
            let mut out = Vec::with_capacity(3);
            if svc.namespace == viewer_ns {
                out.push(svc.name.clone());
            }
            out.push(format!("{}.{}", svc.name, svc.namespace));
            out.push(format!("{}.{}.svc", svc.name, svc.namespace));
            out
        }
        ServiceKind::Entry(_) => Vec::new(),
    }
}

impl Compiler<'_> {
    pub(crate) fn build_view(&self, v: Viewer<'_>, sidecar: Option<usize>) -> Outbound {
        let ix = &self.ix;
        let visible = ix.visible_services(v, sidecar);
        let by_host: HashMap<&str, usize> = visible
            .iter()
            .map(|i| (ix.services[*i].hostname.as_str(), *i))
            .collect();
        let mut rules: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut clusters: BTreeMap<String, Cluster> = BTreeMap::new();
        for &si in &visible {
            let svc = &ix.services[si];
            let chosen = ix.destination_rules(v, &svc.hostname, &svc.namespace);
            for c in self.clusters_of(si, &chosen).iter() {
                clusters.insert(c.name.clone(), c.clone());
            }
            rules.insert(si, chosen);
        }
        let table = VsTable::new(ix, v.namespace);
        let mut resolver = ViewResolver {
            compiler: self,
            by_host: &by_host,
            rules: &rules,
            missing: BTreeMap::new(),
        };
        let mut notes = Vec::new();
        let mut services = Vec::with_capacity(visible.len());
        for &si in &visible {
            let svc = &ix.services[si];
            let vs = table.lookup(&svc.hostname).map(|i| &ix.virtual_services[i]);
            let ports = svc
                .ports
                .iter()
                .map(|p| {
                    let default_cluster = cluster_name(p.number, "", &svc.hostname);
                    let http = p.protocol.is_http() || p.protocol == Protocol::Auto;
                    let tcp = !p.protocol.is_http();
                    let mut http_routes_out = Vec::new();
                    let mut tcp_routes_out = Vec::new();
                    if let Some(vs) = vs {
                        if http && !vs.spec.http.is_empty() {
                            http_routes_out = http_routes(vs.spec, &vs.namespace, &vs.name, v, p.number, &mut resolver, &mut notes);
                        }
                        if tcp && !vs.spec.tcp.is_empty() {
                            tcp_routes_out = tcp_routes(vs.spec, &vs.namespace, &vs.name, v, p.number, &mut resolver, &mut notes);
                        }
                        if p.protocol == Protocol::Tls && !vs.spec.tls.is_empty() {
                            notes.push("VirtualService tls (SNI) routes are not supported; the service's cluster is used".into());
                        }
                    }
                    // A VirtualService with HTTP rules replaces the default route (unmatched
                    // requests get 404 NR, as in Istio); without one, Istio's default route.
                    let vs_has_http = vs.is_some_and(|vs| !vs.spec.http.is_empty());
                    if http && !vs_has_http {
                        http_routes_out.push(default_http_route(&default_cluster));
                    }
                    ServicePort {
                        port: p.number,
                        name: p.name.clone(),
                        protocol: p.protocol,
                        http_routes: http_routes_out,
                        tcp_routes: tcp_routes_out,
                        default_cluster,
                    }
                })
                .collect();
            services.push(Service {
                hostname: svc.hostname.clone(),
                aliases: aliases(svc, v.namespace),
                addresses: svc.addresses.clone(),
                ports,
            });
        }
        for (name, c) in std::mem::take(&mut resolver.missing) {
            clusters.entry(name).or_insert(c);
        }
        self.note_all(notes);
        let sidecar_mode = sidecar
            .and_then(|i| ix.sidecars.get(i))
            .and_then(|s| s.spec.outbound_traffic_policy.as_ref())
            .and_then(|p| p.mode);
        let allow_unknown_destinations = match sidecar_mode {
            Some(mode) => mode == OutboundTrafficPolicyMode::AllowAny,
            None => ix.mesh.outbound_mode() != OutboundMode::RegistryOnly,
        };
        let clusters: Vec<Cluster> = clusters.into_values().collect();
        let mut h = Fnv128::default();
        h.value(&services);
        h.value(&clusters);
        h.value(&allow_unknown_destinations);
        Outbound {
            services,
            clusters,
            allow_unknown_destinations,
            hash: h.finish(),
        }
    }

    /// The clusters of a service under one DestinationRule choice, built once per choice.
    fn clusters_of(&self, si: usize, rules: &[usize]) -> Rc<Vec<Cluster>> {
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
        let built = Rc::new(builder.build(
            &self.ix.services[si],
            &self.endpoints[si],
            &MergedRule::new(&self.ix, rules),
            &mut notes,
        ));
        self.note_all(notes);
        self.cluster_cache
            .borrow_mut()
            .insert(key, Rc::clone(&built));
        built
    }
}
