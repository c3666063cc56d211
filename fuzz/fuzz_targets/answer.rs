//! Target (c): reading the gateway's answer. `interpret` on any HTTP status and body bytes, and
//! the `Date` header parser with the clock that learns from it: a broken or hostile gateway,
//! proxy or captive portal must never crash a till, and the kind must follow docs/abi.md.
//!
//! Input layout: 2 bytes HTTP status (big-endian, the full u16 range), 1 byte length L of the
//! Date header (255: no header), L bytes of header (lossy UTF-8), then the body.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wdt::internals::answer::{interpret, REJECTING_STATUSES};
use wdt::internals::clock::{parse_http_date, Clock};
use wdt::internals::envelope;
use wdt::internals::transport::Answer;
use wdt::{Delivery, Error};

use common::*;

const RATE_LIMIT_MESSAGES: [&str; 2] = ["超过每分钟最大调用频率限制", "超过每分钟最大并发次数限制"];

fuzz_target!(init: keep_fuzzer_panic_hook(), |data: &[u8]| {
    if data.len() < 3 {
        // Short inputs still feed the date parser whole.
        let _ = parse_http_date(&String::from_utf8_lossy(data));
        return;
    }
    let http_status = u16::from_be_bytes([data[0], data[1]]);
    let (date, body) = match data[2] {
        255 => (None, &data[3..]),
        n => {
            let end = (3 + n as usize).min(data.len());
            (Some(String::from_utf8_lossy(&data[3..end]).into_owned()), &data[end..])
        }
    };

    if let Some(d) = &date {
        check_date(d);
    }
    // The body as a header value too: more shapes for the date parser.
    check_date(&String::from_utf8_lossy(body));

    let answer = Answer {
        http_status,
        date,
        body: body.to_vec(),
        note: None,
    };
    let result = interpret(Answer {
        http_status,
        date: None,
        body: answer.body.clone(),
        note: None,
    });
    check_kind(&answer, &result);
    if let Err(e) = &result {
        assert!(!e.to_string().trim().is_empty(), "empty message: {e:?}");
    }
    for attempts in [0, 1] {
        let text = envelope::render(result.as_ref(), attempts);
        let env = check_envelope(&text);
        assert_eq!(env["ok"], Value::Bool(result.is_ok()), "{text}");
    }
});

fn check_date(s: &str) {
    // Whatever it returns, the clock must be able to learn from it.
    if parse_http_date(s).is_some() {
        let clock = Clock::default();
        clock.observe_date(s, true);
        let _ = clock.timestamp();
    }
}

/// The classification of docs/abi.md, from an independent reading of the body.
fn check_kind(answer: &Answer, result: &Result<wdt::internals::answer::Success, Error>) {
    let body = answer
        .body
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&answer.body);
    let json = serde_json::from_slice::<Value>(body).ok();
    let status = json
        .as_ref()
        .and_then(Value::as_object)
        .and_then(|m| m.get("status"))
        .and_then(Value::as_i64);
    let ok_http = (200..300).contains(&answer.http_status);
    match result {
        Ok(s) => {
            assert!(ok_http, "success on http {}", answer.http_status);
            assert_eq!(status, Some(0), "success without status 0");
            let data = json.as_ref().and_then(|j| j.get("data")).cloned();
            assert_eq!(
                s.data(),
                data.unwrap_or(Value::Null),
                "data is not the gateway's"
            );
            let copied = serde_json::from_str::<Value>(s.data_json()).ok();
            assert_eq!(copied, Some(s.data()), "data is not valid JSON text");
        }
        Err(Error::Api {
            status: s,
            message,
            delivery,
            retryable,
        }) => {
            assert!(ok_http, "api error on http {}", answer.http_status);
            assert_eq!(Some(*s), status, "api status is not the gateway's");
            assert_ne!(*s, 0, "api error with status 0");
            assert_eq!(
                *delivery == Delivery::Rejected,
                REJECTING_STATUSES.contains(s),
                "rejected is not exactly the listed statuses: {s}"
            );
            assert_eq!(
                *retryable,
                *s == 100
                    && RATE_LIMIT_MESSAGES
                        .iter()
                        .any(|m| message.trim_start().starts_with(m)),
                "retryable is not exactly the rate limits: {message:?}"
            );
        }
        Err(Error::BadResponse { message }) => {
            assert!(ok_http, "bad_response on http {}", answer.http_status);
            assert!(status.is_none(), "gateway status ignored: {message}");
            assert_short(message);
        }
        Err(Error::Http {
            http_status,
            status: gateway_status,
            message,
        }) => {
            assert_eq!(*http_status, answer.http_status);
            assert!(!ok_http, "http error on a 2xx");
            assert_eq!(*gateway_status, status, "gateway status lost: {message}");
            assert_short(message);
        }
        Err(other) => panic!("interpret gave {} ({other:?})", other.kind()),
    }
}

/// Messages quote at most the start of a foreign body, without control characters, so a log
/// line or a POS dialog stays one readable line.
fn assert_short(message: &str) {
    assert!(
        message.chars().count() <= 320,
        "message too long: {} chars",
        message.chars().count()
    );
    assert!(
        !message.chars().any(char::is_control),
        "control character in {message:?}"
    );
}
