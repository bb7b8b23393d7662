//! LND's pathfinding selection vectors (spec §5; lnd routing/pathfind_test.go
//! `runProbabilityRouting`) and route-building checks.

use dmc_core::{Msat, NodeId, Sat};
use dmc_graph::pathfind::{find_path, new_route, Certain, PathError, PathFindingConfig, RouteRequest, RoutingGraph};
use dmc_graph::{Graph, Policy};

fn node(b: u8) -> NodeId {
    dmc_testkit::keys::fake_node(2, &[], b)
}

fn policy(delta: u16, base_sat: u64, min_htlc: u64) -> Policy {
    Policy {
        time_lock_delta: delta,
        min_htlc_msat: Msat(min_htlc),
        max_htlc_msat: None,
        fee_base_msat: Sat(base_sat).to_msat().unwrap(),
        fee_rate_ppm: 0,
        disabled: false,
    }
}

const ROASBEEF: u8 = 1;
const A1: u8 = 2;
const A2: u8 = 3;
const B: u8 = 4;
const TARGET: u8 = 5;

/// Two routes to the target: roasbeef→a1→a2→target (fees 5 + 8 sat, delta
/// 144) and roasbeef→b→target (fee 25 sat, delta 100).
fn test_graph() -> Graph {
    let mut g = Graph::default();
    let mut sym =
        |id: u64, a: u8, b: u8, p: Policy| g.add_channel(id, node(a), node(b), Sat(100_000), Some(p), Some(p));
    sym(1, ROASBEEF, A1, policy(0, 0, 0));
    sym(2, ROASBEEF, B, policy(0, 0, 0));
    sym(10, A1, A2, policy(144, 5, 1));
    sym(11, A2, TARGET, policy(144, 8, 1));
    sym(20, B, TARGET, policy(100, 25, 1));
    g
}

fn run(amount_sat: u64, time_pref: f64, p10: f64, p11: f64, p20: f64, min_probability: f64) -> Result<u64, PathError> {
    let g = test_graph();
    let rg = RoutingGraph::new(&g);
    let mut req = RouteRequest::new(
        Some(node(ROASBEEF)),
        node(ROASBEEF),
        node(TARGET),
        Sat(amount_sat).to_msat().unwrap(),
    );
    req.time_pref = time_pref;
    let cfg = PathFindingConfig {
        attempt_cost_msat: Msat(9_000),
        attempt_cost_ppm: 10_000,
        min_probability,
    };
    let mut prob = |from: &NodeId, to: &NodeId, amt: Msat, _cap: Sat| {
        assert!(amt > Msat(0));
        match (from.0[1], to.0[1]) {
            (A1, A2) => p10,
            (A2, TARGET) => p11,
            (B, TARGET) => p20,
            _ => 1.0,
        }
    };
    let (path, _) = find_path(&rg, &req, &cfg, &mut prob)?;
    Ok(path[1].chan_id)
}

#[test]
fn three_hop_wins_on_distance() {
    // 13 000 + 10 000 / 0.4 = 38 000 beats 25 000 + 10 000 / 0.7 = 39 285.
    assert_eq!(run(100, 0.0, 0.8, 0.5, 0.7, 0.1), Ok(10));
    assert_eq!(run(100, 0.0, 0.5, 0.8, 0.7, 0.1), Ok(10));
}

#[test]
fn time_preference_buys_reliability() {
    assert_eq!(run(100, 1.0, 0.5, 0.8, 0.7, 0.1), Ok(20));
}

#[test]
fn larger_amounts_raise_the_attempt_cost() {
    // Attempt cost 12 000: 43 000 vs 42 142.
    assert_eq!(run(300, 0.0, 0.8, 0.5, 0.7, 0.1), Ok(20));
}

#[test]
fn higher_probability_compensates_fees() {
    assert_eq!(run(100, 0.0, 0.5, 0.8, 0.85, 0.1), Ok(20));
}

#[test]
fn min_probability_prunes() {
    assert_eq!(run(100, 0.0, 0.8, 0.5, 0.7, 0.5), Ok(20));
    assert_eq!(run(100, 0.0, 0.8, 0.5, 0.7, 0.8), Err(PathError::NoRoute));
}

