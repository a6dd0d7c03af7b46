//! What a handler sees: the shared server state, its client's session, its
//! arguments and the output buffer.

use crate::clients::{ClientHandle, Clients};
use crate::config::Config;
use crate::stats::Stats;
use bytes::{Bytes, BytesMut};
use ferrocache_protocol::{Encoder, Protocol};
use ferrocache_store::Keyspace;
use std::borrow::Cow;
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
}

impl Shared {
    pub fn new(config: Config) -> Arc<Shared> {
        let databases = config.get_usize("databases").unwrap_or(16);
        let (shutdown, _) = tokio::sync::watch::channel(false);
        Arc::new(Shared {
            ks: Keyspace::new(databases),
            config,
            clients: Clients::default(),
            stats: Stats::new(),
            started: Instant::now(),
            run_id: (0..40)
                .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
                .collect(),
            port: parking_lot::Mutex::new(0),
            shutdown,
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            config_file: parking_lot::Mutex::new(None),
        })
    }

    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }
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
}

impl<'a> Ctx<'a> {
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
