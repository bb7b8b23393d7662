//! The liquidity model: where each directed pair's liquidity usually sits,
//! learnt from every reporter over days, and what to serve an LND wallet so
//! that its own estimators draw the right conclusions.
//!
//! # What it models
//!
//! A directed pair `from → to` (LND's unit; parallel channels count as the
//! largest, as [`crate::aggregate::ChannelCheck::Capacity`] does) has a
//! liquidity `L ∈ [0, c]` that moves as payments cross it. A reporter's
//! success at amount `s` says `L ≥ s` at that time; a failure at `f` says
//! `L < f`. One sender sees a pair a few times; a coordinator hearing from
//! many senders over days sees enough to learn three things no single node
//! can:
//!
//! * **The persistent shape.** Every observation is kept as a *censored
//!   datapoint* of `L / c` in one of [`BUCKETS`] buckets (dense near both
//!   ends, where Lightning liquidity mostly sits), decaying with
//!   [`LiquidityParams::shape_half_life`] (days). Channels into sinks show
//!   up as persistently depleted, rich directions as persistently rich.
//! * **The live bound.** Each reporter's latest success and failure, exact
//!   amounts, weighed [`LiquidityParams::live_weight`] times a shape
//!   datapoint and decaying with the pair's own staleness half-life
//!   (minutes to hours).
//! * **Staleness: how fast the pair's liquidity moves.** Each new
//!   observation is compared with the pair's previous one (any reporter):
//!   a failure at or below an earlier (not settled) success, or a success
//!   at or above an earlier failure, is a *move*. The moves per second of
//!   exposure (time between compared observations, at most
//!   [`LiquidityParams::max_gap`]) estimate the rate `λ` at which an
//!   observation stops holding; it is shrunk towards the rate of all pairs
//!   with [`LiquidityParams::staleness_prior_exposure`] of the pooled rate,
//!   so a pair seen twice is not declared frozen or chaotic. The live
//!   bound's half-life is `ln 2 / λ`: a channel that moves fast is trusted
//!   less, and sooner falls back on its shape.
//!
//! Per destination node, the shapes of all its incoming pairs pooled say
//! how full its inbound channels usually are: **receive capacity**. That
//! prior, weighed [`LiquidityParams::receive_weight`] datapoints, also
//! applies to incoming pairs nobody reported, so a sink's unseen channels
//! are expected depleted too ([`LiquidityModel::pass_probability`],
//! [`LiquidityModel::receive_capacity`]).
//!
//! **Settled successes** (the payment completed: the liquidity crossed and
//! is now on the other side) are told apart from successes of hops before a
//! failure (the HTLC came back: the liquidity is still there) when the
//! reporter says which ([`Observation::settled`]): both are shape
//! datapoints of where `L` was, but only the second is a live bound on
//! where it is now.
//!
//! # The estimate
//!
//! For an amount `a`, with `x = a / c`: `pass(a)` is the weighed evidence
//! that `L ≥ a` (successes at or above `a`, within a bucket by linear
//! interpolation), `fail(a)` that `L < a` (failures at or below `a`). With a
//! prior of [`LiquidityParams::prior_weight`] datapoints,
//!
//! ```text
//! P(a) = (pass(a) + α·p₀(x)) / (pass(a) + fail(a) + α),   p₀(x) = ½·(1 − x)
//! ```
//!
//! The prior is the bimodal picture LND's own bimodal estimator and the
//! measured network share: about half of all directions sit near empty, the
//! other half anywhere up to full. It is deliberately *not* confident:
//! a success is served only where evidence (a fresh live bound, or several
//! shape datapoints) lifts `P` above [`ServeParams::success_confidence`],
//! since LND trusts a served success at 0.95 forever (apriori) or for days
//! (bimodal). A first model with a uniform prior (`p₀ = 1 − x`) served a
//! "success" up to a tenth of the capacity on every pair it had heard of
//! and made wallets fail more than cold ones (BENCHMARKS.md).
//!
//! which falls monotonically in `a` (pass evidence only shrinks, fail
//! evidence only grows). Robust aggregation still decides who may move it:
//! each reporter's evidence is scaled by its weight
//! ([`crate::aggregate::weigh_reporters`]: class, reputation), a reporter's
//! shape evidence on one pair counts at most
//! [`LiquidityParams::reporter_evidence_cap`] datapoints (a flood of one
//! key's observations is one voice), and what is served needs the
//! aggregation's serving weight, failures its corroboration
//! ([`AggregationParams`]).
//!
//! # Served for LND ([`LiquidityModel::serve_lnd`])
//!
//! LND's record holds one success and one failure per pair; its apriori
//! estimator gives 0.95 to amounts up to the success (forever) and
//! `p_node · (1 − 2^(−age/1 h))` to amounts from the failure on. So:
//!
//! * `success_amt` is the largest amount with `P ≥`
//!   [`ServeParams::success_confidence`], stamped at the serving time (a
//!   newer time is what lets a lower amount replace an older one on
//!   import);
//! * `fail_amt` is the smallest amount with `P ≤`
//!   [`ServeParams::failure_below`], stamped `age = h · log2(1 / (1 −
//!   P(fail_amt)))` before the serving time with `h` LND's default penalty
//!   half-life, so LND's `1 − 2^(−age/h)` equals the model's pass
//!   probability there. **Served failure times encode confidence, not
//!   observation times**: an `lncli querymc` user sees a failure "that
//!   long ago" meaning "this likely to still hold". It is a function of the
//!   pair's model (never a global offset), never after the serving time,
//!   and the v2 API shows the real times of the observations backing it
//!   beside it ([`PairEstimate::newest_success`], [`PairEstimate::newest_failure`]).

