//! Generic key commands: deleting, inspecting, expiring, iterating, renaming,
//! copying and moving keys of any type, and the OBJECT introspection
//! container.
//!
//! Redis's lookups come in two kinds, and the difference is visible through
//! OBJECT IDLETIME and OBJECT FREQ: ordinary lookups record an access
//! (`Locked::get`, `get_mut`), while TTL, TYPE, EXISTS and OBJECT look without
//! touching (`Locked::peek`, `contains`). Each handler below uses the kind
//! Redis uses for that command.

use crate::args::{is, parse_i64};
use crate::context::{CmdError, CmdResult, Ctx, Shared};
use crate::errors;
use crate::notify::class;
use crate::table::{command, container, flags::*, keys, Command, Group, NO_KEYS};
use ferrocache_store::{StrRef, ValueRef, ValueType};
use std::sync::atomic::Ordering;

const G: Group = Group::Generic;

pub static COMMANDS: &[Command] = &[
    command(
        "del",
        -2,
        WRITE,
        keys(1, -1, 1),
        G,
        "1.0.0",
        "Deletes one or more keys.",
        cmd_del,
    ),
    command(
        "unlink",
        -2,
        WRITE | FAST,
        keys(1, -1, 1),
        G,
        "4.0.0",
        "Deletes one or more keys, freeing their memory without blocking.",
        cmd_unlink,
    ),
    command(
        "exists",
        -2,
        READONLY | FAST,
        keys(1, -1, 1),
        G,
        "1.0.0",
        "Determines whether one or more keys exist.",
        cmd_exists,
    ),
    command(
        "type",
        2,
        READONLY | FAST,
        keys(1, 1, 1),
        G,
        "1.0.0",
        "Determines the type of value stored at a key.",
        cmd_type,
    ),
    command(
        "expire",
        -3,
        WRITE | FAST,
        keys(1, 1, 1),
        G,
        "1.0.0",
        "Sets the expiration time of a key in seconds.",
        cmd_expire,
    ),
    command(
        "pexpire",
        -3,
        WRITE | FAST,
        keys(1, 1, 1),
        G,
        "2.6.0",
        "Sets the expiration time of a key in milliseconds.",
        cmd_pexpire,
    ),
    command(
        "expireat",
        -3,
        WRITE | FAST,
        keys(1, 1, 1),
        G,
        "1.2.0",
        "Sets the expiration time of a key to a Unix timestamp.",
        cmd_expireat,
    ),
    command(
        "pexpireat",
        -3,
        WRITE | FAST,
        keys(1, 1, 1),
        G,
        "2.6.0",
        "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        cmd_pexpireat,
    ),
    command(
        "ttl",
        2,
        READONLY | FAST,
        keys(1, 1, 1),
        G,
        "1.0.0",
        "Returns the expiration time in seconds of a key.",
        cmd_ttl,
    ),
    command(
        "pttl",
        2,
        READONLY | FAST,
        keys(1, 1, 1),
        G,
        "2.6.0",
        "Returns the expiration time in milliseconds of a key.",
        cmd_pttl,
    ),
    command(
        "expiretime",
        2,
        READONLY | FAST,
        keys(1, 1, 1),
        G,
        "7.0.0",
        "Returns the expiration time of a key as a Unix timestamp.",
        cmd_expiretime,
    ),
    command(
        "pexpiretime",
        2,
        READONLY | FAST,
        keys(1, 1, 1),
        G,
        "7.0.0",
        "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        cmd_pexpiretime,
    ),
    command(
        "persist",
        2,
        WRITE | FAST,
        keys(1, 1, 1),
        G,
        "2.2.0",
        "Removes the expiration time of a key.",
        cmd_persist,
    ),
    command(
        "keys",
        2,
        READONLY,
        NO_KEYS,
        G,
        "1.0.0",
        "Returns all key names that match a pattern.",
        cmd_keys,
    ),
    command(
        "scan",
        -2,
        READONLY,
        NO_KEYS,
        G,
        "2.8.0",
        "Iterates over the key names in the database.",
        cmd_scan,
    ),
    command(
        "randomkey",
        1,
        READONLY,
        NO_KEYS,
        G,
        "1.0.0",
        "Returns a random key name from the database.",
        cmd_randomkey,
    ),
    command(
        "rename",
        3,
        WRITE,
        keys(1, 2, 1),
        G,
        "1.0.0",
        "Renames a key and overwrites the destination.",
        cmd_rename,
    ),
    command(
        "renamenx",
        3,
        WRITE | FAST,
        keys(1, 2, 1),
        G,
        "1.0.0",
        "Renames a key only when the target key name doesn't exist.",
        cmd_renamenx,
    ),
    command(
        "copy",
        -3,
        WRITE | DENYOOM,
        keys(1, 2, 1),
        G,
        "6.2.0",
        "Copies the value of a key to a new key.",
        cmd_copy,
    ),
    command(
        "move",
        3,
        WRITE | FAST,
        keys(1, 1, 1),
        G,
        "1.0.0",
        "Moves a key to another database.",
        cmd_move,
    ),
    command(
        "swapdb",
        3,
        WRITE | FAST,
        NO_KEYS,
        G,
        "4.0.0",
        "Swaps two Redis databases.",
        cmd_swapdb,
    ),
    command(
        "touch",
        -2,
        READONLY | FAST,
        keys(1, -1, 1),
        G,
        "3.2.1",
        "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
        cmd_touch,
    ),
    container(
        "object",
        -2,
        G,
        "2.2.3",
        "A container for object introspection commands.",
        OBJECT_SUBS,
    ),
];

