//! libwdt: the 旺店通 flagship (旗舰版) open API behind a C ABI of JSON strings, for point-of-sale
//! programs. The quick return (快速退货, `wms.stockin.SmartRefund.upload`) first; any method
//! through `wdt_call`.
//!
//! Only `ffi` touches raw pointers; the rest of the crate is safe Rust. The contract is
//! docs/abi.md; docs/map.md says which module owns what and which way imports point
//! (ffi → dispatch → client → transport/sign/request → error).
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod answer;
mod calendar;
mod client;
mod clock;
mod config;
mod dispatch;
mod envelope;
mod error;
pub mod ffi;
mod hint;
mod log;
mod outbox;
mod query;
mod random;
mod request;
mod sign;
mod transport;
mod validate;

pub use client::{Client, LogSink};
pub use config::{Config, ProxyUrl, ResolveHook, Secret};
pub use error::{Delivery, Error};

/// The items this workspace's fuzz targets, benchmarks and tests reach below the public API,
/// each named here (no globs, so nothing new leaks by accident). Only with the `internals`
/// feature, which those targets turn on and no build of the shipped library does. No stability
/// promise of any kind (as ureq's `unversioned`): programs use the items above or the C ABI.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    #![allow(missing_docs)]
    pub mod answer {
        pub use crate::answer::{interpret, Success, REJECTING_STATUSES};
    }
    pub mod client {
        pub use crate::client::Reply;

        /// [`crate::Client`]'s send of a validated call: the request type is internal, so the
        /// public `Client` does not offer it.
        pub fn execute(
            client: &crate::Client,
            call: &crate::request::Prepared,
        ) -> crate::client::Reply {
            client.execute(call)
        }
    }
    pub mod clock {
        pub use crate::clock::{parse_http_date, Clock};
    }
    pub mod config {
        pub use crate::config::KEYS;
    }
    pub mod envelope {
        pub use crate::envelope::{error, render};
    }
    #[cfg(feature = "server-stores")]
    pub mod outbox_server {
        pub use crate::outbox::server::{masked, Version, CONNECT_TIMEOUT};
        pub mod mysql {
            pub use crate::outbox::server::mysql::{
                check_version, describe, is_connection_lost, parse_version, Db, Flavor,
                ServerVersion,
            };
        }
        pub mod pg {
            pub use crate::outbox::server::pg::{
                check_version, describe, is_connection_lost, version_text, Db, MIN_VERSION_NUM,
            };
        }
    }
    pub mod request {
        pub use crate::request::{
            generic, parse_object, smart_refund, Pager, Prepared, SMART_REFUND_UPLOAD,
        };
        pub mod scan {
            pub use crate::request::scan::smart_refund;
        }
    }
    pub mod sign {
        pub use crate::sign::sign;
    }
    pub mod transport {
        pub use crate::transport::Answer;
    }
}

/// Rust entry points equal to the C ABI's, for Rust programs of this workspace (the `wdt`
/// command line): JSON text in, envelope text out. A config error is returned as its envelope.
pub fn client_from_json(config_json: &str) -> std::result::Result<Client, String> {
    dispatch::client_new(config_json).map_err(|e| envelope::error(&e))
}

/// 快速退货 (`wms.stockin.SmartRefund.upload`): request JSON in, envelope out, as
/// `wdt_smart_refund_upload`.
pub fn smart_refund_upload(client: &Client, request_json: &str) -> String {
    dispatch::smart_refund_upload(client, request_json)
}

/// Any method (`{"method":…,"args":[…],"pager":{…}}`) in, envelope out, as `wdt_call`.
pub fn call(client: &Client, request_json: &str) -> String {
    dispatch::call(client, request_json)
}
