//! Spec §3: import validation (§3.1), the merge rules (§3.2, §3.3), the
//! §3.5 import vectors and lncli `loadmc` sanitising (§3.4).

mod common;

use common::*;
use dmc_core::rpc::{sanitize_loadmc, validate_import, PairData, PairHistory};
use dmc_core::state::MissionControlState;
use dmc_core::{
    DirectedPair, MissionControl, MissionControlConfig, PairResult, PairSnapshot, TimedPairResult, Timestamp,
};

/// Relative second 0 of the §3.5 table (a real, non-zero Unix time).
const T0: i64 = 1_715_400_000;
const RELAX: dmc_core::time::DurationNs = MINUTE;

fn from() -> dmc_core::NodeId {
    node(0x02)
}

fn to() -> dmc_core::NodeId {
    node(0x03)
}

fn at(rel: i64) -> Timestamp {
    Timestamp::from_unix_secs(T0 + rel)
}

fn history(data: PairData) -> PairHistory {
    PairHistory {
        node_from: from().0.to_vec(),
        node_to: to().0.to_vec(),
        history: data,
    }
}

fn fail(amt_msat: i64, rel: i64) -> PairData {
    PairData {
        fail_time: T0 + rel,
        fail_amt_msat: amt_msat,
        ..Default::default()
    }
}

fn success(amt_msat: i64, rel: i64) -> PairData {
    PairData {
        success_time: T0 + rel,
        success_amt_msat: amt_msat,
        ..Default::default()
    }
}

fn both(f: PairData, s: PairData) -> PairData {
    PairData {
        success_time: s.success_time,
        success_amt_msat: s.success_amt_msat,
        ..f
    }
}

enum Op {
    Success(u64, i64),
    Fail(u64, i64),
}

/// Builds the existing record with normal (non-forced) updates, imports
/// `imported`, and returns the pair's record.
fn import_into(existing: &[Op], imported: PairData, force: bool) -> TimedPairResult {
    let mut state = MissionControlState::new();
    for op in existing {
        let (ts, r) = match op {
            Op::Success(a, t) => (at(*t), PairResult::success(Msat(*a))),
            Op::Fail(a, t) => (at(*t), PairResult::failure(Msat(*a))),
        };
        state.set_last_pair_result(from(), to(), ts, r, false, RELAX);
    }
    let pairs = validate_import(&[history(imported)]).expect("valid import");
    state.import_snapshot(&pairs, force, RELAX);
    *state
        .pair(&DirectedPair::new(from(), to()))
        .expect("pair present after import")
}

// ---------------------------------------------------------------------------
// §3.5 vectors
// ---------------------------------------------------------------------------

#[test]
fn v1_fail_only_into_empty() {
    let got = import_into(&[], fail(10, 0), false);
    assert_eq!(got, rec(0, None, 10, Some(at(0))));
}

#[test]
fn v1_fail_only_into_empty_query_probability_history() {
    // The itest's view: QueryProbability's history shows fail 10 msat at
    // the imported time, in whole seconds.
    let mut mc = MissionControl::new(Some(node(0x01)), MissionControlConfig::default());
    let pairs = validate_import(&[history(fail(10, 0))]).unwrap();
    mc.import_pairs(&pairs, false);
    let h = dmc_core::rpc::PairData::from_result(&mc.pair_history(&from(), &to()));
    assert_eq!(
        h,
        PairData {
            fail_time: T0,
            fail_amt_sat: 0,
            fail_amt_msat: 10,
            ..Default::default()
        }
    );
    // An unknown pair has an all-zero history.
    assert_eq!(mc.pair_history(&to(), &from()), TimedPairResult::default());
}

#[test]
fn v2_fail_only_forced_becomes_amount_one() {
    let got = import_into(&[], fail(10, 0), true);
    assert_eq!(got, rec(0, None, 1, Some(at(0))));
}

#[test]
fn v3_fail_and_success_into_empty() {
    let got = import_into(&[], both(fail(5000, 0), success(1000, 10)), false);
    assert_eq!(got, rec(1000, Some(at(10)), 5000, Some(at(0))));
}

