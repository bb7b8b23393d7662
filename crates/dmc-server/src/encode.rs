//! Wire renderings of what the coordinator serves: grpc-gateway JSON lines
//! (plain and gzip), `lncli querymc` JSON and ecrpc messages, each made once
//! per cached snapshot and shared by every download of it ([`Render`]).
//! The coordinator hands out plain data ([`CachedSnapshot`], whose opaque
//! slot keeps these renderings); only this module and the transports know
//! the wire types.

use std::io::Write;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use dmc_core::json::Json;
use dmc_core::rpc::{self, PairData, PairHistory};
use dmc_core::PairSnapshot;
use dmc_proto::ecrpc::QueryAggregatedMissionControlResponse;
use dmc_store::coordinator::AggregatedPair;

use crate::coordinator::CachedSnapshot;

/// A snapshot's wire forms, each rendered when first asked for.
#[derive(Default)]
pub struct Renderings {
    rest_lines: OnceLock<Bytes>,
    rest_lines_gzip: OnceLock<Bytes>,
    lnd_json: OnceLock<Bytes>,
    grpc_messages: OnceLock<Arc<Vec<QueryAggregatedMissionControlResponse>>>,
}

/// The renderings of `s`, made on first use and kept in its slot.
fn renderings(s: &CachedSnapshot) -> &Renderings {
    s.renders
        .get_or_init(|| Box::<Renderings>::default())
        .downcast_ref()
        .expect("only this module fills a snapshot's renderings slot")
}

/// A snapshot's wire forms, each rendered once per cursor.
pub trait Render {
    /// The `ETag` of the grpc-gateway body.
    fn etag(&self) -> String;
    /// grpc-gateway stream format: one `{"result":{"pairs":[...]}}` per line.
    fn rest_lines(&self) -> Bytes;
    /// [`Render::rest_lines`], gzip-compressed.
    fn rest_lines_gzip(&self) -> Bytes;
    /// `/v2/snapshot`: the aggregate as `lncli querymc` prints it.
    fn lnd_json(&self) -> Bytes;
    /// The ecrpc stream's messages, `batch` pairs each.
    fn grpc_messages(&self) -> Arc<Vec<QueryAggregatedMissionControlResponse>>;
}

impl Render for CachedSnapshot {
    fn etag(&self) -> String {
        format!("\"dmc-{}\"", self.tag)
    }

    fn rest_lines(&self) -> Bytes {
        renderings(self)
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

    fn grpc_messages(&self) -> Arc<Vec<QueryAggregatedMissionControlResponse>> {
        renderings(self)
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

    fn lnd_json(&self) -> Bytes {
        renderings(self)
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

    fn rest_lines_gzip(&self) -> Bytes {
        renderings(self)
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
