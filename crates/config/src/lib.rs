//! verimesh's configuration model: Istio networking and security resources, the Kubernetes
//! kinds a mesh needs, verimesh's own Application and SecureIngress, and the mesh config —
//! loaded from YAML with positions, decoded into types, and validated.

pub mod diag;
pub mod envoy_filter;
pub mod gateway_api;
pub mod k8s;
pub mod kind;
pub mod load;
pub mod mesh;
pub mod meta;
pub mod networking;
pub mod protocol;
pub mod resource;
pub mod security;
pub mod telemetry;
pub mod types;
pub mod validate;
pub mod verimesh;
pub mod yaml;

pub use diag::{Diagnostic, Level, Origin, ResourceRef, Stage};
pub use kind::{Body, Kind};
pub use load::{load_paths, load_str, Loaded};
pub use meta::ObjectMeta;
pub use resource::Resource;
