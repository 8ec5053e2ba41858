//! One stream's state, shared by the connection (which reads and writes its frames) and the
//! handles its users hold.

use crate::error::{Error, Initiator, Reason};
use bytes::Bytes;
use http::HeaderMap;
use std::collections::VecDeque;
use std::task::Waker;

/// The head a stream received: a request (server side) or a response (client side).
pub(crate) enum ReceivedHead {
    Request(http::request::Parts),
    Response(http::response::Parts),
}

pub(crate) struct Stream {
    /// Opened by this end.
    pub local: bool,
    /// Handles alive (a server stream waiting to be accepted counts as one): the stream is
    /// forgotten only when none is left.
    pub refs: usize,
    /// Still counted against the concurrency limit.
    pub counted: bool,

    // Receiving.
    /// Someone may still read what arrives; once not, data is given back as it comes.
    pub reading: bool,
    pub head: Option<ReceivedHead>,
    pub head_received: bool,
    pub data: VecDeque<Bytes>,
    /// Bytes in `data`, given back to the windows when they are read or dropped.
    pub buffered: usize,
    pub trailers: Option<HeaderMap>,
    pub recv_closed: bool,
    /// What the peer may still send before a WINDOW_UPDATE.
    pub recv_window: i64,
    /// Bytes read (or discarded) but not yet given back in a WINDOW_UPDATE.
    pub recv_unreleased: u32,
    /// What a declared content-length still expects (RFC 9113 section 8.1.1).
    pub content_length: Option<u64>,
    /// A response that has no body whatever its content-length says (to HEAD).
    pub is_head_request: bool,
    pub recv_waker: Option<Waker>,

    // Sending.
    pub headers_sent: bool,
    pub send_window: i64,
    pub queue: VecDeque<Bytes>,
    pub queued: usize,
    pub end_queued: bool,
    pub trailers_queued: Option<HeaderMap>,
    /// END_STREAM has been written to the connection's output.
    pub send_done: bool,
    /// Waiting in the connection's list for connection-level send window.
    pub in_blocked: bool,
    pub send_waker: Option<Waker>,

    pub reset: Option<(Reason, Initiator)>,
    /// Why the stream failed, when it was not a plain reset (a malformed message, GOAWAY).
    pub error: Option<Error>,
}

impl Stream {
    pub fn new(local: bool, recv_window: u32, send_window: u32) -> Stream {
        Stream {
            local,
            refs: 0,
            counted: true,
            reading: true,
            head: None,
            head_received: false,
            data: VecDeque::new(),
            buffered: 0,
            trailers: None,
            recv_closed: false,
            recv_window: i64::from(recv_window),
            recv_unreleased: 0,
            content_length: None,
            is_head_request: false,
            recv_waker: None,
            headers_sent: false,
            send_window: i64::from(send_window),
            queue: VecDeque::new(),
            queued: 0,
            end_queued: false,
            trailers_queued: None,
            send_done: false,
            in_blocked: false,
            send_waker: None,
            reset: None,
            error: None,
        }
    }

    /// Both directions are over: the stream no longer counts against concurrency.
    pub fn is_closed(&self) -> bool {
        self.reset.is_some() || (self.recv_closed && self.send_done)
    }

    /// The error this stream's own state reports, if any.
    pub fn own_error(&self) -> Option<Error> {
        if let Some(e) = &self.error {
            return Some(e.clone());
        }
        self.reset
            .map(|(reason, initiator)| Error::Reset { reason, initiator })
    }

    pub fn wake_all(&mut self) {
        if let Some(w) = self.recv_waker.take() {
            w.wake();
        }
        if let Some(w) = self.send_waker.take() {
            w.wake();
        }
    }

    pub fn set_recv_waker(&mut self, waker: &Waker) {
        match &self.recv_waker {
            Some(w) if w.will_wake(waker) => {}
            _ => self.recv_waker = Some(waker.clone()),
        }
    }

    pub fn set_send_waker(&mut self, waker: &Waker) {
        match &self.send_waker {
            Some(w) if w.will_wake(waker) => {}
            _ => self.send_waker = Some(waker.clone()),
        }
    }
}

/// The remaining length a content-length header declares: `Err` when it is not one valid
/// number (repeated values must agree).
pub(crate) fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, &'static str> {
    let mut found = None;
    for value in headers.get_all(http::header::CONTENT_LENGTH) {
        let text = value.to_str().map_err(|_| "an invalid content-length")?;
        for part in text.split(',') {
            let n: u64 = part
                .trim()
                .parse()
                .map_err(|_| "an invalid content-length")?;
            if found.is_some_and(|f| f != n) {
                return Err("conflicting content-length values");
            }
            found = Some(n);
        }
    }
    Ok(found)
}
