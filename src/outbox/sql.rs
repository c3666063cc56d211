//! The one seam between the outbox's logic and a database. The outbox's statements are written
//! once, in SQLite's spelling (`?N` parameters, the tables `entries`, `history`, `meta`); each
//! store translates them to its own (`$N` or positional `?`, the `wdt_outbox_` prefix a shared
//! server database needs) and adds the row lock a claim needs where other machines compete
//! (`FOR UPDATE SKIP LOCKED`). The states, leases, markers and reconciliation above this seam
//! are therefore the same code for every store, and cannot drift apart.

use crate::error::{Delivery, Error};

/// A parameter or a column value: the outbox stores only integers and text.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for V {
    fn from(v: i64) -> V {
        V::Int(v)
    }
}

impl From<&str> for V {
    fn from(v: &str) -> V {
        V::Text(v.to_owned())
    }
}

impl From<String> for V {
    fn from(v: String) -> V {
        V::Text(v)
    }
}

impl<T: Into<V>> From<Option<T>> for V {
    fn from(v: Option<T>) -> V {
        v.map_or(V::Null, Into::into)
    }
}

/// One result row, read by column index.
#[derive(Debug, Clone, Default)]
pub struct Row(pub Vec<V>);

impl Row {
    fn at(&self, i: usize) -> Result<&V, DbErr> {
        self.0
            .get(i)
            .ok_or_else(|| DbErr::other(format!("the outbox's query has no column {i}")))
    }

