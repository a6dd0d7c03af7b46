//! Persistence: SAVE, BGSAVE, DUMP and RESTORE, and the machinery around
//! them (save rules run by the cron, `stop-writes-on-bgsave-error`, loading
//! at startup, saving at shutdown).
//!
//! Redis forks to get a point-in-time copy for BGSAVE. Ferrocache asks the
//! keyspace for a capture instead (`Keyspace::begin_snapshot`): the instant
//! is fixed while every shard lock is held for a moment, and each shard is
//! copied the first time anyone locks it afterwards, so writes go on while a
//! helper thread encodes and writes the file. Only one snapshot runs at a
//! time; SAVE uses the same path on the caller's thread.
//!
//! DUMP and RESTORE (generic commands in Redis) live here too, because they
//! are the RDB value codec exposed as commands.

use crate::args::{is, parse_i64};
use crate::context::{CmdResult, Ctx, Shared};
use crate::errors;
use crate::notify::class;
use crate::table::{command, flags::*, keys, Command, Group, NO_KEYS};
use ferrocache_persistence::file::{self, LoadStats, SaveOptions, SaveStats};
use ferrocache_persistence::rdb::reader::{parse_dump_payload, Loaded, Options};
use ferrocache_persistence::rdb::writer::dump_payload;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

pub static COMMANDS: &[Command] = &[
    command(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_MULTI,
        NO_KEYS,
        Group::Server,
        "1.0.0",
        "Synchronously saves the database(s) to disk.",
        cmd_save,
    ),
    command(
        "bgsave",
        -1,
        ADMIN | NOSCRIPT,
        NO_KEYS,
        Group::Server,
        "1.0.0",
        "Asynchronously saves the database(s) to disk.",
        cmd_bgsave,
    ),
    command(
        "dump",
        2,
        READONLY,
        keys(1, 1, 1),
        Group::Generic,
        "2.6.0",
        "Returns a serialized representation of the value stored at a key.",
        cmd_dump,
    ),
    command(
        "restore",
        -4,
        WRITE | DENYOOM,
        keys(1, 1, 1),
        Group::Generic,
        "2.6.0",
        "Creates a key from the serialized representation of a value.",
        cmd_restore,
    ),
];

/// Seconds between a failed background save and the next attempt the save
/// rules make (Redis's `CONFIG_BGSAVE_RETRY_DELAY`).
const BGSAVE_RETRY_DELAY_SECS: u64 = 5;

/// Persistence status, as INFO persistence reports it.
pub struct PersistState {
    pub bgsave_in_progress: AtomicBool,
    /// Unix ms when the running background save started.
    pub bgsave_started_ms: AtomicU64,
    /// A BGSAVE was asked for while one could not start (inside MULTI).
    pub bgsave_scheduled: AtomicBool,
    pub last_bgsave_ok: AtomicBool,
    pub last_bgsave_time_sec: AtomicI64,
    /// Unix seconds of the last background save attempt.
    pub last_bgsave_try: AtomicU64,
    pub rdb_saves: AtomicU64,
    pub loading: AtomicBool,
    /// Unix seconds the running load started, and its progress.
    pub loading_started: AtomicU64,
    pub loading_progress: ferrocache_persistence::file::Progress,
    pub last_load_keys_loaded: AtomicU64,
    pub last_load_keys_expired: AtomicU64,
    /// SHUTDOWN already saved (or was told not to): the process exit must
    /// not save again.
    pub shutdown_handled: AtomicBool,
    /// Longest time, in microseconds, writes were held by the start of a
    /// snapshot (every shard lock taken at once).
    pub last_snapshot_pause_us: AtomicU64,
    /// Snapshots started (INFO's `total_forks`).
    pub snapshots: AtomicU64,
    /// The dirty counter's value at the instant of the last successful save.
    /// The counter itself only grows (the journal compares it before and
    /// after each command), so changes since the save are the difference.
    pub dirty_at_save: AtomicU64,
}

