//! One exchange on one connection, a function per phase (as ureq's `run.rs` has it): the
//! request leaves (`send`), the answer's head is read (`read_head`: interim answers skipped,
//! obsolete line folding unfolded), then its body by its framing (`read_body`). ureq-proto
//! writes the request head and parses the answer head. Nothing here decides `delivery` or
//! whether the connection is reused: mod.rs does, from what these return.

use std::io;
use std::time::Instant;

use ureq::http::{header, HeaderMap, HeaderValue, Method, Request, Uri, Version};
use ureq::unversioned::transport::time::Duration as UDuration;
use ureq::unversioned::transport::{NextTimeout, Transport as Wire};
use ureq_proto::client::state::RecvResponse;
use ureq_proto::client::{Call, RecvResponseResult, SendRequestResult};
use ureq_proto::BodyMode;

use super::body::{Body, BodyError, Framing};
use super::{Fail, MAX_HEAD_BYTES, USER_AGENT};

/// The request for `uri` with a body of `length` bytes.
pub(super) fn request(uri: Uri, length: usize) -> Request<()> {
    let mut request = Request::new(());
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    // Identity: the answers are small JSON, and a compressed one would need a decoder in the
    // library for no gain; a server that compresses anyway gets `bad_response`.
    headers.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    request
}

/// Writes the request: its head and body leave in one write (one segment, one trip through the
/// peer's receive path) unless the body is larger than the output buffer.
pub(super) fn send(
    wire: &mut dyn Wire,
    request: Request<()>,
    body: &[u8],
    deadline: Instant,
) -> Result<Call<RecvResponse>, Fail> {
    let mut call = Call::new(request)?.proceed();
    let mut used = 0;
    while !call.can_proceed() {
        used += call.write(&mut wire.buffers().output()[used..])?;
    }
    match call.proceed()? {
        Some(SendRequestResult::SendBody(mut send)) => {
            let mut rest = body;
            loop {
                let out = wire.buffers().output();
                let n = rest.len().min(out.len() - used);
                out[used..used + n].copy_from_slice(&rest[..n]);
                send.consume_direct_write(n)?;
                rest = &rest[n..];
                transmit(wire, used + n, deadline)?;
                used = 0;
                if rest.is_empty() {
                    break;
                }
            }
            Ok(send.proceed().ok_or(ureq::Error::ConnectionFailed)?)
        }
        Some(SendRequestResult::RecvResponse(recv)) => {
            transmit(wire, used, deadline)?;
            Ok(recv)
        }
        // No Expect header is ever sent, so there is no 100-continue to wait for.
        Some(SendRequestResult::Await100(_)) | None => Err(ureq::Error::ConnectionFailed.into()),
    }
}

fn transmit(wire: &mut dyn Wire, amount: usize, deadline: Instant) -> Result<(), ureq::Error> {
    if amount == 0 {
        return Ok(());
    }
    wire.transmit_output(amount, next(deadline, ureq::Timeout::SendRequest))
}

/// What the answer's head says.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) status: u16,
    pub(super) date: Option<String>,
    /// A Content-Encoding other than identity, which was not asked for.
    pub(super) encoded: Option<HeaderValue>,
    pub(super) framing: Framing,
    /// The server keeps the connection open after this answer: HTTP/1.1 without
    /// `Connection: close`. An HTTP/1.0 answer never does here (its keep-alive is an
    /// extension whose framing rules servers disagree on).
    pub(super) keep_alive: bool,
}

/// What reading the answer has seen so far, for the caller's judgement of a failure.
#[derive(Debug, Default)]
pub(super) struct Seen {
    /// A byte of an answer arrived: the gateway read the request.
    pub(super) answered: bool,
    /// An interim (1xx) answer came first. It is legal, but the library never asks for one,
    /// so the connection's framing is in doubt and it is not reused.
    pub(super) interim: bool,
}

