//! Focused tests of connection policy: DestinationRule subsets, port-level and subset
//! traffic policies, TLS modes, auto mTLS, and PeerAuthentication precedence on the inbound
//! side. Each fails if the feature it names breaks.

mod common;

use common::apps::*;
use common::{load_yaml, placement, snapshot};
use verimesh_compiler::Compiler;
use verimesh_compiler::Placement;
use verimesh_model::{Http2Keepalive, LbPolicy, MtlsMode, TcpKeepalive, Transport, TLS_MODE_LABEL};

#[test]
fn destination_rule_subsets_and_port_level_settings() {
    let cfg = compile(DR, "a", "client-0");
    let c = |n: &str| cfg.cluster(n).unwrap_or_else(|| panic!("no cluster {n}"));
    let plain = c("outbound|9080||reviews.a.svc.cluster.local");
    assert_eq!(plain.lb, LbPolicy::RoundRobin);
    assert_eq!(plain.limits.max_connections, Some(10));
    assert_eq!(plain.limits.max_requests, Some(20));
    assert_eq!(plain.limits.max_pending_requests, Some(5));
    assert_eq!(plain.connect_timeout_ms, 3000);
    assert_eq!(plain.endpoints.len(), 2);
    // Port-level settings replace the whole policy: RANDOM, and no limits inherited.
    let admin = c("outbound|9090||reviews.a.svc.cluster.local");
    assert_eq!(admin.lb, LbPolicy::Random);
    assert_eq!(admin.limits.max_connections, None);
    assert_eq!(admin.connect_timeout_ms, 10_000);
    // The named target port resolves to the container port.
    assert_eq!(admin.endpoints[0].address.port(), 9991);
    let v1 = c("outbound|9080|v1|reviews.a.svc.cluster.local");
    assert_eq!(v1.endpoints.len(), 1);
    assert_eq!(v1.endpoints[0].labels["version"], "v1");
    assert_eq!(v1.limits.max_connections, Some(10));
    // The subset's policy overrides field by field; its port level setting wholesale.
    let v2_admin = c("outbound|9090|v2|reviews.a.svc.cluster.local");
    assert_eq!(v2_admin.limits.max_connections, Some(99));
    assert_eq!(v2_admin.lb, LbPolicy::Random);
    let v2 = c("outbound|9080|v2|reviews.a.svc.cluster.local");
    assert_eq!(v2.transport, Transport::Plain);
    assert_eq!(
        v2.lb,
        LbPolicy::LeastRequest,
        "port level: defaults, not inherited"
    );
    assert_eq!(v2.limits.max_connections, None);
}

#[test]
fn connection_pool_keepalives_and_retirement_reach_the_cluster() {
    let dr = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: a}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp:
        tcpKeepalive: {time: 60s, interval: 10s, probes: 3}
        maxConnectionDuration: 600s
        idleTimeout: 30s
      http:
        idleTimeout: 90s
        maxRequestsPerConnection: 100
        http2KeepAlive: {interval: 5s, timeout: 1s}
        maxRetries: 3
        h2UpgradePolicy: UPGRADE
    portLevelSettings:
    - port: {number: 9090}
      loadBalancer: {simple: RANDOM}
"#;
    let loaded = load_yaml(&format!("{APPS}\n---\n{dr}"));
    let snap = snapshot(&loaded.resources, &loaded);
    let placement = placement(&snap);
    let compiler = Compiler::new(&snap, &placement).expect("compiler");
    let cfg = compiler.compile("a", "client-0").expect("compile");
    let c = |n: &str| cfg.cluster(n).unwrap_or_else(|| panic!("no cluster {n}"));
    let o = &c("outbound|9080||reviews.a.svc.cluster.local").connections;
    assert_eq!(
        o.tcp_keepalive,
        Some(TcpKeepalive {
            time_ms: Some(60_000),
            interval_ms: Some(10_000),
            probes: Some(3)
        })
    );
    assert_eq!(o.max_connection_duration_ms, Some(600_000));
    assert_eq!(o.tcp_idle_timeout_ms, Some(30_000));
    assert_eq!(o.http_idle_timeout_ms, Some(90_000));
    assert_eq!(o.max_requests_per_connection, Some(100));
    assert_eq!(
        o.http2_keepalive,
        Some(Http2Keepalive {
            interval_ms: 5_000,
            timeout_ms: 1_000
        })
    );
    // Port-level settings replace the policy whole: the defaults there.
    assert!(c("outbound|9090||reviews.a.svc.cluster.local")
        .connections
        .is_default());
    assert_eq!(
        c("outbound|9080||reviews.a.svc.cluster.local")
            .limits
            .max_retries,
        Some(3)
    );
    let notes = compiler.notes();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("connectionPool.http.h2UpgradePolicy")),
        "what the proxy does not do is named: {notes:?}"
    );
}

