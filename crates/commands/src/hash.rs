//! Hash commands.
//!
//! Values are [`Hash`]es: a listpack-like vector of pairs while small, a hash
//! table past `hash-max-listpack-entries` / `hash-max-listpack-value` (read
//! from the dispatcher's cached copies in [`crate::context::Tuning`]). The
//! order of replies for a listpack hash is insertion order, as in Redis.
//!
//! Rules kept from Redis:
//!
//! * A write creates the key when missing, and a hash emptied by HDEL is
//!   deleted at once: no empty hash is ever visible.
//! * Arguments are checked before the key's type where Redis checks them
//!   first (HINCRBY's increment, HRANDFIELD's count), and after it for
//!   HSCAN's options, which Redis parses only once it has found the hash.
//! * HINCRBYFLOAT works in `long double`, like INCRBYFLOAT ([`ld`]).

use crate::args::{is, parse_i64};
use crate::context::{CmdError, CmdResult, Ctx};
use crate::errors;
use crate::notify::class;
use crate::string::{ld, lookup_read};
use crate::table::{command, flags::*, keys, Command, Group};
use bytes::Bytes;
use ferrocache_store::hash::Limits;
use ferrocache_store::value::parse_int_exact;
use ferrocache_store::{Entry, Hash, Locked, Value, ValueRef};
use std::sync::atomic::Ordering;

const G: Group = Group::Hash;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("hset", -4, WRITE | DENYOOM | FAST, keys(1, 1, 1), G, "2.0.0", "Creates or modifies the value of a field in a hash.", cmd_hset),
    command("hmset", -4, WRITE | DENYOOM | FAST, keys(1, 1, 1), G, "2.0.0", "Sets the values of multiple fields.", cmd_hmset),
    command("hsetnx", 4, WRITE | DENYOOM | FAST, keys(1, 1, 1), G, "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", cmd_hsetnx),
    command("hget", 3, READONLY | FAST, keys(1, 1, 1), G, "2.0.0", "Returns the value of a field in a hash.", cmd_hget),
    command("hmget", -3, READONLY | FAST, keys(1, 1, 1), G, "2.0.0", "Returns the values of all fields in a hash.", cmd_hmget),
    command("hdel", -3, WRITE | FAST, keys(1, 1, 1), G, "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", cmd_hdel),
    command("hexists", 3, READONLY | FAST, keys(1, 1, 1), G, "2.0.0", "Determines whether a field exists in a hash.", cmd_hexists),
    command("hlen", 2, READONLY | FAST, keys(1, 1, 1), G, "2.0.0", "Returns the number of fields in a hash.", cmd_hlen),
    command("hstrlen", 3, READONLY | FAST, keys(1, 1, 1), G, "3.2.0", "Returns the length of the value of a field.", cmd_hstrlen),
    command("hkeys", 2, READONLY, keys(1, 1, 1), G, "2.0.0", "Returns all fields in a hash.", cmd_hkeys),
    command("hvals", 2, READONLY, keys(1, 1, 1), G, "2.0.0", "Returns all values in a hash.", cmd_hvals),
    command("hgetall", 2, READONLY, keys(1, 1, 1), G, "2.0.0", "Returns all fields and values in a hash.", cmd_hgetall),
    command("hincrby", 4, WRITE | DENYOOM | FAST, keys(1, 1, 1), G, "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", cmd_hincrby),
    command("hincrbyfloat", 4, WRITE | DENYOOM | FAST, keys(1, 1, 1), G, "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", cmd_hincrbyfloat),
    command("hrandfield", -2, READONLY, keys(1, 1, 1), G, "6.2.0", "Returns one or more random fields from a hash.", cmd_hrandfield),
    command("hscan", -3, READONLY, keys(1, 1, 1), G, "2.8.0", "Iterates over fields and values of a hash.", cmd_hscan),
];

/// Largest number of elements HRANDFIELD with a negative count will send.
/// Redis has no such bound and builds the whole reply in memory, which for
/// counts near `-LONG_MAX` exhausts the machine; we answer an error instead.
const RANDOM_REPLY_MAX: u64 = 1 << 24;

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

/// The conversion thresholds, from the dispatcher's cached configuration.
fn limits(ctx: &Ctx) -> Limits {
    let t = &ctx.shared.tuning;
    Limits {
        max_entries: t.hash_max_listpack_entries.load(Ordering::Relaxed) as usize,
        max_value: t.hash_max_listpack_value.load(Ordering::Relaxed) as usize,
    }
}

