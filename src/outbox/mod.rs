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
#[cfg(feature = "server-stores")]
pub mod server;
pub mod sql;
pub mod sqlite;
pub mod store;
mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::{Client, Reply};
use crate::config::Config;
use crate::envelope;
use crate::error::{Delivery, Error};
use crate::random;
use lease::{Claimed, Decision};
use model::{Entry, FlushOptions, ListFilter, Options, State, StoreAt, Submit};
use reconcile::{Finding, SearchFail};
use sql::{Db, DbErrKind};

/// A storage failure once entry `id` may have been sent says `unknown` and names the entry: a
/// `not_sent` storage error would invite the till to ring the return up again.
fn after_send(e: Error, id: &str) -> Error {
    match e {
        Error::Storage {
            delivery: Delivery::NotSent,
            message,
            ..
        } => Error::Storage {
            delivery: Delivery::Unknown,
            entry_id: Some(id.to_owned()),
            message,
        },
        other => other,
    }
}

#[cfg(feature = "server-stores")]
fn open_server(url: &str, password: Option<&str>) -> Result<Box<dyn Db>, Error> {
    server::open(url, password)
}

/// A till's build (the Windows DLL) carries no database drivers.
#[cfg(not(feature = "server-stores"))]
fn open_server(_url: &str, _password: Option<&str>) -> Result<Box<dyn Db>, Error> {
    Err(Error::config_at(
        "store",
        "this build of libwdt has no server stores (they are in the Linux archives); use path for a local SQLite file",
    ))
}

/// Test-only crash points, compiled in only with the `crash-points` feature (never in the
/// shipped library) and honoured only when the client config has `"test_hooks": true` and
/// the environment names one: `WDT_OUTBOX_TEST_CRASH=<point>`, where point is `stored` (submit
/// committed, nothing sent), `claimed` (a flush claimed a pending entry, nothing sent),
/// `sending` (a resend after reconciliation marked, nothing sent), `in_flight:<ms>` (killed that
/// long after the request started), `answered` (answer read, not stored) or `recorded`. The
/// process is killed with SIGKILL, as a power cut or the task manager would.
#[cfg(feature = "crash-points")]
const CRASH_ENV: &str = "WDT_OUTBOX_TEST_CRASH";
/// Test-only, with the `crash-points` feature: milliseconds added to the outbox's wall clock,
/// read on every reading of it, and only by an outbox whose client config has
/// `"test_hooks": true` (a till clock stepped by NTP).
#[cfg(feature = "crash-points")]
const CLOCK_STEP_ENV: &str = "WDT_OUTBOX_TEST_CLOCK_STEP_MS";

/// The crash point the environment names, when the hooks are built in and switched on.
#[cfg(feature = "crash-points")]
fn crash_from_env(test_hooks: bool) -> Option<String> {
    test_hooks.then(|| std::env::var(CRASH_ENV).ok()).flatten()
}

#[cfg(not(feature = "crash-points"))]
fn crash_from_env(_test_hooks: bool) -> Option<String> {
    None
}

/// The test clock step in milliseconds, when the hooks are built in and switched on.
#[cfg(feature = "crash-points")]
fn clock_step_ms(test_hooks: bool) -> i64 {
    test_hooks
        .then(|| std::env::var(CLOCK_STEP_ENV).ok())
        .flatten()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0)
}

#[cfg(not(feature = "crash-points"))]
fn clock_step_ms(_test_hooks: bool) -> i64 {
    0
}

