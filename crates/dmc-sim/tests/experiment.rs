//! The cold-versus-warm experiment on a small random network: deterministic
//! whatever the thread count, arms paired, balances conserved, and the report
//! has the documented shape.

use dmc_core::{Msat, NodeId, Sat};
use dmc_graph::{Graph, Policy};
use dmc_sim::experiment::{self, ExperimentParams, WalletProfile, WarmupParams};
use dmc_sim::rng::Rng;
use dmc_sim::traffic::{Balances, TrafficParams};
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
            min_htlc_msat: Msat(1000),
            max_htlc_msat: Some(Msat(cap * 990)),
            fee_base_msat: Msat(rng.below(2000)),
            fee_rate_ppm: rng.below(1000),
            disabled: false,
        };
        let (p1, p2) = (p(&mut rng), p(&mut rng));
        g.add_channel(c as u64 + 1, key(a), key(b), Sat(cap), Some(p1), Some(p2));
    }
    g
}

fn small_params() -> ExperimentParams {
    let traffic = TrafficParams {
        payments_per_hour: 3000.0,
        min_amount_sat: 1_000,
        max_amount_sat: 50_000,
        ..TrafficParams::default()
    };
    ExperimentParams {
        seed: 3,
        seeds: 2,
        threads: 2,
        balances: vec![
            Balances::Flowing {
                initial: BalanceModel::Bimodal {
                    scale_msat: Msat(300_000_000),
                },
                traffic,
            },
            Balances::Static(BalanceModel::Uniform),
        ],
        wallets: vec![
            WalletProfile {
                payments: (6, 9),
                ..WalletProfile::mobile()
            },
            WalletProfile {
                payments: (12, 12),
                ..WalletProfile::routing()
            },
        ],
        contributors: 6,
        contributor_payments_per_hour: 6.0,
        contributor_hours: 2.0,
        wallet_hours: 2.0,
        warmup: WarmupParams {
            window_s: 3600,
            ks_threshold: 0.02,
            min_windows: 2,
            max_windows: 4,
        },
        bootstrap_reps: 200,
        ..ExperimentParams::default()
    }
}

