//! The `hint` of every error envelope: one remedy in Chinese, for the cashier and the POS
//! developer who read Chinese first. Gateway statuses take the remedy of the vendor's error table
//! (matched by the message the gateway sent, e.g. status 1 `sid is not exists` → the URL is for
//! the other environment); the library's own kinds take remedies written here, and those for
//! `transport` and `timeout` depend on `delivery`, because "resend" is right for one and wrong
//! for the other. English meanings: docs/hints.md (a test keeps it in step with this file).

use std::borrow::Cow;

use crate::error::{Delivery, Error};

/// One row of the gateway's error table: the status, fragments of the message that identify the
/// row (any one matches; empty = the status's general remedy), and the remedy in 中文 / English.
pub struct Row {
    pub status: i64,
    pub fragments: &'static [&'static str],
    pub hint: &'static str,
    // Read only by the test that keeps docs/hints.md current: English lives in the docs.
    #[cfg_attr(not(test), allow(dead_code))]
    pub english: &'static str,
}

const fn row(
    status: i64,
    fragments: &'static [&'static str],
    hint: &'static str,
    english: &'static str,
) -> Row {
    Row {
        status,
        fragments,
        hint,
        english,
    }
}

/// The error table, message-specific rows first; the last row of each status (no fragments) is
/// that status's general remedy. Fragments are the stable parts of messages whose examples carry
/// placeholders (`xxx`, a method name, a date).
pub const ROWS: &[Row] = &[
    row(1, &["sid is not exists"], "sid 不存在：请求的网关地址与账号所在环境不一致。正式环境 url 为 http://wdt.wangdian.cn/openapi，测试账号请用测试环境地址；请核对 url/env 与 sid。", "sid does not exist: the gateway URL is for the other environment (production is http://wdt.wangdian.cn/openapi); check url/env against the sid."),
    row(1, &["sid is not found"], "找不到 sid：请核对 url、sid 是否对应同一环境；若都正确，请到开放平台（自主对接-开发工具-SDK下载）确认接口版本后重试。", "sid not found: check that url and sid belong to the same environment; if they do, check the API version on the open platform."),
    row(1, &["验证失败"], "签名验证失败：请检查 appkey 与 appsecret（secret:salt）是否正确、是否属于同一应用。", "sign check failed: check appkey and appsecret (secret:salt)."),
    row(1, &["app auth fail"], "应用认证失败：请检查 appkey，以及该应用允许访问的 sid / IP 是否设置正确。", "app auth failed: check the appkey and the sid/IP the app may access."),
    row(1, &["argument type mismatch"], "参数类型错误：请对照接口文档核对请求参数的字段类型。", "argument type mismatch: check the field types against the API page."),
    row(1, &["invalid argument count"], "参数个数错误：请检查接口入参的个数以及对应 JSON 格式是否正确。", "wrong argument count: check the number of arguments and their JSON."),
    row(1, &["参数个数错误"], "参数个数错误：请检查接口要求的必传参数是否都已传值，类型、长度符合接口文档。", "wrong argument count: pass every required argument with the documented type and length."),
    row(1, &["For input string"], "时间戳格式错误：timestamp 必须是秒级时间戳减去 1325347200（2012-01-01 00:00:00），并与服务器时间相差 120 秒以内。", "bad timestamp: it must be Unix seconds minus 1325347200, within 120 s of the server clock."),
    row(1, &["参数错误"], "参数错误：请检查传入参数的数量及数据类型。", "bad arguments: check their number and types."),
    row(1, &[], "请求被网关拒绝（参数或认证错误）：请按错误信息检查 url、sid、appkey、appsecret 和请求参数，原样重发不会成功。", "rejected for arguments or authentication: check url, sid, appkey, appsecret and the request; resending as is will not help."),
    row(2, &[], "参数不属于该接口：请检查传入的参数是否是接口文档中该节点下的参数（错误信息中是参数名）。", "a parameter the method does not know (the message names it): check it against the API page."),
    row(3, &[], "需要动态口令：该账号设置了动态口令，请在 ERP 中取消后再调用。", "a one-time password is required: turn it off for the account in the ERP."),
    row(4, &[], "网关数据库错误：请联系旺店通对接的研发人员；请求结果未知，先查询 ERP 再决定是否重发。", "gateway database error: contact Wangdiantong; the outcome is unknown, query the ERP before any resend."),
    row(5, &[], "网关数据库错误：请联系旺店通对接的研发人员；请求结果未知，先查询 ERP 再决定是否重发。", "gateway database error: contact Wangdiantong; the outcome is unknown, query the ERP before any resend."),
    row(6, &[], "IP 限制：该应用设置了 IP 白名单，请把本机的出口 IP 加入白名单。", "IP restriction: add this machine's public IP to the app's whitelist."),
    row(7, &[], "时间戳错误：本机时钟与网关相差超过 2 分钟。请校准系统时间（libwdt 会按网关时间自动纠正一次）。", "timestamp error: the local clock is more than 2 minutes off the gateway's; fix the system clock (libwdt corrects once on its own)."),
    row(8, &[], "版本错误：请求参数 v 必须是 1.0。", "version error: v must be 1.0."),
    row(99, &[], "网关其他错误：请联系旺店通对接的研发人员；请求结果未知，先查询 ERP 再决定是否重发。", "other gateway error: contact Wangdiantong; the outcome is unknown, query the ERP before any resend."),
    row(100, &["此方法仅支持分页查询"], "查询类接口只支持分页：请传 pager（page_size、page_no）后再调用。", "query methods are paged only: pass a pager (page_size, page_no)."),
    row(100, &["店铺编号不存在或已停用"], "店铺编号不存在或已停用：请在 ERP 设置-基本设置-店铺中核实 shop_no 存在且授权正常。", "shop number unknown or disabled: check shop_no in the ERP's shop settings."),
    row(100, &["未找到符合条件的订单"], "未找到符合条件的订单：请检查请求条件中的单号在旺店通中是否存在。", "no matching order: check the numbers in the request exist in the ERP."),
    row(100, &["店铺平台不是自有平台"], "店铺平台不是自有平台：该接口只支持自有平台店铺，请在 ERP 店铺设置中核实 shop_no 的平台类型。", "the shop is not a self-run platform shop: this method only supports those."),
    row(100, &["参数中必须包含起止时间"], "缺少起止时间：请同时传开始时间 start_time 和结束时间 end_time。", "start and end time are required."),
    row(100, &["查询时间不能大于30天"], "查询时间跨度过大：开始时间与结束时间最多相差 30 天，请缩小时间范围。", "time window too wide: at most 30 days between start and end."),
    row(100, &["查询时间不能大于60分钟"], "查询时间跨度过大：开始时间与结束时间最多相差 60 分钟，请缩小时间范围。", "time window too wide: at most 60 minutes between start and end."),
    row(100, &["单据不存在"], "单据不存在：请检查该单据在 ERP 中是否已取消或不存在。", "document not found: check whether it was cancelled or never existed."),
    row(100, &["调拨量不能大于可出库存量"], "库存不足：调拨量不能大于仓库可出库存量，请核对 ERP 中该单品的库存。", "not enough stock for the transfer: check the spec's stock."),
    row(100, &["包含非法字符或为空"], "昵称、收件人姓名、收件人地址或买家留言为空或含非法字符：请检查 buyer_nick、receiver_name、receiver_address、buyer_message。", "buyer nick, receiver name/address or message empty or with illegal characters."),
    row(100, &["与已删除的规格重复"], "商家编码与已删除的规格重复：该 spec_no 在 ERP 中状态为已删除，请核实后修改重试。", "spec_no equals a deleted spec: check it in the ERP."),
    row(100, &["但货品不存在或已删除"], "goods_no 与 spec_no 对应关系错误：该 spec_no 在 ERP 中已对应其他货品编号。", "goods_no and spec_no do not match the ERP's mapping."),
    row(100, &["仓库编号不可为空"], "仓库编号为空：请传 warehouse_no。", "warehouse_no is required."),
    row(100, &["The API used internal only"], "该接口只支持奇门自定义接口，标准接口暂不支持调用。", "this method is internal (Qimen custom API only)."),
    row(100, &["出库仓库为外部仓库"], "外部仓库信息不完整：请在旺店通客户端补全该外部仓库的收货人、电话、省市和地址。", "external warehouse details incomplete: complete them in the ERP client."),
    row(100, &["无仓库访问权限"], "接口账号没有该仓库的权限：appkey 即员工编号，请在 ERP 设置-安全设置-员工权限中给接口用户加上仓库、店铺权限。", "the API user (appkey) lacks warehouse permission: grant it under employee permissions."),
    row(100, &["新建订单权限不足"], "新建订单权限不足：请在 ERP 设置-安全设置-员工权限中搜索 appkey，检查 销售-新增订单-手工建单 权限。", "no permission to create orders: grant it to the API user."),
    row(100, &["权限不足"], "权限不足：请检查 sid、appkey、url 是否正确；都正确时请到开放平台（自助对接-应用管理-新增/变更）申请该接口权限。", "not permitted: check sid, appkey, url, then apply for this method on the open platform."),
    row(100, &["称重失败"], "称重失败：所扫货品不存在或不是包装物，请检查单据内的货品。", "weighing failed: the scanned goods do not exist or are not packaging."),
    row(100, &["采购单不是编辑中状态"], "采购单不是编辑中状态：请检查采购单状态。", "the purchase order is not in editing state."),
    row(100, &["此外部单已使用"], "外部单号已使用：该 outer_no 在旺店通中已有单据，请检查后更新重试。", "this outer_no is already used."),
    row(100, &["出库单对应的采购退换单状态错误"], "采购退货单状态错误：请检查对应采购退货单是否为已审核状态。", "the purchase return is not approved."),
    row(100, &["折扣应大于0"], "折扣必须大于 0：请检查 discount 字段。", "discount must be greater than 0."),
    row(100, &["采购退货单不存在"], "采购退货单不存在：请检查 return_no 是否正确。", "purchase return not found: check return_no."),
    row(100, &["的物流公司或业务类型错误"], "物流公司不存在或业务类型错误：请检查物流编号和业务类型。", "unknown logistics company or wrong business type."),
    row(100, &["您的查询条件太过宽"], "查询条件太宽：请增加查询条件，开始与结束时间跨度不要超过 30 天。", "query too wide: add conditions, keep the time window within 30 days."),
    row(100, &["货品列表中货品不存在或者货品重复"], "货品不存在或重复：请检查单据中的单品是否存在、是否重复。", "goods missing or repeated in the list."),
    row(100, &["重复!"], "货品重复：同一单据内有两行商家编码（spec_no）相同的明细，请合并后重试。", "the same spec_no on two lines of one document."),
    row(100, &["外部单号超长"], "外部单号超长：请检查外部单号是否超过接口文档规定的最大长度。", "outer number too long."),
    row(100, &["调拨单不存在或调拨单状态错误"], "调拨单不存在或状态错误：请检查调拨单是否存在且已审核。", "transfer order missing or not approved."),
    row(100, &["存在不是该供应商提供的货品"], "存在不是该供应商提供的货品：请在 ERP 采购-供应商货品中维护，或在采购设置中取消“采购退货开单，添加货品时校验供应商”。", "goods not supplied by this supplier: maintain supplier goods or relax the check."),
    row(100, &["状态应该是由逗号分隔开的整数数组"], "status 格式错误：应为英文逗号分隔的整数。", "status must be integers separated by commas."),
    row(100, &["批次、有效期必传"], "批次、有效期必传：ERP 开启了“非销售出入库单批次、效期必传”，请传批次和有效期或在仓库设置中关闭。", "batch and expiry are required by the ERP's warehouse settings."),
    row(100, &["电话号码不能包含"], "电话号码不能包含 *：请检查电话号码。", "phone numbers must not contain *."),
    row(100, &["不存在或已停用"], "批次或标记等资料不存在或已停用：请先在 ERP 中维护好（如 仓储-批次有效期管理-批次管理）再调用。", "batch (or similar record) missing or disabled: create it in the ERP first."),
    row(100, &["最少包含一个规格"], "至少需要一个规格：请检查 specInfoList 下的必传字段 spec_no 是否传值。", "at least one spec is required (spec_no in specInfoList)."),
    row(100, &["数量不合法"], "数量不合法：请检查数量格式；若需支持小数，请联系实施人员开通小数配置。", "invalid quantity: check its format; decimals need an ERP setting."),
    row(100, &["采购员姓名为空"], "采购员为空：请传采购员。", "purchaser is required."),
    row(100, &["没有采购员的职务"], "所选员工没有采购员职务：请在 ERP 设置-基本设置-员工中为其添加采购员工种。", "the employee is not a purchaser."),
    row(100, &["不存在或已删除"], "员工或货品不存在或已删除：请在 ERP 基本设置中核实。", "employee (or record) missing or deleted: check in the ERP."),
    row(100, &["请选择采购员"], "请选择采购员：接口账户不能作为采购员，请传有采购员工种的员工。", "choose a purchaser: the API account cannot be one."),
    row(100, &["未找到对应的单据信息"], "未找到对应的单据：请核对原始单号等在旺店通中是否存在、是否符合退换条件。", "no matching document: check the original order exists and may be returned."),
    row(100, &["超过每分钟最大调用频率限制"], "调用频率超限：网关拒绝了本次请求（未处理），请静置 5-10 分钟后重试。", "rate limit: the request was rejected (not processed); wait 5-10 minutes and retry."),
    row(100, &["超过每分钟最大并发次数限制"], "并发超限：网关拒绝了本次请求（未处理），请减少并发，静置 5-10 分钟后重试。", "concurrency limit: the request was rejected; reduce concurrency and retry later."),
    row(100, &["收货仓库列表为空或无权限"], "收货仓库为空或无权限：请检查 receive_warehouse_nos，以及 appkey 是否有该仓库权限。", "receiving warehouses empty or not permitted."),
    row(100, &["预计入库仓为空或无权限"], "预计入库仓为空或无权限：请检查 expect_warehouse_no，以及 appkey 是否有该仓库权限。", "expected warehouse empty or not permitted."),
    row(100, &["Unparseable date"], "日期无法解析：请使用 yyyy-MM-dd HH:mm:ss 格式，例如 2023-02-06 17:59:19。", "unparseable date: use yyyy-MM-dd HH:mm:ss."),
    row(100, &["货品列表中有相同商家编码的货品"], "货品列表中有相同商家编码：如需同一单品不同批次/效期，请在 ERP 仓库设置中允许添加相同货品。", "the same spec_no appears twice in the list."),
    row(100, &["货品列表中有相同商家编码、货位、批次、有效期的货品"], "明细中有商家编码、货位、批次、有效期都相同的行：请合并或修改后重试。", "two lines with the same spec, position, batch and expiry."),
    row(100, &["must be less than or equal to"], "字段取值超出范围：请按错误信息中的上限传值（例如 pay_method 不大于 7）。", "a value above its maximum (e.g. pay_method ≤ 7)."),
    row(100, &["must not be null", "不能为空"], "必填字段为空：请给错误信息中的字段传值。", "a required field is empty (the message names it)."),
    row(100, &["下单时间非法"], "下单时间非法：trade_time 晚于网关时间（东八区）；请检查本机时钟和时区。", "trade_time is in the future: check the local clock and time zone (UTC+8)."),
    row(100, &["条码不能重复"], "条码重复：单品或组合装的条码不能与副条码重复，请在 ERP 货品条码中删除重复的条码后重推。", "duplicate barcode."),
    row(100, &["商家编码和货品编号不匹配"], "商家编码与货品编号不匹配：请改成与 ERP 一致后重推。", "spec_no and goods_no do not match the ERP."),
    row(100, &["不属于当前供应商的货品"], "不属于当前供应商的货品：ERP 开启了采购权限管理，请在供应商货品中维护。", "goods not of this supplier (purchase permission management is on)."),
    row(100, &["不存在的"], "原因等基础资料不存在：请在 ERP 设置-基本设置-原因列表中先维护。", "the reason (or similar) is not defined in the ERP."),
    row(100, &["Data too long for column"], "字段超长：请按接口文档的长度限制检查字段。", "a field is too long for the API page's limit."),
    row(100, &["是委外仓库"], "委外仓只能单独作为入库仓：receive_warehouse_nos 中包含委外仓时只能传一个仓库。", "an outsourced warehouse must be the only receiving warehouse."),
    row(100, &["传入店铺编号全部错误"], "店铺编号全部错误：请在 ERP 店铺设置中核对编号，并检查 appkey 的店铺权限。", "every shop number is wrong or not permitted."),
    row(100, &[], "应用错误：请按错误信息核对传入参数，或联系旺店通对接的研发人员；网关已拒绝，原样重发不会成功。", "application error: check the request against the message, or contact Wangdiantong; resending as is will not help."),
];

