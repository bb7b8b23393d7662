//! Criterion benchmarks of the mission-control engine on a 100 000-pair state.
//!
//! The state is built deterministically (splitmix64, fixed seed): 20 000
//! nodes joined by 50 000 channels, each with a record in both directions,
//! so exactly 100 000 directed pairs. A hundred "hub" nodes take a larger
//! share of the channels and hold roughly 150 results each; the others
//! hold about 4. The local node has 32 channels, so 3-hop routes start there.
//!
//! * `apply_payment_result/*`: a settled 3-hop route, a
//!   `TEMPORARY_CHANNEL_FAILURE` from hop 2 and a `TEMPORARY_NODE_FAILURE`
//!   from hop 2, each drawn from a pool of 4096 routes over existing pairs
//!   and applied with reply times 2 minutes apart, so no result is dropped
//!   by the relax interval and the pair count stays at 100 000.
//! * `probability/*`: `MissionControl::probability` with the apriori and
//!   the bimodal estimator, for random non-local `from` nodes or for hubs,
//!   `to` being a known peer half of the time, random amounts and capacities.
//! * `import_pairs/*`: a 1000-pair batch, either mixed (500 newer records of
//!   existing pairs, 250 older ones that are skipped, 250 new pairs) into a
//!   fresh clone of the 100 000-pair state (clone not timed), or 1000 newer
//!   records of existing pairs into a long-lived state.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode};
use dmc_core::{
    BimodalConfig, DirectedPair, EstimatorConfig, FailureCode, Hop, MissionControl, MissionControlConfig, Msat, NodeId,
    PairSnapshot, PaymentFailure, PaymentResult, Route, Sat, TimedPairResult, Timestamp,
};

/// Non-local nodes; index `NODES` is the local node.
const NODES: usize = 20_000;
/// Nodes `0..HUBS` are hubs.
const HUBS: usize = 100;
/// Chance that a channel endpoint is drawn among the hubs.
const HUB_SHARE: f64 = 0.15;
/// Directed pairs in the state (two per channel).
const PAIRS: usize = 100_000;
const SELF_CHANNELS: usize = 32;
/// Pre-generated payment results / queries per benchmark.
const POOL: usize = 4096;
const IMPORT_BATCH: usize = 1000;
const IMPORT_BATCHES: usize = 16;
const SEC_NS: DurationNs = DurationNs::SECOND;
const HOUR_NS: DurationNs = DurationNs::HOUR;
/// Reply-time step between applied results: above the 1-minute relax interval.
const APPLY_STEP_NS: DurationNs = DurationNs::from_secs(120);
/// "Now" of the generated state: every record is up to 72 h older.
const T0: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

use dmc_core::time::DurationNs;
use dmc_testkit::SplitMix64;

/// The draws this benchmark's data needs beyond dmc-testkit's.
trait EngineDraws {
    /// A point in the `span_ns` before `t`.
    fn before(&mut self, t: Timestamp, span_ns: DurationNs) -> Timestamp;
    /// A payment-sized amount: 10 sat to 10 M sat, log-uniform.
    fn amt_msat(&mut self) -> u64;
}

impl EngineDraws for SplitMix64 {
    fn before(&mut self, t: Timestamp, span_ns: DurationNs) -> Timestamp {
        t.add(DurationNs(-1 - (self.next_u64() % span_ns.as_nanos() as u64) as i64))
    }

    fn amt_msat(&mut self) -> u64 {
        self.log_uniform(1e4, 1e10)
    }
}

/// A 33-byte key with a valid prefix; no curve check is needed.
fn random_node_id(rng: &mut SplitMix64) -> NodeId {
    let mut b = [0u8; 33];
    b[0] = 2 + (rng.next_u64() & 1) as u8;
    for chunk in b[1..].chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    NodeId(b)
}

