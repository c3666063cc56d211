//! Property tests of request validation and envelopes, in the normal suite.
//!
//! Nothing here touches the network: the FFI properties use a client whose gateway is a closed
//! port on 127.0.0.1 and only ever pass it inputs that fail validation (checked first with the
//! pure functions), so the client never even connects. Cases default to proptest's 256 per
//! property; `PROPTEST_CASES=5000 cargo test --test proptest` searches harder.

use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::sync::OnceLock;

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value};
use wdt::ffi::{wdt_call, wdt_client_new, wdt_free_string, wdt_smart_refund_upload, WdtClient};
use wdt::internals::request::{self, generic, parse_object, smart_refund, Pager};
use wdt::Error;

// ---------------------------------------------------------------------------------------------
// The envelope contract (docs/abi.md)

const KINDS: &[&str] = &[
    "invalid_argument",
    "config",
    "transport",
    "timeout",
    "http",
    "bad_response",
    "api",
    "internal",
];

struct Handle(*mut WdtClient);
// The ABI promises a client may be shared between threads (the test harness runs in parallel).
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

/// One client for the whole binary, never freed: its gateway is 127.0.0.1:9, which nothing
/// here ever reaches because only invalid requests are passed to it.
fn client() -> *mut WdtClient {
    static CLIENT: OnceLock<Handle> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let config = CString::new(
                r#"{"sid":"prop","appkey":"prop","appsecret":"propsecret:propsalt","url":"http://127.0.0.1:9/openapi","connect_timeout_ms":100,"timeout_ms":500,"max_retries":0}"#,
            )
            .unwrap();
            let mut err: *mut c_char = ptr::null_mut();
            let c = unsafe { wdt_client_new(config.as_ptr(), &mut err) };
            assert!(!c.is_null(), "test config refused: {}", take(err));
            Handle(c)
        })
        .0
}

fn take(s: *mut c_char) -> String {
    assert!(!s.is_null(), "NULL envelope");
    let text = unsafe { CStr::from_ptr(s) }.to_str().unwrap().to_owned();
    unsafe { wdt_free_string(s) };
    text
}

#[derive(Clone, Copy, Debug)]
enum Entry {
    Upload,
    Call,
}

/// Sends `text` through the C entry point and returns the parsed envelope, after checking the
/// shape every envelope has.
fn via_ffi(entry: Entry, text: &str) -> Map<String, Value> {
    let c = CString::new(text).expect("generated requests have no NUL");
    let raw = unsafe {
        match entry {
            Entry::Upload => wdt_smart_refund_upload(client(), c.as_ptr()),
            Entry::Call => wdt_call(client(), c.as_ptr()),
        }
    };
    let env_text = take(raw);
    let env: Map<String, Value> = serde_json::from_str(&env_text)
        .unwrap_or_else(|e| panic!("envelope is not a JSON object ({e}): {env_text}"));
    assert!(env["ok"].is_boolean(), "{env_text}");
    if env["ok"] == Value::Bool(false) {
        let kind = env["error"]["kind"].as_str().unwrap_or("");
        assert!(KINDS.contains(&kind), "unknown kind {kind:?}: {env_text}");
        assert_ne!(kind, "internal", "a caught panic: {env_text}");
        assert!(env["error"]["message"].is_string(), "{env_text}");
        if kind == "invalid_argument" {
            assert_eq!(env["error"]["delivery"], "not_sent", "{env_text}");
        }
    }
    env
}

/// The pure decision for `text`, as the entry point makes it before any I/O.
fn decide(entry: Entry, text: &str) -> Result<request::Prepared, Error> {
    parse_object(text).and_then(|m| match entry {
        Entry::Upload => smart_refund(&m),
        Entry::Call => generic(&m),
    })
}

/// The one-pass reader of the quick return (request::scan) may only say yes when the Value path
/// accepts the same text with the same body.
fn scan_agrees(text: &str) -> Result<(), TestCaseError> {
    if let Some(fast) = request::scan::smart_refund(text) {
        match decide(Entry::Upload, text) {
            Ok(slow) => prop_assert_eq!(fast, slow, "{}", text),
            Err(e) => prop_assert!(
                false,
                "the one-pass reader accepted what {:?} refuses: {}",
                e,
                text
            ),
        }
    }
    Ok(())
}

