//! `dmc sync`: the node's mission control to the coordinator and the
//! coordinator's merged data back, on a schedule.
//!
//! **Export**: `QueryMissionControl` → pairs (minus what was imported from
//! the coordinator, see [`crate::state`]; `--successes-only` strips
//! failures) → lncli's `loadmc` sanitising and LND's import validation, so
//! the coordinator accepts every pair → `RegistrationBody` → `SignMessage`
//! through the node (or a local key with `--from-file`) → v2 `Register`, in
//! chunks (halved if the coordinator says a chunk is too large).
//!
//! **Import**: v2 `Query` since the stored cursor → drop pairs whose
//! `node_from` or `node_to` is the node itself (its local channels are its
//! own knowledge) → sanitise and validate → skip pairs that bring nothing
//! newer than what lnd holds (LND's import would otherwise zero an existing
//! success amount, spec §3.2) → `XImportMissionControl` in batches, `force`
//! off → store the new cursor only after every batch was accepted. The
//! choice of pairs is [`dmc_core::sync_plan`], which the simulator runs too.
//!
//! Transient failures (lnd or the coordinator down, rate limits) are
//! retried with exponential backoff; wrong flags, files and credentials
//! stop with an error naming them.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use dmc_core::json::Json;
use dmc_core::node::NodeId;
use dmc_core::rpc::{self, PairData, PairHistory};
use dmc_core::sync_plan::{
    by_pair, key_of, prepare_import, record_imports, validate_pair, NodeState, PairKey, Refusals, FIRST_HAND_HOLD_SECS,
};
use dmc_proto::dmc::coordinator::v2 as pb;
use prost::Message;
use secp256k1::SecretKey;
use tracing::{info, warn};

use crate::client::{LndClient, NodeInfo};
use crate::coordinator::{CoordinatorClient, CoordinatorOptions, Registered};
use crate::error::{Error, Result};
use crate::options::LndOptions;
use crate::state::{ImportedTimes, SyncState};

/// Which way data moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Both,
    ExportOnly,
    ImportOnly,
}

impl Direction {
    pub fn exports(self) -> bool {
        self != Direction::ImportOnly
    }

    pub fn imports(self) -> bool {
        self != Direction::ExportOnly
    }
}

/// lnd's default: XImportMissionControl requests of this many pairs.
pub const DEFAULT_IMPORT_BATCH: usize = 1000;
/// Pairs per signed registration (well under the coordinator's limits).
pub const DEFAULT_EXPORT_BATCH: usize = 10_000;
/// Observation times further ahead than this are not sent (the
/// coordinator would refuse the whole registration).
pub const FUTURE_SKEW_SECS: i64 = 600;

/// Everything one `dmc sync` needs.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    pub coordinator: CoordinatorOptions,
    pub lnd: LndOptions,
    /// Where the cursor and import ledger live.
    pub data_dir: PathBuf,
    pub direction: Direction,
    pub successes_only: bool,
    /// Export this saved `lncli querymc` file instead of lnd's mission control.
    pub from_file: Option<PathBuf>,
    /// Write the coordinator's merged data here (`lncli loadmc` input)
    /// instead of importing into lnd.
    pub to_file: Option<PathBuf>,
    /// Sign `--from-file` registrations with this key instead of lnd's.
    pub sign_key: Option<SecretKey>,
    /// The node's key when lnd is not asked (drops its pairs from `--to-file`).
    pub self_node: Option<NodeId>,
    pub import_batch: usize,
    pub export_batch: usize,
    /// XImportMissionControl's `force`.
    pub force: bool,
    pub interval: Duration,
    /// Retries of a phase after transient failures (`None`: unlimited).
    pub retries: Option<u32>,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

impl SyncConfig {
    /// Defaults for a coordinator and data dir: both directions, lncli's
    /// lnd defaults, 10 minute interval, unlimited retries from 1 s
    /// doubling up to 5 min.
    pub fn new(coordinator: CoordinatorOptions, data_dir: PathBuf) -> Self {
        SyncConfig {
            coordinator,
            lnd: LndOptions::default(),
            data_dir,
            direction: Direction::Both,
            successes_only: false,
            from_file: None,
            to_file: None,
            sign_key: None,
            self_node: None,
            import_batch: DEFAULT_IMPORT_BATCH,
            export_batch: DEFAULT_EXPORT_BATCH,
            force: false,
            interval: Duration::from_secs(600),
            retries: None,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
        }
    }