#[test]
fn route_amounts_fees_and_time_locks() {
    let g = test_graph();
    let rg = RoutingGraph::new(&g);
    let mut req = RouteRequest::new(Some(node(ROASBEEF)), node(ROASBEEF), node(TARGET), Msat(100_000));
    req.block_height = 1000;
    // Always probability 1: the cheaper two-hop... no: fees 13 sat < 25 sat.
    let (path, p) = find_path(&rg, &req, &PathFindingConfig::default(), &mut Certain).unwrap();
    assert_eq!(p, 1.0);
    let ids: Vec<u64> = path.iter().map(|e| e.chan_id).collect();
    assert_eq!(ids, vec![1, 10, 11]);
    let r = new_route(&g, node(ROASBEEF), &path, 1000, Msat(100_000), 80, None);
    let amts: Vec<u64> = r.hops.iter().map(|h| h.amt_to_forward_msat.0).collect();
    assert_eq!(amts, vec![108_000, 100_000, 100_000]);
    let fees: Vec<u64> = r.hops.iter().map(|h| h.fee_msat.0).collect();
    assert_eq!(fees, vec![5_000, 8_000, 0]);
    let expiries: Vec<u32> = r.hops.iter().map(|h| h.expiry).collect();
    assert_eq!(expiries, vec![1080 + 144, 1080, 1080]);
    assert_eq!(r.total_time_lock, 1080 + 144 + 144);
    assert_eq!(r.total_amt_msat, Msat(113_000));
    assert_eq!(r.total_fees_msat(), Msat(13_000));
}

#[test]
fn restrictions_are_honoured() {
    let g = test_graph();
    let rg = RoutingGraph::new(&g);
    let cfg = PathFindingConfig::default();
    let one = &mut Certain;
    // Fee limit below the 13-sat route and the 25-sat route.
    let mut req = RouteRequest::new(Some(node(ROASBEEF)), node(ROASBEEF), node(TARGET), Msat(100_000));
    req.fee_limit_msat = Msat(12_999);
    assert_eq!(find_path(&rg, &req, &cfg, one).err(), Some(PathError::NoRoute));
    // Only channel 2 may leave us: the route goes through b.
    let mut req = RouteRequest::new(Some(node(ROASBEEF)), node(ROASBEEF), node(TARGET), Msat(100_000));
    req.outgoing_chan_ids = vec![2];
    assert_eq!(find_path(&rg, &req, &cfg, one).unwrap().0[0].chan_id, 2);
    // Last hop b.
    let mut req = RouteRequest::new(Some(node(ROASBEEF)), node(ROASBEEF), node(TARGET), Msat(100_000));
    req.last_hop = Some(node(B));
    assert_eq!(find_path(&rg, &req, &cfg, one).unwrap().0[1].chan_id, 20);
    // CLTV limit of 200 blocks excludes 144 + 144 but allows 100.
    let mut req = RouteRequest::new(Some(node(ROASBEEF)), node(ROASBEEF), node(TARGET), Msat(100_000));
    req.cltv_limit = 200;
    assert_eq!(find_path(&rg, &req, &cfg, one).unwrap().0[1].chan_id, 20);
    // More than our channels hold.
    let req = RouteRequest::new(Some(node(ROASBEEF)), node(ROASBEEF), node(TARGET), Msat(300_000_000));
    assert!(matches!(
        find_path(&rg, &req, &cfg, one),
        Err(PathError::InsufficientBalance { .. })
    ));
    // Ignoring a pair (probability 0) removes the edge.
    let mut no_a2 = |f: &NodeId, _: &NodeId, _: Msat, _: Sat| if f.0[1] == A2 { 0.0 } else { 1.0 };
    let req = RouteRequest::new(Some(node(ROASBEEF)), node(ROASBEEF), node(TARGET), Msat(100_000));
    assert_eq!(find_path(&rg, &req, &cfg, &mut no_a2).unwrap().0[1].chan_id, 20);
}

