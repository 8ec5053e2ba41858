//! Content hashes for config versions: FNV-1a over 128 bits, written to through `io::Write` so
//! a config is hashed while it is serialized, with no intermediate string. Deterministic
//! across runs and builds (unlike `std`'s hasher, whose algorithm may change).

use serde::Serialize;

const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
const PRIME: u128 = 0x0000000001000000000000000000013B;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv128(u128);

impl Default for Fnv128 {
    fn default() -> Self {
        Fnv128(OFFSET)
    }
}

impl Fnv128 {
    pub(crate) fn bytes(&mut self, data: &[u8]) {
        for b in data {
            self.0 ^= u128::from(*b);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }

    pub(crate) fn value(&mut self, v: &impl Serialize) {
        // Serializing into our own writer cannot fail on I/O; a serializer error (a map with
        // non-string keys) cannot happen for the model types, and would only weaken the hash.
        let _ = serde_json::to_writer(&mut *self, v);
        // A separator so that adjacent values cannot run into each other.
        self.bytes(&[0xff]);
    }

    pub(crate) fn u128(&mut self, v: u128) {
        self.bytes(&v.to_le_bytes());
    }

    pub(crate) fn finish(&self) -> u128 {
        self.0
    }
}

impl std::io::Write for Fnv128 {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A fast, non-cryptographic hasher for the compiler's own lookup tables (keys are names and
/// indices from the configuration, and a table's worst case only costs time on compiling a
/// hostile config the author controls anyway). SipHash dominated view building.
#[derive(Clone, Copy, Default)]
pub(crate) struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.add(u64::from_le_bytes(word));
        }
        for b in chunks.remainder() {
            self.add(u64::from(*b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

pub(crate) type FastMap<K, V> =
    std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

pub(crate) fn hex(v: u128) -> String {
    format!("{v:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_sensitive() {
        let h = |s: &str| {
            let mut f = Fnv128::default();
            f.value(&s);
            f.finish()
        };
        assert_eq!(h("a"), h("a"));
        assert_ne!(h("a"), h("b"));
        // Pinned: a change of algorithm would change every version in the field.
        assert_eq!(
            hex(Fnv128::default().finish()),
            "6c62272e07bb014262b821756295c58d"
        );
    }
}
