//! The Go External Coordinator's API (`ecrpc.ExternalCoordinator`), which
//! dmc serves too: unsigned registrations.

use dmc_core::rpc;
use dmc_proto::ecrpc;
use tonic::transport::Channel;
use tonic::Status;

use crate::channel::{channel, CoordinatorOptions};
use crate::error::Result;

/// A connected coordinator, spoken to in ecrpc.
pub struct EcrpcClient {
    inner: ecrpc::external_coordinator_client::ExternalCoordinatorClient<Channel>,
}

impl EcrpcClient {
    /// Opens a channel as [`channel`] does (TLS per `opts`).
    pub async fn connect(opts: &CoordinatorOptions) -> Result<EcrpcClient> {
        Ok(EcrpcClient::new(channel(opts).await?))
    }

    /// Over a channel already open to the coordinator.
    pub fn new(channel: Channel) -> EcrpcClient {
        EcrpcClient {
            inner: ecrpc::external_coordinator_client::ExternalCoordinatorClient::new(channel),
        }
    }

    /// `RegisterMissionControl`: the pairs, unsigned; the coordinator's
    /// success message, or its refusal as it came.
    pub async fn register(&mut self, pairs: &[rpc::PairHistory]) -> std::result::Result<String, Status> {
        let r = self
            .inner
            .register_mission_control(ecrpc::RegisterMissionControlRequest {
                pairs: dmc_proto::pairs_to_proto(pairs),
            })
            .await?;
        Ok(r.into_inner().success_message)
    }
}
