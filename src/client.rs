//! A client: config, one transport (connection pool) and the learned gateway clock. It signs
//! and sends prepared calls and applies the resend policy, which has exactly two cases, both
//! where the gateway provably rejected the request: status 7 (timestamp) once after learning
//! the clock offset, and the rate/concurrency limits with bounded, jittered backoff. Nothing
//! else is ever sent twice.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::clock::Clock;
use crate::config::Config;
use crate::envelope::Success;
use crate::error::Error;
use crate::request::Prepared;
use crate::sign::sign;
use crate::transport::{Answer, Transport};

/// Where log lines go when logging is on. Lines never contain the secret or the sign.
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

pub struct Client {
    config: Config,
    transport: Transport,
    clock: Clock,
    log: Option<LogSink>,
}

// The C ABI promises a client may be shared between threads.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Client>();
};

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("clock_offset", &self.clock.offset())
            .finish_non_exhaustive()
    }
}

/// The outcome of one call and how many times it went to the gateway.
#[derive(Debug)]
pub struct Reply {
    pub result: Result<Success, Error>,
    pub attempts: u32,
}

const RATE_LIMIT_MESSAGES: [&str; 2] = ["超过每分钟最大调用频率限制", "超过每分钟最大并发次数限制"];

impl Client {
    pub fn new(config: Config) -> Client {
        let log: Option<LogSink> = if config.log {
            Some(Arc::new(|line: &str| eprintln!("{line}")))
        } else {
            None
        };
        Client::with_log_sink(config, log)
    }

    /// Like [`Client::new`], with log lines sent to `sink` instead of stderr (tests use it to
    /// prove no line carries the secret).
    pub fn with_log_sink(config: Config, log: Option<LogSink>) -> Client {
        Client {
            transport: Transport::new(&config),
            clock: Clock::default(),
            config,
            log,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The gateway's clock minus ours, in seconds, as learned from answers (0 until one came).
    pub fn clock_offset(&self) -> i64 {
        self.clock.offset()
    }

    pub fn execute(&self, call: &Prepared) -> Reply {
        let deadline = Instant::now() + self.config.timeout;
        let mut attempts = 0u32;
        let mut timestamp_retried = false;
        let mut rate_retries = 0u32;
        loop {
            attempts += 1;
            let used_offset = self.clock.offset();
            let remaining = deadline.saturating_duration_since(Instant::now());
            let started = Instant::now();
            let result = self.attempt(call, remaining);
            self.log_attempt(call, attempts, &result, started.elapsed());
            let result = match result {
                Ok(answer) => {
                    if let Some(date) = &answer.date {
                        self.clock.observe_date(date);
                    }
                    interpret(&answer)
                }
                Err(e) => Err(e),
            };
            match &result {
                // 时间戳错误: the gateway refused the request, so sending it again is safe; worth
                // it only if the answer taught us a different clock offset.
                Err(Error::Api { status: 7, .. })
                    if !timestamp_retried && self.clock.offset() != used_offset =>
                {
                    timestamp_retried = true;
                    continue;
                }
                Err(Error::Api {
                    retryable: true, ..
                }) if rate_retries < self.config.max_retries => {
                    let pause = backoff(rate_retries);
                    // Only wait if the next attempt still has a useful budget after the pause.
                    if Instant::now() + pause + Duration::from_millis(50) < deadline {
                        rate_retries += 1;
                        std::thread::sleep(pause);
                        continue;
                    }
                }
                _ => {}
            }
            return Reply { result, attempts };
        }
    }

    fn attempt(&self, call: &Prepared, budget: Duration) -> Result<Answer, Error> {
        if budget.is_zero() {
            return Err(Error::Timeout {
                delivery: crate::error::Delivery::NotSent,
                message: "timeout: no time left in timeout_ms for another attempt".into(),
            });
        }
        let timestamp = self.clock.timestamp().to_string();
        let (page_size, page_no);
        let c = &self.config;
        let mut params: Vec<(&str, &str)> = vec![
            ("sid", &c.sid),
            ("key", &c.appkey),
            ("salt", &c.salt),
            ("method", &call.method),
            ("v", "1.0"),
            ("timestamp", &timestamp),
        ];
        if let Some(p) = &call.pager {
            page_size = p.page_size.to_string();
            page_no = p.page_no.to_string();
            params.push(("page_size", &page_size));
            params.push(("page_no", &page_no));
            params.push(("calc_total", if p.calc_total { "1" } else { "0" }));
        }
        let sign = sign(c.secret.expose(), &params, &call.body);
        params.push(("sign", &sign));
        self.transport.post(&c.url, &params, &call.body, budget)
    }

    fn log_attempt(
        &self,
        call: &Prepared,
        attempt: u32,
        result: &Result<Answer, Error>,
        took: Duration,
    ) {
        let Some(log) = &self.log else { return };
        let outcome = match result {
            Ok(a) => format!("http {} ({} bytes)", a.http_status, a.body.len()),
            Err(e) => format!("{} ({}): {}", e.kind(), e.delivery().as_str(), e),
        };
        log(&format!(
            "wdt: {} attempt {} -> {} in {} ms (clock offset {} s)",
            call.method,
            attempt,
            outcome,
            took.as_millis(),
            self.clock.offset()
        ));
    }
}

/// Reads the gateway's JSON: `{"status":0,"data":…}` or `{"status":N,"message":…}`.
pub fn interpret(answer: &Answer) -> Result<Success, Error> {
    let body = answer
        .body
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&answer.body);
    let gateway = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map.get("status").and_then(Value::as_i64).map(|s| (s, map)),
        _ => None,
    };
    let ok_http = (200..300).contains(&answer.http_status);
    match gateway {
        Some((0, map)) if ok_http => {
            let data = map.get("data").cloned().unwrap_or(Value::Null);
            let total_count = map
                .get("total_count")
                .or_else(|| data.get("total_count"))
                .cloned();
            Ok(Success { data, total_count })
        }
        Some((status, map)) if status != 0 => {
            let message = match map.get("message") {
                Some(Value::String(m)) => m.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let retryable = RATE_LIMIT_MESSAGES.iter().any(|m| message.contains(m));
            Err(Error::Api {
                status,
                message,
                retryable,
            })
        }
        _ if ok_http => Err(Error::BadResponse {
            message: format!(
                "bad response: http {} answer is not the gateway's json: {}",
                answer.http_status,
                snippet(body)
            ),
        }),
        _ => Err(Error::Http {
            http_status: answer.http_status,
            message: format!("http: status {}: {}", answer.http_status, snippet(body)),
        }),
    }
}

/// The start of a body, for a message: enough to recognise a proxy or portal page.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    flat.trim().to_owned()
}

