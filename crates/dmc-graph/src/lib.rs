//! # dmc-graph: the channel graph
//!
//! Loads `lncli describegraph` JSON (plain or gzip, integers as strings or
//! numbers, as lncli prints them) into a compact graph of nodes, channels
//! and per-direction routing policies, and answers the capacity lookup that
//! LND's `QueryProbability` makes before asking mission control (spec §8.2).
//!
//! Malformed input is refused with an error that names the edge and field.

pub mod listchannels;
pub mod pathfind;
pub mod standing;

pub use standing::Standing;

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

use dmc_core::{Msat, NodeId, Sat};
use serde_json::Value;

/// The most a fee can be: all the bitcoin there will ever be (21 million
/// BTC). A graph file may announce any base fee and rate.
pub const MAX_FEE: Msat = Msat(2_100_000_000_000_000_000);

/// One direction's routing policy, as announced by the sending node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Blocks the sending node adds to an HTLC's expiry when it forwards over this channel
    /// (`cltv_expiry_delta`).
    pub time_lock_delta: u16,
    /// Smallest HTLC the sending node forwards.
    pub min_htlc_msat: Msat,
    /// `None` when the policy announces no maximum.
    pub max_htlc_msat: Option<Msat>,
    /// Fixed part of the forwarding fee, charged on every HTLC.
    pub fee_base_msat: Msat,
    /// Proportional fee in millionths of the forwarded amount.
    pub fee_rate_ppm: u64,
    /// The sending node announced this direction as disabled; pathfinding and the capacity lookup
    /// skip it.
    pub disabled: bool,
}

impl Policy {
    /// LND's `amtInRange`: an HTLC of `amt` fits this policy on a channel
    /// of `capacity` (0: unknown, no bound).
    #[deny(clippy::arithmetic_side_effects)]
    pub fn accepts(&self, capacity: Sat, amt: Msat) -> bool {
        !(capacity > Sat::ZERO && amt > capacity.to_msat_saturating())
            && self.max_htlc_msat.is_none_or(|m| amt <= m)
            && amt >= self.min_htlc_msat
    }

    /// LND's `ComputeFee`, `base + amt × rate / 10⁶`: what the sending node
    /// charges to forward `amt`. Computed in `u128`, where it cannot
    /// overflow, and capped at all the bitcoin there will ever be, so any
    /// sum of amounts and fees stays far inside `u64` and `i64`.
    #[deny(clippy::arithmetic_side_effects)]
    pub fn fee(&self, amt: Msat) -> Msat {
        let proportional = u128::from(amt.0)
            .checked_mul(u128::from(self.fee_rate_ppm))
            .map(|x| x / 1_000_000);
        let fee = proportional.and_then(|x| x.checked_add(u128::from(self.fee_base_msat.0)));
        match fee {
            Some(f) if f < u128::from(MAX_FEE.0) => Msat(f as u64),
            _ => MAX_FEE,
        }
    }

    /// The capacity LND hands to mission control for this channel: the
    /// channel's own, or for an unknown (0) capacity the policy's
    /// `max_htlc` (0 without one).
    #[deny(clippy::arithmetic_side_effects)]
    pub fn capacity_or_max_htlc(&self, capacity: Sat) -> Msat {
        match capacity.to_msat_saturating() {
            Msat::ZERO => self.max_htlc_msat.unwrap_or(Msat::ZERO),
            cap => cap,
        }
    }
}

/// A channel between `node1 < node2`; `policies[0]` is node1's (for
/// node1 → node2), `policies[1]` node2's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Short channel id (block height, transaction index, output index packed as LND's `uint64`).
    pub chan_id: u64,
    /// Dense index (see [`Graph::node`]) of the node with the smaller public key.
    pub node1: u32,
    /// Dense index of the node with the larger public key.
    pub node2: u32,
    /// Funding amount of the channel; 0 means unknown (lookups then fall back to `max_htlc`).
    pub capacity_sat: Sat,
    /// Per-direction policies, `None` where that node announced none.
    pub policies: [Option<Policy>; 2],
}

/// The channel graph.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    nodes: Vec<NodeId>,
    aliases: Vec<String>,
    index: HashMap<NodeId, u32>,
    channels: Vec<Channel>,
    /// Channels between each unordered node pair (smaller index first).
    by_pair: HashMap<(u32, u32), Vec<u32>>,
    /// Channel index by channel id.
    by_id: HashMap<u64, u32>,
    /// The newest `last_update` of any node or policy (Unix seconds; 0: none).
    newest_update: u64,
}

