//! RequestAuthentication: finding and verifying JSON Web Tokens. Pure — the key sets are
//! handed in already parsed (the proxy fetches `jwksUri`), and the time is a parameter.
//!
//! Outcomes, as Istio's: no token → authentication passes with no request principal (a
//! policy with `requestPrincipals` decides); a present but invalid token (bad signature,
//! expired, wrong audience, unknown issuer or key, `alg: none`, HMAC) → 401. Stricter than
//! Envoy in two places, both failing closed: HMAC-signed tokens are never accepted, and a
//! request carrying two different tokens is refused.

mod extract;
mod keys;
mod verify;

pub use extract::{extract, locations, Location};
pub use keys::{install_crypto_provider, Jwks};
pub use verify::{Verifier, CLOCK_SKEW_SECS};

use crate::attrs::Authenticated;
use crate::normalize::HttpRequest;
use serde_json::Value;
use std::collections::HashMap;
use verimesh_config::security::JwtRule;

/// Why a token was refused (answered with 401).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("algorithm {0} is not accepted")]
    AlgorithmNotAllowed(String),
    #[error("the issuer {0:?} is not configured")]
    UnknownIssuer(String),
    #[error("no key with kid {0:?}")]
    UnknownKid(String),
    #[error("no keys for issuer {0:?} (the JWKS is empty or could not be fetched)")]
    NoKeys(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's audience is not accepted")]
    BadAudience,
    #[error("the request carries more than one token")]
    MultipleTokens,
    #[error("invalid JWKS: {0}")]
    BadJwks(String),
}

/// A change the proxy makes to the request after authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderOp {
    Remove(String),
    Set(String, String),
}

/// The result of authentication for one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuthnResult {
    pub auth: Option<Authenticated>,
    pub header_ops: Vec<HeaderOp>,
}

/// One compiled jwtRule.
#[derive(Clone, Debug)]
struct Rule {
    verifier: Verifier,
    locations: Vec<Location>,
    forward: bool,
    payload_header: Option<String>,
    claim_headers: Vec<(String, String)>,
}

/// The jwtRules that apply to one workload, with their keys.
#[derive(Clone, Debug, Default)]
pub struct JwtPolicy {
    rules: Vec<Rule>,
}

impl JwtPolicy {
    /// Compiles rules. Keys come from the rule's inline `jwks`, else from `fetched`
    /// (keyed by `jwksUri`); a rule with neither has an empty key set and refuses every
    /// token of its issuer.
    pub fn new<'a>(
        rules: impl IntoIterator<Item = &'a JwtRule>,
        fetched: &HashMap<String, Jwks>,
    ) -> JwtPolicy {
        let rules = rules
            .into_iter()
            .map(|r| {
                let inline = r.jwks.as_deref().filter(|s| !s.is_empty());
                let jwks = match inline {
                    Some(text) => Jwks::parse(text).unwrap_or_default(),
                    None => r
                        .jwks_uri
                        .as_ref()
                        .and_then(|u| fetched.get(u))
                        .cloned()
                        .unwrap_or_default(),
                };
                Rule {
                    verifier: Verifier {
                        issuer: r.issuer.clone(),
                        audiences: r.audiences.clone(),
                        jwks,
                        space_delimited_claims: r.space_delimited_claims.clone(),
                    },
                    locations: locations(r),
                    forward: r.forward_original_token.unwrap_or(false),
                    payload_header: r
                        .output_payload_to_header
                        .as_ref()
                        .map(|h| h.to_ascii_lowercase()),
                    claim_headers: r
                        .output_claim_to_headers
                        .iter()
                        .map(|c| (c.header.to_ascii_lowercase(), c.claim.clone()))
                        .collect(),
                }
            })
            .collect();
        JwtPolicy { rules }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Headers that verified claims are written to: normalization strips them from every
    /// incoming request so a caller can never forge them.
    pub fn output_headers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.rules {
            out.extend(r.payload_header.iter().cloned());
            out.extend(r.claim_headers.iter().map(|(h, _)| h.clone()));
        }
        out.sort();
        out.dedup();
        out
    }

    /// Authenticates a normalized request at `now` (seconds since the Unix epoch).
    pub fn authenticate(&self, req: &HttpRequest, now: u64) -> Result<AuthnResult, JwtError> {
        // Each distinct token, with the rules whose locations it was found at.
        let mut found: Vec<(String, Vec<usize>, Vec<String>)> = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            for loc in &rule.locations {
                for token in extract(req, loc) {
                    let header = match loc {
                        Location::Header { name, .. } => Some(name.clone()),
                        _ => None,
                    };
                    match found.iter_mut().find(|(t, _, _)| *t == token) {
                        Some((_, rules, headers)) => {
                            rules.push(i);
                            headers.extend(header);
                        }
                        None => found.push((token, vec![i], header.into_iter().collect())),
                    }
                }
            }
        }
        let Some((token, rule_ids, headers)) = found.first() else {
            return Ok(AuthnResult::default());
        };
        if found.len() > 1 {
            return Err(JwtError::MultipleTokens);
        }
        verify::token_algorithm(token)?;
        let iss = verify::peek_issuer(token)?;
        let rule = rule_ids
            .iter()
            .map(|i| &self.rules[*i])
            .find(|r| r.verifier.issuer == iss)
            .or_else(|| {
                rule_ids
                    .iter()
                    .map(|i| &self.rules[*i])
                    .find(|r| r.verifier.issuer.is_empty())
            })
            .ok_or(JwtError::UnknownIssuer(iss))?;
        let (auth, claims) = rule.verifier.verify(token, now)?;
        let mut ops = Vec::new();
        if !rule.forward {
            for h in headers {
                ops.push(HeaderOp::Remove(h.clone()));
            }
        }
        if let Some(h) = &rule.payload_header {
            let payload = token.split('.').nth(1).unwrap_or_default();
            ops.push(HeaderOp::Set(h.clone(), payload.to_string()));
        }
        for (header, claim) in &rule.claim_headers {
            let path: Vec<String> = claim.split('.').map(str::to_string).collect();
            let value = crate::authz::claim_value(&claims, &path);
            let text = match value {
                Some(Value::String(s)) => Some(s.clone()),
                Some(v @ (Value::Number(_) | Value::Bool(_))) => Some(v.to_string()),
                _ => None,
            };
            if let Some(text) = text {
                ops.push(HeaderOp::Set(header.clone(), text));
            }
        }
        Ok(AuthnResult {
            auth: Some(auth),
            header_ops: ops,
        })
    }
}