/// 0.5 s, 1 s, 2 s, 4 s… capped at 8 s, each scaled by a random factor in [0.5, 1) so that tills
/// rejected together do not come back together.
fn backoff(retry: u32) -> Duration {
    let base = 500u64.saturating_mul(1 << retry.min(4)).min(8_000);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64 ^ u64::from(retry));
    let jitter = 0.5 + (h.finish() % 1000) as f64 / 2000.0;
    Duration::from_millis((base as f64 * jitter) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            http_status: status,
            date: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn interprets_answers() {
        let ok = interpret(&answer(
            200,
            r#"{"status":0,"data":{"stockin_id":7,"type":12}}"#,
        ))
        .unwrap();
        assert_eq!(ok.data["stockin_id"], 7);
        let paged = interpret(&answer(
            200,
            r#"{"status":0,"data":{"order":[],"total_count":3}}"#,
        ))
        .unwrap();
        assert_eq!(paged.total_count, Some(Value::from(3)));
        match interpret(&answer(
            200,
            r#"{"status":100,"message":"未找到对应的单据信息!"}"#,
        )) {
            Err(Error::Api {
                status: 100,
                message,
                retryable: false,
            }) => assert_eq!(message, "未找到对应的单据信息!"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            interpret(&answer(
                200,
                r#"{"status":100,"message":"超过每分钟最大调用频率限制，请稍后重试"}"#
            )),
            Err(Error::Api {
                retryable: true,
                ..
            })
        ));
        assert!(matches!(
            interpret(&answer(200, "<html>portal</html>")),
            Err(Error::BadResponse { .. })
        ));
        assert!(matches!(
            interpret(&answer(200, r#"{"data":1}"#)),
            Err(Error::BadResponse { .. })
        ));
        assert!(matches!(
            interpret(&answer(500, "<html>oops</html>")),
            Err(Error::Http {
                http_status: 500,
                ..
            })
        ));
        assert!(matches!(
            interpret(&answer(502, r#"{"status":99,"message":"其他错误"}"#)),
            Err(Error::Api { status: 99, .. })
        ));
        assert!(interpret(&answer(200, "\u{feff}{\"status\":0,\"data\":null}")).is_ok());
    }

    #[test]
    fn backoff_is_bounded_and_jittered() {
        for retry in 0..20 {
            let b = backoff(retry);
            assert!(b <= Duration::from_millis(8_000), "{b:?}");
            assert!(b >= Duration::from_millis(250), "{b:?}");
        }
    }
}
