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
pub mod request;
pub mod sign;
pub mod transport;

pub use client::{Client, Reply};
pub use config::Config;
pub use error::{Delivery, Error};
