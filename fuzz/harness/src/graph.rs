//! Channel graph files: `lncli describegraph` and CLN `listchannels` JSON
//! (crates/dmc-graph), as `dmc serve --graph`, `dmc queryroutes --graph`
//! and `dmc queryprob --graph` read them.

use std::path::PathBuf;
use std::sync::OnceLock;

use dmc_core::aggregate::{ChannelCheck, GraphStanding};
use dmc_core::{DirectedPair, Msat, Sat};
use dmc_graph::pathfind::{self, Certain, PathFindingConfig, RouteRequest, RoutingGraph};
use dmc_graph::{listchannels, Graph, Policy, Standing};
use dmc_server::standing::ServerGraph;
use serde_json::{json, Value};

/// `Graph::parse_describegraph` (what `Graph::load` calls for describegraph
/// text). Checks: no panic; the graph's invariants and what the server and
/// pathfinding compute from it (`check_graph`); the graph written back as
/// describegraph parses to the same graph.
pub fn describegraph(data: &[u8]) {
    // `read_graph_text` refuses non-UTF-8 before the parser.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let g = match Graph::parse_describegraph(text) {
        Ok(g) => g,
        Err(e) => return debug!("describegraph: refused: {e}"),
    };
    debug!(
        "describegraph: {} nodes, {} channels",
        g.node_count(),
        g.channel_count()
    );
    check_graph(&g);
    round_trip(&g);
}

/// `listchannels::parse_listchannels` (what `Graph::load` calls for text
/// starting with `{"channels"`). Checks as for [`describegraph`]; the
/// round trip goes through describegraph, so both loaders must agree on
/// the same graph.
pub fn listchannels(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let g = match listchannels::parse_listchannels(text) {
        Ok(g) => g,
        Err(e) => return debug!("listchannels: refused: {e}"),
    };
    debug!("listchannels: {} nodes, {} channels", g.node_count(), g.channel_count());
    check_graph(&g);
    round_trip(&g);
}

/// The whole file path of `dmc serve --graph FILE` (at start and on
/// SIGHUP): `ServerGraph::load`, i.e. `Graph::load` (gzip by magic bytes,
/// UTF-8, the format chosen by the first 256 characters), the empty-graph
/// refusal, the date in the file name, `Standing`. The input is written to
/// a file named like the shipped snapshot. Checks: no panic; a loaded
/// graph passes `check_graph` and is dated.
pub fn graph_file(data: &[u8]) {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| crate::server::scratch_dir("dmc-fuzz-graph-"));
    let path: PathBuf = dir.path().join("mainnet-2026-02-03.describegraph.json");
    std::fs::write(&path, data).expect("writing the graph file");
    if let Ok(g) = Graph::load(&path) {
        check_graph(&g);
    }
    let loaded = ServerGraph::load(&path, 1_000_000);
    debug!(
        "graph_file: {:?}",
        loaded.as_ref().map(|g| (g.node_count(), g.channel_count()))
    );
    if let Ok(sg) = loaded {
        assert!(sg.channel_count() > 0, "the server loaded a graph without channels");
        assert!(sg.newest_update.is_some(), "a graph file named with a date has no date");
        assert!(sg.established_count() <= sg.node_count());
    }
}

