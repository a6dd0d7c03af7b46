//! SORT and SORT_RO (Redis's `sort.c`).
//!
//! SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
//! [ALPHA] [STORE destination]
//!
//! The steps, in the order Redis 7.0 takes them, since the order shows in
//! replies:
//!
//! 1. Every option is parsed, left to right; the first bad one answers
//!    (a syntax error, or the integer error of a LIMIT argument). SORT_RO
//!    does not know STORE at all, so STORE is a syntax error there.
//! 2. The source is looked up: a missing key sorts as an empty list, a key
//!    of another type than list, set or sorted set is WRONGTYPE.
//! 3. The elements are collected. With a BY pattern that holds no `*`
//!    (`BY nosort` by convention) nothing is sorted: a list keeps its
//!    order, read from the head for ASC and from the tail for DESC, with the
//!    LIMIT window applied while reading. A set keeps its own iteration
//!    order (ascending for an intset), except when the result is stored or
//!    the command runs inside a script: then Redis sorts it ALPHA anyway, so
//!    that what a replica or the AOF sees is deterministic.
//! 4. Each element gets its sort weight: the element itself, or the value
//!    the BY pattern finds for it (a missing one weighs 0, or sorts first
//!    with ALPHA). Numeric weights are read the way C's `strtod` reads them
//!    (leading blanks allowed, trailing ones not, hex floats and `inf`
//!    accepted, NaN and out-of-range values refused); one bad weight makes
//!    the whole command answer "One or more scores can't be converted into
//!    double", but only once everything else is done.
//! 5. Numeric ties are broken by comparing the elements' bytes, so the
//!    result does not depend on the input order. ALPHA ties (possible with
//!    BY) are not broken: the sort is stable, as glibc's `qsort` is for
//!    the sizes involved.
//! 6. The LIMIT window is cut out and each element is answered as itself or
//!    as the values its GET patterns find (`#` is the element itself; a
//!    missing value answers nil, or is stored as an empty string).
//!
//! Not reproduced: Redis does not clear `errno` before `strtod`, so once a
//! weight overflowed or underflowed, every later weight read by the same
//! server thread is refused too, until some failing system call overwrites
//! `errno` (in practice: until another client connects). Here each weight
//! is judged on its own.
//!
//! A BY or GET pattern names keys that only the data reveals, so a command
//! that uses one locks every shard of its database: the keys it reads then
//! cannot change under it, as they cannot in single-threaded Redis. Without
//! patterns only the source and the destination are locked.

use crate::args::{is, parse_i64};
use crate::context::{CmdError, CmdResult, Ctx};
use crate::errors;
use crate::notify::class;
use crate::table::{command, flags::*, keys, sort_store_keys, Command, Group};
use bytes::Bytes;
use ferrocache_store::list::{End, List};
use ferrocache_store::{Locked, Value, ValueRef};
use std::cmp::Ordering;

pub static COMMANDS: &[Command] = &[
    command(
        "sort",
        -2,
        WRITE | DENYOOM | MOVABLE_KEYS,
        sort_store_keys(),
        Group::Generic,
        "1.0.0",
        "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
        cmd_sort,
    ),
    command(
        "sort_ro",
        -2,
        READONLY | MOVABLE_KEYS,
        keys(1, 1, 1),
        Group::Generic,
        "7.0.0",
        "Returns the sorted elements of a list, a set, or a sorted set.",
        cmd_sort_ro,
    ),
];

fn cmd_sort(ctx: &mut Ctx) -> CmdResult {
    sort(ctx, false)
}

fn cmd_sort_ro(ctx: &mut Ctx) -> CmdResult {
    sort(ctx, true)
}

// ---------------------------------------------------------------------------
// Options

/// The parsed options of one SORT.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    /// LIMIT offset and count as given (count -1: to the end).
    limit: (i64, i64),
    by: Option<Pattern<'a>>,
    /// BY named a pattern without `*`: keep the source's order.
    dont_sort: bool,
    get: Vec<Pattern<'a>>,
    store: Option<&'a Bytes>,
}

