//! What a coordinator's graph says about reporters and pairs
//! ([`dmc_core::aggregate::GraphStanding`]): who is an established node and
//! how large the channels between two nodes are. One implementation for
//! `dmc serve` and the simulator's coordinator.

use std::collections::{HashMap, HashSet};

use dmc_core::aggregate::{ChannelCheck, GraphStanding};
use dmc_core::{DirectedPair, Msat, NodeId, Sat};

use crate::Graph;

/// The standing a graph gives: established nodes and the largest channel
/// between each pair of nodes. Keeps no reference to the graph.
#[derive(Clone, Debug, Default)]
pub struct Standing {
    established: HashSet<NodeId>,
    /// Largest channel capacity per unordered node pair, smaller key first.
    capacity: HashMap<(NodeId, NodeId), Msat>,
}

impl Standing {
    /// Established: a node of `graph` whose channels' capacities sum to at
    /// least `min_capacity`.
    pub fn new(graph: &Graph, min_capacity: Sat) -> Self {
        let mut capacity: HashMap<(NodeId, NodeId), Msat> = HashMap::new();
        for ch in graph.channels() {
            let (a, b) = (*graph.node(ch.node1), *graph.node(ch.node2));
            let c = capacity.entry((a.min(b), a.max(b))).or_default();
            *c = (*c).max(ch.capacity_sat.to_msat_saturating());
        }
        let established = graph
            .node_capacities_sat()
            .iter()
            .enumerate()
            .filter(|(_, t)| **t >= min_capacity)
            .map(|(i, _)| *graph.node(i as u32))
            .collect();
        Standing { established, capacity }
    }

    /// How many nodes are established.
    pub fn established_count(&self) -> usize {
        self.established.len()
    }
}

impl GraphStanding for Standing {
    fn is_established(&self, node: &NodeId) -> bool {
        self.established.contains(node)
    }

    /// The largest capacity between the pair's nodes, either direction.
    fn channel(&self, pair: &DirectedPair) -> ChannelCheck {
        let key = (pair.from.min(pair.to), pair.from.max(pair.to));
        match self.capacity.get(&key) {
            Some(c) => ChannelCheck::Capacity(*c),
            None => ChannelCheck::NoChannel,
        }
    }
}
