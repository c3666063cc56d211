//! HTTP/1.1 on ureq's own parts. One pool of connections per client: the gateway routes by
//! seller, so two clients never share a connection. This module only moves bytes and says
//! honestly whether the request can have left the machine; it never retries, because a
//! POST whose fate is unknown must not be sent twice (the caller decides).
//!
//! A call is driven here with `ureq-proto` (ureq's sans-IO protocol core) over connections that
//! ureq's connector chain opened; ureq's request loop (middleware, per-request config, timings,
//! layered body readers) cost about 40 % of a warm call's instructions (BENCHMARKS.md).
//!
//! - `connect.rs`: the connector chain (proxies, TCP, rustls) and its timeouts;
//! - `resolver.rs`: name resolution (IP literals, a short cache, the test hook);
//! - `wire.rs`: our TCP transport and the count of bytes written that decides `delivery`.

mod connect;
mod resolver;
mod wire;

use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::http::{header, HeaderValue, Method, Request, Uri};
use ureq::unversioned::transport::time::Duration as UDuration;
use ureq::unversioned::transport::{NextTimeout, Transport as Wire};
use ureq_proto::client::{Call, RecvBodyResult, RecvResponseResult, SendRequestResult};
use ureq_proto::BodyMode;

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

/// An idle keep-alive connection and when it was last used.
struct Idle {
    wire: Box<dyn Wire>,
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

/// One client's connection pool and the rules for moving bytes.
pub struct Transport {
    opener: connect::Opener,
    idle: Mutex<Vec<Idle>>,
    idle_timeout: Duration,
    max_response_bytes: u64,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").finish_non_exhaustive()
    }
}

/// The headers every request carries besides Host and Content-Length (which ureq-proto writes).
/// `identity`: the answers are small JSON, and a compressed one would need a decoder in the
/// library for no gain; a server that compresses anyway gets `bad_response`.
const USER_AGENT: &str = concat!("libwdt/", env!("CARGO_PKG_VERSION"));

