//! LND's pathfinding (`routing/pathfind.go`, spec §4.5 and §5).
//!
//! The search runs **backwards** from the target, so the amount each edge
//! must carry (payment plus downstream fees) is known when the edge is
//! weighed. A partial path's distance is
//! `weight + attempt_cost / probability`, where `weight` sums fees and a
//! time-lock penalty (`amount × cltv_delta × 15 / 10⁹`) and `probability`
//! multiplies the hop probabilities that mission control gives. So a
//! cheaper route wins only if it is not much less likely to succeed.
//! Partial paths below `min_probability` are pruned.
//!
//! Parallel channels between two nodes are unified as LND does: for a
//! network pair, the highest-fee policy among channels that accept the
//! amount, with the largest capacity and time-lock delta; for our own
//! channels, the one with the most bandwidth.
//!
//! The priority queue reproduces Go's `container/heap` so that ties between
//! equal distances resolve as in LND (by higher probability first).

use std::collections::HashMap;
use std::fmt;

use dmc_core::NodeId;

use crate::{Graph, Policy};

/// LND's `RiskFactorBillionths`: time-lock penalty per msat per block.
pub const RISK_FACTOR_BILLIONTHS: i64 = 15;
/// LND's `sphinx.MaxRoutingPayloadSize`.
pub const MAX_ROUTING_PAYLOAD_SIZE: u64 = 1300;
/// The onion's per-hop HMAC.
const HMAC_SIZE: u64 = 32;
/// LND's default `--bitcoin.timelockdelta`, used as the final CLTV delta.
pub const DEFAULT_FINAL_CLTV_DELTA: u16 = 80;
/// LND's default `--max-cltv-expiry`.
pub const DEFAULT_MAX_TOTAL_TIMELOCK: u32 = 2016;

/// Search costs (LND's `PathFindingConfig`), with LND's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathFindingConfig {
    /// Fixed cost of a failed attempt (`routerrpc.attemptcost`, 100 sat).
    pub attempt_cost_msat: u64,
    /// Proportional cost of a failed attempt (`routerrpc.attemptcostppm`).
    pub attempt_cost_ppm: u64,
    /// Partial paths less likely than this are pruned (`routerrpc.minrtprob`).
    pub min_probability: f64,
}

impl Default for PathFindingConfig {
    fn default() -> Self {
        PathFindingConfig {
            attempt_cost_msat: 100_000,
            attempt_cost_ppm: 1000,
            min_probability: 0.01,
        }
    }
}

/// What to find (LND's `RouteRequest` and `RestrictParams`).
#[derive(Clone, Debug)]
pub struct RouteRequest {
    /// Our own node: its channels use bandwidth, not policies.
    pub self_node: Option<NodeId>,
    pub source: NodeId,
    pub target: NodeId,
    /// Amount the target receives.
    pub amt_msat: u64,
    /// Total of an MPP payment this shard belongs to (for the last hop's
    /// payload size and `mpp_record`); `None` for a single-shot payment.
    pub mpp_total_msat: Option<u64>,
    /// −1 (cheapest) .. 1 (most likely).
    pub time_pref: f64,
    pub fee_limit_msat: u64,
    /// Largest sum of CLTV deltas of the route's hops (excluding the final delta).
    pub cltv_limit: u32,
    pub final_cltv_delta: u16,
    pub block_height: u32,
    /// Only these of our own channels may be the first hop.
    pub outgoing_chan_ids: Vec<u64>,
    pub last_hop: Option<NodeId>,
    /// Available msat per local channel id; channels not listed have their
    /// capacity (LND's fallback when the link has no bandwidth hint).
    pub local_bandwidth_msat: HashMap<u64, u64>,
}

impl RouteRequest {
    /// A request with LND's `QueryRoutes` defaults: fee limit = amount,
    /// CLTV limit 2016 − final delta, final delta 80.
    pub fn new(self_node: Option<NodeId>, source: NodeId, target: NodeId, amt_msat: u64) -> Self {
        let final_cltv_delta = DEFAULT_FINAL_CLTV_DELTA;
        RouteRequest {
            self_node,
            source,
            target,
            amt_msat,
            mpp_total_msat: None,
            time_pref: 0.0,
            fee_limit_msat: amt_msat,
            cltv_limit: DEFAULT_MAX_TOTAL_TIMELOCK - final_cltv_delta as u32,
            final_cltv_delta,
            block_height: 0,
            outgoing_chan_ids: Vec::new(),
            last_hop: None,
            local_bandwidth_msat: HashMap::new(),
        }
    }
}

