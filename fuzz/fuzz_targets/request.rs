//! Target (b): request validation and envelope building, through the C functions
//! `wdt_smart_refund_upload` and `wdt_call` and through the Rust functions they wrap.
//!
//! The client's gateway is a closed port on 127.0.0.1, so an input that passes validation fails
//! at connect with `transport`/`not_sent` and nothing ever leaves the machine. Every input goes
//! to both functions: the seeds of one are near misses for the other.
#![no_main]

mod common;

use std::ffi::c_char;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::ptr;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wdt::ffi::{wdt_call, wdt_client_new, wdt_smart_refund_upload, WdtClient};
use wdt::internals::envelope;
use wdt::internals::request::{self, Prepared};
use wdt::Error;

use common::*;

struct Shared(*mut WdtClient);
// The ABI promises a client may be shared between threads; libFuzzer runs one at a time anyway.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

static CLIENT: OnceLock<Shared> = OnceLock::new();

/// A 127.0.0.1 port with nothing listening: 9 (discard) unless something answers there, else
/// a port the kernel just handed out and we closed again.
fn closed_port() -> u16 {
    let refused = |port: u16| {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err()
    };
    if refused(9) {
        return 9;
    }
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1");
    assert!(refused(port), "no closed port found on 127.0.0.1");
    port
}

fn client() -> *mut WdtClient {
    CLIENT
        .get_or_init(|| {
            // max_retries 0 and small timeouts: a valid input costs one refused connect.
            let config = format!(
                r#"{{"sid":"fuzz","appkey":"fuzz","appsecret":"fuzzsecret:fuzzsalt","url":"http://127.0.0.1:{}/openapi","connect_timeout_ms":200,"timeout_ms":1000,"max_retries":0}}"#,
                closed_port()
            );
            let c = std::ffi::CString::new(config).expect("no NUL");
            let mut err: *mut c_char = ptr::null_mut();
            let client = unsafe { wdt_client_new(c.as_ptr(), &mut err) };
            assert!(!client.is_null(), "fuzz config refused: {}", take(err));
            Shared(client)
        })
        .0
}

fuzz_target!(init: { keep_fuzzer_panic_hook(); client(); }, |data: &[u8]| {
    let c = c_string(data);
    let text = std::str::from_utf8(c.as_bytes()).ok();
    let parsed = text.and_then(|t| serde_json::from_str::<Value>(t).ok());

    let pure = text.map(|t| request::parse_object(t).and_then(|m| request::smart_refund(&m)));
    let env = take(unsafe { wdt_smart_refund_upload(client(), c.as_ptr()) });
    check(&env, pure.as_ref(), parsed.as_ref());
    if let Some(Ok(p)) = &pure {
        check_smart_refund_body(p, parsed.as_ref());
    }
    // The one-pass reader may only say yes where the Value path says the same, byte for byte.
    if let Some(fast) = text.and_then(request::scan::smart_refund) {
        assert_eq!(pure.as_ref().and_then(|r| r.as_ref().ok()), Some(&fast), "{text:?}");
    }

    let pure = text.map(|t| request::parse_object(t).and_then(|m| request::generic(&m)));
    let env = take(unsafe { wdt_call(client(), c.as_ptr()) });
    check(&env, pure.as_ref(), parsed.as_ref());
    if let Some(Ok(p)) = &pure {
        // args goes on the wire as written, only compacted.
        let args = &parsed.as_ref().expect("accepted input is JSON")["args"];
        assert_eq!(p.body, serde_json::to_string(args).expect("serialises"));
    }

    // What C cannot pass (text after a NUL) still reaches the Rust API.
    if c.as_bytes().len() < data.len() {
        if let Ok(full) = std::str::from_utf8(data) {
            let _ = request::parse_object(full).and_then(|m| request::smart_refund(&m));
            let _ = request::parse_object(full).and_then(|m| request::generic(&m));
        }
    }
});

/// One FFI envelope against what the Rust functions decided for the same text.
fn check(env_text: &str, pure: Option<&Result<Prepared, Error>>, parsed: Option<&Value>) {
    let env = check_envelope(env_text);
    assert_eq!(
        env["ok"],
        Value::Bool(false),
        "nothing can succeed here: {env_text}"
    );
    let err = error_of(&env);
    match pure {
        // Invalid UTF-8: refused before parsing, with no field.
        None => {
            assert_eq!(err["kind"], "invalid_argument", "{env_text}");
            assert!(err.get("field").is_none(), "{env_text}");
        }
        Some(Err(e)) => {
            assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
            // The FFI adds nothing and loses nothing, and nothing was sent.
            assert_eq!(env_text, envelope::error(e));
            assert!(err.get("attempts").is_none(), "{env_text}");
            if let (Some(field), Some(root)) = (err.get("field").and_then(Value::as_str), parsed) {
                assert!(
                    path_names_a_place(root, field),
                    "field {field:?} names no place in the request: {env_text}"
                );
            }
        }
        // Valid: it went to the closed port, so it failed before any byte left.
        Some(Ok(_)) => {
            let kind = err["kind"].as_str().unwrap_or("");
            assert!(kind == "transport" || kind == "timeout", "{env_text}");
            assert_eq!(err["delivery"], "not_sent", "{env_text}");
            assert_eq!(err["retryable"], Value::Bool(true), "{env_text}");
            assert_eq!(
                err.get("attempts").and_then(Value::as_u64),
                Some(1),
                "{env_text}"
            );
        }
    }
}

/// docs/abi.md: the POST body is `[refundInfo, detailMapList, createPreStockin]`, values as written.
fn check_smart_refund_body(p: &Prepared, parsed: Option<&Value>) {
    let req = parsed.expect("accepted input is JSON");
    let expected = format!(
        "[{},{},{}]",
        serde_json::to_string(&req["refundInfo"]).expect("serialises"),
        serde_json::to_string(&req["detailMapList"]).expect("serialises"),
        serde_json::to_string(&req["createPreStockin"]).expect("serialises"),
    );
    assert_eq!(p.body, expected);
    assert_eq!(p.method, request::SMART_REFUND_UPLOAD);
    assert!(p.pager.is_none());
}
