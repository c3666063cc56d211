//! wdt-mock: a double of the 旺店通旗舰版 open API gateway for tests, CI and
//! POS developers without credentials. It implements docs/protocol.md on its own
//! (no code shared with libwdt) so that it catches the client's mistakes.

pub mod erp;
pub mod fault;
pub mod gateway;
pub mod http;
pub mod options;
pub mod server;
pub mod sign;
pub mod state;
pub mod time;
