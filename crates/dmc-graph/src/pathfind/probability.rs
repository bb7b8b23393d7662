//! Probability sources for [`find_path`] besides mission control's
//! [`Prober`](dmc_core::mission_control::Prober): what `QueryRoutes` adds
//! around it.

use super::*;

/// Every hop succeeds: `QueryRoutes` without mission control
/// (`--use_mc=false`), and pathfinding by fees alone.
#[derive(Clone, Copy, Debug, Default)]
pub struct Certain;

impl SuccessProbability for Certain {
    fn success_probability(&mut self, _from: &NodeId, _to: &NodeId, _amt: Msat, _capacity: Sat) -> f64 {
        1.0
    }
}

/// LND's `QueryRoutes` probability source: hops out of an ignored node or
/// over an ignored pair never succeed; every other hop asks `estimate`.
pub struct Ignoring<'a> {
    /// Nodes whose outgoing hops get probability 0 (`ignored_nodes`).
    pub nodes: Vec<NodeId>,
    /// Directed pairs `(from, to)`.
    pub pairs: Vec<(NodeId, NodeId)>,
    /// The probability source for every hop not ignored (mission control, or [`Certain`]).
    pub estimate: &'a mut dyn SuccessProbability,
}

impl SuccessProbability for Ignoring<'_> {
    fn success_probability(&mut self, from: &NodeId, to: &NodeId, amt: Msat, capacity: Sat) -> f64 {
        if self.nodes.contains(from) || self.pairs.contains(&(*from, *to)) {
            return 0.0;
        }
        self.estimate.success_probability(from, to, amt, capacity)
    }
}