/// Reads the answer's head, skipping interim answers.
pub(super) fn read_head(
    wire: &mut dyn Wire,
    mut call: Call<RecvResponse>,
    seen: &mut Seen,
    deadline: Instant,
) -> Result<Head, Fail> {
    loop {
        let input = wire.buffers().input();
        if !input.is_empty() {
            seen.answered = true;
            match interim(input)? {
                Interim::Skip(n) => {
                    seen.interim = true;
                    wire.buffers().input_consume(n);
                    continue;
                }
                Interim::Incomplete => {}
                Interim::No => {
                    let unfolded = unfold(input);
                    let text = unfolded.as_deref().unwrap_or(input);
                    let (amount, response) = call.try_response(text, false)?;
                    if let Some(response) = response {
                        if amount > MAX_HEAD_BYTES {
                            return Err(too_large(amount));
                        }
                        wire.buffers().input_consume(amount);
                        return head(response, call);
                    }
                    if input.len() > MAX_HEAD_BYTES {
                        return Err(too_large(input.len()));
                    }
                }
            }
        }
        if !wire.await_input(next(deadline, ureq::Timeout::RecvResponse))? {
            return Err(closed("before the answer").into());
        }
    }
}

fn too_large(size: usize) -> Fail {
    ureq::Error::LargeResponseHeader(size, MAX_HEAD_BYTES).into()
}

fn head(response: ureq::http::Response<()>, call: Call<RecvResponse>) -> Result<Head, Fail> {
    let status = response.status().as_u16();
    let headers = response.headers();
    let date = headers
        .get(header::DATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let encoded = headers
        .get(header::CONTENT_ENCODING)
        .filter(|c| !c.as_bytes().eq_ignore_ascii_case(b"identity"))
        .cloned();
    let keep_alive = response.version() == Version::HTTP_11 && !closes(headers);
    let framing = match call.proceed() {
        Some(RecvResponseResult::RecvBody(recv)) => match recv.body_mode() {
            BodyMode::NoBody => Framing::None,
            BodyMode::LengthDelimited(n) => Framing::Length(n),
            BodyMode::Chunked => Framing::Chunked,
            BodyMode::CloseDelimited => Framing::Close,
        },
        // A 3xx without a body is an answer like any other: a redirect is never followed (it
        // would send the quick return to another address).
        Some(RecvResponseResult::Redirect(_)) | Some(RecvResponseResult::Cleanup(_)) => {
            Framing::None
        }
        None => return Err(ureq::Error::ConnectionFailed.into()),
    };
    Ok(Head {
        status,
        date,
        encoded,
        framing,
        keep_alive,
    })
}

/// `Connection: close` among the connection options.
fn closes(headers: &HeaderMap) -> bool {
    headers.get_all(header::CONNECTION).iter().any(|v| {
        v.as_bytes().split(|b| *b == b',').any(|t| {
            String::from_utf8_lossy(t)
                .trim()
                .eq_ignore_ascii_case("close")
        })
    })
}

enum Interim {
    /// Not an interim answer (or not one yet known to be).
    No,
    /// An interim answer whose head has not all arrived.
    Incomplete,
    /// A whole interim head of this many bytes.
    Skip(usize),
}

/// An interim (1xx) answer at the start of `input`. RFC 9110 §15.2: a client must be able to
/// parse one even when it did not expect it, fields and all, and then wait for the final
/// answer. ureq-proto takes a 1xx other than 100 for the final answer and refuses a 100 with
/// fields, so they are skipped here before it sees the input. A 101 was never asked for (no
/// Upgrade is sent): the connection would no longer speak HTTP.
fn interim(input: &[u8]) -> Result<Interim, Fail> {
    const PREFIX: &[u8] = b"HTTP/1.";
    // "HTTP/1.x 1dd"
    if input.len() < 12 {
        let n = input.len().min(PREFIX.len());
        return Ok(if input[..n] == PREFIX[..n] {
            Interim::Incomplete
        } else {
            Interim::No
        });
    }
    if !input.starts_with(PREFIX) || input[8] != b' ' || input[9] != b'1' {
        return Ok(Interim::No);
    }
    if &input[9..12] == b"101" {
        return Err(Fail::Unreadable(
            "the gateway switched protocols (101), which was not asked for".into(),
        ));
    }
    let scan = &input[..input.len().min(MAX_HEAD_BYTES + 4)];
    match scan.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => Ok(Interim::Skip(end + 4)),
        None if input.len() > MAX_HEAD_BYTES => Err(too_large(input.len())),
        None => Ok(Interim::Incomplete),
    }
}

