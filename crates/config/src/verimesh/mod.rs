//! verimesh.io kinds: Application (app developers) and SecureIngress (platform operators).
//! docs/config/application-and-secureingress.md describes both and what they turn into.

mod application;
mod application_rules;
mod secure_ingress;
mod secure_ingress_rules;

pub use application::*;
pub use secure_ingress::*;
