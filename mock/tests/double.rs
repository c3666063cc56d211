//! End-to-end checks of the `wdt-mock` binary over real sockets: the start-up
//! line, the gateway checks, the control endpoints and every fault mode.
//! Each test starts its own double on an OS-chosen loopback port.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use wdt_mock::sign;

const BIN: &str = env!("CARGO_BIN_EXE_wdt-mock");
const QUICK_RETURN: &str = "wms.stockin.SmartRefund.upload";
const QUERY: &str = "wms.stockin.Refund.queryWithDetail";
const GOOD: &str = r#"[{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"pos refundInfo remark"},[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],false]"#;

struct Mock {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Mock {
    fn start(extra: &[&str]) -> Mock {
        let mut child = Command::new(BIN)
            .args(["--port", "0", "--keepalive-ms", "400"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start wdt-mock");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .strip_prefix("wdt-mock listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim_end();
        let addr = url
            .strip_prefix("http://")
            .and_then(|u| u.strip_suffix("/openapi"))
            .unwrap()
            .to_string();
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let err = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Mock {
            child,
            addr,
            stderr,
        }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Waits briefly for the log to contain `needle` (stderr is read by a thread).
    fn log_contains(&self, needle: &str) -> String {
        for _ in 0..50 {
            let log = self.stderr.lock().unwrap().clone();
            if log.contains(needle) {
                return log;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("log lacks {needle:?}:\n{}", self.stderr.lock().unwrap());
    }

    fn control(&self, method: &str, path: &str, body: &str) -> Value {
        let mut s = self.connect();
        send(
            &mut s,
            method,
            path,
            body.as_bytes(),
            "Connection: close\r\n",
        );
        let r = read_response(&mut s).unwrap();
        serde_json::from_slice(&r.body).unwrap()
    }

    fn fault(&self, fault: Value) {
        let r = self.control("POST", "/__mock/fault", &fault.to_string());
        assert_eq!(r["ok"], true, "{r}");
    }

    fn stats(&self) -> Value {
        self.control("GET", "/__mock/stats", "")
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A signed `/openapi` target; `ts_offset` moves the timestamp, `secret`
/// signs (the double expects `testsecret`).
fn target(method: &str, pager: &str, body: &str, ts_offset: i64, secret: &str) -> String {
    let ts = unix_now() - 1_325_347_200 + ts_offset;
    let query = format!(
        "sid=wdtapi3&key=wdt_test&salt=testsalt&method={method}&v=1.0&timestamp={ts}{pager}"
    );
    let params = wdt_mock::http::parse_query(&query);
    let s = sign::sign(&params, body.as_bytes(), secret);
    format!("/openapi?{query}&sign={s}")
}

fn send(s: &mut TcpStream, method: &str, target: &str, body: &[u8], headers: &str) {
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
}

struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&self.body));
        })
    }
}

/// Reads one answer framed by Content-Length. An early EOF is an error whose
/// message says how many body bytes came.
fn read_response(s: &mut TcpStream) -> std::io::Result<Response> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(ErrorKind::UnexpectedEof, "eof in head"));
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head[9..12].parse().unwrap();
    let mut r = Response {
        status,
        head,
        body: Vec::new(),
    };
    let len: usize = r.header("content-length").unwrap().parse().unwrap();
    let mut body = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let n = s.read(&mut body[got..])?;
        if n == 0 {
            return Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                format!("body {got} of {len}"),
            ));
        }
        got += n;
    }
    r.body = body;
    Ok(r)
}

fn call(mock: &Mock, target: &str, body: &str) -> Response {
    let mut s = mock.connect();
    send(&mut s, "POST", target, body.as_bytes(), "");
    read_response(&mut s).unwrap()
}

/// True when the peer closed the connection (EOF or reset) without more data.
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
    }
}

fn good() -> String {
    target(QUICK_RETURN, "", GOOD, 0, "testsecret")
}

