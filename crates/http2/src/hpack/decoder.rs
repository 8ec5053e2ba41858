//! The decoder: header blocks in, fields out (RFC 7541 sections 3 and 6).

use std::fmt;

use http::HeaderValue;

use super::table::{DynamicTable, Entry, HasSize, ENTRY_OVERHEAD, STATIC, STATIC_LEN};
use super::{huffman, integer, name, Field, Malformed};

/// Why a header block could not be decoded. Each is a COMPRESSION_ERROR: the dynamic table
/// can no longer be trusted to match the peer's, so the connection must end.
#[derive(Clone, Copy, Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The block ends inside a representation, or a string is longer than what is left.
    #[error("header block truncated inside a field representation")]
    Truncated,
    /// An integer is larger than 2^32 - 1 or padded with more continuation octets than such
    /// a value needs.
    #[error("integer in header block exceeds 2^32 - 1")]
    IntegerOverflow,
    /// Index 0, or an index past the end of the dynamic table.
    #[error("header block references index {0}, which is in neither table")]
    InvalidIndex(usize),
    /// A Huffman-coded string contains EOS, ends in a code cut short, or is padded with more
    /// than 7 bits or with anything but ones.
    #[error("invalid Huffman-coded string in header block")]
    InvalidHuffman,
    /// A dynamic table size update above the SETTINGS_HEADER_TABLE_SIZE this endpoint
    /// advertised.
    #[error("dynamic table size update to {size} exceeds the advertised maximum of {max}")]
    TableSizeUpdateTooLarge {
        /// The size the peer asked for.
        size: usize,
        /// The most this endpoint allows.
        max: usize,
    },
    /// A dynamic table size update after the first field of a block (section 4.2 allows
    /// them only at the start).
    #[error("dynamic table size update after the start of a header block")]
    TableSizeUpdateNotAtStart,
}

/// How a block that decoded without error fared as an HTTP/2 field list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// The field list was larger than `max_list_size` (counting every field of the block).
    pub oversize: bool,
    /// Why the first malformed field was malformed. Fields after the one that stopped
    /// emission (oversize or malformed) are only checked when they enter the dynamic table,
    /// and are not reported here.
    pub malformed: Option<Malformed>,
}

/// Scratch buffers grown past this by one large string are released after the block, so that
/// a single oversized header does not stay allocated for the life of the connection.
const SCRATCH_KEEP: usize = 16 * 1024;

/// The decoding half of one HTTP/2 connection's HPACK state.
pub struct Decoder {
    table: DynamicTable<Entry>,
    /// The SETTINGS_HEADER_TABLE_SIZE this endpoint advertised.
    max_table_size: usize,
    /// Huffman-decoded names and values land here before they are checked and copied, so
    /// that a block costs no allocation beyond the fields' own.
    name_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

/// The three literal representations (section 6.2), by what they ask of the table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Indexing {
    Incremental,
    Without,
    Never,
}

impl Decoder {
    /// `max_table_size`: the SETTINGS_HEADER_TABLE_SIZE this endpoint advertised (4096 by
    /// default); a dynamic table size update above it is a decoding error. The dynamic table
    /// starts at that size.
    pub fn new(max_table_size: usize) -> Decoder {
        Decoder {
            table: DynamicTable::new(max_table_size),
            max_table_size,
            name_buf: Vec::new(),
            value_buf: Vec::new(),
        }
    }

    /// Decodes one complete header block (HEADERS + CONTINUATION fragments already joined),
    /// calling `emit` for each valid field in order. Once the header list size (RFC 7541
    /// section 4.1 accounting: name + value + 32 per field) exceeds `max_list_size`, or once a
    /// field is malformed, decoding continues to the end of the block (the table must stay in
    /// sync) but nothing more is emitted, and the returned `Decoded` says why.
    /// An Err is a COMPRESSION_ERROR (a connection error) for the caller.
    pub fn decode(
        &mut self,
        block: &[u8],
        max_list_size: usize,
        emit: impl FnMut(Field),
    ) -> Result<Decoded, DecodeError> {
        let mut src = block;
        let mut list = List {
            emit,
            max_size: max_list_size,
            size: 0,
            decoded: Decoded::default(),
        };
        self.size_updates(&mut src)?;
        while let Some(&first) = src.first() {
            match first {
                0x80..=0xff => self.indexed(&mut src, &mut list)?,
                0x40..=0x7f => self.literal(&mut src, 6, Indexing::Incremental, &mut list)?,
                0x20..=0x3f => return Err(DecodeError::TableSizeUpdateNotAtStart),
                0x10..=0x1f => self.literal(&mut src, 4, Indexing::Never, &mut list)?,
                0x00..=0x0f => self.literal(&mut src, 4, Indexing::Without, &mut list)?,
            }
        }
        for buf in [&mut self.name_buf, &mut self.value_buf] {
            if buf.capacity() > SCRATCH_KEEP {
                *buf = Vec::new();
            }
        }
        Ok(list.decoded)
    }

    /// Section 6.3, at the start of the block. The peer may send two (the smallest size it
    /// went through, then the final one); more are accepted, each checked.
    fn size_updates(&mut self, src: &mut &[u8]) -> Result<(), DecodeError> {
        while let Some(&first) = src.first() {
            if first & 0xe0 != 0x20 {
                break;
            }
            let size = integer::decode(src, 5)?;
            if size > self.max_table_size {
                return Err(DecodeError::TableSizeUpdateTooLarge {
                    size,
                    max: self.max_table_size,
                });
            }
            self.table.set_max_size(size, drop);
        }
        Ok(())
    }

