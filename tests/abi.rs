//! The exported functions called as C would call them, with raw pointers: NULLs, bad UTF-8,
//! bad JSON and wrong shapes all give envelopes, never a crash, and nothing reaches the network.

mod common;

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use common::*;
use serde_json::json;
use wdt::ffi::*;

#[test]
fn null_pointers_give_envelopes() {
    let d = double();
    let client = d.client();
    let req = CString::new(good_request("pos-6776312", json!(1))).unwrap();

    let e = take(unsafe { wdt_smart_refund_upload(ptr::null_mut(), req.as_ptr()) });
    assert_eq!(kind(&e), "invalid_argument");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("client is NULL"));
    let e = take(unsafe { wdt_smart_refund_upload(client.0, ptr::null()) });
    assert_eq!(kind(&e), "invalid_argument");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("request_json is NULL"));
    let e = take(unsafe { wdt_call(ptr::null_mut(), req.as_ptr()) });
    assert_eq!(kind(&e), "invalid_argument");
    let e = take(unsafe { wdt_call(client.0, ptr::null()) });
    assert_eq!(kind(&e), "invalid_argument");
    assert_eq!(e["error"]["delivery"], "not_sent");

    // NULL config, with and without somewhere to put the error.
    let mut err: *mut c_char = ptr::null_mut();
    assert!(unsafe { wdt_client_new(ptr::null(), &mut err) }.is_null());
    let e = take(err);
    assert_eq!(kind(&e), "config");
    assert!(unsafe { wdt_client_new(ptr::null(), ptr::null_mut()) }.is_null());

    assert_eq!(d.requests(), 0, "nothing may reach the network");
}

#[test]
fn free_functions_accept_null() {
    unsafe {
        wdt_client_free(ptr::null_mut());
        wdt_free_string(ptr::null_mut());
    }
}

#[test]
fn invalid_utf8_and_json_and_shapes() {
    let d = double();
    let client = d.client();
    let bad_utf8: &[u8] = b"{\"refundInfo\":\"\xff\xfe\"}\0";
    let e = take(unsafe { wdt_smart_refund_upload(client.0, bad_utf8.as_ptr().cast()) });
    assert_eq!(kind(&e), "invalid_argument");
    assert!(e["error"]["message"].as_str().unwrap().contains("UTF-8"));
    let e = take(unsafe { wdt_call(client.0, bad_utf8.as_ptr().cast()) });
    assert_eq!(kind(&e), "invalid_argument");

    for text in [
        "",
        "{",
        "not json",
        "42",
        "[]",
        "[{}]",
        "\"string\"",
        "null",
        "true",
    ] {
        let e = client.upload(text);
        assert_eq!(kind(&e), "invalid_argument", "upload {text:?}: {e}");
        assert!(
            e["error"].get("field").is_none(),
            "root errors name no field: {e}"
        );
        let e = client.call(text);
        assert_eq!(kind(&e), "invalid_argument", "call {text:?}: {e}");
    }

    let mut err: *mut c_char = ptr::null_mut();
    let c = unsafe { wdt_client_new(bad_utf8.as_ptr().cast(), &mut err) };
    assert!(c.is_null());
    assert_eq!(kind(&take(err)), "config");
    for text in ["", "42", "[1]", "{", "\"sid\""] {
        let e = Client::new(text).err().expect("config must be refused");
        assert_eq!(kind(&e), "config", "{text:?}");
    }
    assert_eq!(d.requests(), 0, "nothing may reach the network");
}

#[test]
fn config_error_fills_error_json_and_success_clears_it() {
    let d = double();
    let bad = CString::new(d.config(json!({"appsecret": "nosalt"}))).unwrap();
    // A stale pointer in *error_json must be overwritten, never freed or kept.
    let mut err: *mut c_char = 0x1 as *mut c_char;
    assert!(unsafe { wdt_client_new(bad.as_ptr(), &mut err) }.is_null());
    let e = take(err);
    assert_eq!(e["ok"], false);
    assert_eq!(e["error"]["kind"], "config");
    assert_eq!(e["error"]["field"], "appsecret");
    assert!(
        !e.to_string().contains("nosalt"),
        "the secret must not be echoed: {e}"
    );

    let good = CString::new(d.config(json!({}))).unwrap();
    let mut err: *mut c_char = 0x1 as *mut c_char;
    let client = unsafe { wdt_client_new(good.as_ptr(), &mut err) };
    assert!(!client.is_null());
    assert!(err.is_null());
    unsafe { wdt_client_free(client) };
}

