//! The outbox file: one SQLite database per shop, opened by any number of processes at once.
//! WAL lets readers run beside the one writer; `synchronous=FULL` makes every commit durable
//! before it returns (the outbox promises "stored" before any byte is sent); the schema is
//! versioned with `user_version` and only ever migrated forward; `application_id` marks the
//! file as ours, so a foreign database is refused instead of written into.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde_json::Value;

use super::model::{Entry, State};
use crate::error::{Delivery, Error};

/// "WDT0": written once, checked on every open.
pub(crate) const APPLICATION_ID: i64 = 0x5744_5430;
/// Another process holding the write lock (a flush committing) makes us wait this long before
/// a storage error: commits take milliseconds, so only a wedged process reaches it.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Forward migrations: `MIGRATIONS[n]` takes the schema from version n to n + 1. Never edit a
/// released step; add one.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: entries and their history.
    "CREATE TABLE entries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        method TEXT NOT NULL,
        body TEXT NOT NULL,
        tid TEXT NOT NULL,
        marker TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        first_attempt_ms INTEGER,
        settle_at_ms INTEGER,
        in_flight INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until_ms INTEGER,
        result TEXT,
        error TEXT
    );
    CREATE INDEX entries_by_state ON entries(state, seq);
    CREATE TABLE history (
        entry INTEGER NOT NULL REFERENCES entries(seq),
        at_ms INTEGER NOT NULL,
        event TEXT NOT NULL
    );",
    // 2: `get` reads an entry's history; without an index that is a scan of every entry's.
    "CREATE INDEX history_by_entry ON history(entry, at_ms);",
    // 3: the file's own tag (markers name the file as well as the entry, so two tills' files
    // with the same caller ids never take each other's refund orders); the caller's request
    // as submitted (one id, one return); when a lease and a settle delay started (a clock
    // stepped back is noticed); indexes for the queries a flush runs per entry.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    ALTER TABLE entries ADD COLUMN request TEXT;
    ALTER TABLE entries ADD COLUMN lease_from_ms INTEGER;
    ALTER TABLE entries ADD COLUMN settle_from_ms INTEGER;
    CREATE INDEX entries_in_flight ON entries(lease_until_ms) WHERE in_flight = 1;",
];

pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

pub fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Opens (creating if missing) and migrates the file. Fails with a `config` error naming
/// `path` when the file cannot be an outbox: not SQLite, another program's database, a newer
/// schema, or not writable.
pub fn open(path: &str) -> Result<Connection, Error> {
    let bad = |what: String| Error::config_at("path", format!("outbox file {path:?}: {what}"));
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| bad(describe(&e)))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| bad(describe(&e)))?;
    // Every statement a flush runs per entry stays prepared (parsing them again per entry is a
    // good part of the library's time per entry).
    conn.set_prepared_statement_cache_capacity(64);
    let (app_id, version, tables) = header(&conn).map_err(|e| bad(describe(&e)))?;
    if !(app_id == APPLICATION_ID || (app_id == 0 && version == 0 && tables == 0)) {
        return Err(bad(
            "is an SQLite database of another program, not a libwdt outbox; choose another path"
                .into(),
        ));
    }
    if version > latest_version() {
        return Err(bad(format!(
            "was written by a newer libwdt (schema {version}, this one knows up to {}); upgrade the library",
            latest_version()
        )));
    }
    // WAL needs shared memory next to the file; on a file system without it SQLite stays in
    // its rollback journal, which is just as durable with synchronous=FULL, only slower.
    let _mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(|e| bad(describe(&e)))?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| bad(describe(&e)))?;
    migrate(&mut conn).map_err(|e| bad(describe(&e)))?;
    Ok(conn)
}

/// The file's tag: created once (by whichever process gets there first) for a new file, and on
/// the first open by this version for a file made by an older one. Lowercase hex, so it can
/// never contain the `:` or `]` that delimit a marker.
pub fn tag(conn: &Connection, fresh: &str) -> rusqlite::Result<String> {
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('tag', ?1)",
        [fresh],
    )?;
    conn.query_row("SELECT value FROM meta WHERE key = 'tag'", [], |r| r.get(0))
}

fn header(conn: &Connection) -> rusqlite::Result<(i64, i64, i64)> {
    let app_id = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    Ok((app_id, version, tables))
}

/// Applies the missing steps in one write transaction, so two processes opening a new file at
/// once migrate it once; the write also proves the file is writable before anything is
/// submitted.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    migrate_to(conn, latest_version())
}

pub fn migrate_to(conn: &mut Connection, target: i64) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, step) in MIGRATIONS.iter().enumerate().take(target as usize) {
        if (i as i64) >= version {
            tx.execute_batch(step)?;
        }
    }
    let version = version.max(target);
    tx.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {version};"
    ))?;
    tx.commit()
}

/// A failed read or write of the file: `storage`, nothing of this call sent (a caller that had
/// sent something turns it into `unknown` with the entry, see `after_send`).
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::Storage {
            delivery: Delivery::NotSent,
            entry_id: None,
            message: describe(&e),
        }
    }
}

/// SQLite's own words plus what a person can do about them.
pub fn describe(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode as C;
    let advice = match e.sqlite_error_code() {
        Some(C::NotADatabase) => {
            " (the file is not an SQLite database: not a libwdt outbox, or damaged)"
        }
        Some(C::DatabaseCorrupt) => " (the file is damaged)",
        Some(C::DiskFull) => " (the disk is full)",
        Some(C::SystemIoFailure) => {
            " (a write failed: the disk may be full or the file over a size limit)"
        }
        Some(C::ReadOnly) => " (the file or its folder is read-only)",
        Some(C::CannotOpen) => {
            " (cannot open: does the folder exist and may this user write there?)"
        }
        Some(C::PermissionDenied) => " (permission denied)",
        Some(C::DatabaseBusy) | Some(C::DatabaseLocked) => {
            " (another process holds the file locked for too long)"
        }
        _ => "",
    };
    format!("{e}{advice}")
}

