//! Attacks on the robust aggregation (ARCHITECTURE.md, "Robust
//! aggregation"), over real sockets: each test writes a small
//! `lncli describegraph` file, starts the real coordinator on it with the
//! production defaults (weights, `min_serving_weight` 1.0; only the listen
//! ports and the rate limit differ), registers honest and lying reporters
//! over gRPC and HTTPS, and reads back what a wallet would download.
//!
//! Honest reporters are *established*: signed keys of graph nodes with at
//! least 1 000 000 sat of public channels. The attacked pairs are channels
//! between other nodes of the graph. After every scenario the full
//! `/v2/snapshot` must still be what `lncli loadmc` accepts.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;
use dmc_core::aggregate::MAX_MSAT;
use dmc_proto::dmc::coordinator::v2 as pb;
use dmc_proto::dmc::coordinator::v2::coordinator_client::CoordinatorClient;
use dmc_proto::ecrpc::{PairData, PairHistory, RegisterMissionControlRequest};
use dmc_server::ServerConfig;
use hyper::StatusCode;
use secp256k1::{PublicKey, Secp256k1, SecretKey};
use serde_json::Value;
use tonic::transport::Channel;

// ------------------------------------------------------------ the world

/// Capacity of every channel between two target nodes (sat).
const CAP_SAT: i64 = 5_000_000;
/// Established reporters in the graph; reporter 0 has exactly the
/// threshold (1 000 000 sat), the others 2 000 000 sat.
const REPORTERS: u32 = 12;
/// Target nodes, in a chain: target i has a channel to target i + 1.
const TARGETS: u32 = 140;
/// The allowed future skew (the production default, 10 minutes), less a margin.
const SKEW_SECS: i64 = 590;

const SAT: i64 = 1000;

#[derive(Clone)]
struct Key {
    sk: SecretKey,
    pk: Vec<u8>,
}

/// A deterministic key: `tag` says what it is for, `i` which one.
fn key_of(tag: u8, i: u32) -> Key {
    let mut b = [0u8; 32];
    b[0] = 0x20 + tag;
    b[1] = 0x5a;
    b[28..].copy_from_slice(&i.to_be_bytes());
    let sk = SecretKey::from_slice(&b).unwrap();
    let pk = PublicKey::from_secret_key(&Secp256k1::signing_only(), &sk)
        .serialize()
        .to_vec();
    Key { sk, pk }
}

/// Established reporter `i` (a graph node with ≥ 1 000 000 sat).
fn reporter(i: u32) -> Key {
    key_of(1, i)
}

fn target(i: u32) -> Vec<u8> {
    key_of(2, i).pk
}

fn hub() -> Vec<u8> {
    key_of(3, 0).pk
}

/// A graph node with 999 999 sat of channels: signed, but not established.
fn small_node() -> Key {
    key_of(4, 0)
}

/// A signed key that is not in the graph at all.
fn fresh(i: u32) -> Key {
    key_of(5, i)
}

/// Channel pair `i`: target i → target i + 1 (capacity [`CAP_SAT`]).
fn ch(i: u32) -> (Vec<u8>, Vec<u8>) {
    assert!(i + 1 < TARGETS);
    (target(i), target(i + 1))
}

/// Two graph nodes with no channel between them.
fn no_channel(i: u32) -> (Vec<u8>, Vec<u8>) {
    assert!(i + 2 < TARGETS);
    (target(i), target(i + 2))
}

fn on(p: &(Vec<u8>, Vec<u8>), h: PairData) -> PairHistory {
    PairHistory {
        node_from: p.0.clone(),
        node_to: p.1.clone(),
        history: Some(h),
    }
}

fn both(fail_t: i64, fail_msat: i64, succ_t: i64, succ_msat: i64) -> PairData {
    PairData {
        fail_time: fail_t,
        fail_amt_sat: fail_msat / 1000,
        fail_amt_msat: fail_msat,
        success_time: succ_t,
        success_amt_sat: succ_msat / 1000,
        success_amt_msat: succ_msat,
    }
}

