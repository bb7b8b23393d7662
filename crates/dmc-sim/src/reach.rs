//! Reach: the simulator beside LDK's published probing figures.
//!
//! LDK's maintainers measured how often a node reaches high-degree targets:
//! 600 of the best-connected nodes as targets, 300 probes per setting, one
//! probe at a time, counting a probe that got through within 10 s
//! (rust-lightning `687b851b6`, 2026-07-20: 55.7 % with the old penalties,
//! 71.3 % with the new; 69 → 82 % at 1 000 sat, 47 → 72 % at 10 000,
//! 51 → 60 % at 30 000). [`run`] does the same on a simulated world: a
//! fresh LND sender (default apriori estimator, learning across probes as
//! LDK's scorer did) with one 1-BTC channel to a well-connected node probes
//! random targets among the 600 highest-degree nodes while background
//! traffic goes on. A probe ends at the receiver like a payment to an
//! unknown hash, so it never settles: each runs on a throw-away overlay.

use dmc_core::time::DurationNs;
use dmc_core::{MissionControlConfig, Msat, NodeId, Sat, Timestamp};
use dmc_graph::pathfind::RoutingGraph;
use dmc_graph::Graph;

use crate::availability::{Availability, AvailabilityParams};
use crate::experiment::{attach_sender, nodes_by_degree, seed_world, warm_up, WarmupParams};
use crate::flow::wilson95;
use crate::network::Overlay;
use crate::payment::{pay, Sender, SimConfig};
use crate::rng::Rng;
use crate::traffic::Balances;

const NS: DurationNs = DurationNs::SECOND;

/// What to probe.
#[derive(Clone, Debug)]
pub struct ReachParams {
    /// The first seed; seed `i` of the run is `seed + i`, each a fresh world (balances, sender's
    /// peer, targets drawn).
    pub seed: u64,
    /// How many seeds (independent worlds) the rows pool.
    pub seeds: usize,
    /// How the world's balances start and move (default: flowing, with background traffic).
    pub balances: Balances,
    /// Probe amounts in sat (default LDK's 1 000, 10 000 and 30 000), probed interleaved.
    pub amounts_sat: Vec<u64>,
    /// Probes per amount and seed (default 300, as LDK's runs).
    pub probes_per_amount: usize,
    /// Targets are drawn from this many best-connected nodes.
    pub targets: usize,
    /// A probe counts if it got through within this long.
    pub within_s: f64,
    /// Simulated time between two probes.
    pub interval_s: i64,
    /// When background traffic has run long enough for balances to be stationary before the first
    /// probe.
    pub warmup: WarmupParams,
    /// Offline nodes (off by default).
    pub availability: AvailabilityParams,
    /// Simulated start time, Unix seconds (default 2026-02-03 00:00 UTC, the shipped graph's date).
    pub start_unix: i64,
}

impl Default for ReachParams {
    fn default() -> Self {
        ReachParams {
            seed: 1,
            seeds: 3,
            balances: Balances::parse("flowing").expect("flowing"),
            amounts_sat: vec![1_000, 10_000, 30_000],
            probes_per_amount: 300,
            targets: 600,
            within_s: 10.0,
            interval_s: 10,
            warmup: WarmupParams::default(),
            availability: AvailabilityParams::default(),
            start_unix: 1_770_076_800,
        }
    }
}

/// Probes that got through within the limit, at one amount (all seeds).
#[derive(Clone, Debug, PartialEq)]
pub struct ReachRow {
    /// Probe amount in sat; 0 on the last row, which pools every amount.
    pub amount_sat: u64,
    /// Probes sent at this amount, all seeds.
    pub probes: usize,
    /// Probes that reached the target within `within_s` of simulated time.
    pub reached: usize,
    /// Reached at all, whatever it took.
    pub reached_eventually: usize,
    /// `reached / probes`: the figure beside LDK's.
    pub share: f64,
    /// Wilson score 95 % interval of `share`, probes treated as independent.
    pub ci95: (f64, f64),
    /// HTLC attempts per probe, averaged over all probes (reached or not).
    pub mean_attempts: f64,
}

