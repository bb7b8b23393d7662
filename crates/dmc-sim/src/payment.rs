//! Senders and LND's payment lifecycle, simulated.
//!
//! A payment asks pathfinding (with the sender's own mission control) for a
//! route for the remaining amount, halving it while none exists (MPP, as
//! LND's payment session does), and sends the HTLC. The first hop that
//! lacks balance fails it with TEMPORARY_CHANNEL_FAILURE from its position;
//! a closed channel answers UNKNOWN_NEXT_PEER, a policy that changed
//! FEE_INSUFFICIENT, a receiver with the wrong details
//! INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS. Every outcome goes through the
//! engine's result interpretation into the sender's mission control. Shards
//! that reach the receiver are held until the whole amount has arrived
//! (then all settle and balances move) or the MPP timeout fails them.

use dmc_core::time::DurationNs;
use dmc_core::{
    FailureCode, FailureReason, MissionControl, MissionControlConfig, Msat, NodeId, PaymentFailure, PaymentResult, Sat,
    Timestamp,
};
use dmc_graph::pathfind::{self, BuiltRoute, PathError, PathFindingConfig, RouteRequest, RoutingGraph};

use crate::network::{HopFault, Network};

/// Nanoseconds per millisecond.
const MS: DurationNs = DurationNs::MILLISECOND;
/// LND's `BlockPadding`, added to the final CLTV delta of payments.
const BLOCK_PADDING: u16 = 3;

/// How payments behave (LND's defaults where LND has one).
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The sender's pathfinding costs (LND's `routerrpc` defaults).
    pub pathfinding: PathFindingConfig,
    /// One-way latency of a hop.
    pub hop_latency_ms: i64,
    /// How long a receiver holds an incomplete MPP set (LND: 120 s).
    pub mpp_timeout_s: i64,
    /// No new attempts after this long (lncli payinvoice: 60 s).
    pub payment_timeout_s: i64,
    /// No more attempts than this per payment.
    pub max_attempts: u32,
    /// LND's `--max_parts` (16) and minimum shard (10 000 sat).
    pub max_parts: u32,
    /// Smallest shard: when halving would go below it, no route is left and the payment fails.
    pub min_shard_msat: Msat,
    /// Fee limit as a fraction of the amount (lncli: 5 %).
    pub fee_limit_fraction: f64,
    /// Block height the routes' absolute time locks start from.
    pub block_height: u32,
    /// The invoice's final CLTV delta (blocks; LND's invoice default 40); LND's block padding of 3
    /// is added to it.
    pub final_cltv_delta: u16,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            pathfinding: PathFindingConfig::default(),
            hop_latency_ms: 100,
            mpp_timeout_s: 120,
            payment_timeout_s: 60,
            max_attempts: 100,
            max_parts: pathfind::DEFAULT_MAX_PARTS,
            min_shard_msat: pathfind::DEFAULT_MIN_SHARD_MSAT,
            fee_limit_fraction: 0.05,
            block_height: 800_000,
            final_cltv_delta: 40,
        }
    }
}

/// One HTLC attempt and how it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct HtlcRecord {
    /// The HTLC settled (the whole MPP set reached the receiver).
    pub succeeded: bool,
    /// The failure message the sender got, `None` for a settled HTLC.
    pub failure_code: Option<FailureCode>,
    /// Position in the route of the node that failed the HTLC (0: the sender, the hop count: the
    /// receiver).
    pub failure_source_index: Option<u8>,
    /// Seconds after the payment started.
    pub attempt_time_s: f64,
    /// Seconds after the payment started when the settle or failure reached the sender.
    pub resolve_time_s: f64,
    /// The route the HTLC was sent on.
    pub route: BuiltRoute,
}

impl HtlcRecord {
    /// What this HTLC delivers to the receiver (the last hop's amount to forward).
    pub fn receiver_amt_msat(&self) -> Msat {
        self.route.hops.last().map_or(Msat::ZERO, |h| h.amt_to_forward_msat)
    }
}

