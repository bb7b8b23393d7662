//! The coordinators the experiment's senders talk to, with their real rules.
//!
//! [`DmcCoordinator`] keeps per-reporter records and serves the aggregate
//! as `dmc serve` does: each reporter (a contributor's node key,
//! [`Reporter::Node`]) has its observation merged into its own record by
//! [`merge_observation`] (with LND's relax interval); a pair's served value
//! is [`aggregate`] over those records with the server's default
//! [`AggregationParams`], weighed by a [`WithReputations`] standing built
//! from the simulation's public graph ([`dmc_graph::Standing`]: established reporters,
//! channel bounds) and the coordinator's own [`Reputation`]s, which
//! [`DmcCoordinator::reputation_pass`] updates with [`reputation::judge`]
//! and [`reputation::after_pass`]. Every change of a served pair gets the
//! next cursor, so a wallet downloads only what changed since its last
//! sync; a pair that stops being served ([`Held`]) is logged as a removal,
//! as the server's v2 delta announces it. The functions are the ones the
//! stores call, not copies.
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

use dmc_core::time::DurationNs;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use dmc_core::aggregate::{
    aggregate, merge_observation, served_pair, AggregationParams, GraphStanding, Held, Reporter, View, WithReputations,
};
use dmc_core::liquidity::{worth_reserving, LiquidityModel, LiquidityParams, ServeParams};
use dmc_core::reputation::{self, Reputation, ReputationParams};
use dmc_core::rpc::{self, PairData, PairHistory};
use dmc_core::sync_plan::validate_pair;
use dmc_core::{DirectedPair, NodeId, PairSnapshot, Sat, TimedPairResult, Timestamp};
use dmc_graph::Standing;

/// LND's and the coordinator's default relax interval (1 minute).
const RELAX_NS: DurationNs = dmc_core::mission_control::DEFAULT_MIN_FAILURE_RELAX_INTERVAL;

/// `dmc serve --min-reporter-capacity-sat`'s default: a signed key is an
/// established reporter when its public channels hold at least this much.
pub const MIN_REPORTER_CAPACITY_SAT: Sat = Sat(1_000_000);

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

/// What a query since a cursor returns: the changed pairs as served, the
/// pairs no longer served (v2's `removed`), and the cursor now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delta {
    /// Pairs whose served value changed after the query's cursor, as served now.
    pub pairs: Vec<PairHistory>,
    /// Pairs changed after the cursor that are no longer served.
    pub removed: Vec<DirectedPair>,
    /// The change log's latest cursor: pass it to the next query to get only later changes.
    pub cursor: u64,
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

    /// What `serve` makes of each pair changed after `cursor` (`None`: a
    /// removal), and the cursor now.
    fn changes(&self, cursor: u64, serve: impl Fn(&DirectedPair) -> Option<PairHistory>) -> Delta {
        let mut d = Delta {
            cursor: self.seq,
            ..Default::default()
        };
        for p in self.by_seq.range(cursor.saturating_add(1)..).map(|(_, p)| p) {
            match serve(p) {
                Some(h) => d.pairs.push(h),
                None => d.removed.push(*p),
            }
        }
        d
    }
}

/// What one reputation pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Reporters judged on at least one pair.
    pub judged: usize,
    /// Reporters whose score changed.
    pub changed: usize,
    /// Served pairs that changed (or were removed) as a result.
    pub pairs_changed: usize,
}

/// dmc's coordinator (see the module doc).
pub struct DmcCoordinator {
    standing: Standing,
    params: AggregationParams,
    reputation_params: ReputationParams,
    views: HashMap<DirectedPair, Vec<View>>,
    by_reporter: HashMap<NodeId, BTreeSet<DirectedPair>>,
    reputations: HashMap<NodeId, Reputation>,
    served: HashMap<DirectedPair, TimedPairResult>,
    /// Pairs whose views changed since the last [`DmcCoordinator::commit`].
    dirty: BTreeSet<DirectedPair>,
    log: ChangeLog,
    /// The liquidity model every registration also feeds.
    model: LiquidityModel,
    /// Directed graph pairs with their capacity: candidates for the
    /// model's destination shapes ([`LiquidityModel::serve_lnd`]'s `extra`).
    graph_pairs: Vec<(DirectedPair, dmc_core::Msat)>,
    /// Per served model variant: what it served last, and its change log.
    model_served: Vec<(HashMap<DirectedPair, TimedPairResult>, ChangeLog)>,
}

