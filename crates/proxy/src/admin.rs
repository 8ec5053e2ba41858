//! The admin port (localhost only): `/ready`, `/healthz`, `/config_dump` (the config in
//! force, as JSON) and `/stats` (Prometheus text), served with hyper.

use crate::server::Shared;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves until the task is aborted.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("admin accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(respond(&req, &shared)) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!("admin connection: {e}");
            }
        });
    }
}

fn respond(req: &Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    if req.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
    }
    match req.uri().path() {
        "/ready" => text(StatusCode::OK, "LIVE\n"),
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/stats" | "/stats/prometheus" => with_type(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            stats(shared).into_bytes(),
        ),
        "/config_dump" => match serde_json::to_vec_pretty(&redacted(&shared.state.load().config)) {
            Ok(body) => with_type(StatusCode::OK, "application/json", body),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
        },
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// The config as shown: gateway private keys are never served, even on localhost.
fn redacted(
    config: &verimesh_model::ProxyConfig,
) -> std::borrow::Cow<'_, verimesh_model::ProxyConfig> {
    match &config.gateway {
        None => std::borrow::Cow::Borrowed(config),
        Some(g) => {
            let mut c = config.clone();
            c.gateway = Some(g.redacted());
            std::borrow::Cow::Owned(c)
        }
    }
}

/// Istio's metrics plus per-cluster and per-worker figures of this proxy.
fn stats(shared: &Shared) -> String {
    let mut out = shared.telemetry.render_stats();
    let state = shared.state.load();
    let _ = writeln!(out, "# TYPE verimesh_upstream_rq_retry_total counter");
    for c in &state.config.clusters {
        if let Some(cs) = state.cluster(&c.name) {
            let _ = writeln!(
                out,
                "verimesh_upstream_rq_retry_total{{cluster=\"{}\"}} {}",
                c.name.replace('"', "\\\""),
                cs.retries.load(Ordering::Relaxed)
            );
        }
    }
    let _ = writeln!(
        out,
        "# TYPE verimesh_upstream_rq_retry_overflow_total counter"
    );
    for c in &state.config.clusters {
        if let Some(cs) = state.cluster(&c.name) {
            let _ = writeln!(
                out,
                "verimesh_upstream_rq_retry_overflow_total{{cluster=\"{}\"}} {}",
                c.name.replace('"', "\\\""),
                cs.retry_overflows.load(Ordering::Relaxed)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP verimesh_worker_connections Downstream connections open on each worker thread.\n\
         # TYPE verimesh_worker_connections gauge"
    );
    for (worker, open) in shared.workers.loads().iter().enumerate() {
        let _ = writeln!(
            out,
            "verimesh_worker_connections{{worker=\"{worker}\"}} {open}"
        );
    }
    out
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    with_type(status, "text/plain", body.as_bytes().to_vec())
}

fn with_type(status: StatusCode, ctype: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(ctype),
    );
    resp
}
