//! MissionControl end to end:
//!
//! * §7.6 M1–M9 (LND's `TestMissionControl` and `TestMissionControlNamespaces`),
//!   including the restart: every stored result (kept in the crate's binary
//!   codec, in store-key order) is re-applied to a fresh MissionControl;
//! * §6's second-chance vector (`TestMissionControlChannelUpdate`) and the
//!   §1.5/§1.6 rules around it;
//! * the §4.6 walkthrough numbers.

mod common;

use std::collections::BTreeMap;

use common::*;
use dmc_core::codec::{decode_result, encode_result, result_key};
use dmc_core::{
    AprioriConfig, BimodalConfig, EstimatorConfig, FailureCode, FailureReason, MissionControl, MissionControlConfig,
    Msat, NodeId, PaymentResult, Route, Sat, Timestamp,
};

// ---------------------------------------------------------------------------
// §7.6 setup: apriori P_a 0.9, w 0.5, H 30 min, cf 0.9999; capacity
// 100 000 sat; route self → n1 → n2, total 0, hop-1 amount = reported amount.
// ---------------------------------------------------------------------------

const CAPACITY_SAT: Sat = Sat(100_000);

fn mc_self() -> NodeId {
    node(10)
}

fn n1() -> NodeId {
    node(11)
}

fn n2() -> NodeId {
    node(12)
}

fn mc_config() -> MissionControlConfig {
    MissionControlConfig {
        estimator: EstimatorConfig::Apriori(AprioriConfig {
            hop_probability: 0.9,
            weight: 0.5,
            penalty_half_life: 30 * MINUTE,
            capacity_fraction: 0.9999,
        }),
        ..Default::default()
    }
}

fn mc_route(amt: u64) -> Route {
    route(mc_self(), 0, &[(n1(), amt), (n2(), 0)])
}

/// One namespace: its MissionControl, the raw results "on disk" (keyed as
/// LND keys them), the clock and the attempt id.
struct Ctx {
    mc: MissionControl,
    store: BTreeMap<[u8; 49], Vec<u8>>,
    now: Timestamp,
    pid: u64,
}

impl Ctx {
    fn new() -> Self {
        Ctx {
            mc: MissionControl::new(Some(mc_self()), mc_config()),
            store: BTreeMap::new(),
            now: lnd_test_time(),
            pid: 0,
        }
    }

    fn report(&mut self, r: PaymentResult) -> Option<FailureReason> {
        let key = result_key(&r).expect("post-1970 reply time");
        self.store.insert(key, encode_result(&r));
        self.mc.apply_payment_result(&r).expect("valid result")
    }

    fn report_failure(&mut self, amt: u64, code: FailureCode) -> Option<FailureReason> {
        let r = failure_at(self.pid, self.now, &mc_route(amt), Some(1), Some(code));
        self.report(r)
    }

    fn report_success(&mut self, amt: u64) -> Option<FailureReason> {
        let r = success_at(self.pid, self.now, &mc_route(amt));
        self.pid += 1;
        self.report(r)
    }

    /// `P(n1 → n2, amt)` at the current time.
    fn p(&self, amt: u64) -> f64 {
        self.mc.probability(self.now, &n1(), &n2(), Msat(amt), CAPACITY_SAT)
    }

    /// A fresh MissionControl rebuilt by replaying the stored results in
    /// key order.
    fn restart(&mut self) {
        let mut mc = MissionControl::new(Some(mc_self()), mc_config());
        for bytes in self.store.values() {
            let r = decode_result(bytes).expect("stored result decodes");
            mc.apply_payment_result(&r).expect("valid result");
        }
        self.mc = mc;
    }
}

/// LND's expectP tolerance, and our own 1e-9 against the derived value.
#[track_caller]
fn expect_p(ctx: &Ctx, amt: u64, want: f64) {
    let got = ctx.p(amt);
    assert_within(got, want, 0.001, &format!("P({amt}) (LND tolerance)"));
    assert_close(got, want, &format!("P({amt})"));
}

/// State after M3: TemporaryChannelFailure at 1000 msat at t0.
fn after_m3() -> Ctx {
    let mut ctx = Ctx::new();
    assert_eq!(ctx.report_failure(1000, FailureCode::TemporaryChannelFailure), None);
    ctx
}

/// State after M6: the failure at amount 0 at t0 + 30 min.
fn after_m6() -> Ctx {
    let mut ctx = after_m3();
    ctx.now = lnd_test_time().add(30 * MINUTE);
    assert_eq!(ctx.report_failure(0, FailureCode::TemporaryChannelFailure), None);
    ctx
}

#[test]
fn m1_local_channel_without_data_is_exactly_095() {
    let ctx = Ctx::new();
    let p = ctx.mc.probability(ctx.now, &mc_self(), &n1(), Msat(100), CAPACITY_SAT);
    assert_eq!(p, 0.95);
}

