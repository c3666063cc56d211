//! The live handles of one kind (clients, outboxes) and what each stands for.
//!
//! A handle given to C is a number, never an address: the object behind it lives in a map keyed
//! by that number, and C only ever passes it back. A call looks its handle up and holds its own
//! `Arc`, so releasing the handle while another thread is inside a call only drops the handle:
//! the object goes when the last call returns. A released or foreign value is simply not found,
//! so the caller's mistake becomes an error instead of a use after free.
//!
//! The numbers come from a counter and are not handed out again (until the counter wraps, after
//! 2^28 handles on a 32-bit till, and even then never while still live). An address would be:
//! the allocator reuses a freed block at once, so a stale pointer kept after `wdt_client_free`
//! would reach whichever client was created next — the very mistake the registry is there to
//! catch.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// The first handle, and the step between handles: non-NULL and pointer-aligned, so a handle
/// looks like any opaque pointer to C, C#, PHP and a debugger.
const FIRST: usize = 0x1000;
const STEP: usize = 16;

pub(crate) struct Registry<H, T> {
    live: RwLock<Option<HashMap<usize, Arc<T>>>>,
    next: AtomicUsize,
    /// `fn() -> H`: the registry hands out `*mut H` but owns no `H`, so it stays `Send` and
    /// `Sync` whatever `H` is.
    _handle: PhantomData<fn() -> H>,
}

impl<H, T> Registry<H, T> {
    pub(crate) const fn new() -> Self {
        Registry {
            live: RwLock::new(None),
            next: AtomicUsize::new(FIRST),
            _handle: PhantomData,
        }
    }

    /// Makes a new handle for `value`.
    pub(crate) fn register(&self, value: T) -> *mut H {
        // A poisoned lock only means a panic elsewhere while it was held; the map is still
        // consistent (every change is a single insert or remove).
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        let map = live.get_or_insert_with(HashMap::new);
        let key = loop {
            let key = self.next.fetch_add(STEP, Ordering::Relaxed);
            // After a wrap: never NULL, never a handle still in use.
            if key != 0 && !map.contains_key(&key) {
                break key;
            }
        };
        map.insert(key, Arc::new(value));
        key as *mut H
    }

    /// The object behind a live handle; None for NULL, a released or a foreign value.
    pub(crate) fn lookup(&self, handle: *const H) -> Option<Arc<T>> {
        if handle.is_null() {
            return None;
        }
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        live.as_ref()?.get(&(handle as usize)).cloned()
    }

    /// Takes a handle out, returning the object (which calls still running may share). None
    /// when it is not a live handle (released twice, or not ours).
    pub(crate) fn release(&self, handle: *mut H) -> Option<Arc<T>> {
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        let value = live.as_mut()?.remove(&(handle as usize));
        // The last handle gone, the map's table goes too: a host that freed everything it made
        // holds no memory of ours, and leak checkers (valgrind's "possibly lost": the table is
        // reached only through an interior pointer) see none. The next register allocates a
        // new one.
        if live.as_ref().is_some_and(HashMap::is_empty) {
            *live = None;
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_handle_is_never_handed_out_again() {
        let r: Registry<u8, u32> = Registry::new();
        let first = r.register(1);
        assert_eq!(r.release(first).as_deref(), Some(&1));
        assert!(r.release(first).is_none(), "released twice");
        let later: Vec<*mut u8> = (0..1000).map(|i| r.register(i)).collect();
        assert!(!later.contains(&first));
        assert!(r.lookup(first).is_none());
        assert!(later
            .iter()
            .all(|h| !h.is_null() && *h as usize % STEP == 0));
    }

    #[test]
    fn after_a_wrap_live_handles_and_null_are_skipped() {
        let r: Registry<u8, u32> = Registry::new();
        let kept = r.register(7);
        r.next.store(usize::MAX - STEP + 1, Ordering::Relaxed);
        let a = r.register(1); // the last value before the wrap
        r.next.store(kept as usize, Ordering::Relaxed);
        let b = r.register(2);
        assert_ne!(b, kept, "a live handle is not given twice");
        assert!(!a.is_null() && !b.is_null());
        assert_eq!(r.lookup(kept).as_deref(), Some(&7));
        r.next.store(0, Ordering::Relaxed);
        assert!(!r.register(3).is_null());
    }
}
