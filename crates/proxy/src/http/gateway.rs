//! A request arriving at a gateway listener from outside the mesh. As Envoy at the edge:
//! mesh-internal headers the client sent are dropped; the client address is the peer's, or
//! with `numTrustedProxies` the X-Forwarded-For entry that many places from the right;
//! the gateway's own AuthorizationPolicies and RequestAuthentications decide (ipBlocks see
//! the peer, remoteIpBlocks the client); then the virtual host for the request's host and
//! its first matching route (claims of a verified JWT included) send it on — over mesh
//! mTLS to sidecars — with X-Forwarded-For, X-Forwarded-Proto and
//! X-Envoy-External-Address set. No virtual host or no matching route is 404 NR.

use super::authz;
use super::outbound::{self, OutboundConn};
use super::request::{Direction, Exchange};
use super::respond::Local;
use crate::body::Body;
use crate::security;
use crate::server::Shared;
use crate::state::State;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use verimesh_policy::normalize::Target;

const XFF: &str = "x-forwarded-for";
const XFP: &str = "x-forwarded-proto";
const EXTERNAL_ADDRESS: &str = "x-envoy-external-address";

pub struct GatewayConn {
    pub remote: SocketAddr,
    /// The listener's address.
    pub dst: SocketAddr,
    pub https: bool,
    pub h2: bool,
    pub sni: Option<String>,
}

/// The client's address: the peer's, or the X-Forwarded-For entry `trusted` places from
/// the right (Envoy's `xff_num_trusted_hops`); the peer's when the header is shorter or
/// the entry is not an address.
pub fn client_address(headers: &HeaderMap, peer: IpAddr, trusted: u32) -> IpAddr {
    if trusted == 0 {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all(XFF)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let index = usize::try_from(trusted).unwrap_or(usize::MAX);
    entries
        .len()
        .checked_sub(index)
        .and_then(|i| entries.get(i))
        .and_then(|e| e.parse().ok())
        .unwrap_or(peer)
}

pub async fn handle(
    shared: Arc<Shared>,
    conn: Arc<GatewayConn>,
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
        Ok(target) => decide_and_route(&shared, &state, &conn, &mut ex, target).await,
        Err(local) => ex.local(local, &state),
    };
    ex.finish(resp, &shared.telemetry)
}

async fn decide_and_route(
    shared: &Arc<Shared>,
    state: &Arc<State>,
    conn: &GatewayConn,
    ex: &mut Exchange,
    target: Target,
) -> Response<Body> {
    let trusted = state.gateway.as_ref().map_or(0, |g| g.num_trusted_proxies);
    let client = client_address(ex.headers(), conn.remote.ip(), trusted);
    let mut req = ex.take_request();
    let mut policy = security::connection(None, conn.remote, conn.dst);
    policy.remote_ip = Some(client);
    policy.sni = conn.sni.clone();
    let down = authz::Downstream {
        policy: &policy,
        remote: conn.remote,
        dst: conn.dst,
        peer: None,
    };
    // The engine's request is the one forwarded: mesh-internal headers a client sent are
    // gone from it, as on inbound.
    let mut verdict = authz::check(shared, state, &down, &mut req, security::now()).await;
    verdict.log(ex);
    if let Some(resp) = verdict.refused(ex, state, req.uri().path()) {
        return resp;
    }
    forwarded(req.headers_mut(), conn.remote.ip(), client, conn.https);
    ex.put_request(req);
    let host = state
        .gateway
        .as_ref()
        .and_then(|g| g.listener(conn.dst.port()))
        .and_then(|l| l.host(&ex.authority));
    let Some(host) = host else {
        return ex.local(Local::no_route(), state);
    };
    ex.log(|e| e.route_name = Some(host.name.to_string()));
    if host.https_redirect {
        return to_https(&ex.authority, &target);
    }
    if host.routes.http_routes.is_empty() {
        return ex.local(Local::no_route(), state);
    }
    let oconn = OutboundConn {
        remote: conn.remote,
        dst: conn.dst,
        h2: conn.h2,
    };
    let mut resp = outbound::route_port(
        shared,
        state,
        &oconn,
        ex,
        target,
        &host.routes,
        verdict.claims.as_ref(),
    )
    .await;
    super::ext_authz::apply_caller_headers(resp.headers_mut(), verdict.response_headers);
    resp
}

/// The headers an edge proxy adds: the peer appended to X-Forwarded-For, the scheme the
/// client used, and the client address it decided on.
fn forwarded(headers: &mut HeaderMap, peer: IpAddr, client: IpAddr, https: bool) {
    let xff = match headers.get(XFF).and_then(|v| v.to_str().ok()) {
        Some(before) if !before.trim().is_empty() => format!("{}, {peer}", before.trim()),
        _ => peer.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        headers.insert(XFF, v);
    }
    headers.insert(
        XFP,
        HeaderValue::from_static(if https { "https" } else { "http" }),
    );
    if let Ok(v) = HeaderValue::from_str(&client.to_string()) {
        headers.insert(EXTERNAL_ADDRESS, v);
    }
}

/// Gateway `httpsRedirect`: 301 to the same host and path over https.
fn to_https(authority: &str, target: &Target) -> Response<Body> {
    let (host, _) = crate::state::split_host_port(authority);
    let query = target
        .query
        .as_deref()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let location = format!("https://{host}{}{query}", target.path);
    let mut resp = Response::new(crate::body::empty());
    *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_hops_pick_the_client_from_the_right() {
        let peer: IpAddr = "10.0.0.9".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(XFF, HeaderValue::from_static("1.1.1.1, 2.2.2.2"));
        assert_eq!(client_address(&h, peer, 0), peer);
        assert_eq!(
            client_address(&h, peer, 1),
            "2.2.2.2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_address(&h, peer, 2),
            "1.1.1.1".parse::<IpAddr>().unwrap()
        );
        // Fewer entries than trusted hops, or garbage: the peer, never a guess.
        assert_eq!(client_address(&h, peer, 3), peer);
        h.insert(XFF, HeaderValue::from_static("not-an-ip"));
        assert_eq!(client_address(&h, peer, 1), peer);
    }
}
