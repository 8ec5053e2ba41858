//! HTTP through two proxies on loopback (no iptables: fixed original destinations): the
//! client proxy routes and balances, the hop between proxies is mTLS carrying HTTP/2, the
//! server proxy hands the caller's identity to the app in XFCC. Every test observes an
//! effect the feature causes.

mod support;

use bytes::Bytes;
use http::StatusCode;
use std::collections::HashMap;
use support::*;
use verimesh_model::{
    HeaderMatch, HttpAction, HttpMatch, HttpRoute, MtlsMode, Protocol, Redirect, Retries, Rewrite,
    ServicePort, StringMatch, WeightedCluster,
};
use verimesh_proxy::LogTarget;

/// A match on the request's URI alone.
fn uri(m: StringMatch) -> Option<HttpMatch> {
    Some(HttpMatch {
        uri: Some(m),
        ..Default::default()
    })
}

fn port(routes: Vec<HttpRoute>, default_cluster: &str) -> ServicePort {
    ServicePort {
        port: 8080,
        name: "http".into(),
        protocol: Protocol::Http,
        http_routes: routes,
        tcp_routes: vec![],
        default_cluster: default_cluster.into(),
    }
}

fn route(name: &str, m: Option<HttpMatch>, clusters: &[(&str, u32)]) -> HttpRoute {
    HttpRoute {
        name: name.into(),
        matches: m.into_iter().collect(),
        action: HttpAction::Route {
            clusters: clusters
                .iter()
                .map(|(c, w)| WeightedCluster {
                    cluster: c.to_string(),
                    weight: *w,
                })
                .collect(),
        },
        timeout_ms: None,
        retries: None,
        rewrite: None,
        request_headers: None,
        response_headers: None,
    }
}

/// A client proxy whose port routes everything to one backend (`v1`) behind a STRICT
/// server proxy; the server proxy is returned to be kept alive.
async fn one_hop(mesh: &Mesh) -> (verimesh_proxy::Proxy, verimesh_proxy::Proxy) {
    let (app, _) = backend("v1").await;
    let server = server_proxy(mesh, app, Protocol::Http, MtlsMode::Strict).await;
    let cfg = client_config(
        port(vec![], "web"),
        vec![mesh_cluster(
            "web",
            vec![endpoint(server.inbound_addr, &[])],
        )],
    );
    let client = client_proxy(mesh, cfg, LogTarget::Off).await;
    (server, client)
}

#[tokio::test]
async fn requests_cross_the_mesh_with_the_callers_identity_in_xfcc() {
    let mesh = Mesh::new();
    let (_server, client) = one_hop(&mesh).await;
    let forged = [
        (
            "x-forwarded-client-cert",
            "By=spiffe://evil;URI=spiffe://cluster.local/ns/x/sa/admin",
        ),
        ("x-verimesh-peer", "admin;kube-system"),
    ];
    let (status, headers, body) = get(client.outbound_addr, "/get", &forged).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(field(&body, "backend"), Some("v1"));
    let xfcc = field(&body, "x-forwarded-client-cert").expect("XFCC reaches the app");
    assert!(xfcc.starts_with(&format!("By={SERVER_ID};Hash=")), "{xfcc}");
    assert!(
        xfcc.ends_with(&format!(";Subject=\"\";URI={CLIENT_ID}")),
        "{xfcc}"
    );
    assert!(
        !body.contains("evil") && !body.contains("admin;kube-system"),
        "{body}"
    );
    assert!(field(&body, "x-verimesh-peer").is_none(), "{body}");
    assert!(
        field(&body, "x-request-id").is_some_and(|v| v.len() == 36),
        "{body}"
    );
    assert!(headers.get("x-verimesh-peer").is_none());
    // The app gets HTTP/1.1 with a Host header, whatever the hop between proxies spoke.
    assert_eq!(field(&body, "version"), Some("HTTP/1.1"));
    assert_eq!(field(&body, "host"), Some(HOST));
}

