//! The coordinator's behaviour, independent of transport: validation,
//! limits, registration, queries and the cached snapshot. The gRPC and
//! REST layers only translate to and from their wire formats
//! ([`crate::encode`] renders snapshots). Every rule reads time from the
//! [`Clock`] (tests drive it by hand: `fake_clock`); `Instant` only
//! measures request latency for `/metrics`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use dmc_core::aggregate::{GraphStanding, Reporter, Ungraphed};
use dmc_core::json::Json;
use dmc_core::rpc::{self, PairHistory};
use dmc_core::{NodeId, PairSnapshot, Timestamp};
use dmc_store::coordinator::{
    AggregationPolicy, CoordinatorStore, Delta, Refusal, RegisterOutcome, Registration, SignedBody,
};

use crate::config::ServerConfig;
use crate::encode::CachedSnapshot;
use crate::standing::ServerGraph;

/// A graph older than this makes `/healthz` say `degraded`.
pub const GRAPH_MAX_AGE_SECS: i64 = 14 * 86_400;

/// Why a request was refused; each maps to a gRPC status and an HTTP code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// Bad data; the message names the pair or field.
    Invalid(String),
    /// Signature missing, forged, replayed, or unsigned data not accepted.
    Unauthenticated(String),
    /// Authenticated, but not allowed (a banned reporter).
    Forbidden(String),
    /// A configured limit; `limit` names it.
    Limit {
        limit: &'static str,
        message: String,
    },
    Internal(String),
}

/// Client bytes as hex for an error message, at most 33 bytes' worth: a
/// megabyte "key" must not come back in full (it would overflow gRPC
/// metadata and amplify the request).
pub fn echo_bytes(b: &[u8]) -> String {
    if b.len() <= 33 {
        dmc_core::node::encode_hex(b)
    } else {
        format!("{}… ({} bytes)", dmc_core::node::encode_hex(&b[..33]), b.len())
    }
}

/// What a client is told of an internal error: the details (store paths,
/// database messages) go to the log only.
pub const INTERNAL_MESSAGE: &str = "internal error; the coordinator's log has the details";

impl ApiError {
    /// The text a client receives (internal details are logged, not sent).
    pub fn client_message(&self) -> &str {
        match self {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                INTERNAL_MESSAGE
            }
            other => other.message(),
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ApiError::Invalid(m) | ApiError::Unauthenticated(m) | ApiError::Forbidden(m) | ApiError::Internal(m) => m,
            ApiError::Limit { message, .. } => message,
        }
    }

    /// `{"error": ..., "code": ..., "limit": ...}` for REST bodies.
    pub fn to_json(&self) -> Json {
        let (code, limit) = match self {
            ApiError::Invalid(_) => ("invalid_argument", None),
            ApiError::Unauthenticated(_) => ("unauthenticated", None),
            ApiError::Forbidden(_) => ("permission_denied", None),
            ApiError::Limit { limit, .. } => ("resource_exhausted", Some(*limit)),
            ApiError::Internal(_) => ("internal", None),
        };
        let mut f = vec![("error", Json::str(self.client_message())), ("code", Json::str(code))];
        if let Some(l) = limit {
            f.push(("limit", Json::str(l)));
        }
        Json::object(f)
    }
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    /// Registrations refused by a storage cap.
    pub refused_storage: AtomicU64,
    pub register_requests: AtomicU64,
    pub register_refused: AtomicU64,
    pub query_requests: AtomicU64,
    pub pairs_received: AtomicU64,
    pub register_micros_total: AtomicU64,
    pub query_micros_total: AtomicU64,
    /// Full snapshots read from the store (one per cursor that was asked for).
    pub snapshot_builds: AtomicU64,
}

/// Requests per reporter (or remote address) per minute, fixed windows.
struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    fn allow(&self, who: &str, now: Timestamp) -> bool {
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

/// What a v2 query is answered with.
pub enum V2Answer {
    /// The changes since the client's cursor.
    Delta(Delta),
    /// The whole aggregate (no removals), streamed from the shared snapshot.
    Full {
        snapshot: Arc<CachedSnapshot>,
        full_resync: bool,
    },
}

pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// A running coordinator's state.
pub struct Coordinator {
    pub config: ServerConfig,
    pub store: Arc<dyn CoordinatorStore>,
    pub metrics: Metrics,
    /// The listeners' connection counters (`crate::limits`), shown with
    /// these in `/metrics`.
    pub edge_metrics: Arc<crate::limits::EdgeMetrics>,
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
}

/// A successful registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    pub accepted: usize,
    pub stale_dropped: usize,
    pub outcome: RegisterOutcome,
}

impl Registered {
    /// The Go coordinator's success message.
    pub fn message(&self) -> String {
        let mut m = format!("Successfully registered {} pairs", self.accepted);
        if self.stale_dropped > 0 {
            m += &format!(" and removed {} stale pairs", self.stale_dropped);
        }
        m
    }
}

