//! The inbound request decided by the one engine, and then rewritten to be exactly the
//! request it decided on: normalized path and query, lower-case header names, trimmed values,
//! mesh-internal headers and forgeable claim headers gone, the JWT outputs applied. A request
//! the engine refuses is answered as Envoy answers it: 400, 401 `Jwt verification fails`
//! (Envoy's text for each failure) or 403 `RBAC: access denied`; CUSTOM policies ask their
//! external authorizer (`ext_authz`).

use super::ext_authz::{self, apply_caller_headers, Answer, CallerHeader};
use super::request::Exchange;
use super::respond::Local;
use crate::body::Body;
use crate::security;
use crate::server::Shared;
use crate::state::State;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use std::net::SocketAddr;
use verimesh_policy::authz::Effect;
use verimesh_policy::jwt::HeaderOp;
use verimesh_policy::{Connection, HttpRequest, JwtError, RawRequest};

/// What the access log records about the decision.
#[derive(Default)]
pub struct Verdict {
    /// The policy and rule that decided.
    pub policy: Option<String>,
    /// Envoy's response-code details for a refusal.
    pub details: Option<String>,
    /// AUDIT policies that matched, and what dry-run policies would have done.
    pub audit: Option<String>,
    /// Set when the request is refused.
    pub refusal: Option<Local>,
    /// Headers an external authorizer asked for on the response (either way).
    pub response_headers: Vec<CallerHeader>,
    /// The payload of the request's verified JWT (gateways route on its claims).
    pub claims: Option<serde_json::Value>,
}

impl Verdict {
    /// Records the decision in the access-log entry (policy, details, audits).
    pub fn log(&self, ex: &mut Exchange) {
        ex.log(|e| {
            e.authz_policy = self.policy.clone();
            e.response_code_details = self.details.clone();
            e.authz_audit = self.audit.clone();
        });
    }

    /// The answer to a refused request — the refusal with the authorizer's headers, and
    /// Envoy's challenge on a 401 — or `None` when the request may pass (the authorizer's
    /// headers then stay for the response).
    pub fn refused(
        &mut self,
        ex: &mut Exchange,
        state: &State,
        path: &str,
    ) -> Option<Response<Body>> {
        let refusal = self.refusal.take()?;
        let unauthorized = refusal.status == StatusCode::UNAUTHORIZED;
        let mut resp = ex.local(refusal, state);
        apply_caller_headers(
            resp.headers_mut(),
            std::mem::take(&mut self.response_headers),
        );
        if unauthorized {
            if let Some(v) = challenge(&ex.authority, path) {
                resp.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
            }
        }
        Some(resp)
    }
}

/// The connection a request came on: as the engine judges it (`policy`), and the facts an
/// external authorizer is told (both ends' addresses, the caller's verified SPIFFE ID).
pub struct Downstream<'a> {
    pub policy: &'a Connection,
    pub remote: SocketAddr,
    pub dst: SocketAddr,
    /// `spiffe://…` of an mTLS caller.
    pub peer: Option<&'a str>,
}

/// Decides `req` and, when it may pass, rewrites it in place.
pub async fn check(
    shared: &Shared,
    state: &State,
    conn: &Downstream<'_>,
    req: &mut Request<Body>,
    now: u64,
) -> Verdict {
    // No policy applies: the engine would only normalize, then allow. A request already in
    // normal form is settled here without copying it; any other goes through the engine.
    if !state.security.enforcing && super::normal_form::settle(req, state.path_normalization()) {
        return Verdict::default();
    }
    // Boxed: the engine's path (key fetches, external authorizers) is a large state machine
    // that the request's own future need not carry.
    Box::pin(decide(shared, state, conn, req, now)).await
}

