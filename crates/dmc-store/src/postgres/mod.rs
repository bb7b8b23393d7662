//! The coordinator store on PostgreSQL, for several `dmc serve` replicas
//! sharing one database.
//!
//! Same semantics as [`RedbCoordinatorStore`](crate::coordinator::RedbCoordinatorStore):
//! per-reporter observations merged with `dmc_core::aggregate::merge_observation`,
//! the served aggregate derived with `dmc_core::aggregate::aggregate`, a
//! change cursor with tombstones and a minimum valid cursor.
//!
//! # Schema (migration 1)
//!
//! * `dmc_schema_migrations(version, description, applied_at)`: applied
//!   migrations. [`PostgresCoordinatorStore::open`] applies the missing ones
//!   in one transaction holding `pg_advisory_xact_lock(MIGRATION_LOCK)`, so
//!   replicas starting together neither race nor apply one twice; a database
//!   whose schema is newer than this binary is refused.
//! * `dmc_meta`: one row: `next_seq` (the change counter), `min_valid_cursor`,
//!   and the `pairs` / `observations` counts for `/metrics`.
//! * `dmc_observations(node_from, node_to, reporter, record, newest, received)`,
//!   primary key (from, to, reporter), indexed by reporter and by `newest`.
//! * `dmc_reporters(reporter, observations)`.
//! * `dmc_pairs(node_from, node_to, record, reporters, seq)`: the aggregate;
//!   `record` NULL is a tombstone; `seq` is unique, so a delta is an index
//!   range scan `seq > cursor`.
//!
//! Keys are 33-byte `bytea`; the unattributed reporter is 33 zero bytes.
//! Records are the exact 48-byte form the embedded store uses (Go times are
//! i128 nanoseconds, outside both `bigint` and `timestamptz` precision);
//! `newest` and `received` are `timestamptz` copies (floored to the
//! microsecond) for operators and for the cleanup index.
//!
//! # Cursor order across replicas
//!
//! Every write transaction (register, forget, cleanup) runs at READ
//! COMMITTED and first takes `pg_advisory_xact_lock(WRITE_LOCK)`, then reads
//! and advances the counter row. The lock is held until commit, so sequence
//! numbers are assigned in commit order: when a reader's snapshot shows
//! `next_seq = N`, every change numbered below N is committed and visible in
//! that same snapshot (reads run in one REPEATABLE READ transaction). A
//! delta therefore never skips a change that commits late, which a plain
//! `nextval()` sequence (numbers handed out at call time, committed in any
//! order) cannot promise.
//!
//! The trade-off: writes are serialised across all replicas, one
//! transaction at a time, so write throughput is bounded by one commit's
//! latency. Each replica amortises it with group commit (registrations
//! queued while a commit is in flight go into the next transaction
//! together); reads take no lock at all. A registration is answered only
//! after its transaction committed (`synchronous_commit` is raised to `on`
//! for the session if the server has it `off`).
//!
//! # Connections
//!
//! An r2d2 pool of at most [`POOL_SIZE`] connections, each with its
//! statements prepared once, opened on demand and kept until it breaks. A
//! connection is checked with an empty query before each use, so one the
//! server dropped while idle (a restart, a failover) is replaced instead of
//! failing a call; a call waits up to 30 s for a connection (free, or newly
//! opened: while the server is unreachable the pool keeps retrying in the
//! background), then fails naming the last connection error. `open`
//! connects directly, so a wrong address fails at once.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::postgres::config::Host;
use ::postgres::fallible_iterator::FallibleIterator;
use ::postgres::types::ToSql;
use ::postgres::{Client, Config, IsolationLevel, NoTls, Row, Statement, Transaction};
use dmc_core::aggregate::{merge_observation, newest_time, Reporter, View};
use dmc_core::reputation::Reputation;
use dmc_core::{DirectedPair, NodeId, TimedPairResult, Timestamp};

use crate::coordinator::{
    decode_record, decode_reputation, encode_record, encode_reputation, held_code, AggregatedPair, AggregationPolicy,
    BatchResult, CoordinatorStats, CoordinatorStore, Delta, GroupCommit, PassOutcome, PolicyCell, Refusal,
    RegisterOutcome, Registration, RECORD_LEN,
};
use crate::StoreError;

mod schema;
#[cfg(feature = "testing")]
mod scratch;
mod url;

use schema::migrate;
pub use schema::SCHEMA_VERSION;
#[cfg(feature = "testing")]
pub use scratch::ScratchDatabase;
pub use url::{describe, parse_url, url_with_dbname};

/// Advisory lock key serialising writers (ASCII "dmc_writ").
pub const WRITE_LOCK: i64 = 0x646d_635f_7772_6974;
/// Advisory lock key serialising migrations (ASCII "dmc_migr").
pub const MIGRATION_LOCK: i64 = 0x646d_635f_6d69_6772;
/// Connections per store (one writer at a time; the rest serve reads).
pub const POOL_SIZE: usize = 8;
/// How long a call waits for a pooled connection (free, or newly opened).
const POOL_WAIT: Duration = Duration::from_secs(30);
/// How long a writer waits for another replica's write transaction.
const LOCK_TIMEOUT: &str = "60s";

/// A PostgreSQL failure of `ctx`.
fn err(ctx: &'static str) -> impl Fn(::postgres::Error) -> StoreError {
    move |e| StoreError::postgres(format!("coordinator store (PostgreSQL): {ctx}"), e)
}

/// Floors a time to whole microseconds since the Unix epoch, clamped to
/// what `timestamptz` holds. Monotonic, so `a < b` implies `us(a) <= us(b)`.
fn micros(t: Timestamp) -> i64 {
    const MIN: i128 = -200_000_000_000 * 1_000_000; // about 4400 BC
    const MAX: i128 = 9_000_000_000_000 * 1_000_000; // about 287 000 AD
    t.to_raw().div_euclid(1_000).clamp(MIN, MAX) as i64
}

fn system_time(us: i64) -> SystemTime {
    if us >= 0 {
        UNIX_EPOCH + Duration::from_micros(us as u64)
    } else {
        UNIX_EPOCH - Duration::from_micros(us.unsigned_abs())
    }
}

