//! The `wdt-mock` command: parse options, bind, announce the URL on stdout
//! (test scripts wait for that one line), then serve until killed.

use std::io::Write;
use std::process::ExitCode;

use wdt_mock::options::{self, Command, USAGE};
use wdt_mock::server::Server;

fn main() -> ExitCode {
    let opts = match options::parse(std::env::args().skip(1)) {
        Ok(Command::Run(o)) => o,
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("wdt-mock: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::bind(&opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wdt-mock: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "wdt-mock listening on {}", server.url())
        .and_then(|_| out.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    drop(out);
    server.run();
    ExitCode::SUCCESS
}
