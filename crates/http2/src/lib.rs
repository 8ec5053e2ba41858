//! HTTP/2 (RFC 9113) for the link between verimesh proxies, and for the inbound side of a
//! workload that is spoken to in HTTP/2.
//!
//! Built for a proxy on a single-threaded runtime, where every wake-up of a task is time on
//! the request's path: a request's own task encodes and writes its frames (no hand-off to a
//! connection task), stream handles settle their bookkeeping in place (no wake-up of the
//! connection when one is dropped), and the connection's task runs only when the transport
//! has bytes for it. Header compression is HPACK with the strings sent raw.

mod client;
mod conn;
mod error;
mod fields;
mod frame;
pub mod hpack;
mod server;
mod settings;
mod streams;
mod timers;

pub use client::{handshake as client_handshake, Client, Connection, ResponseFuture};
pub use conn::Transport;
pub use error::{Error, Initiator, Reason};
pub use server::{handshake as server_handshake, SendResponse, Server};
pub use settings::Config;
pub use streams::{RecvStream, SendStream};
pub use timers::Keepalive;

pub(crate) use conn::SEND_BUFFER;
