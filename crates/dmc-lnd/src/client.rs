//! [`LndClient`]: lnd's gRPC API, reached as lncli reaches it — TLS pinned
//! to lnd's `tls.cert`, the macaroon's bytes in hex in the `macaroon`
//! metadata header of every call.

use std::time::Duration;

use dmc_core::node::NodeId;
use dmc_core::rpc;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use crate::convert::{config_from_router, pair_from_router, pair_to_router};
use crate::error::paren;
use crate::error::{Error, ErrorKind, Result};
use crate::options::LndTarget;
use crate::tls::{connect_error, load_certs, pinned_client_config, TlsConnector};
use crate::{lnrpc, routerrpc};

/// lncli's receive limit (`lnrpc.MaxGrpcMsgSize`, 200 MiB): a large mission
/// control fits.
pub const MAX_MESSAGE_BYTES: usize = 200 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Adds `macaroon: <hex>` to every request, as lnd's
/// `MacaroonCredential` does.
#[derive(Clone)]
pub struct MacaroonAuth {
    hex: MetadataValue<Ascii>,
}

impl MacaroonAuth {
    /// The interceptor for a macaroon file's raw bytes (sent hex-encoded).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let hex = dmc_core::node::encode_hex(bytes);
        MacaroonAuth {
            // Lower-case hex digits are always a valid header value.
            hex: MetadataValue::try_from(hex).unwrap_or_else(|_| MetadataValue::from_static("")),
        }
    }
}

impl tonic::service::Interceptor for MacaroonAuth {
    fn call(&mut self, mut req: Request<()>) -> std::result::Result<Request<()>, Status> {
        req.metadata_mut().insert("macaroon", self.hex.clone());
        Ok(req)
    }
}

type Authed = InterceptedService<Channel, MacaroonAuth>;

/// What `GetInfo` says about the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node's identity key (`identity_pubkey`).
    pub pubkey: NodeId,
    /// The node's alias as it announces it.
    pub alias: String,
    /// lnd's version string.
    pub version: String,
    /// From `chains[0].network`, if lnd reports it.
    pub network: Option<String>,
    /// Height of the best block lnd knows.
    pub block_height: u32,
    /// Whether lnd has caught up with the chain.
    pub synced_to_chain: bool,
    /// Whether lnd has finished its initial graph sync.
    pub synced_to_graph: bool,
    /// Active channels, as lnd counts them.
    pub num_active_channels: u32,
}

/// A connected lnd.
pub struct LndClient {
    target: LndTarget,
    lightning: lnrpc::lightning_client::LightningClient<Authed>,
    router: routerrpc::router_client::RouterClient<Authed>,
}

/// Reads the macaroon file; errors name the flag and file (and hint at
/// `--network` when the path was derived from it).
pub fn read_macaroon(target: &LndTarget) -> Result<Vec<u8>> {
    let path = &target.macaroon;
    let hint = if target.macaroon_is_default {
        format!(
            " (derived from --lnddir and --network {}; give --macaroonpath or the right --network)",
            target.network
        )
    } else {
        String::new()
    };
    let bytes =
        std::fs::read(path).map_err(|e| Error::config(format!("--macaroonpath: {}: {e}{hint}", path.display())))?;
    if bytes.is_empty() {
        return Err(Error::config(format!(
            "--macaroonpath: {}: the file is empty",
            path.display()
        )));
    }
    Ok(bytes)
}

