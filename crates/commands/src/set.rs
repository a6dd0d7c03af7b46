//! Set commands.
//!
//! Values are [`Set`]s: a sorted integer vector (`intset`) while every
//! member is an integer and the set holds at most `set-max-intset-entries`
//! members, a hash set otherwise (Redis 7.0 has no listpack for sets). An
//! intset answers in ascending order, as Redis's does.
//!
//! Rules kept from Redis:
//!
//! * A set emptied by SREM, SPOP or SMOVE is deleted at once.
//! * Multi-key commands check the type of every key before answering, even
//!   when an earlier key is missing; the STORE variants overwrite their
//!   destination whatever it held and delete it when the result is empty.
//! * Counts (SPOP, SRANDMEMBER) are parsed before the key is looked up;
//!   SSCAN's options only once the set is found.

use crate::args::{is, parse_i64};
use crate::context::{CmdError, CmdResult, Ctx};
use crate::errors;
use crate::notify::class;
use crate::string::lookup_read;
use crate::table::{command, flags::*, keys, keys_counted, Command, Group};
use bytes::Bytes;
use ferrocache_store::{Locked, Set, Value, ValueRef};
use std::sync::atomic::Ordering;

const G: Group = Group::Set;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("sadd", -3, WRITE | DENYOOM | FAST, keys(1, 1, 1), G, "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.", cmd_sadd),
    command("srem", -3, WRITE | FAST, keys(1, 1, 1), G, "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed.", cmd_srem),
    command("smembers", 2, READONLY, keys(1, 1, 1), G, "1.0.0", "Returns all members of a set.", cmd_smembers),
    command("sismember", 3, READONLY | FAST, keys(1, 1, 1), G, "1.0.0", "Determines whether a member belongs to a set.", cmd_sismember),
    command("smismember", -3, READONLY | FAST, keys(1, 1, 1), G, "6.2.0", "Determines whether multiple members belong to a set.", cmd_smismember),
    command("scard", 2, READONLY | FAST, keys(1, 1, 1), G, "1.0.0", "Returns the number of members in a set.", cmd_scard),
    command("spop", -2, WRITE | FAST, keys(1, 1, 1), G, "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", cmd_spop),
    command("srandmember", -2, READONLY, keys(1, 1, 1), G, "1.0.0", "Get one or multiple random members from a set", cmd_srandmember),
    command("smove", 4, WRITE | FAST, keys(1, 2, 1), G, "1.0.0", "Moves a member from one set to another.", cmd_smove),
    command("sinter", -2, READONLY, keys(1, -1, 1), G, "1.0.0", "Returns the intersect of multiple sets.", cmd_sinter),
    command("sintercard", -3, READONLY | MOVABLE_KEYS, keys_counted(1), G, "7.0.0", "Returns the number of members of the intersect of multiple sets.", cmd_sintercard),
    command("sunion", -2, READONLY, keys(1, -1, 1), G, "1.0.0", "Returns the union of multiple sets.", cmd_sunion),
    command("sdiff", -2, READONLY, keys(1, -1, 1), G, "1.0.0", "Returns the difference of multiple sets.", cmd_sdiff),
    command("sinterstore", -3, WRITE | DENYOOM, keys(1, -1, 1), G, "1.0.0", "Stores the intersect of multiple sets in a key.", cmd_sinterstore),
    command("sunionstore", -3, WRITE | DENYOOM, keys(1, -1, 1), G, "1.0.0", "Stores the union of multiple sets in a key.", cmd_sunionstore),
    command("sdiffstore", -3, WRITE | DENYOOM, keys(1, -1, 1), G, "1.0.0", "Stores the difference of multiple sets in a key.", cmd_sdiffstore),
    command("sscan", -3, READONLY, keys(1, 1, 1), G, "2.8.0", "Iterates over members of a set.", cmd_sscan),
];

/// Largest number of members SRANDMEMBER with a negative count will send;
/// past it we answer an error rather than stream an unbounded reply.
const RANDOM_REPLY_MAX: u64 = 1 << 24;

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