/// For a status the table does not list.
pub const UNKNOWN_STATUS: &str =
    "网关返回了错误表中没有的状态：请按错误信息处理，或联系旺店通对接的研发人员。";

/// The remedy for a gateway answer `status`/`message`.
pub fn for_status(status: i64, message: &str) -> &'static str {
    let mut general = None;
    for r in ROWS.iter().filter(|r| r.status == status) {
        if r.fragments.is_empty() {
            general = Some(r.hint);
        } else if r.fragments.iter().any(|f| message.contains(f)) {
            return r.hint;
        }
    }
    general.unwrap_or(UNKNOWN_STATUS)
}

/// The library's own kinds: `(kind, delivery or "", 中文, English)`.
pub const KINDS: &[(&str, &str, &str, &str)] = &[
    ("invalid_argument", "", "请求不符合接口文档：请按 field 指出的位置修改请求。请求没有发出，修改后可以放心再发。", "the request breaks the API page's rules: fix the value at `field`. Nothing was sent."),
    ("config", "", "配置有误：请按 field 指出的配置项检查 sid、appkey、appsecret（格式 secret:salt）、url 或 env。", "bad config: check the key named by `field` (sid, appkey, appsecret as secret:salt, url or env)."),
    ("transport", "not_sent", "网络不通，请求没有发出：请检查网线/Wi-Fi、代理和网关地址，之后可以直接重试。", "network failure before anything was sent: check the network, proxy and URL, then retry."),
    ("transport", "unknown", "网络在请求发出后中断，ERP 可能已经处理：不要直接重发快速退货，先查询（如 wms.stockin.Refund.queryWithDetail）确认是否已建单。", "the connection broke after the request left: the ERP may have acted; query before any resend."),
    ("timeout", "not_sent", "连接网关超时，请求没有发出：请检查网络后重试，或加大 connect_timeout_ms。", "timed out before anything was sent: check the network and retry, or raise connect_timeout_ms."),
    ("timeout", "unknown", "等待网关应答超时，ERP 可能已经处理：不要直接重发快速退货，先查询确认是否已建单；必要时加大 timeout_ms。", "no answer in time after sending: the ERP may have acted; query before any resend, or raise timeout_ms."),
    ("http", "", "网关或中间的代理返回了 HTTP 错误页：请求可能已被处理，先查询 ERP 再决定是否重发；请检查代理、防火墙和 url。", "an HTTP error page from the gateway or a proxy: the request may have been processed; query first, check proxy and URL."),
    ("bad_response", "", "收到的不是网关的 JSON（常见于需要登录的 Wi-Fi 或代理页面）：请检查网络；请求可能已被处理，先查询 ERP 再重发。", "the answer is not the gateway's JSON (a captive portal or proxy page): check the network; query before any resend."),
    ("storage", "not_sent", "退货发件箱的存储（本机文件或数据库）无法写入（磁盘已满、只读、文件损坏或数据库连不上）。本次退货没有保存、也没有发送；已保存的退货不会丢失：请腾出磁盘空间、检查权限或数据库后重试，仍失败请联系技术支持。", "the outbox's store (its file or database) cannot be written (full disk, read-only, damaged, database unreachable): this return was neither stored nor sent, stored ones are kept; free space, fix permissions or the database, and retry."),
    ("storage", "unknown", "退货可能已送达 ERP，但结果没能写入发件箱（本机文件或数据库：磁盘已满、文件被占用或数据库连接断开）。请不要重新录入这笔退货：存储恢复后，发件箱会先向 ERP 核实再决定是否重发；可用 entry_id 查询它的状态。", "the return may be at the ERP but its outcome could not be written to the outbox's store (its file or database): do not ring it up again; once the store works again the outbox asks the ERP before any resend (look it up by entry_id)."),
    ("internal", "", "libwdt 内部错误（程序缺陷）：请把完整的错误信息发给开发者；请求是否发出未知，先查询 ERP 再重发。", "a bug in libwdt: report the whole error; whether the request was sent is unknown, query before any resend."),
];

