//! Reading the start of a request body without taking it from the request: an external
//! authorizer may ask to see the body, and what it judged must still reach the application.
//! The frames read are kept and replayed ahead of the rest of the stream.

use crate::body::{Body, BoxError};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Frame;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What was read of a body.
pub struct Peeked {
    /// Every data byte read (at most one frame beyond `limit`).
    pub data: Bytes,
    /// The body ended within what was read.
    pub complete: bool,
    /// The whole body again, for the request: what was read, then the rest.
    pub body: Body,
}

/// Reads `body` until it ends or more than `limit` data bytes have been read.
pub async fn peek(mut body: Body, limit: usize) -> Result<Peeked, BoxError> {
    let mut frames = VecDeque::new();
    let mut data = BytesMut::new();
    let mut complete = false;
    while data.len() <= limit {
        match body.frame().await {
            None => {
                complete = true;
                break;
            }
            Some(frame) => {
                let frame = frame?;
                if let Some(d) = frame.data_ref() {
                    data.extend_from_slice(d);
                }
                // Trailers end the body.
                let last = frame.is_trailers();
                frames.push_back(frame);
                if last {
                    complete = true;
                    break;
                }
            }
        }
    }
    let rest = (!complete).then_some(body);
    Ok(Peeked {
        data: data.freeze(),
        complete,
        body: Replay { frames, rest }.boxed(),
    })
}

struct Replay {
    frames: VecDeque<Frame<Bytes>>,
    rest: Option<Body>,
}

impl hyper::body::Body for Replay {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(f) = this.frames.pop_front() {
            return Poll::Ready(Some(Ok(f)));
        }
        match &mut this.rest {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty() && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body;
    use http_body_util::StreamBody;

    fn chunks(parts: &[&'static str]) -> Body {
        let frames: Vec<Result<Frame<Bytes>, BoxError>> = parts
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from_static(p.as_bytes()))))
            .collect();
        StreamBody::new(futures_stream(frames)).boxed()
    }

    /// A stream of ready items without a futures dependency.
    fn futures_stream(
        items: Vec<Result<Frame<Bytes>, BoxError>>,
    ) -> impl futures_core::Stream<Item = Result<Frame<Bytes>, BoxError>> + Send + Sync + 'static
    {
        struct Iter(std::vec::IntoIter<Result<Frame<Bytes>, BoxError>>);
        impl futures_core::Stream for Iter {
            type Item = Result<Frame<Bytes>, BoxError>;
            fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                Poll::Ready(self.get_mut().0.next())
            }
        }
        Iter(items.into_iter())
    }

    async fn all(b: Body) -> Bytes {
        b.collect().await.expect("body").to_bytes()
    }

    #[tokio::test]
    async fn a_short_body_is_read_whole_and_replayed() {
        let p = peek(body::full("hello"), 10).await.expect("peek");
        assert!(p.complete);
        assert_eq!(&p.data[..], b"hello");
        assert_eq!(&all(p.body).await[..], b"hello");
    }

    #[tokio::test]
    async fn a_long_body_stops_past_the_limit_and_nothing_is_lost() {
        let p = peek(chunks(&["abc", "def", "ghi", "jkl"]), 4)
            .await
            .expect("peek");
        assert!(!p.complete);
        assert_eq!(&p.data[..], b"abcdef");
        assert_eq!(&all(p.body).await[..], b"abcdefghijkl");
    }

    #[tokio::test]
    async fn an_empty_body_is_complete() {
        let p = peek(body::empty(), 4).await.expect("peek");
        assert!(p.complete && p.data.is_empty());
        assert!(hyper::body::Body::is_end_stream(&p.body));
    }
}
