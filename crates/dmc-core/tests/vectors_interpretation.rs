//! Spec §2 and §6: result interpretation.
//!
//! * The 26 cases of LND's `result_interpretation_test.go` (the §6 list is a
//!   subset), each written out literally: full pair-result map, node
//!   failure, final failure reason and policy failure.
//! * Every §2.3 row: each failure code (and an undecodable message) at each
//!   position class, for routes of 1 to 4 hops, against an oracle built
//!   from the spec's primitives (§2.1) and its table.
//! * §2.4 blinded routes.

mod common;

use std::collections::BTreeMap;

use common::*;
use dmc_core::interpret::{interpret, Interpretation};
use dmc_core::{DirectedPair, FailureCode, FailureReason, NodeId, PairResult, PaymentResult, Route, Timestamp};

// ---------------------------------------------------------------------------
// Routes of LND's test: hops[i] = Vertex{1, i}, total 100, 99/97/94/90.
// ---------------------------------------------------------------------------

fn v(i: u8) -> NodeId {
    vertex(&[1, i])
}

fn plain_route(n: usize) -> Route {
    let amts = [99, 97, 94, 90];
    route(
        v(0),
        100,
        &(1..=n).map(|i| (v(i as u8), amts[i - 1])).collect::<Vec<_>>(),
    )
}

/// A route from v(0) over hops `(amt_to_forward, has_blinding_point)`.
fn blinded_route(hops: &[(u64, bool)]) -> Route {
    Route {
        source: v(0),
        total_amt_msat: Msat(100),
        hops: hops
            .iter()
            .enumerate()
            .map(|(i, (amt, b))| hop(i as u64 + 1, v(i as u8 + 1), *amt, *b))
            .collect(),
    }
}

/// Clear hop, blinded introduction, blinded hop, receiver 77.
fn blinded_multi_hop() -> Route {
    blinded_route(&[(99, false), (0, true), (0, false), (77, false)])
}

fn blinded_single_hop() -> Route {
    blinded_route(&[(99, false), (0, true), (88, false)])
}

fn blinded_multi_to_introduction() -> Route {
    blinded_route(&[(0, true), (0, false), (58, false)])
}

fn blinded_intro_receiver() -> Route {
    blinded_route(&[(95, false), (90, true)])
}

/// Three clear hops, then the introduction node (index 4), then the
/// receiver: introIdx = 4 = n − 1.
fn blinded_long() -> Route {
    blinded_route(&[(99, false), (97, false), (94, false), (0, true), (80, false)])
}

fn run(rt: &Route, failure: Option<(Option<u8>, Option<FailureCode>)>) -> Interpretation {
    let t = Timestamp::from_unix_secs(1);
    let result: PaymentResult = match failure {
        None => success_at(0, t, rt),
        Some((idx, msg)) => failure_at(0, t, rt, idx, msg),
    };
    result.validate().expect("valid test result");
    interpret(&result)
}

// ---------------------------------------------------------------------------
// Literal expectations for LND's cases.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum R {
    S(u64),
    F(u64),
}

fn expect(
    pairs: &[(u8, u8, R)],
    node_failure: Option<u8>,
    reason: Option<FailureReason>,
    policy: Option<(u8, u8)>,
) -> Interpretation {
    Interpretation {
        node_failure: node_failure.map(v),
        pair_results: pairs
            .iter()
            .map(|(a, b, r)| {
                let r = match r {
                    R::S(x) => PairResult::success(Msat(*x)),
                    R::F(x) => PairResult::failure(Msat(*x)),
                };
                (DirectedPair::new(v(*a), v(*b)), r)
            })
            .collect(),
        final_failure_reason: reason,
        policy_failure: policy.map(|(a, b)| DirectedPair::new(v(a), v(b))),
    }
}

use FailureCode::*;
use R::{F, S};

const ERR: Option<FailureReason> = Some(FailureReason::Error);
const DETAILS: Option<FailureReason> = Some(FailureReason::IncorrectPaymentDetails);

#[test]
fn lnd_fail_temporary_channel_failure() {
    // §6: TemporaryChannelFailure at p = 1 on 2 hops.
    let got = run(&plain_route(2), Some((Some(1), Some(TemporaryChannelFailure))));
    assert_eq!(got, expect(&[(0, 1, S(100)), (1, 2, F(99))], None, None, None));
}

