//! The sorted set type, with Redis 7.0's two encodings.
//!
//! * `Listpack`: every member and score in one flat buffer, sorted by score
//!   then member (bytewise). Each entry is a LEB128 member length, the
//!   member's bytes, then the score: a LEB128 code whose low bit says
//!   whether the score is an integer (the zigzagged value in the other bits,
//!   one byte for scores -32..31) or not: code 3 when the score is exactly a
//!   `f32` (1.5, 0.25, infinities; four little-endian bytes follow), code 1
//!   otherwise (eight bytes of `f64`). Small sorted sets, by far the most common,
//!   cost one allocation and a few bytes per member, like Redis's listpack.
//! * `Skiplist`: once the set holds more than `zset-max-listpack-entries`
//!   members or a member longer than `zset-max-listpack-value` bytes. As in
//!   Redis, a hash (member to node) answers ZSCORE in O(1) and a skiplist
//!   whose links carry spans answers rank, score-range and lex-range
//!   questions in O(log n). The nodes live in one arena vector and link by
//!   index; the hash table stores node indices and hashes the member held in
//!   the node, so every member is stored once. A sorted set never converts
//!   back, as in Redis.
//!
//! Every query is expressed as a range of ranks (0-based, ascending): score
//! and lex bounds become ranks through [`Zset::score_ranks`] and
//! [`Zset::lex_ranks`], and the reply is produced by [`Zset::for_range`].
//! The thresholds are passed in by the caller ([`Limits`]); the store reads
//! no configuration.

use bytes::Bytes;
use hashbrown::HashTable;
use std::cmp::Ordering;
use std::hash::BuildHasher;

/// The conversion thresholds (`zset-max-listpack-entries`,
/// `zset-max-listpack-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 128,
            max_value: 64,
        }
    }
}

/// The order of a sorted set: score, then member bytes.
fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    s1.partial_cmp(&s2)
        .unwrap_or(Ordering::Equal)
        .then_with(|| m1.cmp(m2))
}

/// A bound of a score range (`(1.5` is exclusive).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub min_ex: bool,
    pub max: f64,
    pub max_ex: bool,
}

impl ScoreRange {
    fn above_min(&self, s: f64) -> bool {
        if self.min_ex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    fn below_max(&self, s: f64) -> bool {
        if self.max_ex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// True when no score can be inside (min above max, or equal with an
    /// exclusive end).
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_ex || self.max_ex))
    }
}

/// One end of a lex range: `-`, `+`, `[m` or `(m`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Bytes),
    Excl(Bytes),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    /// Members strictly before the range's start.
    fn before_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m < &b[..],
            LexBound::Excl(b) => m <= &b[..],
        }
    }

    /// Members at or before the range's end.
    fn upto_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m <= &b[..],
            LexBound::Excl(b) => m < &b[..],
        }
    }
}

// ---------------------------------------------------------------------------
// Listpack.
// ---------------------------------------------------------------------------

/// Integer scores within this magnitude are stored as integers; every such
/// integer is exactly a double.
const EXACT_INT: f64 = 9007199254740992.0; // 2^53

