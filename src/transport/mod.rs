//! HTTP on ureq 3. One agent, hence one connection pool, per client: the gateway routes by
//! seller, so two clients never share a connection. This module only moves bytes and says
//! honestly whether the request can have left the machine; it never retries, because a
//! POST whose fate is unknown must not be sent twice (the caller decides).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport as Wire,
};

use crate::config::Config;
use crate::error::{Delivery, Error};

/// What came back: the HTTP status, the `Date` header, and the body, read whatever the status.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status code.
    pub http_status: u16,
    /// The `Date` header, which teaches the client the gateway's clock.
    pub date: Option<String>,
    /// The body, whatever the status.
    pub body: Vec<u8>,
}

/// One client's connection pool and the rules for moving bytes.
pub struct Transport {
    agent: ureq::Agent,
    max_response_bytes: u64,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").finish_non_exhaustive()
    }
}

impl Transport {
    /// The transport of a client made from `config`.
    pub fn new(config: &Config) -> Transport {
        let agent_config = ureq::Agent::config_builder()
            // Non-2xx bodies carry the gateway's JSON (or a proxy's page): read them, don't throw.
            .http_status_as_error(false)
            // A redirect would re-send the quick return to another address: never follow one.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.timeout))
            .max_idle_age(config.idle_timeout)
            .user_agent(concat!("libwdt/", env!("CARGO_PKG_VERSION")))
            .build();
        Transport {
            agent: ureq::Agent::with_parts(
                agent_config,
                DefaultConnector::default().chain(Coalesce),
                QuickResolver::default(),
            ),
            max_response_bytes: config.max_response_bytes,
        }
    }

    /// POSTs `body` to `url` with `query` (percent-encoded here), within `budget`.
    pub fn post(
        &self,
        url: &str,
        query: &[(&str, &str)],
        body: &str,
        budget: Duration,
    ) -> Result<Answer, Error> {
        let mut response = self
            .agent
            .post(url)
            .config()
            .timeout_global(Some(budget))
            .build()
            .header("Content-Type", "application/json; charset=utf-8")
            .query_pairs(query.iter().copied())
            .send(body)
            .map_err(|e| map_error(e, false))?;

        let http_status = response.status().as_u16();
        let date = response
            .headers()
            .get("date")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // The status line arrived, so the gateway has the request: from here every failure
        // leaves delivery unknown.
        let body = response
            .body_mut()
            .with_config()
            .limit(self.max_response_bytes)
            .read_to_vec()
            .map_err(|e| map_error(e, true))?;
        Ok(Answer {
            http_status,
            date,
            body,
        })
    }
}

/// Maps a ureq error to the envelope kinds. `answered` is true once response headers arrived.
fn map_error(e: ureq::Error, answered: bool) -> Error {
    use ureq::Error as U;
    use ureq::Timeout as T;
    // Only failures that happen before a connection exists prove that nothing was sent.
    let not_sent = !answered
        && match &e {
            U::HostNotFound | U::ConnectionFailed | U::BadUri(_) => true,
            U::Timeout(T::Resolve | T::Connect) => true,
            U::Io(io) => matches!(
                io.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::AddrNotAvailable
            ),
            _ => false,
        };
    let delivery = if not_sent {
        Delivery::NotSent
    } else {
        Delivery::Unknown
    };
    match e {
        U::BodyExceedsLimit(limit) => Error::BadResponse {
            message: format!("answer larger than max_response_bytes ({limit} bytes)"),
        },
        U::Timeout(t) => Error::Timeout {
            delivery,
            message: timeout_phase(t).to_owned(),
        },
        U::Decompress(_, io) => Error::BadResponse {
            message: format!("cannot decompress: {io}"),
        },
        U::Protocol(p) if answered => Error::BadResponse {
            message: p.to_string(),
        },
        other => Error::Transport {
            delivery,
            message: other.to_string(),
        },
    }
}

fn timeout_phase(t: ureq::Timeout) -> &'static str {
    use ureq::Timeout as T;
    match t {
        T::Resolve => "resolving the gateway's host name",
        T::Connect => "connecting to the gateway (connect_timeout_ms)",
        T::SendRequest | T::SendBody => "sending the request",
        T::RecvResponse => "waiting for the answer",
        T::RecvBody => "reading the answer",
        _ => "no complete answer within timeout_ms",
    }
}

