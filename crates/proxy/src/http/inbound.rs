//! Inbound HTTP: a request for the application, from another proxy over mesh mTLS (HTTP/2
//! or, for upgrades, HTTP/1.1) or from a plaintext caller the port's mTLS mode admits.
//! Mesh-internal headers a caller sent are removed; the verified caller's identity is given
//! to the application in XFCC; the request goes to the application on the original port.

use super::authz;
use super::forward::{self, Wire};
use super::headers;
use super::request::{Direction, Exchange};
use super::respond::Local;
use crate::body::Body;
use crate::security;
use crate::server::Shared;
use crate::upstream::EndpointPool;
use http::header::HeaderValue;
use http::{Request, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use verimesh_model::Protocol;

const APP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The verified mesh peer of an inbound connection.
pub struct Peer {
    pub identity: Arc<str>,
    /// The XFCC value the application receives, computed once per connection.
    pub xfcc: Option<HeaderValue>,
}

pub struct InboundConn {
    /// The connection as authorization sees it (verified peer, addresses, port).
    pub policy: verimesh_policy::Connection,
    pub remote: SocketAddr,
    pub dst: SocketAddr,
    pub peer: Option<Peer>,
    /// The application's port, reached on the workload's app address.
    pub app: Arc<EndpointPool>,
    /// The caller speaks HTTP/2 (as proxies do; plaintext callers may too).
    pub h2: bool,
}

/// The XFCC value for a verified peer: `By` is this workload's identity.
pub fn xfcc_for(
    state: &crate::state::State,
    peer_cert_der: &[u8],
    peer_id: &str,
) -> Option<HeaderValue> {
    headers::xfcc(&state.me.principal, peer_cert_der, peer_id)
}

/// Handles one request; `B` is the server's body type (hyper's, or an `h2` stream's).
pub async fn handle<B>(
    shared: Arc<Shared>,
    conn: Arc<InboundConn>,
    req: Request<B>,
) -> Response<Body>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Send + Sync + Unpin + 'static,
    B::Error: Into<crate::body::BoxError>,
{
    let state = shared.state.load_full();
    let mut ex = Exchange::begin(
        Direction::Inbound,
        &state,
        conn.remote,
        conn.dst,
        req,
        shared.telemetry.log.enabled(),
    );
    let mut app_h2 = conn.h2;
    if let Some(peer) = &conn.peer {
        // Hints from the calling proxy, trusted because it proved a mesh identity.
        app_h2 = ex.headers().get(headers::DOWNSTREAM_H2).is_some();
        if let Some((w, n)) = headers::peer_of(ex.headers()) {
            ex.record.labels.source_workload = w;
            ex.record.labels.source_workload_namespace = n;
        }
        ex.record.labels.source_principal = peer.identity.clone();
        ex.record.labels.connection_security_policy = "mutual_tls";
        ex.log(|e| e.source_principal = Some(peer.identity.to_string()));
    }
    ex.log(|e| e.destination_principal = Some(state.me.principal.to_string()));
    ex.log(|e| e.upstream_cluster = Some(format!("inbound|{}||", conn.dst.port())));
    ex.log(|e| e.upstream_host = Some(conn.app.addr.to_string()));
    let mut req = ex.take_request();
    // The engine normalizes and decides; the request forwarded is the one it decided on
    // (mesh-internal headers gone), so only the mesh's own XFCC is added after.
    let down = authz::Downstream {
        policy: &conn.policy,
        remote: conn.remote,
        dst: conn.dst,
        peer: conn.peer.as_ref().map(|p| &*p.identity),
    };
    let mut verdict = authz::check(&shared, &state, &down, &mut req, security::now()).await;
    verdict.log(&mut ex);
    if let Some(resp) = verdict.refused(&mut ex, &state, req.uri().path()) {
        return ex.finish(resp, &shared.telemetry);
    }
    if let Some(v) = conn.peer.as_ref().and_then(|p| p.xfcc.clone()) {
        req.headers_mut().insert(headers::XFCC, v);
    }
    let wire = match state
        .config
        .inbound
        .port(conn.dst.port())
        .map(|p| p.protocol)
    {
        Some(Protocol::Http2 | Protocol::Grpc) => Wire::Http2,
        Some(Protocol::Http) => Wire::Http1,
        _ if app_h2 => Wire::Http2,
        _ => Wire::Http1,
    };
    // Nothing reads the exchange's authority after this.
    let authority = std::mem::take(&mut ex.authority);
    let sent = if forward::is_upgrade(&req) {
        let downstream = hyper::upgrade::on(&mut req);
        // Boxed: rare, and a large state machine the request's future need not carry.
        Box::pin(forward::send_upgrade(
            &conn.app,
            &shared.connector,
            req,
            downstream,
            &authority,
            APP_CONNECT_TIMEOUT,
        ))
        .await
    } else {
        forward::send(
            &conn.app,
            &shared.connector,
            req,
            &authority,
            wire,
            APP_CONNECT_TIMEOUT,
        )
        .await
    };
    let mut resp = match sent {
        Ok(resp) => resp,
        Err(e) => ex.local(Local::upstream(&e), &state),
    };
    super::ext_authz::apply_caller_headers(resp.headers_mut(), verdict.response_headers);
    if conn.peer.is_some() {
        resp.headers_mut().remove(headers::PEER);
        if let Some(v) = &state.me.peer_header {
            resp.headers_mut().insert(headers::PEER, v.clone());
        }
    }
    ex.finish(resp, &shared.telemetry)
}