fn node(b: &[u8], what: &str) -> Result<NodeId, StoreError> {
    <[u8; 33]>::try_from(b).map(NodeId).map_err(|_| {
        StoreError::Corrupt(format!(
            "coordinator store (PostgreSQL): {what} is {} bytes, not 33",
            b.len()
        ))
    })
}

fn record_bytes(r: &TimedPairResult) -> Vec<u8> {
    let mut v = Vec::with_capacity(RECORD_LEN);
    encode_record(r, &mut v);
    v
}

fn record(b: &[u8], pair: &DirectedPair) -> Result<TimedPairResult, StoreError> {
    decode_record(b).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "coordinator store (PostgreSQL): record of {}→{} is {} bytes, not {RECORD_LEN}",
            dmc_core::node::encode_hex(&pair.from.0),
            dmc_core::node::encode_hex(&pair.to.0),
            b.len()
        ))
    })
}

fn row_pair(row: &Row) -> Result<DirectedPair, StoreError> {
    let from: &[u8] = row.try_get(0).map_err(err("reading node_from"))?;
    let to: &[u8] = row.try_get(1).map_err(err("reading node_to"))?;
    Ok(DirectedPair::new(node(from, "node_from")?, node(to, "node_to")?))
}

/// An observation row (node_from, node_to, reporter, record).
fn row_observation(row: &Row) -> Result<(DirectedPair, View), StoreError> {
    let pair = row_pair(row)?;
    let rep: &[u8] = row.try_get(2).map_err(err("reading reporter"))?;
    let rec: &[u8] = row.try_get(3).map_err(err("reading record"))?;
    Ok((
        pair,
        View {
            reporter: Reporter::from_bytes(&node(rep, "reporter")?.0),
            record: record(rec, &pair)?,
        },
    ))
}

/// An aggregate row (node_from, node_to, record, reporters, unverified,
/// anonymous): `None` for a tombstone.
fn row_aggregate(row: &Row) -> Result<(DirectedPair, Option<AggregatedPair>), StoreError> {
    let pair = row_pair(row)?;
    let rec: Option<&[u8]> = row.try_get(2).map_err(err("reading record"))?;
    let count = |i: usize| -> Result<u32, StoreError> {
        Ok(row.try_get::<_, i32>(i).map_err(err("reading reporter counts"))?.max(0) as u32)
    };
    let Some(rec) = rec else { return Ok((pair, None)) };
    let result = record(rec, &pair)?;
    Ok((
        pair,
        Some(AggregatedPair {
            pair,
            result,
            reporters: count(3)?,
            reporters_unverified: count(4)?,
            reporters_anonymous: count(5)?,
            newest: newest_time(&result),
        }),
    ))
}

fn seq_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("coordinator store (PostgreSQL): negative sequence number {v}")))
}

fn seq_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("coordinator store (PostgreSQL): sequence number {v} too large")))
}

/// Column arrays of a list of pairs, for `unnest($1::bytea[], $2::bytea[])`.
fn pair_arrays(pairs: &[DirectedPair]) -> (Vec<&[u8]>, Vec<&[u8]>) {
    pairs.iter().map(|p| (&p.from.0[..], &p.to.0[..])).unzip()
}

/// The statements every pooled connection has prepared.
struct Stmts {
    meta_for_update: Statement,
    meta_read: Statement,
    meta_write: Statement,
    obs_of_reporter: Statement,
    obs_upsert: Statement,
    obs_of_pairs: Statement,
    obs_delete_reporter: Statement,
    obs_stale_candidates: Statement,
    obs_delete_many: Statement,
    pairs_of_pairs: Statement,
    pairs_upsert: Statement,
    pairs_live: Statement,
    pairs_since: Statement,
    tombstones_expire: Statement,
    min_cursor_raise: Statement,
    reporter_add: Statement,
    reporter_sub: Statement,
    reporter_prune: Statement,
    reporter_delete: Statement,
    reporter_count: Statement,
    held_upsert: Statement,
    held_delete: Statement,
    held_counts: Statement,
    reputation_all: Statement,
    reputation_upsert: Statement,
    all_pairs: Statement,
    all_observations: Statement,
    pairs_of_reporters: Statement,
    digest_seen: Statement,
    digest_insert: Statement,
    last_signed: Statement,
    last_signed_upsert: Statement,
    digests_prune: Statement,
    banned: Statement,
    ban: Statement,
}

