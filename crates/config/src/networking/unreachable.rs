//! Warnings for VirtualService rules that can never be used: rules after a catch-all rule, and
//! matches identical to an earlier one.

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
