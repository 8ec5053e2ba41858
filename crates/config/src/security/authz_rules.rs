//! The rules an AuthorizationPolicy must follow: scope, action and provider, and each rule's
//! sources, operations and conditions.

use super::authorization_policy::{
    Action, AuthorizationPolicy, Condition, Operation, Rule, Source,
};
use super::target::validate_scope;
use crate::validate::security_common as sc;
use crate::validate::{common, Context, Findings};
use crate::yaml::FieldPath;

const DRY_RUN_ANNOTATION: &str = "istio.io/dry-run";

/// The request attributes a `when` condition can test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConditionKey {
    /// `request.headers[<name>]`
    RequestHeader(String),
    SourceIp,
    RemoteIp,
    SourceNamespace,
    SourceServiceAccount,
    SourcePrincipal,
    SourceTrustDomain,
    RequestPrincipal,
    RequestAudiences,
    RequestPresenter,
    /// `request.auth.claims[<claim>]`, nested claims as `[a][b]`; holds the bracketed part.
    RequestClaim(String),
    DestinationIp,
    DestinationPort,
    ConnectionSni,
    /// `experimental.envoy.filters.<filter>[<key>]`
    Experimental(String),
}

/// `prefix[inner]`: returns `inner` when the key has that shape with a non-empty inner part.
fn bracketed<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let inner = key
        .strip_prefix(prefix)?
        .strip_prefix('[')?
        .strip_suffix(']')?;
    (!inner.is_empty()).then_some(inner)
}

/// Classifies a condition key, or says why it is not one.
pub fn condition_key_kind(key: &str) -> Result<ConditionKey, String> {
    use ConditionKey as K;
    let simple =
        match key {
            "source.ip" => Some(K::SourceIp),
            "remote.ip" => Some(K::RemoteIp),
            "source.namespace" => Some(K::SourceNamespace),
            "source.serviceAccount" => Some(K::SourceServiceAccount),
            "source.principal" => Some(K::SourcePrincipal),
            "source.trustDomain" => Some(K::SourceTrustDomain),
            "request.auth.principal" => Some(K::RequestPrincipal),
            "request.auth.audiences" => Some(K::RequestAudiences),
            "request.auth.presenter" => Some(K::RequestPresenter),
            "destination.ip" => Some(K::DestinationIp),
            "destination.port" => Some(K::DestinationPort),
            "connection.sni" => Some(K::ConnectionSni),
            "destination.namespace" => return Err(
                "destination.namespace is not a condition: the policy's own namespace scopes it"
                    .into(),
            ),
            "destination.name" | "destination.user" => {
                return Err(format!(
                    "{key} is no longer supported (it was removed with v1alpha1 policies)"
                ))
            }
            _ => None,
        };
    if let Some(k) = simple {
        return Ok(k);
    }
    let map_key = |prefix: &str, make: fn(String) -> ConditionKey| {
        bracketed(key, prefix)
            .map(|inner| make(inner.to_string()))
            .ok_or_else(|| format!("{key:?} must have the form {prefix}[name]"))
    };
    if key.starts_with("request.headers") {
        return map_key("request.headers", K::RequestHeader);
    }
    if key.starts_with("request.auth.claims") {
        return map_key("request.auth.claims", K::RequestClaim);
    }
    if key.starts_with("destination.labels") {
        return Err("destination.labels is not a condition: use the policy's selector".into());
    }
    if let Some(rest) = key.strip_prefix("experimental.envoy.filters.") {
        let ok = rest
            .find('[')
            .is_some_and(|open| open > 0 && rest.ends_with(']') && open + 2 < rest.len());
        return if ok {
            Ok(K::Experimental(rest.to_string()))
        } else {
            Err(format!(
                "{key:?} must have the form experimental.envoy.filters.<filter>[key]"
            ))
        };
    }
    Err(format!(
        "unknown condition key {key:?}: expected one of request.headers[...], source.ip, remote.ip, source.namespace, source.serviceAccount, source.principal, source.trustDomain, request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[...], destination.ip, destination.port, connection.sni, experimental.envoy.filters.*"
    ))
}

