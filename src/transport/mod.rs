//! HTTP/1.1 on ureq's own parts. One pool of connections per client: the gateway routes by
//! seller, so two clients never share a connection. This module only moves bytes and says
//! honestly whether the request can have reached the gateway (docs/abi.md, "delivery"). It
//! sends a request once, with one exception that is still one request reaching the gateway:
//! when a pooled connection turns out closed by the server and the kernel proves that none of
//! the request's bytes was acknowledged, it goes again on a new connection, once.
//!
//! A call is driven with `ureq-proto` (ureq's sans-IO protocol core) over connections that
//! ureq's connector chain opened; ureq's request loop (middleware, per-request config, timings,
//! layered body readers) cost about 40 % of a warm call's instructions (BENCHMARKS.md).
//!
//! - `connect.rs`: the connector chain (proxies, TCP, rustls) and its timeouts;
//! - `resolver.rs`: name resolution (IP literals, a short cache, the test hook);
//! - `wire.rs`: our TCP transport, the probe before reuse, and what a dead connection's kernel
//!   says about the request's bytes;
//! - `exchange.rs`: one exchange, phase by phase; `body.rs`: an answer's body by its framing.

mod body;
mod connect;
mod exchange;
mod resolver;
mod wire;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::http::Uri;
use ureq::unversioned::transport::Transport as Wire;

use crate::config::Config;
use crate::error::{Delivery, Error};
use body::Body;
use exchange::Seen;
use wire::{Side, Verdict};

/// What came back: the HTTP status, the `Date` header, and the body, read whatever the status.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status code.
    pub http_status: u16,
    /// The `Date` header, which teaches the client the gateway's clock.
    pub date: Option<String>,
    /// The body, whatever the status.
    pub body: Vec<u8>,
    /// Why the request went out on a second connection, when it did (for the log line).
    pub note: Option<String>,
}

/// A connection and what is known of its socket.
struct Conn {
    wire: Box<dyn Wire>,
    side: Arc<Side>,
}

/// An idle keep-alive connection and when it was last used.
struct Idle {
    conn: Conn,
    since: Instant,
}

/// Idle connections kept per client (ureq's default per host): enough for a till's few threads.
const MAX_IDLE: usize = 3;
/// The largest response head read. A gateway's is well under 1 KiB; nginx itself refuses
/// request heads over 8 KiB by default.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Per connection (connect.rs): the input buffer must hold a whole head and more.
const INPUT_BUFFER: usize = 2 * MAX_HEAD_BYTES;
const OUTPUT_BUFFER: usize = 16 * 1024;
/// How long a failed exchange waits, at most, for the kernel to learn whether a server that
/// closed the connection refused the request's bytes (an RST comes back within one round trip).
const SETTLE: Duration = Duration::from_secs(1);

/// One client's connection pool and the rules for moving bytes.
pub struct Transport {
    opener: connect::Opener,
    idle: Mutex<Vec<Idle>>,
    idle_timeout: Duration,
    max_response_bytes: u64,
    /// Unit tests switch the probe off to make a server's FIN cross the request, as it can in
    /// the instant between the probe and the write.
    #[cfg(test)]
    probe_off: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").finish_non_exhaustive()
    }
}

const USER_AGENT: &str = concat!("libwdt/", env!("CARGO_PKG_VERSION"));

/// Why an exchange failed, and what its request bytes can have done.
#[derive(Debug)]
struct Failure {
    fail: Fail,
    verdict: Verdict,
}

impl Failure {
    fn nothing_sent(fail: impl Into<Fail>) -> Failure {
        Failure {
            fail: fail.into(),
            verdict: Verdict::Nothing,
        }
    }
}