/// A pair record as an LND node might hold it: success only, failure only
/// (sometimes amount-independent) or both, up to `span_ns` before `t`.
fn random_record(rng: &mut SplitMix64, t: Timestamp, span_ns: DurationNs) -> TimedPairResult {
    let mut r = TimedPairResult::default();
    // 40 % success only, 30 % failure only, 30 % both.
    let kind = rng.below(10);
    let (success, failure) = (!(4..7).contains(&kind), kind >= 4);
    if success {
        r.success_time = rng.before(t, span_ns);
        r.success_amt_msat = Msat(rng.amt_msat());
    }
    if failure {
        r.fail_time = rng.before(t, span_ns);
        r.fail_amt_msat = if success {
            Msat(r.success_amt_msat.0 + 1 + rng.log_uniform(1.0, r.success_amt_msat.as_f64() + 2.0))
        } else if rng.chance(0.2) {
            Msat(0)
        } else {
            Msat(rng.amt_msat())
        };
    }
    r
}

/// The generated network and the 100 000-pair mission control built from it.
struct World {
    /// `nodes[NODES]` is the local node.
    nodes: Vec<NodeId>,
    /// Channel peers of each node (every channel has records both ways).
    adj: Vec<Vec<u32>>,
    /// Every directed pair with a record.
    pairs: Vec<(u32, u32)>,
    base: MissionControl,
}

impl World {
    fn build() -> World {
        let mut rng = SplitMix64(0x6d63_2d62_656e_6368);
        let nodes: Vec<NodeId> = (0..=NODES).map(|_| random_node_id(&mut rng)).collect();
        assert_eq!(nodes.iter().collect::<HashSet<_>>().len(), NODES + 1);

        let mut adj: Vec<Vec<u32>> = vec![Vec::new(); NODES + 1];
        let mut channels: HashSet<(u32, u32)> = HashSet::new();
        let mut add = |a: usize, b: usize, adj: &mut Vec<Vec<u32>>| {
            let key = (a.min(b) as u32, a.max(b) as u32);
            if a != b && channels.insert(key) {
                adj[a].push(b as u32);
                adj[b].push(a as u32);
            }
        };
        while adj[NODES].len() < SELF_CHANNELS {
            add(NODES, rng.below(NODES), &mut adj);
        }
        let endpoint = |rng: &mut SplitMix64| {
            if rng.chance(HUB_SHARE) {
                rng.below(HUBS)
            } else {
                rng.below(NODES)
            }
        };
        let mut count = SELF_CHANNELS;
        while count < PAIRS / 2 {
            let (a, b) = (endpoint(&mut rng), endpoint(&mut rng));
            let before = adj[a].len();
            add(a, b, &mut adj);
            count += adj[a].len() - before;
        }

        let mut pairs = Vec::with_capacity(PAIRS);
        let mut snapshots = Vec::with_capacity(PAIRS);
        for (a, peers) in adj.iter().enumerate() {
            for &b in peers {
                pairs.push((a as u32, b));
                snapshots.push(PairSnapshot {
                    pair: DirectedPair::new(nodes[a], nodes[b as usize]),
                    result: random_record(&mut rng, T0, 72 * HOUR_NS),
                });
            }
        }
        let mut base = MissionControl::new(Some(nodes[NODES]), MissionControlConfig::default());
        base.import_pairs(&snapshots, false);
        assert_eq!(base.state().len(), PAIRS);
        World {
            nodes,
            adj,
            pairs,
            base,
        }
    }

    fn random_peer(&self, rng: &mut SplitMix64, of: usize) -> usize {
        let peers = &self.adj[of];
        peers[rng.below(peers.len())] as usize
    }

