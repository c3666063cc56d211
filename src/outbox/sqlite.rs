//! The SQLite store, a till's outbox file: one SQLite database per shop, opened by any number of processes at once.
//! WAL lets readers run beside the one writer; `synchronous=FULL` makes every commit durable
//! before it returns (the outbox promises "stored" before any byte is sent); the schema is
//! versioned with `user_version` and only ever migrated forward; `application_id` marks the
//! file as ours, so a foreign database is refused instead of written into.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::sql::{Db, DbErr, DbErrKind, DbResult, Row, V};
use crate::error::Error;

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

/// The local wall clock in Unix milliseconds (negative before 1970, never a panic).
pub fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Opens (creating if missing) and migrates the file. Fails with a `config` error naming
/// `path` when the file cannot be an outbox: not SQLite, another program's database, a newer
/// schema, or not writable.
pub fn open(path: &str) -> Result<Sqlite, Error> {
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
    Ok(Sqlite { conn })
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

impl From<rusqlite::Error> for DbErr {
    fn from(e: rusqlite::Error) -> DbErr {
        let kind = match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => DbErrKind::Duplicate,
            _ => DbErrKind::Other,
        };
        DbErr {
            kind,
            message: describe(&e),
        }
    }
}

/// A failed read or write of the file: `storage`, nothing of this call sent.
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        DbErr::from(e).into()
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

/// An open outbox file.
#[derive(Debug)]
pub struct Sqlite {
    pub(crate) conn: Connection,
}

impl rusqlite::ToSql for V {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            V::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            V::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            V::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
        })
    }
}

fn value(v: ValueRef<'_>) -> V {
    match v {
        ValueRef::Null => V::Null,
        ValueRef::Integer(i) => V::Int(i),
        ValueRef::Real(f) => V::Int(f as i64),
        ValueRef::Text(t) | ValueRef::Blob(t) => V::Text(String::from_utf8_lossy(t).into_owned()),
    }
}

impl Db for Sqlite {
    fn exec(&mut self, sql: &str, args: &[V]) -> DbResult<u64> {
        let n = self
            .conn
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(args))?;
        Ok(n as u64)
    }

    fn rows(&mut self, sql: &str, args: &[V]) -> DbResult<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(width);
            for i in 0..width {
                row.push(value(r.get_ref(i)?));
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn begin(&mut self) -> DbResult<()> {
        Ok(self.conn.execute_batch("BEGIN IMMEDIATE")?)
    }

    fn commit(&mut self) -> DbResult<()> {
        Ok(self.conn.execute_batch("COMMIT")?)
    }

    fn rollback(&mut self) {
        if !self.conn.is_autocommit() {
            let _rolled_back_or_already_gone = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn now_ms(&mut self) -> DbResult<i64> {
        Ok(now_ms())
    }

    fn local_clock(&self) -> bool {
        true
    }

    fn claim_lock(&self) -> &'static str {
        ""
    }

    /// Created once (by whichever process gets there first) for a new file, and on the first
    /// open by this version for a file made by an older one.
    fn tag(&mut self, fresh: &str) -> DbResult<String> {
        self.conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('tag', ?1)",
            [fresh],
        )?;
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'tag'", [], |r| r.get(0))?)
    }
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
        let conn = open(&path).unwrap().conn;
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
        let mut db = open(&path).unwrap();
        let conn = &db.conn;
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
            super::super::store::entry(&mut db, "old-1")
                .unwrap()
                .unwrap()
                .state,
            super::super::model::State::Pending
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
