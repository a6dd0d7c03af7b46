//! Replication: the commands (REPLCONF, PSYNC, SYNC, WAIT, ROLE,
//! REPLICAOF/SLAVEOF, FAILOVER) and the state both roles share.
//!
//! The network side lives in the server crate (`ferrocache_server::
//! replication`): a connection that sent PSYNC or SYNC is handed over to a
//! task that sends the RDB and then the stream, and a replica's link to its
//! master is a task of its own. Here are only the parts a command handler
//! needs: who is attached, what offset each one acknowledged, and what the
//! link to our master is doing.
//!
//! # Offsets
//!
//! The stream offset is the journal's (`master_repl_offset`): bytes of the
//! replication stream since the replication id began. A replica adopts its
//! master's id and offset, and feeds its own sub-replicas the master's bytes
//! unchanged, so a chain of servers shares one history (PSYNC2).

use crate::args::{is, parse_i64};
use crate::context::{CmdResult, Ctx, Shared};
use crate::errors;
use crate::table::{command, flags::*, Command, Group, NO_KEYS};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

pub static COMMANDS: &[Command] = &[
    command(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        NO_KEYS,
        Group::Server,
        "3.0.0",
        "An internal command for configuring the replication stream.",
        cmd_replconf,
    ),
    command(
        "psync",
        -3,
        ADMIN | NOSCRIPT | NO_MULTI,
        NO_KEYS,
        Group::Server,
        "2.8.0",
        "An internal command used in replication.",
        cmd_psync,
    ),
    command(
        "sync",
        1,
        ADMIN | NOSCRIPT | NO_MULTI,
        NO_KEYS,
        Group::Server,
        "1.0.0",
        "An internal command used in replication.",
        cmd_sync,
    ),
    command(
        "wait",
        3,
        NOSCRIPT,
        NO_KEYS,
        Group::Generic,
        "3.0.0",
        "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
        cmd_wait,
    ),
    command(
        "role",
        1,
        NOSCRIPT | LOADING | STALE | FAST,
        NO_KEYS,
        Group::Server,
        "2.8.12",
        "Returns the replication role.",
        cmd_role,
    ),
    // Not NO_MULTI: Sentinel sends REPLICAOF inside MULTI/EXEC, with
    // CONFIG REWRITE and CLIENT KILL.
    command(
        "replicaof",
        3,
        ADMIN | NOSCRIPT | STALE,
        NO_KEYS,
        Group::Server,
        "5.0.0",
        "Configures a server as replica of another, or promotes it to a master.",
        cmd_replicaof,
    ),
    command(
        "slaveof",
        3,
        ADMIN | NOSCRIPT | STALE,
        NO_KEYS,
        Group::Server,
        "1.0.0",
        "Sets a Redis server as a replica of another, or promotes it to being a master.",
        cmd_slaveof,
    ),
    command(
        "failover",
        -1,
        ADMIN | NOSCRIPT | STALE,
        NO_KEYS,
        Group::Server,
        "6.2.0",
        "Starts a coordinated failover from a server to one of its replicas.",
        cmd_failover,
    ),
];

/// A replica's state as INFO shows it.
pub const STATE_WAIT_BGSAVE: u8 = 0;
pub const STATE_SEND_BULK: u8 = 1;
pub const STATE_ONLINE: u8 = 2;

/// One replica attached to this server.
pub struct ReplicaInfo {
    pub client_id: u64,
    pub ip: String,
    pub port: u16,
    pub state: AtomicU8,
    /// Offset the replica last acknowledged (REPLCONF ACK).
    pub ack: AtomicU64,
    /// Unix ms of the last ACK (or of the attach).
    pub last_ack_ms: AtomicU64,
}

/// The link of a replica to its master, as INFO and ROLE report it.
pub const LINK_CONNECT: u8 = 0;
pub const LINK_CONNECTING: u8 = 1;
pub const LINK_HANDSHAKE: u8 = 2;
pub const LINK_SYNC: u8 = 3;
pub const LINK_CONNECTED: u8 = 4;

