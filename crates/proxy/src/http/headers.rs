//! Header handling shared by both directions: the hints proxies pass each other, request
//! ids, route header operations, and XFCC. (Mesh-internal headers a caller sends are removed
//! by the policy crate's normalization, in `http::authz`.)

use http::header::{HeaderMap, HeaderName, HeaderValue};
use verimesh_model::HeaderOps;

/// The calling proxy's workload, `<workload>;<namespace>` (on requests between proxies) and
/// the answering proxy's (on their responses); trusted only over mesh mTLS.
pub const PEER: &str = "x-verimesh-peer";
/// Set by the calling proxy when the application spoke HTTP/2, so the answering proxy
/// speaks HTTP/2 to its application as well.
pub const DOWNSTREAM_H2: &str = "x-verimesh-proto";
pub const XFCC: &str = "x-forwarded-client-cert";
pub const REQUEST_ID: &str = "x-request-id";

/// Reads the peer hint as `(workload, namespace)`.
pub fn peer_of(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(PEER)?.to_str().ok()?;
    let (w, n) = v.split_once(';')?;
    Some((w.to_string(), n.to_string()))
}

pub fn peer_value(workload: &str, namespace: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("{workload};{namespace}")).ok()
}

/// Ensures an `x-request-id` and returns it.
pub fn request_id(headers: &mut HeaderMap) -> String {
    if let Some(id) = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()) {
        if !id.is_empty() {
            return id.to_string();
        }
    }
    let id = crate::rand::request_id();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID, v);
    }
    id
}

pub fn apply(ops: Option<&HeaderOps>, headers: &mut HeaderMap) {
    let Some(ops) = ops else { return };
    for name in &ops.remove {
        headers.remove(name.as_str());
    }
    for (name, value) in &ops.set {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(n, v);
        }
    }
    for (name, value) in &ops.add {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
}

/// Envoy's XFCC element for a verified mesh peer: who terminated (`By`), the SHA-256 of the
/// peer's certificate (`Hash`), its (empty) subject and its SPIFFE ID (`URI`).
pub fn xfcc(by: &str, peer_cert_der: &[u8], peer_id: &str) -> Option<HeaderValue> {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, peer_cert_der);
    let hash: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("By={by};Hash={hash};Subject=\"\";URI={peer_id}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xfcc_names_both_ends() {
        let v = xfcc(
            "spiffe://td/ns/b/sa/srv",
            b"cert",
            "spiffe://td/ns/a/sa/cli",
        )
        .unwrap();
        let s = v.to_str().unwrap();
        assert!(s.starts_with("By=spiffe://td/ns/b/sa/srv;Hash="));
        assert!(s.ends_with(";Subject=\"\";URI=spiffe://td/ns/a/sa/cli"));
    }

    #[test]
    fn request_ids_are_kept_or_made() {
        let mut h = HeaderMap::new();
        let made = request_id(&mut h);
        assert_eq!(made.len(), 36);
        assert_eq!(request_id(&mut h), made);
    }
}
