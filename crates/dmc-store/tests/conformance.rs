//! One conformance suite for every `CoordinatorStore`: each property is a
//! function over `&dyn CoordinatorStore`, run against the embedded (redb)
//! store always and against PostgreSQL when `DMC_TEST_DATABASE_URL` names a
//! server where it may create databases (each test creates its own scratch
//! database and drops it at the end). Without the variable the PostgreSQL
//! tests print `SKIPPED <name>: DMC_TEST_DATABASE_URL not set` and return.

use dmc_core::Msat;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use std::collections::HashSet;
use std::sync::Arc;

use dmc_core::aggregate::{ChannelCheck, GraphStanding, Reporter, MAX_MSAT};
use dmc_core::{DirectedPair, NodeId, PairSnapshot, TimedPairResult, Timestamp};
use dmc_store::coordinator::{AggregatedPair, AggregationPolicy, CoordinatorStore, RedbCoordinatorStore, Registration};
use dmc_store::postgres::{PostgresCoordinatorStore, ScratchDatabase};
use dmc_store::StoreError;

mod common;
use common::*;

// ---------------------------------------------------------------- inputs

fn pairs_of(v: &[AggregatedPair]) -> Vec<DirectedPair> {
    let mut p: Vec<DirectedPair> = v.iter().map(|a| a.pair).collect();
    p.sort_unstable();
    p
}

/// A graph for the weighing properties: established keys and the channels
/// (capacity in msat) between node pairs, either direction.
struct TestGraph {
    established: HashSet<NodeId>,
    channels: BTreeMap<(NodeId, NodeId), u64>,
}

impl GraphStanding for TestGraph {
    fn is_established(&self, key: &NodeId) -> bool {
        self.established.contains(key)
    }
    fn channel(&self, p: &DirectedPair) -> ChannelCheck {
        let k = (p.from.min(p.to), p.from.max(p.to));
        self.channels
            .get(&k)
            .map_or(ChannelCheck::NoChannel, |c| ChannelCheck::Capacity(Msat(*c)))
    }
}

fn graph_policy(established: &[u16], channels: &[(u16, u16, u64)]) -> AggregationPolicy {
    let channels = channels
        .iter()
        .map(|(a, b, c)| ((node(*a).min(node(*b)), node(*a).max(node(*b))), *c))
        .collect();
    AggregationPolicy {
        graph: Arc::new(TestGraph {
            established: established.iter().map(|i| node(*i)).collect(),
            channels,
        }),
        ..Default::default()
    }
}

// ------------------------------------------------------------ properties

/// The attacks on the default policy: one anonymous or unverified
/// liar, or 300 fresh keys, against established reporters; claims beyond
/// the channel; pairs with no channel. Served values stay within what the
/// established reporters said, nothing unbacked is served, and the counts
/// say who backs each pair.
fn robust_aggregate_resists_liars(s: &dyn CoordinatorStore) {
    let (x, y, blinded) = (pair(1, 2), pair(3, 4), pair(5, 6));
    s.set_policy(graph_policy(
        &(100..110).collect::<Vec<_>>(),
        &[(1, 2, 600_000_000), (3, 4, 600_000_000)],
    ))
    .unwrap();
    for i in 100..110 {
        s.register(reg(
            Reporter::Node(node(i)),
            vec![success(x, 500_000_000, 1_900), failure(y, 100_000_000, 1_900)],
        ))
        .unwrap();
    }
    let liars = [
        Reporter::anonymous("192.0.2.7".parse().unwrap()),
        Reporter::Node(node(900)), // signed, but not a node of the graph
    ];
    for liar in liars {
        s.register(reg(
            liar,
            vec![
                failure(x, 1, 2_590),
                success(y, 9_000_000_000_000, 2_590),
                success(blinded, 5, 1_950),
            ],
        ))
        .unwrap();
    }
    for k in 0..300 {
        s.register(reg(Reporter::Node(node(1000 + k)), vec![failure(x, 1, 1_999)]))
            .unwrap();
    }
    let snap = sorted_snapshot(s);
    assert_eq!(pairs_of(&snap), vec![x, y], "the no-channel pair is held");
    let (ax, ay) = (snap[0], snap[1]);
    assert_eq!(
        (ax.result.success_amt_msat, ax.result.fail_amt_msat),
        (Msat(500_000_000), Msat(0))
    );
    assert_eq!(ax.result.success_time, Timestamp::from_unix_secs(1_900));
    assert_eq!(
        (ax.reporters, ax.reporters_unverified, ax.reporters_anonymous),
        (10, 301, 1)
    );
    assert_eq!(
        (ay.result.success_amt_msat, ay.result.fail_amt_msat),
        (Msat(0), Msat(100_000_000))
    );
    let st = s.stats().unwrap();
    assert_eq!((st.pairs, st.held_no_channel), (2, 1));
    // The liars alone back nothing that is served.
    s.register(reg(liars[0], vec![success(pair(1, 2), 1, 1_950)])).unwrap();
    let z = pair(2, 1);
    s.set_policy(graph_policy(
        &(100..110).collect::<Vec<_>>(),
        &[(1, 2, 600_000_000), (3, 4, 600_000_000)],
    ))
    .unwrap();
    s.register(reg(liars[1], vec![success(z, 7_000, 1_950)])).unwrap();
    assert!(
        sorted_snapshot(s).iter().all(|a| a.pair != z),
        "unverified alone is not served"
    );
    assert_eq!(s.stats().unwrap().held_unbacked, 1);
    // An established reporter's success is clamped to the capacity, and a
    // failure above it is dropped as uninformative.
    s.register(reg(Reporter::Node(node(100)), vec![success(z, 9_000_000_000, 1_960)]))
        .unwrap();
    let az = sorted_snapshot(s).into_iter().find(|a| a.pair == z).unwrap();
    assert_eq!(az.result.success_amt_msat, Msat(600_000_000));
    assert_eq!((az.reporters, az.reporters_unverified), (1, 1));
}

