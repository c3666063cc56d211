//! A client: config, one transport (connection pool) and the learned gateway clock. It signs
//! and sends prepared calls and applies the resend policy, which has exactly two cases, both
//! after a 2xx answer that provably rejected the request (docs/abi.md, "delivery"): status 7
//! (timestamp) once after learning the clock offset, and the rate/concurrency limits with
//! bounded, jittered backoff. Each resend needs enough of `timeout_ms` left for a whole attempt,
//! so a resend never turns a clean rejection into an unknown. Nothing else is sent twice.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::answer::{interpret, Success};
use crate::clock::Clock;
use crate::config::Config;
use crate::error::{Delivery, Error};
use crate::request::Prepared;
use crate::sign::sign;
use crate::transport::{Answer, Transport};

/// Where log lines go when logging is on. Lines never contain the secret or the sign.
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// A client of one seller account (`sid`): its config, one connection pool and the learned
/// gateway clock. Shared between threads; every call is independent.
pub struct Client {
    config: Config,
    transport: Transport,
    clock: Clock,
    /// stderr when the config says `"log": true`; a Rust test's sink otherwise.
    log: Option<LogSink>,
    /// Set at any time through `wdt_client_set_log_callback` (GUI tills have no console).
    callback: RwLock<Option<LogSink>>,
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
    /// The gateway's data, or the error to put in the envelope.
    pub result: Result<Success, Error>,
    /// How many requests went to the gateway for this call.
    pub attempts: u32,
}

impl Client {
    /// A client for `config`; logs to stderr when the config says `"log": true`.
    pub fn new(config: Config) -> Client {
        let log: Option<LogSink> = if config.log {
            Some(Arc::new(crate::log::to_stderr))
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
            callback: RwLock::new(None),
        }
    }

    /// The config this client was made from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sends log lines to `sink` as well (None turns it off). Lines never carry the secret.
    pub fn set_log_callback(&self, sink: Option<LogSink>) {
        // A poisoned lock only means a sink panicked once; the slot itself is still sound.
        match self.callback.write() {
            Ok(mut slot) => *slot = sink,
            Err(poisoned) => *poisoned.into_inner() = sink,
        }
    }

    /// The learned gateway clock offset in seconds (gateway minus local).
    pub fn clock_offset(&self) -> i64 {
        self.clock.offset()
    }

    fn log(&self, line: &str) {
        if let Some(log) = &self.log {
            log(line);
        }
        let callback = match self.callback.read() {
            Ok(slot) => slot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        if let Some(callback) = callback {
            callback(line);
        }
    }

    fn logging(&self) -> bool {
        self.log.is_some() || self.callback.read().map_or(true, |slot| slot.is_some())
    }

    /// Signs and sends a validated call, with the resend policy of the module comment. Crate
    /// only: `Prepared` and `Reply` are internals (the `internals` feature names both).
    pub(crate) fn execute(&self, call: &Prepared) -> Reply {
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
            let took = started.elapsed();
            self.log_attempt(call, attempts, &result, took);
            let result = match result {
                Ok(mut answer) => {
                    let date = answer.date.take();
                    let result = interpret(answer);
                    self.learn_clock(date.as_deref(), &result);
                    result
                }
                Err(e) => Err(e),
            };
            // A resend must fit a whole attempt in what is left of timeout_ms: a connection
            // (perhaps a new one) plus as long as the last attempt took.
            let fits = |pause: Duration| {
                Instant::now() + pause + self.config.connect_timeout + took <= deadline
            };
            match &result {
                // 时间戳错误: the gateway refused the request, so sending it again is safe; worth
                // it only if the answer taught us a different clock offset.
                Err(Error::Api {
                    status: 7,
                    delivery: Delivery::Rejected,
                    ..
                }) if !timestamp_retried
                    && self.clock.offset() != used_offset
                    && fits(Duration::ZERO) =>
                {
                    timestamp_retried = true;
                    continue;
                }
                Err(e @ Error::Api { .. })
                    if e.retryable() && rate_retries < self.config.max_retries =>
                {
                    let pause = backoff(rate_retries);
                    if fits(pause) {
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

    /// The `Date` header moves the clock only when the gateway itself answered (a proxy's or a
    /// portal's page must not), and by a large step only when the gateway said 时间戳错误.
    fn learn_clock(&self, date: Option<&str>, result: &Result<Success, Error>) {
        let trusted_jump = match result {
            Ok(_) => false,
            Err(Error::Api { status, .. }) => *status == 7,
            Err(_) => return,
        };
        let Some(date) = date else { return };
        if let crate::clock::Learned::Ignored(offset) = self.clock.observe_date(date, trusted_jump)
        {
            if self.logging() {
                self.log(&format!(
                    "wdt: ignored a Date header {offset} s away from the local clock (kept {} s)",
                    self.clock.offset()
                ));
            }
        }
    }

    fn attempt(&self, call: &Prepared, budget: Duration) -> Result<Answer, Error> {
        if budget.is_zero() {
            return Err(Error::Timeout {
                delivery: crate::error::Delivery::NotSent,
                message: "no time left in timeout_ms for another attempt".into(),
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
        if !self.logging() {
            return;
        }
        let outcome = match result {
            Ok(a) => match &a.note {
                None => format!("http {} ({} bytes)", a.http_status, a.body.len()),
                Some(note) => format!("http {} ({} bytes; {note})", a.http_status, a.body.len()),
            },
            Err(e) => format!("{} ({}): {}", e.kind(), e.delivery().as_str(), e),
        };
        self.log(&format!(
            "wdt: {} attempt {} -> {} in {} ms (clock offset {} s)",
            call.method,
            attempt,
            outcome,
            took.as_millis(),
            self.clock.offset()
        ));
    }
}

/// 0.5 s, 1 s, 2 s, 4 s… capped at 8 s, each scaled by a random factor in [0.5, 1) so that tills
/// rejected together do not come back together.
fn backoff(retry: u32) -> Duration {
    let base = 500u64.saturating_mul(1 << retry.min(4)).min(8_000);
    let jitter = 0.5 + (crate::random::next_u64() % 1000) as f64 / 2000.0;
    Duration::from_millis((base as f64 * jitter) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_jittered() {
        for retry in 0..20 {
            let b = backoff(retry);
            assert!(b <= Duration::from_millis(8_000), "{b:?}");
            assert!(b >= Duration::from_millis(250), "{b:?}");
        }
    }
}
