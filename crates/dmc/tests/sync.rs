//! `dmc sync` end to end: the real `dmc` binary against a real `dmc serve`
//! and in-repo test LNDs (`dmc_lnd::testing::TestLnd`: lnd's protos over
//! TLS with lnd-style certificates and macaroon checks), all on 127.0.0.1.
//! No mocks: every byte crosses a socket.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use dmc_core::rpc::{PairData, PairHistory};
use dmc_lnd::testing::{TestLnd, TestLndOptions};
use secp256k1::SecretKey;
use serde_json::Value;

mod serve_kit;
use serve_kit::*;

fn secret(i: u32) -> SecretKey {
    secret_in(0x33, i)
}

fn key(i: u32) -> Vec<u8> {
    node_in(0x33, i)
}

fn success(from: u32, to: u32, t: i64, msat: i64) -> PairHistory {
    PairHistory {
        node_from: key(from),
        node_to: key(to),
        history: PairData {
            success_time: t,
            success_amt_sat: msat / 1000,
            success_amt_msat: msat,
            ..Default::default()
        },
    }
}

fn failure(from: u32, to: u32, t: i64, msat: i64) -> PairHistory {
    PairHistory {
        node_from: key(from),
        node_to: key(to),
        history: PairData {
            fail_time: t,
            fail_amt_sat: msat / 1000,
            fail_amt_msat: msat,
            ..Default::default()
        },
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Runs, expects success, parses stdout as JSON.
fn json_ok(o: Output, what: &str) -> Value {
    assert!(o.status.success(), "{what} failed ({}): {}", o.status, stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: invalid JSON ({e}): {text}"))
}

fn n(v: &Value, path: &str) -> i64 {
    let mut cur = v;
    for p in path.split('.') {
        cur = &cur[p];
    }
    match cur {
        Value::Number(x) => x.as_i64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("{path}: {other} in {v}"),
    }
}

impl Serve {
    fn start(data_dir: &Path, grpc_listen: &str) -> Serve {
        Serve::spawn(
            data_dir,
            &[
                "--grpc-listen",
                grpc_listen,
                "--rest-listen",
                "127.0.0.1:0",
                // The test nodes are not in a graph: every signed key established.
                // The sync path is under test, not corroboration: one node's
                // failures are served.
                "--graph",
                "none",
                "--failure-corroboration",
                "1",
            ],
        )
    }

    fn stop(self) {
        drop(self);
    }

    /// The merged data as `dmc ec query --format lnd` prints it (what
    /// `lncli loadmc` reads).
    fn merged(&self, scratch: &Path) -> HashMap<(Vec<u8>, Vec<u8>), PairData> {
        let out = dmc(scratch)
            .args(["ec", "query", "--format", "lnd", "--ec", &self.url(), "--tls-cert"])
            .arg(self.cert())
            .output()
            .unwrap();
        assert!(out.status.success(), "ec query: {}", stderr(&out));
        let pairs = dmc_core::rpc::parse_query_mc_json(&String::from_utf8(out.stdout).unwrap()).unwrap();
        pairs
            .into_iter()
            .map(|p| ((p.node_from, p.node_to), p.history))
            .collect()
    }
}

fn lnd(dir: &Path, name: &str, i: u32) -> TestLnd {
    TestLnd::start(TestLndOptions::new(dir.join(name), "regtest", secret(i))).unwrap()
}

/// `dmc sync --once` for `node` against `ec`: only --lnddir, --rpcserver and
/// --network name the node; the cert and macaroon follow lncli's defaults.
fn sync(data_dir: &Path, node: &TestLnd, ec: &str, ec_cert: &Path, extra: &[&str]) -> Output {
    dmc(data_dir)
        .args(["sync", "--once", "--ec", ec, "--ec-tls-cert"])
        .arg(ec_cert)
        .arg("--lnddir")
        .arg(&node.lnddir)
        .args(["--rpcserver", &node.rpcserver(), "--network", "regtest"])
        .args(extra)
        .output()
        .unwrap()
}

fn mc_of(node: &TestLnd) -> HashMap<(Vec<u8>, Vec<u8>), PairData> {
    node.pairs()
        .into_iter()
        .map(|p| ((p.node_from, p.node_to), p.history))
        .collect()
}

fn pair(from: u32, to: u32) -> (Vec<u8>, Vec<u8>) {
    (key(from), key(to))
}

fn cursor_file(data_dir: &Path) -> PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(data_dir.join("sync"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].join("cursor.json")
}

fn stored_cursor(data_dir: &Path) -> u64 {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(cursor_file(data_dir)).unwrap()).unwrap();
    v["cursor"].as_str().unwrap().parse().unwrap()
}

// Nodes: A = 1, B = 2, C = 3; others in the network 10..
const A: u32 = 1;
const B: u32 = 2;
const C: u32 = 3;
const X: u32 = 10;
const Y: u32 = 11;
const Z: u32 = 12;
const W: u32 = 13;
const Q: u32 = 14;

#[test]
fn two_nodes_export_a_third_imports_the_merge_minus_its_own_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let ec = Serve::start(&dir.path().join("ec"), "127.0.0.1:0");
    let (a, b, c) = (
        lnd(dir.path(), "a", A),
        lnd(dir.path(), "b", B),
        lnd(dir.path(), "c", C),
    );
    let t = now();
    a.seed(&[
        success(A, X, t - 300, 50_000_000),
        success(X, Y, t - 200, 20_000_000),
        failure(Y, Z, t - 100, 30_000_000),
        success(X, C, t - 150, 1_000_000),
    ])
    .unwrap();
    b.seed(&[
        success(B, X, t - 250, 8_000_000),
        success(X, Y, t - 50, 10_000_000),
        success(Z, W, t - 40, 4_000_000),
        failure(C, Y, t - 120, 9_000_000),
    ])
    .unwrap();
    // C's own channel, and a pair it knows more recently than anyone.
    c.seed(&[success(C, X, t - 400, 5_000_000), failure(Y, Z, t - 10, 2_000_000)])
        .unwrap();
    let c_before = mc_of(&c);
    let (da, db, dc) = (dir.path().join("da"), dir.path().join("db"), dir.path().join("dc"));

    for (d, node, name) in [(&da, &a, "A"), (&db, &b, "B")] {
        let r = json_ok(
            sync(d, node, &ec.url(), &ec.cert(), &["--export-only"]),
            &format!("export {name}"),
        );
        assert_eq!(r["import"], Value::Null);
        assert_eq!(r["export"]["node"], Value::String(hex(&node.node.0)));
        assert_eq!(n(&r, "export.read"), 4, "{r}");
        assert_eq!(n(&r, "export.sent"), 4, "{r}");
        assert_eq!(n(&r, "export.accepted"), 4, "{r}");
        assert_eq!(n(&r, "export.registrations"), 1, "{r}");
        // Export-only never touches the node's mission control or cursor.
        assert!(node.import_calls().is_empty());
        assert!(
            !d.join("sync").exists()
                || std::fs::read_dir(d.join("sync"))
                    .unwrap()
                    .all(|e| { !e.unwrap().path().join("cursor.json").exists() })
        );
    }
    let merged = ec.merged(&dir.path().join("scratch"));
    assert_eq!(merged.len(), 7);

    let r = json_ok(sync(&dc, &c, &ec.url(), &ec.cert(), &["--import-only"]), "import C");
    assert_eq!(r["export"], Value::Null);
    assert_eq!(r["import"]["cursor_from"], Value::Null, "{r}");
    assert_eq!(n(&r, "import.received"), 7, "{r}");
    assert_eq!(n(&r, "import.own_dropped"), 2, "{r}"); // X→C, C→Y
    assert_eq!(n(&r, "import.not_newer"), 1, "{r}"); // Y→Z: C's failure is newer
    assert_eq!(n(&r, "import.imported"), 4, "{r}");
    assert_eq!(n(&r, "import.batches"), 1, "{r}");
    let first_cursor = n(&r, "import.cursor") as u64;
    assert_eq!(stored_cursor(&dc), first_cursor);

    let calls = c.import_calls();
    assert_eq!(calls.len(), 1);
    assert!(!calls[0].force);
    let after = mc_of(&c);
    // The merged pairs, exactly as the coordinator serves them...
    for p in [pair(A, X), pair(X, Y), pair(B, X), pair(Z, W)] {
        assert_eq!(after.get(&p), merged.get(&p), "pair {}->{}", hex(&p.0), hex(&p.1));
    }
    // Both back 10 000 000 msat (B saw it, A saw more): the amount and the
    // newest time a majority backs (A's), not B's newer one alone.
    assert_eq!(after[&pair(X, Y)].success_amt_msat, 10_000_000);
    assert_eq!(after[&pair(X, Y)].success_time, t - 200);
    // ...never the pairs touching C, and C's own knowledge is untouched.
    assert!(!after.contains_key(&pair(X, C)) && !after.contains_key(&pair(C, Y)));
    assert_eq!(after[&pair(C, X)], c_before[&pair(C, X)]);
    assert_eq!(after[&pair(Y, Z)], c_before[&pair(Y, Z)]);
    assert_eq!(after.len(), 6);

    // A learns one more pair; the next import moves only that change.
    a.seed(&[success(Z, Q, t - 5, 3_000_000)]).unwrap();
    let r = json_ok(
        sync(&da, &a, &ec.url(), &ec.cert(), &["--export-only"]),
        "export A again",
    );
    assert_eq!(n(&r, "export.sent"), 5, "{r}");
    let r = json_ok(
        sync(&dc, &c, &ec.url(), &ec.cert(), &["--import-only"]),
        "import C again",
    );
    assert_eq!(n(&r, "import.cursor_from") as u64, first_cursor, "{r}");
    assert_eq!(n(&r, "import.received"), 1, "{r}");
    assert_eq!(n(&r, "import.imported"), 1, "{r}");
    let second_cursor = n(&r, "import.cursor") as u64;
    assert!(second_cursor > first_cursor, "{r}");
    assert_eq!(stored_cursor(&dc), second_cursor);
    let calls = c.import_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].pairs, vec![success(Z, Q, t - 5, 3_000_000)]);

    // Nothing new: nothing moves, the cursor stays.
    let r = json_ok(
        sync(&dc, &c, &ec.url(), &ec.cert(), &["--import-only"]),
        "import C idle",
    );
    assert_eq!((n(&r, "import.received"), n(&r, "import.imported")), (0, 0), "{r}");
    assert_eq!(c.import_calls().len(), 2);
    assert_eq!(stored_cursor(&dc), second_cursor);

    // C in both directions: it exports only what it observed itself (not
    // the five pairs it imported), then imports nothing new.
    let r = json_ok(sync(&dc, &c, &ec.url(), &ec.cert(), &[]), "sync C both ways");
    assert_eq!(n(&r, "export.read"), 7, "{r}");
    assert_eq!(n(&r, "export.skipped_imported"), 5, "{r}");
    assert_eq!(n(&r, "export.sent"), 2, "{r}");
    assert_eq!(n(&r, "import.imported"), 0, "{r}");

    // lnd keeps imports in memory only: after a restart the next import
    // notices they are gone and starts from scratch.
    let c_dir = c.lnddir.clone();
    c.stop();
    let c = TestLnd::start(TestLndOptions::new(c_dir, "regtest", secret(C))).unwrap();
    c.seed(&[success(C, X, t - 400, 5_000_000)]).unwrap();
    let r = json_ok(
        sync(&dc, &c, &ec.url(), &ec.cert(), &["--import-only"]),
        "import after restart",
    );
    // Five imported pairs and Y→Z, which C had as recently when importing.
    assert_eq!(n(&r, "import.lost_imports"), 6, "{r}");
    assert_eq!(r["import"]["cursor_from"], Value::Null, "{r}");
    // Everything not touching C, Y→Z included now (C forgot its own).
    assert_eq!(n(&r, "import.imported"), 6, "{r}");
    assert_eq!(mc_of(&c).len(), 7);

    // C pays through Z→W itself and fails at 1 000 000 msat; then B reports
    // Z→W succeeding at 4 000 000 msat, newer than C's failure. The import
    // leaves that contradicting claim out (C's own failure is minutes old)
    // and C keeps what it saw.
    c.seed(&[failure(Z, W, t - 3, 1_000_000)]).unwrap();
    let own = mc_of(&c)[&pair(Z, W)];
    b.seed(&[success(Z, W, t - 2, 4_000_000)]).unwrap();
    json_ok(
        sync(&db, &b, &ec.url(), &ec.cert(), &["--export-only"]),
        "export B again",
    );
    let r = json_ok(
        sync(&dc, &c, &ec.url(), &ec.cert(), &["--import-only"]),
        "import C over its own failure",
    );
    assert_eq!(n(&r, "import.received"), 1, "{r}");
    assert_eq!(n(&r, "import.first_hand_kept"), 1, "{r}");
    assert_eq!(n(&r, "import.imported"), 0, "{r}");
    assert_eq!(mc_of(&c)[&pair(Z, W)], own);
}

