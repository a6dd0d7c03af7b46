//! List commands (Redis's `t_list.c` group). The blocking ones (BLPOP,
//! BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) serve at once when they can and
//! otherwise park through [`crate::blocking`], with one [`BlockedOp`] per
//! kind of list operation.
//!
//! Order of checks follows Redis 7.0 exactly, since it shows in replies:
//! most commands parse their numeric arguments before looking the key up
//! (so a bad number wins over WRONGTYPE), but LINDEX and LSET look the key
//! up first. A list emptied by a command is deleted in the same command.

use crate::args::{is, parse_i64};
use crate::blocking::{parse_timeout, serve_or_block, Attempt, BlockedOp, ServeCtx};
use crate::context::{CmdError, CmdResult, Ctx};
use crate::errors;
use crate::notify::class;
use crate::string::lookup_read;
use crate::table::{command, flags::*, keys, keys_counted, Command, Group};
use bytes::Bytes;
use ferrocache_protocol::Encoder;
use ferrocache_store::list::{End, List, NodeLimit};
use ferrocache_store::{Entry, Locked, Value, ValueRef};

pub static COMMANDS: &[Command] = &[
    command("lpush", -3, WRITE | DENYOOM | FAST, keys(1, 1, 1), Group::List, "1.0.0",
        "Prepends one or more elements to a list. Creates the key if it doesn't exist.", cmd_lpush),
    command("rpush", -3, WRITE | DENYOOM | FAST, keys(1, 1, 1), Group::List, "1.0.0",
        "Appends one or more elements to a list. Creates the key if it doesn't exist.", cmd_rpush),
    command("lpushx", -3, WRITE | DENYOOM | FAST, keys(1, 1, 1), Group::List, "2.2.0",
        "Prepends one or more elements to a list only when the list exists.", cmd_lpushx),
    command("rpushx", -3, WRITE | DENYOOM | FAST, keys(1, 1, 1), Group::List, "2.2.0",
        "Appends an element to a list only when the list exists.", cmd_rpushx),
    command("lpop", -2, WRITE | FAST, keys(1, 1, 1), Group::List, "1.0.0",
        "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", cmd_lpop),
    command("rpop", -2, WRITE | FAST, keys(1, 1, 1), Group::List, "1.0.0",
        "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", cmd_rpop),
    command("llen", 2, READONLY | FAST, keys(1, 1, 1), Group::List, "1.0.0",
        "Returns the length of a list.", cmd_llen),
    command("lrange", 4, READONLY, keys(1, 1, 1), Group::List, "1.0.0",
        "Returns a range of elements from a list.", cmd_lrange),
    command("lindex", 3, READONLY, keys(1, 1, 1), Group::List, "1.0.0",
        "Returns an element from a list by its index.", cmd_lindex),
    command("lset", 4, WRITE | DENYOOM, keys(1, 1, 1), Group::List, "1.0.0",
        "Sets the value of an element in a list by its index.", cmd_lset),
    command("linsert", 5, WRITE | DENYOOM, keys(1, 1, 1), Group::List, "2.2.0",
        "Inserts an element before or after another element in a list.", cmd_linsert),
    command("lrem", 4, WRITE, keys(1, 1, 1), Group::List, "1.0.0",
        "Removes elements from a list. Deletes the list if the last element was removed.", cmd_lrem),
    command("ltrim", 4, WRITE, keys(1, 1, 1), Group::List, "1.0.0",
        "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", cmd_ltrim),
    command("lpos", -3, READONLY, keys(1, 1, 1), Group::List, "6.0.6",
        "Returns the index of matching elements in a list.", cmd_lpos),
    command("lmove", 5, WRITE | DENYOOM, keys(1, 2, 1), Group::List, "6.2.0",
        "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", cmd_lmove),
    command("rpoplpush", 3, WRITE | DENYOOM, keys(1, 2, 1), Group::List, "1.2.0",
        "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", cmd_rpoplpush),
    command("lmpop", -4, WRITE | MOVABLE_KEYS, keys_counted(1), Group::List, "7.0.0",
        "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", cmd_lmpop),
    command("blpop", -3, WRITE | NOSCRIPT | BLOCKING, keys(1, -2, 1), Group::List, "2.0.0",
        "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", cmd_blpop),
    command("brpop", -3, WRITE | NOSCRIPT | BLOCKING, keys(1, -2, 1), Group::List, "2.0.0",
        "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", cmd_brpop),
    command("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, keys(1, 2, 1), Group::List, "6.2.0",
        "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", cmd_blmove),
    command("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, keys(1, 2, 1), Group::List, "2.2.0",
        "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", cmd_brpoplpush),
    command("blmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, keys_counted(2), Group::List, "7.0.0",
        "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", cmd_blmpop),
];

