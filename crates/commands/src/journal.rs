//! The journal: every change to the dataset, as the commands that replay
//! it, in the order the changes were applied. It feeds the append-only file
//! (and, later, replicas) with a RESP stream in Redis's own form: the same
//! bytes a Redis master sends its replicas, `SELECT` included.
//!
//! # Order
//!
//! Worker threads apply writes in parallel, but a replayed stream must
//! order two writes to one key as they happened. While the journal is on,
//! every write command runs inside a *section*: the thread holds the
//! journal's lock from before the handler runs until its records are
//! appended. Writes are then applied one at a time; reads still run in
//! parallel. When nothing listens (no AOF, no replica) no section is
//! opened and writes cost nothing extra.
//!
//! An expired key is deleted only inside a section (the keyspace asks
//! [`ferrocache_store::in_journal_section`]), so its `DEL` takes its place
//! among the writes; reads outside treat it as missing.
//!
//! # Deterministic form
//!
//! A record must replay to the same state anywhere, at any later time:
//! handlers replace their command with [`Ctx::propagate`](crate::context::Ctx::propagate) where Redis 7.0
//! does (relative expiry becomes `PXAT`/`PEXPIREAT`, `SPOP` becomes `SREM`,
//! `INCRBYFLOAT` becomes `SET ... KEEPTTL`). A command that changed nothing
//! (the keyspace's dirty counter did not move) records nothing.
//!
//! # Atomic units
//!
//! EXEC and scripts open one section for all their commands; what they
//! changed is appended between `MULTI` and `EXEC`, so the AOF loader and
//! replicas apply it whole or not at all.

use crate::context::Shared;
use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// One command of the stream and the database it applies to.
struct Record {
    db: usize,
    argv: Vec<Bytes>,
    /// For replicas only, not the AOF (PUBLISH, as Redis propagates it).
    repl_only: bool,
}

#[derive(Default)]
struct State {
    /// Database the stream last selected.
    db: Option<usize>,
    /// Stream bytes not yet taken by the AOF writer (None: no AOF).
    aof: Option<BytesMut>,
    /// The replication backlog (None until a replica first attaches, as in
    /// Redis).
    backlog: Option<Backlog>,
    /// One feed per attached replica.
    feeds: Vec<Arc<Feed>>,
}

/// The last `size` bytes of the replication stream. The byte at the front
/// has offset `end - len + 1` (offsets count from 1, as Redis's
/// `repl_backlog_first_byte_offset` does; `end` is the journal offset).
struct Backlog {
    /// A ring of `size` bytes (allocated as it fills): `len` bytes held,
    /// the oldest at `start`.
    ring: Vec<u8>,
    start: usize,
    len: usize,
    size: usize,
}

impl Backlog {
    fn new(size: usize) -> Backlog {
        Backlog {
            ring: Vec::new(),
            start: 0,
            len: 0,
            size: size.max(1),
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if bytes.len() >= self.size {
            self.ring.clear();
            self.ring
                .extend_from_slice(&bytes[bytes.len() - self.size..]);
            self.start = 0;
            self.len = self.size;
            return;
        }
        // Still growing towards `size`: plain appends.
        if self.ring.len() < self.size && self.start == 0 && self.len == self.ring.len() {
            let room = self.size - self.ring.len();
            let head = bytes.len().min(room);
            self.ring.extend_from_slice(&bytes[..head]);
            self.len += head;
            if head == bytes.len() {
                return;
            }
            return self.push_full(&bytes[head..]);
        }
        self.push_full(bytes)
    }

    /// The ring is at its full size: overwrite the oldest bytes.
    fn push_full(&mut self, bytes: &[u8]) {
        let size = self.ring.len();
        let mut at = (self.start + self.len) % size;
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = rest.len().min(size - at);
            self.ring[at..at + n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            at = (at + n) % size;
        }
        self.len += bytes.len();
        if self.len > size {
            self.start = (self.start + self.len - size) % size;
            self.len = size;
        }
    }

    /// The held bytes from the `skip`-th on, oldest first.
    fn copy_from(&self, skip: usize, out: &mut BytesMut) {
        let size = self.ring.len().max(1);
        let mut at = (self.start + skip) % size;
        let mut left = self.len.saturating_sub(skip);
        while left > 0 {
            let n = left.min(size - at);
            out.extend_from_slice(&self.ring[at..at + n]);
            left -= n;
            at = (at + n) % size;
        }
    }

    /// Keeps only the newest `size` bytes, in a ring of that size.
    fn resize(&mut self, size: usize) {
        let size = size.max(1);
        if size == self.size {
            return;
        }
        let keep = self.len.min(size);
        let mut out = BytesMut::with_capacity(keep);
        self.copy_from(self.len - keep, &mut out);
        self.ring = out.to_vec();
        self.start = 0;
        self.len = keep;
        self.size = size;
    }
}

/// The stream bytes one replica has yet to be sent. The journal appends
/// under its lock; the replica's task takes them. A replica that falls too
/// far behind (`client-output-buffer-limit replica`) is marked `overflow`
/// and its task disconnects it.
pub struct Feed {
    pub id: u64,
    data: Mutex<BytesMut>,
    pub notify: tokio::sync::Notify,
    pub overflow: AtomicBool,
    hard: usize,
    soft: usize,
    soft_secs: u64,
    /// Unix ms since the buffer has been over the soft limit (0: it is not).
    over_soft_since: AtomicU64,
}

impl Feed {
    /// Takes everything pending.
    pub fn take(&self) -> Bytes {
        self.data.lock().split().freeze()
    }

