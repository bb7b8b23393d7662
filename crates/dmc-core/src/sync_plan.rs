//! The pure half of `dmc sync`'s import: what a wallet takes from the
//! coordinator's merged data, and how it lands in its mission control.
//!
//! `dmc sync` (dmc-lnd) and the simulator (dmc-sim) both run this path:
//!
//! 1. [`node_mc`] (or [`by_pair`] of lnd's `QueryMissionControl` answer):
//!    what the node holds now, by pair.
//! 2. [`prepare_import`] on the coordinator's pairs (for a simulated
//!    coordinator, [`crate::aggregate::served_pair`] gives what the server
//!    serves): drop pairs whose `node_from` or `node_to` is the node itself
//!    (its local channels are its own knowledge), sanitise and validate each
//!    pair as lncli's `loadmc` and LND's import do ([`validate_pair`]), skip
//!    pairs that bring nothing newer than what the node holds (LND's import
//!    would otherwise zero an existing success amount, spec §3.2), and
//!    leave out any claim that contradicts what the node itself saw on the
//!    pair within [`FIRST_HAND_HOLD_SECS`] (see [`NodeState`]).
//! 3. [`apply_import`] of [`ImportPlan::pairs`]: `XImportMissionControl`
//!    with `force` off. `dmc sync` sends nothing when the plan is empty
//!    (LND refuses an empty import), and sends the pairs in batches, which
//!    gives the same state as one call: every planned pair is valid, and
//!    pairs are merged one after another in order.

use std::collections::HashMap;

use crate::mission_control::MissionControl;
use crate::node::{encode_hex, NodeId};
use crate::rpc::{self, ImportError, PairData, PairHistory};
use crate::time::Timestamp;

/// A directed pair as (from, to) keys, for maps of pairs.
pub type PairKey = (NodeId, NodeId);

/// The pair's keys, if both have 33 bytes (LND's length-only check).
pub fn key_of(p: &PairHistory) -> Option<PairKey> {
    Some((
        NodeId::from_bytes_unchecked(&p.node_from).ok()?,
        NodeId::from_bytes_unchecked(&p.node_to).ok()?,
    ))
}

/// A node's mission control by pair (from `QueryMissionControl` pairs).
pub fn by_pair(pairs: &[PairHistory]) -> HashMap<PairKey, PairData> {
    pairs.iter().filter_map(|p| Some((key_of(p)?, p.history))).collect()
}

/// [`by_pair`] of what `QueryMissionControl` (`lncli querymc`) answers for
/// `mc`: the `node_mc` that [`prepare_import`] compares against.
pub fn node_mc(mc: &MissionControl) -> HashMap<PairKey, PairData> {
    by_pair(&rpc::query_mc_pairs(&mc.snapshot()))
}

/// The newest failure and success times imported into a node for one pair
/// (Unix seconds, 0: none): `dmc sync`'s import ledger. A slot of the
/// node's record newer than these is the node's own observation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportedTimes {
    /// Newest failure time imported, Unix seconds; 0: none.
    pub fail_time: i64,
    /// Newest success time imported, Unix seconds; 0: none.
    pub success_time: i64,
}

impl ImportedTimes {
    /// Notes an import with these times: the newest per slot.
    pub fn record(&mut self, fail_time: i64, success_time: i64) {
        self.fail_time = self.fail_time.max(fail_time);
        self.success_time = self.success_time.max(success_time);
    }
}

/// Notes in the import `ledger` that `pairs` were imported (or that the
/// node is relied on to hold them as recently).
pub fn record_imports<'a>(
    ledger: &mut HashMap<PairKey, ImportedTimes>,
    pairs: impl IntoIterator<Item = &'a PairHistory>,
) {
    for p in pairs {
        if let Some(k) = key_of(p) {
            ledger
                .entry(k)
                .or_default()
                .record(p.history.fail_time, p.history.success_time);
        }
    }
}

