//! How a reporter found lying loses weight, and how it earns it back.
//!
//! The aggregate ([`crate::aggregate`]) already keeps a minority from moving
//! a pair's served amounts. What it cannot do alone is discount a reporter
//! on pairs only it reports (the blackhole attack: fake failures on a
//! competitor's channels where nobody else looks). The reputation rule
//! carries what the other reporters see on shared pairs over to those lone
//! pairs.
//!
//! **Judged by peers, one vote each.** A rule that judges a reporter
//! against the majority *of each pair* is steered by colluders: ten liars
//! reporting the same target pairs are the majority there and judge each
//! other clean, while the one honest reporter beside them is found lying
//! (measured in the simulator: liars kept a score of 1.00 and a quarter of
//! honest reporters were penalised). So the rule compares reporters in
//! twos instead:
//!
//! * Every pair shared by two established reporters is one comparison
//!   between them ([`crate::aggregate::conflict`]): a contradiction when
//!   one's success reaches the other's failure, agreement when a success
//!   and a failure can be set side by side without crossing, nothing when
//!   both report only successes or only failures.
//! * For reporters `r` and `s`, `q(r, s)` is the share of their
//!   comparisons that contradicted. Each peer `s` of `r` is one witness on
//!   `r`, however many pairs they share (a share of `n` comparisons counts
//!   `n / (n + 1)`), so a clique of `k` colluders is `k` witnesses, not the
//!   majority of every pair it floods.
//! * **Each witness has one accusation to spend.** A witness's weight is
//!   its trust divided by the trusted peers it contradicts (`Σ q`, at least
//!   1): a liar contradicting forty honest reporters weighs 1/40 on each,
//!   an honest reporter contradicting the ten liars 1/10 on each. Without
//!   it, ten blackholers on the same target pairs are ten full witnesses
//!   against every honest reporter there, each liar only a few against it.
//! * `r`'s disagreement `d(r)` is the witnesses' weighted mean of
//!   `q(r, s)`, with [`PRIOR_AGREEMENT`] (one agreeing witness) added to
//!   the weights, so thin evidence does not decide. Trust and disagreement are found
//!   together by *iterative filtering* (de Kerchove and Van Dooren, "Iterative
//!   filtering in reputation systems", SIAM J. Matrix Anal. Appl. 31(4), 2010):
//!   start from the stored scores, set each peer's trust to its score ×
//!   (1 − d) (each round moves trust halfway there), recompute,
//!   [`FILTER_ROUNDS`] times. Liars disagree with most
//!   honest peers, so their trust falls and their votes against honest
//!   reporters stop counting.
//! * A reporter with at least [`ReputationParams::min_peers`] trusted
//!   peers (that kept at least [`TRUSTED`] of their score), contradicted
//!   on at least [`ReputationParams::min_contradicted_pairs`] distinct
//!   pairs, and
//!   `d(r) >` [`ReputationParams::tolerance`] is penalised: its score
//!   halves every [`ReputationParams::penalty_half_life`]. Otherwise the
//!   score recovers linearly, from 0 to 1 in [`ReputationParams::recovery`].
//! * **The graph is a witness.** No honest payment succeeds on a channel
//!   with more than the channel holds, so a success above the largest
//!   capacity between a pair's nodes is a lie that needs no peer to
//!   refute it, on lone pairs too. A reporter whose successes are above
//!   the capacity on at least [`ReputationParams::min_contradicted_pairs`]
//!   distinct pairs, and on more than [`ReputationParams::tolerance`] of
//!   the successes the graph could check, is penalised the same way. The
//!   share spares an honest reporter whose few channels were spliced
//!   larger after the coordinator's graph was taken.
//! * Each step is scaled by the time since the reporter's last update
//!   (at most [`ReputationParams::max_step`]), so the rule does not depend
//!   on how often passes run, and replicas that run a pass concurrently do
//!   not apply it twice.
//!
//! Why a quarter: honest reporters contradict each other only when the
//! liquidity moved between their two observations; a reporter that inverts
//! what it saw contradicts about half of an honest peer's comparable views
//! (its true amount and the peer's are independent draws under the same
//! liquidity), and a blackholing one nearly all on its target pairs.
//! Unverified and anonymous reporters neither vote nor are judged: free
//! keys must not smear an established node, and their weight is already
//! capped per pair.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::aggregate::{conflict, ChannelCheck, ReporterClass, Standing, View};
use crate::amount::Msat;
use crate::node::{DirectedPair, NodeId};
use crate::time::{DurationNs, Timestamp};

/// Rounds of iterative filtering per pass, each moving trust halfway to
/// what the disagreements give (32: the damped iteration settles well
/// within the tolerance's resolution; a round costs one sweep over the
/// compared reporter pairs).
pub const FILTER_ROUNDS: usize = 32;

