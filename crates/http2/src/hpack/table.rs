//! The static table (RFC 7541 Appendix A), the decoder's table entries, and the dynamic table
//! with the eviction of section 4.4.

use std::collections::VecDeque;

use http::{HeaderName, HeaderValue};

use super::name::{pseudo_name, Name, NameRef};
use super::{Field, Malformed, Pseudo};

/// Section 4.1: each entry costs its name and value plus this much.
pub(super) const ENTRY_OVERHEAD: usize = 32;

/// The number of static entries; the dynamic table's indices start right after.
pub(super) const STATIC_LEN: usize = 61;

/// A table entry as the decoder keeps it: checked once, when it arrived, so that using it again
/// costs a clone of a name and a value (free for the static names, a reference count
/// otherwise).
pub(super) struct Entry {
    kind: Kind,
    /// Name and value length plus `ENTRY_OVERHEAD`.
    size: usize,
}

enum Kind {
    Valid(Field),
    /// The name is fine and may be referenced by later literals; the value is not.
    InvalidValue(Name),
    /// Kept so that the entry holds its slot and its size, and reports the same reason each
    /// time it is used.
    InvalidName {
        reason: Malformed,
        name_len: usize,
    },
}

impl Entry {
    /// The entry for a literal: `name` as checked (or as taken from another entry), `value` as
    /// received.
    pub(super) fn new(name: Result<Name, Malformed>, name_len: usize, value: &[u8]) -> Entry {
        let size = name_len
            .saturating_add(value.len())
            .saturating_add(ENTRY_OVERHEAD);
        let kind = match name {
            Err(reason) => Kind::InvalidName { reason, name_len },
            Ok(name) => match HeaderValue::from_bytes(value) {
                Ok(value) => Kind::Valid(name.with_value(value)),
                Err(_) => Kind::InvalidValue(name),
            },
        };
        Entry { kind, size }
    }

    /// The field, or why it is malformed (the name's fault first).
    pub(super) fn field(&self) -> Result<Field, Malformed> {
        match &self.kind {
            Kind::Valid(field) => Ok(field.clone()),
            Kind::InvalidValue(_) => Err(Malformed::InvalidValue),
            Kind::InvalidName { reason, .. } => Err(*reason),
        }
    }

    /// The name, for a literal that references this entry's.
    pub(super) fn name(&self) -> Result<Name, Malformed> {
        match &self.kind {
            Kind::Valid(field) => Ok(Name::of(field)),
            Kind::InvalidValue(name) => Ok(name.clone()),
            Kind::InvalidName { reason, .. } => Err(*reason),
        }
    }

    pub(super) fn name_len(&self) -> usize {
        match &self.kind {
            Kind::Valid(Field::Pseudo(pseudo, _)) => pseudo_name(*pseudo).len(),
            Kind::Valid(Field::Header(name, _)) => name.as_str().len(),
            Kind::InvalidValue(name) => name.as_bytes().len(),
            Kind::InvalidName { name_len, .. } => *name_len,
        }
    }

    /// "name: value" the way RFC 7541 Appendix C lists table entries.
    #[cfg(test)]
    pub(super) fn describe(&self) -> String {
        match &self.kind {
            Kind::Valid(Field::Pseudo(pseudo, value)) => {
                format!(
                    "{}: {}",
                    pseudo_name(*pseudo),
                    String::from_utf8_lossy(value.as_bytes())
                )
            }
            Kind::Valid(Field::Header(name, value)) => {
                format!("{}: {}", name, String::from_utf8_lossy(value.as_bytes()))
            }
            Kind::InvalidValue(name) => {
                format!("{}: <invalid>", String::from_utf8_lossy(name.as_bytes()))
            }
            Kind::InvalidName { reason, .. } => format!("<{reason:?}>"),
        }
    }
}

const fn pseudo(pseudo: Pseudo, value: &'static str) -> Entry {
    Entry {
        size: pseudo_name(pseudo).len() + value.len() + ENTRY_OVERHEAD,
        kind: Kind::Valid(Field::Pseudo(pseudo, HeaderValue::from_static(value))),
    }
}

