//! The outbox's JSON model (docs/outbox.md): the open options, the submit request, the flush
//! and list filters, and the entry as callers see it. Parsing is strict like the client config:
//! an unknown key is an error naming it, so a typo never silently becomes a default.

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::request::{self, Prepared};
use crate::validate::{self, Input};

/// How long after an `unknown` attempt the ERP must keep not showing the return before it may
/// be sent again: longer than any HTTP timeout between the till and the ERP (proxies commonly
/// give up after 60 s) plus the ERP's own queueing, so a request still in the gateway's hands
/// cannot be overtaken by its resend. Waiting longer only delays a return that was really lost.
pub(crate) const DEFAULT_SETTLE_MS: u64 = 300_000;
/// How long one process may hold an entry it is working on. It must outlast one call to the
/// gateway (the client's `timeout_ms`, 30 s by default) or a second process could take over an
/// entry whose request is still on the wire; twice that default leaves room for slow disks.
pub(crate) const DEFAULT_LEASE_MS: u64 = 60_000;
/// docs/outbox.md: tests use sub-second values, nothing below this makes sense.
pub(crate) const MIN_MS: u64 = 100;
pub(crate) const MAX_ID_LEN: usize = 64;
/// The gateway's limit for refundInfo.remark, in UTF-16 units (docs/protocol.md).
pub(crate) const REMARK_LIMIT: usize = 255;

/// The state of an entry (docs/outbox.md), stored as its name in the `state` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Pending,
    InDoubt,
    Delivered,
    Rejected,
    NeedsAttention,
}

impl State {
    pub(crate) const ALL: [State; 5] = [
        State::Pending,
        State::InDoubt,
        State::Delivered,
        State::Rejected,
        State::NeedsAttention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::InDoubt => "in_doubt",
            State::Delivered => "delivered",
            State::Rejected => "rejected",
            State::NeedsAttention => "needs_attention",
        }
    }

    pub fn parse(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl rusqlite::types::ToSql for State {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for State {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let name = v.as_str()?;
        State::parse(name).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown entry state {name:?}").into())
        })
    }
}

/// Where the outbox keeps its entries.
#[derive(Clone, PartialEq)]
pub enum StoreAt {
    /// A till's SQLite file (`path`).
    File(String),
    /// A shared MySQL/MariaDB or PostgreSQL database (`store`): the URL as given (a password in
    /// it stays there, for the driver), and the password from `store_password` or
    /// `store_password_env`.
    Server {
        url: String,
        password: Option<String>,
    },
}

/// The password never shows, whatever prints the options.
impl std::fmt::Debug for StoreAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreAt::File(p) => f.debug_tuple("File").field(p).finish(),
            StoreAt::Server { url, password } => f
                .debug_struct("Server")
                .field("url", &masked(url))
                .field("password", &password.as_ref().map(|_| "***"))
                .finish(),
        }
    }
}

/// The schemes `store` takes.
pub(crate) const SERVER_SCHEMES: &[&str] = &["mysql", "mariadb", "postgres", "postgresql"];

/// The URL with its password (in the user part or a `password=` parameter) replaced by `***`,
/// for Debug strings, logs and messages. Anything that is not a `scheme://` URL is shown as
/// `***` whole: a `key=value` connection string may hold a password anywhere.
pub fn masked(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return "***".to_owned();
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..rest_start]);
    // The user part ends at the last '@' of the authority (a password may contain '@' when
    // not percent-encoded, as people write it).
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let tail = &rest[authority_len..];
    match tail.find('?') {
        Some(q) => {
            out.push_str(&tail[..=q]);
            let (query, fragment) = match tail[q + 1..].find('#') {
                Some(h) => (&tail[q + 1..q + 1 + h], &tail[q + 1 + h..]),
                None => (&tail[q + 1..], ""),
            };
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| {
                    let key = pair.split('=').next().unwrap_or("");
                    if key.eq_ignore_ascii_case("password") || key.eq_ignore_ascii_case("pass") {
                        format!("{key}=***")
                    } else {
                        pair.to_owned()
                    }
                })
                .collect();
            out.push_str(&pairs.join("&"));
            out.push_str(fragment);
        }
        None => out.push_str(tail),
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub store: StoreAt,
    pub marker: bool,
    pub settle_ms: u64,
    pub lease_ms: u64,
    pub worker_interval_ms: u64,
}

