//! Sorted set commands.
//!
//! Values are [`Zset`]s: a listpack-like buffer while small, a hash plus a
//! skiplist past `zset-max-listpack-entries` / `zset-max-listpack-value`
//! (read from the dispatcher's cached copies in [`crate::context::Tuning`]).
//! Every range question (by rank, by score, by lex) is turned into a range
//! of ascending ranks and answered by the store in O(log n) plus the length
//! of the reply.
//!
//! Rules kept from Redis:
//!
//! * A sorted set emptied by any command is deleted at once; a STORE
//!   command whose result is empty deletes its destination (`del` event).
//! * Arguments are parsed (and their errors sent) before the key is looked
//!   up, except where Redis does otherwise: ZUNION and friends check the
//!   type of every source key before parsing WEIGHTS and AGGREGATE.
//! * Scores are sent with `%.17g` (`inf`, `-inf`): bulk strings in RESP2,
//!   doubles in RESP3, where WITHSCORES replies become arrays of pairs.
//! * Sets are accepted wherever Redis accepts them as inputs (ZUNION, ZINTER,
//!   ZDIFF, their STORE forms and ZINTERCARD), each member scoring 1.
//!
//! The pop logic ([`pop`], [`parse_mpop`], [`reply_popped`],
//! [`reply_popped_with_key`], [`pop_argv`]) is public so that the blocking
//! forms (BZPOPMIN, BZPOPMAX, BZMPOP, on [`crate::blocking`]) can be built
//! on it.

use crate::args::{is, parse_i64};
use crate::context::{CmdError, CmdResult, Ctx, Shared};
use crate::errors;
use crate::notify::class;
use crate::string::lookup_read;
use crate::table::{command, flags::*, keys, keys_counted, keys_dest_counted, Command, Group};
use bytes::Bytes;
use ferrocache_protocol::Encoder;
use ferrocache_store::zset::{LexBound, LexRange, Limits, ScoreRange};
use ferrocache_store::{Entry, Locked, Value, ValueRef, Zset};
use std::sync::atomic::Ordering;

const G: Group = Group::SortedSet;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("zadd", -4, WRITE | DENYOOM | FAST, keys(1, 1, 1), G, "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", cmd_zadd),
    command("zincrby", 4, WRITE | DENYOOM | FAST, keys(1, 1, 1), G, "1.2.0", "Increments the score of a member in a sorted set.", cmd_zincrby),
    command("zrem", -3, WRITE | FAST, keys(1, 1, 1), G, "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", cmd_zrem),
    command("zcard", 2, READONLY | FAST, keys(1, 1, 1), G, "1.2.0", "Returns the number of members in a sorted set.", cmd_zcard),
    command("zscore", 3, READONLY | FAST, keys(1, 1, 1), G, "1.2.0", "Returns the score of a member in a sorted set.", cmd_zscore),
    command("zmscore", -3, READONLY | FAST, keys(1, 1, 1), G, "6.2.0", "Returns the score of one or more members in a sorted set.", cmd_zmscore),
    command("zrank", 3, READONLY | FAST, keys(1, 1, 1), G, "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores.", cmd_zrank),
    command("zrevrank", 3, READONLY | FAST, keys(1, 1, 1), G, "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores.", cmd_zrevrank),
    command("zcount", 4, READONLY | FAST, keys(1, 1, 1), G, "2.0.0", "Returns the count of members in a sorted set that have scores within a range.", cmd_zcount),
    command("zlexcount", 4, READONLY | FAST, keys(1, 1, 1), G, "2.8.9", "Returns the number of members in a sorted set within a lexicographical range.", cmd_zlexcount),
    command("zrange", -4, READONLY, keys(1, 1, 1), G, "1.2.0", "Returns members in a sorted set within a range of indexes.", cmd_zrange),
    command("zrangestore", -5, WRITE | DENYOOM, keys(1, 2, 1), G, "6.2.0", "Stores a range of members from sorted set in a key.", cmd_zrangestore),
    command("zrangebyscore", -4, READONLY, keys(1, 1, 1), G, "1.0.5", "Returns members in a sorted set within a range of scores.", cmd_zrangebyscore),
    command("zrevrangebyscore", -4, READONLY, keys(1, 1, 1), G, "2.2.0", "Returns members in a sorted set within a range of scores in reverse order.", cmd_zrevrangebyscore),
    command("zrangebylex", -4, READONLY, keys(1, 1, 1), G, "2.8.9", "Returns members in a sorted set within a lexicographical range.", cmd_zrangebylex),
    command("zrevrangebylex", -4, READONLY, keys(1, 1, 1), G, "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order.", cmd_zrevrangebylex),
    command("zrevrange", -4, READONLY, keys(1, 1, 1), G, "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order.", cmd_zrevrange),
    command("zremrangebyrank", 4, WRITE, keys(1, 1, 1), G, "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", cmd_zremrangebyrank),
    command("zremrangebyscore", 4, WRITE, keys(1, 1, 1), G, "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", cmd_zremrangebyscore),
    command("zremrangebylex", 4, WRITE, keys(1, 1, 1), G, "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", cmd_zremrangebylex),
    command("zpopmin", -2, WRITE | FAST, keys(1, 1, 1), G, "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", cmd_zpopmin),
    command("zpopmax", -2, WRITE | FAST, keys(1, 1, 1), G, "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", cmd_zpopmax),
    command("zmpop", -4, WRITE | MOVABLE_KEYS, keys_counted(1), G, "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", cmd_zmpop),
    command("bzpopmin", -3, WRITE | NOSCRIPT | FAST | BLOCKING, keys(1, -2, 1), G, "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", cmd_bzpopmin),
    command("bzpopmax", -3, WRITE | NOSCRIPT | FAST | BLOCKING, keys(1, -2, 1), G, "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped.", cmd_bzpopmax),
    command("bzmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, keys_counted(2), G, "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", cmd_bzmpop),
    command("zrandmember", -2, READONLY, keys(1, 1, 1), G, "6.2.0", "Returns one or more random members from a sorted set.", cmd_zrandmember),
    command("zunion", -3, READONLY | MOVABLE_KEYS, keys_counted(1), G, "6.2.0", "Returns the union of multiple sorted sets.", cmd_zunion),
    command("zinter", -3, READONLY | MOVABLE_KEYS, keys_counted(1), G, "6.2.0", "Returns the intersect of multiple sorted sets.", cmd_zinter),
    command("zdiff", -3, READONLY | MOVABLE_KEYS, keys_counted(1), G, "6.2.0", "Returns the difference between multiple sorted sets.", cmd_zdiff),
    command("zunionstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, keys_dest_counted(1, 2), G, "2.0.0", "Stores the union of multiple sorted sets in a key.", cmd_zunionstore),
    command("zinterstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, keys_dest_counted(1, 2), G, "2.0.0", "Stores the intersect of multiple sorted sets in a key.", cmd_zinterstore),
    command("zdiffstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, keys_dest_counted(1, 2), G, "6.2.0", "Stores the difference of multiple sorted sets in a key.", cmd_zdiffstore),
    command("zintercard", -3, READONLY | MOVABLE_KEYS, keys_counted(1), G, "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.", cmd_zintercard),
    command("zscan", -3, READONLY, keys(1, 1, 1), G, "2.8.0", "Iterates over members and scores of a sorted set.", cmd_zscan),
];

/// Largest number of members ZRANDMEMBER with a negative count will send;
/// past it we answer an error rather than build an unbounded reply.
const RANDOM_REPLY_MAX: u64 = 1 << 24;

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

/// The conversion thresholds, from the dispatcher's cached configuration.
pub fn limits(ctx: &Ctx) -> Limits {
    let t = &ctx.shared.tuning;
    Limits {
        max_entries: t.zset_max_listpack_entries.load(Ordering::Relaxed) as usize,
        max_value: t.zset_max_listpack_value.load(Ordering::Relaxed) as usize,
    }
}

/// The sorted set held by an entry, or WRONGTYPE.
pub fn as_zset(entry: &Entry) -> Result<&Zset, CmdError> {
    match entry.value() {
        ValueRef::ZSet(z) => Ok(z),
        _ => Err(errors::WRONGTYPE.into()),
    }
}

fn read_zset<'l>(
    locked: &'l mut Locked<'_>,
    db: usize,
    key: &[u8],
) -> Result<Option<&'l Zset>, CmdError> {
    lookup_read(locked, db, key).map(as_zset).transpose()
}

fn zset_mut<'l>(
    locked: &'l mut Locked<'_>,
    db: usize,
    key: &[u8],
) -> Result<Option<&'l mut Zset>, CmdError> {
    match locked.get_mut(db, key) {
        None => Ok(None),
        Some(e) => match e.value_mut() {
            Some(Value::ZSet(z)) => Ok(Some(z)),
            _ => Err(errors::WRONGTYPE.into()),
        },
    }
}