/// Where this server replicates from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterAddr {
    pub host: String,
    pub port: u16,
}

/// Replication state shared by every connection.
pub struct Replication {
    pub replicas: Mutex<Vec<Arc<ReplicaInfo>>>,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// Offset up to which `replid2` is valid (-1: none).
    pub second_offset: AtomicI64,
    /// Woken on every REPLCONF ACK (WAIT).
    pub acks: tokio::sync::Notify,
    /// Some while this server is a replica.
    pub master: Mutex<Option<MasterAddr>>,
    /// `master.is_some()`, for the dispatcher's checks without a lock.
    pub replica: AtomicBool,
    /// Bumped at every REPLICAOF: a link task whose generation is stale
    /// ends.
    pub generation: AtomicU64,
    pub link_state: AtomicU8,
    /// Unix ms of the last byte from the master.
    pub last_io_ms: AtomicU64,
    /// Unix ms the link went down (0: never up yet).
    pub down_since_ms: AtomicU64,
    /// Stream offset read from the master (applied or not).
    pub read_offset: AtomicU64,
    /// Starts a link task for a generation (installed by the server).
    pub starter: std::sync::OnceLock<Box<dyn Fn(u64) + Send + Sync>>,
    /// Set once the data set was loaded from a master at least once, or
    /// this server had history of its own: PSYNC may then try to continue.
    pub has_history: AtomicBool,
    /// Held by a replica while it applies one command of its master's
    /// stream and feeds it on, and while a sub-replica's full sync captures
    /// the data set: the capture then never splits the two.
    pub apply_lock: Mutex<()>,
    /// Unix ms of the last PING sent into the stream.
    pub last_ping_ms: AtomicU64,
    /// FAILOVER: [`FAILOVER_NONE`], waiting for a replica to catch up, or
    /// handing over.
    pub failover_state: AtomicU8,
    pub failover_abort: AtomicBool,
    /// The next PSYNC this server sends carries FAILOVER.
    pub failover_psync: AtomicBool,
    /// Clients blocked in WAIT, for CLIENT UNBLOCK.
    pub waiting: Mutex<std::collections::HashMap<u64, Arc<WaitUnblock>>>,
    /// Starts the FAILOVER coordinator (installed by the server).
    pub failover_starter: std::sync::OnceLock<Box<dyn Fn(FailoverRequest) + Send + Sync>>,
}

pub const FAILOVER_NONE: u8 = 0;
pub const FAILOVER_WAIT: u8 = 1;
pub const FAILOVER_IN_PROGRESS: u8 = 2;

/// A FAILOVER the coordinator carries out.
#[derive(Clone, Debug)]
pub struct FailoverRequest {
    pub target: Option<MasterAddr>,
    pub force: bool,
    /// Unix ms after which the wait gives up (0: none).
    pub deadline_ms: u64,
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            replicas: Mutex::new(Vec::new()),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            second_offset: AtomicI64::new(-1),
            acks: tokio::sync::Notify::new(),
            master: Mutex::new(None),
            replica: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            link_state: AtomicU8::new(LINK_CONNECT),
            last_io_ms: AtomicU64::new(0),
            down_since_ms: AtomicU64::new(0),
            read_offset: AtomicU64::new(0),
            starter: std::sync::OnceLock::new(),
            has_history: AtomicBool::new(false),
            apply_lock: Mutex::new(()),
            last_ping_ms: AtomicU64::new(0),
            failover_state: AtomicU8::new(FAILOVER_NONE),
            failover_abort: AtomicBool::new(false),
            failover_psync: AtomicBool::new(false),
            failover_starter: std::sync::OnceLock::new(),
            waiting: Mutex::new(std::collections::HashMap::new()),
        }
    }
}

