//! `LndClient` against the in-repo test LND over real TLS sockets: the
//! five RPCs, lncli's path resolution, and clear refusals for a wrong
//! macaroon, a wrong certificate, missing files and a node that is down.

use dmc_core::rpc::{PairData, PairHistory};
use dmc_lnd::testing::{TestLnd, TestLndOptions};
use dmc_lnd::{ErrorKind, LndClient, LndOptions};
use secp256k1::SecretKey;

fn secret(i: u8) -> SecretKey {
    dmc_testkit::keys::secret_in(0x11, u32::from(i) - 1)
}

fn node_key(i: u8) -> Vec<u8> {
    dmc_testkit::keys::node_in(0x11, u32::from(i) - 1)
}

fn now() -> i64 {
    dmc_testkit::clock::unix_now_secs()
}

fn success(from: u8, to: u8, t: i64, msat: i64) -> PairHistory {
    PairHistory {
        node_from: node_key(from),
        node_to: node_key(to),
        history: PairData {
            success_time: t,
            success_amt_sat: msat / 1000,
            success_amt_msat: msat,
            ..Default::default()
        },
    }
}

fn lnd(dir: &std::path::Path, name: &str, key: u8) -> TestLnd {
    TestLnd::start(TestLndOptions::new(dir.join(name), "regtest", secret(key))).unwrap()
}

/// The flags a user would give for this node: only --lnddir, --rpcserver
/// and --network; cert and macaroon paths follow lncli's defaults.
fn options(l: &TestLnd) -> LndOptions {
    LndOptions {
        lnddir: Some(l.lnddir.clone()),
        rpcserver: Some(l.rpcserver()),
        network: Some("regtest".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn client_speaks_the_five_rpcs_with_lncli_default_paths() {
    let dir = tempfile::tempdir().unwrap();
    let a = lnd(dir.path(), "alice", 1);
    let t = now();
    a.seed(&[success(2, 3, t - 60, 5_000_000)]).unwrap();
    let target = options(&a).resolve().unwrap();
    assert_eq!(target.tls_cert, a.tls_cert);
    assert_eq!(target.macaroon, a.macaroon);
    assert!(a.macaroon.ends_with("data/chain/bitcoin/regtest/admin.macaroon"));
    let mut c = LndClient::connect(&target).await.unwrap();

    let info = c.get_info().await.unwrap();
    assert_eq!(info.pubkey, a.node);
    assert_eq!(info.network.as_deref(), Some("regtest"));

    let pairs = c.query_mission_control().await.unwrap();
    assert_eq!(pairs, vec![success(2, 3, t - 60, 5_000_000)]);

    c.import_mission_control(&[success(3, 4, t - 30, 7_000)], false)
        .await
        .unwrap();
    let pairs = c.query_mission_control().await.unwrap();
    assert_eq!(pairs.len(), 2);
    assert!(pairs.contains(&success(3, 4, t - 30, 7_000)));
    let calls = a.import_calls();
    assert_eq!(calls.len(), 1);
    assert!(!calls[0].force);

    // lnd's validation is all or nothing and names the pair.
    let bad = PairHistory {
        node_from: node_key(5),
        node_to: node_key(5),
        history: PairData::default(),
    };
    let e = c
        .import_mission_control(&[success(4, 5, t, 1000), bad], false)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid);
    assert!(e.message.contains("pairs[1]"), "{e}");
    assert_eq!(c.query_mission_control().await.unwrap().len(), 2);

    let body = b"registration body bytes";
    let sig = c.sign_message(body).await.unwrap();
    assert_eq!(dmc_core::signmsg::recover_signer(body, &sig).unwrap(), a.node);

    let cfg = c.get_mission_control_config().await.unwrap();
    assert_eq!(cfg, dmc_core::mission_control::MissionControlConfig::default());
    let raw = c.get_mission_control_config_raw().await.unwrap();
    assert_eq!(raw.minimum_failure_relax_interval, 60);
}

#[tokio::test]
async fn wrong_macaroon_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = lnd(dir.path(), "alice", 1);
    let b = lnd(dir.path(), "bob", 2);
    let mut opts = options(&a);
    opts.macaroonpath = Some(b.macaroon.clone());
    let target = opts.resolve().unwrap();
    // TLS is fine; the first call shows the macaroon problem.
    let mut c = LndClient::connect(&target).await.unwrap();
    let e = c.get_info().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused);
    assert!(e.message.contains(&b.macaroon.display().to_string()), "{e}");
    assert!(e.message.contains("--macaroonpath"), "{e}");
    assert!(e.message.contains("verification failed"), "{e}");
    assert!(!e.is_transient());
}