pub(crate) const OPTION_KEYS: &[&str] = &[
    "path",
    "store",
    "store_password",
    "store_password_env",
    "marker",
    "settle_ms",
    "lease_ms",
    "worker_interval_ms",
];

fn config_err(field: &str, message: impl std::fmt::Display) -> Error {
    Error::config_at(field, message)
}

fn object(text: &str, what: &str, config: bool) -> Result<Map<String, Value>, Error> {
    let input = if config {
        Input::Config
    } else {
        Input::Request
    };
    validate::parse_object(text, what, input)
}

fn unknown_key(map: &Map<String, Value>, known: &[&str]) -> Option<String> {
    map.keys().find(|k| !known.contains(&k.as_str())).cloned()
}

impl Options {
    pub fn from_json(text: &str) -> Result<Options, Error> {
        let map = object(text, "options_json", true)?;
        if let Some(key) = unknown_key(&map, OPTION_KEYS) {
            return Err(config_err(
                &key,
                format_args!(
                    "unknown outbox option {key:?} (known: {})",
                    OPTION_KEYS.join(", ")
                ),
            ));
        }
        let store = store_at(&map)?;
        let marker = match map.get("marker") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(config_err("marker", "marker must be true or false")),
        };
        let ms = |key: &str, default: u64, min: u64| -> Result<u64, Error> {
            match map.get(key) {
                None => Ok(default),
                Some(Value::Number(n)) => match n.as_u64() {
                    Some(v) if v >= min && v <= 7 * 86_400_000 => Ok(v),
                    _ => Err(config_err(
                        key,
                        format_args!("{key} must be a whole number from {min} to 604800000"),
                    )),
                },
                Some(_) => Err(config_err(key, format_args!("{key} must be a number"))),
            }
        };
        Ok(Options {
            store,
            marker,
            settle_ms: ms("settle_ms", DEFAULT_SETTLE_MS, MIN_MS)?,
            lease_ms: ms("lease_ms", DEFAULT_LEASE_MS, MIN_MS)?,
            worker_interval_ms: match ms("worker_interval_ms", 0, 0)? {
                v @ 1..=99 => {
                    return Err(config_err(
                        "worker_interval_ms",
                        format_args!("worker_interval_ms must be 0 (off) or at least 100, not {v}"),
                    ))
                }
                v => v,
            },
        })
    }
}

fn text_option<'a>(map: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Error> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(p)) if !p.trim().is_empty() => Ok(Some(p)),
        Some(Value::String(_)) => Err(config_err(key, format_args!("{key} is empty"))),
        Some(_) => Err(config_err(key, format_args!("{key} must be a string"))),
    }
}