async fn decide(
    shared: &Shared,
    state: &State,
    conn: &Downstream<'_>,
    req: &mut Request<Body>,
    now: u64,
) -> Verdict {
    let sec = &state.security;
    let mut v = Verdict::default();
    let raw = match raw_request(req) {
        Ok(r) => r,
        Err(name) => {
            v.refusal = Some(Local::bad_request(format!(
                "the value of header {name:?} is not UTF-8"
            )));
            return v;
        }
    };
    let c = sec.current().await;
    let out = c
        .engine
        .decide_quiet(&c.policies, conn.policy, Some(&raw), now);
    if let Some(e) = out.bad_request {
        v.refusal = Some(Local::bad_request(e.to_string()));
        return v;
    }
    if let Some(e) = &out.bad_token {
        v.details = Some(format!(
            "jwt_authn_access_denied{{{}}}",
            envoy_jwt_message(e).replace(' ', "_")
        ));
        let mut local = Local::new(StatusCode::UNAUTHORIZED, None, envoy_jwt_message(e));
        local.detail = Some(e.to_string());
        v.refusal = Some(local);
        return v;
    }
    let Some(request) = out.request else {
        v.refusal = Some(Local::bad_request("unreadable request".into()));
        return v;
    };
    // Moved, not copied: nothing after this reads the payload but routing.
    v.claims = out.authn.auth.map(|a| a.claims);
    let d = out.decision.unwrap_or_default();
    v.policy = security::describe(&c.engine, &d);
    let mut notes: Vec<String> = d
        .audited
        .iter()
        .map(|r| c.engine.policies.describe(r))
        .collect();
    for dr in &d.dry_runs {
        let id = c.engine.policies.policy_id(dr.policy);
        notes.push(match dr.matched {
            Some(rule) => format!("dry-run {id} rule {rule} matched"),
            None => format!("dry-run {id} matched nothing"),
        });
    }
    if !notes.is_empty() {
        tracing::info!(policies = %notes.join("; "), "authorization audit");
        v.audit = Some(notes.join("; "));
    }
    // As Istio orders Envoy's filters: the token consumed (jwt_authn), then CUSTOM
    // (ext_authz) on that request, then DENY/ALLOW (rbac).
    rewrite(req, &request, &out.authn.header_ops);
    for r in &d.delegations {
        let provider = match c
            .engine
            .policies
            .policy(r.policy as usize)
            .map(|p| &p.effect)
        {
            Some(Effect::Custom { provider }) => provider.clone(),
            _ => continue,
        };
        match ext_authz::check(shared, state, conn, &provider, req).await {
            Answer::Allow(headers) => v.response_headers.extend(headers),
            Answer::Deny(local, headers) => {
                v.policy = Some(c.engine.policies.describe(r));
                v.details = local.detail.clone();
                v.response_headers = headers;
                v.refusal = Some(local);
                return v;
            }
        }
    }
    if !d.allowed {
        let denied = security::denied(&c.engine, &d);
        v.policy = Some(denied.policy);
        v.details = Some(denied.details);
        // Envoy's RBAC filter sets no response flag; the details say which policy.
        v.refusal = Some(Local::new(
            StatusCode::FORBIDDEN,
            None,
            "RBAC: access denied",
        ));
    }
    v
}

/// The request as received, for the engine. Header values must be UTF-8 (the engine judges
/// text); `Err` names the first that is not.
fn raw_request<B>(req: &Request<B>) -> Result<RawRequest, String> {
    let mut headers = Vec::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        let text = std::str::from_utf8(value.as_bytes()).map_err(|_| name.to_string())?;
        headers.push((name.as_str().to_string(), text.to_string()));
    }
    Ok(RawRequest {
        method: req.method().as_str().to_string(),
        target: req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_string(), |pq| pq.as_str().to_string()),
        authority: req.uri().authority().map(|a| a.as_str().to_string()),
        headers,
    })
}

/// Makes `req` the request the engine decided on, then applies the JWT header operations.
/// What normalization left as it was is not rebuilt.
fn rewrite<B>(req: &mut Request<B>, decided: &HttpRequest, ops: &[HeaderOp]) {
    super::forward::set_path(req, &decided.path, decided.query.as_deref());
    let headers = req.headers_mut();
    if !only_internal_removed(headers, &decided.headers) {
        let mut rebuilt = HeaderMap::with_capacity(decided.headers.len());
        for (name, value) in &decided.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                rebuilt.append(n, v);
            }
        }
        *headers = rebuilt;
    } else {
        super::normal_form::remove_internal(headers);
    }
    for op in ops {
        match op {
            HeaderOp::Remove(name) => {
                headers.remove(name.as_str());
            }
            HeaderOp::Set(name, value) => {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    headers.insert(n, v);
                }
            }
        }
    }
}

/// Whether `decided` is `headers` in order with only mesh-internal headers left out (the
/// usual case: nothing to trim, lower-case or strip but the mesh's own hints), so that
/// removing those gives the decided request without rebuilding the map.
fn only_internal_removed(headers: &HeaderMap, decided: &[(String, String)]) -> bool {
    let mut want = decided.iter();
    let mut next = want.next();
    for (name, value) in headers {
        match next {
            Some((n, v)) if n == name.as_str() && v.as_bytes() == value.as_bytes() => {
                next = want.next();
            }
            _ if verimesh_policy::normalize::is_internal_header(name.as_str()) => {}
            _ => return false,
        }
    }
    next.is_none()
}

/// Envoy's jwt_authn body for each failure (its `Status` texts).
pub fn envoy_jwt_message(e: &JwtError) -> &'static str {
    match e {
        JwtError::Malformed(_) => {
            "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
        }
        JwtError::AlgorithmNotAllowed(_) => "Jwt verification fails",
        JwtError::UnknownIssuer(_) => "Jwt issuer is not configured",
        JwtError::UnknownKid(_) | JwtError::NoKeys(_) => {
            "Jwks doesn't have key to match kid or alg from Jwt"
        }
        JwtError::BadSignature => "Jwt verification fails",
        JwtError::Expired => "Jwt is expired",
        JwtError::NotYetValid => "Jwt not yet valid",
        JwtError::BadAudience => "Audiences in Jwt are not allowed",
        JwtError::MultipleTokens => "Found multiple Jwt tokens",
        JwtError::BadJwks(_) => "Jwks is an invalid JSON",
    }
}

/// Envoy's `www-authenticate` challenge on a refused token.
pub fn challenge(host: &str, path: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "Bearer realm=\"http://{host}{path}\", error=\"invalid_token\""
    ))
    .ok()
}
