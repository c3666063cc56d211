//! A gateway played by hand on plain sockets, for the transport's hostile-server tests: each
//! request is answered by a script that decides the bytes (valid or not, with surplus after
//! them), when they leave, and how the connection ends (kept, closed, reset). The server counts
//! what it received per quick return (by `tid`), so a test can assert that no call produced
//! two requests and that each call got its own answer.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use wdt_mock::http::read_raw_request;

/// How a connection ends after a reply.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum End {
    /// Kept alive: the next request is read from it.
    Keep,
    /// Closed with a FIN.
    Close,
    /// Reset: closed with SO_LINGER 0, so the peer gets an RST.
    Reset,
}

/// One reply: byte runs, each written after its pause, then the end of the connection.
pub struct Reply {
    pub parts: Vec<(Duration, Vec<u8>)>,
    pub end: End,
}

impl Reply {
    pub fn now(bytes: Vec<u8>) -> Reply {
        Reply {
            parts: vec![(Duration::ZERO, bytes)],
            end: End::Keep,
        }
    }

    pub fn then(mut self, pause: Duration, bytes: Vec<u8>) -> Reply {
        self.parts.push((pause, bytes));
        self
    }

    pub fn end(mut self, end: End) -> Reply {
        self.end = end;
        self
    }
}

/// What a script is told about a request.
pub struct Seen<'a> {
    /// The connection's number, from 0, in accept order.
    pub conn: usize,
    /// The request's number on its connection, from 0.
    pub nth: usize,
    /// The quick return's `tid` (empty when the body has none).
    pub tid: &'a str,
}

type Script = dyn Fn(&Seen) -> Reply + Send + Sync;

#[derive(Default)]
struct State {
    /// Requests received per tid.
    per_tid: HashMap<String, usize>,
    requests: usize,
    /// Replies fully written (all their parts) and connections ended, counted together, so a
    /// test can wait for "the surplus is on the wire" before its next call.
    replies_done: usize,
}

pub struct Raw {
    pub url: String,
    accepted: Arc<AtomicUsize>,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl Raw {
    pub fn start(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Raw {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/openapi", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let script: Arc<Script> = Arc::new(script);
        let (acc, st) = (accepted.clone(), state.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let conn = acc.fetch_add(1, Ordering::SeqCst);
                let (script, st) = (script.clone(), st.clone());
                std::thread::spawn(move || serve(stream, conn, &*script, &st));
            }
        });
        Raw {
            url,
            accepted,
            state,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.state.0.lock().unwrap().requests
    }

    /// Requests received for `tid`.
    pub fn received(&self, tid: &str) -> usize {
        let s = self.state.0.lock().unwrap();
        s.per_tid.get(tid).copied().unwrap_or(0)
    }

    /// Every tid received more than once, with its count.
    pub fn duplicates(&self) -> Vec<(String, usize)> {
        let s = self.state.0.lock().unwrap();
        let mut d: Vec<_> = s
            .per_tid
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(t, n)| (t.clone(), *n))
            .collect();
        d.sort();
        d
    }

    /// Waits until `n` replies were written whole (surplus included) and their connection
    /// ended as scripted: after this, every byte of them is in the client's socket.
    pub fn wait_replies(&self, n: usize) {
        let (lock, cv) = &*self.state;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut s = lock.lock().unwrap();
        while s.replies_done < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "the raw server did not finish {n} replies");
            s = cv.wait_timeout(s, left).unwrap().0;
        }
    }
}

fn serve(mut s: TcpStream, conn: usize, script: &Script, state: &(Mutex<State>, Condvar)) {
    let mut nth = 0;
    while let Some(request) = read_raw_request(&mut s) {
        let text = String::from_utf8_lossy(&request);
        let tid = tid_of(&text).to_owned();
        {
            let mut st = state.0.lock().unwrap();
            st.requests += 1;
            *st.per_tid.entry(tid.clone()).or_default() += 1;
        }
        let reply = script(&Seen {
            conn,
            nth,
            tid: &tid,
        });
        nth += 1;
        let mut failed = false;
        for (pause, bytes) in &reply.parts {
            if !pause.is_zero() {
                std::thread::sleep(*pause);
            }
            if s.write_all(bytes).and_then(|_| s.flush()).is_err() {
                failed = true;
                break;
            }
        }
        let end = reply.end;
        match end {
            End::Keep if !failed => {}
            End::Keep | End::Close => {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            End::Reset => set_linger_zero(&s),
        }
        let count = || {
            let (lock, cv) = state;
            lock.lock().unwrap().replies_done += 1;
            cv.notify_all();
        };
        if failed || end != End::Keep {
            // Closed before the reply is counted, so a test that waits for it sees the FIN or
            // RST already sent.
            drop(s);
            count();
            return;
        }
        count();
    }
}

/// Makes the close of `s` send an RST (SO_LINGER 0), as a server aborting the connection does.
pub use wdt_mock::server::abort as set_linger_zero;

/// The `tid` of a quick return's body, as sent: `"tid":"…"`.
pub fn tid_of(request: &str) -> &str {
    let Some(at) = request.find("\"tid\":\"") else {
        return "";
    };
    let rest = &request[at + 7..];
    &rest[..rest.find('"').unwrap_or(0)]
}

/// A 200 answer of the gateway's JSON, Content-Length framed.
pub fn answer(json: &str) -> Vec<u8> {
    answer_with(json, "")
}

/// A 200 answer with extra header lines (each ending in CRLF).
pub fn answer_with(json: &str, headers: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n{json}",
        json.len()
    )
    .into_bytes()
}

/// A successful quick return that names the tid it answers, so a test sees whose answer a
/// call got.
pub fn booked(tid: &str, stockin_id: u64) -> String {
    format!(r#"{{"status":0,"data":{{"stockin_id":{stockin_id},"tid":"{tid}"}}}}"#)
}
