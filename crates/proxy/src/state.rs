//! What connections read: the config compiled for lookups — services by address and by
//! name, per port the protocol and compiled routes, per cluster its balancer, endpoint loads
//! and connection pools. Built once per config version; lookups take no lock. A new config
//! builds a new `State` and swaps it in (see `server::Shared`); pools outlive the swap.

use crate::lb::{Balancer, EndpointLoad, Policy};
use crate::routes::{CompiledRoute, RouteError, WeightedTargets};
use crate::security::jwks::JwksCache;
use crate::security::SecurityState;
use crate::telemetry::Labels;
use crate::upstream::{EndpointPool, Pools, UpstreamKind};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;
use verimesh_config::mesh::NormalizationType;
use verimesh_model::{Cluster, Endpoint, LbPolicy, Protocol, ProxyConfig, Transport};

pub struct EndpointState {
    pub endpoint: Endpoint,
    /// The endpoint's SPIFFE identity, shared (a metric label of every request to it).
    pub identity: Option<Arc<str>>,
    pub pool: Arc<EndpointPool>,
}

pub struct ClusterState {
    pub name: Arc<str>,
    /// The service the cluster belongs to (for telemetry), from its Istio-style name.
    pub service: Arc<str>,
    pub cluster: Cluster,
    pub balancer: Balancer,
    pub endpoints: Vec<EndpointState>,
    pub loads: Vec<Arc<EndpointLoad>>,
    /// Circuit-breaker counters (DestinationRule connectionPool).
    pub active_requests: AtomicU32,
    pub active_connections: AtomicU32,
    /// Retries made (`/stats`: `verimesh_upstream_rq_retry_total`).
    pub retries: AtomicU64,
    /// Retries in flight (against `limits.max_retries`).
    pub active_retries: AtomicU32,
    /// Retries not made for `limits.max_retries` (`verimesh_upstream_rq_retry_overflow_total`).
    pub retry_overflows: AtomicU64,
}

/// A route's destination: a cluster of this config, or the name of one it lacks (answered
/// 503 NC, never silently rerouted).
#[derive(Clone, Debug)]
pub enum ClusterRef {
    Found(Arc<ClusterState>),
    Missing(Arc<str>),
}

impl std::fmt::Debug for ClusterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterState")
            .field("name", &self.name)
            .finish()
    }
}

pub struct PortState {
    pub port: u16,
    pub protocol: Protocol,
    pub http_routes: Vec<CompiledRoute>,
    /// Where traffic goes when no route is configured.
    pub default: ClusterRef,
    /// TCP routes collapse to one weighted choice (the first TCP route; matches on port
    /// were resolved by the compiler); without one, the default cluster.
    pub tcp: WeightedTargets,
}

pub struct ServiceState {
    pub hostname: Arc<str>,
    pub ports: Vec<PortState>,
}

/// This proxy's own workload, as telemetry labels it.
pub struct Me {
    pub workload: Arc<str>,
    pub namespace: Arc<str>,
    pub principal: Arc<str>,
    /// `x-verimesh-peer` as this proxy sends it to other proxies.
    pub peer_header: Option<http::HeaderValue>,
}

/// What Istio's labels say for a side not known (yet).
pub const UNKNOWN: &str = "unknown";

/// `unknown`, shared: labels fill it in on every request, which must not allocate for it.
pub fn unknown() -> Arc<str> {
    static SHARED: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| Arc::from(UNKNOWN)).clone()
}

impl Me {
    /// Istio's labels for traffic this proxy reports: its own side filled in, the other side
    /// `unknown` until the peer is known.
    pub fn labels(&self, outbound: bool, protocol: &'static str) -> Labels {
        let me = (
            self.workload.clone(),
            self.namespace.clone(),
            self.principal.clone(),
        );
        let other = (unknown(), unknown(), unknown());
        let (source, destination) = if outbound { (me, other) } else { (other, me) };
        Labels {
            reporter: if outbound { "source" } else { "destination" },
            source_workload: source.0,
            source_workload_namespace: source.1,
            source_principal: source.2,
            destination_workload: destination.0,
            destination_workload_namespace: destination.1,
            destination_principal: destination.2,
            destination_service: unknown(),
            request_protocol: protocol,
            response_code: 0,
            response_flags: crate::flags::Flags::default().label(),
            connection_security_policy: if outbound { UNKNOWN } else { "none" },
        }
    }
}