impl Stmts {
    fn prepare(c: &mut Client) -> Result<Self, StoreError> {
        let mut p = |sql: &str| c.prepare(sql).map_err(err("preparing statements"));
        Ok(Stmts {
            meta_for_update: p("SELECT next_seq FROM dmc_meta FOR UPDATE")?,
            meta_read: p("SELECT next_seq, min_valid_cursor, pairs, observations FROM dmc_meta")?,
            meta_write: p(
                "UPDATE dmc_meta SET next_seq = $1, pairs = pairs + $2, observations = observations + $3",
            )?,
            // The lookups by a list of pairs are one primary-key probe per
            // pair (LATERAL with LIMIT/OFFSET is not flattened into a join),
            // whatever the statistics say: right after a bulk load, before
            // ANALYZE, the planner would otherwise hash-join a full scan.
            obs_of_reporter: p("SELECT o.node_from, o.node_to, o.record \
                 FROM unnest($1::bytea[], $2::bytea[]) AS u(f, t) CROSS JOIN LATERAL \
                 (SELECT * FROM dmc_observations o \
                  WHERE o.node_from = u.f AND o.node_to = u.t AND o.reporter = $3 LIMIT 1) o")?,
            obs_upsert: p("INSERT INTO dmc_observations (node_from, node_to, reporter, record, newest, received) \
                 SELECT u.f, u.t, $3, u.r, u.n, $6 \
                 FROM unnest($1::bytea[], $2::bytea[], $4::bytea[], $5::timestamptz[]) AS u(f, t, r, n) \
                 ON CONFLICT (node_from, node_to, reporter) DO UPDATE \
                 SET record = excluded.record, newest = excluded.newest, received = excluded.received")?,
            obs_of_pairs: p("SELECT o.node_from, o.node_to, o.record, o.reporter \
                 FROM unnest($1::bytea[], $2::bytea[]) AS u(f, t) CROSS JOIN LATERAL \
                 (SELECT * FROM dmc_observations o WHERE o.node_from = u.f AND o.node_to = u.t OFFSET 0) o")?,
            obs_delete_reporter: p("DELETE FROM dmc_observations WHERE reporter = $1 RETURNING node_from, node_to")?,
            obs_stale_candidates: p(
                "SELECT node_from, node_to, reporter, record FROM dmc_observations WHERE newest <= $1",
            )?,
            obs_delete_many: p("DELETE FROM dmc_observations o \
                 USING unnest($1::bytea[], $2::bytea[], $3::bytea[]) AS u(f, t, r) \
                 WHERE o.node_from = u.f AND o.node_to = u.t AND o.reporter = u.r")?,
            pairs_of_pairs: p("SELECT p.node_from, p.node_to, p.record, p.reporters, p.unverified, p.anonymous \
                 FROM unnest($1::bytea[], $2::bytea[]) AS u(f, t) CROSS JOIN LATERAL \
                 (SELECT * FROM dmc_pairs p WHERE p.node_from = u.f AND p.node_to = u.t LIMIT 1) p")?,
            pairs_upsert: p("INSERT INTO dmc_pairs (node_from, node_to, record, reporters, seq, unverified, anonymous) \
                 SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::int4[], $5::int8[], \
                 $6::int4[], $7::int4[]) \
                 ON CONFLICT (node_from, node_to) DO UPDATE \
                 SET record = excluded.record, reporters = excluded.reporters, seq = excluded.seq, \
                 unverified = excluded.unverified, anonymous = excluded.anonymous")?,
            // One sequential scan; sorted by pair in memory.
            pairs_live: p("SELECT node_from, node_to, record, reporters, unverified, anonymous \
                 FROM dmc_pairs WHERE record IS NOT NULL")?,
            // At most `$2 - $1` rows lie in (`$1`, `$2`]: the LIMIT tells the
            // planner so, and a short delta walks the seq index.
            pairs_since: p("SELECT node_from, node_to, record, reporters, unverified, anonymous FROM dmc_pairs \
                 WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3")?,
            tombstones_expire: p("WITH d AS (DELETE FROM dmc_pairs WHERE record IS NULL AND seq < $1 RETURNING seq) \
                 SELECT max(seq) FROM d")?,
            min_cursor_raise: p("UPDATE dmc_meta SET min_valid_cursor = GREATEST(min_valid_cursor, $1)")?,
            reporter_add: p("INSERT INTO dmc_reporters (reporter, observations) VALUES ($1, $2) \
                 ON CONFLICT (reporter) DO UPDATE SET observations = dmc_reporters.observations + excluded.observations")?,
            reporter_sub: p("UPDATE dmc_reporters r SET observations = r.observations - u.n \
                 FROM unnest($1::bytea[], $2::int8[]) AS u(rep, n) WHERE r.reporter = u.rep")?,
            reporter_prune: p("DELETE FROM dmc_reporters WHERE observations <= 0")?,
            reporter_delete: p("DELETE FROM dmc_reporters WHERE reporter = $1")?,
            reporter_count: p("SELECT count(*) FROM dmc_reporters")?,
            held_upsert: p("INSERT INTO dmc_held (node_from, node_to, reason) \
                 SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::int2[]) \
                 ON CONFLICT (node_from, node_to) DO UPDATE SET reason = excluded.reason")?,
            held_delete: p("DELETE FROM dmc_held h USING unnest($1::bytea[], $2::bytea[]) AS u(f, t) \
                 WHERE h.node_from = u.f AND h.node_to = u.t")?,
            held_counts: p("SELECT reason, count(*) FROM dmc_held GROUP BY reason")?,
            reputation_all: p("SELECT reporter, reputation FROM dmc_reputation")?,
            reputation_upsert: p("INSERT INTO dmc_reputation (reporter, reputation) \
                 SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                 ON CONFLICT (reporter) DO UPDATE SET reputation = excluded.reputation")?,
            all_pairs: p("SELECT node_from, node_to FROM dmc_observations \
                 UNION SELECT node_from, node_to FROM dmc_pairs WHERE record IS NOT NULL")?,
            // Every pair, lone ones too: the graph checks each success (reputation's graph witness).
            all_observations: p("SELECT node_from, node_to, reporter, record FROM dmc_observations ORDER BY 1, 2")?,
            pairs_of_reporters: p("SELECT DISTINCT node_from, node_to FROM dmc_observations \
                 WHERE reporter = ANY($1::bytea[])")?,
            digest_seen: p("SELECT 1 FROM dmc_body_digests WHERE digest = $1")?,
            digest_insert: p("INSERT INTO dmc_body_digests (digest, timestamp) VALUES ($1, $2)")?,
            last_signed: p("SELECT timestamp FROM dmc_last_signed WHERE reporter = $1")?,
            last_signed_upsert: p("INSERT INTO dmc_last_signed (reporter, timestamp) VALUES ($1, $2) \
                 ON CONFLICT (reporter) DO UPDATE \
                 SET timestamp = GREATEST(dmc_last_signed.timestamp, excluded.timestamp)")?,
            digests_prune: p("DELETE FROM dmc_body_digests WHERE timestamp < $1")?,
            banned: p("SELECT 1 FROM dmc_banned WHERE reporter = $1")?,
            ban: p("INSERT INTO dmc_banned (reporter) VALUES ($1) ON CONFLICT DO NOTHING")?,
        })
    }
}

/// A connection with its prepared statements.
struct Conn {
    client: Client,
    s: Stmts,
}

impl Conn {
    /// A client with the session settings, no statements prepared.
    fn open_unprepared(config: &Config) -> Result<Client, StoreError> {
        let mut client = config.connect(NoTls).map_err(|e| {
            StoreError::postgres(
                format!("coordinator store (PostgreSQL): connecting to {}", describe(config)),
                e,
            )
        })?;
        // Registrations must be durable before they are answered.
        let sc = client
            .query_one("SHOW synchronous_commit", &[])
            .and_then(|r| r.try_get::<_, String>(0))
            .map_err(err("reading synchronous_commit"))?;
        if sc == "off" {
            client
                .batch_execute("SET synchronous_commit = on")
                .map_err(err("setting synchronous_commit"))?;
        }
        // Statements are prepared once per connection. A generic plan made
        // while a table was small (or for `seq > $1` with `$1` unknown)
        // would scan whole tables; plan each execution with its values.
        client
            .batch_execute("SET plan_cache_mode = force_custom_plan")
            .map_err(err("setting plan_cache_mode"))?;
        Ok(client)
    }

