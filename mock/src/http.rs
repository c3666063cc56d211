//! Just enough HTTP/1.1 server to stand in for the gateway: keep-alive,
//! Content-Length and chunked request bodies, `Expect: 100-continue`.
//! Anything it cannot parse is answered 400 and the connection is closed,
//! since after a framing error the next request's start is unknowable.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const MAX_HEAD: usize = 64 * 1024;
/// Far above any real quick return; it only stops a runaway client from
/// exhausting memory.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// Once a request has started, its remaining bytes get this long to arrive.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the client allows another request on this connection.
    pub keep_alive: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
pub enum ReadError {
    /// The peer sent something that is not HTTP/1.x; answer 400 and close.
    Malformed(&'static str),
    /// The body is larger than `MAX_BODY`; answer 413 and close.
    TooLarge,
    /// The connection failed or timed out mid-request; close without a word.
    Io,
}

/// One client connection; `buf` carries bytes already read past the end of
/// the previous request (pipelining).
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    idle: Duration,
}

/// Splits a request target into path and raw query.
pub fn split_target(target: &str) -> (&str, &str) {
    match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    }
}

impl Conn {
    pub fn new(stream: TcpStream, idle: Duration) -> Self {
        Conn {
            stream,
            buf: Vec::new(),
            idle,
        }
    }

    /// Reads more bytes into `buf`. Waiting for the first byte of a request
    /// uses the keep-alive idle limit; a request in progress gets longer.
    fn fill(&mut self) -> Result<usize, io::Error> {
        let timeout = if self.buf.is_empty() {
            self.idle
        } else {
            REQUEST_TIMEOUT
        };
        // A zero duration means "no timeout" to std but is an error to set.
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads one request. `Ok(None)` means the connection ended cleanly or sat
    /// idle past the keep-alive limit before a new request began.
    /// `on_request_line` sees the target as soon as the request line is in,
    /// before headers or body, so a counter there also sees requests that a
    /// client abandons half-way.
    pub fn read_request(
        &mut self,
        mut on_request_line: impl FnMut(&str, &str),
    ) -> Result<Option<Request>, ReadError> {
        let mut announced = false;
        let head_end = loop {
            if !announced {
                if let Some(eol) = find(&self.buf, b"\r\n") {
                    announced = true;
                    let line = String::from_utf8_lossy(&self.buf[..eol]).into_owned();
                    let mut parts = line.split(' ');
                    if let (Some(m), Some(t)) = (parts.next(), parts.next()) {
                        on_request_line(m, t);
                    }
                }
            }
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                break end;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadError::Malformed("request head too large"));
            }
            let was_empty = self.buf.is_empty();
            match self.fill() {
                Ok(0) if was_empty => return Ok(None),
                Ok(0) => return Err(ReadError::Io),
                Ok(_) => {}
                Err(e) if was_empty && is_timeout(&e) => return Ok(None),
                Err(_) if was_empty => return Ok(None),
                Err(_) => return Err(ReadError::Io),
            }
        };

        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split(' ');
        let (method, target, version) = match (parts.next(), parts.next(), parts.next()) {
            (Some(m), Some(t), Some(v)) if !m.is_empty() && parts.next().is_none() => (m, t, v),
            _ => return Err(ReadError::Malformed("bad request line")),
        };
        let http11 = match version {
            "HTTP/1.1" => true,
            "HTTP/1.0" => false,
            _ => return Err(ReadError::Malformed("unsupported HTTP version")),
        };
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or(ReadError::Malformed("bad header line"))?;
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        let (path, query) = split_target(target);
        let mut req = Request {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            headers,
            body: Vec::new(),
            keep_alive: http11,
        };
        if let Some(conn) = req.header("connection") {
            let conn = conn.to_ascii_lowercase();
            if conn.split(',').any(|t| t.trim() == "close") {
                req.keep_alive = false;
            } else if conn.split(',').any(|t| t.trim() == "keep-alive") {
                req.keep_alive = true;
            }
        }