/// How large a list may grow in its packed form, from
/// `list-max-listpack-size`.
pub fn node_limit(ctx: &Ctx) -> NodeLimit {
    shared_node_limit(ctx.shared)
}

fn shared_node_limit(shared: &crate::Shared) -> NodeLimit {
    NodeLimit::from_fill(
        shared
            .tuning
            .list_fill
            .load(std::sync::atomic::Ordering::Relaxed),
    )
}

fn end_name(end: End) -> &'static [u8] {
    match end {
        End::Left => b"LEFT",
        End::Right => b"RIGHT",
    }
}

fn pop_command(end: End) -> &'static [u8] {
    match end {
        End::Left => b"LPOP",
        End::Right => b"RPOP",
    }
}

/// The list held by an entry, or WRONGTYPE.
fn as_list(entry: &Entry) -> Result<&List, CmdError> {
    match entry.value() {
        ValueRef::List(l) => Ok(l),
        _ => Err(errors::WRONGTYPE.into()),
    }
}

fn as_list_mut(entry: &mut Entry) -> Result<&mut List, CmdError> {
    match entry.value_mut() {
        Some(Value::List(l)) => Ok(l),
        _ => Err(errors::WRONGTYPE.into()),
    }
}

/// The list at `key` for writing: `Ok(None)` if the key is missing.
fn list_mut<'l>(
    locked: &'l mut Locked<'_>,
    db: usize,
    key: &[u8],
) -> Result<Option<&'l mut List>, CmdError> {
    match locked.get_mut(db, key) {
        None => Ok(None),
        Some(e) => as_list_mut(e).map(Some),
    }
}

/// Deletes `key` if its list has become empty (Redis never keeps empty
/// collections).
/// Deletes a list its command emptied, with the `del` notification.
fn drop_if_empty(ctx: &Ctx, locked: &mut Locked<'_>, db: usize, key: &[u8]) {
    let empty = matches!(locked.peek(db, key), Some(e) if matches!(e.value(), ValueRef::List(l) if l.is_empty()));
    if empty {
        locked.remove(db, key);
        ctx.notify_db(class::GENERIC, "del", db, key);
    }
}

/// The notification a push at `end` sends.
fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if is(arg, "LEFT") {
        Ok(End::Left)
    } else if is(arg, "RIGHT") {
        Ok(End::Right)
    } else {
        Err(errors::SYNTAX.into())
    }
}

// ---------------------------------------------------------------------------
// Pushes

fn push(ctx: &mut Ctx, end: End, only_existing: bool) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let items = &ctx.args[2..];
    let limit = node_limit(ctx);
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let len = match list_mut(&mut locked, db, key)? {
        Some(l) => {
            for i in items {
                l.push(end, i, limit);
            }
            l.len()
        }
        None if only_existing => 0,
        None => {
            let mut l = List::new();
            for i in items {
                l.push(end, i, limit);
            }
            let len = l.len();
            locked.insert(db, key, Value::List(Box::new(l)), None);
            len
        }
    };
    if len > 0 {
        locked.dirty(items.len() as u64);
        ctx.notify(class::LIST, push_event(end), key);
    }
    drop(locked);
    ctx.reply().int(len as i64);
    Ok(())
}

fn cmd_lpush(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Left, false)
}

fn cmd_rpush(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Right, false)
}

