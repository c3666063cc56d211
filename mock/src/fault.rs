//! Injected misbehaviour, so a client's handling of a bad network or a bad
//! day at the gateway can be tested on demand. Faults touch `/openapi` only;
//! the control endpoints stay reliable so a test can always recover.
//! The clock skew lives in its own slot, so it combines with one other fault.

use serde_json::{json, Value};

pub const DEFAULT_SLOW_MS: u64 = 3000;
/// Longer than any sensible client timeout, short enough not to pin a
/// thread for the rest of a test run.
pub const DEFAULT_HANG_MS: u64 = 60_000;
pub const DEFAULT_OVERSIZED_BYTES: u64 = 10 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Read the request, close without an answer; not processed.
    Drop,
    /// Process the request, then close without an answer ("reached the ERP,
    /// answer lost").
    DropAfter,
    /// Read the request, abort the connection (RST); not processed.
    Reset,
    /// Process the request, then abort the connection (RST).
    ResetAfter,
    /// Process, wait `ms`, then answer.
    Slow { ms: u64 },
    /// A captive portal's 200 text/html page; not processed.
    Html200,
    /// A proxy's 500 HTML error page; not processed.
    Html500,
    /// 502 whose body is gateway JSON (status 99); not processed.
    Json502,
    /// Process, then send half the answer under the full Content-Length and close.
    Truncated,
    /// Process, then pad the JSON answer to `bytes`.
    Oversized { bytes: u64 },
    /// The gateway's per-minute call limit (status 100); not processed.
    RateLimit,
    /// The gateway's concurrency limit (status 100); not processed.
    Concurrency,
    /// Offset the double's clock by `seconds` (timestamp check and Date header).
    Skew { seconds: i64 },
    /// Process and answer, then close the connection although the answer
    /// promised keep-alive: a pooled connection that has gone stale.
    CloseIdle,
    /// Process (the stock-in is created), then answer HTTP 500 with the JSON a
    /// Java web stack writes when it fails after the business code ran.
    Applied500Json,
    /// Process (the stock-in is created), then answer 200 with gateway status
    /// `status` (5 数据库错误, 99 其他错误, 4…) instead of the result.
    AppliedStatus { status: i64 },
    /// Process the request, then say nothing for `ms` (or until the client
    /// hangs up) and close: "applied, then the answer timed out".
    HangAfter { ms: u64 },
    /// Wait `ms`, then process and answer: the ERP applies the request late,
    /// possibly after the client gave up (and after it asked whether it exists).
    Late { ms: u64 },
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Drop => "drop",
            Mode::DropAfter => "drop_after",
            Mode::Reset => "reset",
            Mode::ResetAfter => "reset_after",
            Mode::Slow { .. } => "slow",
            Mode::Html200 => "html200",
            Mode::Html500 => "html500",
            Mode::Json502 => "json502",
            Mode::Truncated => "truncated",
            Mode::Oversized { .. } => "oversized",
            Mode::RateLimit => "ratelimit",
            Mode::Concurrency => "concurrency",
            Mode::Skew { .. } => "skew",
            Mode::CloseIdle => "close_idle",
            Mode::Applied500Json => "applied_500json",
            Mode::AppliedStatus { .. } => "applied_status",
            Mode::HangAfter { .. } => "hang_after",
            Mode::Late { .. } => "late",
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({ "mode": self.name() });
        match self {
            Mode::Slow { ms } | Mode::HangAfter { ms } | Mode::Late { ms } => v["ms"] = json!(ms),
            Mode::Oversized { bytes } => v["bytes"] = json!(bytes),
            Mode::Skew { seconds } => v["seconds"] = json!(seconds),
            Mode::AppliedStatus { status } => v["arg"] = json!(status),
            _ => {}
        }
        v
    }

    /// Builds a mode from its name and optional numeric argument.
    fn build(name: &str, arg: Option<i64>) -> Result<Mode, String> {
        let no_arg = |m: Mode| match arg {
            None => Ok(m),
            Some(_) => Err(format!("fault {name} takes no argument")),
        };
        let non_negative = |a: i64| {
            u64::try_from(a).map_err(|_| format!("fault {name} needs a non-negative argument"))
        };
        match name {
            "drop" => no_arg(Mode::Drop),
            "drop_after" => no_arg(Mode::DropAfter),
            "reset" => no_arg(Mode::Reset),
            "reset_after" => no_arg(Mode::ResetAfter),
            "slow" => Ok(Mode::Slow {
                ms: arg.map_or(Ok(DEFAULT_SLOW_MS), non_negative)?,
            }),
            "html200" => no_arg(Mode::Html200),
            "html500" => no_arg(Mode::Html500),
            "json502" => no_arg(Mode::Json502),
            "truncated" => no_arg(Mode::Truncated),
            "oversized" => Ok(Mode::Oversized {
                bytes: arg.map_or(Ok(DEFAULT_OVERSIZED_BYTES), non_negative)?,
            }),
            "ratelimit" => no_arg(Mode::RateLimit),
            "concurrency" => no_arg(Mode::Concurrency),
            "skew" => Ok(Mode::Skew {
                seconds: arg.ok_or("fault skew needs seconds, e.g. skew:300")?,
            }),
            "close_idle" => no_arg(Mode::CloseIdle),
            "applied_500json" => no_arg(Mode::Applied500Json),
            "applied_status" => Ok(Mode::AppliedStatus {
                status: arg.unwrap_or(5),
            }),
            "hang_after" => Ok(Mode::HangAfter {
                ms: arg.map_or(Ok(DEFAULT_HANG_MS), non_negative)?,
            }),
            "late" => Ok(Mode::Late {
                ms: arg.map_or(Ok(DEFAULT_SLOW_MS), non_negative)?,
            }),
            _ => Err(format!(
                "unknown fault mode {name:?} (known: none, {})",
                MODE_NAMES.join(", ")
            )),
        }
    }
}

