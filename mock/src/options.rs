//! Command line and config file. A config file holds the same keys as the
//! flags (without `--`, `-` or `_` alike); flags on the command line win over
//! it wherever they stand. Unknown keys and flags are errors, so a typo never
//! silently runs the double with a default.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::fault::{Fault, MODE_NAMES};

pub const USAGE: &str = "\
wdt-mock: a double of the 旺店通旗舰版 open API gateway (after-sales methods)

usage: wdt-mock [options]

  --config FILE.json   read options from a JSON object with the keys below
  --host ADDR          loopback address to bind (default 127.0.0.1; nothing else is allowed)
  --port N             port, 0 = the OS picks (default 0)
  --sid S              the account's sid (default wdtapi3)
  --appkey K           the appkey (default wdt_test)
  --appsecret S:SALT   secret and salt (default testsecret:testsalt)
  --seed FILE          ERP seed JSON (default: built in, same as tests/fixtures/seed.json)
  --fault MODE[:ARG]   arm a fault on /openapi from the start; repeatable; also takes
                       the JSON form '{\"mode\":\"drop\",\"count\":1}'
  --keepalive-ms N     close a keep-alive connection idle this long (default 5000)
  --quiet              no per-request log on stderr
  --help               this text

fault modes: drop, drop_after, reset, reset_after, slow:MS, html200, html500, json502,
  truncated, oversized:BYTES, ratelimit, concurrency, skew:SECONDS, close_idle,
  applied_500json, applied_status:STATUS (processed, then a bad answer),
  hang_after:MS (processed, then no answer), late:MS (processed after MS), none

On start one line goes to stdout: `wdt-mock listening on http://127.0.0.1:PORT/openapi`.
Control endpoints: GET /__mock/health, GET /__mock/stats, GET /__mock/requests, POST /__mock/reset,
POST /__mock/fault (JSON), GET /__mock/fault. See mock/README.md.
";

#[derive(Debug, Clone)]
pub struct Options {
    pub host: String,
    pub port: u16,
    pub sid: String,
    pub appkey: String,
    pub secret: String,
    pub salt: String,
    pub seed: Option<PathBuf>,
    /// In the order given; `None` entries (`none`) clear what came before.
    pub faults: Vec<Option<Fault>>,
    pub keepalive_ms: u64,
    pub quiet: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: "127.0.0.1".into(),
            port: 0,
            sid: "wdtapi3".into(),
            appkey: "wdt_test".into(),
            secret: "testsecret".into(),
            salt: "testsalt".into(),
            seed: None,
            faults: Vec::new(),
            keepalive_ms: 5000,
            quiet: false,
        }
    }
}

#[derive(Debug)]
pub enum Command {
    Run(Options),
    Help,
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut pairs: Vec<(String, Option<String>)> = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.to_string(), None),
        };
        let name = name.replace('_', "-");
        match name.as_str() {
            "help" => return Ok(Command::Help),
            "quiet" => {
                if inline.is_some() {
                    return Err("--quiet takes no value".into());
                }
                pairs.push((name, None));
            }
            _ => {
                let value = match inline {
                    Some(v) => v,
                    None => it.next().ok_or_else(|| format!("--{name} needs a value"))?,
                };
                pairs.push((name, Some(value)));
            }
        }
    }

    let mut opts = Options::default();
    if let Some((_, Some(path))) = pairs.iter().rev().find(|(n, _)| n == "config") {
        apply_config_file(&mut opts, Path::new(path))?;
    }
    for (name, value) in pairs {
        let value = value.unwrap_or_default();
        match name.as_str() {
            "config" => {}
            "quiet" => opts.quiet = true,
            "fault" => opts.faults.push(Fault::parse_spec(&value)?),
            _ => set(&mut opts, &name, &value)?,
        }
    }
    Ok(Command::Run(opts))
}

fn set(opts: &mut Options, name: &str, value: &str) -> Result<(), String> {
    let number = |v: &str| {
        v.parse::<u64>()
            .map_err(|_| format!("--{name}: {v:?} is not a non-negative integer"))
    };
    match name {
        "host" => opts.host = value.to_string(),
        "port" => {
            opts.port = u16::try_from(number(value)?)
                .map_err(|_| format!("--port: {value} is out of range"))?
        }
        "sid" => opts.sid = value.to_string(),
        "appkey" => opts.appkey = value.to_string(),
        "appsecret" => {
            // Split at the first ':' as the SDKs do; both halves are needed.
            match value.split_once(':') {
                Some((s, salt)) if !s.is_empty() && !salt.is_empty() => {
                    opts.secret = s.to_string();
                    opts.salt = salt.to_string();
                }
                _ => return Err("--appsecret must be SECRET:SALT, both non-empty".into()),
            }
        }
        "seed" => opts.seed = Some(PathBuf::from(value)),
        "keepalive-ms" => opts.keepalive_ms = number(value)?,
        _ => return Err(format!("unknown option --{name} (see --help)")),
    }
    Ok(())
}

