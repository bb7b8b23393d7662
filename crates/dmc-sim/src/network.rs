//! The simulated network: a channel graph plus the balances that real nodes
//! keep private, and the faults a scenario injects.

use std::collections::HashMap;

use dmc_core::{Msat, NodeId};
use dmc_graph::{Graph, Policy};

use crate::rng::Rng;

/// How hidden balances are drawn for each channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BalanceModel {
    /// node1's share uniform over [0, capacity].
    Uniform,
    /// Most liquidity at one end, as LND's bimodal estimator assumes: a
    /// truncated exponential of scale `scale_msat` from a random end.
    Bimodal {
        /// Mean distance of the balance from its end, in msat (the exponential's scale before
        /// truncation to the capacity); LND's default is 300 000 sat.
        scale_msat: Msat,
    },
    /// node1 holds this fraction of the capacity.
    Fixed {
        /// node1's share of the capacity, clamped to [0, 1].
        node1_fraction: f64,
    },
}

impl BalanceModel {
    /// The model's name on the command line and in reports (`uniform`, `bimodal`, `fixed`).
    pub fn name(&self) -> &'static str {
        match self {
            BalanceModel::Uniform => "uniform",
            BalanceModel::Bimodal { .. } => "bimodal",
            BalanceModel::Fixed { .. } => "fixed",
        }
    }

    /// `uniform`, `bimodal` (LND's default scale) or `fixed` (half each).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "uniform" => Some(BalanceModel::Uniform),
            "bimodal" => Some(BalanceModel::Bimodal {
                scale_msat: Msat(300_000_000),
            }),
            "fixed" => Some(BalanceModel::Fixed { node1_fraction: 0.5 }),
            _ => None,
        }
    }

    fn draw(&self, capacity: Msat, rng: &mut Rng) -> Msat {
        let c = capacity.as_f64();
        let x = match *self {
            BalanceModel::Uniform => rng.f64() * c,
            BalanceModel::Fixed { node1_fraction } => node1_fraction.clamp(0.0, 1.0) * c,
            BalanceModel::Bimodal { scale_msat } => {
                let s = scale_msat.max(Msat(1)).as_f64();
                let u = rng.f64();
                let from_end = -s * (1.0 - u * (1.0 - (-c / s).exp())).ln();
                if rng.f64() < 0.5 {
                    from_end
                } else {
                    c - from_end
                }
            }
        };
        Msat(x.max(0.0) as u64).min(capacity)
    }
}

/// What can go wrong at a hop besides liquidity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HopFault {
    /// The channel is closed: its forwarding node answers UNKNOWN_NEXT_PEER.
    Closed,
}

/// A channel graph with private balances.
#[derive(Clone)]
pub struct Network {
    /// The public graph: what every node's gossip shows (policies are the announced ones).
    pub graph: Graph,
    /// Spendable amount per channel: `[node1 → node2, node2 → node1]`.
    balance: Vec<[Msat; 2]>,
    faults: HashMap<u32, HopFault>,
    /// Policies nodes really enforce when they differ from the announced ones.
    enforced: HashMap<(u32, u8), Policy>,
    /// Receivers that reject every payment (wrong payment details).
    pub rejecting_receivers: Vec<NodeId>,
    /// Channel indices of each node.
    node_channels: Vec<Vec<u32>>,
    /// While a journal is open: each touched channel's balance before its first change.
    journal: Option<Vec<(u32, [Msat; 2])>>,
    /// Nodes that are offline now, and nodes whose channels gossip shows
    /// disabled (empty until [`crate::availability`] takes a node offline).
    offline: Vec<bool>,
    gossip_disabled: Vec<bool>,
}

/// One sender's private view of the world: how its own settled payments
/// moved each channel (msat added to node1's side), applied on top of the
/// balances everyone else sees. Lets several arms pay on one shared world
/// without their payments touching each other.
pub type Overlay = HashMap<u32, i64>;

impl Network {
    /// Balances drawn from `model`, deterministic for `seed`.
    pub fn new(graph: Graph, model: BalanceModel, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let balance = graph
            .channels()
            .iter()
            .map(|ch| {
                let cap = ch.capacity_sat.to_msat_saturating();
                let b1 = model.draw(cap, &mut rng);
                [b1, cap.saturating_sub(b1)]
            })
            .collect();
        let mut node_channels = vec![Vec::new(); graph.node_count()];
        for (ci, ch) in graph.channels().iter().enumerate() {
            node_channels[ch.node1 as usize].push(ci as u32);
            node_channels[ch.node2 as usize].push(ci as u32);
        }
        Network {
            graph,
            balance,
            node_channels,
            faults: HashMap::new(),
            enforced: HashMap::new(),
            rejecting_receivers: Vec::new(),
            journal: None,
            offline: Vec::new(),
            gossip_disabled: Vec::new(),
        }
    }

