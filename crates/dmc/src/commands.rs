//! The local store's commands, as lncli's mission-control commands: one
//! function per subcommand, called with arguments clap already typed;
//! what only the store or a file can refuse is refused with exit code 2
//! before anything is written. [`Ctx`] is what every one of them (and
//! `query_cmd`'s) works on.

use std::path::{Path, PathBuf};

use dmc_core::codec::ImportBatch;
use dmc_core::estimator::{AprioriConfig, BimodalConfig, EstimatorConfig};
use dmc_core::json::Json;
use dmc_core::rpc::{self, PairData, PairHistory};
use dmc_core::time::DurationNs;
use dmc_core::{MissionControl, Msat, NodeId, Timestamp};
use dmc_store::{LocalStore, View};

use crate::args::{input, read_input, CliError, Result};
use crate::cli::{SetmccfgArgs, ViewArg};

/// Everything a command needs: the store, the clock, the local node. The
/// store is opened on first use, so bad arguments never create one.
pub struct Ctx {
    data_dir: PathBuf,
    store: std::cell::OnceCell<LocalStore>,
    pub now: Timestamp,
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

    pub fn store(&self) -> Result<&LocalStore> {
        if let Some(s) = self.store.get() {
            return Ok(s);
        }
        let s = LocalStore::open(&self.data_dir)?;
        Ok(self.store.get_or_init(|| s))
    }

    /// `--self`, else the saved local node.
    pub fn self_node(&self) -> Result<Option<NodeId>> {
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

pub fn mission_control(ctx: &Ctx, v: ViewArg) -> Result<MissionControl> {
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
            offset.whole_secs()
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
        cfg.min_failure_relax_interval = DurationNs::from_secs(d.whole_secs());
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
    let secs = |d: DurationNs| DurationNs::from_secs(d.whole_secs());
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
                p.scale_msat = Msat(v);
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
