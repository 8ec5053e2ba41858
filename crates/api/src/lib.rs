//! The control plane ⇄ proxy API: protobuf definitions (in `proto/`), the code generated from
//! them (checked in under `src/gen/`, kept current by the `generated` test), the client side of
//! the CA's signing service, and the proxy's side of the config stream.
#![forbid(unsafe_code)]

pub mod ca_client;
pub mod config_client;
mod connect;
pub mod resource;

pub use ca_client::{CaClient, CaClientError};
pub use config_client::{ClientStatus, ConfigCheck, ConfigClient, ConfigClientOptions, Update};
pub use resource::ResourceName;

/// `verimesh.ca.v1`: the certificate signing service.
pub mod ca {
    pub mod v1 {
        #![allow(clippy::all, clippy::unwrap_used, missing_docs)]
        include!("gen/verimesh.ca.v1.rs");
    }
}

/// `verimesh.config.v1`: streaming each proxy's compiled config (incremental-xDS-style
/// resources with content versions, nonces, ACK/NACK). Each resource travels as the JSON of
/// its part of `verimesh_model::ProxyConfig` (see [`resource`]).
pub mod config {
    pub mod v1 {
        #![allow(clippy::all, clippy::unwrap_used, missing_docs)]
        include!("gen/verimesh.config.v1.rs");
    }
}