pub struct Outbox {
    db: Mutex<Box<dyn Db>>,
    client: Client,
    options: Options,
    owner: String,
    /// This file's tag, part of every marker (docs/outbox.md).
    tag: String,
    local: LocalState,
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

/// The gateway statuses that refuse the caller (sign, appkey, sid, parameters node, dynamic
/// password, IP whitelist, timestamp, version: docs/protocol.md), not this return: they say
/// nothing about the entry, so it stays as it was and the flush stops (every other entry
/// would be refused alike). Only an answer about the return's content makes it `rejected`.
const CALLER_REFUSED: [i64; 6] = [1, 2, 3, 6, 7, 8];

/// The reason a flush stopped for the account's configuration, or None for another error.
fn blocked_by(e: &Error) -> Option<Value> {
    match e {
        Error::Api {
            status,
            delivery: Delivery::Rejected,
            ..
        } if CALLER_REFUSED.contains(status) => Some(json!({
            "kind": e.kind(),
            "status": status,
            "message": e.to_string(),
        })),
        _ => None,
    }
}

/// Counts of a flush: what it delivered or rejected, what is left in each open state, and why
/// it stopped early when the account's configuration was refused.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FlushCounts {
    pub delivered: u64,
    pub rejected: u64,
    pub in_doubt: u64,
    pub pending: u64,
    pub needs_attention: u64,
    pub blocked: Option<Value>,
}

/// How working on one entry ended.
#[derive(Debug, Clone, PartialEq)]
enum Worked {
    Delivered,
    Rejected,
    /// Pending, in doubt, needs attention, or left as it was.
    Open,
    /// Another process took the entry meanwhile (its lease expired under us).
    Lost,
    /// Nothing left the machine (refused, no route, DNS): the rest would fail alike.
    NetworkDown,
    /// The gateway refused the account (CALLER_REFUSED): the rest would be refused alike.
    Blocked(Value),
}

/// What only this process knows (see `lease::Local`).
#[derive(Debug, Default)]
struct LocalState {
    sending: Mutex<HashSet<i64>>,
    settling: Mutex<HashMap<i64, Instant>>,
}

impl lease::Local for LocalState {
    fn sending(&self, seq: i64) -> bool {
        lock(&self.sending).contains(&seq)
    }

    fn settling(&self, seq: i64) -> bool {
        let mut map = lock(&self.settling);
        match map.get(&seq) {
            Some(until) if Instant::now() < *until => true,
            Some(_) => {
                map.remove(&seq);
                false
            }
            None => false,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a submit's insert found: the entry already stored under the id, or the new entry's
/// seq with its in-flight guard (None when deferred).
type Inserted<'a> = Result<Option<(i64, Sending<'a>)>, store::Stored>;

/// Marks an entry as being sent by this process for as long as it lives.
struct Sending<'a> {
    local: &'a LocalState,
    seq: i64,
}

impl<'a> Sending<'a> {
    fn start(local: &'a LocalState, seq: i64) -> Sending<'a> {
        lock(&local.sending).insert(seq);
        Sending { local, seq }
    }
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        lock(&self.local.sending).remove(&self.seq);
    }
}

impl Outbox {
    pub fn open(client_config: &str, options: &str) -> Result<Outbox, Error> {
        let config = Config::from_json(client_config)?;
        let options = Options::from_json(options)?;
        // A lease shorter than one call would let a second process take over an entry whose
        // request is still on the wire.
        let timeout_ms = config.timeout.as_millis() as u64;
        if options.lease_ms <= timeout_ms {
            return Err(Error::config_at(
                "lease_ms",
                format_args!(
                    "lease_ms ({}) must be longer than the client's timeout_ms ({timeout_ms})",
                    options.lease_ms
                ),
            ));
        }
        let test_hooks = config.test_hooks;
        let crash = crash_from_env(config.test_hooks);
        let mut db: Box<dyn Db> = match &options.store {
            StoreAt::File(path) => Box::new(sqlite::open(path)?),
            StoreAt::Server { url, password } => open_server(url, password.as_deref())?,
        };
        let fresh = format!("{:012x}", random::next_u64() & 0xffff_ffff_ffff);
        let tag = db.tag(&fresh)?;
        Ok(Outbox {
            db: Mutex::new(db),
            client: Client::new(config),
            options,
            owner: format!("{}-{:016x}", std::process::id(), random::next_u64()),
            tag,
            local: LocalState::default(),
            crash,
            test_hooks,
        })
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    fn db(&self) -> MutexGuard<'_, Box<dyn Db>> {
        lock(&self.db)
    }

