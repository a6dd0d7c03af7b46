//! Server commands: COMMAND, INFO, CONFIG, DBSIZE, FLUSHDB, FLUSHALL,
//! SHUTDOWN and friends.

use crate::args::is;
use crate::config::ConfigError;
use crate::context::{CmdError, CmdResult, Ctx};
use crate::errors;
use crate::table::{self, command, container, flags::*, Command, Group, NO_KEYS};
use ferrocache_protocol::Encoder;

/// The Redis version Ferrocache answers as: clients and Sentinel gate
/// features on it.
pub const REDIS_VERSION: &str = "7.0.15";

const G: Group = Group::Server;

pub static COMMANDS: &[Command] = &[
    container(
        "command",
        -1,
        G,
        "2.8.13",
        "Returns detailed information about all commands.",
        COMMAND_SUBS,
    ),
    container(
        "config",
        -2,
        G,
        "2.0.0",
        "A container for server configuration commands.",
        CONFIG_SUBS,
    ),
    command(
        "dbsize",
        1,
        READONLY | FAST,
        NO_KEYS,
        Group::Server,
        "1.0.0",
        "Returns the number of keys in the database.",
        cmd_dbsize,
    ),
    command(
        "flushdb",
        -1,
        WRITE,
        NO_KEYS,
        G,
        "1.0.0",
        "Removes all keys from the current database.",
        cmd_flushdb,
    ),
    command(
        "flushall",
        -1,
        WRITE,
        NO_KEYS,
        G,
        "1.0.0",
        "Removes all keys from all databases.",
        cmd_flushall,
    ),
    command(
        "info",
        -1,
        LOADING | STALE | SENTINEL,
        NO_KEYS,
        G,
        "1.0.0",
        "Returns information and statistics about the server.",
        cmd_info,
    ),
    command(
        "time",
        1,
        LOADING | STALE | FAST,
        NO_KEYS,
        G,
        "2.6.0",
        "Returns the server time.",
        cmd_time,
    ),
    command(
        "bgrewriteaof",
        1,
        ADMIN | NOSCRIPT,
        NO_KEYS,
        G,
        "1.0.0",
        "Asynchronously rewrites the append-only file to disk.",
        cmd_bgrewriteaof,
    ),
    command(
        "lastsave",
        1,
        LOADING | STALE | FAST,
        NO_KEYS,
        G,
        "1.0.0",
        "Returns the Unix timestamp of the last successful save to disk.",
        cmd_lastsave,
    ),
    container(
        "function",
        -2,
        Group::Scripting,
        "7.0.0",
        "A container for function commands.",
        FUNCTION_SUBS,
    ),
    command(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | SENTINEL | ALLOW_BUSY,
        NO_KEYS,
        G,
        "1.0.0",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        cmd_shutdown,
    ),
];

static COMMAND_SUBS: &[Command] = &[
    command(
        "count",
        2,
        LOADING | STALE,
        NO_KEYS,
        G,
        "2.8.13",
        "Returns a count of commands.",
        cmd_command_count,
    ),
    command(
        "list",
        -2,
        LOADING | STALE,
        NO_KEYS,
        G,
        "7.0.0",
        "Returns a list of command names.",
        cmd_command_list,
    ),
    command(
        "info",
        -2,
        LOADING | STALE,
        NO_KEYS,
        G,
        "2.8.13",
        "Returns information about one, multiple or all commands.",
        cmd_command_info,
    ),
    command(
        "docs",
        -2,
        LOADING | STALE,
        NO_KEYS,
        G,
        "7.0.0",
        "Returns documentary information about one, multiple or all commands.",
        cmd_command_docs,
    ),
    command(
        "getkeys",
        -3,
        LOADING | STALE,
        NO_KEYS,
        G,
        "2.8.13",
        "Extracts the key names from an arbitrary command.",
        cmd_command_getkeys,
    ),
];

static FUNCTION_SUBS: &[Command] = &[command(
    "flush",
    -2,
    WRITE | NOSCRIPT,
    NO_KEYS,
    Group::Scripting,
    "7.0.0",
    "Deletes all libraries and functions.",
    cmd_function_flush,
)];

