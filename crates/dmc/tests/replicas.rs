//! Two `dmc serve` replicas (the real binary, separate data dirs) on one
//! PostgreSQL database: what one acknowledges, the other serves, in full
//! and as deltas since a cursor; a replica killed with SIGKILL mid-stream
//! loses no acknowledged registration.
//!
//! Needs `DMC_TEST_DATABASE_URL` (a server where databases may be created;
//! each test makes its own scratch database and drops it). Without it each
//! test prints `SKIPPED <name>: DMC_TEST_DATABASE_URL not set` and returns.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dmc_proto::ecrpc::external_coordinator_client::ExternalCoordinatorClient;
use dmc_proto::ecrpc::{PairData, PairHistory, RegisterMissionControlRequest};

mod serve_kit;
use serve_kit::*;

fn node(i: u32) -> Vec<u8> {
    node_in(0x33, i)
}

impl Serve {
    fn replica(data_dir: &Path, database_url: &str) -> Serve {
        Serve::spawn(
            data_dir,
            &[
                "--grpc-listen",
                "127.0.0.1:0",
                "--rest-listen",
                "127.0.0.1:0",
                // Store mechanics, not weighing: the Go coordinator's openness.
                "--graph",
                "none",
                "--min-serving-weight",
                "0",
                "--database-url",
                database_url,
                "--requests-per-minute",
                "1000000",
            ],
        )
    }