#[test]
fn lnd_fail_expiry_too_soon() {
    // §6: ExpiryTooSoon at p = 3 on 4 hops.
    let got = run(&plain_route(4), Some((Some(3), Some(ExpiryTooSoon))));
    let want = expect(
        &[
            (0, 1, F(0)),
            (1, 0, F(0)),
            (1, 2, F(0)),
            (2, 1, F(0)),
            (2, 3, F(0)),
            (3, 2, F(0)),
        ],
        None,
        None,
        None,
    );
    assert_eq!(got, want);
}

#[test]
fn lnd_fail_incorrect_details() {
    // §6: IncorrectDetails from the final node of 2 hops.
    let got = run(&plain_route(2), Some((Some(2), Some(IncorrectOrUnknownPaymentDetails))));
    assert_eq!(got, expect(&[(0, 1, S(100)), (1, 2, S(99))], None, DETAILS, None));
}

#[test]
fn lnd_success_direct() {
    let got = run(&plain_route(1), None);
    assert_eq!(got, expect(&[(0, 1, S(100))], None, None, None));
}

#[test]
fn lnd_success_two_hops() {
    let got = run(&plain_route(2), None);
    assert_eq!(got, expect(&[(0, 1, S(100)), (1, 2, S(99))], None, None, None));
}

#[test]
fn lnd_fail_malformed_htlc_from_direct_peer() {
    // §6: InvalidOnionKey at p = 0 on 2 hops.
    let got = run(&plain_route(2), Some((Some(0), Some(InvalidOnionKey))));
    let want = expect(
        &[(1, 0, F(0)), (1, 2, F(0)), (0, 1, F(0)), (2, 1, F(0))],
        Some(1),
        None,
        None,
    );
    assert_eq!(got, want);
}

#[test]
fn lnd_fail_malformed_htlc_from_direct_final_peer() {
    let got = run(&plain_route(1), Some((Some(0), Some(InvalidOnionKey))));
    let want = expect(&[(1, 0, F(0)), (0, 1, F(0))], Some(1), ERR, None);
    assert_eq!(got, want);
}

#[test]
fn lnd_fail_fee_insufficient_intermediate() {
    // §6: FeeInsufficient at p = 2 on 4 hops.
    let got = run(&plain_route(4), Some((Some(2), Some(FeeInsufficient))));
    let want = expect(&[(0, 1, S(100)), (1, 2, F(0)), (2, 1, F(0))], None, None, Some((2, 3)));
    assert_eq!(got, want);
}

#[test]
fn lnd_fail_invalid_onion_payload_final_hop_four() {
    // §6: InvalidOnionPayload at the final hop of 4.
    let got = run(&plain_route(4), Some((Some(4), Some(InvalidOnionPayload))));
    let want = expect(
        &[(0, 1, S(100)), (1, 2, S(99)), (2, 3, S(97)), (4, 3, F(0)), (3, 4, F(0))],
        Some(4),
        ERR,
        None,
    );
    assert_eq!(got, want);
}

#[test]
fn lnd_fail_invalid_onion_payload_final_hop_three() {
    let got = run(&plain_route(3), Some((Some(3), Some(InvalidOnionPayload))));
    let want = expect(
        &[(0, 1, S(100)), (1, 2, S(99)), (3, 2, F(0)), (2, 3, F(0))],
        Some(3),
        ERR,
        None,
    );
    assert_eq!(got, want);
}

#[test]
fn lnd_fail_invalid_onion_payload_intermediate() {
    let got = run(&plain_route(4), Some((Some(3), Some(InvalidOnionPayload))));
    let want = expect(
        &[
            (0, 1, S(100)),
            (1, 2, S(99)),
            (3, 2, F(0)),
            (3, 4, F(0)),
            (2, 3, F(0)),
            (4, 3, F(0)),
        ],
        Some(3),
        None,
        None,
    );
    assert_eq!(got, want);
}

#[test]
fn lnd_fail_invalid_onion_payload_direct() {
    let got = run(&plain_route(1), Some((Some(1), Some(InvalidOnionPayload))));
    let want = expect(&[(1, 0, F(0)), (0, 1, F(0))], Some(1), ERR, None);
    assert_eq!(got, want);
}

#[test]
fn lnd_one_hop_mpp_timeout() {
    // §6: MPPTimeout on 1 hop: successes only.
    let got = run(&plain_route(1), Some((Some(1), Some(MppTimeout))));
    assert_eq!(got, expect(&[(0, 1, S(100))], None, None, None));
}

