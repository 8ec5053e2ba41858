//! Kubernetes Gateway API on a gateway Istio deploys for a `Gateway` of class `istio`: the
//! instance labelled `gateway.networking.k8s.io/gateway-name: NAME` serves that Gateway's
//! listeners, and the HTTPRoutes whose `parentRefs` name it (and, with `sectionName` or
//! `port`, the listener) become its virtual hosts. Semantics are Gateway API's as Istio
//! implements them: `PathPrefix` matches whole path segments, a rule without matches is
//! `PathPrefix /`, a backend's weight defaults to 1, no valid backend answers 500, listener
//! `allowedRoutes` defaults to the Gateway's namespace, redirects default to 302.

use crate::compiler::Compiler;
use crate::gateway::{add_routes, intersection};
use crate::placement::Instance;
use crate::routes::{retries, Resolver};
use crate::unit::UnitResolver;
use std::collections::BTreeMap;
use verimesh_config::gateway_api::{
    parse_gateway_duration, FilterType, HeaderModifier, HttpRoute as ApiRoute, HttpRouteMatch,
    HttpRouteRule, KubernetesGateway, Listener, PathMatchType, PathModifierType, ValueMatchType,
};
use verimesh_config::networking::{Destination, PortSelector};
use verimesh_model::{
    GatewayListener, HeaderMatch, HeaderOps, HttpAction, HttpMatch, HttpRoute, ListenerProtocol,
    Redirect, Rewrite, ServerTls, ServerTlsMode, StringMatch, WeightedCluster,
};

/// The label Istio puts on the pods of the gateway it deploys for a Gateway.
pub const GATEWAY_NAME_LABEL: &str = verimesh_policy::scope::GATEWAY_NAME_LABEL;
/// The GatewayClass whose Gateways Istio (and `verimesh up`) deploys.
pub const ISTIO_CLASS: &str = "istio";

/// The header a Gateway API header match names, lower-cased.
fn value_match(kind: Option<ValueMatchType>, value: &str) -> StringMatch {
    match kind.unwrap_or_default() {
        ValueMatchType::Exact => StringMatch::Exact(value.to_string()),
        ValueMatchType::RegularExpression => StringMatch::Regex(value.to_string()),
    }
}

/// One Gateway API match as the proxy's matches: a `PathPrefix` that is not `/` matches the
/// prefix as a whole segment, i.e. the path itself or anything under `prefix/`.
fn matches_of(m: &HttpRouteMatch) -> Vec<HttpMatch> {
    let headers: Vec<HeaderMatch> = m
        .headers
        .iter()
        .map(|h| HeaderMatch {
            name: h.name.to_ascii_lowercase(),
            value: Some(value_match(h.type_, &h.value)),
            invert: false,
        })
        .collect();
    let query_params: Vec<HeaderMatch> = m
        .query_params
        .iter()
        .map(|q| HeaderMatch {
            name: q.name.clone(),
            value: Some(value_match(q.type_, &q.value)),
            invert: false,
        })
        .collect();
    let method = m
        .method
        .and_then(|x| serde_json::to_value(x).ok())
        .and_then(|v| v.as_str().map(|s| StringMatch::Exact(s.to_string())));
    let base = HttpMatch {
        method,
        headers,
        query_params,
        ..Default::default()
    };
    let path = m.path.as_ref();
    let value = path
        .and_then(|p| p.value.clone())
        .unwrap_or_else(|| "/".to_string());
    let uris = match path.and_then(|p| p.type_).unwrap_or_default() {
        PathMatchType::Exact => vec![StringMatch::Exact(value)],
        PathMatchType::RegularExpression => vec![StringMatch::Regex(value)],
        PathMatchType::PathPrefix => {
            let trimmed = value.trim_end_matches('/');
            if trimmed.is_empty() {
                vec![StringMatch::Prefix("/".into())]
            } else {
                vec![
                    StringMatch::Exact(trimmed.to_string()),
                    StringMatch::Prefix(format!("{trimmed}/")),
                ]
            }
        }
    };
    uris.into_iter()
        .map(|u| HttpMatch {
            uri: Some(u),
            ..base.clone()
        })
        .collect()
}

fn header_ops(m: Option<&HeaderModifier>) -> Option<HeaderOps> {
    let m = m?;
    let pairs = |v: &[verimesh_config::gateway_api::HttpHeader]| {
        v.iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.clone()))
            .collect()
    };
    Some(HeaderOps {
        set: pairs(&m.set),
        add: pairs(&m.add),
        remove: m.remove.iter().map(|h| h.to_ascii_lowercase()).collect(),
    })
}

/// Whether a listener admits routes from `route_ns` (`allowedRoutes.namespaces.from`).
fn admits(listener: &Listener, gateway_ns: &str, route_ns: &str, notes: &mut Vec<String>) -> bool {
    let from = listener
        .allowed_routes
        .as_ref()
        .and_then(|a| a.namespaces.as_ref())
        .and_then(|n| n.from.as_deref())
        .unwrap_or("Same");
    match from {
        "All" => true,
        "Same" => gateway_ns == route_ns,
        other => {
            notes.push(format!(
                "listener {}: allowedRoutes from {other} is not supported; only routes of the Gateway's namespace attach",
                listener.name
            ));
            gateway_ns == route_ns
        }
    }
}

