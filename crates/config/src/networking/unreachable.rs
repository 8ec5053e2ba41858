//! VirtualService rules that can never be used: rules after a catch-all rule, matches
//! identical to an earlier one, and URI prefix matches that an earlier, shorter prefix with the
//! same other conditions already takes. Validation reports them as warnings; the analyzer
//! (Istio's IST0130/IST0131) reports the same findings through [`unreachable_rules`].

use super::common::{MatchKind, StringMatch};
use super::http_route::HttpMatchRequest;
use super::virtual_service::VirtualService;
use crate::validate::Findings;
use crate::yaml::FieldPath;
use serde::Serialize;
use std::collections::BTreeMap;

/// A rule or a match of a VirtualService that no request can reach.
#[derive(Clone, Debug, PartialEq)]
pub enum Unreachable {
    /// A whole rule (`rule` is its display name: `"name"` or `#index`).
    Rule {
        path: FieldPath,
        rule: String,
        reason: &'static str,
    },
    /// One match of a rule, taken by a match of an earlier rule.
    Match {
        path: FieldPath,
        rule: String,
        /// The match's display name, with its prefix for an overlap.
        matched: String,
        /// The earlier rule (and match, for an overlap) that takes its traffic.
        earlier: String,
    },
}

/// Why a whole rule is never used.
pub const AFTER_CATCH_ALL: &str = "a rule before it has no matches and takes all traffic";
pub const SECOND_CATCH_ALL: &str =
    "a rule before it has no matches and takes all traffic (only the last rule may have no matches)";
pub const ALL_MATCHES_TAKEN: &str = "all its matches are used by earlier rules";

/// How the messages of [`Unreachable`] end, so that they can be told from other warnings.
const RULE_ADVICE: &str = "; reorder or remove it";
const MATCH_ADVICE: &str = "; remove it or move it before that rule";

/// True when a validation warning's message is one of [`Unreachable::message`]: the analyzer
/// reports those with codes of their own (IST0130/IST0131), so a report that shows both can
/// leave out the validation warning.
pub fn is_unreachable_message(message: &str) -> bool {
    message.contains(" is never used: ")
        && (message.ends_with(RULE_ADVICE) || message.ends_with(MATCH_ADVICE))
}

impl Unreachable {
    pub fn path(&self) -> &FieldPath {
        match self {
            Unreachable::Rule { path, .. } | Unreachable::Match { path, .. } => path,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Unreachable::Rule { rule, reason, .. } => {
                format!("rule {rule} is never used: {reason}{RULE_ADVICE}")
            }
            Unreachable::Match {
                rule,
                matched,
                earlier,
                ..
            } => format!(
                "match {matched} of rule {rule} is never used: {earlier} before it has the same match or a broader one and takes this traffic{MATCH_ADVICE}"
            ),
        }
    }
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

/// One rule as the analysis sees it: its display name, and per match its display name and
/// canonical form.
struct Rule<'a> {
    name: String,
    matches: Vec<(String, String)>,
    http: Option<&'a [HttpMatchRequest]>,
}

fn display_name(name: Option<&str>, i: usize) -> String {
    name.filter(|n| !n.is_empty())
        .map_or_else(|| format!("#{i}"), |n| format!("{n:?}"))
}