/// `lncli describegraph` JSON: a hub with every reporter on it, the small
/// node, and the chain of targets. Every announcement is an hour older than
/// `newest`, except one policy stamped exactly `newest`.
fn graph_json(newest: i64) -> String {
    let older = newest - 3600;
    let policy = |t: i64| {
        serde_json::json!({
            "time_lock_delta": 80,
            "min_htlc": "1000",
            "fee_base_msat": "1000",
            "fee_rate_milli_msat": "1",
            "disabled": false,
            "last_update": t,
        })
    };
    let mut nodes = vec![hub()];
    nodes.extend((0..REPORTERS).map(|i| reporter(i).pk));
    nodes.push(small_node().pk);
    nodes.extend((0..TARGETS).map(target));
    let nodes: Vec<Value> = nodes
        .iter()
        .map(|k| serde_json::json!({"pub_key": hex(k), "alias": "", "last_update": older}))
        .collect();
    let mut edges = Vec::new();
    let mut edge = |a: &[u8], b: &[u8], cap: i64, t2: i64| {
        let id = edges.len() + 1;
        edges.push(serde_json::json!({
            "channel_id": id.to_string(),
            "chan_point": format!("{id:064x}:0"),
            "last_update": older,
            "node1_pub": hex(a),
            "node2_pub": hex(b),
            "capacity": cap.to_string(),
            "node1_policy": policy(older),
            "node2_policy": policy(t2),
        }));
    };
    for i in 0..REPORTERS {
        let cap = if i == 0 { 1_000_000 } else { 2_000_000 };
        // The newest announcement of the file.
        let t2 = if i == 5 { newest } else { older };
        edge(&reporter(i).pk, &hub(), cap, t2);
    }
    edge(&small_node().pk, &hub(), 999_999, older);
    for i in 0..TARGETS - 1 {
        edge(&target(i), &target(i + 1), CAP_SAT, older);
    }
    serde_json::json!({"nodes": nodes, "edges": edges}).to_string()
}

/// The coordinator on a test graph whose newest announcement is `newest`,
/// with production defaults except what `tweak` changes.
async fn start_on_graph(newest: i64, tweak: impl FnOnce(&mut ServerConfig)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graph.json");
    std::fs::write(&path, graph_json(newest)).unwrap();
    serve_in(dir, |c| {
        c.graph = Some(path);
        tweak(c);
    })
    .await
}

// ------------------------------------------------------- registrations

/// A signed (v2, gRPC) registration by `k`.
async fn register_signed(
    v2: &mut CoordinatorClient<Channel>,
    k: &Key,
    pairs: Vec<PairHistory>,
) -> pb::RegisterResponse {
    let n = pairs.len();
    let r = v2
        .register(signed(&k.sk, &k.pk, now(), pairs))
        .await
        .unwrap_or_else(|e| panic!("signed registration by {} refused: {e:?}", hex(&k.pk)))
        .into_inner();
    assert_eq!(r.accepted as usize, n, "{}", r.message);
    r
}

/// A signed (v2) registration by `k` over REST (`POST /v2/register`).
async fn register_signed_rest(srv: &Server, k: &Key, pairs: Vec<PairHistory>) -> Value {
    let n = pairs.len();
    let reg = signed(&k.sk, &k.pk, now(), pairs);
    let r = srv.post("/v2/register", &rest_json(&reg)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let j = r.json();
    assert_eq!(j["accepted"], n, "{j}");
    j
}

/// An unsigned (v1) registration over ecrpc gRPC: anonymous.
async fn register_anonymous_grpc(srv: &Server, pairs: Vec<PairHistory>) {
    let n = pairs.len();
    let r = srv
        .ec()
        .await
        .register_mission_control(RegisterMissionControlRequest { pairs })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.success_message, format!("Successfully registered {n} pairs"));
}

/// An unsigned (v1) registration over REST, in grpc-gateway JSON: anonymous.
async fn register_anonymous_rest(srv: &Server, pairs: Vec<PairHistory>) {
    let n = pairs.len();
    let json: Vec<Value> = pairs
        .iter()
        .map(|p| {
            let h = p.history.unwrap();
            serde_json::json!({
                "nodeFrom": dmc_server::base64::encode(&p.node_from),
                "nodeTo": dmc_server::base64::encode(&p.node_to),
                "history": {
                    "failTime": h.fail_time.to_string(),
                    "failAmtSat": h.fail_amt_sat.to_string(),
                    "failAmtMsat": h.fail_amt_msat.to_string(),
                    "successTime": h.success_time.to_string(),
                    "successAmtSat": h.success_amt_sat.to_string(),
                    "successAmtMsat": h.success_amt_msat.to_string(),
                },
            })
        })
        .collect();
    let r = srv
        .post(
            "/v1/register_mission_control",
            &serde_json::json!({ "pairs": json }).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["successMessage"], format!("Successfully registered {n} pairs"));
}

// ------------------------------------------------------------- queries

type PairKey = (Vec<u8>, Vec<u8>);

/// What a Go-coordinator client downloads (ecrpc's streamed query), by pair.
async fn served(srv: &Server) -> BTreeMap<PairKey, PairData> {
    query_all(&mut srv.ec().await)
        .await
        .0
        .into_iter()
        .map(|p| ((p.node_from, p.node_to), p.history.unwrap()))
        .collect()
}

