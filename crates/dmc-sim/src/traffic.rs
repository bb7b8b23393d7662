//! Background traffic and rebalancing: liquidity that moves like the real
//! network's.
//!
//! # The model
//!
//! Balances drawn once and never moved (the i.i.d. [`BalanceModel`]s) make
//! every observation valid forever; real balances move with every payment.
//! Here a population of senders pays a population of receivers all the
//! time, and channel owners refill channels that run dry:
//!
//! * **Volume.** [`TrafficParams::payments_per_hour`] payments arrive as a
//!   Poisson process. The default, 9 000 per hour, is River's lower bound of
//!   6.6 million routed payments in August 2023 (2.5 per second; "The
//!   Lightning Network grew by 1212% in 2 years", River, 2023-10-10).
//! * **Amounts** are log-uniform in [`TrafficParams::min_amount_sat`],
//!   [`TrafficParams::max_amount_sat`]; the default 1 000 – 250 000 sat has
//!   a mean of 45 000 sat, River's average of 44 700 sat for the same month.
//! * **Who pays whom.** Senders are uniform over nodes with a usable
//!   outgoing channel (the many small nodes and their wallets). Receivers
//!   are drawn in proportion to a node's total channel capacity
//!   ([`Popularity::by_capacity`]): merchants, exchanges and LSPs hold the
//!   big channels and receive far more than a random node. The share this
//!   gives the top nodes is reported ([`Popularity::top_share`]). Money
//!   therefore drains from the edge of the graph towards the sinks.
//! * **Router.** Background payments take a shortest path (fewest hops) on
//!   which every hop can carry the amount under the true balances and its
//!   `htlc_minimum`/`htlc_maximum`, found by a bidirectional breadth-first
//!   search with a random neighbour rotation so equal paths share the load.
//!   They settle at once and ignore fees: they stand for senders whose
//!   retries we do not simulate; only the liquidity they move matters. A
//!   payment with no such path is dropped (counted).
//! * **Rebalancing.** Every [`RebalanceParams::tick_s`], each channel
//!   direction whose spendable balance is below
//!   [`RebalanceParams::threshold`] of the capacity is refilled to
//!   [`RebalanceParams::target`] with probability
//!   `1 - exp(-rate_per_hour · tick)`, if it forwarded a background payment
//!   within [`RebalanceParams::active_window_s`]: the owner of a channel
//!   that earns tops it up by a circular rebalance or a swap; idle depleted
//!   channels stay depleted. Capacity is conserved; the other legs of a
//!   circular rebalance are not simulated.
//! * **Start.** [`Balances::parse`]`("flowing")` starts from LND's bimodal
//!   prior (liquidity mostly at one end, scale 300 000 sat): channels are
//!   funded by one side and LND's fit to mainnet mission control (lnd #5988)
//!   found large channels do not behave as uniform ones.
//!
//! Nothing here reads a clock: [`Traffic::advance`] moves the simulated
//! world to a given [`Timestamp`].

use dmc_core::time::DurationNs;
use dmc_core::{Msat, Sat, Timestamp};
use dmc_graph::Graph;

use crate::network::{BalanceModel, Network};
use crate::rng::Rng;

const NS: DurationNs = DurationNs::SECOND;

/// How the owners of depleted channels refill them.
#[derive(Clone, Debug, PartialEq)]
pub struct RebalanceParams {
    /// A direction below this fraction of the capacity counts as depleted.
    pub threshold: f64,
    /// The fraction a refilled direction gets.
    pub target: f64,
    /// Rate at which a depleted direction is refilled (per hour).
    pub rate_per_hour: f64,
    /// How often depleted directions are looked at (simulated seconds).
    pub tick_s: i64,
    /// Only directions that forwarded a background payment this recently
    /// are refilled: operators rebalance channels that earn, not idle ones.
    /// `None`: every depleted direction is refilled.
    pub active_window_s: Option<i64>,
}