impl LndClient {
    /// Reads the TLS certificate and macaroon, connects and completes the
    /// TLS handshake (so a wrong certificate is reported here, naming the
    /// file). Nothing is called yet: a wrong macaroon shows on the first
    /// call.
    pub async fn connect(target: &LndTarget) -> Result<LndClient> {
        let certs = load_certs(&target.tls_cert, "--tlscertpath")?;
        let macaroon = read_macaroon(target)?;
        let tls = pinned_client_config(certs)?;
        let endpoint = Endpoint::from_shared(format!("http://{}", target.address()))
            .map_err(|e| Error::config(format!("--rpcserver: {:?}: {e}", target.address())))?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .tcp_nodelay(true);
        let channel = endpoint
            .connect_with_connector(TlsConnector::new(&target.host, target.port, tls))
            .await
            .map_err(|e| connect_error(&e, &target.address(), "lnd", Some(&target.tls_cert), "--tlscertpath"))?;
        let auth = MacaroonAuth::from_bytes(&macaroon);
        Ok(LndClient {
            target: target.clone(),
            lightning: lnrpc::lightning_client::LightningClient::with_interceptor(channel.clone(), auth.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            router: routerrpc::router_client::RouterClient::with_interceptor(channel, auth)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        })
    }

    /// Where this client connects, as resolved from the flags.
    pub fn target(&self) -> &LndTarget {
        &self.target
    }

    fn status(&self, rpc: &str, s: Status) -> Error {
        lnd_status_error(&self.target, rpc, &s)
    }

    /// `lnrpc.Lightning/GetInfo`.
    pub async fn get_info(&mut self) -> Result<NodeInfo> {
        let r = self
            .lightning
            .get_info(lnrpc::GetInfoRequest {})
            .await
            .map_err(|s| self.status("GetInfo", s))?
            .into_inner();
        let pubkey = NodeId::from_hex(&r.identity_pubkey).map_err(|e| {
            Error::invalid(format!(
                "lnd at {}: GetInfo: identity_pubkey {:?}: {e}",
                self.target.address(),
                r.identity_pubkey
            ))
        })?;
        Ok(NodeInfo {
            pubkey,
            alias: r.alias,
            version: r.version,
            network: r.chains.first().map(|c| c.network.clone()),
            block_height: r.block_height,
            synced_to_chain: r.synced_to_chain,
            synced_to_graph: r.synced_to_graph,
            num_active_channels: r.num_active_channels,
        })
    }

    /// `lnrpc.Lightning/SignMessage` over exactly `msg` (double SHA-256, as
    /// `lncli signmessage`): the zbase32 signature.
    pub async fn sign_message(&mut self, msg: &[u8]) -> Result<String> {
        let r = self
            .lightning
            .sign_message(lnrpc::SignMessageRequest {
                msg: msg.to_vec(),
                single_hash: false,
            })
            .await
            .map_err(|s| self.status("SignMessage", s))?;
        Ok(r.into_inner().signature)
    }

    /// `routerrpc.Router/QueryMissionControl`: every pair lnd holds.
    pub async fn query_mission_control(&mut self) -> Result<Vec<rpc::PairHistory>> {
        let r = self
            .router
            .query_mission_control(routerrpc::QueryMissionControlRequest {})
            .await
            .map_err(|s| self.status("QueryMissionControl", s))?;
        Ok(r.into_inner().pairs.iter().map(pair_from_router).collect())
    }

    /// `routerrpc.Router/XImportMissionControl` with these pairs in one
    /// request (lnd validates all or nothing).
    pub async fn import_mission_control(&mut self, pairs: &[rpc::PairHistory], force: bool) -> Result<()> {
        self.router
            .x_import_mission_control(routerrpc::XImportMissionControlRequest {
                pairs: pairs.iter().map(pair_to_router).collect(),
                force,
            })
            .await
            .map_err(|s| self.status("XImportMissionControl", s))?;
        Ok(())
    }

    /// `routerrpc.Router/GetMissionControlConfig`, raw.
    pub async fn get_mission_control_config_raw(&mut self) -> Result<routerrpc::MissionControlConfig> {
        let r = self
            .router
            .get_mission_control_config(routerrpc::GetMissionControlConfigRequest {})
            .await
            .map_err(|s| self.status("GetMissionControlConfig", s))?;
        r.into_inner().config.ok_or_else(|| {
            Error::invalid(format!(
                "lnd at {}: GetMissionControlConfig: no config in the answer",
                self.target.address()
            ))
        })
    }

    /// `routerrpc.Router/GetMissionControlConfig` as dmc-core's config.
    pub async fn get_mission_control_config(&mut self) -> Result<dmc_core::mission_control::MissionControlConfig> {
        let raw = self.get_mission_control_config_raw().await?;
        config_from_router(&raw).map_err(|e| {
            Error::invalid(format!(
                "lnd at {}: GetMissionControlConfig: {e}",
                self.target.address()
            ))
        })
    }
}

/// lnd's answer as an [`Error`]. lnd reports macaroon failures with code
/// Unknown ("verification failed: signature mismatch...", "expected 1
/// macaroon, got 0", "permission denied" for a macaroon without the RPC's
/// permission), other servers with Unauthenticated / PermissionDenied.
/// `dmc sync` needs `info:read`, `message:write`, `offchain:read` and
/// `offchain:write`.
pub fn lnd_status_error(target: &LndTarget, rpc: &str, s: &Status) -> Error {
    let addr = target.address();
    let msg = s.message();
    let lower = msg.to_ascii_lowercase();
    let macaroon_problem = matches!(s.code(), Code::Unauthenticated | Code::PermissionDenied)
        || (s.code() == Code::Unknown
            && (lower.contains("macaroon")
                || lower.contains("verification failed")
                || lower.contains("permission denied")));
    if macaroon_problem {
        return Error::refused(format!(
            "lnd at {addr} refused the macaroon {} (--macaroonpath) on {rpc}: {msg}",
            target.macaroon.display()
        ));
    }
    if s.code() == Code::Unimplemented {
        return Error::config(format!(
            "lnd at {addr} does not offer {rpc}{}; is --rpcserver lnd's gRPC port (default 10009)?",
            paren(msg)
        ));
    }
    let starting = lower.contains("starting up") || lower.contains("wallet locked") || lower.contains("not yet ready");
    let kind = match s.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted | Code::Cancelled => {
            ErrorKind::Unavailable
        }
        Code::Unknown if starting || lower.contains("transport") => ErrorKind::Unavailable,
        _ => ErrorKind::Invalid,
    };
    let hint = if starting {
        " (is lnd unlocked and fully started?)"
    } else {
        ""
    };
    Error::new(kind, format!("lnd at {addr}: {rpc}: {:?}: {msg}{hint}", s.code()))
}
