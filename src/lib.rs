//! libwdt: the 旺店通 flagship (旗舰版) open API behind a C ABI of JSON strings, for point-of-sale
//! programs. The quick return (快速退货, `wms.stockin.SmartRefund.upload`) first; any method
//! through `wdt_call`.
//!
//! Only `ffi` touches raw pointers; the rest of the crate is safe Rust.
#![deny(unsafe_code)]

pub mod client;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod envelope;
pub mod error;
pub mod ffi;
mod outbox;
pub mod request;
pub mod sign;
pub mod transport;

pub use client::{Client, Reply};
pub use config::Config;
pub use error::{Delivery, Error};

/// Rust entry points equal to the C ABI's, for Rust programs of this workspace (the `wdt`
/// command line): JSON text in, envelope text out. A config error is returned as its envelope.
pub fn client_from_json(config_json: &str) -> std::result::Result<Client, String> {
    dispatch::client_new(Ok(config_json))
}

/// 快速退货 (`wms.stockin.SmartRefund.upload`): request JSON in, envelope out, as
/// `wdt_smart_refund_upload`.
pub fn smart_refund_upload(client: &Client, request_json: &str) -> String {
    dispatch::smart_refund_upload(client, Ok(request_json))
}

/// Any method (`{"method":…,"args":[…],"pager":{…}}`) in, envelope out, as `wdt_call`.
pub fn call(client: &Client, request_json: &str) -> String {
    dispatch::call(client, Ok(request_json))
}