impl Default for RebalanceParams {
    fn default() -> Self {
        RebalanceParams {
            threshold: 0.1,
            target: 0.5,
            // Once a day on average: rebalancing tools (rebalance-lnd,
            // CLBOSS, bos) are typically scheduled hourly to daily, and
            // most operators do not run one; no published rate exists.
            rate_per_hour: 1.0 / 24.0,
            tick_s: 600,
            active_window_s: Some(24 * 3600),
        }
    }
}

/// Background payments: volume, amounts and rebalancing.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficParams {
    /// Mean arrival rate of background payments (a Poisson process; default 9 000, River's August
    /// 2023 lower bound).
    pub payments_per_hour: f64,
    /// Smallest background amount in sat (amounts are log-uniform between the two bounds).
    pub min_amount_sat: u64,
    /// Largest background amount in sat.
    pub max_amount_sat: u64,
    /// Longest path a background payment takes.
    pub max_hops: usize,
    /// How owners refill depleted channel directions.
    pub rebalance: RebalanceParams,
}

impl Default for TrafficParams {
    fn default() -> Self {
        TrafficParams {
            payments_per_hour: 9_000.0,
            min_amount_sat: 1_000,
            max_amount_sat: 250_000,
            max_hops: 20,
            rebalance: RebalanceParams::default(),
        }
    }
}

/// What the background traffic did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficStats {
    /// Background payments that arrived, delivered or not.
    pub payments: u64,
    /// Background payments that found a path and moved their amount along it.
    pub settled: u64,
    /// Payments for which no path could carry the amount.
    pub no_path: u64,
    /// Hops summed over the settled payments (divide by `settled` for the mean path length).
    pub hops: u64,
    /// Depleted directions refilled.
    pub rebalances: u64,
}

/// A weighted choice of nodes (cumulative weights, binary search).
#[derive(Clone, Debug)]
pub struct Popularity {
    nodes: Vec<u32>,
    cumulative: Vec<f64>,
}

impl Popularity {
    /// Nodes with a usable incoming direction, weighted by the total
    /// capacity of their channels; `exclude` never receive.
    pub fn by_capacity(graph: &Graph, exclude: &[u32]) -> Self {
        let mut cap = vec![0u64; graph.node_count()];
        for ch in graph.channels() {
            cap[ch.node1 as usize] += ch.capacity_sat.0;
            cap[ch.node2 as usize] += ch.capacity_sat.0;
        }
        let (_, inbound) = usable_ends(graph);
        Self::from_weights(
            (0..graph.node_count() as u32)
                .filter(|n| inbound[*n as usize] && !exclude.contains(n))
                .map(|n| (n, cap[n as usize] as f64)),
        )
    }

    /// Nodes with a usable outgoing direction, all equally likely.
    pub fn uniform_senders(graph: &Graph, exclude: &[u32]) -> Self {
        let (out, _) = usable_ends(graph);
        Self::from_weights(
            (0..graph.node_count() as u32)
                .filter(|n| out[*n as usize] && !exclude.contains(n))
                .map(|n| (n, 1.0)),
        )
    }

    /// Nodes drawn in proportion to their weights; a node with a weight that is not positive and
    /// finite is never drawn.
    pub fn from_weights(weights: impl IntoIterator<Item = (u32, f64)>) -> Self {
        let mut nodes = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        for (n, w) in weights {
            if w > 0.0 && w.is_finite() {
                total += w;
                nodes.push(n);
                cumulative.push(total);
            }
        }
        Popularity { nodes, cumulative }
    }

    /// Whether no node can be drawn.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// One node; `None` when there are none.
    pub fn sample(&self, rng: &mut Rng) -> Option<u32> {
        let total = *self.cumulative.last()?;
        let x = rng.f64() * total;
        let i = self.cumulative.partition_point(|c| *c <= x);
        Some(self.nodes[i.min(self.nodes.len() - 1)])
    }

    /// The share of all draws that go to the `k` most popular nodes.
    pub fn top_share(&self, k: usize) -> f64 {
        let Some(total) = self.cumulative.last().copied() else {
            return 0.0;
        };
        let mut w: Vec<f64> = self
            .cumulative
            .iter()
            .scan(0.0, |prev, c| {
                let x = c - *prev;
                *prev = *c;
                Some(x)
            })
            .collect();
        w.sort_by(|a, b| b.total_cmp(a));
        w.iter().take(k).sum::<f64>() / total
    }