/// `path` (a SQLite file) or `store` (a server URL), exactly one; a server's password from one
/// place only, so it is clear which one is used.
fn store_at(map: &Map<String, Value>) -> Result<StoreAt, Error> {
    let path = text_option(map, "path")?;
    let store = text_option(map, "store")?;
    let given = text_option(map, "store_password")?;
    let env = text_option(map, "store_password_env")?;
    let url = match (path, store) {
        (Some(_), Some(_)) => {
            return Err(config_err(
                "store",
                "give either path (a SQLite file) or store (a server database), not both",
            ))
        }
        (Some(p), None) => {
            if let Some(key) = [("store_password", given), ("store_password_env", env)]
                .iter()
                .find_map(|(k, v)| v.map(|_| *k))
            {
                return Err(config_err(
                    key,
                    format_args!("{key} is for a server store; path is a SQLite file"),
                ));
            }
            return Ok(StoreAt::File(p.to_owned()));
        }
        (None, Some(u)) => u,
        (None, None) => {
            return Err(config_err(
                "path",
                "path is required (the outbox's SQLite file), or store (a server database URL)",
            ))
        }
    };
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !scheme
        .as_deref()
        .is_some_and(|s| SERVER_SCHEMES.contains(&s))
    {
        return Err(config_err(
            "store",
            "store must be a URL like mysql://user@host:3306/db or postgres://user@host:5432/db",
        ));
    }
    // Masking changes the URL exactly when it carries a password (user part or parameter).
    let in_url = masked(url) != url;
    let from_env = match env {
        Some(name) => match std::env::var(name) {
            Ok(v) if !v.is_empty() => Some(v),
            _ => {
                return Err(config_err(
                    "store_password_env",
                    format_args!("the environment variable {name:?} is not set or empty"),
                ))
            }
        },
        None => None,
    };
    let sources = [in_url, given.is_some(), from_env.is_some()];
    if sources.iter().filter(|s| **s).count() > 1 {
        return Err(config_err(
            "store_password",
            "give the database password in one place only: the store URL, store_password or store_password_env",
        ));
    }
    Ok(StoreAt::Server {
        url: url.to_owned(),
        password: given.map(str::to_owned).or(from_env),
    })
}

/// A validated submit: the entry id, the exact call to send (marker included) and the fields
/// reconciliation matches on.
#[derive(Debug, Clone)]
pub struct Submit {
    pub id: Option<String>,
    pub request: Map<String, Value>,
    pub defer: bool,
}

pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

pub fn check_id(id: &str, field: &str) -> Result<(), Error> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(Error::invalid_at(
            field,
            format_args!("{field} must be 1 to {MAX_ID_LEN} characters of A-Z a-z 0-9 . _ : -"),
        ))
    }
}

impl Submit {
    pub fn from_json(text: &str) -> Result<Submit, Error> {
        let map = object(text, "submit_json", false)?;
        if let Some(key) = unknown_key(&map, &["id", "request", "defer"]) {
            return Err(Error::invalid_at(
                key.as_str(),
                format_args!("unknown key {key:?}, expected id, request, defer"),
            ));
        }
        let id = match map.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                check_id(s, "id")?;
                Some(s.clone())
            }
            Some(_) => return Err(Error::invalid_at("id", "id must be a string")),
        };
        let request = match map.get("request") {
            Some(Value::Object(r)) => r.clone(),
            Some(_) => {
                return Err(Error::invalid_at(
                    "request",
                    "request must be a json object (the quick return)",
                ))
            }
            None => {
                return Err(Error::invalid_at(
                    "request",
                    "request is required (the quick return)",
                ))
            }
        };
        let defer = match map.get("defer") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Error::invalid_at("defer", "defer must be true or false")),
        };
        // Validated here, before an id exists, so an invalid return is refused whatever else.
        prefixed(request::smart_refund(&request))?;
        let remark = request
            .get("refundInfo")
            .and_then(|i| i.get("remark"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if remark.contains(MARKER_OPEN) {
            return Err(Error::invalid_at(
                "request.refundInfo.remark",
                format_args!(
                    "refundInfo.remark may not contain {MARKER_OPEN:?}: the outbox marks its returns with it"
                ),
            ));
        }
        Ok(Submit { id, request, defer })
    }
}

/// Field paths of the quick return, under `request.` as the submit JSON nests them.
fn prefixed<T>(r: Result<T, Error>) -> Result<T, Error> {
    r.map_err(|e| match e {
        Error::InvalidArgument { field, message } => Error::InvalidArgument {
            field: Some(match field {
                Some(f) => format!("request.{f}"),
                None => "request".to_owned(),
            }),
            message,
        },
        other => other,
    })
}

