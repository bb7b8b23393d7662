//! `dmc sim`: the tutorial scenarios and a small experiment on the real graph.

mod common;
use common::*;

/// The shipped mainnet snapshot.
fn mainnet_graph() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mainnet-2026-02-03.describegraph.json.gz")
}

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
    let graph = mainnet_graph();
    let out = d.path("report.json");
    let plot = d.path("curves.svg");
    let text = d.ok(&[
        "sim",
        "experiment",
        "--graph",
        graph.to_str().unwrap(),
        "--seeds",
        "2",
        "--contributors",
        "2",
        "--contributor-time",
        "1h",
        "--wallet-time",
        "1h",
        "--routing-payments",
        "3",
        "--wallets",
        "routing",
        "--estimators",
        "apriori",
        "--balances",
        "fixed,uniform",
        "--bootstrap",
        "100",
        "--out",
        out.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(
        text.contains("cold") && text.contains("warm") && text.contains("oracle"),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["balances"], "fixed");
    assert_eq!(results[1]["balances"], "uniform");
    assert_eq!(results[0]["subsets"]["all"]["payments"], 6, "3 payments x 2 seeds");
    assert_eq!(v["params"]["seeds"], 2);
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));
    let png = std::fs::read(d.path("curves.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    for (flag, value, named) in [
        ("--balances", "gaussian", "gaussian"),
        ("--wallets", "desktop", "desktop"),
        ("--estimators", "magic", "magic"),
        ("--seeds", "0", "--seeds"),
        ("--sync-interval", "1ms", "--sync-interval"),
        ("--contributor-rate", "1e9", "--contributor-rate"),
        ("--estimators", "apriori,apriori", "twice"),
        ("--balances", "flowing,uniform,flowing", "twice"),
        ("--bootstrap", "10", "--bootstrap"),
        ("--sync-interval", "1500ms", "--sync-interval"),
        ("--background-rate", "nan", "--background-rate"),
        ("--first-hand-hold", "1500ms", "--first-hand-hold"),
        ("--first-hand-hold", "soon", "--first-hand-hold"),
    ] {
        let bad = d.run(&["sim", "experiment", "--graph", graph.to_str().unwrap(), flag, value]);
        assert_eq!(bad.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(err.contains(named), "{flag} {value}: {err}");
    }
}

#[test]
fn experiment_refuses_bad_liars_and_lie_values() {
    let d = Dmc::new(1_770_076_800);
    let graph = mainnet_graph();
    let g = graph.to_str().unwrap();
    for (args, named) in [
        (&["--liars", "1"][..], "--liars"),
        (&["--liars", "1.5", "--lie", "inverted"][..], "[0, 1)"),
        (&["--liars", "-0.1", "--lie", "inverted"][..], "--liars"),
        (&["--liars", "nan", "--lie", "inverted"][..], "--liars"),
        (&["--liars", "ten", "--lie", "inverted"][..], "not a number"),
        (&["--liars", "0.2"][..], "--lie is required"),
        (
            &["--liars", "0.2", "--lie", "lies"][..],
            "\"lies\" is not inverted, blackhole or fake-capacity",
        ),
        (&["--liars", "0.2", "--lie", ""][..], "--lie"),
        (&["--lie", "blackhole"][..], "--lie needs --liars"),
    ] {
        let mut argv = vec!["sim", "experiment", "--graph", g];
        argv.extend_from_slice(args);
        let bad = d.run(&argv);
        assert_eq!(bad.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(err.contains(named), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn small_experiment_with_liars_marks_its_results() {
    let d = Dmc::new(1_770_076_800);
    let graph = mainnet_graph();
    let out = d.path("liars.json");
    let text = d.ok(&[
        "sim",
        "experiment",
        "--graph",
        graph.to_str().unwrap(),
        "--seeds",
        "1",
        "--contributors",
        "4",
        "--contributor-time",
        "1h",
        "--wallet-time",
        "1h",
        "--routing-payments",
        "3",
        "--wallets",
        "routing",
        "--estimators",
        "apriori",
        "--balances",
        "uniform",
        "--bootstrap",
        "100",
        "--liars",
        "0.5",
        "--lie",
        "fake-capacity",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(text.contains("50% of them lying (fake-capacity)"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let want = serde_json::json!({"fraction": 0.5, "kind": "fake-capacity"});
    assert_eq!(v["params"]["liars"], want);
    assert_eq!(v["results"][0]["liars"], want);
    let world = &v["worlds"][0];
    // Two of four contributors lie, if two of them are established (the
    // best-connected half always is).
    assert_eq!(world["liars"]["count"], 2, "{world}");
    assert!(world["coordinator_pairs"]["dmc_held"].as_u64().is_some(), "{world}");
}

#[test]
fn reach_probes_high_degree_targets() {
    let d = Dmc::new(1_770_076_800);
    let graph = mainnet_graph();
    let g = graph.to_str().unwrap();
    let v = d.json(&[
        "sim",
        "reach",
        "--graph",
        g,
        "--seeds",
        "1",
        "--probes",
        "4",
        "--balances",
        "uniform",
        "--json",
    ]);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "three amounts and all: {v}");
    assert_eq!(rows[0]["amount_sat"], 1000);
    assert_eq!(rows[3]["amount_sat"], "all");
    assert_eq!(rows[3]["probes"], 12);
    for r in rows {
        let share = r["share"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&share));
        assert!(r["reached_within_10s"].as_u64() <= r["reached_eventually"].as_u64());
    }
    for (flag, value) in [("--amounts", "0"), ("--probes", "0"), ("--balances", "wavy")] {
        let bad = d.run(&["sim", "reach", "--graph", g, flag, value]);
        assert_eq!(bad.status.code(), Some(2), "{flag} {value}");
        assert!(String::from_utf8_lossy(&bad.stderr).contains(flag), "{flag}");
    }
}
