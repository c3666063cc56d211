//! Every exported function and every raw pointer of the library lives here.
//!
//! Panic policy (after rustls-ffi): each entry point runs inside `guard`, so a panic becomes an
//! `internal` envelope (or a no-op for the free functions) instead of unwinding into the host,
//! which would abort the POS till. Pointers are checked for NULL and UTF-8 through `text` before
//! any use. Strings handed out are `char *` allocated by this library (CString) and must come
//! back through `wdt_free_string`; nothing else may free them.
#![allow(unsafe_code)] // the C ABI: raw pointers in and out, checked at the edge

use std::cell::Cell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use crate::client::Client;
use crate::dispatch;
use crate::envelope;
use crate::error::Error;

mod outbox;
pub use outbox::*;

/// An opaque client handle. Create it with `wdt_client_new`, release it with `wdt_client_free`.
/// One client may be used from many threads at once; it holds its own connection pool.
pub struct WdtClient {
    inner: Client,
}

static VERSION: &[u8] = concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes();

thread_local! {
    /// True while this thread runs inside `guard`.
    static IN_GUARD: Cell<bool> = const { Cell::new(false) };
}

/// The default panic hook prints to stderr; the library must not write to the host's streams
/// unasked, and the panic message is returned in the `internal` envelope instead. The hook is
/// process-wide, so it stays silent only for panics inside `guard` and hands every other panic
/// (a Rust host's own, a test's assertion) to the hook that was there before.
fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_GUARD.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

fn guard(f: impl FnOnce() -> String) -> *mut c_char {
    quiet_panics();
    let outer = IN_GUARD.with(|g| g.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_GUARD.with(|g| g.set(outer));
    let text = result.unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        envelope::error(&Error::Internal {
            message: format!("internal: caught panic: {what}"),
        })
    });
    into_c(text)
}

/// Hands a string to C. Envelopes are JSON, whose serialiser escapes NUL, so the fallback
/// never fires in practice; it keeps the "never NULL" promise without an unwrap.
fn into_c(text: String) -> *mut c_char {
    match CString::new(text) {
        Ok(c) => c.into_raw(),
        Err(e) => {
            let mut bytes = e.into_vec();
            bytes.retain(|b| *b != 0);
            CString::new(bytes).map_or(std::ptr::null_mut(), CString::into_raw)
        }
    }
}

/// Borrows a C string as UTF-8, or says which argument is wrong.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives the call.
unsafe fn text<'a>(ptr: *const c_char, what: &str, config: bool) -> Result<&'a str, Error> {
    let err = |msg: String| {
        if config {
            Error::config("", msg)
        } else {
            Error::invalid("", msg)
        }
    };
    if ptr.is_null() {
        return Err(err(format!(
            "{}: {what} is NULL",
            if config { "config" } else { "invalid argument" }
        )));
    }
    CStr::from_ptr(ptr).to_str().map_err(|e| {
        err(format!(
            "{}: {what} is not valid UTF-8 (byte {})",
            if config { "config" } else { "invalid argument" },
            e.valid_up_to()
        ))
    })
}

/// Creates a client from a JSON config (UTF-8, NUL-terminated), see the README for its keys.
///
/// Returns NULL on failure; then, when `error_json` is not NULL, `*error_json` receives an error
/// envelope (kind "config") that the caller must release with `wdt_free_string`. On success
/// `*error_json` is set to NULL. The returned client is owned by the caller and must be released
/// exactly once with `wdt_client_free`. May be called from any thread.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `error_json` is NULL or points to a
/// writable `char *`.
#[no_mangle]
pub unsafe extern "C" fn wdt_client_new(
    config_json: *const c_char,
    error_json: *mut *mut c_char,
) -> *mut WdtClient {
    if !error_json.is_null() {
        *error_json = std::ptr::null_mut();
    }
    let mut client: *mut WdtClient = std::ptr::null_mut();
    let out = &mut client;
    let err = guard(
        || match dispatch::client_new(text(config_json, "config_json", true)) {
            Ok(inner) => {
                *out = Box::into_raw(Box::new(WdtClient { inner }));
                String::new()
            }
            Err(envelope) => envelope,
        },
    );
    if client.is_null() && !error_json.is_null() {
        *error_json = err;
    } else {
        wdt_free_string(err);
    }
    client
}

/// 快速退货: sends a quick return (`wms.stockin.SmartRefund.upload`) described by
/// `request_json` (UTF-8, NUL-terminated): `{"refundInfo":{...},"detailMapList":[...],
/// "createPreStockin":false}`.
///
/// Returns a response envelope that the caller owns and must release exactly once with
/// `wdt_free_string`; NULL only when memory for the envelope itself cannot be allocated.
/// A NULL client or request, invalid UTF-8 or invalid JSON gives an `invalid_argument`
/// envelope and sends nothing. Blocks until the answer (at most about `timeout_ms`).
/// Thread-safe: many threads may use the same client at once, but not while (or after)
/// another thread calls `wdt_client_free` on it.
///
/// # Safety
/// `client` is NULL or a live client from `wdt_client_new`; `request_json` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wdt_smart_refund_upload(
    client: *mut WdtClient,
    request_json: *const c_char,
) -> *mut c_char {
    guard(|| match client.as_ref() {
        None => envelope::error(&Error::invalid("", "invalid argument: client is NULL")),
        Some(c) => {
            dispatch::smart_refund_upload(&c.inner, text(request_json, "request_json", false))
        }
    })
}

/// Calls any method of the flagship (旗舰版) open API: `request_json` is
/// `{"method":"...","args":[...],"pager":{"page_size":50,"page_no":0,"calc_total":true}}`
/// (`pager` optional). `args` is sent as the POST body.
///
/// Same ownership, NULL and thread rules as `wdt_smart_refund_upload`: the returned envelope is
/// released with `wdt_free_string`.
///
/// # Safety
/// As for `wdt_smart_refund_upload`.
#[no_mangle]
pub unsafe extern "C" fn wdt_call(
    client: *mut WdtClient,
    request_json: *const c_char,
) -> *mut c_char {
    guard(|| match client.as_ref() {
        None => envelope::error(&Error::invalid("", "invalid argument: client is NULL")),
        Some(c) => dispatch::call(&c.inner, text(request_json, "request_json", false)),
    })
}

/// Releases a client and its connections. NULL is a no-op. The client must not be in use by
/// another thread, and must not be used or freed again afterwards.
///
/// # Safety
/// `client` is NULL or a client from `wdt_client_new` not freed before.
#[no_mangle]
pub unsafe extern "C" fn wdt_client_free(client: *mut WdtClient) {
    if client.is_null() {
        return;
    }
    let owned = Box::from_raw(client);
    let _ = catch_unwind(AssertUnwindSafe(move || drop(owned)));
}

/// Releases a string returned by this library (an envelope or `*error_json`). NULL is a no-op.
/// Only for strings from this library, each exactly once; never for `wdt_version()`.
///
/// # Safety
/// `s` is NULL or a string returned by this library and not freed before.
#[no_mangle]
pub unsafe extern "C" fn wdt_free_string(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    let owned = CString::from_raw(s);
    let _ = catch_unwind(AssertUnwindSafe(move || drop(owned)));
}

/// The library version, e.g. "0.1.0". A static string: never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn wdt_version() -> *const c_char {
    VERSION.as_ptr().cast()
}
