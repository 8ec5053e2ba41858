//! Checks shared by many kinds: hosts, DNS labels, ports, addresses, regexes, label selectors.
//! Each returns a message that says what was expected, for the caller to place at a field path.

use std::net::IpAddr;

const MAX_DNS_NAME: usize = 255;
const MAX_DNS_LABEL: usize = 63;

/// A DNS-1123 label: lower/upper-case letters, digits and '-', not starting or ending with '-'.
/// Istio compares hosts case-insensitively, so upper case is accepted here.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_DNS_LABEL
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Lower-case only DNS-1123 label, as Kubernetes requires for object and namespace names.
pub fn is_k8s_dns1123_label(s: &str) -> bool {
    is_dns1123_label(s) && !s.bytes().any(|b| b.is_ascii_uppercase())
}

/// A Kubernetes DNS-1123 subdomain (names of most objects).
pub fn is_k8s_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// A fully qualified domain name made of DNS-1123 labels (a single trailing dot is allowed).
pub fn validate_fqdn(host: &str) -> Result<(), String> {
    let h = host.strip_suffix('.').unwrap_or(host);
    if h.is_empty() {
        return Err("host must not be empty".into());
    }
    if host.len() > MAX_DNS_NAME {
        return Err(format!(
            "host {host:?} is longer than {MAX_DNS_NAME} characters"
        ));
    }
    for label in h.split('.') {
        if !is_dns1123_label(label) {
            return Err(format!(
                "host {host:?} is invalid: label {label:?} must be 1-63 letters, digits or '-', not starting or ending with '-'"
            ));
        }
    }
    Ok(())
}

/// A domain that may start with a wildcard label: `*`, `*.example.com` or `*example.com`
/// (Istio accepts a `*` prefix on the first label only).
pub fn validate_wildcard_domain(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("host must not be empty".into());
    }
    if host.len() > MAX_DNS_NAME {
        return Err(format!(
            "host {host:?} is longer than {MAX_DNS_NAME} characters"
        ));
    }
    let (first, rest) = match host.split_once('.') {
        Some((f, r)) => (f, Some(r)),
        None => (host, None),
    };
    let first_ok = first == "*"
        || match first.strip_prefix('*') {
            Some(tail) => {
                tail.is_empty()
                    || is_dns1123_label(tail)
                    || tail.starts_with('-') && is_dns1123_label(&tail[1..])
            }
            None => is_dns1123_label(first),
        };
    if !first_ok {
        return Err(format!(
            "host {host:?} is invalid: label {first:?} must be '*', a DNS-1123 label, or a DNS-1123 label prefixed with '*'"
        ));
    }
    match rest {
        None => Ok(()),
        Some(r) => {
            let r = r.strip_suffix('.').unwrap_or(r);
            for label in r.split('.') {
                if label.contains('*') {
                    return Err(format!(
                        "host {host:?} is invalid: a wildcard is only allowed in the first label"
                    ));
                }
                if !is_dns1123_label(label) {
                    return Err(format!(
                        "host {host:?} is invalid: label {label:?} must be 1-63 letters, digits or '-', not starting or ending with '-'"
                    ));
                }
            }
            Ok(())
        }
    }
}

pub fn validate_port(port: u32) -> Result<(), String> {
    if (1..=65535).contains(&port) {
        Ok(())
    } else {
        Err(format!("port number {port} must be in the range 1..65535"))
    }
}

/// An IP address or a CIDR block, IPv4 or IPv6 (`10.0.0.0/8`, `::1`, `192.168.1.1`).
pub fn validate_ip_or_cidr(s: &str) -> Result<(), String> {
    if s.contains('/') {
        s.parse::<ipnet::IpNet>().map(|_| ()).map_err(|_| {
            format!("{s:?} is not a valid CIDR block (expected e.g. 10.0.0.0/8 or fd00::/8)")
        })
    } else {
        validate_ip(s)
    }
}

pub fn validate_ip(s: &str) -> Result<(), String> {
    s.parse::<IpAddr>()
        .map(|_| ())
        .map_err(|_| format!("{s:?} is not a valid IP address"))
}

/// Istio's regexes are RE2; Rust's `regex` has the same syntax subset and the same linear-time
/// guarantee. The size limit keeps a hostile pattern from costing memory.
pub fn validate_regex(s: &str) -> Result<(), String> {
    regex::RegexBuilder::new(s)
        .size_limit(1 << 20)
        .build()
        .map(|_| ())
        .map_err(|e| format!("{s:?} is not a valid regular expression: {e}"))
}

