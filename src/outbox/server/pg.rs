//! A connection to PostgreSQL for the outbox (`postgres://user[:password]@host[:port]/db`,
//! `postgresql://` alike; the parameters libpq's URLs take).

use std::error::Error as _;
use std::fmt;
use std::str::FromStr;

use ::postgres::error::SqlState;
use ::postgres::{Client, Config, NoTls};

use super::{masked, one_password, scrub, storage, CONNECT_TIMEOUT};
use crate::error::Error;

/// `SELECT … FOR UPDATE SKIP LOCKED`, which the outbox's claims rely on, came with 9.5.
pub const MIN_VERSION_NUM: i32 = 90500;

/// `server_version_num` (150018) as text: "15.18"; before 10, three parts (90624 → "9.6.24").
pub fn version_text(num: i32) -> String {
    if num >= 100000 {
        format!("{}.{}", num / 10000, num % 10000)
    } else {
        format!("{}.{}.{}", num / 10000, num / 100 % 100, num % 100)
    }
}

/// Refuses a server without `SKIP LOCKED`, naming the version found.
pub fn check_version(num: i32) -> Result<(), String> {
    if num < MIN_VERSION_NUM {
        return Err(format!(
            "the server is PostgreSQL {}; the outbox needs PostgreSQL 9.5 or later \
             (SELECT … FOR UPDATE SKIP LOCKED)",
            version_text(num)
        ));
    }
    Ok(())
}

/// An open connection, checked: a supported version, not a standby, not read-only.
pub struct Db {
    client: Client,
    /// What to connect with again (holds the password; never printed).
    config: Config,
    url: String,
    password: Option<String>,
    version_num: i32,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("url", &self.url)
            .field(
                "server",
                &format!("PostgreSQL {}", version_text(self.version_num)),
            )
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens `url` (`postgres://` or `postgresql://`), the password from the URL or from
    /// `password` (never both). `config` errors for what the configuration must fix (the URL,
    /// a refused login, an unknown database), `storage` for the server's state (unreachable,
    /// too old, a standby, read-only).
    pub fn connect(url: &str, password: Option<&str>) -> Result<Db, Error> {
        let shown = masked(url);
        let lower = url.to_ascii_lowercase();
        // Only the URL form: a `key=value` string could hold its password anywhere, and the
        // masking knows URLs.
        if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
            return Err(Error::config_at(
                "store",
                format!("{shown} is not a postgres:// or postgresql:// URL"),
            ));
        }
        let mut config = Config::from_str(url).map_err(|e| {
            Error::config_at(
                "store",
                format!("{shown}: bad PostgreSQL URL: {}", chain(&e)),
            )
        })?;
        let in_url = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let password = one_password(in_url.as_deref(), password)?.map(str::to_owned);
        if let Some(p) = &password {
            config.password(p.as_str());
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name("libwdt outbox");
        }
        let client = open(&config, &shown, password.as_deref())?;
        let mut db = Db {
            client,
            config,
            url: shown,
            password,
            version_num: 0,
        };
        db.check()?;
        Ok(db)
    }

    /// Opens the connection again with the same options, after `is_connection_lost`: the server
    /// may have restarted (or failed over, which the check sees).
    pub fn reconnect(&mut self) -> Result<(), Error> {
        self.client = open(&self.config, &self.url, self.password.as_deref())?;
        self.check()
    }

    fn check(&mut self) -> Result<(), Error> {
        let row = self
            .client
            .query_one(
                "SELECT current_setting('server_version_num')::int, pg_is_in_recovery(), \
                 current_setting('default_transaction_read_only'), \
                 current_setting('transaction_read_only')",
                &[],
            )
            .map_err(|e| self.error(&e))?;
        let num: i32 = row.get(0);
        self.version_num = num;
        check_version(num).map_err(|m| storage(format!("{}: {m}", self.url)))?;
        // A generic plan of the claim (`state = $1 AND seq > $2 ORDER BY seq`) walks the
        // primary key from the cursor filtering on state: for the in-doubt pass that is every
        // row, on every claim. Plans made for the values at hand use the (state, seq) index.
        if num >= 120_000 {
            self.client
                .batch_execute("SET plan_cache_mode = force_custom_plan")
                .map_err(|e| self.error(&e))?;
        }
        // Every statement of the outbox reads a row or a few through an index. On a backlog
        // its statistics do not know yet (a table filled faster than autovacuum analyzes it),
        // PG estimates a handful of pending rows and reads them all with a bitmap scan and a
        // sort, on every claim: a flush becomes quadratic. Index scans stop at the first row.
        self.client
            .batch_execute("SET enable_bitmapscan = off")
            .map_err(|e| self.error(&e))?;
        let in_recovery: bool = row.get(1);
        if in_recovery {
            return Err(storage(format!(
                "{}: the server is a standby in recovery (a read-only replica): the outbox needs \
                 the primary",
                self.url
            )));
        }
        let default_ro: String = row.get(2);
        let tx_ro: String = row.get(3);
        if default_ro == "on" || tx_ro == "on" {
            return Err(storage(format!(
                "{}: transactions of this connection are read-only \
                 (default_transaction_read_only = {default_ro}, set for the server, the \
                 database or the user): a read-only account or replica? The outbox needs to write",
                self.url
            )));
        }
        Ok(())
    }

    /// The server's clock in Unix milliseconds: leases are judged by it, as every process of
    /// every machine sees the same one. clock_timestamp(), not now(): now() stands still for
    /// a whole transaction.
    // Read by the connection tests (`internals`); the store reads its own way.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn now_ms(&mut self) -> Result<i64, Error> {
        let row = self
            .client
            .query_one(
                "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint",
                &[],
            )
            .map_err(|e| self.error(&e))?;
        Ok(row.get(0))
    }

    /// The connection, for the store's statements.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// `server_version_num` (150018 for 15.18).
    // Read by the connection tests (`internals`); the store reads its own way.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn version_num(&self) -> i32 {
        self.version_num
    }

    /// The URL without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A driver error of this connection as a `storage` error (`not_sent`), described, with
    /// the URL (masked) and never the password.
    pub fn error(&self, e: &::postgres::Error) -> Error {
        storage(scrub(
            &format!("{}: {}", self.url, describe(e)),
            self.password.as_deref(),
        ))
    }
}