/// The hash held by an entry, or WRONGTYPE.
pub fn as_hash(entry: &Entry) -> Result<&Hash, CmdError> {
    match entry.value() {
        ValueRef::Hash(h) => Ok(h),
        _ => Err(errors::WRONGTYPE.into()),
    }
}

/// A read lookup of a hash: `None` if the key is missing.
fn read_hash<'l>(
    locked: &'l mut Locked<'_>,
    db: usize,
    key: &[u8],
) -> Result<Option<&'l Hash>, CmdError> {
    lookup_read(locked, db, key).map(as_hash).transpose()
}

/// Runs `f` on the hash at `key`, creating an empty one if the key is
/// missing. A hash left empty is deleted (or never created).
fn write_hash<R>(
    locked: &mut Locked<'_>,
    db: usize,
    key: &[u8],
    f: impl FnOnce(&mut Hash) -> Result<R, CmdError>,
) -> Result<R, CmdError> {
    match locked.get_mut(db, key) {
        Some(e) => {
            let Some(Value::Hash(h)) = e.value_mut() else {
                return Err(errors::WRONGTYPE.into());
            };
            let r = f(h);
            if h.is_empty() {
                locked.remove(db, key);
            }
            r
        }
        None => {
            let mut h = Hash::new();
            let r = f(&mut h);
            if !h.is_empty() {
                locked.insert(db, key, Value::Hash(h), None);
            }
            r
        }
    }
}

// ---------------------------------------------------------------------------
// Writes.
// ---------------------------------------------------------------------------

/// HSET and HMSET: pairs after the key; an odd count is an arity error.
fn hset_generic(ctx: &mut Ctx, name: &str) -> Result<i64, CmdError> {
    let pairs = ctx.args.get(2..).unwrap_or(&[]);
    if pairs.len() % 2 != 0 {
        return Err(errors::wrong_arity(name).into());
    }
    let limits = limits(ctx);
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let added = write_hash(&mut locked, db, key, |h| {
        h.convert_for_args(pairs.iter().map(|a| a.as_ref()), limits);
        let mut added = 0;
        for pair in pairs.chunks_exact(2) {
            added += h.set(&pair[0], &pair[1], limits) as i64;
        }
        Ok(added)
    })?;
    locked.dirty(pairs.len() as u64 / 2);
    ctx.notify(class::HASH, "hset", key);
    Ok(added)
}

fn cmd_hset(ctx: &mut Ctx) -> CmdResult {
    let added = hset_generic(ctx, "hset")?;
    ctx.reply().int(added);
    Ok(())
}

fn cmd_hmset(ctx: &mut Ctx) -> CmdResult {
    hset_generic(ctx, "hmset")?;
    ctx.ok()
}

fn cmd_hsetnx(ctx: &mut Ctx) -> CmdResult {
    let limits = limits(ctx);
    let (db, key, field, value) = (ctx.db(), ctx.arg(1), ctx.arg(2), ctx.arg(3));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let set = write_hash(&mut locked, db, key, |h| {
        if h.contains(field) {
            return Ok(false);
        }
        h.convert_for_args([field.as_ref(), value.as_ref()], limits);
        h.set(field, value, limits);
        Ok(true)
    })?;
    if set {
        locked.dirty(1);
        ctx.notify(class::HASH, "hset", key);
    }
    drop(locked);
    ctx.reply().int(set as i64);
    Ok(())
}

fn cmd_hdel(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let fields = ctx.args.get(2..).unwrap_or(&[]);
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    // A missing key reads as an empty hash, which is never stored.
    let removed = write_hash(&mut locked, db, key, |h| {
        let mut n = 0;
        for f in fields {
            n += h.remove(f) as i64;
            if h.is_empty() {
                break;
            }
        }
        Ok(n)
    })?;
    if removed > 0 {
        locked.dirty(removed as u64);
        ctx.notify(class::HASH, "hdel", key);
        if !locked.contains(db, key) {
            ctx.notify(class::GENERIC, "del", key);
        }
    }
    drop(locked);
    ctx.reply().int(removed);
    Ok(())
}

