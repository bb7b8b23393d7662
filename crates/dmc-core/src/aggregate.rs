//! How a coordinator combines what several reporters saw.
//!
//! Every reporter keeps its own record per pair, merged with LND's import
//! rules ([`merge_observation`], spec §3), so one reporter's relax interval
//! never drops another's real failure, and one reporter counts once however
//! many requests it sends. The record a wallet downloads is [`aggregate`]:
//! weighted quantiles of the reporters' claims with a quorum, bounded by the
//! channel graph and passed through [`servable`]. The model, its threat
//! model and its parameters are in ARCHITECTURE.md ("Robust aggregation");
//! the reputation rule that scales an established reporter's weight is
//! [`crate::reputation`]. Because the aggregate is a pure function of the
//! per-reporter records and the [`Standing`], removing a reporter and
//! recomputing gives the aggregate as if it had never reported.

use crate::amount::Msat;
use crate::node::DirectedPair;
use crate::rpc::PairHistory;
use crate::state::{import_carried_slots, PairSnapshot, TimedPairResult};
use crate::time::{DurationNs, Timestamp};
use crate::NodeId;
use std::fmt;

/// Who reported an observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reporter {
    /// A node key that signed the registration (v2).
    Node(NodeId),
    /// Unsigned (v1) registrations from one source address (IPv6, IPv4
    /// as v4-mapped IPv6).
    Anonymous([u8; 16]),
    /// Unsigned registrations stored before source addresses were told
    /// apart; counted as one anonymous reporter.
    Unattributed,
}

/// Why [`Reporter::parse`] refused its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReporterError {
    /// `anonymous:` followed by this, which is not an IP address.
    NotAnAddress(String),
    /// Neither a node key nor one of the other two forms.
    NotAReporter {
        /// At most 70 characters of the text.
        shown: String,
        /// Why it is not a node key.
        key_error: crate::node::NodeIdError,
    },
}

impl fmt::Display for ReporterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReporterError::NotAnAddress(addr) => write!(f, "anonymous:{addr}: not an IP address"),
            ReporterError::NotAReporter { shown, key_error } => {
                write!(
                    f,
                    "{shown:?}: not a node key, anonymous:ADDRESS or unattributed ({key_error})"
                )
            }
        }
    }
}

impl std::error::Error for ReporterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReporterError::NotAReporter { key_error, .. } => Some(key_error),
            ReporterError::NotAnAddress(_) => None,
        }
    }
}

impl Reporter {
    /// An anonymous reporter for a source address.
    pub fn anonymous(addr: std::net::IpAddr) -> Self {
        let v6 = match addr {
            std::net::IpAddr::V4(a) => a.to_ipv6_mapped(),
            std::net::IpAddr::V6(a) => a,
        };
        Reporter::Anonymous(v6.octets())
    }

    /// 33 bytes: the node key; `00 01` and the address for anonymous; all
    /// zeros for unattributed (a node key starts with 02 or 03).
    pub fn to_bytes(&self) -> [u8; 33] {
        match self {
            Reporter::Node(n) => n.0,
            Reporter::Anonymous(a) => {
                let mut b = [0; 33];
                b[1] = 1;
                b[2..18].copy_from_slice(a);
                b
            }
            Reporter::Unattributed => [0; 33],
        }
    }

    /// The inverse of [`Reporter::to_bytes`]: a non-zero first byte is a
    /// node key, `00 01` an address, anything else unattributed.
    pub fn from_bytes(b: &[u8; 33]) -> Self {
        if b[0] != 0 {
            Reporter::Node(NodeId(*b))
        } else if b[1] == 1 {
            let mut a = [0; 16];
            a.copy_from_slice(&b[2..18]);
            Reporter::Anonymous(a)
        } else {
            Reporter::Unattributed
        }
    }

    /// The forms `dmc admin` takes: a node key in hex, `anonymous:ADDRESS`
    /// or `unattributed`.
    pub fn parse(s: &str) -> Result<Reporter, ReporterError> {
        let s = s.trim();
        if s == "unattributed" {
            return Ok(Reporter::Unattributed);
        }
        if let Some(addr) = s.strip_prefix("anonymous:") {
            return addr
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .map(Reporter::anonymous)
                .map_err(|_| ReporterError::NotAnAddress(addr.to_string()));
        }
        NodeId::from_hex(s)
            .map(Reporter::Node)
            .map_err(|e| ReporterError::NotAReporter {
                shown: s.chars().take(70).collect(),
                key_error: e,
            })
    }

    /// The signing key, for signed reporters.
    pub fn key(&self) -> Option<&NodeId> {
        match self {
            Reporter::Node(n) => Some(n),
            _ => None,
        }
    }
}

impl std::fmt::Display for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reporter::Node(n) => write!(f, "{n}"),
            Reporter::Anonymous(a) => {
                let v6 = std::net::Ipv6Addr::from(*a);
                match v6.to_ipv4_mapped() {
                    Some(v4) => write!(f, "anonymous {v4}"),
                    None => write!(f, "anonymous {v6}"),
                }
            }
            Reporter::Unattributed => f.write_str("unattributed"),
        }
    }
}

/// The newest time in a record (zero time if it holds none).
pub fn newest_time(r: &TimedPairResult) -> Timestamp {
    r.fail_time.max(r.success_time)
}

/// The largest amount a served record holds: all the bitcoin there will
/// ever be (21 million BTC) in msat. Anything above is meaningless, and
/// bounding here keeps LND's `success + 1` from wrapping and every amount
/// inside an `int64`.
pub const MAX_MSAT: Msat = Msat(21_000_000 * 100_000_000 * 1000);

/// An observation as the coordinator accepts it: no time after it was
/// received (a reporter cannot stamp its news ahead of everyone else's),
/// no amount above [`MAX_MSAT`].
pub fn bounded_observation(obs: &TimedPairResult, received: Timestamp) -> TimedPairResult {
    let time = |t: Timestamp| if t.after(received) { received } else { t };
    TimedPairResult {
        fail_time: time(obs.fail_time),
        fail_amt_msat: obs.fail_amt_msat.min(MAX_MSAT),
        success_time: time(obs.success_time),
        success_amt_msat: obs.success_amt_msat.min(MAX_MSAT),
    }
}

/// Merges a reporter's new observation, received at `received`, into its
/// record (LND's import rules, `force` off, for the slots it carries, after
/// [`bounded_observation`]).
/// Returns the new record, or `None` if nothing changed.
pub fn merge_observation(
    current: Option<&TimedPairResult>,
    incoming: &TimedPairResult,
    received: Timestamp,
    min_failure_relax_interval: DurationNs,
) -> Option<TimedPairResult> {
    let mut rec = current.copied().unwrap_or_default();
    let incoming = bounded_observation(incoming, received);
    // LND's import also applies an *empty* slot, which wipes a stored
    // success (spec §3.2, "success wipe"); a reporter's record must not lose
    // what it reported earlier.
    let outcome = import_carried_slots(&mut rec, &incoming, min_failure_relax_interval);
    (outcome.applied && current != Some(&rec)).then_some(rec)
}

