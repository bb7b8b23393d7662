//! Pair state: what mission control remembers about each directed pair, and
//! the rules that update it (spec §1.2–§1.5, §3.2).
//!
//! For every directed pair LND keeps the time and amount of the last applied
//! failure and of the last success, where the success amount is the highest
//! that went through. A failure amount of 0 means the pair failed
//! independently of the amount. Successes push the failure amount up to just
//! above them (`+1`), failures push the success amount down to just below
//! them (`−1`), and a higher failure within `min_failure_relax_interval` of
//! the previous failure is ignored, so one burst of errors cannot
//! ratchet the failure amount upward.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::amount::Msat;
use crate::node::{DirectedPair, NodeId};
use crate::time::{DurationNs, Timestamp};

/// LND's `minSecondChanceInterval`: one minute, not configurable.
pub const MIN_SECOND_CHANCE_INTERVAL: DurationNs = DurationNs::MINUTE;

/// What mission control holds for one directed pair (LND's `TimedPairResult`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimedPairResult {
    /// Time of the last applied failure; zero time means none.
    pub fail_time: Timestamp,
    /// Amount of the last applied failure; 0 means amount-independent.
    pub fail_amt_msat: Msat,
    /// Time of the last applied success; zero time means none.
    pub success_time: Timestamp,
    /// Highest amount known to pass (lowered by failures).
    pub success_amt_msat: Msat,
}

/// One interpreted outcome for one pair (LND's `pairResult`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairResult {
    /// For a success, the amount that went through; for a failure, the
    /// lowest amount it penalises (0: every amount). In msat.
    pub amt_msat: Msat,
    /// Whether the pair forwarded the amount.
    pub success: bool,
}

impl PairResult {
    /// A success at `amt_msat`; applied, it raises the pair's success
    /// amount if higher (§1.2).
    pub fn success(amt_msat: Msat) -> Self {
        PairResult {
            amt_msat,
            success: true,
        }
    }

    /// A failure that penalises amounts ≥ `amt_msat` (0: every amount).
    pub fn failure(amt_msat: Msat) -> Self {
        PairResult {
            amt_msat,
            success: false,
        }
    }
}

/// The results of one `from` node, keyed by `to`. Ordered, so sums over a
/// node's results are deterministic (Go's are not; see spec §0).
pub type NodeResults = BTreeMap<NodeId, TimedPairResult>;

/// One pair with its record, as imported or exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairSnapshot {
    /// The directed pair the record belongs to.
    pub pair: DirectedPair,
    /// Its record.
    pub result: TimedPairResult,
}

/// All pair records plus the second-chance memory.
#[derive(Clone, Debug, Default)]
pub struct MissionControlState {
    pairs: HashMap<NodeId, NodeResults>,
    /// For each node, the nodes that have a record towards it, so a node
    /// failure touches only its own pairs instead of scanning them all.
    incoming: HashMap<NodeId, HashSet<NodeId>>,
    last_second_chance: HashMap<DirectedPair, Timestamp>,
    pair_count: usize,
}

impl MissionControlState {
    /// An empty state: no pair records, no second chances granted.
    pub fn new() -> Self {
        Self::default()
    }

    /// All results of `from` (LND's `NodeResults`), empty if none.
    pub fn node_results(&self, from: &NodeId) -> Option<&NodeResults> {
        self.pairs.get(from)
    }

    /// The record of one directed pair, if it was ever touched.
    pub fn pair(&self, pair: &DirectedPair) -> Option<&TimedPairResult> {
        self.pairs.get(&pair.from)?.get(&pair.to)
    }

    /// Number of pair records.
    pub fn len(&self) -> usize {
        self.pair_count
    }

    /// No pair records (second chances are not counted).
    pub fn is_empty(&self) -> bool {
        self.pair_count == 0
    }

    /// Every pair record, sorted by (from, to).
    pub fn snapshot(&self) -> Vec<PairSnapshot> {
        let mut out: Vec<PairSnapshot> = self
            .pairs
            .iter()
            .flat_map(|(from, results)| {
                results.iter().map(move |(to, r)| PairSnapshot {
                    pair: DirectedPair::new(*from, *to),
                    result: *r,
                })
            })
            .collect();
        out.sort_unstable_by_key(|a| a.pair);
        out
    }

    fn entry(&mut self, from: NodeId, to: NodeId) -> &mut TimedPairResult {
        let results = self.pairs.entry(from).or_default();
        if !results.contains_key(&to) {
            self.pair_count += 1;
            self.incoming.entry(to).or_default().insert(from);
        }
        results.entry(to).or_default()
    }

    /// LND's `setLastPairResult`: apply one pair outcome at `ts`.
    pub fn set_last_pair_result(
        &mut self,
        from: NodeId,
        to: NodeId,
        ts: Timestamp,
        result: PairResult,
        force: bool,
        min_failure_relax_interval: DurationNs,
    ) {
        let mut cur = self.pair(&DirectedPair::new(from, to)).copied().unwrap_or_default();
        if apply_pair_result(&mut cur, ts, result, force, min_failure_relax_interval) {
            *self.entry(from, to) = cur;
        }
    }