fn cmd_hincrby(ctx: &mut Ctx) -> CmdResult {
    let incr = parse_i64(ctx.arg(3))?;
    let limits = limits(ctx);
    let (db, key, field) = (ctx.db(), ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let n = write_hash(&mut locked, db, key, |h| {
        let old = match h.get(field) {
            None => 0,
            Some(v) => parse_int_exact(v).ok_or(CmdError::from(errors::HASH_NOT_INTEGER))?,
        };
        let n = old
            .checked_add(incr)
            .ok_or(CmdError::from(errors::OVERFLOW))?;
        h.set(field, n.to_string().as_bytes(), limits);
        Ok(n)
    })?;
    locked.dirty(1);
    drop(locked);
    ctx.notify(class::HASH, "hincrby", key);
    ctx.reply().int(n);
    Ok(())
}

fn cmd_hincrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let incr = match ld::parse(ctx.arg(3)) {
        None => return Err(errors::NOT_FLOAT.into()),
        Some(ld::Parsed::Inf(_)) => return Err(errors::NAN_OR_INFINITY.into()),
        Some(ld::Parsed::Finite(v)) => v,
    };
    let limits = limits(ctx);
    let (db, key, field) = (ctx.db(), ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let text = write_hash(&mut locked, db, key, |h| {
        let current = match h.get(field) {
            None => ld::Parsed::Finite(ld::Ld::ZERO),
            Some(v) => ld::parse(v).ok_or(CmdError::from(errors::HASH_NOT_FLOAT))?,
        };
        let sum = match current {
            ld::Parsed::Finite(a) => ld::add(a, incr),
            ld::Parsed::Inf(_) => None,
        }
        .ok_or(CmdError::from(errors::INCR_FLOAT_NAN))?;
        let text = Bytes::from(ld::format_human(&sum).into_bytes());
        h.set(field, &text, limits);
        Ok(text)
    })?;
    locked.dirty(1);
    drop(locked);
    ctx.propagate(vec![
        Bytes::from_static(b"HSET"),
        Bytes::copy_from_slice(key),
        Bytes::copy_from_slice(ctx.arg(2)),
        text.clone(),
    ]);
    ctx.notify(class::HASH, "hincrbyfloat", key);
    ctx.reply().bulk(&text);
    Ok(())
}

// ---------------------------------------------------------------------------
// Reads.
// ---------------------------------------------------------------------------

fn cmd_hget(ctx: &mut Ctx) -> CmdResult {
    let (db, key, field) = (ctx.db(), ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let v = read_hash(&mut locked, db, key)?.and_then(|h| h.get(field).map(Bytes::copy_from_slice));
    drop(locked);
    match v {
        Some(v) => ctx.reply().bulk(&v),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn cmd_hmget(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let fields = ctx.args.get(2..).unwrap_or(&[]);
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let h = read_hash(&mut locked, db, key)?;
    let mut r = ferrocache_protocol::Encoder::new(ctx.out, ctx.session.proto);
    r.array(fields.len());
    for f in fields {
        match h.and_then(|h| h.get(f)) {
            Some(v) => r.bulk(v),
            None => r.null(),
        }
    }
    Ok(())
}

fn cmd_hexists(ctx: &mut Ctx) -> CmdResult {
    let (db, key, field) = (ctx.db(), ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let found = read_hash(&mut locked, db, key)?.is_some_and(|h| h.contains(field));
    drop(locked);
    ctx.reply().int(found as i64);
    Ok(())
}

fn cmd_hlen(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let n = read_hash(&mut locked, db, key)?.map_or(0, |h| h.len());
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}

fn cmd_hstrlen(ctx: &mut Ctx) -> CmdResult {
    let (db, key, field) = (ctx.db(), ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let n = read_hash(&mut locked, db, key)?
        .and_then(|h| h.get(field))
        .map_or(0, |v| v.len());
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}

/// What HKEYS, HVALS and HGETALL send of each pair.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Fields,
    Values,
    Both,
}

fn getall_generic(ctx: &mut Ctx, part: Part) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let h = read_hash(&mut locked, db, key)?;
    let n = h.map_or(0, |h| h.len());
    let mut r = ferrocache_protocol::Encoder::new(ctx.out, ctx.session.proto);
    if part == Part::Both {
        r.map(n);
    } else {
        r.array(n);
    }
    for (f, v) in h.into_iter().flat_map(|h| h.iter()) {
        if part != Part::Values {
            r.bulk(f);
        }
        if part != Part::Fields {
            r.bulk(v);
        }
    }
    Ok(())
}

fn cmd_hkeys(ctx: &mut Ctx) -> CmdResult {
    getall_generic(ctx, Part::Fields)
}

fn cmd_hvals(ctx: &mut Ctx) -> CmdResult {
    getall_generic(ctx, Part::Values)
}

fn cmd_hgetall(ctx: &mut Ctx) -> CmdResult {
    getall_generic(ctx, Part::Both)
}

// ---------------------------------------------------------------------------
// HRANDFIELD and HSCAN.
// ---------------------------------------------------------------------------

/// HRANDFIELD key [count [WITHVALUES]].
///
/// Without a count: one random field or null. A positive count gives
/// distinct fields (the whole hash, in its order, when the count reaches its
/// size; for a listpack a subset in listpack order, as Redis samples it); a
/// negative count gives that many fields drawn with repetition.
fn cmd_hrandfield(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    if ctx.args.len() == 2 {
        let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
        let field = read_hash(&mut locked, db, key)?.and_then(|h| {
            let i = fastrand::usize(..h.len().max(1));
            h.iter().nth(i).map(|(f, _)| Bytes::copy_from_slice(f))
        });
        drop(locked);
        match field {
            Some(f) => ctx.reply().bulk(&f),
            None => ctx.reply().null(),
        }
        return Ok(());
    }
    let l = parse_i64(ctx.arg(2))?;
    if l == i64::MIN {
        return Err(errors::HRANDFIELD_RANGE.into());
    }
    let withvalues = match ctx.args.get(3) {
        None => false,
        Some(a) if ctx.args.len() == 4 && is(a, "withvalues") => true,
        Some(_) => return Err(errors::SYNTAX.into()),
    };
    // Redis refuses counts whose doubled reply length would overflow.
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(errors::OUT_OF_RANGE.into());
    }
    let resp3 = ctx.resp3();
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let Some(h) = read_hash(&mut locked, db, key)? else {
        drop(locked);
        ctx.reply().array(0);
        return Ok(());
    };
    let size = h.len();
    let pairs: Vec<(&[u8], &[u8])> = h.iter().collect();
    let count = l.unsigned_abs();
    // Indices into `pairs`: drawn one at a time while the reply is written
    // for repeated picks (never a vector sized by the count), a sample
    // otherwise.
    let (n, picks): (usize, Box<dyn Iterator<Item = usize>>) = if count == 0 {
        (0, Box::new(std::iter::empty()))
    } else if l < 0 || count == 1 {
        if count > RANDOM_REPLY_MAX {
            return Err(errors::OUT_OF_RANGE.into());
        }
        let n = count as usize;
        (n, Box::new((0..n).map(move |_| fastrand::usize(..size))))
    } else if count >= size as u64 {
        (size, Box::new(0..size))
    } else {
        // Partial Fisher-Yates: the first `count` slots are a uniform
        // sample; a listpack answers them in its own order.
        let mut idx: Vec<usize> = (0..size).collect();
        let count = count as usize;
        for i in 0..count {
            let j = fastrand::usize(i..size);
            idx.swap(i, j);
        }
        idx.truncate(count);
        if h.is_listpack() {
            idx.sort_unstable();
        }
        (count, Box::new(idx.into_iter()))
    };
    let mut r = ferrocache_protocol::Encoder::new(ctx.out, ctx.session.proto);
    if withvalues && !resp3 {
        r.array(n * 2);
    } else {
        r.array(n);
    }
    for i in picks {
        // Every index is below `size`; the fallback only keeps the reply
        // well formed.
        let (f, v) = pairs.get(i).copied().unwrap_or((b"", b""));
        if withvalues && resp3 {
            r.array(2);
        }
        r.bulk(f);
        if withvalues {
            r.bulk(v);
        }
    }
    Ok(())
}

/// HSCAN key cursor [MATCH pattern] [COUNT count].
///
/// A listpack hash is returned whole in one call with cursor 0, as Redis
/// does. A table-encoded hash is also returned whole: COUNT is only a hint,
/// and one complete pass satisfies every SCAN guarantee.
fn cmd_hscan(ctx: &mut Ctx) -> CmdResult {
    crate::generic::parse_cursor(ctx.arg(2)).ok_or(CmdError::from(errors::INVALID_CURSOR))?;
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let Some(h) = read_hash(&mut locked, db, key)? else {
        drop(locked);
        crate::generic::reply_empty_scan(ctx);
        return Ok(());
    };
    let pattern = crate::generic::collection_scan_pattern(ctx.args.get(3..).unwrap_or(&[]))?;
    let found: Vec<(&[u8], &[u8])> = h
        .iter()
        .filter(|(f, _)| pattern.is_none_or(|p| ferrocache_store::glob::glob_match(p, f, false)))
        .collect();
    let mut r = ferrocache_protocol::Encoder::new(ctx.out, ctx.session.proto);
    r.array(2);
    r.bulk(b"0");
    r.array(found.len() * 2);
    for (f, v) in found {
        r.bulk(f);
        r.bulk(v);
    }
    Ok(())
}