/// How long a node's own observation of a pair outranks a coordinator's
/// claim that contradicts it (1 h: LND's apriori penalty half-life, its own
/// measure of how long a failure stays informative; the reputation rule's
/// comparison window is the same hour).
///
/// Why: a coordinator's record of a pair is stamped with its backers'
/// times, so a claim re-sent every interval is always "newer" than what the
/// wallet learned by paying. With LND's import alone, such a claim
/// overwrites the wallet's own failure at every sync, and the wallet tries
/// the same hop again (in the simulator, 37–57 such claims per routing
/// wallet run with fake-capacity liars, about 2 with inverting ones:
/// BENCHMARKS.md). First-hand evidence is what a node trusts most; hearsay
/// that agrees with it still lands.
pub const FIRST_HAND_HOLD_SECS: i64 = 3600;

/// What the node holds, for [`prepare_import`].
#[derive(Clone, Copy, Debug)]
pub struct NodeState<'a> {
    /// Its mission control now, by pair ([`by_pair`] / [`node_mc`]).
    pub mc: &'a HashMap<PairKey, PairData>,
    /// What was imported into it ([`ImportedTimes`]); a pair without an
    /// entry holds only the node's own observations.
    pub imported: &'a HashMap<PairKey, ImportedTimes>,
    /// The node's clock, Unix seconds.
    pub now_unix: i64,
    /// [`FIRST_HAND_HOLD_SECS`], or 0 to import as LND's own import would.
    pub first_hand_hold_secs: i64,
}

impl NodeState<'_> {
    /// The slots of `have` the node observed itself within the hold:
    /// (failure, success).
    fn first_hand(&self, key: &PairKey, have: &PairData) -> (bool, bool) {
        let ledger = self.imported.get(key).copied().unwrap_or_default();
        let own = |t: i64, imported: i64| {
            t != 0 && t > imported && self.now_unix.saturating_sub(t) < self.first_hand_hold_secs
        };
        (
            own(have.fail_time, ledger.fail_time),
            own(have.success_time, ledger.success_time),
        )
    }
}

/// Why a pair was left out, with up to three examples for the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    /// Pairs left out.
    pub count: usize,
    /// The first three reasons, in order.
    pub examples: Vec<String>,
}

impl Refusals {
    /// Counts one more refusal, keeping `why` if fewer than three are kept.
    pub fn add(&mut self, why: String) {
        self.count += 1;
        if self.examples.len() < 3 {
            self.examples.push(why);
        }
    }
}

/// LND's import validation plus a curve check on both keys; the pair after
/// lncli's loadmc sanitising, and its times as the import will apply them
/// (0 where a side is dropped).
pub fn validate_pair(mut p: PairHistory) -> Result<(PairHistory, PairData), rpc::PairError> {
    rpc::sanitize_loadmc(std::slice::from_mut(&mut p));
    for (field, b) in [("node_from", &p.node_from), ("node_to", &p.node_to)] {
        NodeId::from_bytes(b).map_err(|error| rpc::PairError::NotOnCurve {
            field,
            hex: encode_hex(b),
            error,
        })?;
    }
    let s = rpc::to_pair_snapshot(&p)?;
    // The times as the import will apply them (0 where a side is dropped).
    let t = |ts: Timestamp| if ts.is_zero() { 0 } else { ts.unix_secs() };
    let effective = PairData {
        fail_time: t(s.result.fail_time),
        success_time: t(s.result.success_time),
        ..p.history
    };
    Ok((p, effective))
}

/// The pairs an import applies, and what it left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportPlan {
    /// Pairs to send, sanitised and valid, with contradicting claims
    /// removed; in the coordinator's order.
    pub pairs: Vec<PairHistory>,
    /// Pairs the coordinator sent.
    pub received: usize,
    /// Pairs left out because `node_from` or `node_to` is the node itself.
    pub own_dropped: usize,
    /// Pairs lnd already holds as recently: not sent, but lnd is relied on
    /// to keep them (so they go into the import ledger too).
    pub not_newer: Vec<PairHistory>,
    /// Pairs where a claim contradicting the node's own recent observation
    /// was left out (what remained, if anything, is in `pairs` or
    /// `not_newer`).
    pub first_hand_kept: usize,
    /// Pairs that failed [`validate_pair`], with reasons.
    pub invalid: Refusals,
}