/// An invalid request gives exactly the invalid_argument envelope of the pure decision; a valid
/// one is not sent (no network in this suite).
fn check_entry(entry: Entry, text: &str) -> Result<(), TestCaseError> {
    match decide(entry, text) {
        Ok(_) => Ok(()),
        Err(e) => {
            let env = via_ffi(entry, text);
            prop_assert_eq!(&env["ok"], &Value::Bool(false));
            prop_assert_eq!(&env["error"]["kind"], "invalid_argument");
            let want = match &e {
                Error::InvalidArgument { field, .. } => field.clone(),
                other => {
                    return Err(TestCaseError::fail(format!(
                        "not invalid_argument: {other:?}"
                    )))
                }
            };
            prop_assert_eq!(env["error"]["field"].as_str().map(str::to_owned), want);
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A JSON tree that remembers how it is written, so the expected wire text can be built without
// asking serde_json: key order as generated and numbers as written.

#[derive(Clone, Debug)]
enum J {
    Null,
    Bool(bool),
    /// The number's text, in the form serde_json's arbitrary_precision keeps verbatim.
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn obj(fields: Vec<(&str, Option<J>)>) -> J {
        J::Obj(
            fields
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
                .collect(),
        )
    }

    /// The compact form the library must put on the wire.
    fn compact(&self) -> String {
        match self {
            J::Null => "null".into(),
            J::Bool(b) => b.to_string(),
            J::Num(n) => n.clone(),
            // String escaping is serde_json's business; what is tested is that the text is
            // unescaped UTF-8 and that order and numbers survive.
            J::Str(s) => serde_json::to_string(s).unwrap(),
            J::Arr(items) => format!(
                "[{}]",
                items.iter().map(J::compact).collect::<Vec<_>>().join(",")
            ),
            J::Obj(fields) => format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v.compact()))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    /// The request as a POS might write it: spaces and newlines between tokens, and with
    /// `escape` every non-ASCII character as \uXXXX (surrogate pairs for emoji).
    fn loose(&self, ws: &str, escape: bool) -> String {
        let s = |t: &str| {
            if escape {
                let mut out = String::from("\"");
                for unit in t.encode_utf16() {
                    match unit {
                        0x22 => out.push_str("\\\""),
                        0x5c => out.push_str("\\\\"),
                        0x20..=0x7e => out.push(unit as u8 as char),
                        _ => out.push_str(&format!("\\u{unit:04x}")),
                    }
                }
                out.push('"');
                out
            } else {
                serde_json::to_string(t).unwrap()
            }
        };
        match self {
            J::Str(t) => s(t),
            J::Arr(items) => format!(
                "[{ws}{}{ws}]",
                items
                    .iter()
                    .map(|i| i.loose(ws, escape))
                    .collect::<Vec<_>>()
                    .join(&format!("{ws},{ws}"))
            ),
            J::Obj(fields) => format!(
                "{{{ws}{}{ws}}}",
                fields
                    .iter()
                    .map(|(k, v)| format!("{}{ws}:{ws}{}", s(k), v.loose(ws, escape)))
                    .collect::<Vec<_>>()
                    .join(&format!("{ws},{ws}"))
            ),
            other => other.compact(),
        }
    }

    fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies

/// Characters of one UTF-16 unit (ASCII, Latin, CJK) and of two (emoji and other astral).
fn one_unit_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('!', '~'),
        1 => proptest::char::range('À', 'ÿ'),
        3 => proptest::char::range('\u{4e00}', '\u{9fff}'),
    ]
}

fn two_unit_char() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::char::range('\u{1f600}', '\u{1f64f}'),
        proptest::char::range('\u{1f300}', '\u{1f5ff}'),
        proptest::char::range('\u{20000}', '\u{2a6df}'), // CJK extension B: astral, still 1 char
    ]
}

/// A string of exactly `units` UTF-16 units with no whitespace, mixing 1- and 2-unit chars.
fn string_of_units(units: usize) -> impl Strategy<Value = String> {
    vec((one_unit_char(), two_unit_char(), any::<bool>()), units).prop_map(move |picks| {
        let mut s = String::new();
        let mut n = 0;
        for (one, two, wide) in picks {
            if n == units {
                break;
            }
            if wide && n + 2 <= units {
                s.push(two);
                n += 2;
            } else {
                s.push(one);
                n += 1;
            }
        }
        s
    })
}

/// A value for a string field with at most `max` units, and whether the library must accept it.
/// `clean` gives only acceptable values (including the exact limit), so that a good share of
/// whole requests is valid; otherwise every kind of mistake is mixed in.
fn string_field(max: usize, empty_ok: bool, clean: bool) -> BoxedStrategy<(Option<J>, bool)> {
    let valid = (1..=max)
        .prop_flat_map(string_of_units)
        .prop_map(|s| (Some(J::Str(s)), true));
    let at_limit = string_of_units(max).prop_map(|s| (Some(J::Str(s)), true));
    if clean {
        return if empty_ok {
            prop_oneof![6 => valid, 2 => at_limit, 1 => Just((Some(J::Str(String::new())), true))]
                .boxed()
        } else {
            prop_oneof![6 => valid, 2 => at_limit].boxed()
        };
    }
    prop_oneof![
        6 => valid,
        // The boundary, where one emoji makes the difference.
        2 => prop_oneof![Just(max), Just(max + 1)]
            .prop_flat_map(string_of_units)
            .prop_map(move |s| {
                let ok = s.encode_utf16().count() <= max;
                (Some(J::Str(s)), ok)
            }),
        1 => (max + 1..max + 40).prop_flat_map(string_of_units).prop_map(|s| (Some(J::Str(s)), false)),
        1 => Just((Some(J::Str(String::new())), empty_ok)),
        1 => prop_oneof![Just(" "), Just("\t \n"), Just("\u{3000}")]
            .prop_map(move |w| (Some(J::Str(w.into())), empty_ok)),
        1 => wrong_type().prop_map(|v| (Some(v), false)),
        1 => Just((None, false)),
    ]
    .boxed()
}

/// Anything but a string (or a number or a boolean, for the fields that want those).
fn wrong_type() -> impl Strategy<Value = J> {
    prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        (-1000i64..1000).prop_map(|n| J::Num(n.to_string())),
        Just(J::Arr(vec![])),
        Just(J::Obj(vec![])),
    ]
}

