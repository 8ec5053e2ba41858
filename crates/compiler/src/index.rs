//! The resources the compiler reads, indexed once per snapshot: services (Kubernetes Services
//! and ServiceEntry hosts) with their ports, protocols, exports and addresses; DestinationRules,
//! VirtualServices, Sidecars and PeerAuthentications with their scopes resolved. Everything a
//! proxy compilation looks up is here, so per-proxy work never scans the raw resources.

use crate::hash::FastMap;
use crate::placement::Placement;
use crate::security::{attach_authn, attach_authz, dry_run_of, Attached};
use crate::services::port16;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use verimesh_analyze::hosts::to_fqdn;
use verimesh_analyze::Snapshot;
use verimesh_config::gateway_api::{HttpRoute as ApiHttpRoute, KubernetesGateway};
use verimesh_config::k8s::Secret;
use verimesh_config::mesh::MeshConfig;
use verimesh_config::networking::{
    DestinationRule, Gateway, Location, Resolution, ServiceEntry, Sidecar, VirtualService,
    WorkloadEntry,
};
use verimesh_config::security::{AuthorizationPolicy, PeerAuthentication, RequestAuthentication};
use verimesh_config::{Kind, Resource};
use verimesh_model::Protocol;

/// The namespaces a resource is visible in (exportTo resolved).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Export {
    pub all: bool,
    pub namespaces: BTreeSet<String>,
}

impl Export {
    /// `list` as written (empty: `default`, then everywhere); `.` is the resource's own
    /// namespace, `~` nowhere.
    pub(crate) fn new(list: &[String], own_ns: &str, default: &[String]) -> Export {
        let list = if list.is_empty() { default } else { list };
        if list.is_empty() {
            return Export {
                all: true,
                namespaces: BTreeSet::new(),
            };
        }
        let mut e = Export::default();
        for item in list {
            match item.trim() {
                "*" => e.all = true,
                "." => {
                    e.namespaces.insert(own_ns.to_string());
                }
                "~" | "" => {}
                ns => {
                    e.namespaces.insert(ns.to_string());
                }
            }
        }
        e
    }

    pub(crate) fn visible_in(&self, ns: &str) -> bool {
        self.all || self.namespaces.contains(ns)
    }
}

/// Where a service port forwards to on an endpoint.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Target {
    Number(u16),
    Name(String),
}

#[derive(Clone, Debug)]
pub(crate) struct PortDef {
    pub number: u16,
    pub name: String,
    pub protocol: Protocol,
    pub target: Target,
}

pub(crate) enum ServiceKind<'a> {
    Kubernetes {
        selector: &'a BTreeMap<String, String>,
        /// ExternalName services resolve to this name by DNS.
        external_name: Option<&'a str>,
    },
    Entry(&'a ServiceEntry),
}

pub(crate) struct ServiceDef<'a> {
    pub hostname: String,
    pub namespace: String,
    /// The resource's name (Service name, or ServiceEntry name).
    pub name: String,
    pub kind: ServiceKind<'a>,
    pub ports: Vec<PortDef>,
    pub export: Export,
    pub addresses: Vec<IpAddr>,
}

impl ServiceDef<'_> {
    pub(crate) fn port(&self, number: u16) -> Option<&PortDef> {
        self.ports.iter().find(|p| p.number == number)
    }

    pub(crate) fn mesh_external(&self) -> bool {
        match self.kind {
            ServiceKind::Entry(se) => se.location.unwrap_or_default() == Location::MeshExternal,
            ServiceKind::Kubernetes { .. } => false,
        }
    }

    pub(crate) fn resolution(&self) -> Resolution {
        match self.kind {
            ServiceKind::Entry(se) => se.resolution.unwrap_or_default(),
            ServiceKind::Kubernetes {
                external_name: Some(_),
                ..
            } => Resolution::Dns,
            ServiceKind::Kubernetes { .. } => Resolution::Static,
        }
    }
}

/// A resource with the namespace it is in and its place in input order (Istio orders by
/// creation time; a snapshot's input order stands for it).
pub(crate) struct Scoped<'a, T> {
    pub namespace: String,
    pub name: String,
    pub spec: &'a T,
    pub export: Export,
}

/// A resource that has no exportTo: scoped to its own namespace only.
fn local_one<'a, T>(
    snap: &Snapshot<'a>,
    r: &'a Resource,
    spec: Option<&'a T>,
) -> Option<Scoped<'a, T>> {
    Some(Scoped {
        namespace: snap.ns(r).to_string(),
        name: r.name().to_string(),
        spec: spec?,
        export: Export::default(),
    })
}

/// Every resource of `kind` that decodes as `T`, scoped to its own namespace.
fn local<'a, T>(
    snap: &Snapshot<'a>,
    kind: Kind,
    decode: fn(&'a Resource) -> Option<&'a T>,
) -> Vec<Scoped<'a, T>> {
    snap.of_kind(kind)
        .iter()
        .filter_map(|r| local_one(snap, r, decode(r)))
        .collect()
}