    /// The store's clock (see `Db::now_ms`), in Unix milliseconds, plus the test hook's step
    /// when it is this machine's clock (a server's clock is not the till's to step).
    fn now_in(&self, db: &mut dyn Db) -> Result<i64, Error> {
        let step = if db.local_clock() {
            clock_step_ms(self.test_hooks)
        } else {
            0
        };
        Ok(db.now_ms()?.saturating_add(step))
    }

    fn now(&self) -> Result<i64, Error> {
        let mut db = self.db();
        self.now_in(&mut **db)
    }

    fn crash_point(&self, point: &str) {
        if self.crash.as_deref() == Some(point) {
            worker::kill_self();
        }
    }

    /// Stores the return, then (unless deferred) tries to deliver it now. The entry (and its
    /// id, generated ones too) is durable before any byte is sent; from then on every failure
    /// says `unknown` and names the entry.
    pub fn submit(&self, submit_json: &str) -> Result<Value, Error> {
        let submit = Submit::from_json(submit_json)?;
        let id = match &submit.id {
            Some(id) => id.clone(),
            None => format!("wdt-{:x}-{:08x}", self.now()?, random::next_u64() as u32),
        };
        let marker = self
            .options
            .marker
            .then(|| model::marker_for(&self.tag, &id));
        let prepared = model::prepare(&submit.request, marker.as_deref())?;
        let canonical = model::canonical(&submit.request);
        let tid = submit.request["refundInfo"]["tid"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let new = store::New {
            id: &id,
            method: &prepared.method,
            body: &prepared.body,
            tid: &tid,
            marker: marker.as_deref(),
            request: &canonical,
        };
        let (stored, now) = self.store_new(&new, submit.defer)?;
        let (seq, sending) = match stored {
            Err(old) => {
                if !same_return(&submit, &canonical, old.request, old.marker, &old.body) {
                    return Err(Error::invalid_at(
                        "id",
                        format_args!(
                            "id {id:?} is already used for a different return in this outbox; give each return its own id"
                        ),
                    ));
                }
                // The same return again (a till retrying after a crash): the entry as it is.
                return self.entry_json(&id, false);
            }
            Ok(None) => {
                self.crash_point("stored");
                return self.entry_json(&id, false);
            }
            Ok(Some(claimed)) => claimed,
        };
        self.crash_point("stored");
        let c = Claimed {
            seq,
            id: id.clone(),
            state: State::Pending,
            body: prepared.body.clone(),
            method: prepared.method.clone(),
            tid: tid.clone(),
            marker: marker.clone(),
            first_attempt_ms: Some(now),
            marked: true,
        };
        self.work(c, Some(sending))?;
        self.entry_json(&id, false).map_err(|e| after_send(e, &id))
    }

    /// The insert of a submit, in one durable commit: the stored entry under that id when there
    /// is one already (`Err`), else the new entry's seq, claimed and marked in flight in the
    /// same commit unless deferred (so no other process can take it and a crash from here on
    /// is reconciled). With the store's clock reading it was stored at.
    fn store_new(&self, new: &store::New<'_>, defer: bool) -> Result<(Inserted<'_>, i64), Error> {
        let lease_ms = self.options.lease_ms;
        let mut db = self.db();
        let now = self.now_in(&mut **db)?;
        let run = |db: &mut dyn Db| {
            sql::tx(db, |db| {
                if let Some(old) = store::stored(db, new.id)? {
                    return Ok(Err(old));
                }
                let seq = store::insert(db, new, now)?;
                if defer {
                    return Ok(Ok(None));
                }
                lease::take_lease(db, seq, &self.owner, now, lease_ms)?;
                lease::start_attempt(db, &self.owner, seq, now, lease_ms, "submit")?;
                Ok(Ok(Some((seq, Sending::start(&self.local, seq)))))
            })
        };
        // Two processes inserting one new id at the same moment: the unique key refuses the
        // second, which then finds the first's entry like any re-submit.
        let stored = match run(&mut **db) {
            Err(e) if e.kind == DbErrKind::Duplicate => run(&mut **db)?,
            other => other?,
        };
        Ok((stored, now))
    }

    fn entry_json(&self, id: &str, history: bool) -> Result<Value, Error> {
        let mut db = self.db();
        let entry = store::entry(&mut **db, id)?.ok_or_else(|| {
            Error::invalid_at("id", format_args!("no entry with id {id:?} in this outbox"))
        })?;
        let h = if history {
            Some(store::history(&mut **db, id)?)
        } else {
            None
        };
        Ok(entry.to_json(h, self.options.settle_ms))
    }

    pub fn get(&self, id: &str) -> Result<Value, Error> {
        model::check_id(id, "id")?;
        self.entry_json(id, true)
    }

    pub fn list(&self, filter_json: Option<&str>) -> Result<Value, Error> {
        let f = ListFilter::from_json(filter_json)?;
        let (entries, more): (Vec<Entry>, bool) =
            store::list(&mut **self.db(), f.state, f.after.as_deref(), f.limit)?;
        let next = if more {
            entries.last().map(|e| Value::from(e.id.clone()))
        } else {
            None
        };
        Ok(json!({
            "entries": entries
                .iter()
                .map(|e| e.to_json(None, self.options.settle_ms))
                .collect::<Vec<_>>(),
            "next_after": next.unwrap_or(Value::Null),
        }))
    }

    /// Works through the entries that may be worked on now (in-doubt ones past their settle
    /// delay first, then pending ones, each in submit order), each at most once.
    pub fn flush(&self, options_json: Option<&str>) -> Result<FlushCounts, Error> {
        let opts = FlushOptions::from_json(options_json)?;
        let started = Instant::now();
        let budget = opts.budget_ms.map(Duration::from_millis);
        let mut counts = FlushCounts::default();
        let mut cursor = lease::Cursor::default();
        let mut done = 0u64;
        {
            let mut db = self.db();
            let now = self.now_in(&mut **db)?;
            lease::undo_backward_steps(&mut **db, now)?;
        }
        loop {
            if opts.max_entries.is_some_and(|m| done >= m) {
                break;
            }
            if budget.is_some_and(|b| started.elapsed() >= b) {
                break;
            }
            let claimed = {
                let mut db = self.db();
                let now = self.now_in(&mut **db)?;
                lease::claim_next(
                    &mut **db,
                    &self.owner,
                    &mut cursor,
                    now,
                    self.options.lease_ms,
                    self.options.settle_ms,
                    &self.local,
                )?
            };
            let Some(c) = claimed else { break };
            let sending = c.marked.then(|| Sending::start(&self.local, c.seq));
            self.crash_point("claimed");
            done += 1;
            match self.work(c, sending)? {
                Worked::Delivered => counts.delivered += 1,
                Worked::Rejected => counts.rejected += 1,
                Worked::Open | Worked::Lost => {}
                Worked::NetworkDown => break,
                Worked::Blocked(why) => {
                    counts.blocked = Some(why);
                    break;
                }
            }
        }
        for (state, n) in store::count_by_state(&mut **self.db())? {
            let n = n as u64;
            match state {
                State::Pending => counts.pending = n,
                State::InDoubt => counts.in_doubt = n,
                State::NeedsAttention => counts.needs_attention = n,
                State::Delivered | State::Rejected => {}
            }
        }
        Ok(counts)
    }

    /// One claimed entry: reconcile first if it is in doubt, then send if that is safe.
    /// `sending` is held while this process's request for the entry may be on the wire.
    fn work<'a>(&'a self, c: Claimed, mut sending: Option<Sending<'a>>) -> Result<Worked, Error> {
        let reason = if c.state == State::InDoubt {
            match self.reconcile(&c)? {
                Some(worked) => return Ok(worked),
                None => "reconciled: absent from the ERP after the settle delay",
            }
        } else {
            "pending"
        };
        if !c.marked {
            match self.mark_sending(&c, reason)? {
                Some(marked) => sending = Some(marked),
                None => return Ok(Worked::Lost),
            }
        }
        let reply = self.send(&c);
        let (decision, worked) = answer_decision(&reply, self.options.settle_ms);
        self.record_answer(&c, &decision, &answer_event(&reply))?;
        drop(sending);
        self.crash_point("recorded");
        Ok(worked)
    }

