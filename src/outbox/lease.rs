//! Who may work on an entry. A process claims one entry at a time with a lease inside a write
//! transaction (SQLite's `BEGIN IMMEDIATE`; a server's `FOR UPDATE SKIP LOCKED` row lock), so
//! two processes (PHP-FPM workers, two tills on one PC, two back-office machines) never pick
//! the same entry; a lease left by a killed process simply expires. Before an attempt the
//! entry is marked in flight in its own durable commit: if the process dies while its request
//! may be on the wire, the next claimer finds the mark and treats the entry as `in_doubt`, so a
//! crash can never turn into a blind resend.

use serde_json::{json, Value};

use super::model::State;
use super::sql::{tx, Db, DbResult, V};
use super::store;

/// An entry this process now holds.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub seq: i64,
    pub id: String,
    pub state: State,
    pub body: String,
    pub method: String,
    pub tid: String,
    pub marker: Option<String>,
    pub first_attempt_ms: Option<i64>,
    /// Already marked in flight by the claim (a pending entry is sent straight away).
    pub marked: bool,
}

/// What this process knows that the file cannot: the entries whose request it is sending right
/// now (never to be taken for a dead process's, whatever the wall clock did), and when, by the
/// monotonic clock, its own unknown outcomes may be asked about.
pub trait Local {
    fn sending(&self, seq: i64) -> bool;
    fn settling(&self, seq: i64) -> bool;
}

const EXPIRED_SQL: &str = "SELECT seq, lease_until_ms FROM entries
     WHERE in_flight = 1 AND lease_until_ms <= ?1 ORDER BY lease_until_ms";
const CLAIM_SQL: &str = "SELECT seq, id, state, body, method, tid, marker, first_attempt_ms,
         settle_at_ms, lease_until_ms FROM entries
     WHERE state = ?1 AND seq > ?2 AND in_flight = 0
     ORDER BY seq LIMIT 1";

#[cfg(test)]
const PER_ENTRY_SQL: &[&str] = &[EXPIRED_SQL, CLAIM_SQL];

/// Expired leases of entries whose attempt never recorded an answer: the request may have
/// reached the gateway, so they become `in_doubt`. The settle delay counts from the later of
/// now and the lease's end (the attempt ended by then, since a lease outlasts the client's
/// timeout; "now" covers a clock that jumped ahead). Entries this process is sending are
/// skipped: only a clock step can make their lease look expired.
fn expire_in_flight(db: &mut dyn Db, now: i64, settle_ms: u64, local: &dyn Local) -> DbResult<()> {
    let sql = format!("{EXPIRED_SQL}{}", db.claim_lock());
    let stale = db.rows(&sql, &[now.into()])?;
    for r in stale {
        let (seq, until) = (r.int(0)?, r.int(1)?);
        if local.sending(seq) {
            continue;
        }
        let from = until.max(now);
        db.exec(
            "UPDATE entries SET state = 'in_doubt', in_flight = 0, lease_owner = NULL,
             lease_until_ms = NULL, lease_from_ms = NULL, settle_at_ms = ?2,
             settle_from_ms = ?3, updated_ms = ?4 WHERE seq = ?1",
            &[
                seq.into(),
                (from + settle_ms as i64).into(),
                from.into(),
                now.into(),
            ],
        )?;
        store::add_history(
            db,
            seq,
            now,
            &json!({"event": "lease_expired", "delivery": "unknown",
                    "note": "the process sending this entry stopped before recording an answer"}),
        )?;
    }
    Ok(())
}

/// A wall clock stepped back makes a lease or a settle delay that started "in the future" look
/// longer by the size of the step: each is shortened to its own length from now. Run once per
/// flush, not per entry.
pub fn undo_backward_steps(db: &mut dyn Db, now: i64) -> DbResult<()> {
    tx(db, |db| {
        db.exec(
            "UPDATE entries SET lease_until_ms = ?1 + (lease_until_ms - lease_from_ms),
                 lease_from_ms = ?1
             WHERE lease_from_ms > ?1 AND lease_until_ms IS NOT NULL",
            &[now.into()],
        )?;
        db.exec(
            "UPDATE entries SET settle_at_ms = ?1 + (settle_at_ms - settle_from_ms),
                 settle_from_ms = ?1
             WHERE state = 'in_doubt' AND settle_from_ms > ?1",
            &[now.into()],
        )?;
        Ok(())
    })
}

/// Where a flush is: entries are taken in two passes, in-doubt ones whose settle delay has
/// passed first (they are the oldest unknowns), then pending ones, each in submit order. Each
/// pass keeps its own cursor, so a flush reads every entry at most once in all (linear in the
/// backlog) and works on each at most once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cursor {
    pub doubt: i64,
    pub pending: i64,
}

