//! CUSTOM AuthorizationPolicies: asking an `envoyExtAuthzHttp` provider, with Envoy's HTTP
//! ext_authz contract as Istio configures it. The check request has the original method and
//! `pathPrefix` + path (query included), an empty body, and the headers Envoy always sends
//! (host, authorization, content-length) plus `includeRequestHeadersInCheck` and
//! `includeAdditionalHeadersInCheck`. A 200 allows (the `headersToUpstreamOnAllow` of its
//! answer are set on the request, `headersToDownstreamOnAllow` on the response); any other
//! status denies with the authorizer's status, body and `headersToDownstreamOnDeny`; no
//! answer denies with `statusOnError` (403) unless `failOpen`. The provider's `service` is
//! reached through this proxy's own outbound config (its services and clusters).
//! gRPC providers are not implemented: a policy delegating to one is refused.

use super::forward::{self, Wire};
use super::respond::Local;
use crate::body::{self, Body};
use crate::flags::ResponseFlag;
use crate::server::Shared;
use crate::state::{ClusterRef, State};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use std::time::Duration;
use verimesh_config::mesh::ExtAuthzHttp;

/// Istio's default for `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
const MAX_DENY_BODY: usize = 64 * 1024;
/// Headers Envoy sends to an HTTP authorizer whatever the configuration says.
const ALWAYS: [&str; 3] = ["host", "authorization", "content-length"];

/// What the authorizer decided.
pub enum Answer {
    /// Allowed; headers for the response to the caller.
    Allow(Vec<(HeaderName, HeaderValue)>),
    Deny(Local, Vec<(HeaderName, HeaderValue)>),
}

/// Asks the provider named `provider` about `req` (already normalized); on allow, `req`
/// gains the provider's upstream headers.
pub async fn check<B>(
    shared: &Shared,
    state: &State,
    provider: &str,
    req: &mut Request<B>,
) -> Answer {
    let config = state
        .config
        .security
        .extension_providers
        .iter()
        .find(|p| p.name == provider);
    let Some(http) = config.and_then(|p| p.envoy_ext_authz_http.as_ref()) else {
        tracing::warn!(provider, "CUSTOM policy: no envoyExtAuthzHttp provider of that name (gRPC providers are not implemented); denied");
        return error(None);
    };
    let timeout = http.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
    let asked = tokio::time::timeout(timeout, ask(shared, state, http, req)).await;
    let resp = match asked {
        Ok(Ok(resp)) => resp,
        Ok(Err(why)) => {
            tracing::warn!(provider, "ext_authz: {why}");
            return error(Some(http));
        }
        Err(_) => {
            tracing::warn!(provider, "ext_authz: no answer within {timeout:?}");
            return error(Some(http));
        }
    };
    let (parts, body) = resp.into_parts();
    if parts.status == StatusCode::OK {
        for (name, value) in pick(&parts.headers, &http.headers_to_upstream_on_allow) {
            req.headers_mut().insert(name, value);
        }
        return Answer::Allow(pick(&parts.headers, &http.headers_to_downstream_on_allow));
    }
    let text = Limited::new(body, MAX_DENY_BODY)
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    let mut local = Local::new(
        parts.status,
        Some(ResponseFlag::UnauthorizedExternalService),
        text,
    );
    local.detail = Some("ext_authz_denied".into());
    Answer::Deny(
        local,
        pick(&parts.headers, &http.headers_to_downstream_on_deny),
    )
}

fn error(http: Option<&ExtAuthzHttp>) -> Answer {
    if http.and_then(|h| h.fail_open).unwrap_or(false) {
        return Answer::Allow(Vec::new());
    }
    let status = http
        .and_then(|h| h.status_on_error.as_deref())
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::FORBIDDEN);
    let mut local = Local::new(status, Some(ResponseFlag::UnauthorizedExternalService), "");
    local.detail = Some("ext_authz_error".into());
    Answer::Deny(local, Vec::new())
}

async fn ask<B>(
    shared: &Shared,
    state: &State,
    http: &ExtAuthzHttp,
    req: &Request<B>,
) -> Result<http::Response<hyper::body::Incoming>, String> {
    // `service` is `[<namespace>/]<hostname>`.
    let host = http.service.rsplit('/').next().unwrap_or_default();
    let port = u16::try_from(http.port).map_err(|_| format!("bad port {}", http.port))?;
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
    let authority = format!("{host}:{port}");
    let connect = Duration::from_millis(cluster.cluster.connect_timeout_ms.max(1));
    let sent: Request<Body> = check;
    forward::send(
        &ep.pool,
        &shared.connector,
        sent,
        &authority,
        Wire::Http1,
        connect,
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
