//! One function per subcommand: turn arguments into typed values (refusing
//! bad ones with exit code 2 before anything is written), call the library
//! crates, print.

use std::io::Read;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use dmc_core::codec::ImportBatch;
use dmc_core::estimator::{AprioriConfig, BimodalConfig, EstimatorConfig};
use dmc_core::json::Json;
use dmc_core::rpc::{self, PairData, PairHistory};
use dmc_core::time::{parse_go_duration, DurationNs};
use dmc_core::{MissionControl, NodeId, Timestamp};
use dmc_graph::Graph;
use dmc_store::{LocalStore, View};
use serde_json::Value;

use crate::{
    Cli, Command, ExperimentArgs, QueryprobArgs, QueryroutesArgs, ReachArgs, SetmccfgArgs, SimCommand, ViewArg,
};

/// A failed command: bad input (exit 2) or anything else (exit 1).
pub enum CliError {
    // Input: exit 2; Runtime: exit 1.
    Input(String),
    Runtime(String),
}

impl CliError {
    pub fn message(&self) -> &str {
        match self {
            CliError::Input(m) | CliError::Runtime(m) => m,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Input(_) => 2,
            CliError::Runtime(_) => 1,
        }
    }
}

impl From<dmc_store::StoreError> for CliError {
    fn from(e: dmc_store::StoreError) -> Self {
        CliError::Runtime(e.0)
    }
}

pub(crate) type Result<T> = std::result::Result<T, CliError>;

pub(crate) fn input<T>(msg: impl Into<String>) -> Result<T> {
    Err(CliError::Input(msg.into()))
}

/// Everything a command needs: the store, the clock, the local node. The
/// store is opened on first use, so bad arguments never create one.
struct Ctx {
    pub(crate) data_dir: std::path::PathBuf,
    store: std::cell::OnceCell<LocalStore>,
    pub(crate) now: Timestamp,
    flag_self: Option<NodeId>,
}

impl Ctx {
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

pub fn run(cli: Cli) -> Result<()> {
    // Parse every global value before opening the store.
    let now = match &cli.now {
        Some(s) => match s.parse::<i64>() {
            Ok(secs) if secs >= 0 => Timestamp::from_unix_secs(secs),
            _ => return input(format!("--now: {s:?} is not a non-negative Unix time in seconds")),
        },
        None => {
            let ns = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|e| CliError::Runtime(format!("system clock: {e}")))?
                .as_nanos();
            Timestamp::from_raw(ns as i128)
        }
    };
    let flag_self = match &cli.self_node {
        Some(s) => Some(pubkey(s, "--self")?),
        None => None,
    };
    let ctx = Ctx {
        data_dir: cli.data_dir,
        store: std::cell::OnceCell::new(),
        now,
        flag_self,
    };
    match cli.command {
        Command::Querymc { view } => querymc(&ctx, view),
        Command::Loadmc {
            mcdatapath,
            timeoffset,
            force,
            skip_confirmation: _,
        } => loadmc(&ctx, &mcdatapath, timeoffset.as_deref(), force),
        Command::Importmc {
            failure,
            force,
            from,
            to,
            unix_ts,
            amt_msat,
        } => importmc(&ctx, failure, force, &from, &to, &unix_ts, &amt_msat),
        Command::Queryprob(args) => queryprob(&ctx, &args),
        Command::Queryroutes(args) => queryroutes(&ctx, &args),
        Command::Report { file } => report(&ctx, &file),
        Command::Resetmc => Ok(ctx.store()?.reset()?),
        Command::Getmccfg => {
            println!("{}", rpc::config_json(&ctx.store()?.config()?).pretty());
            Ok(())
        }
        Command::Setmccfg(args) => setmccfg(&ctx, &args),
        Command::SelfNode { pubkey: key } => self_cmd(&ctx, key.as_deref()),
        Command::Sim(SimCommand::Scenario { name, json }) => sim_scenario(&name, json),
        Command::Sim(SimCommand::Experiment(args)) => sim_experiment(&args),
        Command::Sim(SimCommand::Reach(args)) => sim_reach(&args),
        Command::Serve(args) => crate::ec::serve(&ctx.data_dir, &args),
        Command::Ec(cmd) => crate::ec::client(&ctx.data_dir, ctx.now, cmd),
        Command::Admin(cmd) => crate::ec::admin(&ctx.data_dir, cmd),
        Command::Sync(args) => crate::sync::run(&ctx.data_dir, ctx.flag_self, &args),
    }
}

