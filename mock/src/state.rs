//! Everything mutable in the double, behind one mutex: the ERP, the armed
//! faults and the request counters. Requests hold the lock only for a
//! bookkeeping step, never across network I/O or a `slow` fault's sleep.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use serde_json::{json, Value};

use crate::erp::Erp;
use crate::fault::Faults;

pub struct State {
    pub erp: Erp,
    pub faults: Faults,
    /// `/openapi` requests whose request line arrived, answered or not.
    pub requests: u64,
    pub by_method: BTreeMap<String, u64>,
}

impl State {
    pub fn new(erp: Erp) -> Self {
        State {
            erp,
            faults: Faults::default(),
            requests: 0,
            by_method: BTreeMap::new(),
        }
    }

    pub fn count_request(&mut self, method: &str) {
        self.requests += 1;
        let key = if method.is_empty() { "(none)" } else { method };
        *self.by_method.entry(key.to_string()).or_default() += 1;
    }

    pub fn stats(&self) -> Value {
        json!({
            "requests": self.requests,
            "by_method": self.by_method,
            "stockins": self.erp.stockin_count(),
        })
    }

    /// Back to a just-started double, except that ids keep counting.
    pub fn reset(&mut self) {
        self.requests = 0;
        self.by_method.clear();
        self.erp.clear_stockins();
        self.faults.set(None);
    }
}

/// Locks the state even if a request thread panicked while holding it: the
/// double should keep serving the other tests rather than cascade.
pub fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}
