//! Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, RESET.

use crate::args::{is, parse_i64};
use crate::context::{CmdResult, Ctx};
use crate::errors;
use crate::table::{command, flags::*, Command, Group, NO_KEYS};
use ferrocache_protocol::Protocol;

const G: Group = Group::Connection;

pub static COMMANDS: &[Command] = &[
    command(
        "ping",
        -1,
        FAST | SENTINEL,
        NO_KEYS,
        G,
        "1.0.0",
        "Returns the server's liveliness response.",
        cmd_ping,
    ),
    command(
        "echo",
        2,
        FAST,
        NO_KEYS,
        G,
        "1.0.0",
        "Returns the given string.",
        cmd_echo,
    ),
    command(
        "quit",
        -1,
        ALLOW_BUSY | NO_AUTH | LOADING | STALE | FAST,
        NO_KEYS,
        G,
        "1.0.0",
        "Closes the connection.",
        cmd_quit,
    ),
    command(
        "select",
        2,
        LOADING | STALE | FAST,
        NO_KEYS,
        G,
        "1.0.0",
        "Changes the selected database.",
        cmd_select,
    ),
    command(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY,
        NO_KEYS,
        G,
        "1.0.0",
        "Authenticates the connection.",
        cmd_auth,
    ),
    command(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY,
        NO_KEYS,
        G,
        "6.0.0",
        "Handshakes with the Redis server.",
        cmd_hello,
    ),
    command(
        "reset",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        NO_KEYS,
        G,
        "6.2.0",
        "Resets the connection.",
        cmd_reset,
    ),
];

/// RESET: back to the state of a new connection (database 0, no name,
/// replies on, RESP2, not a monitor, and unauthenticated when a password is
/// required).
fn cmd_reset(ctx: &mut Ctx) -> CmdResult {
    crate::multi::on_disconnect(ctx.shared, ctx.session);
    let s = &mut *ctx.session;
    s.select(0);
    *s.handle.name.lock() = None;
    s.reply_mode = crate::context::ReplyMode::On;
    s.proto = Protocol::Resp2;
    s.handle.resp.store(2, std::sync::atomic::Ordering::Relaxed);
    s.handle
        .no_evict
        .store(false, std::sync::atomic::Ordering::Relaxed);
    if s.monitor {
        s.monitor = false;
        s.monitor_rx = None;
        s.handle
            .is_monitor
            .store(false, std::sync::atomic::Ordering::Relaxed);
        ctx.shared.monitors.remove(s.id);
    }
    let required = ctx.shared.config.get("requirepass").unwrap_or_default();
    ctx.session.authenticated = required.is_empty();
    ctx.reply().simple("RESET");
    Ok(())
}

fn cmd_ping(ctx: &mut Ctx) -> CmdResult {
    if ctx.session.proto == Protocol::Resp2 && crate::pubsub::subscribed(ctx.session) {
        // Subscribed RESP2 clients get PING's answer in message form.
        let msg = ctx.args.get(1).cloned().unwrap_or_default();
        let mut r = ctx.reply();
        r.array(2);
        r.bulk(b"pong");
        r.bulk(&msg);
        return Ok(());
    }
    match ctx.args.len() {
        1 => ctx.reply().simple("PONG"),
        2 => {
            let msg = ctx.arg(1).clone();
            ctx.reply().bulk(&msg)
        }
        _ => return Err(errors::wrong_arity("ping").into()),
    }
    Ok(())
}

fn cmd_echo(ctx: &mut Ctx) -> CmdResult {
    let msg = ctx.arg(1).clone();
    ctx.reply().bulk(&msg);
    Ok(())
}

fn cmd_quit(ctx: &mut Ctx) -> CmdResult {
    ctx.session.close_after_reply = true;
    ctx.ok()
}