impl Replication {
    #[inline]
    pub fn is_replica(&self) -> bool {
        self.replica.load(Ordering::Relaxed)
    }

    pub fn add(&self, r: Arc<ReplicaInfo>) {
        self.replicas.lock().push(r);
    }

    pub fn remove(&self, client_id: u64) {
        self.replicas.lock().retain(|r| r.client_id != client_id);
    }

    /// Online replicas that acknowledged at least `offset`.
    pub fn count_acked(&self, offset: u64) -> usize {
        self.replicas
            .lock()
            .iter()
            .filter(|r| {
                r.state.load(Ordering::Relaxed) == STATE_ONLINE
                    && r.ack.load(Ordering::Relaxed) >= offset
            })
            .count()
    }

    /// Online replicas whose last ACK is at most `max_lag` seconds old
    /// (`min-replicas-max-lag`).
    pub fn good_replicas(&self, max_lag: u64, now_ms: u64) -> usize {
        self.replicas
            .lock()
            .iter()
            .filter(|r| {
                r.state.load(Ordering::Relaxed) == STATE_ONLINE
                    && now_ms.saturating_sub(r.last_ack_ms.load(Ordering::Relaxed)) / 1000
                        <= max_lag
            })
            .count()
    }
}

/// What a connection asked for with PSYNC or SYNC; the connection loop
/// hands the socket to the replication code when it finds it set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncRequest {
    Psync { replid: String, offset: i64 },
    Sync,
}

/// How CLIENT UNBLOCK ended a WAIT: 0 not yet, [`UNBLOCK_TIMEOUT`] (the
/// count so far is the answer) or [`UNBLOCK_ERROR`].
#[derive(Default)]
pub struct WaitUnblock {
    pub how: AtomicU8,
    pub notify: tokio::sync::Notify,
}

pub const UNBLOCK_TIMEOUT: u8 = 1;
pub const UNBLOCK_ERROR: u8 = 2;

/// CLIENT UNBLOCK of a client waiting in WAIT; false if it is not.
pub fn unblock_wait(shared: &Shared, client: u64, error: bool) -> bool {
    let Some(w) = shared.repl.waiting.lock().get(&client).cloned() else {
        return false;
    };
    let how = if error {
        UNBLOCK_ERROR
    } else {
        UNBLOCK_TIMEOUT
    };
    w.how.store(how, Ordering::Release);
    w.notify.notify_one();
    true
}

/// A WAIT the connection loop completes.
#[derive(Clone, Copy, Debug)]
pub struct WaitRequest {
    pub numreplicas: usize,
    /// 0: no timeout.
    pub timeout_ms: u64,
    pub offset: u64,
}

/// A connection's replication state.
#[derive(Default)]
pub struct ReplSession {
    /// REPLCONF listening-port and ip-address.
    pub listening_port: u16,
    pub announced_ip: Option<String>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    pub sync: Option<SyncRequest>,
    /// This session applies the stream of our master: it may write on a
    /// read-only replica and gets no replies.
    pub is_master: bool,
    /// Stream offset after this client's last write (WAIT).
    pub woff: u64,
    pub wait: Option<WaitRequest>,
}

// ---------------------------------------------------------------------------
// Checks the dispatcher makes

pub const READONLY: &str = "READONLY You can't write against a read only replica.";
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
pub const MASTERDOWN: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
pub const NOMASTERLINK: &str = "NOMASTERLINK Can't SYNC while not connected with my master";

/// `replica-serve-stale-data no`: while the link to the master is down,
/// only commands flagged `stale` run.
pub fn refuse_stale(shared: &Shared, session: &crate::Session) -> Option<&'static str> {
    if !shared.repl.is_replica()
        || session.repl.is_master
        || shared.repl.link_state.load(Ordering::Relaxed) == LINK_CONNECTED
        || shared.config.get_bool("replica-serve-stale-data")
    {
        return None;
    }
    Some(MASTERDOWN)
}

