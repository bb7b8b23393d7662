//! What both graph benchmarks share: the seeded generator, the mainnet
//! snapshot's path, the query set and a mission control filled from the
//! snapshot's real node pairs.

#![allow(dead_code)]

use std::collections::HashSet;
use std::path::PathBuf;

use dmc_core::{DirectedPair, Msat, NodeId, PairSnapshot, Sat, TimedPairResult, Timestamp};
use dmc_graph::Graph;

/// "Now" for mission control: 2026-02-03 12:00 UTC, the snapshot's day.
pub const NOW: Timestamp = Timestamp::from_unix_secs(1_770_120_000);

/// The shipped mainnet snapshot (17 324 nodes, 50 808 channels).
pub fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/mainnet-2026-02-03.describegraph.json.gz")
}

pub use dmc_testkit::SplitMix64;

/// One route query: pay `amt_msat` from `source` to `target`.
#[derive(Clone, Copy, Debug)]
pub struct Query {
    pub source: NodeId,
    pub target: NodeId,
    pub amt_msat: Msat,
}

/// `count` queries drawn with `seed`: sources among nodes with at least one
/// enabled outgoing policy, targets among nodes with at least one enabled
/// incoming policy, `source != target`, amounts log-uniform in
/// [1 000, 1 000 000) sat. `valid_key` filters nodes (the LDK race needs
/// keys that are points on the curve).
pub fn queries(g: &Graph, count: usize, seed: u64, valid_key: &dyn Fn(&NodeId) -> bool) -> Vec<Query> {
    let n = g.node_count();
    let (mut has_out, mut has_in) = (vec![false; n], vec![false; n]);
    for ch in g.channels() {
        for (dir, from, to) in [(0, ch.node1, ch.node2), (1, ch.node2, ch.node1)] {
            if ch.policies[dir].is_some_and(|p| !p.disabled) {
                has_out[from as usize] = true;
                has_in[to as usize] = true;
            }
        }
    }
    let ok = |i: usize| valid_key(g.node(i as u32));
    let sources: Vec<u32> = (0..n).filter(|&i| has_out[i] && ok(i)).map(|i| i as u32).collect();
    let targets: Vec<u32> = (0..n).filter(|&i| has_in[i] && ok(i)).map(|i| i as u32).collect();
    let mut rng = SplitMix64(seed);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let s = sources[rng.below(sources.len())];
        let t = targets[rng.below(targets.len())];
        if s == t {
            continue;
        }
        let amt_sat = rng.log_uniform(1_000.0, 1_000_000.0);
        out.push(Query {
            source: *g.node(s),
            target: *g.node(t),
            amt_msat: Sat(amt_sat).to_msat_saturating(),
        });
    }
    out
}

/// `count` distinct directed pairs of the graph (pairs with an enabled
/// policy), each with a success (70 %) or a failure (30 %) at a
/// log-uniform amount up to the pair's largest capacity, at a time within
/// the hour before [`NOW`].
pub fn mc_pairs(g: &Graph, count: usize, seed: u64) -> Vec<PairSnapshot> {
    let mut seen = HashSet::new();
    let mut pairs: Vec<(u32, u32, Sat)> = Vec::new();
    for ch in g.channels() {
        for (dir, from, to) in [(0, ch.node1, ch.node2), (1, ch.node2, ch.node1)] {
            if ch.policies[dir].is_some_and(|p| !p.disabled) && seen.insert((from, to)) {
                pairs.push((from, to, ch.capacity_sat));
            }
        }
    }
    let mut rng = SplitMix64(seed);
    // Fisher-Yates, then keep the first `count`.
    for i in (1..pairs.len()).rev() {
        pairs.swap(i, rng.below(i + 1));
    }
    assert!(pairs.len() >= count, "graph has only {} directed pairs", pairs.len());
    pairs
        .iter()
        .take(count)
        .map(|&(from, to, cap_sat)| {
            let t = NOW.add(dmc_core::time::DurationNs(
                -((rng.below(3600) as i64 + 1) * 1_000_000_000),
            ));
            let cap_msat = cap_sat.max(Sat(2_000)).to_msat_saturating().as_f64();
            let amt = rng.log_uniform(1_000_000.0, cap_msat);
            let mut result = TimedPairResult::default();
            if rng.unit() < 0.7 {
                result.success_time = t;
                result.success_amt_msat = Msat(amt);
            } else {
                result.fail_time = t;
                result.fail_amt_msat = Msat(amt);
            }
            PairSnapshot {
                pair: DirectedPair::new(*g.node(from), *g.node(to)),
                result,
            }
        })
        .collect()
}