#[tokio::test]
async fn routes_match_headers_prefixes_and_answer_redirects_and_direct_responses() {
    let mesh = Mesh::new();
    let (app1, _) = backend("v1").await;
    let (app2, _) = backend("v2").await;
    let s1 = server_proxy(&mesh, app1, Protocol::Http, MtlsMode::Strict).await;
    let s2 = server_proxy(&mesh, app2, Protocol::Http, MtlsMode::Strict).await;
    let jason = HttpMatch {
        headers: vec![HeaderMatch {
            name: "end-user".into(),
            value: Some(StringMatch::Exact("jason".into())),
            invert: false,
        }],
        ..Default::default()
    };
    let mut api = route(
        "api",
        uri(StringMatch::Prefix("/api/".into())),
        &[("v1", 100)],
    );
    api.rewrite = Some(Rewrite {
        uri: Some("/v2/".into()),
        authority: None,
    });
    let mut moved = route("moved", uri(StringMatch::Exact("/old".into())), &[]);
    moved.action = HttpAction::Redirect(Redirect {
        uri: Some("/new".into()),
        authority: Some("elsewhere.example".into()),
        scheme: None,
        port: None,
        status: 301,
    });
    let mut teapot = route("teapot", uri(StringMatch::Regex("/tea(pot)?".into())), &[]);
    teapot.action = HttpAction::DirectResponse {
        status: 418,
        body: "short and stout".into(),
    };
    let fallback = route(
        "v1-only-get",
        Some(HttpMatch {
            method: Some(StringMatch::Exact("GET".into())),
            ..Default::default()
        }),
        &[("v1", 100)],
    );
    let routes = vec![
        route("jason", Some(jason), &[("v2", 100)]),
        api,
        moved,
        teapot,
        fallback,
    ];
    let cfg = client_config(
        port(routes, "v1"),
        vec![
            mesh_cluster("v1", vec![endpoint(s1.inbound_addr, &[("version", "v1")])]),
            mesh_cluster("v2", vec![endpoint(s2.inbound_addr, &[("version", "v2")])]),
        ],
    );
    let client = client_proxy(&mesh, cfg, LogTarget::Off).await;
    let c = client.outbound_addr;

    let (_, _, body) = get(c, "/x", &[("end-user", "jason")]).await;
    assert_eq!(field(&body, "backend"), Some("v2"));
    let (_, _, body) = get(c, "/x", &[("end-user", "bob")]).await;
    assert_eq!(field(&body, "backend"), Some("v1"));

    let (_, _, body) = get(c, "/api/items?q=1", &[]).await;
    assert_eq!(field(&body, "path"), Some("/v2/items?q=1"), "{body}");

    let (status, headers, _) = get(c, "/old?k=v", &[]).await;
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        headers.get("location").and_then(|v| v.to_str().ok()),
        Some("http://elsewhere.example/new?k=v")
    );

    let (status, _, body) = get(c, "/teapot", &[]).await;
    assert_eq!((status.as_u16(), body.as_str()), (418, "short and stout"));
    let (status, _, _) = get(c, "/teapots", &[]).await;
    assert_eq!(status, StatusCode::OK, "regexes match the whole path");

    // No route matches a DELETE to a plain path: 404 (NR).
    let (status, _, _) = send(c, http::Method::DELETE, "/x", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The path is normalized before matching: dot segments cannot dodge the prefix route.
    let (_, _, body) = get(c, "/static/../api/a", &[]).await;
    assert_eq!(field(&body, "path"), Some("/v2/a"), "{body}");
}

#[tokio::test]
async fn weights_split_traffic_and_round_robin_spreads_it() {
    let mesh = Mesh::new();
    let mut proxies = Vec::new();
    let mut eps = Vec::new();
    for name in ["a", "b", "c"] {
        let (app, _) = backend(name).await;
        let p = server_proxy(&mesh, app, Protocol::Http, MtlsMode::Strict).await;
        eps.push(endpoint(p.inbound_addr, &[]));
        proxies.push(p);
    }
    let mut rr = mesh_cluster("rr", eps.clone());
    rr.lb = verimesh_model::LbPolicy::RoundRobin;
    let heavy = mesh_cluster("heavy", vec![eps[0].clone()]);
    let light = mesh_cluster("light", vec![eps[1].clone()]);
    let routes = vec![
        route(
            "split",
            uri(StringMatch::Prefix("/split".into())),
            &[("heavy", 80), ("light", 20)],
        ),
        route("rest", None, &[("rr", 100)]),
    ];
    let cfg = client_config(port(routes, "rr"), vec![rr, heavy, light]);
    let client = client_proxy(&mesh, cfg, LogTarget::Off).await;

    let mut split: HashMap<String, u32> = HashMap::new();
    for _ in 0..500 {
        let (_, _, body) = get(client.outbound_addr, "/split", &[]).await;
        *split
            .entry(field(&body, "backend").unwrap_or("?").to_string())
            .or_default() += 1;
    }
    let heavy_share = split.get("a").copied().unwrap_or(0);
    // 80% of 500 = 400; 5 standard deviations is about ±45.
    assert!((355..=445).contains(&heavy_share), "{split:?}");
    assert_eq!(
        heavy_share + split.get("b").copied().unwrap_or(0),
        500,
        "{split:?}"
    );

    let mut spread: HashMap<String, u32> = HashMap::new();
    for _ in 0..30 {
        let (_, _, body) = get(client.outbound_addr, "/rr", &[]).await;
        *spread
            .entry(field(&body, "backend").unwrap_or("?").to_string())
            .or_default() += 1;
    }
    assert_eq!(
        spread.values().copied().collect::<Vec<_>>(),
        vec![10, 10, 10],
        "{spread:?}"
    );
}

