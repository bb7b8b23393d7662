//! The real `dmc serve` binary: crash safety under SIGKILL, `dmc admin
//! forget-reporter` on a stopped server, and the `dmc ec` client end to
//! end. Each test has its own temp data dir and ports 127.0.0.1:0.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dmc_proto::ecrpc::external_coordinator_client::ExternalCoordinatorClient;
use dmc_proto::ecrpc::{PairData, PairHistory, QueryAggregatedMissionControlRequest, RegisterMissionControlRequest};
use secp256k1::SecretKey;
use tonic::transport::Channel;

mod serve_kit;
use serve_kit::*;

fn secret(i: u32) -> SecretKey {
    secret_in(0x22, i)
}

fn node(i: u32) -> Vec<u8> {
    node_in(0x22, i)
}

impl Serve {
    /// Store mechanics, not weighing: the Go coordinator's openness (no
    /// graph, every pair with any weight served).
    fn start(data_dir: &Path, extra: &[&str]) -> Serve {
        let mut args = vec!["--graph", "none", "--min-serving-weight", "0"];
        args.extend_from_slice(extra);
        Self::start_with(data_dir, &args)
    }

    /// With exactly `args` after the listen addresses.
    fn start_with(data_dir: &Path, args: &[&str]) -> Serve {
        let mut all = vec!["--grpc-listen", "127.0.0.1:0", "--rest-listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let s = Serve::spawn(data_dir, &all);
        for addr in [&s.grpc, &s.rest] {
            let addr: std::net::SocketAddr = addr.parse().unwrap();
            assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
        }
        s
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

fn success_pair(from: u32, to: u32, t: i64, msat: i64) -> PairHistory {
    PairHistory {
        node_from: node(from),
        node_to: node(to),
        history: Some(PairData {
            success_time: t,
            success_amt_sat: msat / 1000,
            success_amt_msat: msat,
            ..Default::default()
        }),
    }
}

async fn query_all(ch: Channel) -> Vec<PairHistory> {
    let mut s = ExternalCoordinatorClient::new(ch)
        .query_aggregated_mission_control(QueryAggregatedMissionControlRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(m) = s.message().await.unwrap() {
        out.extend(m.pairs);
    }
    out
}

// ------------------------------------------------------------------ tests

#[test]
fn sigkill_during_registrations_loses_no_acknowledged_pair() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let srv = Serve::start(&data, &["--requests-per-minute", "1000000"]);
    let rt = runtime();
    let ch = rt.block_on(srv.channel());

    const WORKERS: u32 = 4;
    const PER_WORKER: u32 = 250;
    let t = now() - 120;
    // Registration k is the pair (k, k + 1) with amount 1000 * (k + 1) msat.
    let expected = |k: u32| success_pair(k, k + 1, t, 1_000 * (k as i64 + 1));
    // Keys are derived up front so the workers only send.
    let pairs: Arc<Vec<PairHistory>> = Arc::new((0..WORKERS * PER_WORKER).map(expected).collect());
    let acked = Arc::new(Mutex::new(Vec::<u32>::new()));
    let acked_count = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (ch, pairs, acked, acked_count, killed) = (
            ch.clone(),
            pairs.clone(),
            acked.clone(),
            acked_count.clone(),
            killed.clone(),
        );
        workers.push(rt.spawn(async move {
            let mut client = ExternalCoordinatorClient::new(ch);
            let mut errors_after_kill = 0;
            for k in (w..WORKERS * PER_WORKER).step_by(WORKERS as usize) {
                let req = RegisterMissionControlRequest {
                    pairs: vec![pairs[k as usize].clone()],
                };
                let r = tokio::time::timeout(Duration::from_secs(5), client.register_mission_control(req)).await;
                match r {
                    Ok(Ok(resp)) => {
                        assert_eq!(resp.into_inner().success_message, "Successfully registered 1 pairs");
                        acked.lock().unwrap().push(k);
                        acked_count.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Err(status)) => {
                        assert!(killed.load(Ordering::SeqCst), "refused before the kill: {status:?}");
                        errors_after_kill += 1;
                        break;
                    }
                    Err(_) => {
                        assert!(killed.load(Ordering::SeqCst), "timed out before the kill");
                        break;
                    }
                }
            }
            errors_after_kill
        }));
    }

    // Let a good number of registrations through, then kill mid-stream.
    let deadline = Instant::now() + Duration::from_secs(8);
    while acked_count.load(Ordering::SeqCst) < 150 {
        assert!(
            Instant::now() < deadline,
            "only {} registrations acknowledged in 8 s",
            acked_count.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    killed.store(true, Ordering::SeqCst);
    srv.kill();
    let mut failed_workers = 0;
    for w in workers {
        failed_workers += rt.block_on(w).expect("worker panicked");
    }
    assert!(failed_workers > 0, "the kill interrupted the registration stream");
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 150 && acked.len() < (WORKERS * PER_WORKER) as usize,
        "{}",
        acked.len()
    );

    // Restart on the same data dir and check every acknowledged pair.
    let srv = Serve::start(&data, &[]);
    let stored = rt.block_on(async { query_all(srv.channel().await).await });
    let stored: std::collections::HashMap<(Vec<u8>, Vec<u8>), PairHistory> = stored
        .into_iter()
        .map(|p| ((p.node_from.clone(), p.node_to.clone()), p))
        .collect();
    for k in &acked {
        let want = &pairs[*k as usize];
        let got = stored.get(&(want.node_from.clone(), want.node_to.clone()));
        assert_eq!(
            got,
            Some(want),
            "acknowledged registration {k} lost or changed after SIGKILL"
        );
    }
    // Nothing beyond what was sent (at most the in-flight, unacknowledged ones).
    assert!(
        stored.len() >= acked.len() && stored.len() <= acked.len() + WORKERS as usize,
        "{} stored",
        stored.len()
    );
    srv.terminate();
}

#[test]
fn forget_reporter_unattributed_on_a_stopped_server() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let srv = Serve::start(&data, &[]);
    let rt = runtime();
    let t = now() - 60;
    rt.block_on(async {
        let mut c = ExternalCoordinatorClient::new(srv.channel().await);
        let r = c
            .register_mission_control(RegisterMissionControlRequest {
                pairs: vec![
                    success_pair(1, 2, t, 1_000),
                    success_pair(2, 3, t, 2_000),
                    success_pair(3, 4, t, 3_000),
                ],
            })
            .await
            .unwrap();
        assert_eq!(r.into_inner().success_message, "Successfully registered 3 pairs");
    });
    // A signed registration (attributed to node 9) of pairs 3->4 and 5->6.
    let sign_key = hex(&secret(9).secret_bytes());
    let file = tmp.path().join("signed.json");
    std::fs::write(&file, querymc_file(&[(3, 4, t, 4_000), (5, 6, t, 5_000)])).unwrap();
    let out = run_ok(
        &data,
        &[
            "ec",
            "register",
            "--file",
            file.to_str().unwrap(),
            "--ec",
            &srv.url(),
            "--sign-key",
            &sign_key,
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["accepted"], 2, "{out}");

    // While the server runs, the store is open: dmc asks the server, and
    // says so when it does not answer where it was told to look.
    let busy = run(
        &data,
        &[
            "admin",
            "forget-reporter",
            "anonymous:127.0.0.1",
            "--rest",
            "127.0.0.1:1",
        ],
    );
    assert!(!busy.status.success());
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("does not answer"),
        "{busy:?}"
    );

    srv.terminate();
    let out = run_ok(&data, &["admin", "forget-reporter", "anonymous:127.0.0.1"]);
    assert!(out.contains("forgot 3 observations of anonymous 127.0.0.1"), "{out}");

    let srv = Serve::start(&data, &[]);
    let stored = rt.block_on(async { query_all(srv.channel().await).await });
    let mut keys: Vec<(Vec<u8>, Vec<u8>)> = stored
        .iter()
        .map(|p| (p.node_from.clone(), p.node_to.clone()))
        .collect();
    keys.sort();
    let mut want = vec![(node(3), node(4)), (node(5), node(6))];
    want.sort();
    assert_eq!(keys, want, "only the signed reporter's pairs remain");
    // 3->4 now holds the signed reporter's value only.
    let p34 = stored.iter().find(|p| p.node_from == node(3)).unwrap();
    assert_eq!(p34.history.unwrap().success_amt_msat, 4_000);
    srv.kill();
}

/// A `lncli querymc`-shaped file: (from, to, success time, success msat).
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

/// A server in `<tmp>/data` to which `dmc ec register` sent three pairs
/// (1→2, 2→1 and 4→5, stamped `t`, `t + 1`, `t + 2`); what it printed.
fn serve_with_three_pairs(tmp: &Path) -> (PathBuf, Serve, i64, String) {
    let data = tmp.join("data");
    let srv = Serve::start(&data, &[]);
    let t = now() - 300;
    let file = tmp.join("mc.json");
    std::fs::write(
        &file,
        querymc_file(&[(1, 2, t, 10_000), (2, 1, t + 1, 20_000), (4, 5, t + 2, 30_000)]),
    )
    .unwrap();
    // The client trusts <data-dir>/tls.cert by default: use the server's dir.
    let out = run_ok(
        &data,
        &["ec", "register", "--file", file.to_str().unwrap(), "--ec", &srv.url()],
    );
    (data, srv, t, out)
}

#[test]
fn ec_register_and_query_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, srv, t, out) = serve_with_three_pairs(tmp.path());
    assert_eq!(out.trim(), "Successfully registered 3 pairs");

