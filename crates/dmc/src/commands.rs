//! One function per subcommand: turn arguments into typed values (refusing
//! bad ones with exit code 2 before anything is written), call the library
//! crates, print.

use std::path::{Path, PathBuf};

use dmc_core::codec::ImportBatch;
use dmc_core::estimator::{AprioriConfig, BimodalConfig, EstimatorConfig};
use dmc_core::json::Json;
use dmc_core::rpc::{self, PairData, PairHistory};
use dmc_core::time::DurationNs;
use dmc_core::{MissionControl, NodeId, Timestamp};
use dmc_graph::Graph;
use dmc_store::{LocalStore, View};
use serde_json::Value;

use crate::args::{float_arg, input, int_arg, pubkey, read_input, u32_arg, CliError, Result};
use crate::cli::{QueryprobArgs, QueryroutesArgs, SetmccfgArgs, ViewArg};

/// Everything a command needs: the store, the clock, the local node. The
/// store is opened on first use, so bad arguments never create one.
pub struct Ctx {
    data_dir: PathBuf,
    store: std::cell::OnceCell<LocalStore>,
    now: Timestamp,
    flag_self: Option<NodeId>,
}

impl Ctx {
    pub fn new(data_dir: PathBuf, now: Timestamp, flag_self: Option<NodeId>) -> Ctx {
        Ctx {
            data_dir,
            store: std::cell::OnceCell::new(),
            now,
            flag_self,
        }
    }

    fn store(&self) -> Result<&LocalStore> {
        if let Some(s) = self.store.get() {
            return Ok(s);
        }
        let s = LocalStore::open(&self.data_dir)?;
        Ok(self.store.get_or_init(|| s))
    }

    /// `--self`, else the saved local node.
    fn self_node(&self) -> Result<Option<NodeId>> {
        match self.flag_self {
            Some(n) => Ok(Some(n)),
            None => Ok(self.store()?.self_node()?),
        }
    }
}

fn view(v: ViewArg) -> View {
    match v {
        ViewArg::Merged => View::Merged,
        ViewArg::Local => View::Local,
        ViewArg::Imported => View::Imported,
    }
}

fn mission_control(ctx: &Ctx, v: ViewArg) -> Result<MissionControl> {
    Ok(ctx.store()?.mission_control(view(v), ctx.self_node()?)?)
}

pub fn querymc(ctx: &Ctx, v: ViewArg) -> Result<()> {
    let mc = mission_control(ctx, v)?;
    println!("{}", rpc::query_mc_json(&mc.snapshot()).pretty());
    Ok(())
}

/// Refuses node keys that are not points on the curve; LND checks only
/// the length, but such keys are always a mistake in user input.
fn check_curve(pairs: &[PairHistory]) -> Result<()> {
    for (i, p) in pairs.iter().enumerate() {
        for (name, bytes) in [("node_from", &p.node_from), ("node_to", &p.node_to)] {
            if let Err(e) = NodeId::from_bytes(bytes) {
                return input(format!(
                    "pairs[{i}].{name}: {:?} is not a node public key: {e}",
                    dmc_core::node::encode_hex(bytes)
                ));
            }
        }
    }
    Ok(())
}

fn import(ctx: &Ctx, pairs: &[PairHistory], force: bool) -> Result<usize> {
    check_curve(pairs)?;
    let snapshots = rpc::validate_import(pairs).or_else(|e| input(e.0))?;
    let n = snapshots.len();
    ctx.store()?.add_import(&ImportBatch {
        time: ctx.now,
        force,
        pairs: snapshots,
    })?;
    Ok(n)
}

pub fn loadmc(ctx: &Ctx, path: &Path, offset: Option<DurationNs>, force: bool) -> Result<()> {
    let text = read_input(path, "--mcdatapath")?;
    let mut pairs = rpc::parse_query_mc_json(&text).or_else(|e| input(format!("{}: {e}", path.display())))?;
    if let Some(offset) = offset {
        let newest = rpc::shift_times(&mut pairs, offset);
        let newest = newest.map_or("none".to_string(), |t| t.to_string());
        println!(
            "Added a time offset of {}s to all timestamps. New max timestamp: {newest}",
            offset / 1_000_000_000
        );
    }
    rpc::sanitize_loadmc(&mut pairs);
    println!("Mission control file contains {} pairs.", pairs.len());
    let n = import(ctx, &pairs, force).map_err(|e| match e {
        CliError::Input(m) => CliError::Input(format!("{}: {m}", path.display())),
        other => other,
    })?;
    println!("Imported {n} pairs.");
    Ok(())
}

