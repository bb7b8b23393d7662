//! Writes the seed inputs of every fuzz target into `OUT/<target>/`, from
//! files in the repository (examples/, the shipped mainnet snapshot in
//! data/) and fixtures copied from the crates' own tests. The committed
//! corpus (`fuzz/corpus/`) grew from these seeds and was minimised with
//! `cargo fuzz cmin`; see FUZZING.md.
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml -p dmc-fuzz-harness --example make_seeds -- /tmp/dmc-seeds
//! ```

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use dmc_core::rpc::{self, PairData, PairHistory};
use dmc_core::signmsg::{sign_message, zbase32_decode, zbase32_encode};
use dmc_fuzz_harness::{other_secret, reporter_key, reporter_secret, NOW_SECS};
use dmc_proto::dmc::coordinator::v2 as pb;
use prost::Message;
use serde_json::{json, Value};

// The LND tutorial's nodes (crates/dmc/tests/common.rs).
const ALICE: &str = "02c60c3aea280fe7b161ba08722206a3fc6895fa4fb8c07ff68985a4bccb4992a4";
const BOB: &str = "03dbd084631519fcaccfd3a72cad4a65f42d808b86b7e362629aa221d097cb0f71";
const CAROL: &str = "029ab357867f95efd81d3cff3c043dcea8cb3f96db8f5754b1a4155a590f8d50f3";

/// rust-lightning's vector (crates/dmc-core/src/signmsg.rs tests): secret
/// key 1 signs "test message".
const RL_SIG: &str =
    "d9tibmnic9t5y41hg7hkakdcra94akas9ku3rmmj4ag9mritc8ok4p5qzefs78c9pqfhpuftqqzhydbdwfg7u6w6wdxcqpqn4sj4e73e";

struct Out(PathBuf);

