//! The liquidity model ([`dmc_core::liquidity`]) the coordinator keeps in
//! memory beside the store's aggregate: fed by every accepted registration
//! (after the store accepted it), read by `GET /v2/liquidity` and, with
//! `lnd_records = "model"`, by the LND snapshot and v2 queries.
//!
//! * **What feeds it.** Each pair of an accepted registration, after the
//!   validation the store applies and bounded as the store bounds it
//!   ([`bounded_observation`] at the received time: nothing is after
//!   receipt), one [`LiquidityModel::observe`] per success and failure in
//!   it, with the graph's channel check. The model ignores what is not
//!   newer than the reporter's last of that kind, so re-sent and replayed
//!   records add nothing. A registration the store refused (replay, ban,
//!   storage caps, unverified budget) is not observed.
//! * **Restarts.** The model lives in memory only. At start it is seeded
//!   from the store's current records (each reporter's last record of
//!   each pair, successes of unknown kind): the shape's history before a
//!   restart is reduced to those last records. Nothing accepted is lost:
//!   the records stay in the store.
//! * **Memory.** It holds at most the pairs the store accepted. Since the
//!   store forgets stale observations and the model does not, it is
//!   rebuilt from the store whenever it holds more (pair, reporter)
//!   entries than `max_observations`, and after `dmc admin forget-reporter` (the model
//!   has no per-reporter removal).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use dmc_core::aggregate::{
    bounded_observation, weigh_reporters, ChannelCheck, GraphStanding, Reporter, Ungraphed, WithReputations,
};
use dmc_core::liquidity::{LiquidityModel, LiquidityParams, PairEstimate, ReceiveEstimate, ServeParams};
use dmc_core::reputation::Reputation;
use dmc_core::{DirectedPair, NodeId, PairSnapshot, TimedPairResult, Timestamp};
use dmc_store::coordinator::AggregatedPair;

use super::{ApiError, CachedSnapshot, Coordinator};

/// The default page of `GET /v2/liquidity` (`?limit=`).
pub const LIQUIDITY_PAGE_DEFAULT: usize = 1000;
/// The largest `?limit=` of `GET /v2/liquidity`.
pub const LIQUIDITY_PAGE_MAX: usize = 10_000;

/// A model-derived LND snapshot is served for at most this long (seconds)
/// before it is derived again, even if nothing was registered: its
/// failure times encode confidence relative to the serving time.
pub const MODEL_SNAPSHOT_MAX_AGE_SECS: i64 = 60;

/// The model and what the server tracks beside it.
#[derive(Debug)]
pub struct Liquidity {
    model: LiquidityModel,
    /// Pairs with evidence (the model does not list them) and the
    /// reporters fed for each, sorted for pagination.
    pairs: BTreeMap<DirectedPair, Vec<Reporter>>,
    /// (pair, reporter) entries in `pairs`: what the store's
    /// `max_observations` counts.
    entries: u64,
    /// Bumped on every change: derived snapshots rebuild when it moves.
    generation: u64,
}

impl Default for Liquidity {
    fn default() -> Self {
        Liquidity {
            model: LiquidityModel::new(LiquidityParams::default()),
            pairs: BTreeMap::new(),
            entries: 0,
            generation: 0,
        }
    }
}

impl Liquidity {
    /// Feeds one reporter's pair record (bounded already) to the model.
    fn feed(
        &mut self,
        reporter: Reporter,
        pair: DirectedPair,
        check: ChannelCheck,
        rec: &TimedPairResult,
        settled: Option<bool>,
    ) {
        for o in LiquidityModel::observations_in(None, rec, settled) {
            self.model.observe(reporter, pair, check, o);
        }
        if self.model.pair(&pair).is_some() {
            let reporters = self.pairs.entry(pair).or_default();
            if !reporters.contains(&reporter) {
                reporters.push(reporter);
                self.entries += 1;
            }
        }
    }
}

/// The graph (or [`Ungraphed`]) and stored reputations a model is read with.
type StandingParts = (Arc<dyn GraphStanding>, HashMap<NodeId, Reputation>);

/// What `GET /v2/liquidity` asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiquidityQuery {
    /// One pair only (`?pair=`): the answer is that pair or [`ApiError::NotFound`].
    pub pair: Option<DirectedPair>,
    /// Pairs after this one (`?after=`).
    pub after: Option<DirectedPair>,
    /// At most this many pairs (`?limit=`).
    pub limit: usize,
}

/// One pair of a [`LiquidityPage`].
#[derive(Clone, Debug, PartialEq)]
pub struct LiquidityPair {
    /// The model's estimate.
    pub estimate: PairEstimate,
    /// What [`LiquidityModel::serve_lnd`] derives for it (`None`: nothing
    /// served, e.g. not enough weight).
    pub lnd: Option<TimedPairResult>,
}

/// An answer of `GET /v2/liquidity`.
#[derive(Clone, Debug, PartialEq)]
pub struct LiquidityPage {
    /// The time every estimate is taken at.
    pub served_at: Timestamp,
    /// The pairs, sorted.
    pub pairs: Vec<LiquidityPair>,
    /// Receive capacity of the destinations of [`LiquidityPage::pairs`]
    /// that have pooled inbound evidence.
    pub receive: Vec<ReceiveEstimate>,
    /// The last pair when more may follow: pass it as `?after=`.
    pub next_after: Option<DirectedPair>,
}