use std::collections::{BTreeMap, HashMap};

use crate::aggregate::{weigh_reporters, AggregationParams, ChannelCheck, Reporter, Standing};
use crate::amount::Msat;
use crate::node::{DirectedPair, NodeId};
use crate::state::TimedPairResult;
use crate::time::{DurationNs, Timestamp};

/// Buckets of a pair's shape histograms.
pub const BUCKETS: usize = 32;

/// Bucket edges as fractions of the capacity: 16 buckets halving towards 0
/// and 16 mirrored towards `c`, since liquidity mostly sits near one end.
/// `EDGES[k]..EDGES[k + 1]` is bucket `k`.
pub fn bucket_edges() -> [f64; BUCKETS + 1] {
    let mut e = [0.0; BUCKETS + 1];
    for (k, edge) in e.iter_mut().enumerate().take(BUCKETS / 2 + 1).skip(1) {
        *edge = 0.5f64.powi((BUCKETS / 2 - k) as i32 + 1);
    }
    for k in 0..BUCKETS / 2 {
        e[BUCKETS - k] = 1.0 - e[k];
    }
    e
}

fn bucket_of(fraction: f64, edges: &[f64; BUCKETS + 1]) -> usize {
    let f = fraction.clamp(0.0, 1.0);
    // The last edge is 1.0: a full-capacity amount falls in the last bucket.
    edges[1..].iter().position(|e| f < *e).unwrap_or(BUCKETS - 1)
}

/// The model's parameters. Values and their reasons are in the field docs;
/// the simulator's experiment measures them (BENCHMARKS.md).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiquidityParams {
    /// Half-life of a shape datapoint (3 days): a network's persistent
    /// liquidity pattern (sinks, sources, rebalancing habits) changes over
    /// days to weeks; LDK's historical buckets decay over 14 days without
    /// updates. Shorter forgets the shape between a node's payments.
    pub shape_half_life: DurationNs,
    /// A reporter's latest success or failure counts this many datapoints
    /// while fresh (4), before its staleness decay.
    pub live_weight: f64,
    /// Live half-life when nothing has been compared yet (1 h, LND's
    /// apriori penalty half-life).
    pub default_live_half_life: DurationNs,
    /// Pooled-rate exposure every pair's staleness estimate starts with (6 h).
    pub staleness_prior_exposure: DurationNs,
    /// Observations further apart than this (6 h) are compared as if this
    /// far apart: a move seen after a day says little about the rate.
    pub max_gap: DurationNs,
    /// A reporter's shape evidence on one pair counts at most this many
    /// datapoints (8).
    pub reporter_evidence_cap: f64,
    /// A reporter's comparisons on one pair count at most this many (32):
    /// enough to tell a calm pair from a busy one, not enough for one key
    /// to declare a pair chaotic by alternating claims.
    pub reporter_comparison_cap: f64,
    /// Weight of the prior, in datapoints (1).
    pub prior_weight: f64,
    /// Weight of a destination's pooled inbound shape on each of its
    /// incoming pairs, in datapoints (2: two reporters' worth, so a sink
    /// seen by two reporters is served depleted on its unseen channels).
    pub receive_weight: f64,
    /// Ablation switch: use the persistent shape (true).
    pub use_shape: bool,
    /// Ablation switch: use per-pair staleness (true; false: every pair
    /// decays with `default_live_half_life`).
    pub use_staleness: bool,
    /// Ablation switch: use destinations' pooled inbound shape (true).
    pub use_receive: bool,
    /// Ablation switch: settled successes are no live bound (true; false:
    /// every success is one).
    pub use_settled: bool,
}

impl Default for LiquidityParams {
    fn default() -> Self {
        LiquidityParams {
            shape_half_life: DurationNs::from_hours(72),
            live_weight: 4.0,
            default_live_half_life: DurationNs::HOUR,
            staleness_prior_exposure: DurationNs::from_hours(6),
            max_gap: DurationNs::from_hours(6),
            reporter_evidence_cap: 8.0,
            reporter_comparison_cap: 32.0,
            prior_weight: 1.0,
            receive_weight: 2.0,
            use_shape: true,
            use_staleness: true,
            use_receive: true,
            use_settled: true,
        }
    }
}

/// How the model is turned into LND records ([`LiquidityModel::serve_lnd`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServeParams {
    /// A success is served up to the largest amount passing with at least
    /// this probability (0.9; LND then assumes 0.95 there).
    pub success_confidence: f64,
    /// A failure is served from the smallest amount passing with at most
    /// this probability (0.2: well below the prior's ½, so only evidence
    /// of failures puts one there).
    pub failure_below: f64,
    /// The wallet's apriori penalty half-life the failure's age is encoded
    /// for (LND's default, 1 h).
    pub lnd_penalty_half_life: DurationNs,
}

impl Default for ServeParams {
    fn default() -> Self {
        ServeParams {
            success_confidence: 0.9,
            failure_below: 0.2,
            lnd_penalty_half_life: DurationNs::HOUR,
        }
    }
}

/// One observation of a pair by one reporter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observation {
    /// What was seen.
    pub kind: ObservationKind,
    /// The amount: forwarded for a success, refused for a failure.
    pub amt: Msat,
    /// When it was seen (at most the time it was received).
    pub time: Timestamp,
    /// For a success: `Some(true)` the payment settled (the liquidity moved
    /// to the other side), `Some(false)` a hop before a failure (it is still
    /// there), `None` the reporter does not know (LND's `querymc` does not say).
    pub settled: Option<bool>,
}

