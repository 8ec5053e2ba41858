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

/// A version-4-shaped UUID for `x-request-id`, as ASCII bytes (no allocation).
pub fn request_id() -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let (a, b) = (next(), next());
    // 32 random bits, 16, version 4 and 12, variant 10 and 14, then 48.
    let fields: [(u64, usize); 5] = [
        (a >> 32, 8),
        ((a >> 16) & 0xffff, 4),
        (0x4000 | (a & 0x0fff), 4),
        (((b >> 48) & 0x3fff) | 0x8000, 4),
        (b & 0xffff_ffff_ffff, 12),
    ];
    let mut out = [b'-'; 36];
    let mut at = 0;
    for (value, digits) in fields {
        for i in 0..digits {
            let nibble = (value >> (4 * (digits - 1 - i))) & 0xf;
            if let (Some(slot), Some(c)) = (out.get_mut(at + i), HEX.get(nibble as usize)) {
                *slot = *c;
            }
        }
        at += digits + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_uuid_v4_shaped() {
        let id = super::request_id();
        let s = std::str::from_utf8(&id).unwrap();
        let groups: Vec<&str> = s.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'));
        assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert!(s.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
        assert_ne!(super::request_id(), id);
    }
}
