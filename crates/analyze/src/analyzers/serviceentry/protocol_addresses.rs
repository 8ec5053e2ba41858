//! `serviceentry.ProtocolAddressesAnalyzer`: a ServiceEntry port that is TCP (or has no
//! protocol) is matched by destination address, so the entry needs `addresses`, unless Istio
//! allocates them (an address in the entry's status, or DNS capture with auto-allocation in
//! the mesh config's proxy metadata). Without one, the TCP traffic is not captured for it.

use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::mesh::MeshConfig;
use verimesh_config::yaml::{FieldPath, Value};
use verimesh_config::{Kind, Resource};

pub struct ProtocolAddressesAnalyzer;

/// Whether proxies capture DNS and allocate addresses to ServiceEntries themselves.
fn auto_allocates(mesh: &MeshConfig) -> bool {
    let Some(pc) = &mesh.default_config else {
        return false;
    };
    let on = |k: &str| pc.proxy_metadata.get(k).map(String::as_str) == Some("true");
    on("ISTIO_META_DNS_CAPTURE")
        && (on("ISTIO_META_DNS_AUTO_ALLOCATE") || on("PILOT_ENABLE_IP_AUTOALLOCATE"))
}

/// Whether the control plane has already allocated addresses (`status.addresses`).
fn allocated_in_status(r: &Resource) -> bool {
    let (node, found) = r.doc.lookup(&FieldPath::parse("status.addresses"));
    found && matches!(&node.value, Value::Seq(items) if !items.is_empty())
}

impl Analyzer for ProtocolAddressesAnalyzer {
    fn name(&self) -> &'static str {
        "serviceentry.ProtocolAddressesAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        if auto_allocates(&snap.mesh) {
            return;
        }
        for r in snap.of_kind(Kind::ServiceEntry) {
            let Some(se) = r.as_service_entry() else {
                continue;
            };
            if !se.addresses.is_empty() || allocated_in_status(r) {
                continue;
            }
            for (i, port) in se.ports.iter().enumerate() {
                let proto = port.protocol.as_deref().unwrap_or("");
                if proto.is_empty() || proto.eq_ignore_ascii_case("TCP") {
                    out.add(
                        messages::SERVICE_ENTRY_ADDRESSES_REQUIRED,
                        r,
                        &format!("spec.ports[{i}].name"),
                        format!(
                            "port {} is TCP{}, which is matched by destination address, but the entry has no addresses; \
                             add addresses, give the port an application protocol such as HTTP or TLS, or enable DNS \
                             capture with address auto-allocation",
                            port.number,
                            if proto.is_empty() { " (no protocol given)" } else { "" }
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testutil::{run, run_with_mesh};

    fn se(extra: &str) -> String {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: e, namespace: ns}}\n\
             spec:\n  hosts: [db.example.com]\n  location: MESH_EXTERNAL\n  resolution: DNS\n  \
             ports: [{{number: 5432, name: pg, protocol: tcp}}, {{number: 80, name: http, protocol: HTTP}}, {{number: 6379, name: redis}}]\n{extra}"
        )
    }

    #[test]
    fn reports_each_tcp_port_without_addresses() {
        assert_eq!(
            run(&ProtocolAddressesAnalyzer, &se("")),
            ["IST0134 ServiceEntry ns/e", "IST0134 ServiceEntry ns/e"]
        );
    }

    #[test]
    fn silent_with_addresses_allocation_or_auto_allocation() {
        let a = ProtocolAddressesAnalyzer;
        assert!(run(&a, &se("  addresses: [240.0.0.1]\n")).is_empty());
        assert!(run(
            &a,
            &se("status:\n  addresses: [{host: db.example.com, value: 240.0.0.1}]\n")
        )
        .is_empty());
        let mut mesh = MeshConfig::default();
        let mut pc = verimesh_config::mesh::ProxyConfig::default();
        pc.proxy_metadata
            .insert("ISTIO_META_DNS_CAPTURE".into(), "true".into());
        pc.proxy_metadata
            .insert("ISTIO_META_DNS_AUTO_ALLOCATE".into(), "true".into());
        mesh.default_config = Some(pc);
        assert!(run_with_mesh(&a, &se(""), mesh).is_empty());
    }
}