/// Deletes `key` if its sorted set was emptied, with the `del` event.
fn drop_if_empty(shared: &Shared, locked: &mut Locked<'_>, db: usize, key: &[u8]) {
    let empty = matches!(locked.get(db, key), Some(e) if matches!(e.value(), ValueRef::ZSet(z) if z.is_empty()));
    if empty {
        locked.remove(db, key);
        shared.pubsub.notify(class::GENERIC, "del", db, key);
    }
}

/// A score as ZADD, ZINCRBY and WEIGHTS accept it (Redis's
/// `getDoubleFromObject`): `strtod` syntax (hexadecimal included) with
/// nothing before or after, no NaN, and no overflow to infinity or
/// underflow to zero (`ERANGE`).
fn parse_score(arg: &[u8]) -> Result<f64, CmdError> {
    let err = || CmdError::from(errors::NOT_FLOAT);
    if arg.first().is_none_or(|b| b.is_ascii_whitespace()) {
        return Err(err());
    }
    let v = strtod_full(arg).ok_or_else(err)?;
    let lower = arg.to_ascii_lowercase();
    if v.is_infinite() && !lower.windows(3).any(|w| w == b"inf") {
        return Err(err());
    }
    if v == 0.0 {
        // Underflow: a nonzero mantissa that came out as zero.
        let hex = lower.windows(2).any(|w| w == b"0x");
        let mantissa_end = lower
            .iter()
            .position(|&b| if hex { b == b'p' } else { b == b'e' })
            .unwrap_or(lower.len());
        let digits = &lower[..mantissa_end];
        let nonzero = if hex {
            digits
                .iter()
                .skip_while(|&&b| b != b'x')
                .skip(1)
                .any(|&b| b.is_ascii_hexdigit() && b != b'0')
        } else {
            digits.iter().any(|&b| (b'1'..=b'9').contains(&b))
        };
        if nonzero {
            return Err(err());
        }
    }
    Ok(v)
}

/// The whole of `text` read as C's `strtod` reads a number: decimal or
/// hexadecimal (`0x1.8p3`), `inf`/`infinity`; never NaN. Trailing bytes
/// (spaces included) fail.
fn strtod_full(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    let lower = s.to_ascii_lowercase();
    let neg = lower.starts_with('-');
    let body = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    let v = match body {
        "inf" | "infinity" => f64::INFINITY,
        t if t.starts_with("nan") => return None,
        t if t.starts_with("0x") => parse_hex_float(&t[2..])?,
        _ => {
            // Rust's parser would take these words; strtod spells them
            // as above only.
            if body.starts_with(['i', 'n']) {
                return None;
            }
            body.parse::<f64>().ok()?
        }
    };
    let v = if neg { -v } else { v };
    (!v.is_nan()).then_some(v)
}

/// `h[.h][p[+-]d]` after the `0x`.
fn parse_hex_float(t: &str) -> Option<f64> {
    let (mantissa, exp) = match t.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (t, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// One end of a score range. Redis reads it with a bare `strtod`: leading
/// spaces and an empty string (zero) pass, overflow gives infinity, NaN
/// and trailing bytes fail.
fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (text, ex) = match arg.first() {
        Some(b'(') => (&arg[1..], true),
        _ => (arg, false),
    };
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let text = &text[start..];
    if text.is_empty() {
        return Some((0.0, ex));
    }
    strtod_full(text).map(|v| (v, ex))
}

pub fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some((min, min_ex)), Some((max, max_ex))) => Ok(ScoreRange {
            min,
            min_ex,
            max,
            max_ex,
        }),
        _ => Err(errors::MIN_MAX_NOT_FLOAT.into()),
    }
}

fn parse_lex_bound(arg: &Bytes) -> Option<LexBound> {
    match arg.first()? {
        b'+' if arg.len() == 1 => Some(LexBound::PosInf),
        b'-' if arg.len() == 1 => Some(LexBound::NegInf),
        b'(' => Some(LexBound::Excl(arg.slice(1..))),
        b'[' => Some(LexBound::Incl(arg.slice(1..))),
        _ => None,
    }
}

pub fn parse_lex_range(min: &Bytes, max: &Bytes) -> Result<LexRange, CmdError> {
    match (parse_lex_bound(min), parse_lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(errors::MIN_MAX_NOT_LEX.into()),
    }
}

