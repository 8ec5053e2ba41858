//! Bodies over `h2` streams, for both the mesh HTTP/2 client and the inbound HTTP/2 server:
//! a body pumped into a stream as send window allows, and a stream read as a body that gives
//! back receive window as it is consumed.

use crate::body::{Body, BoxError};
use bytes::Bytes;
use h2::{RecvStream, SendStream};
use hyper::body::{Body as _, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// Sends a body (a request's, or a response's) on its stream. The first chunk goes without waiting for send window
/// (h2 holds it until the stream opens; it is one chunk, as hyper's own pump allows); after
/// that each chunk waits for window, so a slow upstream bounds what is buffered.
pub struct SendBody {
    body: Body,
    stream: SendStream<Bytes>,
    first: bool,
}

impl SendBody {
    pub fn new(body: Body, stream: SendStream<Bytes>) -> Self {
        SendBody {
            body,
            stream,
            first: true,
        }
    }
}

impl Future for SendBody {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            if !this.first {
                this.stream.reserve_capacity(1);
                while this.stream.capacity() == 0 {
                    match ready!(this.stream.poll_capacity(cx)) {
                        Some(Ok(_)) => {}
                        // The stream was reset or the connection ended.
                        Some(Err(_)) | None => return Poll::Ready(()),
                    }
                }
            }
            let frame = match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Pending => {
                    // Waiting on the client: stop early if the upstream gives up meanwhile.
                    if this.stream.poll_reset(cx).is_ready() {
                        return Poll::Ready(());
                    }
                    return Poll::Pending;
                }
                Poll::Ready(None) => {
                    let _ = this.stream.send_data(Bytes::new(), true);
                    return Poll::Ready(());
                }
                Poll::Ready(Some(Err(e))) => {
                    tracing::debug!("request body: {e}");
                    this.stream.send_reset(h2::Reason::INTERNAL_ERROR);
                    return Poll::Ready(());
                }
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            match frame.into_data() {
                Ok(data) => {
                    let end = this.body.is_end_stream();
                    if data.is_empty() && !end {
                        continue;
                    }
                    this.first = false;
                    if this.stream.send_data(data, end).is_err() || end {
                        return Poll::Ready(());
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        let _ = this.stream.send_trailers(trailers);
                        return Poll::Ready(());
                    }
                }
            }
        }
    }
}

/// A body (a response's, or a request's) read from its stream, giving back receive window as it is consumed.
pub struct RecvBody {
    stream: RecvStream,
    data_done: bool,
}

impl RecvBody {
    pub fn new(stream: RecvStream) -> Self {
        RecvBody {
            stream,
            data_done: false,
        }
    }
}

impl hyper::body::Body for RecvBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if !self.data_done {
            match ready!(self.stream.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = self.stream.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                None => self.data_done = true,
            }
        }
        match ready!(self.stream.poll_trailers(cx)) {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e.into()))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.stream.is_end_stream() {
            SizeHint::with_exact(0)
        } else {
            SizeHint::default()
        }
    }
}