/// Number texts that serde_json (arbitrary_precision) writes back exactly as they are written.
fn positive_number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u64..1_000_000).prop_map(|n| n.to_string()),
        (0u32..1000, 1u32..1000).prop_map(|(i, f)| format!("{i}.{f:03}")),
        (1u32..100).prop_map(|i| format!("{i}.50")),
        Just("0.001".to_owned()),
        Just("123456789012345678901234567890".to_owned()),
    ]
}

fn quantity_field(clean: bool) -> BoxedStrategy<(Option<J>, bool)> {
    let valid = positive_number_text().prop_map(|n| (Some(J::Num(n)), true));
    if clean {
        return valid.boxed();
    }
    prop_oneof![
        6 => valid,
        1 => prop_oneof![Just("0"), Just("-1"), Just("0.0"), Just("-0.5"), Just("1e400")]
            .prop_map(|n| (Some(J::Num(n.to_owned())), false)),
        1 => prop_oneof![
            Just(J::Str("1".into())),
            Just(J::Null),
            Just(J::Bool(true)),
            Just(J::Arr(vec![])),
        ]
        .prop_map(|v| (Some(v), false)),
        1 => Just((None, false)),
    ]
    .boxed()
}

/// Fields the API page knows but the library does not check: they must pass through.
fn extras() -> impl Strategy<Value = Vec<(String, J)>> {
    vec(
        (
            prop_oneof![
                Just("return_logistics_no"),
                Just("logistics_code"),
                Just("spec_id"),
                Just("defect"),
                Just("备注2"),
            ],
            prop_oneof![
                string_of_units(5).prop_map(J::Str),
                positive_number_text().prop_map(J::Num),
                any::<bool>().prop_map(J::Bool),
                Just(J::Null),
            ],
        ),
        0..3,
    )
    .prop_map(|v| {
        let mut seen = Vec::new();
        v.into_iter()
            .filter(|(k, _)| {
                let fresh = !seen.contains(k);
                seen.push(*k);
                fresh
            })
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    })
}

/// A quick return that is valid or close to it, with the set of JSON paths that break a rule
/// (empty: the library must accept it).
#[derive(Clone, Debug)]
struct Near {
    request: J,
    bad: Vec<String>,
    /// Whether refundInfo, detailMapList and createPreStockin are all present and nothing else
    /// is at the top, so the same arguments can go through wdt_call.
    positional: bool,
}

/// Puts the generated fields in a random order (the body must keep whatever order it gets).
fn shuffled(mut fields: Vec<(String, J)>, order: &[usize]) -> Vec<(String, J)> {
    let mut out = Vec::with_capacity(fields.len());
    for &i in order {
        if !fields.is_empty() {
            out.push(fields.remove(i % fields.len()));
        }
    }
    out.append(&mut fields);
    out
}

fn line(i: usize, clean: bool) -> impl Strategy<Value = (J, Vec<String>)> {
    let fields = (
        string_field(40, false, clean),
        quantity_field(clean),
        string_field(255, true, clean),
        extras(),
    );
    prop_oneof![
        9 => (fields, vec(0usize..8, 8)).prop_map(move |(((spec, specok), (num, numok), (remark, remarkok), extra), order)| {
            let p = format!("detailMapList[{i}]");
            let mut bad = vec![];
            if !specok { bad.push(format!("{p}.spec_no")); }
            if !numok { bad.push(format!("{p}.stockin_num")); }
            if !remarkok { bad.push(format!("{p}.remark")); }
            let mut all: Vec<(String, J)> = [("spec_no", spec), ("stockin_num", num), ("remark", remark)]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
                .collect();
            all.extend(extra);
            (J::Obj(shuffled(all, &order)), bad)
        }),
        u32::from(!clean) => wrong_type().prop_filter("not an object", |v| !matches!(v, J::Obj(_)))
            .prop_map(move |v| (v, vec![format!("detailMapList[{i}]")])),
    ]
}

/// A third of the requests are generated clean (valid), the rest with mistakes mixed in.
fn near_quick_return() -> impl Strategy<Value = Near> {
    prop_oneof![1 => near(true), 2 => near(false)]
}