#[test]
fn v4_fail_and_success_forced_overwrites_fail_amount() {
    let got = import_into(&[], both(fail(5000, 0), success(1000, 10)), true);
    assert_eq!(got, rec(1000, Some(at(10)), 1001, Some(at(0))));
}

#[test]
fn v5_older_success_wipes_existing_success_amount() {
    let got = import_into(&[Op::Success(1000, 100)], success(500, 50), false);
    assert_eq!(got, rec(0, Some(at(100)), 0, None));
}

#[test]
fn v6_newer_smaller_success_replaces_existing() {
    let got = import_into(&[Op::Success(1000, 100)], success(500, 150), false);
    assert_eq!(got, rec(500, Some(at(150)), 0, None));
}

#[test]
fn v7_existing_failure_protects_success_amount() {
    let existing = [Op::Success(1000, 100), Op::Fail(3000, 110)];
    let got = import_into(&existing, success(500, 150), false);
    assert_eq!(got, rec(1000, Some(at(150)), 3000, Some(at(110))));
}

#[test]
fn v8_older_failure_skipped() {
    let got = import_into(&[Op::Fail(2000, 100)], fail(3000, 50), false);
    assert_eq!(got, rec(0, None, 2000, Some(at(100))));
}

#[test]
fn v9_higher_failure_within_relax_interval_dropped() {
    let got = import_into(&[Op::Fail(2000, 100)], fail(3000, 130), false);
    assert_eq!(got, rec(0, None, 2000, Some(at(100))));
}

#[test]
fn v10_lower_failure_applied() {
    let got = import_into(&[Op::Fail(2000, 100)], fail(1000, 130), false);
    assert_eq!(got, rec(0, None, 1000, Some(at(130))));
}

// ---------------------------------------------------------------------------
// §3.2 / §3.3 further merge rules
// ---------------------------------------------------------------------------

#[test]
fn higher_failure_after_relax_interval_applied() {
    let got = import_into(&[Op::Fail(2000, 100)], fail(3000, 160), false);
    assert_eq!(got, rec(0, None, 3000, Some(at(160))));
}

#[test]
fn forced_fail_only_import_erases_existing_success() {
    let got = import_into(&[Op::Success(1000, 100)], fail(10, 200), true);
    assert_eq!(got, rec(0, None, 1, Some(at(200))));
}

#[test]
fn forced_import_ignores_freshness_and_relax_interval() {
    let existing = [Op::Success(1000, 100), Op::Fail(3000, 110)];
    let got = import_into(&existing, both(fail(9000, 50), success(200, 60)), true);
    assert_eq!(got, rec(200, Some(at(60)), 201, Some(at(50))));
}

#[test]
fn fail_only_import_success_slot_sets_fail_amount_one_on_node_failure() {
    // The existing record is a node failure (FailAmt 0, no success). The
    // older imported failure is skipped, but the empty success slot is
    // applied (zero time is not after zero time) and lifts FailAmt to 1.
    let got = import_into(&[Op::Fail(0, 100)], fail(500, 50), false);
    assert_eq!(got, rec(0, None, 1, Some(at(100))));
}

#[test]
fn import_counts_slots_not_skipped() {
    let mut state = MissionControlState::new();
    state.set_last_pair_result(from(), to(), at(100), PairResult::failure(Msat(2000)), false, RELAX);
    // Failure older (skipped), success slot zero vs zero (applied): 1.
    let pairs = validate_import(&[history(fail(3000, 50))]).unwrap();
    assert_eq!(state.import_snapshot(&pairs, false, RELAX), 1);
    // Newer failure dropped by the relax guard still counts: 2.
    let pairs = validate_import(&[history(fail(3000, 130))]).unwrap();
    assert_eq!(state.import_snapshot(&pairs, false, RELAX), 2);
    assert_eq!(
        *state.pair(&DirectedPair::new(from(), to())).unwrap(),
        rec(0, None, 2000, Some(at(100)))
    );
    // Forced: both slots of both pairs.
    let two = [history(fail(1, 1)), history(success(5, 2))];
    let pairs = validate_import(&two).unwrap();
    assert_eq!(state.import_snapshot(&pairs, true, RELAX), 4);
}

