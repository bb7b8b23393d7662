//! The local store against a real redb file: bounded history as LND prunes
//! it, replay equal to live application, views, reset, corrupt entries.

use dmc_core::codec::ImportBatch;
use dmc_core::Msat;
use dmc_core::{
    FailureCode, Hop, MissionControl, MissionControlConfig, NodeId, PairSnapshot, PaymentFailure, PaymentResult, Route,
    TimedPairResult, Timestamp,
};
use dmc_store::{LocalStore, View};

fn node(b: u8) -> NodeId {
    dmc_testkit::keys::fake_node(2, &[], b)
}

/// self → n1 → n2 carrying `amt`, settled or failed at n1 (channel balance).
fn result(id: u64, secs: i64, amt: u64, fail: bool) -> PaymentResult {
    let t = Timestamp::from_unix_secs(secs);
    PaymentResult {
        id,
        time_fwd: t,
        time_reply: t,
        route: Route {
            source: node(1),
            total_amt_msat: dmc_core::Msat(amt + 10),
            hops: vec![
                Hop {
                    chan_id: 1,
                    pub_key: node(2),
                    amt_to_forward_msat: dmc_core::Msat(amt),
                    has_blinding_point: false,
                    has_custom_records: false,
                },
                Hop {
                    chan_id: 2,
                    pub_key: node(3),
                    amt_to_forward_msat: dmc_core::Msat(amt),
                    has_blinding_point: false,
                    has_custom_records: false,
                },
            ],
        },
        failure: fail.then_some(PaymentFailure {
            source_index: Some(1),
            message: Some(FailureCode::TemporaryChannelFailure),
        }),
    }
}

fn ids(store: &LocalStore) -> Vec<u64> {
    store.results().unwrap().0.iter().map(|r| r.id).collect()
}

#[test]
fn history_is_bounded_like_lnd() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path()).unwrap();
    for i in 0..5 {
        let out = store
            .add_results(&[result(i, 1000 + i as i64 * 100, 1000, false)], 3)
            .unwrap();
        assert_eq!(out.written, 1);
        assert_eq!(out.pruned, usize::from(i >= 3));
    }
    assert_eq!(ids(&store), vec![2, 3, 4]);
    // A batch larger than the bound keeps only its newest results.
    let batch: Vec<_> = (10..15).map(|i| result(i, 5000 + i as i64, 1000, false)).collect();
    let out = store.add_results(&batch, 3).unwrap();
    assert_eq!((out.written, out.pruned, out.dropped), (3, 3, 2));
    assert_eq!(ids(&store), vec![12, 13, 14]);
    // 0 means unlimited (LND's quirk).
    let batch: Vec<_> = (20..30).map(|i| result(i, 9000 + i as i64, 1000, false)).collect();
    store.add_results(&batch, 0).unwrap();
    assert_eq!(ids(&store).len(), 13);
}

#[test]
fn replay_after_reopen_equals_live_state() {
    let dir = tempfile::tempdir().unwrap();
    let results = vec![
        result(0, 1000, 5000, false),
        result(1, 1100, 8000, true),
        result(2, 1300, 3000, false),
        result(3, 1400, 9000, true),
    ];
    let mut live = MissionControl::new(Some(node(1)), MissionControlConfig::default());
    for r in &results {
        live.apply_payment_result(r).unwrap();
    }
    {
        let store = LocalStore::open(dir.path()).unwrap();
        store.set_self_node(&node(1)).unwrap();
        store.add_results(&results, 1000).unwrap();
    }
    let store = LocalStore::open(dir.path()).unwrap();
    assert_eq!(store.self_node().unwrap(), Some(node(1)));
    let replayed = store.mission_control(View::Local, Some(node(1))).unwrap();
    assert_eq!(replayed.snapshot(), live.snapshot());
    let n2n3 = live.pair_history(&node(2), &node(3));
    assert_eq!(n2n3.fail_amt_msat, Msat(9000));
    // Successes only raise the amount; 9000 > 8000 came after the relax interval.
    assert_eq!(n2n3.success_amt_msat, Msat(5000));
}

#[test]
fn views_keep_imports_apart_and_merge_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path()).unwrap();
    // Local: n2→n3 succeeded with 5000 at t=1000.
    store.add_results(&[result(0, 1000, 5000, false)], 1000).unwrap();
    // Imported at t=2000: an older, smaller success for the same pair.
    let imported = PairSnapshot {
        pair: dmc_core::DirectedPair::new(node(2), node(3)),
        result: TimedPairResult {
            success_time: Timestamp::from_unix_secs(500),
            success_amt_msat: Msat(100),
            ..Default::default()
        },
    };
    store
        .add_import(&ImportBatch {
            time: Timestamp::from_unix_secs(2000),
            force: false,
            pairs: vec![imported],
        })
        .unwrap();
    let local = store.mission_control(View::Local, None).unwrap();
    assert_eq!(local.pair_history(&node(2), &node(3)).success_amt_msat, Msat(5000));
    let only_imported = store.mission_control(View::Imported, None).unwrap();
    assert_eq!(only_imported.snapshot().len(), 1);
    assert_eq!(
        only_imported.pair_history(&node(2), &node(3)).success_amt_msat,
        Msat(100)
    );
    // Merged, the import comes after the result, and LND's success-wipe
    // quirk (§3.2) applies: the older import zeroes the amount.
    let merged = store.mission_control(View::Merged, None).unwrap();
    let h = merged.pair_history(&node(2), &node(3));
    assert_eq!(h.success_amt_msat, Msat(0));
    assert_eq!(h.success_time, Timestamp::from_unix_secs(1000));

    store
        .set_config(&MissionControlConfig {
            max_history: 7,
            ..Default::default()
        })
        .unwrap();
    store.reset().unwrap();
    assert!(store.mission_control(View::Merged, None).unwrap().snapshot().is_empty());
    assert_eq!(store.config().unwrap().max_history, 7);
}

#[test]
fn undecodable_results_are_deleted_on_load() {
    const RESULTS: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("results");
    let dir = tempfile::tempdir().unwrap();
    {
        let store = LocalStore::open(dir.path()).unwrap();
        store.add_results(&[result(0, 1000, 5000, false)], 1000).unwrap();
    }
    {
        let db = redb::Database::create(dir.path().join(dmc_store::STORE_FILE)).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(RESULTS)
            .unwrap()
            .insert(&[0xffu8; 49][..], &b"garbage"[..])
            .unwrap();
        tx.commit().unwrap();
    }
    let store = LocalStore::open(dir.path()).unwrap();
    let (results, bad) = store.results().unwrap();
    assert_eq!((results.len(), bad), (1, 1));
    assert_eq!(store.results().unwrap().1, 0, "the bad entry was not deleted");
}

#[test]
fn a_second_process_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let _held = LocalStore::open(dir.path()).unwrap();
    let err = LocalStore::open(dir.path()).err().expect("second open must fail");
    assert!(matches!(err, dmc_store::StoreError::Locked(_)), "{err:?}");
    let err = err.to_string();
    assert!(err.contains("mc.redb"), "{err}");
}
