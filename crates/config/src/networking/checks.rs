//! Validation helpers shared by the networking kinds: hosts as Istio reads them, protocols,
//! `exportTo`, gateway references, label maps, selectors and header manipulation.

use super::common::{MatchLabelsSelector, Percent, WorkloadSelector};
use crate::types::Duration;
use crate::validate::common::{
    is_dns1123_label, validate_duration, validate_fqdn, validate_label_key, validate_label_value,
    validate_wildcard_domain,
};
use crate::validate::Findings;
use crate::yaml::FieldPath;
use std::collections::{BTreeMap, BTreeSet};

/// The prefix of a Unix domain socket address in `bind`, endpoints and default endpoints.
pub(crate) const UNIX_PREFIX: &str = "unix://";

pub(crate) fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// Istio refuses a top-level domain made only of digits (`foo.123`); IP addresses are handled
/// separately where they are allowed.
fn numeric_tld(host: &str) -> Result<(), String> {
    let h = host.strip_suffix('.').unwrap_or(host);
    let tld = h.rsplit('.').next().unwrap_or(h);
    if !tld.is_empty() && tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "host {host:?} is invalid: the top-level domain {tld:?} must not be all digits"
        ));
    }
    Ok(())
}

/// A host that may begin with a wildcard label (`*`, `*.example.com`, `reviews`).
pub(crate) fn wildcard_host(host: &str) -> Result<(), String> {
    validate_wildcard_domain(host)?;
    numeric_tld(host)
}

/// A fully qualified domain name without wildcards.
pub(crate) fn fqdn(host: &str) -> Result<(), String> {
    validate_fqdn(host)?;
    numeric_tld(host)
}

/// Whether `sub` names only hosts that `sup` also names (`a.b.com` ⊂ `*.b.com` ⊂ `*.com`).
pub(crate) fn host_subset_of(sub: &str, sup: &str) -> bool {
    match (sub.strip_prefix('*'), sup.strip_prefix('*')) {
        (Some(s), Some(p)) => sub.len() >= sup.len() && s.ends_with(p),
        (Some(_), None) => false,
        (None, Some(p)) => sub.ends_with(p),
        (None, None) => sub == sup,
    }
}

/// Whether two hosts overlap, one being a (wildcard) subset of the other.
pub(crate) fn hosts_overlap(a: &str, b: &str) -> bool {
    host_subset_of(a, b) || host_subset_of(b, a)
}

/// Application protocols Istio understands on ports (compared case-insensitively).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    Tcp,
    Udp,
    Grpc,
    GrpcWeb,
    Http,
    HttpProxy,
    Http2,
    Https,
    Tls,
    Mongo,
    Redis,
    Mysql,
}

impl Protocol {
    pub(crate) fn parse(s: &str) -> Option<Protocol> {
        Some(match s.to_ascii_lowercase().as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "grpc" => Protocol::Grpc,
            "grpc-web" => Protocol::GrpcWeb,
            "http" => Protocol::Http,
            "http_proxy" => Protocol::HttpProxy,
            "http2" => Protocol::Http2,
            "https" => Protocol::Https,
            "tls" => Protocol::Tls,
            "mongo" => Protocol::Mongo,
            "redis" => Protocol::Redis,
            "mysql" => Protocol::Mysql,
            _ => return None,
        })
    }

    pub(crate) fn is_http(self) -> bool {
        matches!(
            self,
            Protocol::Http
                | Protocol::Http2
                | Protocol::HttpProxy
                | Protocol::Grpc
                | Protocol::GrpcWeb
        )
    }

    pub(crate) fn is_tcp(self) -> bool {
        matches!(
            self,
            Protocol::Tcp
                | Protocol::Https
                | Protocol::Tls
                | Protocol::Mongo
                | Protocol::Redis
                | Protocol::Mysql
        )
    }

    pub(crate) fn is_tls(self) -> bool {
        matches!(self, Protocol::Https | Protocol::Tls)
    }
}

pub(crate) const PROTOCOLS: &str =
    "HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, HTTP_PROXY, TCP, TLS, UDP, MONGO, MYSQL, REDIS";

/// A port protocol; empty means "detect". Returns the parsed protocol when known.
pub(crate) fn check_protocol(p: &str, at: &FieldPath, out: &mut Findings) -> Option<Protocol> {
    if p.is_empty() {
        return None;
    }
    let parsed = Protocol::parse(p);
    if parsed.is_none() {
        out.error(
            at,
            format!("unsupported protocol {p:?}; expected one of {PROTOCOLS}"),
        );
    }
    parsed
}

pub(crate) fn check_duration(d: &Option<Duration>, at: &FieldPath, out: &mut Findings) {
    if let Some(d) = d {
        out.check(at, validate_duration(d));
    }
}

