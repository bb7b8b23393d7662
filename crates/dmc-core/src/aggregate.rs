//! How a coordinator combines what several reporters saw.
//!
//! Every reporter keeps its own record per pair, merged with LND's import
//! rules ([`import_pair`], spec §3), so one reporter's relax interval never
//! drops another's real failure. The aggregate a wallet downloads is
//! derived from those records alone: they are imported, oldest first, into
//! an empty record, so the newest observation wins exactly as it would if a
//! wallet imported each reporter's data in turn. Because the aggregate is a
//! pure function of per-reporter state, removing a reporter and recomputing
//! gives the aggregate as if it had never reported.

use crate::node::DirectedPair;
use crate::rpc::PairHistory;
use crate::state::{import_pair, PairSnapshot, TimedPairResult};
use crate::time::{DurationNs, Timestamp};
use crate::NodeId;

/// Who reported an observation: a node that signed it, or nobody known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reporter {
    Node(NodeId),
    /// Unsigned (v1) registrations.
    Unattributed,
}

impl Reporter {
    /// 33 bytes: the node key, or all zeros for unattributed (never a key).
    pub fn to_bytes(&self) -> [u8; 33] {
        match self {
            Reporter::Node(n) => n.0,
            Reporter::Unattributed => [0; 33],
        }
    }

    pub fn from_bytes(b: &[u8; 33]) -> Self {
        if b.iter().all(|x| *x == 0) {
            Reporter::Unattributed
        } else {
            Reporter::Node(NodeId(*b))
        }
    }
}

/// The newest time in a record (zero time if it holds none).
pub fn newest_time(r: &TimedPairResult) -> Timestamp {
    r.fail_time.max(r.success_time)
}

/// Merges a reporter's new observation into its record (LND's import,
/// `force` off). Returns the new record, or `None` if nothing changed.
pub fn merge_observation(
    current: Option<&TimedPairResult>,
    incoming: &TimedPairResult,
    min_failure_relax_interval: DurationNs,
) -> Option<TimedPairResult> {
    let mut rec = current.copied().unwrap_or_default();
    let outcome = import_pair(&mut rec, incoming, false, min_failure_relax_interval);
    (outcome.applied && current != Some(&rec)).then_some(rec)
}

/// The aggregate of one pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aggregate {
    pub result: TimedPairResult,
    /// Distinct reporters with a record for the pair.
    pub reporters: u32,
    /// The newest observation time among them.
    pub newest: Timestamp,
}

/// Combines reporters' records for one pair; `None` if there are none.
/// The result does not depend on the order of `records`. The relax
/// interval is not applied here: it protects one sender's out-of-order
/// results, and across reporters the newer failure is simply newer.
pub fn aggregate(records: &[TimedPairResult]) -> Option<Aggregate> {
    if records.is_empty() {
        return None;
    }
    let mut sorted: Vec<&TimedPairResult> = records.iter().collect();
    // Oldest first, ties broken by content so the order is total.
    sorted.sort_by_key(|r| {
        (
            newest_time(r),
            r.fail_time,
            r.success_time,
            r.fail_amt_msat,
            r.success_amt_msat,
        )
    });
    let mut result = TimedPairResult::default();
    for r in sorted {
        import_pair(&mut result, r, false, 0);
    }
    Some(Aggregate {
        result,
        reporters: records.len() as u32,
        newest: records.iter().map(newest_time).max().unwrap_or(Timestamp::ZERO),
    })
}

/// An aggregate as the coordinator serves it (v2 `Query`, ecrpc's
/// `QueryAggregatedMissionControl`, `/v2/snapshot`): the pair as
/// `lncli querymc` prints it.
pub fn served_pair(pair: DirectedPair, result: &TimedPairResult) -> PairHistory {
    PairHistory::from_snapshot(&PairSnapshot { pair, result: *result })
}

