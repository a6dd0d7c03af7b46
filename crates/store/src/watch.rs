//! WATCH: which clients watch which keys, and the flag each one checks at
//! EXEC.
//!
//! A client's [`WatchFlag`] is raised when any key it watches is modified,
//! deleted, expires, or is emptied by FLUSHDB/FLUSHALL or swapped by SWAPDB.
//! The keyspace raises flags itself, so no command has to remember to: a
//! [`crate::Locked`] guard notes each key it writes while anyone watches
//! anything, and when the guard is dropped after a command that counted a
//! change (`Locked::dirty` with a non-zero count), it touches those keys here.
//!
//! Cost when nobody watches: one relaxed load of [`Watches::active`] when a
//! guard is taken. The registry's mutex is only taken while at least one key
//! is watched.
//!
//! Ordering: WATCH registers a key while holding that key's shard lock, and a
//! guard reads `active` after taking its shard locks, so a write either ends
//! before the registration (WATCH sees its result) or sees the registration
//! and touches the key.

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Raised when a watched key changes; one per client.
#[derive(Debug, Default)]
pub struct WatchFlag(AtomicBool);

impl WatchFlag {
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    pub fn raise(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn clear(&self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The flags of the clients watching each (database, key).
type Watchers = HashMap<(usize, Bytes), Vec<Arc<WatchFlag>>>;

/// Watched keys and the flags of the clients watching them.
#[derive(Default)]
pub struct Watches {
    /// Number of (client, key) registrations.
    active: AtomicUsize,
    map: Mutex<Watchers>,
}

impl Watches {
    /// True while at least one key is watched.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) != 0
    }

    /// Registers `flag` as watching `key`. Returns false if it already was.
    /// Call with the key's shard locked.
    pub fn watch(&self, db: usize, key: &[u8], flag: &Arc<WatchFlag>) -> bool {
        let mut map = self.map.lock();
        let list = map.entry((db, Bytes::copy_from_slice(key))).or_default();
        if list.iter().any(|f| Arc::ptr_eq(f, flag)) {
            return false;
        }
        list.push(flag.clone());
        self.active.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Removes `flag` from the watchers of each key.
    pub fn unwatch<'k>(
        &self,
        keys: impl IntoIterator<Item = (usize, &'k [u8])>,
        flag: &Arc<WatchFlag>,
    ) {
        let mut map = self.map.lock();
        for (db, key) in keys {
            let id = (db, Bytes::copy_from_slice(key));
            let Some(list) = map.get_mut(&id) else {
                continue;
            };
            let before = list.len();
            list.retain(|f| !Arc::ptr_eq(f, flag));
            self.active
                .fetch_sub(before - list.len(), Ordering::Relaxed);
            if list.is_empty() {
                map.remove(&id);
            }
        }
    }

    /// Raises the flag of every client watching `key` in `db`.
    pub fn touch(&self, db: usize, key: &[u8]) {
        if !self.active() {
            return;
        }
        let map = self.map.lock();
        if let Some(list) = map.get(&(db, Bytes::copy_from_slice(key))) {
            list.iter().for_each(|f| f.raise());
        }
    }

    /// Raises the flags of clients watching a key of `db` for which
    /// `affected` says yes (FLUSHDB touches the watched keys that existed,
    /// SWAPDB those that existed in either database).
    pub fn touch_db(&self, db: usize, mut affected: impl FnMut(&[u8]) -> bool) {
        if !self.active() {
            return;
        }
        let map = self.map.lock();
        for ((d, key), list) in map.iter() {
            if *d == db && affected(key) {
                list.iter().for_each(|f| f.raise());
            }
        }
    }

    /// The watched keys of `db`.
    pub fn keys_of(&self, db: usize) -> Vec<Bytes> {
        if !self.active() {
            return Vec::new();
        }
        let map = self.map.lock();
        map.keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// Number of distinct watched keys (INFO's `watching_clients` needs the
    /// clients; this is `total_watched_keys`).
    pub fn watched_keys(&self) -> usize {
        self.map.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_raises_only_watchers_of_that_key() {
        let w = Watches::default();
        let a = Arc::new(WatchFlag::default());
        let b = Arc::new(WatchFlag::default());
        assert!(!w.active());
        assert!(w.watch(0, b"k", &a));
        assert!(!w.watch(0, b"k", &a), "second WATCH of a key is a no-op");
        assert!(w.watch(1, b"k", &b));
        assert!(w.active());
        w.touch(0, b"k");
        assert!(a.is_raised());
        assert!(!b.is_raised(), "same name, other database");
        w.unwatch([(0, &b"k"[..])], &a);
        w.unwatch([(1, &b"k"[..])], &b);
        assert!(!w.active());
        assert_eq!(w.watched_keys(), 0);
    }

    #[test]
    fn touch_db_asks_about_each_key() {
        let w = Watches::default();
        let a = Arc::new(WatchFlag::default());
        let b = Arc::new(WatchFlag::default());
        w.watch(2, b"present", &a);
        w.watch(2, b"absent", &b);
        w.touch_db(2, |k| k == b"present");
        assert!(a.is_raised());
        assert!(!b.is_raised());
    }
}