/// The counts `/v2/query` (REST JSON) and v2 `Query` (gRPC) give a pair:
/// (established, unverified, anonymous), checked to agree.
async fn reporter_counts(srv: &Server, p: &PairKey) -> (u32, u32, u32) {
    let j = srv.get("/v2/query").await.json();
    let rest = j["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["node_from"] == hex(&p.0).as_str() && x["node_to"] == hex(&p.1).as_str())
        .unwrap_or_else(|| panic!("pair {} -> {} not in /v2/query: {j}", hex(&p.0), hex(&p.1)));
    let n = |f: &str| rest[f].as_u64().unwrap_or_else(|| panic!("{f}: {rest}")) as u32;
    let rest = (n("reporters"), n("reporters_unverified"), n("reporters_anonymous"));
    let (pairs, _, _) = query_v2(&mut srv.v2().await, None).await;
    let g = pairs
        .iter()
        .find(|a| {
            let ph = a.pair.as_ref().unwrap();
            ph.node_from == p.0 && ph.node_to == p.1
        })
        .expect("pair in the gRPC v2 Query");
    let grpc = (g.reporters, g.reporters_unverified, g.reporters_anonymous);
    assert_eq!(rest, grpc, "REST /v2/query and gRPC Query disagree");
    rest
}

/// A gauge or counter from `/metrics`.
async fn metric(srv: &Server, name: &str) -> u64 {
    let text = srv.get("/metrics").await.text();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
        .parse()
        .unwrap()
}

/// Scenario 7, after every attack: the full snapshot (`GET /v2/snapshot`,
/// `lncli querymc` JSON) parses with the parser `dmc loadmc` uses, passes
/// LND's import validation, holds no negative or wrapped amount, no time
/// after now, a success below the failure where both are set; and ecrpc's
/// query serves exactly the same pairs. Returns the snapshot's pairs.
async fn assert_snapshot_sound(srv: &Server) -> BTreeMap<PairKey, PairData> {
    let r = srv.get("/v2/snapshot").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text = r.text();
    let pairs = dmc_core::rpc::parse_query_mc_json(&text).unwrap_or_else(|e| panic!("loadmc would refuse: {e}"));
    let now = now();
    if !pairs.is_empty() {
        dmc_core::rpc::validate_import(&pairs).unwrap_or_else(|e| panic!("LND would refuse the snapshot: {e}"));
    }
    for p in &pairs {
        let h = &p.history;
        let at = format!("{} -> {}: {h:?}", hex(&p.node_from), hex(&p.node_to));
        dmc_core::NodeId::from_bytes(&p.node_from).unwrap_or_else(|e| panic!("{at}: node_from: {e}"));
        dmc_core::NodeId::from_bytes(&p.node_to).unwrap_or_else(|e| panic!("{at}: node_to: {e}"));
        for (name, v) in [
            ("fail_amt_msat", h.fail_amt_msat),
            ("success_amt_msat", h.success_amt_msat),
        ] {
            assert!(v >= 0, "{at}: {name} negative");
            assert!(
                v as u64 <= MAX_MSAT.0 + 1,
                "{at}: {name} beyond 21 million BTC (wrapped?)"
            );
        }
        assert_eq!(h.fail_amt_sat, h.fail_amt_msat / 1000, "{at}");
        assert_eq!(h.success_amt_sat, h.success_amt_msat / 1000, "{at}");
        for (name, t) in [("fail_time", h.fail_time), ("success_time", h.success_time)] {
            assert!(
                (0..=now).contains(&t),
                "{at}: {name} {t} is negative or after now ({now})"
            );
        }
        assert_eq!(
            h.success_time != 0,
            h.success_amt_msat > 0,
            "{at}: a success has a time and an amount"
        );
        if h.fail_time == 0 {
            assert_eq!(h.fail_amt_msat, 0, "{at}: a failure amount without a time");
        }
        if h.success_amt_msat > 0 && h.fail_amt_msat > 0 {
            assert!(h.success_amt_msat < h.fail_amt_msat, "{at}: success not below failure");
        }
    }
    let snapshot: BTreeMap<PairKey, PairData> = pairs
        .iter()
        .map(dmc_proto::pair_to_proto)
        .map(|p| ((p.node_from, p.node_to), p.history.unwrap()))
        .collect();
    let ec: BTreeMap<PairKey, PairData> = served(srv).await;
    assert_eq!(ec, snapshot, "ecrpc's query and /v2/snapshot serve different pairs");
    snapshot
}

fn name(p: &PairKey) -> String {
    format!("{} -> {}", hex(&p.0), hex(&p.1))
}

/// The pairs of a v2 REST list (`pairs` or `removed`), as [`name`] writes them.
fn names_in(list: &serde_json::Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} -> {}",
                p["node_from"].as_str().unwrap(),
                p["node_to"].as_str().unwrap()
            )
        })
        .collect()
}

