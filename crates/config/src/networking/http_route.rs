//! The HTTP part of a VirtualService: routes, matches, redirects, rewrites, direct responses,
//! delegation and mirroring. Retries, CORS and fault injection are in `http_policy`.

use super::common::{Destination, Headers, Percent, StringMatch};
use super::http_policy::{CorsPolicy, HttpFaultInjection, HttpRetry};
use crate::types::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Rules for HTTP/1.1, HTTP/2 and gRPC traffic.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRoute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#match: Vec<HttpMatchRequest>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<HttpRouteDestination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<HttpRedirect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_response: Option<HttpDirectResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegate: Option<Delegate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<HttpRewrite>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<HttpRetry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<HttpFaultInjection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Destination>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<HttpMirrorPolicy>,
    /// Deprecated: use `mirrorPercentage`.
    #[serde(
        default,
        alias = "mirror_percent",
        skip_serializing_if = "Option::is_none"
    )]
    pub mirror_percent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_percentage: Option<Percent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_policy: Option<CorsPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
}

/// Conditions on a request; all must hold for the match to apply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMatchRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query_params: BTreeMap<String, StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_uri_case: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub without_headers: BTreeMap<String, StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat_prefix: Option<String>,
}

/// A weighted destination of an HTTP route, with its own header manipulation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteDestination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
}

/// Which port a redirect goes to when none is given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RedirectPortSelection {
    #[default]
    FromProtocolDefault,
    FromRequestPort,
}

/// A 301 (or other 3xx) redirect instead of forwarding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRedirect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derive_port: Option<RedirectPortSelection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_code: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_rewrite: Option<String>,
}

/// A fixed response instead of forwarding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpDirectResponse {
    #[serde(default)]
    pub status: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<HttpBody>,
}

/// A response body: text, or base64-encoded bytes (one of them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
}

/// Hands the route's matching over to another VirtualService.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delegate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Rewrites the path and/or authority before forwarding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRewrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri_regex_rewrite: Option<RegexRewrite>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegexRewrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#match: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<String>,
}

/// Mirrors a share of the traffic to another destination.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMirrorPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percent>,
}

// ---------------------------------------------------------------------------------------------
// Validation

use super::checks::{self, check_duration, check_gateway_names, check_labels};
use super::common::MatchKind;
use super::headers::{check_headers, is_authority_header};
use super::http_policy::check_http_status;
use crate::validate::common::{is_dns1123_label, validate_http_header_name};
use crate::validate::Findings;
use crate::yaml::FieldPath;

/// Where an HTTP route sits: in a VirtualService with hosts (independent, or a root that
/// delegates), or in a delegate VirtualService (no hosts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RouteType {
    Independent,
    Root,
    Delegate,
}

const PSEUDO_HEADERS: &[&str] = &[":method", ":scheme", ":authority", ":path", ":status"];

/// `@request.auth.claims.<name>` or `@request.auth.claims[<name>]`: routing on a JWT claim.
pub fn is_jwt_claim_header(name: &str) -> bool {
    const PREFIX: &str = "@request.auth.claims";
    let Some(head) = name.get(..PREFIX.len()) else {
        return false;
    };
    if !head.eq_ignore_ascii_case(PREFIX) {
        return false;
    }
    let rest = &name[PREFIX.len()..];
    (rest.starts_with('.') && rest.len() > 1)
        || (rest.starts_with('[') && rest.ends_with(']') && rest.len() > 2)
}

fn check_match_header_name(name: &str, at: &FieldPath, out: &mut Findings) {
    if name.is_empty() {
        out.error(at, "header name must not be empty");
    } else if !is_jwt_claim_header(name) && !PSEUDO_HEADERS.contains(&name) {
        out.check(at, validate_http_header_name(name));
    }
}

/// Decoded length of standard or URL-safe base64, padded or not; None if it is not base64.
fn base64_len(s: &str) -> Option<usize> {
    let t = s.trim_end_matches('=');
    if s.len() - t.len() > 2 || t.len() % 4 == 1 {
        return None;
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
    {
        return None;
    }
    Some(t.len() * 3 / 4)
}

fn non_empty(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.is_empty())
}

impl HttpMatchRequest {
    fn check(&self, at: &FieldPath, out: &mut Findings) {
        for (name, sm) in &self.headers {
            let p = at.field("headers").field(name);
            check_match_header_name(name, &p, out);
            sm.check(false, &p, out);
        }
        for (name, sm) in &self.without_headers {
            let p = at.field("withoutHeaders").field(name);
            check_match_header_name(name, &p, out);
            // A regex of "*" means "present" here, not a regular expression.
            if sm.regex.as_deref() != Some("*") {
                sm.check(false, &p, out);
            }
        }
        if let Some(u) = &self.uri {
            u.check(true, &at.field("uri"), out);
        }
        for (field, sm) in [
            ("scheme", &self.scheme),
            ("method", &self.method),
            ("authority", &self.authority),
        ] {
            if let Some(sm) = sm {
                sm.check(false, &at.field(field), out);
            }
        }
        for (name, sm) in &self.query_params {
            sm.check(false, &at.field("queryParams").field(name), out);
        }
        if let Some(port) = self.port {
            checks::check_port(port, &at.field("port"), out);
        }
        check_labels(&self.source_labels, &at.field("sourceLabels"), out);
        check_gateway_names(&self.gateways, &at.field("gateways"), out);
        if let Some(ns) = self.source_namespace.as_deref().filter(|s| !s.is_empty()) {
            if !is_dns1123_label(ns) {
                out.error(
                    &at.field("sourceNamespace"),
                    format!("sourceNamespace {ns:?} is not a valid namespace name"),
                );
            }
        }
    }
}

