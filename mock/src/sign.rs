//! The gateway's request signature, written from docs/protocol.md alone.
//! It deliberately shares no code with the libwdt crate: a double that reused
//! the client's signer would agree with the client's bugs instead of catching them.

use md5::{Digest, Md5};

/// Builds the byte string that gets hashed: every query parameter except
/// `sign`, plus `body`, sorted by name in byte order, as `name + value`,
/// wrapped on both sides in `wrap` (the secret, or a mask when logging).
///
/// A parameter sent twice counts once with its first value, which is what a
/// servlet's `getParameter` sees.
pub fn signed_bytes(params: &[(String, String)], body: &[u8], wrap: &[u8]) -> Vec<u8> {
    let mut fields: Vec<(&[u8], &[u8])> = Vec::with_capacity(params.len() + 1);
    for (name, value) in params {
        if name == "sign" || name == "body" || fields.iter().any(|(n, _)| *n == name.as_bytes()) {
            continue;
        }
        fields.push((name.as_bytes(), value.as_bytes()));
    }
    fields.push((b"body", body));
    fields.sort_by(|a, b| a.0.cmp(b.0));

    let mut out = Vec::with_capacity(body.len() + 256);
    out.extend_from_slice(wrap);
    for (name, value) in fields {
        out.extend_from_slice(name);
        out.extend_from_slice(value);
    }
    out.extend_from_slice(wrap);
    out
}

/// Lowercase hex MD5 of the signed string.
pub fn sign(params: &[(String, String)], body: &[u8], secret: &str) -> String {
    hex_md5(&signed_bytes(params, body, secret.as_bytes()))
}

fn hex_md5(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(extra: &[(&str, &str)], method: &str) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = [
            ("sid", "wdtapi3"),
            ("key", "wdt_test"),
            ("salt", "testsalt"),
            ("method", method),
            ("v", "1.0"),
            ("timestamp", "465000000"),
        ]
        .iter()
        .chain(extra.iter())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        // A client may send `sign` along; it must never feed into its own hash.
        p.push(("sign".into(), "ignored".into()));
        p
    }

    #[test]
    fn vector_1_quick_return() {
        let body = r#"[{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"pos refundInfo remark"},[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],false]"#;
        let p = params(&[], "wms.stockin.SmartRefund.upload");
        assert_eq!(
            sign(&p, body.as_bytes(), "testsecret"),
            "66e23dffba592086b832d14a1cad689d"
        );
    }

    #[test]
    fn vector_2_paged_query() {
        let body = r#"[{"start_time":"2024-01-01 00:00:00","end_time":"2024-01-02 00:00:00"}]"#;
        let p = params(
            &[("page_size", "50"), ("page_no", "0"), ("calc_total", "1")],
            "wms.stockin.Refund.queryWithDetail",
        );
        assert_eq!(
            sign(&p, body.as_bytes(), "testsecret"),
            "48d7ee04dfb5ca3f0ac29548f60fb38a"
        );
    }

    #[test]
    fn order_is_by_name_not_by_arrival() {
        let body = b"[]";
        let a = params(&[("page_no", "0"), ("page_size", "5")], "m");
        let mut b = a.clone();
        b.reverse();
        assert_eq!(sign(&a, body, "s"), sign(&b, body, "s"));
    }

    #[test]
    fn masked_string_shows_layout_without_secret() {
        let p = params(&[], "m");
        let shown = signed_bytes(&p, b"[1]", b"***");
        assert_eq!(
            String::from_utf8(shown).unwrap(),
            "***body[1]keywdt_testmethodmsalttestsaltsidwdtapi3timestamp465000000v1.0***"
        );
    }

    #[test]
    fn first_duplicate_wins() {
        let mut p = params(&[], "m");
        let base = sign(&p, b"[]", "s");
        p.push(("sid".into(), "other".into()));
        assert_eq!(sign(&p, b"[]", "s"), base);
    }
}
