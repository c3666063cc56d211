//! The outbox's costs on this machine (docs/outbox.md, BENCHMARKS.md): submit-and-deliver
//! latency against the gateway double (a child process) on 127.0.0.1 (two durable commits, stored
//! and marked in flight, then the answer, around one round trip), durable submits per second when deferred (one fsync'd commit each),
//! and a flush draining a backlog. Every commit is fsync'd (WAL, synchronous=FULL): the figures
//! are bounded by the disk's fsync time, which is printed first for scale.
//!
//! Last, the backlog case: OUTBOX_BENCH_BACKLOG (default "1000,10000") entries submitted
//! offline (deferred), then one flush against the double. It prints the library's time per
//! entry (CPU time of the flushing thread: the outbox, the client and SQLite, without the
//! double's threads and without time spent waiting for fsync), the wall time per entry, and the
//! process's peak RSS during that flush (reset before it via /proc/self/clear_refs). The double
//! runs in a child process, so neither its CPU nor its memory is counted.
//!
//! Then the same backlog flush per store (OUTBOX_BENCH_STORES, default "sqlite,mysql,postgres"
//! with the servers of scripts/db-servers.sh, whose URLs it takes from WDT_TEST_MYSQL_URL and
//! WDT_TEST_PG_URL; a store without its URL is reported as not measured): entries per second
//! submitted and flushed, each store in a fresh database.
//!
//!   cargo bench --bench outbox            (OUTBOX_BENCH_N to change the sample size)

use std::ffi::{c_char, CStr, CString};
use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wdt::ffi::*;
use wdt_mock::options::Options;
use wdt_mock::server::Server;

fn take(s: *mut c_char) -> Value {
    let v = serde_json::from_str(unsafe { CStr::from_ptr(s) }.to_str().unwrap()).unwrap();
    unsafe { wdt_free_string(s) };
    v
}

