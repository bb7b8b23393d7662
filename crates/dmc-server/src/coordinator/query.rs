//! Queries: the full snapshot (read once per cursor and shared), deltas
//! since a cursor, and the v2 answer choosing between them.

use std::any::Any;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use dmc_store::coordinator::{AggregatedPair, Delta};

use super::{ApiError, Coordinator};
use crate::config::LndRecords;

/// The full snapshot at one cursor, shared by every download of it.
pub struct CachedSnapshot {
    /// The store's cursor when it was read; served until the store's cursor moves past it.
    pub cursor: u64,
    /// What tells it apart in `ETag`s: the cursor for the aggregate;
    /// `model-<cursor>-<generation>-<unix seconds>` for the liquidity
    /// model's, which also changes with time at one cursor.
    pub tag: String,
    /// Every served pair at that cursor.
    pub pairs: Arc<Vec<AggregatedPair>>,
    /// Pairs per message or line (`query_batch_size`).
    pub batch: usize,
    /// The edge's wire renderings of this snapshot (`crate::encode`), kept
    /// with it so each is made once per cursor; opaque here, so the
    /// coordinator holds no wire type.
    pub renders: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl CachedSnapshot {
    /// The `i`-th run of `batch` pairs (the last may be shorter; empty past
    /// the end): what one streamed message carries, taken when it is sent.
    pub fn chunk(&self, i: usize, batch: usize) -> &[AggregatedPair] {
        let batch = batch.max(1);
        let start = i.saturating_mul(batch).min(self.pairs.len());
        &self.pairs[start..self.pairs.len().min(start.saturating_add(batch))]
    }
}

/// What a v2 query is answered with.
pub enum V2Answer {
    /// The changes since the client's cursor.
    Delta(Delta),
    /// The whole aggregate (no removals), streamed from the shared snapshot.
    Full {
        /// The aggregate to stream.
        snapshot: Arc<CachedSnapshot>,
        /// The client must drop what it holds first: it sent no cursor, or
        /// one too old to follow (for cursor 0, as the store flags it).
        full_resync: bool,
    },
}

impl Coordinator {
    /// The full snapshot, rebuilt only when the cursor moved; with
    /// `lnd_records = "model"`, the liquidity model's records
    /// ([`Coordinator::model_snapshot`]). Blocking.
    pub fn snapshot(&self) -> Result<Arc<CachedSnapshot>, ApiError> {
        self.metrics.query_requests.fetch_add(1, Ordering::Relaxed);
        self.served_snapshot()
    }

    /// The snapshot `lnd_records` chooses.
    fn served_snapshot(&self) -> Result<Arc<CachedSnapshot>, ApiError> {
        match self.config.lnd_records {
            LndRecords::Aggregate => self.cached_snapshot(),
            LndRecords::Model => self.model_snapshot(),
        }
    }

    fn cached_snapshot(&self) -> Result<Arc<CachedSnapshot>, ApiError> {
        let started = Instant::now();
        let cursor = self.store.cursor().map_err(|e| ApiError::Internal(e.to_string()))?;
        let cached = || {
            self.snapshot
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .filter(|s| s.cursor >= cursor)
                .cloned()
        };
        if let Some(s) = cached() {
            return Ok(s);
        }
        let _building = self.snapshot_build.lock().unwrap_or_else(|p| p.into_inner());
        // Another download may have read it while this one waited.
        if let Some(s) = cached() {
            return Ok(s);
        }
        let (pairs, cursor) = self.store.snapshot().map_err(|e| ApiError::Internal(e.to_string()))?;
        self.metrics.snapshot_builds.fetch_add(1, Ordering::Relaxed);
        let snap = Arc::new(CachedSnapshot {
            cursor,
            tag: cursor.to_string(),
            pairs: Arc::new(pairs),
            batch: self.config.query_batch_size,
            renders: Default::default(),
        });
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = Some(snap.clone());
        self.metrics
            .query_micros_total
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        Ok(snap)
    }

    /// The changes since cursor `since`, straight from the store (a full
    /// resync when the cursor is too old). Blocking.
    pub fn delta(&self, since: u64) -> Result<Delta, ApiError> {
        self.metrics.query_requests.fetch_add(1, Ordering::Relaxed);
        self.store
            .changes_since(since)
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// A v2 query: changes since `since`, or (no cursor, cursor 0, or one
    /// that needs a full resync) the whole aggregate from the cached
    /// snapshot, shared by every download of that cursor. Blocking.
    ///
    /// With `lnd_records = "model"` every answer is the model's full
    /// snapshot flagged `full_resync`: its records change with time, not
    /// only with registrations, so there are no deltas to follow.
    pub fn query_v2(&self, since: Option<u64>) -> Result<V2Answer, ApiError> {
        self.metrics.query_requests.fetch_add(1, Ordering::Relaxed);
        if self.config.lnd_records == LndRecords::Model {
            return Ok(V2Answer::Full {
                snapshot: self.model_snapshot()?,
                full_resync: true,
            });
        }
        let internal = |e: dmc_store::StoreError| ApiError::Internal(e.to_string());
        let full_resync = match since {
            None => true,
            // Everything changed since cursor 0: the whole aggregate,
            // flagged as the store flags it (a resync once tombstones expired).
            Some(0) => self.store.resync_needed(0).map_err(internal)?,
            Some(c) => {
                if !self.store.resync_needed(c).map_err(internal)? {
                    let d = self.store.changes_since(c).map_err(internal)?;
                    if !d.full_resync {
                        return Ok(V2Answer::Delta(d));
                    }
                    // A cleanup expired the cursor in between: drop the copy.
                }
                true
            }
        };
        Ok(V2Answer::Full {
            snapshot: self.cached_snapshot()?,
            full_resync,
        })
    }
}
