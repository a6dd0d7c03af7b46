//! The set type, with Redis 7.0's two encodings as OBJECT ENCODING names
//! them, and a third, internal one for small sets of strings.
//!
//! * `Ints`: sorted integers packed at the narrowest width that holds them
//!   all (2, 4 or 8 bytes, Redis's `intset`), while every member is an
//!   integer in Redis's strict syntax and the set holds at most
//!   `set-max-intset-entries` members. Iteration is ascending, the order
//!   Redis answers SMEMBERS of an intset in.
//! * `Small`: up to [`SMALL_MAX_ENTRIES`] members of at most
//!   [`SMALL_MAX_BYTES`] bytes, packed one after another with a length
//!   byte each and searched linearly. Redis 7.0 keeps such sets in a hash
//!   table and reports `hashtable`; so do we. The packed form is only about
//!   memory: a small set costs one allocation instead of a table plus one
//!   allocation per member.
//! * `Table`: a hash table of byte strings (`hashtable`), once a set outgrows
//!   both. As in Redis, a set never converts back. Members also sit in a
//!   vector (the table maps each to its slot), so a random member costs O(1)
//!   for SPOP and SRANDMEMBER.
//!
//! The intset threshold is passed in by the caller; the store reads no
//! configuration.

use crate::value::{fmt_int, parse_int_exact};
use bytes::Bytes;
use hashbrown::HashMap;

/// Most members the packed string form holds.
pub const SMALL_MAX_ENTRIES: usize = 128;
/// Longest member the packed string form holds.
pub const SMALL_MAX_BYTES: usize = 64;

#[derive(Clone, Debug)]
pub enum Set {
    Ints(IntSet),
    Small(Packed),
    /// Boxed: the other forms keep the enum, and so every small set's
    /// allocation, at 32 bytes.
    Table(Box<Table>),
}

impl PartialEq for Set {
    fn eq(&self, other: &Set) -> bool {
        self.len() == other.len() && {
            let mut all = true;
            self.for_each(|m| all &= other.contains(m));
            all
        }
    }
}

/// Sorted integers at one width for all: `data[0]` is the width in bytes,
/// then the values, little endian.
#[derive(Clone, Debug)]
pub struct IntSet {
    data: Box<[u8]>,
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet {
            data: Box::new([2]),
        }
    }
}

fn width_for(n: i64) -> usize {
    if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    pub fn from_sorted(values: &[i64]) -> IntSet {
        let width = values.iter().map(|&n| width_for(n)).max().unwrap_or(2);
        let mut data = Vec::with_capacity(1 + width * values.len());
        data.push(width as u8);
        for &n in values {
            data.extend_from_slice(&n.to_le_bytes()[..width]);
        }
        IntSet {
            data: data.into_boxed_slice(),
        }
    }

    fn width(&self) -> usize {
        self.data[0] as usize
    }

    pub fn len(&self) -> usize {
        (self.data.len() - 1) / self.width()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> Option<i64> {
        let w = self.width();
        let at = 1 + i * w;
        let bytes = self.data.get(at..at + w)?;
        Some(match w {
            2 => i16::from_le_bytes([bytes[0], bytes[1]]) as i64,
            4 => i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as i64,
            _ => {
                let mut b = [0u8; 8];
                b.copy_from_slice(bytes);
                i64::from_le_bytes(b)
            }
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    fn search(&self, n: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).map(|v| v.cmp(&n)) {
                Some(std::cmp::Ordering::Less) => lo = mid + 1,
                Some(std::cmp::Ordering::Greater) => hi = mid,
                _ => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, n: i64) -> bool {
        self.search(n).is_ok()
    }

    /// Inserts `n`; false if present. Widens every value when `n` needs it.
    fn insert(&mut self, n: i64) -> bool {
        let Err(at) = self.search(n) else {
            return false;
        };
        let mut values: Vec<i64> = self.iter().collect();
        values.insert(at, n);
        *self = IntSet::from_sorted(&values);
        true
    }

    fn remove(&mut self, n: i64) -> bool {
        let Ok(at) = self.search(n) else {
            return false;
        };
        let w = self.width();
        let mut data = self.data.to_vec();
        data.drain(1 + at * w..1 + (at + 1) * w);
        self.data = data.into_boxed_slice();
        true
    }

    fn heap_size(&self) -> usize {
        self.data.len()
    }
}

/// Members packed as `[len][bytes]...`, in insertion order.
#[derive(Clone, Debug, Default)]
pub struct Packed {
    data: Box<[u8]>,
    len: u16,
}

impl Packed {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            data: &self.data,
            at: 0,
        }
    }

    /// Byte range of the member equal to `m`.
    fn find(&self, m: &[u8]) -> Option<std::ops::Range<usize>> {
        let mut at = 0;
        while at < self.data.len() {
            let n = self.data[at] as usize;
            let body = at + 1..at + 1 + n;
            if self.data.get(body.clone()) == Some(m) {
                return Some(at..at + 1 + n);
            }
            at += 1 + n;
        }
        None
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.find(m).is_some()
    }

    /// Appends `m`, which the caller has checked is absent and short enough.
    fn push(&mut self, m: &[u8]) {
        let mut data = Vec::with_capacity(self.data.len() + 1 + m.len());
        data.extend_from_slice(&self.data);
        data.push(m.len() as u8);
        data.extend_from_slice(m);
        self.data = data.into_boxed_slice();
        self.len += 1;
    }

    fn remove(&mut self, m: &[u8]) -> bool {
        let Some(range) = self.find(m) else {
            return false;
        };
        let mut data = self.data.to_vec();
        data.drain(range);
        self.data = data.into_boxed_slice();
        self.len -= 1;
        true
    }

    fn heap_size(&self) -> usize {
        self.data.len()
    }
}

pub struct PackedIter<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let n = *self.data.get(self.at)? as usize;
        let m = self.data.get(self.at + 1..self.at + 1 + n)?;
        self.at += 1 + n;
        Some(m)
    }
}

