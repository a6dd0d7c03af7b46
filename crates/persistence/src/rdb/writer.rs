//! Serialising values, DUMP payloads and whole RDB files.
//!
//! The writer emits what Redis 7.0 emits for each encoding, so a file or
//! payload we write loads in Redis with the same encodings:
//!
//! | value                         | type byte              |
//! |-------------------------------|------------------------|
//! | string                        | `STRING`               |
//! | list                          | `LIST_QUICKLIST_2`, nodes of listpacks up to 8 KB |
//! | set, intset encoded           | `SET_INTSET`           |
//! | set, hashtable encoded        | `SET`                  |
//! | hash, listpack encoded        | `HASH_LISTPACK`        |
//! | hash, hashtable encoded       | `HASH`                 |
//!
//! Strings are written as Redis's `rdbSaveRawString` does: an integer of at
//! most 11 characters that fits 32 bits as a 1, 2 or 4-byte integer, a
//! string longer than 20 bytes LZF-compressed when `rdbcompression` is on
//! and compression saves at least 4 bytes, otherwise raw.

use super::encoding::{intset_encode, ListpackWriter};
use super::*;
use crate::{crc64, lzf};
use ferrocache_store::value::parse_int_exact;
use ferrocache_store::{Hash, StrRef, ValueRef};
use std::io::{self, Write};

/// Largest listpack of a quicklist node, Redis's `list-max-listpack-size`
/// default of -2.
const QUICKLIST_NODE_BYTES: usize = 8192;

/// Serialises into a growable buffer.
pub struct Enc {
    pub buf: Vec<u8>,
    compression: bool,
}

impl Enc {
    pub fn new(compression: bool) -> Enc {
        Enc {
            buf: Vec::new(),
            compression,
        }
    }

    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    pub fn len(&mut self, n: u64) {
        if n < 1 << 6 {
            self.buf.push(n as u8);
        } else if n < 1 << 14 {
            self.buf.push((LEN_14BIT << 6) | (n >> 8) as u8);
            self.buf.push((n & 0xFF) as u8);
        } else if n <= u32::MAX as u64 {
            self.buf.push(LEN_32BIT);
            self.buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.buf.push(LEN_64BIT);
            self.buf.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// An integer in the special string encodings, if it fits 32 bits.
    fn try_int(&mut self, v: i64) -> bool {
        let special = LEN_ENCVAL << 6;
        if (i8::MIN as i64..=i8::MAX as i64).contains(&v) {
            self.buf.push(special | ENC_INT8);
            self.buf.push(v as i8 as u8);
        } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
            self.buf.push(special | ENC_INT16);
            self.buf.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            self.buf.push(special | ENC_INT32);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            return false;
        }
        true
    }

    pub fn string(&mut self, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(v) = parse_int_exact(s) {
                if self.try_int(v) {
                    return;
                }
            }
        }
        if self.compression && s.len() > 20 {
            if let Some(c) = lzf::compress(s, s.len() - 4) {
                self.buf.push((LEN_ENCVAL << 6) | ENC_LZF);
                self.len(c.len() as u64);
                self.len(s.len() as u64);
                self.buf.extend_from_slice(&c);
                return;
            }
        }
        self.len(s.len() as u64);
        self.buf.extend_from_slice(s);
    }

    pub fn int_string(&mut self, v: i64) {
        if !self.try_int(v) {
            let mut b = [0u8; 20];
            let s = ferrocache_store::value::fmt_int(v, &mut b);
            self.len(s.len() as u64);
            self.buf.extend_from_slice(s);
        }
    }

    /// The type byte that introduces `v`.
    pub fn type_of(v: ValueRef<'_>) -> u8 {
        match v {
            ValueRef::Str(_) => TYPE_STRING,
            ValueRef::List(_) => TYPE_LIST_QUICKLIST_2,
            ValueRef::Set(s) if s.is_intset() => TYPE_SET_INTSET,
            ValueRef::Set(_) => TYPE_SET,
            ValueRef::Hash(h) if h.is_listpack() => TYPE_HASH_LISTPACK,
            ValueRef::Hash(_) => TYPE_HASH,
            // A listpack of member, score pairs in score order while small;
            // else a count, then member and 8-byte little-endian score,
            // highest score first as Redis writes it.
            ValueRef::ZSet(z) if z.is_listpack() => TYPE_ZSET_LISTPACK,
            ValueRef::ZSet(_) => TYPE_ZSET_2,
        }
    }

