//! HTTP routes compiled for matching: string matchers (regexes built once, with a size
//! limit), header and query matches, and weighted cluster choices. Matching reads the
//! request as normalized by the policy crate, so routing and authorization see one path.

use crate::state::ClusterRef;
use bytes::Bytes;
use http::HeaderMap;
use std::sync::Arc;
use std::time::Duration;
use verimesh_model::{
    HeaderMatch, HeaderOps, HttpAction, HttpMatch, HttpRoute, Redirect, Retries, Rewrite,
    StringMatch,
};

/// Regexes in routes are RE2 syntax from configuration; a pathological one must not eat the
/// proxy's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
#[error("route {route:?}: invalid regex {pattern:?}: {source}")]
pub struct RouteError {
    route: String,
    pattern: String,
    source: regex::Error,
}

#[derive(Debug)]
pub enum Matcher {
    Exact(String),
    Prefix(String),
    Regex(regex::Regex),
}

impl Matcher {
    fn compile(m: &StringMatch, ignore_case: bool, route: &str) -> Result<Matcher, RouteError> {
        let lower = |s: &str| {
            if ignore_case {
                s.to_ascii_lowercase()
            } else {
                s.to_string()
            }
        };
        Ok(match m {
            StringMatch::Exact(s) => Matcher::Exact(lower(s)),
            StringMatch::Prefix(s) => Matcher::Prefix(lower(s)),
            StringMatch::Regex(p) => {
                // Envoy's safe_regex matches the whole value.
                let anchored = format!("^(?:{p})$");
                let re = regex::RegexBuilder::new(&anchored)
                    .case_insensitive(ignore_case)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|source| RouteError {
                        route: route.to_string(),
                        pattern: p.clone(),
                        source,
                    })?;
                Matcher::Regex(re)
            }
        })
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => value == s,
            Matcher::Prefix(s) => value.starts_with(s.as_str()),
            Matcher::Regex(re) => re.is_match(value),
        }
    }
}

/// Istio's pseudo-header for routing on a verified JWT claim: `@request.auth.claims.groups`
/// (nested claims separated by dots). Never read from the request's own headers.
const CLAIM_PREFIX: &str = "@request.auth.claims.";

#[derive(Debug)]
struct NamedMatch {
    name: String,
    /// For a claim match: the claim's path in the token's payload.
    claim: Option<Vec<String>>,
    value: Option<Matcher>,
    invert: bool,
}

impl NamedMatch {
    fn compile(h: &HeaderMatch, route: &str) -> Result<Self, RouteError> {
        Ok(NamedMatch {
            claim: h
                .name
                .strip_prefix(CLAIM_PREFIX)
                .map(|path| path.split('.').map(str::to_string).collect()),
            name: h.name.to_ascii_lowercase(),
            value: h
                .value
                .as_ref()
                .map(|v| Matcher::compile(v, false, route))
                .transpose()?,
            invert: h.invert,
        })
    }

    /// Any one value of a repeated header may satisfy the match.
    fn holds<'a>(&self, mut values: impl Iterator<Item = &'a str>) -> bool {
        let found = match &self.value {
            None => values.next().is_some(),
            Some(m) => values.any(|v| m.matches(v)),
        };
        found != self.invert
    }
}

#[derive(Debug)]
struct CompiledMatch {
    uri: Option<Matcher>,
    ignore_uri_case: bool,
    method: Option<Matcher>,
    authority: Option<Matcher>,
    headers: Vec<NamedMatch>,
    query: Vec<NamedMatch>,
}

/// What routing looks at: normalized path, method, lower-cased host, headers, query.
pub struct RouteInput<'a> {
    pub path: &'a str,
    pub method: &'a str,
    pub authority: &'a str,
    pub headers: &'a HeaderMap,
    pub query: Option<&'a str>,
    /// The payload of the request's verified JWT, when one was verified.
    pub claims: Option<&'a serde_json::Value>,
}

impl CompiledMatch {
    fn compile(m: &HttpMatch, route: &str) -> Result<Self, RouteError> {
        let compile = |s: &Option<StringMatch>, ic| {
            s.as_ref()
                .map(|s| Matcher::compile(s, ic, route))
                .transpose()
        };
        Ok(CompiledMatch {
            uri: compile(&m.uri, m.ignore_uri_case)?,
            ignore_uri_case: m.ignore_uri_case,
            method: compile(&m.method, false)?,
            authority: compile(&m.authority, false)?,
            headers: m
                .headers
                .iter()
                .map(|h| NamedMatch::compile(h, route))
                .collect::<Result<_, _>>()?,
            query: m
                .query_params
                .iter()
                .map(|h| NamedMatch::compile(h, route))
                .collect::<Result<_, _>>()?,
        })
    }

