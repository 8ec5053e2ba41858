//! One compiled check: an attribute, the values it must match and the values it must not,
//! and how it is evaluated against a request.

use crate::attrs::Attributes;
use crate::matcher::{AnyOf, IpSet, PathMatch, StrMatch};
use serde_json::Value;

/// The attribute a check reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Attr {
    Principal,
    RequestPrincipal,
    Namespace,
    ServiceAccount,
    TrustDomain,
    SourceIp,
    RemoteIp,
    DestinationIp,
    DestinationPort,
    Sni,
    Host,
    Method,
    Path,
    Header(String),
    Audiences,
    Presenter,
    /// `request.auth.claims[a][b]`: the claim path.
    Claim(Vec<String>),
    /// `experimental.envoy.filters.*`: Envoy metadata verimesh does not have.
    Unsupported,
}

impl Attr {
    /// Attributes only an HTTP request has.
    pub(crate) fn http_only(&self) -> bool {
        matches!(
            self,
            Attr::RequestPrincipal
                | Attr::Host
                | Attr::Method
                | Attr::Path
                | Attr::Header(_)
                | Attr::Audiences
                | Attr::Presenter
                | Attr::Claim(_)
        )
    }
}

/// Compiled values for one side (positive or negative) of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Values {
    Str(AnyOf),
    Path(Vec<PathMatch>),
    Ip(IpSet),
    Port(Vec<u16>),
    /// `(namespace, name)` pairs.
    ServiceAccount(Vec<(String, String)>),
    /// Trust-domain globs: text before and after one optional `*`.
    TrustDomain(Vec<(String, Option<String>)>),
    /// `(issuer, subject)` matchers; `None` matches any non-empty value.
    RequestPrincipal(Vec<(Option<StrMatch>, Option<StrMatch>)>),
}

/// How a repeated, caller-controlled attribute (a header sent several times) is judged:
/// every value on its own, and the answer that restricts most wins. ALLOW rules need every
/// value to pass; DENY, AUDIT and CUSTOM rules fire when any value does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strictness {
    AllValues,
    AnyValue,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Check {
    pub attr: Attr,
    /// Where the check came from, e.g. `from[0].source.principals`.
    pub field: String,
    pub values: Option<Values>,
    pub not_values: Option<Values>,
}

impl Check {
    pub(crate) fn eval(&self, a: &Attributes<'_>, strict: Strictness) -> bool {
        if let Attr::Header(name) = &self.attr {
            return self.eval_header(name, a, strict);
        }
        if self.attr == Attr::Unsupported {
            // Cannot be evaluated: an ALLOW rule never matches, other rules always do.
            return strict == Strictness::AnyValue;
        }
        let pos = self.values.as_ref().is_none_or(|v| self.side(v, a));
        pos && self.not_values.as_ref().is_none_or(|v| !self.side(v, a))
    }

    fn eval_header(&self, name: &str, a: &Attributes<'_>, strict: Strictness) -> bool {
        let Some(http) = a.http else { return false };
        let pos = |v: &str| self.values.as_ref().is_none_or(|m| str_values(m, v));
        let neg = |v: &str| self.not_values.as_ref().is_some_and(|m| str_values(m, v));
        // A field value `a, b` is also the list [a, b] to an application; each element is
        // judged on its own as well as the whole value.
        let mut values = http.header_values(name).peekable();
        if values.peek().is_none() {
            // A missing header fails a value match and passes a notValues-only check.
            return self.values.is_none();
        }
        match strict {
            // ALLOW: every value matches as a whole, and neither it nor any element is
            // excluded.
            Strictness::AllValues => values.all(|v| pos(v) && !candidates(v).any(neg)),
            // DENY and friends: any value or element that matches on its own fires.
            Strictness::AnyValue => values.any(|v| candidates(v).any(|c| pos(c) && !neg(c))),
        }
    }

