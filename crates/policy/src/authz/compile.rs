//! AuthorizationPolicy rules compiled into checks, once, when the policy set is built.

use super::check::{Attr, Check, Values};
use crate::matcher::{AnyOf, IpSet, PathMatch, StrMatch};
use verimesh_config::security::{condition_key_kind, ConditionKey, Operation, Rule, Source};

/// A rule ready to evaluate: any `from` entry, any `to` entry, and every `when` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CompiledRule {
    pub from: Vec<Vec<Check>>,
    pub to: Vec<Vec<Check>>,
    pub when: Vec<Check>,
    /// The rule reads an attribute only HTTP requests have.
    pub http_only: bool,
    /// Why the rule could not be compiled; such a rule never matches in an ALLOW policy and
    /// always matches otherwise (fail closed).
    pub invalid: Option<String>,
}

/// The policy's namespace (for bare service-account names) and the trust domains that
/// count as this mesh's own (the trust domain and its aliases).
pub(crate) struct RuleContext<'a> {
    pub namespace: &'a str,
    pub trust_domains: &'a [String],
}

pub(crate) fn compile_rule(rule: &Rule, cx: &RuleContext<'_>) -> CompiledRule {
    let mut out = CompiledRule {
        from: Vec::new(),
        to: Vec::new(),
        when: Vec::new(),
        http_only: false,
        invalid: None,
    };
    let mut errors = Vec::new();
    for (i, f) in rule.from.iter().enumerate() {
        let src = f.source.clone().unwrap_or_default();
        out.from.push(source_checks(
            &src,
            &format!("from[{i}].source"),
            cx,
            &mut errors,
        ));
    }
    for (i, t) in rule.to.iter().enumerate() {
        let op = t.operation.clone().unwrap_or_default();
        out.to
            .push(operation_checks(&op, &format!("to[{i}].operation")));
    }
    for (i, c) in rule.when.iter().enumerate() {
        let field = format!("when[{i}] {}", c.key);
        match condition(&c.key, &c.values, &c.not_values, field, cx) {
            Ok(check) => out.when.push(check),
            Err(e) => errors.push(format!("when[{i}]: {e}")),
        }
    }
    out.http_only = out
        .from
        .iter()
        .chain(&out.to)
        .flatten()
        .chain(&out.when)
        .any(|c| c.attr.http_only());
    if !errors.is_empty() {
        out.invalid = Some(errors.join("; "));
    }
    out
}

fn push(
    out: &mut Vec<Check>,
    attr: Attr,
    field: String,
    values: &[String],
    not_values: &[String],
    compile: impl Fn(&[String]) -> Values,
) {
    if values.is_empty() && not_values.is_empty() {
        return;
    }
    let side = |v: &[String]| (!v.is_empty()).then(|| compile(v));
    out.push(Check {
        attr,
        field,
        values: side(values),
        not_values: side(not_values),
    });
}

fn strs(lower: bool) -> impl Fn(&[String]) -> Values {
    move |v| Values::Str(AnyOf::parse(v, lower))
}

fn source_checks(
    s: &Source,
    at: &str,
    cx: &RuleContext<'_>,
    errors: &mut Vec<String>,
) -> Vec<Check> {
    let mut out = Vec::new();
    let f = |name: &str| format!("{at}.{name}");
    let principals = |v: &[String]| Values::Str(AnyOf::parse(&with_aliases(v, cx), false));
    push(
        &mut out,
        Attr::Principal,
        f("principals"),
        &s.principals,
        &s.not_principals,
        principals,
    );
    push(
        &mut out,
        Attr::RequestPrincipal,
        f("requestPrincipals"),
        &s.request_principals,
        &s.not_request_principals,
        request_principals,
    );
    push(
        &mut out,
        Attr::Namespace,
        f("namespaces"),
        &s.namespaces,
        &s.not_namespaces,
        strs(false),
    );
    let sa = |v: &[String]| service_accounts(v, cx.namespace);
    push(
        &mut out,
        Attr::ServiceAccount,
        f("serviceAccounts"),
        &s.service_accounts,
        &s.not_service_accounts,
        sa,
    );
    let td = |v: &[String]| trust_domains(v, cx);
    push(
        &mut out,
        Attr::TrustDomain,
        f("trustDomains"),
        &s.trust_domains,
        &s.not_trust_domains,
        td,
    );
    for (attr, name, vals, nots) in [
        (Attr::SourceIp, "ipBlocks", &s.ip_blocks, &s.not_ip_blocks),
        (
            Attr::RemoteIp,
            "remoteIpBlocks",
            &s.remote_ip_blocks,
            &s.not_remote_ip_blocks,
        ),
    ] {
        for v in vals.iter().chain(nots) {
            if IpSet::parse(std::slice::from_ref(v)).is_err() {
                errors.push(format!(
                    "{}: {v:?} is not an address or CIDR block",
                    f(name)
                ));
            }
        }
        push(&mut out, attr, f(name), vals, nots, |v| {
            Values::Ip(IpSet::parse(v).unwrap_or_default())
        });
    }
    out
}