/// A record as LND's `XImportMissionControl` accepts it (spec §3.1), or
/// `None` if it carries nothing LND would import. One unimportable pair
/// makes LND refuse a whole `loadmc` file, so the served aggregate is
/// always passed through here:
/// * a success needs both a time and an amount; a slot with only one is dropped;
/// * a failure with no time carries no amount;
/// * a record with neither a success nor a failure of non-zero amount is not served
///   (LND refuses a pair whose both amounts are 0);
/// * where both are set, the failure amount stays above the success amount;
/// * amounts stay at most [`MAX_MSAT`] + 1, inside an `int64`.
pub fn servable(r: &TimedPairResult) -> Option<TimedPairResult> {
    let mut out = *r;
    out.success_amt_msat = out.success_amt_msat.min(MAX_MSAT);
    out.fail_amt_msat = out.fail_amt_msat.min(MAX_MSAT.saturating_add(Msat(1)));
    if out.success_time.is_zero() || out.success_amt_msat == Msat::ZERO {
        out.success_time = Timestamp::ZERO;
        out.success_amt_msat = Msat::ZERO;
    }
    if out.fail_time.is_zero() {
        out.fail_amt_msat = Msat::ZERO;
    }
    let has_success = !out.success_time.is_zero();
    if !has_success && out.fail_amt_msat == Msat::ZERO {
        return None;
    }
    if has_success && out.fail_amt_msat != Msat::ZERO && out.success_amt_msat >= out.fail_amt_msat {
        // The success is at most MAX_MSAT: no overflow.
        out.fail_amt_msat = out.success_amt_msat.saturating_add(Msat(1));
    }
    Some(out)
}

/// How much a reporter's word counts (ARCHITECTURE.md, "Robust aggregation").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReporterClass {
    /// A signed key that is a node of the graph with enough public capacity.
    Established,
    /// Any other signed key: free to create, so all of a pair's share one weight.
    Unverified,
    /// Unsigned registrations, one reporter per source address; all of a
    /// pair's share one weight.
    Anonymous,
}

/// The weight of each class. An established reporter's weight is also
/// scaled by its reputation; the unverified and anonymous weights are each
/// shared by all reporters of that class on a pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassWeights {
    /// Weight of each established reporter at reputation 1 (default 1.0).
    pub established: f64,
    /// Weight all unverified reporters of a pair share (default 0.1).
    pub unverified: f64,
    /// Weight all anonymous reporters of a pair share (default 0.01).
    pub anonymous: f64,
}

impl Default for ClassWeights {
    fn default() -> Self {
        ClassWeights {
            established: 1.0,
            unverified: 0.1,
            anonymous: 0.01,
        }
    }
}

/// The aggregation's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AggregationParams {
    /// Weight of each reporter class.
    pub weights: ClassWeights,
    /// Share of a pair's weight that must back a served amount (½: a
    /// minority cannot move it outside what the majority reported).
    pub quorum: f64,
    /// A pair is served only when its reporters weigh at least this (1.0:
    /// one established reporter in good standing; 0 serves any weight).
    pub min_serving_weight: f64,
    /// A failure is served only when reporters weighing at least this
    /// many times `min_serving_weight` back it (2: two established
    /// reporters in good standing; see ARCHITECTURE.md, "Robust
    /// aggregation", for why failures and not successes).
    pub failure_corroboration: f64,
}

impl Default for AggregationParams {
    fn default() -> Self {
        AggregationParams {
            weights: ClassWeights::default(),
            quorum: 0.5,
            min_serving_weight: 1.0,
            failure_corroboration: 2.0,
        }
    }
}

/// What the coordinator's channel graph says about a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelCheck {
    /// No graph (`--graph none`): nothing is checked.
    Unchecked,
    /// No channel between the two nodes: the pair is not served.
    NoChannel,
    /// The largest capacity of the channels between them, in msat (0: unknown).
    Capacity(Msat),
}

/// What the coordinator knows about reporters and channels, for weighing
/// and bounding claims.
pub trait Standing {
    /// The reporter's class, which sets its base weight.
    fn class(&self, reporter: &Reporter) -> ReporterClass;
    /// The reputation factor in [0, 1] ([`crate::reputation`]); 1 for a
    /// reporter never found lying.
    fn reputation(&self, reporter: &Reporter) -> f64;
    /// What the graph says about the pair's channel.
    fn channel(&self, pair: &DirectedPair) -> ChannelCheck;
}

/// No graph and no reputations: every signed key is established, every
/// unsigned one anonymous, no channel is checked.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ungraphed;

impl Standing for Ungraphed {
    fn class(&self, reporter: &Reporter) -> ReporterClass {
        match reporter {
            Reporter::Node(_) => ReporterClass::Established,
            _ => ReporterClass::Anonymous,
        }
    }
    fn reputation(&self, _: &Reporter) -> f64 {
        1.0
    }
    fn channel(&self, _: &DirectedPair) -> ChannelCheck {
        ChannelCheck::Unchecked
    }
}

/// What the coordinator's graph says: who is established, which channels
/// exist. The graph half of a [`Standing`]; reputations are the other half
/// ([`WithReputations`]).
pub trait GraphStanding: Send + Sync {
    /// A signed key that is a node of the graph with enough public capacity.
    fn is_established(&self, key: &NodeId) -> bool;
    /// The channels between the pair's nodes, as [`Standing::channel`]
    /// reports them.
    fn channel(&self, pair: &DirectedPair) -> ChannelCheck;
}

impl GraphStanding for Ungraphed {
    fn is_established(&self, _: &NodeId) -> bool {
        true
    }
    fn channel(&self, _: &DirectedPair) -> ChannelCheck {
        ChannelCheck::Unchecked
    }
}

/// A [`Standing`] from a graph and the stored reputations (a signed key
/// without one has score 1).
pub struct WithReputations<'a> {
    /// Classes signed keys and checks channels.
    pub graph: &'a dyn GraphStanding,
    /// Stored reputations of signed keys ([`crate::reputation`]).
    pub reputations: &'a std::collections::HashMap<NodeId, crate::reputation::Reputation>,
}

impl Standing for WithReputations<'_> {
    fn class(&self, reporter: &Reporter) -> ReporterClass {
        match reporter {
            Reporter::Node(k) if self.graph.is_established(k) => ReporterClass::Established,
            Reporter::Node(_) => ReporterClass::Unverified,
            _ => ReporterClass::Anonymous,
        }
    }
    fn reputation(&self, reporter: &Reporter) -> f64 {
        reporter
            .key()
            .and_then(|k| self.reputations.get(k))
            .map_or(1.0, |r| r.score)
    }
    fn channel(&self, pair: &DirectedPair) -> ChannelCheck {
        self.graph.channel(pair)
    }
}

