//! The client configuration (ABI.md "Config JSON"). Parsing is strict: unknown keys and wrong
//! types are `config` errors naming the key, so a typo never silently falls back to a default.
//! The secret half of `appsecret` lives only in [`Secret`], whose Debug output is redacted.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

pub const PROD_URL: &str = "http://wdt.wangdian.cn/openapi";
pub const TEST_URL: &str = "http://47.92.239.46/openapi";

/// The secret half of `appsecret`. It only ever feeds the sign; Debug and Display never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub sid: String,
    pub appkey: String,
    pub secret: Secret,
    pub salt: String,
    pub url: String,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// How long an idle pooled connection may be reused. Kept below common server keep-alive
    /// timeouts (nginx 75 s, Apache and Node 5 s, cloud load balancers from 5 s) so we rarely
    /// write a quick return into a connection the gateway is closing.
    pub idle_timeout: Duration,
    pub max_response_bytes: u64,
    /// How many times a rate-limited request (status 100 频率/并发限制) is sent again.
    pub max_retries: u32,
    /// One line per attempt on stderr; off by default, since a library must not write to the
    /// host's streams unasked.
    pub log: bool,
    /// Enables the `wdt.test.panic` method that proves the panic boundary from any binding.
    pub test_hooks: bool,
}

/// Every key the config accepts; anything else is a `config` error naming the key.
pub const KEYS: &[&str] = &[
    "sid",
    "appkey",
    "appsecret",
    "url",
    "env",
    "connect_timeout_ms",
    "timeout_ms",
    "idle_timeout_ms",
    "max_response_bytes",
    "max_retries",
    "log",
    "test_hooks",
];

impl Config {
    pub fn from_json(text: &str) -> Result<Config> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::config("", format_args!("config: invalid json: {e}")))?;
        let Value::Object(map) = value else {
            return Err(Error::config("", "config: must be a json object"));
        };
        Config::from_map(&map)
    }

    fn from_map(map: &Map<String, Value>) -> Result<Config> {
        if let Some(key) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(Error::config(
                key.as_str(),
                format_args!("config: unknown key {key:?} (known: {})", KEYS.join(", ")),
            ));
        }
        let sid = required_str(map, "sid")?;
        let appkey = required_str(map, "appkey")?;
        let appsecret = required_str(map, "appsecret")?;
        // The secret is split at the first ':' (the API page: `secret:salt`); the message must
        // not echo the value, which is the secret itself when the colon is missing.
        let (secret, salt) = match appsecret.split_once(':') {
            Some((s, t)) if !s.is_empty() && !t.is_empty() => (s.to_owned(), t.to_owned()),
            _ => {
                return Err(Error::config(
                    "appsecret",
                    "config: appsecret must be \"secret:salt\" with both parts non-empty",
                ))
            }
        };

        let url = match (map.get("url"), map.get("env")) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "env",
                    "config: give either url or env, not both",
                ))
            }
            (Some(_), None) => {
                let url = required_str(map, "url")?;
                check_url(&url)?;
                url
            }
            (None, Some(Value::String(env))) => match env.as_str() {
                "test" => TEST_URL.to_owned(),
                "prod" => PROD_URL.to_owned(),
                _ => {
                    return Err(Error::config(
                        "env",
                        "config: env must be \"test\" or \"prod\"",
                    ))
                }
            },
            (None, Some(_)) => {
                return Err(Error::config(
                    "env",
                    "config: env must be \"test\" or \"prod\"",
                ))
            }
            (None, None) => PROD_URL.to_owned(),
        };

        let timeout = millis(map, "timeout_ms", 30_000, 1, 3_600_000)?;
        // Unset, the connect timeout follows timeout_ms: 5 s, but at most half of timeout_ms,
        // so a short timeout_ms alone is valid and still leaves room for the one resend that
        // a status-7 answer allows. Set explicitly, a contradiction is an error.
        let default_connect = (timeout.as_millis() as u64 / 2).clamp(1, 5_000);
        let connect_timeout = millis(map, "connect_timeout_ms", default_connect, 1, 600_000)?;
        if connect_timeout > timeout {
            return Err(Error::config(
                "connect_timeout_ms",
                "config: connect_timeout_ms must not exceed timeout_ms",
            ));
        }
        let idle_timeout = millis(map, "idle_timeout_ms", 4_000, 0, 600_000)?;
        // The biggest documented answer is a query page: measured from the examples on the
        // Refund.search and Refund.queryWithDetail pages, an order is ~1.4 KB plus ~1 KB per
        // line, so 200 orders (the pages' suggested page_size ceiling) of 20 lines with Chinese
        // names is ~6 MB. 16 MiB leaves generous headroom and still bounds a runaway answer.
        let max_response_bytes = integer(map, "max_response_bytes", 16 << 20, 1024, 1 << 30)?;
        let max_retries = integer(map, "max_retries", 3, 0, 10)? as u32;
        let log = boolean(map, "log", false)?;
        let test_hooks = boolean(map, "test_hooks", false)?;

        Ok(Config {
            sid,
            appkey,
            secret: Secret(secret),
            salt,
            url,
            connect_timeout,
            timeout,
            idle_timeout,
            max_response_bytes,
            max_retries,
            log,
            test_hooks,
        })
    }
}