/// A new graph recomputes everything: a pair whose channel closed is
/// removed (a delta says so), and comes back when the channel does.
fn set_policy_recomputes_every_pair(s: &dyn CoordinatorStore) {
    let both = graph_policy(&[100], &[(1, 2, 1_000_000), (3, 4, 1_000_000)]);
    s.set_policy(both.clone()).unwrap();
    s.register(reg(
        Reporter::Node(node(100)),
        vec![success(pair(1, 2), 5_000, 1_900), success(pair(3, 4), 5_000, 1_900)],
    ))
    .unwrap();
    let c = s.cursor().unwrap();
    assert_eq!(s.set_policy(graph_policy(&[100], &[(1, 2, 1_000_000)])).unwrap(), 1);
    let d = s.changes_since(c).unwrap();
    assert_eq!(d.removed, vec![pair(3, 4)]);
    assert_eq!(s.stats().unwrap().held_no_channel, 1);
    assert_eq!(s.set_policy(both).unwrap(), 1);
    assert_eq!(pairs_of(&sorted_snapshot(s)), vec![pair(1, 2), pair(3, 4)]);
    assert_eq!(s.stats().unwrap().held_no_channel, 0);
    // The key is no longer a node of the graph: unverified, nothing served.
    assert_eq!(
        s.set_policy(graph_policy(&[], &[(1, 2, 1_000_000), (3, 4, 1_000_000)]))
            .unwrap(),
        2
    );
    assert!(sorted_snapshot(s).is_empty());
    assert_eq!(s.stats().unwrap().held_unbacked, 2);
}

/// The reputation check through a store: an established reporter
/// lying alone on 100 pairs while contradicted on 20 shared ones ends with
/// less weight than an honest one, and its lone pairs are no longer served.
fn reputation_pass_discounts_a_liar(s: &dyn CoordinatorStore) {
    let (liar, honest) = (node(100), node(101));
    let witnesses = [node(102), node(103)];
    let mut channels = Vec::new();
    for i in 0..220u16 {
        channels.push((1, 10 + i, 1_000_000_000));
    }
    s.set_policy(graph_policy(&[100, 101, 102, 103], &channels)).unwrap();
    let shared: Vec<DirectedPair> = (0..20).map(|i| pair(1, 10 + i)).collect();
    for w in witnesses {
        s.register(reg(
            Reporter::Node(w),
            shared.iter().map(|p| success(*p, 500_000, 1_900)).collect(),
        ))
        .unwrap();
    }
    let mut lies: Vec<PairSnapshot> = shared.iter().map(|p| failure(*p, 1, 1_950)).collect();
    // Alone it claims huge successes (a lone failure is never served:
    // `failure_corroboration`).
    lies.extend((20..120).map(|i| success(pair(1, 10 + i), 900_000_000, 1_950)));
    s.register(reg(Reporter::Node(liar), lies)).unwrap();
    let mut truth: Vec<PairSnapshot> = shared.iter().map(|p| success(*p, 400_000, 1_900)).collect();
    truth.extend((120..220).map(|i| success(pair(1, 10 + i), 300_000, 1_900)));
    s.register(reg(Reporter::Node(honest), truth)).unwrap();
    assert_eq!(s.snapshot().unwrap().0.len(), 220, "all served before any pass");
    let c = s.cursor().unwrap();
    let t0 = Timestamp::from_unix_secs(1_800_000_000);
    let mut last = Default::default();
    for k in 1..=3 {
        last = s
            .reputation_pass(t0.add(dmc_core::time::DurationNs(k * 600_000_000_000)))
            .unwrap();
    }
    assert_eq!((last.judged, last.penalised), (4, 1));
    let reps = s.reputations().unwrap();
    assert_eq!(reps.len(), 1, "only the liar has a record: {reps:?}");
    assert_eq!(reps[0].0, liar);
    assert!(reps[0].1.score < 0.51, "{reps:?}");
    let snap = sorted_snapshot(s);
    assert_eq!(snap.len(), 120, "the liar's lone pairs are no longer served");
    assert!(
        snap.iter()
            .all(|a| a.result.fail_amt_msat == Msat(0) && a.result.success_amt_msat <= Msat(500_000)),
        "no lie served"
    );
    let d = s.changes_since(c).unwrap();
    assert_eq!(d.removed.len(), 100);
    assert_eq!(s.stats().unwrap().reporters_discounted, 1);
}

/// The graph as a witness: a reporter alone on its pairs, with no peer to
/// contradict it, claiming successes above the channels' capacity loses
/// them after a pass; an honest reporter alone on others keeps its own.
fn the_graph_refutes_a_lone_liar(s: &dyn CoordinatorStore) {
    let (liar, honest) = (node(100), node(101));
    let channels: Vec<(u16, u16, u64)> = (0..60u16).map(|i| (1, 10 + i, 1_000_000_000)).collect();
    s.set_policy(graph_policy(&[100, 101], &channels)).unwrap();
    s.register(reg(
        Reporter::Node(liar),
        (0..30)
            .map(|i| success(pair(1, 10 + i), 5_000_000_000, 1_950))
            .collect(),
    ))
    .unwrap();
    s.register(reg(
        Reporter::Node(honest),
        (30..60).map(|i| success(pair(1, 10 + i), 500_000_000, 1_950)).collect(),
    ))
    .unwrap();
    let snap = sorted_snapshot(s);
    assert_eq!(snap.len(), 60, "all served before any pass");
    assert!(
        snap.iter().all(|a| a.result.success_amt_msat <= Msat(1_000_000_000)),
        "clamped to the capacity"
    );
    let pass = s.reputation_pass(Timestamp::from_unix_secs(1_800_000_000)).unwrap();
    assert_eq!(pass.penalised, 1, "{pass:?}");
    let reps = s.reputations().unwrap();
    assert_eq!(reps.len(), 1, "only the liar has a record: {reps:?}");
    assert_eq!(reps[0].0, liar);
    assert!(reps[0].1.score < 1.0, "{reps:?}");
    let snap = sorted_snapshot(s);
    assert_eq!(pairs_of(&snap), (30..60).map(|i| pair(1, 10 + i)).collect::<Vec<_>>());
}