pub const MODE_NAMES: [&str; 18] = [
    "drop",
    "drop_after",
    "reset",
    "reset_after",
    "slow",
    "html200",
    "html500",
    "json502",
    "truncated",
    "oversized",
    "ratelimit",
    "concurrency",
    "skew",
    "close_idle",
    "applied_500json",
    "applied_status",
    "hang_after",
    "late",
];

/// A mode and how many `/openapi` requests it still applies to (`None`: all).
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub mode: Mode,
    pub count: Option<u64>,
}

impl Fault {
    /// Parses the CLI form `MODE[:ARG]`, or the JSON object form when the text
    /// starts with `{`. `Ok(None)` is `none`, which clears all faults.
    pub fn parse_spec(spec: &str) -> Result<Option<Fault>, String> {
        let spec = spec.trim();
        if spec.starts_with('{') {
            let v: Value = serde_json::from_str(spec).map_err(|e| format!("fault JSON: {e}"))?;
            return Fault::from_json(&v);
        }
        let (name, arg) = match spec.split_once(':') {
            Some((n, a)) => (
                n,
                Some(
                    a.trim()
                        .parse::<i64>()
                        .map_err(|_| format!("fault argument {a:?} is not an integer"))?,
                ),
            ),
            None => (spec, None),
        };
        if name == "none" {
            return Ok(None);
        }
        Ok(Some(Fault {
            mode: Mode::build(name, arg)?,
            count: None,
        }))
    }

    /// Parses `{"mode":"slow","ms":2000,"count":1}`. The argument may also be
    /// given as `"arg"`. Unknown keys are refused so a typo is not a silent no-op.
    pub fn from_json(v: &Value) -> Result<Option<Fault>, String> {
        let obj = v.as_object().ok_or("fault must be a JSON object")?;
        for key in obj.keys() {
            if !["mode", "count", "ms", "bytes", "seconds", "arg"].contains(&key.as_str()) {
                return Err(format!("unknown key {key:?} in fault"));
            }
        }
        let name = obj
            .get("mode")
            .and_then(Value::as_str)
            .ok_or("fault needs a string \"mode\"")?;
        if name == "none" {
            return Ok(None);
        }
        let arg_key = match name {
            "slow" | "hang_after" | "late" => "ms",
            "oversized" => "bytes",
            "skew" => "seconds",
            _ => "arg",
        };
        let arg = match (obj.get(arg_key), obj.get("arg")) {
            (Some(_), Some(_)) if arg_key != "arg" => {
                return Err(format!("give either {arg_key:?} or \"arg\", not both"))
            }
            (Some(a), _) | (None, Some(a)) => Some(
                a.as_i64()
                    .ok_or_else(|| format!("fault {arg_key:?} must be an integer"))?,
            ),
            (None, None) => None,
        };
        for other in ["ms", "bytes", "seconds"] {
            if other != arg_key && obj.contains_key(other) {
                return Err(format!("fault {name} takes no {other:?}"));
            }
        }
        let count = match obj.get("count") {
            None | Some(Value::Null) => None,
            Some(c) => match c.as_u64() {
                Some(n) if n > 0 => Some(n),
                _ => return Err("fault \"count\" must be a positive integer".into()),
            },
        };
        Ok(Some(Fault {
            mode: Mode::build(name, arg)?,
            count,
        }))
    }

    fn to_json(&self) -> Value {
        let mut v = self.mode.to_json();
        if let Some(c) = self.count {
            v["count"] = json!(c);
        }
        v
    }
}

