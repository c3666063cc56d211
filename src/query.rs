//! The request models of the two after-sales queries a till needs after a quick return:
//! 退换单查询 `aftersales.refund.Refund.search` and 退货入库单查询
//! `wms.stockin.Refund.queryWithDetail`. Through the generic call their rules are checked before
//! anything is sent, so a till learns "window too wide" from the library, not from a round trip:
//! both are paged only (the gateway answers 此方法仅支持分页查询 otherwise); their one argument is
//! the params object; times are `yyyy-MM-dd HH:mm:ss`, both ends of a window are given and at most
//! 30 days apart (API pages, section 1.4); strings keep the pages' length limits, counted in UTF-16
//! units like the Java gateway. Keys the pages do not list are passed through untouched.

use serde_json::Value;

use crate::calendar::days_from_civil;
use crate::error::{Error, Result};
use crate::validate::{check_string, object_at, type_name, Input, Obj, Text as Limit};

pub const REFUND_SEARCH: &str = "aftersales.refund.Refund.search";
pub const REFUND_STOCKIN_QUERY: &str = "wms.stockin.Refund.queryWithDetail";

/// The widest window both pages allow, in calendar days between the start's date and the end's.
/// Days, not 30 × 24 h: the queryWithDetail page's own example asks for 2019-09-01 00:00:00 to
/// 2019-10-01 23:59:59, and refusing what the gateway accepts would block a till for nothing.
const MAX_WINDOW_DAYS: i64 = 30;

#[derive(Clone, Copy)]
enum Rule {
    /// A string of at most this many UTF-16 units.
    Text(usize),
    /// An integer (the pages' `Int`).
    Int,
    /// `true`/`false`; the pages also document `0`/`1` for some, so those pass too.
    Flag,
    /// A `yyyy-MM-dd HH:mm:ss` time (at most 40 characters, as the pages say).
    Time,
}

use Rule::{Flag, Int, Text, Time};

type Fields = &'static [(&'static str, Rule)];
type Windows = &'static [(&'static str, &'static str)];

/// `wms.stockin.Refund.queryWithDetail` params (its API page, 3.3 params).
const STOCKIN_FIELDS: &[(&str, Rule)] = &[
    ("warehouse_no", Text(40)),
    ("stockin_no", Text(20)),
    ("refund_no", Text(40)),
    ("shop_nos", Text(255)),
    ("status", Text(255)),
    ("time_type", Int),
    ("start_time", Time),
    ("end_time", Time),
    ("is_slave", Flag),
    ("need_sn", Flag),
    ("need_summary", Flag),
    ("need_gov_subsidy_info", Flag),
];

/// `aftersales.refund.Refund.search` params (its API page, 3.3 params).
const SEARCH_FIELDS: &[(&str, Rule)] = &[
    ("shop_nos", Text(255)),
    ("tid", Text(40)),
    ("buyer_nick", Text(100)),
    ("trade_no", Text(40)),
    ("refund_no", Text(40)),
    ("return_logistics_no", Text(40)),
    ("modified_from", Time),
    ("modified_to", Time),
    ("settle_from", Time),
    ("settle_to", Time),
    ("agree_from", Time),
    ("agree_to", Time),
    ("status", Int),
    ("stockin_status", Int),
    ("return_warehouse_nos", Text(1000)),
    ("type", Int),
    ("fuzzy_query", Flag),
    ("return_mask_manual_intercept", Flag),
    ("refund_mask_reject_return", Flag),
    ("order_type", Int),
    ("rr_status", Int),
    ("current_phase_timeout_from", Time),
    ("current_phase_timeout_to", Time),
    ("need_gov_subsidy_info", Flag),
    ("raw_refund_nos", Text(255)),
];

/// Refund.search's time windows; a search names at least one (the gateway answers
/// 参数中必须包含起止时间 otherwise, even for a search by `tid`).
const SEARCH_WINDOWS: &[(&str, &str)] = &[
    ("modified_from", "modified_to"),
    ("settle_from", "settle_to"),
    ("agree_from", "agree_to"),
    ("current_phase_timeout_from", "current_phase_timeout_to"),
];

/// Checks a generic call of one of the two queries; any other method passes. `args` is the
/// call's `args` array, `paged` whether it has a `pager`. Field paths are those of the generic
/// call (`args[0].start_time`, `pager`).
pub fn check(method: &str, args: &[Value], paged: bool) -> Result<()> {
    let (fields, windows): (Fields, Windows) = match method {
        REFUND_STOCKIN_QUERY => (STOCKIN_FIELDS, &[("start_time", "end_time")]),
        REFUND_SEARCH => (SEARCH_FIELDS, SEARCH_WINDOWS),
        _ => return Ok(()),
    };
    if !paged {
        return Err(Error::invalid_at(
            "pager",
            format_args!("pager is required: {method} is paged only (page_size, page_no from 0)"),
        ));
    }
    if args.len() != 1 {
        return Err(Error::invalid_at(
            "args",
            format_args!(
                "{method} takes [params], one object; got {} arguments",
                args.len()
            ),
        ));
    }
    let params = object_at(&args[0], "args[0]".to_owned(), Input::Request)?;
    for (key, rule) in fields {
        if let Some(value) = params.get(key) {
            field(value, &params.path(key), *rule)?;
        }
    }
    let mut complete = 0;
    for (from, to) in windows {
        if window(&params, from, to)? {
            complete += 1;
        }
    }
    if complete == 0 {
        let (from, to) = windows[0];
        let others = if method == REFUND_SEARCH {
            " (or another documented from/to pair)"
        } else {
            ""
        };
        return Err(Error::invalid_at(
            &format!("args[0].{from}"),
            format_args!("args[0].{from} and args[0].{to} are required{others}"),
        ));
    }
    Ok(())
}

