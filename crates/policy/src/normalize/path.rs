//! The request-target: split into path, query and fragment, then the path normalized as the
//! mesh config's `pathNormalization` says. The proxy forwards and routes on the same result
//! that authorization matches, so there is only one view of the path.
//!
//! - NONE: the path as received (query and fragment still never take part in matching).
//! - BASE (the default): Envoy's `normalize_path` — percent-encoded unreserved characters
//!   decoded (`%41` → `A`, `%2E` → `.`), remaining escapes upper-cased, backslashes turned
//!   into slashes, and `.` / `..` segments removed as RFC 3986 section 5.2.4 says.
//! - MERGE_SLASHES: BASE, then runs of slashes merged into one.
//! - DECODE_AND_MERGE_SLASHES: `%2F` and `%5C` (either case) decoded first, then BASE (so
//!   a decoded backslash becomes a slash), then slashes merged.
//!
//! Bytes that cannot be in a request-target (controls, NUL, space, non-ASCII) and malformed
//! escapes are rejected: the caller answers 400.

use super::RequestError;
use verimesh_config::mesh::NormalizationType;

/// The parts of a request-target after normalization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Normalized path: what routing and authorization match, and what is forwarded.
    pub path: String,
    /// The query without its `?`, unchanged; never part of the matched path.
    pub query: Option<String>,
}

/// Splits and normalizes a raw request-target (`/a/b?x=1#frag`). The fragment is dropped.
pub fn normalize_target(raw: &str, mode: NormalizationType) -> Result<Target, RequestError> {
    if raw.is_empty() {
        return Err(RequestError::BadPath("empty request-target".into()));
    }
    if let Some(bad) = raw.bytes().find(|b| !(0x21..0x7f).contains(b)) {
        return Err(RequestError::BadPath(format!(
            "byte 0x{bad:02x} is not allowed in a request-target"
        )));
    }
    let without_fragment = raw.split_once('#').map_or(raw, |(p, _)| p);
    let (path, query) = match without_fragment.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (without_fragment, None),
    };
    if raw == "*" {
        // OPTIONS * — server-wide; matched as the literal "*".
        return Ok(Target {
            path: "*".into(),
            query: None,
        });
    }
    if !path.starts_with('/') {
        return Err(RequestError::BadPath(
            "the path must start with '/' (absolute-form targets are resolved by the proxy first)"
                .into(),
        ));
    }
    let path = match mode {
        NormalizationType::None => path.to_string(),
        NormalizationType::Default | NormalizationType::Base => base(path)?,
        NormalizationType::MergeSlashes => merge_slashes(&base(path)?),
        NormalizationType::DecodeAndMergeSlashes => merge_slashes(&base(&decode_slashes(path)?)?),
    };
    Ok(Target { path, query })
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Reads the escape at `i` (which holds `%`), or fails on a malformed one.
fn escape_at(bytes: &[u8], i: usize) -> Result<u8, RequestError> {
    match (
        bytes.get(i + 1).and_then(|b| hex(*b)),
        bytes.get(i + 2).and_then(|b| hex(*b)),
    ) {
        (Some(h), Some(l)) => Ok(h * 16 + l),
        _ => Err(RequestError::BadPath(
            "malformed percent-encoding in the path".into(),
        )),
    }
}

/// `%2F`, `%2f`, `%5C`, `%5c` → `/` and `\`.
fn decode_slashes(path: &str) -> Result<String, RequestError> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let v = escape_at(bytes, i)?;
            if v == b'/' || v == b'\\' {
                out.push(v as char);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i] as char);
        i += 1;
    }
    Ok(out)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Envoy's `normalize_path`: decode unreserved escapes, upper-case the rest, backslash to
/// slash, then remove dot segments.
fn base(path: &str) -> Result<String, RequestError> {
    if is_base_normal(path) {
        // Nearly every path is already normal: one copy instead of a decoded copy, a
        // segment list and a rebuilt string.
        return Ok(path.to_string());
    }
    let bytes = path.as_bytes();
    let mut decoded = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let v = escape_at(bytes, i)?;
                if is_unreserved(v) {
                    decoded.push(v as char);
                } else {
                    decoded.push('%');
                    decoded.push(bytes[i + 1].to_ascii_uppercase() as char);
                    decoded.push(bytes[i + 2].to_ascii_uppercase() as char);
                }
                i += 3;
            }
            b'\\' => {
                decoded.push('/');
                i += 1;
            }
            b => {
                decoded.push(b as char);
                i += 1;
            }
        }
    }
    Ok(remove_dot_segments(&decoded))
}

