//! The list type.
//!
//! A small list is stored packed: one byte buffer holding each element as a
//! LEB128 length followed by its bytes, which costs one or two bytes of
//! overhead per element, the way Redis's listpack does. Once the packed form
//! would pass its [`NodeLimit`] (what `list-max-listpack-size` allows one
//! Redis quicklist node: 8 KB by default) the list becomes a double-ended
//! queue of boxed byte strings (16 bytes of header each), with O(1) pushes
//! and pops at both ends whatever its length. It never goes back on a push:
//! a list that grew once tends to grow again. Edits that shrink a packed
//! list keep it packed; edits that grow it check the limit.
//!
//! The limit is passed in by the caller with every growing operation, as
//! the set type's intset limit is; the store reads no configuration. Redis
//! fixes a list's fill when the list is created; here a CONFIG SET applies
//! to the next growth of existing lists too (the difference shows in
//! memory and in DEBUG OBJECT's quicklist figures, never in other replies).
//!
//! Redis 7.0 stores every list as a quicklist (a linked list of listpacks)
//! and OBJECT ENCODING says `quicklist` for lists of any size, so that is the
//! name reported for both forms.
//!
//! Index arguments arrive as client integers; the methods here take already
//! normalised positions and never panic on out-of-range ones.

use std::collections::VecDeque;

/// Largest packed buffer, in bytes, under the default limit.
pub const PACKED_MAX_BYTES: usize = 8192;

/// Redis clamps a quicklist's fill to `-5..=FILL_MAX`.
pub const FILL_MAX: i64 = (1 << 15) - 1;

/// The fill a quicklist keeps for a `list-max-listpack-size` value.
pub fn clamp_fill(fill: i64) -> i64 {
    fill.clamp(-5, FILL_MAX)
}

/// How large the packed form may grow, from Redis's `list-max-listpack-size`
/// (`fill`): a positive value caps the number of elements (and, as Redis's
/// safety limit does, the size at 8 KB); -1 to -5 cap the size at 4, 8, 16,
/// 32 or 64 KB. Values are clamped as Redis clamps them ([`clamp_fill`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimit {
    pub max_entries: usize,
    pub max_bytes: usize,
}

impl NodeLimit {
    pub fn from_fill(fill: i64) -> NodeLimit {
        let fill = clamp_fill(fill);
        if fill >= 0 {
            NodeLimit {
                max_entries: fill as usize,
                max_bytes: PACKED_MAX_BYTES,
            }
        } else {
            let shift = (fill.unsigned_abs() - 1) as u32;
            NodeLimit {
                max_entries: usize::MAX,
                max_bytes: 4096 << shift,
            }
        }
    }

    fn allows(&self, count: usize, bytes: usize) -> bool {
        count <= self.max_entries && bytes <= self.max_bytes
    }
}

impl Default for NodeLimit {
    /// Redis's default fill, -2.
    fn default() -> Self {
        NodeLimit::from_fill(-2)
    }
}

/// Bytes of an empty listpack: its 6-byte header and its end marker.
const LISTPACK_EMPTY: usize = 7;

