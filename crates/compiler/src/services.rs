//! Services as the compiler sees them, from Kubernetes Services (ports with Istio's protocol
//! rules, appProtocol first; exportTo from the annotation or the mesh default; VIPs from the
//! placement) and ServiceEntries (one per host; ports, target ports, addresses).

use crate::index::{Export, Index, PortDef, ServiceDef, ServiceKind, Target};
use crate::placement::Placement;
use std::net::IpAddr;
use verimesh_analyze::hosts::to_fqdn;
use verimesh_config::k8s::{self, IntOrString};
use verimesh_config::networking::ServiceEntry;
use verimesh_config::protocol::Protocol as IstioProtocol;
use verimesh_config::Resource;
use verimesh_model::Protocol;

const EXPORT_TO_ANNOTATION: &str = "networking.istio.io/exportTo";

pub(crate) fn model_protocol(p: IstioProtocol) -> Option<Protocol> {
    Some(match p {
        IstioProtocol::Http | IstioProtocol::HttpProxy => Protocol::Http,
        IstioProtocol::Http2 => Protocol::Http2,
        IstioProtocol::Grpc | IstioProtocol::GrpcWeb => Protocol::Grpc,
        IstioProtocol::Https | IstioProtocol::Tls => Protocol::Tls,
        IstioProtocol::Tcp | IstioProtocol::Mongo | IstioProtocol::Redis | IstioProtocol::Mysql => {
            Protocol::Tcp
        }
        IstioProtocol::Unsupported => Protocol::Auto,
        // The mesh proxies TCP only.
        IstioProtocol::Udp => return None,
    })
}

pub(crate) fn port16(n: impl TryInto<u16>) -> Option<u16> {
    n.try_into().ok().filter(|p: &u16| *p > 0)
}

fn kubernetes_ports(svc: &k8s::Service) -> Vec<PortDef> {
    let mut out = Vec::new();
    for p in &svc.spec.ports {
        let Some(number) = port16(p.port) else {
            continue;
        };
        let name = p.name.clone().unwrap_or_default();
        let udp = matches!(
            p.protocol,
            Some(k8s::Protocol::Udp) | Some(k8s::Protocol::Sctp)
        );
        let istio = IstioProtocol::of_service_port(p.port, &name, udp, p.app_protocol.as_deref());
        let Some(protocol) = model_protocol(istio) else {
            continue;
        };
        let target = match &p.target_port {
            None => Target::Number(number),
            Some(IntOrString::Int(n)) => Target::Number(port16(*n).unwrap_or(number)),
            Some(IntOrString::String(s)) => match s.parse::<u16>() {
                Ok(n) if n > 0 => Target::Number(n),
                _ => Target::Name(s.clone()),
            },
        };
        out.push(PortDef {
            number,
            name,
            protocol,
            target,
        });
    }
    out
}

fn entry_ports(se: &ServiceEntry) -> Vec<PortDef> {
    se.ports
        .iter()
        .filter_map(|p| {
            let number = port16(p.number)?;
            let istio = p
                .protocol
                .as_deref()
                .map_or(IstioProtocol::Unsupported, IstioProtocol::parse);
            Some(PortDef {
                number,
                name: p.name.clone(),
                protocol: model_protocol(istio)?,
                target: Target::Number(p.target_port.and_then(port16).unwrap_or(number)),
            })
        })
        .collect()
}

/// An address of a ServiceEntry: an IP, or a CIDR of exactly one address.
fn single_address(s: &str) -> Option<IpAddr> {
    match s.split_once('/') {
        None => s.parse().ok(),
        Some((ip, len)) => {
            let ip: IpAddr = ip.parse().ok()?;
            let full = if ip.is_ipv4() { "32" } else { "128" };
            (len == full).then_some(ip)
        }
    }
}

impl<'a> Index<'a> {
    fn push_service(&mut self, def: ServiceDef<'a>) {
        let next = self.host_ids.len();
        let id = *self.host_ids.entry(def.hostname.clone()).or_insert(next);
        self.service_host.push(id);
        self.services.push(def);
    }

    pub(crate) fn add_kubernetes_service(
        &mut self,
        r: &'a Resource,
        svc: &'a k8s::Service,
        ns: &str,
        placement: &Placement,
    ) {
        let list: Vec<String> = r
            .meta
            .annotations
            .get(EXPORT_TO_ANNOTATION)
            .map(|a| a.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default();
        let export = Export::new(&list, ns, &self.mesh.default_service_export_to);
        self.push_service(ServiceDef {
            hostname: to_fqdn(ns, r.name()),
            namespace: ns.to_string(),
            name: r.name().to_string(),
            kind: ServiceKind::Kubernetes {
                selector: &svc.spec.selector,
                external_name: svc
                    .spec
                    .external_name
                    .as_deref()
                    .filter(|_| matches!(svc.spec.type_, Some(k8s::ServiceType::ExternalName))),
            },
            ports: kubernetes_ports(svc),
            export,
            addresses: placement.addresses_of(ns, r.name()).to_vec(),
        });
    }

    pub(crate) fn add_service_entry(
        &mut self,
        r: &'a Resource,
        se: &'a ServiceEntry,
        ns: &str,
        placement: &Placement,
    ) {
        let export = Export::new(&se.export_to, ns, &self.mesh.default_service_export_to);
        let mut addresses: Vec<IpAddr> = se
            .addresses
            .iter()
            .filter_map(|a| single_address(a))
            .collect();
        addresses.extend(placement.addresses_of(ns, r.name()));
        addresses.sort();
        addresses.dedup();
        for host in &se.hosts {
            self.push_service(ServiceDef {
                hostname: to_fqdn(ns, host),
                namespace: ns.to_string(),
                name: r.name().to_string(),
                kind: ServiceKind::Entry(se),
                ports: entry_ports(se),
                export: export.clone(),
                addresses: addresses.clone(),
            });
        }
    }
}
