//! Sending a request to a cluster: circuit breaking, endpoint choice, retries with backoff
//! on the conditions the route names, per-try and overall timeouts. Retries go to another
//! endpoint when there is one (Istio configures Envoy's previous-hosts predicate).

use super::forward::{self, Wire};
use super::respond::Local;
use crate::body::{self, Body};
use crate::flags::{Flags, ResponseFlag};
use crate::state::ClusterState;
use crate::upstream::{Connector, UpstreamError};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Body as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use verimesh_model::Retries;

/// Bodies up to this size are buffered so a retry can resend them; larger ones are sent
/// once (Envoy likewise gives up retrying when its buffer limit is passed).
const MAX_REPLAY_BODY: u64 = 64 * 1024;

pub struct Attempted {
    pub response: Result<Response<Body>, Local>,
    pub endpoint: Option<(SocketAddr, Option<Arc<str>>)>,
    pub flags: Flags,
    pub retries: u32,
}

struct Replay {
    parts: http::request::Parts,
    body: Bytes,
}

impl Replay {
    fn request(&self) -> Request<Body> {
        let mut req = Request::new(body::full(self.body.clone()));
        *req.method_mut() = self.parts.method.clone();
        *req.uri_mut() = self.parts.uri.clone();
        *req.version_mut() = self.parts.version;
        *req.headers_mut() = self.parts.headers.clone();
        req
    }
}

/// Buffers the body when it is small enough to resend; otherwise hands the request back.
async fn replayable(req: Request<Body>) -> Result<Replay, Request<Body>> {
    let fits = req.body().is_end_stream()
        || req
            .body()
            .size_hint()
            .upper()
            .is_some_and(|n| n <= MAX_REPLAY_BODY);
    if !fits {
        return Err(req);
    }
    let (parts, body) = req.into_parts();
    match body.collect().await {
        Ok(collected) => Ok(Replay {
            parts,
            body: collected.to_bytes(),
        }),
        // The client's body failed: nothing sensible can be resent.
        Err(_) => Err(Request::from_parts(parts, body::empty())),
    }
}

pub struct Plan<'a> {
    pub cluster: &'a Arc<ClusterState>,
    pub connector: &'a Connector,
    pub authority: &'a str,
    pub wire: Wire,
    pub retries: Option<&'a Retries>,
    pub timeout: Option<Duration>,
}

pub async fn send(plan: Plan<'_>, req: Request<Body>) -> Attempted {
    let cluster = plan.cluster;
    if let Some(max) = cluster.cluster.limits.max_requests {
        if cluster.active_requests.load(Ordering::Relaxed) >= max {
            let mut flags = Flags::default();
            flags.add(ResponseFlag::UpstreamOverflow);
            return Attempted {
                response: Err(Local::upstream(&UpstreamError::Overflow)),
                endpoint: None,
                flags,
                retries: 0,
            };
        }
    }
    cluster.active_requests.fetch_add(1, Ordering::Relaxed);
    let _active = ActiveGuard(cluster);
    let overall = plan.timeout.filter(|t| !t.is_zero());
    let work = attempts(&plan, req);
    match overall {
        Some(t) => match tokio::time::timeout(t, work).await {
            Ok(done) => done,
            Err(_) => {
                let mut flags = Flags::default();
                flags.add(ResponseFlag::UpstreamRequestTimeout);
                Attempted {
                    response: Err(Local::timeout()),
                    endpoint: None,
                    flags,
                    retries: 0,
                }
            }
        },
        None => work.await,
    }
}

