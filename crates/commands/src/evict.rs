//! maxmemory: evicting keys before a write, as Redis 7.0 does.
//!
//! Before a write command runs, if `used_memory` is over `maxmemory`, keys
//! are evicted until it is not. Which keys follows `maxmemory-policy`, by
//! Redis's approximation: sample `maxmemory-samples` keys per database,
//! keep the best candidates seen in a small pool that survives between
//! rounds (it is what makes sampled LRU close to real LRU), and evict the
//! best. The score is the idle time (LRU), the inverse of the decayed
//! access counter (LFU), the nearness of the deadline (volatile-ttl), or
//! nothing (random). `volatile-*` policies only look at keys with a TTL.
//!
//! Eviction is serialized (one thread evicts at a time, the others wait
//! and then see memory already freed), bounded in time per command by
//! `maxmemory-eviction-tenacity`, and each evicted key is deleted like any
//! other: WATCH sees it, CLIENT TRACKING is told, an `evicted` event is
//! published and the journal records a DEL. When nothing can be evicted
//! (noeviction, or a volatile policy with no volatile keys) commands
//! flagged `denyoom` get Redis's OOM error; reads and deletes go on.

use crate::context::Shared;
use bytes::Bytes;
use ferrocache_store::Entry;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// Candidates kept between rounds (Redis's EVPOOL_SIZE).
const POOL_SIZE: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Policy {
    NoEviction = 0,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub fn parse(name: &str) -> Policy {
        match name {
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    fn from_u8(v: u8) -> Policy {
        match v {
            1 => Policy::AllKeysLru,
            2 => Policy::AllKeysLfu,
            3 => Policy::AllKeysRandom,
            4 => Policy::VolatileLru,
            5 => Policy::VolatileLfu,
            6 => Policy::VolatileRandom,
            7 => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    fn random(self) -> bool {
        matches!(self, Policy::AllKeysRandom | Policy::VolatileRandom)
    }
}

struct Candidate {
    db: usize,
    key: Bytes,
    /// Higher is evicted first.
    score: u64,
}

#[derive(Default)]
pub struct Evictor {
    pub maxmemory: AtomicU64,
    policy: AtomicU8,
    pub samples: AtomicU64,
    pub tenacity: AtomicU64,
    pool: Mutex<Vec<Candidate>>,
    pub evicted_keys: AtomicU64,
    /// When memory first went over the limit and is still over (ms), for
    /// INFO's eviction-exceeded times.
    over_since_ms: AtomicU64,
    pub exceeded_total_ms: AtomicU64,
    /// Databases holding keys (all, volatile), recounted every 100 ms:
    /// counting locks every shard.
    dbs: Mutex<Option<DbCache>>,
}

/// When the databases were counted, those with keys, those with TTLs.
type DbCache = (Instant, Vec<usize>, Vec<usize>);

/// What the command may do after [`make_room`].
#[derive(Debug, PartialEq, Eq)]
pub enum Room {
    /// Under the limit (or no limit).
    Fine,
    /// Still over after this round, but keys were freed: the command runs.
    Evicting,
    /// Over, and nothing could be evicted: denyoom commands are refused.
    Full,
}

impl Evictor {
    pub fn refresh(&self, config: &crate::config::Config) {
        let r = Ordering::Relaxed;
        self.maxmemory
            .store(config.get_i64("maxmemory").unwrap_or(0).max(0) as u64, r);
        let policy = Policy::parse(&config.get("maxmemory-policy").unwrap_or_default());
        if Policy::from_u8(self.policy.swap(policy as u8, r)) != policy {
            self.pool.lock().clear();
        }
        self.samples.store(
            config
                .get_i64("maxmemory-samples")
                .unwrap_or(5)
                .clamp(1, 64) as u64,
            r,
        );
        self.tenacity.store(
            config
                .get_i64("maxmemory-eviction-tenacity")
                .unwrap_or(10)
                .clamp(0, 100) as u64,
            r,
        );
    }

    pub fn policy(&self) -> Policy {
        Policy::from_u8(self.policy.load(Ordering::Relaxed))
    }

    /// Milliseconds memory has been over the limit, now (0 when under).
    pub fn exceeded_now_ms(&self) -> u64 {
        match self.over_since_ms.load(Ordering::Relaxed) {
            0 => 0,
            since => crate::context::unix_ms().saturating_sub(since),
        }
    }

    /// Redis's time budget per command for a tenacity setting: 50 us per
    /// step up to 10, growing 15% per step above, unlimited at 100.
    fn time_limit(&self) -> Option<Duration> {
        let t = self.tenacity.load(Ordering::Relaxed);
        if t >= 100 {
            return None;
        }
        if t <= 10 {
            return Some(Duration::from_micros(50 * t.max(1)));
        }
        Some(Duration::from_micros(
            (500.0 * 1.15f64.powi(t as i32 - 10)) as u64,
        ))
    }
}

/// Evicts until `used_memory` is under `maxmemory`, or the time budget is
/// spent, or nothing is left to evict.
pub fn make_room(shared: &Shared, now_ms: u64) -> Room {
    let ev = &shared.evictor;
    let max = ev.maxmemory.load(Ordering::Relaxed);
    if max == 0 || crate::info::used_memory() <= max {
        note_under(ev);
        return Room::Fine;
    }
    let policy = ev.policy();
    if policy == Policy::NoEviction {
        note_over(ev);
        return Room::Full;
    }
    // One evictor at a time; whoever waited finds memory already freed.
    let mut pool = ev.pool.lock();
    let started = Instant::now();
    let limit = ev.time_limit();
    let mut freed = 0u64;
    loop {
        if crate::info::used_memory() <= max {
            note_under(ev);
            return Room::Fine;
        }
        if let Some(limit) = limit {
            if freed > 0 && started.elapsed() >= limit {
                note_over(ev);
                return Room::Evicting;
            }
        }
        match evict_one(shared, &mut pool, policy, now_ms) {
            true => freed += 1,
            false => {
                note_over(ev);
                return if freed > 0 {
                    Room::Evicting
                } else {
                    Room::Full
                };
            }
        }
    }
}

fn note_over(ev: &Evictor) {
    let now = crate::context::unix_ms().max(1);
    let _ = ev
        .over_since_ms
        .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
}

fn note_under(ev: &Evictor) {
    let since = ev.over_since_ms.swap(0, Ordering::Relaxed);
    if since != 0 {
        ev.exceeded_total_ms.fetch_add(
            crate::context::unix_ms().saturating_sub(since),
            Ordering::Relaxed,
        );
    }
}

fn nonempty_dbs(shared: &Shared, volatile: bool) -> Vec<usize> {
    let mut cache = shared.evictor.dbs.lock();
    let fresh = cache
        .as_ref()
        .is_some_and(|(at, _, _)| at.elapsed() < Duration::from_millis(100));
    if !fresh {
        let (mut all, mut vol) = (Vec::new(), Vec::new());
        for db in 0..shared.ks.databases() {
            let (keys, v) = shared.ks.db_counts(db);
            if keys > 0 {
                all.push(db);
            }
            if v > 0 {
                vol.push(db);
            }
        }
        *cache = Some((Instant::now(), all, vol));
    }
    match cache.as_ref() {
        Some((_, all, vol)) => {
            if volatile {
                vol.clone()
            } else {
                all.clone()
            }
        }
        None => Vec::new(),
    }
}

fn score(shared: &Shared, policy: Policy, e: &Entry, now_ms: u64) -> u64 {
    let ks = &shared.ks;
    match policy {
        Policy::AllKeysLru | Policy::VolatileLru => ks.idle_ms(e, now_ms),
        Policy::AllKeysLfu | Policy::VolatileLfu => 255 - ks.access_frequency(e, now_ms) as u64,
        Policy::VolatileTtl => u64::MAX - e.expire_at().unwrap_or(u64::MAX),
        _ => 0,
    }
}

/// Samples, refills the pool and evicts its best live candidate. False if
/// there was nothing to evict.
fn evict_one(shared: &Shared, pool: &mut Vec<Candidate>, policy: Policy, now_ms: u64) -> bool {
    let ks = &shared.ks;
    let samples = shared.evictor.samples.load(Ordering::Relaxed) as usize;
    let volatile = policy.volatile();
    let dbs = nonempty_dbs(shared, volatile);
    if dbs.is_empty() {
        return false;
    }
    if policy.random() {
        // Any key will do: one sample from a random database.
        let db = dbs[fastrand::usize(..dbs.len())];
        let mut picked = None;
        ks.sample(db, 1, volatile, |e| {
            picked = Some(Bytes::copy_from_slice(e.key()))
        });
        return match picked {
            Some(key) => delete(shared, db, &key, volatile, now_ms),
            None => false,
        };
    }
    for &db in &dbs {
        ks.sample(db, samples, volatile, |e| {
            let s = score(shared, policy, e, now_ms);
            if pool.iter().any(|c| c.db == db && c.key[..] == *e.key()) {
                return;
            }
            if pool.len() < POOL_SIZE {
                pool.push(Candidate {
                    db,
                    key: Bytes::copy_from_slice(e.key()),
                    score: s,
                });
            } else if let Some(worst) = pool.iter_mut().min_by_key(|c| c.score) {
                if worst.score < s {
                    *worst = Candidate {
                        db,
                        key: Bytes::copy_from_slice(e.key()),
                        score: s,
                    };
                }
            }
        });
    }
    // Best first; a candidate deleted meanwhile is skipped.
    while !pool.is_empty() {
        let best = pool
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| c.score)
            .map(|(i, _)| i)
            .unwrap_or(0);
        let c = pool.swap_remove(best);
        if delete(shared, c.db, &c.key, volatile, now_ms) {
            return true;
        }
    }
    false
}

/// Deletes one key as an eviction; false if it is gone (or, for a volatile
/// policy, lost its TTL) since it was sampled.
fn delete(shared: &Shared, db: usize, key: &[u8], volatile: bool, now_ms: u64) -> bool {
    let mut locked = shared.ks.lock(db, key, now_ms);
    match locked.peek(db, key) {
        Some(e) if !volatile || e.expire_at().is_some() => {}
        _ => return false,
    }
    locked.remove(db, key);
    // A change like any other: WATCH and CLIENT TRACKING see it.
    locked.dirty(1);
    drop(locked);
    shared.evictor.evicted_keys.fetch_add(1, Ordering::Relaxed);
    let key = Bytes::copy_from_slice(key);
    crate::journal::record(db, vec![Bytes::from_static(b"DEL"), key.clone()]);
    shared
        .pubsub
        .notify(crate::notify::class::EVICTED, "evicted", db, &key);
    true
}
