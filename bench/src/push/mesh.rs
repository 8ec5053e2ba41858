//! A synthetic mesh for the push benchmark, built directly as proxy configs: services spread
//! over namespaces, each with one HTTP port, one route and a cluster of endpoints; every
//! proxy's config lists every service (no Sidecar scoping, Istio's default).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use verimesh_model::{
    Cluster, Endpoint, HttpAction, HttpMatch, HttpRoute, Inbound, InboundPort, Protocol,
    ProxyConfig, Service, ServicePort, StringMatch, Transport, WeightedCluster, Workload,
};

/// The mesh's dimensions.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub services: usize,
    pub endpoints: usize,
    pub namespaces: usize,
}

impl Shape {
    pub fn namespace(&self, service: usize) -> String {
        format!("ns-{}", service % self.namespaces.max(1))
    }
    pub fn service_name(&self, service: usize) -> String {
        format!("svc-{service}")
    }
    fn hostname(&self, service: usize) -> String {
        format!(
            "{}.{}.svc.cluster.local",
            self.service_name(service),
            self.namespace(service)
        )
    }
    fn cluster_name(&self, service: usize) -> String {
        format!("outbound|8080||{}", self.hostname(service))
    }
}

/// The part every proxy shares: all services and their clusters. `timeout_ms` is the first
/// service's route timeout, the "one route" the benchmark changes.
pub fn outbound(shape: &Shape, timeout_ms: u64) -> (Vec<Service>, Vec<Cluster>) {
    let per_service = shape.endpoints / shape.services.max(1);
    let extra = shape.endpoints % shape.services.max(1);
    let mut services = Vec::with_capacity(shape.services);
    let mut clusters = Vec::with_capacity(shape.services);
    let mut next_ip: u32 = 0;
    for s in 0..shape.services {
        let name = shape.service_name(s);
        let ns = shape.namespace(s);
        let cluster = shape.cluster_name(s);
        let vip = Ipv4Addr::from(0x0a60_0000_u32 + s as u32);
        services.push(Service {
            hostname: shape.hostname(s),
            aliases: vec![name.clone(), format!("{name}.{ns}")],
            addresses: vec![IpAddr::V4(vip)],
            ports: vec![ServicePort {
                port: 8080,
                name: "http".into(),
                protocol: Protocol::Http,
                http_routes: vec![HttpRoute {
                    name: format!("{ns}/{name}[0]"),
                    matches: vec![HttpMatch {
                        uri: Some(StringMatch::Prefix("/".into())),
                        ..Default::default()
                    }],
                    action: HttpAction::Route {
                        clusters: vec![WeightedCluster {
                            cluster: cluster.clone(),
                            weight: 100,
                        }],
                    },
                    timeout_ms: Some(if s == 0 { timeout_ms } else { 15_000 }),
                    retries: None,
                    rewrite: None,
                    request_headers: None,
                    response_headers: None,
                }],
                tcp_routes: vec![],
                default_cluster: cluster.clone(),
            }],
        });
        let count = per_service + usize::from(s < extra);
        let endpoints = (0..count)
            .map(|r| {
                next_ip += 1;
                Endpoint {
                    address: SocketAddr::new(
                        IpAddr::V4(Ipv4Addr::from(0x0a01_0000_u32 + next_ip)),
                        8080,
                    ),
                    identity: Some(format!("spiffe://cluster.local/ns/{ns}/sa/{name}")),
                    labels: BTreeMap::from([
                        ("app".to_string(), name.clone()),
                        ("version".to_string(), format!("v{}", r % 2 + 1)),
                    ]),
                    weight: 1,
                }
            })
            .collect();
        clusters.push(Cluster {
            name: cluster,
            transport: Transport::MeshMtls { identities: vec![] },
            endpoints,
            ..Default::default()
        });
    }
    (services, clusters)
}

/// The top-level part of the config of the sidecar of `service`'s workload (no services and
/// clusters: those are the shared outbound view).
pub fn proxy_core(shape: &Shape, service: usize, version: &str) -> ProxyConfig {
    let name = shape.service_name(service);
    let ns = shape.namespace(service);
    ProxyConfig {
        version: version.to_string(),
        workload: Workload {
            identity: format!("spiffe://cluster.local/ns/{ns}/sa/{name}"),
            name: name.clone(),
            namespace: ns,
            service_account: name.clone(),
            labels: BTreeMap::from([("app".to_string(), name)]),
        },
        inbound: Inbound {
            ports: vec![InboundPort {
                port: 8080,
                protocol: Protocol::Http,
                mtls: None,
            }],
            ..Default::default()
        },
        services: vec![],
        clusters: vec![],
        allow_unknown_destinations: false,
        security: Default::default(),
        gateway: None,
    }
}