    fn push(&self, bytes: &[u8]) {
        let mut d = self.data.lock();
        let was_empty = d.is_empty();
        d.extend_from_slice(bytes);
        let len = d.len();
        drop(d);
        if self.hard > 0 && len > self.hard {
            self.overflow.store(true, Ordering::Release);
        } else if self.soft > 0 && len > self.soft {
            let now = crate::context::unix_ms();
            let since = self.over_soft_since.load(Ordering::Relaxed);
            if since == 0 {
                self.over_soft_since.store(now, Ordering::Relaxed);
            } else if now.saturating_sub(since) > self.soft_secs * 1000 {
                self.overflow.store(true, Ordering::Release);
            }
        } else if self.over_soft_since.load(Ordering::Relaxed) != 0 {
            self.over_soft_since.store(0, Ordering::Relaxed);
        }
        // The feed's task takes everything when it wakes (and a wake-up
        // given while it is busy is kept for it), so only the first bytes
        // of a batch, or an overflow, need to wake it.
        if was_empty || self.overflow.load(Ordering::Relaxed) {
            self.notify.notify_one();
        }
    }

    /// Ends the feed: its task sees `overflow` and disconnects.
    pub fn close(&self) {
        self.overflow.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

/// Output limits of a replica feed: hard bytes, soft bytes, soft seconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct FeedLimits {
    pub hard: usize,
    pub soft: usize,
    pub soft_secs: u64,
}

/// What INFO replication reports of the backlog.
#[derive(Clone, Copy, Debug, Default)]
pub struct BacklogInfo {
    pub active: bool,
    pub first_byte_offset: u64,
    pub histlen: u64,
}

#[derive(Default)]
pub struct Journal {
    on: AtomicBool,
    state: Mutex<State>,
    /// Bytes appended since start (replication's `master_repl_offset`).
    offset: AtomicU64,
    /// Signalled after every append, under the state lock (the AOF writer,
    /// a thread of its own, waits on it).
    appended: Condvar,
    /// What the AOF writer reports and is asked to do.
    pub aof: AofState,
}

/// The AOF writer's side of things: its status for INFO, the requests
/// commands make of it, and the offset it has made durable.
pub struct AofState {
    /// `appendfsync always`: replies wait for [`Journal::wait_synced`].
    pub fsync_always: AtomicBool,
    pub enabled: AtomicBool,
    pub rewrite_in_progress: AtomicBool,
    pub rewrite_scheduled: AtomicBool,
    /// Set by BGREWRITEAOF and CONFIG SET; the writer clears it.
    pub wake: AtomicBool,
    /// `appendfsync always`: something appended waits for an fsync (a
    /// client asked in [`Journal::wait_synced`], or a write no client waits
    /// for was appended). The writer clears it when it takes the bytes.
    sync_requested: AtomicBool,
    pub rewrites: AtomicU64,
    pub last_rewrite_ok: AtomicBool,
    pub last_rewrite_time_sec: std::sync::atomic::AtomicI64,
    pub rewrite_started_ms: AtomicU64,
    pub last_write_ok: AtomicBool,
    pub current_size: AtomicU64,
    pub base_size: AtomicU64,
    /// Journal offset known to be on disk (fsynced), as the writer set it.
    durable: AtomicU64,
    /// Signalled by the writer after each change of `durable`: it wakes one
    /// waiting client, which hands the news on to the others through
    /// `synced` (see [`Journal::wait_synced`]).
    release: tokio::sync::Notify,
    /// `durable` as the waiting clients were last told.
    synced: tokio::sync::watch::Sender<u64>,
    /// The last write error while it lasts (writes are refused with
    /// MISCONF meanwhile).
    write_error: Mutex<Option<String>>,
}

impl Default for AofState {
    fn default() -> Self {
        AofState {
            fsync_always: AtomicBool::new(false),
            enabled: AtomicBool::new(false),
            rewrite_in_progress: AtomicBool::new(false),
            rewrite_scheduled: AtomicBool::new(false),
            wake: AtomicBool::new(false),
            sync_requested: AtomicBool::new(false),
            rewrites: AtomicU64::new(0),
            last_rewrite_ok: AtomicBool::new(true),
            last_rewrite_time_sec: std::sync::atomic::AtomicI64::new(-1),
            rewrite_started_ms: AtomicU64::new(0),
            last_write_ok: AtomicBool::new(true),
            current_size: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            release: tokio::sync::Notify::new(),
            synced: tokio::sync::watch::channel(0).0,
            write_error: Mutex::new(None),
        }
    }
}

impl AofState {
    pub fn set_write_error(&self, e: Option<String>) {
        *self.write_error.lock() = e;
    }

