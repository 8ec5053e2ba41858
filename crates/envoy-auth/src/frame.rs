//! gRPC's length-prefixed framing for a unary call: one message, uncompressed (neither side
//! here negotiates compression), behind a flag byte and a big-endian 32-bit length.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;

/// A message larger than this is refused before it is decoded. Check requests carry headers
/// and at most a bounded body; answers a few headers and a deny body.
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the gRPC body is shorter than its frame header says ({0} bytes)")]
    Short(usize),
    #[error("the gRPC message is compressed (flag {0}); no compression was negotiated")]
    Compressed(u8),
    #[error("the gRPC message has {0} bytes, more than the limit")]
    TooLarge(usize),
    #[error("{0} bytes follow the one gRPC message of a unary call")]
    Trailing(usize),
    #[error("no gRPC message")]
    Empty,
    #[error("undecodable message: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// `m` as one gRPC frame.
pub fn encode<M: Message>(m: &M) -> Bytes {
    let len = m.encoded_len();
    let mut buf = BytesMut::with_capacity(5 + len);
    buf.put_u8(0);
    // A message over 4 GiB cannot be built from anything this crate is given.
    buf.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    m.encode_raw(&mut buf);
    buf.freeze()
}

/// The one message of a unary call's body (all of its bytes, as received).
pub fn decode<M: Message + Default>(body: &[u8]) -> Result<M, FrameError> {
    let Some((head, rest)) = body.split_first_chunk::<5>() else {
        return Err(if body.is_empty() {
            FrameError::Empty
        } else {
            FrameError::Short(body.len())
        });
    };
    if head[0] != 0 {
        return Err(FrameError::Compressed(head[0]));
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_MESSAGE_BYTES {
        return Err(FrameError::TooLarge(len));
    }
    if rest.len() < len {
        return Err(FrameError::Short(body.len()));
    }
    if rest.len() > len {
        return Err(FrameError::Trailing(rest.len() - len));
    }
    Ok(M::decode(&rest[..len])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CheckResponse, Status};

    #[test]
    fn a_frame_round_trips_and_malformed_ones_are_refused() {
        let m = CheckResponse {
            status: Some(Status {
                code: 7,
                message: String::new(),
            }),
            http_response: None,
        };
        let framed = encode(&m);
        // Flag 0, length 4, then field 1 (length-delimited, 2 bytes) holding field 1 = 7.
        assert_eq!(&framed[..], &[0, 0, 0, 0, 4, 0x0a, 0x02, 0x08, 0x07]);
        assert_eq!(decode::<CheckResponse>(&framed).ok(), Some(m));
        assert!(matches!(
            decode::<CheckResponse>(&[]),
            Err(FrameError::Empty)
        ));
        assert!(matches!(
            decode::<CheckResponse>(&framed[..7]),
            Err(FrameError::Short(7))
        ));
        let mut compressed = framed.to_vec();
        compressed[0] = 1;
        assert!(matches!(
            decode::<CheckResponse>(&compressed),
            Err(FrameError::Compressed(1))
        ));
        let mut two = framed.to_vec();
        two.extend_from_slice(&framed);
        assert!(matches!(
            decode::<CheckResponse>(&two),
            Err(FrameError::Trailing(9))
        ));
        let huge = [0, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            decode::<CheckResponse>(&huge),
            Err(FrameError::TooLarge(_))
        ));
        // A length-delimited field claiming more bytes than there are.
        assert!(matches!(
            decode::<CheckResponse>(&[0, 0, 0, 0, 2, 0x0a, 0x05]),
            Err(FrameError::Decode(_))
        ));
    }
}