pub(crate) struct Index<'a> {
    pub mesh: MeshConfig,
    pub root_ns: String,
    pub services: Vec<ServiceDef<'a>>,
    /// Hostnames numbered, so views compare and look up integers, not strings.
    pub host_ids: FastMap<String, usize>,
    /// Per service, the id of its hostname.
    pub service_host: Vec<usize>,
    /// Namespaces numbered, for the same reason; per service, DestinationRule and
    /// VirtualService, the id of its namespace.
    pub ns_ids: FastMap<String, usize>,
    pub root_ns_id: usize,
    pub service_ns: Vec<usize>,
    pub dr_ns: Vec<usize>,
    pub vs_ns: Vec<usize>,
    /// Service indices sorted by (hostname, input order).
    pub hostname_order: Vec<usize>,
    pub destination_rules: Vec<Scoped<'a, DestinationRule>>,
    /// DestinationRules by the FQDN (or wildcard) host they name.
    pub drs_by_host: HashMap<String, Vec<usize>>,
    /// The wildcard hosts among them, so an exact lookup never scans every rule.
    pub wildcard_dr_hosts: Vec<String>,
    /// Per service: `dr_candidates` of its hostname.
    pub service_drs: Vec<(Vec<usize>, usize)>,
    pub virtual_services: Vec<Scoped<'a, VirtualService>>,
    /// Each VirtualService's hosts as FQDNs (short names are relative to its namespace).
    pub vs_hosts: Vec<Vec<String>>,
    /// Whether a VirtualService's rules test the caller's namespace (then its compiled routes
    /// differ between viewer namespaces).
    pub vs_tests_source_namespace: Vec<bool>,
    pub sidecars: Vec<Scoped<'a, Sidecar>>,
    pub peer_authentications: Vec<Scoped<'a, PeerAuthentication>>,
    pub authorization_policies: Vec<Attached<'a, AuthorizationPolicy>>,
    pub request_authentications: Vec<Attached<'a, RequestAuthentication>>,
    pub workload_entries: Vec<Scoped<'a, WorkloadEntry>>,
    /// Container ports by (namespace, Deployment name), for named target ports.
    pub deployment_ports: HashMap<(String, String), Vec<(String, u16)>>,
    pub gateways: Vec<Scoped<'a, Gateway>>,
    /// Gateway API Gateways and the HTTPRoutes that may attach to them.
    pub kubernetes_gateways: Vec<Scoped<'a, KubernetesGateway>>,
    pub http_routes: Vec<Scoped<'a, ApiHttpRoute>>,
    /// Secrets by (namespace, name): gateway certificates (`credentialName`).
    pub secrets: HashMap<(String, String), &'a Secret>,
}

