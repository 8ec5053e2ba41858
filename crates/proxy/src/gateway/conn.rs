//! One client connection to a gateway listener: TLS terminated by SNI on HTTPS listeners,
//! then HTTP/1.1 or HTTP/2 (ALPN over TLS, the connection preface in plaintext), each
//! request handled by `http::gateway`.

use super::tls;
use crate::detect::Detected;
use crate::error::ConnError;
use crate::http::gateway::{self as http_gw, GatewayConn};
use crate::server::Shared;
use crate::sniff::sniff;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// A client that starts a handshake and stalls must not hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn handle(
    shared: Arc<Shared>,
    stream: TcpStream,
    remote: SocketAddr,
    dst: SocketAddr,
    port: u16,
) -> Result<(), ConnError> {
    let state = shared.state.load_full();
    let Some(listener) = state.gateway.as_ref().and_then(|g| g.listener(port)) else {
        // The port was dropped from the config while this connection was queued.
        return Ok(());
    };
    if !listener.https {
        let h2 = matches!(
            sniff(&stream, shared.detect_timeout).await?,
            Detected::Http2
        );
        let conn = Arc::new(GatewayConn {
            remote,
            dst,
            https: false,
            h2,
            sni: None,
        });
        let handler = move |req| http_gw::handle(shared.clone(), conn.clone(), req);
        crate::http::serve(stream, h2, handler).await?;
        return Ok(());
    }
    let handshake = async {
        let acceptor =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
        let start = acceptor.await?;
        let sni = start.client_hello().server_name().map(str::to_string);
        let Some(server) = tls::choose(&listener.tls, sni.as_deref()) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("no certificate for server name {sni:?}"),
            ));
        };
        let tls = start.into_stream(server.config.clone()).await?;
        Ok((tls, sni))
    };
    let (tls, sni) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| ConnError::HandshakeTimeout(dst))?
        .map_err(|source| ConnError::Handshake { addr: dst, source })?;
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let conn = Arc::new(GatewayConn {
        remote,
        dst,
        https: true,
        h2,
        sni,
    });
    let handler = move |req| http_gw::handle(shared.clone(), conn.clone(), req);
    crate::http::serve(tls, h2, handler).await?;
    Ok(())
}
