//! The outbox's tables on a server database, created and migrated by the library. The version
//! is a row (`schema_version` in `wdt_outbox_meta`); the steps run under a server-wide lock
//! (MySQL's `GET_LOCK`, PostgreSQL's advisory lock), so processes of several machines opening a
//! new database at once create it once. A database whose tables a newer libwdt made is refused
//! untouched, as the SQLite store refuses a newer file.

use super::super::sql::{Db, DbErr, DbResult, V};
use crate::error::Error;

/// Which server's spelling of the DDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Mysql,
    Postgres,
}

/// `MYSQL[n]` / `POSTGRES[n]` take the schema from version n to n + 1. Never edit a released
/// step; add one. Version 1 matches the SQLite file's version 3: the same columns, so the
/// statements written once in `store` and `lease` run on both.
const MYSQL: &[&[&str]] = &[&[
    "CREATE TABLE IF NOT EXISTS wdt_outbox_entries (
        seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        id VARCHAR(64) NOT NULL,
        state VARCHAR(32) NOT NULL,
        method VARCHAR(128) NOT NULL,
        body MEDIUMTEXT NOT NULL,
        tid TEXT NOT NULL,
        marker TEXT NULL,
        request MEDIUMTEXT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        created_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL,
        first_attempt_ms BIGINT NULL,
        settle_at_ms BIGINT NULL,
        settle_from_ms BIGINT NULL,
        in_flight BIGINT NOT NULL DEFAULT 0,
        lease_owner VARCHAR(64) NULL,
        lease_until_ms BIGINT NULL,
        lease_from_ms BIGINT NULL,
        result MEDIUMTEXT NULL,
        error MEDIUMTEXT NULL,
        UNIQUE KEY wdt_outbox_entries_id (id),
        KEY wdt_outbox_entries_by_state (state, seq),
        KEY wdt_outbox_entries_in_flight (in_flight, lease_until_ms)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS wdt_outbox_history (
        n BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        entry BIGINT NOT NULL,
        at_ms BIGINT NOT NULL,
        event MEDIUMTEXT NOT NULL,
        KEY wdt_outbox_history_by_entry (entry, at_ms)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
]];

const POSTGRES: &[&[&str]] = &[&[
    "CREATE TABLE IF NOT EXISTS wdt_outbox_entries (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        method TEXT NOT NULL,
        body TEXT NOT NULL,
        tid TEXT NOT NULL,
        marker TEXT,
        request TEXT,
        attempts BIGINT NOT NULL DEFAULT 0,
        created_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL,
        first_attempt_ms BIGINT,
        settle_at_ms BIGINT,
        settle_from_ms BIGINT,
        in_flight BIGINT NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until_ms BIGINT,
        lease_from_ms BIGINT,
        result TEXT,
        error TEXT
    )",
    "CREATE INDEX IF NOT EXISTS wdt_outbox_entries_by_state ON wdt_outbox_entries (state, seq)",
    "CREATE INDEX IF NOT EXISTS wdt_outbox_entries_in_flight ON wdt_outbox_entries
        (lease_until_ms) WHERE in_flight = 1",
    "CREATE TABLE IF NOT EXISTS wdt_outbox_history (
        n BIGSERIAL PRIMARY KEY,
        entry BIGINT NOT NULL REFERENCES wdt_outbox_entries (seq),
        at_ms BIGINT NOT NULL,
        event TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS wdt_outbox_history_by_entry ON wdt_outbox_history (entry, at_ms)",
]];

pub fn latest_version() -> i64 {
    MYSQL.len() as i64
}

/// Statements run as they are (no translation): they name the server tables themselves.
pub trait Raw {
    fn raw_exec(&mut self, sql: &str) -> DbResult<()>;
    fn raw_rows(&mut self, sql: &str, args: &[V]) -> DbResult<Vec<super::super::sql::Row>>;
}

/// Creates or migrates the tables, under the server-wide lock. `config` error naming `store`
/// for a database the outbox must not write: tables of a newer libwdt, or tables with the
/// outbox's names that are not the outbox's.
pub fn migrate<D: Db + Raw>(db: &mut D, dialect: Dialect, shown: &str) -> Result<(), Error> {
    let (lock, unlock) = match dialect {
        Dialect::Mysql => (
            "SELECT GET_LOCK('wdt_outbox_schema', 60)",
            "SELECT RELEASE_LOCK('wdt_outbox_schema')",
        ),
        // 0x77647430 = "wdt0".
        Dialect::Postgres => (
            "SELECT pg_advisory_lock(2003072048)",
            "SELECT pg_advisory_unlock(2003072048)",
        ),
    };
    db.raw_rows(lock, &[])?;
    let result = migrate_locked(db, dialect, shown);
    // The lock goes with the session anyway; releasing it lets others go on at once.
    let _unlocked_or_session_gone = db.raw_rows(unlock, &[]);
    result
}

