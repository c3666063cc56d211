//! Issue "exactly once": the outbox in one process, through the C ABI, against the double.
//! Submit and deliver, the same id twice, invalid input, the marker, reconciliation after every
//! way an answer can be lost, rejected and not-sent outcomes, listing, bad files.

mod common;
mod outbox_support;

use std::time::Duration;

use common::*;
use outbox_support::*;
use serde_json::{json, Value};
use wdt::ffi::{wdt_outbox_close, WdtOutbox};

#[test]
fn child_entry() {
    child_main();
}

#[test]
fn submit_delivers_now_with_the_marker_in_the_remark() {
    let d = double();
    let path = db_path("deliver");
    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    let env = o.submit(&json!({"id": "POS-20261130-0042", "request": quick_return("退货", 1)}));
    assert_eq!(env["ok"], true, "{env}");
    let e = &env["data"];
    assert_eq!(e["id"], "POS-20261130-0042");
    assert_eq!(e["state"], "delivered", "{env}");
    assert_eq!(e["attempts"], 1);
    assert_eq!(e["result"]["type"], 12);
    assert!(e["result"]["stockin_id"].as_u64().is_some());
    assert!(e["created_ms"].as_i64().unwrap() <= e["updated_ms"].as_i64().unwrap());
    let log = request_log(&d);
    assert_eq!(log.len(), 1);
    // The marker opens the remark, where a cut at 255 cannot reach it, and names this file.
    let body: Value = serde_json::from_str(&log[0].1).unwrap();
    let remark = body[0]["remark"].as_str().unwrap();
    let tag = remark
        .strip_prefix("[wdt:")
        .and_then(|r| r.strip_suffix(":POS-20261130-0042] 退货"))
        .unwrap_or_else(|| panic!("remark {remark:?}"));
    assert!(
        tag.len() >= 8 && tag.bytes().all(|b| b.is_ascii_hexdigit()),
        "{remark}"
    );
    let got = o.get("POS-20261130-0042");
    let events: Vec<&str> = got["data"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["stored", "attempt", "answer"], "{got}");
    assert!(got["data"]["history"][0]["at_ms"].as_i64().is_some());
}

#[test]
fn the_same_id_twice_is_one_entry_and_one_stock_in() {
    let d = double();
    let path = db_path("same-id");
    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    let s = json!({"id": "R-1", "request": quick_return("", 1)});
    let first = o.submit(&s);
    let second = o.submit(&s);
    assert_eq!(first["data"]["state"], "delivered", "{first}");
    assert_eq!(
        second["data"], first["data"],
        "the existing entry, unchanged"
    );
    // A different return under a used id is an error, never the first return's stock-in.
    let third = o.submit(&json!({"id": "R-1", "request": quick_return("other", 5)}));
    assert_eq!(kind(&third), "invalid_argument", "{third}");
    assert_eq!(third["error"]["field"], "id", "{third}");
    assert!(
        third["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already used for a different return"),
        "{third}"
    );
    // Deferring or not is not part of the return.
    let fourth = o.submit(&json!({"id": "R-1", "request": quick_return("", 1), "defer": true}));
    assert_eq!(fourth["data"], first["data"], "{fourth}");
    assert_eq!(stockins(&d), 1);
    assert_eq!(sends_of(&request_log(&d), "R-1"), 1);
    assert_eq!(o.all().len(), 1);
}

