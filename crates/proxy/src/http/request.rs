//! One HTTP exchange as both directions handle it: the request read once (method,
//! authority, the normalized target), the record that the access log and metrics get when
//! the response ends, and the ways it can end (local answer, upstream response, upgrade).

use super::forward;
use super::headers;
use super::respond::Local;
use super::retry::Attempted;
use crate::body::{self, Body};
use crate::flags::Flags;
use crate::server::Shared;
use crate::state::{ClusterState, State};
use crate::telemetry::{Counted, Entry, InFlight, Metered, Telemetry};
use http::header::{self, HeaderMap};
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use verimesh_policy::normalize::{normalize_target, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Outbound,
    Inbound,
}

pub struct Exchange {
    pub method: Method,
    /// Lower-cased `:authority` or Host, port as sent.
    pub authority: String,
    /// The normalized target, outbound only.
    pub normalized: Option<Result<Target, Local>>,
    request: Option<Request<Body>>,
    pub record: Box<InFlight>,
    /// Whether the access log is on: when off, its entry is left empty (no per-request
    /// formatting or allocation for it).
    logging: bool,
}

impl Exchange {
    /// Starts the exchange for a request as the server received it (`B`: hyper's body, or
    /// an `h2` stream's).
    pub fn begin<B>(
        direction: Direction,
        state: &State,
        remote: SocketAddr,
        dst: SocketAddr,
        req: Request<B>,
        logging: bool,
    ) -> Exchange
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + Sync + Unpin + 'static,
        B::Error: Into<crate::body::BoxError>,
    {
        let (mut parts, incoming) = req.into_parts();
        let authority = parts
            .uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| {
                parts
                    .headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
            })
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let raw_target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        // Outbound routes on the normalized target; inbound has the policy engine's
        // normalization (`http::authz`) decide it, so it is not done twice.
        let normalized = (direction == Direction::Outbound).then(|| {
            normalize_target(raw_target, state.path_normalization())
                .map_err(|e| Local::bad_request(e.to_string()))
        });
        let request_id = headers::request_id(&mut parts.headers, logging);
        let grpc = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"));
        let request_bytes = Arc::new(AtomicU64::new(0));
        let entry = if !logging {
            Entry {
                direction: direction_name(direction),
                ..Entry::default()
            }
        } else {
            Entry {
                start_time: crate::telemetry::access_log::timestamp(SystemTime::now()),
                direction: direction_name(direction),
                method: Some(parts.method.to_string()),
                path: Some(raw_target.to_string()),
                protocol: version_name(parts.version),
                authority: Some(authority.clone()),
                downstream_remote_address: remote.to_string(),
                downstream_local_address: dst.to_string(),
                request_id,
                user_agent: parts
                    .headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                ..Entry::default()
            }
        };
        let record = Box::new(InFlight {
            entry,
            labels: state.me.labels(
                direction == Direction::Outbound,
                if grpc { "grpc" } else { "http" },
            ),
            flags: Flags::default(),
            start: Instant::now(),
            request_bytes: request_bytes.clone(),
        });
        let body = Counted::new(incoming, request_bytes).boxed();
        Exchange {
            method: parts.method.clone(),
            authority,
            normalized,
            request: Some(Request::from_parts(parts, body)),
            record,
            logging,
        }
    }

    /// Fills access-log fields, only when the log is on.
    pub fn log(&mut self, fill: impl FnOnce(&mut Entry)) {
        if self.logging {
            fill(&mut self.record.entry);
        }
    }

    pub fn headers(&self) -> &HeaderMap {
        static EMPTY: std::sync::OnceLock<HeaderMap> = std::sync::OnceLock::new();
        match &self.request {
            Some(r) => r.headers(),
            None => EMPTY.get_or_init(HeaderMap::new),
        }
    }

    /// The request, for sending on; only one taker (later callers get an empty GET).
    pub fn take_request(&mut self) -> Request<Body> {
        self.request
            .take()
            .unwrap_or_else(|| Request::new(body::empty()))
    }

    /// The normalized request target, taken once (a second taker gets a 400).
    pub fn take_target(&mut self) -> Result<Target, Local> {
        self.normalized
            .take()
            .unwrap_or_else(|| Err(Local::bad_request("request could not be read".into())))
    }

    /// Gives back a request taken to be decided on, for routing.
    pub fn put_request(&mut self, req: Request<Body>) {
        self.request = Some(req);
    }

    /// Answers locally, recording the flag and the reason.
    pub fn local(&mut self, local: Local, _state: &State) -> Response<Body> {
        if let Some(f) = local.flag {
            self.record.flags.add(f);
        }
        if let Some(d) = &local.detail {
            self.log(|e| e.upstream_transport_failure_reason = Some(d.clone()));
        }
        local.into_response()
    }

    /// Turns the result of sending upstream into the response for the caller.
    pub fn upstream_result(&mut self, attempted: Attempted, state: &State) -> Response<Body> {
        for f in attempted.flags.iter() {
            self.record.flags.add(f);
        }
        self.log(|e| e.upstream_request_attempt_count = Some(attempted.retries + 1));
        if let Some((addr, identity)) = &attempted.endpoint {
            self.log(|e| e.upstream_host = Some(addr.to_string()));
            if let Some(id) = identity {
                self.record.labels.destination_principal = id.clone();
                self.log(|e| e.destination_principal = Some(id.to_string()));
            }
        }
        match attempted.response {
            Ok(mut resp) => {
                if let Some((w, n)) = headers::peer_of(resp.headers()) {
                    self.record.labels.destination_workload = w;
                    self.record.labels.destination_workload_namespace = n;
                }
                resp.headers_mut().remove(headers::PEER);
                resp
            }
            Err(local) => self.local(local, state),
        }
    }

    /// Wraps the response so the exchange is recorded when its body ends.
    pub fn finish(mut self, resp: Response<Body>, telemetry: &Arc<Telemetry>) -> Response<Body> {
        self.record.entry.response_code = resp.status().as_u16();
        let record = self.record;
        resp.map(|b| Metered::new(b, record, telemetry.clone()).boxed())
    }
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Outbound => "outbound",
        Direction::Inbound => "inbound",
    }
}

fn version_name(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// An upgrade (WebSocket) to a cluster: one endpoint, a connection of its own, no retries.
pub async fn upgrade_to_cluster(
    shared: &Arc<Shared>,
    ex: &mut Exchange,
    cluster: &Arc<ClusterState>,
    mut req: Request<Body>,
    authority: &str,
) -> Response<Body> {
    let state = shared.state.load_full();
    let usable = |i: usize| {
        cluster
            .endpoints
            .get(i)
            .is_some_and(|e| e.endpoint.weight > 0)
    };
    let Some(ep) = cluster
        .balancer
        .pick(&cluster.loads, usable)
        .and_then(|i| cluster.endpoints.get(i))
    else {
        return ex.local(Local::no_healthy_upstream(), &state);
    };
    ex.log(|e| e.upstream_host = Some(ep.endpoint.address.to_string()));
    let downstream = hyper::upgrade::on(&mut req);
    let timeout = Duration::from_millis(cluster.cluster.connect_timeout_ms);
    match forward::send_upgrade(
        &ep.pool,
        &shared.connector,
        req,
        downstream,
        authority,
        timeout,
    )
    .await
    {
        Ok(resp) => resp,
        Err(e) => ex.local(Local::upstream(&e), &state),
    }
}
