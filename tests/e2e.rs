//! End to end through the C ABI against the gateway double on 127.0.0.1, driven by the shared
//! fixtures (tests/fixtures/cases.json) that every binding's test also runs.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::*;
use serde_json::{json, Value};

/// Checks one envelope against a fixture's `expect`.
fn check(name: &str, env: &Value, expect: &Value) {
    assert_eq!(env["ok"], expect["ok"], "{name}: {env}");
    for key in ["kind", "status", "field"] {
        if let Some(want) = expect.get(key) {
            assert_eq!(&env["error"][key], want, "{name}: {key} in {env}");
        }
    }
    if let Some(part) = expect.get("message_contains").and_then(Value::as_str) {
        let msg = env["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains(part), "{name}: message {msg:?} lacks {part:?}");
    }
    if let Some(keys) = expect.get("data_keys").and_then(Value::as_array) {
        for k in keys {
            assert!(
                env["data"].get(k.as_str().unwrap()).is_some(),
                "{name}: data lacks {k}: {env}"
            );
        }
    }
    if expect.get("has_total_count") == Some(&json!(true)) {
        assert!(
            env.get("total_count").is_some(),
            "{name}: no total_count in {env}"
        );
    }
}

fn run_case(client: &Client, case: &Value) -> Value {
    let text = match case.get("raw") {
        Some(raw) => raw.as_str().unwrap().to_owned(),
        None => case["request"].to_string(),
    };
    match case["fn"].as_str().unwrap() {
        "smart_refund_upload" => client.upload(&text),
        "call" => client.call(&text),
        other => panic!("unknown fn {other}"),
    }
}

#[test]
fn every_fixture_case() {
    let d = double();
    let client = d.client();
    let fx = fixtures();
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        check(name, &run_case(&client, case), &case["expect"]);
    }
}

#[test]
fn every_fixture_config_case() {
    let d = double();
    let fx = fixtures();
    let by_name = |n: &str| {
        fx["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .cloned()
            .unwrap()
    };
    for case in fx["config_cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let config = match case.get("raw_config") {
            Some(raw) => raw.as_str().unwrap().to_owned(),
            None => d.config(case["config_overrides"].clone()),
        };
        let created = Client::new(&config);
        assert_eq!(created.is_ok(), case["creates"] == true, "{name}");
        match created {
            Err(env) => check(name, &env, &case["expect"]),
            Ok(client) => {
                let then = &case["then"];
                let mut req = by_name(then["request_from"].as_str().unwrap());
                req["fn"] = then["fn"].clone();
                check(name, &run_case(&client, &req), &case["expect"]);
            }
        }
    }
}

#[test]
fn invalid_input_sends_nothing() {
    let d = double();
    let client = d.client();
    let fx = fixtures();
    let mut n = 0;
    for case in fx["cases"].as_array().unwrap() {
        if case["expect"]["kind"] == "invalid_argument" {
            let env = run_case(&client, case);
            assert_eq!(kind(&env), "invalid_argument");
            assert_eq!(env["error"]["delivery"], "not_sent");
            n += 1;
        }
    }
    assert!(n >= 10, "the fixtures cover the validation rules");
    assert_eq!(d.requests(), 0, "an invalid request reached the double");
}

#[test]
fn good_quick_return_and_gateway_errors() {
    let d = double();
    let client = d.client();
    let env = client.upload(&good_request("pos-6776312", json!(1)));
    assert_eq!(env["ok"], true, "{env}");
    assert_eq!(env["status"], 0);
    assert!(env["data"]["stockin_id"].as_u64().is_some(), "{env}");
    assert_eq!(env["data"]["type"], 12);

    let env = client.upload(&good_request("no-such-tid", json!(1)));
    assert_eq!(kind(&env), "api");
    assert_eq!(env["error"]["status"], 100);
    assert_eq!(env["error"]["message"], "未找到对应的单据信息!");
    assert_eq!(env["error"]["delivery"], "rejected");
    assert_eq!(env["error"]["retryable"], false);
    assert_eq!(env["error"]["attempts"], 1);

    let wrong = Client::new(&d.config(json!({"appsecret": "wrongsecret:testsalt"}))).unwrap();
    let env = wrong.upload(&good_request("pos-6776312", json!(1)));
    assert_eq!(kind(&env), "api");
    assert_eq!(env["error"]["status"], 1, "{env}");

    let unknown_sid = Client::new(&d.config(json!({"sid": "nobody"}))).unwrap();
    let env = unknown_sid.upload(&good_request("pos-6776312", json!(1)));
    assert_eq!(env["error"]["status"], 1, "{env}");
    assert_eq!(
        d.stats()["stockins"],
        1,
        "only the good return created a stock-in"
    );
}

#[test]
fn chinese_text_survives_both_ways_and_paged_query_counts() {
    let d = double();
    let client = d.client();
    let remark = "顾客退货：尺码不合适 😀 \"引号\" \\ / 𠀀";
    let req = json!({
        "refundInfo": {"tid": "pos-中文-0001", "return_warehouse_no": "门店仓", "remark": remark},
        "detailMapList": [{"spec_no": "衬衫-红-XL", "stockin_num": 1.50, "remark": "线下退货"}],
        "createPreStockin": false
    });
    let env = client.upload(&req.to_string());
    assert_eq!(env["ok"], true, "{env}");
    let id = env["data"]["stockin_id"].clone();
    for tid in ["pos-6776312", "pos-6776312"] {
        assert_eq!(client.upload(&good_request(tid, json!(1)))["ok"], true);
    }

    let window = around_now();
    let query = |page_no: u64| {
        client.call(
            &json!({
                "method": "wms.stockin.Refund.queryWithDetail",
                // A day either side of now: the library refuses windows over 30 days.
                "args": [{"start_time": window.0, "end_time": window.1}],
                "pager": {"page_size": 2, "page_no": page_no, "calc_total": true}
            })
            .to_string(),
        )
    };
    let page0 = query(0);
    assert_eq!(page0["ok"], true, "{page0}");
    assert_eq!(page0["total_count"], 3, "{page0}");
    assert_eq!(page0["data"]["order"].as_array().unwrap().len(), 2);
    let page1 = query(1);
    assert_eq!(page1["data"]["order"].as_array().unwrap().len(), 1);

    let all: Vec<Value> = [page0, page1]
        .iter()
        .flat_map(|p| p["data"]["order"].as_array().unwrap().clone())
        .collect();
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        text.contains(remark) || all.iter().any(|o| o["remark"] == remark),
        "remark lost: {text}"
    );
    assert!(text.contains("线下退货"), "detail remark lost: {text}");
    assert!(text.contains("衬衫-红-XL"));
    let _ = id;
}

#[test]
fn eight_threads_share_one_client() {
    let d = double();
    let client = Arc::new(d.client());
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let client = Arc::clone(&client);
            std::thread::spawn(move || {
                (0..200)
                    .map(|_| {
                        let env = client.upload(&good_request("pos-load", json!(1)));
                        assert_eq!(env["ok"], true, "{env}");
                        env["data"]["stockin_id"].as_u64().unwrap()
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let ids: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(ids.len(), 1600);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        1600,
        "stock-in ids must be distinct"
    );
    assert_eq!(
        d.requests(),
        1600,
        "each call went to the gateway exactly once"
    );
}

/// `yyyy-MM-dd HH:mm:ss` (UTC+8, the gateway's zone) a day before and a day after now.
fn around_now() -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let fmt = |t: i64| wdt_mock::time::beijing_datetime(t);
    (fmt(now - 86_400), fmt(now + 86_400))
}