fn get<'a>(m: &'a BTreeMap<PairKey, PairData>, p: &PairKey) -> &'a PairData {
    m.get(p).unwrap_or_else(|| panic!("pair {} is not served", name(p)))
}

// -------------------------------------------------------------- attacks

/// What the honest reporters saw: a success of 500 000 sat on one pair, a
/// failure of 100 000 sat on the other; the lie inverts both (a failure
/// at 1 msat, a success at 9e12 msat).
fn honest_success(t: i64) -> PairData {
    success(t, 500_000 * SAT)
}

fn honest_failure(t: i64) -> PairData {
    failure(t, 100_000 * SAT)
}

fn lie_failure(t: i64) -> PairData {
    failure(t, 1)
}

fn lie_success(t: i64) -> PairData {
    success(t, 9_000_000_000_000)
}

/// Scenario 1: one anonymous liar (v1, over REST before and over ecrpc
/// after the honest reporters, stamped nearly the allowed skew ahead)
/// against 3 and against 10 established reporters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_liar_cannot_move_what_3_or_10_established_reporters_saw() {
    let srv = start_on_graph(now(), |_| {}).await;
    let t = now() - 120;
    let lie_t = now() + SKEW_SECS;
    // ch(0), ch(1): 3 honest reporters; ch(2), ch(3): 10.
    let lies = || {
        vec![
            on(&ch(0), lie_failure(lie_t)),
            on(&ch(1), lie_success(lie_t)),
            on(&ch(2), lie_failure(lie_t)),
            on(&ch(3), lie_success(lie_t)),
        ]
    };
    register_anonymous_rest(&srv, lies()).await;
    let mut v2 = srv.v2().await;
    for i in 0..10 {
        let mut pairs = vec![on(&ch(2), honest_success(t)), on(&ch(3), honest_failure(t))];
        if i < 3 {
            pairs.extend([on(&ch(0), honest_success(t)), on(&ch(1), honest_failure(t))]);
        }
        register_signed(&mut v2, &reporter(i), pairs).await;
    }
    register_anonymous_grpc(&srv, lies()).await;

    let got = served(&srv).await;
    for (p, want, n) in [
        (ch(0), honest_success(t), 3),
        (ch(1), honest_failure(t), 3),
        (ch(2), honest_success(t), 10),
        (ch(3), honest_failure(t), 10),
    ] {
        assert_eq!(get(&got, &p), &want, "{n} honest reporters: {}", name(&p));
        assert_eq!(
            reporter_counts(&srv, &p).await,
            (n, 0, 1),
            "{}: v1 from one address is one anonymous reporter",
            name(&p)
        );
    }
    assert_snapshot_sound(&srv).await;
}

/// Scenario 2: one fresh key (signed, not in the graph), 300 fresh keys,
/// and a graph node just below the capacity threshold, lying the same
/// way: they move nothing, and `reporters` counts only established ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_keys_one_or_300_move_nothing_and_are_not_counted_as_reporters() {
    let srv = start_on_graph(now(), |_| {}).await;
    let t = now() - 120;
    let lie_t = now() - 5;
    let mut v2 = srv.v2().await;
    for i in 1..=3 {
        let pairs = vec![
            on(&ch(0), honest_success(t)),
            on(&ch(1), honest_failure(t)),
            on(&ch(2), honest_success(t)),
            on(&ch(3), honest_failure(t)),
            on(&ch(5), honest_success(t)),
        ];
        if i == 3 {
            register_signed_rest(&srv, &reporter(i), pairs).await;
        } else {
            register_signed(&mut v2, &reporter(i), pairs).await;
        }
    }
    // One fresh key on ch(0), ch(1).
    register_signed(
        &mut v2,
        &fresh(0),
        vec![on(&ch(0), lie_failure(lie_t)), on(&ch(1), lie_success(lie_t))],
    )
    .await;
    // The small graph node (999 999 sat) on ch(5).
    register_signed(&mut v2, &small_node(), vec![on(&ch(5), lie_failure(lie_t))]).await;
    // 300 fresh keys on ch(2), ch(3), and alone on ch(6), concurrently.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=300 {
        let mut client = v2.clone();
        tasks.spawn(async move {
            let pairs = vec![
                on(&ch(2), lie_failure(lie_t)),
                on(&ch(3), lie_success(lie_t)),
                on(&ch(6), lie_success(lie_t)),
            ];
            register_signed(&mut client, &fresh(i), pairs).await;
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }

    let got = served(&srv).await;
    for (p, want, unverified) in [
        (ch(0), honest_success(t), 1),
        (ch(1), honest_failure(t), 1),
        (ch(2), honest_success(t), 300),
        (ch(3), honest_failure(t), 300),
        (ch(5), honest_success(t), 1),
    ] {
        assert_eq!(get(&got, &p), &want, "{unverified} unverified liars: {}", name(&p));
        assert_eq!(
            reporter_counts(&srv, &p).await,
            (3, unverified, 0),
            "{}: `reporters` counts established reporters only",
            name(&p)
        );
    }
    // 300 fresh keys alone weigh what one does (0.1): stored, not served.
    assert!(!got.contains_key(&ch(6)), "ch(6) served on unverified keys alone");
    assert_eq!(metric(&srv, "dmc_pairs_held_unbacked").await, 1);
    assert_eq!(metric(&srv, "dmc_store_reporters").await, 3 + 1 + 1 + 300);
    assert_snapshot_sound(&srv).await;
}

