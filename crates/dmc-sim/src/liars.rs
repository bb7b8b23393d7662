//! Contributors that lie: what they send instead of (or besides) what their
//! mission control holds.
//!
//! A liar is an established node of the graph (the dangerous case: its
//! word weighs as much as an honest established node's) that pays like any
//! contributor and exports at every sync interval. Each kind turns its real
//! mission control into claims an attacker would make; every claim is
//! stamped at export time, so it is as fresh as anything honest reporters
//! send, and is re-sent at every interval so it never ages (an honest
//! contributor sends only what changed). The Go coordinator and dmc's
//! receive the same claims. Definitions, and why each is what an attacker
//! would do, are in `docs/simulator.md`.

use dmc_core::aggregate::{newest_time, MAX_MSAT};
use dmc_core::amount::Sat;
use dmc_core::{DirectedPair, Msat, NodeId, PairSnapshot, TimedPairResult, Timestamp};
use dmc_graph::Graph;

use crate::rng::Rng;

/// What a liar claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lie {
    /// The opposite of the newest thing it saw on each pair, at the same
    /// amount: a success at `a` becomes a failure at `a`, a failure at `a`
    /// a success at `a`.
    Inverted,
    /// Its honest data, plus 1-sat failures on every outgoing direction of
    /// its [`BLACKHOLE_COMPETITORS`] largest competitors (by channel
    /// capacity), except towards itself.
    Blackhole,
    /// A success at 21 million BTC on every pair it holds and on both
    /// directions of each of its own channels.
    FakeCapacity,
}

impl Lie {
    /// Every kind, in the order experiments run and report them.
    pub const ALL: [Lie; 3] = [Lie::Inverted, Lie::Blackhole, Lie::FakeCapacity];

    /// The kind's name on the command line and in reports (`inverted`, `blackhole`,
    /// `fake-capacity`).
    pub fn name(self) -> &'static str {
        match self {
            Lie::Inverted => "inverted",
            Lie::Blackhole => "blackhole",
            Lie::FakeCapacity => "fake-capacity",
        }
    }

    /// The kind with this [`Lie::name`], if any.
    pub fn parse(s: &str) -> Option<Self> {
        Lie::ALL.into_iter().find(|l| l.name() == s)
    }
}

/// Which share of the contributors lie, and how.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiarParams {
    /// In [0, 1): `round(fraction × contributors)` liars.
    pub fraction: f64,
    /// What every liar claims.
    pub kind: Lie,
}

/// The blackhole's fake failure amount: 1 sat (every payment above 1 sat
/// "fails"; LND drops zero-amount failures on import, so 0 is no lie).
pub const BLACKHOLE_FAIL_MSAT: Msat = Sat(1).to_msat_saturating();

/// How many competitors a blackholing liar targets: the nodes with the
/// largest total channel capacity other than itself (the hubs that carry
/// the traffic it wants). On the 2026-02-03 graph the three largest hold
/// 1 554 BTC over 1 221 enabled outgoing directions; a larger set costs
/// the simulation a reputation pass over thousands more colluding views
/// every interval.
pub const BLACKHOLE_COMPETITORS: usize = 3;

/// A fake-capacity liar's success amount: all the bitcoin there will ever
/// be, the largest amount a coordinator keeps ([`MAX_MSAT`]).
pub const FAKE_SUCCESS_MSAT: Msat = MAX_MSAT;

/// The inverted claim for one record at `now` (`None` when the newest slot
/// has no amount to invert: a failure at 0 msat, which means "fails at any
/// amount", has no success at the same amount).
pub fn invert(r: &TimedPairResult, now: Timestamp) -> Option<TimedPairResult> {
    let has_success = !r.success_time.is_zero() && r.success_amt_msat > Msat::ZERO;
    let has_failure = !r.fail_time.is_zero();
    // The newest slot; a tie goes to the failure, as LND's import resolves it.
    let failure_newest = has_failure && (!has_success || r.fail_time >= r.success_time);
    if failure_newest {
        (r.fail_amt_msat > Msat::ZERO).then_some(TimedPairResult {
            success_time: now,
            success_amt_msat: r.fail_amt_msat,
            ..Default::default()
        })
    } else if has_success {
        Some(TimedPairResult {
            fail_time: now,
            fail_amt_msat: r.success_amt_msat,
            ..Default::default()
        })
    } else {
        None
    }
}