pub(crate) fn pubkey(s: &str, field: &str) -> Result<NodeId> {
    NodeId::from_hex(s.trim()).or_else(|e| input(format!("{field}: {s:?} is not a node public key: {e}")))
}

/// A non-negative integer argument that fits an i64 (LND's int64 fields).
pub(crate) fn int_arg(s: &str, field: &str) -> Result<i64> {
    match s.trim().parse::<i64>() {
        Ok(v) if v >= 0 => Ok(v),
        Ok(v) => input(format!("{field}: {v} is negative")),
        Err(_) => input(format!("{field}: {s:?} is not an integer in the int64 range")),
    }
}

fn float_arg(s: &str, field: &str) -> Result<f64> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => input(format!("{field}: {s:?} is not a number")),
    }
}

pub(crate) fn duration_arg(s: &str, field: &str) -> Result<DurationNs> {
    match parse_go_duration(s.trim()) {
        Ok(d) if d >= 0 => Ok(d),
        Ok(_) => input(format!("{field}: {s:?} is negative")),
        Err(e) => input(format!("{field}: {e}")),
    }
}

fn view(v: ViewArg) -> View {
    match v {
        ViewArg::Merged => View::Merged,
        ViewArg::Local => View::Local,
        ViewArg::Imported => View::Imported,
    }
}

pub(crate) fn read_input(path: &Path, field: &str) -> Result<String> {
    let mut text = String::new();
    let res = if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    res.or_else(|e| input(format!("{field}: cannot read {}: {e}", path.display())))?;
    Ok(text)
}

fn mission_control(ctx: &Ctx, v: ViewArg) -> Result<MissionControl> {
    Ok(ctx.store()?.mission_control(view(v), ctx.self_node()?)?)
}

