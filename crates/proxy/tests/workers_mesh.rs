//! Proxies with two worker threads (Istio's concurrency 2): accepted connections go to the
//! least-loaded worker, each worker keeps its own connections to upstreams, and requests
//! served on either worker are counted in the one set of metrics.

mod support;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::*;
use verimesh_model::{MtlsMode, Protocol, ServicePort};
use verimesh_proxy::{start, LogTarget, ProxyOptions};

const CLUSTER: &str = "outbound|8080||web.b.svc.cluster.local";

async fn keep_alive(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

async fn get_on(sender: &mut SendRequest<Full<Bytes>>) -> (StatusCode, String) {
    let req = Request::get("/get")
        .header("host", HOST)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
        .await
        .expect("response in time")
        .expect("response");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn stats(admin: SocketAddr) -> String {
    get(admin, "/stats", &[]).await.2
}

fn worker_connections(stats: &str) -> Vec<String> {
    stats
        .lines()
        .filter(|l| l.starts_with("verimesh_worker_connections{"))
        .map(str::to_owned)
        .collect()
}

/// Polls the admin endpoint until `done` holds for its /stats, for at most two seconds.
async fn stats_until(admin: SocketAddr, done: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = stats(admin).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("/stats never reached the expected state:\n{last}");
}

#[tokio::test]
async fn connections_spread_over_workers_each_with_its_own_upstream_connections() {
    let mesh = Mesh::new();
    let (app, seen) = backend("v1").await;
    let two = |orig: SocketAddr| ProxyOptions {
        workers: 2,
        ..options(orig, LogTarget::Off)
    };
    let server = start(
        server_config(app, Protocol::Http, MtlsMode::Strict),
        mesh.creds(SERVER_ID),
        two(app),
    )
    .await
    .expect("server proxy");
    let port = ServicePort {
        port: 8080,
        name: "http".into(),
        protocol: Protocol::Http,
        http_routes: vec![],
        tcp_routes: vec![],
        default_cluster: CLUSTER.into(),
    };
    let cfg = client_config(
        port,
        vec![mesh_cluster(
            CLUSTER,
            vec![endpoint(server.inbound_addr, &[])],
        )],
    );
    let client = start(
        cfg,
        mesh.creds(CLIENT_ID),
        two(VIP.parse().expect("static")),
    )
    .await
    .expect("client proxy");

    // Two application connections open at once: one on each of the client's workers.
    let mut apps = vec![
        keep_alive(client.outbound_addr).await,
        keep_alive(client.outbound_addr).await,
    ];
    for _ in 0..3 {
        for app in &mut apps {
            let (status, body) = get_on(app).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(field(&body, "backend"), Some("v1"), "{body}");
        }
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 6);
    let both_busy = [
        "verimesh_worker_connections{worker=\"0\"} 1",
        "verimesh_worker_connections{worker=\"1\"} 1",
    ];
    let source = stats(client.admin_addr).await;
    assert_eq!(worker_connections(&source), both_busy, "{source}");
    // Each client worker opened its own HTTP/2 connection to the server proxy (pools are
    // per worker), and the server spread those two over its own workers.
    let dest = stats(server.admin_addr).await;
    assert_eq!(worker_connections(&dest), both_busy, "{dest}");
    // Requests recorded on either worker land in the same series.
    let counted = |s: &str| {
        s.lines().any(|l| {
            l.starts_with("istio_requests_total{")
                && l.contains("response_code=\"200\"")
                && l.ends_with(" 6")
        })
    };
    stats_until(client.admin_addr, counted).await;
    stats_until(server.admin_addr, counted).await;

    drop(apps);
    let idle = [
        "verimesh_worker_connections{worker=\"0\"} 0",
        "verimesh_worker_connections{worker=\"1\"} 0",
    ];
    stats_until(client.admin_addr, |s| worker_connections(s) == idle).await;
}
