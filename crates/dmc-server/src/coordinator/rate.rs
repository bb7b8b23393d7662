//! The request rate limit, per source (an unsigned client's host, an
//! established key, or all other keys together).

use std::collections::HashMap;
use std::sync::Mutex;

use dmc_core::{NodeId, Timestamp};

use super::{ApiError, Coordinator};

/// Requests per reporter (or remote address) per minute, fixed windows.
pub(super) struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    pub(super) fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn allow(&self, who: &str, now: Timestamp) -> bool {
        let minute = now.unix_secs() / 60;
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if w.len() > 100_000 {
            w.retain(|_, (m, _)| *m == minute);
        }
        let e = w.entry(who.to_string()).or_insert((minute, 0));
        if e.0 != minute {
            *e = (minute, 0);
        }
        e.1 += 1;
        e.1 <= self.per_minute
    }
}

impl Coordinator {
    pub(super) fn rate_limit(&self, who: &str) -> Result<(), ApiError> {
        if self.limiter.allow(who, self.now()) {
            Ok(())
        } else {
            Err(ApiError::Limit {
                limit: "requests_per_minute",
                message: format!(
                    "more than {} requests this minute from {who}",
                    self.config.requests_per_minute
                ),
            })
        }
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
