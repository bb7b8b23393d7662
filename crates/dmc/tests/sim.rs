//! `dmc sim`: the tutorial scenarios and a small experiment on the real graph.

mod common;
use common::*;

#[test]
fn scenario_json_matches_the_tutorial() {
    let d = Dmc::new(1_713_074_500);
    let v = d.json(&["sim", "scenario", "usecase1", "--json"]);
    let payments = v["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 2);
    assert!(payments.iter().all(|p| p["status"] == "SUCCEEDED"));
    assert_eq!(payments[0]["htlcs"][0]["fee_msat"], "1005");
    assert_eq!(payments[0]["htlcs"][0]["route"], serde_json::json!([BOB, CAROL]));
    let pairs = v["querymc"]["pairs"].as_array().unwrap();
    let ab = pairs.iter().find(|p| p["node_from"] == ALICE).unwrap();
    assert_eq!(ab["history"]["success_amt_msat"], "5201005");
    assert_eq!(
        v["queryroutes"][1]["success_prob"].as_f64().unwrap(),
        0.5699999999999985
    );

    let v = d.json(&["sim", "scenario", "usecase2", "--json"]);
    assert_eq!(v["payments"][0]["failure_reason"], "FAILURE_REASON_NO_ROUTE");
    let text = d.ok(&["sim", "scenario", "usecase2"]);
    assert!(text.contains("HTLC_STATE") && text.contains("bob->carol"), "{text}");

    let out = d.run(&["sim", "scenario", "usecase7"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usecase7"));
}

#[test]
fn small_experiment_on_the_mainnet_snapshot() {
    let d = Dmc::new(1_770_076_800);
    let graph =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mainnet-2026-02-03.describegraph.json.gz");
    let out = d.path("report.json");
    let plot = d.path("plot.svg");
    let text = d.ok(&[
        "sim",
        "experiment",
        "--graph",
        graph.to_str().unwrap(),
        "--contributors",
        "2",
        "--payments",
        "3",
        "--wallet-payments",
        "4",
        "--models",
        "fixed,uniform",
        "--out",
        out.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(text.contains("cold") && text.contains("warm"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["models"]["fixed"]["cold"]["payments"], 4);
    assert_eq!(v["models"]["uniform"]["warm"]["payments"], 4);
    assert!(v["models"].get("bimodal").is_none());
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));

    let bad = d.run(&["sim", "experiment", "--models", "gaussian"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("gaussian"));
}
