//! Interpretation of HTLC attempt outcomes (spec §2, LND's
//! `result_interpretation.go`).
//!
//! An attempt either settled or failed with an error from some position on
//! the route. Position 0 is ourselves, `n` the final hop, `1..n` the
//! forwarding nodes; an unreadable error has no position. From the failure
//! type and position, interpretation derives which pairs succeeded, which
//! failed (and at what amount), whether a whole node failed, whether the
//! payment must stop, and whether this is a policy failure that deserves a
//! second chance.

use std::collections::BTreeMap;
use std::fmt;

use crate::amount::Msat;
use crate::node::{DirectedPair, NodeId};
use crate::state::PairResult;
use crate::time::Timestamp;

/// One hop of a route as mission control records it (LND's `mcHop`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    /// Short channel id of the channel into this hop.
    pub chan_id: u64,
    /// The node this hop reaches.
    pub pub_key: NodeId,
    /// Amount this hop forwards on its outgoing channel, msat: the amount of
    /// the pair that leaves it (§2.1); at the final hop, what the receiver
    /// gets. Zero on blinded intermediate hops.
    pub amt_to_forward_msat: Msat,
    /// The hop carries a blinding point: the first such hop marks the
    /// introduction node of a blinded route (§2.4).
    pub has_blinding_point: bool,
    /// The hop carries custom TLV records; persisted, not interpreted.
    pub has_custom_records: bool,
}

/// A route as mission control records it (LND's `mcRoute`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The sender, position 0.
    pub source: NodeId,
    /// Amount the sender puts on its first channel (fees included), msat;
    /// the amount of pair 0 (§2.1).
    pub total_amt_msat: Msat,
    /// Positions `1..=n`: hop `k-1` is position `k`.
    pub hops: Vec<Hop>,
}

impl Route {
    /// Pair `c` (from position c to c+1) and the amount it carried.
    fn pair(&self, c: usize) -> (DirectedPair, Msat) {
        let to = self.hops[c].pub_key;
        if c == 0 {
            (DirectedPair::new(self.source, to), self.total_amt_msat)
        } else {
            let prev = &self.hops[c - 1];
            (DirectedPair::new(prev.pub_key, to), prev.amt_to_forward_msat)
        }
    }

    /// `(introIdx, true)` for a blinded route: one past the first hop with a
    /// blinding point.
    fn introduction_index(&self) -> Option<usize> {
        self.hops.iter().position(|h| h.has_blinding_point).map(|i| i + 1)
    }
}

/// BOLT 4 onion failure codes, as `lnwire` decodes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureCode {
    /// `PERM|1`: the processing node did not understand the realm byte.
    InvalidRealm,
    /// `NODE|2`: the node is temporarily unable to forward.
    TemporaryNodeFailure,
    /// `PERM|NODE|2`: the node will never forward.
    PermanentNodeFailure,
    /// `PERM|NODE|3`: the node requires a feature the onion lacks.
    RequiredNodeFeatureMissing,
    /// `BADONION|PERM|4`: the processing node did not understand the onion's
    /// version byte.
    InvalidOnionVersion,
    /// `BADONION|PERM|5`: the onion's HMAC was wrong when it arrived.
    InvalidOnionHmac,
    /// `BADONION|PERM|6`: the processing node could not parse the onion's
    /// ephemeral key.
    InvalidOnionKey,
    /// `UPDATE|7`: the outgoing channel cannot carry the amount now; a
    /// balance failure (§2.3 `failPairBalance`).
    TemporaryChannelFailure,
    /// `PERM|8`: the outgoing channel is gone.
    PermanentChannelFailure,
    /// `PERM|9`: the outgoing channel requires a feature the onion lacks.
    RequiredChannelFeatureMissing,
    /// `PERM|10`: the node has no channel to the requested next hop.
    UnknownNextPeer,
    /// `UPDATE|11`: below the channel's `htlc_minimum_msat`; a policy
    /// failure (§1.5).
    AmountBelowMinimum,
    /// `UPDATE|12`: the fee paid is below the channel's policy; a policy
    /// failure (§1.5).
    FeeInsufficient,
    /// `UPDATE|13`: the CLTV delta does not match the policy; a policy
    /// failure (§1.5).
    IncorrectCltvExpiry,
    /// `UPDATE|14`: the HTLC's expiry is too close to the current block height.
    ExpiryTooSoon,
    /// `PERM|15`: the final node does not know the payment hash, or the secret,
    /// amount or expiry is wrong.
    IncorrectOrUnknownPaymentDetails,
    /// `16` (legacy): the final node rejected the amount.
    IncorrectPaymentAmount,
    /// `17` (legacy): the final CLTV expiry is too soon.
    FinalExpiryTooSoon,
    /// `18`: the final CLTV does not match the onion's.
    FinalIncorrectCltvExpiry,
    /// `19`: the HTLC's amount at the final node is less than the onion's.
    FinalIncorrectHtlcAmount,
    /// `UPDATE|20`: the outgoing channel is disabled; a policy failure (§1.5).
    ChannelDisabled,
    /// `21`: the HTLC's expiry is too far in the future.
    ExpiryTooFar,
    /// `PERM|22`: the node could not parse its onion payload.
    InvalidOnionPayload,
    /// `23`: the receiver timed out waiting for all parts of a multi-part
    /// payment.
    MppTimeout,
    /// `BADONION|PERM|24`: a failure inside a blinded route (§2.4).
    InvalidOnionBlinding,
}