static OBJECT_SUBS: &[Command] = &[
    command(
        "encoding",
        3,
        READONLY,
        keys(2, 2, 1),
        G,
        "2.2.3",
        "Returns the internal encoding of a Redis object.",
        cmd_object_encoding,
    ),
    command(
        "freq",
        3,
        READONLY,
        keys(2, 2, 1),
        G,
        "4.0.0",
        "Returns the logarithmic access frequency counter of a Redis object.",
        cmd_object_freq,
    ),
    command(
        "idletime",
        3,
        READONLY,
        keys(2, 2, 1),
        G,
        "2.2.3",
        "Returns the time since the last access to a Redis object.",
        cmd_object_idletime,
    ),
    command(
        "refcount",
        3,
        READONLY,
        keys(2, 2, 1),
        G,
        "2.2.3",
        "Returns the reference count of a value of a key.",
        cmd_object_refcount,
    ),
    command(
        "help",
        2,
        LOADING | STALE,
        NO_KEYS,
        G,
        "6.2.0",
        "Returns helpful text about the different subcommands.",
        cmd_object_help,
    ),
];

// ---------------------------------------------------------------------------
// Argument helpers
// ---------------------------------------------------------------------------

/// Parses a C `int` as Redis's `getIntFromObjectOrReply` does: a non-integer
/// is `ERR value is not an integer or out of range`, a 64-bit integer outside
/// the 32-bit range gets its own message.
fn parse_int(arg: &[u8]) -> Result<i32, CmdError> {
    let n = parse_i64(arg)?;
    i32::try_from(n).map_err(|_| CmdError::from(errors::INT_RANGE))
}

/// A database index in range, or `ERR DB index is out of range`.
fn db_index(ctx: &Ctx, n: i32) -> Result<usize, CmdError> {
    usize::try_from(n)
        .ok()
        .filter(|&db| db < ctx.ks().databases())
        .ok_or(CmdError::from(errors::DB_INDEX))
}

