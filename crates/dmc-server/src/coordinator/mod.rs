//! The coordinator's behaviour, independent of transport: validation,
//! limits, registration, queries and the cached snapshot. The gRPC and
//! REST layers only translate to and from their wire formats
//! (`crate::encode` renders snapshots); this module uses neither them nor
//! `encode`. Every rule reads time from the [`Clock`] (tests drive it by
//! hand: `fake_clock`); `Instant` only measures request latency for
//! `/metrics`.
//!
//! * [`register`]: validation and admission of registrations;
//! * [`query`]: the cached snapshot, deltas and v2 answers;
//! * [`liquidity`]: the in-memory liquidity model, `/v2/liquidity` and
//!   the model-derived LND snapshot;
//! * [`rate`]: the per-source request rate limit;
//! * [`admin`]: the token-guarded admin operations;
//! * [`metrics`]: counters, `/metrics` text and `/healthz`;
//! * [`error`]: why a request was refused; [`clock`]: where time comes from.

pub mod admin;
pub mod clock;
pub mod error;
pub mod liquidity;
pub mod metrics;
pub mod query;
pub mod rate;
pub mod register;

#[cfg(test)]
mod fake_clock;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use dmc_core::aggregate::{GraphStanding, Reporter, Ungraphed};
use dmc_core::{NodeId, Timestamp};
use dmc_store::coordinator::{AggregationPolicy, CoordinatorStore};

use crate::config::ServerConfig;
use crate::standing::ServerGraph;
use rate::RateLimiter;

pub use clock::{system_clock, Clock};
pub use error::{echo_bytes, ApiError, INTERNAL_MESSAGE};
pub use liquidity::{LiquidityPage, LiquidityPair, LiquidityQuery};
pub use metrics::{Metrics, MetricsText, GRAPH_MAX_AGE_SECS};
pub use query::{CachedSnapshot, V2Answer};
pub use rate::source_key;
pub use register::Registered;

/// Runs `f` on the coordinator off the async workers (its operations
/// block: the store's transactions, PostgreSQL's client); a panic in it is
/// an internal error. What every handler of both transports calls.
pub async fn blocking<T, F>(c: &Arc<Coordinator>, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Coordinator) -> Result<T, ApiError> + Send + 'static,
{
    let c = c.clone();
    tokio::task::spawn_blocking(move || f(&c))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// A running coordinator's state.
pub struct Coordinator {
    /// The settings it was started with (validated by `serve`).
    pub config: ServerConfig,
    /// Where observations, aggregates, bans and replay digests live.
    pub store: Arc<dyn CoordinatorStore>,
    /// Its own `/metrics` counters.
    pub metrics: Metrics,
    /// Counters kept outside, shown after these in `/metrics` (the
    /// listeners', `crate::limits`).
    more_metrics: RwLock<Vec<Arc<dyn MetricsText>>>,
    clock: Clock,
    limiter: RateLimiter,
    snapshot: Mutex<Option<Arc<CachedSnapshot>>>,
    /// Held while a snapshot is read, so concurrent downloads of a new
    /// cursor wait for one read instead of each making their own.
    snapshot_build: Mutex<()>,
    /// `None` with `--graph none`.
    graph: RwLock<Option<Arc<ServerGraph>>>,
    /// Observations held by reporters that are not established (an
    /// estimate: recounted by [`Coordinator::recount_unverified`], raised by
    /// every accepted registration of theirs).
    unverified_observations: AtomicU64,
    /// The bearer token of the admin endpoints (`None`: they refuse all).
    admin_token: RwLock<Option<String>>,
    /// The liquidity model fed by every accepted registration ([`liquidity`]).
    liquidity: Mutex<liquidity::Liquidity>,
    /// The last model-derived LND snapshot: the model generation and time it
    /// was derived at (`lnd_records = "model"`).
    model_snapshot: Mutex<Option<(u64, Timestamp, Arc<CachedSnapshot>)>>,
}

impl Coordinator {
    /// A coordinator on `store`, its rate limit read from `config`; no graph
    /// until [`Coordinator::set_graph`], no admin token (admin requests refused)
    /// until [`Coordinator::set_admin_token`].
    pub fn new(config: ServerConfig, store: Arc<dyn CoordinatorStore>, clock: Clock) -> Self {
        let limiter = RateLimiter::new(config.requests_per_minute, clock.clone());
        Coordinator {
            config,
            store,
            metrics: Metrics::default(),
            more_metrics: RwLock::new(Vec::new()),
            clock,
            limiter,
            snapshot: Mutex::new(None),
            snapshot_build: Mutex::new(()),
            graph: RwLock::new(None),
            unverified_observations: AtomicU64::new(0),
            admin_token: RwLock::new(None),
            liquidity: Mutex::new(liquidity::Liquidity::default()),
            model_snapshot: Mutex::new(None),
        }
    }

    /// Recounts what reporters that are not established hold (at start,
    /// after a graph change and after each reputation pass). Blocking.
    pub fn recount_unverified(&self) -> Result<u64, ApiError> {
        let n = self
            .store
            .reporter_observations()
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .iter()
            .filter(|(r, _)| !self.is_established_reporter(r))
            .map(|(_, n)| *n)
            .sum();
        self.unverified_observations.store(n, Ordering::Relaxed);
        Ok(n)
    }

    /// The graph in use (`None`: `--graph none`).
    pub fn graph(&self) -> Option<Arc<ServerGraph>> {
        self.graph.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Uses `graph` from now on and recomputes every pair with it (a new
    /// graph can change who is established and which channels exist).
    /// Blocking. Returns how many served pairs changed.
    pub fn set_graph(&self, graph: Option<Arc<ServerGraph>>) -> Result<usize, ApiError> {
        *self.graph.write().unwrap_or_else(|p| p.into_inner()) = graph;
        let changed = self
            .store
            .set_policy(self.policy())
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        self.recount_unverified()?;
        Ok(changed)
    }

    /// How the store weighs reporters, from the config and the graph.
    pub fn policy(&self) -> AggregationPolicy {
        AggregationPolicy {
            params: self.config.aggregation_params(),
            graph: match self.graph() {
                Some(g) => g as Arc<dyn GraphStanding>,
                None => Arc::new(Ungraphed),
            },
            ..Default::default()
        }
    }

    /// Whether a signed key counts as established (always, with no graph).
    pub fn is_established(&self, key: &NodeId) -> bool {
        self.graph().is_none_or(|g| g.is_established(key))
    }

    /// A signed reporter of an established key (unverified keys and
    /// unsigned sources are not).
    fn is_established_reporter(&self, reporter: &Reporter) -> bool {
        reporter.key().is_some_and(|k| self.is_established(k))
    }

    /// The time by the coordinator's clock (the system's, or a test's).
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }
}
