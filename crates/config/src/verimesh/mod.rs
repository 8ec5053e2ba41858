//! verimesh.io kinds: Application (app developers) and SecureIngress (platform operators).

mod application;
mod secure_ingress;

pub use application::*;
pub use secure_ingress::*;
