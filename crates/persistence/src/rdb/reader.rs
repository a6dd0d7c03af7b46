//! Reading values, DUMP payloads and whole RDB files.
//!
//! The reader works on a byte slice holding the whole file or payload. Every
//! length read from it is checked against the bytes that remain before
//! anything is allocated, and preallocation is capped, so a corrupt or
//! hostile file costs at most its own size in memory and ends in an
//! [`RdbError`] carrying the byte offset, never in a panic.
//!
//! Values are rebuilt with the encodings Redis 7.0 would choose on load: the
//! caller's `hash-max-listpack-*` and `set-max-intset-entries` decide whether
//! a hash stays a listpack and a set an intset.

use super::encoding::{self, Item};
use super::*;
use crate::{crc64, lzf};
use ferrocache_store::hash::Limits;
use ferrocache_store::list::{End, List, NodeLimit};
use ferrocache_store::{Hash, Set, Value};
use std::borrow::Cow;

/// What the loader needs from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub hash_limits: Limits,
    pub max_intset: usize,
    /// `zset-max-listpack-entries`/`-value`.
    pub zset_limits: ferrocache_store::zset::Limits,
    /// `list-max-listpack-size`, as a limit on the packed form of a list.
    pub list_limit: NodeLimit,
    /// `rdbchecksum`: verify the file's CRC-64 (a stored 0 is never
    /// verified: the writer had checksums off).
    pub verify_checksum: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            hash_limits: Limits::default(),
            max_intset: 512,
            zset_limits: ferrocache_store::zset::Limits::default(),
            list_limit: NodeLimit::default(),
            verify_checksum: true,
        }
    }
}

/// A decoded value.
#[derive(Debug, PartialEq)]
pub enum Loaded {
    Value(Value),
    /// A sorted set, as (member, score) pairs in file order; the caller
    /// builds it with [`zset_value`] under its configured limits.
    ZSet(Vec<(Vec<u8>, f64)>),
    /// A collection with no elements, which Redis skips on load.
    Empty,
}

/// Upper bound on elements preallocated from a declared count.
const PREALLOC_MAX: usize = 1 << 16;

pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn err(&self, reason: impl Into<String>) -> RdbError {
        RdbError {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn err_at(&self, offset: usize, reason: impl Into<String>) -> RdbError {
        RdbError {
            offset,
            reason: reason.into(),
        }
    }

    /// Preallocation for `n` declared elements of at least one byte each.
    fn cap(&self, n: u64) -> usize {
        (n.min(self.remaining() as u64) as usize).min(PREALLOC_MAX)
    }

    pub fn u8(&mut self) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.err("unexpected end of data"))?;
        self.pos += 1;
        Ok(b)
    }

    pub fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        if n > self.remaining() as u64 {
            return Err(self.err(format!(
                "length {n} exceeds the {} bytes that remain",
                self.remaining()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn u32_le(&mut self) -> Result<u32> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn u64_le(&mut self) -> Result<u64> {
        let s = self.take(8)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(s);
        Ok(u64::from_le_bytes(b))
    }

    /// A length, or (with `true`) the code of a special string encoding.
    fn length_or_enc(&mut self) -> Result<(u64, bool)> {
        let b = self.u8()?;
        match b >> 6 {
            LEN_6BIT => Ok(((b & 0x3F) as u64, false)),
            LEN_14BIT => Ok(((((b & 0x3F) as u64) << 8) | self.u8()? as u64, false)),
            LEN_ENCVAL => Ok(((b & 0x3F) as u64, true)),
            _ => match b {
                LEN_32BIT => {
                    let s = self.take(4)?;
                    Ok((u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as u64, false))
                }
                LEN_64BIT => {
                    let s = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(s);
                    Ok((u64::from_be_bytes(a), false))
                }
                _ => Err(self.err_at(self.pos - 1, format!("bad length encoding {b:#04x}"))),
            },
        }
    }

    pub fn length(&mut self) -> Result<u64> {
        let at = self.pos;
        match self.length_or_enc()? {
            (n, false) => Ok(n),
            (_, true) => Err(self.err_at(at, "string encoding where a length was expected")),
        }
    }

    pub fn string(&mut self) -> Result<Cow<'a, [u8]>> {
        let at = self.pos;
        let (n, enc) = self.length_or_enc()?;
        if !enc {
            return Ok(Cow::Borrowed(self.take(n)?));
        }
        let v: i64 = match n as u8 {
            ENC_INT8 => self.u8()? as i8 as i64,
            ENC_INT16 => {
                let s = self.take(2)?;
                i16::from_le_bytes([s[0], s[1]]) as i64
            }
            ENC_INT32 => {
                let s = self.take(4)?;
                i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as i64
            }
            ENC_LZF => {
                let clen = self.length()?;
                let len = self.length()?;
                let data = self.take(clen)?;
                let len = usize::try_from(len).map_err(|_| self.err_at(at, "LZF length"))?;
                return lzf::decompress(data, len)
                    .map(Cow::Owned)
                    .map_err(|e| self.err_at(at, e));
            }
            other => return Err(self.err_at(at, format!("unknown string encoding {other}"))),
        };
        Ok(Cow::Owned(v.to_string().into_bytes()))
    }

    /// A score in the old textual form of `ZSET` (type 3).
    fn text_double(&mut self) -> Result<f64> {
        let at = self.pos;
        match self.u8()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let s = self.take(n as u64)?;
                std::str::from_utf8(s)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| self.err_at(at, "bad score"))
            }
        }
    }

    fn binary_double(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64_le()?))
    }

    /// Reads the value of type `ty` at the current position.
    pub fn object(&mut self, ty: u8, opts: &Options) -> Result<Loaded> {
        let start = self.pos;
        let blob_err = |r: &Reader, e: &str| r.err_at(start, format!("{e} (type {ty})"));
        let value = match ty {
            TYPE_STRING => Some(Value::string(&self.string()?)),
            TYPE_LIST => {
                let n = self.length()?;
                let mut l = List::new();
                for _ in 0..n {
                    l.push(End::Right, &self.string()?, opts.list_limit);
                }
                list_value(l)
            }
            TYPE_LIST_ZIPLIST => {
                let blob = self.string()?;
                let items = encoding::ziplist_items(&blob).map_err(|e| blob_err(self, e))?;
                let mut l = List::new();
                for it in items {
                    l.push(End::Right, &it.to_vec(), opts.list_limit);
                }
                list_value(l)
            }
            TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                let nodes = self.length()?;
                let mut l = List::new();
                for _ in 0..nodes {
                    let container = if ty == TYPE_LIST_QUICKLIST_2 {
                        self.length()?
                    } else {
                        QUICKLIST_NODE_PACKED
                    };
                    let node_at = self.pos;
                    let blob = self.string()?;
                    match container {
                        QUICKLIST_NODE_PLAIN => l.push(End::Right, &blob, opts.list_limit),
                        QUICKLIST_NODE_PACKED => {
                            let items = if ty == TYPE_LIST_QUICKLIST_2 {
                                encoding::listpack_items(&blob)
                            } else {
                                encoding::ziplist_items(&blob)
                            }
                            .map_err(|e| self.err_at(node_at, format!("quicklist node: {e}")))?;
                            for it in items {
                                l.push(End::Right, &it.to_vec(), opts.list_limit);
                            }
                        }
                        c => {
                            return Err(self.err_at(node_at, format!("bad quicklist container {c}")))
                        }
                    }
                }
                list_value(l)
            }
            TYPE_SET => {
                let n = self.length()?;
                let mut s = Set::new();
                // A set too big for an intset skips it, as Redis does.
                let max = if n as usize > opts.max_intset {
                    0
                } else {
                    opts.max_intset
                };
                for _ in 0..n {
                    let at = self.pos;
                    let m = self.string()?;
                    if !s.add(&m, max) {
                        return Err(self.err_at(at, "duplicate set member"));
                    }
                }
                set_value(s)
            }
            TYPE_SET_INTSET => {
                let blob = self.string()?;
                let members = encoding::intset_members(&blob).map_err(|e| blob_err(self, e))?;
                // Binary search depends on the order: a file may not break it.
                if members.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(blob_err(self, "intset members out of order"));
                }
                let s = if members.len() <= opts.max_intset {
                    Set::from_ints(&members)
                } else {
                    let mut s = Set::new();
                    for m in members {
                        s.add(m.to_string().as_bytes(), 0);
                    }
                    s
                };
                set_value(s)
            }
            TYPE_HASH => {
                let n = self.length()?;
                let mut h = Hash::new();
                if n as usize > opts.hash_limits.max_entries {
                    h.convert_to_table();
                }
                for _ in 0..n {
                    let at = self.pos;
                    let f = self.string()?;
                    let v = self.string()?;
                    if !h.set(&f, &v, opts.hash_limits) {
                        return Err(self.err_at(at, "duplicate hash field"));
                    }
                }
                hash_value(h)
            }
            TYPE_HASH_ZIPMAP => {
                let blob = self.string()?;
                let pairs = encoding::zipmap_pairs(&blob).map_err(|e| blob_err(self, e))?;
                let mut h = Hash::new();
                for (f, v) in pairs {
                    if !h.set(f, v, opts.hash_limits) {
                        return Err(blob_err(self, "duplicate hash field"));
                    }
                }
                hash_value(h)
            }
            TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
                let blob = self.string()?;
                let items = if ty == TYPE_HASH_LISTPACK {
                    encoding::listpack_items(&blob)
                } else {
                    encoding::ziplist_items(&blob)
                }
                .map_err(|e| blob_err(self, e))?;
                if items.len() % 2 != 0 {
                    return Err(blob_err(self, "odd number of hash elements"));
                }
                let mut h = Hash::new();
                for pair in items.chunks_exact(2) {
                    if !h.set(&pair[0].to_vec(), &pair[1].to_vec(), opts.hash_limits) {
                        return Err(blob_err(self, "duplicate hash field"));
                    }
                }
                hash_value(h)
            }
            TYPE_ZSET | TYPE_ZSET_2 => {
                let n = self.length()?;
                let mut pairs = Vec::with_capacity(self.cap(n));
                for _ in 0..n {
                    let m = self.string()?.into_owned();
                    let score = if ty == TYPE_ZSET_2 {
                        self.binary_double()?
                    } else {
                        self.text_double()?
                    };
                    if score.is_nan() {
                        return Err(self.err("NaN score"));
                    }
                    pairs.push((m, score));
                }
                return Ok(zset(pairs));
            }
            TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
                let blob = self.string()?;
                let items = if ty == TYPE_ZSET_LISTPACK {
                    encoding::listpack_items(&blob)
                } else {
                    encoding::ziplist_items(&blob)
                }
                .map_err(|e| blob_err(self, e))?;
                if items.len() % 2 != 0 {
                    return Err(blob_err(self, "odd number of sorted set elements"));
                }
                let mut pairs = Vec::with_capacity(items.len() / 2);
                for pair in items.chunks_exact(2) {
                    let score = Item::to_f64(pair[1])
                        .filter(|s| !s.is_nan())
                        .ok_or_else(|| blob_err(self, "bad score"))?;
                    pairs.push((pair[0].to_vec(), score));
                }
                return Ok(zset(pairs));
            }
            TYPE_MODULE_PRE_GA | TYPE_MODULE_2 => {
                return Err(self.err_at(start, "module values are not supported"))
            }
            TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => {
                return Err(self.err_at(start, "stream values are not supported"))
            }
            other => return Err(self.err_at(start, format!("unknown value type {other}"))),
        };
        Ok(value.map_or(Loaded::Empty, Loaded::Value))
    }
}

