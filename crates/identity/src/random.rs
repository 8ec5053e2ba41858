//! Randomness from the crypto provider (aws-lc-rs): serial numbers, tokens, jitter.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// Fills `buf` with cryptographically secure random bytes.
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), aws_lc_rs::error::Unspecified> {
    SystemRandom::new().fill(buf)
}

/// A uniformly distributed number in `[0, 1)`; 0.5 when randomness is unavailable (jitter only).
pub(crate) fn unit_f64() -> f64 {
    let mut b = [0u8; 8];
    if fill(&mut b).is_err() {
        return 0.5;
    }
    // 53 random bits: every value exactly representable.
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Hex encoding of bytes (lowercase).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `n` random bytes, hex encoded: bearer tokens and the like.
pub fn random_hex(n: usize) -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut buf = vec![0u8; n];
    fill(&mut buf)?;
    Ok(hex(&buf))
}
