//! Precompiled string, path-template and address matchers with Istio's value syntax: `*`
//! alone (any non-empty value), `*suffix`, `prefix*`, or an exact value. Nothing here is a
//! regular expression, so no user string is ever compiled into one.

use ipnet::IpNet;
use std::net::IpAddr;

/// One value pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrMatch {
    /// `*`: any non-empty value.
    Present,
    Exact(Box<str>),
    Prefix(Box<str>),
    Suffix(Box<str>),
}

impl StrMatch {
    /// Parses Istio's wildcard syntax. `lower` folds the pattern to lower case (for values,
    /// like hosts, that are compared case-insensitively after being lower-cased themselves).
    pub fn parse(value: &str, lower: bool) -> StrMatch {
        let v = if lower {
            value.to_ascii_lowercase()
        } else {
            value.to_string()
        };
        if v == "*" {
            StrMatch::Present
        } else if let Some(rest) = v.strip_prefix('*') {
            StrMatch::Suffix(rest.into())
        } else if let Some(rest) = v.strip_suffix('*') {
            StrMatch::Prefix(rest.into())
        } else {
            StrMatch::Exact(v.into())
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        match self {
            StrMatch::Present => !s.is_empty(),
            StrMatch::Exact(e) => s == &**e,
            StrMatch::Prefix(p) => s.starts_with(&**p),
            StrMatch::Suffix(p) => s.ends_with(&**p),
        }
    }
}

/// A list of patterns: matches when any does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnyOf(pub Vec<StrMatch>);

impl AnyOf {
    pub fn parse(values: &[String], lower: bool) -> AnyOf {
        AnyOf(values.iter().map(|v| StrMatch::parse(v, lower)).collect())
    }

    pub fn matches(&self, s: &str) -> bool {
        self.0.iter().any(|m| m.matches(s))
    }
}

/// One segment of a path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Literal(Box<str>),
    /// `{*}`: exactly one non-empty segment.
    One,
    /// `{**}`: the rest of the path, zero or more segments (always last).
    Rest,
}

/// A path pattern: Istio's wildcard syntax, or a `{*}` / `{**}` template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathMatch {
    Plain(StrMatch),
    Template(Vec<Seg>),
}

impl PathMatch {
    pub fn parse(value: &str) -> PathMatch {
        if !(value.contains("{*}") || value.contains("{**}")) {
            return PathMatch::Plain(StrMatch::parse(value, false));
        }
        // Validation (crates/config) guarantees `{**}` is last and no other braces occur;
        // a malformed template here still compiles to something that matches literally.
        let body = value.strip_prefix('/').unwrap_or(value);
        let segs = body
            .split('/')
            .map(|s| match s {
                "{*}" => Seg::One,
                "{**}" => Seg::Rest,
                lit => Seg::Literal(lit.into()),
            })
            .collect();
        PathMatch::Template(segs)
    }

    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Plain(m) => m.matches(path),
            PathMatch::Template(segs) => match path.strip_prefix('/') {
                Some(body) => template_matches(segs, body),
                None => false,
            },
        }
    }
}

fn template_matches(segs: &[Seg], body: &str) -> bool {
    let mut rest = Some(body);
    for seg in segs {
        if let Seg::Rest = seg {
            // Zero or more segments after a slash: `/foo/{**}` matches `/foo/` but not `/foo`.
            return rest.is_some();
        }
        let Some(r) = rest else { return false };
        let (head, tail) = match r.split_once('/') {
            Some((h, t)) => (h, Some(t)),
            None => (r, None),
        };
        let ok = match seg {
            Seg::Literal(l) => head == &**l,
            Seg::One => !head.is_empty(),
            Seg::Rest => true,
        };
        if !ok {
            return false;
        }
        rest = tail;
    }
    rest.is_none()
}

/// Addresses or CIDR blocks; a bare address is a /32 or /128.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpSet(pub Vec<IpNet>);

impl IpSet {
    /// Parses each value; the first that is neither an address nor a block is returned as
    /// the error.
    pub fn parse(values: &[String]) -> Result<IpSet, String> {
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            let net = match v.parse::<IpNet>() {
                Ok(n) => n.trunc(),
                Err(_) => match v.parse::<IpAddr>() {
                    Ok(a) => IpNet::from(a),
                    Err(_) => return Err(v.clone()),
                },
            };
            out.push(net);
        }
        Ok(IpSet(out))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_forms() {
        assert!(StrMatch::parse("*", false).matches("x"));
        assert!(!StrMatch::parse("*", false).matches(""));
        assert!(StrMatch::parse("*.com", false).matches("a.com"));
        assert!(!StrMatch::parse("*.com", false).matches("a.org"));
        assert!(StrMatch::parse("/api/*", false).matches("/api/x"));
        assert!(StrMatch::parse("a.b", false).matches("a.b"));
        assert!(
            !StrMatch::parse("a.b", false).matches("axb"),
            "dots are literal"
        );
        assert!(StrMatch::parse("Foo.COM", true).matches("foo.com"));
    }

    #[test]
    fn templates() {
        let one = PathMatch::parse("/foo/{*}/bar");
        assert!(one.matches("/foo/x/bar"));
        assert!(!one.matches("/foo/x/y/bar"));
        assert!(!one.matches("/foo//bar"));
        let rest = PathMatch::parse("/foo/{**}");
        assert!(rest.matches("/foo/"));
        assert!(rest.matches("/foo/a/b/c"));
        assert!(!rest.matches("/foo"));
        assert!(!rest.matches("/foobar/x"));
        let mid = PathMatch::parse("/{*}/x/{**}");
        assert!(mid.matches("/a/x/b.txt"));
        assert!(!mid.matches("/a/y/b.txt"));
    }

    #[test]
    fn ip_sets() {
        let s = IpSet::parse(&["10.0.0.0/8".into(), "192.168.1.1".into()]).unwrap();
        assert!(s.contains("10.1.2.3".parse().unwrap()));
        assert!(s.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!s.contains("192.168.1.2".parse().unwrap()));
        assert!(IpSet::parse(&["nope".into()]).is_err());
    }
}