fn near(clean: bool) -> impl Strategy<Value = Near> {
    // Weight 0 switches a kind of mistake off for clean requests.
    let bad = u32::from(!clean);
    let refund_info = prop_oneof![
        9 => (string_field(40, false, clean), string_field(40, false, clean), string_field(255, true, clean), extras(), vec(0usize..8, 8))
            .prop_map(|((tid, tidok), (wh, whok), (remark, remarkok), extra, order)| {
                let mut bad = vec![];
                if !tidok { bad.push("refundInfo.tid".to_owned()); }
                if !whok { bad.push("refundInfo.return_warehouse_no".to_owned()); }
                if !remarkok { bad.push("refundInfo.remark".to_owned()); }
                let mut all: Vec<(String, J)> = [("tid", tid), ("return_warehouse_no", wh), ("remark", remark)]
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
                    .collect();
                all.extend(extra);
                (Some(J::Obj(shuffled(all, &order))), bad)
            }),
        bad => wrong_type().prop_filter("not an object", |v| !matches!(v, J::Obj(_)))
            .prop_map(|v| (Some(v), vec!["refundInfo".to_owned()])),
        bad => Just((None, vec!["refundInfo".to_owned()])),
    ];
    let details = prop_oneof![
        9 => (1usize..4).prop_flat_map(move |n| (0..n).map(|i| line(i, clean)).collect::<Vec<_>>())
            .prop_map(|lines| {
                let bad = lines.iter().flat_map(|(_, b)| b.clone()).collect();
                (Some(J::Arr(lines.into_iter().map(|(l, _)| l).collect())), bad)
            }),
        bad => Just((Some(J::Arr(vec![])), vec!["detailMapList".to_owned()])),
        bad => prop_oneof![Just(J::Obj(vec![])), Just(J::Null), Just(J::Str("[]".into()))]
            .prop_map(|v| (Some(v), vec!["detailMapList".to_owned()])),
        bad => Just((None, vec!["detailMapList".to_owned()])),
    ];
    let create = prop_oneof![
        8 => any::<bool>().prop_map(|b| (Some(J::Bool(b)), true)),
        bad => prop_oneof![
            Just(J::Num("0".into())),
            Just(J::Str("false".into())),
            Just(J::Null),
        ]
        .prop_map(|v| (Some(v), false)),
        bad => Just((None, false)),
    ];
    // A misspelt top-level key, the classic POS bug.
    let typo = prop_oneof![
        9 => Just(None),
        bad => prop_oneof![Just("createPrestockin"), Just("refund_info"), Just("detailMapList ")]
            .prop_map(Some),
    ];
    (refund_info, details, create, typo, vec(0usize..8, 8)).prop_map(
        |((ri, ribad), (dl, dlbad), (cp, cpok), typo, order)| {
            let mut bad = ribad;
            bad.extend(dlbad);
            if !cpok {
                bad.push("createPreStockin".to_owned());
            }
            let positional = ri.is_some() && dl.is_some() && cp.is_some() && typo.is_none();
            let mut top: Vec<(String, J)> = [
                ("refundInfo", ri),
                ("detailMapList", dl),
                ("createPreStockin", cp),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect();
            if let Some(t) = typo {
                top.push((t.to_owned(), J::Bool(false)));
                bad.push(t.to_owned());
            }
            Near {
                request: J::Obj(shuffled(top, &order)),
                bad,
                positional,
            }
        },
    )
}

/// Arbitrary JSON, biased towards the shapes and keys of the two requests.
fn any_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        3 => prop_oneof![
            Just("refundInfo"), Just("detailMapList"), Just("createPreStockin"), Just("tid"),
            Just("return_warehouse_no"), Just("remark"), Just("spec_no"), Just("stockin_num"),
            Just("method"), Just("args"), Just("pager"), Just("page_size"), Just("page_no"),
            Just("calc_total"),
        ].prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just("1e400"),
            Just("-0"),
            Just("18446744073709551616"),
            Just("0.000")
        ]
        .prop_map(|t| serde_json::from_str(t).unwrap()),
        any::<String>().prop_map(Value::String),
        Just(Value::String("wms.stockin.SmartRefund.upload".into())),
        (0usize..60)
            .prop_flat_map(string_of_units)
            .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn pager_case() -> impl Strategy<Value = (Option<J>, Option<Option<Pager>>)> {
    // (the pager as written, Some(expected) when valid)
    let size = prop_oneof![
        4 => (1u64..1000).prop_map(|n| (Some(J::Num(n.to_string())), Some(n))),
        1 => prop_oneof![Just("0"), Just("-1"), Just("1.5"), Just("18446744073709551616")]
            .prop_map(|t| (Some(J::Num(t.to_owned())), None)),
        1 => Just((Some(J::Str("50".into())), None)),
        1 => Just((None, None)),
    ];
    let no = prop_oneof![
        4 => (0u64..1000).prop_map(|n| (Some(J::Num(n.to_string())), Some(n))),
        1 => prop_oneof![Just("-1"), Just("0.5")].prop_map(|t| (Some(J::Num(t.to_owned())), None)),
        1 => Just((None, None)),
    ];
    let calc = prop_oneof![
        Just((None, Some(false))),
        Just((Some(J::Bool(true)), Some(true))),
        Just((Some(J::Bool(false)), Some(false))),
        Just((Some(J::Num("1".into())), Some(true))),
        Just((Some(J::Num("0".into())), Some(false))),
        Just((Some(J::Num("2".into())), None)),
        Just((Some(J::Str("true".into())), None)),
    ];
    prop_oneof![
        1 => Just((None, Some(None))),
        1 => Just((Some(J::Null), Some(None))),
        1 => Just((Some(J::Arr(vec![])), None)),
        6 => (size, no, calc, any::<bool>()).prop_map(|((s, sv), (n, nv), (c, cv), extra)| {
            let mut fields = vec![("page_size", s), ("page_no", n), ("calc_total", c)];
            if extra {
                fields.push(("size", Some(J::Num("2".into()))));
            }
            let expected = match (sv, nv, cv, extra) {
                (Some(page_size), Some(page_no), Some(calc_total), false) => Some(Some(Pager { page_size, page_no, calc_total })),
                _ => None,
            };
            (Some(J::obj(fields)), expected)
        }),
    ]
}

