//! Test helpers: a control plane on 127.0.0.1, workloads that get certificates from it, and an
//! mTLS echo server.
#![allow(dead_code)]
// Test scaffolding: a failure here is a test failure.
#![allow(clippy::unwrap_used)]

pub mod config;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use verimesh_api::CaClient;
use verimesh_control::tokens::TokenStore;
use verimesh_control::{ControlOptions, ControlServer};
use verimesh_identity::tls::{self, ClientAuth};
use verimesh_identity::{
    CertificateWatcher, CredentialSource, RotationOptions, SpiffeId, SpiffeMatcher, TrustBundle,
    TrustDomain,
};

/// A directory for one test, removed when it is dropped (the test passed or panicked).
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("verimesh-control-{name}-"))
        .tempdir()
        .expect("temporary directory")
}

pub fn td() -> TrustDomain {
    TrustDomain::new("cluster.local").unwrap()
}

pub fn id(ns: &str, sa: &str) -> SpiffeId {
    SpiffeId::workload(&td(), ns, sa).unwrap()
}

pub fn opts(state_dir: &Path, cacerts: Option<PathBuf>, ttl: Duration) -> ControlOptions {
    ControlOptions {
        state_dir: state_dir.to_path_buf(),
        cacerts,
        trust_domain: td(),
        listen: "127.0.0.1:0".parse().unwrap(),
        workload_ttl: ttl,
    }
}

/// The trust bundle a workload is given out of band (the local mesh writes it beside its
/// bootstrap token).
pub fn bundle_of(state_dir: &Path) -> TrustBundle {
    let pem = std::fs::read_to_string(state_dir.join("ca/root-cert.pem")).unwrap();
    TrustBundle::from_pem(&pem).unwrap()
}

pub fn control_matcher() -> SpiffeMatcher {
    SpiffeMatcher::Exact(verimesh_control::control_identity(&td()).unwrap())
}

/// A CA client for workload `ns`/`sa` with a fresh bootstrap token.
pub fn client_for(
    server: &ControlServer,
    state_dir: &Path,
    bundle: TrustBundle,
    ns: &str,
    sa: &str,
) -> CaClient {
    let token = TokenStore::new(state_dir, td()).add(ns, sa).unwrap();
    CaClient::new(server.local_addr(), control_matcher(), bundle).with_bootstrap_token(token)
}

pub fn fast_rotation() -> RotationOptions {
    RotationOptions {
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        request_timeout: Duration::from_secs(3),
        start_timeout: Duration::from_secs(10),
        ..RotationOptions::default()
    }
}

/// Starts a workload's certificate watcher against the control plane; also presents the
/// workload's own certificate on renewals.
pub async fn workload(client: CaClient, ident: SpiffeId) -> CertificateWatcher {
    let w = CertificateWatcher::start(ident, client.clone(), fast_rotation())
        .await
        .unwrap();
    client.present_credentials(w.source());
    w
}

/// An mTLS line-echo server (prefixes each reply with "echo "); counts served lines.
pub struct Echo {
    pub addr: SocketAddr,
    pub served: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn echo_server(source: Arc<dyn CredentialSource>, clients: SpiffeMatcher) -> Echo {
    let config =
        tls::server_config(source, ClientAuth::Required(clients), &[tls::ALPN_H2]).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let (r, mut w) = tokio::io::split(tls);
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    counter.fetch_add(1, Ordering::Relaxed);
                    if w.write_all(format!("echo {line}\n").as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Echo { addr, served, task }
}
