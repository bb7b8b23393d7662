//! `dmc admin check` and `dmc admin salvage`: verifying an embedded store,
//! and copying every readable record of a damaged one into a new store.
//!
//! Only some tables hold what was accepted: the observations (`obs`), the
//! reputations, the bans, and the replay state (body digests and each
//! reporter's last signed timestamp). Everything else (the per-reporter
//! index and counts, the aggregate, the change log, tombstones, held
//! reasons) is derived from those, so salvage copies the primary tables
//! and recomputes the rest; check verifies that the derived tables agree
//! with the primary ones.
//!
//! Neither command writes to the file it reads: both work on a copy,
//! because redb repairs a file it opens after an unclean shutdown, and an
//! operator's damaged store is evidence to keep as it is.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use dmc_core::aggregate::{servable, MAX_MSAT};
use dmc_core::node::encode_hex as hex;
use redb::{Database, ReadableTable, TableDefinition, TableHandle};

use super::*;

/// At most this many problems are listed; the rest are only counted.
pub const MAX_LISTED: usize = 50;

/// What `dmc admin check` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Entries read, by table.
    pub entries: BTreeMap<&'static str, u64>,
    /// The first [`MAX_LISTED`] problems, each naming its table.
    pub problems: Vec<String>,
    /// All problems, listed or not.
    pub problems_total: u64,
    /// redb's own page check: `Some(true)` passed, `Some(false)` failed but
    /// repairable, `None` not run (the server's open store).
    pub integrity: Option<bool>,
}

impl CheckReport {
    /// No problem found and redb's page check did not fail.
    pub fn is_ok(&self) -> bool {
        self.problems_total == 0 && self.integrity != Some(false)
    }

    fn problem(&mut self, p: String) {
        self.problems_total += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(p);
        }
    }
}

/// What `dmc admin salvage` copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SalvageReport {
    /// The new store.
    pub out: PathBuf,
    /// Records copied, by table.
    pub copied: BTreeMap<&'static str, u64>,
    /// Records read but refused (undecodable or out of range), by table.
    pub refused: BTreeMap<&'static str, u64>,
    /// Stretches of a table that could not be read (damaged pages).
    pub unreadable_ranges: u64,
    /// Pairs the new store serves after recomputing the aggregate.
    pub served_pairs: u64,
}

/// Whether a decoded observation is one the store could have written:
/// amounts within [`MAX_MSAT`] + 1 (the crossing rule's +1).
fn plausible_record(r: &TimedPairResult) -> bool {
    let bound = MAX_MSAT.saturating_add(Msat(1));
    r.fail_amt_msat <= bound && r.success_amt_msat <= bound
}

/// A decoded `obs` entry.
struct Observation {
    pair: DirectedPair,
    reporter: [u8; 33],
}

fn decode_obs(k: &[u8], v: &[u8]) -> Result<Observation, String> {
    if k.len() != 99 {
        return Err(format!("key of {} bytes, not 99", k.len()));
    }
    let pair = pair_from_key(k).ok_or("bad pair key")?;
    if pair.from == pair.to {
        return Err("a pair from a node to itself".into());
    }
    let reporter: [u8; 33] = k[66..].try_into().map_err(|_| "bad reporter")?;
    if v.len() != RECORD_LEN + 16 {
        return Err(format!("value of {} bytes, not {}", v.len(), RECORD_LEN + 16));
    }
    let r = decode_record(v).ok_or("undecodable record")?;
    if !plausible_record(&r) {
        return Err("amount out of range".into());
    }
    Ok(Observation { pair, reporter })
}

/// How a scan resumes past damage: the first key to try after the last
/// one read (`anchor`, `None` at the table's start), skipping a range 256
/// times wider at each failed `try` (1, 2, ...) from the same anchor.
fn skip_bytes(anchor: Option<&[u8]>, tries: u32) -> Option<Vec<u8>> {
    let Some(a) = anchor else {
        return u8::try_from(tries).ok().map(|b| vec![b]);
    };
    if tries <= 1 {
        let mut k = a.to_vec();
        k.push(0);
        return Some(k);
    }
    let keep = a.len().checked_sub(usize::try_from(tries - 2).ok()?)?;
    let mut k = a[..keep].to_vec();
    while let Some(b) = k.last_mut() {
        if *b < 0xff {
            *b += 1;
            return Some(k);
        }
        k.pop();
    }
    None
}