/// Scenario 3: reporters stamping their observations nearly the allowed
/// skew ahead. Times are capped at the receive time, so nothing served
/// lies after the server's clock, a liar cannot make a pair fresher than
/// the honest reporters' newest, and a wallet's probability stays in [0, 1].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_timestamps_are_served_no_later_than_the_receive_time() {
    let srv = start_on_graph(now(), |_| {}).await;
    let t = now() - 600;
    let mut v2 = srv.v2().await;
    for i in 1..=3 {
        register_signed(
            &mut v2,
            &reporter(i),
            vec![
                on(&ch(1), honest_failure(t)),
                on(&ch(2), honest_success(t)),
                on(&ch(3), both(t, 400_000 * SAT, t, 300_000 * SAT)),
            ],
        )
        .await;
    }
    let before = now();
    let ahead = before + SKEW_SECS;
    // Established liar R0: alone on ch(0); agreeing but "newer" on ch(1);
    // inverted on ch(2).
    register_signed(
        &mut v2,
        &reporter(0),
        vec![
            on(&ch(0), both(ahead, 300_000 * SAT, ahead, 200_000 * SAT)),
            on(&ch(1), honest_failure(ahead)),
            on(&ch(2), lie_failure(ahead)),
        ],
    )
    .await;
    // An anonymous and a fresh-key liar on ch(3), both slots ahead.
    let future_both = both(ahead, 1, ahead, 9_000_000_000_000);
    register_anonymous_grpc(&srv, vec![on(&ch(3), future_both)]).await;
    register_signed(&mut v2, &fresh(7), vec![on(&ch(3), future_both)]).await;
    let after = now();

    let got = assert_snapshot_sound(&srv).await;
    let alone = get(&got, &ch(0));
    assert!(
        (before..=after).contains(&alone.success_time),
        "a lone reporter's future success_time is served as the receive time: {} not in [{before}, {after}]",
        alone.success_time
    );
    // Its failure waits for a second reporter.
    assert_eq!(
        (alone.success_amt_msat, alone.fail_time, alone.fail_amt_msat),
        (200_000 * SAT, 0, 0)
    );
    assert_eq!(
        get(&got, &ch(1)),
        &honest_failure(t),
        "not fresher than the honest newest"
    );
    assert_eq!(get(&got, &ch(2)), &honest_success(t));
    assert_eq!(get(&got, &ch(3)), &both(t, 400_000 * SAT, t, 300_000 * SAT));
    // v2's age is never negative; the lone pair is as old as its receive time.
    let j = srv.get("/v2/query").await.json();
    for p in j["pairs"].as_array().unwrap() {
        let age: i64 = p["age_seconds"].as_str().unwrap().parse().unwrap();
        assert!(age >= 0, "{p}");
        if p["node_from"] == hex(&ch(0).0).as_str() {
            assert!(age <= now() - before + 1, "{p}");
        } else {
            assert!(age >= 590, "{p}");
        }
    }

    // `lncli queryprob` on a wallet that imported the snapshot, now: a
    // probability, for both of LND's estimators and any amount.
    let snapshot: Vec<dmc_core::PairSnapshot> = got
        .iter()
        .map(|((f, to), h)| {
            dmc_core::rpc::to_pair_snapshot(&dmc_proto::pair_from_proto(&on(&(f.clone(), to.clone()), *h))).unwrap()
        })
        .collect();
    for estimator in [
        dmc_core::estimator::EstimatorConfig::default(),
        dmc_core::estimator::EstimatorConfig::Bimodal(Default::default()),
    ] {
        let mut mc = dmc_core::MissionControl::new(
            None,
            dmc_core::mission_control::MissionControlConfig {
                estimator,
                ..Default::default()
            },
        );
        mc.import_pairs(&snapshot, false);
        let at = dmc_core::Timestamp::from_unix_secs(now());
        for (from, to) in got.keys() {
            let (from, to) = (
                dmc_core::NodeId::from_bytes(from).unwrap(),
                dmc_core::NodeId::from_bytes(to).unwrap(),
            );
            for amt in [1, 150_000 * SAT as u64, 250_000 * SAT as u64, 350_000 * SAT as u64] {
                let p = mc.probability(at, &from, &to, dmc_core::Msat(amt), dmc_core::Sat(CAP_SAT as u64));
                assert!(
                    (0.0..=1.0).contains(&p),
                    "{estimator:?}: {from} -> {to} at {amt} msat: {p}"
                );
            }
        }
    }
}

