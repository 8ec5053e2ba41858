//! HPACK, the header compression of HTTP/2 (RFC 7541).
//!
//! [`Decoder`] turns the header blocks a peer sends into [`Field`]s, validated as RFC 9113
//! section 8.2.1 asks; [`Encoder`] writes the header blocks this endpoint sends. Each side of a
//! connection owns one of each: a decoder and an encoder share no state.

mod decoder;
mod encoder;
mod huffman;
mod huffman_table;
mod integer;
mod name;
mod table;
#[cfg(test)]
mod tests;

pub use decoder::{DecodeError, Decoded, Decoder};
pub use encoder::{Block, Encoder};

/// The pseudo-header fields of RFC 9113 section 8.3 (and :protocol, RFC 8441).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pseudo {
    /// `:method`
    Method,
    /// `:scheme`
    Scheme,
    /// `:authority`
    Authority,
    /// `:path`
    Path,
    /// `:status`
    Status,
    /// `:protocol` (extended CONNECT, RFC 8441)
    Protocol,
}

/// One decoded field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// A pseudo-header field and its value.
    Pseudo(Pseudo, http::HeaderValue),
    /// A regular header field. A value that arrived as a never-indexed literal (RFC 7541
    /// section 6.2.3) is marked sensitive (`HeaderValue::is_sensitive`), so an encoder that
    /// forwards it keeps it out of its dynamic table as section 7.1.3 requires.
    Header(http::HeaderName, http::HeaderValue),
}

/// Why a decoded block is not a valid HTTP/2 field list (RFC 9113 section 8.2.1). Such a block
/// is still decoded to its end so the dynamic table stays in step with the peer's; the
/// stream is malformed, the connection is fine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// A name with an uppercase letter, or a character not allowed in a field name.
    InvalidName,
    /// A value with NUL, CR or LF (or other bytes http::HeaderValue refuses).
    InvalidValue,
    /// A name starting with ':' that is not one of the pseudo-headers above.
    UnknownPseudo,
}