impl Transport {
    /// The transport of a client made from `config`.
    pub fn new(config: &Config) -> Transport {
        Transport {
            opener: connect::Opener::new(config),
            idle: Mutex::new(Vec::new()),
            idle_timeout: config.idle_timeout,
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
        let deadline = Instant::now() + budget;
        self.exchange(url, query, body, deadline).map_err(map_error)
    }

    /// A pooled connection the server has not closed, or None.
    fn pooled(&self) -> Option<Box<dyn Wire>> {
        loop {
            let idle = self.idle.lock().ok()?.pop()?;
            // Never send on a connection the server may have closed meanwhile: too old for the
            // server's keep-alive, or seen closed by the probe (wire.rs).
            let mut wire = idle.wire;
            if idle.since.elapsed() < self.idle_timeout && wire.is_open() {
                return Some(wire);
            }
        }
    }

    /// Puts a connection whose answer was read to the end back into the pool.
    fn release(&self, mut wire: Box<dyn Wire>) {
        // Bytes after the answer mean the server and we disagree about where it ended.
        if !wire.buffers().input().is_empty() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(Idle {
                    wire,
                    since: Instant::now(),
                });
            }
        }
    }

    fn exchange(
        &self,
        url: &str,
        query: &[(&str, &str)],
        body: &str,
        deadline: Instant,
    ) -> Result<Answer, Fail> {
        let uri: Uri = with_query(url, query)
            .try_into()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("url: {e}")))?;
        let mut request = Request::new(());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        let call = Call::new(request)?;

        let mut wire = match self.pooled() {
            Some(w) => w,
            None => self.opener.open(call.uri(), deadline)?,
        };

        // The head and the body leave in one write (one segment, one trip through the peer's
        // receive path), unless the body is larger than the output buffer.
        let mut call = call.proceed();
        let mut used = 0;
        while !call.can_proceed() {
            used += call.write(&mut wire.buffers().output()[used..])?;
        }
        let mut call = match call.proceed()? {
            Some(SendRequestResult::SendBody(mut send)) => {
                let mut rest = body.as_bytes();
                loop {
                    let out = wire.buffers().output();
                    let n = rest.len().min(out.len() - used);
                    out[used..used + n].copy_from_slice(&rest[..n]);
                    send.consume_direct_write(n)?;
                    rest = &rest[n..];
                    transmit(&mut *wire, used + n, deadline)?;
                    used = 0;
                    if rest.is_empty() {
                        break;
                    }
                }
                send.proceed().ok_or(ureq::Error::ConnectionFailed)?
            }
            Some(SendRequestResult::RecvResponse(recv)) => {
                transmit(&mut *wire, used, deadline)?;
                recv
            }
            // No Expect header is ever sent, so there is no 100-continue to wait for.
            Some(SendRequestResult::Await100(_)) | None => {
                return Err(ureq::Error::ConnectionFailed.into())
            }
        };

        let response = loop {
            let input = wire.buffers().input();
            if !input.is_empty() {
                let (amount, response) = call.try_response(input, false)?;
                let size = if response.is_some() {
                    amount
                } else {
                    input.len()
                };
                if size > MAX_HEAD_BYTES {
                    return Err(ureq::Error::LargeResponseHeader(size, MAX_HEAD_BYTES).into());
                }
                wire.buffers().input_consume(amount);
                if let Some(response) = response {
                    break response;
                }
                // A 1xx answer was consumed: what follows may already be in the buffer.
                if amount > 0 {
                    continue;
                }
            }
            if !wire.await_input(next(deadline, ureq::Timeout::RecvResponse))? {
                return Err(closed("before the answer").into());
            }
        };
        let http_status = response.status().as_u16();
        let headers = response.headers();
        let date = headers
            .get(header::DATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(coding) = headers.get(header::CONTENT_ENCODING) {
            if !coding.as_bytes().eq_ignore_ascii_case(b"identity") {
                // A non-2xx answer stays an HTTP error (its status is what the caller needs);
                // its body is not read, and the connection is not reused.
                if !(200..300).contains(&http_status) {
                    return Ok(Answer {
                        http_status,
                        date,
                        body: Vec::new(),
                    });
                }
                return Err(encoded(coding));
            }
        }

        let mut answer = Answer {
            http_status,
            date,
            body: Vec::new(),
        };
        let must_close = match call.proceed() {
            Some(RecvResponseResult::RecvBody(mut recv)) => {
                let (ended, force_close) =
                    self.read_body(&mut recv, &mut *wire, &mut answer.body, deadline)?;
                if !ended {
                    return Err(closed("before the whole answer").into());
                }
                force_close
                    || match recv.proceed() {
                        Some(RecvBodyResult::Cleanup(c)) => c.must_close_connection(),
                        Some(RecvBodyResult::Redirect(r)) => r.must_close_connection(),
                        None => true,
                    }
            }
            // A 3xx answer is an answer: a redirect is never followed (it would send the quick
            // return to another address).
            Some(RecvResponseResult::Redirect(r)) => r.must_close_connection(),
            Some(RecvResponseResult::Cleanup(c)) => c.must_close_connection(),
            None => true,
        };
        if !must_close {
            self.release(wire);
        }
        Ok(answer)
    }

    /// Reads the body into `out`, at most `max_response_bytes` of it. Returns whether it ended
    /// properly, and whether the connection must close even so.
    fn read_body(
        &self,
        recv: &mut Call<ureq_proto::client::state::RecvBody>,
        wire: &mut dyn Wire,
        out: &mut Vec<u8>,
        deadline: Instant,
    ) -> Result<(bool, bool), Fail> {
        let limit = self.max_response_bytes;
        let mode = recv.body_mode();
        if let BodyMode::LengthDelimited(n) = mode {
            if n > limit {
                return Err(ureq::Error::BodyExceedsLimit(limit).into());
            }
            out.reserve_exact(n as usize);
        }
        let mut remote_closed = false;
        loop {
            let fulfilled = match mode {
                BodyMode::NoBody => true,
                BodyMode::LengthDelimited(_) | BodyMode::Chunked => recv.can_proceed(),
                BodyMode::CloseDelimited => false,
            };
            if fulfilled {
                return Ok((true, false));
            }
            let input = wire.buffers().input();
            if !input.is_empty() {
                let (taken, made) = read_into(recv, input, out, limit)?;
                wire.buffers().input_consume(taken);
                if taken > 0 || made > 0 {
                    continue;
                }
            }
            if remote_closed {
                break;
            }
            match wire.await_input(next(deadline, ureq::Timeout::RecvBody)) {
                Ok(true) => {}
                Ok(false) => remote_closed = true,
                Err(ureq::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::UnexpectedEof
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    remote_closed = true
                }
                Err(e) => return Err(e.into()),
            }
        }
        // The peer closed: the end of a close-delimited body, or a chunked one cut right after
        // its last chunk (complete, but the connection is gone); anything else is cut short.
        let complete = matches!(mode, BodyMode::CloseDelimited) || recv.is_ended_chunked();
        Ok((complete, true))
    }
}

