//! The in-memory ERP behind the double: seeded orders and warehouses, and the
//! return stock-ins (退货入库单) that quick returns create.
//! Business rules follow the official API pages (docs/protocol.md); where a page is
//! silent the choice is written next to the code. Errors are `(status, message)`
//! exactly as the gateway would put them in its JSON.

use serde_json::{json, Map, Number, Value};

use crate::time;

pub type ApiError = (i64, String);

fn app_error(message: impl Into<String>) -> ApiError {
    (100, message.into())
}

/// Status 1 is what the Java gateway answers when it cannot bind the
/// positional arguments to the method's parameters.
fn type_mismatch() -> ApiError {
    (1, "argument type mismatch".into())
}

/// The seed used when `--seed` is not given; a copy of tests/fixtures/seed.json
/// so the binary works on its own for a POS developer.
pub const DEFAULT_SEED: &str = r#"{
  "warehouses": ["pos", "pos2", "门店仓"],
  "orders": [
    {"tid": "pos-6776312", "shop_no": "pos", "details": [{"spec_no": "RRWDMS018040S", "num": 5}, {"spec_no": "RRWDMS018040M", "num": 1.5}]},
    {"tid": "pos-中文-0001", "shop_no": "pos", "details": [{"spec_no": "衬衫-红-XL", "num": 3}]},
    {"tid": "pos-load", "shop_no": "pos", "details": [{"spec_no": "LOAD-SKU", "num": 1000000}]}
  ]
}"#;

/// A quantity in ten-thousandths: the ERP stores Decimal(19,4), and exact
/// comparison matters for "returned more than bought" (1.5 vs 1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Qty(i64);

impl Qty {
    const SCALE: i64 = 10_000;

    fn from_json(v: &Value) -> Option<Qty> {
        let f = v.as_f64()?;
        let scaled = (f * Self::SCALE as f64).round();
        if !scaled.is_finite() || scaled.abs() > 1e18 {
            return None;
        }
        Some(Qty(scaled as i64))
    }

    /// As a JSON number: an integer when whole (`2`, not `2.0`).
    fn to_json(self) -> Value {
        if self.0 % Self::SCALE == 0 {
            json!(self.0 / Self::SCALE)
        } else {
            Number::from_f64(self.0 as f64 / Self::SCALE as f64)
                .map(Value::Number)
                .unwrap_or(Value::Null)
        }
    }

    /// As the ERP prints a Decimal(19,4), e.g. `"2.0000"`.
    fn fixed4(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.abs();
        format!("{sign}{}.{:04}", a / Self::SCALE, a % Self::SCALE)
    }
}

impl std::fmt::Display for Qty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.fixed4();
        f.write_str(s.trim_end_matches('0').trim_end_matches('.'))
    }
}

struct Warehouse {
    no: String,
    name: String,
}

struct OrderLine {
    spec_no: String,
    goods_name: String,
    num: Qty,
}

struct Order {
    tid: String,
    shop_no: String,
    lines: Vec<OrderLine>,
}

struct StockInLine {
    rec_id: u64,
    spec_no: String,
    goods_name: String,
    num: Qty,
    remark: String,
    defect: bool,
}

struct StockIn {
    stockin_id: u64,
    /// The 退换单 the quick return created (aftersales.refund.Refund.search).
    refund_id: u64,
    order_no: String,
    refund_no: String,
    src_order_id: u64,
    tid: String,
    shop_no: String,
    warehouse_no: String,
    warehouse_name: String,
    remark: String,
    created_ms: i64,
    logistics_no: String,
    logistics_name: String,
    lines: Vec<StockInLine>,
}

pub struct Erp {
    warehouses: Vec<Warehouse>,
    orders: Vec<Order>,
    stockins: Vec<StockIn>,
    // Ids keep counting across /__mock/reset, like a database sequence, so an
    // id seen before a reset is never handed out again.
    next_stockin_id: u64,
    next_rec_id: u64,
    next_doc_seq: u64,
}

/// `page_size`, `page_no` and `calc_total` from the query string.
pub struct Pager {
    pub page_size: u64,
    pub page_no: u64,
    pub calc_total: bool,
}

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str, what: &str) -> Result<&'a str, String> {
    obj.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{what}: \"{key}\" must be a string"))
}

