//! The `/openapi` pipeline: the gateway's public checks in the gateway's
//! order (sid, app auth, version, timestamp, sign, body), then the method.
//! Every outcome is HTTP 200 with gateway JSON, as the real gateway answers.

use std::sync::Mutex;

use serde_json::{json, Value};

use crate::erp::Pager;
use crate::http::parse_query;
use crate::sign;
use crate::state::{lock, State};
use crate::time::WDT_EPOCH;

/// The gateway accepts a timestamp within this many seconds of its clock.
const TIMESTAMP_WINDOW: i64 = 120;
/// Enough of a mismatched body to see where signing differs, without
/// flooding the log with a megabyte request.
const MAX_LOGGED_BODY: usize = 64 * 1024;

pub const QUICK_RETURN: &str = "wms.stockin.SmartRefund.upload";
pub const REFUND_QUERY: &str = "wms.stockin.Refund.queryWithDetail";
pub const REFUND_SEARCH: &str = "aftersales.refund.Refund.search";

/// The one account the double knows.
pub struct Account {
    pub sid: String,
    pub appkey: String,
    pub secret: String,
    pub salt: String,
}

pub struct Outcome {
    pub reply: Value,
    /// Extra lines for the log, e.g. how a sign mismatch came about.
    pub diagnostic: Option<String>,
}

/// The gateway's error body, `{"status":N,"message":"..."}` in that order.
pub fn gateway_error(status: i64, message: &str) -> Value {
    json!({"status": status, "message": message})
}

fn reject(status: i64, message: &str) -> Outcome {
    Outcome {
        reply: gateway_error(status, message),
        diagnostic: None,
    }
}

/// The `method` query parameter as the log and the stats name it.
pub fn method_of(query: &str) -> String {
    parse_query(query)
        .into_iter()
        .find(|(k, _)| k == "method")
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// Handles one gateway call. `now_ms` is the double's clock (skew included),
/// in Unix milliseconds.
pub fn handle(
    account: &Account,
    query: &str,
    body: &[u8],
    now_ms: i64,
    state: &Mutex<State>,
) -> Outcome {
    let params = parse_query(query);
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    if get("sid") != Some(account.sid.as_str()) {
        return reject(1, "sid is not exists");
    }
    if get("key") != Some(account.appkey.as_str()) || get("salt") != Some(account.salt.as_str()) {
        return reject(1, "app auth fail");
    }
    if get("v") != Some("1.0") {
        return reject(8, "版本错误");
    }
    let raw_ts = get("timestamp").unwrap_or("");
    // Java's Integer.parseInt: a millisecond timestamp overflows it, which is
    // why the error-code page shows `For input string: "1665947116495"`.
    let Ok(ts) = raw_ts.parse::<i32>() else {
        return reject(1, &format!("For input string: \"{raw_ts}\""));
    };
    if (i64::from(ts) - (now_ms.div_euclid(1000) - WDT_EPOCH)).abs() > TIMESTAMP_WINDOW {
        return reject(7, "时间戳错误");
    }
    let expected = sign::sign(&params, body, &account.secret);
    let received = get("sign").unwrap_or("");
    if received != expected {
        return Outcome {
            reply: gateway_error(1, "验证失败"),
            diagnostic: Some(explain_mismatch(
                &params,
                body,
                &account.secret,
                &expected,
                received,
            )),
        };
    }

    let args = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(a)) => a,
        _ => return reject(1, "参数错误"),
    };
    let method = get("method").unwrap_or("");
    let result = match method {
        QUICK_RETURN => lock(state).erp.smart_refund(&args, now_ms),
        REFUND_QUERY => match pager(&params, REFUND_QUERY) {
            Ok(p) => lock(state).erp.query_refund_stockins(&args, &p),
            Err(e) => Err(e),
        },
        REFUND_SEARCH => match pager(&params, REFUND_SEARCH) {
            Ok(p) => lock(state).erp.search_refunds(&args, &p),
            Err(e) => Err(e),
        },
        _ => Err((100, format!("method not found: {method}"))),
    };
    match result {
        Ok(reply) => Outcome {
            reply,
            diagnostic: None,
        },
        Err((status, message)) => reject(status, &message),
    }
}

