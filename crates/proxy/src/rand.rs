//! A fast per-thread pseudo-random source for load balancing choices, weights, jitter and
//! request ids. Not for anything secret.

use std::cell::Cell;

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut b = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x853C_49E6_748F_EA9B);
        return t | 1;
    }
    u64::from_le_bytes(b) | 1
}

/// xorshift64*.
pub fn next() -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// Uniform-enough in `0..n` (`n` > 0; 0 gives 0).
pub fn below(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        next() % n
    }
}

/// A version-4-shaped UUID for `x-request-id`.
pub fn request_id() -> String {
    let (a, b) = (next(), next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}
