//! The secret half of `appsecret` never leaves the library: not on the wire, not in any
//! envelope (success or any error path), not in Debug output, not in a log line.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::json;
use wdt_mock::http::read_raw_request;

const SECRET: &str = "Zq9SECRETvalue7x";

/// A one-shot fake gateway that records the raw bytes it receives and answers `answer`.
fn capture(answer: &'static str) -> (String, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/openapi", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let seen = read_raw_request(&mut stream).expect("a whole request");
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            answer.len(),
            answer
        );
        stream.write_all(reply.as_bytes()).unwrap();
        seen
    });
    (url, handle)
}

fn config(url: &str, extra: serde_json::Value) -> String {
    let mut c = json!({"sid": "wdtapi3", "appkey": "wdt_test", "appsecret": format!("{SECRET}:testsalt"), "url": url});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c.to_string()
}

#[test]
fn not_on_the_wire() {
    for answer in [
        r#"{"status":0,"data":{"stockin_id":1,"type":12}}"#,
        r#"{"status":1,"message":"验证失败"}"#,
    ] {
        let (url, server) = capture(answer);
        let client = Client::new(&config(&url, json!({}))).unwrap();
        let env = client.upload(&good_request("pos-6776312", json!(1)));
        let wire = server.join().unwrap();
        let wire = String::from_utf8_lossy(&wire);
        assert!(wire.starts_with("POST /openapi?"), "{wire}");
        assert!(wire.contains("salt=testsalt"), "the salt travels: {wire}");
        assert!(wire.contains("sign="), "{wire}");
        assert!(
            !wire.contains(SECRET),
            "the secret went on the wire: {wire}"
        );
        assert!(!env.to_string().contains(SECRET), "{env}");
    }
}

#[test]
fn not_in_any_envelope() {
    let d = double();
    let mut envelopes = Vec::new();
    // Config errors, including ones where the appsecret is malformed or other keys are wrong.
    for extra in [
        json!({"appsecret": SECRET}),
        json!({"appsecret": format!("{SECRET}:")}),
        json!({"appsecret": format!(":{SECRET}")}),
        json!({"url": format!("ftp://{SECRET}/")}),
        json!({"timeout_ms": SECRET}),
        json!({"appsecret": [SECRET]}),
    ] {
        let mut c: serde_json::Value = serde_json::from_str(&config(&d.url, json!({}))).unwrap();
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        let env = Client::new(&c.to_string()).err().expect("refused");
        envelopes.push(env);
    }
    // Invalid JSON that contains the secret (a caller pasting the config by mistake).
    envelopes.push(
        Client::new(&format!("{{\"appsecret\":\"{SECRET}:salt\""))
            .err()
            .unwrap(),
    );

    // Every network and API error path, with the secret configured.
    let client = Client::new(&config(&d.url, json!({"max_retries": 0}))).unwrap();
    envelopes.push(client.upload(&good_request("pos-6776312", json!(1)))); // api 1: wrong secret for the double
    envelopes.push(client.upload(&format!("{{\"refundInfo\":\"{SECRET}\"}}")));
    for mode in [
        "drop",
        "reset",
        "html200",
        "html500",
        "json502",
        "truncated",
        "ratelimit",
    ] {
        d.fault(json!({"mode": mode}));
        envelopes.push(client.upload(&good_request("pos-6776312", json!(1))));
    }
    d.fault(json!({"mode": "none"}));
    let hooks = Client::new(&config(&d.url, json!({"test_hooks": true}))).unwrap();
    envelopes.push(hooks.call(r#"{"method":"wdt.test.panic","args":[]}"#));

    for env in &envelopes {
        assert_eq!(env["ok"], false, "{env}");
        assert!(
            !env.to_string().contains(SECRET),
            "secret in envelope: {env}"
        );
    }
}

#[test]
fn not_in_debug_output_or_log_lines() {
    let d = double();
    let cfg = wdt::Config::from_json(&config(&d.url, json!({"log": true}))).unwrap();
    assert!(!format!("{cfg:?}").contains(SECRET));
    assert!(!format!("{cfg:#?}").contains(SECRET));

    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink_lines = Arc::clone(&lines);
    let sink: wdt::LogSink = Arc::new(move |l: &str| sink_lines.lock().unwrap().push(l.to_owned()));
    let client = wdt::Client::with_log_sink(cfg, Some(sink));
    assert!(!format!("{client:?}").contains(SECRET));

    let map =
        wdt::internals::request::parse_object(&good_request("pos-6776312", json!(1))).unwrap();
    let call = wdt::internals::request::smart_refund(&map).unwrap();
    for mode in ["none", "drop", "html500", "ratelimit"] {
        d.fault(json!({"mode": mode}));
        let reply = wdt::internals::client::execute(&client, &call);
        assert!(!format!("{reply:?}").contains(SECRET));
    }
    let lines = lines.lock().unwrap();
    assert!(lines.len() >= 4, "logging was on: {lines:?}");
    for l in lines.iter() {
        assert!(!l.contains(SECRET), "secret in log line: {l}");
    }
}
