//! Nodes that go offline, and the gossip that tells others late.
//!
//! # The model
//!
//! Off by default ([`AvailabilityParams::offline_share`] = 0). When on,
//! every node except the experiment's own senders and their peers
//! ([`Availability::new`]'s `pinned`) alternates between online and offline
//! as a two-state Markov chain looked at every [`AvailabilityParams::tick_s`]:
//! outages last [`AvailabilityParams::mean_outage_s`] on average, and the
//! rate of going offline is chosen so that `offline_share` of the time a
//! node is offline. An offline node forwards and receives nothing: the
//! node before it answers UNKNOWN_NEXT_PEER. Gossip catches up as LND's
//! channel status manager does: a peer's channels are announced disabled
//! after it has been offline for `chan-disable-timeout` (20 min) and
//! re-enabled `chan-enable-timeout` (19 min) after it is back; until then
//! pathfinding still uses (or still avoids) them. Background payments see
//! the truth (they stand for senders whose retries are not simulated).
//!
//! No published figure gives the share of offline nodes or how long their
//! outages last; [`crate::reach`] shows what a given setting does to reach
//! beside LDK's mainnet probing results.

use dmc_core::time::DurationNs;
use dmc_core::Timestamp;

use crate::network::Network;
use crate::rng::Rng;

const NS: DurationNs = DurationNs::SECOND;

/// How often nodes are offline, for how long, and how fast gossip says so.
#[derive(Clone, Debug, PartialEq)]
pub struct AvailabilityParams {
    /// Long-run share of time a node is offline (0: everyone always online).
    pub offline_share: f64,
    /// Mean length of an outage, in seconds (close to exponential: an offline node comes back with
    /// the same probability every tick).
    pub mean_outage_s: i64,
    /// LND's `chan-disable-timeout` default.
    pub disable_after_s: i64,
    /// LND's `chan-enable-timeout` default.
    pub enable_after_s: i64,
    /// Seconds between two looks at the chain: each node may flip state once per tick.
    pub tick_s: i64,
}

impl Default for AvailabilityParams {
    fn default() -> Self {
        AvailabilityParams {
            offline_share: 0.0,
            mean_outage_s: 3600,
            disable_after_s: 20 * 60,
            enable_after_s: 19 * 60,
            tick_s: 60,
        }
    }
}

impl AvailabilityParams {
    /// Whether nodes go offline at all (`offline_share > 0`).
    pub fn is_on(&self) -> bool {
        self.offline_share > 0.0
    }
}

/// The online/offline state of every node, advanced on a simulated clock.
pub struct Availability {
    params: AvailabilityParams,
    pinned: Vec<bool>,
    offline: Vec<bool>,
    /// Unix seconds of each node's last change.
    since: Vec<i64>,
    rng: Rng,
    next_tick: Timestamp,
    /// Outages begun since the start (by [`Availability::advance`]; nodes offline at the start are
    /// not counted).
    pub outages: u64,
}

impl Availability {
    /// Starts in the stationary state: each unpinned node offline with
    /// probability `offline_share`, its outage begun at a random time.
    pub fn new(net: &mut Network, params: AvailabilityParams, pinned: &[u32], seed: u64, start: Timestamp) -> Self {
        let n = net.graph.node_count();
        let mut rng = Rng::new(seed);
        let mut pin = vec![false; n];
        for p in pinned {
            if let Some(x) = pin.get_mut(*p as usize) {
                *x = true;
            }
        }
        let share = params.offline_share.clamp(0.0, 0.95);
        let mut offline = vec![false; n];
        let mut since = vec![start.unix_secs() - 86_400; n];
        if params.is_on() {
            for i in 0..n {
                if !pin[i] && rng.f64() < share {
                    offline[i] = true;
                    // Exponential outages are memoryless: time already out is exponential too.
                    let age = (-(1.0 - rng.f64()).ln() * params.mean_outage_s.max(1) as f64) as i64;
                    since[i] = start.unix_secs() - age;
                }
                net.set_offline(i as u32, offline[i]);
                net.set_gossip_disabled(
                    i as u32,
                    offline[i] && start.unix_secs() - since[i] >= params.disable_after_s,
                );
            }
        }
        Availability {
            next_tick: start.add(params.tick_s.max(1) * NS),
            params,
            pinned: pin,
            offline,
            since,
            rng,
            outages: 0,
        }
    }

