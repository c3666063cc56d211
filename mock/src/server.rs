//! Listener, one thread per connection, the control endpoints and the fault
//! machinery around `/openapi`. Binds loopback only: the double has a
//! well-known secret and must never be reachable from a network.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::erp::Erp;
use crate::fault::{Fault, Mode};
use crate::gateway::{self, gateway_error, Account};
use crate::http::{self, Conn, ReadError, Request};
use crate::options::Options;
use crate::state::{lock, State};
use crate::time::{host_now_ms, imf_fixdate};

const JSON: &str = "application/json; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

const CAPTIVE_PORTAL: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Wi-Fi 认证</title></head>\n<body><h1>欢迎使用门店 Wi-Fi</h1><p>请先登录后再访问网络。Please sign in to use this network.</p>\n<form action=\"/login\" method=\"post\"><input name=\"phone\" placeholder=\"手机号\"><button>登录</button></form></body></html>\n";
const ERROR_500: &str = "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n<body><center><h1>500 Internal Server Error</h1></center><hr><center>nginx</center></body></html>\n";

struct Shared {
    account: Account,
    state: Mutex<State>,
    keepalive: Duration,
    quiet: bool,
}

impl Shared {
    fn log(&self, line: &str) {
        if !self.quiet {
            eprintln!("wdt-mock: {line}");
        }
    }

    /// The clock offset for answers that are not gateway calls.
    fn skew_now(&self) -> i64 {
        lock(&self.state).faults.skew_now()
    }
}

pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

fn loopback(host: &str) -> Result<IpAddr, String> {
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .map_err(|_| format!("--host {host:?} is not an IP address"))?
    };
    if !ip.is_loopback() {
        return Err(format!(
            "refusing to bind {ip}: the double only listens on loopback (127.0.0.0/8, ::1)"
        ));
    }
    Ok(ip)
}