fn list_value(l: List) -> Option<Value> {
    (!l.is_empty()).then(|| Value::List(Box::new(l)))
}

fn set_value(s: Set) -> Option<Value> {
    (!s.is_empty()).then(|| Value::Set(s))
}

fn hash_value(h: Hash) -> Option<Value> {
    (!h.is_empty()).then_some(Value::Hash(h))
}

fn zset(pairs: Vec<(Vec<u8>, f64)>) -> Loaded {
    if pairs.is_empty() {
        Loaded::Empty
    } else {
        Loaded::ZSet(pairs)
    }
}

/// Builds the sorted set a file or payload described; `None` if a member
/// repeats.
pub fn zset_value(
    pairs: Vec<(Vec<u8>, f64)>,
    limits: ferrocache_store::zset::Limits,
) -> Option<Value> {
    let first = pairs.first().map_or(0, |(m, _)| m.len());
    let mut z = ferrocache_store::Zset::for_first(first, limits);
    for (m, s) in &pairs {
        if !z.insert(m, *s, limits) {
            return None;
        }
    }
    Some(Value::ZSet(z))
}

/// Checks a DUMP payload's version and checksum and decodes its value.
/// `None` when the footer is wrong (RESTORE's "payload version or checksum
/// are wrong"), `Some(Err)` when the body is malformed.
pub fn parse_dump_payload(payload: &[u8], opts: &Options) -> Option<Result<Loaded>> {
    if payload.len() < 10 {
        return None;
    }
    let body_end = payload.len() - 10;
    let version = u16::from_le_bytes([payload[body_end], payload[body_end + 1]]);
    if version > RDB_VERSION {
        return None;
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&payload[payload.len() - 8..]);
    if crc64::crc64(&payload[..payload.len() - 8]) != u64::from_le_bytes(crc) {
        return None;
    }
    let mut r = Reader::new(&payload[..body_end]);
    Some((|| {
        let ty = r.u8()?;
        let v = r.object(ty, opts)?;
        if r.remaining() != 0 {
            return Err(r.err("trailing bytes after the value"));
        }
        Ok(v)
    })())
}