/// Why no route was found, with LND's failure reason names.
#[derive(Clone, Debug, PartialEq)]
pub enum PathError {
    /// `FAILURE_REASON_NO_ROUTE`.
    NoRoute,
    /// `FAILURE_REASON_INSUFFICIENT_BALANCE`: our channels cannot carry it.
    InsufficientBalance {
        amt_msat: u64,
        local_msat: u64,
    },
    UnknownNode(NodeId),
    TimePrefOutOfRange(f64),
}

impl PathError {
    /// LND's `PaymentFailureReason` name for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            PathError::InsufficientBalance { .. } => "FAILURE_REASON_INSUFFICIENT_BALANCE",
            PathError::NoRoute | PathError::UnknownNode(_) => "FAILURE_REASON_NO_ROUTE",
            PathError::TimePrefOutOfRange(_) => "FAILURE_REASON_ERROR",
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::NoRoute => write!(f, "{}: unable to find a path to destination", self.reason()),
            PathError::InsufficientBalance { amt_msat, local_msat } => write!(
                f,
                "{}: insufficient local balance: {amt_msat} msat needed, {local_msat} msat in our channels",
                self.reason()
            ),
            PathError::UnknownNode(n) => write!(f, "{}: node {n} is not in the graph", self.reason()),
            PathError::TimePrefOutOfRange(t) => write!(f, "time preference {t} out of range [-1, 1]"),
        }
    }
}

impl std::error::Error for PathError {}

/// One directed edge into a node: `from`'s policy on channel `chan`.
#[derive(Clone, Copy, Debug)]
struct InEdge {
    from: u32,
    chan: u32,
    dir: u8,
}

/// The graph indexed for search: incoming edges of every node in
/// compressed sparse rows, grouped by the sending node.
pub struct RoutingGraph<'g> {
    graph: &'g Graph,
    in_offsets: Vec<u32>,
    in_edges: Vec<InEdge>,
}

impl<'g> RoutingGraph<'g> {
    pub fn new(graph: &'g Graph) -> Self {
        let n = graph.node_count();
        let mut counts = vec![0u32; n + 1];
        for ch in graph.channels() {
            for (dir, to) in [(0usize, ch.node2), (1, ch.node1)] {
                if ch.policies[dir].is_some() {
                    counts[to as usize + 1] += 1;
                }
            }
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut in_edges = vec![
            InEdge {
                from: 0,
                chan: 0,
                dir: 0
            };
            counts[n] as usize
        ];
        for (ci, ch) in graph.channels().iter().enumerate() {
            for (dir, from, to) in [(0u8, ch.node1, ch.node2), (1, ch.node2, ch.node1)] {
                if ch.policies[dir as usize].is_some() {
                    let slot = &mut fill[to as usize];
                    in_edges[*slot as usize] = InEdge {
                        from,
                        chan: ci as u32,
                        dir,
                    };
                    *slot += 1;
                }
            }
        }
        for v in 0..n {
            let (a, b) = (counts[v] as usize, counts[v + 1] as usize);
            in_edges[a..b].sort_by_key(|e| (e.from, e.chan));
        }
        RoutingGraph {
            graph,
            in_offsets: counts,
            in_edges,
        }
    }

    pub fn graph(&self) -> &'g Graph {
        self.graph
    }

    fn incoming(&self, v: u32) -> &[InEdge] {
        &self.in_edges[self.in_offsets[v as usize] as usize..self.in_offsets[v as usize + 1] as usize]
    }

    /// Bytes of the index, for memory reports.
    pub fn index_bytes(&self) -> usize {
        self.in_offsets.len() * 4 + self.in_edges.len() * std::mem::size_of::<InEdge>()
    }
}

/// The edge chosen for one hop (LND's `unifiedEdge`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathEdge {
    pub from: u32,
    pub to: u32,
    pub chan_id: u64,
    pub policy: Policy,
    /// Capacity handed to mission control, in sat.
    pub capacity_sat: u64,
}

