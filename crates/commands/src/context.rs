//! What a handler sees: the shared server state, its client's session, its
//! arguments and the output buffer.

use crate::clients::{ClientHandle, Clients};
use crate::config::Config;
use crate::stats::Stats;
use bytes::{Bytes, BytesMut};
use ferrocache_protocol::{Encoder, Protocol};
use ferrocache_store::Keyspace;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// An error reply. The text carries its code (`ERR`, `WRONGTYPE`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmdError(pub Cow<'static, str>);

impl From<&'static str> for CmdError {
    fn from(s: &'static str) -> Self {
        CmdError(Cow::Borrowed(s))
    }
}

impl From<String> for CmdError {
    fn from(s: String) -> Self {
        CmdError(Cow::Owned(s))
    }
}

impl CmdError {
    /// The error code Redis counts in `errorstats` (the first word).
    pub fn code(&self) -> &str {
        self.0.split(' ').next().unwrap_or("ERR")
    }
}

pub type CmdResult = Result<(), CmdError>;

/// Process-wide state shared by every connection.
pub struct Shared {
    pub ks: Keyspace,
    pub config: Config,
    pub clients: Clients,
    pub stats: Stats,
    pub started: Instant,
    /// 40 hex characters, new at every start, as INFO's `run_id`.
    pub run_id: String,
    /// Address the listener is bound to, for INFO's `tcp_port`.
    pub port: parking_lot::Mutex<u16>,
    /// Fired by SHUTDOWN; the server's accept loop listens for it.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Executable path and config file, for INFO server.
    pub executable: String,
    pub config_file: parking_lot::Mutex<Option<String>>,
    /// Hot-path copies of a few parameters, refreshed on CONFIG SET.
    pub tuning: Tuning,
    pub slowlog: crate::slowlog::SlowLog,
    pub latency: crate::latency::Latency,
    pub monitors: crate::monitor::Monitors,
    pub pause: Pause,
    /// Unix seconds of the last successful save (LASTSAVE); start time
    /// until a save happens.
    pub lastsave: AtomicU64,
    /// DEBUG SET-ACTIVE-EXPIRE: the cron's active expiry runs only while set.
    pub active_expire: AtomicBool,
    /// Replication ids for INFO replication (40 hex characters each).
    pub replid: parking_lot::Mutex<String>,
    pub replid2: parking_lot::Mutex<String>,
    /// Highest `used_memory` seen, for INFO memory.
    pub peak_memory: AtomicU64,
    /// Shared by every command, exclusive for EXEC (see [`crate::multi`]).
    pub gate: crate::multi::ExecGate,
    pub pubsub: Arc<crate::pubsub::PubSub>,
    pub scripting: crate::scripting::Scripting,
    /// Clients blocked on keys (BLPOP and kin).
    pub blocking: crate::blocking::Blocking,
    pub persist: crate::persist::PersistState,
    /// The `Arc` this state lives in, for work that outlives a command
    /// (BGSAVE's thread).
    pub me: std::sync::OnceLock<std::sync::Weak<Shared>>,
    /// Where background work writes log lines (installed by the server:
    /// `true` for warnings).
    pub logger: std::sync::OnceLock<Logger>,
    /// Every change, in order, for the AOF and replicas.
    pub journal: crate::journal::Journal,
    /// maxmemory and the eviction policy.
    pub evictor: crate::evict::Evictor,
    /// Replicas attached, the link to our master, sync counters.
    pub repl: crate::replication::Replication,
}

/// A sink for log lines: `true` marks a warning.
pub type Logger = Box<dyn Fn(bool, &str) + Send + Sync>;