/// What holds for any graph a loader accepts, and what dmc computes from
/// it must not panic: the coordinator's `Standing`, LND's pair-capacity
/// lookup (`queryprob`), `RoutingGraph` and, on small graphs, LND's
/// pathfinding and route building (`queryroutes`, also with `--mpp`).
fn check_graph(g: &Graph) {
    let n = g.node_count();
    let caps = g.node_capacities_sat();
    assert_eq!(caps.len(), n);
    let standing = Standing::new(g, Sat(1_000_000));
    assert!(standing.established_count() <= n);
    for (i, c) in g.channels().iter().enumerate() {
        assert!(
            c.node1 < c.node2,
            "channel {i}: node1 {} is not below node2 {}",
            c.node1,
            c.node2
        );
        assert!((c.node2 as usize) < n, "channel {i}: node index out of range");
        assert!(g.channels_between(c.node1, c.node2).contains(&(i as u32)));
        assert!(g.channel_index(c.chan_id).is_some());
        for p in c.policies.iter().flatten() {
            if let Some(max) = p.max_htlc_msat {
                assert!(max >= p.min_htlc_msat, "channel {i}: max_htlc below min_htlc: {p:?}");
            }
        }
        let (a, b) = (*g.node(c.node1), *g.node(c.node2));
        for amt in [Msat(0), Msat(1_000), Msat::MAX] {
            let _ = g.pair_capacity_sat(&a, &b, amt);
            let _ = g.pair_capacity_sat(&b, &a, amt);
        }
        match standing.channel(&DirectedPair::new(b, a)) {
            ChannelCheck::Capacity(msat) => assert!(msat >= c.capacity_sat.to_msat_saturating()),
            other => panic!("channel {i}: the standing has no channel between its nodes: {other:?}"),
        }
    }
    let routing = RoutingGraph::new(g);
    if n < 2 || g.channel_count() > 64 {
        return;
    }
    let (source, target) = (*g.node(0), *g.node(n as u32 - 1));
    let cfg = PathFindingConfig::default();
    let mut prob = Certain;
    for amt_msat in [Msat(1_000), Msat(100_000_000)] {
        let req = RouteRequest::new(None, source, target, amt_msat);
        if let Ok((path, p)) = pathfind::find_path(&routing, &req, &cfg, &mut prob) {
            assert!((0.0..=1.0).contains(&p), "path probability {p}");
            let route = pathfind::new_route(g, source, &path, 0, amt_msat, req.final_cltv_delta, None);
            assert!(route.total_amt_msat >= amt_msat, "a route delivers less than asked");
            let _ = route.total_fees_msat();
        }
        let _ = pathfind::split_payment(&routing, &req, &cfg, &mut prob, 4, Msat(1_000));
    }
}

/// The graph written as describegraph JSON parses to the same graph.
fn round_trip(g: &Graph) {
    let text = to_describegraph(g).to_string();
    let again = match Graph::parse_describegraph(&text) {
        Ok(a) => a,
        Err(e) => panic!("the graph written back as describegraph is refused: {e}\n{text}"),
    };
    assert_eq!(again.node_count(), g.node_count(), "{text}");
    for i in 0..g.node_count() as u32 {
        assert_eq!(again.node(i), g.node(i), "node {i} differs: {text}");
        assert_eq!(again.alias(g.node(i)), g.alias(g.node(i)), "alias of node {i} differs");
    }
    assert_eq!(
        again.channels(),
        g.channels(),
        "channels differ after a round trip: {text}"
    );
    assert_eq!(
        again.newest_update(),
        g.newest_update(),
        "the graph's date differs: {text}"
    );
}

fn policy_json(p: &Option<Policy>) -> Value {
    match p {
        None => Value::Null,
        Some(p) => json!({
            "time_lock_delta": p.time_lock_delta,
            "min_htlc": p.min_htlc_msat.0.to_string(),
            "max_htlc_msat": p.max_htlc_msat.unwrap_or(Msat::ZERO).0.to_string(),
            "fee_base_msat": p.fee_base_msat.0.to_string(),
            "fee_rate_milli_msat": p.fee_rate_ppm.to_string(),
            "disabled": p.disabled,
        }),
    }
}

fn to_describegraph(g: &Graph) -> Value {
    let mut nodes: Vec<Value> = (0..g.node_count() as u32)
        .map(|i| {
            let id = g.node(i);
            json!({"pub_key": id.to_hex(), "alias": g.alias(id).unwrap_or("")})
        })
        .collect();
    if let (Some(t), Some(Value::Object(first))) = (g.newest_update(), nodes.first_mut()) {
        first.insert("last_update".into(), json!(t));
    }
    let edges: Vec<Value> = g
        .channels()
        .iter()
        .map(|c| {
            json!({
                "channel_id": c.chan_id.to_string(),
                "node1_pub": g.node(c.node1).to_hex(),
                "node2_pub": g.node(c.node2).to_hex(),
                "capacity": c.capacity_sat.0.to_string(),
                "node1_policy": policy_json(&c.policies[0]),
                "node2_policy": policy_json(&c.policies[1]),
            })
        })
        .collect();
    json!({"nodes": nodes, "edges": edges})
}
