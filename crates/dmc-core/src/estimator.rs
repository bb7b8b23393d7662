//! Probability estimators (spec §4): how likely a hop is to forward an amount.
//!
//! **Apriori** (LND's default) assumes every untried channel of a node
//! succeeds with `hop_probability` (0.6), shaded down as the amount nears
//! the capacity. A node's own history pulls that estimate towards 0.95
//! (successes, which never decay) or towards 0 (failures, whose weight halves
//! every `penalty_half_life`); `apriori_weight` says how much the prior
//! counts against that history. A pair with a success covering the amount
//! gets a flat 0.95; one with a failure at or below the amount recovers from
//! 0 towards the node probability as the failure ages.
//!
//! **Bimodal** models a channel's liquidity as mostly sitting at one end:
//! the density over the balance `x ∈ [0, c]` is
//! `exp(−x/s) + exp((x−c)/s) + 1/c` with scale `s`. Known successes and
//! failures bound the balance from below and above; both bounds relax
//! towards "nothing known" over `decay_time`. The probability that
//! `amt` passes is the density's mass above `amt` within those bounds.
//! Recent results on a node's other channels tilt stale estimates.

use crate::amount::{Msat, Sat};
use crate::node::NodeId;
use crate::state::NodeResults;
use crate::time::{DurationNs, Timestamp};

/// Probability assumed after a success, for amounts up to it (constant in LND).
pub const PREV_SUCCESS_PROBABILITY: f64 = 0.95;
/// Smearing of the capacity factor's logistic, as a fraction of capacity.
const CAPACITY_SMEARING_FRACTION: f64 = 0.025;
/// The capacity factor's floor at and beyond the cutoff.
const MIN_CAPACITY_FACTOR: f64 = 0.5;
/// Largest bimodal scale LND accepts: 1000 × 10 BTC / 4, in msat.
pub const BIMODAL_SCALE_MSAT_MAX: Msat = Msat(250_000_000_000);

/// A node's results prepared for many apriori queries at one time; see
/// [`AprioriConfig::summarize`].
#[derive(Clone, Debug, Default)]
pub struct NodeSummary {
    records: usize,
    success_amts: Vec<Msat>,
    fail_thresholds: Vec<Msat>,
    fail_weight_prefix: Vec<f64>,
}

/// Parameters of the apriori estimator, with LND's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AprioriConfig {
    /// Probability of an untried hop (`routerrpc.apriori.hopprob`).
    pub hop_probability: f64,
    /// Weight of the prior against observations (`routerrpc.apriori.weight`).
    pub weight: f64,
    /// Half-life of a failure's penalty (`routerrpc.apriori.penaltyhalflife`).
    pub penalty_half_life: DurationNs,
    /// Fraction of capacity where the capacity factor reaches 0.75.
    pub capacity_fraction: f64,
}

impl Default for AprioriConfig {
    fn default() -> Self {
        AprioriConfig {
            hop_probability: 0.6,
            weight: 0.5,
            penalty_half_life: DurationNs::HOUR,
            capacity_fraction: 0.9999,
        }
    }
}

/// Parameters of the bimodal estimator, with LND's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BimodalConfig {
    /// Weight of a node's other channels (`routerrpc.bimodal.nodeweight`).
    pub node_weight: f64,
    /// Liquidity scale `s` in msat (`routerrpc.bimodal.scale`).
    pub scale_msat: Msat,
    /// Time for observations to relax by 1/e (`routerrpc.bimodal.decaytime`).
    pub decay_time: DurationNs,
}

impl Default for BimodalConfig {
    fn default() -> Self {
        BimodalConfig {
            node_weight: 0.2,
            scale_msat: Msat(300_000_000),
            decay_time: DurationNs::from_hours(7 * 24),
        }
    }
}