// ---------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig::default())]

    /// Any JSON value at all, through both entry points: a well-formed envelope, never a crash.
    #[test]
    fn any_json_gives_a_well_formed_envelope(v in any_json()) {
        let text = v.to_string();
        scan_agrees(&text)?;
        check_entry(Entry::Upload, &text)?;
        check_entry(Entry::Call, &text)?;
    }

    /// Any text at all (mostly not JSON): refused with invalid_argument and no field.
    #[test]
    fn any_text_gives_a_well_formed_envelope(text in "[^\u{0}]{0,64}") {
        scan_agrees(&text)?;
        check_entry(Entry::Upload, &text)?;
        check_entry(Entry::Call, &text)?;
    }

    /// The quick return: accepted exactly when every rule holds; then the body is the three
    /// arguments, compact, in the caller's key order with numbers as written; otherwise the
    /// error names one of the broken fields, through the Rust API and the C one alike.
    #[test]
    fn quick_return_rules_and_body(near in near_quick_return(), ws in prop_oneof![Just(""), Just(" "), Just("\n  ")], escape in any::<bool>()) {
        let text = near.request.loose(ws, escape);
        scan_agrees(&text)?;
        let decided = decide(Entry::Upload, &text);
        if near.bad.is_empty() {
            let p = decided.map_err(|e| TestCaseError::fail(format!("refused a valid quick return: {e:?}\n{text}")))?;
            let part = |k: &str| near.request.get(k).expect("valid means present").compact();
            let body = format!("[{},{},{}]", part("refundInfo"), part("detailMapList"), part("createPreStockin"));
            prop_assert_eq!(&p.body, &body);
            prop_assert_eq!(p.method.as_str(), request::SMART_REFUND_UPLOAD);
            prop_assert!(p.pager.is_none());
        } else {
            match &decided {
                Err(Error::InvalidArgument { field: Some(f), .. }) => {
                    prop_assert!(near.bad.contains(f), "field {} is not among the broken {:?}\n{}", f, near.bad, text);
                }
                other => prop_assert!(false, "expected invalid_argument for {:?}, got {:?}\n{}", near.bad, other, text),
            }
            check_entry(Entry::Upload, &text)?;
        }

        // The same arguments through the generic call: the same rules, paths under args.
        if near.positional {
            let part = |k: &str| near.request.get(k).expect("positional").clone();
            let args = J::Arr(vec![part("refundInfo"), part("detailMapList"), part("createPreStockin")]);
            let call = J::Obj(vec![
                ("method".into(), J::Str(request::SMART_REFUND_UPLOAD.into())),
                ("args".into(), args.clone()),
            ]);
            let text = call.loose(ws, escape);
            match decide(Entry::Call, &text) {
                Ok(p) => {
                    prop_assert!(near.bad.is_empty(), "wdt_call accepted {:?}", near.bad);
                    prop_assert_eq!(&p.body, &args.compact());
                }
                Err(Error::InvalidArgument { field: Some(f), .. }) => {
                    let back = f.replacen("args[0]", "refundInfo", 1)
                        .replacen("args[1]", "detailMapList", 1)
                        .replacen("args[2]", "createPreStockin", 1);
                    prop_assert!(f.starts_with("args["), "{}", f);
                    prop_assert!(near.bad.contains(&back), "field {} is not among the broken {:?}", f, near.bad);
                    check_entry(Entry::Call, &text)?;
                }
                Err(e) => prop_assert!(false, "{:?}", e),
            }
        }
    }

    /// The generic call: method, args and pager rules; the body is args as written.
    #[test]
    fn generic_call_rules_and_body(
        method in prop_oneof![
            4 => "[a-z]{1,8}(\\.[A-Za-z]{1,8}){1,3}".prop_map(|m| (Some(J::Str(m)), true)),
            1 => prop_oneof![Just(""), Just("  "), Just("a b"), Just("a\tb"), Just("a\u{3000}b")].prop_map(|m| (Some(J::Str(m.into())), false)),
            1 => wrong_type().prop_filter("not a string", |v| !matches!(v, J::Str(_))).prop_map(|v| (Some(v), false)),
            1 => Just((None, false)),
        ],
        args in prop_oneof![
            4 => vec(prop_oneof![
                string_of_units(10).prop_map(J::Str),
                positive_number_text().prop_map(J::Num),
                Just(J::Obj(vec![("start_time".into(), J::Str("2024-01-01 00:00:00".into())), ("中文".into(), J::Num("1.50".into()))])),
            ], 0..4).prop_map(|a| (Some(J::Arr(a)), true)),
            1 => wrong_type().prop_filter("not an array", |v| !matches!(v, J::Arr(_))).prop_map(|v| (Some(v), false)),
            1 => Just((None, false)),
        ],
        (pager, pager_ok) in pager_case(),
        ws in prop_oneof![Just(""), Just(" ")],
        escape in any::<bool>(),
    ) {
        let ((m, mok), (a, aok)) = (method, args);
        let request = J::obj(vec![("method", m), ("args", a.clone()), ("pager", pager)]);
        let text = request.loose(ws, escape);
        match decide(Entry::Call, &text) {
            Ok(p) => {
                prop_assert!(mok && aok && pager_ok.is_some(), "accepted an invalid call: {}", text);
                prop_assert_eq!(&p.body, &a.expect("valid means present").compact());
                prop_assert_eq!(p.pager, pager_ok.flatten());
            }
            Err(Error::InvalidArgument { field: Some(f), .. }) => {
                prop_assert!(!(mok && aok && pager_ok.is_some()), "refused a valid call ({}): {}", f, text);
                prop_assert!(f == "method" || f == "args" || f.starts_with("pager"), "{}", f);
                check_entry(Entry::Call, &text)?;
            }
            Err(e) => prop_assert!(false, "{:?}", e),
        }
    }
}