static CONFIG_SUBS: &[Command] = &[
    command(
        "rewrite",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        NO_KEYS,
        G,
        "2.8.0",
        "Persists the effective configuration to file.",
        cmd_config_rewrite,
    ),
    command(
        "get",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        NO_KEYS,
        G,
        "2.0.0",
        "Returns the effective values of configuration parameters.",
        cmd_config_get,
    ),
    command(
        "set",
        -4,
        ADMIN | NOSCRIPT | LOADING | STALE,
        NO_KEYS,
        G,
        "2.0.0",
        "Sets configuration parameters in-flight.",
        cmd_config_set,
    ),
    command(
        "resetstat",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        NO_KEYS,
        G,
        "2.0.0",
        "Resets the server's statistics.",
        cmd_config_resetstat,
    ),
];

/// Replies to a HELP subcommand: a usage line, then each entry's syntax and
/// its description indented below it, then HELP itself.
pub fn reply_help(ctx: &mut Ctx, container: &str, entries: &[(&str, &str)]) -> CmdResult {
    let mut r = ctx.reply();
    r.array(1 + 2 * entries.len() + 2);
    r.simple(&format!(
        "{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for (syntax, what) in entries {
        r.simple(syntax);
        r.simple(&format!("    {what}"));
    }
    r.simple("HELP");
    r.simple("    Print this help.");
    Ok(())
}

fn cmd_bgrewriteaof(ctx: &mut Ctx) -> CmdResult {
    let aof = &ctx.shared.journal.aof;
    if aof
        .rewrite_in_progress
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return Err(errors::AOF_REWRITE_IN_PROGRESS.into());
    }
    aof.rewrite_scheduled
        .store(true, std::sync::atomic::Ordering::Release);
    ctx.shared.journal.wake_aof();
    ctx.reply()
        .simple("Background append only file rewriting started");
    Ok(())
}

fn cmd_time(ctx: &mut Ctx) -> CmdResult {
    let us = crate::context::unix_us();
    let mut r = ctx.reply();
    r.array(2);
    r.bulk((us / 1_000_000).to_string().as_bytes());
    r.bulk((us % 1_000_000).to_string().as_bytes());
    Ok(())
}

fn cmd_lastsave(ctx: &mut Ctx) -> CmdResult {
    let t = ctx
        .shared
        .lastsave
        .load(std::sync::atomic::Ordering::Relaxed);
    ctx.reply().int(t as i64);
    Ok(())
}

/// No functions can be loaded yet, so there is nothing to free; the
/// argument is still checked as Redis checks it.
fn cmd_function_flush(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(errors::subcommand_syntax(ctx.arg(1), "FUNCTION").into());
    }
    match ctx.args.len() {
        2 => {}
        3 if is(ctx.arg(2), "ASYNC") || is(ctx.arg(2), "SYNC") => {}
        _ => return Err(errors::FUNCTION_FLUSH_MODE.into()),
    }
    ctx.ok()
}

fn cmd_config_rewrite(ctx: &mut Ctx) -> CmdResult {
    let Some(path) = ctx.shared.config_file.lock().clone() else {
        return Err(errors::NO_CONFIG_FILE.into());
    };
    match crate::config::rewrite_file(&ctx.shared.config, &path) {
        Ok(()) => ctx.ok(),
        Err(e) => Err(errors::rewrite_failed(&e.to_string()).into()),
    }
}

/// CLIENT SETNAME and HELLO SETNAME refuse names with spaces or newlines.
pub fn validate_client_name(name: &[u8]) -> CmdResult {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(errors::CLIENT_NAME_CHARS.into());
    }
    Ok(())
}

fn cmd_dbsize(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.ks().db_size(ctx.db());
    ctx.reply().int(n as i64);
    Ok(())
}

