//! Issue "exactly once", the parts that need more than one process: a till killed (SIGKILL) at
//! every step between "stored" and "answer recorded", two processes flushing one file, the
//! same id submitted by two processes at once, a full disk and a read-only file. Children are
//! this test binary started again (see outbox_support::spawn_child).

mod common;
mod outbox_support;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use common::*;
use outbox_support::*;
use serde_json::{json, Value};

#[test]
fn child_entry() {
    child_main();
}

fn submit_job(d: &Double, path: &str, id: &str, defer: bool) -> Value {
    json!({"config": config(d), "options": options(path),
           "submits": [{"id": id, "request": quick_return("kill test", 1), "defer": defer}]})
}

/// Every crash point between "stored" and "answer recorded", in the order a return passes
/// them, with what the till was doing and the fault armed on the double first.
fn kill_cases(d: &Double, path: &str, id: &str) -> Vec<(&'static str, Value, Option<Value>)> {
    let submit = submit_job(d, path, id, false);
    let mut flush_deferred = submit_job(d, path, id, true);
    flush_deferred["flush"] = json!(true);
    // The first attempt is dropped unprocessed (unknown); after the settle delay the flush
    // asks, hears "absent", marks the resend, and dies before sending it.
    let mut resend = submit.clone();
    resend["flush"] = json!(true);
    resend["sleep_before_flush_ms"] = json!(400);
    vec![
        // Stored and marked in flight by submit, nothing sent.
        ("stored", submit.clone(), None),
        // Stored by a deferred submit; a flush claimed it, nothing sent.
        ("claimed", flush_deferred, None),
        // A resend after reconciliation, marked, nothing sent.
        ("sending", resend, Some(json!({"mode": "drop", "count": 1}))),
        // The double applies at once and answers after 3 s; the till dies at 300 ms with its
        // request written and the answer on its way.
        (
            "in_flight:300",
            submit.clone(),
            Some(json!({"mode": "slow", "ms": 3000, "count": 1})),
        ),
        // The answer arrived and was read, not stored.
        ("answered", submit.clone(), None),
        // The answer stored: nothing left to do.
        ("recorded", submit, None),
    ]
}

#[test]
fn killed_at_every_step_then_a_new_process_delivers_exactly_once() {
    let mut points = 0;
    for n in 0..6 {
        let d = double();
        let path = db_path("kill");
        let id = "KILL-1";
        let (point, job, fault) = kill_cases(&d, &path, id).swap_remove(n);
        if let Some(f) = fault {
            d.fault(f);
        }
        let (results, status, stderr) = wait_child(spawn_child(&job, Some(point)));
        assert_eq!(
            status.signal(),
            Some(9),
            "{point}: the child was not killed ({status:?}); results {results:?}; {stderr}"
        );

        // A new process (this one) opens the same file and flushes until the entry settles.
        let o = Outbox::open(&config(&d), &options(&path)).unwrap();
        let e = o.flush_until_settled(id, Duration::from_secs(15));
        assert_eq!(e["data"]["state"], "delivered", "{point}: {e}");
        assert_eq!(
            stockins(&d),
            1,
            "{point}: the double holds {} stock-ins",
            stockins(&d)
        );
        let log = request_log(&d);
        let expected = if point == "sending" { 2 } else { 1 }; // the first one was dropped unread
        assert_eq!(
            sends_of(&log, id),
            expected,
            "{point}: sent {} times: {log:?} {e}",
            sends_of(&log, id)
        );
        let f = o.flush(&json!({}));
        assert_eq!(f["data"]["pending"], 0, "{f}");
        assert_eq!(f["data"]["in_doubt"], 0, "{f}");
        // Where the killed till may have sent, the new one asked before deciding.
        if ["stored", "claimed", "sending", "in_flight:300", "answered"].contains(&point) {
            assert!(
                log.iter().any(|(m, _)| m == REFUND_SEARCH),
                "{point}: decided without asking the ERP"
            );
        }
        eprintln!(
            "kill at {point}: delivered once, {} requests in all",
            log.len()
        );
        points += 1;
    }
    assert_eq!(points, 6);
}

