//! `wdt doctor`: the four things that stop a new till from working, checked in order, each
//! with what a failure means. Config (the library's own validation); the sign self-test (the
//! protocol's test vectors through the double's independent signer, then libwdt's signs checked
//! by that signer on a private in-process double, so a broken build is told apart from wrong
//! credentials); the gateway (one harmless paged query that creates nothing); the clock offset
//! the library learned from the gateway's `Date` header.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::config;
use crate::output::{self, EXIT_CONFIG, EXIT_INTERNAL, EXIT_OK};

/// The probe: a query, so nothing is created in the ERP whatever the account.
const PROBE_METHOD: &str = "wms.stockin.Refund.queryWithDetail";
/// Past this the gateway would refuse our timestamps (it allows 120 s) were the library not
/// correcting them; worth fixing the till's clock.
const CLOCK_WARN_SECS: i64 = 60;

struct Report {
    code: u8,
    warnings: usize,
}

impl Report {
    fn pass(&mut self, name: &str, detail: &str) {
        println!("[通过 ok]   {name}: {detail}");
    }

    fn warn(&mut self, name: &str, detail: &str) {
        self.warnings += 1;
        println!("[注意 warn] {name}: {detail}");
    }

    /// A check that could not run: neither passed nor failed, and said so.
    fn skip(&mut self, name: &str, detail: &str) {
        println!("[跳过 skip] {name}: {detail}");
    }

    fn fail(&mut self, name: &str, detail: &str, code: u8) {
        println!("[失败 FAIL] {name}: {detail}");
        if self.code == EXIT_OK {
            self.code = code;
        }
    }
}

