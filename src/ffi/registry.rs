//! The live handles of one kind (clients, outboxes) and what each stands for.
//!
//! A handle given to C is the address of a small allocation of its own; the object behind it
//! lives in a map keyed by that address. A call looks its handle up and holds its own `Arc`, so
//! releasing the handle while another thread is inside a call only drops the handle: the object
//! goes when the last call returns. A released or foreign pointer is simply not found, so it is
//! never dereferenced: the caller's mistake becomes an error instead of a use after free.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock};

pub(crate) struct Registry<H, T> {
    live: RwLock<Option<HashMap<usize, Arc<T>>>>,
    /// `fn() -> H`: the registry hands out `*mut H` but owns no `H`, so it stays `Send` and
    /// `Sync` whatever `H` is.
    _handle: PhantomData<fn() -> H>,
}

impl<H, T> Registry<H, T> {
    pub(crate) const fn new() -> Self {
        Registry {
            live: RwLock::new(None),
            _handle: PhantomData,
        }
    }

    /// Makes `tag` the handle of `value`. `tag` is only an allocation: its address is the key,
    /// and being allocated it is distinct from every other live handle.
    pub(crate) fn register(&self, tag: H, value: T) -> *mut H {
        let handle = Box::into_raw(Box::new(tag));
        // A poisoned lock only means a panic elsewhere while it was held; the map is still
        // consistent (every change is a single insert or remove).
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        live.get_or_insert_with(HashMap::new)
            .insert(handle as usize, Arc::new(value));
        handle
    }

    /// The object behind a live handle; None for NULL, a released or a foreign pointer.
    pub(crate) fn lookup(&self, handle: *const H) -> Option<Arc<T>> {
        if handle.is_null() {
            return None;
        }
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        live.as_ref()?.get(&(handle as usize)).cloned()
    }

    /// Takes a handle out and frees its allocation, returning the object (which calls still
    /// running may share). None when it is not a live handle (released twice, or not ours):
    /// then nothing is touched.
    pub(crate) fn release(&self, handle: *mut H) -> Option<Arc<T>> {
        let value = {
            let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
            live.as_mut()?.remove(&(handle as usize))?
        };
        // SAFETY: the address was in the map, and only `register` puts addresses there, each
        // from `Box::into_raw`; the map held it once and has just given it up under its lock,
        // so this is the one and only free of that box, and no lookup can find it any more.
        drop(unsafe { Box::from_raw(handle) });
        Some(value)
    }
}
