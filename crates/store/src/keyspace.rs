//! The sharded keyspace.
//!
//! Every database is split into [`SHARDS_PER_DB`] shards by key hash, and all
//! shards of all databases sit in one flat array. A shard's global index is
//! `db * SHARDS_PER_DB + shard_bits(hash)`, so sorting shard indexes gives
//! one lock order across databases: a command that touches several keys (or
//! several databases, as MOVE and SWAPDB do) locks its shards in ascending
//! index order and can never deadlock with another.
//!
//! Shards never split or merge. That is what makes SCAN's guarantee cheap: a
//! key that exists for the whole scan stays in one shard, and the cursor walks
//! shards, so it is returned exactly once however the tables grow or shrink.
//!
//! Every entry carries Redis's 24-bit access field, kept as an LRU clock or
//! an LFU counter depending on the eviction policy the server mirrors into
//! [`Keyspace::set_access_policy`]. Lookups that count as an access
//! ([`Locked::get`], [`Locked::get_mut`]) update it with a single store;
//! lookups that must not ([`Locked::peek`], [`Locked::contains`]: TTL, TYPE,
//! EXISTS, OBJECT) leave it alone. OBJECT IDLETIME and OBJECT FREQ read it,
//! and eviction will sample it.

use crate::blocked::BlockedKeys;
use crate::counter::Counter;
use crate::entry::Entry;
use crate::glob::glob_match;
use crate::value::{Value, ValueType};
use crate::watch::Watches;
use bytes::Bytes;
use hashbrown::HashTable;
use parking_lot::{Mutex, MutexGuard};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

pub const SHARD_BITS: u32 = 9;
pub const SHARDS_PER_DB: usize = 1 << SHARD_BITS;

/// The bits of a key's hash that choose its shard. hashbrown uses the top
/// seven bits as each slot's tag and the low bits as the bucket index, so the
/// shard must be chosen from neither: with the top bits, every key of a shard
/// would carry the same tag and every probe would compare keys.
#[inline]
fn shard_bits(hash: u64) -> usize {
    (hash >> 32) as usize & (SHARDS_PER_DB - 1)
}

/// Largest value of the 24-bit LRU clock; the clock wraps after it (about
/// 194 days of seconds).
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
/// The counter an LFU entry starts with, so that a new key is not evicted
/// before it had a chance to be read.
pub const LFU_INIT_VAL: u8 = 5;

/// The LRU clock at `now_ms`: Unix seconds modulo 2^24.
pub fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) & LRU_CLOCK_MAX as u64) as u32
}

/// Milliseconds since the access recorded in an LRU `access` field, taking
/// one wrap of the clock into account.
pub fn lru_idle_ms(access: u32, now_ms: u64) -> u64 {
    let clock = lru_clock(now_ms);
    let access = access & LRU_CLOCK_MAX;
    let secs = if clock >= access {
        clock - access
    } else {
        clock + (LRU_CLOCK_MAX - access)
    };
    secs as u64 * 1000
}

/// Unix minutes modulo 2^16, the LFU decay clock.
fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 1000 / 60) & 0xFFFF) as u32
}

/// The LFU counter of `access` after decaying it by one for every
/// `decay_time` minutes since its last decay (no decay when `decay_time` is
/// 0). This is what OBJECT FREQ reports.
pub fn lfu_decayed(access: u32, now_ms: u64, decay_time: u32) -> u8 {
    let last = (access >> 8) & 0xFFFF;
    let counter = (access & 0xFF) as u8;
    if decay_time == 0 {
        return counter;
    }
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= last {
        now - last
    } else {
        0xFFFF - last + now
    };
    let periods = elapsed / decay_time;
    counter.saturating_sub(periods.min(255) as u8)
}

/// Increments an LFU counter with probability 1 / ((counter - init) *
/// log_factor + 1), so it grows with the logarithm of the access count and
/// saturates at 255.
pub fn lfu_log_incr(counter: u8, log_factor: u32) -> u8 {
    if counter == 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if fastrand::f64() < p {
        counter + 1
    } else {
        counter
    }
}

/// The LFU `access` field after one access: decayed, incremented, and
/// stamped with the current minute.
pub fn lfu_touch(access: u32, now_ms: u64, log_factor: u32, decay_time: u32) -> u32 {
    let counter = lfu_log_incr(lfu_decayed(access, now_ms, decay_time), log_factor);
    (lfu_minutes(now_ms) << 8) | counter as u32
}

/// How entries' access fields are maintained, mirrored from the
/// `maxmemory-policy`, `lfu-log-factor` and `lfu-decay-time` settings by
/// [`Keyspace::set_access_policy`]. Atomics, so that the lookup path reads
/// them without a lock.
#[derive(Debug)]
struct AccessPolicy {
    lfu: AtomicBool,
    log_factor: AtomicU32,
    decay_time: AtomicU32,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        AccessPolicy {
            lfu: AtomicBool::new(false),
            log_factor: AtomicU32::new(10),
            decay_time: AtomicU32::new(1),
        }
    }
}

/// Hooks the keyspace calls when it removes keys on its own (expiry,
/// eviction), so that the journal, keyspace notifications and statistics hear
/// of it. Installed once by the server.
pub trait KeyspaceObserver: Send + Sync {
    fn expired(&self, db: usize, key: &Bytes);
    /// A key was written (only called while
    /// [`Keyspace::set_track_modified`] is on: CLIENT TRACKING).
    fn modified(&self, _db: usize, _key: &[u8]) {}
    /// A read found no key (keyspace notifications' `keymiss`).
    fn missed(&self, _db: usize, _key: &[u8]) {}
    /// A key was created (only called while [`Keyspace::set_notify_new`]
    /// is on).
    fn added(&self, _db: usize, _key: &[u8]) {}
}

/// One shard: a hash table of entries plus the counters INFO needs.
#[derive(Default)]
pub struct Shard {
    /// An entry is a thin pointer to its block: a slot is 8 bytes, and the
    /// table's empty slots (up to half of them just after it grows) cost
    /// little.
    table: HashTable<Entry>,
    volatile: usize,
    /// Bucket where the active expiry cycle resumes.
    expire_cursor: usize,
    /// A snapshot started and has not copied this shard yet: whoever locks
    /// the shard next copies it first (see [`Keyspace::begin_snapshot`]).
    capture: Option<Arc<Capture>>,
}

impl Shard {
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn volatile(&self) -> usize {
        self.volatile
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.table.iter()
    }
}