/// One window: both ends or neither; the end not before the start; at most 30 days. True when
/// both ends are given.
fn window(params: &Obj<'_>, from: &str, to: &str) -> Result<bool> {
    let time = |key: &str| match params.get(key) {
        Some(Value::String(s)) if !s.is_empty() => parse_time(s),
        _ => None,
    };
    match (time(from), time(to)) {
        (None, None) => Ok(false),
        (Some(_), None) => Err(Error::invalid_at(
                &format!("args[0].{to}"),
            format_args!("args[0].{to} is required with args[0].{from} (a window has both ends)"),
        )),
        (None, Some(_)) => Err(Error::invalid_at(
                &format!("args[0].{from}"),
            format_args!("args[0].{from} is required with args[0].{to} (a window has both ends)"),
        )),
        (Some(start), Some(end)) if end < start => Err(Error::invalid_at(
                &format!("args[0].{to}"),
            format_args!("args[0].{to} is before args[0].{from}"),
        )),
        (Some(start), Some(end)) if end.div_euclid(86_400) - start.div_euclid(86_400) > MAX_WINDOW_DAYS => {
            Err(Error::invalid_at(
                &format!("args[0].{to}"),
                format_args!(
                    "args[0].{from} to args[0].{to} spans {} calendar days, at most {MAX_WINDOW_DAYS}",
                    end.div_euclid(86_400) - start.div_euclid(86_400)
                ),
            ))
        }
        _ => Ok(true),
    }
}