    /// Marks an entry claimed unmarked as being sent, before any byte leaves: None when another
    /// process took it meanwhile.
    fn mark_sending<'a>(&'a self, c: &Claimed, reason: &str) -> Result<Option<Sending<'a>>, Error> {
        let marked = {
            let mut db = self.db();
            let now = self.now_in(&mut **db)?;
            lease::mark_sending(
                &mut **db,
                &self.owner,
                c.seq,
                now,
                self.options.lease_ms,
                reason,
            )?
        };
        if !marked {
            return Ok(None);
        }
        let sending = Sending::start(&self.local, c.seq);
        self.crash_point("sending");
        Ok(Some(sending))
    }

    /// The entry's stored request, sent as stored (same body, same marker).
    fn send(&self, c: &Claimed) -> Reply {
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
        reply
    }

    /// Stores what the answer decided. From here on the request may have reached the ERP, so
    /// a storage failure names the entry and says `unknown`.
    fn record_answer(&self, c: &Claimed, decision: &Decision, event: &Value) -> Result<(), Error> {
        if matches!(decision, Decision::InDoubt { .. }) {
            let until = Instant::now() + Duration::from_millis(self.options.settle_ms);
            lock(&self.local.settling).insert(c.seq, until);
        }
        let mut db = self.db();
        let recorded = self.now_in(&mut **db).and_then(|now| {
            Ok(lease::record(
                &mut **db,
                &self.owner,
                c.seq,
                now,
                decision,
                event,
            )?)
        });
        recorded.map_err(|e| after_send(e, &c.id))
    }

    /// Asks the ERP about an in-doubt entry. `Some(outcome)` when decided (or stopped) without
    /// sending; `None` when the ERP provably does not have it and it may be sent again.
    fn reconcile(&self, c: &Claimed) -> Result<Option<Worked>, Error> {
        let searched = self.search_erp(c)?;
        let (decision, event, worked) = match searched {
            Err(SearchFail::LeaseLost) => return Ok(Some(Worked::Lost)),
            Err(SearchFail::TooMany(why)) => too_many(why),
            Err(SearchFail::Query(e)) => query_failed(&e),
            Ok((orders, query)) => {
                match reconcile::decide(&orders, query, &c.tid, c.marker.as_deref(), &c.body) {
                    Finding::Found { order, query } => found(order, query),
                    Finding::Ambiguous { why, query } => ambiguous(why, query),
                    Finding::Absent { query } => {
                        let mut db = self.db();
                        let now = self.now_in(&mut **db)?;
                        let event = json!({"event": "query", "outcome": "absent", "query": query});
                        store::add_history(&mut **db, c.seq, now, &event)?;
                        return Ok(None);
                    }
                }
            }
        };
        let mut db = self.db();
        let now = self.now_in(&mut **db)?;
        lease::record(&mut **db, &self.owner, c.seq, now, &decision, &event)?;
        Ok(Some(worked))
    }

    /// The refund orders of the entry's tid since its first attempt, renewing the lease
    /// before every query so no other process takes the entry while it is being asked about.
    fn search_erp(&self, c: &Claimed) -> Result<Result<(Vec<Value>, Value), SearchFail>, Error> {
        let now = self.now()?;
        let first = c.first_attempt_ms.unwrap_or(now);
        let mut renew = || {
            let mut db = self.db();
            self.now_in(&mut **db)
                .ok()
                .and_then(|now| {
                    lease::renew(&mut **db, &self.owner, c.seq, now, self.options.lease_ms).ok()
                })
                .unwrap_or(false)
        };
        Ok(reconcile::search(
            &self.client,
            &c.tid,
            first,
            now,
            &mut renew,
        ))
    }
}

