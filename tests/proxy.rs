//! Proxies: only the config's `proxy` key is obeyed; HTTP_PROXY / ALL_PROXY in the environment
//! are not. A file of its own because it sets proxy variables for the whole test process.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use serde_json::json;
use wdt_mock::http::read_raw_request;

/// A listener standing in for an HTTP proxy: reports the first bytes each connection sent it.
/// With `tunnel`, it accepts the CONNECT (200) and reports what came through the tunnel next;
/// either way it then closes without an answer.
fn fake_proxy(tunnel: bool) -> (String, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            s.set_read_timeout(Some(Duration::from_secs(2))).ok();
            // The CONNECT request has no body: its head is the whole request.
            let head = read_raw_request(&mut s).unwrap_or_default();
            if tunnel {
                let _ = s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                let _ = tx.send(read_raw_request(&mut s).unwrap_or_default());
            } else {
                let _ = tx.send(head);
            }
            // Dropping `s` closes it without an answer.
        }
    });
    (url, rx)
}

#[test]
fn proxy_comes_from_the_config_never_from_the_environment() {
    let d = double();
    let (proxy_url, seen) = fake_proxy(false);
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::set_var(var, &proxy_url);
    }
    for var in ["NO_PROXY", "no_proxy"] {
        std::env::remove_var(var);
    }
    // Proves the variables are set the way ureq would obey them by default.
    assert!(ureq::Proxy::try_from_env().is_some());

    let client = d.client();
    let env = client.upload(&good_request("pos-6776312", json!(1)));
    assert_eq!(env["ok"], true, "{env}");
    assert!(
        seen.recv_timeout(Duration::from_millis(300)).is_err(),
        "the environment's proxy was used"
    );

    // The config key is obeyed: the client asks the proxy for a tunnel. This proxy hangs up
    // instead of agreeing, so not a byte of the quick return left: `not_sent` (docs/abi.md,
    // "delivery": the CONNECT line is part of connecting, like a TLS handshake). Until the
    // transport drove ureq-proto itself, the CONNECT bytes went through the layer that counted
    // request bytes and this said `unknown`, against that rule.
    let client = Client::new(&d.config(json!({ "proxy": proxy_url, "timeout_ms": 3000 }))).unwrap();
    let env = client.upload(&good_request("pos-6776312", json!(1)));
    let head = seen
        .recv_timeout(Duration::from_secs(5))
        .expect("the config's proxy was not used");
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("CONNECT 127.0.0.1:"), "{head}");
    assert!(!head.contains("SmartRefund"), "{head}");
    assert_eq!(env["ok"], false, "{env}");
    assert_eq!(env["error"]["delivery"], "not_sent", "{env}");
    // The double's stats are read with ureq's default agent, which does obey the environment.
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::remove_var(var);
    }
    assert_eq!(d.requests(), 1, "only the direct call reached the double");
}

/// A proxy that opens the tunnel and then hangs up after the request went through it: the
/// quick return left, its fate is `unknown`, and it is not sent again.
#[test]
fn a_request_that_went_through_the_tunnel_is_unknown() {
    let d = double();
    let (proxy_url, seen) = fake_proxy(true);
    let client = Client::new(&d.config(json!({ "proxy": proxy_url, "timeout_ms": 3000 }))).unwrap();
    let env = client.upload(&good_request("pos-6776313", json!(1)));
    let sent = seen
        .recv_timeout(Duration::from_secs(5))
        .expect("nothing came through the tunnel");
    let sent = String::from_utf8_lossy(&sent);
    assert!(sent.starts_with("POST /openapi?"), "{sent}");
    assert!(sent.contains("wms.stockin.SmartRefund.upload"), "{sent}");
    assert_eq!(env["ok"], false, "{env}");
    assert_eq!(env["error"]["delivery"], "unknown", "{env}");
    assert_eq!(env["error"]["attempts"], 1, "{env}");
    assert!(
        seen.recv_timeout(Duration::from_millis(300)).is_err(),
        "sent again after its fate became unknown"
    );
}

#[test]
fn proxy_key_is_validated() {
    let d = double();
    for bad in [json!("ftp://127.0.0.1:1"), json!(8080), json!("http://")] {
        let err = Client::new(&d.config(json!({ "proxy": bad })))
            .err()
            .unwrap();
        assert_eq!(err["error"]["kind"], "config", "{bad}: {err}");
        assert_eq!(err["error"]["field"], "proxy", "{bad}: {err}");
    }
    for good in ["http://127.0.0.1:3128", "socks5://127.0.0.1:1080"] {
        assert!(
            Client::new(&d.config(json!({ "proxy": good }))).is_ok(),
            "{good}"
        );
    }
}
