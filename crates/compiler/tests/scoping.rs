//! Focused tests of what a proxy sees and how routes compile, Istio's way: aliases, exportTo,
//! Sidecar scoping and outbound policy, VirtualService precedence and default retries,
//! caller conditions resolved per proxy, routes to missing targets, and versions. Each fails
//! if the feature it names breaks.

mod common;

use common::apps::*;
use common::*;
use verimesh_compiler::Compiler;
use verimesh_model::{HttpAction, Transport};

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
    // A proxy no rule applies to gets the default route, as if there were no VirtualService.
    let only_testers = VS_SOURCE.replace(
        "  - match:\n    - sourceNamespace: b",
        "  - match:\n    - sourceNamespace: x",
    );
    let only_testers = only_testers.replace("  - route:\n    - destination: {host: reviews, subset: v1}\n    retries", "  - match: [{sourceLabels: {role: tester}}]\n    route:\n    - destination: {host: reviews, subset: v1}\n    retries");
    let plain = compile(&format!("{DR}\n---\n{only_testers}"), "b", "ratings-0");
    let routes = &plain
        .services
        .iter()
        .find(|s| s.hostname == REVIEWS)
        .expect("s")
        .ports[0]
        .http_routes;
    assert_eq!(routes.len(), 1, "{routes:?}");
    assert_eq!(routes[0].name, "default");
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

#[test]
fn compile_all_shares_views_and_reuses_routes_only_when_destinations_agree() {
    // ratings' VirtualService (exported everywhere) routes to subset v1, which only the
    // DestinationRule private to namespace `a` defines: seen from `a` the subset exists, seen
    // from `c` the same route leads to a missing cluster.
    let extra = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: a}
spec:
  host: ratings.b.svc.cluster.local
  exportTo: ["."]
  subsets: [{name: v1, labels: {app: ratings}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: b}
spec:
  hosts: [ratings]
  http:
  - route: [{destination: {host: ratings, subset: v1}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other, namespace: c}
spec:
  replicas: 2
  selector: {matchLabels: {app: other}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: o, image: app}]
"#;
    let loaded = load_yaml(&format!("{APPS}\n---\n{extra}"));
    let snap = snapshot(&loaded.resources, &loaded);
    let placement = placement(&snap);
    let compiler = Compiler::new(&snap, &placement).expect("compiler");
    let all = compiler.compile_all();
    let get = |name: &str| all.iter().find(|p| p.name == name).expect(name);
    // One view per namespace here: the two replicas in `c` share theirs.
    assert!(std::sync::Arc::ptr_eq(
        &get("other-0").outbound,
        &get("other-1").outbound
    ));
    assert_ne!(get("other-0").version, get("other-1").version);
    let v1 = "outbound|8080|v1|ratings.b.svc.cluster.local";
    let from_a = get("reviews-v1-0").to_config();
    assert!(from_a.cluster(v1).expect("a").missing.is_none());
    let from_c = get("other-0").to_config();
    assert!(from_c.cluster(v1).expect("c").missing.is_some());
    // Each proxy's config is what compiling it alone gives.
    for p in &all {
        assert_eq!(
            p.to_config(),
            compiler.compile(&p.namespace, &p.name).expect("one")
        );
    }
}