/// The agreeing witness every reporter is assumed to have before any
/// evidence (one, of full weight): the disagreement is the witnesses'
/// weighted contradicted share with this added to the weights, so one or
/// two thin comparisons do not decide, and where honest and lying
/// reporters meet only each other (every share 1 on both sides) the side
/// with more weight against it falls.
pub const PRIOR_AGREEMENT: f64 = 1.0;

/// The share of its stored score a peer keeps after filtering (1 − its
/// disagreement) to count towards [`ReputationParams::min_peers`] (½:
/// more likely honest than not, by this pass's evidence).
pub const TRUSTED: f64 = 0.5;

/// On a pair with more established reporters than this, each is compared
/// with its `MAX_COMPARED / 2` neighbours on either side in key order, not
/// with all, so a pass stays linear in the number of views (every honest
/// reporter is still compared with this many others on the pair).
pub const MAX_COMPARED: usize = 64;

/// The reputation rule's parameters (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReputationParams {
    /// Trusted peers (other established reporters it was compared with,
    /// of trust at least [`TRUSTED`] after filtering) needed before a
    /// reporter can be penalised (3): with fewer, one liar beside it could
    /// decide alone.
    pub min_peers: u32,
    /// Distinct pairs it must be contradicted on before it can be
    /// penalised (5): however many colluders flood one pair, an honest
    /// reporter there is contradicted on that pair only, while a liar is
    /// contradicted wherever it lies.
    pub min_contradicted_pairs: u32,
    /// Trust-weighted share of contradicted comparisons above which a reporter is
    /// penalised (¼; see the module doc).
    pub tolerance: f64,
    /// Time for a penalised reporter's score to halve (30 minutes).
    pub penalty_half_life: DurationNs,
    /// Time to recover from 0 to 1 (48 hours).
    pub recovery: DurationNs,
    /// The longest time one update accounts for (1 hour).
    pub max_step: DurationNs,
    /// The time a reporter's first update accounts for (10 minutes).
    pub first_step: DurationNs,
}

impl Default for ReputationParams {
    fn default() -> Self {
        ReputationParams {
            min_peers: 3,
            min_contradicted_pairs: 5,
            tolerance: 0.25,
            penalty_half_life: DurationNs::from_mins(30),
            recovery: DurationNs::from_hours(48),
            max_step: DurationNs::HOUR,
            first_step: DurationNs::from_mins(10),
        }
    }
}

/// A reporter's standing from the rule: a score in [0, 1] that multiplies
/// its weight, and when it was last updated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reputation {
    /// In [0, 1]: 1 is full weight; halves every penalty half-life while
    /// penalised, recovers linearly otherwise.
    pub score: f64,
    /// When the score last changed; the next step is scaled by the time
    /// since (at most [`ReputationParams::max_step`]).
    pub updated: Timestamp,
}

/// Two reporters' comparisons in one pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Shared pairs on which the two could be compared.
    pub compared: u32,
    /// Of those, pairs where one's success reaches the other's failure.
    pub contradicted: u32,
}

impl Tally {
    /// Counts one comparison, saturating at `u32::MAX`.
    pub fn add(&mut self, contradicted: bool) {
        self.compared = self.compared.saturating_add(1);
        self.contradicted = self.contradicted.saturating_add(u32::from(contradicted));
    }
}

/// What the graph could check of one reporter's successes in one pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GraphCheck {
    /// Pairs with a success claim and a known channel capacity.
    pub checked: u32,
    /// Of those, pairs where the success is above the capacity.
    pub impossible: u32,
}

/// Every comparison of one pass, by the two reporters (lower key first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparisons {
    tallies: BTreeMap<(NodeId, NodeId), Tally>,
    /// Distinct pairs on which each reporter was contradicted at least once.
    contradicted_pairs: BTreeMap<NodeId, u32>,
    /// Each reporter's successes checked against the graph's capacities.
    graph: BTreeMap<NodeId, GraphCheck>,
}

impl Comparisons {
    /// One comparison between `a` and `b` (in either order; a reporter is
    /// never compared with itself).
    pub fn add(&mut self, a: NodeId, b: NodeId, contradicted: bool) {
        if a == b {
            return;
        }
        let key = if a < b { (a, b) } else { (b, a) };
        self.tallies.entry(key).or_default().add(contradicted);
    }

    /// The tally of `a` and `b`.
    pub fn between(&self, a: NodeId, b: NodeId) -> Tally {
        let key = if a < b { (a, b) } else { (b, a) };
        self.tallies.get(&key).copied().unwrap_or_default()
    }

    /// No two reporters were compared (graph checks are not counted).
    pub fn is_empty(&self) -> bool {
        self.tallies.is_empty()
    }