#[tokio::test]
async fn retries_recover_from_503s_and_are_counted() {
    let mesh = Mesh::new();
    let (app, seen) = backend("v1").await;
    let server = server_proxy(&mesh, app, Protocol::Http, MtlsMode::Strict).await;
    let mut r = route("retrying", None, &[("web", 100)]);
    r.retries = Some(Retries {
        attempts: 3,
        per_try_timeout_ms: None,
        retry_on: vec!["5xx".into()],
        retriable_status_codes: vec![],
    });
    let cfg = client_config(
        port(vec![r], "web"),
        vec![mesh_cluster(
            "web",
            vec![endpoint(server.inbound_addr, &[])],
        )],
    );
    let log = mesh.dir.path().join("access.log");
    let client = client_proxy(&mesh, cfg, LogTarget::File(log.clone())).await;
    let (status, _, body) = get(client.outbound_addr, "/fail-first/2", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(seen.requests.load(std::sync::atomic::Ordering::SeqCst), 3);
    // A request that keeps failing ends with the last 503 once retries run out.
    let (status, _, _) = get(client.outbound_addr, "/status/503", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(seen.requests.load(std::sync::atomic::Ordering::SeqCst), 7);
    let stats = admin_get(client.admin_addr, "/stats").await;
    assert!(
        stats.contains("verimesh_upstream_rq_retry_total{cluster=\"web\"} 5"),
        "{stats}"
    );
    let entries = wait_for_log(&log, 2).await;
    assert_eq!(entries[0]["upstream_request_attempt_count"], 3);
    assert_eq!(entries[1]["response_flags"], "URX");
}

#[tokio::test]
async fn max_retries_caps_the_retries_outstanding_across_the_cluster() {
    let mesh = Mesh::new();
    let (app, seen) = backend("v1").await;
    let server = server_proxy(&mesh, app, Protocol::Http, MtlsMode::Strict).await;
    let mut r = route("retrying", None, &[("web", 100)]);
    r.retries = Some(Retries {
        attempts: 2,
        per_try_timeout_ms: None,
        retry_on: vec!["5xx".into()],
        retriable_status_codes: vec![],
    });
    let mut cluster = mesh_cluster("web", vec![endpoint(server.inbound_addr, &[])]);
    cluster.limits.max_retries = Some(1);
    let cfg = client_config(port(vec![r], "web"), vec![cluster]);
    let log = mesh.dir.path().join("access.log");
    let client = client_proxy(&mesh, cfg, LogTarget::File(log.clone())).await;
    // Two requests fail together, 300 ms in; one retry may be outstanding at a time, so
    // one of them retries (twice, one after the other) and the other answers at once.
    let slow_503 = "/status/503?delay=300";
    let (a, b) = tokio::join!(
        get(client.outbound_addr, slow_503, &[]),
        get(client.outbound_addr, slow_503, &[])
    );
    assert_eq!(
        (a.0, b.0),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::SERVICE_UNAVAILABLE
        )
    );
    assert_eq!(
        seen.requests.load(std::sync::atomic::Ordering::SeqCst),
        4,
        "1 + 3 tries"
    );
    let stats = admin_get(client.admin_addr, "/stats").await;
    assert!(
        stats.contains("verimesh_upstream_rq_retry_total{cluster=\"web\"} 2"),
        "{stats}"
    );
    assert!(
        stats.contains("verimesh_upstream_rq_retry_overflow_total{cluster=\"web\"} 1"),
        "{stats}"
    );
    let entries = wait_for_log(&log, 2).await;
    let mut flags: Vec<String> = entries
        .iter()
        .map(|e| e["response_flags"].as_str().unwrap_or("").to_string())
        .collect();
    flags.sort();
    assert_eq!(
        flags,
        ["UO", "URX"],
        "the capped one says overflow: {entries:?}"
    );
}

#[tokio::test]
async fn timeouts_and_upstream_failures_answer_with_envoys_flags() {
    let mesh = Mesh::new();
    let (app, _) = backend("v1").await;
    let server = server_proxy(&mesh, app, Protocol::Http, MtlsMode::Strict).await;
    let mut slow = route(
        "slow",
        uri(StringMatch::Prefix("/delay".into())),
        &[("web", 100)],
    );
    slow.timeout_ms = Some(200);
    let dead = route(
        "dead",
        uri(StringMatch::Prefix("/dead".into())),
        &[("dead", 100)],
    );
    let empty = route(
        "empty",
        uri(StringMatch::Prefix("/empty".into())),
        &[("empty", 100)],
    );
    let gone = route(
        "gone",
        uri(StringMatch::Prefix("/gone".into())),
        &[("outbound|8080|v9|web.b.svc.cluster.local", 100)],
    );
    let broken = route(
        "broken",
        uri(StringMatch::Prefix("/broken".into())),
        &[("broken", 100)],
    );
    // A plain HTTP/1.1 server whose Content-Length is not a number of digits.
    let broken_app = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let broken_addr = broken_app.local_addr().expect("addr");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut conn, _)) = broken_app.accept().await {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\nhello")
                .await;
        }
    });
    let mut broken_cluster = mesh_cluster("broken", vec![endpoint(broken_addr, &[])]);
    broken_cluster.transport = verimesh_model::Transport::Plain;
    let mut missing = mesh_cluster("outbound|8080|v9|web.b.svc.cluster.local", vec![]);
    missing.missing = Some("subset v9 is not defined".into());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_addr = closed.local_addr().expect("addr");
    drop(closed);
    let cfg = client_config(
        port(
            vec![
                slow,
                dead,
                empty,
                gone,
                broken,
                route("rest", None, &[("web", 100)]),
            ],
            "web",
        ),
        vec![
            missing,
            mesh_cluster("web", vec![endpoint(server.inbound_addr, &[])]),
            mesh_cluster("dead", vec![endpoint(closed_addr, &[])]),
            mesh_cluster("empty", vec![]),
            broken_cluster,
        ],
    );
    let log = mesh.dir.path().join("access.log");
    let client = client_proxy(&mesh, cfg, LogTarget::File(log.clone())).await;
    let c = client.outbound_addr;

    let started = std::time::Instant::now();
    let (status, _, body) = get(c, "/delay/3000", &[]).await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (504, "upstream request timeout")
    );
    assert!(started.elapsed() < std::time::Duration::from_millis(2000));

    let (status, _, body) = get(c, "/dead", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.ends_with("reset reason: connection failure"), "{body}");

    let (status, _, body) = get(c, "/empty", &[]).await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (503, "no healthy upstream")
    );

    let (status, _, _) = get(c, "/gone", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    // An application speaking broken HTTP: 502, as Envoy answers a protocol error.
    let (status, _, body) = get(c, "/broken", &[]).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(body.ends_with("reset reason: protocol error"), "{body}");

    let entries = wait_for_log(&log, 5).await;
    let flags: Vec<_> = entries
        .iter()
        .map(|e| e["response_flags"].as_str().unwrap_or("?").to_string())
        .collect();
    assert_eq!(flags, ["UT", "UF", "UH", "NC", "UPE"]);
    assert!(entries[3]["upstream_transport_failure_reason"]
        .as_str()
        .is_some_and(|r| r.contains("subset v9 is not defined")));
    assert_eq!(entries[1]["upstream_host"], closed_addr.to_string());
    assert_eq!(entries[0]["route_name"], "slow");
    assert_eq!(entries[0]["direction"], "outbound");
}

