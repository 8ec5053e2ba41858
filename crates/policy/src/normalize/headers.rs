//! Header names, values and the host: validated, lower-cased, trimmed; mesh-internal headers
//! recognised so that a caller can never forge them.

use super::RequestError;

/// Headers only the mesh itself may set. A request arriving at a proxy never carries them
/// onwards: the proxy adds its own (client certificate details, verimesh peer metadata,
/// Envoy-compatible internal headers) after normalization.
pub const INTERNAL_HEADER_PREFIXES: &[&str] = &["x-envoy-", "x-verimesh-"];
const INTERNAL_HEADERS: &[&str] = &["x-forwarded-client-cert"];

/// Whether a (lower-case) header name is mesh-internal.
pub fn is_internal_header(name: &str) -> bool {
    INTERNAL_HEADERS.contains(&name) || INTERNAL_HEADER_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Lower-cases a header name; pseudo-headers and non-token names are refused.
pub(super) fn normalize_name(name: &str) -> Result<String, RequestError> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(RequestError::BadHeaderName(name.to_string()));
    }
    Ok(name.to_ascii_lowercase())
}

/// Trims spaces and tabs; NUL, CR and LF anywhere are refused.
pub(super) fn normalize_value(name: &str, value: &str) -> Result<String, RequestError> {
    if value.bytes().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
        return Err(RequestError::BadHeaderValue(name.to_string()));
    }
    Ok(value.trim_matches([' ', '\t']).to_string())
}

/// Lower-cases the host (RFC 4343: host names compare case-insensitively); the port is kept
/// as sent, as Istio matches `hosts` against the whole authority (`example.com` does not
/// match `example.com:8080`; write `example.com:*` for any port).
pub(super) fn normalize_host(host: &str) -> Result<String, RequestError> {
    let ok = host.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']' | b'%')
    });
    if !ok {
        return Err(RequestError::BadHost(host.to_string()));
    }
    Ok(host.to_ascii_lowercase())
}
