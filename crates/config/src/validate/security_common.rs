//! Checks shared by the security kinds, the Kubernetes kinds and verimesh's own kinds: HTTP
//! header names, URLs, wildcard values, path templates, service accounts, base64 and durations.
//! Like [`super::common`], each returns a message saying what was expected.

use super::common;
use super::Findings;
use crate::types::Duration;
use crate::yaml::FieldPath;

/// RFC 9110 `tchar`: the characters of an HTTP token (header names, methods).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An HTTP header name as HTTP allows it (an RFC 9110 token).
pub fn validate_header_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name must not be empty".into());
    }
    if !name.bytes().all(is_tchar) {
        return Err(format!(
            "{name:?} is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)"
        ));
    }
    Ok(())
}

/// A header name restricted to letters, digits, '-' and '_' (for headers the proxy writes).
pub fn validate_strict_header_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name must not be empty".into());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "{name:?} is not a valid header name here: use only letters, digits, '-' and '_'"
        ));
    }
    Ok(())
}

/// An HTTP method: an upper-case token such as GET or POST (methods are case-sensitive, so
/// `get` would never match a request).
pub fn validate_method(method: &str) -> Result<(), String> {
    if method.is_empty() {
        return Err("method must not be empty".into());
    }
    if !method.bytes().all(is_tchar) {
        return Err(format!("{method:?} is not a valid HTTP method"));
    }
    if method.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(format!(
            "method {method:?} is lower case; HTTP methods are case-sensitive, write {:?}",
            method.to_ascii_uppercase()
        ));
    }
    Ok(())
}

/// The parts of an `http://` or `https://` URL that verimesh needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    pub https: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// Parses an absolute `http(s)://host[:port][/path][?query]` URL; hosts are DNS names, IPv4
/// addresses or bracketed IPv6 addresses.
pub fn parse_http_url(url: &str) -> Result<HttpUrl, String> {
    let bad = |why: &str| format!("{url:?} is not a valid http(s) URL: {why}");
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad("it must start with http:// or https://"));
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains white space or control characters"));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.contains('@') {
        return Err(bad("credentials in the URL are not supported"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((addr, tail)) = v6.split_once(']') else {
            return Err(bad("unterminated IPv6 address"));
        };
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("invalid IPv6 address"));
        }
        (addr, tail.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("the host is missing"));
    }
    if !authority.starts_with('[')
        && host.parse::<std::net::Ipv4Addr>().is_err()
        && common::validate_fqdn(host).is_err()
    {
        return Err(bad("the host is not a valid DNS name or IP address"));
    }
    let port = match port {
        None => {
            if https {
                443
            } else {
                80
            }
        }
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(bad("the port must be a number in 1..65535")),
        },
    };
    Ok(HttpUrl {
        https,
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

/// A value matched with Istio's string-match rules: exact, `prefix*`, `*suffix` or `*`.
pub fn validate_wildcard_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("empty values are not allowed".into());
    }
    let stars = value.matches('*').count();
    if stars > 1 && value != "*" {
        return Err(format!(
            "{value:?} has more than one '*': a wildcard may only be a prefix or a suffix"
        ));
    }
    if stars == 1 && !value.starts_with('*') && !value.ends_with('*') {
        return Err(format!(
            "{value:?} has a '*' in the middle: a wildcard may only be a prefix or a suffix (it would be matched literally)"
        ));
    }
    Ok(())
}

const MATCH_ONE: &str = "{*}";
const MATCH_ANY: &str = "{**}";

/// Whether a path uses the `{*}` / `{**}` template syntax.
pub fn is_path_template(path: &str) -> bool {
    path.contains(MATCH_ONE) || path.contains(MATCH_ANY)
}

/// An authorization path: either a wildcard value, or a template where `{*}` matches one
/// segment and `{**}` the rest of the path (it must be the last operator), other segments being
/// RFC 3986 path characters.
pub fn validate_authz_path(path: &str) -> Result<(), String> {
    if !is_path_template(path) {
        if path.contains(['{', '}']) {
            return Err(format!(
                "path {path:?} has '{{' or '}}' outside a {{*}} or {{**}} template"
            ));
        }
        return validate_wildcard_value(path);
    }
    let mut seen_any = false;
    for seg in path.trim_matches('/').split('/') {
        if seg == MATCH_ONE || seg == MATCH_ANY {
            if seen_any {
                return Err(format!(
                    "path {path:?}: {{**}} must be the last template operator"
                ));
            }
            seen_any = seg == MATCH_ANY;
            continue;
        }
        if seg.contains(['{', '}']) {
            return Err(format!(
                "path {path:?}: segment {seg:?} has '{{' or '}}' that is not a whole {{*}} or {{**}} segment"
            ));
        }
        let literal_ok = !seg.is_empty()
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()+,;:@=".contains(&b));
        if !literal_ok {
            return Err(format!(
                "path {path:?}: segment {seg:?} must be made of RFC 3986 path characters in a template"
            ));
        }
    }
    Ok(())
}

