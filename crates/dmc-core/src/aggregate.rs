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
use crate::state::{import_carried_slots, import_pair, PairSnapshot, TimedPairResult};
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

/// The largest amount a served record holds: all the bitcoin there will
/// ever be (21 million BTC) in msat. Anything above is meaningless, and
/// bounding here keeps LND's `success + 1` from wrapping and every amount
/// inside an `int64`.
pub const MAX_MSAT: u64 = 21_000_000 * 100_000_000 * 1000;

/// An observation as the coordinator accepts it: no time after it was
/// received (a reporter cannot stamp its news ahead of everyone else's),
/// no amount above [`MAX_MSAT`].
pub fn bounded_observation(obs: &TimedPairResult, received: Timestamp) -> TimedPairResult {
    let time = |t: Timestamp| if t.after(received) { received } else { t };
    TimedPairResult {
        fail_time: time(obs.fail_time),
        fail_amt_msat: obs.fail_amt_msat.min(MAX_MSAT),
        success_time: time(obs.success_time),
        success_amt_msat: obs.success_amt_msat.min(MAX_MSAT),
    }
}

/// Merges a reporter's new observation, received at `received`, into its
/// record (LND's import rules, `force` off, for the slots it carries, after
/// [`bounded_observation`]).
/// Returns the new record, or `None` if nothing changed.
pub fn merge_observation(
    current: Option<&TimedPairResult>,
    incoming: &TimedPairResult,
    received: Timestamp,
    min_failure_relax_interval: DurationNs,
) -> Option<TimedPairResult> {
    let mut rec = current.copied().unwrap_or_default();
    let incoming = bounded_observation(incoming, received);
    // LND's import also applies an *empty* slot, which wipes a stored
    // success (spec §3.2, "success wipe"); a reporter's record must not lose
    // what it reported earlier.
    let outcome = import_carried_slots(&mut rec, &incoming, min_failure_relax_interval);
    (outcome.applied && current != Some(&rec)).then_some(rec)
}

