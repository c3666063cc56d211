//! The outbox's exports (docs/outbox.md): same house rules as the client's. Every function
//! runs inside `guard`, pointers go through `text`, every returned string is an envelope the
//! caller releases with `wdt_free_string`.

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{guard, text, wdt_free_string};
use crate::envelope;
use crate::error::Error;
use crate::outbox::{self, Handle};

/// An opaque outbox handle: a local SQLite file of quick returns plus its own client. Open it
/// with `wdt_outbox_open`, release it with `wdt_outbox_close`. One handle may be used from many
/// threads at once; several processes may open the same file.
pub struct WdtOutbox {
    inner: Handle,
}

fn null_outbox() -> String {
    envelope::error(&Error::invalid("", "invalid argument: outbox is NULL"))
}

/// Opens (creating if missing) the outbox file named by `options_json`
/// (`{"path":"…","marker":true,"settle_ms":300000,"lease_ms":60000,"worker_interval_ms":0}`,
/// only `path` required), with its own client built from `client_config_json` (the JSON of
/// `wdt_client_new`). `lease_ms` must exceed the client's `timeout_ms`.
///
/// Returns NULL on failure; then, when `error_json` is not NULL, `*error_json` receives an
/// error envelope (kind "config": bad options or a file that cannot be an outbox) that the
/// caller releases with `wdt_free_string`. On success `*error_json` is set to NULL. The handle
/// is released exactly once with `wdt_outbox_close`. May be called from any thread.
///
/// # Safety
/// Both JSON arguments are NULL or NUL-terminated strings; `error_json` is NULL or points to a
/// writable `char *`.
#[no_mangle]
pub unsafe extern "C" fn wdt_outbox_open(
    client_config_json: *const c_char,
    options_json: *const c_char,
    error_json: *mut *mut c_char,
) -> *mut WdtOutbox {
    if !error_json.is_null() {
        *error_json = std::ptr::null_mut();
    }
    let mut handle: *mut WdtOutbox = std::ptr::null_mut();
    let out = &mut handle;
    let err = guard(|| {
        let opened = text(client_config_json, "client_config_json", true)
            .and_then(|c| text(options_json, "options_json", true).map(|o| (c, o)))
            .map_err(outbox::Fail::Lib)
            .and_then(|(c, o)| Handle::open(c, o));
        match opened {
            Ok(inner) => {
                *out = Box::into_raw(Box::new(WdtOutbox { inner }));
                String::new()
            }
            Err(f) => f.envelope(),
        }
    });
    if handle.is_null() && !error_json.is_null() {
        *error_json = err;
    } else {
        wdt_free_string(err);
    }
    handle
}

/// Stores one quick return durably, then (unless `"defer": true`) tries to deliver it now,
/// within the client's timeout. `submit_json` is
/// `{"id":"POS-20261130-0042","request":{"refundInfo":{…},"detailMapList":[…],"createPreStockin":false},"defer":false}`
/// (`id` optional, at most 64 of `A-Z a-z 0-9 . _ : -`). An invalid request stores nothing
/// (`invalid_argument`, field under `request.`). An `id` that exists returns that entry
/// unchanged and sends nothing. Otherwise the envelope's `data` is the entry; a failed delivery
/// is not an error (the entry says `pending` or `in_doubt`). Kind `storage`: the file could not
/// be written (full disk, read-only); nothing was sent.
///
/// Returns an envelope the caller releases with `wdt_free_string`. Thread-safe.
///
/// # Safety
/// `outbox` is NULL or a live handle from `wdt_outbox_open`; `submit_json` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wdt_outbox_submit(
    outbox: *mut WdtOutbox,
    submit_json: *const c_char,
) -> *mut c_char {
    guard(|| match outbox.as_ref() {
        None => null_outbox(),
        Some(o) => match text(submit_json, "submit_json", false)
            .map_err(outbox::Fail::Lib)
            .and_then(|s| o.inner.outbox.submit(s))
        {
            Ok(entry) => outbox::ok(entry),
            Err(f) => f.envelope(),
        },
    })
}

/// One entry by id, with its `history` (every attempt and query, with time and outcome).
/// An unknown id is `invalid_argument` (field "id"). Envelope released with
/// `wdt_free_string`. Thread-safe.
///
/// # Safety
/// `outbox` is NULL or a live handle; `id` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wdt_outbox_get(outbox: *mut WdtOutbox, id: *const c_char) -> *mut c_char {
    guard(|| match outbox.as_ref() {
        None => null_outbox(),
        Some(o) => match text(id, "id", false)
            .map_err(outbox::Fail::Lib)
            .and_then(|i| o.inner.outbox.get(i))
        {
            Ok(entry) => outbox::ok(entry),
            Err(f) => f.envelope(),
        },
    })
}

/// Entries in submit order, filtered and paged by `filter_json`
/// (`{"state":"in_doubt","limit":100,"after":"<id>"}`, all optional; NULL means none). The
/// envelope's `data` is `{"entries":[…],"next_after":"<id>"|null}`. Released with
/// `wdt_free_string`. Thread-safe.
///
/// # Safety
/// `outbox` is NULL or a live handle; `filter_json` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wdt_outbox_list(
    outbox: *mut WdtOutbox,
    filter_json: *const c_char,
) -> *mut c_char {
    guard(|| match outbox.as_ref() {
        None => null_outbox(),
        Some(o) => {
            let filter = if filter_json.is_null() {
                Ok(None)
            } else {
                text(filter_json, "filter_json", false).map(Some)
            };
            match filter
                .map_err(outbox::Fail::Lib)
                .and_then(|f| o.inner.outbox.list(f))
            {
                Ok(data) => outbox::ok(data),
                Err(f) => f.envelope(),
            }
        }
    })
}

/// Works through undelivered entries now (`{"max_entries":N,"budget_ms":M}`, both optional;
/// NULL means none): in-doubt entries past their settle delay are reconciled with the ERP
/// first, pending ones are sent. Blocks while it works. The envelope's `data` is
/// `{"delivered":…,"rejected":…,"in_doubt":…,"pending":…,"needs_attention":…}`: what this
/// flush delivered and rejected, and how many entries are left in each open state. Released
/// with `wdt_free_string`. Thread-safe; processes sharing the file never send one entry twice.
///
/// # Safety
/// `outbox` is NULL or a live handle; `options_json` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wdt_outbox_flush(
    outbox: *mut WdtOutbox,
    options_json: *const c_char,
) -> *mut c_char {
    guard(|| match outbox.as_ref() {
        None => null_outbox(),
        Some(o) => {
            let opts = if options_json.is_null() {
                Ok(None)
            } else {
                text(options_json, "options_json", false).map(Some)
            };
            match opts
                .map_err(outbox::Fail::Lib)
                .and_then(|f| o.inner.outbox.flush(f))
            {
                Ok(c) => outbox::ok(outbox::counts_json(&c)),
                Err(f) => f.envelope(),
            }
        }
    })
}

/// Stops the background worker (waiting for a flush in progress) and releases the handle;
/// entries stay in the file. NULL is a no-op. No other thread may use the handle during or
/// after the call.
///
/// # Safety
/// `outbox` is NULL or a handle from `wdt_outbox_open` not closed before.
#[no_mangle]
pub unsafe extern "C" fn wdt_outbox_close(outbox: *mut WdtOutbox) {
    if outbox.is_null() {
        return;
    }
    let owned = Box::from_raw(outbox);
    let _ = catch_unwind(AssertUnwindSafe(move || owned.inner.close()));
}
