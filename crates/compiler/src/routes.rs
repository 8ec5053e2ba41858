//! VirtualService rules compiled into a service port's routes, in order: HTTP rules into
//! `HttpRoute`s (matches, weighted destinations, redirect, direct response, rewrite, timeout,
//! retries, header operations) and TCP rules into `TcpRoute`s. Destinations become cluster
//! names through a resolver that also records destinations that do not exist.

use crate::matches::{http_matches, tcp_applies};
use crate::scope::Viewer;
use verimesh_config::networking::{
    Destination, HeaderOperations, HttpRetry, HttpRoute as IstioHttpRoute, VirtualService,
};
use verimesh_model::{
    HeaderOps, HttpAction, HttpRoute, Redirect, Retries, Rewrite, TcpRoute, WeightedCluster,
};

/// Turns a destination into a cluster name (recording a missing cluster when it names no
/// existing host, port or subset). `port` is the service port being compiled.
pub(crate) trait Resolver {
    fn cluster(&mut self, vs_namespace: &str, dest: &Destination, port: u16) -> String;
}

/// Istio's retry policy for routes that set none: 2 attempts on connection failures, refused
/// streams, gRPC unavailable/cancelled, and 503.
pub(crate) fn default_retries() -> Retries {
    Retries {
        attempts: 2,
        per_try_timeout_ms: None,
        retry_on: [
            "connect-failure",
            "refused-stream",
            "unavailable",
            "cancelled",
            "retriable-status-codes",
        ]
        .map(String::from)
        .to_vec(),
        retriable_status_codes: vec![503],
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Istio's conversion: no policy → the default; attempts 0 → no retries; otherwise the default
/// with the given attempts, and `retryOn` (numbers in it are status codes) replacing its
/// conditions when given.
pub(crate) fn retries(r: Option<&HttpRetry>) -> Option<Retries> {
    let Some(r) = r else {
        return Some(default_retries());
    };
    let attempts = u32::try_from(r.attempts.unwrap_or(0))
        .ok()
        .filter(|a| *a > 0)?;
    let mut out = default_retries();
    out.attempts = attempts;
    if let Some(on) = r.retry_on.as_deref().filter(|s| !s.trim().is_empty()) {
        out.retry_on.clear();
        out.retriable_status_codes.clear();
        for item in on.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.parse::<u16>() {
                Ok(code) => out.retriable_status_codes.push(code),
                Err(_) => out.retry_on.push(item.to_string()),
            }
        }
        if !out.retriable_status_codes.is_empty()
            && !out.retry_on.iter().any(|c| c == "retriable-status-codes")
        {
            out.retry_on.push("retriable-status-codes".into());
        }
    }
    out.per_try_timeout_ms = r.per_try_timeout.map(|d| millis(d.as_std()));
    Some(out)
}

fn header_ops(ops: Option<&HeaderOperations>) -> Option<HeaderOps> {
    let ops = ops?;
    let pairs = |m: &std::collections::BTreeMap<String, String>| {
        m.iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect()
    };
    Some(HeaderOps {
        set: pairs(&ops.set),
        add: pairs(&ops.add),
        remove: ops.remove.iter().map(|h| h.to_ascii_lowercase()).collect(),
    })
}

fn action(
    rule: &IstioHttpRoute,
    vs_ns: &str,
    port: u16,
    resolver: &mut dyn Resolver,
    notes: &mut Vec<String>,
) -> Option<HttpAction> {
    if let Some(r) = &rule.redirect {
        if r.prefix_rewrite.is_some() || r.derive_port.is_some() {
            notes.push("redirect.prefixRewrite/derivePort are not supported; ignored".into());
        }
        return Some(HttpAction::Redirect(Redirect {
            uri: r.uri.clone().filter(|u| !u.is_empty()),
            authority: r.authority.clone().filter(|a| !a.is_empty()),
            scheme: r.scheme.clone().filter(|s| !s.is_empty()),
            port: r
                .port
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0),
            status: r
                .redirect_code
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| *c != 0)
                .unwrap_or(301),
        }));
    }
    if let Some(d) = &rule.direct_response {
        let body = d
            .body
            .as_ref()
            .map_or_else(String::new, |b| match (&b.string, &b.bytes) {
                (Some(s), _) => s.clone(),
                (None, Some(bytes)) => verimesh_config::k8s::base64::decode(bytes)
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
                    .unwrap_or_default(),
                (None, None) => String::new(),
            });
        return Some(HttpAction::DirectResponse {
            status: u16::try_from(d.status).unwrap_or(500),
            body,
        });
    }
    if rule.delegate.is_some() {
        notes.push(
            "delegate VirtualServices are not supported for sidecars; the rule is skipped".into(),
        );
        return None;
    }
    let single = rule.route.len() == 1;
    let clusters: Vec<WeightedCluster> = rule
        .route
        .iter()
        .filter_map(|d| {
            let dest = d.destination.as_ref()?;
            // One destination takes all traffic whatever its weight says.
            let weight = if single {
                100
            } else {
                u32::try_from(d.weight.unwrap_or(0)).unwrap_or(0)
            };
            (weight > 0).then(|| WeightedCluster {
                cluster: resolver.cluster(vs_ns, dest, port),
                weight,
            })
        })
        .collect();
    (!clusters.is_empty()).then_some(HttpAction::Route { clusters })
}

