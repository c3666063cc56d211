//! Asking the ERP before any resend. A quick return has no idempotency key, so after an
//! `unknown` attempt the only way to know whether the ERP has it is to look:
//! `aftersales.refund.Refund.search` (退换单查询) by `tid`, over windows of at most 30 days (the
//! API page's limit) from a day before the first attempt to a day after now (in the gateway's
//! time: the ERP stamps its own clock, and the client has learned the offset), every page. The
//! day of margin covers what the till's clock did between the attempt and now.
//!
//! Matching: with markers on, a refund order whose remark carries this entry's marker is this
//! return. Without a marker (or when none carries it) an order with the same tid, warehouse and
//! lines could be this return with its remark lost; the outbox cannot tell, so that is
//! `needs_attention`, never a resend. Only "no order that could be this return" is absent.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::client::Client;
use crate::error::Error;
use crate::query::REFUND_SEARCH;
use crate::request::{Pager, Prepared};

const PAGE_SIZE: u64 = 100;
/// Beyond this many pages for one tid something is off (a tid reused for thousands of
/// refunds); a person should look rather than the outbox guess.
const MAX_PAGES: u64 = 50;
const DAY_MS: i64 = 86_400_000;
/// The API page: 请求时间最大跨度为30天.
const MAX_WINDOW_MS: i64 = 30 * DAY_MS;
const MARGIN_MS: i64 = DAY_MS;

/// Why a search ended without an answer to decide from.
#[derive(Debug)]
pub enum SearchFail {
    /// The entry's lease was lost before a call: another process holds the entry now.
    LeaseLost,
    /// More refund orders of the tid than the outbox decides about by itself.
    TooMany(String),
    /// A query call failed (network, gateway).
    Query(Error),
}

#[derive(Debug)]
pub enum Finding {
    Found { order: Value, query: Value },
    Absent { query: Value },
    Ambiguous { why: String, query: Value },
}

/// Beijing wall time (UTC+8, no DST), as the ERP's query parameters take it.
pub fn beijing(ms: i64) -> String {
    let secs = ms.div_euclid(1000) + 8 * 3600;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::calendar::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The query windows covering `[first_attempt - 1 day, now + 1 day]`, each within 30 days.
pub fn windows(first_attempt_ms: i64, now_ms: i64) -> Vec<(String, String)> {
    let start = first_attempt_ms - MARGIN_MS;
    let end = now_ms.max(first_attempt_ms) + MARGIN_MS;
    let mut out = Vec::new();
    let mut from = start;
    while from < end {
        // Whole seconds on the wire: keep each window a second short of the limit.
        let to = (from + MAX_WINDOW_MS - 1000).min(end);
        out.push((beijing(from), beijing(to)));
        from = to;
    }
    out
}

/// Quantities compared exactly to 4 decimals (the ERP's Decimal(19,4)).
fn qty(v: &Value) -> Option<i64> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    let scaled = (f * 10_000.0).round();
    scaled.is_finite().then_some(scaled as i64)
}

/// What identifies a return without a marker: warehouse and lines (spec_no → total quantity).
#[derive(Debug, PartialEq)]
pub struct Shape {
    pub warehouse: String,
    pub lines: BTreeMap<String, i64>,
}

pub fn shape_of_body(body: &str) -> Option<Shape> {
    let v: Value = serde_json::from_str(body).ok()?;
    let warehouse = v[0]["return_warehouse_no"].as_str()?.to_owned();
    let mut lines = BTreeMap::new();
    for l in v[1].as_array()? {
        *lines.entry(l["spec_no"].as_str()?.to_owned()).or_insert(0) += qty(&l["stockin_num"])?;
    }
    Some(Shape { warehouse, lines })
}

fn shape_of_order(order: &Value) -> Option<Shape> {
    let warehouse = order["return_warehouse_no"].as_str()?.to_owned();
    let mut lines = BTreeMap::new();
    for l in order["detail_list"].as_array()? {
        let n = qty(&l["stockin_num"])
            .filter(|n| *n > 0)
            .or_else(|| qty(&l["refund_num"]))?;
        *lines.entry(l["spec_no"].as_str()?.to_owned()).or_insert(0) += n;
    }
    Some(Shape { warehouse, lines })
}

