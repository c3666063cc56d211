//! End-to-end tests of the `wdt` binary: every subcommand and every exit status, against the
//! gateway double started through `wdt mock` itself on a loopback port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_wdt");
const SECRET: &str = "testsecret";
/// `wdt doctor`'s config of the bundled double, printed when there is no config at all.
const TEMPLATE: &str = r#"{"sid":"wdtapi3","appkey":"wdt_test","appsecret":"testsecret:testsalt","url":"http://127.0.0.1:9876/openapi"}"#;
const GOOD_REFUND: &str = r#"{"refundInfo":{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"cli"},"detailMapList":[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],"createPreStockin":false}"#;

struct Mock {
    child: Child,
    url: String,
}

impl Mock {
    /// `wdt mock` on an OS-chosen port; the URL comes from its one stdout line.
    fn start() -> Mock {
        let mut child = Command::new(BIN)
            .args(["mock", "--port", "0", "--quiet"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wdt mock");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("wdt-mock listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Mock { child, url }
    }

    fn base(&self) -> &str {
        self.url.trim_end_matches("/openapi")
    }

    /// POST /__mock/fault with a fault spec such as `drop` or `skew:300`.
    fn fault(&self, spec: &str) {
        let addr = self.base().trim_start_matches("http://").to_owned();
        let mut s = TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "POST /__mock/fault HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{spec}",
            spec.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh working directory, optionally holding wdt.json.
fn workdir(config: Option<Value>) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "wdt-cli-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if let Some(c) = config {
        std::fs::write(dir.join("wdt.json"), c.to_string()).unwrap();
    }
    dir
}

fn config(url: &str) -> Value {
    json!({"sid": "wdtapi3", "appkey": "wdt_test", "appsecret": format!("{SECRET}:testsalt"),
           "url": url, "connect_timeout_ms": 1000, "timeout_ms": 5000})
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
    fn envelope(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not an envelope ({e}): {}", self.stdout))
    }
}

fn wdt(dir: &PathBuf, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir);
    for var in [
        "WDT_SID",
        "WDT_APPKEY",
        "WDT_APPSECRET",
        "WDT_URL",
        "WDT_ENV",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run wdt");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let out = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    // The secret half of appsecret never leaves the library, whatever the command printed
    // (`wdt mock --help` and doctor's config template name the double's own well-known test
    // account, which is no secret; anything else printing it is a leak).
    let printed = out.all().replace(TEMPLATE, "");
    assert!(
        args.first() == Some(&"mock")
            || !printed.contains(SECRET) && !printed.contains("wrongsecret"),
        "secret echoed: {}",
        out.all()
    );
    out
}

/// An error envelope printed with --json: its exit status, kind and delivery, and a hint.
fn assert_error(out: &Out, code: i32, kind: &str, delivery: &str) {
    assert_eq!(out.code, code, "{}", out.all());
    let env = out.envelope();
    assert_eq!(env["ok"], false, "{env}");
    assert_eq!(env["error"]["kind"], kind, "{env}");
    assert_eq!(env["error"]["delivery"], delivery, "{env}");
    assert!(
        env["error"]["hint"].as_str().is_some_and(|h| !h.is_empty()),
        "no hint: {env}"
    );
}

fn window_around_now() -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    json!({"start_time": wdt_mock_time(now - 86_400), "end_time": wdt_mock_time(now + 86_400)})
}

fn wdt_mock_time(unix: i64) -> String {
    wdt_mock::time::beijing_datetime(unix)
}

#[test]
fn help_version_and_usage_errors() {
    let dir = workdir(None);
    let out = wdt(&dir, &["--help"], &[], None);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("wdt doctor") || out.stdout.contains("doctor"));
    assert!(out.stdout.contains("退出码"));
    let out = wdt(&dir, &["--version"], &[], None);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("wdt "));
    for args in [
        &["frobnicate"][..],
        &["call"],
        &["call", "m", "--page-size", "x"],
        &["call", "m", "--bogus"],
        &["call", "m", "no-such-file.json"],
        &["smart-refund"],
        &["smart-refund", "a.json", "b.json"],
        &["doctor", "extra"],
        &["--config"],
        &["mock", "--host", "10.1.2.3"],
        &["mock", "--no-such-flag"],
    ] {
        let out = wdt(&dir, args, &[], None);
        assert_eq!(out.code, 2, "{args:?}: {}", out.all());
    }
    let out = wdt(&dir, &["mock", "--help"], &[], None);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("wdt mock [options]"), "{}", out.stdout);
}

