//! What a sync cycle reports (the JSON `dmc sync` prints).

use super::*;

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