impl DmcCoordinator {
    /// A coordinator with the server's default parameters.
    pub fn new(standing: Standing) -> Self {
        Self::with_params(standing, AggregationParams::default(), ReputationParams::default())
    }

    /// A coordinator with chosen aggregation and reputation parameters, for experiments that vary
    /// them.
    pub fn with_params(standing: Standing, params: AggregationParams, reputation_params: ReputationParams) -> Self {
        DmcCoordinator {
            standing,
            params,
            reputation_params,
            views: HashMap::new(),
            by_reporter: HashMap::new(),
            reputations: HashMap::new(),
            served: HashMap::new(),
            dirty: BTreeSet::new(),
            log: ChangeLog::default(),
            model: LiquidityModel::new(LiquidityParams::default()),
            graph_pairs: Vec::new(),
            model_served: Vec::new(),
        }
    }

    /// The graph's directed pairs and capacities, for the model's
    /// destination shapes.
    pub fn set_graph_pairs(&mut self, pairs: Vec<(DirectedPair, dmc_core::Msat)>) {
        self.graph_pairs = pairs;
    }

    /// The liquidity model built from every registration.
    pub fn model(&self) -> &LiquidityModel {
        &self.model
    }

    /// Serves the model under each of `variants` at `now` (LND records,
    /// [`LiquidityModel::serve_lnd`]) and logs what changed per variant,
    /// for [`DmcCoordinator::query_model`]. Call after the reputation pass.
    pub fn serve_model(&mut self, variants: &[LiquidityParams], now: Timestamp) {
        let standing = WithReputations {
            graph: &self.standing,
            reputations: &self.reputations,
        };
        self.model_served.resize_with(variants.len(), Default::default);
        let saved = *self.model.params();
        for (v, params) in variants.iter().enumerate() {
            self.model.set_params(*params);
            let served = self
                .model
                .serve_lnd(now, &standing, &self.params, &ServeParams::default(), &self.graph_pairs);
            let (last, log) = &mut self.model_served[v];
            let mut seen: HashSet<DirectedPair> = HashSet::new();
            for s in &served {
                seen.insert(s.pair);
                if worth_reserving(last.get(&s.pair), &s.result, now, &ServeParams::default()) {
                    last.insert(s.pair, s.result);
                    log.touch(s.pair);
                }
            }
            let gone: Vec<DirectedPair> = last.keys().filter(|p| !seen.contains(p)).copied().collect();
            for p in gone {
                last.remove(&p);
                log.touch(p);
            }
        }
        self.model.set_params(saved);
    }

    /// Pairs model variant `variant` serves now.
    pub fn model_served(&self, variant: usize) -> usize {
        self.model_served.get(variant).map_or(0, |m| m.0.len())
    }

    /// What a wallet syncing from model variant `variant` gets since `since`.
    pub fn query_model(&self, variant: usize, since: u64) -> Delta {
        match self.model_served.get(variant) {
            Some((last, log)) => log.changes(since, |p| last.get(p).map(|r| served_pair(*p, r))),
            None => Delta::default(),
        }
    }

    /// A registration of `reporter` received at `received`: each pair's
    /// observation merged into the reporter's record. The served pairs are
    /// recomputed by [`DmcCoordinator::commit`] (the server does it in the
    /// same transaction; here once per sync tick, before any query).
    /// Returns how many of the reporter's records changed.
    pub fn register(&mut self, reporter: NodeId, pairs: &[PairSnapshot], received: Timestamp) -> usize {
        self.register_settled(reporter, pairs, received, &|_| None)
    }

