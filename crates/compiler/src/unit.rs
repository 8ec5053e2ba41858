//! One service as a proxy sees it (aliases, ports, routes) compiled once and reused by every
//! view where its inputs are the same: the service, the VirtualService bound to it, whether the
//! viewer is in the service's namespace (the short alias), the viewer's namespace when a rule
//! tests sourceNamespace, the label conditions that hold, and what each route destination
//! resolved to (recorded while compiling and checked on reuse).

use crate::clusters::{cluster_name, missing_cluster, MergedRule};
use crate::compiler::Compiler;
use crate::hash::{FastMap, Fnv128};
use crate::index::{ServiceDef, ServiceKind};
use crate::routes::{default_http_route, http_routes, tcp_routes, Resolver};
use crate::scope::Viewer;
use std::sync::Arc;
use verimesh_analyze::hosts::to_fqdn;
use verimesh_config::networking::Destination;
use verimesh_model::{Cluster, Protocol, Service, ServicePort};

pub(crate) fn content_hash(v: &impl serde::Serialize) -> u128 {
    let mut h = Fnv128::default();
    h.value(v);
    h.finish()
}

/// What a view decided for the destinations of routes: the visible service of each hostname
/// and the DestinationRules chosen for it.
pub(crate) struct ViewFacts {
    /// By hostname id: the visible service, or `usize::MAX`.
    pub by_host: Vec<usize>,
    pub rules: FastMap<usize, Vec<usize>>,
}

impl ViewFacts {
    fn service(&self, host_id: Option<usize>) -> Option<usize> {
        host_id
            .and_then(|h| self.by_host.get(h).copied())
            .filter(|s| *s != usize::MAX)
    }
}

/// A destination host as resolved when a unit was compiled.
#[derive(Clone, PartialEq)]
struct Dependency {
    /// The hostname's id; `None` when no service anywhere has that name.
    host: Option<usize>,
    service: Option<usize>,
    rules: Option<Vec<usize>>,
}

pub(crate) struct Unit {
    pub service: Arc<Service>,
    pub hash: u128,
    pub missing: Vec<(Arc<Cluster>, u128)>,
    deps: Vec<Dependency>,
}

impl Unit {
    fn still_valid(&self, facts: &ViewFacts) -> bool {
        self.deps.iter().all(|d| {
            let service = facts.service(d.host);
            service == d.service
                && service.and_then(|s| facts.rules.get(&s)).map(Vec::as_slice)
                    == d.rules.as_deref()
        })
    }
}

pub(crate) type UnitKey = (usize, Option<usize>, bool, String, Vec<bool>);

pub(crate) struct UnitResolver<'r, 'a> {
    compiler: &'r Compiler<'a>,
    facts: &'r ViewFacts,
    /// Clusters routes named that do not exist (they answer 503 NC).
    pub missing: Vec<Cluster>,
    deps: Vec<Dependency>,
}

impl<'r, 'a> UnitResolver<'r, 'a> {
    pub(crate) fn new(compiler: &'r Compiler<'a>, facts: &'r ViewFacts) -> Self {
        UnitResolver {
            compiler,
            facts,
            missing: Vec::new(),
            deps: Vec::new(),
        }
    }
}