/// An entry in flight (an attempt started, its outcome not recorded) is shown as `in_doubt`:
/// its request may be at the ERP, whether a send is still running or its process died.
const ENTRY_COLUMNS: &str = "id, CASE WHEN in_flight = 1 THEN 'in_doubt' ELSE state END,
    tid, attempts, created_ms, updated_ms, result, error, in_flight, lease_until_ms, settle_at_ms";

fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let json = |s: Option<String>| s.and_then(|t| serde_json::from_str::<Value>(&t).ok());
    Ok(Entry {
        id: r.get(0)?,
        state: r.get(1)?,
        tid: r.get(2)?,
        attempts: r.get(3)?,
        created_ms: r.get(4)?,
        updated_ms: r.get(5)?,
        result: json(r.get(6)?),
        error: json(r.get(7)?),
        in_flight: r.get::<_, Option<i64>>(8)?.unwrap_or(0) == 1,
        lease_until_ms: r.get(9)?,
        settle_at_ms: r.get(10)?,
    })
}

pub fn entry(conn: &Connection, id: &str) -> rusqlite::Result<Option<Entry>> {
    conn.query_row(
        &format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE id = ?1"),
        [id],
        entry_from_row,
    )
    .optional()
}

pub fn history(conn: &Connection, id: &str) -> rusqlite::Result<Vec<Value>> {
    let mut stmt = conn.prepare_cached(
        "SELECT h.at_ms, h.event FROM history h JOIN entries e ON e.seq = h.entry
         WHERE e.id = ?1 ORDER BY h.at_ms, h.rowid",
    )?;
    let rows = stmt.query_map([id], |r| {
        let at: i64 = r.get(0)?;
        let event: String = r.get(1)?;
        Ok((at, event))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (at, event) = row?;
        let mut v = serde_json::from_str::<Value>(&event).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("at_ms".into(), Value::from(at));
        }
        out.push(v);
    }
    Ok(out)
}

pub fn add_history(conn: &Connection, seq: i64, at: i64, event: &Value) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO history (entry, at_ms, event) VALUES (?1, ?2, ?3)")?
        .execute(params![seq, at, event.to_string()])?;
    Ok(())
}

/// Entries in submit order, optionally of one state, after the entry `after`.
pub fn list(
    conn: &Connection,
    state: Option<State>,
    after: Option<&str>,
    limit: u64,
) -> rusqlite::Result<(Vec<Entry>, bool)> {
    let after_seq: i64 = match after {
        Some(id) => conn
            .query_row("SELECT seq FROM entries WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .unwrap_or(i64::MAX),
        None => 0,
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM entries WHERE seq > ?1
           AND (?2 IS NULL OR (CASE WHEN in_flight = 1 THEN 'in_doubt' ELSE state END) = ?2)
         ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        params![after_seq, state, (limit + 1) as i64],
        entry_from_row,
    )?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r?);
    }
    let more = out.len() as u64 > limit;
    out.truncate(limit as usize);
    Ok((out, more))
}

pub fn count_by_state(conn: &Connection) -> rusqlite::Result<Vec<(State, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT CASE WHEN in_flight = 1 THEN 'in_doubt' ELSE state END, count(*) FROM entries
         GROUP BY 1",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> String {
        let dir = std::env::temp_dir().join(format!("wdt-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("outbox.db").to_string_lossy().into_owned()
    }

    #[test]
    fn new_file_gets_the_latest_schema_wal_and_full_sync() {
        let path = temp("new");
        let conn = open(&path).unwrap();
        let (app, version, _) = header(&conn).unwrap();
        assert_eq!((app, version), (APPLICATION_ID, latest_version()));
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
    }

    #[test]
    fn a_version_1_file_is_migrated_forward_with_its_entries() {
        let path = temp("v1");
        {
            let mut conn = Connection::open(&path).unwrap();
            migrate_to(&mut conn, 1).unwrap();
            conn.execute(
                "INSERT INTO entries (id, state, method, body, tid, created_ms, updated_ms)
                 VALUES ('old-1', 'pending', 'm', '[]', 't', 1, 1)",
                [],
            )
            .unwrap();
            let v: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(v, 1);
        }
        let conn = open(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, latest_version());
        let index: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'history_by_entry'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(index, 1);
        assert_eq!(
            entry(&conn, "old-1").unwrap().unwrap().state,
            State::Pending
        );
    }

    #[test]
    fn foreign_newer_and_non_database_files_are_refused() {
        let path = temp("foreign");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE invoices (n INTEGER); INSERT INTO invoices VALUES (1);",
            )
            .unwrap();
        }
        let e = open(&path).unwrap_err();
        assert!(
            e.to_string().contains("another program"),
            "{}",
            e.to_string()
        );
        // Nothing of theirs was touched.
        let conn = Connection::open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM invoices", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);

        let path = temp("newer");
        {
            let mut conn = Connection::open(&path).unwrap();
            migrate(&mut conn).unwrap();
            conn.execute_batch("PRAGMA user_version = 99").unwrap();
        }
        assert!(open(&path)
            .unwrap_err()
            .to_string()
            .contains("newer libwdt"));

        let path = temp("text");
        let text = "this is a text file, not a database at all. ".repeat(200);
        std::fs::write(&path, &text).unwrap();
        let e = open(&path).unwrap_err();
        assert!(
            e.to_string().contains("not an SQLite database"),
            "{}",
            e.to_string()
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "the foreign file must stay as it was"
        );
    }
}