impl Erp {
    /// Loads a seed: `{"warehouses": ["pos", {"warehouse_no": "w", "name": "仓"}],
    /// "orders": [{"tid", "shop_no"?, "details": [{"spec_no", "num", "goods_name"?}]}]}`.
    pub fn from_seed(text: &str) -> Result<Erp, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("seed is not JSON: {e}"))?;
        let mut warehouses = Vec::new();
        for w in v["warehouses"]
            .as_array()
            .ok_or("seed: \"warehouses\" must be an array")?
        {
            let (no, name) = match w {
                Value::String(s) => (s.clone(), s.clone()),
                Value::Object(o) => {
                    let no = str_field(o, "warehouse_no", "seed warehouse")?.to_string();
                    let name = o
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or(&no)
                        .to_string();
                    (no, name)
                }
                _ => return Err("seed: a warehouse is a string or an object".into()),
            };
            warehouses.push(Warehouse { no, name });
        }
        let mut orders = Vec::new();
        for o in v["orders"]
            .as_array()
            .ok_or("seed: \"orders\" must be an array")?
        {
            let o = o.as_object().ok_or("seed: an order must be an object")?;
            let tid = str_field(o, "tid", "seed order")?.to_string();
            let shop_no = o
                .get("shop_no")
                .and_then(Value::as_str)
                .unwrap_or("pos")
                .to_string();
            let mut lines = Vec::new();
            let details = o
                .get("details")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("seed order {tid}: \"details\" must be an array"))?;
            for d in details {
                let d = d
                    .as_object()
                    .ok_or_else(|| format!("seed order {tid}: a detail must be an object"))?;
                let spec_no = str_field(d, "spec_no", "seed detail")?.to_string();
                let num = d.get("num").and_then(Qty::from_json).ok_or_else(|| {
                    format!("seed order {tid}: {spec_no} needs a numeric \"num\"")
                })?;
                let goods_name = d
                    .get("goods_name")
                    .and_then(Value::as_str)
                    .unwrap_or(&spec_no)
                    .to_string();
                lines.push(OrderLine {
                    spec_no,
                    goods_name,
                    num,
                });
            }
            orders.push(Order {
                tid,
                shop_no,
                lines,
            });
        }
        Ok(Erp {
            warehouses,
            orders,
            stockins: Vec::new(),
            next_stockin_id: 1000,
            next_rec_id: 1,
            next_doc_seq: 1,
        })
    }

    pub fn stockin_count(&self) -> usize {
        self.stockins.len()
    }

    pub fn clear_stockins(&mut self) {
        self.stockins.clear();
    }

    /// wms.stockin.SmartRefund.upload: `[refundInfo, detailMapList, createPreStockin]`.
    pub fn smart_refund(&mut self, args: &[Value], now_ms: i64) -> Result<Value, ApiError> {
        if args.len() != 3 {
            return Err((1, "参数个数错误".into()));
        }
        let (info, details, allow_more) = match (&args[0], &args[1], &args[2]) {
            (Value::Object(i), Value::Array(d), Value::Bool(b)) => (i, d, *b),
            _ => return Err(type_mismatch()),
        };

        let tid = required_text(info, "tid", 40, false)?;
        let warehouse_no = required_text(info, "return_warehouse_no", 40, false)?;
        let remark = required_text(info, "remark", 255, true)?;
        if details.is_empty() {
            return Err(app_error("detailMapList不能为空"));
        }
        let mut wanted = Vec::with_capacity(details.len());
        for d in details {
            let d = d.as_object().ok_or_else(type_mismatch)?;
            let spec_no = required_text(d, "spec_no", 40, false)?;
            let num = match d.get("stockin_num") {
                None | Some(Value::Null) => return Err(app_error("stockin_num不能为空")),
                Some(n @ Value::Number(_)) => Qty::from_json(n)
                    .ok_or_else(|| app_error(format!("数量不合法: stockin_num={n}")))?,
                Some(other) => return Err(app_error(format!("数量不合法: stockin_num={other}"))),
            };
            if num <= Qty(0) {
                return Err(app_error(format!("数量不合法: stockin_num={num}必须大于0")));
            }
            let line_remark = required_text(d, "remark", 255, true)?;
            let defect = d.get("defect").and_then(Value::as_bool).unwrap_or(false);
            wanted.push((spec_no, num, line_remark, defect));
        }

        let order = self
            .orders
            .iter()
            .find(|o| o.tid == tid)
            .ok_or_else(|| app_error("未找到对应的单据信息!"))?;
        let warehouse = self
            .warehouses
            .iter()
            .find(|w| w.no == warehouse_no)
            .ok_or_else(|| app_error(format!("退货入库仓编号不存在: {warehouse_no}")))?;

        // Compared per request, not against earlier returns, so a test can
        // send the same return in a loop; lines of one spec_no add up.
        let mut totals: Vec<(&str, Qty)> = Vec::new();
        for (spec_no, num, _, _) in &wanted {
            match totals.iter_mut().find(|(s, _)| s == spec_no) {
                Some((_, total)) => total.0 += num.0,
                None => totals.push((spec_no, *num)),
            }
        }
        for (spec_no, total) in &totals {
            let line = order
                .lines
                .iter()
                .find(|l| l.spec_no == *spec_no)
                .ok_or_else(|| {
                    app_error(format!(
                        "未找到对应的单据信息! 原始单{tid}中没有商家编码{spec_no}"
                    ))
                })?;
            if !allow_more && *total > line.num {
                return Err(app_error(format!(
                    "退货数量不能大于购买数量: 商家编码{spec_no}退货数量{total},购买数量{}",
                    line.num
                )));
            }
        }

        let stockin_id = self.next_stockin_id;
        self.next_stockin_id += 1;
        let seq = self.next_doc_seq;
        self.next_doc_seq += 1;
        let day = time::beijing_yyyymmdd(now_ms.div_euclid(1000));
        let mut lines = Vec::with_capacity(wanted.len());
        for (spec_no, num, line_remark, defect) in wanted {
            let goods_name = order
                .lines
                .iter()
                .find(|l| l.spec_no == spec_no)
                .map(|l| l.goods_name.clone())
                .unwrap_or_default();
            lines.push(StockInLine {
                rec_id: self.next_rec_id,
                spec_no: spec_no.to_string(),
                goods_name,
                num,
                remark: line_remark.to_string(),
                defect,
            });
            self.next_rec_id += 1;
        }
        let text = |k: &str| {
            info.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        self.stockins.push(StockIn {
            stockin_id,
            refund_id: stockin_id + 20_000,
            order_no: format!("RK{day}{seq:05}"),
            refund_no: format!("TK{day}{seq:05}"),
            src_order_id: stockin_id + 50_000,
            tid: tid.to_string(),
            shop_no: order.shop_no.clone(),
            warehouse_no: warehouse.no.clone(),
            warehouse_name: warehouse.name.clone(),
            remark: remark.to_string(),
            created_ms: now_ms,
            logistics_no: text("return_logistics_no"),
            logistics_name: text("return_logistics_name"),
            lines,
        });
        Ok(json!({"status": 0, "data": {"stockin_id": stockin_id, "type": 12}}))
    }

    /// wms.stockin.Refund.queryWithDetail: `[params]`, paged by the query string.
    pub fn query_refund_stockins(&self, args: &[Value], pager: &Pager) -> Result<Value, ApiError> {
        if args.len() != 1 {
            return Err((1, "参数个数错误".into()));
        }
        let params = args[0].as_object().ok_or_else(type_mismatch)?;
        let text = |k: &str| match params.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        };
        let (start, end) = match (text("start_time"), text("end_time")) {
            (Some(s), Some(e)) => (s, e),
            _ => return Err(app_error("参数中必须包含起止时间")),
        };
        let parse = |s: &str| {
            time::parse_beijing_datetime(s)
                .ok_or_else(|| app_error(format!("Unparseable date: {s}")))
        };
        let (start, end) = (parse(start)?, parse(end)?);
        // The API page (1.4): at most 30 days between start_time and end_time.
        // libwdt checks the same before sending; the double keeps the rule so
        // a client that skips the check meets the gateway's answer.
        if end < start {
            return Err(app_error("开始时间不能大于结束时间"));
        }
        // Calendar days (UTC+8): the API page's own example spans 2019-09-01 00:00:00 to
        // 2019-10-01 23:59:59.
        let day = |unix: i64| (unix + 8 * 3600).div_euclid(86_400);
        if day(end) - day(start) > MAX_QUERY_WINDOW_DAYS {
            return Err(app_error("您的查询时间过宽,查询时间不能大于30天"));
        }
        check_query_fields(params)?;

        let warehouse_no = text("warehouse_no");
        let stockin_no = text("stockin_no");
        let refund_no = text("refund_no");
        let shop_nos: Option<Vec<&str>> =
            text("shop_nos").map(|s| s.split(',').map(str::trim).collect());
        // Quick-return stock-ins are complete (80) the moment they exist.
        let statuses: Option<Vec<&str>> =
            text("status").map(|s| s.split(',').map(str::trim).collect());

        let matching: Vec<&StockIn> = self
            .stockins
            .iter()
            .filter(|s| {
                let secs = s.created_ms.div_euclid(1000);
                secs >= start
                    && secs <= end
                    && warehouse_no.map_or(true, |w| w == s.warehouse_no)
                    && stockin_no.map_or(true, |n| n == s.order_no)
                    && refund_no.map_or(true, |n| n == s.refund_no)
                    && shop_nos
                        .as_ref()
                        .map_or(true, |l| l.contains(&s.shop_no.as_str()))
                    && statuses.as_ref().map_or(true, |l| l.contains(&"80"))
            })
            .collect();
        let skip = pager.page_no.saturating_mul(pager.page_size);
        let page: Vec<Value> = matching
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(pager.page_size).unwrap_or(usize::MAX))
            .map(|s| s.to_json())
            .collect();
        let mut data = Map::new();
        data.insert("order".into(), Value::Array(page));
        if pager.calc_total {
            data.insert("total_count".into(), json!(matching.len()));
        }
        Ok(json!({"status": 0, "data": data}))
    }

    /// aftersales.refund.Refund.search (退换单查询): `[params]`, paged by the
    /// query string. Each quick return created one refund order (退换单) that
    /// carries its `remark`, warehouse and lines. The API page limits the
    /// window to 30 days; it does not say which pair of times is required, so
    /// the double takes any of the documented from/to pairs (the example uses
    /// `modified_from`/`modified_to`) and answers the example's error without one.
    pub fn search_refunds(&self, args: &[Value], pager: &Pager) -> Result<Value, ApiError> {
        if args.len() != 1 {
            return Err((1, "参数个数错误".into()));
        }
        let params = args[0].as_object().ok_or_else(type_mismatch)?;
        let text = |k: &str| match params.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        };
        let parse = |s: &str| {
            time::parse_beijing_datetime(s)
                .ok_or_else(|| app_error(format!("Unparseable date: {s}")))
        };
        // Quick-return refunds are created, checked (审核) and settled at once,
        // so every documented time of theirs is the creation time.
        let mut window: Option<(i64, i64)> = None;
        for (from, to) in [
            ("modified_from", "modified_to"),
            ("settle_from", "settle_to"),
            ("agree_from", "agree_to"),
        ] {
            match (text(from), text(to)) {
                (Some(f), Some(t)) => {
                    let (f, t) = (parse(f)?, parse(t)?);
                    if t < f {
                        return Err(app_error(format!("{from}不能大于{to}")));
                    }
                    // Calendar days, as for queryWithDetail (the same gateway rule).
                    let day = |unix: i64| (unix + 8 * 3600).div_euclid(86_400);
                    if day(t) - day(f) > MAX_QUERY_WINDOW_DAYS {
                        return Err(app_error("您的查询时间过宽,查询时间不能大于30天"));
                    }
                    window = Some(match window {
                        Some((a, b)) => (a.max(f), b.min(t)),
                        None => (f, t),
                    });
                }
                (None, None) => {}
                _ => return Err(app_error("参数中必须包含起止时间")),
            }
        }
        let Some((start, end)) = window else {
            return Err(app_error("参数中必须包含起止时间"));
        };
        let int = |k: &str| -> Result<Option<i64>, ApiError> {
            match params.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(type_mismatch),
                Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| type_mismatch()),
                Some(_) => Err(type_mismatch()),
            }
        };
        let list = |k: &str| text(k).map(|s| s.split(',').map(str::trim).collect::<Vec<_>>());
        let tid = text("tid");
        let refund_no = text("refund_no");
        let trade_no = text("trade_no");
        let logistics_no = text("return_logistics_no");
        let shop_nos = list("shop_nos");
        let warehouse_nos = list("return_warehouse_nos");
        let status = int("status")?;
        let stockin_status = int("stockin_status")?;
        let kind = int("type")?;

        let matching: Vec<&StockIn> = self
            .stockins
            .iter()
            .filter(|s| {
                let secs = s.created_ms.div_euclid(1000);
                secs >= start
                    && secs <= end
                    && tid.map_or(true, |t| t == s.tid)
                    && refund_no.map_or(true, |n| n == s.refund_no)
                    && trade_no.map_or(true, |n| n == s.trade_no())
                    && logistics_no.map_or(true, |n| n == s.logistics_no)
                    && shop_nos
                        .as_ref()
                        .map_or(true, |l| l.contains(&s.shop_no.as_str()))
                    && warehouse_nos
                        .as_ref()
                        .map_or(true, |l| l.contains(&s.warehouse_no.as_str()))
                    && status.map_or(true, |v| v == 30)
                    && stockin_status.map_or(true, |v| v == 3)
                    && kind.map_or(true, |v| v == 2)
            })
            .collect();
        let skip = pager.page_no.saturating_mul(pager.page_size);
        let page: Vec<Value> = matching
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(pager.page_size).unwrap_or(usize::MAX))
            .map(|s| s.refund_json())
            .collect();
        let mut data = Map::new();
        data.insert("order".into(), Value::Array(page));
        if pager.calc_total {
            data.insert("total_count".into(), json!(matching.len()));
        }
        Ok(json!({"status": 0, "data": data}))
    }
}