/// One payment and how it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct PaymentRecord {
    /// The receiving node.
    pub dest: NodeId,
    /// The amount the receiver was to get, fees excluded.
    pub amount_msat: Msat,
    /// Every shard settled: the receiver got the whole amount.
    pub succeeded: bool,
    /// LND's `FAILURE_REASON_*` name when the payment failed.
    pub failure_reason: Option<&'static str>,
    /// Every HTLC attempt, in the order sent.
    pub htlcs: Vec<HtlcRecord>,
    /// Fees of the settled HTLCs.
    pub fee_msat: Msat,
    /// Simulated seconds from start to settlement or final failure.
    pub time_s: f64,
}

impl PaymentRecord {
    /// HTLCs sent, settled or failed.
    pub fn attempts(&self) -> usize {
        self.htlcs.len()
    }

    /// HTLCs that failed (including MPP timeouts).
    pub fn failed_htlcs(&self) -> usize {
        self.htlcs.iter().filter(|h| !h.succeeded).count()
    }
}

/// A node that pays, with its own mission control.
pub struct Sender {
    /// The paying node.
    pub node: NodeId,
    /// The sender's own mission control, fed every HTLC outcome.
    pub mc: MissionControl,
    /// Route by the true balances instead of mission control: a hop's
    /// probability is 1 if some channel of the pair can carry the amount
    /// now, else 0 (the experiment's floor; no real sender can do this).
    pub oracle: bool,
    next_attempt_id: u64,
}

impl Sender {
    /// A sender routing with a fresh mission control of its own (`self` = `node`).
    pub fn new(node: NodeId, config: MissionControlConfig) -> Self {
        Sender {
            node,
            mc: MissionControl::new(Some(node), config),
            oracle: false,
            next_attempt_id: 0,
        }
    }

    fn report(&mut self, route: &BuiltRoute, failure: Option<PaymentFailure>, at: Timestamp) -> Option<FailureReason> {
        let result = PaymentResult {
            id: self.next_attempt_id,
            time_fwd: at,
            time_reply: at,
            route: route.to_mc_route(),
            failure,
        };
        self.next_attempt_id += 1;
        self.mc.apply_payment_result(&result).ok().flatten()
    }
}

/// A shard that reached the receiver and waits there.
struct Held {
    htlc: usize,
    locks: Vec<(u32, usize, Msat)>,
    arrived: Timestamp,
}

fn seconds(d: DurationNs) -> f64 {
    d.as_nanos() as f64 / 1e9
}

