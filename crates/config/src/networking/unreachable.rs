//! Warnings for VirtualService rules that can never be used: rules after a catch-all rule, and
//! matches identical to an earlier one.

use super::common::{MatchKind, StringMatch};
use super::http_route::HttpMatchRequest;
use super::virtual_service::VirtualService;
use crate::validate::Findings;
use crate::yaml::FieldPath;
use serde::Serialize;
use std::collections::BTreeMap;

/// One rule as the analysis sees it: its display name and its matches in a canonical form.
struct Rule {
    name: String,
    matches: Vec<String>,
}

fn canonical<T: Serialize>(m: &T, drop_name: bool) -> String {
    let mut v = serde_json::to_value(m).unwrap_or(serde_json::Value::Null);
    if drop_name {
        if let Some(o) = v.as_object_mut() {
            o.remove("name");
        }
    }
    v.to_string()
}

fn analyze(rules: &[Rule], at: &FieldPath, out: &mut Findings) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut catch_all: Option<usize> = None;
    for (i, rule) in rules.iter().enumerate() {
        let p = at.index(i);
        if rule.matches.is_empty() {
            if let Some(c) = catch_all {
                out.warning(
                    &p,
                    format!(
                        "rule {} is never used: rule {} before it has no matches and takes all traffic (only the last rule may have no matches)",
                        rule.name, rules[c].name
                    ),
                );
            }
            catch_all = Some(i);
            continue;
        }
        if let Some(c) = catch_all {
            out.warning(
                &p,
                format!(
                    "rule {} is never used: rule {} before it has no matches and takes all traffic",
                    rule.name, rules[c].name
                ),
            );
            continue;
        }
        let mut duplicates = 0;
        for (j, m) in rule.matches.iter().enumerate() {
            if let Some(&prev) = seen.get(m.as_str()) {
                duplicates += 1;
                out.warning(
                    &p.field("match").index(j),
                    format!(
                        "this match of rule {} is never used: rule {} has the same match",
                        rule.name, rules[prev].name
                    ),
                );
            } else {
                seen.insert(m, i);
            }
        }
        if duplicates == rule.matches.len() {
            out.warning(
                &p,
                format!(
                    "rule {} is never used: all its matches are used by earlier rules",
                    rule.name
                ),
            );
        }
    }
}

/// An HTTP match on a URI prefix, reduced to what the overlap check compares.
struct PrefixMatch<'a> {
    rule: usize,
    index: usize,
    prefix: &'a str,
    port: u32,
    method: String,
    authority: String,
    headers: BTreeMap<&'a str, String>,
    query_params: BTreeMap<&'a str, String>,
    without_headers: BTreeMap<&'a str, String>,
}

fn exact_or_prefix(m: Option<&StringMatch>) -> String {
    match m.and_then(StringMatch::kind) {
        Some(MatchKind::Exact(e)) if !e.is_empty() => format!("exact:{e}"),
        Some(MatchKind::Prefix(p)) if !p.is_empty() => format!("prefix:{p}"),
        _ => String::new(),
    }
}

fn reduce(map: &BTreeMap<String, StringMatch>) -> BTreeMap<&str, String> {
    map.iter()
        .map(|(k, v)| (k.as_str(), exact_or_prefix(Some(v))))
        .collect()
}

impl<'a> PrefixMatch<'a> {
    fn new(rule: usize, index: usize, m: &'a HttpMatchRequest) -> Option<Self> {
        let prefix = match m.uri.as_ref().and_then(StringMatch::kind) {
            Some(MatchKind::Prefix(p)) if !p.is_empty() => p,
            _ => return None,
        };
        let mut method = exact_or_prefix(m.method.as_ref());
        if method.is_empty() {
            method = "exact:GET".into();
        }
        Some(PrefixMatch {
            rule,
            index,
            prefix,
            port: m.port.unwrap_or(0),
            method,
            authority: exact_or_prefix(m.authority.as_ref()),
            headers: reduce(&m.headers),
            query_params: reduce(&m.query_params),
            without_headers: reduce(&m.without_headers),
        })
    }

    /// Whether this (earlier) match takes all the traffic `later` would match.
    fn covers(&self, later: &PrefixMatch<'_>) -> bool {
        let same_or_narrower = |a: &str, b: &str| a == b || a.starts_with(b);
        let maps = |a: &BTreeMap<&str, String>, b: &BTreeMap<&str, String>| {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| same_or_narrower(v, w)))
        };
        later.prefix.starts_with(self.prefix)
            && later.port == self.port
            && same_or_narrower(&self.method, &later.method)
            && same_or_narrower(&self.authority, &later.authority)
            && maps(&self.headers, &later.headers)
            && maps(&self.query_params, &later.query_params)
            && maps(&self.without_headers, &later.without_headers)
    }
}

/// Later prefix matches that an earlier, shorter prefix match with the same other conditions
/// already takes.
fn check_prefix_overlaps(vs: &VirtualService, names: &[Rule], at: &FieldPath, out: &mut Findings) {
    let mut seen = std::collections::BTreeSet::new();
    let mut prefixes = Vec::new();
    for (i, r) in vs.http.iter().enumerate() {
        if r.r#match.is_empty() {
            break;
        }
        for (j, m) in r.r#match.iter().enumerate() {
            // Exact duplicates are reported by `analyze`.
            if seen.insert(canonical(m, true)) {
                prefixes.extend(PrefixMatch::new(i, j, m));
            }
        }
    }
    for (a, earlier) in prefixes.iter().enumerate() {
        for later in &prefixes[a + 1..] {
            if later.prefix != earlier.prefix && earlier.covers(later) {
                out.warning(
                    &at.index(later.rule).field("match").index(later.index),
                    format!(
                        "this match (prefix {:?}) of rule {} is never used: match #{} (prefix {:?}) of rule {} before it takes the same traffic",
                        later.prefix, names[later.rule].name, earlier.index, earlier.prefix, names[earlier.rule].name
                    ),
                );
            }
        }
    }
}

pub(crate) fn check_unreachable(vs: &VirtualService, at: &FieldPath, out: &mut Findings) {
    let http: Vec<Rule> = vs
        .http
        .iter()
        .enumerate()
        .map(|(i, r)| Rule {
            name: r
                .name
                .as_deref()
                .filter(|n| !n.is_empty())
                .map_or_else(|| format!("#{i}"), |n| format!("{n:?}")),
            matches: r.r#match.iter().map(|m| canonical(m, true)).collect(),
        })
        .collect();
    analyze(&http, &at.field("http"), out);
    check_prefix_overlaps(vs, &http, &at.field("http"), out);
    let tcp: Vec<Rule> = vs
        .tcp
        .iter()
        .enumerate()
        .map(|(i, r)| Rule {
            name: format!("#{i}"),
            matches: r.r#match.iter().map(|m| canonical(m, false)).collect(),
        })
        .collect();
    analyze(&tcp, &at.field("tcp"), out);
    let tls: Vec<Rule> = vs
        .tls
        .iter()
        .enumerate()
        .map(|(i, r)| Rule {
            name: format!("#{i}"),
            matches: r.r#match.iter().map(|m| canonical(m, false)).collect(),
        })
        .collect();
    analyze(&tls, &at.field("tls"), out);
}
