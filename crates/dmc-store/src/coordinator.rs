//! The coordinator's store: per-reporter observations and the aggregate
//! derived from them, with a change cursor for incremental sync.
//!
//! [`CoordinatorStore`] is the storage trait; [`RedbCoordinatorStore`] the
//! embedded implementation, [`crate::postgres::PostgresCoordinatorStore`]
//! the one several replicas share.
//!
//! Cost per registration is O(pairs in it × reporters per pair), never
//! O(store): only the touched pairs' observations are read and only their
//! aggregates rewritten. Each changed aggregate gets the next sequence
//! number; a pair's previous sequence entry is removed, so "changes since
//! cursor C" is one range scan over what changed after C. Removed pairs
//! leave a tombstone until [`CoordinatorStore::cleanup`] expires it; a cursor
//! older than the oldest expired tombstone must resync in full.
//!
//! Concurrent registrations are committed together (group commit): whoever
//! takes the write lock applies everything queued in one durable
//! transaction, then wakes every waiting caller. A caller returns only after
//! the commit that contains its registration has reached the disk.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

use dmc_core::aggregate::{
    aggregate, merge_observation, newest_time, Aggregate, AggregationParams, GraphStanding, Held, Reporter, Ungraphed,
    View, WithReputations,
};
use dmc_core::reputation::{self, Comparisons, Reputation, ReputationParams, Verdict};
use dmc_core::{DirectedPair, Msat, NodeId, PairSnapshot, TimedPairResult, Timestamp};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};

use crate::error::OPEN_ADVICE;
use crate::StoreError;

pub mod salvage;

/// Observation key: from ‖ to ‖ reporter (99 bytes); value: record ‖ received.
const OBS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("obs");
/// reporter ‖ from ‖ to → () : a reporter's pairs, for forgetting it.
const BY_REPORTER: TableDefinition<&[u8], ()> = TableDefinition::new("by_reporter");
/// from ‖ to → record ‖ established reporters ‖ seq ‖ unverified ‖ anonymous
/// (records written before reporter classes end after seq).
const AGG: TableDefinition<&[u8], &[u8]> = TableDefinition::new("agg");
/// seq → from ‖ to ‖ (1 byte: 1 live, 0 removed).
const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");
/// from ‖ to → seq of the pair's tombstone in CHANGES, so a pair that
/// comes back (or is removed again) drops its old tombstone.
const TOMBSTONES: TableDefinition<&[u8], u64> = TableDefinition::new("tombstones");
/// reporter → number of observations it holds.
const REPORTERS: TableDefinition<&[u8], u64> = TableDefinition::new("reporters");
const META: TableDefinition<&str, u64> = TableDefinition::new("coord_meta");
/// from ‖ to → why a pair with observations is not served ([`held_code`]).
const HELD: TableDefinition<&[u8], u8> = TableDefinition::new("held");
/// reporter key → score (f64) ‖ updated (i128 ns), big-endian.
const REPUTATION: TableDefinition<&[u8], &[u8]> = TableDefinition::new("reputation");
/// sha256 of a stored signed body → its timestamp (Unix seconds).
const BODY_DIGESTS: TableDefinition<&[u8], i64> = TableDefinition::new("body_digests");
/// reporter key → the latest timestamp of its stored signed bodies.
const LAST_SIGNED: TableDefinition<&[u8], i64> = TableDefinition::new("last_signed");
/// Banned reporters (33-byte form) → ().
const BANNED: TableDefinition<&[u8], ()> = TableDefinition::new("banned");

const META_NEXT_SEQ: &str = "next_seq";
/// Cursors below this have lost tombstones: they must resync in full.
const META_MIN_CURSOR: &str = "min_valid_cursor";

/// One accepted registration: a reporter's pairs, already validated.
#[derive(Clone, Debug)]
pub struct Registration {
    /// Who sent it: the signing node key (v2) or the source address (v1).
    pub reporter: Reporter,
    /// The reporter's pairs, each with its record.
    pub pairs: Vec<PairSnapshot>,
    /// When the server received it.
    pub received: Timestamp,
    /// For a signed (v2) registration: what makes it new. The store
    /// refuses it (nothing applied) when the body was stored before or is
    /// older than the reporter's last stored one, and records both in the
    /// same transaction as the pairs (ARCHITECTURE.md, "Replay protection").
    pub signed: Option<SignedBody>,
}

/// A signed body's identity: the digest of its exact bytes and the
/// timestamp it carries (Unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedBody {
    /// SHA-256 of the exact signed body bytes.
    pub digest: [u8; 32],
    /// The body's timestamp (Unix seconds).
    pub timestamp: i64,
}

/// Why a store refused a signed registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This exact body was stored before.
    AlreadyReceived,
    /// The reporter has a stored registration with a later timestamp.
    OlderThanLast {
        /// That registration's timestamp (Unix seconds).
        last: i64,
    },
    /// The reporter was banned (`dmc admin forget-reporter --ban`).
    Banned,
}

/// What a registration changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegisterOutcome {
    /// Observations that changed the reporter's records.
    pub observations_changed: usize,
    /// Aggregated pairs whose served value changed.
    pub aggregates_changed: usize,
    /// The cursor after this registration's commit.
    pub cursor: u64,
    /// Set when a signed registration was refused as a replay (then
    /// nothing of it was applied).
    pub refused: Option<Refusal>,
}

/// A pair as served: the aggregate, how many reporters back it, when it
/// was last observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AggregatedPair {
    /// The directed pair.
    pub pair: DirectedPair,
    /// The aggregated record served for it.
    pub result: TimedPairResult,
    /// Distinct established reporters.
    pub reporters: u32,
    /// Distinct other signed keys (they share one weight per pair).
    pub reporters_unverified: u32,
    /// Distinct source addresses of unsigned (v1) registrations (they share one weight per pair).
    pub reporters_anonymous: u32,
    /// The newer of the record's failure and success times.
    pub newest: Timestamp,
}

impl AggregatedPair {
    /// Whether `a` would be served exactly as this.
    pub(crate) fn same_as(&self, a: &Aggregate) -> bool {
        self.result == a.result
            && self.reporters == a.established
            && self.reporters_unverified == a.unverified
            && self.reporters_anonymous == a.anonymous
    }
}

/// How the stores weigh reporters and bound claims: the aggregation and
/// reputation parameters and the coordinator's graph.
#[derive(Clone)]
pub struct AggregationPolicy {
    /// How views are weighed and claims bounded ([`dmc_core::aggregate`]).
    pub params: AggregationParams,
    /// The reputation rule's parameters ([`dmc_core::reputation`]).
    pub reputation: ReputationParams,
    /// Which reporters are established nodes and which channels exist.
    pub graph: Arc<dyn GraphStanding>,
}

