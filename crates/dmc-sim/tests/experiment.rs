//! The cold-versus-warm experiment on a small random network: deterministic,
//! balances conserved, and the report has the documented shape.

use dmc_core::NodeId;
use dmc_graph::{Graph, Policy};
use dmc_sim::experiment::{self, ExperimentParams};
use dmc_sim::rng::Rng;
use dmc_sim::{BalanceModel, Network};

fn random_graph(nodes: u32, channels: u32, seed: u64) -> Graph {
    let mut rng = Rng::new(seed);
    let key = |i: u32| {
        let mut k = [0u8; 33];
        k[0] = 2;
        k[1..5].copy_from_slice(&i.to_be_bytes());
        NodeId(k)
    };
    let mut g = Graph::default();
    for c in 0..channels {
        let a = rng.below(nodes as u64) as u32;
        let mut b = rng.below(nodes as u64) as u32;
        if a == b {
            b = (b + 1) % nodes;
        }
        let cap = rng.log_uniform(100_000, 10_000_000);
        let p = |rng: &mut Rng| Policy {
            time_lock_delta: 40,
            min_htlc_msat: 1000,
            max_htlc_msat: Some(cap * 990),
            fee_base_msat: rng.below(2000),
            fee_rate_ppm: rng.below(1000),
            disabled: false,
        };
        let (p1, p2) = (p(&mut rng), p(&mut rng));
        g.add_channel(c as u64 + 1, key(a), key(b), cap, Some(p1), Some(p2));
    }
    g
}

fn small_params() -> ExperimentParams {
    ExperimentParams {
        contributors: 6,
        payments_per_contributor: 15,
        wallet_payments: 20,
        seed: 3,
        ..ExperimentParams::default()
    }
}

#[test]
fn experiment_is_deterministic_and_reports_both_sides() {
    let g = random_graph(120, 600, 9);
    let params = small_params();
    let mut calls = 0;
    let a = experiment::run(&g, &params, &mut |_, _| calls += 1);
    assert_eq!(calls, 3 * (6 * 15 + 2 * 20), "progress must count every payment");
    let b = experiment::run(&g, &params, &mut |_, _| ());
    assert_eq!(a.len(), 3);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.cold, y.cold);
        assert_eq!(x.warm, y.warm);
        assert_eq!(x.cold.payments, 20);
        assert_eq!(x.warm.payments, 20);
        assert!(x.snapshot_pairs > 0, "contributors learned nothing");
        assert!((0.0..=1.0).contains(&x.cold.success_rate));
        assert!(x.cold.p95_attempts >= x.cold.mean_attempts.floor() - 1.0);
        assert_eq!(x.cold.attempts_histogram.iter().sum::<usize>(), 20);
    }
    let v: serde_json::Value = serde_json::from_str(&experiment::report_json(&a, &params).pretty()).unwrap();
    for model in ["uniform", "bimodal", "fixed"] {
        for side in ["cold", "warm"] {
            let s = &v["models"][model][side];
            for k in [
                "payments",
                "success_rate",
                "mean_attempts",
                "p95_attempts",
                "mean_failed_htlcs",
                "mean_fee_msat",
                "mean_time_s",
            ] {
                assert!(s[k].is_number(), "{model}.{side}.{k} missing: {s}");
            }
        }
    }
    assert_eq!(v["params"]["contributors"], 6);
    let svg = experiment::attempts_svg(&a);
    assert!(svg.starts_with("<svg") && svg.contains("warm"));
}

#[test]
fn payments_conserve_money() {
    use dmc_core::{MissionControlConfig, Timestamp};
    use dmc_graph::pathfind::RoutingGraph;
    let g = random_graph(80, 400, 4);
    let mut net = Network::new(g.clone(), BalanceModel::Uniform, 5);
    let routing = RoutingGraph::new(&g);
    let total = net.total_balance_msat();
    let mut rng = Rng::new(11);
    let mut clock = Timestamp::from_unix_secs(1_700_000_000);
    let cfg = dmc_sim::SimConfig::default();
    let mut sender = dmc_sim::Sender::new(*g.node(0), MissionControlConfig::default());
    let mut ok = 0;
    for _ in 0..40 {
        let dest = *g.node(1 + rng.below(g.node_count() as u64 - 1) as u32);
        let r = dmc_sim::pay(
            &mut net,
            &routing,
            &mut sender,
            dest,
            rng.log_uniform(1_000, 300_000) * 1000,
            &cfg,
            &mut clock,
        );
        ok += usize::from(r.succeeded);
        // Every HTLC ends resolved, never pending.
        assert!(r.htlcs.iter().all(|h| h.succeeded || h.failure_code.is_some()));
        assert_eq!(net.total_balance_msat(), total, "money created or destroyed");
    }
    assert!(ok > 0, "no payment succeeded");
    assert!(!sender.mc.snapshot().is_empty());
}