    /// Refuses combinations that cannot work, naming the flags.
    pub fn validate(&self) -> Result<()> {
        if self.from_file.is_some() && !self.direction.exports() {
            return Err(Error::config(
                "--from-file feeds the export; it cannot be used with --import-only",
            ));
        }
        if self.to_file.is_some() && !self.direction.imports() {
            return Err(Error::config(
                "--to-file receives the import; it cannot be used with --export-only",
            ));
        }
        if self.sign_key.is_some() && self.from_file.is_none() {
            return Err(Error::config(
                "--sign-key signs --from-file registrations; with lnd the node signs through SignMessage",
            ));
        }
        if self.import_batch == 0 || self.export_batch == 0 {
            return Err(Error::config("batch sizes must be at least 1"));
        }
        Ok(())
    }

    /// Whether a phase needs lnd at all.
    pub fn needs_lnd(&self) -> bool {
        (self.direction.exports() && !(self.from_file.is_some() && self.sign_key.is_some()))
            || (self.direction.imports() && self.to_file.is_none())
    }
}

/// What one export moved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportReport {
    pub node: Option<NodeId>,
    /// "lnd" or the file name.
    pub source: String,
    /// Pairs read from lnd or the file.
    pub read: usize,
    /// Pairs whose every slot came from an earlier import (not the node's own).
    pub skipped_imported: usize,
    /// `--successes-only`: pairs with no success.
    pub skipped_no_success: usize,
    /// Pairs LND's import rules would refuse (or keys not on the curve).
    pub invalid: usize,
    /// Pairs with a time more than 10 minutes ahead.
    pub future: usize,
    /// Pairs sent in registrations.
    pub sent: usize,
    pub accepted: usize,
    pub stale_dropped: usize,
    pub registrations: usize,
    /// The coordinator's cursor after the last registration.
    pub cursor: Option<u64>,
}

/// What one import moved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub node: Option<NodeId>,
    pub cursor_from: Option<u64>,
    pub cursor: u64,
    pub full_resync: bool,
    /// lnd had lost earlier imports (restart or resetmc): imported from scratch.
    pub lost_imports: usize,
    /// Pairs in the coordinator's answer.
    pub received: usize,
    /// Removals announced by the coordinator (lnd cannot delete pairs).
    pub removed: usize,
    /// Pairs touching the node itself, never imported.
    pub own_dropped: usize,
    /// Pairs lnd already knows as recently.
    pub not_newer: usize,
    /// Pairs where a claim contradicting lnd's own observation of the last
    /// hour was left out (`dmc_core::sync_plan::FIRST_HAND_HOLD_SECS`).
    pub first_hand_kept: usize,
    pub invalid: usize,
    /// Pairs sent in XImportMissionControl (or written to the file).
    pub imported: usize,
    pub batches: usize,
    pub to_file: Option<PathBuf>,
}

/// One cycle: export, then import (either may be absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CycleReport {
    pub export: Option<ExportReport>,
    pub import: Option<ImportReport>,
}

fn null() -> Json {
    Json::Raw("null".into())
}

fn opt_node(n: &Option<NodeId>) -> Json {
    n.map_or_else(null, |n| Json::str(n.to_hex()))
}

fn count(n: usize) -> Json {
    Json::int32(n)
}

impl ExportReport {
    pub fn to_json(&self) -> Json {
        Json::object([
            ("node", opt_node(&self.node)),
            ("source", Json::str(self.source.clone())),
            ("read", count(self.read)),
            ("skipped_imported", count(self.skipped_imported)),
            ("skipped_no_success", count(self.skipped_no_success)),
            ("invalid", count(self.invalid)),
            ("future", count(self.future)),
            ("sent", count(self.sent)),
            ("accepted", count(self.accepted)),
            ("stale_dropped", count(self.stale_dropped)),
            ("registrations", count(self.registrations)),
            ("cursor", self.cursor.map_or_else(null, Json::int64)),
        ])
    }
}