/// Chooses what to import from the coordinator's `pairs` (see the module
/// doc). `node`: what the node holds now, if known.
pub fn prepare_import(pairs: &[PairHistory], self_node: Option<&NodeId>, node: Option<&NodeState<'_>>) -> ImportPlan {
    let mut plan = ImportPlan {
        received: pairs.len(),
        ..Default::default()
    };
    for p in pairs {
        if let Some(me) = self_node {
            if p.node_from == me.0 || p.node_to == me.0 {
                plan.own_dropped += 1;
                continue;
            }
        }
        let (mut p, mut eff) = match validate_pair(p.clone()) {
            Ok(v) => v,
            Err(e) => {
                plan.invalid.add(e.to_string());
                continue;
            }
        };
        let held = node
            .and_then(|n| Some((n, key_of(&p)?)))
            .and_then(|(n, k)| Some((n, k, n.mc.get(&k)?)));
        if let Some((n, k, have)) = held {
            let (own_failure, own_success) = n.first_hand(&k, have);
            let h = &mut p.history;
            // A success at or above the node's own failure amount, or a
            // failure at or below its own success amount, contradicts it.
            let drop_success = own_failure && eff.success_time != 0 && h.success_amt_msat >= have.fail_amt_msat;
            let drop_failure = own_success && eff.fail_time != 0 && h.fail_amt_msat <= have.success_amt_msat;
            if drop_success || drop_failure {
                plan.first_hand_kept += 1;
                if drop_success {
                    (h.success_time, h.success_amt_sat, h.success_amt_msat) = (0, 0, 0);
                }
                if drop_failure {
                    (h.fail_time, h.fail_amt_sat, h.fail_amt_msat) = (0, 0, 0);
                }
                // What is left must still be a pair LND imports.
                match validate_pair(p.clone()) {
                    Ok(v) if v.1.fail_time != 0 || v.1.success_time != 0 => (p, eff) = v,
                    _ => continue,
                }
            }
            if eff.fail_time <= have.fail_time && eff.success_time <= have.success_time {
                plan.not_newer.push(p);
                continue;
            }
        }
        plan.pairs.push(p);
    }
    plan
}