/// The head with each obs-fold (CRLF followed by a space or tab inside a field value) replaced
/// by spaces, as RFC 9112 §5.2 tells a user agent to do before interpreting the value; None
/// when there is none. The length is kept, so the bytes ureq-proto says it used are the input's.
fn unfold(input: &[u8]) -> Option<Vec<u8>> {
    let end = input
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(input.len(), |e| e + 2);
    let head = &input[..end];
    let folded = |i: usize| {
        head[i] == b'\r'
            && head.get(i + 1) == Some(&b'\n')
            && matches!(head.get(i + 2), Some(b' ' | b'\t'))
    };
    let first = (0..head.len()).find(|&i| folded(i))?;
    let mut out = input.to_vec();
    for i in first..head.len() {
        if folded(i) {
            out[i] = b' ';
            out[i + 1] = b' ';
        }
    }
    Some(out)
}

/// Reads the body by its framing into `out`. Returns whether the server closed the
/// connection (the end of a close-delimited body, or a chunked one cut among its trailers).
pub(super) fn read_body(
    wire: &mut dyn Wire,
    body: &mut Body,
    out: &mut Vec<u8>,
    deadline: Instant,
) -> Result<bool, Fail> {
    if let Framing::Length(n) = body.framing() {
        out.reserve_exact(n as usize);
    }
    loop {
        if body.is_done() {
            return Ok(false);
        }
        let input = wire.buffers().input();
        if !input.is_empty() {
            let taken = body.feed(input, out).map_err(body_error)?;
            wire.buffers().input_consume(taken);
            if taken > 0 {
                continue;
            }
        }
        let ended = match wire.await_input(next(deadline, ureq::Timeout::RecvBody)) {
            Ok(more) => !more,
            Err(ureq::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                ) =>
            {
                true
            }
            Err(e) => return Err(e.into()),
        };
        if ended {
            return if body.complete_at_close() {
                Ok(true)
            } else {
                Err(closed("before the whole answer").into())
            };
        }
    }
}

fn body_error(e: BodyError) -> Fail {
    match e {
        BodyError::TooLarge(limit) => ureq::Error::BodyExceedsLimit(limit).into(),
        BodyError::Chunks(what) => Fail::Unreadable(format!("broken chunked answer: {what}")),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interim_heads_are_found_whole_or_waited_for() {
        assert!(matches!(
            interim(b"HTTP/1.1 2").unwrap(),
            Interim::Incomplete
        ));
        assert!(matches!(
            interim(b"HTTP/1.1 200 OK\r\n").unwrap(),
            Interim::No
        ));
        assert!(matches!(interim(b"<html>").unwrap(), Interim::No));
        assert!(matches!(
            interim(b"HTTP/1.1 100 Continue\r\nX: y\r\n").unwrap(),
            Interim::Incomplete
        ));
        let both = b"HTTP/1.1 103 Early Hints\r\nLink: <a>\r\n\r\nHTTP/1.1 200 OK\r\n";
        match interim(both).unwrap() {
            Interim::Skip(n) => assert!(both[n..].starts_with(b"HTTP/1.1 200")),
            _ => panic!("not skipped"),
        }
        assert!(interim(b"HTTP/1.1 101 Switching Protocols\r\n\r\n").is_err());
    }

    #[test]
    fn obs_folds_become_spaces_in_the_head_only() {
        let input = b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\tc\r\nContent-Length: 5\r\n\r\n\r\n x";
        let out = unfold(input).unwrap();
        assert_eq!(out.len(), input.len());
        assert!(out.starts_with(b"HTTP/1.1 200 OK\r\nX: a   b  \tc\r\nContent-Length: 5\r\n\r\n"));
        // The body's bytes are never touched.
        assert!(out.ends_with(b"\r\n x"));
        assert!(unfold(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n").is_none());
    }

    #[test]
    fn connection_close_is_a_token_among_others() {
        let mut h = HeaderMap::new();
        assert!(!closes(&h));
        h.append(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        assert!(!closes(&h));
        h.append(
            header::CONNECTION,
            HeaderValue::from_static("Upgrade, Close"),
        );
        assert!(closes(&h));
    }
}
