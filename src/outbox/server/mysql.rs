//! A connection to MySQL or MariaDB for the outbox (`mysql://user[:password]@host[:port]/db`,
//! `mariadb://` alike).

use std::fmt;

use ::mysql::prelude::Queryable;
use ::mysql::{Conn, Opts, OptsBuilder};

use super::{leading_version, masked, one_password, scrub, storage, Version, CONNECT_TIMEOUT};
use crate::error::Error;

/// Which server answers: the two differ in the versions that have `SKIP LOCKED` and in their
/// read-only variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Oracle's MySQL (or a fork that reports itself as it).
    MySql,
    /// MariaDB.
    MariaDb,
}

/// A server's version as `SELECT VERSION()` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerVersion {
    /// MySQL or MariaDB.
    pub flavor: Flavor,
    /// Its version number.
    pub version: Version,
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.flavor {
            Flavor::MySql => write!(f, "MySQL {}", self.version),
            Flavor::MariaDb => write!(f, "MariaDB {}", self.version),
        }
    }
}

/// Reads `SELECT VERSION()`: "10.11.6-MariaDB-0+deb12u1", "8.0.36", "5.7.44-log". MariaDB
/// before 11 prefixes "5.5.5-" in the handshake (never in VERSION(), but a proxy may pass the
/// handshake's string on): it is dropped.
pub fn parse_version(s: &str) -> Option<ServerVersion> {
    let mariadb = s.to_ascii_lowercase().contains("mariadb");
    let s = if mariadb {
        s.trim().strip_prefix("5.5.5-").unwrap_or(s)
    } else {
        s
    };
    Some(ServerVersion {
        flavor: if mariadb {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        },
        version: leading_version(s)?,
    })
}

/// `SELECT … FOR UPDATE SKIP LOCKED`, which the outbox's claims rely on, came with MySQL 8.0
/// and MariaDB 10.6: on an older server two flushers could claim the same entry.
pub fn check_version(v: &ServerVersion) -> Result<(), String> {
    let (needed, name) = match v.flavor {
        Flavor::MySql => ((8, 0), "MySQL 8.0"),
        Flavor::MariaDb => ((10, 6), "MariaDB 10.6"),
    };
    if (v.version.major, v.version.minor) < needed {
        return Err(format!(
            "the server is {v}; the outbox needs {name} or later (SELECT … FOR UPDATE SKIP LOCKED)"
        ));
    }
    Ok(())
}