#[test]
fn version_matches_cargo_and_header() {
    let v = unsafe { CStr::from_ptr(wdt_version()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    let header = std::fs::read_to_string(root().join("include/wdt.h")).unwrap();
    assert!(header.contains(&format!("#define WDT_VERSION \"{v}\"")));
    let parts: Vec<&str> = v.split('.').collect();
    assert!(header.contains(&format!("#define WDT_VERSION_MAJOR {}", parts[0])));
    assert!(header.contains(&format!("#define WDT_VERSION_MINOR {}", parts[1])));
    assert!(header.contains(&format!("#define WDT_VERSION_PATCH {}", parts[2])));
}

#[test]
fn committed_header_is_fresh() {
    let fresh = include_str!(concat!(env!("OUT_DIR"), "/wdt.h"));
    let committed = std::fs::read_to_string(root().join("include/wdt.h")).unwrap();
    assert!(
        fresh == committed,
        "include/wdt.h is stale: run `bash scripts/update-header.sh` (WDT_UPDATE_HEADER=1 cargo build) and commit it"
    );
}

#[test]
fn panic_becomes_internal_envelope() {
    let d = double();
    let hooks = Client::new(&d.config(json!({"test_hooks": true}))).unwrap();
    let e = hooks.call(r#"{"method":"wdt.test.panic","args":[]}"#);
    assert_eq!(kind(&e), "internal", "{e}");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("deliberate panic"));
    // The client is still usable after a caught panic.
    let ok = hooks.upload(&good_request("pos-6776312", json!(1)));
    assert_eq!(ok["ok"], true, "{ok}");

    // Without the config switch the method is an ordinary (unknown) gateway method.
    let plain = d.client();
    let e = plain.call(r#"{"method":"wdt.test.panic","args":[]}"#);
    assert_eq!(kind(&e), "api", "{e}");
}

unsafe extern "C" fn collect_line(line: *const c_char, user_data: *mut std::ffi::c_void) {
    let lines = &*(user_data as *const std::sync::Mutex<Vec<String>>);
    let text = CStr::from_ptr(line).to_str().unwrap().to_owned();
    lines.lock().unwrap().push(text);
}

#[test]
fn log_callback_receives_lines_and_can_be_turned_off() {
    let d = double();
    let client = Client::new(&d.config(json!({"appsecret": "wrong:testsalt"}))).unwrap();
    let lines = Box::new(std::sync::Mutex::new(Vec::<String>::new()));
    let user = &*lines as *const _ as *mut std::ffi::c_void;
    assert_eq!(
        unsafe { wdt_client_set_log_callback(client.0, Some(collect_line), user) },
        0
    );
    let env = client.upload(&good_request("pos-6776312", json!(1)));
    assert_eq!(env["error"]["status"], 1, "{env}");
    assert_eq!(
        unsafe { wdt_client_set_log_callback(client.0, None, ptr::null_mut()) },
        0
    );
    client.upload(&good_request("pos-6776312", json!(1)));
    let got = lines.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("attempt 1"), "{got:?}");
    assert!(
        !got[0].contains("wrong"),
        "the secret reached the log: {got:?}"
    );
    assert_eq!(
        unsafe { wdt_client_set_log_callback(ptr::null_mut(), Some(collect_line), user) },
        -1
    );
}

/// `wdt_client_free` while another thread is inside a call: the call finishes with its answer,
/// the client goes away when it returns, and the freed pointer is refused afterwards.
#[test]
fn free_during_a_call_is_safe() {
    let d = double();
    d.fault(json!({"mode": "slow", "ms": 400, "count": 1}));
    let client = d.client();
    let raw = client.0 as usize;
    std::mem::forget(client);
    let caller = std::thread::spawn(move || {
        let req = CString::new(good_request("pos-6776312", json!(1))).unwrap();
        take(unsafe { wdt_smart_refund_upload(raw as *mut WdtClient, req.as_ptr()) })
    });
    // Free once the double holds the request (it counts request lines on arrival): in flight
    // as a fact, not as a sleep a slow machine can outlast.
    let since = std::time::Instant::now();
    while d.requests() == 0 {
        assert!(
            since.elapsed().as_secs() < 30,
            "the request never reached the double"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    unsafe { wdt_client_free(raw as *mut WdtClient) };
    let env = caller.join().unwrap();
    assert_eq!(env["ok"], true, "{env}");
    // A double free and a use after free are caller errors the library notices.
    unsafe { wdt_client_free(raw as *mut WdtClient) };
    let req = CString::new(good_request("pos-6776312", json!(1))).unwrap();
    let env = take(unsafe { wdt_smart_refund_upload(raw as *mut WdtClient, req.as_ptr()) });
    assert_eq!(kind(&env), "invalid_argument", "{env}");
    assert!(env["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not a live client"));
    assert_eq!(d.requests(), 1);
}

/// A handle is a number handed out once, not an address the allocator hands back at once: a
/// stale handle kept after `wdt_client_free` gets `invalid_argument`, never a client created
/// later (it did, when handles were addresses).
#[test]
fn a_freed_handle_never_reaches_a_later_client() {
    let d = double();
    let cfg = CString::new(d.config(json!({}))).unwrap();
    let new = || unsafe { wdt_client_new(cfg.as_ptr(), ptr::null_mut()) };
    let mut stale = Vec::new();
    let mut later = Vec::new();
    for _ in 0..50 {
        let c = new();
        unsafe { wdt_client_free(c) };
        stale.push(c);
        later.push(new());
    }
    let req = CString::new(good_request("pos-6776312", json!(1))).unwrap();
    for c in &stale {
        assert!(!later.contains(c), "a freed handle was handed out again");
        let env = take(unsafe { wdt_smart_refund_upload(*c, req.as_ptr()) });
        assert_eq!(kind(&env), "invalid_argument", "{env}");
    }
    for c in later {
        unsafe { wdt_client_free(c) };
    }
    assert_eq!(d.requests(), 0);
}

#[test]
fn freeing_the_version_string_is_ignored() {
    unsafe { wdt_free_string(wdt_version() as *mut c_char) };
    let v = unsafe { CStr::from_ptr(wdt_version()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
}
