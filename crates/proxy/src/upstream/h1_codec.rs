//! HTTP/1.1 on the wire for the upstream client (RFC 9112): the request head written, the
//! response head parsed from the read buffer without copying header values, how the
//! response body is delimited, and chunked decoding.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode, Version};
use std::mem::MaybeUninit;

/// Headers accepted in one response head or trailer section (hyper's default).
const MAX_HEADERS: usize = 100;
/// The largest response head, or trailer section, accepted.
pub const MAX_HEAD_BYTES: usize = 64 << 10;
/// The longest chunk-size line (size, extensions) accepted.
const MAX_CHUNK_LINE: usize = 4 << 10;

/// Why the bytes from the upstream are not an HTTP/1.1 response this client can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("invalid response head: {0}")]
    Head(String),
    #[error("response head larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    #[error("invalid content-length in response")]
    ContentLength,
    #[error("invalid chunked encoding: {0}")]
    Chunked(&'static str),
    #[error("unexpected 101 Switching Protocols to a request that did not ask to upgrade")]
    UnexpectedSwitch,
}

/// How a request body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFraming {
    None,
    Length(u64),
    Chunked,
}

/// Writes the request line and headers. `known_len` is the body's exact length when the
/// body knows it (None for a streaming body of unknown length); `no_body` when it has none.
/// A Content-Length the caller sent is kept and frames the body.
pub fn encode_request_head(
    head: &Parts,
    no_body: bool,
    known_len: Option<u64>,
    out: &mut BytesMut,
) -> RequestFraming {
    let target = head.uri.path_and_query().map_or("/", |pq| pq.as_str());
    out.reserve(64 + target.len() + head.headers.len() * 32);
    out.extend_from_slice(head.method.as_str().as_bytes());
    out.extend_from_slice(b" ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let declared = head
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    for (name, value) in &head.headers {
        // Framing is this client's to decide; the caller removed other hop-by-hop headers.
        if name == header::TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let framing = match (declared, no_body, known_len) {
        (Some(n), _, _) => RequestFraming::Length(n),
        (None, true, _) => {
            // Servers may answer 411 to a POST without a length.
            if matches!(head.method, Method::POST | Method::PUT | Method::PATCH) {
                out.extend_from_slice(b"content-length: 0\r\n");
            }
            RequestFraming::None
        }
        (None, false, Some(n)) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(n.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
            RequestFraming::Length(n)
        }
        (None, false, None) => {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
            RequestFraming::Chunked
        }
    };
    out.extend_from_slice(b"\r\n");
    framing
}

/// The size line that precedes a chunk of `len` bytes.
pub fn chunk_size_line(len: usize) -> Bytes {
    Bytes::from(format!("{len:x}\r\n"))
}

/// The end of a chunked body: the last chunk and the trailer section.
pub fn chunked_end(trailers: Option<&HeaderMap>) -> Bytes {
    let mut out = BytesMut::from(&b"0\r\n"[..]);
    for (name, value) in trailers.into_iter().flatten() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.freeze()
}

/// How a response body is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    Empty,
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

pub struct ResponseHead {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub framing: BodyFraming,
    /// The connection may carry another request once this exchange is complete.
    pub keep_alive: bool,
}

/// Parses a response head at the start of `buf`, consuming it. `Ok(None)`: more bytes are
/// needed. Interim (1xx) responses are consumed and skipped. Hop-by-hop headers are left
/// out of the returned map: they described this connection.
pub fn parse_response_head(
    buf: &mut BytesMut,
    head_request: bool,
) -> Result<Option<ResponseHead>, WireError> {
    loop {
        if buf.is_empty() {
            // Asked before anything arrived (each time the request's task is polled).
            return Ok(None);
        }
        // Left uninitialized: httparse writes the slots it fills, and initializing all of
        // them cost more than parsing a small head.
        let mut slots = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut []);
        let parsing = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut parsed,
            buf,
            &mut slots,
        );
        let len = match parsing {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
                return Err(WireError::HeadTooLarge)
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(WireError::Head(e.to_string())),
        };
        let code = parsed.code.unwrap_or(0);
        let status = StatusCode::from_u16(code)
            .map_err(|_| WireError::Head(format!("status code {code}")))?;
        let version = if parsed.version == Some(0) {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(WireError::UnexpectedSwitch);
        }
        if status.is_informational() {
            // 100 Continue, 103 Early Hints: nothing the caller needs; the final response
            // follows on the same connection.
            buf.advance(len);
            continue;
        }
        // Header values become slices of the head's bytes, not copies.
        let base = buf.as_ptr() as usize;
        let mut spans = Vec::with_capacity(parsed.headers.len());
        for h in parsed.headers.iter() {
            let start = h.value.as_ptr() as usize - base;
            spans.push((h.name, start, start + h.value.len()));
        }
        let mut names = Vec::with_capacity(spans.len());
        for (name, start, end) in spans {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| WireError::Head(format!("header name {name:?}")))?;
            names.push((name, start, end));
        }
        let bytes = buf.split_to(len).freeze();
        let mut headers = HeaderMap::with_capacity(names.len());
        let mut connection_close = version == Version::HTTP_10;
        let mut chunked = false;
        let mut transfer_encoded = false;
        let mut length: Option<u64> = None;
        for (name, start, end) in names {
            let value = HeaderValue::from_maybe_shared(bytes.slice(start..end))
                .map_err(|_| WireError::Head(format!("value of header {name}")))?;
            if name == header::CONNECTION {
                let tokens = value.to_str().unwrap_or_default();
                for token in tokens.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        connection_close = true;
                    } else if token.eq_ignore_ascii_case("keep-alive")
                        && version == Version::HTTP_10
                    {
                        connection_close = false;
                    }
                }
                continue;
            }
            if name == header::TRANSFER_ENCODING {
                transfer_encoded = true;
                // Only the last coding decides whether the body is chunked.
                chunked = value
                    .to_str()
                    .ok()
                    .and_then(|v| v.rsplit(',').next())
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
                continue;
            }
            if name == header::CONTENT_LENGTH {
                let n = content_length(value.as_bytes()).ok_or(WireError::ContentLength)?;
                if length.is_some_and(|m| m != n) {
                    return Err(WireError::ContentLength);
                }
                length = Some(n);
            }
            if is_hop_by_hop_response_header(&name) {
                continue;
            }
            headers.append(name, value);
        }
        let framing = if head_request
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            BodyFraming::Empty
        } else if transfer_encoded {
            // With Transfer-Encoding a Content-Length means nothing (and was a smuggling
            // attempt or a broken server): the connection is not reused.
            if length.is_some() {
                connection_close = true;
                headers.remove(header::CONTENT_LENGTH);
            }
            if chunked {
                BodyFraming::Chunked
            } else {
                connection_close = true;
                BodyFraming::UntilClose
            }
        } else {
            match length {
                Some(0) => BodyFraming::Empty,
                Some(n) => BodyFraming::Length(n),
                None => {
                    connection_close = true;
                    BodyFraming::UntilClose
                }
            }
        };
        return Ok(Some(ResponseHead {
            status,
            version,
            headers,
            framing,
            keep_alive: !connection_close,
        }));
    }
}

