//! The server stores' connections against real servers on 127.0.0.1: MariaDB and PostgreSQL
//! started by scripts/db-servers.sh, whose URLs arrive in WDT_TEST_* variables. A missing
//! variable fails the test: a database that is not there is a failure, never a skip.

use wdt::internals::outbox_server::{masked, mysql, pg};

fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: start the test databases with `eval \"$(bash scripts/db-servers.sh)\"` \
             (or `source target/db-env.sh` after it ran); scripts/test.sh does this itself"
        ),
    }
}

/// The password of a URL (the user part), to check it never shows.
fn password_of(url: &str) -> String {
    let rest = &url[url.find("://").unwrap() + 3..];
    let userinfo = &rest[..rest.rfind('@').unwrap()];
    userinfo[userinfo.find(':').unwrap() + 1..].to_owned()
}

/// The URL without its password, to pass the password separately.
fn without_password(url: &str) -> String {
    url.replacen(&format!(":{}@", password_of(url)), "@", 1)
}

fn with_password(url: &str, password: &str) -> String {
    url.replacen(
        &format!(":{}@", password_of(url)),
        &format!(":{password}@"),
        1,
    )
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The server's clock is Unix milliseconds: the server runs on this machine, so it agrees with
/// ours to within a minute (a unit or epoch error would be off by years), and it never goes back.
fn check_clock(first: i64, second: i64) {
    assert!(
        (first - unix_ms()).abs() < 60_000,
        "server clock {first} ms vs {}",
        unix_ms()
    );
    assert!(second >= first, "{second} < {first}");
}

#[test]
fn mysql_connects_reads_its_clock_and_hides_the_password() {
    let url = env("WDT_TEST_MYSQL_URL");
    let pw = password_of(&url);
    let mut db = mysql::Db::connect(&url, None).expect("connect as wdt");
    let server = db.server();
    assert!(mysql::check_version(&server).is_ok(), "{server}");
    let a = db.now_ms().unwrap();
    let b = db.now_ms().unwrap();
    check_clock(a, b);
    let shown = format!("{db:?}");
    assert!(!shown.contains(&pw), "{shown}");
    assert!(shown.contains(&masked(&url)), "{shown}");
    assert!(shown.contains(":***@127.0.0.1:"), "{shown}");

    // The password given apart from the URL works the same, and reconnecting keeps it.
    let mut db = mysql::Db::connect(&without_password(&url), Some(&pw)).expect("connect");
    db.reconnect().expect("reconnect");
    assert!(db.now_ms().unwrap() >= a);
    // Given twice is refused.
    let e = mysql::Db::connect(&url, Some(&pw)).unwrap_err();
    assert_eq!(e.kind(), "config", "{e}");
}

#[test]
fn mysql_wrong_password_is_a_config_error_without_the_password() {
    let url = env("WDT_TEST_MYSQL_URL");
    let wrong = "Wrong_pw_9d2e71";
    let e = mysql::Db::connect(&with_password(&url, wrong), None).unwrap_err();
    assert_eq!(e.kind(), "config", "{e}");
    let shown = format!("{e} {e:?}");
    assert!(
        shown.contains("1045") && shown.contains("access denied"),
        "{shown}"
    );
    assert!(
        !shown.contains(wrong) && !shown.contains(&password_of(&url)),
        "{shown}"
    );
    let e = mysql::Db::connect(&without_password(&url), Some(wrong)).unwrap_err();
    assert!(!format!("{e} {e:?}").contains(wrong), "{e:?}");
}

#[test]
fn mysql_unknown_database_is_a_config_error() {
    let url = env("WDT_TEST_MYSQL_URL");
    let e =
        mysql::Db::connect(&url.replace("/wdt_test", "/wdt_test_no_such_db"), None).unwrap_err();
    assert_eq!(e.kind(), "config", "{e}");
    assert!(!e.to_string().contains(&password_of(&url)), "{e}");
}

/// A SELECT-only account passes the connect checks (MySQL cannot tell without a write) and is
/// stopped at its first write, with advice naming the grants.
#[test]
fn mysql_read_only_user_is_stopped_at_its_first_write() {
    use wdt::internals::outbox_server::mysql::Db;
    let url = env("WDT_TEST_MYSQL_RO_URL");
    let mut db = Db::connect(&url, None).expect("connect as wdt_ro");
    let e = mysql_write(&mut db).unwrap_err();
    let shown = db.error(&e).to_string();
    assert!(shown.starts_with("storage: "), "{shown}");
    assert!(shown.contains("grant"), "{shown}");
    assert!(!shown.contains(&password_of(&url)), "{shown}");
    assert!(!mysql::is_connection_lost(&e));
}

fn mysql_write(db: &mut mysql::Db) -> Result<(), ::mysql::Error> {
    use ::mysql::prelude::Queryable;
    db.conn()
        .query_drop("CREATE TABLE IF NOT EXISTS wdt_server_db_probe (id INT PRIMARY KEY)")
}

#[test]
fn pg_connects_reads_its_clock_and_hides_the_password() {
    let url = env("WDT_TEST_PG_URL");
    let pw = password_of(&url);
    let mut db = pg::Db::connect(&url, None).expect("connect as wdt");
    assert!(db.version_num() >= pg::MIN_VERSION_NUM);
    let a = db.now_ms().unwrap();
    let b = db.now_ms().unwrap();
    check_clock(a, b);
    let shown = format!("{db:?}");
    assert!(!shown.contains(&pw), "{shown}");
    assert!(shown.contains(":***@127.0.0.1:"), "{shown}");
    assert!(
        shown.contains(&pg::version_text(db.version_num())),
        "{shown}"
    );

    let mut db = pg::Db::connect(&without_password(&url), Some(&pw)).expect("connect");
    db.reconnect().expect("reconnect");
    assert!(db.now_ms().unwrap() >= a);
    let e = pg::Db::connect(&url, Some(&pw)).unwrap_err();
    assert_eq!(e.kind(), "config", "{e}");
}

#[test]
fn pg_wrong_password_is_a_config_error_without_the_password() {
    let url = env("WDT_TEST_PG_URL");
    let wrong = "Wrong_pw_9d2e71";
    let e = pg::Db::connect(&with_password(&url, wrong), None).unwrap_err();
    assert_eq!(e.kind(), "config", "{e}");
    let shown = format!("{e} {e:?}");
    assert!(
        shown.contains("28P01") && shown.contains("access denied"),
        "{shown}"
    );
    assert!(
        !shown.contains(wrong) && !shown.contains(&password_of(&url)),
        "{shown}"
    );
    let e = pg::Db::connect(&without_password(&url), Some(wrong)).unwrap_err();
    assert!(!format!("{e} {e:?}").contains(wrong), "{e:?}");
}

#[test]
fn pg_unknown_database_is_a_config_error() {
    let url = env("WDT_TEST_PG_URL");
    let e = pg::Db::connect(&url.replace("/wdt_test", "/wdt_test_no_such_db"), None).unwrap_err();
    assert_eq!(e.kind(), "config", "{e}");
    assert!(e.to_string().contains("3D000"), "{e}");
}

/// wdt_ro's transactions are read-only by default, as on a standby: refused at connect.
#[test]
fn pg_read_only_user_is_refused_at_connect() {
    let url = env("WDT_TEST_PG_RO_URL");
    let e = pg::Db::connect(&url, None).unwrap_err();
    assert_eq!(e.kind(), "storage", "{e}");
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("read-only"), "{shown}");
    assert!(!shown.contains(&password_of(&url)), "{shown}");
}