pub(super) fn validate_policy(
    p: &AuthorizationPolicy,
    cx: &Context<'_>,
    at: &FieldPath,
    out: &mut Findings,
) {
    validate_scope(
        p.selector.as_ref(),
        p.target_ref.as_ref(),
        &p.target_refs,
        at,
        out,
    );
    let action = p.action();
    match (action, &p.provider) {
        (Action::Custom, None) => {
            out.error(&at.field("provider"), "the CUSTOM action needs a provider: name one of the mesh config's extensionProviders")
        }
        (Action::Custom, Some(pr)) if pr.name.is_empty() => {
            out.error(&at.field("provider").field("name"), "the provider name must not be empty")
        }
        (Action::Custom, Some(_)) => {}
        (_, Some(_)) => out.error(
            &at.field("provider"),
            format!("a provider is only used with the CUSTOM action, not {action:?}; set action: CUSTOM or remove it"),
        ),
        (_, None) => {}
    }
    if matches!(action, Action::Deny | Action::Custom) && p.rules.is_empty() {
        out.error(
            &at.field("rules"),
            "a DENY or CUSTOM policy without rules never applies; add an empty rule `{}` to match every request",
        );
    }
    if let Some(v) = cx.meta.annotations.get(DRY_RUN_ANNOTATION) {
        let ann = FieldPath::root()
            .field("metadata")
            .field("annotations")
            .field(DRY_RUN_ANNOTATION);
        if !matches!(action, Action::Allow | Action::Deny) {
            out.error(
                &ann,
                "dry-run is only supported for ALLOW and DENY policies",
            );
        } else if !matches!(
            v.as_str(),
            "true"
                | "false"
                | "True"
                | "False"
                | "TRUE"
                | "FALSE"
                | "1"
                | "0"
                | "t"
                | "f"
                | "T"
                | "F"
        ) {
            out.error(&ann, format!("{v:?} is not a boolean (true or false)"));
        }
    }
    for (i, rule) in p.rules.iter().enumerate() {
        validate_rule(rule, action, &at.field("rules").index(i), out);
    }
}

fn validate_rule(rule: &Rule, action: Action, at: &FieldPath, out: &mut Findings) {
    let mut tcp_in_from = false;
    let mut has_source = false;
    for (i, from) in rule.from.iter().enumerate() {
        let p = at.field("from").index(i);
        match &from.source {
            None => out.error(&p.field("source"), "each `from` entry needs a source"),
            Some(src) => {
                has_source = true;
                tcp_in_from |= src.has_tcp_attributes();
                validate_source(src, action, &p.field("source"), out);
            }
        }
    }
    let mut tcp_in_to = false;
    let mut has_operation = false;
    for (i, to) in rule.to.iter().enumerate() {
        let p = at.field("to").index(i);
        match &to.operation {
            None => out.error(&p.field("operation"), "each `to` entry needs an operation"),
            Some(op) => {
                has_operation = true;
                tcp_in_to |= !op.ports.is_empty() || !op.not_ports.is_empty();
                validate_operation(op, &p.field("operation"), out);
            }
        }
    }
    for (i, c) in rule.when.iter().enumerate() {
        validate_condition(c, action, &at.field("when").index(i), out);
    }
    let http_only = (has_source && !has_operation && !tcp_in_from) || (has_operation && !tcp_in_to);
    if action == Action::Deny && http_only {
        out.warning(
            at,
            "this DENY rule uses only HTTP attributes, so it denies all traffic on TCP ports in its scope; name the ports explicitly",
        );
    }
}