impl Out {
    fn put(&self, target: &str, name: &str, data: impl AsRef<[u8]>) {
        let dir = self.0.join(target);
        std::fs::create_dir_all(&dir).expect("creating the seed folder");
        std::fs::write(dir.join(name), data).expect("writing a seed");
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn b64(b: &[u8]) -> String {
    dmc_server::base64::encode(b)
}

fn main() {
    let out = Out(std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .expect("usage: make_seeds OUT_DIR"));
    let querymc = read("examples/walkthrough-querymc.json");
    let graph = read("examples/walkthrough-graph.json");

    // loadmc: the example file, and the other shapes the parser accepts.
    out.put("loadmc", "walkthrough-querymc.json", &querymc);
    let doc: Value = serde_json::from_str(&querymc).expect("example JSON");
    out.put("loadmc", "bare-array.json", doc["pairs"].to_string());
    out.put(
        "loadmc",
        "camel-numbers-failure.json",
        json!({"pairs": [
            {"nodeFrom": BOB, "nodeTo": CAROL, "history": {"failTime": 1713074461, "failAmtSat": 7000, "failAmtMsat": 7000000, "successTime": 1713074000, "successAmtMsat": 1000}},
            {"node_from": ALICE, "node_to": BOB, "history": {"fail_time": "1713074461", "fail_amt_msat": "0"}},
            {"node_from": CAROL, "node_to": ALICE, "history": null}
        ]})
        .to_string(),
    );

    // report: the walkthrough's payments (crates/dmc/tests/walkthrough.rs)
    // and the refused cases of crates/dmc/tests/bad_input.rs.
    let payment = |time: i64, total: u64, amt: u64| {
        format!(
            r#"{{"time": {time}, "route": {{"total_amt_msat": {total}, "hops": [{{"chan_id": 1, "pub_key": "{BOB}", "amt_to_forward_msat": {amt}}}, {{"chan_id": 2, "pub_key": "{CAROL}", "amt_to_forward_msat": {amt}}}]}}, "failure": null}}"#
        )
    };
    out.put(
        "report",
        "walkthrough.jsonl",
        format!(
            "{}\n{}\n",
            payment(1_713_070_997, 5_001_005, 5_000_000),
            payment(1_713_074_461, 5_201_005, 5_200_000)
        ),
    );
    let route = format!(r#"{{"total_amt_msat": 1000, "hops": [{{"pub_key": "{BOB}", "amt_to_forward_msat": 1000}}]}}"#);
    out.put(
        "report",
        "failures.json",
        format!(
            r#"[{{"id": 7, "time": "1713074461", "route": {{"source": "{ALICE}", "total_amt_msat": "2002", "hops": [{{"chan_id": "1", "pub_key": "{BOB}", "amt_to_forward_msat": 2001}}, {{"chan_id": 2, "pub_key": "{CAROL}", "amt_to_forward_msat": 2000, "blinding_point": true}}]}}, "failure": {{"source_index": 1, "code": "TEMPORARY_CHANNEL_FAILURE"}}}},
{{"route": {route}, "failure": {{"source_index": 1, "code": "0x100c"}}}},
{{"route": {route}, "failure": {{"code": 16399}}}},
{{"route": {route}, "failure": {{}}}}]"#
        ),
    );
    out.put(
        "report",
        "bad-source-index.jsonl",
        format!(r#"{{"route": {route}, "failure": {{"source_index": 3, "code": "TEMPORARY_CHANNEL_FAILURE"}}}}"#),
    );
    out.put(
        "report",
        "bad-code.jsonl",
        format!(r#"{{"route": {route}, "failure": {{"source_index": 1, "code": "NOT_A_CODE"}}}}"#),
    );
    out.put(
        "report",
        "no-hops.jsonl",
        r#"{"route": {"total_amt_msat": 1, "hops": []}}"#,
    );

    // describegraph: the example, the walkthrough test's graph, and a slice
    // of the shipped mainnet snapshot.
    out.put("describegraph", "walkthrough-graph.json", &graph);
    let policy = r#"{"time_lock_delta": 40, "min_htlc": "1000", "fee_base_msat": "1000", "fee_rate_milli_msat": "1", "disabled": false, "max_htlc_msat": "29700000"}"#;
    out.put(
        "describegraph",
        "walkthrough-test.json",
        format!(
            r#"{{"nodes": [{{"pub_key": "{ALICE}", "alias": "alice"}}, {{"pub_key": "{BOB}", "alias": "bob"}}, {{"pub_key": "{CAROL}", "alias": "carol"}}],
"edges": [
  {{"channel_id": "1", "node1_pub": "{ALICE}", "node2_pub": "{BOB}", "capacity": "30000", "node1_policy": {policy}, "node2_policy": {policy}}},
  {{"channel_id": "2", "node1_pub": "{CAROL}", "node2_pub": "{BOB}", "capacity": "30000", "node1_policy": {policy}, "node2_policy": null}}]}}"#
        ),
    );
    let mainnet = mainnet_slice(8);
    out.put("describegraph", "mainnet-2026-02-03-slice.json", mainnet.to_string());

    // listchannels: both of CLN's formats (crates/dmc-graph/src/listchannels.rs
    // tests) and the walkthrough graph converted.
    let legacy = |src: &str, dst: &str, scid: &str, active: bool| {
        format!(
            r#"{{"source":"{src}","destination":"{dst}","short_channel_id":"{scid}","public":true,"satoshis":50000,"amount_msat":"50000000msat","message_flags":1,"channel_flags":0,"active":{active},"last_update":1618492788,"base_fee_millisatoshi":0,"fee_per_millionth":1,"delay":40,"htlc_minimum_msat":"1000msat","htlc_maximum_msat":"49500000msat","features":""}}"#
        )
    };
    let modern = |src: &str, dst: &str, scid: &str, active: bool| {
        format!(
            r#"{{"source":"{src}","destination":"{dst}","short_channel_id":"{scid}","public":true,"amount_msat":50000000,"message_flags":1,"channel_flags":1,"active":{active},"last_update":1700000000,"base_fee_millisatoshi":1000,"fee_per_millionth":1,"delay":144,"htlc_minimum_msat":1000,"htlc_maximum_msat":49500000,"features":""}}"#
        )
    };
    let lc_legacy = format!(
        r#"{{"channels":[{},{},{}]}}"#,
        legacy(ALICE, BOB, "103x1x0", true),
        legacy(BOB, ALICE, "103x1x0", false),
        legacy(BOB, CAROL, "104x2x1", true)
    );
    let lc_modern = format!(
        r#"{{"channels":[{},{}]}}"#,
        modern(CAROL, BOB, "800000x7x1", true),
        modern(BOB, CAROL, "800000x7x1", true)
    );
    out.put("listchannels", "legacy.json", &lc_legacy);
    out.put("listchannels", "modern.json", &lc_modern);
    out.put(
        "listchannels",
        "walkthrough-graph.json",
        to_listchannels(&graph).to_string(),
    );
    out.put(
        "listchannels",
        "mainnet-2026-02-03-slice.json",
        to_listchannels(&mainnet.to_string()).to_string(),
    );

    // graph_file: plain and gzip, both formats.
    out.put("graph_file", "walkthrough-graph.json", &graph);
    out.put("graph_file", "walkthrough-graph.json.gz", gzip(graph.as_bytes()));
    out.put("graph_file", "legacy-listchannels.json", &lc_legacy);
    out.put("graph_file", "modern-listchannels.json.gz", gzip(lc_modern.as_bytes()));

    // The coordinator: the example's pairs, moved to the harness's clock.
    let mut pairs = rpc::parse_query_mc_json(&querymc).expect("example parses");
    let newest = rpc::shift_times(&mut pairs, dmc_core::time::DurationNs::ZERO).expect("example has times");
    rpc::shift_times(&mut pairs, dmc_core::time::DurationNs((NOW_SECS - 60 - newest) * 1_000_000_000));
    let fail = PairHistory {
        node_from: hex(CAROL),
        node_to: hex(ALICE),
        history: PairData::failure_at(NOW_SECS - 120, 7_000_000),
    };
    let with_failure: Vec<PairHistory> = pairs.iter().cloned().chain([fail.clone()]).collect();
    // A pair with both results: `successes_only` keeps its success.
    let both = PairHistory {
        node_from: hex(ALICE),
        node_to: hex(CAROL),
        history: PairData {
            success_time: NOW_SECS - 300,
            success_amt_sat: 1000,
            success_amt_msat: 1_000_000,
            ..PairData::failure_at(NOW_SECS - 200, 9_000_000)
        },
    };
    let with_both: Vec<PairHistory> = with_failure.iter().cloned().chain([both.clone()]).collect();

    // rest_v1: grpc-gateway JSON, camelCase with base64 keys and snake_case with hex.
    let gateway = |pairs: &[PairHistory], camel: bool| {
        let p: Vec<Value> = pairs
            .iter()
            .map(|p| {
                let h = &p.history;
                if camel {
                    json!({"nodeFrom": b64(&p.node_from), "nodeTo": b64(&p.node_to), "history": {
                        "failTime": h.fail_time.to_string(), "failAmtSat": h.fail_amt_sat.to_string(), "failAmtMsat": h.fail_amt_msat.to_string(),
                        "successTime": h.success_time.to_string(), "successAmtSat": h.success_amt_sat.to_string(), "successAmtMsat": h.success_amt_msat.to_string()}})
                } else {
                    json!({"node_from": dmc_core::node::encode_hex(&p.node_from), "node_to": dmc_core::node::encode_hex(&p.node_to), "history": {
                        "fail_time": h.fail_time, "fail_amt_msat": h.fail_amt_msat, "success_time": h.success_time, "success_amt_sat": h.success_amt_sat}})
                }
            })
            .collect();
        json!({ "pairs": p }).to_string()
    };
    out.put("rest_v1", "walkthrough-camel.json", gateway(&pairs, true));
    out.put("rest_v1", "with-failure-snake.json", gateway(&with_failure, false));
    out.put("rest_v1", "empty.json", r#"{"pairs":[]}"#);

    // v2: bodies naming the harness's reporter key at the harness's clock.
    let body = |pairs: &[PairHistory], successes_only: bool| {
        pb::RegistrationBody {
            reporter: reporter_key().0.to_vec(),
            timestamp: NOW_SECS,
            pairs: pairs.iter().map(dmc_proto::pair_to_proto).collect(),
            successes_only,
            success_kinds: Vec::new(),
        }
        .encode_to_vec()
    };
    let bodies = [
        ("walkthrough", body(&pairs, false)),
        ("with-failure", body(&with_failure, false)),
        (
            "successes-only",
            body(&pairs.iter().cloned().chain([both.clone()]).collect::<Vec<_>>(), true),
        ),
        ("with-both", body(&with_both, false)),
    ];
    for (name, b) in &bodies {
        let sig = sign_message(&reporter_secret(), b);
        out.put(
            "rest_v2",
            &format!("{name}.json"),
            json!({"body": b64(b), "signature": sig}).to_string(),
        );
        let signed = pb::SignedRegistration {
            body: b.clone(),
            signature: sig,
        };
        out.put("v2_grpc", &format!("{name}.pb"), signed.encode_to_vec());
        for selector in 0u8..4 {
            out.put(
                "v2_signed_body",
                &format!("{name}-{selector}.bin"),
                [&[selector][..], b].concat(),
            );
        }
    }
    let forged = pb::SignedRegistration {
        body: bodies[0].1.clone(),
        signature: sign_message(&other_secret(), &bodies[0].1),
    };
    out.put("v2_grpc", "signed-by-another-key.pb", forged.encode_to_vec());
    out.put(
        "rest_v2",
        "signed-by-another-key.json",
        json!({"body": b64(&forged.body), "signature": forged.signature}).to_string(),
    );

    // signmsg: [message length][message][signature text].
    let framed = |msg: &[u8], sig: &str| [&[msg.len() as u8][..], msg, sig.as_bytes()].concat();
    out.put("signmsg", "rust-lightning-vector.bin", framed(b"test message", RL_SIG));
    let mut header27 = zbase32_decode(RL_SIG).expect("vector decodes");
    header27[0] -= 4;
    out.put(
        "signmsg",
        "header-27.bin",
        framed(b"test message", &zbase32_encode(&header27)),
    );
    let msg = b"dmc fuzz seed";
    out.put(
        "signmsg",
        "reporter.bin",
        framed(msg, &sign_message(&reporter_secret(), msg)),
    );

    // serve_config: crates/dmc-server/src/config.rs tests, and every key README lists.
    out.put(
        "serve_config",
        "test-basic.toml",
        "staleness_window = \"24h\"\nrest_listen = \"127.0.0.1:9000\"\naccept_unsigned = false\n",
    );
    out.put(
        "serve_config",
        "test-graph.toml",
        "graph = \"none\"\nmin_serving_weight = 0\nweight_unverified = 0.5\n",
    );
    out.put(
        "serve_config",
        "all-keys.toml",
        r#"grpc_listen = "127.0.0.1:50050"
rest_listen = "127.0.0.1:8081"
tls_cert = "tls.cert"
tls_key = "tls.key"
no_tls = false
staleness_window = "168h"
cleanup_interval = "1h"
future_skew = "10m"
accept_unsigned = true
signature_window = "10m0.5s"
max_body_bytes = 8388608
max_pairs_per_request = 50000
requests_per_minute = 60
query_batch_size = 4600
database_url = "postgres://dmc@127.0.0.1:5432/coord"
graph = "data/mainnet-2026-02-03.describegraph.json.gz"
min_reporter_capacity_sat = 1000000
weight_established = 1.0
weight_unverified = 0.1
weight_anonymous = 0.01
min_serving_weight = 1.0
reputation_interval = "10m"
max_unverified_observations = 1000000
max_observations_per_reporter = 500000
max_observations = 50000000
"#,
    );
}

fn hex(s: &str) -> Vec<u8> {
    dmc_core::node::decode_hex(s).expect("hex")
}

/// The first `edges` channels of the shipped 2026-02-03 mainnet snapshot
/// that have both policies, with their nodes.
fn mainnet_slice(edges: usize) -> Value {
    let raw = std::fs::read(repo().join("data/mainnet-2026-02-03.describegraph.json.gz")).expect("mainnet snapshot");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_string(&mut text)
        .expect("gunzip");
    let doc: Value = serde_json::from_str(&text).expect("snapshot JSON");
    let picked: Vec<Value> = doc["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter(|e| !e["node1_policy"].is_null() && !e["node2_policy"].is_null())
        .take(edges)
        .cloned()
        .collect();
    let keys: std::collections::HashSet<&str> = picked
        .iter()
        .flat_map(|e| [e["node1_pub"].as_str(), e["node2_pub"].as_str()])
        .flatten()
        .collect();
    let nodes: Vec<Value> = doc["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["pub_key"].as_str().is_some_and(|k| keys.contains(k)))
        .cloned()
        .collect();
    json!({"nodes": nodes, "edges": picked})
}

/// A describegraph document as CLN's newer `listchannels` prints the same
/// channels (one entry per announced direction).
fn to_listchannels(describegraph: &str) -> Value {
    let doc: Value = serde_json::from_str(describegraph).expect("describegraph JSON");
    let mut out = Vec::new();
    for (i, e) in doc["edges"].as_array().expect("edges").iter().enumerate() {
        let cap: u64 = e["capacity"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
        for (from, to, pol) in [
            ("node1_pub", "node2_pub", "node1_policy"),
            ("node2_pub", "node1_pub", "node2_policy"),
        ] {
            let p = &e[pol];
            if p.is_null() {
                continue;
            }
            let num = |k: &str| {
                p[k].as_str()
                    .and_then(|s| s.parse::<u64>().ok())
                    .or(p[k].as_u64())
                    .unwrap_or(0)
            };
            out.push(json!({
                "source": e[from], "destination": e[to],
                "short_channel_id": format!("{}x{}x0", 700_000 + i, i % 5),
                "public": true, "amount_msat": cap * 1000, "message_flags": 1, "channel_flags": 0,
                "active": !p["disabled"].as_bool().unwrap_or(false),
                "last_update": 1_700_000_000u64, "base_fee_millisatoshi": num("fee_base_msat"),
                "fee_per_millionth": num("fee_rate_milli_msat"), "delay": p["time_lock_delta"],
                "htlc_minimum_msat": num("min_htlc"), "htlc_maximum_msat": num("max_htlc_msat"), "features": ""
            }));
        }
    }
    json!({ "channels": out })
}
