//! Requests that are already in normal form. Normalization (`verimesh_policy::Normalizer`)
//! is defined once, in the policy crate; it copies every header into owned strings, which
//! is most of what an inbound request costs when no policy applies to the workload. Most
//! requests are already normal, so this recognises them cheaply — conservatively: each
//! check below accepts a subset of what the normalizer accepts *and leaves unchanged*, so
//! the normalizer's output for an accepted request is the request itself minus its
//! mesh-internal headers. Anything else (an odd method, a header value with spaces around
//! it, a non-ASCII byte, a bad path, two Host headers) is handed back to the engine, which
//! answers it exactly as before (400 with its own reason, or the request it rewrote).
//!
//! The path is normalized by the policy crate's own `normalize_target`, so routing,
//! authorization and what is forwarded still see one normalized path.

use http::header::{HeaderMap, HOST};
use http::Request;
use verimesh_config::mesh::NormalizationType;
use verimesh_policy::normalize::{is_internal_header, normalize_target};

/// Makes `req` what the normalizer would make of it, when that can be told without the
/// normalizer: mesh-internal headers removed and the path normalized. Returns `false`, with
/// `req` untouched, when the engine must normalize it instead.
pub fn settle<B>(req: &mut Request<B>, mode: NormalizationType) -> bool {
    if !plain_method(req.method().as_str()) || !plain_host(req) || !plain_headers(req.headers()) {
        return false;
    }
    let raw = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let Ok(target) = normalize_target(raw, mode) else {
        return false;
    };
    super::forward::set_path(req, &target.path, target.query.as_deref());
    remove_internal(req.headers_mut());
    true
}

/// Upper-case letters only: a subset of the methods the normalizer accepts (it also admits
/// digits, `-` and `_`), which it keeps as they are.
fn plain_method(m: &str) -> bool {
    !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase())
}

/// At most one Host header, and the authority the normalizer checks (`:authority`, else
/// Host) made only of characters its host check accepts. Host is validated, not
/// rewritten, by normalization.
fn plain_host<B>(req: &Request<B>) -> bool {
    let mut hosts = req.headers().get_all(HOST).iter();
    let header = hosts.next();
    if hosts.next().is_some() {
        return false;
    }
    let host = match (req.uri().authority(), header) {
        (Some(a), _) => a.as_str().as_bytes(),
        (None, Some(h)) => h.as_bytes(),
        (None, None) => b"",
    };
    host.iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']'))
}

/// Every name lower-case letters, digits and `-` (a subset of RFC 9110 tokens, left as it
/// is when lower-cased), every value visible ASCII with inner spaces or tabs only (left as
/// it is when trimmed; no NUL, CR or LF; UTF-8).
fn plain_headers(headers: &HeaderMap) -> bool {
    headers
        .iter()
        .all(|(name, value)| plain_name(name.as_str().as_bytes()) && plain_value(value.as_bytes()))
}

// The byte checks below fold with `&` rather than stopping at the first bad byte: almost
// every header passes, and a loop without an early exit is one the compiler can run over
// many bytes at a time.

fn plain_name(n: &[u8]) -> bool {
    !n.is_empty()
        && n.iter().fold(true, |ok, &b| {
            ok & (b.is_ascii_lowercase() | b.is_ascii_digit() | (b == b'-'))
        })
}

fn plain_value(v: &[u8]) -> bool {
    v.iter().fold(true, |ok, &b| {
        ok & ((0x20..0x7f).contains(&b) | (b == b'\t'))
    }) && v.first().is_none_or(|b| !matches!(b, b' ' | b'\t'))
        && v.last().is_none_or(|b| !matches!(b, b' ' | b'\t'))
}