/// A Kubernetes label key: optional DNS subdomain prefix and a name of at most 63 characters.
pub fn validate_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if !is_k8s_dns1123_subdomain(p) {
            return Err(format!(
                "label key {key:?} has an invalid prefix {p:?}: it must be a DNS subdomain"
            ));
        }
    }
    if !is_qualified_name_part(name) {
        return Err(format!(
            "label key {key:?} is invalid: the name must be 1-63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
        ));
    }
    Ok(())
}

pub fn validate_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_qualified_name_part(value) {
        Ok(())
    } else {
        Err(format!(
            "label value {value:?} is invalid: it must be at most 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
        ))
    }
}

fn is_qualified_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
        && s.as_bytes().last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Istio's rule for durations in configuration: at least one millisecond, in whole milliseconds.
pub fn validate_duration(d: &crate::types::Duration) -> Result<(), String> {
    let d = d.as_std();
    if d < std::time::Duration::from_millis(1) {
        return Err(format!(
            "duration {} is too short: it must be at least 1ms",
            crate::types::Duration(d)
        ));
    }
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        return Err(format!(
            "duration {} is too precise: only whole milliseconds are supported",
            crate::types::Duration(d)
        ));
    }
    Ok(())
}

/// An HTTP header name as RFC 7230 defines a token: letters, digits and ``!#$%&'*+-.^_`|~``.
pub fn validate_http_header_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name must not be empty".into());
    }
    let ok = name.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            )
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "header name {name:?} is invalid: it may contain only letters, digits and !#$%&'*+-.^_`|~"
        ))
    }
}

/// A port name: a DNS-1123 label.
pub fn validate_port_name(name: &str) -> Result<(), String> {
    if is_dns1123_label(name) {
        Ok(())
    } else {
        Err(format!(
            "port name {name:?} is invalid: it must be 1-63 letters, digits or '-', not starting or ending with '-'"
        ))
    }
}

/// The path part of a `unix://` address: an absolute file path, or an abstract socket name
/// starting with '@'.
pub fn validate_unix_address(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("unix domain socket path must not be empty".into());
    }
    if path.starts_with('@') {
        return Ok(());
    }
    if !path.starts_with('/') || path.ends_with('/') {
        return Err(format!(
            "unix domain socket path {path:?} must be an absolute path to a file (or an abstract name starting with '@')"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(validate_fqdn("reviews.default.svc.cluster.local").is_ok());
        assert!(validate_fqdn("a..b").is_err());
        assert!(validate_fqdn("-a.com").is_err());
        assert!(validate_wildcard_domain("*").is_ok());
        assert!(validate_wildcard_domain("*.example.com").is_ok());
        assert!(validate_wildcard_domain("*example.com").is_ok());
        assert!(validate_wildcard_domain("foo.*.com").is_err());
        assert!(validate_wildcard_domain("**.com").is_err());
        assert!(validate_wildcard_domain("").is_err());
    }

    #[test]
    fn addresses_and_regexes() {
        assert!(validate_ip_or_cidr("10.0.0.0/8").is_ok());
        assert!(validate_ip_or_cidr("::1").is_ok());
        assert!(validate_ip_or_cidr("10.0.0.0/33").is_err());
        assert!(validate_ip_or_cidr("nope").is_err());
        assert!(validate_regex("^/api/v[0-9]+").is_ok());
        assert!(validate_regex("(").is_err());
        assert!(validate_port(0).is_err());
        assert!(validate_port(65535).is_ok());
        assert!(validate_label_key("app.kubernetes.io/name").is_ok());
        assert!(validate_label_key("-bad").is_err());
    }

    #[test]
    fn durations_headers_ports_sockets() {
        let d = |s| crate::types::Duration::parse(s).unwrap();
        assert!(validate_duration(&d("1ms")).is_ok());
        assert!(validate_duration(&d("0s")).is_err());
        assert!(validate_duration(&d("1.0005s")).is_err());
        assert!(validate_http_header_name("x-request-id").is_ok());
        assert!(validate_http_header_name("bad header").is_err());
        assert!(validate_http_header_name("").is_err());
        assert!(validate_port_name("http-web").is_ok());
        assert!(validate_port_name("http_web").is_err());
        assert!(validate_unix_address("/var/run/sock").is_ok());
        assert!(validate_unix_address("@abstract").is_ok());
        assert!(validate_unix_address("relative").is_err());
        assert!(validate_unix_address("/dir/").is_err());
    }
}
