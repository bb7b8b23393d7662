//! Helpers shared by the integration tests: node ids, times, routes, payment
//! results, pair records and float comparison.
#![allow(dead_code)]

use dmc_core::time::DurationNs;
pub use dmc_core::Msat;
use dmc_core::{FailureCode, Hop, NodeId, PaymentFailure, PaymentResult, Route, TimedPairResult, Timestamp};

/// Tolerance against the spec's "f64 reference" column.
pub const TOL: f64 = 1e-9;

pub const SECOND: DurationNs = DurationNs::SECOND;
pub const MINUTE: DurationNs = DurationNs::MINUTE;
pub const HOUR: DurationNs = DurationNs::HOUR;
pub const NANOSECOND: DurationNs = DurationNs::NANOSECOND;

/// LND's `testTime`: 2018-01-09 14:00:00 UTC.
pub const LND_TEST_TIME_UNIX: i64 = 1_515_506_400;

pub fn lnd_test_time() -> Timestamp {
    Timestamp::from_unix_secs(LND_TEST_TIME_UNIX)
}

/// A vertex as LND's tests write it: `route.Vertex{b}`, the rest zero.
pub fn node(b: u8) -> NodeId {
    vertex(&[b])
}

/// A vertex with the given leading bytes, the rest zero
/// (`route.Vertex{1, 2}` is `vertex(&[1, 2])`).
pub fn vertex(prefix: &[u8]) -> NodeId {
    let mut a = [0u8; 33];
    a[..prefix.len()].copy_from_slice(prefix);
    NodeId(a)
}

#[track_caller]
pub fn assert_close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= TOL, "{what}: got {got:?}, want {want:?} (±{TOL})");
}

#[track_caller]
pub fn assert_within(got: f64, want: f64, tol: f64, what: &str) {
    assert!((got - want).abs() <= tol, "{what}: got {got:?}, want {want:?} (±{tol})");
}

/// One hop: `(pub_key, amt_to_forward, has_blinding_point)`.
pub fn hop(chan_id: u64, pub_key: NodeId, amt: u64, blinded: bool) -> Hop {
    Hop {
        chan_id,
        pub_key,
        amt_to_forward_msat: Msat(amt),
        has_blinding_point: blinded,
        has_custom_records: false,
    }
}

/// A route from `source` carrying `total` over hops `(key, amt_to_forward)`.
pub fn route(source: NodeId, total: u64, hops: &[(NodeId, u64)]) -> Route {
    Route {
        source,
        total_amt_msat: Msat(total),
        hops: hops
            .iter()
            .enumerate()
            .map(|(i, (k, a))| hop(i as u64 + 1, *k, *a, false))
            .collect(),
    }
}

pub fn success_at(id: u64, t: Timestamp, route: &Route) -> PaymentResult {
    PaymentResult {
        id,
        time_fwd: t,
        time_reply: t,
        route: route.clone(),
        failure: None,
    }
}

pub fn failure_at(
    id: u64,
    t: Timestamp,
    route: &Route,
    source_index: Option<u8>,
    message: Option<FailureCode>,
) -> PaymentResult {
    PaymentResult {
        id,
        time_fwd: t,
        time_reply: t,
        route: route.clone(),
        failure: Some(PaymentFailure { source_index, message }),
    }
}

/// A pair record written as the spec's tables write it:
/// (SuccessAmt, SuccessTime, FailAmt, FailTime), `None` for the zero time.
pub fn rec(
    success_amt: u64,
    success_time: Option<Timestamp>,
    fail_amt: u64,
    fail_time: Option<Timestamp>,
) -> TimedPairResult {
    TimedPairResult {
        fail_time: fail_time.unwrap_or(Timestamp::ZERO),
        fail_amt_msat: Msat(fail_amt),
        success_time: success_time.unwrap_or(Timestamp::ZERO),
        success_amt_msat: Msat(success_amt),
    }
}

/// Every failure code the crate knows, found through the public wire-code
/// mapping so that a new variant cannot be forgotten.
pub fn all_failure_codes() -> Vec<FailureCode> {
    (0..=u16::MAX).filter_map(FailureCode::from_wire_code).collect()
}
