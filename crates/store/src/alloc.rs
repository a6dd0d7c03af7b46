//! A counting wrapper for the global allocator, so INFO's `used_memory` and
//! eviction see what the process really holds.
//!
//! Each thread adds to its own cache-line-padded counter, so counting costs an
//! uncontended relaxed add per allocation; readers sum the slots. Programs
//! that embed Ferrocache without installing it get `None` from
//! [`allocated`] and fall back to RSS.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};

const SLOTS: usize = 64;

#[repr(align(64))]
struct Slot(AtomicIsize);

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: Slot = Slot(AtomicIsize::new(0));
static COUNTS: [Slot; SLOTS] = [ZERO; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn slot() -> &'static AtomicIsize {
    let i = MY_SLOT
        .try_with(|s| {
            let mut v = s.get();
            if v == usize::MAX {
                v = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS;
                s.set(v);
            }
            v
        })
        .unwrap_or(0);
    &COUNTS[i].0
}

/// Wraps an allocator `A` and counts the bytes it has handed out.
pub struct CountingAlloc<A> {
    inner: A,
    /// The size class `inner` serves a request of the given size from;
    /// `None` counts the sizes requested instead.
    class_of: Option<fn(usize) -> usize>,
}

impl<A> CountingAlloc<A> {
    /// Counts the sizes requested.
    pub const fn new(inner: A) -> CountingAlloc<A> {
        CountingAlloc {
            inner,
            class_of: None,
        }
    }

    /// Counts each block at the size class `inner` serves it from, as
    /// `class_of` gives it for a requested size: what the block really
    /// occupies. Redis counts its allocator's usable sizes too, so
    /// `used_memory` compares like for like. (A function of the size alone,
    /// not of the block, keeps the count cheap: no lookup of the block's
    /// page on every allocation and free.)
    pub const fn with_size_classes(inner: A, class_of: fn(usize) -> usize) -> CountingAlloc<A> {
        CountingAlloc {
            inner,
            class_of: Some(class_of),
        }
    }

    #[inline]
    fn size_of(&self, requested: usize) -> isize {
        match self.class_of {
            Some(f) => f(requested) as isize,
            None => requested as isize,
        }
    }
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        INSTALLED.store(true, Ordering::Relaxed);
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            slot().fetch_add(self.size_of(layout.size()), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            slot().fetch_add(self.size_of(layout.size()), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let size = self.size_of(layout.size());
        unsafe { self.inner.dealloc(ptr, layout) };
        slot().fetch_sub(size, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = self.size_of(layout.size());
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            slot().fetch_add(self.size_of(new_size) - old, Ordering::Relaxed);
        }
        p
    }
}

/// Bytes currently allocated through [`CountingAlloc`], if it is the global
/// allocator.
pub fn allocated() -> Option<usize> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    let total: isize = COUNTS.iter().map(|s| s.0.load(Ordering::Relaxed)).sum();
    Some(total.max(0) as usize)
}
