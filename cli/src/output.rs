//! Printing an envelope for a person (中文 first, English below) or as it is (`--json`), and the
//! exit status it maps to. The table is part of the command line's contract (docs/cli.md): a
//! status is never renumbered.

use serde_json::{Map, Value};

pub const EXIT_OK: u8 = 0;
pub const EXIT_API: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CONFIG: u8 = 3;
pub const EXIT_INVALID_ARGUMENT: u8 = 4;
pub const EXIT_TRANSPORT_NOT_SENT: u8 = 5;
pub const EXIT_TIMEOUT_NOT_SENT: u8 = 6;
pub const EXIT_TRANSPORT_UNKNOWN: u8 = 7;
pub const EXIT_TIMEOUT_UNKNOWN: u8 = 8;
pub const EXIT_HTTP: u8 = 9;
pub const EXIT_BAD_RESPONSE: u8 = 10;
pub const EXIT_INTERNAL: u8 = 11;

/// The exit status of an envelope. Transport and timeout split by delivery: a script may resend
/// on 5 and 6 (nothing left the machine) but must query the ERP first on 7 and 8.
pub fn exit_code(envelope: &Value) -> u8 {
    if envelope["ok"] == Value::Bool(true) {
        return EXIT_OK;
    }
    let error = &envelope["error"];
    let unknown = error["delivery"] != "not_sent";
    match error["kind"].as_str().unwrap_or("") {
        "api" => EXIT_API,
        "config" => EXIT_CONFIG,
        "invalid_argument" => EXIT_INVALID_ARGUMENT,
        "transport" if unknown => EXIT_TRANSPORT_UNKNOWN,
        "transport" => EXIT_TRANSPORT_NOT_SENT,
        "timeout" if unknown => EXIT_TIMEOUT_UNKNOWN,
        "timeout" => EXIT_TIMEOUT_NOT_SENT,
        "http" => EXIT_HTTP,
        "bad_response" => EXIT_BAD_RESPONSE,
        // internal, and any kind a later library adds: treat as the least known outcome.
        _ => EXIT_INTERNAL,
    }
}

/// An envelope made by the command line itself (a config file it cannot read, a caught panic),
/// shaped like the library's, hint included.
pub fn local_envelope(kind: &str, message: &str, delivery: &str) -> String {
    let hint = match kind {
        "config" => "配置有误：请检查配置文件（默认当前目录的 wdt.json）或环境变量 WDT_SID、WDT_APPKEY、WDT_APPSECRET、WDT_URL。",
        _ => "libwdt 内部错误（程序缺陷）：请把完整的错误信息发给开发者；请求是否发出未知，先查询 ERP 再重发。",
    };
    let mut error = Map::new();
    error.insert("kind".into(), Value::from(kind));
    error.insert("message".into(), Value::from(message));
    error.insert("delivery".into(), Value::from(delivery));
    error.insert("retryable".into(), Value::Bool(false));
    error.insert("hint".into(), Value::from(hint));
    let mut env = Map::new();
    env.insert("ok".into(), Value::Bool(false));
    env.insert("error".into(), Value::Object(error));
    Value::Object(env).to_string()
}

/// Prints the envelope and returns its exit status. With `--json` the envelope goes to stdout
/// byte for byte; otherwise data goes to stdout and a failure to stderr.
pub fn report(envelope_text: &str, json: bool) -> u8 {
    let envelope: Value = serde_json::from_str(envelope_text).unwrap_or_else(|_| {
        serde_json::from_str(&local_envelope(
            "internal",
            "internal: the library returned text that is not an envelope",
            "unknown",
        ))
        .unwrap_or(Value::Null)
    });
    let code = exit_code(&envelope);
    if json {
        println!("{envelope_text}");
        return code;
    }
    if code == EXIT_OK {
        println!("{}", pretty(&envelope["data"]));
        if let Some(total) = envelope.get("total_count") {
            println!("共 {total} 条 / total_count: {total}");
        }
        eprintln!("成功 / ok (status 0)");
    } else {
        eprint!("{}", describe_error(&envelope["error"]));
    }
    code
}