/// A point-in-time copy of the keyspace, taken shard by shard.
///
/// [`Keyspace::begin_snapshot`] marks every shard while holding all their
/// locks, which fixes the instant of the snapshot and stops writes only for
/// as long as it takes to take and release the locks. From then on the first
/// lock of a marked shard, by a command, expiry or the snapshot writer
/// itself, copies the shard's entries (values are cloned: strings share
/// their bytes, collections are copied) into the capture before anything
/// can change them. A write therefore waits at most for the copy of one
/// shard, never for the whole data set.
pub struct Capture {
    slots: Box<[Mutex<Option<Vec<Entry>>>]>,
    /// Keys and keys with an expiry in each database at the instant of the
    /// snapshot.
    pub counts: Vec<(usize, usize)>,
    /// The dirty counter at that instant.
    pub dirty: u64,
}

impl Capture {
    fn store(&self, idx: usize, table: &HashTable<Entry>) {
        let copy: Vec<Entry> = table.iter().cloned().collect();
        *self.slots[idx].lock() = Some(copy);
    }
}

/// Counters the keyspace keeps for INFO.
#[derive(Default, Debug)]
pub struct KeyspaceStats {
    pub expired_keys: Counter,
    pub keyspace_hits: Counter,
    pub keyspace_misses: Counter,
    /// Writes since the last successful save (Redis's `server.dirty`).
    pub dirty: Counter,
}

