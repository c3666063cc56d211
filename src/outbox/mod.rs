//! The durable outbox (docs/outbox.md): quick returns stored in a local SQLite file before any
//! byte is sent, delivered exactly once across lost answers, crashes and offline hours.
//!
//! The rule it keeps: an entry is sent again only when the last attempt provably did not reach
//! the ERP (`not_sent`, or a rejection that says "try later"), or when the ERP, asked with
//! `aftersales.refund.Refund.search` after the settle delay, shows no refund order that could
//! be it. Every other doubt ends in `needs_attention` for a person, never in a resend.

mod lease;
pub mod model;
mod reconcile;
pub mod store;
mod worker;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::{json, Map, Value};

use crate::client::Client;
use crate::config::Config;
use crate::envelope;
use crate::error::{Delivery, Error};
use lease::{Claimed, Decision};
use model::{Entry, FlushOptions, ListFilter, Options, Submit};

/// Why an outbox call failed: an ordinary library error, or the file itself (full disk,
/// read-only, damaged), reported with kind `storage`.
#[derive(Debug)]
pub enum Fail {
    Lib(Error),
    Storage(String),
}

impl Fail {
    fn path(message: String) -> Fail {
        Fail::Lib(Error::config_at("path", message))
    }

    #[cfg(test)]
    pub fn message(&self) -> String {
        match self {
            Fail::Lib(e) => e.to_string(),
            Fail::Storage(m) => m.clone(),
        }
    }

    /// The error envelope. `storage` is this module's addition to the kinds: nothing about the
    /// failed call was sent (an entry is stored before it is sent), and what was stored before
    /// stays stored.
    pub fn envelope(&self) -> String {
        match self {
            Fail::Lib(e) => envelope::error(e),
            Fail::Storage(m) => json!({"ok": false, "error": {
                "kind": "storage",
                "message": m,
                "delivery": "not_sent",
                "retryable": false,
                "hint": "本地退货暂存文件无法写入（磁盘已满、只读或文件损坏）。已保存的退货不会丢失：请腾出磁盘空间或检查文件权限后重试，仍失败请联系技术支持。",
            }})
            .to_string(),
        }
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Lib(e)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Fail {
        Fail::Storage(format!("storage: {}", store::describe(&e)))
    }
}

/// Test-only crash points, honoured only when the client config has `"test_hooks": true` and
/// the environment names one: `WDT_OUTBOX_TEST_CRASH=<point>`, where point is `stored` (submit
/// committed, nothing sent), `claimed` (a flush claimed a pending entry, nothing sent),
/// `sending` (a resend after reconciliation marked, nothing sent), `in_flight:<ms>` (killed that
/// long after the request started), `answered` (answer read, not stored) or `recorded`. The process is killed
/// with SIGKILL, as a power cut or the task manager would.
pub(crate) const CRASH_ENV: &str = "WDT_OUTBOX_TEST_CRASH";
/// Test-only: milliseconds added to the outbox's wall clock, read on every reading of it, and
/// only by an outbox whose client config has `"test_hooks": true` (a till clock stepped by NTP).
pub(crate) const CLOCK_STEP_ENV: &str = "WDT_OUTBOX_TEST_CLOCK_STEP_MS";

pub struct Outbox {
    conn: Mutex<Connection>,
    client: Client,
    options: Options,
    owner: String,
    crash: Option<String>,
    test_hooks: bool,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("options", &self.options)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(store::now_ms() as u64);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.finish()
}

/// Counts of a flush: what it delivered or rejected, and what is left in each open state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlushCounts {
    pub delivered: u64,
    pub rejected: u64,
    pub in_doubt: u64,
    pub pending: u64,
    pub needs_attention: u64,
}