fn put_varint(buf: &mut Vec<u8>, mut n: u64) {
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

fn encode_entry(member: &[u8], score: f64) -> Vec<u8> {
    let mut v = Vec::with_capacity(member.len() + 12);
    put_varint(&mut v, member.len() as u64);
    v.extend_from_slice(member);
    let as_int = score as i64;
    // -0 is stored as the integer 0: Redis's listpack keeps scores as
    // the text its integer formatting gives, which drops the sign.
    if score.fract() == 0.0 && score.abs() <= EXACT_INT {
        let zz = ((as_int << 1) ^ (as_int >> 63)) as u64;
        put_varint(&mut v, zz << 1);
    } else if (score as f32) as f64 == score || score.is_infinite() {
        put_varint(&mut v, 3);
        v.extend_from_slice(&(score as f32).to_le_bytes());
    } else {
        put_varint(&mut v, 1);
        v.extend_from_slice(&score.to_le_bytes());
    }
    v
}

/// Small sorted sets: entries in one buffer, sorted (see the module
/// comment for the format).
#[derive(Clone, Debug, Default)]
pub struct Listpack {
    buf: Vec<u8>,
    len: u32,
}

/// An entry as read from the buffer.
struct LpEntry {
    start: usize,
    member: std::ops::Range<usize>,
    score: f64,
    end: usize,
}

impl Listpack {
    fn varint(&self, pos: usize) -> (u64, usize) {
        let mut n = 0u64;
        let mut shift = 0;
        let mut i = pos;
        while let Some(&b) = self.buf.get(i) {
            i += 1;
            if shift < 64 {
                n |= ((b & 0x7f) as u64) << shift;
            }
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        (n, i)
    }

    fn read(&self, start: usize) -> LpEntry {
        let (mlen, p) = self.varint(start);
        let mend = (p + mlen as usize).min(self.buf.len());
        let (code, mut end) = self.varint(mend);
        let score = if code & 1 == 0 {
            let zz = code >> 1;
            (((zz >> 1) as i64) ^ -((zz & 1) as i64)) as f64
        } else if code == 3 {
            let mut b = [0u8; 4];
            if let Some(s) = self.buf.get(end..end + 4) {
                b.copy_from_slice(s);
            }
            end = (end + 4).min(self.buf.len());
            f32::from_le_bytes(b) as f64
        } else {
            let mut b = [0u8; 8];
            if let Some(s) = self.buf.get(end..end + 8) {
                b.copy_from_slice(s);
            }
            end = (end + 8).min(self.buf.len());
            f64::from_le_bytes(b)
        };
        LpEntry {
            start,
            member: p..mend,
            score,
            end,
        }
    }

    fn entries(&self) -> impl Iterator<Item = LpEntry> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= self.buf.len() {
                return None;
            }
            let e = self.read(pos);
            pos = e.end;
            Some(e)
        })
    }

    fn find(&self, member: &[u8]) -> Option<LpEntry> {
        self.entries()
            .find(|e| &self.buf[e.member.clone()] == member)
    }

    /// Inserts a member known to be absent, at its sorted place.
    fn insert(&mut self, member: &[u8], score: f64) {
        let at = self
            .entries()
            .find(|e| cmp_entry(e.score, &self.buf[e.member.clone()], score, member).is_gt())
            .map_or(self.buf.len(), |e| e.start);
        let bytes = encode_entry(member, score);
        self.buf.reserve_exact(bytes.len());
        self.buf.splice(at..at, bytes);
        self.len += 1;
    }

    fn remove_at(&mut self, start: usize, end: usize) {
        self.buf.drain(start..end);
        self.len -= 1;
    }
}

// ---------------------------------------------------------------------------
// Skiplist.
// ---------------------------------------------------------------------------

const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;
const MAX_LEVEL: usize = 32;

#[derive(Clone, Copy, Debug, Default)]
struct Link {
    next: u32,
    /// Nodes crossed by following `next` (rank distance).
    span: u32,
    /// The score of the node `next` points at, and where its links start:
    /// a search decides whether to step from the link it already holds and
    /// steps straight to the next node's links, so one step costs one
    /// memory load; the node itself is read only when the scores tie (then
    /// the members decide).
    next_score: f64,
    next_links: u32,
}

#[derive(Clone, Debug)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    back: u32,
    /// This node's links: `level` of them from `links_at` in the link arena.
    links_at: u32,
    level: u8,
}

