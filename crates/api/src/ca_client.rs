//! The client of the CA's signing service: sends a workload's CSR over TLS to the control plane
//! (verified by its SPIFFE ID against the trust bundle), authenticated by the workload's
//! bootstrap token and, once it has one, its own mesh certificate. Implements
//! [`verimesh_identity::Signer`], so a [`verimesh_identity::CertificateWatcher`] drives it.

use crate::ca::v1::certificate_service_client::CertificateServiceClient;
use crate::ca::v1::CertificateRequest;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use verimesh_identity::rotate::{SignError, Signed, Signer};
use verimesh_identity::tls::{self, ConfigError};
use verimesh_identity::{pem, CredentialSource, Credentials, SpiffeMatcher, TrustBundle};

/// Why a signing request failed.
#[derive(Debug, thiserror::Error)]
pub enum CaClientError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot reach the CA at {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: tonic::transport::Error,
    },
    #[error("the bootstrap token is not valid in gRPC metadata")]
    Token,
    #[error("the CA refused: {} ({:?})", .0.message(), .0.code())]
    Status(Box<tonic::Status>),
    #[error("the CA's response is unusable: {0}")]
    Response(String),
}

/// A connection-per-request client of `verimesh.ca.v1.CertificateService`.
#[derive(Debug, Clone)]
pub struct CaClient {
    addr: SocketAddr,
    control: SpiffeMatcher,
    token: Option<String>,
    ttl: Option<Duration>,
    timeout: Duration,
    trust: Arc<ClientTrust>,
}

/// The client's TLS view: the latest trust bundle the CA sent, and the workload's own
/// certificate once it has one.
#[derive(Debug)]
struct ClientTrust {
    bundle: RwLock<Arc<TrustBundle>>,
    own: RwLock<Option<Arc<dyn CredentialSource>>>,
}

impl CredentialSource for ClientTrust {
    fn credentials(&self) -> Option<Arc<Credentials>> {
        let own = self.own.read().unwrap_or_else(|e| e.into_inner()).clone();
        own.and_then(|s| s.credentials())
    }
    fn trust_bundle(&self) -> Arc<TrustBundle> {
        self.bundle
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl CaClient {
    /// A client of the CA at `addr`, which must prove an identity `control` accepts, with a
    /// certificate chaining to `bundle`.
    pub fn new(addr: SocketAddr, control: SpiffeMatcher, bundle: TrustBundle) -> Self {
        Self {
            addr,
            control,
            token: None,
            ttl: None,
            timeout: Duration::from_secs(10),
            trust: Arc::new(ClientTrust {
                bundle: RwLock::new(Arc::new(bundle)),
                own: RwLock::new(None),
            }),
        }
    }

    /// Authenticate with this bootstrap token (sent as `authorization: Bearer <token>`).
    pub fn with_bootstrap_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Ask for certificates with this lifetime (else the CA's default).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Present this source's certificate to the CA (mTLS) when it has a valid one.
    pub fn present_credentials(&self, source: Arc<dyn CredentialSource>) {
        *self.trust.own.write().unwrap_or_else(|e| e.into_inner()) = Some(source);
    }

    /// Sends one CSR; returns the chain and the CA's current trust bundle, which this client
    /// also adopts for its next connection.
    pub async fn create_certificate(&self, csr_pem: String) -> Result<Signed, CaClientError> {
        let config = Arc::new(tls::client_config(
            self.trust.clone(),
            self.control.clone(),
            &[tls::ALPN_H2],
        )?);
        let addr = self.addr;
        let channel = crate::connect::channel(
            addr,
            config,
            crate::connect::ChannelOptions {
                connect_timeout: self.timeout,
                request_timeout: Some(self.timeout),
                keepalive: None,
            },
        )
        .await
        .map_err(|source| CaClientError::Connect { addr, source })?;
        let mut request = tonic::Request::new(CertificateRequest {
            csr: csr_pem,
            validity_duration: self
                .ttl
                .map(|t| i64::try_from(t.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        });
        if let Some(token) = &self.token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| CaClientError::Token)?;
            request.metadata_mut().insert("authorization", value);
        }
        let response = CertificateServiceClient::new(channel)
            .create_certificate(request)
            .await
            .map_err(|s| CaClientError::Status(Box::new(s)))?
            .into_inner();
        let chain = response
            .cert_chain
            .iter()
            .map(|p| pem::certs(p, "cert_chain"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CaClientError::Response(e.to_string()))?
            .into_iter()
            .flatten()
            .collect();
        let roots = TrustBundle::from_pem(&response.trust_bundle.concat())
            .map_err(|e| CaClientError::Response(e.to_string()))?;
        *self.trust.bundle.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(roots.clone());
        Ok(Signed { chain, roots })
    }
}

impl CaClient {
    /// Gets `identity`'s first certificate and keeps it fresh; renewals authenticate with the
    /// current certificate (mTLS) as well as the bootstrap token.
    pub async fn watch(
        self,
        identity: verimesh_identity::SpiffeId,
        opts: verimesh_identity::RotationOptions,
    ) -> Result<verimesh_identity::CertificateWatcher, verimesh_identity::rotate::FetchError> {
        let trust = self.trust.clone();
        let watcher = verimesh_identity::CertificateWatcher::start(identity, self, opts).await?;
        *trust.own.write().unwrap_or_else(|e| e.into_inner()) = Some(watcher.source());
        Ok(watcher)
    }
}

impl Signer for CaClient {
    async fn sign(&self, csr_pem: String) -> Result<Signed, SignError> {
        Ok(self.create_certificate(csr_pem).await?)
    }
}
