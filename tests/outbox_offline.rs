//! Issue "exactly once", offline hours: 1,000 returns rung up while the gateway is unreachable
//! stay `pending` (delivery `not_sent`: nothing left the machine); when the gateway is back,
//! one flush delivers every one of them exactly once.

mod common;
mod outbox_support;

use std::collections::HashSet;

use common::*;
use outbox_support::*;
use serde_json::json;

#[test]
fn a_thousand_offline_returns_are_delivered_by_one_flush_exactly_once() {
    // A port that was just free: the gateway is "down" until the double binds it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/openapi");
    let cfg = json!({"sid": "wdtapi3", "appkey": "wdt_test", "appsecret": "testsecret:testsalt",
                     "url": url, "connect_timeout_ms": 500, "timeout_ms": 2000, "max_retries": 0});
    let path = db_path("offline");
    let o = Outbox::open(
        &cfg.to_string(),
        &at(&path, json!({"settle_ms": 300, "lease_ms": 2500})),
    )
    .unwrap();
    let n = 1000;
    for i in 0..n {
        let env =
            o.submit(&json!({"id": format!("OFF-{i:04}"), "request": quick_return("断网", 1)}));
        assert_eq!(env["data"]["state"], "pending", "{env}");
        assert_eq!(env["data"]["error"]["delivery"], "not_sent", "{env}");
    }
    let f = o.flush(&json!({}));
    assert_eq!(f["data"]["pending"], n, "{f}");

    let d = double_with(|opts| opts.port = port);
    assert_eq!(d.url, url);
    let f = o.flush(&json!({}));
    assert_eq!(
        f["data"],
        json!({"delivered": n, "rejected": 0, "in_doubt": 0, "pending": 0, "needs_attention": 0,
               "blocked": null}),
        "one flush"
    );
    let log = request_log(&d);
    assert_eq!(log.len() as u64, n, "only the returns were sent, once each");
    let mut seen = HashSet::new();
    for i in 0..n {
        let id = format!("OFF-{i:04}");
        assert_eq!(sends_of(&log, &id), 1, "{id}");
        seen.insert(id);
    }
    assert_eq!(seen.len() as u64, n);
    assert_eq!(stockins(&d), n);
    assert!(o.all().iter().all(|e| e["state"] == "delivered"));
    let pending = o.list(&json!({"state": "pending"}));
    assert_eq!(pending["data"]["entries"].as_array().unwrap().len(), 0);
}
