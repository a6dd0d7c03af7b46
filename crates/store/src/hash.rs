//! The hash type, with Redis's two encodings.
//!
//! * `Listpack`: a flat vector of (field, value) pairs in insertion order,
//!   searched linearly. Redis keeps small hashes in a listpack and answers
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

/// One field and its value.
pub type Pair = (Box<[u8]>, Box<[u8]>);

type Table = HashMap<Box<[u8]>, Box<[u8]>, foldhash::fast::RandomState>;

/// A hash value.
#[derive(Clone, Debug)]
pub enum Hash {
    Listpack(Vec<Pair>),
    Table(Table),
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
        Hash::Listpack(Vec::new())
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
            Hash::Listpack(v) => v.len(),
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Listpack(v) => v.iter().find(|(f, _)| &**f == field).map(|(_, v)| &**v),
            Hash::Table(t) => t.get(field).map(|v| &**v),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to the table encoding (never the other way).
    pub fn convert_to_table(&mut self) {
        if let Hash::Listpack(v) = self {
            let mut t = Table::with_capacity_and_hasher(v.len(), Default::default());
            for (f, val) in std::mem::take(v) {
                t.insert(f, val);
            }
            *self = Hash::Table(t);
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
            Hash::Listpack(v) => {
                if let Some(slot) = v.iter_mut().find(|(f, _)| &**f == field) {
                    slot.1 = value.into();
                    return false;
                }
                v.push((field.into(), value.into()));
                if v.len() > limits.max_entries {
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
            Hash::Listpack(v) => match v.iter().position(|(f, _)| &**f == field) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
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
            Hash::Listpack(v) => Box::new(v.iter().map(|(f, v)| (&**f, &**v))),
            Hash::Table(t) => Box::new(t.iter().map(|(f, v)| (&**f, &**v))),
        }
    }

    /// Approximate heap bytes, for MEMORY USAGE.
    pub fn heap_size(&self) -> usize {
        let pairs: usize = self.iter().map(|(f, v)| f.len() + v.len()).sum();
        match self {
            Hash::Listpack(v) => pairs + v.capacity() * 32,
            Hash::Table(t) => pairs + t.capacity() * 40,
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
}