/// Writes `n` members, with their scores when `withscores`: a flat array in
/// RESP2, an array of pairs in RESP3.
fn reply_members<'a>(
    r: &mut Encoder,
    withscores: bool,
    items: impl ExactSizeIterator<Item = (&'a [u8], f64)>,
) {
    let n = items.len();
    let resp3 = r.is_resp3();
    if withscores && !resp3 {
        r.array(n * 2);
    } else {
        r.array(n);
    }
    for (m, s) in items {
        if withscores && resp3 {
            r.array(2);
        }
        r.bulk(m);
        if withscores {
            r.double(s);
        }
    }
}

fn reply_owned(r: &mut Encoder, withscores: bool, items: &[(Bytes, f64)]) {
    reply_members(r, withscores, items.iter().map(|(m, s)| (&m[..], *s)));
}

// ---------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM.
// ---------------------------------------------------------------------------

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// ZADD and ZINCRBY (which is ZADD INCR).
fn zadd_generic(ctx: &mut Ctx, mut f: AddFlags) -> CmdResult {
    // Redis reads options after the key for ZINCRBY too (`ZINCRBY k nx m`
    // is a syntax error, not an increment of "nx").
    let mut i = 2;
    while let Some(a) = ctx.args.get(i) {
        match () {
            _ if is(a, "nx") => f.nx = true,
            _ if is(a, "xx") => f.xx = true,
            _ if is(a, "gt") => f.gt = true,
            _ if is(a, "lt") => f.lt = true,
            _ if is(a, "ch") => f.ch = true,
            _ if is(a, "incr") => f.incr = true,
            _ => break,
        }
        i += 1;
    }
    let pairs = ctx.args.get(i..).unwrap_or(&[]);
    if pairs.is_empty() || pairs.len() % 2 != 0 {
        return Err(errors::SYNTAX.into());
    }
    if f.nx && f.xx {
        return Err(errors::ZADD_XX_NX.into());
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(errors::ZADD_GT_LT_NX.into());
    }
    if f.incr && pairs.len() > 2 {
        return Err(errors::ZADD_INCR_PAIR.into());
    }
    let scores: Vec<f64> = pairs
        .chunks_exact(2)
        .map(|p| parse_score(&p[0]))
        .collect::<Result<_, _>>()?;
    let limits = limits(ctx);
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let exists = match locked.get(db, key) {
        Some(e) => {
            as_zset(e)?;
            true
        }
        None => false,
    };
    if !exists {
        if f.xx {
            drop(locked);
            if f.incr {
                ctx.reply().null();
            } else {
                ctx.reply().int(0);
            }
            return Ok(());
        }
        let first_len = pairs.get(1).map_or(0, |m| m.len());
        locked.insert(
            db,
            key,
            Value::ZSet(Zset::for_first(first_len, limits)),
            None,
        );
    }
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last_score = 0.0;
    let mut nan = false;
    if let Some(z) = zset_mut(&mut locked, db, key)? {
        for (pair, &score) in pairs.chunks_exact(2).zip(&scores) {
            let member = &pair[1];
            match z.score(member) {
                Some(cur) => {
                    if f.nx {
                        continue;
                    }
                    let new = if f.incr { cur + score } else { score };
                    if new.is_nan() {
                        nan = true;
                        break;
                    }
                    if (f.lt && new >= cur) || (f.gt && new <= cur) {
                        continue;
                    }
                    last_score = new;
                    processed += 1;
                    if new != cur {
                        z.insert(member, new, limits);
                        updated += 1;
                    }
                }
                None => {
                    if f.xx {
                        continue;
                    }
                    z.insert(member, score, limits);
                    last_score = score;
                    added += 1;
                    processed += 1;
                }
            }
        }
    }
    if added + updated > 0 {
        locked.dirty((added + updated) as u64);
        ctx.notify(class::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    // Never leave an empty sorted set behind (a new key nothing was added to).
    if matches!(locked.get(db, key), Some(e) if matches!(e.value(), ValueRef::ZSet(z) if z.is_empty()))
    {
        locked.remove(db, key);
    }
    drop(locked);
    if nan {
        return Err(errors::ZSCORE_NAN.into());
    }
    if f.incr {
        if processed > 0 {
            ctx.reply().double(last_score);
        } else {
            ctx.reply().null();
        }
    } else {
        ctx.reply().int(if f.ch { added + updated } else { added });
    }
    Ok(())
}

fn cmd_zadd(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, AddFlags::default())
}

fn cmd_zincrby(ctx: &mut Ctx) -> CmdResult {
    let f = AddFlags {
        incr: true,
        ..Default::default()
    };
    zadd_generic(ctx, f)
}

fn cmd_zrem(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let members = ctx.args.get(2..).unwrap_or(&[]);
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let mut removed = 0i64;
    if let Some(z) = zset_mut(&mut locked, db, key)? {
        for m in members {
            removed += z.remove(m).is_some() as i64;
            if z.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        locked.dirty(removed as u64);
        ctx.notify(class::ZSET, "zrem", key);
        drop_if_empty(ctx.shared, &mut locked, db, key);
    }
    drop(locked);
    ctx.reply().int(removed);
    Ok(())
}

// ---------------------------------------------------------------------------
// Point reads.
// ---------------------------------------------------------------------------

fn cmd_zcard(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let n = read_zset(&mut locked, db, key)?.map_or(0, |z| z.len());
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}

fn cmd_zscore(ctx: &mut Ctx) -> CmdResult {
    let (db, key, m) = (ctx.db(), ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let s = read_zset(&mut locked, db, key)?.and_then(|z| z.score(m));
    drop(locked);
    match s {
        Some(s) => ctx.reply().double(s),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn cmd_zmscore(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let members = ctx.args.get(2..).unwrap_or(&[]);
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let z = read_zset(&mut locked, db, key)?;
    let scores: Vec<Option<f64>> = members.iter().map(|m| z.and_then(|z| z.score(m))).collect();
    drop(locked);
    let mut r = ctx.reply();
    r.array(scores.len());
    for s in scores {
        match s {
            Some(s) => r.double(s),
            None => r.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, rev: bool) -> CmdResult {
    let (db, key, m) = (ctx.db(), ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let rank = read_zset(&mut locked, db, key)?.and_then(|z| {
        z.rank(m)
            .map(|(r, _)| if rev { z.len() - 1 - r } else { r })
    });
    drop(locked);
    match rank {
        Some(r) => ctx.reply().int(r as i64),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn cmd_zrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, false)
}

fn cmd_zrevrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, true)
}

fn cmd_zcount(ctx: &mut Ctx) -> CmdResult {
    let range = parse_score_range(ctx.arg(2), ctx.arg(3))?;
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let n = read_zset(&mut locked, db, key)?.map_or(0, |z| {
        let (lo, hi) = z.score_ranks(&range);
        hi - lo
    });
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}

fn cmd_zlexcount(ctx: &mut Ctx) -> CmdResult {
    let range = parse_lex_range(ctx.arg(2), ctx.arg(3))?;
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let n = read_zset(&mut locked, db, key)?.map_or(0, |z| {
        let (lo, hi) = z.lex_ranks(&range);
        hi - lo
    });
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// ZRANGE and its older forms.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// A parsed range request.
enum Query {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

struct RangeSpec {
    query: Query,
    rev: bool,
    /// LIMIT offset count (count < 0: no limit).
    offset: i64,
    count: i64,
}

/// The ascending ranks `lo..hi` a range request selects, and whether the
/// reply walks them backwards.
fn select(z: &Zset, spec: &RangeSpec) -> (usize, usize) {
    let len = z.len() as i64;
    let (lo, hi) = match &spec.query {
        Query::Rank(start, end) => {
            let (mut start, mut end) = (*start, *end);
            if start < 0 {
                start += len;
            }
            if end < 0 {
                end += len;
            }
            start = start.max(0);
            if start > end || start >= len {
                return (0, 0);
            }
            end = end.min(len - 1);
            if spec.rev {
                ((len - 1 - end) as usize, (len - start) as usize)
            } else {
                (start as usize, (end + 1) as usize)
            }
        }
        Query::Score(r) => z.score_ranks(r),
        Query::Lex(r) => z.lex_ranks(r),
    };
    if matches!(spec.query, Query::Rank(..)) {
        return (lo, hi);
    }
    // LIMIT: skip `offset` in reply order, then take `count`. A negative
    // offset skips everything, as Redis's countdown never reaches zero.
    if spec.offset < 0 {
        return (0, 0);
    }
    let avail = hi - lo;
    let skip = (spec.offset as u64).min(avail as u64) as usize;
    let take = if spec.count < 0 {
        avail - skip
    } else {
        (spec.count as u64).min((avail - skip) as u64) as usize
    };
    if spec.rev {
        (hi - skip - take, hi - skip)
    } else {
        (lo + skip, lo + skip + take)
    }
}

/// Parses `[min] [max] [options]` of ZRANGE and friends; `args` starts at
/// the source key. `by`/`rev` preset for the older commands; `store` for
/// ZRANGESTORE (no WITHSCORES).
fn parse_range(
    args: &[Bytes],
    mut by: Option<By>,
    mut rev: Option<bool>,
    store: bool,
) -> Result<(RangeSpec, bool), CmdError> {
    let mut withscores = false;
    let (mut offset, mut count) = (0i64, -1i64);
    let mut j = 3;
    while j < args.len() {
        let a = &args[j];
        let left = args.len() - j - 1;
        if !store && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = parse_i64(&args[j + 1])?;
            count = parse_i64(&args[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(a, "rev") {
            rev = Some(true);
        } else if by.is_none() && is(a, "bylex") {
            by = Some(By::Lex);
        } else if by.is_none() && is(a, "byscore") {
            by = Some(By::Score);
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    let by = by.unwrap_or(By::Rank);
    if count != -1 && by == By::Rank {
        return Err(errors::ZRANGE_LIMIT.into());
    }
    if withscores && by == By::Lex {
        return Err(errors::ZRANGE_BYLEX_WITHSCORES.into());
    }
    let (mut min, mut max) = (&args[1], &args[2]);
    if rev && by != By::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let query = match by {
        By::Rank => Query::Rank(parse_i64(min)?, parse_i64(max)?),
        By::Score => Query::Score(parse_score_range(min, max)?),
        By::Lex => Query::Lex(parse_lex_range(min, max)?),
    };
    Ok((
        RangeSpec {
            query,
            rev,
            offset,
            count,
        },
        withscores,
    ))
}

fn zrange_generic(ctx: &mut Ctx, by: Option<By>, rev: Option<bool>) -> CmdResult {
    let args = ctx.args.get(1..).unwrap_or(&[]);
    let (spec, withscores) = parse_range(args, by, rev, false)?;
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let Some(z) = read_zset(&mut locked, db, key)? else {
        drop(locked);
        ctx.reply().array(0);
        return Ok(());
    };
    let (lo, hi) = select(z, &spec);
    let mut r = Encoder::new(ctx.out, ctx.session.proto);
    let resp3 = r.is_resp3();
    let n = hi - lo;
    if withscores && !resp3 {
        r.array(n * 2);
    } else {
        r.array(n);
    }
    z.for_range(lo, hi, spec.rev, |m, s| {
        if withscores && resp3 {
            r.array(2);
        }
        r.bulk(m);
        if withscores {
            r.double(s);
        }
    });
    Ok(())
}

fn cmd_zrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, None, None)
}

fn cmd_zrevrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, Some(By::Rank), Some(true))
}

fn cmd_zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, Some(By::Score), Some(false))
}

fn cmd_zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, Some(By::Score), Some(true))
}

fn cmd_zrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, Some(By::Lex), Some(false))
}

fn cmd_zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, Some(By::Lex), Some(true))
}