/// Bytes one element takes in a Redis listpack: integers in Redis's strict
/// syntax take 1 to 9 bytes by range, strings a 1, 2 or 5 byte header; then
/// the back-length of the entry.
fn listpack_entry_size(e: &[u8]) -> usize {
    let body = match crate::value::parse_int_exact(e) {
        Some(v) if (0..=127).contains(&v) => 1,
        Some(v) if (-4096..=4095).contains(&v) => 2,
        Some(v) if (-32768..=32767).contains(&v) => 3,
        Some(v) if (-8_388_608..=8_388_607).contains(&v) => 4,
        Some(v) if (i32::MIN as i64..=i32::MAX as i64).contains(&v) => 5,
        Some(_) => 9,
        None if e.len() < 64 => 1 + e.len(),
        None if e.len() < 4096 => 2 + e.len(),
        None => 5 + e.len(),
    };
    let back = match body {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    body + back
}

/// Redis 7.0's test for adding an element of `len` bytes to a quicklist
/// node of `sz` bytes and `count` elements: an overestimate of the new size
/// against the size class of a negative fill, or the 8 KB safety limit and
/// the element count of a positive one.
fn node_allows(sz: usize, count: usize, len: usize, fill: i64) -> bool {
    let prev = if len < 254 { 1 } else { 5 };
    let head = if len < 64 {
        1
    } else if len < 16384 {
        2
    } else {
        5
    };
    let new_sz = sz + len + prev + head;
    if fill < 0 {
        let class = 4096usize << (fill.unsigned_abs() - 1);
        if new_sz <= class {
            return true;
        }
    }
    new_sz <= PACKED_MAX_BYTES && (count as i64) < fill
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

#[derive(Clone, Debug, PartialEq)]
enum Repr {
    /// `count` elements, each a LEB128 length and then the bytes.
    Packed {
        buf: Vec<u8>,
        count: usize,
    },
    Deque(VecDeque<Box<[u8]>>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct List {
    repr: Repr,
}

impl Default for List {
    fn default() -> Self {
        List {
            repr: Repr::Packed {
                buf: Vec::new(),
                count: 0,
            },
        }
    }
}

fn put_len(buf: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf.push(b);
            return;
        }
        buf.push(b | 0x80);
    }
}

fn len_size(n: usize) -> usize {
    let mut size = 1;
    let mut n = n >> 7;
    while n != 0 {
        size += 1;
        n >>= 7;
    }
    size
}

/// Decodes the element starting at `at`: its bytes and the offset after it.
fn entry_at(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let mut n: usize = 0;
    let mut shift = 0;
    let mut i = at;
    loop {
        let b = *buf.get(i)?;
        i += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift >= usize::BITS {
            return None;
        }
    }
    let end = i.checked_add(n)?;
    Some((buf.get(i..end)?, end))
}

/// Walks the elements of a packed buffer.
struct PackedIter<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], usize);

    /// The element and its start offset.
    fn next(&mut self) -> Option<Self::Item> {
        let start = self.at;
        let (e, next) = entry_at(self.buf, start)?;
        self.at = next;
        Some((e, start))
    }
}

fn packed(buf: &[u8]) -> PackedIter<'_> {
    PackedIter { buf, at: 0 }
}