pub fn importmc(ctx: &Ctx, failure: bool, force: bool, from: NodeId, to: NodeId, ts: i64, amt: i64) -> Result<()> {
    if !failure && amt == 0 {
        return input("AMT_MSAT: success amount must be > 0");
    }
    let mut history = PairData::default();
    if failure {
        history.fail_amt_msat = amt;
        history.fail_time = ts;
    } else {
        history.success_amt_msat = amt;
        history.success_time = ts;
    }
    let pair = PairHistory {
        node_from: from.0.to_vec(),
        node_to: to.0.to_vec(),
        history,
    };
    import(ctx, &[pair], force)?;
    Ok(())
}

/// Where a query's capacity comes from.
enum Capacity {
    Graph(Box<Graph>),
    Fixed(u64),
}

impl Capacity {
    /// `None`: the graph has no usable edge, so LND answers probability 0.
    fn lookup(&self, from: &NodeId, to: &NodeId, amt_msat: u64) -> Option<u64> {
        match self {
            Capacity::Graph(g) => g.pair_capacity_sat(from, to, amt_msat).ok(),
            Capacity::Fixed(c) => Some(*c),
        }
    }
}

fn probability(
    mc: &MissionControl,
    now: Timestamp,
    from: &NodeId,
    to: &NodeId,
    amt_msat: u64,
    capacity_sat: Option<u64>,
) -> f64 {
    match capacity_sat {
        Some(c) => mc.probability(now, from, to, amt_msat, c),
        None => 0.0,
    }
}