    /// [`DmcCoordinator::register`] with what the reporter knows of each
    /// pair's latest success: settled (`Some(true)`), before a failure
    /// (`Some(false)`), unknown (`None`), as a v2 registration carries it.
    pub fn register_settled(
        &mut self,
        reporter: NodeId,
        pairs: &[PairSnapshot],
        received: Timestamp,
        settled: &dyn Fn(&DirectedPair) -> Option<bool>,
    ) -> usize {
        let mut changed = 0;
        let who = Reporter::Node(reporter);
        for p in pairs {
            let views = self.views.entry(p.pair).or_default();
            let pos = views.iter().position(|v| v.reporter == who);
            let current = pos.map(|i| views[i].record);
            let Some(new) = merge_observation(current.as_ref(), &p.result, received, RELAX_NS) else {
                if views.is_empty() {
                    self.views.remove(&p.pair);
                }
                continue;
            };
            let channel = GraphStanding::channel(&self.standing, &p.pair);
            for o in LiquidityModel::observations_in(current.as_ref(), &new, settled(&p.pair)) {
                self.model.observe(who, p.pair, channel, o);
            }
            match pos {
                Some(i) => views[i].record = new,
                None => {
                    views.push(View {
                        reporter: who,
                        record: new,
                    });
                    self.by_reporter.entry(reporter).or_default().insert(p.pair);
                }
            }
            self.dirty.insert(p.pair);
            changed += 1;
        }
        changed
    }

    /// Recomputes the pairs registered since the last commit; returns how
    /// many served pairs changed or were removed.
    pub fn commit(&mut self) -> usize {
        let dirty = std::mem::take(&mut self.dirty);
        dirty.into_iter().filter(|p| self.refresh(p)).count()
    }

    /// Recomputes one pair's verdict; whether what is served changed.
    fn refresh(&mut self, pair: &DirectedPair) -> bool {
        let standing = WithReputations {
            graph: &self.standing,
            reputations: &self.reputations,
        };
        let verdict = match self.views.get(pair) {
            Some(v) => aggregate(pair, v, &standing, &self.params),
            None => Err(Held::Unservable),
        };
        match verdict {
            Ok(agg) => {
                if self.served.get(pair) == Some(&agg.result) {
                    return false;
                }
                self.served.insert(*pair, agg.result);
            }
            Err(_) => {
                if self.served.remove(pair).is_none() {
                    return false;
                }
            }
        }
        self.log.touch(*pair);
        true
    }

    /// The reputation pass at `now` (the server runs it every cleanup
    /// interval): every signed reporter judged by its peers on the pairs
    /// it shares and by the graph on all, the results stored, and the pairs of every reporter
    /// whose score changed recomputed. Call after [`DmcCoordinator::commit`].
    pub fn reputation_pass(&mut self, now: Timestamp) -> PassReport {
        let tallies = self.verdicts();
        let mut changed: Vec<NodeId> = Vec::new();
        for (key, rep) in reputation::after_pass(&self.reputations, &tallies, now, &self.reputation_params) {
            let before = self.reputations.get(&key).map_or(1.0, |r| r.score);
            if rep.score != before {
                changed.push(key);
            }
            self.reputations.insert(key, rep);
        }
        let mut pairs: BTreeSet<DirectedPair> = BTreeSet::new();
        for k in &changed {
            if let Some(ps) = self.by_reporter.get(k) {
                pairs.extend(ps.iter().copied());
            }
        }
        let pairs_changed = pairs.iter().filter(|p| self.refresh(p)).count();
        PassReport {
            judged: tallies.len(),
            changed: changed.len(),
            pairs_changed,
        }
    }

    /// Every compared reporter's verdict if a pass ran now.
    pub fn verdicts(&self) -> HashMap<NodeId, reputation::Verdict> {
        let standing = WithReputations {
            graph: &self.standing,
            reputations: &self.reputations,
        };
        reputation::judge(self.views.iter().map(|(p, v)| (*p, v.as_slice())), &standing).verdicts(&self.reputations)
    }

    /// Served pairs whose amounts `liars` moved: served without their
    /// views, the pair would have other amounts or not be served. Counted
    /// by the honest reporters the pair has: none, one, more.
    pub fn moved_by(&self, liars: &HashSet<NodeId>) -> [usize; 3] {
        let standing = WithReputations {
            graph: &self.standing,
            reputations: &self.reputations,
        };
        let lies = |v: &View| v.reporter.key().is_some_and(|k| liars.contains(k));
        let mut out = [0; 3];
        for (pair, served) in &self.served {
            let Some(views) = self.views.get(pair) else { continue };
            if !views.iter().any(lies) {
                continue;
            }
            let honest: Vec<View> = views.iter().filter(|v| !lies(v)).copied().collect();
            let without = if honest.is_empty() {
                None
            } else {
                aggregate(pair, &honest, &standing, &self.params).ok().map(|a| a.result)
            };
            let amounts = |r: &TimedPairResult| (r.success_amt_msat, r.fail_amt_msat);
            if without.as_ref().map(amounts) != Some(amounts(served)) {
                out[honest.len().min(2)] += 1;
            }
        }
        out
    }

