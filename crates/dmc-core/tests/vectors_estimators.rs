//! Spec §7.1–§7.5: the estimator conformance vectors, one test per vector,
//! compared with the "f64 reference" column to 1e-9 (exact integers exactly).

mod common;

use common::*;
use dmc_core::estimator::capacity_factor;
use dmc_core::state::NodeResults;
use dmc_core::time::DurationNs;
use dmc_core::{
    AprioriConfig, BimodalConfig, EstimatorConfig, MissionControl, MissionControlConfig, Msat, NodeId, Sat,
    TimedPairResult, Timestamp,
};

// ---------------------------------------------------------------------------
// §7.1 Apriori (probability_apriori_test.go)
// ---------------------------------------------------------------------------

const A_CAPACITY_SAT: Sat = Sat(100_000);
const A_TEST_AMOUNT: u64 = 90_000_000;
const UNTRIED: u8 = 255;

fn apriori_7_1() -> AprioriConfig {
    AprioriConfig {
        hop_probability: 0.6,
        weight: 0.75,
        penalty_half_life: HOUR,
        capacity_fraction: 0.9999,
    }
}

fn results(entries: &[(u8, TimedPairResult)]) -> NodeResults {
    entries.iter().map(|(n, r)| (node(*n), *r)).collect()
}

fn one_success() -> NodeResults {
    results(&[(1, rec(A_TEST_AMOUNT, None, 0, None))])
}

fn one_failure() -> NodeResults {
    let tt = lnd_test_time();
    results(&[(1, rec(0, None, 50, Some(tt.add(-HOUR))))])
}

fn mix() -> NodeResults {
    let tt = lnd_test_time();
    results(&[
        (1, rec(1000, None, 0, None)),
        (2, rec(0, None, 50, Some(tt.add(-2 * HOUR)))),
        (3, rec(0, None, 50, Some(tt.add(-3 * HOUR)))),
    ])
}

fn apriori_p(results: Option<&NodeResults>, to: u8, amt: u64) -> f64 {
    apriori_7_1().pair_probability(lnd_test_time(), results, &node(to), Msat(amt), A_CAPACITY_SAT)
}

#[test]
fn a1_no_results_zero_amount() {
    assert_close(apriori_p(None, 0, 0), 0.6, "A1 (no map)");
    let empty = NodeResults::new();
    assert_close(apriori_p(Some(&empty), 0, 0), 0.6, "A1 (empty map)");
}

#[test]
fn a2_no_results_large_amount() {
    assert_close(apriori_p(None, 0, A_TEST_AMOUNT), 0.5945829008477366, "A2");
}

#[test]
fn a3_success_covers_small_amount() {
    assert_close(apriori_p(Some(&one_success()), 1, 100), 0.95, "A3");
}

#[test]
fn a4_success_amount_has_no_capacity_factor() {
    assert_close(apriori_p(Some(&one_success()), 1, A_TEST_AMOUNT), 0.95, "A4");
}

#[test]
fn a5_untried_after_success_small_amount() {
    assert_close(apriori_p(Some(&one_success()), UNTRIED, 100), 0.6875, "A5");
}

#[test]
fn a6_untried_after_success_large_amount() {
    assert_close(
        apriori_p(Some(&one_success()), UNTRIED, A_TEST_AMOUNT),
        0.6834371756358024,
        "A6",
    );
}

#[test]
fn a7_untried_after_one_failure() {
    assert_close(apriori_p(Some(&one_failure()), UNTRIED, 100), 0.5142857142857142, "A7");
}

#[test]
fn a8_failed_pair_half_recovered() {
    assert_close(apriori_p(Some(&one_failure()), 1, 100), 0.2571428571428571, "A8");
}

#[test]
fn a9_mix_successful_pair() {
    assert_close(apriori_p(Some(&mix()), 1, 100), 0.95, "A9");
}

#[test]
fn a10_mix_untried() {
    assert_close(apriori_p(Some(&mix()), UNTRIED, 100), 0.6285714285714286, "A10");
}