/// Parses the optional ASYNC|SYNC argument of FLUSHDB/FLUSHALL.
fn flush_is_async(ctx: &Ctx) -> Result<bool, CmdError> {
    match ctx.args.len() {
        1 => Ok(ctx.shared.config.get_bool("lazyfree-lazy-user-flush")),
        2 if is(ctx.arg(1), "ASYNC") => Ok(true),
        2 if is(ctx.arg(1), "SYNC") => Ok(false),
        _ => Err(errors::SYNTAX.into()),
    }
}

/// Frees flushed tables inline, or on a helper thread for ASYNC.
fn free_tables(tables: Vec<ferrocache_store::Shard>, lazy: bool) {
    if lazy && !tables.is_empty() {
        std::thread::spawn(move || drop(tables));
    }
}

fn cmd_flushdb(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_is_async(ctx)?;
    let tables = ctx.ks().flush_db(ctx.db());
    ctx.ks()
        .stats
        .dirty
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    free_tables(tables, lazy);
    ctx.shared.pubsub.tracking.flushed(&ctx.shared.pubsub);
    ctx.ok()
}

fn cmd_flushall(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_is_async(ctx)?;
    let tables = ctx.ks().flush_all();
    ctx.ks()
        .stats
        .dirty
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    free_tables(tables, lazy);
    ctx.shared.pubsub.tracking.flushed(&ctx.shared.pubsub);
    ctx.ok()
}

fn cmd_info(ctx: &mut Ctx) -> CmdResult {
    let sections: Vec<String> = ctx.args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let text = crate::info::render(ctx.shared, &sections);
    ctx.reply().verbatim("txt", text.as_bytes());
    Ok(())
}

fn cmd_shutdown(ctx: &mut Ctx) -> CmdResult {
    let (mut nosave, mut save, mut abort) = (false, false, false);
    for a in &ctx.args[1..] {
        if is(a, "NOSAVE") {
            nosave = true;
        } else if is(a, "SAVE") {
            save = true;
        } else if is(a, "ABORT") {
            abort = true;
        } else if !(is(a, "NOW") || is(a, "FORCE")) {
            return Err(errors::SYNTAX.into());
        }
    }
    if (nosave && save) || (abort && ctx.args.len() > 2) {
        return Err(errors::SYNTAX.into());
    }
    if abort {
        // Shutdown here never waits for replicas, so none is ever pending.
        return Err(errors::NO_SHUTDOWN_IN_PROGRESS.into());
    }
    // Like Redis, a successful SHUTDOWN sends no reply: the connection
    // just closes.
    ctx.shared.request_shutdown();
    ctx.session.close_after_reply = true;
    Ok(())
}

fn cmd_command_count(ctx: &mut Ctx) -> CmdResult {
    let n = table::all_commands().len();
    ctx.reply().int(n as i64);
    Ok(())
}

fn cmd_command_list(ctx: &mut Ctx) -> CmdResult {
    let mut filter: Option<(String, Vec<u8>)> = None;
    if ctx.args.len() == 5 && is(ctx.arg(2), "FILTERBY") {
        let kind = String::from_utf8_lossy(ctx.arg(3)).to_ascii_lowercase();
        if !matches!(kind.as_str(), "module" | "aclcat" | "pattern") {
            return Err(errors::SYNTAX.into());
        }
        filter = Some((kind, ctx.arg(4).to_vec()));
    } else if ctx.args.len() != 2 {
        return Err(errors::SYNTAX.into());
    }
    let mut names: Vec<String> = Vec::new();
    for c in table::all_commands() {
        let mut all = vec![c.name.to_string()];
        all.extend(
            c.subcommands
                .iter()
                .map(|s| format!("{}|{}", c.name, s.name)),
        );
        for n in all {
            let keep = match &filter {
                None => true,
                Some((k, v)) if k == "pattern" => {
                    ferrocache_store::glob::glob_match(v, n.as_bytes(), true)
                }
                Some((k, v)) if k == "aclcat" => {
                    let cat = String::from_utf8_lossy(v).to_ascii_lowercase();
                    acl_categories(c)
                        .iter()
                        .any(|x| x.trim_start_matches('@') == cat)
                }
                Some(_) => false,
            };
            if keep {
                names.push(n);
            }
        }
    }
    let mut r = ctx.reply();
    r.array(names.len());
    for n in names {
        r.bulk(n.as_bytes());
    }
    Ok(())
}