impl HttpRoute {
    fn check_conflicts(&self, route_type: RouteType, at: &FieldPath, out: &mut Findings) {
        if route_type == RouteType::Root {
            if self.redirect.is_some() {
                out.error(
                    &at.field("redirect"),
                    "a route that delegates cannot also redirect",
                );
            }
            if !self.route.is_empty() {
                out.error(
                    &at.field("route"),
                    "a route that delegates cannot also have destinations",
                );
            }
            return;
        }
        if route_type == RouteType::Delegate && self.delegate.is_some() {
            out.error(
                &at.field("delegate"),
                "a delegate VirtualService (one without hosts) cannot delegate again",
            );
        }
        let (what, field) = if self.redirect.is_some() {
            ("redirect", "redirect")
        } else if self.direct_response.is_some() {
            ("directResponse", "directResponse")
        } else {
            if self.route.is_empty() && self.delegate.is_none() {
                out.error(
                    at,
                    "an HTTP route needs route, redirect, directResponse or delegate",
                );
            }
            ("", "")
        };
        if !what.is_empty() {
            let p = at.field(field);
            if !self.route.is_empty() {
                out.error(
                    &p,
                    format!("{what} cannot be combined with route destinations"),
                );
            }
            if self.fault.is_some() {
                out.error(
                    &p,
                    format!("{what} cannot be combined with fault injection"),
                );
            }
            if self.rewrite.is_some() {
                out.error(&p, format!("{what} cannot be combined with rewrite"));
            }
            if what == "redirect" && self.direct_response.is_some() {
                out.error(&p, "redirect cannot be combined with directResponse");
            }
        }
        if self.mirror.is_some() && !self.mirrors.is_empty() {
            out.error(
                &at.field("mirrors"),
                "mirror and mirrors cannot both be set",
            );
        }
    }

    pub(crate) fn check(&self, route_type: RouteType, at: &FieldPath, out: &mut Findings) {
        self.check_conflicts(route_type, at, out);
        for (i, m) in self.r#match.iter().enumerate() {
            m.check(&at.field("match").index(i), out);
        }
        if let Some(h) = &self.headers {
            check_headers(h, &at.field("headers"), out);
        }
        if let Some(c) = &self.cors_policy {
            c.check(&at.field("corsPolicy"), out);
        }
        if let Some(f) = &self.fault {
            f.check(&at.field("fault"), out);
        }
        if let Some(mp) = self.mirror_percent {
            let p = at.field("mirrorPercent");
            if mp > 100 {
                out.error(&p, format!("mirrorPercent {mp} must be at most 100"));
            }
            out.warning(&p, "mirrorPercent is deprecated; use mirrorPercentage");
        }
        if let Some(mp) = &self.mirror_percentage {
            checks::check_percentage_0_100(mp, &at.field("mirrorPercentage"), out);
        }
        if let Some(m) = &self.mirror {
            m.check(&at.field("mirror"), out);
        }
        for (i, m) in self.mirrors.iter().enumerate() {
            let p = at.field("mirrors").index(i);
            match &m.destination {
                None => out.error(&p.field("destination"), "a mirror needs a destination"),
                Some(d) => d.check(&p.field("destination"), out),
            }
            if let Some(pct) = &m.percentage {
                checks::check_percentage_0_100(pct, &p.field("percentage"), out);
            }
        }
        if let Some(r) = &self.redirect {
            r.check(&self.r#match, &at.field("redirect"), out);
        }
        if let Some(d) = &self.direct_response {
            d.check(&at.field("directResponse"), out);
        }
        if let Some(r) = &self.retries {
            r.check(&at.field("retries"), out);
        }
        if let Some(r) = &self.rewrite {
            r.check(&at.field("rewrite"), out);
        }
        self.check_authority_rewrite(at, out);
        check_http_destinations(&self.route, &at.field("route"), out);
        check_duration(&self.timeout, &at.field("timeout"), out);
    }

    /// The authority may be rewritten in one place only.
    fn check_authority_rewrite(&self, at: &FieldPath, out: &mut Findings) {
        let mut count = usize::from(non_empty(
            &self.rewrite.as_ref().and_then(|r| r.authority.clone()),
        ));
        if let Some(req) = self.headers.as_ref().and_then(|h| h.request.as_ref()) {
            count += req.set.keys().filter(|k| is_authority_header(k)).count();
            count += req.add.keys().filter(|k| is_authority_header(k)).count();
        }
        if count > 1 {
            out.error(
                at,
                "the authority is rewritten more than once (rewrite.authority and/or a host or :authority header); keep one",
            );
        }
    }
}