thread_local! {
    static JOURNAL_SECTION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static MASTER_CONTEXT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the current thread as applying a master's stream on a replica:
/// keys past their deadline are then seen as they are, as in Redis, so the
/// master's commands act on the same data they acted on there (the master
/// deletes expired keys itself and sends the DEL).
pub fn set_master_context(on: bool) {
    MASTER_CONTEXT.with(|c| c.set(on));
}

#[inline]
fn master_context() -> bool {
    MASTER_CONTEXT.with(|c| c.get())
}

/// Marks the current thread as inside (or outside) a journal section: it
/// holds the journal's lock, so expired keys it meets may be deleted and
/// their DEL recorded. Returns the previous state.
pub fn set_journal_section(on: bool) -> bool {
    JOURNAL_SECTION.with(|c| c.replace(on))
}

pub fn in_journal_section() -> bool {
    JOURNAL_SECTION.with(|c| c.get())
}

/// All databases.
pub struct Keyspace {
    shards: Box<[Mutex<Shard>]>,
    hasher: foldhash::fast::RandomState,
    dbs: usize,
    pub stats: KeyspaceStats,
    /// Set on a replica: expired keys are hidden from reads but only deleted
    /// when the master says so.
    replica_expiry: AtomicBool,
    /// Set while the journal records changes (AOF on, replicas attached):
    /// expired keys are then deleted only inside a journal section, so the
    /// DEL is recorded in order with the writes (see [`journal_section`]).
    journal_on: AtomicBool,
    /// Report every written key to the observer (CLIENT TRACKING).
    track_modified: AtomicBool,
    observer: parking_lot::RwLock<Option<Arc<dyn KeyspaceObserver>>>,
    access: AccessPolicy,
    /// WATCHed keys; raised by the guards and by expiry, flush and swap.
    pub watches: Watches,
    /// Tell the observer about every key created.
    notify_new: AtomicBool,
    /// Keys blocked clients wait on; stored values signal them.
    pub blocked: BlockedKeys,
    /// A snapshot is being taken (one at a time).
    snapshot_active: AtomicBool,
}

impl Keyspace {
    pub fn new(databases: usize) -> Keyspace {
        let dbs = databases.max(1);
        let shards = (0..dbs * SHARDS_PER_DB)
            .map(|_| Mutex::new(Shard::default()))
            .collect();
        Keyspace {
            shards,
            hasher: foldhash::fast::RandomState::default(),
            dbs,
            stats: KeyspaceStats::default(),
            replica_expiry: AtomicBool::new(false),
            journal_on: AtomicBool::new(false),
            track_modified: AtomicBool::new(false),
            observer: parking_lot::RwLock::new(None),
            access: AccessPolicy::default(),
            watches: Watches::default(),
            notify_new: AtomicBool::new(false),
            blocked: BlockedKeys::default(),
            snapshot_active: AtomicBool::new(false),
        }
    }

    /// Locks the shard at global index `idx`, first copying it into a
    /// pending snapshot if one is waiting for it. Every lock that may change
    /// a shard goes through here.
    #[inline]
    fn acquire(&self, idx: usize) -> MutexGuard<'_, Shard> {
        let mut g = self.shards[idx].lock();
        if let Some(cap) = g.capture.take() {
            cap.store(idx, &g.table);
        }
        g
    }

    /// Starts a point-in-time snapshot of every database (see [`Capture`]),
    /// or returns `None` if one is already in progress. The caller reads
    /// each shard with [`Keyspace::snapshot_shard`] and must end with
    /// [`Keyspace::end_snapshot`].
    pub fn begin_snapshot(&self) -> Option<Arc<Capture>> {
        if self.snapshot_active.swap(true, Ordering::AcqRel) {
            return None;
        }
        let mut guards: Vec<MutexGuard<'_, Shard>> = self.shards.iter().map(|s| s.lock()).collect();
        let counts = (0..self.dbs)
            .map(|db| {
                guards[db * SHARDS_PER_DB..(db + 1) * SHARDS_PER_DB]
                    .iter()
                    .fold((0, 0), |(k, v), s| (k + s.len(), v + s.volatile))
            })
            .collect();
        let cap = Arc::new(Capture {
            slots: (0..self.shards.len()).map(|_| Mutex::new(None)).collect(),
            counts,
            dirty: self.stats.dirty.load(Ordering::Relaxed),
        });
        for g in guards.iter_mut() {
            // Empty shards have nothing to copy.
            if !g.table.is_empty() {
                g.capture = Some(cap.clone());
            }
        }
        drop(guards);
        Some(cap)
    }

    /// The entries shard `shard` of `db` held at the instant of the
    /// snapshot. Each shard can be taken once.
    pub fn snapshot_shard(&self, cap: &Capture, db: usize, shard: usize) -> Vec<Entry> {
        let idx = db * SHARDS_PER_DB + shard;
        drop(self.acquire(idx));
        cap.slots[idx].lock().take().unwrap_or_default()
    }

    /// Ends a snapshot: shards not copied yet are unmarked without copying.
    pub fn end_snapshot(&self, cap: &Arc<Capture>) {
        for s in self.shards.iter() {
            let mut g = s.lock();
            if g.capture.as_ref().is_some_and(|c| Arc::ptr_eq(c, cap)) {
                g.capture = None;
            }
        }
        self.snapshot_active.store(false, Ordering::Release);
    }

    /// True while a snapshot is being taken.
    pub fn snapshot_in_progress(&self) -> bool {
        self.snapshot_active.load(Ordering::Acquire)
    }

    /// Chooses how lookups maintain each entry's access field: the LRU clock
    /// (`lfu` false) or the LFU counter with the given `lfu-log-factor` and
    /// `lfu-decay-time`. Entries keep their old field when the policy changes,
    /// as in Redis, and adjust as they are accessed.
    pub fn set_access_policy(&self, lfu: bool, log_factor: u32, decay_time: u32) {
        self.access.log_factor.store(log_factor, Ordering::Relaxed);
        self.access.decay_time.store(decay_time, Ordering::Relaxed);
        self.access.lfu.store(lfu, Ordering::Relaxed);
    }

    /// True if access fields hold LFU counters.
    pub fn lfu(&self) -> bool {
        self.access.lfu.load(Ordering::Relaxed)
    }

    /// The access field of a value created at `now_ms`.
    pub fn fresh_access(&self, now_ms: u64) -> u32 {
        if self.lfu() {
            (lfu_minutes(now_ms) << 8) | LFU_INIT_VAL as u32
        } else {
            lru_clock(now_ms)
        }
    }

    /// The access field after an access at `now_ms`.
    pub fn touched_access(&self, access: u32, now_ms: u64) -> u32 {
        if self.lfu() {
            lfu_touch(
                access,
                now_ms,
                self.access.log_factor.load(Ordering::Relaxed),
                self.access.decay_time.load(Ordering::Relaxed),
            )
        } else {
            lru_clock(now_ms)
        }
    }

    /// The access field of a value restored with an idle time (LRU
    /// policies) or an LFU counter (LFU policies), as RESTORE's IDLETIME and
    /// FREQ and a file's IDLE and FREQ opcodes give them; `None` when the
    /// hint does not apply to the current policy.
    pub fn restored_access(
        &self,
        now_ms: u64,
        idle_secs: Option<u64>,
        freq: Option<u8>,
    ) -> Option<u32> {
        if self.lfu() {
            freq.map(|f| (lfu_minutes(now_ms) << 8) | f as u32)
        } else {
            idle_secs.map(|i| lru_clock(now_ms.saturating_sub(i.saturating_mul(1000))))
        }
    }

    /// OBJECT FREQ: the entry's decayed LFU counter.
    pub fn access_frequency(&self, entry: &Entry, now_ms: u64) -> u8 {
        lfu_decayed(
            entry.access(),
            now_ms,
            self.access.decay_time.load(Ordering::Relaxed),
        )
    }

    /// OBJECT IDLETIME, in milliseconds.
    pub fn idle_ms(&self, entry: &Entry, now_ms: u64) -> u64 {
        lru_idle_ms(entry.access(), now_ms)
    }

    pub fn databases(&self) -> usize {
        self.dbs
    }

    /// Whether key creations are reported to the observer (the `n` class of
    /// keyspace notifications).
    pub fn set_notify_new(&self, on: bool) {
        self.notify_new.store(on, Ordering::Relaxed);
    }

    pub fn set_observer(&self, observer: Arc<dyn KeyspaceObserver>) {
        *self.observer.write() = Some(observer);
    }

    pub fn set_replica_expiry(&self, on: bool) {
        self.replica_expiry.store(on, Ordering::Relaxed);
    }

    /// Tells the observer a read missed `key`.
    pub fn report_miss(&self, db: usize, key: &[u8]) {
        if let Some(obs) = self.observer.read().as_ref() {
            obs.missed(db, key);
        }
    }

    /// Reports every written key to the observer while on.
    pub fn set_track_modified(&self, on: bool) {
        self.track_modified.store(on, Ordering::Relaxed);
    }

    /// Tells the keyspace that the journal records changes.
    pub fn set_journal(&self, on: bool) {
        self.journal_on.store(on, Ordering::Relaxed);
    }

    /// Whether an expired key met now may be deleted: never on a replica,
    /// and with the journal on only inside a journal section, where the
    /// thread holds the journal's lock and the DEL is recorded in order.
    /// Elsewhere reads treat it as missing and leave it for a writer or the
    /// cron.
    fn may_reap(&self) -> bool {
        !self.replica_expiry.load(Ordering::Relaxed)
            && (!self.journal_on.load(Ordering::Relaxed) || in_journal_section())
    }

    /// True on a replica, where keys are deleted only when the master says
    /// so.
    pub fn replica_expiry(&self) -> bool {
        self.replica_expiry.load(Ordering::Relaxed)
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Global index of the shard holding `key` in `db`.
    pub fn shard_of(&self, db: usize, key: &[u8]) -> usize {
        db * SHARDS_PER_DB + shard_bits(self.hash(key))
    }

    /// Locks the shard holding one key.
    pub fn lock(&self, db: usize, key: &[u8], now_ms: u64) -> Locked<'_> {
        let idx = self.shard_of(db, key);
        Locked::new(self, now_ms, Guards::One(idx, self.acquire(idx)))
    }

    /// Locks every shard holding one of `keys` (pairs of database and key), in
    /// ascending order.
    pub fn lock_many<'k>(
        &self,
        keys: impl IntoIterator<Item = (usize, &'k [u8])>,
        now_ms: u64,
    ) -> Locked<'_> {
        let mut idx: Vec<usize> = keys
            .into_iter()
            .map(|(db, k)| self.shard_of(db, k))
            .collect();
        self.lock_indexes(&mut idx, now_ms)
    }

    /// Locks every shard of the given databases, in ascending order.
    pub fn lock_dbs(&self, dbs: &[usize], now_ms: u64) -> Locked<'_> {
        let mut idx: Vec<usize> = dbs
            .iter()
            .flat_map(|&db| db * SHARDS_PER_DB..(db + 1) * SHARDS_PER_DB)
            .collect();
        self.lock_indexes(&mut idx, now_ms)
    }

    fn lock_indexes(&self, idx: &mut Vec<usize>, now_ms: u64) -> Locked<'_> {
        idx.sort_unstable();
        idx.dedup();
        let guards = if idx.len() == 1 {
            Guards::One(idx[0], self.acquire(idx[0]))
        } else {
            Guards::Many(idx.iter().map(|&i| (i, self.acquire(i))).collect())
        };
        Locked::new(self, now_ms, guards)
    }

    /// Locks one shard by its index within `db` (0..SHARDS_PER_DB), for
    /// scans that walk a database shard by shard and may change it.
    pub fn lock_shard(&self, db: usize, shard: usize) -> MutexGuard<'_, Shard> {
        self.acquire(db * SHARDS_PER_DB + shard)
    }

    /// Number of keys in `db`, expired-but-unreclaimed ones included, as
    /// Redis's DBSIZE counts them.
    pub fn db_size(&self, db: usize) -> usize {
        self.db_shards(db).map(|s| s.lock().len()).sum()
    }

    /// Keys and keys with an expiry in `db`.
    /// Calls `f` on up to `n` entries of `db` picked at random (only entries
    /// with a TTL when `volatile`): the eviction sampler. It walks the
    /// shards from a random one, taking one entry from each shard that has
    /// any: a random bucket's, or for a volatile sample whose random probes
    /// miss, the next entry with a TTL, so sparse TTLs are still found.
    pub fn sample(&self, db: usize, n: usize, volatile: bool, mut f: impl FnMut(&Entry)) {
        let mut got = 0;
        let start = fastrand::usize(..SHARDS_PER_DB);
        for i in 0..SHARDS_PER_DB {
            if got >= n {
                break;
            }
            // Read only: a pending snapshot copy is left to the next writer
            // (copying here would add memory exactly when it is short).
            let s = self.shards[db * SHARDS_PER_DB + (start + i) % SHARDS_PER_DB].lock();
            if s.table.is_empty() || (volatile && s.volatile == 0) {
                continue;
            }
            let buckets = s.table.num_buckets();
            let probe = (0..16)
                .filter_map(|_| s.table.get_bucket(fastrand::usize(..buckets)))
                .find(|e| !volatile || e.has_expiry());
            let picked = probe.or_else(|| {
                let from = fastrand::usize(..buckets);
                (0..buckets)
                    .filter_map(|j| s.table.get_bucket((from + j) % buckets))
                    .find(|e| !volatile || e.has_expiry())
            });
            if let Some(e) = picked {
                f(e);
                got += 1;
            }
        }
    }

    /// Makes room for `keys` more keys in `db`, spread over its shards as
    /// the hash spreads them (a load sizes the tables once from the file's
    /// count instead of growing them step by step). The caller bounds
    /// `keys`.
    pub fn reserve(&self, db: usize, keys: usize) {
        let per_shard = keys / SHARDS_PER_DB;
        // The fullest of 512 shards holds a few standard deviations (about
        // the square root of the mean) more than the mean.
        let per_shard = per_shard + per_shard / 16 + 8;
        for s in self.db_shards(db) {
            let mut g = s.lock();
            g.table
                .reserve(per_shard, |e| self.hasher.hash_one(e.key()));
        }
    }

    pub fn db_counts(&self, db: usize) -> (usize, usize) {
        self.db_shards(db).fold((0, 0), |(k, v), s| {
            let s = s.lock();
            (k + s.len(), v + s.volatile)
        })
    }

    fn db_shards(&self, db: usize) -> impl Iterator<Item = &Mutex<Shard>> {
        self.shards[db * SHARDS_PER_DB..(db + 1) * SHARDS_PER_DB].iter()
    }

    /// Empties `db` atomically and returns the removed tables, so the caller
    /// decides where their memory is freed (inline, or on another thread for
    /// FLUSHDB ASYNC).
    pub fn flush_db(&self, db: usize) -> Vec<Shard> {
        let mut locked = self.lock_dbs(&[db], 0);
        locked.touch_watched_in(db, db);
        locked.take_all()
    }

    /// Empties every database atomically.
    pub fn flush_all(&self) -> Vec<Shard> {
        let all: Vec<usize> = (0..self.dbs).collect();
        let mut locked = self.lock_dbs(&all, 0);
        for db in all {
            locked.touch_watched_in(db, db);
        }
        locked.take_all()
    }

    /// Exchanges the contents of two databases atomically.
    pub fn swap_dbs(&self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let mut locked = self.lock_dbs(&[a, b], 0);
        locked.touch_watched_in(a, b);
        locked.touch_watched_in(b, a);
        self.blocked.signal_db(a);
        self.blocked.signal_db(b);
        if let Guards::Many(guards) = &mut locked.guards {
            let (lo, hi) = (a.min(b), a.max(b));
            let lo_start = guards
                .iter()
                .position(|(i, _)| *i == lo * SHARDS_PER_DB)
                .unwrap_or(0);
            let hi_start = guards
                .iter()
                .position(|(i, _)| *i == hi * SHARDS_PER_DB)
                .unwrap_or(0);
            let (left, right) = guards.split_at_mut(hi_start);
            for n in 0..SHARDS_PER_DB {
                std::mem::swap(&mut *left[lo_start + n].1, &mut *right[n].1);
            }
        }
    }

    /// One step of SCAN over `db`. The cursor counts shards; a call returns the
    /// keys of whole shards until at least `count` keys are collected, and the
    /// next cursor (0 when the walk is complete).
    pub fn scan(
        &self,
        db: usize,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
        type_filter: Option<ValueType>,
        now_ms: u64,
    ) -> (u64, Vec<Bytes>) {
        let mut out = Vec::new();
        // Cursors past the last shard (any u64 is a valid cursor) end the walk.
        let mut shard = usize::try_from(cursor).unwrap_or(usize::MAX);
        let mut visited = 0usize;
        while shard < SHARDS_PER_DB {
            // Read only: a pending snapshot copy is left to the next writer.
            let guard = self.shards[db * SHARDS_PER_DB + shard].lock();
            for e in guard.table.iter() {
                visited += 1;
                if e.is_expired(now_ms) {
                    continue;
                }
                if let Some(t) = type_filter {
                    if e.value().value_type() != t {
                        continue;
                    }
                }
                if let Some(p) = pattern {
                    if !glob_match(p, e.key(), false) {
                        continue;
                    }
                }
                out.push(Bytes::copy_from_slice(e.key()));
            }
            drop(guard);
            shard += 1;
            // Redis visits about `count` buckets per call; empty shards cost
            // little, so keep going until `count` entries were looked at.
            if visited >= count {
                break;
            }
        }
        let next = if shard >= SHARDS_PER_DB {
            0
        } else {
            shard as u64
        };
        (next, out)
    }

    /// All live keys of `db` matching `pattern`, one shard lock at a time.
    pub fn keys(&self, db: usize, pattern: &[u8], now_ms: u64) -> Vec<Bytes> {
        let all = pattern == b"*";
        let mut out = Vec::new();
        for s in self.db_shards(db) {
            let s = s.lock();
            out.extend(
                s.table
                    .iter()
                    .filter(|e| {
                        !e.is_expired(now_ms) && (all || glob_match(pattern, e.key(), false))
                    })
                    .map(|e| Bytes::copy_from_slice(e.key())),
            );
        }
        out
    }

    /// A random live key of `db`, or `None` if the database is empty.
    pub fn random_key(&self, db: usize, now_ms: u64) -> Option<Bytes> {
        let start = fastrand::usize(..SHARDS_PER_DB);
        for i in 0..SHARDS_PER_DB {
            let idx = db * SHARDS_PER_DB + (start + i) % SHARDS_PER_DB;
            let mut locked = Locked::new(self, now_ms, Guards::One(idx, self.acquire(idx)));
            // Expired keys met on the way are reclaimed, as Redis does.
            for _ in 0..100 {
                let Some(key) =
                    random_entry(locked.shard(idx)).map(|e| Bytes::copy_from_slice(e.key()))
                else {
                    break;
                };
                if locked.peek(db, &key).is_some() {
                    return Some(key);
                }
            }
        }
        None
    }

    /// One pass of active expiry over `db`: visits up to `budget` buckets,
    /// resuming where the previous pass stopped in each shard, and deletes
    /// the expired keys it meets. Returns (sampled volatile keys, expired).
    pub fn active_expire_db(&self, db: usize, budget: usize, now_ms: u64) -> (usize, usize) {
        if !self.may_reap() {
            return (0, 0);
        }
        let per_shard = (budget / SHARDS_PER_DB).max(4);
        let mut sampled = 0;
        let mut expired = Vec::new();
        let mut total = 0;
        for shard in 0..SHARDS_PER_DB {
            // Taken without the snapshot copy: most visits delete nothing,
            // and copying every shard here would put the whole copy of a
            // snapshot on the cron's thread in one tick.
            let idx = db * SHARDS_PER_DB + shard;
            let mut s = self.shards[idx].lock();
            if s.volatile == 0 {
                continue;
            }
            let buckets = s.table.num_buckets();
            let mut cursor = s.expire_cursor % buckets.max(1);
            for _ in 0..per_shard.min(buckets) {
                let hit = match s.table.get_bucket(cursor) {
                    Some(e) if e.has_expiry() => {
                        sampled += 1;
                        e.is_expired(now_ms)
                    }
                    _ => false,
                };
                if hit {
                    if let Some(cap) = s.capture.take() {
                        cap.store(idx, &s.table);
                    }
                    if let Ok(occ) = s.table.get_bucket_entry(cursor) {
                        let (entry, _) = occ.remove();
                        s.volatile -= 1;
                        expired.push(Bytes::copy_from_slice(entry.key()));
                    }
                }
                cursor = (cursor + 1) % buckets;
            }
            s.expire_cursor = cursor;
            drop(s);
            total += expired.len();
            self.report_expired(db, &mut expired);
        }
        (sampled, total)
    }

    fn report_expired(&self, db: usize, keys: &mut Vec<Bytes>) {
        if keys.is_empty() {
            return;
        }
        self.stats
            .expired_keys
            .fetch_add(keys.len() as u64, Ordering::Relaxed);
        for k in keys.iter() {
            self.watches.touch(db, k);
        }
        if let Some(obs) = self.observer.read().as_ref() {
            for k in keys.iter() {
                obs.expired(db, k);
            }
        }
        keys.clear();
    }
}

