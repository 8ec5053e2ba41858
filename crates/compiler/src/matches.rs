//! VirtualService match conditions for one proxy and one service port. Conditions about the
//! caller (sourceLabels, sourceNamespace, gateways) and the port are decided here, at compile
//! time, against this proxy: a match that cannot hold is dropped, and a rule whose matches are
//! all dropped is dropped. What is left are request conditions the proxy evaluates.

use crate::scope::Viewer;
use std::collections::BTreeMap;
use verimesh_analyze::hosts::selector_matches;
use verimesh_config::networking::{HttpMatchRequest, L4MatchAttributes, StringMatch as IstioMatch};
use verimesh_model::{HeaderMatch, HttpMatch, StringMatch};

const MESH_GATEWAY: &str = "mesh";

pub(crate) fn string_match(m: &IstioMatch) -> Option<StringMatch> {
    if let Some(e) = &m.exact {
        Some(StringMatch::Exact(e.clone()))
    } else if let Some(p) = &m.prefix {
        Some(StringMatch::Prefix(p.clone()))
    } else {
        m.regex.as_ref().map(|r| StringMatch::Regex(r.clone()))
    }
}

fn caller_matches(
    v: Viewer<'_>,
    port: u16,
    want_port: Option<u32>,
    source_labels: &BTreeMap<String, String>,
    source_namespace: Option<&str>,
    gateways: &[String],
) -> bool {
    want_port.is_none_or(|p| p == u32::from(port))
        && selector_matches(source_labels, v.labels)
        && source_namespace
            .filter(|ns| !ns.is_empty())
            .is_none_or(|ns| ns == v.namespace)
        && match v.gateway {
            None => gateways.is_empty() || gateways.iter().any(|g| g == MESH_GATEWAY),
            // The VirtualService is bound to this gateway; a match naming gateways narrows
            // it (a short name is a Gateway of the VirtualService's namespace).
            Some(gw) => {
                gateways.is_empty()
                    || gateways.iter().any(|g| {
                        g == gw
                            || (!g.contains('/')
                                && gw.rsplit_once('/').is_some_and(|(_, n)| n == g))
                    })
            }
        }
}

fn header_matches(map: &BTreeMap<String, IstioMatch>, invert: bool) -> Vec<HeaderMatch> {
    map.iter()
        .map(|(name, m)| HeaderMatch {
            name: name.to_ascii_lowercase(),
            // An empty match (`{}`) tests presence only.
            value: string_match(m),
            invert,
        })
        .collect()
}

/// The match as the proxy evaluates it, or `None` when it cannot hold for this proxy and port.
pub(crate) fn http_match(
    m: &HttpMatchRequest,
    v: Viewer<'_>,
    port: u16,
    notes: &mut Vec<String>,
) -> Option<HttpMatch> {
    if !caller_matches(
        v,
        port,
        m.port,
        &m.source_labels,
        m.source_namespace.as_deref(),
        &m.gateways,
    ) {
        return None;
    }
    let mut headers = header_matches(&m.headers, false);
    headers.extend(header_matches(&m.without_headers, true));
    if let Some(scheme) = m.scheme.as_ref().and_then(string_match) {
        // The model has no scheme condition; the HTTP/2 pseudo-header carries it.
        headers.push(HeaderMatch {
            name: ":scheme".into(),
            value: Some(scheme),
            invert: false,
        });
        notes.push("match.scheme is compiled as a :scheme header match".into());
    }
    Some(HttpMatch {
        uri: m.uri.as_ref().and_then(string_match),
        ignore_uri_case: m.ignore_uri_case.unwrap_or(false),
        method: m.method.as_ref().and_then(string_match),
        authority: m.authority.as_ref().and_then(string_match),
        headers,
        query_params: m
            .query_params
            .iter()
            .map(|(name, m)| HeaderMatch {
                name: name.clone(),
                value: string_match(m),
                invert: false,
            })
            .collect(),
    })
}

/// The rule's matches for this proxy and port: `Some(vec![])` matches everything, `None` means
/// the rule does not apply.
pub(crate) fn http_matches(
    matches: &[HttpMatchRequest],
    v: Viewer<'_>,
    port: u16,
    notes: &mut Vec<String>,
) -> Option<Vec<HttpMatch>> {
    if matches.is_empty() {
        return Some(Vec::new());
    }
    let kept: Vec<HttpMatch> = matches
        .iter()
        .filter_map(|m| http_match(m, v, port, notes))
        .collect();
    // A match with no request condition left makes the whole rule match everything.
    if kept.iter().any(|m| *m == HttpMatch::default()) {
        return Some(Vec::new());
    }
    (!kept.is_empty()).then_some(kept)
}

/// Whether a TCP rule applies to this proxy and port (TCP routes carry no run-time matches).
pub(crate) fn tcp_applies(
    matches: &[L4MatchAttributes],
    v: Viewer<'_>,
    port: u16,
    notes: &mut Vec<String>,
) -> bool {
    matches.is_empty()
        || matches.iter().any(|m| {
            if !m.destination_subnets.is_empty() || m.source_subnet.is_some() {
                notes.push("tcp match destinationSubnets/sourceSubnet are not supported; the condition is ignored".into());
            }
            caller_matches(
                v,
                port,
                m.port,
                &m.source_labels,
                m.source_namespace.as_deref(),
                &m.gateways,
            )
        })
}
