//! Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH.
//!
//! Queueing happens in the dispatcher: once a client has sent MULTI, every
//! command other than the transaction commands, QUIT and RESET is checked
//! (unknown name, arity, not allowed in a transaction) and queued, and the
//! client gets `+QUEUED`. A check that fails marks the transaction so that
//! EXEC answers EXECABORT.
//!
//! Atomicity comes from the [`ExecGate`]. Every command runs holding a
//! shared side of the gate (an uncontended read lock on a slot picked per
//! thread, so commands on different threads do not share a cache line); EXEC
//! holds every slot exclusively, which waits for the commands in flight to
//! finish and keeps new ones out until the transaction is done. Inside, the
//! queued commands run one after another through the ordinary dispatcher,
//! taking their shard locks as usual: nothing else runs, so no other client
//! can observe the transaction half applied.
//!
//! WATCH registers the keys in the keyspace's watch registry
//! ([`ferrocache_store::watch`]); the keyspace raises the client's flag on
//! any change to them. EXEC first looks each watched key up (so a key that
//! expired since WATCH is deleted, which raises the flag too), then fails
//! with a null reply if the flag is up.

use crate::context::{CmdResult, Ctx, Session, Shared};
use crate::errors;
use crate::table::{command, flags::*, keys, Command, Group, NO_KEYS};
use bytes::Bytes;
use ferrocache_store::WatchFlag;
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub const COMMANDS: &[Command] = &[
    command(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        NO_KEYS,
        Group::Transactions,
        "1.2.0",
        "Starts a transaction.",
        cmd_multi,
    ),
    command(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG,
        NO_KEYS,
        Group::Transactions,
        "1.2.0",
        "Executes all commands in a transaction.",
        cmd_exec,
    ),
    command(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        NO_KEYS,
        Group::Transactions,
        "2.0.0",
        "Discards a transaction.",
        cmd_discard,
    ),
    command(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        keys(1, -1, 1),
        Group::Transactions,
        "2.2.0",
        "Monitors changes to keys to determine the execution of a transaction.",
        cmd_watch,
    ),
    command(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        NO_KEYS,
        Group::Transactions,
        "2.2.0",
        "Forgets about watched keys of a transaction.",
        cmd_unwatch,
    ),
];

/// Commands a client in MULTI runs at once instead of queueing.
pub fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// A transaction being queued.
#[derive(Default)]
pub struct MultiState {
    pub queue: Vec<Vec<Bytes>>,
    /// A command failed its queue-time checks: EXEC answers EXECABORT.
    pub aborted: bool,
}

/// A client's watched keys and the flag the keyspace raises.
#[derive(Default)]
pub struct WatchState {
    pub flag: Arc<WatchFlag>,
    pub keys: Vec<(usize, Bytes)>,
}

/// Number of read-lock slots in the gate. Threads pick one each, round
/// robin, so up to this many worker threads never share a slot.
const GATE_SLOTS: usize = 16;

#[repr(align(128))]
#[derive(Default)]
struct Slot(RwLock<()>);

/// Shared by ordinary commands, exclusive for EXEC (see the module doc).
pub struct ExecGate {
    slots: Box<[Slot]>,
}

impl Default for ExecGate {
    fn default() -> Self {
        ExecGate {
            slots: (0..GATE_SLOTS).map(|_| Slot::default()).collect(),
        }
    }
}

thread_local! {
    static GATE_SLOT: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % GATE_SLOTS
    };
}

pub struct Exclusive<'a> {
    _guards: Vec<RwLockWriteGuard<'a, ()>>,
}

impl ExecGate {
    /// The shared side, held while one ordinary command runs.
    #[inline]
    pub fn shared(&self) -> RwLockReadGuard<'_, ()> {
        let slot = GATE_SLOT.with(|s| *s);
        self.slots[slot].0.read()
    }

    /// The shared side if it is free now. Background work (the cron) uses
    /// this: blocking a worker thread behind a long EXEC or script would
    /// also stall the connections queued on that worker.
    #[inline]
    pub fn try_shared(&self) -> Option<RwLockReadGuard<'_, ()>> {
        let slot = GATE_SLOT.with(|s| *s);
        self.slots[slot].0.try_read()
    }

    /// The shared side, unless `give_up` turns true while waiting for it
    /// (a script running past busy-reply-threshold holds the gate).
    pub fn shared_unless(&self, give_up: impl Fn() -> bool) -> Option<RwLockReadGuard<'_, ()>> {
        let slot = &self.slots[GATE_SLOT.with(|s| *s)].0;
        loop {
            if let Some(g) = slot.try_read_for(std::time::Duration::from_millis(2)) {
                return Some(g);
            }
            if give_up() {
                return None;
            }
        }
    }

    /// Every slot, in order: no other command runs until this is dropped.
    pub fn exclusive(&self) -> Exclusive<'_> {
        Exclusive {
            _guards: self.slots.iter().map(|s| s.0.write()).collect(),
        }
    }
}