impl Default for AggregationPolicy {
    /// No graph: every signed key established, no channel checked.
    fn default() -> Self {
        AggregationPolicy {
            params: AggregationParams::default(),
            reputation: ReputationParams::default(),
            graph: Arc::new(Ungraphed),
        }
    }
}

impl std::fmt::Debug for AggregationPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregationPolicy")
            .field("params", &self.params)
            .field("reputation", &self.reputation)
            .finish_non_exhaustive()
    }
}

/// What a reputation pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassOutcome {
    /// Signed reporters judged on at least one shared pair.
    pub judged: usize,
    /// Reporters penalised in this pass.
    pub penalised: usize,
    /// Reporters whose stored reputation changed.
    pub updated: usize,
    /// Served pairs that changed as a result.
    pub pairs_changed: usize,
}

/// The policy and reputations a store aggregates with, shared by both
/// stores; the reputations are also persisted by each store.
pub(crate) struct PolicyCell {
    policy: RwLock<Arc<AggregationPolicy>>,
    reputations: RwLock<Arc<HashMap<NodeId, Reputation>>>,
}

impl PolicyCell {
    pub(crate) fn new(reputations: HashMap<NodeId, Reputation>) -> Self {
        PolicyCell {
            policy: RwLock::new(Arc::new(AggregationPolicy::default())),
            reputations: RwLock::new(Arc::new(reputations)),
        }
    }

    pub(crate) fn policy(&self) -> Arc<AggregationPolicy> {
        self.policy.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn set_policy(&self, p: AggregationPolicy) {
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(p);
    }

    pub(crate) fn reputations(&self) -> Arc<HashMap<NodeId, Reputation>> {
        self.reputations.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn set_reputations(&self, r: HashMap<NodeId, Reputation>) {
        *self.reputations.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(r);
    }

    /// The verdict for a pair's views; `None` when it has none.
    pub(crate) fn verdict(&self, pair: &DirectedPair, views: &[View]) -> Option<Result<Aggregate, Held>> {
        if views.is_empty() {
            return None;
        }
        let policy = self.policy();
        let reps = self.reputations();
        let standing = WithReputations {
            graph: &*policy.graph,
            reputations: &reps,
        };
        Some(aggregate(pair, views, &standing, &policy.params))
    }

    /// One pass's verdicts from every observation, in (pair, reporter)
    /// order, streamed so no more than one pair's views are in memory.
    pub(crate) fn judge_all(
        &self,
        observations: impl Iterator<Item = Result<(DirectedPair, View), StoreError>>,
    ) -> Result<HashMap<NodeId, Verdict>, StoreError> {
        let policy = self.policy();
        let reps = self.reputations();
        let standing = WithReputations {
            graph: &*policy.graph,
            reputations: &reps,
        };
        let mut tallies = Comparisons::default();
        let mut current: Option<DirectedPair> = None;
        let mut views: Vec<View> = Vec::new();
        for o in observations {
            let (pair, view) = o?;
            if current != Some(pair) {
                if let Some(p) = current {
                    reputation::judge_pair(&p, &views, &standing, &mut tallies);
                }
                views.clear();
                current = Some(pair);
            }
            views.push(view);
        }
        if let Some(p) = current {
            reputation::judge_pair(&p, &views, &standing, &mut tallies);
        }
        Ok(tallies.verdicts(&reps))
    }

    /// The reputations to write after a pass, and which reporters' scores changed.
    pub(crate) fn after_pass(
        &self,
        stored: &HashMap<NodeId, Reputation>,
        tallies: &HashMap<NodeId, Verdict>,
        now: Timestamp,
    ) -> (Vec<(NodeId, Reputation)>, Vec<NodeId>, usize) {
        let p = self.policy().reputation;
        let updates = reputation::after_pass(stored, tallies, now, &p);
        let changed = updates
            .iter()
            .filter(|(k, r)| stored.get(k).map_or(1.0, |o| o.score) != r.score)
            .map(|(k, _)| *k)
            .collect();
        let penalised = tallies.values().filter(|t| t.penalised(&p)).count();
        (updates, changed, penalised)
    }
}

/// The stored byte of a [`Held`] reason.
pub(crate) fn held_code(h: Held) -> u8 {
    match h {
        Held::NoChannel => 1,
        Held::Unbacked => 2,
        Held::Unservable => 3,
    }
}

pub(crate) fn encode_reputation(r: &Reputation) -> [u8; 24] {
    let mut b = [0; 24];
    b[..8].copy_from_slice(&r.score.to_be_bytes());
    b[8..].copy_from_slice(&r.updated.to_raw().to_be_bytes());
    b
}

pub(crate) fn decode_reputation(b: &[u8]) -> Option<Reputation> {
    Some(Reputation {
        score: f64::from_be_bytes(b.get(..8)?.try_into().ok()?),
        updated: Timestamp::from_raw(i128::from_be_bytes(b.get(8..24)?.try_into().ok()?)),
    })
}

/// Changes since a cursor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// Pairs added or changed after the cursor (every served pair on a full resync).
    pub changed: Vec<AggregatedPair>,
    /// Pairs removed after the cursor (empty on a full resync).
    pub removed: Vec<DirectedPair>,
    /// Pass this back next time.
    pub cursor: u64,
    /// The cursor was too old: `changed` holds the full snapshot instead.
    pub full_resync: bool,
}

/// Counts for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoordinatorStats {
    /// Served pairs.
    pub pairs: u64,
    /// Stored observations, one per (pair, reporter).
    pub observations: u64,
    /// Reporters holding at least one observation.
    pub reporters: u64,
    /// The current cursor.
    pub cursor: u64,
    /// Pairs with observations that are not served, by reason. Held: the
    /// graph has no channel between their nodes.
    pub held_no_channel: u64,
    /// Held: their reporters weigh less than the serving threshold.
    pub held_unbacked: u64,
    /// Held: the combination holds nothing LND would import.
    pub held_unservable: u64,
    /// Reporters with a reputation below 1.
    pub reporters_discounted: u64,
}