/// An inverting liar's export at `now`: every pair it holds, inverted.
pub fn inverted(pairs: &[PairSnapshot], now: Timestamp) -> Vec<PairSnapshot> {
    pairs
        .iter()
        .filter_map(|p| invert(&p.result, now).map(|result| PairSnapshot { pair: p.pair, result }))
        .collect()
}

/// A blackholing liar's export at `now`: its honest `changed` pairs except
/// the targets, and a fake failure on every target.
pub fn blackhole(changed: &[PairSnapshot], targets: &[DirectedPair], now: Timestamp) -> Vec<PairSnapshot> {
    let fake = TimedPairResult {
        fail_time: now,
        fail_amt_msat: BLACKHOLE_FAIL_MSAT,
        ..Default::default()
    };
    let mut out: Vec<PairSnapshot> = changed
        .iter()
        .filter(|p| targets.binary_search(&p.pair).is_err())
        .copied()
        .collect();
    out.extend(targets.iter().map(|&pair| PairSnapshot { pair, result: fake }));
    out
}

/// A fake-capacity liar's export at `now`: a huge success on every pair it
/// holds and on every `extra` pair.
pub fn fake_capacity(pairs: &[PairSnapshot], extra: &[DirectedPair], now: Timestamp) -> Vec<PairSnapshot> {
    let fake = TimedPairResult {
        success_time: now,
        success_amt_msat: FAKE_SUCCESS_MSAT,
        ..Default::default()
    };
    let mut all: Vec<DirectedPair> = pairs.iter().map(|p| p.pair).chain(extra.iter().copied()).collect();
    all.sort();
    all.dedup();
    all.into_iter()
        .map(|pair| PairSnapshot { pair, result: fake })
        .collect()
}

/// What a liar holds up to `now`: its mission control without results
/// stamped later (a payment still running), as the honest export does.
pub fn held_until(snapshot: Vec<PairSnapshot>, now: Timestamp) -> Vec<PairSnapshot> {
    snapshot
        .into_iter()
        .filter(|p| !newest_time(&p.result).after(now))
        .collect()
}

/// Nodes by decreasing total channel capacity (ties by index).
pub fn nodes_by_capacity(g: &Graph) -> Vec<u32> {
    let mut total = vec![0u64; g.node_count()];
    for ch in g.channels() {
        total[ch.node1 as usize] = total[ch.node1 as usize].saturating_add(ch.capacity_sat.0);
        total[ch.node2 as usize] = total[ch.node2 as usize].saturating_add(ch.capacity_sat.0);
    }
    let mut v: Vec<u32> = (0..g.node_count() as u32).collect();
    v.sort_by(|a, b| total[*b as usize].cmp(&total[*a as usize]).then(a.cmp(b)));
    v
}

