//! Numbers that differ between calls, threads and processes, without a crate: std's
//! `RandomState` is seeded from the OS once per process and differs per instance; the time, a
//! counter and the pid go through it. For backoff jitter and ids that must not collide between
//! tills, never for secrets.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// 64 bits that differ from every other call's.
pub fn next_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_differ() {
        let seen: std::collections::HashSet<u64> = (0..1000).map(|_| next_u64()).collect();
        assert_eq!(seen.len(), 1000);
    }
}
