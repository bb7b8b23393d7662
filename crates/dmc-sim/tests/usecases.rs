//! The tutorial's use cases, replayed on the simulator, give what LND gave.

use dmc_core::{DirectedPair, FailureCode, Msat, NodeId, TimedPairResult};
use dmc_sim::scenario::{self, ALICE, BOB, CAROL};

fn node(h: &str) -> NodeId {
    NodeId::from_hex(h).unwrap()
}

fn pair(o: &scenario::ScenarioOutcome, from: &str, to: &str) -> TimedPairResult {
    o.sender
        .mc
        .state()
        .pair(&DirectedPair::new(node(from), node(to)))
        .copied()
        .unwrap_or_default()
}

#[test]
fn usecase1_two_payments_succeed() {
    let o = scenario::run("usecase1").unwrap();
    assert_eq!(o.payments.len(), 2);
    for p in &o.payments {
        assert!(p.succeeded, "{p:?}");
        assert_eq!(p.attempts(), 1);
        assert_eq!(p.failed_htlcs(), 0);
    }
    // Bob's fee: 1000 msat + 1 ppm.
    assert_eq!(o.payments[0].fee_msat, Msat(1005));
    assert_eq!(o.payments[1].fee_msat, Msat(1005));
    // Alice's MC after both: the highest amounts stay, no failures.
    let ab = pair(&o, ALICE, BOB);
    assert_eq!(ab.success_amt_msat, Msat(5_201_005));
    assert!(ab.fail_time.is_zero());
    let bc = pair(&o, BOB, CAROL);
    assert_eq!(bc.success_amt_msat, Msat(5_200_000));
    assert!(bc.fail_time.is_zero());
    assert_eq!(o.sender.mc.snapshot().len(), 2);
    // queryroutes --use_mc for 5200 and 5300 sat.
    assert_eq!(o.route_checks.len(), 2);
    assert_eq!(o.route_checks[0].success_prob, 0.9025);
    assert_eq!(o.route_checks[0].hop_fees_msat, vec![1005, 0]);
    assert_eq!(o.route_checks[1].success_prob, 0.5699999999999985);
    // The time lock LND printed in the tutorial: 249 + (40 + 3) + 40.
    assert_eq!(o.payments[1].htlcs[0].route.total_time_lock, 332);
}

#[test]
fn usecase1_after_first_payment() {
    // The first payment alone leaves 5 001 005 / 5 000 000, as the tutorial showed.
    let o = scenario::run("usecase1").unwrap();
    let first = &o.payments[0].htlcs[0];
    assert_eq!(first.route.total_amt_msat, Msat(5_001_005));
    assert_eq!(first.receiver_amt_msat(), Msat(5_000_000));
}

#[test]
fn usecase2_splits_times_out_and_fails_with_no_route() {
    let o = scenario::run("usecase2").unwrap();
    let p = &o.payments[0];
    assert!(!p.succeeded);
    assert_eq!(p.failure_reason, Some("FAILURE_REASON_NO_ROUTE"));
    // Split into shards below the full amount.
    assert!(p.htlcs.iter().all(|h| h.receiver_amt_msat() < Msat(50_000_000)));
    let codes: Vec<Option<FailureCode>> = p.htlcs.iter().map(|h| h.failure_code).collect();
    assert!(codes.contains(&Some(FailureCode::MppTimeout)), "{codes:?}");
    assert!(codes.contains(&Some(FailureCode::TemporaryChannelFailure)), "{codes:?}");
    // Temporary channel failures come from Bob (position 1), timeouts from Carol (2).
    for h in &p.htlcs {
        match h.failure_code {
            Some(FailureCode::TemporaryChannelFailure) => assert_eq!(h.failure_source_index, Some(1)),
            Some(FailureCode::MppTimeout) => assert_eq!(h.failure_source_index, Some(2)),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    // Alice's MC as in the tutorial: Alice→Bob success 25 001 025;
    // Bob→Carol success 25 000 000 and failure 25 000 001.
    let ab = pair(&o, ALICE, BOB);
    assert_eq!(ab.success_amt_msat, Msat(25_001_025));
    assert!(ab.fail_time.is_zero());
    let bc = pair(&o, BOB, CAROL);
    assert_eq!(bc.success_amt_msat, Msat(25_000_000));
    assert_eq!(bc.fail_amt_msat, Msat(25_000_001));
    // The success came with the MPP timeout, 120 s after the shard arrived.
    assert!(
        bc.success_time.sub(bc.fail_time) >= dmc_core::time::DurationNs(119_000_000_000),
        "{bc:?}"
    );
}

#[test]
fn json_report_has_the_documented_shape() {
    let o = scenario::run("usecase2").unwrap();
    let v: serde_json::Value = serde_json::from_str(&o.to_json().pretty()).unwrap();
    let p = &v["payments"][0];
    assert_eq!(p["amount_sat"], "50000");
    assert_eq!(p["status"], "FAILED");
    assert_eq!(p["failure_reason"], "FAILURE_REASON_NO_ROUTE");
    let h = &p["htlcs"][0];
    for k in [
        "state",
        "failure_code",
        "failure_source_index",
        "receiver_amt_msat",
        "fee_msat",
        "route",
    ] {
        assert!(h.get(k).is_some(), "htlc lacks {k}: {h}");
    }
    assert_eq!(v["querymc"]["pairs"].as_array().unwrap().len(), 2);
    assert!(o.to_text().contains("HTLC_STATE"));
}

#[test]
fn unknown_scenario() {
    assert!(scenario::run("usecase9").is_none());
}
