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
        match self {
            Value::Str(_) => ValueType::String,
            Value::List(_) => ValueType::List,
            Value::Hash(_) => ValueType::Hash,
            Value::Set(_) => ValueType::Set,
            Value::ZSet(_) => ValueType::ZSet,
        }
    }

    /// The encoding name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding_name(),
            // Redis 7.0 reports every list as a quicklist.
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding_name(),
            Value::Set(s) => s.encoding_name(),
            Value::ZSet(z) => z.encoding_name(),
        }
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
        match self {
            Value::Str(s) => s.heap_size(),
            Value::List(l) => std::mem::size_of::<crate::list::List>() + l.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
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

    pub fn encoding_name(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Bytes { data, raw } => {
                if !raw && data.len() <= EMBSTR_MAX {
                    "embstr"
                } else {
                    "raw"
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(n) => int_len(*n),
            StrValue::Bytes { data, .. } => data.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with the string's bytes, formatting integers on the stack.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            StrValue::Int(n) => {
                let mut buf = [0u8; 20];
                let s = fmt_int(*n, &mut buf);
                f(s)
            }
            StrValue::Bytes { data, .. } => f(data),
        }
    }

    /// The bytes as an owned vector (for in-place edits).
    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }

    /// The integer value if the string is one in Redis's strict sense.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            StrValue::Int(n) => Some(*n),
            StrValue::Bytes { data, .. } => parse_int_exact(data),
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            StrValue::Int(_) => 0,
            StrValue::Bytes { data, .. } => data.len(),
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
