//! Exactly once as a chain of shops uses the outbox: a full disk (or a held write lock) after
//! the send, two tills with their own files using the same caller ids, a caller remark that
//! looks like a marker, and a wrong secret that must stop a flush rather than reject a backlog.

mod common;
mod outbox_support;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use outbox_support::*;
use serde_json::json;

#[test]
fn child_entry() {
    child_main();
}

/// The answer arrives while another process holds the file's write lock past the busy wait:
/// the stock-in exists, so the envelope must say `unknown` and name the entry (generated ids
/// too), never `not_sent`; the entry is then resolved in doubt, without a second stock-in.
#[test]
fn sqlite_only_a_storage_failure_after_the_send_is_unknown_and_names_the_entry() {
    let d = double();
    let path = db_path("busy-after-send");
    let o = Arc::new(Outbox::open(&config(&d), &options(&path)).unwrap());
    // The double applies the return at once and answers 1.2 s later.
    d.fault(json!({"mode": "slow", "ms": 1200, "count": 1}));
    let submitter = {
        let o = Arc::clone(&o);
        std::thread::spawn(move || o.submit(&json!({"request": quick_return("busy", 1)})))
    };
    std::thread::sleep(Duration::from_millis(400));
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let env = submitter.join().unwrap();
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);

    assert_eq!(env["ok"], false, "{env}");
    assert_eq!(kind(&env), "storage", "{env}");
    assert_eq!(env["error"]["delivery"], "unknown", "{env}");
    let id = env["error"]["entry_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no entry id in {env}"))
        .to_owned();
    assert!(id.starts_with("wdt-"), "{env}");
    assert_eq!(stockins(&d), 1);

    // The outcome was never recorded: in doubt, reconciled after the lease and settle delay.
    let e = o.get(&id);
    assert_eq!(e["data"]["state"], "in_doubt", "{e}");
    std::thread::sleep(Duration::from_millis(1600));
    let e = o.flush_until_settled(&id, Duration::from_secs(5));
    assert_eq!(e["data"]["state"], "delivered", "{e}");
    assert!(e["data"]["result"]["reconciled"].is_object(), "{e}");
    assert_eq!(stockins(&d), 1, "sent twice");
    assert_eq!(sends_of(&request_log(&d), &id), 1);
}

/// Tills generate ids from a date and a counter, so two shops' files hold the same ids. Till
/// B's lost (unprocessed) send must not be "found" as till A's refund order.
#[test]
fn two_tills_with_the_same_caller_id_each_deliver_their_own_return() {
    let d = double();
    let a = Outbox::open(&config(&d), &options(&db_path("till-a"))).unwrap();
    let b = Outbox::open(&config(&d), &options(&db_path("till-b"))).unwrap();
    let id = "POS-20261130-0042";
    let env = a.submit(&json!({"id": id, "request": quick_return("till A", 1)}));
    assert_eq!(env["data"]["state"], "delivered", "{env}");
    d.fault(json!({"mode": "drop", "count": 1}));
    let env = b.submit(&json!({"id": id, "request": quick_return("till B", 1)}));
    assert_eq!(env["data"]["state"], "in_doubt", "{env}");
    std::thread::sleep(Duration::from_millis(400));
    let e = b.flush_until_settled(id, Duration::from_secs(5));
    assert_eq!(e["data"]["state"], "delivered", "{e}");
    assert_eq!(
        e["data"]["attempts"], 2,
        "till B's return was never sent: {e}"
    );
    assert_eq!(stockins(&d), 2, "each till's return is one stock-in");
}

/// A caller remark containing the marker syntax could make another entry look delivered.
#[test]
fn a_caller_remark_with_the_marker_syntax_is_refused() {
    let d = double();
    let o = Outbox::open(&config(&d), &options(&db_path("remark-marker"))).unwrap();
    for remark in ["[wdt:OTHER]", "see [wdt:abc:OTHER] please", "x[wdt:"] {
        let env = o.submit(&json!({"id": "R-1", "request": quick_return(remark, 1)}));
        assert_eq!(kind(&env), "invalid_argument", "{remark}: {env}");
        assert_eq!(env["error"]["field"], "request.refundInfo.remark", "{env}");
    }
    assert_eq!(request_log(&d).len(), 0);
    assert!(o.all().is_empty());
}

/// A wrong secret (status 1) says nothing about the returns: the flush stops, reports why,
/// and leaves the backlog pending; with the secret fixed, the next flush delivers it all.
#[test]
fn a_wrong_secret_blocks_the_flush_and_rejects_nothing() {
    let d = double();
    let path = db_path("wrong-secret");
    let wrong = d.config(
        json!({"connect_timeout_ms": 500, "timeout_ms": 1000, "max_retries": 0,
                               "test_hooks": true, "appsecret": "testsecret:wrongsalt"}),
    );
    let o = Outbox::open(&wrong, &options(&path)).unwrap();
    for i in 0..3 {
        let env = o.submit(
            &json!({"id": format!("W-{i}"), "request": quick_return("", 1), "defer": true}),
        );
        assert_eq!(env["data"]["state"], "pending", "{env}");
    }
    let f = o.flush(&json!({}));
    assert_eq!(f["ok"], true, "{f}");
    assert_eq!(f["data"]["rejected"], 0, "{f}");
    assert_eq!(f["data"]["pending"], 3, "{f}");
    assert_eq!(f["data"]["blocked"]["status"], 1, "{f}");
    assert_eq!(f["data"]["blocked"]["kind"], "api", "{f}");
    assert!(f["data"]["blocked"]["message"].is_string(), "{f}");
    assert_eq!(
        request_log(&d).len(),
        1,
        "the flush stops at the first refusal"
    );
    drop(o);

    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    let f = o.flush(&json!({}));
    assert_eq!(f["data"]["delivered"], 3, "{f}");
    assert_eq!(f["data"]["blocked"], serde_json::Value::Null, "{f}");
    assert_eq!(stockins(&d), 3);
}

/// The same for reconciliation: a query refused for the account leaves the entry in doubt.
#[test]
fn a_wrong_secret_during_reconciliation_leaves_the_entry_in_doubt() {
    let d = double();
    let path = db_path("wrong-secret-query");
    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    d.fault(json!({"mode": "drop_after", "count": 1}));
    let env = o.submit(&json!({"id": "Q-1", "request": quick_return("", 1)}));
    assert_eq!(env["data"]["state"], "in_doubt", "{env}");
    drop(o);
    let wrong = d.config(
        json!({"connect_timeout_ms": 500, "timeout_ms": 1000, "max_retries": 0,
                               "test_hooks": true, "appsecret": "testsecret:wrongsalt"}),
    );
    let o = Outbox::open(&wrong, &options(&path)).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let f = o.flush(&json!({}));
    assert_eq!(f["data"]["blocked"]["status"], 1, "{f}");
    assert_eq!(o.get("Q-1")["data"]["state"], "in_doubt");
    drop(o);
    let o = Outbox::open(&config(&d), &options(&path)).unwrap();
    let e = o.flush_until_settled("Q-1", Duration::from_secs(5));
    assert_eq!(e["data"]["state"], "delivered", "{e}");
    assert_eq!(stockins(&d), 1);
}
