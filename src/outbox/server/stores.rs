//! The outbox's `sql::Db` on MySQL/MariaDB and on PostgreSQL: the statements written once in
//! `store` and `lease`, translated (see `sql::translate`) and run on the connections of
//! `mysql` and `pg`. A lost connection is opened again before the next transaction, never
//! inside one: whether the interrupted commit landed is the reconciliation's question, not a
//! guess of this layer.

use std::collections::HashMap;

use ::mysql::prelude::Queryable;
use ::postgres::types::{ToSql, Type};

use super::super::sql::{translate, Db, DbErr, DbErrKind, DbResult, Row, V};
use super::schema::{self, Dialect, Raw};
use super::{mysql, pg};
use crate::error::Error;

/// The message of a connection's error, without its category (the store's own error adds it).
fn message(e: Error) -> String {
    match e {
        Error::Storage { message, .. } | Error::Config { message, .. } => message,
        other => other.to_string(),
    }
}

/// What both stores keep besides the connection: their translations, and whether the
/// connection must be opened again before the next statement.
#[derive(Default)]
struct State {
    translated: HashMap<String, (String, Vec<usize>)>,
    lost: bool,
    in_tx: bool,
}

impl State {
    fn translation(&mut self, sql: &str, param: fn(usize) -> String) -> (String, Vec<usize>) {
        if let Some(t) = self.translated.get(sql) {
            return t.clone();
        }
        let t = translate(sql, param);
        self.translated.insert(sql.to_owned(), t.clone());
        t
    }
}

/// What both stores share around their connection: statements run as they are, and the
/// transaction and reconnection state.
trait Server: Raw {
    fn state(&mut self) -> &mut State;
}

fn begin(db: &mut impl Server, sql: &str) -> DbResult<()> {
    db.raw_exec(sql)?;
    db.state().in_tx = true;
    Ok(())
}

fn commit(db: &mut impl Server) -> DbResult<()> {
    let r = db.raw_exec("COMMIT");
    db.state().in_tx = false;
    r
}

/// A lost connection took its transaction with it: nothing to roll back on it.
fn rollback(db: &mut impl Server) {
    if db.state().in_tx && !db.state().lost {
        let _rolled_back_or_gone = db.raw_exec("ROLLBACK");
    }
    db.state().in_tx = false;
}

fn clock(db: &mut impl Server, sql: &str) -> DbResult<i64> {
    match db.raw_rows(sql, &[])?.first() {
        Some(r) => r.int(0),
        None => Err(DbErr::other("the database server returned no time")),
    }
}

/// An outbox on MySQL or MariaDB.
pub struct MyStore {
    db: mysql::Db,
    state: State,
}

impl std::fmt::Debug for MyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.db.fmt(f)
    }
}

impl MyStore {
    pub fn open(url: &str, password: Option<&str>) -> Result<MyStore, Error> {
        let mut s = MyStore {
            db: mysql::Db::connect(url, password)?,
            state: State::default(),
        };
        let shown = s.db.url().to_owned();
        schema::migrate(&mut s, Dialect::Mysql, &shown)?;
        Ok(s)
    }

    fn fail(&mut self, e: ::mysql::Error) -> DbErr {
        let lost = mysql::is_connection_lost(&e);
        self.state.lost |= lost;
        let kind = match &e {
            _ if lost => DbErrKind::Lost,
            ::mysql::Error::MySqlError(m) if matches!(m.code, 1205 | 1213) => DbErrKind::Conflict,
            ::mysql::Error::MySqlError(m) if m.code == 1062 => DbErrKind::Duplicate,
            _ => DbErrKind::Other,
        };
        DbErr {
            kind,
            message: message(self.db.error(&e)),
        }
    }

    fn ready(&mut self) -> DbResult<()> {
        if self.state.lost && !self.state.in_tx {
            self.db.reconnect().map_err(|e| DbErr {
                kind: DbErrKind::Lost,
                message: message(e),
            })?;
            self.state.lost = false;
        }
        Ok(())
    }

    fn params(args: &[V], order: &[usize]) -> ::mysql::Params {
        if order.is_empty() {
            return ::mysql::Params::Empty;
        }
        ::mysql::Params::Positional(
            order
                .iter()
                .map(|n| match n.checked_sub(1).and_then(|i| args.get(i)) {
                    Some(V::Int(i)) => ::mysql::Value::Int(*i),
                    Some(V::Text(t)) => ::mysql::Value::Bytes(t.clone().into_bytes()),
                    Some(V::Null) | None => ::mysql::Value::NULL,
                })
                .collect(),
        )
    }

