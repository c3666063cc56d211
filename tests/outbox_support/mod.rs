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

pub fn db_path(name: &str) -> String {
    temp_dir(name)
        .join("outbox.db")
        .to_string_lossy()
        .into_owned()
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
    json!({"path": path, "settle_ms": 300, "lease_ms": 1500})
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
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_entry",
        "--nocapture",
        "--test-threads=1",
        "--quiet",
    ])
    .env(CHILD_ENV, job.to_string())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    match crash {
        Some(point) => cmd.env(wdt_crash_env(), point),
        None => cmd.env_remove(wdt_crash_env()),
    };
    cmd.spawn().expect("start a child test process")
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