    /// The error writes are refused with while the AOF can't be written.
    pub fn write_error(&self) -> Option<String> {
        if self.last_write_ok.load(Ordering::Relaxed) {
            return None;
        }
        self.write_error.lock().clone()
    }

    /// The writer made everything up to `offset` durable.
    pub fn set_synced(&self, offset: u64) {
        self.durable.store(offset, Ordering::Release);
        self.release.notify_one();
    }
}

thread_local! {
    /// Stream offset after this thread's last append (0: none since taken).
    static LAST_APPEND: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// Set while a replica applies its master's stream: records then go to
    /// the AOF only, and the master's own bytes are fed to the backlog
    /// (see [`Journal::feed_raw`]).
    static FROM_MASTER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Work that needs the journal's lock, asked for while this thread
    /// holds it in a section (REPLICAOF inside EXEC): run once it is free.
    static DEFERRED: RefCell<Vec<Box<dyn FnOnce()>>> = const { RefCell::new(Vec::new()) };
    /// Records of the section this thread has open, if any.
    static SECTION: RefCell<Option<Vec<Record>>> = const { RefCell::new(None) };
}

/// A section: the journal's lock, held while a write command (or an EXEC,
/// or a script) runs. Dropping it appends what was recorded.
pub struct Section<'a> {
    journal: &'a Journal,
    state: Option<MutexGuard<'a, State>>,
    /// EXEC and scripts: records are wrapped in MULTI/EXEC.
    atomic: bool,
    /// No client waits for this section's records (the cron's active
    /// expiry): under `appendfsync always` they ask for the fsync
    /// themselves.
    background: bool,
}

impl Journal {
    /// True while something consumes the stream.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    pub fn offset(&self) -> u64 {
        self.offset.load(Ordering::Acquire)
    }

    /// Starts (or stops) collecting stream bytes for the AOF writer. The
    /// stream restarts with a `SELECT`, as a new AOF file needs.
    pub fn set_aof(&self, shared_ks: &ferrocache_store::Keyspace, on: bool) {
        let mut st = self.state.lock();
        st.aof = on.then(BytesMut::new);
        st.db = None;
        self.refresh_on(&st, shared_ks);
    }

