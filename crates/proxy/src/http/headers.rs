//! Header handling shared by both directions: the hints proxies pass each other, request
//! ids, route header operations, and XFCC. (Mesh-internal headers a caller sends are removed
//! by the policy crate's normalization, in `http::authz`.)

use http::header::{HeaderMap, HeaderName, HeaderValue};
use std::cell::RefCell;
use std::sync::Arc;
use verimesh_model::HeaderOps;

/// The calling proxy's workload, `<workload>;<namespace>` (on requests between proxies) and
/// the answering proxy's (on their responses); trusted only over mesh mTLS.
///
/// These names are `HeaderName`s, not strings: a map looked up by a string parses and
/// classifies the name on every call (about 500 instructions a lookup).
pub const PEER: HeaderName = HeaderName::from_static("x-verimesh-peer");
/// Set by the calling proxy when the application spoke HTTP/2, so the answering proxy
/// speaks HTTP/2 to its application as well.
pub const DOWNSTREAM_H2: HeaderName = HeaderName::from_static("x-verimesh-proto");
pub const XFCC: HeaderName = HeaderName::from_static("x-forwarded-client-cert");
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Reads the peer hint as `(workload, namespace)`, for metric labels. A proxy sees the same
/// few peers over and over, so each thread keeps the last one it read instead of allocating
/// both names per request.
pub fn peer_of(headers: &HeaderMap) -> Option<(Arc<str>, Arc<str>)> {
    /// A hint as received, and the names read from it.
    type Seen = (HeaderValue, Arc<str>, Arc<str>);
    thread_local! {
        static LAST: RefCell<Option<Seen>> = const { RefCell::new(None) };
    }
    let value = headers.get(PEER)?;
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((v, w, n)) = last.as_ref() {
            if v == value {
                return Some((w.clone(), n.clone()));
            }
        }
        let (w, n) = value.to_str().ok()?.split_once(';')?;
        let (w, n): (Arc<str>, Arc<str>) = (Arc::from(w), Arc::from(n));
        *last = Some((value.clone(), w.clone(), n.clone()));
        Some((w, n))
    })
}

pub fn peer_value(workload: &str, namespace: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("{workload};{namespace}")).ok()
}

/// Ensures an `x-request-id` (Envoy makes one when the caller sent none) and returns it
/// when `want` (only the access log reads it).
///
/// The id is marked never to be indexed by HPACK: a value that is new on every request
/// would otherwise be added to the HTTP/2 connection's header table each time, pushing out
/// the headers that do repeat (so they are sent in full again) and lengthening the list of
/// same-named entries the encoder compares each new value against.
pub fn request_id(headers: &mut HeaderMap, want: bool) -> Option<String> {
    if let Some(v) = headers.get_mut(REQUEST_ID) {
        if let Some(id) = v.to_str().ok().filter(|id| !id.is_empty()) {
            let id = want.then(|| id.to_string());
            v.set_sensitive(true);
            return id;
        }
    }
    let id = crate::rand::request_id();
    // Always ASCII hex and dashes, so this never fails.
    if let Ok(mut v) = HeaderValue::from_bytes(&id) {
        v.set_sensitive(true);
        headers.insert(REQUEST_ID, v);
    }
    want.then(|| String::from_utf8_lossy(&id).into_owned())
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
        let made = request_id(&mut h, true).unwrap();
        assert_eq!(made.len(), 36);
        assert_eq!(request_id(&mut h, true).as_deref(), Some(made.as_str()));
        assert_eq!(request_id(&mut h, false), None);
        let mut fresh = HeaderMap::new();
        assert_eq!(request_id(&mut fresh, false), None);
        assert_eq!(fresh.get(REQUEST_ID).unwrap().len(), 36);
    }

    #[test]
    fn peer_hints_are_read_and_reused() {
        let mut h = HeaderMap::new();
        assert!(peer_of(&h).is_none());
        h.insert(PEER, HeaderValue::from_static("web;shop"));
        let (w, n) = peer_of(&h).unwrap();
        assert_eq!((&*w, &*n), ("web", "shop"));
        let (w2, _) = peer_of(&h).unwrap();
        assert!(Arc::ptr_eq(&w, &w2));
        h.insert(PEER, HeaderValue::from_static("db;data"));
        assert_eq!(&*peer_of(&h).unwrap().0, "db");
        h.insert(PEER, HeaderValue::from_static("no-separator"));
        assert!(peer_of(&h).is_none());
    }
}