/// ureq resolves the host before it looks in its connection pool, and with a timeout set it
/// does so on a new thread, for every call, even for an IP literal and a pooled connection:
/// measured at about a third of the client's CPU per call and 3x the latency (BENCHMARKS.md).
/// This resolver answers IP literals directly and keeps a host name's addresses for a short
/// while, falling back to ureq's own resolver (with its timeout) on a miss. The resolver API
/// is ureq's `unversioned` one: check it on every ureq upgrade.
#[derive(Debug, Default)]
struct QuickResolver {
    inner: DefaultResolver,
    cache: Mutex<Option<(String, Instant, ResolvedSocketAddrs)>>,
}

/// Long enough to matter for a till's bursts, short enough to follow a gateway's DNS change.
const DNS_TTL: Duration = Duration::from_secs(30);

impl Resolver for QuickResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or("");
        let default_port = if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        };
        let port = uri.port_u16().unwrap_or(default_port);
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            let mut addrs = self.empty();
            addrs.push(SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        let key = format!("{host}:{port}");
        if let Ok(cache) = self.cache.lock() {
            if let Some((k, at, addrs)) = cache.as_ref() {
                if *k == key && at.elapsed() < DNS_TTL {
                    return Ok(addrs.clone());
                }
            }
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some((key, Instant::now(), addrs.clone()));
        }
        Ok(addrs)
    }
}

/// ureq writes a request's head and its body with two writes, so every quick return costs two
/// segments and two trips through the peer's receive path: the benchmark measured the second
/// `sendto` at about a third of the client's CPU per call. This layer, on top of ureq's own
/// connector chain (so above TLS too), holds a head back until the body follows and sends
/// both with one write. Nothing is held across a read, so a request is never left half-sent.
#[derive(Debug)]
struct Coalesce;

impl Connector<Box<dyn Wire>> for Coalesce {
    type Out = CoalescingWire;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<Box<dyn Wire>>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| CoalescingWire {
            inner,
            held: Vec::new(),
        }))
    }
}

#[derive(Debug)]
struct CoalescingWire {
    inner: Box<dyn Wire>,
    /// A request head not yet written, waiting for its body.
    held: Vec<u8>,
}

impl CoalescingWire {
    /// Writes what is held, followed by the first `amount` bytes of the output buffer.
    fn send(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if self.held.is_empty() {
            return if amount == 0 {
                Ok(())
            } else {
                self.inner.transmit_output(amount, timeout)
            };
        }
        let held = std::mem::take(&mut self.held);
        let out = self.inner.buffers().output();
        if held.len() + amount <= out.len() {
            out.copy_within(0..amount, held.len());
            out[..held.len()].copy_from_slice(&held);
            self.inner.transmit_output(held.len() + amount, timeout)
        } else {
            // Too large to join in the buffer: two writes, in order.
            let pending = out[..amount].to_vec();
            out[..held.len()].copy_from_slice(&held);
            self.inner.transmit_output(held.len(), timeout)?;
            let out = self.inner.buffers().output();
            out[..pending.len()].copy_from_slice(&pending);
            self.inner.transmit_output(pending.len(), timeout)
        }
    }
}

/// True for a complete request head that announces a body (Content-Length > 0).
fn head_with_body(bytes: &[u8]) -> bool {
    if !bytes.ends_with(b"\r\n\r\n") {
        return false;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    text.split("\r\n").any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("content-length")
                && value.trim().parse::<u64>().is_ok_and(|n| n > 0)
        })
    })
}

impl Wire for CoalescingWire {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if self.held.is_empty() && head_with_body(&self.inner.buffers().output()[..amount]) {
            self.held = self.inner.buffers().output()[..amount].to_vec();
            return Ok(());
        }
        self.send(amount, timeout)
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.send(0, timeout)?;
        self.inner.maybe_await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.send(0, timeout)?;
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.held.is_empty() && self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_only_a_complete_head_that_announces_a_body() {
        assert!(head_with_body(
            b"POST /openapi HTTP/1.1\r\nContent-Length: 12\r\n\r\n"
        ));
        assert!(head_with_body(
            b"POST / HTTP/1.1\r\ncontent-length:3\r\n\r\n"
        ));
        assert!(!head_with_body(
            b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!head_with_body(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!head_with_body(
            b"POST / HTTP/1.1\r\nContent-Length: 12\r\n"
        ));
        assert!(!head_with_body(b"[{\"tid\":\"x\"}]"));
    }
}