    fn run_rows(&mut self, text: &str, params: ::mysql::Params) -> DbResult<Vec<Row>> {
        let rows: Result<Vec<::mysql::Row>, _> = self.db.conn().exec(text, params);
        let rows = rows.map_err(|e| self.fail(e))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                Row(r
                    .unwrap()
                    .into_iter()
                    .map(|v| match v {
                        ::mysql::Value::NULL => V::Null,
                        ::mysql::Value::Int(i) => V::Int(i),
                        ::mysql::Value::UInt(u) => V::Int(u as i64),
                        ::mysql::Value::Bytes(b) => {
                            V::Text(String::from_utf8_lossy(&b).into_owned())
                        }
                        ::mysql::Value::Float(f) => V::Int(f as i64),
                        ::mysql::Value::Double(f) => V::Int(f as i64),
                        other => V::Text(other.as_sql(true)),
                    })
                    .collect())
            })
            .collect())
    }
}

impl Server for MyStore {
    fn state(&mut self) -> &mut State {
        &mut self.state
    }
}

impl Raw for MyStore {
    fn raw_exec(&mut self, sql: &str) -> DbResult<()> {
        self.ready()?;
        self.db.conn().query_drop(sql).map_err(|e| self.fail(e))
    }

    fn raw_rows(&mut self, sql: &str, args: &[V]) -> DbResult<Vec<Row>> {
        self.ready()?;
        let order: Vec<usize> = (1..=args.len()).collect();
        self.run_rows(sql, Self::params(args, &order))
    }
}

impl Db for MyStore {
    fn exec(&mut self, sql: &str, args: &[V]) -> DbResult<u64> {
        self.ready()?;
        let (text, order) = self.state.translation(sql, |_| "?".to_owned());
        let params = Self::params(args, &order);
        self.db
            .conn()
            .exec_drop(text, params)
            .map_err(|e| self.fail(e))?;
        // Rows matched, not rows changed (CLIENT_FOUND_ROWS, set at connect): a lease renewed
        // to the same values is still ours.
        Ok(self.db.conn().affected_rows())
    }

    fn rows(&mut self, sql: &str, args: &[V]) -> DbResult<Vec<Row>> {
        self.ready()?;
        let (text, order) = self.state.translation(sql, |_| "?".to_owned());
        let params = Self::params(args, &order);
        self.run_rows(&text, params)
    }

    fn begin(&mut self) -> DbResult<()> {
        begin(self, "START TRANSACTION")
    }

    fn commit(&mut self) -> DbResult<()> {
        commit(self)
    }

    fn rollback(&mut self) {
        rollback(self)
    }

    fn now_ms(&mut self) -> DbResult<i64> {
        clock(self, "SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)")
    }

    fn local_clock(&self) -> bool {
        false
    }

    fn claim_lock(&self) -> &'static str {
        " FOR UPDATE SKIP LOCKED"
    }

    fn tag(&mut self, fresh: &str) -> DbResult<String> {
        schema::tag(self, Dialect::Mysql, fresh)
    }
}

/// An outbox on PostgreSQL.
pub struct PgStore {
    db: pg::Db,
    state: State,
    prepared: HashMap<String, ::postgres::Statement>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.db.fmt(f)
    }
}

impl PgStore {
    pub fn open(url: &str, password: Option<&str>) -> Result<PgStore, Error> {
        let mut s = PgStore {
            db: pg::Db::connect(url, password)?,
            state: State::default(),
            prepared: HashMap::new(),
        };
        let shown = s.db.url().to_owned();
        schema::migrate(&mut s, Dialect::Postgres, &shown)?;
        Ok(s)
    }

    fn fail(&mut self, e: ::postgres::Error) -> DbErr {
        use ::postgres::error::SqlState;
        let lost = pg::is_connection_lost(&e);
        self.state.lost |= lost;
        let code = e.code().cloned();
        let kind = match code {
            _ if lost => DbErrKind::Lost,
            Some(c) if c == SqlState::T_R_DEADLOCK_DETECTED => DbErrKind::Conflict,
            Some(c) if c == SqlState::T_R_SERIALIZATION_FAILURE => DbErrKind::Conflict,
            Some(c) if c == SqlState::UNIQUE_VIOLATION => DbErrKind::Duplicate,
            _ => DbErrKind::Other,
        };
        DbErr {
            kind,
            message: message(self.db.error(&e)),
        }
    }

    fn ready(&mut self) -> DbResult<()> {
        let closed = self.db.client().is_closed();
        if (self.state.lost || closed) && !self.state.in_tx {
            self.db.reconnect().map_err(|e| DbErr {
                kind: DbErrKind::Lost,
                message: message(e),
            })?;
            // Prepared statements belong to the connection that prepared them.
            self.prepared.clear();
            self.state.lost = false;
        }
        Ok(())
    }

