//! The feasibility ceiling on a real graph: the share of random node pairs for which a payment could be
//! delivered at all, with full knowledge of uniformly drawn balances (see `dmc_sim::flow`).
//!
//! ```text
//! cargo run --release -p dmc-sim --example feasibility -- PATH_TO_GRAPH [pairs per seed] [seeds] [--variants]
//! ```
//!
//! Prints the study's table (pooled share, Wilson 95 % interval, spread over seeds, run time), the time one
//! `max_flow_up_to` call takes at each amount, and with `--variants` the same study under other pair pools and
//! edge rules (to compare with the published 88 / 78 / 41 / 12 %).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use dmc_core::Sat;
use dmc_graph::Graph;
use dmc_sim::flow::{
    feasibility_study_with, random_pair, EdgeRules, FeasibilityOptions, FeasibilityRow, FeasibilityStudy, FlowGraph,
    Liveness, PairPool,
};
use dmc_sim::rng::Rng;
use dmc_sim::{BalanceModel, Network};

const AMOUNTS_SAT: [u64; 4] = [1_000, 10_000, 100_000, 1_000_000];
/// Pickhardt's figures (stacker.news item 412708, Feb 2024 snapshot), for the last column.
const PUBLISHED: [f64; 4] = [88.06, 77.62, 40.85, 12.29];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let variants = args.iter().any(|a| a == "--variants");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let Some(path) = positional.first() else {
        eprintln!("usage: feasibility PATH_TO_GRAPH [pairs per seed (2000)] [seeds (5)] [--variants]");
        std::process::exit(2);
    };
    let number = |i: usize, default: usize| -> usize {
        positional.get(i).map_or(default, |s| {
            s.parse().unwrap_or_else(|_| {
                eprintln!("not a number: {s}");
                std::process::exit(2)
            })
        })
    };
    let (pairs, seeds) = (number(1, 2_000), number(2, 5));

    let clock = Instant::now();
    let graph = Graph::load(Path::new(path.as_str())).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    println!(
        "{path}: {} nodes, {} channels (loaded in {:.1} s)",
        graph.node_count(),
        graph.channel_count(),
        clock.elapsed().as_secs_f64()
    );
    describe(&graph);

    let study = FeasibilityStudy {
        amounts_sat: AMOUNTS_SAT.to_vec(),
        pairs,
        seeds: (1..=seeds as u64).collect(),
    };
    let default = FeasibilityOptions::default();
    run(
        &graph,
        &study,
        &default,
        "default: published pair draw, routable directions",
    );
    time_calls(&graph, default, 1_000);
    time_calls(
        &graph,
        FeasibilityOptions {
            pool: PairPool::LargestComponent,
            rules: EdgeRules::ROUTABLE,
        },
        1_000,
    );
    time_calls(
        &graph,
        FeasibilityOptions {
            pool: PairPool::WithChannel,
            rules: EdgeRules::BALANCES_ONLY,
        },
        1_000,
    );

    if variants {
        let channel = |clip| EdgeRules {
            liveness: Liveness::Channel,
            clip_to_htlc_max: clip,
        };
        let direction_no_clip = EdgeRules {
            liveness: Liveness::Direction,
            clip_to_htlc_max: false,
        };
        let list = [
            (PairPool::WithUsableChannel, EdgeRules::ROUTABLE),
            (PairPool::LargestComponent, EdgeRules::ROUTABLE),
            (PairPool::WithChannel, direction_no_clip),
            (PairPool::LargestComponent, direction_no_clip),
            (PairPool::WithChannel, channel(true)),
            (PairPool::WithChannel, channel(false)),
            (PairPool::LargestComponent, channel(false)),
            (PairPool::WithChannel, EdgeRules::BALANCES_ONLY),
        ];
        for (pool, rules) in list {
            let options = FeasibilityOptions { pool, rules };
            run(
                &graph,
                &study,
                &options,
                &format!("{}, {}", pool.name(), rules_name(rules)),
            );
        }
        let merged = merge_parallel(&graph);
        let options = FeasibilityOptions {
            pool: PairPool::WithChannel,
            rules: EdgeRules::BALANCES_ONLY,
        };
        let title = format!(
            "notebook emulation: {} node pairs, parallel channels merged into one balance draw, {}, {}",
            merged.channel_count(),
            options.pool.name(),
            rules_name(options.rules)
        );
        run(&merged, &study, &options, &title);
    }
}

/// One channel per connected node pair with the summed capacity and no policies, as Pickhardt's notebook
/// builds its graph (one uniform balance draw per pair instead of one per channel).
fn merge_parallel(graph: &Graph) -> Graph {
    let mut capacity: HashMap<(u32, u32), u64> = HashMap::new();
    let mut order = Vec::new();
    for ch in graph.channels() {
        let c = capacity.entry((ch.node1, ch.node2)).or_insert_with(|| {
            order.push((ch.node1, ch.node2));
            0
        });
        *c += ch.capacity_sat.0;
    }
    let mut merged = Graph::default();
    for (i, &(a, b)) in order.iter().enumerate() {
        merged.add_channel(
            i as u64,
            *graph.node(a),
            *graph.node(b),
            dmc_core::Sat(capacity[&(a, b)]),
            None,
            None,
        );
    }
    merged
}

