//! Decisions in words: which policy decided, and why the others did not match. Rendering
//! happens only when asked for, so evaluation itself allocates no strings.

use super::check::{Check, Values};
use super::eval::{Decision, Miss, MissWhy, RuleRef};
use super::{Effect, PolicySet};
use crate::matcher::{PathMatch, StrMatch};

impl PolicySet {
    /// `namespace/name` of a policy in a decision.
    pub fn policy_id(&self, policy: u32) -> String {
        self.policies
            .get(policy as usize)
            .map_or_else(|| format!("#{policy}"), |p| p.id())
    }

    /// One line for the rule that decided, e.g. `DENY foo/deny-admin rule 0`.
    pub fn describe(&self, r: &RuleRef) -> String {
        let Some(p) = self.policies.get(r.policy as usize) else {
            return format!("policy #{}", r.policy);
        };
        let action = match &p.effect {
            Effect::Allow => "ALLOW".to_string(),
            Effect::Deny => "DENY".to_string(),
            Effect::Audit => "AUDIT".to_string(),
            Effect::Custom { provider } => format!("CUSTOM (provider {provider})"),
        };
        match r.rule {
            Some(rule) => format!("{action} {} rule {rule}", p.id()),
            None => format!("{action} {}", p.id()),
        }
    }

    /// Why each considered rule did not match, one line each.
    pub fn reasons(&self, d: &Decision) -> Vec<String> {
        let mut out: Vec<String> = d.misses.iter().map(|m| self.miss(m)).collect();
        for r in &d.delegations {
            out.push(format!(
                "{} matched: the request is delegated to its provider",
                self.describe(r)
            ));
        }
        for r in &d.audited {
            out.push(format!(
                "{} matched: the request is audited",
                self.describe(r)
            ));
        }
        for dr in &d.dry_runs {
            let id = self.policy_id(dr.policy);
            out.push(match dr.matched {
                Some(rule) => format!("dry-run {id} rule {rule} matched (not enforced)"),
                None => format!("dry-run {id} matched no rule (not enforced)"),
            });
        }
        if let Some(r) = &d.deciding {
            if let Some(why) = self
                .policies
                .get(r.policy as usize)
                .and_then(|p| p.bad_provider.clone())
            {
                out.push(format!(
                    "{}: {why}; it denies what it matches",
                    self.policy_id(r.policy)
                ));
            }
        }
        out
    }

    fn miss(&self, m: &Miss) -> String {
        let Some(p) = self.policies.get(m.policy as usize) else {
            return format!("policy #{}", m.policy);
        };
        let head = format!("{} rule {}", p.id(), m.rule);
        let rule = p.rules.get(m.rule as usize);
        let check = |c: Option<&Check>| c.map_or_else(String::new, render_check);
        match m.why {
            MissWhy::NoRules => format!("{}: no rules, so it matches nothing", p.id()),
            MissWhy::HttpOnlyOnTcp => {
                format!("{head}: uses HTTP-only fields, so it never matches TCP traffic")
            }
            MissWhy::Invalid => format!(
                "{head}: invalid ({}), so it never allows",
                rule.and_then(|r| r.invalid.clone()).unwrap_or_default()
            ),
            MissWhy::From { entry, check: c } => {
                let n = rule.map_or(0, |r| r.from.len());
                let c = rule.and_then(|r| r.from.get(entry as usize)?.get(c as usize));
                let more = if n > 1 {
                    format!(" (nor did the other {} from entries)", n - 1)
                } else {
                    String::new()
                };
                format!("{head}: {} did not match{more}", check(c))
            }
            MissWhy::To { entry, check: c } => {
                let n = rule.map_or(0, |r| r.to.len());
                let c = rule.and_then(|r| r.to.get(entry as usize)?.get(c as usize));
                let more = if n > 1 {
                    format!(" (nor did the other {} to entries)", n - 1)
                } else {
                    String::new()
                };
                format!("{head}: {} did not match{more}", check(c))
            }
            MissWhy::When { check: c } => {
                let c = rule.and_then(|r| r.when.get(c as usize));
                format!("{head}: {} did not match", check(c))
            }
        }
    }
}

fn render_check(c: &Check) -> String {
    let mut s = c.field.clone();
    if let Some(v) = &c.values {
        s.push_str(&format!(" {}", render_values(v)));
    }
    if let Some(v) = &c.not_values {
        s.push_str(&format!(" not {}", render_values(v)));
    }
    s
}

fn render_str(m: &StrMatch) -> String {
    match m {
        StrMatch::Present => "*".into(),
        StrMatch::Exact(e) => e.to_string(),
        StrMatch::Prefix(p) => format!("{p}*"),
        StrMatch::Suffix(p) => format!("*{p}"),
    }
}

fn render_values(v: &Values) -> String {
    let list: Vec<String> = match v {
        Values::Str(any) => any.0.iter().map(render_str).collect(),
        Values::Path(ps) => ps
            .iter()
            .map(|p| match p {
                PathMatch::Plain(m) => render_str(m),
                PathMatch::Template(_) => "(template)".into(),
            })
            .collect(),
        Values::Ip(set) => set.0.iter().map(|n| n.to_string()).collect(),
        Values::Port(ps) => ps.iter().map(|p| p.to_string()).collect(),
        Values::ServiceAccount(list) => list.iter().map(|(ns, sa)| format!("{ns}/{sa}")).collect(),
        Values::TrustDomain(list) => list
            .iter()
            .map(|(pre, post)| match post {
                Some(post) => format!("{pre}*{post}"),
                None => pre.clone(),
            })
            .collect(),
        Values::RequestPrincipal(list) => list
            .iter()
            .map(|(iss, sub)| {
                let r =
                    |m: &Option<StrMatch>| m.as_ref().map_or_else(|| "*".to_string(), render_str);
                format!("{}/{}", r(iss), r(sub))
            })
            .collect(),
    };
    format!("[{}]", list.join(", "))
}
