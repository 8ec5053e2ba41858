//! The messages, each named after its proto and carrying that proto's field numbers:
//! `envoy/service/auth/v3/{external_auth,attribute_context}.proto`,
//! `envoy/config/core/v3/{base,address}.proto`, `envoy/type/v3/http_status.proto`,
//! `google/rpc/status.proto` and `google/protobuf/timestamp.proto`.
//! Maps are `BTreeMap`s so that an encoded request is the same bytes every time.

use std::collections::BTreeMap;

/// `envoy.service.auth.v3.CheckRequest`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CheckRequest {
    #[prost(message, optional, tag = "1")]
    pub attributes: Option<AttributeContext>,
}

/// `envoy.service.auth.v3.AttributeContext` (without the metadata contexts).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct AttributeContext {
    #[prost(message, optional, tag = "1")]
    pub source: Option<Peer>,
    #[prost(message, optional, tag = "2")]
    pub destination: Option<Peer>,
    #[prost(message, optional, tag = "4")]
    pub request: Option<Request>,
    #[prost(btree_map = "string, string", tag = "10")]
    pub context_extensions: BTreeMap<String, String>,
    #[prost(message, optional, tag = "12")]
    pub tls_session: Option<TlsSession>,
}

/// `AttributeContext.Peer`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Peer {
    #[prost(message, optional, tag = "1")]
    pub address: Option<Address>,
    #[prost(string, tag = "2")]
    pub service: String,
    #[prost(btree_map = "string, string", tag = "3")]
    pub labels: BTreeMap<String, String>,
    /// The URI SAN of the peer's certificate, e.g. `spiffe://cluster.local/ns/foo/sa/curl`.
    #[prost(string, tag = "4")]
    pub principal: String,
    /// The peer's certificate, PEM then URL-encoded.
    #[prost(string, tag = "5")]
    pub certificate: String,
}

/// `AttributeContext.Request`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Request {
    #[prost(message, optional, tag = "1")]
    pub time: Option<Timestamp>,
    #[prost(message, optional, tag = "2")]
    pub http: Option<HttpRequest>,
}

/// `AttributeContext.HttpRequest` (without `header_map`, which Envoy only fills when asked
/// to send raw headers).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct HttpRequest {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub method: String,
    /// Lower-case names; repeated headers joined with commas.
    #[prost(btree_map = "string, string", tag = "3")]
    pub headers: BTreeMap<String, String>,
    /// Path and query, as in the request line.
    #[prost(string, tag = "4")]
    pub path: String,
    #[prost(string, tag = "5")]
    pub host: String,
    #[prost(string, tag = "6")]
    pub scheme: String,
    /// Always empty (the query is in `path`).
    #[prost(string, tag = "7")]
    pub query: String,
    /// Always empty.
    #[prost(string, tag = "8")]
    pub fragment: String,
    /// -1 when unknown.
    #[prost(int64, tag = "9")]
    pub size: i64,
    /// `HTTP/1.0`, `HTTP/1.1`, `HTTP/2` or `HTTP/3`.
    #[prost(string, tag = "10")]
    pub protocol: String,
    #[prost(string, tag = "11")]
    pub body: String,
    /// The body, when the provider asked for it packed as bytes.
    #[prost(bytes = "vec", tag = "12")]
    pub raw_body: Vec<u8>,
}

/// `AttributeContext.TLSSession`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TlsSession {
    #[prost(string, tag = "1")]
    pub sni: String,
}

/// `envoy.config.core.v3.Address`: a oneof of which only the socket address is used here.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Address {
    #[prost(oneof = "address::Address", tags = "1")]
    pub address: Option<address::Address>,
}

pub mod address {
    #[derive(Clone, PartialEq, ::prost::Oneof)]
    pub enum Address {
        #[prost(message, tag = "1")]
        SocketAddress(super::SocketAddress),
    }
}

impl Address {
    pub fn socket(ip: std::net::IpAddr, port: u16) -> Address {
        Address {
            address: Some(address::Address::SocketAddress(SocketAddress {
                protocol: 0,
                address: ip.to_string(),
                port_specifier: Some(socket_address::PortSpecifier::PortValue(u32::from(port))),
            })),
        }
    }
}

