//! The request models: the quick return (wms.stockin.SmartRefund.upload, its API page section
//! 3.3; docs/protocol.md) and the generic call. Validation happens here, before any byte is sent, and every error
//! names the JSON path of the offending value. Values are never rebuilt: the caller's objects go
//! on the wire as written (key order, number text, unknown extra fields), only compacted.

pub mod scan;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::validate::{non_empty_array, object_at, positive_number, type_name, Input, Obj, Text};

/// The quick return's method name.
pub const SMART_REFUND_UPLOAD: &str = "wms.stockin.SmartRefund.upload";

/// The paging query parameters of a paged call (signed like the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pager {
    /// Rows per page (at least 1).
    pub page_size: u64,
    /// The page, from 0.
    pub page_no: u64,
    /// Ask for `total_count` (sent as 1/0).
    pub calc_total: bool,
}

/// A validated call, ready to sign: the method, the exact POST body and the optional pager.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The open API method.
    pub method: String,
    /// The POST body: the JSON array of the method's arguments, signed and sent as is.
    pub body: String,
    /// The paging parameters of a paged call.
    pub pager: Option<Pager>,
}

/// The request text as a JSON object, or `invalid_argument`.
pub fn parse_object(text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Error::invalid(format_args!(
            "request must be a json object, not {}",
            type_name(&other)
        ))),
        Err(e) => Err(Error::invalid(format_args!("invalid json: {e}"))),
    }
}

/// The quick return: `{"refundInfo":{…},"detailMapList":[…],"createPreStockin":bool}` becomes
/// the body `[refundInfo,detailMapList,createPreStockin]`.
pub fn smart_refund(map: &Map<String, Value>) -> Result<Prepared> {
    const ARGS: [&str; 3] = ["refundInfo", "detailMapList", "createPreStockin"];
    let top = Obj::new(map, "", REQ);
    top.only_keys(&ARGS)?;
    let [info, lines, create] = ARGS.map(|key| top.required(key));
    check_smart_refund([info?, lines?, create?], ARGS)?;
    // The three arguments, in order, as the caller wrote them.
    Ok(Prepared {
        method: SMART_REFUND_UPLOAD.to_owned(),
        body: compact(&[
            &map["refundInfo"],
            &map["detailMapList"],
            &map["createPreStockin"],
        ]),
        pager: None,
    })
}

/// The quick return's rules (its API page, section 3.3), on its three positional arguments,
/// which sit at `paths`: the typed request's member names, or `args[0]`… inside `wdt_call`.
fn check_smart_refund(args: [&Value; 3], paths: [&str; 3]) -> Result<()> {
    let [info, lines, create] = args;
    let info = object_at(info, paths[0].to_owned(), REQ)?;
    info.string("tid", ID)?;
    info.string("return_warehouse_no", ID)?;
    info.string("remark", REMARK)?;
    for (i, line) in non_empty_array(lines, paths[1], REQ)?.iter().enumerate() {
        let line = object_at(line, format!("{}[{i}]", paths[1]), REQ)?;
        line.string("spec_no", ID)?;
        positive_number(
            line.required("stockin_num")?,
            || line.path("stockin_num"),
            REQ,
        )?;
        line.string("remark", REMARK)?;
    }
    match create {
        Value::Bool(_) => Ok(()),
        other => Err(Error::invalid_at(
            paths[2],
            format_args!(
                "{} must be true or false, not {}",
                paths[2],
                type_name(other)
            ),
        )),
    }
}

const REQ: Input = Input::Request;
/// Order numbers, warehouse and spec codes: at most 40, not empty.
const ID: Text = Text {
    max: 40,
    empty_ok: false,
};
/// Remarks: at most 255, `""` allowed (but the key is required).
const REMARK: Text = Text {
    max: 255,
    empty_ok: true,
};