impl Server {
    /// Loads the seed, binds, and arms the start-up faults.
    pub fn bind(opts: &Options) -> Result<Server, String> {
        let ip = loopback(&opts.host)?;
        let seed = match &opts.seed {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read seed {}: {e}", p.display()))?,
            None => crate::erp::DEFAULT_SEED.to_string(),
        };
        let mut state = State::new(Erp::from_seed(&seed)?);
        for f in &opts.faults {
            state.faults.set(f.clone());
        }
        let listener = TcpListener::bind(SocketAddr::new(ip, opts.port))
            .map_err(|e| format!("cannot bind {ip}:{}: {e}", opts.port))?;
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                account: Account {
                    sid: opts.sid.clone(),
                    appkey: opts.appkey.clone(),
                    secret: opts.secret.clone(),
                    salt: opts.salt.clone(),
                },
                state: Mutex::new(state),
                keepalive: Duration::from_millis(opts.keepalive_ms),
                quiet: opts.quiet,
            }),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The gateway URL, as printed on start.
    pub fn url(&self) -> String {
        format!("http://{}/openapi", self.local_addr())
    }

    /// Serves forever.
    pub fn run(self) {
        let next_id = AtomicU64::new(1);
        for stream in self.listener.incoming() {
            match stream {
                Ok(stream) => {
                    let shared = Arc::clone(&self.shared);
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    let spawned = thread::Builder::new()
                        .name(format!("conn-{id}"))
                        .spawn(move || serve(&shared, stream, id));
                    if let Err(e) = spawned {
                        self.shared
                            .log(&format!("cannot start a connection thread: {e}"));
                    }
                }
                Err(e) => {
                    // Usually out of file descriptors; back off rather than spin.
                    self.shared.log(&format!("accept failed: {e}"));
                    thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}

/// What to do with the connection after an answer.
#[derive(PartialEq)]
enum Next {
    KeepOpen,
    Close,
}

fn serve(shared: &Shared, stream: TcpStream, id: u64) {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(stream, shared.keepalive);
    loop {
        let read = conn.read_request(|_, target| {
            let (path, query) = http::split_target(target);
            if path == "/openapi" {
                lock(&shared.state).count_request(&gateway::method_of(query));
            }
        });
        let req = match read {
            Ok(Some(req)) => req,
            Ok(None) | Err(ReadError::Io) => return,
            Err(ReadError::Malformed(why)) => {
                shared.log(&format!("[c{id}] bad request: {why} -> 400"));
                let body = json!({"ok": false, "error": why}).to_string();
                send(
                    &mut conn.stream,
                    shared.skew_now(),
                    400,
                    JSON,
                    body.as_bytes(),
                    true,
                );
                return;
            }
            Err(ReadError::TooLarge) => {
                shared.log(&format!(
                    "[c{id}] body over {} bytes -> 413",
                    http::MAX_BODY
                ));
                let body = json!({"ok": false, "error": "body too large"}).to_string();
                send(
                    &mut conn.stream,
                    shared.skew_now(),
                    413,
                    JSON,
                    body.as_bytes(),
                    true,
                );
                return;
            }
        };
        let gateway = req.path == "/openapi";
        let next = if gateway {
            openapi(shared, &mut conn.stream, &req, id)
        } else {
            control(shared, &mut conn.stream, &req, id)
        };
        if next == Next::Close {
            drop(conn);
            if gateway {
                lock(&shared.state).closed += 1;
            }
            return;
        }
    }
}

/// The Date header: the double's clock, so a client can learn its offset.
fn date(skew: i64) -> String {
    imf_fixdate((host_now_ms() + skew * 1000).div_euclid(1000))
}

/// Writes a whole answer. `skew` is the clock offset that applied to the
/// request (a counted skew fault may be used up by the time this runs).
/// Closes when the client asked (`close`) or when the write fails.
fn send(
    stream: &mut TcpStream,
    skew: i64,
    status: u16,
    ctype: &str,
    body: &[u8],
    close: bool,
) -> Next {
    let date = date(skew);
    let head = http::head(status, ctype, body.len(), &date, close);
    let ok = stream.write_all(head.as_bytes()).is_ok()
        && stream.write_all(body).is_ok()
        && stream.flush().is_ok();
    if ok && !close {
        Next::KeepOpen
    } else {
        Next::Close
    }
}

fn summary(reply: &Value) -> String {
    match (reply["status"].as_i64(), reply["message"].as_str()) {
        (Some(0), _) => "status 0".into(),
        (Some(s), Some(m)) => format!("status {s} {m}"),
        _ => format!("{reply}"),
    }
}

fn openapi(shared: &Shared, stream: &mut TcpStream, req: &Request, id: u64) -> Next {
    let close = !req.keep_alive;
    let method = gateway::method_of(&req.query);
    let tag = format!(
        "[c{id}] {} /openapi {}",
        req.method,
        if method.is_empty() {
            "(no method)"
        } else {
            &method
        }
    );
    if req.method != "POST" {
        shared.log(&format!("{tag} -> 405"));
        let body = gateway_error(1, "the gateway takes POST").to_string();
        return send(stream, shared.skew_now(), 405, JSON, body.as_bytes(), close);
    }
    let (skew, mode) = {
        let mut st = lock(&shared.state);
        st.log_request(&method, &req.body);
        st.faults.take_for_request()
    };

    // Faults that stand in front of the gateway: the ERP never sees these.
    let early: Option<(u16, &str, String)> = match &mode {
        Some(Mode::Drop) => {
            shared.log(&format!(
                "{tag} -> fault drop: closed without an answer, not processed"
            ));
            return Next::Close;
        }
        Some(Mode::Reset) => {
            shared.log(&format!(
                "{tag} -> fault reset: connection reset, not processed"
            ));
            abort(stream);
            return Next::Close;
        }
        Some(Mode::Html200) => Some((200, HTML, CAPTIVE_PORTAL.to_string())),
        Some(Mode::Html500) => Some((500, HTML, ERROR_500.to_string())),
        Some(Mode::Json502) => Some((502, JSON, gateway_error(99, "其他错误").to_string())),
        Some(Mode::RateLimit) => Some((200, JSON, gateway_error(100, RATE_LIMIT).to_string())),
        Some(Mode::Concurrency) => Some((200, JSON, gateway_error(100, CONCURRENCY).to_string())),
        _ => None,
    };
    if let Some((status, ctype, body)) = early {
        let name = mode.as_ref().map_or("", Mode::name);
        shared.log(&format!("{tag} -> {status} fault {name}, not processed"));
        return send(stream, skew, status, ctype, body.as_bytes(), close);
    }

    if let Some(Mode::Late { ms }) = mode {
        shared.log(&format!("{tag} -> fault late: processing after {ms} ms"));
        thread::sleep(Duration::from_millis(ms));
    }
    let now_ms = host_now_ms() + skew * 1000;
    let outcome = gateway::handle(
        &shared.account,
        &req.query,
        &req.body,
        now_ms,
        &shared.state,
    );
    let body = outcome.reply.to_string();
    let what = summary(&outcome.reply);
    let log = |line: String| {
        shared.log(&line);
        if let Some(d) = &outcome.diagnostic {
            shared.log(&format!("[c{id}] {d}"));
        }
    };

    match mode {
        Some(Mode::DropAfter) => {
            log(format!(
                "{tag} -> fault drop_after: processed ({what}), closed without an answer"
            ));
            Next::Close
        }
        Some(Mode::HangAfter { ms }) => {
            log(format!(
                "{tag} -> fault hang_after: processed ({what}), no answer for {ms} ms"
            ));
            hang(stream, ms);
            Next::Close
        }
        Some(Mode::ResetAfter) => {
            log(format!(
                "{tag} -> fault reset_after: processed ({what}), connection reset"
            ));
            abort(stream);
            Next::Close
        }
        Some(Mode::Slow { ms }) => {
            log(format!(
                "{tag} -> 200 {what} (fault slow: answering after {ms} ms)"
            ));
            thread::sleep(Duration::from_millis(ms));
            send(stream, skew, 200, JSON, body.as_bytes(), close)
        }
        Some(Mode::Truncated) => {
            log(format!(
                "{tag} -> 200 {what} (fault truncated: {} of {} bytes sent)",
                body.len() / 2,
                body.len()
            ));
            let head = http::head(200, JSON, body.len(), &date(skew), close);
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body.as_bytes()[..body.len() / 2]);
            let _ = stream.flush();
            let _ = stream.shutdown(std::net::Shutdown::Write);
            Next::Close
        }
        Some(Mode::Oversized { bytes }) => {
            log(format!(
                "{tag} -> 200 {what} (fault oversized: padded to {bytes} bytes)"
            ));
            send_padded(stream, skew, &body, bytes, close)
        }
        Some(Mode::Applied500Json) => {
            log(format!(
                "{tag} -> 500 fault applied_500json: processed ({what}), answered a Java error page"
            ));
            let page = serde_json::json!({
                "timestamp": "2026-11-30T10:00:00.000+00:00",
                "status": 500,
                "error": "Internal Server Error",
                "path": "/openapi",
            })
            .to_string();
            send(stream, skew, 500, JSON, page.as_bytes(), close)
        }
        Some(Mode::AppliedStatus { status }) => {
            let message = match status {
                4 | 5 => "数据库错误",
                99 => "其他错误",
                _ => "应用错误",
            };
            log(format!(
                "{tag} -> 200 fault applied_status:{status}: processed ({what}), answered {message}"
            ));
            let reply = gateway_error(status, message).to_string();
            send(stream, skew, 200, JSON, reply.as_bytes(), close)
        }
        Some(Mode::CloseIdle) => {
            log(format!(
                "{tag} -> 200 {what} (fault close_idle: closing after the answer)"
            ));
            // The answer still says keep-alive: the client only finds out the
            // connection is gone when it reuses it.
            send(stream, skew, 200, JSON, body.as_bytes(), close);
            Next::Close
        }
        _ => {
            log(format!("{tag} -> 200 {what}"));
            send(stream, skew, 200, JSON, body.as_bytes(), close)
        }
    }
}

/// Holds a connection open without answering until the client hangs up or
/// `ms` pass: what a client sees when the gateway applied the request and
/// the answer is stuck somewhere on the way.
fn hang(stream: &mut TcpStream, ms: u64) {
    use std::io::Read;
    let until = std::time::Instant::now() + Duration::from_millis(ms);
    let mut sink = [0u8; 512];
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return
            }
            Err(_) => return,
        }
    }
}

