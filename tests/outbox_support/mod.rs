//! Shared by tests/outbox*.rs: a safe wrapper over the `wdt_outbox_*` exports (the tests go
//! through the real C ABI), the double's request log, and child processes of the test binary
//! that act as a second till (or a till that gets killed).
#![allow(dead_code)] // each outbox test file uses a different part of this module

use std::ffi::{c_char, CString};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::ptr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wdt::ffi::*;

use crate::common::{take, Double};

pub struct Outbox(pub *mut WdtOutbox);

unsafe impl Send for Outbox {}
unsafe impl Sync for Outbox {}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

impl Outbox {
    pub fn open(config: &str, options: &Value) -> Result<Outbox, Value> {
        let (cfg, opts) = (c(config), c(&options.to_string()));
        let mut err: *mut c_char = ptr::null_mut();
        let h = unsafe { wdt_outbox_open(cfg.as_ptr(), opts.as_ptr(), &mut err) };
        if h.is_null() {
            Err(take(err))
        } else {
            assert!(err.is_null(), "error_json must be NULL on success");
            Ok(Outbox(h))
        }
    }

    pub fn submit(&self, submit: &Value) -> Value {
        let s = c(&submit.to_string());
        take(unsafe { wdt_outbox_submit(self.0, s.as_ptr()) })
    }

    pub fn get(&self, id: &str) -> Value {
        let s = c(id);
        take(unsafe { wdt_outbox_get(self.0, s.as_ptr()) })
    }

    pub fn list(&self, filter: &Value) -> Value {
        let s = c(&filter.to_string());
        take(unsafe { wdt_outbox_list(self.0, s.as_ptr()) })
    }

    pub fn flush(&self, options: &Value) -> Value {
        let s = c(&options.to_string());
        take(unsafe { wdt_outbox_flush(self.0, s.as_ptr()) })
    }