#[test]
fn experiment_is_deterministic_paired_and_reports_the_schema() {
    let g = random_graph(150, 700, 9);
    let params = small_params();
    let mut calls = 0;
    let a = experiment::run(&g, &params, &mut |_, _| calls += 1).unwrap();
    assert!(calls > 0, "progress is reported");
    // One thread or two: the same worlds.
    let b = experiment::run(
        &g,
        &ExperimentParams {
            threads: 1,
            ..params.clone()
        },
        &mut |_, _| (),
    )
    .unwrap();
    assert_eq!(a, b, "a run depends on its seeds only");
    assert_eq!(a.len(), 4, "2 balances x 2 seeds");
    for world in &a {
        assert_eq!(world.wallets.len(), 4, "2 wallets x 2 estimators");
        assert!(world.contributor_payments > 0);
        assert!(world.dmc_pairs > 0 && world.go_pairs > 0, "contributors shared nothing");
        if world.balances == "flowing" {
            assert!(world.background.settled > 0 && !world.warmup.is_empty());
        } else {
            assert_eq!(world.background.payments, 0);
        }
        for w in &world.wallets {
            let n = w.feasible.len();
            assert!(n > 0);
            assert!(w.outcomes.iter().all(|o| o.len() == n), "arms pay the same payments");
            assert!(w.imported[0] > 0, "the warm wallet imported nothing");
            // The model's arms paid too, and the model served its wallets something.
            assert_eq!(w.outcomes.len(), experiment::ARMS.len());
            // Knowing every balance, a settled payment never fails an HTLC.
            for o in &w.outcomes[3] {
                if o.succeeded {
                    assert_eq!(o.failed_htlcs, 0, "{o:?}");
                }
            }
            // Before any arm has paid, the views agree: what the oracle settles is feasible.
            if w.outcomes[3][0].succeeded {
                assert!(w.feasible[0]);
            }
        }
    }

    let v: serde_json::Value = serde_json::from_str(&experiment::report_json(&a, &params).pretty()).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 8, "2 balances x 2 wallets x 2 estimators");
    for r in results {
        assert!(["flowing", "uniform"].contains(&r["balances"].as_str().unwrap()));
        assert!(["mobile", "routing"].contains(&r["wallet"].as_str().unwrap()));
        assert!(["apriori", "bimodal"].contains(&r["estimator"].as_str().unwrap()));
        assert!(r["liars"].is_null());
        let share = r["infeasible_share"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&share));
        for sub in ["all", "feasible", "infeasible", "first_10", "first_20"] {
            let s = &r["subsets"][sub];
            assert!(s["payments"].is_number(), "{sub}: {s}");
            for arm in experiment::ARMS {
                for k in [
                    "failed_htlcs_per_payment",
                    "success_rate",
                    "time_to_pay_s",
                    "fee_msat",
                    "attempts_per_payment",
                    "fee_msat_per_settled",
                ] {
                    let stat = &s["arms"][arm][k];
                    // Only a subset without payments, or without a settled one, has no statistic.
                    if s["payments"] == 0 || (k == "fee_msat_per_settled" && stat.is_null()) {
                        assert!(stat.is_null() || k == "fee_msat_per_settled", "{sub}.{arm}.{k}: {stat}");
                        continue;
                    }
                    let mean = stat["mean"]
                        .as_f64()
                        .unwrap_or_else(|| panic!("{sub}.{arm}.{k}: {stat}"));
                    let ci = stat["ci95"].as_array().unwrap();
                    let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
                    assert!(lo <= mean + 1e-9 && mean <= hi + 1e-9, "{sub}.{arm}.{k}: {stat}");
                }
            }
            for k in ["failed_htlcs_per_payment", "time_to_pay_s"] {
                let g = &s["gap_closed"][k];
                assert!(g.is_null() || g["mean"].is_number(), "{g}");
                for arm in ["warm", "newest_wins", "model", "model_no_settled"] {
                    let g = &s["gap_closed"]["by_arm"][arm][k];
                    assert!(g.is_null() || g["mean"].is_number(), "{arm}: {g}");
                }
                assert_eq!(
                    s["gap_closed"]["by_arm"]["warm"][k], s["gap_closed"][k],
                    "the warm arm's gap, twice"
                );
            }
            for d in ["model_minus_cold", "model_minus_warm", "model_no_shape_minus_model"] {
                assert!(s["differences"][d].is_object(), "{sub}: {d}");
            }
        }
        let all = r["subsets"]["all"]["payments"].as_u64().unwrap();
        let f = r["subsets"]["feasible"]["payments"].as_u64().unwrap();
        let i = r["subsets"]["infeasible"]["payments"].as_u64().unwrap();
        assert_eq!(all, f + i);
    }
    assert_eq!(v["params"]["contributors"], 6);
    assert_eq!(v["worlds"].as_array().unwrap().len(), 4);
    let fig = experiment::learning_figure(&a, &params);
    // A graph with nowhere to pay is refused, not a panic or a hang.
    let mut lonely = Graph::default();
    let p = |disabled| Policy {
        time_lock_delta: 40,
        min_htlc_msat: Msat(1),
        max_htlc_msat: None,
        fee_base_msat: Msat(0),
        fee_rate_ppm: 0,
        disabled,
    };
    lonely.add_channel(
        1,
        g.node(0).to_owned(),
        g.node(1).to_owned(),
        Sat(100_000),
        Some(p(true)),
        None,
    );
    assert!(experiment::run(&lonely, &params, &mut |_, _| ()).is_err());
    assert!(experiment::run(&Graph::default(), &params, &mut |_, _| ()).is_err());
    assert_eq!(fig.panels.len(), 8);
    assert!(dmc_sim::plot::render_svg(&fig).starts_with("<svg"));
}