    /// Whether node `n` is offline (it neither forwards nor receives).
    pub fn is_offline(&self, n: u32) -> bool {
        self.offline.get(n as usize).copied().unwrap_or(false)
    }

    /// Whether gossip shows node `n`'s channels disabled (LND's
    /// `chan-disable-timeout` after it went offline, until
    /// `chan-enable-timeout` after it came back).
    pub fn is_gossip_disabled(&self, n: u32) -> bool {
        self.gossip_disabled.get(n as usize).copied().unwrap_or(false)
    }

    /// Whether any node has ever been taken offline (so checks can be skipped).
    pub fn has_outages(&self) -> bool {
        !self.offline.is_empty()
    }

    /// Takes node `n` offline (it neither forwards nor receives) or brings it back; gossip is left
    /// to [`Network::set_gossip_disabled`].
    pub fn set_offline(&mut self, n: u32, offline: bool) {
        if self.offline.is_empty() {
            self.offline = vec![false; self.graph.node_count()];
            self.gossip_disabled = vec![false; self.graph.node_count()];
        }
        if let Some(x) = self.offline.get_mut(n as usize) {
            *x = offline;
        }
    }

    /// Shows node `n`'s channels as disabled in gossip, or re-enables them; while disabled,
    /// senders' pathfinding gives hops into or out of `n` probability 0.
    pub fn set_gossip_disabled(&mut self, n: u32, disabled: bool) {
        if let Some(x) = self.gossip_disabled.get_mut(n as usize) {
            *x = disabled;
        }
    }

    /// Both sides' spendable amounts of channel `ci`: `[node1 → node2, node2 → node1]`.
    pub fn balances(&self, ci: u32) -> [Msat; 2] {
        self.balance[ci as usize]
    }

    /// Sets channel `ci` so that `dir`'s side holds `fraction` of the capacity
    /// (a rebalance or swap by its owner; the capacity is unchanged).
    pub fn refill(&mut self, ci: u32, dir: usize, fraction: f64) {
        let cap = self.graph.channels()[ci as usize].capacity_sat.to_msat_saturating();
        let side = Msat((cap.as_f64() * fraction.clamp(0.0, 1.0)) as u64).min(cap);
        self.record(ci);
        self.balance[ci as usize][dir] = side;
        self.balance[ci as usize][1 - dir] = cap.saturating_sub(side);
    }

    fn record(&mut self, ci: u32) {
        if let Some(j) = &mut self.journal {
            if !j.iter().any(|(c, _)| *c == ci) {
                j.push((ci, self.balance[ci as usize]));
            }
        }
    }

    /// Runs `f` on the world as `overlay` sees it, then stores what `f`
    /// changed in `overlay` and puts the world back as it was. Every HTLC
    /// `f` adds must be resolved when it returns (as [`crate::pay`] does).
    pub fn with_overlay<R>(&mut self, overlay: &mut Overlay, f: impl FnOnce(&mut Network) -> R) -> R {
        let mut world: Vec<(u32, [Msat; 2])> = Vec::with_capacity(overlay.len());
        for (&ci, &d) in overlay.iter() {
            let b = self.balance[ci as usize];
            world.push((ci, b));
            // The two sides sum to the capacity, which fits in msat.
            let total = b[0].saturating_add(b[1]);
            let b0 = Msat((b[0].0 as i128 + d as i128).clamp(0, total.0 as i128) as u64);
            self.balance[ci as usize] = [b0, total.saturating_sub(b0)];
        }
        self.journal = Some(Vec::new());
        let r = f(self);
        let journal = self.journal.take().unwrap_or_default();
        for (ci, before) in journal {
            if !world.iter().any(|(c, _)| *c == ci) {
                world.push((ci, before));
            }
        }
        for (ci, w) in world {
            let now = self.balance[ci as usize];
            let d = now[0].0 as i64 - w[0].0 as i64;
            if d == 0 {
                overlay.remove(&ci);
            } else {
                overlay.insert(ci, d);
            }
            self.balance[ci as usize] = w;
        }
        r
    }

    /// The channel a forwarding node uses for `amt` towards the same peer:
    /// the requested one if it can carry the amount, else another channel to
    /// that peer that can (non-strict forwarding, as LND, CLN and LDK do).
    pub(crate) fn forwarding_channel(&self, ci: u32, dir: usize, amt: Msat) -> (u32, usize) {
        if self.balance[ci as usize][dir] >= amt {
            return (ci, dir);
        }
        let ch = &self.graph.channels()[ci as usize];
        let from = if dir == 0 { ch.node1 } else { ch.node2 };
        for &alt in self.graph.channels_between(ch.node1, ch.node2) {
            let adir = usize::from(self.graph.channels()[alt as usize].node1 != from);
            if self.can_forward(alt, adir, amt) {
                return (alt, adir);
            }
        }
        (ci, dir)
    }