/// Which estimator mission control uses, with its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EstimatorConfig {
    /// LND's default estimator (§4.2).
    Apriori(AprioriConfig),
    /// The bimodal liquidity model (§4.3).
    Bimodal(BimodalConfig),
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        EstimatorConfig::Apriori(AprioriConfig::default())
    }
}

/// A parameter outside the range LND accepts.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl AprioriConfig {
    /// LND's checks: half-life ≥ 0, hop probability and weight in [0, 1],
    /// capacity fraction in [0.75, 1].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.penalty_half_life.is_negative() {
            return Err(ConfigError(format!(
                "apriori half life: {}s, must be >= 0",
                self.penalty_half_life.whole_secs()
            )));
        }
        if !(0.0..=1.0).contains(&self.hop_probability) {
            return Err(ConfigError(format!(
                "apriori hop probability: {}, must be in [0, 1]",
                self.hop_probability
            )));
        }
        if !(0.0..=1.0).contains(&self.weight) {
            return Err(ConfigError(format!(
                "apriori weight: {}, must be in [0, 1]",
                self.weight
            )));
        }
        if !(0.75..=1.0).contains(&self.capacity_fraction) {
            return Err(ConfigError(format!(
                "apriori capacity fraction: {}, must be in [0.75, 1]",
                self.capacity_fraction
            )));
        }
        Ok(())
    }

    /// `2^(−age/half-life)` with Go's `Duration.Hours()`.
    fn weight_of_age(&self, age: DurationNs) -> f64 {
        let exp = -age.hours() / self.penalty_half_life.hours();
        2f64.powf(exp)
    }

    /// Probability for untried channels of a node with these `results`.
    pub fn node_probability(&self, now: Timestamp, results: Option<&NodeResults>, amt: Msat, capacity: Sat) -> f64 {
        let apriori = self.hop_probability * capacity_factor(amt, capacity, self.capacity_fraction);
        let results = match results {
            Some(r) if self.weight != 1.0 && !r.is_empty() => r,
            _ => return apriori,
        };
        let apriori_factor = 1.0 / (1.0 - self.weight) - 1.0;
        let mut probabilities_total = apriori * apriori_factor;
        let mut total_weight = apriori_factor;
        for r in results.values() {
            if amt <= r.success_amt_msat {
                total_weight += 1.0;
                probabilities_total += PREV_SUCCESS_PROBABILITY;
            } else if !r.fail_time.is_zero() && amt >= r.fail_amt_msat {
                total_weight += self.weight_of_age(now.sub(r.fail_time));
            }
        }
        probabilities_total / total_weight
    }

    /// Summarises a node's results for queries at `now`: the node
    /// probability then costs two binary searches instead of a pass over
    /// every result. A record counts as a success for `amt ≤ S` and as a
    /// failure for `amt ≥ max(F, S + 1)` when it has a failure time, which
    /// is exactly the sequential rule (the success branch wins).
    pub fn summarize(&self, now: Timestamp, results: &NodeResults) -> NodeSummary {
        let mut success_amts: Vec<Msat> = results.values().map(|r| r.success_amt_msat).collect();
        success_amts.sort_unstable();
        let mut fails: Vec<(Msat, f64)> = results
            .values()
            .filter(|r| !r.fail_time.is_zero())
            .map(|r| {
                let threshold = r.fail_amt_msat.max(r.success_amt_msat.saturating_add(Msat(1)));
                (threshold, self.weight_of_age(now.sub(r.fail_time)))
            })
            .collect();
        fails.sort_by_key(|f| f.0);
        let mut prefix = Vec::with_capacity(fails.len() + 1);
        prefix.push(0.0);
        let mut sum = 0.0;
        for (_, w) in &fails {
            sum += w;
            prefix.push(sum);
        }
        NodeSummary {
            records: results.len(),
            success_amts,
            fail_thresholds: fails.into_iter().map(|f| f.0).collect(),
            fail_weight_prefix: prefix,
        }
    }

    /// [`Self::node_probability`] from a summary. Sums are formed in a
    /// different order, so results may differ in the last bits (as LND's own
    /// map order makes them differ between runs).
    pub fn node_probability_summarized(&self, s: &NodeSummary, amt: Msat, capacity: Sat) -> f64 {
        let apriori = self.hop_probability * capacity_factor(amt, capacity, self.capacity_fraction);
        if self.weight == 1.0 || s.records == 0 {
            return apriori;
        }
        let apriori_factor = 1.0 / (1.0 - self.weight) - 1.0;
        let successes = (s.success_amts.len() - s.success_amts.partition_point(|a| *a < amt)) as f64;
        let failed = s.fail_thresholds.partition_point(|t| *t <= amt);
        let fail_weight = s.fail_weight_prefix[failed];
        (apriori * apriori_factor + PREV_SUCCESS_PROBABILITY * successes) / (apriori_factor + successes + fail_weight)
    }

    /// [`Self::pair_probability`] with the node probability from a summary.
    pub fn pair_probability_summarized(
        &self,
        now: Timestamp,
        results: Option<&NodeResults>,
        summary: &NodeSummary,
        to: &NodeId,
        amt: Msat,
        capacity: Sat,
    ) -> f64 {
        let node_probability = self.node_probability_summarized(summary, amt, capacity);
        self.calculate(now, results, node_probability, to, amt)
    }

    /// The pair's probability given the node probability (LND's
    /// `calculateProbability`).
    fn calculate(
        &self,
        now: Timestamp,
        results: Option<&NodeResults>,
        node_probability: f64,
        to: &NodeId,
        amt: Msat,
    ) -> f64 {
        let Some(r) = results.and_then(|r| r.get(to)) else {
            return node_probability;
        };
        if amt <= r.success_amt_msat {
            return PREV_SUCCESS_PROBABILITY;
        }
        if r.fail_time.is_zero() || amt < r.fail_amt_msat {
            return node_probability;
        }
        node_probability * (1.0 - self.weight_of_age(now.sub(r.fail_time)))
    }

    /// LND's apriori `PairProbability` (§4.2): the node probability for
    /// `amt` over a channel of `capacity`, then the pair's own history from
    /// `results` (the `from` node's records) at `now`.
    pub fn pair_probability(
        &self,
        now: Timestamp,
        results: Option<&NodeResults>,
        to: &NodeId,
        amt: Msat,
        capacity: Sat,
    ) -> f64 {
        let node_probability = self.node_probability(now, results, amt, capacity);
        self.calculate(now, results, node_probability, to, amt)
    }

    /// Our own channels: 0.95 unless a failure was recorded.
    pub fn local_pair_probability(&self, now: Timestamp, results: Option<&NodeResults>, to: &NodeId) -> f64 {
        self.calculate(now, results, PREV_SUCCESS_PROBABILITY, to, Msat::MAX)
    }
}