/// The rules behind `invalid_argument` and `config` messages: a fragment of the English
/// `message` (which bindings and tests match on, so it stays as it is), the rule in 中文 and in
/// English. `{0}`, `{1}` take the numbers the message gives after its field path, in order. The
/// first matching row wins, so longer fragments come before the shorter ones they contain.
pub const RULES: &[(&str, &str, &str)] = &[
    (
        "unknown key",
        "不是可用的键（拼写错误？）",
        "is not a known key (a typo?)",
    ),
    (
        "is required with",
        "必须与时间窗口的另一端同时给出",
        "needs the other end of its time window",
    ),
    (
        "are required",
        "必须同时给出（一个时间窗口的两端）",
        "are required together (both ends of a window)",
    ),
    (
        "is required (use [] for none)",
        "必填；没有参数时写 []",
        "is required; [] for none",
    ),
    (
        "is required: ",
        "必填：该接口只能分页查询，请传 pager（page_size，page_no 从 0 开始）",
        "is required: the method is paged only (page_size, page_no from 0)",
    ),
    ("is required", "必填，不能缺少", "is required"),
    ("must not be empty", "不能为空字符串", "must not be empty"),
    (
        "characters long, at most",
        "太长：现有 {0} 个字符，最多 {1} 个（按 UTF-16 计，emoji 算 2 个）",
        "is too long: {0} characters, at most {1} (UTF-16 units)",
    ),
    (
        "must be yyyy-MM-dd HH:mm:ss",
        "格式必须是 yyyy-MM-dd HH:mm:ss（北京时间 UTC+8），例如 2024-01-01 00:00:00",
        "must be yyyy-MM-dd HH:mm:ss (Beijing time, UTC+8)",
    ),
    (
        "calendar days, at most",
        "起止时间跨 {0} 个自然日，最多 {1} 个",
        "spans {0} calendar days, at most {1}",
    ),
    (
        "is before",
        "结束时间不能早于开始时间",
        "the end is before the start",
    ),
    (
        "must be a finite number greater than 0",
        "必须是大于 0 的数字",
        "must be a number greater than 0",
    ),
    (
        "must be a number",
        "必须是数字（JSON 数字，不是 \"1.0000\" 这样的字符串）",
        "must be a JSON number, not a string",
    ),
    ("must be a string", "必须是字符串", "must be a string"),
    (
        "must be an array",
        "必须是数组（JSON 列表 [...]）",
        "must be an array",
    ),
    (
        "must be an object",
        "必须是对象（JSON {...}）",
        "must be an object",
    ),
    (
        "must be a json object",
        "必须是 JSON 对象 {...}",
        "must be a JSON object",
    ),
    (
        "must be true or false",
        "必须是 true 或 false",
        "must be true or false",
    ),
    (
        "must be true, false, 1 or 0",
        "必须是 true、false、1 或 0",
        "must be true, false, 1 or 0",
    ),
    (
        "must be an integer from",
        "必须是 {0} 到 {1} 之间的整数",
        "must be an integer from {0} to {1}",
    ),
    (
        "must be a whole number of at least",
        "必须是不小于 {0} 的整数",
        "must be a whole number of at least {0}",
    ),
    (
        "must not exceed timeout_ms",
        "不能大于 timeout_ms",
        "must not exceed timeout_ms",
    ),
    (
        "takes [params]",
        "参数列表必须是 [params]：一个数组，里面只有一个对象",
        "the arguments must be [params], one object",
    ),
    (
        "takes [refundInfo, detailMapList, createPreStockin]",
        "参数必须是 [refundInfo, detailMapList, createPreStockin] 三项",
        "the arguments must be [refundInfo, detailMapList, createPreStockin]",
    ),
    (
        "must not contain spaces",
        "不能含空格",
        "must not contain spaces",
    ),
    (
        "either url or env",
        "url 与 env 只能给一个",
        "give url or env, not both",
    ),
    (
        "must be \"secret:salt\"",
        "格式必须是 secret:salt，冒号两边都不能为空",
        "must be secret:salt, both parts non-empty",
    ),
    (
        "must start with http:// or https://",
        "必须以 http:// 或 https:// 开头",
        "must start with http:// or https://",
    ),
    (
        "must start with http:// or socks5://",
        "必须以 http:// 或 socks5:// 开头",
        "must start with http:// or socks5://",
    ),
    (
        "without query, fragment or spaces",
        "只能是网关地址，不能带 ?、# 或空格",
        "must be the bare gateway address",
    ),
    (
        "env must be",
        "只能是 \"prod\" 或 \"test\"",
        "must be \"prod\" or \"test\"",
    ),
    ("invalid json", "不是合法的 JSON", "is not valid JSON"),
    ("is NULL", "不能是 NULL", "must not be NULL"),
];

