//! The client configuration (docs/abi.md, "Config"). Parsing is strict: unknown keys and wrong
//! types are `config` errors naming the key, so a typo never silently falls back to a default.
//! The secret half of `appsecret` lives only in [`Secret`], whose Debug output is redacted.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::validate::{Input, Obj};

/// The production gateway (`"env": "prod"`, and the default).
pub const PROD_URL: &str = "http://wdt.wangdian.cn/openapi";
/// The documented test gateway (`"env": "test"`).
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
/// A validated client configuration (docs/abi.md, "Config"); its Debug output hides the secret.
pub struct Config {
    /// The seller account (卖家账号).
    pub sid: String,
    /// The application key, sent as `key`.
    pub appkey: String,
    /// The secret half of `appsecret`: only ever feeds the sign.
    pub secret: Secret,
    /// The salt half of `appsecret`, sent as `salt`.
    pub salt: String,
    /// The gateway address (`…/openapi`).
    pub url: String,
    /// How long a new connection may take (`connect_timeout_ms`).
    pub connect_timeout: Duration,
    /// The budget of a whole call, resends included (`timeout_ms`).
    pub timeout: Duration,
    /// How long an idle pooled connection may be reused. Kept below common server keep-alive
    /// timeouts (nginx 75 s, Apache and Node 5 s, cloud load balancers from 5 s) so we rarely
    /// write a quick return into a connection the gateway is closing.
    pub idle_timeout: Duration,
    /// The largest answer read; a larger one is `bad_response` (`max_response_bytes`).
    pub max_response_bytes: u64,
    /// How many times a rate-limited request (status 100 频率/并发限制) is sent again.
    pub max_retries: u32,
    /// One line per attempt on stderr; off by default, since a library must not write to the
    /// host's streams unasked.
    pub log: bool,
    /// Enables the `wdt.test.panic` method that proves the panic boundary from any binding.
    pub test_hooks: bool,
    /// An http:// or socks5:// proxy (`proxy`); None means a direct connection. Proxy
    /// environment variables are never obeyed.
    pub proxy: Option<ProxyUrl>,
    /// Replaces the system resolver (Rust only; None from JSON). Tests make a name fail with it
    /// without any real DNS lookup.
    pub resolve_hook: Option<ResolveHook>,
}

/// Replaces the system resolver for one client: `(host, port)` in, addresses out. Set only from
/// Rust (tests, embedding programs); the JSON config cannot set it, and Debug shows only its name.
#[derive(Clone)]
pub struct ResolveHook(
    #[allow(clippy::type_complexity)]
    pub  Arc<dyn Fn(&str, u16) -> std::io::Result<Vec<SocketAddr>> + Send + Sync>,
);

impl ResolveHook {
    /// Wraps `f`, which is asked for every host name (and IP literal) the client connects to.
    pub fn new(
        f: impl Fn(&str, u16) -> std::io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> ResolveHook {
        ResolveHook(Arc::new(f))
    }
}

impl fmt::Debug for ResolveHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResolveHook")
    }
}

/// A proxy URL. It may carry a password (`http://user:pass@host:3128`), so Debug shows it with
/// the user part masked, like the secret.
/// Parsed once, here: the transport takes this very value, so a proxy that was configured can
/// never be dropped later for failing a second parse (which would send the returns directly).
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    text: String,
    parsed: ureq::Proxy,
}

impl ProxyUrl {
    /// The proxy as ureq's connectors use it, for the transport only.
    pub(crate) fn proxy(&self) -> &ureq::Proxy {
        &self.parsed
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.text.split_once("://") {
            Some((scheme, rest)) => match rest.rsplit_once('@') {
                Some((_, host)) => write!(f, "ProxyUrl({scheme}://***@{host})"),
                None => write!(f, "ProxyUrl({})", self.text),
            },
            None => f.write_str("ProxyUrl(***)"),
        }
    }
}

/// A `proxy` value: an http:// or socks5:// URL that ureq can use.
fn parse_proxy(url: &str) -> Result<ProxyUrl> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("socks5://")) {
        return Err(Error::config_at(
            "proxy",
            "proxy must start with http:// or socks5://",
        ));
    }
    match ureq::Proxy::new(url) {
        Ok(parsed) => Ok(ProxyUrl {
            text: url.to_owned(),
            parsed,
        }),
        Err(e) => Err(Error::config_at(
            "proxy",
            format_args!("proxy is not valid: {e}"),
        )),
    }
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
    "proxy",
];

