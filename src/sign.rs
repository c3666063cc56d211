//! The gateway's MD5 sign (docs/protocol.md "Sign"): every query parameter but `sign`, plus `body`
//! holding the raw POST body, sorted by name in byte order, `name + value` concatenated, wrapped
//! in the secret on both sides. The secret is only ever an input here; it is never returned.

use md5::{Digest, Md5};

/// The gateway's epoch, 1325347200: 2012-01-01 00:00:00 Beijing time (UTC+8), which is
/// 2011-12-31 16:00:00 UTC (docs/protocol.md, "timestamp"). `timestamp` = Unix seconds minus this.
pub const GATEWAY_EPOCH: i64 = 1_325_347_200;

/// Lowercase hex MD5 sign over `params` (without `sign`) and `body`.
pub fn sign(secret: &str, params: &[(&str, &str)], body: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(params.len() + 1);
    pairs.extend_from_slice(params);
    pairs.push(("body", body));
    // Byte order of the names, as the gateway sorts them.
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));

    let mut md5 = Md5::new();
    md5.update(secret.as_bytes());
    for (name, value) in &pairs {
        md5.update(name.as_bytes());
        md5.update(value.as_bytes());
    }
    md5.update(secret.as_bytes());
    hex(&md5.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Both vectors are docs/protocol.md's, computed independently of this code.
    #[test]
    fn vector_1_quick_return() {
        let body = r#"[{"tid":"pos-6776312","return_warehouse_no":"pos","remark":"pos refundInfo remark"},[{"spec_no":"RRWDMS018040S","stockin_num":1,"remark":"POS 退货测试"}],false]"#;
        let params = [
            ("sid", "wdtapi3"),
            ("key", "wdt_test"),
            ("salt", "testsalt"),
            ("method", "wms.stockin.SmartRefund.upload"),
            ("v", "1.0"),
            ("timestamp", "465000000"),
        ];
        assert_eq!(
            sign("testsecret", &params, body),
            "66e23dffba592086b832d14a1cad689d"
        );
    }

    #[test]
    fn vector_2_paged_query() {
        let body = r#"[{"start_time":"2024-01-01 00:00:00","end_time":"2024-01-02 00:00:00"}]"#;
        let params = [
            ("sid", "wdtapi3"),
            ("key", "wdt_test"),
            ("salt", "testsalt"),
            ("method", "wms.stockin.Refund.queryWithDetail"),
            ("v", "1.0"),
            ("timestamp", "465000000"),
            ("page_size", "50"),
            ("page_no", "0"),
            ("calc_total", "1"),
        ];
        assert_eq!(
            sign("testsecret", &params, body),
            "48d7ee04dfb5ca3f0ac29548f60fb38a"
        );
    }

    #[test]
    fn order_of_params_does_not_matter() {
        let a = sign("s", &[("b", "1"), ("a", "2")], "[]");
        let b = sign("s", &[("a", "2"), ("b", "1")], "[]");
        assert_eq!(a, b);
        assert_ne!(a, sign("t", &[("a", "2"), ("b", "1")], "[]"));
    }
}