/// Whether the order is for `tid` as the ERP may compare tids (MySQL's default collation:
/// case-insensitive, trailing spaces ignored). Only for orders without a marker: a marker
/// decides whatever the tid looks like.
fn has_tid(order: &Value, tid: &str) -> bool {
    let want = tid.trim().to_lowercase();
    ["src_tids", "tid_list"].iter().any(|k| {
        order[*k]
            .as_str()
            .is_some_and(|s| s.split(',').any(|t| t.trim().to_lowercase() == want))
    })
}

/// The marker that owns an order: the first complete `[wdt:…]` token in its remark (the one
/// the outbox put there; callers may not write the syntax). A token is complete when it is
/// closed by `]` and holds only id characters (a tag, `:`, an id). A cut token owns nothing:
/// the order may be anyone's, ours included.
pub fn owner(remark: &str) -> Option<&str> {
    let open = super::model::MARKER_OPEN;
    let mut from = 0;
    while let Some(at) = remark[from..].find(open) {
        let start = from + at;
        let inner_start = start + open.len();
        if let Some(len) = remark[inner_start..].find(']') {
            let inner = &remark[inner_start..inner_start + len];
            if !inner.is_empty()
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
            {
                return Some(&remark[start..inner_start + len + 1]);
            }
        }
        from = inner_start;
    }
    None
}

fn owner_of(order: &Value) -> Option<&str> {
    order["remark"].as_str().and_then(owner)
}

fn summary(order: &Value) -> Value {
    json!({
        "refund_id": order["refund_id"],
        "refund_no": order["refund_no"],
        "remark": order["remark"],
        "created": order["created"],
    })
}

/// Every refund order of `tid` in the windows. `before_call` runs before each request (the
/// caller renews its lease there) and may stop the search.
pub fn search(
    client: &Client,
    tid: &str,
    first_attempt_ms: i64,
    now_ms: i64,
    before_call: &mut dyn FnMut() -> bool,
) -> Result<(Vec<Value>, Value), SearchFail> {
    // The ERP dates its orders by its own clock: the window moves by the offset the client has
    // learned from the gateway (at most a day, like the margin, which stays for what the till's
    // clock did between the attempt and now).
    let shift = client.clock_offset().saturating_mul(1000);
    let wins = windows(
        first_attempt_ms.saturating_add(shift),
        now_ms.saturating_add(shift),
    );
    let mut found = Found::default();
    for (from, to) in &wins {
        search_window(client, tid, from, to, before_call, &mut found)?;
    }
    let query = json!({"method": REFUND_SEARCH, "tid": tid, "windows": wins.len(),
                       "calls": found.calls, "orders": found.orders.len()});
    Ok((found.orders, query))
}

/// What a search has found so far: each order once, and the queries it took.
#[derive(Default)]
struct Found {
    orders: Vec<Value>,
    calls: u64,
}

impl Found {
    /// Pages may overlap when orders change between two queries: an order is kept once.
    fn add(&mut self, page: Vec<Value>) {
        for o in page {
            let dup = o.get("refund_id").is_some()
                && self.orders.iter().any(|x| x["refund_id"] == o["refund_id"]);
            if !dup {
                self.orders.push(o);
            }
        }
    }
}

/// Every page of one window, until the total the gateway reports (or a short page) is reached.
fn search_window(
    client: &Client,
    tid: &str,
    from: &str,
    to: &str,
    before_call: &mut dyn FnMut() -> bool,
    found: &mut Found,
) -> Result<(), SearchFail> {
    let mut page_no = 0u64;
    let mut seen = 0u64;
    loop {
        if page_no >= MAX_PAGES {
            return Err(SearchFail::TooMany(format!(
                "more than {} refund orders of tid {tid:?} in one window; not deciding automatically",
                MAX_PAGES * PAGE_SIZE
            )));
        }
        if !before_call() {
            return Err(SearchFail::LeaseLost);
        }
        found.calls += 1;
        let reply = client.execute(&page_query(tid, from, to, page_no));
        let success = reply.result.map_err(SearchFail::Query)?;
        let data = success.data();
        let page = data["order"].as_array().cloned().unwrap_or_default();
        let total = success
            .total_count()
            .as_ref()
            .and_then(Value::as_u64)
            .or_else(|| data["total_count"].as_u64());
        let got = page.len() as u64;
        seen += got;
        found.add(page);
        let done = match total {
            Some(t) => seen >= t || got == 0,
            None => got < PAGE_SIZE,
        };
        if done {
            return Ok(());
        }
        page_no += 1;
    }
}

