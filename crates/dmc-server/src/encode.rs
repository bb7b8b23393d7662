//! Wire renderings of what the coordinator serves: grpc-gateway JSON lines
//! (plain and gzip), `lncli querymc` JSON and ecrpc messages, each made once
//! per cached snapshot and shared by every download of it. The coordinator
//! hands out plain data ([`CachedSnapshot`]); only this module and the
//! transports know the wire types.

use std::io::Write;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use dmc_core::json::Json;
use dmc_core::rpc::{self, PairData, PairHistory};
use dmc_core::PairSnapshot;
use dmc_proto::ecrpc::QueryAggregatedMissionControlResponse;
use dmc_store::coordinator::AggregatedPair;

/// The full snapshot at one cursor, shared by every download of it; its
/// wire forms are rendered at the edge ([`crate::encode`]), once each.
pub struct CachedSnapshot {
    pub cursor: u64,
    pub pairs: Arc<Vec<AggregatedPair>>,
    /// Pairs per message or line (`query_batch_size`).
    pub batch: usize,
    pub renders: Renderings,
}

/// A snapshot's wire forms, each rendered when first asked for.
#[derive(Default)]
pub struct Renderings {
    rest_lines: OnceLock<Bytes>,
    rest_lines_gzip: OnceLock<Bytes>,
    lnd_json: OnceLock<Bytes>,
    grpc_messages: OnceLock<Arc<Vec<QueryAggregatedMissionControlResponse>>>,
}

impl CachedSnapshot {
    /// The `i`-th run of `batch` pairs (the last may be shorter; empty past
    /// the end): what one streamed message carries, taken when it is sent.
    pub fn chunk(&self, i: usize, batch: usize) -> &[AggregatedPair] {
        let batch = batch.max(1);
        let start = i.saturating_mul(batch).min(self.pairs.len());
        &self.pairs[start..self.pairs.len().min(start.saturating_add(batch))]
    }

    pub fn etag(&self) -> String {
        format!("\"dmc-{}\"", self.cursor)
    }

    /// grpc-gateway stream format: one `{"result":{"pairs":[...]}}` per line.
    pub fn rest_lines(&self) -> Bytes {
        self.renders
            .rest_lines
            .get_or_init(|| {
                let mut lines = Vec::with_capacity(self.pairs.len() * 200 + 64);
                for chunk in self.pairs.chunks(self.batch.max(1)) {
                    let pairs = Json::Array(chunk.iter().map(gateway_pair).collect());
                    let msg = Json::object([("result", Json::object([("pairs", pairs)]))]);
                    lines.extend_from_slice(msg.compact().as_bytes());
                    lines.push(b'\n');
                }
                lines.into()
            })
            .clone()
    }

    /// The ecrpc stream's messages, `batch` pairs each.
    pub fn grpc_messages(&self) -> Arc<Vec<QueryAggregatedMissionControlResponse>> {
        self.renders
            .grpc_messages
            .get_or_init(|| {
                Arc::new(
                    self.pairs
                        .chunks(self.batch.max(1))
                        .map(|chunk| QueryAggregatedMissionControlResponse {
                            pairs: chunk.iter().map(|a| dmc_proto::pair_to_proto(&lnd_pair(a))).collect(),
                        })
                        .collect(),
                )
            })
            .clone()
    }

    /// `/v2/snapshot`: the aggregate as `lncli querymc` prints it, rendered
    /// once per cursor and shared by every download of it.
    pub fn lnd_json(&self) -> Bytes {
        self.renders
            .lnd_json
            .get_or_init(|| {
                let pairs: Vec<PairSnapshot> = self
                    .pairs
                    .iter()
                    .map(|a| PairSnapshot {
                        pair: a.pair,
                        result: a.result,
                    })
                    .collect();
                (rpc::query_mc_json(&pairs).compact() + "\n").into_bytes().into()
            })
            .clone()
    }

    pub fn rest_lines_gzip(&self) -> Bytes {
        self.renders
            .rest_lines_gzip
            .get_or_init(|| {
                let lines = self.rest_lines();
                let mut gz =
                    flate2::write::GzEncoder::new(Vec::with_capacity(lines.len() / 4), flate2::Compression::fast());
                // Writing to a Vec cannot fail.
                let _ = gz.write_all(&lines);
                gz.finish().unwrap_or_default().into()
            })
            .clone()
    }
}

/// A pair as grpc-gateway prints it for the Go coordinator: camelCase,
/// bytes base64, int64 as strings, zero values omitted.
pub fn gateway_pair(a: &AggregatedPair) -> Json {
    let d = PairData::from_result(&a.result);
    let mut h = Vec::new();
    for (name, v) in [
        ("failTime", d.fail_time),
        ("failAmtSat", d.fail_amt_sat),
        ("failAmtMsat", d.fail_amt_msat),
        ("successTime", d.success_time),
        ("successAmtSat", d.success_amt_sat),
        ("successAmtMsat", d.success_amt_msat),
    ] {
        if v != 0 {
            h.push((name, Json::int64(v)));
        }
    }
    Json::object([
        ("nodeFrom", Json::str(crate::base64::encode(&a.pair.from.0))),
        ("nodeTo", Json::str(crate::base64::encode(&a.pair.to.0))),
        ("history", Json::object(h)),
    ])
}

/// A pair as `lncli querymc` prints it, for `dmc ec query --format lnd`
/// and the queries ([`dmc_core::aggregate::served_pair`]).
pub fn lnd_pair(a: &AggregatedPair) -> PairHistory {
    dmc_core::aggregate::served_pair(a.pair, &a.result)
}