fn validate_source(src: &Source, action: Action, at: &FieldPath, out: &mut Findings) {
    if src.is_empty() {
        out.error(at, "the source must not be empty: set at least one field");
        return;
    }
    let by_identity = !(src.principals.is_empty()
        && src.not_principals.is_empty()
        && src.namespaces.is_empty()
        && src.not_namespaces.is_empty());
    if by_identity && !(src.service_accounts.is_empty() && src.not_service_accounts.is_empty()) {
        let f = if src.service_accounts.is_empty() {
            "notServiceAccounts"
        } else {
            "serviceAccounts"
        };
        out.error(
            &at.field(f),
            "serviceAccounts cannot be combined with principals or namespaces",
        );
    }
    for (field, values) in [
        ("principals", &src.principals),
        ("notPrincipals", &src.not_principals),
        ("requestPrincipals", &src.request_principals),
        ("notRequestPrincipals", &src.not_request_principals),
        ("namespaces", &src.namespaces),
        ("notNamespaces", &src.not_namespaces),
    ] {
        sc::check_each(values, &at.field(field), out, sc::validate_wildcard_value);
    }
    for (field, values) in [
        ("serviceAccounts", &src.service_accounts),
        ("notServiceAccounts", &src.not_service_accounts),
    ] {
        if values.len() > 16 {
            out.error(
                &at.field(field),
                "at most 16 service accounts may be listed",
            );
        }
        sc::check_each(values, &at.field(field), out, sc::validate_service_account);
    }
    for (field, values) in [
        ("trustDomains", &src.trust_domains),
        ("notTrustDomains", &src.not_trust_domains),
    ] {
        sc::check_each(
            values,
            &at.field(field),
            out,
            sc::validate_trust_domain_value,
        );
    }
    for (field, values) in [
        ("ipBlocks", &src.ip_blocks),
        ("notIpBlocks", &src.not_ip_blocks),
        ("remoteIpBlocks", &src.remote_ip_blocks),
        ("notRemoteIpBlocks", &src.not_remote_ip_blocks),
    ] {
        sc::check_each(values, &at.field(field), out, common::validate_ip_or_cidr);
    }
    if action == Action::Custom {
        for (field, values) in [
            ("principals", &src.principals),
            ("notPrincipals", &src.not_principals),
            ("requestPrincipals", &src.request_principals),
            ("notRequestPrincipals", &src.not_request_principals),
            ("namespaces", &src.namespaces),
            ("notNamespaces", &src.not_namespaces),
            ("serviceAccounts", &src.service_accounts),
            ("notServiceAccounts", &src.not_service_accounts),
            ("trustDomains", &src.trust_domains),
            ("notTrustDomains", &src.not_trust_domains),
        ] {
            if !values.is_empty() {
                out.error(
                    &at.field(field),
                    format!("{field} is not supported with the CUSTOM action (only IP blocks are)"),
                );
            }
        }
    }
}

fn validate_operation(op: &Operation, at: &FieldPath, out: &mut Findings) {
    if op.is_empty() {
        out.error(
            at,
            "the operation must not be empty: set at least one field",
        );
        return;
    }
    for (field, values) in [("hosts", &op.hosts), ("notHosts", &op.not_hosts)] {
        sc::check_each(values, &at.field(field), out, sc::validate_wildcard_value);
    }
    for (field, values) in [("ports", &op.ports), ("notPorts", &op.not_ports)] {
        sc::check_each(values, &at.field(field), out, sc::validate_port_string);
    }
    for (field, values) in [("methods", &op.methods), ("notMethods", &op.not_methods)] {
        for (i, m) in values.iter().enumerate() {
            match sc::validate_method(m) {
                Ok(()) => {}
                Err(e) if m.is_empty() => out.error(&at.field(field).index(i), e),
                Err(e) => out.warning(&at.field(field).index(i), e),
            }
        }
    }
    for (field, values) in [("paths", &op.paths), ("notPaths", &op.not_paths)] {
        sc::check_each(values, &at.field(field), out, sc::validate_authz_path);
    }
}

fn validate_condition(c: &Condition, action: Action, at: &FieldPath, out: &mut Findings) {
    if c.key.is_empty() {
        out.error(&at.field("key"), "the condition key is required");
        return;
    }
    let kind = match condition_key_kind(&c.key) {
        Ok(k) => k,
        Err(e) => {
            out.error(&at.field("key"), e);
            return;
        }
    };
    if c.values.is_empty() && c.not_values.is_empty() {
        out.error(
            at,
            format!("the condition on {} needs values or notValues", c.key),
        );
    }
    if action == Action::Custom
        && (matches!(
            kind,
            ConditionKey::SourceNamespace
                | ConditionKey::SourceServiceAccount
                | ConditionKey::SourceTrustDomain
                | ConditionKey::SourcePrincipal
        ) || c.key.starts_with("request.auth."))
    {
        out.error(
            &at.field("key"),
            format!("{} is not supported with the CUSTOM action", c.key),
        );
    }
    let check: fn(&str) -> Result<(), String> = match kind {
        ConditionKey::SourceIp | ConditionKey::RemoteIp | ConditionKey::DestinationIp => {
            common::validate_ip_or_cidr
        }
        ConditionKey::DestinationPort => sc::validate_port_string,
        ConditionKey::SourceServiceAccount => sc::validate_service_account,
        ConditionKey::SourceTrustDomain => sc::validate_wildcard_value,
        _ => |v: &str| {
            if v.is_empty() {
                Err("empty values are not allowed".to_string())
            } else {
                Ok(())
            }
        },
    };
    sc::check_each(&c.values, &at.field("values"), out, check);
    sc::check_each(&c.not_values, &at.field("notValues"), out, check);
}