#[test]
fn m2_initial_probability_is_apriori() {
    expect_p(&Ctx::new(), 1000, 0.9);
}

#[test]
fn m3_failed_amount_has_probability_zero() {
    let ctx = after_m3();
    assert_eq!(ctx.p(1000), 0.0);
    // What was recorded: self → n1 success at the route total (0), and a
    // one-way failure n1 → n2 at 1000 msat.
    let t0 = lnd_test_time();
    assert_eq!(ctx.mc.pair_history(&n1(), &n2()), rec(0, None, 1000, Some(t0)));
    assert_eq!(ctx.mc.pair_history(&mc_self(), &n1()), rec(0, Some(t0), 0, None));
    assert_eq!(ctx.mc.snapshot().len(), 2);
}

#[test]
fn m4_amount_below_failure_gets_node_probability() {
    expect_p(&after_m3(), 500, 0.9);
}

#[test]
fn m5_half_recovered_after_one_half_life() {
    let mut ctx = after_m3();
    ctx.now = lnd_test_time().add(30 * MINUTE);
    // Node probability 0.9/1.5 = 0.6, pair 0.6 · (1 − 0.5).
    expect_p(&ctx, 1000, 0.3);
}

#[test]
fn m6_amount_independent_failure_penalises_every_amount() {
    let ctx = after_m6();
    assert_eq!(ctx.p(1000), 0.0);
    assert_eq!(ctx.p(500), 0.0);
    assert_eq!(
        ctx.mc.pair_history(&n1(), &n2()),
        rec(0, None, 0, Some(lnd_test_time().add(30 * MINUTE)))
    );
}

#[test]
fn m7_recovery_survives_restart_and_replay() {
    let mut ctx = after_m6();
    ctx.now = lnd_test_time().add(60 * MINUTE);
    expect_p(&ctx, 1000, 0.3);
    let before = ctx.mc.snapshot();
    ctx.restart();
    assert_eq!(ctx.mc.snapshot(), before, "replay rebuilds the same pairs");
    expect_p(&ctx, 1000, 0.3);
}

#[test]
fn m8_node_failure_of_n1() {
    let mut ctx = after_m6();
    ctx.now = lnd_test_time().add(60 * MINUTE);
    ctx.restart();
    // ExpiryTooSoon from n1 (p = 1): "all" with p = 1 is a node failure.
    assert_eq!(ctx.report_failure(0, FailureCode::ExpiryTooSoon), None);
    assert_eq!(ctx.p(1000), 0.0);
    let snapshot = ctx.mc.snapshot();
    assert_eq!(snapshot.len(), 4, "{snapshot:?}");
    let failed = rec(0, None, 0, Some(ctx.now));
    for (a, b) in [(mc_self(), n1()), (n1(), mc_self()), (n1(), n2()), (n2(), n1())] {
        assert_eq!(ctx.mc.pair_history(&a, &b), failed, "{a:?} → {b:?}");
    }
    // LND's test ends with a success report; it lifts n1 → n2 again.
    ctx.now = ctx.now.add(MINUTE);
    assert_eq!(ctx.report_success(1000), None);
    expect_p(&ctx, 1000, 0.95);
}

#[test]
fn m9_separate_namespace_is_independent() {
    // TestMissionControlNamespaces: the default namespace has a failure.
    let default_ns = after_m3();
    assert_eq!(default_ns.p(1000), 0.0);
    // A new namespace is a separate MissionControl: a priori first, then
    // 0.95 after a success on the same route.
    let mut other = Ctx::new();
    expect_p(&other, 1000, 0.9);
    assert_eq!(other.report_success(1000), None);
    expect_p(&other, 1000, 0.95);
    assert_eq!(default_ns.p(1000), 0.0);
    // Both survive a restart unchanged.
    let mut default_ns = default_ns;
    default_ns.restart();
    other.restart();
    assert_eq!(default_ns.p(1000), 0.0);
    expect_p(&other, 1000, 0.95);
}

// ---------------------------------------------------------------------------
// §6 / §1.5: second chance for policy failures (TestMissionControlChannelUpdate)
// ---------------------------------------------------------------------------

#[test]
fn second_chance_first_policy_failure_is_ignored() {
    let mut ctx = Ctx::new();
    assert_eq!(ctx.report_failure(0, FailureCode::FeeInsufficient), None);
    expect_p(&ctx, 100, 0.9);
    assert!(ctx.mc.snapshot().is_empty(), "nothing recorded");
}

