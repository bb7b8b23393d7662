//! gRPC: the Go coordinator's `ecrpc.ExternalCoordinator`, unchanged on
//! the wire, so existing clients work against dmc.

use std::pin::Pin;
use std::sync::Arc;

use dmc_proto::ecrpc;
use dmc_proto::ecrpc::external_coordinator_server::ExternalCoordinator;
use tonic::{Request, Response, Status};

use crate::coordinator::{ApiError, Coordinator};

/// The longest status message sent, in characters. Messages echo client
/// input only through `coordinator::echo_bytes` (at most 33 bytes' worth);
/// this is the backstop, so no message can overflow gRPC metadata (the
/// `grpc-message` header) or amplify a request.
pub const MAX_STATUS_MESSAGE_CHARS: usize = 1024;

/// `m` cut to [`MAX_STATUS_MESSAGE_CHARS`] characters, ending in `…` if cut.
pub fn bounded(m: &str) -> String {
    // Byte offsets of the characters: the cap's last one, and one past it.
    let mut starts = m.char_indices().map(|(i, _)| i);
    match (starts.nth(MAX_STATUS_MESSAGE_CHARS - 1), starts.next()) {
        (Some(last), Some(_)) => format!("{}…", &m[..last]),
        _ => m.to_string(),
    }
}

/// The error as a gRPC status; limits carry a JSON body naming them.
/// Messages are [`bounded`].
pub fn status(e: ApiError) -> Status {
    match &e {
        ApiError::Invalid(m) => Status::invalid_argument(bounded(m)),
        ApiError::Unauthenticated(m) => Status::unauthenticated(bounded(m)),
        ApiError::Forbidden(m) => Status::permission_denied(bounded(m)),
        ApiError::Limit { limit, message } => Status::resource_exhausted(
            ApiError::Limit {
                limit,
                message: bounded(message),
            }
            .to_json()
            .compact(),
        ),
        ApiError::Internal(_) => Status::internal(e.client_message()),
    }
}

pub use dmc_proto::{pair_from_proto, pair_to_proto};

pub struct EcService {
    pub coordinator: Arc<Coordinator>,
}

type Stream<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send + 'static>>;

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
        let c = self.coordinator.clone();
        let r = tokio::task::spawn_blocking(move || c.register_unsigned(pairs, &remote))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(status)?;
        Ok(Response::new(ecrpc::RegisterMissionControlResponse {
            success_message: r.message(),
        }))
    }

    type QueryAggregatedMissionControlStream = Stream<ecrpc::QueryAggregatedMissionControlResponse>;

    async fn query_aggregated_mission_control(
        &self,
        _request: Request<ecrpc::QueryAggregatedMissionControlRequest>,
    ) -> Result<Response<Self::QueryAggregatedMissionControlStream>, Status> {
        let c = self.coordinator.clone();
        let snap = tokio::task::spawn_blocking(move || c.snapshot())
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(status)?;
        // Messages come from the immutable, cached snapshot: no store
        // transaction stays open for a slow reader, and repeated queries at
        // the same cursor are not re-encoded.
        let messages = tokio::task::spawn_blocking(move || snap.grpc_messages())
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let stream = tokio_stream::iter((0..messages.len()).map(move |i| Ok(messages[i].clone())));
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_messages_are_bounded() {
        let short = "x".repeat(MAX_STATUS_MESSAGE_CHARS);
        assert_eq!(bounded(&short), short, "a message at the cap is kept whole");
        let long = "é".repeat(1 << 20);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), MAX_STATUS_MESSAGE_CHARS);
        assert!(cut.ends_with('…') && cut.starts_with("éé"), "{cut}");
        for e in [
            ApiError::Invalid(long.clone()),
            ApiError::Unauthenticated(long.clone()),
            ApiError::Forbidden(long.clone()),
        ] {
            assert_eq!(status(e).message(), cut);
        }
        let s = status(ApiError::Limit {
            limit: "max_pairs_per_request",
            message: long,
        });
        assert_eq!(s.code(), tonic::Code::ResourceExhausted);
        assert!(
            s.message().len() < 4 * MAX_STATUS_MESSAGE_CHARS,
            "{}",
            s.message().len()
        );
        let v: serde_json::Value = serde_json::from_str(s.message()).expect("still JSON");
        assert_eq!(v["limit"], "max_pairs_per_request");
    }
}