fn required_str(map: &Map<String, Value>, key: &str) -> Result<String> {
    match map.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(Error::config(key, format_args!("config: {key} is empty"))),
        Some(_) => Err(Error::config(
            key,
            format_args!("config: {key} must be a string"),
        )),
        None => Err(Error::config(
            key,
            format_args!("config: {key} is required"),
        )),
    }
}

fn check_url(url: &str) -> Result<()> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
        .ok_or_else(|| Error::config("url", "config: url must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(Error::config("url", "config: url has no host"));
    }
    if url.contains('?') || url.contains('#') || url.chars().any(char::is_whitespace) {
        return Err(Error::config(
            "url",
            "config: url must be the gateway address without query, fragment or spaces",
        ));
    }
    url.parse::<ureq::http::Uri>()
        .map_err(|e| Error::config("url", format_args!("config: url is not valid: {e}")))?;
    Ok(())
}

fn integer(map: &Map<String, Value>, key: &str, default: u64, min: u64, max: u64) -> Result<u64> {
    match map.get(key) {
        None => Ok(default),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(Error::config(
                key,
                format_args!("config: {key} must be an integer from {min} to {max}"),
            )),
        },
        Some(_) => Err(Error::config(
            key,
            format_args!("config: {key} must be a number"),
        )),
    }
}

