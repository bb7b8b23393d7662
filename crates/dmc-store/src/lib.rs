//! # dmc-store: the local mission-control store
//!
//! One [redb](https://docs.rs/redb) file per data directory holds what a
//! node's mission control must survive a restart with:
//!
//! * **raw attempt results**, keyed as LND keys them (reply time ‖ attempt
//!   id ‖ source), bounded by `max_history` (0 = unlimited) exactly as
//!   LND's flush prunes them (spec §1.7), and replayed on open;
//! * **imports** (`loadmc`, `importmc`), which LND keeps only in memory, in
//!   their own table so they never mix with local observations;
//! * the local node's key and the mission-control configuration.
//!
//! [`LocalStore::mission_control`] rebuilds a [`MissionControl`] from these,
//! as one of three [`View`]s: local results only, imports only, or both
//! merged in time order, which is what a running LND would hold.
//!
//! Every write is one redb transaction, committed durably (fsync) before it
//! returns; a write that fails validation changes nothing.
//!
//! The coordinator's store is separate: [`coordinator`] (the trait and its
//! redb implementation) and [`postgres`] (the same on PostgreSQL, shared by
//! several `dmc serve` replicas).

pub mod coordinator;
mod error;
pub mod postgres;

use std::path::{Path, PathBuf};

use dmc_core::codec::{self, ImportBatch};
use dmc_core::rpc::{config_json, parse_config_json};
use dmc_core::{MissionControl, MissionControlConfig, NodeId, PaymentResult};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

pub use error::StoreError;

const RESULTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("results");
const IMPORTS: TableDefinition<u64, &[u8]> = TableDefinition::new("imports");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const META_SELF: &str = "self_node";
const META_CONFIG: &str = "config";

/// File name of the store inside the data directory.
pub const STORE_FILE: &str = "mc.redb";

/// A redb failure of `ctx`.
fn err<E: Into<redb::Error>>(ctx: &str) -> impl Fn(E) -> StoreError + '_ {
    move |e| StoreError::redb(ctx, e)
}

/// Which data a rebuilt mission control contains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum View {
    /// Local results and imports, applied in time order (LND's state).
    #[default]
    Merged,
    /// Only this node's own attempt results.
    Local,
    /// Only imported data.
    Imported,
}

/// What [`LocalStore::add_results`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddOutcome {
    /// New results written.
    pub written: usize,
    /// Stored results deleted to respect `max_history`.
    pub pruned: usize,
    /// New results dropped unwritten because the batch alone exceeded it.
    pub dropped: usize,
}

/// The local mission-control store of one data directory.
pub struct LocalStore {
    db: Database,
    path: PathBuf,
}

