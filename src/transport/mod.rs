//! HTTP on ureq 3. One agent, hence one connection pool, per client: the gateway routes by
//! seller, so two clients never share a connection. This module only moves bytes and says
//! honestly whether the request can have left the machine; it never retries, because a
//! POST whose fate is unknown must not be sent twice (the caller decides).
//!
//! - `agent.rs`: the agent, its timeouts, its proxy and connector chain;
//! - `resolver.rs`: name resolution (IP literals, a short cache, the test hook);
//! - `wire.rs`: our TCP transport, the one-write request, and the count of request bytes
//!   written per attempt that decides `delivery`.

mod agent;
mod resolver;
mod wire;

use std::time::Duration;

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
        Transport {
            agent: agent::agent(config),
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
        wire::begin_attempt();
        let mut response = self
            .agent
            .post(with_query(url, query))
            .config()
            .timeout_global(Some(budget))
            .build()
            .header("Content-Type", "application/json; charset=utf-8")
            .send(body)
            .map_err(map_error)?;

        let http_status = response.status().as_u16();
        let date = response
            .headers()
            .get("date")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .body_mut()
            .with_config()
            .limit(self.max_response_bytes)
            .read_to_vec()
            .map_err(map_error)?;
        Ok(Answer {
            http_status,
            date,
            body,
        })
    }
}

/// `url?name=value&…`, percent-encoded, in one allocation. ureq's `query_pairs` formats and
/// allocates each pair on its own (about 7 % of a warm quick return's CPU, BENCHMARKS.md).
/// Everything but RFC 3986's unreserved characters is encoded, which every server decodes
/// alike; config.rs guarantees `url` has no query of its own.
fn with_query(url: &str, query: &[(&str, &str)]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let worst: usize = query.iter().map(|(k, v)| 3 * (k.len() + v.len()) + 2).sum();
    let mut out = String::with_capacity(url.len() + worst);
    out.push_str(url);
    for (i, (name, value)) in query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        for (j, part) in [name, value].into_iter().enumerate() {
            if j == 1 {
                out.push('=');
            }
            for &b in part.as_bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    out.push(b as char);
                } else {
                    out.push('%');
                    out.push(HEX[usize::from(b >> 4)] as char);
                    out.push(HEX[usize::from(b & 0xf)] as char);
                }
            }
        }
    }
    out
}

/// Maps a ureq error to the envelope kinds. Delivery is decided from one fact, whatever ureq
/// calls the error: did any byte of this attempt's request reach a socket (docs/abi.md).
fn map_error(e: ureq::Error) -> Error {
    use ureq::Error as U;
    let delivery = if wire::request_bytes_written() == 0 {
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
            message: timeout_phase(t, delivery).to_owned(),
        },
        U::Decompress(_, io) => Error::BadResponse {
            message: format!("cannot decompress: {io}"),
        },
        U::Protocol(p) if delivery == Delivery::Unknown => Error::BadResponse {
            message: p.to_string(),
        },
        other => Error::Transport {
            delivery,
            message: other.to_string(),
        },
    }
}

fn timeout_phase(t: ureq::Timeout, delivery: Delivery) -> &'static str {
    use ureq::Timeout as T;
    match t {
        T::Resolve => "resolving the gateway's host name",
        T::Connect => "connecting to the gateway (connect_timeout_ms)",
        T::SendRequest | T::SendBody => "sending the request",
        T::RecvResponse => "waiting for the answer",
        T::RecvBody => "reading the answer",
        _ if delivery == Delivery::NotSent => {
            "no connection to the gateway within timeout_ms (nothing was sent)"
        }
        _ => "no complete answer within timeout_ms",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Instant;

    /// A keep-alive server that answers every request with one write, as nginx does (the
    /// gateway double writes head and body separately, which can cost the client two reads).
    fn one_write_server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/openapi", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                while buf.len() < end + 4 + len {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                buf.drain(..end + 4 + len);
                let body = r#"{"status":0,"data":{"stockin_id":1}}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nDate: Mon, 30 Nov 2026 23:00:00 GMT\r\n\
                     Content-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if s.write_all(answer.as_bytes()).is_err() {
                    return;
                }
            }
        });
        url
    }

    #[test]
    fn the_query_is_percent_encoded_in_one_string() {
        assert_eq!(
            with_query(
                "https://api.wangdian.cn/openapi",
                &[
                    ("method", "wms.stockin.SmartRefund.upload"),
                    ("sid", "店 a+b&c=d/~_"),
                    ("v", ""),
                ]
            ),
            "https://api.wangdian.cn/openapi?method=wms.stockin.SmartRefund.upload\
             &sid=%E5%BA%97%20a%2Bb%26c%3Dd%2F~_&v="
        );
        assert_eq!(with_query("http://h/p", &[]), "http://h/p");
    }

    /// Socket syscalls of one warm call: one write and one read back to back; plus one probe
    /// after the connection idled; never a setsockopt. Counted at every syscall site of
    /// `wire.rs` (strace in `bench/run.sh` counts the whole process).
    #[test]
    fn warm_calls_make_two_syscalls_and_probe_only_after_idling() {
        let url = one_write_server();
        let config = Config::from_json(&format!(
            r#"{{"sid":"s","appkey":"k","appsecret":"a:b","url":"{url}","timeout_ms":5000}}"#
        ))
        .unwrap();
        let transport = Transport::new(&config);
        let deadline = Instant::now() + config.timeout;
        let call = || {
            let before = wire::SYSCALLS.with(|c| c.get());
            let budget = deadline.saturating_duration_since(Instant::now());
            let answer = transport
                .post(&url, &[("method", "x")], "{}", budget)
                .expect("the server answers");
            assert_eq!(
                answer.date.as_deref(),
                Some("Mon, 30 Nov 2026 23:00:00 GMT")
            );
            assert_eq!(answer.http_status, 200);
            wire::SYSCALLS.with(|c| c.get()) - before
        };
        call(); // connects
        for i in 0..50 {
            assert_eq!(call(), 2, "warm call {i}: write and read only");
        }
        std::thread::sleep(wire::PROBE_AFTER + Duration::from_millis(50));
        assert_eq!(call(), 3, "after idling: probe, write, read");
        assert_eq!(call(), 2);
    }
}
