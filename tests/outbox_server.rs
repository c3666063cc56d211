//! The outbox on a shared server database (MariaDB and PostgreSQL, real servers on 127.0.0.1
//! started by scripts/db-servers.sh): what only a server can do to it. A newer schema is
//! refused untouched; a read-only database is refused clearly; the connection lost between the
//! send and the record leaves the entry in doubt, reconciled, never resent; the server
//! restarting mid-flush loses nothing and sends nothing twice; a full disk on the server is a
//! storage error; four processes on two "hosts" with different clocks flush one backlog of
//! 2,000 entries with exactly one stock-in each. The suites every store shares (tests/outbox*.rs)
//! run against these servers too (WDT_TEST_OUTBOX_STORE, scripts/test.sh).

mod common;
mod outbox_support;

use std::process::{Command, Stdio};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use common::*;
use outbox_support::*;
use serde_json::{json, Value};

/// Tests that restart a server or change it for everyone take this for writing; the others
/// for reading, so nothing else runs against a server while it restarts.
static SERVER: RwLock<()> = RwLock::new(());

fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    SERVER.read().unwrap_or_else(|p| p.into_inner())
}

fn exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    SERVER.write().unwrap_or_else(|p| p.into_inner())
}

const BOTH: [Server; 2] = [Server::Mysql, Server::Postgres];

#[test]
fn child_entry() {
    child_main();
}

fn sql(kind: Server, url: &str, statement: &str) -> String {
    server_sql(kind, url, statement).unwrap_or_else(|e| panic!("{statement}: {e}"))
}