/// Claims the next entry that may be worked on now: `in_doubt` whose settle delay has passed,
/// or `pending`, with no live lease.
pub fn claim_next(
    db: &mut dyn Db,
    owner: &str,
    cursor: &mut Cursor,
    now: i64,
    lease_ms: u64,
    settle_ms: u64,
    local: &dyn Local,
) -> DbResult<Option<Claimed>> {
    let start = *cursor;
    tx(db, |db| {
        // A transaction the database gave up is run again from the same place.
        *cursor = start;
        claim_in(db, owner, cursor, now, lease_ms, settle_ms, local)
    })
}

fn claim_in(
    db: &mut dyn Db,
    owner: &str,
    cursor: &mut Cursor,
    now: i64,
    lease_ms: u64,
    settle_ms: u64,
    local: &dyn Local,
) -> DbResult<Option<Claimed>> {
    expire_in_flight(db, now, settle_ms, local)?;
    // `ORDER BY seq`, not `state, seq`: with `state` a parameter, MariaDB sorts the whole
    // (state, seq) range for the latter instead of reading its first row.
    let claim_sql = format!("{CLAIM_SQL}{}", db.claim_lock());
    let mut found = None;
    'states: for state in [State::InDoubt, State::Pending] {
        let after = if state == State::Pending {
            &mut cursor.pending
        } else {
            &mut cursor.doubt
        };
        loop {
            let rows = db.rows(&claim_sql, &[state.as_str().into(), (*after).into()])?;
            let Some(r) = rows.first() else {
                break;
            };
            let c = Claimed {
                seq: r.int(0)?,
                id: r.text(1)?,
                state: store::state(r, 2)?,
                body: r.text(3)?,
                method: r.text(4)?,
                tid: r.text(5)?,
                marker: r.opt_text(6)?,
                first_attempt_ms: r.opt_int(7)?,
                marked: false,
            };
            let (settle_at, lease_until) = (r.opt_int(8)?, r.opt_int(9)?);
            *after = c.seq;
            let leased = lease_until.is_some_and(|u| u > now);
            let unsettled = state == State::InDoubt
                && (settle_at.map_or(true, |s| s > now) || local.settling(c.seq));
            if !leased && !unsettled {
                found = Some(c);
                break 'states;
            }
        }
    }
    if let Some(c) = &mut found {
        take_lease(db, c.seq, owner, now, lease_ms)?;
        // A pending entry is sent right after the claim: mark it in flight in the same commit
        // (one durable commit fewer per entry; a crash in between is then reconciled, which
        // is safe).
        if c.state == State::Pending {
            c.marked = start_attempt(db, owner, c.seq, now, lease_ms, "pending")?;
            if c.first_attempt_ms.is_none() {
                c.first_attempt_ms = Some(now);
            }
        }
    }
    Ok(found)
}

/// Inside a write transaction: the entry is ours until `now + lease_ms`.
pub fn take_lease(db: &mut dyn Db, seq: i64, owner: &str, now: i64, lease_ms: u64) -> DbResult<()> {
    db.exec(
        "UPDATE entries SET lease_owner = ?2, lease_until_ms = ?3, lease_from_ms = ?4
         WHERE seq = ?1",
        &[
            seq.into(),
            owner.into(),
            (now + lease_ms as i64).into(),
            now.into(),
        ],
    )?;
    Ok(())
}

/// Extends our lease before a network call; false when it is no longer ours (it expired and
/// another process took the entry), in which case nothing may be sent.
pub fn renew(db: &mut dyn Db, owner: &str, seq: i64, now: i64, lease_ms: u64) -> DbResult<bool> {
    let n = db.exec(
        "UPDATE entries SET lease_until_ms = ?3, lease_from_ms = ?4
         WHERE seq = ?1 AND lease_owner = ?2",
        &[
            seq.into(),
            owner.into(),
            (now + lease_ms as i64).into(),
            now.into(),
        ],
    )?;
    Ok(n == 1)
}

/// Marks an attempt as started, durably, before the first byte is sent. False when the lease
/// is no longer ours.
pub fn mark_sending(
    db: &mut dyn Db,
    owner: &str,
    seq: i64,
    now: i64,
    lease_ms: u64,
    reason: &str,
) -> DbResult<bool> {
    tx(db, |db| {
        start_attempt(db, owner, seq, now, lease_ms, reason)
    })
}

/// Inside a write transaction: counts the attempt and sets the in-flight mark.
pub fn start_attempt(
    db: &mut dyn Db,
    owner: &str,
    seq: i64,
    now: i64,
    lease_ms: u64,
    reason: &str,
) -> DbResult<bool> {
    let n = db.exec(
        "UPDATE entries SET in_flight = 1, attempts = attempts + 1,
             first_attempt_ms = coalesce(first_attempt_ms, ?3), lease_until_ms = ?4,
             lease_from_ms = ?3, updated_ms = ?3
         WHERE seq = ?1 AND lease_owner = ?2 AND state IN ('pending', 'in_doubt')",
        &[
            seq.into(),
            owner.into(),
            now.into(),
            (now + lease_ms as i64).into(),
        ],
    )?;
    if n == 1 {
        let attempts = match db
            .rows("SELECT attempts FROM entries WHERE seq = ?1", &[seq.into()])?
            .first()
        {
            Some(r) => r.int(0)?,
            None => 0,
        };
        store::add_history(
            db,
            seq,
            now,
            &json!({"event": "attempt", "attempt": attempts, "reason": reason}),
        )?;
    }
    Ok(n == 1)
}