/// Iterator over a list's elements, front to back.
pub enum Iter<'a> {
    Packed(std::vec::IntoIter<&'a [u8]>),
    Deque(std::collections::vec_deque::Iter<'a, Box<[u8]>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Iter::Packed(i) => i.next(),
            Iter::Deque(i) => i.next().map(|b| &**b),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Packed(i) => i.size_hint(),
            Iter::Deque(i) => i.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Packed(i) => i.next_back(),
            Iter::Deque(i) => i.next_back().map(|b| &**b),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl List {
    pub fn new() -> List {
        List::default()
    }

    /// True while the list is in its packed form.
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed { .. })
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed { count, .. } => *count,
            Repr::Deque(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Turns a packed list into a deque.
    fn unpack(&mut self) -> &mut VecDeque<Box<[u8]>> {
        if let Repr::Packed { buf, count } = &self.repr {
            let mut d = VecDeque::with_capacity(*count);
            d.extend(packed(buf).map(|(e, _)| Box::<[u8]>::from(e)));
            self.repr = Repr::Deque(d);
        }
        match &mut self.repr {
            Repr::Deque(d) => d,
            Repr::Packed { .. } => unreachable!("unpacked above"),
        }
    }

    /// Applies an edit to the deque form, packing the result again if the
    /// list was packed and still fits `limit` (always, for an edit that
    /// only shrinks: `None`).
    fn edit<R>(
        &mut self,
        limit: Option<NodeLimit>,
        f: impl FnOnce(&mut VecDeque<Box<[u8]>>) -> R,
    ) -> R {
        let was_packed = self.is_packed();
        let d = self.unpack();
        let r = f(d);
        if was_packed {
            let size: usize = d.iter().map(|e| len_size(e.len()) + e.len()).sum();
            if limit.is_none_or(|l| l.allows(d.len(), size)) {
                let mut buf = Vec::with_capacity(size);
                for e in d.iter() {
                    put_len(&mut buf, e.len());
                    buf.extend_from_slice(e);
                }
                let count = d.len();
                self.repr = Repr::Packed { buf, count };
            }
        }
        r
    }

    pub fn push(&mut self, end: End, item: &[u8], limit: NodeLimit) {
        if let Repr::Packed { buf, count } = &mut self.repr {
            let add = len_size(item.len()) + item.len();
            if limit.allows(*count + 1, buf.len() + add) {
                match end {
                    End::Right => {
                        put_len(buf, item.len());
                        buf.extend_from_slice(item);
                    }
                    End::Left => {
                        let mut head = Vec::with_capacity(add);
                        put_len(&mut head, item.len());
                        head.extend_from_slice(item);
                        buf.splice(0..0, head);
                    }
                }
                *count += 1;
                return;
            }
        }
        let d = self.unpack();
        match end {
            End::Left => d.push_front(item.into()),
            End::Right => d.push_back(item.into()),
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Box<[u8]>> {
        match &mut self.repr {
            Repr::Packed { buf, count } => {
                let (item, start, stop) = match end {
                    End::Left => {
                        let (e, next) = entry_at(buf, 0)?;
                        (Box::<[u8]>::from(e), 0, next)
                    }
                    End::Right => {
                        let (e, start) = packed(buf).last()?;
                        (Box::<[u8]>::from(e), start, buf.len())
                    }
                };
                buf.drain(start..stop);
                *count -= 1;
                Some(item)
            }
            Repr::Deque(d) => match end {
                End::Left => d.pop_front(),
                End::Right => d.pop_back(),
            },
        }
    }

    /// Resolves a Redis index (negative counts from the tail) to a position.
    pub fn position(&self, index: i64) -> Option<usize> {
        let len = self.len() as i64;
        let i = if index < 0 {
            index.checked_add(len)?
        } else {
            index
        };
        (0..len).contains(&i).then_some(i as usize)
    }

    pub fn get(&self, pos: usize) -> Option<&[u8]> {
        match &self.repr {
            Repr::Packed { buf, .. } => packed(buf).nth(pos).map(|(e, _)| e),
            Repr::Deque(d) => d.get(pos).map(|b| &**b),
        }
    }

    /// Replaces the element at `pos`; false if there is none.
    pub fn set(&mut self, pos: usize, item: &[u8], limit: NodeLimit) -> bool {
        if pos >= self.len() {
            return false;
        }
        self.edit(Some(limit), |d| match d.get_mut(pos) {
            Some(slot) => {
                *slot = item.into();
                true
            }
            None => false,
        })
    }

    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Packed { buf, count } => {
                let mut v = Vec::with_capacity(*count);
                v.extend(packed(buf).map(|(e, _)| e));
                Iter::Packed(v.into_iter())
            }
            Repr::Deque(d) => Iter::Deque(d.iter()),
        }
    }

    /// The inclusive range `start..=end` of Redis indexes, clamped as LRANGE
    /// and LTRIM clamp them; `None` when it selects nothing.
    pub fn clamp_range(&self, start: i64, end: i64) -> Option<(usize, usize)> {
        let len = self.len() as i64;
        let start = if start < 0 {
            start.saturating_add(len).max(0)
        } else {
            start
        };
        let end = if end < 0 {
            end.saturating_add(len)
        } else {
            end
        };
        if start > end || start >= len {
            return None;
        }
        Some((start as usize, end.min(len - 1) as usize))
    }

    /// Elements `first..=last`; nothing if that is not a valid range.
    pub fn range(&self, first: usize, last: usize) -> impl Iterator<Item = &[u8]> {
        let valid = first <= last && last < self.len();
        let (skip, take) = if valid {
            (first, last - first + 1)
        } else {
            (0, 0)
        };
        let (a, b) = match &self.repr {
            Repr::Packed { buf, .. } => (Some(packed(buf).skip(skip).take(take)), None),
            Repr::Deque(d) => (None, Some(d.range(skip..skip + take))),
        };
        a.into_iter()
            .flatten()
            .map(|(e, _)| e)
            .chain(b.into_iter().flatten().map(|e| &**e))
    }

    /// Keeps only `first..=last` (or nothing).
    pub fn retain_range(&mut self, keep: Option<(usize, usize)>) {
        self.edit(None, |d| match keep {
            None => d.clear(),
            Some((first, last)) => {
                d.truncate(last + 1);
                d.drain(..first.min(d.len()));
            }
        })
    }

    /// Inserts `item` before or after the first element equal to `pivot`;
    /// false if there is no such element.
    pub fn insert_at_pivot(
        &mut self,
        pivot: &[u8],
        item: &[u8],
        after: bool,
        limit: NodeLimit,
    ) -> bool {
        let Some(pos) = self.iter().position(|e| e == pivot) else {
            return false;
        };
        self.edit(Some(limit), |d| d.insert(pos + after as usize, item.into()));
        true
    }

    /// Removes up to `count` elements equal to `item` (all when `count` is
    /// 0), scanning from the head or, for a negative count, from the tail.
    pub fn remove_matching(&mut self, item: &[u8], count: i64) -> usize {
        if !self.iter().any(|e| e == item) {
            return 0;
        }
        let limit = if count == 0 {
            usize::MAX
        } else {
            usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
        };
        self.edit(None, |d| {
            let mut removed = 0;
            if count >= 0 {
                d.retain(|e| {
                    if removed < limit && **e == *item {
                        removed += 1;
                        false
                    } else {
                        true
                    }
                });
            } else {
                let mut i = d.len();
                while i > 0 && removed < limit {
                    i -= 1;
                    if d.get(i).is_some_and(|e| **e == *item) {
                        d.remove(i);
                        removed += 1;
                    }
                }
            }
            removed
        })
    }

    /// The quicklist Redis 7.0 would hold for these elements pushed one by
    /// one at the tail under `fill`: its node count and the listpack bytes
    /// of all nodes (DEBUG OBJECT's `ql_nodes` and `ql_uncompressed_size`).
    /// Lists built otherwise (head pushes, inserts, removals) may have a
    /// different layout in Redis; this is an estimate for them.
    pub fn quicklist_layout(&self, fill: i64) -> (usize, usize) {
        let fill = clamp_fill(fill);
        let (mut nodes, mut total) = (0usize, 0usize);
        // The open node: its listpack bytes and element count.
        let mut node: Option<(usize, usize)> = None;
        for e in self.iter() {
            let entry = listpack_entry_size(e);
            match node {
                Some((sz, count)) if node_allows(sz, count, e.len(), fill) => {
                    node = Some((sz + entry, count + 1));
                }
                _ => {
                    if let Some((sz, _)) = node {
                        total += sz;
                    }
                    nodes += 1;
                    node = Some((LISTPACK_EMPTY + entry, 1));
                }
            }
        }
        if let Some((sz, _)) = node {
            total += sz;
        }
        (nodes, total)
    }

    /// Heap bytes held: the packed buffer, or the element bytes and the
    /// deque's slots.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Packed { buf, .. } => buf.capacity(),
            Repr::Deque(d) => {
                d.capacity() * std::mem::size_of::<Box<[u8]>>()
                    + d.iter().map(|e| e.len()).sum::<usize>()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        let mut l = List::new();
        for i in items {
            l.push(End::Right, i.as_bytes(), NodeLimit::default());
        }
        l
    }

    fn items(l: &List) -> Vec<String> {
        l.iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect()
    }

    #[test]
    fn positions_and_ranges() {
        let l = list(&["a", "b", "c"]);
        assert_eq!(l.position(-1), Some(2));
        assert_eq!(l.position(3), None);
        assert_eq!(l.position(-4), None);
        assert_eq!(l.position(i64::MIN), None);
        assert_eq!(l.clamp_range(0, -1), Some((0, 2)));
        assert_eq!(l.clamp_range(-100, 100), Some((0, 2)));
        assert_eq!(l.clamp_range(2, 1), None);
        assert_eq!(l.clamp_range(3, 5), None);
        assert_eq!(l.clamp_range(i64::MIN, i64::MIN), None);
        let r: Vec<_> = l.range(1, 2).collect();
        assert_eq!(r, vec![b"b".as_ref(), b"c".as_ref()]);
    }

    #[test]
    fn edits() {
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", -2), 2);
        assert_eq!(items(&l), ["a", "b", "c"]);
        assert!(l.insert_at_pivot(b"b", b"x", true, NodeLimit::default()));
        assert!(!l.insert_at_pivot(b"zz", b"x", true, NodeLimit::default()));
        assert_eq!(items(&l), ["a", "b", "x", "c"]);
        l.retain_range(l.clamp_range(1, -2));
        assert_eq!(items(&l), ["b", "x"]);
        assert_eq!(l.remove_matching(b"b", 0), 1);
        l.retain_range(None);
        assert!(l.is_empty());
    }

    #[test]
    fn packed_and_deque_agree() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut l = List::new();
        for _ in 0..5000 {
            let item = vec![b'a' + rng.u8(..3); rng.usize(0..300)];
            match rng.u8(..6) {
                0 | 1 => {
                    l.push(End::Left, &item, NodeLimit::default());
                    model.push_front(item);
                }
                2 => {
                    l.push(End::Right, &item, NodeLimit::default());
                    model.push_back(item);
                }
                3 => assert_eq!(l.pop(End::Left).map(Vec::from), model.pop_front()),
                4 => assert_eq!(l.pop(End::Right).map(Vec::from), model.pop_back()),
                _ => {
                    let count = rng.i64(-2..3);
                    let n = l.remove_matching(&item, count);
                    let limit = if count == 0 {
                        usize::MAX
                    } else {
                        count.unsigned_abs() as usize
                    };
                    let mut hits: Vec<usize> =
                        (0..model.len()).filter(|&i| model[i] == item).collect();
                    if count < 0 {
                        hits.reverse();
                    }
                    hits.truncate(limit);
                    hits.sort_unstable();
                    for &i in hits.iter().rev() {
                        model.remove(i);
                    }
                    assert_eq!(n, hits.len());
                }
            }
            assert_eq!(l.len(), model.len());
            assert!(l.iter().eq(model.iter().map(|v| v.as_slice())));
            if let Some(p) = l.position(-1) {
                assert_eq!(l.get(p), model.back().map(|v| v.as_slice()));
            }
        }
        // Big elements force the deque form.
        let mut big = List::new();
        big.push(End::Right, &[b'x'; PACKED_MAX_BYTES], NodeLimit::default());
        assert!(!big.is_packed());
        assert!(List::new().is_packed());
    }

    #[test]
    fn quicklist_layout_matches_redis_figures() {
        // Figures read from Redis 7.0.15's DEBUG OBJECT for the same pushes.
        let mut l = List::new();
        let y = "y".repeat(70);
        let z = "z".repeat(300);
        for e in [
            "a",
            "b",
            "c",
            "12",
            "-5000",
            "1234567",
            "99999999999",
            &y,
            &z,
        ] {
            l.push(End::Right, e.as_bytes(), NodeLimit::default());
        }
        assert_eq!(l.quicklist_layout(-100), (1, 414));
        assert_eq!(l.quicklist_layout(0), (9, 470));
        assert_eq!(l.quicklist_layout(5), (2, 421));
        assert_eq!(l.quicklist_layout(100_000), (1, 414));
        let mut l = List::new();
        for _ in 0..100 {
            l.push(End::Right, &[b'x'; 100], NodeLimit::default());
        }
        assert_eq!(l.quicklist_layout(-1).0, 3);
        assert_eq!(List::new().quicklist_layout(-2), (0, 0));
    }

    #[test]
    fn node_limits_follow_the_fill_setting() {
        assert_eq!(NodeLimit::from_fill(-1).max_bytes, 4096);
        assert_eq!(NodeLimit::from_fill(-5).max_bytes, 65536);
        assert_eq!(NodeLimit::from_fill(-100).max_bytes, 65536);
        assert_eq!(NodeLimit::from_fill(i64::MIN).max_bytes, 65536);
        assert_eq!(NodeLimit::from_fill(1 << 40).max_entries, 32767);
        // A positive fill counts elements.
        let five = NodeLimit::from_fill(5);
        let mut l = List::new();
        for _ in 0..5 {
            l.push(End::Right, b"x", five);
        }
        assert!(l.is_packed());
        l.push(End::Left, b"x", five);
        assert!(!l.is_packed());
        // A negative one counts bytes: 100-byte elements, 101 bytes each
        // packed, 40 fit in 4 KB and 41 do not.
        for (fill, fits) in [(-1, 40), (-2, 81), (-3, 162), (-4, 324), (-5, 648)] {
            let limit = NodeLimit::from_fill(fill);
            let mut l = List::new();
            for _ in 0..fits {
                l.push(End::Right, &[b'y'; 100], limit);
            }
            assert!(l.is_packed(), "fill {fill}");
            l.push(End::Right, &[b'y'; 100], limit);
            assert!(!l.is_packed(), "fill {fill}");
        }
        // Growing edits check the limit, shrinking ones keep the packing.
        let mut l = List::new();
        for _ in 0..5 {
            l.push(End::Right, b"x", five);
        }
        assert!(l.insert_at_pivot(b"x", b"z", true, five));
        assert!(!l.is_packed());
        let mut l = List::new();
        for _ in 0..5 {
            l.push(End::Right, b"x", five);
        }
        assert!(l.set(0, &[b'q'; 9000], five));
        assert!(!l.is_packed());
        let mut l = List::new();
        for _ in 0..5 {
            l.push(End::Right, b"x", five);
        }
        assert_eq!(l.remove_matching(b"x", 2), 2);
        assert!(l.is_packed());
    }
}
