//! The packed blobs Redis stores inside RDB string values.
//!
//! * listpack (Redis 7): `u32` total bytes, `u16` element count (65535:
//!   unknown), entries, `0xFF`. An entry is an encoding byte (with the length
//!   or a small integer folded in), its data, and a "backlen" of one to five
//!   bytes giving the entry's size so the list can be walked backwards.
//! * ziplist (Redis 3.2 to 6.2): `u32` total bytes, `u32` offset of the
//!   last entry, `u16` count, entries, `0xFF`. An entry is the previous
//!   entry's length (one byte, or `0xFE` and a `u32`), an encoding header and
//!   its data.
//! * intset: `u32` width in bytes (2, 4 or 8), `u32` count, then the sorted
//!   integers, little endian.
//! * zipmap (before Redis 2.6): a count byte, then key and value strings,
//!   each value followed by a byte of padding to skip, ending in `0xFF`.
//!
//! Every decoder checks each length against the blob before it reads, so a
//! corrupt blob is an error and never a panic; counts read from a blob only
//! bound preallocation by what the blob could hold.

use ferrocache_store::value::{fmt_int, parse_int_exact};

pub type DecodeResult<T> = std::result::Result<T, &'static str>;

/// One element of a listpack or ziplist: a string, or an integer stored as
/// such.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Item<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Item<'_> {
    /// The element's bytes (an integer in decimal).
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Item::Str(s) => s.to_vec(),
            Item::Int(n) => {
                let mut buf = [0u8; 20];
                fmt_int(n, &mut buf).to_vec()
            }
        }
    }

    /// The element as a score (a string must parse as a float).
    pub fn to_f64(self) -> Option<f64> {
        match self {
            Item::Int(n) => Some(n as f64),
            Item::Str(s) => std::str::from_utf8(s).ok()?.parse().ok(),
        }
    }
}