/// One reporter's record of a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    /// Who reported.
    pub reporter: Reporter,
    /// Its record of the pair, all its observations merged with LND's
    /// import rules ([`merge_observation`]).
    pub record: TimedPairResult,
}

/// The served record of one pair and who backs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aggregate {
    /// The record served for the pair: quorum-backed quantiles of the
    /// reporters' claims, bounded by the channel's capacity and passed
    /// through [`servable`].
    pub result: TimedPairResult,
    /// Distinct established reporters of the pair.
    pub established: u32,
    /// Distinct unverified reporters of the pair.
    pub unverified: u32,
    /// Distinct anonymous reporters of the pair.
    pub anonymous: u32,
    /// The pair's total weight.
    pub weight: f64,
    /// The newest time in `result`.
    pub newest: Timestamp,
}

/// Why a pair with records is not served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Held {
    /// The graph has no channel between its nodes.
    NoChannel,
    /// Its reporters weigh less than the serving threshold.
    Unbacked,
    /// The combination holds nothing LND would import.
    Unservable,
}

/// A pair's verdict: served, or held with the reason.
pub type Verdict = Result<Aggregate, Held>;

/// A reporter's claims after the graph's bounds: the success amount (0:
/// none) and the failure amount (`None`: none), with their times.
#[derive(Clone, Copy, Debug)]
struct Claim {
    weight: f64,
    success: Msat,
    success_time: Timestamp,
    failure: Option<Msat>,
    fail_time: Timestamp,
}

fn claim(r: &TimedPairResult, weight: f64, capacity: Msat) -> Claim {
    let r = bounded_observation(r, Timestamp::from_raw(i128::MAX));
    let mut success = if r.success_time.is_zero() {
        Msat::ZERO
    } else {
        r.success_amt_msat
    };
    // A zero-amount failure is dropped by LND's import; it supports nothing.
    let mut failure = (!r.fail_time.is_zero() && r.fail_amt_msat > Msat::ZERO).then_some(r.fail_amt_msat);
    if capacity > Msat::ZERO {
        success = success.min(capacity);
        failure = failure.filter(|f| *f <= capacity);
    }
    // A reporter's own success at or above its own failure resolves as
    // LND's import does (the newer wins, a tie to the failure), so its
    // success never outlives its newer failure when the failure alone is
    // not served (`failure_corroboration`).
    let mut success_time = r.success_time;
    if let Some(f) = failure.filter(|f| success >= *f) {
        if r.fail_time >= r.success_time {
            // f > 0: no wrap.
            success = f.wrapping_sub(Msat(1));
            if success == Msat::ZERO {
                success_time = Timestamp::ZERO;
            }
        } else {
            failure = None;
        }
    }
    Claim {
        weight,
        success,
        success_time,
        failure,
        fail_time: r.fail_time,
    }
}

/// Each view's weight (0 for reporters that do not count) and the class counts.
fn weigh(views: &[View], standing: &dyn Standing, w: &ClassWeights) -> (Vec<f64>, [u32; 3]) {
    let reporters: Vec<Reporter> = views.iter().map(|v| v.reporter).collect();
    weigh_reporters(&reporters, standing, w)
}

/// The weight of each of one pair's reporters (0 for reporters that do not
/// count) and the class counts: the rule [`aggregate`] applies, shared with
/// the liquidity model ([`crate::liquidity`]).
pub fn weigh_reporters(reporters: &[Reporter], standing: &dyn Standing, w: &ClassWeights) -> (Vec<f64>, [u32; 3]) {
    let classes: Vec<ReporterClass> = reporters.iter().map(|r| standing.class(r)).collect();
    let mut counts = [0u32; 3];
    for c in &classes {
        counts[*c as usize] += 1;
    }
    let weights = reporters
        .iter()
        .zip(&classes)
        .map(|(r, c)| {
            let share = match c {
                ReporterClass::Established => w.established * standing.reputation(r),
                ReporterClass::Unverified => w.unverified * standing.reputation(r) / f64::from(counts[1]),
                ReporterClass::Anonymous => w.anonymous / f64::from(counts[2]),
            };
            if share.is_finite() && share > 0.0 {
                share
            } else {
                0.0
            }
        })
        .collect();
    (weights, counts)
}

/// `a ≥ b` up to rounding of sums of weights.
fn reaches(a: f64, b: f64) -> bool {
    a >= b - 1e-9 * b.abs().max(1e-9)
}

/// `a > b` beyond rounding of sums of weights.
fn exceeds(a: f64, b: f64) -> bool {
    a > b + 1e-9 * b.abs().max(1e-9)
}

/// The weighted quantiles of [`Claim`]s (ARCHITECTURE.md): the record their
/// quorum backs, before [`servable`].
fn combine(claims: &[Claim], quorum: f64, min_failure_backing: f64) -> TimedPairResult {
    let total: f64 = claims.iter().map(|c| c.weight).sum();
    let need = quorum * total;
    let need_failure = need.max(min_failure_backing);
    let mut out = TimedPairResult::default();
    if total <= 0.0 {
        return out;
    }
    // The latest time that backers weighing more than `need` (successes)
    // or at least `need_failure` (failures) all reach.
    let quorum_time = |mut backers: Vec<(Timestamp, f64)>, strict: bool| {
        backers.sort_by_key(|b| std::cmp::Reverse(b.0));
        let mut acc = 0.0;
        for (t, w) in &backers {
            acc += w;
            if if strict {
                exceeds(acc, need)
            } else {
                reaches(acc, need_failure)
            } {
                return *t;
            }
        }
        backers.last().map_or(Timestamp::ZERO, |b| b.0)
    };
    let mut successes: Vec<(Msat, f64)> = claims
        .iter()
        .filter(|c| c.success > Msat::ZERO && c.weight > 0.0)
        .map(|c| (c.success, c.weight))
        .collect();
    successes.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut acc = 0.0;
    // A success needs more than the quorum: at an exact tie the lower
    // amount is served (a wallet pays for an optimistic success with a
    // failed HTLC), while a failure at a tie is served (it costs a detour).
    if let Some(&(s, _)) = successes.iter().find(|(_, w)| {
        acc += w;
        exceeds(acc, need)
    }) {
        out.success_amt_msat = s;
        out.success_time = quorum_time(
            claims
                .iter()
                .filter(|c| c.success >= s && c.weight > 0.0)
                .map(|c| (c.success_time, c.weight))
                .collect(),
            true,
        );
    }
    let mut failures: Vec<(Msat, f64)> = claims
        .iter()
        .filter(|c| c.weight > 0.0)
        .filter_map(|c| c.failure.map(|f| (f, c.weight)))
        .collect();
    failures.sort_by_key(|f| f.0);
    let mut acc = 0.0;
    if let Some(&(f, _)) = failures.iter().find(|(_, w)| {
        acc += w;
        reaches(acc, need_failure)
    }) {
        out.fail_amt_msat = f;
        out.fail_time = quorum_time(
            claims
                .iter()
                .filter(|c| c.weight > 0.0 && c.failure.is_some_and(|x| x <= f))
                .map(|c| (c.fail_time, c.weight))
                .collect(),
            false,
        );
    }
    // A success at or above the failure: the newer wins, as LND's import
    // resolves it; a tie goes to the failure.
    if out.success_amt_msat > Msat::ZERO && out.fail_amt_msat > Msat::ZERO && out.success_amt_msat >= out.fail_amt_msat
    {
        if out.fail_time >= out.success_time {
            // The failure is above 0: no wrap.
            out.success_amt_msat = out.fail_amt_msat.wrapping_sub(Msat(1));
            if out.success_amt_msat == Msat::ZERO {
                out.success_time = Timestamp::ZERO;
            }
        } else {
            // Claims are bounded by MAX_MSAT: no overflow.
            out.fail_amt_msat = out.success_amt_msat.saturating_add(Msat(1));
        }
    }
    out
}