/// The general encoding: members in a vector, each mapped to its slot.
/// Removal swaps the last member into the freed slot.
#[derive(Clone, Debug, Default)]
pub struct Table {
    items: Vec<Bytes>,
    slots: HashMap<Bytes, usize>,
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
        Set::Ints(IntSet::default())
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

    /// An intset of `values` (sorted, distinct), as an RDB file holds one.
    pub fn from_ints(values: &[i64]) -> Set {
        Set::Ints(IntSet::from_sorted(values))
    }

    /// The integers of an intset, ascending; `None` for other encodings.
    pub fn ints(&self) -> Option<Vec<i64>> {
        match self {
            Set::Ints(v) => Some(v.iter().collect()),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(v) => v.len(),
            Set::Small(p) => p.len(),
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
            Set::Small(_) | Set::Table(_) => "hashtable",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            Set::Ints(v) => v.heap_size(),
            Set::Small(p) => p.heap_size(),
            Set::Table(t) => t.heap_size(),
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Ints(v) => parse_int_exact(member).is_some_and(|n| v.contains(n)),
            Set::Small(p) => p.contains(member),
            Set::Table(t) => t.contains(member),
        }
    }

    /// Leaves the intset form for the packed or the table form, whichever
    /// holds the members plus one more of `next_len` bytes.
    fn convert_from_ints(&mut self, next_len: usize) {
        let Set::Ints(v) = self else { return };
        let fits_small = v.len() < SMALL_MAX_ENTRIES && next_len <= SMALL_MAX_BYTES;
        let mut buf = [0u8; 20];
        if fits_small {
            let mut p = Packed::default();
            for n in v.iter() {
                p.push(fmt_int(n, &mut buf));
            }
            *self = Set::Small(p);
        } else {
            let mut t = Table::default();
            for n in v.iter() {
                t.insert(fmt_int(n, &mut buf));
            }
            *self = Set::Table(Box::new(t));
        }
    }

    fn convert_to_table(&mut self) {
        if let Set::Small(p) = self {
            let mut t = Table::default();
            for m in p.iter() {
                t.insert(m);
            }
            *self = Set::Table(Box::new(t));
        }
    }

