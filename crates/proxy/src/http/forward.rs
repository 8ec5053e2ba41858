//! Sending one request to one upstream endpoint: the request put in the form the wire
//! needs (HTTP/2 wants scheme and authority, HTTP/1.1 an origin-form target and a Host
//! header), hop-by-hop headers removed, and HTTP/1.1 connections returned to their pool.
//! Upgrades (WebSocket) get a connection of their own, spliced after the 101.

use crate::body::{self, Body};
use crate::upstream::{Connector, EndpointPool, UpstreamError};
use http::header::{self, HeaderMap, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version};
use hyper::body::Body as _;
use std::sync::Arc;
use std::time::Duration;

/// The HTTP version to speak to a plain (non-mesh) upstream; mesh endpoints always get
/// HTTP/2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    Http1,
    Http2,
}

/// Headers that describe one connection, never forwarded (RFC 9110 section 7.6.1).
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
];

pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most requests carry none: one pass over the names (standard ones compare as
    // integers) instead of a hashed lookup per name.
    if !headers.keys().any(|name| {
        name == header::CONNECTION
            || name == header::TRANSFER_ENCODING
            || name == header::UPGRADE
            || name == header::TE
            || name == header::TRAILER
            || name.as_str() == "keep-alive"
            || name.as_str() == "proxy-connection"
    }) {
        return;
    }
    // Names listed in Connection are hop-by-hop too.
    let listed: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    let keep_te_trailers = headers
        .get(header::TE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        });
    for name in HOP_BY_HOP
        .iter()
        .copied()
        .chain(listed.iter().map(String::as_str))
    {
        headers.remove(name);
    }
    if keep_te_trailers {
        // gRPC needs `te: trailers` end to end.
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

/// Whether the request asks to switch protocols (HTTP/1.1 Upgrade).
pub fn is_upgrade(req: &Request<Body>) -> bool {
    req.version() == Version::HTTP_11
        && req.headers().contains_key(header::UPGRADE)
        && req
            .headers()
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

/// Replaces the request's path and query (what routing and policy decided on is what is
/// forwarded); a request already carrying them is left as it is.
pub fn set_path<B>(req: &mut Request<B>, path: &str, query: Option<&str>) {
    let current = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let (p, q) = current
        .split_once('?')
        .map_or((current, None), |(p, q)| (p, Some(q)));
    if p == path && q == query {
        return;
    }
    let pq = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(p) = pq.parse() {
        parts.path_and_query = Some(p);
    }
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

/// The path and query alone (what an HTTP/1.1 request line carries), reusing the parsed
/// path rather than copying it.
fn origin_form(uri: &mut Uri) {
    if uri.scheme().is_none() && uri.authority().is_none() {
        return;
    }
    let mut parts = std::mem::take(uri).into_parts();
    parts.scheme = None;
    parts.authority = None;
    if parts.path_and_query.is_none() {
        parts.path_and_query = Some(PathAndQuery::from_static("/"));
    }
    *uri = Uri::from_parts(parts).unwrap_or_else(|_| Uri::from_static("/"));
}

/// HTTP/1.1 form: origin-form target; Host from the authority when the request came over
/// HTTP/2.
fn to_h1(req: &mut Request<Body>, authority: &str) {
    origin_form(req.uri_mut());
    *req.version_mut() = Version::HTTP_11;
    if !req.headers().contains_key(header::HOST) {
        if let Ok(v) = HeaderValue::from_str(authority) {
            req.headers_mut().insert(header::HOST, v);
        }
    }
}

/// HTTP/2 form: absolute URI carrying the authority (`:authority`); no Host header.
fn to_h2(req: &mut Request<Body>, authority: &str) {
    let uri = req.uri_mut();
    let same_authority = uri.authority().is_some_and(|a| a.as_str() == authority);
    if uri.scheme() != Some(&Scheme::HTTP) || !same_authority {
        let new_authority = if same_authority {
            None
        } else {
            authority.parse::<Authority>().ok()
        };
        // An authority that does not parse: the request goes as it came.
        if same_authority || new_authority.is_some() {
            // The parsed path and query move over; only a new authority is parsed.
            let mut parts = std::mem::take(uri).into_parts();
            parts.scheme = Some(Scheme::HTTP);
            if new_authority.is_some() {
                parts.authority = new_authority;
            }
            if parts.path_and_query.is_none() {
                parts.path_and_query = Some(PathAndQuery::from_static("/"));
            }
            // Scheme, authority and path are all set: `from_parts` accepts that.
            *uri = Uri::from_parts(parts).unwrap_or_else(|_| Uri::from_static("/"));
        }
    }
    *req.version_mut() = Version::HTTP_2;
    req.headers_mut().remove(header::HOST);
    strip_hop_by_hop(req.headers_mut());
}

/// Sends `req` to `pool`'s endpoint. `authority` is the host the request is for.
pub async fn send(
    pool: &Arc<EndpointPool>,
    connector: &Connector,
    mut req: Request<Body>,
    authority: &str,
    wire: Wire,
    connect_timeout: Duration,
) -> Result<Response<Body>, UpstreamError> {
    if pool.is_mesh() || wire == Wire::Http2 {
        let conn = pool.h2(connector, connect_timeout).await?;
        to_h2(&mut req, authority);
        return conn.send(req).await;
    }
    to_h1(&mut req, authority);
    strip_hop_by_hop(req.headers_mut());
    let (conn, reused) = pool.h1(connector, connect_timeout).await?;
    // A request without a body can be replayed on a fresh connection when a pooled one
    // turns out to have been closed by the server in the meantime.
    let replay = (reused && req.body().is_end_stream()).then(|| {
        let mut again = Request::new(body::empty());
        *again.method_mut() = req.method().clone();
        *again.uri_mut() = req.uri().clone();
        *again.version_mut() = req.version();
        *again.headers_mut() = req.headers().clone();
        again
    });
    match conn.send(req, pool).await {
        Ok(resp) => Ok(resp),
        Err(e) if e.stale && replay.is_some() => {
            let Some(again) = replay else {
                return Err(e.error);
            };
            // Boxed: rare, and it would otherwise make every request's future larger.
            Box::pin(send_fresh(pool, connector, again, connect_timeout)).await
        }
        Err(e) => Err(e.error),
    }
}

/// Sends `req` on a new HTTP/1.1 connection, pooled after.
async fn send_fresh(
    pool: &Arc<EndpointPool>,
    connector: &Connector,
    req: Request<Body>,
    connect_timeout: Duration,
) -> Result<Response<Body>, UpstreamError> {
    let fresh = pool.h1_new(connector, connect_timeout).await?;
    fresh.send(req, pool).await.map_err(|e| e.error)
}

/// Sends an upgrade request on a connection of its own and, on 101, splices the two
/// upgraded connections together.
pub async fn send_upgrade(
    pool: &Arc<EndpointPool>,
    connector: &Connector,
    mut req: Request<Body>,
    downstream: hyper::upgrade::OnUpgrade,
    authority: &str,
    connect_timeout: Duration,
) -> Result<Response<Body>, UpstreamError> {
    to_h1(&mut req, authority);
    let mut sender = pool.h1_upgrade(connector, connect_timeout).await?;
    let mut resp = sender
        .send_request(req)
        .await
        .map_err(|e| UpstreamError::from_hyper(&e))?;
    if resp.status() == http::StatusCode::SWITCHING_PROTOCOLS {
        let upstream = hyper::upgrade::on(&mut resp);
        tokio::spawn(async move {
            let (down, up) = match tokio::try_join!(downstream, upstream) {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::debug!("upgrade failed: {e}");
                    return;
                }
            };
            let mut down = hyper_util::rt::TokioIo::new(down);
            let mut up = hyper_util::rt::TokioIo::new(up);
            let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
        });
    }
    Ok(resp.map(body::incoming))
}
