//! Builders the coordinator store tests share: keys, pairs, observations,
//! registrations, the open policy, a sorted snapshot.

// Each test file uses its own part of this.
#![allow(dead_code)]

use dmc_core::aggregate::{AggregationParams, Reporter};
use dmc_core::Msat;
use dmc_core::{DirectedPair, NodeId, PairSnapshot, TimedPairResult, Timestamp};
use dmc_store::coordinator::{AggregatedPair, AggregationPolicy, CoordinatorStore, Registration};

pub fn node(i: u16) -> NodeId {
    dmc_testkit::keys::fake_node(2, &i.to_be_bytes(), 3)
}

pub fn pair(a: u16, b: u16) -> DirectedPair {
    DirectedPair::new(node(a), node(b))
}

pub fn success(p: DirectedPair, amt: u64, t: i64) -> PairSnapshot {
    PairSnapshot {
        pair: p,
        result: TimedPairResult {
            success_time: Timestamp::from_unix_secs(t),
            success_amt_msat: Msat(amt),
            ..Default::default()
        },
    }
}

pub fn failure(p: DirectedPair, amt: u64, t: i64) -> PairSnapshot {
    PairSnapshot {
        pair: p,
        result: TimedPairResult {
            fail_time: Timestamp::from_unix_secs(t),
            fail_amt_msat: Msat(amt),
            ..Default::default()
        },
    }
}

/// An unsigned registration received at 2000 s.
pub fn reg(reporter: Reporter, pairs: Vec<PairSnapshot>) -> Registration {
    Registration {
        reporter,
        pairs,
        received: Timestamp::from_unix_secs(2_000),
        signed: None,
    }
}

pub fn sorted_snapshot(s: &dyn CoordinatorStore) -> Vec<AggregatedPair> {
    let mut v = s.snapshot().unwrap().0;
    v.sort_by_key(|a| a.pair);
    v
}

/// The Go coordinator's openness (every pair with any weight served), for
/// the tests about store mechanics rather than weighing.
pub fn open_policy() -> AggregationPolicy {
    AggregationPolicy {
        params: AggregationParams {
            min_serving_weight: 0.0,
            ..Default::default()
        },
        ..Default::default()
    }
}