    /// Every tick before `until`: outages start and end, gossip follows.
    pub fn advance(&mut self, net: &mut Network, until: Timestamp) {
        if !self.params.is_on() {
            return;
        }
        let p = &self.params;
        let tick = p.tick_s.max(1);
        let share = p.offline_share.clamp(0.0, 0.95);
        let back_rate = 1.0 / p.mean_outage_s.max(1) as f64;
        let down_rate = back_rate * share / (1.0 - share);
        let p_down = 1.0 - (-down_rate * tick as f64).exp();
        let p_back = 1.0 - (-back_rate * tick as f64).exp();
        while until.after(self.next_tick) {
            let now = self.next_tick.unix_secs();
            for i in 0..self.offline.len() {
                if self.pinned[i] {
                    continue;
                }
                let flip = self.rng.f64() < if self.offline[i] { p_back } else { p_down };
                if flip {
                    self.offline[i] = !self.offline[i];
                    self.since[i] = now;
                    net.set_offline(i as u32, self.offline[i]);
                    self.outages += u64::from(self.offline[i]);
                }
                let age = now - self.since[i];
                if self.offline[i] && age >= p.disable_after_s {
                    net.set_gossip_disabled(i as u32, true);
                } else if !self.offline[i] && age >= p.enable_after_s {
                    net.set_gossip_disabled(i as u32, false);
                }
            }
            self.next_tick = self.next_tick.add(tick * NS);
        }
    }

    /// Share of unpinned nodes offline now.
    pub fn offline_now(&self) -> f64 {
        let free = self.pinned.iter().filter(|p| !**p).count().max(1);
        self.offline.iter().filter(|o| **o).count() as f64 / free as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::BalanceModel;
    use dmc_core::{Msat, NodeId, Sat};
    use dmc_graph::{Graph, Policy};

    fn graph(n: u32) -> Graph {
        let key = |i: u32| {
            let mut k = [0u8; 33];
            k[0] = 2;
            k[1..5].copy_from_slice(&i.to_be_bytes());
            NodeId(k)
        };
        let p = Policy {
            time_lock_delta: 40,
            min_htlc_msat: Msat(1),
            max_htlc_msat: None,
            fee_base_msat: Msat(0),
            fee_rate_ppm: 0,
            disabled: false,
        };
        let mut g = Graph::default();
        for i in 1..n {
            g.add_channel(i as u64, key(0), key(i), Sat(100_000), Some(p), Some(p));
        }
        g
    }

    #[test]
    fn share_outages_and_gossip_delay() {
        let g = graph(2001);
        let mut net = Network::new(g.clone(), BalanceModel::Uniform, 1);
        let start = Timestamp::from_unix_secs(1_700_000_000);
        let params = AvailabilityParams {
            offline_share: 0.2,
            ..AvailabilityParams::default()
        };
        let hub = g.node_index(g.node(0)).unwrap();
        let mut a = Availability::new(&mut net, params, &[hub], 7, start);
        let mut shares = Vec::new();
        for h in 1..=48 {
            a.advance(&mut net, start.add(h * 3600 * NS));
            shares.push(a.offline_now());
            assert!(!net.is_offline(hub), "a pinned node went offline");
        }
        let mean = shares.iter().sum::<f64>() / shares.len() as f64;
        assert!((0.17..0.23).contains(&mean), "offline share {mean}");
        assert!(a.outages > 1000, "outages end and start: {}", a.outages);
        // Gossip lags: some offline nodes are not yet disabled, some online ones still are.
        let n = g.node_count() as u32;
        let lag_off = (0..n)
            .filter(|i| net.is_offline(*i) && !net.is_gossip_disabled(*i))
            .count();
        let lag_on = (0..n)
            .filter(|i| !net.is_offline(*i) && net.is_gossip_disabled(*i))
            .count();
        assert!(lag_off > 0 && lag_on > 0, "{lag_off} {lag_on}");
        // Off by default: nothing changes and no state is allocated.
        let mut quiet = Network::new(g, BalanceModel::Uniform, 1);
        let mut b = Availability::new(&mut quiet, AvailabilityParams::default(), &[], 7, start);
        b.advance(&mut quiet, start.add(48 * 3600 * NS));
        assert!(!quiet.has_outages());
    }
}
