//! CUSTOM AuthorizationPolicies with an `envoyExtAuthzGrpc` provider: Envoy's gRPC ext_authz
//! contract as Istio configures it. The proxy calls `envoy.service.auth.v3.Authorization/Check`
//! (HTTP/2, through its own outbound config, as for HTTP providers) with the request's
//! attributes (`ext_authz_attrs`). A CheckResponse with status OK allows: `ok_response` headers
//! are set on the request (appended when their `append` is true), `headers_to_remove` are
//! removed, `response_headers_to_add` go to the caller (replacing the application's values
//! unless `append`). Any other status denies, with `denied_response`'s HTTP status (403 when
//! unset), body and headers (replacing the refusal's own unless `append`). No answer within the
//! provider's `timeout`, a failed call, or an answer that cannot be read denies with
//! `statusOnError` (403), unless `failOpen`.
//!
//! Where verimesh is stricter than Envoy: an answer without a `status` is refused (Envoy reads
//! the proto3 default, OK), so only an authorizer that says OK lets a request through; and the
//! authorizer may not touch Host or pseudo-headers, which routing already decided on.

use super::authz::Downstream;
use super::ext_authz::{self, Answer, CallerHeader, DEFAULT_TIMEOUT};
use super::ext_authz_attrs::{self, BodyInCheck};
use super::forward::{self, Wire};
use super::peek_body;
use super::respond::Local;
use crate::body::{self, Body};
use crate::flags::ResponseFlag;
use crate::server::Shared;
use crate::state::State;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode};
use verimesh_config::mesh::ExtAuthzGrpc;
use verimesh_envoy_auth as pb;
use verimesh_envoy_auth::check_response::HttpResponse;

/// Istio passes `maxRequestBytes` through to Envoy, which refuses 0; a provider that asks for
/// the body without a limit gets this one rather than an unbounded buffer.
const DEFAULT_MAX_REQUEST_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("{0}")]
    Route(String),
    #[error("sending the check: {0}")]
    Send(String),
    #[error("the authorizer answered HTTP {0}")]
    HttpStatus(StatusCode),
    #[error("reading the answer: {0}")]
    Body(String),
    #[error("the answer has no grpc-status")]
    NoGrpcStatus,
    #[error("the call failed with gRPC status {code}: {message}")]
    Grpc { code: i32, message: String },
    #[error("{0}")]
    Frame(#[from] pb::FrameError),
    #[error("the CheckResponse has no status")]
    NoStatus,
}

pub async fn check(
    shared: &Shared,
    state: &State,
    conn: &Downstream<'_>,
    provider: &str,
    grpc: &ExtAuthzGrpc,
    req: &mut Request<Body>,
) -> Answer {
    let on_error = || {
        ext_authz::error(
            grpc.fail_open.unwrap_or(false),
            grpc.status_on_error.as_deref(),
        )
    };
    let body = match grpc.include_request_body_in_check.as_ref() {
        None => None,
        Some(settings) => {
            let limit = match settings.max_request_bytes {
                Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => DEFAULT_MAX_REQUEST_BYTES,
            };
            let taken = std::mem::replace(req.body_mut(), body::empty());
            let peeked = match peek_body::peek(taken, limit).await {
                Ok(p) => p,
                Err(e) => {
                    // The body is gone; nothing can be forwarded, whatever failOpen says.
                    tracing::debug!(provider, "ext_authz: reading the request body: {e}");
                    return Answer::Deny(bad_body(), Vec::new());
                }
            };
            *req.body_mut() = peeked.body;
            let partial = !peeked.complete || peeked.data.len() > limit;
            if partial && !settings.allow_partial_message.unwrap_or(false) {
                // As Envoy: the limit wins over failOpen.
                let mut local =
                    Local::new(StatusCode::PAYLOAD_TOO_LARGE, None, "Payload Too Large");
                local.detail = Some("request_payload_too_large".into());
                return Answer::Deny(local, Vec::new());
            }
            Some(BodyInCheck {
                data: peeked.data.slice(..peeked.data.len().min(limit)),
                partial,
                pack_as_bytes: settings.pack_as_bytes.unwrap_or(false),
            })
        }
    };
    let message = ext_authz_attrs::check_request(state, conn, req, body);
    let timeout = grpc.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
    let answer =
        match tokio::time::timeout(timeout, call(shared, state, grpc, message, timeout)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(why)) => {
                tracing::warn!(provider, "ext_authz (gRPC): {why}");
                return on_error();
            }
            Err(_) => {
                tracing::warn!(provider, "ext_authz (gRPC): no answer within {timeout:?}");
                return on_error();
            }
        };
    decide(answer, req)
}

fn bad_body() -> Local {
    Local::bad_request("the request body could not be read".into())
}