const fn header(name: &'static str, value: &'static str) -> Entry {
    Entry {
        size: name.len() + value.len() + ENTRY_OVERHEAD,
        kind: Kind::Valid(Field::Header(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )),
    }
}

/// RFC 7541 Appendix A; index `i` of the RFC is `STATIC[i - 1]`. Built at compile time, so
/// indexed static fields are emitted without parsing anything.
pub(super) static STATIC: [Entry; STATIC_LEN] = [
    pseudo(Pseudo::Authority, ""),
    pseudo(Pseudo::Method, "GET"),
    pseudo(Pseudo::Method, "POST"),
    pseudo(Pseudo::Path, "/"),
    pseudo(Pseudo::Path, "/index.html"),
    pseudo(Pseudo::Scheme, "http"),
    pseudo(Pseudo::Scheme, "https"),
    pseudo(Pseudo::Status, "200"),
    pseudo(Pseudo::Status, "204"),
    pseudo(Pseudo::Status, "206"),
    pseudo(Pseudo::Status, "304"),
    pseudo(Pseudo::Status, "400"),
    pseudo(Pseudo::Status, "404"),
    pseudo(Pseudo::Status, "500"),
    header("accept-charset", ""),
    header("accept-encoding", "gzip, deflate"),
    header("accept-language", ""),
    header("accept-ranges", ""),
    header("accept", ""),
    header("access-control-allow-origin", ""),
    header("age", ""),
    header("allow", ""),
    header("authorization", ""),
    header("cache-control", ""),
    header("content-disposition", ""),
    header("content-encoding", ""),
    header("content-language", ""),
    header("content-length", ""),
    header("content-location", ""),
    header("content-range", ""),
    header("content-type", ""),
    header("cookie", ""),
    header("date", ""),
    header("etag", ""),
    header("expect", ""),
    header("expires", ""),
    header("from", ""),
    header("host", ""),
    header("if-match", ""),
    header("if-modified-since", ""),
    header("if-none-match", ""),
    header("if-range", ""),
    header("if-unmodified-since", ""),
    header("last-modified", ""),
    header("link", ""),
    header("location", ""),
    header("max-forwards", ""),
    header("proxy-authenticate", ""),
    header("proxy-authorization", ""),
    header("range", ""),
    header("referer", ""),
    header("refresh", ""),
    header("retry-after", ""),
    header("server", ""),
    header("set-cookie", ""),
    header("strict-transport-security", ""),
    header("transfer-encoding", ""),
    header("user-agent", ""),
    header("vary", ""),
    header("via", ""),
    header("www-authenticate", ""),
];

/// What the static table holds for a field, for the encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StaticMatch {
    /// This index holds the name and the value.
    Field(usize),
    /// This index (the first with the name) holds the name only.
    Name(usize),
}

/// Looks a field up in the static table: a match on the name, then on the few values the
/// table holds for it.
pub(super) fn find_static(name: NameRef<'_>, value: &[u8]) -> Option<StaticMatch> {
    match name {
        NameRef::Pseudo(pseudo) => find_pseudo(pseudo, value),
        NameRef::Header(name) => find_header(name.as_str(), value),
    }
}

fn find_pseudo(pseudo: Pseudo, value: &[u8]) -> Option<StaticMatch> {
    let (first, field) = match pseudo {
        Pseudo::Authority => (1, value.is_empty().then_some(1)),
        Pseudo::Method => (
            2,
            match value {
                b"GET" => Some(2),
                b"POST" => Some(3),
                _ => None,
            },
        ),
        Pseudo::Path => (
            4,
            match value {
                b"/" => Some(4),
                b"/index.html" => Some(5),
                _ => None,
            },
        ),
        Pseudo::Scheme => (
            6,
            match value {
                b"http" => Some(6),
                b"https" => Some(7),
                _ => None,
            },
        ),
        Pseudo::Status => (
            8,
            match value {
                b"200" => Some(8),
                b"204" => Some(9),
                b"206" => Some(10),
                b"304" => Some(11),
                b"400" => Some(12),
                b"404" => Some(13),
                b"500" => Some(14),
                _ => None,
            },
        ),
        Pseudo::Protocol => return None,
    };
    Some(field.map_or(StaticMatch::Name(first), StaticMatch::Field))
}