    /// The value body (without its type byte).
    pub fn value(&mut self, v: ValueRef<'_>) {
        match v {
            ValueRef::Str(StrRef::Int(n)) => self.int_string(n),
            ValueRef::Str(StrRef::Bytes { data, .. }) => self.string(data),
            ValueRef::List(l) => {
                // Nodes are counted after they are built, so they go to a
                // side buffer first.
                let mut nodes: Vec<Vec<u8>> = Vec::new();
                let mut lp = ListpackWriter::new();
                for item in l.iter() {
                    if !lp.is_empty() && lp.len() + item.len() + 11 > QUICKLIST_NODE_BYTES {
                        nodes.push(std::mem::replace(&mut lp, ListpackWriter::new()).finish());
                    }
                    lp.push(item);
                }
                if !lp.is_empty() {
                    nodes.push(lp.finish());
                }
                self.len(nodes.len() as u64);
                for n in nodes {
                    self.len(QUICKLIST_NODE_PACKED);
                    self.string(&n);
                }
            }
            ValueRef::Set(s) => match s.ints() {
                Some(v) => self.string(&intset_encode(&v)),
                None => {
                    self.len(s.len() as u64);
                    s.for_each(|m| self.string(m));
                }
            },
            ValueRef::Hash(h) => match h {
                Hash::Listpack(_) => {
                    let mut lp = ListpackWriter::new();
                    for (f, v) in h.iter() {
                        lp.push(f);
                        lp.push(v);
                    }
                    self.string(&lp.finish());
                }
                Hash::Table(_) => {
                    self.len(h.len() as u64);
                    for (f, v) in h.iter() {
                        self.string(f);
                        self.string(v);
                    }
                }
            },
            ValueRef::ZSet(z) => {
                let items = z.to_vec();
                if z.is_listpack() {
                    let mut lp = ListpackWriter::new();
                    for (m, s) in &items {
                        lp.push(m);
                        lp.push(score_text(*s).as_bytes());
                    }
                    self.string(&lp.finish());
                } else {
                    self.len(items.len() as u64);
                    for (m, s) in items.iter().rev() {
                        self.string(m);
                        self.buf.extend_from_slice(&s.to_le_bytes());
                    }
                }
            }
        }
    }
}

/// A score as a listpack holds it: an integer when it is one (the listpack
/// then stores it as an integer), else the shortest text that reads back to
/// the same double.
fn score_text(s: f64) -> String {
    if s.is_infinite() {
        return if s > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if s == s.trunc() && s.abs() < 1e17 {
        return format!("{}", s as i64);
    }
    format!("{s:e}")
}

/// DUMP's payload: type byte, value, the format version (2 bytes, little
/// endian) and a CRC-64 of all that (8 bytes, little endian).
pub fn dump_payload(v: ValueRef<'_>, compression: bool) -> Vec<u8> {
    let mut e = Enc::new(compression);
    e.byte(Enc::type_of(v));
    e.value(v);
    e.buf.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(&e.buf);
    e.buf.extend_from_slice(&crc.to_le_bytes());
    e.buf
}

/// Writes a whole file in order: [`FileWriter::new`] (magic), aux fields,
/// then for each database [`FileWriter::select_db`] and its keys, then
/// [`FileWriter::finish`].
pub struct FileWriter<W: Write> {
    out: W,
    enc: Enc,
    crc: u64,
    written: u64,
}

/// Buffered bytes before they are checksummed and handed to the output.
const FLUSH_AT: usize = 64 * 1024;

impl<W: Write> FileWriter<W> {
    pub fn new(out: W, compression: bool) -> io::Result<FileWriter<W>> {
        let mut w = FileWriter {
            out,
            enc: Enc::new(compression),
            crc: 0,
            written: 0,
        };
        w.enc
            .buf
            .extend_from_slice(format!("REDIS{:04}", RDB_VERSION).as_bytes());
        Ok(w)
    }

    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.enc.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        self.crc = crc64::update(self.crc, &self.enc.buf);
        self.out.write_all(&self.enc.buf)?;
        self.written += self.enc.buf.len() as u64;
        self.enc.buf.clear();
        Ok(())
    }

    pub fn aux(&mut self, key: &str, value: &[u8]) -> io::Result<()> {
        self.enc.byte(OP_AUX);
        self.enc.string(key.as_bytes());
        self.enc.string(value);
        self.maybe_flush()
    }

    pub fn select_db(&mut self, db: usize, keys: usize, expires: usize) -> io::Result<()> {
        self.enc.byte(OP_SELECTDB);
        self.enc.len(db as u64);
        self.enc.byte(OP_RESIZEDB);
        self.enc.len(keys as u64);
        self.enc.len(expires as u64);
        self.maybe_flush()
    }

    pub fn entry(
        &mut self,
        key: &[u8],
        value: ValueRef<'_>,
        expire_at: Option<u64>,
    ) -> io::Result<()> {
        if let Some(at) = expire_at {
            self.enc.byte(OP_EXPIRETIME_MS);
            self.enc.buf.extend_from_slice(&at.to_le_bytes());
        }
        self.enc.byte(Enc::type_of(value));
        self.enc.string(key);
        self.enc.value(value);
        self.maybe_flush()
    }

    /// Bytes handed to the output so far.
    pub fn written(&self) -> u64 {
        self.written + self.enc.buf.len() as u64
    }

    /// Writes EOF and the checksum (zero when `checksum` is off, which
    /// readers take as "not computed") and returns the output.
    pub fn finish(mut self, checksum: bool) -> io::Result<W> {
        self.enc.byte(OP_EOF);
        self.flush_buf()?;
        let crc = if checksum { self.crc } else { 0 };
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}
