//! RequestAuthentication: which JSON Web Tokens a workload accepts, where to find them, and
//! what to do with their claims.

use super::target::{validate_scope, PolicyTargetReference, WorkloadSelector};
use crate::types::Duration;
use crate::validate::security_common as sc;
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestAuthentication {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<WorkloadSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<PolicyTargetReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_refs: Vec<PolicyTargetReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jwt_rules: Vec<JwtRule>,
}

/// One accepted token issuer and how its tokens are located, verified and forwarded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtRule {
    /// The `iss` claim tokens must carry.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issuer: String,
    /// Accepted `aud` values; empty accepts the service's own host names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    /// Where the public keys are fetched from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Inline JSON Web Key Set; used instead of `jwksUri` when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    /// Headers carrying the token; default `Authorization: Bearer <token>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_headers: Vec<JwtHeader>,
    /// Query parameters carrying the token; default `access_token`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_params: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_cookies: Vec<String>,
    /// Header that receives the verified payload, base64url-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_payload_to_header: Option<String>,
    /// Keep the token on the request sent upstream (it is removed by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_original_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_claim_to_headers: Vec<ClaimToHeader>,
    /// How long fetching the JWKS may take; default 5s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Claims, besides `scope` and `permission`, whose string value is a space-separated list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub space_delimited_claims: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtHeader {
    #[serde(default)]
    pub name: String,
    /// Stripped from the header value before the token is read, e.g. `Bearer `.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimToHeader {
    #[serde(default)]
    pub header: String,
    #[serde(default)]
    pub claim: String,
}

impl JwtRule {
    /// The JWKS fetch timeout, Istio's default being 5 seconds.
    pub fn timeout_or_default(&self) -> std::time::Duration {
        self.timeout
            .map_or(std::time::Duration::from_secs(5), |d| d.as_std())
    }
}

impl Validate for RequestAuthentication {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        validate_scope(
            self.selector.as_ref(),
            self.target_ref.as_ref(),
            &self.target_refs,
            at,
            out,
        );
        for (i, rule) in self.jwt_rules.iter().enumerate() {
            validate_rule(rule, &at.field("jwtRules").index(i), out);
        }
    }
}

fn validate_rule(rule: &JwtRule, at: &FieldPath, out: &mut Findings) {
    let jwks_uri = rule.jwks_uri.as_deref().filter(|s| !s.is_empty());
    let jwks = rule.jwks.as_deref().filter(|s| !s.is_empty());
    if rule.issuer.is_empty() {
        if jwks_uri.is_none() {
            out.error(
                &at.field("issuer"),
                "the issuer is required (or at least a jwksUri): tokens are accepted by issuer",
            );
        } else {
            out.warning(
                &at.field("issuer"),
                "no issuer: tokens from any issuer signed by these keys are accepted",
            );
        }
    }
    sc::check_non_empty(&rule.audiences, &at.field("audiences"), out);
    if let Some(uri) = jwks_uri {
        out.check(&at.field("jwksUri"), sc::parse_http_url(uri).map(|_| ()));
        if jwks.is_some() {
            out.warning(
                &at.field("jwks"),
                "both jwks and jwksUri are set: the inline jwks is used and jwksUri is ignored",
            );
        }
    }
    if let Some(text) = jwks {
        validate_jwks(text, &at.field("jwks"), out);
    }
    for (i, h) in rule.from_headers.iter().enumerate() {
        out.check(
            &at.field("fromHeaders").index(i).field("name"),
            sc::validate_header_name(&h.name),
        );
    }
    sc::check_non_empty(&rule.from_params, &at.field("fromParams"), out);
    sc::check_non_empty(&rule.from_cookies, &at.field("fromCookies"), out);
    sc::check_non_empty(
        &rule.space_delimited_claims,
        &at.field("spaceDelimitedClaims"),
        out,
    );
    if let Some(h) = &rule.output_payload_to_header {
        out.check(
            &at.field("outputPayloadToHeader"),
            sc::validate_header_name(h),
        );
    }
    for (i, c) in rule.output_claim_to_headers.iter().enumerate() {
        let p = at.field("outputClaimToHeaders").index(i);
        if c.claim.is_empty() {
            out.error(&p.field("claim"), "the claim to copy is required");
        }
        out.check(
            &p.field("header"),
            sc::validate_strict_header_name(&c.header),
        );
    }
    if let Some(t) = &rule.timeout {
        out.check(&at.field("timeout"), sc::validate_timeout(t));
    }
}

/// An inline JWKS must be a JSON key set (or one key); private key material is flagged, as
/// only public keys are needed to verify tokens.
fn validate_jwks(text: &str, at: &FieldPath, out: &mut Findings) {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            out.error(at, format!("not a valid JSON Web Key Set: {e}"));
            return;
        }
    };
    let keys: Vec<&serde_json::Value> = match value.get("keys") {
        Some(serde_json::Value::Array(keys)) => keys.iter().collect(),
        Some(_) => {
            out.error(at, "not a valid JSON Web Key Set: \"keys\" must be a list");
            return;
        }
        None if value.get("kty").is_some() => vec![&value],
        None => {
            out.error(
                at,
                "not a valid JSON Web Key Set: expected an object with a \"keys\" list",
            );
            return;
        }
    };
    for (i, key) in keys.iter().enumerate() {
        match key.get("kty").and_then(|k| k.as_str()) {
            None => out.error(at, format!("key {i} of the JWKS has no \"kty\"")),
            Some("oct") => out.warning(
                at,
                format!("key {i} of the JWKS is a symmetric secret; publish only public keys"),
            ),
            Some(_) if key.get("d").is_some() => out.warning(
                at,
                format!("key {i} of the JWKS contains private key material; only public keys are needed"),
            ),
            Some(_) => {}
        }
    }
}
