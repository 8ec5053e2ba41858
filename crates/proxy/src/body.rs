//! The one body type requests and responses carry through the proxy: boxed, so received
//! bodies, buffered bodies (retries) and generated ones (errors, redirects) mix freely.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = BoxBody<Bytes, BoxError>;

pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn incoming(body: hyper::body::Incoming) -> Body {
    body.map_err(BoxError::from).boxed()
}