fn check_http_destinations(routes: &[HttpRouteDestination], at: &FieldPath, out: &mut Findings) {
    let mut total: i64 = 0;
    for (i, r) in routes.iter().enumerate() {
        let p = at.index(i);
        match &r.destination {
            None => out.error(&p.field("destination"), "destination is required"),
            Some(d) => d.check(&p.field("destination"), out),
        }
        if let Some(h) = &r.headers {
            check_headers(h, &p.field("headers"), out);
        }
        let w = r.weight.unwrap_or(0);
        if w < 0 {
            out.error(
                &p.field("weight"),
                format!("weight {w} must not be negative"),
            );
        }
        total += i64::from(w);
    }
    if routes.len() > 1 && total == 0 {
        out.error(
            at,
            "with several destinations, at least one needs a weight above 0 (all weights are 0)",
        );
    }
}

impl HttpRedirect {
    fn check(&self, matches: &[HttpMatchRequest], at: &FieldPath, out: &mut Findings) {
        if non_empty(&self.uri) && non_empty(&self.prefix_rewrite) {
            out.error(at, "a redirect takes only one of uri or prefixRewrite");
        }
        if non_empty(&self.prefix_rewrite) {
            let all_prefix = matches.iter().all(|m| match &m.uri {
                None => true,
                Some(u) => matches!(u.kind(), Some(MatchKind::Prefix(_))),
            });
            if !all_prefix {
                out.error(
                    &at.field("prefixRewrite"),
                    "prefixRewrite needs every uri match of the route to be a prefix match",
                );
            }
        }
        if !non_empty(&self.uri)
            && !non_empty(&self.prefix_rewrite)
            && !non_empty(&self.authority)
            && self.port.is_none()
            && self.derive_port.is_none()
            && !non_empty(&self.scheme)
        {
            out.error(at, "a redirect must change at least one of uri, prefixRewrite, authority, scheme or port");
        }
        if self.port.is_some() && self.derive_port.is_some() {
            out.error(at, "a redirect takes only one of port or derivePort");
        }
        if let Some(code) = self.redirect_code.filter(|c| *c != 0) {
            if !(300..=399).contains(&code) {
                out.error(
                    &at.field("redirectCode"),
                    format!("redirect code {code} must be a 3xx status"),
                );
            }
        }
        if let Some(s) = self.scheme.as_deref().filter(|s| !s.is_empty()) {
            if s != "http" && s != "https" {
                out.error(
                    &at.field("scheme"),
                    format!("redirect scheme {s:?} must be \"http\" or \"https\""),
                );
            }
        }
        if let Some(p) = self.port.filter(|p| *p > 0) {
            checks::check_port(p, &at.field("port"), out);
        }
    }
}

impl HttpDirectResponse {
    fn check(&self, at: &FieldPath, out: &mut Findings) {
        if let Some(b) = &self.body {
            let p = at.field("body");
            if b.string.is_some() && b.bytes.is_some() {
                out.error(&p, "a body takes only one of string or bytes");
            }
            let mut size = b.string.as_ref().map_or(0, String::len);
            if let Some(bytes) = &b.bytes {
                match base64_len(bytes) {
                    Some(n) => size = size.max(n),
                    None => out.error(&p.field("bytes"), "bytes must be base64-encoded"),
                }
            }
            if size > 1024 * 1024 {
                out.error(&p, "a direct response body must be smaller than 1MB");
            } else if size > 100 * 1024 {
                out.warning(&p, "a large direct response body (over 100KB) slows down configuration distribution");
            }
        }
        check_http_status(i64::from(self.status), &at.field("status"), out);
    }
}

impl HttpRewrite {
    fn check(&self, at: &FieldPath, out: &mut Findings) {
        if non_empty(&self.uri) && self.uri_regex_rewrite.is_some() {
            out.error(at, "a rewrite takes only one of uri or uriRegexRewrite");
        }
        if !non_empty(&self.uri) && self.uri_regex_rewrite.is_none() && !non_empty(&self.authority)
        {
            out.error(at, "a rewrite needs uri, uriRegexRewrite or authority");
        }
        if let Some(r) = &self.uri_regex_rewrite {
            let p = at.field("uriRegexRewrite");
            if !non_empty(&r.r#match) || !non_empty(&r.rewrite) {
                out.error(&p, "uriRegexRewrite needs both match and rewrite");
            }
            if let Some(m) = r.r#match.as_deref().filter(|m| !m.is_empty()) {
                super::common::check_regex(m, &p.field("match"), out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_claims_and_base64() {
        assert!(is_jwt_claim_header("@request.auth.claims.groups"));
        assert!(is_jwt_claim_header("@request.auth.claims[a][b]"));
        assert!(!is_jwt_claim_header("@request.auth.claims"));
        assert!(!is_jwt_claim_header("x-user"));
        assert_eq!(base64_len("aGVsbG8="), Some(5));
        assert_eq!(base64_len("aGVsbG8"), Some(5));
        assert_eq!(base64_len("a"), None);
        assert_eq!(base64_len("a b="), None);
    }
}