/// Refusal of a write command by a client that is not our master.
pub fn refuse_write(shared: &Shared, session: &crate::Session) -> Option<&'static str> {
    if session.repl.is_master {
        return None;
    }
    if shared.repl.is_replica() {
        if shared.config.get_bool("replica-read-only") {
            return Some(READONLY);
        }
        return None;
    }
    let min = shared
        .tuning
        .min_replicas_to_write
        .load(std::sync::atomic::Ordering::Relaxed);
    if min > 0 {
        let lag = shared
            .tuning
            .min_replicas_max_lag
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(0) as u64;
        if lag > 0 && (shared.repl.good_replicas(lag, crate::context::unix_ms()) as i64) < min {
            return Some(NOREPLICAS);
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Commands

fn cmd_replconf(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len().is_multiple_of(2) {
        return Err(errors::SYNTAX.into());
    }
    let mut j = 1;
    while j + 1 < ctx.args.len() {
        let (opt, val) = (ctx.arg(j), ctx.arg(j + 1));
        if is(opt, "listening-port") {
            let port = parse_i64(val)?;
            ctx.session.repl.listening_port = u16::try_from(port).unwrap_or(0);
        } else if is(opt, "ip-address") {
            ctx.session.repl.announced_ip = Some(String::from_utf8_lossy(val).into_owned());
        } else if is(opt, "capa") {
            if is(val, "eof") {
                ctx.session.repl.capa_eof = true;
            } else if is(val, "psync2") {
                ctx.session.repl.capa_psync2 = true;
            }
        } else if is(opt, "ack") || is(opt, "getack") {
            // ACKs arrive on a replica's connection after PSYNC, where the
            // replication task reads them; GETACK is answered by a
            // replica's link task. Elsewhere they are ignored, as in Redis.
            return Ok(());
        } else if is(opt, "rdb-only") || is(opt, "rdb-filter-only") {
        } else {
            return Err(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            )
            .into());
        }
        j += 2;
    }
    ctx.ok()
}

fn cmd_psync(ctx: &mut Ctx) -> CmdResult {
    let replid = String::from_utf8_lossy(ctx.arg(1)).into_owned();
    // PSYNC <replid> <offset> FAILOVER: our master hands over to us (its
    // FAILOVER command). We become a master, keeping its history as
    // replid2, and it continues from us.
    if ctx.args.len() > 3 && is(ctx.arg(3), "failover") {
        if !ctx.shared.repl.is_replica() || *ctx.shared.replid.lock() != replid {
            return Err("ERR PSYNC FAILOVER replid must match my replication ID".into());
        }
        promote(ctx.shared);
        log(
            ctx.shared,
            "Failover request received for replid; MASTER MODE enabled",
        );
    }
    sync_allowed(ctx)?;
    let offset = std::str::from_utf8(ctx.arg(2))
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(-1);
    ctx.session.repl.sync = Some(SyncRequest::Psync { replid, offset });
    Ok(())
}

fn cmd_sync(ctx: &mut Ctx) -> CmdResult {
    sync_allowed(ctx)?;
    ctx.session.repl.sync = Some(SyncRequest::Sync);
    Ok(())
}

fn sync_allowed(ctx: &Ctx) -> CmdResult {
    if ctx.session.repl.is_master {
        return Err("ERR Replica can't be used as a master for its own master".into());
    }
    if ctx.shared.repl.is_replica()
        && ctx.shared.repl.link_state.load(Ordering::Relaxed) != LINK_CONNECTED
    {
        return Err(NOMASTERLINK.into());
    }
    Ok(())
}

fn cmd_wait(ctx: &mut Ctx) -> CmdResult {
    if ctx.shared.repl.is_replica() {
        return Err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.".into());
    }
    let n = parse_i64(ctx.arg(1))?;
    let timeout = parse_i64(ctx.arg(2))?;
    if timeout < 0 {
        return Err("ERR timeout is negative".into());
    }
    let offset = ctx.session.repl.woff;
    let acked = ctx.shared.repl.count_acked(offset);
    // Inside a transaction or a script WAIT cannot block: the count now.
    if acked as i64 >= n || ctx.session.in_exec.is_some() || ctx.session.in_script {
        ctx.reply().int(acked as i64);
        return Ok(());
    }
    ctx.session.repl.wait = Some(WaitRequest {
        numreplicas: n.max(0) as usize,
        timeout_ms: timeout as u64,
        offset,
    });
    Ok(())
}

/// The state word ROLE shows for a replica's link.
fn link_word(state: u8) -> &'static str {
    match state {
        LINK_CONNECT => "connect",
        LINK_CONNECTING => "connecting",
        LINK_HANDSHAKE => "handshake",
        LINK_SYNC => "sync",
        _ => "connected",
    }
}

