//! Cold versus warm: how much does a shared mission control help a fresh
//! wallet?
//!
//! On a real graph with hidden balances: `contributors` nodes (half among
//! the best-connected, half random) each make `payments_per_contributor`
//! payments to random destinations, learning as LND does. Their mission
//! controls are merged as a coordinator would (LND's import rules, newest
//! wins). Then a fresh wallet, attached by one channel to a random
//! well-connected node, makes `wallet_payments` payments twice from the same
//! balances: cold (empty mission control) and warm (the merged snapshot
//! imported first).

use dmc_core::json::Json;
use dmc_core::{MissionControlConfig, NodeId, PairSnapshot, Timestamp};
use dmc_graph::pathfind::RoutingGraph;
use dmc_graph::{Graph, Policy};

use crate::network::{BalanceModel, Network};
use crate::payment::{pay, PaymentRecord, Sender, SimConfig};
use crate::rng::Rng;

/// Parameters of one experiment.
#[derive(Clone, Debug)]
pub struct ExperimentParams {
    pub contributors: usize,
    pub payments_per_contributor: usize,
    pub wallet_payments: usize,
    pub seed: u64,
    /// Payment amounts are log-uniform in this range (sat).
    pub min_amount_sat: u64,
    pub max_amount_sat: u64,
    /// Capacity of the wallet's one channel (sat), all on its side.
    pub wallet_channel_sat: u64,
    /// Simulated seconds between two payments of one sender.
    pub payment_interval_s: i64,
    pub models: Vec<BalanceModel>,
    /// Unix time the simulation starts at.
    pub start_unix: i64,
}

impl Default for ExperimentParams {
    fn default() -> Self {
        ExperimentParams {
            contributors: 50,
            payments_per_contributor: 200,
            wallet_payments: 500,
            seed: 1,
            min_amount_sat: 1_000,
            max_amount_sat: 200_000,
            wallet_channel_sat: 100_000_000,
            payment_interval_s: 10,
            models: vec![
                BalanceModel::Uniform,
                BalanceModel::Bimodal {
                    scale_msat: 300_000_000,
                },
                BalanceModel::Fixed { node1_fraction: 0.5 },
            ],
            start_unix: 1_770_076_800, // 2026-02-03, the snapshot's date
        }
    }
}

/// Aggregates over one side's payments.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub payments: usize,
    pub success_rate: f64,
    pub mean_attempts: f64,
    pub p95_attempts: f64,
    pub mean_failed_htlcs: f64,
    /// Over successful payments.
    pub mean_fee_msat: f64,
    pub mean_time_s: f64,
    /// How many payments needed exactly k attempts, k = 0..
    pub attempts_histogram: Vec<usize>,
}

impl Summary {
    pub fn of(records: &[PaymentRecord]) -> Self {
        let n = records.len().max(1) as f64;
        let mut attempts: Vec<usize> = records.iter().map(|r| r.attempts()).collect();
        attempts.sort_unstable();
        let p95 = if attempts.is_empty() {
            0.0
        } else {
            attempts[((attempts.len() as f64 * 0.95).ceil() as usize).clamp(1, attempts.len()) - 1] as f64
        };
        let ok: Vec<&PaymentRecord> = records.iter().filter(|r| r.succeeded).collect();
        let mut hist = vec![0usize; attempts.last().map_or(1, |m| m + 1)];
        attempts.iter().for_each(|a| hist[*a] += 1);
        Summary {
            payments: records.len(),
            success_rate: ok.len() as f64 / n,
            mean_attempts: attempts.iter().sum::<usize>() as f64 / n,
            p95_attempts: p95,
            mean_failed_htlcs: records.iter().map(|r| r.failed_htlcs()).sum::<usize>() as f64 / n,
            mean_fee_msat: ok.iter().map(|r| r.fee_msat as f64).sum::<f64>() / ok.len().max(1) as f64,
            mean_time_s: records.iter().map(|r| r.time_s).sum::<f64>() / n,
            attempts_histogram: hist,
        }
    }