    /// The journal is on while the AOF or the replication backlog needs it.
    fn refresh_on(&self, st: &State, ks: &ferrocache_store::Keyspace) {
        let on = st.aof.is_some() || st.backlog.is_some();
        self.on.store(on, Ordering::Relaxed);
        ks.set_journal(on);
    }

    fn ensure_backlog(&self, st: &mut State, ks: &ferrocache_store::Keyspace, size: usize) {
        if st.backlog.is_none() {
            st.backlog = Some(Backlog::new(size));
            self.refresh_on(st, ks);
        }
    }

    /// Full resynchronization: runs `capture` with writes held off (it
    /// takes the point-in-time copy of the dataset) and attaches a feed
    /// that receives every byte after that point. Returns what `capture`
    /// returned, the offset the copy corresponds to, and the feed. The
    /// stream after the point starts with a `SELECT`.
    pub fn attach_full<R>(
        &self,
        ks: &ferrocache_store::Keyspace,
        backlog_size: usize,
        limits: FeedLimits,
        id: u64,
        capture: impl FnOnce() -> R,
    ) -> (R, u64, Arc<Feed>) {
        let mut st = self.state.lock();
        self.ensure_backlog(&mut st, ks, backlog_size);
        st.db = None;
        let _in = ferrocache_store::set_journal_section(true);
        let r = capture();
        ferrocache_store::set_journal_section(false);
        let feed = new_feed(id, limits);
        st.feeds.push(feed.clone());
        (r, self.offset(), feed)
    }

    /// Partial resynchronization from `from` (the offset of the first byte
    /// the replica lacks). None when the backlog does not hold it. Returns
    /// the backlog's bytes from there and a feed for what follows.
    pub fn attach_partial(
        &self,
        from: u64,
        limits: FeedLimits,
        id: u64,
    ) -> Option<(Bytes, Arc<Feed>)> {
        let mut st = self.state.lock();
        let end = self.offset();
        let backlog = st.backlog.as_ref()?;
        let first = end + 1 - backlog.len as u64;
        if from < first || from > end + 1 {
            return None;
        }
        let skip = (from - first) as usize;
        let mut out = BytesMut::with_capacity(backlog.len - skip);
        backlog.copy_from(skip, &mut out);
        let feed = new_feed(id, limits);
        st.feeds.push(feed.clone());
        Some((out.freeze(), feed))
    }

    /// Removes a replica's feed.
    pub fn detach(&self, feed: &Arc<Feed>) {
        self.state.lock().feeds.retain(|f| !Arc::ptr_eq(f, feed));
    }

    /// Closes every replica feed (their replicas must resynchronize).
    pub fn close_feeds(&self) {
        let mut st = self.state.lock();
        for f in st.feeds.drain(..) {
            f.close();
        }
    }

    /// Number of feeds attached.
    pub fn feeds(&self) -> usize {
        self.state.lock().feeds.len()
    }

    /// Appends bytes to the replication stream only (not the AOF): the
    /// master's PING and REPLCONF GETACK, and on a replica the master's
    /// stream as received, so that sub-replicas see the same bytes at the
    /// same offsets.
    pub fn feed_raw(&self, bytes: &[u8]) {
        let mut st = self.state.lock();
        if st.backlog.is_none() && st.feeds.is_empty() {
            // Offsets still advance: they are the master's offsets.
            self.offset.fetch_add(bytes.len() as u64, Ordering::Release);
            return;
        }
        self.push_repl(&mut st, bytes);
        self.offset.fetch_add(bytes.len() as u64, Ordering::Release);
    }

    fn push_repl(&self, st: &mut State, bytes: &[u8]) {
        if let Some(b) = st.backlog.as_mut() {
            b.push(bytes);
        }
        for f in &st.feeds {
            f.push(bytes);
        }
    }

    /// A replica starts from its master's dataset at `offset`: the stream
    /// offset becomes the master's, the backlog is emptied (created if
    /// `keep_backlog`), and sub-replicas are cut off to resynchronize.
    pub fn reset_to(&self, ks: &ferrocache_store::Keyspace, offset: u64, backlog_size: usize) {
        let mut st = self.state.lock();
        for f in st.feeds.drain(..) {
            f.close();
        }
        st.backlog = Some(Backlog::new(backlog_size));
        st.db = None;
        self.offset.store(offset, Ordering::Release);
        self.refresh_on(&st, ks);
    }