impl ImportReport {
    pub fn to_json(&self) -> Json {
        Json::object([
            ("node", opt_node(&self.node)),
            ("cursor_from", self.cursor_from.map_or_else(null, Json::int64)),
            ("cursor", Json::int64(self.cursor)),
            ("full_resync", Json::bool(self.full_resync)),
            ("lost_imports", count(self.lost_imports)),
            ("received", count(self.received)),
            ("removed", count(self.removed)),
            ("own_dropped", count(self.own_dropped)),
            ("not_newer", count(self.not_newer)),
            ("first_hand_kept", count(self.first_hand_kept)),
            ("invalid", count(self.invalid)),
            ("imported", count(self.imported)),
            ("batches", count(self.batches)),
            (
                "to_file",
                self.to_file
                    .as_ref()
                    .map_or_else(null, |p| Json::str(p.display().to_string())),
            ),
        ])
    }
}

impl CycleReport {
    pub fn to_json(&self) -> Json {
        Json::object([
            ("export", self.export.as_ref().map_or_else(null, ExportReport::to_json)),
            ("import", self.import.as_ref().map_or_else(null, ImportReport::to_json)),
        ])
    }
}

/// Seconds since the Unix epoch, from the system clock.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Pairs imported earlier that lnd no longer holds: lnd keeps imports in
/// memory only and never drops a pair otherwise, so any such pair means a
/// restart or `resetmc`.
pub fn lost_imports(imported: &HashMap<PairKey, ImportedTimes>, node_mc: &HashMap<PairKey, PairData>) -> usize {
    imported.keys().filter(|k| !node_mc.contains_key(k)).count()
}

/// The pairs an export sends, and what it left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportPlan {
    pub pairs: Vec<PairHistory>,
    pub read: usize,
    pub skipped_imported: usize,
    pub skipped_no_success: usize,
    pub invalid: Refusals,
    pub future: usize,
}

/// Chooses what to export from `pairs` (pure; see the module doc).
/// `imported`: the import ledger, when the pairs come from lnd.
pub fn prepare_export(
    pairs: Vec<PairHistory>,
    imported: Option<&HashMap<PairKey, ImportedTimes>>,
    successes_only: bool,
    now_unix: i64,
) -> ExportPlan {
    let mut plan = ExportPlan {
        read: pairs.len(),
        ..Default::default()
    };
    for mut p in pairs {
        if let (Some(ledger), Some(k)) = (imported, key_of(&p)) {
            if let Some(t) = ledger.get(&k) {
                let h = &mut p.history;
                if t.fail_time != 0 && h.fail_time <= t.fail_time {
                    (h.fail_time, h.fail_amt_sat, h.fail_amt_msat) = (0, 0, 0);
                }
                if t.success_time != 0 && h.success_time <= t.success_time {
                    (h.success_time, h.success_amt_sat, h.success_amt_msat) = (0, 0, 0);
                }
                if h.fail_time == 0 && h.success_time == 0 {
                    plan.skipped_imported += 1;
                    continue;
                }
            }
        }
        if successes_only {
            let h = &mut p.history;
            (h.fail_time, h.fail_amt_sat, h.fail_amt_msat) = (0, 0, 0);
            if h.success_time == 0 {
                plan.skipped_no_success += 1;
                continue;
            }
        }
        match validate_pair(p) {
            Ok((p, eff)) => {
                if eff.fail_time.max(eff.success_time) > now_unix + FUTURE_SKEW_SECS {
                    plan.future += 1;
                } else {
                    plan.pairs.push(p);
                }
            }
            Err(e) => plan.invalid.add(e),
        }
    }
    plan
}

/// Reads a saved `lncli querymc` file; errors name it.
pub fn read_querymc_file(path: &std::path::Path) -> Result<Vec<PairHistory>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::config(format!("--from-file: {}: {e}", path.display())))?;
    rpc::parse_query_mc_json(&text).map_err(|e| Error::config(format!("--from-file: {}: {e}", path.display())))
}

async fn connect_lnd(cfg: &SyncConfig) -> Result<(LndClient, NodeInfo)> {
    let target = cfg.lnd.resolve()?;
    let mut c = LndClient::connect(&target).await?;
    let info = c.get_info().await?;
    if let Some(net) = info.network.as_deref() {
        if !net.is_empty() && net != target.network {
            warn!(lnd = %target.address(), lnd_network = net, network = %target.network,
                "lnd runs on another network than --network");
        }
    }
    Ok((c, info))
}

fn public_key(k: &SecretKey) -> NodeId {
    NodeId(secp256k1::PublicKey::from_secret_key(&secp256k1::Secp256k1::signing_only(), k).serialize())
}