#[test]
fn call_and_smart_refund_against_the_double() {
    let mock = Mock::start();
    let dir = workdir(Some(config(&mock.url)));

    // 0: a quick return, human output (data on stdout, 中文 then English on stderr).
    std::fs::write(dir.join("refund.json"), GOOD_REFUND).unwrap();
    let out = wdt(&dir, &["smart-refund", "refund.json"], &[], None);
    assert_eq!(out.code, 0, "{}", out.all());
    let data: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(data["type"], 12);
    assert!(out.stderr.contains("成功"));
    // The same from stdin with --json: the raw envelope.
    let out = wdt(
        &dir,
        &["--json", "smart-refund", "-"],
        &[],
        Some(GOOD_REFUND),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let env = out.envelope();
    assert_eq!(env["ok"], true);
    assert!(env["data"]["stockin_id"].as_i64().unwrap() >= 1000);

    // 0: a paged query finds both, total_count included; an object is the one argument.
    std::fs::write(dir.join("q.json"), window_around_now().to_string()).unwrap();
    let out = wdt(
        &dir,
        &[
            "--json",
            "call",
            "wms.stockin.Refund.queryWithDetail",
            "q.json",
            "--page-size",
            "1",
            "--page-no",
            "1",
        ],
        &[],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let env = out.envelope();
    assert_eq!(env["total_count"], 2, "{env}");
    assert_eq!(env["data"]["order"].as_array().unwrap().len(), 1);
    let out = wdt(
        &dir,
        &[
            "call",
            "wms.stockin.Refund.queryWithDetail",
            "-",
            "--page-size",
            "50",
        ],
        &[],
        Some(&format!("[{}]", window_around_now())),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("total_count: 2"), "{}", out.stdout);
    let out = wdt(
        &dir,
        &[
            "--json",
            "call",
            "wms.stockin.Refund.queryWithDetail",
            "q.json",
            "--page-size",
            "5",
            "--no-total",
        ],
        &[],
        None,
    );
    assert_eq!(out.code, 0);
    assert!(out.envelope().get("total_count").is_none());

    // 4: invalid_argument, with the field path, never sent.
    let out = wdt(
        &dir,
        &[
            "--json",
            "call",
            "wms.stockin.Refund.queryWithDetail",
            "q.json",
        ],
        &[],
        None,
    );
    assert_error(&out, 4, "invalid_argument", "not_sent");
    assert_eq!(out.envelope()["error"]["field"], "pager");
    std::fs::write(
        dir.join("wide.json"),
        r#"{"start_time":"2024-01-01 00:00:00","end_time":"2024-03-01 00:00:00"}"#,
    )
    .unwrap();
    let out = wdt(
        &dir,
        &[
            "--json",
            "call",
            "wms.stockin.Refund.queryWithDetail",
            "wide.json",
            "--page-size",
            "1",
        ],
        &[],
        None,
    );
    assert_error(&out, 4, "invalid_argument", "not_sent");
    assert_eq!(out.envelope()["error"]["field"], "args[0].end_time");
    let out = wdt(
        &dir,
        &["--json", "smart-refund", "-"],
        &[],
        Some("{\"refundInfo\":{}}"),
    );
    assert_error(&out, 4, "invalid_argument", "not_sent");
    let out = wdt(&dir, &["--json", "call", "x.y", "-"], &[], Some("not json"));
    assert_error(&out, 4, "invalid_argument", "not_sent");
    // The human form says it in 中文 first, then English.
    let out = wdt(
        &dir,
        &["smart-refund", "-"],
        &[],
        Some("{\"refundInfo\":{}}"),
    );
    assert_eq!(out.code, 4);
    let cn = out.stderr.find("提示：").expect("hint line");
    let en = out.stderr.find("Failed:").expect("English part");
    assert!(cn < en, "{}", out.stderr);

    // 1: the gateway's rejection (status 100 for an order the ERP does not have).
    let unknown_order = GOOD_REFUND.replace("pos-6776312", "no-such-order");
    let out = wdt(
        &dir,
        &["--json", "smart-refund", "-"],
        &[],
        Some(&unknown_order),
    );
    assert_error(&out, 1, "api", "rejected");
    assert_eq!(out.envelope()["error"]["status"], 100);
    assert!(out.envelope()["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("原始单号"));
}

#[test]
fn config_sources_and_config_errors() {
    let mock = Mock::start();
    // Environment only, no wdt.json.
    let dir = workdir(None);
    let env = [
        ("WDT_SID", "wdtapi3"),
        ("WDT_APPKEY", "wdt_test"),
        ("WDT_APPSECRET", "testsecret:testsalt"),
        ("WDT_URL", mock.url.as_str()),
    ];
    let out = wdt(
        &dir,
        &["--json", "smart-refund", "-"],
        &env,
        Some(GOOD_REFUND),
    );
    assert_eq!(out.code, 0, "{}", out.all());

    // 3: nothing configured; an explicit --config that does not exist; a malformed file; a
    // malformed appsecret (and its value is not echoed).
    let out = wdt(
        &dir,
        &["--json", "smart-refund", "-"],
        &[],
        Some(GOOD_REFUND),
    );
    assert_error(&out, 3, "config", "not_sent");
    let out = wdt(
        &dir,
        &["--json", "--config", "nope.json", "smart-refund", "-"],
        &env,
        Some(GOOD_REFUND),
    );
    assert_error(&out, 3, "config", "not_sent");
    std::fs::write(dir.join("bad.json"), "{").unwrap();
    let out = wdt(
        &dir,
        &["--json", "--config", "bad.json", "doctor"],
        &[],
        None,
    );
    assert_eq!(out.code, 3, "{}", out.all());
    let bad_secret = [
        ("WDT_SID", "wdtapi3"),
        ("WDT_APPKEY", "wdt_test"),
        ("WDT_APPSECRET", "wrongsecret"),
        ("WDT_URL", mock.url.as_str()),
    ];
    let out = wdt(
        &dir,
        &["--json", "smart-refund", "-"],
        &bad_secret,
        Some(GOOD_REFUND),
    );
    assert_error(&out, 3, "config", "not_sent");
    assert_eq!(out.envelope()["error"]["field"], "appsecret");

    // The environment wins over the file key by key; WDT_URL replaces the file's env.
    let dir = workdir(Some(json!({"sid": "other", "appkey": "wdt_test",
        "appsecret": "testsecret:testsalt", "env": "test"})));
    let env = [("WDT_SID", "wdtapi3"), ("WDT_URL", mock.url.as_str())];
    let out = wdt(
        &dir,
        &["--json", "smart-refund", "-"],
        &env,
        Some(GOOD_REFUND),
    );
    assert_eq!(out.code, 0, "{}", out.all());
}

#[test]
fn network_failures_map_to_their_exit_status() {
    let mock = Mock::start();
    let dir = workdir(Some(config(&mock.url)));

    // 5: nothing listens on the port: transport, not sent.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = dir.join("closed.json");
    std::fs::write(
        &cfg,
        config(&format!("http://127.0.0.1:{closed}/openapi")).to_string(),
    )
    .unwrap();
    let out = wdt(
        &dir,
        &[
            "--json",
            "--config",
            cfg.to_str().unwrap(),
            "smart-refund",
            "-",
        ],
        &[],
        Some(GOOD_REFUND),
    );
    assert_error(&out, 5, "transport", "not_sent");

    // 7: the double takes the request and closes without answering: may have reached the ERP.
    mock.fault("drop");
    let out = wdt(
        &dir,
        &["--json", "smart-refund", "-"],
        &[],
        Some(GOOD_REFUND),
    );
    assert_error(&out, 7, "transport", "unknown");

    // 8: the answer comes after the budget.
    mock.fault("slow:3000");
    let slow = dir.join("slow.json");
    let mut c = config(&mock.url);
    c["timeout_ms"] = json!(500);
    c["connect_timeout_ms"] = json!(500);
    std::fs::write(&slow, c.to_string()).unwrap();
    let out = wdt(
        &dir,
        &[
            "--json",
            "--config",
            slow.to_str().unwrap(),
            "smart-refund",
            "-",
        ],
        &[],
        Some(GOOD_REFUND),
    );
    assert_error(&out, 8, "timeout", "unknown");

    // 9 and 10: an HTML error page, a captive portal's 200.
    mock.fault("html500");
    let out = wdt(
        &dir,
        &["--json", "smart-refund", "-"],
        &[],
        Some(GOOD_REFUND),
    );
    assert_error(&out, 9, "http", "unknown");
    mock.fault("html200");
    let out = wdt(
        &dir,
        &["--json", "smart-refund", "-"],
        &[],
        Some(GOOD_REFUND),
    );
    assert_error(&out, 10, "bad_response", "unknown");
    mock.fault("none");

    // 11: a panic inside the library (the test hook) becomes internal, not a dead process.
    let hooks = dir.join("hooks.json");
    let mut c = config(&mock.url);
    c["test_hooks"] = json!(true);
    std::fs::write(&hooks, c.to_string()).unwrap();
    let out = wdt(
        &dir,
        &[
            "--json",
            "--config",
            hooks.to_str().unwrap(),
            "call",
            "wdt.test.panic",
        ],
        &[],
        None,
    );
    assert_error(&out, 11, "internal", "unknown");

    // 6: a listener whose accept queue is full drops our SYN: connect times out, nothing sent.
    let (listener, _held) = full_listener();
    let port = listener.local_addr().unwrap().port();
    let cfg = dir.join("full.json");
    let mut c = config(&format!("http://127.0.0.1:{port}/openapi"));
    c["connect_timeout_ms"] = json!(300);
    std::fs::write(&cfg, c.to_string()).unwrap();
    let out = wdt(
        &dir,
        &[
            "--json",
            "--config",
            cfg.to_str().unwrap(),
            "smart-refund",
            "-",
        ],
        &[],
        Some(GOOD_REFUND),
    );
    assert_error(&out, 6, "timeout", "not_sent");
}

/// A listener that never accepts, connected to until the kernel stops completing handshakes.
fn full_listener() -> (TcpListener, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..10_000 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => held.push(s),
            Err(_) => return (listener, held),
        }
    }
    panic!("the accept queue never filled");
}

#[test]
fn doctor_reports() {
    let mock = Mock::start();
    let dir = workdir(Some(config(&mock.url)));

    let good = wdt(&dir, &["doctor"], &[], None);
    assert_eq!(good.code, 0, "{}", good.all());
    assert!(
        good.stdout.contains("全部通过 / all checks passed"),
        "{}",
        good.stdout
    );
    assert!(good.stdout.contains("协议测试向量 2/2"));
    assert!(good.stdout.contains("appsecret 已设置（不显示）"));

    let wrong_secret = wdt(
        &dir,
        &["doctor"],
        &[("WDT_APPSECRET", "wrongsecret:testsalt")],
        None,
    );
    assert_eq!(wrong_secret.code, 1, "{}", wrong_secret.all());
    assert!(wrong_secret.stdout.contains("验证失败"));
    assert!(wrong_secret.stdout.contains("secret 部分不对"));

    let wrong_env = wdt(&dir, &["doctor"], &[("WDT_SID", "wdtapi3-prod")], None);
    assert_eq!(wrong_env.code, 1, "{}", wrong_env.all());
    assert!(wrong_env.stdout.contains("sid is not exists"));
    assert!(wrong_env.stdout.contains("另一个环境"));
    assert!(wrong_env.stdout.contains("other environment"));

    mock.fault("skew:300");
    let skewed = wdt(&dir, &["doctor"], &[], None);
    assert_eq!(skewed.code, 0, "{}", skewed.all());
    assert!(
        skewed.stdout.contains("[注意 warn] 时钟"),
        "{}",
        skewed.stdout
    );
    assert!(
        ["299", "300", "301"]
            .iter()
            .any(|s| skewed.stdout.contains(&format!("慢 {s} 秒"))),
        "{}",
        skewed.stdout
    );
    mock.fault("none");

    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let unreachable = wdt(
        &dir,
        &["doctor"],
        &[("WDT_URL", &format!("http://127.0.0.1:{closed}/openapi"))],
        None,
    );
    assert_eq!(unreachable.code, 5, "{}", unreachable.all());
    assert!(unreachable.stdout.contains("连不上网关"));

    // The clock is learned from a gateway's answer: with none it is skipped, not "within 2 s".
    // The probe is a query, so no quick-return resend advice either.
    assert!(
        unreachable.stdout.contains("[跳过 skip] 时钟 / clock"),
        "{}",
        unreachable.stdout
    );
    assert!(!unreachable.stdout.contains("误差 2 秒内"));
    assert!(
        !unreachable.stdout.contains("重发") && !unreachable.stdout.contains("resend"),
        "{}",
        unreachable.stdout
    );
    assert!(unreachable.stdout.contains("探测只是一次查询"));

    // No config at all: the double's config, ready to save, and how to start the double.
    let no_config = wdt(&workdir(None), &["doctor"], &[], None);
    assert_eq!(no_config.code, 3, "{}", no_config.all());
    assert!(no_config.stdout.contains(TEMPLATE), "{}", no_config.stdout);
    assert!(
        no_config.stdout.contains("wdt mock &"),
        "{}",
        no_config.stdout
    );
    assert!(
        !no_config.stdout.contains("sid is required"),
        "{}",
        no_config.stdout
    );

    // A misspelt key: the nearest key, and never the internal test_hooks.
    let mut typo = config(&mock.url);
    typo["sdi"] = typo["sid"].take();
    typo.as_object_mut().unwrap().remove("sid");
    let misspelt = wdt(&workdir(Some(typo)), &["doctor"], &[], None);
    assert_eq!(misspelt.code, 3, "{}", misspelt.all());
    assert!(
        misspelt.stdout.contains("did you mean: sid"),
        "{}",
        misspelt.stdout
    );
    assert!(!misspelt.all().contains("test_hooks"), "{}", misspelt.all());

    // Printed for a reader of the test log: what a user sees in each of the four cases.
    for (name, out) in [
        ("good", &good),
        ("wrong secret", &wrong_secret),
        ("wrong environment", &wrong_env),
        ("skewed clock", &skewed),
        ("unreachable", &unreachable),
        ("no config", &no_config),
        ("misspelt key", &misspelt),
    ] {
        println!(
            "--- wdt doctor, {name} (exit {}):\n{}",
            out.code, out.stdout
        );
    }
}

#[test]
fn mock_defaults_to_the_port_of_the_docs() {
    // Every example config points at 127.0.0.1:9876: `wdt mock` without --port must serve there,
    // or say that the port is taken and how to choose another; never quietly pick a port no
    // example knows.

    // Taken by this test: refused, with the way out. (If something else holds the port, it may
    // let go before wdt mock binds; then serving on 9876 is right too, and nothing may hang.)
    let held = TcpListener::bind("127.0.0.1:9876");
    let mut child = Command::new(BIN)
        .args(["mock", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wdt mock");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.is_empty() {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("9876") && err.contains("--port 0"), "{err}");
    } else {
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            held.is_err(),
            "wdt mock served on a port this test held: {line}"
        );
        assert_eq!(
            line.trim(),
            "wdt-mock listening on http://127.0.0.1:9876/openapi"
        );
    }
    drop(held);

    // Free: in a private network namespace (unshare -rn) the port is free whatever else runs
    // here, so the answer does not depend on other tests or sessions.
    let private = Command::new("unshare")
        .args(["-rn", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !private {
        println!("unshare -rn is not available: the free-port case was not run");
        return;
    }
    let mut child = Command::new("unshare")
        .args(["-rn", BIN, "mock", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wdt mock");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        line.trim(),
        "wdt-mock listening on http://127.0.0.1:9876/openapi"
    );
}