/// The widest start_time..end_time window of wms.stockin.Refund.queryWithDetail, in calendar
/// days between the two dates.
pub const MAX_QUERY_WINDOW_DAYS: i64 = 30;

/// The optional params of wms.stockin.Refund.queryWithDetail (its API page,
/// 3.3): strings with their length limits (UTF-16 units), `time_type` an
/// integer, the flags booleans (0/1 accepted, as the page documents for some).
fn check_query_fields(params: &Map<String, Value>) -> Result<(), ApiError> {
    const TEXT: &[(&str, usize)] = &[
        ("warehouse_no", 40),
        ("stockin_no", 20),
        ("refund_no", 40),
        ("shop_nos", 255),
        ("status", 255),
        ("start_time", 40),
        ("end_time", 40),
    ];
    const FLAGS: &[&str] = &[
        "is_slave",
        "need_sn",
        "need_summary",
        "need_gov_subsidy_info",
    ];
    for (key, max) in TEXT {
        match params.get(*key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                let len = s.encode_utf16().count();
                if len > *max {
                    return Err(app_error(format!("{key}长度不能超过{max}(当前{len})")));
                }
            }
            Some(_) => return Err(type_mismatch()),
        }
    }
    match params.get("time_type") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.is_i64() => {}
        // Java reads "1" for an Int as 1.
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => {}
        Some(_) => return Err(type_mismatch()),
    }
    for key in FLAGS {
        match params.get(*key) {
            None | Some(Value::Null) | Some(Value::Bool(_)) => {}
            Some(Value::Number(n)) if matches!(n.as_u64(), Some(0 | 1)) => {}
            Some(_) => return Err(type_mismatch()),
        }
    }
    Ok(())
}

