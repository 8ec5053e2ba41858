//! The encoder: fields in, header blocks out.
//!
//! Policy, per field:
//! - a sensitive value is a never-indexed literal (section 6.2.3), whatever the tables hold;
//! - else an exact match in the static table, then in the dynamic table, is sent indexed;
//! - else a literal, its name by index when either table has it (static first): with
//!   incremental indexing when the entry (name + value + 32) is at most half the table size,
//!   without indexing otherwise, so that one large value does not flush the table. Half (not
//!   a quarter) because a date or a cookie, repeated on every response, is worth indexing even
//!   in the small tables of RFC 7541 Appendix C.5 (256 octets).
//!
//! Strings are always sent raw (H = 0), never Huffman-coded: Huffman saves about a fifth of a
//! literal's octets but costs a table walk per octet on both ends, and on the mesh's links
//! octets are cheap while CPU is not.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;

use bytes::{BufMut, BytesMut};
use foldhash::fast::{FixedState, RandomState};
use http::{HeaderName, HeaderValue};

use super::name::{Name, NameRef};
use super::table::{find_static, DynamicTable, HasSize, StaticMatch, ENTRY_OVERHEAD, STATIC_LEN};
use super::{integer, Pseudo};

/// SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 section 6.5.2), and the most the
/// encoder uses even when the peer allows more: past it the gain is small and the memory is
/// per connection.
const MAX_TABLE_SIZE: usize = 4096;

/// The encoding half of one HTTP/2 connection's HPACK state.
pub struct Encoder {
    table: DynamicTable<Entry>,
    /// Entries are numbered in insertion order; the newest is `inserted - 1`, and an entry's
    /// wire index is `STATIC_LEN + 1 + (inserted - 1 - number)`.
    inserted: u64,
    /// Hash of (name, value) to the number of the newest entry with it.
    fields: HashMap<u64, u64, FixedState>,
    /// Hash of a name the static table lacks to the number of the newest entry with it.
    names: HashMap<u64, u64, FixedState>,
    /// Keyed per encoder: header names and values come from the other side of the proxy.
    hasher: RandomState,
    /// A table size change not yet signalled to the peer.
    resize: Option<Resize>,
}

/// Section 4.2: the smallest size since the last block, and the latest.
#[derive(Clone, Copy, Debug)]
struct Resize {
    smallest: usize,
    last: usize,
}

/// A dynamic table entry as the encoder keeps it: enough to confirm a hash match and to drop
/// its map keys when it is evicted.
struct Entry {
    name: Name,
    value: HeaderValue,
    number: u64,
    field_hash: u64,
    /// None for names the static table holds: those are never looked up here.
    name_hash: Option<u64>,
    size: usize,
}

impl HasSize for Entry {
    fn size(&self) -> usize {
        self.size
    }
}

/// One header block being written; get it from [`Encoder::block`] and add the fields in order.
pub struct Block<'a> {
    encoder: &'a mut Encoder,
    dst: &'a mut BytesMut,
}

/// First octets of the representations (section 6).
const INDEXED: u8 = 0x80;
const INCREMENTAL: u8 = 0x40;
const WITHOUT_INDEXING: u8 = 0x00;
const NEVER_INDEXED: u8 = 0x10;
const SIZE_UPDATE: u8 = 0x20;

impl Encoder {
    /// An encoder for a peer whose decoder allows 4096 bytes of dynamic table (the default).
    pub fn new() -> Encoder {
        Encoder {
            table: DynamicTable::new(MAX_TABLE_SIZE),
            inserted: 0,
            fields: HashMap::default(),
            names: HashMap::default(),
            hasher: RandomState::default(),
            resize: None,
        }
    }

    /// The peer's SETTINGS_HEADER_TABLE_SIZE changed. The encoder uses min(size, 4096) and
    /// signals the change at the start of the next block (if the size went down and up again
    /// between blocks, signal the smallest first, then the final: RFC 7541 section 4.2).
    pub fn set_max_table_size(&mut self, size: usize) {
        let size = size.min(MAX_TABLE_SIZE);
        match &mut self.resize {
            Some(resize) => {
                resize.smallest = resize.smallest.min(size);
                resize.last = size;
            }
            None if size != self.table.max_size() => {
                self.resize = Some(Resize {
                    smallest: size,
                    last: size,
                })
            }
            None => {}
        }
    }