fn skip_u64(anchor: Option<u64>, tries: u32) -> Option<u64> {
    let step = 1u64 << (4 * tries).min(63);
    anchor.unwrap_or(0).checked_add(step)
}

/// A table for reading, `None` when the store never created it.
fn open_if_there<K: redb::Key + 'static, V: redb::Value + 'static>(
    tx: &redb::ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, String> {
    match tx.open_table(def) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// What a record of the tables salvage copies must look like, so check
/// and salvage judge it alike: keys of a reporter (33 bytes) or a body
/// digest (32), reputations that decode to a score in [0, 1].
const REPORTER_KEY: usize = 33;
const DIGEST_KEY: usize = 32;

fn valid_reputation(k: &[u8], v: &[u8]) -> bool {
    k.len() == REPORTER_KEY && decode_reputation(v).is_some_and(|r| (0.0..=1.0).contains(&r.score))
}

/// The outcome of one scan attempt: how far it got, and why it stopped early.
type Attempt<K> = (Option<K>, Option<String>);

/// Runs one scan attempt, turning a panic inside redb into an error.
fn attempt<K>(f: impl FnOnce(&mut Option<K>) -> Result<(), String>) -> Attempt<K> {
    let mut last = None;
    let r = quietly(|| catch_unwind(AssertUnwindSafe(|| f(&mut last))));
    let failure = match r {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some("the database panicked reading it".to_string()),
    };
    (last, failure)
}

/// At most this many failed attempts per table before a scan gives up.
const MAX_ATTEMPTS: u64 = 4096;

/// At most this many ever wider skips past one damaged stretch before the
/// scan reads the rest of the table back from its end.
const MAX_SKIPS: u32 = 40;

/// The resumable scan both key types share: `run(from, last)` scans from
/// `from` (`None`: the start), recording each key it reads in `last`;
/// after a failure the scan restarts at `skip(anchor, tries)`, past the
/// last key read, ever further while it fails at the same place. Returns
/// the damaged stretches (each reported to `damaged`) and, when it gave up
/// before the end, `Some` of the last key read (`Some(None)`: none).
fn resume_past_damage<K: Clone>(
    name: &str,
    mut run: impl FnMut(Option<&K>, &mut Option<K>) -> Result<(), String>,
    skip: impl Fn(Option<&K>, u32) -> Option<K>,
    show: impl Fn(&K) -> String,
    damaged: &mut impl FnMut(String),
) -> (u64, Option<Option<K>>) {
    let (mut anchor, mut tries, mut failures, mut stretches) = (None::<K>, 0u32, 0u64, 0u64);
    let mut from: Option<K> = None;
    loop {
        let (last, failure) = attempt(|last: &mut Option<K>| run(from.as_ref(), last));
        let Some(failure) = failure else {
            return (stretches, None);
        };
        failures += 1;
        if last.is_some() || failures == 1 {
            (anchor, tries) = (last.or(anchor), 0);
            stretches += 1;
            damaged(format!(
                "{name}: unreadable after {}: {failure}",
                anchor.as_ref().map_or("its start".to_string(), &show)
            ));
        }
        tries += 1;
        match skip(anchor.as_ref(), tries) {
            Some(n) if tries <= MAX_SKIPS && failures < MAX_ATTEMPTS => from = Some(n),
            _ => return (stretches, Some(anchor)),
        }
    }
}

/// Scans a table keyed by bytes from start to end, calling `visit` with
/// each entry, and carries on past damage ([`resume_past_damage`]); where
/// every path forward is damaged (a branch page, or the table's last leaf,
/// which a range seeks too) it reads back from the table's end. `damaged`
/// hears of each damaged stretch; returns how many there were.
fn scan_tolerant<V: redb::Value + 'static>(
    db: &Database,
    def: TableDefinition<&'static [u8], V>,
    mut visit: impl for<'b> FnMut(&[u8], V::SelfType<'b>),
    mut damaged: impl FnMut(String),
) -> u64 {
    let (stretches, stuck_after) = resume_past_damage(
        def.name(),
        |from: Option<&Vec<u8>>, last: &mut Option<Vec<u8>>| {
            let tx = db.begin_read().map_err(|e| e.to_string())?;
            let Some(t) = open_if_there(&tx, def)? else {
                return Ok(());
            };
            let iter = match from {
                None => t.iter(),
                Some(start) => t.range(&start[..]..),
            }
            .map_err(|e| e.to_string())?;
            for e in iter {
                let (k, v) = e.map_err(|e| e.to_string())?;
                *last = Some(k.value().to_vec());
                visit(k.value(), v.value());
            }
            Ok(())
        },
        |anchor, tries| skip_bytes(anchor.map(Vec::as_slice), tries),
        |k| hex(k),
        &mut damaged,
    );
    let Some(stuck_after) = stuck_after else {
        return stretches;
    };
    let (_, failure) = attempt(|_: &mut Option<()>| {
        let tx = db.begin_read().map_err(|e| e.to_string())?;
        let t = tx.open_table(def).map_err(|e| e.to_string())?;
        for e in t.iter().map_err(|e| e.to_string())?.rev() {
            let (k, v) = e.map_err(|e| e.to_string())?;
            if stuck_after.as_deref().is_some_and(|a| k.value() <= a) {
                break;
            }
            visit(k.value(), v.value());
        }
        Ok(())
    });
    if let Some(failure) = failure {
        damaged(format!("{}: unreadable from its end: {failure}", def.name()));
    }
    stretches
}