/// What the attacker sent: a success of i64::MAX msat beside a
/// failure (LND's `success + 1` reached 2^63 and was served negative), the
/// same pair twice in one request with the newer success first (LND's
/// success wipe left a success time with amount 0), and times stamped
/// ahead. Every served pair must still import into LND, together.
fn served_snapshot_always_imports(s: &dyn CoordinatorStore) {
    let (x, y, z) = (pair(1, 2), pair(3, 4), pair(5, 6));
    let huge = PairSnapshot {
        pair: x,
        result: TimedPairResult {
            fail_time: Timestamp::from_unix_secs(1_000),
            fail_amt_msat: Msat(7),
            success_time: Timestamp::from_unix_secs(1_500),
            success_amt_msat: Msat(i64::MAX as u64),
        },
    };
    // Two reporters send the same, so their failures are served too.
    for r in [Reporter::Node(node(100)), Reporter::Node(node(101))] {
        s.register(reg(
            r,
            vec![huge, success(y, 500_000, 1_900), success(y, 400_000, 1_800)],
        ))
        .unwrap();
        s.register(reg(r, vec![failure(z, 100_000, 2_590)])).unwrap();
    }
    let snap = sorted_snapshot(s);
    assert_eq!(pairs_of(&snap), vec![x, y, z]);
    let served: Vec<_> = snap
        .iter()
        .map(|a| dmc_core::aggregate::served_pair(a.pair, &a.result))
        .collect();
    dmc_core::rpc::validate_import(&served).unwrap_or_else(|e| panic!("{e:?}: {served:?}"));
    for p in &served {
        assert!(p.history.fail_amt_msat >= 0 && p.history.success_amt_msat >= 0, "{p:?}");
    }
    let by = |p: DirectedPair| snap.iter().find(|a| a.pair == p).unwrap().result;
    assert_eq!(
        by(y).success_amt_msat,
        Msat(500_000),
        "the older duplicate wiped the newer success"
    );
    assert_eq!(
        by(z).fail_time,
        Timestamp::from_unix_secs(2_000),
        "a time ahead is capped at receipt"
    );
    // The newer success outdates the reporters' own failure below it.
    assert_eq!((by(x).success_amt_msat, by(x).fail_amt_msat), (MAX_MSAT, Msat(0)));
}

/// Extreme registrations from four reporters (amounts 0 … i64::MAX,
/// success ≥ failure, the same pair twice in one request, times 0 …
/// ahead of receipt), applied in all 24 arrival orders (each order on its
/// own pairs of one store): every order serves the same records, and the
/// whole snapshot imports into LND.
fn every_arrival_order_serves_the_same_valid_records(s: &dyn CoordinatorStore) {
    let received = 2_000;
    let rec = |ft: i64, fa: u64, st: i64, sa: u64| TimedPairResult {
        fail_time: if ft == 0 {
            Timestamp::ZERO
        } else {
            Timestamp::from_unix_secs(ft)
        },
        fail_amt_msat: Msat(fa),
        success_time: if st == 0 {
            Timestamp::ZERO
        } else {
            Timestamp::from_unix_secs(st)
        },
        success_amt_msat: Msat(sa),
    };
    let max = i64::MAX as u64;
    // Per reporter: records for pairs 0..4 of an order (one pair twice).
    let sent: [Vec<(u16, TimedPairResult)>; 4] = [
        vec![
            (0, rec(1_000, 7, 1_500, max)),
            (1, rec(0, 0, 1_900, 500_000)),
            (1, rec(0, 0, 1_800, 400_000)),
        ],
        vec![
            (0, rec(1_990, 1, 0, 0)),
            (2, rec(2_590, max, 2_590, max)),
            (3, rec(1_000, 5_000, 1_200, 9_000)),
        ],
        vec![
            (0, rec(0, 0, 1_995, 3_000)),
            (1, rec(1_950, 300_000, 0, 0)),
            (3, rec(0, 0, 0, 0)),
        ],
        vec![
            (2, rec(1_500, 0, 1_600, 1)),
            (3, rec(1_700, 1, 1_700, 1)),
            (3, rec(1_990, 8_000, 1_100, 2_000)),
        ],
    ];
    let reporters = [
        Reporter::Node(node(100)),
        Reporter::Node(node(101)),
        Reporter::anonymous("192.0.2.1".parse().unwrap()),
        Reporter::Node(node(103)),
    ];
    let mut orders: Vec<[usize; 4]> = Vec::new();
    for n in 0..256usize {
        let o = [n & 3, (n >> 2) & 3, (n >> 4) & 3, (n >> 6) & 3];
        if (0..4).all(|r| o.contains(&r)) {
            orders.push(o);
        }
    }
    assert_eq!(orders.len(), 24);
    for (k, order) in orders.iter().enumerate() {
        for &r in order {
            let pairs = sent[r]
                .iter()
                .map(|(j, result)| PairSnapshot {
                    pair: pair(1_000 + k as u16, *j),
                    result: *result,
                })
                .collect();
            s.register(Registration {
                reporter: reporters[r],
                pairs,
                received: Timestamp::from_unix_secs(received),
                signed: None,
            })
            .unwrap();
        }
    }
    let snap = sorted_snapshot(s);
    let served: Vec<_> = snap
        .iter()
        .map(|a| dmc_core::aggregate::served_pair(a.pair, &a.result))
        .collect();
    dmc_core::rpc::validate_import(&served).unwrap_or_else(|e| panic!("{e:?}: {served:?}"));
    for a in &snap {
        let r = a.result;
        assert!(!r.fail_time.after(Timestamp::from_unix_secs(received)), "{a:?}");
        assert!(!r.success_time.after(Timestamp::from_unix_secs(received)), "{a:?}");
        if !r.success_time.is_zero() && r.fail_amt_msat != Msat(0) {
            assert!(r.success_amt_msat < r.fail_amt_msat, "{a:?}");
        }
    }
    // An order's pairs all start at its own node; their ends are shared.
    let of_order = |k: usize| -> Vec<(NodeId, TimedPairResult, [u32; 3])> {
        snap.iter()
            .filter(|a| a.pair.from == node(1_000 + k as u16))
            .map(|a| {
                (
                    a.pair.to,
                    a.result,
                    [a.reporters, a.reporters_unverified, a.reporters_anonymous],
                )
            })
            .collect()
    };
    let first = of_order(0);
    assert_eq!(first.len(), 4, "{first:?}");
    for (k, order) in orders.iter().enumerate().skip(1) {
        assert_eq!(of_order(k), first, "order {order:?}");
    }
}

