//! The control plane's gRPC port: TLS 1.3 with the control plane's own SPIFFE certificate
//! (rotated like any workload's), client certificates optional (a workload without one yet
//! authenticates to the CA with its bootstrap token; the config stream requires one), HTTP/2
//! served by hyper, one task per connection. Both gRPC services share the port, routed by path.

use crate::config::{ConfigService, STREAM_PATH};
use crate::service::{CaService, ConnInfo};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::Service;
use verimesh_api::ca::v1::certificate_service_server::CertificateServiceServer;
use verimesh_identity::tls::{self, ClientAuth};
use verimesh_identity::{CredentialSource, SpiffeMatcher};

/// A TLS handshake slower than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many connections are served at once; more wait in the accept queue. Every
/// connected proxy holds one for its config stream.
const MAX_CONNECTIONS: usize = 16_384;
/// HTTP/2 pings on idle connections, so a proxy that vanished without closing its connection
/// (host gone, network cut) is noticed and shown disconnected.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// The gRPC services served on the port.
#[derive(Debug, Clone)]
pub struct Services {
    pub ca: CaService,
    pub config: ConfigService,
}

/// Serves `services` on `listener` until the task is aborted; open connections end with it.
pub async fn serve(
    listener: TcpListener,
    services: Services,
    source: Arc<dyn CredentialSource>,
    clients: SpiffeMatcher,
) -> std::io::Result<()> {
    let config = tls::server_config(source, ClientAuth::Optional(clients), &[tls::ALPN_H2])
        .map_err(std::io::Error::other)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // Owned here so that stopping the server (aborting this task) closes every connection,
    // which is what a proxy sees when the control plane restarts.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let permit = limit
            .clone()
            .acquire_owned()
            .await
            .map_err(std::io::Error::other)?;
        let (tcp, remote) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly, keep serving.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let services = services.clone();
        connections.spawn(async move {
            let _permit = permit;
            if let Err(e) = serve_connection(acceptor, tcp, remote, services).await {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        });
    }
}

async fn serve_connection(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    remote: SocketAddr,
    services: Services,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tcp.set_nodelay(true)?;
    let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
        .await
        .map_err(|_| "TLS handshake timed out")??;
    let info = ConnInfo {
        remote,
        peer: tls::peer_identity(tls.get_ref().1),
        peer_not_after: peer_not_after(tls.get_ref().1),
    };
    let ca = CertificateServiceServer::new(services.ca);
    let config: ConfigService = services.config;
    let router = tower::service_fn(move |mut req: tonic::codegen::http::Request<_>| {
        req.extensions_mut().insert(info.clone());
        let to_config = req.uri().path() == STREAM_PATH;
        let mut ca = ca.clone();
        let config = config.clone();
        async move {
            // Anything not for the config stream goes to the CA service, which answers
            // unknown methods with UNIMPLEMENTED.
            if to_config {
                Ok(config.call(req).await)
            } else {
                ca.call(req).await
            }
        }
    });
    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(KEEPALIVE_INTERVAL))
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(router))
        .await?;
    Ok(())
}

/// The expiry of the client's leaf certificate, if it presented one.
fn peer_not_after(conn: &rustls::ServerConnection) -> Option<std::time::SystemTime> {
    let leaf = conn.peer_certificates()?.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    let secs = u64::try_from(cert.validity().not_after.timestamp()).ok()?;
    Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}
