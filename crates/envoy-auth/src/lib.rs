//! Envoy's external authorization gRPC API (`envoy.service.auth.v3.Authorization/Check`), the
//! part verimesh speaks: the proxy asks an `envoyExtAuthzGrpc` provider with it, and the demo
//! app answers it as Istio's ext-authz sample does.
//!
//! The messages are written by hand with prost's derives rather than generated: the full
//! protos pull in Envoy's whole `config.core` tree, validation annotations and xDS types, for
//! a dozen fields. Field numbers and wire types are Envoy's; fields verimesh does not use are
//! left out, and prost skips them when decoding, as protobuf allows.

mod frame;
mod messages;

pub use frame::{decode, encode, FrameError, MAX_MESSAGE_BYTES};
pub use messages::*;

/// The HTTP/2 path of the one RPC.
pub const CHECK_PATH: &str = "/envoy.service.auth.v3.Authorization/Check";

/// The gRPC status codes this API's users look at (google.rpc.Code).
pub mod code {
    pub const OK: i32 = 0;
    pub const UNKNOWN: i32 = 2;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const UNAUTHENTICATED: i32 = 16;
}