/// An open connection, checked: a supported version, writable, its session clock in UTC.
pub struct Db {
    conn: Conn,
    /// What to connect with again (holds the password; never printed).
    opts: Opts,
    /// The URL as it may be shown.
    url: String,
    password: Option<String>,
    server: ServerVersion,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("url", &self.url)
            .field("server", &self.server.to_string())
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens `url` (`mysql://` or `mariadb://`), the password from the URL or from `password`
    /// (never both). `config` errors for what the configuration must fix (the URL, a refused
    /// login, an unknown database), `storage` for the server's state (unreachable, too old,
    /// read-only).
    pub fn connect(url: &str, password: Option<&str>) -> Result<Db, Error> {
        let shown = masked(url);
        let lower = url.to_ascii_lowercase();
        let as_mysql = if lower.starts_with("mysql://") {
            url.to_owned()
        } else if lower.starts_with("mariadb://") {
            format!("mysql://{}", &url["mariadb://".len()..])
        } else {
            return Err(Error::config_at(
                "store",
                format!("{shown} is not a mysql:// or mariadb:// URL"),
            ));
        };
        let parsed = Opts::from_url(&as_mysql).map_err(|e| {
            let secret = password.or(url_password(url));
            Error::config_at(
                "store",
                scrub(&format!("{shown}: bad MySQL URL: {e}"), secret),
            )
        })?;
        let password = one_password(parsed.get_pass(), password)?.map(str::to_owned);
        let opts: Opts = OptsBuilder::from_opts(parsed)
            .pass(password.clone())
            // Where the URL says, over TCP: the library never switches to the server's unix
            // socket on its own (another account applies there, and a test's restart of the
            // server must look the same as a remote one's).
            .prefer_socket(false)
            .tcp_connect_timeout(Some(CONNECT_TIMEOUT))
            // UTC in the session: UNIX_TIMESTAMP(NOW(3)) is then exact also in the hour a
            // daylight-saving zone repeats.
            // READ COMMITTED: a claim's `FOR UPDATE SKIP LOCKED` then locks the row it takes
            // and no gaps around it, so flushers on other machines are not held up.
            .init(vec![
                "SET time_zone = '+00:00'",
                "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            ])
            // An UPDATE reports the rows it matched, not only those it changed: a lease renewed
            // to the same values is still ours.
            .additional_capabilities(::mysql::consts::CapabilityFlags::CLIENT_FOUND_ROWS)
            // Every statement a flush runs per entry stays prepared.
            .stmt_cache_size(64)
            .into();
        let conn = open(&opts, &shown, password.as_deref())?;
        let mut db = Db {
            conn,
            opts,
            url: shown,
            password,
            server: ServerVersion {
                flavor: Flavor::MySql,
                version: Version {
                    major: 0,
                    minor: 0,
                    patch: 0,
                },
            },
        };
        db.check()?;
        Ok(db)
    }

    /// Opens the connection again with the same options, after `is_connection_lost`: the server
    /// may have restarted (or failed over to a replica, which the check refuses).
    pub fn reconnect(&mut self) -> Result<(), Error> {
        self.conn = open(&self.opts, &self.url, self.password.as_deref())?;
        self.check()
    }

    /// The version and read-only checks of a fresh connection.
    fn check(&mut self) -> Result<(), Error> {
        let text: Option<String> = self
            .conn
            .query_first("SELECT VERSION()")
            .map_err(|e| self.error(&e))?;
        let text = text.unwrap_or_default();
        let server = parse_version(&text).ok_or_else(|| {
            storage(format!(
                "{}: cannot read the server version from \"{text}\"",
                self.url
            ))
        })?;
        self.server = server;
        check_version(&server).map_err(|m| storage(format!("{}: {m}", self.url)))?;
        // A replica set read-only writes nothing of ours (or, for an account with SUPER, writes
        // where the primary never sees it): either way not the outbox's database.
        // super_read_only is MySQL's only; MariaDB has read_only and innodb_read_only.
        let sql = match server.flavor {
            Flavor::MySql => {
                "SELECT @@global.read_only, @@global.super_read_only, @@innodb_read_only"
            }
            Flavor::MariaDb => "SELECT @@global.read_only, 0, @@innodb_read_only",
        };
        let flags: Option<(i64, i64, i64)> =
            self.conn.query_first(sql).map_err(|e| self.error(&e))?;
        if let Some((ro, super_ro, innodb_ro)) = flags {
            if ro != 0 || super_ro != 0 || innodb_ro != 0 {
                return Err(storage(format!(
                    "{}: the server is read-only (read_only={ro}, super_read_only={super_ro}, \
                     innodb_read_only={innodb_ro}): a replica? The outbox needs the primary",
                    self.url
                )));
            }
        }
        Ok(())
    }

    /// The server's clock in Unix milliseconds: leases are judged by it, as every process of
    /// every machine sees the same one.
    // Read by the connection tests (`internals`); the store reads its own way.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn now_ms(&mut self) -> Result<i64, Error> {
        let ms: Option<i64> = self
            .conn
            .query_first("SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)")
            .map_err(|e| self.error(&e))?;
        ms.ok_or_else(|| storage(format!("{}: the server returned no time", self.url)))
    }

    /// The connection, for the store's statements.
    pub fn conn(&mut self) -> &mut Conn {
        &mut self.conn
    }

    /// The server's flavor and version.
    // Read by the connection tests (`internals`); the store reads its own way.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn server(&self) -> ServerVersion {
        self.server
    }