/// Parses a SCAN cursor with the rules of C's `strtoul` in base 10, which
/// Redis uses so that the whole unsigned 64-bit range is a valid cursor: an
/// optional sign (a minus negates modulo 2^64), digits, and nothing after
/// them. Redis rejects a leading space itself; the argument is read as a C
/// string, so it ends at the first NUL byte, and an empty string is cursor 0.
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let s = match arg.iter().position(|&b| b == 0) {
        Some(end) => &arg[..end],
        None => arg,
    };
    let (neg, digits) = match s.first() {
        None => return Some(0),
        Some(b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') => return None,
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        Some(_) => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Mirrors the eviction settings into the keyspace, which maintains every
/// entry's access field by them. OBJECT FREQ and IDLETIME call it before
/// answering; CONFIG SET of `maxmemory-policy`, `lfu-log-factor` or
/// `lfu-decay-time`, and startup, should call it too.
pub fn sync_access_policy(shared: &Shared) {
    let policy = shared.config.get("maxmemory-policy").unwrap_or_default();
    let to_u32 = |name: &str, default: u32| {
        shared
            .config
            .get_i64(name)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(default)
    };
    shared.ks.set_access_policy(
        policy.ends_with("-lfu"),
        to_u32("lfu-log-factor", 10),
        to_u32("lfu-decay-time", 1),
    );
}

// ---------------------------------------------------------------------------
// DEL, UNLINK, EXISTS, TOUCH, TYPE
// ---------------------------------------------------------------------------

fn cmd_del(ctx: &mut Ctx) -> CmdResult {
    delete_keys(ctx)
}

/// UNLINK frees values inline: Redis frees a value on a background thread
/// only when freeing costs more than 64 allocations, which no string does.
/// Collection types should hand large values to a freeing thread here.
fn cmd_unlink(ctx: &mut Ctx) -> CmdResult {
    delete_keys(ctx)
}

fn delete_keys(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let keys = &ctx.args[1..];
    let mut locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    // A key named twice counts once: the second removal finds nothing.
    let removed: Vec<&bytes::Bytes> = keys
        .iter()
        .filter(|k| locked.remove(db, k).is_some())
        .collect();
    let n = removed.len();
    locked.dirty(n as u64);
    drop(locked);
    for k in removed {
        ctx.notify(class::GENERIC, "del", k);
    }
    ctx.reply().int(n as i64);
    Ok(())
}

fn cmd_exists(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let keys = &ctx.args[1..];
    let mut locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    // A key named twice counts twice, as in Redis.
    let n = keys.iter().filter(|k| locked.contains(db, k)).count();
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}

fn cmd_touch(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let keys = &ctx.args[1..];
    let mut locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    let n = keys.iter().filter(|k| locked.get(db, k).is_some()).count();
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}

fn cmd_type(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let name = locked
        .peek(db, key)
        .map(|e| e.value().value_type().name())
        .unwrap_or("none");
    drop(locked);
    ctx.reply().simple(name);
    Ok(())
}

// ---------------------------------------------------------------------------
// EXPIRE family, TTL family, PERSIST
// ---------------------------------------------------------------------------

/// The NX/XX/GT/LT options of the EXPIRE family.
#[derive(Default, Clone, Copy)]
struct ExpireCond {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireCond {
    /// Options are read before the time argument, so an unknown option wins
    /// over a malformed time, as in Redis.
    fn parse(opts: &[bytes::Bytes]) -> Result<ExpireCond, CmdError> {
        let mut c = ExpireCond::default();
        for opt in opts {
            if is(opt, "NX") {
                c.nx = true;
            } else if is(opt, "XX") {
                c.xx = true;
            } else if is(opt, "GT") {
                c.gt = true;
            } else if is(opt, "LT") {
                c.lt = true;
            } else {
                return Err(errors::unsupported_option(opt).into());
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(errors::EXPIRE_NX_COMPAT.into());
        }
        if c.gt && c.lt {
            return Err(errors::EXPIRE_GT_LT.into());
        }
        Ok(c)
    }

    /// Whether a key whose expiry is `current` (None: persistent) may get the
    /// expiry `when`. A persistent key counts as an infinite TTL: GT never
    /// passes and LT always does.
    fn allows(self, current: Option<i64>, when: i64) -> bool {
        if self.nx && current.is_some() {
            return false;
        }
        if self.xx && current.is_none() {
            return false;
        }
        if self.gt && current.is_none_or(|cur| when <= cur) {
            return false;
        }
        if self.lt && current.is_some_and(|cur| when >= cur) {
            return false;
        }
        true
    }
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT. `base_ms` is added to the
/// (converted) time argument: the current time for the relative forms, 0 for
/// the absolute ones.
fn expire_generic(ctx: &mut Ctx, name: &str, base_ms: i64, seconds: bool) -> CmdResult {
    let cond = ExpireCond::parse(ctx.args.get(3..).unwrap_or(&[]))?;
    let mut when = parse_i64(ctx.arg(2))?;
    if seconds {
        when = when
            .checked_mul(1000)
            .ok_or_else(|| CmdError::from(errors::invalid_expire(name)))?;
    }
    when = when
        .checked_add(base_ms)
        .ok_or_else(|| CmdError::from(errors::invalid_expire(name)))?;
    let (db, key) = (ctx.db(), ctx.arg(1));
    let now = ctx.now_ms;
    let mut locked = ctx.ks().lock(db, key, now);
    let Some(entry) = locked.get(db, key) else {
        drop(locked);
        ctx.reply().int(0);
        return Ok(());
    };
    let current = entry
        .expire_at()
        .map(|t| i64::try_from(t).unwrap_or(i64::MAX));
    if !cond.allows(current, when) {
        drop(locked);
        ctx.reply().int(0);
        return Ok(());
    }
    if when <= now as i64 && !ctx.ks().replica_expiry() {
        // A deadline already past deletes the key at once. Redis counts this
        // as a deletion (propagated as DEL), not in `expired_keys`. A replica
        // keeps the key, hidden, until its master's DEL arrives.
        locked.remove(db, key);
        locked.dirty(1);
        drop(locked);
        ctx.propagate(vec![
            bytes::Bytes::from_static(b"DEL"),
            bytes::Bytes::copy_from_slice(key),
        ]);
        ctx.notify(class::GENERIC, "del", key);
    } else {
        locked.set_expire(db, key, Some(u64::try_from(when).unwrap_or(0)));
        locked.dirty(1);
        drop(locked);
        // Every form replays as the absolute deadline it set.
        ctx.propagate(vec![
            bytes::Bytes::from_static(b"PEXPIREAT"),
            bytes::Bytes::copy_from_slice(key),
            bytes::Bytes::from(when.to_string()),
        ]);
        ctx.notify(class::GENERIC, "expire", key);
    }
    ctx.reply().int(1);
    Ok(())
}

fn cmd_expire(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms as i64;
    expire_generic(ctx, "expire", now, true)
}

fn cmd_pexpire(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms as i64;
    expire_generic(ctx, "pexpire", now, false)
}

fn cmd_expireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, "expireat", 0, true)
}

fn cmd_pexpireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, "pexpireat", 0, false)
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for a missing key, -1 for a
/// persistent one, else the remaining time (or the deadline when `absolute`),
/// never negative; seconds are rounded to the nearest.
fn ttl_generic(ctx: &mut Ctx, millis: bool, absolute: bool) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let now = ctx.now_ms;
    let mut locked = ctx.ks().lock(db, key, now);
    let reply = match locked.peek(db, key) {
        None => -2,
        Some(e) => match e.expire_at() {
            None => -1,
            Some(at) => {
                let ms = if absolute { at } else { at.saturating_sub(now) };
                // Redis computes (ms + 500) / 1000 in a signed 64-bit integer
                // that wraps for deadlines near i64::MAX and then divides as
                // unsigned; u64 arithmetic gives the same digits.
                let v = if millis { ms } else { (ms + 500) / 1000 };
                i64::try_from(v).unwrap_or(i64::MAX)
            }
        },
    };
    drop(locked);
    ctx.reply().int(reply);
    Ok(())
}

fn cmd_ttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, false)
}

