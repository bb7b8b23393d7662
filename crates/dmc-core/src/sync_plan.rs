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
//!    would otherwise zero an existing success amount, spec §3.2).
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

/// Why a pair was left out, with up to three examples for the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    pub count: usize,
    pub examples: Vec<String>,
}

impl Refusals {
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
pub fn validate_pair(mut p: PairHistory) -> Result<(PairHistory, PairData), String> {
    rpc::sanitize_loadmc(std::slice::from_mut(&mut p));
    for (name, b) in [("node_from", &p.node_from), ("node_to", &p.node_to)] {
        NodeId::from_bytes(b).map_err(|e| format!("{name} {}: {e}", encode_hex(b)))?;
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
    pub pairs: Vec<PairHistory>,
    pub received: usize,
    pub own_dropped: usize,
    /// Pairs lnd already holds as recently: not sent, but lnd is relied on
    /// to keep them (so they go into the import ledger too).
    pub not_newer: Vec<PairHistory>,
    pub invalid: Refusals,
}

/// Chooses what to import from the coordinator's `pairs` (see the module
/// doc). `node_mc`: what the node holds now, if known.
pub fn prepare_import(
    pairs: &[PairHistory],
    self_node: Option<&NodeId>,
    node_mc: Option<&HashMap<PairKey, PairData>>,
) -> ImportPlan {
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
        let (p, eff) = match validate_pair(p.clone()) {
            Ok(v) => v,
            Err(e) => {
                plan.invalid.add(e);
                continue;
            }
        };
        if let (Some(mc), Some(k)) = (node_mc, key_of(&p)) {
            if let Some(have) = mc.get(&k) {
                if eff.fail_time <= have.fail_time && eff.success_time <= have.success_time {
                    plan.not_newer.push(p);
                    continue;
                }
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
        let plan = prepare_import(&theirs, Some(&me), Some(&node));
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
        let plan = prepare_import(&served, Some(&me), Some(&node_mc(&mc)));
        assert_eq!(plan.own_dropped, 1);
        assert_eq!(plan.not_newer, vec![served[1].clone()]);
        assert_eq!(plan.pairs, served[2..].to_vec());
        assert_eq!(plan.invalid.count, 0);

        let now = Timestamp::from_unix_secs(NOW);
        let cap = 1_000_000;
        let p23 = |mc: &MissionControl| mc.probability(now, &key(2), &key(3), 4_000, cap);
        let p34 = |mc: &MissionControl| mc.probability(now, &key(3), &key(4), 3_000, cap);
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
        let again = prepare_import(&served, Some(&me), Some(&node_mc(&mc)));
        assert!(again.pairs.is_empty());
        assert_eq!(again.not_newer.len(), 3);
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