fn querymc(ctx: &Ctx, v: ViewArg) -> Result<()> {
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

fn loadmc(ctx: &Ctx, path: &Path, timeoffset: Option<&str>, force: bool) -> Result<()> {
    let offset = match timeoffset {
        Some(s) => Some(parse_go_duration(s.trim()).or_else(|e| input(format!("--timeoffset: {e}")))?),
        None => None,
    };
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

#[allow(clippy::too_many_arguments)]
fn importmc(ctx: &Ctx, failure: bool, force: bool, from: &str, to: &str, ts: &str, amt: &str) -> Result<()> {
    let from = pubkey(from, "FROM")?;
    let to = pubkey(to, "TO")?;
    let ts = match ts.trim().parse::<i64>() {
        Ok(t) if t > 0 => t,
        _ => return input(format!("UNIX_TS: {ts:?} is not a positive Unix time in seconds")),
    };
    let amt = int_arg(amt, "AMT_MSAT")?;
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

fn queryprob(ctx: &Ctx, a: &QueryprobArgs) -> Result<()> {
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

fn u32_arg(s: &str, field: &str) -> Result<u32> {
    let v = int_arg(s, field)?;
    u32::try_from(v).or_else(|_| input(format!("{field}: {v} exceeds the uint32 range")))
}

fn queryroutes(ctx: &Ctx, a: &QueryroutesArgs) -> Result<()> {
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

fn report(ctx: &Ctx, path: &Path) -> Result<()> {
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

fn setmccfg(ctx: &Ctx, a: &SetmccfgArgs) -> Result<()> {
    let mut cfg = ctx.store()?.config()?;
    let mut changed = false;
    if let Some(n) = &a.pmtnr {
        let n = int_arg(n, "--pmtnr")?;
        cfg.max_history = u32::try_from(n).or_else(|_| input(format!("--pmtnr: {n} exceeds the uint32 range")))?;
        changed = true;
    }
    if let Some(d) = &a.failrelax {
        // The RPC carries whole seconds.
        cfg.min_failure_relax_interval = duration_arg(d, "--failrelax")? / 1_000_000_000 * 1_000_000_000;
        changed = true;
    }
    let apriori_flags = [
        ("--apriorihalflife", &a.apriorihalflife),
        ("--apriorihopprob", &a.apriorihopprob),
        ("--aprioriweight", &a.aprioriweight),
        ("--aprioricapacityfraction", &a.aprioricapacityfraction),
    ];
    let bimodal_flags = [
        ("--bimodaldecaytime", &a.bimodaldecaytime),
        ("--bimodalscale", &a.bimodalscale),
        ("--bimodalweight", &a.bimodalweight),
    ];
    let secs = |d: DurationNs| d / 1_000_000_000 * 1_000_000_000;
    match a.estimator.as_deref().map(str::trim) {
        None => {
            if let Some((name, _)) = apriori_flags.iter().chain(&bimodal_flags).find(|(_, v)| v.is_some()) {
                return input(format!("{name} needs --estimator (apriori or bimodal), as in lncli"));
            }
        }
        Some("apriori") => {
            if let Some((name, _)) = bimodal_flags.iter().find(|(_, v)| v.is_some()) {
                return input(format!("{name} applies to --estimator bimodal, not apriori"));
            }
            let mut p = match cfg.estimator {
                EstimatorConfig::Apriori(p) => p,
                EstimatorConfig::Bimodal(_) => AprioriConfig::default(),
            };
            if let Some(v) = &a.apriorihalflife {
                p.penalty_half_life = secs(duration_arg(v, "--apriorihalflife")?);
            }
            if let Some(v) = &a.apriorihopprob {
                p.hop_probability = float_arg(v, "--apriorihopprob")?;
            }
            if let Some(v) = &a.aprioriweight {
                p.weight = float_arg(v, "--aprioriweight")?;
            }
            if let Some(v) = &a.aprioricapacityfraction {
                p.capacity_fraction = float_arg(v, "--aprioricapacityfraction")?;
            }
            cfg.estimator = EstimatorConfig::Apriori(p);
            changed = true;
        }
        Some("bimodal") => {
            if let Some((name, _)) = apriori_flags.iter().find(|(_, v)| v.is_some()) {
                return input(format!("{name} applies to --estimator apriori, not bimodal"));
            }
            let mut p = match cfg.estimator {
                EstimatorConfig::Bimodal(p) => p,
                EstimatorConfig::Apriori(_) => BimodalConfig::default(),
            };
            if let Some(v) = &a.bimodaldecaytime {
                p.decay_time = secs(duration_arg(v, "--bimodaldecaytime")?);
            }
            if let Some(v) = &a.bimodalscale {
                p.scale_msat = int_arg(v, "--bimodalscale")? as u64;
            }
            if let Some(v) = &a.bimodalweight {
                p.node_weight = float_arg(v, "--bimodalweight")?;
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

fn self_cmd(ctx: &Ctx, key: Option<&str>) -> Result<()> {
    match key {
        Some(k) => {
            let id = pubkey(k, "PUBKEY")?;
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

fn sim_scenario(name: &str, json: bool) -> Result<()> {
    let Some(outcome) = dmc_sim::scenario::run(name) else {
        return input(format!(
            "scenario: unknown scenario {name:?}, want one of {}",
            dmc_sim::scenario::NAMES.join(", ")
        ));
    };
    if json {
        println!("{}", outcome.to_json().pretty());
    } else {
        print!("{}", outcome.to_text());
    }
    Ok(())
}

/// `--background-rate` and `--rebalances-per-day` applied to flowing balances.
fn with_traffic(
    mut b: dmc_sim::traffic::Balances,
    background_rate: &str,
    rebalances_per_day: &str,
) -> Result<dmc_sim::traffic::Balances> {
    let bg = float_arg(background_rate, "--background-rate")?;
    if !(0.0..=1e7).contains(&bg) {
        return input(format!(
            "--background-rate: {bg} is not between 0 and 10000000 per hour"
        ));
    }
    let rb = float_arg(rebalances_per_day, "--rebalances-per-day")?;
    if !(0.0..=1e5).contains(&rb) {
        return input(format!("--rebalances-per-day: {rb} is not between 0 and 100000"));
    }
    if let dmc_sim::traffic::Balances::Flowing { traffic, .. } = &mut b {
        traffic.payments_per_hour = bg;
        traffic.rebalance.rate_per_hour = rb / 24.0;
    }
    Ok(b)
}

/// `--offline-share` and `--mean-outage`.
fn availability_args(share: &str, outage: &str) -> Result<dmc_sim::availability::AvailabilityParams> {
    let offline_share = float_arg(share, "--offline-share")?;
    if !(0.0..=0.9).contains(&offline_share) {
        return input(format!("--offline-share: {offline_share} is not between 0 and 0.9"));
    }
    let d = duration_arg(outage, "--mean-outage")?;
    if !(60_000_000_000..=30 * 86_400_000_000_000).contains(&d) {
        return input(format!("--mean-outage: {outage:?} is not between 1m and 720h"));
    }
    Ok(dmc_sim::availability::AvailabilityParams {
        offline_share,
        mean_outage_s: d / 1_000_000_000,
        ..Default::default()
    })
}

fn sim_experiment(a: &ExperimentArgs) -> Result<()> {
    use dmc_sim::experiment::{self, Estimator, ExperimentParams, WalletProfile};
    use dmc_sim::traffic::Balances;
    let count = |s: &str, field: &str| -> Result<usize> {
        let v = int_arg(s, field)?;
        usize::try_from(v).or_else(|_| input(format!("{field}: {v} is too large")))
    };
    let hours = |s: &str, field: &str| -> Result<f64> {
        let d = duration_arg(s, field)?;
        if d > 365 * 24 * 3_600_000_000_000 {
            return input(format!("{field}: {s:?} is longer than a year"));
        }
        Ok(d as f64 / 3.6e12)
    };
    fn list<T>(s: &str, field: &str, what: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>> {
        let mut seen: Vec<&str> = Vec::new();
        let mut v = Vec::new();
        for x in s.split(',').map(str::trim) {
            // A repeated entry would be pooled as if it were independent data.
            if seen.contains(&x) {
                return input(format!("{field}: {x:?} is listed twice"));
            }
            seen.push(x);
            v.push(parse(x).ok_or_else(|| CliError::Input(format!("{field}: {x:?} is not {what}")))?);
        }
        Ok(v)
    }
    let rate = float_arg(&a.contributor_rate, "--contributor-rate")?;
    if !(0.0..=3600.0).contains(&rate) {
        return input(format!("--contributor-rate: {rate} is not between 0 and 3600 per hour"));
    }
    let mut wallets = list(&a.wallets, "--wallets", "mobile or routing", WalletProfile::parse)?;
    let routing_payments = count(&a.routing_payments, "--routing-payments")?;
    for w in &mut wallets {
        if w.name == "routing" {
            w.payments = (routing_payments, routing_payments);
        }
    }
    let liars = experiment_liars(&a.liars, a.lie.as_deref())?;
    let sync = duration_arg(&a.sync_interval, "--sync-interval")?;
    if sync < 1_000_000_000 || sync % 1_000_000_000 != 0 {
        return input(format!(
            "--sync-interval: {:?} is not a whole number of seconds (at least 1s)",
            a.sync_interval
        ));
    }
    let hold = duration_arg(&a.first_hand_hold, "--first-hand-hold")?;
    if hold % 1_000_000_000 != 0 {
        return input(format!(
            "--first-hand-hold: {:?} is not a whole number of seconds",
            a.first_hand_hold
        ));
    }
    let params = ExperimentParams {
        seed: int_arg(&a.seed, "--seed")? as u64,
        seeds: count(&a.seeds, "--seeds")?,
        threads: count(&a.threads, "--threads")?,
        balances: list(
            &a.balances,
            "--balances",
            "flowing, uniform, bimodal or fixed",
            Balances::parse,
        )?
        .into_iter()
        .map(|b| with_traffic(b, &a.world.background_rate, &a.world.rebalances_per_day))
        .collect::<Result<Vec<_>>>()?,
        wallets,
        estimators: list(&a.estimators, "--estimators", "apriori or bimodal", Estimator::parse)?,
        contributors: count(&a.contributors, "--contributors")?,
        contributor_payments_per_hour: rate,
        contributor_hours: hours(&a.contributor_time, "--contributor-time")?,
        wallet_hours: hours(&a.wallet_time, "--wallet-time")?,
        sync_interval_s: sync / 1_000_000_000,
        first_hand_hold_s: hold / 1_000_000_000,
        bootstrap_reps: count(&a.bootstrap, "--bootstrap")?,
        availability: availability_args(&a.world.offline_share, &a.world.mean_outage)?,
        liars,
        ..ExperimentParams::default()
    };
    if params.seeds == 0 {
        return input("--seeds must be at least 1");
    }
    if params.bootstrap_reps < 100 {
        return input(format!(
            "--bootstrap: {} replicates are too few for a 95% interval (at least 100)",
            params.bootstrap_reps
        ));
    }
    if params.seeds > 1000 || params.contributors > 10_000 || params.bootstrap_reps > 100_000 {
        return input("--seeds (max 1000), --contributors (max 10000) or --bootstrap (max 100000) is too large");
    }
    if params.wallet_hours <= 0.0 {
        return input("--wallet-time must be longer than 0");
    }
    let graph = Graph::load(&a.graph).or_else(|e| input(format!("--graph: {e}")))?;
    // Check the output paths before the long run, not after it.
    let svg = a.plot.as_ref().map(|p| p.with_extension("svg"));
    for (flag, path) in [("--out", &a.out), ("--plot", &svg)] {
        if let Some(p) = path {
            std::fs::write(p, b"").map_err(|e| CliError::Runtime(format!("{flag}: writing {}: {e}", p.display())))?;
        }
    }
    let started = std::time::Instant::now();
    let mut last_draw = usize::MAX;
    let mut progress = |done: usize, total: usize| {
        let pct = done * 100 / total.max(1);
        if pct != last_draw {
            last_draw = pct;
            let bar = "#".repeat(pct / 2) + &" ".repeat(50 - pct / 2);
            eprint!(
                "\r[{bar}] {pct:3}% of the simulated time, {:.0}s",
                started.elapsed().as_secs_f64()
            );
            if done >= total {
                eprintln!();
            }
        }
    };
    let seeds = experiment::run(&graph, &params, &mut progress).or_else(|e| input(format!("--graph: {e}")))?;
    let report = experiment::report_json(&seeds, &params);
    if let Some(out) = &a.out {
        std::fs::write(out, report.pretty() + "\n")
            .map_err(|e| CliError::Runtime(format!("--out: writing {}: {e}", out.display())))?;
    }
    if let Some(plot) = &a.plot {
        let fig = experiment::learning_figure(&seeds, &params);
        // P.svg and P.png side by side, whichever of the two was named.
        let svg = plot.with_extension("svg");
        std::fs::write(&svg, dmc_sim::plot::render_svg(&fig))
            .map_err(|e| CliError::Runtime(format!("--plot: writing {}: {e}", svg.display())))?;
        let png = plot.with_extension("png");
        std::fs::write(&png, dmc_sim::plot::render_png(&fig))
            .map_err(|e| CliError::Runtime(format!("--plot: writing {}: {e}", png.display())))?;
    }
    print!("{}", experiment::summary_text(&seeds, &params));
    eprintln!("finished in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `--liars FRACTION --lie KIND` of `sim experiment`.
fn experiment_liars(fraction: &str, lie: Option<&str>) -> Result<Option<dmc_sim::liars::LiarParams>> {
    use dmc_sim::liars::{LiarParams, Lie};
    let kinds = "inverted, blackhole or fake-capacity";
    let f = float_arg(fraction, "--liars")?;
    if !(0.0..1.0).contains(&f) {
        return input(format!("--liars: {f} is not a share of the contributors in [0, 1)"));
    }
    let kind = match lie.map(str::trim) {
        Some(k) => Some(Lie::parse(k).ok_or_else(|| CliError::Input(format!("--lie: {k:?} is not {kinds}")))?),
        None => None,
    };
    match (f > 0.0, kind) {
        (false, None) => Ok(None),
        (true, Some(kind)) => Ok(Some(LiarParams { fraction: f, kind })),
        (true, None) => input(format!("--lie is required with --liars above 0: {kinds}")),
        (false, Some(_)) => input("--lie needs --liars above 0 (with --liars 0 nobody lies)"),
    }
}

fn sim_reach(a: &ReachArgs) -> Result<()> {
    use dmc_core::json::Json;
    use dmc_sim::reach::{self, ReachParams};
    use dmc_sim::traffic::Balances;
    let count = |s: &str, field: &str, max: i64| -> Result<usize> {
        match int_arg(s, field)? {
            0 => input(format!("{field} must be at least 1")),
            v if v > max => input(format!("{field}: {v} is more than {max}")),
            v => Ok(v as usize),
        }
    };
    let amounts = a
        .amounts
        .split(',')
        .map(|x| match int_arg(x, "--amounts")? {
            v @ 1..=100_000_000 => Ok(v as u64),
            v => input(format!("--amounts: {v} is not between 1 and 100000000 sat")),
        })
        .collect::<Result<Vec<u64>>>()?;
    let params = ReachParams {
        seed: int_arg(&a.seed, "--seed")? as u64,
        seeds: count(&a.seeds, "--seeds", 1000)?,
        balances: with_traffic(
            Balances::parse(a.balances.trim()).ok_or_else(|| {
                CliError::Input(format!(
                    "--balances: {:?} is not flowing, uniform, bimodal or fixed",
                    a.balances
                ))
            })?,
            &a.world.background_rate,
            &a.world.rebalances_per_day,
        )?,
        amounts_sat: amounts,
        probes_per_amount: count(&a.probes, "--probes", 100_000)?,
        availability: availability_args(&a.world.offline_share, &a.world.mean_outage)?,
        ..ReachParams::default()
    };
    let graph = Graph::load(&a.graph).or_else(|e| input(format!("--graph: {e}")))?;
    let rows = reach::run(&graph, &params).or_else(|e| input(format!("--graph: {e}")))?;
    if a.json {
        let rows = rows
            .iter()
            .map(|r| {
                Json::object([
                    (
                        "amount_sat",
                        if r.amount_sat == 0 {
                            Json::str("all")
                        } else {
                            Json::int32(r.amount_sat)
                        },
                    ),
                    ("probes", Json::int32(r.probes)),
                    ("reached_within_10s", Json::int32(r.reached)),
                    ("reached_eventually", Json::int32(r.reached_eventually)),
                    ("share", Json::double(r.share)),
                    (
                        "ci95",
                        Json::Array(vec![Json::double(r.ci95.0), Json::double(r.ci95.1)]),
                    ),
                    ("mean_attempts", Json::double(r.mean_attempts)),
                ])
            })
            .collect();
        println!(
            "{}",
            Json::object([
                ("balances", Json::str(params.balances.name())),
                ("rows", Json::Array(rows))
            ])
            .pretty()
        );
    } else {
        println!(
            "reach within 10 s, {} balances, {} seeds x {} probes per amount, targets among the 600 best-connected nodes",
            params.balances.name(),
            params.seeds,
            params.probes_per_amount
        );
        println!(
            "{:>10} {:>7} {:>24} {:>12} {:>10}",
            "amount", "probes", "within 10 s [95% CI]", "eventually", "attempts"
        );
        for r in &rows {
            let amount = if r.amount_sat == 0 {
                "all".to_string()
            } else {
                format!("{} sat", r.amount_sat)
            };
            println!(
                "{amount:>10} {:>7} {:>24} {:>11.1}% {:>10.2}",
                r.probes,
                format!(
                    "{:.1}% [{:.1}, {:.1}]",
                    r.share * 100.0,
                    r.ci95.0 * 100.0,
                    r.ci95.1 * 100.0
                ),
                r.reached_eventually as f64 * 100.0 / r.probes.max(1) as f64,
                r.mean_attempts
            );
        }
    }
    Ok(())
}