    /// A reporter's reputation factor (1: never found lying).
    pub fn reputation(&self, reporter: &NodeId) -> f64 {
        self.reputations.get(reporter).map_or(1.0, |r| r.score)
    }

    /// What a v2 `Query(since)` returns: the changed pairs as served, the
    /// removed ones, and the new cursor.
    pub fn query(&self, since: u64) -> Delta {
        self.log
            .changes(since, |p| self.served.get(p).map(|r| served_pair(*p, r)))
    }

    /// Pairs served now.
    pub fn pairs(&self) -> usize {
        self.served.len()
    }

    /// Pairs with records that are not served.
    pub fn held(&self) -> usize {
        self.views.len() - self.served.len()
    }
}

/// The Go External Coordinator's store (see the module doc).
#[derive(Default)]
pub struct GoCoordinator {
    store: HashMap<DirectedPair, PairData>,
    log: ChangeLog,
}

impl GoCoordinator {
    /// Merges a contributor's upload into the store with [`go_merge`] (a new pair is stored as
    /// sent) and returns how many pairs changed.
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

    /// The pairs changed since `since` (see the module doc), and the new
    /// cursor; the Go coordinator never removes a pair.
    pub fn query(&self, since: u64) -> Delta {
        self.log.changes(since, |p| {
            self.store.get(p).map(|h| PairHistory {
                node_from: p.from.0.to_vec(),
                node_to: p.to.0.to_vec(),
                history: *h,
            })
        })
    }