/// What opens a correlation marker. Callers may not write it in a remark: a marker the outbox
/// did not write could make another entry look delivered.
pub(crate) const MARKER_OPEN: &str = "[wdt:";

/// The correlation marker: `[wdt:<file tag>:<id>]`. The tag is this outbox file's (random,
/// lowercase hex): caller ids are per shop, so two tills' files hold the same ids, and only
/// the tag tells their refund orders apart. `]` cannot occur in an id or a tag, so the token's
/// end is unambiguous.
pub fn marker_for(tag: &str, id: &str) -> String {
    format!("{MARKER_OPEN}{tag}:{id}]")
}

/// The marker of entries made before files had a tag; they carried it at the end of the
/// remark, and reconciliation still recognises it for them.
#[cfg(test)]
pub fn legacy_marker_for(id: &str) -> String {
    format!("{MARKER_OPEN}{id}]")
}

/// The call to send: the caller's return, with the marker opening refundInfo.remark when
/// markers are on (where a remark cut at the gateway's limit cannot reach it), validated again
/// so the marker can never push the remark past the limit unnoticed.
pub fn prepare(request: &Map<String, Value>, marker: Option<&str>) -> Result<Prepared, Error> {
    with_marker(request, marker, false)
}

/// As entries made before the file tag were sent: the marker at the end of the remark. Only
/// to recognise a re-submit of such an entry.
pub fn prepare_legacy(
    request: &Map<String, Value>,
    marker: Option<&str>,
) -> Result<Prepared, Error> {
    with_marker(request, marker, true)
}

fn with_marker(
    request: &Map<String, Value>,
    marker: Option<&str>,
    at_end: bool,
) -> Result<Prepared, Error> {
    let Some(marker) = marker else {
        return prefixed(request::smart_refund(request));
    };
    let mut with = request.clone();
    let remark = with
        .get("refundInfo")
        .and_then(|i| i.get("remark"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let new = match (remark.is_empty(), at_end) {
        (true, _) => marker.to_owned(),
        (false, false) => format!("{marker} {remark}"),
        (false, true) => format!("{remark} {marker}"),
    };
    let units = new.encode_utf16().count();
    if units > REMARK_LIMIT {
        let own = remark.encode_utf16().count();
        return Err(Error::invalid_at(
            "request.refundInfo.remark",
            format_args!(
                "refundInfo.remark is {own} characters long; with the outbox's correlation marker {marker:?} it would be {units}, at most {REMARK_LIMIT} (UTF-16 units): shorten the remark or open the outbox with \"marker\": false"
            ),
        ));
    }
    if let Some(Value::Object(info)) = with.get_mut("refundInfo") {
        info.insert("remark".into(), Value::String(new));
    }
    prefixed(request::smart_refund(&with))
}

/// The caller's request in one spelling whatever its key order, to tell "the same return
/// again" from "another return under a used id".
pub fn canonical(request: &Map<String, Value>) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(&Value::Object(request.clone())).to_string()
}

/// Flush options: `{"max_entries": N, "budget_ms": M}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlushOptions {
    pub max_entries: Option<u64>,
    pub budget_ms: Option<u64>,
}

fn opt_u64(map: &Map<String, Value>, key: &str, min: u64) -> Result<Option<u64>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v >= min => Ok(Some(v)),
            _ => Err(Error::invalid_at(
                key,
                format_args!("{key} must be a whole number of at least {min}"),
            )),
        },
        Some(_) => Err(Error::invalid_at(
            key,
            format_args!("{key} must be a number"),
        )),
    }
}

/// NULL or "" means no options.
fn object_or_empty(text: Option<&str>, what: &str) -> Result<Map<String, Value>, Error> {
    match text {
        None => Ok(Map::new()),
        Some(t) if t.trim().is_empty() => Ok(Map::new()),
        Some(t) => object(t, what, false),
    }
}