    fn matches(&self, input: &RouteInput<'_>) -> bool {
        if let Some(m) = &self.uri {
            let ok = if self.ignore_uri_case {
                m.matches(&input.path.to_ascii_lowercase())
            } else {
                m.matches(input.path)
            };
            if !ok {
                return false;
            }
        }
        if self
            .method
            .as_ref()
            .is_some_and(|m| !m.matches(input.method))
        {
            return false;
        }
        if self
            .authority
            .as_ref()
            .is_some_and(|m| !m.matches(input.authority))
        {
            return false;
        }
        for h in &self.headers {
            if let Some(path) = &h.claim {
                let values = claim_values(input.claims, path);
                if !h.holds(values.iter().map(String::as_str)) {
                    return false;
                }
                continue;
            }
            let values = input
                .headers
                .get_all(h.name.as_str())
                .into_iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::trim);
            if !h.holds(values) {
                return false;
            }
        }
        for q in &self.query {
            let values = query_values(input.query, &q.name);
            if !q.holds(values) {
                return false;
            }
        }
        true
    }
}

/// A claim's values as strings: a string, each element of a list, numbers and booleans
/// printed; nothing when there is no verified token or no such claim.
fn claim_values(claims: Option<&serde_json::Value>, path: &[String]) -> Vec<String> {
    let mut at = claims;
    for key in path {
        at = at.and_then(|v| v.get(key.as_str()));
    }
    let scalar = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match at {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(scalar).collect(),
        Some(v) => scalar(v).into_iter().collect(),
        None => Vec::new(),
    }
}

fn query_values<'a>(query: Option<&'a str>, name: &'a str) -> impl Iterator<Item = &'a str> {
    query
        .unwrap_or("")
        .split('&')
        .filter_map(move |pair| match pair.split_once('=') {
            Some((k, v)) if k == name => Some(v),
            None if pair == name => Some(""),
            _ => None,
        })
}

/// Weighted destinations; a cluster missing from the config stays as its name so the
/// request fails visibly (503 NC) instead of going somewhere else.
#[derive(Debug)]
pub struct WeightedTargets {
    total: u64,
    /// Cumulative weight bounds, in order.
    targets: Vec<(u64, ClusterRef)>,
}

impl WeightedTargets {
    pub fn new(targets: Vec<(u32, ClusterRef)>) -> Self {
        let mut acc = 0u64;
        let targets = targets
            .into_iter()
            .filter(|(w, _)| *w > 0)
            .map(|(w, c)| {
                acc += u64::from(w);
                (acc, c)
            })
            .collect();
        WeightedTargets {
            total: acc,
            targets,
        }
    }

    /// The target a uniformly random `r` falls on.
    pub fn pick(&self, r: u64) -> Option<&ClusterRef> {
        if self.total == 0 {
            return None;
        }
        let point = r % self.total;
        self.targets
            .iter()
            .find(|(bound, _)| point < *bound)
            .map(|(_, c)| c)
    }
}

#[derive(Debug)]
pub enum Action {
    Route(WeightedTargets),
    Redirect(Redirect),
    Direct { status: u16, body: Bytes },
}

#[derive(Debug)]
pub struct CompiledRoute {
    pub name: Arc<str>,
    matches: Vec<CompiledMatch>,
    pub action: Action,
    pub timeout: Option<Duration>,
    pub retries: Option<Retries>,
    pub rewrite: Option<Rewrite>,
    pub request_headers: Option<HeaderOps>,
    pub response_headers: Option<HeaderOps>,
}

impl CompiledRoute {
    pub fn compile(
        route: &HttpRoute,
        resolve: &dyn Fn(&str) -> ClusterRef,
    ) -> Result<Self, RouteError> {
        let action = match &route.action {
            HttpAction::Route { clusters } => Action::Route(WeightedTargets::new(
                clusters
                    .iter()
                    .map(|w| (w.weight, resolve(&w.cluster)))
                    .collect(),
            )),
            HttpAction::Redirect(r) => Action::Redirect(r.clone()),
            HttpAction::DirectResponse { status, body } => Action::Direct {
                status: *status,
                body: Bytes::from(body.clone()),
            },
        };
        Ok(CompiledRoute {
            name: Arc::from(route.name.as_str()),
            matches: route
                .matches
                .iter()
                .map(|m| CompiledMatch::compile(m, &route.name))
                .collect::<Result<_, _>>()?,
            action,
            timeout: route.timeout_ms.map(Duration::from_millis),
            retries: route.retries.clone(),
            rewrite: route.rewrite.clone(),
            request_headers: route.request_headers.clone(),
            response_headers: route.response_headers.clone(),
        })
    }