struct ActiveGuard<'a>(&'a ClusterState);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0.active_requests.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn attempts(plan: &Plan<'_>, req: Request<Body>) -> Attempted {
    let max_retries = plan.retries.map_or(0, |r| r.attempts);
    let (mut single, replay) = if max_retries == 0 {
        (Some(req), None)
    } else {
        match replayable(req).await {
            Ok(r) => (None, Some(r)),
            Err(req) => (Some(req), None),
        }
    };
    let per_try = plan
        .retries
        .and_then(|r| r.per_try_timeout_ms)
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis);
    let cluster = plan.cluster;
    let mut tried = Tried::default();
    let mut flags = Flags::default();
    let mut retries = 0;
    let mut outstanding: Option<RetrySlot<'_>> = None;
    loop {
        let req = match (single.take(), &replay) {
            (Some(r), _) => r,
            (None, Some(r)) => r.request(),
            (None, None) => break,
        };
        let Some(index) = pick(cluster, &tried) else {
            flags.add(ResponseFlag::NoHealthyUpstream);
            return Attempted {
                response: Err(Local::no_healthy_upstream()),
                endpoint: None,
                flags,
                retries,
            };
        };
        tried.push(index);
        let (Some(ep), Some(load)) = (cluster.endpoints.get(index), cluster.loads.get(index))
        else {
            break;
        };
        let endpoint = Some((ep.endpoint.address, ep.identity.clone()));
        let _load = load.start();
        let connect_timeout = Duration::from_millis(cluster.cluster.connect_timeout_ms);
        let sent = forward::send(
            &ep.pool,
            plan.connector,
            req,
            plan.authority,
            plan.wire,
            connect_timeout,
        );
        let outcome = match per_try {
            Some(t) => tokio::time::timeout(t, sent).await.map_err(|_| ()),
            None => Ok(sent.await),
        };
        // The retry this attempt was (if it was one) is over.
        drop(outstanding.take());
        let can_retry = replay.is_some() && retries < max_retries;
        let on = plan.retries.map_or(&[][..], |r| r.retry_on.as_slice());
        match outcome {
            Ok(Ok(resp)) => {
                if can_retry && retriable_status(&resp, plan.retries) {
                    if let Some(slot) = RetrySlot::take(cluster, &mut flags) {
                        outstanding = Some(slot);
                        retries += 1;
                        backoff(retries).await;
                        continue;
                    }
                }
                if retries > 0 && retriable_status(&resp, plan.retries) {
                    flags.add(ResponseFlag::UpstreamRetryLimitExceeded);
                }
                return Attempted {
                    response: Ok(resp),
                    endpoint,
                    flags,
                    retries,
                };
            }
            Ok(Err(e)) => {
                if can_retry && retriable_error(&e, on) {
                    if let Some(slot) = RetrySlot::take(cluster, &mut flags) {
                        outstanding = Some(slot);
                        retries += 1;
                        backoff(retries).await;
                        continue;
                    }
                }
                flags.add(e.flag());
                if retries > 0 {
                    flags.add(ResponseFlag::UpstreamRetryLimitExceeded);
                }
                return Attempted {
                    response: Err(Local::upstream(&e)),
                    endpoint,
                    flags,
                    retries,
                };
            }
            Err(()) => {
                if can_retry && retriable_timeout(on) {
                    if let Some(slot) = RetrySlot::take(cluster, &mut flags) {
                        outstanding = Some(slot);
                        retries += 1;
                        backoff(retries).await;
                        continue;
                    }
                }
                flags.add(ResponseFlag::UpstreamRequestTimeout);
                return Attempted {
                    response: Err(Local::timeout()),
                    endpoint,
                    flags,
                    retries,
                };
            }
        }
    }
    flags.add(ResponseFlag::NoHealthyUpstream);
    Attempted {
        response: Err(Local::no_healthy_upstream()),
        endpoint: None,
        flags,
        retries,
    }
}

/// A retry in flight, counted against the cluster's maxRetries (Envoy's retry circuit
/// breaker) while it lasts.
struct RetrySlot<'a>(Option<&'a ClusterState>);