fn cmd_lpushx(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Left, true)
}

fn cmd_rpushx(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Right, true)
}

// ---------------------------------------------------------------------------
// Pops

fn pop(ctx: &mut Ctx, end: End) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(errors::wrong_arity(if end == End::Left { "lpop" } else { "rpop" }).into());
    }
    let count = match ctx.args.get(2) {
        None => None,
        Some(a) => {
            let n = parse_i64(a).map_err(|_| CmdError::from(errors::MUST_BE_POSITIVE))?;
            if n < 0 {
                return Err(errors::MUST_BE_POSITIVE.into());
            }
            Some(n)
        }
    };
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let Some(l) = list_mut(&mut locked, db, key)? else {
        drop(locked);
        match count {
            None => ctx.reply().null(),
            Some(_) => ctx.reply().null_array(),
        }
        return Ok(());
    };
    let Some(count) = count else {
        let item = l.pop(end);
        locked.dirty(1);
        ctx.notify(class::LIST, pop_event(end), key);
        drop_if_empty(ctx, &mut locked, db, key);
        drop(locked);
        match item {
            Some(i) => ctx.reply().bulk(&i),
            None => ctx.reply().null(),
        }
        return Ok(());
    };
    let n = usize::try_from(count).unwrap_or(usize::MAX).min(l.len());
    let items: Vec<Box<[u8]>> = (0..n).filter_map(|_| l.pop(end)).collect();
    if n > 0 {
        locked.dirty(n as u64);
        ctx.notify(class::LIST, pop_event(end), key);
    }
    drop_if_empty(ctx, &mut locked, db, key);
    drop(locked);
    let mut r = ctx.reply();
    r.array(items.len());
    for i in &items {
        r.bulk(i);
    }
    Ok(())
}

fn cmd_lpop(ctx: &mut Ctx) -> CmdResult {
    pop(ctx, End::Left)
}

fn cmd_rpop(ctx: &mut Ctx) -> CmdResult {
    pop(ctx, End::Right)
}

// ---------------------------------------------------------------------------
// Reads

fn cmd_llen(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let len = match lookup_read(&mut locked, db, key) {
        None => 0,
        Some(e) => as_list(e)?.len(),
    };
    drop(locked);
    ctx.reply().int(len as i64);
    Ok(())
}

fn cmd_lrange(ctx: &mut Ctx) -> CmdResult {
    let start = parse_i64(ctx.arg(2))?;
    let end = parse_i64(ctx.arg(3))?;
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let Some(e) = lookup_read(&mut locked, db, key) else {
        drop(locked);
        ctx.reply().array(0);
        return Ok(());
    };
    let l = as_list(e)?;
    let mut r = ctx.reply();
    match l.clamp_range(start, end) {
        None => r.array(0),
        Some((first, last)) => {
            r.array(last - first + 1);
            for i in l.range(first, last) {
                r.bulk(i);
            }
        }
    }
    Ok(())
}

