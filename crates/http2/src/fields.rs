//! Messages to and from header blocks: the pseudo-header rules and field checks of RFC 9113
//! section 8 on what is received, and the HTTP/2 form of what is sent.

use crate::frame;
use crate::hpack::{Block, Field, Pseudo};
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, StatusCode, Uri, Version};

/// The fields of one received header block, checked as they arrive.
#[derive(Default)]
pub(crate) struct Received {
    method: Option<HeaderValue>,
    scheme: Option<HeaderValue>,
    authority: Option<HeaderValue>,
    path: Option<HeaderValue>,
    status: Option<HeaderValue>,
    protocol: Option<HeaderValue>,
    headers: HeaderMap,
    seen_regular: bool,
    pub malformed: Option<&'static str>,
}

impl Received {
    pub fn push(&mut self, field: Field) {
        if self.malformed.is_some() {
            return;
        }
        let value = match &field {
            Field::Pseudo(_, v) | Field::Header(_, v) => v.as_bytes(),
        };
        let blank = |b: Option<&u8>| b.is_some_and(|b| *b == b' ' || *b == b'\t');
        if blank(value.first()) || blank(value.last()) {
            // RFC 9113 section 8.2.1: a value that could read differently to the next hop.
            self.malformed = Some("a field value with leading or trailing whitespace");
            return;
        }
        match field {
            Field::Pseudo(pseudo, value) => {
                if self.seen_regular {
                    self.malformed = Some("a pseudo-header after a regular field");
                    return;
                }
                let slot = match pseudo {
                    Pseudo::Method => &mut self.method,
                    Pseudo::Scheme => &mut self.scheme,
                    Pseudo::Authority => &mut self.authority,
                    Pseudo::Path => &mut self.path,
                    Pseudo::Status => &mut self.status,
                    Pseudo::Protocol => &mut self.protocol,
                };
                if slot.replace(value).is_some() {
                    self.malformed = Some("a repeated pseudo-header");
                }
            }
            Field::Header(name, value) => {
                self.seen_regular = true;
                if is_connection_specific(&name) {
                    self.malformed = Some("a connection-specific header field");
                    return;
                }
                if name == header::TE && value != "trailers" {
                    self.malformed = Some("TE other than \"trailers\"");
                    return;
                }
                self.headers.append(name, value);
            }
        }
    }

    fn has_pseudo(&self) -> bool {
        self.method.is_some()
            || self.scheme.is_some()
            || self.authority.is_some()
            || self.path.is_some()
            || self.status.is_some()
            || self.protocol.is_some()
    }

    /// A request head (section 8.3.1). Extended CONNECT (RFC 8441) is not offered, so a
    /// `:protocol` is malformed.
    pub fn into_request(self) -> Result<http::request::Parts, &'static str> {
        if let Some(why) = self.malformed {
            return Err(why);
        }
        if self.status.is_some() {
            return Err(":status in a request");
        }
        if self.protocol.is_some() {
            return Err(":protocol without extended CONNECT");
        }
        let method = self.method.ok_or("missing :method")?;
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| "invalid :method")?;
        let mut uri = http::uri::Parts::default();
        if let Some(authority) = self.authority {
            uri.authority = Some(
                Authority::from_maybe_shared(value_bytes(&authority))
                    .map_err(|_| "invalid :authority")?,
            );
        }
        let is_connect = method == Method::CONNECT;
        match self.scheme {
            Some(_) if is_connect => return Err(":scheme in a CONNECT request"),
            Some(scheme) => {
                let scheme = Scheme::try_from(scheme.as_bytes()).map_err(|_| "invalid :scheme")?;
                // A Uri cannot hold a scheme without an authority; the scheme was checked.
                if uri.authority.is_some() {
                    uri.scheme = Some(scheme);
                }
            }
            None if is_connect => {}
            None => return Err("missing :scheme"),
        }
        match self.path {
            Some(_) if is_connect => return Err(":path in a CONNECT request"),
            Some(path) if path.is_empty() => return Err("empty :path"),
            Some(path) => {
                uri.path_and_query = Some(
                    PathAndQuery::from_maybe_shared(value_bytes(&path))
                        .map_err(|_| "invalid :path")?,
                );
            }
            None if is_connect => {
                if uri.authority.is_none() {
                    return Err("missing :authority in a CONNECT request");
                }
            }
            None => return Err("missing :path"),
        }
        let uri = Uri::from_parts(uri).map_err(|_| "pseudo-headers that make no URI")?;
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.method = method;
        parts.uri = uri;
        parts.version = Version::HTTP_2;
        parts.headers = self.headers;
        Ok(parts)
    }

    /// A response head (section 8.3.2).
    pub fn into_response(self) -> Result<http::response::Parts, &'static str> {
        if let Some(why) = self.malformed {
            return Err(why);
        }
        if self.method.is_some()
            || self.scheme.is_some()
            || self.authority.is_some()
            || self.path.is_some()
            || self.protocol.is_some()
        {
            return Err("a request pseudo-header in a response");
        }
        let status = self.status.ok_or("missing :status")?;
        let status = StatusCode::from_bytes(status.as_bytes()).map_err(|_| "invalid :status")?;
        let (mut parts, ()) = http::Response::new(()).into_parts();
        parts.status = status;
        parts.version = Version::HTTP_2;
        parts.headers = self.headers;
        Ok(parts)
    }

    /// Trailers: regular fields only (section 8.1).
    pub fn into_trailers(self) -> Result<HeaderMap, &'static str> {
        if let Some(why) = self.malformed {
            return Err(why);
        }
        if self.has_pseudo() {
            return Err("a pseudo-header in trailers");
        }
        Ok(self.headers)
    }
}