/// Storage of a coordinator. Implementations must make `register` durable
/// before returning and keep every method's result consistent with
/// applying registrations one at a time in commit order.
pub trait CoordinatorStore: Send + Sync {
    /// Applies one registration durably (group-committed with concurrent ones); a signed replay is refused, see [`RegisterOutcome::refused`].
    fn register(&self, reg: Registration) -> Result<RegisterOutcome, StoreError>;
    /// Every aggregated pair, and the cursor it reflects.
    fn snapshot(&self) -> Result<(Vec<AggregatedPair>, u64), StoreError>;
    /// The changes after `cursor`, or everything with `full_resync` set when the cursor is too old or ahead of the store.
    fn changes_since(&self, cursor: u64) -> Result<Delta, StoreError>;
    /// Whether `changes_since(cursor)` would be a full resync (the cursor
    /// is older than an expired tombstone, or ahead of the store), cheaply:
    /// the coordinator then serves its cached snapshot instead.
    fn resync_needed(&self, cursor: u64) -> Result<bool, StoreError>;
    /// Removes a reporter's observations and recomputes what they backed.
    /// Returns the number of observations removed.
    fn forget_reporter(&self, reporter: Reporter) -> Result<usize, StoreError>;
    /// Drops observations whose newest time is before `stale_before`,
    /// recomputes what they backed, and expires tombstones left by earlier
    /// cleanups (cursors from before them then get a full resync).
    /// Returns the number of observations dropped.
    fn cleanup(&self, stale_before: Timestamp) -> Result<usize, StoreError>;
    /// The counts `/metrics` reports.
    fn stats(&self) -> Result<CoordinatorStats, StoreError>;
    /// The current cursor (0 when empty), cheaply.
    fn cursor(&self) -> Result<u64, StoreError>;
    /// Sets how reporters are weighed and claims bounded (a new graph,
    /// new weights) and recomputes every pair. Returns how many served
    /// pairs changed.
    fn set_policy(&self, policy: AggregationPolicy) -> Result<usize, StoreError>;
    /// Runs the reputation rule at `now` ([`dmc_core::reputation`]) over
    /// every pair (peers compared where several report it, every success
    /// checked against the graph), stores the new reputations and
    /// recomputes the pairs of reporters whose score changed.
    fn reputation_pass(&self, now: Timestamp) -> Result<PassOutcome, StoreError>;
    /// The stored reputations (reporters without one have score 1).
    fn reputations(&self) -> Result<Vec<(NodeId, Reputation)>, StoreError>;
    /// How many observations each reporter holds.
    fn reporter_observations(&self) -> Result<Vec<(Reporter, u64)>, StoreError>;
    /// Every stored observation: each reporter's current record of each
    /// pair, in (pair, reporter) order. At most `max_observations` of them
    /// (the coordinator's cap); for seeding in-memory models at start.
    fn observations(&self) -> Result<Vec<(DirectedPair, View)>, StoreError>;
    /// How many observations one reporter holds, and all of them together.
    fn observation_counts(&self, reporter: &Reporter) -> Result<(u64, u64), StoreError>;
    /// Refuses every future registration of `reporter` (its data is not
    /// touched: forget it too). Returns whether it was not banned before.
    fn ban_reporter(&self, reporter: Reporter) -> Result<bool, StoreError>;
    /// Forgets digests of signed bodies stamped before `before` (Unix
    /// seconds): the signature window refuses those bodies anyway. Each
    /// reporter's last timestamp is kept. Returns how many were dropped.
    fn prune_digests(&self, before: i64) -> Result<usize, StoreError>;
    /// `dmc admin check` on the open store: every table read and the
    /// derived tables compared with the primary ones ([`salvage`]).
    fn check(&self) -> Result<salvage::CheckReport, StoreError> {
        Err(StoreError::Unsupported(
            "dmc admin check verifies the embedded store; PostgreSQL checks its own pages (pg_amcheck)",
        ))
    }
}

/// A redb failure of `ctx`.
fn err<E: Into<redb::Error>>(ctx: &'static str) -> impl Fn(E) -> StoreError {
    move |e| StoreError::redb(format!("coordinator store: {ctx}"), e)
}

/// The 48-byte stored form of a record (shared with the PostgreSQL store):
/// fail time (i128 ns) ‖ fail msat (u64) ‖ success time ‖ success msat, big-endian.
pub(crate) fn encode_record(r: &TimedPairResult, out: &mut Vec<u8>) {
    out.extend_from_slice(&r.fail_time.to_raw().to_be_bytes());
    out.extend_from_slice(&r.fail_amt_msat.0.to_be_bytes());
    out.extend_from_slice(&r.success_time.to_raw().to_be_bytes());
    out.extend_from_slice(&r.success_amt_msat.0.to_be_bytes());
}

pub(crate) const RECORD_LEN: usize = 48;

pub(crate) fn decode_record(b: &[u8]) -> Option<TimedPairResult> {
    if b.len() < RECORD_LEN {
        return None;
    }
    let t = |i: usize| Timestamp::from_raw(i128::from_be_bytes(b[i..i + 16].try_into().unwrap_or_default()));
    let u = |i: usize| Msat(u64::from_be_bytes(b[i..i + 8].try_into().unwrap_or_default()));
    Some(TimedPairResult {
        fail_time: t(0),
        fail_amt_msat: u(16),
        success_time: t(24),
        success_amt_msat: u(40),
    })
}

fn pair_key(p: &DirectedPair) -> [u8; 66] {
    let mut k = [0u8; 66];
    k[..33].copy_from_slice(&p.from.0);
    k[33..].copy_from_slice(&p.to.0);
    k
}

fn pair_from_key(k: &[u8]) -> Option<DirectedPair> {
    let from = NodeId(k.get(..33)?.try_into().ok()?);
    let to = NodeId(k.get(33..66)?.try_into().ok()?);
    Some(DirectedPair::new(from, to))
}

/// A `by_reporter` key: reporter ‖ from ‖ to (an observation key's halves swapped).
fn by_reporter_key(reporter: &[u8], pair_key: &[u8]) -> Vec<u8> {
    [reporter, pair_key].concat()
}

fn obs_key(p: &DirectedPair, r: &Reporter) -> [u8; 99] {
    let mut k = [0u8; 99];
    k[..66].copy_from_slice(&pair_key(p));
    k[66..].copy_from_slice(&r.to_bytes());
    k
}

fn decode_agg(pair: DirectedPair, v: &[u8]) -> Option<(AggregatedPair, u64)> {
    let result = decode_record(v)?;
    let u32_at = |i: usize| v.get(i..i + 4).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes);
    let reporters = u32_at(48)?;
    let seq = u64::from_be_bytes(v.get(52..60)?.try_into().ok()?);
    Some((
        AggregatedPair {
            pair,
            result,
            reporters,
            reporters_unverified: u32_at(60).unwrap_or(0),
            reporters_anonymous: u32_at(64).unwrap_or(0),
            newest: newest_time(&result),
        },
        seq,
    ))
}

/// Where a queued registration's result is delivered.
type ResultSlot = Arc<(Mutex<Option<Result<RegisterOutcome, StoreError>>>, Condvar)>;

/// Results of one batch: per registration, or one error for the whole batch.
pub(crate) type BatchResult = Result<Vec<Result<RegisterOutcome, StoreError>>, StoreError>;

