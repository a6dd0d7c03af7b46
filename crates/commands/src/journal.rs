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

/// One command of the stream and the database it applies to.
struct Record {
    db: usize,
    argv: Vec<Bytes>,
}

#[derive(Default)]
struct State {
    /// Database the stream last selected.
    db: Option<usize>,
    /// Stream bytes not yet taken by the AOF writer (None: no AOF).
    aof: Option<BytesMut>,
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
    pub rewrites: AtomicU64,
    pub last_rewrite_ok: AtomicBool,
    pub last_rewrite_time_sec: std::sync::atomic::AtomicI64,
    pub rewrite_started_ms: AtomicU64,
    pub last_write_ok: AtomicBool,
    pub current_size: AtomicU64,
    pub base_size: AtomicU64,
    /// Journal offset known to be on disk (fsynced).
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
            rewrites: AtomicU64::new(0),
            last_rewrite_ok: AtomicBool::new(true),
            last_rewrite_time_sec: std::sync::atomic::AtomicI64::new(-1),
            rewrite_started_ms: AtomicU64::new(0),
            last_write_ok: AtomicBool::new(true),
            current_size: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
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
        self.synced.send_replace(offset);
    }
}

thread_local! {
    /// Stream offset after this thread's last append (0: none since taken).
    static LAST_APPEND: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
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
        self.on.store(on, Ordering::Relaxed);
        shared_ks.set_journal(on);
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
    /// take or for [`AofState::wake`].
    pub fn wait_take_aof(&self, timeout: std::time::Duration) -> (Bytes, u64) {
        let mut st = self.state.lock();
        if st.aof.as_ref().is_none_or(|b| b.is_empty()) && !self.aof.wake.load(Ordering::Acquire) {
            self.appended.wait_for(&mut st, timeout);
        }
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
    pub async fn wait_synced(&self, offset: u64) {
        let mut rx = self.aof.synced.subscribe();
        let _ = rx
            .wait_for(|v| {
                *v >= offset
                    || !self.aof.fsync_always.load(Ordering::Relaxed)
                    || !self.aof.enabled.load(Ordering::Relaxed)
            })
            .await;
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
        })
    }

    fn append(&self, st: &mut State, records: Vec<Record>, atomic: bool) {
        if records.is_empty() {
            return;
        }
        let mut buf = BytesMut::new();
        let wrap = atomic || records.len() > 1;
        for (i, r) in records.iter().enumerate() {
            if st.db != Some(r.db) {
                encode(&mut buf, &[b"SELECT", r.db.to_string().as_bytes()]);
                st.db = Some(r.db);
            }
            if wrap && i == 0 {
                encode(&mut buf, &[b"MULTI"]);
            }
            let argv: Vec<&[u8]> = r.argv.iter().map(|a| &a[..]).collect();
            encode(&mut buf, &argv);
        }
        if wrap {
            encode(&mut buf, &[b"EXEC"]);
        }
        let end = self.offset.fetch_add(buf.len() as u64, Ordering::Release) + buf.len() as u64;
        if let Some(aof) = st.aof.as_mut() {
            aof.extend_from_slice(&buf);
        }
        LAST_APPEND.with(|c| c.set(end));
        self.appended.notify_all();
    }
}

impl Drop for Section<'_> {
    fn drop(&mut self) {
        let records = SECTION.with(|s| s.borrow_mut().take()).unwrap_or_default();
        ferrocache_store::set_journal_section(false);
        if let Some(mut st) = self.state.take() {
            self.journal.append(&mut st, records, self.atomic);
        }
    }
}

/// Records one command of the open section (no-op without one).
pub fn record(db: usize, argv: Vec<Bytes>) {
    SECTION.with(|s| {
        if let Some(records) = s.borrow_mut().as_mut() {
            records.push(Record { db, argv });
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
    shared.journal.open(false)
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
    }
}
