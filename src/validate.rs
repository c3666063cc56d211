//! One path-aware way to read JSON input, shared by the request models and the config: "get
//! this key at this path, check its type and its limit". Every error names the full JSON path
//! of the value (docs/abi.md, `field`), and the path prefix is passed in by the caller — a
//! quick return checked inside `wdt_call`'s `args` reports `args[1][0].spec_no`, never a
//! rewritten string.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Which error a failed check is: a request's (`invalid_argument`) or the config's (`config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Request,
    Config,
}

impl Input {
    /// An error about the value at `path`.
    pub fn error(self, path: &str, message: impl std::fmt::Display) -> Error {
        match self {
            Input::Request => Error::invalid_at(path, message),
            Input::Config => Error::config_at(path, message),
        }
    }
}

impl Input {
    /// An error about a whole argument (no `field`: it names no value inside).
    pub fn error_whole(self, message: impl std::fmt::Display) -> Error {
        match self {
            Input::Request => Error::invalid(message),
            Input::Config => Error::config(message),
        }
    }
}

/// The text of argument `what` as a JSON object, or an error of `input`'s kind about the whole
/// argument.
pub fn parse_object(text: &str, what: &str, input: Input) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(input.error_whole(format_args!("{what} must be a json object"))),
        Err(e) => Err(input.error_whole(format_args!("{what} is not valid json: {e}"))),
    }
}

/// How long a string may be, and whether `""` is allowed.
#[derive(Debug, Clone, Copy)]
pub struct Text {
    /// At most this many UTF-16 code units: the gateway is a Java service that measures
    /// lengths with `String.length()`, so a CJK character counts 1 and an emoji 2.
    pub max: usize,
    pub empty_ok: bool,
}

/// An object found at `path` (`""` for the top level), whose members are checked by key.
#[derive(Debug, Clone)]
pub struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    path: String,
    input: Input,
}

impl<'a> Obj<'a> {
    pub fn new(map: &'a Map<String, Value>, path: impl Into<String>, input: Input) -> Obj<'a> {
        Obj {
            map,
            path: path.into(),
            input,
        }
    }

    /// The JSON path of member `key`.
    pub fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn error(&self, key: &str, message: impl std::fmt::Display) -> Error {
        self.input.error(&self.path(key), message)
    }

    /// Refuses a member not in `known`, naming it: a misspelt key would otherwise be dropped or
    /// surface as "… is required".
    pub fn only_keys(&self, known: &[&str]) -> Result<()> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(key) => Err(self.error(
                key,
                format_args!("unknown key {key:?}, expected {}", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    /// A required member, or the "is required" error.
    pub fn required(&self, key: &str) -> Result<&'a Value> {
        self.get(key)
            .ok_or_else(|| self.error(key, format_args!("{} is required", self.path(key))))
    }

    /// A required string within `limit`.
    pub fn string(&self, key: &str, limit: Text) -> Result<&'a str> {
        match self.get(key) {
            // The path is only built for an error: a valid call must not pay one allocation
            // per field (it did, ~7 % of a quick return's CPU; BENCHMARKS.md).
            Some(Value::String(s)) if fits(s, limit) => Ok(s),
            Some(value) => check_string(value, &self.path(key), limit, self.input),
            None if limit.empty_ok => Err(self.error(
                key,
                format_args!("{} is required (\"\" is allowed)", self.path(key)),
            )),
            None => self.required(key).map(|_| ""),
        }
    }

    /// A required non-empty string (config style: no length limit).
    pub fn non_empty(&self, key: &str) -> Result<&'a str> {
        self.string(
            key,
            Text {
                max: usize::MAX,
                empty_ok: false,
            },
        )
    }

    /// An optional whole number within `min..=max`, or `default` when absent.
    pub fn integer(&self, key: &str, default: u64, min: u64, max: u64) -> Result<u64> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if (min..=max).contains(&v) => Ok(v),
                _ => Err(self.error(
                    key,
                    format_args!("{} must be an integer from {min} to {max}", self.path(key)),
                )),
            },
            Some(other) => Err(self.error(
                key,
                format_args!(
                    "{} must be a number, not {}",
                    self.path(key),
                    type_name(other)
                ),
            )),
        }
    }

    /// An optional boolean, or `default` when absent.
    pub fn boolean(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.error(
                key,
                format_args!(
                    "{} must be true or false, not {}",
                    self.path(key),
                    type_name(other)
                ),
            )),
        }
    }
}