/// A success or a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObservationKind {
    /// The pair forwarded `amt`: `L ≥ amt` then.
    Success,
    /// The pair refused `amt`: `L < amt` then.
    Failure,
}

/// Several evidence tallies decayed together.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Decayed {
    at: Timestamp,
}

fn decay_factor(from: Timestamp, to: Timestamp, half_life: DurationNs) -> f64 {
    let age = to.sub(from).as_nanos().max(0) as f64;
    let hl = half_life.as_nanos().max(1) as f64;
    0.5f64.powf(age / hl)
}

/// One reporter's evidence on one pair.
#[derive(Clone, Debug, PartialEq)]
struct ReporterEvidence {
    reporter: Reporter,
    successes: [f64; BUCKETS],
    failures: [f64; BUCKETS],
    decayed: Decayed,
    last_success: Option<Observation>,
    last_failure: Option<Observation>,
    /// This reporter's observations compared with the pair's previous one:
    /// how many, how many were moves, and the seconds between (decayed as
    /// the buckets are).
    comparisons: f64,
    moves: f64,
    exposure_s: f64,
}

impl ReporterEvidence {
    fn decay_to(&mut self, now: Timestamp, half_life: DurationNs) {
        if !now.after(self.decayed.at) {
            return;
        }
        let f = decay_factor(self.decayed.at, now, half_life);
        for v in self.successes.iter_mut().chain(self.failures.iter_mut()) {
            *v *= f;
        }
        self.comparisons *= f;
        self.moves *= f;
        self.exposure_s *= f;
        self.decayed.at = now;
    }

    /// (moves, exposure) at `now`, at most `cap` comparisons' worth.
    fn staleness_at(&self, now: Timestamp, half_life: DurationNs, cap: f64) -> (f64, f64) {
        let f = decay_factor(self.decayed.at, now, half_life);
        let n = self.comparisons * f;
        let scale = if n > cap { cap / n } else { 1.0 };
        (self.moves * f * scale, self.exposure_s * f * scale)
    }

    fn total_at(&self, now: Timestamp, half_life: DurationNs) -> f64 {
        let sum: f64 = self.successes.iter().chain(&self.failures).sum();
        sum * decay_factor(self.decayed.at, now, half_life)
    }
}

/// What the model holds for one directed pair.
#[derive(Clone, Debug, PartialEq)]
pub struct PairModel {
    capacity: Msat,
    evidence: Vec<ReporterEvidence>,
    previous: Option<Observation>,
}

impl PairModel {
    /// The capacity the pair's fractions are of.
    pub fn capacity(&self) -> Msat {
        self.capacity
    }
}

/// The model of every pair (see the module doc). Pure: every time is an
/// argument, nothing is read from a clock.
#[derive(Clone, Debug, Default)]
pub struct LiquidityModel {
    params: LiquidityParams,
    pairs: BTreeMap<DirectedPair, PairModel>,
}

/// A pair's estimate at one time, as the v2 API serves it.
#[derive(Clone, Debug, PartialEq)]
pub struct PairEstimate {
    /// The pair.
    pub pair: DirectedPair,
    /// The capacity its fractions are of.
    pub capacity: Msat,
    /// Largest amount passing with at least 0.9 probability (0: none).
    pub lower_bound: Msat,
    /// Smallest amount passing with at most 0.1 probability (the capacity: none).
    pub upper_bound: Msat,
    /// Weighed, decayed successes per bucket of [`bucket_edges`].
    pub success_histogram: [f64; BUCKETS],
    /// Weighed, decayed failures per bucket.
    pub failure_histogram: [f64; BUCKETS],
    /// The live bound's half-life from the pair's staleness.
    pub live_half_life: DurationNs,
    /// Moves seen: weighed, decayed comparisons in which the liquidity had
    /// moved past an earlier observation.
    pub moves: f64,
    /// Seconds of exposure behind [`PairEstimate::moves`].
    pub exposure_s: f64,
    /// Reporters with evidence, and their total weight.
    pub reporters: usize,
    /// The reporters' total weight ([`crate::aggregate::weigh_reporters`]).
    pub weight: f64,
    /// Time of the newest success backing the estimate (zero: none).
    pub newest_success: Timestamp,
    /// Time of the newest failure backing the estimate (zero: none).
    pub newest_failure: Timestamp,
}

/// A destination's receive capacity: how full its inbound pairs usually are.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceiveEstimate {
    /// The destination.
    pub node: NodeId,
    /// Median inbound fraction of its reported incoming pairs' pooled shape.
    pub median_fraction: f64,
    /// Distinct reporters behind the pooled shape.
    pub reporters: usize,
    /// Incoming pairs with evidence.
    pub pairs: usize,
}

/// One pair as served to LND, with what backs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServedPair {
    /// The pair.
    pub pair: DirectedPair,
    /// The record LND imports (times encode confidence; see the module doc).
    pub result: TimedPairResult,
    /// The model's pass probability at the served failure amount.
    pub fail_probability: f64,
}

/// A destination's pooled inbound shape: each reported incoming pair's
/// shape normalised to one datapoint and summed.
#[derive(Clone, Debug)]
struct Inbound {
    success: [f64; BUCKETS],
    failure: [f64; BUCKETS],
    reporters: Vec<Reporter>,
    pairs: usize,
}

/// Evidence for one amount.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Tally {
    pass: f64,
    fail: f64,
}