/// Replay state lives in the store, with the pairs: a body is refused
/// once it was stored, and so is one older than the reporter's last stored
/// one (several bodies of one second stay valid); forgetting a reporter
/// keeps it, so its old bodies cannot bring it back.
fn signed_bodies_are_never_applied_twice(s: &dyn CoordinatorStore) {
    use dmc_store::coordinator::{Refusal, SignedBody};
    let r = Reporter::Node(node(100));
    let body = |d: u8, t: i64, pairs: Vec<PairSnapshot>| Registration {
        reporter: r,
        pairs,
        received: Timestamp::from_unix_secs(2_000),
        signed: Some(SignedBody {
            digest: [d; 32],
            timestamp: t,
        }),
    };
    let first = s
        .register(body(1, 1_990, vec![success(pair(1, 2), 5_000, 1_900)]))
        .unwrap();
    assert_eq!((first.refused, first.observations_changed), (None, 1));
    let again = s
        .register(body(1, 1_990, vec![success(pair(1, 2), 5_000, 1_900)]))
        .unwrap();
    assert_eq!(
        (again.refused, again.observations_changed),
        (Some(Refusal::AlreadyReceived), 0)
    );
    let same_second = s
        .register(body(2, 1_990, vec![success(pair(3, 4), 1_000, 1_900)]))
        .unwrap();
    assert_eq!(same_second.refused, None, "a second chunk of the same second");
    let newer = s
        .register(body(3, 1_995, vec![success(pair(1, 2), 8_000, 1_950)]))
        .unwrap();
    assert_eq!(newer.refused, None);
    // An older body after a newer one would overwrite newer data: refused.
    let older = s.register(body(4, 1_991, vec![failure(pair(1, 2), 1, 1_940)])).unwrap();
    assert_eq!(older.refused, Some(Refusal::OlderThanLast { last: 1_995 }));
    assert_eq!(sorted_snapshot(s)[0].result.success_amt_msat, Msat(8_000));
    // Unsigned registrations carry no replay state.
    let anon = Reporter::anonymous("192.0.2.9".parse().unwrap());
    assert_eq!(
        s.register(reg(anon, vec![success(pair(5, 6), 1, 1_900)]))
            .unwrap()
            .refused,
        None
    );
    // Forgotten, the reporter's old bodies stay refused.
    s.forget_reporter(r).unwrap();
    let back = s
        .register(body(5, 1_992, vec![success(pair(1, 2), 5_000, 1_900)]))
        .unwrap();
    assert_eq!(back.refused, Some(Refusal::OlderThanLast { last: 1_995 }));
    assert_eq!(
        s.register(body(1, 1_990, Vec::new())).unwrap().refused,
        Some(Refusal::AlreadyReceived)
    );
    // Pruning digests outside the window keeps the last timestamp.
    assert_eq!(s.prune_digests(1_994).unwrap(), 2);
    assert_eq!(
        s.register(body(1, 1_990, Vec::new())).unwrap().refused,
        Some(Refusal::OlderThanLast { last: 1_995 })
    );
    assert_eq!(
        s.register(body(3, 1_995, Vec::new())).unwrap().refused,
        Some(Refusal::AlreadyReceived)
    );
}

/// Per-reporter merge, the aggregate across reporters, LND's import
/// normalisation, idempotent re-sends, stats.
fn register_merge_normalise(s: &dyn CoordinatorStore) {
    assert_eq!(s.cursor().unwrap(), 0);
    assert_eq!(s.snapshot().unwrap(), (Vec::new(), 0));
    let (r1, r2) = (Reporter::Node(node(100)), Reporter::Node(node(101)));
    let out = s
        .register(reg(
            r1,
            vec![success(pair(1, 2), 5_000, 1000), success(pair(2, 3), 7_000, 1000)],
        ))
        .unwrap();
    assert_eq!(
        (out.observations_changed, out.aggregates_changed, out.cursor),
        (2, 2, 2)
    );
    // A second reporter's higher failure 30 s later is not dropped by the
    // relax interval (that guards one sender only).
    let out = s.register(reg(r2, vec![failure(pair(1, 2), 9_000, 1030)])).unwrap();
    assert_eq!(
        (out.observations_changed, out.aggregates_changed, out.cursor),
        (1, 1, 3)
    );
    let snap = sorted_snapshot(s);
    assert_eq!(pairs_of(&snap), vec![pair(1, 2), pair(2, 3)]);
    let p12 = snap[0];
    assert_eq!(p12.reporters, 2);
    // One of two reporters saw a success: a tie, so only the failure is served.
    assert_eq!(
        (p12.result.fail_amt_msat, p12.result.success_amt_msat),
        (Msat(9_000), Msat(0))
    );
    assert_eq!(p12.newest, Timestamp::from_unix_secs(1030));
    // Within one reporter, LND's relax rule drops a higher failure 30 s later.
    let out = s.register(reg(r2, vec![failure(pair(1, 2), 20_000, 1060)])).unwrap();
    assert_eq!((out.observations_changed, out.cursor), (0, 3));
    // Re-sending identical data changes nothing and moves no cursor.
    let out = s.register(reg(r2, vec![failure(pair(1, 2), 9_000, 1030)])).unwrap();
    assert_eq!(
        (out.observations_changed, out.aggregates_changed, out.cursor),
        (0, 0, 3)
    );
    // An inconsistent record (success above a failure) is normalised as
    // LND's import does: the failure moves just above the success.
    let both = PairSnapshot {
        pair: pair(4, 5),
        result: TimedPairResult {
            fail_time: Timestamp::from_unix_secs(100),
            fail_amt_msat: Msat(1_000),
            success_time: Timestamp::from_unix_secs(110),
            success_amt_msat: Msat(5_000),
        },
    };
    let r3 = Reporter::Unattributed;
    let out = s.register(reg(r3, vec![both])).unwrap();
    assert_eq!((out.aggregates_changed, out.cursor), (1, 4));
    let p45 = sorted_snapshot(s).into_iter().find(|a| a.pair == pair(4, 5)).unwrap();
    assert_eq!(
        (p45.result.success_amt_msat, p45.result.fail_amt_msat),
        (Msat(5_000), Msat(5_001))
    );
    assert_eq!(
        (p45.reporters, p45.reporters_anonymous),
        (0, 1),
        "unsigned is anonymous"
    );
    // A pair listed twice in one registration merges twice, in order.
    let out = s
        .register(reg(
            r3,
            vec![success(pair(6, 7), 1_000, 500), success(pair(6, 7), 3_000, 600)],
        ))
        .unwrap();
    assert_eq!((out.observations_changed, out.aggregates_changed), (2, 1));
    let p67 = sorted_snapshot(s).into_iter().find(|a| a.pair == pair(6, 7)).unwrap();
    assert_eq!(
        (p67.result.success_amt_msat, p67.newest),
        (Msat(3_000), Timestamp::from_unix_secs(600))
    );
    // An empty registration is harmless.
    assert_eq!(s.register(reg(r1, Vec::new())).unwrap().observations_changed, 0);
    let st = s.stats().unwrap();
    assert_eq!((st.pairs, st.observations, st.reporters, st.cursor), (4, 5, 3, 5));
    assert_eq!(s.cursor().unwrap(), 5);
}

