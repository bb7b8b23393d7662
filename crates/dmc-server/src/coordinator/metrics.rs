//! What operators see: the counters and their `/metrics` text, and the
//! `/healthz` answer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dmc_core::json::Json;

use super::Coordinator;

/// A graph older than this makes `/healthz` say `degraded`.
pub const GRAPH_MAX_AGE_SECS: i64 = 14 * 86_400;

/// Counters kept outside the coordinator whose `/metrics` text follows
/// its own (the listeners', `crate::limits`).
pub trait MetricsText: Send + Sync {
    /// Prometheus text-format lines (`# HELP`, `# TYPE`, value) for these counters.
    fn metrics_text(&self) -> String;
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    /// Registrations refused by a storage cap.
    pub refused_storage: AtomicU64,
    /// Registrations received, signed and unsigned, accepted or not.
    pub register_requests: AtomicU64,
    /// Registrations refused, for any reason.
    pub register_refused: AtomicU64,
    /// Snapshot, delta and v2 queries received.
    pub query_requests: AtomicU64,
    /// Pairs accepted in registrations (stale ones dropped on arrival not counted).
    pub pairs_received: AtomicU64,
    /// Microseconds spent handling registrations, refused ones included.
    pub register_micros_total: AtomicU64,
    /// Microseconds spent building snapshots (cache hits cost nothing here).
    pub query_micros_total: AtomicU64,
    /// Full snapshots read from the store (one per cursor that was asked for).
    pub snapshot_builds: AtomicU64,
    /// `GET /v2/liquidity` requests answered or refused by the model.
    pub liquidity_requests: AtomicU64,
    /// Pairs the liquidity model has evidence for.
    pub liquidity_pairs: AtomicU64,
}

impl Coordinator {
    /// Shows `more`'s counters after these in `/metrics`.
    pub fn add_metrics(&self, more: Arc<dyn MetricsText>) {
        self.more_metrics.write().unwrap_or_else(|p| p.into_inner()).push(more);
    }

    /// The graph's date and age for `/healthz` and `/metrics`: (Unix
    /// seconds of its newest announcement, age in seconds).
    pub fn graph_age(&self) -> Option<(i64, i64)> {
        let newest = self.graph()?.newest_update? as i64;
        Some((newest, (self.now().unix_secs() - newest).max(0)))
    }

    /// `/healthz`: `ok`, or `degraded` with the reason.
    pub fn health_json(&self) -> Json {
        let graph = self.graph();
        let age = self.graph_age();
        let problem = match (&graph, age) {
            (None, _) => Some("no graph (--graph none): reporter standing and channel checks are off".to_string()),
            (Some(_), None) => Some("the graph carries no announcement times: its age is unknown".to_string()),
            (Some(_), Some((_, a))) if a > GRAPH_MAX_AGE_SECS => Some(format!(
                "the graph is {} days old (more than {}): load a fresh describegraph with --graph and SIGHUP",
                a / 86_400,
                GRAPH_MAX_AGE_SECS / 86_400
            )),
            _ => None,
        };
        let mut f = vec![("status", Json::str(if problem.is_some() { "degraded" } else { "ok" }))];
        if let Some(p) = problem {
            f.push(("reason", Json::str(p)));
        }
        match &graph {
            Some(g) => {
                let date = age.map_or(Json::Raw("null".into()), |(t, _)| {
                    Json::str(crate::standing::utc_date(t))
                });
                f.push(("graph_date", date));
                f.push((
                    "graph_age_days",
                    age.map_or(Json::Raw("null".into()), |(_, a)| Json::Raw((a / 86_400).to_string())),
                ));
                f.push(("graph_file", Json::str(g.path.display().to_string())));
                f.push(("graph_nodes", Json::Raw(g.node_count().to_string())));
                f.push(("graph_channels", Json::Raw(g.channel_count().to_string())));
                f.push(("established_nodes", Json::Raw(g.established_count().to_string())));
            }
            None => f.push(("graph_date", Json::Raw("null".into()))),
        }
        Json::object(f)
    }

    /// Prometheus text for `/metrics`.
    pub fn metrics_text(&self) -> String {
        let m = &self.metrics;
        let stats = self.store.stats().unwrap_or_default();
        let g = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, v: u64| {
            out += &format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n");
        };
        // name, kind, help, value
        let table: [(&str, &str, &str, u64); 19] = [
            ("dmc_register_requests_total", "counter", "Registrations received.", g(&m.register_requests)),
            ("dmc_register_refused_total", "counter", "Registrations refused.", g(&m.register_refused)),
            ("dmc_query_requests_total", "counter", "Snapshot and delta queries.", g(&m.query_requests)),
            ("dmc_pairs_received_total", "counter", "Pairs accepted in registrations.", g(&m.pairs_received)),
            ("dmc_register_microseconds_total", "counter", "Time spent in registrations.", g(&m.register_micros_total)),
            ("dmc_query_microseconds_total", "counter", "Time spent building snapshots.", g(&m.query_micros_total)),
            ("dmc_snapshot_builds_total", "counter", "Full snapshots read from the store and cached (at most one per cursor).", g(&m.snapshot_builds)),
            ("dmc_store_pairs", "gauge", "Aggregated pairs stored.", stats.pairs),
            ("dmc_store_observations", "gauge", "Per-reporter observations stored.", stats.observations),
            ("dmc_store_reporters", "gauge", "Distinct reporters.", stats.reporters),
            ("dmc_store_cursor", "gauge", "Current change cursor.", stats.cursor),
            ("dmc_pairs_held_no_channel", "gauge", "Pairs with observations not served: no channel between their nodes in the graph.", stats.held_no_channel),
            ("dmc_pairs_held_unbacked", "gauge", "Pairs with observations not served: reporters weigh less than min_serving_weight.", stats.held_unbacked),
            ("dmc_pairs_held_unservable", "gauge", "Pairs with observations not served: nothing LND would import.", stats.held_unservable),
            ("dmc_register_refused_storage_total", "counter", "Registrations refused by max_observations_per_reporter, max_observations or max_unverified_observations.", g(&m.refused_storage)),
            ("dmc_unverified_observations", "gauge", "Observations held by reporters that are not established (estimate).", self.unverified_observations.load(Ordering::Relaxed)),
            ("dmc_reporters_discounted", "gauge", "Reporters whose reputation is below 1.", stats.reporters_discounted),
            ("dmc_liquidity_requests_total", "counter", "GET /v2/liquidity requests.", g(&m.liquidity_requests)),
            ("dmc_liquidity_pairs", "gauge", "Pairs the in-memory liquidity model has evidence for.", g(&m.liquidity_pairs)),
        ];
        for (name, kind, help, v) in table {
            metric(name, kind, help, v);
        }
        if let Some((_, age)) = self.graph_age() {
            metric(
                "dmc_graph_age_seconds",
                "gauge",
                "Age of the graph's newest announcement.",
                age as u64,
            );
        }
        for more in self.more_metrics.read().unwrap_or_else(|p| p.into_inner()).iter() {
            out += &more.metrics_text();
        }
        out
    }
}
