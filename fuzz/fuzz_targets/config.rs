//! Target (a): the config parser, directly and through `wdt_client_new`.
//!
//! For any bytes: the FFI gives a client exactly when `Config::from_json` accepts the same text,
//! otherwise a `config` envelope equal to the one the Rust API renders; and the secret half of
//! `appsecret` never influences an envelope or the Config's Debug output.
#![no_main]

mod common;

use std::ffi::c_char;
use std::ptr;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wdt::ffi::{wdt_client_free, wdt_client_new};
use wdt::internals::config::KEYS;
use wdt::internals::envelope;
use wdt::Config;
use wdt::Error;

use common::*;

fuzz_target!(init: keep_fuzzer_panic_hook(), |data: &[u8]| {
    let c = c_string(data);
    let text = std::str::from_utf8(c.as_bytes()).ok();

    let mut err: *mut c_char = ptr::null_mut();
    let client = unsafe { wdt_client_new(c.as_ptr(), &mut err) };
    let pure = text.map(Config::from_json);

    if client.is_null() {
        let env_text = take(err);
        let env = check_envelope(&env_text);
        assert_eq!(env["ok"], Value::Bool(false));
        let e = error_of(&env);
        assert_eq!(e["kind"], "config", "{env_text}");
        match &pure {
            None => {
                assert!(e.get("field").is_none(), "{env_text}");
                assert!(e["message"].as_str().unwrap_or("").contains("UTF-8"), "{env_text}");
            }
            Some(Ok(_)) => panic!("Config::from_json accepts {text:?} but wdt_client_new refused: {env_text}"),
            Some(Err(pe)) => {
                // The FFI adds nothing and loses nothing.
                assert_eq!(env_text, envelope::error(pe));
                check_config_error(pe, text.unwrap_or_default());
            }
        }
    } else {
        assert!(err.is_null(), "a client and an error at once");
        assert!(
            matches!(pure, Some(Ok(_))),
            "wdt_client_new accepted what Config::from_json refuses: {pure:?}"
        );
        unsafe { wdt_client_free(client) };
    }

    // Without somewhere to put the error, the library must free it itself (no crash, no leak).
    let client = unsafe { wdt_client_new(c.as_ptr(), ptr::null_mut()) };
    unsafe { wdt_client_free(client) };

    if let Some(Ok(config)) = &pure {
        check_config(config);
    }
    if let Some(text) = text {
        secret_does_not_matter(text);
    }
    // The Rust API also sees what C cannot pass: text after a NUL.
    if c.as_bytes().len() < data.len() {
        if let Ok(full) = std::str::from_utf8(data) {
            match Config::from_json(full) {
                Ok(config) => check_config(&config),
                Err(e) => check_config_error(&e, full),
            }
        }
    }
});

fn check_config_error(e: &Error, text: &str) {
    let Error::Config { field, .. } = e else {
        panic!("Config::from_json gave a non-config error: {e:?}")
    };
    if let Some(field) = field {
        let known = KEYS.contains(&field.as_str());
        let present = matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(m)) if m.contains_key(field));
        assert!(
            known || present,
            "config error names {field:?}, which is neither a key nor in the input"
        );
    }
}

fn check_config(c: &Config) {
    assert!(c.connect_timeout <= c.timeout, "{c:?}");
    assert!(
        !c.connect_timeout.is_zero() && !c.timeout.is_zero(),
        "{c:?}"
    );
    assert!(c.max_retries <= 10, "{c:?}");
    assert!(!c.salt.is_empty(), "{c:?}");
    let lower = c.url.to_ascii_lowercase();
    assert!(
        lower.starts_with("http://") || lower.starts_with("https://"),
        "{c:?}"
    );
}

/// The secret half of `appsecret` must never reach an envelope or Debug output. Rather than
/// search for it (a short secret such as "a" occurs everywhere by chance), replace it with a
/// different non-empty secret and require byte-identical output: then nothing depends on it.
fn secret_does_not_matter(text: &str) {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let Some(Value::String(appsecret)) = map.get("appsecret") else {
        return;
    };
    let Some((secret, salt)) = appsecret.split_once(':') else {
        return;
    };
    if secret.is_empty() {
        return;
    }
    let other = if secret == "S3cr3t" {
        "0th3r"
    } else {
        "S3cr3t"
    };
    let replaced = format!("{other}:{salt}");
    let original = serde_json::to_string(&map).expect("a map serialises");
    map.insert("appsecret".into(), Value::String(replaced));
    let swapped = serde_json::to_string(&map).expect("a map serialises");

    let show = |r: Result<Config, Error>| match r {
        Ok(c) => format!("{c:?}"),
        Err(e) => format!("{e:?} {}", envelope::error(&e)),
    };
    assert_eq!(
        show(Config::from_json(&original)),
        show(Config::from_json(&swapped)),
        "the output depends on the secret"
    );
}