#[test]
fn wrong_credentials_and_bad_flags_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ec = Serve::start(&dir.path().join("ec"), "127.0.0.1:0");
    let (a, b) = (lnd(dir.path(), "a", A), lnd(dir.path(), "b", B));
    a.seed(&[success(X, Y, now() - 60, 1_000_000)]).unwrap();
    let d = dir.path().join("da");

    // Bob's macaroon against Alice's node.
    let macaroon = b.macaroon.display().to_string();
    let o = sync(&d, &a, &ec.url(), &ec.cert(), &["--macaroonpath", &macaroon]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains(&macaroon) && e.contains("refused the macaroon"), "{e}");

    // Bob's certificate for Alice's address.
    let cert = b.tls_cert.display().to_string();
    let o = sync(&d, &a, &ec.url(), &ec.cert(), &["--tlscertpath", &cert]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains(&cert) && e.contains("--tlscertpath") && e.contains("TLS"),
        "{e}"
    );

    // Wrong --network: the default macaroon path does not exist.
    let o = dmc(&d)
        .args(["sync", "--once", "--ec", &ec.url(), "--lnddir"])
        .arg(&a.lnddir)
        .args(["--rpcserver", &a.rpcserver(), "--network", "testnet"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("--macaroonpath") && e.contains("testnet/admin.macaroon"),
        "{e}"
    );

    // An lnd certificate is not the coordinator's.
    let o = sync(&d, &a, &ec.url(), &a.tls_cert, &["--export-only"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains(&a.tls_cert.display().to_string()) && e.contains("--ec-tls-cert"),
        "{e}"
    );

    // The node down: retried with backoff, then a clear error (exit 1).
    let b_addr = b.rpcserver();
    let b_dir = b.lnddir.clone();
    b.stop();
    let started = Instant::now();
    let o = dmc(&d)
        .args(["sync", "--once", "--retries", "1", "--ec", &ec.url(), "--ec-tls-cert"])
        .arg(ec.cert())
        .arg("--lnddir")
        .arg(&b_dir)
        .args(["--rpcserver", &b_addr, "--network", "regtest"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains(&b_addr) && e.contains("not reachable") && e.contains("gave up after 1 retries"),
        "{e}"
    );
    assert!(e.contains("retrying"), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(900));

    // Flags refused before anything connects.
    for (args, want) in [
        (vec!["--network", "bitcoin"], "--network"),
        (vec!["--interval", "soon"], "--interval"),
        (vec!["--interval", "10ms"], "--interval"),
        (vec!["--rpcserver", "unix:///tmp/lnd.sock"], "--rpcserver"),
        (vec!["--from-file", "q.json", "--import-only"], "--from-file"),
        (vec!["--to-file", "o.json", "--export-only"], "--to-file"),
        (vec!["--sign-key", "11"], "--sign-key"),
        (vec!["--import-batch", "0"], "--import-batch"),
        (vec!["--retries", "-1"], "--retries"),
    ] {
        let o = dmc(&d)
            .args(["sync", "--once", "--ec", "https://127.0.0.1:9"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    let o = dmc(&d).args(["sync", "--ec", "ftp://x", "--once"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--ec"), "{}", stderr(&o));
    let missing = dir.path().join("missing-querymc.json");
    let o = dmc(&d)
        .args([
            "sync",
            "--ec",
            &ec.url(),
            "--sign-key",
            &hex(&secret(A).secret_bytes()),
            "--from-file",
        ])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&missing.display().to_string()), "{}", stderr(&o));
    // No state was written by any of the failures.
    assert!(!d.join("sync").exists());
}

#[test]
fn successes_only_exports_no_failures() {
    let dir = tempfile::tempdir().unwrap();
    let ec = Serve::start(&dir.path().join("ec"), "127.0.0.1:0");
    let a = lnd(dir.path(), "a", A);
    let t = now();
    a.seed(&[
        success(X, Y, t - 100, 2_000_000),
        failure(Y, Z, t - 90, 3_000_000),
        // Both a failure and a success: only the success leaves.
        PairHistory {
            node_from: key(Z),
            node_to: key(W),
            history: PairData {
                fail_time: t - 10,
                fail_amt_sat: 9_000,
                fail_amt_msat: 9_000_000,
                success_time: t - 20,
                success_amt_sat: 1_000,
                success_amt_msat: 1_000_000,
            },
        },
    ])
    .unwrap();
    let r = json_ok(
        sync(
            &dir.path().join("da"),
            &a,
            &ec.url(),
            &ec.cert(),
            &["--export-only", "--successes-only"],
        ),
        "export successes only",
    );
    assert_eq!(n(&r, "export.read"), 3, "{r}");
    assert_eq!(n(&r, "export.skipped_no_success"), 1, "{r}");
    assert_eq!(n(&r, "export.sent"), 2, "{r}");
    let merged = ec.merged(&dir.path().join("scratch"));
    assert_eq!(merged.len(), 2);
    for (p, h) in &merged {
        assert_eq!(
            (h.fail_time, h.fail_amt_sat, h.fail_amt_msat),
            (0, 0, 0),
            "{}",
            hex(&p.0)
        );
        assert!(h.success_time > 0);
    }
    assert_eq!(merged[&pair(Z, W)].success_amt_msat, 1_000_000);
}

#[test]
fn offline_from_file_and_to_file_need_no_lnd() {
    let dir = tempfile::tempdir().unwrap();
    let ec = Serve::start(&dir.path().join("ec"), "127.0.0.1:0");
    let t = now();
    let pairs = [
        success(A, X, t - 30, 6_000_000),
        success(X, Y, t - 20, 2_000_000),
        failure(Y, Z, t - 10, 1_500_000),
    ];
    let file = dir.path().join("querymc.json");
    let doc = serde_json::json!({
        "pairs": pairs.iter().map(|p| serde_json::json!({
            "node_from": hex(&p.node_from),
            "node_to": hex(&p.node_to),
            "history": {
                "fail_time": p.history.fail_time.to_string(),
                "fail_amt_sat": p.history.fail_amt_sat.to_string(),
                "fail_amt_msat": p.history.fail_amt_msat.to_string(),
                "success_time": p.history.success_time.to_string(),
                "success_amt_sat": p.history.success_amt_sat.to_string(),
                "success_amt_msat": p.history.success_amt_msat.to_string(),
            }
        })).collect::<Vec<_>>()
    });
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let key_file = dir.path().join("node.key");
    std::fs::write(&key_file, hex(&secret(A).secret_bytes())).unwrap();
    let d = dir.path().join("offline");
    // --rpcserver points nowhere: lnd is never contacted.
    let nowhere = ["--rpcserver", "127.0.0.1:9", "--lnddir", "/nonexistent-lnd"];

    let o = dmc(&d)
        .args(["sync", "--export-only", "--ec", &ec.url(), "--ec-tls-cert"])
        .arg(ec.cert())
        .arg("--from-file")
        .arg(&file)
        .arg("--sign-key")
        .arg(&key_file)
        .args(nowhere)
        .output()
        .unwrap();
    let r = json_ok(o, "export from file");
    assert_eq!(r["export"]["node"], Value::String(hex(&key(A))));
    assert_eq!(n(&r, "export.sent"), 3, "{r}");
    assert_eq!(n(&r, "export.accepted"), 3, "{r}");

    // Both ways in one offline run; --self drops the node's own pair.
    let out = dir.path().join("merged.json");
    let o = dmc(&d)
        .args(["--self", &hex(&key(A)), "sync", "--ec", &ec.url(), "--ec-tls-cert"])
        .arg(ec.cert())
        .arg("--from-file")
        .arg(&file)
        .arg("--sign-key")
        .arg(&key_file)
        .arg("--to-file")
        .arg(&out)
        .args(nowhere)
        .output()
        .unwrap();
    let r = json_ok(o, "offline both ways");
    assert_eq!(n(&r, "import.received"), 3, "{r}");
    assert_eq!(n(&r, "import.own_dropped"), 1, "{r}");
    assert_eq!(n(&r, "import.imported"), 2, "{r}");
    let written = dmc_core::rpc::parse_query_mc_json(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(written.len(), 2);
    assert!(written.contains(&success(X, Y, t - 20, 2_000_000)));
    assert!(written.contains(&failure(Y, Z, t - 10, 1_500_000)));
    assert!(d.join("sync").read_dir().map_or(true, |mut e| e.next().is_none()));

    // The file is what `lncli loadmc` reads (dmc's loadmc applies lncli's rules).
    let local = dir.path().join("local");
    let o = dmc(&local).args(["loadmc", "--mcdatapath"]).arg(&out).output().unwrap();
    assert!(o.status.success(), "loadmc: {}", stderr(&o));
    let o = dmc(&local).args(["querymc"]).output().unwrap();
    let q = dmc_core::rpc::parse_query_mc_json(&String::from_utf8(o.stdout).unwrap()).unwrap();
    assert_eq!(q.len(), 2);
}

#[test]
fn sync_retries_until_the_coordinator_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let ec_dir = dir.path().join("ec");
    // First run creates the coordinator's certificate and picks a port.
    let ec = Serve::start(&ec_dir, "127.0.0.1:0");
    let (url, cert, addr) = (ec.url(), ec.cert(), ec.grpc.clone());
    let a = lnd(dir.path(), "a", A);
    a.seed(&[success(X, Y, now() - 60, 1_000_000)]).unwrap();
    ec.stop();

    let child = dmc(&dir.path().join("da"))
        .args(["sync", "--once", "--export-only", "--ec", &url, "--ec-tls-cert"])
        .arg(&cert)
        .arg("--lnddir")
        .arg(&a.lnddir)
        .args(["--rpcserver", &a.rpcserver(), "--network", "regtest"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let _ec = Serve::start(&ec_dir, &addr);
    let o = child.wait_with_output().unwrap();
    let e = stderr(&o);
    let r = json_ok(o, "export after the coordinator came up");
    assert_eq!(n(&r, "export.accepted"), 1, "{r}");
    assert!(e.contains("retrying") && e.contains("not reachable"), "{e}");
}