#[test]
fn destination_rule_tls_modes() {
    let dr = |mode: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: r, namespace: a}}\nspec:\n  host: ratings.b.svc.cluster.local\n  trafficPolicy:\n    tls: {{{mode}}}\n"
        )
    };
    let t = |mode: &str| {
        compile(&dr(mode), "a", "client-0")
            .cluster("outbound|8080||ratings.b.svc.cluster.local")
            .expect("cluster")
            .transport
            .clone()
    };
    assert_eq!(t("mode: DISABLE"), Transport::Plain);
    assert_eq!(
        t("mode: ISTIO_MUTUAL"),
        Transport::MeshMtls { identities: vec![] }
    );
    assert_eq!(
        t("mode: SIMPLE, caCertificates: /ca.pem"),
        Transport::Tls {
            sni: RATINGS.into(),
            ca_certificates: Some("/ca.pem".into()),
            client_certificate: None,
            private_key: None,
            subject_alt_names: vec![],
        }
    );
    assert_eq!(
        t("mode: MUTUAL, sni: r.example, clientCertificate: /c.pem, privateKey: /k.pem"),
        Transport::Tls {
            sni: "r.example".into(),
            ca_certificates: None,
            client_certificate: Some("/c.pem".into()),
            private_key: Some("/k.pem".into()),
            subject_alt_names: vec![],
        }
    );
}

#[test]
fn auto_mtls_follows_sidecars_and_peer_authentication() {
    // All endpoints with sidecars: mesh mTLS.
    let cfg = compile("", "a", "client-0");
    let ratings = "outbound|8080||ratings.b.svc.cluster.local";
    assert!(matches!(
        cfg.cluster(ratings).expect("c").transport,
        Transport::MeshMtls { .. }
    ));
    // No sidecar at the endpoint: plain text.
    let no_sidecar = |p: &mut Placement| {
        for i in &mut p.instances {
            if i.namespace == "b" {
                i.sidecar = false;
            }
        }
    };
    let cfg = compile_with("", "a", "client-0", no_sidecar);
    assert_eq!(cfg.cluster(ratings).expect("c").transport, Transport::Plain);
    // The destination's PeerAuthentication disables mTLS: plain text.
    let pa = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: b}\nspec:\n  mtls: {mode: DISABLE}\n";
    let cfg = compile(pa, "a", "client-0");
    assert_eq!(cfg.cluster(ratings).expect("c").transport, Transport::Plain);
    // Mixed endpoints: mesh mTLS with auto_mtls, the meshed endpoints labelled.
    let one_without = |p: &mut Placement| {
        for i in &mut p.instances {
            if i.name == "reviews-v2-0" {
                i.sidecar = false;
            }
        }
    };
    let cfg = compile_with("", "a", "client-0", one_without);
    let c = cfg
        .cluster("outbound|9080||reviews.a.svc.cluster.local")
        .expect("c");
    assert!(c.auto_mtls);
    assert!(matches!(c.transport, Transport::MeshMtls { .. }));
    let labelled: Vec<bool> = c
        .endpoints
        .iter()
        .map(|e| e.labels.contains_key(TLS_MODE_LABEL))
        .collect();
    assert_eq!(labelled, [true, false]);
}

#[test]
fn peer_authentication_precedence() {
    let pas = r#"
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: mesh, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ns, namespace: a}
spec: {mtls: {mode: UNSET}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: reviews, namespace: a}
spec:
  selector: {matchLabels: {app: reviews}}
  mtls: {mode: PERMISSIVE}
  portLevelMtls:
    "9991": {mode: DISABLE}
    "9080": {mode: UNSET}
"#;
    let reviews = compile(pas, "a", "reviews-v1-0");
    assert_eq!(
        reviews.inbound.mtls,
        MtlsMode::Permissive,
        "workload beats mesh"
    );
    assert_eq!(
        reviews.inbound.mtls_on(9991),
        MtlsMode::Disable,
        "port level by target port"
    );
    assert_eq!(
        reviews.inbound.port(9080).and_then(|p| p.mtls),
        None,
        "UNSET port inherits"
    );
    assert_eq!(
        reviews
            .inbound
            .ports
            .iter()
            .map(|p| p.port)
            .collect::<Vec<_>>(),
        [9080, 9991]
    );
    // The namespace policy is UNSET: the mesh-wide STRICT is inherited.
    let client = compile(pas, "a", "client-0");
    assert_eq!(client.inbound.mtls, MtlsMode::Strict);
    let ratings = compile("", "b", "ratings-0");
    assert_eq!(
        ratings.inbound.mtls,
        MtlsMode::Permissive,
        "Istio's default"
    );
}
