//! The HTTP server: HTTP/1.1 and HTTP/2 (h2c) on one port.

use crate::client::Caller;
use crate::reply::{self, Body};
use crate::{bookinfo, ext_authz, httpbin, Config, DemoError, Role};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Request bodies above this are refused rather than buffered.
const MAX_BODY: usize = 1 << 20;

/// A started server: its bound address and the task running it (abort it to stop).
pub struct Running {
    pub addr: SocketAddr,
    pub task: JoinHandle<()>,
}

/// Binds `addr`; the listener and the address it got (a port 0 becomes the real one).
pub(crate) async fn listen(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), DemoError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| DemoError::Listen { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| DemoError::Listen { addr, source })?;
    Ok((listener, bound))
}

pub async fn serve(cfg: Config) -> Result<Running, DemoError> {
    let (listener, addr) = listen(cfg.http).await?;
    let cfg = Arc::new(cfg);
    let caller = Caller::new();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let cfg = cfg.clone();
            let caller = caller.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let cfg = cfg.clone();
                    let caller = caller.clone();
                    async move { Ok::<_, Infallible>(route(&cfg, &caller, req, peer).await) }
                });
                // A client that goes away mid-request is not an error worth reporting.
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(Running { addr, task })
}

async fn route(
    cfg: &Config,
    caller: &Caller,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return reply::text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n"),
    };
    let head = Request::from_parts(parts, ());
    // The authorizer judges every path (Envoy sends the checked request's own path).
    if cfg.role == Role::ExtAuthz {
        return ext_authz::check(head.headers());
    }
    let mut resp = match bookinfo::handle(cfg, caller, head.uri().path(), head.headers()).await {
        Some(r) => r,
        None => match httpbin::handle(&head, peer, &body).await {
            Some(r) => r,
            None if head.uri().path() == "/health" => reply::text(StatusCode::OK, "ok\n"),
            None => reply::text(StatusCode::NOT_FOUND, "no such endpoint\n"),
        },
    };
    let served_by = format!("{}-{}", cfg.role.name(), cfg.version);
    if let Ok(v) = http::HeaderValue::from_str(&served_by) {
        resp.headers_mut().insert("x-served-by", v);
    }
    resp
}
