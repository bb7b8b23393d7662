//! The coordinators the experiment's senders talk to, with their real rules.
//!
//! [`DmcCoordinator`] keeps per-reporter records and serves the aggregate
//! exactly as `dmc serve`'s stores do: each reporter's observation is merged
//! into its own record by [`merge_observation`] (with LND's relax interval),
//! the pair's served value is [`aggregate`] over those records, and every
//! change gets the next cursor so a wallet downloads only what changed
//! since its last sync. The functions are the ones the stores call, not
//! copies.
//!
//! [`GoCoordinator`] is the Go External Coordinator's rule (`mergePairData`,
//! described in `docs/peers.md` §2.3): newest timestamp wins per field, a
//! new success keeps the larger amount, a higher failure within a minute of
//! the stored one is dropped (and skips the rest), a stored failure is
//! raised above the incoming success amount even when that success was
//! older. A pair seen for the first time is stored as sent. The Go
//! coordinator serves its whole store on every query; re-importing a pair
//! it served unchanged changes nothing in the wallet, so the simulation
//! hands out only the pairs that changed since the wallet's last query.
//!
//! Both take what a contributor's `dmc sync` export sends: its own mission
//! control as `lncli querymc` prints it, after LND's import validation
//! ([`validate_pair`]), converted as the server converts it
//! ([`rpc::to_pair_snapshot`]).

use std::collections::{BTreeMap, HashMap};

use dmc_core::aggregate::{legacy_newest_wins as aggregate, merge_observation, served_pair};
use dmc_core::rpc::{self, PairData, PairHistory};
use dmc_core::sync_plan::validate_pair;
use dmc_core::{DirectedPair, PairSnapshot, TimedPairResult, Timestamp};

/// LND's and the coordinator's default relax interval (1 minute).
const RELAX_NS: i64 = dmc_core::mission_control::DEFAULT_MIN_FAILURE_RELAX_INTERVAL;

/// What a contributor sends: its pairs after the export's validation.
/// Pairs LND would refuse are left out, as `dmc sync` leaves them out.
pub fn export_pairs(pairs: &[PairSnapshot]) -> Vec<PairSnapshot> {
    pairs
        .iter()
        .filter_map(|s| {
            let (p, _) = validate_pair(PairHistory::from_snapshot(s)).ok()?;
            rpc::to_pair_snapshot(&p).ok()
        })
        .collect()
}

/// A change log: the cursor of each pair's last change.
#[derive(Default)]
struct ChangeLog {
    seq: u64,
    at: HashMap<DirectedPair, u64>,
    by_seq: BTreeMap<u64, DirectedPair>,
}

impl ChangeLog {
    fn touch(&mut self, pair: DirectedPair) {
        self.seq += 1;
        if let Some(old) = self.at.insert(pair, self.seq) {
            self.by_seq.remove(&old);
        }
        self.by_seq.insert(self.seq, pair);
    }

    /// What `serve` makes of each pair changed after `cursor`, and the cursor now.
    fn changes(&self, cursor: u64, serve: impl Fn(&DirectedPair) -> Option<PairHistory>) -> (Vec<PairHistory>, u64) {
        let pairs = self
            .by_seq
            .range(cursor.saturating_add(1)..)
            .filter_map(|(_, p)| serve(p))
            .collect();
        (pairs, self.seq)
    }
}

/// dmc's coordinator (see the module doc).
#[derive(Default)]
pub struct DmcCoordinator {
    records: HashMap<DirectedPair, Vec<(u32, TimedPairResult)>>,
    served: HashMap<DirectedPair, TimedPairResult>,
    log: ChangeLog,
}

