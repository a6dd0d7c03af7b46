//! The hash type, with Redis's two encodings.
//!
//! * `Listpack`: fields and values in one flat buffer of length-prefixed
//!   strings, pairs in insertion order, searched linearly. Redis keeps small hashes in a listpack and answers
//!   HGETALL, HKEYS and HVALS in that order, so we keep the same order: an
//!   update keeps a pair's place, a new field goes to the end, a deletion
//!   closes the gap.
//! * `Table`: a hash table, used once the hash outgrows
//!   `hash-max-listpack-entries` pairs or holds a field or value longer than
//!   `hash-max-listpack-value` bytes. As in Redis, a hash never converts
//!   back, whatever is deleted later.
//!
//! The thresholds are passed in by the caller ([`Limits`]); the store does
//! not read configuration.

use hashbrown::HashMap;

/// The conversion thresholds (`hash-max-listpack-entries`,
/// `hash-max-listpack-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 512,
            max_value: 64,
        }
    }
}

/// Small hashes: every field and value in one buffer, each as a LEB128
/// length followed by its bytes, pairs in insertion order. One allocation
/// per hash and one or two bytes of overhead per string, like Redis's
/// listpack.
#[derive(Clone, Debug, Default)]
pub struct Listpack {
    buf: Vec<u8>,
    len: u32,
}

/// Where a pair sits in the buffer: its start, the start of the value's
/// length prefix, the value bytes, and its end.
struct Slot {
    start: usize,
    value_hdr: usize,
    value: std::ops::Range<usize>,
}

fn put_len(buf: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

fn encoded(s: &[u8]) -> usize {
    let mut n = s.len() >> 7;
    let mut hdr = 1;
    while n > 0 {
        hdr += 1;
        n >>= 7;
    }
    hdr + s.len()
}

impl Listpack {
    /// Reads the string at `pos`: its byte range and where the next begins.
    fn read(&self, pos: usize) -> (std::ops::Range<usize>, usize) {
        let mut n = 0usize;
        let mut shift = 0;
        let mut i = pos;
        while let Some(&b) = self.buf.get(i) {
            i += 1;
            n |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let end = (i + n).min(self.buf.len());
        (i..end, end)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= self.buf.len() {
                return None;
            }
            let (f, next) = self.read(pos);
            let (v, next) = self.read(next);
            pos = next;
            Some((&self.buf[f], &self.buf[v]))
        })
    }

    fn find(&self, field: &[u8]) -> Option<Slot> {
        let mut pos = 0;
        while pos < self.buf.len() {
            let (f, next) = self.read(pos);
            let (v, end) = self.read(next);
            if &self.buf[f] == field {
                return Some(Slot {
                    start: pos,
                    value_hdr: next,
                    value: v,
                });
            }
            pos = end;
        }
        None
    }

    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find(field).map(|s| &self.buf[s.value])
    }

    /// Sets a field; true if it is new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.find(field) {
            Some(slot) => {
                let mut repl = Vec::with_capacity(encoded(value));
                put_len(&mut repl, value.len());
                repl.extend_from_slice(value);
                self.buf.splice(slot.value_hdr..slot.value.end, repl);
                self.buf.shrink_to_fit();
                false
            }
            None => {
                self.buf.reserve_exact(encoded(field) + encoded(value));
                put_len(&mut self.buf, field.len());
                self.buf.extend_from_slice(field);
                put_len(&mut self.buf, value.len());
                self.buf.extend_from_slice(value);
                self.len += 1;
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some(slot) => {
                self.buf.drain(slot.start..slot.value.end);
                self.buf.shrink_to_fit();
                self.len -= 1;
                true
            }
            None => false,
        }
    }
}

type Table = HashMap<Box<[u8]>, Box<[u8]>, foldhash::fast::RandomState>;

/// A hash value.
#[derive(Clone, Debug)]
pub enum Hash {
    Listpack(Listpack),
    /// Boxed, so that a hash (and with it every [`crate::Value`]) stays
    /// as small as a string value.
    Table(Box<Table>),
}

impl PartialEq for Hash {
    fn eq(&self, other: &Hash) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl Hash {
    pub fn new() -> Hash {
        Hash::Listpack(Listpack::default())
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self, Hash::Listpack(_))
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(l) => l.len as usize,
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Listpack(l) => l.get(field),
            Hash::Table(t) => t.get(field).map(|v| &**v),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to the table encoding (never the other way).
    pub fn convert_to_table(&mut self) {
        if let Hash::Listpack(l) = self {
            let mut t = Table::with_capacity_and_hasher(l.len as usize, Default::default());
            for (f, val) in l.iter() {
                t.insert(f.into(), val.into());
            }
            *self = Hash::Table(Box::new(t));
        }
    }

    /// Redis checks every field and value a command is about to write
    /// before writing any (HSET, HMSET, HSETNX): one longer than the limit
    /// converts the hash even if that pair ends up not being written.
    pub fn convert_for_args<'a>(
        &mut self,
        args: impl IntoIterator<Item = &'a [u8]>,
        limits: Limits,
    ) {
        if self.is_listpack() && args.into_iter().any(|a| a.len() > limits.max_value) {
            self.convert_to_table();
        }
    }

