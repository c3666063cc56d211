//! The outbox's exports (docs/outbox.md): same house rules as the client's. Every function
//! runs inside `guard`, pointers go through `text`, every returned string is an envelope the
//! caller releases with `wdt_free_string`.

use std::ffi::c_char;
use std::sync::Arc;

use super::registry::Registry;
use super::{guard, into_c, misuse, text, wdt_free_string, OnPanic};
use crate::envelope;
use crate::error::Error;
use crate::outbox::{self, Handle};
use crate::validate::Input;

/// An opaque outbox handle: a local SQLite file of quick returns plus its own client. Open it
/// with `wdt_outbox_open`, release it with `wdt_outbox_close`. One handle may be used from many
/// threads at once; several processes may open the same file.
pub struct WdtOutbox {
    /// Never made: a handle is a number from `OUTBOXES` (see `registry`), opaque to C and never
    /// dereferenced; this type only gives it a name in the header.
    _opaque: [u8; 0],
}

/// Every open outbox handle, by the same rule as the clients' (`registry`): a call holds its
/// own reference, so `wdt_outbox_close` during a call on another thread only drops the handle,
/// and a closed or foreign pointer is never touched.
static OUTBOXES: Registry<WdtOutbox, Handle> = Registry::new();

/// Opens (creating if missing) the outbox named by `options_json`
/// (`{"path":"…","marker":true,"settle_ms":300000,"lease_ms":60000,"worker_interval_ms":0}`):
/// a SQLite file (`path`), or a shared MySQL/MariaDB or PostgreSQL database (`store`, a
/// `mysql://` or `postgres://` URL, with `store_password` or `store_password_env`; Linux
/// builds only), exactly one of the two. Its own client is built from `client_config_json`
/// (the JSON of `wdt_client_new`). `lease_ms` must exceed the client's `timeout_ms`.
///
/// Returns NULL on failure; then, when `error_json` is not NULL, `*error_json` receives an
/// error envelope (kind "config": bad options, or a file or database that cannot be an outbox;
/// kind "storage": a database that is unreachable, too old or read-only) that the
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
    let opened: Result<Handle, Error> = guard(|| {
        let config = text(client_config_json, "client_config_json", Input::Config)?;
        let options = text(options_json, "options_json", Input::Config)?;
        Handle::open(config, options)
    });
    guard(|| {
        let (handle, error) = match opened {
            Ok(inner) => (OUTBOXES.register(inner), std::ptr::null_mut()),
            Err(e) => (std::ptr::null_mut(), into_c(envelope::error(&e))),
        };
        if error_json.is_null() {
            wdt_free_string(error);
        } else {
            *error_json = error;
        }
        handle
    })
}

impl OnPanic for *mut WdtOutbox {
    fn on_panic(_: String) -> Self {
        std::ptr::null_mut()
    }
}

/// Runs an outbox call inside the panic boundary: its data in an `ok` envelope, or its error's.
fn answer(f: impl FnOnce() -> Result<serde_json::Value, Error>) -> *mut c_char {
    guard(|| {
        into_c(match f() {
            Ok(data) => envelope::data(data),
            Err(e) => envelope::error(&e),
        })
    })
}

/// The live outbox behind a handle, or `invalid_argument`.
fn live(outbox: *mut WdtOutbox) -> Result<Arc<Handle>, Error> {
    OUTBOXES.lookup(outbox).ok_or_else(|| {
        Error::invalid(if outbox.is_null() {
            "outbox is NULL"
        } else {
            "outbox is not a live outbox (already closed with wdt_outbox_close?)"
        })
    })
}

/// Stores one quick return durably, then (unless `"defer": true`) tries to deliver it now,
/// within the client's timeout. `submit_json` is
/// `{"id":"POS-20261130-0042","request":{"refundInfo":{…},"detailMapList":[…],"createPreStockin":false},"defer":false}`
/// (`id` optional, at most 64 of `A-Z a-z 0-9 . _ : -`). An invalid request stores nothing
/// (`invalid_argument`, field under `request.`); so does a `refundInfo.remark` containing `[wdt:`
/// (the outbox's marker syntax). An `id` that exists with the same request returns that entry as
/// it stands and sends nothing; with a different request it is `invalid_argument` (field `id`,
/// "already used for a different return") and nothing is stored or sent. Otherwise the
/// envelope's `data` is the entry; a failed delivery is not an error (the entry says `pending`
/// or `in_doubt`). Kind `storage`: the file could not be written (full disk, read-only, the
/// write lock held too long): `delivery` `not_sent` when nothing was sent; `unknown`, with
/// `entry_id`, when the request may have reached the ERP and its outcome could not be recorded
/// (the entry is then reconciled; do not submit the return again under another id).
///
/// Returns an envelope the caller releases with `wdt_free_string`. A NULL outbox, or one already
/// closed with `wdt_outbox_close`, gives an `invalid_argument` envelope and stores nothing.
/// Thread-safe: many threads may use the same outbox at once; a call still running when
/// another thread closes the outbox finishes normally.
///
/// # Safety
/// `outbox` is NULL or a handle from `wdt_outbox_open`; `submit_json` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wdt_outbox_submit(
    outbox: *mut WdtOutbox,
    submit_json: *const c_char,
) -> *mut c_char {
    answer(|| {
        let o = live(outbox)?;
        let s = text(submit_json, "submit_json", Input::Request)?;
        o.outbox.submit(s)
    })
}

