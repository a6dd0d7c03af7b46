//! One key in one allocation.
//!
//! An [`Entry`] is a thin owning pointer to a block that holds everything the
//! key needs: its access field and flags, its expiry when it has one, its
//! bytes, and its value. For the commonest key, a short string, that is the
//! whole cost of the key beyond its slot in the shard's table; the value is
//! not a separate allocation, as it would be behind a `Bytes` or a `Box`.
//!
//! ```text
//! offset 0   u32   bits 0..24 access field (LRU clock or LFU counter)
//!                  bit 24 copied (COPY's private duplicate)
//!                  bit 25 has an expiry
//!                  bits 26..28 payload kind: inline string, integer, object
//!        4   u64   expiry in Unix ms, unaligned (only with bit 25)
//!            var   key length (LEB128), then the key bytes
//!            ...   payload:
//!                    inline  length (LEB128), then the bytes
//!                    integer the number, zigzag LEB128 (1 to 10 bytes)
//!                    object  padding to 8, then a `Value`
//! ```
//!
//! Strings of up to [`INLINE_STR_MAX`] bytes that were set whole are inline;
//! strings built in place (APPEND, SETRANGE, SETBIT) stay objects, so that
//! repeated appends grow a buffer with spare capacity instead of copying the
//! block each time, and longer strings stay objects so that a snapshot
//! shares their bytes instead of copying them. Collections are always
//! objects.
//!
//! The block's size is not stored: it follows from its contents, which is
//! what [`Entry::block_size`] reads back to free it.

use crate::value::{parse_int_exact, StrRef, StrValue, Value, ValueRef};
use bytes::Bytes;
use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// Longest string kept inside the entry.
pub const INLINE_STR_MAX: usize = 512;

const ACCESS_MASK: u32 = (1 << 24) - 1;
const F_COPIED: u32 = 1 << 24;
const F_EXPIRY: u32 = 1 << 25;
const KIND_SHIFT: u32 = 26;
const KIND_MASK: u32 = 0b11 << KIND_SHIFT;
const KIND_INLINE: u32 = 0;
const KIND_INT: u32 = 1;
const KIND_OBJECT: u32 = 2;

/// Alignment of every block: enough for the `Value` of an object payload.
const ALIGN: usize = 8;
const _: () = assert!(std::mem::align_of::<Value>() <= ALIGN);

/// A key, its value, its expiry and its access history, in one allocation.
pub struct Entry {
    ptr: NonNull<u8>,
}

// An entry owns its block exactly as a `Box` owns its contents, and the
// value it may hold is itself `Send` and `Sync`.
unsafe impl Send for Entry {}
unsafe impl Sync for Entry {}
const _: () = {
    const fn thread_safe<T: Send + Sync>() {}
    thread_safe::<Value>();
};

/// The payload of an entry under construction.
enum Payload<'a> {
    Inline(&'a [u8]),
    Int(i64),
    Object(Value),
}

impl Payload<'_> {
    fn kind(&self) -> u32 {
        match self {
            Payload::Inline(_) => KIND_INLINE,
            Payload::Int(_) => KIND_INT,
            Payload::Object(_) => KIND_OBJECT,
        }
    }
}

/// The packed payload [`Entry::new`] stores `value` as, or `None` when it
/// keeps the value as an object.
fn packed_form(value: &Value) -> Option<Payload<'_>> {
    match value {
        Value::Str(StrValue::Int(n)) => Some(Payload::Int(*n)),
        Value::Str(StrValue::Bytes { data, raw: false }) if data.len() <= INLINE_STR_MAX => {
            Some(Payload::Inline(data))
        }
        _ => None,
    }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Writes `v` at `p`; returns the bytes written.
///
/// # Safety
/// `p` must be valid for `varint_len(v)` bytes of writes.
unsafe fn write_varint(p: *mut u8, mut v: u64) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        unsafe { p.add(i).write(v as u8 | 0x80) };
        v >>= 7;
        i += 1;
    }
    unsafe { p.add(i).write(v as u8) };
    i + 1
}

