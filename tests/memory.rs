//! A huge answer cannot exhaust a till's memory: reading stops at max_response_bytes (default
//! 16 MiB, docs/abi.md), so a 50 MiB answer raises the process's peak memory by about the
//! limit, not by the answer. Alone in its test binary so no other test moves the peak.

mod common;

use common::*;
use serde_json::json;

/// Peak resident set (VmHWM) of this process, in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn a_50_mib_answer_stays_bounded() {
    let d = double();
    let client = Client::new(&d.config(json!({}))).unwrap();
    // Warm up: the first call allocates the pool, TLS roots and the double's threads.
    assert_eq!(
        client.upload(&good_request("pos-6776312", json!(1)))["ok"],
        true
    );
    d.fault(json!({"mode": "oversized", "bytes": 50 << 20}));
    let before = peak_kib();
    let env = client.upload(&good_request("pos-6776312", json!(1)));
    let grown_mib = (peak_kib().saturating_sub(before)) / 1024;
    assert_eq!(kind(&env), "bad_response", "{env}");
    assert!(
        env["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_response_bytes"),
        "{env}"
    );
    // The 16 MiB limit plus allocator slack; reading the whole answer would need 50 MiB or more.
    assert!(grown_mib <= 36, "peak memory grew by {grown_mib} MiB");
    eprintln!("peak memory grew by {grown_mib} MiB for a 50 MiB answer");
}