    /// Sets the stream offset at start-up (the offset saved in the RDB).
    pub fn restore_offset(&self, offset: u64) {
        let _st = self.state.lock();
        self.offset.store(offset, Ordering::Release);
    }

    /// The stream's database is unknown from here (a replica promoted, a
    /// new master link): the next record starts with a SELECT.
    pub fn forget_db(&self) {
        self.state.lock().db = None;
    }

    /// Creates the backlog if there is none (a replica keeps one so that
    /// it can serve partial resyncs once promoted).
    pub fn ensure_backlog_on(&self, ks: &ferrocache_store::Keyspace, size: usize) {
        let mut st = self.state.lock();
        self.ensure_backlog(&mut st, ks, size);
    }

    /// Changes the backlog's size, keeping its newest bytes.
    pub fn resize_backlog(&self, size: usize) {
        let mut st = self.state.lock();
        if let Some(b) = st.backlog.as_mut() {
            b.resize(size);
        }
    }

    pub fn backlog_info(&self) -> BacklogInfo {
        let st = self.state.lock();
        let end = self.offset();
        match st.backlog.as_ref() {
            Some(b) => BacklogInfo {
                active: true,
                first_byte_offset: end + 1 - b.len as u64,
                histlen: b.len as u64,
            },
            None => BacklogInfo::default(),
        }
    }

    /// Takes the bytes appended since the last call (AOF writer), with the
    /// stream offset they end at.
    pub fn take_aof(&self) -> (Bytes, u64) {
        let mut st = self.state.lock();
        let bytes = st
            .aof
            .as_mut()
            .map(|b| b.split().freeze())
            .unwrap_or_default();
        (bytes, self.offset())
    }

    /// Like [`Journal::take_aof`], waiting up to `timeout` for something to
    /// take or for [`AofState::wake`]. With `always`, what it waits for is
    /// an fsync request (see [`Journal::wait_synced`]); bytes nobody asked
    /// for yet are taken only at the timeout.
    pub fn wait_take_aof(&self, timeout: std::time::Duration, always: bool) -> (Bytes, u64) {
        let mut st = self.state.lock();
        let ready = |st: &State| {
            self.aof.wake.load(Ordering::Acquire)
                || if always {
                    self.aof.sync_requested.load(Ordering::Acquire)
                } else {
                    st.aof.as_ref().is_some_and(|b| !b.is_empty())
                }
        };
        if !ready(&st) {
            self.appended.wait_for(&mut st, timeout);
        }
        // Requests made from here on are for bytes not taken now.
        self.aof.sync_requested.store(false, Ordering::Release);
        let bytes = st
            .aof
            .as_mut()
            .map(|b| b.split().freeze())
            .unwrap_or_default();
        (bytes, self.offset())
    }

    /// Runs `f` with writes held off (no section is open while it runs):
    /// the AOF rewrite uses it to switch files and capture the dataset at
    /// one point of the stream. Pending bytes are handed to `f`.
    pub fn quiesced<R>(&self, f: impl FnOnce(Bytes) -> R) -> R {
        let mut st = self.state.lock();
        let pending = st
            .aof
            .as_mut()
            .map(|b| b.split().freeze())
            .unwrap_or_default();
        // A new file starts with its own SELECT.
        st.db = None;
        let _in = ferrocache_store::set_journal_section(true);
        let r = f(pending);
        ferrocache_store::set_journal_section(false);
        r
    }

    /// Wakes the AOF writer (BGREWRITEAOF, CONFIG SET appendonly).
    pub fn wake_aof(&self) {
        self.aof.wake.store(true, Ordering::Release);
        let _st = self.state.lock();
        self.appended.notify_all();
    }

