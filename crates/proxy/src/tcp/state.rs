//! What connections read: the config, and per cluster its balancer and endpoint loads.
//! Built once from a validated `ProxyConfig`; lookups take no lock.

use crate::lb::{Balancer, EndpointLoad, Policy};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use verimesh_model::{Cluster, LbPolicy, ProxyConfig};

pub struct ClusterState {
    pub cluster: Cluster,
    pub balancer: Balancer,
    pub loads: Vec<Arc<EndpointLoad>>,
}

pub struct State {
    pub config: ProxyConfig,
    clusters: HashMap<String, ClusterState>,
}

impl State {
    pub fn new(config: ProxyConfig) -> Self {
        let clusters = config
            .clusters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let policy = match c.lb {
                    LbPolicy::RoundRobin => Policy::RoundRobin,
                    LbPolicy::LeastRequest => Policy::LeastRequest,
                    LbPolicy::Random => Policy::Random,
                };
                let seed = seed() ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let state = ClusterState {
                    cluster: c.clone(),
                    balancer: Balancer::new(policy, seed),
                    loads: c.endpoints.iter().map(|_| Arc::default()).collect(),
                };
                (c.name.clone(), state)
            })
            .collect();
        Self { config, clusters }
    }

    /// The cluster serving a destination the application dialled: the service with that
    /// address and port, its port's default cluster.
    pub fn route(&self, dst: SocketAddr) -> Option<&ClusterState> {
        let port = self
            .config
            .services
            .iter()
            .filter(|s| s.addresses.contains(&dst.ip()))
            .find_map(|s| s.ports.iter().find(|p| p.port == dst.port()))?;
        self.clusters.get(&port.default_cluster)
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
    use verimesh_model::{Endpoint, Service, ServicePort};

    #[test]
    fn routes_by_service_address_and_port() {
        let cfg = ProxyConfig {
            services: vec![Service {
                hostname: "echo.b.svc.cluster.local".into(),
                addresses: vec!["198.18.1.2".parse().unwrap()],
                ports: vec![ServicePort {
                    port: 9000,
                    default_cluster: "echo".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            clusters: vec![Cluster {
                name: "echo".into(),
                endpoints: vec![Endpoint {
                    address: "198.18.1.2:9000".parse().unwrap(),
                    identity: None,
                    labels: Default::default(),
                    weight: 1,
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let state = State::new(cfg);
        let hit = state.route("198.18.1.2:9000".parse().unwrap()).unwrap();
        assert_eq!(hit.cluster.name, "echo");
        assert_eq!(hit.loads.len(), 1);
        assert!(state.route("198.18.1.2:9001".parse().unwrap()).is_none());
        assert!(state.route("198.18.1.3:9000".parse().unwrap()).is_none());
    }
}