    /// Starts a header block written into `dst` (emits any pending size update first).
    pub fn block<'a>(&'a mut self, dst: &'a mut BytesMut) -> Block<'a> {
        if let Some(Resize { smallest, last }) = self.resize.take() {
            if smallest < last {
                self.resize_table(smallest);
                integer::encode(dst, SIZE_UPDATE, 5, smallest);
            }
            self.resize_table(last);
            integer::encode(dst, SIZE_UPDATE, 5, last);
        }
        Block { encoder: self, dst }
    }

    fn resize_table(&mut self, size: usize) {
        let (fields, names) = (&mut self.fields, &mut self.names);
        self.table
            .set_max_size(size, |old| forget(fields, names, &old));
    }

    fn field(
        &mut self,
        dst: &mut BytesMut,
        name: NameRef<'_>,
        value: &[u8],
        sensitive: bool,
        stored: impl FnOnce() -> Option<HeaderValue>,
    ) {
        let in_static = find_static(name, value);
        let static_name = match in_static {
            Some(StaticMatch::Field(index)) if !sensitive => {
                integer::encode(dst, INDEXED, 7, index);
                return;
            }
            Some(StaticMatch::Field(index) | StaticMatch::Name(index)) => Some(index),
            None => None,
        };
        if sensitive {
            // Never looked up in the dynamic table either: a hit would tell whoever can watch
            // the block sizes that a guess was right (section 7.1.3).
            let name_index = static_name.or_else(|| self.find_name(self.name_hash(name)?, name));
            literal(dst, NEVER_INDEXED, 4, name_index, name, value);
            return;
        }
        if self.table.max_size() == 0 {
            literal(dst, WITHOUT_INDEXING, 4, static_name, name, value);
            return;
        }
        let field_hash = self.hasher.hash_one((name.as_bytes(), value));
        if let Some(index) = self.find_field(field_hash, name, value) {
            integer::encode(dst, INDEXED, 7, index);
            return;
        }
        // Names the static table holds are found there; only the others are kept by hash.
        let name_hash = match static_name {
            Some(_) => None,
            None => Some(self.hasher.hash_one(name.as_bytes())),
        };
        let name_index = static_name.or_else(|| self.find_name(name_hash?, name));
        let size = name
            .as_bytes()
            .len()
            .saturating_add(value.len())
            .saturating_add(ENTRY_OVERHEAD);
        let stored = (size <= self.table.max_size() / 2).then(stored).flatten();
        match stored {
            Some(stored) => {
                literal(dst, INCREMENTAL, 6, name_index, name, value);
                self.insert(name.to_owned(), stored, field_hash, name_hash, size);
            }
            None => literal(dst, WITHOUT_INDEXING, 4, name_index, name, value),
        }
    }

    /// The key of `name` in `names`, unless that map is empty (skipping the hashing).
    fn name_hash(&self, name: NameRef<'_>) -> Option<u64> {
        (!self.names.is_empty()).then(|| self.hasher.hash_one(name.as_bytes()))
    }

    /// The wire index of the newest entry holding `name` and `value`.
    fn find_field(&self, hash: u64, name: NameRef<'_>, value: &[u8]) -> Option<usize> {
        let &number = self.fields.get(&hash)?;
        let position = self.position(number)?;
        let entry = self.table.get(position)?;
        // Distinct fields may share a hash; only a real match may be sent indexed.
        (entry.name.is(name) && entry.value.as_bytes() == value)
            .then_some(STATIC_LEN + 1 + position)
    }

    /// The wire index of the newest entry named `name`.
    fn find_name(&self, hash: u64, name: NameRef<'_>) -> Option<usize> {
        let &number = self.names.get(&hash)?;
        let position = self.position(number)?;
        let entry = self.table.get(position)?;
        entry.name.is(name).then_some(STATIC_LEN + 1 + position)
    }

    /// Where entry `number` sits in the table, 0 being the newest.
    fn position(&self, number: u64) -> Option<usize> {
        let age = self.inserted.checked_sub(number)?.checked_sub(1)?;
        usize::try_from(age).ok()
    }

    fn insert(
        &mut self,
        name: Name,
        value: HeaderValue,
        field_hash: u64,
        name_hash: Option<u64>,
        size: usize,
    ) {
        let number = self.inserted;
        self.inserted += 1;
        let entry = Entry {
            name,
            value,
            number,
            field_hash,
            name_hash,
            size,
        };
        let (fields, names) = (&mut self.fields, &mut self.names);
        if self.table.insert(entry, |old| forget(fields, names, &old)) {
            fields.insert(field_hash, number);
            if let Some(name_hash) = name_hash {
                names.insert(name_hash, number);
            }
        }
    }