#[test]
fn lnd_two_hop_mpp_timeout() {
    // §6: MPPTimeout on 2 hops.
    let got = run(&plain_route(2), Some((Some(2), Some(MppTimeout))));
    assert_eq!(got, expect(&[(0, 1, S(100)), (1, 2, S(99))], None, None, None));
}

#[test]
fn lnd_two_hop_channel_disabled() {
    // §6: ChannelDisabled at p = 1 on 2 hops.
    let got = run(&plain_route(2), Some((Some(1), Some(ChannelDisabled))));
    let want = expect(&[(1, 2, F(0)), (2, 1, F(0)), (0, 1, S(100))], None, None, Some((1, 2)));
    assert_eq!(got, want);
}

#[test]
fn lnd_error_after_introduction() {
    let got = run(&blinded_multi_to_introduction(), Some((Some(2), Some(ExpiryTooSoon))));
    let want = expect(
        &[(0, 1, F(0)), (1, 0, F(0)), (1, 2, F(0)), (2, 1, F(0))],
        Some(1),
        None,
        None,
    );
    assert_eq!(got, want);
}

#[test]
fn lnd_final_failure_expected_intro() {
    let got = run(&blinded_multi_hop(), Some((Some(4), Some(InvalidOnionBlinding))));
    let want = expect(
        &[(0, 1, S(100)), (1, 2, F(0)), (2, 1, F(0)), (2, 3, F(0)), (3, 2, F(0))],
        Some(2),
        ERR,
        None,
    );
    assert_eq!(got, want);
}

#[test]
fn lnd_blinded_multi_hop_introduction() {
    let got = run(&blinded_multi_hop(), Some((Some(2), Some(InvalidOnionBlinding))));
    let want = expect(&[(0, 1, S(100)), (1, 2, S(99)), (3, 4, F(77))], None, None, None);
    assert_eq!(got, want);
}

#[test]
fn lnd_blinded_multi_hop_introduction_peer() {
    let got = run(
        &blinded_multi_to_introduction(),
        Some((Some(1), Some(InvalidOnionBlinding))),
    );
    let want = expect(&[(0, 1, S(100)), (2, 3, F(58))], None, None, None);
    assert_eq!(got, want);
}

#[test]
fn lnd_blinded_single_hop_introduction_failure() {
    let got = run(&blinded_single_hop(), Some((Some(2), Some(InvalidOnionBlinding))));
    let want = expect(&[(0, 1, S(100)), (1, 2, S(99))], None, ERR, None);
    assert_eq!(got, want);
}

#[test]
fn lnd_error_before_introduction() {
    let got = run(&blinded_multi_hop(), Some((Some(1), Some(InvalidOnionBlinding))));
    let want = expect(
        &[(0, 1, F(0)), (1, 0, F(0)), (1, 2, F(0)), (2, 1, F(0))],
        Some(1),
        None,
        None,
    );
    assert_eq!(got, want);
}

#[test]
fn lnd_intermediate_unexpected_blinding() {
    let got = run(&plain_route(3), Some((Some(2), Some(InvalidOnionBlinding))));
    let want = expect(
        &[(0, 1, S(100)), (1, 2, F(0)), (2, 1, F(0)), (2, 3, F(0)), (3, 2, F(0))],
        Some(2),
        None,
        None,
    );
    assert_eq!(got, want);
}

#[test]
fn lnd_peer_unexpected_blinding() {
    let got = run(&plain_route(3), Some((Some(1), Some(InvalidOnionBlinding))));
    let want = expect(
        &[(0, 1, F(0)), (1, 0, F(0)), (1, 2, F(0)), (2, 1, F(0))],
        Some(1),
        None,
        None,
    );
    assert_eq!(got, want);
}

#[test]
fn lnd_final_node_unexpected_blinding() {
    let got = run(&plain_route(3), Some((Some(3), Some(InvalidOnionBlinding))));
    let want = expect(
        &[(0, 1, S(100)), (1, 2, S(99)), (2, 3, F(0)), (3, 2, F(0))],
        Some(3),
        ERR,
        None,
    );
    assert_eq!(got, want);
}

#[test]
fn lnd_final_node_intro_blinding() {
    let got = run(&blinded_intro_receiver(), Some((Some(2), Some(InvalidOnionBlinding))));
    let want = expect(&[(0, 1, S(100)), (1, 2, F(0)), (2, 1, F(0))], Some(2), ERR, None);
    assert_eq!(got, want);
}