/// The armed faults: the clock skew and at most one other.
#[derive(Default, Debug)]
pub struct Faults {
    skew: Option<Fault>,
    other: Option<Fault>,
}

impl Faults {
    /// Arms a fault (replacing the one in its slot); `None` disarms all.
    pub fn set(&mut self, fault: Option<Fault>) {
        match fault {
            None => *self = Faults::default(),
            Some(
                f @ Fault {
                    mode: Mode::Skew { .. },
                    ..
                },
            ) => self.skew = Some(f),
            Some(f) => self.other = Some(f),
        }
    }

    /// The clock offset in force, without using up a count: for the Date
    /// header of answers that are not gateway calls.
    pub fn skew_now(&self) -> i64 {
        match &self.skew {
            Some(Fault {
                mode: Mode::Skew { seconds },
                ..
            }) => *seconds,
            _ => 0,
        }
    }

    /// What applies to one `/openapi` request; uses up one count of each.
    pub fn take_for_request(&mut self) -> (i64, Option<Mode>) {
        let skew = self.skew_now();
        use_one(&mut self.skew);
        let mode = self.other.as_ref().map(|f| f.mode.clone());
        use_one(&mut self.other);
        (skew, mode)
    }

    pub fn to_json(&self) -> Value {
        let list: Vec<Value> = [&self.skew, &self.other]
            .into_iter()
            .flatten()
            .map(Fault::to_json)
            .collect();
        Value::Array(list)
    }
}

fn use_one(slot: &mut Option<Fault>) {
    if let Some(f) = slot {
        match &mut f.count {
            Some(1) => *slot = None,
            Some(n) => *n -= 1,
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_forms() {
        assert_eq!(
            Fault::parse_spec("slow:250").unwrap().unwrap().mode,
            Mode::Slow { ms: 250 }
        );
        assert_eq!(
            Fault::parse_spec("skew:-300").unwrap().unwrap().mode,
            Mode::Skew { seconds: -300 }
        );
        assert_eq!(
            Fault::parse_spec("slow").unwrap().unwrap().mode,
            Mode::Slow {
                ms: DEFAULT_SLOW_MS
            }
        );
        assert_eq!(
            Fault::parse_spec(r#"{"mode":"drop","count":2}"#).unwrap(),
            Some(Fault {
                mode: Mode::Drop,
                count: Some(2)
            })
        );
        assert_eq!(Fault::parse_spec("none").unwrap(), None);
        assert_eq!(
            Fault::parse_spec("late:700").unwrap().unwrap().mode,
            Mode::Late { ms: 700 }
        );
        assert_eq!(
            Fault::parse_spec(r#"{"mode":"hang_after","ms":5}"#)
                .unwrap()
                .unwrap()
                .mode,
            Mode::HangAfter { ms: 5 }
        );
        for bad in ["nope", "drop:1", "skew", "slow:x", "slow:-1"] {
            assert!(Fault::parse_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_forms() {
        let f = |s: &str| Fault::from_json(&serde_json::from_str(s).unwrap());
        assert_eq!(
            f(r#"{"mode":"oversized","bytes":1000}"#)
                .unwrap()
                .unwrap()
                .mode,
            Mode::Oversized { bytes: 1000 }
        );
        assert_eq!(
            f(r#"{"mode":"slow","arg":5}"#).unwrap().unwrap().mode,
            Mode::Slow { ms: 5 }
        );
        for bad in [
            r#"{"mode":"drop","count":0}"#,
            r#"{"mode":"drop","typo":1}"#,
            r#"{"mode":"slow","seconds":1}"#,
            r#"{"mode":"drop","arg":1}"#,
            r#"{"count":1}"#,
            r#"[]"#,
        ] {
            assert!(f(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_run_out_and_slots_are_independent() {
        let mut faults = Faults::default();
        faults.set(Fault::parse_spec(r#"{"mode":"drop","count":2}"#).unwrap());
        faults.set(Fault::parse_spec(r#"{"mode":"skew","seconds":200,"count":1}"#).unwrap());
        assert_eq!(faults.take_for_request(), (200, Some(Mode::Drop)));
        assert_eq!(faults.take_for_request(), (0, Some(Mode::Drop)));
        assert_eq!(faults.take_for_request(), (0, None));
        faults.set(Fault::parse_spec("skew:30").unwrap());
        faults.set(Fault::parse_spec("close_idle").unwrap());
        faults.set(Fault::parse_spec("ratelimit").unwrap());
        assert_eq!(faults.skew_now(), 30);
        assert_eq!(faults.take_for_request(), (30, Some(Mode::RateLimit)));
        assert_eq!(faults.take_for_request(), (30, Some(Mode::RateLimit)));
        faults.set(None);
        assert_eq!(faults.take_for_request(), (0, None));
    }
}