/// Query methods are paged only; both `page_size` and `page_no` must be sent.
fn pager(params: &[(String, String)], method: &str) -> Result<Pager, (i64, String)> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some(size), Some(no)) = (get("page_size"), get("page_no")) else {
        return Err((100, format!("此方法仅支持分页查询：{method}")));
    };
    let int = |s: &str| {
        s.parse::<i32>()
            .map_err(|_| (1, format!("For input string: \"{s}\"")))
    };
    let (size, no) = (int(size)?, int(no)?);
    if size < 1 {
        return Err((100, format!("page_size必须大于0: {size}")));
    }
    if no < 0 {
        return Err((100, format!("page_no不能小于0: {no}")));
    }
    Ok(Pager {
        page_size: size as u64,
        page_no: no as u64,
        calc_total: get("calc_total") == Some("1"),
    })
}

/// One log line showing what the double signed, with the secret masked, and
/// both signs, so a POS developer can diff it against their own signing input.
fn explain_mismatch(
    params: &[(String, String)],
    body: &[u8],
    secret: &str,
    expected: &str,
    received: &str,
) -> String {
    let shown_body = if body.len() > MAX_LOGGED_BODY {
        &body[..MAX_LOGGED_BODY]
    } else {
        body
    };
    let mut signed =
        String::from_utf8_lossy(&sign::signed_bytes(params, shown_body, b"***")).into_owned();
    // The body is the client's, but never let the secret reach the log even if
    // someone pasted it into a remark.
    if !secret.is_empty() {
        signed = signed.replace(secret, "***");
    }
    let cut = if body.len() > MAX_LOGGED_BODY {
        format!(" (body cut at {MAX_LOGGED_BODY} of {} bytes)", body.len())
    } else {
        String::new()
    };
    format!(
        "sign mismatch: expected {expected}, received {received:?}; signed string{cut}: {}",
        escape_controls(&signed)
    )
}

