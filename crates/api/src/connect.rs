//! Channels to the control plane: TCP, then TLS with the identity crate's client config (the
//! control plane verified by SPIFFE ID, not by name), then HTTP/2 for tonic.

use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint};

/// The name sent in the TLS SNI; the control plane is verified by SPIFFE ID, not by name.
const SNI: &str = "verimesh-control";

/// How the channel behaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelOptions {
    pub connect_timeout: Duration,
    /// A deadline for each whole call; `None` for long-lived streams.
    pub request_timeout: Option<Duration>,
    /// HTTP/2 pings while idle, so a control plane that vanished without closing the
    /// connection is noticed.
    pub keepalive: Option<Duration>,
}

/// Connects to `addr` over mesh TLS.
pub(crate) async fn channel(
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    opts: ChannelOptions,
) -> Result<Channel, tonic::transport::Error> {
    let connector = tower::service_fn(move |_: tonic::codegen::http::Uri| {
        let tls = tls.clone();
        async move {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from(SNI)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            let tls = tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    let mut endpoint =
        Endpoint::from_static("http://verimesh-control").connect_timeout(opts.connect_timeout);
    if let Some(t) = opts.request_timeout {
        endpoint = endpoint.timeout(t);
    }
    if let Some(interval) = opts.keepalive {
        endpoint = endpoint
            .http2_keep_alive_interval(interval)
            .keep_alive_timeout(interval)
            .keep_alive_while_idle(true);
    }
    endpoint.connect_with_connector(connector).await
}