#[test]
fn quick_return_query_and_stats() {
    let m = Mock::start(&[]);
    let r = call(&m, &good(), GOOD);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").unwrap(),
        "application/json; charset=utf-8"
    );
    assert!(r.header("date").unwrap().ends_with(" GMT"));
    assert_eq!(
        r.json(),
        json!({"status": 0, "data": {"stockin_id": 1000, "type": 12}})
    );

    let cn = r#"[{"tid":"pos-中文-0001","return_warehouse_no":"门店仓","remark":"顾客退货：尺码不合适"},[{"spec_no":"衬衫-红-XL","stockin_num":1.50,"remark":"线头 😀"}],false]"#;
    let r = call(&m, &target(QUICK_RETURN, "", cn, 0, "testsecret"), cn);
    assert_eq!(r.json()["data"]["stockin_id"], 1001);

    // The double refuses windows over 30 days, as the gateway does: a day either side of now.
    let now = wdt_mock::time::host_now_ms().div_euclid(1000);
    let q = format!(
        r#"[{{"start_time":"{}","end_time":"{}"}}]"#,
        wdt_mock::time::beijing_datetime(now - 86_400),
        wdt_mock::time::beijing_datetime(now + 86_400)
    );
    let q = q.as_str();
    let r = call(
        &m,
        &target(
            QUERY,
            "&page_size=1&page_no=1&calc_total=1",
            q,
            0,
            "testsecret",
        ),
        q,
    );
    let text = String::from_utf8(r.body.clone()).unwrap();
    // Byte-exact, not \u-escaped.
    assert!(
        text.contains("\"remark\":\"顾客退货：尺码不合适\""),
        "{text}"
    );
    assert!(text.contains("\"remark\":\"线头 😀\""), "{text}");
    let v = r.json();
    assert_eq!(v["data"]["total_count"], 2);
    assert_eq!(v["data"]["order"][0]["stockin_id"], 1001);
    assert_eq!(
        v["data"]["order"][0]["details_list"][0]["spec_no"],
        "衬衫-红-XL"
    );

    let stats = m.stats();
    assert_eq!(stats["requests"], 3);
    assert_eq!(stats["by_method"][QUICK_RETURN], 2);
    assert_eq!(stats["by_method"][QUERY], 1);
    assert_eq!(stats["stockins"], 2);

    assert_eq!(m.control("POST", "/__mock/reset", "")["ok"], true);
    assert_eq!(
        m.stats(),
        json!({"requests": 0, "by_method": {}, "stockins": 0, "closed": 0})
    );
    // Ids go on counting after a reset.
    assert_eq!(call(&m, &good(), GOOD).json()["data"]["stockin_id"], 1002);
    assert_eq!(m.control("GET", "/__mock/health", "")["ok"], true);
}

#[test]
fn gateway_rejections() {
    let m = Mock::start(&[]);
    let unknown = GOOD.replace("pos-6776312", "no-such-order");
    let r = call(
        &m,
        &target(QUICK_RETURN, "", &unknown, 0, "testsecret"),
        &unknown,
    );
    assert_eq!(
        r.json(),
        json!({"status": 100, "message": "未找到对应的单据信息!"})
    );

    let r = call(
        &m,
        &target(QUICK_RETURN, "", GOOD, -200, "testsecret"),
        GOOD,
    );
    assert_eq!(r.json(), json!({"status": 7, "message": "时间戳错误"}));

    let r = call(&m, &target(QUICK_RETURN, "", GOOD, 0, "wrongsecret"), GOOD);
    assert_eq!(r.json(), json!({"status": 1, "message": "验证失败"}));
    let log = m.log_contains("sign mismatch");
    assert!(!log.contains("testsecret"), "{log}");
    assert!(!log.contains("wrongsecret"), "{log}");
    assert!(
        log.contains("signed string: ***body[{\"tid\":\"pos-6776312\""),
        "{log}"
    );

    let r = call(
        &m,
        &target(QUICK_RETURN, "", GOOD, 0, "testsecret").replace("v=1.0", "v=2.0"),
        GOOD,
    );
    assert_eq!(r.json()["status"], 8);
    assert_eq!(m.stats()["stockins"], 0);
}

#[test]
fn keep_alive_then_idle_close() {
    let m = Mock::start(&[]);
    let mut s = m.connect();
    for _ in 0..3 {
        send(&mut s, "POST", &good(), GOOD.as_bytes(), "");
        assert_eq!(read_response(&mut s).unwrap().json()["status"], 0);
    }
    let start = Instant::now();
    assert!(closed(&mut s));
    let idle = start.elapsed();
    assert!(
        idle >= Duration::from_millis(300) && idle < Duration::from_secs(3),
        "{idle:?}"
    );

    let mut s = m.connect();
    send(
        &mut s,
        "GET",
        "/__mock/health",
        b"",
        "Connection: close\r\n",
    );
    let r = read_response(&mut s).unwrap();
    assert_eq!(r.header("connection").unwrap(), "close");
    assert!(closed(&mut s));
}

