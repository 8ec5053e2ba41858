//! Who is calling the CA. Authenticators are pluggable: each looks at the caller's credentials
//! (its verified mTLS certificate, its bearer token) and either establishes a SPIFFE identity,
//! passes (the credential it understands is absent), or refuses. Kubernetes service-account
//! tokens will be one more authenticator.

use crate::tokens::TokenStore;
use std::fmt;
use std::net::SocketAddr;
use verimesh_identity::{SpiffeId, TrustDomain};

/// What is known about a caller before authentication.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The SPIFFE ID of the caller's verified client certificate (mTLS), if it presented one.
    pub peer: Option<SpiffeId>,
    /// The token from `authorization: Bearer <token>`, if any.
    pub bearer: Option<String>,
    pub remote: Option<SocketAddr>,
}

/// A refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials: present a mesh client certificate or a bootstrap token")]
    NoCredentials,
    #[error("{authenticator}: {reason}")]
    Refused {
        authenticator: &'static str,
        reason: String,
    },
}

/// One way of establishing a caller's identity.
pub trait Authenticator: fmt::Debug + Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// `Ok(Some(id))`: authenticated as `id`. `Ok(None)`: this authenticator's credential is
    /// absent. `Err`: the credential is present and wrong.
    fn authenticate(&self, caller: &Caller) -> Result<Option<SpiffeId>, AuthError>;
}

/// A caller presenting a verified mesh certificate is the identity in it (it must be in the
/// CA's trust domain: another domain's workloads get certificates from their own CA).
#[derive(Debug)]
pub struct ClientCertAuthenticator {
    pub trust_domain: TrustDomain,
}

impl Authenticator for ClientCertAuthenticator {
    fn name(&self) -> &'static str {
        "client certificate"
    }
    fn authenticate(&self, caller: &Caller) -> Result<Option<SpiffeId>, AuthError> {
        match &caller.peer {
            None => Ok(None),
            Some(id) if id.trust_domain() == &self.trust_domain => Ok(Some(id.clone())),
            Some(id) => Err(AuthError::Refused {
                authenticator: self.name(),
                reason: format!("{id} is not in trust domain {}", self.trust_domain),
            }),
        }
    }
}

/// A caller presenting a bootstrap token is the namespace and service account the token was
/// issued for (local mesh).
#[derive(Debug)]
pub struct BootstrapTokenAuthenticator {
    pub tokens: TokenStore,
}

impl Authenticator for BootstrapTokenAuthenticator {
    fn name(&self) -> &'static str {
        "bootstrap token"
    }
    fn authenticate(&self, caller: &Caller) -> Result<Option<SpiffeId>, AuthError> {
        let Some(token) = &caller.bearer else {
            return Ok(None);
        };
        self.tokens
            .identity_for(token)
            .map(Some)
            .ok_or_else(|| AuthError::Refused {
                authenticator: self.name(),
                reason: "unknown token".to_string(),
            })
    }
}

/// Authenticators tried in order: the first that establishes an identity wins; a refusal by
/// any of them refuses the call.
#[derive(Debug, Default)]
pub struct Authenticators(pub Vec<Box<dyn Authenticator>>);

impl Authenticators {
    pub fn authenticate(&self, caller: &Caller) -> Result<SpiffeId, AuthError> {
        for a in &self.0 {
            if let Some(id) = a.authenticate(caller)? {
                return Ok(id);
            }
        }
        Err(AuthError::NoCredentials)
    }
}
