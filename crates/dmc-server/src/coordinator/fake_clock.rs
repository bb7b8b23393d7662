//! The coordinator's rules driven as quinn-proto's core is: exact inputs, a
//! fake clock the test moves, a store in memory, no socket and no wall clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use dmc_core::aggregate::Reporter;
use dmc_core::time::DurationNs;
use dmc_core::Timestamp;
use dmc_store::coordinator::CoordinatorStore;

use super::tests::{key, node, pair_json as pair};
use super::*;
use crate::config::ServerConfig;

const T0: i64 = 1_800_000_000;

/// A coordinator on an in-memory store whose clock reads `clock` (Unix seconds).
fn coordinator(tweak: impl FnOnce(&mut ServerConfig)) -> (Coordinator, Arc<AtomicI64>) {
    let store: Arc<dyn CoordinatorStore> =
        Arc::new(dmc_store::coordinator::RedbCoordinatorStore::in_memory().expect("store"));
    let mut config = ServerConfig::with_data_dir(std::path::PathBuf::from("/nonexistent"));
    config.graph = None;
    tweak(&mut config);
    let clock = Arc::new(AtomicI64::new(T0));
    let read = clock.clone();
    let c = Coordinator::new(
        config,
        store,
        Arc::new(move || Timestamp::from_unix_secs(read.load(Ordering::SeqCst))),
    );
    c.set_graph(None).expect("policy");
    (c, clock)
}

/// Reporter 7 signs `body` (any bytes: the caller decodes the fields;
/// here they are given) stamped `timestamp`, with one pair.
fn register(c: &Coordinator, body: &str, timestamp: i64, pair_time: i64) -> Result<Registered, ApiError> {
    let sig = dmc_core::signmsg::sign_message(&key(7), body.as_bytes());
    c.register_signed(
        body.as_bytes(),
        &sig,
        &node(7),
        timestamp,
        vec![pair(1, pair_time)],
        false,
        vec![None],
    )
}

fn unauthenticated(r: Result<Registered, ApiError>, needle: &str) {
    match r {
        Err(ApiError::Unauthenticated(m)) => assert!(m.contains(needle), "{m}"),
        other => panic!("expected Unauthenticated({needle}), got {other:?}"),
    }
}

/// The window moves with the clock: a body stamped ahead of it is
/// refused, and the same bytes are taken once the clock catches up (a
/// refused body is never marked received); a body the window has passed
/// is refused; no timestamp wraps the check.
#[test]
fn the_signature_window_follows_the_clock() {
    let (c, clock) = coordinator(|cfg| cfg.signature_window = DurationNs(600 * 1_000_000_000));
    let ahead = format!("ahead {}", T0 + 605);
    unauthenticated(register(&c, &ahead, T0 + 605, T0), "signature window");
    clock.store(T0 + 10, Ordering::SeqCst);
    register(&c, &ahead, T0 + 605, T0).expect("the same body, now inside the window");
    unauthenticated(register(&c, "old", T0 + 10 - 601, T0), "signature window");
    for t in [i64::MAX, i64::MIN] {
        unauthenticated(register(&c, &format!("extreme {t}"), t, T0), "signature window");
    }
}

/// A body is received once, whatever the clock does; an older body of
/// the same reporter is refused after a newer one, even inside the window.
#[test]
fn replays_and_older_bodies_are_refused() {
    let (c, clock) = coordinator(|_| {});
    register(&c, "first", T0, T0 - 10).expect("first");
    unauthenticated(register(&c, "first", T0, T0 - 10), "already received");
    clock.store(T0 + 30, Ordering::SeqCst);
    unauthenticated(register(&c, "first", T0, T0 - 10), "already received");
    register(&c, "second", T0 + 30, T0 + 20).expect("newer");
    unauthenticated(
        register(&c, "between", T0 + 15, T0 - 5),
        "older than this reporter's last",
    );
    // Several chunks signed in the same second stay valid.
    register(&c, "second, chunk 2", T0 + 30, T0 + 21).expect("same second");
}