    // Another client data dir, pointing at the certificate explicitly.
    let client = tmp.path().join("client");
    let cert = data.join("tls.cert");
    let q = dmc(&client)
        .args([
            "ec",
            "query",
            "--ec",
            &srv.url(),
            "--format",
            "lnd",
            "--tls-cert",
            cert.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));
    let text = String::from_utf8(q.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let pairs = v["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 3, "{text}");
    let first = pairs
        .iter()
        .find(|p| p["node_from"] == hex(&node(4)).as_str())
        .expect("pair 4->5");
    assert_eq!(first["node_to"], hex(&node(5)).as_str());
    assert_eq!(first["history"]["success_time"], (t + 2).to_string().as_str());
    assert_eq!(first["history"]["success_amt_msat"], "30000");
    assert_eq!(first["history"]["success_amt_sat"], "30");
    assert_eq!(first["history"]["fail_time"], "0");

    // The output is what `loadmc` takes: load it into a fresh local store.
    let out_file = tmp.path().join("agg.json");
    std::fs::write(&out_file, &text).unwrap();
    let local = tmp.path().join("local");
    run_ok(&local, &["loadmc", "--mcdatapath", out_file.to_str().unwrap()]);
    let loaded: serde_json::Value = serde_json::from_str(&run_ok(&local, &["querymc", "--view", "imported"])).unwrap();
    let loaded = loaded["pairs"].as_array().unwrap();
    assert_eq!(loaded.len(), 3, "{loaded:?}");
    assert!(loaded
        .iter()
        .any(|p| p["node_from"] == hex(&node(4)).as_str() && p["history"]["success_amt_msat"] == "30000"));

    // JSON format with the cursor, then a delta since it is empty.
    let j: serde_json::Value =
        serde_json::from_str(&run_ok(&data, &["ec", "query", "--ec", &srv.url(), "--format", "json"])).unwrap();
    let cursor = j["cursor"].as_str().unwrap().to_string();
    assert_eq!(j["pairs"].as_array().unwrap().len(), 3);
    // v1 registrations are anonymous (one source address); none established.
    assert!(j["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["reporters"] == 0 && p["reporters_anonymous"] == 1));
    let d: serde_json::Value = serde_json::from_str(&run_ok(
        &data,
        &[
            "ec",
            "query",
            "--ec",
            &srv.url(),
            "--format",
            "json",
            "--since",
            &cursor,
        ],
    ))
    .unwrap();
    assert_eq!(d["pairs"].as_array().unwrap().len(), 0, "{d}");

    // A refused registration (time in the future) exits 2 naming the pair.
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, querymc_file(&[(6, 7, now() + 3600, 1_000)])).unwrap();
    let r = run(
        &data,
        &["ec", "register", "--file", bad.to_str().unwrap(), "--ec", &srv.url()],
    );
    assert_eq!(r.status.code(), Some(2), "{r:?}");
    assert!(String::from_utf8_lossy(&r.stderr).contains(&hex(&node(6))), "{r:?}");
    srv.terminate();
}

/// README's quick start as written (ports and data dir aside): the
/// coordinator with the tutorial's graph, a signed registration with the
/// demo key, the aggregate loaded with `loadmc`. An unsigned registration
/// of the same file alone would be stored but not served.
#[test]
fn readme_quick_start_runs_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("dmc-data");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let ex = |f: &str| examples.join(f).to_str().unwrap().to_string();
    let srv = Serve::start_with(&data, &["--graph", &ex("walkthrough-graph.json")]);
    let url = srv.url();
    let register = |signed: bool| {
        let file = ex("walkthrough-querymc.json");
        let key = ex("quickstart-reporter.key");
        let mut args = vec!["ec", "register", "--ec", &url, "--file", &file, "--rebase-times"];
        if signed {
            args.extend(["--sign-key", &key]);
        }
        run_ok(&data, &args)
    };
    register(false);
    let q = |format: &str| run_ok(&data, &["ec", "query", "--ec", &url, "--format", format]);
    let empty: serde_json::Value = serde_json::from_str(&q("lnd")).unwrap();
    assert_eq!(
        empty["pairs"].as_array().map(Vec::len),
        Some(0),
        "anonymous alone is not served: {empty}"
    );
    register(true);
    let merged = q("lnd");
    let file = tmp.path().join("merged.json");
    std::fs::write(&file, &merged).unwrap();
    let out = run_ok(&data, &["loadmc", "--mcdatapath", file.to_str().unwrap()]);
    assert!(out.contains("Imported 2 pairs"), "{out}");
    let mc: serde_json::Value = serde_json::from_str(&run_ok(&data, &["querymc"])).unwrap();
    assert_eq!(mc["pairs"].as_array().unwrap().len(), 2, "{mc}");
    let j: serde_json::Value = serde_json::from_str(&q("json")).unwrap();
    for p in j["pairs"].as_array().unwrap() {
        assert_eq!(
            (p["reporters"].clone(), p["reporters_anonymous"].clone()),
            (1.into(), 1.into()),
            "{p}"
        );
    }
}

/// A describegraph file: `(node1, node2, capacity_sat)` channels between
/// the test nodes, every policy announced at `updated`.
fn graph_file(channels: &[(u32, u32, u64)], updated: i64) -> String {
    let policy = serde_json::json!({
        "time_lock_delta": 40, "min_htlc": "1000", "fee_base_msat": "1000",
        "fee_rate_milli_msat": "1", "disabled": false, "last_update": updated,
    });
    let edges: Vec<serde_json::Value> = channels
        .iter()
        .enumerate()
        .map(|(i, &(a, b, cap))| {
            let (a, b) = (hex(&node(a)), hex(&node(b)));
            serde_json::json!({
                "channel_id": (700_000u64 << 40 | i as u64).to_string(),
                "node1_pub": a.clone().min(b.clone()), "node2_pub": a.max(b),
                "capacity": cap.to_string(),
                "node1_policy": policy, "node2_policy": policy,
            })
        })
        .collect();
    serde_json::to_string(&serde_json::json!({ "nodes": [], "edges": edges })).unwrap()
}

/// SIGHUP reloads the graph: a pair whose channel is gone stops being
/// served, and a graph file that does not load keeps the previous graph
/// (the server goes on, the log says why).
#[test]
fn sighup_reloads_the_graph_and_a_broken_file_keeps_the_old_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let graph = tmp.path().join("graph.json");
    let reporter = 50;
    let both = [(1, 2, 1_000_000), (3, 4, 1_000_000), (reporter, 1, 2_000_000)];
    std::fs::write(&graph, graph_file(&both, now())).unwrap();
    let srv = Serve::start_with(&data, &["--graph", graph.to_str().unwrap()]);
    let t = now() - 30;
    let file = tmp.path().join("mc.json");
    std::fs::write(&file, querymc_file(&[(1, 2, t, 500_000), (3, 4, t, 500_000)])).unwrap();
    let key = hex(&secret(reporter).secret_bytes());
    let out = run_ok(
        &data,
        &[
            "ec",
            "register",
            "--file",
            file.to_str().unwrap(),
            "--ec",
            &srv.url(),
            "--sign-key",
            &key,
        ],
    );
    assert!(out.contains("\"accepted\": 2"), "{out}");
    let served = || -> Vec<String> {
        let j: serde_json::Value =
            serde_json::from_str(&run_ok(&data, &["ec", "query", "--ec", &srv.url(), "--format", "json"])).unwrap();
        j["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["node_from"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(served().len(), 2);
    let hup = || {
        let st = Command::new("kill")
            .args(["-HUP", &srv.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    };
    let wait_for = |what: &str, cond: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "{what}; log: {}",
                std::fs::read_to_string(&srv.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // The 3-4 channel closed.
    std::fs::write(&graph, graph_file(&[both[0], both[2]], now())).unwrap();
    hup();
    wait_for("3->4 still served after the reload", &|| {
        served() == vec![hex(&node(1))]
    });
    // A broken file: the previous graph stays, the server keeps serving.
    std::fs::write(&graph, "{ not json").unwrap();
    hup();
    wait_for("no reload failure in the log", &|| {
        std::fs::read_to_string(&srv.log)
            .unwrap_or_default()
            .contains("graph reload failed")
    });
    assert_eq!(served(), vec![hex(&node(1))]);
    // The channel is back: so is the pair.
    std::fs::write(&graph, graph_file(&both, now())).unwrap();
    hup();
    wait_for("3->4 not served again", &|| served().len() == 2);
}

/// Boolean settings from the environment take what shells and systemd
/// units write (`1`, `yes`, `on`, `true`), and refuse anything else by name.
#[test]
fn boolean_environment_settings_accept_1_and_yes() {
    let tmp = tempfile::tempdir().unwrap();
    for v in ["1", "yes", "on", "true"] {
        let out = dmc(tmp.path())
            .env("DMC_NO_TLS", v)
            .args([
                "serve",
                "--graph",
                "none",
                "--grpc-listen",
                "0.0.0.0:0",
                "--rest-listen",
                "127.0.0.1:0",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("only on loopback"),
            "DMC_NO_TLS={v}: {err}"
        );
    }
    let out = dmc(tmp.path())
        .env("DMC_NO_TLS", "maybe")
        .args(["serve"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--no-tls") && err.contains("maybe"), "{err}");
}

/// `dmc querymc | head -1`: when the reader goes away, dmc ends quietly
/// (SIGPIPE, as other tools do) instead of panicking in `println!`.
#[test]
fn a_closed_stdout_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let t = now() - 60;
    let pairs: Vec<(u32, u32, i64, i64)> = (0..1500).map(|i| (i, i + 1, t, 5_000 + i as i64)).collect();
    let file = tmp.path().join("mc.json");
    std::fs::write(&file, querymc_file(&pairs)).unwrap();
    run_ok(&data, &["loadmc", "--mcdatapath", file.to_str().unwrap()]);
    let mut child = dmc(&data)
        .args(["querymc"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "{");
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
}

/// A server on `DIR/data` that took one registration of pair 1 → 2 from
/// the querymc file it returns.
fn serving_one_pair(dir: &Path) -> (PathBuf, Serve, PathBuf) {
    let data = dir.join("data");
    let srv = Serve::start(&data, &[]);
    let file = dir.join("mc.json");
    std::fs::write(&file, querymc_file(&[(1, 2, now() - 60, 5_000)])).unwrap();
    run_ok(
        &data,
        &["ec", "register", "--file", file.to_str().unwrap(), "--ec", &srv.url()],
    );
    (data, srv, file)
}

/// `dmc serve` without a graph on ports the system picks, not yet run.
fn serve_on_any_port(data: &Path) -> Command {
    let mut c = dmc(data);
    c.args([
        "serve",
        "--graph",
        "none",
        "--grpc-listen",
        "127.0.0.1:0",
        "--rest-listen",
        "127.0.0.1:0",
    ]);
    c
}

/// The store files `--fresh-store` set aside in `data`.
fn set_aside_files(data: &Path) -> Vec<String> {
    std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("broken-"))
        .collect()
}

/// An empty or truncated store is refused with one line naming the file
/// and the way out, never a panic; `--fresh-store` sets it aside.
#[test]
fn a_damaged_store_is_refused_clearly_and_fresh_store_sets_it_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, srv, file) = serving_one_pair(tmp.path());
    srv.terminate();
    let store = data.join("coordinator.redb");
    let serve = |extra: &[&str]| serve_on_any_port(&data).args(extra).output().unwrap();
    for (len, needle) in [(4096u64, "corrupt or truncated"), (0, "empty (0 bytes)")] {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&store)
            .unwrap()
            .set_len(len)
            .unwrap();
        let out = serve(&[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{len} bytes: {err}");
        assert!(
            err.contains("coordinator.redb") && err.contains(needle) && err.contains("--fresh-store"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let srv = Serve::start(&data, &["--fresh-store"]);
    let aside = set_aside_files(&data);
    assert_eq!(aside.len(), 1, "{aside:?}");
    run_ok(
        &data,
        &["ec", "register", "--file", file.to_str().unwrap(), "--ec", &srv.url()],
    );
}

/// A second `dmc serve --fresh-store` on a data dir a running server holds
/// is refused naming the cause, and sets nothing aside: the running
/// server keeps its store and its data.
#[test]
fn fresh_store_never_sets_aside_a_store_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, srv, _) = serving_one_pair(tmp.path());
    let mut second = serve_on_any_port(&data)
        .arg("--fresh-store")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A second server that starts (the bug) would never exit on its own.
    let deadline = Instant::now() + Duration::from_secs(20);
    while second.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            second.kill().unwrap();
            panic!("a second dmc serve --fresh-store started on a store in use");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = second.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("coordinator.redb") && err.contains("already running"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let aside = set_aside_files(&data);
    assert!(aside.is_empty(), "{aside:?}");
    let j: serde_json::Value =
        serde_json::from_str(&run_ok(&data, &["ec", "query", "--ec", &srv.url(), "--format", "json"])).unwrap();
    assert_eq!(j["pairs"].as_array().unwrap().len(), 1, "{j}");
}

/// `dmc admin forget-reporter --ban` while the server runs: through the
/// admin endpoint (bearer token from `<data-dir>/admin.token`, mode 0600);
/// the reporter's data is gone, its old body cannot bring it back, and a
/// new one is refused. A wrong token is refused.
#[test]
fn forget_and_ban_a_reporter_while_the_server_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let srv = Serve::start(&data, &[]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("admin.token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let t = now() - 60;
    let file = tmp.path().join("signed.json");
    std::fs::write(&file, querymc_file(&[(3, 4, t, 4_000), (5, 6, t, 5_000)])).unwrap();
    let key = hex(&secret(9).secret_bytes());
    let register = |f: &Path| {
        run(
            &data,
            &[
                "ec",
                "register",
                "--file",
                f.to_str().unwrap(),
                "--ec",
                &srv.url(),
                "--sign-key",
                &key,
            ],
        )
    };
    assert!(register(&file).status.success());
    let reporter = hex(&node(9));
    // A wrong token.
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    std::fs::write(data.join("admin.token"), "0".repeat(64)).unwrap();
    let bad = run(&data, &["admin", "forget-reporter", &reporter, "--rest", &srv.rest]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Bearer"), "{bad:?}");
    std::fs::write(data.join("admin.token"), &token).unwrap();
    let out = run_ok(
        &data,
        &["admin", "forget-reporter", &reporter, "--ban", "--rest", &srv.rest],
    );
    assert!(
        out.contains("forgot 2 observations") && out.contains("banned") && out.contains("running server"),
        "{out}"
    );
    let rt = runtime();
    assert!(rt.block_on(async { query_all(srv.channel().await).await }).is_empty());
    // A new body of the banned reporter is refused, naming the ban.
    std::fs::write(&file, querymc_file(&[(7, 8, now() - 30, 4_000)])).unwrap();
    let again = register(&file);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("banned"), "{again:?}");
    assert!(rt.block_on(async { query_all(srv.channel().await).await }).is_empty());
}

/// `dmc admin check` on a running server (through the admin endpoint) and
/// on a stopped one; `dmc admin salvage` refuses a running server's store,
/// and its copy of a stopped one serves the same pairs; a truncated store
/// fails the check naming the file and the way out, never a panic.
#[test]
fn admin_check_and_salvage() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, srv, _, _) = serve_with_three_pairs(tmp.path());
    let rest = srv.rest.clone();
    let out = run_ok(&data, &["admin", "check", "--rest", &rest]);
    assert!(
        out.contains("through the running server") && out.contains("obs 3") && out.ends_with("ok\n"),
        "{out}"
    );
    let salvaged = tmp.path().join("salvaged");
    let refused = run(&data, &["admin", "salvage", "--out", salvaged.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("running `dmc serve`"),
        "{err}"
    );
    srv.terminate();

    let out = run_ok(&data, &["admin", "check"]);
    assert!(
        out.contains("pages: checksums verified") && out.ends_with("ok\n"),
        "{out}"
    );
    let out = run_ok(&data, &["admin", "salvage", "--out", salvaged.to_str().unwrap()]);
    assert!(out.contains("salvaged into") && out.contains("obs 3"), "{out}");
    let srv = Serve::start(&salvaged, &[]);
    let q = run_ok(
        &data,
        &[
            "ec",
            "query",
            "--ec",
            &srv.url(),
            "--format",
            "lnd",
            "--tls-cert",
            salvaged.join("tls.cert").to_str().unwrap(),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&q).unwrap();
    assert_eq!(v["pairs"].as_array().map(Vec::len), Some(3), "{q}");
    drop(srv);

    let store = data.join("coordinator.redb");
    let len = std::fs::metadata(&store).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&store)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    let out = run(&data, &["admin", "check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("coordinator.redb") && !err.contains("panicked"), "{err}");
    let missing = run(&data, &["admin", "check", "--store", "/nonexistent/x.redb"]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        !missing.status.success() && err.contains("/nonexistent/x.redb"),
        "{err}"
    );
}

/// `dmc ec` pins the certificate it is given (the client `dmc sync` uses):
/// another server's certificate is refused naming the flag and the file,
/// and without one (no `--tls-cert`, no `<data-dir>/tls.cert`) a
/// self-signed coordinator is refused, the public CAs not vouching for it.
#[test]
fn ec_pins_the_certificate_it_is_given() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let (sa, sb) = (Serve::start(&a, &[]), Serve::start(&b, &[]));
    let query = |dir: &Path, url: &str, cert: Option<&Path>| {
        let mut args = vec!["ec".to_string(), "query".into(), "--ec".into(), url.to_string()];
        if let Some(c) = cert {
            args.extend(["--tls-cert".into(), c.to_str().unwrap().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(dir, &args)
    };
    assert!(query(&a, &sa.url(), Some(&sa.cert())).status.success());
    let wrong = query(&a, &sa.url(), Some(&sb.cert()));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success(), "another server's certificate was accepted");
    assert!(
        err.contains("--tls-cert") && err.contains(&sb.cert().display().to_string()),
        "{err}"
    );
    let client = tmp.path().join("client");
    let none = query(&client, &sa.url(), None);
    assert!(
        !none.status.success(),
        "a self-signed certificate passed the public CAs"
    );
    assert!(!String::from_utf8_lossy(&none.stderr).contains("panicked"));
    drop(sb);
}