/// Stores `items` at `dst` (replacing whatever it held), or deletes `dst`
/// when there are none; sends `event` or `del`. Returns the stored size.
fn store_result(
    ctx: &Ctx,
    locked: &mut Locked<'_>,
    db: usize,
    dst: &[u8],
    items: &[(Bytes, f64)],
    event: &str,
    listpack_first: bool,
) -> usize {
    if items.is_empty() {
        if locked.remove(db, dst).is_some() {
            locked.dirty(1);
            ctx.notify(class::GENERIC, "del", dst);
        }
        return 0;
    }
    let limits = limits(ctx);
    // Redis builds the result as a skiplist and converts it to a listpack
    // when small enough; which one it ends as decides whether -0 keeps its
    // sign (a listpack drops it), so the encoding is chosen up front.
    let small =
        items.len() <= limits.max_entries && items.iter().all(|(m, _)| m.len() <= limits.max_value);
    let mut z = if small || listpack_first {
        Zset::new()
    } else {
        Zset::for_first(usize::MAX, limits)
    };
    for (m, s) in items {
        z.insert(m, *s, limits);
    }
    let n = z.len();
    locked.insert(db, dst, Value::ZSet(z), None);
    locked.dirty(1);
    ctx.notify(class::ZSET, event, dst);
    n
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
fn cmd_zrangestore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args.get(2..).unwrap_or(&[]);
    let (spec, _) = parse_range(args, None, None, true)?;
    let (db, dst, src) = (ctx.db(), ctx.arg(1), ctx.arg(2));
    let mut locked = ctx
        .ks()
        .lock_many([(db, dst.as_ref()), (db, src.as_ref())], ctx.now_ms);
    let items = match read_zset(&mut locked, db, src)? {
        None => Vec::new(),
        Some(z) => {
            let (lo, hi) = select(z, &spec);
            z.range(lo, hi, spec.rev)
        }
    };
    // ZRANGESTORE starts from a listpack unless a rank range is known to
    // be too long for one.
    let listpack_first = match spec.query {
        Query::Rank(..) => items.len() <= limits(ctx).max_entries,
        _ => true,
    };
    let n = store_result(
        ctx,
        &mut locked,
        db,
        dst,
        &items,
        "zrangestore",
        listpack_first,
    );
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// Removal by range.
// ---------------------------------------------------------------------------

fn zremrange_generic(ctx: &mut Ctx, by: By) -> CmdResult {
    let query = match by {
        By::Rank => Query::Rank(parse_i64(ctx.arg(2))?, parse_i64(ctx.arg(3))?),
        By::Score => Query::Score(parse_score_range(ctx.arg(2), ctx.arg(3))?),
        By::Lex => Query::Lex(parse_lex_range(ctx.arg(2), ctx.arg(3))?),
    };
    let spec = RangeSpec {
        query,
        rev: false,
        offset: 0,
        count: -1,
    };
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let mut removed = 0;
    if let Some(z) = zset_mut(&mut locked, db, key)? {
        let (lo, hi) = select(z, &spec);
        removed = z.remove_range(lo, hi).len();
    }
    if removed > 0 {
        locked.dirty(removed as u64);
        let event = match by {
            By::Rank => "zremrangebyrank",
            By::Score => "zremrangebyscore",
            By::Lex => "zremrangebylex",
        };
        ctx.notify(class::ZSET, event, key);
        drop_if_empty(ctx.shared, &mut locked, db, key);
    }
    drop(locked);
    ctx.reply().int(removed as i64);
    Ok(())
}

fn cmd_zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    zremrange_generic(ctx, By::Rank)
}

