//! # Payment feasibility: could this amount be delivered at all?
//!
//! ## The model
//!
//! A payment of `a` msat from `s` to `t` is *feasible* on one draw of the hidden balances when some flow of `a`
//! from `s` to `t` fits into them: the s–t max-flow is at least `a`. Feasibility ignores how a sender would find
//! that flow: it is what a sender with full knowledge of every balance could do, so it is a ceiling for every
//! pathfinding and every mission control (René Pickhardt's "upper bound for the probability to be able to
//! successfully conduct a payment").
//!
//! Every channel direction is an edge of the flow network. Its capacity is
//!
//! * the balance its sending side holds (`balance(ci, dir)`, in the simulator [`Network::spendable`]),
//! * clipped to the direction's announced `max_htlc_msat` ([`EdgeRules::clip_to_htlc_max`]): one HTLC per
//!   channel direction and payment. This is conservative, since a multi-part payment could put several HTLCs on
//!   one channel, but it is the per-HTLC bound pathfinding checks,
//! * zero when the direction has no announced policy or a disabled one ([`Liveness::Direction`]): nobody
//!   routes over it.
//!
//! Fees, CLTV deltas, `min_htlc`, channel reserves and the HTLC slot limit are ignored. Parallel channels are
//! separate edges. The two directions of a channel are one another's residual edge: pushing `f` over
//! `u → v` leaves `c(u → v) − f` forward and `c(v → u) + f` backward, which is the residual graph of the two
//! separate directed edges `u → v` and `v → u` (cancelling opposite flows never helps), with half the arcs.
//!
//! ## The algorithm
//!
//! [`FlowGraph`] is built once per graph: a CSR adjacency over the directed channel halves that can carry
//! anything, with each half's `max_htlc` clip. [`FlowGraph::max_flow_up_to`] runs Dinic's algorithm (BFS level
//! graph, then an iterative blocking-flow DFS with current-arc pointers) and stops as soon as the flow reaches
//! the limit. A phase's BFS stops as soon as it reaches the target. Nothing is allocated per call: residual
//! capacities, levels and arc pointers live in reusable buffers stamped with a call or phase number, so an
//! entry is (re)initialised only when first touched, from `balance` and the clip, and a call costs what it
//! explores rather than the size of the graph.
//!
//! ## The published ceiling, and how pairs are drawn
//!
//! The figures quoted for the ceiling ("Feb 2024 snapshot, 16,555 nodes, 58,093 edges, uniform balances: 1k sat
//! 88.06 %, 10k 77.62 %, 100k 40.85 %, 1M 12.29 %", stacker.news item 412708) come from a third party running
//! Pickhardt's notebook "An upper Bound for the Probability to be able to successfully conduct a Payment on the
//! Lightning Network" (renepickhardt/Lightning-Network-Limitations, `likelihood-of-payment-possability/`,
//! January 2024; the notebook's own run on an April 2022 snapshot reports 97.14 / 84.94 / 33.87 / 11.78 %).
//! What that notebook does, read from its code:
//!
//! * the graph is Core Lightning `listchannels` output; capacities of parallel channels between a node pair are
//!   summed into one edge;
//! * `active`/disabled flags and `htlc_maximum_msat` are not read at all: every listed channel carries its whole
//!   balance in both directions (a channel is kept when the lesser node id announced a direction);
//! * each sample draws a fresh uniform integer balance per (merged) channel, `randint(0, capacity)` sat, one
//!   side and the rest to the other;
//! * the pair is `random.sample(G.nodes(), 2)`: an ordered pair of distinct nodes, uniform over every node with
//!   at least one channel in that graph. No restriction to the largest component, to nodes with enabled
//!   channels, or to reachable pairs;
//! * a sample is the networkx max-flow value; the share for amount `a` is the share of samples above it (10,000
//!   samples; "58,093 edges" is the number of connected node pairs, parallel channels merged).
//!
//! [`feasibility_study`] draws pairs the same way ([`PairPool::WithChannel`]: uniform, distinct, ordered, over
//! every node with a channel) but keeps this module's edge model ([`EdgeRules::ROUTABLE`]: enabled policies
//! only, clipped to `max_htlc`). [`feasibility_study_with`] runs the other pools and edge rules, including the
//! notebook's ([`EdgeRules::BALANCES_ONLY`]). Differences that remain against the notebook: parallel channels
//! get independent balance draws instead of one draw on their summed capacity, balances are msat, and one
//! balance draw serves all `pairs` pairs of a seed (same expected share; pairs of one seed are correlated, see
//! [`FeasibilityRow::seed_shares`]).
//!
//! The edge rules matter far more than the pair draw on the shipped CLN snapshots, whose policies are `null`
//! for disabled halves and halves without an update: only 7,316 of 18,212 nodes (2024-09-22) and 6,976 of
//! 17,324 (2026-02-03) have an enabled direction at all, so under [`EdgeRules::ROUTABLE`] at most ~16 % of
//! uniform pairs can pay anything (measured: 14 % at 1k sat). Under the notebook's rules the 2024-09-22
//! snapshot gives 84 / 74 / 37 / 10 % at 1k / 10k / 100k / 1M sat, within 4 points of the published figures;
//! routable directions between nodes of the largest usable component give 89 / 85 / 64 / 29 %.

