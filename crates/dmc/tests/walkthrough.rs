//! The public LND tutorial's walkthrough (spec §4.6): Alice pays Carol
//! through Bob twice, then asks for probabilities.

mod common;
use common::*;

fn payment(time: i64, total_msat: u64, amt_msat: u64) -> String {
    format!(
        r#"{{"time": {time}, "route": {{"total_amt_msat": {total_msat}, "hops": [{{"chan_id": 1, "pub_key": "{BOB}", "amt_to_forward_msat": {amt_msat}}}, {{"chan_id": 2, "pub_key": "{CAROL}", "amt_to_forward_msat": {amt_msat}}}]}}, "failure": null}}"#
    )
}

/// A describegraph of the tutorial's network: 30 000 sat channels, Bob
/// charging 1000 msat + 1 ppm.
fn graph() -> String {
    let policy = r#"{"time_lock_delta": 40, "min_htlc": "1000", "fee_base_msat": "1000", "fee_rate_milli_msat": "1", "disabled": false, "max_htlc_msat": "29700000"}"#;
    format!(
        r#"{{"nodes": [{{"pub_key": "{ALICE}", "alias": "alice"}}, {{"pub_key": "{BOB}", "alias": "bob"}}, {{"pub_key": "{CAROL}", "alias": "carol"}}],
        "edges": [
          {{"channel_id": "1", "node1_pub": "{ALICE}", "node2_pub": "{BOB}", "capacity": "30000", "node1_policy": {policy}, "node2_policy": {policy}}},
          {{"channel_id": "2", "node1_pub": "{CAROL}", "node2_pub": "{BOB}", "capacity": "30000", "node1_policy": {policy}, "node2_policy": {policy}}}]}}"#
    )
}