fn cmd_lindex(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let Some(e) = lookup_read(&mut locked, db, key) else {
        drop(locked);
        ctx.reply().null();
        return Ok(());
    };
    let l = as_list(e)?;
    let index = parse_i64(ctx.arg(2))?;
    let mut r = ctx.reply();
    match l.position(index).and_then(|p| l.get(p)) {
        Some(i) => r.bulk(i),
        None => r.null(),
    }
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num] [MAXLEN len].
fn cmd_lpos(ctx: &mut Ctx) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut opts = ctx.args.get(3..).unwrap_or(&[]).iter();
    while let Some(opt) = opts.next() {
        let value = opts.next();
        match value {
            Some(v) if is(opt, "RANK") => {
                rank = parse_i64(v)?;
                if rank == 0 {
                    return Err(errors::LPOS_RANK_ZERO.into());
                }
            }
            Some(v) if is(opt, "COUNT") => {
                let n = parse_i64(v).map_err(|_| CmdError::from(errors::LPOS_COUNT))?;
                if n < 0 {
                    return Err(errors::LPOS_COUNT.into());
                }
                count = Some(n);
            }
            Some(v) if is(opt, "MAXLEN") => {
                let n = parse_i64(v).map_err(|_| CmdError::from(errors::LPOS_MAXLEN))?;
                if n < 0 {
                    return Err(errors::LPOS_MAXLEN.into());
                }
                maxlen = n;
            }
            _ => return Err(errors::SYNTAX.into()),
        }
    }
    let (db, key, needle) = (ctx.db(), ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let found: Vec<usize> = match lookup_read(&mut locked, db, key) {
        None => Vec::new(),
        Some(e) => {
            let l = as_list(e)?;
            // Redis turns RANK i64::MIN into itself when negating it, and
            // then every match satisfies the rank: it acts as RANK -1.
            let from_tail = rank < 0;
            let skip = usize::try_from(rank.unsigned_abs().saturating_sub(1)).unwrap_or(usize::MAX);
            let skip = if rank == i64::MIN { 0 } else { skip };
            let want = match count {
                None => 1,
                Some(0) => usize::MAX,
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            };
            let scan = if maxlen == 0 {
                usize::MAX
            } else {
                usize::try_from(maxlen).unwrap_or(usize::MAX)
            };
            let len = l.len();
            let hits = |(_, e): &(usize, &[u8])| *e == needle.as_ref();
            if from_tail {
                l.iter()
                    .rev()
                    .enumerate()
                    .take(scan)
                    .filter(hits)
                    .skip(skip)
                    .take(want)
                    .map(|(i, _)| len - 1 - i)
                    .collect()
            } else {
                l.iter()
                    .enumerate()
                    .take(scan)
                    .filter(hits)
                    .skip(skip)
                    .take(want)
                    .map(|(i, _)| i)
                    .collect()
            }
        }
    };
    drop(locked);
    let mut r = ctx.reply();
    match count {
        None => match found.first() {
            Some(&i) => r.int(i as i64),
            None => r.null(),
        },
        Some(_) => {
            r.array(found.len());
            for i in found {
                r.int(i as i64);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Edits

fn cmd_lset(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let Some(l) = list_mut(&mut locked, db, key)? else {
        return Err(errors::NO_SUCH_KEY.into());
    };
    let index = parse_i64(ctx.arg(2))?;
    let pos = l
        .position(index)
        .ok_or(CmdError::from(errors::INDEX_OUT_OF_RANGE))?;
    l.set(pos, ctx.arg(3), node_limit(ctx));
    locked.dirty(1);
    drop(locked);
    ctx.notify(class::LIST, "lset", key);
    ctx.ok()
}

fn cmd_linsert(ctx: &mut Ctx) -> CmdResult {
    let after = if is(ctx.arg(2), "AFTER") {
        true
    } else if is(ctx.arg(2), "BEFORE") {
        false
    } else {
        return Err(errors::SYNTAX.into());
    };
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let reply = match list_mut(&mut locked, db, key)? {
        None => 0,
        Some(l) => {
            if l.insert_at_pivot(ctx.arg(3), ctx.arg(4), after, node_limit(ctx)) {
                let len = l.len() as i64;
                locked.dirty(1);
                ctx.notify(class::LIST, "linsert", key);
                len
            } else {
                -1
            }
        }
    };
    drop(locked);
    ctx.reply().int(reply);
    Ok(())
}

fn cmd_lrem(ctx: &mut Ctx) -> CmdResult {
    let count = parse_i64(ctx.arg(2))?;
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let removed = match list_mut(&mut locked, db, key)? {
        None => 0,
        Some(l) => l.remove_matching(ctx.arg(3), count),
    };
    if removed > 0 {
        locked.dirty(removed as u64);
        ctx.notify(class::LIST, "lrem", key);
        drop_if_empty(ctx, &mut locked, db, key);
    }
    drop(locked);
    ctx.reply().int(removed as i64);
    Ok(())
}

fn cmd_ltrim(ctx: &mut Ctx) -> CmdResult {
    let start = parse_i64(ctx.arg(2))?;
    let end = parse_i64(ctx.arg(3))?;
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    if let Some(l) = list_mut(&mut locked, db, key)? {
        let before = l.len();
        let keep = l.clamp_range(start, end);
        l.retain_range(keep);
        let removed = before - l.len();
        locked.dirty(removed as u64);
        ctx.notify(class::LIST, "ltrim", key);
        drop_if_empty(ctx, &mut locked, db, key);
    }
    drop(locked);
    ctx.ok()
}

// ---------------------------------------------------------------------------
// Moves between lists and multi-key pops

/// Pops from `src` at `from` and pushes to `dst` at `to`, answering with the
/// element or a null when `src` does not exist.
fn lmove(ctx: &mut Ctx, from: End, to: End) -> CmdResult {
    let (db, src, dst) = (ctx.db(), ctx.arg(1), ctx.arg(2));
    let limit = node_limit(ctx);
    let mut locked = ctx
        .ks()
        .lock_many([(db, src.as_ref()), (db, dst.as_ref())], ctx.now_ms);
    if list_mut(&mut locked, db, src)?.is_none() {
        drop(locked);
        ctx.reply().null();
        return Ok(());
    }
    // The destination's type is checked before anything is popped.
    list_mut(&mut locked, db, dst)?;
    let Some(item) = list_mut(&mut locked, db, src)?.and_then(|l| l.pop(from)) else {
        drop(locked);
        ctx.reply().null();
        return Ok(());
    };
    match list_mut(&mut locked, db, dst)? {
        Some(l) => l.push(to, &item, limit),
        None => {
            let mut l = List::new();
            l.push(to, &item, limit);
            locked.insert(db, dst, Value::List(Box::new(l)), None);
        }
    }
    locked.dirty(2);
    ctx.notify(class::LIST, push_event(to), dst);
    ctx.notify(class::LIST, pop_event(from), src);
    drop_if_empty(ctx, &mut locked, db, src);
    drop(locked);
    ctx.reply().bulk(&item);
    Ok(())
}

fn cmd_lmove(ctx: &mut Ctx) -> CmdResult {
    let from = parse_end(ctx.arg(3))?;
    let to = parse_end(ctx.arg(4))?;
    lmove(ctx, from, to)
}

fn cmd_rpoplpush(ctx: &mut Ctx) -> CmdResult {
    lmove(ctx, End::Right, End::Left)
}

/// `numkeys key [key ...] LEFT|RIGHT [COUNT count]` (LMPOP's arguments,
/// BLMPOP's after the timeout): the keys, the end and the count.
fn parse_mpop(args: &[Bytes]) -> Result<(&[Bytes], End, usize), CmdError> {
    let numkeys = args
        .first()
        .and_then(|a| parse_i64(a).ok())
        .filter(|n| *n > 0)
        .ok_or(CmdError::from(errors::NUMKEYS_POSITIVE))?;
    let rest = &args[1..];
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys >= rest.len() {
        return Err(errors::SYNTAX.into());
    }
    let keys = &rest[..numkeys];
    let end = parse_end(&rest[numkeys])?;
    let mut count: Option<i64> = None;
    let mut opts = rest[numkeys + 1..].iter();
    while let Some(opt) = opts.next() {
        match opts.next() {
            Some(v) if is(opt, "COUNT") && count.is_none() => {
                let n = parse_i64(v)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(CmdError::from(errors::COUNT_POSITIVE))?;
                count = Some(n);
            }
            _ => return Err(errors::SYNTAX.into()),
        }
    }
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    Ok((keys, end, count))
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn cmd_lmpop(ctx: &mut Ctx) -> CmdResult {
    let (keys, end, count) = parse_mpop(&ctx.args[1..])?;
    let db = ctx.db();
    let mut locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    for key in keys {
        let Some(l) = list_mut(&mut locked, db, key)? else {
            continue;
        };
        let n = count.min(l.len());
        let items: Vec<Box<[u8]>> = (0..n).filter_map(|_| l.pop(end)).collect();
        locked.dirty(n as u64);
        ctx.notify(class::LIST, pop_event(end), key);
        drop_if_empty(ctx, &mut locked, db, key);
        drop(locked);
        let mut r = ctx.reply();
        r.array(2);
        r.bulk(key);
        r.array(items.len());
        for i in &items {
            r.bulk(i);
        }
        return Ok(());
    }
    drop(locked);
    ctx.reply().null_array();
    Ok(())
}

// ---------------------------------------------------------------------------
// Blocking commands
//
// Each handler parses its arguments in Redis's order, looks for data with
// the shards of all its keys held, and serves at once with the same
// `BlockedOp` that serves it later if it blocks. A key of another type is
// WRONGTYPE when the command runs, but once blocked a client just keeps
// waiting if its key becomes something other than a list (Redis 7.0).
//
// Redis 7.0 refuses BLPOP, BRPOP, BLMOVE and BRPOPLPUSH in scripts
// (`noscript`) but lets BLMPOP run there, without blocking.

/// Deletes a list emptied while serving a blocked client, with the `del`
/// notification.
fn drop_if_empty_served(cx: &ServeCtx, locked: &mut Locked<'_>, key: &[u8]) {
    let empty = matches!(locked.peek(cx.db, key), Some(e) if matches!(e.value(), ValueRef::List(l) if l.is_empty()));
    if empty {
        locked.remove(cx.db, key);
        cx.notify(class::GENERIC, "del", key);
    }
}

/// The non-empty list at `key`, if that is what it holds.
fn ready_list<'l>(locked: &'l mut Locked<'_>, db: usize, key: &[u8]) -> Option<&'l mut List> {
    match locked.get_mut(db, key).and_then(|e| e.value_mut()) {
        Some(Value::List(l)) if !l.is_empty() => Some(l),
        _ => None,
    }
}

/// A blocked list pop: BLPOP/BRPOP (`count` None: one element, answered as
/// `[key, element]`, journaled as `LPOP key`) or BLMPOP (up to `count`,
/// answered as `[key, [elements]]`, journaled as `LPOP key n`).
struct ListPop {
    end: End,
    count: Option<usize>,
}

impl BlockedOp for ListPop {
    fn accepts(&self, value: ValueRef<'_>) -> bool {
        matches!(value, ValueRef::List(_))
    }

    fn serve(
        &self,
        cx: &ServeCtx,
        locked: &mut Locked<'_>,
        key: &Bytes,
        reply: &mut Encoder<'_>,
    ) -> Attempt {
        let Some(l) = ready_list(locked, cx.db, key) else {
            return Attempt::NotReady;
        };
        let n = self.count.unwrap_or(1).min(l.len());
        let items: Vec<Box<[u8]>> = (0..n).filter_map(|_| l.pop(self.end)).collect();
        locked.dirty(n as u64);
        cx.notify(class::LIST, pop_event(self.end), key);
        drop_if_empty_served(cx, locked, key);
        reply.array(2);
        reply.bulk(key);
        match self.count {
            None => {
                cx.propagate(&[pop_command(self.end), key]);
                match items.first() {
                    Some(i) => reply.bulk(i),
                    None => reply.null(),
                }
            }
            Some(_) => {
                cx.propagate(&[pop_command(self.end), key, n.to_string().as_bytes()]);
                reply.array(items.len());
                for i in &items {
                    reply.bulk(i);
                }
            }
        }
        Attempt::Answered
    }

    fn timeout_reply(&self, reply: &mut Encoder<'_>) {
        reply.null_array();
    }
}

/// BLMOVE and BRPOPLPUSH: one element moved to `dst`, answered with the
/// element. A destination of another type answers WRONGTYPE and leaves the
/// element where it was, for the next waiter.
struct ListMove {
    from: End,
    to: End,
    dst: [Bytes; 1],
}

impl BlockedOp for ListMove {
    fn accepts(&self, value: ValueRef<'_>) -> bool {
        matches!(value, ValueRef::List(_))
    }

    /// The destination's type is checked before anything is popped.
    fn precheck(&self, db: usize, locked: &mut Locked<'_>) -> Result<(), CmdError> {
        list_mut(locked, db, &self.dst[0]).map(|_| ())
    }

    fn extra_keys(&self) -> &[Bytes] {
        &self.dst
    }

    fn serve(
        &self,
        cx: &ServeCtx,
        locked: &mut Locked<'_>,
        key: &Bytes,
        reply: &mut Encoder<'_>,
    ) -> Attempt {
        let (db, dst) = (cx.db, &self.dst[0]);
        if ready_list(locked, db, key).is_none() {
            return Attempt::NotReady;
        }
        if list_mut(locked, db, dst).is_err() {
            reply.error(errors::WRONGTYPE);
            return Attempt::Answered;
        }
        let Some(item) = ready_list(locked, db, key).and_then(|l| l.pop(self.from)) else {
            return Attempt::NotReady;
        };
        let limit = shared_node_limit(cx.shared);
        match list_mut(locked, db, dst) {
            Ok(Some(l)) => l.push(self.to, &item, limit),
            _ => {
                let mut l = List::new();
                l.push(self.to, &item, limit);
                locked.insert(db, dst, Value::List(Box::new(l)), None);
            }
        }
        locked.dirty(2);
        cx.notify(class::LIST, push_event(self.to), dst);
        cx.notify(class::LIST, pop_event(self.from), key);
        drop_if_empty_served(cx, locked, key);
        cx.propagate(&[b"LMOVE", key, dst, end_name(self.from), end_name(self.to)]);
        reply.bulk(&item);
        Attempt::Answered
    }

    /// Redis answers a timed out BLMOVE with a null array, not the null
    /// bulk string it answers inside MULTI.
    fn timeout_reply(&self, reply: &mut Encoder<'_>) {
        reply.null_array();
    }

    fn no_wait_reply(&self, reply: &mut Encoder<'_>) {
        reply.null();
    }
}

/// BLPOP/BRPOP key [key ...] timeout
fn bpop(ctx: &mut Ctx, end: End) -> CmdResult {
    let last = ctx.args.len() - 1;
    let deadline = parse_timeout(ctx.arg(last), std::time::Instant::now())?;
    let keys = &ctx.args[1..last];
    let db = ctx.db();
    let locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    serve_or_block(
        ctx,
        locked,
        keys,
        deadline,
        Box::new(ListPop { end, count: None }),
    )
}

fn cmd_blpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, End::Left)
}

fn cmd_brpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, End::Right)
}

fn blmove(ctx: &mut Ctx, from: End, to: End, timeout: &[u8]) -> CmdResult {
    let deadline = parse_timeout(timeout, std::time::Instant::now())?;
    let (db, src, dst) = (ctx.db(), ctx.arg(1), ctx.arg(2));
    let locked = ctx
        .ks()
        .lock_many([(db, src.as_ref()), (db, dst.as_ref())], ctx.now_ms);
    let op = ListMove {
        from,
        to,
        dst: [dst.clone()],
    };
    serve_or_block(
        ctx,
        locked,
        std::slice::from_ref(src),
        deadline,
        Box::new(op),
    )
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
fn cmd_blmove(ctx: &mut Ctx) -> CmdResult {
    let from = parse_end(ctx.arg(3))?;
    let to = parse_end(ctx.arg(4))?;
    blmove(ctx, from, to, ctx.arg(5))
}

/// BRPOPLPUSH source destination timeout
fn cmd_brpoplpush(ctx: &mut Ctx) -> CmdResult {
    blmove(ctx, End::Right, End::Left, ctx.arg(3))
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn cmd_blmpop(ctx: &mut Ctx) -> CmdResult {
    let deadline = parse_timeout(ctx.arg(1), std::time::Instant::now())?;
    let (keys, end, count) = parse_mpop(&ctx.args[2..])?;
    let db = ctx.db();
    let locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    serve_or_block(
        ctx,
        locked,
        keys,
        deadline,
        Box::new(ListPop {
            end,
            count: Some(count),
        }),
    )
}
