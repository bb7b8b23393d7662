use super::*;
use crate::aggregate::{served_pair, ReporterClass};
use crate::sync_plan::validate_pair;

const CAP: Msat = Msat(1_000_000_000); // 1 000 000 sat
const T0: i64 = 1_770_076_800;

fn node(i: u8) -> NodeId {
    let mut b = [0u8; 32];
    b[31] = i;
    b[0] = 1;
    let secret = secp256k1::SecretKey::from_slice(&b).expect("a valid scalar");
    NodeId(secp256k1::PublicKey::from_secret_key(&secp256k1::Secp256k1::signing_only(), &secret).serialize())
}

fn pair(a: u8, b: u8) -> DirectedPair {
    DirectedPair {
        from: node(a),
        to: node(b),
    }
}

fn reporter(i: u8) -> Reporter {
    Reporter::Node(node(100 + i))
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_secs(T0 + secs)
}

/// Every signed key established at reputation 1, except the ones listed at 0.
struct Graph {
    distrusted: Vec<Reporter>,
}

impl Standing for Graph {
    fn class(&self, r: &Reporter) -> ReporterClass {
        match r {
            Reporter::Node(_) => ReporterClass::Established,
            _ => ReporterClass::Anonymous,
        }
    }
    fn reputation(&self, r: &Reporter) -> f64 {
        if self.distrusted.contains(r) {
            0.0
        } else {
            1.0
        }
    }
    fn channel(&self, _: &DirectedPair) -> ChannelCheck {
        ChannelCheck::Capacity(CAP)
    }
}

const HONEST: Graph = Graph { distrusted: Vec::new() };

fn success(amt: u64, secs: i64, settled: Option<bool>) -> Observation {
    Observation {
        kind: ObservationKind::Success,
        amt: Msat(amt),
        time: at(secs),
        settled,
    }
}

fn failure(amt: u64, secs: i64) -> Observation {
    Observation {
        kind: ObservationKind::Failure,
        amt: Msat(amt),
        time: at(secs),
        settled: None,
    }
}

fn model() -> LiquidityModel {
    LiquidityModel::new(LiquidityParams::default())
}

fn p(m: &LiquidityModel, pr: &DirectedPair, amt: u64, now: i64) -> f64 {
    m.pass_probability(pr, Msat(amt), CAP, at(now), &HONEST, &AggregationParams::default())
        .expect("known pair")
}

#[test]
fn bucket_edges_run_from_0_to_1_denser_at_both_ends() {
    let e = bucket_edges();
    assert_eq!(e[0], 0.0);
    assert_eq!(e[BUCKETS], 1.0);
    assert_eq!(e[BUCKETS / 2], 0.5);
    for k in 0..BUCKETS {
        assert!(e[k] < e[k + 1], "edge {k}");
        assert!((e[k] - (1.0 - e[BUCKETS - k])).abs() < 1e-15, "symmetric at {k}");
    }
    assert!(e[1] - e[0] < e[BUCKETS / 2] - e[BUCKETS / 2 - 1]);
    assert_eq!(bucket_of(0.0, &e), 0);
    assert_eq!(bucket_of(1.0, &e), BUCKETS - 1);
    assert_eq!(bucket_of(0.4999, &e), BUCKETS / 2 - 1);
    assert_eq!(bucket_of(0.5, &e), BUCKETS / 2);
}

#[test]
fn an_empty_model_serves_nothing_and_knows_nothing() {
    let m = model();
    let agg = AggregationParams::default();
    assert!(m
        .serve_lnd(at(0), &HONEST, &agg, &ServeParams::default(), &[])
        .is_empty());
    assert_eq!(
        m.pass_probability(&pair(1, 2), Msat(1000), CAP, at(0), &HONEST, &agg),
        None
    );
    assert!(m.receive_capacity(at(0), &HONEST, &agg).is_empty());
}

