//! What this end writes: DATA as the windows allow, trailers, resets, WINDOW_UPDATEs for
//! what has been read, and the bookkeeping that forgets a stream once nobody holds it.

use super::stream::Stream;
use super::{Inner, SEND_BUFFER};
use crate::error::{Error, Initiator, Reason};
use crate::fields;
use crate::frame;
use bytes::Bytes;
use http::HeaderMap;

impl Inner {
    /// Gives `n` bytes the peer sent back to the connection's window and, with a stream,
    /// to that stream's: a WINDOW_UPDATE goes out once half a window has been read, so a
    /// steady sender is never stalled and small reads do not each cost a frame.
    pub(crate) fn release(&mut self, stream: Option<u32>, n: usize) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.recv_unreleased = self.recv_unreleased.saturating_add(n);
        if self.recv_unreleased >= self.config.connection_window / 2 {
            frame::put_window_update(&mut self.out, 0, self.recv_unreleased);
            self.recv_window += i64::from(self.recv_unreleased);
            self.recv_unreleased = 0;
        }
        let Some(id) = stream else {
            return;
        };
        let half = self.config.stream_window / 2;
        if let Some(s) = self.streams.get_mut(&id) {
            if s.recv_closed || s.reset.is_some() {
                return;
            }
            s.recv_unreleased = s.recv_unreleased.saturating_add(n);
            if s.recv_unreleased >= half {
                frame::put_window_update(&mut self.out, id, s.recv_unreleased);
                s.recv_window += i64::from(s.recv_unreleased);
                s.recv_unreleased = 0;
            }
        }
    }

    /// Drops what a stream had received and nobody will read, giving it back to the
    /// connection's window (and to the stream's, while the peer may still send on it).
    pub(crate) fn discard_buffered(&mut self, id: u32) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        let n = s.buffered;
        s.data.clear();
        s.buffered = 0;
        if n > 0 {
            self.release(Some(id), n);
        }
    }

    /// Nobody will read this stream's body: what it holds, and what still arrives, goes back
    /// to both windows at once, so an unread body cannot use up the connection's window and
    /// stall the other streams (nor leave its sender stuck on the stream's).
    pub(crate) fn stop_reading(&mut self, id: u32) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        if !s.reading {
            return;
        }
        s.reading = false;
        s.trailers = None;
        self.discard_buffered(id);
    }

    /// Resets a stream from this end (a stream error, or its user giving up on it).
    pub(crate) fn reset_stream(&mut self, id: u32, reason: Reason, why: Option<&'static str>) {
        frame::put_rst_stream(&mut self.out, id, reason);
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        if s.reset.is_some() {
            return;
        }
        if let Some(why) = why {
            tracing::debug!(stream = id, "malformed HTTP/2 message: {why}");
            s.error = Some(Error::Malformed(why));
        }
        s.reset = Some((reason, Initiator::Local));
        s.queue.clear();
        s.queued = 0;
        s.trailers_queued = None;
        s.wake_all();
        self.discard_buffered(id);
        self.settle(id);
    }

    /// Brings a stream's bookkeeping up to date after a change: a closed stream stops
    /// counting against concurrency, and one nobody holds is finished off and forgotten.
    pub(crate) fn settle(&mut self, id: u32) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        if s.counted && s.is_closed() {
            s.counted = false;
            if s.local {
                self.local_open -= 1;
                if let Some(w) = self.open_waiters.pop_front() {
                    w.wake();
                }
            } else {
                self.remote_open -= 1;
            }
        }
        if s.refs > 0 {
            return;
        }
        if s.reset.is_none() {
            if !s.end_queued {
                // Its sender went away before the end of the message.
                self.reset_stream(id, Reason::CANCEL, None);
                return;
            }
            if !s.send_done {
                // Data with END_STREAM still waits for window: it goes out first.
                return;
            }
            if !s.recv_closed {
                // Nobody reads the rest: a client cancels; a server that has answered in
                // full asks the client to stop sending (RFC 9113 section 8.1).
                let reason = if self.is_client {
                    Reason::CANCEL
                } else {
                    Reason::NO_ERROR
                };
                self.reset_stream(id, reason, None);
                return;
            }
        }
        self.discard_buffered(id);
        self.streams.remove(&id);
        if self.streams.is_empty() {
            if self.config.idle_timeout.is_some() {
                self.idle_since = Some(tokio::time::Instant::now());
            }
            if self.draining {
                // The last stream of a draining connection: the driver ends it.
                self.wake_driver();
            }
        }
    }

    /// The stream, if it may still send: not failed, not reset, its end not yet queued.
    fn sending(&mut self, id: u32, what: &'static str) -> Result<&mut Stream, Error> {
        let conn_error = &self.error;
        let Some(s) = self.streams.get_mut(&id) else {
            return Err(conn_error
                .clone()
                .unwrap_or(Error::User("the stream is gone")));
        };
        if let Some(e) = s.own_error().or_else(|| conn_error.clone()) {
            return Err(e);
        }
        if s.end_queued {
            return Err(Error::User(what));
        }
        Ok(s)
    }

    /// Queues data (and maybe the end of the stream) and writes what the windows allow.
    pub(crate) fn queue_data(&mut self, id: u32, data: Bytes, end: bool) -> Result<(), Error> {
        let s = self.sending(id, "data after the end of the stream")?;
        s.queued += data.len();
        if !data.is_empty() {
            s.queue.push_back(data);
        }
        s.end_queued = end;
        self.write_stream(id);
        Ok(())
    }

    pub(crate) fn queue_trailers(&mut self, id: u32, trailers: HeaderMap) -> Result<(), Error> {
        let s = self.sending(id, "trailers after the end of the stream")?;
        s.trailers_queued = Some(trailers);
        s.end_queued = true;
        self.write_stream(id);
        Ok(())
    }

    /// Moves a stream's queued data into the output as far as both windows allow, then its
    /// end (an empty DATA with END_STREAM, or trailers) once all of it is out.
    pub(crate) fn write_stream(&mut self, id: u32) {
        let max_frame = self.peer.max_frame_size as usize;
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        if s.reset.is_some() || s.send_done || !s.headers_sent {
            return;
        }
        while let Some(front) = s.queue.front_mut() {
            let window = s.send_window.min(self.send_window);
            if window <= 0 {
                if self.send_window <= 0 && !s.in_blocked {
                    s.in_blocked = true;
                    self.blocked.push_back(id);
                }
                break;
            }
            let n = front.len().min(window as usize).min(max_frame);
            let chunk = front.split_to(n);
            if front.is_empty() {
                s.queue.pop_front();
            }
            s.queued -= n;
            s.send_window -= n as i64;
            self.send_window -= n as i64;
            let last = s.queue.is_empty() && s.end_queued && s.trailers_queued.is_none();
            frame::put_data(&mut self.out, id, &chunk, last);
            if last {
                s.send_done = true;
            }
        }
        if s.queue.is_empty() && s.end_queued && !s.send_done {
            match s.trailers_queued.take() {
                Some(trailers) => {
                    let encoder = &mut self.encoder;
                    fields::put_block_frames(&mut self.out, id, true, max_frame, |dst| {
                        fields::put_trailers(&mut encoder.block(dst), &trailers);
                    });
                }
                None => frame::put_data(&mut self.out, id, &[], true),
            }
            s.send_done = true;
        }
        if s.queued < SEND_BUFFER {
            if let Some(w) = s.send_waker.take() {
                w.wake();
            }
        }
        if s.send_done {
            self.settle(id);
        }
    }

    /// Streams waiting for connection window, now that there may be some.
    pub(crate) fn write_blocked(&mut self) {
        while self.send_window > 0 {
            let Some(id) = self.blocked.pop_front() else {
                break;
            };
            if let Some(s) = self.streams.get_mut(&id) {
                s.in_blocked = false;
            }
            self.write_stream(id);
        }
    }
}
