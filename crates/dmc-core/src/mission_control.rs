//! [`MissionControl`]: pair state plus configuration, driven by explicit
//! inputs. It never reads a clock: every call carries its time, so tests and
//! replays are exact.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::amount::{Msat, Sat};
use crate::estimator::{ConfigError, EstimatorConfig, NodeSummary};
use crate::interpret::{interpret, FailureReason, PaymentResult, RouteError};
use crate::node::{DirectedPair, NodeId};
use crate::state::{MissionControlState, PairSnapshot, TimedPairResult};
use crate::time::{DurationNs, Timestamp};

/// LND's default `routerrpc.maxmchistory`.
pub const DEFAULT_MAX_HISTORY: u32 = 1000;
/// LND's `DefaultMinFailureRelaxInterval`: one minute.
pub const DEFAULT_MIN_FAILURE_RELAX_INTERVAL: DurationNs = DurationNs::MINUTE;

/// Mission control's runtime configuration (LND's `MissionControlConfig`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MissionControlConfig {
    /// The probability estimator and its parameters (§4).
    pub estimator: EstimatorConfig,
    /// Raw results kept on disk; 0 keeps all of them (LND's quirk).
    pub max_history: u32,
    /// A higher failure within this interval of the last one is ignored.
    pub min_failure_relax_interval: DurationNs,
}

impl Default for MissionControlConfig {
    fn default() -> Self {
        MissionControlConfig {
            estimator: EstimatorConfig::default(),
            max_history: DEFAULT_MAX_HISTORY,
            min_failure_relax_interval: DEFAULT_MIN_FAILURE_RELAX_INTERVAL,
        }
    }
}

impl MissionControlConfig {
    /// LND's validation: estimator parameters in range, intervals ≥ 0.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.min_failure_relax_interval.is_negative() {
            return Err(ConfigError(format!(
                "minimum failure relax interval: {}ns, must be >= 0",
                self.min_failure_relax_interval.as_nanos()
            )));
        }
        self.estimator.validate()
    }
}

/// LND's mission control for one namespace, without I/O.
#[derive(Clone, Debug, Default)]
pub struct MissionControl {
    /// The local node; pairs from it use the local-channel formula.
    pub self_node: Option<NodeId>,
    /// Runtime configuration; changing it affects later calls only.
    pub config: MissionControlConfig,
    state: MissionControlState,
}

impl MissionControl {
    /// Empty mission control; `self_node` is the node whose own channels
    /// get `LocalPairProbability` (§4.1).
    pub fn new(self_node: Option<NodeId>, config: MissionControlConfig) -> Self {
        MissionControl {
            self_node,
            config,
            state: MissionControlState::new(),
        }
    }

    /// The pair records and second-chance memory, read-only.
    pub fn state(&self) -> &MissionControlState {
        &self.state
    }

    /// LND's `applyPaymentResult` (spec §1.6): interpret, give policy
    /// failures their second chance, then apply node and pair results at
    /// the reply time. Returns the final failure reason, if any.
    pub fn apply_payment_result(&mut self, result: &PaymentResult) -> Result<Option<FailureReason>, RouteError> {
        result.validate()?;
        let ts = result.time_reply;
        let i = interpret(result);
        if let Some(pair) = i.policy_failure {
            if self.state.request_second_chance(ts, pair) {
                return Ok(None);
            }
        }
        if let Some(node) = i.node_failure {
            self.state.set_all_fail(node, ts);
        }
        let relax = self.config.min_failure_relax_interval;
        for (pair, r) in &i.pair_results {
            self.state
                .set_last_pair_result(pair.from, pair.to, ts, *r, false, relax);
        }
        Ok(i.final_failure_reason)
    }

    /// LND's `ImportHistory` on already-validated pairs (spec §3.2).
    pub fn import_pairs(&mut self, pairs: &[PairSnapshot], force: bool) -> usize {
        let relax = self.config.min_failure_relax_interval;
        self.state.import_snapshot(pairs, force, relax)
    }