    /// Section 6.1.
    fn indexed<F: FnMut(Field)>(
        &mut self,
        src: &mut &[u8],
        list: &mut List<F>,
    ) -> Result<(), DecodeError> {
        let index = integer::decode(src, 7)?;
        let entry = entry(&self.table, index)?;
        list.push(entry.size(), || entry.field());
        Ok(())
    }

    /// Section 6.2: a name (indexed or literal) and a literal value.
    fn literal<F: FnMut(Field)>(
        &mut self,
        src: &mut &[u8],
        prefix_bits: u32,
        indexing: Indexing,
        list: &mut List<F>,
    ) -> Result<(), DecodeError> {
        let index = integer::decode(src, prefix_bits)?;
        let name = if index == 0 {
            LiteralName::New(string(src)?.bytes(&mut self.name_buf)?)
        } else {
            LiteralName::Indexed(entry(&self.table, index)?)
        };
        let value = string(src)?.bytes(&mut self.value_buf)?;
        let name_len = name.len();
        let size = name_len
            .saturating_add(value.len())
            .saturating_add(ENTRY_OVERHEAD);
        if indexing == Indexing::Incremental {
            // Checked even when nothing is emitted any more: later fields may reference it.
            let entry = Entry::new(name.resolve(), name_len, value);
            list.push(size, || entry.field());
            self.table.insert(entry, drop);
        } else {
            list.push(size, || {
                let name = name.resolve()?;
                let mut value =
                    HeaderValue::from_bytes(value).map_err(|_| Malformed::InvalidValue)?;
                // Whoever forwards it must not index it either (section 7.1.3).
                value.set_sensitive(indexing == Indexing::Never);
                Ok(name.with_value(value))
            });
        }
        Ok(())
    }

    /// Each dynamic table entry, newest first, as (size, "name: value"), and the table size.
    #[cfg(test)]
    pub(super) fn dynamic_table(&self) -> (Vec<(usize, String)>, usize) {
        let entries = self
            .table
            .iter()
            .map(|entry| (entry.size(), entry.describe()))
            .collect();
        (entries, self.table.size())
    }
}

impl fmt::Debug for Decoder {
    // The table holds the peer's header values; they stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("max_table_size", &self.max_table_size)
            .field("table_max_size", &self.table.max_size())
            .field("table_size", &self.table.size())
            .field("table_len", &self.table.len())
            .finish_non_exhaustive()
    }
}

/// Index `index` of the combined address space (section 2.3.3).
fn entry(table: &DynamicTable<Entry>, index: usize) -> Result<&Entry, DecodeError> {
    let found = match index {
        0 => None,
        1..=STATIC_LEN => STATIC.get(index - 1),
        _ => table.get(index - STATIC_LEN - 1),
    };
    found.ok_or(DecodeError::InvalidIndex(index))
}

/// A string literal (section 5.2), not yet Huffman-decoded.
enum Str<'a> {
    Raw(&'a [u8]),
    Huffman(&'a [u8]),
}

fn string<'a>(src: &mut &'a [u8]) -> Result<Str<'a>, DecodeError> {
    let huffman = src.first().is_some_and(|first| first & 0x80 != 0);
    let len = integer::decode(src, 7)?;
    if len > src.len() {
        return Err(DecodeError::Truncated);
    }
    let (bytes, rest) = src.split_at(len);
    *src = rest;
    Ok(if huffman {
        Str::Huffman(bytes)
    } else {
        Str::Raw(bytes)
    })
}

impl<'a> Str<'a> {
    /// The string's octets: the block's own when raw, decoded into `buf` when not.
    fn bytes(self, buf: &'a mut Vec<u8>) -> Result<&'a [u8], DecodeError> {
        match self {
            Str::Raw(bytes) => Ok(bytes),
            Str::Huffman(coded) => {
                buf.clear();
                huffman::decode(coded, buf)?;
                Ok(buf)
            }
        }
    }
}

/// The name of a literal: its octets, checked only if the field is used, or an entry's.
enum LiteralName<'a> {
    New(&'a [u8]),
    Indexed(&'a Entry),
}

impl LiteralName<'_> {
    fn len(&self) -> usize {
        match self {
            LiteralName::New(bytes) => bytes.len(),
            LiteralName::Indexed(entry) => entry.name_len(),
        }
    }

    fn resolve(&self) -> Result<name::Name, Malformed> {
        match self {
            LiteralName::New(bytes) => name::parse(bytes),
            LiteralName::Indexed(entry) => entry.name(),
        }
    }
}

/// The field list being emitted, and the accounting that decides whether it still is.
struct List<F> {
    emit: F,
    max_size: usize,
    size: usize,
    decoded: Decoded,
}

impl<F: FnMut(Field)> List<F> {
    /// Counts a field of `size` and emits it while the list is still valid. `field` builds
    /// (and checks) it, and is not called once emission has stopped.
    fn push(&mut self, size: usize, field: impl FnOnce() -> Result<Field, Malformed>) {
        self.size = self.size.saturating_add(size);
        if self.size > self.max_size {
            self.decoded.oversize = true;
        }
        if self.decoded.oversize || self.decoded.malformed.is_some() {
            return;
        }
        match field() {
            Ok(field) => (self.emit)(field),
            Err(reason) => self.decoded.malformed = Some(reason),
        }
    }
}
