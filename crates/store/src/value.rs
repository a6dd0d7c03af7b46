//! Values held by keys. Strings live here; the collection types (list,
//! hash, set, sorted set) have modules of their own, each with its compact
//! and its general encoding.

use bytes::Bytes;

/// Strings up to this length are what Redis calls `embstr`.
pub const EMBSTR_MAX: usize = 44;

/// A Redis value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(StrValue),
    List(Box<crate::list::List>),
    Hash(crate::hash::Hash),
    /// Inline: a set value is 32 bytes, which the enum holds anyway.
    Set(crate::set::Set),
    ZSet(crate::zset::Zset),
}

/// Redis type names as TYPE, SCAN TYPE and error messages spell them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    String,
    List,
    Set,
    ZSet,
    Hash,
    Stream,
}

impl ValueType {
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::List => "list",
            ValueType::Set => "set",
            ValueType::ZSet => "zset",
            ValueType::Hash => "hash",
            ValueType::Stream => "stream",
        }
    }

    pub fn from_name(name: &[u8]) -> Option<ValueType> {
        let lower = name.to_ascii_lowercase();
        Some(match lower.as_slice() {
            b"string" => ValueType::String,
            b"list" => ValueType::List,
            b"set" => ValueType::Set,
            b"zset" => ValueType::ZSet,
            b"hash" => ValueType::Hash,
            b"stream" => ValueType::Stream,
            _ => return None,
        })
    }
}

impl Value {
    pub fn value_type(&self) -> ValueType {
        self.as_ref().value_type()
    }

    /// The encoding name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        self.as_ref().encoding_name()
    }

    /// Builds a string value from client bytes, choosing the encoding Redis
    /// would (integers that round-trip become `int`).
    pub fn string(data: &[u8]) -> Value {
        Value::Str(StrValue::from_slice(data))
    }

    pub fn as_str(&self) -> Option<&StrValue> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str_mut(&mut self) -> Option<&mut StrValue> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Approximate heap bytes owned by the value, for MEMORY USAGE and
    /// eviction bookkeeping.
    pub fn heap_size(&self) -> usize {
        self.as_ref().heap_size()
    }

    /// A borrowed view, the form in which stored values are read.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Str(s) => ValueRef::Str(s.as_ref()),
            Value::List(l) => ValueRef::List(l),
            Value::Hash(h) => ValueRef::Hash(h),
            Value::Set(s) => ValueRef::Set(s),
            Value::ZSet(z) => ValueRef::ZSet(z),
        }
    }
}

/// A stored value, borrowed. Short strings are kept inside their key's
/// entry as bytes rather than as a [`Value`], so reads see this view; the
/// collections are borrowed as they are.
#[derive(Clone, Copy, Debug)]
pub enum ValueRef<'a> {
    Str(StrRef<'a>),
    List(&'a crate::list::List),
    Hash(&'a crate::hash::Hash),
    Set(&'a crate::set::Set),
    ZSet(&'a crate::zset::Zset),
}

impl<'a> ValueRef<'a> {
    pub fn value_type(self) -> ValueType {
        match self {
            ValueRef::Str(_) => ValueType::String,
            ValueRef::List(_) => ValueType::List,
            ValueRef::Hash(_) => ValueType::Hash,
            ValueRef::Set(_) => ValueType::Set,
            ValueRef::ZSet(_) => ValueType::ZSet,
        }
    }

    /// The encoding name OBJECT ENCODING reports.
    pub fn encoding_name(self) -> &'static str {
        match self {
            ValueRef::Str(s) => s.encoding_name(),
            // Redis 7.0 reports every list as a quicklist.
            ValueRef::List(_) => "quicklist",
            ValueRef::Hash(h) => h.encoding_name(),
            ValueRef::Set(s) => s.encoding_name(),
            ValueRef::ZSet(z) => z.encoding_name(),
        }
    }

    pub fn as_str(self) -> Option<StrRef<'a>> {
        match self {
            ValueRef::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Approximate heap bytes owned by the value, beyond its entry.
    pub fn heap_size(self) -> usize {
        match self {
            ValueRef::Str(s) => s.heap_size(),
            ValueRef::List(l) => std::mem::size_of::<crate::list::List>() + l.heap_size(),
            ValueRef::Hash(h) => h.heap_size(),
            ValueRef::Set(s) => s.heap_size(),
            ValueRef::ZSet(z) => z.heap_size(),
        }
    }

    /// An owned copy (collections are cloned).
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Str(s) => Value::Str(s.to_str_value()),
            ValueRef::List(l) => Value::List(Box::new(l.clone())),
            ValueRef::Hash(h) => Value::Hash(h.clone()),
            ValueRef::Set(s) => Value::Set(s.clone()),
            ValueRef::ZSet(z) => Value::ZSet(z.clone()),
        }
    }
}

/// A string value.
///
/// `Int` is what Redis calls the `int` encoding: the number is stored, not its
/// digits. `Bytes` keeps whether the string was built in place (APPEND,
/// SETRANGE, SETBIT), which Redis reports as `raw` whatever its length.
#[derive(Clone, Debug, PartialEq)]
pub enum StrValue {
    Int(i64),
    Bytes { data: Bytes, raw: bool },
}

impl StrValue {
    /// Copies `data` into a value of its own, so the value never pins the
    /// buffer `data` came from.
    pub fn from_slice(data: &[u8]) -> StrValue {
        if data.len() <= 20 {
            if let Some(n) = parse_int_exact(data) {
                return StrValue::Int(n);
            }
        }
        StrValue::Bytes {
            data: Bytes::copy_from_slice(data),
            raw: false,
        }
    }

    /// A string built by modifying another in place (Redis's `raw`).
    pub fn raw(data: Vec<u8>) -> StrValue {
        StrValue::Bytes {
            data: Bytes::from(data),
            raw: true,
        }
    }

    /// A borrowed view.
    pub fn as_ref(&self) -> StrRef<'_> {
        match self {
            StrValue::Int(n) => StrRef::Int(*n),
            StrValue::Bytes { data, raw } => StrRef::Bytes { data, raw: *raw },
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        self.as_ref().encoding_name()
    }

    pub fn len(&self) -> usize {
        self.as_ref().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with the string's bytes, formatting integers on the stack.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        self.as_ref().with_bytes(f)
    }

    /// The bytes as an owned vector (for in-place edits).
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_ref().to_vec()
    }

    /// The integer value if the string is one in Redis's strict sense.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_ref().as_i64()
    }

    pub fn heap_size(&self) -> usize {
        self.as_ref().heap_size()
    }
}