/// A graph file that cannot be used, with what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError(pub String);

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GraphError {}

/// A graph file's text; gzip (by its magic bytes) is decompressed.
pub(crate) fn read_graph_text(path: &Path) -> Result<String, GraphError> {
    let raw = std::fs::read(path).map_err(|e| GraphError(format!("reading {}: {e}", path.display())))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut s)
            .map_err(|e| GraphError(format!("decompressing {}: {e}", path.display())))?;
        Ok(s)
    } else {
        String::from_utf8(raw).map_err(|_| GraphError(format!("{}: not UTF-8 text", path.display())))
    }
}

/// Why the capacity of a pair could not be found (LND then reports
/// probability 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapacityError {
    /// No channel between the two nodes has a policy in the `from → to` direction (or a node is not
    /// in the graph).
    NoEdge,
    /// Some channel has a policy from `from`, but every one is disabled or refuses the amount.
    NoEdgeForAmount,
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapacityError::NoEdge => write!(f, "no edge info for the node pair"),
            CapacityError::NoEdgeForAmount => write!(f, "no usable edge for the node pair at this amount"),
        }
    }
}

fn uint(v: Option<&Value>, path: &str) -> Result<u64, GraphError> {
    match v {
        None | Some(Value::Null) => Err(GraphError(format!("{path}: missing"))),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| GraphError(format!("{path}: {s:?} is not a non-negative integer"))),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| GraphError(format!("{path}: {n} is not a non-negative integer"))),
        Some(v) => Err(GraphError(format!("{path}: {v} is not an integer"))),
    }
}

fn opt_uint(v: Option<&Value>, path: &str) -> Result<Option<u64>, GraphError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        v => uint(v, path).map(Some),
    }
}

fn parse_policy(v: &Value, capacity_sat: Sat, path: &str) -> Result<Option<Policy>, GraphError> {
    let o = match v {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => return Err(GraphError(format!("{path}: not an object"))),
    };
    let delta = uint(o.get("time_lock_delta"), &format!("{path}.time_lock_delta"))?;
    let time_lock_delta =
        u16::try_from(delta).map_err(|_| GraphError(format!("{path}.time_lock_delta: {delta} exceeds 65535")))?;
    let min_htlc_msat = Msat(opt_uint(o.get("min_htlc"), &format!("{path}.min_htlc"))?.unwrap_or(0));
    let max_htlc_msat = opt_uint(o.get("max_htlc_msat"), &format!("{path}.max_htlc_msat"))?
        .filter(|m| *m > 0)
        .map(Msat);
    if let Some(max) = max_htlc_msat {
        if max < min_htlc_msat {
            return Err(GraphError(format!(
                "{path}: max_htlc_msat {} is below min_htlc {}",
                max.0, min_htlc_msat.0
            )));
        }
    }
    if capacity_sat > Sat::ZERO && min_htlc_msat > capacity_sat.to_msat_saturating() {
        return Err(GraphError(format!(
            "{path}: min_htlc {min_htlc_msat} exceeds the capacity of {capacity_sat}"
        )));
    }
    let disabled = match o.get("disabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(GraphError(format!("{path}.disabled: {v} is not a boolean"))),
    };
    Ok(Some(Policy {
        time_lock_delta,
        min_htlc_msat,
        max_htlc_msat,
        fee_base_msat: Msat(opt_uint(o.get("fee_base_msat"), &format!("{path}.fee_base_msat"))?.unwrap_or(0)),
        fee_rate_ppm: opt_uint(o.get("fee_rate_milli_msat"), &format!("{path}.fee_rate_milli_msat"))?.unwrap_or(0),
        disabled,
    }))
}