fn setup() -> Dmc {
    let d = Dmc::new(1_713_074_500);
    d.ok(&["self", ALICE]);
    let first = d.write("p1.jsonl", &payment(1_713_070_997, 5_001_005, 5_000_000));
    let out = d.ok(&["report", "--file", first.to_str().unwrap()]);
    assert!(out.contains("\"final_failure_reason\":null"), "{out}");
    let mc = d.json(&["querymc"]);
    let pairs = mc["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 2);
    assert_eq!(pairs[0]["history"]["success_amt_msat"], "5001005");
    assert_eq!(pairs[1]["history"]["success_amt_msat"], "5000000");
    let second = d.write("p2.jsonl", &payment(1_713_074_461, 5_201_005, 5_200_000));
    d.ok(&["report", "--file", second.to_str().unwrap()]);
    d
}

fn prob(d: &Dmc, args: &[&str]) -> f64 {
    d.json(args)["probability"].as_f64().unwrap()
}

#[test]
fn walkthrough_matches_lnd() {
    let d = setup();
    let mc = d.json(&["querymc"]);
    let pairs = mc["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 2, "{mc}");
    let find = |from: &str, to: &str| {
        pairs
            .iter()
            .find(|p| p["node_from"] == from && p["node_to"] == to)
            .unwrap_or_else(|| panic!("pair {from}->{to} missing in {mc}"))["history"]
            .clone()
    };
    let ab = find(ALICE, BOB);
    assert_eq!(ab["success_amt_msat"], "5201005");
    assert_eq!(ab["success_amt_sat"], "5201");
    assert_eq!(ab["success_time"], "1713074461");
    assert_eq!(ab["fail_time"], "0");
    assert_eq!(ab["fail_amt_msat"], "0");
    let bc = find(BOB, CAROL);
    assert_eq!(bc["success_amt_msat"], "5200000");
    assert_eq!(bc["fail_time"], "0");

    // Alice's own hop uses the local formula: 0.95 whatever the amount.
    let local = prob(&d, &["queryprob", ALICE, BOB, "5300"]);
    assert_eq!(local, 0.95);
    // With the capacity from the graph, as LND looks it up.
    let g = d.write("graph.json", &graph());
    let g = g.to_str().unwrap();
    let at_5200 = prob(&d, &["queryprob", BOB, CAROL, "5200", "--graph", g]);
    let at_5300 = prob(&d, &["queryprob", BOB, CAROL, "5300", "--graph", g]);
    assert_eq!(at_5200, 0.95);
    assert_eq!(at_5300, 0.5999999999999984);
    // Same with the capacity given directly.
    assert_eq!(
        prob(&d, &["queryprob", BOB, CAROL, "5300", "--capacity-sat", "30000"]),
        at_5300
    );
    // The route product, last hop first, as findPath multiplies.
    assert_eq!(1.0 * at_5200 * local, 0.9025);
    assert_eq!(1.0 * at_5300 * local, 0.5699999999999985);
    // The switch happens at msat precision.
    assert_eq!(
        prob(&d, &["queryprob", BOB, CAROL, "--msat", "5200000", "--graph", g]),
        0.95
    );
    let above = prob(&d, &["queryprob", BOB, CAROL, "--msat", "5200001", "--graph", g]);
    assert!((above - 0.6).abs() < 1e-9, "{above}");
    // Without a capacity the factor is 1.
    assert_eq!(prob(&d, &["queryprob", BOB, CAROL, "5300"]), 0.6);
    // The printed history is the pair's record.
    let out = d.json(&["queryprob", BOB, CAROL, "5300"]);
    assert_eq!(out["history"]["success_amt_msat"], "5200000");
}

#[test]
fn batch_queries_print_one_line_each() {
    let d = setup();
    let batch = format!(
        "{{\"from\":\"{BOB}\",\"to\":\"{CAROL}\",\"amt_msat\":5200000,\"capacity_sat\":30000}}\n\
         {{\"from\":\"{BOB}\",\"to\":\"{CAROL}\",\"amt_msat\":\"5300000\",\"capacity_sat\":\"30000\"}}\n\
         \n\
         {{\"from\":\"{ALICE}\",\"to\":\"{BOB}\",\"amt_msat\":1}}\n"
    );
    let f = d.write("batch.jsonl", &batch);
    let out = d.ok(&["queryprob", "--batch", f.to_str().unwrap()]);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["probability"], 0.95);
    assert_eq!(lines[1]["probability"].as_f64().unwrap(), 0.5999999999999984);
    assert_eq!(lines[2]["probability"], 0.95);
    assert_eq!(lines[1]["history"]["success_amt_msat"], "5200000");

    let bad = d.write(
        "bad.jsonl",
        &format!("{{\"from\":\"{BOB}\",\"to\":\"{CAROL}\",\"amt_msat\":-1}}\n"),
    );
    let out = d.run(&["queryprob", "--batch", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1") && err.contains("amt_msat"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bimodal_walkthrough() {
    let d = setup();
    d.ok(&["setmccfg", "--estimator", "bimodal"]);
    let cfg = d.json(&["getmccfg"]);
    assert_eq!(cfg["config"]["model"], "BIMODAL");
    assert_eq!(cfg["config"]["bimodal"]["scale_msat"], "300000000");
    assert_eq!(cfg["config"]["hop_probability"], 0);
    // Local hop 1.0; Bob→Carol 1.0 below the (barely decayed) success.
    assert_eq!(prob(&d, &["queryprob", ALICE, BOB, "5300"]), 1.0);
    assert_eq!(
        prob(&d, &["queryprob", BOB, CAROL, "5000", "--capacity-sat", "30000"]),
        1.0
    );
    // Unknown capacity: bimodal cannot say anything, LND gives 0.
    assert_eq!(prob(&d, &["queryprob", BOB, CAROL, "5000"]), 0.0);
}

#[test]
fn queryroutes_matches_the_tutorial() {
    let d = setup();
    let g = d.write("graph.json", &graph());
    let g = g.to_str().unwrap();
    let route = |amt: &str, use_mc: bool| {
        let mut args = vec!["queryroutes", "--graph", g, CAROL, amt];
        if use_mc {
            args.push("--use_mc");
        }
        d.json(&args)
    };
    let r = route("5200", true);
    assert_eq!(r["success_prob"].as_f64().unwrap(), 0.9025, "{r}");
    let hops = r["routes"][0]["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 2);
    assert_eq!(hops[0]["pub_key"], BOB);
    assert_eq!(hops[0]["chan_id"], "1");
    assert_eq!(hops[0]["fee_msat"], "1005", "{r}");
    assert_eq!(hops[0]["amt_to_forward_msat"], "5200000");
    assert_eq!(hops[1]["pub_key"], CAROL);
    assert_eq!(hops[1]["fee_msat"], "0");
    assert_eq!(hops[1]["amt_to_forward_msat"], "5200000");
    // Time locks: final delta 80 at the last hop, Bob's 40 on top.
    assert_eq!(hops[1]["expiry"], 80);
    assert_eq!(hops[0]["expiry"], 80);
    assert_eq!(r["routes"][0]["total_time_lock"], 120);
    assert_eq!(r["routes"][0]["total_amt_msat"], "5201005");
    assert_eq!(r["routes"][0]["total_fees_msat"], "1005");
    assert_eq!(r["routes"][0]["total_fees"], "1");

    let r = route("5300", true);
    assert_eq!(r["success_prob"].as_f64().unwrap(), 0.5699999999999985, "{r}");
    assert_eq!(r["routes"][0]["hops"][0]["fee_msat"], "1005");
    // Without --use_mc every hop counts as 1, as lncli's default.
    assert_eq!(route("5300", false)["success_prob"].as_f64().unwrap(), 1.0);

    // Ignoring Bob leaves no route: LND's reason, non-zero exit, no panic.
    let out = d.run(&["queryroutes", "--graph", g, CAROL, "5300", "--ignored_node", BOB]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("FAILURE_REASON_NO_ROUTE"), "{err}");
    // More than Alice's channel holds.
    let out = d.run(&["queryroutes", "--graph", g, CAROL, "40000"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("FAILURE_REASON_INSUFFICIENT_BALANCE"));
    // An unknown destination.
    let out = d.run(&[
        "queryroutes",
        "--graph",
        g,
        "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        "10",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("not in the graph"), "{err}");
}