impl Outbox {
    pub fn open(client_config: &str, options: &str) -> Result<Outbox, Fail> {
        let config = Config::from_json(client_config)?;
        let options = Options::from_json(options)?;
        // A lease shorter than one call would let a second process take over an entry whose
        // request is still on the wire.
        let timeout_ms = config.timeout.as_millis() as u64;
        if options.lease_ms <= timeout_ms {
            return Err(Fail::Lib(Error::config_at(
                "lease_ms",
                format_args!(
                    "lease_ms ({}) must be longer than the client's timeout_ms ({timeout_ms})",
                    options.lease_ms
                ),
            )));
        }
        let test_hooks = config.test_hooks;
        let crash = if config.test_hooks {
            std::env::var(CRASH_ENV).ok()
        } else {
            None
        };
        let conn = store::open(&options.path)?;
        Ok(Outbox {
            conn: Mutex::new(conn),
            client: Client::new(config),
            options,
            owner: format!("{}-{:016x}", std::process::id(), random_u64()),
            crash,
            test_hooks,
        })
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The wall clock, in Unix milliseconds (plus the test hook's step).
    fn now(&self) -> i64 {
        let step = if self.test_hooks {
            std::env::var(CLOCK_STEP_ENV)
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or(0)
        } else {
            0
        };
        store::now_ms().saturating_add(step)
    }

    fn crash_point(&self, point: &str) {
        if self.crash.as_deref() == Some(point) {
            worker::kill_self();
        }
    }

    /// Stores the return, then (unless deferred) tries to deliver it now.
    pub fn submit(&self, submit_json: &str) -> Result<Value, Fail> {
        let submit = Submit::from_json(submit_json)?;
        let id = submit
            .id
            .clone()
            .unwrap_or_else(|| format!("wdt-{:x}-{:08x}", self.now(), random_u64() as u32));
        let marker = self.options.marker.then(|| model::marker_for(&id));
        let prepared = model::prepare(&submit.request, marker.as_deref())?;
        let tid = submit.request["refundInfo"]["tid"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let now = self.now();
        let lease_ms = self.options.lease_ms;
        let claimed = {
            let mut conn = self.db();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let existing: Option<i64> = tx
                .query_row("SELECT seq FROM entries WHERE id = ?1", [&id], |r| r.get(0))
                .optional()?;
            if existing.is_some() {
                drop(tx);
                // The same id again (a till retrying after a crash): the entry as it is.
                return self.entry_json(&conn, &id, false);
            }
            tx.execute(
                "INSERT INTO entries (id, state, method, body, tid, marker, created_ms, updated_ms)
                 VALUES (?1, 'pending', ?2, ?3, ?4, ?5, ?6, ?6)",
                params![id, prepared.method, prepared.body, tid, marker, now],
            )?;
            let seq = tx.last_insert_rowid();
            store::add_history(&tx, seq, now, &json!({"event": "stored"}))?;
            // Delivering now: claimed and marked in flight in the same durable commit as the
            // insert, so no other process can take it and a crash from here on is reconciled.
            let claimed = if submit.defer {
                None
            } else {
                tx.execute(
                    "UPDATE entries SET lease_owner = ?2, lease_until_ms = ?3 WHERE seq = ?1",
                    params![seq, self.owner, now + lease_ms as i64],
                )?;
                lease::start_attempt(&tx, &self.owner, seq, now, lease_ms, "submit")?;
                Some(Claimed {
                    seq,
                    state: "pending".into(),
                    body: prepared.body.clone(),
                    method: prepared.method.clone(),
                    tid: tid.clone(),
                    marker: marker.clone(),
                    first_attempt_ms: Some(now),
                    marked: true,
                })
            };
            tx.commit()?;
            claimed
        };
        self.crash_point("stored");
        if let Some(c) = claimed {
            self.work(c)?;
        }
        let conn = self.db();
        self.entry_json(&conn, &id, false)
    }

    fn entry_json(&self, conn: &Connection, id: &str, history: bool) -> Result<Value, Fail> {
        let entry = store::entry(conn, id)?.ok_or_else(|| {
            Fail::Lib(Error::invalid_at(
                "id",
                format_args!("no entry with id {id:?} in this outbox"),
            ))
        })?;
        let h = if history {
            Some(store::history(conn, id)?)
        } else {
            None
        };
        Ok(entry.to_json(h))
    }

    pub fn get(&self, id: &str) -> Result<Value, Fail> {
        model::check_id(id, "id")?;
        let conn = self.db();
        self.entry_json(&conn, id, true)
    }

    pub fn list(&self, filter_json: Option<&str>) -> Result<Value, Fail> {
        let f = ListFilter::from_json(filter_json)?;
        let conn = self.db();
        let (entries, more): (Vec<Entry>, bool) =
            store::list(&conn, f.state.as_deref(), f.after.as_deref(), f.limit)?;
        let next = if more {
            entries.last().map(|e| Value::from(e.id.clone()))
        } else {
            None
        };
        Ok(json!({
            "entries": entries.iter().map(|e| e.to_json(None)).collect::<Vec<_>>(),
            "next_after": next.unwrap_or(Value::Null),
        }))
    }

    /// Works through the entries that may be worked on now, in submit order, each at most once.
    pub fn flush(&self, options_json: Option<&str>) -> Result<FlushCounts, Fail> {
        let opts = FlushOptions::from_json(options_json)?;
        let started = Instant::now();
        let budget = opts.budget_ms.map(Duration::from_millis);
        let mut counts = FlushCounts::default();
        let mut cursor = 0i64;
        let mut done = 0u64;
        loop {
            if opts.max_entries.is_some_and(|m| done >= m) {
                break;
            }
            if budget.is_some_and(|b| started.elapsed() >= b) {
                break;
            }
            let claimed = {
                let mut conn = self.db();
                lease::claim_next(
                    &mut conn,
                    &self.owner,
                    cursor,
                    self.now(),
                    self.options.lease_ms,
                    self.options.settle_ms,
                )?
            };
            let Some(c) = claimed else { break };
            self.crash_point("claimed");
            cursor = c.seq;
            done += 1;
            let (state, network_down) = self.work(c)?;
            match state {
                "delivered" => counts.delivered += 1,
                "rejected" => counts.rejected += 1,
                _ => {}
            }
            // Nothing left the machine (refused, no route, DNS): the rest would fail alike.
            if network_down {
                break;
            }
        }
        let conn = self.db();
        for (state, n) in store::count_by_state(&conn)? {
            let n = n as u64;
            match state.as_str() {
                "pending" => counts.pending = n,
                "in_doubt" => counts.in_doubt = n,
                "needs_attention" => counts.needs_attention = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// One claimed entry: reconcile first if it is in doubt, then send if that is safe.
    /// Returns the state it ended in and whether the network looked down.
    fn work(&self, c: Claimed) -> Result<(&'static str, bool), Fail> {
        let reason = if c.state == "in_doubt" {
            match self.reconcile(&c)? {
                Some(state) => return Ok((state, false)),
                None => "reconciled: absent from the ERP after the settle delay",
            }
        } else {
            "pending"
        };
        if !c.marked {
            let now = self.now();
            let marked = {
                let mut conn = self.db();
                lease::mark_sending(
                    &mut conn,
                    &self.owner,
                    c.seq,
                    now,
                    self.options.lease_ms,
                    reason,
                )?
            };
            if !marked {
                return Ok(("lost", false));
            }
            self.crash_point("sending");
        }
        if let Some(ms) = self
            .crash
            .as_deref()
            .and_then(|c| c.strip_prefix("in_flight:"))
            .and_then(|ms| ms.parse::<u64>().ok())
        {
            worker::kill_after(Duration::from_millis(ms));
        }
        let call = crate::request::Prepared {
            method: c.method.clone(),
            body: c.body.clone(),
            pager: None,
        };
        let reply = self.client.execute(&call);
        self.crash_point("answered");
        let now = self.now();
        let (decision, state, down) = match &reply.result {
            Ok(s) => (Decision::Delivered { result: s.data() }, "delivered", false),
            Err(e) => {
                let err = error_object(e, reply.attempts);
                match e.delivery() {
                    Delivery::NotSent => (Decision::Pending { error: err }, "pending", true),
                    // Rejected and "try later" (rate limits): provably not applied, resend ok.
                    Delivery::Rejected if e.retryable() => {
                        (Decision::Pending { error: err }, "pending", false)
                    }
                    Delivery::Rejected => (Decision::Rejected { error: err }, "rejected", false),
                    Delivery::Unknown => (
                        Decision::InDoubt {
                            error: err,
                            settle_ms: self.options.settle_ms,
                        },
                        "in_doubt",
                        false,
                    ),
                }
            }
        };
        let event = match &reply.result {
            Ok(s) => json!({"event": "answer", "delivery": "delivered", "data": s.data()}),
            Err(e) => json!({"event": "answer", "delivery": e.delivery().as_str(),
                              "error": error_object(e, reply.attempts)}),
        };
        {
            let mut conn = self.db();
            lease::record(&mut conn, &self.owner, c.seq, now, &decision, &event)?;
        }
        self.crash_point("recorded");
        Ok((state, down))
    }

    /// Asks the ERP about an in-doubt entry. `Some(state)` when decided without sending;
    /// `None` when the ERP provably does not have it and it may be sent again.
    fn reconcile(&self, c: &Claimed) -> Result<Option<&'static str>, Fail> {
        let first = c.first_attempt_ms.unwrap_or_else(store::now_ms);
        let mut lost = false;
        let mut renew = || {
            let conn = self.db();
            let ok = lease::renew(
                &conn,
                &self.owner,
                c.seq,
                self.now(),
                self.options.lease_ms,
            )
            .unwrap_or(false);
            lost = !ok;
            ok
        };
        let searched = reconcile::search(&self.client, &c.tid, first, self.now(), &mut renew);
        let now = self.now();
        let (decision, event, state) = match searched {
            Err(e) if lost => {
                let _ = e;
                return Ok(Some("lost"));
            }
            Err(e) => {
                let err = error_object(&e, 0);
                let event = json!({"event": "query", "outcome": "failed", "error": err});
                // A refusal that will not change by itself (no permission for the query, a
                // rejected parameter) needs a person; a network failure is tried again later.
                if e.delivery() == Delivery::Rejected && !e.retryable()
                    || matches!(e, Error::Internal { .. })
                {
                    let why = json!({"kind": "needs_attention", "message": format!(
                        "needs attention: the ERP could not be asked whether it has this return: {e}")});
                    (
                        Decision::NeedsAttention { error: why },
                        event,
                        "needs_attention",
                    )
                } else {
                    (Decision::Unchanged { error: err }, event, "in_doubt")
                }
            }
            Ok((orders, query)) => {
                let others = if c.marker.is_none() {
                    self.same_shape_others(c)?
                } else {
                    0
                };
                match reconcile::decide(
                    &orders,
                    query,
                    &c.tid,
                    c.marker.as_deref(),
                    &c.body,
                    others,
                ) {
                    reconcile::Finding::Found { order, query } => (
                        Decision::Delivered {
                            result: json!({"reconciled": order}),
                        },
                        json!({"event": "query", "outcome": "found", "query": query, "order": order}),
                        "delivered",
                    ),
                    reconcile::Finding::Absent { query } => {
                        let conn = self.db();
                        store::add_history(
                            &conn,
                            c.seq,
                            now,
                            &json!({"event": "query", "outcome": "absent", "query": query}),
                        )?;
                        return Ok(None);
                    }
                    reconcile::Finding::Ambiguous { why, query } => (
                        Decision::NeedsAttention {
                            error: json!({"kind": "needs_attention",
                                          "message": format!("needs attention: {why}")}),
                        },
                        json!({"event": "query", "outcome": "ambiguous", "why": why, "query": query}),
                        "needs_attention",
                    ),
                }
            }
        };
        let mut conn = self.db();
        lease::record(&mut conn, &self.owner, c.seq, now, &decision, &event)?;
        Ok(Some(state))
    }

    /// Other entries with the same tid, warehouse and lines that may have reached the ERP.
    fn same_shape_others(&self, c: &Claimed) -> Result<usize, Fail> {
        let conn = self.db();
        let mut stmt = conn.prepare_cached(
            "SELECT body FROM entries WHERE tid = ?1 AND seq <> ?2 AND attempts > 0
               AND state <> 'rejected'",
        )?;
        let ours = reconcile::shape_of_body(&c.body);
        let bodies = stmt.query_map(params![c.tid, c.seq], |r| r.get::<_, String>(0))?;
        let mut n = 0;
        for b in bodies {
            if reconcile::shape_of_body(&b?) == ours {
                n += 1;
            }
        }
        Ok(n)
    }
}

/// The `error` object of an envelope, stored on the entry.
fn error_object(e: &Error, attempts: u32) -> Value {
    let text = envelope::render(Err(e), attempts);
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|mut v| v.get_mut("error").map(Value::take))
        .unwrap_or_else(|| json!({"message": e.to_string()}))
}

pub fn ok(data: Value) -> String {
    let mut env = Map::new();
    env.insert("ok".into(), Value::Bool(true));
    env.insert("status".into(), Value::from(0));
    env.insert("data".into(), data);
    Value::Object(env).to_string()
}

pub fn counts_json(c: &FlushCounts) -> Value {
    json!({"delivered": c.delivered, "rejected": c.rejected, "in_doubt": c.in_doubt,
           "pending": c.pending, "needs_attention": c.needs_attention})
}

/// An outbox with its optional background worker: what the C handle stands for. Calls in
/// flight share it (the C layer holds it in an `Arc`), so closing cannot wait for the last
/// reference: `close` stops the worker through a shared reference, and the outbox itself (its
/// SQLite connection and client) goes when the last call returns.
pub struct Handle {
    pub outbox: Arc<Outbox>,
    worker: Mutex<Option<worker::Worker>>,
}

impl Handle {
    pub fn open(client_config: &str, options: &str) -> Result<Handle, Fail> {
        let outbox = Arc::new(Outbox::open(client_config, options)?);
        let worker = match outbox.options().worker_interval_ms {
            0 => None,
            ms => Some(worker::Worker::start(
                Arc::clone(&outbox),
                Duration::from_millis(ms),
            )?),
        };
        Ok(Handle {
            outbox,
            worker: Mutex::new(worker),
        })
    }

    /// Stops the worker now (waiting for a flush of its own in progress), even while calls on
    /// other threads still hold the handle; a second close finds no worker and does nothing.
    pub fn close(&self) {
        // Taken out in its own statement so the lock is released before the join: a join
        // under a lock is a deadlock waiting for someone to take that lock on the worker's path.
        let worker = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = worker {
            w.stop();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(w) = self
            .worker
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            w.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call in flight holds the handle when another thread closes it: the worker must stop
    /// then (and let go of the outbox), not when that call returns.
    #[test]
    fn close_stops_the_worker_while_a_call_still_holds_the_handle() {
        let dir = std::env::temp_dir().join(format!("wdt-handle-{}-close", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("outbox.db").to_string_lossy().into_owned();
        // Nothing is submitted, so the worker's flushes never reach this (closed) port.
        let config = r#"{"sid":"wdtapi3","appkey":"wdt_test","appsecret":"testsecret:testsalt",
                         "url":"http://127.0.0.1:9/openapi","timeout_ms":1000}"#;
        let options = json!({"path": path, "lease_ms": 2000, "worker_interval_ms": 100});
        let handle = Arc::new(Handle::open(config, &options.to_string()).unwrap());
        assert_eq!(
            Arc::strong_count(&handle.outbox),
            2,
            "the worker holds the outbox"
        );
        let call = Arc::clone(&handle);
        handle.close();
        assert_eq!(
            Arc::strong_count(&call.outbox),
            1,
            "the worker thread still holds the outbox after close"
        );
        // The held handle still works; a second close finds nothing to stop.
        assert!(call.outbox.list(None).is_ok());
        call.close();
        drop(handle);
        drop(call);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