/// [`scan_tolerant`] for a table keyed by `u64` (without the read back).
fn scan_tolerant_u64<V: redb::Value + 'static>(
    db: &Database,
    def: TableDefinition<u64, V>,
    mut visit: impl for<'b> FnMut(u64, V::SelfType<'b>),
    mut damaged: impl FnMut(String),
) -> u64 {
    resume_past_damage(
        def.name(),
        |from: Option<&u64>, last: &mut Option<u64>| {
            let tx = db.begin_read().map_err(|e| e.to_string())?;
            let Some(t) = open_if_there(&tx, def)? else {
                return Ok(());
            };
            let iter = match from {
                None => t.iter(),
                Some(start) => t.range(*start..),
            }
            .map_err(|e| e.to_string())?;
            for e in iter {
                let (k, v) = e.map_err(|e| e.to_string())?;
                *last = Some(k.value());
                visit(k.value(), v.value());
            }
            Ok(())
        },
        |anchor, tries| skip_u64(anchor.copied(), tries),
        u64::to_string,
        &mut damaged,
    )
    .0
}

/// The store's counters (`coord_meta`), read whole or not at all.
fn read_meta(db: &Database) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    let (_, failure) = attempt(|_: &mut Option<()>| {
        let tx = db.begin_read().map_err(|e| e.to_string())?;
        let Some(t) = open_if_there(&tx, META)? else {
            return Ok(());
        };
        for e in t.iter().map_err(|e| e.to_string())? {
            let (k, v) = e.map_err(|e| e.to_string())?;
            out.insert(k.value().to_string(), v.value());
        }
        Ok(())
    });
    match failure {
        None => Ok(out),
        Some(e) => Err(format!("coord_meta: unreadable: {e}")),
    }
}

/// The error when a running server holds the store (redb locks its file).
pub const IN_USE: &str = "the store is open in a running `dmc serve`";

/// Whether a running process (a `dmc serve`) holds the store file open:
/// redb takes an exclusive lock on it, so a shared lock cannot be had.
/// False for a missing or unreadable file (opening it says why).
pub fn held_by_a_server(path: &Path) -> bool {
    std::fs::File::open(path).is_ok_and(|f| matches!(f.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock)))
}