impl Transport {
    /// The transport of a client made from `config`.
    pub fn new(config: &Config) -> Transport {
        Transport {
            opener: connect::Opener::new(config),
            idle: Mutex::new(Vec::new()),
            idle_timeout: config.idle_timeout,
            max_response_bytes: config.max_response_bytes,
            #[cfg(test)]
            probe_off: std::sync::atomic::AtomicBool::new(false),
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
        let deadline = Instant::now() + budget;
        let uri: Uri = with_query(url, query).try_into().map_err(|e| {
            map_error(Failure::nothing_sent(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("url: {e}"),
            )))
        })?;
        let (conn, reused) = match self.pooled() {
            Some(conn) => (conn, true),
            None => (self.open(&uri, deadline).map_err(map_error)?, false),
        };
        match self.exchange(conn, &uri, body, deadline) {
            Ok(answer) => Ok(answer),
            // The server closed the pooled connection as the request went out (between the
            // probe and the write): provably nothing reached it, so the request goes once more
            // on a new connection, still one request reaching the gateway.
            Err(first) if reused && !matches!(first.verdict, Verdict::Maybe(_)) => {
                let why = match &first.verdict {
                    Verdict::NotAcked { sent } => format!(
                        "the gateway had closed the pooled connection and acknowledged none of the {sent} request bytes"
                    ),
                    _ => "the pooled connection failed before any byte of the request was written"
                        .to_owned(),
                };
                let conn = self.open(&uri, deadline).map_err(map_error)?;
                let mut answer = self
                    .exchange(conn, &uri, body, deadline)
                    .map_err(map_error)?;
                answer.note = Some(format!("sent on a new connection: {why}"));
                Ok(answer)
            }
            Err(failure) => Err(map_error(failure)),
        }
    }

    fn open(&self, uri: &Uri, deadline: Instant) -> Result<Conn, Failure> {
        let (wire, side) = self
            .opener
            .open(uri, deadline)
            .map_err(Failure::nothing_sent)?;
        Ok(Conn { wire, side })
    }

    /// A pooled connection with nothing waiting on it and not closed by the server, or None.
    fn pooled(&self) -> Option<Conn> {
        loop {
            let idle = self.idle.lock().ok()?.pop()?;
            let mut conn = idle.conn;
            // Never send on a connection too old for the server's keep-alive, closed by it, or
            // holding bytes nobody asked for (wire.rs).
            #[cfg(test)]
            if self.probe_off.load(std::sync::atomic::Ordering::SeqCst) {
                return Some(conn);
            }
            if idle.since.elapsed() < self.idle_timeout && conn.wire.is_open() {
                return Some(conn);
            }
        }
    }

    /// Puts a connection whose answer ended exactly where its framing said back into the pool.
    fn release(&self, mut conn: Conn) {
        // Bytes after the answer mean the server and we disagree about where it ended.
        if !conn.wire.buffers().input().is_empty() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(Idle {
                    conn,
                    since: Instant::now(),
                });
            }
        }
    }

    /// One request and its answer on `conn`.
    fn exchange(
        &self,
        mut conn: Conn,
        uri: &Uri,
        body: &str,
        deadline: Instant,
    ) -> Result<Answer, Failure> {
        let before = conn.side.written();
        let mut seen = Seen::default();
        let fail = |conn: &Conn, seen: &Seen, fail: Fail| Failure {
            verdict: if seen.answered && conn.side.written() > before {
                Verdict::Maybe("the gateway began to answer".into())
            } else {
                conn.side
                    .judge(before, deadline.min(Instant::now() + SETTLE))
            },
            fail,
        };
        let request = exchange::request(uri.clone(), body.len());
        let call = exchange::send(&mut *conn.wire, request, body.as_bytes(), deadline)
            .map_err(|f| fail(&conn, &seen, f))?;
        let head = exchange::read_head(&mut *conn.wire, call, &mut seen, deadline)
            .map_err(|f| fail(&conn, &seen, f))?;
        let mut answer = Answer {
            http_status: head.status,
            date: head.date,
            body: Vec::new(),
            note: None,
        };
        if let Some(coding) = &head.encoded {
            // A non-2xx answer stays an HTTP error (its status is what the caller needs); its
            // body is not read, and the connection is not reused.
            if (200..300).contains(&answer.http_status) {
                return Err(fail(&conn, &seen, encoded(coding)));
            }
            return Ok(answer);
        }
        let mut reader = Body::new(head.framing, self.max_response_bytes).map_err(|_| {
            fail(
                &conn,
                &seen,
                ureq::Error::BodyExceedsLimit(self.max_response_bytes).into(),
            )
        })?;
        let peer_closed =
            exchange::read_body(&mut *conn.wire, &mut reader, &mut answer.body, deadline)
                .map_err(|f| fail(&conn, &seen, f))?;
        if head.keep_alive && !peer_closed && !seen.interim {
            self.release(conn);
        }
        Ok(answer)
    }
}

/// A compressed answer although we asked for none: not something we can read.
fn encoded(coding: &ureq::http::HeaderValue) -> Fail {
    Fail::Unreadable(format!(
        "answer encoded as {:?}, which was not asked for (Accept-Encoding: identity)",
        String::from_utf8_lossy(coding.as_bytes())
    ))
}