impl Resolver for UnitResolver<'_, '_> {
    fn cluster(&mut self, vs_namespace: &str, dest: &Destination, port: u16) -> String {
        let ix = &self.compiler.ix;
        let host = to_fqdn(vs_namespace, &dest.host);
        let subset = dest.subset.as_deref().unwrap_or("");
        let wanted = dest
            .port
            .as_ref()
            .and_then(|p| p.number)
            .and_then(|n| u16::try_from(n).ok());
        let host_id = ix.host_ids.get(host.as_str()).copied();
        let service = self.facts.service(host_id);
        let rules = service.and_then(|s| self.facts.rules.get(&s)).cloned();
        let dep = Dependency {
            host: host_id,
            service,
            rules: rules.clone(),
        };
        if !self.deps.contains(&dep) {
            self.deps.push(dep);
        }
        let Some(si) = service else {
            let name = cluster_name(wanted.unwrap_or(port), subset, &host);
            let why = format!("no service {host} is visible to this proxy");
            self.missing.push(missing_cluster(name.clone(), why));
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
            && !MergedRule::new(ix, rules.as_deref().unwrap_or(&[])).has_subset(subset)
        {
            Some(format!(
                "no DestinationRule that applies to {host} defines subset {subset:?}"
            ))
        } else {
            None
        };
        if let Some(why) = why {
            self.missing.push(missing_cluster(name.clone(), why));
        }
        name
    }
}

/// `reviews` (same namespace only), `reviews.ns`, `reviews.ns.svc`.
fn aliases(svc: &ServiceDef<'_>, same_namespace: bool) -> Vec<String> {
    match svc.kind {
        ServiceKind::Kubernetes { .. } => {
            let mut out = Vec::with_capacity(3);
            if same_namespace {
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
    /// The unit of service `si` for this view, from the cache when its inputs are unchanged.
    pub(crate) fn unit(
        &self,
        si: usize,
        vs: Option<usize>,
        v: Viewer<'_>,
        bits: &[bool],
        facts: &ViewFacts,
    ) -> Arc<Unit> {
        let ns_matters = vs.is_some_and(|i| self.ix.vs_tests_source_namespace[i]);
        let key: UnitKey = (
            si,
            vs,
            self.ix.service_ns[si] == v.ns_id,
            if ns_matters {
                v.namespace.to_string()
            } else {
                String::new()
            },
            bits.to_vec(),
        );
        if let Some(u) = self.unit_cache.borrow().get(&key) {
            if u.still_valid(facts) {
                return Arc::clone(u);
            }
        }
        let unit = Arc::new(self.compile_unit(si, vs, v, facts));
        self.unit_cache.borrow_mut().insert(key, Arc::clone(&unit));
        unit
    }

    fn compile_unit(&self, si: usize, vs: Option<usize>, v: Viewer<'_>, facts: &ViewFacts) -> Unit {
        let ix = &self.ix;
        let svc = &ix.services[si];
        let vs = vs.map(|i| &ix.virtual_services[i]);
        let mut resolver = UnitResolver::new(self, facts);
        let mut notes = Vec::new();
        let ports = svc
            .ports
            .iter()
            .map(|p| {
                let default_cluster = cluster_name(p.number, "", &svc.hostname);
                let http = p.protocol.is_http() || p.protocol == Protocol::Auto;
                let tcp = !p.protocol.is_http();
                let mut http_out = Vec::new();
                let mut tcp_out = Vec::new();
                if let Some(vs) = vs {
                    if http && !vs.spec.http.is_empty() {
                        http_out = http_routes(vs.spec, &vs.namespace, &vs.name, v, p.number, &mut resolver, &mut notes);
                    }
                    if tcp && !vs.spec.tcp.is_empty() {
                        tcp_out = tcp_routes(vs.spec, &vs.namespace, &vs.name, v, p.number, &mut resolver, &mut notes);
                    }
                    if p.protocol == Protocol::Tls && !vs.spec.tls.is_empty() {
                        notes.push("VirtualService tls (SNI) routes are not supported; the service's cluster is used".into());
                    }
                }
                // Routes from a VirtualService replace the default route (unmatched requests
                // get 404 NR, as in Istio); when none apply to this port and proxy (no
                // VirtualService, or all its rules are for other ports or callers), Istio
                // routes the service as if it had none: the default route.
                if http && http_out.is_empty() {
                    http_out.push(default_http_route(&default_cluster));
                }
                ServicePort {
                    port: p.number,
                    name: p.name.clone(),
                    protocol: p.protocol,
                    http_routes: http_out,
                    tcp_routes: tcp_out,
                    default_cluster,
                }
            })
            .collect();
        self.note_all(notes);
        let service = Service {
            hostname: svc.hostname.clone(),
            aliases: aliases(svc, ix.service_ns[si] == v.ns_id),
            addresses: svc.addresses.clone(),
            ports,
        };
        Unit {
            hash: content_hash(&service),
            service: Arc::new(service),
            missing: resolver
                .missing
                .into_iter()
                .map(|c| {
                    let h = content_hash(&c);
                    (Arc::new(c), h)
                })
                .collect(),
            deps: resolver.deps,
        }
    }
}