    /// Waits until the AOF writer has made `offset` durable (appendfsync
    /// always) or stopped being the AOF writer.
    ///
    /// Like Redis, which writes and fsyncs once per event-loop iteration
    /// before it sends that iteration's replies, the request for the fsync
    /// waits until this worker has run every other connection that is
    /// ready (`yield_now` resumes only then): their writes join the same
    /// fsync instead of each starting one of their own.
    pub async fn wait_synced(&self, offset: u64) {
        let done = || {
            self.aof.durable.load(Ordering::Acquire) >= offset
                || !self.aof.fsync_always.load(Ordering::Relaxed)
                || !self.aof.enabled.load(Ordering::Relaxed)
        };
        if done() {
            return;
        }
        tokio::task::yield_now().await;
        if done() {
            return;
        }
        self.request_sync();
        // The writer wakes one waiting client (a thread switch the kernel
        // charges per wake-up); that client wakes the rest from its worker
        // thread, where waking a task costs no system call.
        let mut rx = self.aof.synced.subscribe();
        while !done() {
            tokio::select! {
                _ = self.aof.release.notified() => {
                    self.aof
                        .synced
                        .send_replace(self.aof.durable.load(Ordering::Acquire));
                }
                changed = rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Asks the AOF writer for an fsync of everything appended so far
    /// (`appendfsync always`). Only the first request of a batch takes the
    /// lock and wakes the writer.
    fn request_sync(&self) {
        if !self.aof.sync_requested.swap(true, Ordering::AcqRel) {
            let _st = self.state.lock();
            self.appended.notify_all();
        }
    }

    /// Opens a section if the journal is on and this thread has none open
    /// (commands inside EXEC or a script use the enclosing one).
    pub fn open(&self, atomic: bool) -> Option<Section<'_>> {
        if !self.is_on() || SECTION.with(|s| s.borrow().is_some()) {
            return None;
        }
        let state = self.state.lock();
        SECTION.with(|s| *s.borrow_mut() = Some(Vec::new()));
        ferrocache_store::set_journal_section(true);
        Some(Section {
            journal: self,
            state: Some(state),
            atomic,
            background: false,
        })
    }

    fn append(&self, st: &mut State, records: Vec<Record>, atomic: bool, background: bool) {
        if records.is_empty() {
            return;
        }
        let mut buf = BytesMut::new();
        // The AOF's copy leaves out records meant for replicas only; while
        // there are none it is `buf` itself.
        let mut aof_buf: Option<BytesMut> = records.iter().any(|r| r.repl_only).then(BytesMut::new);
        let wrap = atomic || records.len() > 1;
        let mut put = |bytes: &[&[u8]], repl_only: bool| {
            encode(&mut buf, bytes);
            if let (Some(a), false) = (aof_buf.as_mut(), repl_only) {
                encode(a, bytes);
            }
        };
        for (i, r) in records.iter().enumerate() {
            if st.db != Some(r.db) {
                put(&[b"SELECT", r.db.to_string().as_bytes()], false);
                st.db = Some(r.db);
            }
            if wrap && i == 0 {
                put(&[b"MULTI"], false);
            }
            let argv: Vec<&[u8]> = r.argv.iter().map(|a| &a[..]).collect();
            put(&argv, r.repl_only);
        }
        if wrap {
            put(&[b"EXEC"], false);
        }
        // The AOF writer takes all of the buffer when it wakes: one wake-up
        // per batch, not one per write. Under everysec and no it is woken
        // by the first bytes of a batch. Under always it is woken when the
        // batch is complete: clients ask for the fsync (wait_synced) once
        // their worker has run every other ready connection, so a write
        // needs no wake-up of its own, except one no client will ask for.
        let from_master = FROM_MASTER.with(|c| c.get());
        let wake_writer = match st.aof.as_mut() {
            Some(aof) => {
                let was_empty = aof.is_empty();
                aof.extend_from_slice(aof_buf.as_ref().unwrap_or(&buf));
                if self.aof.fsync_always.load(Ordering::Relaxed) {
                    (background || from_master)
                        && !self.aof.sync_requested.swap(true, Ordering::AcqRel)
                } else {
                    was_empty
                }
            }
            None => false,
        };
        // A replica's own records go to its AOF only: its stream offsets
        // are its master's (see [`Journal::feed_raw`]).
        if !from_master {
            self.push_repl(st, &buf);
            let end = self.offset.fetch_add(buf.len() as u64, Ordering::Release) + buf.len() as u64;
            LAST_APPEND.with(|c| c.set(end));
        }
        if wake_writer {
            self.appended.notify_all();
        }
    }
}

impl Drop for Section<'_> {
    fn drop(&mut self) {
        let records = SECTION.with(|s| s.borrow_mut().take()).unwrap_or_default();
        ferrocache_store::set_journal_section(false);
        if let Some(mut st) = self.state.take() {
            self.journal
                .append(&mut st, records, self.atomic, self.background);
        }
        for f in DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut())) {
            f();
        }
    }
}

