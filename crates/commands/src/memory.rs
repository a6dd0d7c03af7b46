//! MEMORY USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE and HELP.
//!
//! Sizes come from the counting allocator (what the process holds) and,
//! per key, from the value's own estimate of its heap plus the entry and
//! its table slot.

use crate::context::{CmdResult, Ctx};
use crate::errors;
use crate::table::{command, container, flags::*, keys, Command, Group, NO_KEYS};
use std::sync::atomic::Ordering;

const G: Group = Group::Server;

pub static COMMANDS: &[Command] = &[container(
    "memory",
    -2,
    G,
    "4.0.0",
    "A container for memory diagnostics commands.",
    SUBS,
)];

static SUBS: &[Command] = &[
    command(
        "usage",
        -3,
        READONLY,
        keys(2, 2, 1),
        G,
        "4.0.0",
        "Estimates the memory usage of a key.",
        cmd_memory_usage,
    ),
    command(
        "stats",
        2,
        0,
        NO_KEYS,
        G,
        "4.0.0",
        "Returns details about memory usage.",
        cmd_memory_stats,
    ),
    command(
        "doctor",
        2,
        0,
        NO_KEYS,
        G,
        "4.0.0",
        "Outputs a memory problems report.",
        cmd_memory_doctor,
    ),
    command(
        "malloc-stats",
        2,
        0,
        NO_KEYS,
        G,
        "4.0.0",
        "Returns the allocator statistics.",
        cmd_memory_malloc_stats,
    ),
    command(
        "purge",
        2,
        0,
        NO_KEYS,
        G,
        "4.0.0",
        "Asks the allocator to release memory.",
        cmd_memory_purge,
    ),
    command(
        "help",
        2,
        LOADING | STALE,
        NO_KEYS,
        G,
        "4.0.0",
        "Returns helpful text about the different subcommands.",
        cmd_memory_help,
    ),
];

/// Bytes a key costs besides what its entry owns: its slot in the shard's
/// table.
const SLOT_BYTES: usize = 8;
/// Bytes of bookkeeping per key that MEMORY STATS reports as the main
/// table's overhead: the slot, and the entry's header and length bytes.
const KEY_OVERHEAD: usize = SLOT_BYTES + 8;