impl<'a> Index<'a> {
    pub(crate) fn build(snap: &Snapshot<'a>, placement: &Placement) -> Index<'a> {
        let mesh = snap.mesh.clone();
        let root_ns = mesh.root_namespace().to_string();
        let mut ix = Index {
            root_ns,
            services: Vec::new(),
            host_ids: FastMap::default(),
            service_host: Vec::new(),
            ns_ids: FastMap::default(),
            root_ns_id: 0,
            service_ns: Vec::new(),
            dr_ns: Vec::new(),
            vs_ns: Vec::new(),
            hostname_order: Vec::new(),
            destination_rules: Vec::new(),
            drs_by_host: HashMap::new(),
            wildcard_dr_hosts: Vec::new(),
            service_drs: Vec::new(),
            virtual_services: Vec::new(),
            vs_hosts: Vec::new(),
            vs_tests_source_namespace: Vec::new(),
            sidecars: Vec::new(),
            peer_authentications: Vec::new(),
            authorization_policies: Vec::new(),
            request_authentications: Vec::new(),
            workload_entries: Vec::new(),
            deployment_ports: HashMap::new(),
            gateways: Vec::new(),
            kubernetes_gateways: Vec::new(),
            http_routes: Vec::new(),
            secrets: HashMap::new(),
            mesh,
        };
        let scoped = |r: &'a Resource| (snap.ns(r).to_string(), r.name().to_string());
        for r in snap.of_kind(Kind::Service) {
            if let Some(svc) = r.as_service() {
                ix.add_kubernetes_service(r, svc, snap.ns(r), placement);
            }
        }
        for r in snap.of_kind(Kind::ServiceEntry) {
            if let Some(se) = r.as_service_entry() {
                ix.add_service_entry(r, se, snap.ns(r), placement);
            }
        }
        let mut order: Vec<usize> = (0..ix.services.len()).collect();
        order.sort_by(|a, b| {
            ix.services[*a]
                .hostname
                .cmp(&ix.services[*b].hostname)
                .then(a.cmp(b))
        });
        ix.hostname_order = order;
        for r in snap.of_kind(Kind::DestinationRule) {
            if let Some(dr) = r.as_destination_rule() {
                let (namespace, name) = scoped(r);
                let export = Export::new(
                    &dr.export_to,
                    &namespace,
                    &ix.mesh.default_destination_rule_export_to,
                );
                let host = to_fqdn(&namespace, &dr.host);
                ix.drs_by_host
                    .entry(host)
                    .or_default()
                    .push(ix.destination_rules.len());
                ix.destination_rules.push(Scoped {
                    namespace,
                    name,
                    spec: dr,
                    export,
                });
            }
        }
        ix.wildcard_dr_hosts = ix
            .drs_by_host
            .keys()
            .filter(|h| h.starts_with('*'))
            .cloned()
            .collect();
        ix.wildcard_dr_hosts.sort();
        ix.service_drs = ix
            .services
            .iter()
            .map(|s| ix.dr_candidates(&s.hostname))
            .collect();
        for r in snap.of_kind(Kind::VirtualService) {
            if let Some(vs) = r.as_virtual_service() {
                let (namespace, name) = scoped(r);
                let export = Export::new(
                    &vs.export_to,
                    &namespace,
                    &ix.mesh.default_virtual_service_export_to,
                );
                ix.vs_hosts
                    .push(vs.hosts.iter().map(|h| to_fqdn(&namespace, h)).collect());
                let http = vs
                    .http
                    .iter()
                    .flat_map(|r| &r.r#match)
                    .map(|m| &m.source_namespace);
                let tcp = vs
                    .tcp
                    .iter()
                    .flat_map(|r| &r.r#match)
                    .map(|m| &m.source_namespace);
                ix.vs_tests_source_namespace.push(
                    http.chain(tcp)
                        .any(|ns| ns.as_deref().is_some_and(|n| !n.is_empty())),
                );
                ix.virtual_services.push(Scoped {
                    namespace,
                    name,
                    spec: vs,
                    export,
                });
            }
        }
        ix.sidecars = local(snap, Kind::Sidecar, Resource::as_sidecar);
        ix.peer_authentications = local(
            snap,
            Kind::PeerAuthentication,
            Resource::as_peer_authentication,
        );
        for r in snap.of_kind(Kind::AuthorizationPolicy) {
            if let Some(s) = local_one(snap, r, r.as_authorization_policy()) {
                ix.authorization_policies
                    .push(attach_authz(s, dry_run_of(r)));
            }
        }
        for r in snap.of_kind(Kind::RequestAuthentication) {
            if let Some(s) = local_one(snap, r, r.as_request_authentication()) {
                ix.request_authentications.push(attach_authn(s));
            }
        }
        ix.workload_entries = local(snap, Kind::WorkloadEntry, Resource::as_workload_entry);
        ix.gateways = local(snap, Kind::Gateway, Resource::as_gateway);
        ix.kubernetes_gateways = local(
            snap,
            Kind::KubernetesGateway,
            Resource::as_kubernetes_gateway,
        );
        ix.http_routes = local(snap, Kind::HttpRoute, Resource::as_http_route);
        for r in snap.of_kind(Kind::Secret) {
            if let Some(secret) = r.as_secret() {
                ix.secrets.insert(scoped(r), secret);
            }
        }
        for r in snap.of_kind(Kind::Deployment) {
            if let Some(d) = r.as_deployment() {
                let ports = d
                    .spec
                    .template
                    .spec
                    .containers
                    .iter()
                    .flat_map(|c| &c.ports)
                    .filter_map(|p| Some((p.name.clone()?, port16(p.container_port)?)))
                    .collect();
                ix.deployment_ports.insert(scoped(r), ports);
            }
        }
        let root = ix.root_ns.clone();
        ix.root_ns_id = ix.intern(&root);
        let names: Vec<String> = ix.services.iter().map(|s| s.namespace.clone()).collect();
        ix.service_ns = names.iter().map(|n| ix.intern(n)).collect();
        let names: Vec<String> = ix
            .destination_rules
            .iter()
            .map(|d| d.namespace.clone())
            .collect();
        ix.dr_ns = names.iter().map(|n| ix.intern(n)).collect();
        let names: Vec<String> = ix
            .virtual_services
            .iter()
            .map(|v| v.namespace.clone())
            .collect();
        ix.vs_ns = names.iter().map(|n| ix.intern(n)).collect();
        ix
    }

    fn intern(&mut self, ns: &str) -> usize {
        let next = self.ns_ids.len();
        *self.ns_ids.entry(ns.to_string()).or_insert(next)
    }

    /// The id of a namespace; one nothing lives in gets an id nothing has.
    pub(crate) fn ns_id(&self, ns: &str) -> usize {
        self.ns_ids.get(ns).copied().unwrap_or(usize::MAX)
    }
}