fn parse_options<'a>(args: &'a [Bytes], readonly: bool) -> Result<Options<'a>, CmdError> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit: (0, -1),
        by: None,
        dont_sort: false,
        get: Vec::new(),
        store: None,
    };
    let mut i = 2;
    while let Some(opt) = args.get(i) {
        let left = args.len() - i - 1;
        if is(opt, "ASC") {
            o.desc = false;
        } else if is(opt, "DESC") {
            o.desc = true;
        } else if is(opt, "ALPHA") {
            o.alpha = true;
        } else if is(opt, "LIMIT") && left >= 2 {
            o.limit = (parse_i64(&args[i + 1])?, parse_i64(&args[i + 2])?);
            i += 2;
        } else if !readonly && is(opt, "STORE") && left >= 1 {
            o.store = Some(&args[i + 1]);
            i += 1;
        } else if is(opt, "BY") && left >= 1 {
            // A later BY replaces an earlier one, but as in Redis, once a
            // pattern without `*` was seen nothing is sorted.
            if !has_star(&args[i + 1]) {
                o.dont_sort = true;
            }
            o.by = Some(Pattern::compile(&args[i + 1]));
            i += 1;
        } else if is(opt, "GET") && left >= 1 {
            o.get.push(Pattern::compile(&args[i + 1]));
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    Ok(o)
}

/// The part of an argument C string functions see: up to the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

fn has_star(p: &[u8]) -> bool {
    c_str(p).contains(&b'*')
}

// ---------------------------------------------------------------------------
// Patterns

/// A BY or GET pattern, taken apart once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pattern<'a> {
    /// `#`: the element itself.
    Itself,
    /// No `*`: never finds anything.
    Constant,
    /// `prefix*suffix`, or `prefix*suffix->field` for a hash field.
    Key {
        prefix: &'a [u8],
        suffix: &'a [u8],
        field: Option<&'a [u8]>,
    },
}