impl FlushOptions {
    pub fn from_json(text: Option<&str>) -> Result<FlushOptions, Error> {
        let map = object_or_empty(text, "options_json")?;
        if let Some(key) = unknown_key(&map, &["max_entries", "budget_ms"]) {
            return Err(Error::invalid_at(
                key.as_str(),
                format_args!("unknown key {key:?}, expected max_entries, budget_ms"),
            ));
        }
        Ok(FlushOptions {
            max_entries: opt_u64(&map, "max_entries", 1)?,
            budget_ms: opt_u64(&map, "budget_ms", 0)?,
        })
    }
}

/// List filter: `{"state": "in_doubt", "limit": 100, "after": "<id>"}`.
#[derive(Debug, Clone)]
pub struct ListFilter {
    pub state: Option<State>,
    pub limit: u64,
    pub after: Option<String>,
}

pub(crate) const MAX_LIST_LIMIT: u64 = 1000;

impl ListFilter {
    pub fn from_json(text: Option<&str>) -> Result<ListFilter, Error> {
        let map = object_or_empty(text, "filter_json")?;
        if let Some(key) = unknown_key(&map, &["state", "limit", "after"]) {
            return Err(Error::invalid_at(
                key.as_str(),
                format_args!("unknown key {key:?}, expected state, limit, after"),
            ));
        }
        let state = match map.get("state") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if State::parse(s).is_some() => State::parse(s),
            Some(_) => {
                let names: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
                return Err(Error::invalid_at(
                    "state",
                    format_args!("state must be one of {}", names.join(", ")),
                ));
            }
        };
        let limit = opt_u64(&map, "limit", 1)?.unwrap_or(100);
        if limit > MAX_LIST_LIMIT {
            return Err(Error::invalid_at(
                "limit",
                format_args!("limit is at most {MAX_LIST_LIMIT}"),
            ));
        }
        let after = match map.get("after") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                check_id(s, "after")?;
                Some(s.clone())
            }
            Some(_) => return Err(Error::invalid_at("after", "after must be a string")),
        };
        Ok(ListFilter {
            state,
            limit,
            after,
        })
    }
}

/// One entry as stored, rendered for callers.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub state: State,
    pub tid: String,
    pub attempts: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub result: Option<Value>,
    pub error: Option<Value>,
    /// An attempt started and its outcome is not recorded yet.
    pub in_flight: bool,
    pub lease_until_ms: Option<i64>,
    pub settle_at_ms: Option<i64>,
}

impl Entry {
    /// When the outbox asks the ERP about an in-doubt entry next, at the earliest (the first
    /// flush from then on does): the end of its settle delay, or, while an attempt is in
    /// flight, the end of its lease plus the settle delay that follows it. None for every
    /// other state.
    pub fn next_check_ms(&self, settle_ms: u64) -> Option<i64> {
        if self.state != State::InDoubt {
            return None;
        }
        let settle = i64::try_from(settle_ms).unwrap_or(i64::MAX);
        if self.in_flight {
            self.lease_until_ms.map(|l| l.saturating_add(settle))
        } else {
            self.settle_at_ms
        }
    }

