//! Bodies over HTTP/2 streams (`verimesh_http2`), for both the mesh HTTP/2 client and the
//! inbound HTTP/2 server: a body pumped into a stream as the stream's buffer allows, and a
//! stream read as a body (the stream gives back receive window as it is read).

use crate::body::{Body, BoxError};
use bytes::Bytes;
use hyper::body::{Body as _, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use verimesh_http2::{Reason, RecvStream, SendStream};

/// Sends a body (a request's, or a response's) on its stream. Each chunk waits for room in
/// the stream's send buffer (the first always has it), so a slow peer bounds what is
/// buffered.
pub struct SendBody {
    body: Body,
    stream: SendStream,
}

impl SendBody {
    pub fn new(body: Body, stream: SendStream) -> Self {
        SendBody { body, stream }
    }
}

impl Future for SendBody {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            if ready!(this.stream.poll_ready(cx)).is_err() {
                // The stream was reset or the connection ended.
                return Poll::Ready(());
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
                    this.stream.send_reset(Reason::INTERNAL_ERROR);
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
                Some(Ok(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
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