/// Deltas hold exactly what changed after the cursor; an unknown (future)
/// cursor gets a full resync.
/// `observations` lists each reporter's current (merged) record of each
/// pair, in (pair, reporter) order, and forgets a forgotten reporter's.
fn observations_are_the_current_records(s: &dyn CoordinatorStore) {
    assert_eq!(s.observations().unwrap(), Vec::new());
    let (r1, r2) = (Reporter::Node(node(100)), Reporter::Node(node(101)));
    s.register(reg(
        r1,
        vec![success(pair(1, 2), 5_000, 1000), success(pair(2, 3), 7_000, 1000)],
    ))
    .unwrap();
    s.register(reg(r2, vec![failure(pair(1, 2), 9_000, 1030)])).unwrap();
    s.register(reg(r1, vec![failure(pair(1, 2), 8_000, 1100)])).unwrap();
    let got: Vec<(DirectedPair, Reporter, TimedPairResult)> = s
        .observations()
        .unwrap()
        .into_iter()
        .map(|(p, v)| (p, v.reporter, v.record))
        .collect();
    let mut want = got.clone();
    want.sort_by_key(|(p, r, _)| (*p, r.to_bytes()));
    assert_eq!(got, want, "in (pair, reporter) order");
    assert_eq!(got.len(), 3);
    let r1_12 = got.iter().find(|(p, r, _)| *p == pair(1, 2) && *r == r1).unwrap().2;
    assert_eq!(
        (r1_12.success_amt_msat, r1_12.fail_amt_msat, r1_12.fail_time),
        (Msat(5_000), Msat(8_000), Timestamp::from_unix_secs(1100)),
        "the merged record"
    );
    s.forget_reporter(r1).unwrap();
    let left: Vec<Reporter> = s.observations().unwrap().into_iter().map(|(_, v)| v.reporter).collect();
    assert_eq!(left, vec![r2]);
}

fn delta_since_cursor(s: &dyn CoordinatorStore) {
    let d = s.changes_since(0).unwrap();
    assert!(!d.full_resync && d.changed.is_empty() && d.removed.is_empty());
    assert_eq!(d.cursor, 0);
    let r = Reporter::Node(node(100));
    let c1 = s
        .register(reg(
            r,
            vec![success(pair(1, 2), 1_000, 1000), success(pair(2, 3), 1_000, 1000)],
        ))
        .unwrap()
        .cursor;
    let c2 = s
        .register(reg(r, vec![success(pair(3, 4), 1_000, 1001)]))
        .unwrap()
        .cursor;
    let c3 = s
        .register(reg(r, vec![success(pair(1, 2), 2_000, 1002)]))
        .unwrap()
        .cursor;
    assert!(c1 < c2 && c2 < c3);
    let all = s.changes_since(0).unwrap();
    assert!(!all.full_resync);
    assert_eq!(all.cursor, c3);
    // Each pair once, with its latest value, in change order.
    let order: Vec<DirectedPair> = all.changed.iter().map(|a| a.pair).collect();
    assert_eq!(order, vec![pair(2, 3), pair(3, 4), pair(1, 2)]);
    assert_eq!(all.changed[2].result.success_amt_msat, Msat(2_000));
    let d = s.changes_since(c1).unwrap();
    assert_eq!(
        d.changed.iter().map(|a| a.pair).collect::<Vec<_>>(),
        vec![pair(3, 4), pair(1, 2)]
    );
    let d = s.changes_since(c2).unwrap();
    assert_eq!(d.changed.iter().map(|a| a.pair).collect::<Vec<_>>(), vec![pair(1, 2)]);
    assert_eq!(d.changed[0], sorted_snapshot(s)[0]);
    let d = s.changes_since(c3).unwrap();
    assert!(!d.full_resync && d.changed.is_empty() && d.removed.is_empty());
    for good in [0, c1, c3] {
        assert!(!s.resync_needed(good).unwrap(), "cursor {good}");
    }
    // A cursor this store never issued: the whole snapshot.
    for bad in [c3 + 1, u64::MAX] {
        let d = s.changes_since(bad).unwrap();
        assert!(d.full_resync, "cursor {bad}");
        assert!(s.resync_needed(bad).unwrap(), "cursor {bad}");
        assert_eq!(d.cursor, c3);
        assert_eq!(pairs_of(&d.changed), vec![pair(1, 2), pair(2, 3), pair(3, 4)]);
    }
}

/// Forgetting a reporter removes its observations and recomputes the
/// aggregates it backed, as if it had never reported.
fn forget_reporter_recomputes(s: &dyn CoordinatorStore) {
    let (r1, r2) = (Reporter::Node(node(100)), Reporter::Node(node(101)));
    s.register(reg(r1, vec![success(pair(1, 2), 5_000, 1000)])).unwrap();
    s.register(reg(
        r2,
        vec![failure(pair(1, 2), 9_000, 1030), success(pair(8, 9), 1_000, 1000)],
    ))
    .unwrap();
    let only_r1 = {
        let d = tempfile::tempdir().unwrap();
        let e = RedbCoordinatorStore::open(&d.path().join("c.redb")).unwrap();
        e.set_policy(open_policy()).unwrap();
        e.register(reg(r1, vec![success(pair(1, 2), 5_000, 1000)])).unwrap();
        sorted_snapshot(&e)
    };
    let before = s.cursor().unwrap();
    assert_eq!(s.forget_reporter(Reporter::Node(node(555))).unwrap(), 0);
    assert_eq!(s.cursor().unwrap(), before, "forgetting nobody changes nothing");
    assert_eq!(s.forget_reporter(r2).unwrap(), 2);
    assert_eq!(sorted_snapshot(s), only_r1);
    let d = s.changes_since(before).unwrap();
    assert!(!d.full_resync);
    assert_eq!(pairs_of(&d.changed), vec![pair(1, 2)]);
    assert_eq!(d.changed[0].reporters, 1);
    assert_eq!(d.changed[0].result.fail_amt_msat, Msat(0));
    assert_eq!(d.removed, vec![pair(8, 9)]);
    let st = s.stats().unwrap();
    assert_eq!((st.pairs, st.observations, st.reporters), (1, 1, 1));
    // Forgetting twice is a no-op.
    assert_eq!(s.forget_reporter(r2).unwrap(), 0);
    // Reporting again after being forgotten starts from nothing.
    s.register(reg(r2, vec![success(pair(8, 9), 2_000, 1100)])).unwrap();
    let p89 = sorted_snapshot(s).into_iter().find(|a| a.pair == pair(8, 9)).unwrap();
    assert_eq!((p89.result.success_amt_msat, p89.reporters), (Msat(2_000), 1));
    assert_eq!(s.stats().unwrap().reporters, 2);
}

