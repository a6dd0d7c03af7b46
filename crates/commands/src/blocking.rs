//! Blocked clients: who waits on which key, and how a write serves them.
//!
//! A blocking command (BLPOP, BLMOVE, BLMPOP, and later BZPOPMIN and its
//! kin) that finds nothing to take registers a [`Waiter`] on each of its keys
//! with [`block`], while it still holds the shard locks under which it
//! looked. The waiter carries a [`BlockedOp`]: what to do with a key once it
//! holds something, and what to answer on timeout. The connection then stops
//! reading commands and waits (see the server's connection loop) for one of:
//! an answer, its deadline, CLIENT UNBLOCK, the socket closing, a kill or
//! shutdown.
//!
//! Serving. A value stored under a key someone waits on signals the key
//! ([`ferrocache_store::BlockedKeys`]). After the command that stored it is
//! complete (after EXEC or a script as a whole, which run with the gate held
//! exclusively), the dispatcher calls [`serve_ready`], under the shared side
//! of the exec gate, so a transaction never loses elements to a waiter
//! half-way through. For each ready key, the waiters are tried in the order
//! they blocked. Each attempt locks the key's shard (and those of the
//! operation's other keys, such as BLMOVE's destination) and then the
//! waiter's state; only a waiter still `Waiting` is given anything, and the
//! element is taken and the reply built in that one critical section. A
//! waiter that timed out, was unblocked or disconnected at the same moment
//! has left `Waiting` under the same state lock, so an element is handed to
//! exactly one client, and the next waiter gets it if the first can't.
//!
//! Journal. Serving records the plain command that replays it (`LPOP key`,
//! `LMOVE ...`) in the serving write's journal section, after the write
//! itself; a command served at once records the same instead of its own
//! request. Answers are released only once that section is appended
//! ([`wake_served`], from the dispatcher), and with `appendfsync always` the
//! served client's reply waits for the pop to be durable.
//!
//! Adding a blocking command for another type (BZPOPMIN, BZPOPMAX, BZMPOP):
//! implement [`BlockedOp`] for the operation: `accepts` names the type,
//! `serve` takes from a key of that type under the held shard locks, emits
//! the keyspace notifications, deletes an emptied key and writes the reply
//! (or answers [`Attempt::NotReady`], writing nothing, when there is nothing
//! for it), and `timeout_reply` / `no_wait_reply` write the nulls. The
//! handler parses its arguments (timeout with [`parse_timeout`]), locks its
//! keys with `lock_many`, and hands the guard to [`serve_or_block`], which
//! serves at once, answers WRONGTYPE, answers `no_wait_reply` inside EXEC
//! or a script, or blocks. Creating the value under a key (any
//! `Locked::insert`) is what wakes waiters, so the push side needs nothing.

use crate::context::{CmdError, Ctx, Shared};
use crate::errors;
use bytes::{Bytes, BytesMut};
use ferrocache_protocol::{Encoder, Protocol};
use ferrocache_store::{Locked, ValueRef};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What an attempt to serve a waiter from a key did.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Nothing for this waiter there (the key is missing, empty or of
    /// another type): it keeps waiting, and the next waiter is tried.
    NotReady,
    /// The waiter has its reply (data, or an error such as BLMOVE's
    /// WRONGTYPE destination) and stops waiting.
    Answered,
}

/// Where a blocked operation is being served.
pub struct ServeCtx<'a> {
    pub shared: &'a Shared,
    pub db: usize,
}

impl ServeCtx<'_> {
    pub fn notify(&self, class: u32, event: &str, key: &[u8]) {
        self.shared.pubsub.notify(class, event, self.db, key);
    }

    /// Journals what serving did, as the plain command that replays it
    /// (BLPOP served is `LPOP key`, as Redis propagates it). Both when the
    /// command serves at once and when a write wakes it, a journal section
    /// is open on this thread if the journal is on.
    pub fn propagate(&self, argv: &[&[u8]]) {
        if crate::journal::in_section() {
            crate::journal::record(
                self.db,
                argv.iter().map(|a| Bytes::copy_from_slice(a)).collect(),
            );
        }
    }
}

