//! Frames from the peer (RFC 9113 section 6), handled in the order they arrive. A connection
//! error comes back as `Err((reason, detail))`: the caller sends GOAWAY and ends the
//! connection. A stream error resets that stream and goes on.

use super::stream::{declared_length, ReceivedHead, Stream};
use super::{Inner, Partial, MAX_BLOCK};
use crate::error::{Error, Initiator, Reason};
use crate::fields::Received;
use crate::frame::{self, flag, kind, Head};
use crate::hpack::Malformed;
use crate::settings;
use bytes::{Buf, Bytes, BytesMut};

pub(super) type ConnError = (Reason, &'static str);

impl Inner {
    /// Handles every complete frame in the read buffer.
    pub(super) fn handle_buffered(&mut self) -> Result<(), ConnError> {
        if self.preface_pending {
            let n = self.read_buf.len().min(frame::PREFACE.len());
            if self.read_buf[..n] != frame::PREFACE[..n] {
                return Err((Reason::PROTOCOL_ERROR, "not an HTTP/2 client preface"));
            }
            if n < frame::PREFACE.len() {
                return Ok(());
            }
            self.read_buf.advance(n);
            self.preface_pending = false;
        }
        while let Some(head) = Head::parse(&self.read_buf) {
            if head.len > frame::DEFAULT_MAX_FRAME_SIZE as usize {
                return Err((Reason::FRAME_SIZE_ERROR, "a frame longer than 16384 bytes"));
            }
            if self.read_buf.len() < frame::HEADER_LEN + head.len {
                self.read_buf.reserve(frame::HEADER_LEN + head.len);
                break;
            }
            self.read_buf.advance(frame::HEADER_LEN);
            let payload = self.read_buf.split_to(head.len).freeze();
            self.handle_frame(head, payload)?;
            if self.error.is_some() {
                break;
            }
        }
        Ok(())
    }

    fn handle_frame(&mut self, head: Head, payload: Bytes) -> Result<(), ConnError> {
        if !self.settings_received && head.kind != kind::SETTINGS {
            return Err((Reason::PROTOCOL_ERROR, "the first frame was not SETTINGS"));
        }
        if let Some(partial) = &self.continuation {
            if head.kind != kind::CONTINUATION || head.stream != partial.stream {
                return Err((
                    Reason::PROTOCOL_ERROR,
                    "a header block interrupted by another frame",
                ));
            }
        }
        match head.kind {
            kind::DATA => self.on_data(head, payload),
            kind::HEADERS => self.on_headers(head, payload),
            kind::PRIORITY => self.on_priority(head, &payload),
            kind::RST_STREAM => self.on_rst_stream(head, &payload),
            kind::SETTINGS => self.on_settings(head, &payload),
            kind::PUSH_PROMISE => Err((Reason::PROTOCOL_ERROR, "PUSH_PROMISE, push is disabled")),
            kind::PING => self.on_ping(head, &payload),
            kind::GOAWAY => self.on_goaway(head, &payload),
            kind::WINDOW_UPDATE => self.on_window_update(head, &payload),
            kind::CONTINUATION => self.on_continuation(head, &payload),
            // Unknown frame types are ignored (section 4.1).
            _ => Ok(()),
        }
    }

    fn on_data(&mut self, head: Head, mut payload: Bytes) -> Result<(), ConnError> {
        if head.stream == 0 {
            return Err((Reason::PROTOCOL_ERROR, "DATA on stream 0"));
        }
        let flow = payload.len();
        if flow as i64 > self.recv_window {
            return Err((
                Reason::FLOW_CONTROL_ERROR,
                "DATA beyond the connection window",
            ));
        }
        self.recv_window -= flow as i64;
        if frame::strip_padding(&head, &mut payload).is_none() {
            return Err((Reason::PROTOCOL_ERROR, "DATA padding longer than the frame"));
        }
        let id = head.stream;
        let Some(s) = self.streams.get_mut(&id) else {
            if self.is_idle(id) {
                return Err((Reason::PROTOCOL_ERROR, "DATA on an idle stream"));
            }
            // A stream already closed here (reset, or forgotten): its data is dropped, and
            // its share of the connection window given back.
            self.release(None, flow);
            return Ok(());
        };
        if s.reset.is_some() {
            self.release(None, flow);
            return Ok(());
        }
        if s.recv_closed || !s.head_received {
            let reason = if s.recv_closed {
                Reason::STREAM_CLOSED
            } else {
                Reason::PROTOCOL_ERROR
            };
            self.release(None, flow);
            self.reset_stream(id, reason, None);
            return Ok(());
        }
        if flow as i64 > s.recv_window {
            self.release(None, flow);
            self.reset_stream(id, Reason::FLOW_CONTROL_ERROR, None);
            return Ok(());
        }
        s.recv_window -= flow as i64;
        let end = head.has(flag::END_STREAM);
        let len = payload.len();
        if let Some(remaining) = s.content_length {
            let left = remaining.checked_sub(len as u64);
            match left {
                Some(left) if !end || left == 0 => s.content_length = Some(left),
                _ => {
                    self.release(None, flow);
                    self.reset_stream(
                        id,
                        Reason::PROTOCOL_ERROR,
                        Some("DATA that does not add up to the content-length"),
                    );
                    return Ok(());
                }
            }
        }
        let orphan = s.refs == 0 || !s.reading;
        if len > 0 && !orphan {
            s.buffered += len;
            s.data.push_back(payload);
        }
        if end {
            s.recv_closed = true;
        }
        if let Some(w) = s.recv_waker.take() {
            w.wake();
        }
        // Padding, and data nobody will read, is given back at once.
        let consumed_now = if orphan { flow } else { flow - len };
        if consumed_now > 0 {
            self.release(Some(id), consumed_now);
        }
        if end {
            self.settle(id);
        }
        Ok(())
    }

    fn on_headers(&mut self, head: Head, mut payload: Bytes) -> Result<(), ConnError> {
        if head.stream == 0 {
            return Err((Reason::PROTOCOL_ERROR, "HEADERS on stream 0"));
        }
        if frame::strip_padding(&head, &mut payload).is_none() {
            return Err((
                Reason::PROTOCOL_ERROR,
                "HEADERS padding longer than the frame",
            ));
        }
        if head.has(flag::PRIORITY) {
            if payload.len() < 5 {
                return Err((
                    Reason::FRAME_SIZE_ERROR,
                    "HEADERS too short for its priority",
                ));
            }
            payload.advance(5);
        }
        let end_stream = head.has(flag::END_STREAM);
        if head.has(flag::END_HEADERS) {
            return self.on_header_block(head.stream, end_stream, &payload);
        }
        self.continuation = Some(Partial {
            stream: head.stream,
            end_stream,
            block: BytesMut::from(&payload[..]),
        });
        Ok(())
    }

    fn on_continuation(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        let Some(partial) = self.continuation.as_mut() else {
            return Err((
                Reason::PROTOCOL_ERROR,
                "CONTINUATION without a header block",
            ));
        };
        if partial.block.len() + payload.len() > MAX_BLOCK {
            return Err((Reason::ENHANCE_YOUR_CALM, "a header block over 256 KiB"));
        }
        partial.block.extend_from_slice(payload);
        if !head.has(flag::END_HEADERS) {
            return Ok(());
        }
        let Some(partial) = self.continuation.take() else {
            return Ok(());
        };
        self.on_header_block(partial.stream, partial.end_stream, &partial.block)
    }

    /// A complete header block: decoded whatever happens to its stream, so the decoder's
    /// table stays in step with the peer's encoder.
    fn on_header_block(&mut self, id: u32, end: bool, block: &[u8]) -> Result<(), ConnError> {
        let mut fields = Received::default();
        let max = self.config.max_header_list_size as usize;
        let decoded = self
            .decoder
            .decode(block, max, |f| fields.push(f))
            .map_err(|e| {
                tracing::debug!("HPACK: {e}");
                (
                    Reason::COMPRESSION_ERROR,
                    "a header block that does not decode",
                )
            })?;
        if let Some(m) = decoded.malformed {
            fields.malformed = Some(match m {
                Malformed::InvalidName => "an invalid field name",
                Malformed::InvalidValue => "an invalid field value",
                Malformed::UnknownPseudo => "an unknown pseudo-header",
            });
        }
        if self.streams.contains_key(&id) {
            self.on_stream_headers(id, end, fields, decoded.oversize);
            return Ok(());
        }
        if self.is_client {
            if self.is_idle(id) {
                return Err((
                    Reason::PROTOCOL_ERROR,
                    "HEADERS on a stream the client did not open",
                ));
            }
            // A response on a stream this end has already reset or forgotten.
            return Ok(());
        }
        if id.is_multiple_of(2) {
            return Err((Reason::PROTOCOL_ERROR, "a client opened an even stream id"));
        }
        if id <= self.last_peer_id {
            // A stream that is already closed here; the block has been decoded.
            return Ok(());
        }
        self.last_peer_id = id;
        if self.remote_open >= self.config.max_concurrent_streams as usize {
            frame::put_rst_stream(&mut self.out, id, Reason::REFUSED_STREAM);
            return Ok(());
        }
        if decoded.oversize {
            self.refuse_oversize_request(id, end);
            return Ok(());
        }
        let parts = match fields.into_request() {
            Ok(parts) => parts,
            Err(why) => {
                tracing::debug!(stream = id, "malformed request: {why}");
                frame::put_rst_stream(&mut self.out, id, Reason::PROTOCOL_ERROR);
                return Ok(());
            }
        };
        let content_length = match declared_length(&parts.headers) {
            Ok(n) => n,
            Err(why) => {
                tracing::debug!(stream = id, "malformed request: {why}");
                frame::put_rst_stream(&mut self.out, id, Reason::PROTOCOL_ERROR);
                return Ok(());
            }
        };
        if end && content_length.is_some_and(|n| n > 0) {
            frame::put_rst_stream(&mut self.out, id, Reason::PROTOCOL_ERROR);
            return Ok(());
        }
        let mut s = Stream::new(
            false,
            self.config.stream_window,
            self.peer.initial_window_size,
        );
        s.head = Some(ReceivedHead::Request(parts));
        s.head_received = true;
        s.recv_closed = end;
        s.content_length = content_length;
        // The accept queue holds it until it is taken.
        s.refs = 1;
        self.streams.insert(id, s);
        self.remote_open += 1;
        self.accept_queue.push_back(id);
        if let Some(w) = self.accept_waker.take() {
            w.wake();
        }
        Ok(())
    }

    /// A request whose header list is over the advertised limit gets a 431 (RFC 9113
    /// section 10.5.1) and is told to stop sending.
    fn refuse_oversize_request(&mut self, id: u32, end: bool) {
        let (mut parts, ()) = http::Response::new(()).into_parts();
        parts.status = http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
        let max_frame = self.peer.max_frame_size as usize;
        let encoder = &mut self.encoder;
        crate::fields::put_block_frames(&mut self.out, id, true, max_frame, |dst| {
            crate::fields::put_response(&mut encoder.block(dst), &parts);
        });
        if !end {
            frame::put_rst_stream(&mut self.out, id, Reason::NO_ERROR);
        }
    }

    /// A header block on a stream that exists: a response head (client), or trailers.
    fn on_stream_headers(&mut self, id: u32, end: bool, fields: Received, oversize: bool) {
        let is_client = self.is_client;
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        if s.reset.is_some() {
            return;
        }
        if s.recv_closed {
            self.reset_stream(id, Reason::STREAM_CLOSED, None);
            return;
        }
        if oversize {
            self.reset_stream(
                id,
                Reason::PROTOCOL_ERROR,
                Some("a header list over the limit"),
            );
            return;
        }
        if !s.head_received && is_client {
            let parts = match fields.into_response() {
                Ok(parts) => parts,
                Err(why) => {
                    self.reset_stream(id, Reason::PROTOCOL_ERROR, Some(why));
                    return;
                }
            };
            if parts.status == http::StatusCode::SWITCHING_PROTOCOLS {
                self.reset_stream(id, Reason::PROTOCOL_ERROR, Some("101 over HTTP/2"));
                return;
            }
            if parts.status.is_informational() {
                if end {
                    self.reset_stream(id, Reason::PROTOCOL_ERROR, Some("1xx that ends the stream"));
                }
                // Interim responses are not passed on; the final one follows.
                return;
            }
            let bodiless = s.is_head_request
                || parts.status == http::StatusCode::NO_CONTENT
                || parts.status == http::StatusCode::NOT_MODIFIED;
            let declared = match declared_length(&parts.headers) {
                Ok(n) => n,
                Err(why) => {
                    self.reset_stream(id, Reason::PROTOCOL_ERROR, Some(why));
                    return;
                }
            };
            s.content_length = if bodiless { None } else { declared };
            if end && s.content_length.is_some_and(|n| n > 0) {
                self.reset_stream(
                    id,
                    Reason::PROTOCOL_ERROR,
                    Some("no DATA for a declared content-length"),
                );
                return;
            }
            s.head = Some(ReceivedHead::Response(parts));
            s.head_received = true;
        } else {
            if !end {
                self.reset_stream(
                    id,
                    Reason::PROTOCOL_ERROR,
                    Some("trailers without END_STREAM"),
                );
                return;
            }
            match fields.into_trailers() {
                Ok(t) => s.trailers = Some(t),
                Err(why) => {
                    self.reset_stream(id, Reason::PROTOCOL_ERROR, Some(why));
                    return;
                }
            }
            if s.content_length.is_some_and(|n| n > 0) {
                self.reset_stream(
                    id,
                    Reason::PROTOCOL_ERROR,
                    Some("DATA that does not add up to the content-length"),
                );
                return;
            }
        }
        if end {
            s.recv_closed = true;
        }
        if let Some(w) = s.recv_waker.take() {
            w.wake();
        }
        if end {
            self.settle(id);
        }
    }

    fn on_priority(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.stream == 0 {
            return Err((Reason::PROTOCOL_ERROR, "PRIORITY on stream 0"));
        }
        if payload.len() != 5 {
            self.reset_stream(head.stream, Reason::FRAME_SIZE_ERROR, None);
        }
        // Priorities are advisory (and deprecated by RFC 9113); ignored.
        Ok(())
    }

    fn on_rst_stream(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.stream == 0 {
            return Err((Reason::PROTOCOL_ERROR, "RST_STREAM on stream 0"));
        }
        let Some(code) = frame::read_u32(payload).filter(|_| payload.len() == 4) else {
            return Err((Reason::FRAME_SIZE_ERROR, "RST_STREAM not 4 bytes long"));
        };
        if self.is_idle(head.stream) {
            return Err((Reason::PROTOCOL_ERROR, "RST_STREAM on an idle stream"));
        }
        let id = head.stream;
        let Some(s) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        if s.reset.is_none() {
            s.reset = Some((Reason(code), Initiator::Remote));
            s.queue.clear();
            s.queued = 0;
            s.trailers_queued = None;
            s.wake_all();
            // A message received whole stays readable: a server that has answered may
            // reset the rest of the request with NO_ERROR (RFC 9113 section 8.1).
            if !s.recv_closed {
                self.discard_buffered(id);
            }
            self.settle(id);
        }
        Ok(())
    }

    fn on_settings(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.stream != 0 {
            return Err((Reason::PROTOCOL_ERROR, "SETTINGS on a stream"));
        }
        if head.has(flag::ACK) {
            if !payload.is_empty() {
                return Err((Reason::FRAME_SIZE_ERROR, "a SETTINGS ACK with a payload"));
            }
            return Ok(());
        }
        if !payload.len().is_multiple_of(6) {
            return Err((
                Reason::FRAME_SIZE_ERROR,
                "SETTINGS not a multiple of 6 bytes",
            ));
        }
        let changes = settings::parse(payload)?;
        self.settings_received = true;
        if let Some(size) = changes.header_table_size {
            self.peer.header_table_size = size;
            self.encoder.set_max_table_size(size as usize);
        }
        if let Some(n) = changes.max_frame_size {
            self.peer.max_frame_size = n;
        }
        if let Some(n) = changes.max_concurrent_streams {
            self.peer.max_concurrent_streams = n;
            for w in self.open_waiters.drain(..) {
                w.wake();
            }
        }
        if let Some(window) = changes.initial_window_size {
            let delta = i64::from(window) - i64::from(self.peer.initial_window_size);
            self.peer.initial_window_size = window;
            let mut grew = Vec::new();
            for (id, s) in self.streams.iter_mut() {
                s.send_window += delta;
                if s.send_window > frame::MAX_WINDOW {
                    return Err((Reason::FLOW_CONTROL_ERROR, "a stream window above 2^31-1"));
                }
                if delta > 0 && s.queued > 0 {
                    grew.push(*id);
                }
            }
            for id in grew {
                self.write_stream(id);
            }
        }
        frame::put_head(&mut self.out, 0, kind::SETTINGS, flag::ACK, 0);
        Ok(())
    }

    fn on_ping(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.stream != 0 {
            return Err((Reason::PROTOCOL_ERROR, "PING on a stream"));
        }
        let Ok(data) = <[u8; 8]>::try_from(payload) else {
            return Err((Reason::FRAME_SIZE_ERROR, "PING not 8 bytes long"));
        };
        if !head.has(flag::ACK) {
            frame::put_ping(&mut self.out, data, true);
        }
        Ok(())
    }

    fn on_goaway(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.stream != 0 {
            return Err((Reason::PROTOCOL_ERROR, "GOAWAY on a stream"));
        }
        let (Some(last), Some(code)) = (
            frame::read_u31(payload),
            payload.get(4..).and_then(frame::read_u32),
        ) else {
            return Err((Reason::FRAME_SIZE_ERROR, "GOAWAY shorter than 8 bytes"));
        };
        let reason = Reason(code);
        let detail = String::from_utf8_lossy(payload.get(8..).unwrap_or_default()).into_owned();
        if reason != Reason::NO_ERROR {
            tracing::debug!(%reason, "HTTP/2 peer went away: {detail}");
        }
        self.remote_goaway = Some((last, reason));
        // Streams this end opened that the peer will never process fail now; whoever sent
        // them may send them again elsewhere.
        let refused: Vec<u32> = self
            .streams
            .iter()
            .filter(|(id, s)| s.local && **id > last && s.reset.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in refused {
            if let Some(s) = self.streams.get_mut(&id) {
                s.reset = Some((Reason::REFUSED_STREAM, Initiator::Remote));
                s.error = Some(Error::GoAway {
                    reason,
                    initiator: Initiator::Remote,
                    detail: format!("the stream was not processed: {detail}"),
                });
                s.queue.clear();
                s.queued = 0;
                s.wake_all();
            }
            self.discard_buffered(id);
            self.settle(id);
        }
        for w in self.open_waiters.drain(..) {
            w.wake();
        }
        if let Some(w) = self.accept_waker.take() {
            w.wake();
        }
        Ok(())
    }

    fn on_window_update(&mut self, head: Head, payload: &[u8]) -> Result<(), ConnError> {
        let Some(increment) = frame::read_u31(payload).filter(|_| payload.len() == 4) else {
            return Err((Reason::FRAME_SIZE_ERROR, "WINDOW_UPDATE not 4 bytes long"));
        };
        let id = head.stream;
        if id == 0 {
            if increment == 0 {
                return Err((Reason::PROTOCOL_ERROR, "a WINDOW_UPDATE of 0"));
            }
            self.send_window += i64::from(increment);
            if self.send_window > frame::MAX_WINDOW {
                return Err((
                    Reason::FLOW_CONTROL_ERROR,
                    "the connection window above 2^31-1",
                ));
            }
            self.write_blocked();
            return Ok(());
        }
        if self.is_idle(id) {
            return Err((Reason::PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream"));
        }
        let Some(s) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        if increment == 0 {
            self.reset_stream(id, Reason::PROTOCOL_ERROR, Some("a WINDOW_UPDATE of 0"));
            return Ok(());
        }
        s.send_window += i64::from(increment);
        if s.send_window > frame::MAX_WINDOW {
            self.reset_stream(id, Reason::FLOW_CONTROL_ERROR, None);
            return Ok(());
        }
        self.write_stream(id);
        Ok(())
    }
}