        let chunked = req
            .header("transfer-encoding")
            .map(|te| te.to_ascii_lowercase().contains("chunked"))
            .unwrap_or(false);
        let length = match (chunked, req.header("content-length")) {
            (true, _) => None,
            (false, Some(v)) => Some(
                v.parse::<usize>()
                    .map_err(|_| ReadError::Malformed("bad Content-Length"))?,
            ),
            (false, None) => Some(0),
        };
        if let Some(n) = length {
            if n > MAX_BODY {
                return Err(ReadError::TooLarge);
            }
        }
        let wants_continue = req
            .header("expect")
            .map(|e| e.eq_ignore_ascii_case("100-continue"))
            .unwrap_or(false);
        // curl waits (1 s) for this before sending a body over 1 KiB.
        if wants_continue && length != Some(0) && self.buf.is_empty() {
            let _ = self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        req.body = match length {
            Some(n) => self.take(n)?,
            None => self.read_chunked()?,
        };
        Ok(Some(req))
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        while self.buf.len() < n {
            match self.fill() {
                Ok(0) | Err(_) => return Err(ReadError::Io),
                Ok(_) => {}
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn take_line(&mut self) -> Result<String, ReadError> {
        loop {
            if let Some(eol) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..eol]).into_owned();
                self.buf.drain(..eol + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadError::Malformed("chunk line too long"));
            }
            match self.fill() {
                Ok(0) | Err(_) => return Err(ReadError::Io),
                Ok(_) => {}
            }
        }
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        loop {
            let line = self.take_line()?;
            let size_hex = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| ReadError::Malformed("bad chunk size"))?;
            if size == 0 {
                // Trailers, if any, end at an empty line.
                while !self.take_line()?.is_empty() {}
                return Ok(body);
            }
            if body.len() + size > MAX_BODY {
                return Err(ReadError::TooLarge);
            }
            body.extend(self.take(size)?);
            if !self.take_line()?.is_empty() {
                return Err(ReadError::Malformed("chunk not followed by CRLF"));
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request as the raw bytes a client sent (head and Content-Length body), for tests that
/// play the gateway by hand on a plain socket to script what it answers; None when the peer
/// closed or failed first.
pub fn read_raw_request(s: &mut impl Read) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap_or(0));
            if buf.len() >= end + 4 + len {
                return Some(buf);
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Unknown",
    }
}

/// The status line and headers of an answer. `content_length` may differ from
/// the bytes that follow: the `truncated` fault lies about it on purpose.
pub fn head(
    status: u16,
    content_type: &str,
    content_length: usize,
    date: &str,
    close: bool,
) -> String {
    format!(
        "HTTP/1.1 {status} {}\r\nServer: wdt-mock\r\nDate: {date}\r\nContent-Type: {content_type}\r\nContent-Length: {content_length}\r\nConnection: {}\r\n\r\n",
        reason(status),
        if close { "close" } else { "keep-alive" }
    )
}

/// Decodes `%XX` and `+` the way a servlet container decodes a query string.
/// Malformed escapes are kept literally rather than rejected.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits a raw query into decoded (name, value) pairs in arrival order.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn decodes_query_values() {
        let q = parse_query("sid=wdt%61pi3&method=a.b&v=1.0&x=a+b&bad=%zz&tail=%4&flag");
        assert_eq!(q[0], ("sid".into(), "wdtapi3".into()));
        assert_eq!(q[3], ("x".into(), "a b".into()));
        assert_eq!(q[4], ("bad".into(), "%zz".into()));
        assert_eq!(q[5], ("tail".into(), "%4".into()));
        assert_eq!(q[6], ("flag".into(), "".into()));
        assert_eq!(percent_decode("%E4%B8%AD"), "中");
    }

    fn pair() -> (TcpStream, Conn) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        (client, Conn::new(server, Duration::from_millis(300)))
    }

    #[test]
    fn pipelined_length_and_chunked_bodies() {
        let (mut client, mut conn) = pair();
        client
            .write_all(
                b"POST /openapi?a=1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\
POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2;ext\r\nde\r\n1\r\nf\r\n0\r\n\r\n",
            )
            .unwrap();
        let mut seen = Vec::new();
        let r1 = conn
            .read_request(|m, t| seen.push(format!("{m} {t}")))
            .unwrap()
            .unwrap();
        assert_eq!((r1.path.as_str(), r1.query.as_str()), ("/openapi", "a=1"));
        assert_eq!(r1.body, b"abc");
        assert!(r1.keep_alive);
        let r2 = conn.read_request(|_, _| {}).unwrap().unwrap();
        assert_eq!(r2.body, b"def");
        assert!(!r2.keep_alive);
        assert_eq!(seen, ["POST /openapi?a=1"]);
    }

    #[test]
    fn idle_connection_ends_quietly() {
        let (_client, mut conn) = pair();
        assert!(conn.read_request(|_, _| {}).unwrap().is_none());
    }

    #[test]
    fn http10_defaults_to_close() {
        let (mut client, mut conn) = pair();
        client.write_all(b"GET /x HTTP/1.0\r\n\r\n").unwrap();
        assert!(!conn.read_request(|_, _| {}).unwrap().unwrap().keep_alive);
    }

    #[test]
    fn garbage_is_malformed() {
        let (mut client, mut conn) = pair();
        client.write_all(b"HELLO\r\n\r\n").unwrap();
        assert!(matches!(
            conn.read_request(|_, _| {}),
            Err(ReadError::Malformed(_))
        ));
    }
}