impl Default for PersistState {
    fn default() -> Self {
        PersistState {
            bgsave_in_progress: AtomicBool::new(false),
            bgsave_started_ms: AtomicU64::new(0),
            bgsave_scheduled: AtomicBool::new(false),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_time_sec: AtomicI64::new(-1),
            last_bgsave_try: AtomicU64::new(0),
            rdb_saves: AtomicU64::new(0),
            loading: AtomicBool::new(false),
            loading_started: AtomicU64::new(0),
            loading_progress: Default::default(),
            last_load_keys_loaded: AtomicU64::new(0),
            last_load_keys_expired: AtomicU64::new(0),
            shutdown_handled: AtomicBool::new(false),
            last_snapshot_pause_us: AtomicU64::new(0),
            snapshots: AtomicU64::new(0),
            dirty_at_save: AtomicU64::new(0),
        }
    }
}

/// Why a save did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum SaveError {
    /// Another snapshot is being taken.
    InProgress,
    /// Writing the file failed (or the helper thread could not start).
    Failed(String),
}

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaveError::InProgress => f.write_str("Background save already in progress"),
            SaveError::Failed(e) => f.write_str(e),
        }
    }
}

/// `dir`/`dbfilename`.
pub fn rdb_path(shared: &Shared) -> PathBuf {
    let dir = shared.config.get("dir").unwrap_or_default();
    let name = shared
        .config
        .get("dbfilename")
        .unwrap_or_else(|| "dump.rdb".into());
    if dir.is_empty() {
        PathBuf::from(name)
    } else {
        PathBuf::from(dir).join(name)
    }
}

/// What the loader needs from the configuration.
pub fn load_options(shared: &Shared) -> Options {
    let t = &shared.tuning;
    Options {
        hash_limits: ferrocache_store::hash::Limits {
            max_entries: t.hash_max_listpack_entries.load(Ordering::Relaxed) as usize,
            max_value: t.hash_max_listpack_value.load(Ordering::Relaxed) as usize,
        },
        max_intset: t.set_max_intset_entries.load(Ordering::Relaxed) as usize,
        zset_limits: ferrocache_store::zset::Limits {
            max_entries: t.zset_max_listpack_entries.load(Ordering::Relaxed) as usize,
            max_value: t.zset_max_listpack_value.load(Ordering::Relaxed) as usize,
        },
        list_limit: ferrocache_store::list::NodeLimit::from_fill(
            t.list_fill.load(Ordering::Relaxed),
        ),
        verify_checksum: shared.config.get_bool("rdbchecksum"),
    }
}

pub fn save_options(shared: &Shared) -> SaveOptions {
    SaveOptions {
        compression: shared.config.get_bool("rdbcompression"),
        checksum: shared.config.get_bool("rdbchecksum"),
    }
}

/// The aux fields Redis 7.0 writes at the head of a file.
pub fn aux_fields(shared: &Shared) -> Vec<(&'static str, Vec<u8>)> {
    aux_fields_for(shared, false)
}

/// The aux fields, with `aof-base` set for the base file of an AOF.
pub fn aux_fields_for(shared: &Shared, aof_base: bool) -> Vec<(&'static str, Vec<u8>)> {
    let now = crate::context::unix_ms() / 1000;
    let used = ferrocache_store::alloc::allocated().unwrap_or(0) as u64;
    vec![
        (
            "redis-ver",
            crate::server::REDIS_VERSION.as_bytes().to_vec(),
        ),
        ("redis-bits", b"64".to_vec()),
        ("ctime", now.to_string().into_bytes()),
        ("used-mem", used.to_string().into_bytes()),
        ("repl-stream-db", b"0".to_vec()),
        ("repl-id", shared.replid.lock().clone().into_bytes()),
        (
            "repl-offset",
            shared.journal.offset().to_string().into_bytes(),
        ),
        ("aof-base", if aof_base { b"1" } else { b"0" }.to_vec()),
    ]
}

/// Writes since the last successful save (INFO's
/// `rdb_changes_since_last_save`).
pub fn changes_since_save(shared: &Shared) -> u64 {
    shared
        .ks
        .stats
        .dirty
        .load(Ordering::Relaxed)
        .saturating_sub(shared.persist.dirty_at_save.load(Ordering::Relaxed))
}

