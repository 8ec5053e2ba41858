//! Inbound: a connection to one of the workload's ports, redirected to the proxy. Mesh mTLS
//! (a ClientHello offering the mesh ALPN) is terminated; anything else is plaintext, passed
//! to the application only when the port's mTLS mode allows it.

use super::error::ConnError;
use super::mesh_tls::{MeshTls, MESH_ALPN};
use super::outbound::{connect, copy};
use super::state::State;
use crate::detect::{detect, Detected, MAX_CLIENT_HELLO};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;
use verimesh_model::MtlsMode;

const APP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A peer that starts a handshake and stalls must not hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn handle(
    mut peer: TcpStream,
    dst: SocketAddr,
    state: &State,
    tls: &MeshTls,
    detect_timeout: Duration,
) -> Result<(), ConnError> {
    let port = dst.port();
    let mode = state.config.inbound.mtls_on(port);
    let app_addr = SocketAddr::new(state.config.inbound.app_address, port);
    if mode == MtlsMode::Disable {
        // Istio's DISABLE: the proxy does not terminate TLS; bytes go to the app as they are.
        let mut app = connect(app_addr, APP_CONNECT_TIMEOUT).await?;
        return copy(&mut peer, &mut app).await;
    }
    if is_mesh_tls(&peer, detect_timeout).await? {
        let mut stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor().accept(peer))
            .await
            .map_err(|_| ConnError::HandshakeTimeout(dst))?
            .map_err(|source| ConnError::Handshake { addr: dst, source })?;
        let peer_id = verimesh_identity::tls::peer_identity(stream.get_ref().1);
        tracing::debug!(port, peer = ?peer_id.map(|p| p.to_string()), "inbound mTLS");
        let mut app = connect(app_addr, APP_CONNECT_TIMEOUT).await?;
        return copy(&mut stream, &mut app).await;
    }
    if mode == MtlsMode::Strict {
        return Err(ConnError::PlaintextRefused(port));
    }
    let mut app = connect(app_addr, APP_CONNECT_TIMEOUT).await?;
    copy(&mut peer, &mut app).await
}

/// Peeks (without consuming) until the first bytes decide, or `timeout` passes (a client
/// that waits for the server to speak first is plaintext).
async fn is_mesh_tls(stream: &TcpStream, timeout: Duration) -> Result<bool, ConnError> {
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; MAX_CLIENT_HELLO];
    let mut seen = 0;
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => return Ok(false),
        };
        if n == 0 {
            // Closed before saying anything.
            return Ok(false);
        }
        match detect(&buf[..n]) {
            Detected::Tls(hello) => {
                return Ok(hello.alpn.iter().any(|a| a.as_bytes() == MESH_ALPN))
            }
            Detected::NeedMore if n < buf.len() => {}
            _ => return Ok(false),
        }
        if n == seen {
            // No new bytes since the last peek: wait a little instead of spinning.
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        seen = n;
    }
}
