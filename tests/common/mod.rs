//! Shared by the integration tests: the gateway double started in-process on 127.0.0.1, and a
//! thin safe wrapper over the exported C functions (the tests go through the real C ABI).
#![allow(dead_code)] // each test file uses a different part of this module

use std::ffi::{c_char, CStr, CString};
use std::path::PathBuf;
use std::ptr;

pub mod raw;

use serde_json::{json, Value};
use wdt::ffi::*;
use wdt_mock::options::Options;
use wdt_mock::server::Server;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> Value {
    let text = std::fs::read_to_string(root().join("tests/fixtures/cases.json")).expect("fixtures");
    serde_json::from_str(&text).expect("fixtures are JSON")
}

pub struct Double {
    pub url: String,
    pub base: String,
}

/// Starts a fresh double, seeded with tests/fixtures/seed.json, serving on its own thread for
/// the rest of the test process. Every test gets its own double, so counts never mix.
pub fn double() -> Double {
    double_with(|_| {})
}

pub fn double_with(edit: impl FnOnce(&mut Options)) -> Double {
    let mut opts = Options {
        seed: Some(root().join("tests/fixtures/seed.json")),
        quiet: true,
        ..Options::default()
    };
    edit(&mut opts);
    let server = Server::bind(&opts).expect("the double binds 127.0.0.1:0");
    let url = server.url();
    std::thread::spawn(move || server.run());
    let base = url.trim_end_matches("/openapi").to_owned();
    Double { url, base }
}

impl Double {
    pub fn stats(&self) -> Value {
        let mut r = ureq::get(format!("{}/__mock/stats", self.base))
            .call()
            .expect("stats");
        let text = r.body_mut().read_to_string().expect("stats");
        serde_json::from_str(&text).expect("stats JSON")
    }

    pub fn requests(&self) -> u64 {
        self.stats()["requests"].as_u64().expect("requests count")
    }

    pub fn fault(&self, fault: Value) {
        ureq::post(format!("{}/__mock/fault", self.base))
            .send(fault.to_string().as_str())
            .expect("set fault");
    }

    pub fn config(&self, extra: Value) -> String {
        let mut c = fixtures()["base_config"].clone();
        c["url"] = json!(self.url);
        if let Value::Object(extra) = extra {
            for (k, v) in extra {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(&k);
                } else {
                    c[k] = v;
                }
            }
        }
        c.to_string()
    }

    pub fn client(&self) -> Client {
        Client::new(&self.config(json!({}))).expect("client")
    }
}

/// Takes ownership of a string returned by the library, parses it and frees it.
pub fn take(s: *mut c_char) -> Value {
    assert!(!s.is_null(), "the library returned NULL");
    let text = unsafe { CStr::from_ptr(s) }
        .to_str()
        .expect("envelopes are UTF-8")
        .to_owned();
    unsafe { wdt_free_string(s) };
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("envelope is not JSON ({e}): {text}"))
}

pub struct Client(pub *mut WdtClient);

// The library promises a client may be shared between threads.
unsafe impl Send for Client {}
unsafe impl Sync for Client {}

impl Client {
    pub fn new(config: &str) -> Result<Client, Value> {
        let c = CString::new(config).unwrap();
        let mut err: *mut c_char = ptr::null_mut();
        let client = unsafe { wdt_client_new(c.as_ptr(), &mut err) };
        if client.is_null() {
            Err(take(err))
        } else {
            assert!(err.is_null(), "error_json must be NULL on success");
            Ok(Client(client))
        }
    }

    pub fn upload(&self, request: &str) -> Value {
        let r = CString::new(request).unwrap();
        take(unsafe { wdt_smart_refund_upload(self.0, r.as_ptr()) })
    }

    pub fn call(&self, request: &str) -> Value {
        let r = CString::new(request).unwrap();
        take(unsafe { wdt_call(self.0, r.as_ptr()) })
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        unsafe { wdt_client_free(self.0) }
    }
}

pub fn good_request(tid: &str, qty: Value) -> String {
    json!({
        "refundInfo": {"tid": tid, "return_warehouse_no": "pos", "remark": "pos refundInfo remark"},
        "detailMapList": [{"spec_no": if tid == "pos-load" { "LOAD-SKU" } else { "RRWDMS018040S" }, "stockin_num": qty, "remark": "POS 退货测试"}],
        "createPreStockin": false
    })
    .to_string()
}

pub fn kind(env: &Value) -> &str {
    env["error"]["kind"].as_str().unwrap_or("")
}