pub struct State {
    pub config: ProxyConfig,
    pub me: Me,
    /// Inbound authentication and authorization: the engine for this config version.
    pub security: SecurityState,
    pub services: Vec<ServiceState>,
    by_addr: HashMap<SocketAddr, (usize, usize)>,
    by_name: HashMap<String, usize>,
    clusters: HashMap<String, Arc<ClusterState>>,
    /// A gateway's listeners; `None` for a sidecar.
    pub gateway: Option<crate::gateway::GatewayState>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Model(#[from] verimesh_model::ModelError),
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Gateway(#[from] crate::gateway::GatewayStateError),
}

/// Compiles `config` as [`State::new`] would, without connecting or fetching anything: what
/// the proxy says of a config before it is ACKed to the control plane.
pub fn check_config(config: &ProxyConfig) -> Result<(), StateError> {
    State::new(config.clone(), &Pools::new(1), &JwksCache::inert()).map(drop)
}

impl State {
    /// Compiles a config for lookups; a config that fails validation or has a bad regex is
    /// refused as a whole (the caller keeps the previous one).
    pub fn new(config: ProxyConfig, pools: &Pools, jwks: &JwksCache) -> Result<Self, StateError> {
        config.validate()?;
        let security = SecurityState::new(&config, jwks);
        let clusters: HashMap<String, Arc<ClusterState>> = config
            .clusters
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), Arc::new(cluster_state(i, c, pools))))
            .collect();
        let resolve = |name: &str| match clusters.get(name) {
            Some(c) => ClusterRef::Found(c.clone()),
            None => ClusterRef::Missing(Arc::from(name)),
        };
        let mut services = Vec::with_capacity(config.services.len());
        let mut by_addr = HashMap::new();
        let mut by_name = HashMap::new();
        for (si, s) in config.services.iter().enumerate() {
            let mut ports = Vec::with_capacity(s.ports.len());
            for (pi, p) in s.ports.iter().enumerate() {
                let http_routes = p
                    .http_routes
                    .iter()
                    .map(|r| CompiledRoute::compile(r, &resolve))
                    .collect::<Result<Vec<_>, _>>()?;
                let tcp = match p.tcp_routes.first() {
                    Some(r) => WeightedTargets::new(
                        r.clusters
                            .iter()
                            .map(|w| (w.weight, resolve(&w.cluster)))
                            .collect(),
                    ),
                    None => WeightedTargets::new(vec![(1, resolve(&p.default_cluster))]),
                };
                ports.push(PortState {
                    port: p.port,
                    protocol: p.protocol,
                    http_routes,
                    default: resolve(&p.default_cluster),
                    tcp,
                });
                for a in &s.addresses {
                    by_addr
                        .entry(SocketAddr::new(*a, p.port))
                        .or_insert((si, pi));
                }
            }
            for name in std::iter::once(&s.hostname).chain(&s.aliases) {
                by_name.entry(name.to_ascii_lowercase()).or_insert(si);
            }
            services.push(ServiceState {
                hostname: Arc::from(s.hostname.as_str()),
                ports,
            });
        }
        let gateway = config
            .gateway
            .as_ref()
            .map(|g| crate::gateway::GatewayState::new(g, &resolve))
            .transpose()?;
        let w = &config.workload;
        let or_unknown = |s: &str| Arc::from(if s.is_empty() { UNKNOWN } else { s });
        let me = Me {
            workload: or_unknown(&w.name),
            namespace: or_unknown(&w.namespace),
            principal: or_unknown(&w.identity),
            peer_header: crate::http::peer_value(&w.name, &w.namespace),
        };
        Ok(Self {
            me,
            security,
            config,
            services,
            by_addr,
            by_name,
            clusters,
            gateway,
        })
    }

    /// The service port the application dialled by address.
    pub fn port_by_addr(&self, dst: SocketAddr) -> Option<(&ServiceState, &PortState)> {
        let (si, pi) = *self.by_addr.get(&dst)?;
        let s = self.services.get(si)?;
        Some((s, s.ports.get(pi)?))
    }

    /// The service port an HTTP request names in its Host (`name` or `name:port`; without a
    /// port, the port the connection was made to).
    pub fn port_by_host(&self, host: &str, dst_port: u16) -> Option<(&ServiceState, &PortState)> {
        let (name, port) = split_host_port(host);
        let port = port.unwrap_or(dst_port);
        let s = self.services.get(*self.by_name.get(name)?)?;
        Some((s, s.ports.iter().find(|p| p.port == port)?))
    }

    /// How request paths are normalized before routing and policy (the mesh's
    /// `pathNormalization`).
    pub fn path_normalization(&self) -> NormalizationType {
        self.config.security.path_normalization
    }

    pub fn cluster(&self, name: &str) -> Option<&Arc<ClusterState>> {
        self.clusters.get(name)
    }
}

/// Splits `host[:port]` (IPv6 literals in brackets); an unparsable port counts as none.
pub fn split_host_port(host: &str) -> (&str, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((addr, tail)) = rest.split_once(']') {
            return (addr, tail.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, port.parse().ok()),
        _ => (host, None),
    }
}