/// The weighed evidence of a pair at one time, ready for many amounts.
struct Prepared {
    capacity: f64,
    /// (weight, success buckets, failure buckets) per reporter, decayed and capped.
    shape_success: [f64; BUCKETS],
    shape_failure: [f64; BUCKETS],
    /// Live bounds: (amount, weight).
    live_success: Vec<(f64, f64)>,
    live_failure: Vec<(f64, f64)>,
    /// Distinct reporters backing failure evidence, by weight.
    failure_weight: f64,
    weight: f64,
}

fn in_bucket_above(edges: &[f64; BUCKETS + 1], k: usize, x: f64) -> f64 {
    let (lo, hi) = (edges[k], edges[k + 1]);
    if x <= lo {
        1.0
    } else if x >= hi {
        0.0
    } else {
        (hi - x) / (hi - lo)
    }
}

impl Prepared {
    /// No evidence yet, for a pair of `capacity` msat.
    fn empty(capacity: f64) -> Self {
        Prepared {
            capacity,
            shape_success: [0.0; BUCKETS],
            shape_failure: [0.0; BUCKETS],
            live_success: Vec::new(),
            live_failure: Vec::new(),
            failure_weight: 0.0,
            weight: 0.0,
        }
    }

    fn tally(&self, edges: &[f64; BUCKETS + 1], amt: f64) -> Tally {
        let x = if self.capacity > 0.0 { amt / self.capacity } else { 1.0 };
        let mut t = Tally::default();
        for k in 0..BUCKETS {
            let above = in_bucket_above(edges, k, x);
            // A success in bucket k: L ≥ s, with s spread over the bucket.
            t.pass += self.shape_success[k] * above;
            // A failure: L < f; it says L < a where f ≤ a.
            t.fail += self.shape_failure[k] * (1.0 - above);
        }
        for (s, w) in &self.live_success {
            if *s >= amt {
                t.pass += w;
            }
        }
        for (f, w) in &self.live_failure {
            if *f <= amt {
                t.fail += w;
            }
        }
        t
    }

    fn probability(&self, edges: &[f64; BUCKETS + 1], amt: f64, prior_weight: f64) -> f64 {
        if self.capacity <= 0.0 {
            return 0.0;
        }
        let x = (amt / self.capacity).clamp(0.0, 1.0);
        let t = self.tally(edges, amt);
        let prior = 0.5 * (1.0 - x);
        let num = t.pass + prior_weight * prior;
        let den = t.pass + t.fail + prior_weight;
        if den > 0.0 {
            (num / den).clamp(0.0, 1.0)
        } else {
            prior
        }
    }
}

impl LiquidityModel {
    /// An empty model.
    pub fn new(params: LiquidityParams) -> Self {
        LiquidityModel {
            params,
            pairs: BTreeMap::new(),
        }
    }

    /// The model's parameters.
    pub fn params(&self) -> &LiquidityParams {
        &self.params
    }

    /// Changes the parameters; the evidence stays (every parameter acts
    /// when the model is read, except the buckets and decay, which are fixed).
    pub fn set_params(&mut self, params: LiquidityParams) {
        self.params = params;
    }

    /// Pairs with evidence.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether no pair has evidence.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// One pair's model, if it has evidence.
    pub fn pair(&self, pair: &DirectedPair) -> Option<&PairModel> {
        self.pairs.get(pair)
    }

    /// What changed between a reporter's previous record of a pair and its
    /// new one (as merged by [`crate::aggregate::merge_observation`]): a
    /// newer success time is a success at the record's amount, a newer
    /// failure time a failure. `settled` applies to the success.
    pub fn observations_in(
        before: Option<&TimedPairResult>,
        after: &TimedPairResult,
        settled: Option<bool>,
    ) -> Vec<Observation> {
        let mut out = Vec::new();
        let old = before.copied().unwrap_or_default();
        if !after.success_time.is_zero()
            && after.success_time.after(old.success_time)
            && after.success_amt_msat > Msat::ZERO
        {
            out.push(Observation {
                kind: ObservationKind::Success,
                amt: after.success_amt_msat,
                time: after.success_time,
                settled,
            });
        }
        if !after.fail_time.is_zero() && after.fail_time.after(old.fail_time) && after.fail_amt_msat > Msat::ZERO {
            out.push(Observation {
                kind: ObservationKind::Failure,
                amt: after.fail_amt_msat,
                time: after.fail_time,
                settled: None,
            });
        }
        out.sort_by_key(|o| o.time);
        out
    }

