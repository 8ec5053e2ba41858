//! The verimesh control plane. For now it runs, on the gRPC port, the mesh CA's certificate
//! signing service and the config stream that delivers each proxy its compiled config
//! ([`config::ConfigHub`]).
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod mesh;
mod server;
pub mod service;
pub mod tokens;

pub use server::{serve, Services};

use auth::{Authenticators, BootstrapTokenAuthenticator, ClientCertAuthenticator};
use config::{ConfigHub, ConfigService, NoPlacements};
use service::CaService;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokens::TokenStore;
use verimesh_identity::ca::{Ca, CaError, LocalSigner, DEFAULT_MAX_WORKLOAD_TTL};
use verimesh_identity::rotate::FetchError;
use verimesh_identity::{
    CertificateWatcher, RotationOptions, SpiffeId, SpiffeMatcher, TrustDomain,
};

/// The control plane's gRPC port (Istio's istiod uses the same).
pub const DEFAULT_ADDR: &str = "127.0.0.1:15012";
/// The control plane's own identity's namespace and service account.
pub const CONTROL_NAMESPACE: &str = "verimesh-system";
pub const CONTROL_SERVICE_ACCOUNT: &str = "verimesh-control";

/// How to run the control plane.
#[derive(Debug, Clone)]
pub struct ControlOptions {
    pub state_dir: PathBuf,
    /// A plugged-in CA (Istio `cacerts` layout) instead of the state directory's own.
    pub cacerts: Option<PathBuf>,
    pub trust_domain: TrustDomain,
    pub listen: SocketAddr,
    /// Default lifetime of workload certificates.
    pub workload_ttl: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("CA: {0}")]
    Ca(#[from] CaError),
    #[error("control plane identity: {0}")]
    Identity(#[from] verimesh_identity::SpiffeIdError),
    #[error("control plane certificate: {0}")]
    Certificate(#[from] FetchError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server stopped: {0}")]
    Server(String),
}

/// The control plane's SPIFFE ID in `trust_domain`.
pub fn control_identity(trust_domain: &TrustDomain) -> Result<SpiffeId, ControlError> {
    Ok(SpiffeId::workload(
        trust_domain,
        CONTROL_NAMESPACE,
        CONTROL_SERVICE_ACCOUNT,
    )?)
}

/// Loads `ca` (or the one in the options) and starts serving; returns once listening.
pub async fn start(opts: ControlOptions) -> Result<ControlServer, ControlError> {
    let ca = load_ca(&opts)?;
    start_with_ca(Arc::new(ca), &opts).await
}

/// The CA the options name: plugged in (cacerts) or the state directory's own, created on
/// first use.
pub fn load_ca(opts: &ControlOptions) -> Result<Ca, ControlError> {
    let ca = match &opts.cacerts {
        Some(dir) => Ca::load_cacerts(dir, opts.trust_domain.clone())?,
        None => {
            let (ca, created) = Ca::load_or_create(&opts.state_dir, opts.trust_domain.clone())?;
            if created {
                tracing::info!(dir = %opts.state_dir.display(), "created a new self-signed root CA");
            }
            ca
        }
    };
    Ok(ca.with_ttls(opts.workload_ttl, DEFAULT_MAX_WORKLOAD_TTL))
}

/// Starts serving with an already loaded CA, and a config hub that knows no proxy yet (every
/// config stream is refused).
pub async fn start_with_ca(
    ca: Arc<Ca>,
    opts: &ControlOptions,
) -> Result<ControlServer, ControlError> {
    let hub = Arc::new(ConfigHub::new(Arc::new(NoPlacements)));
    start_with(ca, opts, hub).await
}

/// Starts serving with an already loaded CA, streaming configs from `hub` (which the caller
/// keeps feeding, and which may outlive this server: a restarted server can reuse it).
pub async fn start_with(
    ca: Arc<Ca>,
    opts: &ControlOptions,
    hub: Arc<ConfigHub>,
) -> Result<ControlServer, ControlError> {
    let identity = control_identity(&opts.trust_domain)?;
    // The control plane's own certificate, rotated by the same machinery as a workload's.
    let signer = LocalSigner {
        ca: ca.clone(),
        identity: identity.clone(),
        ttl: Some(opts.workload_ttl),
    };
    let watcher =
        CertificateWatcher::start(identity.clone(), signer, RotationOptions::default()).await?;
    let auth = Authenticators(vec![
        Box::new(ClientCertAuthenticator {
            trust_domain: opts.trust_domain.clone(),
        }),
        Box::new(BootstrapTokenAuthenticator {
            tokens: TokenStore::new(&opts.state_dir, opts.trust_domain.clone()),
        }),
    ]);
    let service = CaService {
        ca,
        auth: Arc::new(auth),
    };
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ControlError::Listen {
            addr: opts.listen,
            source,
        })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| ControlError::Listen {
            addr: opts.listen,
            source,
        })?;
    let services = Services {
        ca: service,
        config: ConfigService::new(hub.clone()),
    };
    let task = tokio::spawn(serve(
        listener,
        services,
        watcher.source(),
        SpiffeMatcher::TrustDomain(opts.trust_domain.clone()),
    ));
    Ok(ControlServer {
        local_addr,
        identity,
        hub,
        task,
        _watcher: watcher,
    })
}

/// A running control plane; dropping it stops it.
#[derive(Debug)]
pub struct ControlServer {
    local_addr: SocketAddr,
    identity: SpiffeId,
    hub: Arc<ConfigHub>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _watcher: CertificateWatcher,
}

impl ControlServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
    pub fn identity(&self) -> &SpiffeId {
        &self.identity
    }
    /// The hub whose configs this server streams to proxies.
    pub fn config_hub(&self) -> &Arc<ConfigHub> {
        &self.hub
    }
    /// Runs until the server fails.
    pub async fn wait(mut self) -> Result<(), ControlError> {
        match (&mut self.task).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ControlError::Server(e.to_string())),
            Err(e) => Err(ControlError::Server(e.to_string())),
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