/// Parses a database index argument the way SELECT, MOVE and SWAPDB do.
pub fn parse_db(
    ctx: &Ctx,
    arg: &[u8],
    invalid: &'static str,
) -> Result<usize, crate::context::CmdError> {
    let n = parse_i64(arg).map_err(|_| crate::context::CmdError::from(invalid))?;
    if n < 0 || n as usize >= ctx.ks().databases() {
        return Err(errors::DB_INDEX.into());
    }
    Ok(n as usize)
}

fn cmd_select(ctx: &mut Ctx) -> CmdResult {
    let db = parse_db(ctx, ctx.arg(1), errors::NOT_INTEGER)?;
    ctx.session.select(db);
    ctx.ok()
}

/// Checks a username/password pair against `requirepass` (only the
/// `default` user exists until ACLs do).
fn check_password(ctx: &Ctx, user: Option<&[u8]>, pass: &[u8]) -> bool {
    let required = ctx.shared.config.get("requirepass").unwrap_or_default();
    if user.is_some_and(|u| u != b"default") {
        return false;
    }
    if required.is_empty() {
        // With no password set, the default user accepts any password
        // through the two-argument form only (HELLO AUTH, AUTH user pass).
        return user.is_some();
    }
    required.as_bytes() == pass
}

fn cmd_auth(ctx: &mut Ctx) -> CmdResult {
    let (user, pass) = match ctx.args.len() {
        2 => (None, ctx.arg(1)),
        3 => (Some(ctx.arg(1).as_ref()), ctx.arg(2)),
        _ => return Err(errors::SYNTAX.into()),
    };
    let required = ctx.shared.config.get("requirepass").unwrap_or_default();
    if user.is_none() && required.is_empty() {
        return Err(errors::AUTH_NO_PASSWORD.into());
    }
    if !check_password(ctx, user, pass) {
        return Err(errors::WRONGPASS.into());
    }
    ctx.session.authenticated = true;
    ctx.ok()
}

fn cmd_hello(ctx: &mut Ctx) -> CmdResult {
    let mut i = 1;
    let mut proto = ctx.session.proto;
    if ctx.args.len() >= 2 {
        let v = parse_i64(ctx.arg(1))
            .map_err(|_| crate::context::CmdError::from(errors::PROTO_NOT_INTEGER))?;
        proto = match v {
            2 => Protocol::Resp2,
            3 => Protocol::Resp3,
            _ => return Err(errors::NOPROTO.into()),
        };
        i = 2;
    }
    let mut name = None;
    while i < ctx.args.len() {
        let opt = ctx.arg(i);
        let more = ctx.args.len() - i - 1;
        if is(opt, "AUTH") && more >= 2 {
            let (u, p) = (ctx.arg(i + 1).clone(), ctx.arg(i + 2).clone());
            if !check_password(ctx, Some(&u), &p) {
                return Err(errors::WRONGPASS.into());
            }
            ctx.session.authenticated = true;
            i += 3;
        } else if is(opt, "SETNAME") && more >= 1 {
            let n = ctx.arg(i + 1).clone();
            crate::server::validate_client_name(&n)?;
            name = Some(n);
            i += 2;
        } else {
            return Err(errors::hello_option(opt).into());
        }
    }
    if !ctx.session.authenticated {
        return Err(errors::HELLO_NOAUTH.into());
    }
    if let Some(n) = name {
        *ctx.session.handle.name.lock() = if n.is_empty() { None } else { Some(n) };
    }
    ctx.session.proto = proto;
    ctx.session
        .handle
        .resp
        .store(proto.version() as u8, std::sync::atomic::Ordering::Relaxed);
    let id = ctx.session.id as i64;
    let replica = ctx.shared.repl.is_replica();
    let mut r = ctx.reply();
    r.map(7);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(crate::server::REDIS_VERSION.as_bytes());
    r.bulk(b"proto");
    r.int(proto.version());
    r.bulk(b"id");
    r.int(id);
    r.bulk(b"mode");
    r.bulk(b"standalone");
    r.bulk(b"role");
    r.bulk(if replica { b"replica" } else { b"master" });
    r.bulk(b"modules");
    r.array(0);
    Ok(())
}
