//! Standard base64 (RFC 4648, padded), as Kubernetes encodes `Secret.data` and
//! `ConfigMap.binaryData`. Line breaks are ignored, as Go's decoder does.

const INVALID: u8 = 0xff;

fn sextet(c: u8) -> u8 {
    match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => INVALID,
    }
}

/// Decodes `text`, or says where it stops being base64.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|b| *b != b'\n' && *b != b'\r')
        .collect();
    if !bytes.len().is_multiple_of(4) {
        return Err(format!(
            "not valid base64: the length ({}) is not a multiple of 4 (is padding '=' missing?)",
            bytes.len()
        ));
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.len() / 4;
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|b| **b == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return Err("not valid base64: '=' padding is only allowed at the end".into());
        }
        let mut acc: u32 = 0;
        for (j, b) in chunk.iter().enumerate() {
            let v = if j >= 4 - pad {
                0
            } else {
                let v = sextet(*b);
                if v == INVALID {
                    return Err(format!(
                        "not valid base64: unexpected character {:?} at offset {}",
                        char::from(*b),
                        i * 4 + j
                    ));
                }
                v
            };
            acc = (acc << 6) | u32::from(v);
        }
        let [_, a, b, c] = acc.to_be_bytes();
        out.push(a);
        if pad < 2 {
            out.push(b);
        }
        if pad < 1 {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_and_rejects() {
        assert_eq!(decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode("aGVs\nbG8h").unwrap(), b"hello!");
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("YQ==").unwrap(), b"a");
        for bad in ["aGVsbG8", "a=bc", "YQ==YQ==", "****", "Y==="] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