/// Why an exchange failed: what ureq's parts said, or an answer we cannot read.
#[derive(Debug)]
enum Fail {
    Ureq(ureq::Error),
    Unreadable(String),
}

impl From<ureq::Error> for Fail {
    fn from(e: ureq::Error) -> Fail {
        Fail::Ureq(e)
    }
}

impl From<ureq_proto::Error> for Fail {
    fn from(e: ureq_proto::Error) -> Fail {
        Fail::Ureq(e.into())
    }
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Fail {
        Fail::Ureq(e.into())
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

/// Maps a failed exchange to the envelope kinds. Delivery follows the verdict on the request's
/// bytes, whatever ureq calls the error (docs/abi.md); the message says which it was, so the
/// log line records why each outcome was chosen.
fn map_error(failure: Failure) -> Error {
    use ureq::Error as U;
    let Failure { fail, verdict } = failure;
    let e = match fail {
        Fail::Ureq(e) => e,
        Fail::Unreadable(message) => return Error::BadResponse { message },
    };
    let (delivery, why) = match verdict {
        Verdict::Nothing => (
            Delivery::NotSent,
            "no byte of the request was written".to_owned(),
        ),
        Verdict::NotAcked { sent } => (
            Delivery::NotSent,
            format!(
                "the gateway closed the connection and acknowledged none of the {sent} request bytes"
            ),
        ),
        Verdict::Maybe(why) => (Delivery::Unknown, why),
    };
    match e {
        U::BodyExceedsLimit(limit) => Error::BadResponse {
            message: format!("answer larger than max_response_bytes ({limit} bytes)"),
        },
        U::Timeout(t) => Error::Timeout {
            delivery,
            message: format!("{} ({why})", timeout_phase(t, delivery)),
        },
        U::Protocol(p) if delivery == Delivery::Unknown => Error::BadResponse {
            message: p.to_string(),
        },
        other => Error::Transport {
            delivery,
            message: format!("{other} ({why})"),
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
    use std::io::Write;
    use std::net::TcpListener;
    use std::time::Instant;

    /// A keep-alive server that answers every request with one write, as nginx does (the
    /// gateway double writes head and body separately, which can cost the client two reads).
    fn one_write_server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/openapi", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // The client never pipelines: each request is read whole before it is answered.
            while wdt_mock::http::read_raw_request(&mut s).is_some() {
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

    /// A server that answers each of its connections' requests with the next of `answers`
    /// (raw bytes, written in pieces of `piece` bytes), closing a connection after an answer
    /// marked `true`. Returns the URL and how many connections it accepted.
    fn scripted_server(
        answers: Vec<(&'static [u8], bool)>,
        piece: usize,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/openapi", listener.local_addr().unwrap());
        let accepted = std::sync::Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            let mut answers = answers.into_iter();
            for s in listener.incoming() {
                let Ok(mut s) = s else { return };
                count.fetch_add(1, Ordering::SeqCst);
                loop {
                    if wdt_mock::http::read_raw_request(&mut s).is_none() {
                        break;
                    }
                    let Some((answer, close)) = answers.next() else {
                        return;
                    };
                    for part in answer.chunks(piece) {
                        if s.write_all(part).is_err() {
                            break;
                        }
                        s.flush().ok();
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    if close {
                        break;
                    }
                }
            }
        });
        (url, accepted)
    }

    fn transport_for(url: &str, extra: &str) -> Transport {
        let config = Config::from_json(&format!(
            r#"{{"sid":"s","appkey":"k","appsecret":"a:b","url":"{url}","timeout_ms":3000{extra}}}"#
        ))
        .unwrap();
        Transport::new(&config)
    }

    fn post(t: &Transport, url: &str) -> Result<Answer, Error> {
        t.post(url, &[("method", "x")], "{}", Duration::from_secs(3))
    }

    #[test]
    fn answers_in_every_framing_are_read_whole() {
        let answers: Vec<(&'static [u8], bool)> = vec![
            // Chunked, in small pieces, kept alive.
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                  5\r\n{\"sta\r\n7\r\ntus\":0}\r\n0\r\n\r\n",
                false,
            ),
            // Content-Length, same connection.
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"status\":0}",
                false,
            ),
            // HTTP/1.0 without a length: the body ends when the server closes.
            (b"HTTP/1.0 200 OK\r\n\r\n{\"status\":0}", true),
            // A 302 is an answer, never followed.
            (
                b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.invalid/\r\n\
                  Content-Length: 0\r\n\r\n",
                false,
            ),
        ];
        let (url, accepted) = scripted_server(answers, 7);
        let t = transport_for(&url, "");
        for _ in 0..3 {
            let a = post(&t, &url).unwrap();
            assert_eq!(a.http_status, 200);
            assert_eq!(a.body, br#"{"status":0}"#);
        }
        let a = post(&t, &url).unwrap();
        assert_eq!(a.http_status, 302);
        assert!(a.body.is_empty());
        // The first two shared a connection; the close-delimited answer ended its own.
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    /// An interim 1xx and the answer arrive in one read: the answer is parsed from what is
    /// already buffered, not waited for.
    #[test]
    fn an_interim_answer_and_the_answer_in_one_read() {
        let answers: Vec<(&'static [u8], bool)> = vec![(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"status\":0}",
            false,
        )];
        let (url, _) = scripted_server(answers, 4096);
        let t = transport_for(&url, "");
        let a = t
            .post(&url, &[("method", "x")], "{}", Duration::from_secs(1))
            .unwrap();
        assert_eq!(
            (a.http_status, a.body.as_slice()),
            (200, &br#"{"status":0}"#[..])
        );
    }

    /// A body larger than the output buffer (16 KiB) leaves in several writes, whole.
    #[test]
    fn a_body_larger_than_the_output_buffer_is_sent_whole() {
        let answers: Vec<(&'static [u8], bool)> = vec![(
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"status\":0}",
            false,
        )];
        let (url, _) = scripted_server(answers, 4096);
        let t = transport_for(&url, "");
        let body = format!("[\"{}\"]", "x".repeat(300 * 1024));
        let a = t
            .post(&url, &[("method", "x")], &body, Duration::from_secs(3))
            .unwrap();
        // The server answers only a request it read whole (read_raw_request goes by its
        // Content-Length), so the 200 is the proof that every byte left.
        assert_eq!(a.http_status, 200);
    }

    /// A head over MAX_HEAD_BYTES is refused as such, promptly: not read forever, not taken
    /// for a closed connection. The request was sent, so its fate is unknown.
    #[test]
    fn a_head_too_large_is_refused() {
        let huge: &'static [u8] = format!(
            "HTTP/1.1 200 OK\r\nX-Filler: {}\r\nContent-Length: 2\r\n\r\n{{}}",
            "f".repeat(MAX_HEAD_BYTES + 10)
        )
        .leak()
        .as_bytes();
        let (url, _) = scripted_server(vec![(huge, false)], 4096);
        match post(&transport_for(&url, ""), &url) {
            Err(Error::Transport { delivery, message }) => {
                assert_eq!(delivery, Delivery::Unknown);
                assert!(message.contains("header"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_answer_cut_short_is_unknown_and_never_reused() {
        let answers: Vec<(&'static [u8], bool)> = vec![
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"sta",
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{\"status\":0}",
                true,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Le", true),
        ];
        let (url, accepted) = scripted_server(answers, 64);
        let t = transport_for(&url, "");
        for i in 0..3 {
            match post(&t, &url) {
                Err(Error::Transport { delivery, .. }) => {
                    assert_eq!(delivery, Delivery::Unknown, "answer {i}")
                }
                other => panic!("answer {i}: {other:?}"),
            }
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn compressed_or_oversized_answers_are_bad_responses() {
        let chunked_x: &'static [u8] = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n600\r\n{}\r\n0\r\n\r\n",
            "x".repeat(0x600)
        )
        .leak()
        .as_bytes();
        let answers: Vec<(&'static [u8], bool)> = vec![
            (
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
                false,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n", false),
            // Chunked, 1536 bytes in one chunk: over the limit although no length was announced.
            (chunked_x, false),
        ];
        let (url, _) = scripted_server(answers, 4096);
        let t = transport_for(&url, r#","max_response_bytes":1024"#);
        for i in 0..3 {
            match post(&t, &url) {
                Err(Error::BadResponse { message }) => assert!(!message.is_empty(), "{i}"),
                other => panic!("answer {i}: {other:?}"),
            }
        }
        // A compressed error page keeps its status: an HTTP error, body unread.
        let answers: Vec<(&'static [u8], bool)> = vec![(
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
            false,
        )];
        let (url, _) = scripted_server(answers, 4096);
        let a = post(&transport_for(&url, ""), &url).unwrap();
        assert_eq!((a.http_status, a.body.len()), (502, 0));
    }

    #[test]
    fn bytes_after_the_answer_keep_the_connection_out_of_the_pool() {
        let answers: Vec<(&'static [u8], bool)> = vec![
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"status\":0}HTTP/1.1 200",
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"status\":0}",
                false,
            ),
        ];
        let (url, accepted) = scripted_server(answers, 4096);
        let t = transport_for(&url, "");
        assert_eq!(post(&t, &url).unwrap().body, br#"{"status":0}"#);
        assert_eq!(post(&t, &url).unwrap().body, br#"{"status":0}"#);
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
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

    /// Socket syscalls of one warm call: the probe before reuse, one write and one read; never a
    /// setsockopt. Counted at every syscall site of `wire.rs` (strace in `bench/run.sh` counts
    /// the whole process).
    #[test]
    fn warm_calls_make_three_syscalls_probe_write_read() {
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
            assert_eq!(call(), 3, "warm call {i}: probe, write and read only");
        }
    }

    /// A server that answers the first request on its first connection and then does `then`
    /// with it; every later connection is answered normally. Counts the requests it received.
    fn closing_server(
        then: fn(&mut std::net::TcpStream),
    ) -> (
        String,
        Arc<std::sync::atomic::AtomicUsize>,
        std::sync::mpsc::Receiver<()>,
    ) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/openapi", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let (count, (done, ended)) = (requests.clone(), std::sync::mpsc::channel());
        std::thread::spawn(move || {
            for (i, s) in listener.incoming().enumerate() {
                let Ok(mut s) = s else { return };
                let (count, done) = (count.clone(), done.clone());
                std::thread::spawn(move || {
                    let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"status\":0}";
                    while wdt_mock::http::read_raw_request(&mut s).is_some() {
                        count.fetch_add(1, Ordering::SeqCst);
                        if s.write_all(answer).is_err() {
                            return;
                        }
                        if i == 0 {
                            then(&mut s);
                            let _ = done.send(());
                            return;
                        }
                    }
                });
            }
        });
        (url, requests, ended)
    }

    /// The server closed the pooled connection (its FIN and our request crossed, which the
    /// probe cannot see coming; simulated by switching the probe off): the request meets a
    /// closed socket, the kernel shows none of its bytes acknowledged, so it was not sent and
    /// goes once more on a new connection inside the same call.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_request_into_a_closed_connection_goes_again_on_a_new_one() {
        use std::sync::atomic::Ordering;
        let (url, requests, ended) = closing_server(|s| {
            let _ = s.shutdown(std::net::Shutdown::Both);
        });
        let t = transport_for(&url, "");
        assert_eq!(post(&t, &url).unwrap().http_status, 200);
        ended.recv().unwrap();
        t.probe_off.store(true, Ordering::SeqCst);
        let a = post(&t, &url).unwrap();
        assert_eq!(a.http_status, 200);
        let note = a.note.expect("the retry is noted for the log line");
        assert!(note.contains("acknowledged none"), "{note}");
        // One request on the closed connection never reached the server's application; the
        // one on the new connection did.
        assert_eq!(requests.load(Ordering::SeqCst), 2);
    }

    /// The server read the request (its TCP stack acknowledged it) and then reset the
    /// connection without answering: the request may have been acted on, so it is unknown and
    /// never sent again.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_request_the_server_acknowledged_is_unknown_whatever_ends_the_connection() {
        use std::sync::atomic::Ordering;
        fn read_then_reset(s: &mut std::net::TcpStream) {
            let _ = wdt_mock::http::read_raw_request(s);
            wdt_mock::server::abort(s);
        }
        fn half_close_then_read(s: &mut std::net::TcpStream) {
            let _ = s.shutdown(std::net::Shutdown::Write);
            let _ = wdt_mock::http::read_raw_request(s);
        }
        for then in [
            read_then_reset as fn(&mut std::net::TcpStream),
            half_close_then_read,
        ] {
            let (url, _, ended) = closing_server(then);
            let t = transport_for(&url, "");
            assert_eq!(post(&t, &url).unwrap().http_status, 200);
            t.probe_off.store(true, Ordering::SeqCst);
            match post(&t, &url) {
                Err(Error::Transport { delivery, message }) => {
                    assert_eq!(delivery, Delivery::Unknown, "{message}");
                }
                other => panic!("{other:?}"),
            }
            ended.recv().unwrap();
        }
    }
}
