//! Statistics counters that several worker threads bump on every command.
//!
//! One shared `AtomicU64` written by two cores bounces its cache line
//! between them on every increment. A [`Counter`] gives each thread its own
//! cache-line-sized slot; readers (INFO) add the slots up. The method names
//! mirror `AtomicU64` so a counter can replace one in place.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Slots per counter; threads beyond this share slots (still correct).
pub const SLOTS: usize = 4;

#[repr(align(64))]
#[derive(Default)]
struct Slot(AtomicU64);

#[derive(Default)]
pub struct Counter {
    slots: [Slot; SLOTS],
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's slot index, assigned round-robin on first use.
#[inline]
pub fn thread_slot() -> usize {
    MINE.with(|m| {
        let mut v = m.get();
        if v == usize::MAX {
            v = NEXT.fetch_add(1, Ordering::Relaxed) % SLOTS;
            m.set(v);
        }
        v
    })
}

impl Counter {
    pub const fn new() -> Counter {
        Counter {
            slots: [
                Slot(AtomicU64::new(0)),
                Slot(AtomicU64::new(0)),
                Slot(AtomicU64::new(0)),
                Slot(AtomicU64::new(0)),
            ],
        }
    }

    /// Adds `n` in this thread's slot. The ordering argument is accepted
    /// for drop-in compatibility with `AtomicU64`; counting is always
    /// relaxed.
    #[inline]
    pub fn fetch_add(&self, n: u64, _order: Ordering) {
        self.slots[thread_slot()].0.fetch_add(n, Ordering::Relaxed);
    }

    /// The sum of every slot.
    pub fn load(&self, _order: Ordering) -> u64 {
        self.slots
            .iter()
            .fold(0u64, |acc, s| acc.wrapping_add(s.0.load(Ordering::Relaxed)))
    }

    /// Sets the total to `v` (used to reset to zero).
    pub fn store(&self, v: u64, _order: Ordering) {
        for (i, s) in self.slots.iter().enumerate() {
            s.0.store(if i == 0 { v } else { 0 }, Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_across_threads_and_resets() {
        let c = std::sync::Arc::new(Counter::new());
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(c.load(Ordering::Relaxed), 6000);
        c.store(0, Ordering::Relaxed);
        assert_eq!(c.load(Ordering::Relaxed), 0);
    }
}
