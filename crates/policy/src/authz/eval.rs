//! Evaluation, in Istio's order: CUSTOM, then DENY, then ALLOW (no ALLOW policy: allow; any
//! ALLOW policy: deny unless one matches). AUDIT and dry-run policies are evaluated and
//! reported without changing the outcome.

use super::check::Strictness;
use super::compile::CompiledRule;
use super::{CompiledPolicy, Effect, PolicySet};
use crate::attrs::Attributes;

/// The policies applying to one workload, by action (indices into the [`PolicySet`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selected {
    pub custom: Vec<u32>,
    pub deny: Vec<u32>,
    pub allow: Vec<u32>,
    pub audit: Vec<u32>,
    pub dry_run: Vec<u32>,
}

/// A policy and, when one decided, the index of its rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub policy: u32,
    pub rule: Option<u32>,
}

/// Why a rule did not match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissWhy {
    /// The policy has no rules (an ALLOW policy without rules allows nothing).
    NoRules,
    /// No `from` entry matched; the first entry's failing check is `check`.
    From {
        entry: u16,
        check: u16,
    },
    To {
        entry: u16,
        check: u16,
    },
    When {
        check: u16,
    },
    /// An ALLOW rule using HTTP-only fields never matches TCP traffic.
    HttpOnlyOnTcp,
    /// The rule could not be compiled and, in an ALLOW policy, never matches.
    Invalid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Miss {
    pub policy: u32,
    pub rule: u32,
    pub why: MissWhy,
}

/// A dry-run policy's result: what it would have done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DryRun {
    pub policy: u32,
    /// The matching rule, if any.
    pub matched: Option<u32>,
}

/// The outcome of authorization, with enough to explain it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The DENY or ALLOW policy and rule that decided; `None` when the default decided
    /// (no ALLOW policy: allow; ALLOW policies but none matched: deny).
    pub deciding: Option<RuleRef>,
    /// CUSTOM policies that matched: the request must also be allowed by their providers
    /// (the ext_authz call is made by the proxy). `allowed` assumes they allow.
    pub delegations: Vec<RuleRef>,
    /// AUDIT policies that matched.
    pub audited: Vec<RuleRef>,
    pub dry_runs: Vec<DryRun>,
    /// Rules of the policies considered that did not match, and why.
    pub misses: Vec<Miss>,
}

impl PolicySet {
    /// Decides a request for a workload whose policies are `sel`, recording why each
    /// rule considered did not match.
    pub fn evaluate(&self, sel: &Selected, a: &Attributes<'_>) -> Decision {
        self.evaluate_with(sel, a, true)
    }

    /// The same decision without the misses (`Decision::misses` stays empty): the proxy's
    /// hot path, which re-evaluates with [`PolicySet::evaluate`] only to explain a denial.
    pub fn evaluate_quiet(&self, sel: &Selected, a: &Attributes<'_>) -> Decision {
        self.evaluate_with(sel, a, false)
    }

    fn evaluate_with(&self, sel: &Selected, a: &Attributes<'_>, explain: bool) -> Decision {
        let mut d = Decision::default();

        for &i in &sel.custom {
            let p = &self.policies[i as usize];
            if let Some(rule) = self.first_match(i, p, a, explain.then_some(&mut d.misses)) {
                if p.bad_provider.is_some() {
                    // Istio turns a CUSTOM policy with a bad provider into a DENY.
                    d.deciding = Some(RuleRef {
                        policy: i,
                        rule: Some(rule),
                    });
                    return d;
                }
                d.delegations.push(RuleRef {
                    policy: i,
                    rule: Some(rule),
                });
            }
        }
        for &i in &sel.audit {
            let p = &self.policies[i as usize];
            if let Some(rule) = self.first_match(i, p, a, explain.then_some(&mut d.misses)) {
                d.audited.push(RuleRef {
                    policy: i,
                    rule: Some(rule),
                });
            }
        }
        for &i in &sel.dry_run {
            let p = &self.policies[i as usize];
            let matched = self.first_match(i, p, a, None);
            d.dry_runs.push(DryRun { policy: i, matched });
        }
        for &i in &sel.deny {
            let p = &self.policies[i as usize];
            if let Some(rule) = self.first_match(i, p, a, explain.then_some(&mut d.misses)) {
                d.deciding = Some(RuleRef {
                    policy: i,
                    rule: Some(rule),
                });
                return d;
            }
        }
        if sel.allow.is_empty() {
            d.allowed = true;
            return d;
        }
        for &i in &sel.allow {
            let p = &self.policies[i as usize];
            if let Some(rule) = self.first_match(i, p, a, explain.then_some(&mut d.misses)) {
                d.allowed = true;
                d.deciding = Some(RuleRef {
                    policy: i,
                    rule: Some(rule),
                });
                return d;
            }
        }
        d
    }

    /// The first matching rule of a policy; records why each earlier rule missed.
    fn first_match(
        &self,
        index: u32,
        p: &CompiledPolicy,
        a: &Attributes<'_>,
        mut misses: Option<&mut Vec<Miss>>,
    ) -> Option<u32> {
        if p.rules.is_empty() {
            if let Some(m) = misses {
                m.push(Miss {
                    policy: index,
                    rule: 0,
                    why: MissWhy::NoRules,
                });
            }
            return None;
        }
        let allow = p.effect == Effect::Allow;
        for (r, rule) in p.rules.iter().enumerate() {
            match rule_matches(rule, allow, a) {
                Ok(()) => return Some(r as u32),
                Err(why) => {
                    if let Some(m) = misses.as_deref_mut() {
                        m.push(Miss {
                            policy: index,
                            rule: r as u32,
                            why,
                        });
                    }
                }
            }
        }
        None
    }
}

/// Whether a rule matches. On TCP, an ALLOW rule with HTTP-only fields never matches, and
/// the HTTP-only checks of other rules are dropped (so such rules match more), as Istio
/// generates them.
fn rule_matches(rule: &CompiledRule, allow: bool, a: &Attributes<'_>) -> Result<(), MissWhy> {
    if rule.invalid.is_some() {
        return if allow { Err(MissWhy::Invalid) } else { Ok(()) };
    }
    let tcp = a.http.is_none();
    if tcp && allow && rule.http_only {
        return Err(MissWhy::HttpOnlyOnTcp);
    }
    let strict = if allow {
        Strictness::AllValues
    } else {
        Strictness::AnyValue
    };
    let passes = |c: &super::check::Check| (tcp && c.attr.http_only()) || c.eval(a, strict);
    let first_fail = |checks: &[super::check::Check]| checks.iter().position(|c| !passes(c));
    if !rule.from.is_empty() && !rule.from.iter().any(|e| first_fail(e).is_none()) {
        let check = first_fail(&rule.from[0]).unwrap_or(0) as u16;
        return Err(MissWhy::From { entry: 0, check });
    }
    if !rule.to.is_empty() && !rule.to.iter().any(|e| first_fail(e).is_none()) {
        let check = first_fail(&rule.to[0]).unwrap_or(0) as u16;
        return Err(MissWhy::To { entry: 0, check });
    }
    if let Some(check) = first_fail(&rule.when) {
        return Err(MissWhy::When {
            check: check as u16,
        });
    }
    Ok(())
}