/// One page of the refund orders of `tid` modified in [from, to].
fn page_query(tid: &str, from: &str, to: &str, page_no: u64) -> Prepared {
    let body = json!([{"tid": tid, "modified_from": from, "modified_to": to}]);
    Prepared {
        method: REFUND_SEARCH.to_owned(),
        body: body.to_string(),
        pager: Some(Pager {
            page_size: PAGE_SIZE,
            page_no,
            calc_total: true,
        }),
    }
}

/// Decides from the orders found. With a marker: the orders it owns, whatever their tid.
/// Otherwise (or when none): orders of the tid that no marker owns and have the same warehouse
/// and lines could be this return with its remark lost or never marked; the outbox cannot prove
/// it either way, so they are `needs_attention`, never delivered and never a resend.
pub fn decide(
    orders: &[Value],
    query: Value,
    tid: &str,
    marker: Option<&str>,
    body: &str,
) -> Finding {
    if let Some(m) = marker {
        let marked: Vec<&Value> = orders.iter().filter(|o| owner_of(o) == Some(m)).collect();
        match marked.len() {
            1 => {
                return Finding::Found {
                    order: summary(marked[0]),
                    query,
                }
            }
            n if n > 1 => {
                return Finding::Ambiguous {
                    why: format!(
                        "{n} refund orders carry this entry's marker {m}: the ERP holds this return more than once"
                    ),
                    query,
                }
            }
            _ => {}
        }
    }
    let Some(ours) = shape_of_body(body) else {
        return Finding::Ambiguous {
            why: "the stored request cannot be read back to compare lines".into(),
            query,
        };
    };
    let alike = orders
        .iter()
        .filter(|o| {
            // An order owned by a marker belongs to that entry (of this file or another).
            has_tid(o, tid) && owner_of(o).is_none() && shape_of_order(o).as_ref() == Some(&ours)
        })
        .count();
    match (alike, marker) {
        (0, _) => Finding::Absent { query },
        (n, Some(m)) => Finding::Ambiguous {
            why: format!(
                "no refund order carries the marker {m}, but {n} with the same tid, warehouse and lines exist (remark changed in the ERP?)"
            ),
            query,
        },
        (n, None) => Finding::Ambiguous {
            why: format!(
                "{n} refund orders with the same tid, warehouse and lines exist and, without a marker, none can be proved to be this return (another till may have booked the same goods)"
            ),
            query,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"[{"tid":"t1","return_warehouse_no":"pos","remark":"x [wdt:E1]"},[{"spec_no":"A","stockin_num":1,"remark":""},{"spec_no":"A","stockin_num":0.5,"remark":""},{"spec_no":"B","stockin_num":2,"remark":""}],false]"#;

    fn order(remark: &str, lines: &[(&str, f64)]) -> Value {
        let details: Vec<Value> = lines
            .iter()
            .map(|(s, n)| json!({"spec_no": s, "stockin_num": n}))
            .collect();
        json!({"refund_id": 1, "refund_no": "TK1", "src_tids": "t1", "remark": remark,
               "return_warehouse_no": "pos", "detail_list": details})
    }

    #[test]
    fn beijing_time() {
        assert_eq!(beijing(0), "1970-01-01 08:00:00");
        assert_eq!(beijing(1_795_000_000_000), "2026-11-18 19:06:40");
        assert_eq!(beijing(951_782_400_000), "2000-02-29 08:00:00");
    }

    #[test]
    fn windows_stay_within_30_days() {
        let day = DAY_MS;
        assert_eq!(windows(10 * day, 10 * day).len(), 1);
        let w = windows(0, 100 * day);
        assert_eq!(w.len(), 4);
        assert_eq!(w[0].0, beijing(-day));
        assert_eq!(w.last().unwrap().1, beijing(101 * day));
    }

    #[test]
    fn marker_decides() {
        let m = Some("[wdt:E1]");
        let ours = order("x [wdt:E1]", &[("A", 1.5), ("B", 2.0)]);
        let other = order("y [wdt:E2]", &[("A", 1.5), ("B", 2.0)]);
        let q = || json!({});
        assert!(matches!(
            decide(&[other.clone(), ours.clone()], q(), "t1", m, BODY),
            Finding::Found { .. }
        ));
        assert!(matches!(
            decide(std::slice::from_ref(&other), q(), "t1", m, BODY),
            Finding::Absent { .. }
        ));
        assert!(matches!(
            decide(&[], q(), "t1", m, BODY),
            Finding::Absent { .. }
        ));
        assert!(matches!(
            decide(&[ours.clone(), ours.clone()], q(), "t1", m, BODY),
            Finding::Ambiguous { .. }
        ));
        // Same goods, no marker at all: maybe ours with the remark edited; never resend.
        let unmarked = order("edited", &[("A", 1.5), ("B", 2.0)]);
        assert!(matches!(
            decide(&[unmarked], q(), "t1", m, BODY),
            Finding::Ambiguous { .. }
        ));
        // A look-alike of a different tid is not ours (our marker would be, whatever the tid).
        let mut elsewhere = order("edited", &[("A", 1.5), ("B", 2.0)]);
        elsewhere["src_tids"] = json!("t2");
        assert!(matches!(
            decide(&[elsewhere], q(), "t1", m, BODY),
            Finding::Absent { .. }
        ));
    }

    const M: Option<&str> = Some("[wdt:0123abcd4567:E1]");

    /// The ERP may match tids as MySQL does (case-insensitive, trailing spaces ignored) and
    /// answer with our refund order under a tid spelt differently: the marker decides first.
    #[test]
    fn our_marker_is_found_whatever_the_tid_looks_like() {
        let mut ours = order("[wdt:0123abcd4567:E1] x", &[("A", 1.5), ("B", 2.0)]);
        ours["src_tids"] = json!("T1 ");
        assert!(matches!(
            decide(&[ours], json!({}), "t1", M, BODY),
            Finding::Found { .. }
        ));
    }

    /// Without the marker, tids are compared as the ERP may compare them.
    #[test]
    fn look_alikes_compare_tids_case_insensitive_and_trimmed() {
        let mut alike = order("edited", &[("A", 1.5), ("B", 2.0)]);
        alike["src_tids"] = json!(" T1 ");
        assert!(matches!(
            decide(&[alike], json!({}), "t1", M, BODY),
            Finding::Ambiguous { .. }
        ));
    }

    /// A remark the ERP cut at 255 leaves a partial marker: it may be ours, so it is doubt,
    /// never "another entry's" (which would mean absent, and a resend).
    #[test]
    fn a_cut_marker_is_doubt_not_another_entrys() {
        let cut = order("[wdt:0123abcd4567:E", &[("A", 1.5), ("B", 2.0)]);
        assert!(matches!(
            decide(&[cut], json!({}), "t1", M, BODY),
            Finding::Ambiguous { .. }
        ));
    }

    /// An order belongs to the first whole marker token in its remark; our marker appearing
    /// later in another entry's remark is not ours (a substring match would say delivered).
    #[test]
    fn an_order_belongs_to_its_first_marker_token_only() {
        let other = order(
            "[wdt:0123abcd4567:E2] [wdt:0123abcd4567:E1]",
            &[("A", 1.5), ("B", 2.0)],
        );
        assert!(matches!(
            decide(std::slice::from_ref(&other), json!({}), "t1", M, BODY),
            Finding::Absent { .. }
        ));
        // A prefix the ERP added does not hide the marker.
        let prefixed = order("ERP: [wdt:0123abcd4567:E1] x", &[("A", 1.5), ("B", 2.0)]);
        assert!(matches!(
            decide(&[prefixed], json!({}), "t1", M, BODY),
            Finding::Found { .. }
        ));
    }

    #[test]
    fn without_marker_lines_decide_and_doubt_is_attention() {
        let same = order("", &[("A", 1.5), ("B", 2.0)]);
        let fewer = order("", &[("A", 1.0), ("B", 2.0)]);
        let q = || json!({});
        // One look-alike: without a marker it may be another till's identical return, so it
        // is never taken as delivered.
        assert!(matches!(
            decide(&[same.clone(), fewer.clone()], q(), "t1", None, BODY),
            Finding::Ambiguous { .. }
        ));
        assert!(matches!(
            decide(std::slice::from_ref(&fewer), q(), "t1", None, BODY),
            Finding::Absent { .. }
        ));
        assert!(matches!(
            decide(&[same.clone(), same.clone()], q(), "t1", None, BODY),
            Finding::Ambiguous { .. }
        ));
        assert!(matches!(
            decide(std::slice::from_ref(&same), q(), "t1", None, BODY),
            Finding::Ambiguous { .. }
        ));
        let mut wh = same.clone();
        wh["return_warehouse_no"] = json!("pos2");
        assert!(matches!(
            decide(&[wh], q(), "t1", None, BODY),
            Finding::Absent { .. }
        ));
    }
}
