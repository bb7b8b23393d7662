//! Cold versus warm: does a shared mission control make a fresh wallet pay
//! better, and how close does it come to perfect knowledge?
//!
//! # One world per seed
//!
//! A real graph with hidden balances. Under the default `flowing` balances
//! ([`crate::traffic`]) background payments and rebalancing move liquidity
//! all the time; a warm-up runs them until the balance distribution is
//! stationary ([`WarmupParams`]). Then `contributors` nodes (half among the
//! best-connected, half random) pay popular destinations as LND does, each
//! with its own mission control, and every [`ExperimentParams::sync_interval_s`]
//! export what they learned to two coordinators: dmc's
//! ([`DmcCoordinator`], the aggregation `dmc serve` runs) and the Go
//! External Coordinator's rule ([`GoCoordinator`]). After
//! [`ExperimentParams::contributor_hours`] the wallets start paying, for
//! [`ExperimentParams::wallet_hours`], while background traffic and
//! contributors go on.
//!
//! # Arms on the same payments
//!
//! For each wallet profile ([`WalletProfile`]) and estimator, four wallets
//! make the same payments at the same times on the same world:
//! `cold` (empty mission control), `warm` (imports from dmc's coordinator at
//! start and every sync interval, through `dmc sync`'s import plan:
//! [`prepare_import`] then [`apply_import`], never over its own pairs),
//! `newest_wins` (the same, from the Go rule) and `oracle` (LND's
//! pathfinding with probability 1 where the true balance covers the shard,
//! else 0: the floor). A wallet is a small sender: its payments run on the
//! world's balances plus its own earlier payments' effect ([`Overlay`]),
//! and do not move the world others see, so the arms never disturb each
//! other and differ only by what they know. Each payment is also
//! classified feasible or infeasible by a max-flow under the true balances
//! at send time (as the `cold` wallet of the first estimator sees them).
//!
//! # Statistics
//!
//! Seeds run in parallel. Every figure is a mean over all seeds' payments
//! with a two-level paired bootstrap interval ([`crate::stats`]); "gap
//! closed" is `(cold − warm) / (cold − oracle)`, `null` when the interval
//! of `cold − oracle` contains 0.

use dmc_core::time::DurationNs;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use dmc_core::aggregate::GraphStanding;
use dmc_core::estimator::{AprioriConfig, BimodalConfig, EstimatorConfig};
use dmc_core::json::Json;
use dmc_core::liquidity::LiquidityParams;
use dmc_core::rpc::PairData;
use dmc_core::sync_plan::{
    apply_import, prepare_import, record_imports, ImportedTimes, NodeState, PairKey, FIRST_HAND_HOLD_SECS,
};
use dmc_core::{DirectedPair, MissionControlConfig, Msat, NodeId, PairSnapshot, Sat, Timestamp};
use dmc_graph::pathfind::RoutingGraph;
use dmc_graph::{Graph, Policy};

use crate::availability::{Availability, AvailabilityParams};
use crate::coordinator::{export_pairs, Delta, DmcCoordinator, GoCoordinator, MIN_REPORTER_CAPACITY_SAT};
use crate::flow::FlowGraph;
use crate::liars::{self, LiarParams, Lie};
use crate::network::{Network, Overlay};
use crate::payment::{pay, PaymentRecord, Sender, SimConfig};
use crate::plot;
use crate::rng::Rng;
use crate::stats::{paired_bootstrap, ArmValues, Stat};
use crate::traffic::{balance_fractions, histogram, ks_distance, Balances, Popularity, Traffic};

const NS: DurationNs = DurationNs::SECOND;
const HOUR_NS: DurationNs = DurationNs::HOUR;

/// The arms, in report order: the first four, then the liquidity model
/// ([`MODEL_VARIANTS`]: the whole model and one ablation per component).
pub const ARMS: [&str; 9] = [
    "cold",
    "warm",
    "newest_wins",
    "oracle",
    "model",
    "model_no_shape",
    "model_no_receive",
    "model_no_staleness",
    "model_no_settled",
];

/// Index of the first model arm in [`ARMS`].
pub const FIRST_MODEL_ARM: usize = 4;

/// The oracle's index in [`ARMS`].
pub const ORACLE_ARM: usize = 3;

/// The liquidity model's parameters for each model arm, in [`ARMS`] order
/// from [`FIRST_MODEL_ARM`]: the whole model, then without its persistent
/// shape, destinations' receive shape, per-pair staleness, or the
/// settled/returned distinction.
pub fn model_variants() -> [LiquidityParams; 5] {
    let full = LiquidityParams::default();
    [
        full,
        LiquidityParams {
            use_shape: false,
            ..full
        },
        LiquidityParams {
            use_receive: false,
            ..full
        },
        LiquidityParams {
            use_staleness: false,
            ..full
        },
        LiquidityParams {
            use_settled: false,
            ..full
        },
    ]
}

/// When the balance distribution counts as stationary.
#[derive(Clone, Debug, PartialEq)]
pub struct WarmupParams {
    /// Length of one warm-up window in simulated seconds: distributions are compared window to
    /// window.
    pub window_s: i64,
    /// Kolmogorov–Smirnov distance between consecutive windows' balance
    /// fractions below which the distribution is stationary.
    pub ks_threshold: f64,
    /// Windows that always run, however small the distance.
    pub min_windows: usize,
    /// Windows after which the warm-up stops even if not stationary (the world is then reported
    /// non-stationary).
    pub max_windows: usize,
}

impl Default for WarmupParams {
    fn default() -> Self {
        WarmupParams {
            window_s: 6 * 3600,
            // Stricter than the 0.02 first proposed: at 0.02 the mainnet
            // world stops after 36 h while its distance to the start still
            // grows by 0.015 per window; at 0.005 the drift has flattened.
            ks_threshold: 0.005,
            min_windows: 4,
            max_windows: 40,
        }
    }
}

/// Where a wallet pays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destinations {
    /// Drawn by receiver popularity (capacity), like the background.
    Popular,
    /// Uniform over nodes with at least two usable channels.
    Uniform,
}

/// A kind of wallet.
#[derive(Clone, Debug, PartialEq)]
pub struct WalletProfile {
    /// The profile's name in reports and on the command line (`mobile`, `routing`).
    pub name: &'static str,
    /// Payments per seed: uniform in this range.
    pub payments: (usize, usize),
    /// Smallest payment in sat (amounts are log-uniform between the two bounds).
    pub min_amount_sat: u64,
    /// Largest payment in sat.
    pub max_amount_sat: u64,
    /// How the wallet's payees are drawn.
    pub destinations: Destinations,
    /// The wallet's one channel (sat), all on its side.
    pub channel_sat: u64,
    /// Its peer: a random node among this many best-connected.
    pub peer_among_top: usize,
}

impl WalletProfile {
    /// A phone wallet: one private channel to a well-connected LSP, a few
    /// dozen payments a day to merchants and exchanges.
    pub fn mobile() -> Self {
        WalletProfile {
            name: "mobile",
            payments: (20, 50),
            min_amount_sat: 1_000,
            max_amount_sat: 100_000,
            destinations: Destinations::Popular,
            channel_sat: 5_000_000,
            peer_among_top: 10,
        }
    }

    /// The first experiment's wallet: one 1-BTC channel to a random
    /// well-connected node, payments to random nodes.
    pub fn routing() -> Self {
        WalletProfile {
            name: "routing",
            payments: (200, 200),
            min_amount_sat: 1_000,
            max_amount_sat: 200_000,
            destinations: Destinations::Uniform,
            channel_sat: 100_000_000,
            peer_among_top: 100,
        }
    }

    /// The profile with this name (`mobile` or `routing`), if any.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mobile" => Some(Self::mobile()),
            "routing" => Some(Self::routing()),
            _ => None,
        }
    }
}

/// LND's two estimators, with their defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Estimator {
    /// LND's default `apriori` estimator with its default parameters.
    Apriori,
    /// LND's `bimodal` estimator (liquidity assumed mostly at one end) with its default parameters.
    Bimodal,
}

impl Estimator {
    /// The estimator's name in reports and on the command line (`apriori`, `bimodal`).
    pub fn name(self) -> &'static str {
        match self {
            Estimator::Apriori => "apriori",
            Estimator::Bimodal => "bimodal",
        }
    }

    /// The estimator with this [`Estimator::name`], if any.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "apriori" => Some(Estimator::Apriori),
            "bimodal" => Some(Estimator::Bimodal),
            _ => None,
        }
    }

    fn config(self) -> MissionControlConfig {
        MissionControlConfig {
            estimator: match self {
                Estimator::Apriori => EstimatorConfig::Apriori(AprioriConfig::default()),
                Estimator::Bimodal => EstimatorConfig::Bimodal(BimodalConfig::default()),
            },
            ..MissionControlConfig::default()
        }
    }
}