#[test]
fn a_persistently_depleted_direction_is_served_as_a_confident_failure_long_after_the_last_observation() {
    let mut m = model();
    let pr = pair(1, 2);
    // Two reporters over two days: the direction never carries more than ~5 %.
    for day in 0..2 {
        for h in 0..12 {
            let t = day * 86_400 + h * 3_600;
            m.observe(reporter(1), pr, ChannelCheck::Capacity(CAP), failure(80_000_000, t));
            m.observe(
                reporter(2),
                pr,
                ChannelCheck::Capacity(CAP),
                failure(60_000_000, t + 600),
            );
            m.observe(
                reporter(1),
                pr,
                ChannelCheck::Capacity(CAP),
                success(20_000_000, t + 1200, Some(false)),
            );
        }
    }
    let now = 2 * 86_400 + 6 * 3_600; // 18 h after the last observation: every live bound has decayed
    assert!(p(&m, &pr, 10_000_000, now) > 0.8);
    assert!(p(&m, &pr, 200_000_000, now) < 0.1, "{}", p(&m, &pr, 200_000_000, now));
    let served = m.serve_lnd(
        at(now),
        &HONEST,
        &AggregationParams::default(),
        &ServeParams::default(),
        &[],
    );
    assert_eq!(served.len(), 1);
    let s = served[0];
    assert!(s.result.fail_amt_msat > Msat(20_000_000) && s.result.fail_amt_msat <= Msat(100_000_000));
    assert!(s.result.success_amt_msat > Msat::ZERO && s.result.success_amt_msat < s.result.fail_amt_msat);
    // Confident: LND's penalty factor 1 − 2^(−age/1 h) equals the model's pass probability.
    let age_h = at(now).sub(s.result.fail_time).hours();
    assert!((1.0 - 2f64.powf(-age_h) - s.fail_probability).abs() < 1e-6);
    assert!(s.fail_probability <= 0.5);
    // A last-observation record this old would say nearly nothing to LND (18 h: 2^-18).
    assert!(age_h < 1.0, "{age_h}");
}

#[test]
fn a_lone_reporters_failure_is_not_served_its_success_is() {
    let mut m = model();
    let pr = pair(1, 2);
    for h in 0..10 {
        m.observe(
            reporter(1),
            pr,
            ChannelCheck::Capacity(CAP),
            failure(50_000_000, h * 3600),
        );
        m.observe(
            reporter(1),
            pr,
            ChannelCheck::Capacity(CAP),
            success(10_000_000, h * 3600 + 60, None),
        );
    }
    let served = m.serve_lnd(
        at(36_000),
        &HONEST,
        &AggregationParams::default(),
        &ServeParams::default(),
        &[],
    );
    assert_eq!(served.len(), 1);
    assert!(served[0].result.fail_time.is_zero(), "{:?}", served[0]);
    assert!(served[0].result.success_amt_msat > Msat::ZERO);
}

#[test]
fn a_settled_success_is_no_live_bound_a_success_before_a_failure_is() {
    let now = 120;
    let mut settled = model();
    let mut returned = model();
    let pr = pair(1, 2);
    settled.observe(
        reporter(1),
        pr,
        ChannelCheck::Capacity(CAP),
        success(800_000_000, 60, Some(true)),
    );
    returned.observe(
        reporter(1),
        pr,
        ChannelCheck::Capacity(CAP),
        success(800_000_000, 60, Some(false)),
    );
    let (ps, pr_) = (p(&settled, &pr, 700_000_000, now), p(&returned, &pr, 700_000_000, now));
    assert!(pr_ > 0.8, "{pr_}");
    assert!(ps < pr_ - 0.2, "settled {ps} vs returned {pr_}");
    // Switched off (the ablation), the settled success is a live bound again.
    let mut off = LiquidityModel::new(LiquidityParams {
        use_settled: false,
        ..LiquidityParams::default()
    });
    off.observe(
        reporter(1),
        pr,
        ChannelCheck::Capacity(CAP),
        success(800_000_000, 60, Some(true)),
    );
    assert!((p(&off, &pr, 700_000_000, now) - pr_).abs() < 1e-12);
}