/// `envoy.config.core.v3.SocketAddress` (protocol 0 is TCP).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SocketAddress {
    #[prost(int32, tag = "1")]
    pub protocol: i32,
    #[prost(string, tag = "2")]
    pub address: String,
    #[prost(oneof = "socket_address::PortSpecifier", tags = "3, 4")]
    pub port_specifier: Option<socket_address::PortSpecifier>,
}

pub mod socket_address {
    #[derive(Clone, PartialEq, ::prost::Oneof)]
    pub enum PortSpecifier {
        #[prost(uint32, tag = "3")]
        PortValue(u32),
        #[prost(string, tag = "4")]
        NamedPort(String),
    }
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, ::prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `envoy.service.auth.v3.CheckResponse` (without dynamic metadata).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CheckResponse {
    /// Code 0 (OK) allows; anything else denies.
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(oneof = "check_response::HttpResponse", tags = "2, 3")]
    pub http_response: Option<check_response::HttpResponse>,
}

pub mod check_response {
    #[derive(Clone, PartialEq, ::prost::Oneof)]
    pub enum HttpResponse {
        #[prost(message, tag = "2")]
        DeniedResponse(super::DeniedHttpResponse),
        #[prost(message, tag = "3")]
        OkResponse(super::OkHttpResponse),
    }
}

/// `envoy.service.auth.v3.DeniedHttpResponse`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct DeniedHttpResponse {
    /// Unset or 0: 403.
    #[prost(message, optional, tag = "1")]
    pub status: Option<HttpStatus>,
    /// For the caller.
    #[prost(message, repeated, tag = "2")]
    pub headers: Vec<HeaderValueOption>,
    #[prost(string, tag = "3")]
    pub body: String,
}

/// `envoy.service.auth.v3.OkHttpResponse` (without dynamic metadata and query parameters).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct OkHttpResponse {
    /// For the request sent on to the application.
    #[prost(message, repeated, tag = "2")]
    pub headers: Vec<HeaderValueOption>,
    /// Removed from the request sent on (never pseudo-headers or Host).
    #[prost(string, repeated, tag = "5")]
    pub headers_to_remove: Vec<String>,
    /// For the response to the caller.
    #[prost(message, repeated, tag = "6")]
    pub response_headers_to_add: Vec<HeaderValueOption>,
}

/// `envoy.config.core.v3.HeaderValueOption`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct HeaderValueOption {
    #[prost(message, optional, tag = "1")]
    pub header: Option<HeaderValue>,
    /// A `google.protobuf.BoolValue`; in ext_authz answers unset means false (overwrite).
    #[prost(message, optional, tag = "2")]
    pub append: Option<bool>,
    /// `HeaderAppendAction`, consulted only when `append` is unset.
    #[prost(int32, tag = "3")]
    pub append_action: i32,
    #[prost(bool, tag = "4")]
    pub keep_empty_value: bool,
}

/// `HeaderValueOption.HeaderAppendAction`.
pub mod append_action {
    pub const APPEND_IF_EXISTS_OR_ADD: i32 = 0;
    pub const ADD_IF_ABSENT: i32 = 1;
    pub const OVERWRITE_IF_EXISTS_OR_ADD: i32 = 2;
    pub const OVERWRITE_IF_EXISTS: i32 = 3;
}

impl HeaderValueOption {
    /// A header to set, replacing any value (`append: false`).
    pub fn set(key: &str, value: &str) -> HeaderValueOption {
        HeaderValueOption {
            header: Some(HeaderValue {
                key: key.into(),
                value: value.into(),
                raw_value: Vec::new(),
            }),
            append: Some(false),
            append_action: 0,
            keep_empty_value: false,
        }
    }
}

/// `envoy.config.core.v3.HeaderValue`: `value`, or `raw_value` for bytes that are not UTF-8.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct HeaderValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
    #[prost(bytes = "vec", tag = "3")]
    pub raw_value: Vec<u8>,
}

/// `envoy.type.v3.HttpStatus` (its `code` is the `StatusCode` enum, whose numbers are the
/// HTTP statuses).
#[derive(Clone, Copy, PartialEq, ::prost::Message)]
pub struct HttpStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
}