impl Coordinator {
    /// Feeds an accepted registration to the liquidity model (see the
    /// module doc); `settled` is parallel to `pairs`.
    pub(super) fn observe_liquidity(
        &self,
        reporter: Reporter,
        pairs: &[PairSnapshot],
        settled: &[Option<bool>],
        received: Timestamp,
    ) {
        let graph = self.graph();
        let over = {
            let mut l = self.liquidity.lock().unwrap_or_else(|p| p.into_inner());
            for (i, p) in pairs.iter().enumerate() {
                let check = graph
                    .as_ref()
                    .map_or(ChannelCheck::Unchecked, |g| GraphStanding::channel(&**g, &p.pair));
                let bounded = bounded_observation(&p.result, received);
                l.feed(reporter, p.pair, check, &bounded, settled.get(i).copied().flatten());
            }
            l.generation += 1;
            l.entries > self.config.max_observations
        };
        if over {
            tracing::info!(
                max_observations = self.config.max_observations,
                "liquidity model: rebuilt from the store to stay within max_observations"
            );
            if let Err(e) = self.seed_liquidity() {
                tracing::warn!(error = %e.message(), "liquidity model: rebuilding from the store failed");
            }
        }
        self.metrics
            .liquidity_pairs
            .store(self.liquidity_pairs() as u64, Ordering::Relaxed);
    }

    /// Pairs the liquidity model has evidence for.
    pub fn liquidity_pairs(&self) -> usize {
        self.liquidity.lock().unwrap_or_else(|p| p.into_inner()).pairs.len()
    }