fn max_intset(ctx: &Ctx) -> usize {
    ctx.shared
        .tuning
        .set_max_intset_entries
        .load(Ordering::Relaxed) as usize
}

fn as_set(v: ValueRef<'_>) -> Result<&Set, CmdError> {
    match v {
        ValueRef::Set(s) => Ok(s),
        _ => Err(errors::WRONGTYPE.into()),
    }
}

fn read_set<'l>(
    locked: &'l mut Locked<'_>,
    db: usize,
    key: &[u8],
) -> Result<Option<&'l Set>, CmdError> {
    lookup_read(locked, db, key)
        .map(|e| as_set(e.value()))
        .transpose()
}

/// Runs `f` on the set at `key`, creating an empty one if missing; a set
/// left empty is deleted (or never created).
fn write_set<R>(
    locked: &mut Locked<'_>,
    db: usize,
    key: &[u8],
    f: impl FnOnce(&mut Set) -> R,
) -> Result<R, CmdError> {
    match locked.get_mut(db, key) {
        Some(e) => {
            let Some(Value::Set(s)) = e.value_mut() else {
                return Err(errors::WRONGTYPE.into());
            };
            let r = f(s);
            if s.is_empty() {
                locked.remove(db, key);
            }
            Ok(r)
        }
        None => {
            let mut s = Set::new();
            let r = f(&mut s);
            if !s.is_empty() {
                locked.insert(db, key, Value::Set(s), None);
            }
            Ok(r)
        }
    }
}

/// Writes `members` as a RESP3 set (an array in RESP2).
fn reply_set(ctx: &mut Ctx, members: &[Bytes]) {
    let mut r = ctx.reply();
    r.set(members.len());
    for m in members {
        r.bulk(m);
    }
}

// ---------------------------------------------------------------------------
// Single-key commands.
// ---------------------------------------------------------------------------

fn cmd_sadd(ctx: &mut Ctx) -> CmdResult {
    let max = max_intset(ctx);
    let (db, key) = (ctx.db(), ctx.arg(1));
    let members = ctx.args.get(2..).unwrap_or(&[]);
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let added = write_set(&mut locked, db, key, |s| {
        members.iter().filter(|m| s.add(m, max)).count()
    })?;
    if added > 0 {
        locked.dirty(added as u64);
        ctx.notify(class::SET, "sadd", key);
    }
    drop(locked);
    ctx.reply().int(added as i64);
    Ok(())
}

fn cmd_srem(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let members = ctx.args.get(2..).unwrap_or(&[]);
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let removed = write_set(&mut locked, db, key, |s| {
        members.iter().filter(|m| s.remove(m)).count()
    })?;
    if removed > 0 {
        locked.dirty(removed as u64);
        ctx.notify(class::SET, "srem", key);
        if !locked.contains(db, key) {
            ctx.notify(class::GENERIC, "del", key);
        }
    }
    drop(locked);
    ctx.reply().int(removed as i64);
    Ok(())
}

fn cmd_smembers(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let members = read_set(&mut locked, db, key)?.map_or_else(Vec::new, |s| s.members());
    drop(locked);
    reply_set(ctx, &members);
    Ok(())
}