/// Group commit, shared by both stores: concurrent registrations queue up,
/// and whoever takes the writer lock commits the whole queue in one
/// transaction (through the store's `commit` function), then hands every
/// waiting caller its result.
pub(crate) struct GroupCommit {
    queue: Mutex<Vec<(Registration, ResultSlot)>>,
    writer: Mutex<()>,
}

impl GroupCommit {
    pub(crate) fn new() -> Self {
        GroupCommit {
            queue: Mutex::new(Vec::new()),
            writer: Mutex::new(()),
        }
    }

    /// Queues `reg` and returns once a commit containing it has finished.
    pub(crate) fn register(
        &self,
        reg: Registration,
        commit: impl Fn(&[Registration]) -> BatchResult,
    ) -> Result<RegisterOutcome, StoreError> {
        let done: ResultSlot = Arc::new((Mutex::new(None), Condvar::new()));
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((reg, done.clone()));
        loop {
            if let Some(r) = done.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return r;
            }
            // Whoever holds the writer lock commits everything queued,
            // ours included if it was queued before the drain.
            let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(r) = done.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return r;
            }
            self.flush(&commit);
        }
    }

    /// Takes the writer lock after committing whatever is queued, for
    /// writes that are not registrations (forget, cleanup).
    pub(crate) fn lock_flushed(&self, commit: impl Fn(&[Registration]) -> BatchResult) -> MutexGuard<'_, ()> {
        let w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.flush(&commit);
        w
    }

    fn flush(&self, commit: &impl Fn(&[Registration]) -> BatchResult) {
        let batch = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            return;
        }
        let (regs, slots): (Vec<Registration>, Vec<ResultSlot>) = batch.into_iter().unzip();
        let results: Vec<Result<RegisterOutcome, StoreError>> = match commit(&regs) {
            Ok(outcomes) => outcomes,
            Err(e) => vec![Err(e); slots.len()],
        };
        for (slot, r) in slots.into_iter().zip(results) {
            *slot.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            slot.1.notify_all();
        }
    }
}

