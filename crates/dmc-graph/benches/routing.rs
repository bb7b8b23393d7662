//! Criterion benchmarks of graph loading and pathfinding on the shipped
//! mainnet snapshot (17 324 nodes, 50 808 channels).
//!
//! * `load/describegraph+index`: `Graph::load_describegraph` (gzip, JSON)
//!   plus `RoutingGraph::new`.
//! * `find_path/*`: one iteration runs the same 50 seeded queries
//!   (`find_path` + `new_route`, sources among nodes with an enabled
//!   outgoing policy, targets with an enabled incoming one, 1 000 to
//!   1 000 000 sat log-uniform), with every hop probability 1.0 (no MC),
//!   with an empty apriori `MissionControl`, and with one holding 50 000
//!   records of real directed pairs of the graph (70 % successes, 30 %
//!   failures, all within the hour before "now").
//!
//! Run: `cargo bench -p dmc-graph --bench routing`

// criterion_main! generates an undocumented `main`.
#![allow(missing_docs)]

mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use common::{mc_pairs, queries, snapshot_path, Query, NOW};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use dmc_core::mission_control::probability_fn;
use dmc_core::{MissionControl, MissionControlConfig, NodeId, SuccessProbability};
use dmc_graph::pathfind::{find_path, new_route, Certain, PathFindingConfig, RouteRequest, RoutingGraph};
use dmc_graph::Graph;

const QUERIES: usize = 50;
const QUERY_SEED: u64 = 0x50_2026_0203;
const MC_PAIRS: usize = 50_000;
const MC_SEED: u64 = 0x3c_2026_0203;

/// Runs every query; returns how many were answered.
fn run(rg: &RoutingGraph<'_>, qs: &[Query], prob: &mut dyn SuccessProbability) -> usize {
    let cfg = PathFindingConfig::default();
    let mut answered = 0;
    for q in qs {
        let req = RouteRequest::new(None, q.source, q.target, q.amt_msat);
        if let Ok((path, p)) = find_path(rg, &req, &cfg, prob) {
            let route = new_route(
                rg.graph(),
                q.source,
                &path,
                req.block_height,
                q.amt_msat,
                req.final_cltv_delta,
                None,
            );
            black_box((route, p));
            answered += 1;
        }
    }
    answered
}

fn bench_load(c: &mut Criterion) {
    let path = snapshot_path();
    let mut group = c.benchmark_group("load");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    group.bench_function("describegraph+index", |b| {
        b.iter(|| {
            let g = Graph::load_describegraph(&path).unwrap();
            let rg = RoutingGraph::new(&g);
            black_box(rg.index_bytes());
        })
    });
    group.finish();
}

fn bench_find_path(c: &mut Criterion) {
    let g = Graph::load_describegraph(&snapshot_path()).unwrap();
    let rg = RoutingGraph::new(&g);
    let qs = queries(&g, QUERIES, QUERY_SEED, &|_| true);
    let empty = MissionControl::new(None, MissionControlConfig::default());
    let mut full = MissionControl::new(None, MissionControlConfig::default());
    let pairs = mc_pairs(&g, MC_PAIRS, MC_SEED);
    full.import_pairs(&pairs, false);
    let mut per_node: HashMap<NodeId, usize> = HashMap::new();
    for p in &pairs {
        *per_node.entry(p.pair.from).or_default() += 1;
    }
    eprintln!(
        "mission control: {} pairs from {} nodes, at most {} results for one node",
        pairs.len(),
        per_node.len(),
        per_node.values().max().unwrap()
    );
    assert_eq!(full.state().len(), MC_PAIRS);

    let answered = [
        run(&rg, &qs, &mut Certain),
        run(
            &rg,
            &qs,
            &mut probability_fn(|f, t, a, cap| empty.probability(NOW, f, t, a, cap)),
        ),
        run(
            &rg,
            &qs,
            &mut probability_fn(|f, t, a, cap| full.probability(NOW, f, t, a, cap)),
        ),
    ];
    eprintln!(
        "find_path: {QUERIES} queries per iteration; answered: no MC {}, empty MC {}, 50k-pair MC {}",
        answered[0], answered[1], answered[2]
    );

    let mut group = c.benchmark_group("find_path");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    group.bench_function("50_queries/no_mc", |b| b.iter(|| run(&rg, &qs, &mut Certain)));
    group.bench_function("50_queries/apriori_empty_mc", |b| {
        b.iter(|| {
            run(
                &rg,
                &qs,
                &mut probability_fn(|f, t, a, cap| empty.probability(NOW, f, t, a, cap)),
            )
        })
    });
    // An iteration takes seconds here (the apriori estimator weighs all of a
    // node's results for every edge it rates): 10 samples of one iteration.
    group.measurement_time(Duration::from_secs(35));
    group.bench_function("50_queries/apriori_mc_50k_pairs", |b| {
        b.iter(|| {
            run(
                &rg,
                &qs,
                &mut probability_fn(|f, t, a, cap| full.probability(NOW, f, t, a, cap)),
            )
        })
    });
    // The same MC through `prober`: busy nodes' results summarised once per
    // run (what `dmc queryroutes` and the simulator use).
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("50_queries/apriori_mc_50k_pairs_prober", |b| {
        b.iter(|| {
            let mut prober = full.prober(NOW);
            run(&rg, &qs, &mut prober)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_load, bench_find_path);
criterion_main!(benches);
