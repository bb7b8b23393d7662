//! `dmc admin check` and `dmc admin salvage` on real redb files: healthy,
//! with damaged records, with damaged pages, truncated.

use dmc_core::Msat;
use std::collections::BTreeMap;
use std::path::Path;

use dmc_core::aggregate::Reporter;
use dmc_core::{DirectedPair, NodeId, PairSnapshot, TimedPairResult, Timestamp};
use dmc_store::coordinator::salvage::{check_file, salvage_file};
use dmc_store::coordinator::{CoordinatorStore, RedbCoordinatorStore, Refusal, Registration, SignedBody};
use redb::{Database, ReadableTable, TableDefinition};

mod common;
use common::sorted_snapshot;

const OBS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("obs");
const BY_REPORTER: TableDefinition<&[u8], ()> = TableDefinition::new("by_reporter");
const REPUTATION: TableDefinition<&[u8], &[u8]> = TableDefinition::new("reputation");

fn node(i: u16) -> NodeId {
    dmc_testkit::keys::fake_node(2, &i.to_be_bytes(), 0)
}

fn success(from: u16, to: u16, amt: u64) -> PairSnapshot {
    PairSnapshot {
        pair: DirectedPair::new(node(from), node(to)),
        result: TimedPairResult {
            success_time: Timestamp::from_unix_secs(1_900),
            success_amt_msat: Msat(amt),
            ..Default::default()
        },
    }
}

/// A store of `reporters` signed reporters, each on `pairs` pairs (two
/// reporters per pair), one banned reporter, and one stored reputation.
fn build(path: &Path, reporters: u16, pairs: u16) -> Vec<(Reporter, [u8; 32])> {
    let s = RedbCoordinatorStore::open(path).unwrap();
    let mut bodies = Vec::new();
    for r in 0..reporters {
        let reporter = Reporter::Node(node(1000 + r));
        let digest = [r as u8 + 1; 32];
        let ps: Vec<PairSnapshot> = (0..pairs)
            .map(|i| success(i, i + 1 + (r % 2), 1_000_000 + u64::from(r) * 1000 + u64::from(i)))
            .collect();
        let out = s
            .register(Registration {
                reporter,
                pairs: ps,
                received: Timestamp::from_unix_secs(2_000),
                signed: Some(SignedBody {
                    digest,
                    timestamp: 1_990,
                }),
            })
            .unwrap();
        assert_eq!(out.refused, None);
        bodies.push((reporter, digest));
    }
    s.ban_reporter(Reporter::Node(node(9))).unwrap();
    drop(s);
    let db = Database::create(path).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table(REPUTATION).unwrap();
        let mut v = 0.25f64.to_be_bytes().to_vec();
        v.extend_from_slice(&Timestamp::from_unix_secs(2_000).to_raw().to_be_bytes());
        t.insert(&node(1000).0[..], &v[..]).unwrap();
    }
    tx.commit().unwrap();
    bodies
}

fn observations(path: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = Database::create(path).unwrap();
    let tx = db.begin_read().unwrap();
    let t = tx.open_table(OBS).unwrap();
    t.iter()
        .unwrap()
        .map(|e| {
            let (k, v) = e.unwrap();
            (k.value().to_vec(), v.value().to_vec())
        })
        .collect()
}