#[test]
fn second_chance_denied_at_same_time_fails_node() {
    let mut ctx = Ctx::new();
    ctx.report_failure(0, FailureCode::FeeInsufficient);
    assert_eq!(ctx.report_failure(0, FailureCode::FeeInsufficient), None);
    assert_eq!(ctx.p(100), 0.0);
    // "incoming" with p = 1: node failure of n1, both pairs both ways.
    assert_eq!(ctx.mc.snapshot().len(), 4);
    assert_eq!(ctx.mc.pair_history(&mc_self(), &n1()), rec(0, None, 0, Some(ctx.now)));
}

#[test]
fn second_chance_is_granted_again_after_a_minute() {
    let mut ctx = Ctx::new();
    let t0 = ctx.now;
    ctx.report_failure(0, FailureCode::ChannelDisabled);
    // Exactly one minute later: denied, applied.
    ctx.now = t0.add(MINUTE);
    ctx.report_failure(0, FailureCode::ChannelDisabled);
    assert_eq!(ctx.mc.pair_history(&n1(), &n2()), rec(0, None, 0, Some(ctx.now)));
    // A minute and a nanosecond after the grant: granted, nothing changes.
    let before = ctx.mc.snapshot();
    ctx.now = t0.add(MINUTE + NANOSECOND);
    ctx.report_failure(0, FailureCode::ChannelDisabled);
    assert_eq!(ctx.mc.snapshot(), before);
    // The replay makes the same decisions.
    ctx.restart();
    assert_eq!(ctx.mc.snapshot(), before);
}

#[test]
fn second_chance_memory_is_cleared_by_reset() {
    // Reset clears the memory of granted chances along with the pairs
    // (§1.8).
    let mut ctx = Ctx::new();
    ctx.report_failure(0, FailureCode::AmountBelowMinimum);
    assert!(ctx.mc.snapshot().is_empty());
    ctx.mc.reset();
    ctx.report_failure(0, FailureCode::AmountBelowMinimum);
    assert!(ctx.mc.snapshot().is_empty(), "granted again after reset");
    ctx.report_failure(0, FailureCode::AmountBelowMinimum);
    assert_eq!(ctx.mc.snapshot().len(), 4, "denied: node failure applied");
}

// ---------------------------------------------------------------------------
// §1.4 / §1.6: node failure first, then the pair results, at the reply time
// ---------------------------------------------------------------------------

#[test]
fn node_failure_is_applied_before_pair_results() {
    let t = lnd_test_time();
    let me = node(1);
    let (a, b, c, d, e) = (node(2), node(3), node(4), node(5), node(6));
    let mut mc = MissionControl::new(Some(me), MissionControlConfig::default());
    // Successes me → a → b → c.
    let r1 = route(me, 1000, &[(a, 900), (b, 800), (c, 800)]);
    mc.apply_payment_result(&success_at(1, t, &r1)).unwrap();
    // A TemporaryNodeFailure from b (p = 2) on me → d → b → e, later.
    let t2 = t.add(HOUR);
    let r2 = route(me, 1000, &[(d, 900), (b, 800), (e, 800)]);
    let reason = mc
        .apply_payment_result(&failure_at(
            2,
            t2,
            &r2,
            Some(2),
            Some(FailureCode::TemporaryNodeFailure),
        ))
        .unwrap();
    assert_eq!(reason, None);
    let failed = rec(0, None, 0, Some(t2));
    // setAllFail wiped the known pairs touching b ...
    assert_eq!(mc.pair_history(&a, &b), failed);
    assert_eq!(mc.pair_history(&b, &c), failed);
    // ... then the interpreter's pairs were applied: d ↔ b, b ↔ e.
    for (x, y) in [(d, b), (b, d), (b, e), (e, b)] {
        assert_eq!(mc.pair_history(&x, &y), failed);
    }
    // Untouched pairs keep their successes; "anything else" adds no
    // success for me → d; untried c → b is not created.
    assert_eq!(mc.pair_history(&me, &a), rec(1000, Some(t), 0, None));
    assert_eq!(mc.pair_history(&b, &a), rec(0, None, 0, None));
    assert_eq!(mc.pair_history(&c, &b), rec(0, None, 0, None));
    assert_eq!(mc.snapshot().len(), 7);
}

#[test]
fn final_failure_reasons_are_returned() {
    let t = lnd_test_time();
    let mut mc = MissionControl::new(Some(node(1)), MissionControlConfig::default());
    let rt = route(node(1), 100, &[(node(2), 99), (node(3), 99)]);
    let r = failure_at(1, t, &rt, Some(2), Some(FailureCode::IncorrectOrUnknownPaymentDetails));
    assert_eq!(
        mc.apply_payment_result(&r),
        Ok(Some(FailureReason::IncorrectPaymentDetails))
    );
    let r = failure_at(2, t, &rt, Some(2), Some(FailureCode::TemporaryNodeFailure));
    assert_eq!(mc.apply_payment_result(&r), Ok(Some(FailureReason::Error)));
    let r = failure_at(3, t, &rt, None, None);
    assert_eq!(mc.apply_payment_result(&r), Ok(None));
}