pub const RATE_LIMIT: &str = "超过每分钟最大调用频率限制，请稍后重试";
pub const CONCURRENCY: &str = "超过每分钟最大并发次数限制，请稍后重试";

/// Sends `body` (a JSON object) grown to `bytes` with a `padding` string
/// member, streamed so a huge answer needs no huge buffer. An answer already
/// that large goes out unchanged.
fn send_padded(stream: &mut TcpStream, skew: i64, body: &str, bytes: u64, close: bool) -> Next {
    let prefix = format!("{},\"padding\":\"", &body[..body.len() - 1]);
    let suffix = "\"}";
    let fixed = (prefix.len() + suffix.len()) as u64;
    if bytes <= fixed {
        return send(stream, skew, 200, JSON, body.as_bytes(), close);
    }
    let mut pad = bytes - fixed;
    let head = http::head(200, JSON, bytes as usize, &date(skew), close);
    let chunk = [b'x'; 64 * 1024];
    let mut ok =
        stream.write_all(head.as_bytes()).is_ok() && stream.write_all(prefix.as_bytes()).is_ok();
    while ok && pad > 0 {
        let n = pad.min(chunk.len() as u64) as usize;
        ok = stream.write_all(&chunk[..n]).is_ok();
        pad -= n as u64;
    }
    ok = ok && stream.write_all(suffix.as_bytes()).is_ok() && stream.flush().is_ok();
    if ok && !close {
        Next::KeepOpen
    } else {
        Next::Close
    }
}

