//! PEM reading and writing (rustls-pki-types), and key files written with mode 0600.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Write;
use std::path::Path;

/// A PEM input that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    #[error("{what}: no PEM {label} block found")]
    Missing { what: String, label: &'static str },
    #[error("{what}: malformed PEM: {source}")]
    Malformed {
        what: String,
        source: rustls_pki_types::pem::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Every `CERTIFICATE` block in `pem`, in order; at least one. `what` names the input in errors.
pub fn certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| PemError::Malformed {
            what: what.to_string(),
            source,
        })?;
    if certs.is_empty() {
        return Err(PemError::Missing {
            what: what.to_string(),
            label: "CERTIFICATE",
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, SEC1 or PKCS#1) in `pem`.
pub fn private_key(pem: &str, what: &str) -> Result<PrivateKeyDer<'static>, PemError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|source| match source {
        rustls_pki_types::pem::Error::NoItemsFound => PemError::Missing {
            what: what.to_string(),
            label: "PRIVATE KEY",
        },
        source => PemError::Malformed {
            what: what.to_string(),
            source,
        },
    })
}

/// PEM text for certificates, in order.
pub fn encode_certs<'a>(certs: impl IntoIterator<Item = &'a CertificateDer<'a>>) -> String {
    certs
        .into_iter()
        .map(|c| encode("CERTIFICATE", c.as_ref()))
        .collect()
}

/// One PEM block with 64-column base64 lines.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Reads a UTF-8 file, naming it in the error.
pub fn read(path: &Path) -> Result<String, PemError> {
    std::fs::read_to_string(path).map_err(|source| PemError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes `contents` to `path` atomically (temporary file, then rename) with the given mode:
/// 0600 for private keys, 0644 for certificates. The mode is set when the file is created, so
/// a key is never readable by others, not even briefly.
pub fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), PemError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| PemError::Io {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(contents.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn pem_round_trips_and_reports_missing_blocks() {
        let der = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x05]);
        let text = encode_certs([&der]);
        assert_eq!(certs(&text, "x").unwrap(), vec![der]);
        assert!(matches!(
            certs("hello", "input.pem"),
            Err(PemError::Missing { .. })
        ));
        assert!(matches!(
            private_key(&text, "key.pem"),
            Err(PemError::Missing { .. })
        ));
    }
}