fn cmd_role(ctx: &mut Ctx) -> CmdResult {
    let master = ctx.shared.repl.master.lock().clone();
    match master {
        Some(m) => {
            let state = ctx.shared.repl.link_state.load(Ordering::Relaxed);
            let offset = if state == LINK_CONNECTED {
                ctx.shared.journal.offset() as i64
            } else {
                -1
            };
            let mut r = ctx.reply();
            r.array(5);
            r.bulk(b"slave");
            r.bulk(m.host.as_bytes());
            r.int(m.port as i64);
            r.bulk(link_word(state).as_bytes());
            r.int(offset);
        }
        None => {
            let replicas: Vec<(String, u16, u64)> = ctx
                .shared
                .repl
                .replicas
                .lock()
                .iter()
                .filter(|r| r.state.load(Ordering::Relaxed) == STATE_ONLINE)
                .map(|r| (r.ip.clone(), r.port, r.ack.load(Ordering::Relaxed)))
                .collect();
            let offset = ctx.shared.journal.offset() as i64;
            let mut r = ctx.reply();
            r.array(3);
            r.bulk(b"master");
            r.int(offset);
            r.array(replicas.len());
            for (ip, port, ack) in replicas {
                r.array(3);
                r.bulk(ip.as_bytes());
                r.bulk(port.to_string().as_bytes());
                r.bulk(ack.to_string().as_bytes());
            }
        }
    }
    Ok(())
}

fn cmd_replicaof(ctx: &mut Ctx) -> CmdResult {
    replicaof(ctx, "REPLICAOF")
}

/// The old name; Redis keeps it as an alias.
fn cmd_slaveof(ctx: &mut Ctx) -> CmdResult {
    replicaof(ctx, "SLAVEOF")
}

fn replicaof(ctx: &mut Ctx, name: &str) -> CmdResult {
    if is(ctx.arg(1), "no") && is(ctx.arg(2), "one") {
        if ctx.shared.repl.is_replica() {
            promote(ctx.shared);
            log(ctx.shared, "MASTER MODE enabled (user request from client)");
        }
        return ctx.ok();
    }
    let port = match std::str::from_utf8(ctx.arg(2))
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
    {
        Some(p) if (0..=65535).contains(&p) => p as u16,
        _ => return Err("ERR Invalid master port".into()),
    };
    let host = String::from_utf8_lossy(ctx.arg(1)).into_owned();
    let addr = MasterAddr { host, port };
    if ctx.shared.repl.master.lock().as_ref() == Some(&addr) {
        ctx.reply()
            .simple("OK Already connected to specified master");
        return Ok(());
    }
    become_replica(ctx.shared, addr.clone());
    log(
        ctx.shared,
        &format!(
            "{name} {}:{} enabled (user request from client)",
            addr.host, addr.port
        ),
    );
    ctx.ok()
}

