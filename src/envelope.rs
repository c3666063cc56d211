//! The response envelope (docs/abi.md "Response envelope"), built in one place. Envelopes may gain
//! fields in later versions, never lose them; `ok` always comes first so a caller can test it
//! with a prefix match.

use serde_json::{Map, Value};

use crate::answer::Success;
use crate::error::Error;

/// Renders every envelope. `attempts` is how many times the request went to the gateway;
/// it is reported on errors from the network, where it tells a caller what already happened.
pub fn render(result: Result<&Success, &Error>, attempts: u32) -> String {
    match result {
        Ok(s) => success(s),
        Err(e) => {
            let mut env = Map::new();
            env.insert("ok".into(), Value::Bool(false));
            env.insert("error".into(), Value::Object(error_object(e, attempts)));
            // A Map of Values always serialises.
            serde_json::to_string(&Value::Object(env)).unwrap_or_default()
        }
    }
}

/// The `error` member of an error envelope; the outbox also stores it on the entry whose
/// attempt failed.
pub fn error_object(e: &Error, attempts: u32) -> Map<String, Value> {
    let mut err = Map::new();
    err.insert("kind".into(), Value::from(e.kind()));
    match e {
        Error::Api { status, .. } => {
            err.insert("status".into(), Value::from(*status));
        }
        Error::Http {
            http_status,
            status,
            ..
        } => {
            err.insert("http_status".into(), Value::from(*http_status));
            if let Some(status) = status {
                err.insert("status".into(), Value::from(*status));
            }
        }
        // `field` is absent or names something: an empty name is no field.
        Error::InvalidArgument { field: Some(f), .. } | Error::Config { field: Some(f), .. }
            if !f.is_empty() =>
        {
            err.insert("field".into(), Value::from(f.as_str()));
        }
        Error::Storage {
            entry_id: Some(id), ..
        } => {
            err.insert("entry_id".into(), Value::from(id.as_str()));
        }
        _ => {}
    }
    err.insert("message".into(), Value::from(e.to_string()));
    err.insert("delivery".into(), Value::from(e.delivery().as_str()));
    err.insert("retryable".into(), Value::Bool(e.retryable()));
    if attempts > 0 {
        err.insert("attempts".into(), Value::from(attempts));
    }
    err.insert("hint".into(), Value::from(crate::hint::of(e)));
    err
}

/// `{"ok":true,"status":0,"data":…}` for data the library made itself (the outbox's entries,
/// lists and flush results).
pub fn data(data: Value) -> String {
    let mut env = Map::new();
    env.insert("ok".into(), Value::Bool(true));
    env.insert("status".into(), Value::from(0));
    env.insert("data".into(), data);
    Value::Object(env).to_string()
}

/// `{"ok":true,"status":0,"data":…,"total_count":…}` in one allocation: `data` is the gateway's
/// validated JSON text, copied, never parsed into a tree and printed again. One spare byte is
/// reserved for the NUL the C ABI appends, so handing the string out does not reallocate.
fn success(s: &Success) -> String {
    const HEAD: &str = r#"{"ok":true,"status":0,"data":"#;
    const TOTAL: &str = r#","total_count":"#;
    let data = s.data_json();
    let total = s.total_count_json();
    let mut out = String::with_capacity(
        HEAD.len() + data.len() + total.map_or(0, |t| TOTAL.len() + t.len()) + 2,
    );
    out.push_str(HEAD);
    out.push_str(data);
    if let Some(t) = total {
        out.push_str(TOTAL);
        out.push_str(t);
    }
    out.push('}');
    out
}

/// The envelope of an error that happened before any request (nothing attempted).
pub fn error(e: &Error) -> String {
    render(Err(e), 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Delivery;

    /// A caller's JSON may have a key `""`; the error about it names no field rather than an
    /// empty one, whether made by the constructors or by hand.
    #[test]
    fn an_empty_key_is_no_field() {
        for e in [
            Error::config_at("", "unknown key \"\""),
            Error::invalid_at("", "unknown key \"\""),
            Error::Config {
                field: Some(String::new()),
                message: "m".into(),
            },
        ] {
            assert!(!error_object(&e, 0).contains_key("field"), "{e:?}");
        }
        let client = crate::config::Config::from_json(r#"{"":null}"#).unwrap_err();
        assert!(
            !error_object(&client, 0).contains_key("field"),
            "{client:?}"
        );
    }

    #[test]
    fn shapes() {
        let ok = Success::new(
            serde_json::from_str(r#"{"stockin_id":1,"type":12}"#).unwrap(),
            None,
        );
        assert_eq!(
            render(Ok(&ok), 1),
            r#"{"ok":true,"status":0,"data":{"stockin_id":1,"type":12}}"#
        );
        let api = Error::Api {
            status: 100,
            message: "未找到对应的单据信息!".into(),
            delivery: Delivery::Rejected,
            retryable: false,
        };
        assert_eq!(
            render(Err(&api), 1),
            r#"{"ok":false,"error":{"kind":"api","status":100,"message":"未找到对应的单据信息!","delivery":"rejected","retryable":false,"attempts":1,"hint":"未找到对应的单据：请核对原始单号等在旺店通中是否存在、是否符合退换条件。"}}"#
        );
        let inv = Error::invalid_at("detailMapList[0].spec_no", "x");
        assert_eq!(
            error(&inv),
            r#"{"ok":false,"error":{"kind":"invalid_argument","field":"detailMapList[0].spec_no","message":"invalid argument: x","delivery":"not_sent","retryable":false,"hint":"请求不符合接口文档：请按 field 指出的位置修改请求。请求没有发出，修改后可以放心再发。"}}"#
        );
        let t = Error::Transport {
            delivery: Delivery::NotSent,
            message: "refused".into(),
        };
        assert!(error(&t).contains(r#""delivery":"not_sent","retryable":true"#));
        let h = Error::Http {
            http_status: 502,
            status: None,
            message: "502".into(),
        };
        assert!(error(&h).contains(r#""kind":"http","http_status":502,"message""#));
        let h = Error::Http {
            http_status: 500,
            status: Some(500),
            message: "status 500 Internal Server Error: Internal Server Error".into(),
        };
        assert!(error(&h).contains(r#""kind":"http","http_status":500,"status":500,"message""#));
        assert!(error(&h).contains(r#""delivery":"unknown","retryable":false"#));
    }
}