/// Parameters read on every command, kept in atomics so that dispatch does
/// not parse configuration strings.
#[derive(Default)]
pub struct Tuning {
    pub slowlog_slower_than: AtomicI64,
    pub slowlog_max_len: AtomicU64,
    pub latency_threshold_ms: AtomicI64,
    pub latency_tracking: AtomicBool,
    /// `timeout`: seconds of idleness before a client is closed (0: never).
    pub timeout_secs: AtomicI64,
    /// `hash-max-listpack-entries` and `hash-max-listpack-value`.
    pub hash_max_listpack_entries: AtomicU64,
    pub hash_max_listpack_value: AtomicU64,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: AtomicU64,
    /// `zset-max-listpack-entries` and `zset-max-listpack-value`.
    pub zset_max_listpack_entries: AtomicU64,
    pub zset_max_listpack_value: AtomicU64,
    /// `list-max-listpack-size` (Redis's quicklist `fill`).
    pub list_fill: AtomicI64,
    /// `min-replicas-to-write` and `min-replicas-max-lag`, checked before
    /// every write.
    pub min_replicas_to_write: AtomicI64,
    pub min_replicas_max_lag: AtomicI64,
}

impl Tuning {
    pub fn refresh(&self, config: &Config) {
        let r = Ordering::Relaxed;
        self.slowlog_slower_than.store(
            config.get_i64("slowlog-log-slower-than").unwrap_or(10000),
            r,
        );
        self.slowlog_max_len.store(
            config.get_i64("slowlog-max-len").unwrap_or(128).max(0) as u64,
            r,
        );
        self.latency_threshold_ms
            .store(config.get_i64("latency-monitor-threshold").unwrap_or(0), r);
        self.latency_tracking
            .store(config.get_bool("latency-tracking"), r);
        self.timeout_secs
            .store(config.get_i64("timeout").unwrap_or(0), r);
        self.hash_max_listpack_entries.store(
            config
                .get_i64("hash-max-listpack-entries")
                .unwrap_or(512)
                .max(0) as u64,
            r,
        );
        self.hash_max_listpack_value.store(
            config
                .get_i64("hash-max-listpack-value")
                .unwrap_or(64)
                .max(0) as u64,
            r,
        );
        self.list_fill
            .store(config.get_i64("list-max-listpack-size").unwrap_or(-2), r);
        self.min_replicas_to_write
            .store(config.get_i64("min-replicas-to-write").unwrap_or(0), r);
        self.min_replicas_max_lag
            .store(config.get_i64("min-replicas-max-lag").unwrap_or(10), r);
        self.set_max_intset_entries.store(
            config
                .get_i64("set-max-intset-entries")
                .unwrap_or(512)
                .max(0) as u64,
            r,
        );
        self.zset_max_listpack_entries.store(
            config
                .get_i64("zset-max-listpack-entries")
                .unwrap_or(128)
                .max(0) as u64,
            r,
        );
        self.zset_max_listpack_value.store(
            config
                .get_i64("zset-max-listpack-value")
                .unwrap_or(64)
                .max(0) as u64,
            r,
        );
    }
}

/// CLIENT PAUSE state. `active` is the lock-free fast path the connection
/// loop checks before every command.
#[derive(Default)]
pub struct Pause {
    active: AtomicBool,
    /// Deadline and whether every command (ALL) or only writes are held.
    state: parking_lot::Mutex<Option<(Instant, bool)>>,
    pub resumed: tokio::sync::Notify,
}

impl Pause {
    /// Starts or extends a pause: the later deadline and the stricter mode
    /// win, as in Redis.
    pub fn pause(&self, until: Instant, all: bool) {
        let mut st = self.state.lock();
        let next = match *st {
            Some((end, was_all)) => (end.max(until), was_all || all),
            None => (until, all),
        };
        *st = Some(next);
        self.active.store(true, Ordering::Release);
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    pub fn unpause(&self) {
        *self.state.lock() = None;
        self.active.store(false, Ordering::Release);
        self.resumed.notify_waiters();
    }

    /// When a command that writes (`write`) or any command must wait,
    /// the deadline to wait for.
    pub fn holds(&self, write: bool) -> Option<Instant> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        let mut st = self.state.lock();
        let (end, all) = (*st)?;
        if Instant::now() >= end {
            *st = None;
            self.active.store(false, Ordering::Release);
            return None;
        }
        (all || write).then_some(end)
    }
}