/// Parameters of one experiment.
#[derive(Clone, Debug)]
pub struct ExperimentParams {
    /// Base seed; seed `i` of the run is `seed + i`.
    pub seed: u64,
    /// Worlds per balance regime; every figure pools their payments.
    pub seeds: usize,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Balance regimes: each runs on its own worlds, one per seed, and reports separately.
    pub balances: Vec<Balances>,
    /// Wallet profiles: each gets its own key and channel in every world.
    pub wallets: Vec<WalletProfile>,
    /// Estimators: each wallet runs the four arms once per estimator, on the same payments.
    pub estimators: Vec<Estimator>,
    /// Nodes that pay and export their mission control to both coordinators: half among the 100
    /// best-connected, half random.
    pub contributors: usize,
    /// Payments per contributor per simulated hour (Poisson).
    pub contributor_payments_per_hour: f64,
    /// Smallest contributor payment in sat (log-uniform between the two bounds).
    pub contributor_min_amount_sat: u64,
    /// Largest contributor payment in sat.
    pub contributor_max_amount_sat: u64,
    /// How long contributors pay before the wallets start.
    pub contributor_hours: f64,
    /// How long the wallets' payments are spread over.
    pub wallet_hours: f64,
    /// `dmc sync`'s default interval, for contributors and warm wallets.
    pub sync_interval_s: i64,
    /// How long the warm wallet's own observations outrank contrary claims
    /// on import (`dmc sync`'s [`FIRST_HAND_HOLD_SECS`]; 0: LND's import
    /// alone). The newest-wins arm imports as the Go coordinator's client
    /// does: LND's import alone.
    pub first_hand_hold_s: i64,
    /// When the warm-up of background traffic stops (flowing balances only).
    pub warmup: WarmupParams,
    /// Bootstrap replicates behind every 95 % interval.
    pub bootstrap_reps: usize,
    /// Offline nodes (off by default).
    pub availability: AvailabilityParams,
    /// Unix time the simulation starts at.
    pub start_unix: i64,
    /// Lying contributors (none by default; [`crate::liars`]).
    pub liars: Option<LiarParams>,
}

impl Default for ExperimentParams {
    fn default() -> Self {
        ExperimentParams {
            seed: 1,
            // Six, not five: on two cores both take three rounds.
            seeds: 6,
            threads: 0,
            balances: vec![Balances::parse("flowing").expect("flowing")],
            wallets: vec![WalletProfile::mobile(), WalletProfile::routing()],
            estimators: vec![Estimator::Apriori, Estimator::Bimodal],
            contributors: 50,
            contributor_payments_per_hour: 1.0,
            contributor_min_amount_sat: 1_000,
            contributor_max_amount_sat: 200_000,
            contributor_hours: 12.0,
            wallet_hours: 24.0,
            sync_interval_s: 600,
            first_hand_hold_s: FIRST_HAND_HOLD_SECS,
            warmup: WarmupParams::default(),
            bootstrap_reps: 1000,
            availability: AvailabilityParams::default(),
            start_unix: 1_770_076_800, // 2026-02-03, the snapshot's date
            liars: None,
        }
    }
}

/// What one wallet payment cost in one arm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// The whole amount reached the payee.
    pub succeeded: bool,
    /// HTLCs that failed (MPP timeouts included): the headline figure, `failed_htlcs_per_payment`.
    pub failed_htlcs: usize,
    /// HTLCs sent, settled or failed (`attempts_per_payment`).
    pub attempts: usize,
    /// Simulated seconds from the payment's start to settlement or final failure (`time_to_pay_s`).
    pub time_s: f64,
    /// Fees of the settled HTLCs in msat; 0 for a failed payment.
    pub fee_msat: Msat,
}

impl Outcome {
    fn of(r: &PaymentRecord) -> Self {
        Outcome {
            succeeded: r.succeeded,
            failed_htlcs: r.failed_htlcs(),
            attempts: r.attempts(),
            time_s: r.time_s,
            fee_msat: r.fee_msat,
        }
    }
}

/// One wallet profile and estimator in one seed: every arm's outcome per payment.
#[derive(Clone, Debug, PartialEq)]
pub struct WalletRun {
    /// The wallet profile's name.
    pub wallet: &'static str,
    /// The estimator every arm of this run used.
    pub estimator: Estimator,
    /// Whether each payment was feasible under the true balances.
    pub feasible: Vec<bool>,
    /// `outcomes[arm][payment]`, arms in [`ARMS`] order.
    pub outcomes: Vec<Vec<Outcome>>,
    /// Pairs each importing arm imported in total (warm, newest_wins).
    pub imported: [usize; 2],
    /// Pairs where the warm arm left out a claim contradicting its own
    /// observation of the last [`ExperimentParams::first_hand_hold_s`].
    pub first_hand_kept: usize,
    /// Removals the warm arm's deltas announced (ignored: lnd cannot
    /// delete a pair, as `dmc sync` ignores them).
    pub removals_ignored: usize,
}

/// One warm-up window.
#[derive(Clone, Debug, PartialEq)]
pub struct WarmupWindow {
    /// Simulated hours since the warm-up started, at the window's end.
    pub hour: f64,
    /// KS distance to the previous window, and to the start.
    pub ks_previous: f64,
    /// KS distance between this window's balance fractions and those at the start of the warm-up
    /// (the drift so far).
    pub ks_start: f64,
    /// Share of directions in 10 equal balance-fraction bins.
    pub histogram: Vec<f64>,
}

/// One seed's world.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedRun {
    /// The balance regime's name ([`Balances::name`]).
    pub balances: &'static str,
    /// The world's seed.
    pub seed: u64,
    /// The warm-up's windows (empty for static balances).
    pub warmup: Vec<WarmupWindow>,
    /// Whether the warm-up reached the KS threshold before `max_windows` (always true for static
    /// balances).
    pub stationary: bool,
    /// What the background traffic did over the whole run, warm-up included (zeros for static
    /// balances).
    pub background: crate::traffic::TrafficStats,
    /// Payments the contributors made.
    pub contributor_payments: usize,
    /// Of those, the ones that succeeded.
    pub contributor_successes: usize,
    /// Pairs dmc's coordinator serves at the end.
    pub dmc_pairs: usize,
    /// Pairs the liquidity model has evidence of at the end.
    pub model_pairs: usize,
    /// Pairs the whole model served its wallets at the end.
    pub model_served: usize,
    /// Pairs dmc's coordinator holds records of but does not serve.
    pub dmc_held: usize,
    /// Pairs the Go coordinator's store holds at the end (it serves them all).
    pub go_pairs: usize,
    /// Contributors that lied.
    pub liars: usize,
    /// Their mean reputation at the end (`None` without liars).
    pub liar_reputation: Option<f64>,
    /// Honest contributors whose reputation ended below 1.
    pub honest_penalised: usize,
    /// Pairs dmc served at the end with amounts the liars moved, by the
    /// pair's honest reporters: none, one, more ([`DmcCoordinator::moved_by`]).
    pub liar_moved: [usize; 3],
    /// One run per wallet profile and estimator.
    pub wallets: Vec<WalletRun>,
}

/// The wallets' keys: not real nodes (deterministic, valid on the curve: G and 2G).
fn wallet_key(i: usize) -> NodeId {
    let hex = [
        "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
        "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
        "02e493dbf1c10d80f3581e4904930b1404cc6c13900ee0758474fa94abe8c4cd13",
    ];
    NodeId::from_hex(hex[i % hex.len()]).expect("curve point")
}