fn open(config: &Config, shown: &str, password: Option<&str>) -> Result<Client, Error> {
    config.connect(NoTls).map_err(|e| {
        let message = scrub(&format!("{shown}: {}", describe(&e)), password);
        if refused_by_config(&e) {
            Error::config_at("store", message)
        } else {
            storage(message)
        }
    })
}

/// A login the server refused or a database it does not have: only the configuration (or the
/// database's administrator) can fix it, retrying cannot.
fn refused_by_config(e: &::postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::INVALID_PASSWORD
            || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            || *c == SqlState::INVALID_CATALOG_NAME
    )
}

/// The error and its causes: tokio-postgres shows only its category ("db error") at the top.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cause = c.source();
    }
    out
}

/// The error with advice for what an operator can do about it.
pub fn describe(e: &::postgres::Error) -> String {
    let Some(db) = e.as_db_error() else {
        let lost = if is_connection_lost(e) {
            " (the connection to the database server was lost or never made: is it running, \
             restarting, reachable from here?)"
        } else {
            ""
        };
        return format!("{}{lost}", chain(e));
    };
    let c = db.code();
    let advice = if *c == SqlState::DISK_FULL {
        " (the database server's disk is full)"
    } else if *c == SqlState::READ_ONLY_SQL_TRANSACTION {
        " (the server or transaction is read-only: a standby, or a read-only account? The \
         outbox needs the primary)"
    } else if *c == SqlState::INVALID_PASSWORD
        || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    {
        " (access denied: check the user, its password, and pg_hba.conf's line for this \
         machine's address)"
    } else if *c == SqlState::INSUFFICIENT_PRIVILEGE {
        " (the user lacks a privilege: the outbox needs to own its schema, or CREATE on it and \
         SELECT, INSERT, UPDATE, DELETE on its tables)"
    } else if *c == SqlState::INVALID_CATALOG_NAME {
        " (unknown database: create it first; the library creates tables, not the database)"
    } else if *c == SqlState::T_R_SERIALIZATION_FAILURE {
        " (a concurrent transaction conflicted; this one was rolled back)"
    } else if *c == SqlState::T_R_DEADLOCK_DETECTED {
        " (deadlock with another connection; the transaction was rolled back)"
    } else if *c == SqlState::LOCK_NOT_AVAILABLE {
        " (another connection holds the rows locked)"
    } else if is_connection_lost(e) {
        " (the connection to the database server was lost: restarting or unreachable?)"
    } else {
        ""
    };
    let mut out = format!("PostgreSQL error {}: {}", c.code(), db.message());
    if let Some(d) = db.detail() {
        out.push_str(&format!(" ({d})"));
    }
    out.push_str(advice);
    out
}