fn capacity_of(check: ChannelCheck) -> Result<Msat, Held> {
    match check {
        ChannelCheck::Unchecked => Ok(Msat::ZERO),
        ChannelCheck::NoChannel => Err(Held::NoChannel),
        ChannelCheck::Capacity(c) => Ok(c),
    }
}

/// The served record of `pair` from its reporters' `views` (see the module
/// doc and ARCHITECTURE.md). Pure and independent of the order of `views`;
/// `Err` says why a pair with records is not served.
pub fn aggregate(pair: &DirectedPair, views: &[View], standing: &dyn Standing, params: &AggregationParams) -> Verdict {
    if views.is_empty() {
        return Err(Held::Unservable);
    }
    let capacity = capacity_of(standing.channel(pair))?;
    let (weights, counts) = weigh(views, standing, &params.weights);
    let total: f64 = weights.iter().sum();
    if total <= 0.0 || !reaches(total, params.min_serving_weight) {
        return Err(Held::Unbacked);
    }
    let claims: Vec<Claim> = views
        .iter()
        .zip(&weights)
        .map(|(v, w)| claim(&v.record, *w, capacity))
        .collect();
    let min_failure_backing = params.failure_corroboration * params.min_serving_weight;
    let result = servable(&combine(&claims, params.quorum, min_failure_backing)).ok_or(Held::Unservable)?;
    Ok(Aggregate {
        result,
        established: counts[0],
        unverified: counts[1],
        anonymous: counts[2],
        weight: total,
        newest: newest_time(&result),
    })
}

/// How close in time a success and a failure must be to be set against
/// each other (1 hour, LND's apriori penalty half-life: a failure older
/// than that says little about the liquidity now). Further apart, honest
/// reporters contradict each other whenever the liquidity moved between
/// their payments, and liars stamp their claims with the time they send.
pub const COMPARABLE_WITHIN: DurationNs = DurationNs::HOUR;

/// Whether two reporters' views of one pair contradict each other:
/// `Some(true)` when one's success reaches the other's failure, `Some(false)`
/// when one's success can be set against the other's failure without
/// contradiction, `None` when nothing can be compared (two successes, two
/// failures, a success and a failure more than [`COMPARABLE_WITHIN`]
/// apart, or a pair the graph has no channel for). Claims are bounded by
/// the channel capacity as in [`aggregate`]. Symmetric.
pub fn conflict(pair_channel: ChannelCheck, a: &TimedPairResult, b: &TimedPairResult) -> Option<bool> {
    let capacity = capacity_of(pair_channel).ok()?;
    let near = |s: &TimedPairResult, f: &TimedPairResult| {
        s.success_time.sub(f.fail_time).unsigned_abs() <= COMPARABLE_WITHIN.unsigned_abs()
    };
    let (ra, rb) = (a, b);
    let (a, b) = (claim(a, 1.0, capacity), claim(b, 1.0, capacity));
    let one_way = |s: &Claim, f: &Claim, sr: &TimedPairResult, fr: &TimedPairResult| {
        (s.success > Msat::ZERO && f.failure.is_some() && near(sr, fr))
            .then(|| f.failure.is_some_and(|x| s.success >= x))
    };
    match (one_way(&a, &b, ra, rb), one_way(&b, &a, rb, ra)) {
        (None, None) => None,
        (x, y) => Some(x.unwrap_or(false) || y.unwrap_or(false)),
    }
}

/// An aggregate as the coordinator serves it (v2 `Query`, ecrpc's
/// `QueryAggregatedMissionControl`, `/v2/snapshot`): the pair as
/// `lncli querymc` prints it.
pub fn served_pair(pair: DirectedPair, result: &TimedPairResult) -> PairHistory {
    PairHistory::from_snapshot(&PairSnapshot { pair, result: *result })
}

