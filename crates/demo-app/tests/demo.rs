//! The demo app over real sockets on 127.0.0.1: httpbin endpoints, bookinfo's call chain with
//! versions and header propagation, and TCP echo.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use verimesh_demo_app::{serve, serve_tcp_echo, Config, Role, Upstreams};

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start(role: Role, version: &str, upstreams: Upstreams) -> SocketAddr {
    let cfg = Config {
        role,
        version: version.into(),
        http: local(),
        upstreams,
    };
    serve(cfg).await.expect("serve").addr
}

async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut req = http::Request::get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        client.request(req.body(Empty::new()).expect("request")),
    )
    .await
    .expect("in time")
    .expect("response");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httpbin_endpoints() {
    let addr = start(Role::Httpbin, "v1", Upstreams::default()).await;
    let (s, j) = get(addr, "/get?a=1&b=two", &[("x-test", "yes")]).await;
    assert_eq!(s, 200);
    assert_eq!(j["args"]["b"], "two");
    assert_eq!(j["headers"]["x-test"], "yes");
    assert_eq!(j["origin"], "127.0.0.1");
    assert_eq!(get(addr, "/status/418", &[]).await.0, 418);
    assert_eq!(get(addr, "/status/abc", &[]).await.0, 400);
    assert_eq!(
        get(addr, "/headers", &[("x-a", "1")]).await.1["headers"]["x-a"],
        "1"
    );
    assert_eq!(get(addr, "/ip", &[]).await.1["origin"], "127.0.0.1");
    assert_eq!(get(addr, "/nope", &[]).await.0, 404);
    let started = std::time::Instant::now();
    assert_eq!(get(addr, "/delay/0.3", &[]).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookinfo_chain_reports_versions_and_propagates_the_user() {
    let ratings = start(Role::Ratings, "v1", Upstreams::default()).await;
    let ups = |reviews: SocketAddr, details: SocketAddr| Upstreams {
        details: details.to_string(),
        reviews: reviews.to_string(),
        ratings: ratings.to_string(),
    };
    let details = start(Role::Details, "v1", Upstreams::default()).await;
    let reviews_v1 = start(Role::Reviews, "v1", ups(local(), details)).await;
    let reviews_v3 = start(Role::Reviews, "v3", ups(local(), details)).await;

    let page_v1 = start(Role::Productpage, "v1", ups(reviews_v1, details)).await;
    let (s, j) = get(page_v1, "/productpage", &[("end-user", "jason")]).await;
    assert_eq!(s, 200, "{j}");
    assert_eq!(j["user"], "jason");
    assert_eq!(j["details"]["body"]["version"], "v1");
    assert_eq!(j["reviews"]["body"]["version"], "v1");
    assert!(
        j["reviews"]["body"]["ratings"].is_null(),
        "reviews v1 calls no ratings"
    );

    let page_v3 = start(Role::Productpage, "v1", ups(reviews_v3, details)).await;
    let (_, j) = get(page_v3, "/productpage", &[]).await;
    assert_eq!(j["reviews"]["body"]["version"], "v3");
    assert_eq!(j["reviews"]["body"]["stars"], "red");
    assert_eq!(
        j["reviews"]["body"]["ratings"]["body"]["service"],
        "ratings"
    );

    // A dead upstream is reported, not hidden.
    let broken = start(
        Role::Productpage,
        "v1",
        Upstreams {
            details: "127.0.0.1:1".into(),
            ..ups(reviews_v1, details)
        },
    )
    .await;
    let (s, j) = get(broken, "/productpage", &[]).await;
    assert_eq!(s, 200);
    assert!(j["details"]["error"].is_string(), "{j}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_echo_prefixes_lines() {
    let (addr, _task) = serve_tcp_echo(local(), "hello".into()).await.expect("echo");
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    for word in ["world", "mesh"] {
        w.write_all(format!("{word}\n").as_bytes())
            .await
            .expect("write");
        let line = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
            .await
            .expect("in time")
            .expect("read");
        assert_eq!(line.as_deref(), Some(format!("hello {word}").as_str()));
    }
}

/// httpbin's method endpoints (Istio's authz-deny task POSTs to /post) and the ext-authz
/// role's verdicts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_endpoints_and_ext_authz() {
    let addr = start(Role::Httpbin, "v1", Upstreams::default()).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let post = http::Request::post(format!("http://{addr}/post"))
        .body(Empty::new())
        .expect("request");
    let resp = client.request(post).await.expect("response");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(get(addr, "/post", &[]).await.0, 405);

    let authz = start(Role::ExtAuthz, "v1", Upstreams::default()).await;
    assert_eq!(
        get(authz, "/headers", &[("x-ext-authz", "allow")]).await.0,
        200
    );
    assert_eq!(
        get(authz, "/headers", &[("x-ext-authz", "deny")]).await.0,
        403
    );
    assert_eq!(get(authz, "/anything", &[]).await.0, 403);
}

/// One gRPC call to the ext-authz role's gRPC port over h2c, as a proxy makes it: the HTTP
/// status, the grpc-status trailer and the decoded answer.
async fn grpc_check(
    addr: SocketAddr,
    path: &str,
    check: &verimesh_envoy_auth::CheckRequest,
) -> (
    u16,
    Option<String>,
    Option<verimesh_envoy_auth::CheckResponse>,
) {
    use http_body_util::Full;
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let req = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(verimesh_envoy_auth::encode(check)))
        .expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .expect("in time")
        .expect("response");
    let status = resp.status().as_u16();
    let collected = resp.into_body().collect().await.expect("body");
    let grpc_status = collected
        .trailers()
        .and_then(|t| t.get("grpc-status"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = collected.to_bytes();
    let answer = verimesh_envoy_auth::decode(&bytes).ok();
    (status, grpc_status, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ext_authz_grpc_flavour() {
    use verimesh_envoy_auth as pb;
    let running = verimesh_demo_app::serve_ext_authz_grpc(local())
        .await
        .expect("serve");
    let check = |value: &str| pb::CheckRequest {
        attributes: Some(pb::AttributeContext {
            request: Some(pb::Request {
                time: None,
                http: Some(pb::HttpRequest {
                    headers: [("x-ext-authz".to_string(), value.to_string())].into(),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
    };
    let (status, grpc, answer) = grpc_check(running.addr, pb::CHECK_PATH, &check("allow")).await;
    assert_eq!((status, grpc.as_deref()), (200, Some("0")));
    let answer = answer.expect("a CheckResponse");
    assert_eq!(answer.status.map(|s| s.code), Some(pb::code::OK));
    let Some(pb::check_response::HttpResponse::OkResponse(ok)) = answer.http_response else {
        panic!("ok_response expected")
    };
    let h = ok.headers[0].header.as_ref().expect("header");
    assert_eq!(
        (h.key.as_str(), h.value.as_str()),
        ("x-ext-authz-check-result", "allowed")
    );

    let (_, grpc, answer) = grpc_check(running.addr, pb::CHECK_PATH, &check("deny")).await;
    assert_eq!(grpc.as_deref(), Some("0"), "a denial is a successful call");
    let answer = answer.expect("a CheckResponse");
    assert_eq!(
        answer.status.map(|s| s.code),
        Some(pb::code::PERMISSION_DENIED)
    );
    let Some(pb::check_response::HttpResponse::DeniedResponse(d)) = answer.http_response else {
        panic!("denied_response expected")
    };
    assert_eq!(d.status.map(|s| s.code), Some(403));
    assert!(d.body.contains("`x-ext-authz: allow`"), "{}", d.body);

    // Another method is not served.
    let (_, grpc, _) = grpc_check(
        running.addr,
        "/envoy.service.auth.v3.Authorization/Other",
        &check("allow"),
    )
    .await;
    assert_eq!(grpc.as_deref(), Some("12"));
    running.task.abort();
}