#[test]
fn invalid_requests_store_nothing_and_send_nothing() {
    let d = double();
    let path = db_path("invalid");
    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    let mut bad_tid = quick_return("", 1);
    bad_tid["refundInfo"]["tid"] = json!("");
    let long = "中".repeat(250);
    let cases = [
        (json!({"request": bad_tid}), "request.refundInfo.tid"),
        (
            json!({"request": {"refundInfo": {"return_warehouse_no": "pos", "remark": ""},
                               "detailMapList": [{"spec_no": "A", "stockin_num": 1, "remark": ""}],
                               "createPreStockin": false}}),
            "request.refundInfo.tid",
        ),
        (
            json!({"id": "has space", "request": quick_return("", 1)}),
            "id",
        ),
        (
            json!({"id": "x".repeat(65), "request": quick_return("", 1)}),
            "id",
        ),
        (
            json!({"request": quick_return("", 1), "defer": "yes"}),
            "defer",
        ),
        (json!({"request": quick_return("", 1), "extra": 1}), "extra"),
        (json!({}), "request"),
        (
            json!({"request": quick_return(&long, 1)}),
            "request.refundInfo.remark",
        ),
    ];
    for (submit, field) in cases {
        let env = o.submit(&submit);
        assert_eq!(kind(&env), "invalid_argument", "{submit}: {env}");
        assert_eq!(env["error"]["field"], field, "{env}");
        assert_eq!(env["error"]["delivery"], "not_sent");
    }
    // The remark limit counts the marker: 250 units fit without it.
    let env = o.submit(&json!({"request": quick_return(&long, 1)}));
    assert!(
        env["error"]["message"].as_str().unwrap().contains("marker"),
        "{env}"
    );
    assert_eq!(o.all().len(), 0);
    assert_eq!(d.requests(), 0);
    let plain = Outbox::open(
        &config(&d),
        &at(
            &db_path("nomarker"),
            json!({"marker": false, "settle_ms": 300, "lease_ms": 1500}),
        ),
    )
    .unwrap();
    let env = plain.submit(&json!({"request": quick_return(&long, 1)}));
    assert_eq!(env["data"]["state"], "delivered", "{env}");
    // Non-JSON and NULL.
    let env = take(unsafe { wdt::ffi::wdt_outbox_submit(o.0, c"{not json".as_ptr()) });
    assert_eq!(kind(&env), "invalid_argument");
    let env = take(unsafe { wdt::ffi::wdt_outbox_submit(o.0, std::ptr::null()) });
    assert_eq!(kind(&env), "invalid_argument");
    let env = take(unsafe { wdt::ffi::wdt_outbox_submit(std::ptr::null_mut(), c"{}".as_ptr()) });
    assert_eq!(kind(&env), "invalid_argument");
    let env = take(unsafe { wdt::ffi::wdt_outbox_get(o.0, std::ptr::null()) });
    assert_eq!(kind(&env), "invalid_argument");
    let env = take(unsafe { wdt::ffi::wdt_outbox_list(o.0, c"[]".as_ptr()) });
    assert_eq!(kind(&env), "invalid_argument");
    let env = take(unsafe { wdt::ffi::wdt_outbox_flush(o.0, c"{\"max_entries\":0}".as_ptr()) });
    assert_eq!(env["error"]["field"], "max_entries");
    unsafe { wdt::ffi::wdt_outbox_close(std::ptr::null_mut()) };
}