    /// How many nodes can be drawn (positive weight).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
}

/// Per node: whether it has an enabled outgoing direction, and an enabled incoming one.
fn usable_ends(graph: &Graph) -> (Vec<bool>, Vec<bool>) {
    let mut out = vec![false; graph.node_count()];
    let mut inbound = vec![false; graph.node_count()];
    for ch in graph.channels() {
        for (dir, (from, to)) in [(ch.node1, ch.node2), (ch.node2, ch.node1)].into_iter().enumerate() {
            if ch.policies[dir].is_some_and(|p| !p.disabled) {
                out[from as usize] = true;
                inbound[to as usize] = true;
            }
        }
    }
    (out, inbound)
}

/// Usable channel directions as CSR adjacency, both ways, for the
/// background router.
struct Halves {
    out_start: Vec<u32>,
    /// (half = ci·2 + dir, peer)
    out: Vec<(u32, u32)>,
    in_start: Vec<u32>,
    inc: Vec<(u32, u32)>,
    min_htlc: Vec<Msat>,
    max_htlc: Vec<Msat>,
    /// Sender and receiver of each half; `u32::MAX` for halves not routed.
    ends: Vec<(u32, u32)>,
}

impl Halves {
    fn new(graph: &Graph, exclude: &[u32]) -> Self {
        let n = graph.node_count();
        let mut out_lists: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
        let mut in_lists: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
        let mut min_htlc = vec![Msat::ZERO; graph.channel_count() * 2];
        let mut max_htlc = vec![Msat::ZERO; graph.channel_count() * 2];
        let mut ends = vec![(u32::MAX, u32::MAX); graph.channel_count() * 2];
        for (ci, ch) in graph.channels().iter().enumerate() {
            for dir in 0..2 {
                let Some(p) = ch.policies[dir].filter(|p| !p.disabled) else {
                    continue;
                };
                let (from, to) = if dir == 0 {
                    (ch.node1, ch.node2)
                } else {
                    (ch.node2, ch.node1)
                };
                if exclude.contains(&from) || exclude.contains(&to) {
                    continue;
                }
                let h = (ci * 2 + dir) as u32;
                min_htlc[h as usize] = p.min_htlc_msat;
                max_htlc[h as usize] = p.max_htlc_msat.unwrap_or(Msat::MAX);
                ends[h as usize] = (from, to);
                out_lists[from as usize].push((h, to));
                in_lists[to as usize].push((h, from));
            }
        }
        let flatten = |lists: Vec<Vec<(u32, u32)>>| {
            let mut start = Vec::with_capacity(n + 1);
            let mut flat = Vec::new();
            for l in lists {
                start.push(flat.len() as u32);
                flat.extend(l);
            }
            start.push(flat.len() as u32);
            (start, flat)
        };
        let (out_start, out) = flatten(out_lists);
        let (in_start, inc) = flatten(in_lists);
        Halves {
            out_start,
            out,
            in_start,
            inc,
            min_htlc,
            max_htlc,
            ends,
        }
    }
}

/// Shortest feasible paths under the true balances (bidirectional BFS).
struct Router {
    halves: Halves,
    fwd_seen: Vec<u32>,
    bwd_seen: Vec<u32>,
    fwd_parent: Vec<u32>,
    bwd_parent: Vec<u32>,
    generation: u32,
}

impl Router {
    fn new(graph: &Graph, exclude: &[u32]) -> Self {
        let n = graph.node_count();
        Router {
            halves: Halves::new(graph, exclude),
            fwd_seen: vec![0; n],
            bwd_seen: vec![0; n],
            fwd_parent: vec![0; n],
            bwd_parent: vec![0; n],
            generation: 0,
        }
    }