/// One unary call: the framed request out, the one framed answer and its status back.
async fn call(
    shared: &Shared,
    state: &State,
    grpc: &ExtAuthzGrpc,
    message: pb::CheckRequest,
    timeout: std::time::Duration,
) -> Result<pb::CheckResponse, CallError> {
    let to = ext_authz::target(state, &grpc.service, grpc.port).map_err(CallError::Route)?;
    let mut rpc = Request::new(body::full(pb::encode(&message)));
    *rpc.method_mut() = Method::POST;
    *rpc.uri_mut() = http::Uri::from_static(pb::CHECK_PATH);
    let h = rpc.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    h.insert(header::TE, HeaderValue::from_static("trailers"));
    // The deadline, so the authorizer can give up when the proxy already has. gRPC allows
    // at most eight digits.
    let millis = timeout.as_millis().min(99_999_999);
    if let Ok(v) = HeaderValue::from_str(&format!("{millis}m")) {
        h.insert("grpc-timeout", v);
    }
    let resp = forward::send(
        &to.pool,
        &shared.connector,
        rpc,
        &to.authority,
        Wire::Http2,
        to.connect_timeout,
    )
    .await
    .map_err(|e| CallError::Send(e.to_string()))?;
    let (parts, incoming) = resp.into_parts();
    if parts.status != StatusCode::OK {
        return Err(CallError::HttpStatus(parts.status));
    }
    let (data, trailers) = crate::body::collect_limited(incoming, pb::MAX_MESSAGE_BYTES + 5)
        .await
        .map_err(CallError::Body)?;
    // A failed call may come as headers only ("Trailers-Only"), so the status is looked for
    // in the trailers first, then in the headers.
    let trailers = trailers.unwrap_or_default();
    let status = grpc_status(&trailers).or_else(|| grpc_status(&parts.headers));
    match status {
        None => Err(CallError::NoGrpcStatus),
        Some(pb::code::OK) => Ok(pb::decode::<pb::CheckResponse>(&data)?),
        Some(code) => {
            let message = trailers
                .get("grpc-message")
                .or_else(|| parts.headers.get("grpc-message"))
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            Err(CallError::Grpc { code, message })
        }
    }
    .and_then(|r: pb::CheckResponse| {
        if r.status.is_none() {
            return Err(CallError::NoStatus);
        }
        Ok(r)
    })
}

fn grpc_status(h: &HeaderMap) -> Option<i32> {
    h.get("grpc-status")?.to_str().ok()?.trim().parse().ok()
}

/// The authorizer's answer applied: `req` changed on allow, the refusal built on deny.
fn decide(answer: pb::CheckResponse, req: &mut Request<Body>) -> Answer {
    let code = answer.status.as_ref().map_or(pb::code::UNKNOWN, |s| s.code);
    if code == pb::code::OK {
        let mut downstream = Vec::new();
        if let Some(HttpResponse::OkResponse(ok)) = answer.http_response {
            for option in &ok.headers {
                if let Some(h) = header_of(option) {
                    if h.append {
                        req.headers_mut().append(h.name, h.value);
                    } else {
                        req.headers_mut().insert(h.name, h.value);
                    }
                }
            }
            for name in &ok.headers_to_remove {
                if let Ok(n) = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()) {
                    if n != header::HOST {
                        req.headers_mut().remove(n);
                    }
                }
            }
            // For the application's response: `append` unset or false replaces what the
            // application sends under that name.
            downstream.extend(ok.response_headers_to_add.iter().filter_map(header_of));
        }
        return Answer::Allow(downstream);
    }
    let (status, body, headers) = match answer.http_response {
        Some(HttpResponse::DeniedResponse(d)) => {
            let status = d
                .status
                .and_then(|s| u16::try_from(s.code).ok())
                .filter(|c| *c > 0)
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::FORBIDDEN);
            let headers = d.headers.iter().filter_map(header_of).collect();
            (status, d.body, headers)
        }
        _ => (StatusCode::FORBIDDEN, String::new(), Vec::new()),
    };
    let mut local = Local::new(
        status,
        Some(ResponseFlag::UnauthorizedExternalService),
        body,
    );
    local.detail = Some("ext_authz_denied".into());
    Answer::Deny(local, headers)
}

