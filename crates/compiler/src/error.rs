//! Why a proxy's config could not be compiled. Problems in the resources themselves are not
//! errors: they compile to what Istio would do (usually a 503) and are reported as notes.

use verimesh_model::ModelError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompileError {
    #[error("no instance {namespace}/{name} in the placement")]
    UnknownInstance { namespace: String, name: String },
    #[error("instance {namespace}/{name} runs no sidecar proxy, so it has no proxy config")]
    NoSidecar { namespace: String, name: String },
    #[error("invalid trust domain {0:?}")]
    TrustDomain(String),
    /// The compiler produced a config the proxy would refuse: a compiler bug, never input.
    #[error("compiled config is inconsistent: {0}")]
    Inconsistent(#[from] ModelError),
}
