//! Incremental pushes over the real config stream: only changed resources travel, removals
//! are named, a refused delta leaves the last good config and the control plane recovers with
//! the whole config, and a proxy reconnecting to a restarted control plane gets only what
//! differs from what it holds. Assertions are on what the client received.
// Test scaffolding: a failure in a helper is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use support::config::*;
use verimesh_api::{ConfigClient, Update};
use verimesh_control::config::{HubEvent, ProxyKey, ProxyParts, SharedOutbound};
use verimesh_model::{
    Cluster, HttpAction, HttpRoute, ProxyConfig, Service, ServicePort, WeightedCluster,
};

const WEB: &str = "web.default.svc.cluster.local";
const DB: &str = "db.default.svc.cluster.local";

fn cluster_of(host: &str) -> String {
    format!("outbound|80||{host}")
}

fn service(host: &str, timeout_ms: u64, target: &str) -> Service {
    Service {
        hostname: host.into(),
        ports: vec![ServicePort {
            port: 80,
            default_cluster: cluster_of(host),
            http_routes: vec![HttpRoute {
                name: format!("{host}[0]"),
                action: HttpAction::Route {
                    clusters: vec![WeightedCluster {
                        cluster: target.into(),
                        weight: 100,
                    }],
                },
                matches: vec![],
                timeout_ms: Some(timeout_ms),
                retries: None,
                rewrite: None,
                request_headers: None,
                response_headers: None,
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Services `hosts` with their clusters; `web`'s route has `timeout_ms` and goes to `target`.
fn mesh_config(version: &str, hosts: &[&str], timeout_ms: u64, target: &str) -> Arc<ProxyConfig> {
    Arc::new(ProxyConfig {
        version: version.into(),
        services: hosts
            .iter()
            .map(|h| {
                Arc::new(if *h == WEB {
                    service(h, timeout_ms, target)
                } else {
                    service(h, 1000, &cluster_of(h))
                })
            })
            .collect(),
        clusters: hosts
            .iter()
            .map(|h| {
                Arc::new(Cluster {
                    name: cluster_of(h),
                    ..Default::default()
                })
            })
            .collect(),
        ..Default::default()
    })
}

fn good(version: &str, hosts: &[&str], timeout_ms: u64) -> Arc<ProxyConfig> {
    mesh_config(version, hosts, timeout_ms, &cluster_of(WEB))
}

fn last_update(client: &ConfigClient) -> Update {
    client.status().borrow().last_update.clone().unwrap()
}

fn web_timeout(client: &ConfigClient) -> Option<u64> {
    let config = client.current().unwrap();
    let web = config.services.iter().find(|s| s.hostname == WEB)?;
    web.ports[0].http_routes[0].timeout_ms
}

/// A connected client for `default/web-0`, synced at `v1` (web and db).
struct Synced {
    mesh: Mesh,
    hub: Arc<verimesh_control::config::ConfigHub>,
    server: verimesh_control::ControlServer,
    client: ConfigClient,
    events: tokio::sync::broadcast::Receiver<HubEvent>,
    web: ProxyKey,
}

async fn synced(name: &str) -> Synced {
    let mesh = Mesh::new(name, &[("default", "web")]);
    let hub = mesh.hub();
    let server = mesh.serve(hub.clone(), None).await;
    let web = ProxyKey::new("default", "web-0");
    let mut events = hub.events();
    hub.publish(web.clone(), good("v1", &[WEB, DB], 1000));
    let client = mesh.client(&server, mesh.credentials("default", "web"), &web);
    acked(&mut events, &web, "v1").await;
    version_of(&client, "v1").await;
    let first = last_update(&client);
    assert!(first.full, "a first connection gets the whole config");
    assert_eq!(first.resources.len(), 5, "{first:?}");
    Synced {
        mesh,
        hub,
        server,
        client,
        events,
        web,
    }
}

#[tokio::test]
async fn a_one_route_change_sends_only_that_service() {
    let mut s = synced("delta-route").await;
    s.hub.publish(s.web.clone(), good("v2", &[WEB, DB], 2000));
    acked(&mut s.events, &s.web, "v2").await;
    version_of(&s.client, "v2").await;
    let u = last_update(&s.client);
    assert!(!u.full);
    assert_eq!(
        u.resources,
        vec!["core".to_string(), format!("service/{WEB}")]
    );
    assert!(u.removed.is_empty());
    assert_eq!(web_timeout(&s.client), Some(2000));
    // The whole config is what was published (services by hostname, clusters by name).
    let mut expected = (*good("v2", &[DB, WEB], 2000)).clone();
    expected.clusters.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(*s.client.current().unwrap(), expected);
}

#[tokio::test]
async fn a_removed_service_is_named_and_dropped() {
    let mut s = synced("delta-remove").await;
    s.hub.publish(s.web.clone(), good("v2", &[WEB], 1000));
    acked(&mut s.events, &s.web, "v2").await;
    let u = last_update(&s.client);
    assert!(!u.full);
    assert_eq!(u.resources, vec!["core".to_string()]);
    assert_eq!(
        u.removed,
        vec![
            format!("cluster/{}", cluster_of(DB)),
            format!("service/{DB}")
        ]
    );
    let config = s.client.current().unwrap();
    assert_eq!(config.services.len(), 1);
    assert_eq!(config.clusters.len(), 1);
    // And back: only the service and cluster come again.
    s.hub.publish(s.web.clone(), good("v3", &[WEB, DB], 1000));
    acked(&mut s.events, &s.web, "v3").await;
    let u = last_update(&s.client);
    assert_eq!(u.resource_count, 3, "{u:?}");
    assert_eq!(s.client.current().unwrap().services.len(), 2);
}

#[tokio::test]
async fn a_refused_delta_keeps_the_last_good_config_and_the_hub_resends_it_whole() {
    let mut s = synced("delta-nack").await;
    // web's route to a cluster that does not exist: the assembled config fails validation.
    s.hub.publish(
        s.web.clone(),
        mesh_config("v2", &[WEB, DB], 2000, "missing"),
    );
    let web = s.web.clone();
    let nacked = move |e: &HubEvent| match e {
        HubEvent::Nacked {
            proxy,
            version,
            error,
        } if proxy == &web && version == "v2" => Some(error.clone()),
        _ => None,
    };
    let error = event(&mut s.events, nacked.clone()).await;
    assert!(error.contains("unknown cluster \"missing\""), "{error}");
    // The refused delta is resent as the whole config, which is refused too.
    event(&mut s.events, nacked).await;
    assert!(last_update(&s.client).full);
    assert_eq!(s.client.current().unwrap().version, "v1");
    assert_eq!(web_timeout(&s.client), Some(1000));
    let status = s.hub.proxy_status(&s.web).unwrap();
    assert_eq!(status.last_acked_version.as_deref(), Some("v1"));
    assert!(!status.in_sync());

    // A fixed config: the hub no longer knows what the proxy holds, so it sends it whole …
    s.hub.publish(s.web.clone(), good("v3", &[WEB, DB], 3000));
    acked(&mut s.events, &s.web, "v3").await;
    assert!(last_update(&s.client).full);
    assert_eq!(web_timeout(&s.client), Some(3000));
    // … and deltas resume after that ACK.
    s.hub.publish(s.web.clone(), good("v4", &[WEB, DB], 4000));
    acked(&mut s.events, &s.web, "v4").await;
    let u = last_update(&s.client);
    assert!(!u.full);
    assert_eq!(
        u.resources,
        vec!["core".to_string(), format!("service/{WEB}")]
    );
    assert!(s.hub.proxy_status(&s.web).unwrap().in_sync());
}

#[tokio::test]
async fn a_proxy_reconnecting_to_a_restarted_control_plane_gets_only_what_differs() {
    let s = synced("delta-restart").await;
    let addr = s.server.local_addr();
    drop(s.server);
    let mut status = s.client.status();
    within("the disconnect", status.wait_for(|st| !st.connected))
        .await
        .unwrap();

    // A fresh hub (nothing known of the proxy), with web's route changed.
    let hub = s.mesh.hub();
    let mut events = hub.events();
    hub.publish(s.web.clone(), good("v2", &[WEB, DB], 2000));
    let server = s.mesh.serve(hub.clone(), Some(addr)).await;
    acked(&mut events, &s.web, "v2").await;
    version_of(&s.client, "v2").await;
    let u = last_update(&s.client);
    assert!(!u.full, "the hello named what the proxy holds: {u:?}");
    assert_eq!(
        u.resources,
        vec!["core".to_string(), format!("service/{WEB}")]
    );
    assert_eq!(web_timeout(&s.client), Some(2000));
    assert!(hub.proxy_status(&s.web).unwrap().in_sync());

    // Restarted again with the same config: nothing to send but the version.
    drop(server);
    within("the disconnect", status.wait_for(|st| !st.connected))
        .await
        .unwrap();
    let hub = s.mesh.hub();
    let mut events = hub.events();
    hub.publish(s.web.clone(), good("v2", &[WEB, DB], 2000));
    let _server = s.mesh.serve(hub.clone(), Some(addr)).await;
    acked(&mut events, &s.web, "v2").await;
    let u = last_update(&s.client);
    assert!(
        !u.full && u.resources.is_empty() && u.removed.is_empty(),
        "{u:?}"
    );
    assert_eq!(s.client.status().borrow().streams, 3);
}

#[tokio::test]
async fn parts_shared_between_proxies_publish_like_whole_configs() {
    let mesh = Mesh::new("delta-parts", &[("default", "web"), ("default", "db")]);
    let hub = mesh.hub();
    let server = mesh.serve(hub.clone(), None).await;
    let web = ProxyKey::new("default", "web-0");
    let db = ProxyKey::new("default", "db-0");
    let mut events = hub.events();
    let whole = good("v1", &[WEB, DB], 1000);
    let outbound = Arc::new(SharedOutbound {
        services: whole.services.clone(),
        clusters: whole.clusters.clone(),
    });
    let parts = |version: &str, outbound: &Arc<SharedOutbound>| ProxyParts {
        core: ProxyConfig {
            version: version.into(),
            ..Default::default()
        },
        outbound: outbound.clone(),
    };
    let published = hub.publish_all_parts([
        (web.clone(), parts("v1", &outbound)),
        (db.clone(), parts("v1", &outbound)),
    ]);
    assert_eq!(published, 2);
    assert_eq!(*hub.published(&web).unwrap(), *whole);
    let web_client = mesh.client(&server, mesh.credentials("default", "web"), &web);
    let db_client = mesh.client(&server, mesh.credentials("default", "db"), &db);
    acked(&mut events, &web, "v1").await;
    acked(&mut events, &db, "v1").await;

    // One service replaced in the shared view: both proxies get just that one.
    let mut changed = (*outbound).clone();
    changed.services[0] = Arc::new(service(WEB, 2500, &cluster_of(WEB)));
    let changed = Arc::new(changed);
    hub.publish_all_parts([
        (web.clone(), parts("v2", &changed)),
        (db.clone(), parts("v2", &changed)),
    ]);
    acked(&mut events, &web, "v2").await;
    acked(&mut events, &db, "v2").await;
    for client in [&web_client, &db_client] {
        version_of(client, "v2").await;
        let u = last_update(client);
        assert_eq!(
            u.resources,
            vec!["core".to_string(), format!("service/{WEB}")]
        );
        assert_eq!(web_timeout(client), Some(2500));
    }
}
