//! JSON Web Key Sets, parsed into verification keys. Only public, asymmetric keys are kept:
//! symmetric (`oct`) keys are never used, so an HMAC token can never be verified with a
//! public key as its secret.

use super::JwtError;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::str::FromStr;
use std::sync::Once;

/// The kinds of key a token's algorithm must agree with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Family {
    fn allows(self, alg: Algorithm) -> bool {
        use Algorithm as A;
        match self {
            Family::Rsa => matches!(
                alg,
                A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512
            ),
            Family::P256 => alg == A::ES256,
            Family::P384 => alg == A::ES384,
            Family::Ed25519 => alg == A::EdDSA,
        }
    }
}

#[derive(Clone)]
pub(super) struct Key {
    pub kid: Option<String>,
    family: Family,
    /// The key's `alg`, when its JWK names one: tokens must then use exactly it.
    alg: Option<Algorithm>,
    pub key: DecodingKey,
}

impl Key {
    pub fn accepts(&self, alg: Algorithm) -> bool {
        self.family.allows(alg) && self.alg.is_none_or(|a| a == alg)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .field("alg", &self.alg)
            .finish()
    }
}

/// A parsed key set. Empty (for instance when fetching it failed) verifies nothing.
#[derive(Clone, Debug, Default)]
pub struct Jwks {
    pub(super) keys: Vec<Key>,
    /// Keys that were skipped (symmetric, unknown type, malformed), with why.
    pub skipped: Vec<String>,
}

static PROVIDER: Once = Once::new();

/// Installs aws-lc-rs as jsonwebtoken's crypto provider (once per process).
pub fn install_crypto_provider() {
    PROVIDER.call_once(|| {
        // Err means a provider is already installed; with only the aws_lc_rs feature
        // enabled, that can only be this same one.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    });
}

impl Jwks {
    /// Parses a JWKS (`{"keys": [...]}`) or a single JWK.
    pub fn parse(text: &str) -> Result<Jwks, JwtError> {
        install_crypto_provider();
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| JwtError::BadJwks(e.to_string()))?;
        let items = match value.get("keys") {
            Some(serde_json::Value::Array(keys)) => keys.clone(),
            Some(_) => return Err(JwtError::BadJwks("\"keys\" must be a list".into())),
            None if value.get("kty").is_some() => vec![value],
            None => {
                return Err(JwtError::BadJwks(
                    "expected an object with a \"keys\" list".into(),
                ))
            }
        };
        let mut out = Jwks::default();
        for (i, item) in items.into_iter().enumerate() {
            match key_from(item) {
                Ok(k) => out.keys.push(k),
                Err(why) => out.skipped.push(format!("key {i}: {why}")),
            }
        }
        Ok(out)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn key_from(item: serde_json::Value) -> Result<Key, String> {
    let jwk: Jwk = serde_json::from_value(item).map_err(|e| e.to_string())?;
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Family::Rsa,
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Family::P256,
            EllipticCurve::P384 => Family::P384,
            ref c => return Err(format!("unsupported curve {c:?}")),
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => Family::Ed25519,
            ref c => return Err(format!("unsupported curve {c:?}")),
        },
        AlgorithmParameters::OctetKey(_) => {
            return Err("symmetric keys are never used to verify tokens".into())
        }
        _ => return Err("unsupported key type".into()),
    };
    let alg = match &jwk.common.key_algorithm {
        None => None,
        Some(a) => {
            let alg = Algorithm::from_str(&format!("{a:?}"))
                .map_err(|_| format!("unsupported alg {a:?}"))?;
            if !family.allows(alg) {
                return Err(format!("alg {alg:?} does not fit the key type"));
            }
            Some(alg)
        }
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
    Ok(Key {
        kid: jwk.common.key_id.clone(),
        family,
        alg,
        key,
    })
}