    /// LND's `GetProbability` (spec §4.1).
    pub fn probability(&self, now: Timestamp, from: &NodeId, to: &NodeId, amt: Msat, capacity: Sat) -> f64 {
        let results = self.state.node_results(from);
        if self.self_node.as_ref() == Some(from) {
            self.config.estimator.local_pair_probability(now, results, to)
        } else {
            self.config.estimator.pair_probability(now, results, to, amt, capacity)
        }
    }

    /// A probability source for many queries at one `now` (one pathfinding
    /// run): nodes with many results are summarised once, so each query on
    /// them is logarithmic instead of linear in their result count.
    pub fn prober(&self, now: Timestamp) -> Prober<'_> {
        Prober {
            mc: self,
            now,
            summaries: RefCell::new(HashMap::new()),
        }
    }

    /// The pair's record, all zeros if unknown (what `QueryProbability`
    /// returns as `history`).
    pub fn pair_history(&self, from: &NodeId, to: &NodeId) -> TimedPairResult {
        self.state
            .pair(&DirectedPair::new(*from, *to))
            .copied()
            .unwrap_or_default()
    }

    /// Every pair, sorted (LND's order is random).
    pub fn snapshot(&self) -> Vec<PairSnapshot> {
        self.state.snapshot()
    }

    /// LND's `ResetMissionControl` in memory (§1.8): forgets every pair
    /// record and every granted second chance; the configuration stays.
    pub fn reset(&mut self) {
        self.state.reset();
    }
}

/// Nodes with at least this many results are summarised by [`Prober`];
/// smaller ones are summed directly, exactly as LND does.
pub const SUMMARY_MIN_RESULTS: usize = 16;

/// [`MissionControl::probability`] for many queries at one time.
pub struct Prober<'a> {
    mc: &'a MissionControl,
    now: Timestamp,
    summaries: RefCell<HashMap<NodeId, Rc<NodeSummary>>>,
}

impl Prober<'_> {
    /// [`MissionControl::probability`] at the prober's time. Apriori nodes
    /// with at least [`SUMMARY_MIN_RESULTS`] results use one cached summary,
    /// which sums in another order (equal within about 1e-12).
    pub fn probability(&self, from: &NodeId, to: &NodeId, amt: Msat, capacity: Sat) -> f64 {
        let mc = self.mc;
        let results = mc.state.node_results(from);
        let (apriori, r) = match (&mc.config.estimator, results) {
            (EstimatorConfig::Apriori(a), Some(r))
                if r.len() >= SUMMARY_MIN_RESULTS && mc.self_node.as_ref() != Some(from) =>
            {
                (a, r)
            }
            _ => return mc.probability(self.now, from, to, amt, capacity),
        };
        let summary = self
            .summaries
            .borrow_mut()
            .entry(*from)
            .or_insert_with(|| Rc::new(apriori.summarize(self.now, r)))
            .clone();
        apriori.pair_probability_summarized(self.now, Some(r), &summary, to, amt, capacity)
    }
}

/// What pathfinding asks for each hop it weighs (LND's
/// `ProbabilitySource`): how likely `from` is to forward `amt` to `to` over
/// a channel of `capacity`. The amount walks one way, from the route
/// request through the search into the estimator; a [`Prober`] answers
/// with mission control's estimate, and a closure of the same arguments
/// (tests, simulated oracles) answers with its own.
pub trait SuccessProbability {
    /// Probability in [0, 1] that `from` forwards `amt` to `to` over a
    /// channel of `capacity`.
    fn success_probability(&mut self, from: &NodeId, to: &NodeId, amt: Msat, capacity: Sat) -> f64;
}

impl SuccessProbability for Prober<'_> {
    fn success_probability(&mut self, from: &NodeId, to: &NodeId, amt: Msat, capacity: Sat) -> f64 {
        self.probability(from, to, amt, capacity)
    }
}

/// `f` as a [`SuccessProbability`]: the bound names the arguments, so a
/// closure passed here needs no type annotations.
pub fn probability_fn<F: FnMut(&NodeId, &NodeId, Msat, Sat) -> f64>(f: F) -> F {
    f
}

impl<F: FnMut(&NodeId, &NodeId, Msat, Sat) -> f64> SuccessProbability for F {
    fn success_probability(&mut self, from: &NodeId, to: &NodeId, amt: Msat, capacity: Sat) -> f64 {
        self(from, to, amt, capacity)
    }
}