impl LocalStore {
    /// Opens (creating if needed) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::io(format!("creating data dir {}", data_dir.display()), e))?;
        let path = data_dir.join(STORE_FILE);
        let db = Database::create(&path).map_err(|e| match e {
            // Another process (a running `dmc`) has the file open.
            redb::DatabaseError::DatabaseAlreadyOpen => {
                StoreError::Locked(format!("opening store {}: {e}", path.display()))
            }
            e => StoreError::redb(format!("opening store {}", path.display()), e),
        })?;
        let store = LocalStore { db, path };
        let tx = store.db.begin_write().map_err(err("begin write"))?;
        {
            tx.open_table(RESULTS).map_err(err("results table"))?;
            tx.open_table(IMPORTS).map_err(err("imports table"))?;
            tx.open_table(META).map_err(err("meta table"))?;
        }
        tx.commit().map_err(err("commit"))?;
        Ok(store)
    }

    /// The store file (in the data dir).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read().map_err(err("begin read"))?;
        let t = tx.open_table(META).map_err(err("meta table"))?;
        let v = t.get(key).map_err(err("read meta"))?;
        Ok(v.map(|v| v.value().to_vec()))
    }

    fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(err("begin write"))?;
        {
            let mut t = tx.open_table(META).map_err(err("meta table"))?;
            t.insert(key, value).map_err(err("write meta"))?;
        }
        tx.commit().map_err(err("commit"))
    }

    /// The saved local node, if any.
    pub fn self_node(&self) -> Result<Option<NodeId>, StoreError> {
        match self.meta(META_SELF)? {
            None => Ok(None),
            Some(b) => NodeId::from_bytes_unchecked(&b)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("stored self node: {e}"))),
        }
    }

    /// Saves the local node's key (mission control's source node).
    pub fn set_self_node(&self, node: &NodeId) -> Result<(), StoreError> {
        self.set_meta(META_SELF, &node.0)
    }

    /// The saved configuration, or LND's defaults.
    pub fn config(&self) -> Result<MissionControlConfig, StoreError> {
        match self.meta(META_CONFIG)? {
            None => Ok(MissionControlConfig::default()),
            Some(b) => {
                let text = String::from_utf8(b).map_err(|e| StoreError::Corrupt(format!("stored config: {e}")))?;
                parse_config_json(&text).map_err(|e| StoreError::Corrupt(format!("stored config: {e}")))
            }
        }
    }

    /// Saves a configuration; it must already be valid.
    pub fn set_config(&self, cfg: &MissionControlConfig) -> Result<(), StoreError> {
        cfg.validate()
            .map_err(|e| StoreError::Invalid(format!("config: {e}")))?;
        self.set_meta(META_CONFIG, config_json(cfg).compact().as_bytes())
    }

    /// Persists attempt results, pruning the oldest so at most
    /// `max_history` remain (0: no limit), as LND's flush does.
    pub fn add_results(&self, results: &[PaymentResult], max_history: u32) -> Result<AddOutcome, StoreError> {
        let mut keyed = Vec::with_capacity(results.len());
        for r in results {
            r.validate()
                .map_err(|e| StoreError::Invalid(format!("result {}: {e}", r.id)))?;
            let key = codec::result_key(r)
                .ok_or_else(|| StoreError::Invalid(format!("result {}: reply time before 1970", r.id)))?;
            keyed.push((key, codec::encode_result(r)));
        }
        // The newest are kept: LND drops the oldest queued results first.
        keyed.sort_by_key(|a| a.0);
        let mut outcome = AddOutcome::default();
        let tx = self.db.begin_write().map_err(err("begin write"))?;
        {
            let mut t = tx.open_table(RESULTS).map_err(err("results table"))?;
            if max_history > 0 {
                let max = max_history as usize;
                if keyed.len() > max {
                    outcome.dropped = keyed.len() - max;
                    keyed.drain(..outcome.dropped);
                }
                let stored = t.len().map_err(err("count results"))? as usize;
                let excess = (stored + keyed.len()).saturating_sub(max);
                if excess > 0 {
                    let oldest: Vec<Vec<u8>> = t
                        .iter()
                        .map_err(err("scan results"))?
                        .take(excess)
                        .map(|e| e.map(|(k, _)| k.value().to_vec()))
                        .collect::<Result<_, _>>()
                        .map_err(err("scan results"))?;
                    for k in &oldest {
                        t.remove(k.as_slice()).map_err(err("prune results"))?;
                    }
                    outcome.pruned = oldest.len();
                }
            }
            for (k, v) in &keyed {
                t.insert(k.as_slice(), v.as_slice()).map_err(err("write result"))?;
            }
            outcome.written = keyed.len();
        }
        tx.commit().map_err(err("commit"))?;
        Ok(outcome)
    }

    /// Every stored result in key order. Entries that cannot be decoded are
    /// deleted, as LND does at start-up, and counted in the second value.
    pub fn results(&self) -> Result<(Vec<PaymentResult>, usize), StoreError> {
        let mut out = Vec::new();
        let mut bad: Vec<Vec<u8>> = Vec::new();
        {
            let tx = self.db.begin_read().map_err(err("begin read"))?;
            let t = tx.open_table(RESULTS).map_err(err("results table"))?;
            for e in t.iter().map_err(err("scan results"))? {
                let (k, v) = e.map_err(err("scan results"))?;
                match codec::decode_result(v.value()) {
                    Some(r) if r.validate().is_ok() => out.push(r),
                    _ => bad.push(k.value().to_vec()),
                }
            }
        }
        if !bad.is_empty() {
            let tx = self.db.begin_write().map_err(err("begin write"))?;
            {
                let mut t = tx.open_table(RESULTS).map_err(err("results table"))?;
                for k in &bad {
                    t.remove(k.as_slice()).map_err(err("delete bad result"))?;
                }
            }
            tx.commit().map_err(err("commit"))?;
        }
        Ok((out, bad.len()))
    }

    /// Persists one validated import.
    pub fn add_import(&self, batch: &ImportBatch) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(err("begin write"))?;
        {
            let mut t = tx.open_table(IMPORTS).map_err(err("imports table"))?;
            let next = t
                .last()
                .map_err(err("scan imports"))?
                .map(|(k, _)| k.value() + 1)
                .unwrap_or(0);
            t.insert(next, codec::encode_import(batch).as_slice())
                .map_err(err("write import"))?;
        }
        tx.commit().map_err(err("commit"))
    }

    /// Every stored import, oldest first.
    pub fn imports(&self) -> Result<Vec<ImportBatch>, StoreError> {
        let tx = self.db.begin_read().map_err(err("begin read"))?;
        let t = tx.open_table(IMPORTS).map_err(err("imports table"))?;
        let mut out = Vec::new();
        for e in t.iter().map_err(err("scan imports"))? {
            let (k, v) = e.map_err(err("scan imports"))?;
            let batch = codec::decode_import(v.value()).ok_or_else(|| {
                StoreError::Corrupt(format!("import {} in {} is corrupt", k.value(), self.path.display()))
            })?;
            out.push(batch);
        }
        Ok(out)
    }

    /// Deletes all results and imports (`resetmc`); keeps self and config.
    pub fn reset(&self) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(err("begin write"))?;
        tx.delete_table(RESULTS).map_err(err("reset results"))?;
        tx.delete_table(IMPORTS).map_err(err("reset imports"))?;
        {
            tx.open_table(RESULTS).map_err(err("results table"))?;
            tx.open_table(IMPORTS).map_err(err("imports table"))?;
        }
        tx.commit().map_err(err("commit"))
    }

    /// Rebuilds mission control by replaying what is stored (spec §1.7).
    /// In the merged view, results and imports are applied in time order;
    /// at equal times results go first.
    pub fn mission_control(&self, view: View, self_node: Option<NodeId>) -> Result<MissionControl, StoreError> {
        let mut mc = MissionControl::new(self_node, self.config()?);
        let results = match view {
            View::Imported => Vec::new(),
            _ => self.results()?.0,
        };
        let mut imports = match view {
            View::Local => Vec::new(),
            _ => self.imports()?,
        };
        // Stable: imports made at the same time keep their order.
        imports.sort_by_key(|b| b.time);
        let mut imports = imports.into_iter().peekable();
        for r in &results {
            while let Some(b) = imports.next_if(|b| b.time < r.time_reply) {
                mc.import_pairs(&b.pairs, b.force);
            }
            // Stored results were validated before they were written.
            let _ = mc.apply_payment_result(r);
        }
        for b in imports {
            mc.import_pairs(&b.pairs, b.force);
        }
        Ok(mc)
    }
}