/// Keys that exist for the library's own tests: never suggested to a user.
const INTERNAL_KEYS: &[&str] = &["test_hooks"];

/// The outbox's option keys (its tests check them against the outbox's own list): a config
/// error about one of them is about `wdt_outbox_open`'s options, not the client's account.
pub(crate) const OUTBOX_OPTIONS: &[&str] = &[
    "path",
    "store",
    "store_password",
    "store_password_env",
    "marker",
    "settle_ms",
    "lease_ms",
    "worker_interval_ms",
];

const OUTBOX_CONFIG: (&str, &str) = (
    "发件箱选项有误：请按 field 指出的选项检查 wdt_outbox_open 的 options_json（path 须是本机可写的文件路径，store 须是 mysql:// 或 postgres:// 数据库地址，二者选一；lease_ms 必须大于客户端的 timeout_ms）。没有保存、也没有发送任何退货。",
    "a bad outbox option: check the key named by `field` in wdt_outbox_open's options_json (path a writable local file, or store a mysql:// or postgres:// database URL, not both; lease_ms longer than the client's timeout_ms). Nothing was stored or sent.",
);

/// What the cashier does about an outbox entry in each state (`hint` of every entry that
/// `wdt_outbox_submit`, `_get` and `_list` return): `(state, 中文, English)`.
pub const OUTBOX_STATES: &[(&str, &str, &str)] = &[
    ("pending", "退货已保存在本机发件箱，还没送达 ERP（例如断网）。可以继续收银；网络恢复后发件箱会自动发送，不要重新录入。", "saved in the outbox, not yet at the ERP (offline?): carry on; it is sent when the network is back; do not ring it up again."),
    ("in_doubt", "退货已发出但没有收到回答。发件箱会在 next_check_ms 之后自动向 ERP 核实，确认没有才重发：不要手工重新录入这笔退货。", "sent, but the answer was lost: after next_check_ms the outbox asks the ERP and resends only if it is not there; do not ring it up again."),
    ("delivered", "ERP 已收到这笔退货，无需任何操作。", "the ERP has it; nothing to do."),
    ("rejected", "ERP 拒绝了这笔退货（见 error），发件箱不会再发送：请店长按 error 修正后，用新的 id 重新提交。", "the ERP refused it (see error) and it is never resent: fix it as error says and submit it with a new id."),
    ("needs_attention", "发件箱无法判断 ERP 是否已有这笔退货，绝不会自动重发：请交给人工在 ERP 的“退换管理”中按原始单号核对；确实没有时用新的 id 重新提交。", "the outbox cannot tell whether the ERP has it and never resends it: a person checks the ERP by the original order number; only if it is not there, submit it with a new id."),
];

