//! Running one request: resolve it in the command table, apply the checks
//! that hold for every command (arity, authentication), call the handler, and
//! keep the statistics. Errors raised here are raised once, for all commands.

use crate::context::{CmdError, Ctx, ReplyMode, Session, Shared};
use crate::errors;
use crate::table::{flags, full_name, resolve, Resolved};
use bytes::{Bytes, BytesMut};
use ferrocache_protocol::Encoder;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Executes one request and appends its reply to `out`.
/// Whether a paused server holds this request back (CLIENT PAUSE), and
/// until when. The connection loop waits on it before `execute`.
pub fn paused_until(shared: &Shared, args: &[Bytes]) -> Option<std::time::Instant> {
    if !shared.pause.is_active() {
        return None;
    }
    let write = match resolve(args) {
        Resolved::Found { cmd, .. } => cmd.has(flags::WRITE | flags::MAY_REPLICATE),
        _ => false,
    };
    shared.pause.holds(write)
}

pub fn execute(shared: &Shared, session: &mut Session, args: &[Bytes], out: &mut BytesMut) {
    let mark = out.len();
    if session.reply_mode == ReplyMode::Skip {
        session.reply_mode = ReplyMode::SkipThis;
    }
    run(shared, session, args, out);
    // The journal sections of this request are closed: clients it served
    // may now see their answers.
    crate::blocking::wake_served(shared);
    if let Some(end) = crate::journal::take_last_append() {
        session.repl.woff = end;
        if shared.journal.aof.fsync_always.load(Ordering::Relaxed) {
            session.sync_to = end;
        }
    }
    match session.reply_mode {
        ReplyMode::Off => out.truncate(mark),
        ReplyMode::SkipThis => {
            out.truncate(mark);
            session.reply_mode = ReplyMode::On;
        }
        ReplyMode::On | ReplyMode::Skip => {}
    }
}

/// Refuses a request before it runs. Inside MULTI this also dooms the
/// transaction: EXEC will answer EXECABORT.
fn refuse(shared: &Shared, session: &mut Session, out: &mut BytesMut, msg: &str) {
    if let Some(m) = session.multi.as_mut() {
        m.aborted = true;
    }
    reject(shared, session, out, msg);
}

fn reject(shared: &Shared, session: &Session, out: &mut BytesMut, msg: &str) {
    Encoder::new(out, session.proto).error(msg);
    let code = msg.split(' ').next().unwrap_or("ERR");
    shared.stats.record_error(code);
}