/// One export, no retries.
pub async fn export_once(cfg: &SyncConfig) -> Result<ExportReport> {
    let (mut lnd, node, pairs, ledger, source) = match (&cfg.from_file, &cfg.sign_key) {
        (Some(file), Some(key)) => (
            None,
            public_key(key),
            read_querymc_file(file)?,
            None,
            file.display().to_string(),
        ),
        (Some(file), None) => {
            let pairs = read_querymc_file(file)?;
            let (c, info) = connect_lnd(cfg).await?;
            (Some(c), info.pubkey, pairs, None, file.display().to_string())
        }
        (None, _) => {
            let (mut c, info) = connect_lnd(cfg).await?;
            let pairs = c.query_mission_control().await?;
            let state = SyncState::load(&cfg.data_dir, &cfg.coordinator.url, &info.pubkey)?;
            let lost = lost_imports(&state.imported, &by_pair(&pairs));
            // After lnd lost its imports, everything it holds is its own.
            let ledger = (lost == 0).then_some(state.imported);
            (Some(c), info.pubkey, pairs, ledger, "lnd".to_string())
        }
    };
    let plan = prepare_export(pairs, ledger.as_ref(), cfg.successes_only, unix_now());
    let mut report = ExportReport {
        node: Some(node),
        source,
        read: plan.read,
        skipped_imported: plan.skipped_imported,
        skipped_no_success: plan.skipped_no_success,
        invalid: plan.invalid.count,
        future: plan.future,
        ..Default::default()
    };
    if plan.invalid.count > 0 {
        warn!(count = plan.invalid.count, examples = ?plan.invalid.examples,
            "export: pairs LND's import rules would refuse were left out");
    }
    if plan.pairs.is_empty() {
        info!(node = %node, read = report.read, skipped_imported = report.skipped_imported,
            "export: nothing to send");
        return Ok(report);
    }
    let mut ec = CoordinatorClient::connect(&cfg.coordinator).await?;
    let mut chunk = cfg.export_batch;
    let mut rest: &[PairHistory] = &plan.pairs;
    while !rest.is_empty() {
        let n = chunk.min(rest.len());
        let body = pb::RegistrationBody {
            reporter: node.0.to_vec(),
            timestamp: unix_now(),
            pairs: rest[..n].iter().map(dmc_proto::pair_to_proto).collect(),
            successes_only: cfg.successes_only,
        }
        .encode_to_vec();
        let signature = match (&cfg.sign_key, lnd.as_mut()) {
            (Some(k), _) => dmc_core::signmsg::sign_message(k, &body),
            (None, Some(c)) => c.sign_message(&body).await?,
            (None, None) => return Err(Error::config("no signer: give --sign-key or let dmc reach lnd")),
        };
        match dmc_core::signmsg::recover_signer(&body, &signature) {
            Ok(k) if k == node => {}
            Ok(k) => {
                return Err(Error::invalid(format!(
                    "SignMessage signed with key {k}, not the node's identity {node}"
                )))
            }
            Err(e) => {
                return Err(Error::invalid(format!(
                    "SignMessage returned an unusable signature: {e}"
                )))
            }
        }
        match ec.register(body, signature).await? {
            Registered::Accepted(r) => {
                report.sent += n;
                report.accepted += r.accepted as usize;
                report.stale_dropped += r.stale_dropped as usize;
                report.registrations += 1;
                report.cursor = Some(r.cursor);
                rest = &rest[n..];
            }
            Registered::Duplicate => {
                report.sent += n;
                report.registrations += 1;
                rest = &rest[n..];
            }
            Registered::AllStale(_) => {
                report.sent += n;
                report.stale_dropped += n;
                report.registrations += 1;
                rest = &rest[n..];
            }
            Registered::TooLarge(msg) => {
                if n == 1 {
                    return Err(Error::invalid(format!(
                        "the coordinator at {} refuses even one pair per registration: {msg}",
                        ec.url()
                    )));
                }
                chunk = n / 2;
                warn!(pairs = n, next = chunk, limit = %msg, "export: registration too large; splitting");
            }
        }
    }
    info!(node = %node, coordinator = %ec.url(), source = %report.source, read = report.read,
        sent = report.sent, accepted = report.accepted, stale_dropped = report.stale_dropped,
        skipped_imported = report.skipped_imported, skipped_no_success = report.skipped_no_success,
        invalid = report.invalid, registrations = report.registrations,
        cursor = report.cursor.unwrap_or(0), successes_only = cfg.successes_only, "exported");
    Ok(report)
}

