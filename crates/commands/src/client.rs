//! CLIENT: naming, listing, killing and pausing connections, and the reply
//! mode of the calling connection.
//!
//! Other connections are reached only through their [`ClientHandle`] in the
//! registry: a kill sets a flag and wakes the victim's loop, which closes its
//! own socket. A pause is recorded in [`crate::context::Pause`] and enforced
//! by the connection loop before it runs a command, so a paused command waits
//! instead of failing.

use crate::args::{is, parse_i64};
use crate::clients::ClientHandle;
use crate::context::{CmdError, CmdResult, Ctx, ReplyMode};
use crate::errors;
use crate::table::{command, container, flags::*, Command, Group, NO_KEYS};
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const G: Group = Group::Connection;
const F: u32 = NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[Command] = &[container(
    "client",
    -2,
    G,
    "2.4.0",
    "A container for client connection commands.",
    SUBS,
)];

static SUBS: &[Command] = &[
    command(
        "id",
        2,
        F,
        NO_KEYS,
        G,
        "5.0.0",
        "Returns the unique client ID of the connection.",
        cmd_client_id,
    ),
    command(
        "setname",
        3,
        F,
        NO_KEYS,
        G,
        "2.6.9",
        "Sets the connection name.",
        cmd_client_setname,
    ),
    command(
        "getname",
        2,
        F,
        NO_KEYS,
        G,
        "2.6.9",
        "Returns the name of the connection.",
        cmd_client_getname,
    ),
    command(
        "list",
        -2,
        ADMIN | F,
        NO_KEYS,
        G,
        "2.4.0",
        "Lists open connections.",
        cmd_client_list,
    ),
    command(
        "info",
        2,
        F,
        NO_KEYS,
        G,
        "6.2.0",
        "Returns information about the connection.",
        cmd_client_info,
    ),
    command(
        "kill",
        -3,
        ADMIN | F,
        NO_KEYS,
        G,
        "2.4.0",
        "Terminates open connections.",
        cmd_client_kill,
    ),
    command(
        "pause",
        -3,
        ADMIN | F,
        NO_KEYS,
        G,
        "3.0.0",
        "Suspends commands processing.",
        cmd_client_pause,
    ),
    command(
        "unpause",
        2,
        ADMIN | F,
        NO_KEYS,
        G,
        "6.2.0",
        "Resumes processing commands from paused clients.",
        cmd_client_unpause,
    ),
    command(
        "reply",
        3,
        F,
        NO_KEYS,
        G,
        "3.2.0",
        "Instructs the server whether to reply to commands.",
        cmd_client_reply,
    ),
    command(
        "no-evict",
        3,
        ADMIN | F,
        NO_KEYS,
        G,
        "7.0.0",
        "Sets the client eviction mode of the connection.",
        cmd_client_no_evict,
    ),
    command(
        "setinfo",
        4,
        F,
        NO_KEYS,
        G,
        "7.2.0",
        "Sets information specific to the client or connection.",
        cmd_client_setinfo,
    ),
    command(
        "unblock",
        -3,
        ADMIN | F,
        NO_KEYS,
        G,
        "5.0.0",
        "Unblocks a client blocked by a blocking command from a different connection.",
        cmd_client_unblock,
    ),
    command(
        "getredir",
        2,
        F,
        NO_KEYS,
        G,
        "6.0.0",
        "Returns the client ID to which the connection's tracking notifications are redirected.",
        crate::tracking::cmd_client_getredir,
    ),
    command(
        "tracking",
        -3,
        F,
        NO_KEYS,
        G,
        "6.0.0",
        "Controls server-assisted client-side caching for the connection.",
        crate::tracking::cmd_client_tracking,
    ),
    command(
        "caching",
        3,
        F,
        NO_KEYS,
        G,
        "6.0.0",
        "Instructs the server whether to track the keys in the next request.",
        crate::tracking::cmd_client_caching,
    ),
    command(
        "trackinginfo",
        2,
        F,
        NO_KEYS,
        G,
        "6.2.0",
        "Returns information about server-assisted client-side caching for the connection.",
        crate::tracking::cmd_client_trackinginfo,
    ),
    command(
        "help",
        2,
        LOADING | STALE,
        NO_KEYS,
        G,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        cmd_client_help,
    ),
];

/// Kinds of client accepted by TYPE filters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    Master,
    Replica,
    PubSub,
}