/// Copies `path` beside `into` so redb may repair the copy, never the
/// original; refuses a file a running server holds (a copy of it could be
/// torn mid-commit).
fn working_copy(path: &Path, into: &Path) -> Result<PathBuf, StoreError> {
    let meta = std::fs::metadata(path).map_err(|e| StoreError::io(path.display().to_string(), e))?;
    if !meta.is_file() {
        return Err(StoreError::Invalid(format!("{}: not a file", path.display())));
    }
    if meta.len() == 0 {
        return Err(StoreError::Corrupt(format!(
            "{}: the store file is empty (0 bytes): nothing to check or salvage",
            path.display()
        )));
    }
    if held_by_a_server(path) {
        return Err(StoreError::Locked(format!("{}: {IN_USE}", path.display())));
    }
    let copy = into.join(format!(".dmc-check-{}.redb", std::process::id()));
    std::fs::copy(path, &copy)
        .map_err(|e| StoreError::io(format!("copying {} to {}", path.display(), copy.display()), e))?;
    Ok(copy)
}

/// Opens a working copy, refusing what redb refuses (see `open_database`),
/// in messages that name the original.
fn open_copy(original: &Path, copy: &Path) -> Result<Database, StoreError> {
    open_database(copy, original)
}

/// `dmc admin check` on a store file no server has open: redb's page
/// check, then every table read and the derived tables compared with the
/// primary ones. The file itself is not written.
pub fn check_file(path: &Path) -> Result<CheckReport, StoreError> {
    let tmp = tempdir_beside(path)?;
    let copy = working_copy(path, &tmp)?;
    let result = (|| {
        let mut db = open_copy(path, &copy)?;
        let integrity = quietly(|| catch_unwind(AssertUnwindSafe(|| db.check_integrity())));
        let mut report = check_database(&db);
        match integrity {
            Ok(Ok(ok)) => report.integrity = Some(ok),
            Ok(Err(e)) => {
                report.integrity = Some(false);
                report.problem(format!("pages: {e}"));
            }
            Err(_) => {
                report.integrity = Some(false);
                report.problem("pages: the database panicked checking them".into());
            }
        }
        Ok(report)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// A private directory beside `path` for working copies.
fn tempdir_beside(path: &Path) -> Result<PathBuf, StoreError> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = parent.join(format!(".dmc-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
    Ok(dir)
}

/// Reads every table of `db` and checks what the store promises (the
/// running server's check: redb's page check needs the file to itself).
pub(super) fn check_database(db: &Database) -> CheckReport {
    let mut report = CheckReport::default();
    let problems: std::cell::RefCell<Vec<String>> = std::cell::RefCell::new(Vec::new());
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    // Primary: observations, by (pair, reporter).
    let mut obs_index: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut obs_per_reporter: BTreeMap<[u8; 33], u64> = BTreeMap::new();
    let mut pairs_with_obs: BTreeSet<DirectedPair> = BTreeSet::new();
    scan_tolerant(
        db,
        OBS,
        |k, v| {
            *counts.entry("obs").or_default() += 1;
            match decode_obs(k, v) {
                Ok(o) => {
                    obs_index.insert(by_reporter_key(&o.reporter, &k[..66]));
                    *obs_per_reporter.entry(o.reporter).or_default() += 1;
                    pairs_with_obs.insert(o.pair);
                }
                Err(e) => problems.borrow_mut().push(format!("obs {}: {e}", hex(k))),
            }
        },
        |d| problems.borrow_mut().push(d),
    );
    let mut by_reporter: BTreeSet<Vec<u8>> = BTreeSet::new();
    scan_tolerant(
        db,
        BY_REPORTER,
        |k, _| {
            *counts.entry("by_reporter").or_default() += 1;
            by_reporter.insert(k.to_vec());
        },
        |d| problems.borrow_mut().push(d),
    );
    for k in by_reporter.difference(&obs_index) {
        problems
            .borrow_mut()
            .push(format!("by_reporter {}: no observation behind it", hex(k)));
    }
    for k in obs_index.difference(&by_reporter) {
        problems
            .borrow_mut()
            .push(format!("by_reporter: missing entry for observation {}", hex(k)));
    }
    let mut stored_counts: BTreeMap<[u8; 33], u64> = BTreeMap::new();
    scan_tolerant(
        db,
        REPORTERS,
        |k, v| {
            *counts.entry("reporters").or_default() += 1;
            match <[u8; REPORTER_KEY]>::try_from(k) {
                Ok(k) => {
                    stored_counts.insert(k, v);
                }
                Err(_) => problems
                    .borrow_mut()
                    .push(format!("reporters {}: key of {} bytes, not 33", hex(k), k.len())),
            }
        },
        |d| problems.borrow_mut().push(d),
    );
    for (r, n) in &obs_per_reporter {
        let stored = stored_counts.get(r).copied().unwrap_or(0);
        if stored != *n {
            problems
                .borrow_mut()
                .push(format!("reporters {}: counts {stored}, holds {n}", hex(r)));
        }
    }
    // Derived: the aggregate and its change log.
    let (mut next_seq, mut min_cursor) = (1u64, 0u64);
    match read_meta(db) {
        Ok(m) => {
            counts.insert("coord_meta", m.len() as u64);
            next_seq = m.get(META_NEXT_SEQ).copied().unwrap_or(1);
            min_cursor = m.get(META_MIN_CURSOR).copied().unwrap_or(0);
        }
        Err(e) => problems.borrow_mut().push(e),
    }
    let mut agg_seq: BTreeMap<DirectedPair, u64> = BTreeMap::new();
    scan_tolerant(
        db,
        AGG,
        |k, v| {
            *counts.entry("agg").or_default() += 1;
            let Some(pair) = pair_from_key(k).filter(|_| k.len() == 66) else {
                problems
                    .borrow_mut()
                    .push(format!("agg {}: key of {} bytes, not 66", hex(k), k.len()));
                return;
            };
            match decode_agg(pair, v) {
                Some((a, seq)) => {
                    if servable(&a.result) != Some(a.result) {
                        problems
                            .borrow_mut()
                            .push(format!("agg {}: served record LND would not import as is", hex(k)));
                    }
                    if seq >= next_seq {
                        problems.borrow_mut().push(format!(
                            "agg {}: sequence {seq} at or past the cursor {next_seq}",
                            hex(k)
                        ));
                    }
                    if !pairs_with_obs.contains(&pair) {
                        problems
                            .borrow_mut()
                            .push(format!("agg {}: served without observations", hex(k)));
                    }
                    agg_seq.insert(pair, seq);
                }
                None => problems
                    .borrow_mut()
                    .push(format!("agg {}: undecodable value of {} bytes", hex(k), v.len())),
            }
        },
        |d| problems.borrow_mut().push(d),
    );
    let mut live_changes: BTreeMap<DirectedPair, u64> = BTreeMap::new();
    scan_tolerant_u64(
        db,
        CHANGES,
        |seq, v| {
            *counts.entry("changes").or_default() += 1;
            match (pair_from_key(v), v.get(66), v.len()) {
                (Some(p), Some(1), 67) => {
                    live_changes.insert(p, seq);
                }
                (Some(_), Some(0), 67) => {}
                _ => problems
                    .borrow_mut()
                    .push(format!("changes {seq}: undecodable value of {} bytes", v.len())),
            }
        },
        |d| problems.borrow_mut().push(d),
    );
    for (p, seq) in &agg_seq {
        if live_changes.get(p) != Some(seq) {
            problems.borrow_mut().push(format!(
                "changes: served pair {} has no change at its sequence {seq}",
                hex(&pair_key(p))
            ));
        }
    }
    scan_tolerant(
        db,
        TOMBSTONES,
        |k, _| {
            *counts.entry("tombstones").or_default() += 1;
            if k.len() != 66 {
                problems
                    .borrow_mut()
                    .push(format!("tombstones {}: key of {} bytes, not 66", hex(k), k.len()));
            }
        },
        |d| problems.borrow_mut().push(d),
    );
    scan_tolerant(
        db,
        HELD,
        |k, v| {
            *counts.entry("held").or_default() += 1;
            if k.len() != 66 || !(1..=3).contains(&v) {
                problems.borrow_mut().push(format!("held {}: bad entry", hex(k)));
            }
        },
        |d| problems.borrow_mut().push(d),
    );
    scan_tolerant(
        db,
        REPUTATION,
        |k, v| {
            *counts.entry("reputation").or_default() += 1;
            if !valid_reputation(k, v) {
                problems.borrow_mut().push(format!("reputation {}: bad entry", hex(k)));
            }
        },
        |d| problems.borrow_mut().push(d),
    );
    let mut keyed = |name: &'static str, len: usize, k: &[u8], found: &mut Vec<String>| {
        *counts.entry(name).or_default() += 1;
        if k.len() != len {
            found.push(format!("{name} {}: key of {} bytes, not {len}", hex(k), k.len()));
        }
    };
    let mut found: Vec<String> = Vec::new();
    let mut damage: Vec<String> = Vec::new();
    scan_tolerant(
        db,
        BANNED,
        |k, _| keyed("banned", REPORTER_KEY, k, &mut found),
        |d| damage.push(d),
    );
    scan_tolerant(
        db,
        BODY_DIGESTS,
        |k, _| keyed("body_digests", DIGEST_KEY, k, &mut found),
        |d| damage.push(d),
    );
    scan_tolerant(
        db,
        LAST_SIGNED,
        |k, _| keyed("last_signed", REPORTER_KEY, k, &mut found),
        |d| damage.push(d),
    );
    problems.borrow_mut().extend(found);
    problems.borrow_mut().extend(damage);
    if min_cursor > next_seq {
        problems.borrow_mut().push(format!(
            "coord_meta: oldest valid cursor {min_cursor} past the cursor {next_seq}"
        ));
    }
    for p in problems.into_inner() {
        report.problem(p);
    }
    report.entries = counts;
    report
}

/// Everything salvage could read of the primary tables.
#[derive(Default)]
struct Readable {
    obs: Vec<(Vec<u8>, Vec<u8>)>,
    reputation: Vec<(Vec<u8>, Vec<u8>)>,
    banned: Vec<Vec<u8>>,
    digests: Vec<(Vec<u8>, i64)>,
    last_signed: Vec<(Vec<u8>, i64)>,
    /// The largest sequence number seen anywhere, so wallets' cursors of
    /// the old store resync in full against the new one.
    seq_floor: u64,
}

/// `dmc admin salvage --out DIR`: copies every readable observation,
/// reputation, ban and replay record of the store at `path` into a new
/// store `DIR/coordinator.redb` (DIR must not hold one) and recomputes the
/// aggregate. The damaged file is not written.
pub fn salvage_file(path: &Path, out_dir: &Path, store_file: &str) -> Result<SalvageReport, StoreError> {
    let out = out_dir.join(store_file);
    if out.exists() {
        return Err(StoreError::Invalid(format!(
            "{}: a store is already there; salvage into an empty directory",
            out.display()
        )));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| StoreError::io(format!("creating {}", out_dir.display()), e))?;
    let copy = working_copy(path, out_dir)?;
    let read = (|| {
        let db = open_copy(path, &copy).map_err(|e| StoreError::NothingSalvaged { source: Box::new(e) })?;
        Ok::<_, StoreError>(read_primary(&db))
    })();
    let _ = std::fs::remove_file(&copy);
    let (readable, mut report) = read?;
    write_salvaged(&out, &readable, &mut report)?;
    report.out = out;
    Ok(report)
}

fn read_primary(db: &Database) -> (Readable, SalvageReport) {
    let mut r = Readable::default();
    let mut rep = SalvageReport::default();
    let mut refused: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut skipped = 0;
    skipped += scan_tolerant(
        db,
        OBS,
        |k, v| match decode_obs(k, v) {
            Ok(_) => r.obs.push((k.to_vec(), v.to_vec())),
            Err(_) => *refused.entry("obs").or_default() += 1,
        },
        |_| {},
    );
    skipped += scan_tolerant(
        db,
        REPUTATION,
        |k, v| {
            if valid_reputation(k, v) {
                r.reputation.push((k.to_vec(), v[..24].to_vec()));
            } else {
                *refused.entry("reputation").or_default() += 1;
            }
        },
        |_| {},
    );
    let mut keyed = |name: &'static str, len: usize, k: &[u8]| {
        let ok = k.len() == len;
        if !ok {
            *refused.entry(name).or_default() += 1;
        }
        ok
    };
    skipped += scan_tolerant(
        db,
        BANNED,
        |k, _| {
            if keyed("banned", REPORTER_KEY, k) {
                r.banned.push(k.to_vec());
            }
        },
        |_| {},
    );
    skipped += scan_tolerant(
        db,
        BODY_DIGESTS,
        |k, v| {
            if keyed("body_digests", DIGEST_KEY, k) {
                r.digests.push((k.to_vec(), v));
            }
        },
        |_| {},
    );
    skipped += scan_tolerant(
        db,
        LAST_SIGNED,
        |k, v| {
            if keyed("last_signed", REPORTER_KEY, k) {
                r.last_signed.push((k.to_vec(), v));
            }
        },
        |_| {},
    );
    // Sequence numbers: the stored cursor, and any larger one still readable.
    let mut floor = read_meta(db)
        .ok()
        .and_then(|m| m.get(META_NEXT_SEQ).copied())
        .unwrap_or(0);
    skipped += scan_tolerant_u64(db, CHANGES, |seq, _| floor = floor.max(seq.saturating_add(1)), |_| {});
    r.seq_floor = floor;
    rep.refused = refused;
    rep.unreadable_ranges = skipped;
    (r, rep)
}

fn write_salvaged(out: &Path, r: &Readable, report: &mut SalvageReport) -> Result<(), StoreError> {
    {
        let store = RedbCoordinatorStore::open(out)?;
        let tx = store.db.begin_write().map_err(err("begin write"))?;
        {
            let mut obs = tx.open_table(OBS).map_err(err("obs"))?;
            let mut by_rep = tx.open_table(BY_REPORTER).map_err(err("by_reporter"))?;
            let mut per_reporter: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
            for (k, v) in &r.obs {
                obs.insert(&k[..], &v[..]).map_err(err("write obs"))?;
                by_rep
                    .insert(&by_reporter_key(&k[66..], &k[..66])[..], ())
                    .map_err(err("write by_reporter"))?;
                *per_reporter.entry(k[66..].to_vec()).or_default() += 1;
            }
            let mut reporters = tx.open_table(REPORTERS).map_err(err("reporters"))?;
            for (k, n) in &per_reporter {
                reporters.insert(&k[..], *n).map_err(err("write reporters"))?;
            }
            let mut t = tx.open_table(REPUTATION).map_err(err("reputation"))?;
            for (k, v) in &r.reputation {
                t.insert(&k[..], &v[..]).map_err(err("write reputation"))?;
            }
            let mut t = tx.open_table(BANNED).map_err(err("banned"))?;
            for k in &r.banned {
                t.insert(&k[..], ()).map_err(err("write banned"))?;
            }
            let mut t = tx.open_table(BODY_DIGESTS).map_err(err("body_digests"))?;
            for (k, v) in &r.digests {
                t.insert(&k[..], *v).map_err(err("write body_digests"))?;
            }
            let mut t = tx.open_table(LAST_SIGNED).map_err(err("last_signed"))?;
            for (k, v) in &r.last_signed {
                t.insert(&k[..], *v).map_err(err("write last_signed"))?;
            }
            // Every cursor of the old store resyncs in full: the new
            // change log starts past them all and nothing before is valid.
            let floor = r.seq_floor.max(1);
            let mut meta = tx.open_table(META).map_err(err("meta"))?;
            meta.insert(META_NEXT_SEQ, floor).map_err(err("write meta"))?;
            meta.insert(META_MIN_CURSOR, floor).map_err(err("write meta"))?;
        }
        tx.commit().map_err(err("commit"))?;
    }
    // Reopened so the reputations are loaded before the aggregate is recomputed.
    let store = RedbCoordinatorStore::open(out)?;
    store.set_policy(AggregationPolicy::default())?;
    report.served_pairs = store.read_snapshot()?.0.len() as u64;
    report.copied = BTreeMap::from([
        ("obs", r.obs.len() as u64),
        ("reputation", r.reputation.len() as u64),
        ("banned", r.banned.len() as u64),
        ("body_digests", r.digests.len() as u64),
        ("last_signed", r.last_signed.len() as u64),
    ]);
    Ok(())
}