    fn open(config: &Config) -> Result<Conn, StoreError> {
        let mut client = Self::open_unprepared(config)?;
        let s = Stmts::prepare(&mut client)?;
        Ok(Conn { client, s })
    }
}

/// Opens the pool's connections ([`Conn::open`]) and tells it which are
/// still usable.
struct Connector {
    config: Config,
}

impl r2d2::ManageConnection for Connector {
    type Connection = Conn;
    type Error = StoreError;

    fn connect(&self) -> Result<Conn, StoreError> {
        Conn::open(&self.config)
    }

    /// One round trip before each checkout: a connection the server or the
    /// network dropped while it was idle is replaced, not handed out.
    fn is_valid(&self, conn: &mut Conn) -> Result<(), StoreError> {
        conn.client
            .simple_query("")
            .map(drop)
            .map_err(err("checking a pooled connection"))
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.client.is_closed()
    }
}

/// At most [`POOL_SIZE`] connections (r2d2), opened on demand and kept
/// until they break.
struct Pool {
    /// Taken only by `drop`.
    pool: Option<r2d2::Pool<Connector>>,
    config: Config,
}

impl Pool {
    fn new(config: Config, wait: Duration) -> Self {
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE as u32)
            .min_idle(Some(0))
            .idle_timeout(None)
            .max_lifetime(None)
            .connection_timeout(wait)
            .test_on_check_out(true)
            .build_unchecked(Connector { config: config.clone() });
        Pool {
            pool: Some(pool),
            config,
        }
    }

    fn inner(&self) -> &r2d2::Pool<Connector> {
        self.pool.as_ref().expect("present until dropped")
    }

    /// A free connection, waiting up to the pool's wait for one.
    fn get(&self) -> Result<r2d2::PooledConnection<Connector>, StoreError> {
        let pool = self.inner();
        pool.get().map_err(|e| StoreError::Pool {
            context: format!(
                "coordinator store (PostgreSQL): no connection of {POOL_SIZE} free or opened within {} s",
                pool.connection_timeout().as_secs()
            ),
            source: std::sync::Arc::new(e),
        })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // A `postgres::Client` closes by blocking on its own runtime, which
        // panics on an async worker thread (where a server may drop its
        // last reference): close them on a plain thread.
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// A write transaction holding the cluster-wide write lock.
struct Write<'a> {
    tx: Transaction<'a>,
    s: &'a Stmts,
    policy: &'a PolicyCell,
    next_seq: u64,
    pairs_delta: i64,
    obs_delta: i64,
}