#[test]
fn lnd_blinded_multi_hop_success() {
    let got = run(&blinded_multi_to_introduction(), None);
    let want = expect(&[(0, 1, S(100)), (1, 2, S(58)), (2, 3, S(58))], None, None, None);
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------
// Oracle: the spec's §2.1 primitives and §2.3/§2.4 tables.
// ---------------------------------------------------------------------------

struct Oracle<'a> {
    rt: &'a Route,
    i: Interpretation,
}

impl<'a> Oracle<'a> {
    fn new(rt: &'a Route) -> Self {
        Oracle {
            rt,
            i: Interpretation {
                pair_results: BTreeMap::new(),
                ..Default::default()
            },
        }
    }

    fn n(&self) -> usize {
        self.rt.hops.len()
    }

    /// Node at position k (0 = source).
    fn at(&self, k: usize) -> NodeId {
        if k == 0 {
            self.rt.source
        } else {
            self.rt.hops[k - 1].pub_key
        }
    }

    /// Pair c and the amount carried on it.
    fn pair(&self, c: usize) -> (DirectedPair, Msat) {
        let amt = if c == 0 {
            self.rt.total_amt_msat
        } else {
            self.rt.hops[c - 1].amt_to_forward_msat
        };
        (DirectedPair::new(self.at(c), self.at(c + 1)), amt)
    }

    fn success(&mut self, c: usize) {
        let (p, amt) = self.pair(c);
        self.i.pair_results.insert(p, PairResult::success(amt));
    }

    fn success_range(&mut self, a: isize, b: isize) {
        for c in a..=b {
            self.success(c as usize);
        }
    }

    fn fail_pair(&mut self, c: usize) {
        let (p, _) = self.pair(c);
        self.i.pair_results.insert(p, PairResult::failure(Msat(0)));
        self.i.pair_results.insert(p.reverse(), PairResult::failure(Msat(0)));
    }

    fn fail_pair_range(&mut self, a: usize, b: usize) {
        for c in a..=b {
            self.fail_pair(c);
        }
    }

    fn fail_pair_balance(&mut self, c: usize) {
        let (p, amt) = self.pair(c);
        self.i.pair_results.insert(p, PairResult::failure(amt));
    }

    fn fail_node(&mut self, k: usize) {
        self.i.node_failure = Some(self.at(k));
        self.fail_pair(k - 1);
        if k < self.n() {
            self.fail_pair(k);
        }
    }

    fn reason(&mut self, r: FailureReason) {
        self.i.final_failure_reason = Some(r);
    }

    fn policy(&mut self, p: usize) {
        self.i.policy_failure = Some(DirectedPair::new(self.at(p), self.at(p + 1)));
    }

    fn intro(&self) -> Option<usize> {
        self.rt.hops.iter().position(|h| h.has_blinding_point).map(|i| i + 1)
    }

    fn done(self) -> Interpretation {
        self.i
    }
}

/// §2.3, unknown source (no index).
fn expected_unknown(rt: &Route) -> Interpretation {
    let mut o = Oracle::new(rt);
    let n = o.n();
    if n == 1 {
        o.fail_node(1);
        o.reason(FailureReason::Error);
    } else {
        o.fail_pair_range(0, n - 1);
    }
    o.done()
}

/// §2.3, p = 0.
fn expected_self(rt: &Route, msg: Option<FailureCode>) -> Interpretation {
    let mut o = Oracle::new(rt);
    if matches!(msg, Some(InvalidOnionVersion | InvalidOnionHmac | InvalidOnionKey)) {
        o.fail_node(1);
        if o.n() == 1 {
            o.reason(FailureReason::Error);
        }
    }
    o.done()
}