/// Nodes with at least one usable outgoing policy, by decreasing degree.
pub(crate) fn nodes_by_degree(g: &Graph) -> Vec<(u32, usize)> {
    let mut deg = vec![0usize; g.node_count()];
    for ch in g.channels() {
        if ch.policies[0].is_some_and(|p| !p.disabled) {
            deg[ch.node1 as usize] += 1;
        }
        if ch.policies[1].is_some_and(|p| !p.disabled) {
            deg[ch.node2 as usize] += 1;
        }
    }
    let mut v: Vec<(u32, usize)> = deg
        .into_iter()
        .enumerate()
        .map(|(i, d)| (i as u32, d))
        .filter(|(_, d)| *d > 0)
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn pick_distinct(rng: &mut Rng, from: &[u32], k: usize, exclude: &[u32]) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    let mut tries = 0;
    while out.len() < k && tries < k * 100 + 100 && !from.is_empty() {
        tries += 1;
        let c = from[rng.below(from.len() as u64) as usize];
        if !out.contains(&c) && !exclude.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Poisson arrival times in `[from, to)` at `per_hour`.
fn arrivals(rng: &mut Rng, from: Timestamp, to: Timestamp, per_hour: f64) -> Vec<Timestamp> {
    let mut out = Vec::new();
    if per_hour <= 0.0 || !per_hour.is_finite() {
        return out;
    }
    let mut t = from;
    loop {
        let hours = -(1.0 - rng.f64()).ln() / per_hour;
        t = t.add(DurationNs(((hours * 3600.0 * 1e9) as i64).max(1)));
        if !to.after(t) {
            return out;
        }
        out.push(t);
    }
}

/// Runs background traffic in windows until consecutive windows' balance
/// distributions are within the KS threshold (after at least
/// `min_windows`), or `max_windows` have passed. Returns the windows,
/// whether it became stationary, and the time it ended.
pub fn warm_up(
    net: &mut Network,
    traffic: &mut Traffic,
    start: Timestamp,
    params: &WarmupParams,
    on_window: &dyn Fn(usize),
) -> (Vec<WarmupWindow>, bool, Timestamp) {
    let mut clock = start;
    let mut windows = Vec::new();
    let first = balance_fractions(net);
    let mut prev = first.clone();
    for w in 1..=params.max_windows {
        clock = clock.add(params.window_s * NS);
        traffic.advance(net, clock);
        let cur = balance_fractions(net);
        let ks_previous = ks_distance(&prev, &cur);
        windows.push(WarmupWindow {
            hour: (w as i64 * params.window_s) as f64 / 3600.0,
            ks_previous,
            ks_start: ks_distance(&first, &cur),
            histogram: histogram(&cur, 10),
        });
        prev = cur;
        on_window(w);
        if w >= params.min_windows && ks_previous < params.ks_threshold {
            return (windows, true, clock);
        }
    }
    (windows, false, clock)
}

/// One wallet arm: its sender, its view of the world, its sync cursor.
struct Arm {
    sender: Sender,
    /// When its previous payment ended: a sender's payments do not overlap,
    /// so its mission control never holds a result newer than its clock.
    busy_until: Timestamp,
    overlay: Overlay,
    cursor: u64,
    /// `dmc sync`'s import ledger: the newest times imported per pair.
    ledger: HashMap<PairKey, ImportedTimes>,
    imported: usize,
    first_hand_kept: usize,
    removals_ignored: usize,
    outcomes: Vec<Outcome>,
}

struct WalletSide {
    profile: usize,
    estimator: Estimator,
    node: NodeId,
    arms: Vec<Arm>,
    feasible: Vec<bool>,
}

/// Where an arm imports from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// dmc's last-observation robust aggregate.
    Aggregate,
    /// The Go coordinator's newest-wins store.
    NewestWins,
    /// dmc's liquidity model, variant `i` of [`model_variants`].
    Model(usize),
}

/// Which coordinator an arm imports from.
fn arm_source(arm: usize) -> Option<Source> {
    match arm {
        1 => Some(Source::Aggregate),
        2 => Some(Source::NewestWins),
        a if a >= FIRST_MODEL_ARM && a < ARMS.len() => Some(Source::Model(a - FIRST_MODEL_ARM)),
        _ => None,
    }
}

/// `dmc sync`'s import cycle on a simulated wallet at `now`, holding its
/// own observations for `first_hand_hold_s`.
fn sync_arm(arm: &mut Arm, node: &NodeId, now: Timestamp, first_hand_hold_s: i64, coord: &dyn Fn(u64) -> Delta) {
    let Delta { pairs, removed, cursor } = coord(arm.cursor);
    arm.cursor = cursor;
    // lnd cannot delete a pair: `dmc sync` counts removals and imports the rest.
    arm.removals_ignored += removed.len();
    if pairs.is_empty() {
        return;
    }
    // What lnd holds for these pairs now (querymc), for the not-newer check.
    let held: HashMap<PairKey, PairData> = pairs
        .iter()
        .filter_map(|p| {
            let key = dmc_core::sync_plan::key_of(p)?;
            let r = arm.sender.mc.pair_history(&key.0, &key.1);
            (r != dmc_core::TimedPairResult::default()).then(|| (key, PairData::from_result(&r)))
        })
        .collect();
    let state = NodeState {
        mc: &held,
        imported: &arm.ledger,
        now_unix: now.unix_secs(),
        first_hand_hold_secs: first_hand_hold_s,
    };
    let plan = prepare_import(&pairs, Some(node), Some(&state));
    arm.first_hand_kept += plan.first_hand_kept;
    if !plan.pairs.is_empty() && apply_import(&mut arm.sender.mc, &plan.pairs, false).is_ok() {
        arm.imported += plan.pairs.len();
    }
    record_imports(&mut arm.ledger, plan.pairs.iter().chain(&plan.not_newer));
}

/// A sender joining `graph` by one channel `chan` of `capacity_sat` to
/// `peer` (`htlc_maximum` 99 % of it, a small fee either way).
pub(crate) fn attach_sender(graph: &mut Graph, key: NodeId, peer: u32, chan: u64, capacity_sat: Sat) {
    let capacity = capacity_sat.to_msat_saturating();
    let policy = Policy {
        time_lock_delta: 40,
        min_htlc_msat: Msat(1000),
        max_htlc_msat: Some(Msat(capacity.0 / 100 * 99)),
        fee_base_msat: Msat(1000),
        fee_rate_ppm: 1,
        disabled: false,
    };
    let peer_key = *graph.node(peer);
    graph.add_channel(chan, key, peer_key, capacity_sat, Some(policy), Some(policy));
}

/// One seed's balances, drawn from `balances`' model, and its background
/// traffic if they flow; `exclude` take no part in the background.
pub(crate) fn seed_world(
    graph: &Graph,
    balances: &Balances,
    exclude: &[u32],
    seed: u64,
    start: Timestamp,
) -> (Network, Option<Traffic>) {
    let net = Network::new(graph.clone(), balances.initial(), seed.wrapping_mul(31).wrapping_add(7));
    let traffic = match balances {
        Balances::Flowing { traffic, .. } => Some(Traffic::new(
            graph,
            traffic.clone(),
            exclude,
            seed.wrapping_mul(17).wrapping_add(3),
            start,
        )),
        Balances::Static(_) => None,
    };
    (net, traffic)
}

/// Runs one seed's world; `progress` gets per-mille of simulated time.
pub fn run_seed(
    base: &Graph,
    params: &ExperimentParams,
    balances: &Balances,
    seed: u64,
    progress: &AtomicUsize,
) -> SeedRun {
    let mut rng = Rng::new(seed);
    let ranked = nodes_by_degree(base);
    let reachable: Vec<u32> = ranked.iter().filter(|(_, d)| *d >= 2).map(|(i, _)| *i).collect();
    let mut graph = base.clone();
    // The wallets join through one channel each.
    let mut wallet_nodes = Vec::new();
    let mut wallet_chans = Vec::new();
    let mut wallet_peers = Vec::new();
    for (wi, w) in params.wallets.iter().enumerate() {
        let top: Vec<u32> = ranked.iter().take(w.peer_among_top.max(1)).map(|(i, _)| *i).collect();
        let peer = top[rng.below(top.len() as u64) as usize];
        let chan = (u64::MAX >> 1) - wi as u64;
        let key = wallet_key(wi);
        attach_sender(&mut graph, key, peer, chan, Sat(w.channel_sat));
        wallet_nodes.push(key);
        wallet_chans.push(chan);
        wallet_peers.push(peer);
    }
    let wallet_idx: Vec<u32> = wallet_nodes.iter().filter_map(|k| graph.node_index(k)).collect();
    let routing = RoutingGraph::new(&graph);
    let cfg = SimConfig::default();
    let start = Timestamp::from_unix_secs(params.start_unix);
    let (mut net, mut traffic) = seed_world(&graph, balances, &wallet_idx, seed, start);
    for (w, (key, chan)) in params.wallets.iter().zip(wallet_nodes.iter().zip(&wallet_chans)) {
        net.set_balance(*chan, key, Sat(w.channel_sat).to_msat_saturating());
    }
    let receivers = Popularity::by_capacity(&graph, &wallet_idx);
    let total_hours = params.contributor_hours + params.wallet_hours;
    let report = |p: f64| progress.store((p.clamp(0.0, 1.0) * 1000.0) as usize, Ordering::Relaxed);

    // Warm-up until the balance distribution is stationary.
    let (warmup, stationary, clock) = match traffic.as_mut() {
        Some(t) => warm_up(&mut net, t, start, &params.warmup, &|w| {
            report(0.2 * w as f64 / params.warmup.max_windows.max(1) as f64)
        }),
        None => (Vec::new(), true, start),
    };

    // Contributors and their schedule.
    let top100: Vec<u32> = ranked.iter().take(100).map(|(i, _)| *i).collect();
    let half = params.contributors / 2;
    let mut contributors = pick_distinct(&mut rng, &top100, half, &wallet_idx);
    let more = pick_distinct(
        &mut rng,
        &reachable,
        params.contributors.saturating_sub(contributors.len()),
        &[contributors.as_slice(), wallet_idx.as_slice()].concat(),
    );
    contributors.extend(more);
    let contributor_start = clock;
    // Outages start with the contributors; the experiment's own senders and the wallets' peers stay up.
    let pinned: Vec<u32> = [wallet_idx.as_slice(), wallet_peers.as_slice(), contributors.as_slice()].concat();
    let mut availability = Availability::new(
        &mut net,
        params.availability.clone(),
        &pinned,
        seed.wrapping_mul(13).wrapping_add(5),
        contributor_start,
    );
    let wallet_start = contributor_start.add(DurationNs(
        (params.contributor_hours * HOUR_NS.as_nanos() as f64) as i64,
    ));
    let end = wallet_start.add(DurationNs((params.wallet_hours * HOUR_NS.as_nanos() as f64) as i64));
    let mut senders: Vec<Sender> = contributors
        .iter()
        .map(|&c| Sender::new(*graph.node(c), MissionControlConfig::default()))
        .collect();
    // (time, contributor, destination, amount msat)
    let mut contributor_events: Vec<(Timestamp, usize, u32, Msat)> = Vec::new();
    for (ci, &c) in contributors.iter().enumerate() {
        for t in arrivals(&mut rng, contributor_start, end, params.contributor_payments_per_hour) {
            let dest = (0..100).find_map(|_| receivers.sample(&mut rng).filter(|d| *d != c));
            if let Some(d) = dest {
                let amt = Sat(rng.log_uniform(params.contributor_min_amount_sat, params.contributor_max_amount_sat))
                    .to_msat_saturating();
                contributor_events.push((t, ci, d, amt));
            }
        }
    }
    contributor_events.sort_by_key(|e| (e.0, e.1));
    let mut contributor_busy = vec![Timestamp::ZERO; contributors.len()];

    // Wallet payments: (time, profile, destination, amount msat)
    let mut wallet_events: Vec<(Timestamp, usize, u32, Msat)> = Vec::new();
    for (wi, w) in params.wallets.iter().enumerate() {
        let (lo, hi) = (w.payments.0.min(w.payments.1), w.payments.0.max(w.payments.1));
        let n = lo + rng.below((hi - lo + 1) as u64) as usize;
        let span = end.sub(wallet_start).max(DurationNs::NANOSECOND);
        let mut times: Vec<Timestamp> = (0..n)
            .map(|_| wallet_start.add(DurationNs((rng.f64() * span.as_nanos() as f64) as i64)))
            .collect();
        times.sort();
        for t in times {
            let me = wallet_idx.get(wi).copied().unwrap_or(u32::MAX);
            let dest = (0..100).find_map(|_| {
                let d = match w.destinations {
                    Destinations::Popular => receivers.sample(&mut rng),
                    Destinations::Uniform if !reachable.is_empty() => {
                        Some(reachable[rng.below(reachable.len() as u64) as usize])
                    }
                    Destinations::Uniform => None,
                };
                d.filter(|d| *d != me && !wallet_idx.contains(d))
            });
            if let Some(d) = dest {
                let amt = Sat(rng.log_uniform(w.min_amount_sat, w.max_amount_sat)).to_msat_saturating();
                wallet_events.push((t, wi, d, amt));
            }
        }
    }
    wallet_events.sort_by_key(|e| (e.0, e.1));

    let mut sides: Vec<WalletSide> = Vec::new();
    for (wi, &node) in wallet_nodes.iter().enumerate() {
        for &est in &params.estimators {
            let arms = (0..ARMS.len())
                .map(|a| {
                    let mut sender = Sender::new(node, est.config());
                    sender.oracle = a == ORACLE_ARM;
                    Arm {
                        sender,
                        busy_until: Timestamp::ZERO,
                        overlay: Overlay::new(),
                        cursor: 0,
                        ledger: HashMap::new(),
                        imported: 0,
                        first_hand_kept: 0,
                        removals_ignored: 0,
                        outcomes: Vec::new(),
                    }
                })
                .collect();
            sides.push(WalletSide {
                profile: wi,
                estimator: est,
                node,
                arms,
                feasible: Vec::new(),
            });
        }
    }

    // The coordinator knows the public graph (not the wallets' channels).
    let standing = dmc_graph::Standing::new(base, MIN_REPORTER_CAPACITY_SAT);
    let contributor_keys: Vec<NodeId> = contributors.iter().map(|c| *graph.node(*c)).collect();
    // Liars: established contributors, drawn with their own RNG so the world stays the same.
    let liar_of: Vec<Option<Lie>> = {
        let mut v = vec![None; contributors.len()];
        if let Some(l) = params.liars.filter(|l| l.fraction > 0.0) {
            for i in liars::choose_liars(&contributor_keys, |k| standing.is_established(k), l.fraction, seed) {
                v[i] = Some(l.kind);
            }
        }
        v
    };
    // Each liar's fixed extra pairs: the competitors it blackholes, or its own channels.
    let by_capacity = if liar_of.contains(&Some(Lie::Blackhole)) {
        liars::nodes_by_capacity(base)
    } else {
        Vec::new()
    };
    let liar_pairs: Vec<Vec<DirectedPair>> = liar_of
        .iter()
        .zip(&contributors)
        .map(|(l, &c)| match l {
            Some(Lie::Blackhole) => liars::blackhole_targets(base, &by_capacity, c, liars::BLACKHOLE_COMPETITORS),
            Some(Lie::FakeCapacity) => liars::own_pairs(base, c),
            _ => Vec::new(),
        })
        .collect();
    let mut dmc = DmcCoordinator::new(standing);
    dmc.set_graph_pairs(graph_pairs(base));
    let variants = model_variants();
    // Per contributor: whether each pair's latest success settled (the
    // payment completed) or came back (a hop before a failure), as lnd's
    // payment records say and a v2 registration carries.
    let mut settled_of: Vec<HashMap<DirectedPair, bool>> = vec![HashMap::new(); contributors.len()];
    let mut go = GoCoordinator::default();
    let mut exported: Vec<HashMap<DirectedPair, dmc_core::TimedPairResult>> = vec![HashMap::new(); senders.len()];
    let mut flow = FlowGraph::new(&graph);
    let mut next_sync = contributor_start.add(params.sync_interval_s.max(1) * NS);
    let mut wallets_synced_once = false;
    let (mut ce, mut we) = (0usize, 0usize);
    let (mut contributor_payments, mut contributor_successes) = (0usize, 0usize);
    loop {
        // The next event: a sync tick, a contributor payment or a wallet payment.
        let tc = contributor_events.get(ce).map(|e| e.0);
        let tw = wallet_events.get(we).map(|e| e.0);
        let mut t = next_sync;
        if let Some(x) = tc {
            if t.after(x) {
                t = x;
            }
        }
        if let Some(x) = tw {
            if t.after(x) {
                t = x;
            }
        }
        if t.after(end) || (tc.is_none() && tw.is_none() && next_sync.after(end)) {
            break;
        }
        if let Some(tr) = traffic.as_mut() {
            tr.advance(&mut net, t);
        }
        availability.advance(&mut net, t);
        report(0.2 + 0.8 * (t.sub(contributor_start).as_nanos() as f64 / (total_hours * HOUR_NS.as_nanos() as f64)));
        if t == next_sync {
            // Contributors export what changed; then wallets import.
            for (ci, s) in senders.iter().enumerate() {
                // A result stamped after this tick (a payment still running) goes next time.
                let held = liars::held_until(s.mc.snapshot(), t);
                let changed: Vec<PairSnapshot> = held
                    .iter()
                    .filter(|p| exported[ci].get(&p.pair) != Some(&p.result))
                    .copied()
                    .collect();
                for p in &changed {
                    exported[ci].insert(p.pair, p.result);
                }
                // A liar re-sends every lie at every tick, stamped now.
                let sent = match liar_of[ci] {
                    None => changed,
                    Some(Lie::Inverted) => liars::inverted(&held, t),
                    Some(Lie::Blackhole) => liars::blackhole(&changed, &liar_pairs[ci], t),
                    Some(Lie::FakeCapacity) => liars::fake_capacity(&held, &liar_pairs[ci], t),
                };
                if sent.is_empty() {
                    continue;
                }
                let pairs = export_pairs(&sent);
                let settled = &settled_of[ci];
                let honest = liar_of[ci].is_none();
                dmc.register_settled(contributor_keys[ci], &pairs, t, &|p| {
                    honest.then(|| settled.get(p).copied()).flatten()
                });
                go.register(&pairs);
            }
            dmc.commit();
            dmc.reputation_pass(t);
            if !wallet_start.after(t) {
                wallets_synced_once = true;
                dmc.serve_model(&variants, t);
                sync_wallets(&mut sides, &dmc, &go, t, params.first_hand_hold_s);
            }
            next_sync = next_sync.add(params.sync_interval_s.max(1) * NS);
            continue;
        }
        if tc == Some(t) {
            let (_, ci, dest, amt) = contributor_events[ce];
            ce += 1;
            let mut c = t.max(contributor_busy[ci]);
            let r = pay(
                &mut net,
                &routing,
                &mut senders[ci],
                *graph.node(dest),
                amt,
                &cfg,
                &mut c,
            );
            contributor_busy[ci] = c;
            note_settled(&mut settled_of[ci], &r);
            contributor_payments += 1;
            contributor_successes += usize::from(r.succeeded);
            continue;
        }
        if tw == Some(t) {
            let (_, wi, dest, amt) = wallet_events[we];
            we += 1;
            if !wallets_synced_once {
                // The wallet's first sync happens when it starts.
                wallets_synced_once = true;
                dmc.serve_model(&variants, t);
                sync_wallets(&mut sides, &dmc, &go, t, params.first_hand_hold_s);
            }
            let dest_id = *graph.node(dest);
            let source = wallet_idx[wi];
            let mut feasible = None;
            for side in sides.iter_mut().filter(|s| s.profile == wi) {
                for (a, arm) in side.arms.iter_mut().enumerate() {
                    if feasible.is_none() && a == 0 {
                        let f = net.with_overlay(&mut arm.overlay, |n| {
                            // An offline node carries nothing (its channels have no link).
                            let bal = |ci: u32, dir: usize| {
                                let ch = &n.graph.channels()[ci as usize];
                                if n.is_offline(ch.node1) || n.is_offline(ch.node2) {
                                    0
                                } else {
                                    n.spendable(ci, dir).0
                                }
                            };
                            flow.max_flow_up_to(source, dest, amt.0, &bal) >= amt.0
                        });
                        feasible = Some(f);
                    }
                    let mut c = t.max(arm.busy_until);
                    let sender = &mut arm.sender;
                    let r = net.with_overlay(&mut arm.overlay, |n| {
                        pay(n, &routing, sender, dest_id, amt, &cfg, &mut c)
                    });
                    arm.busy_until = c;
                    arm.outcomes.push(Outcome::of(&r));
                }
                side.feasible.push(feasible.unwrap_or(false));
            }
            continue;
        }
    }
    report(1.0);
    let liar_keys: std::collections::HashSet<NodeId> = (0..contributors.len())
        .filter(|i| liar_of[*i].is_some())
        .map(|i| contributor_keys[i])
        .collect();
    let liar_scores: Vec<f64> = (0..contributors.len())
        .filter(|i| liar_of[*i].is_some())
        .map(|i| dmc.reputation(&contributor_keys[i]))
        .collect();
    SeedRun {
        balances: balances.name(),
        seed,
        warmup,
        stationary,
        background: traffic.map(|t| t.stats).unwrap_or_default(),
        contributor_payments,
        contributor_successes,
        dmc_pairs: dmc.pairs(),
        model_pairs: dmc.model().len(),
        model_served: dmc.model_served(0),
        dmc_held: dmc.held(),
        go_pairs: go.pairs(),
        liars: liar_scores.len(),
        liar_reputation: (!liar_scores.is_empty()).then(|| liar_scores.iter().sum::<f64>() / liar_scores.len() as f64),
        honest_penalised: (0..contributors.len())
            .filter(|i| liar_of[*i].is_none() && dmc.reputation(&contributor_keys[*i]) < 1.0)
            .count(),
        liar_moved: dmc.moved_by(&liar_keys),
        wallets: sides
            .into_iter()
            .map(|s| WalletRun {
                wallet: params.wallets[s.profile].name,
                estimator: s.estimator,
                feasible: s.feasible,
                imported: [s.arms[1].imported, s.arms[2].imported],
                first_hand_kept: s.arms[1].first_hand_kept,
                removals_ignored: s.arms[1].removals_ignored,
                outcomes: s.arms.into_iter().map(|a| a.outcomes).collect(),
            })
            .collect(),
    }
}

/// Records, per pair of each HTLC's route, whether its latest success
/// settled (the HTLC settled) or came back (a hop before the failing one).
fn note_settled(settled: &mut HashMap<DirectedPair, bool>, r: &PaymentRecord) {
    for h in &r.htlcs {
        let reached = match (h.succeeded, h.failure_source_index) {
            (true, _) => h.route.hops.len(),
            (false, Some(k)) => k as usize,
            (false, None) => continue,
        };
        let mut from = h.route.source;
        for hop in h.route.hops.iter().take(reached) {
            settled.insert(DirectedPair { from, to: hop.pub_key }, h.succeeded);
            from = hop.pub_key;
        }
    }
}

/// Every directed pair of `g` with a usable policy, with the largest
/// capacity between its nodes.
fn graph_pairs(g: &Graph) -> Vec<(DirectedPair, Msat)> {
    let mut m: HashMap<DirectedPair, Msat> = HashMap::new();
    for ch in g.channels() {
        let cap = ch.capacity_sat.to_msat_saturating();
        for (dir, (a, b)) in [(ch.node1, ch.node2), (ch.node2, ch.node1)].into_iter().enumerate() {
            if ch.policies[dir].is_some_and(|p| !p.disabled) {
                let e = m
                    .entry(DirectedPair {
                        from: *g.node(a),
                        to: *g.node(b),
                    })
                    .or_default();
                *e = (*e).max(cap);
            }
        }
    }
    let mut v: Vec<(DirectedPair, Msat)> = m.into_iter().collect();
    v.sort_by_key(|(p, _)| *p);
    v
}

fn sync_wallets(sides: &mut [WalletSide], dmc: &DmcCoordinator, go: &GoCoordinator, now: Timestamp, hold_s: i64) {
    for side in sides.iter_mut() {
        let node = side.node;
        for (a, arm) in side.arms.iter_mut().enumerate() {
            match arm_source(a) {
                Some(Source::Aggregate) => sync_arm(arm, &node, now, hold_s, &|c| dmc.query(c)),
                Some(Source::NewestWins) => sync_arm(arm, &node, now, 0, &|c| go.query(c)),
                Some(Source::Model(v)) => sync_arm(arm, &node, now, hold_s, &|c| dmc.query_model(v, c)),
                None => {}
            }
        }
    }
}

/// Progress callback: (done, total).
pub type Progress<'a> = dyn FnMut(usize, usize) + 'a;

/// Runs every (balances, seed) world, in parallel, and returns them in order.
pub fn run(base: &Graph, params: &ExperimentParams, progress: &mut Progress<'_>) -> Result<Vec<SeedRun>, GraphUnfit> {
    check_graph(base)?;
    let jobs: Vec<(usize, u64)> = (0..params.balances.len())
        .flat_map(|b| (0..params.seeds as u64).map(move |s| (b, s)))
        .collect();
    let threads = if params.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        params.threads
    }
    .clamp(1, jobs.len().max(1));
    let progress_of: Vec<AtomicUsize> = jobs.iter().map(|_| AtomicUsize::new(0)).collect();
    let results: Mutex<Vec<Option<SeedRun>>> = Mutex::new(vec![None; jobs.len()]);
    let next = AtomicUsize::new(0);
    let total = jobs.len() * 1000;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| loop {
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(b, s)) = jobs.get(j) else {
                        return;
                    };
                    let run = run_seed(
                        base,
                        params,
                        &params.balances[b],
                        params.seed.wrapping_add(s),
                        &progress_of[j],
                    );
                    results.lock().expect("results lock")[j] = Some(run);
                })
            })
            .collect();
        loop {
            let done: usize = progress_of.iter().map(|p| p.load(Ordering::Relaxed)).sum();
            progress(done.min(total), total);
            if handles.iter().all(|h| h.is_finished()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    });
    progress(total, total);
    Ok(results
        .into_inner()
        .expect("results lock")
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect())
}

