//! The config stream over real mTLS on 127.0.0.1: the control plane's hub pushes, the proxy's
//! client validates and ACKs or NACKs, identities are checked against placements, and a
//! restarted control plane resyncs its proxies.
// Test scaffolding: a failure in a helper is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;
use support::config::*;
use support::id;
use verimesh_api::ConfigClient;
use verimesh_control::config::{HubEvent, HubOptions, ProxyKey};
use verimesh_identity::StaticCredentials;

#[tokio::test]
async fn a_waiting_proxy_gets_its_config_and_the_hub_records_the_ack() {
    let mesh = Mesh::new("cfg-push", &[("default", "web")]);
    let hub = mesh.hub();
    let server = mesh.serve(hub.clone(), None).await;
    let web = ProxyKey::new("default", "web-0");
    let mut events = hub.events();
    let client = mesh.client(&server, mesh.credentials("default", "web"), &web);
    // Connected before anything is published for it: it waits.
    event(&mut events, |e| {
        (e == &HubEvent::Connected(web.clone())).then_some(())
    })
    .await;
    assert!(client.current().is_none());
    let s = hub.proxy_status(&web).unwrap();
    assert!(s.connected && s.connected_since.is_some() && s.last_sent_version.is_none());
    assert_eq!(s.identity, Some(id("default", "web")));

    assert!(hub.publish(web.clone(), config("v1", false)));
    acked(&mut events, &web, "v1").await;
    version_of(&client, "v1").await;
    let s = hub.proxy_status(&web).unwrap();
    assert_eq!(s.last_sent_version.as_deref(), Some("v1"));
    assert_eq!(s.last_acked_version.as_deref(), Some("v1"));
    assert!(s.in_sync() && s.last_nack.is_none());
    assert_eq!(hub.status(), vec![s]);
    // Publishing the same version again sends nothing.
    assert!(!hub.publish(web.clone(), config("v1", false)));
}

#[tokio::test]
async fn an_invalid_config_is_nacked_and_the_last_good_one_stays() {
    let mesh = Mesh::new("cfg-nack", &[("default", "web")]);
    let hub = mesh.hub();
    let server = mesh.serve(hub.clone(), None).await;
    let web = ProxyKey::new("default", "web-0");
    let mut events = hub.events();
    hub.publish(web.clone(), config("v1", false));
    let client = mesh.client(&server, mesh.credentials("default", "web"), &web);
    acked(&mut events, &web, "v1").await;

    hub.publish(web.clone(), config("v2", true));
    let error = event(&mut events, |e| match e {
        HubEvent::Nacked {
            proxy,
            version,
            error,
        } if proxy == &web && version == "v2" => Some(error.clone()),
        _ => None,
    })
    .await;
    assert!(error.contains("unknown cluster \"missing\""), "{error}");
    assert_eq!(client.current().unwrap().version, "v1");
    assert_eq!(
        client.status().borrow().last_nack.as_deref(),
        Some(error.as_str())
    );
    let s = hub.proxy_status(&web).unwrap();
    assert_eq!(s.last_sent_version.as_deref(), Some("v2"));
    assert_eq!(s.last_acked_version.as_deref(), Some("v1"));
    assert_eq!(s.last_nack.as_ref().map(|n| n.version.as_str()), Some("v2"));
    assert!(!s.in_sync());

    // A fixed config goes through.
    hub.publish(web.clone(), config("v3", false));
    acked(&mut events, &web, "v3").await;
    version_of(&client, "v3").await;
}

/// The client's model checks pass a route whose regex does not compile; the proxy's own
/// compiler refuses it, and that must reach the control plane as a NACK, not an ACK for a
/// config the proxy is not running.
#[tokio::test]
async fn a_config_the_proxy_cannot_compile_is_nacked_with_its_reason() {
    let mesh = Mesh::new("cfg-check", &[("default", "web")]);
    let hub = mesh.hub();
    let server = mesh.serve(hub.clone(), None).await;
    let web = ProxyKey::new("default", "web-0");
    let mut events = hub.events();
    hub.publish(web.clone(), config("v1", false));
    let client = mesh.checking_client(&server, mesh.credentials("default", "web"), &web);
    acked(&mut events, &web, "v1").await;

    let mut bad = (*config("v2", false)).clone();
    let route: verimesh_model::HttpRoute = serde_json::from_value(serde_json::json!({
        "name": "default/web.0",
        "matches": [{ "uri": { "regex": "/api/(v1" } }],
        "action": { "type": "route", "clusters": [{ "cluster": bad.clusters[0].name }] },
    }))
    .unwrap();
    Arc::make_mut(&mut bad.services[0]).ports[0]
        .http_routes
        .push(route);
    assert!(bad.validate().is_ok(), "the client's own checks pass it");
    hub.publish(web.clone(), Arc::new(bad));
    let error = event(&mut events, |e| match e {
        HubEvent::Nacked {
            proxy,
            version,
            error,
        } if proxy == &web && version == "v2" => Some(error.clone()),
        HubEvent::Acked { proxy, version } if proxy == &web && version == "v2" => {
            panic!("a config the proxy cannot compile was ACKed")
        }
        _ => None,
    })
    .await;
    assert!(error.contains("/api/(v1"), "{error}");
    assert_eq!(client.current().unwrap().version, "v1");
    assert!(!hub.proxy_status(&web).unwrap().in_sync());

    hub.publish(web.clone(), config("v3", false));
    acked(&mut events, &web, "v3").await;
    version_of(&client, "v3").await;
}

