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
//! retried with exponential backoff and jitter ([`retry_delays`]); wrong
//! flags, files and credentials stop with an error naming them.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use dmc_client::v2::registration_body;
use dmc_client::{CoordinatorOptions, RegisterOutcome, V2Client};
use dmc_core::json::Json;
use dmc_core::node::NodeId;
use dmc_core::rpc::{self, PairData, PairHistory};
use dmc_core::sync_plan::{
    by_pair, key_of, prepare_import, record_imports, validate_pair, NodeState, PairKey, Refusals, FIRST_HAND_HOLD_SECS,
};
use secp256k1::SecretKey;
use tracing::{info, warn};

use crate::client::{LndClient, NodeInfo};
use crate::error::{Error, Result};
use crate::options::LndOptions;
use crate::state::{ImportedTimes, SyncState};

/// Which way data moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Export the node's mission control, then import the coordinator's.
    Both,
    /// Export only (`--export-only`).
    ExportOnly,
    /// Import only (`--import-only`).
    ImportOnly,
}

impl Direction {
    /// Whether a cycle runs the export.
    pub fn exports(self) -> bool {
        self != Direction::ImportOnly
    }

    /// Whether a cycle runs the import.
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
    /// The coordinator to register with and query.
    pub coordinator: CoordinatorOptions,
    /// How to reach lnd (lncli's flags).
    pub lnd: LndOptions,
    /// Where the cursor and import ledger live.
    pub data_dir: PathBuf,
    /// Which phases a cycle runs.
    pub direction: Direction,
    /// `--successes-only`: strip failures from the export and mark the registration so.
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
    /// Pairs per `XImportMissionControl` request.
    pub import_batch: usize,
    /// Pairs per signed registration (halved while the coordinator says too large).
    pub export_batch: usize,
    /// XImportMissionControl's `force`.
    pub force: bool,
    /// The pause after one cycle ends before the next starts ([`run_forever`]).
    pub interval: Duration,
    /// Retries of a phase after transient failures (`None`: unlimited).
    pub retries: Option<u32>,
    /// The first retry's pause; later ones double, with jitter ([`retry_delays`]).
    pub backoff_initial: Duration,
    /// The longest pause between retries.
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

mod export;
mod import;
mod report;

pub use export::*;
pub use import::*;
pub use report::*;

/// The pauses between retries of a phase: `backoff_initial`, doubling up to
/// `backoff_max`, each stretched by up to as much again at random (backon's
/// jitter, so nodes that lost the same coordinator at once do not come back
/// in step) but never beyond `backoff_max`; at most `retries` of them.
pub fn retry_delays(cfg: &SyncConfig) -> impl Iterator<Item = Duration> + Send + Sync + Unpin {
    let max = cfg.backoff_max.max(cfg.backoff_initial);
    let backoff = ExponentialBuilder::new()
        .with_min_delay(cfg.backoff_initial)
        .with_max_delay(max)
        .with_jitter();
    let backoff = match cfg.retries {
        Some(n) => backoff.with_max_times(n as usize),
        None => backoff.without_max_times(),
    };
    backoff.build().map(move |d| d.min(max))
}

/// Runs `f` until it succeeds, retrying transient errors after the pauses
/// of [`retry_delays`].
pub async fn with_retries<T, F, Fut>(cfg: &SyncConfig, phase: &str, f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt: u32 = 0;
    let r = f
        .retry(retry_delays(cfg))
        .sleep(tokio::time::sleep)
        .when(Error::is_transient)
        .notify(|e, delay| {
            attempt += 1;
            warn!(phase, attempt, retry_in_ms = delay.as_millis() as u64, error = %e, "unavailable; retrying");
        })
        .await;
    r.map_err(|mut e| {
        // Still transient: the retries ran out.
        if e.is_transient() && attempt > 0 {
            e.message += &format!(" (gave up after {attempt} retries)");
        }
        e
    })
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

    /// A configuration for a coordinator that is never reached.
    fn unreachable_config() -> SyncConfig {
        SyncConfig::new(
            CoordinatorOptions {
                url: "https://x:1".into(),
                tls_cert: None,
                tls_cert_flag: "--ec-tls-cert",
            },
            "/tmp/d".into(),
        )
    }

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
        let base = unreachable_config();
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
        let mut cfg = unreachable_config();
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

    #[test]
    fn retry_delays_are_jittered_within_the_bounds() {
        let mut cfg = unreachable_config();
        cfg.retries = Some(12);
        let (initial, max) = (cfg.backoff_initial, cfg.backoff_max);
        let runs: Vec<Vec<Duration>> = (0..50).map(|_| retry_delays(&cfg).collect()).collect();
        for delays in &runs {
            assert_eq!(delays.len(), 12);
            for (k, d) in delays.iter().enumerate() {
                // The unjittered delay (1 s doubling, capped at 5 min) up to twice it, never past the max.
                let base = (initial * 2u32.pow(k as u32)).min(max);
                assert!(
                    *d >= base && *d <= (base * 2).min(max),
                    "delay {k}: {d:?} outside [{base:?}, 2×{base:?}] ∧ ≤ {max:?}"
                );
            }
        }
        // Jitter: the same retry waits differently from run to run.
        for k in 0..4 {
            let first = runs[0][k];
            assert!(runs.iter().any(|r| r[k] != first), "delay {k} is always {first:?}");
        }
        cfg.retries = None;
        assert_eq!(retry_delays(&cfg).take(100).count(), 100);
        cfg.retries = Some(0);
        assert_eq!(retry_delays(&cfg).count(), 0);
    }
}