/// One kind of blocked operation (a list pop, a list move, a sorted set
/// pop...).
pub trait BlockedOp: Send + Sync {
    /// True if a value of this type is what the operation takes from (a
    /// list for BLPOP, a sorted set for BZPOPMIN). When the command runs, a
    /// key holding anything else is WRONGTYPE; once blocked, it is skipped.
    fn accepts(&self, value: ValueRef<'_>) -> bool;

    /// Checks made when the command runs, after a key with data is found
    /// and before it is served (BLMOVE: the destination's type).
    fn precheck(&self, _db: usize, _locked: &mut Locked<'_>) -> Result<(), CmdError> {
        Ok(())
    }

    /// Keys besides the ready one whose shards must be held while serving
    /// (BLMOVE's destination).
    fn extra_keys(&self) -> &[Bytes] {
        &[]
    }

    /// Takes what the client waits for from `key` and writes its reply with
    /// `reply`, holding the shards of `key` and of [`Self::extra_keys`]. Must
    /// write nothing when it answers [`Attempt::NotReady`].
    fn serve(
        &self,
        cx: &ServeCtx,
        locked: &mut Locked<'_>,
        key: &Bytes,
        reply: &mut Encoder<'_>,
    ) -> Attempt;

    /// The reply when the timeout passes (also CLIENT UNBLOCK TIMEOUT).
    fn timeout_reply(&self, reply: &mut Encoder<'_>);

    /// The reply when there is nothing to take and the client may not
    /// block (inside EXEC or a script).
    fn no_wait_reply(&self, reply: &mut Encoder<'_>) {
        self.timeout_reply(reply)
    }
}

enum State {
    Waiting,
    /// The reply, waiting for the client's connection to send it. `sync`
    /// stays `None` until the serving write's journal section has been
    /// appended ([`wake_served`]); then it is the journal offset the reply
    /// waits for under `appendfsync always` (0: none).
    Answered {
        reply: BytesMut,
        sync: Option<u64>,
    },
    /// Timed out or went away; nobody may serve it.
    Gone,
}

/// A client blocked on some keys.
pub struct Waiter {
    pub client: u64,
    pub db: usize,
    /// Distinct keys, in the order given.
    pub keys: Vec<Bytes>,
    /// Blocked with a timeout (INFO's `clients_in_timeout_table`).
    pub timed: bool,
    proto: Protocol,
    op: Box<dyn BlockedOp>,
    state: Mutex<State>,
    /// Woken once the state leaves `Waiting` for `Answered`.
    pub wake: tokio::sync::Notify,
}

impl Waiter {
    /// The reply and the journal offset it must wait for, if the client
    /// has been answered and the answer released.
    pub fn take_answer(&self) -> Option<(BytesMut, u64)> {
        let mut st = self.state.lock();
        match std::mem::replace(&mut *st, State::Gone) {
            State::Answered {
                reply,
                sync: Some(sync),
            } => Some((reply, sync)),
            other => {
                *st = other;
                None
            }
        }
    }

    /// The deadline passed: the timeout reply, unless an answer got there
    /// first (then that answer, even one not yet released: its element is
    /// taken).
    pub fn expire(&self) -> BytesMut {
        let mut st = self.state.lock();
        match std::mem::replace(&mut *st, State::Gone) {
            State::Answered { reply, .. } => reply,
            _ => {
                let mut out = BytesMut::new();
                self.op
                    .timeout_reply(&mut Encoder::new(&mut out, self.proto));
                out
            }
        }
    }

    /// The client went away: nobody may serve it any more.
    pub fn cancel(&self) {
        *self.state.lock() = State::Gone;
    }

    /// Answers a waiting client from outside (CLIENT UNBLOCK); false if it
    /// was no longer waiting.
    fn answer_with(&self, build: impl FnOnce(&mut Encoder<'_>, &dyn BlockedOp)) -> bool {
        let mut st = self.state.lock();
        if !matches!(*st, State::Waiting) {
            return false;
        }
        let mut out = BytesMut::new();
        build(&mut Encoder::new(&mut out, self.proto), &*self.op);
        *st = State::Answered {
            reply: out,
            sync: Some(0),
        };
        drop(st);
        self.wake.notify_one();
        true
    }
}

/// A session's blocked state, kept while its connection waits.
pub struct Blocked {
    pub waiter: Arc<Waiter>,
    /// None: wait forever.
    pub deadline: Option<Instant>,
}

/// The clients waiting on one key, oldest first.
type Queue = VecDeque<Arc<Waiter>>;

/// Every blocked client, by key and by client id.
#[derive(Default)]
pub struct Blocking {
    queues: Mutex<HashMap<(usize, Bytes), Queue>>,
    by_client: Mutex<HashMap<u64, Arc<Waiter>>>,
}

impl Blocking {
    /// INFO's `blocked_clients`.
    pub fn clients(&self) -> usize {
        self.by_client.lock().len()
    }

    /// INFO's `clients_in_timeout_table`: blocked clients with a deadline.
    pub fn clients_with_timeout(&self) -> usize {
        self.by_client.lock().values().filter(|w| w.timed).count()
    }

    /// Distinct keys clients are blocked on.
    pub fn keys(&self) -> usize {
        self.queues.lock().len()
    }
}

/// True when a blocking command must answer at once instead of blocking:
/// inside EXEC and inside scripts, as in Redis.
pub fn must_not_block(ctx: &Ctx) -> bool {
    ctx.session.in_exec.is_some()
}

/// Parses a blocking command's timeout (seconds, a float) into a deadline;
/// `None` waits forever.
///
/// Redis reads the number as a `long double`, multiplies by 1000 and
/// truncates to whole milliseconds, so anything under a millisecond
/// (including negative fractions of one) means "forever", and values whose
/// milliseconds overflow a 64-bit integer come out negative. Hexadecimal
/// integers are accepted, as `strtold` does.
pub fn parse_timeout(arg: &[u8], start: Instant) -> Result<Option<Instant>, CmdError> {
    // Whole seconds are exact in a `long double` but not in an f64 near the
    // top of the range, so they are converted without floating point.
    if let Ok(secs) = crate::args::parse_i64(arg) {
        return match secs.checked_mul(1000) {
            None => Err(errors::TIMEOUT_NEGATIVE.into()),
            Some(ms) if ms < 0 => Err(errors::TIMEOUT_NEGATIVE.into()),
            Some(0) => Ok(None),
            Some(ms) => Ok(start.checked_add(Duration::from_millis(ms as u64))),
        };
    }
    let secs = crate::args::parse_f64_opt(arg)
        .or_else(|| parse_hex(arg))
        .ok_or(CmdError::from(errors::TIMEOUT_NOT_FLOAT))?;
    let ms = secs * 1000.0;
    // Out of i64 range: C's conversion yields i64::MIN on this platform.
    // (NaN was refused by the parser.)
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&ms) {
        return Err(errors::TIMEOUT_NEGATIVE.into());
    }
    let ms = ms as i64;
    if ms < 0 {
        return Err(errors::TIMEOUT_NEGATIVE.into());
    }
    if ms == 0 {
        return Ok(None);
    }
    Ok(start.checked_add(Duration::from_millis(ms as u64)))
}

/// `0x1F`, `-0x10`: hexadecimal integers (no fractions), which `strtold`
/// reads too.
fn parse_hex(arg: &[u8]) -> Option<f64> {
    let (neg, rest) = match arg.first()? {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    let digits = rest
        .strip_prefix(b"0x")
        .or_else(|| rest.strip_prefix(b"0X"))?;
    if digits.is_empty() || digits.len() > 64 {
        return None;
    }
    let mut v = 0f64;
    for &d in digits {
        v = v * 16.0 + char::from(d).to_digit(16)? as f64;
    }
    Some(if neg { -v } else { v })
}

/// The common body of every blocking command once its arguments are
/// parsed, with the shards of `keys` and of the operation's
/// [`BlockedOp::extra_keys`] held in `locked`: serve from the first key
/// holding a value the operation accepts (WRONGTYPE if a key before it
/// holds another type), else answer at once inside EXEC or a script, else
/// block.
pub fn serve_or_block(
    ctx: &mut Ctx,
    mut locked: Locked<'_>,
    keys: &[Bytes],
    deadline: Option<Instant>,
    op: Box<dyn BlockedOp>,
) -> Result<(), CmdError> {
    let db = ctx.session.db;
    for key in keys {
        match locked.get(db, key) {
            None => continue,
            Some(e) if !op.accepts(e.value()) => return Err(errors::WRONGTYPE.into()),
            Some(_) => {}
        }
        op.precheck(db, &mut locked)?;
        let cx = ServeCtx {
            shared: ctx.shared,
            db,
        };
        let mut reply = Encoder::new(ctx.out, ctx.session.proto);
        op.serve(&cx, &mut locked, key, &mut reply);
        // `serve` journaled what it did; the request itself is not.
        drop(locked);
        ctx.propagate_nothing();
        return Ok(());
    }
    if must_not_block(ctx) {
        drop(locked);
        op.no_wait_reply(&mut ctx.reply());
        return Ok(());
    }
    block(ctx, locked, keys, deadline, op);
    Ok(())
}

/// Blocks the client on `keys`. Call with the shards of every key locked
/// (`locked`), after finding nothing to serve; they are released here once
/// the waiter is registered.
pub fn block(
    ctx: &mut Ctx,
    locked: Locked<'_>,
    keys: &[Bytes],
    deadline: Option<Instant>,
    op: Box<dyn BlockedOp>,
) {
    let db = ctx.session.db;
    let mut distinct: Vec<Bytes> = Vec::with_capacity(keys.len());
    for k in keys {
        if !distinct.contains(k) {
            distinct.push(k.clone());
        }
    }
    let waiter = Arc::new(Waiter {
        client: ctx.session.id,
        db,
        keys: distinct,
        timed: deadline.is_some(),
        proto: ctx.session.proto,
        op,
        state: Mutex::new(State::Waiting),
        wake: tokio::sync::Notify::new(),
    });
    let shared = ctx.shared;
    {
        let mut queues = shared.blocking.queues.lock();
        for k in &waiter.keys {
            queues
                .entry((db, k.clone()))
                .or_default()
                .push_back(waiter.clone());
            shared.ks.blocked.add(db, k);
        }
    }
    drop(locked);
    shared
        .blocking
        .by_client
        .lock()
        .insert(waiter.client, waiter.clone());
    ctx.session.handle.blocked.store(true, Ordering::Relaxed);
    ctx.session.blocked = Some(Blocked { waiter, deadline });
}

/// Withdraws a waiter from every queue once its connection is done with it.
pub fn unregister(shared: &Shared, waiter: &Arc<Waiter>) {
    waiter.cancel();
    {
        let mut queues = shared.blocking.queues.lock();
        for k in &waiter.keys {
            let id = (waiter.db, k.clone());
            if let Some(q) = queues.get_mut(&id) {
                let before = q.len();
                q.retain(|w| !Arc::ptr_eq(w, waiter));
                if q.len() < before {
                    shared.ks.blocked.remove(waiter.db, k);
                }
                if q.is_empty() {
                    queues.remove(&id);
                }
            }
        }
    }
    let mut by_client = shared.blocking.by_client.lock();
    if by_client
        .get(&waiter.client)
        .is_some_and(|w| Arc::ptr_eq(w, waiter))
    {
        by_client.remove(&waiter.client);
    }
}

/// Ends a session's blocked state (its connection got its answer, timed
/// out, or is closing).
pub fn finish(shared: &Shared, session: &mut crate::Session) {
    if let Some(b) = session.blocked.take() {
        unregister(shared, &b.waiter);
        session.handle.blocked.store(false, Ordering::Relaxed);
    }
}

/// Counts an error answer given to a blocked client (CLIENT UNBLOCK ERROR,
/// BLMOVE's WRONGTYPE destination) in `errorstats` and the command's
/// `failed_calls`, as Redis does when it unblocks a client with an error.
pub fn count_answer(shared: &Shared, session: &crate::Session, reply: &[u8]) {
    let Some(text) = reply.strip_prefix(b"-") else {
        return;
    };
    let code_end = text
        .iter()
        .position(|&b| b == b' ' || b == b'\r')
        .unwrap_or(text.len());
    let code = String::from_utf8_lossy(&text[..code_end]);
    shared.stats.record_error(&code);
    if let Some(stat) = session
        .handle
        .last_cmd()
        .and_then(|c| shared.stats.cmd(c.name))
    {
        stat.failed.fetch_add(1, Ordering::Relaxed);
    }
}

/// How CLIENT UNBLOCK wakes a client.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum UnblockMode {
    Timeout,
    Error,
}

/// CLIENT UNBLOCK: true if the client was blocked and is now answered.
pub fn unblock(shared: &Shared, client: u64, mode: UnblockMode) -> bool {
    let Some(waiter) = shared.blocking.by_client.lock().get(&client).cloned() else {
        return false;
    };
    waiter.answer_with(|enc, op| match mode {
        UnblockMode::Timeout => op.timeout_reply(enc),
        UnblockMode::Error => enc.error(errors::UNBLOCKED),
    })
}

thread_local! {
    /// Clients this thread served whose answers wait for [`wake_served`].
    static SERVED: std::cell::RefCell<Vec<Arc<Waiter>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Releases the answers of the clients served on this thread and wakes
/// them. Called once the journal section that recorded their pops has been
/// appended, so that no client sees an element before the pop that gave it
/// is in the journal (and, with `appendfsync always`, its reply waits for
/// that pop to be durable, like any write's).
pub fn wake_served(shared: &Shared) {
    let served = SERVED.with(|s| std::mem::take(&mut *s.borrow_mut()));
    if served.is_empty() {
        return;
    }
    let sync = if shared.journal.aof.fsync_always.load(Ordering::Relaxed) {
        shared.journal.offset()
    } else {
        0
    };
    for waiter in served {
        if let State::Answered { sync: s @ None, .. } = &mut *waiter.state.lock() {
            *s = Some(sync);
        }
        waiter.wake.notify_one();
    }
}

/// Serves the clients waiting on every key signalled since the last call.
/// The caller holds the shared side of the exec gate (or is EXEC or a
/// script that has just finished with it exclusively).
pub fn serve_ready(shared: &Shared) {
    // Serving BLMOVE stores under its destination, which may signal
    // another key: keep going until nothing is left.
    while shared.ks.blocked.pending() {
        // After EXEC or a script, whose own section is closed, serving
        // opens one (gate first, then journal, as everywhere).
        let _section = if crate::journal::in_section() {
            None
        } else {
            shared.journal.open(false)
        };
        for (db, key) in shared.ks.blocked.take_ready() {
            serve_key(shared, db, &key);
        }
    }
}

fn serve_key(shared: &Shared, db: usize, key: &Bytes) {
    let snapshot: Vec<Arc<Waiter>> = match shared.blocking.queues.lock().get(&(db, key.clone())) {
        Some(q) => q.iter().cloned().collect(),
        None => return,
    };
    let cx = ServeCtx { shared, db };
    for waiter in snapshot {
        let now = crate::context::unix_ms();
        let extra = waiter.op.extra_keys();
        let mut locked = shared.ks.lock_many(
            std::iter::once((db, key.as_ref())).chain(extra.iter().map(|k| (db, k.as_ref()))),
            now,
        );
        if !locked.contains(db, key) {
            // Nothing left for anyone; the next value stored signals again.
            return;
        }
        let mut st = waiter.state.lock();
        if !matches!(*st, State::Waiting) {
            continue;
        }
        let mut out = BytesMut::new();
        let attempt = waiter.op.serve(
            &cx,
            &mut locked,
            key,
            &mut Encoder::new(&mut out, waiter.proto),
        );
        if attempt == Attempt::Answered {
            *st = State::Answered {
                reply: out,
                sync: None,
            };
            drop(st);
            drop(locked);
            SERVED.with(|s| s.borrow_mut().push(waiter.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(arg: &str) -> Result<Option<u128>, CmdError> {
        let start = Instant::now();
        parse_timeout(arg.as_bytes(), start)
            .map(|d| d.map(|d| d.saturating_duration_since(start).as_millis()))
    }

    #[test]
    fn timeouts_convert_as_redis_does() {
        assert_eq!(ms("0"), Ok(None));
        assert_eq!(ms("1"), Ok(Some(1000)));
        assert_eq!(ms("0.1"), Ok(Some(100)));
        assert_eq!(ms(".5"), Ok(Some(500)));
        assert_eq!(ms("0x10"), Ok(Some(16000)));
        // Under a millisecond, even negative: forever.
        assert_eq!(ms("0.0001"), Ok(None));
        assert_eq!(ms("-0.0001"), Ok(None));
        assert_eq!(ms("9223372036854775"), Ok(Some(9_223_372_036_854_775_000)));
        let negative = Err(CmdError::from(errors::TIMEOUT_NEGATIVE));
        for bad in ["-1", "9223372036854776", "1e30", "inf", "-inf"] {
            assert_eq!(ms(bad), negative, "{bad}");
        }
        let not_float = Err(CmdError::from(errors::TIMEOUT_NOT_FLOAT));
        for bad in ["abc", "nan", " 1", "1 ", "", "0x"] {
            assert_eq!(ms(bad), not_float, "{bad}");
        }
    }
}
