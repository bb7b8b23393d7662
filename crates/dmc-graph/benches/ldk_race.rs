//! dmc's pathfinding against LDK's router on the same mainnet graph.
//!
//! Loads `data/mainnet-2026-02-03.describegraph.json.gz` into dmc's
//! `Graph` + `RoutingGraph`, copies every channel into LDK's `NetworkGraph`
//! through the unsigned gossip APIs (same capacity, fee base/ppm, CLTV
//! delta, HTLC min/max and disabled flag), then times the same seeded
//! queries (source, target, amount) one by one with:
//!
//! * `dmc p=1`: `find_path` + `new_route`, every hop probability 1.0 (what
//!   `lncli queryroutes` does without `--use_mc`);
//! * `dmc apriori`: the same with an empty apriori `MissionControl` as the
//!   probability source (LND's default estimator, the fair match for LDK's
//!   scorer);
//! * `LDK`: `lightning::routing::router::find_route` with a default
//!   `ProbabilisticScorer`, the source as payer and no first hops (LDK then
//!   takes the payer's channels from the graph), one path
//!   (`max_path_count = 1`, as `find_path`), and LND's `QueryRoutes`
//!   limits: fee limit = amount, total CLTV 2016 with a final delta of 80.
//!
//! LDK ignores a channel unless both directions have an update; a
//! direction the snapshot leaves `null` gets a disabled update so both
//! routers see the same usable directed edges (`DMC_RACE_LDK_STRICT=1`
//! skips that, and LDK then misses the routes through one-sided channels).
//! Each router gets 20 untimed warm-up queries; times include building the
//! route (`new_route` for dmc, `Route` for LDK), not parsing the keys.
//!
//! Plain `main`, not criterion: one timing per query, then percentiles.
//! Run: `cargo bench -p dmc-graph --bench ldk_race`
//! (`DMC_RACE_QUERIES=N` changes the query count, default 1000).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{queries, snapshot_path, Query, NOW};
use dmc_core::mission_control::probability_fn;
use dmc_core::{MissionControl, MissionControlConfig, NodeId, Sat, SuccessProbability};
use dmc_graph::pathfind::{find_path, new_route, Certain, PathFindingConfig, RouteRequest, RoutingGraph};
use dmc_graph::Graph;
use lightning::bitcoin::constants::ChainHash;
use lightning::bitcoin::secp256k1::PublicKey;
use lightning::bitcoin::Network;
use lightning::ln::msgs::UnsignedChannelUpdate;
use lightning::routing::gossip::{NetworkGraph, NodeId as LdkNodeId};
use lightning::routing::router::{find_route, PaymentParameters, RouteParameters};
use lightning::routing::scoring::{
    ProbabilisticScorer, ProbabilisticScoringDecayParameters, ProbabilisticScoringFeeParameters,
};
use lightning::types::features::ChannelFeatures;
use lightning::util::logger::{Logger, Record};

const SEED: u64 = 0x1d4c_2026_0203;
const DEFAULT_QUERIES: usize = 1000;
/// Untimed queries run first by each router (caches, branch predictors).
const WARMUP: usize = 20;
/// LND's default final CLTV delta and `--max-cltv-expiry`.
const FINAL_CLTV_DELTA: u32 = 80;
const MAX_TOTAL_CLTV: u32 = 2016;