#[test]
fn a_new_database_gets_the_schema_with_its_version_row() {
    let _g = shared();
    for kind in BOTH {
        let d = double();
        let url = fresh_database(kind);
        let o = Outbox::open(&config(&d), &options(&url)).unwrap();
        let env = o.submit(&json!({"id": "S-1", "request": quick_return("schema", 1)}));
        assert_eq!(env["data"]["state"], "delivered", "{kind:?} {env}");
        let version = sql(
            kind,
            &url,
            "SELECT v FROM wdt_outbox_meta WHERE k = 'schema_version'",
        );
        assert_eq!(version, "1", "{kind:?}");
        let tag = sql(kind, &url, "SELECT v FROM wdt_outbox_meta WHERE k = 'tag'");
        assert_eq!(tag.len(), 12, "{kind:?} tag {tag:?}");
        let n = sql(kind, &url, "SELECT count(*) FROM wdt_outbox_entries");
        assert_eq!(n, "1", "{kind:?}");
        // A second process opening it finds the schema and the tag as they are.
        drop(o);
        let again = Outbox::open(&config(&d), &options(&url)).unwrap();
        assert_eq!(again.get("S-1")["data"]["state"], "delivered");
        let body = &request_log(&d)[0].1;
        assert!(body.contains(&format!("[wdt:{tag}:S-1]")), "{body}");
    }
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let _g = shared();
    for kind in BOTH {
        let d = double();
        let url = fresh_database(kind);
        let o = Outbox::open(&config(&d), &options(&url)).unwrap();
        let env =
            o.submit(&json!({"id": "N-1", "request": quick_return("newer", 1), "defer": true}));
        assert_eq!(env["ok"], true, "{env}");
        drop(o);
        sql(
            kind,
            &url,
            "UPDATE wdt_outbox_meta SET v = '99' WHERE k = 'schema_version'",
        );
        let e = Outbox::open(&config(&d), &options(&url)).err().unwrap();
        assert_eq!(e["ok"], false);
        assert_eq!(kind_of(&e), "config", "{kind:?} {e}");
        assert_eq!(e["error"]["field"], "store", "{e}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains("newer libwdt"), "{kind:?} {msg}");
        assert_eq!(
            sql(kind, &url, "SELECT count(*) FROM wdt_outbox_entries"),
            "1"
        );
        assert_eq!(
            sql(
                kind,
                &url,
                "SELECT v FROM wdt_outbox_meta WHERE k = 'schema_version'"
            ),
            "99"
        );
        assert_eq!(stockins(&d), 0);
    }
}

/// The database password appears nowhere in what the caller gets.
fn no_password(env: &Value, url: &str) {
    let password = parse_url(url).password;
    assert!(!password.is_empty());
    assert!(!env.to_string().contains(&password), "{env}");
}

fn kind_of(env: &Value) -> &str {
    env["error"]["kind"].as_str().unwrap_or("")
}

/// A back office pointed at a read-only database (a replica, or a user without write
/// permission) must hear so at open, before it takes a single return.
#[test]
fn a_read_only_database_is_refused_clearly() {
    let _g = shared();
    let d = double();
    // PostgreSQL in read-only mode (what a hot standby is): every new session of the
    // database starts read-only.
    let url = fresh_database(Server::Postgres);
    sql(
        Server::Postgres,
        &url,
        &format!(
            "ALTER DATABASE {} SET default_transaction_read_only = on",
            parse_url(&url).db
        ),
    );
    let e = Outbox::open(&config(&d), &options(&url)).err().unwrap();
    let msg = e["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("read-only"), "{e}");
    assert!(!msg.contains(&parse_url(&url).password), "{e}");
    // MariaDB with a user that may only read (the replica user by mistake).
    let ro = std::env::var("WDT_TEST_MYSQL_RO_URL").expect("WDT_TEST_MYSQL_RO_URL");
    let e = Outbox::open(&config(&d), &options(&ro)).err().unwrap();
    let msg = e["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("read-only") || msg.contains("permission"),
        "{e}"
    );
    assert!(!msg.contains(&parse_url(&ro).password), "{e}");
    assert_eq!(stockins(&d), 0);
}

/// Kills every other session on the test database: the library's connection, from the
/// server's side, as a network cut or a server-side timeout does.
fn kill_sessions(kind: Server, url: &str) -> usize {
    let db = parse_url(url).db;
    let out = match kind {
        Server::Mysql => {
            let ids = sql(
                kind,
                url,
                &format!(
                    "SELECT id FROM information_schema.processlist
                     WHERE db = '{db}' AND id <> CONNECTION_ID()"
                ),
            );
            for id in ids.lines().filter(|l| !l.trim().is_empty()) {
                sql(kind, url, &format!("KILL {}", id.trim()));
            }
            ids
        }
        Server::Postgres => sql(
            kind,
            url,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = '{db}' AND pid <> pg_backend_pid()"
            ),
        ),
    };
    out.lines().filter(|l| !l.trim().is_empty()).count()
}

/// The stock-in is made; the connection to the database is gone before the answer is
/// recorded. The envelope says `unknown` and names the entry, the entry stays in doubt, and
/// reconciliation finds the stock-in: one in all.
#[test]
fn the_connection_lost_between_send_and_record_is_unknown_then_reconciled() {
    let _g = shared();
    for kind in BOTH {
        let d = double();
        let url = fresh_database(kind);
        let o = Arc::new(Outbox::open(&config(&d), &options(&url)).unwrap());
        d.fault(json!({"mode": "slow", "ms": 1200, "count": 1}));
        let submitter = {
            let o = Arc::clone(&o);
            std::thread::spawn(move || o.submit(&json!({"request": quick_return("cut", 1)})))
        };
        std::thread::sleep(Duration::from_millis(400));
        let killed = kill_sessions(kind, &url);
        assert!(killed >= 1, "{kind:?}: no session of the library to cut");
        let env = submitter.join().unwrap();
        assert_eq!(env["ok"], false, "{kind:?} {env}");
        assert_eq!(kind_of(&env), "storage", "{kind:?} {env}");
        assert_eq!(env["error"]["delivery"], "unknown", "{kind:?} {env}");
        no_password(&env, &url);
        let id = env["error"]["entry_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no entry id in {env}"))
            .to_owned();
        assert_eq!(stockins(&d), 1);
        // The library reconnects on its own.
        let e = o.get(&id);
        assert_eq!(e["data"]["state"], "in_doubt", "{kind:?} {e}");
        std::thread::sleep(Duration::from_millis(1600));
        let e = o.flush_until_settled(&id, Duration::from_secs(8));
        assert_eq!(e["data"]["state"], "delivered", "{kind:?} {e}");
        assert!(e["data"]["result"]["reconciled"].is_object(), "{e}");
        assert_eq!(stockins(&d), 1, "{kind:?}: sent twice");
        assert_eq!(sends_of(&request_log(&d), &id), 1);
    }
}