/// The `save` rules as (seconds, changes) pairs.
fn save_rules(shared: &Shared) -> Vec<(u64, u64)> {
    let text = shared.config.get("save").unwrap_or_default();
    let nums: Vec<u64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    nums.chunks_exact(2).map(|c| (c[0], c[1])).collect()
}

fn log(shared: &Shared, warning: bool, msg: &str) {
    if let Some(f) = shared.logger.get() {
        f(warning, msg);
    }
}

/// Records a finished save: resets the dirty counter by the writes the
/// snapshot covers and updates the INFO fields.
fn finish(
    shared: &Shared,
    cap_dirty: u64,
    result: &std::io::Result<SaveStats>,
    background: bool,
    started: Instant,
) {
    let p = &shared.persist;
    match result {
        Ok(stats) => {
            // Writes made while the snapshot was written stay counted.
            p.dirty_at_save.fetch_max(cap_dirty, Ordering::Relaxed);
            shared
                .lastsave
                .store(crate::context::unix_ms() / 1000, Ordering::Relaxed);
            p.rdb_saves.fetch_add(1, Ordering::Relaxed);
            p.last_bgsave_ok.store(true, Ordering::Relaxed);
            log(
                shared,
                false,
                &format!(
                    "{} ({} keys, {} bytes)",
                    if background {
                        "Background saving terminated with success"
                    } else {
                        "DB saved on disk"
                    },
                    stats.keys,
                    stats.bytes
                ),
            );
        }
        Err(e) => {
            if background {
                p.last_bgsave_ok.store(false, Ordering::Relaxed);
            }
            log(
                shared,
                true,
                &format!(
                    "{}: {e} ({})",
                    if background {
                        "Background saving error"
                    } else {
                        "Failed saving the DB"
                    },
                    rdb_path(shared).display()
                ),
            );
        }
    }
    if background {
        p.last_bgsave_time_sec
            .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
    }
}

/// Starts a snapshot, recording how long writes were held.
fn begin(shared: &Shared) -> Option<std::sync::Arc<ferrocache_store::Capture>> {
    let t = Instant::now();
    let cap = shared.ks.begin_snapshot()?;
    shared
        .persist
        .last_snapshot_pause_us
        .store(t.elapsed().as_micros() as u64, Ordering::Relaxed);
    shared.persist.snapshots.fetch_add(1, Ordering::Relaxed);
    Some(cap)
}

/// SAVE: writes the file on the calling thread. Other clients keep being
/// served meanwhile (unlike Redis, which blocks), and the file still
/// holds the data set of the instant the save began.
pub fn save_sync(shared: &Shared) -> Result<SaveStats, SaveError> {
    let started = Instant::now();
    let Some(cap) = begin(shared) else {
        return Err(SaveError::InProgress);
    };
    let result = file::save_capture(
        &shared.ks,
        &cap,
        &rdb_path(shared),
        &aux_fields(shared),
        save_options(shared),
    );
    shared.ks.end_snapshot(&cap);
    finish(shared, cap.dirty, &result, false, started);
    result.map_err(|e| SaveError::Failed(e.to_string()))
}

/// BGSAVE: captures the instant now and writes the file on a helper
/// thread. Fails if a snapshot is already being taken.
pub fn start_bgsave(shared: &Shared) -> Result<(), SaveError> {
    let Some(me) = shared.me.get().and_then(|w| w.upgrade()) else {
        return Err(SaveError::Failed("server state is gone".into()));
    };
    if shared
        .persist
        .bgsave_in_progress
        .swap(true, Ordering::AcqRel)
    {
        return Err(SaveError::InProgress);
    }
    let started = Instant::now();
    let Some(cap) = begin(shared) else {
        shared
            .persist
            .bgsave_in_progress
            .store(false, Ordering::Release);
        return Err(SaveError::InProgress);
    };
    let now = crate::context::unix_ms();
    shared
        .persist
        .bgsave_started_ms
        .store(now, Ordering::Relaxed);
    shared
        .persist
        .last_bgsave_try
        .store(now / 1000, Ordering::Relaxed);
    let path = rdb_path(shared);
    let aux = aux_fields(shared);
    let opts = save_options(shared);
    log(shared, false, "Background saving started");
    let thread_cap = cap.clone();
    let spawned = std::thread::Builder::new()
        .name("ferrocache-bgsave".into())
        .spawn(move || {
            let result = file::save_capture(&me.ks, &thread_cap, &path, &aux, opts);
            me.ks.end_snapshot(&thread_cap);
            finish(&me, thread_cap.dirty, &result, true, started);
            me.persist
                .bgsave_in_progress
                .store(false, Ordering::Release);
        });
    if let Err(e) = spawned {
        shared.ks.end_snapshot(&cap);
        shared
            .persist
            .bgsave_in_progress
            .store(false, Ordering::Release);
        shared
            .persist
            .last_bgsave_ok
            .store(false, Ordering::Relaxed);
        return Err(SaveError::Failed(e.to_string()));
    }
    Ok(())
}