/// A record as LND's `XImportMissionControl` accepts it (spec §3.1), or
/// `None` if it carries nothing LND would import. One unimportable pair
/// makes LND refuse a whole `loadmc` file, so the served aggregate is
/// always passed through here:
/// * a success needs both a time and an amount; a slot with only one is dropped;
/// * a failure with no time carries no amount;
/// * a record with neither a success nor a failure of non-zero amount is not served
///   (LND refuses a pair whose both amounts are 0);
/// * where both are set, the failure amount stays above the success amount;
/// * amounts stay at most [`MAX_MSAT`] + 1, inside an `int64`.
pub fn servable(r: &TimedPairResult) -> Option<TimedPairResult> {
    let mut out = *r;
    out.success_amt_msat = out.success_amt_msat.min(MAX_MSAT);
    out.fail_amt_msat = out.fail_amt_msat.min(MAX_MSAT + 1);
    if out.success_time.is_zero() || out.success_amt_msat == 0 {
        out.success_time = Timestamp::ZERO;
        out.success_amt_msat = 0;
    }
    if out.fail_time.is_zero() {
        out.fail_amt_msat = 0;
    }
    let has_success = !out.success_time.is_zero();
    if !has_success && out.fail_amt_msat == 0 {
        return None;
    }
    if has_success && out.fail_amt_msat != 0 && out.success_amt_msat >= out.fail_amt_msat {
        out.fail_amt_msat = out.success_amt_msat + 1;
    }
    Some(out)
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

/// Combines reporters' records for one pair; `None` if there are none or
/// their combination is nothing LND would import ([`servable`]).
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
        result: servable(&result)?,
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
    /// A receive time after every observation in these tests.
    const LATE: Timestamp = Timestamp::from_unix_secs(4_000_000_000);

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
        let own = merge_observation(Some(&r1), &r2, LATE, RELAX);
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
        let r = merge_observation(None, &both, LATE, RELAX).unwrap();
        assert_eq!(r.success_amt_msat, 5_000);
        assert_eq!(r.fail_amt_msat, 5_001);
        assert_eq!(
            merge_observation(Some(&r), &both, LATE, RELAX),
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

    /// Every served record is valid LND import input, whatever reporters
    /// send: amounts 0 … u64::MAX, times 0 … ahead of the receive time,
    /// success ≥ failure, the same pair twice in one request, any order.
    #[test]
    fn served_records_always_import_into_lnd() {
        use crate::rpc;
        let mut seed = 0x5eed_u64;
        let mut next = move || {
            // splitmix64: the test needs no RNG dependency
            seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let received = Timestamp::from_unix_secs(1_800_000_000);
        let extremes = [
            0,
            1,
            999,
            1000,
            MAX_MSAT,
            MAX_MSAT + 1,
            i64::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ];
        let pair = DirectedPair::new(NodeId([2; 33]), NodeId([3; 33]));
        for case in 0..3000 {
            let mut amount = || {
                let r = next();
                if r % 3 == 0 {
                    extremes[(r >> 8) as usize % extremes.len()]
                } else {
                    r >> (r % 64)
                }
            };
            let (a1, a2) = (amount(), amount());
            let mut time = || match next() % 4 {
                0 => Timestamp::ZERO,
                1 => received.add(((next() % 600) as i64 + 1) * 1_000_000_000),
                _ => Timestamp::from_unix_secs(1_800_000_000 - (next() % 100_000) as i64),
            };
            let (t1, t2) = (time(), time());
            let obs = TimedPairResult {
                fail_time: t1,
                fail_amt_msat: a1,
                success_time: t2,
                success_amt_msat: a2,
            };
            // 1–4 reporters, each sending the observation or a variant, some twice.
            let reporters = 1 + (next() % 4) as usize;
            let mut records = Vec::new();
            for _ in 0..reporters {
                let mut rec = None;
                for _ in 0..(1 + next() % 2) {
                    let mut o = obs;
                    if next() % 2 == 0 {
                        o.success_amt_msat = o.success_amt_msat.wrapping_add(next() % 3);
                        std::mem::swap(&mut o.fail_time, &mut o.success_time);
                    }
                    if let Some(m) = merge_observation(rec.as_ref(), &o, received, RELAX) {
                        rec = Some(m);
                    }
                }
                records.extend(rec);
            }
            let Some(agg) = aggregate(&records) else {
                continue;
            };
            let r = agg.result;
            assert!(
                !r.fail_time.after(received) && !r.success_time.after(received),
                "case {case}: {r:?}"
            );
            assert!(
                r.success_amt_msat <= MAX_MSAT && r.fail_amt_msat <= MAX_MSAT + 1,
                "case {case}: {r:?}"
            );
            if !r.success_time.is_zero() && r.fail_amt_msat != 0 {
                assert!(r.success_amt_msat < r.fail_amt_msat, "case {case}: {r:?}");
            }
            let served = served_pair(pair, &r);
            let h = served.history;
            assert!(h.fail_amt_msat >= 0 && h.success_amt_msat >= 0, "case {case}: {h:?}");
            rpc::validate_import(std::slice::from_ref(&served)).unwrap_or_else(|e| panic!("case {case}: {r:?}: {e:?}"));
            // Order of the reporters does not matter.
            records.reverse();
            assert_eq!(aggregate(&records).map(|a| a.result), Some(r));
        }
    }

    #[test]
    fn the_reported_wrap_and_duplicate_are_served_valid() {
        let received = Timestamp::from_unix_secs(1_800_000_000);
        // success i64::MAX plus a failure: LND's success+1 used to reach 2^63.
        let huge = TimedPairResult {
            fail_time: Timestamp::from_unix_secs(1_799_999_000),
            fail_amt_msat: 5,
            success_time: Timestamp::from_unix_secs(1_799_999_500),
            success_amt_msat: i64::MAX as u64,
        };
        let rec = merge_observation(None, &huge, received, RELAX).unwrap();
        let r = aggregate(&[rec]).unwrap().result;
        assert_eq!(r.success_amt_msat, MAX_MSAT);
        assert_eq!(r.fail_amt_msat, MAX_MSAT + 1);
        // The same pair twice in one request, newer success first: LND's
        // success wipe would leave a success time with amount 0.
        let newer = succ(500_000, 1_799_999_900);
        let older = succ(400_000, 1_799_999_000);
        let rec = merge_observation(None, &newer, received, RELAX).unwrap();
        assert_eq!(
            merge_observation(Some(&rec), &older, received, RELAX),
            None,
            "the older one changes nothing"
        );
        let a = aggregate(&[rec]).unwrap();
        assert_eq!(a.result.success_amt_msat, 500_000);
        // Stamped in the future: capped at the receive time.
        let ahead = succ(1_000, 1_800_000_590);
        let rec = merge_observation(None, &ahead, received, RELAX).unwrap();
        assert_eq!(rec.success_time, received);
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