const BADONION: u16 = 0x8000;
const PERM: u16 = 0x4000;
const NODE: u16 = 0x2000;
const UPDATE: u16 = 0x1000;

/// (code, wire value, name as lncli prints it)
const CODES: &[(FailureCode, u16, &str)] = {
    use FailureCode::*;
    &[
        (InvalidRealm, PERM | 1, "INVALID_REALM"),
        (TemporaryNodeFailure, NODE | 2, "TEMPORARY_NODE_FAILURE"),
        (PermanentNodeFailure, PERM | NODE | 2, "PERMANENT_NODE_FAILURE"),
        (
            RequiredNodeFeatureMissing,
            PERM | NODE | 3,
            "REQUIRED_NODE_FEATURE_MISSING",
        ),
        (InvalidOnionVersion, BADONION | PERM | 4, "INVALID_ONION_VERSION"),
        (InvalidOnionHmac, BADONION | PERM | 5, "INVALID_ONION_HMAC"),
        (InvalidOnionKey, BADONION | PERM | 6, "INVALID_ONION_KEY"),
        (TemporaryChannelFailure, UPDATE | 7, "TEMPORARY_CHANNEL_FAILURE"),
        (PermanentChannelFailure, PERM | 8, "PERMANENT_CHANNEL_FAILURE"),
        (
            RequiredChannelFeatureMissing,
            PERM | 9,
            "REQUIRED_CHANNEL_FEATURE_MISSING",
        ),
        (UnknownNextPeer, PERM | 10, "UNKNOWN_NEXT_PEER"),
        (AmountBelowMinimum, UPDATE | 11, "AMOUNT_BELOW_MINIMUM"),
        (FeeInsufficient, UPDATE | 12, "FEE_INSUFFICIENT"),
        (IncorrectCltvExpiry, UPDATE | 13, "INCORRECT_CLTV_EXPIRY"),
        (ExpiryTooSoon, UPDATE | 14, "EXPIRY_TOO_SOON"),
        (
            IncorrectOrUnknownPaymentDetails,
            PERM | 15,
            "INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS",
        ),
        (IncorrectPaymentAmount, 16, "INCORRECT_PAYMENT_AMOUNT"),
        (FinalExpiryTooSoon, 17, "FINAL_EXPIRY_TOO_SOON"),
        (FinalIncorrectCltvExpiry, 18, "FINAL_INCORRECT_CLTV_EXPIRY"),
        (FinalIncorrectHtlcAmount, 19, "FINAL_INCORRECT_HTLC_AMOUNT"),
        (ChannelDisabled, UPDATE | 20, "CHANNEL_DISABLED"),
        (ExpiryTooFar, 21, "EXPIRY_TOO_FAR"),
        (InvalidOnionPayload, PERM | 22, "INVALID_ONION_PAYLOAD"),
        (MppTimeout, 23, "MPP_TIMEOUT"),
        (InvalidOnionBlinding, BADONION | PERM | 24, "INVALID_ONION_BLINDING"),
    ]
};