/// The hint of an outbox entry in `state`.
pub fn outbox_state(state: &str) -> &'static str {
    OUTBOX_STATES
        .iter()
        .find(|(s, _, _)| *s == state)
        .map_or(OUTBOX_STATES[0].1, |(_, hint, _)| *hint)
}

/// The hint of any error: every kind and every status has one. `invalid_argument` and `config`
/// name the field and the rule it broke, so a Chinese reader needs nothing of the English
/// message.
pub fn of(e: &Error) -> Cow<'static, str> {
    if let Error::Config { field: Some(f), .. } = e {
        if OUTBOX_OPTIONS.contains(&f.as_str()) {
            return Cow::Borrowed(OUTBOX_CONFIG.0);
        }
    }
    match e {
        Error::Api {
            status, message, ..
        } => return Cow::Borrowed(for_status(*status, message)),
        Error::InvalidArgument { field, message } => {
            if let Some(hint) = with_rule(
                "请求不符合接口文档",
                "字段",
                field.as_deref(),
                message,
                "请求没有发出，修改后可以放心再发。",
            ) {
                return Cow::Owned(hint);
            }
        }
        Error::Config { field, message } => {
            if let Some(hint) = with_rule(
                "配置有误",
                "配置项",
                field.as_deref(),
                message,
                "请修改配置文件或环境变量后重试。",
            ) {
                return Cow::Owned(hint);
            }
        }
        _ => {}
    }
    let kind = e.kind();
    let delivery = match e.delivery() {
        Delivery::NotSent => "not_sent",
        // Rejected is only for api; anything else that may have been sent is unknown.
        _ => "unknown",
    };
    KINDS
        .iter()
        .find(|(k, d, _, _)| *k == kind && (d.is_empty() || *d == delivery))
        .map(|(_, _, hint, _)| Cow::Borrowed(*hint))
        .unwrap_or(Cow::Borrowed(KINDS[KINDS.len() - 1].2))
}

