//! `ecrpc.ExternalCoordinator`: unsigned registration and the whole
//! aggregate, as the Go coordinator serves them.

use std::sync::Arc;

use dmc_proto::ecrpc;
use dmc_proto::ecrpc::external_coordinator_server::ExternalCoordinator;
use dmc_proto::pair_from_proto;
use tonic::{Request, Response, Status};

use super::Stream;
use crate::coordinator::{blocking, Coordinator};
use crate::encode::Render;

/// The `ecrpc.ExternalCoordinator` gRPC service, as the Go coordinator's clients call it.
pub struct EcService {
    /// The coordinator it serves.
    pub coordinator: Arc<Coordinator>,
}

#[tonic::async_trait]
impl ExternalCoordinator for EcService {
    async fn register_mission_control(
        &self,
        request: Request<ecrpc::RegisterMissionControlRequest>,
    ) -> Result<Response<ecrpc::RegisterMissionControlResponse>, Status> {
        let remote = request
            .remote_addr()
            .map_or_else(|| "unknown".to_string(), |a| a.ip().to_string());
        let pairs: Vec<_> = request.get_ref().pairs.iter().map(pair_from_proto).collect();
        let r = blocking(&self.coordinator, move |c| c.register_unsigned(pairs, &remote)).await?;
        Ok(Response::new(ecrpc::RegisterMissionControlResponse {
            success_message: r.message(),
        }))
    }

    type QueryAggregatedMissionControlStream = Stream<ecrpc::QueryAggregatedMissionControlResponse>;

    async fn query_aggregated_mission_control(
        &self,
        _request: Request<ecrpc::QueryAggregatedMissionControlRequest>,
    ) -> Result<Response<Self::QueryAggregatedMissionControlStream>, Status> {
        let snap = blocking(&self.coordinator, |c| c.snapshot()).await?;
        // Messages come from the immutable, cached snapshot: no store
        // transaction stays open for a slow reader, and repeated queries at
        // the same cursor are not re-encoded.
        let messages = blocking(&self.coordinator, move |_| Ok(snap.grpc_messages())).await?;
        let stream = tokio_stream::iter((0..messages.len()).map(move |i| Ok(messages[i].clone())));
        Ok(Response::new(Box::pin(stream)))
    }
}