/// Starts replicating from `addr` (REPLICAOF, `replicaof` at start).
pub fn become_replica(shared: &Shared, addr: MasterAddr) {
    let was_master = shared.repl.master.lock().replace(addr.clone()).is_none();
    shared.repl.replica.store(true, Ordering::Relaxed);
    let _ = shared
        .config
        .set("replicaof", &format!("{} {}", addr.host, addr.port), true);
    shared.ks.set_replica_expiry(true);
    if was_master {
        // Our own history can continue from the new master if it shares
        // it (PSYNC2); replicas attached to us resynchronize.
        if shared.journal.offset() > 0 {
            shared.repl.has_history.store(true, Ordering::Relaxed);
        }
        with_journal(shared, disconnect_replicas);
    }
    shared
        .repl
        .link_state
        .store(LINK_CONNECT, Ordering::Relaxed);
    shared.repl.down_since_ms.store(0, Ordering::Relaxed);
    let generation = shared.repl.generation.fetch_add(1, Ordering::AcqRel) + 1;
    kill_master_link(shared);
    if let Some(start) = shared.repl.starter.get() {
        start(generation);
    }
}

/// REPLICAOF NO ONE: the history so far stays valid for partial resyncs
/// under the old id (replid2, up to second_repl_offset) and a new id
/// starts here.
pub fn promote(shared: &Shared) {
    shared.repl.master.lock().take();
    shared.repl.replica.store(false, Ordering::Relaxed);
    shared.repl.generation.fetch_add(1, Ordering::AcqRel);
    kill_master_link(shared);
    let _ = shared.config.set("replicaof", "", true);
    shared.ks.set_replica_expiry(false);
    shift_replid(shared);
    shared
        .repl
        .link_state
        .store(LINK_CONNECT, Ordering::Relaxed);
    with_journal(shared, |s| {
        s.journal.ensure_backlog_on(&s.ks, backlog_size(s));
        s.journal.forget_db();
        disconnect_replicas(s);
    });
}

/// Runs `f`, which takes the journal's lock, now or (inside EXEC, whose
/// section holds that lock) once the transaction's section closes.
fn with_journal(shared: &Shared, f: impl FnOnce(&Shared) + 'static) {
    if !crate::journal::in_section() {
        return f(shared);
    }
    if let Some(me) = shared.me.get().and_then(|w| w.upgrade()) {
        crate::journal::when_unlocked(Box::new(move || f(&me)));
    }
}

/// The current id becomes `replid2`, valid up to the next byte; a new id
/// begins.
pub fn shift_replid(shared: &Shared) {
    let old = std::mem::replace(&mut *shared.replid.lock(), crate::context::random_hex40());
    *shared.replid2.lock() = old;
    shared
        .repl
        .second_offset
        .store(shared.journal.offset() as i64 + 1, Ordering::Relaxed);
}

fn kill_master_link(shared: &Shared) {
    for h in shared.clients.all() {
        if h.role.load(Ordering::Relaxed) == crate::clients::ROLE_MASTER {
            h.kill();
        }
    }
}

/// Closes the links of every attached replica (they reconnect and ask for
/// a partial resync).
pub fn disconnect_replicas(shared: &Shared) {
    shared.journal.close_feeds();
}