/// Scenario 4: a flood of fake pairs (random keys not in the graph, as
/// blinded paths give; graph nodes with no channel between them) and pairs
/// only anonymous or unverified reporters back: none is served, and
/// `/metrics` counts them by reason. An established reporter's success
/// above a channel's capacity is served clamped to it; its failure above
/// the capacity is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_pairs_are_held_and_claims_are_bounded_by_the_channel() {
    let srv = start_on_graph(now(), |_| {}).await;
    let t = now() - 60;
    // 3000 pairs among 60 random keys that are no node of the graph.
    let outsiders: Vec<Vec<u8>> = (0..60).map(|i| key_of(6, i).pk).collect();
    let mut fake = Vec::new();
    'outer: for a in &outsiders {
        for b in &outsiders {
            if a != b {
                fake.push(on(&(a.clone(), b.clone()), success(t, 10_000 * SAT)));
                if fake.len() == 3000 {
                    break 'outer;
                }
            }
        }
    }
    // 50 pairs of graph nodes without a channel between them.
    fake.extend((0..50).map(|i| on(&no_channel(i), success(t, 10_000 * SAT))));
    let mut v2 = srv.v2().await;
    register_signed(&mut v2, &reporter(1), fake).await;
    // A second established reporter on some of the same fake pairs.
    register_signed(
        &mut v2,
        &reporter(2),
        (0..10).map(|i| on(&no_channel(i), failure(t, 1))).collect(),
    )
    .await;

    // Real channels backed only anonymously (5) or by one fresh key (2).
    register_anonymous_rest(&srv, (20..25).map(|i| on(&ch(i), success(t, 1_000 * SAT))).collect()).await;
    register_signed(
        &mut v2,
        &fresh(1),
        (25..27).map(|i| on(&ch(i), success(t, 1_000 * SAT))).collect(),
    )
    .await;

    // Above the capacity (5 000 000 sat): a success (9e12 msat) on ch(10),
    // a failure alone on ch(11), a real success with such a failure on ch(12).
    register_signed(
        &mut v2,
        &reporter(1),
        vec![
            on(&ch(10), lie_success(t)),
            on(&ch(11), failure(t, 6_000_000 * SAT)),
            on(&ch(12), both(t, 6_000_000 * SAT, t, 100_000 * SAT)),
        ],
    )
    .await;

    let got = assert_snapshot_sound(&srv).await;
    assert_eq!(
        got.keys().cloned().collect::<BTreeSet<_>>(),
        [ch(10), ch(12)].into_iter().collect(),
        "only the two real channel pairs with a servable record"
    );
    assert_eq!(
        get(&got, &ch(10)),
        &success(t, CAP_SAT * SAT),
        "clamped to the capacity"
    );
    assert_eq!(
        get(&got, &ch(12)),
        &success(t, 100_000 * SAT),
        "the failure above capacity is dropped"
    );
    assert_eq!(metric(&srv, "dmc_pairs_held_no_channel").await, 3050);
    assert_eq!(metric(&srv, "dmc_pairs_held_unbacked").await, 7);
    assert_eq!(metric(&srv, "dmc_pairs_held_unservable").await, 1);
    assert_eq!(metric(&srv, "dmc_store_pairs").await, 2);
}