/// `{head}：{what} {field} {rule}。{tail}` when a row of [`RULES`] matches the message; None
/// leaves the kind's general hint.
fn with_rule(
    head: &str,
    what: &str,
    field: Option<&str>,
    message: &str,
    tail: &str,
) -> Option<String> {
    let (rule, _) = rule_of(field, message)?;
    let mut hint = match field {
        Some(f) => format!("{head}：{what} {f} {rule}"),
        None => format!("{head}：{rule}"),
    };
    if message.contains("unknown key") {
        if let Some(near) = nearest_key(field.unwrap_or(""), message) {
            hint.push_str(&format!("，是不是 {near}？"));
        }
        let known = known_keys(message);
        if !known.is_empty() {
            hint.push_str(&format!("（可用的键：{}）", known.join("、")));
        }
    }
    hint.push('。');
    hint.push_str(tail);
    Some(hint)
}

/// The 中文 and English rule of a message, with its numbers filled in.
pub fn rule_of(field: Option<&str>, message: &str) -> Option<(String, String)> {
    let (_, cn, en) = RULES.iter().find(|(f, _, _)| message.contains(f))?;
    // The numbers after the field path: the path itself may hold indexes (detailMapList[0]).
    let rest = match field {
        Some(f) => message
            .find(f)
            .map_or(message, |at| &message[at + f.len()..]),
        None => message,
    };
    let numbers: Vec<&str> = rest
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .collect();
    let fill = |text: &str| -> Option<String> {
        let mut out = text.to_owned();
        for (i, slot) in ["{0}", "{1}"].iter().enumerate() {
            if out.contains(slot) {
                out = out.replace(slot, numbers.get(i)?);
            }
        }
        Some(out)
    };
    Some((fill(cn)?, fill(en)?))
}

/// The keys an `unknown key "x", expected a, b, c` message lists, internal ones left out.
fn known_keys(message: &str) -> Vec<&str> {
    message
        .split_once("expected ")
        .map(|(_, list)| {
            list.split(", ")
                .map(str::trim)
                .filter(|k| !k.is_empty() && !INTERNAL_KEYS.contains(k))
                .collect()
        })
        .unwrap_or_default()
}