/// Keeps a diagnostic on one line while leaving everything else, including
/// non-ASCII text, exactly as signed.
fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    type Params = Vec<(String, String)>;
    use crate::erp::{Erp, DEFAULT_SEED};

    const NOW: i64 = WDT_EPOCH + 465_000_000;

    fn account() -> Account {
        Account {
            sid: "wdtapi3".into(),
            appkey: "wdt_test".into(),
            secret: "testsecret".into(),
            salt: "testsalt".into(),
        }
    }

    fn erp() -> Mutex<State> {
        Mutex::new(State::new(Erp::from_seed(DEFAULT_SEED).unwrap()))
    }

    /// Builds a signed query; `tweak` edits the parameters after signing.
    fn call(
        state: &Mutex<State>,
        method: &str,
        extra: &str,
        body: &str,
        tweak: impl Fn(&mut Params),
    ) -> Outcome {
        call_at(state, "465000000", method, extra, body, tweak)
    }

    fn call_at(
        state: &Mutex<State>,
        ts: &str,
        method: &str,
        extra: &str,
        body: &str,
        tweak: impl Fn(&mut Params),
    ) -> Outcome {
        let mut p = parse_query(&format!(
            "sid=wdtapi3&key=wdt_test&salt=testsalt&method={method}&v=1.0&timestamp={ts}{extra}"
        ));
        let s = sign::sign(&p, body.as_bytes(), "testsecret");
        p.push(("sign".into(), s));
        tweak(&mut p);
        let q: Vec<String> = p
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20")))
            .collect();
        handle(&account(), &q.join("&"), body.as_bytes(), NOW * 1000, state)
    }

    fn set(name: &'static str, value: &'static str) -> impl Fn(&mut Params) {
        move |p| {
            for (k, v) in p.iter_mut() {
                if k == name {
                    *v = value.to_string();
                }
            }
        }
    }

    const BODY: &str = r#"[{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"pos refundInfo remark"},[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],false]"#;

    #[test]
    fn good_quick_return() {
        let e = erp();
        let out = call(&e, QUICK_RETURN, "", BODY, |_| {});
        assert_eq!(out.reply["status"], 0, "{}", out.reply);
        assert_eq!(out.reply["data"]["type"], 12);
    }

    #[test]
    fn checks_come_in_gateway_order() {
        let e = erp();
        let expect = |tweak: &dyn Fn(&mut Params), status: i64, message: &str| {
            let out = call(&e, QUICK_RETURN, "", BODY, tweak);
            assert_eq!(out.reply["status"], status, "{}", out.reply);
            assert_eq!(out.reply["message"], message);
        };
        // A bad sid wins over everything after it, and so on down the list.
        expect(
            &|p| {
                set("sid", "x")(p);
                set("v", "2.0")(p)
            },
            1,
            "sid is not exists",
        );
        expect(
            &|p| {
                set("key", "x")(p);
                set("v", "2.0")(p)
            },
            1,
            "app auth fail",
        );
        expect(
            &|p| {
                set("salt", "x")(p);
                set("v", "2.0")(p)
            },
            1,
            "app auth fail",
        );
        expect(
            &|p| {
                set("v", "2.0")(p);
                set("timestamp", "x")(p)
            },
            8,
            "版本错误",
        );
        expect(
            &set("timestamp", "1665947116495"),
            1,
            "For input string: \"1665947116495\"",
        );
        expect(&set("timestamp", "464999879"), 7, "时间戳错误");
        expect(&set("timestamp", "465000121"), 7, "时间戳错误");
        expect(&set("sign", "0123"), 1, "验证失败");
        expect(&|p| p.retain(|(k, _)| k != "sign"), 1, "验证失败");
    }

    #[test]
    fn window_edges_pass() {
        let e = erp();
        for ts in ["464999880", "465000120"] {
            let out = call_at(&e, ts, QUICK_RETURN, "", BODY, |_| {});
            assert_eq!(out.reply["status"], 0, "{ts}: {}", out.reply);
        }
    }

    #[test]
    fn mismatch_log_masks_the_secret() {
        let e = erp();
        let body = r#"[{"remark":"testsecret"}]"#;
        let out = call(&e, QUICK_RETURN, "", body, set("sign", "deadbeef"));
        let log = out.diagnostic.unwrap();
        assert!(!log.contains("testsecret"), "{log}");
        assert!(log.contains("received \"deadbeef\""), "{log}");
        assert!(log.contains(&format!("***body[{{\"remark\":\"***\"}}]keywdt_testmethod{QUICK_RETURN}salttestsaltsidwdtapi3timestamp465000000v1.0***")), "{log}");
    }

    #[test]
    fn body_and_method_errors() {
        let e = erp();
        assert_eq!(
            call(&e, QUICK_RETURN, "", "{}", |_| {}).reply["message"],
            "参数错误"
        );
        assert_eq!(
            call(&e, QUICK_RETURN, "", "[1,", |_| {}).reply["message"],
            "参数错误"
        );
        let out = call(&e, "no.such.Method", "", "[]", |_| {});
        assert_eq!(out.reply["status"], 100);
        assert_eq!(out.reply["message"], "method not found: no.such.Method");
    }

    #[test]
    fn query_is_paged_only() {
        let e = erp();
        let body = r#"[{"start_time":"2024-01-01 00:00:00","end_time":"2024-01-31 00:00:00"}]"#;
        let out = call(&e, REFUND_QUERY, "", body, |_| {});
        assert_eq!(
            out.reply["message"],
            "此方法仅支持分页查询：wms.stockin.Refund.queryWithDetail"
        );
        let out = call(
            &e,
            REFUND_QUERY,
            "&page_size=50&page_no=0&calc_total=1",
            body,
            |_| {},
        );
        assert_eq!(out.reply["status"], 0, "{}", out.reply);
        assert_eq!(out.reply["data"]["total_count"], 0);
        let out = call(&e, REFUND_QUERY, "&page_size=0&page_no=0", body, |_| {});
        assert_eq!(out.reply["status"], 100);
    }

    #[test]
    fn escapes_only_controls() {
        assert_eq!(escape_controls("a\n中\u{1}"), "a\\n中\\u{0001}");
    }
}
