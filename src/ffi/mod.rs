//! Every exported function and every raw pointer of the library lives here.
//!
//! Panic policy (after rustls-ffi): every entry point, the free functions included, runs inside
//! `guard`, so a panic becomes an `internal` envelope (or the function's failure value, see
//! `OnPanic`) instead of unwinding into the host, which would abort the POS till. Pointers are
//! checked for NULL and UTF-8 through `text` before any use. Strings handed out are `char *`
//! allocated by this library (CString) and must come back through `wdt_free_string`; nothing
//! else may free them. The contract is docs/abi.md.
#![allow(unsafe_code)] // the C ABI: raw pointers in and out, checked at the edge

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Once};

use crate::client::Client;
use crate::dispatch;
use crate::envelope;
use crate::error::Error;
use crate::validate::Input;

mod outbox;
mod registry;
pub use outbox::*;
use registry::Registry;

/// An opaque client handle. Create it with `wdt_client_new`, release it with `wdt_client_free`.
/// One client may be used from many threads at once; it holds its own connection pool.
pub struct WdtClient {
    /// Never made: a handle is a number from `LIVE` (see `registry`), opaque to C and never
    /// dereferenced; this type only gives it a name in the header.
    _opaque: [u8; 0],
}

/// Every live client handle (the rule is `registry`'s): `wdt_client_free` while another thread
/// is inside a call only drops the handle, and a freed or foreign pointer is never touched.
static LIVE: Registry<WdtClient, Client> = Registry::new();

fn lookup(handle: *const WdtClient) -> Option<Arc<Client>> {
    LIVE.lookup(handle)
}

fn register(client: Client) -> *mut WdtClient {
    LIVE.register(client)
}

/// The live client behind a handle, or the error envelope's reason.
fn live(handle: *const WdtClient) -> Result<Arc<Client>, Error> {
    lookup(handle).ok_or_else(|| {
        Error::invalid(if handle.is_null() {
            "client is NULL"
        } else {
            "client is not a live client (already freed with wdt_client_free?)"
        })
    })
}

/// The one line the library writes unasked: a caller's memory error that it caught instead of
/// crashing, which nobody would see otherwise.
fn misuse(what: &str) {
    crate::log::to_stderr(&format!("wdt: ignored {what}"));
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

/// What an export returns when its body panicked (after rustls-ffi's `PanicOrDefault`): an
/// `internal` envelope for the functions that answer with one, the failure value for the rest.
pub(crate) trait OnPanic {
    fn on_panic(what: String) -> Self;
}

impl OnPanic for *mut c_char {
    fn on_panic(what: String) -> Self {
        into_c(envelope::error(&Error::Internal { message: what }))
    }
}

impl<T> OnPanic for Result<T, Error> {
    fn on_panic(what: String) -> Self {
        Err(Error::Internal { message: what })
    }
}

impl OnPanic for () {
    fn on_panic(_: String) -> Self {}
}

impl OnPanic for c_int {
    fn on_panic(_: String) -> Self {
        -1
    }
}

/// The panic boundary: every export's body runs in here, so no panic unwinds into the host
/// (which would abort the POS till).
pub(crate) fn guard<T: OnPanic>(f: impl FnOnce() -> T) -> T {
    quiet_panics();
    let outer = IN_GUARD.with(|g| g.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_GUARD.with(|g| g.set(outer));
    result.unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        T::on_panic(format!("caught panic: {what}"))
    })
}

/// For exports that answer with an envelope: the body's error becomes the error envelope.
pub(crate) fn respond(f: impl FnOnce() -> Result<String, Error>) -> *mut c_char {
    guard(|| {
        into_c(match f() {
            Ok(envelope) => envelope,
            Err(e) => envelope::error(&e),
        })
    })
}

/// Hands a string to C. Envelopes are JSON, whose serialiser escapes NUL, so a NUL can only be
/// dropped here, never cut the string short.
pub(crate) fn into_c(text: String) -> *mut c_char {
    let mut bytes = text.into_bytes();
    bytes.retain(|b| *b != 0);
    // No NUL is left, so this is the success path of CString::new.
    CString::new(bytes).map_or(std::ptr::null_mut(), CString::into_raw)
}

