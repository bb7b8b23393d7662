//! lncli's queries over the local store's mission control: `queryprob`
//! (a hop's success probability, one or a batch) and `queryroutes` (LND's
//! pathfinding over a channel graph), printed as lncli prints them.

use std::path::Path;

use dmc_core::json::Json;
use dmc_core::rpc::{self, PairData};
use dmc_core::{MissionControl, Msat, NodeId, Sat, SuccessProbability, Timestamp};
use dmc_graph::Graph;
use serde_json::Value;

use crate::args::{input, pubkey, read_input, CliError, Result};
use crate::cli::{QueryprobArgs, QueryroutesArgs, ViewArg};
use crate::commands::{mission_control, Ctx};

/// Where a query's capacity comes from.
enum Capacity {
    Graph(Box<Graph>),
    Fixed(Sat),
}

impl Capacity {
    /// `None`: the graph has no usable edge, so LND answers probability 0.
    fn lookup(&self, from: &NodeId, to: &NodeId, amt: Msat) -> Option<Sat> {
        match self {
            Capacity::Graph(g) => g.pair_capacity_sat(from, to, amt).ok(),
            Capacity::Fixed(c) => Some(*c),
        }
    }
}

fn probability(
    mc: &MissionControl,
    now: Timestamp,
    from: &NodeId,
    to: &NodeId,
    amt: Msat,
    capacity: Option<Sat>,
) -> f64 {
    match capacity {
        Some(c) => mc.probability(now, from, to, amt, c),
        None => 0.0,
    }
}

pub fn queryprob(ctx: &Ctx, a: &QueryprobArgs) -> Result<()> {
    let capacity = match (&a.graph, &a.capacity_sat) {
        (Some(path), _) => Capacity::Graph(Box::new(Graph::load(path).or_else(|e| input(format!("--graph: {e}")))?)),
        (None, Some(c)) => Capacity::Fixed(*c),
        (None, None) => Capacity::Fixed(Sat::ZERO),
    };
    if let Some(batch) = &a.batch {
        return queryprob_batch(ctx, a.view, batch, &capacity);
    }
    let (Some(from), Some(to)) = (a.from, a.to) else {
        return input("queryprob needs FROM and TO (or --batch FILE)");
    };
    let Some(amt_msat) = a.amt_sat.or(a.msat) else {
        return input("queryprob needs AMT_SAT or --msat AMT_MSAT");
    };
    let mc = mission_control(ctx, a.view)?;
    let cap = capacity.lookup(&from, &to, amt_msat);
    let p = probability(&mc, ctx.now, &from, &to, amt_msat, cap);
    let out = Json::object([
        ("probability", Json::double(p)),
        ("history", PairData::from_result(&mc.pair_history(&from, &to)).to_json()),
    ]);
    println!("{}", out.pretty());
    Ok(())
}