#[test]
fn a_pair_whose_liquidity_moves_is_trusted_for_less_time() {
    let mut m = model();
    let (calm, busy) = (pair(1, 2), pair(3, 4));
    for i in 0..30 {
        let t = i * 1800;
        // Calm: successes at 30 % and failures at 70 %, never contradicting.
        m.observe(
            reporter(1),
            calm,
            ChannelCheck::Capacity(CAP),
            success(300_000_000, t, Some(false)),
        );
        m.observe(
            reporter(2),
            calm,
            ChannelCheck::Capacity(CAP),
            failure(700_000_000, t + 900),
        );
        // Busy: every observation contradicts the one before.
        let (s, f) = if i % 2 == 0 { (600_000_000, 0) } else { (0, 200_000_000) };
        if s > 0 {
            m.observe(
                reporter(1),
                busy,
                ChannelCheck::Capacity(CAP),
                success(s, t, Some(false)),
            );
        } else {
            m.observe(reporter(2), busy, ChannelCheck::Capacity(CAP), failure(f, t));
        }
    }
    let agg = AggregationParams::default();
    let now = at(30 * 1800);
    let hl = |pr| m.estimate(&pr, now, &HONEST, &agg).expect("seen").live_half_life;
    assert!(
        hl(calm) > hl(busy).saturating_mul(4),
        "calm {:?} busy {:?}",
        hl(calm),
        hl(busy)
    );
    let est = m.estimate(&busy, now, &HONEST, &agg).expect("seen");
    assert!(est.moves > 10.0 && est.exposure_s > 0.0);
    assert_eq!(est.newest_success, at(28 * 1800));
    assert_eq!(est.newest_failure, at(29 * 1800));
    // Without staleness (the ablation) both decay alike.
    let mut flat = m.clone();
    flat.params.use_staleness = false;
    let a = flat.estimate(&calm, now, &HONEST, &agg).expect("seen").live_half_life;
    let b = flat.estimate(&busy, now, &HONEST, &agg).expect("seen").live_half_life;
    assert_eq!(a, b);
}

#[test]
fn one_flooding_key_is_one_voice_and_a_distrusted_key_none() {
    let mut m = model();
    let pr = pair(1, 2);
    for i in 0..10 {
        m.observe(
            reporter(1),
            pr,
            ChannelCheck::Capacity(CAP),
            success(600_000_000, i * 3600, Some(false)),
        );
        m.observe(
            reporter(2),
            pr,
            ChannelCheck::Capacity(CAP),
            success(650_000_000, i * 3600 + 60, Some(false)),
        );
        m.observe(
            reporter(3),
            pr,
            ChannelCheck::Capacity(CAP),
            success(550_000_000, i * 3600 + 120, Some(false)),
        );
    }
    let mut flooded = m.clone();
    for i in 0..10_000 {
        flooded.observe(
            reporter(9),
            pr,
            ChannelCheck::Capacity(CAP),
            failure(10_000_000, 36_000 + i),
        );
    }
    let now = 36_000 + 10_000 + 7 * 3600;
    let agg = AggregationParams::default();
    let honest = p(&m, &pr, 400_000_000, now);
    let flood = p(&flooded, &pr, 400_000_000, now);
    assert!(honest > 0.8, "{honest}");
    // One key of four moves the estimate by at most its share.
    assert!(flood > honest * 0.6, "honest {honest}, flooded {flood}");
    let liar = Graph {
        distrusted: vec![reporter(9)],
    };
    let caught = flooded
        .pass_probability(&pr, Msat(400_000_000), CAP, at(now), &liar, &agg)
        .expect("known");
    assert!((caught - honest).abs() < 1e-9, "caught {caught}, honest {honest}");
}

