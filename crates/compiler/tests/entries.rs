//! ServiceEntries: resolution (STATIC endpoints, WorkloadEntries by workloadSelector, DNS,
//! NONE), location, addresses and ports; each test fails if the feature it names breaks.

mod common;

use common::apps::*;
use verimesh_model::{Protocol, Transport, TLS_MODE_LABEL};

const ENTRIES: &str = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vms, namespace: a}
spec:
  hosts: [vm.internal]
  addresses: [240.0.0.10/32, 240.0.1.0/24]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8000, name: http, protocol: HTTP, targetPort: 9000}]
  endpoints:
  - {address: 192.0.2.1, labels: {security.istio.io/tlsMode: istio}, serviceAccount: vm}
  - {address: 192.0.2.2, ports: {http: 9100}, weight: 3}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vm-group, namespace: a}
spec:
  hosts: [vm-group.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8000, name: http, protocol: HTTP, targetPort: 9000}]
  workloadSelector: {labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-3, namespace: a}
spec:
  address: 192.0.2.3
  labels: {app: vm, security.istio.io/tlsMode: istio}
  serviceAccount: vm
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: passthrough, namespace: a}
spec:
  hosts: ["*.example.org"]
  location: MESH_EXTERNAL
  resolution: NONE
  ports: [{number: 443, name: tls, protocol: TLS}]
"#;

#[test]
fn static_entries_with_inline_endpoints_and_workload_entries() {
    let cfg = compile(ENTRIES, "a", "client-0");
    let svc = cfg
        .services
        .iter()
        .find(|s| s.hostname == "vm.internal")
        .expect("vm");
    // Only single addresses are service addresses; a /24 is not.
    assert_eq!(
        svc.addresses,
        ["240.0.0.10".parse::<std::net::IpAddr>().expect("ip")]
    );
    assert!(svc.aliases.is_empty());
    assert_eq!(svc.ports[0].protocol, Protocol::Http);
    let c = cfg.cluster("outbound|8000||vm.internal").expect("cluster");
    let eps: Vec<(String, Option<&str>, u32)> = c
        .endpoints
        .iter()
        .map(|e| (e.address.to_string(), e.identity.as_deref(), e.weight))
        .collect();
    assert_eq!(
        eps,
        [
            (
                "192.0.2.1:9000".into(),
                Some("spiffe://cluster.local/ns/a/sa/vm"),
                1
            ),
            ("192.0.2.2:9100".into(), None, 3),
        ]
    );
    // Auto mTLS: one endpoint runs a proxy (tlsMode istio), the other does not.
    assert!(c.auto_mtls);
    assert!(matches!(c.transport, Transport::MeshMtls { .. }));
    assert_eq!(c.endpoints[0].labels[TLS_MODE_LABEL], "istio");
    assert!(!c.endpoints[1].labels.contains_key(TLS_MODE_LABEL));
    // The workloadSelector picks WorkloadEntries of the entry's namespace.
    let group = cfg
        .cluster("outbound|8000||vm-group.internal")
        .expect("group");
    let addrs: Vec<String> = group
        .endpoints
        .iter()
        .map(|e| e.address.to_string())
        .collect();
    assert_eq!(addrs, ["192.0.2.3:9000"]);
    assert!(!group.auto_mtls);
    assert!(matches!(group.transport, Transport::MeshMtls { .. }));
}

#[test]
fn resolution_none_passes_through_to_the_original_destination() {
    let cfg = compile(ENTRIES, "a", "client-0");
    let c = cfg.cluster("outbound|443||*.example.org").expect("cluster");
    assert!(c.original_destination);
    assert!(c.endpoints.is_empty());
    assert_eq!(c.transport, Transport::Plain, "outside the mesh: no mTLS");
    let svc = cfg
        .services
        .iter()
        .find(|s| s.hostname == "*.example.org")
        .expect("svc");
    assert_eq!(svc.ports[0].protocol, Protocol::Tls);
    assert!(
        svc.ports[0].http_routes.is_empty(),
        "TLS is not routed as HTTP"
    );
}

#[test]
fn dns_resolution_uses_endpoint_names() {
    let dns = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: b}
spec:
  hosts: [db.example.com]
  resolution: DNS
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  endpoints: [{address: db-1.example.com}, {address: db-2.example.com}]
"#;
    let cfg = compile(dns, "a", "client-0");
    let c = cfg
        .cluster("outbound|5432||db.example.com")
        .expect("cluster");
    assert_eq!(
        c.dns_endpoints,
        ["db-1.example.com:5432", "db-2.example.com:5432"]
    );
    // Without endpoints, the host itself is resolved.
    let bare = dns.replace(
        "  endpoints: [{address: db-1.example.com}, {address: db-2.example.com}]\n",
        "",
    );
    let bare = bare.replace("resolution: DNS", "resolution: DNS_ROUND_ROBIN");
    let c = compile(&bare, "a", "client-0");
    let c = c.cluster("outbound|5432||db.example.com").expect("cluster");
    assert_eq!(c.dns_endpoints, ["db.example.com:5432"]);
}