    pub fn to_json(&self) -> Json {
        Json::object([
            ("payments", Json::int32(self.payments)),
            ("success_rate", Json::double(self.success_rate)),
            ("mean_attempts", Json::double(self.mean_attempts)),
            ("p95_attempts", Json::double(self.p95_attempts)),
            ("mean_failed_htlcs", Json::double(self.mean_failed_htlcs)),
            ("mean_fee_msat", Json::double(self.mean_fee_msat)),
            ("mean_time_s", Json::double(self.mean_time_s)),
            (
                "attempts_histogram",
                Json::Array(self.attempts_histogram.iter().map(|c| Json::int32(*c)).collect()),
            ),
        ])
    }
}

/// Cold and warm results for one balance model.
#[derive(Clone, Debug)]
pub struct ModelResult {
    pub model: BalanceModel,
    pub contributor_payments: usize,
    pub contributor_success_rate: f64,
    pub snapshot_pairs: usize,
    pub cold: Summary,
    pub warm: Summary,
}

/// The wallet's key: not a real node (deterministic, valid on the curve).
fn wallet_key() -> NodeId {
    NodeId::from_hex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798").expect("generator point")
}

/// Nodes with at least one usable outgoing policy, by decreasing degree.
fn nodes_by_degree(g: &Graph) -> Vec<(u32, usize)> {
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
    while out.len() < k && tries < k * 100 {
        tries += 1;
        let c = from[rng.below(from.len() as u64) as usize];
        if !out.contains(&c) && !exclude.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Progress callback: (done, total).
pub type Progress<'a> = dyn FnMut(usize, usize) + 'a;

/// Runs the experiment for every model in `params`.
pub fn run(base: &Graph, params: &ExperimentParams, progress: &mut Progress<'_>) -> Vec<ModelResult> {
    // The wallet joins the graph through one channel to a well-connected node.
    let mut rng = Rng::new(params.seed);
    let ranked = nodes_by_degree(base);
    let top: Vec<u32> = ranked.iter().take(100).map(|(i, _)| *i).collect();
    let reachable: Vec<u32> = ranked.iter().filter(|(_, d)| *d >= 2).map(|(i, _)| *i).collect();
    let hub = top[rng.below(top.len() as u64) as usize];
    let mut graph = base.clone();
    let wallet = wallet_key();
    let policy = Policy {
        time_lock_delta: 40,
        min_htlc_msat: 1000,
        max_htlc_msat: Some(params.wallet_channel_sat * 1000 / 100 * 99),
        fee_base_msat: 1000,
        fee_rate_ppm: 1,
        disabled: false,
    };
    let wallet_chan = u64::MAX >> 1;
    graph.add_channel(
        wallet_chan,
        wallet,
        *base.node(hub),
        params.wallet_channel_sat,
        Some(policy),
        Some(policy),
    );

    let half = params.contributors / 2;
    let mut contributors = pick_distinct(&mut rng, &top, half, &[hub]);
    let more = pick_distinct(
        &mut rng,
        &reachable,
        params.contributors - contributors.len(),
        &contributors,
    );
    contributors.extend(more);
    let pick_payment = |rng: &mut Rng, exclude: u32| loop {
        let d = reachable[rng.below(reachable.len() as u64) as usize];
        if d != exclude {
            return (d, rng.log_uniform(params.min_amount_sat, params.max_amount_sat) * 1000);
        }
    };
    let contributor_plan: Vec<Vec<(u32, u64)>> = contributors
        .iter()
        .map(|&c| {
            (0..params.payments_per_contributor)
                .map(|_| pick_payment(&mut rng, c))
                .collect()
        })
        .collect();
    let wallet_plan: Vec<(u32, u64)> = (0..params.wallet_payments)
        .map(|_| pick_payment(&mut rng, u32::MAX))
        .collect();

    let routing = RoutingGraph::new(&graph);
    let cfg = SimConfig::default();
    let total_work =
        params.models.len() * (contributors.len() * params.payments_per_contributor + 2 * params.wallet_payments);
    let mut done = 0;
    let mut results = Vec::new();
    for (mi, model) in params.models.iter().enumerate() {
        let mut net = Network::new(graph.clone(), *model, params.seed.wrapping_add(mi as u64 + 1));
        // The wallet funded its channel: all liquidity on its side.
        net.set_balance(wallet_chan, &wallet, params.wallet_channel_sat.saturating_mul(1000));
        let start = Timestamp::from_unix_secs(params.start_unix);
        // Contributors pay in rounds, so their observations interleave in time.
        let mut senders: Vec<Sender> = contributors
            .iter()
            .map(|&c| Sender::new(*graph.node(c), MissionControlConfig::default()))
            .collect();
        let mut clock = start;
        let mut contributor_records = 0usize;
        let mut contributor_ok = 0usize;
        for round in 0..params.payments_per_contributor {
            for (sender, plan) in senders.iter_mut().zip(&contributor_plan) {
                let (dest, amt) = plan[round];
                let mut c = clock;
                let r = pay(&mut net, &routing, sender, *graph.node(dest), amt, &cfg, &mut c);
                contributor_records += 1;
                contributor_ok += usize::from(r.succeeded);
                done += 1;
                progress(done, total_work);
            }
            clock = clock.add(params.payment_interval_s * 1_000_000_000);
        }
        // The coordinator's merge: LND's import rules, in contributor order.
        let mut merged = dmc_core::MissionControl::new(None, MissionControlConfig::default());
        for s in &senders {
            let pairs: Vec<PairSnapshot> = s.mc.snapshot();
            merged.import_pairs(&pairs, false);
        }
        let snapshot = merged.snapshot();

        let wallet_start = clock.add(60_000_000_000);
        let mut sides = Vec::new();
        for warm in [false, true] {
            let mut net_side = net.clone();
            let mut sender = Sender::new(wallet, MissionControlConfig::default());
            if warm {
                sender.mc.import_pairs(&snapshot, false);
            }
            let mut clock = wallet_start;
            let mut records = Vec::with_capacity(wallet_plan.len());
            for &(dest, amt) in &wallet_plan {
                let mut c = clock;
                records.push(pay(
                    &mut net_side,
                    &routing,
                    &mut sender,
                    *graph.node(dest),
                    amt,
                    &cfg,
                    &mut c,
                ));
                clock = clock.add(params.payment_interval_s * 1_000_000_000);
                done += 1;
                progress(done, total_work);
            }
            sides.push(Summary::of(&records));
        }
        let warm = sides.pop().expect("two sides");
        let cold = sides.pop().expect("two sides");
        results.push(ModelResult {
            model: *model,
            contributor_payments: contributor_records,
            contributor_success_rate: contributor_ok as f64 / contributor_records.max(1) as f64,
            snapshot_pairs: snapshot.len(),
            cold,
            warm,
        });
    }
    results
}

/// `{"models": {"uniform": {"cold": {...}, "warm": {...}}, ...}, "params": {...}}`
pub fn report_json(results: &[ModelResult], params: &ExperimentParams) -> Json {
    let models = results
        .iter()
        .map(|r| {
            (
                r.model.name().to_string(),
                Json::object([
                    ("cold", r.cold.to_json()),
                    ("warm", r.warm.to_json()),
                    ("contributor_payments", Json::int32(r.contributor_payments)),
                    ("contributor_success_rate", Json::double(r.contributor_success_rate)),
                    ("snapshot_pairs", Json::int32(r.snapshot_pairs)),
                ]),
            )
        })
        .collect::<Vec<_>>();
    Json::object([
        ("models", Json::Object(models)),
        (
            "params",
            Json::object([
                ("contributors", Json::int32(params.contributors)),
                ("payments_per_contributor", Json::int32(params.payments_per_contributor)),
                ("wallet_payments", Json::int32(params.wallet_payments)),
                ("seed", Json::int64(params.seed)),
                ("min_amount_sat", Json::int64(params.min_amount_sat)),
                ("max_amount_sat", Json::int64(params.max_amount_sat)),
                ("wallet_channel_sat", Json::int64(params.wallet_channel_sat)),
            ]),
        ),
    ])
}

/// The human summary printed on stdout.
pub fn summary_text(results: &[ModelResult], params: &ExperimentParams) -> String {
    let mut out = format!(
        "cold vs warm: {} contributors x {} payments, wallet {} payments, seed {}\n",
        params.contributors, params.payments_per_contributor, params.wallet_payments, params.seed
    );
    out += &format!(
        "{:<8} {:<5} {:>8} {:>10} {:>8} {:>12} {:>12} {:>10}\n",
        "model", "side", "success", "attempts", "p95", "failed_htlc", "fee_msat", "time_s"
    );
    for r in results {
        for (side, s) in [("cold", &r.cold), ("warm", &r.warm)] {
            out += &format!(
                "{:<8} {:<5} {:>7.1}% {:>10.2} {:>8.0} {:>12.2} {:>12.0} {:>10.2}\n",
                r.model.name(),
                side,
                s.success_rate * 100.0,
                s.mean_attempts,
                s.p95_attempts,
                s.mean_failed_htlcs,
                s.mean_fee_msat,
                s.mean_time_s
            );
        }
        out += &format!(
            "{:<8} shared snapshot: {} pairs from {} contributor payments ({:.1}% succeeded)\n",
            "",
            r.snapshot_pairs,
            r.contributor_payments,
            r.contributor_success_rate * 100.0
        );
    }
    out
}

/// An SVG bar chart of attempts per payment, cold vs warm, one panel per model.
pub fn attempts_svg(results: &[ModelResult]) -> String {
    let (pw, ph, margin) = (420.0, 260.0, 40.0);
    let width = pw * results.len().max(1) as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        ph + 30.0
    );
    for (i, r) in results.iter().enumerate() {
        let x0 = i as f64 * pw + margin;
        let max_k = r
            .cold
            .attempts_histogram
            .len()
            .max(r.warm.attempts_histogram.len())
            .clamp(2, 21);
        let share = |s: &Summary, k: usize| {
            let c = if k + 1 == max_k {
                s.attempts_histogram.iter().skip(k).sum::<usize>()
            } else {
                s.attempts_histogram.get(k).copied().unwrap_or(0)
            };
            c as f64 / s.payments.max(1) as f64
        };
        let ymax = (0..max_k)
            .map(|k| share(&r.cold, k).max(share(&r.warm, k)))
            .fold(0.0f64, f64::max)
            .max(0.01);
        let (w, h) = (pw - 2.0 * margin, ph - 2.0 * margin);
        let bw = w / max_k as f64;
        svg += &format!(
            "<text x=\"{}\" y=\"20\" font-size=\"13\">{}: attempts per payment</text>\n",
            x0,
            r.model.name()
        );
        svg += &format!(
            "<line x1=\"{x0}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n",
            margin + h,
            x0 + w,
            margin + h
        );
        for k in 0..max_k {
            for (j, (s, color)) in [(&r.cold, "#999999"), (&r.warm, "#1f77b4")].iter().enumerate() {
                let v = share(s, k);
                let bh = v / ymax * h;
                svg += &format!(
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"/>\n",
                    x0 + k as f64 * bw + j as f64 * bw / 2.0,
                    margin + h - bh,
                    bw / 2.0 - 1.0,
                    bh
                );
            }
            if k % 2 == 1 || max_k < 10 {
                let label = if k + 1 == max_k { format!("{k}+") } else { k.to_string() };
                svg += &format!(
                    "<text x=\"{:.1}\" y=\"{}\">{label}</text>\n",
                    x0 + k as f64 * bw,
                    margin + h + 14.0
                );
            }
        }
        svg += &format!(
            "<text x=\"{}\" y=\"{}\" fill=\"#999999\">cold (mean {:.2})</text><text x=\"{}\" y=\"{}\" fill=\"#1f77b4\">warm (mean {:.2})</text>\n",
            x0 + w - 150.0,
            margin + 5.0,
            r.cold.mean_attempts,
            x0 + w - 150.0,
            margin + 20.0,
            r.warm.mean_attempts
        );
    }
    svg += "</svg>\n";
    svg
}