/// The generic call: `{"method":…, "args":[…], "pager":{…}}`. The quick return sent through
/// here gets the same validation as through `wdt_smart_refund_upload`.
pub fn generic(map: &Map<String, Value>) -> Result<Prepared> {
    let top = Obj::new(map, "", REQ);
    top.only_keys(&["method", "args", "pager"])?;
    let method = top.non_empty("method")?;
    if method.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid_at(
            "method",
            "method must not contain spaces",
        ));
    }
    let args = match top.get("args") {
        Some(Value::Array(args)) => args,
        Some(other) => {
            return Err(Error::invalid_at(
                "args",
                format_args!("args must be an array, not {}", type_name(other)),
            ))
        }
        None => {
            return Err(Error::invalid_at(
                "args",
                "args is required (use [] for none)",
            ))
        }
    };
    let pager = match top.get("pager") {
        None | Some(Value::Null) => None,
        Some(p) => Some(pager(object_at(p, "pager".to_owned(), REQ)?)?),
    };
    if method == SMART_REFUND_UPLOAD {
        let [info, lines, create] = args.as_slice() else {
            return Err(Error::invalid_at(
                "args",
                "wms.stockin.SmartRefund.upload takes [refundInfo, detailMapList, createPreStockin]",
            ));
        };
        check_smart_refund([info, lines, create], ["args[0]", "args[1]", "args[2]"])?;
    }
    crate::query::check(method, args, pager.is_some())?;
    Ok(Prepared {
        method: method.to_owned(),
        body: compact(args),
        pager,
    })
}

fn pager(p: Obj<'_>) -> Result<Pager> {
    p.only_keys(&["page_size", "page_no", "calc_total"])?;
    let count = |key: &str, min: u64| -> Result<u64> {
        p.required(key)?;
        p.integer(key, 0, min, u64::MAX)
    };
    let page_size = count("page_size", 1)?;
    let page_no = count("page_no", 0)?;
    // The gateway's own form is 1/0; true/false read better in JSON. Both are accepted.
    let calc_total = match p.get("calc_total") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(Value::Number(n)) if n.as_u64() == Some(0) => false,
        Some(Value::Number(n)) if n.as_u64() == Some(1) => true,
        Some(_) => {
            return Err(Error::invalid_at(
                "pager.calc_total",
                "pager.calc_total must be true, false, 1 or 0",
            ))
        }
    };
    Ok(Pager {
        page_size,
        page_no,
        calc_total,
    })
}