/// The 40/41 boundary in UTF-16 units, spelled out: an emoji counts two, a CJK character one.
#[test]
fn utf16_boundary_of_tid() {
    let with_tid = |tid: &str| {
        let req = serde_json::json!({
            "refundInfo": {"tid": tid, "return_warehouse_no": "pos", "remark": ""},
            "detailMapList": [{"spec_no": "A", "stockin_num": 1, "remark": ""}],
            "createPreStockin": false
        });
        decide(Entry::Upload, &req.to_string())
    };
    let accepted = [
        "😀".repeat(20),                  // 40 units
        format!("{}😀", "x".repeat(38)),  // 40
        "中".repeat(40),                  // 40
        format!("{}😀", "中".repeat(38)), // 40
    ];
    let refused = [
        format!("{}x", "😀".repeat(20)), // 41
        format!("{}😀", "x".repeat(39)), // 41: 40 chars, 41 units
        "中".repeat(41),                 // 41
        "😀".repeat(21),                 // 42
    ];
    for tid in &accepted {
        assert!(
            with_tid(tid).is_ok(),
            "{tid} ({} units)",
            tid.encode_utf16().count()
        );
    }
    for tid in &refused {
        match with_tid(tid) {
            Err(Error::InvalidArgument { field, .. }) => {
                assert_eq!(field.as_deref(), Some("refundInfo.tid"), "{tid}")
            }
            other => panic!("{tid}: {other:?}"),
        }
        // And through the C entry point.
        let req = serde_json::json!({
            "refundInfo": {"tid": tid, "return_warehouse_no": "pos", "remark": ""},
            "detailMapList": [{"spec_no": "A", "stockin_num": 1, "remark": ""}],
            "createPreStockin": false
        });
        let env = via_ffi(Entry::Upload, &req.to_string());
        assert_eq!(env["error"]["field"], "refundInfo.tid");
        assert_eq!(env["error"]["delivery"], "not_sent");
    }
}

// ---------------------------------------------------------------------------------------------
// Every export's error envelope: the message starts with its kind's category exactly once
// ("config: …", never "config: config: …" or "invalid argument: config: …"), and `field` is
// absent or a non-empty string. Fed hostile text (NULL, invalid UTF-8, truncated and random
// JSON, known keys with wrong values, unknown keys) in every argument of every export that
// returns an envelope. The only gateway is 127.0.0.1:9 (a closed port), so a valid input that
// slips through fails to connect; mutated configs never carry a host name or an `env`, and no
// client made from one ever sends.

/// The category each kind's message starts with; `api` carries the gateway's own words.
const CATEGORIES: &[(&str, &str)] = &[
    ("invalid_argument", "invalid argument: "),
    ("config", "config: "),
    ("transport", "transport: "),
    ("timeout", "timeout: "),
    ("http", "http: "),
    ("bad_response", "bad response: "),
    ("storage", "storage: "),
    ("internal", "internal: "),
];

/// Checks the error envelope `text` (an `ok` envelope passes untouched).
fn check_error_envelope(export: &str, text: &str) -> Result<(), TestCaseError> {
    let env: Value = serde_json::from_str(text)
        .map_err(|e| TestCaseError::fail(format!("{export}: not JSON ({e}): {text}")))?;
    if env["ok"] == Value::Bool(true) {
        return Ok(());
    }
    prop_assert_eq!(&env["ok"], &Value::Bool(false), "{}: {}", export, text);
    let e = &env["error"];
    let kind = e["kind"].as_str().unwrap_or("");
    prop_assert!(kind != "internal", "{}: a caught panic: {}", export, text);
    let message = e["message"].as_str().unwrap_or("");
    prop_assert!(!message.is_empty(), "{}: no message: {}", export, text);
    if kind != "api" {
        let category = CATEGORIES
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, c)| *c)
            .ok_or_else(|| TestCaseError::fail(format!("{export}: unknown kind: {text}")))?;
        prop_assert!(
            message.starts_with(category),
            "{}: no category: {}",
            export,
            text
        );
        let rest = &message[category.len()..];
        prop_assert!(
            !CATEGORIES.iter().any(|(_, c)| rest.starts_with(c)),
            "{}: a second category: {}",
            export,
            text
        );
    }
    match e.get("field") {
        None => {}
        Some(Value::String(f)) if !f.is_empty() => {}
        Some(other) => prop_assert!(false, "{}: field {} in {}", export, other, text),
    }
    prop_assert!(
        ["not_sent", "rejected", "unknown"].contains(&e["delivery"].as_str().unwrap_or("")),
        "{}: delivery: {}",
        export,
        text
    );
    prop_assert!(
        e["hint"].as_str().is_some_and(|h| !h.is_empty()),
        "{}: hint: {}",
        export,
        text
    );
    Ok(())
}

/// An argument as a host may pass it.
#[derive(Clone, Debug)]
enum Hostile {
    Null,
    /// Bytes without NUL, mostly not UTF-8.
    Bytes(Vec<u8>),
    Text(String),
}

impl Hostile {
    /// The C string (None for NULL); the caller keeps it alive across the call.
    fn c(&self) -> Option<CString> {
        match self {
            Hostile::Null => None,
            Hostile::Bytes(b) => Some(CString::new(b.clone()).expect("no NUL generated")),
            Hostile::Text(t) => Some(CString::new(t.as_str()).expect("no NUL generated")),
        }
    }
}