/// What an answer to a send decides for the entry, and how the flush goes on.
fn answer_decision(reply: &Reply, settle_ms: u64) -> (Decision, Worked) {
    let e = match &reply.result {
        Ok(s) => return (Decision::Delivered { result: s.data() }, Worked::Delivered),
        Err(e) => e,
    };
    let err = error_object(e, reply.attempts);
    match e.delivery() {
        Delivery::NotSent => (Decision::Pending { error: err }, Worked::NetworkDown),
        // Refused for the account, not for this return: provably not applied.
        Delivery::Rejected if blocked_by(e).is_some() => (
            Decision::Pending { error: err },
            Worked::Blocked(blocked_by(e).unwrap_or(Value::Null)),
        ),
        // Rejected and "try later" (rate limits): provably not applied, resend ok.
        Delivery::Rejected if e.retryable() => (Decision::Pending { error: err }, Worked::Open),
        Delivery::Rejected => (Decision::Rejected { error: err }, Worked::Rejected),
        Delivery::Unknown => (
            Decision::InDoubt {
                error: err,
                settle_ms,
            },
            Worked::Open,
        ),
    }
}

/// The history event of an answer to a send.
fn answer_event(reply: &Reply) -> Value {
    match &reply.result {
        Ok(s) => json!({"event": "answer", "delivery": "delivered", "data": s.data()}),
        Err(e) => json!({"event": "answer", "delivery": e.delivery().as_str(),
                          "error": error_object(e, reply.attempts)}),
    }
}