#[test]
fn a11_mix_failed_pair() {
    assert_close(apriori_p(Some(&mix()), 2, 100), 0.4714285714285714, "A11");
}

#[test]
fn apriori_vectors_through_mission_control() {
    // The same A-vectors, reached through MissionControl::probability for a
    // non-self `from` (the dispatch of §4.1) rather than the estimator.
    let mut mc = MissionControl::new(
        Some(node(200)),
        MissionControlConfig {
            estimator: EstimatorConfig::Apriori(apriori_7_1()),
            ..Default::default()
        },
    );
    let from = node(100);
    let tt = lnd_test_time();
    // n1 fails at 50 msat one hour before tt: a payment from `from` via n1
    // whose TemporaryChannelFailure penalises from→n1 at 50 msat.
    let rt = route(node(99), 50, &[(from, 50), (node(1), 50)]);
    mc.apply_payment_result(&failure_at(
        1,
        tt.add(-HOUR),
        &rt,
        Some(1),
        Some(dmc_core::FailureCode::TemporaryChannelFailure),
    ))
    .unwrap();
    let got = mc.probability(tt, &from, &node(UNTRIED), Msat(100), A_CAPACITY_SAT);
    assert_close(got, 0.5142857142857142, "A7 via MissionControl");
    let got = mc.probability(tt, &from, &node(1), Msat(100), A_CAPACITY_SAT);
    assert_close(got, 0.2571428571428571, "A8 via MissionControl");
}

// ---------------------------------------------------------------------------
// §7.2 Capacity factor (TestCapacityCutoff), capacity 1 000 000 sat
// ---------------------------------------------------------------------------

const C_CAPACITY_SAT: Sat = Sat(1_000_000);

macro_rules! capacity_vectors {
    ($($name:ident: $cf:expr, $amt:expr => $want:expr;)*) => {$(
        #[test]
        fn $name() {
            let got = capacity_factor(Msat($amt), C_CAPACITY_SAT, $cf);
            assert_close(got, $want, stringify!($name));
        }
    )*};
}

capacity_vectors! {
    c1_zero_amount: 0.75, 0 => 0.9999999999999533;
    c2_half_amount: 0.75, 500_000_000 => 0.9999773010656487;
    c3_cutoff_amount: 0.75, 750_000_000 => 0.75;
    c4_high_amount: 0.75, 800_000_000 => 0.5596014610110589;
    c5_full_amount: 0.75, 1_000_000_000 => 0.5000226989343513;
    c6_more_than_capacity: 0.75, 1_000_000_001 => 0.0;
    c7_default_fraction_90_percent: 0.9999, 900_000_000 => 0.9909715014128943;
    c8_default_fraction_full: 0.9999, 1_000_000_000 => 0.7495000006666657;
    c9_inactive: 1.0, 1_000_000_000 => 1.0;
}

#[test]
fn capacity_factor_zero_capacity_is_one() {
    // §4.2: capacity 0 means "unknown": factor 1 whatever the amount.
    assert_eq!(capacity_factor(Msat::MAX, Sat(0), 0.75), 1.0);
}

// ---------------------------------------------------------------------------
// §7.3 Bimodal direct formula (TestSuccessProbability, TestSmallScale)
// ---------------------------------------------------------------------------

const B_SCALE: u64 = 400_000_000;
const B_C: u64 = 10_000_000_000;
const SMALL: u64 = 400_000_000;
const LARGE: u64 = 5_000_000_000;

fn bimodal_formula(scale: u64, c: u64, succ: u64, fail: u64, amt: u64) -> Option<f64> {
    BimodalConfig {
        scale_msat: Msat(scale),
        ..Default::default()
    }
    .probability_formula(Msat(c), Msat(succ), Msat(fail), Msat(amt))
}

macro_rules! bimodal_vectors {
    ($($name:ident: $succ:expr, $fail:expr, $amt:expr => $want:expr;)*) => {$(
        #[test]
        fn $name() {
            let got = bimodal_formula(B_SCALE, B_C, $succ, $fail, $amt)
                .expect("LND returns no error for this vector");
            assert_close(got, $want, stringify!($name));
        }
    )*};
}