/// Runs the probes of every seed and pools them per amount (the last row is
/// all amounts together).
pub fn run(base: &Graph, params: &ReachParams) -> Result<Vec<ReachRow>, crate::experiment::GraphUnfit> {
    crate::experiment::check_graph(base)?;
    let mut counts = vec![(0usize, 0usize, 0usize, 0usize); params.amounts_sat.len()];
    for s in 0..params.seeds as u64 {
        let seed = params.seed.wrapping_add(s);
        for (i, c) in probe_seed(base, params, seed).into_iter().enumerate() {
            counts[i].0 += c.0;
            counts[i].1 += c.1;
            counts[i].2 += c.2;
            counts[i].3 += c.3;
        }
    }
    let row = |amount_sat: u64, (probes, reached, eventually, attempts): (usize, usize, usize, usize)| ReachRow {
        amount_sat,
        probes,
        reached,
        reached_eventually: eventually,
        share: reached as f64 / probes.max(1) as f64,
        ci95: wilson95(reached, probes),
        mean_attempts: attempts as f64 / probes.max(1) as f64,
    };
    let mut rows: Vec<ReachRow> = params
        .amounts_sat
        .iter()
        .zip(&counts)
        .map(|(a, c)| row(*a, *c))
        .collect();
    let all = counts
        .iter()
        .fold((0, 0, 0, 0), |t, c| (t.0 + c.0, t.1 + c.1, t.2 + c.2, t.3 + c.3));
    rows.push(row(0, all));
    Ok(rows)
}

/// (probes, reached in time, reached at all, attempts) per amount.
fn probe_seed(base: &Graph, params: &ReachParams, seed: u64) -> Vec<(usize, usize, usize, usize)> {
    let mut rng = Rng::new(seed);
    let ranked = nodes_by_degree(base);
    let top: Vec<u32> = ranked.iter().take(100).map(|(i, _)| *i).collect();
    let mut targets: Vec<u32> = ranked.iter().take(params.targets.max(1)).map(|(i, _)| *i).collect();
    let mut graph = base.clone();
    let me = NodeId::from_hex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798").expect("G");
    let peer = top[rng.below(top.len().max(1) as u64) as usize];
    targets.retain(|t| *t != peer);
    if targets.is_empty() {
        return vec![(0, 0, 0, 0); params.amounts_sat.len()];
    }
    let chan = u64::MAX >> 1;
    attach_sender(&mut graph, me, peer, chan, Sat(100_000_000));
    let me_idx = graph.node_index(&me).expect("added");
    let routing = RoutingGraph::new(&graph);
    let start = Timestamp::from_unix_secs(params.start_unix);
    let (mut net, mut traffic) = seed_world(&graph, &params.balances, &[me_idx], seed, start);
    net.set_balance(chan, &me, Msat(100_000_000_000));
    let mut clock = match traffic.as_mut() {
        Some(t) => warm_up(&mut net, t, start, &params.warmup, &|_| ()).2,
        None => start,
    };
    // LDK's probes are single-path: no MPP splitting.
    let cfg = SimConfig {
        max_parts: 1,
        ..SimConfig::default()
    };
    let mut sender = Sender::new(me, MissionControlConfig::default());
    let mut out = vec![(0, 0, 0, 0); params.amounts_sat.len()];
    let mut busy_until = clock;
    let mut availability = Availability::new(
        &mut net,
        params.availability.clone(),
        &[me_idx, peer],
        seed.wrapping_mul(13).wrapping_add(5),
        clock,
    );
    // Amounts interleaved, one probe at a time.
    for _ in 0..params.probes_per_amount {
        for (i, amt) in params.amounts_sat.iter().enumerate() {
            clock = clock.add(params.interval_s.max(1) * NS);
            if let Some(t) = traffic.as_mut() {
                t.advance(&mut net, clock);
            }
            availability.advance(&mut net, clock);
            let target = targets[rng.below(targets.len() as u64) as usize];
            // One probe at a time: the next starts when the last has ended.
            let mut c = clock.max(busy_until);
            let r = net.with_overlay(&mut Overlay::new(), |n| {
                pay(
                    n,
                    &routing,
                    &mut sender,
                    *graph.node(target),
                    Sat(*amt).to_msat_saturating(),
                    &cfg,
                    &mut c,
                )
            });
            busy_until = c;
            out[i].0 += 1;
            out[i].1 += usize::from(r.succeeded && r.time_s <= params.within_s);
            out[i].2 += usize::from(r.succeeded);
            out[i].3 += r.attempts();
        }
    }
    out
}
