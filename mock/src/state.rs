//! Everything mutable in the double, behind one mutex: the ERP, the armed
//! faults and the request counters. Requests hold the lock only for a
//! bookkeeping step, never across network I/O or a `slow` fault's sleep.

use std::collections::{BTreeMap, VecDeque};
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
    /// `/openapi` connections the double closed itself after answering, counted once closed: a
    /// test can wait for the fact "the connection is gone" instead of sleeping.
    pub closed: u64,
    /// The last `/openapi` requests that arrived whole (method and body), for
    /// tests that must prove what was sent how often; bounded for load runs.
    pub log: VecDeque<(String, String)>,
}

/// Enough for any functional test; a load run keeps only the tail.
pub const REQUEST_LOG_LIMIT: usize = 50_000;

impl State {
    pub fn new(erp: Erp) -> Self {
        State {
            erp,
            faults: Faults::default(),
            requests: 0,
            by_method: BTreeMap::new(),
            closed: 0,
            log: VecDeque::new(),
        }
    }

    pub fn count_request(&mut self, method: &str) {
        self.requests += 1;
        let key = if method.is_empty() { "(none)" } else { method };
        *self.by_method.entry(key.to_string()).or_default() += 1;
    }

    pub fn log_request(&mut self, method: &str, body: &[u8]) {
        if self.log.len() == REQUEST_LOG_LIMIT {
            self.log.pop_front();
        }
        self.log.push_back((
            method.to_string(),
            String::from_utf8_lossy(body).into_owned(),
        ));
    }

    /// `{"requests":[{"method":…,"body":…},…]}`, oldest first.
    pub fn request_log(&self) -> Value {
        let list: Vec<Value> = self
            .log
            .iter()
            .map(|(m, b)| json!({"method": m, "body": b}))
            .collect();
        json!({ "requests": list })
    }

    pub fn stats(&self) -> Value {
        json!({
            "requests": self.requests,
            "by_method": self.by_method,
            "stockins": self.erp.stockin_count(),
            "closed": self.closed,
        })
    }

    /// Back to a just-started double, except that ids keep counting.
    pub fn reset(&mut self) {
        self.requests = 0;
        self.closed = 0;
        self.by_method.clear();
        self.log.clear();
        self.erp.clear_stockins();
        self.faults.set(None);
    }
}

/// Locks the state even if a request thread panicked while holding it: the
/// double should keep serving the other tests rather than cascade.
pub fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}