#[tokio::test]
async fn grpc_over_h2c_keeps_http2_and_trailers_end_to_end() {
    let mesh = Mesh::new();
    let (app, _) = backend("grpc").await;
    let server = server_proxy(&mesh, app, Protocol::Grpc, MtlsMode::Strict).await;
    let mut p = port(vec![], "web");
    p.protocol = Protocol::Grpc;
    let cfg = client_config(
        p,
        vec![mesh_cluster(
            "web",
            vec![endpoint(server.inbound_addr, &[])],
        )],
    );
    let client = client_proxy(&mesh, cfg, LogTarget::Off).await;
    let stream = tokio::net::TcpStream::connect(client.outbound_addr)
        .await
        .expect("connect");
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2c handshake");
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("http://{HOST}/grpc"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(http_body_util::Full::new(Bytes::from_static(b"\0\0\0\0\0")))
        .expect("request");
    let resp = sender.send_request(req).await.expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    let collected = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body");
    let trailers = collected.trailers().cloned().expect("trailers arrive");
    assert_eq!(
        trailers.get("grpc-status").and_then(|v| v.to_str().ok()),
        Some("0")
    );
    let body = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
    assert_eq!(
        field(&body, "version"),
        Some("HTTP/2.0"),
        "the app is spoken to in HTTP/2"
    );
    assert_eq!(field(&body, "te"), Some("trailers"));
}

#[tokio::test]
async fn upgrades_switch_protocols_through_both_proxies() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mesh = Mesh::new();
    let (app, _) = backend("ws").await;
    let server = server_proxy(&mesh, app, Protocol::Http, MtlsMode::Strict).await;
    let cfg = client_config(
        port(vec![], "web"),
        vec![mesh_cluster(
            "web",
            vec![endpoint(server.inbound_addr, &[])],
        )],
    );
    let client = client_proxy(&mesh, cfg, LogTarget::Off).await;
    let mut s = tokio::net::TcpStream::connect(client.outbound_addr)
        .await
        .expect("connect");
    s.write_all(
        format!("GET /ws HTTP/1.1\r\nhost: {HOST}\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n")
            .as_bytes(),
    )
    .await
    .expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut byte))
            .await
            .expect("101 in time")
            .expect("read");
        assert_eq!(
            n,
            1,
            "closed before the response head: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    s.write_all(b"ping over the upgraded connection")
        .await
        .expect("write");
    let mut got = vec![0u8; 33];
    tokio::time::timeout(std::time::Duration::from_secs(5), s.read_exact(&mut got))
        .await
        .expect("echo in time")
        .expect("read");
    assert_eq!(&got, b"ping over the upgraded connection");
}