/// The server on a full disk refuses writes with its disk-full error. The test makes the
/// server say exactly that, with a trigger on the history table (filling a real disk would
/// take the test machine's down with it): before the send a submit is a `storage` error with
/// nothing stored or sent; after the send it is `unknown` with the entry named, and the
/// entry is reconciled once the disk has room again.
#[test]
fn a_full_disk_on_the_server_is_a_storage_error() {
    let _g = shared();
    for kind in BOTH {
        let d = double();
        let url = fresh_database(kind);
        let o = Outbox::open(&config(&d), &options(&url)).unwrap();
        let stored =
            o.submit(&json!({"id": "F-0", "request": quick_return("room", 1), "defer": true}));
        assert_eq!(stored["ok"], true, "{stored}");
        disk_full(kind, &url, "%");
        let env = o.submit(&json!({"id": "F-1", "request": quick_return("full", 1)}));
        assert_eq!(kind_of(&env), "storage", "{kind:?} {env}");
        assert_eq!(env["error"]["delivery"], "not_sent", "{kind:?} {env}");
        no_password(&env, &url);
        let msg = env["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("disk") || msg.contains("full"),
            "{kind:?} {msg}"
        );
        assert_eq!(
            stockins(&d),
            0,
            "{kind:?}: sent while nothing could be stored"
        );
        disk_room(kind, &url);
        // Full only for the answer's record: the send happened.
        disk_full(kind, &url, "%\"answer\"%");
        let env = o.submit(&json!({"id": "F-2", "request": quick_return("full-after", 1)}));
        assert_eq!(kind_of(&env), "storage", "{kind:?} {env}");
        assert_eq!(env["error"]["delivery"], "unknown", "{kind:?} {env}");
        assert_eq!(env["error"]["entry_id"], "F-2", "{env}");
        disk_room(kind, &url);
        std::thread::sleep(Duration::from_millis(1600));
        let e = o.flush_until_settled("F-2", Duration::from_secs(8));
        assert_eq!(e["data"]["state"], "delivered", "{kind:?} {e}");
        assert_eq!(o.get("F-0")["data"]["state"], "delivered");
        assert_eq!(stockins(&d), 2, "{kind:?}");
        assert_eq!(sends_of(&request_log(&d), "F-2"), 1);
    }
}

/// A trigger that answers inserts into the history whose event matches `like` with the
/// server's own disk-full error (MariaDB ER_RECORD_FILE_FULL 1114, PostgreSQL 53100).
fn disk_full(kind: Server, url: &str, like: &str) {
    match kind {
        Server::Mysql => sql(
            kind,
            url,
            &format!(
                "CREATE TRIGGER wdt_test_full BEFORE INSERT ON wdt_outbox_history FOR EACH ROW
                 BEGIN IF NEW.event LIKE '{like}' THEN SIGNAL SQLSTATE 'HY000'
                 SET MESSAGE_TEXT = 'The table is full', MYSQL_ERRNO = 1114; END IF; END"
            ),
        ),
        Server::Postgres => sql(
            kind,
            url,
            &format!(
                "CREATE FUNCTION wdt_test_full() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF NEW.event LIKE '{like}' THEN RAISE EXCEPTION
                 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
                 END IF; RETURN NEW; END $$;
                 CREATE TRIGGER wdt_test_full BEFORE INSERT ON wdt_outbox_history
                 FOR EACH ROW EXECUTE FUNCTION wdt_test_full();"
            ),
        ),
    };
}