fn parse_kind(arg: &[u8]) -> Result<Kind, CmdError> {
    if is(arg, "normal") {
        Ok(Kind::Normal)
    } else if is(arg, "master") {
        Ok(Kind::Master)
    } else if is(arg, "replica") || is(arg, "slave") {
        Ok(Kind::Replica)
    } else if is(arg, "pubsub") {
        Ok(Kind::PubSub)
    } else {
        Err(errors::unknown_client_type(arg).into())
    }
}

/// MONITOR connections count as normal: Redis marks them as replicas
/// internally but shows them as normal clients.
fn kind_of(h: &ClientHandle) -> Kind {
    match h.role.load(Ordering::Relaxed) {
        crate::clients::ROLE_MASTER => Kind::Master,
        crate::clients::ROLE_REPLICA => Kind::Replica,
        _ => Kind::Normal,
    }
}

/// One line of CLIENT LIST / CLIENT INFO, with Redis 7.0's fields in order.
pub fn describe(h: &ClientHandle, out: &mut String) {
    let mut flags = String::new();
    match h.role.load(Ordering::Relaxed) {
        crate::clients::ROLE_MASTER => flags.push('M'),
        crate::clients::ROLE_REPLICA => flags.push('S'),
        _ => {}
    }
    if h.is_monitor.load(Ordering::Relaxed) {
        flags.push('O');
    }
    let (subs, psubs, ssubs) = (
        h.subs.load(Ordering::Relaxed),
        h.psubs.load(Ordering::Relaxed),
        h.ssubs.load(Ordering::Relaxed),
    );
    if subs + psubs + ssubs > 0 {
        flags.push('P');
    }
    let multi = h.multi.load(Ordering::Relaxed);
    if multi >= 0 {
        flags.push('x');
    }
    if h.blocked.load(Ordering::Relaxed) {
        flags.push('b');
    }
    if h.is_unix {
        flags.push('U');
    }
    let tracking = h.tracking.load(Ordering::Relaxed);
    if tracking & crate::tracking::TRACKING_ON != 0 {
        flags.push('t');
    }
    if tracking & crate::tracking::TRACKING_BCAST != 0 {
        flags.push('B');
    }
    if h.no_evict.load(Ordering::Relaxed) {
        flags.push('e');
    }

    if flags.is_empty() {
        flags.push('N');
    }
    let name = h
        .name
        .lock()
        .as_ref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let qbuf = h.qbuf.load(Ordering::Relaxed);
    let obuf = h.obuf.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl={} oll=0 omem=0 tot-mem={} events=r cmd={} user=default redir={} resp={}",
        h.id,
        h.addr,
        h.laddr,
        h.fd.load(Ordering::Relaxed),
        name,
        h.age_secs(),
        h.idle_secs(),
        flags,
        h.db.load(Ordering::Relaxed),
        subs,
        psubs,
        ssubs,
        multi,
        qbuf,
        16384usize.saturating_sub(qbuf),
        obuf,
        16384 + qbuf + obuf,
        h.last_cmd_name(),
        if tracking & crate::tracking::TRACKING_ON != 0 {
            h.redirect.load(Ordering::Relaxed)
        } else {
            -1
        },
        h.resp.load(Ordering::Relaxed),
    );
}

fn cmd_client_id(ctx: &mut Ctx) -> CmdResult {
    let id = ctx.session.id as i64;
    ctx.reply().int(id);
    Ok(())
}

fn cmd_client_setname(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.arg(2).clone();
    crate::server::validate_client_name(&name)?;
    *ctx.session.handle.name.lock() = if name.is_empty() { None } else { Some(name) };
    ctx.ok()
}