fn queryprob_batch(ctx: &Ctx, v: ViewArg, path: &Path, capacity: &Capacity) -> Result<()> {
    let text = read_input(path, "--batch")?;
    // Parse every line first: a bad line stops the batch before any output.
    let mut queries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{}: line {}", path.display(), i + 1);
        let q: Value = serde_json::from_str(line).or_else(|e| input(format!("{at}: malformed JSON: {e}")))?;
        let field = |name: &str| q.get(name).filter(|v| !v.is_null());
        let key = |name: &str| -> Result<NodeId> {
            match field(name) {
                Some(Value::String(s)) => pubkey(s, &format!("{at}: {name}")),
                Some(v) => input(format!("{at}: {name}: {v} is not a hex string")),
                None => input(format!("{at}: {name}: missing")),
            }
        };
        let num = |name: &str| -> Result<Option<u64>> {
            match field(name) {
                None => Ok(None),
                Some(v) => {
                    let n = rpc::parse_int64(v, &format!("{at}: {name}")).or_else(|e| input(e.0))?;
                    if n < 0 {
                        return input(format!("{at}: {name}: {n} is negative"));
                    }
                    Ok(Some(n as u64))
                }
            }
        };
        let (from, to) = (key("from")?, key("to")?);
        let amt_msat = num("amt_msat")?.ok_or_else(|| CliError::Input(format!("{at}: amt_msat: missing")))?;
        queries.push((from, to, Msat(amt_msat), num("capacity_sat")?.map(Sat)));
    }
    let mc = mission_control(ctx, v)?;
    let mut out = String::new();
    for (from, to, amt_msat, cap) in queries {
        let cap = cap.or_else(|| capacity.lookup(&from, &to, amt_msat));
        let p = probability(&mc, ctx.now, &from, &to, amt_msat, cap);
        let line = Json::object([
            ("from", Json::str(from.to_hex())),
            ("to", Json::str(to.to_hex())),
            ("amt_msat", Json::int64(amt_msat.0)),
            ("probability", Json::double(p)),
            ("history", PairData::from_result(&mc.pair_history(&from, &to)).to_json()),
        ]);
        out.push_str(&line.compact());
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

pub fn queryroutes(ctx: &Ctx, a: &QueryroutesArgs) -> Result<()> {
    use dmc_graph::pathfind::{self, PathFindingConfig, RouteRequest, RoutingGraph};
    let Some(dest) = a.dest.or(a.dest_pos) else {
        return input("DEST: missing");
    };
    let Some(amt_msat) = a.amt_pos.or(a.amt).or(a.amt_msat) else {
        return input("queryroutes needs an amount: AMT (sat), --amt or --amt_msat");
    };
    if amt_msat == Msat::ZERO {
        return input("AMT: the amount must be greater than zero");
    }
    let source = a.source;
    let time_pref = a.time_pref;
    if !(-1.0..=1.0).contains(&time_pref) {
        return input(format!("--time_pref: {time_pref} is outside [-1, 1]"));
    }
    let ignored_nodes = a.ignored_nodes.clone();
    let mut ignored_pairs = Vec::new();
    for p in &a.ignored_pairs {
        let Some((f, t)) = p.split_once(':') else {
            return input(format!("--ignored_pair: {p:?} is not FROM:TO"));
        };
        ignored_pairs.push((pubkey(f, "--ignored_pair")?, pubkey(t, "--ignored_pair")?));
    }
    let outgoing = a.outgoing_chan_ids.clone();
    let last_hop = a.last_hop;
    let final_cltv_delta = a.final_cltv_delta.unwrap_or(pathfind::DEFAULT_FINAL_CLTV_DELTA);
    let cltv_limit = a.cltv_limit.unwrap_or(pathfind::DEFAULT_MAX_TOTAL_TIMELOCK);
    if cltv_limit < final_cltv_delta as u32 {
        return input(format!(
            "--cltv_limit: {cltv_limit} is below the final CLTV delta {final_cltv_delta}"
        ));
    }
    let fee_limit_msat = a.fee_limit.unwrap_or(amt_msat);
    let (block_height, max_parts, min_shard_msat) = (a.block_height, a.max_parts, a.min_shard);
    let graph = Graph::load(&a.graph).or_else(|e| input(format!("--graph: {e}")))?;

    let self_node = ctx.self_node()?;
    let Some(source) = source.or(self_node) else {
        return input("queryroutes needs --source or a local node (--self or `dmc self PUBKEY`)");
    };
    let mc = mission_control(ctx, a.view)?;
    let mut req = RouteRequest::new(self_node, source, dest, amt_msat);
    req.time_pref = time_pref;
    req.fee_limit_msat = fee_limit_msat;
    req.cltv_limit = cltv_limit - final_cltv_delta as u32;
    req.final_cltv_delta = final_cltv_delta;
    req.block_height = block_height;
    req.outgoing_chan_ids = outgoing;
    req.last_hop = last_hop;
    // QueryRoutes' probability source: ignore lists first, then MC or 1.
    let (mut prober, mut certain) = (mc.prober(ctx.now), pathfind::Certain);
    let mut prob = pathfind::Ignoring {
        nodes: ignored_nodes,
        pairs: ignored_pairs,
        estimate: if a.use_mc {
            &mut prober as &mut dyn SuccessProbability
        } else {
            &mut certain
        },
    };
    let routing = RoutingGraph::new(&graph);
    let cfg = PathFindingConfig::default();
    let shards = if a.mpp {
        pathfind::split_payment(&routing, &req, &cfg, &mut prob, max_parts, min_shard_msat)
    } else {
        pathfind::find_path(&routing, &req, &cfg, &mut prob).map(|(path, p)| {
            let route = pathfind::new_route(&graph, source, &path, block_height, amt_msat, final_cltv_delta, None);
            vec![pathfind::Shard { route, probability: p }]
        })
    };
    let shards = shards.map_err(|e| CliError::Runtime(e.to_string()))?;
    let success_prob = shards.iter().fold(1.0, |p, s| p * s.probability);
    let mut fields = vec![
        (
            "routes",
            Json::Array(shards.iter().map(|s| route_json(&s.route)).collect()),
        ),
        ("success_prob", Json::double(success_prob)),
    ];
    if a.mpp {
        fields.push((
            "shard_success_probs",
            Json::Array(shards.iter().map(|s| Json::double(s.probability)).collect()),
        ));
    }
    println!("{}", Json::object(fields).pretty());
    Ok(())
}

/// A route as `lncli queryroutes` prints it (lnrpc.Route, declaration order).
fn route_json(r: &dmc_graph::pathfind::BuiltRoute) -> Json {
    let mut incoming = r.total_amt_msat;
    let hops = r
        .hops
        .iter()
        .map(|h| {
            // LND prints the hop's incoming amount as chan_capacity (MarshallRoute).
            let chan_capacity = incoming.to_sat_floor().0;
            incoming = h.amt_to_forward_msat;
            let mpp = match r.mpp_total_msat {
                Some(total) => Json::object([
                    ("payment_addr", Json::str("")),
                    ("total_amt_msat", Json::int64(total.0)),
                ]),
                None => Json::Raw("null".into()),
            };
            Json::object([
                ("chan_id", Json::int64(h.chan_id)),
                ("chan_capacity", Json::int64(chan_capacity)),
                ("amt_to_forward", Json::int64(h.amt_to_forward_msat.to_sat_floor().0)),
                ("fee", Json::int64(h.fee_msat.to_sat_floor().0)),
                ("expiry", Json::int32(h.expiry)),
                ("amt_to_forward_msat", Json::int64(h.amt_to_forward_msat.0)),
                ("fee_msat", Json::int64(h.fee_msat.0)),
                ("pub_key", Json::str(h.pub_key.to_hex())),
                ("tlv_payload", Json::bool(true)),
                ("mpp_record", mpp),
                ("amp_record", Json::Raw("null".into())),
                ("custom_records", Json::Object(Vec::new())),
                ("metadata", Json::str("")),
                ("blinding_point", Json::str("")),
                ("encrypted_data", Json::str("")),
                ("total_amt_msat", Json::int64(0)),
            ])
        })
        .collect();
    let fees = r.total_fees_msat();
    Json::object([
        ("total_time_lock", Json::int32(r.total_time_lock)),
        ("total_fees", Json::int64(fees.to_sat_floor().0)),
        ("total_amt", Json::int64(r.total_amt_msat.to_sat_floor().0)),
        ("hops", Json::Array(hops)),
        ("total_fees_msat", Json::int64(fees.0)),
        ("total_amt_msat", Json::int64(r.total_amt_msat.0)),
        ("first_hop_amount_msat", Json::int64(r.total_amt_msat.0)),
        ("custom_channel_data", Json::str("")),
    ])
}
