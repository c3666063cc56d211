//! Reading the gateway's answer (docs/abi.md, "delivery"): what a status-0 answer carries, the
//! statuses that prove a refusal, and `interpret`, which turns an HTTP answer into the
//! gateway's data or the error a till acts on. Only a 2xx answer whose body is the gateway's
//! JSON object with an integer `status` is the gateway speaking.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::{Delivery, Error};
use crate::transport::Answer;

/// A gateway success: `data` and `total_count` exactly as the gateway wrote them (validated JSON
/// text, no tree): they go into the envelope by copy, and a query page can be megabytes.
#[derive(Debug, Clone)]
pub struct Success {
    data: Box<RawValue>,
    total_count: Option<Box<RawValue>>,
}

impl Success {
    /// A success from the JSON text of `data` and `total_count`.
    pub fn new(data: Box<RawValue>, total_count: Option<Box<RawValue>>) -> Success {
        Success { data, total_count }
    }

    /// The gateway's `data`, as JSON text.
    pub fn data_json(&self) -> &str {
        self.data.get()
    }

    /// The gateway's `total_count` of a paged query, as JSON text.
    pub fn total_count_json(&self) -> Option<&str> {
        self.total_count.as_deref().map(RawValue::get)
    }

    /// `data` as a tree, for the callers that look inside it (the outbox's reconciliation).
    pub fn data(&self) -> Value {
        // Validated JSON text always parses.
        serde_json::from_str(self.data.get()).unwrap_or(Value::Null)
    }

    /// `total_count` as a value.
    pub fn total_count(&self) -> Option<Value> {
        self.total_count_json()
            .and_then(|t| serde_json::from_str(t).ok())
    }
}

impl PartialEq for Success {
    fn eq(&self, other: &Success) -> bool {
        self.data_json() == other.data_json() && self.total_count_json() == other.total_count_json()
    }
}

/// How the gateway words its rate and concurrency limits (status 100). The message starts with
/// the phrase (`…，请稍后重试` follows); a phrase quoted elsewhere in some other message is not a
/// rate limit.
const RATE_LIMIT_MESSAGES: [&str; 2] = ["超过每分钟最大调用频率限制", "超过每分钟最大并发次数限制"];

/// The statuses of a 2xx gateway answer that prove the request was refused before any business
/// write, from the gateway's error table (docs/protocol.md, "statuses"): 1 parameters, sign,
/// appkey, sid, app auth; 2 an unknown parameter; 3 dynamic password required; 6 IP whitelist;
/// 7 timestamp; 8 version; 100 the application's own validation and the rate/concurrency
/// limits. Not listed, hence `unknown`: 4 and 5 (数据库错误 — the table promises nothing about
/// what was written before it), 99 (其他错误) and any status the table does not name.
pub const REJECTING_STATUSES: [i64; 7] = [1, 2, 3, 6, 7, 8, 100];

/// True when a 2xx gateway answer with this status proves nothing was created.
pub fn status_rejects(status: i64) -> bool {
    REJECTING_STATUSES.contains(&status)
}

/// Reads an answer (docs/abi.md, "delivery"). Only a 2xx answer whose body is the gateway's
/// JSON object with an integer `status` is the gateway speaking; a non-2xx answer is `http`
/// whatever its body, because a web stack that fails after the business code ran (a Java 500
/// page with `"status":500`) looks just like a gateway refusal.
pub fn interpret(answer: Answer) -> Result<Success, Error> {
    let http_status = answer.http_status;
    let body = answer
        .body
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&answer.body);
    let two_xx = (200..300).contains(&http_status);
    if two_xx {
        if let Some(success) = success_view(body) {
            return Ok(success);
        }
    }
    let gateway = gateway_json(body);
    if !two_xx {
        return Err(http_error(http_status, body, gateway.as_ref()));
    }
    match gateway {
        Some((0, map)) => success_from_tree(map),
        Some((status, map)) => Err(refusal(status, &map)),
        None => Err(Error::BadResponse {
            message: format!(
                "http {http_status} answer is not the gateway's json: {}",
                match snippet(body) {
                    s if s.is_empty() => "(empty body)".to_owned(),
                    s => s,
                }
            ),
        }),
    }
}