/// The most a fee can be: all the bitcoin there will ever be, in msat. A
/// graph file may announce any base fee and rate; capping here keeps every
/// sum of amounts and fees far inside `u64` and `i64`.
const MAX_FEE_MSAT: u64 = 21_000_000 * 100_000_000 * 1000;

/// LND's `ComputeFee`, computed without overflow and capped at [`MAX_FEE_MSAT`].
fn compute_fee(p: &Policy, amt_msat: u64) -> u64 {
    let fee = u128::from(p.fee_base_msat) + u128::from(amt_msat) * u128::from(p.fee_rate_ppm) / 1_000_000;
    fee.min(u128::from(MAX_FEE_MSAT)) as u64
}

fn amt_in_range(p: &Policy, capacity_sat: u64, amt: u64) -> bool {
    !(capacity_sat > 0 && amt > capacity_sat.saturating_mul(1000))
        && p.max_htlc_msat.is_none_or(|m| amt <= m)
        && amt >= p.min_htlc_msat
}

/// Size of a TLV truncated integer.
fn tu64_size(v: u64) -> u64 {
    (64 - v.leading_zeros() as u64).div_ceil(8)
}

fn bigsize_size(v: u64) -> u64 {
    match v {
        0..0xfd => 1,
        0xfd..=0xffff => 3,
        0x10000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// LND's `Hop.PayloadSize` for the records a plain payment uses.
fn hop_payload_size(amt: u64, outgoing_cltv: u32, next_chan: u64, mpp_total: Option<u64>) -> u64 {
    let mut size = 0;
    let mut record = |typ: u64, len: u64| size += bigsize_size(typ) + bigsize_size(len) + len;
    if amt != 0 {
        record(2, tu64_size(amt));
    }
    if outgoing_cltv != 0 {
        record(4, tu64_size(outgoing_cltv as u64));
    }
    if next_chan != 0 {
        record(6, 8);
    }
    if let Some(total) = mpp_total {
        record(8, 32 + tu64_size(total));
    }
    size + bigsize_size(size) + HMAC_SIZE
}

#[derive(Clone, Copy, Debug)]
struct NodeWithDist {
    dist: i64,
    weight: i64,
    node: u32,
    net_amount_received: u64,
    incoming_cltv: i32,
    probability: f64,
    next_hop: Option<PathEdge>,
    routing_info_size: u64,
}

/// Go's `container/heap` over `NodeWithDist`, with LND's `PushOrFix`.
struct DistanceHeap {
    nodes: Vec<NodeWithDist>,
    /// Position of each graph node in `nodes`, `NOT_IN_HEAP` if absent.
    index: Vec<u32>,
}

const NOT_IN_HEAP: u32 = u32::MAX;

impl DistanceHeap {
    fn less(&self, i: usize, j: usize) -> bool {
        let (a, b) = (&self.nodes[i], &self.nodes[j]);
        if a.dist == b.dist {
            return a.probability > b.probability;
        }
        a.dist < b.dist
    }

    fn swap(&mut self, i: usize, j: usize) {
        self.nodes.swap(i, j);
        self.index[self.nodes[i].node as usize] = i as u32;
        self.index[self.nodes[j].node as usize] = j as u32;
    }

    fn up(&mut self, mut j: usize) {
        while j > 0 {
            let i = (j - 1) / 2;
            if !self.less(j, i) {
                break;
            }
            self.swap(i, j);
            j = i;
        }
    }

    fn down(&mut self, i0: usize, n: usize) -> bool {
        let mut i = i0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            if j1 + 1 < n && self.less(j1 + 1, j1) {
                j = j1 + 1;
            }
            if !self.less(j, i) {
                break;
            }
            self.swap(i, j);
            i = j;
        }
        i > i0
    }

    fn push_or_fix(&mut self, d: NodeWithDist) {
        match self.index[d.node as usize] {
            NOT_IN_HEAP => {
                self.nodes.push(d);
                let n = self.nodes.len() - 1;
                self.index[d.node as usize] = n as u32;
                self.up(n);
            }
            i => {
                let i = i as usize;
                self.nodes[i] = d;
                if !self.down(i, self.nodes.len()) {
                    self.up(i);
                }
            }
        }
    }

    fn pop(&mut self) -> Option<NodeWithDist> {
        if self.nodes.is_empty() {
            return None;
        }
        let n = self.nodes.len() - 1;
        self.swap(0, n);
        self.down(0, n);
        let d = self.nodes.pop()?;
        self.index[d.node as usize] = NOT_IN_HEAP;
        Some(d)
    }
}

/// LND's `getProbabilityBasedDist`.
fn probability_based_dist(weight: i64, probability: f64, penalty: f64) -> i64 {
    if probability == 0.0 {
        return i64::MAX;
    }
    let dist = weight as f64 + penalty / probability;
    if dist > 9_000_000_000_000_000_000.0 {
        return i64::MAX;
    }
    dist as i64
}

/// A probability source: `(from, to, amt_msat, capacity_sat) → p`.
pub type ProbabilitySource<'a> = dyn FnMut(&NodeId, &NodeId, u64, u64) -> f64 + 'a;

/// LND's `findPath`: the best path from `source` to `target` and its
/// success probability (the product over all hops, target side first).
pub fn find_path(
    g: &RoutingGraph<'_>,
    req: &RouteRequest,
    cfg: &PathFindingConfig,
    probability: &mut ProbabilitySource<'_>,
) -> Result<(Vec<PathEdge>, f64), PathError> {
    let graph = g.graph;
    let source = graph
        .node_index(&req.source)
        .ok_or(PathError::UnknownNode(req.source))?;
    let target = graph
        .node_index(&req.target)
        .ok_or(PathError::UnknownNode(req.target))?;
    let self_idx = req.self_node.and_then(|s| graph.node_index(&s));
    let last_hop = match req.last_hop {
        Some(n) => Some(graph.node_index(&n).ok_or(PathError::UnknownNode(n))?),
        None => None,
    };
    let amt = req.amt_msat;
    let local_bandwidth = |chan: &crate::Channel| {
        req.local_bandwidth_msat
            .get(&chan.chan_id)
            .copied()
            .unwrap_or(chan.capacity_sat.saturating_mul(1000))
    };
    let out_allowed = |chan_id: u64| req.outgoing_chan_ids.is_empty() || req.outgoing_chan_ids.contains(&chan_id);

    if Some(source) == self_idx {
        let (mut max, mut total) = (0u64, 0u64);
        for ch in graph.channels() {
            let dir = if ch.node1 == source {
                0
            } else if ch.node2 == source {
                1
            } else {
                continue;
            };
            if ch.policies[dir].is_none() || !out_allowed(ch.chan_id) {
                continue;
            }
            let bw = local_bandwidth(ch);
            max = max.max(bw);
            total = total.saturating_add(bw);
        }
        if total < amt {
            return Err(PathError::InsufficientBalance {
                amt_msat: amt,
                local_msat: total,
            });
        }
        if max < amt {
            return Err(PathError::NoRoute);
        }
    }

    if req.time_pref.abs() > 1.0 || req.time_pref.is_nan() {
        return Err(PathError::TimePrefOutOfRange(req.time_pref));
    }
    let final_htlc_expiry = req.block_height as i32 + req.final_cltv_delta as i32;
    let absolute_cltv_limit = req.cltv_limit as u64 + final_htlc_expiry as u64;
    let default_attempt_cost = (cfg
        .attempt_cost_msat
        .wrapping_add(amt.wrapping_mul(cfg.attempt_cost_ppm) / 1_000_000)) as f64;
    let time_pref = req.time_pref * 0.9;
    let absolute_attempt_cost = default_attempt_cost * (1.0 / (0.5 - time_pref / 2.0) - 1.0);

    let mut distance: Vec<Option<NodeWithDist>> = vec![None; graph.node_count()];
    let mut heap = DistanceHeap {
        nodes: Vec::new(),
        index: vec![NOT_IN_HEAP; graph.node_count()],
    };
    let mut partial = NodeWithDist {
        dist: 0,
        weight: 0,
        node: target,
        net_amount_received: amt,
        incoming_cltv: final_htlc_expiry,
        probability: 1.0,
        next_hop: None,
        routing_info_size: hop_payload_size(amt, final_htlc_expiry as u32, 0, req.mpp_total_msat),
    };
    let route_to_self = source == target;

    loop {
        let pivot = partial.node;
        let net_received = partial.net_amount_received;
        let incoming = g.incoming(pivot);
        let mut i = 0;
        while i < incoming.len() {
            let from = incoming[i].from;
            let mut j = i;
            while j < incoming.len() && incoming[j].from == from {
                j += 1;
            }
            let group = &incoming[i..j];
            i = j;
            if !route_to_self && from == target {
                continue;
            }
            if last_hop.is_some() && pivot == target && Some(from) != last_hop {
                continue;
            }
            let edge = if Some(from) == self_idx {
                unify_local(graph, group, net_received, &local_bandwidth, &out_allowed)
            } else {
                unify_network(graph, group, net_received)
            };
            let Some(edge) = edge else { continue };

            // processEdge
            let amount_to_send = net_received;
            let total_fee = i128::from(amount_to_send) - i128::from(amt);
            if total_fee > 0 && total_fee > i128::from(req.fee_limit_msat) {
                continue;
            }
            let p_edge = probability(graph.node(from), graph.node(pivot), amount_to_send, edge.capacity_sat);
            if p_edge == 0.0 {
                continue;
            }
            let (time_lock_delta, outbound_fee) = if from != source {
                (edge.policy.time_lock_delta, compute_fee(&edge.policy, amount_to_send))
            } else {
                (0, 0)
            };
            let incoming_cltv = partial.incoming_cltv + time_lock_delta as i32;
            if incoming_cltv as u64 > absolute_cltv_limit {
                continue;
            }
            let net_amount_to_receive = amount_to_send.saturating_add(outbound_fee);
            let prob = partial.probability * p_edge;
            if prob < cfg.min_probability {
                continue;
            }
            let fee = outbound_fee;
            let time_lock_penalty =
                (amount_to_send as i64).wrapping_mul(time_lock_delta as i64) * RISK_FACTOR_BILLIONTHS / 1_000_000_000;
            let temp_weight = partial.weight + fee as i64 + time_lock_penalty;
            let temp_dist = probability_based_dist(temp_weight, prob, absolute_attempt_cost);
            if let Some(cur) = &distance[from as usize] {
                if temp_dist > cur.dist || (temp_dist == cur.dist && prob <= cur.probability) {
                    continue;
                }
            }
            let payload = if from != source {
                hop_payload_size(amount_to_send, partial.incoming_cltv as u32, edge.chan_id, None)
            } else {
                0
            };
            let routing_info_size = partial.routing_info_size + payload;
            if routing_info_size > MAX_ROUTING_PAYLOAD_SIZE {
                continue;
            }
            let with_dist = NodeWithDist {
                dist: temp_dist,
                weight: temp_weight,
                node: from,
                net_amount_received: net_amount_to_receive,
                incoming_cltv,
                probability: prob,
                next_hop: Some(edge),
                routing_info_size,
            };
            distance[from as usize] = Some(with_dist);
            heap.push_or_fix(with_dist);
        }
        match heap.pop() {
            None => break,
            Some(next) => {
                partial = next;
                if partial.node == source {
                    break;
                }
            }
        }
    }

    let mut path = Vec::new();
    let mut current = source;
    loop {
        let d = distance[current as usize].as_ref().ok_or(PathError::NoRoute)?;
        let edge = d.next_hop.ok_or(PathError::NoRoute)?;
        path.push(edge);
        current = edge.to;
        if current == target {
            break;
        }
        if path.len() > graph.node_count() {
            return Err(PathError::NoRoute);
        }
    }
    let p = distance[source as usize].as_ref().map_or(0.0, |d| d.probability);
    Ok((path, p))
}

/// LND's `getEdgeLocal`: our own channel with the most bandwidth that
/// accepts the amount (disabled flags do not matter for our own links).
fn unify_local(
    graph: &Graph,
    group: &[InEdge],
    amt: u64,
    bandwidth: &dyn Fn(&crate::Channel) -> u64,
    out_allowed: &dyn Fn(u64) -> bool,
) -> Option<PathEdge> {
    let mut best = None;
    let mut max_bandwidth = 0;
    for e in group {
        let ch = &graph.channels()[e.chan as usize];
        if !out_allowed(ch.chan_id) {
            continue;
        }
        let policy = ch.policies[e.dir as usize]?;
        if !amt_in_range(&policy, ch.capacity_sat, amt) {
            continue;
        }
        let bw = bandwidth(ch);
        if amt > bw || bw < max_bandwidth {
            continue;
        }
        max_bandwidth = bw;
        best = Some(PathEdge {
            from: e.from,
            to: if e.dir == 0 { ch.node2 } else { ch.node1 },
            chan_id: ch.chan_id,
            policy,
            capacity_sat: ch.capacity_sat,
        });
    }
    best
}

/// LND's `getEdgeNetwork`: among enabled channels that accept the amount,
/// the highest-fee policy, with the largest capacity and time-lock delta.
fn unify_network(graph: &Graph, group: &[InEdge], amt: u64) -> Option<PathEdge> {
    let mut best: Option<PathEdge> = None;
    let mut max_fee = i64::MIN;
    let mut max_timelock = 0u16;
    let mut max_cap_msat = 0u64;
    for e in group {
        let ch = &graph.channels()[e.chan as usize];
        let Some(policy) = ch.policies[e.dir as usize] else {
            continue;
        };
        if !amt_in_range(&policy, ch.capacity_sat, amt) || policy.disabled {
            continue;
        }
        let mut cap_msat = ch.capacity_sat.saturating_mul(1000);
        if cap_msat == 0 {
            if let Some(m) = policy.max_htlc_msat {
                cap_msat = m;
            }
        }
        max_cap_msat = max_cap_msat.max(cap_msat);
        max_timelock = max_timelock.max(policy.time_lock_delta);
        let fee = compute_fee(&policy, amt) as i64;
        if fee < max_fee {
            continue;
        }
        max_fee = fee;
        best = Some(PathEdge {
            from: e.from,
            to: if e.dir == 0 { ch.node2 } else { ch.node1 },
            chan_id: ch.chan_id,
            policy,
            capacity_sat: 0,
        });
    }
    best.map(|mut b| {
        b.policy.time_lock_delta = max_timelock;
        b.capacity_sat = max_cap_msat / 1000;
        b
    })
}

/// One hop of a built route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteHop {
    pub chan_id: u64,
    pub pub_key: NodeId,
    pub amt_to_forward_msat: u64,
    /// Fee this hop's node charges (what it receives minus what it forwards).
    pub fee_msat: u64,
    pub expiry: u32,
    /// Capacity of the channel into this hop, in sat (as given to MC).
    pub chan_capacity_sat: u64,
}