fn value_bytes(value: &HeaderValue) -> Bytes {
    Bytes::copy_from_slice(value.as_bytes())
}

/// Fields HTTP/2 does not carry (section 8.2.2).
fn is_connection_specific(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name == "keep-alive"
        || name == "proxy-connection"
}

/// Regular fields of a message being sent, less those HTTP/2 cannot carry. A message
/// translated from HTTP/1.1 may still have them; they describe the hop it came over.
fn put_regular(block: &mut Block<'_>, headers: &HeaderMap) {
    for (name, value) in headers {
        if is_connection_specific(name) || (name == header::TE && value != "trailers") {
            continue;
        }
        block.header(name, value);
    }
}

pub(crate) fn put_request(block: &mut Block<'_>, parts: &http::request::Parts) {
    block.pseudo(Pseudo::Method, parts.method.as_str().as_bytes());
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str().as_bytes())
        .or_else(|| parts.headers.get(header::HOST).map(|h| h.as_bytes()));
    if parts.method == Method::CONNECT {
        if let Some(authority) = authority {
            block.pseudo(Pseudo::Authority, authority);
        }
    } else {
        let scheme = parts.uri.scheme_str().unwrap_or("http");
        block.pseudo(Pseudo::Scheme, scheme.as_bytes());
        if let Some(authority) = authority {
            block.pseudo(Pseudo::Authority, authority);
        }
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        block.pseudo(Pseudo::Path, path.as_bytes());
    }
    put_regular(block, &parts.headers);
}

pub(crate) fn put_response(block: &mut Block<'_>, parts: &http::response::Parts) {
    block.pseudo(Pseudo::Status, parts.status.as_str().as_bytes());
    put_regular(block, &parts.headers);
}

pub(crate) fn put_trailers(block: &mut Block<'_>, trailers: &HeaderMap) {
    put_regular(block, trailers);
}

