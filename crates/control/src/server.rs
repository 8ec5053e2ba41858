//! The control plane's gRPC port: TLS 1.3 with the control plane's own SPIFFE certificate
//! (rotated like any workload's), client certificates optional (a workload without one yet
//! authenticates with its bootstrap token), HTTP/2 served by hyper, one task per connection.

use crate::service::{CaService, ConnInfo};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use verimesh_api::ca::v1::certificate_service_server::CertificateServiceServer;
use verimesh_identity::tls::{self, ClientAuth};
use verimesh_identity::{CredentialSource, SpiffeMatcher};

/// A TLS handshake slower than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many connections are served at once; more wait in the accept queue.
const MAX_CONNECTIONS: usize = 1024;

/// Serves `service` on `listener` until the task is aborted.
pub async fn serve(
    listener: TcpListener,
    service: CaService,
    source: Arc<dyn CredentialSource>,
    clients: SpiffeMatcher,
) -> std::io::Result<()> {
    let config = tls::server_config(source, ClientAuth::Optional(clients), &[tls::ALPN_H2])
        .map_err(std::io::Error::other)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
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
        let service = service.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = serve_connection(acceptor, tcp, remote, service).await {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        });
    }
}

async fn serve_connection(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    remote: SocketAddr,
    service: CaService,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tcp.set_nodelay(true)?;
    let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
        .await
        .map_err(|_| "TLS handshake timed out")??;
    let info = ConnInfo {
        remote,
        peer: tls::peer_identity(tls.get_ref().1),
    };
    let grpc = CertificateServiceServer::new(service);
    let svc = tower::ServiceBuilder::new()
        .map_request(move |mut req: tonic::codegen::http::Request<_>| {
            req.extensions_mut().insert(info.clone());
            req
        })
        .service(grpc);
    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(svc))
        .await?;
    Ok(())
}