/// One entry by id, with its `history` (every attempt and query, with time and outcome). Every
/// entry carries `hint` (what the cashier does in its state) and `next_check_ms` (for an
/// `in_doubt` entry, the earliest time the outbox asks the ERP about it; otherwise null).
/// An unknown id is `invalid_argument` (field "id"). Envelope released with
/// `wdt_free_string`. Same NULL, closed-outbox and thread rules as `wdt_outbox_submit`.
///
/// # Safety
/// `outbox` is NULL or a handle from `wdt_outbox_open`; `id` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wdt_outbox_get(outbox: *mut WdtOutbox, id: *const c_char) -> *mut c_char {
    answer(|| {
        let o = live(outbox)?;
        let i = text(id, "id", Input::Request)?;
        o.outbox.get(i)
    })
}

/// Entries in submit order, filtered and paged by `filter_json`
/// (`{"state":"in_doubt","limit":100,"after":"<id>"}`, all optional, `limit` 1–1000, default
/// 100; NULL means none). The envelope's `data` is `{"entries":[…],"next_after":"<id>"|null}`
/// (an entry's fields: docs/outbox.md). Released with
/// `wdt_free_string`. Same NULL, closed-outbox and thread rules as `wdt_outbox_submit`.
///
/// # Safety
/// `outbox` is NULL or a handle from `wdt_outbox_open`; `filter_json` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wdt_outbox_list(
    outbox: *mut WdtOutbox,
    filter_json: *const c_char,
) -> *mut c_char {
    answer(|| {
        let o = live(outbox)?;
        let filter = if filter_json.is_null() {
            None
        } else {
            Some(text(filter_json, "filter_json", Input::Request)?)
        };
        o.outbox.list(filter)
    })
}

/// Works through undelivered entries now (`{"max_entries":N,"budget_ms":M}`, both optional;
/// NULL means none): in-doubt entries past their settle delay are reconciled with the ERP
/// first, pending ones are sent. Blocks while it works. The envelope's `data` is
/// `{"delivered":…,"rejected":…,"in_doubt":…,"pending":…,"needs_attention":…,"blocked":…}`:
/// what this flush delivered and rejected, how many entries are left in each open state, and
/// `blocked`: null, or `{"kind":"api","status":N,"message":"…"}` when the gateway refused the
/// account's configuration (status 1, 2, 3, 6, 7 or 8: sign, appkey, sid, IP whitelist,
/// timestamp…) rather than a return; the flush then stopped and left the entries as they were.
/// A flush also stops early when an attempt shows the network is down (`not_sent`).
/// Kind `storage` with `delivery` `unknown` and `entry_id`: an entry was sent and its outcome
/// could not be recorded (it is reconciled by a later flush). Released
/// with `wdt_free_string`. Same NULL, closed-outbox and thread rules as `wdt_outbox_submit`
/// (a flush running when the outbox is closed finishes its work); processes sharing the file
/// never send one entry twice.
///
/// # Safety
/// `outbox` is NULL or a handle from `wdt_outbox_open`; `options_json` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wdt_outbox_flush(
    outbox: *mut WdtOutbox,
    options_json: *const c_char,
) -> *mut c_char {
    answer(|| {
        let o = live(outbox)?;
        let opts = if options_json.is_null() {
            None
        } else {
            Some(text(options_json, "options_json", Input::Request)?)
        };
        o.outbox.flush(opts).map(|c| outbox::counts_json(&c))
    })
}

/// Stops the background worker (waiting for a flush of its own in progress) and releases the
/// handle; entries stay in the file. NULL is a no-op. This must be the caller's last use of the
/// pointer. A call already running on another thread (a flush, a submit) finishes normally: the
/// file and the outbox's connections are released when the last such call returns. A call
/// with a closed handle gets an `invalid_argument` envelope; closing twice is a caller error
/// the library notices (a line on stderr) and ignores. A handle is never given out again, so a
/// closed one never reaches a new outbox.
///
/// # Safety
/// `outbox` is NULL or a handle from `wdt_outbox_open`.
#[no_mangle]
pub unsafe extern "C" fn wdt_outbox_close(outbox: *mut WdtOutbox) {
    if outbox.is_null() {
        return;
    }
    guard(|| match OUTBOXES.release(outbox) {
        // The worker stops now, not when the last running call lets go of the outbox: a
        // close must not leave a thread sending in the background.
        Some(handle) => handle.close(),
        None => misuse("wdt_outbox_close on a pointer that is not a live outbox (closed twice?)"),
    })
}