impl<'a> Write<'a> {
    fn begin(conn: &'a mut Conn, policy: &'a PolicyCell) -> Result<Write<'a>, StoreError> {
        let Conn { client, s } = conn;
        // READ COMMITTED: each statement sees what committed before it, so
        // the counter read after the lock is granted is the latest one.
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .map_err(err("begin"))?;
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
        ))
        .map_err(err("taking the write lock"))?;
        let next: i64 = tx
            .query_one(&s.meta_for_update, &[])
            .and_then(|r| r.try_get(0))
            .map_err(err("reading the change counter"))?;
        Ok(Write {
            tx,
            s,
            policy,
            next_seq: seq_u64(next)?,
            pairs_delta: 0,
            obs_delta: 0,
        })
    }

    fn commit(mut self) -> Result<u64, StoreError> {
        let next = seq_i64(self.next_seq)?;
        self.tx
            .execute(&self.s.meta_write, &[&next, &self.pairs_delta, &self.obs_delta])
            .map_err(err("writing the change counter"))?;
        self.tx.commit().map_err(err("commit"))?;
        Ok(self.next_seq - 1)
    }

    /// Recomputes the aggregates of `pairs` (sorted, distinct) from their
    /// observations; each changed one gets the next sequence number.
    /// Returns how many changed.
    fn recompute(&mut self, pairs: &[DirectedPair]) -> Result<usize, StoreError> {
        if pairs.is_empty() {
            return Ok(0);
        }
        let (froms, tos) = pair_arrays(pairs);
        let mut records: HashMap<DirectedPair, Vec<View>> = HashMap::with_capacity(pairs.len());
        for row in self
            .tx
            .query(&self.s.obs_of_pairs, &[&froms, &tos])
            .map_err(err("reading observations"))?
        {
            let pair = row_pair(&row)?;
            let rec: &[u8] = row.try_get(2).map_err(err("reading record"))?;
            let rep: &[u8] = row.try_get(3).map_err(err("reading reporter"))?;
            records.entry(pair).or_default().push(View {
                reporter: Reporter::from_bytes(&node(rep, "reporter")?.0),
                record: record(rec, &pair)?,
            });
        }
        // Views in reporter order, as the embedded store reads them.
        for v in records.values_mut() {
            v.sort_by_key(|v| v.reporter.to_bytes());
        }
        let mut old: HashMap<DirectedPair, AggregatedPair> = HashMap::with_capacity(pairs.len());
        for row in self
            .tx
            .query(&self.s.pairs_of_pairs, &[&froms, &tos])
            .map_err(err("reading aggregates"))?
        {
            if let (pair, Some(a)) = row_aggregate(&row)? {
                old.insert(pair, a);
            }
        }
        let mut up_from = Vec::new();
        let mut up_to = Vec::new();
        let mut up_rec: Vec<Option<Vec<u8>>> = Vec::new();
        let mut up_reporters: Vec<[i32; 3]> = Vec::new();
        let mut up_seq: Vec<i64> = Vec::new();
        let (mut held_from, mut held_to, mut held_reason) = (Vec::new(), Vec::new(), Vec::new());
        let (mut free_from, mut free_to) = (Vec::new(), Vec::new());
        let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        for p in pairs {
            let verdict = self.policy.verdict(p, records.get(p).map_or(&[][..], |v| &v[..]));
            match verdict.and_then(Result::err) {
                Some(h) => {
                    held_from.push(&p.from.0[..]);
                    held_to.push(&p.to.0[..]);
                    held_reason.push(i16::from(held_code(h)));
                }
                None => {
                    free_from.push(&p.from.0[..]);
                    free_to.push(&p.to.0[..]);
                }
            }
            let new = verdict.and_then(Result::ok);
            let before = old.get(p);
            let same = match (before, &new) {
                (Some(o), Some(n)) => o.same_as(n),
                (None, None) => true,
                _ => false,
            };
            if same {
                continue;
            }
            self.pairs_delta += i64::from(new.is_some()) - i64::from(before.is_some());
            up_from.push(&p.from.0[..]);
            up_to.push(&p.to.0[..]);
            up_rec.push(new.as_ref().map(|n| record_bytes(&n.result)));
            up_reporters.push(new.map_or([0; 3], |n| {
                [count(n.established), count(n.unverified), count(n.anonymous)]
            }));
            up_seq.push(seq_i64(self.next_seq)?);
            self.next_seq += 1;
        }
        if !held_from.is_empty() {
            self.tx
                .execute(&self.s.held_upsert, &[&held_from, &held_to, &held_reason])
                .map_err(err("writing held pairs"))?;
        }
        if !free_from.is_empty() {
            self.tx
                .execute(&self.s.held_delete, &[&free_from, &free_to])
                .map_err(err("writing held pairs"))?;
        }
        if !up_seq.is_empty() {
            let col = |i: usize| up_reporters.iter().map(|c| c[i]).collect::<Vec<i32>>();
            let (est, unv, anon) = (col(0), col(1), col(2));
            self.tx
                .execute(
                    &self.s.pairs_upsert,
                    &[&up_from, &up_to, &up_rec, &est, &up_seq, &unv, &anon],
                )
                .map_err(err("writing aggregates"))?;
        }
        Ok(up_seq.len())
    }

    fn apply(&mut self, reg: &Registration, relax: dmc_core::time::DurationNs) -> Result<RegisterOutcome, StoreError> {
        let mut outcome = RegisterOutcome::default();
        let rep = reg.reporter.to_bytes();
        if self
            .tx
            .query_opt(&self.s.banned, &[&&rep[..]])
            .map_err(err("reading banned reporters"))?
            .is_some()
        {
            outcome.refused = Some(Refusal::Banned);
            return Ok(outcome);
        }
        if let Some(b) = &reg.signed {
            // Under the write lock: replicas see each other's digests.
            let seen = self
                .tx
                .query_opt(&self.s.digest_seen, &[&&b.digest[..]])
                .map_err(err("reading body digests"))?;
            if seen.is_some() {
                outcome.refused = Some(Refusal::AlreadyReceived);
                return Ok(outcome);
            }
            let last: Option<i64> = self
                .tx
                .query_opt(&self.s.last_signed, &[&&rep[..]])
                .map_err(err("reading the last signed timestamp"))?
                .map(|r| r.try_get(0))
                .transpose()
                .map_err(err("reading the last signed timestamp"))?;
            if let Some(last) = last.filter(|l| *l > b.timestamp) {
                outcome.refused = Some(Refusal::OlderThanLast { last });
                return Ok(outcome);
            }
            self.tx
                .execute(&self.s.digest_insert, &[&&b.digest[..], &b.timestamp])
                .map_err(err("writing the body digest"))?;
            self.tx
                .execute(&self.s.last_signed_upsert, &[&&rep[..], &b.timestamp])
                .map_err(err("writing the last signed timestamp"))?;
        }
        if reg.pairs.is_empty() {
            return Ok(outcome);
        }
        let mut distinct: Vec<DirectedPair> = reg.pairs.iter().map(|p| p.pair).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let (froms, tos) = pair_arrays(&distinct);
        let mut current: BTreeMap<DirectedPair, TimedPairResult> = BTreeMap::new();
        for row in self
            .tx
            .query(&self.s.obs_of_reporter, &[&froms, &tos, &&rep[..]])
            .map_err(err("reading observations"))?
        {
            let pair = row_pair(&row)?;
            let rec: &[u8] = row.try_get(2).map_err(err("reading record"))?;
            current.insert(pair, record(rec, &pair)?);
        }
        // Applied in the registration's order, as the embedded store does,
        // so a pair listed twice merges twice.
        let mut changed: BTreeMap<DirectedPair, TimedPairResult> = BTreeMap::new();
        let mut added = 0i64;
        for p in &reg.pairs {
            let cur = current.get(&p.pair);
            if let Some(new) = merge_observation(cur, &p.result, reg.received, relax) {
                if cur.is_none() {
                    added += 1;
                }
                current.insert(p.pair, new);
                changed.insert(p.pair, new);
                outcome.observations_changed += 1;
            }
        }
        if changed.is_empty() {
            return Ok(outcome);
        }
        let touched: Vec<DirectedPair> = changed.keys().copied().collect();
        let (froms, tos) = pair_arrays(&touched);
        let recs: Vec<Vec<u8>> = changed.values().map(record_bytes).collect();
        let newest: Vec<SystemTime> = changed.values().map(|r| system_time(micros(newest_time(r)))).collect();
        let received = system_time(micros(reg.received));
        self.tx
            .execute(
                &self.s.obs_upsert,
                &[&froms, &tos, &&rep[..], &recs, &newest, &received],
            )
            .map_err(err("writing observations"))?;
        if added > 0 {
            self.tx
                .execute(&self.s.reporter_add, &[&&rep[..], &added])
                .map_err(err("counting the reporter's observations"))?;
            self.obs_delta += added;
        }
        outcome.aggregates_changed = self.recompute(&touched)?;
        Ok(outcome)
    }
}

/// The coordinator store on a PostgreSQL database shared by replicas.
pub struct PostgresCoordinatorStore {
    pool: Pool,
    min_failure_relax_interval: dmc_core::time::DurationNs,
    group: GroupCommit,
    policy: PolicyCell,
}