/// Why a graph cannot hold the experiment's senders and receivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphUnfit {
    /// No node has a channel with an enabled policy.
    NoChannel,
    /// No node has two channels with an enabled policy (no sender can route).
    NoNodeWithTwoChannels,
    /// Fewer than two nodes can be paid.
    FewerThanTwoReceivers,
}

impl std::fmt::Display for GraphUnfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GraphUnfit::NoChannel => "no node has a channel with an enabled policy",
            GraphUnfit::NoNodeWithTwoChannels => "no node has two channels with an enabled policy",
            GraphUnfit::FewerThanTwoReceivers => "fewer than two nodes can receive (an enabled policy towards them)",
        })
    }
}

impl std::error::Error for GraphUnfit {}

/// Refuses graphs the experiment cannot place its senders in.
pub fn check_graph(g: &Graph) -> Result<(), GraphUnfit> {
    let ranked = nodes_by_degree(g);
    if ranked.is_empty() {
        return Err(GraphUnfit::NoChannel);
    }
    if !ranked.iter().any(|(_, d)| *d >= 2) {
        return Err(GraphUnfit::NoNodeWithTwoChannels);
    }
    if Popularity::by_capacity(g, &[]).len() < 2 {
        return Err(GraphUnfit::FewerThanTwoReceivers);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The report: statistics over seeds.

/// A number, or `null` when it is not finite.
fn num(x: f64) -> Json {
    if x.is_finite() {
        Json::double(x)
    } else {
        Json::Raw("null".into())
    }
}

fn stat_json(s: Option<Stat>) -> Json {
    match s {
        Some(s) => Json::object([
            ("mean", num(s.mean)),
            ("ci95", Json::Array(vec![num(s.ci95.0), num(s.ci95.1)])),
        ]),
        None => Json::Raw("null".into()),
    }
}

/// One bootstrap seed for every paired statistic: the replicates draw the
/// same seeds and payments whatever arms they compare.
const PAIRED_SEED: u64 = 31;

/// A per-payment value of an arm's outcome.
type Metric = fn(&Outcome) -> f64;
/// Whether payment `i` (feasible or not) belongs to a subset.
type Subset = fn(usize, bool) -> bool;

/// The metrics of an arm, by name, as per-payment values.
const METRICS: [(&str, Metric); 5] = [
    ("failed_htlcs_per_payment", |o| o.failed_htlcs as f64),
    ("success_rate", |o| f64::from(u8::from(o.succeeded))),
    ("time_to_pay_s", |o| o.time_s),
    ("attempts_per_payment", |o| o.attempts as f64),
    // Fees paid per payment: a failed payment pays none.
    ("fee_msat", |o| o.fee_msat.as_f64()),
];

/// Which payments a subset holds.
const SUBSETS: [(&str, Subset); 5] = [
    ("all", |_, _| true),
    ("feasible", |_, f| f),
    ("infeasible", |_, f| !f),
    ("first_10", |i, _| i < 10),
    ("first_20", |i, _| i < 20),
];

/// All seeds' runs of one (balances, wallet, estimator).
pub struct ResultGroup<'a> {
    /// The balance regime's name.
    pub balances: &'static str,
    /// The wallet profile's name.
    pub wallet: &'static str,
    /// The estimator the group's runs used.
    pub estimator: Estimator,
    /// One run per seed.
    pub runs: Vec<&'a WalletRun>,
}

/// Groups seed runs by (balances, wallet, estimator), in parameter order.
pub fn group(seeds: &[SeedRun]) -> Vec<ResultGroup<'_>> {
    let mut out: Vec<ResultGroup<'_>> = Vec::new();
    for s in seeds {
        for w in &s.wallets {
            match out
                .iter_mut()
                .find(|g| g.balances == s.balances && g.wallet == w.wallet && g.estimator == w.estimator)
            {
                Some(g) => g.runs.push(w),
                None => out.push(ResultGroup {
                    balances: s.balances,
                    wallet: w.wallet,
                    estimator: w.estimator,
                    runs: vec![w],
                }),
            }
        }
    }
    out
}