fn control(shared: &Shared, stream: &mut TcpStream, req: &Request, id: u64) -> Next {
    let close = !req.keep_alive;
    let (status, reply) = match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/__mock/health") => (200, json!({"ok": true})),
        ("GET", "/__mock/stats") => (200, lock(&shared.state).stats()),
        ("GET", "/__mock/requests") => (200, lock(&shared.state).request_log()),
        ("POST", "/__mock/reset") => {
            lock(&shared.state).reset();
            (200, json!({"ok": true}))
        }
        ("GET", "/__mock/fault") => (
            200,
            json!({"ok": true, "faults": lock(&shared.state).faults.to_json()}),
        ),
        ("POST", "/__mock/fault") => match std::str::from_utf8(&req.body)
            .map_err(|_| "fault body is not UTF-8".to_string())
            .and_then(Fault::parse_spec)
        {
            Ok(f) => {
                let mut st = lock(&shared.state);
                st.faults.set(f);
                (200, json!({"ok": true, "faults": st.faults.to_json()}))
            }
            Err(e) => (400, json!({"ok": false, "error": e})),
        },
        (
            _,
            "/__mock/health" | "/__mock/stats" | "/__mock/requests" | "/__mock/reset"
            | "/__mock/fault",
        ) => (
            405,
            json!({"ok": false, "error": format!("{} not allowed here", req.method)}),
        ),
        (_, path) => (
            404,
            json!({"ok": false, "error": format!("no such path: {path}")}),
        ),
    };
    shared.log(&format!("[c{id}] {} {} -> {status}", req.method, req.path));
    send(
        stream,
        shared.skew_now(),
        status,
        JSON,
        reply.to_string().as_bytes(),
        close,
    )
}

/// Makes the next close of `stream` an RST instead of a FIN: SO_LINGER with a
/// zero timeout makes the close abortive. std has no stable setter, so it is one
/// libc call here. Public for the tests that play a server resetting connections.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]
pub fn abort(stream: &TcpStream) {
    use std::os::raw::{c_int, c_void};
    use std::os::unix::io::AsRawFd;

    #[repr(C)]
    struct Linger {
        l_onoff: c_int,
        l_linger: c_int,
    }
    extern "C" {
        fn setsockopt(
            fd: c_int,
            level: c_int,
            name: c_int,
            value: *const c_void,
            len: u32,
        ) -> c_int;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const OPT: (c_int, c_int) = (1, 13); // SOL_SOCKET, SO_LINGER (asm-generic)
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const OPT: (c_int, c_int) = (0xffff, 0x0080); // the BSD values

    let linger = Linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the fd is open for the lifetime of `stream`, and the pointer and
    // length describe a live `struct linger` for the duration of the call.
    unsafe {
        setsockopt(
            stream.as_raw_fd(),
            OPT.0,
            OPT.1,
            (&linger as *const Linger).cast(),
            std::mem::size_of::<Linger>() as u32,
        );
    }
}

#[cfg(windows)]
pub fn abort(stream: &TcpStream) {
    use std::os::windows::io::AsRawSocket;

    #[repr(C)]
    struct Linger {
        l_onoff: u16,
        l_linger: u16,
    }
    #[link(name = "ws2_32")]
    extern "system" {
        fn setsockopt(s: usize, level: i32, name: i32, value: *const u8, len: i32) -> i32;
    }
    let linger = Linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: as on unix; SOL_SOCKET = 0xffff, SO_LINGER = 0x0080 in winsock.
    unsafe {
        setsockopt(
            stream.as_raw_socket() as usize,
            0xffff,
            0x0080,
            (&linger as *const Linger).cast(),
            std::mem::size_of::<Linger>() as i32,
        );
    }
}

/// Elsewhere the connection just closes (FIN); the README says so.
#[cfg(not(any(
    windows,
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
)))]
pub fn abort(_stream: &TcpStream) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback() {
        assert!(loopback("127.0.0.1").is_ok());
        assert!(loopback("127.8.9.1").is_ok());
        assert!(loopback("::1").is_ok());
        assert!(loopback("[::1]").is_ok());
        assert!(loopback("localhost").is_ok());
        for bad in ["0.0.0.0", "::", "192.168.1.2", "10.0.0.1", "example.com"] {
            assert!(loopback(bad).is_err(), "{bad}");
        }
    }
}