pub(crate) fn check_port(port: u32, at: &FieldPath, out: &mut Findings) {
    out.check(at, crate::validate::common::validate_port(port));
}

/// Every key and value of a label map, each reported at `at.<key>`.
pub(crate) fn check_labels(labels: &BTreeMap<String, String>, at: &FieldPath, out: &mut Findings) {
    for (k, v) in labels {
        let p = at.field(k);
        out.check(&p, validate_label_key(k));
        out.check(&p, validate_label_value(v));
    }
}

fn check_selector_labels(
    labels: &BTreeMap<String, String>,
    at: &FieldPath,
    selector: &FieldPath,
    out: &mut Findings,
) {
    if labels.is_empty() {
        out.warning(
            selector,
            "the workload selector has no labels, so it selects every workload in the namespace",
        );
    }
    for (k, v) in labels {
        let p = at.field(k);
        if k.is_empty() {
            out.error(&p, "a selector label key must not be empty");
        }
        if k.contains('*') || v.contains('*') {
            out.error(
                &p,
                format!("wildcards are not supported in selectors ({k}={v}); give exact labels"),
            );
        }
        if v.len() > 63 {
            out.error(&p, "a selector label value must be at most 63 characters");
        }
    }
}

/// The `labels` selector of Sidecar and ServiceEntry.
pub(crate) fn check_workload_selector(sel: &WorkloadSelector, at: &FieldPath, out: &mut Findings) {
    check_selector_labels(&sel.labels, &at.field("labels"), at, out);
}

/// The `matchLabels` selector of DestinationRule (and the security kinds).
pub(crate) fn check_match_labels(sel: &MatchLabelsSelector, at: &FieldPath, out: &mut Findings) {
    check_selector_labels(&sel.match_labels, &at.field("matchLabels"), at, out);
}

/// A fault injection or mirror percentage: 0, or between 0.0001 and 100.
pub(crate) fn check_fault_percentage(p: &Percent, at: &FieldPath, out: &mut Findings) {
    let v = p.value.unwrap_or(0.0);
    if !(0.0..=100.0).contains(&v) || (v > 0.0 && v < 0.0001) {
        out.error(
            &at.field("value"),
            format!("percentage {v} must be 0 or between 0.0001 and 100"),
        );
    }
}

/// A percentage between 0 and 100.
pub(crate) fn check_percentage_0_100(p: &Percent, at: &FieldPath, out: &mut Findings) {
    let v = p.value.unwrap_or(0.0);
    if !(0.0..=100.0).contains(&v) {
        out.error(
            &at.field("value"),
            format!("percentage {v} must be between 0 and 100"),
        );
    }
}

/// `exportTo`: `.`, `*`, or namespace names (and `~` for ServiceEntry), without duplicates.
pub(crate) fn check_export_to(
    namespace: &str,
    export_to: &[String],
    is_service_entry: bool,
    dr_with_selector: bool,
    at: &FieldPath,
    out: &mut Findings,
) {
    if export_to.is_empty() {
        return;
    }
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for (i, e) in export_to.iter().enumerate() {
        let p = at.index(i);
        let key = if e == "." { namespace } else { e.as_str() };
        if seen.contains(key) {
            if key != e {
                out.error(
                    &p,
                    format!("duplicate exportTo entry: \".\" and the current namespace {namespace:?} are the same"),
                );
            } else {
                out.error(&p, format!("duplicate exportTo entry {e:?}"));
            }
            continue;
        }
        let valid = match key {
            "." | "*" => true,
            "~" if is_service_entry => true,
            "~" => {
                out.error(
                    &p,
                    "exportTo \"~\" (visible to no one) is only allowed on a ServiceEntry",
                );
                false
            }
            _ => {
                let ok = is_dns1123_label(key);
                if !ok {
                    out.error(
                        &p,
                        format!("exportTo entry {e:?} is invalid: expected \".\", \"*\" or a namespace name"),
                    );
                }
                ok
            }
        };
        if valid {
            seen.insert(key);
        }
    }
    if dr_with_selector && !seen.is_empty() {
        if seen.contains(namespace) {
            if seen.len() > 1 {
                out.error(
                    at,
                    "a DestinationRule with a workloadSelector may be exported only to its own namespace",
                );
            }
        } else {
            out.error(
                at,
                "a DestinationRule with a workloadSelector cannot be exported beyond its own namespace",
            );
        }
    }
    if seen.contains("*") && export_to.len() > 1 {
        out.error(
            at,
            "exportTo \"*\" (public) already exports everywhere; it cannot be combined with other entries",
        );
    }
    if seen.contains("~") && export_to.len() > 1 {
        out.error(
            at,
            "exportTo \"~\" (visible to no one) cannot be combined with other entries",
        );
    }
}

