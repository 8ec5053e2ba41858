//! httpbin-like endpoints: `/get`, `/post`, `/put`, `/patch`, `/delete`, `/headers`, `/ip`, `/status/N`, `/delay/N`, `/anything`.

use crate::reply::{self, Body};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use std::net::SocketAddr;
use std::time::Duration;

/// Longest `/delay/N` honoured, so a test or a typo cannot park a connection for long.
const MAX_DELAY_SECS: u64 = 10;

pub fn headers_json(headers: &HeaderMap) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        m.insert(
            name.as_str().to_string(),
            serde_json::Value::from(values.join(",")),
        );
    }
    serde_json::Value::Object(m)
}

fn args_json(uri: &Uri) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    if let Some(q) = uri.query() {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            m.insert(k.to_string(), serde_json::Value::from(v));
        }
    }
    serde_json::Value::Object(m)
}

fn describe(req: &Request<()>, peer: SocketAddr, body: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "method": req.method().as_str(),
        "url": req.uri().to_string(),
        "args": args_json(req.uri()),
        "headers": headers_json(req.headers()),
        "origin": peer.ip().to_string(),
        "data": String::from_utf8_lossy(body),
    })
}

/// Answers an httpbin path, or `None` when the path is not one of them.
pub async fn handle(req: &Request<()>, peer: SocketAddr, body: &[u8]) -> Option<Response<Body>> {
    let path = req.uri().path();
    let ok = StatusCode::OK;
    // httpbin's method endpoints: each answers only its own method (405 otherwise).
    for (p, m) in [
        ("/get", Method::GET),
        ("/post", Method::POST),
        ("/put", Method::PUT),
        ("/patch", Method::PATCH),
        ("/delete", Method::DELETE),
    ] {
        if path == p {
            if req.method() != m {
                return Some(reply::text(StatusCode::METHOD_NOT_ALLOWED, ""));
            }
            return Some(reply::json(ok, &describe(req, peer, body)));
        }
    }
    if path == "/anything" || path.starts_with("/anything/") {
        return Some(reply::json(ok, &describe(req, peer, body)));
    }
    if path == "/headers" {
        let h = serde_json::json!({ "headers": headers_json(req.headers()) });
        return Some(reply::json(ok, &h));
    }
    if path == "/ip" {
        return Some(reply::json(
            ok,
            &serde_json::json!({ "origin": peer.ip().to_string() }),
        ));
    }
    if let Some(code) = path.strip_prefix("/status/") {
        return Some(
            match code
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
            {
                Some(status) => reply::text(status, ""),
                None => reply::text(
                    StatusCode::BAD_REQUEST,
                    "status must be a number from 100 to 999\n",
                ),
            },
        );
    }
    if let Some(secs) = path.strip_prefix("/delay/") {
        let Ok(secs) = secs.parse::<f64>() else {
            return Some(reply::text(
                StatusCode::BAD_REQUEST,
                "delay must be a number of seconds\n",
            ));
        };
        let secs = secs.clamp(0.0, MAX_DELAY_SECS as f64);
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        return Some(reply::json(ok, &describe(req, peer, body)));
    }
    None
}
