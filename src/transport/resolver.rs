//! Name resolution for the agent: IP literals answered directly, a host name's addresses kept for
//! a short while, and a per-client hook that replaces the system resolver (tests use it to make a
//! name fail without any real DNS lookup).

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::config::ResolveHook;

/// ureq resolves the host before it looks in its connection pool, and with a timeout set it
/// does so on a new thread, for every call, even for an IP literal and a pooled connection:
/// measured at about a third of the client's CPU per call and 3x the latency. This resolver
/// answers IP literals directly and keeps a host name's addresses for a short while, falling
/// back to ureq's own resolver (with its timeout) on a miss. The resolver API is ureq's
/// `unversioned` one, hence the exact version pin in Cargo.toml.
#[derive(Debug, Default)]
pub(super) struct QuickResolver {
    inner: DefaultResolver,
    hook: Option<ResolveHook>,
    cache: Mutex<Option<(String, Instant, ResolvedSocketAddrs)>>,
}

/// Long enough to matter for a till's bursts, short enough to follow a gateway's DNS change.
const DNS_TTL: Duration = Duration::from_secs(30);

impl QuickResolver {
    pub(super) fn new(hook: Option<ResolveHook>) -> QuickResolver {
        QuickResolver {
            hook,
            ..QuickResolver::default()
        }
    }
}

impl Resolver for QuickResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or("");
        let default_port = if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        };
        let port = uri.port_u16().unwrap_or(default_port);
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Some(hook) = &self.hook {
            let found = (hook.0)(bare, port).map_err(ureq::Error::Io)?;
            let mut addrs = self.empty();
            for a in found {
                if addrs.try_push(a).is_err() {
                    break;
                }
            }
            if addrs.is_empty() {
                return Err(ureq::Error::HostNotFound);
            }
            return Ok(addrs);
        }
        if let Ok(ip) = bare.parse::<IpAddr>() {
            let mut addrs = self.empty();
            addrs.push(SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        let key = format!("{host}:{port}");
        if let Ok(cache) = self.cache.lock() {
            if let Some((k, at, addrs)) = cache.as_ref() {
                if *k == key && at.elapsed() < DNS_TTL {
                    return Ok(addrs.clone());
                }
            }
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some((key, Instant::now(), addrs.clone()));
        }
        Ok(addrs)
    }
}