/// A string value, borrowed: what [`StrValue`] holds, or the bytes of a
/// string kept inline in its entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StrRef<'a> {
    Int(i64),
    Bytes { data: &'a [u8], raw: bool },
}

impl<'a> StrRef<'a> {
    pub fn encoding_name(self) -> &'static str {
        match self {
            StrRef::Int(_) => "int",
            StrRef::Bytes { data, raw } => {
                if !raw && data.len() <= EMBSTR_MAX {
                    "embstr"
                } else {
                    "raw"
                }
            }
        }
    }

    pub fn len(self) -> usize {
        match self {
            StrRef::Int(n) => int_len(n),
            StrRef::Bytes { data, .. } => data.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with the string's bytes, formatting integers on the stack.
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            StrRef::Int(n) => {
                let mut buf = [0u8; 20];
                f(fmt_int(n, &mut buf))
            }
            StrRef::Bytes { data, .. } => f(data),
        }
    }

    /// The bytes as an owned vector (for in-place edits).
    pub fn to_vec(self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }

    /// The bytes as an owned handle.
    pub fn to_bytes(self) -> Bytes {
        self.with_bytes(Bytes::copy_from_slice)
    }

    /// The integer value if the string is one in Redis's strict sense.
    pub fn as_i64(self) -> Option<i64> {
        match self {
            StrRef::Int(n) => Some(n),
            StrRef::Bytes { data, .. } => parse_int_exact(data),
        }
    }

    pub fn heap_size(self) -> usize {
        match self {
            StrRef::Int(_) => 0,
            StrRef::Bytes { data, .. } => data.len(),
        }
    }

    /// An owned copy, keeping the encoding.
    pub fn to_str_value(self) -> StrValue {
        match self {
            StrRef::Int(n) => StrValue::Int(n),
            StrRef::Bytes { data, raw } => StrValue::Bytes {
                data: Bytes::copy_from_slice(data),
                raw,
            },
        }
    }
}

fn int_len(n: i64) -> usize {
    let mut buf = [0u8; 20];
    fmt_int(n, &mut buf).len()
}

/// Formats `n` into the tail of `buf`.
pub fn fmt_int(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Redis's strict integer syntax: what `string2ll` accepts. Only strings that
/// format back to themselves qualify, so `int` encoding is lossless.
pub fn parse_int_exact(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    if neg {
        (v <= i64::MAX as u64 + 1).then(|| (v as i64).wrapping_neg())
    } else {
        (v <= i64::MAX as u64).then_some(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_redis_names() {
        assert_eq!(StrValue::from_slice(b"12345").encoding_name(), "int");
        assert_eq!(StrValue::from_slice(b"012").encoding_name(), "embstr");
        assert_eq!(StrValue::from_slice(&[b'a'; 44]).encoding_name(), "embstr");
        assert_eq!(StrValue::from_slice(&[b'a'; 45]).encoding_name(), "raw");
        assert_eq!(StrValue::raw(b"ab".to_vec()).encoding_name(), "raw");
    }

    #[test]
    fn ints_round_trip() {
        for s in [
            "-9223372036854775808",
            "9223372036854775807",
            "0",
            "-1",
            "42",
        ] {
            let v = StrValue::from_slice(s.as_bytes());
            assert!(matches!(v, StrValue::Int(_)));
            assert_eq!(v.to_vec(), s.as_bytes());
            assert_eq!(v.len(), s.len());
        }
        assert!(matches!(
            StrValue::from_slice(b"9223372036854775808"),
            StrValue::Bytes { .. }
        ));
        assert!(matches!(
            StrValue::from_slice(b"+1"),
            StrValue::Bytes { .. }
        ));
    }
}