use dmc_core::Sat;
use dmc_graph::{Channel, Graph};

use crate::network::{BalanceModel, Network};
use crate::rng::Rng;

/// When a channel direction carries liquidity at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Only a direction whose own policy is announced and enabled (what pathfinding can use).
    Direction,
    /// Both directions of a channel with at least one enabled policy (the channel is alive; a missing or
    /// disabled half still moves its balance).
    Channel,
    /// Every direction of every channel, policies ignored (Pickhardt's notebook).
    Ignored,
}

/// Which directions carry liquidity, and how much of their balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeRules {
    /// Which channel directions count as carrying liquidity at all.
    pub liveness: Liveness,
    /// Clip a direction's balance to its policy's `max_htlc_msat` (where it announces one).
    pub clip_to_htlc_max: bool,
}

impl EdgeRules {
    /// Enabled directions only, each clipped to its `max_htlc`: what [`FlowGraph::new`] uses.
    pub const ROUTABLE: EdgeRules = EdgeRules {
        liveness: Liveness::Direction,
        clip_to_htlc_max: true,
    };
    /// Every channel carries its balances both ways, no clip: the model of Pickhardt's notebook.
    pub const BALANCES_ONLY: EdgeRules = EdgeRules {
        liveness: Liveness::Ignored,
        clip_to_htlc_max: false,
    };

    /// The most direction `dir` of `ch` may carry whatever its balance (msat); 0 when it carries nothing.
    fn clip(&self, ch: &Channel, dir: usize) -> u64 {
        let enabled = |d: usize| ch.policies[d].is_some_and(|p| !p.disabled);
        let live = match self.liveness {
            Liveness::Direction => enabled(dir),
            Liveness::Channel => enabled(0) || enabled(1),
            Liveness::Ignored => true,
        };
        match ch.policies[dir] {
            _ if !live => 0,
            Some(p) if self.clip_to_htlc_max => p.max_htlc_msat.map_or(u64::MAX, |m| m.0),
            _ => u64::MAX,
        }
    }
}

impl Default for EdgeRules {
    fn default() -> Self {
        EdgeRules::ROUTABLE
    }
}

/// One directed channel half, stored with the arcs leaving its sending node.
#[derive(Clone, Copy, Debug)]
struct Arc {
    /// Receiving node.
    head: u32,
    /// The channel's other direction, this arc's residual.
    rev: u32,
    /// `2 * channel index + direction`.
    half: u32,
    /// Most this half may carry (msat), 0 when it carries nothing.
    clip: u64,
}

/// An arc's residual capacity, valid when `stamp` is the current call's.
#[derive(Clone, Copy, Debug, Default)]
struct Residual {
    stamp: u32,
    cap: u64,
}

/// Max-flow over a channel graph's directed halves, with buffers reused across calls.
///
/// Per-direction capacity: `min(balance, htlc_max)` where the direction has an enabled policy, else 0; fees
/// ignored (see the [module documentation](self) for the model and [`EdgeRules`] for variants). Build once per
/// graph and call [`FlowGraph::max_flow_up_to`] as often as needed, with any balances.
#[derive(Clone, Debug)]
pub struct FlowGraph {
    /// Arcs leaving node `v` are `arcs[first[v]..first[v + 1]]`.
    first: Vec<u32>,
    arcs: Vec<Arc>,
    /// Residual capacities, per arc, stamped with `call`.
    residual: Vec<Residual>,
    call: u32,
    /// BFS level per node, valid when `seen[v] == phase`.
    level: Vec<u32>,
    seen: Vec<u32>,
    phase: u32,
    /// Next arc to try per node in the current phase's DFS.
    cur: Vec<u32>,
    queue: Vec<u32>,
    /// Arcs of the DFS path from the source.
    path: Vec<u32>,
}

impl FlowGraph {
    /// The flow network of `graph` under [`EdgeRules::ROUTABLE`].
    pub fn new(graph: &Graph) -> Self {
        Self::with_rules(graph, EdgeRules::ROUTABLE)
    }

    /// The flow network of `graph` under `rules`. Channels that carry nothing in either direction get no arcs.
    pub fn with_rules(graph: &Graph, rules: EdgeRules) -> Self {
        let n = graph.node_count();
        let clips: Vec<[u64; 2]> = graph
            .channels()
            .iter()
            .map(|ch| [rules.clip(ch, 0), rules.clip(ch, 1)])
            .collect();
        let live = |ci: usize| clips[ci] != [0, 0];
        let mut first = vec![0u32; n + 1];
        for (ci, ch) in graph.channels().iter().enumerate() {
            if live(ci) {
                first[ch.node1 as usize + 1] += 1;
                first[ch.node2 as usize + 1] += 1;
            }
        }
        for v in 0..n {
            first[v + 1] += first[v];
        }
        let arc_count = first[n] as usize;
        assert!(
            arc_count < u32::MAX as usize,
            "too many channel halves for u32 arc indices"
        );
        let mut next = first.clone();
        let placeholder = Arc {
            head: 0,
            rev: 0,
            half: 0,
            clip: 0,
        };
        let mut arcs = vec![placeholder; arc_count];
        for (ci, ch) in graph.channels().iter().enumerate() {
            if !live(ci) {
                continue;
            }
            let (a, b) = (next[ch.node1 as usize], next[ch.node2 as usize]);
            next[ch.node1 as usize] += 1;
            next[ch.node2 as usize] += 1;
            let half = 2 * ci as u32;
            arcs[a as usize] = Arc {
                head: ch.node2,
                rev: b,
                half,
                clip: clips[ci][0],
            };
            arcs[b as usize] = Arc {
                head: ch.node1,
                rev: a,
                half: half + 1,
                clip: clips[ci][1],
            };
        }
        FlowGraph {
            first,
            residual: vec![Residual::default(); arc_count],
            arcs,
            call: 0,
            level: vec![0; n],
            seen: vec![0; n],
            phase: 0,
            cur: vec![0; n],
            queue: Vec::new(),
            path: Vec::new(),
        }
    }

