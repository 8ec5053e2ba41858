//! An external authorizer with the contract of Istio's ext-authz sample (HTTP flavour; the
//! gRPC one is `ext_authz_grpc`), for CUSTOM AuthorizationPolicies: a request carrying
//! `x-ext-authz: allow` is allowed, any other is denied; the verdict is also given in
//! `x-ext-authz-check-result`, which the sample's mesh config lets through to the app (on
//! allow) and to the caller (on deny).

use crate::reply::{self, Body};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

pub(crate) const CHECK_HEADER: &str = "x-ext-authz";
pub(crate) const RESULT_HEADER: &str = "x-ext-authz-check-result";

/// What the sample answers a denied request, in either flavour.
pub(crate) fn deny_body() -> String {
    format!("denied by ext_authz for not found header `{CHECK_HEADER}: allow` in the request")
}

/// The verdict on one check request (every path is a check: Envoy appends the original
/// path to the authorizer's prefix).
pub fn check(headers: &HeaderMap) -> Response<Body> {
    let allowed = headers
        .get_all(CHECK_HEADER)
        .iter()
        .any(|v| v.as_bytes() == b"allow");
    let (status, body, result) = if allowed {
        (StatusCode::OK, String::new(), "allowed")
    } else {
        (StatusCode::FORBIDDEN, deny_body(), "denied")
    };
    let mut resp = reply::text(status, body);
    resp.headers_mut()
        .insert(RESULT_HEADER, HeaderValue::from_static(result));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_only_the_allow_header() {
        let mut h = HeaderMap::new();
        assert_eq!(check(&h).status(), StatusCode::FORBIDDEN);
        h.insert(CHECK_HEADER, HeaderValue::from_static("deny"));
        assert_eq!(check(&h).status(), StatusCode::FORBIDDEN);
        h.append(CHECK_HEADER, HeaderValue::from_static("allow"));
        let r = check(&h);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[RESULT_HEADER], "allowed");
    }
}