/// Scenario 5: an established reporter lying on a pair it shares with 3
/// honest established reporters (who disagree a little among themselves):
/// what is served stays inside the honest range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn established_liar_among_3_honest_stays_in_the_honest_range() {
    let srv = start_on_graph(now(), |_| {}).await;
    let t = now() - 300;
    let mut v2 = srv.v2().await;
    let succ = [400_000, 450_000, 500_000];
    let fail = [100_000, 120_000, 150_000];
    for (i, (s, f)) in succ.iter().zip(fail).enumerate() {
        let ti = t + 10 * i as i64;
        register_signed(
            &mut v2,
            &reporter(i as u32 + 1),
            vec![
                on(&ch(0), success(ti, s * SAT)),
                on(&ch(1), failure(ti, f * SAT)),
                on(&ch(2), success(ti, s * SAT)),
                on(&ch(3), failure(ti, f * SAT)),
            ],
        )
        .await;
    }
    let lie_t = now() - 1;
    register_signed(
        &mut v2,
        &reporter(4),
        vec![
            // The same direction, exaggerated.
            on(&ch(0), lie_success(lie_t)),
            on(&ch(1), lie_failure(lie_t)),
            // Inverted.
            on(&ch(2), lie_failure(lie_t)),
            on(&ch(3), lie_success(lie_t)),
        ],
    )
    .await;

    let got = assert_snapshot_sound(&srv).await;
    let newest_honest = t + 20;
    let in_range = |v: i64, r: &[i64; 3]| (r[0] * SAT..=r[2] * SAT).contains(&v);
    for p in [ch(0), ch(2)] {
        let h = get(&got, &p);
        assert!(in_range(h.success_amt_msat, &succ), "{}: {h:?}", name(&p));
        assert!((t..=newest_honest).contains(&h.success_time), "{}: {h:?}", name(&p));
        assert_eq!(
            (h.fail_time, h.fail_amt_msat),
            (0, 0),
            "{}: no failure served: {h:?}",
            name(&p)
        );
    }
    for p in [ch(1), ch(3)] {
        let h = get(&got, &p);
        assert!(in_range(h.fail_amt_msat, &fail), "{}: {h:?}", name(&p));
        assert!((t..=newest_honest).contains(&h.fail_time), "{}: {h:?}", name(&p));
        assert_eq!(
            (h.success_time, h.success_amt_msat),
            (0, 0),
            "{}: no success served: {h:?}",
            name(&p)
        );
    }
    assert_eq!(reporter_counts(&srv, &ch(0)).await, (4, 0, 0));
}