impl Config {
    /// Parses and checks the config JSON; every error names its key.
    pub fn from_json(text: &str) -> Result<Config> {
        let map = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(Error::config("must be a json object")),
            Err(e) => return Err(Error::config(format_args!("invalid json: {e}"))),
        };
        Config::from_map(Obj::new(&map, "", Input::Config))
    }

    fn from_map(c: Obj<'_>) -> Result<Config> {
        c.only_keys(KEYS)?;
        let sid = c.non_empty("sid")?.to_owned();
        let appkey = c.non_empty("appkey")?.to_owned();
        // The secret is split at the first ':' (the API page: `secret:salt`); the message must
        // not echo the value, which is the secret itself when the colon is missing.
        let (secret, salt) = match c.non_empty("appsecret")?.split_once(':') {
            Some((s, t)) if !s.is_empty() && !t.is_empty() => (s.to_owned(), t.to_owned()),
            _ => {
                return Err(Error::config_at(
                    "appsecret",
                    "appsecret must be \"secret:salt\" with both parts non-empty",
                ))
            }
        };

        let url = match (c.get("url"), c.get("env")) {
            (Some(_), Some(_)) => {
                return Err(Error::config_at("env", "give either url or env, not both"))
            }
            (Some(_), None) => check_url(c.non_empty("url")?)?,
            (None, Some(_)) => match c.non_empty("env")? {
                "test" => TEST_URL.to_owned(),
                "prod" => PROD_URL.to_owned(),
                _ => return Err(Error::config_at("env", "env must be \"test\" or \"prod\"")),
            },
            (None, None) => PROD_URL.to_owned(),
        };

        let millis = |key: &str, default: u64, min: u64, max: u64| {
            c.integer(key, default, min, max).map(Duration::from_millis)
        };
        let timeout = millis("timeout_ms", 30_000, 1, 3_600_000)?;
        // Unset, the connect timeout follows timeout_ms: 5 s, but at most half of timeout_ms,
        // so a short timeout_ms alone is valid and still leaves room for the one resend that
        // a status-7 answer allows. Set explicitly, a contradiction is an error.
        let default_connect = (timeout.as_millis() as u64 / 2).clamp(1, 5_000);
        let connect_timeout = millis("connect_timeout_ms", default_connect, 1, 600_000)?;
        if connect_timeout > timeout {
            return Err(Error::config_at(
                "connect_timeout_ms",
                "connect_timeout_ms must not exceed timeout_ms",
            ));
        }
        Ok(Config {
            sid,
            appkey,
            secret: Secret(secret),
            salt,
            url,
            connect_timeout,
            timeout,
            idle_timeout: millis("idle_timeout_ms", 4_000, 0, 600_000)?,
            // The biggest documented answer is a query page: measured from the examples on the
            // Refund.search and Refund.queryWithDetail pages, an order is ~1.4 KB plus ~1 KB
            // per line, so 200 orders (the pages' suggested page_size ceiling) of 20 lines with
            // Chinese names is ~6 MB. 16 MiB leaves generous headroom and still bounds a
            // runaway answer.
            max_response_bytes: c.integer("max_response_bytes", 16 << 20, 1024, 1 << 30)?,
            max_retries: c.integer("max_retries", 3, 0, 10)? as u32,
            log: c.boolean("log", false)?,
            test_hooks: c.boolean("test_hooks", false)?,
            proxy: match c.get("proxy") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => Some(parse_proxy(p)?),
                Some(_) => {
                    return Err(Error::config_at(
                        "proxy",
                        "proxy must be a string (http://host:port or socks5://host:port)",
                    ))
                }
            },
            resolve_hook: None,
        })
    }
}

/// The gateway address: http or https, a host, no query or fragment (the client adds the query).
fn check_url(url: &str) -> Result<String> {
    let bad = |message: &str| Error::config_at("url", message);
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
        .ok_or_else(|| bad("url must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad("url has no host"));
    }
    if url.contains('?') || url.contains('#') || url.chars().any(char::is_whitespace) {
        return Err(bad(
            "url must be the gateway address without query, fragment or spaces",
        ));
    }
    url.parse::<ureq::http::Uri>()
        .map_err(|e| Error::config_at("url", format_args!("url is not valid: {e}")))?;
    Ok(url.to_owned())
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
    fn proxy_password_is_never_in_debug() {
        let c = Config::from_json(&format!(
            r#"{{{BASE},"proxy":"http://till:hunter2@127.0.0.1:3128"}}"#
        ))
        .unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("127.0.0.1:3128"), "{debug}");
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