/// ACL categories derived from a command's flags and group.
pub fn acl_categories(c: &Command) -> Vec<&'static str> {
    let mut cats = Vec::new();
    if c.has(WRITE) {
        cats.push("@write");
    }
    if c.has(READONLY) {
        cats.push("@read");
    }
    if c.has(ADMIN) {
        cats.push("@admin");
        cats.push("@dangerous");
    }
    if c.has(PUBSUB) {
        cats.push("@pubsub");
    }
    if c.has(FAST) {
        cats.push("@fast");
    } else {
        cats.push("@slow");
    }
    if c.has(BLOCKING) {
        cats.push("@blocking");
    }
    let g = c.group.acl_category();
    if !cats.contains(&g) {
        cats.push(g);
    }
    // Redis lists a command's categories in the order of its category table.
    cats.sort_by_key(|c| ACL_CATEGORY_ORDER.iter().position(|o| o == c));
    cats
}

/// Redis 7.0's ACL categories, in the order COMMAND INFO lists them.
const ACL_CATEGORY_ORDER: &[&str] = &[
    "@keyspace",
    "@read",
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@hash",
    "@string",
    "@bitmap",
    "@hyperloglog",
    "@geo",
    "@stream",
    "@pubsub",
    "@admin",
    "@fast",
    "@slow",
    "@blocking",
    "@dangerous",
    "@connection",
    "@transaction",
    "@scripting",
];

fn write_command_info(r: &mut Encoder, c: &Command, parent: Option<&Command>) {
    r.array(10);
    r.bulk(table::full_name(c, parent).as_bytes());
    r.int(c.arity as i64);
    let names: Vec<&str> = table::flags::NAMES
        .iter()
        .filter(|(f, _)| c.has(*f))
        .map(|(_, n)| *n)
        .collect();
    r.set(names.len());
    for n in names {
        r.simple(n);
    }
    r.int(c.keys.first as i64);
    r.int(c.keys.last as i64);
    r.int(c.keys.step as i64);
    let cats = acl_categories(c);
    r.set(cats.len());
    for cat in cats {
        r.simple(cat);
    }
    r.set(0); // tips
    r.array(0); // key specifications
    r.array(c.subcommands.len());
    for s in c.subcommands {
        write_command_info(r, s, Some(c));
    }
}

fn cmd_command_info(ctx: &mut Ctx) -> CmdResult {
    let args = &ctx.args[2..];
    let mut r = Encoder::new(ctx.out, ctx.session.proto);
    if args.is_empty() {
        let all = table::all_commands();
        r.array(all.len());
        for c in all {
            write_command_info(&mut r, c, None);
        }
        return Ok(());
    }
    r.array(args.len());
    for a in args {
        match find_command_by_full_name(a) {
            Some((c, p)) => write_command_info(&mut r, c, p),
            None => r.null_array(),
        }
    }
    Ok(())
}

/// Resolves `get` or `config|get` to a table entry.
fn find_command_by_full_name(name: &[u8]) -> Option<(&'static Command, Option<&'static Command>)> {
    match name.iter().position(|&b| b == b'|') {
        None => table::lookup(name).map(|c| (c, None)),
        Some(i) => {
            let parent = table::lookup(&name[..i])?;
            table::lookup_sub(parent, &name[i + 1..]).map(|s| (s, Some(parent)))
        }
    }
}

fn write_command_docs(r: &mut Encoder, c: &Command, parent: Option<&Command>) {
    r.bulk(table::full_name(c, parent).as_bytes());
    let n = if c.subcommands.is_empty() { 3 } else { 4 };
    r.map(n);
    r.bulk(b"summary");
    r.bulk(c.summary.as_bytes());
    r.bulk(b"since");
    r.bulk(c.since.as_bytes());
    r.bulk(b"group");
    r.bulk(c.group.name().as_bytes());
    if !c.subcommands.is_empty() {
        r.bulk(b"subcommands");
        r.map(c.subcommands.len());
        for s in c.subcommands {
            write_command_docs(r, s, Some(c));
        }
    }
}