#[tokio::test]
async fn a_proxy_of_another_identity_is_refused() {
    let mesh = Mesh::new("cfg-identity", &[("default", "web"), ("default", "db")]);
    let hub = mesh.hub();
    let server = mesh.serve(hub.clone(), None).await;
    let web = ProxyKey::new("default", "web-0");
    hub.publish(web.clone(), config("v1", false));
    let refused = |client: &ConfigClient| {
        let mut status = client.status();
        async move {
            within("a refusal", status.wait_for(|s| s.last_error.is_some()))
                .await
                .unwrap()
                .last_error
                .clone()
                .unwrap()
        }
    };
    // db's certificate asking for web's config.
    let db = mesh.client(&server, mesh.credentials("default", "db"), &web);
    let error = refused(&db).await;
    assert!(
        error.contains("PermissionDenied") && error.contains("sa/db"),
        "{error}"
    );
    // Same service account name in another namespace.
    let other = mesh.client(&server, mesh.credentials("other", "web"), &web);
    let error = refused(&other).await;
    assert!(error.contains("PermissionDenied"), "{error}");
    // A proxy the placements do not know.
    let ghost = ProxyKey::new("default", "ghost-0");
    let unknown = mesh.client(&server, mesh.credentials("default", "web"), &ghost);
    let error = refused(&unknown).await;
    assert!(error.contains("unknown proxy default/ghost-0"), "{error}");
    // No client certificate at all.
    let anonymous = mesh.client(
        &server,
        Arc::new(StaticCredentials::trust_only(
            mesh.ca.trust_bundle().clone(),
        )),
        &web,
    );
    let error = refused(&anonymous).await;
    assert!(error.contains("Unauthenticated"), "{error}");
    for c in [&db, &other, &unknown, &anonymous] {
        assert!(c.current().is_none());
    }
    let s = hub.proxy_status(&web).unwrap();
    assert!(!s.connected && s.last_sent_version.is_none());
}

#[tokio::test]
async fn a_restarted_control_plane_resyncs_its_proxies() {
    let mesh = Mesh::new("cfg-restart", &[("default", "web")]);
    let web = ProxyKey::new("default", "web-0");
    let hub = mesh.hub();
    hub.publish(web.clone(), config("v1", false));
    let server = mesh.serve(hub.clone(), None).await;
    let addr = server.local_addr();
    let client = mesh.client(&server, mesh.credentials("default", "web"), &web);
    version_of(&client, "v1").await;

    // Stop it: the client notices, keeps v1, and retries.
    drop(server);
    let mut status = client.status();
    within("the disconnect", status.wait_for(|s| !s.connected))
        .await
        .unwrap();
    assert_eq!(client.current().unwrap().version, "v1");

    // A new control plane on the same address, with a fresh hub and a newer config.
    let hub = mesh.hub();
    let mut events = hub.events();
    hub.publish(web.clone(), config("v2", false));
    let _server = mesh.serve(hub.clone(), Some(addr)).await;
    acked(&mut events, &web, "v2").await;
    version_of(&client, "v2").await;
    assert_eq!(client.status().borrow().streams, 2);
    assert!(hub.proxy_status(&web).unwrap().in_sync());
}

#[tokio::test]
async fn only_proxies_whose_version_changed_get_a_push() {
    let mesh = Mesh::new("cfg-changed", &[("default", "web"), ("default", "db")]);
    let hub = mesh.hub();
    let server = mesh.serve(hub.clone(), None).await;
    let web = ProxyKey::new("default", "web-0");
    let db = ProxyKey::new("default", "db-0");
    let mut events = hub.events();
    let v1 = config("v1", false);
    assert_eq!(
        hub.publish_all([(web.clone(), v1.clone()), (db.clone(), v1.clone())]),
        2
    );
    let web_client = mesh.client(&server, mesh.credentials("default", "web"), &web);
    let db_client = mesh.client(&server, mesh.credentials("default", "db"), &db);
    acked(&mut events, &web, "v1").await;
    acked(&mut events, &db, "v1").await;

    // A compilation that changes web's config only.
    let changed = hub.publish_all([(web.clone(), config("v2", false)), (db.clone(), v1.clone())]);
    assert_eq!(changed, 1);
    acked(&mut events, &web, "v2").await;
    version_of(&web_client, "v2").await;
    // db was sent nothing more: one config accepted, still v1, nothing sent since.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(db_client.status().borrow().accepted, 1);
    let s = hub.proxy_status(&db).unwrap();
    assert_eq!(s.last_sent_version.as_deref(), Some("v1"));
    assert!(s.in_sync());
    assert_eq!(web_client.status().borrow().accepted, 2);
}

#[tokio::test]
async fn pushes_larger_than_the_bytes_in_flight_bound_go_out_one_at_a_time() {
    // A bound of one byte: every push takes all of it, so pushes go strictly one after
    // another, and none is too large to go at all.
    let workloads = [("default", "web"), ("default", "db"), ("default", "api")];
    let mesh = Mesh::new("cfg-bytes", &workloads);
    let hub = mesh.hub_with(HubOptions {
        max_bytes_in_flight: 1,
        ..HubOptions::default()
    });
    let server = mesh.serve(hub.clone(), None).await;
    let mut events = hub.events();
    let proxies: Vec<ProxyKey> = workloads
        .iter()
        .map(|(ns, sa)| ProxyKey::new(*ns, format!("{sa}-0")))
        .collect();
    let _clients: Vec<ConfigClient> = workloads
        .iter()
        .zip(&proxies)
        .map(|((ns, sa), p)| mesh.client(&server, mesh.credentials(ns, sa), p))
        .collect();
    for version in ["v1", "v2"] {
        hub.publish_all(proxies.iter().map(|p| (p.clone(), config(version, false))));
        for p in &proxies {
            acked(&mut events, p, version).await;
        }
    }
}