/// Cleanup drops stale observations, leaves tombstones that the next
/// cleanup expires (then older cursors resync in full), and a pair that
/// comes back after removal is served as changed, not removed.
fn cleanup_tombstones_full_resync(s: &dyn CoordinatorStore) {
    let (r1, r2) = (Reporter::Unattributed, Reporter::Node(node(101)));
    s.register(reg(
        r1,
        vec![
            success(pair(1, 2), 5_000, 1000),
            success(pair(2, 3), 5_000, 5000),
            success(pair(3, 4), 5_000, 1000),
        ],
    ))
    .unwrap();
    // 3→4 is also backed by a fresh observation from r2: it stays.
    s.register(reg(r2, vec![success(pair(3, 4), 7_000, 4000)])).unwrap();
    let before = s.cursor().unwrap();
    // Exactly at the boundary nothing is stale (strictly older only).
    assert_eq!(s.cleanup(Timestamp::from_unix_secs(1000)).unwrap(), 0);
    assert_eq!(s.cursor().unwrap(), before);
    assert_eq!(s.cleanup(Timestamp::from_unix_secs(2000)).unwrap(), 2);
    let d = s.changes_since(before).unwrap();
    assert!(!d.full_resync);
    assert_eq!(d.removed, vec![pair(1, 2)]);
    assert_eq!(pairs_of(&d.changed), vec![pair(3, 4)]);
    assert_eq!(d.changed[0].reporters, 1);
    assert_eq!(pairs_of(&sorted_snapshot(s)), vec![pair(2, 3), pair(3, 4)]);
    let st = s.stats().unwrap();
    assert_eq!((st.pairs, st.observations, st.reporters), (2, 2, 2));
    let after_first = s.cursor().unwrap();

    // A removed pair reported again: served as changed, never as removed.
    let t = s
        .register(reg(r2, vec![success(pair(1, 2), 1_000, 6000)]))
        .unwrap()
        .cursor;
    let d = s.changes_since(before).unwrap();
    assert!(!d.full_resync);
    assert!(d.removed.is_empty(), "{:?}", d.removed);
    assert_eq!(pairs_of(&d.changed), vec![pair(1, 2), pair(3, 4)]);
    // Removed once more (r2 forgotten), then the second cleanup expires the
    // tombstones left before it: cursors older than them resync in full.
    s.forget_reporter(r2).unwrap();
    let d = s.changes_since(t).unwrap();
    assert_eq!(d.removed, vec![pair(1, 2), pair(3, 4)]);
    assert!(d.changed.is_empty());
    // Each pair once, however often it was removed and re-added.
    let d = s.changes_since(before).unwrap();
    assert_eq!(d.removed, vec![pair(1, 2), pair(3, 4)]);
    assert!(d.changed.is_empty());
    let pre_cleanup = s.cursor().unwrap();
    assert_eq!(s.cleanup(Timestamp::from_unix_secs(2000)).unwrap(), 0);
    for old in [before, after_first, t] {
        let d = s.changes_since(old).unwrap();
        assert!(d.full_resync, "cursor {old}");
        assert!(s.resync_needed(old).unwrap(), "cursor {old}");
        assert_eq!(pairs_of(&d.changed), vec![pair(2, 3)]);
        assert!(d.removed.is_empty());
    }
    // A cursor taken after the expired tombstone is still served a delta.
    let d = s.changes_since(pre_cleanup).unwrap();
    assert!(!d.full_resync && d.changed.is_empty() && d.removed.is_empty());
    assert!(!s.resync_needed(pre_cleanup).unwrap());
    // Removing everything leaves an empty store with a live cursor.
    assert_eq!(s.cleanup(Timestamp::from_unix_secs(10_000)).unwrap(), 1);
    let d = s.changes_since(pre_cleanup).unwrap();
    assert_eq!(d.removed, vec![pair(2, 3)]);
    let st = s.stats().unwrap();
    assert_eq!((st.pairs, st.observations, st.reporters), (0, 0, 0));
    assert!(s.snapshot().unwrap().0.is_empty());
}

fn durability_before(s: &dyn CoordinatorStore) -> (Vec<AggregatedPair>, u64) {
    let r = Reporter::Node(node(100));
    for i in 0..20u16 {
        s.register(reg(r, vec![success(pair(i, i + 1), 1_000 + i as u64, 1000 + i as i64)]))
            .unwrap();
    }
    s.forget_reporter(Reporter::Node(node(7))).unwrap();
    s.register(reg(Reporter::Unattributed, vec![failure(pair(0, 1), 500, 2000)]))
        .unwrap();
    (sorted_snapshot(s), s.cursor().unwrap())
}

/// What was acknowledged is there after reopening, and the cursor goes on
/// from where it was (no sequence number reused).
fn reopen_durability(open: &dyn Fn() -> Box<dyn CoordinatorStore>) {
    let (snap, cursor) = {
        let s = open();
        durability_before(&*s)
    };
    let s = open();
    assert_eq!(sorted_snapshot(&*s), snap);
    assert_eq!(s.cursor().unwrap(), cursor);
    let st = s.stats().unwrap();
    assert_eq!(
        (st.pairs, st.observations, st.reporters, st.cursor),
        (20, 21, 2, cursor)
    );
    let d = s.changes_since(cursor - 1).unwrap();
    assert_eq!(pairs_of(&d.changed), vec![pair(0, 1)]);
    let next = s
        .register(reg(Reporter::Unattributed, vec![success(pair(40, 41), 1, 3000)]))
        .unwrap();
    assert_eq!(next.cursor, cursor + 1);
}