type JsonObject = serde_json::Map<String, Value>;

/// The body as the gateway's JSON: an object with an integer `status`.
fn gateway_json(body: &[u8]) -> Option<(i64, JsonObject)> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map
            .get("status")
            .and_then(Value::as_i64)
            .map(|status| (status, map)),
        _ => None,
    }
}

/// A non-2xx answer: `http`, whatever its body; the gateway's status and message are kept
/// when the body is its JSON.
fn http_error(http_status: u16, body: &[u8], gateway: Option<&(i64, JsonObject)>) -> Error {
    let detail = match gateway {
        Some((status, map)) => {
            match json_text(map, "message").or_else(|| json_text(map, "error")) {
                Some(text) => format!("{} (status {status} in the body)", clip(&text)),
                None => format!("status {status} in the body"),
            }
        }
        None => snippet(body),
    };
    let code = match reason_phrase(http_status) {
        "" => http_status.to_string(),
        reason => format!("{http_status} {reason}"),
    };
    let message = if detail.is_empty() {
        format!("status {code} with an empty body")
    } else {
        format!("status {code}: {detail}")
    };
    Error::Http {
        http_status,
        status: gateway.map(|(s, _)| *s),
        message,
    }
}

/// A status-0 answer `success_view` could not read (a duplicate member: the last one wins, as
/// serde_json's map has it), copied from the tree.
fn success_from_tree(mut map: JsonObject) -> Result<Success, Error> {
    let data = map.remove("data").unwrap_or(Value::Null);
    let total_count = map
        .remove("total_count")
        .filter(|t| !t.is_null())
        .or_else(|| match &data {
            Value::Object(d) => d.get("total_count").filter(|t| !t.is_null()).cloned(),
            _ => None,
        });
    let raw = |v: &Value| RawValue::from_string(v.to_string());
    match (raw(&data), total_count.as_ref().map(raw).transpose()) {
        (Ok(data), Ok(total_count)) => Ok(Success::new(data, total_count)),
        _ => Err(Error::BadResponse {
            message: "the answer's data cannot be copied".into(),
        }),
    }
}

/// A 2xx answer of the gateway with a non-zero status: `rejected` only for the statuses that
/// prove nothing was written.
fn refusal(status: i64, map: &JsonObject) -> Error {
    let message = match json_text(map, "message") {
        Some(m) if !m.trim().is_empty() => m,
        _ => format!("api: the gateway answered status {status} without a message"),
    };
    let rejected = status_rejects(status);
    let retryable = rejected
        && status == 100
        && RATE_LIMIT_MESSAGES
            .iter()
            .any(|p| message.trim_start().starts_with(p));
    Error::Api {
        status,
        message,
        delivery: if rejected {
            Delivery::Rejected
        } else {
            Delivery::Unknown
        },
        retryable,
    }
}

/// The members of a status-0 answer that the envelope needs, borrowed from the body.
#[derive(Deserialize)]
struct SuccessView<'a> {
    status: serde_json::Number,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(borrow)]
    total_count: Option<&'a RawValue>,
}

/// `total_count` inside `data`, where some paged queries put it.
#[derive(Deserialize)]
struct TotalView<'a> {
    #[serde(borrow)]
    total_count: Option<&'a RawValue>,
}

/// The common case, a 2xx status-0 answer, read without building a tree: `data` is validated
/// and copied as text. Anything else (another status, not an object, a duplicate member) is
/// None and goes through the full reading in `interpret`, whose rules are the reference.
///
/// Members this view skips are checked less strictly by serde_json than a tree is (invalid
/// UTF-8 inside a skipped member would make a success of what the full reading calls
/// bad_response). So the body must also pass what the tree would demand: valid UTF-8 as a
/// whole, nesting well inside serde_json's limit of 128, and no `\uD800`–`\uDFFF` escape (a
/// lone surrogate fails the tree; a valid pair is rare enough to take the slow path). Only then
/// can the view's verdict differ from the tree's in nothing but speed.
fn success_view(body: &[u8]) -> Option<Success> {
    let text = std::str::from_utf8(body).ok()?;
    // A struct also deserializes from a JSON array; the gateway's answer is an object.
    if !text.trim_start().starts_with('{') || !shallow(text, 100) || surrogate_escape(text) {
        return None;
    }
    let view: SuccessView<'_> = serde_json::from_str(text).ok()?;
    if view.status.as_i64() != Some(0) {
        return None;
    }
    let total_count = view.total_count.or_else(|| {
        let data = view.data?;
        if !data.get().starts_with('{') {
            return None;
        }
        serde_json::from_str::<TotalView<'_>>(data.get())
            .ok()?
            .total_count
    });
    let data = match view.data {
        Some(d) => d.to_owned(),
        None => RawValue::from_string("null".to_owned()).ok()?,
    };
    Some(Success::new(data, total_count.map(RawValue::to_owned)))
}

