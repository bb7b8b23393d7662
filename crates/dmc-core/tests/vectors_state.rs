//! Spec §7.7 (state-update vectors U1–U7) and the §1.2–§1.4 rules they rest
//! on: success/failure updates, the relax-interval guard, node failures.

mod common;

use common::*;
use dmc_core::state::MissionControlState;
use dmc_core::{
    DirectedPair, FailureCode, MissionControl, MissionControlConfig, PairResult, TimedPairResult, Timestamp,
};

const RELAX: dmc_core::time::DurationNs = MINUTE;

fn from() -> dmc_core::NodeId {
    node(1)
}

fn to() -> dmc_core::NodeId {
    node(2)
}

fn set(state: &mut MissionControlState, ts: Timestamp, r: PairResult, force: bool) {
    state.set_last_pair_result(from(), to(), ts, r, force, RELAX);
}

fn get(state: &MissionControlState) -> TimedPairResult {
    *state.pair(&DirectedPair::new(from(), to())).expect("pair recorded")
}

/// The state after U1–U3 (TestMissionControlStateSetLastPairResult).
fn after_u(step: usize) -> MissionControlState {
    let t = lnd_test_time();
    let mut s = MissionControlState::new();
    let steps: [(Timestamp, PairResult, bool); 6] = [
        (t, PairResult::failure(Msat(1000)), false),
        (t.add(HOUR), PairResult::failure(Msat(1100)), false),
        (t.add(HOUR + SECOND), PairResult::failure(Msat(1200)), false),
        (t, PairResult::failure(Msat(999)), true),
        (t.add(SECOND), PairResult::success(Msat(1500)), false),
        (t, PairResult::success(Msat(50)), true),
    ];
    for (ts, r, force) in &steps[..step] {
        set(&mut s, *ts, *r, *force);
    }
    s
}

#[test]
fn u1_first_failure() {
    let t = lnd_test_time();
    assert_eq!(get(&after_u(1)), rec(0, None, 1000, Some(t)));
}

#[test]
fn u2_higher_failure_after_an_hour() {
    let t = lnd_test_time();
    assert_eq!(get(&after_u(2)), rec(0, None, 1100, Some(t.add(HOUR))));
}

#[test]
fn u3_higher_failure_within_relax_interval_dropped() {
    let t = lnd_test_time();
    assert_eq!(get(&after_u(3)), rec(0, None, 1100, Some(t.add(HOUR))));
}

#[test]
fn u4_forced_failure_lower_and_older() {
    let t = lnd_test_time();
    assert_eq!(get(&after_u(4)), rec(0, None, 999, Some(t)));
}

#[test]
fn u5_success_pushes_fail_amount_keeps_fail_time() {
    let t = lnd_test_time();
    assert_eq!(get(&after_u(5)), rec(1500, Some(t.add(SECOND)), 1501, Some(t)));
}

#[test]
fn u6_forced_success_overwrites() {
    let t = lnd_test_time();
    assert_eq!(get(&after_u(6)), rec(50, Some(t), 51, Some(t)));
}

/// U7: (operation, time in s, expected record after it). `None` expected
/// means "dropped": the record is unchanged.
/// (SuccessAmt, SuccessTime, FailAmt, FailTime) with times in relative
/// seconds, `None` for the zero time.
type Expected = (u64, Option<i64>, u64, Option<i64>);

fn u7_steps() -> Vec<(PairResult, i64, Option<Expected>)> {
    let s = |amt: u64| PairResult::success(Msat(amt));
    let f = |amt: u64| PairResult::failure(Msat(amt));
    vec![
        (s(1000), 0, Some((1000, Some(0), 0, None))),
        (s(500), 10, Some((1000, Some(10), 0, None))),
        (f(2000), 20, Some((1000, Some(10), 2000, Some(20)))),
        (f(3000), 50, None),
        (f(1500), 60, Some((1000, Some(10), 1500, Some(60)))),
        (f(800), 70, Some((799, Some(10), 800, Some(70)))),
        (s(900), 80, Some((900, Some(80), 901, Some(70)))),
        (f(0), 90, Some((0, Some(80), 0, Some(90)))),
        (s(400), 100, Some((400, Some(100), 401, Some(90)))),
        (f(5000), 200, Some((400, Some(100), 5000, Some(200)))),
    ]
}

fn at(base: Timestamp, secs: Option<i64>) -> Option<Timestamp> {
    secs.map(|s| base.add(s * SECOND))
}

