//! A gateway's listeners compiled for serving: per port, its TLS servers and its virtual
//! hosts with compiled routes. Part of `State`, so it is swapped with the rest of a config.

use super::tls::{GatewayTlsError, TlsServer};
use crate::routes::{CompiledRoute, RouteError, WeightedTargets};
use crate::state::{ClusterRef, PortState};
use std::sync::Arc;
use verimesh_model::{domain_rank, Gateway, ListenerProtocol, Protocol};

#[derive(Debug, thiserror::Error)]
pub enum GatewayStateError {
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("gateway listener {port}: {error}")]
    Tls { port: u16, error: GatewayTlsError },
}

pub struct HostState {
    /// Where it came from, for the access log.
    pub name: Arc<str>,
    domains: Vec<String>,
    pub https_redirect: bool,
    /// The routes, in the shape outbound routing uses (no default: an unmatched request
    /// is 404 NR).
    pub routes: PortState,
}

pub struct ListenerState {
    pub port: u16,
    pub https: bool,
    pub tls: Vec<TlsServer>,
    hosts: Vec<HostState>,
}

impl ListenerState {
    /// The virtual host for a request's host (lower-case; a port is ignored): exact domains
    /// first, then the longest wildcard; the first listed wins a tie.
    pub fn host(&self, authority: &str) -> Option<&HostState> {
        let (host, _) = crate::state::split_host_port(authority);
        let mut best: Option<(usize, &HostState)> = None;
        for h in &self.hosts {
            let rank = h.domains.iter().filter_map(|d| domain_rank(d, host)).max();
            if let Some(r) = rank {
                if best.is_none_or(|(b, _)| r > b) {
                    best = Some((r, h));
                }
            }
        }
        best.map(|(_, h)| h)
    }
}

pub struct GatewayState {
    pub listeners: Vec<ListenerState>,
    pub num_trusted_proxies: u32,
}

impl GatewayState {
    pub fn new(
        g: &Gateway,
        resolve: &dyn Fn(&str) -> ClusterRef,
    ) -> Result<GatewayState, GatewayStateError> {
        let mut listeners = Vec::with_capacity(g.listeners.len());
        for l in &g.listeners {
            let tls = l
                .tls
                .iter()
                .map(TlsServer::new)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| GatewayStateError::Tls {
                    port: l.port,
                    error,
                })?;
            let mut hosts = Vec::with_capacity(l.virtual_hosts.len());
            for vh in &l.virtual_hosts {
                let http_routes = vh
                    .routes
                    .iter()
                    .map(|r| CompiledRoute::compile(r, resolve))
                    .collect::<Result<Vec<_>, _>>()?;
                hosts.push(HostState {
                    name: Arc::from(vh.name.as_str()),
                    domains: vh.domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
                    https_redirect: vh.https_redirect,
                    routes: PortState {
                        port: l.port,
                        protocol: Protocol::Http,
                        http_routes,
                        default: ClusterRef::Missing(Arc::from("no route")),
                        tcp: WeightedTargets::new(Vec::new()),
                    },
                });
            }
            listeners.push(ListenerState {
                port: l.port,
                https: l.protocol == ListenerProtocol::Https,
                tls,
                hosts,
            });
        }
        Ok(GatewayState {
            listeners,
            num_trusted_proxies: g.num_trusted_proxies,
        })
    }

    pub fn listener(&self, port: u16) -> Option<&ListenerState> {
        self.listeners.iter().find(|l| l.port == port)
    }
}