#[test]
fn results_lnd_would_panic_on_are_refused() {
    let t = lnd_test_time();
    let mut mc = MissionControl::new(None, MissionControlConfig::default());
    let empty = route(node(1), 100, &[]);
    assert!(mc.apply_payment_result(&success_at(1, t, &empty)).is_err());
    let rt = route(node(1), 100, &[(node(2), 99)]);
    let beyond = failure_at(1, t, &rt, Some(2), Some(FailureCode::TemporaryChannelFailure));
    assert!(mc.apply_payment_result(&beyond).is_err());
    assert!(mc.snapshot().is_empty());
}

// ---------------------------------------------------------------------------
// §4.6 walkthrough: Alice → Bob → Carol, apriori defaults, 30 000 sat
// ---------------------------------------------------------------------------

const WALK_CAPACITY_SAT: Sat = Sat(30_000);

fn alice() -> NodeId {
    node(0xa1)
}

fn bob() -> NodeId {
    node(0xb0)
}

fn carol() -> NodeId {
    node(0xca)
}

/// Earlier payments recorded Alice → Bob 5 201 005 msat and Bob → Carol
/// 5 200 000 msat, both successes.
fn walkthrough(estimator: EstimatorConfig) -> (MissionControl, Timestamp) {
    let t = Timestamp::from_unix_secs(1_715_400_000);
    let mut mc = MissionControl::new(
        Some(alice()),
        MissionControlConfig {
            estimator,
            ..Default::default()
        },
    );
    let rt = route(alice(), 5_201_005, &[(bob(), 5_200_000), (carol(), 5_200_000)]);
    assert_eq!(mc.apply_payment_result(&success_at(1, t, &rt)), Ok(None));
    assert_eq!(mc.pair_history(&bob(), &carol()).success_amt_msat, Msat(5_200_000));
    (mc, t)
}

/// The route probability as findPath builds it: last hop first,
/// `(1 · p_bob→carol) · p_alice→bob`. Bob's fee: 1000 msat + 1 ppm.
fn success_prob(mc: &MissionControl, now: Timestamp, amt: u64) -> (f64, f64) {
    let hop2 = mc.probability(now, &bob(), &carol(), Msat(amt), WALK_CAPACITY_SAT);
    let fee = 1000 + amt / 1_000_000;
    let hop1 = mc.probability(now, &alice(), &bob(), Msat(amt + fee), WALK_CAPACITY_SAT);
    (1.0 * hop2 * hop1, hop2)
}

#[test]
fn walkthrough_5200_sat_is_exactly_09025() {
    let (mc, t) = walkthrough(EstimatorConfig::default());
    let (p, hop2) = success_prob(&mc, t.add(HOUR), 5_200_000);
    assert_eq!(hop2, 0.95);
    assert_eq!(p, 0.9025);
}

#[test]
fn walkthrough_5300_sat_is_0_5699999999999985() {
    let (mc, t) = walkthrough(EstimatorConfig::default());
    let (p, hop2) = success_prob(&mc, t.add(HOUR), 5_300_000);
    assert_eq!(hop2, 0.5999999999999984);
    assert_eq!(p, 0.5699999999999985, "the capacity factor is not 1 in f64");
    assert_eq!(dmc_core::json::format_go_float(p, false), "0.5699999999999985");
}

#[test]
fn walkthrough_switch_at_one_msat_above_the_success() {
    let (mc, t) = walkthrough(EstimatorConfig::default());
    let (p, _) = success_prob(&mc, t, 5_200_000);
    assert_eq!(p, 0.9025);
    let (p, hop2) = success_prob(&mc, t, 5_200_001);
    assert_close(hop2, 0.6, "hop 2 at 5 200 001 msat");
    assert_close(p, 0.57, "success_prob at 5 200 001 msat");
}

#[test]
fn walkthrough_local_hop_ignores_its_success() {
    let (mc, t) = walkthrough(EstimatorConfig::default());
    for amt in [1, 5_201_005, 5_201_006, u64::MAX] {
        assert_eq!(mc.probability(t, &alice(), &bob(), Msat(amt), WALK_CAPACITY_SAT), 0.95);
    }
}

#[test]
fn walkthrough_under_bimodal() {
    // §4.6: local 1.0, and hop 2 = 1.0 up to the time-decayed success.
    let (mc, t) = walkthrough(EstimatorConfig::Bimodal(BimodalConfig::default()));
    let (p, hop2) = success_prob(&mc, t, 5_200_000);
    assert_eq!(hop2, 1.0);
    assert_eq!(p, 1.0);
    // A day later the success has decayed below 5 200 000 msat.
    let (p, _) = success_prob(&mc, t.add(24 * HOUR), 5_200_000);
    assert!(p < 1.0 && p > 0.0, "{p}");
}