fn cmd_failover(ctx: &mut Ctx) -> CmdResult {
    let r = &ctx.shared.repl;
    let (mut target, mut force, mut abort, mut timeout) = (None, false, false, 0i64);
    let mut j = 1;
    while j < ctx.args.len() {
        let a = ctx.arg(j);
        let more = ctx.args.len() - j - 1;
        if is(a, "to") && more >= 2 && target.is_none() {
            let port = parse_i64(ctx.arg(j + 2))?;
            target = Some(MasterAddr {
                host: String::from_utf8_lossy(ctx.arg(j + 1)).into_owned(),
                port: u16::try_from(port).map_err(|_| crate::CmdError::from("ERR Invalid port"))?,
            });
            j += 3;
        } else if is(a, "force") && !force {
            force = true;
            j += 1;
        } else if is(a, "abort") && !abort {
            abort = true;
            j += 1;
        } else if is(a, "timeout") && more >= 1 && timeout == 0 {
            timeout = parse_i64(ctx.arg(j + 1))?;
            if timeout <= 0 {
                return Err("ERR FAILOVER timeout must be greater than 0".into());
            }
            j += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    if abort && (target.is_some() || force || timeout != 0) {
        return Err(errors::SYNTAX.into());
    }
    if r.is_replica() {
        return Err("ERR FAILOVER is not valid when server is a replica.".into());
    }
    if r.replicas.lock().is_empty() {
        return Err("ERR FAILOVER requires connected replicas.".into());
    }
    if abort {
        if r.failover_state.load(Ordering::Relaxed) == FAILOVER_NONE {
            return Err("ERR No failover in progress.".into());
        }
        r.failover_abort.store(true, Ordering::Release);
        return ctx.ok();
    }
    if r.failover_state.load(Ordering::Relaxed) != FAILOVER_NONE {
        return Err("ERR FAILOVER already in progress.".into());
    }
    if force && (timeout == 0 || target.is_none()) {
        return Err(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.".into(),
        );
    }
    if let Some(t) = &target {
        let found = r
            .replicas
            .lock()
            .iter()
            .find(|x| x.ip == t.host && x.port == t.port)
            .map(|x| x.state.load(Ordering::Relaxed));
        match found {
            None => return Err("ERR FAILOVER target HOST and PORT is not a replica.".into()),
            Some(s) if s != STATE_ONLINE => {
                return Err("ERR FAILOVER target replica is not online.".into())
            }
            Some(_) => {}
        }
    }
    let Some(start) = r.failover_starter.get() else {
        return Err("ERR FAILOVER is not available".into());
    };
    r.failover_abort.store(false, Ordering::Release);
    r.failover_state.store(FAILOVER_WAIT, Ordering::Release);
    // Writes wait (CLIENT PAUSE WRITE) so the stream stops growing.
    let now = crate::context::unix_ms();
    let hold = if timeout > 0 {
        std::time::Duration::from_millis(timeout as u64)
    } else {
        std::time::Duration::from_secs(365 * 24 * 3600)
    };
    ctx.shared
        .pause
        .pause(std::time::Instant::now() + hold, false);
    start(FailoverRequest {
        target,
        force,
        deadline_ms: if timeout > 0 { now + timeout as u64 } else { 0 },
    });
    ctx.ok()
}

/// Ends a FAILOVER: writes resume, the state is cleared.
pub fn end_failover(shared: &Shared, why: &str) {
    shared
        .repl
        .failover_state
        .store(FAILOVER_NONE, Ordering::Release);
    shared.repl.failover_psync.store(false, Ordering::Release);
    shared.pause.unpause();
    log(shared, why);
}

/// The new master refused the handover: this server is a master again,
/// with its history unchanged.
pub fn rollback_failover(shared: &Shared) {
    shared.repl.master.lock().take();
    shared.repl.replica.store(false, Ordering::Relaxed);
    shared.repl.generation.fetch_add(1, Ordering::AcqRel);
    let _ = shared.config.set("replicaof", "", true);
    shared.ks.set_replica_expiry(false);
    shared.journal.forget_db();
    end_failover(
        shared,
        "FAILOVER target refused the handover; MASTER MODE restored",
    );
}

/// `repl-backlog-size` in bytes.
pub fn backlog_size(shared: &Shared) -> usize {
    shared
        .config
        .get_i64("repl-backlog-size")
        .unwrap_or(1 << 20)
        .max(16 * 1024) as usize
}

fn log(shared: &Shared, msg: &str) {
    if let Some(f) = shared.logger.get() {
        f(false, msg);
    }
}

/// INFO replication, with Redis 7.0's fields in its order.
pub fn info(shared: &Shared, s: &mut String) {
    use std::fmt::Write;
    let now = crate::context::unix_ms();
    let offset = shared.journal.offset();
    let master = shared.repl.master.lock().clone();
    let r = &shared.repl;
    match &master {
        Some(m) => {
            let state = r.link_state.load(Ordering::Relaxed);
            let up = state == LINK_CONNECTED;
            let _ = write!(
                s,
                "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\n",
                m.host,
                m.port,
                if up { "up" } else { "down" }
            );
            let last_io = r.last_io_ms.load(Ordering::Relaxed);
            let io_ago = if up && last_io > 0 {
                (now.saturating_sub(last_io) / 1000) as i64
            } else {
                -1
            };
            let _ = write!(
                s,
                "master_last_io_seconds_ago:{io_ago}\r\nmaster_sync_in_progress:{}\r\n",
                (state == LINK_SYNC) as u8
            );
            let read = r.read_offset.load(Ordering::Relaxed).max(offset);
            let _ = write!(
                s,
                "slave_read_repl_offset:{read}\r\nslave_repl_offset:{offset}\r\n"
            );
            if !up {
                let since = r.down_since_ms.load(Ordering::Relaxed);
                let secs = if since == 0 {
                    -1
                } else {
                    (now.saturating_sub(since) / 1000) as i64
                };
                let _ = write!(s, "master_link_down_since_seconds:{secs}\r\n");
            }
            let _ = write!(
                s,
                "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
                shared.config.get_i64("replica-priority").unwrap_or(100),
                shared.config.get_bool("replica-read-only") as u8,
                shared
                    .config
                    .get("replica-announced")
                    .is_none_or(|v| v == "yes") as u8,
            );
        }
        None => s.push_str("role:master\r\n"),
    }
    let replicas: Vec<Arc<ReplicaInfo>> = r.replicas.lock().clone();
    let _ = write!(s, "connected_slaves:{}\r\n", replicas.len());
    for (i, rep) in replicas.iter().enumerate() {
        let state = match rep.state.load(Ordering::Relaxed) {
            STATE_WAIT_BGSAVE => "wait_bgsave",
            STATE_SEND_BULK => "send_bulk",
            _ => "online",
        };
        let lag = now.saturating_sub(rep.last_ack_ms.load(Ordering::Relaxed)) / 1000;
        let _ = write!(
            s,
            "slave{i}:ip={},port={},state={state},offset={},lag={lag}\r\n",
            rep.ip,
            rep.port,
            rep.ack.load(Ordering::Relaxed)
        );
    }
    let b = shared.journal.backlog_info();
    let _ = write!(
        s,
        "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{offset}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
        match r.failover_state.load(Ordering::Relaxed) {
            FAILOVER_WAIT => "waiting-for-sync",
            FAILOVER_IN_PROGRESS => "failover-in-progress",
            _ => "no-failover",
        },
        shared.replid.lock(),
        shared.replid2.lock(),
        r.second_offset.load(Ordering::Relaxed),
        b.active as u8,
        backlog_size(shared),
        b.first_byte_offset,
        b.histlen
    );
}

/// `client-output-buffer-limit` for the replica class.
pub fn feed_limits(shared: &Shared) -> crate::journal::FeedLimits {
    let value = shared
        .config
        .get("client-output-buffer-limit")
        .unwrap_or_default();
    let words: Vec<&str> = value.split_whitespace().collect();
    let mut limits = crate::journal::FeedLimits {
        hard: 256 << 20,
        soft: 64 << 20,
        soft_secs: 60,
    };
    for chunk in words.chunks(4) {
        if let [class, h, s, t] = chunk {
            if class.eq_ignore_ascii_case("slave") || class.eq_ignore_ascii_case("replica") {
                limits.hard = crate::config::parse_memory(h).unwrap_or(0).max(0) as usize;
                limits.soft = crate::config::parse_memory(s).unwrap_or(0).max(0) as usize;
                limits.soft_secs = t.parse().unwrap_or(60);
            }
        }
    }
    limits
}
