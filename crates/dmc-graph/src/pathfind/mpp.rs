//! Splitting a payment into shards as LND's MPP does.

use super::*;

/// LND's MPP defaults: at most 16 shards, none below 10 000 sat.
pub const DEFAULT_MAX_PARTS: u32 = 16;
/// LND's smallest shard (10 000 sat): when halving would go below it, the payment fails with
/// `NoRoute`.
pub const DEFAULT_MIN_SHARD_MSAT: Msat = Msat(10_000_000);

/// One shard of a split payment and its success probability.
#[derive(Clone, Debug, PartialEq)]
pub struct Shard {
    /// The shard's route, carrying its share of the amount with the payment's total in its MPP
    /// record.
    pub route: BuiltRoute,
    /// Product of the hop success probabilities of the route, as the search computed them (0..1).
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
    probability: &mut dyn SuccessProbability,
    max_parts: u32,
    min_shard_msat: Msat,
) -> Result<Vec<Shard>, PathError> {
    let total = req.amt_msat;
    let mut remaining = total;
    let mut fee_budget = req.fee_limit_msat;
    let mut shard_req = req.clone();
    shard_req.mpp_total_msat = Some(total);
    let mut shards: Vec<Shard> = Vec::new();
    while remaining > Msat::ZERO {
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
                    max_amt = max_amt.half();
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
                    .or_insert(chan.capacity_sat.to_msat_saturating());
                *bw = bw.saturating_sub(route.total_amt_msat);
            }
        }
        fee_budget = fee_budget.saturating_sub(route.total_fees_msat());
        // Each shard is at most what remains.
        remaining = remaining.saturating_sub(max_amt);
        shards.push(Shard { route, probability: p });
    }
    Ok(shards)
}
