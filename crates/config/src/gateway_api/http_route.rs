//! HTTPRoute (gateway.networking.k8s.io): HTTP routing attached to Gateways, or to Services for
//! mesh (east-west) routing.

use super::common::{
    validate_backend_ref, validate_hostname, validate_parent_ref, validate_port,
    validate_section_name, BackendObjectReference, ParentReference,
};
use crate::validate::{common, Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRoute {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<ParentReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<HttpRouteRule>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Empty matches every request (a `/` prefix).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<HttpRouteMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HttpRouteFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_refs: Vec<HttpBackendRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<HttpRouteTimeouts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<HttpRouteRetry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_persistence: Option<SessionPersistence>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<HttpPathMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HttpHeaderMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query_params: Vec<HttpHeaderMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PathMatchType {
    Exact,
    #[default]
    PathPrefix,
    RegularExpression,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpPathMatch {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<PathMatchType>,
    /// Default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValueMatchType {
    #[default]
    Exact,
    RegularExpression,
}

/// A header or query parameter match.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpHeaderMatch {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ValueMatchType>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Patch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FilterType {
    RequestHeaderModifier,
    ResponseHeaderModifier,
    RequestMirror,
    RequestRedirect,
    #[serde(rename = "URLRewrite")]
    UrlRewrite,
    ExtensionRef,
    #[serde(rename = "CORS")]
    Cors,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteFilter {
    #[serde(rename = "type")]
    pub type_: FilterType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header_modifier: Option<HeaderModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_header_modifier: Option<HeaderModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_mirror: Option<RequestMirror>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_redirect: Option<RequestRedirect>,
    #[serde(
        default,
        rename = "urlRewrite",
        skip_serializing_if = "Option::is_none"
    )]
    pub url_rewrite: Option<UrlRewrite>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_ref: Option<LocalObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderModifier {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<HttpHeader>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<HttpHeader>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpHeader {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestMirror {
    #[serde(default)]
    pub backend_ref: BackendObjectReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<Fraction>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fraction {
    #[serde(default)]
    pub numerator: i64,
    /// Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestRedirect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<HttpPathModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Default 302.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UrlRewrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<HttpPathModifier>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PathModifierType {
    ReplaceFullPath,
    ReplacePrefixMatch,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpPathModifier {
    #[serde(rename = "type")]
    pub type_: PathModifierType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_full_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_prefix_match: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalObjectReference {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cors {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_origins: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpBackendRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Relative share of traffic; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HttpRouteFilter>,
}

impl HttpBackendRef {
    /// The reference part, without weight and filters.
    pub fn object_ref(&self) -> BackendObjectReference {
        BackendObjectReference {
            group: self.group.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            port: self.port,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteTimeouts {
    /// Gateway API durations (`10s`, `1h30m`, `500ms`), kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_request: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteRetry {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionPersistence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absolute_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<String>,
    /// `Cookie` (default) or `Header`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_config: Option<CookieConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CookieConfig {
    /// `Session` or `Permanent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_type: Option<String>,
}

/// Parses a Gateway API duration (GEP-2257: units h, m, s, ms, no fractions) to milliseconds.
pub fn parse_gateway_duration(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 5 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (mult, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('s') {
            (1000, 1)
        } else {
            return None;
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
        rest = &rest[len..];
    }
    Some(total)
}

const MAX_HEADER_MODS: usize = 16;

fn validate_header_modifier(m: &HeaderModifier, at: &FieldPath, out: &mut Findings) {
    let mut seen = BTreeSet::new();
    for (list, key) in [(&m.set, "set"), (&m.add, "add")] {
        if list.len() > MAX_HEADER_MODS {
            out.error(&at.field(key), format!("at most {MAX_HEADER_MODS} headers"));
        }
        for (i, h) in list.iter().enumerate() {
            let p = at.field(key).index(i).field("name");
            out.check(&p, common::validate_http_header_name(&h.name));
            if !seen.insert((key, h.name.to_ascii_lowercase())) {
                out.error(&p, format!("header {:?} is listed twice", h.name));
            }
        }
    }
    let mut removed = BTreeSet::new();
    for (i, h) in m.remove.iter().enumerate() {
        let p = at.field("remove").index(i);
        out.check(&p, common::validate_http_header_name(h));
        if !removed.insert(h.to_ascii_lowercase()) {
            out.error(&p, format!("header {h:?} is listed twice"));
        }
    }
}

fn validate_path_modifier(
    m: &HttpPathModifier,
    prefix_matches_only: bool,
    at: &FieldPath,
    out: &mut Findings,
) {
    match m.type_ {
        PathModifierType::ReplaceFullPath => {
            if m.replace_full_path.is_none() || m.replace_prefix_match.is_some() {
                out.error(
                    at,
                    "type ReplaceFullPath needs replaceFullPath, and only it",
                );
            }
        }
        PathModifierType::ReplacePrefixMatch => {
            if m.replace_prefix_match.is_none() || m.replace_full_path.is_some() {
                out.error(
                    at,
                    "type ReplacePrefixMatch needs replacePrefixMatch, and only it",
                );
            }
            if !prefix_matches_only {
                out.error(
                    at,
                    "ReplacePrefixMatch needs every match of the rule to be a PathPrefix match",
                );
            }
        }
    }
    for v in [&m.replace_full_path, &m.replace_prefix_match]
        .into_iter()
        .flatten()
    {
        if !v.starts_with('/') {
            out.error(at, format!("{v:?} must start with '/'"));
        }
    }
}

fn validate_filters(
    filters: &[HttpRouteFilter],
    prefix_matches_only: bool,
    at: &FieldPath,
    out: &mut Findings,
) {
    let mut seen = BTreeSet::new();
    for (i, f) in filters.iter().enumerate() {
        let p = at.index(i);
        let set = [
            (
                FilterType::RequestHeaderModifier,
                f.request_header_modifier.is_some(),
            ),
            (
                FilterType::ResponseHeaderModifier,
                f.response_header_modifier.is_some(),
            ),
            (FilterType::RequestMirror, f.request_mirror.is_some()),
            (FilterType::RequestRedirect, f.request_redirect.is_some()),
            (FilterType::UrlRewrite, f.url_rewrite.is_some()),
            (FilterType::ExtensionRef, f.extension_ref.is_some()),
            (FilterType::Cors, f.cors.is_some()),
        ];
        for (t, present) in set {
            if present != (t == f.type_) {
                out.error(
                    &p,
                    format!(
                        "a filter of type {:?} must set exactly the field of that type",
                        f.type_
                    ),
                );
                break;
            }
        }
        if f.type_ != FilterType::RequestMirror
            && f.type_ != FilterType::ExtensionRef
            && !seen.insert(f.type_)
        {
            out.error(
                &p.field("type"),
                format!("{:?} may appear only once", f.type_),
            );
        }
        if let Some(m) = &f.request_header_modifier {
            validate_header_modifier(m, &p.field("requestHeaderModifier"), out);
        }
        if let Some(m) = &f.response_header_modifier {
            validate_header_modifier(m, &p.field("responseHeaderModifier"), out);
        }
        if let Some(m) = &f.request_mirror {
            let mp = p.field("requestMirror");
            validate_backend_ref(&m.backend_ref, &mp.field("backendRef"), out);
            if m.percent.is_some() && m.fraction.is_some() {
                out.error(&mp, "set either percent or fraction, not both");
            }
            if let Some(pct) = m.percent {
                if !(0..=100).contains(&pct) {
                    out.error(&mp.field("percent"), format!("{pct} is not in 0..100"));
                }
            }
            if let Some(fr) = &m.fraction {
                let d = fr.denominator.unwrap_or(100);
                if d < 1 || fr.numerator < 0 || fr.numerator > d {
                    out.error(
                        &mp.field("fraction"),
                        "needs 0 <= numerator <= denominator, denominator >= 1",
                    );
                }
            }
        }
        if let Some(r) = &f.request_redirect {
            let rp = p.field("requestRedirect");
            if let Some(s) = &r.scheme {
                if s != "http" && s != "https" {
                    out.error(
                        &rp.field("scheme"),
                        format!("{s:?} is not one of http, https"),
                    );
                }
            }
            if let Some(h) = &r.hostname {
                validate_hostname(h, &rp.field("hostname"), out);
            }
            if let Some(port) = r.port {
                validate_port(port, &rp.field("port"), out);
            }
            if let Some(code) = r.status_code {
                if ![301, 302, 303, 307, 308].contains(&code) {
                    out.error(
                        &rp.field("statusCode"),
                        format!("{code} is not one of 301, 302, 303, 307, 308"),
                    );
                }
            }
            if let Some(m) = &r.path {
                validate_path_modifier(m, prefix_matches_only, &rp.field("path"), out);
            }
        }
        if let Some(r) = &f.url_rewrite {
            let rp = p.field("urlRewrite");
            if let Some(h) = &r.hostname {
                validate_hostname(h, &rp.field("hostname"), out);
            }
            if let Some(m) = &r.path {
                validate_path_modifier(m, prefix_matches_only, &rp.field("path"), out);
            }
        }
        if let Some(e) = &f.extension_ref {
            if e.name.is_empty() || e.kind.is_empty() {
                out.error(&p.field("extensionRef"), "kind and name are required");
            }
        }
    }
    if seen.contains(&FilterType::RequestRedirect) && seen.contains(&FilterType::UrlRewrite) {
        out.error(at, "RequestRedirect and URLRewrite cannot be used together");
    }
}

fn validate_value_match(m: &HttpHeaderMatch, header: bool, at: &FieldPath, out: &mut Findings) {
    if header {
        out.check(
            &at.field("name"),
            common::validate_http_header_name(&m.name),
        );
    } else if m.name.is_empty() {
        out.error(&at.field("name"), "the name is required");
    }
    if m.type_ == Some(ValueMatchType::RegularExpression) {
        out.check(&at.field("value"), common::validate_regex(&m.value));
    }
}

impl Validate for HttpRoute {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        if self.parent_refs.len() > 32 {
            out.error(&at.field("parentRefs"), "at most 32 parentRefs are allowed");
        }
        for (i, r) in self.parent_refs.iter().enumerate() {
            validate_parent_ref(r, &at.field("parentRefs").index(i), out);
        }
        for (i, h) in self.hostnames.iter().enumerate() {
            validate_hostname(h, &at.field("hostnames").index(i), out);
        }
        if self.rules.len() > 16 {
            out.error(&at.field("rules"), "at most 16 rules are allowed");
        }
        let mut rule_names = BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let rp = at.field("rules").index(i);
            if let Some(n) = &rule.name {
                validate_section_name(n, &rp.field("name"), out);
                if !rule_names.insert(n.as_str()) {
                    out.error(&rp.field("name"), format!("duplicate rule name {n:?}"));
                }
            }
            if rule.matches.len() > 64 {
                out.error(&rp.field("matches"), "at most 64 matches are allowed");
            }
            let mut prefix_only = true;
            for (j, m) in rule.matches.iter().enumerate() {
                let mp = rp.field("matches").index(j);
                let path_type = m.path.as_ref().and_then(|p| p.type_).unwrap_or_default();
                if path_type != PathMatchType::PathPrefix {
                    prefix_only = false;
                }
                if let Some(p) = &m.path {
                    let v = p.value.as_deref().unwrap_or("/");
                    let vp = mp.field("path").field("value");
                    match path_type {
                        PathMatchType::Exact | PathMatchType::PathPrefix => {
                            if !v.starts_with('/') {
                                out.error(&vp, format!("{v:?} must start with '/'"));
                            } else if v.contains("//")
                                || v.contains("/./")
                                || v.contains("/../")
                                || v.ends_with("/..")
                                || v.ends_with("/.")
                            {
                                out.error(&vp, format!("{v:?} must be a normalized path"));
                            } else if v.contains('#') || v.contains('?') {
                                out.error(&vp, format!("{v:?} must not contain '?' or '#'"));
                            }
                        }
                        PathMatchType::RegularExpression => {
                            out.check(&vp, common::validate_regex(v));
                        }
                    }
                }
                for (k, h) in m.headers.iter().enumerate() {
                    validate_value_match(h, true, &mp.field("headers").index(k), out);
                }
                for (k, q) in m.query_params.iter().enumerate() {
                    validate_value_match(q, false, &mp.field("queryParams").index(k), out);
                }
            }
            validate_filters(&rule.filters, prefix_only, &rp.field("filters"), out);
            for (j, b) in rule.backend_refs.iter().enumerate() {
                let bp = rp.field("backendRefs").index(j);
                validate_backend_ref(&b.object_ref(), &bp, out);
                if let Some(w) = b.weight {
                    if !(0..=1_000_000).contains(&w) {
                        out.error(&bp.field("weight"), format!("{w} is not in 0..1000000"));
                    }
                }
                validate_filters(&b.filters, prefix_only, &bp.field("filters"), out);
            }
            if let Some(t) = &rule.timeouts {
                let tp = rp.field("timeouts");
                let req = t.request.as_deref().map(|s| (s, parse_gateway_duration(s)));
                let be = t
                    .backend_request
                    .as_deref()
                    .map(|s| (s, parse_gateway_duration(s)));
                for (key, v) in [("request", req), ("backendRequest", be)] {
                    if let Some((s, None)) = v {
                        out.error(
                            &tp.field(key),
                            format!("{s:?} is not a duration such as 10s, 500ms or 1h30m"),
                        );
                    }
                }
                if let (Some((_, Some(r))), Some((_, Some(b)))) = (req, be) {
                    if r != 0 && b > r {
                        out.error(
                            &tp.field("backendRequest"),
                            "must not be longer than the request timeout",
                        );
                    }
                }
            }
            if let Some(r) = &rule.retry {
                let p = rp.field("retry");
                for (k, c) in r.codes.iter().enumerate() {
                    if !(400..=599).contains(c) {
                        out.error(
                            &p.field("codes").index(k),
                            format!("{c} is not an HTTP error status"),
                        );
                    }
                }
                if r.attempts.is_some_and(|a| a < 0) {
                    out.error(&p.field("attempts"), "must not be negative");
                }
                if let Some(b) = &r.backoff {
                    if parse_gateway_duration(b).is_none() {
                        out.error(&p.field("backoff"), format!("{b:?} is not a duration"));
                    }
                }
            }
            if let Some(s) = &rule.session_persistence {
                let p = rp.field("sessionPersistence");
                for (key, v) in [
                    ("absoluteTimeout", &s.absolute_timeout),
                    ("idleTimeout", &s.idle_timeout),
                ] {
                    if let Some(v) = v {
                        if parse_gateway_duration(v).is_none() {
                            out.error(&p.field(key), format!("{v:?} is not a duration"));
                        }
                    }
                }
                if let Some(t) = &s.type_ {
                    if t != "Cookie" && t != "Header" {
                        out.error(
                            &p.field("type"),
                            format!("{t:?} is not one of Cookie, Header"),
                        );
                    }
                }
            }
        }
    }
}
