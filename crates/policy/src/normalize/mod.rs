//! Request normalization: one code path, used for both routing and policy. A raw request
//! (method, request-target, headers as received) becomes an [`HttpRequest`] or a
//! [`RequestError`], which the proxy answers with 400.

mod headers;
mod path;

pub use headers::{is_internal_header, INTERNAL_HEADER_PREFIXES};
pub use path::{normalize_target, Target};

use verimesh_config::mesh::NormalizationType;

/// Why a request is rejected before any policy runs (answered with 400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("invalid method {0:?}: methods are upper-case tokens")]
    BadMethod(String),
    #[error("invalid path: {0}")]
    BadPath(String),
    #[error("invalid header name {0:?}")]
    BadHeaderName(String),
    #[error("invalid value for header {0:?}: NUL, CR and LF are not allowed")]
    BadHeaderValue(String),
    #[error("invalid host {0:?}")]
    BadHost(String),
    #[error("more than one Host header")]
    DuplicateHost,
}

/// A request as the proxy received it.
#[derive(Clone, Debug, Default)]
pub struct RawRequest {
    pub method: String,
    /// The request-target as received: path, optional `?query`, optional `#fragment`.
    pub target: String,
    /// `:authority` (HTTP/2) when present; otherwise the `host` header is used.
    pub authority: Option<String>,
    /// Headers in arrival order; a name may repeat.
    pub headers: Vec<(String, String)>,
}

/// A normalized HTTP request: what routing matches, authorization evaluates and the proxy
/// forwards.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// Normalized path without query or fragment.
    pub path: String,
    pub query: Option<String>,
    /// Lower-cased host, port kept as sent (`example.com:8080`); empty when none was sent.
    pub host: String,
    /// Lower-cased names, trimmed values, arrival order, mesh-internal headers removed.
    pub headers: Vec<(String, String)>,
}

impl HttpRequest {
    /// Every value of a header, each on its own (repeated headers are never joined).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What normalization must also strip: headers a verified token will be copied into, so
/// that a caller can never supply them itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Normalizer<'a> {
    pub mode: NormalizationType,
    /// Extra header names (lower case) removed from every incoming request.
    pub reserved_headers: &'a [String],
}

impl Normalizer<'_> {
    pub fn normalize(&self, raw: &RawRequest) -> Result<HttpRequest, RequestError> {
        validate_method(&raw.method)?;
        let target = normalize_target(&raw.target, self.mode)?;
        let mut headers = Vec::with_capacity(raw.headers.len());
        let mut host_header: Option<String> = None;
        for (name, value) in &raw.headers {
            let name = headers::normalize_name(name)?;
            let value = headers::normalize_value(&name, value)?;
            if name == "host" {
                if host_header.is_some() {
                    return Err(RequestError::DuplicateHost);
                }
                host_header = Some(value.clone());
            }
            if is_internal_header(&name) || self.reserved_headers.contains(&name) {
                continue;
            }
            headers.push((name, value));
        }
        let host = match (&raw.authority, host_header) {
            (Some(a), _) => a.trim().to_string(),
            (None, Some(h)) => h,
            (None, None) => String::new(),
        };
        let host = headers::normalize_host(&host)?;
        Ok(HttpRequest {
            method: raw.method.clone(),
            path: target.path,
            query: target.query,
            host,
            headers,
        })
    }
}

/// Methods are tokens of upper-case letters, digits, `-` and `_` (`GET`, `PURGE`,
/// `VERSION-CONTROL`); a lower-case method would slip past `methods: [GET]` on a backend
/// that compares case-insensitively, so it is refused.
fn validate_method(m: &str) -> Result<(), RequestError> {
    let ok = !m.is_empty()
        && m.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(RequestError::BadMethod(m.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(method: &str, target: &str, headers: &[(&str, &str)]) -> RawRequest {
        RawRequest {
            method: method.into(),
            target: target.into(),
            authority: None,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn methods() {
        let n = Normalizer::default();
        assert!(n.normalize(&raw("GET", "/", &[])).is_ok());
        for bad in ["get", "Get", "", "GE T", "G\0"] {
            assert!(matches!(
                n.normalize(&raw(bad, "/", &[])),
                Err(RequestError::BadMethod(_))
            ));
        }
    }

    #[test]
    fn headers_and_host() {
        let n = Normalizer::default();
        let r = n
            .normalize(&raw(
                "GET",
                "/x?q",
                &[
                    ("Host", "Example.COM:8080"),
                    ("X-Role", " admin \t"),
                    ("x-role", "user"),
                    ("X-Envoy-Original-Path", "/evil"),
                    ("x-forwarded-client-cert", "By=spiffe://x"),
                    ("x-verimesh-peer", "spoofed"),
                ],
            ))
            .unwrap();
        assert_eq!(r.host, "example.com:8080");
        assert_eq!(r.path, "/x");
        assert_eq!(
            r.header_values("x-role").collect::<Vec<_>>(),
            ["admin", "user"]
        );
        assert!(r.headers.iter().all(|(n, _)| !n.starts_with("x-envoy")
            && n != "x-forwarded-client-cert"
            && !n.starts_with("x-verimesh")));
        assert!(matches!(
            n.normalize(&raw("GET", "/", &[("host", "a"), ("Host", "b")])),
            Err(RequestError::DuplicateHost)
        ));
        assert!(matches!(
            n.normalize(&raw("GET", "/", &[("bad name", "a")])),
            Err(RequestError::BadHeaderName(_))
        ));
        assert!(matches!(
            n.normalize(&raw("GET", "/", &[("x", "a\0b")])),
            Err(RequestError::BadHeaderValue(_))
        ));
    }

    #[test]
    fn reserved_headers_are_stripped() {
        let reserved = vec!["x-jwt-payload".to_string()];
        let n = Normalizer {
            mode: NormalizationType::Base,
            reserved_headers: &reserved,
        };
        let r = n
            .normalize(&raw("GET", "/", &[("X-JWT-Payload", "forged")]))
            .unwrap();
        assert!(r.headers.is_empty());
    }
}