/// Whether `text` holds a `\u` escape of a UTF-16 surrogate (or text that looks like one, such
/// as an escaped backslash before `ud800`: a false alarm only costs the slow path).
fn surrogate_escape(text: &str) -> bool {
    text.as_bytes().windows(4).any(|w| {
        w[0] == b'\\'
            && w[1] == b'u'
            && matches!(w[2], b'd' | b'D')
            && matches!(w[3], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
    })
}

/// Whether JSON `text` nests at most `max` arrays and objects deep. Skipped and raw values are
/// not held to serde_json's nesting limit (128) the way a tree is, and a success must not
/// depend on which reading saw it: deeper input goes to the full reading, which applies it.
fn shallow(text: &str, max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in text.as_bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// A JSON member as text: strings as they are, other values in their JSON form; None when
/// absent, null or empty.
fn json_text(map: &JsonObject, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        300..=399 => "(a redirect, not followed)",
        _ => "",
    }
}

/// The start of a body, for a message: enough to recognise a proxy or portal page.
fn snippet(body: &[u8]) -> String {
    clip(&String::from_utf8_lossy(&body[..body.len().min(200)]))
}

/// At most 200 characters on one line: foreign text quoted in a message must keep a log line
/// or a POS dialog readable.
fn clip(text: &str) -> String {
    let flat: String = text
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    flat.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            http_status: status,
            date: None,
            body: body.as_bytes().to_vec(),
            note: None,
        }
    }

    fn classify(status: u16, body: &str) -> (String, Delivery, bool) {
        match interpret(answer(status, body)) {
            Ok(_) => ("ok".into(), Delivery::NotSent, false),
            Err(e) => {
                assert!(!e.to_string().trim().is_empty(), "{e:?}");
                (e.kind().to_owned(), e.delivery(), e.retryable())
            }
        }
    }

    /// The borrowed reading of a success and the full one agree, and what neither can call a
    /// success stays an error.
    #[test]
    fn successes_are_copied_as_written() {
        let read = |body: &str| interpret(answer(200, body));
        let text = |body: &str| {
            let s = read(body).unwrap();
            (
                s.data_json().to_owned(),
                s.total_count_json().map(str::to_owned),
            )
        };
        let own = |d: &str, t: Option<&str>| (d.to_owned(), t.map(str::to_owned));
        // As the gateway wrote it: spacing, escapes, key order, number text.
        assert_eq!(
            text("{ \"status\" : 0 , \"data\" : {\"b\":1.50, \"a\":\"\\u9000\"} }"),
            own("{\"b\":1.50, \"a\":\"\\u9000\"}", None)
        );
        assert_eq!(
            text(r#"{"status":0,"total_count":"12","data":{"total_count":3}}"#),
            own(r#"{"total_count":3}"#, Some(r#""12""#))
        );
        assert_eq!(
            text(r#"{"status":0,"data":{"total_count":3}}"#),
            own(r#"{"total_count":3}"#, Some("3"))
        );
        // No data is null; a null total_count is none given.
        assert_eq!(text(r#"{"status":0}"#), own("null", None));
        assert_eq!(
            text(r#"{"status":0,"total_count":null,"data":[1]}"#),
            own("[1]", None)
        );
        // A duplicate member is refused by the borrowed reading; the full one keeps the last.
        assert_eq!(
            text(r#"{"status":0,"data":1,"data":{"x":2}}"#),
            own(r#"{"x":2}"#, None)
        );
        assert_eq!(
            text("\u{feff}{\"status\":0,\"data\":true}"),
            own("true", None)
        );
        for not_gateway in [
            r#"[0,{"a":1}]"#,
            r#"{"status":"0","data":1}"#,
            r#"{"status":0.0}"#,
            r#"{"status":0,"data":}"#,
        ] {
            assert!(
                matches!(read(not_gateway), Err(Error::BadResponse { .. })),
                "{not_gateway}"
            );
        }
        // What a tree refuses, the borrowed reading must not accept, even in a member it skips:
        // invalid UTF-8, a lone surrogate, nesting past the limit.
        let skipped = |inner: &[u8]| {
            let mut body = br#"{"status":0,"data":1,"other":["#.to_vec();
            body.extend_from_slice(inner);
            body.extend_from_slice(b"]}");
            interpret(Answer {
                http_status: 200,
                date: None,
                body,
                note: None,
            })
        };
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for bad in [
            &b"\"tot\xe4\xb8\x8d\xe5ount\""[..],
            br#""\ud800""#,
            br#"{"\uDC00":1}"#,
            deep.as_bytes(),
        ] {
            assert!(
                matches!(skipped(bad), Err(Error::BadResponse { .. })),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            skipped(br#""\ud83d\ude00 \\ud800""#).unwrap().data_json(),
            "1"
        );
        assert!(surrogate_escape(r#"\uD83D"#) && !surrogate_escape(r#"\u4e2d \u00e9 \uc800"#));
        // Nesting past serde_json's limit is refused by both readings, not copied.
        let nested = |n: usize| {
            let data = format!(r#"{}"[{{\"\\",1{}"#, "[".repeat(n), "]".repeat(n));
            format!(r#"{{"status":0,"data":{data}}}"#)
        };
        assert!(matches!(read(&nested(300)), Err(Error::BadResponse { .. })));
        assert_eq!(text(&nested(100)).0.len(), 210);
        assert_eq!(text(&nested(120)).0.len(), 250);
        assert!(shallow(r#"[["]]]]{{{"],{"a":"\"{"}]"#, 2));
        assert!(!shallow("[[[]]]", 2));
        assert!(matches!(
            read(r#"{"status":100,"data":1,"message":"x"}"#),
            Err(Error::Api { status: 100, .. })
        ));
    }

    #[test]
    fn interprets_answers() {
        let ok = interpret(answer(
            200,
            r#"{"status":0,"data":{"stockin_id":7,"type":12}}"#,
        ))
        .unwrap();
        assert_eq!(ok.data()["stockin_id"], 7);
        assert_eq!(ok.data_json(), r#"{"stockin_id":7,"type":12}"#);
        let paged = interpret(answer(
            200,
            r#"{"status":0,"data":{"order":[],"total_count":3}}"#,
        ))
        .unwrap();
        assert_eq!(paged.total_count(), Some(Value::from(3)));
        match interpret(answer(
            200,
            r#"{"status":100,"message":"未找到对应的单据信息!"}"#,
        )) {
            Err(Error::Api {
                status: 100,
                message,
                delivery: Delivery::Rejected,
                retryable: false,
            }) => assert_eq!(message, "未找到对应的单据信息!"),
            other => panic!("{other:?}"),
        }
        assert!(interpret(answer(200, "\u{feff}{\"status\":0,\"data\":null}")).is_ok());
    }

    /// docs/abi.md "delivery", answer by answer: (http status, body) → (kind, delivery, retryable).
    #[test]
    fn delivery_follows_the_answer_not_the_kind() {
        use Delivery::*;
        let rows: &[(u16, &str, &str, Delivery, bool)] = &[
            (
                200,
                r#"{"status":1,"message":"验证失败"}"#,
                "api",
                Rejected,
                false,
            ),
            (
                200,
                r#"{"status":1,"message":"sid is not exists"}"#,
                "api",
                Rejected,
                false,
            ),
            (
                200,
                r#"{"status":2,"message":"shop_no"}"#,
                "api",
                Rejected,
                false,
            ),
            (
                200,
                r#"{"status":3,"message":"需要动态口令"}"#,
                "api",
                Rejected,
                false,
            ),
            (
                200,
                r#"{"status":4,"message":"数据库错误"}"#,
                "api",
                Unknown,
                false,
            ),
            (
                200,
                r#"{"status":5,"message":"数据库错误"}"#,
                "api",
                Unknown,
                false,
            ),
            (
                200,
                r#"{"status":6,"message":"ip限制"}"#,
                "api",
                Rejected,
                false,
            ),
            (
                200,
                r#"{"status":7,"message":"时间戳错误"}"#,
                "api",
                Rejected,
                false,
            ),
            (
                200,
                r#"{"status":8,"message":"版本错误"}"#,
                "api",
                Rejected,
                false,
            ),
            (
                200,
                r#"{"status":99,"message":"其他错误"}"#,
                "api",
                Unknown,
                false,
            ),
            (200, r#"{"status":42,"message":"?"}"#, "api", Unknown, false),
            (200, r#"{"status":-1,"message":"?"}"#, "api", Unknown, false),
            (
                200,
                r#"{"status":100,"message":"未找到对应的单据信息!"}"#,
                "api",
                Rejected,
                false,
            ),
            (200, r#"{"status":100}"#, "api", Rejected, false),
            (
                200,
                r#"{"status":100,"message":"超过每分钟最大调用频率限制，请稍后重试"}"#,
                "api",
                Rejected,
                true,
            ),
            (
                200,
                r#"{"status":100,"message":"超过每分钟最大并发次数限制，请稍后重试"}"#,
                "api",
                Rejected,
                true,
            ),
            // The phrase quoted inside another message is not the gateway's rate limit.
            (
                200,
                r#"{"status":100,"message":"备注: 超过每分钟最大调用频率限制"}"#,
                "api",
                Rejected,
                false,
            ),
            (
                200,
                r#"{"status":99,"message":"超过每分钟最大调用频率限制"}"#,
                "api",
                Unknown,
                false,
            ),
            (200, "<html>portal</html>", "bad_response", Unknown, false),
            (200, r#"{"data":1}"#, "bad_response", Unknown, false),
            (200, "", "bad_response", Unknown, false),
            (500, "<html>oops</html>", "http", Unknown, false),
            (
                500,
                r#"{"timestamp":"2026-11-30T10:00:00.000+00:00","status":500,"error":"Internal Server Error","path":"/openapi"}"#,
                "http",
                Unknown,
                false,
            ),
            (
                502,
                r#"{"status":99,"message":"其他错误"}"#,
                "http",
                Unknown,
                false,
            ),
            (
                503,
                r#"{"status":100,"message":"超过每分钟最大调用频率限制"}"#,
                "http",
                Unknown,
                false,
            ),
            (
                404,
                r#"{"status":1,"message":"验证失败"}"#,
                "http",
                Unknown,
                false,
            ),
            (
                500,
                r#"{"status":0,"data":{"stockin_id":1}}"#,
                "http",
                Unknown,
                false,
            ),
            (500, "", "http", Unknown, false),
            (302, "", "http", Unknown, false),
        ];
        for (http, body, kind, delivery, retryable) in rows {
            let got = classify(*http, body);
            assert_eq!(
                got,
                ((*kind).to_owned(), *delivery, *retryable),
                "{http} {body}"
            );
        }
    }

    #[test]
    fn messages_are_never_empty() {
        for (http, body, want) in [
            (
                500,
                r#"{"timestamp":"t","status":500,"error":"Internal Server Error","path":"/openapi"}"#,
                "Internal Server Error",
            ),
            (500, r#"{"status":500}"#, "status 500 in the body"),
            (503, "", "503 Service Unavailable with an empty body"),
            (200, r#"{"status":5}"#, "status 5 without a message"),
            (
                200,
                r#"{"status":5,"message":""}"#,
                "status 5 without a message",
            ),
            (200, "", "(empty body)"),
        ] {
            let e = interpret(answer(http, body)).unwrap_err();
            assert!(e.to_string().contains(want), "{http} {body}: {e}");
        }
        match interpret(answer(502, r#"{"status":99,"message":"其他错误"}"#)) {
            Err(Error::Http {
                http_status: 502,
                status: Some(99),
                message,
            }) => assert!(message.contains("其他错误"), "{message}"),
            other => panic!("{other:?}"),
        }
    }
}