impl Shared {
    pub fn new(config: Config) -> Arc<Shared> {
        let databases = config.get_usize("databases").unwrap_or(16);
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            ks: Keyspace::new(databases),
            config,
            clients: Clients::default(),
            stats: Stats::new(),
            started: Instant::now(),
            run_id: random_hex40(),
            port: parking_lot::Mutex::new(0),
            shutdown,
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            config_file: parking_lot::Mutex::new(None),
            tuning: Tuning::default(),
            slowlog: Default::default(),
            latency: Default::default(),
            monitors: Default::default(),
            pause: Default::default(),
            lastsave: AtomicU64::new(unix_ms() / 1000),
            active_expire: AtomicBool::new(true),
            replid: parking_lot::Mutex::new(random_hex40()),
            replid2: parking_lot::Mutex::new("0".repeat(40)),
            peak_memory: AtomicU64::new(0),
            gate: crate::multi::ExecGate::default(),
            pubsub: Arc::default(),
            scripting: Default::default(),
            blocking: Default::default(),
            persist: Default::default(),
            me: std::sync::OnceLock::new(),
            logger: std::sync::OnceLock::new(),
            journal: Default::default(),
            evictor: Default::default(),
            repl: Default::default(),
        });
        let _ = shared.me.set(Arc::downgrade(&shared));
        shared.ks.set_observer(shared.pubsub.clone());
        shared.apply_config();
        resync_clock();
        shared
    }

    /// Copies configuration that other parts keep in faster form (the
    /// dispatcher's atomics, the keyspace's LRU/LFU policy). Called at start
    /// and after every CONFIG SET.
    pub fn apply_config(&self) {
        self.tuning.refresh(&self.config);
        // The AOF writer rereads appendonly and appendfsync.
        self.journal.wake_aof();
        self.journal
            .resize_backlog(crate::replication::backlog_size(self));
        self.evictor.refresh(&self.config);
        self.pubsub.tracking.max_keys.store(
            self.config
                .get_i64("tracking-table-max-keys")
                .unwrap_or(1_000_000)
                .max(0) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let notify = crate::notify::parse(
            &self
                .config
                .get("notify-keyspace-events")
                .unwrap_or_default(),
        )
        .unwrap_or(0);
        self.pubsub
            .notify_flags
            .store(notify, std::sync::atomic::Ordering::Relaxed);
        self.ks
            .set_notify_new(notify & crate::notify::class::NEW != 0);
        self.pubsub.limits.refresh(
            &self
                .config
                .get("client-output-buffer-limit")
                .unwrap_or_default(),
        );
        crate::generic::sync_access_policy(self);
    }

    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}

/// 40 random hex digits (run ids, replication ids).
pub fn random_hex40() -> String {
    (0..40)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
        .collect()
}

/// How replies are sent (CLIENT REPLY).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// Skip the reply of the next command only.
    Skip,
    /// Set while the command after CLIENT REPLY SKIP runs.
    SkipThis,
}

/// Per-connection state that only the connection's own task touches.
pub struct Session {
    pub id: u64,
    pub db: usize,
    pub proto: Protocol,
    pub authenticated: bool,
    pub handle: Arc<ClientHandle>,
    pub reply_mode: ReplyMode,
    /// Close the connection once the pending replies are written (QUIT,
    /// protocol errors, CLIENT KILL of self).
    pub close_after_reply: bool,
    /// The connection became a MONITOR.
    pub monitor: bool,
    /// Lines fed to this connection while it is a MONITOR.
    pub monitor_rx: Option<tokio::sync::mpsc::Receiver<Bytes>>,
    /// Commands queued since MULTI.
    pub multi: Option<crate::multi::MultiState>,
    /// WATCHed keys.
    pub watch: crate::multi::WatchState,
    /// Set while EXEC runs the queued commands: the time they all see.
    pub in_exec: Option<u64>,
    /// The session runs a script's `redis.call`s (SORT then sorts sets it
    /// would otherwise leave in their own order).
    pub in_script: bool,
    /// Journal offset this client's replies wait for (`appendfsync
    /// always`); 0 when nothing is waiting.
    pub sync_to: u64,
    /// CLIENT TRACKING state.
    pub tracking: crate::tracking::SessionTracking,
    /// The session replaying a file at start-up: not refused with LOADING.
    pub loader: bool,
    /// Channels and patterns this connection listens to.
    pub pubsub: Option<crate::pubsub::Subscriptions>,
    /// Set by a blocking command that found nothing: the connection waits
    /// for an answer before reading further commands.
    pub blocked: Option<crate::blocking::Blocked>,
    /// Replication: REPLCONF options, a pending PSYNC or WAIT, the offset
    /// of this client's last write.
    pub repl: crate::replication::ReplSession,
}