fn cluster_state(index: usize, c: &Cluster, pools: &Pools) -> ClusterState {
    let policy = match c.lb {
        LbPolicy::RoundRobin => Policy::RoundRobin,
        LbPolicy::LeastRequest => Policy::LeastRequest,
        LbPolicy::Random => Policy::Random,
    };
    let seed = seed() ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let endpoints = c
        .endpoints
        .iter()
        .map(|e| EndpointState {
            endpoint: e.clone(),
            identity: e.identity.as_deref().map(Arc::from),
            pool: pools.get(e.address, upstream_kind(c, e), &c.connections),
        })
        .collect();
    ClusterState {
        name: Arc::from(c.name.as_str()),
        service: Arc::from(service_of(&c.name)),
        cluster: c.clone(),
        balancer: Balancer::new(policy, seed),
        endpoints,
        loads: c.endpoints.iter().map(|_| Arc::default()).collect(),
        active_requests: AtomicU32::new(0),
        active_connections: AtomicU32::new(0),
        retries: AtomicU64::new(0),
        active_retries: AtomicU32::new(0),
        retry_overflows: AtomicU64::new(0),
    }
}

fn upstream_kind(c: &Cluster, e: &Endpoint) -> UpstreamKind {
    // Auto mTLS: only endpoints that run a mesh proxy get mesh mTLS.
    let meshed = e
        .labels
        .get(verimesh_model::TLS_MODE_LABEL)
        .is_some_and(|m| m == "istio");
    if c.auto_mtls && !meshed {
        return UpstreamKind::Plain;
    }
    match &c.transport {
        Transport::Plain => UpstreamKind::Plain,
        Transport::MeshMtls { identities } => UpstreamKind::Mesh {
            identities: match &e.identity {
                Some(id) => vec![id.clone()],
                None => identities.clone(),
            },
        },
        Transport::Tls {
            sni,
            ca_certificates,
            ..
        } => UpstreamKind::Tls {
            sni: sni.clone(),
            ca_certificates: ca_certificates.clone(),
        },
    }
}

/// `outbound|9080|v1|reviews.default.svc.cluster.local` → the hostname; other names as
/// they are.
fn service_of(cluster: &str) -> &str {
    let mut parts = cluster.split('|');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(_), Some(host)) if !host.is_empty() => host,
        _ => cluster,
    }
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use verimesh_model::{Service, ServicePort};

    #[test]
    fn finds_ports_by_address_and_by_name() {
        let cfg = ProxyConfig {
            services: vec![std::sync::Arc::new(Service {
                hostname: "echo.b.svc.cluster.local".into(),
                aliases: vec!["echo.b".into()],
                addresses: vec!["198.18.1.2".parse().unwrap()],
                ports: vec![ServicePort {
                    port: 9000,
                    default_cluster: "outbound|9000||echo.b.svc.cluster.local".into(),
                    ..Default::default()
                }],
            })],
            clusters: vec![std::sync::Arc::new(Cluster {
                name: "outbound|9000||echo.b.svc.cluster.local".into(),
                endpoints: vec![Endpoint {
                    address: "198.18.1.2:9000".parse().unwrap(),
                    identity: None,
                    labels: Default::default(),
                    weight: 1,
                }],
                ..Default::default()
            })],
            ..Default::default()
        };
        let jwks = JwksCache::new(Default::default());
        let state = State::new(cfg, &Pools::new(1), &jwks).unwrap();
        let (s, p) = state
            .port_by_addr("198.18.1.2:9000".parse().unwrap())
            .unwrap();
        assert_eq!((&*s.hostname, p.port), ("echo.b.svc.cluster.local", 9000));
        assert!(state
            .port_by_addr("198.18.1.2:9001".parse().unwrap())
            .is_none());
        assert!(state
            .port_by_addr("198.18.1.3:9000".parse().unwrap())
            .is_none());
        assert!(state.port_by_host("ECHO.b:9000", 80).is_none()); // hosts arrive lower-cased
        assert!(state.port_by_host("echo.b:9000", 80).is_some());
        assert!(state.port_by_host("echo.b", 9000).is_some());
        assert!(state.port_by_host("echo.b", 9001).is_none());
        let c = state
            .cluster("outbound|9000||echo.b.svc.cluster.local")
            .unwrap();
        assert_eq!(&*c.service, "echo.b.svc.cluster.local");
    }

    #[test]
    fn host_and_port_split() {
        assert_eq!(split_host_port("a.b:80"), ("a.b", Some(80)));
        assert_eq!(split_host_port("a.b"), ("a.b", None));
        assert_eq!(split_host_port("[::1]:8080"), ("::1", Some(8080)));
        assert_eq!(split_host_port("::1"), ("::1", None));
    }
}
