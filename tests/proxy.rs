//! Proxies: only the config's `proxy` key is obeyed; HTTP_PROXY / ALL_PROXY in the environment
//! are not. A file of its own because it sets proxy variables for the whole test process.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use serde_json::json;

/// A listener standing in for a proxy: reports whether anybody sent it a byte.
fn fake_proxy() -> (String, mpsc::Receiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            s.set_read_timeout(Some(Duration::from_secs(2))).ok();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let _ = tx.send(n);
            // Dropping `s` closes it without an answer.
        }
    });
    (url, rx)
}

#[test]
fn proxy_comes_from_the_config_never_from_the_environment() {
    let d = double();
    let (proxy_url, seen) = fake_proxy();
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

    // The config key is obeyed: the request goes to the proxy (which never answers).
    let client = Client::new(&d.config(json!({ "proxy": proxy_url, "timeout_ms": 3000 }))).unwrap();
    let env = client.upload(&good_request("pos-6776312", json!(1)));
    let bytes = seen
        .recv_timeout(Duration::from_secs(5))
        .expect("the config's proxy was not used");
    assert!(bytes > 0);
    assert_eq!(env["ok"], false, "{env}");
    assert_eq!(env["error"]["delivery"], "unknown", "{env}");
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
