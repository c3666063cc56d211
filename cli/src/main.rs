//! `wdt`: try the 旺店通 open API by hand through libwdt, with the same envelopes, validation and
//! delivery rules a till gets. Subcommands: call, smart-refund, doctor, mock. The exit status
//! names the envelope's error kind (docs/cli.md has the table) so scripts can branch on it, and
//! splits transport/timeout by delivery, because "safe to resend" is the question that matters.

mod config;
mod doctor;
mod output;

use std::io::Read;
use std::process::ExitCode;

use serde_json::{Map, Value};

pub const USAGE: &str = "\
wdt: 旺店通旗舰版 open API from the command line (libwdt)

用法 / usage:
  wdt [--config FILE] [--json] call METHOD [ARGS.json|-] [--page-size N] [--page-no N] [--no-total]
  wdt [--config FILE] [--json] smart-refund REQUEST.json|-
  wdt [--config FILE] doctor
  wdt mock [wdt-mock options]        启动网关替身，默认端口 9876 / start the gateway double on
                                     port 9876 unless --port N (wdt mock --help)
  wdt --version | --help

  --config FILE   配置文件，默认当前目录的 wdt.json / config file, default ./wdt.json
                  环境变量优先 / env vars win: WDT_SID WDT_APPKEY WDT_APPSECRET WDT_URL WDT_ENV
  --json          输出原始信封 / print the raw envelope
  ARGS.json       参数数组（对象则视为唯一参数），- 为标准输入 / the args array (an object is the
                  only argument), - reads stdin; omitted: []
  --page-size N --page-no N   分页（从 0 开始），默认计算总数 / paging from 0, with calc_total
  --no-total      不计算总数 / calc_total 0

退出码 / exit status: 0 成功 ok, 1 api, 2 用法 usage, 3 config, 4 invalid_argument,
  5 transport (not_sent), 6 timeout (not_sent), 7 transport (unknown), 8 timeout (unknown),
  9 http, 10 bad_response, 11 internal — see docs/cli.md
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    ExitCode::from(run(args))
}

/// Global options, then the subcommand and its own arguments.
struct Global {
    config: Option<String>,
    json: bool,
}

fn run(args: Vec<String>) -> u8 {
    let mut global = Global {
        config: None,
        json: false,
    };
    let mut rest = args.into_iter();
    let command = loop {
        match rest.next().as_deref() {
            Some("--config") => match rest.next() {
                Some(path) => global.config = Some(path),
                None => return usage("--config needs a file"),
            },
            Some("--json") => global.json = true,
            Some("--help" | "-h" | "help") | None => {
                print!("{USAGE}");
                return 0;
            }
            Some("--version" | "-V") => {
                println!("wdt {}", env!("CARGO_PKG_VERSION"));
                return 0;
            }
            Some(other) => break other.to_owned(),
        }
    };
    let rest: Vec<String> = rest.collect();
    match command.as_str() {
        "call" => call(&global, rest),
        "smart-refund" => smart_refund(&global, rest),
        "doctor" => {
            if let Some(extra) = rest.first() {
                return usage(&format!("doctor takes no arguments, got {extra:?}"));
            }
            doctor::run(global.config.as_deref())
        }
        "mock" => mock(rest),
        other => usage(&format!("unknown command {other:?}")),
    }
}

/// A bad command line or an unreadable input file: exit 2, nothing was sent.
fn usage(message: &str) -> u8 {
    eprintln!("wdt: 用法错误 / usage error: {message}");
    eprintln!("     wdt --help");
    output::EXIT_USAGE
}

fn call(global: &Global, args: Vec<String>) -> u8 {
    let mut method = None;
    let mut input = None;
    let mut page_size: Option<u64> = None;
    let mut page_no: Option<u64> = None;
    let mut calc_total = true;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--page-size" | "--page-no" => {
                let Some(value) = it.next() else {
                    return usage(&format!("{arg} needs a number"));
                };
                let Ok(n) = value.parse::<u64>() else {
                    return usage(&format!(
                        "{arg} must be a non-negative integer, not {value:?}"
                    ));
                };
                if arg == "--page-size" {
                    page_size = Some(n);
                } else {
                    page_no = Some(n);
                }
            }
            "--no-total" => calc_total = false,
            "--json" => {
                return usage("--json goes before the command: wdt --json call …");
            }
            _ if arg.starts_with("--") => return usage(&format!("unknown option {arg:?}")),
            _ if method.is_none() => method = Some(arg),
            _ if input.is_none() => input = Some(arg),
            _ => return usage(&format!("unexpected argument {arg:?}")),
        }
    }
    let Some(method) = method else {
        return usage("call needs a METHOD, e.g. wms.stockin.Refund.queryWithDetail");
    };
    let args_text = match input.as_deref() {
        None => "[]".to_owned(),
        Some(source) => match read_input(source) {
            Ok(text) => text,
            Err(e) => return usage(&e),
        },
    };
    // An object is the one argument of most methods ([params]); an array is the argument list.
    // Text that is not JSON goes to the library as written, which names the problem.
    let args_json = match serde_json::from_str::<Value>(&args_text) {
        Ok(Value::Object(map)) => Value::Array(vec![Value::Object(map)]).to_string(),
        _ => args_text.trim().to_owned(),
    };
    let mut request = format!(
        "{{\"method\":{},\"args\":{}",
        Value::from(method.as_str()),
        if args_json.is_empty() {
            "null"
        } else {
            &args_json
        }
    );
    if page_size.is_some() || page_no.is_some() {
        let mut pager = Map::new();
        pager.insert("page_size".into(), Value::from(page_size.unwrap_or(50)));
        pager.insert("page_no".into(), Value::from(page_no.unwrap_or(0)));
        pager.insert("calc_total".into(), Value::Bool(calc_total));
        request.push_str(",\"pager\":");
        request.push_str(&Value::Object(pager).to_string());
    }
    request.push('}');
    with_client(global, |client| guarded(|| wdt::call(client, &request)))
}