/// Reads a varint written by [`write_varint`]; returns it and its length.
///
/// # Safety
/// `p` must point at a varint written by [`write_varint`].
#[inline]
unsafe fn read_varint(p: *const u8) -> (u64, usize) {
    let first = unsafe { *p };
    if first < 0x80 {
        return (first as u64, 1);
    }
    let mut v = (first & 0x7f) as u64;
    let mut shift = 7;
    let mut i = 1;
    loop {
        let b = unsafe { *p.add(i) };
        v |= ((b & 0x7f) as u64) << shift;
        i += 1;
        if b < 0x80 {
            return (v, i);
        }
        shift += 7;
    }
}

fn align_up(n: usize) -> usize {
    (n + ALIGN - 1) & !(ALIGN - 1)
}

fn layout(size: usize) -> Layout {
    // Sizes come from lengths that already exist in memory, so they are far
    // below isize::MAX.
    Layout::from_size_align(size, ALIGN).expect("entry block size overflows")
}

impl Entry {
    /// A new entry. `access` is the 24-bit access field.
    pub fn new(
        key: &[u8],
        value: Value,
        expire_at: Option<u64>,
        access: u32,
        copied: bool,
    ) -> Entry {
        let mut flags = access & ACCESS_MASK;
        if copied {
            flags |= F_COPIED;
        }
        match packed_form(&value) {
            Some(payload) => Entry::build(key, payload, expire_at, flags),
            None => Entry::build(key, Payload::Object(value), expire_at, flags),
        }
    }

    /// A new entry holding the string `data`, encoded as [`Value::string`]
    /// would encode it, without building the value first (SET's path: the
    /// bytes go from the request straight into the block).
    pub fn new_string(key: &[u8], data: &[u8], expire_at: Option<u64>, access: u32) -> Entry {
        let flags = access & ACCESS_MASK;
        if let Some(n) = (data.len() <= 20).then(|| parse_int_exact(data)).flatten() {
            Entry::build(key, Payload::Int(n), expire_at, flags)
        } else if data.len() <= INLINE_STR_MAX {
            Entry::build(key, Payload::Inline(data), expire_at, flags)
        } else {
            Entry::build(key, Payload::Object(Value::string(data)), expire_at, flags)
        }
    }

    /// Allocates and fills a block. `flags` carries the access field and
    /// the copied bit; the expiry and kind bits are set here.
    fn build(key: &[u8], payload: Payload<'_>, expire_at: Option<u64>, flags: u32) -> Entry {
        let mut header = (flags & (ACCESS_MASK | F_COPIED)) | (payload.kind() << KIND_SHIFT);
        let mut size = 4;
        if expire_at.is_some() {
            header |= F_EXPIRY;
            size += 8;
        }
        size += varint_len(key.len() as u64) + key.len();
        let payload_at = match &payload {
            Payload::Object(_) => align_up(size),
            _ => size,
        };
        size = payload_at
            + match &payload {
                Payload::Inline(b) => varint_len(b.len() as u64) + b.len(),
                Payload::Int(n) => varint_len(zigzag(*n)),
                Payload::Object(_) => std::mem::size_of::<Value>(),
            };
        let layout = layout(size);
        // SAFETY: the layout has a non-zero size (at least the header), and
        // every write below stays within the `size` bytes computed above.
        unsafe {
            let p = alloc::alloc(layout);
            let Some(ptr) = NonNull::new(p) else {
                alloc::handle_alloc_error(layout)
            };
            (p as *mut u32).write(header);
            let mut at = 4;
            if let Some(t) = expire_at {
                (p.add(at) as *mut u64).write_unaligned(t);
                at += 8;
            }
            at += write_varint(p.add(at), key.len() as u64);
            std::ptr::copy_nonoverlapping(key.as_ptr(), p.add(at), key.len());
            match payload {
                Payload::Inline(b) => {
                    let at = payload_at + write_varint(p.add(payload_at), b.len() as u64);
                    std::ptr::copy_nonoverlapping(b.as_ptr(), p.add(at), b.len());
                }
                Payload::Int(n) => {
                    write_varint(p.add(payload_at), zigzag(n));
                }
                Payload::Object(v) => (p.add(payload_at) as *mut Value).write(v),
            }
            Entry { ptr }
        }
    }