fn cmd_client_getname(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.session.handle.name.lock().clone();
    match name {
        Some(n) => ctx.reply().bulk(&n),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn cmd_client_list(ctx: &mut Ctx) -> CmdResult {
    let mut kind = None;
    let mut ids: Option<Vec<u64>> = None;
    let n = ctx.args.len();
    if n == 4 && is(ctx.arg(2), "type") {
        kind = Some(parse_kind(ctx.arg(3))?);
    } else if n >= 4 && is(ctx.arg(2), "id") {
        let mut v = Vec::new();
        for a in &ctx.args[3..] {
            // Any integer is a valid id here; ids that match nobody list
            // nothing.
            match parse_i64(a) {
                Ok(id) => v.push(id as u64),
                Err(_) => return Err(errors::INVALID_CLIENT_ID.into()),
            }
        }
        ids = Some(v);
    } else if n != 2 {
        return Err(errors::SYNTAX.into());
    }
    let mut text = String::new();
    match ids {
        Some(ids) => {
            for id in ids {
                if let Some(h) = ctx.shared.clients.get(id) {
                    describe(&h, &mut text);
                }
            }
        }
        None => {
            for h in ctx.shared.clients.all() {
                if kind.is_none_or(|k| k == kind_of(&h)) {
                    describe(&h, &mut text);
                }
            }
        }
    }
    ctx.reply().verbatim("txt", text.as_bytes());
    Ok(())
}

fn cmd_client_info(ctx: &mut Ctx) -> CmdResult {
    let mut text = String::new();
    describe(&ctx.session.handle, &mut text);
    ctx.reply().verbatim("txt", text.as_bytes());
    Ok(())
}

/// Filters of the new form of CLIENT KILL; every given one must match.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    kind: Option<Kind>,
    user: Option<String>,
    skipme: bool,
}

fn cmd_client_kill(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() == 3 {
        // Old form: CLIENT KILL addr:port, answered with OK or an error.
        let addr = String::from_utf8_lossy(ctx.arg(2)).into_owned();
        let Some(h) = ctx
            .shared
            .clients
            .all()
            .into_iter()
            .find(|h| h.addr == addr)
        else {
            return Err(errors::NO_SUCH_CLIENT.into());
        };
        ctx.ok()?;
        kill(ctx, &h);
        return Ok(());
    }
    let mut f = KillFilter {
        skipme: true,
        ..Default::default()
    };
    let rest = &ctx.args[2..];
    if !rest.len().is_multiple_of(2) {
        return Err(errors::SYNTAX.into());
    }
    for pair in rest.chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if is(opt, "id") {
            match parse_i64(val) {
                Ok(id) if id >= 1 => f.id = Some(id as u64),
                _ => return Err(errors::CLIENT_ID_NOT_POSITIVE.into()),
            }
        } else if is(opt, "type") {
            f.kind = Some(parse_kind(val)?);
        } else if is(opt, "addr") {
            f.addr = Some(String::from_utf8_lossy(val).into_owned());
        } else if is(opt, "laddr") {
            f.laddr = Some(String::from_utf8_lossy(val).into_owned());
        } else if is(opt, "user") {
            let user = String::from_utf8_lossy(val).into_owned();
            if user != "default" {
                return Err(errors::no_such_user(&user).into());
            }
            f.user = Some(user);
        } else if is(opt, "skipme") {
            if is(val, "yes") {
                f.skipme = true;
            } else if is(val, "no") {
                f.skipme = false;
            } else {
                return Err(errors::SYNTAX.into());
            }
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let me = ctx.session.id;
    let victims: Vec<Arc<ClientHandle>> = ctx
        .shared
        .clients
        .all()
        .into_iter()
        .filter(|h| {
            f.id.is_none_or(|id| h.id == id)
                && f.addr.as_ref().is_none_or(|a| &h.addr == a)
                && f.laddr.as_ref().is_none_or(|a| &h.laddr == a)
                && f.kind.is_none_or(|k| k == kind_of(h))
                && !(f.skipme && h.id == me)
        })
        .collect();
    ctx.reply().int(victims.len() as i64);
    for h in &victims {
        kill(ctx, h);
    }
    Ok(())
}

/// Kills a client: itself once its reply is written, another one at once.
fn kill(ctx: &mut Ctx, h: &ClientHandle) {
    if h.id == ctx.session.id {
        ctx.session.close_after_reply = true;
    } else {
        h.kill();
    }
}

fn cmd_client_pause(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 4 {
        return Err(errors::subcommand_syntax(ctx.arg(1), "CLIENT").into());
    }
    let ms = parse_i64(ctx.arg(2)).map_err(|_| CmdError::from(errors::TIMEOUT_NOT_INTEGER))?;
    if ms < 0 {
        return Err(errors::TIMEOUT_NEGATIVE.into());
    }
    let all = match ctx.args.get(3) {
        None => true,
        Some(m) if is(m, "all") => true,
        Some(m) if is(m, "write") => false,
        Some(_) => return Err(errors::PAUSE_MODE.into()),
    };
    // Redis accepts any non-negative timeout; a huge one means "until
    // UNPAUSE" and must not overflow the clock.
    let now = Instant::now();
    let until = now
        .checked_add(Duration::from_millis(ms as u64))
        .unwrap_or(now + Duration::from_secs(100 * 365 * 86400));
    ctx.shared.pause.pause(until, all);
    ctx.ok()
}

fn cmd_client_unpause(ctx: &mut Ctx) -> CmdResult {
    ctx.shared.pause.unpause();
    ctx.ok()
}

fn cmd_client_reply(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.arg(2);
    if is(a, "on") {
        ctx.session.reply_mode = ReplyMode::On;
        ctx.ok()
    } else if is(a, "off") {
        ctx.session.reply_mode = ReplyMode::Off;
        Ok(())
    } else if is(a, "skip") {
        if ctx.session.reply_mode != ReplyMode::Off {
            ctx.session.reply_mode = ReplyMode::Skip;
        }
        Ok(())
    } else {
        Err(errors::SYNTAX.into())
    }
}

fn cmd_client_no_evict(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.arg(2);
    let on = if is(a, "on") {
        true
    } else if is(a, "off") {
        false
    } else {
        return Err(errors::SYNTAX.into());
    };
    ctx.session.handle.no_evict.store(on, Ordering::Relaxed);
    ctx.ok()
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2; accepted so that
/// newer client libraries can announce themselves).
fn cmd_client_setinfo(ctx: &mut Ctx) -> CmdResult {
    let attr = ctx.arg(2);
    let val = String::from_utf8_lossy(ctx.arg(3)).into_owned();
    let (slot, label) = if is(attr, "lib-name") {
        (&ctx.session.handle.lib_name, "lib-name")
    } else if is(attr, "lib-ver") {
        (&ctx.session.handle.lib_ver, "lib-ver")
    } else {
        return Err(errors::unrecognized_option(attr).into());
    };
    if val.bytes().any(|b| !(b'!'..=b'~').contains(&b)) {
        return Err(errors::bad_lib_info(label).into());
    }
    *slot.lock() = if val.is_empty() { None } else { Some(val) };
    ctx.ok()
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if the client was blocked and has
/// been answered (its timeout reply, or an UNBLOCKED error), else 0.
fn cmd_client_unblock(ctx: &mut Ctx) -> CmdResult {
    use crate::blocking::UnblockMode;
    if ctx.args.len() > 4 {
        return Err(errors::subcommand_syntax(ctx.arg(1), "CLIENT").into());
    }
    let id = parse_i64(ctx.arg(2))?;
    let mode = match ctx.args.get(3) {
        None => UnblockMode::Timeout,
        Some(r) if is(r, "timeout") => UnblockMode::Timeout,
        Some(r) if is(r, "error") => UnblockMode::Error,
        Some(_) => return Err(errors::UNBLOCK_REASON.into()),
    };
    let done = u64::try_from(id).is_ok_and(|id| {
        crate::blocking::unblock(ctx.shared, id, mode)
            || crate::replication::unblock_wait(ctx.shared, id, mode == UnblockMode::Error)
    });
    ctx.reply().int(i64::from(done));
    Ok(())
}

fn cmd_client_help(ctx: &mut Ctx) -> CmdResult {
    crate::server::reply_help(
        ctx,
        "CLIENT",
        &[
            ("GETNAME", "Name of this connection."),
            ("GETREDIR", "Return the client ID we are redirecting to when tracking is enabled."),
            ("ID", "Id of this connection."),
            ("INFO", "One line describing this connection, as in CLIENT LIST."),
            ("KILL <ip:port>", "Close the connection from <ip:port>."),
            ("KILL <filter> <value> [...]", "Close every connection matching all filters: ID, ADDR, LADDR, TYPE (NORMAL|MASTER|REPLICA|PUBSUB), USER, SKIPME (YES|NO, default YES)."),
            ("LIST [TYPE <type>|ID <id> [...]]", "Describe connections, one per line."),
            ("NO-EVICT (ON|OFF)", "Exempt this connection from client eviction."),
            ("PAUSE <timeout> [WRITE|ALL]", "Hold all commands, or only writes, for <timeout> milliseconds."),
            ("REPLY (ON|OFF|SKIP)", "Turn replies to this connection on or off, or drop the next one."),
            ("SETINFO (LIB-NAME|LIB-VER) <value>", "Record the client library's name or version."),
            ("SETNAME <name>", "Name this connection."),
            ("UNBLOCK <id> [TIMEOUT|ERROR]", "Wake a client blocked in a blocking command."),
            ("UNPAUSE", "End a pause started by CLIENT PAUSE."),
        ],
    )
}
