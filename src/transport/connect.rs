//! Opening a connection: ureq's connector chain (SOCKS, HTTP CONNECT proxy, our TCP transport,
//! rustls) driven with ureq's own `Config`, and our resolver. Only new connections come here;
//! a warm call never does (mod.rs keeps the pool).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::config::Config as UreqConfig;
use ureq::http::Uri;
use ureq::unversioned::resolver::Resolver;
use ureq::unversioned::transport::time::{Duration as UDuration, Instant as UInstant};
use ureq::unversioned::transport::{
    ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout, RustlsConnector,
    SocksConnector, Transport as Wire,
};

use super::resolver::QuickResolver;
use super::wire::{self, LeanTcpConnector, Side};
use crate::config::Config;

/// Runs the whole connector chain once (the type ureq's CONNECT proxy connector expects, to
/// reach the proxy itself).
type RunChain = dyn Fn(&ConnectionDetails) -> Result<Box<dyn Wire>, ureq::Error> + Send + Sync;

/// How one client opens connections.
pub(super) struct Opener {
    config: UreqConfig,
    resolver: QuickResolver,
    chain: Arc<RunChain>,
    connect_timeout: Duration,
}

impl Opener {
    pub(super) fn new(config: &Config) -> Opener {
        // ureq would read HTTP_PROXY / ALL_PROXY from the environment by default: a till must
        // not send its returns through a proxy it was never configured with. Only "proxy".
        let proxy = config.proxy.as_ref().map(|p| p.proxy().clone());
        // The connectors read their settings from ureq's config: the proxy (SOCKS, CONNECT),
        // rustls' roots, no_delay and the buffer sizes of our TCP transport.
        // Buffers: ureq's defaults (128 KiB each way) are sized for downloads, and every byte of
        // them is zeroed, hence resident, for each pooled connection. A quick return's request is
        // a few KiB and its answer well under one; a larger body simply takes several writes.
        // The input buffer holds a response head (at most MAX_HEAD_BYTES, mod.rs) with room to
        // spare, so a head too large is reported as such, not as a stalled read.
        let ureq_config = ureq::Agent::config_builder()
            .proxy(proxy)
            .input_buffer_size(super::INPUT_BUFFER)
            .output_buffer_size(super::OUTPUT_BUFFER)
            .build();
        // ureq's default chain with our TCP transport in place of its own (docs in wire.rs).
        let chain =
            ().chain(SocksConnector::default())
                .chain(ConnectProxyConnector::default())
                .chain(LeanTcpConnector)
                .chain(RustlsConnector::default());
        let chain: Arc<RunChain> =
            Arc::new(
                move |details: &ConnectionDetails| match chain.connect(details, None)? {
                    Some(wire) => Ok(Box::new(wire) as Box<dyn Wire>),
                    None => Err(ureq::Error::ConnectionFailed),
                },
            );
        Opener {
            config: ureq_config,
            resolver: QuickResolver::new(config.resolve_hook.clone()),
            chain,
            connect_timeout: config.connect_timeout,
        }
    }

    /// A new connection to `uri`'s host, within the connect timeout and the call's deadline,
    /// with its side (what is known of its socket).
    pub(super) fn open(
        &self,
        uri: &Uri,
        deadline: Instant,
    ) -> Result<(Box<dyn Wire>, Arc<Side>), ureq::Error> {
        let timeout = || {
            let left = deadline.saturating_duration_since(Instant::now());
            let (after, reason) = if self.connect_timeout < left {
                (self.connect_timeout, ureq::Timeout::Connect)
            } else {
                (left, ureq::Timeout::Global)
            };
            NextTimeout {
                after: UDuration::Exact(after),
                reason,
                per_read: None,
                per_write: None,
            }
        };
        let first = timeout();
        if first.after.is_zero() {
            return Err(ureq::Error::Timeout(first.reason));
        }
        let proxy = self.config.proxy();
        // An HTTP or SOCKS5 proxy resolves the gateway's name itself; SOCKS4 needs our answer.
        let addrs = if proxy.is_some_and(|p| !p.resolve_target() && !p.is_no_proxy(uri)) {
            self.resolver.empty()
        } else {
            self.resolver.resolve(uri, &self.config, first)?
        };
        let details = ConnectionDetails {
            uri,
            addrs,
            config: &self.config,
            request_level: false,
            resolver: &self.resolver,
            now: UInstant::now(),
            timeout: timeout(),
            current_time: Arc::new(UInstant::now),
            run_connector: self.chain.clone(),
            // ureq's Agent::shutdown() uses these handles; a client has no such call (a call in
            // flight ends by its own deadline), so there is nothing to register with.
            register_shutdown: Arc::new(|_| Ok(())),
        };
        wire::clear_opened();
        let wire = (self.chain)(&details);
        let side = wire::take_opened();
        let wire = wire?;
        if uri.scheme_str() == Some("https") && !wire.is_tls() {
            return Err(ureq::Error::TlsRequired);
        }
        // Every transport of the chain passes through our TCP connector, which leaves the side;
        // a connection whose bytes nobody counts could not say `not_sent` honestly, so it is
        // not used (nothing of the request was written on it).
        let side = side.ok_or(ureq::Error::ConnectionFailed)?;
        Ok((wire, side))
    }
}
