//! What a sync cycle reports (the JSON `dmc sync` prints).

use super::*;

/// What one export moved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// The node whose key signed the registrations.
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
    /// Pairs the coordinator merged (its `accepted`, summed).
    pub accepted: usize,
    /// Pairs the coordinator dropped as stale (whole registrations refused as all stale count all their pairs).
    pub stale_dropped: usize,
    /// Registrations the coordinator answered (accepted, duplicate or all stale).
    pub registrations: usize,
    /// The coordinator's cursor after the last registration.
    pub cursor: Option<u64>,
}

/// What one import moved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The node imported into (`None` for `--to-file` without a known key).
    pub node: Option<NodeId>,
    /// The stored cursor the query started from (`None`: everything).
    pub cursor_from: Option<u64>,
    /// The coordinator's cursor after the query (stored once every batch was
    /// imported; never stored with `--to-file`).
    pub cursor: u64,
    /// The answer holds everything, not a delta since `cursor_from` (always
    /// so with `--to-file`, which queries from scratch).
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
    /// Pairs LND's import rules would refuse, left out.
    pub invalid: usize,
    /// Pairs sent in XImportMissionControl (or written to the file).
    pub imported: usize,
    /// `XImportMissionControl` requests sent.
    pub batches: usize,
    /// The file written instead of importing (`--to-file`).
    pub to_file: Option<PathBuf>,
}

/// One cycle: export, then import (either may be absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// The export's report, if the cycle exported.
    pub export: Option<ExportReport>,
    /// The import's report, if the cycle imported.
    pub import: Option<ImportReport>,
}

pub(super) fn null() -> Json {
    Json::Raw("null".into())
}

pub(super) fn opt_node(n: &Option<NodeId>) -> Json {
    n.map_or_else(null, |n| Json::str(n.to_hex()))
}

pub(super) fn count(n: usize) -> Json {
    Json::int32(n)
}

impl ExportReport {
    /// The report as `dmc sync` prints it (`null` for unknown values).
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
    /// The report as `dmc sync` prints it (`null` for unknown values).
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
    /// `{"export": ..., "import": ...}`, `null` for a phase not run.
    pub fn to_json(&self) -> Json {
        Json::object([
            ("export", self.export.as_ref().map_or_else(null, ExportReport::to_json)),
            ("import", self.import.as_ref().map_or_else(null, ImportReport::to_json)),
        ])
    }
}