impl Session {
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Session {
        Session {
            id: handle.id,
            db: 0,
            proto: Protocol::Resp2,
            authenticated,
            handle,
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            monitor: false,
            monitor_rx: None,
            multi: None,
            watch: Default::default(),
            in_exec: None,
            in_script: false,
            sync_to: 0,
            tracking: Default::default(),
            loader: false,
            pubsub: None,
            blocked: None,
            repl: Default::default(),
        }
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.handle
            .db
            .store(db, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Everything one handler call needs.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub session: &'a mut Session,
    /// The whole request, command name first.
    pub args: &'a [Bytes],
    pub out: &'a mut BytesMut,
    /// Unix time in milliseconds, fixed for the duration of the command so
    /// that every key it touches sees the same instant.
    pub now_ms: u64,
    /// What the journal records instead of the request (see
    /// [`Ctx::propagate`]).
    pub rewritten: Option<Vec<Vec<Bytes>>>,
}

impl<'a> Ctx<'a> {
    /// Records `argv` in the journal in place of the request (several calls
    /// record several commands). Handlers call it where Redis 7.0 rewrites
    /// a command into deterministic form. No-op while the journal is off.
    pub fn propagate(&mut self, argv: Vec<Bytes>) {
        if crate::journal::in_section() {
            self.rewritten.get_or_insert_with(Vec::new).push(argv);
        }
    }

    /// Records nothing for this request, although it changed data (its
    /// effects were recorded another way).
    pub fn propagate_nothing(&mut self) {
        if crate::journal::in_section() {
            self.rewritten.get_or_insert_with(Vec::new);
        }
    }

    pub fn reply(&mut self) -> Encoder<'_> {
        Encoder::new(self.out, self.session.proto)
    }

    pub fn ks(&self) -> &'a Keyspace {
        &self.shared.ks
    }

    pub fn db(&self) -> usize {
        self.session.db
    }

    pub fn arg(&self, i: usize) -> &'a Bytes {
        &self.args[i]
    }

    pub fn resp3(&self) -> bool {
        self.session.proto == Protocol::Resp3
    }

    /// Writes `+OK` and succeeds; the common ending of a write command.
    pub fn ok(&mut self) -> CmdResult {
        self.reply().ok();
        Ok(())
    }
}

/// The monotonic clock's origin for [`unix_ms_at`].
static CLOCK_BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
/// Wall-clock milliseconds at `CLOCK_BASE`, re-read by [`resync_clock`].
static CLOCK_OFFSET_MS: AtomicU64 = AtomicU64::new(0);

/// Re-reads the wall clock. The server cron calls it every tick, so a
/// changed system clock is picked up within one tick.
pub fn resync_clock() {
    let base = *CLOCK_BASE.get_or_init(Instant::now);
    let mono = base.elapsed().as_millis() as u64;
    CLOCK_OFFSET_MS.store(unix_ms().saturating_sub(mono), Ordering::Relaxed);
}

/// Unix milliseconds at `at`, derived from a monotonic reading the caller
/// already has: the dispatcher times each command with `Instant` anyway, so
/// this saves a second clock read per command.
pub fn unix_ms_at(at: Instant) -> u64 {
    let Some(base) = CLOCK_BASE.get() else {
        resync_clock();
        return unix_ms();
    };
    let mono = at.saturating_duration_since(*base).as_millis() as u64;
    CLOCK_OFFSET_MS.load(Ordering::Relaxed) + mono
}

/// Unix time in milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Unix time in microseconds.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    #[test]
    fn derived_wall_clock_tracks_the_real_one() {
        resync_clock();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let derived = unix_ms_at(Instant::now());
        let real = unix_ms();
        assert!(derived.abs_diff(real) <= 5, "derived {derived} real {real}");
    }
}
