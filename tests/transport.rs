//! The transport's facts: `delivery` is `not_sent` exactly when no byte of the request reached a
//! socket (whatever ureq calls the failure), the request leaves in one segment, and the config's
//! proxy is the only proxy. Everything against 127.0.0.1; a name that must not resolve fails
//! through the resolver hook, never through a real DNS lookup.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use wdt_mock::http::read_raw_request;

/// A client made in Rust, so the config can carry a resolver hook.
fn hooked_client(d: &Double, url: &str, hook: wdt::ResolveHook) -> wdt::Client {
    let mut config = wdt::Config::from_json(&d.config(json!({ "url": url }))).unwrap();
    config.resolve_hook = Some(hook);
    wdt::Client::new(config)
}

fn upload(client: &wdt::Client) -> Value {
    let env = wdt::smart_refund_upload(client, &good_request("pos-6776312", json!(1)));
    serde_json::from_str(&env).unwrap()
}

fn port_of(d: &Double) -> u16 {
    d.base.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn unresolvable_name_via_the_hook_is_not_sent() {
    let d = double();
    let port = port_of(&d);
    let asked = Arc::new(AtomicUsize::new(0));
    let seen = asked.clone();
    let client = hooked_client(
        &d,
        &format!("http://gateway.invalid:{port}/openapi"),
        wdt::ResolveHook::new(move |host, p| {
            assert_eq!((host, p), ("gateway.invalid", port));
            seen.fetch_add(1, Ordering::SeqCst);
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such host (test hook)",
            ))
        }),
    );
    let env = upload(&client);
    assert_eq!(kind(&env), "transport", "{env}");
    assert_eq!(env["error"]["delivery"], "not_sent", "{env}");
    assert_eq!(env["error"]["retryable"], true, "{env}");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "the hook was not asked");
    assert_eq!(d.requests(), 0);

    // The same hook mapping the name to the double: proves the hook is what resolves.
    let client = hooked_client(
        &d,
        &format!("http://gateway.invalid:{port}/openapi"),
        wdt::ResolveHook::new(move |_, p| Ok(vec![SocketAddr::from(([127, 0, 0, 1], p))])),
    );
    let env = upload(&client);
    assert_eq!(env["ok"], true, "{env}");
    assert_eq!(d.requests(), 1);
}

#[test]
fn refused_by_every_address_is_not_sent() {
    let free = |_: u8| {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    };
    let (a, b) = (free(0), free(1));
    let d = double();
    let client = hooked_client(
        &d,
        "http://gateway.invalid/openapi",
        wdt::ResolveHook::new(move |_, _| Ok(vec![a, b])),
    );
    let env = upload(&client);
    assert_eq!(kind(&env), "transport", "{env}");
    assert_eq!(env["error"]["delivery"], "not_sent", "{env}");
    assert_eq!(d.requests(), 0);
}

#[test]
fn tls_handshake_to_a_plain_http_port_is_not_sent() {
    let d = double();
    let url = format!("https://127.0.0.1:{}/openapi", port_of(&d));
    let client = Client::new(&d.config(json!({ "url": url }))).unwrap();
    let env = client.upload(&good_request("pos-6776312", json!(1)));
    assert_eq!(env["ok"], false, "{env}");
    assert_eq!(env["error"]["delivery"], "not_sent", "{env}");
    assert_eq!(d.requests(), 0, "the request must not reach the double");
}

/// A listener whose accept queue is full: connecting to it hangs without leaving 127.0.0.1.
struct Hanging {
    fd: i32,
    port: u16,
    _fillers: Vec<TcpStream>,
}