/// §2.3, p = n (non-blinded, or blinded with introIdx ≥ n).
fn expected_final(rt: &Route, msg: Option<FailureCode>) -> Interpretation {
    let mut o = Oracle::new(rt);
    let n = o.n();
    let n_i = n as isize;
    let fail_final_node = |o: &mut Oracle| {
        o.fail_node(n);
        o.success_range(0, n_i - 2);
        o.reason(FailureReason::Error);
    };
    match msg {
        Some(FinalIncorrectCltvExpiry | FinalIncorrectHtlcAmount) => {
            if n == 1 {
                o.fail_node(1);
                o.reason(FailureReason::Error);
            } else {
                o.fail_pair(n - 1);
                o.success_range(0, n_i - 2);
            }
        }
        Some(IncorrectPaymentAmount | IncorrectOrUnknownPaymentDetails) => {
            o.success_range(0, n_i - 1);
            o.reason(FailureReason::IncorrectPaymentDetails);
        }
        Some(FinalExpiryTooSoon) => o.reason(FailureReason::IncorrectPaymentDetails),
        Some(MppTimeout) => o.success_range(0, n_i - 1),
        // InvalidOnionBlinding and everything else, undecodable included.
        None
        | Some(
            InvalidOnionBlinding
            | InvalidRealm
            | TemporaryNodeFailure
            | PermanentNodeFailure
            | RequiredNodeFeatureMissing
            | InvalidOnionVersion
            | InvalidOnionHmac
            | InvalidOnionKey
            | TemporaryChannelFailure
            | PermanentChannelFailure
            | RequiredChannelFeatureMissing
            | UnknownNextPeer
            | AmountBelowMinimum
            | FeeInsufficient
            | IncorrectCltvExpiry
            | ExpiryTooSoon
            | ChannelDisabled
            | ExpiryTooFar
            | InvalidOnionPayload,
        ) => fail_final_node(&mut o),
    }
    o.done()
}

/// §2.3, 1 ≤ p < n, with §2.4's intermediate InvalidBlinding rule.
fn expected_intermediate(rt: &Route, p: usize, msg: Option<FailureCode>) -> Interpretation {
    let mut o = Oracle::new(rt);
    let n = o.n();
    let p_i = p as isize;
    let outgoing = |o: &mut Oracle| o.fail_pair(p);
    let incoming = |o: &mut Oracle| {
        if p == 1 {
            o.fail_node(1);
        } else {
            o.fail_pair(p - 1);
            o.success_range(0, p_i - 2);
        }
    };
    let node = |o: &mut Oracle| {
        o.fail_node(p);
        o.success_range(0, p_i - 2);
    };
    let all = |o: &mut Oracle| {
        if p == 1 {
            o.fail_node(1);
        } else {
            o.fail_pair_range(0, p - 1);
        }
    };
    match msg {
        Some(InvalidOnionVersion | InvalidOnionHmac | InvalidOnionKey) => outgoing(&mut o),
        Some(InvalidOnionPayload) => node(&mut o),
        Some(UnknownNextPeer | PermanentChannelFailure) => outgoing(&mut o),
        Some(ChannelDisabled) => {
            outgoing(&mut o);
            o.success_range(0, p_i - 1);
            o.policy(p);
        }
        Some(AmountBelowMinimum | FeeInsufficient | IncorrectCltvExpiry) => {
            incoming(&mut o);
            o.policy(p);
        }
        Some(TemporaryChannelFailure) => {
            o.fail_pair_balance(p);
            o.success_range(0, p_i - 1);
        }
        Some(ExpiryTooSoon) => all(&mut o),
        Some(InvalidOnionBlinding) => match o.intro() {
            Some(intro) if p >= intro => {
                o.success_range(0, intro as isize - 1);
                if intro == n - 1 {
                    o.reason(FailureReason::Error);
                } else {
                    let (last, _) = o.pair(n - 1);
                    let receiver_amt = rt.hops[n - 1].amt_to_forward_msat;
                    o.i.pair_results.insert(last, PairResult::failure(receiver_amt));
                }
            }
            _ => node(&mut o),
        },
        None
        | Some(
            InvalidRealm
            | TemporaryNodeFailure
            | PermanentNodeFailure
            | RequiredNodeFeatureMissing
            | RequiredChannelFeatureMissing
            | IncorrectOrUnknownPaymentDetails
            | IncorrectPaymentAmount
            | FinalExpiryTooSoon
            | FinalIncorrectCltvExpiry
            | FinalIncorrectHtlcAmount
            | MppTimeout
            | ExpiryTooFar,
        ) => o.fail_node(p),
    }
    o.done()
}

/// §2.4, an error from p > introIdx.
fn expected_bad_intro(rt: &Route, p: usize) -> Interpretation {
    let mut o = Oracle::new(rt);
    let intro = o.intro().expect("blinded");
    o.fail_node(intro);
    if intro > 1 {
        o.success_range(0, intro as isize - 2);
    }
    if p == o.n() {
        o.reason(FailureReason::Error);
    }
    o.done()
}

/// §2.2/§2.4 success.
fn expected_success(rt: &Route) -> Interpretation {
    let mut o = Oracle::new(rt);
    let n = o.n();
    match o.intro() {
        None => o.success_range(0, n as isize - 1),
        Some(intro) => {
            o.success_range(0, intro as isize - 1);
            let receiver_amt = rt.hops[n - 1].amt_to_forward_msat;
            for c in intro..n {
                let (pair, _) = o.pair(c);
                o.i.pair_results.insert(pair, PairResult::success(receiver_amt));
            }
        }
    }
    o.done()
}

