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

use dmc_core::{Msat, NodeId, Sat, SuccessProbability};

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
    pub attempt_cost_msat: Msat,
    /// Proportional cost of a failed attempt (`routerrpc.attemptcostppm`).
    pub attempt_cost_ppm: u64,
    /// Partial paths less likely than this are pruned (`routerrpc.minrtprob`).
    pub min_probability: f64,
}

impl Default for PathFindingConfig {
    fn default() -> Self {
        PathFindingConfig {
            attempt_cost_msat: Msat(100_000),
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
    /// Node the route starts from (the payer).
    pub source: NodeId,
    /// Node the route ends at (the payee).
    pub target: NodeId,
    /// Amount the target receives.
    pub amt_msat: Msat,
    /// Total of an MPP payment this shard belongs to (for the last hop's
    /// payload size and `mpp_record`); `None` for a single-shot payment.
    pub mpp_total_msat: Option<Msat>,
    /// −1 (cheapest) .. 1 (most likely).
    pub time_pref: f64,
    /// Largest total fee the route may charge; partial paths above it are pruned.
    pub fee_limit_msat: Msat,
    /// Largest sum of CLTV deltas of the route's hops (excluding the final delta).
    pub cltv_limit: u32,
    /// CLTV delta the target requires on the last hop (blocks).
    pub final_cltv_delta: u16,
    /// Current block height; hop expiries and the CLTV limit are absolute heights from it.
    pub block_height: u32,
    /// Only these of our own channels may be the first hop.
    pub outgoing_chan_ids: Vec<u64>,
    /// When set, the route must reach the target through this node.
    pub last_hop: Option<NodeId>,
    /// Available amount per local channel id; channels not listed have
    /// their capacity (LND's fallback when the link has no bandwidth hint).
    pub local_bandwidth_msat: HashMap<u64, Msat>,
}

impl RouteRequest {
    /// A request with LND's `QueryRoutes` defaults: fee limit = amount,
    /// CLTV limit 2016 − final delta, final delta 80.
    pub fn new(self_node: Option<NodeId>, source: NodeId, target: NodeId, amt_msat: Msat) -> Self {
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
        /// The amount to deliver (the request's `amt_msat`).
        amt_msat: Msat,
        /// Bandwidth summed over our own channels allowed as the first hop.
        local_msat: Msat,
    },
    /// The source, target or last hop is not in the graph (`FAILURE_REASON_NO_ROUTE`).
    UnknownNode(NodeId),
    /// `time_pref` is outside `[-1, 1]` or NaN.
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
                "{}: insufficient local balance: {amt_msat} needed, {local_msat} in our channels",
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
    /// Builds the incoming-edge index of `graph`: one pass to count, one to fill, then each node's
    /// edges sorted by sender and channel.
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

    /// The graph this index was built from.
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
    /// Dense index of the node that forwards over this edge.
    pub from: u32,
    /// Dense index of the node the edge leads to.
    pub to: u32,
    /// Short channel id of the chosen channel among parallel ones.
    pub chan_id: u64,
    /// The unified policy the hop is charged by (for network pairs the highest-fee one that accepts
    /// the amount).
    pub policy: Policy,
    /// Capacity handed to mission control.
    pub capacity_sat: Sat,
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

/// LND's `findPath`: the best path from `source` to `target` and its
/// success probability (the product over all hops, target side first).
/// `probability` answers for each hop weighed, with the amount that hop
/// must carry and the capacity LND hands to mission control.
pub fn find_path(
    g: &RoutingGraph<'_>,
    req: &RouteRequest,
    cfg: &PathFindingConfig,
    probability: &mut dyn SuccessProbability,
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
            .unwrap_or(chan.capacity_sat.to_msat_saturating())
    };
    let out_allowed = |chan_id: u64| req.outgoing_chan_ids.is_empty() || req.outgoing_chan_ids.contains(&chan_id);

    if Some(source) == self_idx {
        let (mut max, mut total) = (Msat::ZERO, Msat::ZERO);
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
    // LND's `uint64` arithmetic, wrapping included.
    let proportional_attempt_cost = Msat(amt.0.wrapping_mul(cfg.attempt_cost_ppm) / 1_000_000);
    let default_attempt_cost = cfg.attempt_cost_msat.wrapping_add(proportional_attempt_cost).as_f64();
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
        routing_info_size: hop_payload_size(amt.0, final_htlc_expiry as u32, 0, req.mpp_total_msat.map(|m| m.0)),
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
            // The fees so far: what this edge must carry above the payment.
            if amount_to_send.saturating_sub(amt) > req.fee_limit_msat {
                continue;
            }
            let p_edge =
                probability.success_probability(graph.node(from), graph.node(pivot), amount_to_send, edge.capacity_sat);
            if p_edge == 0.0 {
                continue;
            }
            let (time_lock_delta, outbound_fee) = if from != source {
                (edge.policy.time_lock_delta, edge.policy.fee(amount_to_send))
            } else {
                (0, Msat::ZERO)
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
                (amount_to_send.0 as i64).wrapping_mul(time_lock_delta as i64) * RISK_FACTOR_BILLIONTHS / 1_000_000_000;
            let temp_weight = partial.weight + fee.0 as i64 + time_lock_penalty;
            let temp_dist = probability_based_dist(temp_weight, prob, absolute_attempt_cost);
            if let Some(cur) = &distance[from as usize] {
                if temp_dist > cur.dist || (temp_dist == cur.dist && prob <= cur.probability) {
                    continue;
                }
            }
            let payload = if from != source {
                hop_payload_size(amount_to_send.0, partial.incoming_cltv as u32, edge.chan_id, None)
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
    amt: Msat,
    bandwidth: &dyn Fn(&crate::Channel) -> Msat,
    out_allowed: &dyn Fn(u64) -> bool,
) -> Option<PathEdge> {
    let mut best = None;
    let mut max_bandwidth = Msat::ZERO;
    for e in group {
        let ch = &graph.channels()[e.chan as usize];
        if !out_allowed(ch.chan_id) {
            continue;
        }
        let policy = ch.policies[e.dir as usize]?;
        if !policy.accepts(ch.capacity_sat, amt) {
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
fn unify_network(graph: &Graph, group: &[InEdge], amt: Msat) -> Option<PathEdge> {
    let mut best: Option<PathEdge> = None;
    let mut max_fee = None;
    let mut max_timelock = 0u16;
    let mut max_cap = Msat::ZERO;
    for e in group {
        let ch = &graph.channels()[e.chan as usize];
        let Some(policy) = ch.policies[e.dir as usize] else {
            continue;
        };
        if !policy.accepts(ch.capacity_sat, amt) || policy.disabled {
            continue;
        }
        max_cap = max_cap.max(policy.capacity_or_max_htlc(ch.capacity_sat));
        max_timelock = max_timelock.max(policy.time_lock_delta);
        let fee = policy.fee(amt);
        if max_fee.is_some_and(|max| fee < max) {
            continue;
        }
        max_fee = Some(fee);
        best = Some(PathEdge {
            from: e.from,
            to: if e.dir == 0 { ch.node2 } else { ch.node1 },
            chan_id: ch.chan_id,
            policy,
            capacity_sat: Sat::ZERO,
        });
    }
    best.map(|mut b| {
        b.policy.time_lock_delta = max_timelock;
        b.capacity_sat = max_cap.to_sat_floor();
        b
    })
}

mod heap;
mod mpp;
mod probability;
mod route;

use heap::{DistanceHeap, NodeWithDist, NOT_IN_HEAP};
pub use mpp::*;
pub use probability::*;
pub use route::*;