/// Many writers on the same pairs, spread over `stores` (replicas of one
/// database, or one store), while a reader follows deltas on the last one:
/// the end state equals applying each reporter's registrations in its own
/// order on `fresh`, every registration's cursor grows per writer, and the
/// reader's deltas, applied as they came, rebuild the final snapshot.
fn concurrent_writers_equal_sequential(stores: &[&dyn CoordinatorStore], fresh: &dyn CoordinatorStore) {
    const WRITERS: u16 = 6;
    const PER_WRITER: u16 = 25;
    let regs = |k: u16| -> Vec<Registration> {
        (0..PER_WRITER)
            .map(|i| {
                let t = 1000 + (i as i64) * 7 + k as i64;
                let rep = if k == 0 {
                    Reporter::Unattributed
                } else {
                    Reporter::Node(node(200 + k))
                };
                reg(
                    rep,
                    vec![
                        success(pair(i % 5, 50), 1_000 * (i as u64 + 1) + k as u64, t),
                        failure(pair(50, i % 3), 500 + i as u64 * 3 + k as u64, t),
                        if (i + k).is_multiple_of(4) {
                            failure(pair(i % 5, 50), 700 + i as u64, t + 1)
                        } else {
                            success(pair(60 + k, 61), 10 + i as u64, t)
                        },
                    ],
                )
            })
            .collect()
    };
    for k in 0..WRITERS {
        for r in regs(k) {
            fresh.register(r).unwrap();
        }
    }
    let expected = sorted_snapshot(fresh);

    let done = AtomicBool::new(false);
    let follower = stores[stores.len() - 1];
    let mut view: BTreeMap<DirectedPair, AggregatedPair> = BTreeMap::new();
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|k| {
                let s = stores[k as usize % stores.len()];
                let chunk = regs(k);
                scope.spawn(move || {
                    let mut last = 0;
                    for r in chunk {
                        let c = s.register(r).unwrap().cursor;
                        assert!(c >= last, "writer {k}: cursor went back from {last} to {c}");
                        last = c;
                    }
                })
            })
            .collect();
        let reader = scope.spawn(|| {
            let mut cursor = 0;
            let mut view = BTreeMap::new();
            let mut follow = |cursor: &mut u64| {
                let d = follower.changes_since(*cursor).unwrap();
                assert!(!d.full_resync, "no cleanup ran: a delta, never a resync");
                assert!(d.cursor >= *cursor);
                for a in d.changed {
                    view.insert(a.pair, a);
                }
                for p in d.removed {
                    view.remove(&p);
                }
                *cursor = d.cursor;
            };
            while !done.load(Ordering::Acquire) {
                follow(&mut cursor);
            }
            follow(&mut cursor);
            view
        });
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        view = reader.join().unwrap();
    });
    for s in stores {
        assert_eq!(sorted_snapshot(*s), expected, "lost or reordered update");
    }
    assert_eq!(
        view.into_values().collect::<Vec<_>>(),
        expected,
        "the followed deltas skipped a change"
    );
    let st = stores[0].stats().unwrap();
    assert_eq!(st.pairs, expected.len() as u64);
    assert_eq!(st.reporters, WRITERS as u64);
}

// --------------------------------------------------------------- backends

fn embedded(dir: &tempfile::TempDir) -> RedbCoordinatorStore {
    let s = RedbCoordinatorStore::open(&dir.path().join("coordinator.redb")).unwrap();
    s.set_policy(open_policy()).unwrap();
    s
}

/// The admin URL, or a `SKIPPED` line naming the test (written past the
/// test harness's capture, so it shows in `cargo test` output).
fn pg_admin_url(test: &str) -> Option<String> {
    match std::env::var("DMC_TEST_DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: DMC_TEST_DATABASE_URL not set");
            None
        }
    }
}

fn scratch(test: &str) -> Option<ScratchDatabase> {
    let url = pg_admin_url(test)?;
    Some(ScratchDatabase::create(&url, "dmc_test").unwrap_or_else(|e| panic!("{test}: {e}")))
}

fn pg(db: &ScratchDatabase) -> PostgresCoordinatorStore {
    let s = PostgresCoordinatorStore::open(db.url()).unwrap();
    s.set_policy(open_policy()).unwrap();
    s
}

/// One embedded and one PostgreSQL test per property taking one store.
macro_rules! on_one_store {
    ($($prop:ident => $embedded:ident, $postgres:ident;)*) => {$(
        #[test]
        fn $embedded() {
            let dir = tempfile::tempdir().unwrap();
            $prop(&embedded(&dir));
        }

        #[test]
        fn $postgres() {
            let Some(db) = scratch(stringify!($postgres)) else { return };
            $prop(&pg(&db));
        }
    )*};
}

on_one_store! {
    register_merge_normalise => embedded_register_merge_normalise, postgres_register_merge_normalise;
    delta_since_cursor => embedded_delta_since_cursor, postgres_delta_since_cursor;
    observations_are_the_current_records => embedded_observations_are_the_current_records, postgres_observations_are_the_current_records;
    forget_reporter_recomputes => embedded_forget_reporter_recomputes, postgres_forget_reporter_recomputes;
    cleanup_tombstones_full_resync => embedded_cleanup_tombstones_full_resync, postgres_cleanup_tombstones_full_resync;
    served_snapshot_always_imports => embedded_served_snapshot_always_imports, postgres_served_snapshot_always_imports;
    robust_aggregate_resists_liars => embedded_robust_aggregate_resists_liars, postgres_robust_aggregate_resists_liars;
    every_arrival_order_serves_the_same_valid_records => embedded_every_arrival_order_serves_the_same_valid_records, postgres_every_arrival_order_serves_the_same_valid_records;
    signed_bodies_are_never_applied_twice => embedded_signed_bodies_are_never_applied_twice, postgres_signed_bodies_are_never_applied_twice;
    set_policy_recomputes_every_pair => embedded_set_policy_recomputes_every_pair, postgres_set_policy_recomputes_every_pair;
    reputation_pass_discounts_a_liar => embedded_reputation_pass_discounts_a_liar, postgres_reputation_pass_discounts_a_liar;
    the_graph_refutes_a_lone_liar => embedded_the_graph_refutes_a_lone_liar, postgres_the_graph_refutes_a_lone_liar;
}