/// What an attempt or a query decided.
#[derive(Debug, Clone)]
pub enum Decision {
    Delivered {
        result: Value,
    },
    Rejected {
        error: Value,
    },
    /// Nothing reached the gateway, or it provably refused the request and said try later.
    Pending {
        error: Value,
    },
    InDoubt {
        error: Value,
        settle_ms: u64,
    },
    NeedsAttention {
        error: Value,
    },
    /// The query could not decide now (network); the entry stays as it was.
    Unchanged {
        error: Value,
    },
}

/// Records a decision and the history event in one durable commit, and gives the lease back.
/// A final answer (delivered, rejected) is recorded even if our lease was lost meanwhile: it
/// is the truth about the request, whoever holds the entry. Anything else only by the holder.
pub fn record(
    db: &mut dyn Db,
    owner: &str,
    seq: i64,
    now: i64,
    decision: &Decision,
    event: &Value,
) -> DbResult<()> {
    tx(db, |db| record_in(db, owner, seq, now, decision, event))
}

/// Every UPDATE gives the lease back; the ones that are not final apply only for the holder.
const FREE: &str = "in_flight = 0, lease_owner = NULL, lease_until_ms = NULL, lease_from_ms = NULL";

fn record_in(
    db: &mut dyn Db,
    owner: &str,
    seq: i64,
    now: i64,
    decision: &Decision,
    event: &Value,
) -> DbResult<()> {
    let text = |v: &Value| V::Text(v.to_string());
    let (sql, args): (String, Vec<V>) = match decision {
        Decision::Delivered { result } => (
            format!(
                "UPDATE entries SET state = 'delivered', result = ?2, error = NULL, {FREE},
                     updated_ms = ?3
                 WHERE seq = ?1 AND state NOT IN ('delivered', 'rejected')"
            ),
            vec![seq.into(), text(result), now.into()],
        ),
        Decision::Rejected { error } => (
            format!(
                "UPDATE entries SET state = 'rejected', error = ?2, {FREE}, updated_ms = ?3
                 WHERE seq = ?1 AND state NOT IN ('delivered', 'rejected')"
            ),
            vec![seq.into(), text(error), now.into()],
        ),
        Decision::Pending { error } => (
            format!(
                "UPDATE entries SET state = 'pending', error = ?3, {FREE}, updated_ms = ?4
                 WHERE seq = ?1 AND lease_owner = ?2"
            ),
            vec![seq.into(), owner.into(), text(error), now.into()],
        ),
        Decision::InDoubt { error, settle_ms } => (
            format!(
                "UPDATE entries SET state = 'in_doubt', error = ?3, settle_at_ms = ?4,
                     settle_from_ms = ?5, {FREE}, updated_ms = ?5
                 WHERE seq = ?1 AND lease_owner = ?2"
            ),
            vec![
                seq.into(),
                owner.into(),
                text(error),
                (now + *settle_ms as i64).into(),
                now.into(),
            ],
        ),
        Decision::NeedsAttention { error } => (
            format!(
                "UPDATE entries SET state = 'needs_attention', error = ?3, {FREE},
                     updated_ms = ?4
                 WHERE seq = ?1 AND lease_owner = ?2"
            ),
            vec![seq.into(), owner.into(), text(error), now.into()],
        ),
        // The in-flight mark stays as it is: the query decided nothing about the request.
        Decision::Unchanged { error } => (
            "UPDATE entries SET error = ?3, lease_owner = NULL, lease_until_ms = NULL,
                 lease_from_ms = NULL, updated_ms = ?4
             WHERE seq = ?1 AND lease_owner = ?2"
                .to_owned(),
            vec![seq.into(), owner.into(), text(error), now.into()],
        ),
    };
    let n = db.exec(&sql, &args)?;
    let mut event = event.clone();
    if n == 0 {
        event["note"] = Value::from("recorded in history only: the entry had moved on");
    }
    store::add_history(db, seq, now, &event)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The queries a flush runs once per entry must be index lookups: a scan of the table per
    /// entry makes a flush quadratic in the backlog (10,000 offline returns).
    #[test]
    fn the_per_entry_queries_use_indexes() {
        let dir = std::env::temp_dir().join(format!("wdt-lease-plan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let conn = super::super::sqlite::open(&dir.join("o.db").to_string_lossy())
            .unwrap()
            .conn;
        for sql in PER_ENTRY_SQL {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let n = stmt.parameter_count();
            let args: Vec<i64> = vec![0; n];
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            for step in &plan {
                assert!(
                    !step.starts_with("SCAN") || step.contains("INDEX"),
                    "{sql}\n{plan:?}"
                );
                // A rowid range from the cursor is fine only when the filter is an index's.
                assert!(
                    !step.contains("USING INTEGER PRIMARY KEY"),
                    "{sql}\n{plan:?}"
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