/// All codes plus `None` (a message that could not be decoded).
fn all_messages() -> Vec<Option<FailureCode>> {
    let codes = all_failure_codes();
    assert_eq!(codes.len(), 25, "every BOLT 4 code the spec names");
    std::iter::once(None).chain(codes.into_iter().map(Some)).collect()
}

fn describe(rt: &Route, idx: Option<u8>, msg: Option<FailureCode>) -> String {
    format!(
        "n={} idx={idx:?} msg={}",
        rt.hops.len(),
        msg.map_or("undecodable".to_string(), |m| m.name().to_string())
    )
}

// ---------------------------------------------------------------------------
// §2.2 / §2.3 matrix tests
// ---------------------------------------------------------------------------

#[test]
fn success_every_route_length() {
    for n in 1..=4 {
        let rt = plain_route(n);
        let got = run(&rt, None);
        assert_eq!(got, expected_success(&rt), "n={n}");
        assert_eq!(got.pair_results.len(), n);
    }
}

#[test]
fn unknown_source_single_hop_fails_node() {
    let rt = plain_route(1);
    let want = expect(&[(0, 1, F(0)), (1, 0, F(0))], Some(1), ERR, None);
    assert_eq!(expected_unknown(&rt), want, "oracle");
    for msg in all_messages() {
        // A message without a source index is still "unknown source".
        let got = run(&rt, Some((None, msg)));
        assert_eq!(got, want, "{}", describe(&rt, None, msg));
    }
}

#[test]
fn unknown_source_multi_hop_fails_every_pair_both_ways() {
    let literal = expect(
        &[
            (0, 1, F(0)),
            (1, 0, F(0)),
            (1, 2, F(0)),
            (2, 1, F(0)),
            (2, 3, F(0)),
            (3, 2, F(0)),
        ],
        None,
        None,
        None,
    );
    assert_eq!(expected_unknown(&plain_route(3)), literal, "oracle");
    for n in 2..=4 {
        let rt = plain_route(n);
        for msg in [None, Some(TemporaryChannelFailure)] {
            let got = run(&rt, Some((None, msg)));
            assert_eq!(got, expected_unknown(&rt), "{}", describe(&rt, None, msg));
            assert_eq!(got.pair_results.len(), 2 * n);
        }
    }
}

#[test]
fn self_source_invalid_onion_fails_peer_node() {
    for code in [InvalidOnionVersion, InvalidOnionHmac, InvalidOnionKey] {
        for n in 1..=4 {
            let rt = plain_route(n);
            let got = run(&rt, Some((Some(0), Some(code))));
            assert_eq!(
                got,
                expected_self(&rt, Some(code)),
                "{}",
                describe(&rt, Some(0), Some(code))
            );
            assert_eq!(got.node_failure, Some(v(1)));
            assert_eq!(got.final_failure_reason, if n == 1 { ERR } else { None });
        }
    }
}

#[test]
fn self_source_anything_else_records_nothing() {
    for msg in all_messages() {
        if matches!(msg, Some(InvalidOnionVersion | InvalidOnionHmac | InvalidOnionKey)) {
            continue;
        }
        for n in 1..=3 {
            let rt = plain_route(n);
            let got = run(&rt, Some((Some(0), msg)));
            assert_eq!(got, Interpretation::default(), "{}", describe(&rt, Some(0), msg));
        }
    }
}

#[test]
fn final_hop_every_code_every_length() {
    for n in 1..=4 {
        let rt = plain_route(n);
        for msg in all_messages() {
            let got = run(&rt, Some((Some(n as u8), msg)));
            assert_eq!(got, expected_final(&rt, msg), "{}", describe(&rt, Some(n as u8), msg));
        }
    }
}

