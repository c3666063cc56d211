//! Delivery truth (docs/abi.md, "delivery") against the gateway double: for every answer shape
//! a till can meet, the envelope's kind, delivery and retryable, a non-empty message, and what
//! the double holds. `rejected` must mean nothing was created; every `unknown` was sent once.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{json, Value};

struct Row {
    /// The fault armed on the double (None: a plain call), and extra config.
    fault: Option<Value>,
    config: Value,
    request: String,
    kind: &'static str,
    delivery: &'static str,
    retryable: bool,
    http_status: Option<u64>,
    status: Option<i64>,
    /// Stock-ins the double holds afterwards.
    stockins: u64,
}

fn row(fault: Option<Value>, kind: &'static str, delivery: &'static str, stockins: u64) -> Row {
    Row {
        fault,
        config: json!({}),
        request: good_request("pos-6776312", json!(1)),
        kind,
        delivery,
        retryable: false,
        http_status: None,
        status: None,
        stockins,
    }
}

#[test]
fn every_answer_shape_has_an_honest_delivery() {
    let rows = vec![
        // The gateway booked the return, then its web stack failed: a Java 500 JSON page.
        Row {
            http_status: Some(500),
            status: Some(500),
            ..row(
                Some(json!({"mode": "applied_500json"})),
                "http",
                "unknown",
                1,
            )
        },
        // Booked, then a database error or 其他错误 in a 200 answer.
        Row {
            status: Some(5),
            ..row(
                Some(json!({"mode": "applied_status", "arg": 5})),
                "api",
                "unknown",
                1,
            )
        },
        Row {
            status: Some(4),
            ..row(
                Some(json!({"mode": "applied_status", "arg": 4})),
                "api",
                "unknown",
                1,
            )
        },
        Row {
            status: Some(99),
            ..row(
                Some(json!({"mode": "applied_status", "arg": 99})),
                "api",
                "unknown",
                1,
            )
        },
        // Non-2xx answers are never the gateway's refusal, whatever the body says.
        Row {
            http_status: Some(502),
            status: Some(99),
            ..row(Some(json!({"mode": "json502"})), "http", "unknown", 0)
        },
        Row {
            http_status: Some(500),
            ..row(Some(json!({"mode": "html500"})), "http", "unknown", 0)
        },
        row(
            Some(json!({"mode": "html200"})),
            "bad_response",
            "unknown",
            0,
        ),
        // Written, then no answer.
        row(Some(json!({"mode": "drop"})), "transport", "unknown", 0),
        row(
            Some(json!({"mode": "drop_after"})),
            "transport",
            "unknown",
            1,
        ),
        row(Some(json!({"mode": "reset"})), "transport", "unknown", 0),
        row(
            Some(json!({"mode": "reset_after"})),
            "transport",
            "unknown",
            1,
        ),
        // Rejections the error table proves: nothing was created.
        Row {
            config: json!({"appsecret": "wrong:testsalt"}),
            status: Some(1),
            ..row(None, "api", "rejected", 0)
        },
        Row {
            request: good_request("no-such-order", json!(1)),
            status: Some(100),
            ..row(None, "api", "rejected", 0)
        },
        Row {
            config: json!({"max_retries": 0}),
            status: Some(100),
            retryable: true,
            ..row(Some(json!({"mode": "ratelimit"})), "api", "rejected", 0)
        },
        Row {
            config: json!({"max_retries": 0}),
            status: Some(100),
            retryable: true,
            ..row(Some(json!({"mode": "concurrency"})), "api", "rejected", 0)
        },
    ];
    for r in rows {
        let d = double();
        let what = format!("{:?} {}", r.fault, r.config);
        if let Some(f) = &r.fault {
            d.fault(f.clone());
        }
        let client = Client::new(&d.config(r.config.clone())).unwrap();
        let env = client.upload(&r.request);
        let err = &env["error"];
        assert_eq!(kind(&env), r.kind, "{what}: {env}");
        assert_eq!(err["delivery"], r.delivery, "{what}: {env}");
        assert_eq!(err["retryable"], r.retryable, "{what}: {env}");
        let message = err["message"].as_str().unwrap_or("");
        assert!(!message.trim().is_empty(), "{what}: empty message: {env}");
        assert_eq!(err["http_status"].as_u64(), r.http_status, "{what}: {env}");
        assert_eq!(err["status"].as_i64(), r.status, "{what}: {env}");
        if r.delivery == "unknown" {
            assert_eq!(d.requests(), 1, "{what}: an unknown was sent again");
        }
        assert_eq!(d.stats()["stockins"], r.stockins, "{what}");
    }
}