fn migrate_locked<D: Db + Raw>(db: &mut D, dialect: Dialect, shown: &str) -> Result<(), Error> {
    let bad = |what: String| Error::config_at("store", format!("{shown}: {what}"));
    let tables = table_names(db, dialect)?;
    let has = |t: &str| tables.iter().any(|x| x == t);
    let version = if has("wdt_outbox_meta") {
        let rows = db.raw_rows(
            "SELECT v FROM wdt_outbox_meta WHERE k = 'schema_version'",
            &[],
        )?;
        match rows.first() {
            Some(r) => r.opt_int(0).ok().flatten().ok_or_else(|| {
                bad("wdt_outbox_meta has a schema_version that is not a number".into())
            })?,
            None => 0,
        }
    } else {
        0
    };
    if version == 0 && (has("wdt_outbox_entries") || has("wdt_outbox_history")) {
        return Err(bad(
            "has tables named wdt_outbox_* that no libwdt made (no schema_version); choose another database or schema"
                .into(),
        ));
    }
    if version > latest_version() {
        return Err(bad(format!(
            "was written by a newer libwdt (schema {version}, this one knows up to {}); upgrade the library",
            latest_version()
        )));
    }
    if version == latest_version() {
        return Ok(());
    }
    let (steps, meta) = match dialect {
        Dialect::Mysql => (
            MYSQL,
            "CREATE TABLE IF NOT EXISTS wdt_outbox_meta (k VARCHAR(64) NOT NULL PRIMARY KEY,
                 v TEXT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        ),
        Dialect::Postgres => (
            POSTGRES,
            "CREATE TABLE IF NOT EXISTS wdt_outbox_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
        ),
    };
    db.raw_exec(meta)?;
    for (i, step) in steps.iter().enumerate() {
        let to = i as i64 + 1;
        if to <= version {
            continue;
        }
        for statement in step.iter() {
            db.raw_exec(statement)?;
        }
        let upsert = match dialect {
            Dialect::Mysql => {
                "INSERT INTO wdt_outbox_meta (k, v) VALUES ('schema_version', ?)
                 ON DUPLICATE KEY UPDATE v = VALUES(v)"
            }
            Dialect::Postgres => {
                "INSERT INTO wdt_outbox_meta (k, v) VALUES ('schema_version', $1)
                 ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
            }
        };
        db.raw_rows(upsert, &[V::Text(to.to_string())])?;
    }
    Ok(())
}

/// The outbox's tables that exist in the connection's database (MySQL) or schema search path
/// (PostgreSQL).
fn table_names<D: Raw>(db: &mut D, dialect: Dialect) -> DbResult<Vec<String>> {
    let sql = match dialect {
        Dialect::Mysql => {
            "SELECT table_name FROM information_schema.tables
             WHERE table_schema = DATABASE() AND table_name LIKE 'wdt\\_outbox\\_%'"
        }
        Dialect::Postgres => {
            "SELECT c.relname::text FROM pg_catalog.pg_class c
             WHERE c.relkind IN ('r', 'p') AND c.relname LIKE 'wdt\\_outbox\\_%'
               AND pg_catalog.pg_table_is_visible(c.oid)"
        }
    };
    db.raw_rows(sql, &[])?
        .iter()
        .map(|r| r.text(0))
        .collect::<Result<Vec<_>, DbErr>>()
}

/// The tag row (see `model::marker_for`), created by whichever process gets there first.
pub fn tag<D: Raw>(db: &mut D, dialect: Dialect, fresh: &str) -> DbResult<String> {
    let insert = match dialect {
        Dialect::Mysql => "INSERT IGNORE INTO wdt_outbox_meta (k, v) VALUES ('tag', ?)",
        Dialect::Postgres => {
            "INSERT INTO wdt_outbox_meta (k, v) VALUES ('tag', $1) ON CONFLICT (k) DO NOTHING"
        }
    };
    db.raw_rows(insert, &[V::Text(fresh.to_owned())])?;
    let rows = db.raw_rows("SELECT v FROM wdt_outbox_meta WHERE k = 'tag'", &[])?;
    match rows.first() {
        Some(r) => r.text(0),
        None => Err(DbErr::other("the outbox's tag row cannot be read back")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_servers_have_every_step() {
        assert_eq!(MYSQL.len(), POSTGRES.len());
    }
}
