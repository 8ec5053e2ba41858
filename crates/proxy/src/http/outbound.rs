//! Outbound HTTP: a request from the application. Normalize the target (the same code path
//! authorization uses), find the service by Host (else by the address dialled), take the
//! first matching route, then redirect, answer directly, or send to a cluster — over mesh
//! mTLS (HTTP/2, multiplexed) or plain — with the route's rewrite, headers, timeout and
//! retries. Every request is logged and counted when its response ends.

use super::forward::{self, Wire};
use super::headers;
use super::request::{self, Direction, Exchange};
use super::respond::Local;
use super::retry::{self, Plan};
use crate::body::Body;
use crate::routes::{Action, CompiledRoute, RouteInput};
use crate::server::Shared;
use crate::state::{ClusterRef, PortState, State};
use crate::upstream::UpstreamKind;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use verimesh_model::{ConnectionOptions, Protocol, Redirect};

/// One application connection to the outbound listener.
pub struct OutboundConn {
    pub remote: SocketAddr,
    pub dst: SocketAddr,
    /// The application speaks HTTP/2 on this connection.
    pub h2: bool,
}

pub async fn handle(
    shared: Arc<Shared>,
    conn: Arc<OutboundConn>,
    req: Request<Incoming>,
) -> Response<Body> {
    let state = shared.state.load_full();
    let mut ex = Exchange::begin(
        Direction::Outbound,
        &state,
        conn.remote,
        conn.dst,
        req,
        shared.telemetry.log.enabled(),
    );
    let resp = match ex.take_target() {
        Ok(target) => route(&shared, &state, &conn, &mut ex, target).await,
        Err(local) => ex.local(local, &state),
    };
    ex.finish(resp, &shared.telemetry)
}

async fn route(
    shared: &Arc<Shared>,
    state: &Arc<State>,
    conn: &OutboundConn,
    ex: &mut Exchange,
    target: verimesh_policy::normalize::Target,
) -> Response<Body> {
    let found = state
        .port_by_host(&ex.authority, conn.dst.port())
        .or_else(|| state.port_by_addr(conn.dst));
    let Some((service, port)) = found else {
        // Boxed, as are the other rare paths below: the request's future stays small.
        return Box::pin(passthrough(shared, state, conn, ex, &target)).await;
    };
    ex.record.labels.destination_service = service.hostname.clone();
    ex.log(|e| e.destination_service = Some(service.hostname.to_string()));
    route_port(shared, state, conn, ex, target, port, None).await
}

/// Routes a request by one port's routes (a service port, or a gateway's virtual host):
/// the first matching route decides; `claims` are the verified JWT's, for claim matches.
pub(super) async fn route_port(
    shared: &Arc<Shared>,
    state: &Arc<State>,
    conn: &OutboundConn,
    ex: &mut Exchange,
    target: verimesh_policy::normalize::Target,
    port: &PortState,
    claims: Option<&serde_json::Value>,
) -> Response<Body> {
    let (route, prefix) = match pick_route(port, ex, &target, claims) {
        Ok(r) => r,
        Err(local) => return ex.local(local, state),
    };
    if let Some(r) = route {
        ex.log(|e| e.route_name = Some(r.name.to_string()));
    }
    let destination = match route.map(|r| &r.action) {
        None => port.default.clone(),
        Some(Action::Redirect(r)) => return redirect(r, ex, &target),
        Some(Action::Direct { status, body }) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::OK);
            let mut resp = Response::new(crate::body::full(body.clone()));
            *resp.status_mut() = status;
            return resp;
        }
        Some(Action::Route(targets)) => match targets.pick(crate::rand::next()) {
            Some(c) => c.clone(),
            None => return ex.local(Local::no_healthy_upstream(), state),
        },
    };
    let cluster = match destination {
        ClusterRef::Found(c) if c.cluster.missing.is_none() => c,
        ClusterRef::Found(c) => {
            let why = c.cluster.missing.clone().unwrap_or_default();
            return ex.local(Local::no_cluster(&format!("{} ({why})", c.name)), state);
        }
        ClusterRef::Missing(name) => return ex.local(Local::no_cluster(&name), state),
    };
    ex.log(|e| e.upstream_cluster = Some(cluster.name.to_string()));
    if ex.record.labels.destination_service.as_ref() == crate::state::UNKNOWN {
        // Not found by Host (a gateway's virtual host): the service is the route's.
        ex.record.labels.destination_service = cluster.service.clone();
        ex.log(|e| e.destination_service = Some(cluster.service.to_string()));
    }
    let mut req = ex.take_request();
    let path = rewritten_path(route, prefix.as_deref(), &target);
    forward::set_path(&mut req, &path, target.query.as_deref());
    // Nothing reads the exchange's authority after routing.
    let mut authority = std::mem::take(&mut ex.authority);
    if let Some(a) = route
        .and_then(|r| r.rewrite.as_ref())
        .and_then(|r| r.authority.clone())
    {
        authority = a;
        req.headers_mut().remove(header::HOST);
    }
    headers::apply(
        route.and_then(|r| r.request_headers.as_ref()),
        req.headers_mut(),
    );
    if let Some(v) = &state.me.peer_header {
        req.headers_mut().insert(headers::PEER, v.clone());
    }
    if conn.h2 {
        req.headers_mut()
            .insert(headers::DOWNSTREAM_H2, HeaderValue::from_static("h2"));
    }
    let wire = match port.protocol {
        Protocol::Http2 | Protocol::Grpc => Wire::Http2,
        Protocol::Auto if conn.h2 => Wire::Http2,
        _ => Wire::Http1,
    };
    if cluster.cluster.original_destination {
        ex.log(|e| e.upstream_host = Some(conn.dst.to_string()));
        return Box::pin(to_original(shared, state, conn, ex, req, &authority, wire)).await;
    }
    if forward::is_upgrade(&req) {
        return Box::pin(request::upgrade_to_cluster(
            shared, ex, &cluster, req, &authority,
        ))
        .await;
    }
    let attempted = retry::send(
        Plan {
            cluster: &cluster,
            connector: &shared.connector,
            authority: &authority,
            wire,
            retries: route.and_then(|r| r.retries.as_ref()),
            timeout: route.and_then(|r| r.timeout),
        },
        req,
    )
    .await;
    let resp = ex.upstream_result(attempted, state);
    let mut resp = resp;
    headers::apply(
        route.and_then(|r| r.response_headers.as_ref()),
        resp.headers_mut(),
    );
    resp
}