/// The general encoding: an arena skiplist plus a hash of node indices.
#[derive(Clone, Debug)]
pub struct Skiplist {
    /// `nodes[0]` is the head; freed slots are listed in `free`.
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// Every node's links, each node's contiguous; blocks freed by removals
    /// are listed by their length for reuse.
    links: Vec<Link>,
    free_links: Vec<Vec<u32>>,
    level: usize,
    len: usize,
    tail: u32,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl Skiplist {
    fn new() -> Skiplist {
        let head = Node {
            member: Box::default(),
            score: 0.0,
            back: NIL,
            links_at: 0,
            level: MAX_LEVEL as u8,
        };
        Skiplist {
            nodes: vec![head],
            free: Vec::new(),
            links: vec![
                Link {
                    next: NIL,
                    ..Link::default()
                };
                MAX_LEVEL
            ],
            free_links: Vec::new(),
            level: 1,
            len: 0,
            tail: NIL,
            index: HashTable::new(),
            hasher: Default::default(),
        }
    }

    /// A block of `lvl` links, reused if one of that length is free.
    fn alloc_links(&mut self, lvl: usize) -> u32 {
        if let Some(at) = self.free_links.get_mut(lvl).and_then(|f| f.pop()) {
            return at;
        }
        let at = self.links.len() as u32;
        self.links.resize(self.links.len() + lvl, Link::default());
        at
    }

    fn node(&self, i: u32) -> &Node {
        &self.nodes[i as usize]
    }

    fn link(&self, i: u32, lvl: usize) -> Link {
        self.links[self.nodes[i as usize].links_at as usize + lvl]
    }

    fn link_mut(&mut self, i: u32, lvl: usize) -> &mut Link {
        let at = self.nodes[i as usize].links_at as usize + lvl;
        &mut self.links[at]
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let h = self.hasher.hash_one(member);
        self.index
            .find(h, |&i| &*self.nodes[i as usize].member == member)
            .copied()
    }

    fn random_level() -> usize {
        let mut lvl = 1;
        while lvl < MAX_LEVEL && fastrand::u32(..4) == 0 {
            lvl += 1;
        }
        lvl
    }

    /// For each level, the last node before (score, member) and its rank.
    fn search(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        let mut xl = self.nodes[HEAD as usize].links_at as usize;
        for i in (0..self.level).rev() {
            rank[i] = if i + 1 == self.level { 0 } else { rank[i + 1] };
            loop {
                let l = self.links[xl + i];
                if l.next == NIL {
                    break;
                }
                let before = match l.next_score.partial_cmp(&score) {
                    Some(Ordering::Less) => true,
                    Some(Ordering::Greater) => false,
                    _ => {
                        let n = self.node(l.next);
                        cmp_entry(n.score, &n.member, score, member).is_lt()
                    }
                };
                if before {
                    rank[i] += l.span;
                    x = l.next;
                    xl = l.next_links as usize;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// Inserts a member known to be absent.
    fn insert(&mut self, member: &[u8], score: f64) {
        let (mut update, mut rank) = self.search(score, member);
        let lvl = Self::random_level();
        if lvl > self.level {
            for i in self.level..lvl {
                rank[i] = 0;
                update[i] = HEAD;
                self.link_mut(HEAD, i).span = self.len as u32;
            }
            self.level = lvl;
        }
        let links_at = self.alloc_links(lvl);
        let node = Node {
            member: member.into(),
            score,
            back: if update[0] == HEAD { NIL } else { update[0] },
            links_at,
            level: lvl as u8,
        };
        let x = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        for i in 0..lvl {
            let prev = self.link(update[i], i);
            let crossed = rank[0] - rank[i];
            *self.link_mut(x, i) = Link {
                next: prev.next,
                span: prev.span - crossed,
                next_score: prev.next_score,
                next_links: prev.next_links,
            };
            *self.link_mut(update[i], i) = Link {
                next: x,
                span: crossed + 1,
                next_score: score,
                next_links: links_at,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.link_mut(u, i).span += 1;
        }
        let next = self.link(x, 0).next;
        if next == NIL {
            self.tail = x;
        } else {
            self.nodes[next as usize].back = x;
        }
        self.len += 1;
        let h = self.hasher.hash_one(member);
        let nodes = &self.nodes;
        let hasher = &self.hasher;
        self.index
            .insert_unique(h, x, |&i| hasher.hash_one(&*nodes[i as usize].member));
    }

    /// Removes the node `x` (found through the index).
    fn remove_node(&mut self, x: u32) {
        let (update, h) = {
            let n = self.node(x);
            (
                self.search(n.score, &n.member).0,
                self.hasher.hash_one(&*n.member),
            )
        };
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.link(u, i);
            if ul.next == x {
                let xl = self.link(x, i);
                *self.link_mut(u, i) = Link {
                    next: xl.next,
                    span: ul.span + xl.span - 1,
                    next_score: xl.next_score,
                    next_links: xl.next_links,
                };
            } else {
                self.link_mut(u, i).span -= 1;
            }
        }
        let next = self.link(x, 0).next;
        let back = self.node(x).back;
        if next == NIL {
            self.tail = back;
        } else {
            self.nodes[next as usize].back = back;
        }
        while self.level > 1 && self.link(HEAD, self.level - 1).next == NIL {
            self.level -= 1;
        }
        self.len -= 1;
        if let Ok(e) = self.index.find_entry(h, |&i| i == x) {
            e.remove();
        }
        let (at, lvl) = {
            let n = &self.nodes[x as usize];
            (n.links_at, n.level as usize)
        };
        if self.free_links.len() <= lvl {
            self.free_links.resize(lvl + 1, Vec::new());
        }
        self.free_links[lvl].push(at);
        self.nodes[x as usize].member = Box::default();
        if x as usize + 1 == self.nodes.len() {
            self.nodes.pop();
        } else {
            self.free.push(x);
        }
        if self.len == 0 {
            self.nodes.truncate(1);
            self.free.clear();
            self.links.truncate(MAX_LEVEL);
            self.free_links.clear();
        } else if self.free.len() > 64 && self.free.len() > self.len {
            self.compact();
        }
    }

    /// Rebuilds the arena once most of its slots are free, so that a set
    /// that shrank gives its memory back (amortized: it takes as many
    /// removals as there are members left).
    fn compact(&mut self) {
        let mut fresh = Skiplist::new();
        fresh.nodes.reserve_exact(self.len + 1);
        let mut x = self.link(HEAD, 0).next;
        while x != NIL {
            let n = &self.nodes[x as usize];
            fresh.insert(&n.member, n.score);
            x = self.link(x, 0).next;
        }
        *self = fresh;
    }

    /// How many nodes, from the first, satisfy `pred` (which holds for a
    /// prefix of the order).
    fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut x = HEAD;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL {
                    break;
                }
                let n = self.node(l.next);
                if pred(n.score, &n.member) {
                    rank += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
        }
        rank
    }

    /// The node at 0-based rank `r`.
    fn at_rank(&self, r: usize) -> Option<u32> {
        let target = r + 1;
        let mut x = HEAD;
        let mut done = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != NIL && done + l.span as usize <= target {
                    done += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
            if done == target {
                return Some(x);
            }
        }
        None
    }

    fn heap_size(&self) -> usize {
        let nodes: usize = self.nodes.iter().map(|n| n.member.len()).sum();
        nodes
            + self.links.capacity() * std::mem::size_of::<Link>()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.index.capacity() * 5
            + self.free.capacity() * 4
    }
}

// ---------------------------------------------------------------------------
// The sorted set.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub enum Zset {
    Listpack(Listpack),
    /// Boxed, so that a sorted set (and every [`crate::Value`]) stays small.
    Skiplist(Box<Skiplist>),
}

impl Default for Zset {
    fn default() -> Self {
        Zset::new()
    }
}

impl PartialEq for Zset {
    fn eq(&self, other: &Zset) -> bool {
        self.len() == other.len() && self.to_vec() == other.to_vec()
    }
}

impl Zset {
    pub fn new() -> Zset {
        Zset::Listpack(Listpack::default())
    }

    /// An empty sorted set in the encoding Redis creates for a first
    /// member of `first_len` bytes.
    pub fn for_first(first_len: usize, limits: Limits) -> Zset {
        if limits.max_entries == 0 || first_len > limits.max_value {
            Zset::Skiplist(Box::new(Skiplist::new()))
        } else {
            Zset::new()
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Zset::Listpack(_) => "listpack",
            Zset::Skiplist(_) => "skiplist",
        }
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self, Zset::Listpack(_))
    }

    pub fn len(&self) -> usize {
        match self {
            Zset::Listpack(l) => l.len as usize,
            Zset::Skiplist(s) => s.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Zset::Listpack(l) => l.find(member).map(|e| e.score),
            Zset::Skiplist(s) => s.find(member).map(|i| s.node(i).score),
        }
    }

    /// Converts to the skiplist encoding (never the other way).
    pub fn convert_to_skiplist(&mut self) {
        if let Zset::Listpack(l) = self {
            let mut s = Skiplist::new();
            s.index.reserve(l.len as usize, |_| 0);
            for e in l.entries() {
                s.insert(&l.buf[e.member.clone()], e.score);
            }
            *self = Zset::Skiplist(Box::new(s));
        }
    }

    /// Sets `member`'s score; true if the member is new. Converts to the
    /// skiplist when a new member is too long for a listpack or the set
    /// grows past the entry limit, as Redis does after its insert.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: Limits) -> bool {
        let new = self.remove(member).is_none();
        if let Zset::Listpack(l) = self {
            if new && (l.len as usize + 1 > limits.max_entries || member.len() > limits.max_value) {
                self.convert_to_skiplist();
            }
        }
        match self {
            Zset::Listpack(l) => l.insert(member, score),
            Zset::Skiplist(s) => s.insert(member, score),
        }
        new
    }

    /// Removes `member`, returning its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            Zset::Listpack(l) => {
                let e = l.find(member)?;
                l.remove_at(e.start, e.end);
                if l.len == 0 {
                    l.buf = Vec::new();
                }
                Some(e.score)
            }
            Zset::Skiplist(s) => {
                let i = s.find(member)?;
                let score = s.node(i).score;
                s.remove_node(i);
                Some(score)
            }
        }
    }

    /// The 0-based ascending rank of `member`, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            Zset::Listpack(l) => l
                .entries()
                .enumerate()
                .find(|(_, e)| &l.buf[e.member.clone()] == member)
                .map(|(i, e)| (i, e.score)),
            Zset::Skiplist(s) => {
                let i = s.find(member)?;
                let n = s.node(i);
                let before = s.count_prefix(|sc, m| cmp_entry(sc, m, n.score, &n.member).is_lt());
                Some((before, n.score))
            }
        }
    }

    fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            Zset::Listpack(l) => l
                .entries()
                .take_while(|e| pred(e.score, &l.buf[e.member.clone()]))
                .count(),
            Zset::Skiplist(s) => s.count_prefix(pred),
        }
    }

    /// The ranks `lo..hi` of the members whose scores are in `range`.
    pub fn score_ranks(&self, range: &ScoreRange) -> (usize, usize) {
        if range.is_empty() {
            return (0, 0);
        }
        let lo = self.count_prefix(|s, _| !range.above_min(s));
        let hi = self.count_prefix(|s, _| range.below_max(s));
        (lo, hi.max(lo))
    }

    /// The ranks `lo..hi` of the members in the lex range (meaningful when
    /// every score is equal, as in Redis).
    pub fn lex_ranks(&self, range: &LexRange) -> (usize, usize) {
        let lo = self.count_prefix(|_, m| range.before_min(m));
        let hi = self.count_prefix(|_, m| range.upto_max(m));
        (lo, hi.max(lo))
    }

    /// Calls `f` on the members of ranks `lo..hi`, ascending, or descending
    /// when `rev`.
    pub fn for_range(&self, lo: usize, hi: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let hi = hi.min(self.len());
        if lo >= hi {
            return;
        }
        match self {
            Zset::Listpack(l) => {
                let picked: Vec<LpEntry> = l.entries().skip(lo).take(hi - lo).collect();
                if rev {
                    for e in picked.iter().rev() {
                        f(&l.buf[e.member.clone()], e.score);
                    }
                } else {
                    for e in &picked {
                        f(&l.buf[e.member.clone()], e.score);
                    }
                }
            }
            Zset::Skiplist(s) => {
                let Some(mut x) = s.at_rank(if rev { hi - 1 } else { lo }) else {
                    return;
                };
                for _ in lo..hi {
                    if x == NIL || x == HEAD {
                        break;
                    }
                    let n = s.node(x);
                    f(&n.member, n.score);
                    x = if rev { n.back } else { s.link(x, 0).next };
                }
            }
        }
    }

    /// The members of ranks `lo..hi`, copied.
    pub fn range(&self, lo: usize, hi: usize, rev: bool) -> Vec<(Bytes, f64)> {
        let mut out = Vec::with_capacity(hi.saturating_sub(lo).min(self.len()));
        self.for_range(lo, hi, rev, |m, s| out.push((Bytes::copy_from_slice(m), s)));
        out
    }

    /// Every member and score, ascending.
    pub fn to_vec(&self) -> Vec<(Bytes, f64)> {
        self.range(0, self.len(), false)
    }

    /// The member at rank `r`.
    pub fn nth(&self, r: usize) -> Option<(Bytes, f64)> {
        self.range(r, r + 1, false).pop()
    }

    /// Removes the members of ranks `lo..hi`, returning them ascending.
    pub fn remove_range(&mut self, lo: usize, hi: usize) -> Vec<(Bytes, f64)> {
        let hi = hi.min(self.len());
        if lo >= hi {
            return Vec::new();
        }
        match self {
            Zset::Listpack(l) => {
                let picked: Vec<LpEntry> = l.entries().skip(lo).take(hi - lo).collect();
                let out: Vec<(Bytes, f64)> = picked
                    .iter()
                    .map(|e| (Bytes::copy_from_slice(&l.buf[e.member.clone()]), e.score))
                    .collect();
                if let (Some(first), Some(last)) = (picked.first(), picked.last()) {
                    l.buf.drain(first.start..last.end);
                    l.len -= picked.len() as u32;
                    if l.len == 0 {
                        l.buf = Vec::new();
                    } else {
                        l.buf.shrink_to_fit();
                    }
                }
                out
            }
            Zset::Skiplist(_) => {
                let out = self.range(lo, hi, false);
                if let Zset::Skiplist(s) = self {
                    for (m, _) in &out {
                        if let Some(i) = s.find(m) {
                            s.remove_node(i);
                        }
                    }
                }
                out
            }
        }
    }

    /// Approximate heap bytes, for MEMORY USAGE.
    pub fn heap_size(&self) -> usize {
        match self {
            Zset::Listpack(l) => l.buf.capacity(),
            Zset::Skiplist(s) => std::mem::size_of::<Skiplist>() + s.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big() -> Limits {
        Limits {
            max_entries: 1 << 20,
            max_value: 1 << 20,
        }
    }

    fn members(z: &Zset) -> Vec<(String, f64)> {
        z.to_vec()
            .into_iter()
            .map(|(m, s)| (String::from_utf8_lossy(&m).into_owned(), s))
            .collect()
    }

    #[test]
    fn listpack_scores_round_trip() {
        let mut z = Zset::new();
        let scores = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9007199254740992.0,
            -9007199254740992.0,
            1e300,
            0.1,
            1.5,
            -2.25e-10,
            3.4e38,
            123456789.0,
            -64.0,
            63.0,
        ];
        for (i, &s) in scores.iter().enumerate() {
            z.insert(format!("m{i}").as_bytes(), s, big());
        }
        assert!(z.is_listpack());
        for (i, &s) in scores.iter().enumerate() {
            let got = z.score(format!("m{i}").as_bytes()).unwrap();
            assert_eq!(got, s, "score {s}");
        }
        let sorted: Vec<f64> = z.to_vec().iter().map(|p| p.1).collect();
        assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn converts_at_limits_and_never_back() {
        let limits = Limits {
            max_entries: 3,
            max_value: 4,
        };
        let mut z = Zset::new();
        for (m, s) in [("a", 1.0), ("b", 2.0), ("c", 3.0)] {
            assert!(z.insert(m.as_bytes(), s, limits));
        }
        assert!(!z.insert(b"a", 5.0, limits));
        assert_eq!(z.encoding_name(), "listpack");
        assert!(z.insert(b"d", 0.0, limits));
        assert_eq!(z.encoding_name(), "skiplist");
        assert_eq!(
            members(&z),
            vec![
                ("d".into(), 0.0),
                ("b".into(), 2.0),
                ("c".into(), 3.0),
                ("a".into(), 5.0)
            ]
        );
        z.remove(b"d");
        z.remove(b"c");
        assert_eq!(z.encoding_name(), "skiplist");
        let mut z = Zset::new();
        z.insert(b"long!", 1.0, limits);
        assert_eq!(z.encoding_name(), "skiplist");
        assert_eq!(Zset::for_first(5, limits).encoding_name(), "skiplist");
    }

    #[test]
    fn ranges_by_score_and_lex() {
        for limits in [
            big(),
            Limits::default(),
            Limits {
                max_entries: 0,
                max_value: 0,
            },
        ] {
            let mut z = Zset::for_first(1, limits);
            for (i, m) in ["a", "b", "c", "d", "e"].iter().enumerate() {
                z.insert(m.as_bytes(), i as f64, limits);
            }
            let r = ScoreRange {
                min: 1.0,
                min_ex: true,
                max: 3.0,
                max_ex: false,
            };
            assert_eq!(z.score_ranks(&r), (2, 4));
            let lex = LexRange {
                min: LexBound::Incl(Bytes::from("b")),
                max: LexBound::Excl(Bytes::from("d")),
            };
            let mut z0 = Zset::for_first(1, limits);
            for m in ["a", "b", "c", "d", "e"] {
                z0.insert(m.as_bytes(), 0.0, limits);
            }
            assert_eq!(z0.lex_ranks(&lex), (1, 3));
            assert_eq!(z.rank(b"c"), Some((2, 2.0)));
            let mut got = Vec::new();
            z.for_range(1, 4, true, |m, _| got.push(m.to_vec()));
            assert_eq!(got, vec![b"d".to_vec(), b"c".to_vec(), b"b".to_vec()]);
            let removed = z.remove_range(0, 2);
            assert_eq!(removed.len(), 2);
            assert_eq!(z.len(), 3);
            assert_eq!(z.nth(0).map(|p| p.0), Some(Bytes::from("c")));
        }
    }

    #[test]
    fn skiplist_compacts_after_mass_removal() {
        let limits = Limits {
            max_entries: 0,
            max_value: 0,
        };
        let mut z = Zset::for_first(0, limits);
        for i in 0..1000 {
            z.insert(format!("m{i:04}").as_bytes(), i as f64, limits);
        }
        z.remove_range(10, 990);
        for i in 0..5 {
            z.remove(format!("m{i:04}").as_bytes());
        }
        let Zset::Skiplist(s) = &z else {
            panic!("skiplist expected");
        };
        assert!(
            s.nodes.len() < 100,
            "arena not compacted: {}",
            s.nodes.len()
        );
        let got: Vec<f64> = z.to_vec().iter().map(|p| p.1).collect();
        let want: Vec<f64> = (5..10).chain(990..1000).map(|i| i as f64).collect();
        assert_eq!(got, want);
        assert_eq!(z.rank(b"m0995"), Some((10, 995.0)));
    }

    #[test]
    fn skiplist_matches_a_model_under_random_edits() {
        let mut rng = fastrand::Rng::with_seed(5);
        let limits = Limits {
            max_entries: 0,
            max_value: 0,
        };
        let mut z = Zset::for_first(0, limits);
        let mut model: std::collections::BTreeMap<String, f64> = Default::default();
        for step in 0..20000 {
            let m = format!("m{}", rng.u16(0..300));
            match rng.u8(0..4) {
                0 | 1 => {
                    let s = rng.i32(-50..50) as f64 / 2.0;
                    assert_eq!(
                        z.insert(m.as_bytes(), s, limits),
                        model.insert(m, s).is_none()
                    );
                }
                2 => assert_eq!(z.remove(m.as_bytes()), model.remove(&m)),
                _ => {
                    let lo = rng.usize(0..=z.len());
                    let hi = (lo + rng.usize(0..3)).min(z.len());
                    for (m, _) in z.remove_range(lo, hi) {
                        model.remove(&*String::from_utf8_lossy(&m));
                    }
                }
            }
            assert_eq!(z.len(), model.len());
            if step % 500 == 0 {
                let mut want: Vec<(String, f64)> =
                    model.iter().map(|(m, s)| (m.clone(), *s)).collect();
                want.sort_by(|a, b| cmp_entry(a.1, a.0.as_bytes(), b.1, b.0.as_bytes()));
                assert_eq!(members(&z), want);
                for (r, (m, s)) in want.iter().enumerate() {
                    assert_eq!(z.rank(m.as_bytes()), Some((r, *s)));
                    assert_eq!(z.nth(r).map(|p| p.0), Some(Bytes::from(m.clone())));
                }
                let mut rev = Vec::new();
                z.for_range(0, z.len(), true, |m, s| {
                    rev.push((String::from_utf8_lossy(m).into_owned(), s))
                });
                rev.reverse();
                assert_eq!(rev, want);
            }
        }
    }
}