thread_local! {
    /// Whether this thread is inside [`quietly`].
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with panic messages off on this thread only: a panic inside
/// redb on a damaged file is reported as an error naming the file, not
/// printed as a crash. (Swapping the process-wide hook instead would also
/// silence other threads' panics meanwhile, a test's failure message
/// included.)
pub(crate) fn quietly<T>(f: impl FnOnce() -> T) -> T {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let r = f();
    QUIET.with(|q| q.set(was));
    r
}

/// Opens (or creates) a redb file, refusing an empty or damaged one with a
/// message naming the file (as `shown`) and what to do: redb itself may
/// panic on a truncated file, and silently formats a 0-byte one.
fn open_database(path: &Path, shown: &Path) -> Result<Database, StoreError> {
    if let Ok(m) = std::fs::metadata(path) {
        if m.len() == 0 {
            return Err(StoreError::Corrupt(format!(
                "{}: the store file is empty (0 bytes): {OPEN_ADVICE}",
                shown.display()
            )));
        }
    }
    // Keep redb's panic message off stderr: the error below says it better.
    let opened = quietly(|| std::panic::catch_unwind(|| Database::create(path)));
    match opened {
        Ok(Ok(db)) => Ok(db),
        // Another process (a running `dmc serve`) has the file open.
        // Salvage and --fresh-store are for damaged files, not for one in use.
        Ok(Err(e @ redb::DatabaseError::DatabaseAlreadyOpen)) => Err(StoreError::Locked(format!(
            "{}: cannot open the store ({e}): another process holds it; is a `dmc serve` already running with this data dir? Stop it first",
            shown.display()
        ))),
        Ok(Err(e)) => Err(StoreError::Unopenable {
            path: shown.to_path_buf(),
            source: Arc::new(e),
        }),
        Err(_) => Err(StoreError::Corrupt(format!(
            "{}: the store is corrupt or truncated (the database refused to read it): {OPEN_ADVICE}",
            shown.display()
        ))),
    }
}

/// Moves a damaged store file aside (`<file>.broken-<unix secs>`) so a
/// fresh one can be created; returns where it went, if there was a file.
pub fn set_aside(path: &Path, unix_secs: i64) -> Result<Option<std::path::PathBuf>, StoreError> {
    if !path.exists() {
        return Ok(None);
    }
    let to = path.with_extension(format!("redb.broken-{unix_secs}"));
    std::fs::rename(path, &to)
        .map_err(|e| StoreError::io(format!("moving {} to {}", path.display(), to.display()), e))?;
    Ok(Some(to))
}

/// The embedded coordinator store (redb, fsync on commit).
pub struct RedbCoordinatorStore {
    db: Database,
    min_failure_relax_interval: dmc_core::time::DurationNs,
    group: GroupCommit,
    policy: PolicyCell,
}

impl RedbCoordinatorStore {
    /// Opens (or creates, with its directory) the store file at `path`; an empty, damaged or locked file is refused with what to do.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
        }
        Self::with_database(open_database(path, path)?)
    }

    /// A store in memory, gone when dropped: the same code as on disk, for
    /// tests that drive the coordinator without files (the `testing` feature).
    #[cfg(feature = "testing")]
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(err("in-memory database"))?;
        Self::with_database(db)
    }

    fn with_database(db: Database) -> Result<Self, StoreError> {
        let tx = db.begin_write().map_err(err("begin write"))?;
        {
            tx.open_table(OBS).map_err(err("obs"))?;
            tx.open_table(BY_REPORTER).map_err(err("by_reporter"))?;
            tx.open_table(AGG).map_err(err("agg"))?;
            tx.open_table(CHANGES).map_err(err("changes"))?;
            tx.open_table(TOMBSTONES).map_err(err("tombstones"))?;
            tx.open_table(REPORTERS).map_err(err("reporters"))?;
            tx.open_table(META).map_err(err("meta"))?;
            tx.open_table(HELD).map_err(err("held"))?;
            tx.open_table(REPUTATION).map_err(err("reputation"))?;
            tx.open_table(BODY_DIGESTS).map_err(err("body_digests"))?;
            tx.open_table(LAST_SIGNED).map_err(err("last_signed"))?;
            tx.open_table(BANNED).map_err(err("banned"))?;
        }
        tx.commit().map_err(err("commit"))?;
        let mut reps = HashMap::new();
        {
            let tx = db.begin_read().map_err(err("begin read"))?;
            let t = tx.open_table(REPUTATION).map_err(err("reputation"))?;
            for e in t.iter().map_err(err("scan reputation"))? {
                let (k, v) = e.map_err(err("scan reputation"))?;
                if let (Ok(k), Some(r)) = (<[u8; 33]>::try_from(k.value()), decode_reputation(v.value())) {
                    reps.insert(NodeId(k), r);
                }
            }
        }
        Ok(RedbCoordinatorStore {
            db,
            min_failure_relax_interval: dmc_core::mission_control::DEFAULT_MIN_FAILURE_RELAX_INTERVAL,
            group: GroupCommit::new(),
            policy: PolicyCell::new(reps),
        })
    }

    /// The views of `pair` (one per reporter) inside `tx`.
    fn views(tx: &WriteTransaction, pair: &DirectedPair) -> Result<Vec<View>, StoreError> {
        let pk = pair_key(pair);
        let mut views = Vec::new();
        let obs = tx.open_table(OBS).map_err(err("obs"))?;
        let mut hi = pk.to_vec();
        hi.extend_from_slice(&[0xff; 33]);
        for e in obs.range(&pk[..]..=&hi[..]).map_err(err("scan obs"))? {
            let (k, v) = e.map_err(err("scan obs"))?;
            let (Some(record), Ok(rep)) = (decode_record(v.value()), <[u8; 33]>::try_from(&k.value()[66..])) else {
                continue;
            };
            views.push(View {
                reporter: Reporter::from_bytes(&rep),
                record,
            });
        }
        Ok(views)
    }

    /// Recomputes the aggregate of `pair` from its observations inside `tx`.
    /// Returns whether the served value changed.
    fn recompute(
        tx: &WriteTransaction,
        policy: &PolicyCell,
        pair: &DirectedPair,
        next_seq: &mut u64,
    ) -> Result<bool, StoreError> {
        let pk = pair_key(pair);
        let verdict = policy.verdict(pair, &Self::views(tx, pair)?);
        {
            let mut held = tx.open_table(HELD).map_err(err("held"))?;
            match verdict.and_then(Result::err) {
                Some(h) => held.insert(&pk[..], held_code(h)).map_err(err("write held"))?,
                None => held.remove(&pk[..]).map_err(err("write held"))?,
            };
        }
        let new = verdict.and_then(Result::ok);
        let mut agg_t = tx.open_table(AGG).map_err(err("agg"))?;
        let mut changes = tx.open_table(CHANGES).map_err(err("changes"))?;
        let old = agg_t.get(&pk[..]).map_err(err("read agg"))?.map(|v| v.value().to_vec());
        let old = old.and_then(|v| decode_agg(*pair, &v));
        let same = match (&old, &new) {
            (Some((o, _)), Some(n)) => o.same_as(n),
            (None, None) => true,
            _ => false,
        };
        if same {
            return Ok(false);
        }
        let mut tombstones = tx.open_table(TOMBSTONES).map_err(err("tombstones"))?;
        if let Some((_, old_seq)) = &old {
            changes.remove(*old_seq).map_err(err("drop old change"))?;
        } else if let Some(t) = tombstones.remove(&pk[..]).map_err(err("drop old tombstone"))? {
            // One entry per pair: its earlier removal is superseded.
            changes.remove(t.value()).map_err(err("drop old tombstone"))?;
        }
        let seq = *next_seq;
        *next_seq += 1;
        let mut change = pk.to_vec();
        match new {
            Some(n) => {
                let mut v = Vec::with_capacity(68);
                encode_record(&n.result, &mut v);
                v.extend_from_slice(&n.established.to_be_bytes());
                v.extend_from_slice(&seq.to_be_bytes());
                v.extend_from_slice(&n.unverified.to_be_bytes());
                v.extend_from_slice(&n.anonymous.to_be_bytes());
                agg_t.insert(&pk[..], &v[..]).map_err(err("write agg"))?;
                change.push(1);
            }
            None => {
                agg_t.remove(&pk[..]).map_err(err("remove agg"))?;
                tombstones.insert(&pk[..], seq).map_err(err("write tombstone"))?;
                change.push(0);
            }
        }
        changes.insert(seq, &change[..]).map_err(err("write change"))?;
        Ok(true)
    }

    /// Every pair with observations or a served aggregate.
    fn all_pairs(tx: &WriteTransaction) -> Result<Vec<DirectedPair>, StoreError> {
        let mut pairs = Vec::new();
        {
            let obs = tx.open_table(OBS).map_err(err("obs"))?;
            for e in obs.iter().map_err(err("scan obs"))? {
                let (k, _) = e.map_err(err("scan obs"))?;
                if let Some(p) = pair_from_key(k.value()) {
                    if pairs.last() != Some(&p) {
                        pairs.push(p);
                    }
                }
            }
            let agg = tx.open_table(AGG).map_err(err("agg"))?;
            for e in agg.iter().map_err(err("scan agg"))? {
                let (k, _) = e.map_err(err("scan agg"))?;
                pairs.extend(pair_from_key(k.value()));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        Ok(pairs)
    }

    /// The pairs a reporter has observations of.
    fn pairs_of(tx: &WriteTransaction, rep: &[u8; 33]) -> Result<Vec<DirectedPair>, StoreError> {
        let by_rep = tx.open_table(BY_REPORTER).map_err(err("by_reporter"))?;
        let mut hi = rep.to_vec();
        hi.extend_from_slice(&[0xff; 66]);
        let mut pairs = Vec::new();
        for e in by_rep.range(&rep[..]..=&hi[..]).map_err(err("scan by_reporter"))? {
            let (k, _) = e.map_err(err("scan by_reporter"))?;
            pairs.extend(pair_from_key(&k.value()[33..]));
        }
        Ok(pairs)
    }

    fn next_seq(tx: &WriteTransaction) -> Result<u64, StoreError> {
        let meta = tx.open_table(META).map_err(err("meta"))?;
        let v = meta.get(META_NEXT_SEQ).map_err(err("read meta"))?;
        Ok(v.map(|v| v.value()).unwrap_or(1))
    }

    fn set_next_seq(tx: &WriteTransaction, seq: u64) -> Result<(), StoreError> {
        let mut meta = tx.open_table(META).map_err(err("meta"))?;
        meta.insert(META_NEXT_SEQ, seq).map_err(err("write meta"))?;
        Ok(())
    }

    fn apply(
        &self,
        tx: &WriteTransaction,
        reg: &Registration,
        next_seq: &mut u64,
    ) -> Result<RegisterOutcome, StoreError> {
        let rep = reg.reporter.to_bytes();
        let mut outcome = RegisterOutcome::default();
        if tx
            .open_table(BANNED)
            .map_err(err("banned"))?
            .get(&rep[..])
            .map_err(err("read banned"))?
            .is_some()
        {
            outcome.refused = Some(Refusal::Banned);
            return Ok(outcome);
        }
        if let Some(b) = &reg.signed {
            let mut digests = tx.open_table(BODY_DIGESTS).map_err(err("body_digests"))?;
            let mut last = tx.open_table(LAST_SIGNED).map_err(err("last_signed"))?;
            if digests.get(&b.digest[..]).map_err(err("read body_digests"))?.is_some() {
                outcome.refused = Some(Refusal::AlreadyReceived);
                return Ok(outcome);
            }
            let prev = last.get(&rep[..]).map_err(err("read last_signed"))?.map(|v| v.value());
            if let Some(prev) = prev.filter(|p| *p > b.timestamp) {
                outcome.refused = Some(Refusal::OlderThanLast { last: prev });
                return Ok(outcome);
            }
            digests
                .insert(&b.digest[..], b.timestamp)
                .map_err(err("write body_digests"))?;
            last.insert(&rep[..], b.timestamp.max(prev.unwrap_or(i64::MIN)))
                .map_err(err("write last_signed"))?;
        }
        let mut touched = Vec::new();
        {
            let mut obs = tx.open_table(OBS).map_err(err("obs"))?;
            let mut by_rep = tx.open_table(BY_REPORTER).map_err(err("by_reporter"))?;
            let mut reporters = tx.open_table(REPORTERS).map_err(err("reporters"))?;
            let mut added = 0u64;
            for p in &reg.pairs {
                let k = obs_key(&p.pair, &reg.reporter);
                let cur = obs
                    .get(&k[..])
                    .map_err(err("read obs"))?
                    .and_then(|v| decode_record(v.value()));
                if let Some(new) =
                    merge_observation(cur.as_ref(), &p.result, reg.received, self.min_failure_relax_interval)
                {
                    let mut v = Vec::with_capacity(64);
                    encode_record(&new, &mut v);
                    v.extend_from_slice(&reg.received.to_raw().to_be_bytes());
                    obs.insert(&k[..], &v[..]).map_err(err("write obs"))?;
                    if cur.is_none() {
                        by_rep
                            .insert(&by_reporter_key(&rep, &pair_key(&p.pair))[..], ())
                            .map_err(err("write by_reporter"))?;
                        added += 1;
                    }
                    outcome.observations_changed += 1;
                    touched.push(p.pair);
                }
            }
            if added > 0 {
                let n = reporters
                    .get(&rep[..])
                    .map_err(err("read reporters"))?
                    .map(|v| v.value())
                    .unwrap_or(0);
                reporters.insert(&rep[..], n + added).map_err(err("write reporters"))?;
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for p in &touched {
            if Self::recompute(tx, &self.policy, p, next_seq)? {
                outcome.aggregates_changed += 1;
            }
        }
        Ok(outcome)
    }

    /// Applies a batch of registrations in one durable transaction.
    fn commit_batch(&self, batch: &[Registration]) -> BatchResult {
        let tx = self.db.begin_write().map_err(err("begin write"))?;
        let mut next_seq = Self::next_seq(&tx)?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for reg in batch {
            outcomes.push(self.apply(&tx, reg, &mut next_seq));
        }
        Self::set_next_seq(&tx, next_seq)?;
        tx.commit().map_err(err("commit"))?;
        let cursor = next_seq - 1;
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.map(|mut o| {
                    o.cursor = cursor;
                    o
                })
            })
            .collect())
    }

    /// The oldest cursor a delta can start from, and the current one.
    fn cursor_bounds(tx: &redb::ReadTransaction) -> Result<(u64, u64), StoreError> {
        let meta = tx.open_table(META).map_err(err("meta"))?;
        let read = |key: &str, default: u64| -> Result<u64, StoreError> {
            Ok(meta.get(key).map_err(err("meta"))?.map_or(default, |v| v.value()))
        };
        Ok((read(META_MIN_CURSOR, 0)?, read(META_NEXT_SEQ, 1)? - 1))
    }

    fn read_snapshot(&self) -> Result<(Vec<AggregatedPair>, u64), StoreError> {
        let tx = self.db.begin_read().map_err(err("begin read"))?;
        let agg = tx.open_table(AGG).map_err(err("agg"))?;
        let mut out = Vec::with_capacity(agg.len().map_err(err("count"))? as usize);
        for e in agg.iter().map_err(err("scan agg"))? {
            let (k, v) = e.map_err(err("scan agg"))?;
            if let Some((a, _)) = pair_from_key(k.value()).and_then(|p| decode_agg(p, v.value())) {
                out.push(a);
            }
        }
        let (_, cursor) = Self::cursor_bounds(&tx)?;
        Ok((out, cursor))
    }
}

