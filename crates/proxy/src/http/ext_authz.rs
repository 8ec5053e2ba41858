//! CUSTOM AuthorizationPolicies: asking an `envoyExtAuthzHttp` provider, with Envoy's HTTP
//! ext_authz contract as Istio configures it. The check request has the original method and
//! `pathPrefix` + path (query included), an empty body, and the headers Envoy always sends
//! (host, authorization, content-length) plus `includeRequestHeadersInCheck` and
//! `includeAdditionalHeadersInCheck`. A 200 allows (the `headersToUpstreamOnAllow` of its
//! answer are set on the request, `headersToDownstreamOnAllow` appended to the response); any
//! other status denies with the authorizer's status, body and `headersToDownstreamOnDeny`
//! (which replace the refusal's own headers of the same names); no
//! answer denies with `statusOnError` (403) unless `failOpen`. The provider's `service` is
//! reached through this proxy's own outbound config (its services and clusters).
//! `envoyExtAuthzGrpc` providers are asked by `ext_authz_grpc`.

use super::authz::Downstream;
use super::ext_authz_grpc;
use super::forward::{self, Wire};
use super::respond::Local;
use crate::body::{self, Body};
use crate::flags::ResponseFlag;
use crate::server::Shared;
use crate::state::{ClusterRef, State};
use crate::upstream::EndpointPool;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Request, StatusCode};
use std::sync::Arc;
use std::time::Duration;
use verimesh_config::mesh::ExtAuthzHttp;

/// Istio's default for `timeout`.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
const MAX_DENY_BODY: usize = 64 * 1024;
/// Headers Envoy sends to an HTTP authorizer whatever the configuration says.
const ALWAYS: [&str; 3] = ["host", "authorization", "content-length"];

/// What the authorizer decided.
pub enum Answer {
    /// Allowed; headers for the response to the caller.
    Allow(Vec<CallerHeader>),
    /// Refused; the refusal and the headers it carries.
    Deny(Local, Vec<CallerHeader>),
}

/// A header the authorizer asks for, and whether it is appended. On the response to the
/// caller (where `apply_caller_headers` puts it), one that is not appended
/// replaces the values the response already has under its name (the application's, or
/// those of the proxy's own refusal) — but not the authorizer's other values for that name,
/// so two `set-cookie`s both arrive.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerHeader {
    pub name: HeaderName,
    pub value: HeaderValue,
    pub append: bool,
}

/// Puts `list` on `headers`, in order.
pub fn apply_caller_headers(headers: &mut HeaderMap, list: Vec<CallerHeader>) {
    let mut replaced: Vec<HeaderName> = Vec::new();
    for h in list {
        if !h.append && !replaced.contains(&h.name) {
            headers.remove(&h.name);
            replaced.push(h.name.clone());
        }
        headers.append(h.name, h.value);
    }
}

/// Asks the provider named `provider` about `req` (already normalized); on allow, `req`
/// gains the provider's upstream headers.
pub async fn check(
    shared: &Shared,
    state: &State,
    conn: &Downstream<'_>,
    provider: &str,
    req: &mut Request<Body>,
) -> Answer {
    let config = state
        .config
        .security
        .extension_providers
        .iter()
        .find(|p| p.name == provider);
    if let Some(grpc) = config.and_then(|p| p.envoy_ext_authz_grpc.as_ref()) {
        return ext_authz_grpc::check(shared, state, conn, provider, grpc, req).await;
    }
    let Some(http) = config.and_then(|p| p.envoy_ext_authz_http.as_ref()) else {
        tracing::warn!(
            provider,
            "CUSTOM policy: no envoyExtAuthzHttp or envoyExtAuthzGrpc provider of that name; denied"
        );
        return error(false, None);
    };
    let timeout = http.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
    let asked = tokio::time::timeout(timeout, ask(shared, state, http, req)).await;
    let resp = match asked {
        Ok(Ok(resp)) => resp,
        Ok(Err(why)) => {
            tracing::warn!(provider, "ext_authz: {why}");
            return http_error(http);
        }
        Err(_) => {
            tracing::warn!(provider, "ext_authz: no answer within {timeout:?}");
            return http_error(http);
        }
    };
    let (parts, body) = resp.into_parts();
    if parts.status == StatusCode::OK {
        for (name, value) in pick(&parts.headers, &http.headers_to_upstream_on_allow) {
            req.headers_mut().insert(name, value);
        }
        return Answer::Allow(for_caller(
            &parts.headers,
            &http.headers_to_downstream_on_allow,
            true,
        ));
    }
    let text = crate::body::collect_limited(body, MAX_DENY_BODY)
        .await
        .map(|(data, _)| String::from_utf8_lossy(&data).into_owned())
        .unwrap_or_default();
    let mut local = Local::new(
        parts.status,
        Some(ResponseFlag::UnauthorizedExternalService),
        text,
    );
    local.detail = Some("ext_authz_denied".into());
    Answer::Deny(
        local,
        for_caller(&parts.headers, &http.headers_to_downstream_on_deny, false),
    )
}

/// The headers named in `names` from the authorizer's answer, for the caller: appended to
/// the application's response on allow (as Envoy does), replacing the refusal's own
/// (its `content-type`, say) on deny.
fn for_caller(from: &HeaderMap, names: &[String], append: bool) -> Vec<CallerHeader> {
    pick(from, names)
        .into_iter()
        .map(|(name, value)| CallerHeader {
            name,
            value,
            append,
        })
        .collect()
}