impl FailureCode {
    /// The BOLT 4 wire code, flags included.
    pub fn wire_code(self) -> u16 {
        CODES.iter().find(|c| c.0 == self).map(|c| c.1).unwrap_or(0)
    }

    /// The code with this BOLT 4 wire value (flags included); `None` for a
    /// code LND's interpretation does not know.
    pub fn from_wire_code(code: u16) -> Option<Self> {
        CODES.iter().find(|c| c.1 == code).map(|c| c.0)
    }

    /// Upper snake case, as lncli prints failure codes.
    pub fn name(self) -> &'static str {
        CODES.iter().find(|c| c.0 == self).map(|c| c.2).unwrap_or("UNKNOWN")
    }

    /// Accepts the upper-snake name (any case, `-` or `_`), or the wire
    /// code in decimal or `0x` hex.
    pub fn parse(s: &str) -> Option<Self> {
        let norm = s.trim().to_ascii_uppercase().replace('-', "_");
        if let Some(c) = CODES.iter().find(|c| c.2 == norm) {
            return Some(c.0);
        }
        let code = match norm.strip_prefix("0X") {
            Some(hex) => u16::from_str_radix(hex, 16).ok()?,
            None => norm.parse().ok()?,
        };
        Self::from_wire_code(code)
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a payment must stop (LND's `paymentsdb.FailureReason`, subset that
/// mission control produces).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureReason {
    /// `FAILURE_REASON_ERROR` (2).
    Error,
    /// `FAILURE_REASON_INCORRECT_PAYMENT_DETAILS` (3).
    IncorrectPaymentDetails,
}

impl FailureReason {
    /// The `lnrpc.PaymentFailureReason` enum name, as lncli prints it.
    pub fn name(self) -> &'static str {
        match self {
            FailureReason::Error => "FAILURE_REASON_ERROR",
            FailureReason::IncorrectPaymentDetails => "FAILURE_REASON_INCORRECT_PAYMENT_DETAILS",
        }
    }
}

/// The failure of an attempt as reported to mission control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentFailure {
    /// Position of the node that sent the error; `None`: unreadable.
    pub source_index: Option<u8>,
    /// The decoded failure; `None`: the message could not be decoded.
    pub message: Option<FailureCode>,
}

/// A raw attempt outcome, what LND persists (LND's `paymentResult`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentResult {
    /// The HTLC attempt id.
    pub id: u64,
    /// When the HTLC was sent (`timeFwd`); today LND sets it to the report
    /// time, like `time_reply` (§1.1).
    pub time_fwd: Timestamp,
    /// When the outcome arrived (`timeReply`): the timestamp every pair
    /// update of this result carries (§1.6), and the first part of the
    /// store key (§1.7).
    pub time_reply: Timestamp,
    /// The route the attempt took.
    pub route: Route,
    /// `None` means the attempt succeeded.
    pub failure: Option<PaymentFailure>,
}

/// Why a payment result cannot be interpreted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// The route is empty.
    NoHops,
    /// The failure's source index is greater than the hop count `n`.
    SourceIndexBeyondRoute {
        /// The reported source index.
        index: u8,
        /// The route's hop count.
        hops: usize,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::NoHops => write!(f, "route: has no hops"),
            RouteError::SourceIndexBeyondRoute { index, hops } => {
                write!(f, "failure source_index: {index} is beyond the route's {hops} hops")
            }
        }
    }
}

impl std::error::Error for RouteError {}

impl PaymentResult {
    /// Checks what LND takes for granted (it would panic on these).
    pub fn validate(&self) -> Result<(), RouteError> {
        let n = self.route.hops.len();
        if n == 0 {
            return Err(RouteError::NoHops);
        }
        if let Some(PaymentFailure {
            source_index: Some(i), ..
        }) = self.failure
        {
            if i as usize > n {
                return Err(RouteError::SourceIndexBeyondRoute { index: i, hops: n });
            }
        }
        Ok(())
    }
}