/// What a reconciliation ends in: the decision stored, its history event, how the flush goes on.
type Settled = (Decision, Value, Worked);

/// A person decides: the outbox cannot prove either way.
fn attention(why: String) -> Decision {
    Decision::NeedsAttention {
        error: json!({"kind": "needs_attention", "message": format!("needs attention: {why}")}),
    }
}

fn too_many(why: String) -> Settled {
    (
        attention(why.clone()),
        json!({"event": "query", "outcome": "too_many", "why": why}),
        Worked::Open,
    )
}

/// A query that failed. A refusal that will not change by itself (no permission for the
/// query, a rejected parameter) needs a person; the account refused (wrong secret…) stops the
/// flush and leaves the entry in doubt; a network failure is tried again later.
fn query_failed(e: &Error) -> Settled {
    let err = error_object(e, 0);
    let event = json!({"event": "query", "outcome": "failed", "error": err});
    if let Some(why) = blocked_by(e) {
        (
            Decision::Unchanged { error: err },
            event,
            Worked::Blocked(why),
        )
    } else if e.delivery() == Delivery::Rejected && !e.retryable()
        || matches!(e, Error::Internal { .. })
    {
        (
            attention(format!(
                "the ERP could not be asked whether it has this return: {e}"
            )),
            event,
            Worked::Open,
        )
    } else {
        let worked = if e.delivery() == Delivery::NotSent {
            Worked::NetworkDown
        } else {
            Worked::Open
        };
        (Decision::Unchanged { error: err }, event, worked)
    }
}

fn found(order: Value, query: Value) -> Settled {
    (
        Decision::Delivered {
            result: json!({"reconciled": order}),
        },
        json!({"event": "query", "outcome": "found", "query": query, "order": order}),
        Worked::Delivered,
    )
}

fn ambiguous(why: String, query: Value) -> Settled {
    (
        attention(why.clone()),
        json!({"event": "query", "outcome": "ambiguous", "why": why, "query": query}),
        Worked::Open,
    )
}

/// Whether a re-submit under a used id is the same return. Entries made before the request was
/// stored are compared by the body they were sent with (their marker at the remark's end).
fn same_return(
    submit: &Submit,
    canonical: &str,
    stored_request: Option<String>,
    stored_marker: Option<String>,
    stored_body: &str,
) -> bool {
    match stored_request {
        Some(r) => r == canonical,
        None => model::prepare_legacy(&submit.request, stored_marker.as_deref())
            .is_ok_and(|p| p.body == stored_body),
    }
}

/// The `error` object of an envelope, stored on the entry.
fn error_object(e: &Error, attempts: u32) -> Value {
    Value::Object(envelope::error_object(e, attempts))
}

pub fn counts_json(c: &FlushCounts) -> Value {
    json!({"delivered": c.delivered, "rejected": c.rejected, "in_doubt": c.in_doubt,
           "pending": c.pending, "needs_attention": c.needs_attention,
           "blocked": c.blocked.clone().unwrap_or(Value::Null)})
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
    pub fn open(client_config: &str, options: &str) -> Result<Handle, Error> {
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