bimodal_vectors! {
    b1_no_info_above_capacity: 0, B_C, B_C + 1 => 0.0;
    b2_no_info_large_amount: 0, B_C, LARGE => 0.5;
    b3_no_info_zero_amount: 0, B_C, 0 => 1.0;
    b4_no_info_full_capacity: 0, B_C, B_C => 0.0;
    b5_no_info_small_amount: 0, B_C, SMALL => 0.6839397209144754;
    b6_success_above_amount: LARGE, B_C, SMALL => 1.0;
    b7_small_success_larger_amount: SMALL / 2, B_C, SMALL => 0.8514493222991157;
    b8_large_success_larger_amount: LARGE / 2, B_C, LARGE => 0.998073271882893;
    b9_failure_at_amount: 0, LARGE, LARGE => 0.0;
    b10_failure_above_amount: 0, LARGE, SMALL => 0.3678794418289507;
    b11_between_success_and_failure: SMALL, LARGE, SMALL + LARGE / 10 => 0.286504798422034;
    b12_same_success_and_failure_reset: LARGE, LARGE, LARGE => 0.5;
    b13_illogical_reset: LARGE, SMALL, LARGE => 0.5;
    b14_success_beyond_capacity: 2 * B_C, 2 * B_C + 1, LARGE => 1.0;
    b15_fail_clamped_to_capacity: SMALL / 2, 2 * B_C, SMALL => 0.8514493222991157;
}

#[test]
fn b_remaining_lnd_rows() {
    // Rows of TestSuccessProbability that the spec's table folds together.
    let p = |s, f, a| bimodal_formula(B_SCALE, B_C, s, f, a).unwrap();
    assert_eq!(p(LARGE, B_C, LARGE), 1.0, "success amount itself");
    assert_eq!(p(0, LARGE, LARGE + SMALL), 0.0, "above the fail amount");
    assert_eq!(p(SMALL, LARGE, 0), 1.0, "f/s, zero amount");
    assert_eq!(p(SMALL, LARGE, SMALL), 1.0, "f/s, success amount");
    assert_eq!(p(SMALL, LARGE, LARGE), 0.0, "f/s, fail amount");
}

#[test]
fn b16_small_scale_uniform_fallback() {
    let (c, succ, fail) = (7_000_000_000, 1_000_000_000, 4_000_000_000);
    let amt = succ + (fail - succ) / 4;
    let got = bimodal_formula(1, c, succ, fail, amt).expect("no error");
    assert_close(got, 0.75, "B16");
    // TestSmallScale's other two points: next to the success amount ≈ 1,
    // next to the fail amount ≈ 0 (the uniform part of the density).
    let near_success = bimodal_formula(1, c, succ, fail, succ + 1).expect("no error");
    assert_close(near_success, 1.0, "B16 near success");
    let near_fail = bimodal_formula(1, c, succ, fail, fail - 1).expect("no error");
    assert_close(near_fail, 0.0, "B16 near fail");
}

#[test]
fn b17_zero_capacity_is_an_error_and_probability_zero() {
    assert_eq!(bimodal_formula(B_SCALE, 0, 0, 0, 0), None);
    // Through the estimator, the error becomes probability 0 (§4.3), even
    // for amount 0 and without any result.
    let est = BimodalConfig {
        scale_msat: Msat(B_SCALE),
        node_weight: 0.0,
        ..Default::default()
    };
    let p = est.pair_probability(Timestamp::from_unix_secs(0), None, &node(1), Msat(0), Sat(0));
    assert_eq!(p, 0.0);
}

// ---------------------------------------------------------------------------
// §7.4 Bimodal decay helpers (TestCanSend, TestCannotSend), T = 1000 s
// ---------------------------------------------------------------------------

fn decay_1000s() -> BimodalConfig {
    BimodalConfig {
        decay_time: 1000 * SECOND,
        ..Default::default()
    }
}

fn t_1000() -> Timestamp {
    Timestamp::from_unix_secs(1_000)
}

