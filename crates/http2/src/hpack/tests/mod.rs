//! Tests across the codec: RFC 7541 Appendix C, the encoder's policy, the decoder's errors and
//! checks, and encoder-to-decoder round trips.

mod appendix_c;
mod decoder;
mod encoder;
mod round_trip;

use bytes::BytesMut;
use http::{HeaderName, HeaderValue};

use super::{DecodeError, Decoded, Decoder, Field, Pseudo};

/// Octets from the RFC's hex dumps (spaces and line breaks ignored).
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).expect("ascii"), 16).expect("hex"))
        .collect()
}

/// A field from its text: a pseudo-header when the name starts with ':'.
fn field(name: &str, value: &str) -> Field {
    let value = HeaderValue::from_str(value).expect("test value");
    match name {
        ":method" => Field::Pseudo(Pseudo::Method, value),
        ":scheme" => Field::Pseudo(Pseudo::Scheme, value),
        ":authority" => Field::Pseudo(Pseudo::Authority, value),
        ":path" => Field::Pseudo(Pseudo::Path, value),
        ":status" => Field::Pseudo(Pseudo::Status, value),
        ":protocol" => Field::Pseudo(Pseudo::Protocol, value),
        _ => Field::Header(
            HeaderName::from_bytes(name.as_bytes()).expect("test name"),
            value,
        ),
    }
}

fn fields(list: &[(&str, &str)]) -> Vec<Field> {
    list.iter()
        .map(|(name, value)| field(name, value))
        .collect()
}

/// Decodes a block with no list size limit worth mentioning.
fn decode(decoder: &mut Decoder, block: &[u8]) -> Result<(Vec<Field>, Decoded), DecodeError> {
    decode_limited(decoder, block, usize::MAX)
}

fn decode_limited(
    decoder: &mut Decoder,
    block: &[u8],
    max_list_size: usize,
) -> Result<(Vec<Field>, Decoded), DecodeError> {
    let mut out = Vec::new();
    let decoded = decoder.decode(block, max_list_size, |field| out.push(field))?;
    Ok((out, decoded))
}

/// Encodes one block of fields with `encoder`.
fn encode(encoder: &mut super::Encoder, list: &[Field]) -> Vec<u8> {
    let mut dst = BytesMut::new();
    let mut block = encoder.block(&mut dst);
    for field in list {
        match field {
            Field::Pseudo(pseudo, value) => block.pseudo(*pseudo, value.as_bytes()),
            Field::Header(name, value) => block.header(name, value),
        }
    }
    dst.to_vec()
}

/// A dynamic table as the RFC lists it: (size, "name: value"), newest first, and the total.
fn table(entries: &[(usize, &str)]) -> (Vec<(usize, String)>, usize) {
    let listed: Vec<(usize, String)> = entries
        .iter()
        .map(|(size, text)| (*size, (*text).to_owned()))
        .collect();
    let total = entries.iter().map(|(size, _)| size).sum();
    (listed, total)
}
