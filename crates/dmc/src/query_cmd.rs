//! lncli's queries over the local store's mission control: `queryprob`
//! (a hop's success probability, one or a batch) and `queryroutes` (LND's
//! pathfinding over a channel graph), printed as lncli prints them.

use std::path::Path;

use dmc_core::json::Json;
use dmc_core::rpc::{self, PairData};
use dmc_core::{MissionControl, Msat, NodeId, Sat, SuccessProbability, Timestamp};
use dmc_graph::Graph;
use serde_json::Value;

use crate::args::{float_arg, input, int_arg, pubkey, read_input, sat_arg, u32_arg, CliError, Result};
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
        (None, Some(c)) => Capacity::Fixed(Sat(int_arg(c, "--capacity-sat")? as u64)),
        (None, None) => Capacity::Fixed(Sat::ZERO),
    };
    if let Some(batch) = &a.batch {
        return queryprob_batch(ctx, a.view, batch, &capacity);
    }
    let (Some(from), Some(to)) = (&a.from, &a.to) else {
        return input("queryprob needs FROM and TO (or --batch FILE)");
    };
    let from = pubkey(from, "FROM")?;
    let to = pubkey(to, "TO")?;
    let amt_msat = match (&a.amt_sat, &a.msat) {
        (Some(sat), None) => sat_arg(sat, "AMT_SAT")?,
        (None, Some(msat)) => Msat(int_arg(msat, "--msat")? as u64),
        _ => return input("queryprob needs AMT_SAT or --msat AMT_MSAT"),
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
    let dest = a.dest.as_ref().or(a.dest_pos.as_ref());
    let dest = pubkey(dest.map(String::as_str).unwrap_or(""), "DEST")?;
    let amt_msat = match (&a.amt_pos, &a.amt, &a.amt_msat) {
        (Some(s), _, _) | (None, Some(s), _) => sat_arg(s, "AMT")?,
        (None, None, Some(m)) => Msat(int_arg(m, "--amt_msat")? as u64),
        _ => return input("queryroutes needs an amount: AMT (sat), --amt or --amt_msat"),
    };
    if amt_msat == Msat::ZERO {
        return input("AMT: the amount must be greater than zero");
    }
    let source = match &a.source {
        Some(s) => Some(pubkey(s, "--source")?),
        None => None,
    };
    let time_pref = float_arg(&a.time_pref, "--time_pref")?;
    if !(-1.0..=1.0).contains(&time_pref) {
        return input(format!("--time_pref: {time_pref} is outside [-1, 1]"));
    }
    let ignored_nodes = a
        .ignored_nodes
        .iter()
        .map(|n| pubkey(n, "--ignored_node"))
        .collect::<Result<Vec<_>>>()?;
    let mut ignored_pairs = Vec::new();
    for p in &a.ignored_pairs {
        let Some((f, t)) = p.split_once(':') else {
            return input(format!("--ignored_pair: {p:?} is not FROM:TO"));
        };
        ignored_pairs.push((pubkey(f, "--ignored_pair")?, pubkey(t, "--ignored_pair")?));
    }
    let outgoing = a
        .outgoing_chan_ids
        .iter()
        .map(|c| int_arg(c, "--outgoing_chan_id").map(|v| v as u64))
        .collect::<Result<Vec<_>>>()?;
    let last_hop = match &a.last_hop {
        Some(s) => Some(pubkey(s, "--last_hop")?),
        None => None,
    };
    let final_cltv_delta = match &a.final_cltv_delta {
        Some(s) => {
            let v = u32_arg(s, "--final_cltv_delta")?;
            u16::try_from(v).or_else(|_| input(format!("--final_cltv_delta: {v} exceeds 65535")))?
        }
        None => pathfind::DEFAULT_FINAL_CLTV_DELTA,
    };
    let cltv_limit = match &a.cltv_limit {
        Some(s) => u32_arg(s, "--cltv_limit")?,
        None => pathfind::DEFAULT_MAX_TOTAL_TIMELOCK,
    };
    if cltv_limit < final_cltv_delta as u32 {
        return input(format!(
            "--cltv_limit: {cltv_limit} is below the final CLTV delta {final_cltv_delta}"
        ));
    }
    let fee_limit_msat = match &a.fee_limit {
        Some(s) => Sat(int_arg(s, "--fee_limit")? as u64).to_msat_saturating(),
        None => amt_msat,
    };
    let block_height = u32_arg(&a.block_height, "--block_height")?;
    let max_parts = u32_arg(&a.max_parts, "--max_parts")?;
    let min_shard_msat = Sat(int_arg(&a.min_shard_sat, "--min_shard_sat")? as u64).to_msat_saturating();
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