fn infinity() -> Timestamp {
    Timestamp::from_unix_secs(10_000_000_000)
}

#[test]
fn d1_can_send_immediately() {
    assert_eq!(
        decay_1000s().can_send(Msat(1_000_000), t_1000(), t_1000()),
        Msat(1_000_000)
    );
}

#[test]
fn d2_can_send_after_decay_time() {
    let now = Timestamp::from_unix_secs(2_000);
    assert_eq!(decay_1000s().can_send(Msat(1_000_000), now, t_1000()), Msat(367_879));
}

#[test]
fn d3_can_send_long_after() {
    assert_eq!(decay_1000s().can_send(Msat(1_000_000), infinity(), t_1000()), Msat(0));
}

#[test]
fn d4_cannot_send_immediately() {
    let got = decay_1000s().cannot_send(Msat(1_000_000), Msat(3_000_000), t_1000(), t_1000());
    assert_eq!(got, Msat(1_000_000));
}

#[test]
fn d5_cannot_send_after_decay_time() {
    let now = Timestamp::from_unix_secs(2_000);
    let got = decay_1000s().cannot_send(Msat(1_000_000), Msat(3_000_000), now, t_1000());
    assert_eq!(got, Msat(2_264_242));
}

#[test]
fn d6_cannot_send_long_after() {
    let got = decay_1000s().cannot_send(Msat(1_000_000), Msat(3_000_000), infinity(), t_1000());
    assert_eq!(got, Msat(3_000_000));
}

// ---------------------------------------------------------------------------
// §7.5 Bimodal node weighting (TestComputeProbability), w_n 0.2, T 24 h
// ---------------------------------------------------------------------------

const TARGET: u8 = 10;

fn weighting() -> BimodalConfig {
    BimodalConfig {
        scale_msat: Msat(B_SCALE),
        node_weight: 0.2,
        decay_time: 24 * HOUR,
    }
}

/// Peers 0.. with a success (`true`) or failure of 1 msat `ago` before now,
/// and the target's own success of 1 msat `direct_ago` before now.
fn node_results(others: &[bool], ago: i64, direct_ago: i64) -> NodeResults {
    let now = Timestamp::from_unix_secs(0);
    let t = now.add(DurationNs(-ago));
    let mut r: NodeResults = others
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let rec = if *s {
                rec(1, Some(t), 0, None)
            } else {
                rec(0, None, 1, Some(t))
            };
            (node(i as u8), rec)
        })
        .collect();
    r.insert(node(TARGET), rec(1, Some(now.add(DurationNs(-direct_ago))), 0, None));
    r
}

fn weighted(direct: f64, others: &[bool], ago: i64, direct_ago: i64) -> f64 {
    let now = Timestamp::from_unix_secs(0);
    let r = node_results(others, ago, direct_ago);
    weighting().node_weighted(direct, now, Some(&r), &node(TARGET))
}

const S: bool = true;
const F: bool = false;
const T: i64 = HOUR.as_nanos() * 24;

macro_rules! weighting_vectors {
    ($($name:ident: $direct:expr, $others:expr, $ago:expr, $direct_ago:expr => $want:expr;)*) => {$(
        #[test]
        fn $name() {
            let got = weighted($direct, &$others, $ago, $direct_ago);
            assert_close(got, $want, stringify!($name));
        }
    )*};
}

weighting_vectors! {
    n1_single_success: 0.5, [S], 0, 2 * T => 0.5833333333333334;
    n2_many_successes: 0.5, [S; 5], 0, 2 * T => 0.75;
    n3_many_failures: 0.5, [F; 5], 0, 2 * T => 0.25000000000000006;
    n4_mixed_uneven: 0.5, [S, S, F, F, F], 0, 2 * T => 0.45;
    n5_certain_single_failure: 1.0, [F], 0, 2 * T => 0.8333333333333334;
    n6_certain_many_failures: 1.0, [F; 7], 0, 2 * T => 0.4166666666666667;
    n7_failed_many_successes: 0.0, [S; 5], 0, 2 * T => 0.5000000000000001;
    n8_certain_failure_decayed: 1.0, [F], T, 2 * T => 0.9314665231953944;
    n9_failed_successes_decayed: 0.0, [S; 5], T, 2 * T => 0.2689414213699951;
    n10_recent_direct_result_wins: 0.1, [S; 5], 0, T / 2 => 0.1;
    n11_successes_close: 0.5, [S; 5], T / 10, 2 * T => 0.73751040626053;
}