    pub fn int(&self, i: usize) -> Result<i64, DbErr> {
        self.opt_int(i)?
            .ok_or_else(|| DbErr::other(format!("column {i} of the outbox's query is NULL")))
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, DbErr> {
        match self.at(i)? {
            V::Null => Ok(None),
            V::Int(v) => Ok(Some(*v)),
            // Some servers answer integer expressions as decimal text.
            V::Text(t) => t
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| DbErr::other(format!("column {i}: {t:?} is not an integer"))),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, DbErr> {
        self.opt_text(i)?
            .ok_or_else(|| DbErr::other(format!("column {i} of the outbox's query is NULL")))
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DbErr> {
        match self.at(i)? {
            V::Null => Ok(None),
            V::Text(t) => Ok(Some(t.clone())),
            V::Int(v) => Ok(Some(v.to_string())),
        }
    }
}

/// What kind of failure a store met, for the decisions the outbox takes on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrKind {
    /// The database gave up this transaction to break a deadlock or a serialization conflict;
    /// nothing of it was applied, so it may be run again as a whole.
    Conflict,
    /// A unique key refused a row (two processes submitting one id at the same moment).
    Duplicate,
    /// The connection is gone (server restarted, network cut): reconnect before the next
    /// transaction. Whether the last commit landed is unknown.
    Lost,
    Other,
}

/// A store's failure in its own words plus what a person can do about it.
#[derive(Debug, Clone)]
pub struct DbErr {
    pub kind: DbErrKind,
    pub message: String,
}

impl DbErr {
    pub fn other(message: impl Into<String>) -> DbErr {
        DbErr {
            kind: DbErrKind::Other,
            message: message.into(),
        }
    }
}

/// A failed read or write of the store: `storage`, nothing of this call sent (a caller that
/// had sent something turns it into `unknown` with the entry, see `outbox::after_send`).
impl From<DbErr> for Error {
    fn from(e: DbErr) -> Error {
        Error::Storage {
            delivery: Delivery::NotSent,
            entry_id: None,
            message: e.message,
        }
    }
}

pub type DbResult<T> = Result<T, DbErr>;

/// A connection to one outbox store. One at a time per process-wide outbox (it sits behind
/// the outbox's mutex); other processes and machines share the data, never the connection.
pub trait Db: Send {
    /// Runs a statement written in the outbox's spelling; the number of rows it changed.
    fn exec(&mut self, sql: &str, args: &[V]) -> DbResult<u64>;
    /// Runs a query written in the outbox's spelling; every row.
    fn rows(&mut self, sql: &str, args: &[V]) -> DbResult<Vec<Row>>;
    /// Starts a write transaction: on SQLite it takes the file's write lock at once (so a read
    /// followed by a write cannot be overtaken); servers lock rows as the statements reach them.
    fn begin(&mut self) -> DbResult<()>;
    fn commit(&mut self) -> DbResult<()>;
    fn rollback(&mut self);
    /// The clock leases and settle delays are judged by, in Unix milliseconds: the till's own
    /// for its SQLite file; the server's for a shared database, because the machines sharing
    /// it have clocks that differ and only the server's is the same for all of them.
    fn now_ms(&mut self) -> DbResult<i64>;
    /// Whether `now_ms` is this machine's wall clock (so the tests' stepped clock applies).
    fn local_clock(&self) -> bool;
    /// What a claim appends to its row query so two machines never take one row:
    /// `FOR UPDATE SKIP LOCKED` on servers; nothing on SQLite, whose write lock is the file's.
    fn claim_lock(&self) -> &'static str;

    /// The file's or database's tag (see `model::marker_for`): `fresh` is stored if none is yet.
    fn tag(&mut self, fresh: &str) -> DbResult<String>;
}

/// Runs `f` in one write transaction, committed if it returns Ok and rolled back otherwise. A
/// transaction the database gave up (deadlock) was not applied and is run again, a few times.
pub fn tx<T>(db: &mut dyn Db, mut f: impl FnMut(&mut dyn Db) -> DbResult<T>) -> DbResult<T> {
    let mut tries = 0;
    loop {
        tries += 1;
        db.begin()?;
        let r = f(db).and_then(|v| db.commit().map(|()| v));
        match r {
            Ok(v) => return Ok(v),
            Err(e) => {
                db.rollback();
                if e.kind != DbErrKind::Conflict || tries >= 5 {
                    return Err(e);
                }
            }
        }
    }
}

/// Table names on a shared server database carry this prefix, so the outbox's tables can sit
/// in a back office's existing database next to its own.
#[cfg_attr(not(feature = "server-stores"), allow(dead_code))]
pub const SERVER_PREFIX: &str = "wdt_outbox_";

/// The outbox's statement for a server: tables renamed (whole words only), the history's row
/// order column named, parameters spelled by `param` (given the 1-based number). Returns the
/// text and, for each parameter in the order it appears, its 1-based number (MySQL's `?` are
/// positional, so a number used twice is passed twice).
#[cfg_attr(not(feature = "server-stores"), allow(dead_code))]
pub fn translate(sql: &str, param: impl Fn(usize) -> String) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(sql.len() + 32);
    let mut order = Vec::new();
    let b = sql.as_bytes();
    let mut i = 0;
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        let c = b[i];
        if c == b'\'' {
            // A string literal is copied as it is.
            let end = sql[i + 1..].find('\'').map_or(b.len(), |e| i + 1 + e + 1);
            out.push_str(&sql[i..end]);
            i = end;
        } else if c == b'?' {
            let digits = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
            let n: usize = sql[i + 1..i + 1 + digits].parse().unwrap_or(0);
            out.push_str(&param(n));
            order.push(n);
            i += 1 + digits;
        } else if word(c) && (i == 0 || !word(b[i - 1])) {
            let len = b[i..].iter().take_while(|d| word(**d)).count();
            let w = &sql[i..i + len];
            match w {
                "entries" | "history" | "meta" => {
                    out.push_str(SERVER_PREFIX);
                    out.push_str(w);
                }
                // SQLite's implicit row number; the server tables name theirs `n`.
                "rowid" => out.push('n'),
                _ => out.push_str(w),
            }
            i += len;
        } else {
            let ch = sql[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    (out, order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_renames_tables_and_spells_parameters() {
        let sql = "SELECT h.at_ms FROM history h JOIN entries e ON e.seq = h.entry
                   WHERE e.id = ?1 AND e.state = 'entries' AND ?2 IS NULL OR x = ?2 ORDER BY h.rowid";
        let (pg, order) = translate(sql, |n| format!("${n}"));
        assert!(pg.contains("FROM wdt_outbox_history h JOIN wdt_outbox_entries e"));
        assert!(pg.contains("e.id = $1"), "{pg}");
        assert!(pg.contains("'entries'"), "a literal is not a table: {pg}");
        assert!(pg.contains("h.entry"), "a column is not a table: {pg}");
        assert!(pg.ends_with("ORDER BY h.n"), "{pg}");
        assert_eq!(order, vec![1, 2, 2]);
        let (my, order) = translate(sql, |_| "?".into());
        assert!(my.contains("e.id = ? AND"), "{my}");
        assert_eq!(order, vec![1, 2, 2]);
        let (same, _) = translate("SELECT 1 FROM metadata, entries_x", |_| "?".into());
        assert_eq!(same, "SELECT 1 FROM metadata, entries_x");
    }
}