/// A served pair's `age_seconds`: whole seconds from `newest` (the store
/// serves [`newest_time`] of the aggregate) to `now`; 0 when there is no
/// time or it lies ahead.
pub fn age_seconds(newest: Timestamp, now: Timestamp) -> i64 {
    if newest.is_zero() {
        0
    } else {
        now.sub(newest).max(DurationNs::ZERO).whole_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn succ(amt: u64, t: i64) -> TimedPairResult {
        TimedPairResult {
            success_time: Timestamp::from_unix_secs(t),
            success_amt_msat: Msat(amt),
            ..Default::default()
        }
    }

    fn fail(amt: u64, t: i64) -> TimedPairResult {
        TimedPairResult {
            fail_time: Timestamp::from_unix_secs(t),
            fail_amt_msat: Msat(amt),
            ..Default::default()
        }
    }

    const RELAX: DurationNs = DurationNs::MINUTE;
    /// A receive time after every observation in these tests.
    const LATE: Timestamp = Timestamp::from_unix_secs(4_000_000_000);

    fn node(i: u8) -> Reporter {
        let mut k = [3u8; 33];
        k[1] = i;
        Reporter::Node(NodeId(k))
    }

    fn anon(i: u8) -> Reporter {
        Reporter::anonymous(std::net::IpAddr::from([10, 0, 0, i]))
    }

    fn pair() -> DirectedPair {
        DirectedPair::new(NodeId([2; 33]), NodeId([3; 33]))
    }

    /// A standing for tests: explicit classes, reputations and capacity.
    #[derive(Default)]
    struct Fixed {
        unverified: Vec<Reporter>,
        reputation: HashMap<Reporter, f64>,
        channel: Option<ChannelCheck>,
    }

    impl Standing for Fixed {
        fn class(&self, r: &Reporter) -> ReporterClass {
            match r {
                Reporter::Node(_) if self.unverified.contains(r) => ReporterClass::Unverified,
                Reporter::Node(_) => ReporterClass::Established,
                _ => ReporterClass::Anonymous,
            }
        }
        fn reputation(&self, r: &Reporter) -> f64 {
            self.reputation.get(r).copied().unwrap_or(1.0)
        }
        fn channel(&self, _: &DirectedPair) -> ChannelCheck {
            self.channel.unwrap_or(ChannelCheck::Unchecked)
        }
    }

    fn views(v: &[(Reporter, TimedPairResult)]) -> Vec<View> {
        v.iter()
            .map(|(reporter, record)| View {
                reporter: *reporter,
                record: *record,
            })
            .collect()
    }

    fn agg(v: &[(Reporter, TimedPairResult)], st: &dyn Standing) -> Verdict {
        aggregate(&pair(), &views(v), st, &AggregationParams::default())
    }

    #[test]
    fn one_reporter_is_served_as_it_reported() {
        let both = TimedPairResult {
            fail_time: Timestamp::from_unix_secs(100),
            fail_amt_msat: Msat(9_000),
            success_time: Timestamp::from_unix_secs(110),
            success_amt_msat: Msat(5_000),
        };
        let permissive = AggregationParams {
            failure_corroboration: 1.0,
            ..Default::default()
        };
        let a = aggregate(&pair(), &views(&[(node(1), both)]), &Ungraphed, &permissive).unwrap();
        assert_eq!(a.result, both);
        assert_eq!((a.established, a.unverified, a.anonymous), (1, 0, 0));
        assert_eq!(a.newest, Timestamp::from_unix_secs(110));
        // By default its success is served and its failure waits for a
        // second reporter.
        let d = agg(&[(node(1), both)], &Ungraphed).unwrap();
        assert_eq!(
            d.result,
            TimedPairResult {
                fail_time: Timestamp::ZERO,
                fail_amt_msat: Msat(0),
                ..both
            }
        );
        let two = agg(&[(node(1), both), (node(2), both)], &Ungraphed).unwrap();
        assert_eq!(two.result, both);
    }

    #[test]
    fn a_failure_needs_a_second_reporter() {
        // One established reporter alone cannot make a pair look failing
        // (LND's node probability spreads a failure to every untried
        // channel of the node), however it stamps it.
        let lone = agg(&[(node(1), fail(1_000, 100))], &Ungraphed);
        assert_eq!(lone, Err(Held::Unservable));
        // A second one at a higher amount: both back a failure at the higher
        // amount, served with the older of their times.
        let two = agg(&[(node(1), fail(1_000, 100)), (node(2), fail(50_000, 90))], &Ungraphed).unwrap();
        assert_eq!(
            (two.result.fail_amt_msat, two.result.fail_time),
            (Msat(50_000), Timestamp::from_unix_secs(90))
        );
        // Ten anonymous sources weigh 0.01 together: no corroboration.
        let mut v = vec![(node(1), fail(1_000, 100))];
        v.extend((0..10).map(|i| (anon(i), fail(1_000, 100))));
        assert!(agg(&v, &Ungraphed).is_err_and(|h| h == Held::Unservable));
        // A reporter's own newer failure still caps its own success.
        let rec = TimedPairResult {
            fail_time: Timestamp::from_unix_secs(200),
            fail_amt_msat: Msat(3_000),
            ..succ(5_000, 100)
        };
        let a = agg(&[(node(1), rec)], &Ungraphed).unwrap();
        assert_eq!(
            (a.result.success_amt_msat, a.result.fail_amt_msat),
            (Msat(2_999), Msat(0))
        );
        // `failure_corroboration` scales with the serving threshold: 0 serves it.
        let go_like = AggregationParams {
            min_serving_weight: 0.0,
            ..Default::default()
        };
        let a = aggregate(&pair(), &views(&[(node(1), fail(1_000, 100))]), &Ungraphed, &go_like).unwrap();
        assert_eq!(a.result.fail_amt_msat, Msat(1_000));
    }

    #[test]
    fn one_liar_cannot_override_ten_honest_reporters() {
        // The repro: X succeeded at 500 000 sat for ten reporters;
        // one liar says it failed at 1 msat (and Y, failing at 100 000 sat,
        // succeeded at 9e12 msat), stamped later than all of them.
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..10 {
            x.push((node(i), succ(500_000_000, 1000 + i64::from(i))));
            y.push((node(i), fail(100_000_000, 1000 + i64::from(i))));
        }
        for liar in [node(99), anon(1)] {
            let mut xs = x.clone();
            xs.push((liar, fail(1, 1590)));
            let mut ys = y.clone();
            ys.push((liar, succ(9_000_000_000_000_000, 1590)));
            let ax = agg(&xs, &Ungraphed).unwrap().result;
            assert_eq!(
                (ax.success_amt_msat, ax.fail_amt_msat),
                (Msat(500_000_000), Msat(0)),
                "{liar:?}"
            );
            assert_eq!(
                ax.success_time,
                Timestamp::from_unix_secs(1004),
                "the quorum's time, not the liar's"
            );
            let ay = agg(&ys, &Ungraphed).unwrap().result;
            assert_eq!(
                (ay.success_amt_msat, ay.fail_amt_msat),
                (Msat(0), Msat(100_000_000)),
                "{liar:?}"
            );
            assert!(ay.success_time.is_zero());
        }
    }

    #[test]
    fn honest_disagreement_resolves_as_lnd_import_does() {
        // Two reporters, an older success above a newer failure: a tie, and
        // one reporter's failure is not corroborated. Nothing is served (at
        // a tie an optimistic success costs a failed HTLC).
        let a = agg(&[(node(1), succ(5_000, 100)), (node(2), fail(3_000, 200))], &Ungraphed);
        assert_eq!(a, Err(Held::Unservable));
        // A second failure makes it the quorum's.
        let b = agg(
            &[
                (node(1), succ(5_000, 100)),
                (node(2), fail(3_000, 200)),
                (node(3), fail(3_500, 150)),
            ],
            &Ungraphed,
        )
        .unwrap();
        assert_eq!(
            (b.result.success_amt_msat, b.result.fail_amt_msat),
            (Msat(0), Msat(3_500))
        );
        // Three: the success two back, no failure (only one of three saw it).
        let c = agg(
            &[
                (node(1), succ(5_000, 100)),
                (node(2), succ(4_000, 90)),
                (node(3), fail(3_000, 200)),
            ],
            &Ungraphed,
        )
        .unwrap();
        assert_eq!(
            (c.result.success_amt_msat, c.result.fail_amt_msat),
            (Msat(4_000), Msat(0))
        );
        assert_eq!(c.result.success_time, Timestamp::from_unix_secs(90));
        // A success above a failure can only be backed together through a
        // record that holds both (two majorities share a reporter); such a
        // raw record resolves as LND's import does: the newer one wins.
        let raw = |st: i64, ft: i64| TimedPairResult {
            fail_time: Timestamp::from_unix_secs(ft),
            fail_amt_msat: Msat(3_000),
            ..succ(5_000, st)
        };
        let d = agg(&[(node(1), raw(100, 200)), (node(2), raw(100, 200))], &Ungraphed).unwrap();
        assert_eq!(
            (d.result.success_amt_msat, d.result.fail_amt_msat),
            (Msat(2_999), Msat(3_000))
        );
        let e = agg(&[(node(1), raw(300, 200)), (node(2), raw(300, 200))], &Ungraphed).unwrap();
        assert_eq!(
            (e.result.success_amt_msat, e.result.fail_amt_msat),
            (Msat(5_000), Msat(0))
        );
    }

    #[test]
    fn fresh_keys_share_one_weight_and_alone_are_not_served() {
        let sybils: Vec<Reporter> = (1..=250).map(node).collect();
        let st = Fixed {
            unverified: sybils.clone(),
            ..Default::default()
        };
        let mut v: Vec<(Reporter, TimedPairResult)> = sybils.iter().map(|r| (*r, fail(1, 2000))).collect();
        assert_eq!(agg(&v, &st), Err(Held::Unbacked), "unverified data alone is not served");
        v.push((node(0), succ(500_000, 1000)));
        let a = agg(&v, &st).unwrap();
        assert_eq!(
            (a.result.success_amt_msat, a.result.fail_amt_msat),
            (Msat(500_000), Msat(0))
        );
        assert_eq!((a.established, a.unverified), (1, 250));
        assert!((a.weight - 1.1).abs() < 1e-9, "{}", a.weight);
        // Anonymous sources alike; the permissive threshold serves them.
        let anons: Vec<(Reporter, TimedPairResult)> = (0..5).map(|i| (anon(i), succ(7_000, 1000))).collect();
        assert_eq!(agg(&anons, &Ungraphed), Err(Held::Unbacked));
        let open = AggregationParams {
            min_serving_weight: 0.0,
            ..Default::default()
        };
        let a = aggregate(&pair(), &views(&anons), &Ungraphed, &open).unwrap();
        assert_eq!((a.anonymous, a.result.success_amt_msat), (5, Msat(7_000)));
        // With anonymous weight 0 (--require-signatures) nothing of theirs counts.
        let closed = AggregationParams {
            min_serving_weight: 0.0,
            weights: ClassWeights {
                anonymous: 0.0,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            aggregate(&pair(), &views(&anons), &Ungraphed, &closed),
            Err(Held::Unbacked)
        );
    }

    #[test]
    fn the_graph_bounds_claims() {
        let mut st = Fixed {
            channel: Some(ChannelCheck::NoChannel),
            ..Default::default()
        };
        assert_eq!(agg(&[(node(1), succ(5_000, 100))], &st), Err(Held::NoChannel));
        st.channel = Some(ChannelCheck::Capacity(Msat(1_000_000)));
        let a = agg(&[(node(1), succ(9_000_000_000, 100))], &st).unwrap();
        assert_eq!(a.result.success_amt_msat, Msat(1_000_000), "clamped to the capacity");
        let both = TimedPairResult {
            fail_amt_msat: Msat(2_000_000),
            ..succ(400_000, 100)
        };
        let both = TimedPairResult {
            fail_time: Timestamp::from_unix_secs(90),
            ..both
        };
        let a = agg(&[(node(1), both)], &st).unwrap();
        assert_eq!(
            (a.result.success_amt_msat, a.result.fail_amt_msat),
            (Msat(400_000), Msat(0)),
            "failure above capacity dropped"
        );
        assert_eq!(agg(&[(node(1), fail(2_000_000, 100))], &st), Err(Held::Unservable));
    }

    #[test]
    fn reputation_scales_weight_below_the_serving_threshold() {
        let mut st = Fixed::default();
        st.reputation.insert(node(1), 0.6);
        assert_eq!(agg(&[(node(1), fail(1, 100))], &st), Err(Held::Unbacked));
        // Beside an honest reporter its contradiction no longer ties.
        let a = agg(&[(node(1), fail(1, 200)), (node(2), succ(5_000, 100))], &st).unwrap();
        assert_eq!(
            (a.result.success_amt_msat, a.result.fail_amt_msat),
            (Msat(5_000), Msat(0))
        );
    }

    #[test]
    fn conflict_sets_one_success_against_the_other_failure() {
        let open = ChannelCheck::Unchecked;
        // A success reaching the other's failure, either way round.
        assert_eq!(conflict(open, &succ(500_000, 100), &fail(1, 300)), Some(true));
        assert_eq!(conflict(open, &fail(1, 300), &succ(500_000, 100)), Some(true));
        assert_eq!(conflict(open, &fail(500_000, 300), &succ(500_000, 100)), Some(true));
        // A success below the other's failure is no contradiction.
        assert_eq!(conflict(open, &succ(400_000, 100), &fail(500_000, 300)), Some(false));
        // Two successes or two failures cannot be compared.
        assert_eq!(conflict(open, &succ(1, 100), &succ(9, 100)), None);
        assert_eq!(conflict(open, &fail(1, 100), &fail(9, 100)), None);
        // Records holding both: any crossing counts.
        let both = TimedPairResult {
            fail_amt_msat: Msat(300_000),
            fail_time: Timestamp::from_unix_secs(200),
            ..succ(100_000, 100)
        };
        assert_eq!(conflict(open, &both, &succ(200_000, 100)), Some(false));
        assert_eq!(conflict(open, &both, &succ(300_000, 100)), Some(true));
        assert_eq!(conflict(open, &both, &fail(100_000, 100)), Some(true));
        // Observations more than an hour apart are not compared.
        assert_eq!(conflict(open, &succ(500_000, 100), &fail(1, 100 + 3_601)), None);
        assert_eq!(conflict(open, &succ(500_000, 100), &fail(1, 100 + 3_600)), Some(true));
        // The channel bounds both: a failure above the capacity says nothing,
        // a success above it counts as the capacity.
        let cap = ChannelCheck::Capacity(Msat(250_000));
        assert_eq!(conflict(cap, &succ(200_000, 100), &fail(300_000, 300)), None);
        assert_eq!(conflict(cap, &succ(900_000, 100), &fail(240_000, 300)), Some(true));
        assert_eq!(conflict(ChannelCheck::NoChannel, &succ(1, 1), &fail(1, 2)), None);
    }

    #[test]
    fn merge_keeps_lnd_rules_within_one_reporter() {
        let r1 = fail(1_000, 100);
        let r2 = fail(9_000, 130);
        // Within one reporter, LND's relax rule drops the higher failure.
        assert_eq!(merge_observation(Some(&r1), &r2, LATE, RELAX), None);
        let both = TimedPairResult {
            fail_time: Timestamp::from_unix_secs(100),
            fail_amt_msat: Msat(1_000),
            success_time: Timestamp::from_unix_secs(110),
            success_amt_msat: Msat(5_000),
        };
        let r = merge_observation(None, &both, LATE, RELAX).unwrap();
        assert_eq!((r.success_amt_msat, r.fail_amt_msat), (Msat(5_000), Msat(5_001)));
        assert_eq!(
            merge_observation(Some(&r), &both, LATE, RELAX),
            None,
            "re-sending changes nothing"
        );
    }

    #[test]
    fn served_as_querymc_prints_it() {
        let pair = pair();
        let r = agg(&[(node(1), succ(5_500, 100)), (node(2), succ(5_500, 80))], &Ungraphed)
            .unwrap()
            .result;
        let p = served_pair(pair, &r);
        assert_eq!((p.node_from, p.node_to), (vec![2; 33], vec![3; 33]));
        assert_eq!(p.history, crate::rpc::PairData::from_result(&r));
        assert_eq!((p.history.success_amt_sat, p.history.success_amt_msat), (5, 5_500));
        assert_eq!(p.history.success_time, 80, "the newest time both back");
        let t = Timestamp::from_unix_secs;
        assert_eq!(age_seconds(newest_time(&r), t(141)), 61);
        assert_eq!(age_seconds(t(200), t(100)), 0);
        assert_eq!(age_seconds(Timestamp::ZERO, t(100)), 0);
    }

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut inputs = dmc_testkit::SplitMix64(seed);
        move || inputs.next_u64()
    }

    const EXTREMES: [u64; 9] = [
        0,
        1,
        999,
        1000,
        MAX_MSAT.0,
        MAX_MSAT.0 + 1,
        i64::MAX as u64,
        u64::MAX - 1,
        u64::MAX,
    ];

    /// Every served record is valid LND import input, whatever reporters
    /// send: amounts 0 … u64::MAX, times 0 … ahead of the receive time,
    /// success ≥ failure, the same pair twice in one request, any mix of
    /// classes and capacities, any order of reporters.
    #[test]
    fn served_records_always_import_into_lnd() {
        use crate::rpc;
        let mut next = rng(0x5eed);
        let received = Timestamp::from_unix_secs(1_800_000_000);
        let pair = pair();
        let open = AggregationParams {
            min_serving_weight: 0.0,
            ..Default::default()
        };
        let mut served = 0;
        for case in 0..4000 {
            let amount = |next: &mut dyn FnMut() -> u64| {
                let r = next();
                if r.is_multiple_of(3) {
                    EXTREMES[(r >> 8) as usize % EXTREMES.len()]
                } else {
                    r >> (r % 64)
                }
            };
            let (a1, a2) = (amount(&mut next), amount(&mut next));
            let mut time = || match next() % 4 {
                0 => Timestamp::ZERO,
                1 => received.add(DurationNs(((next() % 600) as i64 + 1) * 1_000_000_000)),
                _ => Timestamp::from_unix_secs(1_800_000_000 - (next() % 100_000) as i64),
            };
            let (t1, t2) = (time(), time());
            let obs = TimedPairResult {
                fail_time: t1,
                fail_amt_msat: Msat(a1),
                success_time: t2,
                success_amt_msat: Msat(a2),
            };
            let mut st = Fixed {
                channel: match next() % 3 {
                    0 => None,
                    1 => Some(ChannelCheck::Capacity(Msat(amount(&mut next)))),
                    _ => Some(ChannelCheck::Capacity(Msat(0))),
                },
                ..Default::default()
            };
            // 1–5 reporters of every class, each sending the observation or a variant, some twice.
            let mut v = Vec::new();
            for k in 0..1 + (next() % 5) as u8 {
                let reporter = match next() % 3 {
                    0 => anon(k),
                    1 => {
                        st.unverified.push(node(k));
                        node(k)
                    }
                    _ => node(k),
                };
                st.reputation.insert(reporter, (next() % 5) as f64 / 4.0);
                let mut rec = None;
                for _ in 0..(1 + next() % 2) {
                    let mut o = obs;
                    if next().is_multiple_of(2) {
                        o.success_amt_msat = o.success_amt_msat.wrapping_add(Msat(next() % 3));
                        std::mem::swap(&mut o.fail_time, &mut o.success_time);
                    }
                    if let Some(m) = merge_observation(rec.as_ref(), &o, received, RELAX) {
                        rec = Some(m);
                    }
                }
                if let Some(record) = rec {
                    v.push(View { reporter, record });
                }
            }
            let params = if next().is_multiple_of(2) {
                open
            } else {
                AggregationParams::default()
            };
            let Ok(a) = aggregate(&pair, &v, &st, &params) else {
                continue;
            };
            served += 1;
            let r = a.result;
            assert!(
                !r.fail_time.after(received) && !r.success_time.after(received),
                "case {case}: {r:?}"
            );
            assert!(
                r.success_amt_msat <= MAX_MSAT && r.fail_amt_msat <= Msat(MAX_MSAT.0 + 1),
                "case {case}: {r:?}"
            );
            if !r.success_time.is_zero() && r.fail_amt_msat != Msat(0) {
                assert!(r.success_amt_msat < r.fail_amt_msat, "case {case}: {r:?}");
            }
            let served = served_pair(pair, &r);
            let h = served.history;
            assert!(h.fail_amt_msat >= 0 && h.success_amt_msat >= 0, "case {case}: {h:?}");
            rpc::validate_import(std::slice::from_ref(&served)).unwrap_or_else(|e| panic!("case {case}: {r:?}: {e:?}"));
            // Every order of the reporters gives the same record.
            for _ in 0..3 {
                let i = next() as usize % v.len();
                let j = next() as usize % v.len();
                v.swap(i, j);
                assert_eq!(
                    aggregate(&pair, &v, &st, &params).map(|a| a.result),
                    Ok(r),
                    "case {case}"
                );
            }
        }
        assert!(served > 1000, "only {served} cases served anything");
    }

    /// Reporters weighing less than half of a pair cannot push the served
    /// success above, or the failure below, everything the others reported,
    /// nor make either fresher than the others' newest.
    #[test]
    fn a_minority_cannot_move_amounts_outside_the_honest_range() {
        let mut next = rng(0xbad);
        for case in 0..3000 {
            let mut v = Vec::new();
            let honest = 1 + (next() % 6) as u8;
            let mut honest_weight = 0.0;
            let mut st = Fixed::default();
            for k in 0..honest {
                let t = 1000 + (next() % 1000) as i64;
                let rec = match next() % 3 {
                    0 => succ(1 + next() % 1_000_000, t),
                    1 => fail(1 + next() % 1_000_000, t),
                    _ => {
                        let s = 1 + next() % 1_000_000;
                        TimedPairResult {
                            fail_time: Timestamp::from_unix_secs(t - 5),
                            fail_amt_msat: Msat(s + 1 + next() % 1_000_000),
                            ..succ(s, t)
                        }
                    }
                };
                let rep = 0.5 + (next() % 3) as f64 / 4.0;
                st.reputation.insert(node(k), rep);
                honest_weight += rep;
                v.push(View {
                    reporter: node(k),
                    record: rec,
                });
            }
            // Liars: established (weighing less than the honest), unverified and anonymous.
            let mut liar_weight = 0.0;
            for k in 0..(next() % 4) as u8 {
                let r = node(100 + k);
                let rep = (next() % 5) as f64 / 4.0;
                if liar_weight + rep >= honest_weight * 0.999 {
                    break;
                }
                liar_weight += rep;
                st.reputation.insert(r, rep);
                let lie = if next().is_multiple_of(2) {
                    succ(EXTREMES[next() as usize % 9].max(1), 1999)
                } else {
                    fail(1, 1999)
                };
                v.push(View {
                    reporter: r,
                    record: lie,
                });
            }
            for k in 0..(next() % 30) as u8 {
                st.unverified.push(node(200 - k));
                let lie = if k % 2 == 0 {
                    succ(u64::MAX, 1999)
                } else {
                    fail(1, 1999)
                };
                v.push(View {
                    reporter: node(200 - k),
                    record: lie,
                });
                v.push(View {
                    reporter: anon(k),
                    record: lie,
                });
            }
            let Ok(a) = aggregate(&pair(), &v, &st, &AggregationParams::default()) else {
                continue;
            };
            let h: Vec<&TimedPairResult> = v.iter().filter(|x| x.reporter < node(100)).map(|x| &x.record).collect();
            let max_s = h
                .iter()
                .map(|r| {
                    if r.success_time.is_zero() {
                        Msat(0)
                    } else {
                        r.success_amt_msat
                    }
                })
                .max()
                .unwrap();
            let min_f = h
                .iter()
                .filter(|r| !r.fail_time.is_zero())
                .map(|r| r.fail_amt_msat)
                .min();
            let r = a.result;
            assert!(r.success_amt_msat <= max_s, "case {case}: {r:?} vs {h:?}");
            match min_f {
                None => assert_eq!(r.fail_amt_msat, Msat(0), "case {case}: failure without honest support"),
                Some(f) => assert!(
                    r.fail_amt_msat == Msat(0) || r.fail_amt_msat >= f.min(Msat(r.success_amt_msat.0 + 1)),
                    "case {case}"
                ),
            }
            let newest_s = h.iter().map(|r| r.success_time).max().unwrap();
            let newest_f = h.iter().map(|r| r.fail_time).max().unwrap();
            assert!(
                r.success_time <= newest_s && r.fail_time <= newest_f,
                "case {case}: {r:?}"
            );
        }
    }

    #[test]
    fn the_reported_wrap_and_duplicate_are_served_valid() {
        let received = Timestamp::from_unix_secs(1_800_000_000);
        // success i64::MAX plus a failure: LND's success+1 used to reach 2^63.
        let huge = TimedPairResult {
            fail_time: Timestamp::from_unix_secs(1_799_999_000),
            fail_amt_msat: Msat(5),
            success_time: Timestamp::from_unix_secs(1_799_999_500),
            success_amt_msat: Msat(i64::MAX as u64),
        };
        let rec = merge_observation(None, &huge, received, RELAX).unwrap();
        let r = agg(&[(node(1), rec)], &Ungraphed).unwrap().result;
        assert_eq!(r.success_amt_msat, MAX_MSAT);
        assert_eq!(
            r.fail_amt_msat,
            Msat(0),
            "the newer success outdates the reporter's own failure"
        );
        // Two such reporters and a third failing at i64::MAX: the success
        // is served bounded, the failure above it stays inside an int64.
        let top = fail(i64::MAX as u64, 1_799_999_600);
        let r = agg(
            &[(node(1), rec), (node(2), rec), (node(3), top), (node(4), top)],
            &Ungraphed,
        )
        .unwrap()
        .result;
        assert!(
            r.fail_amt_msat <= Msat(MAX_MSAT.0 + 1) && r.fail_amt_msat.0 as i64 > 0,
            "{r:?}"
        );
        // The same pair twice in one request, newer success first: LND's
        // success wipe would leave a success time with amount 0.
        let newer = succ(500_000, 1_799_999_900);
        let older = succ(400_000, 1_799_999_000);
        let rec = merge_observation(None, &newer, received, RELAX).unwrap();
        assert_eq!(
            merge_observation(Some(&rec), &older, received, RELAX),
            None,
            "the older one changes nothing"
        );
        let a = agg(&[(node(1), rec)], &Ungraphed).unwrap();
        assert_eq!(a.result.success_amt_msat, Msat(500_000));
        // Stamped in the future: capped at the receive time.
        let ahead = succ(1_000, 1_800_000_590);
        let rec = merge_observation(None, &ahead, received, RELAX).unwrap();
        assert_eq!(rec.success_time, received);
    }

    #[test]
    fn reporter_bytes_round_trip() {
        for r in [
            node(7),
            anon(9),
            Reporter::anonymous("2001:db8::1".parse().unwrap()),
            Reporter::Unattributed,
        ] {
            assert_eq!(Reporter::from_bytes(&r.to_bytes()), r);
        }
        assert_eq!(anon(9).to_string(), "anonymous 10.0.0.9");
        assert_ne!(anon(9).to_bytes(), Reporter::Unattributed.to_bytes());
        let alice = "02c60c3aea280fe7b161ba08722206a3fc6895fa4fb8c07ff68985a4bccb4992a4";
        let key = Reporter::Node(NodeId::from_hex(alice).unwrap());
        for r in [key, anon(9), Reporter::Unattributed] {
            let text = match r {
                Reporter::Node(k) => k.to_hex(),
                Reporter::Anonymous(_) => "anonymous:10.0.0.9".into(),
                Reporter::Unattributed => "unattributed".into(),
            };
            assert_eq!(Reporter::parse(&text), Ok(r));
        }
        assert!(Reporter::parse("anonymous:nope")
            .unwrap_err()
            .to_string()
            .contains("not an IP"));
        assert!(Reporter::parse(&"f".repeat(10_000)).unwrap_err().to_string().len() < 200);
    }
}