fn operation_checks(o: &Operation, at: &str) -> Vec<Check> {
    let mut out = Vec::new();
    let f = |name: &str| format!("{at}.{name}");
    push(
        &mut out,
        Attr::Host,
        f("hosts"),
        &o.hosts,
        &o.not_hosts,
        strs(true),
    );
    push(
        &mut out,
        Attr::DestinationPort,
        f("ports"),
        &o.ports,
        &o.not_ports,
        ports,
    );
    push(
        &mut out,
        Attr::Method,
        f("methods"),
        &o.methods,
        &o.not_methods,
        strs(false),
    );
    push(
        &mut out,
        Attr::Path,
        f("paths"),
        &o.paths,
        &o.not_paths,
        |v| Values::Path(v.iter().map(|p| PathMatch::parse(p)).collect()),
    );
    out
}

/// Compiles one side of a condition's values.
type Compile = Box<dyn Fn(&[String]) -> Values>;

fn condition(
    key: &str,
    values: &[String],
    not_values: &[String],
    field: String,
    cx: &RuleContext<'_>,
) -> Result<Check, String> {
    use ConditionKey as K;
    let kind = condition_key_kind(key)?;
    let mut out = Vec::new();
    let ips = |v: &[String]| Values::Ip(IpSet::parse(v).unwrap_or_default());
    let (attr, compile): (Attr, Compile) = match kind {
        K::RequestHeader(name) => (
            Attr::Header(name.to_ascii_lowercase()),
            Box::new(strs(false)),
        ),
        K::SourceIp => (Attr::SourceIp, Box::new(ips)),
        K::RemoteIp => (Attr::RemoteIp, Box::new(ips)),
        K::DestinationIp => (Attr::DestinationIp, Box::new(ips)),
        K::SourceNamespace => (Attr::Namespace, Box::new(strs(false))),
        K::SourceServiceAccount => {
            let ns = cx.namespace.to_string();
            (
                Attr::ServiceAccount,
                Box::new(move |v: &[String]| service_accounts(v, &ns)),
            )
        }
        K::SourcePrincipal => {
            let tds = cx.trust_domains.to_vec();
            (
                Attr::Principal,
                Box::new(move |v: &[String]| {
                    let cx = RuleContext {
                        namespace: "",
                        trust_domains: &tds,
                    };
                    Values::Str(AnyOf::parse(&with_aliases(v, &cx), false))
                }),
            )
        }
        K::SourceTrustDomain => {
            let tds = cx.trust_domains.to_vec();
            (
                Attr::TrustDomain,
                Box::new(move |v: &[String]| {
                    trust_domains(
                        v,
                        &RuleContext {
                            namespace: "",
                            trust_domains: &tds,
                        },
                    )
                }),
            )
        }
        K::RequestPrincipal => (Attr::RequestPrincipal, Box::new(request_principals)),
        K::RequestAudiences => (Attr::Audiences, Box::new(strs(false))),
        K::RequestPresenter => (Attr::Presenter, Box::new(strs(false))),
        K::RequestClaim(inner) => (Attr::Claim(claim_path(&inner)?), Box::new(strs(false))),
        K::DestinationPort => (Attr::DestinationPort, Box::new(ports)),
        K::ConnectionSni => (Attr::Sni, Box::new(strs(false))),
        K::Experimental(_) => (Attr::Unsupported, Box::new(strs(false))),
    };
    if matches!(attr, Attr::SourceIp | Attr::RemoteIp | Attr::DestinationIp) {
        if let Some(bad) = values
            .iter()
            .chain(not_values)
            .find(|v| IpSet::parse(std::slice::from_ref(v)).is_err())
        {
            return Err(format!("{bad:?} is not an address or CIDR block"));
        }
    }
    if values.is_empty() && not_values.is_empty() {
        return Err(format!("{key} has no values"));
    }
    push(&mut out, attr, field, values, not_values, compile);
    out.pop().ok_or_else(|| format!("{key} has no values"))
}