pub fn run(explicit_config: Option<&str>) -> u8 {
    let mut r = Report {
        code: EXIT_OK,
        warnings: 0,
    };
    println!("wdt doctor");

    // 1. Config.
    let name = "配置 / config";
    let loaded = match config::load(explicit_config) {
        Ok(l) => l,
        Err(envelope) => {
            let v: Value = serde_json::from_str(&envelope).unwrap_or(Value::Null);
            r.fail(
                name,
                v["error"]["message"].as_str().unwrap_or(""),
                EXIT_CONFIG,
            );
            indent(&output::describe_error(&v["error"]));
            return finish(r);
        }
    };
    if loaded.file.is_none() && loaded.from_env.is_empty() {
        r.fail(
            name,
            &format!(
                "没有 {f}，也没有 WDT_* 环境变量 / no {f} and no WDT_* variables",
                f = config::DEFAULT_FILE
            ),
            EXIT_CONFIG,
        );
        print_template();
        return finish(r);
    }
    let mut source = match &loaded.file {
        Some(f) => f.clone(),
        None => format!(
            "（没有 {} / no {}）",
            config::DEFAULT_FILE,
            config::DEFAULT_FILE
        ),
    };
    if !loaded.from_env.is_empty() {
        source.push_str(&format!(" + {}", loaded.from_env.join(" ")));
    }
    let client = match wdt::client_from_json(&loaded.json) {
        Ok(c) => c,
        Err(envelope) => {
            let mut v: Value = serde_json::from_str(&envelope).unwrap_or(Value::Null);
            // The library lists its internal keys (test_hooks) among the expected ones; a
            // person setting up a till must never be pointed at them.
            let message = public_message(v["error"]["message"].as_str().unwrap_or(""));
            v["error"]["message"] = Value::from(message.as_str());
            r.fail(name, &format!("{source}: {message}"), EXIT_CONFIG);
            if let Some(near) = v["error"]["hint"]
                .as_str()
                .and_then(|h| h.split_once("是不是 "))
                .and_then(|(_, rest)| rest.split_once('？'))
                .map(|(key, _)| key.to_owned())
            {
                println!("    是不是 / did you mean: {near}");
            }
            indent(&output::describe_error(&v["error"]));
            return finish(r);
        }
    };
    let show = |key: &str| loaded.map.get(key).and_then(Value::as_str).unwrap_or("");
    let target = match (loaded.map.get("url"), loaded.map.get("env")) {
        (Some(_), _) => show("url").to_owned(),
        (None, Some(_)) => format!("env {}", show("env")),
        _ => "env prod (默认 / default)".to_owned(),
    };
    // appsecret is never shown, not even its salt: it is one secret to the person reading this.
    r.pass(
        name,
        &format!(
            "{source}; sid {}, appkey {}, {target}, appsecret 已设置（不显示）/ set (not shown)",
            show("sid"),
            show("appkey")
        ),
    );

    // 2. Sign self-test.
    let name = "签名自检 / sign self-test";
    match sign_self_test() {
        Ok(()) => r.pass(
            name,
            "协议测试向量 2/2 一致；libwdt 的签名被独立实现接受 / protocol vectors 2/2; libwdt's signs accepted by an independent signer",
        ),
        Err(e) => {
            r.fail(name, &e, EXIT_INTERNAL);
            println!("    含义：这个 wdt 程序本身有问题（签名算法与协议不符），请重新下载或报告缺陷。");
            println!("    meaning: this build of wdt signs wrongly; reinstall it or report a bug.");
        }
    }

    // 3. The gateway.
    let name = "连接网关 / gateway";
    let now = unix_now();
    let probe = serde_json::json!({
        "method": PROBE_METHOD,
        "args": [{
            "start_time": wdt_mock::time::beijing_datetime(now - 3600),
            "end_time": wdt_mock::time::beijing_datetime(now),
        }],
        "pager": {"page_size": 1, "page_no": 0, "calc_total": false}
    });
    let started = Instant::now();
    let envelope_text = wdt::call(&client, &probe.to_string());
    let took = started.elapsed().as_millis();
    let envelope: Value = serde_json::from_str(&envelope_text).unwrap_or(Value::Null);
    let error = &envelope["error"];
    if envelope["ok"] == Value::Bool(true) {
        r.pass(
            name,
            &format!("应答 status 0，账号与签名被接受（{took} ms）/ status 0: credentials and sign accepted ({took} ms)"),
        );
    } else if error["kind"] == "api" && error["status"] == 100 {
        // 100 comes after the gateway's sid, auth, timestamp and sign checks: the account works,
        // only this probe's query was refused (e.g. no warehouse permission).
        r.pass(
            name,
            &format!(
                "账号与签名被接受；探测查询返回 100：{} / credentials accepted; the probe query answered 100: {}",
                error["message"].as_str().unwrap_or(""),
                error["message"].as_str().unwrap_or("")
            ),
        );
    } else {
        r.fail(
            name,
            &format!(
                "{} {}",
                error["kind"].as_str().unwrap_or(""),
                error["message"].as_str().unwrap_or("")
            ),
            output::exit_code(&envelope),
        );
        let (cn, en) = meaning(error);
        println!("    含义：{cn}");
        println!("    meaning: {en}");
        // The probe is a query: whatever became of it, nothing was created, so none of the
        // quick return's "query before resending" advice applies.
        indent(&output::describe_probe_error(error));
        println!("    探测只是一次查询，不会建单；修正后直接再运行 wdt doctor。");
        println!("    the probe is a query and creates nothing; run wdt doctor again once fixed.");
    }
    // The clock offset is learned from a gateway's answer; with none there is nothing to say.
    let answered = envelope["ok"] == Value::Bool(true) || error["kind"] == "api";

    // 4. The clock, as the gateway's Date header taught it.
    let name = "时钟 / clock";
    let offset = client.clock_offset();
    let direction = if offset > 0 {
        ("慢", "behind")
    } else {
        ("快", "ahead of")
    };
    if !answered {
        r.skip(
            name,
            "网关没有应答，无法比对时钟 / not checked: no gateway answered",
        );
    } else if offset == 0 {
        r.pass(
            name,
            "与网关时间一致（误差 2 秒内）/ within 2 s of the gateway",
        );
    } else if offset.abs() < CLOCK_WARN_SECS {
        r.pass(
            name,
            &format!(
                "本机比网关{} {} 秒，libwdt 自动纠正 / the local clock is {} s {} the gateway's; libwdt corrects it",
                direction.0,
                offset.abs(),
                offset.abs(),
                direction.1
            ),
        );
    } else {
        r.warn(
            name,
            &format!(
                "本机比网关{} {} 秒：网关只接受 120 秒内的时间戳，libwdt 已按网关时间纠正，但请校准系统时间（发票、日志也依赖它）/ the local clock is {} s {} the gateway's: libwdt corrects its timestamps, but fix the system clock",
                direction.0,
                offset.abs(),
                offset.abs(),
                direction.1
            ),
        );
    }
    finish(r)
}

fn finish(r: Report) -> u8 {
    if r.code == EXIT_OK && r.warnings == 0 {
        println!("全部通过 / all checks passed");
    } else if r.code == EXIT_OK {
        println!(
            "通过，有 {} 条注意事项 / passed with {} warning(s)",
            r.warnings, r.warnings
        );
    } else {
        println!(
            "有检查未通过（退出码 {}）/ a check failed (exit status {})",
            r.code, r.code
        );
    }
    r.code
}

/// What `wdt doctor` prints when there is no config at all: the double's config and how to
/// start the double, then what to change for a real account.
fn print_template() {
    println!("    先在自带的网关替身上试 / try it on the bundled gateway double first:");
    println!("      wdt mock &");
    println!(
        "    把下面一行存为 {f} / save this line as {f}:",
        f = config::DEFAULT_FILE
    );
    println!("      {}", config::TEMPLATE);
    println!("    然后再运行 wdt doctor。接真实网关时换成自己的 sid、appkey、appsecret（secret:salt），并删掉 url（默认正式网关）。");
    println!("    then run wdt doctor again. For the real gateway put in your own sid, appkey and appsecret (secret:salt) and drop url (production by default).");
}

/// A library message with the internal keys taken out of its list of expected keys.
fn public_message(message: &str) -> String {
    message
        .replace(", test_hooks", "")
        .replace("test_hooks, ", "")
}

fn indent(text: &str) {
    for line in text.lines() {
        println!("    {line}");
    }
}