fn random_entry(s: &Shard) -> Option<&Entry> {
    let n = s.table.num_buckets();
    if n == 0 || s.table.is_empty() {
        return None;
    }
    let start = fastrand::usize(..n);
    (0..n).find_map(|i| s.table.get_bucket((start + i) % n))
}

enum Guards<'a> {
    One(usize, MutexGuard<'a, Shard>),
    Many(Vec<(usize, MutexGuard<'a, Shard>)>),
}

impl<'a> Guards<'a> {
    fn shards_mut(&mut self) -> Vec<&mut Shard> {
        match self {
            Guards::One(_, g) => vec![&mut **g],
            Guards::Many(v) => v.iter_mut().map(|(_, g)| &mut **g).collect(),
        }
    }
}

/// Shards held by one command. Every access names its database and key; the
/// shard must be among those locked, which the command table's key positions
/// guarantee.
pub struct Locked<'a> {
    ks: &'a Keyspace,
    now: u64,
    guards: Guards<'a>,
    /// Someone WATCHes a key: note the keys written through this guard.
    track: bool,
    written: Vec<(usize, Bytes)>,
    /// `dirty` was called with a non-zero count: the noted keys changed.
    changed: std::cell::Cell<bool>,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if self.changed.get() {
            for (db, key) in &self.written {
                self.ks.watches.touch(*db, key);
            }
            if self.ks.track_modified.load(Ordering::Relaxed) {
                if let Some(obs) = self.ks.observer.read().as_ref() {
                    for (db, key) in &self.written {
                        obs.modified(*db, key);
                    }
                }
            }
        }
    }
}

