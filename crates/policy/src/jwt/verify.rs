//! Verifying one token against one issuer's rule: algorithm, key, signature, time,
//! audience; then the claims authorization sees.

use super::keys::Jwks;
use super::JwtError;
use crate::attrs::Authenticated;
use jsonwebtoken::{decode, decode_header, Algorithm, Validation};
use serde_json::Value;

/// Allowed clock skew for `exp` and `nbf`, in seconds (Envoy's default).
pub const CLOCK_SKEW_SECS: u64 = 60;

/// Claims whose string value is a space-separated list, besides a rule's own.
const SPACE_DELIMITED: &[&str] = &["scope", "permission"];

/// What verification needs from a jwtRule.
#[derive(Clone, Debug, Default)]
pub struct Verifier {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub jwks: Jwks,
    pub space_delimited_claims: Vec<String>,
}

/// The token's header algorithm, or why the token is refused before any key is tried.
/// `alg: none` and unknown algorithms do not parse; HMAC algorithms are refused outright.
pub(super) fn token_algorithm(token: &str) -> Result<(Algorithm, Option<String>), JwtError> {
    let header = decode_header(token).map_err(|e| JwtError::Malformed(e.to_string()))?;
    if matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(JwtError::AlgorithmNotAllowed(format!("{:?}", header.alg)));
    }
    Ok((header.alg, header.kid))
}

/// The unverified `iss`, used only to choose the rule that will verify the token.
pub(super) fn peek_issuer(token: &str) -> Result<String, JwtError> {
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|e| JwtError::Malformed(e.to_string()))?;
    Ok(claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string())
}

impl Verifier {
    /// Verifies a token at time `now` (seconds since the Unix epoch).
    pub fn verify(&self, token: &str, now: u64) -> Result<(Authenticated, Value), JwtError> {
        let (alg, kid) = token_algorithm(token)?;
        if self.jwks.is_empty() {
            return Err(JwtError::NoKeys(self.issuer.clone()));
        }
        let by_kid: Vec<_> = match &kid {
            Some(kid) => self
                .jwks
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect(),
            None => self.jwks.keys.iter().collect(),
        };
        if by_kid.is_empty() {
            return Err(JwtError::UnknownKid(kid.unwrap_or_default()));
        }
        let candidates: Vec<_> = by_kid.into_iter().filter(|k| k.accepts(alg)).collect();
        if candidates.is_empty() {
            return Err(JwtError::AlgorithmNotAllowed(format!(
                "{alg:?} (no key of that type)"
            )));
        }
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = candidates
            .iter()
            .find_map(|k| decode::<Value>(token, &k.key, &validation).ok())
            .ok_or(JwtError::BadSignature)?
            .claims;
        self.check_claims(&claims, now)?;
        let auth = self.authenticated(claims.clone());
        Ok((auth, claims))
    }

    fn check_claims(&self, claims: &Value, now: u64) -> Result<(), JwtError> {
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !self.issuer.is_empty() && iss != self.issuer {
            return Err(JwtError::UnknownIssuer(iss.to_string()));
        }
        let time = |name: &str| -> Result<Option<u64>, JwtError> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_f64()
                    .filter(|f| *f >= 0.0)
                    .map(|f| Some(f as u64))
                    .ok_or_else(|| JwtError::Malformed(format!("{name} is not a number"))),
            }
        };
        if let Some(exp) = time("exp")? {
            if now > exp.saturating_add(CLOCK_SKEW_SECS) {
                return Err(JwtError::Expired);
            }
        }
        if let Some(nbf) = time("nbf")? {
            if now.saturating_add(CLOCK_SKEW_SECS) < nbf {
                return Err(JwtError::NotYetValid);
            }
        }
        if !self.audiences.is_empty() {
            let auds = string_list(claims.get("aud"));
            if !auds.iter().any(|a| self.audiences.contains(a)) {
                return Err(JwtError::BadAudience);
            }
        }
        Ok(())
    }

    fn authenticated(&self, mut claims: Value) -> Authenticated {
        let get = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
        let issuer = get("iss").unwrap_or_default();
        let subject = get("sub").unwrap_or_default();
        let presenter = get("azp");
        let audiences = string_list(claims.get("aud"));
        if let Value::Object(map) = &mut claims {
            let names = SPACE_DELIMITED
                .iter()
                .map(|s| s.to_string())
                .chain(self.space_delimited_claims.iter().cloned());
            for name in names {
                if let Some(Value::String(s)) = map.get(&name) {
                    let list = s
                        .split(' ')
                        .filter(|p| !p.is_empty())
                        .map(|p| Value::String(p.into()))
                        .collect();
                    map.insert(name, Value::Array(list));
                }
            }
        }
        Authenticated {
            principal: format!("{issuer}/{subject}"),
            issuer,
            subject,
            audiences,
            presenter,
            claims,
        }
    }
}

/// A claim that is a string or a list of strings, as a list.
fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}