    fn usable(&self, net: &Network, h: u32, amt: Msat) -> bool {
        let hs = &self.halves;
        amt >= hs.min_htlc[h as usize]
            && amt <= hs.max_htlc[h as usize]
            && net.spendable(h / 2, (h % 2) as usize) >= amt
    }

    /// The halves of a fewest-hop path from `s` to `t` that can carry `amt`.
    fn path(&mut self, net: &Network, s: u32, t: u32, amt: Msat, max_hops: usize, rng: &mut Rng) -> Option<Vec<u32>> {
        if s == t || net.is_offline(s) || net.is_offline(t) {
            return None;
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.fwd_seen.iter_mut().for_each(|x| *x = 0);
            self.bwd_seen.iter_mut().for_each(|x| *x = 0);
            self.generation = 1;
        }
        let g = self.generation;
        self.fwd_seen[s as usize] = g;
        self.bwd_seen[t as usize] = g;
        let mut fwd = vec![s];
        let mut bwd = vec![t];
        let rot = rng.next_u64() as usize;
        for _ in 0..max_hops {
            let forward = fwd.len() <= bwd.len();
            let mut next = Vec::new();
            let frontier = if forward { &fwd } else { &bwd };
            for &u in frontier {
                let (start, list) = if forward {
                    (&self.halves.out_start, &self.halves.out)
                } else {
                    (&self.halves.in_start, &self.halves.inc)
                };
                let (a, b) = (start[u as usize] as usize, start[u as usize + 1] as usize);
                let deg = b - a;
                for k in 0..deg {
                    let (h, v) = list[a + (k + rot) % deg];
                    let (seen, other) = if forward {
                        (&self.fwd_seen, &self.bwd_seen)
                    } else {
                        (&self.bwd_seen, &self.fwd_seen)
                    };
                    if seen[v as usize] == g || !self.usable(net, h, amt) || net.is_offline(v) {
                        continue;
                    }
                    let met = other[v as usize] == g;
                    if forward {
                        self.fwd_seen[v as usize] = g;
                        self.fwd_parent[v as usize] = h;
                    } else {
                        self.bwd_seen[v as usize] = g;
                        self.bwd_parent[v as usize] = h;
                    }
                    if met {
                        return Some(self.assemble(v, s, t));
                    }
                    next.push(v);
                }
            }
            if next.is_empty() {
                return None;
            }
            if forward {
                fwd = next;
            } else {
                bwd = next;
            }
        }
        None
    }

    fn assemble(&self, meet: u32, s: u32, t: u32) -> Vec<u32> {
        let ends = &self.halves.ends;
        let mut path = Vec::new();
        let mut v = meet;
        while v != s {
            let h = self.fwd_parent[v as usize];
            path.push(h);
            v = ends[h as usize].0;
        }
        path.reverse();
        let mut v = meet;
        while v != t {
            let h = self.bwd_parent[v as usize];
            path.push(h);
            v = ends[h as usize].1;
        }
        path
    }
}

/// The background: payments and rebalancing, advanced on a simulated clock.
pub struct Traffic {
    /// Volume, amounts and rebalancing this background runs with.
    pub params: TrafficParams,
    senders: Popularity,
    receivers: Popularity,
    router: Router,
    rng: Rng,
    next_payment: Timestamp,
    next_rebalance: Timestamp,
    /// Seconds of each half's last background forward (`i64::MIN`: never).
    last_forward: Vec<i64>,
    /// Counts of what happened since the start (warm-up included).
    pub stats: TrafficStats,
}

impl Traffic {
    /// `exclude`: nodes that neither send, receive nor forward background
    /// payments (the experiment's own senders' private ends).
    pub fn new(graph: &Graph, params: TrafficParams, exclude: &[u32], seed: u64, start: Timestamp) -> Self {
        let mut rng = Rng::new(seed);
        let first = exponential_ns(&mut rng, params.payments_per_hour);
        Traffic {
            senders: Popularity::uniform_senders(graph, exclude),
            receivers: Popularity::by_capacity(graph, exclude),
            router: Router::new(graph, exclude),
            next_payment: start.add(first),
            next_rebalance: start.add(params.rebalance.tick_s.max(1) * NS),
            last_forward: vec![i64::MIN; graph.channel_count() * 2],
            params,
            rng,
            stats: TrafficStats::default(),
        }
    }

