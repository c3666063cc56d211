//! The one error type of the library. Every variant maps to a stable `kind` string that is part
//! of the ABI (docs/abi.md): a kind is never renamed or reused. Each variant's Display carries
//! its category (`invalid argument: …`, `timeout: …`), so call sites give only the detail;
//! the gateway's own messages are shown as it wrote them. No message contains the secret half
//! of `appsecret`.

use std::fmt;

/// Whether the request may have reached the gateway. A POS must not resend a quick return whose
/// delivery is `Unknown` without checking the ERP first: the library never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// No byte of the request can have reached the gateway.
    NotSent,
    /// It may have reached the gateway (and the ERP may have created the stock-in).
    Unknown,
    /// The gateway received it and answered with a rejection: nothing was created.
    Rejected,
}

impl Delivery {
    /// The ABI string: `not_sent`, `unknown` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::NotSent => "not_sent",
            Delivery::Unknown => "unknown",
            Delivery::Rejected => "rejected",
        }
    }
}

/// Everything that can go wrong, one variant per envelope `kind` (docs/abi.md).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request JSON is malformed or breaks the API document's rules; nothing was sent.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// The JSON path or config key of the offending value, when the error is about one.
        field: Option<String>,
        /// What is wrong, without the category.
        message: String,
    },
    /// Bad config JSON (only from `wdt_client_new`).
    #[error("config: {message}")]
    Config {
        /// The JSON path or config key of the offending value, when the error is about one.
        field: Option<String>,
        /// What is wrong, without the category.
        message: String,
    },
    /// Network failure.
    #[error("transport: {message}")]
    Transport {
        /// Whether any byte of the request was written.
        delivery: Delivery,
        /// What failed, without the category.
        message: String,
    },
    /// No complete answer within the budget.
    #[error("timeout: {message}")]
    Timeout {
        /// Whether any byte of the request was written.
        delivery: Delivery,
        /// Which phase ran out of time, without the category.
        message: String,
    },
    /// A non-2xx answer, whatever its body. The request was written and something answered,
    /// so the gateway may have acted on it: delivery is always unknown. When the body is the
    /// gateway's JSON, its `status` is kept (and its message is part of `message`).
    #[error("http: {message}")]
    Http {
        /// The HTTP status code.
        http_status: u16,
        /// The `status` of the gateway's JSON, when the body was that.
        status: Option<i64>,
        /// What came back, without the category.
        message: String,
    },
    /// A 2xx answer that is not the gateway's JSON (a captive portal, a proxy page…).
    #[error("bad response: {message}")]
    BadResponse {
        /// What came back, without the category.
        message: String,
    },
    /// A 2xx answer of the gateway's JSON with `status > 0`; status and message are the
    /// gateway's own. `delivery` is `Rejected` only for the statuses that prove nothing was
    /// written (`answer::status_rejects`), `Unknown` for the rest (database errors, 其他错误).
    /// Shown as the gateway wrote it: it is the message a cashier or the ERP's staff know.
    #[error("{message}")]
    Api {
        /// The gateway's status.
        status: i64,
        /// The gateway's message (never empty: said for it when missing).
        message: String,
        /// `Rejected` for the statuses that prove nothing was written, else `Unknown`.
        delivery: Delivery,
        /// A rate or concurrency limit: resending later is safe and may succeed.
        retryable: bool,
    },
    /// The outbox's file could not be written (full disk, read-only, damaged, its write lock
    /// held too long). `NotSent` when nothing of the call was sent (an entry is durable before
    /// its first byte leaves); `Unknown`, naming the entry, when its request may have reached
    /// the ERP and the outcome could not be recorded (the entry is then reconciled).
    #[error("storage: {message}")]
    Storage {
        /// Whether the entry's request may have reached the gateway.
        delivery: Delivery,
        /// The entry whose outcome could not be recorded (with `Unknown`).
        entry_id: Option<String>,
        /// What failed, without the category.
        message: String,
    },
    /// A bug in the library (a caught panic).
    #[error("internal: {message}")]
    Internal {
        /// What went wrong, without the category.
        message: String,
    },
}

impl Error {
    /// An `invalid_argument` that is not about one value (NULL pointer, not JSON, not an object).
    pub fn invalid(message: impl fmt::Display) -> Self {
        Error::InvalidArgument {
            field: None,
            message: message.to_string(),
        }
    }

    /// An `invalid_argument` about the value at JSON path `field`.
    /// An empty name (a key `""` in the caller's JSON) names nothing: no field then.
    pub fn invalid_at(field: &str, message: impl fmt::Display) -> Self {
        Error::InvalidArgument {
            field: (!field.is_empty()).then(|| field.to_owned()),
            message: message.to_string(),
        }
    }

    /// A `config` error that is not about one key.
    pub fn config(message: impl fmt::Display) -> Self {
        Error::Config {
            field: None,
            message: message.to_string(),
        }
    }

    /// A `config` error about key `field`.
    /// An empty name (a key `""` in the caller's JSON) names nothing: no field then.
    pub fn config_at(field: &str, message: impl fmt::Display) -> Self {
        Error::Config {
            field: (!field.is_empty()).then(|| field.to_owned()),
            message: message.to_string(),
        }
    }

    /// The stable ABI name of this error.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidArgument { .. } => "invalid_argument",
            Error::Config { .. } => "config",
            Error::Transport { .. } => "transport",
            Error::Timeout { .. } => "timeout",
            Error::Http { .. } => "http",
            Error::BadResponse { .. } => "bad_response",
            Error::Api { .. } => "api",
            Error::Storage { .. } => "storage",
            Error::Internal { .. } => "internal",
        }
    }

    /// Whether the request can have reached the gateway (docs/abi.md, "delivery").
    pub fn delivery(&self) -> Delivery {
        match self {
            Error::InvalidArgument { .. } | Error::Config { .. } => Delivery::NotSent,
            Error::Transport { delivery, .. }
            | Error::Timeout { delivery, .. }
            | Error::Api { delivery, .. }
            | Error::Storage { delivery, .. } => *delivery,
            Error::Http { .. } | Error::BadResponse { .. } | Error::Internal { .. } => {
                Delivery::Unknown
            }
        }
    }

    /// True when sending the very same request again is safe and may succeed: the gateway
    /// provably did not act on it (rate limited, or nothing left the machine).
    pub fn retryable(&self) -> bool {
        match self {
            Error::Api {
                retryable,
                delivery,
                ..
            } => *retryable && *delivery == Delivery::Rejected,
            Error::Transport { delivery, .. } | Error::Timeout { delivery, .. } => {
                *delivery == Delivery::NotSent
            }
            _ => false,
        }
    }
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;
