//! The outbox's reads and writes of entries and their history, written once for every store
//! (see `sql`). Each function runs inside the caller's transaction when there is one.

use serde_json::Value;

use super::model::{Entry, State};
use super::sql::{Db, DbErr, DbResult, Row};

/// An entry in flight (an attempt started, its outcome not recorded) is shown as `in_doubt`:
/// its request may be at the ERP, whether a send is still running or its process died.
const ENTRY_COLUMNS: &str = "id, CASE WHEN in_flight = 1 THEN 'in_doubt' ELSE state END,
    tid, attempts, created_ms, updated_ms, result, error, in_flight, lease_until_ms, settle_at_ms";

pub fn state(r: &Row, i: usize) -> DbResult<State> {
    let name = r.text(i)?;
    State::parse(&name).ok_or_else(|| DbErr::other(format!("unknown entry state {name:?}")))
}

fn entry_from_row(r: &Row) -> DbResult<Entry> {
    let json = |s: Option<String>| s.and_then(|t| serde_json::from_str::<Value>(&t).ok());
    Ok(Entry {
        id: r.text(0)?,
        state: state(r, 1)?,
        tid: r.text(2)?,
        attempts: r.int(3)?,
        created_ms: r.int(4)?,
        updated_ms: r.int(5)?,
        result: json(r.opt_text(6)?),
        error: json(r.opt_text(7)?),
        in_flight: r.opt_int(8)?.unwrap_or(0) == 1,
        lease_until_ms: r.opt_int(9)?,
        settle_at_ms: r.opt_int(10)?,
    })
}

pub fn entry(db: &mut dyn Db, id: &str) -> DbResult<Option<Entry>> {
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE id = ?1");
    match db.rows(&sql, &[id.into()])?.first() {
        Some(r) => entry_from_row(r).map(Some),
        None => Ok(None),
    }
}

pub fn history(db: &mut dyn Db, id: &str) -> DbResult<Vec<Value>> {
    let rows = db.rows(
        "SELECT h.at_ms, h.event FROM history h JOIN entries e ON e.seq = h.entry
         WHERE e.id = ?1 ORDER BY h.at_ms, h.rowid",
        &[id.into()],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut v = serde_json::from_str::<Value>(&r.text(1)?).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("at_ms".into(), Value::from(r.int(0)?));
        }
        out.push(v);
    }
    Ok(out)
}

pub fn add_history(db: &mut dyn Db, seq: i64, at: i64, event: &Value) -> DbResult<()> {
    db.exec(
        "INSERT INTO history (entry, at_ms, event) VALUES (?1, ?2, ?3)",
        &[seq.into(), at.into(), event.to_string().into()],
    )?;
    Ok(())
}

/// Entries in submit order, optionally of one state, after the entry `after`.
pub fn list(
    db: &mut dyn Db,
    state: Option<State>,
    after: Option<&str>,
    limit: u64,
) -> DbResult<(Vec<Entry>, bool)> {
    let after_seq: i64 = match after {
        Some(id) => match db
            .rows("SELECT seq FROM entries WHERE id = ?1", &[id.into()])?
            .first()
        {
            Some(r) => r.int(0)?,
            None => i64::MAX,
        },
        None => 0,
    };
    // Two statements rather than `?2 IS NULL OR …`: a parameter only ever compared with NULL
    // has no type a server could infer.
    let rows = match state {
        Some(state) => db.rows(
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM entries WHERE seq > ?1
                   AND (CASE WHEN in_flight = 1 THEN 'in_doubt' ELSE state END) = ?2
                 ORDER BY seq LIMIT ?3"
            ),
            &[
                after_seq.into(),
                state.as_str().into(),
                ((limit + 1) as i64).into(),
            ],
        )?,
        None => db.rows(
            &format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE seq > ?1 ORDER BY seq LIMIT ?2"),
            &[after_seq.into(), ((limit + 1) as i64).into()],
        )?,
    };
    let mut out = rows
        .iter()
        .map(entry_from_row)
        .collect::<DbResult<Vec<_>>>()?;
    let more = out.len() as u64 > limit;
    out.truncate(limit as usize);
    Ok((out, more))
}

pub fn count_by_state(db: &mut dyn Db) -> DbResult<Vec<(State, i64)>> {
    db.rows(
        "SELECT CASE WHEN in_flight = 1 THEN 'in_doubt' ELSE state END, count(*) FROM entries
         GROUP BY 1",
        &[],
    )?
    .iter()
    .map(|r| Ok((state(r, 0)?, r.int(1)?)))
    .collect()
}

/// What is stored under an id already: the request as submitted (None for entries made
/// before it was stored), the marker, and the body as sent.
pub struct Stored {
    pub request: Option<String>,
    pub marker: Option<String>,
    pub body: String,
}

pub fn stored(db: &mut dyn Db, id: &str) -> DbResult<Option<Stored>> {
    match db
        .rows(
            "SELECT request, marker, body FROM entries WHERE id = ?1",
            &[id.into()],
        )?
        .first()
    {
        Some(r) => Ok(Some(Stored {
            request: r.opt_text(0)?,
            marker: r.opt_text(1)?,
            body: r.text(2)?,
        })),
        None => Ok(None),
    }
}

/// A new pending entry.
pub struct New<'a> {
    pub id: &'a str,
    pub method: &'a str,
    pub body: &'a str,
    pub tid: &'a str,
    pub marker: Option<&'a str>,
    pub request: &'a str,
}

/// Inserts the entry and its `stored` event; its seq.
pub fn insert(db: &mut dyn Db, e: &New<'_>, now: i64) -> DbResult<i64> {
    db.exec(
        "INSERT INTO entries (id, state, method, body, tid, marker, request, created_ms,
             updated_ms)
         VALUES (?1, 'pending', ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        &[
            e.id.into(),
            e.method.into(),
            e.body.into(),
            e.tid.into(),
            e.marker.into(),
            e.request.into(),
            now.into(),
        ],
    )?;
    let seq = match db
        .rows("SELECT seq FROM entries WHERE id = ?1", &[e.id.into()])?
        .first()
    {
        Some(r) => r.int(0)?,
        None => return Err(DbErr::other("the entry just inserted cannot be read back")),
    };
    add_history(db, seq, now, &serde_json::json!({"event": "stored"}))?;
    Ok(seq)
}
