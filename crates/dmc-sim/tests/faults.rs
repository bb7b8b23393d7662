//! Failures other than liquidity, as the simulator injects them, come back
//! with LND's codes and positions and end payments as LND would.

use dmc_core::{FailureCode, MissionControlConfig, Msat, NodeId, Sat, Timestamp};
use dmc_graph::pathfind::RoutingGraph;
use dmc_graph::{Graph, Policy};
use dmc_sim::network::HopFault;
use dmc_sim::scenario::{ALICE, BOB, CAROL, CHAN_ALICE_BOB, CHAN_BOB_CAROL};
use dmc_sim::{pay, BalanceModel, Network, Sender, SimConfig};

fn node(h: &str) -> NodeId {
    NodeId::from_hex(h).unwrap()
}

fn policy() -> Policy {
    Policy {
        time_lock_delta: 40,
        min_htlc_msat: Msat(1000),
        max_htlc_msat: None,
        fee_base_msat: Msat(1000),
        fee_rate_ppm: 1,
        disabled: false,
    }
}

fn setup() -> (Graph, Network) {
    let mut g = Graph::default();
    g.add_channel(
        CHAN_ALICE_BOB,
        node(ALICE),
        node(BOB),
        Sat(100_000),
        Some(policy()),
        Some(policy()),
    );
    g.add_channel(
        CHAN_BOB_CAROL,
        node(BOB),
        node(CAROL),
        Sat(100_000),
        Some(policy()),
        Some(policy()),
    );
    let net = Network::new(g.clone(), BalanceModel::Fixed { node1_fraction: 0.5 }, 1);
    (g, net)
}

fn run(net: &mut Network, g: &Graph, times: usize) -> (Vec<dmc_sim::PaymentRecord>, Sender) {
    let routing = RoutingGraph::new(g);
    let mut sender = Sender::new(node(ALICE), MissionControlConfig::default());
    let mut clock = Timestamp::from_unix_secs(1_700_000_000);
    let records = (0..times)
        .map(|_| {
            pay(
                net,
                &routing,
                &mut sender,
                node(CAROL),
                Msat(10_000_000),
                &SimConfig::default(),
                &mut clock,
            )
        })
        .collect();
    (records, sender)
}

#[test]
fn closed_channel_answers_unknown_next_peer() {
    let (g, mut net) = setup();
    net.set_fault(CHAN_BOB_CAROL, HopFault::Closed);
    let (records, sender) = run(&mut net, &g, 1);
    let p = &records[0];
    assert!(!p.succeeded);
    assert_eq!(p.htlcs[0].failure_code, Some(FailureCode::UnknownNextPeer));
    assert_eq!(p.htlcs[0].failure_source_index, Some(1));
    // Bob→Carol is penalised in both directions at amount 0; no route is left.
    assert_eq!(p.failure_reason, Some("FAILURE_REASON_NO_ROUTE"));
    let bc = sender.mc.pair_history(&node(BOB), &node(CAROL));
    assert!(!bc.fail_time.is_zero() && bc.fail_amt_msat == Msat(0));
}

/// A forwarding node enforcing an absurd rate: the fee it requires is
/// computed as pathfinding computes it (`Policy::fee`, capped at 21 M BTC)
/// instead of overflowing `u64`, so the HTLC fails with FeeInsufficient.
#[test]
fn absurd_enforced_fee_rate_fails_the_htlc_without_overflow() {
    let (g, mut net) = setup();
    net.change_policy(
        CHAN_BOB_CAROL,
        &node(BOB),
        Policy {
            fee_rate_ppm: u64::MAX,
            ..policy()
        },
    );
    let (records, _) = run(&mut net, &g, 1);
    let first = &records[0].htlcs[0];
    assert_eq!(
        (first.failure_code, first.failure_source_index),
        (Some(FailureCode::FeeInsufficient), Some(1))
    );
    assert!(!records[0].succeeded);
}

