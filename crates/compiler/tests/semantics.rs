//! Focused tests of Istio semantics: each names the feature it guards and fails if it breaks.

mod common;

use common::*;
use verimesh_compiler::{Compiler, Placement};
use verimesh_model::{HttpAction, LbPolicy, MtlsMode, ProxyConfig, Transport, TLS_MODE_LABEL};

const APPS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: a}
spec:
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
  - {name: tcp-admin, port: 9090, targetPort: admin}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v1, namespace: a}
spec:
  selector: {matchLabels: {app: reviews, version: v1}}
  template:
    metadata: {labels: {app: reviews, version: v1}}
    spec:
      serviceAccountName: reviews
      containers:
      - name: r
        image: app
        ports: [{containerPort: 9080}, {name: admin, containerPort: 9991}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v2, namespace: a}
spec:
  selector: {matchLabels: {app: reviews, version: v2}}
  template:
    metadata: {labels: {app: reviews, version: v2}}
    spec:
      serviceAccountName: reviews
      containers:
      - name: r
        image: app
        ports: [{containerPort: 9080}, {name: admin, containerPort: 9991}]
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: b}
spec:
  selector: {app: ratings}
  ports: [{name: http, port: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ratings, namespace: b}
spec:
  selector: {matchLabels: {app: ratings}}
  template:
    metadata: {labels: {app: ratings}}
    spec:
      containers: [{name: r, image: app, ports: [{containerPort: 8080}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: a}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client, role: tester}}
    spec:
      containers: [{name: c, image: app}]
"#;

fn compile_with(extra: &str, ns: &str, name: &str, tweak: impl Fn(&mut Placement)) -> ProxyConfig {
    let loaded = load_yaml(&format!("{APPS}\n---\n{extra}"));
    let snap = snapshot(&loaded.resources, &loaded);
    let mut placement = placement(&snap);
    tweak(&mut placement);
    Compiler::new(&snap, &placement)
        .expect("compiler")
        .compile(ns, name)
        .expect("compile")
}

fn compile(extra: &str, ns: &str, name: &str) -> ProxyConfig {
    compile_with(extra, ns, name, |_| {})
}

fn hosts(cfg: &ProxyConfig) -> Vec<&str> {
    cfg.services.iter().map(|s| s.hostname.as_str()).collect()
}

const REVIEWS: &str = "reviews.a.svc.cluster.local";
const RATINGS: &str = "ratings.b.svc.cluster.local";

#[test]
fn aliases_short_name_only_in_the_same_namespace() {
    let cfg = compile("", "a", "client-0");
    let reviews = cfg
        .services
        .iter()
        .find(|s| s.hostname == REVIEWS)
        .expect("reviews");
    assert_eq!(reviews.aliases, ["reviews", "reviews.a", "reviews.a.svc"]);
    let ratings = cfg
        .services
        .iter()
        .find(|s| s.hostname == RATINGS)
        .expect("ratings");
    assert_eq!(ratings.aliases, ["ratings.b", "ratings.b.svc"]);
}

#[test]
fn export_to_scopes_services() {
    let mut yaml = APPS.replace(
        "metadata: {name: ratings, namespace: b}",
        "metadata: {name: ratings, namespace: b, annotations: {networking.istio.io/exportTo: \".\"}}",
    );
    yaml.push_str("\n---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: b}\nspec:\n  hosts: [api.example.com]\n  exportTo: [a]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  resolution: DNS\n");
    let loaded = load_yaml(&yaml);
    let snap = snapshot(&loaded.resources, &loaded);
    let placement = placement(&snap);
    let c = Compiler::new(&snap, &placement).expect("compiler");
    let in_a = c.compile("a", "client-0").expect("a");
    assert_eq!(hosts(&in_a), ["api.example.com", REVIEWS]);
    let ext = in_a
        .cluster("outbound|443||api.example.com")
        .expect("ext cluster");
    assert_eq!(ext.dns_endpoints, ["api.example.com:443"]);
    assert_eq!(ext.transport, Transport::Plain);
    let in_b = c.compile("b", "ratings-0").expect("b");
    assert_eq!(hosts(&in_b), [RATINGS, REVIEWS]);
}

#[test]
fn sidecar_egress_hosts_scope_services_and_outbound_policy() {
    let sidecar = r#"
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: a}
spec:
  egress:
  - hosts: ["./*"]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: testers, namespace: a}