/// What [`read_file`] hands its sink, in file order.
#[derive(Debug)]
pub enum Event<'a> {
    /// A RESIZEDB opcode: how many keys (and keys with an expiry) the
    /// database the next records go to holds, so tables can be sized once.
    Resize {
        db: usize,
        keys: u64,
        expires: u64,
    },
    Record(Record<'a>),
}

/// One key read from a file.
#[derive(Debug)]
pub struct Record<'a> {
    pub db: usize,
    pub key: Cow<'a, [u8]>,
    pub value: Loaded,
    pub expire_at: Option<u64>,
    /// OBJECT IDLETIME in seconds, when the file carries it.
    pub idle_secs: Option<u64>,
    /// The LFU counter, when the file carries it.
    pub freq: Option<u8>,
    /// Offset just past this record (loading progress).
    pub end: usize,
}

/// What a file says about itself.
#[derive(Debug, Default)]
pub struct FileInfo {
    pub version: u16,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Function libraries (FUNCTION LOAD), which Ferrocache does not have
    /// and skips.
    pub functions_skipped: usize,
    /// Offset just past the file's checksum (what follows, if anything, is
    /// not RDB: an AOF tail after an RDB preamble).
    pub end: usize,
}

/// Parses a whole file, handing each key to `sink`. An error from the sink
/// (a duplicate key, a database out of range) stops the load with that
/// reason at the key's offset.
pub fn read_file<'a>(
    buf: &'a [u8],
    opts: &Options,
    sink: impl FnMut(Event<'a>) -> std::result::Result<(), String>,
) -> Result<FileInfo> {
    if !opts.verify_checksum || buf.len() < PARALLEL_CRC_MIN {
        return parse_file(buf, opts, sink, |_| None);
    }
    // A large file's checksum is computed on another core while it is
    // parsed. It covers everything before the last 8 bytes of a file that
    // ends at its checksum, as files do; any other end is checked after.
    let guess = buf.len() - 8;
    std::thread::scope(|scope| {
        let crc = scope.spawn(|| crc64::crc64(&buf[..guess]));
        parse_file(buf, opts, sink, |end| {
            if end == guess {
                crc.join().ok()
            } else {
                None
            }
        })
    })
}