/// A blackholing liar's targets (sorted): the outgoing directions with an
/// enabled policy of the `k` nodes of `by_capacity` other than `liar`,
/// except those towards the liar.
pub fn blackhole_targets(g: &Graph, by_capacity: &[u32], liar: u32, k: usize) -> Vec<DirectedPair> {
    let victims: Vec<u32> = by_capacity.iter().copied().filter(|n| *n != liar).take(k).collect();
    let mut out = Vec::new();
    for ch in g.channels() {
        for (dir, (from, to)) in [(ch.node1, ch.node2), (ch.node2, ch.node1)].into_iter().enumerate() {
            if victims.contains(&from) && to != liar && ch.policies[dir].is_some_and(|p| !p.disabled) {
                out.push(DirectedPair::new(*g.node(from), *g.node(to)));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Both directions of every channel of `node` (sorted).
pub fn own_pairs(g: &Graph, node: u32) -> Vec<DirectedPair> {
    let mut out = Vec::new();
    for ch in g.channels() {
        if ch.node1 == node || ch.node2 == node {
            let (a, b) = (*g.node(ch.node1), *g.node(ch.node2));
            out.push(DirectedPair::new(a, b));
            out.push(DirectedPair::new(b, a));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Which contributors lie: `round(fraction × contributors)` of those that
/// are established, drawn with their own RNG from `seed` (so choosing
/// liars changes nothing else in the world). Fewer if fewer are
/// established. Returns contributor indices, sorted.
pub fn choose_liars(
    contributors: &[NodeId],
    established: impl Fn(&NodeId) -> bool,
    fraction: f64,
    seed: u64,
) -> Vec<usize> {
    let want = (fraction * contributors.len() as f64).round() as usize;
    let mut candidates: Vec<usize> = (0..contributors.len())
        .filter(|i| established(&contributors[*i]))
        .collect();
    let mut rng = Rng::new(seed ^ 0x6c69_6172_7321);
    // Fisher–Yates, then the first `want`.
    for i in (1..candidates.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        candidates.swap(i, j);
    }
    candidates.truncate(want);
    candidates.sort_unstable();
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::export_pairs;
    use dmc_core::{Msat, Sat};
    use dmc_graph::Policy;

    fn key(i: u8) -> NodeId {
        // G, 2G, 3G, 4G, 5G: keys that pass LND's validation.
        let hex = [
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
            "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
            "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
            "02e493dbf1c10d80f3581e4904930b1404cc6c13900ee0758474fa94abe8c4cd13",
            "022f8bde4d1a07209355b4a7250a5c5128e88b84bddc619ab7cba8d569b240efe4",
        ];
        NodeId::from_hex(hex[i as usize]).unwrap()
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_secs(1_800_000_000 + s)
    }

    fn snap(from: u8, to: u8, r: TimedPairResult) -> PairSnapshot {
        PairSnapshot {
            pair: DirectedPair::new(key(from), key(to)),
            result: r,
        }
    }

    fn succ(a: u64, s: i64) -> TimedPairResult {
        TimedPairResult {
            success_time: t(s),
            success_amt_msat: Msat(a),
            ..Default::default()
        }
    }

    fn fail(a: u64, s: i64) -> TimedPairResult {
        TimedPairResult {
            fail_time: t(s),
            fail_amt_msat: Msat(a),
            ..Default::default()
        }
    }

    #[test]
    fn inverted_flips_the_newest_slot_at_the_same_amount() {
        let now = t(600);
        assert_eq!(invert(&succ(50_000, 10), now), Some(fail(50_000, 600)));
        assert_eq!(invert(&fail(70_000, 10), now), Some(succ(70_000, 600)));
        // Both slots: the newer one is inverted; a tie counts as the failure.
        let both = TimedPairResult {
            success_time: t(20),
            success_amt_msat: Msat(10_000),
            fail_time: t(30),
            fail_amt_msat: Msat(90_000),
        };
        assert_eq!(invert(&both, now), Some(succ(90_000, 600)));
        let older_fail = TimedPairResult {
            fail_time: t(5),
            ..both
        };
        assert_eq!(invert(&older_fail, now), Some(fail(10_000, 600)));
        let tie = TimedPairResult {
            fail_time: t(20),
            ..both
        };
        assert_eq!(invert(&tie, now), Some(succ(90_000, 600)));
        // A failure at any amount (0) has nothing to invert.
        assert_eq!(invert(&fail(0, 10), now), None);
        assert_eq!(invert(&TimedPairResult::default(), now), None);
        // What the liar exports survives LND's import validation.
        let out = export_pairs(&inverted(
            &[snap(0, 1, succ(50_000, 10)), snap(1, 2, fail(70_000, 10))],
            now,
        ));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].result, fail(50_000, 600));
        assert_eq!(out[1].result, succ(70_000, 600));
    }

    #[test]
    fn blackhole_keeps_honest_data_and_fails_every_target_at_one_sat() {
        let now = t(600);
        let targets = {
            let mut v = vec![DirectedPair::new(key(2), key(3)), DirectedPair::new(key(0), key(1))];
            v.sort();
            v
        };
        let honest = [snap(0, 1, succ(50_000, 10)), snap(3, 4, succ(20_000, 10))];
        let out = export_pairs(&blackhole(&honest, &targets, now));
        assert_eq!(out.len(), 3, "{out:?}");
        // The honest record of a target pair is replaced by the lie.
        let of = |p: DirectedPair| out.iter().filter(|s| s.pair == p).map(|s| s.result).collect::<Vec<_>>();
        assert_eq!(of(DirectedPair::new(key(0), key(1))), vec![fail(1000, 600)]);
        assert_eq!(of(DirectedPair::new(key(2), key(3))), vec![fail(1000, 600)]);
        assert_eq!(of(DirectedPair::new(key(3), key(4))), vec![succ(20_000, 10)]);
    }

    #[test]
    fn fake_capacity_claims_everything_on_held_and_own_pairs() {
        let now = t(600);
        let held = [snap(0, 1, fail(50_000, 10)), snap(1, 2, succ(20_000, 10))];
        let extra = [DirectedPair::new(key(1), key(0)), DirectedPair::new(key(0), key(1))];
        let out = export_pairs(&fake_capacity(&held, &extra, now));
        assert_eq!(out.len(), 3, "deduplicated: {out:?}");
        assert!(out.iter().all(|s| s.result == succ(MAX_MSAT.0, 600)), "{out:?}");
    }

    fn small_graph() -> Graph {
        let mut g = Graph::default();
        let on = Policy {
            time_lock_delta: 40,
            min_htlc_msat: Msat(1000),
            max_htlc_msat: None,
            fee_base_msat: Msat(1000),
            fee_rate_ppm: 1,
            disabled: false,
        };
        let (p, off) = (Some(on), Some(Policy { disabled: true, ..on }));
        // 0 is the big hub, 1 the second; 4 the liar.
        g.add_channel(1, key(0), key(1), Sat(5_000_000), p, p);
        g.add_channel(2, key(0), key(2), Sat(4_000_000), p, off);
        g.add_channel(3, key(0), key(4), Sat(3_000_000), p, p);
        g.add_channel(4, key(1), key(3), Sat(2_000_000), p, p);
        g.add_channel(5, key(3), key(4), Sat(100_000), p, None);
        g
    }

    #[test]
    fn blackhole_targets_the_largest_competitors_outgoing_directions() {
        let g = small_graph();
        let by_cap = nodes_by_capacity(&g);
        let idx = |i: u8| g.node_index(&key(i)).unwrap();
        assert_eq!(by_cap[0], idx(0));
        assert_eq!(by_cap[1], idx(1));
        let liar = idx(4);
        let got = blackhole_targets(&g, &by_cap, liar, 1);
        let mut want = vec![DirectedPair::new(key(0), key(1)), DirectedPair::new(key(0), key(2))];
        want.sort();
        assert_eq!(got, want, "not towards the liar itself");
        // The liar is skipped when it is itself among the largest.
        let got = blackhole_targets(&g, &by_cap, idx(0), 1);
        let mut want = vec![DirectedPair::new(key(1), key(3))];
        want.sort();
        assert_eq!(got, want, "node 1 (0 excluded); 1→0 is towards the liar");
        let own = own_pairs(&g, liar);
        assert_eq!(own.len(), 4);
        assert!(own.contains(&DirectedPair::new(key(3), key(4))));
    }

    #[test]
    fn liars_are_established_deterministic_and_a_share() {
        let keys: Vec<NodeId> = (0..5).map(key).collect();
        let est = |k: &NodeId| *k != key(2);
        let a = choose_liars(&keys, est, 0.4, 7);
        assert_eq!(a.len(), 2);
        assert!(!a.contains(&2));
        assert_eq!(a, choose_liars(&keys, est, 0.4, 7));
        assert!(choose_liars(&keys, est, 0.0, 7).is_empty());
        // Never more than the established contributors.
        assert_eq!(choose_liars(&keys, est, 0.99, 7).len(), 4);
        let seeds: std::collections::HashSet<Vec<usize>> = (0..20).map(|s| choose_liars(&keys, est, 0.4, s)).collect();
        assert!(seeds.len() > 1, "the seed matters");
    }
}