/// Runs one command (EXEC also calls this for each queued command).
pub(crate) fn run(shared: &Shared, session: &mut Session, args: &[Bytes], out: &mut BytesMut) {
    let (cmd, parent) = match resolve(args) {
        Resolved::Found { cmd, parent } => (cmd, parent),
        Resolved::Unknown(msg) => return refuse(shared, session, out, &msg),
        Resolved::WrongArity(msg) => {
            if let Some(c) = args.first().and_then(|n| crate::table::lookup(n)) {
                if let Some(s) = shared.stats.cmd(c.name) {
                    s.rejected.fetch_add(1, Ordering::Relaxed);
                }
            }
            return refuse(shared, session, out, &msg);
        }
    };
    let name = if parent.is_some() {
        std::borrow::Cow::Owned(full_name(cmd, parent))
    } else {
        std::borrow::Cow::Borrowed(cmd.name)
    };
    let stat = shared.stats.cmd(&name);
    if !session.authenticated && !cmd.has(flags::NO_AUTH) {
        if let Some(s) = stat {
            s.rejected.fetch_add(1, Ordering::Relaxed);
        }
        return refuse(shared, session, out, errors::NOAUTH);
    }
    if !session.loader && !cmd.has(flags::LOADING) && shared.persist.loading.load(Ordering::Acquire)
    {
        return refuse(shared, session, out, errors::LOADING);
    }
    let started = Instant::now();
    session.handle.touch(cmd, parent, started);
    let top = parent.unwrap_or(cmd);
    if session.pubsub.is_some()
        && session.proto == ferrocache_protocol::Protocol::Resp2
        && crate::pubsub::subscribed(session)
        && !crate::pubsub::allowed_while_subscribed(top.name)
    {
        let msg = errors::only_pubsub_allowed(&name);
        return refuse(shared, session, out, &msg);
    }
    // stop-writes-on-bgsave-error: Redis refuses writes, and PING, while the
    // last background save failed.
    if (cmd.has(flags::WRITE) || top.name == "ping") && crate::persist::writes_refused(shared) {
        if let Some(s) = stat {
            s.rejected.fetch_add(1, Ordering::Relaxed);
        }
        return refuse(shared, session, out, errors::MISCONF);
    }
    // An AOF that can't be written refuses writes (and PING) the same way,
    // until a write succeeds again.
    if (cmd.has(flags::WRITE) || top.name == "ping")
        && shared.journal.aof.enabled.load(Ordering::Relaxed)
    {
        if let Some(e) = shared.journal.aof.write_error() {
            if let Some(s) = stat {
                s.rejected.fetch_add(1, Ordering::Relaxed);
            }
            return refuse(
                shared,
                session,
                out,
                &format!("MISCONF Errors writing to the AOF file: {e}"),
            );
        }
    }
    if !cmd.has(flags::STALE) {
        if let Some(msg) = crate::replication::refuse_stale(shared, session) {
            return refuse(shared, session, out, msg);
        }
    }
    // A read-only replica refuses writes from anyone but its master;
    // min-replicas-to-write refuses them on a master short of replicas.
    if cmd.has(flags::WRITE) {
        if let Some(msg) = crate::replication::refuse_write(shared, session) {
            if let Some(s) = stat {
                s.rejected.fetch_add(1, Ordering::Relaxed);
            }
            return refuse(shared, session, out, msg);
        }
    }
    if session.multi.is_some() && !crate::multi::runs_inside_multi(top.name) {
        return queue(shared, session, cmd, args, out);
    }
    // EXEC and scripts take the gate exclusively themselves, and the
    // commands they run are already covered by that. While a script runs
    // past busy-reply-threshold, other commands are refused with BUSY, and
    // those allowed then run without waiting for the gate.
    let _gate = if session.in_exec.is_some()
        || top.name == "exec"
        || crate::scripting::is_script_command(top.name)
    {
        None
    } else {
        match shared.gate.shared_unless(|| shared.scripting.busy()) {
            Some(g) => Some(g),
            None if cmd.has(flags::ALLOW_BUSY) => None,
            None => return refuse(shared, session, out, errors::BUSY),
        }
    };
    // Journal: writes run in a section (see [`crate::journal`]). EXEC and
    // scripts open one themselves, after taking the gate (always the gate
    // first, then the journal), and record what they ran as one unit.
    let records_self = cmd.has(flags::WRITE) && !crate::scripting::is_script_command(top.name);
    let _section = if records_self {
        shared.journal.open(false)
    } else {
        None
    };
    // maxmemory: make room before a write (EXEC as a whole, not each of
    // its commands); refuse denyoom commands when nothing can go.
    if session.in_exec.is_none() && shared.evictor.maxmemory.load(Ordering::Relaxed) > 0 {
        let denyoom = cmd.has(flags::DENYOOM)
            || (top.name == "exec"
                && session.multi.as_ref().is_some_and(|m| {
                    m.queue.iter().any(|a| {
                        matches!(resolve(a), Resolved::Found { cmd, .. } if cmd.has(flags::DENYOOM))
                    })
                }));
        if denyoom || cmd.has(flags::WRITE) {
            let now = crate::context::unix_ms_at(started);
            if crate::evict::make_room(shared, now) == crate::evict::Room::Full && denyoom {
                if top.name == "exec" {
                    crate::multi::end_multi(session);
                    crate::multi::unwatch_all(shared, session);
                }
                return refuse(shared, session, out, errors::OOM);
            }
        }
    }
    let journaled = records_self && crate::journal::in_section();
    let dirty_before = if journaled {
        shared.ks.stats.dirty.load(Ordering::Relaxed)
    } else {
        0
    };
    let now_ms = session
        .in_exec
        .unwrap_or_else(|| crate::context::unix_ms_at(started));
    let mut ctx = Ctx {
        shared,
        session,
        args,
        out,
        now_ms,
        rewritten: None,
    };
    let previous_client = crate::tracking::set_current(ctx.session.id);
    let result = (cmd.handler)(&mut ctx);
    crate::tracking::set_current(previous_client);
    if previous_client == 0 && shared.pubsub.tracking.is_active() {
        shared.pubsub.tracking.flush_bcast(&shared.pubsub);
    }
    if ctx.session.tracking.mode.is_some() && result.is_ok() {
        crate::tracking::after_command(shared, ctx.session, cmd, args);
    }
    if journaled && shared.ks.stats.dirty.load(Ordering::Relaxed) != dirty_before {
        let db = ctx.session.db;
        match ctx.rewritten.take() {
            Some(list) => list
                .into_iter()
                .for_each(|argv| crate::journal::record(db, argv)),
            None => crate::journal::record(db, args.to_vec()),
        }
    }
    // Clients blocked on keys this command (or this whole transaction or
    // script) stored are served now that it is complete and journaled,
    // still inside the gate so that no transaction can run in between.
    // Their pops join this command's journal section, after it.
    if session.in_exec.is_none() && shared.ks.blocked.pending() {
        match &_gate {
            Some(_) => crate::blocking::serve_ready(shared),
            // EXEC and scripts have released the gate they held
            // exclusively. Other commands run without it only while a
            // script is busy; they leave serving to the script's caller.
            None if top.name == "exec" || crate::scripting::is_script_command(top.name) => {
                let _g = shared.gate.shared();
                crate::blocking::serve_ready(shared);
            }
            None => {}
        }
    }
    let usec = started.elapsed().as_micros() as u64;
    shared.stats.total_commands.fetch_add(1, Ordering::Relaxed);
    if let Some(s) = stat {
        s.calls.fetch_add(1, Ordering::Relaxed);
        s.usec.fetch_add(usec, Ordering::Relaxed);
        if shared.tuning.latency_tracking.load(Ordering::Relaxed) {
            s.hist.record(usec);
        }
    }
    if !cmd.has(flags::SKIP_SLOWLOG) {
        crate::slowlog::maybe_record(shared, session, args, usec);
    }
    crate::latency::maybe_add(shared, cmd, usec);
    if shared.monitors.active() && !cmd.has(flags::SKIP_MONITOR | flags::ADMIN) {
        crate::monitor::feed(shared, session, args);
    }
    if let Err(CmdError(msg)) = result {
        if let Some(s) = stat {
            s.failed.fetch_add(1, Ordering::Relaxed);
        }
        reject(shared, session, out, &msg);
    }
}

/// Queues a command sent inside MULTI, after the checks Redis makes at
/// queue time.
fn queue(
    shared: &Shared,
    session: &mut Session,
    cmd: &'static crate::table::Command,
    args: &[Bytes],
    out: &mut BytesMut,
) {
    if cmd.has(flags::NO_MULTI) {
        return refuse(shared, session, out, errors::NOT_IN_MULTI);
    }
    if let Some(m) = session.multi.as_mut() {
        m.queue.push(args.to_vec());
        session
            .handle
            .multi
            .store(m.queue.len() as i64, Ordering::Relaxed);
    }
    Encoder::new(out, session.proto).simple("QUEUED");
}