fn rules_name(rules: EdgeRules) -> String {
    let live = match rules.liveness {
        Liveness::Direction => "enabled directions",
        Liveness::Channel => "live channels both ways",
        Liveness::Ignored => "all channels both ways",
    };
    let clip = if rules.clip_to_htlc_max {
        "clipped to max_htlc"
    } else {
        "no max_htlc clip"
    };
    format!("{live}, {clip}")
}

/// Pool sizes and usable halves, to explain the tables.
fn describe(graph: &Graph) {
    let halves = FlowGraph::new(graph).arc_count();
    let usable_halves: usize = graph
        .channels()
        .iter()
        .map(|ch| ch.policies.iter().filter(|p| p.is_some_and(|p| !p.disabled)).count())
        .sum();
    println!(
        "enabled directions: {usable_halves} of {}; halves of channels with one: {halves}",
        2 * graph.channel_count()
    );
    for (pool, rules) in [
        (PairPool::WithChannel, EdgeRules::ROUTABLE),
        (PairPool::WithUsableChannel, EdgeRules::ROUTABLE),
        (PairPool::LargestComponent, EdgeRules::ROUTABLE),
        (PairPool::LargestComponent, EdgeRules::BALANCES_ONLY),
    ] {
        println!(
            "  pool {:>6} nodes: {} ({})",
            pool.nodes(graph, rules).len(),
            pool.name(),
            rules_name(rules)
        );
    }
}

fn run(graph: &Graph, study: &FeasibilityStudy, options: &FeasibilityOptions, title: &str) {
    let clock = Instant::now();
    let rows = feasibility_study_with(graph, study, options);
    let secs = clock.elapsed().as_secs_f64();
    println!();
    println!(
        "{title}: {} pairs x {} seeds in {secs:.1} s",
        study.pairs,
        study.seeds.len()
    );
    print_table(&rows);
}

fn print_table(rows: &[FeasibilityRow]) {
    println!("  amount sat | feasible |    95 % CI      | seeds min-max   | seed s.e. | pairs  | published");
    for (row, published) in rows.iter().zip(PUBLISHED) {
        let pct = |x: f64| 100.0 * x;
        let (lo, hi) = row
            .seed_shares
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &s| {
                (lo.min(s), hi.max(s))
            });
        // Standard error of the mean over seeds: catches balance-draw variance the pooled interval ignores.
        let k = row.seed_shares.len() as f64;
        let mean = row.seed_shares.iter().sum::<f64>() / k;
        let var = row.seed_shares.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (k - 1.0).max(1.0);
        println!(
            "  {:>10} | {:>7.2}% | {:>5.2} - {:>5.2}% | {:>5.2} - {:>5.2}% | {:>8.2}% | {:>6} | {published:>6.2}%",
            row.amount_sat,
            pct(row.share),
            pct(row.ci95.0),
            pct(row.ci95.1),
            pct(lo),
            pct(hi),
            pct((var / k).sqrt()),
            row.pairs
        );
    }
}

/// Wall time of single `max_flow_up_to` calls with the limit at each amount, on one balance draw.
fn time_calls(graph: &Graph, options: FeasibilityOptions, calls: usize) {
    let net = Network::new(graph.clone(), BalanceModel::Uniform, 1);
    let pool = options.pool.nodes(graph, options.rules);
    let mut flow = FlowGraph::with_rules(graph, options.rules);
    let balance = |ci: u32, dir: usize| net.spendable(ci, dir).0;
    println!();
    println!(
        "one max_flow_up_to call, {calls} random pairs per amount, {}, {}, one thread (microseconds):",
        options.pool.name(),
        rules_name(options.rules)
    );
    println!("  amount sat | feasible |   mean | median |    p90 |    p99 |    max");
    for amount in AMOUNTS_SAT {
        let mut rng = Rng::new(42);
        let mut times = Vec::with_capacity(calls);
        let mut feasible = 0;
        for _ in 0..calls {
            let (s, t) = random_pair(&mut rng, &pool);
            let clock = Instant::now();
            let amount_msat = Sat(amount).to_msat_saturating().0;
            let f = flow.max_flow_up_to(s, t, amount_msat, &balance);
            times.push(clock.elapsed().as_secs_f64() * 1e6);
            feasible += usize::from(f >= amount_msat);
        }
        times.sort_by(f64::total_cmp);
        let q = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
        println!(
            "  {amount:>10} | {:>7.1}% | {:>6.0} | {:>6.0} | {:>6.0} | {:>6.0} | {:>6.0}",
            100.0 * feasible as f64 / calls as f64,
            times.iter().sum::<f64>() / calls as f64,
            q(0.5),
            q(0.9),
            q(0.99),
            times[times.len() - 1]
        );
    }
}