impl ResultGroup<'_> {
    /// `values[arm][seed][payment]` of `metric` over the payments in `subset`.
    fn values(&self, subset: Subset, metric: Metric) -> Vec<ArmValues> {
        (0..ARMS.len())
            .map(|a| {
                self.runs
                    .iter()
                    .map(|r| {
                        r.outcomes[a]
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| subset(*i, r.feasible.get(*i).copied().unwrap_or(false)))
                            .map(|(_, o)| metric(o))
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    fn payments(&self, subset: Subset) -> usize {
        self.runs
            .iter()
            .map(|r| (0..r.feasible.len()).filter(|i| subset(*i, r.feasible[*i])).count())
            .sum()
    }

    /// Share of the group's payments that no route could have delivered (max-flow below the amount
    /// at send time), over all seeds.
    pub fn infeasible_share(&self) -> f64 {
        let n: usize = self.runs.iter().map(|r| r.feasible.len()).sum();
        let bad: usize = self
            .runs
            .iter()
            .map(|r| r.feasible.iter().filter(|f| !**f).count())
            .sum();
        bad as f64 / n.max(1) as f64
    }

    /// Mean and CI of `metric` for every arm, and of fee over settled payments.
    pub fn arm_stat(&self, subset: Subset, metric: Metric, arm: usize, reps: usize) -> Option<Stat> {
        let v = self.values(subset, metric);
        paired_bootstrap(&[&v[arm]], reps, 11 + arm as u64, |m| m[0])
    }

    fn fee_stat(&self, subset: Subset, arm: usize, reps: usize) -> Option<Stat> {
        let v: ArmValues = self
            .runs
            .iter()
            .map(|r| {
                r.outcomes[arm]
                    .iter()
                    .enumerate()
                    .filter(|(i, o)| o.succeeded && subset(*i, r.feasible.get(*i).copied().unwrap_or(false)))
                    .map(|(_, o)| o.fee_msat.as_f64())
                    .collect()
            })
            .collect();
        paired_bootstrap(&[&v], reps, 23 + arm as u64, |m| m[0])
    }

    /// `a − b` of `metric`, paired.
    pub fn difference(&self, subset: Subset, metric: Metric, a: usize, b: usize, reps: usize) -> Option<Stat> {
        let v = self.values(subset, metric);
        paired_bootstrap(&[&v[a], &v[b]], reps, PAIRED_SEED, |m| m[0] - m[1])
    }

    /// `(cold − warm) / (cold − oracle)`; `None` when the CI of cold − oracle holds 0.
    pub fn gap_closed(&self, subset: Subset, metric: Metric, reps: usize) -> Option<Stat> {
        self.gap_closed_by(subset, metric, 1, reps)
    }

    /// `(cold − arm) / (cold − oracle)` for any importing arm; `None` when
    /// the CI of cold − oracle holds 0.
    pub fn gap_closed_by(&self, subset: Subset, metric: Metric, arm: usize, reps: usize) -> Option<Stat> {
        let v = self.values(subset, metric);
        // The same draws as the reported `oracle_minus_cold`, so the two agree.
        let floor = paired_bootstrap(&[&v[ORACLE_ARM], &v[0]], reps, PAIRED_SEED, |m| m[0] - m[1])?;
        if floor.ci_contains(0.0) {
            return None;
        }
        paired_bootstrap(&[&v[0], &v[arm], &v[ORACLE_ARM]], reps, PAIRED_SEED, |m| {
            (m[0] - m[1]) / (m[0] - m[2])
        })
    }

    fn subset_json(&self, subset: Subset, reps: usize) -> Json {
        let arms = ARMS
            .iter()
            .enumerate()
            .map(|(a, name)| {
                let mut fields: Vec<(String, Json)> = METRICS
                    .iter()
                    .map(|(m, f)| (m.to_string(), stat_json(self.arm_stat(subset, *f, a, reps))))
                    .collect();
                fields.push(("fee_msat_per_settled".into(), stat_json(self.fee_stat(subset, a, reps))));
                (name.to_string(), Json::Object(fields))
            })
            .collect();
        let mut pairs: Vec<(String, usize, usize)> = [
            ("warm_minus_cold", 1, 0),
            ("newest_wins_minus_cold", 2, 0),
            ("oracle_minus_cold", ORACLE_ARM, 0),
            ("warm_minus_newest_wins", 1, 2),
            ("model_minus_cold", FIRST_MODEL_ARM, 0),
            ("model_minus_warm", FIRST_MODEL_ARM, 1),
        ]
        .iter()
        .map(|(n, a, b)| (n.to_string(), *a, *b))
        .collect();
        for (a, name) in ARMS.iter().enumerate().skip(FIRST_MODEL_ARM + 1) {
            pairs.push((format!("{name}_minus_model"), a, FIRST_MODEL_ARM));
        }
        let diffs = pairs
            .iter()
            .map(|(name, a, b)| {
                (
                    name.to_string(),
                    Json::Object(
                        METRICS
                            .iter()
                            .take(3)
                            .map(|(m, f)| (m.to_string(), stat_json(self.difference(subset, *f, *a, *b, reps))))
                            .collect(),
                    ),
                )
            })
            .collect();
        let by_arm = ARMS
            .iter()
            .enumerate()
            .filter(|(a, _)| arm_source(*a).is_some())
            .map(|(a, name)| {
                (
                    name.to_string(),
                    Json::object([
                        (
                            "failed_htlcs_per_payment",
                            stat_json(self.gap_closed_by(subset, METRICS[0].1, a, reps)),
                        ),
                        (
                            "time_to_pay_s",
                            stat_json(self.gap_closed_by(subset, METRICS[2].1, a, reps)),
                        ),
                    ]),
                )
            })
            .collect();
        Json::object([
            ("payments", Json::int32(self.payments(subset))),
            ("arms", Json::Object(arms)),
            ("differences", Json::Object(diffs)),
            (
                "gap_closed",
                Json::object([
                    (
                        "failed_htlcs_per_payment",
                        stat_json(self.gap_closed(subset, METRICS[0].1, reps)),
                    ),
                    ("time_to_pay_s", stat_json(self.gap_closed(subset, METRICS[2].1, reps))),
                    ("by_arm", Json::Object(by_arm)),
                ]),
            ),
        ])
    }

    /// Payments per learning-curve bucket for this wallet.
    fn bucket(&self) -> usize {
        let n = self.runs.iter().map(|r| r.feasible.len()).max().unwrap_or(0);
        if n <= 50 {
            5
        } else {
            n.div_ceil(10)
        }
    }

    /// Failed HTLCs per payment by payment index bucket: (first index, per-arm stat).
    pub fn learning_curve(&self, reps: usize) -> Vec<(usize, Vec<Option<Stat>>)> {
        let b = self.bucket();
        let n = self.runs.iter().map(|r| r.feasible.len()).max().unwrap_or(0);
        (0..n.div_ceil(b))
            .map(|k| {
                let from = k * b;
                let stats = (0..ARMS.len())
                    .map(|a| {
                        let v: ArmValues = self
                            .runs
                            .iter()
                            .map(|r| {
                                r.outcomes[a]
                                    .iter()
                                    .skip(from)
                                    .take(b)
                                    .map(|o| o.failed_htlcs as f64)
                                    .collect()
                            })
                            .collect();
                        paired_bootstrap(&[&v], reps, 53 + k as u64, |m| m[0])
                    })
                    .collect();
                (from, stats)
            })
            .collect()
    }

    fn to_json(&self, reps: usize, liars: Option<LiarParams>) -> Json {
        let subsets = SUBSETS
            .iter()
            .map(|(name, f)| (name.to_string(), self.subset_json(*f, reps)))
            .collect();
        let curve = self
            .learning_curve(reps)
            .into_iter()
            .map(|(from, stats)| {
                Json::object([
                    ("from_payment", Json::int32(from)),
                    (
                        "arms",
                        Json::Object(
                            ARMS.iter()
                                .zip(stats)
                                .map(|(a, s)| (a.to_string(), stat_json(s)))
                                .collect(),
                        ),
                    ),
                ])
            })
            .collect();
        let imported =
            |i: usize| self.runs.iter().map(|r| r.imported[i]).sum::<usize>() as f64 / self.runs.len().max(1) as f64;
        Json::object([
            ("balances", Json::str(self.balances)),
            ("wallet", Json::str(self.wallet)),
            ("estimator", Json::str(self.estimator.name())),
            ("liars", liars_json(liars)),
            ("seeds", Json::int32(self.runs.len())),
            ("infeasible_share", num(self.infeasible_share())),
            (
                "mean_pairs_imported",
                Json::object([("warm", num(imported(0))), ("newest_wins", num(imported(1)))]),
            ),
            (
                "mean_first_hand_kept",
                num(self.runs.iter().map(|r| r.first_hand_kept).sum::<usize>() as f64 / self.runs.len().max(1) as f64),
            ),
            (
                "mean_removals_ignored",
                num(self.runs.iter().map(|r| r.removals_ignored).sum::<usize>() as f64 / self.runs.len().max(1) as f64),
            ),
            ("subsets", Json::Object(subsets)),
            (
                "learning_curve",
                Json::object([("bucket", Json::int32(self.bucket())), ("points", Json::Array(curve))]),
            ),
        ])
    }
}

/// `{"fraction": f, "kind": K}`, or `null` without liars.
fn liars_json(l: Option<LiarParams>) -> Json {
    match l.filter(|l| l.fraction > 0.0) {
        Some(l) => Json::object([("fraction", num(l.fraction)), ("kind", Json::str(l.kind.name()))]),
        None => Json::Raw("null".into()),
    }
}

fn balances_json(b: &Balances) -> Json {
    match b {
        Balances::Static(m) => Json::object([("name", Json::str(m.name())), ("moves", Json::bool(false))]),
        Balances::Flowing { initial, traffic } => Json::object([
            ("name", Json::str("flowing")),
            ("initial", Json::str(initial.name())),
            ("background_payments_per_hour", num(traffic.payments_per_hour)),
            ("background_min_amount_sat", Json::int32(traffic.min_amount_sat)),
            ("background_max_amount_sat", Json::int32(traffic.max_amount_sat)),
            (
                "background_senders",
                Json::str("uniform over nodes with a usable outgoing channel"),
            ),
            (
                "background_receivers",
                Json::str("proportional to the node's total channel capacity"),
            ),
            (
                "background_router",
                Json::str("fewest hops feasible under true balances, settles at once, no fees"),
            ),
            ("rebalance_threshold", num(traffic.rebalance.threshold)),
            ("rebalance_target", num(traffic.rebalance.target)),
            ("rebalance_rate_per_hour", num(traffic.rebalance.rate_per_hour)),
            ("rebalance_tick_s", Json::int32(traffic.rebalance.tick_s)),
            (
                "rebalance_active_window_s",
                traffic
                    .rebalance
                    .active_window_s
                    .map_or(Json::Raw("null".into()), Json::int32),
            ),
        ]),
    }
}

fn params_json(p: &ExperimentParams) -> Json {
    let wallets = p
        .wallets
        .iter()
        .map(|w| {
            Json::object([
                ("name", Json::str(w.name)),
                (
                    "payments",
                    Json::Array(vec![Json::int32(w.payments.0), Json::int32(w.payments.1)]),
                ),
                ("min_amount_sat", Json::int32(w.min_amount_sat)),
                ("max_amount_sat", Json::int32(w.max_amount_sat)),
                (
                    "destinations",
                    Json::str(match w.destinations {
                        Destinations::Popular => "popular (by capacity)",
                        Destinations::Uniform => "uniform over nodes with two usable channels",
                    }),
                ),
                ("channel_sat", Json::int32(w.channel_sat)),
                ("peer_among_top", Json::int32(w.peer_among_top)),
            ])
        })
        .collect();
    Json::object([
        ("seed", Json::int32(p.seed)),
        ("seeds", Json::int32(p.seeds)),
        ("balances", Json::Array(p.balances.iter().map(balances_json).collect())),
        ("wallets", Json::Array(wallets)),
        (
            "estimators",
            Json::Array(p.estimators.iter().map(|e| Json::str(e.name())).collect()),
        ),
        ("contributors", Json::int32(p.contributors)),
        ("contributor_payments_per_hour", num(p.contributor_payments_per_hour)),
        ("contributor_min_amount_sat", Json::int32(p.contributor_min_amount_sat)),
        ("contributor_max_amount_sat", Json::int32(p.contributor_max_amount_sat)),
        ("contributor_hours", num(p.contributor_hours)),
        ("wallet_hours", num(p.wallet_hours)),
        ("sync_interval_s", Json::int32(p.sync_interval_s)),
        ("first_hand_hold_s", Json::int32(p.first_hand_hold_s)),
        ("warmup_window_s", Json::int32(p.warmup.window_s)),
        ("warmup_ks_threshold", num(p.warmup.ks_threshold)),
        ("warmup_min_windows", Json::int32(p.warmup.min_windows)),
        ("warmup_max_windows", Json::int32(p.warmup.max_windows)),
        ("bootstrap_reps", Json::int32(p.bootstrap_reps)),
        ("offline_share", num(p.availability.offline_share)),
        ("mean_outage_s", Json::int32(p.availability.mean_outage_s)),
        ("chan_disable_timeout_s", Json::int32(p.availability.disable_after_s)),
        ("chan_enable_timeout_s", Json::int32(p.availability.enable_after_s)),
        ("start_unix", Json::int32(p.start_unix)),
        ("liars", liars_json(p.liars)),
    ])
}

fn world_json(s: &SeedRun) -> Json {
    let windows = s
        .warmup
        .iter()
        .map(|w| {
            Json::object([
                ("hour", num(w.hour)),
                ("ks_previous", num(w.ks_previous)),
                ("ks_start", num(w.ks_start)),
                ("histogram", Json::Array(w.histogram.iter().map(|x| num(*x)).collect())),
            ])
        })
        .collect();
    let b = &s.background;
    Json::object([
        ("balances", Json::str(s.balances)),
        ("seed", Json::int32(s.seed)),
        ("stationary", Json::bool(s.stationary)),
        ("warmup", Json::Array(windows)),
        (
            "background",
            Json::object([
                ("payments", Json::int32(b.payments)),
                ("settled", Json::int32(b.settled)),
                ("no_path", Json::int32(b.no_path)),
                ("mean_hops", num(b.hops as f64 / b.settled.max(1) as f64)),
                ("rebalances", Json::int32(b.rebalances)),
            ]),
        ),
        ("contributor_payments", Json::int32(s.contributor_payments)),
        (
            "contributor_success_rate",
            num(s.contributor_successes as f64 / s.contributor_payments.max(1) as f64),
        ),
        (
            "coordinator_pairs",
            Json::object([
                ("dmc", Json::int32(s.dmc_pairs)),
                ("dmc_held", Json::int32(s.dmc_held)),
                ("model_evidence", Json::int32(s.model_pairs)),
                ("model_served", Json::int32(s.model_served)),
                ("go", Json::int32(s.go_pairs)),
            ]),
        ),
        (
            "liars",
            Json::object([
                ("count", Json::int32(s.liars)),
                (
                    "mean_reputation",
                    s.liar_reputation.map_or(Json::Raw("null".into()), num),
                ),
                ("honest_penalised", Json::int32(s.honest_penalised)),
                (
                    "moved_pairs",
                    Json::object([
                        ("alone", Json::int32(s.liar_moved[0])),
                        ("one_honest", Json::int32(s.liar_moved[1])),
                        ("more_honest", Json::int32(s.liar_moved[2])),
                    ]),
                ),
            ]),
        ),
    ])
}

/// `{"params": {...}, "results": [RESULT], "worlds": [...]}` (schema in ARCHITECTURE.md).
pub fn report_json(seeds: &[SeedRun], params: &ExperimentParams) -> Json {
    let results = group(seeds)
        .iter()
        .map(|g| g.to_json(params.bootstrap_reps, params.liars))
        .collect();
    Json::object([
        ("params", params_json(params)),
        ("results", Json::Array(results)),
        ("worlds", Json::Array(seeds.iter().map(world_json).collect())),
    ])
}

fn fmt_stat(s: Option<Stat>, prec: usize) -> String {
    match s {
        Some(s) => format!("{:.p$} [{:.p$}, {:.p$}]", s.mean, s.ci95.0, s.ci95.1, p = prec),
        None => "n/a".into(),
    }
}

/// The human summary printed on stdout.
pub fn summary_text(seeds: &[SeedRun], params: &ExperimentParams) -> String {
    let reps = params.bootstrap_reps;
    let liars = match params.liars.filter(|l| l.fraction > 0.0) {
        Some(l) => format!(", {:.0}% of them lying ({})", l.fraction * 100.0, l.kind.name()),
        None => String::new(),
    };
    let mut out = format!(
        "cold vs warm: {} seeds from {}, {} contributors{liars}, {} h before and {} h with the wallets; mean [95% CI]\n",
        params.seeds, params.seed, params.contributors, params.contributor_hours, params.wallet_hours
    );
    for g in group(seeds) {
        let all = SUBSETS[0].1;
        out += &format!(
            "\n{} / {} / {}: {} payments, {:.1}% infeasible\n",
            g.balances,
            g.wallet,
            g.estimator.name(),
            g.payments(all),
            g.infeasible_share() * 100.0
        );
        out += &format!(
            "  {:<12} {:>26} {:>26} {:>26}\n",
            "arm", "failed HTLCs/payment", "success rate", "time to pay (s)"
        );
        for (a, name) in ARMS.iter().enumerate() {
            out += &format!(
                "  {:<12} {:>26} {:>26} {:>26}\n",
                name,
                fmt_stat(g.arm_stat(all, METRICS[0].1, a, reps), 3),
                fmt_stat(g.arm_stat(all, METRICS[1].1, a, reps), 3),
                fmt_stat(g.arm_stat(all, METRICS[2].1, a, reps), 2),
            );
        }
        out += &format!(
            "  warm - cold: failed HTLCs {}; gap closed: failed HTLCs {}, time {}\n",
            fmt_stat(g.difference(all, METRICS[0].1, 1, 0, reps), 3),
            fmt_stat(g.gap_closed(all, METRICS[0].1, reps), 2),
            fmt_stat(g.gap_closed(all, METRICS[2].1, reps), 2),
        );
        out += &format!(
            "  model - cold: failed HTLCs {}; gap closed: failed HTLCs {}, time {}\n",
            fmt_stat(g.difference(all, METRICS[0].1, FIRST_MODEL_ARM, 0, reps), 3),
            fmt_stat(g.gap_closed_by(all, METRICS[0].1, FIRST_MODEL_ARM, reps), 2),
            fmt_stat(g.gap_closed_by(all, METRICS[2].1, FIRST_MODEL_ARM, reps), 2),
        );
    }
    for s in seeds {
        let b = &s.background;
        out += &format!(
            "\nworld {} seed {}: warm-up {} h ({}), background {} payments ({:.1}% no path), {} rebalances; contributors {} payments ({:.1}% ok); coordinator {} pairs ({} held){}\n",
            s.balances,
            s.seed,
            s.warmup.last().map_or(0.0, |w| w.hour),
            if s.stationary { "stationary" } else { "NOT stationary" },
            b.payments,
            b.no_path as f64 * 100.0 / b.payments.max(1) as f64,
            b.rebalances,
            s.contributor_payments,
            s.contributor_successes as f64 * 100.0 / s.contributor_payments.max(1) as f64,
            s.dmc_pairs,
            s.dmc_held,
            if s.liars > 0 {
                format!(
                    "; {} liars, mean reputation {:.3}, {} honest penalised",
                    s.liars,
                    s.liar_reputation.unwrap_or(f64::NAN),
                    s.honest_penalised
                )
            } else {
                String::new()
            }
        );
    }
    out
}

/// Learning curves (failed HTLCs per payment by payment index), one panel
/// per (balances, wallet, estimator), one band per arm.
pub fn learning_figure(seeds: &[SeedRun], params: &ExperimentParams) -> plot::Figure {
    // The first four arms and the whole model; the ablations are in the report.
    let colors = [
        (120, 120, 120),
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (148, 103, 189),
    ];
    let panels = group(seeds)
        .iter()
        .map(|g| {
            let curve = g.learning_curve(params.bootstrap_reps);
            let b = g.bucket();
            let series = ARMS
                .iter()
                .enumerate()
                .take(colors.len())
                .map(|(a, name)| plot::Series {
                    name: name.to_string(),
                    color: colors[a],
                    points: curve
                        .iter()
                        .filter_map(|(from, stats)| {
                            stats[a].map(|s| plot::CurvePoint {
                                x: *from as f64 + b as f64 / 2.0,
                                mean: s.mean,
                                lo: s.ci95.0,
                                hi: s.ci95.1,
                            })
                        })
                        .collect(),
                })
                .collect();
            plot::Panel {
                title: format!("{} / {} / {}", g.balances, g.wallet, g.estimator.name()),
                x_label: "payment number".into(),
                y_label: "failed HTLCs per payment".into(),
                series,
            }
        })
        .collect::<Vec<_>>();
    let columns = if panels.len() >= 4 { 2 } else { panels.len().max(1) };
    plot::Figure {
        title: format!("Learning curves, {} seeds, 95% CI", params.seeds),
        panels,
        columns,
    }
}