impl PostgresCoordinatorStore {
    /// Connects, applies missing migrations, and keeps the connection for
    /// the pool. Blocking: call it outside async code (`spawn_blocking`).
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_config(parse_url(url)?)
    }

    /// [`Self::open`] with an already parsed configuration.
    pub fn open_config(config: Config) -> Result<Self, StoreError> {
        Self::open_pooled(config, POOL_WAIT)
    }

    /// [`Self::open_config`] with calls waiting up to `pool_wait` for a connection.
    fn open_pooled(mut config: Config, pool_wait: Duration) -> Result<Self, StoreError> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("dmc");
        }
        // Connected directly, so an unreachable server fails here at once
        // (the pool would retry until its wait ran out).
        let mut client = Conn::open_unprepared(&config)?;
        migrate(&mut client)?;
        let s = Stmts::prepare(&mut client)?;
        let reps = load_reputations(&mut client, &s)?;
        Ok(PostgresCoordinatorStore {
            pool: Pool::new(config, pool_wait),
            min_failure_relax_interval: dmc_core::mission_control::DEFAULT_MIN_FAILURE_RELAX_INTERVAL,
            group: GroupCommit::new(),
            policy: PolicyCell::new(reps),
        })
    }

    /// Where this store is connected (no password), for logs.
    pub fn target(&self) -> String {
        describe(&self.pool.config)
    }

    /// Applies a batch of registrations in one transaction.
    fn commit_batch(&self, batch: &[Registration]) -> BatchResult {
        let mut pooled = self.pool.get()?;
        let mut w = Write::begin(&mut pooled, &self.policy)?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for reg in batch {
            outcomes.push(w.apply(reg, self.min_failure_relax_interval)?);
        }
        let cursor = w.commit()?;
        Ok(outcomes
            .into_iter()
            .map(|mut o| {
                o.cursor = cursor;
                Ok(o)
            })
            .collect())
    }

    /// Runs `f` in one REPEATABLE READ, read-only transaction, so the
    /// counter and the rows it reads come from one snapshot.
    fn read<T>(&self, f: impl FnOnce(&mut Transaction<'_>, &Stmts) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut pooled = self.pool.get()?;
        let Conn { client, s } = &mut *pooled;
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(err("begin read"))?;
        let out = f(&mut tx, s)?;
        tx.commit().map_err(err("end read"))?;
        Ok(out)
    }
}

/// Every stored reputation (replicas share them through the database).
fn load_reputations(client: &mut Client, s: &Stmts) -> Result<HashMap<NodeId, Reputation>, StoreError> {
    let mut out = HashMap::new();
    for row in client
        .query(&s.reputation_all, &[])
        .map_err(err("reading reputations"))?
    {
        let k: &[u8] = row.try_get(0).map_err(err("reading reputations"))?;
        let v: &[u8] = row.try_get(1).map_err(err("reading reputations"))?;
        if let Some(r) = decode_reputation(v) {
            out.insert(node(k, "reporter")?, r);
        }
    }
    Ok(out)
}

fn pair_rows(rows: &[Row]) -> Result<Vec<DirectedPair>, StoreError> {
    rows.iter().map(row_pair).collect()
}

/// (next_seq, min_valid_cursor, pairs, observations)
fn read_meta(tx: &mut Transaction<'_>, s: &Stmts) -> Result<(u64, u64, u64, u64), StoreError> {
    let row = tx.query_one(&s.meta_read, &[]).map_err(err("reading dmc_meta"))?;
    let g =
        |i: usize| -> Result<u64, StoreError> { seq_u64(row.try_get::<_, i64>(i).map_err(err("reading dmc_meta"))?) };
    Ok((g(0)?, g(1)?, g(2)?, g(3)?))
}

fn live_pairs(tx: &mut Transaction<'_>, s: &Stmts) -> Result<Vec<AggregatedPair>, StoreError> {
    let rows = tx.query(&s.pairs_live, &[]).map_err(err("reading aggregates"))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        if let (_, Some(a)) = row_aggregate(row)? {
            out.push(a);
        }
    }
    // By pair, as the embedded store serves it (bytea order is byte order).
    out.sort_unstable_by_key(|a| a.pair);
    Ok(out)
}

impl CoordinatorStore for PostgresCoordinatorStore {
    fn register(&self, reg: Registration) -> Result<RegisterOutcome, StoreError> {
        self.group.register(reg, |b| self.commit_batch(b))
    }

    fn snapshot(&self) -> Result<(Vec<AggregatedPair>, u64), StoreError> {
        self.read(|tx, s| {
            let (next, ..) = read_meta(tx, s)?;
            Ok((live_pairs(tx, s)?, next - 1))
        })
    }

    fn resync_needed(&self, cursor: u64) -> Result<bool, StoreError> {
        self.read(|tx, s| {
            let (next, min_valid, ..) = read_meta(tx, s)?;
            Ok(cursor < min_valid || cursor > next - 1)
        })
    }

    fn changes_since(&self, cursor: u64) -> Result<Delta, StoreError> {
        self.read(|tx, s| {
            let (next, min_valid, ..) = read_meta(tx, s)?;
            let now = next - 1;
            if cursor < min_valid || cursor > now {
                return Ok(Delta {
                    changed: live_pairs(tx, s)?,
                    removed: Vec::new(),
                    cursor: now,
                    full_resync: true,
                });
            }
            let mut delta = Delta {
                cursor: now,
                ..Default::default()
            };
            let (from, to) = (seq_i64(cursor)?, seq_i64(now)?);
            for row in tx
                .query(&s.pairs_since, &[&from, &to, &(to - from)])
                .map_err(err("reading changes"))?
            {
                match row_aggregate(&row)? {
                    (_, Some(a)) => delta.changed.push(a),
                    (pair, None) => delta.removed.push(pair),
                }
            }
            Ok(delta)
        })
    }

    fn forget_reporter(&self, reporter: Reporter) -> Result<usize, StoreError> {
        let _w = self.group.lock_flushed(|b| self.commit_batch(b));
        let rep = reporter.to_bytes();
        let mut pooled = self.pool.get()?;
        let mut w = Write::begin(&mut pooled, &self.policy)?;
        let mut pairs = Vec::new();
        for row in
            w.tx.query(&w.s.obs_delete_reporter, &[&&rep[..]])
                .map_err(err("deleting observations"))?
        {
            pairs.push(row_pair(&row)?);
        }
        w.tx.execute(&w.s.reporter_delete, &[&&rep[..]])
            .map_err(err("deleting the reporter"))?;
        w.obs_delta -= pairs.len() as i64;
        pairs.sort_unstable();
        pairs.dedup();
        w.recompute(&pairs)?;
        w.commit()?;
        Ok(pairs.len())
    }