/// Whether the connection is gone (server restarted or shut down, network cut, terminated):
/// the store opens a new one before its next transaction, never inside one whose fate it
/// does not know.
pub fn is_connection_lost(e: &::postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(c) = e.code() {
        // Class 08: connection exception; 57P01-57P03: the server shut down or is starting.
        return c.code().starts_with("08")
            || *c == SqlState::ADMIN_SHUTDOWN
            || *c == SqlState::CRASH_SHUTDOWN
            || *c == SqlState::CANNOT_CONNECT_NOW;
    }
    // Reading or writing the socket failed, or the connect did ("error connecting to
    // server", "timeout waiting for server").
    let mut cause = e.source();
    while let Some(c) = cause {
        if c.is::<std::io::Error>() {
            return true;
        }
        cause = c.source();
    }
    let top = e.to_string();
    top.starts_with("error connecting") || top.starts_with("timeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_without_skip_locked_are_refused_naming_the_version() {
        assert_eq!(version_text(150018), "15.18");
        assert_eq!(version_text(90624), "9.6.24");
        assert_eq!(version_text(90500), "9.5.0");
        for ok in [90500, 90624, 100023, 150018, 170002] {
            assert!(check_version(ok).is_ok(), "{ok}");
        }
        for (old, shown) in [(90424, "9.4.24"), (90310, "9.3.10"), (80423, "8.4.23")] {
            let m = check_version(old).unwrap_err();
            assert!(m.contains(shown), "{m}");
            assert!(m.contains("SKIP LOCKED"), "{m}");
        }
    }

    #[test]
    fn a_failed_connect_never_shows_the_password() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        for (url, given) in [
            (
                format!("postgres://wdt:Pw_in_url_42@127.0.0.1:{port}/wdt_test"),
                None,
            ),
            (
                format!("postgresql://wdt@127.0.0.1:{port}/wdt_test"),
                Some("Pw_in_url_42"),
            ),
            (
                format!("postgres://wdt@127.0.0.1:{port}/wdt_test?password=Pw_in_url_42"),
                None,
            ),
        ] {
            let e = Db::connect(&url, given).unwrap_err();
            for shown in [e.to_string(), format!("{e:?}")] {
                assert!(!shown.contains("Pw_in_url_42"), "{shown}");
                assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
                assert!(shown.contains("running"), "{shown}");
            }
            assert_eq!(e.kind(), "storage", "{e}");
        }
        let e =
            Db::connect("postgres://wdt:Pw_in_url_42@127.0.0.1:1/db?bogus=1", None).unwrap_err();
        assert_eq!(e.kind(), "config", "{e}");
        assert!(!format!("{e} {e:?}").contains("Pw_in_url_42"), "{e:?}");
        let e = Db::connect("host=127.0.0.1 password=Pw_in_url_42", None).unwrap_err();
        assert_eq!(e.kind(), "config", "{e}");
        assert!(!format!("{e} {e:?}").contains("Pw_in_url_42"), "{e:?}");
    }
}