/// Counts live heap bytes, so the graph's own memory can be told apart from
/// the parser's temporaries. One relaxed atomic per call, for every router.
struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            PEAK.fetch_max(LIVE.fetch_add(l.size(), Relaxed) + l.size(), Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            PEAK.fetch_max(LIVE.fetch_add(l.size(), Relaxed) + l.size(), Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let q = System.realloc(p, l, new_size);
        if !q.is_null() {
            if new_size >= l.size() {
                let d = new_size - l.size();
                PEAK.fetch_max(LIVE.fetch_add(d, Relaxed) + d, Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new_size, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

struct NullLogger;

impl Logger for NullLogger {
    fn log(&self, _record: Record) {}
}

/// A valid-looking short channel id for channel index `i`: block 600 000 + i,
/// transaction 1, output 0 (the snapshot's ids are indices, not SCIDs).
fn scid(i: u64) -> u64 {
    ((600_000 + i) << 40) | (1 << 16)
}

fn scid_index(s: u64) -> u64 {
    (s >> 40) - 600_000
}

/// What copying the graph into LDK's changed.
#[derive(Default)]
struct LdkFeed {
    /// HTLC maxima above the capacity, clamped (LDK refuses larger ones).
    clamped: usize,
    /// Directions with no policy in the snapshot given a disabled update.
    synthesized_disabled: usize,
}

/// Copies the graph into LDK's.
///
/// LDK's router (`ChannelInfo::as_directed_to`) uses a channel only when
/// *both* directions have a `channel_update`; the snapshot has a `null`
/// policy where a direction "is disabled or has no usable update", and
/// dmc (like LND) still routes over the other direction. Unless `strict`,
/// such a direction gets a *disabled* update, so LDK can route over the
/// same directed edges as dmc and nothing more.
fn build_ldk_graph<'l>(g: &Graph, logger: &'l NullLogger, strict: bool) -> (NetworkGraph<&'l NullLogger>, LdkFeed) {
    let net = NetworkGraph::new(Network::Bitcoin, logger);
    let chain_hash = ChainHash::using_genesis_block(Network::Bitcoin);
    // LDK (with std) refuses updates more than two weeks old.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut feed = LdkFeed::default();
    for ch in g.channels() {
        let (k1, k2) = (g.node(ch.node1), g.node(ch.node2));
        // BOLT 7: node_id_1 is the lexicographically lesser key; direction
        // bit 0 is node_id_1's policy.
        let (a, b, pa, pb) = if k1 <= k2 {
            (k1, k2, ch.policies[0], ch.policies[1])
        } else {
            (k2, k1, ch.policies[1], ch.policies[0])
        };
        let id = scid(ch.chan_id);
        let capacity = (ch.capacity_sat > Sat::ZERO).then_some(ch.capacity_sat.0);
        net.add_channel_from_partial_announcement(
            id,
            capacity,
            now,
            ChannelFeatures::empty(),
            LdkNodeId::from_slice(&a.0).unwrap(),
            LdkNodeId::from_slice(&b.0).unwrap(),
        )
        .unwrap();
        let one_sided = pa.is_some() != pb.is_some();
        for (direction, p) in [(0u8, pa), (1, pb)] {
            let cap_msat = ch.capacity_sat.to_msat_saturating().0;
            let update = match p {
                Some(p) => {
                    let mut max = p.max_htlc_msat.map_or(cap_msat, |m| m.0);
                    if cap_msat > 0 && max > cap_msat {
                        max = cap_msat;
                        feed.clamped += 1;
                    }
                    UnsignedChannelUpdate {
                        chain_hash,
                        short_channel_id: id,
                        timestamp: now as u32,
                        message_flags: 1,
                        channel_flags: direction | if p.disabled { 2 } else { 0 },
                        cltv_expiry_delta: p.time_lock_delta,
                        htlc_minimum_msat: p.min_htlc_msat.0,
                        htlc_maximum_msat: max,
                        fee_base_msat: p.fee_base_msat.0.min(u32::MAX as u64) as u32,
                        fee_proportional_millionths: p.fee_rate_ppm.min(u32::MAX as u64) as u32,
                        excess_data: Vec::new(),
                    }
                }
                None if one_sided && !strict => {
                    feed.synthesized_disabled += 1;
                    UnsignedChannelUpdate {
                        chain_hash,
                        short_channel_id: id,
                        timestamp: now as u32,
                        message_flags: 1,
                        channel_flags: direction | 2,
                        cltv_expiry_delta: 0,
                        htlc_minimum_msat: 0,
                        htlc_maximum_msat: cap_msat,
                        fee_base_msat: 0,
                        fee_proportional_millionths: 0,
                        excess_data: Vec::new(),
                    }
                }
                None => continue,
            };
            net.update_channel_unsigned(&update)
                .unwrap_or_else(|e| panic!("channel {}: {}", ch.chan_id, e.err));
        }
    }
    (net, feed)
}

/// One query's result: time taken and, if answered, the route's total fee,
/// channel indices (snapshot channel ids) in order.
struct Outcome {
    time: Duration,
    route: Option<(u64, Vec<u64>)>,
    error: Option<&'static str>,
}

fn run_dmc(rg: &RoutingGraph<'_>, qs: &[Query], prob: &mut dyn SuccessProbability) -> Vec<Outcome> {
    let cfg = PathFindingConfig::default();
    let one = |q: &Query, prob: &mut dyn SuccessProbability| {
        let start = Instant::now();
        let req = RouteRequest::new(None, q.source, q.target, q.amt_msat);
        let res = find_path(rg, &req, &cfg, prob).map(|(path, _p)| {
            let route = new_route(
                rg.graph(),
                q.source,
                &path,
                req.block_height,
                q.amt_msat,
                req.final_cltv_delta,
                None,
            );
            (
                route.total_fees_msat().0,
                route.hops.iter().map(|h| h.chan_id).collect(),
            )
        });
        let time = start.elapsed();
        match res {
            Ok(r) => Outcome {
                time,
                route: Some(r),
                error: None,
            },
            Err(e) => Outcome {
                time,
                route: None,
                error: Some(e.reason()),
            },
        }
    };
    for q in qs.iter().take(WARMUP) {
        one(q, prob);
    }
    qs.iter().map(|q| one(q, prob)).collect()
}

fn run_ldk(net: &NetworkGraph<&NullLogger>, logger: &NullLogger, qs: &[Query]) -> Vec<Outcome> {
    let scorer = ProbabilisticScorer::new(ProbabilisticScoringDecayParameters::default(), net, logger);
    let params = ProbabilisticScoringFeeParameters::default();
    let seed = [0u8; 32];
    // Keys parsed outside the timed section (dmc takes them as bytes).
    let keyed: Vec<(PublicKey, RouteParameters)> = qs
        .iter()
        .map(|q| {
            let payer = PublicKey::from_slice(&q.source.0).unwrap();
            let payee = PublicKey::from_slice(&q.target.0).unwrap();
            let mut pp = PaymentParameters::from_node_id(payee, FINAL_CLTV_DELTA);
            // One path, as dmc's find_path; LND's CLTV and fee limits.
            pp.max_path_count = 1;
            pp.max_total_cltv_expiry_delta = MAX_TOTAL_CLTV;
            let mut rp = RouteParameters::from_payment_params_and_value(pp, q.amt_msat.0);
            rp.max_total_routing_fee_msat = Some(q.amt_msat.0);
            (payer, rp)
        })
        .collect();
    let one = |(payer, rp): &(PublicKey, RouteParameters)| {
        let start = Instant::now();
        let res = find_route(payer, rp, net, None, logger, &scorer, &params, &seed);
        let time = start.elapsed();
        match res {
            Ok(route) => {
                let chans = route.paths[0]
                    .hops
                    .iter()
                    .map(|h| scid_index(h.short_channel_id))
                    .collect();
                Outcome {
                    time,
                    route: Some((route.get_total_fees(), chans)),
                    error: None,
                }
            }
            Err(e) => Outcome {
                time,
                route: None,
                error: Some(e),
            },
        }
    };
    for k in keyed.iter().take(WARMUP) {
        one(k);
    }
    keyed.iter().map(one).collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let n_queries = std::env::var("DMC_RACE_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_QUERIES);
    let path = snapshot_path();

    // dmc: load and index.
    let (rss0, live0) = (vm_rss_kib(), LIVE.load(Relaxed));
    PEAK.store(live0, Relaxed);
    let t = Instant::now();
    let graph = Graph::load_describegraph(&path).expect("load snapshot");
    let t_parse = t.elapsed();
    let rg = RoutingGraph::new(&graph);
    let t_load = t.elapsed();
    let (rss1, live1, peak1) = (vm_rss_kib(), LIVE.load(Relaxed), PEAK.load(Relaxed));
    println!(
        "graph: {} nodes, {} channels",
        graph.node_count(),
        graph.channel_count()
    );
    println!(
        "dmc load: {:.0} ms (describegraph parse {:.0} ms + RoutingGraph::new {:.1} ms)",
        ms(t_load),
        ms(t_parse),
        ms(t_load - t_parse)
    );
    println!(
        "dmc memory: heap retained {:.1} MiB (RoutingGraph index {:.1} MiB of it), heap peak during load {:.1} MiB, VmRSS {:.1} -> {:.1} MiB",
        mib(live1 - live0),
        mib(rg.index_bytes()),
        mib(peak1 - live0),
        rss0 as f64 / 1024.0,
        rss1 as f64 / 1024.0
    );

    // LDK: copy the parsed graph.
    let logger = NullLogger;
    let (rss2, live2) = (vm_rss_kib(), LIVE.load(Relaxed));
    let t = Instant::now();
    // DMC_RACE_LDK_STRICT=1: leave one-sided channels as LDK sees them
    // from gossip (unusable), see `build_ldk_graph`.
    let strict = std::env::var_os("DMC_RACE_LDK_STRICT").is_some();
    let (net, feed) = build_ldk_graph(&graph, &logger, strict);
    let t_ldk = t.elapsed();
    let (rss3, live3) = (vm_rss_kib(), LIVE.load(Relaxed));
    {
        let ro = net.read_only();
        println!(
            "LDK NetworkGraph: {} nodes, {} channels, built from the parsed graph in {:.0} ms, heap {:.1} MiB, VmRSS +{:.1} MiB ({} htlc maxima clamped to capacity; {} missing directions of one-sided channels given a disabled update{})",
            ro.nodes().len(),
            ro.channels().len(),
            ms(t_ldk),
            mib(live3 - live2),
            (rss3 as f64 - rss2 as f64) / 1024.0,
            feed.clamped,
            feed.synthesized_disabled,
            if strict { ", strict mode: none" } else { "" }
        );
    }

    let valid = |id: &NodeId| PublicKey::from_slice(&id.0).is_ok();
    let qs = queries(&graph, n_queries, SEED, &valid);
    let mut sorted_amts: Vec<u64> = qs.iter().map(|q| q.amt_msat.to_sat_floor().0).collect();
    sorted_amts.sort_unstable();
    println!(
        "{} queries (seed {SEED:#x}), amounts {}..{} sat, median {} sat; {WARMUP} untimed warm-up queries per router",
        qs.len(),
        sorted_amts[0],
        sorted_amts[sorted_amts.len() - 1],
        sorted_amts[sorted_amts.len() / 2]
    );

    let wall = Instant::now();
    let dmc_plain = run_dmc(&rg, &qs, &mut Certain);
    let mc = MissionControl::new(None, MissionControlConfig::default());
    let dmc_mc = run_dmc(
        &rg,
        &qs,
        &mut probability_fn(|f, t, a, c| mc.probability(NOW, f, t, a, c)),
    );
    let ldk = run_ldk(&net, &logger, &qs);
    println!("all routing runs: {:.1} s wall", wall.elapsed().as_secs_f64());

    let runs: [(&str, &[Outcome]); 3] = [
        ("dmc p=1 (no MC)", &dmc_plain),
        ("dmc apriori MC (empty)", &dmc_mc),
        ("LDK ProbabilisticScorer", &ldk),
    ];
    let common: Vec<usize> = (0..qs.len())
        .filter(|&i| runs.iter().all(|(_, r)| r[i].route.is_some()))
        .collect();
    let p50s: Vec<Duration> = runs
        .iter()
        .map(|(_, r)| {
            let mut t: Vec<Duration> = r.iter().map(|o| o.time).collect();
            t.sort_unstable();
            percentile(&t, 0.5)
        })
        .collect();

    println!();
    println!("| router | p50 | p95 | mean | answered | mean fee (msat)* | mean hops* |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, r) in &runs {
        let mut t: Vec<Duration> = r.iter().map(|o| o.time).collect();
        t.sort_unstable();
        let mean = t.iter().sum::<Duration>() / t.len() as u32;
        let answered = r.iter().filter(|o| o.route.is_some()).count();
        let (fee, hops) = common.iter().fold((0u64, 0usize), |(f, h), &i| {
            let (fee, chans) = r[i].route.as_ref().unwrap();
            (f + fee, h + chans.len())
        });
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {answered}/{} ({:.1} %) | {:.0} | {:.2} |",
            ms(percentile(&t, 0.5)),
            ms(percentile(&t, 0.95)),
            ms(mean),
            r.len(),
            100.0 * answered as f64 / r.len() as f64,
            fee as f64 / common.len().max(1) as f64,
            hops as f64 / common.len().max(1) as f64
        );
    }
    println!(
        "\n* over the {} queries ({:.1} %) that all three answered",
        common.len(),
        100.0 * common.len() as f64 / qs.len() as f64
    );
    println!(
        "p50 ratio LDK/dmc: {:.2}x vs dmc p=1, {:.2}x vs dmc apriori",
        p50s[2].as_secs_f64() / p50s[0].as_secs_f64(),
        p50s[2].as_secs_f64() / p50s[1].as_secs_f64()
    );
    for (name, r) in runs.iter().take(2) {
        let mut ratios: Vec<f64> = (0..qs.len())
            .map(|i| ldk[i].time.as_secs_f64() / r[i].time.as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        let same = common
            .iter()
            .filter(|&&i| r[i].route.as_ref().unwrap().1 == ldk[i].route.as_ref().unwrap().1);
        println!(
            "vs {name}: median per-query LDK/dmc time ratio {:.2}x; identical channel path on {} of {} common queries; dmc faster on {:.1} % of queries",
            ratios[ratios.len() / 2],
            same.count(),
            common.len(),
            100.0 * ratios.iter().filter(|x| **x > 1.0).count() as f64 / ratios.len() as f64
        );
    }
    for (name, r) in &runs {
        let mut errs: HashMap<&str, usize> = HashMap::new();
        for o in r.iter() {
            if let Some(e) = o.error {
                *errs.entry(e).or_default() += 1;
            }
        }
        let mut errs: Vec<_> = errs.into_iter().collect();
        errs.sort_by_key(|e| std::cmp::Reverse(e.1));
        println!("{name} errors: {errs:?}");
    }
    for (lo, hi) in [(1_000u64, 10_000u64), (10_000, 100_000), (100_000, 1_000_000)] {
        let idx: Vec<usize> = (0..qs.len())
            .filter(|&i| (Sat(lo).to_msat_saturating()..Sat(hi).to_msat_saturating()).contains(&qs[i].amt_msat))
            .collect();
        let shares: Vec<String> = runs
            .iter()
            .map(|(name, r)| {
                let n = idx.iter().filter(|&&i| r[i].route.is_some()).count();
                format!("{name} {n}/{}", idx.len())
            })
            .collect();
        println!("answered, {lo}..{hi} sat: {}", shares.join(", "));
    }
    for (a, b) in [(0usize, 2usize), (1, 2)] {
        let only_a = (0..qs.len())
            .filter(|&q| runs[a].1[q].route.is_some() && runs[b].1[q].route.is_none())
            .count();
        let only_b = (0..qs.len())
            .filter(|&q| runs[a].1[q].route.is_none() && runs[b].1[q].route.is_some())
            .count();
        println!(
            "answered by {} only: {only_a}; by {} only: {only_b}",
            runs[a].0, runs[b].0
        );
    }
}