    /// A 3-hop route from the local node over existing pairs only.
    fn random_route(&self, rng: &mut SplitMix64) -> Route {
        let s = NODES;
        let (a, b, c) = loop {
            let a = self.random_peer(rng, s);
            let b = self.random_peer(rng, a);
            let c = self.random_peer(rng, b);
            if b != s && c != s && c != a {
                break (a, b, c);
            }
        };
        let amt = rng.amt_msat();
        let fee = 1000 + amt / 1000;
        let hop = |rng: &mut SplitMix64, node: usize, amt_to_forward_msat: u64| Hop {
            chan_id: rng.next_u64() >> 1,
            pub_key: self.nodes[node],
            amt_to_forward_msat: Msat(amt_to_forward_msat),
            has_blinding_point: false,
            has_custom_records: false,
        };
        Route {
            source: self.nodes[s],
            total_amt_msat: Msat(amt + 2 * fee),
            hops: vec![hop(rng, a, amt + fee), hop(rng, b, amt), hop(rng, c, amt)],
        }
    }
}

fn bench_apply(c: &mut Criterion, w: &World) {
    let mut group = c.benchmark_group("apply_payment_result");
    let cases = [
        ("success_3hop", None),
        ("temp_chan_failure_hop2", Some(FailureCode::TemporaryChannelFailure)),
        ("temp_node_failure_hop2", Some(FailureCode::TemporaryNodeFailure)),
    ];
    for (seed, (name, code)) in cases.into_iter().enumerate() {
        let mut rng = SplitMix64(0xa991_0000 + seed as u64);
        let mut pool: Vec<PaymentResult> = (0..POOL)
            .map(|i| PaymentResult {
                id: i as u64,
                time_fwd: T0,
                time_reply: T0,
                route: w.random_route(&mut rng),
                failure: code.map(|code| PaymentFailure {
                    source_index: Some(2),
                    message: Some(code),
                }),
            })
            .collect();
        assert!(pool.iter().all(|r| r.validate().is_ok()));
        let mut mc = w.base.clone();
        let mut k: i64 = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                k += 1;
                let r = &mut pool[k as usize % POOL];
                r.time_reply = T0.add(k * APPLY_STEP_NS);
                r.time_fwd = r.time_reply.add(-SEC_NS);
                black_box(mc.apply_payment_result(black_box(r)))
            })
        });
        // Routes only use existing pairs: the state never grows.
        assert_eq!(mc.state().len(), PAIRS);
    }
    group.finish();
}

struct Query {
    from: NodeId,
    to: NodeId,
    amt_msat: u64,
    capacity_sat: u64,
}

fn queries(w: &World, rng: &mut SplitMix64, from_range: usize) -> Vec<Query> {
    (0..POOL)
        .map(|_| {
            let from = rng.below(from_range);
            // Some nodes have no channel, hence no results: `to` is random.
            let to = if rng.chance(0.5) && !w.adj[from].is_empty() {
                w.random_peer(rng, from)
            } else {
                (from + 1 + rng.below(NODES - 1)) % NODES
            };
            let capacity_sat = rng.log_uniform(1e5, 1e8);
            let amt_msat = 1 + (rng.unit() * capacity_sat as f64 * 1000.0) as u64;
            Query {
                from: w.nodes[from],
                to: w.nodes[to],
                amt_msat,
                capacity_sat,
            }
        })
        .collect()
}

fn bench_probability(c: &mut Criterion, w: &World) {
    let mut group = c.benchmark_group("probability");
    let mut rng = SplitMix64(0x9e0b_ab11);
    let sets = [
        ("random_from", queries(w, &mut rng, NODES)),
        ("hub_from", queries(w, &mut rng, HUBS)),
    ];
    let estimators = [
        ("apriori", EstimatorConfig::default()),
        ("bimodal", EstimatorConfig::Bimodal(BimodalConfig::default())),
    ];
    let now = T0.add(HOUR_NS);
    let mut mc = w.base.clone();
    for (est_name, estimator) in estimators {
        mc.config.estimator = estimator;
        for (set_name, queries) in &sets {
            let mut i = 0;
            group.bench_function(format!("{est_name}/{set_name}"), |b| {
                b.iter(|| {
                    i += 1;
                    let q = &queries[i % POOL];
                    black_box(mc.probability(now, black_box(&q.from), &q.to, Msat(q.amt_msat), Sat(q.capacity_sat)))
                })
            });
        }
    }
    group.finish();
}