    /// Rebuilds the liquidity model from the store's current records, in
    /// time order (at start, and when it must shrink; see the module doc).
    /// Blocking. Returns the pairs it then holds.
    pub fn seed_liquidity(&self) -> Result<usize, ApiError> {
        let views = self
            .store
            .observations()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let graph = self.graph();
        let mut fresh = Liquidity::default();
        // Each record's success and failure are observed in time order
        // over all records, as they were registered.
        let mut order: Vec<(Timestamp, usize)> = views
            .iter()
            .enumerate()
            .map(|(i, (_, v))| {
                let r = &v.record;
                let first = match (r.success_time.is_zero(), r.fail_time.is_zero()) {
                    (false, false) => r.success_time.min(r.fail_time),
                    (false, true) => r.success_time,
                    _ => r.fail_time,
                };
                (first, i)
            })
            .collect();
        order.sort_unstable();
        for (_, i) in order {
            let (pair, v) = &views[i];
            let check = graph
                .as_ref()
                .map_or(ChannelCheck::Unchecked, |g| GraphStanding::channel(&**g, pair));
            fresh.feed(v.reporter, *pair, check, &v.record, None);
        }
        let n = fresh.pairs.len();
        {
            let mut l = self.liquidity.lock().unwrap_or_else(|p| p.into_inner());
            fresh.generation = l.generation + 1;
            *l = fresh;
        }
        self.metrics.liquidity_pairs.store(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    /// The graph (or none) and the stored reputations the model is read with.
    fn liquidity_standing(&self) -> Result<StandingParts, ApiError> {
        let graph: Arc<dyn GraphStanding> = match self.graph() {
            Some(g) => g,
            None => Arc::new(Ungraphed),
        };
        let reps = self
            .store
            .reputations()
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .into_iter()
            .collect();
        Ok((graph, reps))
    }

    /// A copy of the model and its pairs, so reading it does not hold up
    /// registrations.
    fn liquidity_copy(&self) -> (LiquidityModel, Vec<(DirectedPair, Vec<Reporter>)>, u64) {
        let l = self.liquidity.lock().unwrap_or_else(|p| p.into_inner());
        (
            l.model.clone(),
            l.pairs.iter().map(|(p, r)| (*p, r.clone())).collect(),
            l.generation,
        )
    }

    /// `GET /v2/liquidity`: the model's estimates at the current time, a
    /// page of pairs (or one). Blocking.
    pub fn liquidity(&self, q: &LiquidityQuery) -> Result<LiquidityPage, ApiError> {
        self.metrics.liquidity_requests.fetch_add(1, Ordering::Relaxed);
        let (model, pairs, _) = self.liquidity_copy();
        let (graph, reps) = self.liquidity_standing()?;
        let standing = WithReputations {
            graph: &*graph,
            reputations: &reps,
        };
        let agg = self.config.aggregation_params();
        let now = self.now();
        let keys: Vec<DirectedPair> = pairs.iter().map(|(p, _)| *p).collect();
        let (page, next_after): (Vec<DirectedPair>, Option<DirectedPair>) = match q.pair {
            Some(p) => {
                if keys.binary_search(&p).is_err() {
                    return Err(ApiError::NotFound(format!(
                        "pair: {}:{} has no evidence in the liquidity model",
                        p.from.to_hex(),
                        p.to.to_hex()
                    )));
                }
                (vec![p], None)
            }
            None => {
                let start = match q.after {
                    Some(a) => keys.partition_point(|k| *k <= a),
                    None => 0,
                };
                let limit = q.limit.clamp(1, LIQUIDITY_PAGE_MAX);
                let end = start.saturating_add(limit).min(keys.len());
                let page = keys[start..end].to_vec();
                let next = (end < keys.len()).then(|| keys[end - 1]);
                (page, next)
            }
        };
        let served: BTreeMap<DirectedPair, TimedPairResult> = model
            .serve_lnd_pairs(&page, now, &standing, &agg, &ServeParams::default())
            .into_iter()
            .map(|s| (s.pair, s.result))
            .collect();
        let out: Vec<LiquidityPair> = model
            .estimates(&page, now, &standing, &agg)
            .into_iter()
            .map(|estimate| LiquidityPair {
                lnd: served.get(&estimate.pair).copied(),
                estimate,
            })
            .collect();
        let mut destinations: Vec<NodeId> = page.iter().map(|p| p.to).collect();
        destinations.sort_unstable();
        destinations.dedup();
        let receive = model
            .receive_capacity(now, &standing, &agg)
            .into_iter()
            .filter(|r| destinations.binary_search(&r.node).is_ok())
            .collect();
        Ok(LiquidityPage {
            served_at: now,
            pairs: out,
            receive,
            next_after,
        })
    }

    /// The LND records the model serves (`lnd_records = "model"`), as a
    /// full snapshot at the store's cursor: rebuilt when a registration
    /// changed the model, the store's cursor moved, or it is older than
    /// [`MODEL_SNAPSHOT_MAX_AGE_SECS`]. Every record is stamped at or before
    /// its serving time and loads in LND. Blocking.
    pub fn model_snapshot(&self) -> Result<Arc<CachedSnapshot>, ApiError> {
        let cursor = self.store.cursor().map_err(|e| ApiError::Internal(e.to_string()))?;
        let now = self.now();
        let generation = self.liquidity.lock().unwrap_or_else(|p| p.into_inner()).generation;
        let fresh = |s: &(u64, Timestamp, Arc<CachedSnapshot>)| {
            s.0 == generation
                && s.2.cursor == cursor
                && !now.after(s.1.add(dmc_core::time::DurationNs::from_secs(MODEL_SNAPSHOT_MAX_AGE_SECS)))
                && !s.1.after(now)
        };
        if let Some(s) = self
            .model_snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|s| fresh(s))
        {
            return Ok(s.2.clone());
        }
        let _building = self.snapshot_build.lock().unwrap_or_else(|p| p.into_inner());
        let (model, pairs, generation) = self.liquidity_copy();
        let (graph, reps) = self.liquidity_standing()?;
        let standing = WithReputations {
            graph: &*graph,
            reputations: &reps,
        };
        let agg = self.config.aggregation_params();
        let reporters: HashMap<DirectedPair, Vec<Reporter>> = pairs.into_iter().collect();
        let served = model.serve_lnd(now, &standing, &agg, &ServeParams::default(), &[]);
        let out: Vec<AggregatedPair> = served
            .into_iter()
            .filter_map(|s| {
                // What LND would import, exactly as the aggregate is checked.
                let result = dmc_core::aggregate::servable(&s.result)?;
                dmc_core::sync_plan::validate_pair(dmc_core::aggregate::served_pair(s.pair, &result)).ok()?;
                let who = reporters.get(&s.pair).map(Vec::as_slice).unwrap_or_default();
                let [established, unverified, anonymous] = weigh_reporters(who, &standing, &agg.weights).1;
                Some(AggregatedPair {
                    pair: s.pair,
                    result,
                    reporters: established,
                    reporters_unverified: unverified,
                    reporters_anonymous: anonymous,
                    newest: result.success_time.max(result.fail_time),
                })
            })
            .collect();
        self.metrics.snapshot_builds.fetch_add(1, Ordering::Relaxed);
        let snap = Arc::new(CachedSnapshot {
            cursor,
            tag: format!("model-{cursor}-{generation}-{}", now.unix_secs()),
            pairs: Arc::new(out),
            batch: self.config.query_batch_size,
            renders: Default::default(),
        });
        *self.model_snapshot.lock().unwrap_or_else(|p| p.into_inner()) = Some((generation, now, snap.clone()));
        Ok(snap)
    }
}

/// `from_hex:to_hex` as `?pair=` and `?after=` give a pair; the error
/// names `param`.
pub fn parse_pair_param(param: &str, v: &str) -> Result<DirectedPair, ApiError> {
    let bad = |why: String| ApiError::Invalid(format!("{param}: {why}"));
    let (from, to) = v
        .split_once(':')
        .ok_or_else(|| bad(format!("{:?} is not <from_hex>:<to_hex>", truncate(v))))?;
    let node = |side: &str, h: &str| NodeId::from_hex(h).map_err(|e| bad(format!("{side} {:?}: {e}", truncate(h))));
    Ok(DirectedPair::new(node("from", from)?, node("to", to)?))
}

/// At most 80 characters of a client's text, for an error message.
fn truncate(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