fn cmd_zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zremrange_generic(ctx, By::Score)
}

fn cmd_zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    zremrange_generic(ctx, By::Lex)
}

// ---------------------------------------------------------------------------
// Pops (shared with the blocking forms).
// ---------------------------------------------------------------------------

/// Which end of a sorted set to pop from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Min,
    Max,
}

impl End {
    pub fn event(self) -> &'static str {
        match self {
            End::Min => "zpopmin",
            End::Max => "zpopmax",
        }
    }
}

/// Pops up to `count` members from the `end` of the sorted set at `key`
/// (lowest first for `Min`, highest first for `Max`), with the `zpopmin` /
/// `zpopmax` event and, when the set is emptied, its deletion and `del`.
/// `Ok(None)` when the key is missing; WRONGTYPE for another type. It
/// needs only the shared state, so a blocked client can be served with it
/// (`blocking::ServeCtx` has `shared` and `db`).
pub fn pop(
    shared: &Shared,
    locked: &mut Locked<'_>,
    db: usize,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<(Bytes, f64)>>, CmdError> {
    let Some(z) = zset_mut(locked, db, key)? else {
        return Ok(None);
    };
    let len = z.len();
    let n = count.min(len);
    let popped = match end {
        End::Min => z.remove_range(0, n),
        End::Max => {
            let mut v = z.remove_range(len - n, len);
            v.reverse();
            v
        }
    };
    if !popped.is_empty() {
        locked.dirty(popped.len() as u64);
        shared.pubsub.notify(class::ZSET, end.event(), db, key);
        drop_if_empty(shared, locked, db, key);
    }
    Ok(Some(popped))
}

/// Writes popped members: with `key` as ZMPOP does (`[key, [[m, s] ...]]`,
/// nested in both protocols), else as ZPOPMIN does (flat `[m, s, ...]`,
/// nested pairs in RESP3 when `nested`, i.e. a count was given).
pub fn reply_popped(r: &mut Encoder, key: Option<&[u8]>, popped: &[(Bytes, f64)], nested: bool) {
    if let Some(k) = key {
        r.array(2);
        r.bulk(k);
        r.array(popped.len());
        for (m, s) in popped {
            r.array(2);
            r.bulk(m);
            r.double(*s);
        }
        return;
    }
    let pairs = nested && r.is_resp3();
    r.array(if pairs {
        popped.len()
    } else {
        popped.len() * 2
    });
    for (m, s) in popped {
        if pairs {
            r.array(2);
        }
        r.bulk(m);
        r.double(*s);
    }
}

/// The command that replays a pop, as Redis 7.0 replicates ZMPOP (and the
/// blocking pops): `ZPOPMIN|ZPOPMAX key count`, with the count asked for
/// (popping more than the set holds replays the same).
pub fn pop_argv(key: &[u8], end: End, count: usize) -> Vec<Bytes> {
    let name: &'static [u8] = match end {
        End::Min => b"ZPOPMIN",
        End::Max => b"ZPOPMAX",
    };
    vec![
        Bytes::from_static(name),
        Bytes::copy_from_slice(key),
        Bytes::from(count.to_string()),
    ]
}

/// Writes what BZPOPMIN and BZPOPMAX answer: `[key, member, score]`, flat
/// in both protocols (the score a double in RESP3).
pub fn reply_popped_with_key(r: &mut Encoder, key: &[u8], member: &[u8], score: f64) {
    r.array(3);
    r.bulk(key);
    r.bulk(member);
    r.double(score);
}

fn zpop_generic(ctx: &mut Ctx, end: End) -> CmdResult {
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
            Some(usize::try_from(n).unwrap_or(usize::MAX))
        }
    };
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    // A count of zero answers an empty array, once the type is checked.
    if count == Some(0) {
        if let Some(e) = locked.get(db, key) {
            as_zset(e)?;
        }
        drop(locked);
        ctx.reply().array(0);
        return Ok(());
    }
    let popped =
        pop(ctx.shared, &mut locked, db, key, end, count.unwrap_or(1))?.unwrap_or_default();
    drop(locked);
    reply_popped(&mut ctx.reply(), None, &popped, count.is_some());
    Ok(())
}

fn cmd_zpopmin(ctx: &mut Ctx) -> CmdResult {
    zpop_generic(ctx, End::Min)
}