fn smart_refund(global: &Global, args: Vec<String>) -> u8 {
    let [source] = args.as_slice() else {
        return usage("smart-refund takes one REQUEST.json (or - for stdin)");
    };
    if source.starts_with("--") && source != "-" {
        return usage(&format!("unknown option {source:?}"));
    }
    let request = match read_input(source) {
        Ok(text) => text,
        Err(e) => return usage(&e),
    };
    with_client(global, |client| {
        guarded(|| wdt::smart_refund_upload(client, &request))
    })
}

fn with_client(global: &Global, f: impl FnOnce(&wdt::Client) -> String) -> u8 {
    let loaded = match config::load(global.config.as_deref()) {
        Ok(c) => c,
        Err(envelope) => return output::report(&envelope, global.json),
    };
    let client = match wdt::client_from_json(&loaded.json) {
        Ok(c) => c,
        Err(envelope) => return output::report(&envelope, global.json),
    };
    let envelope = f(&client);
    output::report(&envelope, global.json)
}

/// The Rust entry points do not catch panics (the C ABI's guard does); a command line must not
/// die without an envelope either, so a panic becomes the `internal` envelope the ABI would give.
fn guarded(f: impl FnOnce() -> String) -> String {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        output::local_envelope(
            "internal",
            "internal: panic inside libwdt (caught by wdt)",
            "unknown",
        )
    })
}

fn read_input(source: &str) -> Result<String, String> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(source).map_err(|e| format!("cannot read {source}: {e}"))
}

/// The port `wdt mock` listens on unless told otherwise: every example config in the docs
/// (and `wdt doctor`'s template) points at http://127.0.0.1:9876/openapi, so the double and the
/// examples meet without anyone copying a port by hand.
pub const MOCK_PORT: u16 = 9876;

/// `wdt mock`: the gateway double, as the `wdt-mock` binary runs it, but on [`MOCK_PORT`] when
/// neither `--port` nor a `--config` file with a port says otherwise (`--port 0`: any free one).
fn mock(args: Vec<String>) -> u8 {
    use std::io::Write;
    use wdt_mock::options::{self, Command};
    let port_given = mock_port_given(&args);
    let parsed = options::parse(args).map(|c| match c {
        Command::Run(mut o) => {
            if !port_given {
                o.port = MOCK_PORT;
            }
            Command::Run(o)
        }
        help => help,
    });
    let opts = match parsed {
        Ok(Command::Run(o)) => o,
        Ok(Command::Help) => {
            print!(
                "{}",
                options::USAGE
                    .replace("wdt-mock [options]", "wdt mock [options]")
                    .replace(
                        "port, 0 = the OS picks (default 0)",
                        "port, 0 = the OS picks (default 9876 for wdt mock)",
                    )
            );
            return 0;
        }
        Err(e) => {
            eprintln!("wdt mock: {e}");
            return output::EXIT_USAGE;
        }
    };
    let server = match wdt_mock::server::Server::bind(&opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wdt mock: {e}");
            if !port_given {
                eprintln!(
                    "wdt mock: 端口 {MOCK_PORT} 已被占用？可能另一个 wdt mock 已在运行；用 --port N 换一个端口（--port 0 由系统分配）\n\
                     wdt mock: port {MOCK_PORT} in use? Another wdt mock may be running; --port N picks another (--port 0: any free port)"
                );
            }
            return output::EXIT_USAGE;
        }
    };
    let mut out = std::io::stdout().lock();
    // Scripts wait for this one line, the same as wdt-mock prints.
    if writeln!(out, "wdt-mock listening on {}", server.url())
        .and_then(|_| out.flush())
        .is_err()
    {
        return 1;
    }
    drop(out);
    server.run();
    0
}

/// Whether `wdt mock`'s arguments choose a port: `--port N`, `--port=N`, or a `--config` file
/// with a `port` key (the double's own config format).
fn mock_port_given(args: &[String]) -> bool {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        match name {
            "--port" => return true,
            "--config" => {
                let Some(path) = inline.or_else(|| it.next().cloned()) else {
                    continue;
                };
                let has_port = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                    .is_some_and(|v| v.get("port").is_some());
                if has_port {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}