/// The answer lost by the network instead of a kill: the till process ends normally with the
/// entry in doubt; a new process resolves it.
#[test]
fn answer_lost_by_the_network_then_a_new_process_delivers_exactly_once() {
    for fault in [
        json!({"mode": "drop_after", "count": 1}),
        json!({"mode": "reset_after", "count": 1}),
        json!({"mode": "hang_after", "ms": 3000, "count": 1}),
        json!({"mode": "drop", "count": 1}),
        // A 502 with the gateway's JSON, not processed: unknown to the client, absent in the ERP.
        json!({"mode": "json502", "count": 1}),
        // Processed, then a 500 or status 5 (数据库错误) instead of the result: unknown, found.
        json!({"mode": "applied_500json", "count": 1}),
        json!({"mode": "applied_status", "arg": 5, "count": 1}),
    ] {
        let d = double();
        let path = db_path("netlost");
        d.fault(fault.clone());
        let (results, status, stderr) =
            wait_child(spawn_child(&submit_job(&d, &path, "NET-1", false), None));
        assert!(status.success(), "{fault}: {stderr}");
        assert_eq!(
            results[0]["data"]["state"], "in_doubt",
            "{fault}: {results:?}"
        );
        let o = Outbox::open(&config(&d), &options(&path)).unwrap();
        let e = o.flush_until_settled("NET-1", Duration::from_secs(15));
        assert_eq!(e["data"]["state"], "delivered", "{fault}: {e}");
        assert_eq!(stockins(&d), 1, "{fault}");
        // drop and json502 never reached the ERP: one resend after the query said absent.
        let expected = if fault["mode"] == "drop" || fault["mode"] == "json502" {
            2
        } else {
            1
        };
        assert_eq!(sends_of(&request_log(&d), "NET-1"), expected, "{fault}");
    }
}

#[test]
fn two_processes_flushing_one_file_never_send_an_entry_twice() {
    let d = double();
    let path = db_path("two-flushers");
    let n = 120;
    {
        let o = Outbox::open(&config(&d), &options(&path)).unwrap();
        for i in 0..n {
            let env = o.submit(
                &json!({"id": format!("T-{i:03}"), "request": quick_return("", 1), "defer": true}),
            );
            assert_eq!(env["data"]["state"], "pending", "{env}");
        }
    }
    let start = epoch_ms() + 1500;
    let job = json!({"config": config(&d), "options": options(&path), "flush": true, "start_at_ms": start});
    let a = spawn_child(&job, None);
    let b = spawn_child(&job, None);
    let (ra, sa, ea) = wait_child(a);
    let (rb, sb, eb) = wait_child(b);
    assert!(sa.success() && sb.success(), "{ea}\n{eb}");
    let da = ra[0]["data"]["delivered"].as_u64().unwrap();
    let db = rb[0]["data"]["delivered"].as_u64().unwrap();
    assert_eq!(da + db, n, "{ra:?} {rb:?}");
    eprintln!("two flushers: {da} + {db} deliveries");
    let log = request_log(&d);
    for i in 0..n {
        let id = format!("T-{i:03}");
        assert_eq!(
            sends_of(&log, &id),
            1,
            "{id} sent {} times",
            sends_of(&log, &id)
        );
    }
    assert_eq!(stockins(&d), n);
    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    assert!(o.all().iter().all(|e| e["state"] == "delivered"));
}

#[test]
fn the_same_id_from_two_processes_at_once_is_one_entry_and_one_stock_in() {
    let d = double();
    let path = db_path("same-id-2p");
    // Create the file first so both children race on the submit, not on the migration.
    drop(Outbox::open(&config(&d), &options(&path)).unwrap());
    for round in 0..4 {
        let id = format!("TWICE-{round}");
        let start = epoch_ms() + 1200;
        let job = json!({"config": config(&d), "options": options(&path), "start_at_ms": start,
                         "submits": [{"id": id, "request": quick_return("twice", 1)}]});
        let a = spawn_child(&job, None);
        let b = spawn_child(&job, None);
        let (ra, sa, ea) = wait_child(a);
        let (rb, sb, eb) = wait_child(b);
        assert!(sa.success() && sb.success(), "{ea}\n{eb}");
        for r in [&ra[0], &rb[0]] {
            assert_eq!(r["ok"], true, "{r}");
            assert_eq!(r["data"]["id"], id);
        }
        let o = Outbox::open(&config(&d), &options(&path)).unwrap();
        let e = o.flush_until_settled(&id, Duration::from_secs(10));
        assert_eq!(e["data"]["state"], "delivered", "{e}");
        assert_eq!(sends_of(&request_log(&d), &id), 1, "{id}");
    }
    assert_eq!(stockins(&d), 4);
    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    assert_eq!(o.all().len(), 4);
}

