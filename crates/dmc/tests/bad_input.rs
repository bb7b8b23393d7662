//! Bad input gets a one-line error naming the field and value, exit code 2,
//! and leaves the store exactly as it was.

mod common;
use common::*;

const OFF_CURVE: &str = "05c60c3aea280fe7b161ba08722206a3fc6895fa4fb8c07ff68985a4bccb4992a4";

fn pair_json(from: &str, to: &str, history: &str) -> String {
    format!(r#"{{"node_from": "{from}", "node_to": "{to}", "history": {history}}}"#)
}

const GOOD_HISTORY: &str = r#"{"fail_time": "0", "fail_amt_sat": "0", "fail_amt_msat": "0", "success_time": "1700000000", "success_amt_sat": "5", "success_amt_msat": "5000"}"#;

fn seeded() -> Dmc {
    let d = Dmc::new(1_700_000_100);
    d.ok(&["importmc", ALICE, BOB, "1700000000", "5000000"]);
    d.ok(&["setmccfg", "--pmtnr", "10"]);
    d
}

/// Runs `args`, expects exit 2 with one stderr line containing every
/// `needles`, and no change to the store.
fn refused(d: &Dmc, args: &[&str], needles: &[&str]) {
    let before = (d.ok(&["querymc"]), d.ok(&["getmccfg"]));
    let out = d.run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "dmc {args:?}: stderr {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "dmc {args:?}: not one line: {err}");
    for n in needles {
        assert!(err.contains(n), "dmc {args:?}: {err:?} does not mention {n:?}");
    }
    assert!(!err.contains("panicked"), "{err}");
    let after = (d.ok(&["querymc"]), d.ok(&["getmccfg"]));
    assert_eq!(before, after, "dmc {args:?} changed the store");
}

#[test]
fn loadmc_refuses_bad_files() {
    let d = seeded();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("malformed", "{\"pairs\": [".into(), vec!["malformed JSON"]),
        (
            "short key",
            format!("{{\"pairs\": [{}]}}", pair_json("02abcd", BOB, GOOD_HISTORY)),
            vec!["node_from", "3 bytes"],
        ),
        (
            "not hex",
            format!("{{\"pairs\": [{}]}}", pair_json("zz", BOB, GOOD_HISTORY)),
            vec!["node_from", "not hex"],
        ),
        (
            "off curve",
            format!("{{\"pairs\": [{}]}}", pair_json(OFF_CURVE, BOB, GOOD_HISTORY)),
            vec!["node_from", OFF_CURVE, "curve"],
        ),
        (
            "negative",
            format!(
                "{{\"pairs\": [{}]}}",
                pair_json(ALICE, BOB, &GOOD_HISTORY.replace("\"5000\"", "\"-5000\""))
            ),
            vec!["success_amt_msat", "-5000"],
        ),
        (
            "overflow",
            format!(
                "{{\"pairs\": [{}]}}",
                pair_json(
                    ALICE,
                    BOB,
                    &GOOD_HISTORY.replace("\"5000\"", "\"99999999999999999999\"")
                )
            ),
            vec!["success_amt_msat", "99999999999999999999"],
        ),
        (
            "sat msat mismatch",
            format!(
                "{{\"pairs\": [{}]}}",
                pair_json(ALICE, BOB, &GOOD_HISTORY.replace("\"5000\"", "\"6000\""))
            ),
            vec!["values not equal"],
        ),
        (
            // The second pair is bad: nothing of the first may be imported.
            "all or nothing",
            format!(
                "{{\"pairs\": [{}, {}]}}",
                pair_json(BOB, CAROL, GOOD_HISTORY),
                pair_json(CAROL, CAROL, GOOD_HISTORY)
            ),
            vec!["pairs[1]", "must differ"],
        ),
        ("unknown field", "{\"pears\": []}".into(), vec!["pears"]),
    ];
    for (name, text, needles) in cases {
        let f = d.write(&format!("{}.json", name.replace(' ', "_")), &text);
        let mut n = needles.clone();
        n.push(f.file_name().unwrap().to_str().unwrap());
        refused(&d, &["loadmc", "--mcdatapath", f.to_str().unwrap()], &n);
    }
    refused(
        &d,
        &["loadmc", "--mcdatapath", "/nonexistent/file.json"],
        &["/nonexistent/file.json"],
    );
    let ok = d.write(
        "ok.json",
        &format!("{{\"pairs\": [{}]}}", pair_json(BOB, CAROL, GOOD_HISTORY)),
    );
    refused(
        &d,
        &["loadmc", "--mcdatapath", ok.to_str().unwrap(), "--timeoffset", "5 days"],
        &["--timeoffset"],
    );
}