#[test]
fn served_records_load_in_lnd_and_are_never_after_the_serving_time() {
    let mut m = model();
    let mut seed = 7u64;
    let mut next = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        seed >> 33
    };
    for i in 0..2000 {
        let pr = pair((next() % 20) as u8, 20 + (next() % 5) as u8);
        let amt = 1 + next() % CAP.0;
        let t = (i * 60) as i64;
        let r = reporter((next() % 6) as u8);
        if next() % 2 == 0 {
            m.observe(
                r,
                pr,
                ChannelCheck::Capacity(CAP),
                success(amt, t, Some(next() % 2 == 0)),
            );
        } else {
            m.observe(r, pr, ChannelCheck::Capacity(CAP), failure(amt, t));
        }
    }
    let extra: Vec<(DirectedPair, Msat)> = (0..5).map(|d| (pair(200, 20 + d), CAP)).collect();
    for now in [120_000, 130_000, 400_000] {
        let served = m.serve_lnd(
            at(now),
            &HONEST,
            &AggregationParams::default(),
            &ServeParams::default(),
            &extra,
        );
        assert!(!served.is_empty());
        assert!(
            served.windows(2).all(|w| w[0].pair < w[1].pair),
            "sorted, one record per pair"
        );
        for s in &served {
            let r = s.result;
            assert!(!r.fail_time.after(at(now)) && !r.success_time.after(at(now)));
            if !r.fail_time.is_zero() && !r.success_time.is_zero() {
                assert!(r.success_amt_msat < r.fail_amt_msat, "{s:?}");
            }
            assert!(r.success_amt_msat <= CAP && r.fail_amt_msat <= CAP);
            validate_pair(served_pair(s.pair, &r)).expect("LND imports it");
        }
    }
}

#[test]
fn pass_probability_falls_with_the_amount() {
    let mut m = model();
    let pr = pair(1, 2);
    m.observe(
        reporter(1),
        pr,
        ChannelCheck::Capacity(CAP),
        success(300_000_000, 0, None),
    );
    m.observe(reporter(2), pr, ChannelCheck::Capacity(CAP), failure(500_000_000, 60));
    m.observe(reporter(1), pr, ChannelCheck::Capacity(CAP), failure(900_000_000, 120));
    let mut last = 1.0;
    for i in 0..=1000u64 {
        let v = p(&m, &pr, i * 1_000_000, 600);
        assert!(v <= last + 1e-12, "at {i}: {v} after {last}");
        assert!((0.0..=1.0).contains(&v));
        last = v;
    }
}

#[test]
fn a_sinks_unreported_inbound_pairs_are_served_depleted_with_two_reporters_not_one() {
    let sink = 50;
    let mut m = model();
    for from in 1..=4u8 {
        for h in 0..12 {
            let r = reporter(from % 2);
            m.observe(
                r,
                pair(from, sink),
                ChannelCheck::Capacity(CAP),
                failure(30_000_000, h * 3600 + i64::from(from)),
            );
        }
    }
    let agg = AggregationParams::default();
    let unseen = pair(9, sink);
    let now = at(24 * 3600);
    let served = m.serve_lnd(now, &HONEST, &agg, &ServeParams::default(), &[(unseen, CAP)]);
    let s = served
        .iter()
        .find(|s| s.pair == unseen)
        .expect("the unseen pair into the sink is served");
    assert!(
        s.result.fail_amt_msat > Msat::ZERO && s.result.fail_amt_msat < Msat(500_000_000),
        "{s:?}"
    );
    let recv = m.receive_capacity(now, &HONEST, &agg);
    assert_eq!(recv.len(), 1);
    assert_eq!((recv[0].node, recv[0].reporters, recv[0].pairs), (node(sink), 2, 4));
    assert!(recv[0].median_fraction < 0.2, "{recv:?}");
    // One reporter alone cannot paint a node as a sink.
    let mut lone = model();
    for from in 1..=4u8 {
        lone.observe(
            reporter(0),
            pair(from, sink),
            ChannelCheck::Capacity(CAP),
            failure(30_000_000, i64::from(from)),
        );
    }
    let served = lone.serve_lnd(now, &HONEST, &agg, &ServeParams::default(), &[(unseen, CAP)]);
    assert!(served.iter().all(|s| s.pair != unseen));
    // And without the receive component (the ablation) nothing is served for it.
    m.params.use_receive = false;
    let served = m.serve_lnd(now, &HONEST, &agg, &ServeParams::default(), &[(unseen, CAP)]);
    assert!(served.iter().all(|s| s.pair != unseen));
}