    /// The URL without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A driver error of this connection as a `storage` error (`not_sent`), described, with
    /// the URL (masked) and never the password.
    pub fn error(&self, e: &::mysql::Error) -> Error {
        storage(scrub(
            &format!("{}: {}", self.url, describe(e)),
            self.password.as_deref(),
        ))
    }
}

/// The password written in the URL (percent-encoded as written), to scrub a URL error.
fn url_password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(&userinfo[userinfo.find(':')? + 1..])
}

fn open(opts: &Opts, shown: &str, password: Option<&str>) -> Result<Conn, Error> {
    Conn::new(opts.clone()).map_err(|e| {
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
fn refused_by_config(e: &::mysql::Error) -> bool {
    matches!(e, ::mysql::Error::MySqlError(m) if matches!(m.code, 1044 | 1045 | 1049 | 1698))
}

/// The error with advice for what an operator can do about it.
pub fn describe(e: &::mysql::Error) -> String {
    match e {
        ::mysql::Error::MySqlError(m) => {
            let advice = match m.code {
                1021 | 1114 | 3 => " (the database server's disk is full)",
                1030 if m.message.contains("28") => {
                    " (the storage engine failed; error 28 means the server's disk is full)"
                }
                1290 | 1792 | 1836 => {
                    " (the server or transaction is read-only: a replica? The outbox needs the primary)"
                }
                1142 | 1143 => {
                    " (the user lacks a grant: the outbox needs CREATE, ALTER, INDEX, SELECT, \
                     INSERT, UPDATE, DELETE on its database; a read-only account?)"
                }
                1044 | 1045 | 1698 => {
                    " (access denied: check the user, its password, and the host part of the \
                     account: the server sees this machine's address)"
                }
                1049 => " (unknown database: create it first; the library creates tables, not the database)",
                1205 => " (another connection held the rows too long; the statement was rolled back)",
                1213 => " (deadlock with another connection; the transaction was rolled back)",
                1053 | 1927 | 2006 | 2013 | 4031 => {
                    " (the connection to the database server was lost: restarting or unreachable?)"
                }
                _ => "",
            };
            format!(
                "MySQL error {} ({}): {}{advice}",
                m.code, m.state, m.message
            )
        }
        ::mysql::Error::IoError(io) => format!(
            "{io} (the connection to the database server was lost: restarting or unreachable?)"
        ),
        ::mysql::Error::CodecError(c) => format!(
            "{c} (the connection to the database server was lost: restarting or unreachable?)"
        ),
        ::mysql::Error::DriverError(d @ ::mysql::DriverError::ConnectTimeout)
        | ::mysql::Error::DriverError(d @ ::mysql::DriverError::CouldNotConnect(_)) => {
            format!("{d} (is the database server running, and reachable from here?)")
        }
        other => other.to_string(),
    }
}

/// Whether the connection is gone (server restarted, network cut, killed): the store opens a
/// new one before its next transaction, never inside one whose fate it does not know.
pub fn is_connection_lost(e: &::mysql::Error) -> bool {
    match e {
        ::mysql::Error::IoError(_) | ::mysql::Error::CodecError(_) => true,
        ::mysql::Error::DriverError(d) => matches!(
            d,
            ::mysql::DriverError::ConnectTimeout
                | ::mysql::DriverError::CouldNotConnect(_)
                | ::mysql::DriverError::PacketOutOfSync
                | ::mysql::DriverError::UnexpectedPacket
        ),
        // 1053 shutdown in progress, 1927 connection killed (MariaDB), 2006/2013 gone away /
        // lost during query, 4031 disconnected for inactivity (MySQL 8).
        ::mysql::Error::MySqlError(m) => matches!(m.code, 1053 | 1927 | 2006 | 2013 | 4031),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ServerVersion {
        parse_version(s).unwrap()
    }

    #[test]
    fn versions_are_parsed_with_their_flavor() {
        let m = v("10.11.6-MariaDB-0+deb12u1");
        assert_eq!(m.flavor, Flavor::MariaDb);
        assert_eq!(m.version.to_string(), "10.11.6");
        assert_eq!(v("8.0.36").flavor, Flavor::MySql);
        assert_eq!(v("8.0.36").version.to_string(), "8.0.36");
        assert_eq!(v("5.7.44-log").version.to_string(), "5.7.44");
        assert_eq!(v("10.5.23-MariaDB").to_string(), "MariaDB 10.5.23");
        assert_eq!(
            v("5.5.5-10.6.16-MariaDB-log").to_string(),
            "MariaDB 10.6.16"
        );
        assert_eq!(v("11.4.2-MariaDB-ubu2404").version.major, 11);
        assert!(parse_version("").is_none());
        assert!(parse_version("MariaDB").is_none());
    }

    #[test]
    fn servers_without_skip_locked_are_refused_naming_the_version() {
        for ok in [
            "8.0.36",
            "8.4.0",
            "9.1.0",
            "10.6.0-MariaDB",
            "10.11.6-MariaDB-0+deb12u1",
        ] {
            assert!(check_version(&v(ok)).is_ok(), "{ok}");
        }
        for old in [
            "5.7.44-log",
            "5.6.51",
            "10.5.23-MariaDB",
            "10.3.39-MariaDB-0+deb10u1",
        ] {
            let m = check_version(&v(old)).unwrap_err();
            assert!(m.contains(&v(old).version.to_string()), "{m}");
            assert!(m.contains("SKIP LOCKED"), "{m}");
        }
    }

    #[test]
    fn advice_names_the_cause() {
        let my = |code: u16, message: &str| {
            describe(&::mysql::Error::MySqlError(::mysql::MySqlError {
                state: "HY000".into(),
                message: message.into(),
                code,
            }))
        };
        assert!(my(1021, "Disk full").contains("disk is full"));
        assert!(my(1114, "The table 'x' is full").contains("disk is full"));
        assert!(my(1030, "Got error 28 from storage engine").contains("disk is full"));
        assert!(my(1290, "--read-only").contains("read-only"));
        assert!(my(1836, "read-only mode").contains("read-only"));
        assert!(my(1142, "INSERT command denied").contains("grant"));
        assert!(my(1045, "Access denied").contains("access denied"));
        assert!(my(1049, "Unknown database 'x'").contains("create it first"));
        assert!(my(1205, "Lock wait timeout").contains("rolled back"));
        assert!(my(1213, "Deadlock").contains("deadlock"));
        let io = ::mysql::Error::IoError(std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "server disconnected",
        ));
        assert!(describe(&io).contains("lost"));
        assert!(is_connection_lost(&io));
        assert!(!is_connection_lost(&::mysql::Error::MySqlError(
            ::mysql::MySqlError {
                state: "40001".into(),
                message: "Deadlock".into(),
                code: 1213,
            }
        )));
    }

    #[test]
    fn a_failed_connect_never_shows_the_password() {
        // A port nothing listens on: bound, then closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        for (url, given) in [
            (
                format!("mysql://wdt:Pw_in_url_42@127.0.0.1:{port}/wdt_test"),
                None,
            ),
            (
                format!("mariadb://wdt@127.0.0.1:{port}/wdt_test"),
                Some("Pw_in_url_42"),
            ),
        ] {
            let e = Db::connect(&url, given).unwrap_err();
            for shown in [e.to_string(), format!("{e:?}")] {
                assert!(!shown.contains("Pw_in_url_42"), "{shown}");
                assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
            }
            assert_eq!(e.kind(), "storage", "{e}");
        }
        let e =
            Db::connect("mysql://wdt:Pw_in_url_42@127.0.0.1:3306/db?bogus=1", None).unwrap_err();
        assert_eq!(e.kind(), "config");
        assert!(!format!("{e} {e:?}").contains("Pw_in_url_42"), "{e:?}");
        let e = Db::connect("ftp://wdt:Pw_in_url_42@127.0.0.1/db", None).unwrap_err();
        assert_eq!(e.kind(), "config");
        assert!(!format!("{e} {e:?}").contains("Pw_in_url_42"), "{e:?}");
    }
}