fn find_header(name: &str, value: &[u8]) -> Option<StaticMatch> {
    let index = match name {
        "accept-charset" => 15,
        "accept-encoding" => {
            return Some(if value == b"gzip, deflate" {
                StaticMatch::Field(16)
            } else {
                StaticMatch::Name(16)
            })
        }
        "accept-language" => 17,
        "accept-ranges" => 18,
        "accept" => 19,
        "access-control-allow-origin" => 20,
        "age" => 21,
        "allow" => 22,
        "authorization" => 23,
        "cache-control" => 24,
        "content-disposition" => 25,
        "content-encoding" => 26,
        "content-language" => 27,
        "content-length" => 28,
        "content-location" => 29,
        "content-range" => 30,
        "content-type" => 31,
        "cookie" => 32,
        "date" => 33,
        "etag" => 34,
        "expect" => 35,
        "expires" => 36,
        "from" => 37,
        "host" => 38,
        "if-match" => 39,
        "if-modified-since" => 40,
        "if-none-match" => 41,
        "if-range" => 42,
        "if-unmodified-since" => 43,
        "last-modified" => 44,
        "link" => 45,
        "location" => 46,
        "max-forwards" => 47,
        "proxy-authenticate" => 48,
        "proxy-authorization" => 49,
        "range" => 50,
        "referer" => 51,
        "refresh" => 52,
        "retry-after" => 53,
        "server" => 54,
        "set-cookie" => 55,
        "strict-transport-security" => 56,
        "transfer-encoding" => 57,
        "user-agent" => 58,
        "vary" => 59,
        "via" => 60,
        "www-authenticate" => 61,
        _ => return None,
    };
    // The remaining entries hold an empty value.
    Some(if value.is_empty() {
        StaticMatch::Field(index)
    } else {
        StaticMatch::Name(index)
    })
}

/// What the dynamic table needs to know of an entry.
pub(super) trait HasSize {
    /// Name and value length plus `ENTRY_OVERHEAD`.
    fn size(&self) -> usize;
}

impl HasSize for Entry {
    fn size(&self) -> usize {
        self.size
    }
}

/// The dynamic table (sections 2.3.2 and 4): newest entry first, its size kept at or under the
/// maximum by evicting the oldest. Evicted entries are handed to a callback so that the
/// encoder can drop them from its lookup maps.
pub(super) struct DynamicTable<E> {
    entries: VecDeque<E>,
    size: usize,
    max_size: usize,
}