/// Shades the a-priori probability down as `amt` nears the capacity: a
/// logistic centred at `fraction × capacity`, floor 0.5, and 0 above capacity.
pub fn capacity_factor(amt: Msat, capacity: Sat, fraction: f64) -> f64 {
    if fraction == 1.0 || capacity == Sat::ZERO {
        return 1.0;
    }
    let cap_msat = capacity.to_msat_wrapping().as_f64();
    let amt = amt.as_f64();
    if amt > cap_msat {
        return 0.0;
    }
    let cutoff = fraction * cap_msat;
    let smearing = CAPACITY_SMEARING_FRACTION * cap_msat;
    let denominator = 1.0 + (-(amt - cutoff) / smearing).exp();
    1.0 - (1.0 - MIN_CAPACITY_FACTOR) / denominator
}

impl BimodalConfig {
    /// LND's checks: decay time > 0, node weight in [0, 1], scale in
    /// (0, [`BIMODAL_SCALE_MSAT_MAX`]] msat.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.decay_time <= DurationNs::ZERO {
            return Err(ConfigError(format!(
                "bimodal decay time: {}s, must be > 0",
                self.decay_time.whole_secs()
            )));
        }
        if !(0.0..=1.0).contains(&self.node_weight) {
            return Err(ConfigError(format!(
                "bimodal node weight: {}, must be in [0, 1]",
                self.node_weight
            )));
        }
        if self.scale_msat == Msat::ZERO || self.scale_msat > BIMODAL_SCALE_MSAT_MAX {
            return Err(ConfigError(format!(
                "bimodal scale: {} msat, must be in (0, {}]",
                self.scale_msat.0, BIMODAL_SCALE_MSAT_MAX.0
            )));
        }
        Ok(())
    }

    fn decay(&self, age: DurationNs) -> f64 {
        (-(age.as_nanos() as f64) / self.decay_time.as_nanos() as f64).exp()
    }

    /// How much is known to pass, decayed towards 0 (LND's `canSend`).
    pub fn can_send(&self, success_amt: Msat, now: Timestamp, success_time: Timestamp) -> Msat {
        Msat((self.decay(now.sub(success_time)) * success_amt.as_f64()) as u64)
    }

    /// How much is known not to pass, decayed towards the capacity (LND's
    /// `cannotSend`).
    pub fn cannot_send(&self, fail_amt: Msat, capacity: Msat, now: Timestamp, fail_time: Timestamp) -> Msat {
        let fail = fail_amt.min(capacity);
        let unknown = capacity.saturating_sub(fail);
        let relaxed = Msat((self.decay(now.sub(fail_time)) * unknown.as_f64()) as u64);
        // Float rounding can push `relaxed` past the capacity; Go's
        // unsigned subtraction then wraps, and so does this.
        capacity.wrapping_sub(relaxed)
    }

    fn primitive(&self, c: f64, x: f64) -> f64 {
        let s = self.scale_msat.as_f64();
        let ecs = (-c / s).exp();
        let exs = (-x / s).exp();
        let excs = ((x - c) / s).exp();
        let norm = -2.0 * ecs + 2.0 + 1.0 / s;
        (-exs + excs + x / (c * s)) / norm
    }

    fn integral(&self, c: f64, lo: f64, hi: f64) -> f64 {
        if lo < 0.0 || lo > hi {
            return 0.0;
        }
        self.primitive(c, hi) - self.primitive(c, lo)
    }

    /// The direct probability from already-decayed bounds (LND's
    /// `probabilityFormula`). `None` where LND returns an error, which
    /// callers treat as probability 0.
    pub fn probability_formula(&self, capacity: Msat, success: Msat, fail: Msat, amt: Msat) -> Option<f64> {
        let c = capacity.as_f64();
        let mut succ = success.as_f64();
        let mut fail = fail.as_f64();
        let amt = amt.as_f64();
        if c == 0.0 {
            return None;
        }
        if amt > c {
            return Some(0.0);
        }
        if fail <= succ {
            succ = 0.0;
            fail = c;
        }
        if succ >= c {
            succ = c - 1.0;
            fail = c;
        }
        if fail > c {
            fail = c;
        }
        if amt >= fail {
            return Some(0.0);
        }
        if amt <= succ {
            return Some(1.0);
        }
        let num = self.integral(c, amt, fail);
        let den = self.integral(c, succ, fail);
        if num.is_nan() || den.is_nan() || den == 0.0 {
            return None;
        }
        let p = num / den;
        if p > 1.0 {
            return if amt <= succ { Some(1.0) } else { None };
        }
        if p < 0.0 {
            return None;
        }
        Some(p)
    }

    fn direct_probability(
        &self,
        now: Timestamp,
        results: Option<&NodeResults>,
        to: &NodeId,
        amt: Msat,
        capacity: Msat,
    ) -> f64 {
        let mut success = Msat::ZERO;
        let mut fail = capacity;
        if let Some(r) = results.and_then(|r| r.get(to)) {
            if !r.fail_time.is_zero() {
                fail = self.cannot_send(r.fail_amt_msat, capacity, now, r.fail_time);
            }
            if !r.success_time.is_zero() {
                success = self.can_send(r.success_amt_msat, now, r.success_time);
            }
        }
        self.probability_formula(capacity, success, fail, amt).unwrap_or(0.0)
    }

    /// Tilts a stale direct estimate by the node's other recent results.
    pub fn node_weighted(&self, direct: f64, now: Timestamp, results: Option<&NodeResults>, to: &NodeId) -> f64 {
        if self.node_weight == 0.0 {
            return direct;
        }
        let Some(results) = results else {
            return direct;
        };
        if let Some(r) = results.get(to) {
            let newest = r.success_time.max(r.fail_time);
            if now.sub(newest) < self.decay_time {
                return direct;
            }
        }
        let mut num = direct;
        let mut den = 1.0;
        for (peer, r) in results {
            if peer == to {
                continue;
            }
            if r.success_amt_msat > Msat::ZERO {
                let x = self.node_weight * self.decay(now.sub(r.success_time));
                num += x;
                den += x;
            }
            if r.fail_amt_msat > Msat::ZERO {
                den += self.node_weight * self.decay(now.sub(r.fail_time));
            }
        }
        num / den
    }

    /// LND's bimodal `PairProbability` (§4.3): the direct probability from
    /// the pair's bounds over `capacity`, weighted with the `from` node's
    /// other channels in `results` at `now`.
    pub fn pair_probability(
        &self,
        now: Timestamp,
        results: Option<&NodeResults>,
        to: &NodeId,
        amt: Msat,
        capacity: Sat,
    ) -> f64 {
        let direct = self.direct_probability(now, results, to, amt, capacity.to_msat_wrapping());
        self.node_weighted(direct, now, results, to)
    }

    /// Our own channels: 1, or recovering from a failure over `decay_time`.
    pub fn local_pair_probability(&self, now: Timestamp, results: Option<&NodeResults>, to: &NodeId) -> f64 {
        match results.and_then(|r| r.get(to)) {
            Some(r) if !r.fail_time.is_zero() => {
                let age = now.sub(r.fail_time).max(DurationNs::ZERO);
                1.0 - self.decay(age)
            }
            _ => 1.0,
        }
    }
}