/// The object at `path`, or a type error naming the path.
pub fn object_at(value: &Value, path: String, input: Input) -> Result<Obj<'_>> {
    match value {
        Value::Object(map) => Ok(Obj::new(map, path, input)),
        other => Err(input.error(
            &path,
            format_args!("{path} must be an object, not {}", type_name(other)),
        )),
    }
}

/// The non-empty array at `path`.
pub fn non_empty_array<'a>(value: &'a Value, path: &str, input: Input) -> Result<&'a [Value]> {
    match value {
        Value::Array(items) if !items.is_empty() => Ok(items),
        Value::Array(_) => Err(input.error(path, format_args!("{path} must not be empty"))),
        other => Err(input.error(
            path,
            format_args!("{path} must be an array, not {}", type_name(other)),
        )),
    }
}

/// Whether `s` is within `limit`; the same rule as `check_string`, without building an error.
pub fn fits(s: &str, limit: Text) -> bool {
    (limit.empty_ok || !s.trim().is_empty())
        && (limit.max == usize::MAX || utf16_units_at_most(s, limit.max))
}

/// `s.encode_utf16().count() <= max`. A UTF-8 string never has more UTF-16 units than bytes
/// (1–3 bytes make one unit, 4 bytes two), so a short string needs no counting.
fn utf16_units_at_most(s: &str, max: usize) -> bool {
    s.len() <= max || s.encode_utf16().count() <= max
}

/// A string within `limit`.
pub fn check_string<'a>(
    value: &'a Value,
    path: &str,
    limit: Text,
    input: Input,
) -> Result<&'a str> {
    let Value::String(s) = value else {
        return Err(input.error(
            path,
            format_args!("{path} must be a string, not {}", type_name(value)),
        ));
    };
    if !limit.empty_ok && s.trim().is_empty() {
        return Err(input.error(path, format_args!("{path} must not be empty")));
    }
    if limit.max != usize::MAX {
        let units = s.encode_utf16().count();
        if units > limit.max {
            return Err(input.error(
                path,
                format_args!(
                    "{path} is {units} characters long, at most {} (UTF-16 units)",
                    limit.max
                ),
            ));
        }
    }
    Ok(s)
}

/// A finite decimal greater than 0. With serde_json's arbitrary_precision the number keeps its
/// text; a value that overflows f64 is refused rather than sent as an absurd quantity. `path`
/// is only called to name an error.
pub fn positive_number(value: &Value, path: impl FnOnce() -> String, input: Input) -> Result<()> {
    if is_positive(value) {
        return Ok(());
    }
    let path = &path();
    match value {
        Value::Number(_) => Err(input.error(
            path,
            format_args!("{path} must be a finite number greater than 0"),
        )),
        other => Err(input.error(
            path,
            format_args!("{path} must be a number, not {}", type_name(other)),
        )),
    }
}

fn is_positive(value: &Value) -> bool {
    matches!(value, Value::Number(n) if n.as_f64().is_some_and(|v| v.is_finite() && v > 0.0))
}

/// `a.b` for member `b` of `a`, `b` at the top level. Keys come from the caller's JSON and may
/// hold any text (`"[]x"`), so a key is always joined with a dot; index paths (`a[0]`) are made
/// by the callers that walk arrays, never from a key (else `pager` with the key `[]lc_total`
/// would read as the ambiguous path `pager[]lc_total`).
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_always_a_member_never_an_index() {
        assert_eq!(join("", "tid"), "tid");
        assert_eq!(join("refundInfo", "tid"), "refundInfo.tid");
        assert_eq!(join("pager", "[]lc_total"), "pager.[]lc_total");
        assert_eq!(join("args[1][0]", "spec_no"), "args[1][0].spec_no");
    }
}