#[test]
fn mpp_splits_by_halving() {
    use dmc_graph::pathfind::split_payment;
    // Two 100 000-sat local channels; 150 000 sat cannot pass one of them.
    let g = test_graph();
    let rg = RoutingGraph::new(&g);
    let mut req = RouteRequest::new(Some(node(ROASBEEF)), node(ROASBEEF), node(TARGET), Msat(150_000_000));
    req.fee_limit_msat = Msat(150_000_000);
    let shards = split_payment(
        &rg,
        &req,
        &PathFindingConfig::default(),
        &mut Certain,
        16,
        Msat(10_000_000),
    )
    .unwrap();
    let amts: Vec<u64> = shards
        .iter()
        .map(|s| s.route.hops.last().unwrap().amt_to_forward_msat.0)
        .collect();
    assert_eq!(amts.iter().sum::<u64>(), 150_000_000);
    assert_eq!(amts, vec![75_000_000, 75_000_000]);
    assert!(shards.iter().all(|s| s.route.mpp_total_msat == Some(Msat(150_000_000))));
    // The two shards leave through different channels: the first used up the bandwidth.
    assert_ne!(shards[0].route.hops[0].chan_id, shards[1].route.hops[0].chan_id);
    // With at most one part there is nothing to split into.
    assert_eq!(
        split_payment(
            &rg,
            &req,
            &PathFindingConfig::default(),
            &mut Certain,
            1,
            Msat(10_000_000)
        ),
        Err(PathError::NoRoute)
    );
}

/// A graph file may announce any fee: a rate of u64::MAX ppm or a base fee
/// near u64::MAX must neither overflow (a panic in debug builds, a wrong
/// fee in release) nor be chosen; the honest route still wins.
#[test]
fn absurd_fees_do_not_overflow() {
    let mut g = test_graph();
    let mut greedy = policy(10, 0, 1);
    greedy.fee_rate_ppm = u64::MAX;
    g.add_channel(30, node(ROASBEEF), node(9), Sat(100_000), Some(greedy), Some(greedy));
    g.add_channel(31, node(9), node(TARGET), Sat(100_000), Some(greedy), Some(greedy));
    let mut base = policy(10, 0, 1);
    base.fee_base_msat = Msat(u64::MAX - 5);
    g.add_channel(32, node(A1), node(TARGET), Sat(100_000), Some(base), Some(base));
    let rg = RoutingGraph::new(&g);
    for fee_limit in [u64::MAX, 1_000_000] {
        let mut req = RouteRequest::new(Some(node(ROASBEEF)), node(ROASBEEF), node(TARGET), Msat(1_000_000));
        req.fee_limit_msat = Msat(fee_limit);
        let mut prob = |_: &NodeId, _: &NodeId, _: Msat, _: Sat| 0.9;
        let (path, _) = find_path(&rg, &req, &PathFindingConfig::default(), &mut prob).expect("a route");
        assert!(path.iter().all(|e| e.chan_id < 30), "fee limit {fee_limit}: {path:?}");
    }
}

/// QueryRoutes' ignore lists: an ignored node or directed pair never
/// routes; every other hop gets the wrapped estimate.
#[test]
fn ignoring_nodes_and_pairs_wraps_the_estimate() {
    use dmc_graph::pathfind::Ignoring;
    let g = test_graph();
    let rg = RoutingGraph::new(&g);
    let cfg = PathFindingConfig::default();
    let req = RouteRequest::new(Some(node(ROASBEEF)), node(ROASBEEF), node(TARGET), Msat(100_000));
    let mut certain = Certain;
    let mut no_a2 = Ignoring {
        nodes: vec![node(A2)],
        pairs: Vec::new(),
        estimate: &mut certain,
    };
    assert_eq!(find_path(&rg, &req, &cfg, &mut no_a2).unwrap().0[1].chan_id, 20);
    let mut no_b_target = Ignoring {
        nodes: Vec::new(),
        pairs: vec![(node(B), node(TARGET))],
        estimate: &mut certain,
    };
    let (path, p) = find_path(&rg, &req, &cfg, &mut no_b_target).unwrap();
    assert_eq!((path[1].chan_id, p), (10, 1.0));
}
