//! The L4 proxy: opaque TCP between workloads over mesh mutual TLS. One plain async function
//! per connection (`outbound::handle`, `inbound::handle`), no framework in the path.

mod error;
mod inbound;
mod mesh_tls;
mod outbound;
mod server;
mod state;

pub use error::{ConnError, ProxyError};
pub use mesh_tls::MESH_ALPN;
pub use server::{start, OriginalDst, Proxy, ProxyOptions};
