//! Shared by the fuzz targets: the envelope contract of docs/abi.md as assertions, and the plumbing
//! to call the C functions with fuzzer bytes the way a C caller would.
//!
//! Every failed assertion here is a finding: libFuzzer-sys turns the panic into an abort and
//! saves the input.

#![allow(dead_code)] // each target uses a different subset

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use serde_json::{Map, Value};

/// docs/abi.md "Response envelope": the set of kinds is part of the ABI.
pub const KINDS: &[&str] = &[
    "invalid_argument",
    "config",
    "transport",
    "timeout",
    "http",
    "bad_response",
    "api",
    "internal",
];

pub const DELIVERIES: &[&str] = &["not_sent", "unknown", "rejected"];

/// The library's `guard` installs a silent panic hook the first time an FFI function runs,
/// which would replace libfuzzer-sys's hook (print + abort) and hide every panic behind an
/// `internal` envelope. Run one FFI call so the library's one-time hook is spent, then put the
/// fuzzer's hook back: from then on any panic, inside the library or in our assertions,
/// aborts with its message and location, which is what we want to find.
pub fn keep_fuzzer_panic_hook() {
    let fuzzer_hook = std::panic::take_hook();
    // NULL client and request: the library answers with an envelope and never dereferences.
    let e = unsafe { wdt::ffi::wdt_call(ptr::null_mut(), ptr::null()) };
    unsafe { wdt::ffi::wdt_free_string(e) };
    std::panic::set_hook(fuzzer_hook);
}

/// What a C caller can pass for these bytes: everything before the first NUL.
pub fn c_string(data: &[u8]) -> CString {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    CString::new(&data[..end]).expect("no NUL before end")
}

/// Copies a library-owned string and frees it exactly once, as a binding would.
pub fn take(s: *mut c_char) -> String {
    assert!(
        !s.is_null(),
        "the library returned NULL instead of an envelope"
    );
    let text = unsafe { CStr::from_ptr(s) }
        .to_str()
        .unwrap_or_else(|e| panic!("envelope is not UTF-8: {e}"))
        .to_owned();
    unsafe { wdt::ffi::wdt_free_string(s) };
    text
}

/// Checks the shape every envelope must have (docs/abi.md) and returns it parsed.
pub fn check_envelope(text: &str) -> Map<String, Value> {
    let value: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("envelope is not JSON ({e}): {text:?}"));
    let Value::Object(env) = value else {
        panic!("envelope is not a JSON object: {text:?}")
    };
    // `ok` comes first so a caller may test it with a prefix match (envelope.rs).
    assert_eq!(
        env.keys().next().map(String::as_str),
        Some("ok"),
        "ok is not the first key: {text}"
    );
    match env.get("ok") {
        Some(Value::Bool(true)) => {
            assert_eq!(env.get("status").and_then(Value::as_i64), Some(0), "{text}");
            assert!(env.contains_key("data"), "success without data: {text}");
            assert!(!env.contains_key("error"), "success with an error: {text}");
        }
        Some(Value::Bool(false)) => {
            let err = env
                .get("error")
                .and_then(Value::as_object)
                .unwrap_or_else(|| panic!("failure without an error object: {text}"));
            let kind = err.get("kind").and_then(Value::as_str).unwrap_or("");
            assert!(KINDS.contains(&kind), "unknown kind {kind:?}: {text}");
            // `internal` means a caught panic: a library bug, whatever the input.
            assert_ne!(kind, "internal", "caught panic: {text}");
            assert!(err.get("message").is_some_and(Value::is_string), "{text}");
            let delivery = err.get("delivery").and_then(Value::as_str).unwrap_or("");
            assert!(
                DELIVERIES.contains(&delivery),
                "unknown delivery {delivery:?}: {text}"
            );
            assert!(
                err.get("retryable").is_some_and(Value::is_boolean),
                "{text}"
            );
            match kind {
                "invalid_argument" | "config" => {
                    assert_eq!(delivery, "not_sent", "{text}");
                    assert_eq!(err["retryable"], Value::Bool(false), "{text}");
                    if let Some(f) = err.get("field") {
                        assert!(f.is_string(), "field is not a string: {text}");
                    }
                }
                "api" => {
                    // docs/abi.md "delivery": rejected exactly for the statuses that prove
                    // nothing was written; 4, 5, 99 and unlisted statuses are unknown.
                    let status = err.get("status").and_then(Value::as_i64);
                    assert!(status.is_some(), "{text}");
                    let rejects = status.is_some_and(|s| [1, 2, 3, 6, 7, 8, 100].contains(&s));
                    assert_eq!(delivery, if rejects { "rejected" } else { "unknown" }, "{text}");
                    if delivery == "unknown" {
                        assert_eq!(err["retryable"], Value::Bool(false), "{text}");
                    }
                }
                "http" | "bad_response" => {
                    assert_eq!(delivery, "unknown", "{text}");
                    if kind == "http" {
                        assert!(err.get("http_status").is_some_and(Value::is_u64), "{text}");
                    }
                }
                _ => {}
            }
        }
        other => panic!("ok is not a boolean ({other:?}): {text}"),
    }
    env
}

/// The `error` object of a failure envelope.
pub fn error_of(env: &Map<String, Value>) -> &Map<String, Value> {
    env.get("error")
        .and_then(Value::as_object)
        .expect("a failure envelope")
}

/// Whether `field` (an `invalid_argument` JSON path such as `detailMapList[1].stockin_num`)
/// names a place in `root`: an existing value, or a missing key of an existing object. Keys
/// may themselves contain `.` or `[` (an unknown key is echoed verbatim), so every way of
/// splitting the path is tried.
pub fn path_names_a_place(root: &Value, field: &str) -> bool {
    fn walk(node: &Value, rest: &str) -> bool {
        if rest.is_empty() {
            return true;
        }
        if let Some(after) = rest.strip_prefix('[') {
            let Some(close) = after.find(']') else {
                return false;
            };
            let Ok(i) = after[..close].parse::<usize>() else {
                return false;
            };
            return match node {
                Value::Array(items) => items
                    .get(i)
                    .is_some_and(|item| walk(item, &after[close + 1..])),
                _ => false,
            };
        }
        let Some(rest) = rest.strip_prefix('.') else {
            return false;
        };
        key_step(node, rest)
    }
    fn key_step(node: &Value, rest: &str) -> bool {
        let Value::Object(map) = node else {
            return false;
        };
        let existing = map.iter().any(|(k, v)| {
            rest.strip_prefix(k.as_str())
                .is_some_and(|after| walk(v, after))
        });
        // A required key that is missing: the library names it in its own words, which never
        // contain a separator.
        existing || (!rest.contains(['.', '[']) && !map.contains_key(rest))
    }
    key_step(root, field)
}