    /// Whether the attribute matches any of `vals`. A missing attribute matches nothing.
    fn side(&self, vals: &Values, a: &Attributes<'_>) -> bool {
        let peer = a.conn.peer.as_ref();
        let http = a.http;
        let auth = a.auth;
        match (&self.attr, vals) {
            (Attr::Principal, Values::Str(m)) => peer.is_some_and(|p| m.matches(&p.principal)),
            (Attr::Namespace, Values::Str(m)) => {
                peer.is_some_and(|p| !p.namespace.is_empty() && m.matches(&p.namespace))
            }
            (Attr::ServiceAccount, Values::ServiceAccount(list)) => peer.is_some_and(|p| {
                list.iter()
                    .any(|(ns, sa)| p.namespace == *ns && p.service_account == *sa)
            }),
            (Attr::TrustDomain, Values::TrustDomain(list)) => peer.is_some_and(|p| {
                list.iter().any(|(pre, post)| match post {
                    None => p.trust_domain == *pre,
                    Some(post) => {
                        p.trust_domain.len() >= pre.len() + post.len()
                            && p.trust_domain.starts_with(pre.as_str())
                            && p.trust_domain.ends_with(post.as_str())
                    }
                })
            }),
            (Attr::SourceIp, Values::Ip(s)) => a.conn.source_ip.is_some_and(|ip| s.contains(ip)),
            (Attr::RemoteIp, Values::Ip(s)) => a.conn.remote_ip().is_some_and(|ip| s.contains(ip)),
            (Attr::DestinationIp, Values::Ip(s)) => {
                a.conn.destination_ip.is_some_and(|ip| s.contains(ip))
            }
            (Attr::DestinationPort, Values::Port(ports)) => {
                ports.contains(&a.conn.destination_port)
            }
            (Attr::Sni, Values::Str(m)) => a.conn.sni.as_deref().is_some_and(|s| m.matches(s)),
            (Attr::Host, Values::Str(m)) => http.is_some_and(|h| m.matches(&h.host)),
            (Attr::Method, Values::Str(m)) => http.is_some_and(|h| m.matches(&h.method)),
            (Attr::Path, Values::Path(list)) => {
                http.is_some_and(|h| list.iter().any(|p| p.matches(&h.path)))
            }
            (Attr::RequestPrincipal, Values::RequestPrincipal(list)) => auth.is_some_and(|t| {
                list.iter().any(|(iss, sub)| {
                    let ok = |m: &Option<StrMatch>, v: &str| match m {
                        Some(m) => m.matches(v),
                        None => !v.is_empty(),
                    };
                    ok(iss, &t.issuer) && ok(sub, &t.subject)
                })
            }),
            (Attr::Audiences, Values::Str(m)) => {
                auth.is_some_and(|t| t.audiences.iter().any(|v| m.matches(v)))
            }
            (Attr::Presenter, Values::Str(m)) => auth
                .and_then(|t| t.presenter.as_deref())
                .is_some_and(|v| m.matches(v)),
            (Attr::Claim(path), Values::Str(m)) => auth
                .and_then(|t| claim(&t.claims, path))
                .is_some_and(|v| claim_matches(v, m)),
            _ => false,
        }
    }
}

/// A header value and, when it holds commas, each of its trimmed elements.
fn candidates(v: &str) -> impl Iterator<Item = &str> {
    let parts = v.contains(',').then(|| v.split(',').map(str::trim));
    std::iter::once(v).chain(parts.into_iter().flatten())
}

fn str_values(vals: &Values, v: &str) -> bool {
    match vals {
        Values::Str(m) => m.matches(v),
        _ => false,
    }
}

/// Follows a nested claim path through objects.
pub(crate) fn claim<'v>(claims: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(claims, |v, key| v.get(key.as_str()))
}

/// A string claim matches as itself; a list matches when any string element does. Other
/// types (numbers, booleans, objects) never match, as in Istio.
fn claim_matches(v: &Value, m: &AnyOf) -> bool {
    match v {
        Value::String(s) => m.matches(s),
        Value::Array(items) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|s| m.matches(s))),
        _ => false,
    }
}
