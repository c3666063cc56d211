//! Transport truth against hostile servers (docs/abi.md "delivery"): no byte the library did
//! not ask for is ever read as an answer, a connection the server closed or reset before the
//! request is never written into as if alive, and every legal HTTP/1.1 framing is read. Each
//! test asserts, per call, what the server received (by `tid`) and whose answer the call got.

mod common;

use std::time::Duration;

use common::raw::{answer, answer_with, booked, End, Raw, Reply};
use common::*;
use serde_json::{json, Value};

fn client_for(url: &str) -> wdt::Client {
    let mut c = fixtures()["base_config"].clone();
    c["url"] = json!(url);
    c["timeout_ms"] = json!(5000);
    wdt::client_from_json(&c.to_string()).unwrap()
}

fn upload(client: &wdt::Client, tid: &str) -> Value {
    serde_json::from_str(&wdt::smart_refund_upload(
        client,
        &good_request(tid, json!(1)),
    ))
    .unwrap()
}

/// The call succeeded with the answer to its own request.
fn assert_own(env: &Value, tid: &str) {
    assert_eq!(env["ok"], true, "{tid}: {env}");
    assert_eq!(
        env["data"]["tid"], tid,
        "{tid} got another call's answer: {env}"
    );
}

/// A first call whose answer is followed, on the same connection, by `surplus` (written after
/// the answer, before the next call); then `next` back-to-back calls. Each must get its own
/// answer, each request must reach the server once, and the surplus' connection is retired.
fn surplus_after_first_answer(first: Vec<u8>, surplus: Vec<u8>, next: usize) -> (Raw, Value) {
    let raw = Raw::start(move |seen| {
        if seen.conn == 0 && seen.nth == 0 {
            Reply::now(first.clone()).then(Duration::from_millis(1), surplus.clone())
        } else {
            Reply::now(answer(&booked(seen.tid, 100 + seen.nth as u64)))
        }
    });
    let client = client_for(&raw.url);
    let env = upload(&client, "pos-first");
    raw.wait_replies(1);
    for i in 0..next {
        let tid = format!("pos-next-{i}");
        assert_own(&upload(&client, &tid), &tid);
        assert_eq!(raw.received(&tid), 1, "{tid}");
    }
    assert_eq!(raw.received("pos-first"), 1);
    assert_eq!(raw.requests(), 1 + next);
    assert_eq!(
        raw.accepted(),
        2,
        "the connection with surplus bytes was reused"
    );
    (raw, env)
}