    #[inline]
    fn header(&self) -> u32 {
        // SAFETY: every block starts with its aligned u32 header.
        unsafe { (self.ptr.as_ptr() as *const u32).read() }
    }

    #[inline]
    fn set_header(&mut self, h: u32) {
        // SAFETY: as in `header`; `&mut self` makes the write exclusive.
        unsafe { (self.ptr.as_ptr() as *mut u32).write(h) }
    }

    #[inline]
    fn kind(&self) -> u32 {
        (self.header() & KIND_MASK) >> KIND_SHIFT
    }

    /// Offset of the key's length varint.
    #[inline]
    fn key_at(&self) -> usize {
        if self.header() & F_EXPIRY != 0 {
            12
        } else {
            4
        }
    }

    /// Offset of the key bytes and their length.
    #[inline]
    fn key_span(&self) -> (usize, usize) {
        let at = self.key_at();
        // SAFETY: the key's varint sits at `key_at` in every block.
        let (len, n) = unsafe { read_varint(self.ptr.as_ptr().add(at)) };
        (at + n, len as usize)
    }

    /// Offset of the payload (for objects, of the aligned `Value`).
    #[inline]
    fn payload_at(&self) -> usize {
        let (at, len) = self.key_span();
        if self.kind() == KIND_OBJECT {
            align_up(at + len)
        } else {
            at + len
        }
    }

    /// The size the block was allocated with.
    pub fn block_size(&self) -> usize {
        let at = self.payload_at();
        let p = self.ptr.as_ptr();
        at + match self.kind() {
            // SAFETY: inline and integer payloads start with a varint.
            KIND_INLINE => unsafe {
                let (len, n) = read_varint(p.add(at));
                n + len as usize
            },
            KIND_INT => unsafe { read_varint(p.add(at)).1 },
            _ => std::mem::size_of::<Value>(),
        }
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        let (at, len) = self.key_span();
        // SAFETY: the key's bytes follow its varint and live as long as the
        // block, which `&self` borrows.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(at), len) }
    }

    /// The value if it is held as an object (collections, and strings that
    /// are long or were built in place).
    pub fn as_object(&self) -> Option<&Value> {
        // SAFETY: an object payload is an initialised, aligned `Value`.
        (self.kind() == KIND_OBJECT).then(|| unsafe { &*self.object_ptr() })
    }

    /// Where an object payload's `Value` sits; meaningful only for an
    /// object entry.
    fn object_ptr(&self) -> *mut Value {
        // SAFETY: the offset is within the block.
        unsafe { self.ptr.as_ptr().add(self.payload_at()) as *mut Value }
    }