/// The failure in 中文, then in English, with the field, status and delivery spelled out.
pub fn describe_error(error: &Value) -> String {
    let kind = error["kind"].as_str().unwrap_or("internal");
    let message = error["message"].as_str().unwrap_or("");
    let delivery = error["delivery"].as_str().unwrap_or("unknown");
    let (cn_kind, en_kind) = kind_names(kind);
    let mut cn = format!("失败：{cn_kind}");
    let mut en = format!("Failed: {en_kind}");
    if let Some(status) = error.get("status") {
        cn.push_str(&format!("（status {status}）"));
        en.push_str(&format!(" (status {status})"));
    }
    if let Some(status) = error.get("http_status") {
        cn.push_str(&format!("（HTTP {status}）"));
        en.push_str(&format!(" (HTTP {status})"));
    }
    cn.push('\n');
    en.push('\n');
    cn.push_str(&format!("  信息：{message}\n"));
    en.push_str(&format!("  message: {message}\n"));
    if let Some(field) = error["field"].as_str() {
        cn.push_str(&format!("  字段：{field}\n"));
        en.push_str(&format!("  field: {field}\n"));
    }
    if let Some(hint) = error["hint"].as_str() {
        cn.push_str(&format!("  提示：{hint}\n"));
        en.push_str("  hint: the 提示 above; English meanings in docs/hints.md\n");
    }
    let (cn_delivery, en_delivery) = delivery_names(delivery);
    cn.push_str(&format!("  送达：{cn_delivery}\n"));
    en.push_str(&format!("  delivery: {delivery} — {en_delivery}\n"));
    if let Some(attempts) = error.get("attempts") {
        cn.push_str(&format!("  发送次数：{attempts}\n"));
        en.push_str(&format!("  attempts: {attempts}\n"));
    }
    cn + &en
}

/// A failed `wdt doctor` probe: what [`describe_error`] says, without the delivery line and
/// the resend advice, which are about quick returns and mean nothing for a query. The hint
/// stays for gateway answers (it is the vendor's remedy for the status).
pub fn describe_probe_error(error: &Value) -> String {
    let mut probe = error.clone();
    if let Some(map) = probe.as_object_mut() {
        map.remove("delivery");
        map.remove("attempts");
        if error["kind"] != "api" {
            map.remove("hint");
        }
    }
    describe_error(&probe)
        .lines()
        .filter(|l| !l.starts_with("  送达：") && !l.starts_with("  delivery: "))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn kind_names(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "api" => ("网关拒绝了请求", "the gateway rejected the request"),
        "config" => ("配置有误", "bad config"),
        "invalid_argument" => ("请求不符合接口文档", "the request breaks the API rules"),
        "transport" => ("网络错误", "network failure"),
        "timeout" => ("超时", "timed out"),
        "http" => ("HTTP 错误", "HTTP error"),
        "bad_response" => (
            "应答不是网关的 JSON",
            "the answer is not the gateway's JSON",
        ),
        _ => ("libwdt 内部错误", "internal error in libwdt"),
    }
}

fn delivery_names(delivery: &str) -> (&'static str, &'static str) {
    match delivery {
        "not_sent" => (
            "not_sent，请求没有发出，可以修正后重发",
            "nothing was sent; fix and send again",
        ),
        "rejected" => (
            "rejected，网关已拒绝，ERP 没有处理",
            "the gateway refused it; the ERP did nothing",
        ),
        _ => (
            "unknown，请求可能已到达 ERP：重发快速退货前先查询",
            "it may have reached the ERP: query before resending a quick return",
        ),
    }
}

pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_kind_and_delivery() {
        let env = |kind: &str, delivery: &str| -> Value {
            serde_json::json!({"ok": false, "error": {"kind": kind, "delivery": delivery}})
        };
        assert_eq!(exit_code(&serde_json::json!({"ok": true})), 0);
        assert_eq!(exit_code(&env("api", "rejected")), 1);
        assert_eq!(exit_code(&env("config", "not_sent")), 3);
        assert_eq!(exit_code(&env("invalid_argument", "not_sent")), 4);
        assert_eq!(exit_code(&env("transport", "not_sent")), 5);
        assert_eq!(exit_code(&env("timeout", "not_sent")), 6);
        assert_eq!(exit_code(&env("transport", "unknown")), 7);
        assert_eq!(exit_code(&env("timeout", "unknown")), 8);
        assert_eq!(exit_code(&env("http", "unknown")), 9);
        assert_eq!(exit_code(&env("bad_response", "unknown")), 10);
        assert_eq!(exit_code(&env("internal", "unknown")), 11);
        assert_eq!(exit_code(&env("some_new_kind", "unknown")), 11);
    }
}