fn field(value: &Value, path: &str, rule: Rule) -> Result<()> {
    let ok = match (rule, value) {
        // An explicit null is how many JSON writers spell "not given".
        (_, Value::Null) => true,
        (Text(max), Value::String(_)) => {
            check_string(
                value,
                path,
                Limit {
                    max,
                    empty_ok: true,
                },
                Input::Request,
            )?;
            true
        }
        (Int, Value::Number(n)) => n.is_i64() || n.is_u64(),
        // The Java gateway reads "30" for an Int as 30; refusing it here would block a till for
        // nothing.
        (Int, Value::String(s)) => s.trim().parse::<i64>().is_ok(),
        (Flag, Value::Bool(_)) => true,
        (Flag, Value::Number(n)) => matches!(n.as_u64(), Some(0 | 1)),
        (Time, Value::String(s)) => {
            if parse_time(s).is_none() {
                return Err(Error::invalid_at(
                    path,
                    format_args!("{path} must be yyyy-MM-dd HH:mm:ss, not {s:?}"),
                ));
            }
            true
        }
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let expected = match rule {
        Text(_) => "a string",
        Int => "an integer",
        Flag => "true or false",
        Time => "a string yyyy-MM-dd HH:mm:ss",
    };
    Err(Error::invalid_at(
        path,
        format_args!("{path} must be {expected}, not {}", type_name(value)),
    ))
}

/// `yyyy-MM-dd HH:mm:ss` as seconds on a linear scale (the zone does not matter for a span).
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = &s[from..to];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if d < 1 || d > days_in_month || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(method: &str, args: Value, paged: bool) -> Option<String> {
        match check(method, args.as_array().unwrap(), paged) {
            Err(Error::InvalidArgument { field, .. }) => field,
            Ok(()) => panic!("{method} {args} passed"),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn stockin_query_rules() {
        let m = REFUND_STOCKIN_QUERY;
        let good =
            json!([{"start_time": "2024-01-01 00:00:00", "end_time": "2024-01-31 00:00:00"}]);
        check(m, good.as_array().unwrap(), true).unwrap();
        // Exactly 30 days is allowed; one second more is not.
        let edge =
            json!([{"start_time": "2024-02-01 00:00:00", "end_time": "2024-03-02 00:00:00"}]);
        check(m, edge.as_array().unwrap(), true).unwrap();
        let cases = [
            (good.clone(), false, "pager"),
            (json!([]), true, "args"),
            (json!([{}, {}]), true, "args"),
            (json!(["x"]), true, "args[0]"),
            (json!([{}]), true, "args[0].start_time"),
            (
                json!([{"start_time": "2024-01-01 00:00:00"}]),
                true,
                "args[0].end_time",
            ),
            (
                json!([{"end_time": "2024-01-01 00:00:00"}]),
                true,
                "args[0].start_time",
            ),
            (
                json!([{"start_time": "2024-02-01 23:59:59", "end_time": "2024-03-03 00:00:00"}]),
                true,
                "args[0].end_time",
            ),
            (
                json!([{"start_time": "2024-01-02 00:00:00", "end_time": "2024-01-01 00:00:00"}]),
                true,
                "args[0].end_time",
            ),
            (
                json!([{"start_time": "2024/01/01 00:00:00", "end_time": "2024-01-02 00:00:00"}]),
                true,
                "args[0].start_time",
            ),
            (
                json!([{"start_time": "2024-02-30 00:00:00", "end_time": "2024-03-02 00:00:00"}]),
                true,
                "args[0].start_time",
            ),
            (
                json!([{"start_time": 1, "end_time": "2024-01-02 00:00:00"}]),
                true,
                "args[0].start_time",
            ),
            (
                json!([{"start_time": "2024-01-01 00:00:00", "end_time": "2024-01-02 00:00:00", "stockin_no": "R".repeat(21)}]),
                true,
                "args[0].stockin_no",
            ),
            (
                json!([{"start_time": "2024-01-01 00:00:00", "end_time": "2024-01-02 00:00:00", "warehouse_no": "仓".repeat(41)}]),
                true,
                "args[0].warehouse_no",
            ),
            (
                json!([{"start_time": "2024-01-01 00:00:00", "end_time": "2024-01-02 00:00:00", "time_type": "x"}]),
                true,
                "args[0].time_type",
            ),
            (
                json!([{"start_time": "2024-01-01 00:00:00", "end_time": "2024-01-02 00:00:00", "need_sn": "yes"}]),
                true,
                "args[0].need_sn",
            ),
        ];
        for (args, paged, want) in cases {
            assert_eq!(
                field_of(m, args.clone(), paged).as_deref(),
                Some(want),
                "{args}"
            );
        }
        // Limits are inclusive, emoji count 2, unknown keys pass.
        let ok = json!([{"start_time": "2024-01-01 00:00:00", "end_time": "2024-01-02 00:00:00",
            "stockin_no": "R".repeat(20), "warehouse_no": "😀".repeat(20), "need_sn": true,
            "need_gov_subsidy_info": 1, "something_new": [1]}]);
        check(m, ok.as_array().unwrap(), true).unwrap();
    }

    #[test]
    fn refund_search_rules() {
        let m = REFUND_SEARCH;
        for ok in [
            json!([{"modified_from": "2020-01-01 00:00:00", "modified_to": "2020-01-20 00:00:00"}]),
            json!([{"tid": "pos-6776312", "modified_from": "2020-01-01 00:00:00", "modified_to": "2020-01-31 23:59:59", "status": "30"}]),
            json!([{"refund_no": "TK1", "settle_from": "2020-01-01 00:00:00", "settle_to": "2020-01-02 00:00:00"}]),
            json!([{"agree_from": "2020-01-01 00:00:00", "agree_to": "2020-01-31 00:00:00", "status": 30, "fuzzy_query": false}]),
        ] {
            check(m, ok.as_array().unwrap(), true).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let cases = [
            (json!([{"tid": "x"}]), false, "pager"),
            (json!([{}]), true, "args[0].modified_from"),
            (
                json!([{"tid": "pos-6776312"}]),
                true,
                "args[0].modified_from",
            ),
            (
                json!([{"modified_from": "2020-01-01 00:00:00"}]),
                true,
                "args[0].modified_to",
            ),
            (
                json!([{"tid": "x", "settle_to": "2020-01-01 00:00:00"}]),
                true,
                "args[0].settle_from",
            ),
            (
                json!([{"modified_from": "2020-01-01 00:00:00", "modified_to": "2020-02-01 00:00:00"}]),
                true,
                "args[0].modified_to",
            ),
            (json!([{"tid": "t".repeat(41)}]), true, "args[0].tid"),
            (
                json!([{"tid": "x", "buyer_nick": "n".repeat(101)}]),
                true,
                "args[0].buyer_nick",
            ),
            (
                json!([{"tid": "x", "return_warehouse_nos": "w".repeat(1001)}]),
                true,
                "args[0].return_warehouse_nos",
            ),
            (
                json!([{"tid": "x", "status": "thirty"}]),
                true,
                "args[0].status",
            ),
            (json!([{"tid": "x", "type": 1.5}]), true, "args[0].type"),
            (
                json!([{"tid": "x", "fuzzy_query": 2}]),
                true,
                "args[0].fuzzy_query",
            ),
        ];
        for (args, paged, want) in cases {
            assert_eq!(
                field_of(m, args.clone(), paged).as_deref(),
                Some(want),
                "{args}"
            );
        }
    }

    #[test]
    fn other_methods_pass_and_times_parse() {
        check("wms.stockin.PreStockin.search", &[], false).unwrap();
        assert_eq!(parse_time("1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse_time("2024-02-29 23:59:59"), Some(1_709_251_199));
        assert_eq!(parse_time("2023-02-29 00:00:00"), None);
        assert_eq!(parse_time("2024-01-01 24:00:00"), None);
        assert_eq!(parse_time("2024-01-01T00:00:00"), None);
        assert_eq!(parse_time("2024-1-01 00:00:00"), None);
        assert_eq!(parse_time("+024-01-01 00:00:00"), None);
    }
}
