use std::sync::Arc;

use dmc_core::aggregate::Reporter;
use dmc_core::rpc::{self, PairData, PairHistory};
use dmc_core::Timestamp;
use dmc_store::coordinator::CoordinatorStore;

use super::*;
use crate::config::ServerConfig;
use crate::encode::Render;

/// A coordinator on a fresh embedded store with no graph and a fixed
/// clock, its config adjusted by `tweak`, its policy set.
fn coordinator(tweak: impl FnOnce(&mut ServerConfig)) -> (tempfile::TempDir, Coordinator, Timestamp) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn CoordinatorStore> =
        Arc::new(dmc_store::coordinator::RedbCoordinatorStore::open(&dir.path().join("c.redb")).expect("store"));
    let mut config = ServerConfig::with_data_dir(dir.path().to_path_buf());
    config.graph = None;
    tweak(&mut config);
    let now = Timestamp::from_unix_secs(1_800_000_000);
    let c = Coordinator::new(config, store, Arc::new(move || now));
    c.set_graph(None).expect("policy");
    (dir, c, now)
}

/// Test key `b` (the secret `[b; 32]`, at least 1) and its public key.
pub(super) fn key(b: u8) -> secp256k1::SecretKey {
    secp256k1::SecretKey::from_slice(&[b.max(1); 32]).expect("valid")
}

pub(super) fn node(b: u8) -> Vec<u8> {
    secp256k1::PublicKey::from_secret_key(&secp256k1::Secp256k1::signing_only(), &key(b))
        .serialize()
        .to_vec()
}

/// A pair from node `i` to node `i + 100` that succeeded at 5 sat at `t`.
pub(super) fn pair_json(i: u8, t: i64) -> PairHistory {
    PairHistory {
        node_from: node(i),
        node_to: node(i + 100),
        history: PairData {
            success_time: t,
            success_amt_sat: 5,
            success_amt_msat: 5_000,
            ..Default::default()
        },
    }
}

/// Unsigned sources (and unverified keys) share one storage budget:
/// more sources do not buy more room; a recount sees what is stored.
#[test]
fn reporters_that_are_not_established_share_one_storage_budget() {
    let (_dir, c, now) = coordinator(|config| {
        config.max_unverified_observations = 5;
    });
    let t = now.unix_secs() - 60;
    let three = |base: u8| (0..3).map(|i| pair_json(base + i, t)).collect::<Vec<_>>();
    c.register_unsigned(three(1), "10.0.0.1").expect("first source");
    let e = c
        .register_unsigned(three(10), "10.0.0.2")
        .expect_err("a second source has no room of its own");
    assert!(
        matches!(
            e,
            ApiError::Limit {
                limit: "max_unverified_observations",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.message().contains("3 observations"), "{}", e.message());
    c.register_unsigned(three(20)[..2].to_vec(), "10.0.0.3")
        .expect("two more fit");
    assert_eq!(c.recount_unverified().expect("recount"), 5);
    c.store
        .forget_reporter(Reporter::anonymous("10.0.0.1".parse().expect("ip")))
        .expect("forget");
    assert_eq!(c.recount_unverified().expect("recount"), 2);
    c.register_unsigned(three(30), "10.0.0.4").expect("room again");
}

/// A megabyte "key" is named, not echoed; internal details stay in the log.
#[test]
fn errors_echo_little_and_hide_internals() {
    let (_dir, c, now) = coordinator(|_| {});
    let mut p = pair_json(1, now.unix_secs() - 60);
    p.node_from = vec![7; 1 << 20];
    let e = c.register_unsigned(vec![p], "10.0.0.1").expect_err("not a key");
    assert!(matches!(e, ApiError::Invalid(_)), "{e:?}");
    assert!(
        e.message().len() < 300 && e.message().contains("1048576 bytes"),
        "{}",
        &e.message()[..300.min(e.message().len())]
    );
    let internal = ApiError::Internal("coordinator store: /secret/path/coordinator.redb: disk full".into());
    let body = internal.to_json().compact();
    assert!(
        !body.contains("secret") && body.contains("log has the details"),
        "{body}"
    );
    assert_eq!(tonic::Status::from(internal).message(), INTERNAL_MESSAGE);
}

/// Concurrent full downloads of one cursor share one rendered body: the
/// memory a snapshot costs does not grow with the number of downloads.
#[test]
fn snapshot_bodies_are_rendered_once_per_cursor() {
    let (_dir, c, now) = coordinator(|config| {
        config.min_serving_weight = 0.0;
    });
    c.register_unsigned(vec![pair_json(1, now.unix_secs() - 60)], "10.0.0.1")
        .expect("stored");
    let (a, b) = (c.snapshot().expect("snapshot"), c.snapshot().expect("snapshot"));
    assert!(Arc::ptr_eq(&a, &b));
    let (x, y) = (a.lnd_json(), b.lnd_json());
    assert_eq!(x.as_ptr(), y.as_ptr(), "one rendering, shared");
    let parsed = rpc::parse_query_mc_json(std::str::from_utf8(&x).expect("utf-8")).expect("querymc JSON");
    assert_eq!(parsed.len(), 1);
    c.register_unsigned(vec![pair_json(2, now.unix_secs() - 60)], "10.0.0.1")
        .expect("stored");
    let z = c.snapshot().expect("snapshot").lnd_json();
    assert_ne!(z, x, "a new cursor renders anew");
}

/// One reporter, and the store as a whole, are capped; the refusal names the cap.
#[test]
fn storage_caps_per_reporter_and_in_total() {
    let (_dir, c, now) = coordinator(|config| {
        config.max_observations_per_reporter = 3;
        config.max_observations = 5;
    });
    let t = now.unix_secs() - 60;
    let some = |base: u8, n: u8| (0..n).map(|i| pair_json(base + i, t)).collect::<Vec<_>>();
    c.register_unsigned(some(1, 3), "10.0.0.1").expect("three fit");
    let e = c
        .register_unsigned(some(10, 1), "10.0.0.1")
        .expect_err("a fourth does not");
    assert!(
        matches!(
            e,
            ApiError::Limit {
                limit: "max_observations_per_reporter",
                ..
            }
        ),
        "{e:?}"
    );
    c.register_unsigned(some(20, 2), "10.0.0.2")
        .expect("another source: two more");
    let e = c
        .register_unsigned(some(30, 1), "10.0.0.3")
        .expect_err("the store is full");
    assert!(
        matches!(
            e,
            ApiError::Limit {
                limit: "max_observations",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(c.metrics_text().contains("dmc_register_refused_storage_total 2\n"));
}