    /// Nodes of the graph this was built from.
    pub fn node_count(&self) -> usize {
        self.level.len()
    }

    /// Directed halves that can carry liquidity (both halves of every channel with at least one).
    pub fn arc_count(&self) -> usize {
        self.arcs.len()
    }

    /// `min(max-flow from source to target, limit)` with capacities given by `balance(ci, dir)` (msat)
    /// clipped to the direction's htlc_max; directions without an enabled policy carry nothing.
    ///
    /// Capacities, the limit and the flow are bare `u64` msat, not
    /// [`dmc_core::Msat`]: Dinic's inner loop adds and subtracts residuals
    /// that never exceed the total balance, and callers convert at its edge.
    ///
    /// `ci` indexes [`Graph::channels`], `dir` 0 is node1 → node2. `source == target`, nodes outside the graph
    /// and `limit_msat == 0` give 0.
    pub fn max_flow_up_to(
        &mut self,
        source: u32,
        target: u32,
        limit_msat: u64,
        balance: &dyn Fn(u32, usize) -> u64,
    ) -> u64 {
        let n = self.node_count() as u32;
        if source == target || source >= n || target >= n || limit_msat == 0 {
            return 0;
        }
        self.call = self.call.wrapping_add(1);
        if self.call == 0 {
            self.residual.fill(Residual::default());
            self.call = 1;
        }
        let mut flow = 0;
        while flow < limit_msat && self.bfs(source, target, balance) {
            flow += self.blocking_flow(source, target, limit_msat - flow, balance);
        }
        flow
    }

    /// Makes arc `a`'s and its reverse's residual capacities current (both at once: flow moves between them).
    #[inline]
    fn touch(&mut self, a: usize, balance: &dyn Fn(u32, usize) -> u64) {
        if self.residual[a].stamp == self.call {
            return;
        }
        let r = self.arcs[a].rev as usize;
        for i in [a, r] {
            let arc = self.arcs[i];
            let cap = if arc.clip == 0 {
                0
            } else {
                balance(arc.half / 2, (arc.half % 2) as usize).min(arc.clip)
            };
            self.residual[i] = Residual { stamp: self.call, cap };
        }
    }

    /// Levels from `s` in the residual graph, up to `t`'s; false when `t` is unreachable.
    fn bfs(&mut self, s: u32, t: u32, balance: &dyn Fn(u32, usize) -> u64) -> bool {
        self.phase = self.phase.wrapping_add(1);
        if self.phase == 0 {
            self.seen.fill(0);
            self.phase = 1;
        }
        let phase = self.phase;
        self.seen[s as usize] = phase;
        self.level[s as usize] = 0;
        self.cur[s as usize] = self.first[s as usize];
        self.queue.clear();
        self.queue.push(s);
        let mut next = 0;
        while let Some(&v) = self.queue.get(next) {
            next += 1;
            let lv = self.level[v as usize] + 1;
            for a in self.first[v as usize] as usize..self.first[v as usize + 1] as usize {
                let w = self.arcs[a].head as usize;
                if self.seen[w] == phase {
                    continue;
                }
                self.touch(a, balance);
                if self.residual[a].cap == 0 {
                    continue;
                }
                self.seen[w] = phase;
                self.level[w] = lv;
                self.cur[w] = self.first[w];
                if w == t as usize {
                    // Every node nearer than t is already levelled; the DFS needs no others.
                    return true;
                }
                self.queue.push(w as u32);
            }
        }
        false
    }