    /// Flushes until the entry leaves the open states or `within` passes.
    pub fn flush_until_settled(&self, id: &str, within: Duration) -> Value {
        let until = Instant::now() + within;
        loop {
            let f = self.flush(&json!({}));
            assert_eq!(f["ok"], true, "{f}");
            let e = self.get(id);
            let state = e["data"]["state"].as_str().unwrap_or("").to_owned();
            if !["pending", "in_doubt"].contains(&state.as_str()) || Instant::now() > until {
                return e;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn all(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after = Value::Null;
        loop {
            let mut f = json!({"limit": 1000});
            if !after.is_null() {
                f["after"] = after.clone();
            }
            let page = self.list(&f);
            assert_eq!(page["ok"], true, "{page}");
            out.extend(page["data"]["entries"].as_array().unwrap().iter().cloned());
            after = page["data"]["next_after"].clone();
            if after.is_null() {
                return out;
            }
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        unsafe { wdt_outbox_close(self.0) }
    }
}

/// A fresh folder for one test's outbox file.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wdt-outbox-{}-{name}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Where one test's outbox lives: a fresh SQLite file, or a fresh database on the server that
/// `WDT_TEST_OUTBOX_STORE` names (`mysql` or `postgres`; scripts/test.sh runs the outbox suites
/// once per store).
pub fn db_path(name: &str) -> String {
    match store_kind() {
        Some(kind) => fresh_database(kind),
        None => temp_dir(name)
            .join("outbox.db")
            .to_string_lossy()
            .into_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Mysql,
    Postgres,
}

/// The server store the outbox suites run against now, or None for SQLite files.
pub fn store_kind() -> Option<Server> {
    match std::env::var("WDT_TEST_OUTBOX_STORE").as_deref() {
        Ok("mysql") | Ok("mariadb") => Some(Server::Mysql),
        Ok("postgres") => Some(Server::Postgres),
        Ok("") | Ok("sqlite") | Err(_) => None,
        Ok(other) => panic!("WDT_TEST_OUTBOX_STORE={other:?}: use sqlite, mysql or postgres"),
    }
}

/// The test server's URL (with the test user's password), set by scripts/db-servers.sh. A
/// missing server is a failure, never a skip.
pub fn server_url(kind: Server) -> String {
    let var = match kind {
        Server::Mysql => "WDT_TEST_MYSQL_URL",
        Server::Postgres => "WDT_TEST_PG_URL",
    };
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: start the test databases with `eval \"$(bash scripts/db-servers.sh)\"`")
    })
}

/// `scheme://user:password@host:port/db` in parts.
pub struct Url {
    pub scheme: String,
    pub user: String,
    pub password: String,
    pub host: String,
    pub port: String,
    pub db: String,
}

pub fn parse_url(url: &str) -> Url {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (auth, rest) = rest.rsplit_once('@').unwrap();
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    let (hostport, db) = rest.split_once('/').unwrap();
    let (host, port) = hostport.split_once(':').unwrap();
    Url {
        scheme: scheme.into(),
        user: user.into(),
        password: password.into(),
        host: host.into(),
        port: port.into(),
        db: db.split('?').next().unwrap().into(),
    }
}

/// Runs SQL on a server database with its command-line client, as the test user; its output.
pub fn server_sql(kind: Server, url: &str, sql: &str) -> Result<String, String> {
    let u = parse_url(url);
    let mut cmd = match kind {
        Server::Mysql => {
            let mut c = Command::new("mysql");
            // One statement per call; `//` as the delimiter lets a trigger body hold `;`.
            c.args([
                "--protocol=tcp",
                "-N",
                "-B",
                "--delimiter=//",
                "-h",
                &u.host,
                "-P",
                &u.port,
            ])
            .args(["-u", &u.user])
            .arg(format!("-p{}", u.password))
            .args(["-D", &u.db, "-e", sql]);
            c
        }
        Server::Postgres => {
            let mut c = Command::new("psql");
            c.env("PGPASSWORD", &u.password)
                .args([
                    "-X",
                    "-q",
                    "-t",
                    "-A",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-h",
                    &u.host,
                    "-p",
                ])
                .args([&u.port, "-U", &u.user, "-d", &u.db, "-c", sql]);
            c
        }
    };
    let out = cmd
        .output()
        .map_err(|e| format!("run the database client: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A new, empty database on the test server, for one test; its URL.
pub fn fresh_database(kind: Server) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let base = server_url(kind);
    // The test user may create and drop databases named wdt_test_* (scripts/db-servers.sh).
    // Process ids come back on a machine whose servers keep earlier runs' databases: the time
    // makes the name new.
    let name = format!(
        "wdt_test_{}_{}_{}",
        std::process::id(),
        epoch_ms(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    server_sql(kind, &base, &format!("CREATE DATABASE {name}")).expect("create a test database");
    let u = parse_url(&base);
    format!(
        "{}://{}:{}@{}:{}/{name}",
        u.scheme, u.user, u.password, u.host, u.port
    )
}

/// Outbox options at `location`: a file path, or a server URL (as `store`).
pub fn at(location: &str, mut extra: Value) -> Value {
    let key = if location.contains("://") {
        "store"
    } else {
        "path"
    };
    extra[key] = Value::from(location);
    extra
}

/// A quick return the seed accepts, any number of times (pos-load bought a million).
pub fn quick_return(remark: &str, qty: u32) -> Value {
    json!({
        "refundInfo": {"tid": "pos-load", "return_warehouse_no": "pos", "remark": remark},
        "detailMapList": [{"spec_no": "LOAD-SKU", "stockin_num": qty, "remark": ""}],
        "createPreStockin": false
    })
}

/// Client config for outbox tests: short timeouts so a lease can be short too.
pub fn config(d: &Double) -> String {
    d.config(json!({"connect_timeout_ms": 500, "timeout_ms": 1000, "max_retries": 0, "test_hooks": true}))
}

pub fn options(path: &str) -> Value {
    at(path, json!({"settle_ms": 300, "lease_ms": 1500}))
}

/// Every `/openapi` request the double received, oldest first.
pub fn request_log(d: &Double) -> Vec<(String, String)> {
    let mut r = ureq::get(format!("{}/__mock/requests", d.base))
        .call()
        .expect("request log");
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["method"].as_str().unwrap().to_owned(),
                x["body"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub const QUICK_RETURN: &str = "wms.stockin.SmartRefund.upload";
pub const REFUND_SEARCH: &str = "aftersales.refund.Refund.search";

/// How many quick-return requests carried the entry's marker, `[wdt:<file tag>:<id>]` (or the
/// older `[wdt:<id>]`), read as whole tokens.
pub fn sends_of(log: &[(String, String)], id: &str) -> usize {
    log.iter()
        .filter(|(m, b)| m == QUICK_RETURN && marker_ids(b).iter().any(|x| x == id))
        .count()
}

/// The entry ids of every complete `[wdt:…]` token in `text`.
pub fn marker_ids(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("[wdt:") {
        rest = &rest[at + 5..];
        if let Some(end) = rest.find(']') {
            let inner = &rest[..end];
            out.push(match inner.split_once(':') {
                Some((_, id)) => id.to_owned(),
                None => inner.to_owned(),
            });
        }
    }
    out
}

pub fn stockins(d: &Double) -> u64 {
    d.stats()["stockins"].as_u64().unwrap()
}

// --- child processes ------------------------------------------------------------------------

pub const CHILD_ENV: &str = "WDT_OUTBOX_CHILD";

/// Starts this test binary again as a child that runs `child_main` with `job`: the test harness
/// filtered to the one test named `child_entry`.
pub fn spawn_child(job: &Value, crash: Option<&str>) -> Child {
    let mut cmd = child_command(job);
    if let Some(point) = crash {
        cmd.env(wdt_crash_env(), point);
    }
    cmd.spawn().expect("start a child test process")
}

/// The command `spawn_child` runs, for a caller that sets more of its environment.
pub fn child_command(job: &Value) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_entry",
        "--nocapture",
        "--test-threads=1",
        "--quiet",
    ])
    .env(CHILD_ENV, job.to_string())
    .env_remove(wdt_crash_env())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

pub fn wdt_crash_env() -> &'static str {
    "WDT_OUTBOX_TEST_CRASH"
}

/// The child's result lines (`RESULT <json>`) and its exit status.
pub fn wait_child(child: Child) -> (Vec<Value>, std::process::ExitStatus, String) {
    let out = child.wait_with_output().expect("child output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let results = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .map(|l| serde_json::from_str(l).expect("child result is JSON"))
        .collect();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (results, out.status, stderr)
}

/// The body of the `child_entry` test: does nothing unless started by `spawn_child`.
/// Jobs: {"config","options","submits":[…]} and/or {"flush":true}.
pub fn child_main() {
    let Ok(job) = std::env::var(CHILD_ENV) else {
        return;
    };
    let job: Value = serde_json::from_str(&job).unwrap();
    let outbox = match Outbox::open(job["config"].as_str().unwrap(), &job["options"]) {
        Ok(o) => o,
        Err(e) => {
            println!("RESULT {}", json!({"open_error": e}));
            return;
        }
    };
    // Two children started together start their work together.
    if let Some(at) = job["start_at_ms"].as_i64() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        if at > now {
            std::thread::sleep(Duration::from_millis((at - now) as u64));
        }
    }
    // {"generate": {"count": N, "prefix": "F-", "remark": "…"}}: N deferred submits, made here
    // because a long list does not fit in an environment variable.
    let mut submits: Vec<Value> = job["submits"].as_array().cloned().unwrap_or_default();
    if let Some(g) = job.get("generate") {
        for i in 0..g["count"].as_u64().unwrap() {
            submits.push(
                json!({"id": format!("{}{i:05}", g["prefix"].as_str().unwrap()),
                                "request": quick_return(g["remark"].as_str().unwrap(), 1),
                                "defer": true}),
            );
        }
    }
    {
        for s in &submits {
            let env = outbox.submit(s);
            println!("RESULT {env}");
            if job["stop_on_error"] == true && env["ok"] != true {
                break;
            }
        }
    }
    if let Some(ms) = job["sleep_before_flush_ms"].as_u64() {
        std::thread::sleep(Duration::from_millis(ms));
    }
    if job["flush"] == true {
        println!("RESULT {}", outbox.flush(&json!({})));
    }
}

pub fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