fn cmd_sismember(ctx: &mut Ctx) -> CmdResult {
    let (db, key, m) = (ctx.db(), ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let found = read_set(&mut locked, db, key)?.is_some_and(|s| s.contains(m));
    drop(locked);
    ctx.reply().int(found as i64);
    Ok(())
}

fn cmd_smismember(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let members = ctx.args.get(2..).unwrap_or(&[]);
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let s = read_set(&mut locked, db, key)?;
    let found: Vec<bool> = members
        .iter()
        .map(|m| s.is_some_and(|s| s.contains(m)))
        .collect();
    drop(locked);
    let mut r = ctx.reply();
    r.array(found.len());
    for f in found {
        r.int(f as i64);
    }
    Ok(())
}

fn cmd_scard(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let n = read_set(&mut locked, db, key)?.map_or(0, |s| s.len());
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}

/// SPOP key [count]. With a count the reply is a set: the whole set (in its
/// order) when the count reaches its size, else that many distinct members.
fn cmd_spop(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    if ctx.args.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    let count = match ctx.args.get(2) {
        None => None,
        Some(a) => {
            let n = parse_i64(a)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or(CmdError::from(errors::MUST_BE_POSITIVE))?;
            Some(n as u64)
        }
    };
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let Some(e) = locked.get_mut(db, key) else {
        drop(locked);
        match count {
            None => ctx.reply().null(),
            Some(_) => ctx.reply().set(0),
        }
        return Ok(());
    };
    let Some(Value::Set(s)) = e.value_mut() else {
        return Err(errors::WRONGTYPE.into());
    };
    let popped: Vec<Bytes> = match count {
        None => s.pop().into_iter().collect(),
        Some(n) if n >= s.len() as u64 => std::mem::take(&mut *s).members(),
        Some(n) => (0..n).filter_map(|_| s.pop()).collect(),
    };
    let emptied = s.is_empty();
    if emptied {
        locked.remove(db, key);
    }
    if !popped.is_empty() {
        locked.dirty(popped.len() as u64);
        // Which members a pop takes is random: it replays as their removal.
        let mut argv = Vec::with_capacity(popped.len() + 2);
        argv.push(Bytes::from_static(b"SREM"));
        argv.push(Bytes::copy_from_slice(key));
        argv.extend(popped.iter().cloned());
        ctx.propagate(argv);
        ctx.notify(class::SET, "spop", key);
        if emptied {
            ctx.notify(class::GENERIC, "del", key);
        }
    }
    drop(locked);
    match count {
        None => match popped.first() {
            Some(m) => ctx.reply().bulk(m),
            None => ctx.reply().null(),
        },
        Some(_) => reply_set(ctx, &popped),
    }
    Ok(())
}

/// SRANDMEMBER key [count]. A positive count gives distinct members (the
/// whole set once the count reaches its size); a negative count
/// gives that many members drawn with repetition. Every form answers an
/// array, also in RESP3.
fn cmd_srandmember(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    if ctx.args.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    let Some(arg) = ctx.args.get(2) else {
        let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
        let m = read_set(&mut locked, db, key)?.and_then(|s| s.random());
        drop(locked);
        match m {
            Some(m) => ctx.reply().bulk(&m),
            None => ctx.reply().null(),
        }
        return Ok(());
    };
    let l = parse_i64(arg)?;
    if l == i64::MIN {
        return Err(errors::HRANDFIELD_RANGE.into());
    }
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let Some(s) = read_set(&mut locked, db, key)? else {
        drop(locked);
        ctx.reply().array(0);
        return Ok(());
    };
    let count = l.unsigned_abs();
    if count == 0 {
        drop(locked);
        ctx.reply().array(0);
        return Ok(());
    }
    let members = s.members();
    drop(locked);
    let size = members.len();
    if l < 0 {
        if count > RANDOM_REPLY_MAX {
            return Err(errors::OUT_OF_RANGE.into());
        }
        let mut r = ctx.reply();
        r.array(count as usize);
        for _ in 0..count {
            let m = members.get(fastrand::usize(..size)).map_or(&b""[..], |m| m);
            r.bulk(m);
        }
        return Ok(());
    }
    if count >= size as u64 {
        let mut r = ctx.reply();
        r.array(size);
        for m in &members {
            r.bulk(m);
        }
        return Ok(());
    }
    let count = count as usize;
    let mut idx: Vec<usize> = (0..size).collect();
    for i in 0..count {
        let j = fastrand::usize(i..size);
        idx.swap(i, j);
    }
    idx.truncate(count);
    let mut r = ctx.reply();
    r.array(count);
    for i in idx {
        r.bulk(members.get(i).map_or(&b""[..], |m| m));
    }
    Ok(())
}

fn cmd_smove(ctx: &mut Ctx) -> CmdResult {
    let max = max_intset(ctx);
    let (db, src, dst, m) = (ctx.db(), ctx.arg(1), ctx.arg(2), ctx.arg(3));
    let mut locked = ctx
        .ks()
        .lock_many([(db, src.as_ref()), (db, dst.as_ref())], ctx.now_ms);
    let Some(se) = locked.get(db, src) else {
        drop(locked);
        ctx.reply().int(0);
        return Ok(());
    };
    let src_has = as_set(se.value())?.contains(m);
    if let Some(de) = locked.get(db, dst) {
        as_set(de.value())?;
    }
    if src == dst || !src_has {
        drop(locked);
        ctx.reply().int(src_has as i64);
        return Ok(());
    }
    write_set(&mut locked, db, src, |s| s.remove(m))?;
    ctx.notify(class::SET, "srem", src);
    if !locked.contains(db, src) {
        ctx.notify(class::GENERIC, "del", src);
    }
    write_set(&mut locked, db, dst, |s| s.add(m, max))?;
    ctx.notify(class::SET, "sadd", dst);
    locked.dirty(1);
    drop(locked);
    ctx.reply().int(1);
    Ok(())
}

// ---------------------------------------------------------------------------
// Intersection, union, difference.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Computes `op` over the sets at `keys` (missing keys are empty sets),
/// after checking every key's type. Members come in the order Redis
/// produces them: an intersection follows the smallest set (ascending when
/// that is an intset), a union or difference is built into a set whose
/// order is used. `limit` (non-zero) caps an intersection's size.
///
/// Lookups need the lock mutably (lazy expiry), so the sets are visited
/// one at a time; only the smallest set (intersection) or the result is
/// copied.
fn compute(
    locked: &mut Locked<'_>,
    db: usize,
    keys: &[Bytes],
    op: Op,
    limit: usize,
    max: usize,
) -> Result<Vec<Bytes>, CmdError> {
    let mut sizes: Vec<Option<usize>> = Vec::with_capacity(keys.len());
    for k in keys {
        sizes.push(match locked.get(db, k) {
            Some(e) => Some(as_set(e.value())?.len()),
            None => None,
        });
    }
    Ok(match op {
        Op::Inter => {
            if sizes.iter().any(Option::is_none) {
                return Ok(Vec::new());
            }
            // The first smallest set leads, as a stable sort picks it.
            let Some(lead) = (0..keys.len()).min_by_key(|&i| sizes[i]) else {
                return Ok(Vec::new());
            };
            let mut out = set_at(locked, db, keys, lead).map_or_else(Vec::new, |s| s.members());
            for i in (0..keys.len()).filter(|&i| i != lead) {
                if out.is_empty() {
                    break;
                }
                if let Some(s) = set_at(locked, db, keys, i) {
                    out.retain(|m| s.contains(m));
                }
            }
            if limit > 0 {
                out.truncate(limit);
            }
            out
        }
        Op::Union => {
            let mut acc = Set::new();
            for i in 0..keys.len() {
                if let Some(s) = set_at(locked, db, keys, i) {
                    s.for_each(|m| {
                        acc.add(m, max);
                    });
                }
            }
            acc.members()
        }
        Op::Diff => {
            // Members of the first set found in no other, added in turn to
            // the result as Redis does (so its encoding and order follow).
            let mut rest = set_at(locked, db, keys, 0).map_or_else(Vec::new, |s| s.members());
            for i in 1..keys.len() {
                if rest.is_empty() {
                    break;
                }
                if let Some(s) = set_at(locked, db, keys, i) {
                    rest.retain(|m| !s.contains(m));
                }
            }
            let mut acc = Set::new();
            for m in &rest {
                acc.add(m, max);
            }
            acc.members()
        }
    })
}

/// The set at `keys[i]`, if that key holds one.
fn set_at<'l>(locked: &'l mut Locked<'_>, db: usize, keys: &[Bytes], i: usize) -> Option<&'l Set> {
    let k = keys.get(i)?;
    locked.get(db, k).and_then(|e| as_set(e.value()).ok())
}

fn reply_generic(ctx: &mut Ctx, op: Op) -> CmdResult {
    let max = max_intset(ctx);
    let db = ctx.db();
    let keys = ctx.args.get(1..).unwrap_or(&[]);
    let mut locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    let out = compute(&mut locked, db, keys, op, 0, max)?;
    drop(locked);
    reply_set(ctx, &out);
    Ok(())
}

fn store_generic(ctx: &mut Ctx, op: Op) -> CmdResult {
    let max = max_intset(ctx);
    let db = ctx.db();
    let dst = ctx.arg(1);
    let keys = ctx.args.get(2..).unwrap_or(&[]);
    let mut locked = ctx.ks().lock_many(
        std::iter::once((db, dst.as_ref())).chain(keys.iter().map(|k| (db, k.as_ref()))),
        ctx.now_ms,
    );
    let out = compute(&mut locked, db, keys, op, 0, max)?;
    let n = out.len();
    if out.is_empty() {
        if locked.remove(db, dst).is_some() {
            locked.dirty(1);
            ctx.notify(class::GENERIC, "del", dst);
        }
    } else {
        let mut s = Set::new();
        for m in &out {
            s.add(m, max);
        }
        locked.insert(db, dst, Value::Set(s), None);
        locked.dirty(1);
        let event = match op {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        };
        ctx.notify(class::SET, event, dst);
    }
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}

fn cmd_sinter(ctx: &mut Ctx) -> CmdResult {
    reply_generic(ctx, Op::Inter)
}

fn cmd_sunion(ctx: &mut Ctx) -> CmdResult {
    reply_generic(ctx, Op::Union)
}

fn cmd_sdiff(ctx: &mut Ctx) -> CmdResult {
    reply_generic(ctx, Op::Diff)
}

fn cmd_sinterstore(ctx: &mut Ctx) -> CmdResult {
    store_generic(ctx, Op::Inter)
}

fn cmd_sunionstore(ctx: &mut Ctx) -> CmdResult {
    store_generic(ctx, Op::Union)
}

fn cmd_sdiffstore(ctx: &mut Ctx) -> CmdResult {
    store_generic(ctx, Op::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn cmd_sintercard(ctx: &mut Ctx) -> CmdResult {
    let numkeys = parse_i64(ctx.arg(1))
        .ok()
        .filter(|n| *n > 0)
        .ok_or(CmdError::from(errors::NUMKEYS_POSITIVE))?;
    let rest = ctx.args.get(2..).unwrap_or(&[]);
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > rest.len() {
        return Err(errors::NUMKEYS_TOO_MANY.into());
    }
    let keys = &rest[..numkeys];
    let mut limit = 0usize;
    let mut opts = rest[numkeys..].iter();
    while let Some(opt) = opts.next() {
        match opts.next() {
            Some(v) if is(opt, "LIMIT") => {
                let n = parse_i64(v)
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or(CmdError::from(errors::LIMIT_NEGATIVE))?;
                limit = usize::try_from(n).unwrap_or(usize::MAX);
            }
            _ => return Err(errors::SYNTAX.into()),
        }
    }
    let max = max_intset(ctx);
    let db = ctx.db();
    let mut locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    let n = compute(&mut locked, db, keys, Op::Inter, limit, max)?.len();
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]: the whole set in one
/// call with cursor 0 (COUNT is a hint; one full pass meets every SCAN
/// guarantee).
fn cmd_sscan(ctx: &mut Ctx) -> CmdResult {
    crate::generic::parse_cursor(ctx.arg(2)).ok_or(CmdError::from(errors::INVALID_CURSOR))?;
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let Some(s) = read_set(&mut locked, db, key)? else {
        drop(locked);
        crate::generic::reply_empty_scan(ctx);
        return Ok(());
    };
    let pattern = crate::generic::collection_scan_pattern(ctx.args.get(3..).unwrap_or(&[]))?;
    let found: Vec<Bytes> = s
        .members()
        .into_iter()
        .filter(|m| pattern.is_none_or(|p| ferrocache_store::glob::glob_match(p, m, false)))
        .collect();
    drop(locked);
    let mut r = ctx.reply();
    r.array(2);
    r.bulk(b"0");
    r.array(found.len());
    for m in found {
        r.bulk(&m);
    }
    Ok(())
}
