//! The embedded coordinator store against a real redb file.

use dmc_core::Msat;
use std::sync::Arc;

use dmc_core::aggregate::Reporter;
use dmc_core::Timestamp;
use dmc_store::coordinator::{CoordinatorStore, RedbCoordinatorStore, Registration};

mod common;
use common::*;

/// Opened with every pair of any weight served (these tests are about the
/// store's mechanics; weighing is in conformance.rs).
fn open(dir: &tempfile::TempDir) -> RedbCoordinatorStore {
    let s = RedbCoordinatorStore::open(&dir.path().join("coord.redb")).unwrap();
    s.set_policy(open_policy()).unwrap();
    s
}

#[test]
fn aggregates_per_reporter_and_serves_deltas() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let (r1, r2) = (Reporter::Node(node(100)), Reporter::Node(node(101)));
    let out = s
        .register(reg(
            r1,
            vec![success(pair(1, 2), 5_000, 1000), success(pair(2, 3), 7_000, 1000)],
        ))
        .unwrap();
    assert_eq!((out.observations_changed, out.aggregates_changed), (2, 2));
    let c1 = out.cursor;
    // A second reporter's newer failure on 1→2, 30 s later: not dropped.
    let out = s.register(reg(r2, vec![failure(pair(1, 2), 9_000, 1030)])).unwrap();
    assert_eq!(out.aggregates_changed, 1);
    let (snap, cursor) = s.snapshot().unwrap();
    assert_eq!(cursor, out.cursor);
    let p12 = snap.iter().find(|a| a.pair == pair(1, 2)).unwrap();
    assert_eq!(p12.reporters, 2);
    assert_eq!(p12.result.fail_amt_msat, Msat(9_000));
    assert_eq!(
        p12.result.success_amt_msat,
        Msat(0),
        "one success of two reporters is a tie: not served"
    );
    assert_eq!(p12.newest, Timestamp::from_unix_secs(1030));
    // The delta since c1 holds only what changed after it.
    let d = s.changes_since(c1).unwrap();
    assert!(!d.full_resync);
    assert_eq!(d.changed.len(), 1);
    assert_eq!(d.changed[0].pair, pair(1, 2));
    assert_eq!(d.cursor, cursor);
    // Nothing new: an empty delta.
    assert!(s.changes_since(cursor).unwrap().changed.is_empty());
    // Re-sending the same data changes nothing and advances no cursor.
    let again = s.register(reg(r2, vec![failure(pair(1, 2), 9_000, 1030)])).unwrap();
    assert_eq!((again.observations_changed, again.cursor), (0, cursor));

    // Forgetting r2 brings 1→2 back to r1's view.
    assert_eq!(s.forget_reporter(r2).unwrap(), 1);
    let d = s.changes_since(cursor).unwrap();
    assert_eq!(d.changed.len(), 1);
    assert_eq!(d.changed[0].reporters, 1);
    assert_eq!(d.changed[0].result.fail_amt_msat, Msat(0));
    let st = s.stats().unwrap();
    assert_eq!((st.pairs, st.observations, st.reporters), (2, 2, 1));
}

#[test]
fn stale_cleanup_removes_and_tombstones_expire() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let r = Reporter::Unattributed;
    s.register(reg(
        r,
        vec![success(pair(1, 2), 5_000, 1000), success(pair(2, 3), 5_000, 5000)],
    ))
    .unwrap();
    let before = s.cursor().unwrap();
    assert_eq!(s.cleanup(Timestamp::from_unix_secs(2000)).unwrap(), 1);
    let d = s.changes_since(before).unwrap();
    assert_eq!(d.removed, vec![pair(1, 2)]);
    assert_eq!(s.snapshot().unwrap().0.len(), 1);
    // The next cleanup expires that tombstone: old cursors resync in full.
    s.cleanup(Timestamp::from_unix_secs(2000)).unwrap();
    let d = s.changes_since(before).unwrap();
    assert!(d.full_resync);
    assert_eq!(d.changed.len(), 1);
}

#[test]
fn concurrent_registrations_equal_sequential_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let regs: Vec<Registration> = (0..40u16)
        .map(|i| {
            let rep = Reporter::Node(node(200 + i % 5));
            let t = 1000 + i as i64;
            reg(
                rep,
                vec![
                    success(pair(i % 7, 50), 1_000 * (i as u64 + 1), t),
                    failure(pair(50, i % 3), 500 + i as u64, t),
                ],
            )
        })
        .collect();
    let sequential = {
        let d2 = tempfile::tempdir().unwrap();
        let s = open(&d2);
        for r in &regs {
            s.register(r.clone()).unwrap();
        }
        let mut snap = s.snapshot().unwrap().0;
        snap.sort_by_key(|a| a.pair);
        snap
    };
    {
        let s = Arc::new(open(&dir));
        // One thread per reporter: each reporter's own order is kept, as
        // with a real node that waits for each answer.
        let handles: Vec<_> = (0..5u16)
            .map(|k| {
                let s = s.clone();
                let chunk: Vec<Registration> = regs
                    .iter()
                    .filter(|r| r.reporter == Reporter::Node(node(200 + k)))
                    .cloned()
                    .collect();
                std::thread::spawn(move || {
                    for r in chunk {
                        s.register(r).unwrap();
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
    }
    // Reopen: everything acknowledged is on disk.
    let s = open(&dir);
    let mut snap = s.snapshot().unwrap().0;
    snap.sort_by_key(|a| a.pair);
    // Merges are order-sensitive only within one reporter, and the aggregate
    // does not depend on the order across reporters: no lost update.
    assert_eq!(snap, sequential);
}

/// A store another handle (a running server) holds is refused as
/// `Locked`, naming the file; the other failures keep their own kinds.
#[test]
fn errors_say_what_kind_of_failure_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coordinator.redb");
    let held = RedbCoordinatorStore::open(&path).unwrap();
    let e = RedbCoordinatorStore::open(&path).err().expect("held elsewhere");
    assert!(matches!(e, dmc_store::StoreError::Locked(_)), "{e:?}");
    assert!(e.to_string().contains("coordinator.redb"), "{e}");
    drop(held);
    std::fs::write(&path, b"").unwrap();
    let e = RedbCoordinatorStore::open(&path).err().expect("empty");
    assert!(matches!(e, dmc_store::StoreError::Corrupt(_)), "{e:?}");
    assert!(e.to_string().contains("empty (0 bytes)"), "{e}");
}