    pub fn to_json(&self, history: Option<Vec<Value>>, settle_ms: u64) -> Value {
        let hint = crate::hint::outbox_state(self.state.as_str());
        let mut v = json!({
            "id": self.id,
            "state": self.state.as_str(),
            "attempts": self.attempts,
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
            "tid": self.tid,
            "hint": hint,
            "next_check_ms": self.next_check_ms(settle_ms),
        });
        if let Some(r) = &self.result {
            v["result"] = r.clone();
        }
        if let Some(e) = &self.error {
            v["error"] = e.clone();
            // The last attempt's own hint speaks to a caller who sent once ("query before any
            // resend"); while the outbox still owns the entry, what the cashier does is the
            // entry's hint, so that is the one it carries.
            if matches!(self.state, State::Pending | State::InDoubt) {
                if let Some(obj) = v["error"].as_object_mut() {
                    if obj.contains_key("hint") {
                        obj.insert("hint".into(), Value::from(hint));
                    }
                }
            }
        }
        if let Some(h) = history {
            v["history"] = Value::Array(h);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_its_own_cashier_hint() {
        let hints: Vec<_> = crate::hint::OUTBOX_STATES.iter().map(|r| r.0).collect();
        let states: Vec<_> = State::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(hints, states);
        let mut seen = std::collections::HashSet::new();
        for s in State::ALL {
            assert!(seen.insert(crate::hint::outbox_state(s.as_str())), "{s:?}");
        }
    }

    fn req(remark: &str) -> Map<String, Value> {
        json!({"refundInfo": {"tid": "t1", "return_warehouse_no": "pos", "remark": remark},
               "detailMapList": [{"spec_no": "A", "stockin_num": 1, "remark": ""}],
               "createPreStockin": false})
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn the_hints_know_the_outbox_options() {
        assert_eq!(OPTION_KEYS, crate::hint::OUTBOX_OPTIONS);
    }

    #[test]
    fn options_defaults_and_errors() {
        let o = Options::from_json(r#"{"path":"/tmp/x.db"}"#).unwrap();
        assert_eq!(
            (o.marker, o.settle_ms, o.lease_ms, o.worker_interval_ms),
            (true, DEFAULT_SETTLE_MS, DEFAULT_LEASE_MS, 0)
        );
        for (bad, field) in [
            (r#"{}"#, "path"),
            (r#"{"path":""}"#, "path"),
            (r#"{"path":"x","settle_ms":99}"#, "settle_ms"),
            (r#"{"path":"x","lease_ms":-1}"#, "lease_ms"),
            (r#"{"path":"x","marker":1}"#, "marker"),
            (
                r#"{"path":"x","worker_interval_ms":5}"#,
                "worker_interval_ms",
            ),
            (r#"{"path":"x","setle_ms":500}"#, "setle_ms"),
        ] {
            match Options::from_json(bad) {
                Err(Error::Config { field: Some(f), .. }) => assert_eq!(f, field, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn store_options_keep_the_password_out_of_sight() {
        let o =
            Options::from_json(r#"{"store":"mysql://wdt:s%40cret@127.0.0.1:3306/shop"}"#).unwrap();
        assert_eq!(
            o.store,
            StoreAt::Server {
                url: "mysql://wdt:s%40cret@127.0.0.1:3306/shop".into(),
                password: None
            }
        );
        let shown = format!("{o:?}");
        assert!(!shown.contains("cret"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
        let o = Options::from_json(r#"{"store":"postgres://wdt@db/shop?password=hidden-one"}"#)
            .unwrap();
        assert!(!format!("{o:?}").contains("hidden-one"), "{o:?}");
        std::env::set_var("WDT_MODEL_TEST_DB_PW", "from-env");
        let o = Options::from_json(
            r#"{"store":"postgres://wdt@db/shop","store_password_env":"WDT_MODEL_TEST_DB_PW"}"#,
        )
        .unwrap();
        assert!(
            matches!(o.store, StoreAt::Server { password: Some(ref p), .. } if p == "from-env")
        );
        assert!(!format!("{o:?}").contains("from-env"));
        for (bad, field) in [
            (r#"{"path":"x","store":"mysql://h/db"}"#, "store"),
            (r#"{"store":"sqlite:///x.db"}"#, "store"),
            (r#"{"store":"h:3306/db"}"#, "store"),
            (r#"{"store":""}"#, "store"),
            (
                r#"{"store":"mysql://u:p@h/db","store_password":"q"}"#,
                "store_password",
            ),
            (r#"{"path":"x","store_password":"q"}"#, "store_password"),
            (
                r#"{"store":"postgres://u@h/db?password=p","store_password":"q"}"#,
                "store_password",
            ),
            (
                r#"{"store":"mysql://u@h/db","store_password_env":"WDT_MODEL_TEST_UNSET"}"#,
                "store_password_env",
            ),
        ] {
            match Options::from_json(bad) {
                Err(Error::Config {
                    field: Some(f),
                    message,
                }) => {
                    assert_eq!(f, field, "{bad}");
                    assert!(!message.contains("q\""), "{message}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn ids() {
        assert!(valid_id("POS-20261130-0042"));
        assert!(valid_id("a.b_c:d-e"));
        assert!(!valid_id(""));
        assert!(!valid_id("has space"));
        assert!(!valid_id("x]"));
        assert!(!valid_id(&"x".repeat(65)));
        assert!(valid_id(&"x".repeat(64)));
    }

    #[test]
    fn marker_counts_against_the_remark_limit() {
        let id = "POS-1";
        let m = marker_for("0123abcd4567", id);
        let p = prepare(&req("退货"), Some(&m)).unwrap();
        assert!(
            p.body
                .contains("\"remark\":\"[wdt:0123abcd4567:POS-1] 退货\""),
            "{}",
            p.body
        );
        let p = prepare(&req(""), Some(&m)).unwrap();
        assert!(
            p.body.contains("\"remark\":\"[wdt:0123abcd4567:POS-1]\""),
            "{}",
            p.body
        );
        let m = legacy_marker_for(id);
        let p = prepare_legacy(&req("退货"), Some(&m)).unwrap();
        assert!(
            p.body.contains("\"remark\":\"退货 [wdt:POS-1]\""),
            "{}",
            p.body
        );
        // 255 - len(" [wdt:POS-1]") = 243 units fit, 244 do not; an emoji is 2 units.
        let fits = "中".repeat(243);
        assert!(prepare(&req(&fits), Some(&m)).is_ok());
        let over = format!("{}😀", "中".repeat(242));
        match prepare(&req(&over), Some(&m)) {
            Err(Error::InvalidArgument {
                field: Some(f),
                message,
            }) => {
                assert_eq!(f, "request.refundInfo.remark");
                assert!(message.contains("marker"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // Without the marker the same remark is fine.
        assert!(prepare(&req(&over), None).is_ok());
    }

    #[test]
    fn submit_fields_are_under_request() {
        let e = Submit::from_json(r#"{"request":{"refundInfo":{"tid":"","return_warehouse_no":"p","remark":""},"detailMapList":[],"createPreStockin":false}}"#).unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument { field: Some(ref f), .. } if f == "request.refundInfo.tid"),
            "{e:?}"
        );
        let e = Submit::from_json(r#"{"request":{}, "idd":"x"}"#).unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument { field: Some(ref f), .. } if f == "idd"),
            "{e:?}"
        );
        let e = Submit::from_json(r#"{"id":"a b","request":{}}"#).unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument { field: Some(ref f), .. } if f == "id"),
            "{e:?}"
        );
        assert!(Submit::from_json("[]").is_err());
    }

    #[test]
    fn filters() {
        let f = ListFilter::from_json(None).unwrap();
        assert_eq!((f.state, f.limit, f.after), (None, 100, None));
        assert!(ListFilter::from_json(Some(r#"{"state":"lost"}"#)).is_err());
        assert!(ListFilter::from_json(Some(r#"{"limit":0}"#)).is_err());
        assert!(ListFilter::from_json(Some(r#"{"limit":1001}"#)).is_err());
        let f = FlushOptions::from_json(Some(r#"{"max_entries":3,"budget_ms":0}"#)).unwrap();
        assert_eq!((f.max_entries, f.budget_ms), (Some(3), Some(0)));
        assert!(FlushOptions::from_json(Some(r#"{"max":3}"#)).is_err());
    }
}