/// Gateway references in a VirtualService: `namespace/name`, `mesh`, or the legacy `name.namespace`.
pub(crate) fn check_gateway_names(names: &[String], at: &FieldPath, out: &mut Findings) {
    for (i, name) in names.iter().enumerate() {
        let p = at.index(i);
        match name.split_once('/') {
            None => {
                if let Some((gw, ns)) = name.split_once('.') {
                    let ns = ns.split('.').next().unwrap_or(ns);
                    out.warning(
                        &p,
                        format!("gateway {name:?} uses the legacy name.namespace form; prefer {ns}/{gw}"),
                    );
                }
                if let Err(e) = fqdn(name) {
                    out.error(&p, format!("invalid gateway name: {e}"));
                }
            }
            Some((ns, gw)) => {
                if ns.is_empty() || gw.is_empty() {
                    out.error(
                        &p,
                        "gateway must be written namespace/name, with neither part empty",
                    );
                    continue;
                }
                if !is_dns1123_label(ns) {
                    out.error(
                        &p,
                        format!("gateway namespace {ns:?} is not a valid namespace name"),
                    );
                }
                if !is_dns1123_label(gw) {
                    out.error(
                        &p,
                        format!("gateway name {gw:?} is not a valid DNS-1123 label"),
                    );
                }
            }
        }
    }
}

fn check_partial_wildcard(host: &str) -> Result<(), String> {
    if host.contains('*') && host != "*" && !host.starts_with("*.") {
        return Err(format!(
            "partial wildcard {host:?} is not allowed: use \"*\" or a \"*.\" prefix"
        ));
    }
    Ok(())
}

fn check_sidecar_or_gateway_host_part(host: &str, is_gateway: bool) -> Vec<String> {
    let mut errs = Vec::new();
    if host != "*" && !host.contains('.') {
        errs.push(format!(
            "short name {host:?} is not allowed: hosts must be fully qualified (e.g. reviews.default.svc.cluster.local)"
        ));
    }
    if let Err(e) = wildcard_host(host) {
        if !(is_gateway && is_ip(host)) {
            errs.push(e);
        }
    }
    if let Err(e) = check_partial_wildcard(host) {
        errs.push(e);
    }
    errs
}

/// Hosts of Gateway servers and Sidecar egress listeners: `namespace/dnsName`, where namespace is
/// `*`, `.` or a namespace name (Sidecar also allows `~`-prefixed namespaces). Gateways also accept
/// a bare dnsName (or IP address).
pub(crate) fn check_namespace_slash_host(
    host: &str,
    is_gateway: bool,
    at: &FieldPath,
    out: &mut Findings,
) {
    let Some((ns, name)) = host.split_once('/') else {
        if is_gateway {
            for e in check_sidecar_or_gateway_host_part(host, true) {
                out.error(at, e);
            }
        } else {
            out.error(
                at,
                format!("host {host:?} must be of the form namespace/dnsName (e.g. \"./*\" or \"istio-system/*\")"),
            );
        }
        return;
    };
    if ns.is_empty() || name.is_empty() {
        out.error(
            at,
            format!("host {host:?}: neither the namespace nor the dnsName may be empty"),
        );
    }
    if is_gateway {
        if ns != "*" && ns != "." && !is_dns1123_label(ns) {
            out.error(
                at,
                format!("host {host:?}: namespace {ns:?} must be \"*\", \".\" or a namespace name"),
            );
        }
    } else {
        let bare = ns.strip_prefix('~').unwrap_or(ns);
        if !bare.is_empty() && bare != "*" && bare != "." && !is_dns1123_label(bare) {
            out.error(
                at,
                format!("host {host:?}: namespace {ns:?} must be \"*\", \".\", \"~\" or a namespace name"),
            );
        }
    }
    for e in check_sidecar_or_gateway_host_part(name, is_gateway) {
        out.error(at, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(wildcard_host("*.example.com").is_ok());
        assert!(wildcard_host("foo.123").is_err());
        assert!(fqdn("*.example.com").is_err());
        assert!(host_subset_of("a.b.com", "*.b.com"));
        assert!(host_subset_of("*.b.com", "*.com"));
        assert!(!host_subset_of("*.com", "*.b.com"));
        assert!(hosts_overlap("*.com", "a.com"));
        assert!(!hosts_overlap("a.com", "b.com"));
    }

    #[test]
    fn protocols() {
        assert_eq!(Protocol::parse("grpc-web"), Some(Protocol::GrpcWeb));
        assert_eq!(Protocol::parse("HTTPS"), Some(Protocol::Https));
        assert_eq!(Protocol::parse("SCTP"), None);
        assert!(Protocol::Https.is_tls() && Protocol::Https.is_tcp());
        assert!(Protocol::Grpc.is_http());
    }
}