/// Scenario 6, the blackhole attack: an established reporter alone on 100
/// pairs and contradicted by 3 honest established reporters on 20 shared
/// pairs. On 50 of its lone pairs it claims tiny failures (a competitor's
/// channels): never served, a failure needs a second reporter. On the other
/// 50 it claims huge successes: served until a reputation pass has run,
/// then no longer (a v2 delta lists them as removed), while an honest
/// reporter's lone pairs still are, and `/metrics` counts one discounted
/// reporter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackhole_liar_loses_its_lone_pairs_after_a_reputation_pass() {
    let srv = start_on_graph(now(), |c| {
        c.reputation_interval = dmc_core::time::DurationNs(300_000_000)
    })
    .await;
    let t = now() - 300;
    let shared: Vec<PairKey> = (0..20).map(ch).collect();
    let liar_alone: Vec<PairKey> = (20..120).map(ch).collect();
    let honest_alone: Vec<PairKey> = (120..130).map(ch).collect();
    let mut v2 = srv.v2().await;
    // The honest reporters first, so no pass ever sees a shared pair
    // without all three of them.
    for i in 1..=3 {
        let mut pairs: Vec<PairHistory> = shared.iter().map(|p| on(p, honest_success(t))).collect();
        if i == 1 {
            pairs.extend(honest_alone.iter().map(|p| on(p, success(t, 300_000 * SAT))));
        }
        register_signed(&mut v2, &reporter(i), pairs).await;
    }
    // The liar, in one registration: tiny failures on the shared pairs and
    // half of its own, huge successes on the other half.
    let lie_t = now() - 10;
    let (blackholed, inflated) = liar_alone.split_at(50);
    let pairs = shared
        .iter()
        .chain(blackholed)
        .map(|p| on(p, failure(lie_t, SAT)))
        .chain(inflated.iter().map(|p| on(p, lie_success(lie_t))))
        .collect();
    let cursor = register_signed(&mut v2, &reporter(4), pairs).await.cursor;
    let first = srv.get("/v2/query").await.json();
    let listed = names_in(&first["pairs"]);
    for p in blackholed {
        assert!(!listed.contains(&name(p)), "{}: a lone failure served", name(p));
    }

    // Its lone successes were served at `cursor`; wait for the pass to remove them.
    let want_removed: BTreeSet<String> = inflated.iter().map(name).collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let removed = loop {
        let j = srv.get(&format!("/v2/query?since={cursor}")).await.json();
        assert_eq!(j["full_resync"], false, "{j}");
        let removed = names_in(&j["removed"]);
        if removed.len() >= want_removed.len() || std::time::Instant::now() > deadline {
            break removed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(removed, want_removed, "exactly the liar's lone pairs are removed");
    assert_eq!(metric(&srv, "dmc_reporters_discounted").await, 1);

    let got = assert_snapshot_sound(&srv).await;
    for p in &liar_alone {
        assert!(!got.contains_key(p), "{} still served", name(p));
    }
    for p in &honest_alone {
        assert_eq!(get(&got, p), &success(t, 300_000 * SAT), "an honest lone pair");
    }
    for p in &shared {
        assert_eq!(get(&got, p), &honest_success(t), "a shared pair");
        assert_eq!(reporter_counts(&srv, p).await.0, 4);
    }
}

// -------------------------------------------------------------- health

/// A civil date (UTC) by counting days, independent of the server's formula.
fn date_of(unix_secs: i64) -> String {
    let mut days = unix_secs.div_euclid(86_400);
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut y = 1970;
    while days >= if leap(y) { 366 } else { 365 } {
        days -= if leap(y) { 366 } else { 365 };
        y += 1;
    }
    let months = [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut m = 0;
    while days >= months[m] {
        days -= months[m];
        m += 1;
    }
    format!("{y:04}-{:02}-{:02}", m + 1, days + 1)
}

#[test]
fn date_of_counts_days() {
    assert_eq!(date_of(0), "1970-01-01");
    assert_eq!(date_of(951_782_400), "2000-02-29");
    assert_eq!(date_of(1_770_076_800), "2026-02-03");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_gives_the_graph_date_ok_when_fresh_degraded_when_old() {
    // Fresh: the newest announcement is now.
    let newest = now();
    let srv = start_on_graph(newest, |_| {}).await;
    let h = srv.get("/healthz").await;
    assert_eq!(h.status, StatusCode::OK);
    let j = h.json();
    assert_eq!(j["status"], "ok", "{j}");
    assert!(j.get("reason").is_none(), "{j}");
    assert_eq!(j["graph_date"], date_of(newest).as_str(), "{j}");
    assert_eq!(j["graph_age_days"], 0, "{j}");
    assert_eq!(
        j["established_nodes"].as_u64(),
        Some(u64::from(REPORTERS) + 1 + u64::from(TARGETS)),
        "the reporters, the hub and the targets; not the 999 999 sat node: {j}"
    );
    // Reporter 0 has exactly 1 000 000 sat: established.
    let mut v2 = srv.v2().await;
    register_signed(&mut v2, &reporter(0), vec![on(&ch(0), honest_success(now() - 60))]).await;
    assert_eq!(reporter_counts(&srv, &ch(0)).await, (1, 0, 0));
    assert_snapshot_sound(&srv).await;

    // Twenty days old: degraded, with the reason.
    let newest = now() - 20 * 86_400;
    let srv = start_on_graph(newest, |_| {}).await;
    let j = srv.get("/healthz").await.json();
    assert_eq!(j["status"], "degraded", "{j}");
    let reason = j["reason"].as_str().unwrap_or_else(|| panic!("no reason: {j}"));
    assert!(reason.contains("20 days old"), "{reason}");
    assert_eq!(j["graph_date"], date_of(newest).as_str(), "{j}");
    assert_eq!(j["graph_age_days"], 20, "{j}");
    let age = metric(&srv, "dmc_graph_age_seconds").await;
    assert!((20 * 86_400..20 * 86_400 + 60).contains(&age), "{age}");
}

/// `--graph none`: degraded, and every signed key counts as established
/// (a fresh key alone is served at the default serving threshold).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_none_is_degraded_and_every_signed_key_is_established() {
    let srv = serve_in(tempfile::tempdir().unwrap(), |c| c.graph = None).await;
    let j = srv.get("/healthz").await.json();
    assert_eq!(j["status"], "degraded", "{j}");
    assert!(j["reason"].as_str().unwrap().contains("no graph"), "{j}");
    assert!(j["graph_date"].is_null(), "{j}");

    let t = now() - 60;
    let mut v2 = srv.v2().await;
    // Keys no graph knows, and a pair no graph has.
    let p = (key_of(6, 1).pk, key_of(6, 2).pk);
    register_signed(&mut v2, &fresh(3), vec![on(&p, honest_success(t))]).await;
    register_anonymous_grpc(&srv, vec![on(&ch(0), honest_success(t))]).await;
    let got = assert_snapshot_sound(&srv).await;
    assert_eq!(get(&got, &p), &honest_success(t));
    assert_eq!(reporter_counts(&srv, &p).await, (1, 0, 0));
    assert!(
        !got.contains_key(&ch(0)),
        "anonymous alone stays below the serving threshold"
    );
    assert_eq!(metric(&srv, "dmc_pairs_held_unbacked").await, 1);
    assert_eq!(metric(&srv, "dmc_pairs_held_no_channel").await, 0);
}
