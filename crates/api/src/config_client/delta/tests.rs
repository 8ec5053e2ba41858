//! Delta application: changed resources replaced, removed ones gone, unchanged ones shared
//! with the config in force, and a delta that would leave anything invalid refused.

use super::*;
use crate::config::v1::Resource;
use verimesh_model::{HttpAction, HttpRoute, InboundPort, ServicePort, WeightedCluster};

fn cluster_name(host: &str) -> String {
    format!("outbound|80||{host}")
}

fn service(host: &str, timeout_ms: u64, target: &str) -> Service {
    Service {
        hostname: host.into(),
        ports: vec![ServicePort {
            port: 80,
            http_routes: vec![HttpRoute {
                name: format!("{host}[0]"),
                matches: vec![],
                action: HttpAction::Route {
                    clusters: vec![WeightedCluster {
                        cluster: target.into(),
                        weight: 100,
                    }],
                },
                timeout_ms: Some(timeout_ms),
                retries: None,
                rewrite: None,
                request_headers: None,
                response_headers: None,
            }],
            default_cluster: cluster_name(host),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn cluster(host: &str) -> Cluster {
    Cluster {
        name: cluster_name(host),
        ..Default::default()
    }
}

fn core(version: &str) -> ProxyConfig {
    ProxyConfig {
        version: version.into(),
        ..Default::default()
    }
}

fn resource(name: String, value: &impl serde::Serialize) -> Resource {
    let json = serde_json::to_vec(value).expect("encodes");
    Resource {
        name,
        // Content versions are opaque to the client: the JSON's length and a prefix suffice.
        version: format!(
            "{}-{}",
            json.len(),
            json.iter().map(|b| *b as u32).sum::<u32>()
        ),
        json: json.into(),
    }
}

fn svc(host: &str, timeout_ms: u64, target: &str) -> Resource {
    resource(
        ResourceName::service(host),
        &service(host, timeout_ms, target),
    )
}

fn clu(c: &Cluster) -> Resource {
    resource(ResourceName::cluster(&c.name), c)
}

fn whole_response(version: &str, hosts: &[&str]) -> ConfigResponse {
    let mut resources = vec![resource("core".into(), &core(version))];
    for h in hosts {
        resources.push(svc(h, 1000, &cluster_name(h)));
        resources.push(clu(&cluster(h)));
    }
    ConfigResponse {
        version: version.into(),
        nonce: "1".into(),
        full: true,
        resources,
        ..Default::default()
    }
}

fn delta_response(base: &str, version: &str, resources: Vec<Resource>) -> ConfigResponse {
    let mut all = vec![resource("core".into(), &core(version))];
    all.extend(resources);
    ConfigResponse {
        version: version.into(),
        nonce: "2".into(),
        full: false,
        base_version: base.into(),
        resources: all,
        removed: vec![],
    }
}

/// The config in force after a whole config of `hosts`, and its versions.
fn synced(hosts: &[&str]) -> (ProxyConfig, Versions) {
    let applied = apply(None, &Versions::new(), &whole_response("v1", hosts)).expect("applies");
    let mut held = Versions::new();
    applied.versions.commit(&mut held);
    (applied.config, held)
}

const A: &str = "a.default.svc.cluster.local";
const B: &str = "b.default.svc.cluster.local";
const C: &str = "c.default.svc.cluster.local";

fn timeout(config: &ProxyConfig, host: &str) -> Option<u64> {
    let s = config.services.iter().find(|s| s.hostname == host)?;
    s.ports[0].http_routes[0].timeout_ms
}

#[test]
fn a_changed_service_is_replaced_and_the_rest_is_shared() {
    let (current, mut held) = synced(&[A, B, C]);
    let changed = svc(B, 2000, &cluster_name(B));
    let changed_version = changed.version.clone();
    let applied = apply(
        Some(&current),
        &held,
        &delta_response("v1", "v2", vec![changed]),
    )
    .expect("applies");
    let next = &applied.config;
    assert_eq!(next.version, "v2");
    assert_eq!(timeout(next, B), Some(2000));
    assert_eq!(
        timeout(&current, B),
        Some(1000),
        "the config in force is untouched"
    );
    // Unchanged services and every cluster are the same allocations, not copies.
    assert!(Arc::ptr_eq(&next.services[0], &current.services[0]));
    assert!(!Arc::ptr_eq(&next.services[1], &current.services[1]));
    assert!(Arc::ptr_eq(&next.services[2], &current.services[2]));
    for (n, c) in next.clusters.iter().zip(&current.clusters) {
        assert!(Arc::ptr_eq(n, c));
    }
    next.validate().expect("the result is valid as a whole");
    applied.versions.commit(&mut held);
    assert_eq!(held.get(&ResourceName::service(B)), Some(&changed_version));
    assert_eq!(held.len(), 7);
}

#[test]
fn added_and_removed_resources_keep_the_order_and_versions() {
    let (current, mut held) = synced(&[A, C]);
    let mut response = delta_response(
        "v1",
        "v2",
        vec![svc(B, 1000, &cluster_name(B)), clu(&cluster(B))],
    );
    response.removed = vec![
        ResourceName::service(C),
        ResourceName::cluster(&cluster_name(C)),
    ];
    let applied = apply(Some(&current), &held, &response).expect("applies");
    let hosts: Vec<&str> = applied
        .config
        .services
        .iter()
        .map(|s| s.hostname.as_str())
        .collect();
    assert_eq!(hosts, [A, B]);
    let clusters: Vec<&str> = applied
        .config
        .clusters
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(clusters, [cluster_name(A), cluster_name(B)]);
    applied.config.validate().expect("valid");
    applied.versions.commit(&mut held);
    assert!(!held.contains_key(&ResourceName::service(C)));
    assert!(held.contains_key(&ResourceName::cluster(&cluster_name(B))));
    assert_eq!(held.len(), 5);
}

#[test]
fn removing_a_cluster_a_kept_service_names_is_refused() {
    let (current, held) = synced(&[A, B]);
    let mut response = delta_response("v1", "v2", vec![]);
    response.removed = vec![ResourceName::cluster(&cluster_name(A))];
    let err = apply(Some(&current), &held, &response)
        .expect_err("dangling")
        .to_string();
    assert!(
        err.starts_with("services[0].ports[0].defaultCluster: unknown cluster"),
        "{err}"
    );
    // Removed together with its service, it is fine.
    response.removed.push(ResourceName::service(A));
    let applied = apply(Some(&current), &held, &response).expect("applies");
    assert_eq!(applied.config.services.len(), 1);
}

#[test]
fn a_changed_service_naming_no_cluster_is_refused() {
    let (current, held) = synced(&[A, B]);
    let response = delta_response("v1", "v2", vec![svc(B, 1000, "outbound|80||nowhere")]);
    let err = apply(Some(&current), &held, &response)
        .expect_err("dangling")
        .to_string();
    assert!(
        err.contains("services[1].ports[0].httpRoutes[0].action.clusters[0].cluster")
            && err.contains("unknown cluster \"outbound|80||nowhere\""),
        "{err}"
    );
}

#[test]
fn an_invalid_cluster_or_core_in_a_delta_is_refused() {
    let (current, held) = synced(&[A]);
    let mut bad = cluster(A);
    bad.dns_endpoints = vec!["no-port".into()];
    let err = apply(
        Some(&current),
        &held,
        &delta_response("v1", "v2", vec![clu(&bad)]),
    )
    .expect_err("invalid cluster")
    .to_string();
    assert!(err.contains("clusters[0].dnsEndpoints[0]"), "{err}");

    let mut response = delta_response("v1", "v2", vec![]);
    let mut core = core("v2");
    core.inbound.ports = vec![
        InboundPort {
            port: 80,
            ..Default::default()
        };
        2
    ];
    response.resources[0] = resource("core".into(), &core);
    let err = apply(Some(&current), &held, &response)
        .expect_err("invalid core")
        .to_string();
    assert!(err.contains("port 80 listed twice"), "{err}");
}

#[test]
fn a_delta_against_another_version_or_removing_the_core_is_refused() {
    let (current, held) = synced(&[A]);
    let err = apply(Some(&current), &held, &delta_response("v0", "v2", vec![]));
    assert!(matches!(err, Err(Refusal::Basis { .. })), "{err:?}");
    let mut response = delta_response("v1", "v2", vec![]);
    response.removed = vec!["core".into()];
    let err = apply(Some(&current), &held, &response);
    assert!(matches!(err, Err(Refusal::CoreRemoved)), "{err:?}");
    let mut response = delta_response("v1", "v2", vec![svc(A, 5, &cluster_name(A))]);
    response.resources.push(svc(A, 6, &cluster_name(A)));
    let err = apply(Some(&current), &held, &response);
    assert!(matches!(err, Err(Refusal::Duplicate(_))), "{err:?}");
}

#[test]
fn a_config_not_in_name_order_is_merged_correctly() {
    // A config booted from a file need not be sorted; a delta against it still merges.
    let (mut current, held) = synced(&[A, B, C]);
    current.services.reverse();
    let applied = apply(
        Some(&current),
        &held,
        &delta_response("v1", "v2", vec![svc(B, 7, &cluster_name(B))]),
    )
    .expect("applies");
    let hosts: Vec<&str> = applied
        .config
        .services
        .iter()
        .map(|s| s.hostname.as_str())
        .collect();
    assert_eq!(hosts, [A, B, C]);
    assert_eq!(timeout(&applied.config, B), Some(7));
}

#[test]
fn removing_a_cluster_a_gateway_route_names_is_refused() {
    let (mut current, held) = synced(&[A, B]);
    let route = service(A, 1000, &cluster_name(A)).ports[0].http_routes[0].clone();
    let gateway = verimesh_model::Gateway {
        listeners: vec![verimesh_model::GatewayListener {
            port: 8080,
            virtual_hosts: vec![verimesh_model::VirtualHost {
                name: "default/a".into(),
                domains: vec!["*".into()],
                https_redirect: false,
                routes: vec![route],
            }],
            ..Default::default()
        }],
        num_trusted_proxies: 0,
    };
    current.gateway = Some(gateway.clone());
    let mut response = delta_response("v1", "v2", vec![]);
    let gateway_core = ProxyConfig {
        gateway: Some(gateway),
        ..core("v2")
    };
    response.resources[0] = resource("core".into(), &gateway_core);
    response.removed = vec![
        ResourceName::cluster(&cluster_name(A)),
        ResourceName::service(A),
    ];
    let err = apply(Some(&current), &held, &response)
        .expect_err("dangling gateway route")
        .to_string();
    assert!(
        err.starts_with(
            "gateway.listeners[0].virtualHosts[0].routes[0].action.clusters[0].cluster"
        ),
        "{err}"
    );
}