#[tokio::test]
async fn inbound_refuses_plaintext_under_strict_and_admits_it_under_permissive() {
    let mesh = Mesh::new();
    let (app, _) = backend("v1").await;
    let strict = server_proxy(&mesh, app, Protocol::Http, MtlsMode::Strict).await;
    let permissive = server_proxy(&mesh, app, Protocol::Http, MtlsMode::Permissive).await;
    let refused = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let stream = tokio::net::TcpStream::connect(strict.inbound_addr)
            .await
            .expect("connect");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("hs");
        tokio::spawn(conn);
        let req = http::Request::builder()
            .uri("/get")
            .header("host", HOST)
            .body(http_body_util::Empty::<Bytes>::new())
            .expect("req");
        sender.send_request(req).await
    })
    .await
    .expect("in time");
    assert!(refused.is_err(), "STRICT must close a plaintext connection");
    let (status, _, body) = get(
        permissive.inbound_addr,
        "/get",
        &[("x-forwarded-client-cert", "By=forged")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        field(&body, "x-forwarded-client-cert").is_none(),
        "a plaintext caller has no identity: {body}"
    );
}

#[tokio::test]
async fn stats_count_requests_with_istio_labels_on_both_sides() {
    let mesh = Mesh::new();
    let (app, _) = backend("v1").await;
    let server = server_proxy(&mesh, app, Protocol::Http, MtlsMode::Strict).await;
    let cfg = client_config(
        port(vec![], "outbound|8080||web.b.svc.cluster.local"),
        vec![mesh_cluster(
            "outbound|8080||web.b.svc.cluster.local",
            vec![endpoint(server.inbound_addr, &[])],
        )],
    );
    let client = client_proxy(&mesh, cfg, LogTarget::Off).await;
    for _ in 0..3 {
        get(client.outbound_addr, "/get", &[]).await;
    }
    get(client.outbound_addr, "/status/418", &[]).await;
    let source = admin_get(client.admin_addr, "/stats").await;
    let line = source
        .lines()
        .find(|l| l.starts_with("istio_requests_total{") && l.contains("response_code=\"200\""))
        .unwrap_or_else(|| panic!("{source}"));
    assert!(line.ends_with(" 3"), "{line}");
    for label in [
        "reporter=\"source\"",
        "source_workload=\"client\"",
        &format!("source_principal=\"{CLIENT_ID}\""),
        "destination_workload=\"web-v1\"",
        "destination_workload_namespace=\"b\"",
        &format!("destination_principal=\"{SERVER_ID}\""),
        "destination_service=\"web.b.svc.cluster.local\"",
        "destination_service_name=\"web\"",
        "destination_service_namespace=\"b\"",
        "request_protocol=\"http\"",
    ] {
        assert!(line.contains(label), "{label} missing in {line}");
    }
    assert!(source.contains("response_code=\"418\""));
    let dest = admin_get(server.admin_addr, "/stats").await;
    let line = dest
        .lines()
        .find(|l| l.starts_with("istio_requests_total{") && l.contains("response_code=\"200\""))
        .unwrap_or_else(|| panic!("{dest}"));
    assert!(line.contains("reporter=\"destination\""), "{line}");
    assert!(
        line.contains("connection_security_policy=\"mutual_tls\""),
        "{line}"
    );
    assert!(line.contains("source_workload=\"client\""), "{line}");
    assert!(dest.contains("istio_request_duration_milliseconds_bucket{"));
}