/// Waits (blocking) until no background save is running.
fn wait_for_bgsave(shared: &Shared) {
    while shared.persist.bgsave_in_progress.load(Ordering::Acquire) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// One cron tick: a scheduled BGSAVE, or one the save rules call for.
pub fn cron(shared: &Shared) {
    let p = &shared.persist;
    if p.bgsave_in_progress.load(Ordering::Acquire)
        || shared
            .journal
            .aof
            .rewrite_in_progress
            .load(Ordering::Acquire)
    {
        return;
    }
    if p.bgsave_scheduled.swap(false, Ordering::AcqRel) {
        let _ = start_bgsave(shared);
        return;
    }
    let rules = save_rules(shared);
    if rules.is_empty() {
        return;
    }
    let now = crate::context::unix_ms() / 1000;
    let dirty = changes_since_save(shared);
    let since_save = now.saturating_sub(shared.lastsave.load(Ordering::Relaxed));
    let may_retry = p.last_bgsave_ok.load(Ordering::Relaxed)
        || now.saturating_sub(p.last_bgsave_try.load(Ordering::Relaxed)) > BGSAVE_RETRY_DELAY_SECS;
    for (secs, changes) in rules {
        if dirty >= changes && since_save > secs && may_retry {
            log(
                shared,
                false,
                &format!("{changes} changes in {secs} seconds. Saving..."),
            );
            let _ = start_bgsave(shared);
            return;
        }
    }
}

/// `stop-writes-on-bgsave-error`: true when write commands must be refused
/// with MISCONF because the last background save failed.
#[inline]
pub fn writes_refused(shared: &Shared) -> bool {
    !shared.persist.last_bgsave_ok.load(Ordering::Relaxed)
        && shared.config.get_bool("stop-writes-on-bgsave-error")
        && !save_rules(shared).is_empty()
}

/// Loads `dir/dbfilename` if it exists. The error names the file and the
/// byte offset of the problem.
pub fn load_at_startup(shared: &Shared) -> Result<Option<LoadStats>, String> {
    let path = rdb_path(shared);
    if !path.exists() {
        return Ok(None);
    }
    load_path(shared, &path).map(Some)
}

fn load_path(shared: &Shared, path: &std::path::Path) -> Result<LoadStats, String> {
    let p = &shared.persist;
    p.loading.store(true, Ordering::Release);
    let started = Instant::now();
    p.loading_started
        .store(crate::context::unix_ms() / 1000, Ordering::Relaxed);
    let result = file::load_file(
        &shared.ks,
        path,
        &load_options(shared),
        crate::context::unix_ms(),
        &p.loading_progress,
    );
    p.loading.store(false, Ordering::Release);
    let stats = result?;
    // The data set continues a replication history: a master restarted
    // from it can still accept partial resyncs from its replicas (the
    // backlog starts empty, just after the saved offset), and a replica
    // restarted from it asks its master to continue from there.
    if let Some((id, off)) = stats.repl {
        if shared.journal.offset() == 0 {
            if let Ok(id) = std::str::from_utf8(&id) {
                *shared.replid.lock() = id.to_string();
                shared.journal.restore_offset(off);
                shared
                    .repl
                    .has_history
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
    p.last_load_keys_loaded
        .store(stats.keys_loaded, Ordering::Relaxed);
    p.last_load_keys_expired
        .store(stats.keys_expired, Ordering::Relaxed);
    if stats.functions_skipped > 0 {
        log(
            shared,
            true,
            &format!(
                "Skipped {} function libraries: functions are not supported",
                stats.functions_skipped
            ),
        );
    }
    log(
        shared,
        false,
        &format!(
            "DB loaded from disk: {:.3} seconds ({} keys, {} expired keys skipped)",
            started.elapsed().as_secs_f64(),
            stats.keys_loaded,
            stats.keys_expired
        ),
    );
    Ok(stats)
}

/// DEBUG RELOAD: save, empty every database, load the file back.
pub fn debug_reload(shared: &Shared) -> Result<(), String> {
    wait_for_bgsave(shared);
    save_sync(shared).map_err(|e| e.to_string())?;
    drop(shared.ks.flush_all());
    load_path(shared, &rdb_path(shared)).map(|_| ())
}

/// What the process does at exit (SIGTERM, SIGINT, embedded shutdown):
/// save if save rules are configured and SHUTDOWN did not already decide.
pub fn save_on_exit(shared: &Shared) {
    if shared.persist.shutdown_handled.swap(true, Ordering::AcqRel) {
        return;
    }
    // A load that has not finished (or failed) holds part of the data:
    // saving it would overwrite the good file with less.
    if save_rules(shared).is_empty() || shared.persist.loading.load(Ordering::Acquire) {
        return;
    }
    wait_for_bgsave(shared);
    log(
        shared,
        true,
        "Saving the final RDB snapshot before exiting.",
    );
    if let Err(e) = save_sync(shared) {
        log(shared, true, &format!("Error trying to save the DB: {e}"));
    }
}

/// SHUTDOWN's save step. `save`/`nosave` are the command's flags.
pub fn shutdown_save(shared: &Shared, save: bool, nosave: bool) -> Result<(), String> {
    if nosave || (!save && save_rules(shared).is_empty()) {
        shared
            .persist
            .shutdown_handled
            .store(true, Ordering::Release);
        return Ok(());
    }
    wait_for_bgsave(shared);
    save_sync(shared).map_err(|e| e.to_string())?;
    shared
        .persist
        .shutdown_handled
        .store(true, Ordering::Release);
    Ok(())
}

// ---------------------------------------------------------------------------
// SAVE, BGSAVE

fn cmd_save(ctx: &mut Ctx) -> CmdResult {
    if ctx
        .shared
        .persist
        .bgsave_in_progress
        .load(Ordering::Acquire)
    {
        return Err(errors::BGSAVE_IN_PROGRESS.into());
    }
    match save_sync(ctx.shared) {
        Ok(_) => ctx.ok(),
        Err(SaveError::InProgress) => Err(errors::BGSAVE_IN_PROGRESS.into()),
        Err(SaveError::Failed(_)) => Err(errors::ERR_BARE.into()),
    }
}

fn cmd_bgsave(ctx: &mut Ctx) -> CmdResult {
    // SCHEDULE matters only while an AOF rewrite runs (Redis's other
    // child process): the save then starts from the cron once it is done.
    // A BGSAVE already running is an error with or without it, as in Redis.
    let schedule = match ctx.args.len() {
        1 => false,
        2 if is(ctx.arg(1), "SCHEDULE") => true,
        _ => return Err(errors::SYNTAX.into()),
    };
    let p = &ctx.shared.persist;
    if p.bgsave_in_progress.load(Ordering::Acquire) {
        return Err(errors::BGSAVE_IN_PROGRESS.into());
    }
    let rewriting = ctx
        .shared
        .journal
        .aof
        .rewrite_in_progress
        .load(Ordering::Acquire);
    if rewriting && !schedule {
        return Err(errors::BGSAVE_OTHER_CHILD.into());
    }
    // Inside a transaction the save is deferred to the cron, as Redis does.
    if rewriting || ctx.session.in_exec.is_some() {
        p.bgsave_scheduled.store(true, Ordering::Release);
        ctx.reply().simple("Background saving scheduled");
        return Ok(());
    }
    match start_bgsave(ctx.shared) {
        Ok(()) => {
            ctx.reply().simple("Background saving started");
            Ok(())
        }
        Err(SaveError::InProgress) => Err(errors::BGSAVE_IN_PROGRESS.into()),
        Err(SaveError::Failed(_)) => Err(errors::BGSAVE_ERROR.into()),
    }
}

// ---------------------------------------------------------------------------
// DUMP, RESTORE

fn cmd_dump(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1).clone();
    let db = ctx.db();
    let compression = ctx.shared.config.get_bool("rdbcompression");
    let mut locked = ctx.ks().lock(db, &key, ctx.now_ms);
    let payload = locked
        .get(db, &key)
        .map(|e| dump_payload(e.value(), compression));
    drop(locked);
    match payload {
        Some(p) => ctx.reply().bulk(&p),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn cmd_restore(ctx: &mut Ctx) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let mut j = 4;
    while j < ctx.args.len() {
        let a = ctx.arg(j);
        let more = ctx.args.len() - j - 1;
        if is(a, "REPLACE") {
            replace = true;
        } else if is(a, "ABSTTL") {
            absttl = true;
        } else if is(a, "IDLETIME") && more >= 1 && freq.is_none() {
            let v = parse_i64(ctx.arg(j + 1))?;
            if v < 0 {
                return Err(errors::RESTORE_BAD_IDLETIME.into());
            }
            idle = Some(v as u64);
            j += 1;
        } else if is(a, "FREQ") && more >= 1 && idle.is_none() {
            let v = parse_i64(ctx.arg(j + 1))?;
            if !(0..=255).contains(&v) {
                return Err(errors::RESTORE_BAD_FREQ.into());
            }
            freq = Some(v as u8);
            j += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    let key = ctx.arg(1).clone();
    let db = ctx.db();
    let now = ctx.now_ms;
    let ks = ctx.ks();
    let mut locked = ks.lock(db, &key, now);
    if !replace && locked.contains(db, &key) {
        return Err(errors::BUSYKEY.into());
    }
    let ttl = parse_i64(ctx.arg(2))?;
    if ttl < 0 {
        return Err(errors::RESTORE_BAD_TTL.into());
    }
    let value = match parse_dump_payload(ctx.arg(3), &load_options(ctx.shared)) {
        None => return Err(errors::DUMP_PAYLOAD.into()),
        Some(Ok(Loaded::Value(v))) => v,
        Some(Ok(Loaded::ZSet(pairs))) => {
            match ferrocache_persistence::rdb::reader::zset_value(
                pairs,
                load_options(ctx.shared).zset_limits,
            ) {
                Some(v) => v,
                None => return Err(errors::BAD_DATA_FORMAT.into()),
            }
        }
        Some(Ok(Loaded::Empty)) | Some(Err(_)) => return Err(errors::BAD_DATA_FORMAT.into()),
    };
    let deleted = replace && locked.remove(db, &key).is_some();
    let expire_at = match ttl {
        0 => None,
        t if absttl => Some(t as u64),
        t => Some(now.saturating_add(t as u64)),
    };
    if expire_at.is_some_and(|at| at <= now) {
        if deleted {
            locked.dirty(1);
            drop(locked);
            ctx.notify(class::GENERIC, "del", &key);
            ctx.propagate(vec![bytes::Bytes::from_static(b"DEL"), key.clone()]);
        }
        return ctx.ok();
    }
    locked.insert(db, &key, value, expire_at);
    if let Some(access) = ks.restored_access(now, idle, freq) {
        if let Some(e) = locked.get_mut(db, &key) {
            e.set_access(access);
        }
    }
    locked.dirty(1);
    drop(locked);
    ctx.notify(class::GENERIC, "restore", &key);
    // A relative TTL is journaled as the absolute deadline, as Redis
    // rewrites it, so a replay does not extend the key's life.
    if let (Some(at), false) = (expire_at, absttl) {
        let mut argv = ctx.args.to_vec();
        argv[2] = bytes::Bytes::from(at.to_string());
        argv.push(bytes::Bytes::from_static(b"ABSTTL"));
        ctx.propagate(argv);
    }
    ctx.ok()
}