fn cmd_memory_usage(ctx: &mut Ctx) -> CmdResult {
    // SAMPLES is accepted for compatibility; the estimate is exact.
    let mut i = 3;
    while i < ctx.args.len() {
        if ctx.arg(i).eq_ignore_ascii_case(b"samples") && i + 1 < ctx.args.len() {
            crate::args::parse_i64(ctx.arg(i + 1))?;
            i += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let (db, key) = (ctx.db(), ctx.arg(2));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let size = locked.peek(db, key).map(|e| SLOT_BYTES + e.memory());
    drop(locked);
    match size {
        Some(n) => ctx.reply().int(n as i64),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn cmd_memory_stats(ctx: &mut Ctx) -> CmdResult {
    let shared = ctx.shared;
    let used = crate::info::used_memory();
    let peak = shared
        .peak_memory
        .fetch_max(used, Ordering::Relaxed)
        .max(used);
    let rss = crate::info::rss_bytes();
    let keys: usize = (0..shared.ks.databases())
        .map(|db| shared.ks.db_size(db))
        .sum();
    let per_db: Vec<(usize, usize, usize)> = (0..shared.ks.databases())
        .filter_map(|db| {
            let (k, v) = shared.ks.db_counts(db);
            (k > 0).then_some((db, k, v))
        })
        .collect();
    let overhead: usize = per_db.iter().map(|(_, k, _)| k * KEY_OVERHEAD).sum();
    let dataset = (used as usize).saturating_sub(overhead);
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut r = ctx.reply();
    r.map(27 + per_db.len());
    let int = |r: &mut ferrocache_protocol::Encoder<'_>, k: &str, v: i64| {
        r.bulk(k.as_bytes());
        r.int(v);
    };
    int(&mut r, "peak.allocated", peak as i64);
    int(&mut r, "total.allocated", used as i64);
    int(&mut r, "startup.allocated", 0);
    int(&mut r, "replication.backlog", 0);
    int(&mut r, "clients.slaves", 0);
    int(&mut r, "clients.normal", 0);
    int(&mut r, "cluster.links", 0);
    int(&mut r, "aof.buffer", 0);
    int(&mut r, "lua.caches", 0);
    int(&mut r, "functions.caches", 0);
    for (db, k, v) in &per_db {
        r.bulk(format!("db.{db}").as_bytes());
        r.map(2);
        r.bulk(b"overhead.hashtable.main");
        r.int((k * KEY_OVERHEAD) as i64);
        r.bulk(b"overhead.hashtable.expires");
        r.int((v * 16) as i64);
    }
    int(&mut r, "overhead.total", overhead as i64);
    int(&mut r, "keys.count", keys as i64);
    int(
        &mut r,
        "keys.bytes-per-key",
        (used as usize).checked_div(keys).unwrap_or(0) as i64,
    );
    int(&mut r, "dataset.bytes", dataset as i64);
    let dbl = |r: &mut ferrocache_protocol::Encoder<'_>, k: &str, v: f64| {
        r.bulk(k.as_bytes());
        r.double(v);
    };
    dbl(
        &mut r,
        "dataset.percentage",
        ratio(dataset as u64, used) * 100.0,
    );
    dbl(&mut r, "peak.percentage", ratio(used, peak) * 100.0);
    int(&mut r, "allocator.allocated", used as i64);
    int(&mut r, "allocator.active", used as i64);
    int(&mut r, "allocator.resident", rss as i64);
    dbl(&mut r, "allocator-fragmentation.ratio", 1.0);
    int(&mut r, "allocator-fragmentation.bytes", 0);
    dbl(&mut r, "allocator.rss-ratio", ratio(rss, used));
    int(&mut r, "allocator.rss-bytes", rss as i64 - used as i64);
    dbl(&mut r, "rss-overhead.ratio", 1.0);
    int(&mut r, "rss-overhead.bytes", 0);
    dbl(&mut r, "fragmentation", ratio(rss, used));
    int(&mut r, "fragmentation.bytes", rss as i64 - used as i64);
    Ok(())
}

fn cmd_memory_doctor(ctx: &mut Ctx) -> CmdResult {
    let used = crate::info::used_memory();
    let rss = crate::info::rss_bytes();
    let mut report = String::new();
    if used < 5 << 20 {
        report.push_str(
            "The dataset is too small (under 5 MB) for a memory diagnosis to mean anything.\n",
        );
    } else {
        let frag = rss as f64 / used.max(1) as f64;
        if frag > 1.4 {
            report.push_str(&format!(
                "High fragmentation: RSS is {frag:.2} times the allocated memory. MEMORY PURGE may return some of it to the system.\n"
            ));
        }
        let max = ctx.shared.evictor.maxmemory.load(Ordering::Relaxed);
        if max > 0 && used > max {
            report.push_str("Used memory is over maxmemory: evictions are running.\n");
        }
        if report.is_empty() {
            report.push_str("No memory problems found.\n");
        }
    }
    ctx.reply().verbatim("txt", report.as_bytes());
    Ok(())
}

fn cmd_memory_malloc_stats(ctx: &mut Ctx) -> CmdResult {
    ctx.reply()
        .verbatim("txt", b"Stats not supported for the current allocator");
    Ok(())
}

fn cmd_memory_purge(ctx: &mut Ctx) -> CmdResult {
    ctx.reply().ok();
    Ok(())
}

fn cmd_memory_help(ctx: &mut Ctx) -> CmdResult {
    crate::server::reply_help(
        ctx,
        "MEMORY",
        &[
            ("DOCTOR", "Return memory problems reports."),
            ("MALLOC-STATS", "Return internal statistics report from the memory allocator."),
            ("PURGE", "Attempt to purge dirty pages for reclamation by the allocator."),
            ("STATS", "Return information about the memory usage of the server."),
            (
                "USAGE <key> [SAMPLES <count>]",
                "Return memory in bytes used by <key> and its value. Nested values are sampled up to <count> times (default: 5, 0 means sample all).",
            ),
        ],
    )
}
