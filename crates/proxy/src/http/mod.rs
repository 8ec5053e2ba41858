//! The HTTP proxy: serving downstream connections with hyper, routing, forwarding through
//! pooled upstream connections, and the exchange record behind access logs and metrics.

mod authz;
mod ext_authz;
mod ext_authz_attrs;
mod ext_authz_grpc;
mod forward;
pub mod gateway;
pub mod h2_server;
pub(crate) mod headers;
pub mod inbound;
mod normal_form;
pub mod outbound;
mod peek_body;
mod request;
mod respond;
mod retry;

pub use headers::{peer_value, XFCC};

use crate::body::Body;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::future::Future;
use tokio::io::{AsyncRead, AsyncWrite};

/// Serves one downstream connection until it closes: HTTP/2 when `h2`, else HTTP/1.1 with
/// upgrades.
pub async fn serve<I, F, Fut>(io: I, h2: bool, handler: F) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    F: Fn(Request<Incoming>) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        // Boxed so that hyper spawning the request (HTTP/2 streams are tasks) moves a
        // pointer, not the whole state machine.
        let fut = Box::pin(handler(req));
        async move { Ok::<_, Infallible>(fut.await) }
    });
    let io = TokioIo::new(io);
    if h2 {
        hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(1 << 20)
            .initial_connection_window_size(4 << 20)
            .max_concurrent_streams(1024)
            .serve_connection(io, svc)
            .await
    } else {
        hyper::server::conn::http1::Builder::new()
            .serve_connection(io, svc)
            .with_upgrades()
            .await
    }
}