/// One import, no retries.
pub async fn import_once(cfg: &SyncConfig) -> Result<ImportReport> {
    if let Some(file) = &cfg.to_file {
        return import_to_file(cfg, file).await;
    }
    let (mut lnd, info) = connect_lnd(cfg).await?;
    let node = info.pubkey;
    // Which estimator will use the imported data (for the log).
    let estimator = match lnd.get_mission_control_config().await {
        Ok(c) => match c.estimator {
            dmc_core::estimator::EstimatorConfig::Apriori(_) => "apriori",
            dmc_core::estimator::EstimatorConfig::Bimodal(_) => "bimodal",
        },
        Err(e) if e.is_transient() || e.needs_operator() => return Err(e),
        Err(e) => {
            warn!(error = %e, "GetMissionControlConfig failed; importing anyway");
            "unknown"
        }
    };
    let node_mc = by_pair(&lnd.query_mission_control().await?);
    let mut state = SyncState::load(&cfg.data_dir, &cfg.coordinator.url, &node)?;
    let mut report = ImportReport {
        node: Some(node),
        ..Default::default()
    };
    report.lost_imports = lost_imports(&state.imported, &node_mc);
    if report.lost_imports > 0 {
        warn!(node = %node, missing = report.lost_imports,
            "lnd no longer holds pairs imported earlier (restarted or resetmc): importing everything again");
        state.reset();
    }
    report.cursor_from = state.cursor;
    let mut ec = CoordinatorClient::connect(&cfg.coordinator).await?;
    let delta = ec.query(state.cursor).await?;
    let pairs: Vec<PairHistory> = delta.pairs.iter().map(|a| a.pair.clone()).collect();
    let held = NodeState {
        mc: &node_mc,
        imported: &state.imported,
        now_unix: unix_now(),
        first_hand_hold_secs: FIRST_HAND_HOLD_SECS,
    };
    let plan = prepare_import(&pairs, Some(&node), Some(&held));
    report.cursor = delta.cursor;
    report.full_resync = delta.full_resync;
    report.received = plan.received;
    report.removed = delta.removed.len();
    report.own_dropped = plan.own_dropped;
    report.not_newer = plan.not_newer.len();
    report.first_hand_kept = plan.first_hand_kept;
    report.invalid = plan.invalid.count;
    if plan.invalid.count > 0 {
        warn!(count = plan.invalid.count, examples = ?plan.invalid.examples,
            "import: pairs LND would refuse were left out");
    }
    for batch in plan.pairs.chunks(cfg.import_batch) {
        if let Err(e) = lnd.import_mission_control(batch, cfg.force).await {
            // Keep the ledger of what did land; the cursor stays.
            let _ = state.save(unix_now());
            return Err(e);
        }
        record_imports(&mut state.imported, batch);
        report.imported += batch.len();
        report.batches += 1;
    }
    // lnd is relied on to keep what it already had as recently, too: if
    // those pairs vanish (restart), the next import starts from scratch.
    record_imports(&mut state.imported, &plan.not_newer);
    state.cursor = Some(delta.cursor);
    state.save(unix_now())?;
    let from = report.cursor_from.map_or_else(|| "none".to_string(), |c| c.to_string());
    info!(node = %node, coordinator = %ec.url(), cursor_from = %from, cursor = report.cursor,
        full_resync = report.full_resync, received = report.received, imported = report.imported,
        batches = report.batches, own_dropped = report.own_dropped, not_newer = report.not_newer,
        first_hand_kept = report.first_hand_kept,
        removed_ignored = report.removed, invalid = report.invalid, force = cfg.force, lnd_estimator = estimator,
        "imported");
    Ok(report)
}