impl<E: HasSize> DynamicTable<E> {
    pub(super) fn new(max_size: usize) -> Self {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            max_size,
        }
    }

    /// The entry at `position`, 0 being the newest (index `STATIC_LEN + 1` on the wire).
    pub(super) fn get(&self, position: usize) -> Option<&E> {
        self.entries.get(position)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(super) fn size(&self) -> usize {
        self.size
    }

    pub(super) fn max_size(&self) -> usize {
        self.max_size
    }

    /// Section 4.3: evicts until the table fits the new maximum.
    pub(super) fn set_max_size(&mut self, max_size: usize, evicted: impl FnMut(E)) {
        self.max_size = max_size;
        self.evict_to(max_size, evicted);
    }

    /// Section 4.4: evicts until `entry` fits, then adds it. An entry larger than the maximum
    /// empties the table and is not added (returns false).
    pub(super) fn insert(&mut self, entry: E, mut evicted: impl FnMut(E)) -> bool {
        let size = entry.size();
        let Some(room) = self.max_size.checked_sub(size) else {
            self.evict_to(0, &mut evicted);
            return false;
        };
        self.evict_to(room, &mut evicted);
        self.size += size;
        self.entries.push_front(entry);
        true
    }

    fn evict_to(&mut self, limit: usize, mut evicted: impl FnMut(E)) {
        while self.size > limit {
            let Some(oldest) = self.entries.pop_back() else {
                break;
            };
            self.size -= oldest.size();
            evicted(oldest);
        }
    }

    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = &E> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_names_and_values_are_the_rfc_ones() {
        let listed: Vec<String> = STATIC.iter().map(Entry::describe).collect();
        assert_eq!(listed.len(), 61);
        assert_eq!(listed[0], ":authority: ");
        assert_eq!(listed[1], ":method: GET");
        assert_eq!(listed[7], ":status: 200");
        assert_eq!(listed[15], "accept-encoding: gzip, deflate");
        assert_eq!(listed[23], "cache-control: ");
        assert_eq!(listed[32], "date: ");
        assert_eq!(listed[54], "set-cookie: ");
        assert_eq!(listed[60], "www-authenticate: ");
        for entry in &STATIC {
            assert_eq!(entry.size, entry.describe().len() - 2 + ENTRY_OVERHEAD);
        }
    }

    /// `find_static` and `STATIC` are two spellings of one table: each entry must be found at
    /// its own index, and its name alone at the first index with that name.
    #[test]
    fn static_lookup_agrees_with_the_table() {
        for (position, entry) in STATIC.iter().enumerate() {
            let index = position + 1;
            let (name, value) = match entry.field().expect("static entries are valid") {
                Field::Pseudo(pseudo, value) => (Name::Pseudo(pseudo), value),
                Field::Header(name, value) => (Name::Header(name), value),
            };
            let name_ref = match &name {
                Name::Pseudo(pseudo) => NameRef::Pseudo(*pseudo),
                Name::Header(name) => NameRef::Header(name),
            };
            assert_eq!(
                find_static(name_ref, value.as_bytes()),
                Some(StaticMatch::Field(index)),
                "{}",
                entry.describe()
            );
            let first = STATIC
                .iter()
                .position(|other| other.name().ok() == Some(name.clone()))
                .expect("the entry itself")
                + 1;
            assert_eq!(
                find_static(name_ref, b"\x01not in the table"),
                Some(StaticMatch::Name(first)),
                "{}",
                entry.describe()
            );
        }
        assert_eq!(find_static(NameRef::Pseudo(Pseudo::Protocol), b""), None);
        let custom = HeaderName::from_static("x-custom");
        assert_eq!(find_static(NameRef::Header(&custom), b""), None);
    }

    struct Blob(usize);
    impl HasSize for Blob {
        fn size(&self) -> usize {
            self.0
        }
    }

    fn sizes(table: &DynamicTable<Blob>) -> Vec<usize> {
        table.iter().map(|entry| entry.0).collect()
    }

    #[test]
    fn eviction_makes_room_oldest_first() {
        let mut table = DynamicTable::new(100);
        let mut evicted = Vec::new();
        for size in [40, 30, 20] {
            assert!(table.insert(Blob(size), |old| evicted.push(old.0)));
        }
        assert_eq!((sizes(&table), table.size()), (vec![20, 30, 40], 90));
        // 90 + 15 > 100: the oldest (40) goes.
        assert!(table.insert(Blob(15), |old| evicted.push(old.0)));
        assert_eq!((sizes(&table), table.size()), (vec![15, 20, 30], 65));
        // Exactly full is allowed.
        assert!(table.insert(Blob(35), |old| evicted.push(old.0)));
        assert_eq!((sizes(&table), table.size()), (vec![35, 15, 20, 30], 100));
        assert_eq!(evicted, [40]);
    }

    #[test]
    fn an_entry_larger_than_the_table_empties_it() {
        let mut table = DynamicTable::new(100);
        let mut evicted = Vec::new();
        table.insert(Blob(60), |_| {});
        table.insert(Blob(30), |_| {});
        assert!(!table.insert(Blob(101), |old| evicted.push(old.0)));
        assert_eq!((sizes(&table), table.size()), (vec![], 0));
        assert_eq!(evicted, [60, 30]);
        // An entry of exactly the maximum fits.
        assert!(table.insert(Blob(100), |_| {}));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn lowering_the_maximum_evicts() {
        let mut table = DynamicTable::new(100);
        for size in [40, 30, 20] {
            table.insert(Blob(size), |_| {});
        }
        let mut evicted = Vec::new();
        table.set_max_size(50, |old| evicted.push(old.0));
        assert_eq!(
            (sizes(&table), table.size(), evicted),
            (vec![20, 30], 50, vec![40])
        );
        table.set_max_size(0, |_| {});
        assert!(table.is_empty());
        assert_eq!(table.size(), 0);
    }
}