fn cmd_multi(ctx: &mut Ctx) -> CmdResult {
    if ctx.session.multi.is_some() {
        return Err(errors::MULTI_NESTED.into());
    }
    ctx.session.multi = Some(MultiState::default());
    ctx.session.handle.multi.store(0, Ordering::Relaxed);
    ctx.reply().ok();
    Ok(())
}

fn cmd_discard(ctx: &mut Ctx) -> CmdResult {
    if ctx.session.multi.is_none() {
        return Err(errors::DISCARD_WITHOUT_MULTI.into());
    }
    end_multi(ctx.session);
    unwatch_all(ctx.shared, ctx.session);
    ctx.reply().ok();
    Ok(())
}

fn cmd_watch(ctx: &mut Ctx) -> CmdResult {
    if ctx.session.multi.is_some() {
        return Err(errors::WATCH_INSIDE_MULTI.into());
    }
    let db = ctx.session.db;
    for key in ctx.args[1..].iter() {
        if ctx
            .session
            .watch
            .keys
            .iter()
            .any(|(d, k)| *d == db && k == key)
        {
            continue;
        }
        // Looked up under its shard lock: a key already expired is deleted
        // now, before it is registered, so its later removal changes nothing
        // (Redis lets stale keys be watched without failing EXEC).
        let mut locked = ctx.shared.ks.lock(db, key, ctx.now_ms);
        locked.contains(db, key);
        ctx.shared
            .ks
            .watches
            .watch(db, key, &ctx.session.watch.flag);
        drop(locked);
        ctx.session.watch.keys.push((db, key.clone()));
    }
    ctx.reply().ok();
    Ok(())
}

fn cmd_unwatch(ctx: &mut Ctx) -> CmdResult {
    unwatch_all(ctx.shared, ctx.session);
    ctx.reply().ok();
    Ok(())
}

fn cmd_exec(ctx: &mut Ctx) -> CmdResult {
    let Some(multi) = ctx.session.multi.take() else {
        return Err(errors::EXEC_WITHOUT_MULTI.into());
    };
    ctx.session.handle.multi.store(-1, Ordering::Relaxed);
    if multi.aborted {
        unwatch_all(ctx.shared, ctx.session);
        return Err(errors::EXECABORT.into());
    }
    let shared = ctx.shared;
    let _gate = shared.gate.exclusive();
    let _section = shared.journal.open(true);
    // A watched key that expired since WATCH and is still in the table goes
    // now; its removal raises the flag like any other change.
    for (db, key) in &ctx.session.watch.keys {
        shared.ks.lock(*db, key, ctx.now_ms).contains(*db, key);
    }
    let aborted = ctx.session.watch.flag.is_raised();
    unwatch_all(shared, ctx.session);
    if aborted {
        ctx.reply().null_array();
        return Ok(());
    }
    ctx.reply().array(multi.queue.len());
    ctx.session.in_exec = Some(ctx.now_ms);
    for args in &multi.queue {
        crate::dispatch::run(shared, ctx.session, args, ctx.out);
    }
    ctx.session.in_exec = None;
    Ok(())
}

/// Leaves MULTI, dropping what was queued.
pub fn end_multi(session: &mut Session) {
    session.multi = None;
    session.handle.multi.store(-1, Ordering::Relaxed);
}

/// Forgets every watched key (UNWATCH, EXEC, DISCARD, RESET, disconnect).
pub fn unwatch_all(shared: &Shared, session: &mut Session) {
    let w = &mut session.watch;
    if !w.keys.is_empty() {
        shared
            .ks
            .watches
            .unwatch(w.keys.iter().map(|(d, k)| (*d, &k[..])), &w.flag);
        w.keys.clear();
    }
    w.flag.clear();
}

/// Everything a connection holds in the transaction machinery, released
/// when it closes.
pub fn on_disconnect(shared: &Shared, session: &mut Session) {
    end_multi(session);
    unwatch_all(shared, session);
    crate::pubsub::unsubscribe_all(shared, session);
    if session.tracking.mode.is_some() {
        shared.pubsub.tracking.disable(&shared.ks, session.id);
        session.tracking = Default::default();
        session
            .handle
            .tracking
            .store(0, std::sync::atomic::Ordering::Relaxed);
    }
    crate::blocking::finish(shared, session);
}