/// Files at least this large get their checksum computed in parallel.
const PARALLEL_CRC_MIN: usize = 1 << 20;

/// [`read_file`]'s parser; `precomputed` may give the checksum of the bytes
/// before a given offset.
fn parse_file<'a>(
    buf: &'a [u8],
    opts: &Options,
    mut sink: impl FnMut(Event<'a>) -> std::result::Result<(), String>,
    precomputed: impl FnOnce(usize) -> Option<u64>,
) -> Result<FileInfo> {
    let mut r = Reader::new(buf);
    let magic = r
        .take(9)
        .map_err(|_| r.err_at(0, "file too short for the RDB header"))?;
    if &magic[..5] != b"REDIS" {
        return Err(r.err_at(0, "wrong signature trying to load DB from file"));
    }
    let version = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|v| v.parse::<u16>().ok())
        .filter(|v| (1..=RDB_VERSION).contains(v))
        .ok_or_else(|| r.err_at(5, "can't handle RDB format version"))?;
    let mut info = FileInfo {
        version,
        ..FileInfo::default()
    };
    let mut db = 0usize;
    let mut expire_at = None;
    let mut idle_secs = None;
    let mut freq = None;
    loop {
        let op_at = r.pos();
        let op = r.u8()?;
        match op {
            OP_EXPIRETIME_MS => expire_at = Some(r.u64_le()?),
            OP_EXPIRETIME => expire_at = Some(r.u32_le()? as u64 * 1000),
            OP_IDLE => idle_secs = Some(r.length()?),
            OP_FREQ => freq = Some(r.u8()?),
            OP_SELECTDB => {
                db = usize::try_from(r.length()?).map_err(|_| r.err_at(op_at, "bad db"))?;
            }
            OP_RESIZEDB => {
                let keys = r.length()?;
                let expires = r.length()?;
                sink(Event::Resize { db, keys, expires }).map_err(|e| r.err_at(op_at, e))?;
            }
            OP_AUX => {
                let k = r.string()?.into_owned();
                let v = r.string()?.into_owned();
                info.aux.push((k, v));
            }
            OP_MODULE_AUX => return Err(r.err_at(op_at, "module data is not supported")),
            OP_FUNCTION2 => {
                r.string()?;
                info.functions_skipped += 1;
            }
            OP_FUNCTION_PRE_GA => {
                return Err(r.err_at(op_at, "pre-release function format is not supported"))
            }
            OP_EOF => break,
            ty => {
                let key = r.string()?;
                let value = r.object(ty, opts)?;
                let rec = Record {
                    db,
                    key,
                    value,
                    expire_at: expire_at.take(),
                    idle_secs: idle_secs.take(),
                    freq: freq.take(),
                    end: r.pos(),
                };
                sink(Event::Record(rec)).map_err(|e| r.err_at(op_at, e))?;
            }
        }
    }
    let body_end = r.pos();
    if version >= 5 {
        let stored = r
            .u64_le()
            .map_err(|_| r.err_at(body_end, "checksum missing after EOF"))?;
        if opts.verify_checksum && stored != 0 {
            let computed = precomputed(body_end).unwrap_or_else(|| crc64::crc64(&buf[..body_end]));
            if computed != stored {
                return Err(r.err_at(
                    body_end,
                    format!("wrong RDB checksum expected: ({stored:x}) got: ({computed:x})"),
                ));
            }
        }
    }
    info.end = r.pos();
    Ok(info)
}