spec:
  workloadSelector: {labels: {role: tester}}
  egress:
  - hosts: ["b/*"]
"#;
    // The workload-selector Sidecar beats the namespace-wide one.
    let tester = compile(sidecar, "a", "client-0");
    assert_eq!(hosts(&tester), [RATINGS]);
    assert!(tester.allow_unknown_destinations, "mesh default ALLOW_ANY");
    let other = compile(sidecar, "a", "reviews-v1-0");
    assert_eq!(hosts(&other), [REVIEWS]);
    assert!(!other.allow_unknown_destinations, "Sidecar REGISTRY_ONLY");
    let none = compile(&sidecar.replace("./*", "~/*"), "a", "reviews-v1-0");
    assert!(none.services.is_empty());
}

const DR: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: a}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool:
      tcp: {maxConnections: 10, connectTimeout: 3s}
      http: {http2MaxRequests: 20, http1MaxPendingRequests: 5}
    portLevelSettings:
    - port: {number: 9090}
      loadBalancer: {simple: RANDOM}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      connectionPool:
        tcp: {maxConnections: 99}
      portLevelSettings:
      - port: {number: 9080}
        tls: {mode: DISABLE}
"#;

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

const VS_SOURCE: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: a}
spec:
  hosts: [reviews]
  http:
  - match:
    - sourceLabels: {role: tester}
    route:
    - destination: {host: reviews, subset: v2}
  - match:
    - sourceNamespace: b
      uri: {prefix: /b}
    route:
    - destination: {host: reviews, subset: v1}
  - route:
    - destination: {host: reviews, subset: v1}
    retries: {attempts: 5, retryOn: "5xx,429", perTryTimeout: 1s}
    timeout: 3s
"#;

#[test]
fn source_labels_and_namespace_resolve_per_proxy() {
    let yaml = format!("{DR}\n---\n{VS_SOURCE}");
    let tester = compile(&yaml, "a", "client-0");
    let routes = &tester
        .services
        .iter()
        .find(|s| s.hostname == REVIEWS)
        .expect("s")
        .ports[0]
        .http_routes;
    // The tester matches the first rule unconditionally; the sourceNamespace rule is gone.
    assert_eq!(routes.len(), 2);
    assert!(routes[0].matches.is_empty());
    assert!(
        matches!(&routes[0].action, HttpAction::Route { clusters } if clusters[0].cluster == "outbound|9080|v2|reviews.a.svc.cluster.local")
    );
    let r = routes[1].retries.as_ref().expect("retries");
    assert_eq!((r.attempts, r.per_try_timeout_ms), (5, Some(1000)));
    assert_eq!(r.retry_on, ["5xx", "retriable-status-codes"]);
    assert_eq!(r.retriable_status_codes, [429]);
    assert_eq!(routes[1].timeout_ms, Some(3000));
    let from_b = compile(&yaml, "b", "ratings-0");
    let routes = &from_b
        .services
        .iter()
        .find(|s| s.hostname == REVIEWS)
        .expect("s")
        .ports[0]
        .http_routes;
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[0].name, "a/reviews[1]");
    assert!(
        matches!(&routes[0].matches[0].uri, Some(verimesh_model::StringMatch::Prefix(p)) if p == "/b")
    );
    // The VirtualService applies to HTTP ports only; the TCP port keeps its cluster.
    let tcp = &from_b
        .services
        .iter()
        .find(|s| s.hostname == REVIEWS)
        .expect("s")
        .ports[1];
    assert!(tcp.http_routes.is_empty() && tcp.tcp_routes.is_empty());
}