#[test]
fn final_hop_rows_spot_checks() {
    // Literal checks of the oracle's final-hop rows on 3 hops.
    let rt = plain_route(3);
    let cltv = expect(
        &[(0, 1, S(100)), (1, 2, S(99)), (2, 3, F(0)), (3, 2, F(0))],
        None,
        None,
        None,
    );
    assert_eq!(run(&rt, Some((Some(3), Some(FinalIncorrectCltvExpiry)))), cltv);
    assert_eq!(run(&rt, Some((Some(3), Some(FinalIncorrectHtlcAmount)))), cltv);
    let rt1 = plain_route(1);
    assert_eq!(
        run(&rt1, Some((Some(1), Some(FinalIncorrectHtlcAmount)))),
        expect(&[(0, 1, F(0)), (1, 0, F(0))], Some(1), ERR, None)
    );
    assert_eq!(
        run(&rt, Some((Some(3), Some(FinalExpiryTooSoon)))),
        expect(&[], None, DETAILS, None)
    );
    assert_eq!(
        run(&rt, Some((Some(3), Some(IncorrectPaymentAmount)))),
        expect(&[(0, 1, S(100)), (1, 2, S(99)), (2, 3, S(97))], None, DETAILS, None)
    );
    let else_row = expect(
        &[(0, 1, S(100)), (1, 2, S(99)), (2, 3, F(0)), (3, 2, F(0))],
        Some(3),
        ERR,
        None,
    );
    for msg in [
        None,
        Some(TemporaryChannelFailure),
        Some(UnknownNextPeer),
        Some(FeeInsufficient),
        Some(ExpiryTooSoon),
        Some(ChannelDisabled),
        Some(TemporaryNodeFailure),
        Some(InvalidOnionHmac),
    ] {
        assert_eq!(run(&rt, Some((Some(3), msg))), else_row, "{msg:?}");
    }
}

#[test]
fn intermediate_every_code_every_position() {
    for n in 2..=4 {
        let rt = plain_route(n);
        for p in 1..n {
            for msg in all_messages() {
                let got = run(&rt, Some((Some(p as u8), msg)));
                assert_eq!(
                    got,
                    expected_intermediate(&rt, p, msg),
                    "{}",
                    describe(&rt, Some(p as u8), msg)
                );
                assert_eq!(got.final_failure_reason, None, "no intermediate reason");
            }
        }
    }
}

#[test]
fn intermediate_rows_spot_checks() {
    // Literal checks of the oracle's intermediate rows on 4 hops, p = 2.
    let rt = plain_route(4);
    let at2 = |msg| run(&rt, Some((Some(2), Some(msg))));
    let outgoing = expect(&[(2, 3, F(0)), (3, 2, F(0))], None, None, None);
    for code in [
        InvalidOnionVersion,
        InvalidOnionHmac,
        InvalidOnionKey,
        UnknownNextPeer,
        PermanentChannelFailure,
    ] {
        assert_eq!(at2(code), outgoing, "{code}");
    }
    assert_eq!(
        at2(ChannelDisabled),
        expect(
            &[(0, 1, S(100)), (1, 2, S(99)), (2, 3, F(0)), (3, 2, F(0))],
            None,
            None,
            Some((2, 3))
        )
    );
    for code in [AmountBelowMinimum, IncorrectCltvExpiry] {
        assert_eq!(
            at2(code),
            expect(&[(0, 1, S(100)), (1, 2, F(0)), (2, 1, F(0))], None, None, Some((2, 3))),
            "{code}"
        );
    }
    assert_eq!(
        at2(TemporaryChannelFailure),
        expect(&[(0, 1, S(100)), (1, 2, S(99)), (2, 3, F(97))], None, None, None)
    );
    assert_eq!(
        at2(ExpiryTooSoon),
        expect(
            &[(0, 1, F(0)), (1, 0, F(0)), (1, 2, F(0)), (2, 1, F(0))],
            None,
            None,
            None
        )
    );
    let node_row = expect(
        &[(0, 1, S(100)), (1, 2, F(0)), (2, 1, F(0)), (2, 3, F(0)), (3, 2, F(0))],
        Some(2),
        None,
        None,
    );
    assert_eq!(at2(InvalidOnionPayload), node_row);
    assert_eq!(at2(InvalidOnionBlinding), node_row);
    // "Anything else": the node fails without success for the pairs before.
    let bare_node = expect(
        &[(1, 2, F(0)), (2, 1, F(0)), (2, 3, F(0)), (3, 2, F(0))],
        Some(2),
        None,
        None,
    );
    for code in [
        TemporaryNodeFailure,
        PermanentNodeFailure,
        RequiredNodeFeatureMissing,
        RequiredChannelFeatureMissing,
        IncorrectOrUnknownPaymentDetails,
        MppTimeout,
        ExpiryTooFar,
    ] {
        assert_eq!(at2(code), bare_node, "{code}");
    }
    assert_eq!(run(&rt, Some((Some(2), None))), bare_node, "undecodable");
}