    /// Pushes up to `want` along shortest residual paths of the current level graph; returns the amount pushed.
    fn blocking_flow(&mut self, s: u32, t: u32, want: u64, balance: &dyn Fn(u32, usize) -> u64) -> u64 {
        let phase = self.phase;
        let lt = self.level[t as usize];
        let mut pushed = 0;
        let mut v = s;
        self.path.clear();
        loop {
            if v == t {
                let mut b = want - pushed;
                for &a in &self.path {
                    b = b.min(self.residual[a as usize].cap);
                }
                for &a in &self.path {
                    let r = self.arcs[a as usize].rev as usize;
                    self.residual[a as usize].cap -= b;
                    self.residual[r].cap = self.residual[r].cap.saturating_add(b);
                }
                pushed += b;
                if pushed == want {
                    return pushed;
                }
                // Back to the tail of the first arc this saturated (there is one: b was a bottleneck).
                let k = self
                    .path
                    .iter()
                    .position(|&a| self.residual[a as usize].cap == 0)
                    .unwrap_or(0);
                self.path.truncate(k);
                v = self.path.last().map_or(s, |&a| self.arcs[a as usize].head);
                continue;
            }
            let vi = v as usize;
            let want_level = self.level[vi] + 1;
            let end = self.first[vi + 1];
            let mut advanced = false;
            while self.cur[vi] < end {
                let a = self.cur[vi] as usize;
                let w = self.arcs[a].head;
                let wi = w as usize;
                if self.seen[wi] == phase && self.level[wi] == want_level && (w == t || want_level < lt) {
                    self.touch(a, balance);
                    if self.residual[a].cap > 0 {
                        self.path.push(a as u32);
                        v = w;
                        advanced = true;
                        break;
                    }
                }
                self.cur[vi] += 1;
            }
            if !advanced {
                if v == s {
                    return pushed;
                }
                // Dead end: drop v from this phase's level graph and step back.
                self.seen[vi] = 0;
                self.path.pop();
                v = self.path.last().map_or(s, |&a| self.arcs[a as usize].head);
                self.cur[v as usize] += 1;
            }
        }
    }
}

/// Which nodes random pairs are drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairPool {
    /// Every node of the graph.
    AllNodes,
    /// Every node with at least one channel, usable or not: the notebook's `G.nodes()`.
    WithChannel,
    /// Every node with at least one channel direction, in or out, that carries liquidity under the rules.
    WithUsableChannel,
    /// The largest connected component of the channels that carry liquidity under the rules (directions
    /// ignored; the lowest node index wins a tie).
    LargestComponent,
}

impl PairPool {
    /// A human-readable name of the pool, for report titles.
    pub fn name(&self) -> &'static str {
        match self {
            PairPool::AllNodes => "all nodes",
            PairPool::WithChannel => "nodes with a channel",
            PairPool::WithUsableChannel => "nodes with a usable channel",
            PairPool::LargestComponent => "largest usable component",
        }
    }

    /// The pool's node indices, ascending.
    pub fn nodes(&self, graph: &Graph, rules: EdgeRules) -> Vec<u32> {
        let n = graph.node_count();
        let usable = |ch: &Channel| rules.clip(ch, 0) > 0 || rules.clip(ch, 1) > 0;
        let mut member = vec![false; n];
        match self {
            PairPool::AllNodes => member.fill(true),
            PairPool::WithChannel | PairPool::WithUsableChannel => {
                for ch in graph.channels() {
                    if *self == PairPool::WithChannel || usable(ch) {
                        member[ch.node1 as usize] = true;
                        member[ch.node2 as usize] = true;
                    }
                }
            }
            PairPool::LargestComponent => {
                let mut parent: Vec<u32> = (0..n as u32).collect();
                fn find(parent: &mut [u32], mut v: u32) -> u32 {
                    while parent[v as usize] != v {
                        parent[v as usize] = parent[parent[v as usize] as usize];
                        v = parent[v as usize];
                    }
                    v
                }
                for ch in graph.channels().iter().filter(|ch| usable(ch)) {
                    let (a, b) = (find(&mut parent, ch.node1), find(&mut parent, ch.node2));
                    if a != b {
                        parent[a.max(b) as usize] = a.min(b);
                    }
                }
                let mut size = vec![0usize; n];
                let roots: Vec<u32> = (0..n as u32).map(|v| find(&mut parent, v)).collect();
                for &r in &roots {
                    size[r as usize] += 1;
                }
                // max_by_key keeps the last maximum; iterate in reverse so the lowest index wins.
                if let Some(best) = (0..n).rev().max_by_key(|&r| size[r]) {
                    for (v, &r) in roots.iter().enumerate() {
                        member[v] = r as usize == best && size[best] > 1;
                    }
                }
            }
        }
        (0..n as u32).filter(|&v| member[v as usize]).collect()
    }
}

/// A feasibility study: for each seed one uniform balance draw and `pairs` random pairs, each checked at every
/// amount.
#[derive(Clone, Debug, PartialEq)]
pub struct FeasibilityStudy {
    /// Payment amounts to check each pair at, in sat.
    pub amounts_sat: Vec<u64>,
    /// Pairs per seed.
    pub pairs: usize,
    /// One balance draw ([`BalanceModel::Uniform`]) and one pair sequence per seed.
    pub seeds: Vec<u64>,
}

/// How pairs are drawn and which directions carry liquidity in [`feasibility_study_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeasibilityOptions {
    /// The nodes both ends of a pair are drawn from.
    pub pool: PairPool,
    /// Which directions carry liquidity and how much of their balance.
    pub rules: EdgeRules,
}

impl Default for FeasibilityOptions {
    /// The published method's pairs ([`PairPool::WithChannel`]) on routable directions ([`EdgeRules::ROUTABLE`]).
    fn default() -> Self {
        FeasibilityOptions {
            pool: PairPool::WithChannel,
            rules: EdgeRules::ROUTABLE,
        }
    }
}