    /// The value, borrowed.
    pub fn value(&self) -> ValueRef<'_> {
        let at = self.payload_at();
        let p = self.ptr.as_ptr();
        match self.kind() {
            KIND_INLINE => {
                // SAFETY: an inline payload is a varint length, then bytes.
                let data = unsafe {
                    let (len, n) = read_varint(p.add(at));
                    std::slice::from_raw_parts(p.add(at + n), len as usize)
                };
                ValueRef::Str(StrRef::Bytes { data, raw: false })
            }
            // SAFETY: an integer payload is a zigzag varint.
            KIND_INT => ValueRef::Str(StrRef::Int(unzigzag(unsafe { read_varint(p.add(at)).0 }))),
            // SAFETY: the only other kind is an object, an initialised
            // `Value`.
            _ => unsafe { (*self.object_ptr()).as_ref() },
        }
    }

    /// The value for an in-place change, if it is held as an object:
    /// collections always are, strings only when built in place or long.
    /// Strings are changed with [`Entry::set_value`] instead.
    pub fn value_mut(&mut self) -> Option<&mut Value> {
        // SAFETY: as in `as_object`; `&mut self` makes the borrow exclusive.
        (self.kind() == KIND_OBJECT).then(|| unsafe { &mut *self.object_ptr() })
    }

    /// Replaces the value, keeping the key, expiry and access field; the
    /// entry is no longer a COPY duplicate. An object replaced by an object
    /// (APPEND), or an integer by an integer of the same encoded length
    /// (INCR), is written in place.
    pub fn set_value(&mut self, value: Value) {
        if let Some(old) = self.value_mut() {
            if packed_form(&value).is_none() {
                *old = value;
                let h = self.header() & !F_COPIED;
                self.set_header(h);
                return;
            }
        }
        if let Value::Str(StrValue::Int(n)) = value {
            if self.kind() == KIND_INT {
                let at = self.payload_at();
                let p = self.ptr.as_ptr();
                // SAFETY: the old integer's varint occupies `len` bytes at
                // `at`, and the new one has the same length.
                let len = unsafe { read_varint(p.add(at)).1 };
                if varint_len(zigzag(n)) == len {
                    unsafe { write_varint(p.add(at), zigzag(n)) };
                    let h = self.header() & !F_COPIED;
                    self.set_header(h);
                    return;
                }
            }
        }
        let flags = self.header() & ACCESS_MASK;
        *self = Entry::new(self.key(), value, self.expire_at(), flags, false);
    }

    /// The value, taking it out of the entry.
    pub fn into_value(self) -> Value {
        match self.kind() {
            KIND_OBJECT => {
                let at = self.payload_at();
                let size = self.block_size();
                let p = self.ptr.as_ptr();
                std::mem::forget(self);
                // SAFETY: the `Value` is moved out exactly once and the block
                // is then freed without dropping it again.
                unsafe {
                    let v = (p.add(at) as *const Value).read();
                    alloc::dealloc(p, layout(size));
                    v
                }
            }
            _ => self.value().to_value(),
        }
    }

    /// The same value, expiry and access history under another key (RENAME,
    /// MOVE).
    pub fn renamed(self, key: &[u8]) -> Entry {
        let (expire_at, flags) = (self.expire_at(), self.header());
        let value = self.into_value();
        let mut e = Entry::new(key, value, expire_at, flags & ACCESS_MASK, false);
        let h = e.header() | (flags & F_COPIED);
        e.set_header(h);
        e
    }

    pub fn expire_at(&self) -> Option<u64> {
        // SAFETY: with the expiry bit set, 8 bytes of expiry follow the
        // header.
        (self.header() & F_EXPIRY != 0)
            .then(|| unsafe { (self.ptr.as_ptr().add(4) as *const u64).read_unaligned() })
    }

    pub fn has_expiry(&self) -> bool {
        self.header() & F_EXPIRY != 0
    }

    /// True once the deadline is reached; never for a persistent key.
    #[inline]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at().is_some_and(|t| t <= now_ms)
    }

    /// Sets or clears the expiry. Adding or removing one moves the rest of
    /// the block by 8 bytes, which keeps an object payload aligned.
    pub fn set_expire_at(&mut self, at: Option<u64>) {
        let had = self.has_expiry();
        let p = self.ptr.as_ptr();
        match (had, at) {
            (true, Some(t)) => {
                // SAFETY: the expiry field exists.
                unsafe { (p.add(4) as *mut u64).write_unaligned(t) };
            }
            (false, None) => {}
            (had, at) => {
                let old_size = self.block_size();
                let (from, new_size) = if had {
                    (12, old_size - 8)
                } else {
                    (4, old_size + 8)
                };
                let to = if had { 4 } else { 12 };
                let rest = old_size - from;
                let mut header = self.header() & !F_EXPIRY;
                if at.is_some() {
                    header |= F_EXPIRY;
                }
                let new_layout = layout(new_size);
                // SAFETY: the new block holds the header, the optional
                // expiry and the `rest` bytes moved bitwise from the old
                // block (an object `Value` included, moved, not copied),
                // which is then freed without dropping anything.
                unsafe {
                    let q = alloc::alloc(new_layout);
                    let Some(ptr) = NonNull::new(q) else {
                        alloc::handle_alloc_error(new_layout)
                    };
                    (q as *mut u32).write(header);
                    if let Some(t) = at {
                        (q.add(4) as *mut u64).write_unaligned(t);
                    }
                    std::ptr::copy_nonoverlapping(p.add(from), q.add(to), rest);
                    alloc::dealloc(p, layout(old_size));
                    self.ptr = ptr;
                }
            }
        }
    }

    /// Redis's 24-bit access field (see the keyspace's LRU/LFU helpers).
    #[inline]
    pub fn access(&self) -> u32 {
        self.header() & ACCESS_MASK
    }

    #[inline]
    pub fn set_access(&mut self, access: u32) {
        let h = (self.header() & !ACCESS_MASK) | (access & ACCESS_MASK);
        self.set_header(h);
    }

    /// True if the value is a private duplicate made by COPY. Redis shares
    /// one object among every key holding a small integer, except for
    /// copies, which get a private object; OBJECT REFCOUNT shows the
    /// difference. A new value clears it.
    pub fn is_copy(&self) -> bool {
        self.header() & F_COPIED != 0
    }

    /// Bytes the entry owns: its block and, for an object, what the value
    /// holds beyond it.
    pub fn memory(&self) -> usize {
        self.block_size() + self.as_object().map_or(0, Value::heap_size)
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let size = self.block_size();
        let p = self.ptr.as_ptr();
        // SAFETY: an object payload is dropped once, then the block is freed
        // with the layout it was allocated with.
        unsafe {
            if self.kind() == KIND_OBJECT {
                std::ptr::drop_in_place(self.object_ptr());
            }
            alloc::dealloc(p, layout(size));
        }
    }
}