fn cmd_zpopmax(ctx: &mut Ctx) -> CmdResult {
    zpop_generic(ctx, End::Max)
}

/// The arguments of ZMPOP (and BZMPOP after its timeout).
pub struct Mpop<'a> {
    pub keys: &'a [Bytes],
    pub end: End,
    pub count: usize,
}

/// Parses `numkeys key [key ...] MIN|MAX [COUNT count]`.
pub fn parse_mpop(args: &[Bytes]) -> Result<Mpop<'_>, CmdError> {
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
    let end = match &rest[numkeys] {
        a if is(a, "min") => End::Min,
        a if is(a, "max") => End::Max,
        _ => return Err(errors::SYNTAX.into()),
    };
    let mut count: Option<usize> = None;
    let mut opts = rest[numkeys + 1..].iter();
    while let Some(opt) = opts.next() {
        match opts.next() {
            Some(v) if is(opt, "count") && count.is_none() => {
                let n = parse_i64(v)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(CmdError::from(errors::COUNT_POSITIVE))?;
                count = Some(usize::try_from(n).unwrap_or(usize::MAX));
            }
            _ => return Err(errors::SYNTAX.into()),
        }
    }
    Ok(Mpop {
        keys,
        end,
        count: count.unwrap_or(1),
    })
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: pops from the first
/// non-empty key; a null array when every key is missing.
fn cmd_zmpop(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args.get(1..).unwrap_or(&[]);
    let m = parse_mpop(args)?;
    let db = ctx.db();
    let mut locked = ctx
        .ks()
        .lock_many(m.keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    for key in m.keys {
        if let Some(popped) = pop(ctx.shared, &mut locked, db, key, m.end, m.count)? {
            ctx.propagate(pop_argv(key, m.end, m.count));
            drop(locked);
            reply_popped(&mut ctx.reply(), Some(key), &popped, true);
            return Ok(());
        }
    }
    drop(locked);
    ctx.reply().null_array();
    Ok(())
}

// ---------------------------------------------------------------------------
// BZPOPMIN, BZPOPMAX, BZMPOP: the pops above, through the blocking registry
// (see [`crate::blocking`]) when every key is empty.
// ---------------------------------------------------------------------------

/// A blocked sorted set pop: BZPOPMIN/BZPOPMAX (`count` None: one
/// member, answered as `[key, member, score]`) or BZMPOP (up to `count`
/// members, answered as ZMPOP answers).
struct BlockedPop {
    end: End,
    count: Option<usize>,
}

impl crate::blocking::BlockedOp for BlockedPop {
    fn accepts(&self, value: ValueRef<'_>) -> bool {
        matches!(value, ValueRef::ZSet(_))
    }

    fn serve(
        &self,
        cx: &crate::blocking::ServeCtx,
        locked: &mut Locked<'_>,
        key: &Bytes,
        reply: &mut Encoder<'_>,
    ) -> crate::blocking::Attempt {
        let count = self.count.unwrap_or(1);
        match pop(cx.shared, locked, cx.db, key, self.end, count) {
            Ok(Some(popped)) if !popped.is_empty() => {
                let argv = pop_argv(key, self.end, count);
                cx.propagate(&argv.iter().map(|a| &a[..]).collect::<Vec<_>>());
                match self.count {
                    None => reply_popped_with_key(reply, key, &popped[0].0, popped[0].1),
                    Some(_) => reply_popped(reply, Some(key), &popped, true),
                }
                crate::blocking::Attempt::Answered
            }
            _ => crate::blocking::Attempt::NotReady,
        }
    }

    fn timeout_reply(&self, reply: &mut Encoder<'_>) {
        reply.null_array();
    }
}

fn bzpop_generic(ctx: &mut Ctx, end: End) -> CmdResult {
    let last = ctx.args.len() - 1;
    let deadline = crate::blocking::parse_timeout(&ctx.args[last], std::time::Instant::now())?;
    let keys = &ctx.args[1..last];
    let db = ctx.db();
    let locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    crate::blocking::serve_or_block(
        ctx,
        locked,
        keys,
        deadline,
        Box::new(BlockedPop { end, count: None }),
    )
}

fn cmd_bzpopmin(ctx: &mut Ctx) -> CmdResult {
    bzpop_generic(ctx, End::Min)
}

fn cmd_bzpopmax(ctx: &mut Ctx) -> CmdResult {
    bzpop_generic(ctx, End::Max)
}

fn cmd_bzmpop(ctx: &mut Ctx) -> CmdResult {
    let deadline = crate::blocking::parse_timeout(ctx.arg(1), std::time::Instant::now())?;
    let m = parse_mpop(&ctx.args[2..])?;
    let (keys, end, count) = (m.keys, m.end, m.count);
    let db = ctx.db();
    let locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    crate::blocking::serve_or_block(
        ctx,
        locked,
        keys,
        deadline,
        Box::new(BlockedPop {
            end,
            count: Some(count),
        }),
    )
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER.
// ---------------------------------------------------------------------------

/// ZRANDMEMBER key [count [WITHSCORES]]: a positive count gives distinct
/// members (the whole set when the count reaches its size), a negative
/// count that many members drawn with repetition.
fn cmd_zrandmember(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    if ctx.args.len() == 2 {
        let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
        let m = read_zset(&mut locked, db, key)?
            .filter(|z| !z.is_empty())
            .and_then(|z| z.nth(fastrand::usize(..z.len())));
        drop(locked);
        match m {
            Some((m, _)) => ctx.reply().bulk(&m),
            None => ctx.reply().null(),
        }
        return Ok(());
    }
    let l = parse_i64(ctx.arg(2))?;
    if l == i64::MIN {
        return Err(errors::HRANDFIELD_RANGE.into());
    }
    let withscores = match ctx.args.get(3) {
        None => false,
        Some(a) if ctx.args.len() == 4 && is(a, "withscores") => true,
        Some(_) => return Err(errors::SYNTAX.into()),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(errors::OUT_OF_RANGE.into());
    }
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let Some(z) = read_zset(&mut locked, db, key)? else {
        drop(locked);
        ctx.reply().array(0);
        return Ok(());
    };
    let count = l.unsigned_abs();
    let size = z.len();
    if count == 0 || size == 0 {
        drop(locked);
        ctx.reply().array(0);
        return Ok(());
    }
    if l < 0 && count > RANDOM_REPLY_MAX {
        return Err(errors::OUT_OF_RANGE.into());
    }
    let all = z.to_vec();
    drop(locked);
    // Indices into `all`: drawn one at a time while the reply is written
    // for repeated picks (never a vector sized by the count).
    let (n, picks): (usize, Box<dyn Iterator<Item = usize>>) = if l < 0 {
        let n = count as usize;
        (n, Box::new((0..n).map(move |_| fastrand::usize(..size))))
    } else if count >= size as u64 {
        // The whole set, highest first, as Redis sends it.
        (size, Box::new((0..size).rev()))
    } else {
        let mut idx: Vec<usize> = (0..size).collect();
        let count = count as usize;
        for i in 0..count {
            let j = fastrand::usize(i..size);
            idx.swap(i, j);
        }
        idx.truncate(count);
        idx.sort_unstable();
        (count, Box::new(idx.into_iter()))
    };
    let mut r = ctx.reply();
    let resp3 = r.is_resp3();
    r.array(if withscores && !resp3 { n * 2 } else { n });
    for i in picks {
        // Every index is below `size`; the fallback only keeps the reply
        // well formed.
        let (m, s) = all.get(i).map_or((&b""[..], 0.0), |(m, s)| (&m[..], *s));
        if withscores && resp3 {
            r.array(2);
        }
        r.bulk(m);
        if withscores {
            r.double(s);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(acc: &mut f64, v: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *acc += v;
            // inf + -inf: Redis keeps 0 rather than NaN.
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Aggregate::Min => *acc = acc.min(v),
        Aggregate::Max => *acc = acc.max(v),
    }
}

/// One input: its members and scores (a set's members score 1).
struct Source {
    items: Vec<(Bytes, f64)>,
    weight: f64,
}

fn source_of(entry: Option<&Entry>) -> Result<Vec<(Bytes, f64)>, CmdError> {
    Ok(match entry.map(|e| e.value()) {
        None => Vec::new(),
        Some(ValueRef::ZSet(z)) => z.to_vec(),
        Some(ValueRef::Set(s)) => s.members().into_iter().map(|m| (m, 1.0)).collect(),
        Some(_) => return Err(errors::WRONGTYPE.into()),
    })
}

/// The parsed options of a request.
struct SetOpArgs {
    weights: Vec<f64>,
    agg: Aggregate,
    withscores: bool,
    limit: usize,
}

/// Parses `numkeys key [key ...] [options]` (`args` starts at numkeys).
/// The number and the key count are checked first; the options after the
/// types of the sources (see [`parse_setop_options`]).
fn parse_setop_keys<'a>(args: &'a [Bytes], name: &str) -> Result<&'a [Bytes], CmdError> {
    let n = parse_i64(&args[0])?;
    if n < 1 {
        return Err(errors::at_least_one_key(name).into());
    }
    let rest = &args[1..];
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > rest.len() {
        return Err(errors::SYNTAX.into());
    }
    Ok(&rest[..n])
}

fn parse_setop_options<'a>(
    args: &'a [Bytes],
    keys: &'a [Bytes],
    op: SetOp,
    store: bool,
    card: bool,
) -> Result<SetOpArgs, CmdError> {
    let mut a = SetOpArgs {
        weights: vec![1.0; keys.len()],
        agg: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let opts = &args[1 + keys.len()..];
    let mut j = 0;
    while j < opts.len() {
        let o = &opts[j];
        let remaining = opts.len() - j;
        if op != SetOp::Diff && !card && remaining > keys.len() && is(o, "weights") {
            for (i, w) in a.weights.iter_mut().enumerate() {
                *w = parse_score(&opts[j + 1 + i])
                    .map_err(|_| CmdError::from(errors::WEIGHT_NOT_FLOAT))?;
            }
            j += 1 + keys.len();
        } else if op != SetOp::Diff && !card && remaining >= 2 && is(o, "aggregate") {
            let v = &opts[j + 1];
            a.agg = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(errors::SYNTAX.into());
            };
            j += 2;
        } else if !store && !card && is(o, "withscores") {
            a.withscores = true;
            j += 1;
        } else if card && remaining >= 2 && is(o, "limit") {
            let n = parse_i64(&opts[j + 1])
                .ok()
                .filter(|n| *n >= 0)
                .ok_or(CmdError::from(errors::LIMIT_NEGATIVE))?;
            a.limit = usize::try_from(n).unwrap_or(usize::MAX);
            j += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    Ok(a)
}

/// Computes the operation; the result is in no particular order (callers
/// build a sorted set of it). `limit` (non-zero) stops an intersection
/// early, for ZINTERCARD.
fn compute(mut srcs: Vec<Source>, op: SetOp, agg: Aggregate, limit: usize) -> Vec<(Bytes, f64)> {
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    match op {
        SetOp::Union => {
            // Smallest first, as Redis orders its inputs (which fixes the
            // order scores are summed in).
            srcs.sort_by_key(|s| s.items.len());
            let mut acc: std::collections::HashMap<Bytes, f64> = std::collections::HashMap::new();
            let mut order: Vec<Bytes> = Vec::new();
            for src in &srcs {
                for (m, s) in &src.items {
                    let v = weighted(*s, src.weight);
                    match acc.get_mut(m) {
                        Some(cur) => aggregate(cur, v, agg),
                        None => {
                            acc.insert(m.clone(), v);
                            order.push(m.clone());
                        }
                    }
                }
            }
            order
                .into_iter()
                .map(|m| {
                    let s = acc.get(&m).copied().unwrap_or(0.0);
                    (m, s)
                })
                .collect()
        }
        SetOp::Inter => {
            if srcs.iter().any(|s| s.items.is_empty()) {
                return Vec::new();
            }
            srcs.sort_by_key(|s| s.items.len());
            let maps: Vec<std::collections::HashMap<&[u8], f64>> = srcs
                .iter()
                .skip(1)
                .map(|s| s.items.iter().map(|(m, sc)| (&m[..], *sc)).collect())
                .collect();
            let mut out = Vec::new();
            let Some(first) = srcs.first() else {
                return out;
            };
            'outer: for (m, s) in &first.items {
                let mut score = weighted(*s, first.weight);
                for (map, src) in maps.iter().zip(srcs.iter().skip(1)) {
                    match map.get(&m[..]) {
                        // Only the leading score has NaN (inf * 0) zeroed,
                        // as in Redis; a NaN here is absorbed by the
                        // aggregate.
                        Some(v) => aggregate(&mut score, *v * src.weight, agg),
                        None => continue 'outer,
                    }
                }
                out.push((m.clone(), score));
                if limit > 0 && out.len() >= limit {
                    break;
                }
            }
            out
        }
        SetOp::Diff => {
            let mut it = srcs.into_iter();
            let Some(first) = it.next() else {
                return Vec::new();
            };
            let others: Vec<std::collections::HashSet<Bytes>> = it
                .map(|s| s.items.into_iter().map(|(m, _)| m).collect())
                .collect();
            first
                .items
                .into_iter()
                .filter(|(m, _)| !others.iter().any(|o| o.contains(m)))
                .collect()
        }
    }
}

/// Builds the sorted result (score, then member) of a computed operation.
fn sorted(mut items: Vec<(Bytes, f64)>) -> Vec<(Bytes, f64)> {
    items.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    items
}

/// Reads the sources (checking every type), then parses the options.
fn run_setop<'a>(
    ctx: &Ctx,
    locked: &mut Locked<'_>,
    args: &'a [Bytes],
    keys: &'a [Bytes],
    op: SetOp,
    store: bool,
    card: bool,
) -> Result<(SetOpArgs, Vec<(Bytes, f64)>), CmdError> {
    let db = ctx.db();
    let mut items = Vec::with_capacity(keys.len());
    for k in keys {
        // The STORE forms look their sources up as writes (no hit/miss
        // counted), the others as reads, as Redis does.
        let entry = if store {
            locked.get(db, k)
        } else {
            lookup_read(locked, db, k)
        };
        items.push(source_of(entry)?);
    }
    let a = parse_setop_options(args, keys, op, store, card)?;
    let srcs: Vec<Source> = items
        .into_iter()
        .zip(&a.weights)
        .map(|(items, &weight)| Source { items, weight })
        .collect();
    let out = compute(srcs, op, a.agg, a.limit);
    Ok((a, out))
}

fn setop_reply(ctx: &mut Ctx, op: SetOp, name: &str) -> CmdResult {
    let args = ctx.args.get(1..).unwrap_or(&[]);
    let keys = parse_setop_keys(args, name)?;
    let db = ctx.db();
    let mut locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    let (a, out) = run_setop(ctx, &mut locked, args, keys, op, false, false)?;
    drop(locked);
    let out = sorted(out);
    reply_owned(&mut ctx.reply(), a.withscores, &out);
    Ok(())
}

fn setop_store(ctx: &mut Ctx, op: SetOp, name: &str) -> CmdResult {
    let args = ctx.args.get(2..).unwrap_or(&[]);
    let keys = parse_setop_keys(args, name)?;
    let (db, dst) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock_many(
        std::iter::once((db, dst.as_ref())).chain(keys.iter().map(|k| (db, k.as_ref()))),
        ctx.now_ms,
    );
    let (_, out) = run_setop(ctx, &mut locked, args, keys, op, true, false)?;
    let n = store_result(ctx, &mut locked, db, dst, &out, name, false);
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}

fn cmd_zunion(ctx: &mut Ctx) -> CmdResult {
    setop_reply(ctx, SetOp::Union, "zunion")
}

fn cmd_zinter(ctx: &mut Ctx) -> CmdResult {
    setop_reply(ctx, SetOp::Inter, "zinter")
}

fn cmd_zdiff(ctx: &mut Ctx) -> CmdResult {
    setop_reply(ctx, SetOp::Diff, "zdiff")
}

fn cmd_zunionstore(ctx: &mut Ctx) -> CmdResult {
    setop_store(ctx, SetOp::Union, "zunionstore")
}

fn cmd_zinterstore(ctx: &mut Ctx) -> CmdResult {
    setop_store(ctx, SetOp::Inter, "zinterstore")
}

fn cmd_zdiffstore(ctx: &mut Ctx) -> CmdResult {
    setop_store(ctx, SetOp::Diff, "zdiffstore")
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
fn cmd_zintercard(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args.get(1..).unwrap_or(&[]);
    let keys = parse_setop_keys(args, "zintercard")?;
    let db = ctx.db();
    let mut locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    let (_, out) = run_setop(ctx, &mut locked, args, keys, SetOp::Inter, false, true)?;
    drop(locked);
    ctx.reply().int(out.len() as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// ZSCAN.
// ---------------------------------------------------------------------------

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: the whole sorted set in
/// one call with cursor 0 (COUNT is a hint; one full pass meets every SCAN
/// guarantee). Scores are bulk strings in both protocols, as in Redis.
fn cmd_zscan(ctx: &mut Ctx) -> CmdResult {
    crate::generic::parse_cursor(ctx.arg(2)).ok_or(CmdError::from(errors::INVALID_CURSOR))?;
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let Some(z) = read_zset(&mut locked, db, key)? else {
        drop(locked);
        crate::generic::reply_empty_scan(ctx);
        return Ok(());
    };
    let pattern = crate::generic::collection_scan_pattern(ctx.args.get(3..).unwrap_or(&[]))?;
    let found: Vec<(Bytes, f64)> = z
        .to_vec()
        .into_iter()
        .filter(|(m, _)| pattern.is_none_or(|p| ferrocache_store::glob::glob_match(p, m, false)))
        .collect();
    drop(locked);
    let mut r = ctx.reply();
    r.array(2);
    r.bulk(b"0");
    r.array(found.len() * 2);
    for (m, s) in found {
        r.bulk(&m);
        r.bulk(ferrocache_protocol::format_double(s).as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_bounds_parse_like_strtod() {
        assert_eq!(parse_score_bound(b"(1.5"), Some((1.5, true)));
        assert_eq!(parse_score_bound(b""), Some((0.0, false)));
        assert_eq!(parse_score_bound(b"("), Some((0.0, true)));
        assert_eq!(parse_score_bound(b" 1"), Some((1.0, false)));
        assert_eq!(parse_score_bound(b"1 "), None);
        assert_eq!(parse_score_bound(b"-inf"), Some((f64::NEG_INFINITY, false)));
        assert_eq!(parse_score_bound(b"1e400"), Some((f64::INFINITY, false)));
        assert_eq!(parse_score_bound(b"nan"), None);
        assert_eq!(parse_score_bound(b"0x10"), Some((16.0, false)));
        assert!(parse_score(b"1e400").is_err());
        assert!(parse_score(b"1e-400").is_err());
        assert!(parse_score(b"0e5").is_ok());
        assert!(parse_score(b"-inf").is_ok());
        assert_eq!(parse_score(b"0X1p4"), Ok(16.0));
        assert_eq!(parse_score(b"0x1.8"), Ok(1.5));
        assert!(parse_score(b"0x").is_err());
        assert!(parse_score(b" 1").is_err());
        assert!(parse_score(b"").is_err());
        assert!(parse_score(b"infx").is_err());
        assert!(parse_score(b"nan").is_err());
    }
}
