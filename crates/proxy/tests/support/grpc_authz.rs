//! A gRPC external authorizer (Envoy's `Authorization/Check` over h2c) for CUSTOM policy
//! tests. It records every CheckRequest and answers by the checked request's headers:
//! `x-ext-authz: allow` is OK, asking for `x-ext-authz-check-result: allowed` (set) and
//! `x-added: yes` (appended) upstream, `x-secret` removed, and `x-down: yes` for the caller;
//! anything else is PERMISSION_DENIED with HTTP 401, body `denied by test` and
//! `x-ext-authz-check-result: denied`. `x-slow: 1` delays the answer by two seconds.

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use verimesh_envoy_auth as pb;

pub type Checks = Arc<Mutex<Vec<pb::CheckRequest>>>;

pub async fn grpc_authz_server() -> (SocketAddr, Checks) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("test setup");
    let addr = l.local_addr().expect("test setup");
    let seen: Checks = Arc::default();
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = l.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let s = s.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(req, &s).await) }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, seen)
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

async fn answer(req: Request<Incoming>, seen: &Checks) -> Response<Body> {
    assert_eq!(req.uri().path(), pb::CHECK_PATH);
    assert_eq!(req.headers()["content-type"], "application/grpc");
    let bytes = req.into_body().collect().await.expect("body").to_bytes();
    let check: pb::CheckRequest = pb::decode(&bytes).expect("a CheckRequest");
    let headers = check
        .attributes
        .as_ref()
        .and_then(|a| a.request.as_ref())
        .and_then(|r| r.http.as_ref())
        .map(|h| h.headers.clone())
        .unwrap_or_default();
    if let Ok(mut s) = seen.lock() {
        s.push(check);
    }
    if headers.contains_key("x-slow") {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let status = |code| {
        Some(pb::Status {
            code,
            message: String::new(),
        })
    };
    let reply = if headers.get("x-ext-authz").is_some_and(|v| v == "allow") {
        let mut added = pb::HeaderValueOption::set("x-added", "yes");
        added.append = Some(true);
        pb::CheckResponse {
            status: status(pb::code::OK),
            http_response: Some(pb::check_response::HttpResponse::OkResponse(
                pb::OkHttpResponse {
                    headers: vec![
                        pb::HeaderValueOption::set("x-ext-authz-check-result", "allowed"),
                        added,
                    ],
                    headers_to_remove: vec!["x-secret".into()],
                    response_headers_to_add: vec![pb::HeaderValueOption::set("x-down", "yes")],
                },
            )),
        }
    } else {
        pb::CheckResponse {
            status: status(pb::code::PERMISSION_DENIED),
            http_response: Some(pb::check_response::HttpResponse::DeniedResponse(
                pb::DeniedHttpResponse {
                    status: Some(pb::HttpStatus { code: 401 }),
                    headers: vec![pb::HeaderValueOption::set(
                        "x-ext-authz-check-result",
                        "denied",
                    )],
                    body: "denied by test".into(),
                },
            )),
        }
    };
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "0".parse().expect("static"));
    let body = Full::new(pb::encode(&reply))
        .with_trailers(std::future::ready(Some(Ok(trailers))))
        .boxed();
    let mut resp = Response::new(body);
    resp.headers_mut()
        .insert("content-type", "application/grpc".parse().expect("static"));
    resp
}