/// Decodes what `input` holds of the body into the end of `out`, within `limit` bytes.
fn read_into(
    recv: &mut Call<ureq_proto::client::state::RecvBody>,
    input: &[u8],
    out: &mut Vec<u8>,
    limit: u64,
) -> Result<(usize, usize), Fail> {
    let at = out.len();
    // Decoded bytes never outnumber input bytes; one byte more than the limit is enough to tell
    // an answer that is too large.
    let room = input
        .len()
        .min((limit + 1).saturating_sub(at as u64) as usize)
        .max(1);
    out.resize(at + room, 0);
    let result = recv.read(input, &mut out[at..]);
    let (taken, made) = match result {
        Ok(v) => v,
        Err(e) => {
            out.truncate(at);
            return Err(e.into());
        }
    };
    out.truncate(at + made);
    if out.len() as u64 > limit {
        return Err(ureq::Error::BodyExceedsLimit(limit).into());
    }
    Ok((taken, made))
}

/// Sends the first `amount` bytes of the output buffer, counting those that reached a socket as
/// this attempt's request bytes (under TLS: the records carrying the request).
fn transmit(wire: &mut dyn Wire, amount: usize, deadline: Instant) -> Result<(), ureq::Error> {
    if amount == 0 {
        return Ok(());
    }
    let before = wire::socket_bytes();
    let result = wire.transmit_output(amount, next(deadline, ureq::Timeout::SendRequest));
    wire::add_request_bytes(wire::socket_bytes().wrapping_sub(before));
    result
}

/// What is left of the call's budget, for the next wait.
fn next(deadline: Instant, reason: ureq::Timeout) -> NextTimeout {
    let left = deadline.saturating_duration_since(Instant::now());
    NextTimeout {
        after: UDuration::Exact(left),
        reason: if left.is_zero() {
            ureq::Timeout::Global
        } else {
            reason
        },
        per_read: None,
        per_write: None,
    }
}

fn closed(when: &str) -> ureq::Error {
    ureq::Error::Io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the gateway closed the connection {when}"),
    ))
}

/// A compressed answer although we asked for none: not something we can read.
fn encoded(coding: &HeaderValue) -> Fail {
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

/// Maps a ureq error to the envelope kinds. Delivery is decided from one fact, whatever ureq
/// calls the error: did any byte of this attempt's request reach a socket (docs/abi.md).
fn map_error(e: Fail) -> Error {
    use ureq::Error as U;
    let e = match e {
        Fail::Ureq(e) => e,
        Fail::Unreadable(message) => return Error::BadResponse { message },
    };
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
        assert_eq!(a.http_status, 200);
        assert!(wire::request_bytes_written() > body.len() as u64);
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
