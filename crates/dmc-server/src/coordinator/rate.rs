//! The request rate limit, per source (an unsigned client's host, an
//! established key, or all other keys together): governor's GCRA on the
//! coordinator's [`Clock`], so the fake-clock tests drive it too.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dmc_core::NodeId;
use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::Quota;

use super::{ApiError, Clock, Coordinator};

/// The address a source counts under, for the rate limit as for the
/// listeners' per-IP caps: IPv4 (also when IPv4-mapped), or an IPv6
/// address's /64, since one host gets a whole /64.
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// How many sources are held before the idle ones are dropped.
const SWEEP_ABOVE: usize = 100_000;

/// The coordinator's clock as governor reads it: nanoseconds since the
/// Unix epoch (a clock before it reads 0).
struct CoordinatorClock(Clock);

impl GovernorClock for CoordinatorClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::new(u64::try_from((self.0)().to_raw()).unwrap_or(0))
    }
}

/// `requests_per_minute` per source, as a generic cell rate: a source may
/// send a burst of that many at once, then one more each `60 s /
/// requests_per_minute`; a source idle for a minute has its whole burst
/// again.
pub(super) struct RateLimiter {
    limiter: governor::RateLimiter<String, HashMapStateStore<String>, CoordinatorClock, NoOpMiddleware<Nanos>>,
    /// Sources held past this are swept: every source idle long enough to
    /// be indistinguishable from a new one (whose whole burst would be
    /// back; at most two minutes after its last request) is forgotten. Set
    /// to twice what a sweep keeps, so a flood of live sources does not
    /// make every request scan them all.
    sweep_above: AtomicUsize,
}

impl RateLimiter {
    pub(super) fn new(per_minute: u32, clock: Clock) -> RateLimiter {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        RateLimiter {
            limiter: governor::RateLimiter::new(quota, HashMapStateStore::default(), CoordinatorClock(clock)),
            sweep_above: AtomicUsize::new(SWEEP_ABOVE),
        }
    }

    /// Takes one request from `who`'s budget; `Err` says how long until
    /// the next one would be allowed.
    pub(super) fn check(&self, who: &str) -> Result<(), Duration> {
        let held = self.limiter.len();
        if held > self.sweep_above.load(Ordering::Relaxed) {
            self.limiter.retain_recent();
            let kept = self.limiter.len();
            self.sweep_above
                .store(SWEEP_ABOVE.max(kept.saturating_mul(2)), Ordering::Relaxed);
        }
        self.limiter
            .check_key(&who.to_string())
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    /// How many sources are held (idle ones until the next sweep).
    #[cfg(test)]
    pub(super) fn sources_held(&self) -> usize {
        self.limiter.len()
    }

    /// Forgets every source whose budget is full again.
    #[cfg(test)]
    pub(super) fn sweep(&self) {
        self.limiter.retain_recent();
    }
}

impl Coordinator {
    pub(super) fn rate_limit(&self, who: &str) -> Result<(), ApiError> {
        self.limiter.check(who).map_err(|wait| ApiError::Limit {
            limit: "requests_per_minute",
            message: format!(
                "more than {} requests per minute from {who}; the next is allowed in {}s",
                self.config.requests_per_minute,
                wait.as_secs_f64().ceil() as u64
            ),
        })
    }

    /// Established keys each have their own budget; all other signed keys
    /// share one (a fresh key costs nothing).
    pub(super) fn rate_limit_signed(&self, key: &NodeId) -> Result<(), ApiError> {
        if self.is_established(key) {
            self.rate_limit(&key.to_hex())
        } else {
            self.rate_limit("unverified keys (not established nodes of the graph; they share one budget)")
        }
    }
}