#[test]
fn changed_fee_gets_a_second_chance_then_counts() {
    let (g, mut net) = setup();
    net.change_policy(
        CHAN_BOB_CAROL,
        &node(BOB),
        Policy {
            fee_base_msat: Msat(50_000),
            ..policy()
        },
    );
    let (records, sender) = run(&mut net, &g, 1);
    let p = &records[0];
    let codes: Vec<_> = p
        .htlcs
        .iter()
        .map(|h| (h.failure_code, h.failure_source_index))
        .collect();
    // First failure: second chance, nothing recorded, LND retries the same
    // route; the second within a minute is applied (node failure of Bob, p = 1).
    assert_eq!(codes[0], (Some(FailureCode::FeeInsufficient), Some(1)));
    assert_eq!(codes[1], (Some(FailureCode::FeeInsufficient), Some(1)));
    assert!(!p.succeeded);
    let ab = sender.mc.pair_history(&node(ALICE), &node(BOB));
    assert!(
        !ab.fail_time.is_zero(),
        "the second report must fail Alice→Bob (incoming of p = 1)"
    );
}

#[test]
fn wrong_payment_details_end_the_payment() {
    let (g, mut net) = setup();
    net.rejecting_receivers.push(node(CAROL));
    let total = net.total_balance_msat();
    let (records, sender) = run(&mut net, &g, 1);
    let p = &records[0];
    assert_eq!(p.failure_reason, Some("FAILURE_REASON_INCORRECT_PAYMENT_DETAILS"));
    assert_eq!(p.attempts(), 1);
    assert_eq!(
        p.htlcs[0].failure_code,
        Some(FailureCode::IncorrectOrUnknownPaymentDetails)
    );
    assert_eq!(p.htlcs[0].failure_source_index, Some(2));
    // The route worked: both pairs record a success.
    assert_eq!(
        sender.mc.pair_history(&node(BOB), &node(CAROL)).success_amt_msat,
        Msat(10_000_000)
    );
    assert_eq!(net.total_balance_msat(), total);
}

#[test]
fn successful_payments_move_balances() {
    let (g, mut net) = setup();
    let (records, _) = run(&mut net, &g, 3);
    assert!(records.iter().all(|r| r.succeeded));
    let spendable = net.local_bandwidth(&node(CAROL));
    // Carol started with half of 100 000 sat and received 3 × 10 000 sat.
    assert_eq!(spendable[&CHAN_BOB_CAROL], Msat(50_000_000 + 30_000_000));
}

/// The oracle's probability is the forwarding rule: a parallel channel
/// whose `htlc_maximum` is below the shard does not count as liquidity.
#[test]
fn oracle_counts_only_channels_that_can_forward_the_shard() {
    let (s, a, b) = (node(ALICE), node(BOB), node(CAROL));
    let mut g = Graph::default();
    let limited = |max_sat: u64| Policy {
        max_htlc_msat: Sat(max_sat).to_msat(),
        ..policy()
    };
    g.add_channel(1, s, a, Sat(1_000_000), Some(policy()), Some(policy()));
    g.add_channel(2, a, b, Sat(1_000_000), Some(limited(1_000_000)), Some(policy()));
    g.add_channel(3, a, b, Sat(1_000_000), Some(limited(20_000)), Some(policy()));
    let mut net = Network::new(g.clone(), BalanceModel::Fixed { node1_fraction: 0.5 }, 0);
    net.set_balance(1, &s, Msat(1_000_000_000));
    net.set_balance(2, &a, Msat(0)); // the big channel is empty
    net.set_balance(3, &a, Msat(1_000_000_000)); // the small one is full
    let routing = RoutingGraph::new(&g);
    let cfg = SimConfig::default();
    let mut oracle = Sender::new(s, MissionControlConfig::default());
    oracle.oracle = true;
    let mut clock = Timestamp::from_unix_secs(1_700_000_000);
    // 50 000 sat in one part: no channel can forward it from A to B, so no HTLC is sent.
    let single = SimConfig {
        max_parts: 1,
        ..SimConfig::default()
    };
    let r = pay(
        &mut net,
        &routing,
        &mut oracle,
        b,
        Msat(50_000_000),
        &single,
        &mut clock,
    );
    assert!(!r.succeeded);
    assert_eq!(
        r.failed_htlcs(),
        0,
        "the oracle sent an HTLC that could not pass: {r:?}"
    );
    // With MPP it splits into shards the small channel carries, and none fails.
    let r = pay(&mut net, &routing, &mut oracle, b, Msat(50_000_000), &cfg, &mut clock);
    assert!(r.succeeded, "{r:?}");
    assert_eq!(r.failed_htlcs(), 0, "{r:?}");
    assert!(r.htlcs.iter().all(|h| h.receiver_amt_msat() <= Msat(20_000_000)));
    // 10 000 sat: the small channel carries it, whichever channel the route names.
    let r = pay(&mut net, &routing, &mut oracle, b, Msat(10_000_000), &cfg, &mut clock);
    assert!(r.succeeded, "{r:?}");
    assert_eq!(r.failed_htlcs(), 0);
    // A sender without the oracle learns the same the hard way.
    let mut cold = Sender::new(s, MissionControlConfig::default());
    let r = pay(&mut net, &routing, &mut cold, b, Msat(50_000_000), &single, &mut clock);
    assert!(r.failed_htlcs() > 0, "{r:?}");
}