impl CoordinatorStore for RedbCoordinatorStore {
    fn register(&self, reg: Registration) -> Result<RegisterOutcome, StoreError> {
        self.group.register(reg, |b| self.commit_batch(b))
    }

    fn snapshot(&self) -> Result<(Vec<AggregatedPair>, u64), StoreError> {
        self.read_snapshot()
    }

    fn resync_needed(&self, cursor: u64) -> Result<bool, StoreError> {
        let tx = self.db.begin_read().map_err(err("begin read"))?;
        let (min_valid, now_cursor) = Self::cursor_bounds(&tx)?;
        Ok(cursor < min_valid || cursor > now_cursor)
    }

    fn changes_since(&self, cursor: u64) -> Result<Delta, StoreError> {
        let tx = self.db.begin_read().map_err(err("begin read"))?;
        let (min_valid, now_cursor) = Self::cursor_bounds(&tx)?;
        if cursor < min_valid || cursor > now_cursor {
            drop(tx);
            let (changed, cursor) = self.read_snapshot()?;
            return Ok(Delta {
                changed,
                removed: Vec::new(),
                cursor,
                full_resync: true,
            });
        }
        let changes = tx.open_table(CHANGES).map_err(err("changes"))?;
        let agg = tx.open_table(AGG).map_err(err("agg"))?;
        let mut delta = Delta {
            cursor: now_cursor,
            ..Default::default()
        };
        for e in changes.range(cursor + 1..).map_err(err("scan changes"))? {
            let (_, v) = e.map_err(err("scan changes"))?;
            let v = v.value();
            let Some(pair) = pair_from_key(v) else { continue };
            if v.get(66) == Some(&1) {
                if let Some(a) = agg.get(&v[..66]).map_err(err("read agg"))? {
                    if let Some((a, _)) = decode_agg(pair, a.value()) {
                        delta.changed.push(a);
                    }
                }
            } else if agg.get(&v[..66]).map_err(err("read agg"))?.is_none() {
                // (A tombstone of a live pair, left by an older version,
                // is superseded by the pair's later change.)
                delta.removed.push(pair);
            }
        }
        Ok(delta)
    }