#[test]
fn pairs_are_merged_in_request_order() {
    // The second pair sees the first's result.
    let req = [history(fail(5000, 100)), history(success(7000, 200))];
    let pairs = validate_import(&req).unwrap();
    let mut mc = MissionControl::new(None, MissionControlConfig::default());
    mc.import_pairs(&pairs, false);
    // Second pair: failure slot skipped (100 after zero), success 7000 ≥
    // 5000 pushes FailAmt to 7001.
    assert_eq!(
        mc.pair_history(&from(), &to()),
        rec(7000, Some(at(200)), 7001, Some(at(100)))
    );
}

// ---------------------------------------------------------------------------
// §3.1 validation
// ---------------------------------------------------------------------------

fn check(data: PairData) -> Result<PairSnapshot, String> {
    validate_import(&[history(data)])
        .map(|mut v| v.remove(0))
        .map_err(|e| e.to_string())
}

#[track_caller]
fn assert_err_contains(r: Result<PairSnapshot, String>, needle: &str) {
    match r {
        Ok(p) => panic!("expected error containing {needle:?}, got {p:?}"),
        Err(e) => assert!(e.contains(needle), "error {e:?} lacks {needle:?}"),
    }
}

#[test]
fn empty_request_is_refused() {
    let e = validate_import(&[]).unwrap_err();
    assert!(e.to_string().contains("at least one pair required for import"));
}

#[test]
fn node_keys_must_be_33_bytes_and_differ() {
    let mut p = history(fail(10, 0));
    p.node_from = vec![2; 32];
    assert!(validate_import(&[p]).is_err());
    let mut p = history(fail(10, 0));
    p.node_to = vec![3; 34];
    assert!(validate_import(&[p]).is_err());
    let mut p = history(fail(10, 0));
    p.node_to = p.node_from.clone();
    let e = validate_import(&[p]).unwrap_err().to_string();
    assert!(e.contains("source and destination node must differ"), "{e}");
    // Only the length is checked: bytes that are not a curve point pass.
    let mut p = history(fail(10, 0));
    p.node_from = vec![0xff; 33];
    assert!(validate_import(&[p]).is_ok());
}