#[test]
fn embedded_reopen_durability() {
    let dir = tempfile::tempdir().unwrap();
    reopen_durability(&|| Box::new(embedded(&dir)));
}

#[test]
fn postgres_reopen_durability() {
    let Some(db) = scratch("postgres_reopen_durability") else {
        return;
    };
    reopen_durability(&|| Box::new(pg(&db)));
}

#[test]
fn embedded_concurrent_writers_equal_sequential() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    concurrent_writers_equal_sequential(&[&embedded(&d1)], &embedded(&d2));
}

/// Two replicas (two stores, each with its own pool) on one database.
#[test]
fn postgres_concurrent_writers_equal_sequential() {
    let Some(db) = scratch("postgres_concurrent_writers_equal_sequential") else {
        return;
    };
    let Some(fresh) = scratch("postgres_concurrent_writers_equal_sequential") else {
        return;
    };
    let (a, b) = (pg(&db), pg(&db));
    concurrent_writers_equal_sequential(&[&a, &b], &pg(&fresh));
}

/// The PostgreSQL results equal the embedded store's, pair for pair.
#[test]
fn postgres_equals_embedded_on_the_same_input() {
    let Some(db) = scratch("postgres_equals_embedded_on_the_same_input") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (p, e) = (pg(&db), embedded(&dir));
    for s in [&p as &dyn CoordinatorStore, &e] {
        durability_before(s);
        s.cleanup(Timestamp::from_unix_secs(1005)).unwrap();
        s.register(reg(Reporter::Node(node(9)), vec![failure(pair(3, 4), 1, 1500)]))
            .unwrap();
    }
    assert_eq!(sorted_snapshot(&p), sorted_snapshot(&e));
    assert_eq!(p.cursor().unwrap(), e.cursor().unwrap());
    assert_eq!(p.stats().unwrap(), e.stats().unwrap());
    for c in 0..=p.cursor().unwrap() + 1 {
        let (mut a, mut b) = (p.changes_since(c).unwrap(), e.changes_since(c).unwrap());
        if a.full_resync {
            a.changed.sort_by_key(|x| x.pair);
            b.changed.sort_by_key(|x| x.pair);
        }
        assert_eq!(a, b, "changes since {c}");
    }
}

// ------------------------------------------------- PostgreSQL specifics

/// Replicas starting together on an empty database: the schema is created
/// once, and reopening applies nothing again.
#[test]
fn postgres_migrations_concurrent_open_idempotent() {
    let Some(db) = scratch("postgres_migrations_concurrent_open_idempotent") else {
        return;
    };
    std::thread::scope(|scope| {
        let opens: Vec<_> = (0..4).map(|_| scope.spawn(|| pg(&db))).collect();
        for o in opens {
            o.join().unwrap();
        }
    });
    let s = pg(&db);
    s.register(reg(Reporter::Unattributed, vec![success(pair(1, 2), 1, 1000)]))
        .unwrap();
    let mut c = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    let rows = c
        .query("SELECT version FROM dmc_schema_migrations ORDER BY version", &[])
        .unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, (1..=dmc_store::postgres::SCHEMA_VERSION).collect::<Vec<_>>());
    assert_eq!(
        c.query_one("SELECT count(*) FROM dmc_meta", &[])
            .unwrap()
            .get::<_, i64>(0),
        1
    );
    // A database from a newer dmc is refused, naming both versions.
    c.execute(
        "INSERT INTO dmc_schema_migrations (version, description) VALUES (999, 'future')",
        &[],
    )
    .unwrap();
    let e = PostgresCoordinatorStore::open(db.url()).err().expect("refused");
    assert!(matches!(e, StoreError::SchemaTooNew { found: 999, .. }), "{e:?}");
    let e = e.to_string();
    assert!(e.contains("999") && e.contains("upgrade dmc"), "{e}");
}

/// Bad connection strings and unreachable servers give one clear error,
/// never the password. Needs no server.
#[test]
fn postgres_bad_urls_are_refused_clearly() {
    let e = PostgresCoordinatorStore::open("mysql://nope").err().expect("refused");
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    let e = e.to_string();
    assert!(e.contains("database_url"), "{e}");
    let e = PostgresCoordinatorStore::open("postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=2")
        .err()
        .expect("refused");
    assert!(matches!(e, StoreError::Postgres { .. }), "{e:?}");
    let e = e.to_string();
    assert!(e.contains("u@127.0.0.1:1/db") && !e.contains("s3cret"), "{e}");
}

/// The schema holds what an operator would look at: readable times and
/// the derived counts.
#[test]
fn postgres_schema_is_inspectable() {
    let Some(db) = scratch("postgres_schema_is_inspectable") else {
        return;
    };
    let s = pg(&db);
    s.register(Registration {
        reporter: Reporter::Node(node(100)),
        pairs: vec![success(pair(1, 2), 1_000, 1_700_000_000)],
        received: Timestamp::from_unix_secs(1_700_000_100),
        signed: None,
    })
    .unwrap();
    let mut c = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    let row = c
        .query_one(
            "SELECT extract(epoch FROM newest)::bigint, extract(epoch FROM received)::bigint, length(record), \
             length(reporter) FROM dmc_observations",
            &[],
        )
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i32>(2),
            row.get::<_, i32>(3)
        ),
        (1_700_000_000, 1_700_000_100, 48, 33)
    );
    let row = c
        .query_one("SELECT next_seq, pairs, observations FROM dmc_meta", &[])
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1), row.get::<_, i64>(2)),
        (2, 1, 1)
    );
}

/// Connections the server drops while they sit in the pool (a restart, a
/// failover, an operator's `pg_terminate_backend`) are replaced when next
/// checked out: the calls after it succeed, the first one included.
#[test]
fn postgres_dropped_connections_are_replaced() {
    let Some(db) = scratch("postgres_dropped_connections_are_replaced") else {
        return;
    };
    let s = pg(&db);
    s.register(reg(
        Reporter::Node(node(100)),
        vec![success(pair(1, 2), 1_000, 1_700_000_000)],
    ))
    .unwrap();
    let before = sorted_snapshot(&s);
    let mut admin = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(killed >= 1, "the store held no connection");
    assert_eq!(sorted_snapshot(&s), before);
    s.register(reg(
        Reporter::Node(node(101)),
        vec![success(pair(1, 2), 2_000, 1_700_000_001)],
    ))
    .unwrap();
    assert_eq!(s.stats().unwrap().observations, 2);
}