fn submit_json(id: &str, defer: bool) -> CString {
    CString::new(
        json!({"id": id, "defer": defer, "request": {
            "refundInfo": {"tid": "pos-load", "return_warehouse_no": "pos", "remark": "bench"},
            "detailMapList": [{"spec_no": "LOAD-SKU", "stockin_num": 1, "remark": ""}],
            "createPreStockin": false}})
        .to_string(),
    )
    .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn fsync_ms(dir: &std::path::Path) -> f64 {
    let path = dir.join("fsync.probe");
    let mut f = std::fs::File::create(&path).unwrap();
    let n = 50;
    let t = Instant::now();
    for _ in 0..n {
        f.write_all(&[0u8; 4096]).unwrap();
        f.sync_data().unwrap();
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let _ = std::fs::remove_file(&path);
    ms
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Peak resident set size of this process in KiB (VmHWM), after `reset_peak_rss`.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn reset_peak_rss() {
    // "5" resets VmHWM to the current RSS (Linux 4.0+); elsewhere the figure is the
    // process's peak so far.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

const DOUBLE_ENV: &str = "WDT_OUTBOX_BENCH_DOUBLE";

fn main() {
    let n: usize = std::env::var("OUTBOX_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed.json");
    // The double runs in a child process (this executable again): it keeps every request it
    // received, which would otherwise be counted in the peak RSS of the library's process.
    if std::env::var_os(DOUBLE_ENV).is_some() {
        let server = Server::bind(&Options {
            seed: Some(seed),
            quiet: true,
            ..Options::default()
        })
        .unwrap();
        println!("{}", server.url());
        std::io::stdout().flush().unwrap();
        server.run();
        return;
    }
    let mut double = std::process::Command::new(std::env::current_exe().unwrap())
        .env(DOUBLE_ENV, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the double");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(double.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line.trim().to_owned();

    let dir = std::env::temp_dir().join(format!("wdt-outbox-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "outbox benchmark: {n} returns per case, files in {}",
        dir.display()
    );
    println!("fsync of 4 KiB on this disk: {:.2} ms", fsync_ms(&dir));

    let config = CString::new(
        json!({"sid": "wdtapi3", "appkey": "wdt_test", "appsecret": "testsecret:testsalt",
               "url": url, "timeout_ms": 5000})
        .to_string(),
    )
    .unwrap();
    let open = |file: &str| {
        let opts = CString::new(
            json!({"path": dir.join(file).to_string_lossy(), "lease_ms": 10000}).to_string(),
        )
        .unwrap();
        let mut err: *mut c_char = std::ptr::null_mut();
        let ob = unsafe { wdt_outbox_open(config.as_ptr(), opts.as_ptr(), &mut err) };
        assert!(!ob.is_null(), "open: {}", take(err));
        ob
    };

    // 1. submit-and-deliver latency.
    let ob = open("latency.db");
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let s = submit_json(&format!("L-{i}"), false);
        let t = Instant::now();
        let env = take(unsafe { wdt_outbox_submit(ob, s.as_ptr()) });
        lat.push(t.elapsed());
        assert_eq!(env["data"]["state"], "delivered", "{env}");
    }
    unsafe { wdt_outbox_close(ob) };
    lat.sort();
    println!(
        "submit and deliver (store+mark, send, record): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&lat, 0.5).as_secs_f64() * 1000.0,
        percentile(&lat, 0.9).as_secs_f64() * 1000.0,
        percentile(&lat, 0.99).as_secs_f64() * 1000.0,
        lat.last().unwrap().as_secs_f64() * 1000.0
    );

    // 2. durable submits per second (deferred: one fsync'd commit each, nothing sent).
    let ob = open("throughput.db");
    let t = Instant::now();
    for i in 0..n {
        let s = submit_json(&format!("D-{i}"), true);
        let env = take(unsafe { wdt_outbox_submit(ob, s.as_ptr()) });
        assert_eq!(env["data"]["state"], "pending");
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "durable submits (defer, fsync'd): {:.0} per second ({:.2} ms each)",
        n as f64 / secs,
        secs * 1000.0 / n as f64
    );

    // 3. a flush draining that backlog.
    let t = Instant::now();
    let env = take(unsafe { wdt_outbox_flush(ob, std::ptr::null()) });
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(env["data"]["delivered"], n, "{env}");
    println!(
        "flush of {n} pending returns: {:.2} s, {:.0} deliveries per second",
        secs,
        n as f64 / secs
    );
    unsafe { wdt_outbox_close(ob) };

    // 4. the offline backlog: N deferred submits, then one flush.
    let sizes: Vec<usize> = std::env::var("OUTBOX_BENCH_BACKLOG")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    for size in sizes {
        let file = format!("backlog-{size}.db");
        let ob = open(&file);
        for i in 0..size {
            let s = submit_json(&format!("B-{i}"), true);
            let env = take(unsafe { wdt_outbox_submit(ob, s.as_ptr()) });
            assert_eq!(env["data"]["state"], "pending", "{env}");
        }
        reset_peak_rss();
        let rss_before = peak_rss_kib();
        let cpu = thread_cpu();
        let t = Instant::now();
        let env = take(unsafe { wdt_outbox_flush(ob, std::ptr::null()) });
        let wall = t.elapsed();
        let cpu = thread_cpu() - cpu;
        assert_eq!(env["data"]["delivered"], size, "{env}");
        println!(
            "flush of {size} offline entries: library {:.3} ms/entry (flushing thread's CPU), wall {:.3} ms/entry, peak RSS {:.1} MiB (at start {:.1} MiB)",
            cpu.as_secs_f64() * 1000.0 / size as f64,
            wall.as_secs_f64() * 1000.0 / size as f64,
            peak_rss_kib() as f64 / 1024.0,
            rss_before as f64 / 1024.0,
        );
        unsafe { wdt_outbox_close(ob) };
    }
    // 5. one backlog per store.
    let per_store: usize = std::env::var("OUTBOX_BENCH_STORE_BACKLOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let stores =
        std::env::var("OUTBOX_BENCH_STORES").unwrap_or_else(|_| "sqlite,mysql,postgres".into());
    for store in stores.split(',').map(str::trim) {
        let location = match store {
            "sqlite" => json!({"path": dir.join("per-store.db").to_string_lossy()}),
            "mysql" | "postgres" => match fresh_server_db(store) {
                Some(url) => json!({"store": url}),
                None => {
                    println!("{store}: not measured (no test server: eval \"$(bash scripts/db-servers.sh)\")");
                    continue;
                }
            },
            other => panic!("unknown store {other:?} in OUTBOX_BENCH_STORES"),
        };
        let mut opts = location;
        opts["lease_ms"] = json!(10000);
        let opts = CString::new(opts.to_string()).unwrap();
        let mut err: *mut c_char = std::ptr::null_mut();
        let ob = unsafe { wdt_outbox_open(config.as_ptr(), opts.as_ptr(), &mut err) };
        assert!(!ob.is_null(), "open {store}: {}", take(err));
        let t = Instant::now();
        for i in 0..per_store {
            let s = submit_json(&format!("S-{i}"), true);
            let env = take(unsafe { wdt_outbox_submit(ob, s.as_ptr()) });
            assert_eq!(env["data"]["state"], "pending", "{env}");
        }
        let stored = t.elapsed().as_secs_f64();
        let cpu = thread_cpu();
        let t = Instant::now();
        let env = take(unsafe { wdt_outbox_flush(ob, std::ptr::null()) });
        let wall = t.elapsed().as_secs_f64();
        let cpu = thread_cpu() - cpu;
        assert_eq!(env["data"]["delivered"], per_store, "{env}");
        println!(
            "{store}: {per_store} entries: submits {:.0}/s ({:.2} ms each); flush {:.0} entries/s ({:.2} ms each, library CPU {:.3} ms each)",
            per_store as f64 / stored,
            stored * 1000.0 / per_store as f64,
            per_store as f64 / wall,
            wall * 1000.0 / per_store as f64,
            cpu.as_secs_f64() * 1000.0 / per_store as f64,
        );
        unsafe { wdt_outbox_close(ob) };
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = double.kill();
    let _ = double.wait();
}

/// A new database on the test server for `store` (its URL), made with the server's own client
/// as the test user; None when the server's URL is not set.
fn fresh_server_db(store: &str) -> Option<String> {
    let var = if store == "mysql" {
        "WDT_TEST_MYSQL_URL"
    } else {
        "WDT_TEST_PG_URL"
    };
    let base = std::env::var(var).ok()?;
    let (scheme, rest) = base.split_once("://")?;
    let (auth, rest) = rest.rsplit_once('@')?;
    let (user, password) = auth.split_once(':')?;
    let (hostport, db) = rest.split_once('/')?;
    let (host, port) = hostport.split_once(':')?;
    // Process ids come back; the servers keep earlier runs' databases.
    let name = format!(
        "wdt_test_bench_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let status = if store == "mysql" {
        std::process::Command::new("mysql")
            .args(["--protocol=tcp", "-h", host, "-P", port, "-u", user])
            .arg(format!("-p{password}"))
            .args(["-e", &format!("CREATE DATABASE {name}")])
            .status()
    } else {
        std::process::Command::new("psql")
            .env("PGPASSWORD", password)
            .args(["-X", "-q", "-h", host, "-p", port, "-U", user, "-d", db])
            .args(["-c", &format!("CREATE DATABASE {name}")])
            .status()
    };
    assert!(status.ok()?.success(), "create the bench database {name}");
    Some(format!("{scheme}://{user}:{password}@{host}:{port}/{name}"))
}