/// Runs `f` now, or, if this thread is inside a section (and so holds the
/// journal's lock), as soon as the section closes.
pub fn when_unlocked(f: Box<dyn FnOnce()>) {
    if in_section() {
        DEFERRED.with(|d| d.borrow_mut().push(f));
    } else {
        f();
    }
}

/// Records one command of the open section (no-op without one).
pub fn record(db: usize, argv: Vec<Bytes>) {
    push_record(db, argv, false);
}

/// Records a command of the open section for replicas only (PUBLISH inside
/// EXEC or a script: the AOF leaves it out, as Redis's does).
pub fn record_for_replicas(db: usize, argv: Vec<Bytes>) {
    push_record(db, argv, true);
}

fn push_record(db: usize, argv: Vec<Bytes>, repl_only: bool) {
    SECTION.with(|s| {
        if let Some(records) = s.borrow_mut().as_mut() {
            records.push(Record {
                db,
                argv,
                repl_only,
            });
        }
    });
}

/// The keyspace deleted an expired key: record its DEL.
pub fn record_expired(db: usize, key: &Bytes) {
    record(db, vec![Bytes::from_static(b"DEL"), key.clone()]);
}

/// The stream offset this thread's last append ended at, if it appended
/// since the previous call (`appendfsync always` waits for it).
pub fn take_last_append() -> Option<u64> {
    LAST_APPEND.with(|c| match c.replace(0) {
        0 => None,
        n => Some(n),
    })
}

/// Marks this thread as applying its master's stream (or no longer).
pub fn set_from_master(on: bool) {
    FROM_MASTER.with(|c| c.set(on));
}

fn new_feed(id: u64, limits: FeedLimits) -> Arc<Feed> {
    Arc::new(Feed {
        id,
        data: Mutex::new(BytesMut::new()),
        notify: tokio::sync::Notify::new(),
        overflow: AtomicBool::new(false),
        hard: limits.hard,
        soft: limits.soft,
        soft_secs: limits.soft_secs,
        over_soft_since: AtomicU64::new(0),
    })
}

/// True while this thread has a section open.
pub fn in_section() -> bool {
    SECTION.with(|s| s.borrow().is_some())
}

fn encode(buf: &mut BytesMut, argv: &[&[u8]]) {
    buf.put_u8(b'*');
    buf.put_slice(argv.len().to_string().as_bytes());
    buf.put_slice(b"\r\n");
    for a in argv {
        buf.put_u8(b'$');
        buf.put_slice(a.len().to_string().as_bytes());
        buf.put_slice(b"\r\n");
        buf.put_slice(a);
        buf.put_slice(b"\r\n");
    }
}