    /// Adds `member`; true if it was new. An intset converts on a
    /// non-integer member or when it would pass `max_intset`.
    pub fn add(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let Set::Ints(v) = self {
            match parse_int_exact(member) {
                Some(n) => {
                    if v.contains(n) {
                        return false;
                    }
                    if v.len() < max_intset {
                        return v.insert(n);
                    }
                    self.convert_from_ints(member.len());
                }
                None => self.convert_from_ints(member.len()),
            }
        }
        if let Set::Small(p) = self {
            if p.contains(member) {
                return false;
            }
            if p.len() < SMALL_MAX_ENTRIES && member.len() <= SMALL_MAX_BYTES {
                p.push(member);
                return true;
            }
            self.convert_to_table();
        }
        match self {
            Set::Table(t) => t.insert(member),
            _ => false,
        }
    }

    /// Removes `member`; true if it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Ints(v) => parse_int_exact(member).is_some_and(|n| v.remove(n)),
            Set::Small(p) => p.remove(member),
            Set::Table(t) => t.remove(member),
        }
    }

    /// Members in the set's order (ascending for an intset).
    pub fn members(&self) -> Vec<Bytes> {
        match self {
            Set::Ints(v) => v.iter().map(int_bytes).collect(),
            Set::Small(p) => p.iter().map(Bytes::copy_from_slice).collect(),
            Set::Table(t) => t.items.clone(),
        }
    }

    /// Calls `f` on each member in the set's order, without allocating.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match self {
            Set::Ints(v) => {
                let mut buf = [0u8; 20];
                for n in v.iter() {
                    f(fmt_int(n, &mut buf));
                }
            }
            Set::Small(p) => p.iter().for_each(f),
            Set::Table(t) => t.iter().for_each(|m| f(m)),
        }
    }

    /// The member at position `i` of the set's order.
    pub fn nth(&self, i: usize) -> Option<Bytes> {
        match self {
            Set::Ints(v) => v.get(i).map(int_bytes),
            Set::Small(p) => p.iter().nth(i).map(Bytes::copy_from_slice),
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
    fn intset_widens_and_stays_sorted() {
        let mut s = Set::new();
        for n in [5i64, -3, 70_000, 1 << 40, i64::MIN, 2] {
            assert!(s.add(n.to_string().as_bytes(), 512));
        }
        assert!(s.is_intset());
        assert_eq!(s.ints(), Some(vec![i64::MIN, -3, 2, 5, 70_000, 1 << 40]));
        assert!(s.contains(b"70000") && s.contains(b"-9223372036854775808"));
        assert!(s.remove(b"-9223372036854775808") && !s.contains(b"-9223372036854775808"));
        assert_eq!(s.nth(0), Some(Bytes::from("-3")));
        // Small values take two bytes each (plus the width byte).
        let small = Set::from_ints(&[1, 2, 3]);
        assert_eq!(small.heap_size(), 1 + 3 * 2);
    }

    #[test]
    fn packed_strings_move_to_a_table_past_their_limits() {
        let mut s = Set::new();
        s.add(b"a", 512);
        assert!(matches!(s, Set::Small(_)));
        assert_eq!(s.encoding_name(), "hashtable");
        for i in 1..SMALL_MAX_ENTRIES {
            assert!(s.add(format!("m{i}").as_bytes(), 512));
        }
        assert!(matches!(s, Set::Small(_)));
        assert!(!s.add(b"a", 512));
        assert!(s.add(b"one-more", 512));
        assert!(matches!(s, Set::Table(_)));
        assert_eq!(s.len(), SMALL_MAX_ENTRIES + 1);
        let mut s = Set::new();
        s.add(b"x", 512);
        s.add(&[b'l'; SMALL_MAX_BYTES + 1], 512);
        assert!(matches!(s, Set::Table(_)));
        assert!(s.contains(&[b'l'; SMALL_MAX_BYTES + 1]) && s.contains(b"x"));
        // A full intset given a string goes straight to a table.
        let ints: Vec<i64> = (0..SMALL_MAX_ENTRIES as i64).collect();
        let mut s = Set::from_ints(&ints);
        s.add(b"str", 512);
        assert!(matches!(s, Set::Table(_)));
        assert_eq!(s.len(), SMALL_MAX_ENTRIES + 1);
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

#[cfg(test)]
mod size {
    #[test]
    fn a_set_value_is_small() {
        assert!(std::mem::size_of::<super::Set>() <= 32);
    }
}