/// Pays `amount_msat` from `sender` to `dest`, advancing `clock`.
pub fn pay(
    net: &mut Network,
    routing: &RoutingGraph<'_>,
    sender: &mut Sender,
    dest: NodeId,
    amount_msat: Msat,
    cfg: &SimConfig,
    clock: &mut Timestamp,
) -> PaymentRecord {
    let start = *clock;
    let fee_limit = Msat((amount_msat.as_f64() * cfg.fee_limit_fraction) as u64);
    let mut record = PaymentRecord {
        dest,
        amount_msat,
        succeeded: false,
        failure_reason: None,
        htlcs: Vec::new(),
        fee_msat: Msat::ZERO,
        time_s: 0.0,
    };
    if amount_msat == Msat::ZERO {
        record.failure_reason = Some("FAILURE_REASON_ERROR");
        return record;
    }
    let mut remaining = amount_msat;
    let mut fees_in_flight = Msat::ZERO;
    let mut held: Vec<Held> = Vec::new();
    let mut reason: Option<&'static str> = None;

    while remaining > Msat::ZERO {
        if clock.sub(start) >= cfg.payment_timeout_s * DurationNs::SECOND
            || record.htlcs.len() as u32 >= cfg.max_attempts
        {
            reason = Some("FAILURE_REASON_TIMEOUT");
            break;
        }
        let route = match request_route(
            net,
            routing,
            sender,
            dest,
            remaining,
            amount_msat,
            fee_limit.saturating_sub(fees_in_flight),
            held.len() as u32,
            cfg,
            *clock,
        ) {
            Ok(r) => r,
            Err(e) => {
                reason = Some(e.reason());
                break;
            }
        };
        let sent_at = *clock;
        let n = route.hops.len();
        // Forward the HTLC hop by hop; the first hop that cannot forward fails it.
        let mut locks: Vec<(u32, usize, Msat)> = Vec::with_capacity(n);
        let mut failure: Option<(u8, FailureCode)> = None;
        let mut from = sender.node;
        for c in 0..n {
            let amt = if c == 0 {
                route.total_amt_msat
            } else {
                route.hops[c - 1].amt_to_forward_msat
            };
            let hop = &route.hops[c];
            let Some((ci, dir)) = net.direction(hop.chan_id, &from) else {
                failure = Some((c as u8, FailureCode::UnknownNextPeer));
                break;
            };
            if net.has_outages() && net.graph.node_index(&hop.pub_key).is_some_and(|n| net.is_offline(n)) {
                // The next node is offline: `from` has no link to it.
                failure = Some((c as u8, FailureCode::UnknownNextPeer));
                break;
            }
            let (ci, dir) = if c > 0 {
                net.forwarding_channel(ci, dir, amt)
            } else {
                (ci, dir)
            };
            if c > 0 {
                if let Some(HopFault::Closed) = net.fault(ci) {
                    failure = Some((c as u8, FailureCode::UnknownNextPeer));
                    break;
                }
                if let Some(p) = net.enforced_policy(ci, dir) {
                    // `from` forwards `amt` over this channel and keeps what it received above it.
                    let incoming = if c == 1 {
                        route.total_amt_msat
                    } else {
                        route.hops[c - 2].amt_to_forward_msat
                    };
                    let required = p.fee(amt);
                    if incoming.saturating_sub(amt) < required {
                        failure = Some((c as u8, FailureCode::FeeInsufficient));
                        break;
                    }
                }
            }
            if net.spendable(ci, dir) < amt {
                failure = Some((c as u8, FailureCode::TemporaryChannelFailure));
                break;
            }
            net.lock(ci, dir, amt);
            locks.push((ci, dir, amt));
            from = hop.pub_key;
        }
        if failure.is_none() && net.rejecting_receivers.contains(&dest) {
            failure = Some((n as u8, FailureCode::IncorrectOrUnknownPaymentDetails));
        }
        let hops_reached = failure.map_or(n, |(p, _)| p as usize);
        *clock = clock.add((hops_reached as i64).max(1) * cfg.hop_latency_ms * MS);
        match failure {
            Some((position, code)) => {
                for (ci, dir, amt) in locks.into_iter().rev() {
                    net.unlock(ci, dir, amt);
                }
                *clock = clock.add((position as i64).max(1) * cfg.hop_latency_ms * MS);
                let fail = PaymentFailure {
                    source_index: Some(position),
                    message: Some(code),
                };
                record.htlcs.push(HtlcRecord {
                    succeeded: false,
                    failure_code: Some(code),
                    failure_source_index: Some(position),
                    attempt_time_s: seconds(sent_at.sub(start)),
                    resolve_time_s: seconds(clock.sub(start)),
                    route: route.clone(),
                });
                if let Some(r) = sender.report(&route, Some(fail), *clock) {
                    reason = Some(match r {
                        FailureReason::Error => "FAILURE_REASON_ERROR",
                        FailureReason::IncorrectPaymentDetails => "FAILURE_REASON_INCORRECT_PAYMENT_DETAILS",
                    });
                    break;
                }
            }
            None => {
                // A shard carries at most what remains.
                remaining = remaining.saturating_sub(route.hops[n - 1].amt_to_forward_msat);
                fees_in_flight = fees_in_flight.saturating_add(route.total_fees_msat());
                record.htlcs.push(HtlcRecord {
                    succeeded: false,
                    failure_code: None,
                    failure_source_index: None,
                    attempt_time_s: seconds(sent_at.sub(start)),
                    resolve_time_s: 0.0,
                    route,
                });
                held.push(Held {
                    htlc: record.htlcs.len() - 1,
                    locks,
                    arrived: *clock,
                });
            }
        }
    }

    if remaining == Msat::ZERO && reason.is_none() {
        // The set is complete: the receiver settles every shard.
        *clock = clock.add(cfg.hop_latency_ms * MS * record.htlcs[held[0].htlc].route.hops.len() as i64);
        for h in held {
            for (ci, dir, amt) in &h.locks {
                net.settle(*ci, *dir, *amt);
            }
            let htlc = &mut record.htlcs[h.htlc];
            htlc.succeeded = true;
            htlc.resolve_time_s = seconds(clock.sub(start));
            record.fee_msat = record.fee_msat.saturating_add(htlc.route.total_fees_msat());
            let route = htlc.route.clone();
            sender.report(&route, None, *clock);
        }
        record.succeeded = true;
    } else {
        // The receiver gives up on an incomplete set after the MPP timeout.
        for h in held {
            let timeout_at = h.arrived.add(cfg.mpp_timeout_s * DurationNs::SECOND);
            if timeout_at.after(*clock) {
                *clock = timeout_at;
            }
            for (ci, dir, amt) in h.locks.into_iter().rev() {
                net.unlock(ci, dir, amt);
            }
            let htlc = &mut record.htlcs[h.htlc];
            let n = htlc.route.hops.len() as u8;
            htlc.failure_code = Some(FailureCode::MppTimeout);
            htlc.failure_source_index = Some(n);
            htlc.resolve_time_s = seconds(clock.sub(start));
            let route = htlc.route.clone();
            let fail = PaymentFailure {
                source_index: Some(n),
                message: Some(FailureCode::MppTimeout),
            };
            sender.report(&route, Some(fail), *clock);
        }
        record.failure_reason = reason.or(Some("FAILURE_REASON_NO_ROUTE"));
    }
    record.time_s = seconds(clock.sub(start));
    record
}