/// The listed key nearest to a misspelt one (at most 2 edits, or a different case), if any.
pub fn nearest_key(key: &str, message: &str) -> Option<String> {
    let key = key.rsplit('.').next().unwrap_or(key).to_lowercase();
    known_keys(message)
        .into_iter()
        .map(|k| (edit_distance(&key, &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= 2.min(k.chars().count().saturating_sub(1)).max(1) || *d == 0)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.to_owned())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// docs/hints.md as it must read (a test compares it; `WDT_BLESS=1` rewrites it).
#[cfg(test)]
fn markdown() -> String {
    let mut out = String::from(
        "# 错误提示 hint / Error hints\n\n\
         每个错误信封的中文 `hint`（网关状态的取自旺店通错误码表），由 `src/hint.rs` 生成 / Every error envelope's \
         Chinese `hint` (for gateway statuses the vendor's remedy), generated from `src/hint.rs`.\n\n\
         ## 库自身的错误 / The library's kinds\n\n\
         | kind | delivery | hint | English |\n| --- | --- | --- | --- |\n",
    );
    for (kind, delivery, hint, english) in KINDS {
        let delivery = if delivery.is_empty() { "any" } else { delivery };
        out.push_str(&format!("| `{kind}` | {delivery} | {hint} | {english} |\n"));
    }
    out.push_str(&format!(
        "| `config` (outbox options: {}) | any | {} | {} |\n",
        OUTBOX_OPTIONS.join(", "),
        OUTBOX_CONFIG.0,
        OUTBOX_CONFIG.1
    ));
    out.push_str(
        "\n`invalid_argument`、`config` 的提示另加字段违反的规则（`{0}`、`{1}` 为 message 中的数字）与最接近的键 / \
         For these two kinds the hint adds the rule broken (`{0}`, `{1}`: the message's numbers) and the nearest key.\n\n\
         | message contains | 中文规则 | English rule |\n| --- | --- | --- |\n",
    );
    for (fragment, cn, en) in RULES {
        out.push_str(&format!("| `{fragment}` | {cn} | {en} |\n"));
    }
    out.push_str(
        "\n## 发件箱条目 / Outbox entries\n\n\
         条目的 `hint`，也是 `pending`、`in_doubt` 的 `error.hint` / An entry's `hint`, also its `error.hint` when \
         `pending` or `in_doubt`:\n\n\
         | state | hint | English |\n| --- | --- | --- |\n",
    );
    for (state, cn, en) in OUTBOX_STATES {
        out.push_str(&format!("| `{state}` | {cn} | {en} |\n"));
    }
    out.push_str(
        "\n## 网关状态 / Gateway statuses (kind `api`)\n\n\
         按 message 中的片段选行，无片段的行是通用提示 / Rows are chosen by a fragment of the message; a row \
         without one is the status's general remedy.\n\n\
         | status | message | hint | English |\n| --- | --- | --- | --- |\n",
    );
    // Statuses that share a remedy (4 and 5) are one row.
    let mut i = 0;
    while i < ROWS.len() {
        let r = &ROWS[i];
        let mut statuses = r.status.to_string();
        while i + 1 < ROWS.len()
            && ROWS[i + 1].hint == r.hint
            && ROWS[i + 1].fragments == r.fragments
        {
            i += 1;
            statuses.push_str(&format!(", {}", ROWS[i].status));
        }
        let fragments = r
            .fragments
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(" / ");
        out.push_str(&format!(
            "| {statuses} | {fragments} | {} | {} |\n",
            r.hint, r.english
        ));
        i += 1;
    }
    out.push_str(&format!(
        "| other | | {UNKNOWN_STATUS} | a status the table does not list: act on the message. |\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `(status, message)` of the vendor's error table (its 错误码 and 异常描述 columns,
    /// examples with placeholders as printed), with a fragment of the remedy it must get.
    const TABLE: &[(i64, &str, &str)] = &[
        (1, "参数错误", "数量及数据类型"),
        (1, "invalid argument count", "JSON 格式"),
        (1, "sid is not exists", "wdt.wangdian.cn"),
        (1, "参数个数错误", "必传参数"),
        (1, "sid is not found", "同一环境"),
        (1, "验证失败", "appsecret"),
        (1, "argument type mismatch", "字段类型"),
        (1, "For input string: \"1665947116495\"", "1325347200"),
        (1, "app auth fail", "IP"),
        (2, "shop_no", "参数名"),
        (3, "需要动态口令", "动态口令"),
        (4, "数据库错误", "研发人员"),
        (5, "数据库错误", "研发人员"),
        (6, "ip限制", "白名单"),
        (7, "时间戳错误", "时钟"),
        (8, "版本错误", "1.0"),
        (99, "其他错误", "研发人员"),
        (100, "应用错误", "核对传入参数"),
        (
            100,
            "此方法仅支持分页查询：wms.stockin.Refund.queryWithDetail",
            "pager",
        ),
        (100, "店铺编号不存在或已停用", "shop_no"),
        (100, "未找到符合条件的订单", "单号"),
        (100, "店铺平台不是自有平台", "自有平台"),
        (100, "参数中必须包含起止时间", "end_time"),
        (100, "您的查询时间过宽,查询时间不能大于30天", "30 天"),
        (100, "您的查询时间过宽,查询时间不能大于60分钟", "60 分钟"),
        (100, "单据不存在", "已取消"),
        (100, "商家编码）xxx,调拨量不能大于可出库存量", "可出库存量"),
        (
            100,
            "昵称/收件人姓名/收件人地址/买家留言包含非法字符或为空,原始单号为：xxxxxxx",
            "buyer_nick",
        ),
        (100, "商家编码（spec_no）:xxx与已删除的规格重复！", "已删除"),
        (
            100,
            "商家编码xxx已存在,但货品不存在或已删除,货品编号: xxx",
            "goods_no",
        ),
        (100, "仓库编号不可为空", "warehouse_no"),
        (
            100,
            "The API used internal only: wms.stockin.PreStockin.search",
            "奇门",
        ),
        (
            100,
            "出库仓库为外部仓库，请确保收货人、收货电话、省份、城市、地址填写完整",
            "外部仓库",
        ),
        (100, "无仓库访问权限", "员工权限"),
        (
            100,
            "商家编码(spec_no):xxx,调拨量不能大于可出库存量",
            "可出库存量",
        ),
        (100, "权限不足", "应用管理"),
        (100, "称重失败，所扫货品不存在或者不是包装物", "包装物"),
        (100, "采购单不是编辑中状态", "编辑中"),
        (100, "此外部单已使用!", "outer_no"),
        (100, "出库单对应的采购退换单状态错误!", "已审核"),
        (100, "折扣应大于0", "discount"),
        (100, "采购退货单不存在", "return_no"),
        (
            100,
            "不存在物流编码为 MR001 的物流公司或业务类型错误!",
            "物流编号",
        ),
        (100, "您的查询条件太过宽，请增加查询条件", "增加查询条件"),
        (100, "货品列表中货品不存在或者货品重复!", "重复"),
        (100, "外部单号超长", "最大长度"),
        (100, "调拨单不存在或调拨单状态错误", "调拨单"),
        (100, "存在不是该供应商提供的货品", "供应商货品"),
        (100, "状态应该是由逗号分隔开的整数数组", "逗号"),
        (100, "非销售出、入库单批次、有效期必传", "批次"),
        (100, "电话号码不能包含*", "电话号码"),
        (100, "货品 xxx 重复!", "重复"),
        (100, "批次 xxx 不存在或已停用", "批次"),
        (100, "最少包含一个规格！", "specInfoList"),
        (100, "新建订单权限不足！", "手工建单"),
        (100, "数量不合法", "小数"),
        (100, "采购员姓名为空！", "采购员"),
        (100, "所选采购员没有采购员的职务,不能进行采购操作!", "工种"),
        (100, "员工xxxxx 不存在或已删除!", "不存在或已删除"),
        (100, "请选择采购员！", "采购员"),
        (100, "未找到对应的单据信息!", "原始单号"),
        (100, "超过每分钟最大调用频率限制，请稍后重试", "频率"),
        (100, "超过每分钟最大并发次数限制，请稍后重试", "并发"),
        (100, "收货仓库列表为空或无权限", "receive_warehouse_nos"),
        (100, "预计入库仓为空或无权限", "expect_warehouse_no"),
        (100, "Unparseable date: 2023/02/06 17:59:19", "yyyy-MM-dd"),
        (100, "货品列表中有相同商家编码的货品！", "相同商家编码"),
        (
            100,
            "货品列表中有相同商家编码、货位、批次、有效期的货品",
            "货位",
        ),
        (
            100,
            "pay_methodmust be less than or equal to 7",
            "pay_method",
        ),
        (100, "字段名must not be null", "必填"),
        (100, "xxx不能为空", "必填"),
        (100, "下单时间非法,原始单号为：XXXXXX", "trade_time"),
        (100, "单品或者组合装的条码不能重复", "条码"),
        (100, "商家编码和货品编号不匹配", "不匹配"),
        (100, "不属于当前供应商的货品", "采购权限"),
        (100, "标记xxx  不存在/已停用/类型错误", "核对传入参数"),
        (100, "不存在的XXX原因:xxx", "原因列表"),
        (100, "Data truncation: Data too long for column xxx", "长度"),
        (
            100,
            "仓库 xxx  是委外仓库,包含委外仓时只能选一个入库仓库",
            "委外仓",
        ),
        (100, "传入店铺编号全部错误", "店铺权限"),
    ];

    #[test]
    fn every_kind_and_every_status_has_a_hint() {
        for (status, message, expect) in TABLE {
            let hint = for_status(*status, message);
            assert!(
                hint.contains(expect),
                "status {status} {message:?}: hint {hint:?} lacks {expect:?}"
            );
            let e = Error::Api {
                status: *status,
                message: (*message).into(),
                delivery: crate::error::Delivery::Rejected,
                retryable: false,
            };
            assert_eq!(of(&e), hint);
        }
        // Every status of the table has a general remedy for messages the table never showed.
        for status in [1, 2, 3, 4, 5, 6, 7, 8, 99, 100] {
            let hint = for_status(status, "a message nobody has seen");
            assert_ne!(hint, UNKNOWN_STATUS, "status {status}");
        }
        assert_eq!(for_status(42, "?"), UNKNOWN_STATUS);

        use crate::error::Delivery::{NotSent, Unknown};
        let errors = [
            Error::invalid_at("a", "a"),
            Error::config_at("sid", "sid"),
            Error::Transport {
                delivery: NotSent,
                message: "transport: refused".into(),
            },
            Error::Transport {
                delivery: Unknown,
                message: "transport: reset".into(),
            },
            Error::Timeout {
                delivery: NotSent,
                message: "timeout: connect".into(),
            },
            Error::Timeout {
                delivery: Unknown,
                message: "timeout: read".into(),
            },
            Error::Http {
                http_status: 502,
                status: None,
                message: "http: 502".into(),
            },
            Error::BadResponse {
                message: "bad response".into(),
            },
            Error::Storage {
                delivery: NotSent,
                entry_id: None,
                message: "disk full".into(),
            },
            Error::Storage {
                delivery: Unknown,
                entry_id: Some("E-1".into()),
                message: "disk full".into(),
            },
            Error::Internal {
                message: "internal".into(),
            },
        ];
        let mut kinds_seen = Vec::new();
        for e in &errors {
            let hint = of(e);
            assert!(!hint.is_empty());
            let expected = KINDS
                .iter()
                .find(|(k, d, _, _)| {
                    *k == e.kind() && (d.is_empty() || *d == e.delivery().as_str())
                })
                .unwrap_or_else(|| panic!("no row for {e:?}"));
            assert_eq!(hint, expected.2, "{e:?}");
            kinds_seen.push(e.kind());
        }
        // The 8 kinds of docs/abi.md, api included above through the statuses.
        for kind in [
            "invalid_argument",
            "config",
            "transport",
            "timeout",
            "http",
            "bad_response",
            "storage",
            "internal",
        ] {
            assert!(kinds_seen.contains(&kind), "{kind}");
        }
        // An outbox option is not the account: its own hint, which names no account key.
        let option = of(&Error::config_at("lease_ms", "x"));
        assert_eq!(option, OUTBOX_CONFIG.0);
        assert_ne!(option, of(&Error::config_at("sid", "x")));
        // A not_sent and an unknown transport failure must not get the same advice.
        assert_ne!(of(&errors[2]), of(&errors[3]));
        assert_ne!(of(&errors[4]), of(&errors[5]));
    }

    #[test]
    fn invalid_argument_and_config_hints_name_the_field_and_the_rule() {
        let hint = of(&Error::invalid_at(
            "refundInfo.tid",
            "refundInfo.tid must not be empty",
        ));
        assert_eq!(
            hint,
            "请求不符合接口文档：字段 refundInfo.tid 不能为空字符串。请求没有发出，修改后可以放心再发。"
        );
        let hint = of(&Error::invalid_at(
            "detailMapList[0].remark",
            "detailMapList[0].remark is 300 characters long, at most 255 (UTF-16 units)",
        ));
        assert!(
            hint.contains("detailMapList[0].remark")
                && hint.contains("现有 300 个字符，最多 255 个"),
            "{hint}"
        );
        let hint = of(&Error::invalid_at(
            "detailMapList[0].stockin_num",
            "detailMapList[0].stockin_num must be a number, not string",
        ));
        assert!(hint.contains("stockin_num 必须是数字"), "{hint}");
        let hint = of(&Error::invalid_at(
            "args[0].end_time",
            "args[0].start_time to args[0].end_time spans 45 calendar days, at most 30",
        ));
        assert!(hint.contains("跨 45 个自然日，最多 30 个"), "{hint}");
        // A misspelt key: the nearest known key, and never an internal one in the list.
        let hint = of(&Error::config_at(
            "sdi",
            format_args!(
                "unknown key \"sdi\", expected {}",
                crate::config::KEYS.join(", ")
            ),
        ));
        assert!(
            hint.starts_with("配置有误：配置项 sdi 不是可用的键"),
            "{hint}"
        );
        assert!(hint.contains("是不是 sid？"), "{hint}");
        assert!(!hint.contains("test_hooks"), "{hint}");
        let hint = of(&Error::config_at(
            "timeout",
            format_args!(
                "unknown key \"timeout\", expected {}",
                crate::config::KEYS.join(", ")
            ),
        ));
        assert!(!hint.contains("是不是"), "nothing is near enough: {hint}");
        let hint = of(&Error::config_at(
            "appsecret",
            "appsecret must be \"secret:salt\" with both parts non-empty",
        ));
        assert!(hint.contains("appsecret 格式必须是 secret:salt"), "{hint}");
        // Every rule's placeholders are filled when the message gives the numbers.
        for (fragment, cn, en) in RULES {
            let message = format!("x {fragment} 1 2 3");
            let (c, e) = rule_of(Some("x"), &message).unwrap();
            assert!(
                !c.contains("{0}") && !c.contains("{1}"),
                "{fragment}: {c} ({cn})"
            );
            assert!(
                !e.contains("{0}") && !e.contains("{1}"),
                "{fragment}: {e} ({en})"
            );
        }
        assert_eq!(
            nearest_key("appkye", "unknown key, expected sid, appkey, appsecret").as_deref(),
            Some("appkey")
        );
        assert_eq!(
            nearest_key("URL", "unknown key, expected sid, url").as_deref(),
            Some("url")
        );
    }

    #[test]
    fn docs_hints_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/hints.md");
        let want = markdown();
        if std::env::var_os("WDT_BLESS").is_some() {
            std::fs::write(path, &want).expect("write docs/hints.md");
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/hints.md is stale: run WDT_BLESS=1 cargo test -p libwdt --lib hint"
        );
    }
}