/// A `last_update` as lncli or CLN print it (number or decimal string);
/// `None` when absent or malformed (it is informational only).
pub(crate) fn update_time(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl Graph {
    /// Reads a describegraph file; `.gz` (or gzip magic) is decompressed.
    pub fn load_describegraph(path: &Path) -> Result<Graph, GraphError> {
        let text = read_graph_text(path)?;
        Self::parse_describegraph(&text).map_err(|e| GraphError(format!("{}: {e}", path.display())))
    }

    /// Reads either format: Core Lightning `listchannels` (a top-level
    /// `"channels"` array) or `lncli describegraph`.
    pub fn load(path: &Path) -> Result<Graph, GraphError> {
        let text = read_graph_text(path)?;
        let head: String = text.chars().take(256).filter(|c| !c.is_whitespace()).collect();
        let parsed = if head.starts_with("{\"channels\"") {
            listchannels::parse_listchannels(&text)
        } else {
            Self::parse_describegraph(&text)
        };
        parsed.map_err(|e| GraphError(format!("{}: {e}", path.display())))
    }

    /// Parses describegraph JSON text.
    pub fn parse_describegraph(text: &str) -> Result<Graph, GraphError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| GraphError(format!("malformed JSON: {e}")))?;
        let mut g = Graph::default();
        if let Some(nodes) = doc.get("nodes") {
            let nodes = nodes
                .as_array()
                .ok_or_else(|| GraphError("nodes: not an array".into()))?;
            for (i, n) in nodes.iter().enumerate() {
                let key = n
                    .get("pub_key")
                    .and_then(Value::as_str)
                    .ok_or_else(|| GraphError(format!("nodes[{i}].pub_key: missing")))?;
                let id = NodeId::from_hex_unchecked(key)
                    .map_err(|e| GraphError(format!("nodes[{i}].pub_key: {key:?}: {e}")))?;
                let alias = n.get("alias").and_then(Value::as_str).unwrap_or("");
                let idx = g.intern(id);
                g.aliases[idx as usize] = alias.to_string();
            }
        }
        let edges = doc
            .get("edges")
            .and_then(Value::as_array)
            .ok_or_else(|| GraphError("edges: missing or not an array".into()))?;
        for (i, e) in edges.iter().enumerate() {
            let chan_id = uint(e.get("channel_id"), &format!("edges[{i}].channel_id"))?;
            let path = format!("edge {chan_id} (edges[{i}])");
            let key = |name: &str| -> Result<NodeId, GraphError> {
                let s = e
                    .get(name)
                    .and_then(Value::as_str)
                    .ok_or_else(|| GraphError(format!("{path}.{name}: missing")))?;
                NodeId::from_hex_unchecked(s).map_err(|err| GraphError(format!("{path}.{name}: {s:?}: {err}")))
            };
            let (n1, n2) = (key("node1_pub")?, key("node2_pub")?);
            if n1 == n2 {
                return Err(GraphError(format!("{path}: node1_pub and node2_pub are the same node")));
            }
            let capacity_sat = Sat(uint(e.get("capacity"), &format!("{path}.capacity"))?);
            let p1 = parse_policy(
                e.get("node1_policy").unwrap_or(&Value::Null),
                capacity_sat,
                &format!("{path}.node1_policy"),
            )?;
            let p2 = parse_policy(
                e.get("node2_policy").unwrap_or(&Value::Null),
                capacity_sat,
                &format!("{path}.node2_policy"),
            )?;
            g.add_channel(chan_id, n1, n2, capacity_sat, p1, p2);
            for p in ["node1_policy", "node2_policy"] {
                g.note_update(e.get(p).and_then(|p| update_time(p.get("last_update"))).unwrap_or(0));
            }
        }
        if let Some(nodes) = doc.get("nodes").and_then(Value::as_array) {
            for n in nodes {
                g.note_update(update_time(n.get("last_update")).unwrap_or(0));
            }
        }
        Ok(g)
    }

    /// Records an announcement time seen in the file.
    pub(crate) fn note_update(&mut self, unix_secs: u64) {
        self.newest_update = self.newest_update.max(unix_secs);
    }

    /// The newest announcement time in the file (Unix seconds): how fresh
    /// the snapshot is. `None` when the file carries no times.
    pub fn newest_update(&self) -> Option<u64> {
        (self.newest_update > 0).then_some(self.newest_update)
    }

    /// Every node's total channel capacity (sat), indexed as [`Graph::node`].
    pub fn node_capacities_sat(&self) -> Vec<Sat> {
        let mut caps = vec![Sat::ZERO; self.nodes.len()];
        for c in &self.channels {
            for n in [c.node1, c.node2] {
                caps[n as usize] = caps[n as usize].saturating_add(c.capacity_sat);
            }
        }
        caps
    }

    fn intern(&mut self, id: NodeId) -> u32 {
        if let Some(i) = self.index.get(&id) {
            return *i;
        }
        let i = self.nodes.len() as u32;
        self.nodes.push(id);
        self.aliases.push(String::new());
        self.index.insert(id, i);
        i
    }

    /// Adds a channel; `p1` is `n1`'s policy towards `n2`, `p2` the reverse.
    pub fn add_channel(
        &mut self,
        chan_id: u64,
        n1: NodeId,
        n2: NodeId,
        capacity_sat: Sat,
        p1: Option<Policy>,
        p2: Option<Policy>,
    ) {
        let (a, b) = (self.intern(n1), self.intern(n2));
        let (node1, node2, policies) = if a < b { (a, b, [p1, p2]) } else { (b, a, [p2, p1]) };
        let idx = self.channels.len() as u32;
        self.channels.push(Channel {
            chan_id,
            node1,
            node2,
            capacity_sat,
            policies,
        });
        self.by_pair.entry((node1, node2)).or_default().push(idx);
        self.by_id.insert(chan_id, idx);
    }

    /// Number of nodes; dense node indices run `0..node_count()`.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of channels, parallel channels counted separately.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Whether a node with this public key appears in the graph.
    pub fn contains_node(&self, id: &NodeId) -> bool {
        self.index.contains_key(id)
    }

    /// Dense index of a node, if it is in the graph.
    pub fn node_index(&self, id: &NodeId) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// Public key of the node at a dense index; panics if the index is out of range.
    pub fn node(&self, index: u32) -> &NodeId {
        &self.nodes[index as usize]
    }

    /// Index into [`Graph::channels`] of the channel with this id.
    pub fn channel_index(&self, chan_id: u64) -> Option<u32> {
        self.by_id.get(&chan_id).copied()
    }

    /// Every channel, in the order the graph file listed them.
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// Indices of the channels between two nodes (either order), in file order.
    pub fn channels_between(&self, a: u32, b: u32) -> &[u32] {
        self.by_pair.get(&(a.min(b), a.max(b))).map_or(&[], |v| v.as_slice())
    }

    /// The node's announced alias (empty if it announced none); `None` for a node not in the graph.
    pub fn alias(&self, id: &NodeId) -> Option<&str> {
        self.index.get(id).map(|i| self.aliases[*i as usize].as_str())
    }

    /// The capacity LND passes to mission control for `from → to` at
    /// `amt_msat` (LND's `FetchAmountPairCapacity`): the largest capacity
    /// among enabled channels whose policy from `from` accepts the amount,
    /// falling back to `max_htlc` for channels of unknown capacity.
    pub fn pair_capacity_sat(&self, from: &NodeId, to: &NodeId, amt: Msat) -> Result<Sat, CapacityError> {
        let (Some(&f), Some(&t)) = (self.index.get(from), self.index.get(to)) else {
            return Err(CapacityError::NoEdge);
        };
        let key = (f.min(t), f.max(t));
        let dir = usize::from(f > t);
        let chans = self.by_pair.get(&key).ok_or(CapacityError::NoEdge)?;
        let mut any_policy = false;
        let mut best: Option<Msat> = None;
        for &c in chans {
            let ch = &self.channels[c as usize];
            let Some(p) = ch.policies[dir] else { continue };
            any_policy = true;
            if !p.accepts(ch.capacity_sat, amt) || p.disabled {
                continue;
            }
            let cap = p.capacity_or_max_htlc(ch.capacity_sat);
            best = Some(best.unwrap_or(Msat::ZERO).max(cap));
        }
        match best {
            Some(cap) => Ok(cap.to_sat_floor()),
            None if any_policy => Err(CapacityError::NoEdgeForAmount),
            None => Err(CapacityError::NoEdge),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "03bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn graph(extra: &str) -> String {
        format!(
            r#"{{"nodes":[], "edges":[
            {{"channel_id":"1","node1_pub":"{A}","node2_pub":"{B}","capacity":"30000",
              "node1_policy":{{"time_lock_delta":40,"min_htlc":"1000","fee_base_msat":"1000","fee_rate_milli_msat":"1","disabled":false,"max_htlc_msat":"29700000"}},
              "node2_policy":null}},
            {{"channel_id":"2","node1_pub":"{A}","node2_pub":"{B}","capacity":"50000",
              "node1_policy":{{"time_lock_delta":40,"min_htlc":"1000","fee_base_msat":"0","fee_rate_milli_msat":"1","disabled":{extra},"max_htlc_msat":"49500000"}},
              "node2_policy":null}}]}}"#
        )
    }

    use dmc_core::aggregate::{ChannelCheck, GraphStanding};
    use dmc_core::DirectedPair;

    #[test]
    fn newest_update_and_capacities() {
        let text = graph("false")
            .replace(r#""max_htlc_msat":"29700000"}"#, r#""max_htlc_msat":"29700000","last_update":1770076800}"#)
            .replace(r#""nodes":[]"#, r#""nodes":[{"pub_key":"02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","last_update":"1700000000"}]"#);
        let g = Graph::parse_describegraph(&text).unwrap();
        assert_eq!(g.newest_update(), Some(1_770_076_800));
        let a = NodeId::from_hex_unchecked(A).unwrap();
        let b = NodeId::from_hex_unchecked(B).unwrap();
        assert_eq!(g.node_capacities_sat()[g.node_index(&a).unwrap() as usize], Sat(80_000));
        let st = Standing::new(&g, Sat(80_000));
        assert!(st.is_established(&a) && !Standing::new(&g, Sat(80_001)).is_established(&a));
        assert_eq!(
            st.channel(&DirectedPair::new(b, a)),
            ChannelCheck::Capacity(Msat(50_000_000))
        );
        assert_eq!(
            Graph::parse_describegraph(&graph("false")).unwrap().newest_update(),
            None
        );
    }

    #[test]
    fn capacity_lookup_follows_lnd() {
        let g = Graph::parse_describegraph(&graph("false")).unwrap();
        let (a, b) = (
            NodeId::from_hex_unchecked(A).unwrap(),
            NodeId::from_hex_unchecked(B).unwrap(),
        );
        assert_eq!(g.pair_capacity_sat(&a, &b, Msat(5_000_000)), Ok(Sat(50_000)));
        // Above the larger channel's max_htlc: nothing usable.
        assert_eq!(
            g.pair_capacity_sat(&a, &b, Msat(49_600_000)),
            Err(CapacityError::NoEdgeForAmount)
        );
        // Only channel 1 takes 29 000 sat once channel 2 is disabled.
        let g = Graph::parse_describegraph(&graph("true")).unwrap();
        assert_eq!(g.pair_capacity_sat(&a, &b, Msat(5_000_000)), Ok(Sat(30_000)));
        // No policy in the reverse direction.
        assert_eq!(g.pair_capacity_sat(&b, &a, Msat(5_000_000)), Err(CapacityError::NoEdge));
        // Below min_htlc.
        assert_eq!(
            g.pair_capacity_sat(&a, &b, Msat(999)),
            Err(CapacityError::NoEdgeForAmount)
        );
    }

    #[test]
    fn malformed_graphs_name_the_edge() {
        let bad = graph("false").replace("\"capacity\":\"50000\"", "\"capacity\":\"-5\"");
        let e = Graph::parse_describegraph(&bad).unwrap_err().0;
        assert!(e.contains("edge 2") && e.contains("capacity"), "{e}");
        let bad = graph("false").replace("\"max_htlc_msat\":\"29700000\"", "\"max_htlc_msat\":\"10\"");
        let e = Graph::parse_describegraph(&bad).unwrap_err().0;
        assert!(e.contains("edge 1") && e.contains("max_htlc_msat"), "{e}");
        assert!(Graph::parse_describegraph("{")
            .unwrap_err()
            .0
            .contains("malformed JSON"));
    }
}

#[cfg(test)]
mod snapshot_tests {
    use super::*;

    #[test]
    fn shipped_mainnet_snapshot_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mainnet-2026-02-03.describegraph.json.gz");
        let g = Graph::load_describegraph(&path).unwrap();
        // Counts from the snapshot's provenance notes.
        assert_eq!(g.node_count(), 17_324);
        assert_eq!(g.channel_count(), 50_808);
        let acinq = NodeId::from_hex("03864ef025fde8fb587d989186ce6a4a186895ee44a926bfc370e2c366597a3f8f").unwrap();
        assert_eq!(g.alias(&acinq), Some("ACINQ"));
    }
}