/// What an attempt outcome means for mission control.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interpretation {
    /// The node `failNode` blamed: every known pair touching it is reset
    /// to a fresh amount-independent failure (§1.4).
    pub node_failure: Option<NodeId>,
    /// The result to apply to each pair (Go's `pairResults`). Ordered so
    /// application is deterministic; LND's is an unordered map
    /// of distinct pairs, so order does not change the outcome.
    pub pair_results: BTreeMap<DirectedPair, PairResult>,
    /// Set when the payment must stop (Go's `finalFailureReason`); `None`
    /// lets it retry.
    pub final_failure_reason: Option<FailureReason>,
    /// The pair whose policy failure may get a second chance.
    pub policy_failure: Option<DirectedPair>,
}

impl Interpretation {
    fn success_range(&mut self, rt: &Route, from: usize, to: isize) {
        for c in from as isize..=to {
            let (pair, amt) = rt.pair(c as usize);
            self.pair_results.insert(pair, PairResult::success(amt));
        }
    }

    fn fail_pair(&mut self, rt: &Route, c: usize) {
        let (pair, _) = rt.pair(c);
        self.pair_results.insert(pair, PairResult::failure(Msat::ZERO));
        self.pair_results
            .insert(pair.reverse(), PairResult::failure(Msat::ZERO));
    }

    fn fail_pair_range(&mut self, rt: &Route, from: usize, to: usize) {
        (from..=to).for_each(|c| self.fail_pair(rt, c));
    }

    fn fail_pair_balance(&mut self, rt: &Route, c: usize) {
        let (pair, amt) = rt.pair(c);
        self.pair_results.insert(pair, PairResult::failure(amt));
    }

    /// Node at position `k` failed: its incoming pair and, unless it is the
    /// final hop, its outgoing pair fail in both directions.
    fn fail_node(&mut self, rt: &Route, k: usize) {
        self.node_failure = Some(rt.hops[k - 1].pub_key);
        self.fail_pair(rt, k - 1);
        if k < rt.hops.len() {
            self.fail_pair(rt, k);
        }
    }
}

/// Interprets one attempt outcome. The result must have passed
/// [`PaymentResult::validate`].
pub fn interpret(result: &PaymentResult) -> Interpretation {
    let rt = &result.route;
    let mut i = Interpretation::default();
    match result.failure {
        None => process_success(&mut i, rt),
        Some(PaymentFailure { source_index: None, .. }) => process_unknown(&mut i, rt),
        Some(PaymentFailure {
            source_index: Some(idx),
            message,
        }) => {
            let idx = idx as usize;
            match rt.introduction_index() {
                Some(intro) if intro < idx => process_bad_intro(&mut i, rt, intro, idx),
                _ if idx == 0 => process_self(&mut i, rt, message),
                _ if idx == rt.hops.len() => process_final(&mut i, rt, message),
                _ => process_intermediate(&mut i, rt, idx, message),
            }
        }
    }
    i
}

fn process_success(i: &mut Interpretation, rt: &Route) {
    let n = rt.hops.len();
    match rt.introduction_index() {
        Some(intro) => {
            i.success_range(rt, 0, intro as isize - 1);
            // Blinded hops carry amount 0; the receiver amount stands in.
            let receiver_amt = rt.hops[n - 1].amt_to_forward_msat;
            for c in intro..n {
                let (pair, _) = rt.pair(c);
                i.pair_results.insert(pair, PairResult::success(receiver_amt));
            }
        }
        None => i.success_range(rt, 0, n as isize - 1),
    }
}

fn process_unknown(i: &mut Interpretation, rt: &Route) {
    let n = rt.hops.len();
    if n == 1 {
        i.fail_node(rt, 1);
        i.final_failure_reason = Some(FailureReason::Error);
    } else {
        i.fail_pair_range(rt, 0, n - 1);
    }
}

fn process_bad_intro(i: &mut Interpretation, rt: &Route, intro: usize, idx: usize) {
    i.fail_node(rt, intro);
    if intro > 1 {
        i.success_range(rt, 0, intro as isize - 2);
    }
    if idx == rt.hops.len() {
        i.final_failure_reason = Some(FailureReason::Error);
    }
}

