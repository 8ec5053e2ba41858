//! The control plane ⇄ proxy API: protobuf definitions (in `proto/`), the code generated from
//! them (checked in under `src/gen/`, kept current by the `generated` test), the client side of
//! the CA's signing service, and the proxy's side of the config stream.
#![forbid(unsafe_code)]

pub mod ca_client;
pub mod config_client;
mod connect;

pub use ca_client::{CaClient, CaClientError};
pub use config_client::{ClientStatus, ConfigClient, ConfigClientOptions};

/// `verimesh.ca.v1`: the certificate signing service.
pub mod ca {
    pub mod v1 {
        #![allow(clippy::all, clippy::unwrap_used, missing_docs)]
        include!("gen/verimesh.ca.v1.rs");
    }
}

/// `verimesh.config.v1`: streaming each proxy's compiled config (xDS-style versions, nonces,
/// ACK/NACK). The config travels as the JSON of `verimesh_model::ProxyConfig`.
pub mod config {
    pub mod v1 {
        #![allow(clippy::all, clippy::unwrap_used, missing_docs)]
        include!("gen/verimesh.config.v1.rs");
    }
}