#[test]
fn intermediate_policy_failures_at_peer_fail_the_peer_node() {
    // "incoming" with p = 1 is a node failure of our peer.
    let rt = plain_route(3);
    for code in [AmountBelowMinimum, FeeInsufficient, IncorrectCltvExpiry] {
        let got = run(&rt, Some((Some(1), Some(code))));
        let want = expect(
            &[(0, 1, F(0)), (1, 0, F(0)), (1, 2, F(0)), (2, 1, F(0))],
            Some(1),
            None,
            Some((1, 2)),
        );
        assert_eq!(got, want, "{code}");
    }
}

// ---------------------------------------------------------------------------
// §2.4 blinded routes
// ---------------------------------------------------------------------------

fn blinded_routes() -> Vec<Route> {
    vec![
        blinded_multi_hop(),
        blinded_single_hop(),
        blinded_multi_to_introduction(),
        blinded_intro_receiver(),
        blinded_long(),
    ]
}

#[test]
fn blinded_success_uses_receiver_amount_after_introduction() {
    for rt in blinded_routes() {
        assert_eq!(run(&rt, None), expected_success(&rt), "n={}", rt.hops.len());
    }
    // Literal: three clear pairs at their amounts, then intro → receiver at
    // the receiver amount 80.
    assert_eq!(
        run(&blinded_long(), None),
        expect(
            &[
                (0, 1, S(100)),
                (1, 2, S(99)),
                (2, 3, S(97)),
                (3, 4, S(94)),
                (4, 5, S(80)),
            ],
            None,
            None,
            None
        )
    );
}

#[test]
fn blinded_error_after_introduction_blames_introduction_node() {
    for rt in blinded_routes() {
        let n = rt.hops.len();
        let intro = rt.hops.iter().position(|h| h.has_blinding_point).unwrap() + 1;
        for p in intro + 1..=n {
            for msg in all_messages() {
                let got = run(&rt, Some((Some(p as u8), msg)));
                assert_eq!(got, expected_bad_intro(&rt, p), "{}", describe(&rt, Some(p as u8), msg));
            }
        }
    }
    // Literal: the long route, error from the receiver (p = 5 > 4).
    assert_eq!(
        run(&blinded_long(), Some((Some(5), Some(MppTimeout)))),
        expect(
            &[
                (0, 1, S(100)),
                (1, 2, S(99)),
                (2, 3, S(97)),
                (3, 4, F(0)),
                (4, 3, F(0)),
                (4, 5, F(0)),
                (5, 4, F(0)),
            ],
            Some(4),
            ERR,
            None
        )
    );
}

#[test]
fn blinded_up_to_introduction_follows_the_normal_tables() {
    // Positions 0..=introIdx use the ordinary §2.3 rows, with §2.4's
    // InvalidBlinding rule at p = introIdx.
    for rt in blinded_routes() {
        let n = rt.hops.len();
        let intro = rt.hops.iter().position(|h| h.has_blinding_point).unwrap() + 1;
        for msg in all_messages() {
            assert_eq!(
                run(&rt, Some((Some(0), msg))),
                expected_self(&rt, msg),
                "{}",
                describe(&rt, Some(0), msg)
            );
            for p in 1..=intro.min(n) {
                let got = run(&rt, Some((Some(p as u8), msg)));
                let want = if p == n {
                    expected_final(&rt, msg)
                } else {
                    expected_intermediate(&rt, p, msg)
                };
                assert_eq!(got, want, "{}", describe(&rt, Some(p as u8), msg));
            }
        }
    }
}

#[test]
fn blinded_invalid_blinding_literals() {
    let rt = blinded_long();
    // Before the introduction node (p = 2 < 4): the "node" action.
    assert_eq!(
        run(&rt, Some((Some(2), Some(InvalidOnionBlinding)))),
        expect(
            &[(0, 1, S(100)), (1, 2, F(0)), (2, 1, F(0)), (2, 3, F(0)), (3, 2, F(0))],
            Some(2),
            None,
            None
        )
    );
    // At the introduction node with introIdx = n − 1: successes up to it,
    // reason Error, nothing penalised.
    assert_eq!(
        run(&rt, Some((Some(4), Some(InvalidOnionBlinding)))),
        expect(
            &[(0, 1, S(100)), (1, 2, S(99)), (2, 3, S(97)), (3, 4, S(94))],
            None,
            ERR,
            None
        )
    );
}