/// `a][b` (the inside of `request.auth.claims[a][b]`) → `["a", "b"]`.
fn claim_path(inner: &str) -> Result<Vec<String>, String> {
    let parts: Vec<String> = inner.split("][").map(str::to_string).collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || p.contains('[') || p.contains(']'))
    {
        return Err(format!("invalid claim path [{inner}]"));
    }
    Ok(parts)
}

/// Port strings; a value that is not a port can never match.
fn ports(v: &[String]) -> Values {
    Values::Port(v.iter().filter_map(|p| p.parse::<u16>().ok()).collect())
}

fn service_accounts(v: &[String], default_ns: &str) -> Values {
    Values::ServiceAccount(
        v.iter()
            .map(|s| match s.split_once('/') {
                Some((ns, sa)) => (ns.to_string(), sa.to_string()),
                None => (default_ns.to_string(), s.clone()),
            })
            .collect(),
    )
}

fn trust_domains(v: &[String], cx: &RuleContext<'_>) -> Values {
    let mut expanded: Vec<String> = Vec::new();
    for td in v {
        if cx.trust_domains.contains(td) {
            expanded.extend(cx.trust_domains.iter().cloned());
        } else {
            expanded.push(td.clone());
        }
    }
    Values::TrustDomain(
        expanded
            .iter()
            .map(|td| match td.split_once('*') {
                Some((pre, post)) => (pre.to_string(), Some(post.to_string())),
                None => (td.clone(), None),
            })
            .collect(),
    )
}

/// Istio's trust-domain migration: a principal naming this mesh's trust domain, one of its
/// aliases or `cluster.local` is accepted under every one of them.
fn with_aliases(v: &[String], cx: &RuleContext<'_>) -> Vec<String> {
    let mut out = Vec::with_capacity(v.len());
    for p in v {
        let parts: Vec<&str> = p.split('/').collect();
        let own = parts.len() == 5
            && parts[0] != "*"
            && (parts[0] == "cluster.local" || cx.trust_domains.iter().any(|t| t == parts[0]));
        if own && !cx.trust_domains.is_empty() {
            for td in cx.trust_domains {
                let q = format!("{td}/{}", parts[1..].join("/"));
                if !out.contains(&q) {
                    out.push(q);
                }
            }
        } else {
            out.push(p.clone());
        }
    }
    out
}

/// `iss/sub` with Istio's wildcards: `*`, `*/sub`, `iss/*`, `*suffix`, `prefix*`.
fn request_principals(v: &[String]) -> Values {
    let exact = |s: &str| Some(StrMatch::Exact(s.into()));
    Values::RequestPrincipal(
        v.iter()
            .map(|value| {
                let split = value.rsplit_once('/');
                if value == "*" {
                    return (None, None);
                }
                if let Some(rest) = value.strip_prefix('*') {
                    return match split {
                        Some(("*", sub)) => (None, exact(sub)),
                        Some((iss, sub)) => {
                            let iss = iss.strip_prefix('*').unwrap_or(iss);
                            (Some(StrMatch::Suffix(iss.into())), exact(sub))
                        }
                        None => (None, Some(StrMatch::Suffix(rest.into()))),
                    };
                }
                if let Some(rest) = value.strip_suffix('*') {
                    return match split {
                        Some((iss, "*")) => (exact(iss), None),
                        Some((iss, sub)) => (
                            exact(iss),
                            Some(StrMatch::Prefix(sub[..sub.len() - 1].into())),
                        ),
                        None => (Some(StrMatch::Prefix(rest.into())), None),
                    };
                }
                match split {
                    Some((iss, sub)) => (exact(iss), exact(sub)),
                    None => (exact(value), exact("")),
                }
            })
            .collect(),
    )
}