#[test]
fn amount_reconciliation() {
    let with = |msat: i64, sat: i64| {
        check(PairData {
            success_time: T0,
            success_amt_msat: msat,
            success_amt_sat: sat,
            ..Default::default()
        })
    };
    // floor(msat/1000) == sat: msat wins.
    assert_eq!(with(5_200_999, 5200).unwrap().result.success_amt_msat, Msat(5_200_999));
    assert_eq!(with(5_200_000, 5200).unwrap().result.success_amt_msat, Msat(5_200_000));
    // Not equal, both set: refused.
    assert_err_contains(with(5_201_000, 5200), "values not equal");
    // msat 0: sat × 1000.
    assert_eq!(with(0, 5200).unwrap().result.success_amt_msat, Msat(5_200_000));
    // sat 0: msat.
    assert_eq!(with(777, 0).unwrap().result.success_amt_msat, Msat(777));
    assert_eq!(with(5_201_000, 0).unwrap().result.success_amt_msat, Msat(5_201_000));
    // The failure side reconciles the same way.
    let f = check(PairData {
        fail_time: T0,
        fail_amt_sat: 3,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(f.result.fail_amt_msat, Msat(3000));
    assert_err_contains(
        check(PairData {
            fail_time: T0,
            fail_amt_sat: 3,
            fail_amt_msat: 4000,
            ..Default::default()
        }),
        "values not equal",
    );
}

#[test]
fn failure_side_pairing() {
    let s = success(1000, 10);
    // time ≠ 0, amount ≠ 0: kept.
    let p = check(both(fail(5000, 0), s)).unwrap();
    assert_eq!(p.result, rec(1000, Some(at(10)), 5000, Some(at(0))));
    // time ≠ 0, amount = 0: silently dropped (QUIRK, PR 8779) when a
    // success is present ...
    let p = check(both(fail(0, 0), s)).unwrap();
    assert_eq!(p.result, rec(1000, Some(at(10)), 0, None));
    // ... and an error without one.
    assert_err_contains(check(fail(0, 0)), "either success or failure result required");
    // time = 0, amount ≠ 0: silently dropped too.
    let zero_time_fail = PairData {
        fail_amt_msat: 5000,
        ..Default::default()
    };
    let p = check(both(zero_time_fail, s)).unwrap();
    assert_eq!(p.result, rec(1000, Some(at(10)), 0, None));
    assert_err_contains(check(zero_time_fail), "either success or failure result required");
}

#[test]
fn success_side_pairing() {
    let f = fail(5000, 0);
    // time ≠ 0, amount = 0: error.
    assert_err_contains(
        check(both(f, success(0, 10))),
        "non-zero timestamp requires non-zero amount",
    );
    // time = 0, amount ≠ 0: error.
    let zero_time_success = PairData {
        success_amt_msat: 1000,
        ..Default::default()
    };
    assert_err_contains(
        check(both(f, zero_time_success)),
        "non-zero amount for success pairs requires non-zero timestamp",
    );
    // Both 0: no success.
    assert_eq!(check(f).unwrap().result, rec(0, None, 5000, Some(at(0))));
}

#[test]
fn nothing_at_all_is_refused() {
    assert_err_contains(check(PairData::default()), "either success or failure result required");
}

#[test]
fn validation_is_all_or_nothing() {
    let good = history(fail(10, 0));
    let bad = history(PairData::default());
    let e = validate_import(&[good.clone(), bad, good]).unwrap_err();
    assert!(e.to_string().contains("either success or failure result required"));
}

#[test]
fn negative_timestamps_are_accepted_by_the_rpc() {
    // §3.1: `time.Unix(t, 0)` with t < 0 is accepted; only lncli requires
    // ts > 0.
    let p = check(PairData {
        fail_time: -5,
        fail_amt_msat: 10,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(p.result, rec(0, None, 10, Some(Timestamp::from_unix_secs(-5))));
    let p = check(PairData {
        success_time: -5,
        success_amt_msat: 10,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(p.result, rec(10, Some(Timestamp::from_unix_secs(-5)), 0, None));
}

#[test]
fn times_are_whole_unix_seconds() {
    let p = check(fail(10, 7)).unwrap();
    assert_eq!(p.result.fail_time, Timestamp::from_unix_nanos((T0 + 7) * 1_000_000_000));
}

// ---------------------------------------------------------------------------
// §3.4 lncli loadmc sanitising
// ---------------------------------------------------------------------------

#[test]
fn loadmc_sanitising_makes_querymc_output_importable() {
    // A node-failure pair as querymc prints it: fail time, amount 0.
    let node_failure = PairData {
        fail_time: T0,
        ..Default::default()
    };
    // A pair whose success amount was wiped: success time, amount 0.
    let wiped = PairData {
        success_time: T0 + 5,
        fail_time: T0 + 6,
        fail_amt_msat: 70,
        fail_amt_sat: 0,
        ..Default::default()
    };
    let mut pairs = vec![history(node_failure), history(wiped)];
    assert!(validate_import(&pairs[..1]).is_err());
    assert!(validate_import(&pairs[1..]).is_err());
    sanitize_loadmc(&mut pairs);
    assert_eq!(pairs[0].history.fail_amt_msat, 1);
    assert_eq!(pairs[1].history.success_time, 0);
    assert_eq!(pairs[1].history.fail_amt_msat, 70);
    let imported = validate_import(&pairs).unwrap();
    assert_eq!(imported[0].result, rec(0, None, 1, Some(at(0))));
    assert_eq!(imported[1].result, rec(0, None, 70, Some(at(6))));
}