#[test]
fn options_are_checked() {
    let d = double();
    let path = db_path("opts");
    for (opts, field) in [
        (json!({}), "path"),
        (json!({"path": path, "lease_ms": 900}), "lease_ms"),
        (json!({"path": path, "settle_ms": 50}), "settle_ms"),
        (json!({"path": path, "sttle_ms": 500}), "sttle_ms"),
    ] {
        let e = Outbox::open(&config(&d), &opts).err().unwrap();
        assert_eq!(kind(&e), "config", "{opts}: {e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    let e = Outbox::open("{}", &options(&path)).err().unwrap();
    assert_eq!(kind(&e), "config");
    assert_eq!(e["error"]["field"], "sid");
}

/// Every way the answer can be lost after the double applied the request: the entry goes
/// `in_doubt`, is not touched before the settle delay, then the query finds it.
#[test]
fn lost_answers_are_reconciled_never_resent() {
    for fault in [
        json!({"mode": "drop_after", "count": 1}),
        json!({"mode": "reset_after", "count": 1}),
        json!({"mode": "hang_after", "ms": 3000, "count": 1}),
        json!({"mode": "truncated", "count": 1}),
    ] {
        let d = double();
        let path = db_path("lost");
        let o = Outbox::open(
            &config(&d),
            &at(&path, json!({"settle_ms": 800, "lease_ms": 1500})),
        )
        .unwrap();
        d.fault(fault.clone());
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let env = o.submit(&json!({"id": "L-1", "request": quick_return("", 1)}));
        assert_eq!(env["data"]["state"], "in_doubt", "{fault}: {env}");
        assert_eq!(env["data"]["error"]["delivery"], "unknown", "{env}");
        // The cashier is told the outbox checks by itself, and when; not to query by hand.
        let hint = env["data"]["hint"].as_str().unwrap();
        assert!(hint.contains("不要手工重新录入"), "{env}");
        assert_eq!(env["data"]["error"]["hint"], hint, "{env}");
        let next = env["data"]["next_check_ms"]
            .as_i64()
            .expect("next_check_ms");
        assert!(
            next >= before + 800,
            "{fault}: next check {next} before the settle delay"
        );
        // Before the settle delay: nothing is sent and nothing is asked.
        let f = o.flush(&json!({}));
        assert_eq!(f["data"]["in_doubt"], 1, "{f}");
        assert_eq!(
            request_log(&d).len(),
            1,
            "{fault}: touched before settle_ms"
        );
        std::thread::sleep(Duration::from_millis(900));
        let f = o.flush(&json!({}));
        assert_eq!(f["data"]["delivered"], 1, "{fault}: {f}");
        let e = o.get("L-1");
        assert_eq!(e["data"]["state"], "delivered", "{e}");
        assert!(e["data"]["next_check_ms"].is_null(), "{e}");
        assert!(
            e["data"]["result"]["reconciled"]["refund_no"].is_string(),
            "{e}"
        );
        let log = request_log(&d);
        assert_eq!(sends_of(&log, "L-1"), 1, "{fault}: resent");
        assert_eq!(log.iter().filter(|(m, _)| m == REFUND_SEARCH).count(), 1);
        assert_eq!(stockins(&d), 1, "{fault}");
        let q = e["data"]["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["event"] == "query")
            .unwrap()
            .clone();
        assert_eq!(q["outcome"], "found", "{q}");
    }
}

/// "Answer slowly, apply late": the ERP applies the request after the client gave up. The
/// settle delay outlasts the gateway, so the query after it sees the return.
#[test]
fn a_late_apply_is_found_after_the_settle_delay() {
    let d = double();
    let path = db_path("late");
    let o = Outbox::open(
        &d.config(json!({"connect_timeout_ms": 500, "timeout_ms": 800, "max_retries": 0})),
        &at(&path, json!({"settle_ms": 2000, "lease_ms": 1500})),
    )
    .unwrap();
    d.fault(json!({"mode": "late", "ms": 1500, "count": 1}));
    let env = o.submit(&json!({"id": "LATE-1", "request": quick_return("", 1)}));
    assert_eq!(env["data"]["state"], "in_doubt", "{env}");
    assert_eq!(env["data"]["error"]["kind"], "timeout", "{env}");
    assert_eq!(stockins(&d), 0, "not applied yet");
    let e = o.flush_until_settled("LATE-1", Duration::from_secs(10));
    assert_eq!(e["data"]["state"], "delivered", "{e}");
    assert!(e["data"]["result"]["reconciled"].is_object(), "{e}");
    assert_eq!(stockins(&d), 1);
    assert_eq!(sends_of(&request_log(&d), "LATE-1"), 1);
}

/// The request never reached the ERP but the client cannot know (dropped before processing):
/// the query after the settle delay finds nothing, and only then is it sent again.
#[test]
fn absent_after_settle_is_resent_once() {
    let d = double();
    let path = db_path("absent");
    let o = Outbox::open(
        &config(&d),
        &at(&path, json!({"settle_ms": 500, "lease_ms": 1500})),
    )
    .unwrap();
    d.fault(json!({"mode": "drop", "count": 1}));
    let env = o.submit(&json!({"id": "A-1", "request": quick_return("", 1)}));
    assert_eq!(env["data"]["state"], "in_doubt", "{env}");
    let e = o.flush_until_settled("A-1", Duration::from_secs(10));
    assert_eq!(e["data"]["state"], "delivered", "{e}");
    assert_eq!(e["data"]["attempts"], 2);
    let log = request_log(&d);
    let order: Vec<&str> = log.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        order,
        [QUICK_RETURN, REFUND_SEARCH, QUICK_RETURN],
        "query before the resend"
    );
    assert_eq!(stockins(&d), 1);
    let h = e["data"]["history"].as_array().unwrap();
    let q = h.iter().find(|x| x["event"] == "query").unwrap();
    assert_eq!(q["outcome"], "absent");
    // The resend came after settle_ms from the unknown answer.
    let answer = h.iter().find(|x| x["event"] == "answer").unwrap()["at_ms"]
        .as_i64()
        .unwrap();
    assert!(q["at_ms"].as_i64().unwrap() >= answer + 500, "{e}");
}

#[test]
fn without_marker_lines_match_and_doubt_needs_attention() {
    let d = double();
    let opts = |p: &str| {
        at(
            p,
            json!({"marker": false, "settle_ms": 300, "lease_ms": 1500}),
        )
    };
    // One matching refund order: without a marker the outbox cannot prove it is this return
    // (another till may have booked the same goods), so a person decides; nothing is resent.
    let o = Outbox::open(&config(&d), &opts(&db_path("nm1"))).unwrap();
    d.fault(json!({"mode": "drop_after", "count": 1}));
    let env = o.submit(&json!({"id": "N-1", "request": quick_return("plain", 3)}));
    assert_eq!(env["data"]["state"], "in_doubt");
    let log = request_log(&d);
    assert!(!log[0].1.contains("[wdt:"), "marker:false sends no marker");
    let e = o.flush_until_settled("N-1", Duration::from_secs(5));
    assert_eq!(e["data"]["state"], "needs_attention", "{e}");
    assert_eq!(stockins(&d), 1);

    // The same goods returned again and the answer lost: two refund orders look alike now, so
    // a person decides; nothing is sent again.
    let o2 = Outbox::open(&config(&d), &opts(&db_path("nm2"))).unwrap();
    d.fault(json!({"mode": "drop_after", "count": 1}));
    let env = o2.submit(&json!({"id": "N-2", "request": quick_return("plain", 3)}));
    assert_eq!(env["data"]["state"], "in_doubt");
    let e = o2.flush_until_settled("N-2", Duration::from_secs(5));
    assert_eq!(e["data"]["state"], "needs_attention", "{e}");
    assert!(
        e["data"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("same tid"),
        "{e}"
    );
    // Lost and not processed: nothing alike in the ERP, so it is sent again.
    let o3 = Outbox::open(&config(&d), &opts(&db_path("nm3"))).unwrap();
    d.fault(json!({"mode": "drop", "count": 1}));
    let env = o3.submit(&json!({"id": "N-3", "request": quick_return("plain", 7)}));
    assert_eq!(env["data"]["state"], "in_doubt");
    let e = o3.flush_until_settled("N-3", Duration::from_secs(5));
    assert_eq!(e["data"]["state"], "delivered", "{e}");
    assert_eq!(stockins(&d), 3);
    let f = o2.flush(&json!({}));
    assert_eq!(f["data"]["needs_attention"], 1);
    let log = request_log(&d);
    assert_eq!(
        log.iter().filter(|(m, _)| m == QUICK_RETURN).count(),
        4,
        "never resent when in doubt"
    );
}

#[test]
fn rejected_is_final_and_not_sent_stays_pending() {
    let d = double();
    let path = db_path("rejected");
    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    let mut r = quick_return("", 1);
    r["refundInfo"]["tid"] = json!("no-such-order");
    let env = o.submit(&json!({"id": "REJ", "request": r}));
    assert_eq!(env["data"]["state"], "rejected", "{env}");
    assert_eq!(env["data"]["error"]["status"], 100);
    assert_eq!(env["data"]["error"]["delivery"], "rejected");
    o.flush(&json!({}));
    assert_eq!(
        sends_of(&request_log(&d), "REJ"),
        1,
        "a rejected entry is never sent again"
    );

    // A rate limit is a rejection that says "later": the entry stays pending and goes later.
    d.fault(json!({"mode": "ratelimit", "count": 1}));
    let env = o.submit(&json!({"id": "RATE", "request": quick_return("", 1)}));
    assert_eq!(env["data"]["state"], "pending", "{env}");
    let f = o.flush(&json!({}));
    assert_eq!(f["data"]["delivered"], 1, "{f}");

    // Gateway unreachable: not_sent, pending, and one flush stops at the first refusal.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = json!({"sid": "wdtapi3", "appkey": "wdt_test", "appsecret": "testsecret:testsalt",
                     "url": format!("http://127.0.0.1:{port}/openapi"), "connect_timeout_ms": 500, "timeout_ms": 1000});
    let off = Outbox::open(&cfg.to_string(), &options(&db_path("off"))).unwrap();
    for i in 0..3 {
        let env = off.submit(&json!({"id": format!("OFF-{i}"), "request": quick_return("", 1)}));
        assert_eq!(env["data"]["state"], "pending", "{env}");
        assert_eq!(env["data"]["error"]["delivery"], "not_sent");
    }
    let f = off.flush(&json!({}));
    assert_eq!(
        f["data"],
        json!({"delivered": 0, "rejected": 0, "in_doubt": 0, "pending": 3, "needs_attention": 0,
               "blocked": null})
    );
}

#[test]
fn list_pages_and_filters() {
    let d = double();
    let path = db_path("list");
    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    for i in 0..5 {
        let env = o.submit(
            &json!({"id": format!("P-{i}"), "request": quick_return("", 1), "defer": true}),
        );
        assert_eq!(env["data"]["state"], "pending");
    }
    assert_eq!(d.requests(), 0, "defer sends nothing");
    let page = o.list(&json!({"limit": 2}));
    let ids: Vec<&str> = page["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["P-0", "P-1"]);
    assert_eq!(page["data"]["next_after"], "P-1");
    let page = o.list(&json!({"limit": 2, "after": "P-3"}));
    assert_eq!(page["data"]["entries"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"]["next_after"], Value::Null);
    let f = o.flush(&json!({"max_entries": 2}));
    assert_eq!(f["data"]["delivered"], 2, "{f}");
    assert_eq!(f["data"]["pending"], 3);
    let pending = o.list(&json!({"state": "pending"}));
    assert_eq!(pending["data"]["entries"].as_array().unwrap().len(), 3);
    let env = take(unsafe { wdt::ffi::wdt_outbox_list(o.0, std::ptr::null()) });
    assert_eq!(env["data"]["entries"].as_array().unwrap().len(), 5);
    let env = o.get("nope");
    assert_eq!(kind(&env), "invalid_argument");
    assert_eq!(env["error"]["field"], "id");
}

#[test]
fn the_worker_flushes_in_the_background_and_stops_on_close() {
    let d = double();
    let path = db_path("worker");
    let o = Outbox::open(
        &config(&d),
        &at(
            &path,
            json!({"settle_ms": 300, "lease_ms": 1500, "worker_interval_ms": 100}),
        ),
    )
    .unwrap();
    let env = o.submit(&json!({"id": "W-1", "request": quick_return("", 1), "defer": true}));
    assert_eq!(env["data"]["state"], "pending");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while o.get("W-1")["data"]["state"] != "delivered" {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker did not deliver"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(o); // wdt_outbox_close joins the worker
    assert_eq!(stockins(&d), 1);
}

#[test]
fn sqlite_only_corrupt_foreign_and_unusable_files_give_a_config_error_and_lose_nothing() {
    let d = double();
    let dir = temp_dir("bad-files");
    let text = dir.join("notes.txt");
    std::fs::write(&text, "收银员交班记录 ".repeat(500)).unwrap();
    let before = std::fs::read(&text).unwrap();
    let e = Outbox::open(&config(&d), &options(text.to_str().unwrap()))
        .err()
        .unwrap();
    assert_eq!(kind(&e), "config", "{e}");
    assert_eq!(e["error"]["field"], "path");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not an SQLite database"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(&text).unwrap(),
        before,
        "the file was changed"
    );

    // A damaged outbox: the header page overwritten.
    let path = dir.join("damaged.db");
    {
        let o = Outbox::open(&config(&d), &options(path.to_str().unwrap())).unwrap();
        o.submit(&json!({"id": "D-1", "request": quick_return("", 1), "defer": true}));
    }
    let mut bytes = std::fs::read(&path).unwrap();
    for b in bytes.iter_mut().take(100) {
        *b = 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let _ = std::fs::remove_file(dir.join("damaged.db-wal"));
    let e = Outbox::open(&config(&d), &options(path.to_str().unwrap()))
        .err()
        .unwrap();
    assert_eq!(kind(&e), "config", "{e}");

    for bad in [
        "/proc/wdt-outbox.db",
        "/nonexistent-dir/x/outbox.db",
        dir.to_str().unwrap(),
    ] {
        let e = Outbox::open(&config(&d), &options(bad)).err().unwrap();
        assert_eq!(kind(&e), "config", "{bad}: {e}");
        assert_eq!(e["error"]["field"], "path", "{e}");
        assert!(!e["error"]["message"].as_str().unwrap().is_empty());
    }
}

/// `wdt_outbox_close` is the caller's last use of the pointer; a till that gets that wrong gets
/// an `invalid_argument` envelope (or, closing twice, one stderr line), never freed memory.
#[test]
fn calls_after_close_and_a_second_close_are_refused() {
    let d = double();
    let path = db_path("after-close");
    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    let env = o.submit(&json!({"id": "K-1", "request": quick_return("", 1), "defer": true}));
    assert_eq!(env["data"]["state"], "pending", "{env}");
    let raw = o.0;
    // The wrapper would close again on drop; this test does its closing by hand.
    std::mem::forget(o);
    unsafe { wdt_outbox_close(raw) };
    unsafe { wdt_outbox_close(raw) };

    let closed = Outbox(raw);
    for (call, env) in [
        (
            "submit",
            closed.submit(&json!({"id": "K-2", "request": quick_return("", 1)})),
        ),
        ("get", closed.get("K-1")),
        ("list", closed.list(&json!({}))),
        ("flush", closed.flush(&json!({}))),
    ] {
        assert_eq!(kind(&env), "invalid_argument", "{call}: {env}");
        assert_eq!(env["error"]["delivery"], "not_sent", "{call}: {env}");
        let message = env["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("not a live outbox") && message.contains("wdt_outbox_close"),
            "{call}: {env}"
        );
    }
    std::mem::forget(closed);
    // NULL keeps its own message.
    let null = Outbox(std::ptr::null_mut());
    let env = null.get("K-1");
    assert!(
        env["error"]["message"]
            .as_str()
            .unwrap()
            .contains("outbox is NULL"),
        "{env}"
    );
    std::mem::forget(null);

    assert_eq!(d.requests(), 0, "a closed outbox sends nothing");
    // The file is untouched by all of that: the deferred entry is still there, still pending.
    let again = Outbox::open(&config(&d), &options(&path)).unwrap();
    assert_eq!(again.get("K-1")["data"]["state"], "pending");
    assert_eq!(
        again.get("K-2")["error"]["field"],
        "id",
        "K-2 was never stored"
    );
}

/// `wdt_outbox_close` while another thread is inside a flush whose answer the double holds
/// back: close returns at once (stopping the worker, which waits for nothing here), the flush
/// finishes with its normal envelope, and the handle is refused afterwards.
#[test]
fn close_during_a_flush_lets_the_flush_finish() {
    let d = double();
    let path = db_path("close-during-flush");
    // A timeout far above the held answer, so a slow shared machine cannot turn the answer into
    // a lost one. A worker that would not run during the test: close must still stop (join) it
    // while the flush holds the outbox.
    let cfg = d.config(json!({"timeout_ms": 5000, "max_retries": 0}));
    let o = Outbox::open(
        &cfg,
        &at(
            &path,
            json!({"settle_ms": 300, "lease_ms": 6000, "worker_interval_ms": 60000}),
        ),
    )
    .unwrap();
    let env = o.submit(&json!({"id": "C-1", "request": quick_return("", 1), "defer": true}));
    assert_eq!(env["data"]["state"], "pending", "{env}");
    // Answered a second after the ERP applied it: the window in which close runs.
    d.fault(json!({"mode": "slow", "ms": 1000, "count": 1}));
    let raw = o.0 as usize;
    std::mem::forget(o);

    let flusher = std::thread::spawn(move || {
        let o = Outbox(raw as *mut WdtOutbox);
        let env = o.flush(&json!({}));
        std::mem::forget(o);
        env
    });
    // The request has reached the double: the flush is inside its call, waiting for the answer.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while d.requests() == 0 {
        assert!(std::time::Instant::now() < deadline, "the flush never sent");
        std::thread::sleep(Duration::from_millis(10));
    }
    unsafe { wdt_outbox_close(raw as *mut WdtOutbox) };
    assert!(
        !flusher.is_finished(),
        "close returned after the flush: it did not overlap (or it waited for the flush)"
    );

    let env = flusher.join().unwrap();
    assert_eq!(env["ok"], true, "{env}");
    assert_eq!(env["data"]["delivered"], 1, "{env}");
    assert_eq!(env["data"]["pending"], 0, "{env}");
    let closed = Outbox(raw as *mut WdtOutbox);
    assert_eq!(kind(&closed.flush(&json!({}))), "invalid_argument");
    std::mem::forget(closed);
    assert_eq!(stockins(&d), 1);
    // What the flush recorded after the close reached the file.
    let again = Outbox::open(&cfg, &at(&path, json!({"lease_ms": 6000}))).unwrap();
    assert_eq!(again.get("C-1")["data"]["state"], "delivered");
}

/// Every outbox error names its category once, at the start of its message ("config: …", not
/// "config: config: …"), and its `field` is absent or names something.
#[test]
fn every_outbox_error_names_its_category_once_and_a_real_field() {
    let d = double();
    let path = db_path("categories");
    let mut envs: Vec<Value> = Vec::new();
    for opts in [
        json!([]),
        json!("x"),
        json!({}),
        json!({"path": ""}),
        json!({"path": path, "settle_ms": 1}),
        json!({"path": path, "marker": "yes"}),
        json!({"path": path, "what": 1}),
        json!({"path": path, "lease_ms": 900}),
        json!({"path": "/proc/no/such/folder/o.db"}),
    ] {
        envs.push(Outbox::open(&config(&d), &opts).err().unwrap());
    }
    envs.push(Outbox::open("{", &options(&path)).err().unwrap());
    envs.push(Outbox::open("{}", &options(&path)).err().unwrap());
    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    let ok = o.submit(&json!({"id": "C-1", "request": quick_return("", 1), "defer": true}));
    assert_eq!(ok["ok"], true, "{ok}");
    for submit in [
        json!([]),
        json!({}),
        json!({"request": 1}),
        json!({"id": "a b", "request": quick_return("", 1)}),
        json!({"request": quick_return("[wdt:x]", 1)}),
        json!({"id": "C-1", "request": quick_return("other", 2)}),
    ] {
        envs.push(o.submit(&submit));
    }
    let raw = |f: unsafe extern "C" fn(
        *mut WdtOutbox,
        *const std::ffi::c_char,
    ) -> *mut std::ffi::c_char,
               text: &str| {
        let s = std::ffi::CString::new(text).unwrap();
        take(unsafe { f(o.0, s.as_ptr()) })
    };
    envs.push(raw(wdt::ffi::wdt_outbox_submit, "{"));
    envs.push(raw(wdt::ffi::wdt_outbox_list, "[]"));
    envs.push(raw(wdt::ffi::wdt_outbox_list, "{"));
    envs.push(raw(wdt::ffi::wdt_outbox_flush, "1"));
    envs.push(o.get("nope"));
    envs.push(o.get("a b"));
    envs.push(o.list(&json!({"state": "lost"})));
    envs.push(o.flush(&json!({"max_entries": 0})));
    envs.push(take(unsafe {
        wdt::ffi::wdt_outbox_get(std::ptr::null_mut(), c"x".as_ptr())
    }));
    for env in &envs {
        assert_eq!(env["ok"], false, "{env}");
        let e = &env["error"];
        let message = e["message"].as_str().unwrap_or_else(|| panic!("{env}"));
        let category = match e["kind"].as_str().unwrap() {
            "invalid_argument" => "invalid argument: ",
            "config" => "config: ",
            "storage" => "storage: ",
            other => panic!("unexpected kind {other}: {env}"),
        };
        assert!(message.starts_with(category), "{env}");
        assert!(
            !message[category.len()..].starts_with(category),
            "category twice: {env}"
        );
        let outbox_option = [
            "path",
            "marker",
            "settle_ms",
            "lease_ms",
            "worker_interval_ms",
        ]
        .contains(&e["field"].as_str().unwrap_or(""));
        if e["kind"] == "config" && outbox_option {
            let hint = e["hint"].as_str().unwrap();
            assert!(
                hint.contains("发件箱") && !hint.contains("appkey"),
                "an outbox option's hint talks about the account: {env}"
            );
        }
        match e.get("field") {
            None => {}
            Some(Value::String(f)) if !f.is_empty() => {}
            Some(other) => panic!("field {other} in {env}"),
        }
    }
}