/// A full disk, made with RLIMIT_FSIZE in the child (no root or tmpfs needed): submits fail
/// with a `storage` envelope, and every entry the child was told was stored is still there.
#[test]
fn sqlite_only_a_full_disk_is_a_storage_error_and_loses_nothing_stored() {
    use std::os::unix::process::CommandExt;
    let d = double();
    let path = db_path("full");
    drop(Outbox::open(&config(&d), &options(&path)).unwrap());
    let job = json!({"config": config(&d), "options": options(&path), "stop_on_error": true,
                     "generate": {"count": 3000, "prefix": "F-", "remark": "满".repeat(200)}});
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_entry",
        "--nocapture",
        "--test-threads=1",
        "--quiet",
    ])
    .env(CHILD_ENV, job.to_string())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    unsafe {
        cmd.pre_exec(|| {
            // Writes past the limit fail with EFBIG instead of killing the process.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 1024 * 1024,
                rlim_max: 1024 * 1024,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (results, status, stderr) = wait_child(cmd.spawn().unwrap());
    assert!(status.success(), "{stderr}");
    let stored: Vec<&Value> = results.iter().filter(|r| r["ok"] == true).collect();
    let last = results.last().unwrap();
    assert_eq!(
        last["ok"],
        false,
        "the limit was never reached: {} stored",
        stored.len()
    );
    assert_eq!(last["error"]["kind"], "storage", "{last}");
    assert_eq!(last["error"]["delivery"], "not_sent");
    assert!(
        last["error"]["hint"]
            .as_str()
            .is_some_and(|h| !h.is_empty()),
        "{last}"
    );
    assert!(
        stored.len() > 10,
        "only {} stored under 1 MiB",
        stored.len()
    );
    eprintln!(
        "full disk after {} entries: {}",
        stored.len(),
        last["error"]["message"]
    );
    // Without the limit, every entry reported as stored is there, and they all deliver.
    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    let all = o.all();
    assert!(
        all.len() >= stored.len(),
        "{} < {}",
        all.len(),
        stored.len()
    );
    for s in &stored {
        assert!(
            all.iter().any(|e| e["id"] == s["data"]["id"]),
            "{} lost",
            s["data"]["id"]
        );
    }
    let f = o.flush(&json!({}));
    assert_eq!(f["data"]["pending"], 0, "{f}");
    assert_eq!(stockins(&d) as usize, all.len());
    assert_eq!(d.requests() as usize, all.len());
}

/// A read-only outbox file (a read-only tmpfs as root, file modes otherwise): opening it is a
/// clear `config` error naming `path`, and its entries are all there once it is writable.
#[test]
fn sqlite_only_a_read_only_file_is_refused_clearly_and_keeps_its_entries() {
    let d = double();
    let dir = temp_dir("ro");
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let root = unsafe { libc::geteuid() } == 0;
    let sh = |cmd: &str| {
        let ok = std::process::Command::new("sh")
            .args(["-c", cmd])
            .status()
            .unwrap()
            .success();
        assert!(ok, "{cmd} failed");
    };
    if root {
        sh(&format!(
            "mount -t tmpfs -o size=4m tmpfs {}",
            mnt.display()
        ));
    }
    let path = mnt.join("outbox.db").to_string_lossy().into_owned();
    {
        let o = Outbox::open(&config(&d), &options(&path)).unwrap();
        for i in 0..3 {
            o.submit(
                &json!({"id": format!("RO-{i}"), "request": quick_return("", 1), "defer": true}),
            );
        }
    }
    if root {
        sh(&format!("mount -o remount,ro {}", mnt.display()));
    } else {
        sh(&format!(
            "chmod 0555 {0} && chmod 0444 {0}/*",
            mnt.display()
        ));
    }
    let e = Outbox::open(&config(&d), &options(&path)).err();
    let restore = || {
        if root {
            sh(&format!("mount -o remount,rw {}", mnt.display()));
        } else {
            sh(&format!(
                "chmod 0755 {0} && chmod 0644 {0}/*",
                mnt.display()
            ));
        }
    };
    restore();
    let e = e.expect("a read-only outbox opened");
    assert_eq!(kind(&e), "config", "{e}");
    assert_eq!(e["error"]["field"], "path");
    eprintln!("read-only: {}", e["error"]["message"]);
    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    assert_eq!(o.all().len(), 3);
    drop(o);
    if root {
        sh(&format!("umount {}", mnt.display()));
    }
}