/// Borrows a C string as UTF-8, or says which argument is wrong (`input` chooses the kind).
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn text<'a>(
    ptr: *const c_char,
    what: &str,
    input: Input,
) -> Result<&'a str, Error> {
    let unnamed = |message: String| match input {
        Input::Request => Error::invalid(message),
        Input::Config => Error::config(message),
    };
    if ptr.is_null() {
        return Err(unnamed(format!("{what} is NULL")));
    }
    CStr::from_ptr(ptr).to_str().map_err(|e| {
        unnamed(format!(
            "{what} is not valid UTF-8 (byte {})",
            e.valid_up_to()
        ))
    })
}

/// Creates a client from a JSON config, e.g.
/// `{"sid":"…","appkey":"…","appsecret":"secret:salt"}` (every key, its default and range: the
/// config table of docs/abi.md). Unknown keys, wrong types and values out of range are errors
/// naming the key in `field`. Create one client at start-up and share it: it owns a connection
/// pool, and many threads may use it at once.
///
/// Returns NULL on failure; then, when `error_json` is not NULL, `*error_json` receives an error
/// envelope (kind "config", or "internal") that the caller must release with `wdt_free_string`.
/// On success `*error_json` is set to NULL. The returned client is owned by the caller and must
/// be released with `wdt_client_free`. May be called from any thread.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `error_json` is NULL or points to a
/// writable `char *`.
#[no_mangle]
pub unsafe extern "C" fn wdt_client_new(
    config_json: *const c_char,
    error_json: *mut *mut c_char,
) -> *mut WdtClient {
    let made = guard(|| {
        let config = text(config_json, "config_json", Input::Config)?;
        dispatch::client_new(config).map(register)
    });
    guard(|| {
        let (client, error) = match made {
            Ok(client) => (client, std::ptr::null_mut()),
            Err(e) => (std::ptr::null_mut(), into_c(envelope::error(&e))),
        };
        if error_json.is_null() {
            wdt_free_string(error);
        } else {
            *error_json = error;
        }
        client
    })
}

impl OnPanic for *mut WdtClient {
    fn on_panic(_: String) -> Self {
        std::ptr::null_mut()
    }
}

/// 快速退货: sends a quick return (`wms.stockin.SmartRefund.upload`) described by
/// `request_json`: `{"refundInfo":{"tid":…,"return_warehouse_no":…,"remark":…},
/// "detailMapList":[{"spec_no":…,"stockin_num":1,"remark":…}],"createPreStockin":false}`.
///
/// Checked before sending against the API page's rules (docs/protocol.md, lengths in UTF-16
/// units); unknown top-level keys are errors, other fields inside `refundInfo` and the lines
/// pass through. The objects go on the wire as written (key order, number text), only
/// compacted: the signed POST body is `[refundInfo, detailMapList, createPreStockin]`.
/// Success: `{"ok":true,"status":0,"data":{"stockin_id":…,…}}`, `data` the gateway's verbatim.
/// Failure: an error envelope whose `delivery` says whether a resend is safe (docs/abi.md).
///
/// Returns a response envelope, never NULL, that the caller owns and must release exactly once
/// with `wdt_free_string`. A NULL or freed client, a NULL request, invalid UTF-8 or invalid JSON
/// gives an `invalid_argument` envelope and sends nothing. Blocks until the answer (at most
/// about `timeout_ms`, the library's own resends included). Thread-safe: many threads may use
/// the same client at once; a call still running when another thread frees the client
/// finishes normally.
///
/// # Safety
/// `client` is NULL or a client from `wdt_client_new`; `request_json` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wdt_smart_refund_upload(
    client: *mut WdtClient,
    request_json: *const c_char,
) -> *mut c_char {
    respond(|| {
        let client = live(client)?;
        let request = text(request_json, "request_json", Input::Request)?;
        Ok(dispatch::smart_refund_upload(&client, request))
    })
}