/// LND's `XImportMissionControl` on `mc`: validation of every pair, all or
/// nothing (an empty request is refused, as LND does), then the merge
/// ([`MissionControl::import_pairs`]). Returns the number of slots not
/// skipped as older, as LND logs it. `dmc sync` calls it with `force` off.
pub fn apply_import(mc: &mut MissionControl, pairs: &[PairHistory], force: bool) -> Result<usize, ImportError> {
    let snapshots = rpc::validate_import(pairs)?;
    Ok(mc.import_pairs(&snapshots, force))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amount::{Msat, Sat};
    use crate::mission_control::MissionControlConfig;
    use secp256k1::{Secp256k1, SecretKey};

    fn key(i: u8) -> NodeId {
        let mut b = [0u8; 32];
        b[31] = i;
        let sk = SecretKey::from_slice(&b).unwrap();
        NodeId(secp256k1::PublicKey::from_secret_key(&Secp256k1::signing_only(), &sk).serialize())
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

    static NO_LEDGER: std::sync::LazyLock<HashMap<PairKey, ImportedTimes>> = std::sync::LazyLock::new(HashMap::new);

    /// The node as LND's own import sees it: no first-hand hold.
    fn lnd_import(mc: &HashMap<PairKey, PairData>) -> NodeState<'_> {
        NodeState {
            mc,
            imported: &NO_LEDGER,
            now_unix: NOW,
            first_hand_hold_secs: 0,
        }
    }

    #[test]
    fn import_drops_own_pairs_and_what_lnd_knows_as_recently() {
        let me = key(9);
        let theirs = vec![
            pair(9, 1, success(NOW, 1000)),      // from me
            pair(1, 9, failure(NOW, 1000)),      // to me
            pair(1, 2, success(NOW - 10, 2000)), // lnd has it newer
            pair(2, 3, success(NOW - 10, 2000)), // newer than lnd's
            pair(3, 4, failure(NOW - 10, 3000)), // unknown to lnd
            pair(4, 5, PairData::default()),     // invalid
        ];
        let node = by_pair(&[pair(1, 2, success(NOW - 5, 1000)), pair(2, 3, success(NOW - 60, 1000))]);
        let plan = prepare_import(&theirs, Some(&me), Some(&lnd_import(&node)));
        assert_eq!(plan.received, 6);
        assert_eq!(plan.own_dropped, 2);
        assert_eq!(plan.not_newer, vec![theirs[2].clone()]);
        assert_eq!(plan.invalid.count, 1);
        let got: Vec<_> = plan
            .pairs
            .iter()
            .map(|p| (p.node_from.clone(), p.node_to.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (key(2).0.to_vec(), key(3).0.to_vec()),
                (key(3).0.to_vec(), key(4).0.to_vec())
            ]
        );
        // Without knowing the node, nothing is dropped as own.
        assert_eq!(prepare_import(&theirs, None, None).pairs.len(), 5);
    }

    /// A wallet's mission control holding what `pairs` imports.
    fn wallet(me: NodeId, pairs: &[PairHistory]) -> MissionControl {
        let mut mc = MissionControl::new(Some(me), MissionControlConfig::default());
        apply_import(&mut mc, pairs, false).unwrap();
        mc
    }

    #[test]
    fn node_mc_is_what_querymc_answers() {
        let mc = wallet(
            key(9),
            &[pair(1, 2, success(NOW - 5, 1000)), pair(2, 3, failure(NOW - 60, 4000))],
        );
        let got = node_mc(&mc);
        assert_eq!(got.len(), 2);
        assert_eq!(got[&(key(1), key(2))], success(NOW - 5, 1000));
        assert_eq!(got[&(key(2), key(3))], failure(NOW - 60, 4000));
        assert_eq!(got, by_pair(&rpc::query_mc_pairs(&mc.snapshot())));
    }

    #[test]
    fn plan_against_a_wallet_then_apply() {
        let me = key(9);
        let mut mc = wallet(me, &[pair(1, 2, success(NOW - 5, 1000))]);
        let before_12 = mc.pair_history(&key(1), &key(2));
        let served = vec![
            pair(9, 1, failure(NOW - 1, 0)),     // touches the node: dropped
            pair(1, 2, success(NOW - 10, 2000)), // older than the wallet's: skipped
            pair(2, 3, success(NOW - 10, 5000)), // new success
            pair(3, 4, failure(NOW - 10, 3000)), // new failure
        ];
        let plan = prepare_import(&served, Some(&me), Some(&lnd_import(&node_mc(&mc))));
        assert_eq!(plan.own_dropped, 1);
        assert_eq!(plan.not_newer, vec![served[1].clone()]);
        assert_eq!(plan.pairs, served[2..].to_vec());
        assert_eq!(plan.invalid.count, 0);

        let now = Timestamp::from_unix_secs(NOW);
        let cap = Sat(1_000_000);
        let p23 = |mc: &MissionControl| mc.probability(now, &key(2), &key(3), Msat(4_000), cap);
        let p34 = |mc: &MissionControl| mc.probability(now, &key(3), &key(4), Msat(3_000), cap);
        let (prior23, prior34) = (p23(&mc), p34(&mc));

        let reference = {
            let mut r = mc.clone();
            r.import_pairs(&rpc::validate_import(&plan.pairs).unwrap(), false);
            r
        };
        assert_eq!(apply_import(&mut mc, &plan.pairs, false), Ok(4));
        // Exactly LND's validation and merge.
        assert_eq!(mc.snapshot(), reference.snapshot());
        // The success covering 4000 msat: LND's flat 0.95; the failure 10 s
        // ago at 3000 msat: almost nothing.
        assert!(prior23 < 0.95);
        assert_eq!(p23(&mc), crate::estimator::PREV_SUCCESS_PROBABILITY);
        assert!(p34(&mc) < prior34 / 100.0, "{} vs {prior34}", p34(&mc));
        // The skipped pair kept the wallet's own, newer record; the node's
        // own pair never entered.
        assert_eq!(mc.pair_history(&key(1), &key(2)), before_12);
        assert_eq!(mc.pair_history(&key(9), &key(1)), Default::default());
        // Re-planning against the new state finds nothing newer.
        let again = prepare_import(&served, Some(&me), Some(&lnd_import(&node_mc(&mc))));
        assert!(again.pairs.is_empty());
        assert_eq!(again.not_newer.len(), 3);
    }

    #[test]
    fn recent_first_hand_observations_outrank_contrary_claims() {
        let me = key(9);
        // The node's own: a failure at 50 000 msat on 1→2 ten minutes ago,
        // a success at 80 000 msat on 2→3 ten minutes ago; 3→4 it imported
        // (the ledger has its time); 4→5 it saw itself two hours ago.
        let node = by_pair(&[
            pair(1, 2, failure(NOW - 600, 50_000)),
            pair(2, 3, success(NOW - 600, 80_000)),
            pair(3, 4, failure(NOW - 600, 50_000)),
            pair(4, 5, failure(NOW - 7200, 50_000)),
        ]);
        let mut ledger = HashMap::new();
        ledger.insert(
            (key(3), key(4)),
            ImportedTimes {
                fail_time: NOW - 600,
                success_time: 0,
            },
        );
        let state = NodeState {
            mc: &node,
            imported: &ledger,
            now_unix: NOW,
            first_hand_hold_secs: FIRST_HAND_HOLD_SECS,
        };
        let both = |amt_ok: i64, amt_fail: i64| PairData {
            success_time: NOW - 60,
            success_amt_sat: amt_ok / 1000,
            success_amt_msat: amt_ok,
            fail_time: NOW - 60,
            fail_amt_sat: amt_fail / 1000,
            fail_amt_msat: amt_fail,
        };
        let served = vec![
            pair(1, 2, success(NOW - 60, 60_000)), // contradicts the own failure: left out
            pair(1, 2, success(NOW - 60, 40_000)), // below it: lands
            pair(2, 3, failure(NOW - 60, 70_000)), // contradicts the own success: left out
            pair(2, 3, both(90_000, 100_000)),     // neither contradicts
            pair(3, 4, success(NOW - 60, 60_000)), // the node's record there was imported
            pair(4, 5, success(NOW - 60, 60_000)), // its own failure is past the hold
            pair(1, 2, both(60_000, 70_000)),      // the success goes, the failure stays
        ];
        let plan = prepare_import(&served, Some(&me), Some(&state));
        assert_eq!(plan.first_hand_kept, 3);
        let mut kept = served[6].clone();
        (
            kept.history.success_time,
            kept.history.success_amt_sat,
            kept.history.success_amt_msat,
        ) = (0, 0, 0);
        assert_eq!(
            plan.pairs,
            vec![
                served[1].clone(),
                served[3].clone(),
                served[4].clone(),
                served[5].clone(),
                kept
            ]
        );
        // With the hold off, the import is LND's own.
        let lnd = prepare_import(
            &served,
            Some(&me),
            Some(&NodeState {
                first_hand_hold_secs: 0,
                ..state
            }),
        );
        assert_eq!(lnd.first_hand_kept, 0);
        assert_eq!(lnd.pairs, served);
    }

    #[test]
    fn apply_import_is_all_or_nothing() {
        let mut mc = MissionControl::new(None, MissionControlConfig::default());
        let e = apply_import(&mut mc, &[], false).unwrap_err();
        assert_eq!(e.0, "at least one pair required for import");
        let bad = [pair(1, 2, success(NOW, 1000)), pair(3, 3, success(NOW, 1000))];
        assert!(apply_import(&mut mc, &bad, false).is_err());
        assert!(mc.snapshot().is_empty());
    }
}