    /// Counts one more pair on which `reporter` was contradicted.
    pub fn contradicted_on_a_pair(&mut self, reporter: NodeId) {
        let n = self.contradicted_pairs.entry(reporter).or_default();
        *n = n.saturating_add(1);
    }

    /// On how many distinct pairs `reporter` was contradicted.
    pub fn pairs_contradicted(&self, reporter: NodeId) -> u32 {
        self.contradicted_pairs.get(&reporter).copied().unwrap_or(0)
    }

    /// Counts one of `reporter`'s successes checked against a channel
    /// capacity, and whether it was above it.
    pub fn checked_by_graph(&mut self, reporter: NodeId, impossible: bool) {
        let g = self.graph.entry(reporter).or_default();
        g.checked = g.checked.saturating_add(1);
        g.impossible = g.impossible.saturating_add(u32::from(impossible));
    }

    /// What the graph could check of `reporter`'s successes.
    pub fn graph_check(&self, reporter: NodeId) -> GraphCheck {
        self.graph.get(&reporter).copied().unwrap_or_default()
    }

    /// Every compared reporter's verdict, by iterative filtering from the
    /// `stored` scores (a reporter without one counts as 1).
    pub fn verdicts(&self, stored: &HashMap<NodeId, Reputation>) -> HashMap<NodeId, Verdict> {
        // Index reporters and list each one's peers with their disagreement.
        let keys: Vec<NodeId> = self
            .tallies
            .keys()
            .flat_map(|(a, b)| [*a, *b])
            .chain(self.graph.iter().filter(|(_, g)| g.impossible > 0).map(|(k, _)| *k))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let index: HashMap<NodeId, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        // Each peer pair: the share q of its comparisons that contradicted,
        // and how much a share of that many comparisons says, n / (n + 1).
        let mut peers: Vec<Vec<(usize, f64, f64)>> = vec![Vec::new(); keys.len()];
        for ((a, b), t) in &self.tallies {
            let (i, j) = (index[a], index[b]);
            let n = f64::from(t.compared);
            let (q, e) = (f64::from(t.contradicted) / n.max(1.0), n / (n + 1.0));
            peers[i].push((j, q, e));
            peers[j].push((i, q, e));
        }
        let base: Vec<f64> = keys
            .iter()
            .map(|k| stored.get(k).map_or(1.0, |r| sane_score(r.score)))
            .collect();
        // A witness's weight: its trust, divided by how many trusted peers
        // it contradicts (at least 1), so each reporter has one accusation
        // to spend, however many it makes.
        let witness = |trust: &[f64]| -> Vec<f64> {
            (0..keys.len())
                .map(|j| {
                    let accused: f64 = peers[j].iter().map(|&(i, q, _)| trust[i] * q).sum();
                    trust[j] / accused.max(1.0)
                })
                .collect()
        };
        let judged = |w: &[f64], i: usize| -> (f64, f64) {
            let (mut num, mut den) = (0.0, 0.0);
            for &(j, q, e) in &peers[i] {
                num += w[j] * e * q;
                den += w[j] * e;
            }
            (num / (den + PRIOR_AGREEMENT), den)
        };
        // Damped: undamped, two camps that contradict each other can swing
        // between "both lie" and "neither does".
        let mut trust = base.clone();
        for _ in 0..FILTER_ROUNDS {
            let w = witness(&trust);
            trust = (0..keys.len())
                .map(|i| 0.5 * trust[i] + 0.5 * base[i] * (1.0 - judged(&w, i).0).clamp(0.0, 1.0))
                .collect();
        }
        let w = witness(&trust);
        // Only trusted peers judge: evidence from peers filtered out as
        // liars would let their few honest comparisons decide alone.
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                let voting = || {
                    peers[i]
                        .iter()
                        .filter(|(j, _, _)| base[*j] > 0.0 && trust[*j] >= TRUSTED * base[*j])
                };
                let (disagreement, evidence) = judged(&w, i);
                (
                    *k,
                    Verdict {
                        peers: u32::try_from(voting().count()).unwrap_or(u32::MAX),
                        contradicted_pairs: self.pairs_contradicted(*k),
                        graph: self.graph_check(*k),
                        evidence,
                        disagreement,
                    },
                )
            })
            .collect()
    }
}

/// How a reporter fared in one pass.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Verdict {
    /// Established reporters it was compared with (any trust above 0).
    pub peers: u32,
    /// Its witnesses' total weight (see the module doc).
    pub evidence: f64,
    /// Distinct pairs on which it was contradicted by anyone.
    pub contradicted_pairs: u32,
    /// The witnesses' weighted contradicted share, [`PRIOR_AGREEMENT`] added to the weights; in [0, 1].
    pub disagreement: f64,
    /// Its successes the graph could check, and how many it refutes.
    pub graph: GraphCheck,
}

