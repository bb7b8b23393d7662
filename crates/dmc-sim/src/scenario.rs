//! The public LND tutorial's use cases, replayed on the simulator.
//!
//! * `usecase1`: Alice → Bob → Carol, 30 000 sat channels opened by the
//!   first-named party; Bob charges 1000 msat + 1 ppm. Alice pays Carol
//!   5000 sat, then 5200 sat.
//! * `usecase2`: the same nodes with 60 000 sat (Alice–Bob) and 40 000 sat
//!   (Bob–Carol) channels; Carol invoices 50 000 sat, more than Bob can
//!   forward, so the payment splits, shards fail and time out.

use dmc_core::json::Json;
use dmc_core::mission_control::probability_fn;
use dmc_core::rpc::query_mc_json;
use dmc_core::time::DurationNs;
use dmc_core::{MissionControlConfig, Msat, NodeId, Sat, Timestamp};
use dmc_graph::pathfind::{self, PathFindingConfig, RouteRequest, RoutingGraph};
use dmc_graph::{Graph, Policy};

use crate::network::{BalanceModel, Network};
use crate::payment::{pay, PaymentRecord, Sender, SimConfig};

/// The tutorial's Alice (the paying node), public key in hex.
pub const ALICE: &str = "02c60c3aea280fe7b161ba08722206a3fc6895fa4fb8c07ff68985a4bccb4992a4";
/// The tutorial's Bob (the forwarding node), public key in hex.
pub const BOB: &str = "03dbd084631519fcaccfd3a72cad4a65f42d808b86b7e362629aa221d097cb0f71";
/// The tutorial's Carol (the receiving node), public key in hex.
pub const CAROL: &str = "029ab357867f95efd81d3cff3c043dcea8cb3f96db8f5754b1a4155a590f8d50f3";
/// Alice–Bob's short channel id, 154x1x0 (the tutorial's regtest block 154, transaction 1).
pub const CHAN_ALICE_BOB: u64 = 154 << 40 | 1 << 16;
/// Bob–Carol's short channel id, 154x2x0 (same block, transaction 2).
pub const CHAN_BOB_CAROL: u64 = 154 << 40 | 2 << 16;
/// When the tutorial's first payment was made.
const START_UNIX: i64 = 1_713_070_997;

/// The scenario names `dmc sim scenario` accepts.
pub const NAMES: [&str; 2] = ["usecase1", "usecase2"];

fn node(hex: &str) -> NodeId {
    NodeId::from_hex(hex).expect("tutorial keys are valid")
}

/// LND's default policy: 1000 msat + 1 ppm, delta 40, max HTLC 99 % of capacity.
fn default_policy(capacity: Sat) -> Policy {
    Policy {
        time_lock_delta: 40,
        min_htlc_msat: Msat(1000),
        max_htlc_msat: Some(Msat(capacity.to_msat_saturating().0 / 100 * 99)),
        fee_base_msat: Msat(1000),
        fee_rate_ppm: 1,
        disabled: false,
    }
}

/// Alice–Bob and Bob–Carol channels, all liquidity with the opener.
fn tutorial_network(alice_bob_sat: u64, bob_carol_sat: u64) -> Network {
    let (a, b, c) = (node(ALICE), node(BOB), node(CAROL));
    let mut g = Graph::default();
    let (alice_bob, bob_carol) = (Sat(alice_bob_sat), Sat(bob_carol_sat));
    let p1 = default_policy(alice_bob);
    let p2 = default_policy(bob_carol);
    g.add_channel(CHAN_ALICE_BOB, a, b, alice_bob, Some(p1), Some(p1));
    g.add_channel(CHAN_BOB_CAROL, b, c, bob_carol, Some(p2), Some(p2));
    let mut net = Network::new(g, BalanceModel::Fixed { node1_fraction: 0.5 }, 0);
    net.set_balance(CHAN_ALICE_BOB, &a, alice_bob.to_msat_saturating());
    net.set_balance(CHAN_BOB_CAROL, &b, bob_carol.to_msat_saturating());
    net
}

/// What `queryroutes --use_mc` answers after the payments.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteCheck {
    /// The queried amount in sat (usecase1 checks 5 200 and 5 300).
    pub amount_sat: u64,
    /// The route's success probability under Alice's mission control after the payments (0..1).
    pub success_prob: f64,
    /// Fee of each hop, first hop first.
    pub hop_fees_msat: Vec<u64>,
}