impl DmcCoordinator {
    /// A registration of `reporter` received at `received`; returns how many served pairs changed.
    pub fn register(&mut self, reporter: u32, pairs: &[PairSnapshot], received: Timestamp) -> usize {
        let mut changed = 0;
        for p in pairs {
            let recs = self.records.entry(p.pair).or_default();
            let pos = recs.iter().position(|(r, _)| *r == reporter);
            let current = pos.map(|i| recs[i].1);
            let Some(new) = merge_observation(current.as_ref(), &p.result, received, RELAX_NS) else {
                continue;
            };
            match pos {
                Some(i) => recs[i].1 = new,
                None => recs.push((reporter, new)),
            }
            let all: Vec<TimedPairResult> = recs.iter().map(|(_, r)| *r).collect();
            let Some(agg) = aggregate(&all) else {
                continue;
            };
            if self.served.get(&p.pair) != Some(&agg.result) {
                self.served.insert(p.pair, agg.result);
                self.log.touch(p.pair);
                changed += 1;
            }
        }
        changed
    }

    /// What a v2 `Query(since)` returns: the changed pairs as served, and
    /// the new cursor.
    pub fn query(&self, since: u64) -> (Vec<PairHistory>, u64) {
        self.log
            .changes(since, |p| self.served.get(p).map(|r| served_pair(*p, r)))
    }

    pub fn pairs(&self) -> usize {
        self.served.len()
    }
}

/// The Go External Coordinator's store (see the module doc).
#[derive(Default)]
pub struct GoCoordinator {
    store: HashMap<DirectedPair, PairData>,
    log: ChangeLog,
}

impl GoCoordinator {
    pub fn register(&mut self, pairs: &[PairSnapshot]) -> usize {
        let mut changed = 0;
        for p in pairs {
            let incoming = PairData::from_result(&p.result);
            let merged = match self.store.get(&p.pair) {
                None => incoming,
                Some(existing) => {
                    let mut e = *existing;
                    go_merge(&mut e, &incoming);
                    e
                }
            };
            if self.store.get(&p.pair) != Some(&merged) {
                self.store.insert(p.pair, merged);
                self.log.touch(p.pair);
                changed += 1;
            }
        }
        changed
    }

    /// The pairs changed since `since` (see the module doc), and the new cursor.
    pub fn query(&self, since: u64) -> (Vec<PairHistory>, u64) {
        self.log.changes(since, |p| {
            self.store.get(p).map(|h| PairHistory {
                node_from: p.from.0.to_vec(),
                node_to: p.to.0.to_vec(),
                history: *h,
            })
        })
    }

    pub fn pairs(&self) -> usize {
        self.store.len()
    }
}