async fn import_to_file(cfg: &SyncConfig, file: &std::path::Path) -> Result<ImportReport> {
    let node = cfg.self_node.or_else(|| cfg.sign_key.as_ref().map(public_key));
    let mut ec = CoordinatorClient::connect(&cfg.coordinator).await?;
    let delta = ec.query(None).await?;
    let pairs: Vec<PairHistory> = delta.pairs.iter().map(|a| a.pair.clone()).collect();
    let plan = prepare_import(&pairs, node.as_ref(), None);
    let doc = Json::object([(
        "pairs",
        Json::Array(plan.pairs.iter().map(PairHistory::to_json).collect()),
    )]);
    std::fs::write(file, doc.pretty() + "\n")
        .map_err(|e| Error::config(format!("--to-file: {}: {e}", file.display())))?;
    let report = ImportReport {
        node,
        cursor: delta.cursor,
        full_resync: true,
        received: plan.received,
        removed: delta.removed.len(),
        own_dropped: plan.own_dropped,
        invalid: plan.invalid.count,
        imported: plan.pairs.len(),
        to_file: Some(file.to_path_buf()),
        ..Default::default()
    };
    if node.is_none() {
        warn!("--to-file: the node's key is unknown (give --self or --sign-key), so pairs touching it were kept");
    }
    info!(coordinator = %ec.url(), file = %file.display(), pairs = report.imported, own_dropped = report.own_dropped,
        invalid = report.invalid, cursor = report.cursor, "wrote the merged mission control for lncli loadmc");
    Ok(report)
}

/// Runs `f` until it succeeds, retrying transient errors with exponential
/// backoff (at most `cfg.retries` times).
pub async fn with_retries<T, F, Fut>(cfg: &SyncConfig, phase: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut delay = cfg.backoff_initial;
    let mut attempt: u32 = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() => {
                if cfg.retries.is_some_and(|max| attempt >= max) {
                    let mut e = e;
                    if attempt > 0 {
                        e.message += &format!(" (gave up after {attempt} retries)");
                    }
                    return Err(e);
                }
                attempt += 1;
                warn!(phase, attempt, retry_in_ms = delay.as_millis() as u64, error = %e, "unavailable; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(cfg.backoff_max.max(cfg.backoff_initial));
            }
            Err(e) => return Err(e),
        }
    }
}

/// One cycle: export then import, each retried on transient failures.
pub async fn run_cycle(cfg: &SyncConfig) -> Result<CycleReport> {
    cfg.validate()?;
    let mut report = CycleReport::default();
    if cfg.direction.exports() {
        report.export = Some(with_retries(cfg, "export", || export_once(cfg)).await?);
    }
    if cfg.direction.imports() {
        report.import = Some(with_retries(cfg, "import", || import_once(cfg)).await?);
    }
    Ok(report)
}