/// A header the authorizer asked for, and whether to append it; `None` for what may not be
/// set (invalid names or values, Host, empty values unless kept).
fn header_of(option: &pb::HeaderValueOption) -> Option<CallerHeader> {
    let h = option.header.as_ref()?;
    let name = HeaderName::from_bytes(h.key.to_ascii_lowercase().as_bytes()).ok()?;
    if name == header::HOST {
        return None;
    }
    let raw: &[u8] = if h.value.is_empty() {
        &h.raw_value
    } else {
        h.value.as_bytes()
    };
    if raw.is_empty() && !option.keep_empty_value {
        return None;
    }
    let value = HeaderValue::from_bytes(raw).ok()?;
    Some(CallerHeader {
        name,
        value,
        append: option.append == Some(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request<Body> {
        let mut r = Request::new(body::empty());
        r.headers_mut()
            .insert("x-keep", HeaderValue::from_static("old"));
        r.headers_mut()
            .insert("authorization", HeaderValue::from_static("secret"));
        r.headers_mut()
            .insert(header::HOST, HeaderValue::from_static("app"));
        r
    }

    fn ok(
        headers: Vec<pb::HeaderValueOption>,
        remove: &[&str],
        down: Vec<pb::HeaderValueOption>,
    ) -> pb::CheckResponse {
        pb::CheckResponse {
            status: Some(pb::Status {
                code: 0,
                message: String::new(),
            }),
            http_response: Some(HttpResponse::OkResponse(pb::OkHttpResponse {
                headers,
                headers_to_remove: remove.iter().map(|s| s.to_string()).collect(),
                response_headers_to_add: down,
            })),
        }
    }

    #[test]
    fn ok_sets_appends_and_removes_request_headers() {
        let mut req = request();
        let mut appended = pb::HeaderValueOption::set("x-keep", "new");
        appended.append = Some(true);
        let answer = ok(
            vec![
                pb::HeaderValueOption::set("x-result", "allowed"),
                appended,
                pb::HeaderValueOption::set("host", "elsewhere"),
                pb::HeaderValueOption::set("bad name", "x"),
            ],
            &["authorization", "host"],
            vec![pb::HeaderValueOption::set("x-down", "1"), {
                let mut more = pb::HeaderValueOption::set("x-more", "2");
                more.append = Some(true);
                more
            }],
        );
        let Answer::Allow(down) = decide(answer, &mut req) else {
            panic!("allowed expected")
        };
        let h = req.headers();
        assert_eq!(h["x-result"], "allowed");
        let kept: Vec<_> = h.get_all("x-keep").iter().collect();
        assert_eq!(kept, ["old", "new"]);
        assert!(h.get("authorization").is_none());
        assert_eq!(h[header::HOST], "app", "Host is neither set nor removed");
        assert_eq!(down.len(), 2);
        assert_eq!((down[0].name.as_str(), down[0].append), ("x-down", false));
        assert_eq!((down[1].name.as_str(), down[1].append), ("x-more", true));
        // Without `append` a value replaces the old one.
        let mut req = request();
        decide(
            ok(
                vec![pb::HeaderValueOption::set("x-keep", "new")],
                &[],
                vec![],
            ),
            &mut req,
        );
        let kept: Vec<_> = req.headers().get_all("x-keep").iter().collect();
        assert_eq!(kept, ["new"]);
    }

    #[test]
    fn other_statuses_deny_with_the_denied_response() {
        let denied = pb::CheckResponse {
            status: Some(pb::Status {
                code: pb::code::PERMISSION_DENIED,
                message: String::new(),
            }),
            http_response: Some(HttpResponse::DeniedResponse(pb::DeniedHttpResponse {
                status: Some(pb::HttpStatus { code: 401 }),
                headers: vec![pb::HeaderValueOption::set("x-why", "no")],
                body: "go away".into(),
            })),
        };
        let Answer::Deny(local, headers) = decide(denied, &mut request()) else {
            panic!("denied expected")
        };
        assert_eq!(local.status, StatusCode::UNAUTHORIZED);
        assert_eq!(local.body, "go away");
        assert_eq!(local.detail.as_deref(), Some("ext_authz_denied"));
        assert_eq!(headers[0].value, "no");
        assert!(
            !headers[0].append,
            "append defaults to false in a denied response"
        );
        // A bare denial is a 403; so is a status code that is not HTTP's.
        for status in [
            None,
            Some(pb::HttpStatus { code: 0 }),
            Some(pb::HttpStatus { code: 70000 }),
        ] {
            let bare = pb::CheckResponse {
                status: Some(pb::Status {
                    code: pb::code::UNAUTHENTICATED,
                    message: String::new(),
                }),
                http_response: Some(HttpResponse::DeniedResponse(pb::DeniedHttpResponse {
                    status,
                    headers: vec![],
                    body: String::new(),
                })),
            };
            let Answer::Deny(local, _) = decide(bare, &mut request()) else {
                panic!("denied expected")
            };
            assert_eq!(local.status, StatusCode::FORBIDDEN);
        }
        // An ok_response does not turn a denial into an allow.
        let mut mixed = ok(vec![], &[], vec![]);
        mixed.status = Some(pb::Status {
            code: pb::code::PERMISSION_DENIED,
            message: String::new(),
        });
        assert!(matches!(decide(mixed, &mut request()), Answer::Deny(..)));
    }
}