/// A route as LND builds it (`newRoute`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltRoute {
    pub source: NodeId,
    pub total_time_lock: u32,
    pub total_amt_msat: u64,
    pub hops: Vec<RouteHop>,
    /// `Some(total)` on every hop's MPP record for a shard of a larger payment.
    pub mpp_total_msat: Option<u64>,
}

impl BuiltRoute {
    pub fn total_fees_msat(&self) -> u64 {
        self.total_amt_msat - self.hops.last().map_or(0, |h| h.amt_to_forward_msat)
    }

    /// The route as mission control records it.
    pub fn to_mc_route(&self) -> dmc_core::Route {
        dmc_core::Route {
            source: self.source,
            total_amt_msat: self.total_amt_msat,
            hops: self
                .hops
                .iter()
                .map(|h| dmc_core::Hop {
                    chan_id: h.chan_id,
                    pub_key: h.pub_key,
                    amt_to_forward_msat: h.amt_to_forward_msat,
                    has_blinding_point: false,
                    has_custom_records: false,
                })
                .collect(),
        }
    }
}

/// LND's `newRoute`: amounts, fees and time locks, walking from the last
/// hop back to the first.
pub fn new_route(
    graph: &Graph,
    source: NodeId,
    path: &[PathEdge],
    block_height: u32,
    final_amt_msat: u64,
    final_cltv_delta: u16,
    mpp_total_msat: Option<u64>,
) -> BuiltRoute {
    let mut hops = Vec::with_capacity(path.len());
    let mut total_time_lock = block_height;
    let mut next_incoming = 0u64;
    for i in (0..path.len()).rev() {
        let (amt_to_forward, fee, outgoing_time_lock);
        if i == path.len() - 1 {
            amt_to_forward = final_amt_msat;
            fee = 0;
            total_time_lock += final_cltv_delta as u32;
            outgoing_time_lock = total_time_lock;
        } else {
            amt_to_forward = next_incoming;
            fee = compute_fee(&path[i + 1].policy, amt_to_forward);
            outgoing_time_lock = total_time_lock;
            total_time_lock += path[i + 1].policy.time_lock_delta as u32;
        }
        hops.push(RouteHop {
            chan_id: path[i].chan_id,
            pub_key: *graph.node(path[i].to),
            amt_to_forward_msat: amt_to_forward,
            fee_msat: 0,
            expiry: outgoing_time_lock,
            chan_capacity_sat: path[i].capacity_sat,
        });
        next_incoming = amt_to_forward + fee;
    }
    hops.reverse();
    // A hop's fee is what it receives minus what it forwards (route.HopFee).
    let mut incoming = next_incoming;
    for h in &mut hops {
        h.fee_msat = incoming - h.amt_to_forward_msat;
        incoming = h.amt_to_forward_msat;
    }
    BuiltRoute {
        source,
        total_time_lock,
        total_amt_msat: next_incoming,
        hops,
        mpp_total_msat,
    }
}