fn cmd_command_docs(ctx: &mut Ctx) -> CmdResult {
    let args = &ctx.args[2..];
    let mut r = Encoder::new(ctx.out, ctx.session.proto);
    if args.is_empty() {
        let all = table::all_commands();
        r.map(all.len());
        for c in all {
            write_command_docs(&mut r, c, None);
        }
        return Ok(());
    }
    let found: Vec<_> = args
        .iter()
        .filter_map(|a| find_command_by_full_name(a))
        .collect();
    r.map(found.len());
    for (c, p) in found {
        write_command_docs(&mut r, c, p);
    }
    Ok(())
}

fn cmd_command_getkeys(ctx: &mut Ctx) -> CmdResult {
    let inner = &ctx.args[2..];
    let (cmd, _) = match table::resolve(inner) {
        table::Resolved::Found { cmd, parent } => (cmd, parent),
        table::Resolved::Unknown(_) => return Err(errors::GETKEYS_INVALID_COMMAND.into()),
        table::Resolved::WrongArity(_) => return Err(errors::GETKEYS_INVALID_ARGS.into()),
    };
    let pos = cmd.key_positions_of(inner);
    if pos.is_empty() {
        return Err(errors::GETKEYS_NO_KEYS.into());
    }
    let mut r = ctx.reply();
    r.array(pos.len());
    for p in pos {
        r.bulk(&inner[p]);
    }
    Ok(())
}

fn cmd_config_get(ctx: &mut Ctx) -> CmdResult {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pat in &ctx.args[2..] {
        for (k, v) in ctx.shared.config.matching(pat) {
            if !pairs.iter().any(|(n, _)| *n == k) {
                pairs.push((k, v));
            }
        }
    }
    let mut r = ctx.reply();
    r.map(pairs.len());
    for (k, v) in pairs {
        r.bulk(k.as_bytes());
        r.bulk(v.as_bytes());
    }
    Ok(())
}

fn cmd_config_set(ctx: &mut Ctx) -> CmdResult {
    let args = &ctx.args[2..];
    if !args.len().is_multiple_of(2) {
        return Err(errors::SYNTAX.into());
    }
    // Validate every pair before applying any, so a failed CONFIG SET
    // changes nothing.
    let mut seen: Vec<&'static str> = Vec::new();
    for pair in args.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).into_owned();
        let Some(p) = crate::config::find_param(&name) else {
            return Err(errors::config_set_unknown(&name).into());
        };
        let fail = |why: &str| -> CmdError { errors::config_set_failed(&name, why).into() };
        if !p.mutable {
            return Err(fail("can't set immutable config"));
        }
        if seen.contains(&p.name) {
            return Err(fail("duplicate parameter"));
        }
        seen.push(p.name);
        p.normalize(&String::from_utf8_lossy(&pair[1]))
            .map_err(|e| fail(&e))?;
    }
    for pair in args.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).into_owned();
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        match ctx.shared.config.set(&name, &value, false) {
            Ok(()) => {}
            Err(ConfigError::Unknown) => return Err(errors::config_set_unknown(&name).into()),
            Err(ConfigError::Invalid(why)) => {
                return Err(errors::config_set_failed(&name, &why).into())
            }
        }
    }
    ctx.shared.apply_config();
    let max = ctx
        .shared
        .tuning
        .slowlog_max_len
        .load(std::sync::atomic::Ordering::Relaxed);
    ctx.shared.slowlog.trim(max as usize);
    ctx.ok()
}

fn cmd_config_resetstat(ctx: &mut Ctx) -> CmdResult {
    use std::sync::atomic::Ordering::Relaxed;
    ctx.shared.stats.reset();
    let ks = &ctx.ks().stats;
    ks.keyspace_hits.store(0, Relaxed);
    ks.keyspace_misses.store(0, Relaxed);
    ks.expired_keys.store(0, Relaxed);
    let c = &ctx.shared.clients;
    c.total_connections.store(0, Relaxed);
    c.rejected_connections.store(0, Relaxed);
    ctx.ok()
}