/// A required string field with the API page's length limit, counted in
/// UTF-16 code units because the gateway is Java. `may_be_empty` is for the
/// remarks, which are required but may be `""`.
fn required_text<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    max: usize,
    may_be_empty: bool,
) -> Result<&'a str, ApiError> {
    let s = match obj.get(key) {
        None | Some(Value::Null) => return Err(app_error(format!("{key}不能为空"))),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(type_mismatch()),
    };
    if s.is_empty() && !may_be_empty {
        return Err(app_error(format!("{key}不能为空")));
    }
    let len = s.encode_utf16().count();
    if len > max {
        return Err(app_error(format!("{key}长度不能超过{max}(当前{len})")));
    }
    Ok(s)
}

impl StockIn {
    /// The system order number (系统订单编号) of the sale behind the return.
    fn trade_no(&self) -> String {
        format!("JY{}", self.src_order_id)
    }

    /// One `order` of aftersales.refund.Refund.search as its API page lists
    /// it, for the refund order (退换单) a quick return created: checked (30),
    /// fully stocked in (3), type 2 (退货), with the quick return's remark,
    /// warehouse and lines. Private data fields are those of an offline shop.
    fn refund_json(&self) -> Value {
        let created = time::beijing_datetime(self.created_ms.div_euclid(1000));
        let total = Qty(self.lines.iter().map(|l| l.num.0).sum());
        let trade_no = self.trade_no();
        let details: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                json!({
                    "rec_id": l.rec_id,
                    "refund_id": self.refund_id,
                    "oid": format!("{}-{}", self.tid, l.rec_id),
                    "trade_order_id": l.rec_id + 70_000,
                    "platform_id": 0,
                    "tid": self.tid,
                    "trade_no": trade_no,
                    "num": l.num.to_json(),
                    "price": 0,
                    "original_price": 0,
                    "checked_cost_price": 0,
                    "refund_num": l.num.to_json(),
                    "total_amount": 0,
                    "refund_amount": 0,
                    "is_guarantee": false,
                    "goods_no": l.spec_no,
                    "goods_name": l.goods_name,
                    "spec_name": "",
                    "spec_no": l.spec_no,
                    "goods_id": "",
                    "spec_id": "",
                    "spec_code": "",
                    "barcode": "",
                    "stockin_num": l.num.to_json(),
                    "remark": l.remark,
                    "api_spec_name": "",
                    "api_goods_name": l.goods_name,
                    "modified": created,
                    "created": created,
                    "modified_date": created,
                    "raw_refund_no": "",
                    "raw_refund_nos": "",
                    "sales_trade_id": self.src_order_id,
                    "discount": 0,
                    "paid": 0,
                    "suite_id": 0,
                    "suite_num": 0,
                    "gift_type": 0,
                })
            })
            .collect();
        let head = json!({
            "refund_id": self.refund_id,
            "src_tids": self.tid,
            "refund_no": self.refund_no,
            "remark": self.remark,
            "type": 2,
            "stockin_status": 3,
            "flag_name": "无",
            "return_goods_count": total.to_json(),
            "receiver_telno": "",
            "receiver_name": "",
            "modified": created,
            "note_count": 0,
            "shop_no": self.shop_no,
            "from_type": 1,
            "created": created,
            "settle_time": created,
            "check_time": created,
            "return_logistics_no": self.logistics_no,
            "trade_no_list": trade_no,
            "guarantee_refund_amount": 0,
            "return_goods_amount": 0,
            "return_logistics_name": self.logistics_name,
            "reason_name": "无",
        });
        // Two halves: one json! of all 60 fields overflows the macro's recursion limit.
        let rest = json!({
            "buyer_nick": "",
            "operator_name": "API",
            "actual_refund_amount": 0,
            "revert_reason_name": "无",
            "return_warehouse_no": self.warehouse_no,
            "direct_refund_amount": 0,
            "receive_amount": 0,
            "customer_name": "",
            "status": 30,
            "shop_id": 1,
            "trade_id": self.src_order_id,
            "raw_refund_nos": "",
            "pay_id": "",
            "provider_refund_no": "",
            "shop_platform_id": 0,
            "tid_list": self.tid,
            "sub_platform_id": 0,
            "return_warehouse_id": 1,
            "platform_id": 0,
            "warehouse_type": 1,
            "bad_reason": 0,
            "modified_date": created,
            "return_mask_info": "",
            "process_status": 0,
            "reason_id": 0,
            "revert_reason": 0,
            "customer_id": 0,
            "consign_mode": 0,
            "refund_time": created,
            "fenxiao_tid": "",
            "fenxiao_nick_no": "",
            "wms_code": "",
            "rr_status": 0,
            "current_phase_timeout": "",
            "detail_list": details,
            "amount_detail_list": [],
        });
        if let (Value::Object(mut a), Value::Object(b)) = (head, rest) {
            a.extend(b);
            return Value::Object(a);
        }
        Value::Null
    }

    /// The fields of the API page's `order` that the double can fill in
    /// meaningfully; the rest of the real answer is ERP bookkeeping.
    fn to_json(&self) -> Value {
        let created = time::beijing_datetime(self.created_ms.div_euclid(1000));
        let total = Qty(self.lines.iter().map(|l| l.num.0).sum());
        let details: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                json!({
                    "rec_id": l.rec_id,
                    "stockin_id": self.stockin_id,
                    "refund_detail_id": l.rec_id.to_string(),
                    "num": l.num.to_json(),
                    "remark": l.remark,
                    "right_num": l.num.to_json(),
                    "goods_name": l.goods_name,
                    "goods_no": l.spec_no,
                    "spec_no": l.spec_no,
                    "spec_name": "",
                    "spec_code": "",
                    "defect": l.defect,
                    "expect_num": l.num.to_json(),
                    "stockin_num": l.num.fixed4(),
                    "logistics_no": self.logistics_no,
                    "logistics_name": self.logistics_name,
                    "src_order_id": self.src_order_id,
                    "src_order_type": 12,
                    "tid": self.tid,
                    "created": created,
                    "modified": created,
                })
            })
            .collect();
        json!({
            "order_no": self.order_no,
            "status": 80,
            "warehouse_no": self.warehouse_no,
            "warehouse_name": self.warehouse_name,
            "created_time": self.created_ms,
            "remark": self.remark,
            "logistics_no": self.logistics_no,
            "logistics_name": self.logistics_name,
            "check_time": self.created_ms,
            "refund_no": self.refund_no,
            "goods_count": total.to_json(),
            "shop_no": self.shop_no,
            "shop_name": self.shop_no,
            "tid_list": self.tid,
            "src_order_id": self.src_order_id,
            "src_order_no": self.refund_no,
            "src_order_type": 12,
            "stockin_id": self.stockin_id,
            "total_goods_stockin_num": total.fixed4(),
            "process_status": 30,
            "type": 2,
            "goods_type_count": self.lines.len(),
            "modified": created,
            "created": created,
            "details_list": details,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn erp() -> Erp {
        Erp::from_seed(DEFAULT_SEED).unwrap()
    }

    fn args(s: &str) -> Vec<Value> {
        serde_json::from_str::<Value>(s)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn refund(e: &mut Erp, body: &str) -> Result<Value, ApiError> {
        e.smart_refund(&args(body), 1_795_000_000_000)
    }

    const GOOD: &str = r#"[{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"r"},[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],false]"#;

    #[test]
    fn good_return_gets_distinct_ids() {
        let mut e = erp();
        let a = refund(&mut e, GOOD).unwrap();
        let b = refund(&mut e, GOOD).unwrap();
        assert_eq!(a["data"]["stockin_id"], 1000);
        assert_eq!(a["data"]["type"], 12);
        assert_eq!(b["data"]["stockin_id"], 1001);
        assert_eq!(e.stockin_count(), 2);
    }

    #[test]
    fn decimal_quantity_up_to_bought() {
        let mut e = erp();
        let at = r#"[{"tid":"pos-6776312","return_warehouse_no":"pos","remark":""},[{"spec_no":"RRWDMS018040M","stockin_num":1.50,"remark":""}],false]"#;
        assert!(refund(&mut e, at).is_ok());
        let over = at.replace("1.50", "1.5001");
        let err = refund(&mut e, &over).unwrap_err();
        assert_eq!(err.0, 100);
        assert!(err.1.contains("退货数量不能大于购买数量"), "{}", err.1);
        assert!(refund(&mut e, &over.replace("false]", "true]")).is_ok());
    }

    #[test]
    fn lines_of_one_spec_add_up() {
        let mut e = erp();
        let two = r#"[{"tid":"pos-6776312","return_warehouse_no":"pos","remark":""},[{"spec_no":"RRWDMS018040S","stockin_num":3,"remark":""},{"spec_no":"RRWDMS018040S","stockin_num":3,"remark":""}],false]"#;
        assert_eq!(refund(&mut e, two).unwrap_err().0, 100);
    }

    #[test]
    fn gateway_messages() {
        let mut e = erp();
        let cases = [
            (r#"[{}]"#, (1, "参数个数错误")),
            (r#"[{},{},false]"#, (1, "argument type mismatch")),
            (
                r#"[{"return_warehouse_no":"pos","remark":""},[{}],false]"#,
                (100, "tid不能为空"),
            ),
            (
                r#"[{"tid":"","return_warehouse_no":"pos","remark":""},[{}],false]"#,
                (100, "tid不能为空"),
            ),
            (
                r#"[{"tid":"x","return_warehouse_no":"pos"},[{}],false]"#,
                (100, "remark不能为空"),
            ),
            (
                r#"[{"tid":"x","return_warehouse_no":"pos","remark":""},[],false]"#,
                (100, "detailMapList不能为空"),
            ),
            (
                r#"[{"tid":"x","return_warehouse_no":"pos","remark":""},[{"spec_no":"a","remark":""}],false]"#,
                (100, "stockin_num不能为空"),
            ),
            (
                r#"[{"tid":"x","return_warehouse_no":"pos","remark":""},[{"spec_no":"a","stockin_num":"1","remark":""}],false]"#,
                (100, "数量不合法: stockin_num=\"1\""),
            ),
            (
                r#"[{"tid":"x","return_warehouse_no":"pos","remark":""},[{"spec_no":"a","stockin_num":0,"remark":""}],false]"#,
                (100, "数量不合法: stockin_num=0必须大于0"),
            ),
            (
                r#"[{"tid":"x","return_warehouse_no":"pos","remark":""},[{"spec_no":"a","stockin_num":1}],false]"#,
                (100, "remark不能为空"),
            ),
            (
                r#"[{"tid":"no-such","return_warehouse_no":"pos","remark":""},[{"spec_no":"a","stockin_num":1,"remark":""}],false]"#,
                (100, "未找到对应的单据信息!"),
            ),
            (
                r#"[{"tid":"pos-6776312","return_warehouse_no":"nope","remark":""},[{"spec_no":"a","stockin_num":1,"remark":""}],false]"#,
                (100, "退货入库仓编号不存在: nope"),
            ),
            (
                r#"[{"tid":"pos-6776312","return_warehouse_no":"pos","remark":""},[{"spec_no":"a","stockin_num":1,"remark":""}],false]"#,
                (
                    100,
                    "未找到对应的单据信息! 原始单pos-6776312中没有商家编码a",
                ),
            ),
        ];
        for (body, (status, message)) in cases {
            assert_eq!(
                refund(&mut e, body).unwrap_err(),
                (status, message.to_string()),
                "{body}"
            );
        }
        assert_eq!(e.stockin_count(), 0);
    }

    #[test]
    fn lengths_count_utf16_units() {
        let mut e = erp();
        let with_remark = |r: &str| {
            format!(
                r#"[{{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"{r}"}},[{{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":""}}],false]"#
            )
        };
        // 255 CJK characters are 255 units; 128 emoji are 256.
        assert!(refund(&mut e, &with_remark(&"退".repeat(255))).is_ok());
        let err = refund(&mut e, &with_remark(&"😀".repeat(128))).unwrap_err();
        assert_eq!(err, (100, "remark长度不能超过255(当前256)".into()));
        let tid41 = GOOD.replace("pos-6776312", &"1".repeat(41));
        assert_eq!(
            refund(&mut e, &tid41).unwrap_err().1,
            "tid长度不能超过40(当前41)"
        );
    }

    fn pager(size: u64, no: u64) -> Pager {
        Pager {
            page_size: size,
            page_no: no,
            calc_total: true,
        }
    }

    #[test]
    fn query_pages_and_round_trips_text() {
        let mut e = erp();
        let cn = r#"[{"tid":"pos-中文-0001","return_warehouse_no":"门店仓","remark":"顾客退货：尺码不合适"},[{"spec_no":"衬衫-红-XL","stockin_num":1.5,"remark":"线头😀"}],false]"#;
        for _ in 0..3 {
            refund(&mut e, cn).unwrap();
        }
        // refund() stamps 1_795_000_000 s; a window of a few days around it.
        let window = args(&format!(
            r#"[{{"start_time":"{}","end_time":"{}"}}]"#,
            time::beijing_datetime(1_795_000_000 - 86_400),
            time::beijing_datetime(1_795_000_000 + 86_400)
        ));
        let first = e.query_refund_stockins(&window, &pager(2, 0)).unwrap();
        assert_eq!(first["data"]["total_count"], 3);
        assert_eq!(first["data"]["order"].as_array().unwrap().len(), 2);
        let second = e.query_refund_stockins(&window, &pager(2, 1)).unwrap();
        let order = &second["data"]["order"][0];
        assert_eq!(order["stockin_id"], 1002);
        assert_eq!(order["remark"], "顾客退货：尺码不合适");
        assert_eq!(order["warehouse_no"], "门店仓");
        assert_eq!(order["details_list"][0]["remark"], "线头😀");
        assert_eq!(order["details_list"][0]["num"], 1.5);
        assert_eq!(order["details_list"][0]["stockin_num"], "1.5000");
        let text = serde_json::to_string(&second).unwrap();
        assert!(
            text.contains("顾客退货：尺码不合适"),
            "non-ASCII must not be escaped"
        );

        let past =
            args(r#"[{"start_time":"2020-01-01 00:00:00","end_time":"2020-01-02 00:00:00"}]"#);
        let none = e.query_refund_stockins(&past, &pager(50, 0)).unwrap();
        assert_eq!(none["data"]["total_count"], 0);
        let no_total = Pager {
            calc_total: false,
            ..pager(50, 0)
        };
        assert!(e.query_refund_stockins(&window, &no_total).unwrap()["data"]
            .get("total_count")
            .is_none());
    }

    #[test]
    fn query_needs_both_times() {
        let e = erp();
        let err = e
            .query_refund_stockins(
                &args(r#"[{"start_time":"2024-01-01 00:00:00"}]"#),
                &pager(1, 0),
            )
            .unwrap_err();
        assert_eq!(err, (100, "参数中必须包含起止时间".into()));
        let err = e
            .query_refund_stockins(
                &args(r#"[{"start_time":"2024/01/01","end_time":"2024-01-02 00:00:00"}]"#),
                &pager(1, 0),
            )
            .unwrap_err();
        assert_eq!(err, (100, "Unparseable date: 2024/01/01".into()));
    }

    #[test]
    fn query_window_and_field_rules() {
        let e = erp();
        let q = |body: &str| e.query_refund_stockins(&args(body), &pager(1, 0));
        // 30 calendar days passes to the end of the last day (the page's own example); the
        // 31st day does not.
        assert!(
            q(r#"[{"start_time":"2019-09-01 00:00:00","end_time":"2019-10-01 23:59:59"}]"#).is_ok()
        );
        assert_eq!(
            q(r#"[{"start_time":"2024-02-01 23:59:59","end_time":"2024-03-03 00:00:00"}]"#)
                .unwrap_err(),
            (100, "您的查询时间过宽,查询时间不能大于30天".into())
        );
        assert_eq!(
            q(r#"[{"start_time":"2024-01-02 00:00:00","end_time":"2024-01-01 00:00:00"}]"#)
                .unwrap_err(),
            (100, "开始时间不能大于结束时间".into())
        );
        let w = r#""start_time":"2024-01-01 00:00:00","end_time":"2024-01-02 00:00:00""#;
        assert_eq!(
            q(&format!(r#"[{{{w},"stockin_no":"{}"}}]"#, "R".repeat(21))).unwrap_err(),
            (100, "stockin_no长度不能超过20(当前21)".into())
        );
        assert!(q(&format!(r#"[{{{w},"stockin_no":"{}"}}]"#, "R".repeat(20))).is_ok());
        assert_eq!(
            q(&format!(
                r#"[{{{w},"warehouse_no":"{}"}}]"#,
                "😀".repeat(21)
            ))
            .unwrap_err(),
            (100, "warehouse_no长度不能超过40(当前42)".into())
        );
        assert_eq!(
            q(&format!(r#"[{{{w},"time_type":"x"}}]"#)).unwrap_err(),
            type_mismatch()
        );
        assert_eq!(
            q(&format!(r#"[{{{w},"need_sn":"yes"}}]"#)).unwrap_err(),
            type_mismatch()
        );
        assert!(q(&format!(
            r#"[{{{w},"need_sn":true,"time_type":1,"is_slave":0}}]"#
        ))
        .is_ok());
    }

    #[test]
    fn refund_search_filters_pages_and_window() {
        let mut e = erp();
        let cn = r#"[{"tid":"pos-中文-0001","return_warehouse_no":"门店仓","remark":"退 [wdt:a1]"},[{"spec_no":"衬衫-红-XL","stockin_num":1.5,"remark":"线头"}],false]"#;
        for _ in 0..3 {
            refund(&mut e, cn).unwrap();
        }
        refund(&mut e, GOOD).unwrap();
        let q = |p: &str, size: u64, no: u64| e.search_refunds(&args(p), &pager(size, no));
        let wide = r#"[{"tid":"pos-中文-0001","modified_from":"2026-11-15 00:00:00","modified_to":"2026-12-14 00:00:00"}]"#;
        let first = q(wide, 2, 0).unwrap();
        assert_eq!(first["data"]["total_count"], 3);
        assert_eq!(first["data"]["order"].as_array().unwrap().len(), 2);
        let last = q(wide, 2, 1).unwrap();
        let order = &last["data"]["order"][0];
        assert_eq!(order["remark"], "退 [wdt:a1]");
        assert_eq!(order["src_tids"], "pos-中文-0001");
        assert_eq!(order["return_warehouse_no"], "门店仓");
        assert_eq!(order["detail_list"][0]["spec_no"], "衬衫-红-XL");
        assert_eq!(order["detail_list"][0]["stockin_num"], 1.5);
        assert_eq!(order["refund_id"], order["detail_list"][0]["refund_id"]);
        let other = wide.replace("pos-中文-0001", "pos-6776312");
        assert_eq!(q(&other, 10, 0).unwrap()["data"]["total_count"], 1);
        let warehouse = wide.replace(
            "\"tid\":\"pos-中文-0001\",",
            "\"return_warehouse_nos\":\"pos,x\",",
        );
        assert_eq!(q(&warehouse, 10, 0).unwrap()["data"]["total_count"], 1);
        let before = r#"[{"tid":"pos-中文-0001","modified_from":"2026-01-01 00:00:00","modified_to":"2026-01-31 00:00:00"}]"#;
        assert_eq!(q(before, 10, 0).unwrap()["data"]["total_count"], 0);
        let too_wide =
            r#"[{"modified_from":"2026-01-01 00:00:00","modified_to":"2026-02-01 00:00:01"}]"#;
        assert_eq!(q(too_wide, 10, 0).unwrap_err().0, 100);
        assert_eq!(
            q(r#"[{"tid":"x"}]"#, 10, 0).unwrap_err(),
            (100, "参数中必须包含起止时间".into())
        );
        assert_eq!(
            q(r#"[{"modified_from":"2026-01-01 00:00:00"}]"#, 10, 0).unwrap_err(),
            (100, "参数中必须包含起止时间".into())
        );
    }

    #[test]
    fn qty_formats() {
        assert_eq!(Qty(15_000).to_string(), "1.5");
        assert_eq!(Qty(990_000).to_string(), "99");
        assert_eq!(Qty(20_000).fixed4(), "2.0000");
        assert_eq!(Qty(20_000).to_json(), json!(2));
    }
}
