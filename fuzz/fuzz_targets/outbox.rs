//! Target (d): the outbox's inputs through its C functions: submit JSON, entry ids, list
//! filters, flush options and open options, on an outbox whose gateway is a closed port on
//! 127.0.0.1 (nothing leaves the machine) and whose file lives in a fresh temporary folder.
//!
//! The first byte picks the function, the rest is its argument as a C caller passes it.
//! What must hold: every answer is an envelope of the ABI's shape; a refused submit stores
//! nothing (the number of entries does not change); an accepted one is stored and, since the
//! gateway is unreachable, ends `pending` with `not_sent`; open options never choose the file
//! (the path is replaced before the call, so fuzzing cannot write outside its folder).
#![no_main]

mod common;

use std::ffi::{c_char, CString};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::ptr;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use wdt::ffi::*;

use common::*;

struct Shared(*mut WdtOutbox);
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

static OUTBOX: OnceLock<Shared> = OnceLock::new();
static DIR: OnceLock<PathBuf> = OnceLock::new();
static CONFIG: OnceLock<CString> = OnceLock::new();

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

fn dir() -> &'static PathBuf {
    DIR.get_or_init(|| {
        // /dev/shm when there is one: an fsync per stored entry on a real disk would slow the
        // fuzzer to a crawl, and durability is not what is fuzzed here.
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("wdt-fuzz-outbox-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("a scratch folder");
        d
    })
}

fn config() -> &'static CString {
    CONFIG.get_or_init(|| {
        CString::new(format!(
            r#"{{"sid":"fuzz","appkey":"fuzz","appsecret":"fuzzsecret:fuzzsalt","url":"http://127.0.0.1:{}/openapi","connect_timeout_ms":200,"timeout_ms":1000,"max_retries":0}}"#,
            closed_port()
        ))
        .expect("no NUL")
    })
}

fn outbox() -> *mut WdtOutbox {
    OUTBOX
        .get_or_init(|| {
            let opts = CString::new(
                json!({"path": dir().join("main.db").to_string_lossy(), "lease_ms": 2000})
                    .to_string(),
            )
            .expect("no NUL");
            let mut err: *mut c_char = ptr::null_mut();
            let ob = unsafe { wdt_outbox_open(config().as_ptr(), opts.as_ptr(), &mut err) };
            assert!(!ob.is_null(), "fuzz outbox refused: {}", take(err));
            Shared(ob)
        })
        .0
}

fn count() -> usize {
    let env = take(unsafe { wdt_outbox_list(outbox(), c"{\"limit\":1000}".as_ptr()) });
    let v: Value = serde_json::from_str(&env).expect("JSON");
    v["data"]["entries"].as_array().map_or(0, Vec::len)
}

fuzz_target!(init: { keep_fuzzer_panic_hook(); outbox(); }, |data: &[u8]| {
    let Some((&op, rest)) = data.split_first() else { return };
    let c = c_string(rest);
    let ob = outbox();
    match op % 5 {
        0 => {
            let before = count();
            let text = take(unsafe { wdt_outbox_submit(ob, c.as_ptr()) });
            let env = check_envelope(&text);
            let after = count();
            if env["ok"] == Value::Bool(true) {
                let state = env["data"]["state"].as_str().unwrap_or("");
                assert!(
                    ["pending", "delivered", "rejected", "in_doubt", "needs_attention"].contains(&state),
                    "{text}"
                );
                assert!(after == before || after == before + 1, "{before} -> {after}: {text}");
                if after == before + 1 {
                    // New, and the gateway is a closed port: nothing can have been sent.
                    assert_eq!(state, "pending", "{text}");
                    // Deferred: stored, never tried. Otherwise tried once and refused at connect.
                    match env["data"]["attempts"].as_u64() {
                        Some(0) => assert!(env["data"].get("error").is_none(), "{text}"),
                        Some(1) => assert_eq!(env["data"]["error"]["delivery"], "not_sent", "{text}"),
                        _ => panic!("a new entry tried more than once: {text}"),
                    }
                }
            } else {
                assert_eq!(after, before, "a refused submit stored something: {text}");
                let kind = error_of(&env)["kind"].as_str().unwrap_or("");
                assert_eq!(kind, "invalid_argument", "{text}");
            }
        }
        1 => {
            let text = take(unsafe { wdt_outbox_get(ob, c.as_ptr()) });
            check_envelope(&text);
        }
        2 => {
            let text = take(unsafe { wdt_outbox_list(ob, c.as_ptr()) });
            let env = check_envelope(&text);
            if env["ok"] == Value::Bool(true) {
                assert!(env["data"]["entries"].is_array(), "{text}");
            }
        }
        3 => {
            let text = take(unsafe { wdt_outbox_flush(ob, c.as_ptr()) });
            let env = check_envelope(&text);
            if env["ok"] == Value::Bool(true) {
                assert_eq!(env["data"]["delivered"], 0, "nothing can be delivered: {text}");
            }
        }
        _ => {
            // Open options: the fuzzer's object with the path replaced by ours.
            let opts = match std::str::from_utf8(c.as_bytes()).ok().and_then(|t| serde_json::from_str::<Value>(t).ok()) {
                Some(Value::Object(mut m)) => {
                    m.insert("path".into(), Value::from(dir().join("other.db").to_string_lossy().into_owned()));
                    // Keep the worker off: a thread per input would outlive the close below only
                    // by its join, but an interval of minutes is pointless here.
                    m.remove("worker_interval_ms");
                    CString::new(Value::Object(m).to_string()).expect("JSON has no NUL")
                }
                // Not an object: passed as is; it cannot name a file.
                _ => c.clone(),
            };
            let mut err: *mut c_char = ptr::null_mut();
            let other = unsafe { wdt_outbox_open(config().as_ptr(), opts.as_ptr(), &mut err) };
            if other.is_null() {
                let text = take(err);
                let env = check_envelope(&text);
                assert_eq!(error_of(&env)["kind"], "config", "{text}");
            } else {
                assert!(err.is_null());
                unsafe { wdt_outbox_close(other) };
            }
        }
    }
});