/// Compact JSON, UTF-8 unescaped, keys in the caller's order, numbers as written
/// (serde_json's preserve_order and arbitrary_precision features).
fn compact<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Serialising a Value into a String cannot fail: keys are strings and there is no I/O.
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "refundInfo": {"tid": "pos-6776312", "return_warehouse_no": "pos", "remark": "pos refundInfo remark"},
            "detailMapList": [{"spec_no": "RRWDMS018040S", "stockin_num": 1, "remark": "POS 退货测试"}],
            "createPreStockin": false
        })
    }

    fn field_of(request: &Value) -> Option<String> {
        let map = request.as_object().expect("test requests are objects");
        match smart_refund(map) {
            Err(Error::InvalidArgument { field, .. }) => field,
            other => panic!("expected invalid_argument for {request}, got {other:?}"),
        }
    }

    /// Applies `edit` to a copy of the good request.
    fn with(edit: impl FnOnce(&mut Value)) -> Value {
        let mut v = good();
        edit(&mut v);
        v
    }

    #[test]
    fn body_is_the_three_arguments_as_written() {
        let text = r#"{"refundInfo":{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"pos refundInfo remark"},"detailMapList":[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],"createPreStockin":false}"#;
        let p = smart_refund(&parse_object(text).unwrap()).unwrap();
        assert_eq!(p.method, SMART_REFUND_UPLOAD);
        assert_eq!(
            p.body,
            r#"[{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"pos refundInfo remark"},[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],false]"#
        );
    }

    #[test]
    fn order_numbers_and_extra_fields_survive() {
        let text = r#"{ "createPreStockin" : true, "detailMapList": [ {"stockin_num": 1.50, "spec_id": 18113, "remark": "", "spec_no": "A", "defect": false, "refund_num": 1e2} ],
            "refundInfo": {"remark": "", "return_logistics_no": "SF123", "tid": "t\u00e9-中", "return_warehouse_no": "pos"} }"#;
        let p = smart_refund(&parse_object(text).unwrap()).unwrap();
        assert_eq!(
            p.body,
            r#"[{"remark":"","return_logistics_no":"SF123","tid":"té-中","return_warehouse_no":"pos"},[{"stockin_num":1.50,"spec_id":18113,"remark":"","spec_no":"A","defect":false,"refund_num":1e+2}],true]"#
        );
        // serde_json writes an exponent with its sign (1e2 -> 1e+2): the same decimal to the
        // gateway's BigDecimal; every other digit, including 1.50's trailing zero, is kept.
    }

    #[test]
    fn every_rule_names_its_field() {
        let forty = "x".repeat(40);
        let cases: Vec<(Value, &str)> = vec![
            (
                with(|v| {
                    v["refundInfo"] = json!("x");
                }),
                "refundInfo",
            ),
            (
                with(|v| {
                    v.as_object_mut().unwrap().remove("refundInfo");
                }),
                "refundInfo",
            ),
            (
                with(|v| {
                    v["refundInfo"].as_object_mut().unwrap().remove("tid");
                }),
                "refundInfo.tid",
            ),
            (
                with(|v| {
                    v["refundInfo"]["tid"] = json!("");
                }),
                "refundInfo.tid",
            ),
            (
                with(|v| {
                    v["refundInfo"]["tid"] = json!("   ");
                }),
                "refundInfo.tid",
            ),
            (
                with(|v| {
                    v["refundInfo"]["tid"] = json!(12345);
                }),
                "refundInfo.tid",
            ),
            (
                with(|v| {
                    v["refundInfo"]["tid"] = json!(format!("{forty}x"));
                }),
                "refundInfo.tid",
            ),
            // 20 emoji are 40 UTF-16 units (fine), 21 are 42 (too long).
            (
                with(|v| {
                    v["refundInfo"]["tid"] = json!("😀".repeat(21));
                }),
                "refundInfo.tid",
            ),
            (
                with(|v| {
                    v["refundInfo"]["return_warehouse_no"] = json!("");
                }),
                "refundInfo.return_warehouse_no",
            ),
            (
                with(|v| {
                    v["refundInfo"]
                        .as_object_mut()
                        .unwrap()
                        .remove("return_warehouse_no");
                }),
                "refundInfo.return_warehouse_no",
            ),
            (
                with(|v| {
                    v["refundInfo"]["return_warehouse_no"] = json!(format!("{forty}1"));
                }),
                "refundInfo.return_warehouse_no",
            ),
            (
                with(|v| {
                    v["refundInfo"].as_object_mut().unwrap().remove("remark");
                }),
                "refundInfo.remark",
            ),
            (
                with(|v| {
                    v["refundInfo"]["remark"] = json!(null);
                }),
                "refundInfo.remark",
            ),
            (
                with(|v| {
                    v["refundInfo"]["remark"] = json!("备".repeat(256));
                }),
                "refundInfo.remark",
            ),
            (
                with(|v| {
                    v["detailMapList"] = json!([]);
                }),
                "detailMapList",
            ),
            (
                with(|v| {
                    v["detailMapList"] = json!({});
                }),
                "detailMapList",
            ),
            (
                with(|v| {
                    v.as_object_mut().unwrap().remove("detailMapList");
                }),
                "detailMapList",
            ),
            (
                with(|v| {
                    v["detailMapList"] = json!(["x"]);
                }),
                "detailMapList[0]",
            ),
            (
                with(|v| {
                    v["detailMapList"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("spec_no");
                }),
                "detailMapList[0].spec_no",
            ),
            (
                with(|v| {
                    v["detailMapList"][0]["spec_no"] = json!("");
                }),
                "detailMapList[0].spec_no",
            ),
            (
                with(|v| {
                    v["detailMapList"][0]["spec_no"] = json!(format!("{forty}1"));
                }),
                "detailMapList[0].spec_no",
            ),
            (
                with(|v| {
                    v["detailMapList"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("stockin_num");
                }),
                "detailMapList[0].stockin_num",
            ),
            (
                with(|v| {
                    v["detailMapList"][0]["stockin_num"] = json!(0);
                }),
                "detailMapList[0].stockin_num",
            ),
            (
                with(|v| {
                    v["detailMapList"][0]["stockin_num"] = json!(-1);
                }),
                "detailMapList[0].stockin_num",
            ),
            (
                with(|v| {
                    v["detailMapList"][0]["stockin_num"] = json!("1");
                }),
                "detailMapList[0].stockin_num",
            ),
            (
                with(|v| {
                    v["detailMapList"][0]["stockin_num"] = json!(null);
                }),
                "detailMapList[0].stockin_num",
            ),
            (
                with(|v| {
                    v["detailMapList"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("remark");
                }),
                "detailMapList[0].remark",
            ),
            (
                with(|v| {
                    v["detailMapList"][0]["remark"] = json!(1);
                }),
                "detailMapList[0].remark",
            ),
            (
                with(|v| {
                    v["detailMapList"][0]["remark"] = json!("r".repeat(256));
                }),
                "detailMapList[0].remark",
            ),
            (
                with(|v| {
                    let second = json!({"spec_no": "B", "stockin_num": 0.0, "remark": ""});
                    v["detailMapList"].as_array_mut().unwrap().push(second);
                }),
                "detailMapList[1].stockin_num",
            ),
            (
                with(|v| {
                    v.as_object_mut().unwrap().remove("createPreStockin");
                }),
                "createPreStockin",
            ),
            (
                with(|v| {
                    v["createPreStockin"] = json!(0);
                }),
                "createPreStockin",
            ),
            (
                with(|v| {
                    v["createPreStockin"] = json!("false");
                }),
                "createPreStockin",
            ),
            (
                with(|v| {
                    v["createPrestockin"] = json!(false);
                }),
                "createPrestockin",
            ),
        ];
        for (request, field) in &cases {
            assert_eq!(field_of(request).as_deref(), Some(*field), "{request}");
        }
    }

    #[test]
    fn limits_are_inclusive_and_empty_remarks_allowed() {
        let ok = [
            with(|v| {
                v["refundInfo"]["tid"] = json!("x".repeat(40));
            }),
            with(|v| {
                v["refundInfo"]["tid"] = json!("😀".repeat(20));
            }),
            with(|v| {
                v["refundInfo"]["remark"] = json!("备".repeat(255));
            }),
            with(|v| {
                v["refundInfo"]["remark"] = json!("");
            }),
            with(|v| {
                v["detailMapList"][0]["remark"] = json!("");
            }),
            with(|v| {
                v["detailMapList"][0]["stockin_num"] = json!(0.001);
            }),
            with(|v| {
                v["createPreStockin"] = json!(true);
            }),
        ];
        for request in &ok {
            assert!(
                smart_refund(request.as_object().unwrap()).is_ok(),
                "{request}"
            );
        }
        // 1e400 overflows f64: refused rather than sent.
        let huge = parse_object(
            &good()
                .to_string()
                .replace("\"stockin_num\":1", "\"stockin_num\":1e400"),
        )
        .unwrap();
        assert!(smart_refund(&huge).is_err());
    }

    #[test]
    fn generic_call_rules() {
        let field = |text: &str| match generic(&parse_object(text).unwrap()) {
            Err(Error::InvalidArgument { field, .. }) => field,
            other => panic!("expected invalid_argument for {text}, got {other:?}"),
        };
        assert_eq!(field(r#"{"args":[]}"#).as_deref(), Some("method"));
        assert_eq!(
            field(r#"{"method":"","args":[]}"#).as_deref(),
            Some("method")
        );
        assert_eq!(
            field(r#"{"method":7,"args":[]}"#).as_deref(),
            Some("method")
        );
        assert_eq!(
            field(r#"{"method":"a b","args":[]}"#).as_deref(),
            Some("method")
        );
        assert_eq!(field(r#"{"method":"m"}"#).as_deref(), Some("args"));
        assert_eq!(
            field(r#"{"method":"m","args":{}}"#).as_deref(),
            Some("args")
        );
        assert_eq!(
            field(r#"{"method":"m","args":[],"pager":[]}"#).as_deref(),
            Some("pager")
        );
        assert_eq!(
            field(r#"{"method":"m","args":[],"pager":{"page_size":-1,"page_no":0}}"#).as_deref(),
            Some("pager.page_size")
        );
        assert_eq!(
            field(r#"{"method":"m","args":[],"pager":{"page_size":0,"page_no":0}}"#).as_deref(),
            Some("pager.page_size")
        );
        assert_eq!(
            field(r#"{"method":"m","args":[],"pager":{"page_size":1.5,"page_no":0}}"#).as_deref(),
            Some("pager.page_size")
        );
        assert_eq!(
            field(r#"{"method":"m","args":[],"pager":{"page_size":10,"page_no":-1}}"#).as_deref(),
            Some("pager.page_no")
        );
        assert_eq!(
            field(r#"{"method":"m","args":[],"pager":{"page_size":10}}"#).as_deref(),
            Some("pager.page_no")
        );
        assert_eq!(
            field(
                r#"{"method":"m","args":[],"pager":{"page_size":10,"page_no":0,"calc_total":2}}"#
            )
            .as_deref(),
            Some("pager.calc_total")
        );
        assert_eq!(
            field(r#"{"method":"m","args":[],"pager":{"page_size":10,"page_no":0,"size":2}}"#)
                .as_deref(),
            Some("pager.size")
        );
        assert_eq!(
            field(r#"{"method":"m","args":[],"extra":1}"#).as_deref(),
            Some("extra")
        );
        // The quick return through the generic call is validated just the same.
        assert_eq!(
            field(r#"{"method":"wms.stockin.SmartRefund.upload","args":[{"tid":"","return_warehouse_no":"p","remark":""},[],false]}"#).as_deref(),
            Some("args[0].tid")
        );
        assert_eq!(
            field(r#"{"method":"wms.stockin.SmartRefund.upload","args":[{"tid":"t","return_warehouse_no":"p","remark":""},[{"spec_no":"a","stockin_num":0,"remark":""}],false]}"#).as_deref(),
            Some("args[1][0].stockin_num")
        );
        assert_eq!(
            field(r#"{"method":"wms.stockin.SmartRefund.upload","args":[{}]}"#).as_deref(),
            Some("args")
        );

        let p = generic(&parse_object(r#"{"method":"wms.stockin.Refund.queryWithDetail","args":[{"start_time":"2024-01-01 00:00:00","end_time":"2024-01-02 00:00:00"}],"pager":{"page_size":50,"page_no":0,"calc_total":true}}"#).unwrap()).unwrap();
        assert_eq!(
            p.body,
            r#"[{"start_time":"2024-01-01 00:00:00","end_time":"2024-01-02 00:00:00"}]"#
        );
        assert_eq!(
            p.pager,
            Some(Pager {
                page_size: 50,
                page_no: 0,
                calc_total: true
            })
        );
    }

    #[test]
    fn non_objects_are_refused() {
        for text in ["", "[]", "1", "\"x\"", "null", "{", "{\"a\":}"] {
            assert!(
                matches!(
                    parse_object(text),
                    Err(Error::InvalidArgument { field: None, .. })
                ),
                "{text}"
            );
        }
    }
}