fn cmd_pttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, false)
}

fn cmd_expiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, true)
}

fn cmd_pexpiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, true)
}

fn cmd_persist(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let volatile = locked.get(db, key).is_some_and(|e| e.expire_at().is_some());
    if volatile {
        locked.set_expire(db, key, None);
        locked.dirty(1);
        ctx.notify(class::GENERIC, "persist", key);
    }
    drop(locked);
    ctx.reply().int(volatile as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// KEYS, SCAN, RANDOMKEY
// ---------------------------------------------------------------------------

fn cmd_keys(ctx: &mut Ctx) -> CmdResult {
    let keys = ctx.ks().keys(ctx.db(), ctx.arg(1), ctx.now_ms);
    let mut r = ctx.reply();
    r.array(keys.len());
    for k in &keys {
        r.bulk(k);
    }
    Ok(())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
///
/// The cursor counts shards of the database (see `Keyspace::scan`), so any
/// key that exists from the first call to the last is returned, however the
/// tables grow or shrink in between. A TYPE naming no Redis type matches no
/// key but does not fail, as in Redis 7.0.
fn cmd_scan(ctx: &mut Ctx) -> CmdResult {
    let cursor = parse_cursor(ctx.arg(1)).ok_or(CmdError::from(errors::INVALID_CURSOR))?;
    let mut count: usize = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<&[u8]> = None;
    let opts = ctx.args.get(2..).unwrap_or(&[]);
    let mut i = 0;
    while i < opts.len() {
        let (opt, value) = (&opts[i], opts.get(i + 1));
        match value {
            Some(v) if is(opt, "COUNT") => {
                let n = parse_i64(v)?;
                if n < 1 {
                    return Err(errors::SYNTAX.into());
                }
                count = usize::try_from(n).unwrap_or(usize::MAX);
            }
            Some(v) if is(opt, "MATCH") => {
                pattern = (v.as_ref() != b"*").then_some(v.as_ref());
            }
            Some(v) if is(opt, "TYPE") => type_name = Some(v.as_ref()),
            _ => return Err(errors::SYNTAX.into()),
        }
        i += 2;
    }
    let type_filter = type_name.map(ValueType::from_name);
    let (next, mut keys) = ctx.ks().scan(
        ctx.db(),
        cursor,
        count,
        pattern,
        type_filter.flatten(),
        ctx.now_ms,
    );
    if matches!(type_filter, Some(None)) {
        keys.clear();
    }
    let mut r = ctx.reply();
    r.array(2);
    r.bulk(next.to_string().as_bytes());
    r.array(keys.len());
    for k in &keys {
        r.bulk(k);
    }
    Ok(())
}

fn cmd_randomkey(ctx: &mut Ctx) -> CmdResult {
    match ctx.ks().random_key(ctx.db(), ctx.now_ms) {
        Some(k) => ctx.reply().bulk(&k),
        None => ctx.reply().null(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// RENAME, RENAMENX, COPY, MOVE, SWAPDB
// ---------------------------------------------------------------------------

fn cmd_rename(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, false)
}

fn cmd_renamenx(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, true)
}

/// The value keeps its expiry and access history under the new name; an
/// existing destination is replaced (RENAME) or left alone (RENAMENX).
fn rename_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    let (db, src, dst) = (ctx.db(), ctx.arg(1), ctx.arg(2));
    let mut locked = ctx
        .ks()
        .lock_many([(db, src.as_ref()), (db, dst.as_ref())], ctx.now_ms);
    if locked.get(db, src).is_none() {
        return Err(errors::NO_SUCH_KEY.into());
    }
    // Renaming a key to itself succeeds without doing anything, but only
    // once the key was found; RENAMENX onto an existing key does nothing.
    let blocked = src == dst || (locked.get(db, dst).is_some() && nx);
    if !blocked {
        locked.remove(db, dst);
        if let Some(entry) = locked.remove(db, src) {
            locked.insert_moved(db, dst, entry);
        }
        locked.dirty(1);
        ctx.notify(class::GENERIC, "rename_from", src);
        ctx.notify(class::GENERIC, "rename_to", dst);
    }
    let done = !blocked;
    drop(locked);
    if nx {
        ctx.reply().int(done as i64);
    } else {
        ctx.reply().ok();
    }
    Ok(())
}

/// COPY source destination [DB destination-db] [REPLACE].
fn cmd_copy(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let mut dst_db = db;
    let mut replace = false;
    let opts = ctx.args.get(3..).unwrap_or(&[]);
    let mut i = 0;
    while i < opts.len() {
        let opt = &opts[i];
        if is(opt, "REPLACE") {
            replace = true;
        } else if let (true, Some(v)) = (is(opt, "DB"), opts.get(i + 1)) {
            dst_db = db_index(ctx, parse_int(v)?)?;
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    // Checked before the lookup: a missing key copied onto itself is an
    // error too.
    if dst_db == db && src == dst {
        return Err(errors::SAME_OBJECT.into());
    }
    let mut locked = ctx
        .ks()
        .lock_many([(db, src.as_ref()), (dst_db, dst.as_ref())], ctx.now_ms);
    let Some(entry) = locked.get(db, src) else {
        drop(locked);
        ctx.reply().int(0);
        return Ok(());
    };
    let (value, expire_at) = (entry.value().to_value(), entry.expire_at());
    if locked.get(dst_db, dst).is_some() {
        if !replace {
            drop(locked);
            ctx.reply().int(0);
            return Ok(());
        }
        locked.remove(dst_db, dst);
    }
    locked.insert_copy(dst_db, dst, value, expire_at);
    locked.dirty(1);
    drop(locked);
    ctx.notify_db(class::GENERIC, "copy_to", dst_db, dst);
    ctx.reply().int(1);
    Ok(())
}

/// MOVE key db: the same value, expiry and access history, in another
/// database; nothing happens if the key exists there already.
fn cmd_move(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let dst_db = db_index(ctx, parse_int(ctx.arg(2))?)?;
    if dst_db == db {
        return Err(errors::SAME_OBJECT.into());
    }
    let mut locked = ctx
        .ks()
        .lock_many([(db, key.as_ref()), (dst_db, key.as_ref())], ctx.now_ms);
    let moved = locked.get(db, key).is_some() && !locked.contains(dst_db, key);
    if moved {
        if let Some(entry) = locked.remove(db, key) {
            locked.insert_moved(dst_db, key, entry);
        }
        locked.dirty(1);
        ctx.notify(class::GENERIC, "move_from", key);
        ctx.notify_db(class::GENERIC, "move_to", dst_db, key);
    }
    drop(locked);
    ctx.reply().int(moved as i64);
    Ok(())
}

/// SWAPDB index1 index2. Both indexes are parsed before either is range
/// checked, so a malformed second index is reported even when the first is
/// out of range. Clients of either database see the other's keys at once,
/// since sessions name databases by index.
fn cmd_swapdb(ctx: &mut Ctx) -> CmdResult {
    let a = parse_int(ctx.arg(1)).map_err(|_| CmdError::from(errors::INVALID_FIRST_DB))?;
    let b = parse_int(ctx.arg(2)).map_err(|_| CmdError::from(errors::INVALID_SECOND_DB))?;
    let a = db_index(ctx, a)?;
    let b = db_index(ctx, b)?;
    ctx.ks().swap_dbs(a, b);
    ctx.ks().stats.dirty.fetch_add(1, Ordering::Relaxed);
    ctx.ok()
}

// ---------------------------------------------------------------------------
// OBJECT
// ---------------------------------------------------------------------------

/// Looks up OBJECT's key without recording an access. `None` means the
/// reply (null) has been written.
fn object_lookup<T>(
    ctx: &mut Ctx,
    f: impl FnOnce(&Ctx, &ferrocache_store::Entry) -> T,
) -> Option<T> {
    let (db, key) = (ctx.db(), ctx.arg(2));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let found = locked.peek(db, key).map(|e| f(ctx, e));
    drop(locked);
    if found.is_none() {
        ctx.reply().null();
    }
    found
}

fn cmd_object_encoding(ctx: &mut Ctx) -> CmdResult {
    if let Some(name) = object_lookup(ctx, |_, e| e.value().encoding_name()) {
        ctx.reply().bulk(name.as_bytes());
    }
    Ok(())
}

fn cmd_object_freq(ctx: &mut Ctx) -> CmdResult {
    sync_access_policy(ctx.shared);
    let now = ctx.now_ms;
    let freq = object_lookup(ctx, |c, e| c.ks().access_frequency(e, now));
    if let Some(freq) = freq {
        if !ctx.ks().lfu() {
            return Err(errors::LFU_NOT_SELECTED.into());
        }
        ctx.reply().int(freq as i64);
    }
    Ok(())
}

fn cmd_object_idletime(ctx: &mut Ctx) -> CmdResult {
    sync_access_policy(ctx.shared);
    let now = ctx.now_ms;
    let idle = object_lookup(ctx, |c, e| c.ks().idle_ms(e, now));
    if let Some(idle) = idle {
        if ctx.ks().lfu() {
            return Err(errors::LFU_SELECTED.into());
        }
        ctx.reply().int((idle / 1000) as i64);
    }
    Ok(())
}

/// Values have one owner, except that Redis keeps a single shared object for
/// each integer 0..9999 and hands it to every key set to that number, unless
/// an LRU or LFU policy with a memory limit needs per-key access fields. The
/// shared objects report a reference count of `INT_MAX`.
fn cmd_object_refcount(ctx: &mut Ctx) -> CmdResult {
    let small_int = object_lookup(ctx, |_, e| {
        !e.is_copy()
            && matches!(e.value(), ValueRef::Str(StrRef::Int(n)) if (0..10_000).contains(&n))
    });
    let Some(small_int) = small_int else {
        return Ok(());
    };
    let config = &ctx.shared.config;
    let policy = config.get("maxmemory-policy").unwrap_or_default();
    let sharing = config.get_i64("maxmemory").unwrap_or(0) == 0
        || !(policy.ends_with("-lru") || policy.ends_with("-lfu"));
    let refcount = if small_int && sharing {
        i32::MAX as i64
    } else {
        1
    };
    ctx.reply().int(refcount);
    Ok(())
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn cmd_object_help(ctx: &mut Ctx) -> CmdResult {
    let mut r = ctx.reply();
    r.array(OBJECT_HELP.len());
    for line in OBJECT_HELP {
        r.simple(line);
    }
    Ok(())
}

/// The MATCH pattern of HSCAN, SSCAN and ZSCAN (`None` for none, or `*`).
/// COUNT is checked and otherwise a hint: these return the whole
/// collection in one call, which meets every SCAN guarantee.
pub fn collection_scan_pattern(opts: &[bytes::Bytes]) -> Result<Option<&[u8]>, CmdError> {
    let mut pattern = None;
    let mut i = 0;
    while i < opts.len() {
        match (&opts[i], opts.get(i + 1)) {
            (opt, Some(v)) if crate::args::is(opt, "COUNT") => {
                if crate::args::parse_i64(v)? < 1 {
                    return Err(errors::SYNTAX.into());
                }
            }
            (opt, Some(v)) if crate::args::is(opt, "MATCH") => {
                pattern = (v.as_ref() != b"*").then_some(v.as_ref());
            }
            _ => return Err(errors::SYNTAX.into()),
        }
        i += 2;
    }
    Ok(pattern)
}

/// A scan of a missing key: cursor 0, nothing.
pub fn reply_empty_scan(ctx: &mut Ctx) {
    let mut r = ctx.reply();
    r.array(2);
    r.bulk(b"0");
    r.array(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"+7"), Some(7));
        assert_eq!(parse_cursor(b"007"), Some(7));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b"12\0junk"), Some(12));
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1 "), None);
        assert_eq!(parse_cursor(b"-"), None);
        assert_eq!(parse_cursor(b"1.5"), None);
        assert_eq!(parse_cursor(b"abc"), None);
    }

    #[test]
    fn expire_conditions_treat_persistent_keys_as_infinite() {
        let gt = ExpireCond {
            gt: true,
            ..Default::default()
        };
        let lt = ExpireCond {
            lt: true,
            ..Default::default()
        };
        assert!(!gt.allows(None, 5));
        assert!(gt.allows(Some(4), 5));
        assert!(!gt.allows(Some(5), 5));
        assert!(lt.allows(None, 5));
        assert!(lt.allows(Some(6), 5));
        assert!(!lt.allows(Some(5), 5));
    }
}