#[test]
fn the_java_500_page_says_what_came_back() {
    let d = double();
    d.fault(json!({"mode": "applied_500json"}));
    let env = d.client().upload(&good_request("pos-6776312", json!(1)));
    let message = env["error"]["message"].as_str().unwrap();
    assert!(message.contains("500"), "{message}");
    assert!(message.contains("Internal Server Error"), "{message}");
}

/// A portal or proxy page cannot move the clock, even with a Date header hours off; only the
/// gateway's 时间戳错误 answer teaches a large offset, and a day-sized one is never believed.
#[test]
fn only_the_gateway_moves_the_clock() {
    let d = double();
    d.fault(json!({"mode": "skew", "seconds": 3600}));
    d.fault(json!({"mode": "html200", "count": 1}));
    let client = wdt::client_from_json(&d.config(json!({}))).unwrap();
    let env: Value = serde_json::from_str(&wdt::smart_refund_upload(
        &client,
        &good_request("pos-6776312", json!(1)),
    ))
    .unwrap();
    assert_eq!(kind(&env), "bad_response", "{env}");
    assert_eq!(client.clock_offset(), 0, "a portal page moved the clock");
    // Now the gateway itself answers 时间戳错误: learned, resent once, accepted.
    let env: Value = serde_json::from_str(&wdt::smart_refund_upload(
        &client,
        &good_request("pos-6776312", json!(1)),
    ))
    .unwrap();
    assert_eq!(env["ok"], true, "{env}");
    assert!(
        (client.clock_offset() - 3600).abs() <= 2,
        "{}",
        client.clock_offset()
    );
    assert_eq!(d.requests(), 3);

    let d = double();
    d.fault(json!({"mode": "skew", "seconds": 2 * 86_400}));
    let client = wdt::client_from_json(&d.config(json!({}))).unwrap();
    let env: Value = serde_json::from_str(&wdt::smart_refund_upload(
        &client,
        &good_request("pos-6776312", json!(1)),
    ))
    .unwrap();
    assert_eq!(env["error"]["status"], 7, "{env}");
    assert_eq!(env["error"]["delivery"], "rejected");
    assert_eq!(client.clock_offset(), 0, "a two-day skew was believed");
    assert_eq!(d.requests(), 1, "no resend without a believable offset");
}

/// The status-7 resend needs a whole attempt's worth of timeout_ms left; a short timeout_ms
/// alone is valid (the connect timeout follows it) and still allows it.
#[test]
fn short_timeout_alone_works_and_still_corrects_the_clock() {
    let d = double();
    d.fault(json!({"mode": "skew", "seconds": 300}));
    let client =
        Client::new(&d.config(json!({"timeout_ms": 2000, "connect_timeout_ms": null}))).unwrap();
    let env = client.upload(&good_request("pos-6776312", json!(1)));
    assert_eq!(env["ok"], true, "{env}");
    assert_eq!(d.requests(), 2);
}

#[test]
fn log_lines_reach_a_rust_sink_without_the_secret() {
    let d = double();
    let client = wdt::client_from_json(&d.config(json!({}))).unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    client.set_log_callback(Some(Arc::new(move |l: &str| {
        sink.lock().unwrap().push(l.to_owned())
    })));
    wdt::smart_refund_upload(&client, &good_request("pos-6776312", json!(1)));
    client.set_log_callback(None);
    wdt::smart_refund_upload(&client, &good_request("pos-6776312", json!(1)));
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("wms.stockin.SmartRefund.upload attempt 1"),
        "{lines:?}"
    );
    assert!(!lines[0].contains("testsecret"), "{lines:?}");
}