/// The HTTP routes of a VirtualService for one port of a service, as seen by one proxy.
pub(crate) fn http_routes(
    vs: &VirtualService,
    vs_ns: &str,
    vs_name: &str,
    v: Viewer<'_>,
    port: u16,
    resolver: &mut dyn Resolver,
    notes: &mut Vec<String>,
) -> Vec<HttpRoute> {
    let mut out = Vec::new();
    for (i, rule) in vs.http.iter().enumerate() {
        let Some(matches) = http_matches(&rule.r#match, v, port, notes) else {
            continue;
        };
        let Some(action) = action(rule, vs_ns, port, resolver, notes) else {
            continue;
        };
        if rule.fault.is_some()
            || rule.mirror.is_some()
            || !rule.mirrors.is_empty()
            || rule.cors_policy.is_some()
        {
            notes.push(
                "fault, mirror and corsPolicy are not supported by the proxy yet; ignored".into(),
            );
        }
        let mut request_headers =
            header_ops(rule.headers.as_ref().and_then(|h| h.request.as_ref()));
        let mut response_headers =
            header_ops(rule.headers.as_ref().and_then(|h| h.response.as_ref()));
        // Per-destination header operations: exact when there is one destination.
        if let [only] = rule.route.as_slice() {
            if let Some(h) = &only.headers {
                merge(&mut request_headers, header_ops(h.request.as_ref()));
                merge(&mut response_headers, header_ops(h.response.as_ref()));
            }
        } else if rule.route.iter().any(|d| d.headers.is_some()) {
            notes.push(
                "header operations on one of several destinations are not supported; ignored"
                    .into(),
            );
        }
        let rewrite = rule.rewrite.as_ref().and_then(|r| {
            if r.uri_regex_rewrite.is_some() {
                notes.push("rewrite.uriRegexRewrite is not supported; ignored".into());
            }
            let rw = Rewrite {
                uri: r.uri.clone().filter(|u| !u.is_empty()),
                authority: r.authority.clone().filter(|a| !a.is_empty()),
            };
            (rw != Rewrite::default()).then_some(rw)
        });
        let routes_to_clusters = matches!(action, HttpAction::Route { .. });
        out.push(HttpRoute {
            name: match rule.name.as_deref().filter(|n| !n.is_empty()) {
                Some(n) => format!("{vs_ns}/{vs_name}[{n}]"),
                None => format!("{vs_ns}/{vs_name}[{i}]"),
            },
            matches,
            action,
            timeout_ms: rule
                .timeout
                .filter(|t| !t.is_zero())
                .map(|t| millis(t.as_std())),
            retries: if routes_to_clusters {
                retries(rule.retries.as_ref())
            } else {
                None
            },
            rewrite,
            request_headers,
            response_headers,
        });
    }
    out
}

fn merge(into: &mut Option<HeaderOps>, more: Option<HeaderOps>) {
    let Some(more) = more else {
        return;
    };
    let ops = into.get_or_insert_with(HeaderOps::default);
    ops.set.extend(more.set);
    ops.add.extend(more.add);
    ops.remove.extend(more.remove);
}

/// Istio's route for a port no VirtualService rule covers: everything to the service's
/// cluster, with the default retry policy and no timeout.
pub(crate) fn default_http_route(cluster: &str) -> HttpRoute {
    HttpRoute {
        name: "default".into(),
        matches: Vec::new(),
        action: HttpAction::Route {
            clusters: vec![WeightedCluster {
                cluster: cluster.to_string(),
                weight: 100,
            }],
        },
        timeout_ms: None,
        retries: Some(default_retries()),
        rewrite: None,
        request_headers: None,
        response_headers: None,
    }
}

/// The TCP routes of a VirtualService for one port: the rules whose conditions hold for this
/// proxy, in order (the proxy takes the first).
pub(crate) fn tcp_routes(
    vs: &VirtualService,
    vs_ns: &str,
    vs_name: &str,
    v: Viewer<'_>,
    port: u16,
    resolver: &mut dyn Resolver,
    notes: &mut Vec<String>,
) -> Vec<TcpRoute> {
    let mut out = Vec::new();
    for (i, rule) in vs.tcp.iter().enumerate() {
        if !tcp_applies(&rule.r#match, v, port, notes) {
            continue;
        }
        let single = rule.route.len() == 1;
        let clusters: Vec<WeightedCluster> = rule
            .route
            .iter()
            .filter_map(|d| {
                let dest = d.destination.as_ref()?;
                let weight = if single {
                    100
                } else {
                    u32::try_from(d.weight.unwrap_or(0)).unwrap_or(0)
                };
                (weight > 0).then(|| WeightedCluster {
                    cluster: resolver.cluster(vs_ns, dest, port),
                    weight,
                })
            })
            .collect();
        if !clusters.is_empty() {
            out.push(TcpRoute {
                name: format!("{vs_ns}/{vs_name}[{i}]"),
                clusters,
            });
        }
    }
    out
}
