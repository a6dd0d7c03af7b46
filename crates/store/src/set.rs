//! The set type, with Redis 7.0's two encodings.
//!
//! * `Ints`: a sorted vector of integers (Redis's `intset`), used while
//!   every member is an integer in Redis's strict syntax and the set holds
//!   at most `set-max-intset-entries` members. Iteration is ascending, which
//!   is the order Redis answers SMEMBERS of an intset in.
//! * `Table`: a hash table of byte strings (`hashtable`), once a non-integer
//!   member arrives or the set outgrows the limit. As in Redis, a set never
//!   converts back. Members also sit in a vector (the table maps each to its
//!   slot), so a random member costs O(1) for SPOP and SRANDMEMBER.
//!
//! The threshold is passed in by the caller; the store reads no
//! configuration.

use crate::value::{fmt_int, parse_int_exact};
use bytes::Bytes;
use hashbrown::HashMap;

#[derive(Clone, Debug, PartialEq)]
pub enum Set {
    Ints(Vec<i64>),
    Table(Table),
}

/// The general encoding: members in a vector, each mapped to its slot.
/// Removal swaps the last member into the freed slot.
#[derive(Clone, Debug, Default)]
pub struct Table {
    items: Vec<Bytes>,
    slots: HashMap<Bytes, usize>,
}

impl PartialEq for Table {
    fn eq(&self, other: &Table) -> bool {
        self.len() == other.len() && self.items.iter().all(|m| other.contains(m))
    }
}

impl Table {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.slots.contains_key(m)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.items.iter()
    }

    fn insert(&mut self, m: &[u8]) -> bool {
        if self.slots.contains_key(m) {
            return false;
        }
        let b = Bytes::copy_from_slice(m);
        self.slots.insert(b.clone(), self.items.len());
        self.items.push(b);
        true
    }

    fn remove(&mut self, m: &[u8]) -> bool {
        let Some(i) = self.slots.remove(m) else {
            return false;
        };
        self.items.swap_remove(i);
        if let Some(moved) = self.items.get(i) {
            if let Some(slot) = self.slots.get_mut(moved) {
                *slot = i;
            }
        }
        true
    }

    fn heap_size(&self) -> usize {
        let per = std::mem::size_of::<Bytes>() * 2 + std::mem::size_of::<usize>() + 1;
        self.items.iter().map(|m| m.len() + per).sum()
    }
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(Vec::new())
    }
}

fn int_bytes(n: i64) -> Bytes {
    let mut buf = [0u8; 20];
    Bytes::copy_from_slice(fmt_int(n, &mut buf))
}

impl Set {
    pub fn new() -> Set {
        Set::default()
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(v) => v.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_intset(&self) -> bool {
        matches!(self, Set::Ints(_))
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            Set::Ints(v) => v.capacity() * 8,
            Set::Table(t) => t.heap_size(),
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Ints(v) => parse_int_exact(member).is_some_and(|n| v.binary_search(&n).is_ok()),
            Set::Table(t) => t.contains(member),
        }
    }

    fn convert_to_table(&mut self) {
        if let Set::Ints(v) = self {
            let mut t = Table::default();
            for &n in v.iter() {
                t.insert(&int_bytes(n));
            }
            *self = Set::Table(t);
        }
    }

    /// Adds `member`; true if it was new. Converts to a table on a
    /// non-integer member or when the intset would pass `max_intset`.
    pub fn add(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let Set::Ints(v) = self {
            match parse_int_exact(member) {
                Some(n) => {
                    let Err(at) = v.binary_search(&n) else {
                        return false;
                    };
                    v.insert(at, n);
                    if v.len() > max_intset {
                        self.convert_to_table();
                    }
                    return true;
                }
                None => self.convert_to_table(),
            }
        }
        match self {
            Set::Table(t) => t.insert(member),
            Set::Ints(_) => false,
        }
    }

    /// Removes `member`; true if it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Ints(v) => match parse_int_exact(member).map(|n| v.binary_search(&n)) {
                Some(Ok(i)) => {
                    v.remove(i);
                    true
                }
                _ => false,
            },
            Set::Table(t) => t.remove(member),
        }
    }

    /// Members in the set's order (ascending for an intset).
    pub fn members(&self) -> Vec<Bytes> {
        match self {
            Set::Ints(v) => v.iter().map(|&n| int_bytes(n)).collect(),
            Set::Table(t) => t.items.clone(),
        }
    }

    /// Calls `f` on each member in the set's order, without allocating for
    /// table members.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match self {
            Set::Ints(v) => {
                let mut buf = [0u8; 20];
                for &n in v {
                    f(fmt_int(n, &mut buf));
                }
            }
            Set::Table(t) => t.iter().for_each(|m| f(m)),
        }
    }

    /// The member at position `i` of the set's order.
    pub fn nth(&self, i: usize) -> Option<Bytes> {
        match self {
            Set::Ints(v) => v.get(i).map(|&n| int_bytes(n)),
            Set::Table(t) => t.items.get(i).cloned(),
        }
    }

    /// A uniformly chosen member.
    pub fn random(&self) -> Option<Bytes> {
        if self.is_empty() {
            return None;
        }
        self.nth(fastrand::usize(..self.len()))
    }

    /// Removes and returns a uniformly chosen member.
    pub fn pop(&mut self) -> Option<Bytes> {
        let m = self.random()?;
        self.remove(&m);
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_converts_on_string_and_on_size() {
        let mut s = Set::new();
        assert!(s.add(b"3", 4));
        assert!(s.add(b"-1", 4));
        assert!(!s.add(b"3", 4));
        assert_eq!(s.members(), vec![Bytes::from("-1"), Bytes::from("3")]);
        assert_eq!(s.encoding_name(), "intset");
        assert!(s.add(b"03", 4));
        assert_eq!(s.encoding_name(), "hashtable");
        assert!(s.contains(b"3") && s.contains(b"03") && !s.contains(b"4"));
        let mut s = Set::new();
        for i in 0..4 {
            s.add(i.to_string().as_bytes(), 4);
        }
        assert!(s.is_intset());
        s.add(b"9", 4);
        assert!(!s.is_intset());
        assert_eq!(s.len(), 5);
        assert!(s.remove(b"9") && !s.remove(b"9"));
        assert!(!s.is_intset());
    }

    #[test]
    fn pop_empties() {
        let mut s = Set::new();
        for m in ["a", "1", "2"] {
            s.add(m.as_bytes(), 512);
        }
        let mut seen = Vec::new();
        while let Some(m) = s.pop() {
            seen.push(m);
        }
        seen.sort();
        assert_eq!(
            seen,
            vec![Bytes::from("1"), Bytes::from("2"), Bytes::from("a")]
        );
    }

    #[test]
    fn table_matches_a_model_under_random_edits() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut s = Set::new();
        let mut model = std::collections::BTreeSet::new();
        for _ in 0..5000 {
            let m = format!("{}{}", if rng.bool() { "x" } else { "" }, rng.u8(0..50));
            match rng.u8(0..3) {
                0 | 1 => assert_eq!(s.add(m.as_bytes(), 8), model.insert(m.clone())),
                _ => assert_eq!(s.remove(m.as_bytes()), model.remove(&m)),
            }
            assert_eq!(s.len(), model.len());
        }
        let mut got: Vec<String> = s
            .members()
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        got.sort();
        assert_eq!(got, model.into_iter().collect::<Vec<_>>());
        for m in s.members() {
            assert!(s.contains(&m));
        }
    }
}