async fn admin_get(addr: std::net::SocketAddr, path: &str) -> String {
    let (_, _, body) = get(addr, path, &[]).await;
    body
}

async fn wait_for_log(path: &std::path::Path, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..100 {
        let entries = read_log(path);
        if entries.len() >= n {
            return entries;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("fewer than {n} access-log lines in {}", path.display());
}

#[tokio::test]
async fn connection_pool_limits_overflow_with_uo() {
    let mesh = Mesh::new();
    let (app, seen) = backend("v1").await;
    let server = server_proxy(&mesh, app, Protocol::Http, MtlsMode::Strict).await;
    let mut limited = mesh_cluster("web", vec![endpoint(server.inbound_addr, &[])]);
    limited.limits.max_requests = Some(1);
    let cfg = client_config(port(vec![], "web"), vec![limited]);
    let log = mesh.dir.path().join("access.log");
    let client = client_proxy(&mesh, cfg, LogTarget::File(log.clone())).await;
    let c = client.outbound_addr;
    let slow = tokio::spawn(async move { get(c, "/delay/800", &[]).await });
    // Let the slow request take the only slot.
    for _ in 0..100 {
        if seen.requests.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (status, _, body) = get(c, "/get", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.ends_with("reset reason: overflow"), "{body}");
    let (status, _, _) = slow.await.expect("slow request");
    assert_eq!(status, StatusCode::OK);
    // The slot is free again.
    let (status, _, _) = get(c, "/get", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let entries = wait_for_log(&log, 3).await;
    assert!(
        entries.iter().any(|e| e["response_flags"] == "UO"),
        "{entries:?}"
    );
}

/// Request bodies reach the app whole whatever their framing: a small one with a length
/// (its HEADERS and DATA leave proxy A in one write), one larger than the coalescing limit,
/// a chunked one, and one whose client waits for `100 Continue` before sending it.
#[tokio::test]
async fn request_bodies_cross_the_mesh_whole_whatever_their_framing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mesh = Mesh::new();
    let (_server, client) = one_hop(&mesh).await;
    let out = client.outbound_addr;
    for len in [1024, 40 * 1024] {
        let sent: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let (status, _, body) = send(
            out,
            http::Method::POST,
            "/echo-body",
            &[],
            Bytes::from(sent.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(field(&body, "body"), Some(sent.as_str()), "{len} bytes");
    }
    let chunked = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut s = tokio::net::TcpStream::connect(out).await.expect("connect");
        let req = format!(
            "POST /echo-body HTTP/1.1\r\nhost: {HOST}\r\ntransfer-encoding: chunked\r\n\
             connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .expect("a chunked request is answered");
    assert!(chunked.starts_with("HTTP/1.1 200"), "{chunked}");
    assert_eq!(field(&chunked, "body"), Some("hello world"), "{chunked}");

    let continued = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut s = tokio::net::TcpStream::connect(out).await.expect("connect");
        let head = format!(
            "POST /echo-body HTTP/1.1\r\nhost: {HOST}\r\ncontent-length: 5\r\n\
             expect: 100-continue\r\nconnection: close\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.expect("write");
        let mut interim = [0u8; 25];
        s.read_exact(&mut interim).await.expect("100 Continue");
        s.write_all(b"hello").await.expect("write");
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
        (interim, String::from_utf8_lossy(&rest).into_owned())
    })
    .await
    .expect("a client waiting for 100 Continue is answered");
    assert_eq!(&continued.0, b"HTTP/1.1 100 Continue\r\n\r\n");
    assert!(continued.1.starts_with("HTTP/1.1 200"), "{}", continued.1);
    assert_eq!(
        field(&continued.1, "body"),
        Some("hello"),
        "{}",
        continued.1
    );
}
