//! Connections to the server databases the outbox can live in besides SQLite: MySQL/MariaDB
//! (`mysql`) and PostgreSQL (`pg`). Only what every store needs from a connection: open it with
//! the password kept out of every message, refuse servers the outbox cannot be correct on (too
//! old for `SELECT … FOR UPDATE SKIP LOCKED`, read-only), the server's clock (leases are judged
//! by the database's clock, not by the callers', whose clocks differ), and errors described
//! with advice a back office's operator can act on.
//!
//! Error kinds: what only the configuration can fix (a bad URL, a refused login, an unknown
//! database) is `config` on key `store`; what the server's state causes (unreachable,
//! restarting, too old, read-only, disk full) is `storage` with delivery `not_sent` (nothing of
//! the call was sent; the store turns it into `unknown` once a request may have left).

pub mod mysql;
pub mod pg;
mod schema;
mod stores;

use std::time::Duration;

use super::sql::Db;
use crate::error::{Delivery, Error};

/// The outbox's store on the server `url` names (`mysql://`, `mariadb://`, `postgres://`,
/// `postgresql://`), its tables created or migrated.
pub fn open(url: &str, password: Option<&str>) -> Result<Box<dyn Db>, Error> {
    let scheme = url.split("://").next().unwrap_or("").to_ascii_lowercase();
    match scheme.as_str() {
        "mysql" | "mariadb" => Ok(Box::new(stores::MyStore::open(url, password)?)),
        "postgres" | "postgresql" => Ok(Box::new(stores::PgStore::open(url, password)?)),
        _ => Err(Error::config_at(
            "store",
            format!("{} is not a mysql:// or postgres:// URL", masked(url)),
        )),
    }
}

/// How long a connect may take before it counts as unreachable. A server that is restarting
/// refuses at once; this bounds a black-holed address (a firewall dropping packets).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub use super::model::masked;

/// `message` with every occurrence of the password (as given and percent-encoded) replaced by
/// `***`: a driver may echo parts of what it was given, and the password never leaves.
pub(crate) fn scrub(message: &str, password: Option<&str>) -> String {
    let mut out = message.to_owned();
    if let Some(p) = password.filter(|p| !p.is_empty()) {
        out = out.replace(p, "***");
        let encoded = percent_encode(p);
        if encoded != p {
            out = out.replace(&encoded, "***");
        }
    }
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The password the connection uses: from the URL or from the `password` argument (an option
/// or an environment variable of the caller), never both, so which one counts is never a guess.
pub(crate) fn one_password<'a>(
    in_url: Option<&'a str>,
    given: Option<&'a str>,
) -> Result<Option<&'a str>, Error> {
    match (in_url.filter(|p| !p.is_empty()), given) {
        (Some(_), Some(_)) => Err(Error::config_at(
            "store",
            "the database password is given twice (in the store URL and separately): keep one",
        )),
        (u, g) => Ok(u.or(g)),
    }
}

/// A `storage` error of a call that sent nothing.
pub(crate) fn storage(message: impl Into<String>) -> Error {
    Error::Storage {
        delivery: Delivery::NotSent,
        entry_id: None,
        message: message.into(),
    }
}

/// A server version as `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The leading `a.b.c` (or `a.b`) of a version string: "10.11.6-MariaDB-0+deb12u1" → 10.11.6.
pub(crate) fn leading_version(s: &str) -> Option<Version> {
    let head: &str = s
        .trim()
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?;
    let mut parts = head.split('.').filter(|p| !p.is_empty());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some(Version {
        major,
        minor,
        patch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_hides_the_password_in_the_user_part() {
        assert_eq!(
            masked("mysql://wdt:s3cret@127.0.0.1:3306/wdt_test"),
            "mysql://wdt:***@127.0.0.1:3306/wdt_test"
        );
        assert_eq!(
            masked("postgres://wdt:p@ss:w@rd@127.0.0.1/wdt_test?sslmode=disable"),
            "postgres://wdt:***@127.0.0.1/wdt_test?sslmode=disable"
        );
        assert_eq!(
            masked("mysql://wdt@127.0.0.1:3306/wdt_test"),
            "mysql://wdt@127.0.0.1:3306/wdt_test"
        );
        assert_eq!(
            masked("postgres://127.0.0.1/wdt_test"),
            "postgres://127.0.0.1/wdt_test"
        );
    }

    #[test]
    fn masked_hides_a_password_parameter_and_non_urls() {
        assert_eq!(
            masked("postgres://wdt@127.0.0.1/db?password=s3cret&application_name=x#f"),
            "postgres://wdt@127.0.0.1/db?password=***&application_name=x#f"
        );
        assert_eq!(
            masked("mysql://u@h/db?PASS=s3cret"),
            "mysql://u@h/db?PASS=***"
        );
        assert_eq!(masked("host=127.0.0.1 password=s3cret"), "***");
        assert!(!masked("postgresql://a:s3cret@h:1/d?password=s3cret").contains("s3cret"));
    }

    #[test]
    fn scrub_removes_plain_and_encoded_passwords() {
        assert_eq!(
            scrub("login p@ss! failed", Some("p@ss!")),
            "login *** failed"
        );
        assert_eq!(scrub("url a:p%40ss%21@h", Some("p@ss!")), "url a:***@h");
        assert_eq!(scrub("nothing here", None), "nothing here");
        assert_eq!(scrub("nothing here", Some("")), "nothing here");
    }

    #[test]
    fn one_password_refuses_two() {
        assert_eq!(one_password(Some("a"), None).unwrap(), Some("a"));
        assert_eq!(one_password(None, Some("b")).unwrap(), Some("b"));
        assert_eq!(one_password(Some(""), Some("b")).unwrap(), Some("b"));
        assert_eq!(one_password(None, None).unwrap(), None);
        let e = one_password(Some("a"), Some("b")).unwrap_err();
        assert_eq!(e.kind(), "config");
    }

    #[test]
    fn leading_version_reads_the_numbers_before_any_suffix() {
        let v = |s| leading_version(s).map(|v| v.to_string());
        assert_eq!(v("10.11.6-MariaDB-0+deb12u1").as_deref(), Some("10.11.6"));
        assert_eq!(v("8.0.36").as_deref(), Some("8.0.36"));
        assert_eq!(v("5.7.44-log").as_deref(), Some("5.7.44"));
        assert_eq!(
            v("15.18 (Debian 15.18-0+deb12u1)").as_deref(),
            Some("15.18.0")
        );
        assert_eq!(v("16beta1"), None);
        assert_eq!(v(""), None);
        assert_eq!(v("MariaDB"), None);
    }
}