impl<'a> RetrySlot<'a> {
    /// The slot for one more retry, counted in the cluster's retries; `None` (flag UO) when
    /// the cluster already has its maximum outstanding.
    fn take(cluster: &'a ClusterState, flags: &mut Flags) -> Option<RetrySlot<'a>> {
        let Some(max) = cluster.cluster.limits.max_retries else {
            cluster.retries.fetch_add(1, Ordering::Relaxed);
            return Some(RetrySlot(None));
        };
        if cluster.active_retries.fetch_add(1, Ordering::Relaxed) >= max {
            cluster.active_retries.fetch_sub(1, Ordering::Relaxed);
            cluster.retry_overflows.fetch_add(1, Ordering::Relaxed);
            flags.add(ResponseFlag::UpstreamOverflow);
            return None;
        }
        cluster.retries.fetch_add(1, Ordering::Relaxed);
        Some(RetrySlot(Some(cluster)))
    }
}

impl Drop for RetrySlot<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0 {
            c.active_retries.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The endpoints a request was sent to; the first is kept inline, as most requests make
/// one try and should not allocate for it.
#[derive(Default)]
struct Tried {
    first: Option<usize>,
    more: Vec<usize>,
}

impl Tried {
    fn push(&mut self, i: usize) {
        if self.first.is_none() {
            self.first = Some(i);
        } else {
            self.more.push(i);
        }
    }

    fn contains(&self, i: usize) -> bool {
        self.first == Some(i) || self.more.contains(&i)
    }
}

/// An endpoint not tried yet when one is left, else any (a single endpoint is retried).
fn pick(cluster: &ClusterState, tried: &Tried) -> Option<usize> {
    let usable = |i: usize| {
        cluster
            .endpoints
            .get(i)
            .is_some_and(|e| e.endpoint.weight > 0)
    };
    cluster
        .balancer
        .pick(&cluster.loads, |i| usable(i) && !tried.contains(i))
        .or_else(|| cluster.balancer.pick(&cluster.loads, usable))
}

/// Envoy's default: 25 ms base, doubling, full jitter, capped at ten times the base.
async fn backoff(retry: u32) {
    let cap = 250u64;
    let base = (25u64 << retry.min(4).saturating_sub(1)).min(cap);
    let jitter = crate::rand::below(base + 1);
    tokio::time::sleep(Duration::from_millis(jitter.max(1))).await;
}

fn has(on: &[String], what: &str) -> bool {
    on.iter().any(|o| o.trim().eq_ignore_ascii_case(what))
}

fn retriable_error(e: &UpstreamError, on: &[String]) -> bool {
    let broad = has(on, "5xx") || has(on, "reset");
    match e {
        UpstreamError::Connect(_) => {
            broad || has(on, "connect-failure") || has(on, "gateway-error")
        }
        UpstreamError::Reset(text) => {
            broad || (has(on, "refused-stream") && text.to_ascii_lowercase().contains("refused"))
        }
        UpstreamError::Terminated(_) => broad,
        // A 502 to the caller: what `gateway-error` retries, and a reset reason to Envoy.
        UpstreamError::Protocol(_) => broad || has(on, "gateway-error"),
        UpstreamError::Overflow => false,
    }
}

fn retriable_timeout(on: &[String]) -> bool {
    has(on, "5xx") || has(on, "gateway-error") || has(on, "reset")
}

/// Istio's `retriable-status-codes` default list is just 503; numeric entries in `retryOn`
/// add codes; gRPC conditions read `grpc-status` of trailers-only responses.
fn retriable_status(resp: &Response<Body>, retries: Option<&Retries>) -> bool {
    let on = retries.map_or(&[][..], |r| r.retry_on.as_slice());
    let codes = match retries.map(|r| r.retriable_status_codes.as_slice()) {
        Some(c) if !c.is_empty() => c,
        _ => &[503][..],
    };
    let code = resp.status().as_u16();
    if has(on, "5xx") && code >= 500
        || has(on, "gateway-error") && (502..=504).contains(&code)
        || has(on, "retriable-4xx") && code == 409
        || has(on, "retriable-status-codes") && codes.contains(&code)
        || on.iter().any(|o| o.trim().parse::<u16>() == Ok(code))
    {
        return true;
    }
    let grpc = resp
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    matches!(
        (grpc, on),
        (Some(1), on) if has(on, "cancelled")
    ) || matches!((grpc, on), (Some(4), on) if has(on, "deadline-exceeded"))
        || matches!((grpc, on), (Some(13), on) if has(on, "internal"))
        || matches!((grpc, on), (Some(8), on) if has(on, "resource-exhausted"))
        || matches!((grpc, on), (Some(14), on) if has(on, "unavailable"))
}