    /// Each dynamic table entry, newest first, as (size, "name: value"), and the table size.
    #[cfg(test)]
    pub(super) fn dynamic_table(&self) -> (Vec<(usize, String)>, usize) {
        let entries = self
            .table
            .iter()
            .map(|entry| {
                let name = String::from_utf8_lossy(entry.name.as_bytes()).into_owned();
                let value = String::from_utf8_lossy(entry.value.as_bytes()).into_owned();
                (entry.size, format!("{name}: {value}"))
            })
            .collect();
        (entries, self.table.size())
    }

    /// How many keys the lookup maps hold (they must shrink with the table).
    #[cfg(test)]
    pub(super) fn map_sizes(&self) -> (usize, usize) {
        (self.fields.len(), self.names.len())
    }
}

/// Drops an evicted entry's map keys, unless a newer entry has taken them over.
fn forget(
    fields: &mut HashMap<u64, u64, FixedState>,
    names: &mut HashMap<u64, u64, FixedState>,
    old: &Entry,
) {
    if fields.get(&old.field_hash) == Some(&old.number) {
        fields.remove(&old.field_hash);
    }
    if let Some(name_hash) = old.name_hash {
        if names.get(&name_hash) == Some(&old.number) {
            names.remove(&name_hash);
        }
    }
}

/// A literal field (section 6.2): the name by index when there is one, else as a string,
/// then the value.
fn literal(
    dst: &mut BytesMut,
    flags: u8,
    prefix_bits: u32,
    name_index: Option<usize>,
    name: NameRef<'_>,
    value: &[u8],
) {
    match name_index {
        Some(index) => integer::encode(dst, flags, prefix_bits, index),
        None => {
            integer::encode(dst, flags, prefix_bits, 0);
            string(dst, name.as_bytes());
        }
    }
    string(dst, value);
}

/// A raw string literal (section 5.2, H = 0).
fn string(dst: &mut BytesMut, bytes: &[u8]) {
    integer::encode(dst, 0, 7, bytes.len());
    dst.put_slice(bytes);
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl fmt::Debug for Encoder {
    // The table holds header values; they stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("table_max_size", &self.table.max_size())
            .field("table_size", &self.table.size())
            .field("table_len", &self.table.len())
            .field("pending_resize", &self.resize)
            .finish_non_exhaustive()
    }
}

impl Block<'_> {
    /// Adds a pseudo-header field; `value` is sent as given (the caller has checked it).
    pub fn pseudo(&mut self, pseudo: Pseudo, value: &[u8]) {
        self.encoder
            .field(self.dst, NameRef::Pseudo(pseudo), value, false, || {
                // Only a value that could have come from a decoder is worth keeping.
                HeaderValue::from_bytes(value).ok()
            });
    }

    /// A sensitive value (`HeaderValue::is_sensitive`) is sent never-indexed (section 6.2.3).
    pub fn header(&mut self, name: &HeaderName, value: &HeaderValue) {
        self.encoder.field(
            self.dst,
            NameRef::Header(name),
            value.as_bytes(),
            value.is_sensitive(),
            || Some(value.clone()),
        );
    }
}

impl fmt::Debug for Block<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block")
            .field("encoder", &self.encoder)
            .field("len", &self.dst.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distinct fields may share a hash: a map hit counts only once the entry confirms it.
    #[test]
    fn hash_hits_are_confirmed_against_the_entry() {
        let mut encoder = Encoder::new();
        let mut dst = BytesMut::new();
        let x_a = HeaderName::from_static("x-a");
        let x_b = HeaderName::from_static("x-b");
        encoder
            .block(&mut dst)
            .header(&x_a, &HeaderValue::from_static("1"));
        // Point the keys of "x-a: 2" and of the name "x-b" at entry 0, "x-a: 1".
        let hash = encoder
            .hasher
            .hash_one((b"x-a".as_slice(), b"2".as_slice()));
        encoder.fields.insert(hash, 0);
        let hash = encoder.hasher.hash_one(b"x-b".as_slice());
        encoder.names.insert(hash, 0);

        dst.clear();
        encoder
            .block(&mut dst)
            .header(&x_a, &HeaderValue::from_static("2"));
        // Not indexed as "x-a: 1"; the name "x-a" is, rightly, entry 62.
        assert_eq!(dst[..], [0x40 | 62, 0x01, b'2']);
        dst.clear();
        encoder
            .block(&mut dst)
            .header(&x_b, &HeaderValue::from_static("1"));
        // "x-b" is not the name of "x-a: 1" (now entry 63): sent as a new name.
        assert_eq!(dst[..], [0x40, 0x03, b'x', b'-', b'b', 0x01, b'1']);
    }
}