    /// `dmc ec query --format json [--since N]` against this replica.
    fn query(&self, since: Option<u64>) -> serde_json::Value {
        let mut args = vec![
            "ec".to_string(),
            "query".into(),
            "--ec".into(),
            self.url(),
            "--tls-cert".into(),
            self.cert().to_str().unwrap().to_string(),
            "--format".into(),
            "json".into(),
        ];
        if let Some(s) = since {
            args.extend(["--since".into(), s.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_ok(&self.data_dir, &args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }
}

fn cursor(v: &serde_json::Value) -> u64 {
    v["cursor"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no cursor in {v}"))
}

/// (node_from, node_to) hex pairs of a query answer, sorted.
fn pair_keys(v: &serde_json::Value, field: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v[field]
        .as_array()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
        .iter()
        .map(|p| {
            (
                p["node_from"].as_str().unwrap().to_string(),
                p["node_to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn querymc_file(pairs: &[(u32, u32, i64, i64)]) -> String {
    let items: Vec<serde_json::Value> = pairs
        .iter()
        .map(|&(f, to, t, msat)| {
            serde_json::json!({
                "node_from": hex(&node(f)),
                "node_to": hex(&node(to)),
                "history": {
                    "fail_time": "0", "fail_amt_sat": "0", "fail_amt_msat": "0",
                    "success_time": t.to_string(),
                    "success_amt_sat": (msat / 1000).to_string(),
                    "success_amt_msat": msat.to_string(),
                }
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "pairs": items })).unwrap()
}

#[test]
fn postgres_replicas_serve_each_others_registrations_in_full_and_as_deltas() {
    let Some(db) = scratch("postgres_replicas_serve_each_others_registrations_in_full_and_as_deltas") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (
        Serve::replica(&tmp.path().join("a"), db.url()),
        Serve::replica(&tmp.path().join("b"), db.url()),
    );
    // Register the README's walkthrough file through A, read it through B.
    let walkthrough = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/walkthrough-querymc.json");
    let out = run_ok(
        &a.data_dir,
        &[
            "ec",
            "register",
            "--file",
            walkthrough.to_str().unwrap(),
            "--ec",
            &a.url(),
            "--tls-cert",
            a.cert().to_str().unwrap(),
            "--rebase-times",
        ],
    );
    assert!(out.contains("Successfully registered 2 pairs"), "{out}");
    let full = b.query(None);
    let c1 = cursor(&full);
    assert_eq!(c1, 2, "{full}");
    let wt: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&walkthrough).unwrap()).unwrap();
    assert_eq!(pair_keys(&full, "pairs"), pair_keys(&wt, "pairs"));
    assert_eq!(full["pairs"][0]["reporters_anonymous"], 1, "v1 is one anonymous source");
    // `age_seconds` is taken at each answer: two queries may straddle a second.
    let ageless = |mut v: serde_json::Value| {
        for p in v["pairs"].as_array_mut().into_iter().flatten() {
            p.as_object_mut().map(|o| o.remove("age_seconds"));
        }
        v
    };
    assert_eq!(
        ageless(a.query(None)),
        ageless(full.clone()),
        "both replicas serve the same snapshot"
    );

    // More through B; A's delta since c1 holds exactly those.
    let t = now() - 60;
    let file = tmp.path().join("more.json");
    std::fs::write(
        &file,
        querymc_file(&[(1, 2, t, 10_000), (2, 3, t, 20_000), (3, 1, t, 30_000)]),
    )
    .unwrap();
    run_ok(
        &b.data_dir,
        &[
            "ec",
            "register",
            "--file",
            file.to_str().unwrap(),
            "--ec",
            &b.url(),
            "--tls-cert",
            b.cert().to_str().unwrap(),
        ],
    );
    let delta = a.query(Some(c1));
    assert_eq!(delta["full_resync"], false, "{delta}");
    assert_eq!(cursor(&delta), c1 + 3);
    let want: Vec<(String, String)> = {
        let mut w = vec![
            (hex(&node(1)), hex(&node(2))),
            (hex(&node(2)), hex(&node(3))),
            (hex(&node(3)), hex(&node(1))),
        ];
        w.sort();
        w
    };
    assert_eq!(pair_keys(&delta, "pairs"), want);
    let nothing = b.query(Some(c1 + 3));
    assert_eq!(pair_keys(&nothing, "pairs"), Vec::new());
    assert_eq!(cursor(&nothing), c1 + 3);

    // `dmc admin forget-reporter --database-url` while both run: the
    // removals reach either replica as a delta.
    let out = run_ok(
        &a.data_dir,
        &[
            "admin",
            "forget-reporter",
            "anonymous:127.0.0.1",
            "--database-url",
            db.url(),
        ],
    );
    assert!(out.contains("forgot 5 observations of anonymous 127.0.0.1"), "{out}");
    let delta = b.query(Some(c1 + 3));
    assert_eq!(pair_keys(&delta, "removed").len(), 5, "{delta}");
    assert_eq!(pair_keys(&a.query(None), "pairs"), Vec::new());
}

#[test]
fn postgres_replica_sigkilled_mid_stream_loses_no_acknowledged_registration() {
    let Some(db) = scratch("postgres_replica_sigkilled_mid_stream_loses_no_acknowledged_registration") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (
        Serve::replica(&tmp.path().join("a"), db.url()),
        Serve::replica(&tmp.path().join("b"), db.url()),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let (ch_a, ch_b) = rt.block_on(async { (a.channel().await, b.channel().await) });

    const WORKERS: u32 = 4;
    const PER_WORKER: u32 = 300;
    let t = now() - 120;
    // Registration k: the pair (k, k + 1), amount 1000 * (k + 1) msat.
    let keys: Arc<Vec<Vec<u8>>> = Arc::new((0..=(WORKERS + 1) * PER_WORKER).map(node).collect());
    let pair = {
        let keys = keys.clone();
        move |k: u32| PairHistory {
            node_from: keys[k as usize].clone(),
            node_to: keys[k as usize + 1].clone(),
            history: Some(PairData {
                success_time: t,
                success_amt_sat: k as i64 + 1,
                success_amt_msat: 1_000 * (k as i64 + 1),
                ..Default::default()
            }),
        }
    };
    let acked = Arc::new(Mutex::new(Vec::<u32>::new()));
    let acked_count = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    // Workers on A, and one on B that keeps going through the kill.
    let mut workers = Vec::new();
    for w in 0..=WORKERS {
        let on_b = w == WORKERS;
        let ch = if on_b { ch_b.clone() } else { ch_a.clone() };
        let (acked, acked_count, killed, pair) = (acked.clone(), acked_count.clone(), killed.clone(), pair.clone());
        workers.push(rt.spawn(async move {
            let mut client = ExternalCoordinatorClient::new(ch);
            let ks: Vec<u32> = if on_b {
                (WORKERS * PER_WORKER..(WORKERS + 1) * PER_WORKER).collect()
            } else {
                (w..WORKERS * PER_WORKER).step_by(WORKERS as usize).collect()
            };
            for k in ks {
                let req = RegisterMissionControlRequest { pairs: vec![pair(k)] };
                let r = tokio::time::timeout(Duration::from_secs(10), client.register_mission_control(req)).await;
                match r {
                    Ok(Ok(resp)) => {
                        assert_eq!(resp.into_inner().success_message, "Successfully registered 1 pairs");
                        acked.lock().unwrap().push(k);
                        acked_count.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Err(status)) => {
                        assert!(!on_b, "replica B refused: {status:?}");
                        assert!(killed.load(Ordering::SeqCst), "refused before the kill: {status:?}");
                        return true;
                    }
                    Err(_) => {
                        assert!(!on_b && killed.load(Ordering::SeqCst), "timed out (B: {on_b})");
                        return true;
                    }
                }
            }
            false
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked_count.load(Ordering::SeqCst) < 200 {
        assert!(
            Instant::now() < deadline,
            "only {} registrations acknowledged in 30 s",
            acked_count.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    killed.store(true, Ordering::SeqCst);
    a.kill();
    let interrupted: Vec<bool> = workers.into_iter().map(|w| rt.block_on(w).expect("worker")).collect();
    assert!(
        interrupted[..WORKERS as usize].iter().any(|i| *i),
        "the kill interrupted A's stream"
    );
    assert!(!interrupted[WORKERS as usize], "B's stream went on through A's death");

    // Every acknowledged registration, through either replica, is served by B.
    let acked = acked.lock().unwrap().clone();
    let full = b.query(None);
    let served: HashMap<(String, String), String> = full["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                (
                    p["node_from"].as_str().unwrap().into(),
                    p["node_to"].as_str().unwrap().into(),
                ),
                p["history"]["success_amt_msat"].as_str().unwrap().into(),
            )
        })
        .collect();
    for k in &acked {
        let p = pair(*k);
        let got = served.get(&(hex(&p.node_from), hex(&p.node_to)));
        assert_eq!(
            got.map(String::as_str),
            Some(&*(1_000 * (*k as i64 + 1)).to_string()),
            "acknowledged registration {k} missing after A's SIGKILL"
        );
    }
    // Nothing beyond what was sent: at most A's in-flight ones too.
    assert!(
        served.len() >= acked.len() && served.len() <= acked.len() + WORKERS as usize,
        "{} served, {} acknowledged",
        served.len(),
        acked.len()
    );
    // B's cursor covers it all: a delta from 0 lists the same pairs.
    let delta = b.query(Some(0));
    assert_eq!(delta["full_resync"], false);
    assert_eq!(pair_keys(&delta, "pairs"), pair_keys(&full, "pairs"));
    assert_eq!(cursor(&delta), cursor(&full));

    // A restarted replica on the same database serves the same.
    let a2 = Serve::replica(&tmp.path().join("a"), db.url());
    assert_eq!(pair_keys(&a2.query(None), "pairs"), pair_keys(&full, "pairs"));
    a2.terminate();
    b.terminate();
}
