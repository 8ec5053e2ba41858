//! The `CheckRequest` a gRPC authorizer is asked, filled in as Envoy's ext_authz filter fills
//! it on an Istio sidecar's inbound listener: the caller and this workload as peers (address;
//! SPIFFE principal only when the connection is mesh mTLS, as Envoy takes it from the
//! certificates), and the request as it will be forwarded (after normalization): method,
//! path with query, host, scheme, protocol, `x-request-id`, and every header by lower-case
//! name (pseudo-headers included, repeated ones joined with commas), plus the body when the
//! provider asks for it.

use super::authz::Downstream;
use crate::state::State;
use http::{header, Request, Version};
use std::collections::BTreeMap;
use std::time::SystemTime;
use verimesh_envoy_auth as pb;

/// The part of the body the authorizer sees.
pub struct BodyInCheck {
    pub data: bytes::Bytes,
    /// Only the first `max_request_bytes` (Envoy then adds `x-envoy-auth-partial-body`).
    pub partial: bool,
    pub pack_as_bytes: bool,
}

pub fn check_request<B>(
    state: &State,
    conn: &Downstream<'_>,
    req: &Request<B>,
    body: Option<BodyInCheck>,
) -> pb::CheckRequest {
    // Envoy names principals from the connection's certificates: a plaintext caller has
    // none, and then neither side is named.
    let mtls = conn.peer;
    let me = &state.me.principal;
    let source = pb::Peer {
        address: Some(pb::Address::socket(conn.remote.ip(), conn.remote.port())),
        principal: mtls.unwrap_or_default().to_string(),
        ..Default::default()
    };
    let destination = pb::Peer {
        address: Some(pb::Address::socket(conn.dst.ip(), conn.dst.port())),
        principal: match mtls {
            Some(_) if &**me != "unknown" => me.to_string(),
            _ => String::new(),
        },
        ..Default::default()
    };
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_string(), |pq| pq.as_str().to_string());
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let scheme = req.uri().scheme_str().unwrap_or("http").to_string();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in req.headers() {
        // Envoy carries Host as `:authority`.
        if name == header::HOST {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes());
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    headers.insert(":authority".into(), host.clone());
    headers.insert(":method".into(), req.method().as_str().to_string());
    headers.insert(":path".into(), path.clone());
    headers.insert(":scheme".into(), scheme.clone());
    let content_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let mut http = pb::HttpRequest {
        id: req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        method: req.method().as_str().to_string(),
        headers,
        path,
        host,
        scheme,
        size: content_length.unwrap_or(-1),
        protocol: protocol(req.version()).to_string(),
        ..Default::default()
    };
    if let Some(b) = body {
        if b.partial {
            http.headers
                .insert("x-envoy-auth-partial-body".into(), "true".into());
        } else if content_length.is_none() {
            http.size = i64::try_from(b.data.len()).unwrap_or(-1);
        }
        if b.pack_as_bytes {
            http.raw_body = b.data.to_vec();
        } else {
            // A proto string must be UTF-8; bytes that are not are replaced (a provider
            // that needs them exactly asks for `packAsBytes`).
            http.body = String::from_utf8_lossy(&b.data).into_owned();
        }
    }
    pb::CheckRequest {
        attributes: Some(pb::AttributeContext {
            source: Some(source),
            destination: Some(destination),
            request: Some(pb::Request {
                time: Some(now()),
                http: Some(http),
            }),
            ..Default::default()
        }),
    }
}

/// Envoy's protocol strings.
fn protocol(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 | Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

fn now() -> pb::Timestamp {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    pb::Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}