/// Opens the section the cron's active expiry runs in.
pub fn for_background(shared: &Shared) -> Option<Section<'_>> {
    let mut section = shared.journal.open(false)?;
    section.background = true;
    Some(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_appends_select_then_its_records() {
        let ks = ferrocache_store::Keyspace::new(16);
        let j = Journal::default();
        assert!(j.open(false).is_none(), "off: no section");
        j.set_aof(&ks, true);
        {
            let _s = j.open(false).expect("section");
            assert!(
                j.open(false).is_none(),
                "nested sections share the outer one"
            );
            record(
                3,
                vec![Bytes::from_static(b"SET"), Bytes::from_static(b"k")],
            );
        }
        let (bytes, end) = j.take_aof();
        assert_eq!(
            &bytes[..],
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*2\r\n$3\r\nSET\r\n$1\r\nk\r\n"
        );
        assert_eq!(end, bytes.len() as u64);
        {
            let _s = j.open(true).expect("section");
            record(
                3,
                vec![Bytes::from_static(b"DEL"), Bytes::from_static(b"k")],
            );
        }
        let (bytes, _) = j.take_aof();
        assert_eq!(
            &bytes[..],
            b"*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*1\r\n$4\r\nEXEC\r\n"
        );
        assert!(!in_section());
        // A record for replicas only stays out of the AOF's copy.
        {
            let _s = j.open(true).expect("section");
            record_for_replicas(
                3,
                vec![Bytes::from_static(b"PUBLISH"), Bytes::from_static(b"c")],
            );
            record(
                3,
                vec![Bytes::from_static(b"DEL"), Bytes::from_static(b"k")],
            );
        }
        let (bytes, _) = j.take_aof();
        assert_eq!(
            &bytes[..],
            b"*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*1\r\n$4\r\nEXEC\r\n"
        );
    }

    fn set_k(j: &Journal) {
        let _s = j.open(false).expect("section");
        record(
            0,
            vec![Bytes::from_static(b"SET"), Bytes::from_static(b"k")],
        );
    }

    #[test]
    fn the_backlog_keeps_the_last_bytes_and_serves_partial_attaches() {
        let ks = ferrocache_store::Keyspace::new(16);
        let j = Journal::default();
        let limits = FeedLimits::default();
        // A full attach turns the journal on; the stream restarts with a
        // SELECT after the capture point.
        let ((), at, feed) = j.attach_full(&ks, 64, limits, 1, || ());
        assert!(j.is_on());
        assert_eq!(at, 0);
        set_k(&j);
        let first = feed.take();
        assert!(first.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"));
        let end = j.offset();
        assert_eq!(end, first.len() as u64);
        // Everything still in the backlog can be continued from.
        let (bytes, f2) = j.attach_partial(1, limits, 2).expect("in backlog");
        assert_eq!(bytes, first);
        let (bytes, _) = j.attach_partial(end + 1, limits, 3).expect("at the end");
        assert!(bytes.is_empty());
        assert!(j.attach_partial(end + 2, limits, 4).is_none(), "the future");
        // Beyond 64 bytes the oldest are dropped.
        for _ in 0..10 {
            set_k(&j);
        }
        let info = j.backlog_info();
        assert_eq!(info.histlen, 64);
        assert_eq!(info.first_byte_offset, j.offset() - 63);
        assert!(j.attach_partial(1, limits, 5).is_none(), "dropped");
        let (bytes, _) = j
            .attach_partial(info.first_byte_offset, limits, 6)
            .expect("oldest byte held");
        assert_eq!(bytes.len(), 64);
        // Feeds get every byte, raw ones (PING) included.
        j.feed_raw(b"*1\r\n$4\r\nPING\r\n");
        assert!(f2.take().ends_with(b"PING\r\n"));
        j.detach(&f2);
        assert_eq!(j.feeds(), 3);
    }

    #[test]
    fn a_feed_past_its_hard_limit_overflows() {
        let ks = ferrocache_store::Keyspace::new(16);
        let j = Journal::default();
        let limits = FeedLimits {
            hard: 100,
            soft: 0,
            soft_secs: 0,
        };
        let ((), _, feed) = j.attach_full(&ks, 1 << 20, limits, 1, || ());
        for _ in 0..10 {
            set_k(&j);
        }
        assert!(feed.overflow.load(Ordering::Acquire));
    }
}

#[cfg(test)]
mod backlog_tests {
    use super::*;

    /// The ring against a model: the last `size` bytes pushed.
    #[test]
    fn the_ring_holds_the_newest_bytes_through_wraps_and_resizes() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut b = Backlog::new(50);
        let mut model: Vec<u8> = Vec::new();
        let mut size = 50;
        for i in 0..2000u32 {
            if i % 300 == 299 {
                size = rng.usize(1..80);
                b.resize(size);
            }
            let n = rng.usize(0..70);
            let chunk: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            b.push(&chunk);
            model.extend_from_slice(&chunk);
            let keep = model.len().min(size);
            model.drain(..model.len() - keep);
            let mut out = BytesMut::new();
            b.copy_from(0, &mut out);
            assert_eq!(&out[..], &model[..], "step {i}");
            if !model.is_empty() {
                let skip = rng.usize(0..model.len());
                let mut out = BytesMut::new();
                b.copy_from(skip, &mut out);
                assert_eq!(&out[..], &model[skip..], "step {i} skip {skip}");
            }
        }
    }
}