#[test]
fn a_healthy_store_checks_clean_and_salvages_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coordinator.redb");
    let bodies = build(&path, 6, 40);
    let before = std::fs::read(&path).unwrap();
    let report = check_file(&path).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.integrity, Some(true));
    assert_eq!(report.entries["obs"], 240);
    assert_eq!(std::fs::read(&path).unwrap(), before, "check must not write the store");
    let (old_snapshot, old_cursor) = {
        let s = RedbCoordinatorStore::open(&path).unwrap();
        (sorted_snapshot(&s), s.cursor().unwrap())
    };
    let before = std::fs::read(&path).unwrap();
    let out = dir.path().join("salvaged");
    let rep = salvage_file(&path, &out, "coordinator.redb").unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "salvage must not write the store"
    );
    assert_eq!(rep.copied["obs"], 240);
    assert_eq!(rep.copied["banned"], 1);
    assert_eq!(rep.copied["body_digests"], 6);
    assert_eq!(rep.copied["reputation"], 1);
    assert_eq!(rep.unreadable_ranges, 0);
    assert_eq!(observations(&rep.out), observations(&path));
    let s = RedbCoordinatorStore::open(&rep.out).unwrap();
    // The same aggregate (sequence numbers differ), the same standing.
    let strip = |v: Vec<dmc_store::coordinator::AggregatedPair>| -> Vec<_> {
        v.into_iter().map(|a| (a.pair, a.result, a.reporters)).collect()
    };
    assert_eq!(strip(sorted_snapshot(&s)), strip(old_snapshot));
    assert_eq!(rep.served_pairs as usize, s.snapshot().unwrap().0.len());
    assert_eq!(s.reputations().unwrap()[0].1.score, 0.25);
    // A store held open (by a server) is checked through the server, not here.
    let held = check_file(&rep.out).unwrap_err();
    assert!(matches!(held, dmc_store::StoreError::Locked(_)), "{held:?}");
    assert!(held.to_string().contains("running `dmc serve`"), "{held}");
    drop(s);
    assert!(check_file(&rep.out).unwrap().is_ok());
    let s = RedbCoordinatorStore::open(&rep.out).unwrap();
    // Replays of bodies the old store took are still refused, and the ban holds.
    let (reporter, digest) = bodies[0];
    let again = s
        .register(Registration {
            reporter,
            pairs: vec![success(1, 2, 5)],
            received: Timestamp::from_unix_secs(2_001),
            signed: Some(SignedBody {
                digest,
                timestamp: 1_990,
            }),
        })
        .unwrap();
    assert_eq!(again.refused, Some(Refusal::AlreadyReceived));
    let banned = s
        .register(Registration {
            reporter: Reporter::Node(node(9)),
            pairs: vec![success(1, 2, 5)],
            received: Timestamp::from_unix_secs(2_001),
            signed: None,
        })
        .unwrap();
    assert_eq!(banned.refused, Some(Refusal::Banned));
    // Every cursor of the old store resyncs in full against the new one.
    for c in [0, 1, old_cursor / 2, old_cursor] {
        assert!(s.changes_since(c).unwrap().full_resync, "cursor {c}");
    }
    // A second salvage into the same directory is refused, naming it.
    let e = salvage_file(&path, &out, "coordinator.redb").unwrap_err();
    assert!(
        e.to_string().contains("salvaged") && e.to_string().contains("already"),
        "{e}"
    );
}

#[test]
fn damaged_records_are_named_by_check_and_left_out_by_salvage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coordinator.redb");
    build(&path, 4, 20);
    let orphan = {
        let mut k = node(77).0.to_vec();
        k.extend_from_slice(&node(5).0);
        k.extend_from_slice(&node(6).0);
        k
    };
    {
        let db = Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut obs = tx.open_table(OBS).unwrap();
            // A truncated value under a real observation key, and a key too short.
            let first: Vec<u8> = obs.iter().unwrap().next().unwrap().unwrap().0.value().to_vec();
            obs.insert(&first[..], &[1u8; 10][..]).unwrap();
            obs.insert(&[7u8; 12][..], &[0u8; 64][..]).unwrap();
            tx.open_table(BY_REPORTER).unwrap().insert(&orphan[..], ()).unwrap();
        }
        tx.commit().unwrap();
    }
    let report = check_file(&path).unwrap();
    assert!(!report.is_ok());
    assert_eq!(report.integrity, Some(true), "redb's pages are fine: {report:?}");
    let all = report.problems.join("\n");
    assert!(all.contains("obs ") && all.contains("value of 10 bytes"), "{all}");
    assert!(all.contains("key of 12 bytes"), "{all}");
    assert!(all.contains("no observation behind it"), "{all}");
    let rep = salvage_file(&path, &dir.path().join("out"), "coordinator.redb").unwrap();
    assert_eq!(rep.copied["obs"], 79);
    assert_eq!(rep.refused["obs"], 2);
    let s = RedbCoordinatorStore::open(&rep.out).unwrap();
    assert_eq!(s.observation_counts(&Reporter::Node(node(1000))).unwrap().1, 79);
    drop(s);
    assert!(check_file(&rep.out).unwrap().is_ok());
}

