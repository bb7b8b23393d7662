//! A found path as a route: amounts, fees and time locks hop by hop, as LND's `newRoute` builds them.

use super::*;

/// One hop of a built route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteHop {
    /// Short channel id of the channel into this hop's node.
    pub chan_id: u64,
    /// The node this hop reaches.
    pub pub_key: NodeId,
    /// What this hop's node forwards to the next (for the last hop, what the target receives).
    pub amt_to_forward_msat: Msat,
    /// Fee this hop's node charges (what it receives minus what it forwards).
    pub fee_msat: Msat,
    /// Absolute expiry (block height) of the HTLC this hop's node sends on;
    /// for the last hop, of the one it receives: block height + final CLTV delta.
    pub expiry: u32,
    /// Capacity of the channel into this hop (as given to MC).
    pub chan_capacity_sat: Sat,
}

/// A route as LND builds it (`newRoute`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltRoute {
    /// The paying node, where the route starts.
    pub source: NodeId,
    /// Absolute expiry (block height) of the HTLC the source sends: block height + final delta +
    /// every forwarding node's delta.
    pub total_time_lock: u32,
    /// What the source sends into the first hop: the payment plus every fee.
    pub total_amt_msat: Msat,
    /// Hops in order from the first (the source's peer) to the target.
    pub hops: Vec<RouteHop>,
    /// `Some(total)` on every hop's MPP record for a shard of a larger payment.
    pub mpp_total_msat: Option<Msat>,
}

impl BuiltRoute {
    /// What the sender pays above what the receiver gets (LND's
    /// `Route.TotalFees`, whose unsigned subtraction wraps).
    pub fn total_fees_msat(&self) -> Msat {
        let received = self.hops.last().map_or(Msat::ZERO, |h| h.amt_to_forward_msat);
        self.total_amt_msat.wrapping_sub(received)
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
/// hop back to the first. Amounts add as LND's `uint64`s do (wrapping);
/// a path [`find_path`] found keeps every sum far inside `u64`.
#[deny(clippy::arithmetic_side_effects)]
pub fn new_route(
    graph: &Graph,
    source: NodeId,
    path: &[PathEdge],
    block_height: u32,
    final_amt_msat: Msat,
    final_cltv_delta: u16,
    mpp_total_msat: Option<Msat>,
) -> BuiltRoute {
    let mut hops = Vec::with_capacity(path.len());
    let mut total_time_lock = block_height;
    let mut next_incoming = Msat::ZERO;
    for (i, edge) in path.iter().enumerate().rev() {
        let (amt_to_forward, fee, outgoing_time_lock);
        match path.get(i.wrapping_add(1)) {
            None => {
                amt_to_forward = final_amt_msat;
                fee = Msat::ZERO;
                total_time_lock = total_time_lock.wrapping_add(u32::from(final_cltv_delta));
                outgoing_time_lock = total_time_lock;
            }
            Some(next) => {
                amt_to_forward = next_incoming;
                fee = next.policy.fee(amt_to_forward);
                outgoing_time_lock = total_time_lock;
                total_time_lock = total_time_lock.wrapping_add(u32::from(next.policy.time_lock_delta));
            }
        }
        hops.push(RouteHop {
            chan_id: edge.chan_id,
            pub_key: *graph.node(edge.to),
            amt_to_forward_msat: amt_to_forward,
            fee_msat: Msat::ZERO,
            expiry: outgoing_time_lock,
            chan_capacity_sat: edge.capacity_sat,
        });
        next_incoming = amt_to_forward.wrapping_add(fee);
    }
    hops.reverse();
    // A hop's fee is what it receives minus what it forwards (route.HopFee).
    let mut incoming = next_incoming;
    for h in &mut hops {
        h.fee_msat = incoming.wrapping_sub(h.amt_to_forward_msat);
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