#[test]
fn u7_derived_sequence() {
    let base = lnd_test_time();
    let mut state = MissionControlState::new();
    let mut prev: Option<TimedPairResult> = None;
    for (i, (r, t, want)) in u7_steps().into_iter().enumerate() {
        set(&mut state, base.add(t * SECOND), r, false);
        let got = get(&state);
        let want = match want {
            Some((sa, st, fa, ft)) => rec(sa, at(base, st), fa, at(base, ft)),
            None => prev.expect("a dropped step follows a recorded one"),
        };
        assert_eq!(got, want, "U7 step {} ({r:?} @{t}s)", i + 1);
        prev = Some(got);
    }
}

#[test]
fn u7_derived_sequence_through_payment_results() {
    // The same sequence driven by MissionControl::apply_payment_result: a
    // route x → from → to, where a success records `from → to` at the
    // amount `from` forwards, and a TemporaryChannelFailure from `from`
    // (p = 1) fails `from → to` one-way at that amount, at the reply time.
    let base = lnd_test_time();
    let mut mc = MissionControl::new(None, MissionControlConfig::default());
    let mut prev: Option<TimedPairResult> = None;
    for (i, (r, t, want)) in u7_steps().into_iter().enumerate() {
        let amt = r.amt_msat.0;
        let rt = route(node(9), amt, &[(from(), amt), (to(), amt)]);
        let ts = base.add(t * SECOND);
        let result = if r.success {
            success_at(i as u64, ts, &rt)
        } else {
            failure_at(i as u64, ts, &rt, Some(1), Some(FailureCode::TemporaryChannelFailure))
        };
        assert_eq!(mc.apply_payment_result(&result), Ok(None));
        let got = mc.pair_history(&from(), &to());
        let want = match want {
            Some((sa, st, fa, ft)) => rec(sa, at(base, st), fa, at(base, ft)),
            None => prev.unwrap(),
        };
        assert_eq!(got, want, "U7 step {} via MissionControl", i + 1);
        prev = Some(got);
    }
}

#[test]
fn success_of_zero_sets_time_only() {
    // §1.2 step 1: the success time is set even for amount 0.
    let t = lnd_test_time();
    let mut s = MissionControlState::new();
    set(&mut s, t, PairResult::success(Msat(700)), false);
    set(&mut s, t.add(SECOND), PairResult::success(Msat(0)), false);
    assert_eq!(get(&s), rec(700, Some(t.add(SECOND)), 0, None));
}

#[test]
fn success_turns_amount_independent_failure_into_dependent_one() {
    // §1.2 step 3: FailAmt 0 with a failure time becomes s + 1, time kept.
    let t = lnd_test_time();
    let mut s = MissionControlState::new();
    set(&mut s, t, PairResult::failure(Msat(0)), false);
    set(&mut s, t.add(HOUR), PairResult::success(Msat(300)), false);
    assert_eq!(get(&s), rec(300, Some(t.add(HOUR)), 301, Some(t)));
    // A success below the failure amount leaves it alone.
    set(&mut s, t.add(2 * HOUR), PairResult::success(Msat(100)), false);
    assert_eq!(get(&s), rec(300, Some(t.add(2 * HOUR)), 301, Some(t)));
}

#[test]
fn relax_interval_is_strict_and_measured_from_fail_time() {
    let t = lnd_test_time();
    // Exactly one minute later: not < 1 min, so a higher failure applies.
    let mut s = MissionControlState::new();
    set(&mut s, t, PairResult::failure(Msat(100)), false);
    set(&mut s, t.add(MINUTE), PairResult::failure(Msat(200)), false);
    assert_eq!(get(&s), rec(0, None, 200, Some(t.add(MINUTE))));

    // One nanosecond less: dropped.
    let mut s = MissionControlState::new();
    set(&mut s, t, PairResult::failure(Msat(100)), false);
    set(
        &mut s,
        t.add(MINUTE - 1 * NANOSECOND),
        PairResult::failure(Msat(200)),
        false,
    );
    assert_eq!(get(&s), rec(0, None, 100, Some(t)));

    // A lower or equal failure within the interval always applies.
    set(&mut s, t.add(SECOND), PairResult::failure(Msat(100)), false);
    assert_eq!(get(&s), rec(0, None, 100, Some(t.add(SECOND))));
    set(&mut s, t.add(2 * SECOND), PairResult::failure(Msat(40)), false);
    assert_eq!(get(&s), rec(0, None, 40, Some(t.add(2 * SECOND))));

    // A success that pushes FailAmt up does not restart the interval: it
    // is still measured from the failure time.
    set(&mut s, t.add(3 * SECOND), PairResult::success(Msat(500)), false);
    assert_eq!(get(&s), rec(500, Some(t.add(3 * SECOND)), 501, Some(t.add(2 * SECOND))));
    set(&mut s, t.add(30 * SECOND), PairResult::failure(Msat(600)), false);
    assert_eq!(
        get(&s),
        rec(500, Some(t.add(3 * SECOND)), 501, Some(t.add(2 * SECOND))),
        "600 > 501 within a minute of the failure at +2s: dropped"
    );
    set(
        &mut s,
        t.add(2 * SECOND + MINUTE),
        PairResult::failure(Msat(600)),
        false,
    );
    assert_eq!(
        get(&s),
        rec(500, Some(t.add(3 * SECOND)), 600, Some(t.add(2 * SECOND + MINUTE)))
    );
}