/// Everything a scenario produced.
pub struct ScenarioOutcome {
    /// The scenario's name (one of [`NAMES`]).
    pub name: String,
    /// Alice's payments to Carol, in the order made.
    pub payments: Vec<PaymentRecord>,
    /// Alice, with the mission control the payments left her.
    pub sender: Sender,
    /// `queryroutes --use_mc` answers after the payments (usecase1 only; empty otherwise).
    pub route_checks: Vec<RouteCheck>,
    /// Node names for the report (`alice`, `bob`, `carol`).
    pub aliases: Vec<(NodeId, &'static str)>,
    /// The simulated clock after the last payment (one minute later, as the tutorial's payments
    /// were spaced).
    pub end: Timestamp,
}

/// Runs a named scenario; `None` if the name is unknown.
pub fn run(name: &str) -> Option<ScenarioOutcome> {
    let (net_sizes, invoices_sat): ((u64, u64), &[u64]) = match name {
        "usecase1" => ((30_000, 30_000), &[5000, 5200]),
        "usecase2" => ((60_000, 40_000), &[50_000]),
        _ => return None,
    };
    let mut net = tutorial_network(net_sizes.0, net_sizes.1);
    let graph_copy = net.graph.clone();
    let routing = RoutingGraph::new(&graph_copy);
    let cfg = SimConfig {
        block_height: 249,
        ..SimConfig::default()
    };
    let mut sender = Sender::new(node(ALICE), MissionControlConfig::default());
    let mut clock = Timestamp::from_unix_secs(START_UNIX);
    let mut payments = Vec::new();
    for &sat in invoices_sat {
        payments.push(pay(
            &mut net,
            &routing,
            &mut sender,
            node(CAROL),
            Sat(sat).to_msat_saturating(),
            &cfg,
            &mut clock,
        ));
        // The tutorial's payments were minutes apart.
        clock = clock.add(DurationNs::MINUTE);
    }
    let route_checks = if name == "usecase1" {
        [5200u64, 5300]
            .iter()
            .filter_map(|&sat| {
                let amt = Sat(sat).to_msat_saturating();
                let req = RouteRequest::new(Some(sender.node), sender.node, node(CAROL), amt);
                let (mc, now) = (&sender.mc, clock);
                let mut prob = probability_fn(|f, t, amt, cap| mc.probability(now, f, t, amt, cap));
                let (path, p) = pathfind::find_path(&routing, &req, &PathFindingConfig::default(), &mut prob).ok()?;
                let r = pathfind::new_route(&graph_copy, sender.node, &path, 0, amt, 80, None);
                Some(RouteCheck {
                    amount_sat: sat,
                    success_prob: p,
                    hop_fees_msat: r.hops.iter().map(|h| h.fee_msat.0).collect(),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Some(ScenarioOutcome {
        name: name.to_string(),
        payments,
        sender,
        route_checks,
        aliases: vec![(node(ALICE), "alice"), (node(BOB), "bob"), (node(CAROL), "carol")],
        end: clock,
    })
}

fn state(succeeded: bool) -> &'static str {
    if succeeded {
        "SUCCEEDED"
    } else {
        "FAILED"
    }
}

impl ScenarioOutcome {
    fn alias(&self, n: &NodeId) -> String {
        self.aliases
            .iter()
            .find(|(k, _)| k == n)
            .map_or_else(|| n.to_hex()[..10].to_string(), |(_, a)| a.to_string())
    }

    /// The `--json` report.
    pub fn to_json(&self) -> Json {
        let payments = self
            .payments
            .iter()
            .map(|p| {
                let htlcs = p
                    .htlcs
                    .iter()
                    .map(|h| {
                        Json::object([
                            ("state", Json::str(state(h.succeeded))),
                            (
                                "failure_code",
                                h.failure_code.map_or(Json::Raw("null".into()), |c| Json::str(c.name())),
                            ),
                            (
                                "failure_source_index",
                                h.failure_source_index.map_or(Json::Raw("null".into()), Json::int32),
                            ),
                            ("receiver_amt_msat", Json::int64(h.receiver_amt_msat().0)),
                            ("fee_msat", Json::int64(h.route.total_fees_msat().0)),
                            (
                                "route",
                                Json::Array(h.route.hops.iter().map(|x| Json::str(x.pub_key.to_hex())).collect()),
                            ),
                        ])
                    })
                    .collect();
                Json::object([
                    ("amount_sat", Json::int64(p.amount_msat.to_sat_floor().0)),
                    ("status", Json::str(state(p.succeeded))),
                    (
                        "failure_reason",
                        p.failure_reason.map_or(Json::Raw("null".into()), Json::str),
                    ),
                    ("htlcs", Json::Array(htlcs)),
                ])
            })
            .collect();
        let mut fields = vec![
            ("payments", Json::Array(payments)),
            ("querymc", query_mc_json(&self.sender.mc.snapshot())),
        ];
        if !self.route_checks.is_empty() {
            let checks = self
                .route_checks
                .iter()
                .map(|c| {
                    Json::object([
                        ("amount_sat", Json::int64(c.amount_sat)),
                        ("success_prob", Json::double(c.success_prob)),
                        (
                            "hop_fees_msat",
                            Json::Array(c.hop_fees_msat.iter().map(|f| Json::int64(*f)).collect()),
                        ),
                    ])
                })
                .collect();
            fields.push(("queryroutes", Json::Array(checks)));
        }
        Json::object(fields)
    }

    /// Payment tables as `lncli payinvoice` prints them, then `querymc`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for p in &self.payments {
            out += &format!("Paying {} sat to carol\n", p.amount_msat.to_sat_floor().0);
            let header = [
                "HTLC_STATE",
                "ATTEMPT_TIME",
                "RESOLVE_TIME",
                "RECEIVER_AMT",
                "FEE",
                "TIMELOCK",
                "CHAN_OUT",
                "ROUTE",
            ];
            let rows: Vec<[String; 8]> = p
                .htlcs
                .iter()
                .map(|h| {
                    let route = h
                        .route
                        .hops
                        .iter()
                        .map(|x| self.alias(&x.pub_key))
                        .collect::<Vec<_>>()
                        .join("->");
                    [
                        state(h.succeeded).to_string(),
                        format!("{:.3}", h.attempt_time_s),
                        format!("{:.3}", h.resolve_time_s),
                        format_sat(h.receiver_amt_msat()),
                        format_sat(h.route.total_fees_msat()),
                        h.route.total_time_lock.to_string(),
                        h.route.hops.first().map_or(0, |x| x.chan_id).to_string(),
                        route,
                    ]
                })
                .collect();
            let widths: Vec<usize> = (0..8)
                .map(|i| {
                    rows.iter()
                        .map(|r| r[i].len())
                        .chain([header[i].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = format!(
                "+{}+\n",
                widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+")
            );
            let row = |cells: Vec<&str>| {
                let cells: Vec<String> = cells
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!(" {c:<w$} ", w = widths[i]))
                    .collect();
                format!("|{}|\n", cells.join("|"))
            };
            out += &line;
            out += &row(header.to_vec());
            out += &line;
            for r in &rows {
                out += &row(r.iter().map(String::as_str).collect());
            }
            out += &line;
            out += &format!(
                "Amount + fee:   {} + {} sat\n",
                p.amount_msat.to_sat_floor().0,
                format_sat(p.fee_msat)
            );
            match p.failure_reason {
                None => out += "Payment status: SUCCEEDED\n\n",
                Some(r) => out += &format!("Payment status: FAILED, reason: {r}\n\n"),
            }
        }
        for c in &self.route_checks {
            out += &format!(
                "queryroutes --use_mc carol {}: success_prob {} (hop fees {:?} msat)\n",
                c.amount_sat, c.success_prob, c.hop_fees_msat
            );
        }
        out += "\nlncli querymc on alice:\n";
        out += &query_mc_json(&self.sender.mc.snapshot()).pretty();
        out.push('\n');
        out
    }
}

/// Satoshis with the msat remainder, as lncli prints fees (`1.005`).
fn format_sat(msat: Msat) -> String {
    let (sat, rest) = msat.split_sat();
    if rest == Msat::ZERO {
        sat.0.to_string()
    } else {
        let s = format!("{}.{:03}", sat.0, rest.0);
        s.trim_end_matches('0').to_string()
    }
}