    /// Whether channel `ci` can carry `amt` from `dir`'s side right now: an
    /// enabled policy whose HTLC range holds the amount, the balance, no fault.
    pub fn can_forward(&self, ci: u32, dir: usize, amt: Msat) -> bool {
        let ch = &self.graph.channels()[ci as usize];
        ch.policies[dir]
            .is_some_and(|p| !p.disabled && amt >= p.min_htlc_msat && p.max_htlc_msat.is_none_or(|m| amt <= m))
            && self.balance[ci as usize][dir] >= amt
            && self.fault(ci).is_none()
    }

    /// Sets the balance each side can send: `from`'s side gets `from_msat`.
    pub fn set_balance(&mut self, chan_id: u64, from: &NodeId, from_msat: Msat) {
        let Some(ci) = self.graph.channel_index(chan_id) else {
            return;
        };
        let ch = &self.graph.channels()[ci as usize];
        let cap = ch.capacity_sat.to_msat_saturating();
        let dir = usize::from(self.graph.node(ch.node1) != from);
        let from_msat = from_msat.min(cap);
        self.balance[ci as usize][dir] = from_msat;
        self.balance[ci as usize][1 - dir] = cap.saturating_sub(from_msat);
    }

    /// Injects a fault on the channel with this id (ignored for an unknown id).
    pub fn set_fault(&mut self, chan_id: u64, fault: HopFault) {
        if let Some(ci) = self.graph.channel_index(chan_id) {
            self.faults.insert(ci, fault);
        }
    }

    /// `from` now enforces `policy` on the channel, whatever it announced.
    pub fn change_policy(&mut self, chan_id: u64, from: &NodeId, policy: Policy) {
        if let Some(ci) = self.graph.channel_index(chan_id) {
            let ch = &self.graph.channels()[ci as usize];
            let dir = u8::from(self.graph.node(ch.node1) != from);
            self.enforced.insert((ci, dir), policy);
        }
    }

    /// (channel index, direction) of `chan_id` leaving `from`.
    pub(crate) fn direction(&self, chan_id: u64, from: &NodeId) -> Option<(u32, usize)> {
        let ci = self.graph.channel_index(chan_id)?;
        let ch = &self.graph.channels()[ci as usize];
        let from_idx = self.graph.node_index(from)?;
        match from_idx {
            f if f == ch.node1 => Some((ci, 0)),
            f if f == ch.node2 => Some((ci, 1)),
            _ => None,
        }
    }

    /// What the sending side of channel index `ci` can forward in direction `dir` (0: node1 →
    /// node2), its hidden balance.
    pub fn spendable(&self, ci: u32, dir: usize) -> Msat {
        self.balance[ci as usize][dir]
    }

    pub(crate) fn fault(&self, ci: u32) -> Option<HopFault> {
        self.faults.get(&ci).copied()
    }

    pub(crate) fn enforced_policy(&self, ci: u32, dir: usize) -> Option<Policy> {
        self.enforced.get(&(ci, dir as u8)).copied()
    }

    /// Takes `amt` out of `dir`'s side (an HTLC is added).
    pub(crate) fn lock(&mut self, ci: u32, dir: usize, amt: Msat) {
        self.record(ci);
        let side = &mut self.balance[ci as usize][dir];
        *side = side
            .checked_sub(amt)
            .expect("an HTLC locks at most the sender's balance");
    }

    /// Gives a locked amount back (the HTLC failed).
    pub(crate) fn unlock(&mut self, ci: u32, dir: usize, amt: Msat) {
        self.record(ci);
        let side = &mut self.balance[ci as usize][dir];
        *side = side.checked_add(amt).expect("a released HTLC returns what it locked");
    }

    /// Moves a locked amount to the other side (the HTLC settled).
    pub(crate) fn settle(&mut self, ci: u32, dir: usize, amt: Msat) {
        self.record(ci);
        let side = &mut self.balance[ci as usize][1 - dir];
        *side = side.checked_add(amt).expect("a settled HTLC moves what it locked");
    }

    /// What `node` can send on each of its channels, by channel id.
    pub fn local_bandwidth(&self, node: &NodeId) -> HashMap<u64, Msat> {
        let Some(n) = self.graph.node_index(node) else {
            return HashMap::new();
        };
        self.node_channels[n as usize]
            .iter()
            .map(|&ci| {
                let ch = &self.graph.channels()[ci as usize];
                let dir = usize::from(ch.node1 != n);
                let peer = if dir == 0 { ch.node2 } else { ch.node1 };
                // A channel to an offline peer has no usable link.
                let bandwidth = if self.is_offline(peer) {
                    Msat::ZERO
                } else {
                    self.balance[ci as usize][dir]
                };
                (ch.chan_id, bandwidth)
            })
            .collect()
    }

    /// Total msat held in channels, for conservation checks.
    pub fn total_balance_msat(&self) -> u128 {
        self.balance.iter().map(|b| b[0].0 as u128 + b[1].0 as u128).sum()
    }
}