#[test]
fn n_remaining_lnd_rows() {
    // Rows of TestComputeProbability not in the spec's table, at the
    // test's own tolerance of 0.01.
    let cases: [(f64, &[bool], i64, f64); 7] = [
        (0.5, &[], 0, 0.5),
        (0.5, &[F], 0, 0.416),
        (0.5, &[S, F], 0, 0.5),
        (1.0, &[S; 5], 0, 1.0),
        (1.0, &[F; 5], 0, 0.5),
        (0.0, &[F; 3], 0, 0.0),
        (1.0, &[F], 10 * T, 1.0),
    ];
    for (direct, others, ago, want) in cases {
        let got = weighted(direct, others, ago, 2 * T);
        assert_within(got, want, 0.01, &format!("{direct} {others:?} {ago}"));
    }
}

#[test]
fn n_amount_independent_failures_do_not_count() {
    // §4.3: FailAmt 0 (node failures) is ignored by the node weighting.
    let now = Timestamp::from_unix_secs(0);
    let mut r = node_results(&[], 0, 2 * T);
    r.insert(node(0), rec(0, None, 0, Some(now)));
    let got = weighting().node_weighted(0.5, now, Some(&r), &node(TARGET));
    assert_eq!(got, 0.5);
}

// Local bimodal (TestLocalPairProbability), T = 1 h.

fn local(fail_ago: Option<DurationNs>) -> f64 {
    let est = BimodalConfig {
        decay_time: HOUR,
        ..Default::default()
    };
    let now = Timestamp::from_unix_secs(1_000_000_000);
    let to = node(1);
    let r: NodeResults = fail_ago
        .map(|ago| (to, rec(0, None, 0, Some(now.add(-ago)))))
        .into_iter()
        .collect();
    est.local_pair_probability(now, fail_ago.map(|_| &r), &to)
}

#[test]
fn l1_local_no_results() {
    assert_eq!(local(None), 1.0);
}

#[test]
fn l2_local_failure_now() {
    assert_eq!(local(Some(DurationNs::ZERO)), 0.0);
}

#[test]
fn l3_local_failure_one_decay_ago() {
    assert_close(local(Some(HOUR)), 0.6321205588285577, "L3");
}

#[test]
fn l4_local_failure_long_ago() {
    let got = local(Some(10 * HOUR));
    assert_within(got, 0.9999546, 1e-7, "L4 (as printed)");
    assert_close(got, 1.0 - (-10f64).exp(), "L4 (1 - e^-10)");
}

#[test]
fn local_bimodal_future_failure_clamps_to_zero_age() {
    // §4.3: max(0, now − FailTime), so a failure in the future gives 0.
    assert_eq!(local(Some(-HOUR)), 0.0);
}

// ---------------------------------------------------------------------------
// §4.2 apriori local channels
// ---------------------------------------------------------------------------

#[test]
fn apriori_local_probability_ignores_success_and_recovers_from_failure() {
    let est = AprioriConfig::default();
    let now = lnd_test_time();
    let peer: NodeId = node(1);
    assert_eq!(est.local_pair_probability(now, None, &peer), 0.95);
    // A success, however large, plays no role.
    let r = results(&[(1, rec(u64::MAX - 1, Some(now), 0, None))]);
    assert_eq!(est.local_pair_probability(now, Some(&r), &peer), 0.95);
    // A failure one half-life ago: 0.95 · (1 − 0.5).
    let r = results(&[(1, rec(0, None, 5, Some(now.add(-HOUR))))]);
    assert_close(
        est.local_pair_probability(now, Some(&r), &peer),
        0.475,
        "local after failure",
    );
}