impl Coordinator {
    pub fn new(config: ServerConfig, store: Arc<dyn CoordinatorStore>, clock: Clock) -> Self {
        let limiter = RateLimiter {
            per_minute: config.requests_per_minute,
            windows: Mutex::new(HashMap::new()),
        };
        Coordinator {
            config,
            store,
            metrics: Metrics::default(),
            edge_metrics: Default::default(),
            clock,
            limiter,
            snapshot: Mutex::new(None),
            snapshot_build: Mutex::new(()),
            graph: RwLock::new(None),
            unverified_observations: AtomicU64::new(0),
            admin_token: RwLock::new(None),
        }
    }

    pub fn set_admin_token(&self, token: String) {
        *self.admin_token.write().unwrap_or_else(|p| p.into_inner()) = Some(token);
    }

    /// Checks an `Authorization` header against the admin token, in time
    /// independent of where they differ.
    fn check_admin(&self, authorization: Option<&str>) -> Result<(), ApiError> {
        let token = self.admin_token.read().unwrap_or_else(|p| p.into_inner()).clone();
        let given = authorization.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
        let ok = match (token, given) {
            (Some(t), Some(g)) if t.len() == g.len() => {
                t.bytes().zip(g.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(ApiError::Unauthenticated(
                "admin: send Authorization: Bearer <the token in the server's <data-dir>/admin.token>".into(),
            ))
        }
    }

    /// `dmc admin forget-reporter` while the server runs: deletes the
    /// reporter's observations (its replay state stays, so old bodies
    /// cannot bring it back) and, with `ban`, refuses its future
    /// registrations. Blocking. Returns (observations removed, newly banned).
    pub fn admin_forget(
        &self,
        authorization: Option<&str>,
        reporter: &str,
        ban: bool,
    ) -> Result<(usize, bool), ApiError> {
        self.check_admin(authorization)?;
        let r = Reporter::parse(reporter).map_err(|e| ApiError::Invalid(format!("reporter: {e}")))?;
        let banned = if ban {
            self.store
                .ban_reporter(r)
                .map_err(|e| ApiError::Internal(e.to_string()))?
        } else {
            false
        };
        let n = self
            .store
            .forget_reporter(r)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        tracing::info!(reporter = %r, observations = n, banned = ban, "admin: reporter forgotten");
        self.recount_unverified()?;
        Ok((n, banned))
    }

    /// `dmc admin check` while the server runs: every table of the open
    /// store read and checked. Blocking.
    pub fn admin_check(
        &self,
        authorization: Option<&str>,
    ) -> Result<dmc_store::coordinator::salvage::CheckReport, ApiError> {
        self.check_admin(authorization)?;
        let r = self.store.check().map_err(|e| ApiError::Invalid(e.to_string()))?;
        tracing::info!(problems = r.problems_total, "admin: store checked");
        Ok(r)
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

    /// Refuses a registration that would take one reporter, or the whole
    /// store, past its cap of observations (updates of pairs it already
    /// holds count too: the check is cheap and conservative).
    fn storage_caps(&self, reporter: &Reporter, pairs: usize) -> Result<(), ApiError> {
        let (mine, all) = self
            .store
            .observation_counts(reporter)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let n = pairs as u64;
        if mine.saturating_add(n) > self.config.max_observations_per_reporter {
            self.metrics.refused_storage.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%reporter, held = mine, pairs, "refused: max_observations_per_reporter");
            return Err(ApiError::Limit {
                limit: "max_observations_per_reporter",
                message: format!(
                    "this reporter already holds {mine} observations (max_observations_per_reporter {})",
                    self.config.max_observations_per_reporter
                ),
            });
        }
        if all.saturating_add(n) > self.config.max_observations {
            self.metrics.refused_storage.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%reporter, held = all, pairs, "refused: max_observations");
            return Err(ApiError::Limit {
                limit: "max_observations",
                message: format!(
                    "the coordinator holds {all} observations (max_observations {})",
                    self.config.max_observations
                ),
            });
        }
        Ok(())
    }

    /// Refuses a registration of a reporter that is not established once
    /// they all together hold `max_unverified_observations`.
    fn unverified_budget(&self, reporter: &Reporter, pairs: usize) -> Result<(), ApiError> {
        if self.is_established_reporter(reporter) {
            return Ok(());
        }
        let held = self.unverified_observations.load(Ordering::Relaxed);
        if held.saturating_add(pairs as u64) > self.config.max_unverified_observations {
            self.metrics.refused_storage.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%reporter, held, pairs, "refused: max_unverified_observations");
            return Err(ApiError::Limit {
                limit: "max_unverified_observations",
                message: format!(
                    "reporters that are not established nodes of the graph (unverified keys and unsigned sources) \
                     already hold {held} observations together (max_unverified_observations {}); \
                     register from an established node or wait for old observations to expire",
                    self.config.max_unverified_observations
                ),
            });
        }
        Ok(())
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

    /// The graph's date and age for `/healthz` and `/metrics`: (Unix
    /// seconds of its newest announcement, age in seconds).
    pub fn graph_age(&self) -> Option<(i64, i64)> {
        let newest = self.graph()?.newest_update? as i64;
        Some((newest, (self.now().unix_secs() - newest).max(0)))
    }

    /// `/healthz`: `ok`, or `degraded` with the reason.
    pub fn health_json(&self) -> Json {
        let graph = self.graph();
        let age = self.graph_age();
        let problem = match (&graph, age) {
            (None, _) => Some("no graph (--graph none): reporter standing and channel checks are off".to_string()),
            (Some(_), None) => Some("the graph carries no announcement times: its age is unknown".to_string()),
            (Some(_), Some((_, a))) if a > GRAPH_MAX_AGE_SECS => Some(format!(
                "the graph is {} days old (more than {}): load a fresh describegraph with --graph and SIGHUP",
                a / 86_400,
                GRAPH_MAX_AGE_SECS / 86_400
            )),
            _ => None,
        };
        let mut f = vec![("status", Json::str(if problem.is_some() { "degraded" } else { "ok" }))];
        if let Some(p) = problem {
            f.push(("reason", Json::str(p)));
        }
        match &graph {
            Some(g) => {
                let date = age.map_or(Json::Raw("null".into()), |(t, _)| {
                    Json::str(crate::standing::utc_date(t))
                });
                f.push(("graph_date", date));
                f.push((
                    "graph_age_days",
                    age.map_or(Json::Raw("null".into()), |(_, a)| Json::Raw((a / 86_400).to_string())),
                ));
                f.push(("graph_file", Json::str(g.path.display().to_string())));
                f.push(("graph_nodes", Json::Raw(g.node_count().to_string())));
                f.push(("graph_channels", Json::Raw(g.channel_count().to_string())));
                f.push(("established_nodes", Json::Raw(g.established_count().to_string())));
            }
            None => f.push(("graph_date", Json::Raw("null".into()))),
        }
        Json::object(f)
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Validates pairs as LND's import would (after lncli's loadmc
    /// sanitising, so amount-independent failures are kept), checks keys
    /// are on the curve and no time lies in the future, and drops stale
    /// pairs. All or nothing.
    fn validate(
        &self,
        mut pairs: Vec<PairHistory>,
        successes_only: bool,
    ) -> Result<(Vec<PairSnapshot>, usize), ApiError> {
        if pairs.is_empty() {
            return Err(ApiError::Invalid("pairs: at least one pair required".into()));
        }
        if pairs.len() > self.config.max_pairs_per_request {
            return Err(ApiError::Limit {
                limit: "max_pairs_per_request",
                message: format!(
                    "{} pairs exceed max_pairs_per_request ({})",
                    pairs.len(),
                    self.config.max_pairs_per_request
                ),
            });
        }
        if successes_only {
            for p in &mut pairs {
                p.history.fail_time = 0;
                p.history.fail_amt_sat = 0;
                p.history.fail_amt_msat = 0;
            }
        }
        rpc::sanitize_loadmc(&mut pairs);
        let now = self.now();
        let latest_allowed = now.add(self.config.future_skew);
        let oldest_allowed = now.add(-self.config.staleness_window);
        for (i, p) in pairs.iter().enumerate() {
            for (name, b) in [("node_from", &p.node_from), ("node_to", &p.node_to)] {
                NodeId::from_bytes(b)
                    .map_err(|e| ApiError::Invalid(format!("pairs[{i}].{name}: {}: {e}", echo_bytes(b))))?;
            }
        }
        let snapshots = rpc::validate_import(&pairs).map_err(|e| ApiError::Invalid(e.0))?;
        let mut fresh = Vec::with_capacity(snapshots.len());
        for (i, s) in snapshots.into_iter().enumerate() {
            let newest = s.result.fail_time.max(s.result.success_time);
            if newest.after(latest_allowed) {
                return Err(ApiError::Invalid(format!(
                    "pairs[{i}]: pair {} -> {}: time {} is more than {}s in the future",
                    s.pair.from,
                    s.pair.to,
                    newest.unix_secs(),
                    self.config.future_skew / 1_000_000_000
                )));
            }
            if !newest.after(oldest_allowed) {
                continue;
            }
            fresh.push(s);
        }
        let stale = pairs.len() - fresh.len();
        if fresh.is_empty() {
            return Err(ApiError::Invalid(format!(
                "all {} pairs are older than the staleness window ({}h)",
                pairs.len(),
                self.config.staleness_window / 3_600_000_000_000
            )));
        }
        Ok((fresh, stale))
    }

    fn store_registration(
        &self,
        reporter: Reporter,
        pairs: Vec<PairSnapshot>,
        stale: usize,
        signed: Option<SignedBody>,
    ) -> Result<Registered, ApiError> {
        let accepted = pairs.len();
        self.unverified_budget(&reporter, accepted)?;
        self.storage_caps(&reporter, accepted)?;
        let outcome = self
            .store
            .register(Registration {
                reporter,
                pairs,
                received: self.now(),
                signed,
            })
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        match outcome.refused {
            Some(Refusal::AlreadyReceived) => {
                return Err(ApiError::Unauthenticated(
                    "signature: this registration was already received (replay)".into(),
                ))
            }
            Some(Refusal::Banned) => {
                return Err(ApiError::Forbidden(format!(
                    "reporter {reporter} is banned from this coordinator"
                )))
            }
            Some(Refusal::OlderThanLast { last }) => {
                return Err(ApiError::Unauthenticated(format!(
                    "timestamp: {} is older than this reporter's last accepted registration ({last}): \
                     replayed, or sign a new body",
                    signed.map_or(0, |b| b.timestamp)
                )))
            }
            None => {}
        }
        self.metrics
            .pairs_received
            .fetch_add(accepted as u64, Ordering::Relaxed);
        if !self.is_established_reporter(&reporter) {
            self.unverified_observations
                .fetch_add(accepted as u64, Ordering::Relaxed);
        }
        Ok(Registered {
            accepted,
            stale_dropped: stale,
            outcome,
        })
    }

    fn count<T>(&self, started: Instant, r: Result<T, ApiError>) -> Result<T, ApiError> {
        self.metrics.register_requests.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .register_micros_total
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        if r.is_err() {
            self.metrics.register_refused.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// An unsigned (v1, ecrpc) registration from `remote`.
    pub fn register_unsigned(&self, pairs: Vec<PairHistory>, remote: &str) -> Result<Registered, ApiError> {
        let started = Instant::now();
        let r = (|| {
            if !self.config.accept_unsigned {
                return Err(ApiError::Unauthenticated(
                    "unsigned registrations are not accepted here; use the signed v2 API".into(),
                ));
            }
            let ip = remote.parse::<std::net::IpAddr>().ok();
            // Per host, as the connection caps count it: an IPv6 host has a whole /64.
            let source = ip.map_or_else(|| remote.to_string(), |ip| crate::limits::source_key(ip).to_string());
            self.rate_limit(&source)?;
            let (pairs, stale) = self.validate(pairs, false)?;
            let reporter = ip.map_or(Reporter::Unattributed, Reporter::anonymous);
            self.store_registration(reporter, pairs, stale, None)
        })();
        self.count(started, r)
    }

    fn rate_limit(&self, who: &str) -> Result<(), ApiError> {
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
    fn rate_limit_signed(&self, key: &NodeId) -> Result<(), ApiError> {
        if self.is_established(key) {
            self.rate_limit(&key.to_hex())
        } else {
            self.rate_limit("unverified keys (not established nodes of the graph; they share one budget)")
        }
    }

    /// A signed (v2) registration: `body` is what was signed; the caller
    /// decoded `reporter`, `timestamp`, `pairs` and `successes_only` from it.
    pub fn register_signed(
        &self,
        body: &[u8],
        signature: &str,
        reporter: &[u8],
        timestamp: i64,
        pairs: Vec<PairHistory>,
        successes_only: bool,
    ) -> Result<Registered, ApiError> {
        let started = Instant::now();
        let r = (|| {
            let claimed = NodeId::from_bytes(reporter)
                .map_err(|e| ApiError::Invalid(format!("reporter: {}: {e}", echo_bytes(reporter))))?;
            let signer = dmc_core::signmsg::recover_signer(body, signature)
                .map_err(|e| ApiError::Unauthenticated(format!("signature: {e}")))?;
            if signer != claimed {
                return Err(ApiError::Unauthenticated(format!(
                    "signature: signed by {signer}, but the body names reporter {claimed}"
                )));
            }
            // In i128 nanoseconds: no timestamp can saturate or wrap past the check.
            let skew = self.now().to_raw() - i128::from(timestamp) * 1_000_000_000;
            if skew.abs() > i128::from(self.config.signature_window) {
                return Err(ApiError::Unauthenticated(format!(
                    "timestamp: {timestamp} is outside the {}s signature window (replayed or clock skew)",
                    self.config.signature_window / 1_000_000_000
                )));
            }
            // Keyed by the signed body, not the signature text: several
            // encodings of one signature recover the same key. The store
            // records it with the pairs, in one transaction, so only a body
            // that was durably stored is ever "already received".
            let signed = SignedBody {
                digest: dmc_core::signmsg::message_digest(body),
                timestamp,
            };
            self.rate_limit_signed(&claimed)?;
            let (pairs, stale) = self.validate(pairs, successes_only)?;
            self.store_registration(Reporter::Node(claimed), pairs, stale, Some(signed))
        })();
        self.count(started, r)
    }

    /// The full snapshot, rebuilt only when the cursor moved. Blocking.
    pub fn snapshot(&self) -> Result<Arc<CachedSnapshot>, ApiError> {
        self.metrics.query_requests.fetch_add(1, Ordering::Relaxed);
        self.cached_snapshot()
    }

    fn cached_snapshot(&self) -> Result<Arc<CachedSnapshot>, ApiError> {
        let started = Instant::now();
        let cursor = self.store.cursor().map_err(|e| ApiError::Internal(e.to_string()))?;
        let cached = || {
            self.snapshot
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .filter(|s| s.cursor >= cursor)
                .cloned()
        };
        if let Some(s) = cached() {
            return Ok(s);
        }
        let _building = self.snapshot_build.lock().unwrap_or_else(|p| p.into_inner());
        // Another download may have read it while this one waited.
        if let Some(s) = cached() {
            return Ok(s);
        }
        let (pairs, cursor) = self.store.snapshot().map_err(|e| ApiError::Internal(e.to_string()))?;
        self.metrics.snapshot_builds.fetch_add(1, Ordering::Relaxed);
        let snap = Arc::new(CachedSnapshot {
            cursor,
            pairs: Arc::new(pairs),
            batch: self.config.query_batch_size,
            renders: Default::default(),
        });
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = Some(snap.clone());
        self.metrics
            .query_micros_total
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        Ok(snap)
    }

    pub fn delta(&self, since: u64) -> Result<Delta, ApiError> {
        self.metrics.query_requests.fetch_add(1, Ordering::Relaxed);
        self.store
            .changes_since(since)
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// A v2 query: changes since `since`, or (no cursor, cursor 0, or one
    /// that needs a full resync) the whole aggregate from the cached
    /// snapshot, shared by every download of that cursor. Blocking.
    pub fn query_v2(&self, since: Option<u64>) -> Result<V2Answer, ApiError> {
        self.metrics.query_requests.fetch_add(1, Ordering::Relaxed);
        let internal = |e: dmc_store::StoreError| ApiError::Internal(e.to_string());
        let full_resync = match since {
            None => true,
            // Everything changed since cursor 0: the whole aggregate,
            // flagged as the store flags it (a resync once tombstones expired).
            Some(0) => self.store.resync_needed(0).map_err(internal)?,
            Some(c) => {
                if !self.store.resync_needed(c).map_err(internal)? {
                    let d = self.store.changes_since(c).map_err(internal)?;
                    if !d.full_resync {
                        return Ok(V2Answer::Delta(d));
                    }
                    // A cleanup expired the cursor in between: drop the copy.
                }
                true
            }
        };
        Ok(V2Answer::Full {
            snapshot: self.cached_snapshot()?,
            full_resync,
        })
    }

    /// Prometheus text for `/metrics`.
    pub fn metrics_text(&self) -> String {
        let m = &self.metrics;
        let stats = self.store.stats().unwrap_or_default();
        let g = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, v: u64| {
            out += &format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n");
        };
        metric(
            "dmc_register_requests_total",
            "counter",
            "Registrations received.",
            g(&m.register_requests),
        );
        metric(
            "dmc_register_refused_total",
            "counter",
            "Registrations refused.",
            g(&m.register_refused),
        );
        metric(
            "dmc_query_requests_total",
            "counter",
            "Snapshot and delta queries.",
            g(&m.query_requests),
        );
        metric(
            "dmc_pairs_received_total",
            "counter",
            "Pairs accepted in registrations.",
            g(&m.pairs_received),
        );
        metric(
            "dmc_register_microseconds_total",
            "counter",
            "Time spent in registrations.",
            g(&m.register_micros_total),
        );
        metric(
            "dmc_query_microseconds_total",
            "counter",
            "Time spent building snapshots.",
            g(&m.query_micros_total),
        );
        metric(
            "dmc_snapshot_builds_total",
            "counter",
            "Full snapshots read from the store and cached (at most one per cursor).",
            g(&m.snapshot_builds),
        );
        metric("dmc_store_pairs", "gauge", "Aggregated pairs stored.", stats.pairs);
        metric(
            "dmc_store_observations",
            "gauge",
            "Per-reporter observations stored.",
            stats.observations,
        );
        metric("dmc_store_reporters", "gauge", "Distinct reporters.", stats.reporters);
        metric("dmc_store_cursor", "gauge", "Current change cursor.", stats.cursor);
        metric(
            "dmc_pairs_held_no_channel",
            "gauge",
            "Pairs with observations not served: no channel between their nodes in the graph.",
            stats.held_no_channel,
        );
        metric(
            "dmc_pairs_held_unbacked",
            "gauge",
            "Pairs with observations not served: reporters weigh less than min_serving_weight.",
            stats.held_unbacked,
        );
        metric(
            "dmc_pairs_held_unservable",
            "gauge",
            "Pairs with observations not served: nothing LND would import.",
            stats.held_unservable,
        );
        metric(
            "dmc_register_refused_storage_total",
            "counter",
            "Registrations refused by max_observations_per_reporter, max_observations or max_unverified_observations.",
            g(&m.refused_storage),
        );
        metric(
            "dmc_unverified_observations",
            "gauge",
            "Observations held by reporters that are not established (estimate).",
            self.unverified_observations.load(Ordering::Relaxed),
        );
        metric(
            "dmc_reporters_discounted",
            "gauge",
            "Reporters whose reputation is below 1.",
            stats.reporters_discounted,
        );
        if let Some((_, age)) = self.graph_age() {
            metric(
                "dmc_graph_age_seconds",
                "gauge",
                "Age of the graph's newest announcement.",
                age as u64,
            );
        }
        out + &self.edge_metrics.text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmc_core::rpc::PairData;

    /// A coordinator on a fresh embedded store with no graph and a fixed
    /// clock, its config adjusted by `tweak`, its policy set.
    fn coordinator(tweak: impl FnOnce(&mut ServerConfig)) -> (tempfile::TempDir, Coordinator, Timestamp) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn CoordinatorStore> =
            Arc::new(dmc_store::coordinator::RedbCoordinatorStore::open(&dir.path().join("c.redb")).expect("store"));
        let mut config = ServerConfig::with_data_dir(dir.path().to_path_buf());
        config.graph = None;
        tweak(&mut config);
        let now = Timestamp::from_unix_secs(1_800_000_000);
        let c = Coordinator::new(config, store, Arc::new(move || now));
        c.set_graph(None).expect("policy");
        (dir, c, now)
    }

    /// Test key `b` (the secret `[b; 32]`, at least 1) and its public key.
    pub(super) fn key(b: u8) -> secp256k1::SecretKey {
        secp256k1::SecretKey::from_slice(&[b.max(1); 32]).expect("valid")
    }

    pub(super) fn node(b: u8) -> Vec<u8> {
        secp256k1::PublicKey::from_secret_key(&secp256k1::Secp256k1::signing_only(), &key(b))
            .serialize()
            .to_vec()
    }

    /// A pair from node `i` to node `i + 100` that succeeded at 5 sat at `t`.
    pub(super) fn pair_json(i: u8, t: i64) -> PairHistory {
        PairHistory {
            node_from: node(i),
            node_to: node(i + 100),
            history: PairData {
                success_time: t,
                success_amt_sat: 5,
                success_amt_msat: 5_000,
                ..Default::default()
            },
        }
    }

    /// Unsigned sources (and unverified keys) share one storage budget:
    /// more sources do not buy more room; a recount sees what is stored.
    #[test]
    fn reporters_that_are_not_established_share_one_storage_budget() {
        let (_dir, c, now) = coordinator(|config| {
            config.max_unverified_observations = 5;
        });
        let t = now.unix_secs() - 60;
        let three = |base: u8| (0..3).map(|i| pair_json(base + i, t)).collect::<Vec<_>>();
        c.register_unsigned(three(1), "10.0.0.1").expect("first source");
        let e = c
            .register_unsigned(three(10), "10.0.0.2")
            .expect_err("a second source has no room of its own");
        assert!(
            matches!(
                e,
                ApiError::Limit {
                    limit: "max_unverified_observations",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.message().contains("3 observations"), "{}", e.message());
        c.register_unsigned(three(20)[..2].to_vec(), "10.0.0.3")
            .expect("two more fit");
        assert_eq!(c.recount_unverified().expect("recount"), 5);
        c.store
            .forget_reporter(Reporter::anonymous("10.0.0.1".parse().expect("ip")))
            .expect("forget");
        assert_eq!(c.recount_unverified().expect("recount"), 2);
        c.register_unsigned(three(30), "10.0.0.4").expect("room again");
    }

    /// A megabyte "key" is named, not echoed; internal details stay in the log.
    #[test]
    fn errors_echo_little_and_hide_internals() {
        let (_dir, c, now) = coordinator(|_| {});
        let mut p = pair_json(1, now.unix_secs() - 60);
        p.node_from = vec![7; 1 << 20];
        let e = c.register_unsigned(vec![p], "10.0.0.1").expect_err("not a key");
        assert!(matches!(e, ApiError::Invalid(_)), "{e:?}");
        assert!(
            e.message().len() < 300 && e.message().contains("1048576 bytes"),
            "{}",
            &e.message()[..300.min(e.message().len())]
        );
        let internal = ApiError::Internal("coordinator store: /secret/path/coordinator.redb: disk full".into());
        let body = internal.to_json().compact();
        assert!(
            !body.contains("secret") && body.contains("log has the details"),
            "{body}"
        );
        assert_eq!(crate::grpc::status(internal).message(), INTERNAL_MESSAGE);
    }

    /// Concurrent full downloads of one cursor share one rendered body: the
    /// memory a snapshot costs does not grow with the number of downloads.
    #[test]
    fn snapshot_bodies_are_rendered_once_per_cursor() {
        let (_dir, c, now) = coordinator(|config| {
            config.min_serving_weight = 0.0;
        });
        c.register_unsigned(vec![pair_json(1, now.unix_secs() - 60)], "10.0.0.1")
            .expect("stored");
        let (a, b) = (c.snapshot().expect("snapshot"), c.snapshot().expect("snapshot"));
        assert!(Arc::ptr_eq(&a, &b));
        let (x, y) = (a.lnd_json(), b.lnd_json());
        assert_eq!(x.as_ptr(), y.as_ptr(), "one rendering, shared");
        let parsed = rpc::parse_query_mc_json(std::str::from_utf8(&x).expect("utf-8")).expect("querymc JSON");
        assert_eq!(parsed.len(), 1);
        c.register_unsigned(vec![pair_json(2, now.unix_secs() - 60)], "10.0.0.1")
            .expect("stored");
        let z = c.snapshot().expect("snapshot").lnd_json();
        assert_ne!(z, x, "a new cursor renders anew");
    }

    /// One reporter, and the store as a whole, are capped; the refusal names the cap.
    #[test]
    fn storage_caps_per_reporter_and_in_total() {
        let (_dir, c, now) = coordinator(|config| {
            config.max_observations_per_reporter = 3;
            config.max_observations = 5;
        });
        let t = now.unix_secs() - 60;
        let some = |base: u8, n: u8| (0..n).map(|i| pair_json(base + i, t)).collect::<Vec<_>>();
        c.register_unsigned(some(1, 3), "10.0.0.1").expect("three fit");
        let e = c
            .register_unsigned(some(10, 1), "10.0.0.1")
            .expect_err("a fourth does not");
        assert!(
            matches!(
                e,
                ApiError::Limit {
                    limit: "max_observations_per_reporter",
                    ..
                }
            ),
            "{e:?}"
        );
        c.register_unsigned(some(20, 2), "10.0.0.2")
            .expect("another source: two more");
        let e = c
            .register_unsigned(some(30, 1), "10.0.0.3")
            .expect_err("the store is full");
        assert!(
            matches!(
                e,
                ApiError::Limit {
                    limit: "max_observations",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(c.metrics_text().contains("dmc_register_refused_storage_total 2\n"));
    }
}

/// The coordinator's rules driven as quinn-proto's core is: exact inputs, a
/// fake clock the test moves, a store in memory, no socket and no wall clock.
#[cfg(test)]
mod fake_clock {
    use std::sync::atomic::AtomicI64;

    use super::tests::{key, node, pair_json as pair};
    use super::*;

    const T0: i64 = 1_800_000_000;

    /// A coordinator on an in-memory store whose clock reads `clock` (Unix seconds).
    fn coordinator(tweak: impl FnOnce(&mut ServerConfig)) -> (Coordinator, Arc<AtomicI64>) {
        let store: Arc<dyn CoordinatorStore> =
            Arc::new(dmc_store::coordinator::RedbCoordinatorStore::in_memory().expect("store"));
        let mut config = ServerConfig::with_data_dir(std::path::PathBuf::from("/nonexistent"));
        config.graph = None;
        tweak(&mut config);
        let clock = Arc::new(AtomicI64::new(T0));
        let read = clock.clone();
        let c = Coordinator::new(
            config,
            store,
            Arc::new(move || Timestamp::from_unix_secs(read.load(Ordering::SeqCst))),
        );
        c.set_graph(None).expect("policy");
        (c, clock)
    }

    /// Reporter 7 signs `body` (any bytes: the caller decodes the fields;
    /// here they are given) stamped `timestamp`, with one pair.
    fn register(c: &Coordinator, body: &str, timestamp: i64, pair_time: i64) -> Result<Registered, ApiError> {
        let sig = dmc_core::signmsg::sign_message(&key(7), body.as_bytes());
        c.register_signed(
            body.as_bytes(),
            &sig,
            &node(7),
            timestamp,
            vec![pair(1, pair_time)],
            false,
        )
    }

    fn unauthenticated(r: Result<Registered, ApiError>, needle: &str) {
        match r {
            Err(ApiError::Unauthenticated(m)) => assert!(m.contains(needle), "{m}"),
            other => panic!("expected Unauthenticated({needle}), got {other:?}"),
        }
    }

    /// The window moves with the clock: a body stamped ahead of it is
    /// refused, and the same bytes are taken once the clock catches up (a
    /// refused body is never marked received); a body the window has passed
    /// is refused; no timestamp wraps the check.
    #[test]
    fn the_signature_window_follows_the_clock() {
        let (c, clock) = coordinator(|cfg| cfg.signature_window = 600 * 1_000_000_000);
        let ahead = format!("ahead {}", T0 + 605);
        unauthenticated(register(&c, &ahead, T0 + 605, T0), "signature window");
        clock.store(T0 + 10, Ordering::SeqCst);
        register(&c, &ahead, T0 + 605, T0).expect("the same body, now inside the window");
        unauthenticated(register(&c, "old", T0 + 10 - 601, T0), "signature window");
        for t in [i64::MAX, i64::MIN] {
            unauthenticated(register(&c, &format!("extreme {t}"), t, T0), "signature window");
        }
    }

    /// A body is received once, whatever the clock does; an older body of
    /// the same reporter is refused after a newer one, even inside the window.
    #[test]
    fn replays_and_older_bodies_are_refused() {
        let (c, clock) = coordinator(|_| {});
        register(&c, "first", T0, T0 - 10).expect("first");
        unauthenticated(register(&c, "first", T0, T0 - 10), "already received");
        clock.store(T0 + 30, Ordering::SeqCst);
        unauthenticated(register(&c, "first", T0, T0 - 10), "already received");
        register(&c, "second", T0 + 30, T0 + 20).expect("newer");
        unauthenticated(
            register(&c, "between", T0 + 15, T0 - 5),
            "older than this reporter's last",
        );
        // Several chunks signed in the same second stay valid.
        register(&c, "second, chunk 2", T0 + 30, T0 + 21).expect("same second");
    }

    /// Fixed one-minute windows on the coordinator's clock, per source.
    #[test]
    fn the_rate_limit_resets_with_the_clock_minute() {
        let (c, clock) = coordinator(|cfg| cfg.requests_per_minute = 2);
        clock.store(T0 - T0 % 60, Ordering::SeqCst);
        let t = T0 - 60;
        for i in 0..2 {
            c.register_unsigned(vec![pair(10 + i, t)], "10.0.0.1")
                .expect("within the limit");
        }
        let e = c
            .register_unsigned(vec![pair(20, t)], "10.0.0.1")
            .expect_err("third this minute");
        assert!(
            matches!(
                e,
                ApiError::Limit {
                    limit: "requests_per_minute",
                    ..
                }
            ),
            "{e:?}"
        );
        c.register_unsigned(vec![pair(21, t)], "10.0.0.2")
            .expect("another source has its own");
        // One IPv6 host holds a whole /64: its addresses share one budget.
        c.register_unsigned(vec![pair(24, t)], "2001:db8:1:2::1")
            .expect("first");
        c.register_unsigned(vec![pair(25, t)], "2001:db8:1:2::2")
            .expect("second");
        let e = c
            .register_unsigned(vec![pair(26, t)], "2001:db8:1:2:ffff::3")
            .expect_err("the same /64");
        assert!(
            matches!(
                e,
                ApiError::Limit {
                    limit: "requests_per_minute",
                    ..
                }
            ),
            "{e:?}"
        );
        c.register_unsigned(vec![pair(27, t)], "2001:db8:1:3::1")
            .expect("another /64");
        clock.fetch_add(59, Ordering::SeqCst);
        assert!(
            c.register_unsigned(vec![pair(22, t)], "10.0.0.1").is_err(),
            "same minute"
        );
        clock.fetch_add(1, Ordering::SeqCst);
        c.register_unsigned(vec![pair(23, t)], "10.0.0.1")
            .expect("a new minute");
    }

    /// Pairs older than the staleness window, counted from the clock, are
    /// dropped and counted; a request of nothing but stale pairs is refused.
    #[test]
    fn the_staleness_window_follows_the_clock() {
        let (c, clock) = coordinator(|cfg| cfg.staleness_window = 3_600 * 1_000_000_000);
        let t = T0 - 1_800;
        let r = c
            .register_unsigned(vec![pair(1, t), pair(2, t - 3_600)], "10.0.0.1")
            .expect("one fresh pair");
        assert_eq!((r.accepted, r.stale_dropped), (1, 1));
        clock.fetch_add(1_801, Ordering::SeqCst);
        let e = c
            .register_unsigned(vec![pair(3, t)], "10.0.0.1")
            .expect_err("now stale");
        assert!(
            matches!(&e, ApiError::Invalid(m) if m.contains("staleness window")),
            "{e:?}"
        );
        // Ahead of the clock by more than the allowed skew: refused naming it.
        let skew = c.config.future_skew / 1_000_000_000;
        let now = T0 + 1_801;
        let e = c
            .register_unsigned(vec![pair(4, now + skew + 5)], "10.0.0.1")
            .expect_err("ahead");
        assert!(
            matches!(&e, ApiError::Invalid(m) if m.contains("in the future")),
            "{e:?}"
        );
        c.register_unsigned(vec![pair(5, now + skew - 5)], "10.0.0.1")
            .expect("within the skew");
    }

    /// A reporter's storage cap is refused naming it, and does not touch
    /// what was stored.
    #[test]
    fn the_per_reporter_cap_is_named() {
        let (c, _) = coordinator(|cfg| cfg.max_observations_per_reporter = 2);
        let t = T0 - 60;
        c.register_unsigned(vec![pair(1, t), pair(2, t)], "10.0.0.1")
            .expect("two");
        let e = c.register_unsigned(vec![pair(3, t)], "10.0.0.1").expect_err("a third");
        assert!(
            matches!(
                e,
                ApiError::Limit {
                    limit: "max_observations_per_reporter",
                    ..
                }
            ),
            "{e:?}"
        );
        // Stored, not served: an anonymous source alone is below the serving threshold.
        let (_, stored) = c.store.observation_counts(&Reporter::Unattributed).expect("counts");
        assert_eq!(stored, 2);
        assert!(c.snapshot().expect("snapshot").pairs.is_empty());
    }
}