/// `google.rpc.Status` (without `details`).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// The field numbers and wire types, pinned by bytes worked out by hand from the protos.
    #[test]
    fn wire_bytes_match_the_protos() {
        let peer = Peer {
            address: Some(Address::socket([10, 0, 0, 1].into(), 80)),
            principal: "p".into(),
            ..Default::default()
        };
        assert_eq!(
            peer.encode_to_vec(),
            [
                // address (1) { socket_address (1) { address (2) "10.0.0.1", port_value (3) 80 } }
                0x0a, 0x0e, 0x0a, 0x0c, 0x12, 0x08, b'1', b'0', b'.', b'0', b'.', b'0', b'.', b'1',
                0x18, 0x50, // principal (4) "p"
                0x22, 0x01, b'p',
            ]
        );
        let http = HttpRequest {
            method: "GET".into(),
            headers: [("a".to_string(), "b".to_string())].into(),
            size: -1,
            raw_body: vec![1],
            ..Default::default()
        };
        let mut want = vec![0x12, 0x03, b'G', b'E', b'T'];
        // headers (3): entry { key (1) "a", value (2) "b" }
        want.extend([0x1a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b']);
        // size (9), varint -1 as ten bytes
        want.extend([
            0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ]);
        // raw_body (12)
        want.extend([0x62, 0x01, 0x01]);
        assert_eq!(http.encode_to_vec(), want);
        let req = CheckRequest {
            attributes: Some(AttributeContext {
                request: Some(Request {
                    time: Some(Timestamp {
                        seconds: 1,
                        nanos: 0,
                    }),
                    http: None,
                }),
                tls_session: Some(TlsSession { sni: "s".into() }),
                ..Default::default()
            }),
        };
        // attributes (1) { request (4) { time (1) { seconds (1) 1 } }, tls_session (12) { sni "s" } }
        assert_eq!(
            req.encode_to_vec(),
            [0x0a, 0x0b, 0x22, 0x04, 0x0a, 0x02, 0x08, 0x01, 0x62, 0x03, 0x0a, 0x01, b's']
        );
    }

    #[test]
    fn answers_decode_from_hand_written_bytes() {
        // status (1) { code 0 }, ok_response (3) { headers (2) { header (1) { key "k",
        // value "v" }, append (2) { value true } }, headers_to_remove (5) "r",
        // response_headers_to_add (6) { header { key "d", value "e" } } }
        let ok = [
            0x0a, 0x00, 0x1a, 0x1b, 0x12, 0x0c, 0x0a, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, b'v',
            0x12, 0x02, 0x08, 0x01, 0x2a, 0x01, b'r', 0x32, 0x08, 0x0a, 0x06, 0x0a, 0x01, b'd',
            0x12, 0x01, b'e',
        ];
        let r = CheckResponse::decode(&ok[..]).expect("decodes");
        assert_eq!(r.status.map(|s| s.code), Some(0));
        let Some(check_response::HttpResponse::OkResponse(o)) = r.http_response else {
            panic!("ok_response expected")
        };
        assert_eq!(o.headers.len(), 1);
        assert_eq!(o.headers[0].append, Some(true));
        assert_eq!(
            o.headers[0].header.as_ref().map(|h| h.key.as_str()),
            Some("k")
        );
        assert_eq!(o.headers_to_remove, ["r"]);
        assert_eq!(
            o.response_headers_to_add[0]
                .header
                .as_ref()
                .map(|h| h.value.as_str()),
            Some("e")
        );
        assert_eq!(o.response_headers_to_add[0].append, None);
        // status (1) { code 7 }, denied_response (2) { status (1) { code 401 }, body (3) "no" }
        let denied = [
            0x0a, 0x02, 0x08, 0x07, 0x12, 0x09, 0x0a, 0x03, 0x08, 0x91, 0x03, 0x1a, 0x02, b'n',
            b'o',
        ];
        let r = CheckResponse::decode(&denied[..]).expect("decodes");
        assert_eq!(r.status.map(|s| s.code), Some(7));
        let Some(check_response::HttpResponse::DeniedResponse(d)) = r.http_response else {
            panic!("denied_response expected")
        };
        assert_eq!(d.status.map(|s| s.code), Some(401));
        assert_eq!(d.body, "no");
    }
}
