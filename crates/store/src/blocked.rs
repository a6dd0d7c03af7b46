//! Keys that blocked clients wait on, and the keys that became ready for
//! them.
//!
//! The store knows nothing of clients: the command layer registers a key
//! here while some client waits on it ([`BlockedKeys::add`]) and withdraws
//! it when the last one stops waiting. Whenever a value is stored under a
//! registered key (a new key, a replacement, a RENAME or MOVE target, a
//! swapped database), the [`crate::Locked`] guard signals it, and the key
//! joins the ready list. The command layer drains the list after the
//! command (or the whole transaction, or script) that wrote it has
//! finished, and serves the waiters then, as Redis does.
//!
//! A signal is only a hint: whoever serves re-checks the key under its shard
//! lock, so spurious signals (a key replaced by a value of another type) are
//! harmless.
//!
//! Ordering: a client registers its keys while it holds their shard locks
//! (after finding nothing to take), and a writer signals while it holds the
//! shard lock of the key it writes, so a write either happens before the
//! registration (the client saw its result) or sees the registration.
//!
//! Cost when nobody is blocked: one relaxed load of the active counter per
//! stored value.

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A database and a key.
type KeyId = (usize, Bytes);

/// Signalled keys in signal order, each once.
#[derive(Default)]
struct Ready {
    order: Vec<KeyId>,
    seen: HashSet<KeyId>,
}

/// Registered keys with the number of registrations of each, and the ready
/// list.
#[derive(Default)]
pub struct BlockedKeys {
    /// Number of distinct registered keys.
    active: AtomicUsize,
    keys: Mutex<HashMap<KeyId, usize>>,
    /// Set while `ready` is non-empty: the lock-free check the dispatcher
    /// makes after every command.
    pending: AtomicBool,
    ready: Mutex<Ready>,
}

impl BlockedKeys {
    /// True while at least one key is registered.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) != 0
    }

    /// Registers one more waiter on `key`. Call with the key's shard locked.
    pub fn add(&self, db: usize, key: &Bytes) {
        let mut keys = self.keys.lock();
        let n = keys.entry((db, key.clone())).or_insert(0);
        if *n == 0 {
            self.active.fetch_add(1, Ordering::Relaxed);
        }
        *n += 1;
    }

    /// Withdraws one registration on `key`.
    pub fn remove(&self, db: usize, key: &Bytes) {
        let mut keys = self.keys.lock();
        let id = (db, key.clone());
        if let Some(n) = keys.get_mut(&id) {
            *n -= 1;
            if *n == 0 {
                keys.remove(&id);
                self.active.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Number of distinct keys clients are blocked on.
    pub fn len(&self) -> usize {
        self.keys.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A value was stored under `key`: queue it if someone waits on it.
    pub fn signal(&self, db: usize, key: &[u8]) {
        if !self.active() {
            return;
        }
        let id = (db, Bytes::copy_from_slice(key));
        if !self.keys.lock().contains_key(&id) {
            return;
        }
        self.push_ready(id);
    }

    /// Every registered key of `db` is signalled (SWAPDB).
    pub fn signal_db(&self, db: usize) {
        if !self.active() {
            return;
        }
        let ids: Vec<(usize, Bytes)> = self
            .keys
            .lock()
            .keys()
            .filter(|(d, _)| *d == db)
            .cloned()
            .collect();
        for id in ids {
            self.push_ready(id);
        }
    }

    fn push_ready(&self, id: KeyId) {
        let mut ready = self.ready.lock();
        if ready.seen.insert(id.clone()) {
            ready.order.push(id);
        }
        self.pending.store(true, Ordering::Release);
    }

    /// True if some key was signalled and not yet taken.
    #[inline]
    pub fn pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Takes the ready list, oldest signal first.
    pub fn take_ready(&self) -> Vec<(usize, Bytes)> {
        let mut ready = self.ready.lock();
        self.pending.store(false, Ordering::Release);
        ready.seen.clear();
        std::mem::take(&mut ready.order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_registered_keys_become_ready_once() {
        let b = BlockedKeys::default();
        b.signal(0, b"k");
        assert!(!b.pending());
        b.add(0, &Bytes::from_static(b"k"));
        b.add(0, &Bytes::from_static(b"k"));
        assert_eq!(b.len(), 1);
        b.signal(1, b"k");
        assert!(!b.pending(), "same name, other database");
        b.signal(0, b"k");
        b.signal(0, b"k");
        assert!(b.pending());
        assert_eq!(b.take_ready(), vec![(0, Bytes::from_static(b"k"))]);
        assert!(!b.pending());
        b.remove(0, &Bytes::from_static(b"k"));
        assert!(b.active());
        b.remove(0, &Bytes::from_static(b"k"));
        assert!(!b.active());
        assert!(b.is_empty());
    }
}