/// Cycles every `cfg.interval` until `shutdown` completes. Errors the
/// operator must fix (flags, files, credentials) end the loop; others are
/// logged and the next cycle runs on schedule.
pub async fn run_forever(cfg: &SyncConfig, shutdown: impl Future<Output = ()>) -> Result<()> {
    cfg.validate()?;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            r = run_cycle(cfg) => match r {
                Ok(_) => {}
                Err(e) if e.needs_operator() => return Err(e),
                Err(e) => warn!(error = %e, next_in_s = cfg.interval.as_secs(), "sync cycle failed"),
            },
            _ = &mut shutdown => return Ok(()),
        }
        tokio::select! {
            _ = tokio::time::sleep(cfg.interval) => {}
            _ = &mut shutdown => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u8) -> NodeId {
        let mut b = [0u8; 32];
        b[31] = i;
        public_key(&SecretKey::from_slice(&b).unwrap())
    }

    fn pair(from: u8, to: u8, h: PairData) -> PairHistory {
        PairHistory {
            node_from: key(from).0.to_vec(),
            node_to: key(to).0.to_vec(),
            history: h,
        }
    }

    fn success(t: i64, msat: i64) -> PairData {
        PairData::success_at(t, msat)
    }

    fn failure(t: i64, msat: i64) -> PairData {
        PairData::failure_at(t, msat)
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn export_leaves_out_imported_slots_failures_and_invalid_pairs() {
        let both = PairData {
            fail_time: NOW - 10,
            fail_amt_sat: 9,
            fail_amt_msat: 9000,
            ..success(NOW - 20, 5000)
        };
        let pairs = vec![
            pair(1, 2, both),
            pair(2, 3, success(NOW - 50, 1000)),   // imported, unchanged since
            pair(3, 4, failure(NOW - 5, 7000)),    // failure only
            pair(4, 4, success(NOW, 1000)),        // from == to: invalid
            pair(4, 5, success(NOW + 3600, 1000)), // an hour ahead
            pair(
                5,
                6,
                PairData {
                    success_time: NOW,
                    ..Default::default()
                },
            ), // sanitised away → invalid
        ];
        let mut ledger = HashMap::new();
        ledger.insert(
            (key(2), key(3)),
            ImportedTimes {
                fail_time: 0,
                success_time: NOW - 50,
            },
        );
        // Pair 1→2: its failure was imported, its success is the node's own.
        ledger.insert(
            (key(1), key(2)),
            ImportedTimes {
                fail_time: NOW - 10,
                success_time: NOW - 100,
            },
        );
        let plan = prepare_export(pairs.clone(), Some(&ledger), false, NOW);
        assert_eq!(plan.read, 6);
        assert_eq!(plan.skipped_imported, 1);
        assert_eq!(plan.future, 1);
        assert_eq!(plan.invalid.count, 2);
        assert_eq!(plan.pairs.len(), 2);
        assert_eq!(plan.pairs[0].history, success(NOW - 20, 5000));
        assert_eq!(plan.pairs[1].history, failure(NOW - 5, 7000));

        let plan = prepare_export(pairs, None, true, NOW);
        assert_eq!(plan.skipped_no_success, 1);
        assert!(plan
            .pairs
            .iter()
            .all(|p| p.history.fail_time == 0 && p.history.fail_amt_msat == 0));
        assert_eq!(plan.pairs.len(), 2); // 1→2 (success part) and 2→3
    }

    #[test]
    fn lost_imports_are_pairs_lnd_no_longer_has() {
        let mut ledger = HashMap::new();
        ledger.insert((key(1), key(2)), ImportedTimes::default());
        ledger.insert((key(2), key(3)), ImportedTimes::default());
        let node = by_pair(&[pair(1, 2, success(NOW, 1000))]);
        assert_eq!(lost_imports(&ledger, &node), 1);
        let node = by_pair(&[pair(1, 2, success(NOW, 1000)), pair(2, 3, success(NOW, 1000))]);
        assert_eq!(lost_imports(&ledger, &node), 0);
    }

    #[test]
    fn config_combinations_are_checked() {
        let base = SyncConfig::new(
            CoordinatorOptions {
                url: "https://x:1".into(),
                tls_cert: None,
                tls_cert_flag: "--ec-tls-cert",
            },
            "/tmp/d".into(),
        );
        assert!(base.validate().is_ok());
        assert!(base.needs_lnd());
        let mut c = base.clone();
        c.from_file = Some("q.json".into());
        c.direction = Direction::ImportOnly;
        assert!(c.validate().unwrap_err().message.contains("--from-file"));
        let mut c = base.clone();
        c.to_file = Some("o.json".into());
        c.direction = Direction::ExportOnly;
        assert!(c.validate().unwrap_err().message.contains("--to-file"));
        let mut c = base.clone();
        c.sign_key = Some(SecretKey::from_slice(&[1; 32]).unwrap());
        assert!(c.validate().unwrap_err().message.contains("--sign-key"));
        c.from_file = Some("q.json".into());
        c.to_file = Some("o.json".into());
        assert!(c.validate().is_ok());
        assert!(!c.needs_lnd());
    }

    #[tokio::test]
    async fn retries_back_off_and_give_up() {
        let mut cfg = SyncConfig::new(
            CoordinatorOptions {
                url: "https://x:1".into(),
                tls_cert: None,
                tls_cert_flag: "--ec-tls-cert",
            },
            "/tmp/d".into(),
        );
        cfg.backoff_initial = Duration::from_millis(5);
        cfg.backoff_max = Duration::from_millis(20);
        cfg.retries = Some(3);
        let mut calls = 0;
        let started = std::time::Instant::now();
        let r: Result<()> = with_retries(&cfg, "test", || {
            calls += 1;
            async { Err(Error::unavailable("down")) }
        })
        .await;
        assert_eq!(calls, 4);
        assert_eq!(r.unwrap_err().message, "down (gave up after 3 retries)");
        // 5 + 10 + 20 ms of backoff.
        assert!(started.elapsed() >= Duration::from_millis(35));
        let mut calls = 0;
        let r: Result<u8> = with_retries(&cfg, "test", || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(Error::unavailable("down"))
                } else {
                    Ok(7)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        let mut calls = 0;
        let r: Result<()> = with_retries(&cfg, "test", || {
            calls += 1;
            async { Err(Error::refused("bad macaroon")) }
        })
        .await;
        assert_eq!((calls, r.unwrap_err().message.as_str()), (1, "bad macaroon"));
    }
}