/// LND's `RequestRoute`: the remaining amount, halved while no path exists.
#[allow(clippy::too_many_arguments)]
fn request_route(
    net: &Network,
    routing: &RoutingGraph<'_>,
    sender: &Sender,
    dest: NodeId,
    remaining: Msat,
    total: Msat,
    fee_limit: Msat,
    active_shards: u32,
    cfg: &SimConfig,
    now: Timestamp,
) -> Result<BuiltRoute, PathError> {
    let mut req = RouteRequest::new(Some(sender.node), sender.node, dest, remaining);
    req.fee_limit_msat = fee_limit;
    req.mpp_total_msat = Some(total);
    req.block_height = cfg.block_height;
    // LND pads the final delta by 3 blocks (BlockPadding) on payments.
    let final_cltv_delta = cfg.final_cltv_delta + BLOCK_PADDING;
    req.final_cltv_delta = final_cltv_delta;
    req.cltv_limit = pathfind::DEFAULT_MAX_TOTAL_TIMELOCK - final_cltv_delta as u32;
    req.local_bandwidth_msat = net.local_bandwidth(&sender.node);
    let prober = sender.mc.prober(now);
    let graph = routing.graph();
    let outages = net.has_outages();
    let mut prob = |from: &NodeId, to: &NodeId, amt: Msat, cap: Sat| {
        if sender.oracle {
            return true_probability(net, graph, from, to, amt);
        }
        // Gossip shows an unreachable node's channels disabled: pathfinding skips them.
        if outages {
            let disabled = |n: &NodeId| graph.node_index(n).is_some_and(|i| net.is_gossip_disabled(i));
            if disabled(from) || disabled(to) {
                return 0.0;
            }
        }
        prober.probability(from, to, amt, cap)
    };
    let mut max_amt = remaining;
    loop {
        req.amt_msat = max_amt;
        match pathfind::find_path(routing, &req, &cfg.pathfinding, &mut prob) {
            Ok((path, _)) => {
                return Ok(pathfind::new_route(
                    routing.graph(),
                    sender.node,
                    &path,
                    cfg.block_height,
                    max_amt,
                    final_cltv_delta,
                    Some(total),
                ))
            }
            Err(PathError::NoRoute) => {
                if active_shards + 1 >= cfg.max_parts {
                    return Err(PathError::NoRoute);
                }
                max_amt = max_amt.half();
                if max_amt < cfg.min_shard_msat {
                    return Err(PathError::NoRoute);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// 1 if a channel from `from` to `to` with an enabled policy can carry `amt`
/// right now, else 0: what a sender knowing every balance would estimate.
fn true_probability(net: &Network, graph: &dmc_graph::Graph, from: &NodeId, to: &NodeId, amt: Msat) -> f64 {
    let (Some(a), Some(b)) = (graph.node_index(from), graph.node_index(to)) else {
        return 0.0;
    };
    if net.is_offline(a) || net.is_offline(b) {
        return 0.0;
    }
    // The same test a forwarding node applies (non-strict forwarding).
    let any = graph.channels_between(a, b).iter().any(|&ci| {
        let dir = usize::from(graph.channels()[ci as usize].node1 != a);
        net.can_forward(ci, dir, amt)
    });
    f64::from(u8::from(any))
}