/// A served pair's `age_seconds`: whole seconds from `newest` (the store
/// serves [`newest_time`] of the aggregate) to `now`; 0 when there is no
/// time or it lies ahead.
pub fn age_seconds(newest: Timestamp, now: Timestamp) -> i64 {
    if newest.is_zero() {
        0
    } else {
        now.sub(newest).max(0) / 1_000_000_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn succ(amt: u64, t: i64) -> TimedPairResult {
        TimedPairResult {
            success_time: Timestamp::from_unix_secs(t),
            success_amt_msat: amt,
            ..Default::default()
        }
    }

    fn fail(amt: u64, t: i64) -> TimedPairResult {
        TimedPairResult {
            fail_time: Timestamp::from_unix_secs(t),
            fail_amt_msat: amt,
            ..Default::default()
        }
    }

    const RELAX: DurationNs = 60_000_000_000;

    #[test]
    fn newest_wins_and_order_does_not_matter() {
        let a = succ(5_000, 100);
        let b = fail(3_000, 200);
        let x = aggregate(&[a, b]).unwrap();
        let y = aggregate(&[b, a]).unwrap();
        assert_eq!(x, y);
        assert_eq!(x.reporters, 2);
        assert_eq!(x.result.fail_amt_msat, 3_000);
        // The newer failure lowers the older success below it.
        assert_eq!(x.result.success_amt_msat, 2_999);
        assert_eq!(x.newest, Timestamp::from_unix_secs(200));
    }

    #[test]
    fn a_second_reporters_higher_failure_is_not_dropped() {
        // The relax interval guards one sender's burst, not two reporters
        // (the Go coordinator's bug): 30 s apart, the newer failure wins.
        let r1 = fail(1_000, 100);
        let r2 = fail(9_000, 130);
        let agg = aggregate(&[r1, r2]).unwrap();
        assert_eq!(agg.result.fail_amt_msat, 9_000);
        // Within one reporter, LND's rule still drops the higher failure.
        let own = merge_observation(Some(&r1), &r2, RELAX);
        assert_eq!(own, None);
    }

    #[test]
    fn inconsistent_record_is_normalised_as_lnd_import() {
        let both = TimedPairResult {
            fail_time: Timestamp::from_unix_secs(100),
            fail_amt_msat: 1_000,
            success_time: Timestamp::from_unix_secs(110),
            success_amt_msat: 5_000,
        };
        let r = merge_observation(None, &both, RELAX).unwrap();
        assert_eq!(r.success_amt_msat, 5_000);
        assert_eq!(r.fail_amt_msat, 5_001);
        assert_eq!(
            merge_observation(Some(&r), &both, RELAX),
            None,
            "re-sending changes nothing"
        );
    }

    #[test]
    fn served_as_querymc_prints_it() {
        let pair = DirectedPair::new(NodeId([2; 33]), NodeId([3; 33]));
        let r = aggregate(&[succ(5_500, 100), fail(9_000, 90)]).unwrap().result;
        let p = served_pair(pair, &r);
        assert_eq!((p.node_from, p.node_to), (vec![2; 33], vec![3; 33]));
        assert_eq!(p.history, crate::rpc::PairData::from_result(&r));
        assert_eq!((p.history.success_amt_sat, p.history.success_amt_msat), (5, 5_500));
        assert_eq!(p.history.fail_time, 90);
        let t = Timestamp::from_unix_secs;
        assert_eq!(age_seconds(newest_time(&r), t(161)), 61);
        assert_eq!(age_seconds(t(200), t(100)), 0);
        assert_eq!(age_seconds(Timestamp::ZERO, t(100)), 0);
    }

    #[test]
    fn reporter_bytes_round_trip() {
        let n = Reporter::Node(NodeId([2; 33]));
        assert_eq!(Reporter::from_bytes(&n.to_bytes()), n);
        assert_eq!(
            Reporter::from_bytes(&Reporter::Unattributed.to_bytes()),
            Reporter::Unattributed
        );
    }
}