fn analyze(rules: &[Rule<'_>], at: &FieldPath, out: &mut Vec<Unreachable>) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut catch_all: Option<usize> = None;
    let mut prefixes: Vec<PrefixMatch<'_>> = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let p = at.index(i);
        let unused = |reason| Unreachable::Rule {
            path: p.clone(),
            rule: rule.name.clone(),
            reason,
        };
        if rule.matches.is_empty() {
            if catch_all.is_some() {
                out.push(unused(SECOND_CATCH_ALL));
            }
            catch_all = Some(i);
            continue;
        }
        let mut duplicates = 0;
        for (j, (match_name, canon)) in rule.matches.iter().enumerate() {
            if catch_all.is_some() {
                // Reported once per match, as Istio does.
                out.push(unused(AFTER_CATCH_ALL));
                continue;
            }
            if let Some(&prev) = seen.get(canon.as_str()) {
                duplicates += 1;
                out.push(Unreachable::Match {
                    path: p.field("match").index(j),
                    rule: rule.name.clone(),
                    matched: match_name.clone(),
                    earlier: format!("rule {} (the same match)", rules[prev].name),
                });
                continue;
            }
            seen.insert(canon, i);
            if let Some(m) = rule.http.and_then(|ms| ms.get(j)) {
                prefixes.extend(PrefixMatch::new(i, j, match_name, m));
            }
        }
        if duplicates == rule.matches.len() {
            out.push(unused(ALL_MATCHES_TAKEN));
        }
    }
    for (a, earlier) in prefixes.iter().enumerate() {
        for later in &prefixes[a + 1..] {
            if later.prefix != earlier.prefix && earlier.covers(later) {
                out.push(Unreachable::Match {
                    path: at.index(later.rule).field("match").index(later.index),
                    rule: rules[later.rule].name.clone(),
                    matched: format!("{} (prefix {:?})", later.name, later.prefix),
                    earlier: format!(
                        "match {} (prefix {:?}) of rule {}",
                        earlier.name, earlier.prefix, rules[earlier.rule].name
                    ),
                });
            }
        }
    }
}

/// An HTTP match on a URI prefix, reduced to what the overlap check compares.
struct PrefixMatch<'a> {
    rule: usize,
    index: usize,
    name: &'a str,
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
    fn new(rule: usize, index: usize, name: &'a str, m: &'a HttpMatchRequest) -> Option<Self> {
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
            name,
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

/// Every unreachable rule and match of a VirtualService, in Istio's order (HTTP, TCP, TLS),
/// with paths under `at` (the spec).
pub fn unreachable_rules(vs: &VirtualService, at: &FieldPath) -> Vec<Unreachable> {
    let mut out = Vec::new();
    let http: Vec<Rule<'_>> = vs
        .http
        .iter()
        .enumerate()
        .map(|(i, r)| Rule {
            name: display_name(r.name.as_deref(), i),
            matches: r
                .r#match
                .iter()
                .enumerate()
                .map(|(j, m)| (display_name(m.name.as_deref(), j), canonical(m, true)))
                .collect(),
            http: Some(&r.r#match),
        })
        .collect();
    analyze(&http, &at.field("http"), &mut out);
    let tcp: Vec<Rule<'_>> = vs
        .tcp
        .iter()
        .enumerate()
        .map(|(i, r)| Rule {
            name: format!("#{i}"),
            matches: r
                .r#match
                .iter()
                .enumerate()
                .map(|(j, m)| (format!("#{j}"), canonical(m, false)))
                .collect(),
            http: None,
        })
        .collect();
    analyze(&tcp, &at.field("tcp"), &mut out);
    let tls: Vec<Rule<'_>> = vs
        .tls
        .iter()
        .enumerate()
        .map(|(i, r)| Rule {
            name: format!("#{i}"),
            matches: r
                .r#match
                .iter()
                .enumerate()
                .map(|(j, m)| (format!("#{j}"), canonical(m, false)))
                .collect(),
            http: None,
        })
        .collect();
    analyze(&tls, &at.field("tls"), &mut out);
    out
}

pub(crate) fn check_unreachable(vs: &VirtualService, at: &FieldPath, out: &mut Findings) {
    for u in unreachable_rules(vs, at) {
        out.warning(u.path(), u.message());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_recognisable() {
        let rule = Unreachable::Rule {
            path: FieldPath::parse("spec.http[1]"),
            rule: "#1".into(),
            reason: ALL_MATCHES_TAKEN,
        };
        let m = Unreachable::Match {
            path: FieldPath::parse("spec.http[1].match[0]"),
            rule: "#1".into(),
            matched: "#0".into(),
            earlier: "rule #0".into(),
        };
        assert!(is_unreachable_message(&rule.message()));
        assert!(is_unreachable_message(&m.message()));
        assert!(!is_unreachable_message(
            "mirrorPercent is deprecated; use mirrorPercentage"
        ));
    }
}
