//! MONITOR: every command other clients run is echoed to monitoring
//! connections as one status line.
//!
//! Dispatch checks [`Monitors::active`] (one relaxed load) before building a
//! line, so a server with no monitor pays nothing else. Lines travel over a
//! bounded channel to the monitor connection's loop, which writes them; when
//! a monitor reads too slowly its channel fills and further lines are
//! dropped rather than slowing the commands that produce them.

use crate::context::{unix_us, CmdResult, Ctx, Session, Shared};
use crate::table::{command, flags::*, Command, Group, NO_KEYS};
use bytes::Bytes;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;

/// Lines buffered per monitor before new ones are dropped.
const CHANNEL_DEPTH: usize = 4096;

pub static COMMANDS: &[Command] = &[command(
    "monitor",
    1,
    ADMIN | NOSCRIPT | LOADING | STALE,
    NO_KEYS,
    Group::Server,
    "1.0.0",
    "Listens for all requests received by the server in real-time.",
    cmd_monitor,
)];

#[derive(Default)]
pub struct Monitors {
    count: AtomicUsize,
    subs: Mutex<Vec<(u64, mpsc::Sender<Bytes>)>>,
}

impl Monitors {
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    fn add(&self, id: u64) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let mut subs = self.subs.lock();
        subs.push((id, tx));
        self.count.store(subs.len(), Ordering::Relaxed);
        rx
    }

    /// Forgets a monitor (its connection closed or ran RESET).
    pub fn remove(&self, id: u64) {
        let mut subs = self.subs.lock();
        subs.retain(|(i, _)| *i != id);
        self.count.store(subs.len(), Ordering::Relaxed);
    }

    fn feed(&self, line: Bytes) {
        let mut subs = self.subs.lock();
        subs.retain(|(_, tx)| match tx.try_send(line.clone()) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        self.count.store(subs.len(), Ordering::Relaxed);
    }
}

/// The arguments as MONITOR and SLOWLOG show them: AUTH's arguments and
/// the user name and password of HELLO's AUTH option become `(redacted)`,
/// as in Redis.
pub fn redacted(args: &[Bytes]) -> std::borrow::Cow<'_, [Bytes]> {
    let hidden = || Bytes::from_static(b"(redacted)");
    match args.first() {
        Some(n) if n.eq_ignore_ascii_case(b"auth") => {
            let mut v = args.to_vec();
            v.iter_mut().skip(1).for_each(|a| *a = hidden());
            std::borrow::Cow::Owned(v)
        }
        Some(n) if n.eq_ignore_ascii_case(b"hello") => {
            let mut v = args.to_vec();
            let mut i = 2;
            while i < v.len() {
                if v[i].eq_ignore_ascii_case(b"auth") {
                    for j in i + 1..(i + 3).min(v.len()) {
                        v[j] = hidden();
                    }
                    i += 3;
                } else {
                    i += 1;
                }
            }
            std::borrow::Cow::Owned(v)
        }
        _ => std::borrow::Cow::Borrowed(args),
    }
}

/// Appends `arg` quoted and escaped as Redis's `sdscatrepr` does.
pub fn repr(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'"');
    for &b in arg {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Builds the monitor line for one executed command and sends it to every
/// monitor. Called by dispatch only when [`Monitors::active`].
pub fn feed(shared: &Shared, session: &Session, args: &[Bytes]) {
    let us = unix_us();
    let mut line = Vec::with_capacity(64);
    line.push(b'+');
    line.extend_from_slice(format!("{}.{:06} ", us / 1_000_000, us % 1_000_000).as_bytes());
    if session.handle.is_unix {
        line.extend_from_slice(
            format!("[{} unix:{}] ", session.db, session.handle.laddr).as_bytes(),
        );
    } else {
        line.extend_from_slice(format!("[{} {}] ", session.db, session.handle.addr).as_bytes());
    }
    for (i, a) in redacted(args).iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        repr(&mut line, a);
    }
    line.extend_from_slice(b"\r\n");
    shared.monitors.feed(Bytes::from(line));
}

fn cmd_monitor(ctx: &mut Ctx) -> CmdResult {
    if ctx.session.in_exec.is_some() {
        return Err(crate::errors::MONITOR_IN_EXEC.into());
    }
    if ctx.session.monitor {
        return Ok(());
    }
    let rx = ctx.shared.monitors.add(ctx.session.id);
    ctx.session.monitor = true;
    ctx.session.monitor_rx = Some(rx);
    ctx.session.handle.is_monitor.store(true, Ordering::Relaxed);
    ctx.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_escapes_like_redis() {
        let mut out = Vec::new();
        repr(&mut out, b"a\"b\\c\n\x01 ");
        assert_eq!(out, b"\"a\\\"b\\\\c\\n\\x01 \"".to_vec());
    }

    #[test]
    fn passwords_are_redacted() {
        let args: Vec<Bytes> = ["HELLO", "3", "AUTH", "u", "p", "SETNAME", "n"]
            .iter()
            .map(|s| Bytes::from(s.to_string()))
            .collect();
        let r = redacted(&args);
        assert_eq!(r[3], Bytes::from("(redacted)"));
        assert_eq!(r[4], Bytes::from("(redacted)"));
        assert_eq!(r[6], Bytes::from("n"));
        let auth = [Bytes::from("AUTH"), Bytes::from("pw")];
        assert_eq!(redacted(&auth)[1], Bytes::from("(redacted)"));
    }
}