    fn forget_reporter(&self, reporter: Reporter) -> Result<usize, StoreError> {
        let _w = self.group.lock_flushed(|b| self.commit_batch(b));
        let rep = reporter.to_bytes();
        let tx = self.db.begin_write().map_err(err("begin write"))?;
        let pairs = Self::pairs_of(&tx, &rep)?;
        {
            let mut by_rep = tx.open_table(BY_REPORTER).map_err(err("by_reporter"))?;
            let mut obs = tx.open_table(OBS).map_err(err("obs"))?;
            for p in &pairs {
                obs.remove(&obs_key(p, &reporter)[..]).map_err(err("remove obs"))?;
                by_rep
                    .remove(&by_reporter_key(&rep[..], &pair_key(p))[..])
                    .map_err(err("remove by_reporter"))?;
            }
            let mut reporters = tx.open_table(REPORTERS).map_err(err("reporters"))?;
            reporters.remove(&rep[..]).map_err(err("remove reporter"))?;
        }
        let mut next_seq = Self::next_seq(&tx)?;
        for p in &pairs {
            Self::recompute(&tx, &self.policy, p, &mut next_seq)?;
        }
        Self::set_next_seq(&tx, next_seq)?;
        tx.commit().map_err(err("commit"))?;
        Ok(pairs.len())
    }

    fn cleanup(&self, stale_before: Timestamp) -> Result<usize, StoreError> {
        let _w = self.group.lock_flushed(|b| self.commit_batch(b));
        let tx = self.db.begin_write().map_err(err("begin write"))?;
        let mut stale: Vec<(DirectedPair, [u8; 33])> = Vec::new();
        {
            let obs = tx.open_table(OBS).map_err(err("obs"))?;
            for e in obs.iter().map_err(err("scan obs"))? {
                let (k, v) = e.map_err(err("scan obs"))?;
                let Some(r) = decode_record(v.value()) else { continue };
                if newest_time(&r) < stale_before {
                    let k = k.value();
                    if let (Some(p), Ok(rep)) = (pair_from_key(k), <[u8; 33]>::try_from(&k[66..99])) {
                        stale.push((p, rep));
                    }
                }
            }
        }
        {
            let mut obs = tx.open_table(OBS).map_err(err("obs"))?;
            let mut by_rep = tx.open_table(BY_REPORTER).map_err(err("by_reporter"))?;
            let mut reporters = tx.open_table(REPORTERS).map_err(err("reporters"))?;
            for (p, rep) in &stale {
                obs.remove(&obs_key(p, &Reporter::from_bytes(rep))[..])
                    .map_err(err("remove obs"))?;
                by_rep
                    .remove(&by_reporter_key(&rep[..], &pair_key(p))[..])
                    .map_err(err("remove by_reporter"))?;
                let n = reporters
                    .get(&rep[..])
                    .map_err(err("reporters"))?
                    .map(|v| v.value())
                    .unwrap_or(0);
                if n <= 1 {
                    reporters.remove(&rep[..]).map_err(err("reporters"))?;
                } else {
                    reporters.insert(&rep[..], n - 1).map_err(err("reporters"))?;
                }
            }
        }
        let mut next_seq = Self::next_seq(&tx)?;
        let mut pairs: Vec<DirectedPair> = stale.iter().map(|(p, _)| *p).collect();
        pairs.sort_unstable();
        pairs.dedup();
        for p in &pairs {
            Self::recompute(&tx, &self.policy, p, &mut next_seq)?;
        }
        // Tombstones older than the window are dropped; cursors before the
        // newest dropped one must resync in full.
        {
            let mut changes = tx.open_table(CHANGES).map_err(err("changes"))?;
            let mut tombstones = tx.open_table(TOMBSTONES).map_err(err("tombstones"))?;
            let agg = tx.open_table(AGG).map_err(err("agg"))?;
            let mut expired = Vec::new();
            let mut superseded = Vec::new();
            for e in changes.iter().map_err(err("scan changes"))? {
                let (k, v) = e.map_err(err("scan changes"))?;
                let v = v.value();
                if v.get(66) == Some(&0) {
                    if agg.get(&v[..66]).map_err(err("agg"))?.is_none() {
                        expired.push((k.value(), v[..66].to_vec()));
                    } else {
                        superseded.push(k.value());
                    }
                }
            }
            // Tombstones of live pairs (left by an older version) go
            // without a resync: the pair's later change covers them.
            for seq in superseded {
                changes.remove(seq).map_err(err("drop superseded tombstone"))?;
            }
            // Keep the tombstones this cleanup just created.
            let created_from = Self::next_seq(&tx)?;
            let mut max_expired = 0;
            for (seq, pk) in expired.into_iter().filter(|(s, _)| *s < created_from) {
                changes.remove(seq).map_err(err("expire tombstone"))?;
                tombstones.remove(&pk[..]).map_err(err("expire tombstone"))?;
                max_expired = max_expired.max(seq);
            }
            if max_expired > 0 {
                let mut meta = tx.open_table(META).map_err(err("meta"))?;
                let cur = meta
                    .get(META_MIN_CURSOR)
                    .map_err(err("meta"))?
                    .map(|v| v.value())
                    .unwrap_or(0);
                meta.insert(META_MIN_CURSOR, cur.max(max_expired))
                    .map_err(err("meta"))?;
            }
        }
        Self::set_next_seq(&tx, next_seq)?;
        tx.commit().map_err(err("commit"))?;
        Ok(stale.len())
    }

    fn stats(&self) -> Result<CoordinatorStats, StoreError> {
        let tx = self.db.begin_read().map_err(err("begin read"))?;
        let (_, cursor) = Self::cursor_bounds(&tx)?;
        let mut held = [0u64; 4];
        for e in tx
            .open_table(HELD)
            .map_err(err("held"))?
            .iter()
            .map_err(err("scan held"))?
        {
            let (_, v) = e.map_err(err("scan held"))?;
            held[usize::from(v.value().min(3))] += 1;
        }
        Ok(CoordinatorStats {
            held_no_channel: held[1],
            held_unbacked: held[2],
            held_unservable: held[3],
            reporters_discounted: self.policy.reputations().values().filter(|r| r.score < 1.0).count() as u64,
            pairs: tx.open_table(AGG).map_err(err("agg"))?.len().map_err(err("count"))?,
            observations: tx.open_table(OBS).map_err(err("obs"))?.len().map_err(err("count"))?,
            reporters: tx
                .open_table(REPORTERS)
                .map_err(err("reporters"))?
                .len()
                .map_err(err("count"))?,
            cursor,
        })
    }

    fn cursor(&self) -> Result<u64, StoreError> {
        let tx = self.db.begin_read().map_err(err("begin read"))?;
        Ok(Self::cursor_bounds(&tx)?.1)
    }