/// What a failed probe means for the person at the till, beyond the hint.
fn meaning(error: &Value) -> (&'static str, &'static str) {
    let message = error["message"].as_str().unwrap_or("");
    match (error["kind"].as_str().unwrap_or(""), error["status"].as_i64()) {
        ("api", Some(1)) if message.contains("sid is not") => (
            "网关不认识这个 sid：url 指向了另一个环境（测试 / 正式），或 sid 写错了。",
            "the gateway does not know this sid: the URL is for the other environment (test vs production), or the sid is wrong.",
        ),
        ("api", Some(1)) if message.contains("验证失败") => (
            "签名不对：appsecret 的 secret 部分不对（或不属于这个 appkey）。",
            "the sign does not match: the secret part of appsecret is wrong (or belongs to another appkey).",
        ),
        ("api", Some(1)) if message.contains("app auth fail") => (
            "appkey 或 appsecret 的 salt 不对，或该应用不允许访问这个 sid。",
            "the appkey or the salt of appsecret is wrong, or the app may not access this sid.",
        ),
        ("api", Some(7)) => (
            "本机时钟与网关相差太多，纠正后仍被拒绝：请校准系统时间。",
            "the clock is too far off even after correction: fix the system clock.",
        ),
        ("api", Some(6)) => (
            "本机 IP 不在该应用的白名单中。",
            "this machine's IP is not on the app's whitelist.",
        ),
        ("api", _) => (
            "网关拒绝了请求，见下面的提示。",
            "the gateway refused the request; see the hint below.",
        ),
        ("transport", _) if error["delivery"] == "not_sent" => (
            "连不上网关：检查网络、防火墙、代理和 url。",
            "cannot connect to the gateway: check the network, firewall, proxy and URL.",
        ),
        ("transport" | "timeout", _) => (
            "网关没有正常应答：网络不稳定或网关繁忙。",
            "the gateway did not answer properly: an unstable network or a busy gateway.",
        ),
        ("http" | "bad_response", _) => (
            "中间有代理或 Wi-Fi 认证页拦截了请求，或 url 不是网关地址。",
            "a proxy or captive portal is in the way, or the URL is not the gateway.",
        ),
        _ => (
            "libwdt 内部错误，请报告缺陷。",
            "an internal error in libwdt; please report it.",
        ),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The protocol's test vectors (docs/protocol.md): the double's signer must reproduce them, and
/// then libwdt's requests must pass that signer's check on a private double.
fn sign_self_test() -> Result<(), String> {
    let params = |method: &str, paged: bool| {
        let mut p: Vec<(String, String)> = [
            ("sid", "wdtapi3"),
            ("key", "wdt_test"),
            ("salt", "testsalt"),
            ("method", method),
            ("v", "1.0"),
            ("timestamp", "465000000"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        if paged {
            for (k, v) in [("page_size", "50"), ("page_no", "0"), ("calc_total", "1")] {
                p.push((k.to_owned(), v.to_owned()));
            }
        }
        p
    };
    let vectors = [
        (
            params("wms.stockin.SmartRefund.upload", false),
            r#"[{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"pos refundInfo remark"},[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],false]"#,
            "66e23dffba592086b832d14a1cad689d",
        ),
        (
            params("wms.stockin.Refund.queryWithDetail", true),
            r#"[{"start_time":"2024-01-01 00:00:00","end_time":"2024-01-02 00:00:00"}]"#,
            "48d7ee04dfb5ca3f0ac29548f60fb38a",
        ),
    ];
    for (i, (p, body, want)) in vectors.iter().enumerate() {
        let got = wdt_mock::sign::sign(p, body.as_bytes(), "testsecret");
        if got != *want {
            return Err(format!(
                "test vector {} gives {got}, expected {want}",
                i + 1
            ));
        }
    }

    let opts = wdt_mock::options::Options {
        quiet: true,
        ..Default::default()
    };
    let server = wdt_mock::server::Server::bind(&opts)
        .map_err(|e| format!("cannot start the private double: {e}"))?;
    let config = serde_json::json!({
        "sid": opts.sid,
        "appkey": opts.appkey,
        "appsecret": format!("{}:{}", opts.secret, opts.salt),
        "url": server.url(),
        "timeout_ms": 10_000,
    });
    // Serves on its own thread until the process exits; it only ever sees this one request.
    std::thread::spawn(move || server.run());
    let client = wdt::client_from_json(&config.to_string())
        .map_err(|e| format!("the self-test config was refused: {e}"))?;
    // Non-ASCII text in the body: the sign covers UTF-8 bytes, where hand-written signers slip.
    let probe = serde_json::json!({
        "method": PROBE_METHOD,
        "args": [{"start_time": "2024-01-01 00:00:00", "end_time": "2024-01-02 00:00:00", "warehouse_no": "门店仓😀"}],
        "pager": {"page_size": 1, "page_no": 0, "calc_total": true}
    });
    let envelope: Value =
        serde_json::from_str(&wdt::call(&client, &probe.to_string())).unwrap_or(Value::Null);
    if envelope["ok"] != Value::Bool(true) {
        return Err(format!(
            "the independent signer refused libwdt's request: {envelope}"
        ));
    }
    Ok(())
}