#[test]
fn relax_guard_never_drops_the_first_failure() {
    // With no failure recorded the interval saturates to +MAX, even for a
    // timestamp in the distant past.
    let mut s = MissionControlState::new();
    let early = Timestamp::from_unix_secs(-50_000_000_000);
    set(&mut s, early, PairResult::failure(Msat(u64::MAX)), false);
    assert_eq!(get(&s), rec(0, None, u64::MAX, Some(early)));
}

#[test]
fn failure_lowers_success_amount() {
    let t = lnd_test_time();
    let mut s = MissionControlState::new();
    set(&mut s, t, PairResult::success(Msat(1000)), false);
    set(&mut s, t.add(SECOND), PairResult::failure(Msat(1000)), false);
    assert_eq!(get(&s), rec(999, Some(t), 1000, Some(t.add(SECOND))));
    // A failure above the success amount leaves it.
    let mut s = MissionControlState::new();
    set(&mut s, t, PairResult::success(Msat(1000)), false);
    set(&mut s, t.add(SECOND), PairResult::failure(Msat(1001)), false);
    assert_eq!(get(&s), rec(1000, Some(t), 1001, Some(t.add(SECOND))));
}

#[test]
fn node_failure_wipes_only_known_pairs_touching_the_node() {
    // §1.4 setAllFail.
    let t = lnd_test_time();
    let (a, b, c, d) = (node(1), node(2), node(3), node(4));
    let mut s = MissionControlState::new();
    s.set_last_pair_result(a, b, t, PairResult::success(Msat(10)), false, RELAX);
    s.set_last_pair_result(b, c, t, PairResult::success(Msat(20)), false, RELAX);
    s.set_last_pair_result(c, d, t, PairResult::failure(Msat(30)), false, RELAX);
    s.set_last_pair_result(c, b, t, PairResult::failure(Msat(5)), false, RELAX);
    let ts = t.add(HOUR);
    s.set_all_fail(b, ts);
    let node_failed = rec(0, None, 0, Some(ts));
    assert_eq!(s.pair(&DirectedPair::new(a, b)), Some(&node_failed));
    assert_eq!(s.pair(&DirectedPair::new(b, c)), Some(&node_failed));
    assert_eq!(s.pair(&DirectedPair::new(c, b)), Some(&node_failed));
    assert_eq!(s.pair(&DirectedPair::new(c, d)), Some(&rec(0, None, 30, Some(t))));
    // Untried pairs of b are not created.
    assert_eq!(s.pair(&DirectedPair::new(b, a)), None);
    assert_eq!(s.pair(&DirectedPair::new(b, d)), None);
    assert_eq!(s.len(), 4);
}

#[test]
fn second_chance_interval_is_strict_and_not_extended_by_denials() {
    // §1.5 requestSecondChance.
    let t = lnd_test_time();
    let pair = DirectedPair::new(node(1), node(2));
    let mut s = MissionControlState::new();
    assert!(s.request_second_chance(t, pair), "first: granted");
    assert!(!s.request_second_chance(t, pair), "same time: denied");
    assert!(
        !s.request_second_chance(t.add(MINUTE), pair),
        "exactly a minute: denied (strict >)"
    );
    assert!(
        s.request_second_chance(t.add(MINUTE + 1 * NANOSECOND), pair),
        "a minute and 1 ns after the grant, although denied 1 ns ago: granted"
    );
    assert!(!s.request_second_chance(t.add(MINUTE + 2 * NANOSECOND), pair));
    // Pairs are independent and directed.
    assert!(s.request_second_chance(t.add(MINUTE + 2 * NANOSECOND), pair.reverse()));
}
