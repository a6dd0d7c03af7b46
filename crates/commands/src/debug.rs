//! DEBUG: the few developer subcommands that tests and tools rely on
//! (SLEEP, OBJECT, SET-ACTIVE-EXPIRE, CHANGE-REPL-ID, ERROR, LOG, HELP).
//!
//! DEBUG is one plain table entry, not a container, because Redis answers
//! an unknown DEBUG subcommand with its own message rather than the generic
//! "unknown subcommand" one. Like Redis it is refused unless
//! `enable-debug-command` allows it (`yes`, or `local` for loopback and
//! unix-socket clients).

use crate::args::is;
use crate::context::{CmdError, CmdResult, Ctx};
use crate::errors;
use crate::table::{command, flags::*, Command, Group, NO_KEYS};
use std::sync::atomic::Ordering;

pub static COMMANDS: &[Command] = &[command(
    "debug",
    -2,
    ADMIN | NOSCRIPT | LOADING | STALE,
    NO_KEYS,
    Group::Server,
    "1.0.0",
    "A container for debugging commands.",
    cmd_debug,
)];

fn allowed(ctx: &Ctx) -> bool {
    match ctx.shared.config.get("enable-debug-command").as_deref() {
        Some("yes") => true,
        Some("local") => {
            let h = &ctx.session.handle;
            h.is_unix
                || h.addr
                    .parse::<std::net::SocketAddr>()
                    .is_ok_and(|a| a.ip().is_loopback())
        }
        _ => false,
    }
}

/// C's `atof`: the longest numeric prefix, 0 when there is none.
fn atof(arg: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(arg);
    let s = s.trim_start();
    let mut end = 0;
    for i in (1..=s.len()).rev() {
        if s.is_char_boundary(i) && s[..i].parse::<f64>().is_ok() {
            end = i;
            break;
        }
    }
    s[..end].parse::<f64>().unwrap_or(0.0)
}

fn bad_sub(ctx: &Ctx) -> CmdError {
    errors::subcommand_syntax(ctx.arg(1), "DEBUG").into()
}

fn cmd_debug(ctx: &mut Ctx) -> CmdResult {
    if !allowed(ctx) {
        return Err(errors::DEBUG_NOT_ALLOWED.into());
    }
    let sub = ctx.arg(1).clone();
    let argc = ctx.args.len();
    if is(&sub, "help") && argc == 2 {
        return crate::server::reply_help(
            ctx,
            "DEBUG",
            &[
                ("CHANGE-REPL-ID", "Pick new replication ids."),
                ("ERROR <string>", "Reply with <string> as an error."),
                ("LOG <message>", "Write <message> to the server log."),
                ("OBJECT <key>", "Low level facts about the value at <key>."),
                (
                    "SET-ACTIVE-EXPIRE <0|1>",
                    "Turn the background expiry of keys off (0) or on (1).",
                ),
                (
                    "SLEEP <seconds>",
                    "Stall the serving thread for <seconds>; decimals allowed.",
                ),
            ],
        );
    }
    if is(&sub, "sleep") && argc == 3 {
        let secs = atof(ctx.arg(2));
        if let Ok(d) = std::time::Duration::try_from_secs_f64(secs) {
            // Redis blocks its whole event loop; here the worker thread
            // running this connection stalls, which is what tests expect.
            std::thread::sleep(d);
        }
        return ctx.ok();
    }
    if is(&sub, "set-active-expire") && argc == 3 {
        let on = crate::args::parse_i64(ctx.arg(2)).unwrap_or(0) != 0;
        ctx.shared.active_expire.store(on, Ordering::Relaxed);
        return ctx.ok();
    }
    if is(&sub, "change-repl-id") && argc == 2 {
        let old = std::mem::replace(
            &mut *ctx.shared.replid.lock(),
            crate::context::random_hex40(),
        );
        *ctx.shared.replid2.lock() = old;
        return ctx.ok();
    }
    if is(&sub, "error") && argc == 3 {
        let msg = String::from_utf8_lossy(ctx.arg(2)).into_owned();
        return Err(msg.into());
    }
    if is(&sub, "reload") && argc == 2 {
        return match crate::persist::debug_reload(ctx.shared) {
            Ok(()) => ctx.ok(),
            Err(e) => Err(format!("ERR Error trying to load the RDB dump: {e}").into()),
        };
    }
    if is(&sub, "log") && argc == 3 {
        return ctx.ok();
    }
    if is(&sub, "object") && argc == 3 {
        let key = ctx.arg(2).clone();
        let db = ctx.db();
        let mut locked = ctx.ks().lock(db, &key, ctx.now_ms);
        let Some(entry) = locked.get(db, &key) else {
            return Err(errors::NO_SUCH_KEY.into());
        };
        let enc = entry.value().encoding_name();
        let len = match entry.value() {
            ferrocache_store::ValueRef::Str(s) => s.len(),
            other => other.heap_size(),
        };
        let addr = entry as *const _ as usize;
        // Lists add their quicklist figures, as Redis does: the layout
        // Redis would give the list under the current fill.
        let ql = match entry.value() {
            ferrocache_store::ValueRef::List(l) => {
                let fill = ferrocache_store::list::clamp_fill(
                    ctx.shared.tuning.list_fill.load(Ordering::Relaxed),
                );
                let (nodes, bytes) = l.quicklist_layout(fill);
                let avg = if nodes == 0 {
                    0.0
                } else {
                    l.len() as f64 / nodes as f64
                };
                let compressed = ctx
                    .shared
                    .config
                    .get_i64("list-compress-depth")
                    .is_some_and(|d| d != 0);
                format!(
                    " ql_nodes:{nodes} ql_avg_node:{avg:.2} ql_listpack_max:{fill} ql_compressed:{} ql_uncompressed_size:{bytes}",
                    compressed as u8
                )
            }
            _ => String::new(),
        };
        drop(locked);
        let text = format!(
            "Value at:0x{addr:x} refcount:1 encoding:{enc} serializedlength:{} lru:{} lru_seconds_idle:0{ql}",
            len.max(1),
            (crate::context::unix_ms() / 1000) & ((1 << 24) - 1)
        );
        ctx.reply().simple(&text);
        return Ok(());
    }
    Err(bad_sub(ctx))
}