impl Verdict {
    /// Whether this pass counts against the reporter: its peers contradict
    /// it, or the graph does (see the module doc, "The graph is a witness").
    pub fn penalised(&self, p: &ReputationParams) -> bool {
        let by_peers = self.peers >= p.min_peers.max(1)
            && self.contradicted_pairs >= p.min_contradicted_pairs.max(1)
            && self.disagreement > p.tolerance;
        let by_graph = self.graph.impossible >= p.min_contradicted_pairs.max(1)
            && f64::from(self.graph.impossible) > p.tolerance * f64::from(self.graph.checked);
        by_peers || by_graph
    }
}

/// A stored score as the rule uses it: in [0, 1], and 1 where it is not a
/// number (a damaged record must not silence a reporter).
fn sane_score(score: f64) -> f64 {
    if score.is_finite() {
        score.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// The reporter's reputation after a pass at `now` (`prev`: `None` for a
/// reporter never updated, which starts at 1).
pub fn update(prev: Option<Reputation>, verdict: Verdict, now: Timestamp, p: &ReputationParams) -> Reputation {
    let (score, step) = match prev {
        Some(r) => (r.score, now.sub(r.updated).clamp(DurationNs::ZERO, p.max_step)),
        None => (1.0, p.first_step.clamp(DurationNs::ZERO, p.max_step)),
    };
    let score = sane_score(score);
    let step = step.as_nanos() as f64;
    let score = if verdict.penalised(p) {
        score * 0.5f64.powf(step / p.penalty_half_life.max(DurationNs::NANOSECOND).as_nanos() as f64)
    } else {
        (score + step / p.recovery.max(DurationNs::NANOSECOND).as_nanos() as f64).min(1.0)
    };
    Reputation { score, updated: now }
}

/// One pass's comparisons over the pairs (pairs with one reporter add none).
pub fn judge<'a>(pairs: impl IntoIterator<Item = (DirectedPair, &'a [View])>, standing: &dyn Standing) -> Comparisons {
    let mut c = Comparisons::default();
    for (pair, views) in pairs {
        judge_pair(&pair, views, standing, &mut c);
    }
    c
}

/// [`judge`] for one pair, adding to `comparisons` (for callers that
/// stream pairs): every two established reporters of the pair, or each
/// with its [`MAX_COMPARED`] neighbours in key order on a crowded pair.
pub fn judge_pair(pair: &DirectedPair, views: &[View], standing: &dyn Standing, comparisons: &mut Comparisons) {
    let mut est: Vec<(NodeId, &View)> = views
        .iter()
        .filter(|v| standing.class(&v.reporter) == ReporterClass::Established)
        .filter_map(|v| v.reporter.key().map(|k| (*k, v)))
        .collect();
    est.sort_by_key(|(k, _)| *k);
    est.dedup_by_key(|(k, _)| *k);
    let channel = standing.channel(pair);
    // The graph checks every success, on lone pairs too.
    if let ChannelCheck::Capacity(capacity @ Msat(1..)) = channel {
        for (key, v) in &est {
            let r = &v.record;
            if !r.success_time.is_zero() && r.success_amt_msat > Msat::ZERO {
                comparisons.checked_by_graph(*key, r.success_amt_msat > capacity);
            }
        }
    }
    if est.len() < 2 {
        return;
    }
    let n = est.len();
    let mut contradicted = vec![false; n];
    let reach = if n <= MAX_COMPARED { n - 1 } else { MAX_COMPARED / 2 };
    for i in 0..n {
        for step in 1..=reach {
            let j = (i + step) % n;
            // Full comparison: each unordered pair once.
            if n <= MAX_COMPARED && j < i {
                continue;
            }
            let ((a, va), (b, vb)) = (est[i], est[j]);
            if let Some(c) = conflict(channel, &va.record, &vb.record) {
                comparisons.add(a, b, c);
                contradicted[i] |= c;
                contradicted[j] |= c;
            }
        }
    }
    for (i, (key, _)) in est.iter().enumerate() {
        if contradicted[i] {
            comparisons.contradicted_on_a_pair(*key);
        }
    }
}