/// The share of random pairs for which a payment of `amount_sat` is feasible.
#[derive(Clone, Debug, PartialEq)]
pub struct FeasibilityRow {
    /// The payment amount of this row, in sat.
    pub amount_sat: u64,
    /// Feasible pairs over all pairs, pooled across seeds.
    pub share: f64,
    /// Wilson score 95 % interval of `share`, treating pooled pairs as independent.
    pub ci95: (f64, f64),
    /// Pairs pooled across seeds.
    pub pairs: usize,
    /// The share on each seed's balance draw alone, in seed order: their spread shows how much one draw moves
    /// the result beyond the binomial noise the interval assumes.
    pub seed_shares: Vec<f64>,
}

/// The feasibility ceiling with uniform balances: [`feasibility_study_with`] under the default options (pairs as
/// the published figure draws them, routable directions clipped to `max_htlc`).
pub fn feasibility_study(graph: &Graph, study: &FeasibilityStudy) -> Vec<FeasibilityRow> {
    feasibility_study_with(graph, study, &FeasibilityOptions::default())
}

/// For each seed: balances from `Network::new(graph, BalanceModel::Uniform, seed)`, `study.pairs` ordered pairs
/// of distinct nodes drawn uniformly from `options.pool` (their own stream of the seed), and one max-flow per
/// pair up to the largest amount, compared with each amount. Seeds run on parallel threads; the result depends
/// only on the arguments.
pub fn feasibility_study_with(
    graph: &Graph,
    study: &FeasibilityStudy,
    options: &FeasibilityOptions,
) -> Vec<FeasibilityRow> {
    let amounts_msat: Vec<u64> = study
        .amounts_sat
        .iter()
        .map(|a| Sat(*a).to_msat_saturating().0)
        .collect();
    let limit = amounts_msat.iter().copied().max().unwrap_or(0);
    let pool = options.pool.nodes(graph, options.rules);
    let flow = FlowGraph::with_rules(graph, options.rules);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(study.seeds.len())
        .max(1);
    let mut per_seed: Vec<Vec<usize>> = vec![Vec::new(); study.seeds.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let (pool, amounts_msat, mut flow) = (&pool, &amounts_msat, flow.clone());
                scope.spawn(move || {
                    (w..study.seeds.len())
                        .step_by(workers)
                        .map(|i| {
                            let net = Network::new(graph.clone(), BalanceModel::Uniform, study.seeds[i]);
                            let counts =
                                seed_counts(&net, &mut flow, pool, study.seeds[i], study.pairs, amounts_msat, limit);
                            (i, counts)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, counts) in h.join().expect("feasibility worker panicked") {
                per_seed[i] = counts;
            }
        }
    });
    let drawn = if pool.len() < 2 { 0 } else { study.pairs };
    study
        .amounts_sat
        .iter()
        .enumerate()
        .map(|(k, &amount_sat)| {
            let feasible: usize = per_seed.iter().map(|c| c[k]).sum();
            let pairs = drawn * study.seeds.len();
            let share = if pairs == 0 {
                0.0
            } else {
                feasible as f64 / pairs as f64
            };
            FeasibilityRow {
                amount_sat,
                share,
                ci95: wilson95(feasible, pairs),
                pairs,
                seed_shares: per_seed
                    .iter()
                    .map(|c| if drawn == 0 { 0.0 } else { c[k] as f64 / drawn as f64 })
                    .collect(),
            }
        })
        .collect()
}

/// Keeps the pair stream apart from the balance stream of the same seed.
const PAIR_STREAM: u64 = 0x5041_4952_5321_0001;

/// Feasible pairs per amount on one balance draw.
fn seed_counts(
    net: &Network,
    flow: &mut FlowGraph,
    pool: &[u32],
    seed: u64,
    pairs: usize,
    amounts_msat: &[u64],
    limit: u64,
) -> Vec<usize> {
    let mut counts = vec![0; amounts_msat.len()];
    if pool.len() < 2 {
        return counts;
    }
    let mut rng = Rng::new(seed ^ PAIR_STREAM);
    let balance = |ci: u32, dir: usize| net.spendable(ci, dir).0;
    for _ in 0..pairs {
        let (s, t) = random_pair(&mut rng, pool);
        let f = flow.max_flow_up_to(s, t, limit, &balance);
        for (c, &a) in counts.iter_mut().zip(amounts_msat) {
            *c += usize::from(f >= a);
        }
    }
    counts
}

/// An ordered pair of distinct pool members, uniform (as Python's `random.sample(pool, 2)`).
pub fn random_pair(rng: &mut Rng, pool: &[u32]) -> (u32, u32) {
    let n = pool.len() as u64;
    let i = rng.below(n);
    let mut j = rng.below(n - 1);
    if j >= i {
        j += 1;
    }
    (pool[i as usize], pool[j as usize])
}

/// Wilson score 95 % interval for `k` successes in `n` trials; `(0, 1)` when `n == 0`.
pub fn wilson95(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054;
    let (n, p) = (n as f64, k as f64 / n as f64);
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test node's public key.
    fn key(i: usize) -> String {
        format!("02{i:064x}")
    }

    /// A policy's JSON: `None` is `null`, `Some((max_htlc_msat, disabled))` an announced one.
    fn policy_json(p: Option<(Option<u64>, bool)>) -> String {
        match p {
            None => "null".into(),
            Some((max, disabled)) => {
                let max = max.map_or(String::new(), |m| format!(r#","max_htlc_msat":"{m}""#));
                format!(
                    r#"{{"time_lock_delta":40,"min_htlc":"0","fee_base_msat":"0","fee_rate_milli_msat":"0","disabled":{disabled}{max}}}"#
                )
            }
        }
    }

    type Pol = Option<(Option<u64>, bool)>;
    const OPEN: Pol = Some((None, false));
    const DISABLED: Pol = Some((None, true));

    /// `n` nodes (indices 0..n in order) and channels `(node1, node2, capacity_sat, node1 policy, node2 policy)`,
    /// through `Graph::parse_describegraph` like a real file.
    fn graph(n: usize, chans: &[(usize, usize, u64, Pol, Pol)]) -> Graph {
        let nodes: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"pub_key":"{}","alias":"n{i}"}}"#, key(i)))
            .collect();
        let edges: Vec<String> = chans
            .iter()
            .enumerate()
            .map(|(id, &(a, b, cap, p1, p2))| {
                format!(
                    r#"{{"channel_id":"{id}","node1_pub":"{}","node2_pub":"{}","capacity":"{cap}","node1_policy":{},"node2_policy":{}}}"#,
                    key(a),
                    key(b),
                    policy_json(p1),
                    policy_json(p2)
                )
            })
            .collect();
        let g = Graph::parse_describegraph(&format!(
            r#"{{"nodes":[{}],"edges":[{}]}}"#,
            nodes.join(","),
            edges.join(",")
        ))
        .unwrap();
        assert_eq!(g.node_count(), n);
        g
    }

    /// Balances `[node1 → node2, node2 → node1]` per channel, as a `balance` function.
    fn balances(b: &[[u64; 2]]) -> impl Fn(u32, usize) -> u64 + '_ {
        move |ci, dir| b[ci as usize][dir]
    }

    fn all_open(chans: &[(usize, usize)]) -> Vec<(usize, usize, u64, Pol, Pol)> {
        chans.iter().map(|&(a, b)| (a, b, 1_000_000, OPEN, OPEN)).collect()
    }

    #[test]
    fn path_bottleneck_and_both_directions() {
        // 0 - 1 - 2.
        let g = graph(3, &all_open(&[(0, 1), (1, 2)]));
        let mut f = FlowGraph::new(&g);
        let b = [[5_000, 100], [3_000, 7_000]];
        let bal = balances(&b);
        assert_eq!(f.max_flow_up_to(0, 2, u64::MAX, &bal), 3_000);
        // The reverse direction has its own balances; the previous call's flow is forgotten.
        assert_eq!(f.max_flow_up_to(2, 0, u64::MAX, &bal), 100);
        assert_eq!(f.max_flow_up_to(1, 0, u64::MAX, &bal), 100);
        assert_eq!(f.max_flow_up_to(0, 2, u64::MAX, &bal), 3_000);
    }

    #[test]
    fn needs_a_cancelling_residual_path() {
        // Nodes: s=0, a=1, b=2, t=3, x=4, z=5, y=6, w=7.
        // Shortest path s-a-b-t (3 hops) is found first; the second unit needs s-y-w-b, then b→a against that
        // flow (the a→b channel's own b→a side holds nothing), then a-x-z-t.
        let chans = all_open(&[(0, 1), (1, 2), (2, 3), (1, 4), (4, 5), (3, 5), (0, 6), (6, 7), (2, 7)]);
        let g = graph(8, &chans);
        let mut f = FlowGraph::new(&g);
        // One unit along each hop named above; z → t and w → b are their channels' node2 → node1 sides.
        let mut b = [[1, 0]; 9];
        b[5] = [0, 1];
        b[8] = [0, 1];
        assert_eq!(f.max_flow_up_to(0, 3, u64::MAX, &balances(&b)), 2);
        // Without the detour through y and w only one unit fits.
        let mut b2 = b;
        b2[6] = [0, 0];
        assert_eq!(f.max_flow_up_to(0, 3, u64::MAX, &balances(&b2)), 1);
    }

    #[test]
    fn htlc_max_clips_each_direction() {
        let chans = [
            (
                0,
                1,
                10_000,
                Some((Some(1_000_000), false)),
                Some((Some(2_000_000), false)),
            ),
            (1, 2, 10_000, Some((None, false)), OPEN),
        ];
        let g = graph(3, &chans);
        let b = [[5_000_000, 5_000_000], [9_000_000, 9_000_000]];
        let mut f = FlowGraph::new(&g);
        assert_eq!(f.max_flow_up_to(0, 2, u64::MAX, &balances(&b)), 1_000_000);
        assert_eq!(f.max_flow_up_to(2, 0, u64::MAX, &balances(&b)), 2_000_000);
        // The notebook's rules ignore max_htlc.
        let mut f = FlowGraph::with_rules(&g, EdgeRules::BALANCES_ONLY);
        assert_eq!(f.max_flow_up_to(0, 2, u64::MAX, &balances(&b)), 5_000_000);
    }

    #[test]
    fn disabled_and_missing_policies_carry_nothing() {
        // 0 → 1 disabled, 1 → 0 enabled; 1 - 2 has only node2's policy.
        let chans = [(0, 1, 10, DISABLED, OPEN), (1, 2, 10, None, OPEN)];
        let g = graph(3, &chans);
        let b = [[4_000, 6_000], [3_000, 7_000]];
        let bal = balances(&b);
        let mut f = FlowGraph::new(&g);
        assert_eq!(f.max_flow_up_to(0, 1, u64::MAX, &bal), 0);
        assert_eq!(f.max_flow_up_to(1, 0, u64::MAX, &bal), 6_000);
        assert_eq!(f.max_flow_up_to(1, 2, u64::MAX, &bal), 0);
        assert_eq!(f.max_flow_up_to(2, 0, u64::MAX, &bal), 6_000);
        // A channel alive on one side moves both balances under Liveness::Channel ...
        let channel = EdgeRules {
            liveness: Liveness::Channel,
            clip_to_htlc_max: true,
        };
        let mut f = FlowGraph::with_rules(&g, channel);
        assert_eq!(f.max_flow_up_to(0, 2, u64::MAX, &bal), 3_000);
        // ... and a dead channel nothing, unless policies are ignored.
        let g = graph(2, &[(0, 1, 10, None, DISABLED)]);
        assert_eq!(FlowGraph::with_rules(&g, channel).arc_count(), 0);
        let mut f = FlowGraph::with_rules(&g, EdgeRules::BALANCES_ONLY);
        assert_eq!(f.max_flow_up_to(1, 0, u64::MAX, &balances(&[[1, 2]])), 2);
    }

    #[test]
    fn parallel_channels_add_up() {
        let chans = [
            (0, 1, 10, OPEN, OPEN),
            (0, 1, 10, Some((Some(500), false)), OPEN),
            (0, 1, 10, DISABLED, OPEN),
            (1, 2, 10, OPEN, OPEN),
        ];
        let g = graph(3, &chans);
        let b = [[1_000, 0], [2_000, 0], [4_000, 0], [100_000, 0]];
        let mut f = FlowGraph::new(&g);
        assert_eq!(f.max_flow_up_to(0, 2, u64::MAX, &balances(&b)), 1_500);
    }

    #[test]
    fn stops_at_the_limit() {
        // Two disjoint paths of 700 each: any limit below 1400 is reached exactly.
        let g = graph(4, &all_open(&[(0, 1), (1, 3), (0, 2), (2, 3)]));
        let b = [[700, 0]; 4];
        let mut f = FlowGraph::new(&g);
        for limit in [1, 699, 700, 701, 1_399, 1_400] {
            assert_eq!(f.max_flow_up_to(0, 3, limit, &balances(&b)), limit);
        }
        assert_eq!(f.max_flow_up_to(0, 3, 1_401, &balances(&b)), 1_400);
        assert_eq!(f.max_flow_up_to(0, 3, 0, &balances(&b)), 0);
        // Stopping early consults fewer balances than the full max-flow.
        let calls = std::cell::Cell::new(0);
        let counted = |ci: u32, dir: usize| {
            calls.set(calls.get() + 1);
            b[ci as usize][dir]
        };
        f.max_flow_up_to(0, 3, 100, &counted);
        let early = calls.replace(0);
        f.max_flow_up_to(0, 3, u64::MAX, &counted);
        assert!(early < calls.get(), "{early} vs {}", calls.get());
    }

    #[test]
    fn degenerate_queries_give_zero() {
        let g = graph(3, &all_open(&[(0, 1)]));
        let b = [[1_000, 1_000]];
        let mut f = FlowGraph::new(&g);
        assert_eq!(f.max_flow_up_to(0, 0, 10, &balances(&b)), 0);
        assert_eq!(f.max_flow_up_to(0, 3, 10, &balances(&b)), 0);
        assert_eq!(f.max_flow_up_to(u32::MAX, 1, 10, &balances(&b)), 0);
        // Node 2 has no channel.
        assert_eq!(f.max_flow_up_to(0, 2, 10, &balances(&b)), 0);
        assert_eq!(f.max_flow_up_to(2, 0, 10, &balances(&b)), 0);
        let empty = Graph::default();
        assert_eq!(FlowGraph::new(&empty).max_flow_up_to(0, 1, 10, &|_, _| 0), 0);
    }

    /// Min s–t cut by enumerating every node set containing s and not t, on per-direction capacities.
    fn min_cut(n: usize, caps: &[(usize, usize, u64)], s: usize, t: usize) -> u64 {
        (0u32..1 << n)
            .filter(|set| set & (1 << s) != 0 && set & (1 << t) == 0)
            .map(|set| {
                caps.iter()
                    .filter(|&&(u, v, _)| set & (1 << u) != 0 && set & (1 << v) == 0)
                    .map(|&(_, _, c)| c)
                    .sum()
            })
            .min()
            .unwrap()
    }

    #[test]
    fn matches_min_cut_enumeration_on_random_graphs() {
        let mut rng = Rng::new(0xf10e);
        let mut checked = 0;
        for _ in 0..400 {
            let n = 2 + rng.below(6) as usize;
            let m = rng.below(14) as usize;
            let pol = |rng: &mut Rng| -> Pol {
                match rng.below(6) {
                    0 => None,
                    1 => DISABLED,
                    2 => Some((Some(1 + rng.below(60)), false)),
                    _ => OPEN,
                }
            };
            let chans: Vec<_> = (0..m)
                .map(|_| {
                    let a = rng.below(n as u64) as usize;
                    let b = (a + 1 + rng.below(n as u64 - 1) as usize) % n;
                    (a.min(b), a.max(b), 1, pol(&mut rng), pol(&mut rng))
                })
                .collect();
            let g = graph(n, &chans);
            let mut f = FlowGraph::new(&g);
            // One FlowGraph, several balance draws and pairs: stale residuals would show.
            for _ in 0..5 {
                let b: Vec<[u64; 2]> = (0..m).map(|_| [rng.below(100), rng.below(100)]).collect();
                let mut caps = Vec::new();
                for (ch, bal) in g.channels().iter().zip(&b) {
                    let ends = [(ch.node1, ch.node2), (ch.node2, ch.node1)];
                    for ((policy, &balance), (u, v)) in ch.policies.iter().zip(bal).zip(ends) {
                        if let Some(p) = policy.filter(|p| !p.disabled) {
                            let c = balance.min(p.max_htlc_msat.map_or(u64::MAX, |m| m.0));
                            caps.push((u as usize, v as usize, c));
                        }
                    }
                }
                for _ in 0..4 {
                    let s = rng.below(n as u64) as usize;
                    let t = (s + 1 + rng.below(n as u64 - 1) as usize) % n;
                    let want = min_cut(n, &caps, s, t);
                    let bal = balances(&b);
                    assert_eq!(
                        f.max_flow_up_to(s as u32, t as u32, u64::MAX, &bal),
                        want,
                        "{chans:?} {b:?} {s}->{t}"
                    );
                    let limit = rng.below(want + 2);
                    assert_eq!(f.max_flow_up_to(s as u32, t as u32, limit, &bal), want.min(limit));
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 8_000);
    }

    #[test]
    fn pools() {
        // 0 - 1 usable, 2 - 3 usable, 3 - 4 dead, 5 alone.
        let chans = [
            (0, 1, 10, OPEN, None),
            (2, 3, 10, OPEN, OPEN),
            (3, 4, 10, None, DISABLED),
        ];
        let g = graph(6, &chans);
        let r = EdgeRules::ROUTABLE;
        assert_eq!(PairPool::AllNodes.nodes(&g, r), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(PairPool::WithChannel.nodes(&g, r), vec![0, 1, 2, 3, 4]);
        assert_eq!(PairPool::WithUsableChannel.nodes(&g, r), vec![0, 1, 2, 3]);
        assert_eq!(PairPool::LargestComponent.nodes(&g, r), vec![0, 1]);
        assert_eq!(
            PairPool::LargestComponent.nodes(&g, EdgeRules::BALANCES_ONLY),
            vec![2, 3, 4]
        );
    }

    #[test]
    fn random_pairs_are_distinct_and_uniform() {
        let mut rng = Rng::new(3);
        let pool = [10, 20, 30];
        let mut seen = std::collections::HashMap::new();
        for _ in 0..60_000 {
            let (s, t) = random_pair(&mut rng, &pool);
            assert_ne!(s, t);
            *seen.entry((s, t)).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), 6);
        assert!(seen.values().all(|&c| (9_000..11_000).contains(&c)), "{seen:?}");
    }

    #[test]
    fn wilson_interval() {
        let (lo, hi) = wilson95(50, 100);
        assert!((lo - 0.4038).abs() < 1e-3 && (hi - 0.5962).abs() < 1e-3, "{lo} {hi}");
        assert_eq!(wilson95(0, 0), (0.0, 1.0));
        let (lo, hi) = wilson95(0, 10);
        assert!(lo == 0.0 && hi > 0.2 && hi < 0.35);
    }

    #[test]
    fn study_on_a_small_graph() {
        // A ring of 6 nodes with big channels: 1 sat is feasible for nearly every pair, 10 BTC for none.
        let chans: Vec<_> = (0..6)
            .map(|i| (i.min((i + 1) % 6), i.max((i + 1) % 6), 1_000_000, OPEN, OPEN))
            .collect();
        let g = graph(6, &chans);
        let study = FeasibilityStudy {
            amounts_sat: vec![1, 1_000_000_000],
            pairs: 200,
            seeds: vec![1, 2, 3],
        };
        let rows = feasibility_study(&g, &study);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].pairs, 600);
        assert!(rows[0].share > 0.99, "{rows:?}");
        assert_eq!(rows[1].share, 0.0);
        assert!(rows[0].ci95.0 <= rows[0].share && rows[0].share <= rows[0].ci95.1);
        assert_eq!(rows[0].seed_shares.len(), 3);
        assert_eq!(feasibility_study(&g, &study), rows, "deterministic");
        // Too few nodes in the pool: no pairs, no panic.
        let opts = FeasibilityOptions {
            pool: PairPool::LargestComponent,
            rules: EdgeRules::ROUTABLE,
        };
        let lone = graph(2, &[(0, 1, 10, None, None)]);
        assert_eq!(feasibility_study_with(&lone, &study, &opts)[0].pairs, 0);
    }
}