    /// Adds one observation of `pair` by `reporter`. `capacity` is the
    /// graph's ([`ChannelCheck`]); without a graph (`Unchecked`, or 0) the
    /// pair's scale is twice the first amount seen, an honest guess that
    /// serving with a graph avoids. A pair the graph has no channel for
    /// is ignored; amounts are clamped to the capacity.
    pub fn observe(&mut self, reporter: Reporter, pair: DirectedPair, check: ChannelCheck, obs: Observation) {
        if obs.amt == Msat::ZERO || obs.time.is_zero() {
            return;
        }
        let capacity = match check {
            ChannelCheck::NoChannel => return,
            ChannelCheck::Capacity(c) if c > Msat::ZERO => Some(c),
            _ => None,
        };
        let params = self.params;
        let edges = bucket_edges();
        let model = self.pairs.entry(pair).or_insert_with(|| PairModel {
            capacity: capacity.unwrap_or(obs.amt.saturating_add(obs.amt)),
            evidence: Vec::new(),
            previous: None,
        });
        if let Some(c) = capacity {
            model.capacity = c;
        }
        let amt = obs.amt.min(model.capacity);
        // Staleness: compare with the pair's previous observation (any
        // reporter's); the comparison is the new observation's reporter's.
        let compared = model
            .previous
            .filter(|prev| obs.time.after(prev.time))
            .and_then(|prev| {
                let moved = match (prev.kind, obs.kind) {
                    (ObservationKind::Success, ObservationKind::Failure) if prev.settled != Some(true) => {
                        amt <= prev.amt
                    }
                    (ObservationKind::Failure, ObservationKind::Success) => amt >= prev.amt,
                    _ => return None,
                };
                Some((moved, obs.time.sub(prev.time).min(params.max_gap).secs()))
            });
        let pos = match model.evidence.iter().position(|e| e.reporter == reporter) {
            Some(i) => i,
            None => {
                model.evidence.push(ReporterEvidence {
                    reporter,
                    successes: [0.0; BUCKETS],
                    failures: [0.0; BUCKETS],
                    decayed: Decayed { at: obs.time },
                    last_success: None,
                    last_failure: None,
                    comparisons: 0.0,
                    moves: 0.0,
                    exposure_s: 0.0,
                });
                model.evidence.len() - 1
            }
        };
        let ev = &mut model.evidence[pos];
        // Only what is newer than the reporter's last of its kind counts:
        // a re-sent or replayed record adds nothing.
        let last = match obs.kind {
            ObservationKind::Success => ev.last_success,
            ObservationKind::Failure => ev.last_failure,
        };
        if last.is_some_and(|l| !obs.time.after(l.time)) {
            return;
        }
        if model.previous.is_none_or(|p| !p.time.after(obs.time)) {
            model.previous = Some(Observation { amt, ..obs });
        }
        ev.decay_to(obs.time, params.shape_half_life);
        // An observation older than the tallies counts decayed to their time.
        let w = decay_factor(obs.time, ev.decayed.at, params.shape_half_life);
        if let Some((moved, gap_s)) = compared {
            ev.comparisons += w;
            ev.exposure_s += w * gap_s;
            if moved {
                ev.moves += w;
            }
        }
        let k = bucket_of(amt.as_f64() / model.capacity.as_f64(), &edges);
        let o = Observation { amt, ..obs };
        match obs.kind {
            ObservationKind::Success => {
                ev.successes[k] += w;
                if ev.last_success.is_none_or(|l| !l.time.after(obs.time)) {
                    ev.last_success = Some(o);
                }
            }
            ObservationKind::Failure => {
                ev.failures[k] += w;
                if ev.last_failure.is_none_or(|l| !l.time.after(obs.time)) {
                    ev.last_failure = Some(o);
                }
            }
        }
    }

    /// A pair's weighed (moves, exposure) at `now`: each reporter's
    /// comparisons scaled by its weight and capped as its shape evidence is.
    fn staleness(&self, m: &PairModel, now: Timestamp, weights: &[f64]) -> (f64, f64) {
        let (mut moves, mut exposure) = (0.0, 0.0);
        for (e, w) in m.evidence.iter().zip(weights) {
            let (mv, ex) = e.staleness_at(now, self.params.shape_half_life, self.params.reporter_comparison_cap);
            moves += mv * w;
            exposure += ex * w;
        }
        (moves, exposure)
    }

    fn weights(&self, m: &PairModel, standing: &dyn Standing, agg: &AggregationParams) -> Vec<f64> {
        let reporters: Vec<Reporter> = m.evidence.iter().map(|e| e.reporter).collect();
        weigh_reporters(&reporters, standing, &agg.weights).0
    }

    /// The pooled rate of moves per second over every pair at `now`.
    fn pooled_rate(&self, now: Timestamp, standing: &dyn Standing, agg: &AggregationParams) -> Option<f64> {
        if !self.params.use_staleness {
            return None;
        }
        let (mut moves, mut exposure) = (0.0, 0.0);
        for m in self.pairs.values() {
            let (mv, ex) = self.staleness(m, now, &self.weights(m, standing, agg));
            moves += mv;
            exposure += ex;
        }
        (exposure > 0.0 && moves > 0.0).then(|| moves / exposure)
    }

    fn live_half_life(&self, m: &PairModel, now: Timestamp, weights: &[f64], pooled: Option<f64>) -> DurationNs {
        let default = self.params.default_live_half_life;
        if !self.params.use_staleness {
            return default;
        }
        let prior_rate = pooled.unwrap_or(std::f64::consts::LN_2 / default.secs().max(1.0));
        let t0 = self.params.staleness_prior_exposure.secs();
        let (moves, exposure) = self.staleness(m, now, weights);
        let rate = (moves + prior_rate * t0) / (exposure + t0);
        let secs = (std::f64::consts::LN_2 / rate).clamp(60.0, 30.0 * 86_400.0);
        DurationNs::from_secs(secs as i64)
    }

    fn prepare(
        &self,
        m: &PairModel,
        now: Timestamp,
        standing: &dyn Standing,
        agg: &AggregationParams,
        pooled: Option<f64>,
    ) -> Prepared {
        let p = &self.params;
        let weights = self.weights(m, standing, agg);
        let hl = self.live_half_life(m, now, &weights, pooled);
        let mut out = Prepared::empty(m.capacity.as_f64());
        for (e, w) in m.evidence.iter().zip(&weights) {
            if *w <= 0.0 {
                continue;
            }
            out.weight += w;
            let mut has_failure = false;
            if p.use_shape {
                let total = e.total_at(now, p.shape_half_life);
                let scale = if total > p.reporter_evidence_cap {
                    p.reporter_evidence_cap / total
                } else {
                    1.0
                };
                let f = decay_factor(e.decayed.at, now, p.shape_half_life) * scale * w;
                for k in 0..BUCKETS {
                    out.shape_success[k] += e.successes[k] * f;
                    out.shape_failure[k] += e.failures[k] * f;
                }
                has_failure |= e.failures.iter().any(|v| *v > 1e-6);
            }
            let live = |o: &Observation| p.live_weight * w * decay_factor(o.time, now, hl);
            if let Some(s) = e.last_success {
                let still_there = !(p.use_settled && s.settled == Some(true));
                // A reporter's newer failure below its success supersedes it.
                let superseded = e.last_failure.is_some_and(|f| f.time.after(s.time) && f.amt <= s.amt);
                if still_there && !superseded {
                    out.live_success.push((s.amt.as_f64(), live(&s)));
                }
            }
            if let Some(f) = e.last_failure {
                let superseded = e.last_success.is_some_and(|s| s.time.after(f.time) && s.amt >= f.amt);
                if !superseded {
                    out.live_failure.push((f.amt.as_f64(), live(&f)));
                    has_failure = true;
                }
            }
            if has_failure {
                out.failure_weight += w;
            }
        }
        out
    }