    /// Runs every background payment and rebalance due before `until`.
    pub fn advance(&mut self, net: &mut Network, until: Timestamp) {
        loop {
            let pay_next = self.next_payment.sub(self.next_rebalance).is_negative();
            let t = if pay_next {
                self.next_payment
            } else {
                self.next_rebalance
            };
            if !until.after(t) {
                return;
            }
            if pay_next {
                self.one_payment(net, t);
                let dt = exponential_ns(&mut self.rng, self.params.payments_per_hour);
                self.next_payment = self.next_payment.add(dt);
            } else {
                self.rebalance(net, t);
                self.next_rebalance = self.next_rebalance.add(self.params.rebalance.tick_s.max(1) * NS);
            }
        }
    }

    fn one_payment(&mut self, net: &mut Network, now: Timestamp) {
        let (Some(s), Some(t)) = (self.senders.sample(&mut self.rng), self.receivers.sample(&mut self.rng)) else {
            return;
        };
        let amt = Sat(self
            .rng
            .log_uniform(self.params.min_amount_sat, self.params.max_amount_sat))
        .to_msat_saturating();
        self.stats.payments += 1;
        if s == t {
            self.stats.no_path += 1;
            return;
        }
        match self.router.path(net, s, t, amt, self.params.max_hops, &mut self.rng) {
            Some(path) => {
                for h in &path {
                    let (ci, dir) = (h / 2, (h % 2) as usize);
                    net.lock(ci, dir, amt);
                    net.settle(ci, dir, amt);
                    self.last_forward[*h as usize] = now.unix_secs();
                }
                self.stats.settled += 1;
                self.stats.hops += path.len() as u64;
            }
            None => self.stats.no_path += 1,
        }
    }

    fn rebalance(&mut self, net: &mut Network, now: Timestamp) {
        let rp = &self.params.rebalance;
        let active_since = rp
            .active_window_s
            .map_or(i64::MIN, |w| now.unix_secs().saturating_sub(w));
        let p = 1.0 - (-rp.rate_per_hour * rp.tick_s as f64 / 3600.0).exp();
        let halves = self.router.halves.min_htlc.len() as u32;
        for h in 0..halves {
            // Only directions the router knows (enabled, not excluded) are managed.
            if self.router.halves.ends[h as usize].0 == u32::MAX
                || (active_since > i64::MIN && self.last_forward[h as usize] < active_since)
            {
                continue;
            }
            let (ci, dir) = (h / 2, (h % 2) as usize);
            let cap = net.graph.channels()[ci as usize].capacity_sat.to_msat_saturating();
            if net.spendable(ci, dir).as_f64() < rp.threshold * cap.as_f64() && self.rng.f64() < p {
                net.refill(ci, dir, rp.target);
                self.stats.rebalances += 1;
            }
        }
    }
}

/// Exponential inter-arrival time for `per_hour` arrivals, in ns.
fn exponential_ns(rng: &mut Rng, per_hour: f64) -> DurationNs {
    if per_hour <= 0.0 || !per_hour.is_finite() {
        return DurationNs(i64::MAX / 4);
    }
    let u = rng.f64();
    let hours = -(1.0 - u).ln() / per_hour;
    DurationNs(((hours * 3600.0 * 1e9) as i64).max(1))
}

/// Spendable fraction of every direction with an enabled policy.
pub fn balance_fractions(net: &Network) -> Vec<f64> {
    let mut v = Vec::new();
    for (ci, ch) in net.graph.channels().iter().enumerate() {
        let cap = ch.capacity_sat.to_msat_saturating();
        if cap == Msat::ZERO {
            continue;
        }
        for dir in 0..2 {
            if ch.policies[dir].is_some_and(|p| !p.disabled) {
                v.push(net.spendable(ci as u32, dir).as_f64() / cap.as_f64());
            }
        }
    }
    v
}