/// The first route that matches; no configured routes means the port's default cluster.
#[allow(clippy::type_complexity)]
fn pick_route<'a>(
    port: &'a PortState,
    ex: &Exchange,
    target: &verimesh_policy::normalize::Target,
    claims: Option<&serde_json::Value>,
) -> Result<(Option<&'a CompiledRoute>, Option<String>), Local> {
    if port.http_routes.is_empty() {
        return Ok((None, None));
    }
    let input = RouteInput {
        path: &target.path,
        method: ex.method.as_str(),
        authority: &ex.authority,
        headers: ex.headers(),
        query: target.query.as_deref(),
        claims,
    };
    for r in &port.http_routes {
        if let Some(prefix) = r.matches(&input) {
            return Ok((Some(r), prefix.map(str::to_string)));
        }
    }
    Err(Local::no_route())
}

/// The path to forward: the matched prefix (or, for other matches, the whole path)
/// replaced by the route's URI rewrite.
fn rewritten_path<'a>(
    route: Option<&'a CompiledRoute>,
    prefix: Option<&str>,
    target: &'a verimesh_policy::normalize::Target,
) -> Cow<'a, str> {
    let Some(new) = route
        .and_then(|r| r.rewrite.as_ref())
        .and_then(|r| r.uri.as_deref())
    else {
        return Cow::Borrowed(&target.path);
    };
    match prefix {
        Some(p) if target.path.len() >= p.len() => {
            let rest = target.path.get(p.len()..).unwrap_or("");
            Cow::Owned(format!("{new}{rest}"))
        }
        _ => Cow::Borrowed(new),
    }
}

fn redirect(
    r: &Redirect,
    ex: &Exchange,
    target: &verimesh_policy::normalize::Target,
) -> Response<Body> {
    let (host, port) = crate::state::split_host_port(&ex.authority);
    let scheme = r.scheme.as_deref().unwrap_or("http");
    let host = r.authority.clone().unwrap_or_else(|| host.to_string());
    let port = match (r.port, port, &r.authority) {
        (Some(p), _, _) => format!(":{p}"),
        (None, Some(p), None) => format!(":{p}"),
        _ => String::new(),
    };
    let path = r.uri.clone().unwrap_or_else(|| target.path.clone());
    let query = target
        .query
        .as_deref()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let location = format!("{scheme}://{host}{port}{path}{query}");
    let mut resp = Response::new(crate::body::empty());
    *resp.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::MOVED_PERMANENTLY);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// A destination no service claims: sent as it is to where it was going when unknown
/// destinations are allowed (Istio's PassthroughCluster), else refused (BlackHoleCluster).
async fn passthrough(
    shared: &Arc<Shared>,
    state: &Arc<State>,
    conn: &OutboundConn,
    ex: &mut Exchange,
    target: &verimesh_policy::normalize::Target,
) -> Response<Body> {
    if !state.config.allow_unknown_destinations {
        ex.log(|e| e.upstream_cluster = Some("BlackHoleCluster".into()));
        ex.log(|e| e.route_name = Some("block_all".into()));
        return ex.local(Local::new(StatusCode::BAD_GATEWAY, None, ""), state);
    }
    ex.log(|e| e.upstream_cluster = Some("PassthroughCluster".into()));
    ex.log(|e| e.upstream_host = Some(conn.dst.to_string()));
    let mut req = ex.take_request();
    forward::set_path(&mut req, &target.path, target.query.as_deref());
    let wire = if conn.h2 { Wire::Http2 } else { Wire::Http1 };
    let authority = std::mem::take(&mut ex.authority);
    to_original(shared, state, conn, ex, req, &authority, wire).await
}

/// Sends the request, as it is, to the address the application dialled.
async fn to_original(
    shared: &Arc<Shared>,
    state: &Arc<State>,
    conn: &OutboundConn,
    ex: &mut Exchange,
    req: Request<Body>,
    authority: &str,
    wire: Wire,
) -> Response<Body> {
    let pool = shared
        .pools
        .get(conn.dst, UpstreamKind::Plain, &ConnectionOptions::default());
    let sent = forward::send(
        &pool,
        &shared.connector,
        req,
        authority,
        wire,
        std::time::Duration::from_secs(10),
    )
    .await;
    match sent {
        Ok(resp) => resp,
        Err(e) => ex.local(Local::upstream(&e), state),
    }
}