fn u16_le(b: &[u8], at: usize) -> DecodeResult<u16> {
    let s = b.get(at..at + 2).ok_or("truncated header")?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_le(b: &[u8], at: usize) -> DecodeResult<u32> {
    let s = b.get(at..at + 4).ok_or("truncated header")?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn int_le(b: &[u8]) -> i64 {
    let mut v = [0u8; 8];
    v[..b.len()].copy_from_slice(b);
    let raw = i64::from_le_bytes(v);
    // Sign-extend from the width actually stored.
    let shift = 64 - 8 * b.len() as u32;
    (raw << shift) >> shift
}

// ---------------------------------------------------------------------------
// listpack

/// Size of the backlen that follows an entry of `len` bytes.
fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

fn put_backlen(buf: &mut Vec<u8>, len: usize) {
    match backlen_size(len) {
        1 => buf.push(len as u8),
        2 => buf.extend_from_slice(&[(len >> 7) as u8, (len & 127) as u8 | 128]),
        3 => buf.extend_from_slice(&[
            (len >> 14) as u8,
            ((len >> 7) & 127) as u8 | 128,
            (len & 127) as u8 | 128,
        ]),
        4 => buf.extend_from_slice(&[
            (len >> 21) as u8,
            ((len >> 14) & 127) as u8 | 128,
            ((len >> 7) & 127) as u8 | 128,
            (len & 127) as u8 | 128,
        ]),
        _ => buf.extend_from_slice(&[
            (len >> 28) as u8,
            ((len >> 21) & 127) as u8 | 128,
            ((len >> 14) & 127) as u8 | 128,
            ((len >> 7) & 127) as u8 | 128,
            (len & 127) as u8 | 128,
        ]),
    }
}

/// Reads a backlen stored at `at` (forwards); returns the value.
fn read_backlen(b: &[u8], at: usize, size: usize) -> DecodeResult<usize> {
    let s = b.get(at..at + size).ok_or("truncated listpack backlen")?;
    let mut v = 0usize;
    for (i, &byte) in s.iter().enumerate() {
        // Every byte but the first carries the continuation bit.
        if (i > 0) != (byte & 128 != 0) {
            return Err("bad listpack backlen");
        }
        v = (v << 7) | (byte & 127) as usize;
    }
    Ok(v)
}

/// Decodes a listpack into its elements.
pub fn listpack_items(b: &[u8]) -> DecodeResult<Vec<Item<'_>>> {
    if b.len() < 7 {
        return Err("listpack too short");
    }
    if u32_le(b, 0)? as usize != b.len() {
        return Err("listpack total bytes mismatch");
    }
    let declared = u16_le(b, 4)?;
    if b[b.len() - 1] != 0xFF {
        return Err("listpack without terminator");
    }
    let mut items = Vec::with_capacity((declared as usize).min(b.len() / 2));
    let mut p = 6;
    loop {
        let &enc = b.get(p).ok_or("listpack entry past the end")?;
        if enc == 0xFF {
            if p != b.len() - 1 {
                return Err("listpack terminator before the end");
            }
            break;
        }
        let (item, hdr, data) = match enc {
            0x00..=0x7F => (Item::Int(enc as i64), 1, 0),
            0x80..=0xBF => {
                let n = (enc & 0x3F) as usize;
                (
                    Item::Str(b.get(p + 1..p + 1 + n).ok_or("truncated listpack string")?),
                    1,
                    n,
                )
            }
            0xC0..=0xDF => {
                let lo = *b.get(p + 1).ok_or("truncated listpack int")? as i64;
                let v = (((enc & 0x1F) as i64) << 8) | lo;
                // 13-bit two's complement.
                let v = if v >= 1 << 12 { v - (1 << 13) } else { v };
                (Item::Int(v), 2, 0)
            }
            0xE0..=0xEF => {
                let lo = *b.get(p + 1).ok_or("truncated listpack string")? as usize;
                let n = (((enc & 0x0F) as usize) << 8) | lo;
                (
                    Item::Str(b.get(p + 2..p + 2 + n).ok_or("truncated listpack string")?),
                    2,
                    n,
                )
            }
            0xF0 => {
                let n = u32_le(b, p + 1)? as usize;
                let end = (p + 5).checked_add(n).ok_or("listpack string too long")?;
                (
                    Item::Str(b.get(p + 5..end).ok_or("truncated listpack string")?),
                    5,
                    n,
                )
            }
            0xF1..=0xF4 => {
                let w = match enc {
                    0xF1 => 2,
                    0xF2 => 3,
                    0xF3 => 4,
                    _ => 8,
                };
                let s = b.get(p + 1..p + 1 + w).ok_or("truncated listpack int")?;
                (Item::Int(int_le(s)), 1, w)
            }
            _ => return Err("bad listpack encoding"),
        };
        let entry_len = hdr + data;
        let bl = backlen_size(entry_len);
        if read_backlen(b, p + entry_len, bl)? != entry_len {
            return Err("listpack backlen mismatch");
        }
        p += entry_len + bl;
        items.push(item);
    }
    if declared != u16::MAX && declared as usize != items.len() {
        return Err("listpack count mismatch");
    }
    Ok(items)
}

/// Builds a listpack the way Redis 7.0 does: strings that are integers in
/// Redis's strict syntax are stored as integers.
#[derive(Default)]
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl ListpackWriter {
    pub fn new() -> ListpackWriter {
        ListpackWriter {
            buf: vec![0; 6],
            count: 0,
        }
    }

    /// Bytes the finished listpack would take.
    pub fn len(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn push(&mut self, s: &[u8]) {
        let start = self.buf.len();
        match parse_int_exact(s) {
            Some(v) => self.put_int(v),
            None => self.put_str(s),
        }
        let len = self.buf.len() - start;
        put_backlen(&mut self.buf, len);
        self.count += 1;
    }

    fn put_int(&mut self, v: i64) {
        let b = &mut self.buf;
        if (0..=127).contains(&v) {
            b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1FFF;
            b.push(0xC0 | (u >> 8) as u8);
            b.push((u & 0xFF) as u8);
        } else if (-32768..=32767).contains(&v) {
            b.push(0xF1);
            b.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            b.push(0xF2);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            b.push(0xF3);
            b.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            b.push(0xF4);
            b.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn put_str(&mut self, s: &[u8]) {
        let b = &mut self.buf;
        let n = s.len();
        if n < 64 {
            b.push(0x80 | n as u8);
        } else if n < 4096 {
            b.push(0xE0 | (n >> 8) as u8);
            b.push((n & 0xFF) as u8);
        } else {
            b.push(0xF0);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(u16::MAX as usize) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

// ---------------------------------------------------------------------------
// ziplist

/// Decodes a ziplist into its elements.
pub fn ziplist_items(b: &[u8]) -> DecodeResult<Vec<Item<'_>>> {
    if b.len() < 11 {
        return Err("ziplist too short");
    }
    if u32_le(b, 0)? as usize != b.len() {
        return Err("ziplist total bytes mismatch");
    }
    let tail = u32_le(b, 4)? as usize;
    if tail >= b.len() {
        return Err("ziplist tail offset out of range");
    }
    let declared = u16_le(b, 8)?;
    if b[b.len() - 1] != 0xFF {
        return Err("ziplist without terminator");
    }
    let mut items = Vec::with_capacity((declared as usize).min(b.len() / 2));
    let mut p = 10;
    let mut prev_len = 0usize;
    loop {
        let &first = b.get(p).ok_or("ziplist entry past the end")?;
        if first == 0xFF {
            if p != b.len() - 1 {
                return Err("ziplist terminator before the end");
            }
            break;
        }
        let start = p;
        let stored_prev = if first < 0xFE {
            p += 1;
            first as usize
        } else if first == 0xFE {
            let v = u32_le(b, p + 1)? as usize;
            p += 5;
            v
        } else {
            return Err("bad ziplist prevlen");
        };
        if stored_prev != prev_len {
            return Err("ziplist prevlen mismatch");
        }
        let &enc = b.get(p).ok_or("truncated ziplist entry")?;
        let (item, hdr, data) = match enc >> 6 {
            0 => {
                let n = (enc & 0x3F) as usize;
                (
                    Item::Str(b.get(p + 1..p + 1 + n).ok_or("truncated ziplist string")?),
                    1,
                    n,
                )
            }
            1 => {
                let lo = *b.get(p + 1).ok_or("truncated ziplist string")? as usize;
                let n = (((enc & 0x3F) as usize) << 8) | lo;
                (
                    Item::Str(b.get(p + 2..p + 2 + n).ok_or("truncated ziplist string")?),
                    2,
                    n,
                )
            }
            2 => {
                let s = b.get(p + 1..p + 5).ok_or("truncated ziplist string")?;
                let n = u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
                let end = (p + 5).checked_add(n).ok_or("ziplist string too long")?;
                (
                    Item::Str(b.get(p + 5..end).ok_or("truncated ziplist string")?),
                    5,
                    n,
                )
            }
            _ => {
                let w = match enc {
                    0xC0 => 2,
                    0xD0 => 4,
                    0xE0 => 8,
                    0xF0 => 3,
                    0xFE => 1,
                    0xF1..=0xFD => 0,
                    _ => return Err("bad ziplist encoding"),
                };
                if w == 0 {
                    (Item::Int((enc & 0x0F) as i64 - 1), 1, 0)
                } else {
                    let s = b.get(p + 1..p + 1 + w).ok_or("truncated ziplist int")?;
                    (Item::Int(int_le(s)), 1, w)
                }
            }
        };
        p += hdr + data;
        prev_len = p - start;
        items.push(item);
    }
    if declared != u16::MAX && declared as usize != items.len() {
        return Err("ziplist count mismatch");
    }
    Ok(items)
}

// ---------------------------------------------------------------------------
// intset

/// Decodes an intset; its members must be strictly ascending.
pub fn intset_members(b: &[u8]) -> DecodeResult<Vec<i64>> {
    let width = u32_le(b, 0)? as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err("bad intset encoding");
    }
    let count = u32_le(b, 4)? as usize;
    if count.checked_mul(width).and_then(|n| n.checked_add(8)) != Some(b.len()) {
        return Err("intset length mismatch");
    }
    let mut out = Vec::with_capacity(count);
    for c in b[8..].chunks_exact(width) {
        let v = int_le(c);
        if out.last().is_some_and(|&last| last >= v) {
            return Err("intset not sorted or with duplicates");
        }
        out.push(v);
    }
    Ok(out)
}

/// Encodes sorted integers as an intset of the narrowest width.
pub fn intset_encode(members: &[i64]) -> Vec<u8> {
    let width: usize = if members
        .iter()
        .all(|&v| (i16::MIN as i64..=i16::MAX as i64).contains(&v))
    {
        2
    } else if members
        .iter()
        .all(|&v| (i32::MIN as i64..=i32::MAX as i64).contains(&v))
    {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + members.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for &v in members {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

// ---------------------------------------------------------------------------
// zipmap

/// Decodes a zipmap into field/value pairs.
pub fn zipmap_pairs(b: &[u8]) -> DecodeResult<Vec<(&[u8], &[u8])>> {
    if b.is_empty() {
        return Err("zipmap too short");
    }
    let mut p = 1;
    let mut out = Vec::with_capacity((b[0] as usize).min(b.len() / 2));
    let read_len = |p: &mut usize| -> DecodeResult<Option<usize>> {
        let &first = b.get(*p).ok_or("zipmap entry past the end")?;
        match first {
            0xFF => Ok(None),
            0xFE => {
                let v = u32_le(b, *p + 1)? as usize;
                *p += 5;
                Ok(Some(v))
            }
            n => {
                *p += 1;
                Ok(Some(n as usize))
            }
        }
    };
    loop {
        let Some(klen) = read_len(&mut p)? else {
            if p != b.len() - 1 {
                return Err("zipmap terminator before the end");
            }
            break;
        };
        let key = b.get(p..p + klen).ok_or("truncated zipmap key")?;
        p += klen;
        let vlen = read_len(&mut p)?.ok_or("zipmap key without value")?;
        let &free = b.get(p).ok_or("truncated zipmap value")?;
        p += 1;
        let val = b.get(p..p + vlen).ok_or("truncated zipmap value")?;
        p += vlen + free as usize;
        out.push((key, val));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trips_strings_and_every_int_width() {
        let values: Vec<Vec<u8>> = [
            "0",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "4096",
            "-32768",
            "32767",
            "40000",
            "-8388608",
            "8388607",
            "8388608",
            "2147483647",
            "-2147483649",
            "9223372036854775807",
            "-9223372036854775808",
            "",
            "hello",
            "007",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 4095],
            vec![b'w'; 4096],
        ])
        .chain([vec![b'v'; 20_000]])
        .collect();
        let mut w = ListpackWriter::new();
        for v in &values {
            w.push(v);
        }
        let lp = w.finish();
        let items = listpack_items(&lp).expect("valid");
        let back: Vec<Vec<u8>> = items.into_iter().map(Item::to_vec).collect();
        assert_eq!(back, values);
    }

    #[test]
    fn listpack_corruption_is_detected() {
        let mut w = ListpackWriter::new();
        w.push(b"abc");
        w.push(b"12");
        let lp = w.finish();
        for cut in 0..lp.len() {
            assert!(listpack_items(&lp[..cut]).is_err());
        }
        let mut bad = lp.clone();
        bad[6] = 0x85; // string length 5 instead of 3
        assert!(listpack_items(&bad).is_err());
    }

    #[test]
    fn intset_round_trips() {
        for set in [
            vec![1i64, 2, 3],
            vec![-70000, 5],
            vec![i64::MIN, 0, i64::MAX],
        ] {
            assert_eq!(intset_members(&intset_encode(&set)).expect("valid"), set);
        }
        assert!(intset_members(&intset_encode(&[3, 2])).is_err());
    }

    #[test]
    fn ziplist_decodes_a_hand_built_list() {
        // "ab", 5 (immediate), 300 (int16), then the terminator.
        let mut b = vec![0u8; 10];
        b.extend_from_slice(&[0, 0x02, b'a', b'b']);
        b.extend_from_slice(&[4, 0xF6]);
        b.extend_from_slice(&[2, 0xC0, 0x2C, 0x01]);
        b.push(0xFF);
        let n = b.len() as u32;
        b[0..4].copy_from_slice(&n.to_le_bytes());
        b[4..8].copy_from_slice(&16u32.to_le_bytes());
        b[8..10].copy_from_slice(&3u16.to_le_bytes());
        let items = ziplist_items(&b).expect("valid");
        assert_eq!(items, vec![Item::Str(b"ab"), Item::Int(5), Item::Int(300)]);
    }

    #[test]
    fn zipmap_decodes() {
        let b = [
            2u8, 1, b'a', 2, 0, b'x', b'y', 1, b'b', 1, 3, b'z', 0, 0, 0, 0xFF,
        ];
        assert_eq!(
            zipmap_pairs(&b).expect("valid"),
            vec![(&b"a"[..], &b"xy"[..]), (&b"b"[..], &b"z"[..])]
        );
    }
}