fn disk_room(kind: Server, url: &str) {
    match kind {
        Server::Mysql => sql(kind, url, "DROP TRIGGER wdt_test_full"),
        Server::Postgres => sql(
            kind,
            url,
            "DROP TRIGGER wdt_test_full ON wdt_outbox_history; DROP FUNCTION wdt_test_full();",
        ),
    };
}

fn restart(kind: Server) {
    let var = match kind {
        Server::Mysql => "WDT_TEST_MYSQL_RESTART",
        Server::Postgres => "WDT_TEST_PG_RESTART",
    };
    let cmd = std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set"));
    let out = Command::new("sh")
        .args(["-c", &cmd])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The database restarts while a flush works through a backlog: the flush stops with a
/// storage error (or finishes, if it was quick enough), nothing is lost, and flushing again
/// delivers the rest with one stock-in per entry.
#[test]
fn the_server_restarting_mid_flush_loses_nothing_and_sends_nothing_twice() {
    let _g = exclusive();
    for kind in BOTH {
        let d = double();
        let url = fresh_database(kind);
        let o = Arc::new(Outbox::open(&config(&d), &options(&url)).unwrap());
        let n = 40;
        for i in 0..n {
            let env = o.submit(
                &json!({"id": format!("R-{i:02}"), "request": quick_return("restart", 1), "defer": true}),
            );
            assert_eq!(env["ok"], true, "{env}");
        }
        d.fault(json!({"mode": "slow", "ms": 60, "count": n}));
        let flusher = {
            let o = Arc::clone(&o);
            std::thread::spawn(move || o.flush(&json!({})))
        };
        std::thread::sleep(Duration::from_millis(600));
        restart(kind);
        let first = flusher.join().unwrap();
        eprintln!("{kind:?}: the flush across the restart ended with {first}");
        if first["ok"] == false {
            assert_eq!(kind_of(&first), "storage", "{kind:?} {first}");
        }
        no_password(&first, &url);
        // In-flight entries wait out their lease and settle delay, then are reconciled.
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let f = o.flush(&json!({}));
            let open = o.all().iter().filter(|e| e["state"] != "delivered").count();
            if (f["ok"] == true && open == 0) || Instant::now() > until {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let all = o.all();
        assert_eq!(all.len(), n as usize, "{kind:?}");
        for e in &all {
            assert_eq!(e["state"], "delivered", "{kind:?} {e}");
        }
        let log = request_log(&d);
        for i in 0..n {
            let id = format!("R-{i:02}");
            assert_eq!(sends_of(&log, &id), 1, "{kind:?} {id}");
        }
        assert_eq!(stockins(&d), n, "{kind:?}");
    }
}

/// Four processes on two "hosts" flush one backlog of 2,000 entries at the same moment. The
/// second host's clock is ten minutes fast (the outbox's test clock): leases are judged by the
/// database's clock, so it never takes the first host's entries for abandoned ones. Every
/// entry ends with exactly one stock-in.
#[test]
fn four_processes_on_two_hosts_flush_one_backlog_exactly_once() {
    let _g = shared();
    for kind in BOTH {
        let d = double();
        let url = fresh_database(kind);
        let n: u64 = 2000;
        let started = Instant::now();
        let filler = json!({"config": config(&d), "options": options(&url),
                            "generate": {"count": n, "prefix": "M-", "remark": "multi"}});
        let (results, status, err) = wait_child(spawn_child(&filler, None));
        assert!(status.success(), "{err}");
        assert!(
            results.iter().all(|r| r["ok"] == true),
            "{kind:?} a submit failed"
        );
        let stored_in = started.elapsed();
        let start_at = epoch_ms() + 1500;
        let mut children = Vec::new();
        for host in ["a", "a", "b", "b"] {
            let job = json!({"config": config(&d), "options": options(&url), "flush": true,
                             "start_at_ms": start_at, "host": host});
            let mut cmd = child_command(&job);
            if host == "b" {
                cmd.env("WDT_OUTBOX_TEST_CLOCK_STEP_MS", "600000");
            }
            children.push(cmd.spawn().expect("start a flusher"));
        }
        let flush_start = Instant::now();
        let mut delivered = Vec::new();
        for c in children {
            let (r, status, err) = wait_child(c);
            assert!(status.success(), "{kind:?} {err}");
            let counts = r.last().cloned().unwrap_or(Value::Null);
            assert_eq!(counts["ok"], true, "{kind:?} {counts}");
            delivered.push(counts["data"]["delivered"].as_u64().unwrap());
        }
        let flushed_in = flush_start.elapsed();
        let log = request_log(&d);
        let mut per_entry = std::collections::HashMap::new();
        for (m, b) in &log {
            if m == QUICK_RETURN {
                for id in marker_ids(b) {
                    *per_entry.entry(id).or_insert(0u32) += 1;
                }
            }
        }
        assert_eq!(per_entry.len() as u64, n, "{kind:?}: entries sent");
        assert!(
            per_entry.values().all(|c| *c == 1),
            "{kind:?}: an entry was sent twice"
        );
        assert_eq!(stockins(&d), n, "{kind:?}");
        assert_eq!(delivered.iter().sum::<u64>(), n, "{kind:?} {delivered:?}");
        let o = Outbox::open(&config(&d), &options(&url)).unwrap();
        assert!(o.all().iter().all(|e| e["state"] == "delivered"));
        eprintln!(
            "multi-host {kind:?}: {n} entries stored in {:.1} s; 4 processes on 2 hosts \
             (host b's clock +10 min) flushed them in {:.1} s, deliveries per process {delivered:?}, \
             stock-ins per entry: 1",
            stored_in.as_secs_f64(),
            flushed_in.as_secs_f64()
        );
    }
}

/// Rows of wdt_outbox_entries the server has read so far (MariaDB with `userstat`; PostgreSQL's
/// tuples fetched by index and sequential scans).
fn entry_rows_read(kind: Server, url: &str) -> u64 {
    let db = parse_url(url).db;
    let out = match kind {
        Server::Mysql => sql(
            kind,
            url,
            &format!(
                "SELECT COALESCE(SUM(rows_read), 0) FROM information_schema.table_statistics
                 WHERE table_schema = '{db}' AND table_name = 'wdt_outbox_entries'"
            ),
        ),
        Server::Postgres => sql(
            kind,
            url,
            "SELECT COALESCE(idx_tup_fetch, 0) + COALESCE(seq_tup_read, 0)
             FROM pg_stat_user_tables WHERE relname = 'wdt_outbox_entries'",
        ),
    };
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{kind:?}: rows read {out:?}"))
}

/// A flush claims each entry by reading the first row of the (state, seq) index: the rows it
/// reads grow with the backlog, not with its square (a planner that sorts the whole pending
/// range per claim, as MariaDB did for `ORDER BY state, seq` and PostgreSQL does for a
/// backlog its statistics have not seen, reads ~n²/2 rows: 1.1 million here).
#[test]
fn a_flush_reads_each_entry_a_bounded_number_of_times() {
    let _g = shared();
    for kind in BOTH {
        let d = double();
        let url = fresh_database(kind);
        let o = Outbox::open(&config(&d), &options(&url)).unwrap();
        let n = 1500u64;
        for i in 0..n {
            let env = o.submit(
                &json!({"id": format!("B-{i:04}"), "request": quick_return("rows", 1), "defer": true}),
            );
            assert_eq!(env["ok"], true, "{env}");
        }
        // PostgreSQL's counters reach its statistics view a moment after the statements.
        std::thread::sleep(Duration::from_millis(800));
        let before = entry_rows_read(kind, &url);
        let f = o.flush(&json!({}));
        assert_eq!(f["data"]["delivered"], n, "{kind:?} {f}");
        std::thread::sleep(Duration::from_millis(800));
        let read = entry_rows_read(kind, &url) - before;
        eprintln!("{kind:?}: a flush of {n} entries read {read} entry rows");
        assert!(
            read > 0,
            "{kind:?}: the counter did not move: the check would prove nothing"
        );
        assert!(read <= 20 * n, "{kind:?}: {read} rows read for {n} entries");
    }
}