impl<'a> Locked<'a> {
    /// Reads the watch flag only once the shards are held (see
    /// [`crate::watch`] for why that order matters).
    fn new(ks: &'a Keyspace, now: u64, guards: Guards<'a>) -> Locked<'a> {
        Locked {
            ks,
            now,
            guards,
            track: ks.watches.active() || ks.track_modified.load(Ordering::Relaxed),
            written: Vec::new(),
            changed: std::cell::Cell::new(false),
        }
    }

    #[inline]
    fn note_write(&mut self, db: usize, key: &[u8]) {
        if self.track {
            self.written.push((db, Bytes::copy_from_slice(key)));
        }
    }

    /// Raises the WATCH flags on keys of `db` that exist (and have not
    /// expired) in `db` or in `other` (FLUSHDB, FLUSHALL, SWAPDB).
    fn touch_watched_in(&mut self, db: usize, other: usize) {
        if !self.ks.watches.active() {
            return;
        }
        for key in self.ks.watches.keys_of(db) {
            if self.exists_raw(db, &key) || self.exists_raw(other, &key) {
                self.ks.watches.touch(db, &key);
            }
        }
    }

    /// True if a live entry for `key` is present; removes nothing.
    fn exists_raw(&mut self, db: usize, key: &[u8]) -> bool {
        let hash = self.ks.hash(key);
        let idx = self.ks_index(db, hash);
        let now = self.now;
        self.shard(idx)
            .table
            .find(hash, |e| e.key() == key)
            .is_some_and(|e| !e.is_expired(now) || master_context())
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    pub fn keyspace(&self) -> &'a Keyspace {
        self.ks
    }

    fn shard(&mut self, idx: usize) -> &mut Shard {
        match &mut self.guards {
            Guards::One(i, g) => {
                assert_eq!(*i, idx, "key accessed without its shard locked");
                g
            }
            Guards::Many(v) => {
                let pos = v
                    .binary_search_by_key(&idx, |(i, _)| *i)
                    .expect("key accessed without its shard locked");
                &mut v[pos].1
            }
        }
    }

    /// Finds the live entry for `key` with one probe of its shard. An entry
    /// past its deadline is removed and reported as expired, except on a
    /// replica, where it stays (the master will send DEL) but reads treat it
    /// as missing.
    fn find_live(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        let hash = self.ks.hash(key);
        let idx = db * SHARDS_PER_DB + shard_bits(hash);
        let now = self.now;
        let ks = self.ks;
        let Shard {
            table, volatile, ..
        } = self.shard(idx);
        let occ = table.find_entry(hash, |e| e.key() == key).ok()?;
        if !occ.get().is_expired(now) || master_context() {
            return Some(occ.into_mut());
        }
        if ks.may_reap() {
            let (entry, _) = occ.remove();
            *volatile -= 1;
            ks.report_expired(db, &mut vec![Bytes::copy_from_slice(entry.key())]);
        }
        None
    }

    /// The live entry for `key`, deleting it first if it has expired.
    pub fn get(&mut self, db: usize, key: &[u8]) -> Option<&Entry> {
        self.access_mut(db, key).map(|e| &*e)
    }

    /// The live entry for `key`, deleting it first if it has expired, and
    /// recording the access for LRU/LFU (one store into the entry).
    pub fn get_mut(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.note_write(db, key);
        self.access_mut(db, key)
    }

    /// The live entry for `key`, for a change Redis does not count as a
    /// write (an encoding conversion, such as SORT turning a sorted set
    /// into a skiplist): no WATCH flag, no tracking invalidation, no
    /// access recorded.
    pub fn get_mut_unsignalled(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.peek_mut(db, key)
    }

    fn access_mut(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        let now = self.now;
        let ks = self.ks;
        let e = self.peek_mut(db, key)?;
        e.set_access(ks.touched_access(e.access(), now));
        Some(e)
    }

    /// The live entry for `key` without recording an access (Redis's
    /// `LOOKUP_NOTOUCH`: TTL, TYPE, EXISTS, OBJECT). Expired keys are still
    /// deleted.
    pub fn peek(&mut self, db: usize, key: &[u8]) -> Option<&Entry> {
        self.peek_mut(db, key).map(|e| &*e)
    }

    fn peek_mut(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.find_live(db, key)
    }

    /// True if `key` exists (and has not expired). Does not count as an
    /// access.
    pub fn contains(&mut self, db: usize, key: &[u8]) -> bool {
        self.peek(db, key).is_some()
    }

    /// Inserts or replaces `key`, returning the previous entry. The key bytes
    /// are copied so the entry never pins a network buffer.
    pub fn insert(
        &mut self,
        db: usize,
        key: &[u8],
        value: Value,
        expire_at: Option<u64>,
    ) -> Option<Entry> {
        let entry = self.new_entry(key, value, expire_at, false);
        self.insert_entry(db, entry, true)
    }

    /// Inserts or replaces `key` with the string `data` (encoded as
    /// [`Value::string`] would), returning the previous entry: SET's path,
    /// which copies the bytes once, into the entry.
    pub fn insert_string(
        &mut self,
        db: usize,
        key: &[u8],
        data: &[u8],
        expire_at: Option<u64>,
    ) -> Option<Entry> {
        let entry = Entry::new_string(key, data, expire_at, self.ks.fresh_access(self.now));
        self.insert_entry(db, entry, true)
    }

    /// A new entry with a fresh access field.
    fn new_entry(&self, key: &[u8], value: Value, expire_at: Option<u64>, copied: bool) -> Entry {
        Entry::new(
            key,
            value,
            expire_at,
            self.ks.fresh_access(self.now),
            copied,
        )
    }

    /// Inserts `old`'s value, expiry and access history under `key` (RENAME,
    /// MOVE: the same object changes name or database), returning the entry
    /// it replaces.
    pub fn insert_moved(&mut self, db: usize, key: &[u8], old: Entry) -> Option<Entry> {
        self.insert_entry(db, old.renamed(key), false)
    }

    /// Inserts a copy of `value` (COPY): a new object with a fresh access
    /// field, marked as a private duplicate.
    pub fn insert_copy(
        &mut self,
        db: usize,
        key: &[u8],
        value: Value,
        expire_at: Option<u64>,
    ) -> Option<Entry> {
        let entry = self.new_entry(key, value, expire_at, true);
        self.insert_entry(db, entry, false)
    }

    /// `inherit_lfu`: an overwrite keeps the replaced entry's LFU counter,
    /// counting the write as one access, as Redis's overwrite does.
    fn insert_entry(&mut self, db: usize, mut entry: Entry, inherit_lfu: bool) -> Option<Entry> {
        if self.track {
            self.written.push((db, Bytes::copy_from_slice(entry.key())));
        }
        self.ks.blocked.signal(db, entry.key());
        let hash = self.ks.hash(entry.key());
        let idx = db * SHARDS_PER_DB + shard_bits(hash);
        let ks = self.ks;
        let now = self.now;
        let hasher = &self.ks.hasher;
        let shard = self.shard(idx);
        if entry.has_expiry() {
            shard.volatile += 1;
        }
        match shard.table.find_entry(hash, |e| e.key() == entry.key()) {
            Ok(mut occ) => {
                if inherit_lfu && ks.lfu() {
                    entry.set_access(ks.touched_access(occ.get().access(), now));
                }
                let old = std::mem::replace(occ.get_mut(), entry);
                if old.has_expiry() {
                    shard.volatile -= 1;
                }
                Some(old)
            }
            Err(_) => {
                let created = shard
                    .table
                    .insert_unique(hash, entry, |e| hasher.hash_one(e.key()));
                if ks.notify_new.load(Ordering::Relaxed) {
                    let key = created.get().key();
                    if let Some(obs) = ks.observer.read().as_ref() {
                        obs.added(db, key);
                    }
                }
                None
            }
        }
    }

    /// Replaces the value of an existing key, keeping its expiry (what most
    /// write commands do). Inserts a persistent key if it does not exist.
    pub fn set_value(&mut self, db: usize, key: &[u8], value: Value) {
        let ks = self.ks;
        match self.get_mut(db, key) {
            Some(e) => {
                e.set_value(value);
                ks.blocked.signal(db, key);
            }
            None => {
                self.insert(db, key, value, None);
            }
        }
    }

    /// Removes `key` (expired or not) and returns its entry if it was live.
    pub fn remove(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        self.note_write(db, key);
        let hash = self.ks.hash(key);
        let idx = self.ks_index(db, hash);
        let now = self.now;
        let ks = self.ks;
        let Shard {
            table, volatile, ..
        } = self.shard(idx);
        let occ = table.find_entry(hash, |e| e.key() == key).ok()?;
        let expired = occ.get().is_expired(now) && !master_context();
        if expired && !ks.may_reap() {
            return None;
        }
        let (entry, _) = occ.remove();
        if entry.has_expiry() {
            *volatile -= 1;
        }
        if expired {
            ks.report_expired(db, &mut vec![Bytes::copy_from_slice(entry.key())]);
            return None;
        }
        Some(entry)
    }

    /// Sets or clears the expiry of an existing key. Returns false if the key
    /// does not exist. Not an access: callers look the key up first.
    pub fn set_expire(&mut self, db: usize, key: &[u8], expire_at: Option<u64>) -> bool {
        self.note_write(db, key);
        let Some(e) = self.find_live(db, key) else {
            return false;
        };
        let before = e.has_expiry();
        e.set_expire_at(expire_at);
        let hash = self.ks.hash(key);
        let shard = self.shard(self.ks_index(db, hash));
        match (before, expire_at.is_some()) {
            (false, true) => shard.volatile += 1,
            (true, false) => shard.volatile -= 1,
            _ => {}
        }
        true
    }

    fn ks_index(&self, db: usize, hash: u64) -> usize {
        db * SHARDS_PER_DB + shard_bits(hash)
    }

    /// Counts a write for `rdb_changes_since_last_save` and the save rules.
    pub fn dirty(&self, n: u64) {
        if n > 0 {
            self.changed.set(true);
        }
        self.ks.stats.dirty.fetch_add(n, Ordering::Relaxed);
    }

    fn take_all(&mut self) -> Vec<Shard> {
        self.guards
            .shards_mut()
            .into_iter()
            .map(std::mem::take)
            .filter(|s| !s.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn insert_get_remove_and_expiry() {
        let ks = Keyspace::new(16);
        let mut l = ks.lock(0, b"a", 1000);
        assert!(l.insert(0, b"a", Value::string(b"1"), Some(2000)).is_none());
        assert!(l.get(0, b"a").is_some());
        drop(l);
        assert_eq!(ks.db_counts(0), (1, 1));
        let mut l = ks.lock(0, b"a", 2000);
        assert!(l.get(0, b"a").is_none(), "expired at its deadline");
        drop(l);
        assert_eq!(ks.db_counts(0), (0, 0));
        assert_eq!(ks.stats.expired_keys.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn many_keys_lock_in_order_across_dbs() {
        let ks = Keyspace::new(16);
        let keys: Vec<Vec<u8>> = (0..100).map(|i| format!("k{i}").into_bytes()).collect();
        let mut l = ks.lock_many(
            keys.iter()
                .map(|k| (3usize, k.as_slice()))
                .chain([(0, &b"x"[..])]),
            0,
        );
        for k in &keys {
            l.insert(3, k, Value::string(k), None);
        }
        l.insert(0, b"x", Value::string(b"y"), None);
        drop(l);
        assert_eq!(ks.db_size(3), 100);
        ks.swap_dbs(3, 0);
        assert_eq!(ks.db_size(0), 100);
        assert_eq!(ks.db_size(3), 1);
    }

    #[test]
    fn scan_returns_every_key_once_while_the_table_grows() {
        let ks = Keyspace::new(1);
        for i in 0..1000 {
            let k = format!("key:{i}");
            ks.lock(0, k.as_bytes(), 0)
                .insert(0, k.as_bytes(), Value::string(b"v"), None);
        }
        let mut seen = std::collections::HashMap::new();
        let mut cursor = 0;
        let mut extra = 0;
        loop {
            let (next, keys) = ks.scan(0, cursor, 10, None, None, 0);
            for k in keys {
                *seen.entry(k).or_insert(0) += 1;
            }
            // Grow the table between calls.
            for _ in 0..50 {
                let k = format!("new:{extra}");
                extra += 1;
                ks.lock(0, k.as_bytes(), 0)
                    .insert(0, k.as_bytes(), Value::string(b"v"), None);
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        for i in 0..1000 {
            let k = Bytes::from(format!("key:{i}"));
            assert_eq!(seen.get(&k), Some(&1), "{k:?}");
        }
    }

    #[test]
    fn active_expiry_reclaims_untouched_keys() {
        let ks = Keyspace::new(1);
        for i in 0..5000 {
            let k = format!("k{i}");
            ks.lock(0, k.as_bytes(), 0)
                .insert(0, k.as_bytes(), Value::string(b"v"), Some(10));
        }
        let mut rounds = 0;
        while ks.db_size(0) > 0 {
            ks.active_expire_db(0, 2000, 100);
            rounds += 1;
            assert!(rounds < 100, "active expiry does not converge");
        }
        assert_eq!(ks.stats.expired_keys.load(Ordering::Relaxed), 5000);
    }

    #[test]
    fn lru_idle_time_survives_one_clock_wrap() {
        let t = 1_000_000_000_000u64;
        let access = lru_clock(t);
        assert_eq!(lru_idle_ms(access, t), 0);
        assert_eq!(lru_idle_ms(access, t + 2_999), 2_000);
        // The clock wraps after 2^24 seconds; an access just before the wrap
        // is a few seconds old just after it.
        let before_wrap = LRU_CLOCK_MAX;
        let after_wrap_ms = (1u64 << 24) * 1000 * 100 + 3_000;
        assert_eq!(lru_clock(after_wrap_ms), 3);
        assert_eq!(lru_idle_ms(before_wrap, after_wrap_ms), 3_000);
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays_by_minutes() {
        let t = 1_000_000_000_000u64;
        let fresh = (lfu_minutes(t) << 8) | LFU_INIT_VAL as u32;
        assert_eq!(lfu_decayed(fresh, t, 1), LFU_INIT_VAL);
        // Factor 0: every access counts, up to 255.
        let mut a = fresh;
        for _ in 0..300 {
            a = lfu_touch(a, t, 0, 1);
        }
        assert_eq!(lfu_decayed(a, t, 1), 255);
        // One step of decay per `decay_time` minutes, none with 0.
        assert_eq!(lfu_decayed(a, t + 10 * 60_000, 1), 245);
        assert_eq!(lfu_decayed(a, t + 10 * 60_000, 5), 253);
        assert_eq!(lfu_decayed(a, t + 10 * 60_000, 0), 255);
        assert_eq!(lfu_decayed(fresh, t + 100 * 60_000, 1), 0);
        // Factor 10: the first access past the initial value always counts,
        // then increments get rare.
        let mut a = fresh;
        for _ in 0..1000 {
            a = lfu_touch(a, t, 10, 1);
        }
        let c = lfu_decayed(a, t, 1);
        assert!((10..40).contains(&c), "counter {c} after 1000 accesses");
    }

    #[test]
    fn lookups_touch_the_access_field_but_peeks_do_not() {
        let ks = Keyspace::new(1);
        let mut l = ks.lock(0, b"k", 5_000);
        l.insert(0, b"k", Value::string(b"v"), None);
        assert_eq!(l.peek(0, b"k").map(|e| e.access()), Some(lru_clock(5_000)));
        drop(l);
        let mut l = ks.lock(0, b"k", 9_000);
        assert!(l.contains(0, b"k"));
        assert_eq!(l.peek(0, b"k").map(|e| e.access()), Some(lru_clock(5_000)));
        assert!(l.get(0, b"k").is_some());
        assert_eq!(l.peek(0, b"k").map(|e| e.access()), Some(lru_clock(9_000)));
        // A renamed entry keeps its history; a copy starts afresh.
        let old = l.remove(0, b"k").expect("present");
        drop(l);
        let mut l = ks.lock_many([(0, &b"k2"[..]), (0, &b"k3"[..])], 20_000);
        l.insert_moved(0, b"k2", old);
        assert_eq!(l.peek(0, b"k2").map(|e| e.access()), Some(lru_clock(9_000)));
        l.insert_copy(0, b"k3", Value::string(b"1"), Some(50_000));
        let copy = l.peek(0, b"k3").expect("copied");
        assert!(copy.is_copy());
        assert_eq!(copy.access(), lru_clock(20_000));
        assert_eq!(copy.expire_at(), Some(50_000));
        drop(l);
        assert_eq!(ks.db_counts(0), (2, 1));
    }

    #[test]
    fn lfu_overwrite_keeps_the_counter() {
        let ks = Keyspace::new(1);
        ks.set_access_policy(true, 0, 1);
        let mut l = ks.lock(0, b"k", 60_000);
        l.insert(0, b"k", Value::string(b"v"), None);
        let freq = |l: &mut Locked| ks.access_frequency(l.peek(0, b"k").unwrap(), 60_000);
        assert_eq!(freq(&mut l), LFU_INIT_VAL);
        l.get(0, b"k");
        assert_eq!(freq(&mut l), LFU_INIT_VAL + 1);
        l.insert(0, b"k", Value::string(b"w"), None);
        assert_eq!(freq(&mut l), LFU_INIT_VAL + 2);
        l.set_value(0, b"k", Value::string(b"x"));
        assert_eq!(freq(&mut l), LFU_INIT_VAL + 3);
    }

    #[test]
    fn snapshot_sees_the_instant_it_began_despite_later_writes() {
        let ks = Keyspace::new(2);
        for i in 0..2000 {
            let k = format!("k{i}");
            ks.lock(i % 2, k.as_bytes(), 0).insert(
                i % 2,
                k.as_bytes(),
                Value::string(b"old"),
                None,
            );
        }
        let cap = ks.begin_snapshot().expect("first snapshot");
        assert!(ks.begin_snapshot().is_none(), "one at a time");
        assert_eq!(cap.counts, vec![(1000, 0), (1000, 0)]);
        // Writes after the instant: overwrite, delete, add, flush.
        for i in 0..2000 {
            let k = format!("k{i}");
            let mut l = ks.lock(i % 2, k.as_bytes(), 0);
            if i % 3 == 0 {
                l.remove(i % 2, k.as_bytes());
            } else {
                l.insert(i % 2, k.as_bytes(), Value::string(b"new"), None);
            }
        }
        ks.lock(0, b"extra", 0)
            .insert(0, b"extra", Value::string(b"x"), None);
        drop(ks.flush_db(1));
        let mut seen = 0;
        for db in 0..2 {
            for shard in 0..SHARDS_PER_DB {
                for e in ks.snapshot_shard(&cap, db, shard) {
                    assert_eq!(e.value().to_value(), Value::string(b"old"));
                    seen += 1;
                }
            }
        }
        assert_eq!(seen, 2000);
        ks.end_snapshot(&cap);
        assert!(!ks.snapshot_in_progress());
        let cap = ks.begin_snapshot().expect("again after the end");
        ks.end_snapshot(&cap);
    }

    #[test]
    fn keys_expired_after_the_snapshot_instant_are_in_the_snapshot() {
        let ks = Keyspace::new(1);
        for i in 0..500 {
            let k = format!("v{i}");
            ks.lock(0, k.as_bytes(), 0)
                .insert(0, k.as_bytes(), Value::string(b"v"), Some(10));
        }
        let cap = ks.begin_snapshot().expect("snapshot");
        let mut rounds = 0;
        while ks.db_size(0) > 0 {
            ks.active_expire_db(0, 100_000, 2000);
            rounds += 1;
            assert!(rounds < 1000);
        }
        let seen: usize = (0..SHARDS_PER_DB)
            .map(|shard| ks.snapshot_shard(&cap, 0, shard).len())
            .sum();
        ks.end_snapshot(&cap);
        assert_eq!(seen, 500);
    }

    #[test]
    fn random_key_finds_the_only_key() {
        let ks = Keyspace::new(1);
        assert_eq!(ks.random_key(0, 0), None);
        ks.lock(0, b"only", 0)
            .insert(0, b"only", Value::string(b"v"), None);
        assert_eq!(ks.random_key(0, 0).as_deref(), Some(&b"only"[..]));
    }
}