    /// Number of pairs in the store.
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
        if new.fail_amt_msat > e.fail_amt_msat && interval_s.saturating_mul(1_000_000_000) < RELAX_NS.as_nanos() {
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
    use dmc_core::Msat;
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
            r.fail_amt_msat = Msat(a);
            r.fail_time = t(s);
        }
        if let Some((a, s)) = succ {
            r.success_amt_msat = Msat(a);
            r.success_time = t(s);
        }
        PairSnapshot {
            pair: pair(),
            result: r,
        }
    }

    /// A node key for tests (not a curve point: the coordinator checks none).
    fn k(i: u8) -> NodeId {
        let mut b = [0u8; 33];
        b[0] = 2;
        b[1] = i;
        NodeId(b)
    }

    /// Pair nodes 100 → 100+i (channels of 2 000 000 sat), reporters 1..=n
    /// each with a channel of `reporter_sat` to node 100.
    fn graph(pairs: u8, reporters: u8, reporter_sat: u64) -> Standing {
        let mut g = dmc_graph::Graph::default();
        let mut id = 0;
        for i in 1..=pairs {
            id += 1;
            g.add_channel(id, k(100), k(100 + i), Sat(2_000_000), None, None);
        }
        for r in 1..=reporters {
            id += 1;
            g.add_channel(id, k(r), k(100), Sat(reporter_sat), None, None);
        }
        Standing::new(&g, MIN_REPORTER_CAPACITY_SAT)
    }

    fn at(pair: DirectedPair, fail: Option<(u64, i64)>, succ: Option<(u64, i64)>) -> PairSnapshot {
        PairSnapshot {
            pair,
            ..obs(fail, succ)
        }
    }

    fn gp(i: u8) -> DirectedPair {
        DirectedPair::new(k(100), k(100 + i))
    }

    #[test]
    fn dmc_serves_the_aggregate_and_only_changes() {
        let mut c = DmcCoordinator::new(graph(1, 3, 1_000_000));
        let p = gp(1);
        assert_eq!(c.register(k(1), &[at(p, None, Some((500_000, 1000)))], LATE), 1);
        assert_eq!(c.commit(), 1);
        let d = c.query(0);
        assert_eq!(d.pairs.len(), 1);
        assert_eq!(d.pairs[0].history.success_amt_msat, 500_000);
        // Re-sending the same changes nothing, and the delta is empty.
        assert_eq!(c.register(k(1), &[at(p, None, Some((500_000, 1000)))], LATE), 0);
        assert_eq!(c.commit(), 0);
        assert!(c.query(d.cursor).pairs.is_empty());
        // A failure from a second reporter: of two equal weights one is
        // exactly half, not enough for a success (it needs more than the
        // quorum), and one reporter's failure is not corroborated: the pair
        // is held, and the delta removes it.
        assert_eq!(c.register(k(2), &[at(p, Some((300_000, 2000)), None)], LATE), 1);
        c.commit();
        let d2 = c.query(d.cursor);
        assert!(d2.pairs.is_empty());
        assert_eq!(d2.removed, vec![p]);
        assert_eq!((c.pairs(), c.held()), (0, 1));
        // A third reporter's failure corroborates it.
        assert_eq!(c.register(k(3), &[at(p, Some((300_000, 2000)), None)], LATE), 1);
        c.commit();
        let d3 = c.query(d2.cursor);
        assert_eq!(d3.pairs.len(), 1);
        assert_eq!(d3.pairs[0].history.fail_amt_msat, 300_000);
        assert_eq!(d3.pairs[0].history.success_amt_msat, 0);
        assert!(d3.cursor > d2.cursor);
        assert_eq!(c.pairs(), 1);
    }

    #[test]
    fn unverified_reporters_and_pairs_without_a_channel_are_not_served() {
        // Reporters with 999 999 sat of channels are unverified.
        let mut c = DmcCoordinator::new(graph(1, 3, 999_999));
        let good = gp(1);
        let off_graph = DirectedPair::new(k(100), k(200));
        for r in 1..=3 {
            c.register(k(r), &[at(good, None, Some((500_000, 1000)))], LATE);
        }
        assert_eq!(
            c.commit(),
            0,
            "three unverified keys share 0.1: below the serving threshold"
        );
        assert_eq!((c.pairs(), c.held()), (0, 1));
        let mut c = DmcCoordinator::new(graph(1, 1, 1_000_000));
        c.register(k(1), &[at(good, None, Some((500_000, 1000)))], LATE);
        c.register(k(1), &[at(off_graph, None, Some((500_000, 1000)))], LATE);
        assert_eq!(
            c.commit(),
            1,
            "an established reporter is served, but not off the graph"
        );
        assert_eq!(c.query(0).pairs.len(), 1);
        assert_eq!(c.held(), 1);
        // A success claim above the pair's capacity is clamped to it.
        c.register(k(1), &[at(good, None, Some((u64::MAX / 4, 2000)))], LATE);
        c.commit();
        assert_eq!(c.query(0).pairs[0].history.success_amt_msat, 2_000_000_000);
    }

    /// Three honest established reporters and one established liar send
    /// their views of one pair; whatever the lie, dmc serves amounts inside
    /// the honest range, where the Go rule serves the liar's.
    #[test]
    fn one_established_liar_against_three_honest_keeps_the_honest_range() {
        use crate::liars;
        let p = gp(1);
        let honest = [
            at(p, Some((800_000, 1000)), Some((450_000, 990))),
            at(p, Some((850_000, 1010)), Some((500_000, 995))),
            at(p, Some((900_000, 1020)), Some((550_000, 1000))),
        ];
        let now = Timestamp::from_unix_secs(1600);
        let lies = [
            liars::inverted(&honest[1..2], now),
            liars::blackhole(&[], &[p], now),
            liars::fake_capacity(&honest[1..2], &[], now),
        ];
        // (The test keys are not curve points, so export_pairs would drop
        // them; the liars module's tests check that lies pass the export.)
        for lie in &lies {
            assert_eq!(lie.len(), 1);
            let mut c = DmcCoordinator::new(graph(1, 4, 5_000_000));
            let mut g = GoCoordinator::default();
            for (r, h) in honest.iter().enumerate() {
                c.register(k(r as u8 + 1), std::slice::from_ref(h), LATE);
                g.register(std::slice::from_ref(h));
            }
            c.register(k(4), lie, LATE);
            g.register(lie);
            c.commit();
            let served = c.query(0).pairs[0].history;
            assert!(
                (450_000..=550_000).contains(&served.success_amt_msat),
                "{lie:?}: {served:?}"
            );
            assert!(
                (800_000..=900_000).contains(&served.fail_amt_msat),
                "{lie:?}: {served:?}"
            );
            // The Go rule: the newest claim wins, so the lie is served.
            let go = g.query(0).pairs[0].history;
            assert!(
                !(450_000..=550_000).contains(&go.success_amt_msat) || !(800_000..=900_000).contains(&go.fail_amt_msat),
                "{lie:?}: {go:?}"
            );
        }
    }

    /// An inverting liar contradicted on six shared pairs loses weight pass
    /// by pass; its lone pair stops being served and the delta says so.
    #[test]
    fn the_reputation_pass_discounts_a_liar_and_removes_its_lone_pairs() {
        use crate::liars;
        let mut c = DmcCoordinator::new(graph(7, 4, 5_000_000));
        let shared: Vec<DirectedPair> = (1..=6).map(gp).collect();
        let lone = gp(7);
        for r in 1..=3 {
            let h: Vec<PairSnapshot> = shared
                .iter()
                .map(|p| at(*p, Some((800_000, 999_000)), Some((500_000, 998_900))))
                .collect();
            c.register(k(r), &h, LATE);
        }
        let mut seen: Vec<PairSnapshot> = shared
            .iter()
            .map(|p| at(*p, Some((800_000, 999_000)), Some((500_000, 998_900))))
            .collect();
        seen.push(at(lone, Some((700_000, 999_000)), None));
        let mut now = Timestamp::from_unix_secs(1_000_000);
        c.register(k(4), &liars::inverted(&seen, now), now);
        c.commit();
        let before = c.query(0);
        assert_eq!(before.pairs.len(), 7, "the lone lie is served before any pass");
        assert_eq!(c.moved_by(&[k(4)].into()), [1, 0, 0]);
        assert_eq!(c.reputation(&k(4)), 1.0);
        let mut scores = Vec::new();
        for _ in 0..6 {
            let r = c.reputation_pass(now);
            assert_eq!(r.judged, 4, "{r:?}");
            scores.push(c.reputation(&k(4)));
            now = now.add(DurationNs(600 * 1_000_000_000));
        }
        assert!(scores.windows(2).all(|w| w[1] < w[0]), "{scores:?}");
        assert!(scores[5] < 0.5, "{scores:?}");
        for r in 1..=3 {
            assert_eq!(c.reputation(&k(r)), 1.0, "honest reporters keep their weight");
        }
        let liar: HashSet<NodeId> = [k(4)].into();
        assert_eq!(
            c.moved_by(&liar),
            [0, 0, 0],
            "the lone lie is held, the shared pairs honest"
        );
        let after = c.query(before.cursor);
        assert_eq!(after.removed, vec![lone], "{after:?}");
        assert_eq!(c.pairs(), 6);
        assert_eq!(c.held(), 1);
        // The shared pairs keep the honest record.
        let d = c.query(0);
        assert!(d.pairs.iter().all(|p| p.history.success_amt_msat == 500_000));
    }

    #[test]
    fn go_rule_and_its_quirks() {
        let mut g = GoCoordinator::default();
        g.register(&[obs(Some((100_000, 1000)), None)]);
        // A higher failure 30 s later is dropped (the relax rule across reporters).
        g.register(&[obs(Some((900_000, 1030)), None)]);
        let p = g.query(0).pairs;
        assert_eq!(p[0].history.fail_amt_msat, 100_000);
        // An older success still raises the stored failure above it.
        g.register(&[obs(None, Some((200_000, 10)))]);
        let p = g.query(0).pairs;
        assert_eq!(p[0].history.success_time, 10);
        assert_eq!(p[0].history.success_amt_msat, 200_000);
        assert_eq!(p[0].history.fail_amt_msat, 200_001);
        assert_eq!(p[0].history.fail_amt_sat, 200);
        // A zero-amount failure wipes the success amount, and the clamp then
        // turns "fails at any amount" into "fails above 0 msat" (its 0 ≥ 0).
        g.register(&[obs(Some((0, 5000)), None)]);
        let p = g.query(0).pairs;
        assert_eq!((p[0].history.fail_amt_msat, p[0].history.success_amt_msat), (1, 0));
    }

    #[test]
    fn go_early_return_keeps_the_old_sat_fields() {
        let mut g = GoCoordinator::default();
        g.register(&[obs(Some((200_000_000, 1000)), Some((100_000_000, 900)))]);
        // A newer, larger success and a higher failure 30 s after the stored one.
        g.register(&[obs(Some((300_000_000, 1030)), Some((150_000_000, 1020)))]);
        let p = g.query(0).pairs;
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
        assert_eq!(out[0].result.success_amt_msat, Msat(500_000));
    }
}