/// True when `base` would return `path` unchanged: nothing to decode or upper-case, no
/// backslash, no `.` or `..` segment.
fn is_base_normal(path: &str) -> bool {
    !path.bytes().any(|b| b == b'%' || b == b'\\')
        && !path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
}

/// RFC 3986 section 5.2.4, for an absolute path. `..` above the root stays at the root.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => trailing_slash = i == last,
            ".." => {
                out.pop();
                trailing_slash = i == last;
            }
            s => {
                out.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut result = String::with_capacity(path.len());
    for s in &out {
        result.push('/');
        result.push_str(s);
    }
    if trailing_slash || result.is_empty() {
        result.push('/');
    }
    result
}

fn merge_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut prev_slash = false;
    for c in path.chars() {
        if c == '/' && prev_slash {
            continue;
        }
        prev_slash = c == '/';
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use NormalizationType as N;

    fn p(raw: &str, mode: N) -> String {
        normalize_target(raw, mode).unwrap().path
    }

    #[test]
    fn dot_segments_and_backslashes() {
        assert_eq!(p("/a/b/../c", N::Base), "/a/c");
        assert_eq!(p("/a/./b/.", N::Base), "/a/b/");
        assert_eq!(p("/../../admin", N::Base), "/admin");
        assert_eq!(p("/a/%2e%2E/admin", N::Base), "/admin");
        assert_eq!(p("/a\\..\\admin", N::Base), "/admin");
        assert_eq!(p("/%61dmin", N::Base), "/admin");
        assert_eq!(p("/a%2fb", N::Base), "/a%2Fb");
        assert_eq!(p("/", N::Base), "/");
        assert_eq!(p("/a/..", N::Base), "/");
    }

    #[test]
    fn modes() {
        assert_eq!(p("/a/../b//c", N::None), "/a/../b//c");
        assert_eq!(p("//admin", N::Base), "//admin");
        assert_eq!(p("//admin", N::MergeSlashes), "/admin");
        assert_eq!(p("/%2Fadmin", N::MergeSlashes), "/%2Fadmin");
        assert_eq!(p("/%2Fadmin", N::DecodeAndMergeSlashes), "/admin");
        assert_eq!(p("/x%5C..%5Cadmin", N::DecodeAndMergeSlashes), "/admin");
        assert_eq!(p("/x%5c..%5cadmin", N::DecodeAndMergeSlashes), "/admin");
    }

    #[test]
    fn query_and_fragment_split_off() {
        let t = normalize_target("/admin?x=1#y", N::None).unwrap();
        assert_eq!(t.path, "/admin");
        assert_eq!(t.query.as_deref(), Some("x=1"));
        assert_eq!(p("/admin#/../public", N::Base), "/admin");
    }

    #[test]
    fn rejects() {
        for bad in ["", "/a\0b", "/a b", "/a%zz", "/a%2", "admin", "/caf\u{e9}"] {
            assert!(normalize_target(bad, N::Base).is_err(), "{bad:?}");
        }
    }

    /// The full algorithm, without the shortcut for paths that are already normal.
    fn base_in_full(path: &str) -> String {
        let decoded: String = path
            .chars()
            .map(|c| if c == '\\' { '/' } else { c })
            .collect();
        remove_dot_segments(&decoded)
    }

    #[test]
    fn the_shortcut_only_takes_paths_the_full_algorithm_leaves_alone() {
        let corpus = "/ // /a /a/ /a//b /a/b/ /.a /a. /..a /a.. /... /a/.../b /.well-known/x \
                      /a/. /a/.. /./a /../a /a/./b /a/../b /. /.. /a\\b /a/b.c/d..e ///x/./";
        for path in corpus.split_whitespace() {
            let full = base_in_full(path);
            if is_base_normal(path) {
                assert_eq!(full, path, "{path:?} was taken as normal");
            } else if !path.contains('\\') {
                assert_ne!(full, path, "{path:?} is normal but was not taken");
            }
            assert_eq!(base(path).unwrap(), full, "{path:?}");
        }
    }
}