/// The Go coordinator's `mergePairData` on an existing record (times in
/// Unix seconds, amounts in msat; the sat fields follow the msat ones).
pub fn go_merge(e: &mut PairData, new: &PairData) {
    if new.success_time > e.success_time {
        e.success_time = new.success_time;
        e.success_amt_msat = e.success_amt_msat.max(new.success_amt_msat);
    }
    if new.fail_time > e.fail_time {
        let interval_s = new.fail_time - e.fail_time;
        if new.fail_amt_msat > e.fail_amt_msat && interval_s.saturating_mul(1_000_000_000) < RELAX_NS {
            // The Go code returns here, skipping the clamp below and the
            // sat fields' update: a success raised above keeps its old sat.
            return;
        }
        e.fail_time = new.fail_time;
        e.fail_amt_msat = new.fail_amt_msat;
        if new.fail_amt_msat == 0 {
            e.success_amt_msat = 0;
        } else if new.fail_amt_msat <= e.success_amt_msat {
            e.success_amt_msat = new.fail_amt_msat - 1;
        }
    }
    if e.fail_time != 0 && new.success_amt_msat >= e.fail_amt_msat {
        e.fail_amt_msat = new.success_amt_msat + 1;
    }
    e.success_amt_sat = e.success_amt_msat / 1000;
    e.fail_amt_sat = e.fail_amt_msat / 1000;
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmc_core::NodeId;

    const LATE: Timestamp = Timestamp::from_unix_secs(4_000_000_000);

    fn pair() -> DirectedPair {
        DirectedPair::new(
            NodeId::from_hex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798").unwrap(),
            NodeId::from_hex("02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5").unwrap(),
        )
    }

    fn obs(fail: Option<(u64, i64)>, succ: Option<(u64, i64)>) -> PairSnapshot {
        let t = Timestamp::from_unix_secs;
        let mut r = TimedPairResult::default();
        if let Some((a, s)) = fail {
            r.fail_amt_msat = a;
            r.fail_time = t(s);
        }
        if let Some((a, s)) = succ {
            r.success_amt_msat = a;
            r.success_time = t(s);
        }
        PairSnapshot {
            pair: pair(),
            result: r,
        }
    }

    #[test]
    fn dmc_serves_the_aggregate_and_only_changes() {
        let mut c = DmcCoordinator::default();
        assert_eq!(c.register(1, &[obs(None, Some((500_000, 1000)))], LATE), 1);
        let (pairs, cur) = c.query(0);
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].history.success_amt_msat, 500_000);
        // Re-sending the same changes nothing, and the delta is empty.
        assert_eq!(c.register(1, &[obs(None, Some((500_000, 1000)))], LATE), 0);
        assert!(c.query(cur).0.is_empty());
        // A newer failure from another reporter: newest wins today.
        assert_eq!(c.register(2, &[obs(Some((300_000, 2000)), None)], LATE), 1);
        let (pairs, cur2) = c.query(cur);
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].history.fail_amt_msat, 300_000);
        assert_eq!(pairs[0].history.success_amt_msat, 299_999);
        assert!(cur2 > cur);
        assert_eq!(c.pairs(), 1);
    }

    #[test]
    fn go_rule_and_its_quirks() {
        let mut g = GoCoordinator::default();
        g.register(&[obs(Some((100_000, 1000)), None)]);
        // A higher failure 30 s later is dropped (the relax rule across reporters).
        g.register(&[obs(Some((900_000, 1030)), None)]);
        let (p, _) = g.query(0);
        assert_eq!(p[0].history.fail_amt_msat, 100_000);
        // An older success still raises the stored failure above it.
        g.register(&[obs(None, Some((200_000, 10)))]);
        let (p, _) = g.query(0);
        assert_eq!(p[0].history.success_time, 10);
        assert_eq!(p[0].history.success_amt_msat, 200_000);
        assert_eq!(p[0].history.fail_amt_msat, 200_001);
        assert_eq!(p[0].history.fail_amt_sat, 200);
        // A zero-amount failure wipes the success amount, and the clamp then
        // turns "fails at any amount" into "fails above 0 msat" (its 0 ≥ 0).
        g.register(&[obs(Some((0, 5000)), None)]);
        let (p, _) = g.query(0);
        assert_eq!((p[0].history.fail_amt_msat, p[0].history.success_amt_msat), (1, 0));
    }

    #[test]
    fn go_early_return_keeps_the_old_sat_fields() {
        let mut g = GoCoordinator::default();
        g.register(&[obs(Some((200_000_000, 1000)), Some((100_000_000, 900)))]);
        // A newer, larger success and a higher failure 30 s after the stored one.
        g.register(&[obs(Some((300_000_000, 1030)), Some((150_000_000, 1020)))]);
        let (p, _) = g.query(0);
        let h = p[0].history;
        assert_eq!((h.success_amt_msat, h.success_amt_sat), (150_000_000, 100_000));
        assert_eq!(h.fail_amt_msat, 200_000_000);
        // What LND's import validation then refuses (sat and msat disagree).
        assert!(validate_pair(p[0].clone()).is_err());
    }

    #[test]
    fn export_keeps_valid_pairs() {
        let ok = obs(None, Some((500_000, 1000)));
        let out = export_pairs(&[ok]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].result.success_amt_msat, 500_000);
    }
}
