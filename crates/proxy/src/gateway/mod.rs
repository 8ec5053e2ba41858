//! The gateway role: listeners on the ports a gateway's config names, TLS terminated by
//! SNI, requests routed by virtual host (see `http::gateway`).

pub mod conn;
pub mod listeners;
pub mod state;
pub mod tls;

pub use listeners::GatewayListeners;
pub use state::{GatewayState, GatewayStateError};