    /// Pooled inbound shape of every destination, as fractions: per node,
    /// (success buckets, failure buckets, distinct reporters, pairs),
    /// each pair's evidence normalised to one datapoint.
    fn inbound_shapes(
        &self,
        now: Timestamp,
        standing: &dyn Standing,
        agg: &AggregationParams,
    ) -> HashMap<NodeId, Inbound> {
        let mut out: HashMap<NodeId, Inbound> = HashMap::new();
        let shape_only = LiquidityModel {
            params: LiquidityParams {
                live_weight: 0.0,
                use_shape: true,
                ..self.params
            },
            pairs: BTreeMap::new(),
        };
        for (pair, m) in &self.pairs {
            let prep = shape_only.prepare(m, now, standing, agg, None);
            let total: f64 = prep.shape_success.iter().chain(&prep.shape_failure).sum();
            if total <= 1e-9 {
                continue;
            }
            let e = out.entry(pair.to).or_insert_with(|| Inbound {
                success: [0.0; BUCKETS],
                failure: [0.0; BUCKETS],
                reporters: Vec::new(),
                pairs: 0,
            });
            for k in 0..BUCKETS {
                e.success[k] += prep.shape_success[k] / total;
                e.failure[k] += prep.shape_failure[k] / total;
            }
            e.pairs += 1;
            let weights = self.weights(m, standing, agg);
            for (x, w) in m.evidence.iter().zip(weights) {
                if w > 0.0 && !e.reporters.contains(&x.reporter) {
                    e.reporters.push(x.reporter);
                }
            }
        }
        out
    }

    /// Adds a destination's pooled inbound shape, normalised to
    /// `receive_weight` datapoints, to a pair's evidence. Needs two distinct
    /// reporters: one key cannot paint a node as a sink.
    fn add_inbound(&self, prep: &mut Prepared, inbound: Option<&Inbound>) {
        let Some(Inbound {
            success: s,
            failure: f,
            reporters,
            ..
        }) = inbound
        else {
            return;
        };
        if !self.params.use_receive || reporters.len() < 2 {
            return;
        }
        let total: f64 = s.iter().chain(f).sum();
        if total <= 0.0 {
            return;
        }
        let w = self.params.receive_weight / total;
        for k in 0..BUCKETS {
            prep.shape_success[k] += s[k] * w;
            prep.shape_failure[k] += f[k] * w;
        }
        if f.iter().any(|v| *v > 1e-9) {
            // Two reporters back the node's pooled failures.
            prep.failure_weight += 2.0;
        }
    }

    /// The probability that `pair` passes `amt` at `now`, or `None` when
    /// nothing is known of it (no evidence of its own, no pooled inbound
    /// shape of its destination). `capacity` is used for a pair the model
    /// has not seen.
    pub fn pass_probability(
        &self,
        pair: &DirectedPair,
        amt: Msat,
        capacity: Msat,
        now: Timestamp,
        standing: &dyn Standing,
        agg: &AggregationParams,
    ) -> Option<f64> {
        let pooled = self.pooled_rate(now, standing, agg);
        let inbound = self.params.use_receive.then(|| self.inbound_shapes(now, standing, agg));
        let prep = self.prepared(pair, capacity, now, standing, agg, pooled, inbound.as_ref())?;
        Some(prep.probability(&bucket_edges(), amt.as_f64(), self.params.prior_weight))
    }

    #[allow(clippy::too_many_arguments)]
    fn prepared(
        &self,
        pair: &DirectedPair,
        capacity: Msat,
        now: Timestamp,
        standing: &dyn Standing,
        agg: &AggregationParams,
        pooled: Option<f64>,
        inbound: Option<&HashMap<NodeId, Inbound>>,
    ) -> Option<Prepared> {
        let mut prep = match self.pairs.get(pair) {
            Some(m) => self.prepare(m, now, standing, agg, pooled),
            None => Prepared::empty(capacity.as_f64()),
        };
        let before = prep.weight;
        self.add_inbound(&mut prep, inbound.and_then(|m| m.get(&pair.to)));
        let has_inbound = prep.shape_success.iter().chain(&prep.shape_failure).sum::<f64>() > 0.0 && before == 0.0;
        if has_inbound {
            prep.weight = agg.min_serving_weight;
        }
        (prep.weight > 0.0 && prep.capacity > 0.0).then_some(prep)
    }

    /// A pair's estimate at `now`, as the v2 API serves it.
    pub fn estimate(
        &self,
        pair: &DirectedPair,
        now: Timestamp,
        standing: &dyn Standing,
        agg: &AggregationParams,
    ) -> Option<PairEstimate> {
        self.estimate_with(pair, now, standing, agg, self.pooled_rate(now, standing, agg))
    }

