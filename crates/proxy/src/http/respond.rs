//! Responses the proxy makes itself — errors that say which flag and why, redirects, direct
//! responses — with Envoy's bodies, so users recognise them.

use crate::body::{self, Body};
use crate::flags::ResponseFlag;
use crate::upstream::UpstreamError;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

/// A local answer with its flag, e.g. 404 NR, 503 UH, 504 UT.
pub struct Local {
    pub status: StatusCode,
    pub flag: Option<ResponseFlag>,
    pub body: String,
    pub detail: Option<String>,
}

impl Local {
    pub fn new(status: StatusCode, flag: Option<ResponseFlag>, body: impl Into<String>) -> Self {
        Local {
            status,
            flag,
            body: body.into(),
            detail: None,
        }
    }

    pub fn no_route() -> Self {
        Local::new(StatusCode::NOT_FOUND, Some(ResponseFlag::NoRouteFound), "")
    }

    pub fn no_healthy_upstream() -> Self {
        Local::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(ResponseFlag::NoHealthyUpstream),
            "no healthy upstream",
        )
    }

    pub fn no_cluster(name: &str) -> Self {
        let mut l = Local::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(ResponseFlag::NoClusterFound),
            "no healthy upstream",
        );
        l.detail = Some(format!("cluster {name:?} not found"));
        l
    }

    pub fn timeout() -> Self {
        Local::new(
            StatusCode::GATEWAY_TIMEOUT,
            Some(ResponseFlag::UpstreamRequestTimeout),
            "upstream request timeout",
        )
    }

    pub fn bad_request(why: String) -> Self {
        let mut l = Local::new(
            StatusCode::BAD_REQUEST,
            Some(ResponseFlag::InvalidEnvoyRequestHeaders),
            "Bad Request",
        );
        l.detail = Some(why);
        l
    }

    pub fn upstream(e: &UpstreamError) -> Self {
        let mut l = Local::new(
            e.status(),
            Some(e.flag()),
            format!(
                "upstream connect error or disconnect/reset before headers. reset reason: {}",
                e.reason()
            ),
        );
        l.detail = Some(e.to_string());
        l
    }

    pub fn into_response(self) -> Response<Body> {
        let mut resp = Response::new(body::full(self.body.clone()));
        *resp.status_mut() = self.status;
        if !self.body.is_empty() {
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        }
        resp
    }
}