fn bench_import(c: &mut Criterion, w: &World) {
    let mut group = c.benchmark_group("import_pairs");
    let mut rng = SplitMix64(0x1390_a275);
    let existing: HashSet<(u32, u32)> = w.pairs.iter().copied().collect();
    let snapshot = |a: usize, b: usize, result| PairSnapshot {
        pair: DirectedPair::new(w.nodes[a], w.nodes[b]),
        result,
    };

    // Mixed batches, imported into a fresh clone of the base state.
    let mixed: Vec<Vec<PairSnapshot>> = (0..IMPORT_BATCHES)
        .map(|_| {
            let mut batch = Vec::with_capacity(IMPORT_BATCH);
            for _ in 0..IMPORT_BATCH / 2 {
                let (a, b) = w.pairs[rng.below(PAIRS)];
                let r = random_record(&mut rng, T0.add(HOUR_NS), HOUR_NS);
                batch.push(snapshot(a as usize, b as usize, r));
            }
            for _ in 0..IMPORT_BATCH / 4 {
                let (a, b) = w.pairs[rng.below(PAIRS)];
                let r = random_record(&mut rng, T0.add(-100 * HOUR_NS), HOUR_NS);
                batch.push(snapshot(a as usize, b as usize, r));
            }
            let mut new = HashSet::new();
            while new.len() < IMPORT_BATCH / 4 {
                let (a, b) = (rng.below(NODES), rng.below(NODES));
                if a != b && !existing.contains(&(a as u32, b as u32)) && new.insert((a, b)) {
                    let r = random_record(&mut rng, T0, 72 * HOUR_NS);
                    batch.push(snapshot(a, b, r));
                }
            }
            batch
        })
        .collect();
    group.sampling_mode(SamplingMode::Flat);
    let mut i = 0;
    group.bench_function("1000_mixed_into_fresh_100k", |b| {
        b.iter_batched_ref(
            || {
                i += 1;
                (w.base.clone(), &mixed[i % IMPORT_BATCHES])
            },
            |(mc, batch)| mc.import_pairs(batch, false),
            BatchSize::PerIteration,
        )
    });

    // Newer records of existing pairs, into one long-lived state: each
    // batch's times are past every earlier batch's, so every slot applies.
    group.sampling_mode(SamplingMode::Auto);
    let mut mc = w.base.clone();
    let mut k: i64 = 0;
    group.bench_function("1000_updates_into_100k", |b| {
        b.iter_batched(
            || {
                k += 1;
                let t = T0.add(k * 2 * HOUR_NS);
                (0..IMPORT_BATCH)
                    .map(|_| {
                        let (a, b) = w.pairs[rng.below(PAIRS)];
                        snapshot(a as usize, b as usize, random_record(&mut rng, t, HOUR_NS))
                    })
                    .collect::<Vec<_>>()
            },
            |batch| mc.import_pairs(&batch, false),
            BatchSize::SmallInput,
        )
    });
    assert_eq!(mc.state().len(), PAIRS);
    group.finish();
}

fn engine(c: &mut Criterion) {
    let world = World::build();
    let hub_results: usize = (0..HUBS).map(|h| world.adj[h].len()).sum();
    eprintln!(
        "state: {} pairs over {} nodes; hubs hold {} results on average, other nodes {:.1}",
        world.base.state().len(),
        NODES + 1,
        hub_results / HUBS,
        (PAIRS - hub_results - SELF_CHANNELS) as f64 / (NODES - HUBS) as f64,
    );
    bench_apply(c, &world);
    bench_probability(c, &world);
    bench_import(c, &world);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = engine
}
criterion_main!(benches);