    /// [`LiquidityModel::estimate`] of several pairs, the pooled staleness
    /// rate computed once (a page of the v2 API costs one pass, not one per pair).
    pub fn estimates(
        &self,
        pairs: &[DirectedPair],
        now: Timestamp,
        standing: &dyn Standing,
        agg: &AggregationParams,
    ) -> Vec<PairEstimate> {
        let pooled = self.pooled_rate(now, standing, agg);
        pairs
            .iter()
            .filter_map(|p| self.estimate_with(p, now, standing, agg, pooled))
            .collect()
    }

    fn estimate_with(
        &self,
        pair: &DirectedPair,
        now: Timestamp,
        standing: &dyn Standing,
        agg: &AggregationParams,
        pooled: Option<f64>,
    ) -> Option<PairEstimate> {
        let m = self.pairs.get(pair)?;
        let weights = self.weights(m, standing, agg);
        let (moves, exposure_s) = self.staleness(m, now, &weights);
        let prep = self.prepare(m, now, standing, agg, pooled);
        let edges = bucket_edges();
        let prob = |a: f64| prep.probability(&edges, a, self.params.prior_weight);
        let c = m.capacity;
        let newest = |kind: ObservationKind| {
            m.evidence
                .iter()
                .filter_map(|e| match kind {
                    ObservationKind::Success => e.last_success,
                    ObservationKind::Failure => e.last_failure,
                })
                .map(|o| o.time)
                .max()
                .unwrap_or(Timestamp::ZERO)
        };
        Some(PairEstimate {
            pair: *pair,
            capacity: c,
            lower_bound: largest_with(c, |a| prob(a) >= 0.9),
            upper_bound: smallest_with(c, |a| prob(a) <= 0.1).unwrap_or(c),
            success_histogram: prep.shape_success,
            failure_histogram: prep.shape_failure,
            live_half_life: self.live_half_life(m, now, &weights, pooled),
            moves,
            exposure_s,
            reporters: m.evidence.len(),
            weight: prep.weight,
            newest_success: newest(ObservationKind::Success),
            newest_failure: newest(ObservationKind::Failure),
        })
    }