    fn statement(&mut self, text: &str) -> DbResult<::postgres::Statement> {
        if let Some(s) = self.prepared.get(text) {
            return Ok(s.clone());
        }
        let s = self.db.client().prepare(text).map_err(|e| self.fail(e))?;
        self.prepared.insert(text.to_owned(), s.clone());
        Ok(s)
    }

    /// The values as the types the server inferred for the statement's parameters.
    fn params(stmt: &::postgres::Statement, args: &[V]) -> Vec<Box<dyn ToSql + Sync>> {
        stmt.params()
            .iter()
            .enumerate()
            .map(|(i, ty)| -> Box<dyn ToSql + Sync> {
                let v = args.get(i).cloned().unwrap_or(V::Null);
                let int = match &v {
                    V::Int(n) => Some(*n),
                    V::Text(t) => t.parse().ok(),
                    V::Null => None,
                };
                let text = match v {
                    V::Int(n) => Some(n.to_string()),
                    V::Text(t) => Some(t),
                    V::Null => None,
                };
                match *ty {
                    Type::INT8 => Box::new(int),
                    Type::INT4 => Box::new(int.map(|n| n as i32)),
                    Type::INT2 => Box::new(int.map(|n| n as i16)),
                    _ => Box::new(text),
                }
            })
            .collect()
    }

    fn run(&mut self, text: &str, args: &[V]) -> DbResult<Vec<Row>> {
        let stmt = self.statement(text)?;
        let params = Self::params(&stmt, args);
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        let rows = self
            .db
            .client()
            .query(&stmt, &refs)
            .map_err(|e| self.fail(e))?;
        rows.iter().map(pg_row).collect()
    }
}

fn pg_row(r: &::postgres::Row) -> DbResult<Row> {
    let bad = |e: ::postgres::Error| DbErr::other(format!("reading a row: {e}"));
    let mut out = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        let v = match *c.type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i).map_err(bad)?.map(V::Int),
            Type::INT4 => r
                .try_get::<_, Option<i32>>(i)
                .map_err(bad)?
                .map(|n| V::Int(n.into())),
            Type::INT2 => r
                .try_get::<_, Option<i16>>(i)
                .map_err(bad)?
                .map(|n| V::Int(n.into())),
            // pg_advisory_lock() and the like return nothing to read.
            Type::VOID => None,
            Type::BOOL => r
                .try_get::<_, Option<bool>>(i)
                .map_err(bad)?
                .map(|b| V::Int(b.into())),
            _ => r.try_get::<_, Option<String>>(i).map_err(bad)?.map(V::Text),
        };
        out.push(v.unwrap_or(V::Null));
    }
    Ok(Row(out))
}

impl Server for PgStore {
    fn state(&mut self) -> &mut State {
        &mut self.state
    }
}

impl Raw for PgStore {
    fn raw_exec(&mut self, sql: &str) -> DbResult<()> {
        self.ready()?;
        self.db
            .client()
            .batch_execute(sql)
            .map_err(|e| self.fail(e))
    }

    fn raw_rows(&mut self, sql: &str, args: &[V]) -> DbResult<Vec<Row>> {
        self.ready()?;
        self.run(sql, args)
    }
}

impl Db for PgStore {
    fn exec(&mut self, sql: &str, args: &[V]) -> DbResult<u64> {
        self.ready()?;
        let (text, _) = self.state.translation(sql, |n| format!("${n}"));
        let stmt = self.statement(&text)?;
        let params = Self::params(&stmt, args);
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        self.db
            .client()
            .execute(&stmt, &refs)
            .map_err(|e| self.fail(e))
    }

    fn rows(&mut self, sql: &str, args: &[V]) -> DbResult<Vec<Row>> {
        self.ready()?;
        let (text, _) = self.state.translation(sql, |n| format!("${n}"));
        self.run(&text, args)
    }

    fn begin(&mut self) -> DbResult<()> {
        begin(self, "BEGIN")
    }

    fn commit(&mut self) -> DbResult<()> {
        commit(self)
    }

    fn rollback(&mut self) {
        rollback(self)
    }

    fn now_ms(&mut self) -> DbResult<i64> {
        // clock_timestamp(), not now(): now() stands still for a whole transaction.
        clock(
            self,
            "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint",
        )
    }

    fn local_clock(&self) -> bool {
        false
    }

    fn claim_lock(&self) -> &'static str {
        " FOR UPDATE SKIP LOCKED"
    }

    fn tag(&mut self, fresh: &str) -> DbResult<String> {
        schema::tag(self, Dialect::Postgres, fresh)
    }
}