#[test]
fn a_second_answer_after_the_first_is_never_the_next_calls() {
    // A misbehaving proxy answers twice; the second says "rejected" (status 100). Read as the
    // next call's answer, it would tell the till to resend a return the ERP booked.
    let stale = answer(r#"{"status":100,"message":"未找到对应的单据信息!"}"#);
    let (_, first) = surplus_after_first_answer(answer(&booked("pos-first", 1)), stale, 3);
    assert_own(&first, "pos-first");
}

#[test]
fn a_body_longer_than_its_content_length_is_not_the_next_answer() {
    let body = booked("pos-first", 1);
    let first = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    let (_, env) = surplus_after_first_answer(first, answer(&booked("pos-someone-else", 7)), 2);
    assert_own(&env, "pos-first");
}

#[test]
fn an_answer_after_a_204_is_not_the_next_calls() {
    let first = b"HTTP/1.1 204 No Content\r\n\r\n".to_vec();
    let (_, env) = surplus_after_first_answer(first, answer(&booked("pos-someone-else", 9)), 2);
    // A 204 is no gateway answer: the call was sent and its fate is unknown.
    assert_eq!(env["ok"], false, "{env}");
    assert_eq!(env["error"]["delivery"], "unknown", "{env}");
}

#[test]
fn a_stale_rate_limit_answer_causes_no_backoff_and_no_resend() {
    let stale = answer(r#"{"status":100,"message":"超过每分钟最大调用频率限制"}"#);
    let (raw, _) = surplus_after_first_answer(answer(&booked("pos-first", 1)), stale, 1);
    assert!(raw.duplicates().is_empty(), "{:?}", raw.duplicates());
}

#[test]
fn a_stale_timestamp_answer_moves_no_clock_and_causes_no_resend() {
    let stale = answer_with(
        r#"{"status":7,"message":"时间戳错误"}"#,
        "Date: Mon, 30 Nov 2026 09:00:00 GMT\r\n",
    );
    let raw = Raw::start(move |seen| {
        if seen.conn == 0 && seen.nth == 0 {
            Reply::now(answer(&booked(seen.tid, 1))).then(Duration::from_millis(1), stale.clone())
        } else {
            Reply::now(answer(&booked(seen.tid, 2)))
        }
    });
    let client = client_for(&raw.url);
    assert_own(&upload(&client, "pos-first"), "pos-first");
    raw.wait_replies(1);
    assert_own(&upload(&client, "pos-second"), "pos-second");
    assert_eq!(client.clock_offset(), 0, "a stale Date moved the clock");
    assert_eq!(raw.received("pos-second"), 1);
}

#[test]
fn a_connection_closed_after_the_answer_is_not_written_into() {
    let raw = Raw::start(|seen| Reply::now(answer(&booked(seen.tid, 1))).end(End::Close));
    let client = client_for(&raw.url);
    for i in 0..10 {
        let tid = format!("pos-close-{i}");
        assert_own(&upload(&client, &tid), &tid);
        // The FIN is in the client's socket before the next call starts.
        raw.wait_replies(i + 1);
    }
    assert_eq!(raw.requests(), 10);
    assert_eq!(raw.accepted(), 10);
}

#[test]
fn a_connection_reset_after_the_answer_is_not_a_failure() {
    let raw = Raw::start(|seen| Reply::now(answer(&booked(seen.tid, 1))).end(End::Reset));
    let client = client_for(&raw.url);
    for i in 0..10 {
        let tid = format!("pos-reset-{i}");
        assert_own(&upload(&client, &tid), &tid);
        raw.wait_replies(i + 1);
    }
    assert_eq!(raw.requests(), 10);
}

/// Every framing RFC 9112 lets a gateway or proxy use, read as the answer it is; the call gets
/// its own data and the request reaches the server once.
#[test]
fn every_legal_framing_is_read() {
    type Shape = fn(&str) -> Vec<u8>;
    // (name, bytes for a tid, whether the client may reuse the connection after it). The
    // server keeps every connection open unless the framing is close-delimited: a connection
    // whose framing is in any doubt (a 1xx it did not ask for, HTTP/1.0) must be retired by
    // the client itself.
    let shapes: Vec<(&str, Shape, bool)> = vec![
        (
            "100 Continue with a field",
            |t| {
                let mut v = b"HTTP/1.1 100 Continue\r\nX-Note: early\r\n\r\n".to_vec();
                v.extend(answer(&booked(t, 1)));
                v
            },
            false,
        ),
        (
            "103 Early Hints",
            |t| {
                let mut v =
                    b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n".to_vec();
                v.extend(answer(&booked(t, 1)));
                v
            },
            false,
        ),
        (
            "an obs-folded field",
            |t| answer_with(&booked(t, 1), "X-Folded: first\r\n  second\r\n\tthird\r\n"),
            true,
        ),
        (
            "a long chunk extension",
            |t| {
                let body = booked(t, 1);
                format!(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x};name=\"{}\"\r\n{body}\r\n0\r\n\r\n",
                    body.len(),
                    "v".repeat(300)
                )
                .into_bytes()
            },
            true,
        ),
        (
            "chunks with trailers",
            |t| {
                let body = booked(t, 1);
                let (a, b) = body.split_at(5);
                format!(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:X} ; x=1\r\n{b}\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n",
                    a.len(),
                    b.len()
                )
                .into_bytes()
            },
            true,
        ),
        (
            "Connection: close, no length",
            |t| {
                format!(
                    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{}",
                    booked(t, 1)
                )
                .into_bytes()
            },
            false,
        ),
        (
            "HTTP/1.0 with a length",
            |t| {
                let body = booked(t, 1);
                format!(
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()
            },
            false,
        ),
    ];
    for (name, shape, reusable) in shapes {
        let closes = name.starts_with("Connection: close");
        let raw = Raw::start(move |seen| {
            let r = Reply::now(shape(seen.tid));
            if closes {
                r.end(End::Close)
            } else {
                r
            }
        });
        let client = client_for(&raw.url);
        for i in 0..3 {
            let tid = format!("pos-{i}");
            let env = upload(&client, &tid);
            assert_eq!(env["ok"], true, "{name}: {env}");
            assert_eq!(env["data"]["tid"], tid.as_str(), "{name}: {env}");
            assert_eq!(raw.received(&tid), 1, "{name}");
            raw.wait_replies(i + 1);
        }
        let connections = if reusable { 1 } else { 3 };
        assert_eq!(raw.accepted(), connections, "{name}: connections");
    }
}
