//! The layer between the C ABI and the client: request text in, envelope text out. Everything
//! that can be checked is checked here, before the client sees the call, so invalid input never
//! reaches the network.

use crate::client::Client;
use crate::config::Config;
use crate::envelope;
use crate::error::Error;
use crate::request;

/// Method that deliberately panics when the config sets `"test_hooks": true`, so every binding
/// can prove that a panic inside the library becomes an `internal` envelope.
pub const TEST_PANIC_METHOD: &str = "wdt.test.panic";

pub fn client_new(config: &str) -> Result<Client, Error> {
    Config::from_json(config).map(Client::new)
}

pub fn smart_refund_upload(client: &Client, request: &str) -> String {
    // The one-pass reader handles every valid quick return it can prove identical; the rest
    // (and every invalid one, for its error) goes through the Value tree.
    let prepared = match request::scan::smart_refund(request) {
        Some(p) => Ok(p),
        None => request::parse_object(request).and_then(|map| request::smart_refund(&map)),
    };
    run(client, prepared)
}

pub fn call(client: &Client, request: &str) -> String {
    let prepared = request::parse_object(request).and_then(|map| request::generic(&map));
    if let Ok(p) = &prepared {
        if p.method == TEST_PANIC_METHOD && client.config().test_hooks {
            panic!("test hook: deliberate panic");
        }
    }
    run(client, prepared)
}

fn run(client: &Client, prepared: Result<request::Prepared, Error>) -> String {
    match prepared {
        Ok(p) => {
            let reply = client.execute(&p);
            envelope::render(reply.result.as_ref(), reply.attempts)
        }
        Err(e) => envelope::error(&e),
    }
}