impl<'a> Pattern<'a> {
    /// Redis scans the pattern as a C string for `#`, `*` and `->`, but
    /// copies the suffix and the field with their full lengths; both are
    /// reproduced here.
    fn compile(p: &'a [u8]) -> Pattern<'a> {
        let c = c_str(p);
        if c == b"#" {
            return Pattern::Itself;
        }
        let Some(star) = c.iter().position(|&b| b == b'*') else {
            return Pattern::Constant;
        };
        let after = &c[star + 1..];
        let arrow = after.windows(2).position(|w| w == b"->");
        match arrow {
            // The field must be non-empty (a trailing `->` is part of the key).
            Some(a) if star + 1 + a + 2 < c.len() => {
                let at = star + 1 + a;
                Pattern::Key {
                    prefix: &p[..star],
                    suffix: &p[star + 1..at],
                    field: Some(&p[at + 2..]),
                }
            }
            _ => Pattern::Key {
                prefix: &p[..star],
                suffix: &p[star + 1..],
                field: None,
            },
        }
    }

    /// True if looking the pattern up reads other keys.
    fn reads_keys(&self) -> bool {
        matches!(self, Pattern::Key { .. })
    }

    /// The value the pattern finds for `elem`.
    fn lookup(&self, locked: &mut Locked<'_>, db: usize, elem: &[u8]) -> Option<Vec<u8>> {
        let (prefix, suffix, field) = match *self {
            Pattern::Itself => return Some(elem.to_vec()),
            Pattern::Constant => return None,
            Pattern::Key {
                prefix,
                suffix,
                field,
            } => (prefix, suffix, field),
        };
        let mut key = Vec::with_capacity(prefix.len() + elem.len() + suffix.len());
        key.extend_from_slice(prefix);
        key.extend_from_slice(elem);
        key.extend_from_slice(suffix);
        let entry = crate::string::lookup_read(locked, db, &key)?;
        match (entry.value(), field) {
            (ValueRef::Str(s), None) => Some(s.to_vec()),
            (ValueRef::Hash(h), Some(f)) => h.get(f).map(<[u8]>::to_vec),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Numbers

/// Reads a sort weight as `strtod` followed by Redis's checks: the whole C
/// string must be consumed (an empty one reads as 0), and NaN, overflow and
/// underflow are refused. `None` means "can't be converted".
pub fn parse_weight(b: &[u8]) -> Option<f64> {
    let s = c_str(b);
    if s.is_empty() {
        return Some(0.0);
    }
    let body = s.trim_ascii_start();
    let (neg, rest) = match body.first() {
        Some(b'-') => (true, &body[1..]),
        Some(b'+') => (false, &body[1..]),
        _ => (false, body),
    };
    let lower = rest.to_ascii_lowercase();
    let magnitude = if lower == b"inf" || lower == b"infinity" {
        return Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    } else if lower.starts_with(b"nan") {
        return None;
    } else if lower.len() > 2 && lower.starts_with(b"0x") {
        parse_hex(&lower[2..])?
    } else {
        parse_decimal(rest)?
    };
    Some(if neg { -magnitude } else { magnitude })
}

/// `digits[.digits][e[sign]digits]`, all of it, at least one mantissa digit;
/// refuses results strtod flags with ERANGE.
fn parse_decimal(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let mut digits = 0;
    let mut nonzero = false;
    while i < s.len() && s[i].is_ascii_digit() {
        nonzero |= s[i] != b'0';
        i += 1;
        digits += 1;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        while i < s.len() && s[i].is_ascii_digit() {
            nonzero |= s[i] != b'0';
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            // strtod would stop before the `e`, leaving it unconsumed.
            return None;
        }
    }
    if i != s.len() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.parse().ok()?;
    checked_range(v, nonzero)
}

/// strtod's ERANGE: an infinite result from finite digits, or a result too
/// small to be a normal double from non-zero digits. (glibc lets a tiny
/// result through when it is exact; a decimal one practically never is,
/// and [`parse_hex`] checks its own.)
fn checked_range(v: f64, nonzero: bool) -> Option<f64> {
    if v.is_infinite() || (nonzero && v.abs() < f64::MIN_POSITIVE) {
        None
    } else {
        Some(v)
    }
}

/// `v * 2^exp`, rounding at most once: the scale is applied in steps that
/// stay in the normal range before the last one.
fn scale2(mut v: f64, mut exp: i64) -> f64 {
    while exp > 1000 {
        v *= 2f64.powi(1000);
        exp -= 1000;
    }
    while exp < -1000 {
        v *= 2f64.powi(-1000);
        exp += 1000;
    }
    v * 2f64.powi(exp as i32)
}

/// The part of a hex float after `0x`: `hex[.hex][p[sign]digits]`.
fn parse_hex(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut digits = 0;
    let mut nonzero = false;
    let mut frac = false;
    let mut dropped = false;
    loop {
        match s.get(i) {
            Some(b'.') if !frac => frac = true,
            Some(&c) if c.is_ascii_hexdigit() => {
                let d = (c as char).to_digit(16).unwrap_or(0) as u64;
                nonzero |= d != 0;
                digits += 1;
                if mant >> 56 == 0 {
                    mant = mant * 16 + d;
                    if frac {
                        exp -= 4;
                    }
                } else {
                    dropped |= d != 0;
                    if !frac {
                        // Digits past the precision still scale the value.
                        exp += 4;
                    }
                }
            }
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'p')) {
        i += 1;
        let neg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i64 = 0;
        while let Some(&c) = s.get(i).filter(|c| c.is_ascii_digit()) {
            e = (e * 10 + (c - b'0') as i64).min(1 << 20);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp += if neg { -e } else { e };
    }
    if i != s.len() {
        return None;
    }
    let m = mant as f64;
    let exp = exp.clamp(-5000, 5000);
    let v = scale2(m, exp);
    if nonzero && v.abs() < f64::MIN_POSITIVE {
        let exact = !dropped && m as u64 == mant && scale2(v, -exp) == m;
        return exact.then_some(v);
    }
    checked_range(v, nonzero)
}

// ---------------------------------------------------------------------------
// The command

/// One element and its weight.
struct Item {
    elem: Vec<u8>,
    score: f64,
    /// The BY value for ALPHA with a pattern; `None` sorts first.
    cmp: Option<Vec<u8>>,
}

/// The elements of the source, as Redis loads them.
enum Source {
    List(Vec<Vec<u8>>),
    /// A list read without sorting: already the LIMIT window, in order.
    Window(Vec<Vec<u8>>),
    /// A set's members, in its own order. (A sorted set gives a `Window`
    /// with `BY nosort`, its members as a `List` otherwise.)
    Set(Vec<Vec<u8>>),
}

fn sort(ctx: &mut Ctx, readonly: bool) -> CmdResult {
    let args = ctx.args;
    let mut o = parse_options(args, readonly)?;
    let db = ctx.db();
    let key = &args[1];
    let reads_keys = o.by.is_some_and(|p| p.reads_keys() && !o.dont_sort)
        || o.get.iter().any(Pattern::reads_keys);
    let mut locked = if reads_keys {
        ctx.ks().lock_dbs(&[db], ctx.now_ms)
    } else {
        match o.store {
            Some(dst) => ctx
                .ks()
                .lock_many([(db, key.as_ref()), (db, dst.as_ref())], ctx.now_ms),
            None => ctx.ks().lock(db, key, ctx.now_ms),
        }
    };

    // Redis turns a listpack sorted set into a skiplist to sort it, and
    // leaves it so (OBJECT ENCODING shows it afterwards).
    if let Some(e) = locked.get_mut_unsignalled(db, key) {
        if let Some(Value::ZSet(z)) = e.value_mut() {
            z.convert_to_skiplist();
        }
    }
    let source = match crate::string::lookup_read(&mut locked, db, key) {
        None => Source::List(Vec::new()),
        Some(e) => match e.value() {
            // Unsorted, a list gives its LIMIT window straight away, read
            // from the tail for DESC: only that part is copied.
            ValueRef::List(l) if o.dont_sort => {
                let v = match window(l.len(), o.limit) {
                    None => Vec::new(),
                    Some((s, take)) if o.desc => l
                        .iter()
                        .rev()
                        .skip(s)
                        .take(take)
                        .map(<[u8]>::to_vec)
                        .collect(),
                    Some((s, take)) => l.iter().skip(s).take(take).map(<[u8]>::to_vec).collect(),
                };
                Source::Window(v)
            }
            ValueRef::List(l) => Source::List(l.iter().map(<[u8]>::to_vec).collect()),
            ValueRef::Set(s) => {
                let mut v = Vec::with_capacity(s.len());
                s.for_each(|m| v.push(m.to_vec()));
                Source::Set(v)
            }
            // Unsorted, a sorted set keeps its order (from the highest
            // score for DESC) and gives its LIMIT window straight away.
            ValueRef::ZSet(z) if o.dont_sort => {
                let len = z.len();
                let v = match window(len, o.limit) {
                    None => Vec::new(),
                    Some((s, take)) if o.desc => z.range(len - s - take, len - s, true),
                    Some((s, take)) => z.range(s, s + take, false),
                };
                Source::Window(v.into_iter().map(|(m, _)| m.to_vec()).collect())
            }
            // Sorted, its members sort like a list's (their order is
            // fixed, so nothing needs forcing for STORE or scripts).
            ValueRef::ZSet(z) => {
                Source::List(z.to_vec().into_iter().map(|(m, _)| m.to_vec()).collect())
            }
            _ => return Err(errors::WRONGTYPE.into()),
        },
    };

    // A set read without sorting would come out in an order that depends
    // on its layout; stored results and scripts must not.
    let in_script = ctx.session.in_script;
    if o.dont_sort && matches!(source, Source::Set(_)) && (o.store.is_some() || in_script) {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }

    let mut bad_weight = false;
    let window: Vec<Vec<u8>> = match source {
        Source::Window(v) => v,
        Source::Set(elems) if o.dont_sort => cut(window(elems.len(), o.limit), elems),
        Source::List(elems) | Source::Set(elems) => {
            let mut items: Vec<Item> = Vec::with_capacity(elems.len());
            for elem in elems {
                let mut item = Item {
                    elem,
                    score: 0.0,
                    cmp: None,
                };
                let by = match &o.by {
                    Some(p) => p.lookup(&mut locked, db, &item.elem),
                    None => None,
                };
                if o.by.is_some() && by.is_none() {
                    items.push(item);
                    continue;
                }
                if o.alpha {
                    item.cmp = by;
                } else {
                    let w = by.as_deref().unwrap_or(&item.elem);
                    match parse_weight(w) {
                        Some(s) => item.score = s,
                        None => bad_weight = true,
                    }
                }
                items.push(item);
            }
            if !bad_weight {
                let by_pattern = o.by.is_some();
                let binary = o.store.is_some();
                let (alpha, desc) = (o.alpha, o.desc);
                items.sort_by(|a, b| {
                    let c = compare(a, b, alpha, by_pattern, binary);
                    if desc {
                        c.reverse()
                    } else {
                        c
                    }
                });
            }
            let limit = window(items.len(), o.limit);
            cut(limit, items.into_iter().map(|i| i.elem).collect())
        }
    };

    if bad_weight {
        return Err(errors::SORT_SCORE_NOT_DOUBLE.into());
    }

    match o.store {
        None => {
            let rows = window.len();
            let per = o.get.len().max(1);
            let mut values: Vec<Option<Vec<u8>>> = Vec::with_capacity(rows * per);
            for elem in window {
                if o.get.is_empty() {
                    values.push(Some(elem));
                } else {
                    for p in &o.get {
                        values.push(p.lookup(&mut locked, db, &elem));
                    }
                }
            }
            drop(locked);
            let mut r = ctx.reply();
            r.array(values.len());
            for v in &values {
                match v {
                    Some(v) => r.bulk(v),
                    None => r.null(),
                }
            }
        }
        Some(dst) => {
            let limit = crate::list::node_limit(ctx);
            let mut list = List::new();
            for elem in window {
                if o.get.is_empty() {
                    list.push(End::Right, &elem, limit);
                } else {
                    for p in &o.get {
                        let v = p.lookup(&mut locked, db, &elem).unwrap_or_default();
                        list.push(End::Right, &v, limit);
                    }
                }
            }
            let n = list.len();
            if n > 0 {
                locked.insert(db, dst, Value::List(Box::new(list)), None);
                locked.dirty(n as u64);
                ctx.notify(class::LIST, "sortstore", dst);
            } else if locked.remove(db, dst).is_some() {
                locked.dirty(1);
                ctx.notify(class::GENERIC, "del", dst);
            }
            drop(locked);
            ctx.reply().int(n as i64);
        }
    }
    Ok(())
}

/// The LIMIT window over `len` elements, clamped as Redis clamps it: the
/// first position and the count, `None` when it is empty. (Redis makes a
/// start past the end select nothing, and a negative count mean "to the
/// end".)
fn window(len: usize, (offset, count): (i64, i64)) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = offset.max(0);
    if start >= len {
        return None;
    }
    let end = if count < 0 {
        len - 1
    } else {
        start.saturating_add(count).saturating_sub(1).min(len - 1)
    };
    (end >= start).then(|| (start as usize, (end - start + 1) as usize))
}

/// The elements `window` selects.
fn cut<T>(window: Option<(usize, usize)>, v: Vec<T>) -> Vec<T> {
    match window {
        None => Vec::new(),
        Some((start, take)) => v.into_iter().skip(start).take(take).collect(),
    }
}

/// Redis's comparison of two sort items (before DESC reverses it).
fn compare(a: &Item, b: &Item, alpha: bool, by_pattern: bool, binary: bool) -> Ordering {
    if !alpha {
        return match a.score.partial_cmp(&b.score) {
            Some(Ordering::Equal) | None => a.elem.cmp(&b.elem),
            Some(o) => o,
        };
    }
    let text = |x: &[u8], y: &[u8]| {
        // Without STORE Redis compares with strcoll, which stops at a NUL
        // and, in the C and C.UTF-8 locales, orders by bytes; with STORE it
        // compares whole byte strings.
        if binary {
            x.cmp(y)
        } else {
            c_str(x).cmp(c_str(y))
        }
    };
    if by_pattern {
        match (&a.cmp, &b.cmp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => text(x, y),
        }
    } else {
        text(&a.elem, &b.elem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_read_like_strtod() {
        assert_eq!(parse_weight(b""), Some(0.0));
        assert_eq!(parse_weight(b" 1"), Some(1.0));
        assert_eq!(parse_weight(b"1 "), None);
        assert_eq!(parse_weight(b"   "), None);
        assert_eq!(parse_weight(b"+"), None);
        assert_eq!(parse_weight(b"1\0abc"), Some(1.0));
        assert_eq!(parse_weight(b"0x10"), Some(16.0));
        assert_eq!(parse_weight(b"0x1p-2"), Some(0.25));
        assert_eq!(parse_weight(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_weight(b"Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_weight(b"nan"), None);
        assert_eq!(parse_weight(b"1e400"), None);
        assert_eq!(parse_weight(b"1e-310"), None);
        assert_eq!(parse_weight(b"0x1p-1070"), Some(f64::from_bits(1 << 4)));
        assert_eq!(parse_weight(b"0x3p-1075"), None);
        assert_eq!(parse_weight(b"0x1p-1080"), None);
        assert_eq!(parse_weight(b"0x1p1024"), None);
        assert_eq!(parse_weight(b"0x1p1023"), Some(2f64.powi(1023)));
        assert_eq!(parse_weight(b"0e-400"), Some(0.0));
        assert_eq!(parse_weight(b"1e"), None);
        assert_eq!(parse_weight(b".5"), Some(0.5));
        assert_eq!(parse_weight(b"5."), Some(5.0));
        assert_eq!(parse_weight(b"."), None);
        assert_eq!(parse_weight(b"12abc"), None);
    }

    #[test]
    fn patterns() {
        assert_eq!(Pattern::compile(b"#"), Pattern::Itself);
        assert_eq!(Pattern::compile(b"#\0x"), Pattern::Itself);
        assert_eq!(Pattern::compile(b"nosort"), Pattern::Constant);
        assert_eq!(
            Pattern::compile(b"w_*->f"),
            Pattern::Key {
                prefix: b"w_",
                suffix: b"",
                field: Some(b"f")
            }
        );
        assert_eq!(
            Pattern::compile(b"w_*x->"),
            Pattern::Key {
                prefix: b"w_",
                suffix: b"x->",
                field: None
            }
        );
        assert_eq!(
            Pattern::compile(b"a->*b"),
            Pattern::Key {
                prefix: b"a->",
                suffix: b"b",
                field: None
            }
        );
    }
}