/// Share of values in each of `bins` equal bins over [0, 1].
pub fn histogram(values: &[f64], bins: usize) -> Vec<f64> {
    let bins = bins.max(1);
    let mut h = vec![0usize; bins];
    for &x in values {
        let i = ((x.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        h[i] += 1;
    }
    let n = values.len().max(1) as f64;
    h.into_iter().map(|c| c as f64 / n).collect()
}

/// Two-sample Kolmogorov–Smirnov distance: the largest gap between the
/// empirical distribution functions of `a` and `b`.
pub fn ks_distance(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return if a.len() == b.len() { 0.0 } else { 1.0 };
    }
    let mut a: Vec<f64> = a.to_vec();
    let mut b: Vec<f64> = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

/// How the world's balances start and whether they move.
#[derive(Clone, Debug, PartialEq)]
pub enum Balances {
    /// Drawn i.i.d. once and moved only by the experiment's own senders.
    Static(BalanceModel),
    /// Drawn from `initial`, then moved by background traffic and
    /// rebalancing until stationary, and all the time after.
    Flowing {
        /// The i.i.d. draw the balances start from.
        initial: BalanceModel,
        /// The background payments and rebalancing that move them.
        traffic: TrafficParams,
    },
}

impl Balances {
    /// The name on the command line and in reports: the static model's (`uniform`, `bimodal`,
    /// `fixed`) or `flowing`.
    pub fn name(&self) -> &'static str {
        match self {
            Balances::Static(m) => m.name(),
            Balances::Flowing { .. } => "flowing",
        }
    }

    /// `flowing` (default traffic, bimodal start) or an i.i.d. model name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "flowing" => Some(Balances::Flowing {
                initial: BalanceModel::Bimodal {
                    scale_msat: Msat(300_000_000),
                },
                traffic: TrafficParams::default(),
            }),
            other => BalanceModel::parse(other).map(Balances::Static),
        }
    }

    /// The model the balances are first drawn from (for `Static`, the only one).
    pub fn initial(&self) -> BalanceModel {
        match self {
            Balances::Static(m) => *m,
            Balances::Flowing { initial, .. } => *initial,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmc_core::NodeId;
    use dmc_graph::Policy;

    fn key(i: u32) -> NodeId {
        let mut k = [0u8; 33];
        k[0] = 2;
        k[1..5].copy_from_slice(&i.to_be_bytes());
        NodeId(k)
    }

    fn policy() -> Policy {
        Policy {
            time_lock_delta: 40,
            min_htlc_msat: Msat(1000),
            max_htlc_msat: None,
            fee_base_msat: Msat(0),
            fee_rate_ppm: 0,
            disabled: false,
        }
    }

    /// A line 0 - 1 - 2 - 3 plus a detour 0 - 4 - 5 - 3.
    fn graph() -> Graph {
        let mut g = Graph::default();
        for (id, a, b) in [(1, 0, 1), (2, 1, 2), (3, 2, 3), (4, 0, 4), (5, 4, 5), (6, 5, 3)] {
            g.add_channel(id, key(a), key(b), Sat(1_000), Some(policy()), Some(policy()));
        }
        g
    }

    #[test]
    fn router_takes_a_feasible_shortest_path_and_conserves_money() {
        let g = graph();
        let mut net = Network::new(g.clone(), BalanceModel::Fixed { node1_fraction: 0.5 }, 1);
        let idx = |i: u32| g.node_index(&key(i)).unwrap();
        let mut router = Router::new(&g, &[]);
        let mut rng = Rng::new(3);
        let path = router.path(&net, idx(0), idx(3), Msat(400_000), 10, &mut rng).unwrap();
        assert_eq!(path.len(), 3);
        // Drain channel 2 (1 → 2): the path must take the detour.
        let c2 = g.channel_index(2).unwrap();
        net.set_balance(2, &key(1), Msat(0));
        let path = router.path(&net, idx(0), idx(3), Msat(400_000), 10, &mut rng).unwrap();
        assert!(path.iter().all(|h| h / 2 != c2), "used the drained channel");
        assert_eq!(path.len(), 3);
        // More than any channel holds: no path.
        assert!(router.path(&net, idx(0), idx(3), Msat(600_000), 10, &mut rng).is_none());
        // Paths are contiguous from 0 to 3.
        let mut at = idx(0);
        for h in &path {
            let ch = &g.channels()[(h / 2) as usize];
            let (from, to) = if h % 2 == 0 {
                (ch.node1, ch.node2)
            } else {
                (ch.node2, ch.node1)
            };
            assert_eq!(from, at);
            at = to;
        }
        assert_eq!(at, idx(3));
    }

    #[test]
    fn traffic_drains_towards_receivers_and_rebalancing_refills() {
        // Node 3 and 6 hold a big channel: they receive most payments.
        let mut g = graph();
        g.add_channel(7, key(3), key(6), Sat(1_000_000), Some(policy()), Some(policy()));
        let mut net = Network::new(g.clone(), BalanceModel::Fixed { node1_fraction: 0.5 }, 1);
        let total = net.total_balance_msat();
        let start = Timestamp::from_unix_secs(1_700_000_000);
        let params = TrafficParams {
            payments_per_hour: 600.0,
            min_amount_sat: 10,
            max_amount_sat: 100,
            rebalance: RebalanceParams {
                rate_per_hour: 0.0,
                ..RebalanceParams::default()
            },
            ..TrafficParams::default()
        };
        let mut t = Traffic::new(&g, params.clone(), &[], 5, start);
        t.advance(&mut net, start.add(3600 * NS));
        assert!(t.stats.payments > 400, "{:?}", t.stats);
        assert!(t.stats.settled > 0);
        assert_eq!(t.stats.rebalances, 0);
        assert_eq!(net.total_balance_msat(), total, "money is conserved");
        let depleted = balance_fractions(&net).iter().filter(|f| **f < 0.1).count();
        assert!(depleted > 0, "an hour of one-way traffic depletes something");
        // With refills the depleted directions come back.
        let mut t2 = Traffic::new(
            &g,
            TrafficParams {
                payments_per_hour: 0.0,
                rebalance: RebalanceParams {
                    rate_per_hour: 1000.0,
                    // Idle too: this traffic has not forwarded anything yet.
                    active_window_s: None,
                    ..RebalanceParams::default()
                },
                ..params
            },
            &[],
            6,
            start.add(3600 * NS),
        );
        t2.advance(&mut net, start.add(2 * 3600 * NS));
        assert!(t2.stats.rebalances > 0);
        assert!(balance_fractions(&net).iter().all(|f| *f >= 0.1));
        assert_eq!(net.total_balance_msat(), total);
    }

    #[test]
    fn popularity_follows_capacity() {
        let mut g = graph();
        g.add_channel(7, key(3), key(6), Sat(1_000_000), Some(policy()), Some(policy()));
        let p = Popularity::by_capacity(&g, &[]);
        let mut rng = Rng::new(1);
        let hub = g.node_index(&key(3)).unwrap();
        let hits = (0..10_000).filter(|_| p.sample(&mut rng) == Some(hub)).count();
        // Node 3 holds 1 002 000 of 2 012 000 sat-ends: about half the draws.
        assert!((4500..5500).contains(&hits), "{hits}");
        assert!(p.top_share(1) > 0.49);
        assert!(Popularity::from_weights([]).sample(&mut rng).is_none());
    }

    #[test]
    fn ks_and_histogram() {
        assert_eq!(ks_distance(&[0.1, 0.2], &[0.1, 0.2]), 0.0);
        assert_eq!(ks_distance(&[0.1], &[0.9]), 1.0);
        let d = ks_distance(&[0.1, 0.2, 0.3, 0.4], &[0.3, 0.4, 0.5, 0.6]);
        assert!((d - 0.5).abs() < 1e-12, "{d}");
        assert_eq!(histogram(&[0.0, 0.5, 1.0, 0.99], 2), vec![0.25, 0.75]);
    }
}
