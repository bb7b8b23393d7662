//! The distance heap of the route search (LND's `distanceHeap`: a binary
//! heap with each node's position, so a shorter distance moves it up).

use super::*;

#[derive(Clone, Copy, Debug)]
pub(super) struct NodeWithDist {
    pub(super) dist: i64,
    pub(super) weight: i64,
    pub(super) node: u32,
    pub(super) net_amount_received: Msat,
    pub(super) incoming_cltv: i32,
    pub(super) probability: f64,
    pub(super) next_hop: Option<PathEdge>,
    pub(super) routing_info_size: u64,
}

/// Go's `container/heap` over `NodeWithDist`, with LND's `PushOrFix`.
pub(super) struct DistanceHeap {
    pub(super) nodes: Vec<NodeWithDist>,
    /// Position of each graph node in `nodes`, `NOT_IN_HEAP` if absent.
    pub(super) index: Vec<u32>,
}

pub(super) const NOT_IN_HEAP: u32 = u32::MAX;

impl DistanceHeap {
    pub(super) fn less(&self, i: usize, j: usize) -> bool {
        let (a, b) = (&self.nodes[i], &self.nodes[j]);
        if a.dist == b.dist {
            return a.probability > b.probability;
        }
        a.dist < b.dist
    }

    pub(super) fn swap(&mut self, i: usize, j: usize) {
        self.nodes.swap(i, j);
        self.index[self.nodes[i].node as usize] = i as u32;
        self.index[self.nodes[j].node as usize] = j as u32;
    }

    pub(super) fn up(&mut self, mut j: usize) {
        while j > 0 {
            let i = (j - 1) / 2;
            if !self.less(j, i) {
                break;
            }
            self.swap(i, j);
            j = i;
        }
    }

    pub(super) fn down(&mut self, i0: usize, n: usize) -> bool {
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

    pub(super) fn push_or_fix(&mut self, d: NodeWithDist) {
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

    pub(super) fn pop(&mut self) -> Option<NodeWithDist> {
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