    fn set_policy(&self, policy: AggregationPolicy) -> Result<usize, StoreError> {
        let _w = self.group.lock_flushed(|b| self.commit_batch(b));
        self.policy.set_policy(policy);
        let tx = self.db.begin_write().map_err(err("begin write"))?;
        let mut next_seq = Self::next_seq(&tx)?;
        let mut changed = 0;
        for p in Self::all_pairs(&tx)? {
            changed += usize::from(Self::recompute(&tx, &self.policy, &p, &mut next_seq)?);
        }
        Self::set_next_seq(&tx, next_seq)?;
        tx.commit().map_err(err("commit"))?;
        Ok(changed)
    }

    fn observations(&self) -> Result<Vec<(DirectedPair, View)>, StoreError> {
        let tx = self.db.begin_read().map_err(err("begin read"))?;
        let obs = tx.open_table(OBS).map_err(err("obs"))?;
        let mut out = Vec::with_capacity(obs.len().map_err(err("count"))? as usize);
        for e in obs.iter().map_err(err("scan obs"))? {
            let (k, v) = e.map_err(err("scan obs"))?;
            let k = k.value();
            let (Some(pair), Some(record), Ok(rep)) = (
                pair_from_key(k),
                decode_record(v.value()),
                <[u8; 33]>::try_from(k.get(66..).unwrap_or_default()),
            ) else {
                continue;
            };
            out.push((
                pair,
                View {
                    reporter: Reporter::from_bytes(&rep),
                    record,
                },
            ));
        }
        Ok(out)
    }

    fn reputation_pass(&self, now: Timestamp) -> Result<PassOutcome, StoreError> {
        let _w = self.group.lock_flushed(|b| self.commit_batch(b));
        let tallies = {
            let tx = self.db.begin_read().map_err(err("begin read"))?;
            let obs = tx.open_table(OBS).map_err(err("obs"))?;
            let rows = obs.iter().map_err(err("scan obs"))?.filter_map(|e| {
                let (k, v) = match e {
                    Ok(kv) => kv,
                    Err(e) => return Some(Err(err("scan obs")(e))),
                };
                let k = k.value();
                let pair = pair_from_key(k)?;
                let record = decode_record(v.value())?;
                let rep = <[u8; 33]>::try_from(&k[66..]).ok()?;
                Some(Ok((
                    pair,
                    View {
                        reporter: Reporter::from_bytes(&rep),
                        record,
                    },
                )))
            });
            self.policy.judge_all(rows)?
        };
        let stored = self.policy.reputations();
        let (updates, changed, penalised) = self.policy.after_pass(&stored, &tallies, now);
        let tx = self.db.begin_write().map_err(err("begin write"))?;
        {
            let mut t = tx.open_table(REPUTATION).map_err(err("reputation"))?;
            for (k, r) in &updates {
                t.insert(&k.0[..], &encode_reputation(r)[..])
                    .map_err(err("write reputation"))?;
            }
        }
        let mut reps = (*stored).clone();
        reps.extend(updates.iter().copied());
        self.policy.set_reputations(reps);
        let mut pairs = Vec::new();
        for k in &changed {
            pairs.extend(Self::pairs_of(&tx, &k.0)?);
        }
        pairs.sort_unstable();
        pairs.dedup();
        let mut next_seq = Self::next_seq(&tx)?;
        let mut pairs_changed = 0;
        for p in &pairs {
            pairs_changed += usize::from(Self::recompute(&tx, &self.policy, p, &mut next_seq)?);
        }
        Self::set_next_seq(&tx, next_seq)?;
        tx.commit().map_err(err("commit"))?;
        Ok(PassOutcome {
            judged: tallies.len(),
            penalised,
            updated: updates.len(),
            pairs_changed,
        })
    }

    fn reputations(&self) -> Result<Vec<(NodeId, Reputation)>, StoreError> {
        let mut v: Vec<(NodeId, Reputation)> = self.policy.reputations().iter().map(|(k, r)| (*k, *r)).collect();
        v.sort_by_key(|(k, _)| *k);
        Ok(v)
    }

    fn ban_reporter(&self, reporter: Reporter) -> Result<bool, StoreError> {
        let _w = self.group.lock_flushed(|b| self.commit_batch(b));
        let tx = self.db.begin_write().map_err(err("begin write"))?;
        let new = tx
            .open_table(BANNED)
            .map_err(err("banned"))?
            .insert(&reporter.to_bytes()[..], ())
            .map_err(err("write banned"))?
            .is_none();
        tx.commit().map_err(err("commit"))?;
        Ok(new)
    }

    fn check(&self) -> Result<salvage::CheckReport, StoreError> {
        Ok(salvage::check_database(&self.db))
    }

    fn prune_digests(&self, before: i64) -> Result<usize, StoreError> {
        let _w = self.group.lock_flushed(|b| self.commit_batch(b));
        let tx = self.db.begin_write().map_err(err("begin write"))?;
        let n = {
            let mut t = tx.open_table(BODY_DIGESTS).map_err(err("body_digests"))?;
            let old: Vec<Vec<u8>> = t
                .iter()
                .map_err(err("scan body_digests"))?
                .filter_map(|e| e.ok())
                .filter(|(_, v)| v.value() < before)
                .map(|(k, _)| k.value().to_vec())
                .collect();
            for k in &old {
                t.remove(&k[..]).map_err(err("prune body_digests"))?;
            }
            old.len()
        };
        tx.commit().map_err(err("commit"))?;
        Ok(n)
    }

    fn observation_counts(&self, reporter: &Reporter) -> Result<(u64, u64), StoreError> {
        let tx = self.db.begin_read().map_err(err("begin read"))?;
        let mine = tx
            .open_table(REPORTERS)
            .map_err(err("reporters"))?
            .get(&reporter.to_bytes()[..])
            .map_err(err("read reporters"))?
            .map_or(0, |v| v.value());
        let all = tx.open_table(OBS).map_err(err("obs"))?.len().map_err(err("count"))?;
        Ok((mine, all))
    }

    fn reporter_observations(&self) -> Result<Vec<(Reporter, u64)>, StoreError> {
        let tx = self.db.begin_read().map_err(err("begin read"))?;
        let t = tx.open_table(REPORTERS).map_err(err("reporters"))?;
        let mut out = Vec::new();
        for e in t.iter().map_err(err("scan reporters"))? {
            let (k, v) = e.map_err(err("scan reporters"))?;
            if let Ok(k) = <[u8; 33]>::try_from(k.value()) {
                out.push((Reporter::from_bytes(&k), v.value()));
            }
        }
        Ok(out)
    }
}
