//! SLOWLOG: a bounded, newest-first record of commands that ran longer than
//! `slowlog-log-slower-than` microseconds.
//!
//! Dispatch calls [`SlowLog::record`] only after comparing the duration with
//! the threshold held in an atomic, so a command that is fast pays one
//! relaxed load and no lock. Arguments are stored truncated the way Redis
//! stores them (at most 32 arguments, 128 bytes each), which also bounds the
//! log's memory whatever a client sends.

use crate::context::{CmdResult, Ctx};
use crate::errors;
use crate::table::{command, container, flags::*, Command, Group, NO_KEYS};
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;

const G: Group = Group::Server;
/// Arguments kept per entry; the last slot then says how many were left out.
const MAX_ARGS: usize = 32;
/// Bytes kept per argument.
const MAX_ARG_LEN: usize = 128;

pub static COMMANDS: &[Command] = &[container(
    "slowlog",
    -2,
    G,
    "2.2.12",
    "A container for slow log commands.",
    SUBS,
)];

static SUBS: &[Command] = &[
    command(
        "get",
        -2,
        ADMIN | LOADING | STALE,
        NO_KEYS,
        G,
        "2.2.12",
        "Returns the slow log's entries.",
        cmd_slowlog_get,
    ),
    command(
        "len",
        2,
        ADMIN | LOADING | STALE,
        NO_KEYS,
        G,
        "2.2.12",
        "Returns the number of entries in the slow log.",
        cmd_slowlog_len,
    ),
    command(
        "reset",
        2,
        ADMIN | LOADING | STALE,
        NO_KEYS,
        G,
        "2.2.12",
        "Clears all entries from the slow log.",
        cmd_slowlog_reset,
    ),
    command(
        "help",
        2,
        LOADING | STALE,
        NO_KEYS,
        G,
        "6.2.0",
        "Show helpful text about the different subcommands",
        cmd_slowlog_help,
    ),
];

pub struct Entry {
    pub id: u64,
    pub time: u64,
    pub usec: u64,
    pub args: Vec<Bytes>,
    pub addr: String,
    pub name: Bytes,
}

#[derive(Default)]
pub struct SlowLog {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// Newest first.
    entries: VecDeque<Entry>,
}

/// The arguments as Redis keeps them in an entry.
pub fn truncate_args(args: &[Bytes]) -> Vec<Bytes> {
    let keep = args.len().min(MAX_ARGS);
    let mut out = Vec::with_capacity(keep);
    for (i, a) in args.iter().take(keep).enumerate() {
        if i == MAX_ARGS - 1 && args.len() > MAX_ARGS {
            let more = args.len() - (MAX_ARGS - 1);
            out.push(Bytes::from(format!("... ({more} more arguments)")));
        } else if a.len() > MAX_ARG_LEN {
            let mut s = a[..MAX_ARG_LEN].to_vec();
            s.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_ARG_LEN).as_bytes());
            out.push(Bytes::from(s));
        } else {
            out.push(a.clone());
        }
    }
    out
}

impl SlowLog {
    pub fn record(&self, args: &[Bytes], usec: u64, addr: &str, name: Bytes, max_len: usize) {
        let args = truncate_args(args);
        let mut g = self.inner.lock();
        let id = g.next_id;
        g.next_id += 1;
        g.entries.push_front(Entry {
            id,
            time: crate::context::unix_ms() / 1000,
            usec,
            args,
            addr: addr.to_string(),
            name,
        });
        g.entries.truncate(max_len);
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.inner.lock().entries.clear();
    }

    /// Shrinks the log after `slowlog-max-len` is lowered.
    pub fn trim(&self, max_len: usize) {
        self.inner.lock().entries.truncate(max_len);
    }
}

fn cmd_slowlog_get(ctx: &mut Ctx) -> CmdResult {
    let mut count = 10usize;
    if ctx.args.len() > 3 {
        return Err(crate::errors::subcommand_syntax(ctx.arg(1), "SLOWLOG").into());
    }
    if let Some(a) = ctx.args.get(2) {
        match crate::args::parse_i64(a) {
            Ok(-1) => count = usize::MAX,
            Ok(n) if n >= 0 => count = n as usize,
            _ => return Err(errors::SLOWLOG_COUNT.into()),
        }
    }
    let g = ctx.shared.slowlog.inner.lock();
    let n = g.entries.len().min(count);
    let mut r = ferrocache_protocol::Encoder::new(ctx.out, ctx.session.proto);
    r.array(n);
    for e in g.entries.iter().take(n) {
        r.array(6);
        r.int(e.id as i64);
        r.int(e.time as i64);
        r.int(e.usec as i64);
        r.array(e.args.len());
        for a in &e.args {
            r.bulk(a);
        }
        r.bulk(e.addr.as_bytes());
        r.bulk(&e.name);
    }
    Ok(())
}

fn cmd_slowlog_len(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.shared.slowlog.len();
    ctx.reply().int(n as i64);
    Ok(())
}

fn cmd_slowlog_reset(ctx: &mut Ctx) -> CmdResult {
    ctx.shared.slowlog.reset();
    ctx.ok()
}

fn cmd_slowlog_help(ctx: &mut Ctx) -> CmdResult {
    crate::server::reply_help(
        ctx,
        "SLOWLOG",
        &[
            ("GET [<count>]", "The newest <count> entries (10 by default, -1 for all). Each entry holds: id, unix time, duration in microseconds, arguments, client address, client name."),
            ("LEN", "Number of entries."),
            ("RESET", "Remove every entry."),
        ],
    )
}

/// Called by dispatch after every command.
pub fn maybe_record(
    ctx_shared: &crate::context::Shared,
    session: &crate::context::Session,
    args: &[Bytes],
    usec: u64,
) {
    let t = &ctx_shared.tuning;
    let threshold = t.slowlog_slower_than.load(Ordering::Relaxed);
    if threshold < 0 || (usec as i64) < threshold {
        return;
    }
    let max = t.slowlog_max_len.load(Ordering::Relaxed) as usize;
    let name = session.handle.name.lock().clone().unwrap_or_default();
    let args = crate::monitor::redacted(args);
    ctx_shared
        .slowlog
        .record(&args, usec, &session.handle.addr, name, max);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_truncated_like_redis() {
        let many: Vec<Bytes> = (0..40).map(|i| Bytes::from(i.to_string())).collect();
        let t = truncate_args(&many);
        assert_eq!(t.len(), 32);
        assert_eq!(t[31], Bytes::from("... (9 more arguments)"));
        let long = vec![Bytes::from(vec![b'x'; 200])];
        let t = truncate_args(&long);
        assert_eq!(t[0].len(), 128 + "... (72 more bytes)".len());
    }

    #[test]
    fn log_is_bounded_and_newest_first() {
        let log = SlowLog::default();
        for i in 0..5 {
            log.record(&[Bytes::from(format!("c{i}"))], 1, "a", Bytes::new(), 3);
        }
        assert_eq!(log.len(), 3);
        assert_eq!(log.inner.lock().entries[0].id, 4);
    }
}