/// Overwrites `len` bytes at `at` with a pattern.
fn scribble(path: &Path, at: u64, len: usize) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&vec![0xa5; len]).unwrap();
}

#[test]
fn damaged_pages_never_panic_and_salvage_keeps_only_true_records() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = dir.path().join("pristine.redb");
    build(&pristine, 8, 400);
    let original = observations(&pristine);
    let size = std::fs::metadata(&pristine).unwrap().len();
    // (damage found by check, observations salvaged) per damaged copy.
    let mut outcomes = Vec::new();
    // One 4 KiB page overwritten at several places past the header.
    for k in [2, 3, 5, 7, 9, 10, 13] {
        let path = dir.path().join(format!("damaged-{k}.redb"));
        std::fs::copy(&pristine, &path).unwrap();
        scribble(&path, (size * k / 20) & !4095, 4096);
        let found = match check_file(&path) {
            Ok(r) => r.problems.iter().any(|p| p.starts_with("obs: unreadable")),
            Err(e) => {
                assert!(e.to_string().contains(&path.display().to_string()), "{e}");
                false
            }
        };
        match salvage_file(&path, &dir.path().join(format!("out-{k}")), "coordinator.redb") {
            Ok(rep) => {
                let got = observations(&rep.out);
                for (k, v) in &got {
                    assert_eq!(original.get(k), Some(v), "salvage invented a record");
                }
                assert_eq!(rep.copied["obs"], got.len() as u64, "a record read twice");
                assert!(check_file(&rep.out).unwrap().is_ok());
                outcomes.push((found, got.len()));
            }
            Err(e) => assert!(e.to_string().contains(&path.display().to_string()), "{e}"),
        }
    }
    // Where a page of observations was lost, check says so and salvage
    // still copies nearly all of the rest (one leaf holds a few dozen).
    let hit: Vec<usize> = outcomes.iter().filter(|(f, _)| *f).map(|(_, n)| *n).collect();
    assert!(!hit.is_empty(), "no copy had a damaged observation page: {outcomes:?}");
    for n in hit {
        assert!(n < original.len() && n * 10 >= original.len() * 9, "{outcomes:?}");
    }
}

#[test]
fn a_truncated_store_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coordinator.redb");
    build(&path, 2, 50);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
    let shown = path.display().to_string();
    match check_file(&path) {
        Ok(r) => assert!(!r.is_ok(), "{r:?}"),
        Err(e) => assert!(e.to_string().contains(&shown), "{e}"),
    }
    match salvage_file(&path, &dir.path().join("out"), "coordinator.redb") {
        Ok(rep) => {
            let got = observations(&rep.out);
            assert!(got.len() < 100);
        }
        Err(e) => assert!(
            e.to_string().contains(&shown) && e.to_string().contains("backup"),
            "{e}"
        ),
    }
    std::fs::write(&path, b"").unwrap();
    let e = check_file(&path).unwrap_err();
    assert!(matches!(e, dmc_store::StoreError::Corrupt(_)), "{e:?}");
    assert!(e.to_string().contains(&shown) && e.to_string().contains("empty"), "{e}");
    let e = check_file(&dir.path().join("missing.redb")).unwrap_err();
    assert!(e.to_string().contains("missing.redb"), "{e}");
}