/// Removes every header only the mesh may set (all values of each such name, as the
/// normalizer drops them). Each remaining name keeps its values in order; the order of
/// different names may change, which HTTP gives no meaning (RFC 9110 section 5.3).
pub fn remove_internal(headers: &mut HeaderMap) {
    while let Some(name) = headers
        .keys()
        .find(|n| is_internal_header(n.as_str()))
        .cloned()
    {
        headers.remove(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verimesh_policy::{Normalizer, RawRequest};

    fn request(method: &str, uri: &str, headers: &[(&str, &[u8])]) -> Request<()> {
        let mut b = Request::builder().method(method).uri(uri);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(()).unwrap()
    }

    /// The normalizer's view of a request, as `http::authz` builds it.
    fn engine(
        req: &Request<()>,
        mode: NormalizationType,
    ) -> Option<(String, Vec<(String, String)>)> {
        let raw = RawRequest {
            method: req.method().as_str().into(),
            target: req
                .uri()
                .path_and_query()
                .map_or("/".into(), |p| p.as_str().into()),
            authority: req.uri().authority().map(|a| a.as_str().into()),
            headers: req
                .headers()
                .iter()
                .map(|(n, v)| {
                    Some((
                        n.as_str().into(),
                        std::str::from_utf8(v.as_bytes()).ok()?.into(),
                    ))
                })
                .collect::<Option<_>>()?,
        };
        let n = Normalizer {
            mode,
            reserved_headers: &[],
        };
        let r = n.normalize(&raw).ok()?;
        let pq = match r.query {
            Some(q) => format!("{}?{q}", r.path),
            None => r.path,
        };
        Some((pq, r.headers))
    }

    fn settled(req: &Request<()>) -> (String, Vec<(String, String)>) {
        let pq = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let h = req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap().to_string()))
            .collect();
        (pq, h)
    }

    /// Header lines by name, each name's values in their order: what HTTP makes of a field
    /// section (the order of different names is not significant, RFC 9110 section 5.3, and
    /// `HeaderMap::remove` does not keep it).
    fn by_name(mut h: Vec<(String, String)>) -> Vec<(String, String)> {
        h.sort_by(|a, b| a.0.cmp(&b.0));
        h
    }

    /// Whatever `settle` accepts, it turns into exactly what the engine would forward.
    #[test]
    fn settled_requests_equal_the_engines() {
        let cases: Vec<Request<()>> = vec![
            request("GET", "/", &[]),
            request("GET", "http://web.ns:8080/a/../b/%41?x=1", &[("x-a", b"1")]),
            request(
                "POST",
                "/p//q/./r?y",
                &[
                    ("host", b"Web.NS"),
                    ("x-verimesh-peer", b"a;b"),
                    ("x-forwarded-client-cert", b"By=x"),
                    ("x-envoy-original-path", b"/evil"),
                    ("x-b", b"two words"),
                    ("x-b", b"again"),
                    ("content-type", b"text/plain"),
                ],
            ),
        ];
        for mode in [
            NormalizationType::None,
            NormalizationType::Base,
            NormalizationType::MergeSlashes,
            NormalizationType::DecodeAndMergeSlashes,
        ] {
            for case in &cases {
                let expected = engine(case, mode).expect("the engine accepts it");
                let mut req = case.clone();
                assert!(settle(&mut req, mode), "{case:?}");
                let (pq, headers) = settled(&req);
                assert_eq!(pq, expected.0, "{case:?} {mode:?}");
                assert_eq!(by_name(headers), by_name(expected.1), "{case:?} {mode:?}");
            }
        }
    }

    /// What `settle` is unsure of is left to the engine, untouched.
    #[test]
    fn anything_unusual_goes_to_the_engine() {
        let cases: Vec<Request<()>> = vec![
            request("get", "/", &[]),
            request("M-SEARCH", "/", &[]),
            request("GET", "/", &[("x-a", b" padded")]),
            request("GET", "/", &[("x-a", b"tail\t")]),
            request("GET", "/", &[("x-a", b"caf\xc3\xa9")]),
            request("GET", "/", &[("x_a", b"1")]),
            request("GET", "/", &[("host", b"a"), ("host", b"b")]),
            request("GET", "/", &[("host", b"a%20b")]),
            request("GET", "/a/%2", &[]),
        ];
        for case in cases {
            let mut req = case.clone();
            assert!(!settle(&mut req, NormalizationType::Base), "{case:?}");
            assert_eq!(req.uri(), case.uri());
            assert_eq!(req.headers(), case.headers());
        }
    }

    #[test]
    fn internal_headers_go_whatever_their_count() {
        let mut h = HeaderMap::new();
        h.append("x-verimesh-peer", "a".parse().unwrap());
        h.append("x-verimesh-peer", "b".parse().unwrap());
        h.append("x-envoy-x", "c".parse().unwrap());
        h.append("x-keep", "d".parse().unwrap());
        remove_internal(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-keep"));
    }
}
