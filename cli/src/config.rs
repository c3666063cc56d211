//! Where `wdt` gets its config: a JSON file (`--config`, default `wdt.json` in the working
//! directory; the keys of docs/abi.md) and the environment (WDT_SID, WDT_APPKEY, WDT_APPSECRET,
//! WDT_URL, WDT_ENV), which wins key by key so a shared file never needs the secret written in it.
//! The library validates the result; nothing here prints a value of appsecret.

use serde_json::{Map, Value};

use crate::output;

pub const DEFAULT_FILE: &str = "wdt.json";

/// The config of the bundled gateway double as `wdt mock` serves it (its built-in account on
/// its fixed port): the first `wdt.json` of every example in the docs, and what `wdt doctor`
/// prints when there is no config at all. Nothing in it leaves the machine.
pub const TEMPLATE: &str = r#"{"sid":"wdtapi3","appkey":"wdt_test","appsecret":"testsecret:testsalt","url":"http://127.0.0.1:9876/openapi"}"#;

/// Environment variable → config key.
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("WDT_SID", "sid"),
    ("WDT_APPKEY", "appkey"),
    ("WDT_APPSECRET", "appsecret"),
    ("WDT_URL", "url"),
    ("WDT_ENV", "env"),
];

pub struct Loaded {
    /// The config JSON handed to the library.
    pub json: String,
    /// Where it came from, for doctor: the file (if any) and the env variables used.
    pub file: Option<String>,
    pub from_env: Vec<&'static str>,
    pub map: Map<String, Value>,
}

/// Reads the file (an explicit `--config` must exist; the default may be absent when the
/// environment supplies everything), then overlays the environment. Errors are `config`
/// envelopes, so they print and exit like the library's own.
pub fn load(explicit: Option<&str>) -> Result<Loaded, String> {
    let (path, must_exist) = match explicit {
        Some(p) => (p.to_owned(), true),
        None => (DEFAULT_FILE.to_owned(), false),
    };
    let mut map = Map::new();
    let mut file = None;
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(m)) => map = m,
                Ok(_) => {
                    return Err(output::local_envelope(
                        "config",
                        &format!("config: {path} must hold a json object"),
                        "not_sent",
                    ))
                }
                Err(e) => {
                    return Err(output::local_envelope(
                        "config",
                        &format!("config: {path} is not valid json: {e}"),
                        "not_sent",
                    ))
                }
            }
            file = Some(path);
        }
        Err(e) if must_exist || e.kind() != std::io::ErrorKind::NotFound => {
            return Err(output::local_envelope(
                "config",
                &format!("config: cannot read {path}: {e}"),
                "not_sent",
            ))
        }
        Err(_) => {}
    }
    let mut from_env = Vec::new();
    for (var, key) in ENV_KEYS {
        if let Ok(value) = std::env::var(var) {
            if value.is_empty() {
                continue;
            }
            // url and env exclude each other; the one from the environment replaces the file's.
            match *key {
                "url" => {
                    map.remove("env");
                }
                "env" => {
                    map.remove("url");
                }
                _ => {}
            }
            map.insert((*key).to_owned(), Value::from(value));
            from_env.push(*var);
        }
    }
    Ok(Loaded {
        json: Value::Object(map.clone()).to_string(),
        file,
        from_env,
        map,
    })
}