    /// LND's `setAllFail`: every known pair touching `node` becomes a bare
    /// amount-independent failure at `ts`.
    pub fn set_all_fail(&mut self, node: NodeId, ts: Timestamp) {
        let failed = TimedPairResult {
            fail_time: ts,
            ..Default::default()
        };
        if let Some(results) = self.pairs.get_mut(&node) {
            results.values_mut().for_each(|r| *r = failed);
        }
        if let Some(froms) = self.incoming.get(&node) {
            for from in froms {
                if let Some(r) = self.pairs.get_mut(from).and_then(|m| m.get_mut(&node)) {
                    *r = failed;
                }
            }
        }
    }

    /// LND's `requestSecondChance`: true if the policy failure on `pair`
    /// should be ignored this time.
    pub fn request_second_chance(&mut self, ts: Timestamp, pair: DirectedPair) -> bool {
        match self.last_second_chance.get(&pair) {
            Some(last) if ts.sub(*last) <= MIN_SECOND_CHANCE_INTERVAL => false,
            _ => {
                self.last_second_chance.insert(pair, ts);
                true
            }
        }
    }

    /// LND's `importSnapshot`: merge already-validated pairs in order.
    /// Returns how many slots were not skipped as older (LND logs this).
    pub fn import_snapshot(
        &mut self,
        pairs: &[PairSnapshot],
        force: bool,
        min_failure_relax_interval: DurationNs,
    ) -> usize {
        let mut imported = 0;
        for p in pairs {
            let existing = self.pair(&p.pair).copied();
            let mut cur = existing.unwrap_or_default();
            let outcome = import_pair(&mut cur, &p.result, force, min_failure_relax_interval);
            imported += outcome.slots_imported;
            if outcome.applied {
                *self.entry(p.pair.from, p.pair.to) = cur;
            }
        }
        imported
    }

    /// Forget everything (LND's `ResetMissionControl`).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// What [`import_pair`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportOutcome {
    /// Slots not skipped as older (what LND counts and logs).
    pub slots_imported: usize,
    /// Whether any slot changed the record (LND then stores the pair).
    pub applied: bool,
}

/// LND's import of one pair (`importSnapshot` for one entry, spec §3.2):
/// the failure slot, then the success slot, each skipped if the current
/// record is strictly newer. The failure slot is processed even when the
/// pair has no failure; that is what wipes success amounts (§3.2 QUIRK).
pub fn import_pair(
    cur: &mut TimedPairResult,
    imported: &TimedPairResult,
    force: bool,
    min_failure_relax_interval: DurationNs,
) -> ImportOutcome {
    import_slots(cur, imported, force, min_failure_relax_interval, true)
}

/// [`import_pair`] without `force`, for only the slots `imported` carries
/// (a time set): an absent slot is skipped instead of applied as empty, so
/// nothing is wiped. What a coordinator uses to merge one reporter's news.
pub fn import_carried_slots(
    cur: &mut TimedPairResult,
    imported: &TimedPairResult,
    min_failure_relax_interval: DurationNs,
) -> ImportOutcome {
    import_slots(cur, imported, false, min_failure_relax_interval, false)
}

fn import_slots(
    cur: &mut TimedPairResult,
    imported: &TimedPairResult,
    force: bool,
    min_failure_relax_interval: DurationNs,
    empty_slots: bool,
) -> ImportOutcome {
    let last = *cur;
    let mut outcome = ImportOutcome {
        slots_imported: 0,
        applied: false,
    };
    let carried = |t: Timestamp| empty_slots || !t.is_zero();
    if carried(imported.fail_time) && (force || !last.fail_time.after(imported.fail_time)) {
        let r = PairResult::failure(imported.fail_amt_msat);
        outcome.applied |= apply_pair_result(cur, imported.fail_time, r, force, min_failure_relax_interval);
        outcome.slots_imported += 1;
    }
    if carried(imported.success_time) && (force || !last.success_time.after(imported.success_time)) {
        let r = PairResult::success(imported.success_amt_msat);
        outcome.applied |= apply_pair_result(cur, imported.success_time, r, force, min_failure_relax_interval);
        outcome.slots_imported += 1;
    }
    outcome
}

/// The §1.2/§1.3 update rules on one record. Returns false if the result was
/// dropped by the relax-interval guard.
pub fn apply_pair_result(
    cur: &mut TimedPairResult,
    ts: Timestamp,
    result: PairResult,
    force: bool,
    min_failure_relax_interval: DurationNs,
) -> bool {
    if result.success {
        let s = result.amt_msat;
        cur.success_time = ts;
        if force || s > cur.success_amt_msat {
            cur.success_amt_msat = s;
        }
        if force || (!cur.fail_time.is_zero() && s >= cur.fail_amt_msat) {
            cur.fail_amt_msat = s.wrapping_add(Msat(1));
        }
    } else {
        let f = result.amt_msat;
        if !force && f > cur.fail_amt_msat && ts.sub(cur.fail_time) < min_failure_relax_interval {
            return false;
        }
        cur.fail_time = ts;
        cur.fail_amt_msat = f;
        if f == Msat::ZERO {
            cur.success_amt_msat = Msat::ZERO;
        } else if f <= cur.success_amt_msat {
            // f > 0 here, so this never wraps.
            cur.success_amt_msat = f.wrapping_sub(Msat(1));
        }
    }
    true
}