#[test]
fn missing_subset_or_host_compiles_to_a_not_found_cluster() {
    let vs = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: a}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v9}
      weight: 50
    - destination: {host: nowhere}
      weight: 50
"#;
    let cfg = compile(&format!("{DR}\n---\n{vs}"), "a", "client-0");
    let missing = cfg
        .cluster("outbound|9080|v9|reviews.a.svc.cluster.local")
        .expect("v9");
    assert!(missing.endpoints.is_empty());
    assert!(
        missing
            .missing
            .as_deref()
            .is_some_and(|m| m.contains("subset \"v9\"")),
        "{missing:?}"
    );
    let nowhere = cfg
        .cluster("outbound|9080||nowhere.a.svc.cluster.local")
        .expect("nowhere");
    assert!(nowhere.missing.is_some());
    // The existing subsets are real clusters, not missing ones.
    assert!(cfg
        .cluster("outbound|9080|v1|reviews.a.svc.cluster.local")
        .expect("v1")
        .missing
        .is_none());
    cfg.validate().expect("the proxy accepts it");
}

#[test]
fn first_virtual_service_wins_and_default_retries_apply() {
    let two = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: first, namespace: a}
spec:
  hosts: [reviews.a.svc.cluster.local]
  http:
  - route: [{destination: {host: reviews, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: second, namespace: a}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v2}}]
"#;
    let cfg = compile(&format!("{DR}\n---\n{two}"), "a", "client-0");
    let routes = &cfg
        .services
        .iter()
        .find(|s| s.hostname == REVIEWS)
        .expect("s")
        .ports[0]
        .http_routes;
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].name, "a/first[0]");
    let r = routes[0].retries.as_ref().expect("Istio's default retries");
    assert_eq!(r.attempts, 2);
    assert_eq!(
        r.retry_on,
        [
            "connect-failure",
            "refused-stream",
            "unavailable",
            "cancelled",
            "retriable-status-codes"
        ]
    );
    assert_eq!(r.retriable_status_codes, [503]);
}

#[test]
fn versions_are_deterministic_content_hashes() {
    let a = compile(DR, "a", "client-0");
    let b = compile(DR, "a", "client-0");
    assert_eq!(a.version, b.version);
    assert_eq!(a.version.len(), 32);
    // Another proxy of the same view: a different version (its workload differs).
    let other = compile(DR, "a", "reviews-v1-0");
    assert_ne!(a.version, other.version);
    // A change that touches this proxy's config changes its version...
    let changed = compile(
        &DR.replace("maxConnections: 10", "maxConnections: 11"),
        "a",
        "client-0",
    );
    assert_ne!(a.version, changed.version);
    // ...and one that does not (a rule in a namespace it cannot see) keeps it.
    let hidden = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x, namespace: b}\nspec:\n  hosts: [ratings]\n  exportTo: [\".\"]\n  http:\n  - route: [{destination: {host: ratings}}]\n    timeout: 1s\n";
    let same = compile(&format!("{DR}\n---\n{hidden}"), "a", "client-0");
    assert_eq!(a.version, same.version);
    let seen_in_b = compile(&format!("{DR}\n---\n{hidden}"), "b", "ratings-0");
    assert_ne!(compile(DR, "b", "ratings-0").version, seen_in_b.version);
}

#[test]
fn proxies_without_sidecar_or_unknown_are_errors() {
    let loaded = load_yaml(APPS);
    let snap = snapshot(&loaded.resources, &loaded);
    let mut placement = placement(&snap);
    placement.instances[0].sidecar = false;
    let first = placement.instances[0].clone();
    let c = Compiler::new(&snap, &placement).expect("compiler");
    assert!(matches!(
        c.compile(&first.namespace, &first.name),
        Err(verimesh_compiler::CompileError::NoSidecar { .. })
    ));
    assert!(matches!(
        c.compile("a", "nope"),
        Err(verimesh_compiler::CompileError::UnknownInstance { .. })
    ));
    assert_eq!(c.compile_all().len(), placement.instances.len() - 1);
}
