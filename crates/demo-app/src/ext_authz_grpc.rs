//! Istio's ext-authz sample, gRPC flavour (the sample serves it on port 9000 beside HTTP on
//! 8000): Envoy's `envoy.service.auth.v3.Authorization/Check` over h2c. The rule is the HTTP
//! flavour's: `x-ext-authz: allow` among the checked request's headers allows, and the answer
//! asks for `x-ext-authz-check-result: allowed` on the request sent on; anything else is
//! PERMISSION_DENIED with a 403, the sample's body and `x-ext-authz-check-result: denied` for
//! the caller.

use crate::ext_authz::{deny_body, CHECK_HEADER, RESULT_HEADER};
use crate::server::Running;
use crate::DemoError;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::WithTrailers;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::{ready, Ready};
use std::net::SocketAddr;
use verimesh_envoy_auth as pb;

type Trailers = Ready<Option<Result<HeaderMap, Infallible>>>;
/// A gRPC answer: the framed message (if any), then the status in trailers.
pub type GrpcBody = WithTrailers<Full<Bytes>, Trailers>;

/// Serves Check on `addr` until the returned task is aborted.
pub async fn serve_ext_authz_grpc(addr: SocketAddr) -> Result<Running, DemoError> {
    let (listener, addr) = crate::server::listen(addr).await?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = service_fn(|req| async move { Ok::<_, Infallible>(handle(req).await) });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(Running { addr, task })
}

async fn handle(req: Request<Incoming>) -> Response<GrpcBody> {
    if req.uri().path() != pb::CHECK_PATH {
        return answer(
            None,
            pb::code::UNIMPLEMENTED,
            "only Authorization/Check is served",
        );
    }
    let body = match Limited::new(req.into_body(), pb::MAX_MESSAGE_BYTES + 5)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => return answer(None, pb::code::INVALID_ARGUMENT, &e.to_string()),
    };
    match pb::decode::<pb::CheckRequest>(&body) {
        Ok(check) => answer(Some(verdict(&check)), pb::code::OK, ""),
        Err(e) => answer(None, pb::code::INVALID_ARGUMENT, &e.to_string()),
    }
}

/// The sample's decision on one check.
pub fn verdict(check: &pb::CheckRequest) -> pb::CheckResponse {
    let allowed = check
        .attributes
        .as_ref()
        .and_then(|a| a.request.as_ref())
        .and_then(|r| r.http.as_ref())
        .and_then(|h| h.headers.get(CHECK_HEADER))
        .is_some_and(|v| v == "allow");
    let status = |code| {
        Some(pb::Status {
            code,
            message: String::new(),
        })
    };
    if allowed {
        return pb::CheckResponse {
            status: status(pb::code::OK),
            http_response: Some(pb::check_response::HttpResponse::OkResponse(
                pb::OkHttpResponse {
                    headers: vec![pb::HeaderValueOption::set(RESULT_HEADER, "allowed")],
                    ..Default::default()
                },
            )),
        };
    }
    pb::CheckResponse {
        status: status(pb::code::PERMISSION_DENIED),
        http_response: Some(pb::check_response::HttpResponse::DeniedResponse(
            pb::DeniedHttpResponse {
                status: Some(pb::HttpStatus {
                    code: i32::from(StatusCode::FORBIDDEN.as_u16()),
                }),
                headers: vec![pb::HeaderValueOption::set(RESULT_HEADER, "denied")],
                body: deny_body(),
            },
        )),
    }
}

/// A gRPC response: HTTP 200, the message when there is one, `grpc-status` in trailers.
fn answer(message: Option<pb::CheckResponse>, code: i32, why: &str) -> Response<GrpcBody> {
    let data = message.map(|m| pb::encode(&m)).unwrap_or_default();
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(code));
    if let Ok(v) = HeaderValue::from_str(why) {
        if !why.is_empty() {
            trailers.insert("grpc-message", v);
        }
    }
    let mut resp = Response::new(Full::new(data).with_trailers(ready(Some(Ok(trailers)))));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: Option<&str>) -> pb::CheckRequest {
        let mut http = pb::HttpRequest::default();
        if let Some(v) = value {
            http.headers.insert(CHECK_HEADER.into(), v.into());
        }
        pb::CheckRequest {
            attributes: Some(pb::AttributeContext {
                request: Some(pb::Request {
                    time: None,
                    http: Some(http),
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn allows_only_the_allow_header() {
        let ok = verdict(&check(Some("allow")));
        assert_eq!(ok.status.map(|s| s.code), Some(pb::code::OK));
        let Some(pb::check_response::HttpResponse::OkResponse(o)) = ok.http_response else {
            panic!("ok_response expected")
        };
        assert_eq!(
            o.headers[0].header.as_ref().map(|h| h.value.as_str()),
            Some("allowed")
        );
        for denied in [
            check(None),
            check(Some("deny")),
            pb::CheckRequest::default(),
        ] {
            let r = verdict(&denied);
            assert_eq!(r.status.map(|s| s.code), Some(pb::code::PERMISSION_DENIED));
            let Some(pb::check_response::HttpResponse::DeniedResponse(d)) = r.http_response else {
                panic!("denied_response expected")
            };
            assert_eq!(d.status.map(|s| s.code), Some(403));
            assert_eq!(
                d.body,
                "denied by ext_authz for not found header `x-ext-authz: allow` in the request"
            );
        }
    }
}