/// A Content-Length value: digits only (RFC 9110 section 8.6), so `+5` or `-0`, which a
/// number parser would take, are refused like any other malformed length.
fn content_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn is_hop_by_hop_response_header(name: &HeaderName) -> bool {
    name == header::UPGRADE
        || name == header::TE
        || name == header::TRAILER
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

/// Where a chunked body's decoding is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkState {
    /// Reading a chunk-size line.
    Size,
    /// Inside a chunk's data: bytes left.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: the trailer section up to its empty line.
    Trailers,
    Done,
}

/// What decoding produced from the buffered bytes.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    Data(Bytes),
    Trailers(HeaderMap),
    /// The body is complete.
    End,
    /// More bytes are needed.
    NeedMore,
}

/// Decodes as much of a chunked body as `buf` allows, returning at most one piece.
pub fn decode_chunked(state: &mut ChunkState, buf: &mut BytesMut) -> Result<Decoded, WireError> {
    loop {
        match state {
            ChunkState::Size => {
                let Some(eol) = find_crlf(buf) else {
                    if buf.len() > MAX_CHUNK_LINE {
                        return Err(WireError::Chunked("chunk-size line too long"));
                    }
                    return Ok(Decoded::NeedMore);
                };
                let line = &buf[..eol];
                // chunk-size = 1*HEXDIG, then optional whitespace before any extension: no
                // sign or leading space, which a lenient number parser would let through and
                // another reader of the same bytes might not.
                let size_part = line
                    .split(|b| *b == b';')
                    .next()
                    .unwrap_or_default()
                    .trim_ascii_end();
                if size_part.is_empty()
                    || size_part.len() > 16
                    || !size_part.iter().all(u8::is_ascii_hexdigit)
                {
                    return Err(WireError::Chunked("bad chunk size"));
                }
                let size = std::str::from_utf8(size_part)
                    .ok()
                    .and_then(|s| u64::from_str_radix(s, 16).ok())
                    .ok_or(WireError::Chunked("bad chunk size"))?;
                buf.advance(eol + 2);
                *state = if size == 0 {
                    ChunkState::Trailers
                } else {
                    ChunkState::Data(size)
                };
            }
            ChunkState::Data(left) => {
                if buf.is_empty() {
                    return Ok(Decoded::NeedMore);
                }
                let take = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                let data = buf.split_to(take).freeze();
                *left -= take as u64;
                if *left == 0 {
                    *state = ChunkState::DataEnd;
                }
                return Ok(Decoded::Data(data));
            }
            ChunkState::DataEnd => {
                if buf.len() < 2 {
                    return Ok(Decoded::NeedMore);
                }
                if &buf[..2] != b"\r\n" {
                    return Err(WireError::Chunked("missing CRLF after chunk data"));
                }
                buf.advance(2);
                *state = ChunkState::Size;
            }
            ChunkState::Trailers => {
                if buf.starts_with(b"\r\n") {
                    buf.advance(2);
                    *state = ChunkState::Done;
                    return Ok(Decoded::End);
                }
                let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let len = match httparse::parse_headers(buf, &mut slots) {
                    Ok(httparse::Status::Complete((len, _))) => len,
                    Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
                        return Err(WireError::Chunked("trailer section too large"))
                    }
                    Ok(httparse::Status::Partial) => return Ok(Decoded::NeedMore),
                    Err(_) => return Err(WireError::Chunked("invalid trailer section")),
                };
                let mut trailers = HeaderMap::new();
                for h in slots.iter().take_while(|h| !h.name.is_empty()) {
                    let (Ok(name), Ok(value)) = (
                        HeaderName::from_bytes(h.name.as_bytes()),
                        HeaderValue::from_bytes(h.value),
                    ) else {
                        return Err(WireError::Chunked("invalid trailer field"));
                    };
                    trailers.append(name, value);
                }
                buf.advance(len);
                *state = ChunkState::Done;
                if trailers.is_empty() {
                    return Ok(Decoded::End);
                }
                return Ok(Decoded::Trailers(trailers));
            }
            ChunkState::Done => return Ok(Decoded::End),
        }
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn head_of(req: Request<()>) -> Parts {
        req.into_parts().0
    }

    fn encode(req: Request<()>, no_body: bool, len: Option<u64>) -> (String, RequestFraming) {
        let mut out = BytesMut::new();
        let framing = encode_request_head(&head_of(req), no_body, len, &mut out);
        (String::from_utf8(out.to_vec()).expect("ascii"), framing)
    }

    #[test]
    fn request_heads_frame_their_bodies() {
        let get = Request::get("/a?b=1").header("host", "app").body(());
        let (text, framing) = encode(get.expect("request"), true, None);
        assert_eq!(text, "GET /a?b=1 HTTP/1.1\r\nhost: app\r\n\r\n");
        assert_eq!(framing, RequestFraming::None);

        let post = Request::post("/").header("host", "app").body(());
        let (text, _) = encode(post.expect("request"), true, None);
        assert!(text.ends_with("content-length: 0\r\n\r\n"), "{text}");

        let sized = Request::post("/").header("content-length", "5").body(());
        let (text, framing) = encode(sized.expect("request"), false, None);
        assert_eq!(framing, RequestFraming::Length(5));
        assert_eq!(text.matches("content-length").count(), 1);

        let known = Request::put("/").body(());
        let (text, framing) = encode(known.expect("request"), false, Some(1024));
        assert_eq!(framing, RequestFraming::Length(1024));
        assert!(text.contains("content-length: 1024\r\n"));

        let streaming = Request::post("/")
            .header("transfer-encoding", "gzip, chunked")
            .body(());
        let (text, framing) = encode(streaming.expect("request"), false, None);
        assert_eq!(framing, RequestFraming::Chunked);
        assert_eq!(
            text,
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"
        );
    }

    fn parse(raw: &str, head_request: bool) -> (ResponseHead, BytesMut) {
        let mut buf = BytesMut::from(raw.as_bytes());
        let head = parse_response_head(&mut buf, head_request)
            .expect("valid")
            .expect("complete");
        (head, buf)
    }

    #[test]
    fn response_heads_say_how_their_bodies_end() {
        let (head, rest) = parse(
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabc",
            false,
        );
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.framing, BodyFraming::Length(3));
        assert!(head.keep_alive);
        assert_eq!(head.headers["x-a"], "b");
        assert_eq!(&rest[..], b"abc");

        let (head, _) = parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", true);
        assert_eq!(
            head.framing,
            BodyFraming::Empty,
            "a HEAD response has no body"
        );

        let (head, _) = parse(
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
            false,
        );
        assert_eq!(head.framing, BodyFraming::Empty);

        let (head, _) = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
            false,
        );
        assert_eq!(head.framing, BodyFraming::Chunked);
        assert!(head.headers.get("transfer-encoding").is_none());
        assert!(head.headers.get("connection").is_none());
        assert!(head.keep_alive);

        let (head, _) = parse("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", false);
        assert_eq!(head.framing, BodyFraming::UntilClose);
        assert!(!head.keep_alive);

        let (head, _) = parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false);
        assert!(
            !head.keep_alive,
            "HTTP/1.0 closes unless it says keep-alive"
        );
        let (head, _) = parse(
            "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n",
            false,
        );
        assert!(head.keep_alive);

        let (head, _) = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            false,
        );
        assert_eq!(head.framing, BodyFraming::Chunked);
        assert!(!head.keep_alive, "both framings: never reused");
        assert!(head.headers.get("content-length").is_none());
    }

    #[test]
    fn interim_responses_are_skipped_and_bad_heads_refused() {
        let (head, rest) = parse(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        assert_eq!(head.status, StatusCode::CREATED);
        assert!(rest.is_empty());

        let mut partial = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Le"[..]);
        assert!(matches!(parse_response_head(&mut partial, false), Ok(None)));

        for bad in [
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "NOT HTTP\r\n\r\n",
        ] {
            let mut buf = BytesMut::from(bad.as_bytes());
            assert!(parse_response_head(&mut buf, false).is_err(), "{bad:?}");
        }
        let mut huge = BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
        huge.extend_from_slice(&vec![b'a'; MAX_HEAD_BYTES + 1]);
        assert_eq!(
            parse_response_head(&mut huge, false).err(),
            Some(WireError::HeadTooLarge)
        );
    }

    fn decode_all(raw: &[u8], split: usize) -> Result<(Vec<u8>, Option<HeaderMap>), WireError> {
        let mut state = ChunkState::Size;
        let mut buf = BytesMut::new();
        let mut fed = 0;
        let mut data = Vec::new();
        let mut trailers = None;
        loop {
            match decode_chunked(&mut state, &mut buf)? {
                Decoded::Data(d) => data.extend_from_slice(&d),
                Decoded::Trailers(t) => trailers = Some(t),
                Decoded::End => return Ok((data, trailers)),
                Decoded::NeedMore => {
                    if fed == raw.len() {
                        return Err(WireError::Chunked("ran out"));
                    }
                    let next = (fed + split).min(raw.len());
                    buf.extend_from_slice(&raw[fed..next]);
                    fed = next;
                }
            }
        }
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_read_boundaries() {
        let raw =
            b"5 ;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\ngrpc-status: 0\r\n\r\n";
        for split in [1, 2, 3, 7, raw.len()] {
            let (data, trailers) = decode_all(raw, split).expect("valid");
            assert_eq!(data, b"helloabcdefghijklmnopqrstuvwxyz", "split {split}");
            assert_eq!(trailers.expect("trailers")["grpc-status"], "0");
        }
        let (data, trailers) = decode_all(b"3\r\nabc\r\n0\r\n\r\n", 4).expect("valid");
        assert_eq!(data, b"abc");
        assert!(trailers.is_none());
        for bad in [
            &b"zz\r\n"[..],
            b"3\r\nabcX\r\n",
            b"\r\n",
            b"+3\r\nabc\r\n0\r\n\r\n",
            b" 3\r\nabc\r\n0\r\n\r\n",
        ] {
            assert!(decode_all(bad, 64).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn chunked_request_bodies_end_with_their_trailers() {
        assert_eq!(&chunk_size_line(26)[..], b"1a\r\n");
        let mut t = HeaderMap::new();
        t.insert("grpc-status", HeaderValue::from_static("0"));
        assert_eq!(&chunked_end(Some(&t))[..], b"0\r\ngrpc-status: 0\r\n\r\n");
        assert_eq!(&chunked_end(None)[..], b"0\r\n\r\n");
    }
}
