//! The list type.
//!
//! A list is a double-ended queue of boxed byte strings: a boxed slice costs
//! 16 bytes of header against 32 for `Bytes` or 24 for `Vec`, and the deque
//! gives O(1) pushes and pops at both ends, which is what lists are used
//! for. Redis 7.0 stores every list as a quicklist (a linked list of
//! listpacks) and OBJECT ENCODING says `quicklist` for lists of any size, so
//! that is the name we report.
//!
//! Index arguments arrive as client integers; the methods here take already
//! normalised positions and never panic on out-of-range ones.

use std::collections::VecDeque;

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct List {
    items: VecDeque<Box<[u8]>>,
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn push(&mut self, end: End, item: &[u8]) {
        match end {
            End::Left => self.items.push_front(item.into()),
            End::Right => self.items.push_back(item.into()),
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Box<[u8]>> {
        match end {
            End::Left => self.items.pop_front(),
            End::Right => self.items.pop_back(),
        }
    }

    /// Resolves a Redis index (negative counts from the tail) to a position.
    pub fn position(&self, index: i64) -> Option<usize> {
        let len = self.items.len() as i64;
        let i = if index < 0 {
            index.checked_add(len)?
        } else {
            index
        };
        (0..len).contains(&i).then_some(i as usize)
    }

    pub fn get(&self, pos: usize) -> Option<&[u8]> {
        self.items.get(pos).map(|b| &**b)
    }

    /// Replaces the element at `pos`; false if there is none.
    pub fn set(&mut self, pos: usize, item: &[u8]) -> bool {
        match self.items.get_mut(pos) {
            Some(slot) => {
                *slot = item.into();
                true
            }
            None => false,
        }
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.items.iter().map(|b| &**b)
    }

    /// The inclusive range `start..=end` of Redis indexes, clamped as LRANGE
    /// and LTRIM clamp them; `None` when it selects nothing.
    pub fn clamp_range(&self, start: i64, end: i64) -> Option<(usize, usize)> {
        let len = self.items.len() as i64;
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
        let valid = first <= last && last < self.items.len();
        let r = if valid { first..last + 1 } else { 0..0 };
        self.items.range(r).map(|b| &**b)
    }

    /// Keeps only `first..=last` (or nothing).
    pub fn retain_range(&mut self, keep: Option<(usize, usize)>) {
        match keep {
            None => self.items.clear(),
            Some((first, last)) => {
                self.items.truncate(last + 1);
                self.items.drain(..first.min(self.items.len()));
            }
        }
    }

    /// Inserts `item` before or after the first element equal to `pivot`;
    /// false if there is no such element.
    pub fn insert_at_pivot(&mut self, pivot: &[u8], item: &[u8], after: bool) -> bool {
        let Some(pos) = self.items.iter().position(|e| **e == *pivot) else {
            return false;
        };
        self.items.insert(pos + after as usize, item.into());
        true
    }

    /// Removes up to `count` elements equal to `item` (all when `count` is
    /// 0), scanning from the head or, for a negative count, from the tail.
    pub fn remove_matching(&mut self, item: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
        };
        let mut removed = 0;
        if count >= 0 {
            self.items.retain(|e| {
                if removed < limit && **e == *item {
                    removed += 1;
                    false
                } else {
                    true
                }
            });
        } else {
            let mut i = self.items.len();
            while i > 0 && removed < limit {
                i -= 1;
                if *self.items[i] == *item {
                    self.items.remove(i);
                    removed += 1;
                }
            }
        }
        removed
    }

    /// Heap bytes held: element bytes, their boxes and the deque's slots.
    pub fn heap_size(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<Box<[u8]>>()
            + self.items.iter().map(|e| e.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        let mut l = List::new();
        for i in items {
            l.push(End::Right, i.as_bytes());
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
        assert!(l.insert_at_pivot(b"b", b"x", true));
        assert!(!l.insert_at_pivot(b"zz", b"x", true));
        assert_eq!(items(&l), ["a", "b", "x", "c"]);
        l.retain_range(l.clamp_range(1, -2));
        assert_eq!(items(&l), ["b", "x"]);
        assert_eq!(l.remove_matching(b"b", 0), 1);
        l.retain_range(None);
        assert!(l.is_empty());
    }
}