fn process_self(i: &mut Interpretation, rt: &Route, msg: Option<FailureCode>) {
    use FailureCode::*;
    if let Some(InvalidOnionVersion | InvalidOnionHmac | InvalidOnionKey) = msg {
        i.fail_node(rt, 1);
        if rt.hops.len() == 1 {
            i.final_failure_reason = Some(FailureReason::Error);
        }
    }
    // Anything else from our own link records nothing; the payment retries.
}

fn process_final(i: &mut Interpretation, rt: &Route, msg: Option<FailureCode>) {
    use FailureCode::*;
    let n = rt.hops.len();
    match msg {
        Some(FinalIncorrectCltvExpiry | FinalIncorrectHtlcAmount) => {
            if n == 1 {
                i.fail_node(rt, n);
                i.final_failure_reason = Some(FailureReason::Error);
            } else {
                i.fail_pair(rt, n - 1);
                i.success_range(rt, 0, n as isize - 2);
            }
        }
        Some(IncorrectPaymentAmount | IncorrectOrUnknownPaymentDetails) => {
            i.success_range(rt, 0, n as isize - 1);
            i.final_failure_reason = Some(FailureReason::IncorrectPaymentDetails);
        }
        Some(FinalExpiryTooSoon) => {
            i.final_failure_reason = Some(FailureReason::IncorrectPaymentDetails);
        }
        Some(MppTimeout) => i.success_range(rt, 0, n as isize - 1),
        _ => {
            i.fail_node(rt, n);
            if n > 1 {
                i.success_range(rt, 0, n as isize - 2);
            }
            i.final_failure_reason = Some(FailureReason::Error);
        }
    }
}

fn process_intermediate(i: &mut Interpretation, rt: &Route, p: usize, msg: Option<FailureCode>) {
    use FailureCode::*;
    let report_outgoing = |i: &mut Interpretation| i.fail_pair(rt, p);
    let report_incoming = |i: &mut Interpretation| {
        if p == 1 {
            i.fail_node(rt, p);
        } else {
            i.fail_pair(rt, p - 1);
            i.success_range(rt, 0, p as isize - 2);
        }
    };
    let report_node = |i: &mut Interpretation| {
        i.fail_node(rt, p);
        i.success_range(rt, 0, p as isize - 2);
    };
    let policy_pair = DirectedPair::new(rt.hops[p - 1].pub_key, rt.hops[p].pub_key);
    match msg {
        Some(InvalidOnionVersion | InvalidOnionHmac | InvalidOnionKey) => report_outgoing(i),
        Some(InvalidOnionPayload) => report_node(i),
        Some(UnknownNextPeer | PermanentChannelFailure) => report_outgoing(i),
        Some(ChannelDisabled) => {
            i.policy_failure = Some(policy_pair);
            report_outgoing(i);
            i.success_range(rt, 0, p as isize - 1);
        }
        Some(AmountBelowMinimum | FeeInsufficient | IncorrectCltvExpiry) => {
            i.policy_failure = Some(policy_pair);
            report_incoming(i);
        }
        Some(TemporaryChannelFailure) => {
            i.fail_pair_balance(rt, p);
            i.success_range(rt, 0, p as isize - 1);
        }
        Some(ExpiryTooSoon) => {
            if p == 1 {
                i.fail_node(rt, p);
            } else {
                i.fail_pair_range(rt, 0, p - 1);
            }
        }
        Some(InvalidOnionBlinding) => match rt.introduction_index() {
            Some(intro) if p >= intro => {
                i.success_range(rt, 0, intro as isize - 1);
                let n = rt.hops.len();
                if intro == n - 1 {
                    i.final_failure_reason = Some(FailureReason::Error);
                } else {
                    let (pair, _) = rt.pair(n - 1);
                    let amt = rt.hops[n - 1].amt_to_forward_msat;
                    i.pair_results.insert(pair, PairResult::failure(amt));
                }
            }
            _ => report_node(i),
        },
        _ => i.fail_node(rt, p),
    }
}
