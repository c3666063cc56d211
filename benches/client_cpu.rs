//! Micro-benchmarks of the client's own CPU per call, without the network: everything libwdt
//! does around the HTTP exchange of one quick return (快速退货).
//!
//! - `sign`: the MD5 sign over the six query parameters and the body (docs/protocol.md "Sign").
//! - `request`: validating and serialising a quick return: `request/scan`, the one-pass reader a
//!   call takes first, and the Value-tree path it falls back to, `request::parse_object` +
//!   `request::smart_refund` (and each half on its own).
//! - `response`: reading the gateway's answer into an envelope, `answer::interpret` +
//!   `envelope::render` (and each half on its own).
//! - `config`: parsing the client config, `Config::from_json`; `client_new` adds building the
//!   client (its HTTP agent), which is what `wdt_client_new` costs.
//! - `per_call`: request + sign + response in one loop, the library's CPU per call minus HTTP.
//!
//! Run: `cargo bench --bench client_cpu` (see BENCHMARKS.md). The loopback benchmark of the
//! whole call, HTTP included, is `bash bench/run.sh`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use wdt::internals::answer::interpret;
use wdt::internals::envelope;
use wdt::internals::request;
use wdt::internals::sign::sign;
use wdt::internals::transport::Answer;
use wdt::{Client, Config};

const CONFIG: &str = r#"{"sid":"wdtapi3","appkey":"wdt_test","appsecret":"testsecret:testsalt","url":"http://127.0.0.1:8080/openapi","connect_timeout_ms":5000,"timeout_ms":30000}"#;

/// The quick return of docs/abi.md, as a POS program passes it to `wdt_smart_refund_upload`.
const REQUEST: &str = r#"{"refundInfo":{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"pos refundInfo remark"},"detailMapList":[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],"createPreStockin":false}"#;

/// The POST body the library makes of it (docs/protocol.md test vector 1).
const BODY: &str = r#"[{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"pos refundInfo remark"},[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],false]"#;

/// The gateway's answer to a successful quick return.
const ANSWER: &str = r#"{"status":0,"data":{"stockin_id":1,"type":12}}"#;

const PARAMS: [(&str, &str); 6] = [
    ("sid", "wdtapi3"),
    ("key", "wdt_test"),
    ("salt", "testsalt"),
    ("method", "wms.stockin.SmartRefund.upload"),
    ("v", "1.0"),
    ("timestamp", "465000000"),
];

fn answer() -> Answer {
    Answer {
        http_status: 200,
        date: Some("Sat, 28 Nov 2026 12:00:00 GMT".to_owned()),
        body: ANSWER.as_bytes().to_vec(),
        note: None,
    }
}

/// Checks once, outside the timed loops, that the benchmarks measure the real work.
fn sanity() {
    let prepared = request::smart_refund(&request::parse_object(REQUEST).unwrap()).unwrap();
    assert_eq!(prepared.body, BODY);
    assert_eq!(request::scan::smart_refund(REQUEST), Some(prepared));
    assert_eq!(
        sign("testsecret", &PARAMS, BODY),
        "66e23dffba592086b832d14a1cad689d"
    );
    let success = interpret(answer()).unwrap();
    assert_eq!(
        envelope::render(Ok(&success), 1),
        r#"{"ok":true,"status":0,"data":{"stockin_id":1,"type":12}}"#
    );
}

fn bench_sign(c: &mut Criterion) {
    sanity();
    c.bench_function("sign/quick_return", |b| {
        b.iter(|| sign(black_box("testsecret"), black_box(&PARAMS), black_box(BODY)))
    });
}

fn bench_request(c: &mut Criterion) {
    c.bench_function("request/scan", |b| {
        b.iter(|| request::scan::smart_refund(black_box(REQUEST)).unwrap())
    });
    c.bench_function("request/parse_object+smart_refund", |b| {
        b.iter(|| {
            let map = request::parse_object(black_box(REQUEST)).unwrap();
            request::smart_refund(&map).unwrap()
        })
    });
    c.bench_function("request/parse_object", |b| {
        b.iter(|| request::parse_object(black_box(REQUEST)).unwrap())
    });
    let map = request::parse_object(REQUEST).unwrap();
    c.bench_function("request/smart_refund", |b| {
        b.iter(|| request::smart_refund(black_box(&map)).unwrap())
    });
}

fn bench_response(c: &mut Criterion) {
    // `interpret` takes the answer by value (it moves `data` out), so each iteration gets a
    // fresh one; building it is a copy of the ~60-byte body.
    c.bench_function("response/interpret+render", |b| {
        b.iter(|| {
            let result = interpret(black_box(answer()));
            envelope::render(result.as_ref(), 1)
        })
    });
    c.bench_function("response/interpret", |b| {
        b.iter(|| interpret(black_box(answer())).unwrap())
    });
    let success = interpret(answer()).unwrap();
    c.bench_function("response/render", |b| {
        b.iter(|| envelope::render(Ok(black_box(&success)), 1))
    });
}

fn bench_config(c: &mut Criterion) {
    c.bench_function("config/from_json", |b| {
        b.iter(|| Config::from_json(black_box(CONFIG)).unwrap())
    });
    c.bench_function("client_new/from_json+Client::new", |b| {
        b.iter(|| Client::new(Config::from_json(black_box(CONFIG)).unwrap()))
    });
}

fn bench_per_call(c: &mut Criterion) {
    // The request the way dispatch reads it: the one-pass reader (this request takes it).
    c.bench_function("per_call/request+sign+response", |b| {
        b.iter(|| {
            let prepared = request::scan::smart_refund(black_box(REQUEST)).unwrap();
            let s = sign("testsecret", &PARAMS, &prepared.body);
            let result = interpret(black_box(answer()));
            (s, envelope::render(result.as_ref(), 1))
        })
    });
    // The same with the Value-tree reading every call took before the one-pass reader.
    c.bench_function("per_call/value_tree_request+sign+response", |b| {
        b.iter(|| {
            let map = request::parse_object(black_box(REQUEST)).unwrap();
            let prepared = request::smart_refund(&map).unwrap();
            let s = sign("testsecret", &PARAMS, &prepared.body);
            let result = interpret(black_box(answer()));
            (s, envelope::render(result.as_ref(), 1))
        })
    });
}

criterion_group! {
    name = benches;
    // Short runs: the whole file takes about half a minute. Criterion's command line
    // (--measurement-time, --sample-size, a name filter) still overrides these.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = bench_sign, bench_request, bench_response, bench_config, bench_per_call
}
criterion_main!(benches);