/// Whether a route's parentRef names this Gateway and listener.
fn attaches(route: &ApiRoute, route_ns: &str, gw_ns: &str, gw_name: &str, l: &Listener) -> bool {
    route.parent_refs.iter().any(|p| {
        let group_ok = p
            .group
            .as_deref()
            .is_none_or(|g| g == "gateway.networking.k8s.io");
        let kind_ok = p.kind.as_deref().is_none_or(|k| k == "Gateway");
        group_ok
            && kind_ok
            && p.name == gw_name
            && p.namespace.as_deref().unwrap_or(route_ns) == gw_ns
            && p.section_name.as_deref().is_none_or(|s| s == l.name)
            && p.port.is_none_or(|port| port == l.port)
    })
}

impl Compiler<'_> {
    /// The listeners of the Gateway API Gateway this instance was deployed for, if any.
    pub(crate) fn gateway_api_listeners(
        &self,
        inst: &Instance,
        resolver: &mut UnitResolver<'_, '_>,
        notes: &mut Vec<String>,
    ) -> Vec<GatewayListener> {
        let Some(name) = inst.labels.get(GATEWAY_NAME_LABEL) else {
            return Vec::new();
        };
        let Some(gw) = self
            .ix
            .kubernetes_gateways
            .iter()
            .find(|g| g.namespace == inst.namespace && &g.name == name)
        else {
            return Vec::new();
        };
        let mut out: BTreeMap<u16, GatewayListener> = BTreeMap::new();
        for l in &gw.spec.listeners {
            let Ok(port) = u16::try_from(l.port) else {
                continue;
            };
            let protocol = match l.protocol.as_str() {
                "HTTP" => ListenerProtocol::Http,
                "HTTPS" => ListenerProtocol::Https,
                other => {
                    notes.push(format!("Gateway {}/{}: listener {}: protocol {other} is not supported yet; not served", gw.namespace, gw.name, l.name));
                    continue;
                }
            };
            let hostname = l.hostname.as_deref().unwrap_or("*").to_ascii_lowercase();
            let tls = match protocol {
                ListenerProtocol::Http => None,
                ListenerProtocol::Https => match self.listener_tls(gw, l, &hostname, notes) {
                    Some(t) => Some(t),
                    None => continue,
                },
            };
            let entry = out.entry(port).or_insert_with(|| GatewayListener {
                port,
                protocol,
                ..Default::default()
            });
            if entry.protocol != protocol {
                notes.push(format!("Gateway {}/{}: port {port} has listeners of two protocols; listener {} is not served", gw.namespace, gw.name, l.name));
                continue;
            }
            entry.tls.extend(tls);
            for route in &self.ix.http_routes {
                if !attaches(route.spec, &route.namespace, &gw.namespace, &gw.name, l)
                    || !admits(l, &gw.namespace, &route.namespace, notes)
                {
                    continue;
                }
                let mut domains: Vec<String> = Vec::new();
                if route.spec.hostnames.is_empty() {
                    domains.push(hostname.clone());
                }
                for h in &route.spec.hostnames {
                    if let Some(d) = intersection(&h.to_ascii_lowercase(), &hostname) {
                        if !domains.contains(&d) {
                            domains.push(d);
                        }
                    }
                }
                if domains.is_empty() {
                    continue;
                }
                let routes: Vec<HttpRoute> = route
                    .spec
                    .rules
                    .iter()
                    .enumerate()
                    .map(|(i, rule)| {
                        self.api_rule(
                            rule,
                            &route.namespace,
                            &route.name,
                            i,
                            port,
                            resolver,
                            notes,
                        )
                    })
                    .collect();
                let name = format!("{}/{}", route.namespace, route.name);
                add_routes(&mut entry.virtual_hosts, &name, domains, &routes);
            }
        }
        out.into_values().collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn api_rule(
        &self,
        rule: &HttpRouteRule,
        ns: &str,
        name: &str,
        index: usize,
        port: u16,
        resolver: &mut UnitResolver<'_, '_>,
        notes: &mut Vec<String>,
    ) -> HttpRoute {
        let matches: Vec<HttpMatch> = if rule.matches.is_empty() {
            vec![HttpMatch {
                uri: Some(StringMatch::Prefix("/".into())),
                ..Default::default()
            }]
        } else {
            rule.matches.iter().flat_map(matches_of).collect()
        };
        let mut request_headers = None;
        let mut response_headers = None;
        let mut redirect = None;
        let mut rewrite = None;
        for f in &rule.filters {
            match f.type_ {
                FilterType::RequestHeaderModifier => {
                    request_headers = header_ops(f.request_header_modifier.as_ref())
                }
                FilterType::ResponseHeaderModifier => {
                    response_headers = header_ops(f.response_header_modifier.as_ref())
                }
                FilterType::RequestRedirect => {
                    redirect = f.request_redirect.as_ref().map(|r| Redirect {
                        uri: r.path.as_ref().and_then(|p| match p.type_ {
                            PathModifierType::ReplaceFullPath => p.replace_full_path.clone(),
                            PathModifierType::ReplacePrefixMatch => p.replace_prefix_match.clone(),
                        }),
                        authority: r.hostname.clone(),
                        scheme: r.scheme.clone(),
                        port: r.port.and_then(|p| u16::try_from(p).ok()),
                        status: r
                            .status_code
                            .and_then(|c| u16::try_from(c).ok())
                            .unwrap_or(302),
                    })
                }
                FilterType::UrlRewrite => {
                    rewrite = f.url_rewrite.as_ref().map(|r| Rewrite {
                        uri: r.path.as_ref().and_then(|p| match p.type_ {
                            PathModifierType::ReplaceFullPath => p.replace_full_path.clone(),
                            PathModifierType::ReplacePrefixMatch => p.replace_prefix_match.clone(),
                        }),
                        authority: r.hostname.clone(),
                    })
                }
                other => notes.push(format!(
                    "HTTPRoute {ns}/{name}: filter {other:?} is not supported yet; ignored"
                )),
            }
        }
        let action = match redirect {
            Some(r) => HttpAction::Redirect(r),
            None => {
                let clusters: Vec<WeightedCluster> = rule
                    .backend_refs
                    .iter()
                    .filter(|b| b.kind.as_deref().is_none_or(|k| k == "Service"))
                    .filter_map(|b| {
                        let weight = u32::try_from(b.weight.unwrap_or(1)).unwrap_or(0);
                        let dest = Destination {
                            host: match &b.namespace {
                                Some(other) => format!("{}.{other}.svc.cluster.local", b.name),
                                None => b.name.clone(),
                            },
                            subset: None,
                            port: b
                                .port
                                .and_then(|p| u32::try_from(p).ok())
                                .map(|n| PortSelector { number: Some(n) }),
                        };
                        (weight > 0).then(|| WeightedCluster {
                            cluster: resolver.cluster(ns, &dest, port),
                            weight,
                        })
                    })
                    .collect();
                if clusters.is_empty() {
                    // Gateway API: a rule with no usable backend answers 500.
                    HttpAction::DirectResponse {
                        status: 500,
                        body: String::new(),
                    }
                } else {
                    HttpAction::Route { clusters }
                }
            }
        };
        let routes_to_clusters = matches!(action, HttpAction::Route { .. });
        HttpRoute {
            name: match rule.name.as_deref() {
                Some(n) => format!("{ns}/{name}[{n}]"),
                None => format!("{ns}/{name}[{index}]"),
            },
            matches,
            action,
            timeout_ms: rule
                .timeouts
                .as_ref()
                .and_then(|t| t.request.as_deref())
                .and_then(parse_gateway_duration)
                .filter(|ms| *ms > 0),
            retries: if routes_to_clusters {
                retries(None)
            } else {
                None
            },
            rewrite,
            request_headers,
            response_headers,
        }
    }

    /// An HTTPS listener's certificate: its first `certificateRefs` Secret, in the
    /// Gateway's namespace.
    fn listener_tls(
        &self,
        gw: &crate::index::Scoped<'_, KubernetesGateway>,
        l: &Listener,
        hostname: &str,
        notes: &mut Vec<String>,
    ) -> Option<ServerTls> {
        let tls = l.tls.as_ref()?;
        if tls.mode.as_deref().is_some_and(|m| m != "Terminate") {
            notes.push(format!(
                "Gateway {}/{}: listener {}: TLS mode {:?} is not supported yet; not served",
                gw.namespace, gw.name, l.name, tls.mode
            ));
            return None;
        }
        let r = tls.certificate_refs.first()?;
        let ns = r.namespace.clone().unwrap_or_else(|| gw.namespace.clone());
        let text = |key: &str| self.secret_text(&ns, &r.name, &[key]);
        let (Some(cert), Some(key)) = (text("tls.crt"), text("tls.key")) else {
            notes.push(format!("Gateway {}/{}: listener {}: Secret {ns}/{} with tls.crt and tls.key not found; not served", gw.namespace, gw.name, l.name, r.name));
            return None;
        };
        Some(ServerTls {
            hosts: vec![hostname.to_string()],
            mode: ServerTlsMode::Simple,
            certificate_chain: cert,
            private_key: key,
            ca_certificates: None,
            source: format!("{ns}/{}", r.name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verimesh_config::gateway_api::HttpPathMatch;

    #[test]
    fn path_prefix_matches_whole_segments() {
        let m = HttpRouteMatch {
            path: Some(HttpPathMatch {
                type_: Some(PathMatchType::PathPrefix),
                value: Some("/api/".into()),
            }),
            ..Default::default()
        };
        let uris: Vec<_> = matches_of(&m).into_iter().filter_map(|m| m.uri).collect();
        assert_eq!(
            uris,
            [
                StringMatch::Exact("/api".into()),
                StringMatch::Prefix("/api/".into())
            ]
        );
    }
}