fn ptr_of(c: &Option<CString>) -> *const c_char {
    c.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

/// Every key any export knows, so random objects reach past "unknown key".
const KNOWN_KEYS: &[&str] = &[
    "sid",
    "appkey",
    "appsecret",
    "timeout_ms",
    "connect_timeout_ms",
    "max_retries",
    "log",
    "method",
    "args",
    "pager",
    "page_size",
    "page_no",
    "calc_total",
    "refundInfo",
    "detailMapList",
    "createPreStockin",
    "tid",
    "spec_no",
    "stockin_num",
    "id",
    "request",
    "defer",
    "path",
    "marker",
    "settle_ms",
    "lease_ms",
    "state",
    "limit",
    "after",
    "max_entries",
    "budget_ms",
];

/// String values: no lower-case letters and no `:` or `/`, so no value is a URL, a host name,
/// an `env` name (`test`, `prod`) or a proxy, whatever key it lands under.
fn safe_string() -> impl Strategy<Value = String> {
    "[A-Z0-9 _.\\-\u{4e00}-\u{4e0f}\u{1f600}]{0,12}"
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        safe_string().prop_map(Value::String),
    ]
}

fn json_any() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec(
                (
                    prop_oneof![
                        3 => proptest::sample::select(KNOWN_KEYS).prop_map(str::to_owned),
                        1 => safe_string(),
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Valid inputs of each kind, for mutation.
fn bases() -> Vec<Value> {
    let quick = serde_json::json!({
        "refundInfo": {"tid": "P-1", "return_warehouse_no": "pos", "remark": ""},
        "detailMapList": [{"spec_no": "A", "stockin_num": 1, "remark": ""}],
        "createPreStockin": false
    });
    vec![
        quick.clone(),
        serde_json::json!({"method": "a.b.c", "args": [{}], "pager": {"page_size": 1, "page_no": 0}}),
        serde_json::json!({"id": "P-1", "request": quick, "defer": true}),
        serde_json::json!({"state": "pending", "limit": 10}),
        serde_json::json!({"max_entries": 1, "budget_ms": 100}),
        serde_json::json!({"timeout_ms": 500, "max_retries": 0}),
        serde_json::json!({"lease_ms": 60000, "marker": true}),
    ]
}

/// A valid input with one change: a key set to any value (at the top or one level down), an
/// unknown key added, or a key removed.
fn near_valid() -> impl Strategy<Value = Value> {
    (
        0..bases().len(),
        any::<proptest::sample::Index>(),
        any::<proptest::sample::Index>(),
        0..3u8,
        json_any(),
        safe_string(),
    )
        .prop_map(|(b, i, j, how, value, name)| {
            let mut v = bases().swap_remove(b);
            let obj = v.as_object_mut().expect("bases are objects");
            let key = obj
                .keys()
                .nth(i.index(obj.len()))
                .cloned()
                .expect("non-empty");
            match how {
                0 => {
                    // One level down when the member is an object.
                    match obj.get_mut(&key).and_then(Value::as_object_mut) {
                        Some(inner) if !inner.is_empty() => {
                            let k = inner.keys().nth(j.index(inner.len())).cloned().unwrap();
                            inner.insert(k, value);
                        }
                        _ => {
                            obj.insert(key, value);
                        }
                    }
                }
                1 => {
                    obj.insert(format!("x{name}"), value);
                }
                _ => {
                    obj.remove(&key);
                }
            }
            v
        })
}

fn hostile() -> impl Strategy<Value = Hostile> {
    prop_oneof![
        1 => Just(Hostile::Null),
        2 => vec(1u8..=255, 0..40).prop_map(Hostile::Bytes),
        // Valid UTF-8 around one invalid byte.
        1 => (safe_string(), prop_oneof![Just(0x80u8), Just(0xC3), Just(0xFF), Just(0xED)])
            .prop_map(|(s, b)| {
                let mut bytes = s.into_bytes();
                let at = bytes.len() / 2;
                bytes.insert(at, b);
                Hostile::Bytes(bytes)
            }),
        3 => json_any().prop_map(|v| Hostile::Text(v.to_string())),
        4 => near_valid().prop_map(|v| Hostile::Text(v.to_string())),
        1 => (near_valid(), any::<proptest::sample::Index>()).prop_map(|(v, i)| {
            let t = v.to_string();
            let cut = (1..t.len()).filter(|&n| t.is_char_boundary(n)).nth(i.index(t.len().max(2) - 1));
            Hostile::Text(t[..cut.unwrap_or(0)].to_owned())
        }),
    ]
}

/// The client config of this section (the closed port) and its outbox's options.
fn section_config() -> String {
    r#"{"sid":"prop","appkey":"prop","appsecret":"propsecret:propsalt","url":"http://127.0.0.1:9/openapi","connect_timeout_ms":100,"timeout_ms":500,"max_retries":0}"#.to_owned()
}

fn section_options() -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("proptest-outbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    serde_json::json!({"path": dir.join("o.db")}).to_string()
}

/// One open outbox and one closed handle of each type for the whole binary, never reused.
struct Handles {
    outbox: usize,
    closed_outbox: usize,
    freed_client: usize,
}

fn handles() -> &'static Handles {
    use wdt::ffi::{wdt_client_free, wdt_outbox_close, wdt_outbox_open};
    static HANDLES: OnceLock<Handles> = OnceLock::new();
    HANDLES.get_or_init(|| {
        let config = CString::new(section_config()).unwrap();
        let options = CString::new(section_options()).unwrap();
        let mut err: *mut c_char = ptr::null_mut();
        let outbox = unsafe { wdt_outbox_open(config.as_ptr(), options.as_ptr(), &mut err) };
        assert!(!outbox.is_null(), "outbox refused: {}", take(err));
        let closed = unsafe { wdt_outbox_open(config.as_ptr(), options.as_ptr(), &mut err) };
        assert!(!closed.is_null(), "outbox refused: {}", take(err));
        unsafe { wdt_outbox_close(closed) };
        let freed = unsafe { wdt_client_new(config.as_ptr(), &mut err) };
        assert!(!freed.is_null(), "client refused: {}", take(err));
        unsafe { wdt_client_free(freed) };
        Handles {
            outbox: outbox as usize,
            closed_outbox: closed as usize,
            freed_client: freed as usize,
        }
    })
}

/// Calls every envelope-returning export with `input` in each text argument, and with NULL,
/// freed and live handles, and checks each error envelope.
fn every_export(input: &Hostile) -> Result<(), TestCaseError> {
    use wdt::ffi::{
        wdt_client_free, wdt_outbox_close, wdt_outbox_flush, wdt_outbox_get, wdt_outbox_list,
        wdt_outbox_open, wdt_outbox_submit, WdtOutbox,
    };
    let arg = input.c();
    let p = ptr_of(&arg);
    let h = handles();

    // Constructors: the envelope comes back through the out-pointer.
    let mut err: *mut c_char = ptr::null_mut();
    let c = unsafe { wdt_client_new(p, &mut err) };
    if c.is_null() {
        check_error_envelope("wdt_client_new", &take(err))?;
    } else {
        prop_assert!(err.is_null(), "wdt_client_new: success with an error");
        unsafe { wdt_client_free(c) };
    }
    let c = unsafe { wdt_client_new(p, ptr::null_mut()) };
    unsafe { wdt_client_free(c) };
    let config = CString::new(section_config()).unwrap();
    let options = CString::new(section_options()).unwrap();
    for (name, cfg, opts) in [
        ("wdt_outbox_open(config)", p, options.as_ptr()),
        ("wdt_outbox_open(options)", config.as_ptr(), p),
    ] {
        let mut err: *mut c_char = ptr::null_mut();
        let o = unsafe { wdt_outbox_open(cfg, opts, &mut err) };
        if o.is_null() {
            check_error_envelope(name, &take(err))?;
        } else {
            prop_assert!(err.is_null(), "{}: success with an error", name);
            unsafe { wdt_outbox_close(o) };
        }
    }

    // Calls on a live, a NULL and a released handle.
    type Call<H> = unsafe extern "C" fn(*mut H, *const c_char) -> *mut c_char;
    let client_calls: [(&str, Call<WdtClient>); 2] = [
        ("wdt_smart_refund_upload", wdt_smart_refund_upload),
        ("wdt_call", wdt_call),
    ];
    for (name, f) in client_calls {
        for handle in [client(), ptr::null_mut(), h.freed_client as *mut WdtClient] {
            check_error_envelope(name, &take(unsafe { f(handle, p) }))?;
        }
    }
    let outbox_calls: [(&str, Call<WdtOutbox>); 4] = [
        ("wdt_outbox_submit", wdt_outbox_submit),
        ("wdt_outbox_get", wdt_outbox_get),
        ("wdt_outbox_list", wdt_outbox_list),
        ("wdt_outbox_flush", wdt_outbox_flush),
    ];
    for (name, f) in outbox_calls {
        for handle in [
            h.outbox as *mut WdtOutbox,
            ptr::null_mut(),
            h.closed_outbox as *mut WdtOutbox,
        ] {
            check_error_envelope(name, &take(unsafe { f(handle, p) }))?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn every_export_names_its_category_once_and_a_real_field(input in hostile()) {
        every_export(&input)?;
    }
}

/// The property above must meet each kind it can: a hand-picked input per export and kind,
/// so a generator that drifted into only well-formed text would still be caught.
#[test]
fn every_export_checks_its_hand_picked_inputs() {
    let inputs = [
        Hostile::Null,
        Hostile::Bytes(vec![b'{', 0xFF, b'}']),
        Hostile::Text("{".into()),
        Hostile::Text("[]".into()),
        Hostile::Text(r#"{"sid":1}"#.into()),
        Hostile::Text(r#"{"zzz":1}"#.into()),
        Hostile::Text(r#"{"path":""}"#.into()),
        Hostile::Text(r#"{"state":"lost"}"#.into()),
        Hostile::Text(r#"{"max_entries":0}"#.into()),
        Hostile::Text(r#"{"id":"a b","request":{}}"#.into()),
        Hostile::Text(r#"{"method":"a.b","args":[]}"#.into()), // valid: transport to port 9
        Hostile::Text("P-1".into()),
    ];
    for input in &inputs {
        every_export(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    }
    // The category check itself: a doubled category and an empty field are caught.
    for bad in [
        r#"{"ok":false,"error":{"kind":"config","message":"config: config: x","delivery":"not_sent","hint":"h"}}"#,
        r#"{"ok":false,"error":{"kind":"config","message":"invalid argument: x","delivery":"not_sent","hint":"h"}}"#,
        r#"{"ok":false,"error":{"kind":"config","message":"config: x","field":"","delivery":"not_sent","hint":"h"}}"#,
    ] {
        assert!(check_error_envelope("self-test", bad).is_err(), "{bad}");
    }
}