#[test]
fn observations_in_a_record_change_are_its_newer_success_and_failure() {
    let before = TimedPairResult {
        fail_time: at(0),
        fail_amt_msat: Msat(5000),
        success_time: at(10),
        success_amt_msat: Msat(1000),
    };
    let after = TimedPairResult {
        fail_time: at(20),
        fail_amt_msat: Msat(4000),
        success_time: at(10),
        success_amt_msat: Msat(1000),
    };
    let obs = LiquidityModel::observations_in(Some(&before), &after, Some(true));
    assert_eq!(obs, vec![failure(4000, 20)]);
    let obs = LiquidityModel::observations_in(None, &after, Some(true));
    assert_eq!(obs, vec![success(1000, 10, Some(true)), failure(4000, 20)]);
    assert!(LiquidityModel::observations_in(Some(&after), &after, None).is_empty());
}

#[test]
fn no_channel_and_zero_amounts_are_ignored() {
    let mut m = model();
    m.observe(reporter(1), pair(1, 2), ChannelCheck::NoChannel, failure(1000, 0));
    m.observe(reporter(1), pair(1, 2), ChannelCheck::Capacity(CAP), failure(0, 0));
    m.observe(
        reporter(1),
        pair(1, 2),
        ChannelCheck::Capacity(CAP),
        Observation {
            time: Timestamp::ZERO,
            ..failure(10, 0)
        },
    );
    assert!(m.is_empty());
    // Without a graph the scale is a guess from the first amount; amounts above it are clamped.
    m.observe(reporter(1), pair(1, 2), ChannelCheck::Unchecked, failure(1000, 0));
    m.observe(
        reporter(1),
        pair(1, 2),
        ChannelCheck::Unchecked,
        success(u64::MAX, 1, None),
    );
    assert_eq!(m.pair(&pair(1, 2)).expect("seen").capacity(), Msat(2000));
}

#[test]
fn a_replayed_or_older_observation_adds_nothing() {
    let mut m = model();
    let pr = pair(1, 2);
    for _ in 0..100 {
        m.observe(reporter(1), pr, ChannelCheck::Capacity(CAP), failure(50_000_000, 3600));
    }
    m.observe(reporter(1), pr, ChannelCheck::Capacity(CAP), failure(40_000_000, 60));
    let est = m
        .estimate(&pr, at(3600), &HONEST, &AggregationParams::default())
        .expect("seen");
    let total: f64 = est.failure_histogram.iter().sum();
    assert!((total - 1.0).abs() < 1e-9, "{total}");
    assert_eq!(est.newest_failure, at(3600));
}

#[test]
fn a_record_is_re_served_when_lnd_would_drift_from_the_model_not_on_every_tick() {
    let serve = ServeParams::default();
    let r = TimedPairResult {
        fail_time: at(0),
        fail_amt_msat: Msat(500_000_000),
        success_time: at(0),
        success_amt_msat: Msat(100_000_000),
    };
    assert!(worth_reserving(None, &r, at(0), &serve));
    // Ten minutes later the model says the same with a refreshed time: LND's
    // weight of the old failure is 0.89, the new 1.0: re-served.
    let later = TimedPairResult {
        fail_time: at(600),
        success_time: at(600),
        ..r
    };
    assert!(worth_reserving(Some(&r), &later, at(600), &serve));
    // A minute later: 0.99 against 1.0, kept.
    let soon = TimedPairResult {
        fail_time: at(60),
        success_time: at(60),
        ..r
    };
    assert!(!worth_reserving(Some(&r), &soon, at(60), &serve));
    // An amount that moved by more than 1 %, or a failure that went: re-served.
    let lower = TimedPairResult {
        fail_amt_msat: Msat(400_000_000),
        ..soon
    };
    assert!(worth_reserving(Some(&r), &lower, at(60), &serve));
    let no_fail = TimedPairResult {
        fail_time: Timestamp::ZERO,
        fail_amt_msat: Msat::ZERO,
        ..soon
    };
    assert!(worth_reserving(Some(&r), &no_fail, at(60), &serve));
}