fn http_error(http: &ExtAuthzHttp) -> Answer {
    error(
        http.fail_open.unwrap_or(false),
        http.status_on_error.as_deref(),
    )
}

/// The answer when the authorizer could not be asked or did not answer: allowed only when
/// the provider says `failOpen`, else `statusOnError` (403 when unset or unusable).
pub(super) fn error(fail_open: bool, status_on_error: Option<&str>) -> Answer {
    if fail_open {
        return Answer::Allow(Vec::new());
    }
    let status = status_on_error
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::FORBIDDEN);
    let mut local = Local::new(status, Some(ResponseFlag::UnauthorizedExternalService), "");
    local.detail = Some("ext_authz_error".into());
    Answer::Deny(local, Vec::new())
}

/// Where a provider's `service` (`[<namespace>/]<hostname>`) and `port` lead in this
/// proxy's outbound config: the authority to send and the endpoint picked.
pub(super) struct Target {
    pub authority: String,
    pub pool: Arc<EndpointPool>,
    pub connect_timeout: Duration,
}

pub(super) fn target(state: &State, service: &str, port: u32) -> Result<Target, String> {
    let host = service.rsplit('/').next().unwrap_or_default();
    let port = u16::try_from(port).map_err(|_| format!("bad port {port}"))?;
    let (_, p) = state
        .port_by_host(&host.to_ascii_lowercase(), port)
        .ok_or_else(|| format!("{host}:{port} is not among this proxy's services"))?;
    let cluster = match &p.default {
        ClusterRef::Found(c) => c.clone(),
        ClusterRef::Missing(name) => return Err(format!("cluster {name} is missing")),
    };
    let ep = cluster
        .balancer
        .pick(&cluster.loads, |i| {
            cluster
                .endpoints
                .get(i)
                .is_some_and(|e| e.endpoint.weight > 0)
        })
        .and_then(|i| cluster.endpoints.get(i))
        .ok_or_else(|| format!("cluster {} has no endpoint", cluster.name))?;
    Ok(Target {
        authority: format!("{host}:{port}"),
        pool: ep.pool.clone(),
        connect_timeout: Duration::from_millis(cluster.cluster.connect_timeout_ms.max(1)),
    })
}

async fn ask<B>(
    shared: &Shared,
    state: &State,
    http: &ExtAuthzHttp,
    req: &Request<B>,
) -> Result<http::Response<Body>, String> {
    let to = target(state, &http.service, http.port)?;
    let path = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let prefix = http.path_prefix.as_deref().unwrap_or_default();
    let mut check = Request::builder()
        .method(req.method().clone())
        .uri(format!("{prefix}{path}"))
        .body(body::empty())
        .map_err(|e| e.to_string())?;
    let wanted: Vec<String> = ALWAYS
        .iter()
        .map(|s| s.to_string())
        .chain(http.include_request_headers_in_check.iter().cloned())
        .chain(http.include_headers_in_check.iter().cloned())
        .map(|h| h.to_ascii_lowercase())
        .collect();
    for name in &wanted {
        for v in req.headers().get_all(name.as_str()) {
            if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
                check.headers_mut().append(n, v.clone());
            }
        }
    }
    for (name, value) in &http.include_additional_headers_in_check {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            check.headers_mut().insert(n, v);
        }
    }
    let sent: Request<Body> = check;
    forward::send(
        &to.pool,
        &shared.connector,
        sent,
        &to.authority,
        Wire::Http1,
        to.connect_timeout,
    )
    .await
    .map_err(|e| e.to_string())
}

/// The headers of `from` whose (case-insensitive) names are listed.
fn pick(from: &HeaderMap, names: &[String]) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    for name in names {
        let Ok(n) = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()) else {
            continue;
        };
        for v in from.get_all(&n) {
            out.push((n.clone(), v.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &'static str, value: &'static str, append: bool) -> CallerHeader {
        CallerHeader {
            name: HeaderName::from_static(name),
            value: HeaderValue::from_static(value),
            append,
        }
    }

    #[test]
    fn caller_headers_replace_unless_appended_and_keep_each_of_the_authorizers_values() {
        let mut resp = HeaderMap::new();
        resp.append("content-type", HeaderValue::from_static("text/plain"));
        resp.append("set-cookie", HeaderValue::from_static("app=1"));
        resp.append("x-trace", HeaderValue::from_static("app"));
        apply_caller_headers(
            &mut resp,
            vec![
                h("content-type", "application/json", false),
                h("set-cookie", "a=1", false),
                h("set-cookie", "b=2", false),
                h("x-trace", "authz", true),
            ],
        );
        let all = |n: &str| -> Vec<_> { resp.get_all(n).iter().cloned().collect() };
        assert_eq!(all("content-type"), ["application/json"]);
        assert_eq!(all("set-cookie"), ["a=1", "b=2"]);
        assert_eq!(all("x-trace"), ["app", "authz"]);
    }

    #[test]
    fn http_answers_append_on_allow_and_replace_on_deny() {
        let mut answer = HeaderMap::new();
        answer.append("x-user", HeaderValue::from_static("alice"));
        answer.append("x-user", HeaderValue::from_static("bob"));
        answer.append("x-other", HeaderValue::from_static("no"));
        let names = vec!["X-User".to_string()];
        let allow = for_caller(&answer, &names, true);
        assert_eq!(
            allow,
            vec![h("x-user", "alice", true), h("x-user", "bob", true)]
        );
        let deny = for_caller(&answer, &names, false);
        assert!(deny.iter().all(|c| !c.append && c.name == "x-user"));
    }
}
