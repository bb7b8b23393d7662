//! dmc's v2 protocol over gRPC (`dmc.coordinator.v2.Coordinator`): signed
//! registrations (decoded by [`crate::signed`], as REST's are) and
//! cursor-based queries.

use std::sync::Arc;

use dmc_proto::dmc::coordinator::v2 as pb;
use dmc_proto::pair_to_proto;
use dmc_store::coordinator::AggregatedPair;
// The generated service trait, named apart from the coordinator it serves.
use pb::coordinator_server::Coordinator as V2Rpc;
use tonic::{Request, Status};

use super::Stream;
use crate::coordinator::{blocking, CachedSnapshot, Coordinator, V2Answer};

/// The `dmc.coordinator.v2.Coordinator` gRPC service: signed registrations and cursor queries.
pub struct V2Service {
    /// The coordinator it serves.
    pub coordinator: Arc<Coordinator>,
}

#[tonic::async_trait]
impl V2Rpc for V2Service {
    async fn register(
        &self,
        request: Request<pb::SignedRegistration>,
    ) -> Result<tonic::Response<pb::RegisterResponse>, Status> {
        let req = request.into_inner();
        let r = blocking(&self.coordinator, move |c| {
            crate::signed::register(c, &req.body, &req.signature)
        })
        .await?;
        Ok(tonic::Response::new(pb::RegisterResponse {
            accepted: r.accepted as u32,
            stale_dropped: r.stale_dropped as u32,
            cursor: r.outcome.cursor,
            message: r.message(),
        }))
    }

    type QueryStream = Stream<pb::QueryResponse>;

    async fn query(&self, request: Request<pb::QueryRequest>) -> Result<tonic::Response<Self::QueryStream>, Status> {
        let q = request.into_inner();
        let since = q.has_cursor.then_some(q.since_cursor);
        let answer = blocking(&self.coordinator, move |c| c.query_v2(since)).await?;
        // The client's bound, within the server's: a larger batch would let
        // one download hold a large share of the snapshot encoded at once.
        let server_batch = self.coordinator.config.query_batch_size.max(1);
        let batch = match q.max_pairs_per_message {
            0 => server_batch,
            n => (n as usize).min(server_batch),
        };
        let delta = match answer {
            V2Answer::Full { snapshot, full_resync } => {
                return Ok(tonic::Response::new(full_stream(
                    self.coordinator.clone(),
                    snapshot,
                    batch,
                    full_resync,
                )))
            }
            V2Answer::Delta(d) => d,
        };
        let now = self.coordinator.now();
        let cursor = delta.cursor;
        let full_resync = delta.full_resync;
        let pairs: Vec<pb::AggregatedPair> = delta.changed.iter().map(|a| v2_pair(a, now)).collect();
        let removed: Vec<pb::NodePair> = delta
            .removed
            .iter()
            .map(|p| pb::NodePair {
                node_from: p.from.0.to_vec(),
                node_to: p.to.0.to_vec(),
            })
            .collect();
        let mut messages = Vec::new();
        let mut chunks = pairs.chunks(batch).peekable();
        if chunks.peek().is_none() {
            messages.push(pb::QueryResponse {
                pairs: Vec::new(),
                removed,
                cursor,
                full_resync,
            });
        } else {
            let mut removed = Some(removed);
            for chunk in chunks {
                messages.push(pb::QueryResponse {
                    pairs: chunk.to_vec(),
                    removed: removed.take().unwrap_or_default(),
                    cursor,
                    full_resync,
                });
            }
        }
        Ok(tonic::Response::new(Box::pin(tokio_stream::iter(
            messages.into_iter().map(Ok),
        ))))
    }
}

/// A pair as v2 serves it, its age taken at `now`.
fn v2_pair(a: &AggregatedPair, now: dmc_core::Timestamp) -> pb::AggregatedPair {
    pb::AggregatedPair {
        pair: Some(pair_to_proto(&crate::encode::lnd_pair(a))),
        reporters: a.reporters,
        age_seconds: dmc_core::aggregate::age_seconds(a.newest, now),
        reporters_unverified: a.reporters_unverified,
        reporters_anonymous: a.reporters_anonymous,
    }
}

/// The whole aggregate as a v2 stream, `batch` pairs a message (one empty
/// message when there are none). Each message is built when the transport
/// asks for it, from the snapshot every download of its cursor shares, so
/// a download holds one message beyond that snapshot, however slow it is.
fn full_stream(
    c: Arc<Coordinator>,
    snapshot: Arc<CachedSnapshot>,
    batch: usize,
    full_resync: bool,
) -> Stream<pb::QueryResponse> {
    let messages = snapshot.pairs.len().div_ceil(batch).max(1);
    Box::pin(tokio_stream::iter((0..messages).map(move |i| {
        let now = c.now();
        Ok(pb::QueryResponse {
            pairs: snapshot.chunk(i, batch).iter().map(|a| v2_pair(a, now)).collect(),
            removed: Vec::new(),
            cursor: snapshot.cursor,
            full_resync,
        })
    })))
}

/// The v2 service ready to mount, refusing messages over `max_body_bytes`.
pub fn grpc_service(c: Arc<Coordinator>) -> pb::coordinator_server::CoordinatorServer<V2Service> {
    let max = c.config.max_body_bytes;
    pb::coordinator_server::CoordinatorServer::new(V2Service { coordinator: c }).max_decoding_message_size(max)
}
