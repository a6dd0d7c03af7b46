//! The registry of connected clients, for CLIENT LIST/KILL/INFO, INFO clients
//! and `maxclients`.

use crate::table::Command;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The part of a client's state other connections may read or act on.
pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub created: Instant,
    pub name: Mutex<Option<bytes::Bytes>>,
    pub lib_name: Mutex<Option<String>>,
    pub lib_ver: Mutex<Option<String>>,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    /// Milliseconds since `created` at the last command.
    pub last_active_ms: AtomicU64,
    last_cmd: AtomicPtr<Command>,
    last_parent: AtomicPtr<Command>,
    /// The socket's file descriptor, for CLIENT LIST's `fd=`.
    pub fd: std::sync::atomic::AtomicI32,
    pub killed: AtomicBool,
    pub kill_notify: tokio::sync::Notify,
    /// Bytes waiting in the query and output buffers, updated by the
    /// connection loop.
    pub qbuf: AtomicUsize,
    pub obuf: AtomicUsize,
    pub is_monitor: AtomicBool,
    pub no_evict: AtomicBool,
    /// Commands queued in MULTI, -1 outside a transaction (CLIENT LIST).
    pub multi: std::sync::atomic::AtomicI64,
    /// Channel, pattern and shard channel subscriptions (CLIENT LIST).
    pub subs: AtomicUsize,
    pub psubs: AtomicUsize,
    pub ssubs: AtomicUsize,
    pub is_unix: bool,
    /// Waiting in a blocking command (CLIENT LIST's `b` flag).
    pub blocked: AtomicBool,
    /// CLIENT TRACKING flags ([`crate::tracking::TRACKING_ON`], ...) and
    /// redirect target, for CLIENT LIST.
    pub tracking: AtomicU8,
    pub redirect: std::sync::atomic::AtomicI64,
    /// [`ROLE_NORMAL`], [`ROLE_MASTER`] (a replica's link to its master) or
    /// [`ROLE_REPLICA`] (a replica attached to this master).
    pub role: AtomicU8,
}

pub const ROLE_NORMAL: u8 = 0;
pub const ROLE_MASTER: u8 = 1;
pub const ROLE_REPLICA: u8 = 2;

impl ClientHandle {
    pub fn new(id: u64, addr: String, laddr: String, is_unix: bool) -> ClientHandle {
        ClientHandle {
            id,
            addr,
            laddr,
            created: Instant::now(),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            last_active_ms: AtomicU64::new(0),
            last_cmd: AtomicPtr::new(std::ptr::null_mut()),
            last_parent: AtomicPtr::new(std::ptr::null_mut()),
            fd: std::sync::atomic::AtomicI32::new(-1),
            killed: AtomicBool::new(false),
            kill_notify: tokio::sync::Notify::new(),
            qbuf: AtomicUsize::new(0),
            obuf: AtomicUsize::new(0),
            is_monitor: AtomicBool::new(false),
            no_evict: AtomicBool::new(false),
            multi: std::sync::atomic::AtomicI64::new(-1),
            subs: AtomicUsize::new(0),
            psubs: AtomicUsize::new(0),
            ssubs: AtomicUsize::new(0),
            is_unix,
            blocked: AtomicBool::new(false),
            tracking: AtomicU8::new(0),
            redirect: std::sync::atomic::AtomicI64::new(0),
            role: AtomicU8::new(ROLE_NORMAL),
        }
    }

    /// Records the command a client runs, at `now` (the dispatcher's clock
    /// reading, so no extra one is taken here).
    pub fn touch(&self, cmd: &'static Command, parent: Option<&'static Command>, now: Instant) {
        let since = now.saturating_duration_since(self.created);
        self.last_active_ms
            .store(since.as_millis() as u64, Ordering::Relaxed);
        self.last_cmd
            .store(cmd as *const Command as *mut Command, Ordering::Relaxed);
        let parent = parent.map_or(std::ptr::null_mut(), |p| {
            p as *const Command as *mut Command
        });
        self.last_parent.store(parent, Ordering::Relaxed);
    }

    pub fn last_cmd(&self) -> Option<&'static Command> {
        let p = self.last_cmd.load(Ordering::Relaxed);
        // SAFETY: only pointers to `'static` table entries are ever stored.
        unsafe { p.cast_const().as_ref() }
    }

    /// Full name of the last command (`get`, `client|list`), or `NULL`.
    pub fn last_cmd_name(&self) -> String {
        let p = self.last_parent.load(Ordering::Relaxed);
        // SAFETY: as for `last_cmd`.
        let parent = unsafe { p.cast_const().as_ref() };
        match self.last_cmd() {
            Some(c) => crate::table::full_name(c, parent),
            None => "NULL".to_string(),
        }
    }

    pub fn age_secs(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    pub fn idle_secs(&self) -> u64 {
        let now = self.created.elapsed().as_millis() as u64;
        now.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000
    }

    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        // Every wait of the connection wakes (its loop keeps one for its
        // whole life, and a blocked or paused command adds its own); the
        // stored permit catches a wait that starts later.
        self.kill_notify.notify_waiters();
        self.kill_notify.notify_one();
    }
}

#[derive(Default)]
pub struct Clients {
    next_id: AtomicU64,
    map: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    /// Total connections accepted and rejected (INFO stats).
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
}

impl Clients {
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn register(&self, h: Arc<ClientHandle>) {
        self.total_connections.fetch_add(1, Ordering::Relaxed);
        self.map.lock().insert(h.id, h);
    }

    pub fn unregister(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    pub fn count(&self) -> usize {
        self.map.lock().len()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.map.lock().get(&id).cloned()
    }

    /// A snapshot of every client, in id order.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.map.lock().values().cloned().collect()
    }
}