impl Hanging {
    fn new() -> Hanging {
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            unsafe { libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), len) },
            0
        );
        assert_eq!(unsafe { libc::listen(fd, 0) }, 0);
        let mut len = len;
        unsafe { libc::getsockname(fd, (&mut addr as *mut libc::sockaddr_in).cast(), &mut len) };
        let port = u16::from_be(addr.sin_port);
        let fillers = (0..4)
            .filter_map(|_| {
                TcpStream::connect_timeout(
                    &SocketAddr::from(([127, 0, 0, 1], port)),
                    Duration::from_millis(200),
                )
                .ok()
            })
            .collect();
        Hanging {
            fd,
            port,
            _fillers: fillers,
        }
    }
}

impl Drop for Hanging {
    fn drop(&mut self) {
        unsafe { libc::close(self.fd) };
    }
}

#[test]
fn connect_timeout_equal_to_timeout_is_not_sent() {
    // ureq reports this as the global timeout, not the connect timeout: delivery must still be
    // not_sent, since nothing was written.
    let h = Hanging::new();
    let d = double();
    let url = format!("http://127.0.0.1:{}/openapi", h.port);
    let client =
        Client::new(&d.config(json!({ "url": url, "connect_timeout_ms": 400, "timeout_ms": 400 })))
            .unwrap();
    let env = client.upload(&good_request("pos-6776312", json!(1)));
    assert_eq!(kind(&env), "timeout", "{env}");
    assert_eq!(env["error"]["delivery"], "not_sent", "{env}");
    assert_eq!(env["error"]["retryable"], true, "{env}");
}

#[test]
fn written_and_never_answered_is_unknown() {
    // The same equal timeouts, but the connection succeeds and the request is written.
    let d = double();
    d.fault(json!({"mode": "slow", "ms": 2000}));
    let client =
        Client::new(&d.config(json!({"connect_timeout_ms": 400, "timeout_ms": 400}))).unwrap();
    let env = client.upload(&good_request("pos-6776312", json!(1)));
    assert_eq!(kind(&env), "timeout", "{env}");
    assert_eq!(env["error"]["delivery"], "unknown", "{env}");
    assert_eq!(env["error"]["retryable"], false, "{env}");
    assert_eq!(d.requests(), 1);

    // A peer that reads the whole request and then closes without a word.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        tx.send(read_raw_request(&mut s).is_some()).unwrap();
    });
    let url = format!("http://127.0.0.1:{port}/openapi");
    let client = Client::new(&d.config(json!({ "url": url }))).unwrap();
    let env = client.upload(&good_request("pos-6776312", json!(1)));
    assert!(rx.recv().unwrap(), "the peer got a whole request");
    assert_eq!(env["error"]["delivery"], "unknown", "{env}");
    assert_eq!(env["error"]["retryable"], false, "{env}");
}

/// Data segments the kernel received on `s` (Linux `tcp_info.tcpi_data_segs_in`, since 4.6).
fn data_segments_in(s: &TcpStream) -> u32 {
    use std::os::unix::io::AsRawFd;
    let mut info = [0u8; 256];
    let mut len = info.len() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0);
    // Offset of tcpi_data_segs_in in struct tcp_info (include/uapi/linux/tcp.h).
    assert!(len >= 156, "kernel too old for tcpi_data_segs_in");
    u32::from_ne_bytes(info[152..156].try_into().unwrap())
}

#[test]
fn each_request_leaves_in_one_segment_on_a_warm_connection() {
    const CALLS: u32 = 40;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut served = 0;
        while read_raw_request(&mut s).is_some() {
            let body = br#"{"status":0,"data":{"stockin_id":1,"type":12}}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            s.write_all(&[head.as_bytes(), body].concat()).unwrap();
            served += 1;
            if served == CALLS {
                tx.send(data_segments_in(&s)).unwrap();
            }
        }
    });
    let d = double();
    let url = format!("http://127.0.0.1:{port}/openapi");
    let client = Client::new(&d.config(json!({ "url": url }))).unwrap();
    for _ in 0..CALLS {
        let env = client.upload(&good_request("pos-6776312", json!(1)));
        assert_eq!(env["ok"], true, "{env}");
    }
    let segments = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        segments, CALLS,
        "every request (head and body) must be one write, hence one segment"
    );
}