impl EstimatorConfig {
    /// The chosen estimator's checks, as `SetMissionControlConfig` runs them.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            EstimatorConfig::Apriori(a) => a.validate(),
            EstimatorConfig::Bimodal(b) => b.validate(),
        }
    }

    /// `"apriori"` or `"bimodal"`, as `routerrpc.estimator` names them.
    pub fn name(&self) -> &'static str {
        match self {
            EstimatorConfig::Apriori(_) => "apriori",
            EstimatorConfig::Bimodal(_) => "bimodal",
        }
    }

    /// The configured estimator's `PairProbability` (§4.1), for a pair whose
    /// `from` is not our own node; in [0, 1].
    pub fn pair_probability(
        &self,
        now: Timestamp,
        results: Option<&NodeResults>,
        to: &NodeId,
        amt: Msat,
        capacity: Sat,
    ) -> f64 {
        match self {
            EstimatorConfig::Apriori(a) => a.pair_probability(now, results, to, amt, capacity),
            EstimatorConfig::Bimodal(b) => b.pair_probability(now, results, to, amt, capacity),
        }
    }

    /// The configured estimator's `LocalPairProbability`, for a channel of
    /// our own node (§4.1): amount and capacity play no part.
    pub fn local_pair_probability(&self, now: Timestamp, results: Option<&NodeResults>, to: &NodeId) -> f64 {
        match self {
            EstimatorConfig::Apriori(a) => a.local_pair_probability(now, results, to),
            EstimatorConfig::Bimodal(b) => b.local_pair_probability(now, results, to),
        }
    }
}