impl Clone for Entry {
    fn clone(&self) -> Entry {
        let size = self.block_size();
        let layout = layout(size);
        // SAFETY: the copy is bitwise except for an object payload, whose
        // bits are overwritten (without dropping) by a clone of the value.
        unsafe {
            let q = alloc::alloc(layout);
            let Some(ptr) = NonNull::new(q) else {
                alloc::handle_alloc_error(layout)
            };
            std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), q, size);
            if let Some(v) = self.as_object() {
                (q.add(self.payload_at()) as *mut Value).write(v.clone());
            }
            Entry { ptr }
        }
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &Bytes::copy_from_slice(self.key()))
            .field("value", &self.value())
            .field("expire_at", &self.expire_at())
            .field("access", &self.access())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::List;

    fn strings() -> Vec<Value> {
        vec![
            Value::string(b""),
            Value::string(b"v"),
            Value::string(b"0"),
            Value::string(b"-9223372036854775808"),
            Value::string(b"9223372036854775807"),
            Value::string(&[b'x'; 100]),
            Value::string(&[b'y'; INLINE_STR_MAX]),
            Value::string(&[b'z'; INLINE_STR_MAX + 1]),
            Value::Str(StrValue::raw(b"built".to_vec())),
        ]
    }

    fn keys() -> Vec<Vec<u8>> {
        vec![Vec::new(), b"k".to_vec(), vec![b'k'; 127], vec![b'K'; 300]]
    }

    #[test]
    fn every_field_round_trips() {
        for key in keys() {
            for value in strings() {
                for expire in [None, Some(0), Some(u64::MAX - 1), Some(1_700_000_000_000)] {
                    for copied in [false, true] {
                        let e = Entry::new(&key, value.clone(), expire, 0xAB_CDEF, copied);
                        assert_eq!(e.key(), &key[..]);
                        assert_eq!(e.value().to_value(), value);
                        assert_eq!(e.expire_at(), expire);
                        assert_eq!(e.access(), 0xAB_CDEF);
                        assert_eq!(e.is_copy(), copied);
                        let c = e.clone();
                        assert_eq!(c.key(), &key[..]);
                        assert_eq!(c.value().to_value(), value);
                        assert_eq!(c.block_size(), e.block_size());
                        assert_eq!(e.into_value(), value);
                    }
                }
            }
        }
    }

    #[test]
    fn new_string_encodes_as_value_string_does() {
        for v in strings() {
            // Strings built in place are not what SET makes.
            if matches!(v, Value::Str(StrValue::Bytes { raw: true, .. })) {
                continue;
            }
            let bytes = v.as_str().map(|s| s.to_vec()).unwrap_or_default();
            let e = Entry::new_string(b"k", &bytes, Some(3), 9);
            let expected = Entry::new(b"k", Value::string(&bytes), Some(3), 9, false);
            assert_eq!(e.value().to_value(), v);
            assert_eq!(e.block_size(), expected.block_size());
            assert_eq!(e.value().encoding_name(), expected.value().encoding_name());
            assert_eq!((e.expire_at(), e.access()), (Some(3), 9));
        }
    }

    #[test]
    fn short_strings_and_integers_are_inline() {
        let e = Entry::new(
            b"key:000000000001",
            Value::string(&[b'x'; 100]),
            None,
            0,
            false,
        );
        // Header, two length bytes, the key and the value: nothing else.
        assert_eq!(e.block_size(), 4 + 1 + 16 + 1 + 100);
        assert!(e.as_object().is_none());
        let e = Entry::new(b"n", Value::string(b"42"), None, 0, false);
        assert_eq!(e.block_size(), 4 + 1 + 1 + 1);
        assert_eq!(e.value().encoding_name(), "int");
        // Built in place: kept as an object, so appends can grow it.
        let e = Entry::new(
            b"r",
            Value::Str(StrValue::raw(b"ab".to_vec())),
            None,
            0,
            false,
        );
        assert!(e.as_object().is_some());
        assert_eq!(e.value().encoding_name(), "raw");
    }

    #[test]
    fn expiry_can_be_added_changed_and_removed() {
        let list = {
            let mut l = List::default();
            l.push(
                crate::list::End::Right,
                b"a",
                crate::list::NodeLimit::default(),
            );
            Value::List(Box::new(l))
        };
        for value in strings().into_iter().chain([list]) {
            let mut e = Entry::new(b"key", value.clone(), None, 7, true);
            e.set_expire_at(Some(5));
            assert_eq!(e.expire_at(), Some(5));
            e.set_expire_at(Some(6));
            assert_eq!(e.expire_at(), Some(6));
            assert!(e.is_expired(6) && !e.is_expired(5));
            assert_eq!(e.value().to_value(), value);
            e.set_expire_at(None);
            assert_eq!(e.expire_at(), None);
            assert!(!e.is_expired(u64::MAX));
            assert_eq!((e.key(), e.access(), e.is_copy()), (&b"key"[..], 7, true));
            assert_eq!(e.value().to_value(), value);
        }
    }

    #[test]
    fn set_value_keeps_key_expiry_and_access() {
        let mut e = Entry::new(b"k", Value::string(b"1"), Some(99), 3, true);
        e.set_value(Value::string(b"2"));
        assert_eq!(e.value().as_str(), Some(StrRef::Int(2)));
        assert!(!e.is_copy());
        e.set_value(Value::string(b"1000000"));
        e.set_value(Value::string(&[b'a'; 600]));
        e.set_value(Value::Set(crate::set::Set::default()));
        assert!(e.value_mut().is_some());
        e.set_value(Value::string(b"short"));
        assert!(e.value_mut().is_none());
        assert_eq!(
            (e.key(), e.expire_at(), e.access()),
            (&b"k"[..], Some(99), 3)
        );
        let r = e.renamed(b"other");
        assert_eq!(
            (r.key(), r.expire_at(), r.access()),
            (&b"other"[..], Some(99), 3)
        );
        assert_eq!(r.value().to_value(), Value::string(b"short"));
    }

    #[test]
    fn varints_and_zigzag_round_trip() {
        for n in [0i64, 1, -1, 63, -64, 64, i64::MAX, i64::MIN, 1 << 40] {
            assert_eq!(unzigzag(zigzag(n)), n);
            let mut buf = [0u8; 10];
            let w = unsafe { write_varint(buf.as_mut_ptr(), zigzag(n)) };
            assert_eq!(w, varint_len(zigzag(n)));
            assert_eq!(unsafe { read_varint(buf.as_ptr()) }, (zigzag(n), w));
        }
    }
}
