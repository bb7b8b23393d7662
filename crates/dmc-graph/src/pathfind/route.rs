//! A found path as a route: amounts, fees and time locks hop by hop, as LND's `newRoute` builds them.

use super::*;

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