/// Liars change what the coordinators serve and nothing else: the world,
/// the cold and oracle wallets' payments are those of the honest run.
#[test]
fn liars_lie_to_the_coordinators_only() {
    use dmc_sim::liars::{LiarParams, Lie};
    let g = random_graph(150, 700, 9);
    let params = ExperimentParams {
        seeds: 1,
        balances: vec![Balances::Static(BalanceModel::Uniform)],
        ..small_params()
    };
    let honest = experiment::run(&g, &params, &mut |_, _| ()).unwrap();
    assert_eq!(honest[0].liars, 0);
    assert_eq!(honest[0].liar_reputation, None);
    for kind in Lie::ALL {
        let lying = ExperimentParams {
            liars: Some(LiarParams { fraction: 0.5, kind }),
            ..params.clone()
        };
        let run = experiment::run(&g, &lying, &mut |_, _| ()).unwrap();
        let (h, l) = (&honest[0], &run[0]);
        assert_eq!(l.liars, 3, "{kind:?}: half of 6 contributors, all established here");
        assert_eq!(l.contributor_payments, h.contributor_payments, "{kind:?}");
        for (hw, lw) in h.wallets.iter().zip(&l.wallets) {
            assert_eq!(hw.feasible, lw.feasible, "{kind:?}");
            assert_eq!(hw.outcomes[0], lw.outcomes[0], "{kind:?}: cold paid differently");
            assert_eq!(hw.outcomes[3], lw.outcomes[3], "{kind:?}: oracle paid differently");
        }
        // The extra pairs of blackhole and fake-capacity reach the Go store,
        // which keeps everything it is sent.
        if kind != Lie::Inverted {
            assert!(l.go_pairs > h.go_pairs, "{kind:?}: {} vs {}", l.go_pairs, h.go_pairs);
        }
        // Lies are re-stamped every tick, so the Go rule keeps serving them
        // as new and the newest_wins wallets import more.
        let imported = |w: &[experiment::WalletRun]| w.iter().map(|w| w.imported[1]).sum::<usize>();
        assert!(
            imported(&l.wallets) > imported(&h.wallets),
            "{kind:?}: the lies reached no wallet"
        );
        let v: serde_json::Value = serde_json::from_str(&experiment::report_json(&run, &lying).pretty()).unwrap();
        let want = serde_json::json!({"fraction": 0.5, "kind": kind.name()});
        assert_eq!(v["params"]["liars"], want);
        assert!(v["results"].as_array().unwrap().iter().all(|r| r["liars"] == want));
        assert_eq!(v["worlds"][0]["liars"]["count"], 3);
    }
}

#[test]
fn an_overlay_keeps_the_world_unchanged_and_remembers_its_own_payments() {
    use dmc_core::{MissionControlConfig, Timestamp};
    use dmc_graph::pathfind::RoutingGraph;
    use dmc_sim::network::Overlay;
    let g = random_graph(60, 300, 2);
    let mut net = Network::new(g.clone(), BalanceModel::Uniform, 5);
    let routing = RoutingGraph::new(&g);
    let before: Vec<[Msat; 2]> = (0..g.channel_count() as u32).map(|c| net.balances(c)).collect();
    let cfg = dmc_sim::SimConfig::default();
    let mut sender = dmc_sim::Sender::new(*g.node(0), MissionControlConfig::default());
    let mut overlay = Overlay::new();
    let mut clock = Timestamp::from_unix_secs(1_700_000_000);
    let mut settled = 0;
    for d in 1..20u32 {
        let r = net.with_overlay(&mut overlay, |n| {
            dmc_sim::pay(n, &routing, &mut sender, *g.node(d), Msat(20_000_000), &cfg, &mut clock)
        });
        settled += usize::from(r.succeeded);
    }
    assert!(settled > 0);
    let after: Vec<[Msat; 2]> = (0..g.channel_count() as u32).map(|c| net.balances(c)).collect();
    assert_eq!(before, after, "the world moved");
    assert!(!overlay.is_empty(), "the sender's own payments were forgotten");
    // What the overlay holds is what the payments moved: node 0 spent what it paid.
    let n0 = g.node_index(g.node(0)).unwrap();
    let spent: i64 = g
        .channels()
        .iter()
        .enumerate()
        .filter_map(|(ci, ch)| {
            let d = *overlay.get(&(ci as u32))?;
            if ch.node1 == n0 {
                Some(-d)
            } else if ch.node2 == n0 {
                Some(d)
            } else {
                None
            }
        })
        .sum();
    assert!(spent >= settled as i64 * 20_000_000, "{spent}");
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
            Sat(rng.log_uniform(1_000, 300_000)).to_msat_saturating(),
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
