//! Registrations: validation as LND's import does it, time sanity, storage
//! caps and budgets, the signature and replay window, then the store.

use std::sync::atomic::Ordering;
use std::time::Instant;

use dmc_core::aggregate::Reporter;
use dmc_core::rpc::{self, PairHistory};
use dmc_core::{NodeId, PairSnapshot};
use dmc_store::coordinator::{Refusal, RegisterOutcome, Registration, SignedBody};

use super::{echo_bytes, ApiError, Coordinator};

/// A successful registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    /// Pairs stored (those within the staleness window).
    pub accepted: usize,
    /// Pairs older than the staleness window, dropped on arrival.
    pub stale_dropped: usize,
    /// What the store changed, and the cursor after it.
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

/// Validated pairs, each one's `settled` entry, and how many were stale.
type Validated = (Vec<PairSnapshot>, Vec<Option<bool>>, usize);

impl Coordinator {
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

    /// Validates pairs as LND's import would (after lncli's loadmc
    /// sanitising, so amount-independent failures are kept), checks keys
    /// are on the curve and no time lies in the future, and drops stale
    /// pairs. All or nothing.
    /// Returns the fresh pairs with their `settled` entry, and how many were stale.
    fn validate(
        &self,
        mut pairs: Vec<PairHistory>,
        successes_only: bool,
        settled: &[Option<bool>],
    ) -> Result<Validated, ApiError> {
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
        let snapshots = rpc::validate_import(&pairs).map_err(|e| ApiError::Invalid(e.to_string()))?;
        let mut fresh = Vec::with_capacity(snapshots.len());
        let mut fresh_settled = Vec::with_capacity(snapshots.len());
        for (i, s) in snapshots.into_iter().enumerate() {
            let newest = s.result.fail_time.max(s.result.success_time);
            if newest.after(latest_allowed) {
                return Err(ApiError::Invalid(format!(
                    "pairs[{i}]: pair {} -> {}: time {} is more than {}s in the future",
                    s.pair.from,
                    s.pair.to,
                    newest.unix_secs(),
                    self.config.future_skew.whole_secs()
                )));
            }
            if !newest.after(oldest_allowed) {
                continue;
            }
            fresh.push(s);
            fresh_settled.push(settled.get(i).copied().flatten());
        }
        let stale = pairs.len() - fresh.len();
        if fresh.is_empty() {
            return Err(ApiError::Invalid(format!(
                "all {} pairs are older than the staleness window ({}h)",
                pairs.len(),
                self.config.staleness_window.whole_hours()
            )));
        }
        Ok((fresh, fresh_settled, stale))
    }

    fn store_registration(
        &self,
        reporter: Reporter,
        pairs: Vec<PairSnapshot>,
        settled: Vec<Option<bool>>,
        stale: usize,
        signed: Option<SignedBody>,
    ) -> Result<Registered, ApiError> {
        let accepted = pairs.len();
        self.unverified_budget(&reporter, accepted)?;
        self.storage_caps(&reporter, accepted)?;
        let received = self.now();
        // The model is fed only what the store accepted (below); the
        // pairs are kept for it, the store takes its own copy.
        let observed = pairs.clone();
        let outcome = self
            .store
            .register(Registration {
                reporter,
                pairs,
                received,
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
        self.observe_liquidity(reporter, &observed, &settled, received);
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
            let source = ip.map_or_else(|| remote.to_string(), |ip| super::source_key(ip).to_string());
            self.rate_limit(&source)?;
            let (pairs, settled, stale) = self.validate(pairs, false, &[])?;
            let reporter = ip.map_or(Reporter::Unattributed, Reporter::anonymous);
            self.store_registration(reporter, pairs, settled, stale, None)
        })();
        self.count(started, r)
    }

    /// A signed (v2) registration: `body` is what was signed; the caller
    /// decoded `reporter`, `timestamp`, `pairs`, `successes_only` and, one
    /// per pair, whether each success settled (`settled`, from
    /// `success_kinds`; `None`: unknown) from it.
    #[allow(clippy::too_many_arguments)]
    pub fn register_signed(
        &self,
        body: &[u8],
        signature: &str,
        reporter: &[u8],
        timestamp: i64,
        pairs: Vec<PairHistory>,
        successes_only: bool,
        settled: Vec<Option<bool>>,
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
            if skew.abs() > i128::from(self.config.signature_window.as_nanos()) {
                return Err(ApiError::Unauthenticated(format!(
                    "timestamp: {timestamp} is outside the {}s signature window (replayed or clock skew)",
                    self.config.signature_window.whole_secs()
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
            let (pairs, settled, stale) = self.validate(pairs, successes_only, &settled)?;
            self.store_registration(Reporter::Node(claimed), pairs, settled, stale, Some(signed))
        })();
        self.count(started, r)
    }
}