#[test]
fn request_line_alone_is_counted() {
    let m = Mock::start(&[]);
    let mut s = m.connect();
    s.write_all(format!("POST {} HTTP/1.1\r\n", good()).as_bytes())
        .unwrap();
    for _ in 0..50 {
        if m.stats()["requests"] == 1 {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("a request line was not counted: {}", m.stats());
}

#[test]
fn faults_in_front_of_the_gateway_do_not_process() {
    let m = Mock::start(&[]);
    m.fault(json!({"mode": "drop"}));
    let mut s = m.connect();
    send(&mut s, "POST", &good(), GOOD.as_bytes(), "");
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap(), 0);

    m.fault(json!({"mode": "reset"}));
    let mut s = m.connect();
    send(&mut s, "POST", &good(), GOOD.as_bytes(), "");
    let err = s.read_to_end(&mut rest).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);

    m.fault(json!({"mode": "html200"}));
    let r = call(&m, &good(), GOOD);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));

    m.fault(json!({"mode": "html500"}));
    let r = call(&m, &good(), GOOD);
    assert_eq!(r.status, 500);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));

    m.fault(json!({"mode": "json502"}));
    let r = call(&m, &good(), GOOD);
    assert_eq!(r.status, 502);
    assert_eq!(r.json(), json!({"status": 99, "message": "其他错误"}));

    m.fault(json!({"mode": "ratelimit"}));
    assert_eq!(
        call(&m, &good(), GOOD).json(),
        json!({"status": 100, "message": "超过每分钟最大调用频率限制，请稍后重试"})
    );
    m.fault(json!({"mode": "concurrency"}));
    assert_eq!(
        call(&m, &good(), GOOD).json(),
        json!({"status": 100, "message": "超过每分钟最大并发次数限制，请稍后重试"})
    );

    let stats = m.stats();
    assert_eq!(stats["requests"], 7, "dropped requests count too: {stats}");
    assert_eq!(stats["stockins"], 0);
}

#[test]
fn faults_after_the_gateway_process() {
    let m = Mock::start(&[]);
    m.fault(json!({"mode": "drop_after"}));
    let mut s = m.connect();
    send(&mut s, "POST", &good(), GOOD.as_bytes(), "");
    assert!(closed(&mut s));
    assert_eq!(m.stats()["stockins"], 1);

    m.fault(json!({"mode": "reset_after"}));
    let mut s = m.connect();
    send(&mut s, "POST", &good(), GOOD.as_bytes(), "");
    let mut rest = Vec::new();
    assert_eq!(
        s.read_to_end(&mut rest).unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );
    assert_eq!(m.stats()["stockins"], 2);

    m.fault(json!({"mode": "truncated"}));
    let mut s = m.connect();
    send(&mut s, "POST", &good(), GOOD.as_bytes(), "");
    let err = read_response(&mut s).err().expect("a truncated answer");
    assert!(err.to_string().starts_with("body "), "{err}");

    m.fault(json!({"mode": "oversized", "bytes": 3_000_000}));
    let r = call(&m, &good(), GOOD);
    assert_eq!(r.body.len(), 3_000_000);
    assert_eq!(r.json()["status"], 0);

    m.fault(json!({"mode": "slow", "ms": 600}));
    let start = Instant::now();
    assert_eq!(call(&m, &good(), GOOD).json()["status"], 0);
    assert!(start.elapsed() >= Duration::from_millis(600));

    m.fault(json!({"mode": "close_idle"}));
    let mut s = m.connect();
    send(&mut s, "POST", &good(), GOOD.as_bytes(), "");
    let r = read_response(&mut s).unwrap();
    assert_eq!(r.header("connection").unwrap(), "keep-alive");
    assert!(closed(&mut s));

    assert_eq!(m.stats()["stockins"], 6);
}

#[test]
fn count_limits_a_fault() {
    let m = Mock::start(&["--fault", r#"{"mode":"ratelimit","count":2}"#]);
    assert_eq!(call(&m, &good(), GOOD).json()["status"], 100);
    assert_eq!(call(&m, &good(), GOOD).json()["status"], 100);
    assert_eq!(call(&m, &good(), GOOD).json()["status"], 0);
    assert_eq!(m.control("GET", "/__mock/fault", "")["faults"], json!([]));
}

#[test]
fn skew_moves_the_clock_and_the_date_header() {
    let m = Mock::start(&["--fault", "skew:300"]);
    let r = call(&m, &good(), GOOD);
    assert_eq!(r.json()["status"], 7);
    // The Date header carries the skewed clock, so a client can correct by it.
    let date = r.header("date").unwrap();
    let secs = date_to_unix(&date);
    assert!((secs - unix_now() - 300).abs() <= 2, "{date}");
    let shifted = target(QUICK_RETURN, "", GOOD, 300, "testsecret");
    assert_eq!(call(&m, &shifted, GOOD).json()["status"], 0);
}

/// Parses `Sat, 28 Nov 2026 14:01:30 GMT` (only what the double emits).
fn date_to_unix(d: &str) -> i64 {
    let p: Vec<&str> = d.split([' ', ':']).collect();
    let day: i64 = p[1].parse().unwrap();
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == p[2])
    .unwrap() as i64
        + 1;
    let year: i64 = p[3].parse().unwrap();
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * m + 2) / 5 + day - 719_469;
    let (h, mi, s): (i64, i64, i64) = (
        p[4].parse().unwrap(),
        p[5].parse().unwrap(),
        p[6].parse().unwrap(),
    );
    days * 86_400 + h * 3600 + mi * 60 + s
}

#[test]
fn cli_refuses_non_loopback_and_prints_help() {
    let out = Command::new(BIN)
        .args(["--host", "0.0.0.0", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to bind"));
    assert!(out.stdout.is_empty());

    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--fault MODE[:ARG]"));
}