#[test]
fn importmc_and_queryprob_refuse_bad_arguments() {
    let d = seeded();
    refused(
        &d,
        &["importmc", "02abcd", BOB, "1700000000", "1000"],
        &["FROM", "02abcd"],
    );
    refused(
        &d,
        &["importmc", ALICE, OFF_CURVE, "1700000000", "1000"],
        &["TO", "curve"],
    );
    refused(&d, &["importmc", ALICE, BOB, "0", "1000"], &["UNIX_TS"]);
    refused(&d, &["importmc", ALICE, BOB, "1700000000", "-1"], &["AMT_MSAT", "-1"]);
    refused(
        &d,
        &["importmc", ALICE, BOB, "1700000000", "9223372036854775808"],
        &["AMT_MSAT", "9223372036854775808"],
    );
    refused(&d, &["importmc", ALICE, BOB, "1700000000", "0"], &["AMT_MSAT"]);
    // LND refuses a zero-amount failure: it would be silently dropped.
    refused(
        &d,
        &["importmc", "--failure", ALICE, BOB, "1700000000", "0"],
        &["either success or failure"],
    );
    refused(&d, &["queryprob", ALICE, BOB, "-5"], &["AMT_SAT", "-5"]);
    refused(
        &d,
        &["queryprob", ALICE, BOB, "9223372036854775807"],
        &["AMT_SAT", "overflows"],
    );
    refused(
        &d,
        &["queryprob", ALICE, BOB, "5", "--capacity-sat", "x"],
        &["--capacity-sat", "x"],
    );
    refused(
        &d,
        &["queryprob", ALICE, BOB, "5", "--graph", "/nonexistent/g.json"],
        &["--graph", "/nonexistent/g.json"],
    );
    let out = d.run_without_now(&["--now", "yesterday", "querymc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--now: \"yesterday\""));
    refused(&d, &["--self", "02ab", "querymc"], &["--self", "02ab"]);
}

#[test]
fn setmccfg_refuses_out_of_range_values() {
    let d = seeded();
    refused(
        &d,
        &["setmccfg", "--estimator", "gaussian"],
        &["--estimator", "gaussian"],
    );
    refused(
        &d,
        &["setmccfg", "--estimator", "apriori", "--apriorihopprob", "1.5"],
        &["hop probability", "1.5"],
    );
    refused(
        &d,
        &["setmccfg", "--estimator", "apriori", "--aprioriweight", "-0.1"],
        &["weight", "-0.1"],
    );
    refused(
        &d,
        &["setmccfg", "--estimator", "apriori", "--aprioricapacityfraction", "0.5"],
        &["capacity fraction", "0.5"],
    );
    refused(
        &d,
        &["setmccfg", "--estimator", "apriori", "--apriorihalflife", "1 hour"],
        &["--apriorihalflife"],
    );
    refused(
        &d,
        &["setmccfg", "--estimator", "bimodal", "--bimodalscale", "0"],
        &["bimodal scale", "0"],
    );
    refused(
        &d,
        &["setmccfg", "--estimator", "bimodal", "--bimodaldecaytime", "0s"],
        &["decay time"],
    );
    refused(
        &d,
        &["setmccfg", "--estimator", "bimodal", "--apriorihopprob", "0.5"],
        &["--apriorihopprob"],
    );
    refused(
        &d,
        &["setmccfg", "--apriorihopprob", "0.5"],
        &["--apriorihopprob", "--estimator"],
    );
    refused(&d, &["setmccfg", "--pmtnr", "-3"], &["--pmtnr", "-3"]);
    refused(&d, &["setmccfg", "--pmtnr", "4294967296"], &["--pmtnr", "4294967296"]);
    refused(&d, &["setmccfg"], &["no value"]);
}

#[test]
fn report_refuses_bad_attempts() {
    let d = seeded();
    d.ok(&["self", ALICE]);
    let route = format!(r#"{{"total_amt_msat": 1000, "hops": [{{"pub_key": "{BOB}", "amt_to_forward_msat": 1000}}]}}"#);
    let cases = [
        ("{not json".to_string(), vec!["line 1", "malformed JSON"]),
        (
            format!(r#"{{"route": {route}, "failure": {{"source_index": 3, "code": "TEMPORARY_CHANNEL_FAILURE"}}}}"#),
            vec!["source_index", "3"],
        ),
        (
            format!(r#"{{"route": {route}, "failure": {{"source_index": 1, "code": "NOT_A_CODE"}}}}"#),
            vec!["code", "NOT_A_CODE"],
        ),
        (
            r#"{"route": {"total_amt_msat": 1, "hops": []}}"#.to_string(),
            vec!["hops"],
        ),
        (
            format!(r#"{{"route": {}}}"#, route.replace("1000}", "-1}")),
            vec!["amt_to_forward_msat", "-1"],
        ),
        (
            format!(
                r#"{{"route": {{"total_amt_msat": 1000, "hops": [{{"pub_key": "{BOB}", "amt_to_forward_msat": 1000}}, {{"pub_key": "{BOB}", "amt_to_forward_msat": 1000}}]}}}}"#
            ),
            vec!["hops[1].pub_key", "the node the hop leaves from"],
        ),
        (
            format!(r#"{{"route": {}}}"#, route.replace(BOB, ALICE)),
            vec!["hops[0].pub_key", "the node the hop leaves from"],
        ),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        let f = d.write(&format!("r{i}.jsonl"), text);
        refused(&d, &["report", "--file", f.to_str().unwrap()], needles);
    }
}

#[test]
fn nothing_is_created_for_bad_arguments() {
    let d = Dmc::new(1_700_000_000);
    let out = d.run(&["importmc", "02ab", BOB, "1", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!d.data_dir().exists(), "a refused command created the data dir");
}

/// `dmc serve` refuses a bad weight or corroboration before it opens
/// anything, naming the flag.
#[test]
fn serve_refuses_bad_weights() {
    let d = seeded();
    for (flag, value) in [
        ("--failure-corroboration", "abc"),
        ("--failure-corroboration", "-1"),
        ("--failure-corroboration", "inf"),
        ("--min-serving-weight", "nan"),
    ] {
        let arg = format!("{flag}={value}");
        refused(&d, &["serve", &arg], &[flag, "not a number ≥ 0"]);
    }
}
