//! Till clocks stepped by NTP while the outbox works: ±10 minutes during a send and after an
//! unknown outcome. The step is the test hook `WDT_OUTBOX_TEST_CLOCK_STEP_MS` (milliseconds
//! added to the outbox's wall clock, read only by outboxes opened with `"test_hooks": true`);
//! it is process-wide, so these tests run one after another in their own test binary.

mod common;
mod outbox_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use outbox_support::*;
use serde_json::json;

const STEP_ENV: &str = "WDT_OUTBOX_TEST_CLOCK_STEP_MS";
const TEN_MINUTES: i64 = 600_000;

/// The clock hook is process-wide: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn step(ms: i64) {
    std::env::set_var(STEP_ENV, ms.to_string());
}

#[test]
fn child_entry() {
    child_main();
}

/// The clock jumps 10 minutes ahead while this process's own request is on the wire (the
/// ERP applies it late). A flush in the same process must not take the request's lease as
/// expired, find nothing yet, and send it again.
#[test]
fn a_forward_step_during_a_send_never_expires_the_processs_own_lease() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    step(0);
    let d = double();
    let o = Arc::new(Outbox::open(&config(&d), &options(&db_path("step-fwd"))).unwrap());
    d.fault(json!({"mode": "late", "ms": 700, "count": 1}));
    let submitter = {
        let o = Arc::clone(&o);
        std::thread::spawn(move || o.submit(&json!({"id": "S-1", "request": quick_return("", 1)})))
    };
    std::thread::sleep(Duration::from_millis(200));
    step(TEN_MINUTES);
    let f = o.flush(&json!({}));
    let env = submitter.join().unwrap();
    step(0);
    assert_eq!(f["ok"], true, "{f}");
    assert_eq!(env["data"]["state"], "delivered", "{env}");
    assert_eq!(stockins(&d), 1, "sent twice after a clock step: {f}");
    assert_eq!(sends_of(&request_log(&d), "S-1"), 1);
}

/// After an unknown outcome the ERP may still apply the request (here 1.5 s later, after the
/// client gave up at 1 s). A clock step forward must not cut the settle delay short.
#[test]
fn a_forward_step_after_an_unknown_outcome_does_not_shorten_the_settle_delay() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    step(0);
    let d = double();
    let path = db_path("step-settle");
    let o = Outbox::open(
        &config(&d),
        &at(&path, json!({"settle_ms": 2500, "lease_ms": 1500})),
    )
    .unwrap();
    d.fault(json!({"mode": "late", "ms": 1500, "count": 1}));
    let env = o.submit(&json!({"id": "S-2", "request": quick_return("", 1)}));
    assert_eq!(env["data"]["state"], "in_doubt", "{env}");
    step(TEN_MINUTES);
    let f = o.flush(&json!({}));
    assert_eq!(f["ok"], true, "{f}");
    step(0);
    let e = o.flush_until_settled("S-2", Duration::from_secs(8));
    assert_eq!(e["data"]["state"], "delivered", "{e}");
    assert_eq!(
        stockins(&d),
        1,
        "resent before the ERP applied the first: {e}"
    );
    assert_eq!(sends_of(&request_log(&d), "S-2"), 1);
}

/// The clock jumps 10 minutes back after an unknown outcome (the request was not processed):
/// the entry is reconciled after the settle delay in real time, not 10 minutes later.
#[test]
fn a_backward_step_does_not_hold_an_entry_for_the_size_of_the_step() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    step(0);
    let d = double();
    let o = Outbox::open(&config(&d), &options(&db_path("step-back"))).unwrap();
    d.fault(json!({"mode": "drop", "count": 1}));
    let env = o.submit(&json!({"id": "S-3", "request": quick_return("", 1)}));
    assert_eq!(env["data"]["state"], "in_doubt", "{env}");
    step(-TEN_MINUTES);
    std::thread::sleep(Duration::from_millis(400));
    let e = o.flush_until_settled("S-3", Duration::from_secs(5));
    step(0);
    assert_eq!(e["data"]["state"], "delivered", "{e}");
    assert_eq!(stockins(&d), 1);
}