/// A service account as AuthorizationPolicy names it: `name` or `namespace/name`.
pub fn validate_service_account(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("empty values are not allowed".into());
    }
    if value.contains('*') {
        return Err(format!(
            "{value:?}: wildcards are not allowed in service accounts"
        ));
    }
    if value.len() > 320 {
        return Err(format!("{value:?} is longer than 320 characters"));
    }
    let ok = match value.split_once('/') {
        Some((ns, sa)) => !ns.is_empty() && !sa.is_empty() && !sa.contains('/'),
        None => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{value:?} must be 'serviceAccount' or 'namespace/serviceAccount'"
        ))
    }
}

/// A trust domain pattern: a wildcard value without '/'.
pub fn validate_trust_domain_value(value: &str) -> Result<(), String> {
    validate_wildcard_value(value)?;
    if value.contains('/') {
        return Err(format!("trust domain {value:?} must not contain '/'"));
    }
    Ok(())
}

/// A port written as a string, as AuthorizationPolicy does (`"8080"`).
pub fn validate_port_string(port: &str) -> Result<(), String> {
    match port.parse::<u32>() {
        Ok(n) => common::validate_port(n),
        Err(_) => Err(format!("port {port:?} must be a number in 1..65535")),
    }
}

/// A timeout of at least 1ms, in whole milliseconds (what the proxy can honour).
pub fn validate_timeout(d: &Duration) -> Result<(), String> {
    let d = d.as_std();
    if d < std::time::Duration::from_millis(1) {
        return Err("duration must be at least 1ms".into());
    }
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        return Err("duration must be a whole number of milliseconds".into());
    }
    Ok(())
}

/// An e-mail address, loosely: `local@domain` with a valid domain.
pub fn validate_email(email: &str) -> Result<(), String> {
    match email.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !local.chars().any(|c| c.is_whitespace() || c == '@')
                && domain.contains('.')
                && common::validate_fqdn(domain).is_ok() =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{email:?} is not a valid e-mail address (expected name@example.com)"
        )),
    }
}

/// Reports every empty string in `values` at `at[i]`.
pub fn check_non_empty(values: &[String], at: &FieldPath, out: &mut Findings) {
    for (i, v) in values.iter().enumerate() {
        if v.is_empty() {
            out.error(&at.index(i), "empty values are not allowed");
        }
    }
}

/// Applies `check` to every value, reporting at `at[i]`.
pub fn check_each(
    values: &[String],
    at: &FieldPath,
    out: &mut Findings,
    check: impl Fn(&str) -> Result<(), String>,
) {
    for (i, v) in values.iter().enumerate() {
        out.check(&at.index(i), check(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_http_url("https://auth.example.com/.well-known/jwks.json").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port),
            (true, "auth.example.com", 443)
        );
        assert_eq!(parse_http_url("http://10.0.0.1:8080").unwrap().port, 8080);
        assert_eq!(parse_http_url("http://[::1]:9/x").unwrap().host, "::1");
        for bad in [
            "ftp://x",
            "https://",
            "https://a b",
            "http://h:0",
            "http://h:x",
            "https://u@h",
        ] {
            assert!(parse_http_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards_and_templates() {
        for ok in ["*", "/api/*", "*.example.com", "exact"] {
            assert!(validate_wildcard_value(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/a/*/b", "**x", "*a*"] {
            assert!(validate_wildcard_value(bad).is_err(), "{bad}");
        }
        assert!(validate_authz_path("/foo/{*}/bar/{**}").is_ok());
        assert!(validate_authz_path("/foo/{**}/bar").is_ok());
        assert!(validate_authz_path("/foo/{**}/{*}").is_err());
        assert!(validate_authz_path("/foo/{x}/{*}").is_err());
        assert!(validate_authz_path("/foo/{*}x").is_err());
        assert!(validate_authz_path("/foo/{bar}").is_err());
    }

    #[test]
    fn misc() {
        assert!(validate_service_account("ns/sa").is_ok());
        assert!(validate_service_account("a/b/c").is_err());
        assert!(validate_service_account("/sa").is_err());
        assert!(validate_header_name("x-jwt-assertion").is_ok());
        assert!(validate_header_name("bad header").is_err());
        assert!(validate_strict_header_name("x.y").is_err());
        assert!(validate_method("GET").is_ok());
        assert!(validate_method("get").is_err());
        assert!(validate_port_string("0").is_err());
        assert!(validate_port_string("65536").is_err());
        assert!(validate_email("ops@example.com").is_ok());
        assert!(validate_email("ops@localhost").is_err());
        let ms = |s| validate_timeout(&Duration::parse(s).unwrap());
        assert!(ms("1ms").is_ok());
        assert!(ms("0s").is_err());
        assert!(ms("1.0005s").is_err());
    }
}