    fn cleanup(&self, stale_before: Timestamp) -> Result<usize, StoreError> {
        let _w = self.group.lock_flushed(|b| self.commit_batch(b));
        let mut pooled = self.pool.get()?;
        let mut w = Write::begin(&mut pooled, &self.policy)?;
        // `newest` is floored to the microsecond: select a superset with the
        // same rounding, then decide exactly on the stored record.
        let mut stale: Vec<(DirectedPair, [u8; 33])> = Vec::new();
        for row in
            w.tx.query(&w.s.obs_stale_candidates, &[&system_time(micros(stale_before))])
                .map_err(err("finding stale observations"))?
        {
            let pair = row_pair(&row)?;
            let rep: &[u8] = row.try_get(2).map_err(err("reading reporter"))?;
            let rec: &[u8] = row.try_get(3).map_err(err("reading record"))?;
            if newest_time(&record(rec, &pair)?) < stale_before {
                stale.push((pair, node(rep, "reporter")?.0));
            }
        }
        if !stale.is_empty() {
            let froms: Vec<&[u8]> = stale.iter().map(|(p, _)| &p.from.0[..]).collect();
            let tos: Vec<&[u8]> = stale.iter().map(|(p, _)| &p.to.0[..]).collect();
            let reps: Vec<&[u8]> = stale.iter().map(|(_, r)| &r[..]).collect();
            w.tx.execute(&w.s.obs_delete_many, &[&froms, &tos, &reps])
                .map_err(err("deleting stale observations"))?;
            let mut per_reporter: BTreeMap<[u8; 33], i64> = BTreeMap::new();
            for (_, r) in &stale {
                *per_reporter.entry(*r).or_default() += 1;
            }
            let reps: Vec<&[u8]> = per_reporter.keys().map(|r| &r[..]).collect();
            let counts: Vec<i64> = per_reporter.values().copied().collect();
            w.tx.execute(&w.s.reporter_sub, &[&reps, &counts])
                .map_err(err("counting reporters' observations"))?;
            w.tx.execute(&w.s.reporter_prune, &[])
                .map_err(err("removing reporters without observations"))?;
            w.obs_delta -= stale.len() as i64;
        }
        let created_from = seq_i64(w.next_seq)?;
        let mut pairs: Vec<DirectedPair> = stale.iter().map(|(p, _)| *p).collect();
        pairs.sort_unstable();
        pairs.dedup();
        w.recompute(&pairs)?;
        // Tombstones left by earlier cleanups expire (this one's stay until
        // the next); cursors before the newest expired one resync in full.
        let expired: Option<i64> =
            w.tx.query_one(&w.s.tombstones_expire, &[&created_from])
                .and_then(|r| r.try_get(0))
                .map_err(err("expiring tombstones"))?;
        if let Some(max_expired) = expired {
            w.tx.execute(&w.s.min_cursor_raise, &[&max_expired])
                .map_err(err("raising the minimum valid cursor"))?;
        }
        w.commit()?;
        Ok(stale.len())
    }

    fn stats(&self) -> Result<CoordinatorStats, StoreError> {
        self.read(|tx, s| {
            let (next, _, pairs, observations) = read_meta(tx, s)?;
            let reporters: i64 = tx
                .query_one(&s.reporter_count, &[])
                .and_then(|r| r.try_get(0))
                .map_err(err("counting reporters"))?;
            let mut held = [0u64; 4];
            for row in tx.query(&s.held_counts, &[]).map_err(err("counting held pairs"))? {
                let reason: i16 = row.try_get(0).map_err(err("counting held pairs"))?;
                let n: i64 = row.try_get(1).map_err(err("counting held pairs"))?;
                held[reason.clamp(0, 3) as usize] += n.max(0) as u64;
            }
            Ok(CoordinatorStats {
                pairs,
                observations,
                reporters: reporters.max(0) as u64,
                cursor: next - 1,
                held_no_channel: held[1],
                held_unbacked: held[2],
                held_unservable: held[3],
                reporters_discounted: self.policy.reputations().values().filter(|r| r.score < 1.0).count() as u64,
            })
        })
    }

    fn cursor(&self) -> Result<u64, StoreError> {
        let mut pooled = self.pool.get()?;
        let Conn { client, s } = &mut *pooled;
        let next: i64 = client
            .query_one(&s.meta_read, &[])
            .and_then(|r| r.try_get(0))
            .map_err(err("reading the cursor"))?;
        Ok(seq_u64(next)? - 1)
    }

    fn set_policy(&self, policy: AggregationPolicy) -> Result<usize, StoreError> {
        let _w = self.group.lock_flushed(|b| self.commit_batch(b));
        self.policy.set_policy(policy);
        let mut pooled = self.pool.get()?;
        let mut w = Write::begin(&mut pooled, &self.policy)?;
        let mut pairs = pair_rows(&w.tx.query(&w.s.all_pairs, &[]).map_err(err("listing pairs"))?)?;
        pairs.sort_unstable();
        pairs.dedup();
        let mut changed = 0;
        for chunk in pairs.chunks(5_000) {
            changed += w.recompute(chunk)?;
        }
        w.commit()?;
        Ok(changed)
    }

    fn observations(&self) -> Result<Vec<(DirectedPair, View)>, StoreError> {
        let mut pooled = self.pool.get()?;
        let Conn { client, s } = &mut *pooled;
        let rows = client
            .query(&s.all_observations, &[])
            .map_err(err("reading observations"))?;
        let mut out = rows
            .iter()
            .map(row_observation)
            .collect::<Result<Vec<_>, StoreError>>()?;
        // The statement orders by pair only (the reputation pass needs no
        // more); within a pair, by reporter as the embedded store keys them.
        out.sort_by_key(|(p, v)| (*p, v.reporter.to_bytes()));
        Ok(out)
    }