/// A burst of `requests_per_minute` per source on the coordinator's
/// clock, then one more each `60 s / requests_per_minute` (GCRA).
#[test]
fn the_rate_limit_refills_with_the_clock() {
    let (c, clock) = coordinator(|cfg| cfg.requests_per_minute = 2);
    clock.store(T0 - T0 % 60, Ordering::SeqCst);
    let t = T0 - 60;
    for i in 0..2 {
        c.register_unsigned(vec![pair(10 + i, t)], "10.0.0.1")
            .expect("within the limit");
    }
    let e = c
        .register_unsigned(vec![pair(20, t)], "10.0.0.1")
        .expect_err("third this minute");
    assert!(
        matches!(
            e,
            ApiError::Limit {
                limit: "requests_per_minute",
                ..
            }
        ),
        "{e:?}"
    );
    c.register_unsigned(vec![pair(21, t)], "10.0.0.2")
        .expect("another source has its own");
    // One IPv6 host holds a whole /64: its addresses share one budget.
    c.register_unsigned(vec![pair(24, t)], "2001:db8:1:2::1")
        .expect("first");
    c.register_unsigned(vec![pair(25, t)], "2001:db8:1:2::2")
        .expect("second");
    let e = c
        .register_unsigned(vec![pair(26, t)], "2001:db8:1:2:ffff::3")
        .expect_err("the same /64");
    assert!(
        matches!(
            e,
            ApiError::Limit {
                limit: "requests_per_minute",
                ..
            }
        ),
        "{e:?}"
    );
    c.register_unsigned(vec![pair(27, t)], "2001:db8:1:3::1")
        .expect("another /64");
    // Two a minute: one request comes back every 30 s.
    clock.fetch_add(29, Ordering::SeqCst);
    let e = c
        .register_unsigned(vec![pair(22, t)], "10.0.0.1")
        .expect_err("no request back yet");
    assert!(e.message().contains("allowed in 1s"), "{}", e.message());
    clock.fetch_add(1, Ordering::SeqCst);
    c.register_unsigned(vec![pair(23, t)], "10.0.0.1")
        .expect("one request back");
    assert!(c.register_unsigned(vec![pair(28, t)], "10.0.0.1").is_err(), "only one");
    // Idle for a minute: the whole burst again.
    clock.fetch_add(60, Ordering::SeqCst);
    for i in 0..2 {
        c.register_unsigned(vec![pair(30 + i, t)], "10.0.0.1")
            .expect("a full burst");
    }
    assert!(
        c.register_unsigned(vec![pair(32, t)], "10.0.0.1").is_err(),
        "past the burst"
    );
}

/// A sweep forgets the sources idle long enough to be as new (governor's
/// `retain_recent`): old sources do not accumulate.
#[test]
fn idle_sources_are_forgotten() {
    let (c, clock) = coordinator(|cfg| cfg.requests_per_minute = 2);
    let t = T0 - 60;
    c.register_unsigned(vec![pair(1, t)], "10.0.0.1").expect("first");
    c.register_unsigned(vec![pair(2, t)], "10.0.0.2").expect("second");
    assert_eq!(c.limiter.sources_held(), 2);
    clock.fetch_add(59, Ordering::SeqCst);
    c.limiter.sweep();
    assert_eq!(c.limiter.sources_held(), 2, "both still count");
    clock.fetch_add(1, Ordering::SeqCst);
    c.limiter.sweep();
    assert_eq!(c.limiter.sources_held(), 0, "idle a minute: as new");
}

/// Pairs older than the staleness window, counted from the clock, are
/// dropped and counted; a request of nothing but stale pairs is refused.
#[test]
fn the_staleness_window_follows_the_clock() {
    let (c, clock) = coordinator(|cfg| cfg.staleness_window = DurationNs(3_600 * 1_000_000_000));
    let t = T0 - 1_800;
    let r = c
        .register_unsigned(vec![pair(1, t), pair(2, t - 3_600)], "10.0.0.1")
        .expect("one fresh pair");
    assert_eq!((r.accepted, r.stale_dropped), (1, 1));
    clock.fetch_add(1_801, Ordering::SeqCst);
    let e = c
        .register_unsigned(vec![pair(3, t)], "10.0.0.1")
        .expect_err("now stale");
    assert!(
        matches!(&e, ApiError::Invalid(m) if m.contains("staleness window")),
        "{e:?}"
    );
    // Ahead of the clock by more than the allowed skew: refused naming it.
    let skew = c.config.future_skew.whole_secs();
    let now = T0 + 1_801;
    let e = c
        .register_unsigned(vec![pair(4, now + skew + 5)], "10.0.0.1")
        .expect_err("ahead");
    assert!(
        matches!(&e, ApiError::Invalid(m) if m.contains("in the future")),
        "{e:?}"
    );
    c.register_unsigned(vec![pair(5, now + skew - 5)], "10.0.0.1")
        .expect("within the skew");
}

