//! The real LND `querymc` samples in ../shared/data/acceptance-ec load with
//! `loadmc` into a fresh data dir and `querymc` gives back what LND holds
//! after the same load. The expected state comes from an independent,
//! deliberately naive model of LND's import (sanitise → validate → merge,
//! spec §3), written here without dmc-core. The samples are not in the
//! repository (no licence); without ../shared this test skips.

mod common;
use common::*;

use std::collections::BTreeMap;

const RELAX_SECS: i64 = 60;

/// A pair record with times in Unix seconds; `None` is Go's zero time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Rec {
    fail_t: Option<i64>,
    fail_amt: u64,
    succ_t: Option<i64>,
    succ_amt: u64,
}

/// `a.After(b)` with the zero time before every real time.
fn after(a: Option<i64>, b: Option<i64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        _ => false,
    }
}

/// `a.Sub(b) < relax`, with the saturation of zero times.
fn within_relax(a: Option<i64>, b: Option<i64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a - b < RELAX_SECS,
        (Some(_), None) => false, // +MAX
        (None, Some(_)) => true,  // −MAX
        (None, None) => 0 < RELAX_SECS,
    }
}

fn fail(r: &mut Rec, t: Option<i64>, amt: u64) {
    if amt > r.fail_amt && within_relax(t, r.fail_t) {
        return;
    }
    r.fail_t = t;
    r.fail_amt = amt;
    if amt == 0 {
        r.succ_amt = 0;
    } else if amt <= r.succ_amt {
        r.succ_amt = amt - 1;
    }
}

fn succeed(r: &mut Rec, t: Option<i64>, amt: u64) {
    r.succ_t = t;
    r.succ_amt = r.succ_amt.max(amt);
    if r.fail_t.is_some() && amt >= r.fail_amt {
        r.fail_amt = amt + 1;
    }
}

fn int(v: &serde_json::Value) -> i64 {
    v.as_str().unwrap().parse().unwrap()
}

/// What LND holds after `lncli loadmc` of these pairs into an empty MC.
fn expected_after_load(pairs: &[serde_json::Value]) -> BTreeMap<(String, String), Rec> {
    let mut state: BTreeMap<(String, String), Rec> = BTreeMap::new();
    for p in pairs {
        let h = &p["history"];
        let (ft, mut fm, fs) = (int(&h["fail_time"]), int(&h["fail_amt_msat"]), int(&h["fail_amt_sat"]));
        let (mut st, sm, ss) = (
            int(&h["success_time"]),
            int(&h["success_amt_msat"]),
            int(&h["success_amt_sat"]),
        );
        // lncli's sanitising.
        if st != 0 && sm == 0 && ss == 0 {
            st = 0;
        }
        if st == 0 && ft != 0 && fm == 0 && fs == 0 {
            fm = 1;
        }
        // The samples agree in sat and msat, so the msat value is what LND uses.
        assert_eq!(fm / 1000, fs, "{p}");
        assert_eq!(sm / 1000, ss, "{p}");
        let (fail_amt, fail_t) = if ft != 0 && fm != 0 {
            (fm as u64, Some(ft))
        } else {
            (0, None)
        };
        let (succ_amt, succ_t) = if st != 0 && sm != 0 {
            (sm as u64, Some(st))
        } else {
            (0, None)
        };
        assert!(fail_amt != 0 || succ_amt != 0, "sample pair would be rejected: {p}");
        let key = (
            p["node_from"].as_str().unwrap().to_string(),
            p["node_to"].as_str().unwrap().to_string(),
        );
        let last = state.get(&key).copied().unwrap_or_default();
        let mut cur = last;
        if !after(last.fail_t, fail_t) {
            fail(&mut cur, fail_t, fail_amt);
        }
        if !after(last.succ_t, succ_t) {
            succeed(&mut cur, succ_t, succ_amt);
        }
        state.insert(key, cur);
    }
    state
}

#[test]
fn lnd_samples_round_trip_through_loadmc() {
    let path = shared_dir().join("data/acceptance-ec/mc_samples.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "SKIPPED lnd_samples_round_trip_through_loadmc: {} not found",
            path.display()
        );
        return;
    };
    let samples: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(samples.len() >= 10);
    for (name, pairs) in &samples {
        let pairs = pairs.as_array().unwrap();
        let d = Dmc::new(1_719_500_000);
        let file = d.write("sample.json", &serde_json::json!({ "pairs": pairs }).to_string());
        d.ok(&["loadmc", "--mcdatapath", file.to_str().unwrap()]);
        let got = d.json(&["querymc"]);
        let got = got["pairs"].as_array().unwrap();
        let want = expected_after_load(pairs);
        assert_eq!(got.len(), want.len(), "sample {name}: pair count");
        for g in got {
            let key = (
                g["node_from"].as_str().unwrap().to_string(),
                g["node_to"].as_str().unwrap().to_string(),
            );
            let w = want
                .get(&key)
                .unwrap_or_else(|| panic!("sample {name}: unexpected pair {key:?}"));
            let h = &g["history"];
            let secs = |t: Option<i64>| t.unwrap_or(0).to_string();
            assert_eq!(h["fail_time"], secs(w.fail_t), "sample {name} {key:?}");
            assert_eq!(h["fail_amt_msat"], w.fail_amt.to_string(), "sample {name} {key:?}");
            assert_eq!(
                h["fail_amt_sat"],
                (w.fail_amt / 1000).to_string(),
                "sample {name} {key:?}"
            );
            assert_eq!(h["success_time"], secs(w.succ_t), "sample {name} {key:?}");
            assert_eq!(h["success_amt_msat"], w.succ_amt.to_string(), "sample {name} {key:?}");
            assert_eq!(
                h["success_amt_sat"],
                (w.succ_amt / 1000).to_string(),
                "sample {name} {key:?}"
            );
        }
        // Loaded data is an import: it shows in the imported view, not the local one.
        assert_eq!(
            d.json(&["querymc", "--view", "local"])["pairs"]
                .as_array()
                .unwrap()
                .len(),
            0
        );
        assert_eq!(
            d.json(&["querymc", "--view", "imported"])["pairs"]
                .as_array()
                .unwrap()
                .len(),
            want.len()
        );
    }
}