fn millis(
    map: &Map<String, Value>,
    key: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<Duration> {
    integer(map, key, default, min, max).map(Duration::from_millis)
}

fn boolean(map: &Map<String, Value>, key: &str, default: bool) -> Result<bool> {
    match map.get(key) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(Error::config(
            key,
            format_args!("config: {key} must be true or false"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(text: &str) -> Option<String> {
        match Config::from_json(text) {
            Err(Error::Config { field, .. }) => field,
            other => panic!("expected a config error for {text}, got {other:?}"),
        }
    }

    const BASE: &str = r#""sid":"wdtapi3","appkey":"wdt_test","appsecret":"testsecret:testsalt""#;

    #[test]
    fn defaults() {
        let c = Config::from_json(&format!("{{{BASE}}}")).unwrap();
        assert_eq!(c.url, PROD_URL);
        assert_eq!(c.salt, "testsalt");
        assert_eq!(c.secret.expose(), "testsecret");
        assert_eq!(c.connect_timeout, Duration::from_millis(5000));
        let short =
            Config::from_json(r#"{"sid":"a","appkey":"b","appsecret":"s:t","timeout_ms":2000}"#)
                .expect("timeout_ms alone below the default connect timeout is valid");
        assert_eq!(short.connect_timeout, Duration::from_millis(1000));
        assert_eq!(short.timeout, Duration::from_millis(2000));
        let tiny =
            Config::from_json(r#"{"sid":"a","appkey":"b","appsecret":"s:t","timeout_ms":1}"#)
                .expect("a 1 ms timeout alone is valid");
        assert_eq!(tiny.connect_timeout, Duration::from_millis(1));
        assert_eq!(c.timeout, Duration::from_millis(30000));
        assert!(!c.log);
    }

    #[test]
    fn env_selects_gateway() {
        let c = Config::from_json(&format!(r#"{{{BASE},"env":"test"}}"#)).unwrap();
        assert_eq!(c.url, TEST_URL);
        let c = Config::from_json(&format!(r#"{{{BASE},"env":"prod"}}"#)).unwrap();
        assert_eq!(c.url, PROD_URL);
    }

    #[test]
    fn secret_splits_at_first_colon() {
        let c = Config::from_json(r#"{"sid":"a","appkey":"b","appsecret":"sec:salt:with:colons"}"#)
            .unwrap();
        assert_eq!(c.secret.expose(), "sec");
        assert_eq!(c.salt, "salt:with:colons");
    }

    #[test]
    fn errors_name_the_key() {
        let cases: &[(&str, &str)] = &[
            (r#"{"appkey":"b","appsecret":"s:t"}"#, "sid"),
            (r#"{"sid":"","appkey":"b","appsecret":"s:t"}"#, "sid"),
            (r#"{"sid":1,"appkey":"b","appsecret":"s:t"}"#, "sid"),
            (r#"{"sid":"a","appsecret":"s:t"}"#, "appkey"),
            (r#"{"sid":"a","appkey":"b","appsecret":"st"}"#, "appsecret"),
            (r#"{"sid":"a","appkey":"b","appsecret":":t"}"#, "appsecret"),
            (r#"{"sid":"a","appkey":"b","appsecret":"s:"}"#, "appsecret"),
            (
                r#"{"sid":"a","appkey":"b","appsecret":"s:t","timeout":1}"#,
                "timeout",
            ),
            (
                r#"{"sid":"a","appkey":"b","appsecret":"s:t","url":"ftp://x/openapi"}"#,
                "url",
            ),
            (
                r#"{"sid":"a","appkey":"b","appsecret":"s:t","url":"http://"}"#,
                "url",
            ),
            (
                r#"{"sid":"a","appkey":"b","appsecret":"s:t","url":"http://x/o?a=1"}"#,
                "url",
            ),
            (
                r#"{"sid":"a","appkey":"b","appsecret":"s:t","env":"staging"}"#,
                "env",
            ),
            (
                r#"{"sid":"a","appkey":"b","appsecret":"s:t","env":"test","url":"http://x"}"#,
                "env",
            ),
            (
                r#"{"sid":"a","appkey":"b","appsecret":"s:t","timeout_ms":0}"#,
                "timeout_ms",
            ),
            (
                r#"{"sid":"a","appkey":"b","appsecret":"s:t","timeout_ms":-5}"#,
                "timeout_ms",
            ),
            (
                r#"{"sid":"a","appkey":"b","appsecret":"s:t","timeout_ms":"30"}"#,
                "timeout_ms",
            ),
            (
                r#"{"sid":"a","appkey":"b","appsecret":"s:t","connect_timeout_ms":9000,"timeout_ms":100}"#,
                "connect_timeout_ms",
            ),
            (
                r#"{"sid":"a","appkey":"b","appsecret":"s:t","max_retries":11}"#,
                "max_retries",
            ),
            (
                r#"{"sid":"a","appkey":"b","appsecret":"s:t","log":"yes"}"#,
                "log",
            ),
        ];
        for (text, key) in cases {
            assert_eq!(field_of(text).as_deref(), Some(*key), "{text}");
        }
        assert_eq!(field_of("[]"), None);
        assert_eq!(field_of("not json"), None);
    }

    #[test]
    fn secret_is_never_in_debug_or_errors() {
        let c = Config::from_json(r#"{"sid":"a","appkey":"b","appsecret":"s3cr3tv4lue:salt"}"#)
            .unwrap();
        assert!(!format!("{c:?}").contains("s3cr3tv4lue"));
        let e =
            Config::from_json(r#"{"sid":"a","appkey":"b","appsecret":"s3cr3tv4lue"}"#).unwrap_err();
        assert!(!format!("{e:?} {e}").contains("s3cr3tv4lue"));
    }
}