pub fn queryprob(ctx: &Ctx, a: &QueryprobArgs) -> Result<()> {
    let capacity = match (&a.graph, &a.capacity_sat) {
        (Some(path), _) => Capacity::Graph(Box::new(Graph::load(path).or_else(|e| input(format!("--graph: {e}")))?)),
        (None, Some(c)) => Capacity::Fixed(int_arg(c, "--capacity-sat")? as u64),
        (None, None) => Capacity::Fixed(0),
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
        (Some(sat), None) => {
            let sat = int_arg(sat, "AMT_SAT")?;
            sat.checked_mul(1000)
                .ok_or_else(|| CliError::Input(format!("AMT_SAT: {sat} overflows when converted to msat")))?
                as u64
        }
        (None, Some(msat)) => int_arg(msat, "--msat")? as u64,
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
        queries.push((from, to, amt_msat, num("capacity_sat")?));
    }
    let mc = mission_control(ctx, v)?;
    let mut out = String::new();
    for (from, to, amt_msat, cap) in queries {
        let cap = cap.or_else(|| capacity.lookup(&from, &to, amt_msat));
        let p = probability(&mc, ctx.now, &from, &to, amt_msat, cap);
        let line = Json::object([
            ("from", Json::str(from.to_hex())),
            ("to", Json::str(to.to_hex())),
            ("amt_msat", Json::int64(amt_msat)),
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
        (Some(s), _, _) | (None, Some(s), _) => {
            let sat = int_arg(s, "AMT")?;
            sat.checked_mul(1000)
                .ok_or_else(|| CliError::Input(format!("AMT: {sat} overflows when converted to msat")))?
                as u64
        }
        (None, None, Some(m)) => int_arg(m, "--amt_msat")? as u64,
        _ => return input("queryroutes needs an amount: AMT (sat), --amt or --amt_msat"),
    };
    if amt_msat == 0 {
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
        Some(s) => (int_arg(s, "--fee_limit")? as u64).saturating_mul(1000),
        None => amt_msat,
    };
    let block_height = u32_arg(&a.block_height, "--block_height")?;
    let max_parts = u32_arg(&a.max_parts, "--max_parts")?;
    let min_shard_msat = (int_arg(&a.min_shard_sat, "--min_shard_sat")? as u64).saturating_mul(1000);
    let graph = Graph::load(&a.graph).or_else(|e| input(format!("--graph: {e}")))?;

    let self_node = ctx.self_node()?;
    let Some(source) = source.or(self_node) else {
        return input("queryroutes needs --source or a local node (--self or `dmc self PUBKEY`)");
    };
    let mc = mission_control(ctx, a.view)?;
    let prober = mc.prober(ctx.now);
    let mut req = RouteRequest::new(self_node, source, dest, amt_msat);
    req.time_pref = time_pref;
    req.fee_limit_msat = fee_limit_msat;
    req.cltv_limit = cltv_limit - final_cltv_delta as u32;
    req.final_cltv_delta = final_cltv_delta;
    req.block_height = block_height;
    req.outgoing_chan_ids = outgoing;
    req.last_hop = last_hop;
    // QueryRoutes' probability source: ignore lists first, then MC or 1.
    let mut prob = |from: &NodeId, to: &NodeId, amt: u64, cap_sat: u64| -> f64 {
        if ignored_nodes.contains(from) || ignored_pairs.contains(&(*from, *to)) {
            return 0.0;
        }
        if !a.use_mc {
            return 1.0;
        }
        prober.probability(from, to, amt, cap_sat)
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
            let chan_capacity = incoming / 1000;
            incoming = h.amt_to_forward_msat;
            let mpp = match r.mpp_total_msat {
                Some(total) => Json::object([("payment_addr", Json::str("")), ("total_amt_msat", Json::int64(total))]),
                None => Json::Raw("null".into()),
            };
            Json::object([
                ("chan_id", Json::int64(h.chan_id)),
                ("chan_capacity", Json::int64(chan_capacity)),
                ("amt_to_forward", Json::int64(h.amt_to_forward_msat / 1000)),
                ("fee", Json::int64(h.fee_msat / 1000)),
                ("expiry", Json::int32(h.expiry)),
                ("amt_to_forward_msat", Json::int64(h.amt_to_forward_msat)),
                ("fee_msat", Json::int64(h.fee_msat)),
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
        ("total_fees", Json::int64(fees / 1000)),
        ("total_amt", Json::int64(r.total_amt_msat / 1000)),
        ("hops", Json::Array(hops)),
        ("total_fees_msat", Json::int64(fees)),
        ("total_amt_msat", Json::int64(r.total_amt_msat)),
        ("first_hop_amount_msat", Json::int64(r.total_amt_msat)),
        ("custom_channel_data", Json::str("")),
    ])
}

pub fn report(ctx: &Ctx, path: &Path) -> Result<()> {
    let text = read_input(path, "--file")?;
    let (stored, _) = ctx.store()?.results()?;
    let next_id = stored.iter().map(|r| r.id + 1).max().unwrap_or(0);
    let self_node = ctx.self_node()?;
    let results = rpc::parse_payment_results(&text, |i| (next_id + i as u64, ctx.now, self_node))
        .or_else(|e| input(format!("{}: {e}", path.display())))?;
    if results.is_empty() {
        return input(format!("{}: no attempt results", path.display()));
    }
    for r in &results {
        if dmc_core::codec::result_key(r).is_none() {
            return input(format!("{}: result {}: time before 1970", path.display(), r.id));
        }
    }
    let cfg = ctx.store()?.config()?;
    // Interpret against the current state so the final reasons are those
    // LND's router would act on.
    let mut mc = mission_control(ctx, ViewArg::Merged)?;
    let outcome = ctx.store()?.add_results(&results, cfg.max_history)?;
    for r in &results {
        let reason = mc.apply_payment_result(r).map_err(|e| CliError::Input(e.to_string()))?;
        let line = Json::object([
            ("id", Json::int64(r.id)),
            (
                "final_failure_reason",
                reason.map_or(Json::Raw("null".into()), |r| Json::str(r.name())),
            ),
        ]);
        println!("{}", line.compact());
    }
    if outcome.pruned > 0 || outcome.dropped > 0 {
        eprintln!(
            "dmc: kept the newest {} results (max history): pruned {} stored, dropped {} new",
            cfg.max_history, outcome.pruned, outcome.dropped
        );
    }
    Ok(())
}

pub fn setmccfg(ctx: &Ctx, a: &SetmccfgArgs) -> Result<()> {
    let mut cfg = ctx.store()?.config()?;
    let mut changed = false;
    if let Some(n) = a.pmtnr {
        cfg.max_history = n;
        changed = true;
    }
    if let Some(d) = a.failrelax {
        // The RPC carries whole seconds.
        cfg.min_failure_relax_interval = d / 1_000_000_000 * 1_000_000_000;
        changed = true;
    }
    let apriori_flags = [
        ("--apriorihalflife", a.apriorihalflife.is_some()),
        ("--apriorihopprob", a.apriorihopprob.is_some()),
        ("--aprioriweight", a.aprioriweight.is_some()),
        ("--aprioricapacityfraction", a.aprioricapacityfraction.is_some()),
    ];
    let bimodal_flags = [
        ("--bimodaldecaytime", a.bimodaldecaytime.is_some()),
        ("--bimodalscale", a.bimodalscale.is_some()),
        ("--bimodalweight", a.bimodalweight.is_some()),
    ];
    let secs = |d: DurationNs| d / 1_000_000_000 * 1_000_000_000;
    match a.estimator.as_deref().map(str::trim) {
        None => {
            if let Some((name, _)) = apriori_flags.iter().chain(&bimodal_flags).find(|(_, set)| *set) {
                return input(format!("{name} needs --estimator (apriori or bimodal), as in lncli"));
            }
        }
        Some("apriori") => {
            if let Some((name, _)) = bimodal_flags.iter().find(|(_, set)| *set) {
                return input(format!("{name} applies to --estimator bimodal, not apriori"));
            }
            let mut p = match cfg.estimator {
                EstimatorConfig::Apriori(p) => p,
                EstimatorConfig::Bimodal(_) => AprioriConfig::default(),
            };
            if let Some(v) = a.apriorihalflife {
                p.penalty_half_life = secs(v);
            }
            if let Some(v) = a.apriorihopprob {
                p.hop_probability = v;
            }
            if let Some(v) = a.aprioriweight {
                p.weight = v;
            }
            if let Some(v) = a.aprioricapacityfraction {
                p.capacity_fraction = v;
            }
            cfg.estimator = EstimatorConfig::Apriori(p);
            changed = true;
        }
        Some("bimodal") => {
            if let Some((name, _)) = apriori_flags.iter().find(|(_, set)| *set) {
                return input(format!("{name} applies to --estimator apriori, not bimodal"));
            }
            let mut p = match cfg.estimator {
                EstimatorConfig::Bimodal(p) => p,
                EstimatorConfig::Apriori(_) => BimodalConfig::default(),
            };
            if let Some(v) = a.bimodaldecaytime {
                p.decay_time = secs(v);
            }
            if let Some(v) = a.bimodalscale {
                p.scale_msat = v;
            }
            if let Some(v) = a.bimodalweight {
                p.node_weight = v;
            }
            cfg.estimator = EstimatorConfig::Bimodal(p);
            changed = true;
        }
        Some(other) => {
            return input(format!(
                "--estimator: unknown estimator {other:?}, want apriori or bimodal"
            ))
        }
    }
    if !changed {
        return input("setmccfg: no value to set; see dmc setmccfg --help");
    }
    cfg.validate().or_else(|e| input(format!("setmccfg: {e}")))?;
    ctx.store()?.set_config(&cfg)?;
    Ok(())
}

pub fn self_cmd(ctx: &Ctx, key: Option<NodeId>) -> Result<()> {
    match key {
        Some(id) => {
            ctx.store()?.set_self_node(&id)?;
            println!("{id}");
        }
        None => match ctx.self_node()? {
            Some(id) => println!("{id}"),
            None => return input("no local node saved; set one with `dmc self PUBKEY` or pass --self"),
        },
    }
    Ok(())
}

pub fn resetmc(ctx: &Ctx) -> Result<()> {
    Ok(ctx.store()?.reset()?)
}

pub fn getmccfg(ctx: &Ctx) -> Result<()> {
    println!("{}", rpc::config_json(&ctx.store()?.config()?).pretty());
    Ok(())
}