/// A reporter's storage cap is refused naming it, and does not touch
/// what was stored.
#[test]
fn the_per_reporter_cap_is_named() {
    let (c, _) = coordinator(|cfg| cfg.max_observations_per_reporter = 2);
    let t = T0 - 60;
    c.register_unsigned(vec![pair(1, t), pair(2, t)], "10.0.0.1")
        .expect("two");
    let e = c.register_unsigned(vec![pair(3, t)], "10.0.0.1").expect_err("a third");
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
    // Stored, not served: an anonymous source alone is below the serving threshold.
    let (_, stored) = c.store.observation_counts(&Reporter::Unattributed).expect("counts");
    assert_eq!(stored, 2);
    assert!(c.snapshot().expect("snapshot").pairs.is_empty());
}

/// The liquidity model sees only what the store accepted: a registration
/// refused by a storage cap or as a replay adds nothing, an anonymous (v1)
/// one is observed, times after receipt are bounded to it, and
/// `forget-reporter` rebuilds the model without the reporter.
#[test]
fn the_liquidity_model_sees_only_accepted_registrations() {
    let (c, clock) = coordinator(|cfg| {
        cfg.max_observations_per_reporter = 2;
        cfg.min_serving_weight = 0.0;
    });
    c.set_admin_token("t".repeat(32));
    let e = c
        .register_unsigned(vec![pair(1, T0 - 10), pair(2, T0 - 10), pair(3, T0 - 10)], "10.0.0.1")
        .expect_err("over max_observations_per_reporter");
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
    assert_eq!(c.liquidity_pairs(), 0, "a refused registration is not observed");
    // Within the future skew: stored, and observed at the received time.
    c.register_unsigned(vec![pair(1, T0 + 5)], "10.0.0.1")
        .expect("accepted");
    assert_eq!(c.liquidity_pairs(), 1);
    register(&c, "signed", T0, T0 - 20).expect("signed");
    unauthenticated(register(&c, "signed", T0, T0 - 20), "already received");
    let q = LiquidityQuery {
        limit: 10,
        ..Default::default()
    };
    let page = c.liquidity(&q).expect("page");
    assert_eq!(page.pairs.len(), 1, "one pair, two reporters");
    let e = &page.pairs[0].estimate;
    assert_eq!(e.reporters, 2);
    assert_eq!(
        e.newest_success,
        Timestamp::from_unix_secs(T0),
        "bounded to the receipt"
    );
    let total: f64 = e.success_histogram.iter().sum();
    // Weighed by class: the signed key 1, the anonymous source 0.01.
    let want = 1.0 + c.config.weight_anonymous;
    assert!(
        (total - want).abs() < 1e-3,
        "two observations, the replay not among them: {total}"
    );
    clock.store(T0 + 60, Ordering::SeqCst);
    let auth = format!("Bearer {}", "t".repeat(32));
    c.admin_forget(Some(&auth), "anonymous:10.0.0.1", false)
        .expect("forgotten");
    let page = c.liquidity(&q).expect("page");
    assert_eq!(
        page.pairs[0].estimate.reporters, 1,
        "rebuilt without the forgotten reporter"
    );
    assert_eq!(
        page.pairs[0].estimate.newest_success,
        Timestamp::from_unix_secs(T0 - 20)
    );
}

/// The model is rebuilt from the store once it holds more (pair,
/// reporter) entries than `max_observations`: what the store dropped as
/// stale is then gone from it too.
#[test]
fn the_liquidity_model_is_bounded_by_max_observations() {
    let (c, clock) = coordinator(|cfg| {
        cfg.max_observations = 2;
        cfg.staleness_window = DurationNs::from_secs(3600);
    });
    c.register_unsigned(vec![pair(1, T0 - 10)], "10.0.0.1").expect("first");
    c.register_unsigned(vec![pair(2, T0 - 10)], "10.0.0.1").expect("second");
    assert_eq!(c.liquidity_pairs(), 2);
    clock.store(T0 + 7200, Ordering::SeqCst);
    c.store
        .cleanup(c.now().add(-c.config.staleness_window))
        .expect("cleanup");
    // The store holds nothing now; a third pair takes the model past the cap.
    c.register_unsigned(vec![pair(3, T0 + 7190)], "10.0.0.1")
        .expect("third");
    assert_eq!(c.liquidity_pairs(), 1, "rebuilt from the store's one record");
}