/// The reputations to store after a pass at `now`: every reporter with a
/// stored reputation, updated, and every newly penalised one. A reporter
/// at full score with nothing against it needs no record.
pub fn after_pass(
    stored: &HashMap<NodeId, Reputation>,
    verdicts: &HashMap<NodeId, Verdict>,
    now: Timestamp,
    p: &ReputationParams,
) -> Vec<(NodeId, Reputation)> {
    let mut out: Vec<(NodeId, Reputation)> = stored
        .iter()
        .map(|(k, r)| {
            (
                *k,
                update(Some(*r), verdicts.get(k).copied().unwrap_or_default(), now, p),
            )
        })
        .collect();
    out.extend(
        verdicts
            .iter()
            .filter(|(k, v)| !stored.contains_key(k) && v.penalised(p))
            .map(|(k, v)| (*k, update(None, *v, now, p))),
    );
    out.sort_by_key(|(k, _)| *k);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{aggregate, AggregationParams, Held, Reporter, Ungraphed};
    use crate::state::TimedPairResult;

    /// The rule check: an established reporter lying alone on 100
    /// pairs while contradicted on 20 shared ones ends with less weight
    /// than an honest one, and its lone pairs are no longer served.
    #[test]
    fn a_liar_contradicted_on_shared_pairs_loses_its_lone_pairs() {
        let key = |i: u8| {
            NodeId([
                2, i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ])
        };
        let (liar, honest) = (Reporter::Node(key(1)), Reporter::Node(key(2)));
        let witnesses = [Reporter::Node(key(3)), Reporter::Node(key(4))];
        let pair = |i: u8| DirectedPair::new(key(100), key(i));
        let at = |s: i64| Timestamp::from_unix_secs(1_800_000_000 + s);
        let succ = |a: u64| TimedPairResult {
            success_time: at(0),
            success_amt_msat: Msat(a),
            ..Default::default()
        };
        let fail = |a: u64| TimedPairResult {
            fail_time: at(1),
            fail_amt_msat: Msat(a),
            ..Default::default()
        };
        let mut pairs: Vec<(DirectedPair, Vec<View>)> = Vec::new();
        for i in 0..20 {
            let mut v: Vec<View> = witnesses
                .iter()
                .map(|w| View {
                    reporter: *w,
                    record: succ(500_000),
                })
                .collect();
            v.push(View {
                reporter: liar,
                record: fail(1),
            });
            v.push(View {
                reporter: honest,
                record: succ(400_000),
            });
            pairs.push((pair(i), v));
        }
        // Alone, the liar claims 9·10¹² msat successes (a lone failure is
        // never served: `failure_corroboration`).
        for i in 20..120 {
            pairs.push((
                pair(i),
                vec![View {
                    reporter: liar,
                    record: succ(9_000_000_000_000),
                }],
            ));
            pairs.push((
                pair(i + 100),
                vec![View {
                    reporter: honest,
                    record: succ(300_000),
                }],
            ));
        }
        /// Ungraphed, with the reputations of a pass.
        struct WithRep<'a>(&'a HashMap<NodeId, Reputation>);
        impl Standing for WithRep<'_> {
            fn class(&self, r: &Reporter) -> crate::aggregate::ReporterClass {
                Ungraphed.class(r)
            }
            fn reputation(&self, r: &Reporter) -> f64 {
                r.key().and_then(|k| self.0.get(k)).map_or(1.0, |x| x.score)
            }
            fn channel(&self, p: &DirectedPair) -> crate::aggregate::ChannelCheck {
                Ungraphed.channel(p)
            }
        }
        let params = AggregationParams::default();
        let rp = ReputationParams::default();
        let mut stored: HashMap<NodeId, Reputation> = HashMap::new();
        let lone = |stored: &HashMap<NodeId, Reputation>, p: &DirectedPair, v: &[View]| {
            aggregate(p, v, &WithRep(stored), &params)
        };
        assert!(
            lone(&stored, &pairs[20].0, &pairs[20].1).is_ok(),
            "served before any pass"
        );
        for pass in 0..3 {
            let comparisons = judge(pairs.iter().map(|(p, v)| (*p, &v[..])), &WithRep(&stored));
            // The liar contradicts each of its three peers on all 20 shared pairs.
            assert_eq!(
                comparisons.between(key(1), key(3)),
                Tally {
                    compared: 20,
                    contradicted: 20
                },
                "pass {pass}"
            );
            assert_eq!(comparisons.between(key(2), key(3)), Tally::default(), "two successes");
            let verdicts = comparisons.verdicts(&stored);
            assert!(verdicts[&key(1)].penalised(&rp), "pass {pass}: {verdicts:?}");
            assert!(!verdicts[&key(2)].penalised(&rp), "pass {pass}: {verdicts:?}");
            for (k, r) in after_pass(&stored, &verdicts, at(600 * (pass + 1)), &rp) {
                stored.insert(k, r);
            }
        }
        let st = WithRep(&stored);
        assert!(
            st.reputation(&liar) < 0.51 && st.reputation(&honest) == 1.0,
            "{stored:?}"
        );
        for (p, v) in &pairs[20..] {
            let served = lone(&stored, p, v);
            if v[0].reporter == liar {
                assert_eq!(served, Err(Held::Unbacked));
            } else {
                assert!(served.is_ok());
            }
        }
        // Honest again: it recovers, slowly.
        let quiet = HashMap::new();
        let mut later = stored.clone();
        for h in 1..=48 {
            for (k, r) in after_pass(&later, &quiet, at(1800 + h * 3600), &rp) {
                later.insert(k, r);
            }
        }
        assert_eq!(later[&key(1)].score, 1.0);
    }

    /// A success above the channel's capacity needs no peer to refute it:
    /// a reporter claiming that on its own pairs is penalised and its lone
    /// pairs stop being served, while an honest reporter with a few pairs
    /// above a stale graph's capacity (spliced channels) is not.
    #[test]
    fn the_graph_refutes_successes_above_the_capacity() {
        let key = |i: u8| {
            let mut b = [0u8; 33];
            b[0] = 2;
            b[1] = i;
            NodeId(b)
        };
        const CAPACITY: u64 = 1_000_000_000;
        /// Every channel holds 1 000 000 sat; every signed key is established.
        struct Graphed<'a>(&'a HashMap<NodeId, Reputation>);
        impl Standing for Graphed<'_> {
            fn class(&self, r: &crate::aggregate::Reporter) -> ReporterClass {
                crate::aggregate::Ungraphed.class(r)
            }
            fn reputation(&self, r: &crate::aggregate::Reporter) -> f64 {
                r.key().and_then(|k| self.0.get(k)).map_or(1.0, |x| x.score)
            }
            fn channel(&self, _: &DirectedPair) -> ChannelCheck {
                ChannelCheck::Capacity(Msat(CAPACITY))
            }
        }
        let at = Timestamp::from_unix_secs(1_800_000_000);
        let succ = |a: u64| TimedPairResult {
            success_time: at,
            success_amt_msat: Msat(a),
            ..Default::default()
        };
        let (liar, spliced) = (
            crate::aggregate::Reporter::Node(key(1)),
            crate::aggregate::Reporter::Node(key(2)),
        );
        let mut pairs: Vec<(DirectedPair, Vec<View>)> = Vec::new();
        for i in 0..40u8 {
            // The liar alone on 40 pairs, each at 21 million BTC.
            pairs.push((
                DirectedPair::new(key(100), key(i)),
                vec![View {
                    reporter: liar,
                    record: succ((crate::aggregate::MAX_MSAT).0),
                }],
            ));
            // The honest reporter alone on 40 others, 6 of them above the capacity.
            let amt = if i < 6 { CAPACITY + 1 } else { CAPACITY / 2 };
            pairs.push((
                DirectedPair::new(key(101), key(i)),
                vec![View {
                    reporter: spliced,
                    record: succ(amt),
                }],
            ));
        }
        let rp = ReputationParams::default();
        let params = AggregationParams::default();
        let mut stored: HashMap<NodeId, Reputation> = HashMap::new();
        let served = |stored: &HashMap<NodeId, Reputation>, who| {
            pairs
                .iter()
                .filter(|(_, v)| v[0].reporter == who)
                .filter(|(p, v)| aggregate(p, v, &Graphed(stored), &params).is_ok())
                .count()
        };
        assert_eq!((served(&stored, liar), served(&stored, spliced)), (40, 40));
        let comparisons = judge(pairs.iter().map(|(p, v)| (*p, &v[..])), &Graphed(&stored));
        assert_eq!(
            comparisons.graph_check(key(1)),
            GraphCheck {
                checked: 40,
                impossible: 40
            }
        );
        assert_eq!(
            comparisons.graph_check(key(2)),
            GraphCheck {
                checked: 40,
                impossible: 6
            }
        );
        let verdicts = comparisons.verdicts(&stored);
        assert!(verdicts[&key(1)].penalised(&rp), "{verdicts:?}");
        assert!(!verdicts[&key(2)].penalised(&rp), "{verdicts:?}");
        for (k, r) in after_pass(&stored, &verdicts, at, &rp) {
            stored.insert(k, r);
        }
        assert!(stored[&key(1)].score < 1.0 && !stored.contains_key(&key(2)));
        assert_eq!((served(&stored, liar), served(&stored, spliced)), (0, 40));
        // Fewer than `min_contradicted_pairs` impossible claims decide nothing,
        // even when they are all a reporter sent.
        let few: Vec<(DirectedPair, Vec<View>)> = pairs
            .iter()
            .filter(|(_, v)| v[0].reporter == liar)
            .take(4)
            .cloned()
            .collect();
        let v = judge(few.iter().map(|(p, v)| (*p, &v[..])), &Graphed(&HashMap::new())).verdicts(&HashMap::new());
        assert!(!v[&key(1)].penalised(&rp), "{v:?}");
    }

    /// One comparison on a pair of its own.
    fn pair_seen(c: &mut Comparisons, a: NodeId, b: NodeId, contradicted: bool) {
        c.add(a, b, contradicted);
        if contradicted {
            c.contradicted_on_a_pair(a);
            c.contradicted_on_a_pair(b);
        }
    }

    fn t(m: i64) -> Timestamp {
        Timestamp::from_unix_secs(1_800_000_000 + m * 60)
    }

    fn n(i: u8) -> NodeId {
        let mut k = [0u8; 33];
        k[0] = 2;
        k[1] = i;
        NodeId(k)
    }

    fn judged(d: f64) -> Verdict {
        Verdict {
            peers: 10,
            contradicted_pairs: 10,
            evidence: 100.0,
            disagreement: d,
            graph: GraphCheck::default(),
        }
    }

    #[test]
    fn a_contradicted_reporter_halves_every_half_life_and_recovers_slowly() {
        let p = ReputationParams::default();
        let liar = judged(0.9);
        let r = update(None, liar, t(0), &p);
        assert!((r.score - 0.5f64.powf(1.0 / 3.0)).abs() < 1e-12, "{r:?}");
        let r = update(Some(r), liar, t(30), &p);
        assert!((r.score - 0.5f64.powf(4.0 / 3.0)).abs() < 1e-12, "{r:?}");
        // Recovery: +1/48 per hour, at most one hour per update.
        let honest = judged(0.1);
        let back = update(Some(r), honest, t(30 + 600), &p);
        assert!((back.score - (r.score + 1.0 / 48.0)).abs() < 1e-12, "{back:?}");
        // A second replica's pass right after changes nothing.
        let again = update(Some(back), liar, t(30 + 600), &p);
        assert_eq!(again.score, back.score);
    }

    #[test]
    fn too_few_peers_or_little_disagreement_is_no_penalty() {
        let p = ReputationParams::default();
        let few = Verdict {
            peers: 2,
            contradicted_pairs: 20,
            evidence: 20.0,
            disagreement: 1.0,
            graph: GraphCheck::default(),
        };
        assert_eq!(update(None, few, t(0), &p).score, 1.0);
        assert!(!judged(0.25).penalised(&p));
        assert!(judged(0.26).penalised(&p));
        // Garbage in the stored score is repaired, a clock going back is no step.
        let weird = Reputation {
            score: f64::NAN,
            updated: t(10),
        };
        assert_eq!(update(Some(weird), judged(0.9), t(0), &p).score, 1.0);
    }

    /// The collusion the per-pair majority rule lost to: ten liars agree
    /// on their target pairs, where each honest reporter is alone against
    /// them. Judged by peers, one vote each, the liars are found and the
    /// honest reporters are not.
    #[test]
    fn colluders_are_one_vote_each_and_lose_to_the_honest_majority() {
        let p = ReputationParams::default();
        let liars: Vec<NodeId> = (0..10).map(n).collect();
        let honest: Vec<NodeId> = (100..140).map(n).collect();
        let mut c = Comparisons::default();
        // Liars agree with each other everywhere.
        for a in &liars {
            for b in &liars {
                if a < b {
                    for _ in 0..50 {
                        pair_seen(&mut c, *a, *b, false);
                    }
                }
            }
        }
        // Each honest reporter meets every liar on one target pair (a
        // contradiction) and its honest neighbours on a few pairs, where
        // liquidity moved between reports once in ten.
        for (i, h) in honest.iter().enumerate() {
            for l in &liars {
                pair_seen(&mut c, *h, *l, true);
            }
            for step in 1..=5 {
                let other = honest[(i + step) % honest.len()];
                for k in 0..10 {
                    pair_seen(&mut c, *h, other, k == 0);
                }
            }
        }
        let v = c.verdicts(&HashMap::new());
        for l in &liars {
            assert!(v[l].penalised(&p), "liar {:?}", v[l]);
        }
        for h in &honest {
            assert!(!v[h].penalised(&p), "honest {:?}", v[h]);
        }
        // Without filtering, an honest reporter's plain mean would be
        // 10 liars × 1 + 10 honest × 0.1 over 20 peers = 0.55.
        assert!(v[&honest[0]].disagreement < p.tolerance, "{:?}", v[&honest[0]]);
    }

    /// Blackholing liars report only failures, so they never meet each
    /// other (two failures are no comparison) and honest reporters,
    /// mostly reporting successes, rarely meet each other: every
    /// comparison is one honest against one liar, and every share is 1 on
    /// both sides. The side contradicted by more peers must fall.
    #[test]
    fn where_liars_and_honest_meet_only_each_other_the_liars_fall() {
        let p = ReputationParams::default();
        let liars: Vec<NodeId> = (0..10).map(n).collect();
        let honest: Vec<NodeId> = (100..140).map(n).collect();
        let mut c = Comparisons::default();
        let mut heavy = Comparisons::default();
        for h in &honest {
            // Every honest reporter meets every liar on many target pairs.
            for l in &liars {
                for _ in 0..20 {
                    pair_seen(&mut heavy, *h, *l, true);
                }
            }
        }
        for (i, h) in honest.iter().enumerate() {
            // Each honest reporter meets three liars on a few target pairs...
            for k in 0..3 {
                for _ in 0..3 {
                    pair_seen(&mut c, *h, liars[(i + k) % liars.len()], true);
                }
            }
            // ...and a quarter of them one honest peer once, in agreement.
            if i % 4 == 0 {
                pair_seen(&mut c, *h, honest[i + 1], false);
            }
        }
        for (c, stored) in [
            (&c, HashMap::new()),
            (&heavy, HashMap::new()),
            (&c, {
                // Also from a state where the honest were wrongly penalised first.
                honest
                    .iter()
                    .map(|h| {
                        (
                            *h,
                            Reputation {
                                score: 0.5,
                                updated: t(0),
                            },
                        )
                    })
                    .collect()
            }),
        ] {
            let v = c.verdicts(&stored);
            for l in &liars {
                assert!(v[l].penalised(&p), "liar {:?}", v[l]);
            }
            for h in &honest {
                assert!(!v[h].penalised(&p), "honest {:?}", v[h]);
            }
        }
    }

    /// Ten colluders on one pair contradict the honest reporter there ten
    /// times, but on one pair: not enough to penalise it.
    #[test]
    fn colluders_flooding_one_pair_cannot_penalise_the_honest_reporter_there() {
        use crate::aggregate::{Reporter, Ungraphed};
        let pair = DirectedPair::new(n(250), n(251));
        let at = Timestamp::from_unix_secs(1_800_000_000);
        let mut views: Vec<View> = (0..10)
            .map(|i| View {
                reporter: Reporter::Node(n(i)),
                record: TimedPairResult {
                    fail_time: at,
                    fail_amt_msat: Msat(1),
                    ..Default::default()
                },
            })
            .collect();
        views.push(View {
            reporter: Reporter::Node(n(100)),
            record: TimedPairResult {
                success_time: at,
                success_amt_msat: Msat(500_000),
                ..Default::default()
            },
        });
        let c = judge([(pair, &views[..])], &Ungraphed);
        assert_eq!(c.pairs_contradicted(n(100)), 1);
        let v = c.verdicts(&HashMap::new());
        let honest = v[&n(100)];
        assert!(honest.peers >= 3 && honest.disagreement > 0.25, "{honest:?}");
        assert!(!honest.penalised(&ReputationParams::default()), "{honest:?}");
    }

    #[test]
    fn a_reporter_is_never_compared_with_itself_and_order_does_not_matter() {
        let mut c = Comparisons::default();
        c.add(n(1), n(1), true);
        assert!(c.is_empty());
        c.add(n(2), n(1), true);
        c.add(n(1), n(2), false);
        assert_eq!(
            c.between(n(1), n(2)),
            Tally {
                compared: 2,
                contradicted: 1
            }
        );
        assert_eq!(c.between(n(2), n(1)), c.between(n(1), n(2)));
    }

    #[test]
    fn crowded_pairs_compare_each_reporter_with_its_neighbours_only() {
        use crate::aggregate::{Reporter, Ungraphed};
        use crate::state::TimedPairResult;
        let pair = DirectedPair::new(n(250), n(251));
        let views = |count: u8| -> Vec<View> {
            (0..count)
                .map(|i| View {
                    reporter: Reporter::Node(n(i)),
                    record: if i % 2 == 0 {
                        TimedPairResult {
                            success_time: t(0),
                            success_amt_msat: Msat(1_000),
                            ..Default::default()
                        }
                    } else {
                        TimedPairResult {
                            fail_time: t(0),
                            fail_amt_msat: Msat(5_000),
                            ..Default::default()
                        }
                    },
                })
                .collect()
        };
        let count = |c: &Comparisons| c.tallies.values().map(|t| t.compared).sum::<u32>();
        let mut small = Comparisons::default();
        judge_pair(&pair, &views(10), &Ungraphed, &mut small);
        // 5 successes × 5 failures are comparable.
        assert_eq!(count(&small), 25);
        let mut big = Comparisons::default();
        judge_pair(&pair, &views(200), &Ungraphed, &mut big);
        // 200 reporters × 32 forward neighbours, half of them of the other kind.
        assert_eq!(count(&big), 200 * 16);
        for i in 0..200u8 {
            let peers = (0..200u8).filter(|j| big.between(n(i), n(*j)).compared > 0).count();
            assert_eq!(peers, 32, "reporter {i}");
        }
    }
}
