//! The proxy's inbound side: the ports its workload serves (the target ports of the Services,
//! and ServiceEntries with a workloadSelector, that select it, with their protocols; the first
//! service naming a port decides its protocol) and the PeerAuthentication modes in force.
//! Port-level modes apply only to ports some service exposes, as in Istio.

use crate::endpoints::EndpointSource;
use crate::placement::Instance;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use verimesh_model::{Inbound, InboundPort};

impl EndpointSource<'_, '_> {
    pub(crate) fn inbound(&self, index: usize, inst: &Instance) -> Inbound {
        let mut ports: BTreeMap<u16, InboundPort> = BTreeMap::new();
        // Services in input order, so the first one naming a port decides its protocol.
        for &si in &self.facts.selected_by[index] {
            let svc = &self.ix.services[si];
            for p in &svc.ports {
                if let Some(target) = self.target_port(inst, p) {
                    ports.entry(target).or_insert(InboundPort {
                        port: target,
                        protocol: p.protocol,
                        mtls: None,
                    });
                }
            }
        }
        let resolved = &self.facts.peer_auth[index];
        for (port, p) in ports.iter_mut() {
            p.mtls = resolved.ports.get(port).copied();
        }
        Inbound {
            app_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            mtls: resolved.mode,
            ports: ports.into_values().collect(),
        }
    }
}