/// LND's MPP defaults: at most 16 shards, none below 10 000 sat.
pub const DEFAULT_MAX_PARTS: u32 = 16;
pub const DEFAULT_MIN_SHARD_MSAT: u64 = 10_000_000;

/// One shard of a split payment and its success probability.
#[derive(Clone, Debug, PartialEq)]
pub struct Shard {
    pub route: BuiltRoute,
    pub probability: f64,
}

/// Splits a payment into shard routes as LND's payment session requests
/// them: each shard first tries the whole remaining amount and halves it
/// while no path exists, stopping at `max_parts` shards or below
/// `min_shard_msat`. Shards already placed use up the bandwidth of our
/// own first-hop channels, as LND's bandwidth hints do; network channels
/// are not reserved (LND learns about them only from failures).
pub fn split_payment(
    g: &RoutingGraph<'_>,
    req: &RouteRequest,
    cfg: &PathFindingConfig,
    probability: &mut ProbabilitySource<'_>,
    max_parts: u32,
    min_shard_msat: u64,
) -> Result<Vec<Shard>, PathError> {
    let total = req.amt_msat;
    let mut remaining = total;
    let mut fee_budget = req.fee_limit_msat;
    let mut shard_req = req.clone();
    shard_req.mpp_total_msat = Some(total);
    let mut shards: Vec<Shard> = Vec::new();
    while remaining > 0 {
        let mut max_amt = remaining;
        let (path, p) = loop {
            shard_req.amt_msat = max_amt;
            shard_req.fee_limit_msat = fee_budget;
            match find_path(g, &shard_req, cfg, probability) {
                Ok(found) => break found,
                Err(PathError::NoRoute) => {
                    if shards.len() as u32 + 1 >= max_parts {
                        return Err(PathError::NoRoute);
                    }
                    max_amt /= 2;
                    if max_amt < min_shard_msat {
                        return Err(PathError::NoRoute);
                    }
                }
                Err(e) => return Err(e),
            }
        };
        let route = new_route(
            g.graph(),
            req.source,
            &path,
            req.block_height,
            max_amt,
            req.final_cltv_delta,
            Some(total),
        );
        // Our own first-hop channel now carries this shard.
        if Some(req.source) == req.self_node {
            if let Some(chan) = g.graph().channels().iter().find(|c| c.chan_id == route.hops[0].chan_id) {
                let bw = shard_req
                    .local_bandwidth_msat
                    .entry(chan.chan_id)
                    .or_insert(chan.capacity_sat.saturating_mul(1000));
                *bw = bw.saturating_sub(route.total_amt_msat);
            }
        }
        fee_budget = fee_budget.saturating_sub(route.total_fees_msat());
        remaining -= max_amt;
        shards.push(Shard { route, probability: p });
    }
    Ok(shards)
}