fn apply_config_file(opts: &mut Options, path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| format!("config {} is not JSON: {e}", path.display()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| format!("config {} must be a JSON object", path.display()))?;
    for (key, value) in obj {
        let name = key.replace('_', "-");
        match (name.as_str(), value) {
            ("quiet", Value::Bool(b)) => opts.quiet = *b,
            ("fault", Value::Array(list)) => {
                for f in list {
                    opts.faults.push(fault_value(f)?);
                }
            }
            ("fault", f) => opts.faults.push(fault_value(f)?),
            ("seed", Value::String(s)) => {
                // A relative seed path means "next to the config file", so a
                // config and its seed can travel together.
                let p = Path::new(s);
                opts.seed = Some(if p.is_relative() {
                    path.parent().unwrap_or(Path::new(".")).join(p)
                } else {
                    p.to_path_buf()
                });
            }
            ("config" | "help", _) => return Err(format!("config key {key:?} is not allowed")),
            (_, Value::String(s)) => set(opts, &name, s)?,
            (_, Value::Number(n)) => set(opts, &name, &n.to_string())?,
            _ => return Err(format!("config key {key:?} has the wrong type")),
        }
    }
    Ok(())
}

fn fault_value(v: &Value) -> Result<Option<Fault>, String> {
    match v {
        Value::String(s) => Fault::parse_spec(s),
        Value::Object(_) => Fault::from_json(v),
        _ => Err(format!(
            "a fault is \"MODE[:ARG]\" or an object; modes: {}",
            MODE_NAMES.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Mode;

    fn run(args: &[&str]) -> Result<Options, String> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Command::Run(o) => Ok(o),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn defaults() {
        let o = run(&[]).unwrap();
        assert_eq!(
            (o.host.as_str(), o.port, o.sid.as_str()),
            ("127.0.0.1", 0, "wdtapi3")
        );
        assert_eq!(
            (o.secret.as_str(), o.salt.as_str()),
            ("testsecret", "testsalt")
        );
        assert_eq!(o.keepalive_ms, 5000);
    }

    #[test]
    fn flags() {
        let o = run(&[
            "--port=8080",
            "--appsecret",
            "a:b:c",
            "--fault",
            "slow:10",
            "--fault",
            "skew:-5",
            "--quiet",
            "--keepalive_ms",
            "100",
        ])
        .unwrap();
        assert_eq!(o.port, 8080);
        assert_eq!((o.secret.as_str(), o.salt.as_str()), ("a", "b:c"));
        assert_eq!(o.faults.len(), 2);
        assert_eq!(
            o.faults[1].as_ref().unwrap().mode,
            Mode::Skew { seconds: -5 }
        );
        assert!(o.quiet);
        assert_eq!(o.keepalive_ms, 100);
        assert!(matches!(parse(["--help".to_string()]), Ok(Command::Help)));
    }

    #[test]
    fn bad_flags() {
        for bad in [
            &["--port", "70000"][..],
            &["--port"],
            &["--appsecret", "nosalt"],
            &["--appsecret", ":salt"],
            &["--nope", "1"],
            &["stray"],
            &["--fault", "sideways"],
        ] {
            assert!(run(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn config_file_then_flags() {
        let dir = std::env::temp_dir().join(format!("wdt-mock-opt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("mock.json");
        std::fs::write(
            &cfg,
            r#"{"port": 9000, "sid": "s1", "seed": "seed.json", "fault": ["drop", {"mode": "skew", "seconds": 9}], "keepalive_ms": 7, "quiet": true}"#,
        )
        .unwrap();
        let o = run(&["--sid", "s2", "--config", cfg.to_str().unwrap()]).unwrap();
        assert_eq!(o.port, 9000);
        assert_eq!(o.sid, "s2");
        assert_eq!(o.seed.unwrap(), dir.join("seed.json"));
        assert_eq!(o.faults.len(), 2);
        assert_eq!(o.keepalive_ms, 7);
        assert!(o.quiet);
        std::fs::write(&cfg, r#"{"prot": 1}"#).unwrap();
        assert!(run(&["--config", cfg.to_str().unwrap()]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
