//! The ureq agent of one client: its timeouts, its proxy (from the config only) and its
//! connector chain.

use ureq::unversioned::transport::{
    ConnectProxyConnector, Connector, RustlsConnector, SocksConnector,
};

use super::resolver::QuickResolver;
use super::wire::{Coalesce, LeanTcpConnector};
use crate::config::Config;

pub(super) fn agent(config: &Config) -> ureq::Agent {
    // ureq would read HTTP_PROXY / ALL_PROXY from the environment by default: a till must not
    // send its returns through a proxy it was never configured with. Only the config's "proxy".
    let proxy = config
        .proxy
        .as_ref()
        .and_then(|p| ureq::Proxy::new(p.as_str()).ok());
    let agent_config = ureq::Agent::config_builder()
        .proxy(proxy)
        // Non-2xx bodies carry the gateway's JSON (or a proxy's page): read them, don't throw.
        .http_status_as_error(false)
        // A redirect would re-send the quick return to another address: never follow one.
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_connect(Some(config.connect_timeout))
        .timeout_global(Some(config.timeout))
        .max_idle_age(config.idle_timeout)
        .user_agent(concat!("libwdt/", env!("CARGO_PKG_VERSION")))
        .build();
    // ureq's default chain with our TCP transport in place of its own (docs in wire.rs).
    let chain =
        ().chain(SocksConnector::default())
            .chain(ConnectProxyConnector::default())
            .chain(LeanTcpConnector)
            .chain(RustlsConnector::default())
            .chain(Coalesce);
    ureq::Agent::with_parts(
        agent_config,
        chain,
        QuickResolver::new(config.resolve_hook.clone()),
    )
}