/// An offline node fails HTLCs at the hop before it until gossip disables
/// its channels; then pathfinding no longer tries it.
#[test]
fn offline_node_fails_with_unknown_next_peer_until_gossip_disables_it() {
    let (s, a, b) = (node(ALICE), node(BOB), node(CAROL));
    let c = node("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
    let h = node("02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5");
    let mut g = Graph::default();
    // S - H, then H - A - B (cheap) or H - C - B (dear): A is tried first.
    let cheap = policy();
    let dear = Policy {
        fee_base_msat: Msat(50_000),
        ..policy()
    };
    g.add_channel(1, s, h, Sat(1_000_000), Some(cheap), Some(cheap));
    g.add_channel(2, h, a, Sat(1_000_000), Some(cheap), Some(cheap));
    g.add_channel(3, a, b, Sat(1_000_000), Some(cheap), Some(cheap));
    g.add_channel(4, h, c, Sat(1_000_000), Some(dear), Some(dear));
    g.add_channel(5, c, b, Sat(1_000_000), Some(dear), Some(dear));
    let mut net = Network::new(g.clone(), BalanceModel::Fixed { node1_fraction: 0.5 }, 0);
    for (chan, from) in [(1, s), (2, h), (3, a), (4, h), (5, c)] {
        net.set_balance(chan, &from, Msat(1_000_000_000));
    }
    let routing = RoutingGraph::new(&g);
    let cfg = SimConfig::default();
    let a_idx = g.node_index(&a).unwrap();
    net.set_offline(a_idx, true);
    let mut clock = Timestamp::from_unix_secs(1_700_000_000);
    let mut sender = Sender::new(s, MissionControlConfig::default());
    let r = pay(&mut net, &routing, &mut sender, b, Msat(10_000_000), &cfg, &mut clock);
    assert!(r.succeeded, "{r:?}");
    assert_eq!(r.htlcs[0].failure_code, Some(FailureCode::UnknownNextPeer));
    assert_eq!(r.htlcs[0].failure_source_index, Some(1), "A's predecessor H answers");
    assert_eq!(r.htlcs[1].route.hops[1].pub_key, c);
    // Once gossip says A's channels are disabled, a fresh sender goes around it at once.
    net.set_gossip_disabled(a_idx, true);
    let mut fresh = Sender::new(s, MissionControlConfig::default());
    let r = pay(&mut net, &routing, &mut fresh, b, Msat(10_000_000), &cfg, &mut clock);
    assert!(r.succeeded && r.failed_htlcs() == 0, "{r:?}");
    // The oracle knows before gossip does.
    net.set_gossip_disabled(a_idx, false);
    let mut oracle = Sender::new(s, MissionControlConfig::default());
    oracle.oracle = true;
    let r = pay(&mut net, &routing, &mut oracle, b, Msat(10_000_000), &cfg, &mut clock);
    assert!(r.succeeded && r.failed_htlcs() == 0, "{r:?}");
}