/// Appends a header block made by `encode` as HEADERS (and CONTINUATION) frames. The block is
/// encoded straight into `dst` after room for the frame header; only a block longer than one
/// frame is moved to be split.
pub(crate) fn put_block_frames(
    dst: &mut BytesMut,
    stream: u32,
    end_stream: bool,
    max_frame: usize,
    encode: impl FnOnce(&mut BytesMut),
) {
    let start = dst.len();
    dst.extend_from_slice(&[0; frame::HEADER_LEN]);
    encode(dst);
    let len = dst.len() - start - frame::HEADER_LEN;
    if len <= max_frame {
        let flags = frame::flag::END_HEADERS
            | if end_stream {
                frame::flag::END_STREAM
            } else {
                0
            };
        let head = frame::head_bytes(len, frame::kind::HEADERS, flags, stream);
        dst[start..start + frame::HEADER_LEN].copy_from_slice(&head);
        return;
    }
    let block = dst.split_off(start + frame::HEADER_LEN);
    dst.truncate(start);
    frame::put_header_block(dst, stream, &block, end_stream, max_frame);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo(p: Pseudo, v: &'static str) -> Field {
        Field::Pseudo(p, HeaderValue::from_static(v))
    }

    fn regular(n: &'static str, v: &'static str) -> Field {
        Field::Header(HeaderName::from_static(n), HeaderValue::from_static(v))
    }

    fn received(fields: Vec<Field>) -> Received {
        let mut r = Received::default();
        for f in fields {
            r.push(f);
        }
        r
    }

    #[test]
    fn a_request_becomes_a_head_with_its_uri() {
        let parts = received(vec![
            pseudo(Pseudo::Method, "POST"),
            pseudo(Pseudo::Scheme, "https"),
            pseudo(Pseudo::Authority, "reviews:9080"),
            pseudo(Pseudo::Path, "/r/1?x=2"),
            regular("x-a", "1"),
            regular("te", "trailers"),
        ])
        .into_request()
        .expect("valid");
        assert_eq!(parts.method, Method::POST);
        assert_eq!(parts.uri, "https://reviews:9080/r/1?x=2");
        assert_eq!(parts.headers["x-a"], "1");
        assert_eq!(parts.version, Version::HTTP_2);
    }

    #[test]
    fn malformed_requests_say_why() {
        let base = || {
            vec![
                pseudo(Pseudo::Method, "GET"),
                pseudo(Pseudo::Scheme, "http"),
                pseudo(Pseudo::Path, "/"),
            ]
        };
        let cases: Vec<(Vec<Field>, &str)> = vec![
            (
                {
                    let mut f = base();
                    f.push(regular("connection", "close"));
                    f
                },
                "a connection-specific header field",
            ),
            (
                {
                    let mut f = base();
                    f.push(regular("te", "gzip"));
                    f
                },
                "TE other than \"trailers\"",
            ),
            (
                {
                    let mut f = base();
                    f.insert(1, regular("x", "y"));
                    f
                },
                "a pseudo-header after a regular field",
            ),
            (
                {
                    let mut f = base();
                    f.push(pseudo(Pseudo::Path, "/again"));
                    f
                },
                "a repeated pseudo-header",
            ),
            (base()[..2].to_vec(), "missing :path"),
            (
                vec![pseudo(Pseudo::Method, "GET"), pseudo(Pseudo::Path, "/")],
                "missing :scheme",
            ),
            (
                {
                    let mut f = base();
                    f.push(pseudo(Pseudo::Status, "200"));
                    f
                },
                ":status in a request",
            ),
        ];
        for (fields, why) in cases {
            let got = received(fields).into_request().map(|_| ());
            assert_eq!(got, Err(why));
        }
        let status = received(vec![
            pseudo(Pseudo::Status, "200"),
            pseudo(Pseudo::Method, "GET"),
        ]);
        assert_eq!(
            status.into_request().map(|_| ()),
            Err(":status in a request")
        );
    }

    #[test]
    fn values_with_surrounding_whitespace_are_malformed() {
        for bad in [" admin", "admin ", "\tadmin", "admin\t"] {
            let got = received(vec![
                pseudo(Pseudo::Method, "GET"),
                pseudo(Pseudo::Scheme, "http"),
                pseudo(Pseudo::Path, "/"),
                Field::Header(
                    HeaderName::from_static("x-user"),
                    HeaderValue::from_str(bad).expect("value"),
                ),
            ])
            .into_request()
            .map(|_| ());
            assert_eq!(
                got,
                Err("a field value with leading or trailing whitespace"),
                "{bad:?}"
            );
        }
        let inner = received(vec![
            pseudo(Pseudo::Method, "GET"),
            pseudo(Pseudo::Scheme, "http"),
            pseudo(Pseudo::Path, "/"),
            regular("x-user", "a b"),
        ]);
        assert!(inner.into_request().is_ok());
    }

    #[test]
    fn a_connect_request_has_only_an_authority() {
        let parts = received(vec![
            pseudo(Pseudo::Method, "CONNECT"),
            pseudo(Pseudo::Authority, "db:5432"),
        ])
        .into_request()
        .expect("valid CONNECT");
        assert_eq!(parts.uri.authority().map(|a| a.as_str()), Some("db:5432"));
        let with_path = received(vec![
            pseudo(Pseudo::Method, "CONNECT"),
            pseudo(Pseudo::Authority, "db:5432"),
            pseudo(Pseudo::Path, "/"),
        ]);
        assert_eq!(
            with_path.into_request().map(|_| ()),
            Err(":path in a CONNECT request")
        );
    }

    #[test]
    fn responses_and_trailers_are_checked() {
        let resp = received(vec![pseudo(Pseudo::Status, "204"), regular("x", "1")])
            .into_response()
            .expect("valid");
        assert_eq!(resp.status, StatusCode::NO_CONTENT);
        assert_eq!(
            received(vec![regular("x", "1")])
                .into_response()
                .map(|_| ()),
            Err("missing :status")
        );
        assert_eq!(
            received(vec![pseudo(Pseudo::Status, "200")])
                .into_trailers()
                .map(|_| ()),
            Err("a pseudo-header in trailers")
        );
    }

    #[test]
    fn a_block_longer_than_a_frame_is_split_after_encoding() {
        let mut dst = BytesMut::from(&b"prefix"[..]);
        put_block_frames(&mut dst, 1, false, 4, |d| {
            d.extend_from_slice(b"abcdefghij")
        });
        assert_eq!(&dst[..6], b"prefix");
        let mut rest = &dst[6..];
        let mut lens = Vec::new();
        while let Some(h) = frame::Head::parse(rest) {
            lens.push((h.kind, h.len));
            rest = &rest[frame::HEADER_LEN + h.len..];
        }
        assert_eq!(
            lens,
            vec![
                (frame::kind::HEADERS, 4),
                (frame::kind::CONTINUATION, 4),
                (frame::kind::CONTINUATION, 2)
            ]
        );
        let mut one = BytesMut::new();
        put_block_frames(&mut one, 3, true, 16, |d| d.extend_from_slice(b"abc"));
        let h = frame::Head::parse(&one).expect("head");
        assert_eq!((h.len, h.stream), (3, 3));
        assert!(h.has(frame::flag::END_STREAM) && h.has(frame::flag::END_HEADERS));
        assert_eq!(&one[frame::HEADER_LEN..], b"abc");
    }
}