    /// Sets `field` to `value`; true if the field is new. Converts to the
    /// table encoding if the pair is too long for a listpack or the hash
    /// grows past the entry limit.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        if self.is_listpack() && (field.len() > limits.max_value || value.len() > limits.max_value)
        {
            self.convert_to_table();
        }
        match self {
            Hash::Listpack(l) => {
                if !l.set(field, value) {
                    return false;
                }
                if l.len as usize > limits.max_entries {
                    self.convert_to_table();
                }
                true
            }
            Hash::Table(t) => {
                if let Some(slot) = t.get_mut(field) {
                    *slot = value.into();
                    false
                } else {
                    t.insert(field.into(), value.into());
                    true
                }
            }
        }
    }

    /// Removes `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(l) => l.remove(field),
            Hash::Table(t) => {
                let removed = t.remove(field).is_some();
                // Redis shrinks a hash table that became mostly empty.
                if removed && t.capacity() > 64 && t.len() * 10 < t.capacity() {
                    t.shrink_to_fit();
                }
                removed
            }
        }
    }

    /// Every pair: in insertion order for a listpack, in table order
    /// otherwise.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            Hash::Listpack(l) => Box::new(l.iter()),
            Hash::Table(t) => Box::new(t.iter().map(|(f, v)| (&**f, &**v))),
        }
    }

    /// Approximate heap bytes, for MEMORY USAGE.
    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Listpack(l) => l.buf.capacity(),
            Hash::Table(t) => {
                let pairs: usize = t.iter().map(|(f, v)| f.len() + v.len()).sum();
                pairs + t.capacity() * 40
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_keeps_insertion_order_and_converts_at_limits() {
        let limits = Limits {
            max_entries: 3,
            max_value: 4,
        };
        let mut h = Hash::new();
        assert!(h.set(b"b", b"1", limits));
        assert!(h.set(b"a", b"2", limits));
        assert!(!h.set(b"b", b"3", limits));
        let order: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(
            order,
            vec![
                (b"b".to_vec(), b"3".to_vec()),
                (b"a".to_vec(), b"2".to_vec())
            ]
        );
        assert!(h.set(b"c", b"1", limits));
        assert_eq!(h.encoding_name(), "listpack");
        assert!(h.set(b"d", b"1", limits));
        assert_eq!(h.encoding_name(), "hashtable");
        assert!(h.remove(b"d") && h.remove(b"c") && !h.remove(b"c"));
        assert_eq!(h.encoding_name(), "hashtable", "never converts back");
        assert_eq!(h.get(b"b"), Some(&b"3"[..]));

        let mut h = Hash::new();
        h.set(b"f", b"12345", limits);
        assert_eq!(h.encoding_name(), "hashtable");
        let mut h = Hash::new();
        h.convert_for_args([&b"ab"[..], &b"abcde"[..]], limits);
        assert_eq!(h.encoding_name(), "hashtable");
    }

    #[test]
    fn a_hash_value_is_no_larger_than_a_string_value() {
        assert!(std::mem::size_of::<Hash>() <= 32);
        assert_eq!(
            std::mem::size_of::<crate::Value>(),
            std::mem::size_of::<crate::StrValue>()
        );
    }

    #[test]
    fn listpack_buffer_handles_long_strings_and_edits() {
        let limits = Limits {
            max_entries: 100,
            max_value: 1 << 20,
        };
        let long = vec![b'x'; 300];
        let mut h = Hash::new();
        h.set(b"a", &long, limits);
        h.set(b"", b"", limits);
        h.set(&long, b"v", limits);
        assert_eq!(h.encoding_name(), "listpack");
        assert_eq!(h.len(), 3);
        assert_eq!(h.get(b"a"), Some(&long[..]));
        assert_eq!(h.get(b""), Some(&b""[..]));
        h.set(b"a", b"short", limits);
        assert_eq!(h.get(&long), Some(&b"v"[..]));
        assert!(h.remove(b""));
        let all: Vec<_> = h.iter().map(|(f, v)| (f.len(), v.to_vec())).collect();
        assert_eq!(all, vec![(1, b"short".to_vec()), (300, b"v".to_vec())]);
    }
}