    /// Whether the route applies; on a match, the prefix a URI rewrite replaces (if the
    /// matching condition was a prefix).
    pub fn matches(&self, input: &RouteInput<'_>) -> Option<Option<&str>> {
        if self.matches.is_empty() {
            return Some(None);
        }
        self.matches
            .iter()
            .find(|m| m.matches(input))
            .map(|m| match &m.uri {
                Some(Matcher::Prefix(p)) => Some(p.as_str()),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(path: &'a str, headers: &'a HeaderMap, query: Option<&'a str>) -> RouteInput<'a> {
        RouteInput {
            path,
            method: "GET",
            authority: "reviews",
            headers,
            query,
            claims: None,
        }
    }

    /// `@request.auth.claims.*` reads the verified token's payload (`@` cannot start a real
    /// header name), and a list claim matches when any element does.
    #[test]
    fn claim_matches_read_the_verified_payload_only() {
        let route = HttpRoute {
            name: "r".into(),
            matches: vec![HttpMatch {
                headers: vec![HeaderMatch {
                    name: "@request.auth.claims.groups".into(),
                    value: Some(StringMatch::Exact("group1".into())),
                    invert: false,
                }],
                ..Default::default()
            }],
            action: HttpAction::DirectResponse {
                status: 200,
                body: String::new(),
            },
            timeout_ms: None,
            retries: None,
            rewrite: None,
            request_headers: None,
            response_headers: None,
        };
        let r = CompiledRoute::compile(&route, &|n| ClusterRef::Missing(Arc::from(n))).unwrap();
        let headers = HeaderMap::new();
        let mut i = input("/", &headers, None);
        assert!(r.matches(&i).is_none(), "no verified token: no claim");
        let with = serde_json::json!({"groups": ["group0", "group1"]});
        i.claims = Some(&with);
        assert!(r.matches(&i).is_some());
        let without = serde_json::json!({"groups": "group2", "sub": "x"});
        i.claims = Some(&without);
        assert!(r.matches(&i).is_none());
    }

    #[test]
    fn regexes_match_the_whole_value() {
        let m = Matcher::compile(&StringMatch::Regex("/v[0-9]".into()), false, "r").unwrap();
        assert!(m.matches("/v1"));
        assert!(!m.matches("/v1/extra"));
        assert!(!m.matches("x/v1"));
    }

    #[test]
    fn oversized_regexes_are_refused() {
        let huge = StringMatch::Regex("(a{1000}){1000}".into());
        assert!(Matcher::compile(&huge, false, "r").is_err());
    }

    #[test]
    fn headers_query_and_inversion() {
        let m = HttpMatch {
            uri: Some(StringMatch::Prefix("/API".into())),
            ignore_uri_case: true,
            headers: vec![
                HeaderMatch {
                    name: "End-User".into(),
                    value: Some(StringMatch::Exact("jason".into())),
                    invert: false,
                },
                HeaderMatch {
                    name: "x-debug".into(),
                    value: None,
                    invert: true,
                },
            ],
            query_params: vec![HeaderMatch {
                name: "v".into(),
                value: Some(StringMatch::Exact("2".into())),
                invert: false,
            }],
            ..Default::default()
        };
        let c = CompiledMatch::compile(&m, "r").unwrap();
        let mut h = HeaderMap::new();
        h.append("end-user", "bob".parse().unwrap());
        h.append("end-user", "jason".parse().unwrap());
        assert!(c.matches(&input("/api/x", &h, Some("a=1&v=2"))));
        assert!(!c.matches(&input("/api/x", &h, Some("v=3"))));
        assert!(!c.matches(&input("/other", &h, Some("v=2"))));
        h.insert("x-debug", "1".parse().unwrap());
        assert!(!c.matches(&input("/api/x", &h, Some("v=2"))));
    }

    #[test]
    fn weights_split_by_cumulative_bounds() {
        let w = WeightedTargets::new(vec![
            (80, ClusterRef::Missing("a".into())),
            (0, ClusterRef::Missing("never".into())),
            (20, ClusterRef::Missing("b".into())),
        ]);
        let name = |r| match w.pick(r) {
            Some(ClusterRef::Missing(n)) => n.to_string(),
            _ => String::new(),
        };
        assert_eq!(name(0), "a");
        assert_eq!(name(79), "a");
        assert_eq!(name(80), "b");
        assert_eq!(name(199), "b");
    }
}