#[tokio::test]
async fn wrong_tls_certificate_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = lnd(dir.path(), "alice", 1);
    let b = lnd(dir.path(), "bob", 2);
    let mut opts = options(&a);
    opts.tlscertpath = Some(b.tls_cert.clone());
    let e = match LndClient::connect(&opts.resolve().unwrap()).await {
        Ok(_) => panic!("connected with bob's certificate to alice"),
        Err(e) => e,
    };
    assert_eq!(e.kind, ErrorKind::Refused);
    assert!(e.message.contains(&b.tls_cert.display().to_string()), "{e}");
    assert!(e.message.contains("--tlscertpath"), "{e}");
    assert!(e.message.contains(&a.rpcserver()), "{e}");
}

#[tokio::test]
async fn missing_or_bad_files_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let a = lnd(dir.path(), "alice", 1);

    // Wrong --network: the derived macaroon path does not exist.
    let mut opts = options(&a);
    opts.network = Some("mainnet".into());
    let e = LndClient::connect(&opts.resolve().unwrap()).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.message.starts_with("--macaroonpath: "), "{e}");
    assert!(
        e.message.contains("mainnet/admin.macaroon") && e.message.contains("--network mainnet"),
        "{e}"
    );

    let mut opts = options(&a);
    opts.tlscertpath = Some(dir.path().join("nope.cert"));
    let e = LndClient::connect(&opts.resolve().unwrap()).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(
        e.message.starts_with("--tlscertpath: ") && e.message.contains("nope.cert"),
        "{e}"
    );

    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    opts.tlscertpath = Some(not_pem);
    let e = LndClient::connect(&opts.resolve().unwrap()).await.err().unwrap();
    assert!(
        e.message.contains("not.pem") && e.message.contains("no PEM certificate"),
        "{e}"
    );

    let empty = dir.path().join("empty.macaroon");
    std::fs::write(&empty, "").unwrap();
    let mut opts = options(&a);
    opts.macaroonpath = Some(empty);
    let e = LndClient::connect(&opts.resolve().unwrap()).await.err().unwrap();
    assert!(
        e.message.contains("empty.macaroon") && e.message.contains("empty"),
        "{e}"
    );
}

#[tokio::test]
async fn a_node_that_is_down_is_transient() {
    let dir = tempfile::tempdir().unwrap();
    let a = lnd(dir.path(), "alice", 1);
    let opts = options(&a);
    let target = opts.resolve().unwrap();
    a.stop();
    let e = LndClient::connect(&target).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e}");
    assert!(e.is_transient());
    assert!(
        e.message.contains(&target.address()) && e.message.contains("not reachable"),
        "{e}"
    );
}

#[tokio::test]
async fn restarted_test_lnd_keeps_its_certificate_and_loses_imports() {
    let dir = tempfile::tempdir().unwrap();
    let a = lnd(dir.path(), "alice", 1);
    let cert = std::fs::read(&a.tls_cert).unwrap();
    a.seed(&[success(2, 3, now(), 1000)]).unwrap();
    assert_eq!(a.pairs().len(), 1);
    a.stop();
    let a = lnd(dir.path(), "alice", 1);
    assert_eq!(std::fs::read(&a.tls_cert).unwrap(), cert);
    assert!(a.pairs().is_empty());
    let mut c = LndClient::connect(&options(&a).resolve().unwrap()).await.unwrap();
    assert_eq!(c.get_info().await.unwrap().pubkey, a.node);
}