    fn reputation_pass(&self, now: Timestamp) -> Result<PassOutcome, StoreError> {
        let _w = self.group.lock_flushed(|b| self.commit_batch(b));
        let mut pooled = self.pool.get()?;
        // Another replica's pass may have run: start from the shared values.
        {
            let Conn { client, s } = &mut *pooled;
            self.policy.set_reputations(load_reputations(client, s)?);
        }
        let tallies = {
            let Conn { client, s } = &mut *pooled;
            // Streamed: a pass holds one pair's views, not the whole table.
            let rows = client
                .query_raw(&s.all_observations, std::iter::empty::<&(dyn ToSql + Sync)>())
                .map_err(err("reading observations"))?;
            self.policy.judge_all(
                rows.iterator()
                    .map(|row| row_observation(&row.map_err(err("reading observations"))?)),
            )?
        };
        let stored = self.policy.reputations();
        let (updates, changed, penalised) = self.policy.after_pass(&stored, &tallies, now);
        let mut w = Write::begin(&mut pooled, &self.policy)?;
        if !updates.is_empty() {
            let keys: Vec<&[u8]> = updates.iter().map(|(k, _)| &k.0[..]).collect();
            let vals: Vec<Vec<u8>> = updates.iter().map(|(_, r)| encode_reputation(r).to_vec()).collect();
            w.tx.execute(&w.s.reputation_upsert, &[&keys, &vals])
                .map_err(err("writing reputations"))?;
        }
        let mut reps = (*stored).clone();
        reps.extend(updates.iter().copied());
        self.policy.set_reputations(reps);
        let mut pairs_changed = 0;
        if !changed.is_empty() {
            let keys: Vec<&[u8]> = changed.iter().map(|k| &k.0[..]).collect();
            let mut pairs = pair_rows(
                &w.tx
                    .query(&w.s.pairs_of_reporters, &[&keys])
                    .map_err(err("listing the reporters' pairs"))?,
            )?;
            pairs.sort_unstable();
            for chunk in pairs.chunks(5_000) {
                pairs_changed += w.recompute(chunk)?;
            }
        }
        w.commit()?;
        Ok(PassOutcome {
            judged: tallies.len(),
            penalised,
            updated: updates.len(),
            pairs_changed,
        })
    }

    fn reputations(&self) -> Result<Vec<(NodeId, Reputation)>, StoreError> {
        let mut pooled = self.pool.get()?;
        let Conn { client, s } = &mut *pooled;
        let mut v: Vec<(NodeId, Reputation)> = load_reputations(client, s)?.into_iter().collect();
        v.sort_by_key(|(k, _)| *k);
        Ok(v)
    }

    fn ban_reporter(&self, reporter: Reporter) -> Result<bool, StoreError> {
        let _w = self.group.lock_flushed(|b| self.commit_batch(b));
        let mut pooled = self.pool.get()?;
        let mut w = Write::begin(&mut pooled, &self.policy)?;
        let n =
            w.tx.execute(&w.s.ban, &[&&reporter.to_bytes()[..]])
                .map_err(err("banning the reporter"))?;
        w.commit()?;
        Ok(n == 1)
    }

    fn prune_digests(&self, before: i64) -> Result<usize, StoreError> {
        let _w = self.group.lock_flushed(|b| self.commit_batch(b));
        let mut pooled = self.pool.get()?;
        let mut w = Write::begin(&mut pooled, &self.policy)?;
        let n =
            w.tx.execute(&w.s.digests_prune, &[&before])
                .map_err(err("pruning body digests"))?;
        w.commit()?;
        Ok(n as usize)
    }

    fn observation_counts(&self, reporter: &Reporter) -> Result<(u64, u64), StoreError> {
        self.read(|tx, s| {
            let (_, _, _, all) = read_meta(tx, s)?;
            let mine: Option<i64> = tx
                .query_opt(
                    "SELECT observations FROM dmc_reporters WHERE reporter = $1",
                    &[&&reporter.to_bytes()[..]],
                )
                .map_err(err("reading the reporter's count"))?
                .map(|r| r.try_get(0))
                .transpose()
                .map_err(err("reading the reporter's count"))?;
            Ok((mine.unwrap_or(0).max(0) as u64, all))
        })
    }

    fn reporter_observations(&self) -> Result<Vec<(Reporter, u64)>, StoreError> {
        let mut pooled = self.pool.get()?;
        let Conn { client, .. } = &mut *pooled;
        let mut out = Vec::new();
        for row in client
            .query("SELECT reporter, observations FROM dmc_reporters", &[])
            .map_err(err("reading reporters"))?
        {
            let k: &[u8] = row.try_get(0).map_err(err("reading reporters"))?;
            let n: i64 = row.try_get(1).map_err(err("reading reporters"))?;
            out.push((Reporter::from_bytes(&node(k, "reporter")?.0), n.max(0) as u64));
        }
        Ok(out)
    }
}

#[cfg(all(test, feature = "testing"))]
mod pool_tests {
    use super::*;

    /// When no connection can be opened (here: the database is gone), a
    /// call retries for the pool's wait, then fails naming the last
    /// connection error.
    #[test]
    fn calls_wait_for_a_connection_then_name_the_last_error() {
        let Ok(admin) = std::env::var("DMC_TEST_DATABASE_URL") else {
            // Past the harness's capture, so it shows in `cargo test` output.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"SKIPPED calls_wait_for_a_connection_then_name_the_last_error: DMC_TEST_DATABASE_URL not set\n",
            );
            return;
        };
        let db = ScratchDatabase::create(&admin, "dmc_test").unwrap();
        let wait = Duration::from_secs(2);
        let s = PostgresCoordinatorStore::open_pooled(parse_url(db.url()).unwrap(), wait).unwrap();
        assert_eq!(s.cursor().unwrap(), 0);
        let name = db.name().to_string();
        // Drops the database and every connection to it.
        drop(db);
        let started = std::time::Instant::now();
        let e = s.cursor().unwrap_err();
        assert!(started.elapsed() >= wait, "{:?}", started.elapsed());
        assert!(matches!(e, StoreError::Pool { .. }), "{e:?}");
        let e = e.to_string();
        assert!(e.contains("within 2 s") && e.contains(&name), "{e}");
    }
}