/// Calls any method of the flagship (旗舰版) open API: `request_json` is
/// `{"method":"...","args":[...],"pager":{"page_size":50,"page_no":0,"calc_total":true}}`.
/// `method`: a non-empty string without whitespace. `args`: the positional arguments (`[]` for
/// none), sent as the POST body. `pager`: optional (or null); `page_size` >= 1 and `page_no`
/// (from 0) required, `calc_total` true/false/1/0 (default false); added to the signed query.
/// Other top-level keys are errors. The methods the library knows are checked like the quick
/// return: `wms.stockin.SmartRefund.upload` takes exactly its three arguments (errors name
/// `args[0].tid`, `args[1][0].spec_no`…), the two after-sales queries need a pager and a time
/// window of at most 30 days. Success: `{"ok":true,"status":0,"data":…}`, plus `total_count`
/// next to `data` when the gateway gives one.
///
/// Same ownership, NULL and thread rules as `wdt_smart_refund_upload`: the returned envelope,
/// never NULL, is released with `wdt_free_string`.
///
/// # Safety
/// As for `wdt_smart_refund_upload`.
#[no_mangle]
pub unsafe extern "C" fn wdt_call(
    client: *mut WdtClient,
    request_json: *const c_char,
) -> *mut c_char {
    respond(|| {
        let client = live(client)?;
        let request = text(request_json, "request_json", Input::Request)?;
        Ok(dispatch::call(&client, request))
    })
}

/// Releases a client. NULL is a no-op. This must be the caller's last use of the pointer.
/// A call already running on another thread finishes normally: the client and its connections
/// are released when the last such call returns. Freeing a client twice is a caller error; the
/// library notices it (a line on stderr) and does nothing. A handle is never given out again,
/// so a freed one never reaches a client created later.
///
/// # Safety
/// `client` is NULL or a client from `wdt_client_new`.
#[no_mangle]
pub unsafe extern "C" fn wdt_client_free(client: *mut WdtClient) {
    if client.is_null() {
        return;
    }
    guard(|| match LIVE.release(client) {
        Some(inner) => drop(inner),
        None => misuse("wdt_client_free on a pointer that is not a live client (freed twice?)"),
    })
}

/// A function that receives the client's log lines: one line per attempt (method, outcome,
/// time taken, clock offset) and notes such as an ignored clock skew. `line` is UTF-8,
/// NUL-terminated, owned by the library and valid only during the call; it never contains the
/// secret half of `appsecret`; its format is for people and may change. It is called on the
/// thread that makes the call (or an outbox's worker thread), so it must be quick, must not
/// unwind or throw, and must not free this client.
pub type WdtLogCallback = Option<unsafe extern "C" fn(line: *const c_char, user_data: *mut c_void)>;

/// Sends this client's log lines to `callback` (with `user_data` passed back untouched), in
/// addition to stderr when the config says `"log": true`. A NULL `callback` turns it off.
/// The caller keeps `user_data` (and, in a managed language, the callback itself) alive until
/// the callback is turned off or the client is freed. Returns 0, or -1 when `client` is not a
/// live client. Thread-safe.
///
/// # Safety
/// `client` is NULL or a client from `wdt_client_new`; `callback` is NULL or a function that
/// may be called with `user_data` from any thread that uses the client.
#[no_mangle]
pub unsafe extern "C" fn wdt_client_set_log_callback(
    client: *mut WdtClient,
    callback: WdtLogCallback,
    user_data: *mut c_void,
) -> c_int {
    guard(|| {
        let Some(c) = lookup(client) else { return -1 };
        let sink = callback.map(|f| {
            let user_data = UserData(user_data);
            let sink: crate::client::LogSink = Arc::new(move |line: &str| {
                // A line with a NUL cannot be passed whole to C; it never has one, but cut there.
                let line = line.split('\0').next().unwrap_or_default();
                if let Ok(text) = CString::new(line) {
                    // SAFETY: the caller promised `f` may be called with its user_data from
                    // any thread using the client; `text` lives across the call.
                    unsafe { f(text.as_ptr(), user_data.get()) }
                }
            });
            sink
        });
        c.set_log_callback(sink);
        0
    })
}

/// The caller's `user_data`, handed back untouched. The caller promised the callback may be
/// called with it from any thread, which is what makes sending it across threads sound.
#[derive(Clone, Copy)]
struct UserData(*mut c_void);

impl UserData {
    fn get(self) -> *mut c_void {
        self.0
    }
}

// SAFETY: see `UserData`: the library never dereferences the pointer, it only passes it back.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

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
    // The static version string is the one pointer from this library that must not come back;
    // that mistake is cheap to recognise.
    if std::ptr::eq(s.cast_const(), VERSION.as_ptr().cast()) {
        misuse("wdt_free_string(wdt_version()): the version string is static");
        return;
    }
    guard(|| drop(CString::from_raw(s)))
}

/// The library version, e.g. "0.1.0". A static string: never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn wdt_version() -> *const c_char {
    VERSION.as_ptr().cast()
}