    /// Receive capacity of every destination with pooled inbound evidence.
    pub fn receive_capacity(
        &self,
        now: Timestamp,
        standing: &dyn Standing,
        agg: &AggregationParams,
    ) -> Vec<ReceiveEstimate> {
        let edges = bucket_edges();
        let mut out: Vec<ReceiveEstimate> = self
            .inbound_shapes(now, standing, agg)
            .into_iter()
            .map(|(node, inb)| {
                let prep = Prepared {
                    shape_success: inb.success,
                    shape_failure: inb.failure,
                    weight: 1.0,
                    ..Prepared::empty(1.0)
                };
                // Fractions: the median is where P falls to ½.
                let mut lo = 0.0f64;
                let mut hi = 1.0f64;
                for _ in 0..40 {
                    let mid = (lo + hi) / 2.0;
                    if prep.probability(&edges, mid, self.params.prior_weight) > 0.5 {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                ReceiveEstimate {
                    node,
                    median_fraction: lo,
                    reporters: inb.reporters.len(),
                    pairs: inb.pairs,
                }
            })
            .collect();
        out.sort_by_key(|r| r.node);
        out
    }

    /// The LND records the model implies at `now` (see the module doc):
    /// every pair with evidence, and every pair of `extra` (graph pairs
    /// nobody reported, with their capacity) whose destination's pooled
    /// inbound shape says something. Sorted by pair; never stamped after
    /// `now`; every record loads in LND (a success below its failure).
    pub fn serve_lnd(
        &self,
        now: Timestamp,
        standing: &dyn Standing,
        agg: &AggregationParams,
        serve: &ServeParams,
        extra: &[(DirectedPair, Msat)],
    ) -> Vec<ServedPair> {
        let inbound = self.params.use_receive.then(|| self.inbound_shapes(now, standing, agg));
        let mut candidates: Vec<(DirectedPair, Msat)> = self.pairs.iter().map(|(p, m)| (*p, m.capacity)).collect();
        if let Some(inb) = &inbound {
            candidates.extend(
                extra
                    .iter()
                    .filter(|(p, _)| {
                        !self.pairs.contains_key(p) && inb.get(&p.to).is_some_and(|x| x.reporters.len() >= 2)
                    })
                    .copied(),
            );
        }
        self.serve_candidates(candidates, inbound.as_ref(), now, standing, agg, serve)
    }

    /// [`LiquidityModel::serve_lnd`] for only those of `pairs` the model
    /// has evidence of (a page of the v2 API), at the same cost per pair.
    pub fn serve_lnd_pairs(
        &self,
        pairs: &[DirectedPair],
        now: Timestamp,
        standing: &dyn Standing,
        agg: &AggregationParams,
        serve: &ServeParams,
    ) -> Vec<ServedPair> {
        let inbound = self.params.use_receive.then(|| self.inbound_shapes(now, standing, agg));
        let candidates = pairs
            .iter()
            .filter_map(|p| self.pairs.get(p).map(|m| (*p, m.capacity)))
            .collect();
        self.serve_candidates(candidates, inbound.as_ref(), now, standing, agg, serve)
    }

    fn serve_candidates(
        &self,
        candidates: Vec<(DirectedPair, Msat)>,
        inbound: Option<&HashMap<NodeId, Inbound>>,
        now: Timestamp,
        standing: &dyn Standing,
        agg: &AggregationParams,
        serve: &ServeParams,
    ) -> Vec<ServedPair> {
        let pooled = self.pooled_rate(now, standing, agg);
        let edges = bucket_edges();
        let mut out = Vec::new();
        for (pair, capacity) in candidates {
            let Some(prep) = self.prepared(&pair, capacity, now, standing, agg, pooled, inbound) else {
                continue;
            };
            if prep.weight < agg.min_serving_weight - 1e-9 {
                continue;
            }
            if let Some((result, fail_probability)) = served_record(&prep, &edges, &self.params, serve, agg, now) {
                out.push(ServedPair {
                    pair,
                    result,
                    fail_probability,
                });
            }
        }
        out.sort_by_key(|s| s.pair);
        out
    }
}

/// How close bisection gets: 1 sat, or a millionth of the capacity if
/// coarser (the model knows no finer; it keeps serving cheap).
fn resolution(c: Msat) -> u64 {
    (c.0 >> 20).max(1000)
}

/// Whether a record served earlier (`previous`, what the wallet holds)
/// should be replaced by `new` at `now`: an amount moved by more than 1 %,
/// a success or failure appeared or went, the failure's weight in LND's
/// apriori estimator (`2^(−age/h)`) is more than 0.05 off the model's, or
/// the success is more than 6 h older (LND's bimodal estimator decays it).
/// Re-serving only then keeps deltas small without letting LND's own
/// decay drift far from the model.
pub fn worth_reserving(
    previous: Option<&TimedPairResult>,
    new: &TimedPairResult,
    now: Timestamp,
    serve: &ServeParams,
) -> bool {
    let Some(prev) = previous else { return true };
    let moved = |a: Msat, b: Msat| {
        let (a, b) = (a.as_f64(), b.as_f64());
        (a - b).abs() > 0.01 * a.max(b)
    };
    if prev.fail_time.is_zero() != new.fail_time.is_zero() || prev.success_time.is_zero() != new.success_time.is_zero()
    {
        return true;
    }
    if moved(prev.fail_amt_msat, new.fail_amt_msat) || moved(prev.success_amt_msat, new.success_amt_msat) {
        return true;
    }
    let weight = |t: Timestamp| {
        0.5f64.powf(now.sub(t).as_nanos().max(0) as f64 / serve.lnd_penalty_half_life.as_nanos().max(1) as f64)
    };
    if !new.fail_time.is_zero() && (weight(prev.fail_time) - weight(new.fail_time)).abs() > 0.05 {
        return true;
    }
    !new.success_time.is_zero() && new.success_time.sub(prev.success_time) > DurationNs::from_hours(6)
}

/// Bisection on `[0, c]` for the boundary of a monotone `below` (true
/// at 0, false at `c`): the last amount found true and the first found
/// false, at most [`resolution`] apart.
fn boundary(c: Msat, below: impl Fn(f64) -> bool) -> (u64, u64) {
    let (mut lo, mut hi) = (0u64, c.0);
    while hi - lo > resolution(c) {
        let mid = lo + (hi - lo) / 2;
        if below(mid as f64) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo, hi)
}

/// The largest amount in `[0, c]` where `ok` holds (`ok` is monotone:
/// true below, false above); 0 when it holds nowhere above 0.
fn largest_with(c: Msat, ok: impl Fn(f64) -> bool) -> Msat {
    if ok(c.as_f64()) {
        return c;
    }
    Msat(boundary(c, ok).0)
}

/// The smallest amount in `(0, c]` where `ok` holds (`ok` false below, true
/// above); `None` when it does not hold at `c`.
fn smallest_with(c: Msat, ok: impl Fn(f64) -> bool) -> Option<Msat> {
    if c == Msat::ZERO || !ok(c.as_f64()) {
        return None;
    }
    Some(Msat(boundary(c, |a| !ok(a)).1))
}

fn served_record(
    prep: &Prepared,
    edges: &[f64; BUCKETS + 1],
    params: &LiquidityParams,
    serve: &ServeParams,
    agg: &AggregationParams,
    now: Timestamp,
) -> Option<(TimedPairResult, f64)> {
    let c = Msat(prep.capacity as u64);
    let prob = |a: f64| prep.probability(edges, a, params.prior_weight);
    let mut result = TimedPairResult::default();
    let mut fail_probability = 1.0;
    let success = largest_with(c, |a| prob(a) >= serve.success_confidence);
    // A failure needs the aggregation's corroboration, as a last-observation failure does.
    let corroborated = prep.failure_weight + 1e-9 >= agg.failure_corroboration * agg.min_serving_weight;
    if corroborated {
        if let Some(f) = smallest_with(c, |a| prob(a) <= serve.failure_below) {
            let p = prob(f.as_f64()).clamp(0.0, 0.999_999);
            // LND's apriori: factor 1 − 2^(−age/h) = p  ⇔  age = h·log2(1/(1 − p)).
            let age_s = serve.lnd_penalty_half_life.secs() * (1.0 / (1.0 - p)).log2();
            let age = DurationNs::from_nanos((age_s * 1e9) as i64).max(DurationNs::ZERO);
            result.fail_amt_msat = f;
            result.fail_time = now.add(DurationNs(-age.as_nanos()));
            fail_probability = p;
        }
    }
    if success > Msat::ZERO {
        let s = if result.fail_amt_msat > Msat::ZERO {
            success.min(result.fail_amt_msat.saturating_sub(Msat(1)))
        } else {
            success
        };
        if s > Msat::ZERO {
            result.success_amt_msat = s;
            result.success_time = now;
        }
    }
    if result.success_time.is_zero() && result.fail_time.is_zero() {
        return None;
    }
    Some((result, fail_probability))
}

#[cfg(test)]
mod tests;
