//! The coordinator's registration paths (crates/dmc-server), as `dmc
//! serve` runs them: REST bodies through its axum router
//! (`rest::router`), v2 gRPC messages through its service implementation
//! (`grpc::v2::V2Service`), validation in `Coordinator`, and a real redb store
//! (`RedbCoordinatorStore`) in a scratch folder (on tmpfs when /dev/shm
//! exists). The store is started over every `RESET_EVERY` inputs so it
//! stays small; between resets inputs see each other's state, as a
//! running server does.
//!
//! The server runs with `--graph none` and `--min-serving-weight 0`, so
//! every accepted pair is served and the served-data invariant
//! (`check_served`) sees it; rate limits are lifted, so the fuzzer does
//! not merely hit them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use dmc_core::rpc;
use dmc_core::NodeId;
use dmc_proto::dmc::coordinator::v2 as pb;
use dmc_proto::dmc::coordinator::v2::coordinator_server::Coordinator as _;
use dmc_server::coordinator::{Clock, Coordinator};
use dmc_server::encode::lnd_pair;
use dmc_server::grpc::v2::V2Service;
use dmc_server::ServerConfig;
use dmc_store::coordinator::RedbCoordinatorStore;
use prost::Message;
use serde_json::Value;
use tower::ServiceExt;

const RESET_EVERY: u32 = 20_000;

/// A temp dir on tmpfs when there is one (redb fsyncs every commit).
pub(crate) fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(base)
        .expect("creating a scratch dir")
}

struct Server {
    rt: tokio::runtime::Runtime,
    coordinator: Arc<Coordinator>,
    router: axum::Router,
    /// The store's cursor after the last check of served pairs.
    cursor: u64,
    uses: u32,
    _dir: tempfile::TempDir,
}

impl Server {
    fn new() -> Server {
        let dir = scratch_dir("dmc-fuzz-server-");
        let mut config = ServerConfig::with_data_dir(dir.path().to_path_buf());
        config.graph = None;
        config.min_serving_weight = 0.0;
        config.requests_per_minute = u32::MAX;
        config.validate().expect("the harness's config is valid");
        let store = RedbCoordinatorStore::open(&dir.path().join(dmc_server::STORE_FILE)).expect("opening the store");
        let clock: Clock = Arc::new(crate::now);
        let coordinator = Arc::new(Coordinator::new(config, Arc::new(store), clock));
        coordinator.set_graph(None).expect("setting the policy");
        let router = dmc_server::rest::router(coordinator.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Server {
            rt,
            coordinator,
            router,
            cursor: 0,
            uses: 0,
            _dir: dir,
        }
    }

    /// A POST to the REST server from a fixed client address.
    fn post(&self, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let req = Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/json")
            .extension(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 4242))))
            .body(Body::from(body))
            .expect("request");
        let (status, bytes) = self.rt.block_on(async {
            let resp = self
                .router
                .clone()
                .oneshot(req)
                .await
                .expect("axum routers are infallible");
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("reading the answer");
            (status, bytes)
        });
        let text = String::from_utf8_lossy(&bytes);
        debug!("POST {path}: {status}: {}", text.trim_end());
        assert_ne!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "POST {path}: internal error (a panic, or the store refused validated data): {text}"
        );
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("POST {path}: {status}: answer is not JSON ({e}): {text}"));
        (status, v)
    }

    /// `Coordinator.Register` as tonic calls it once it decoded the message.
    fn grpc_register(&self, msg: pb::SignedRegistration) -> Result<pb::RegisterResponse, tonic::Status> {
        let svc = V2Service {
            coordinator: self.coordinator.clone(),
        };
        let r = self
            .rt
            .block_on(svc.register(tonic::Request::new(msg)))
            .map(tonic::Response::into_inner);
        debug!("Register: {r:?}");
        if let Err(s) = &r {
            assert!(
                !matches!(s.code(), tonic::Code::Internal | tonic::Code::Unknown),
                "Register: internal error (a panic, or the store refused validated data): {s:?}"
            );
        }
        r
    }

    /// Every pair served since the last check is valid LND import input
    /// (what `dmc sync` hands to `XImportMissionControl` and `lncli
    /// loadmc` reads from `/v2/snapshot`: ARCHITECTURE.md, "Every served
    /// record is valid LND import input"), with keys on the curve and no
    /// time after the receive time.
    fn check_served(&mut self) {
        let d = self.coordinator.delta(self.cursor).expect("reading the changes");
        debug!("served: {} changed pairs since cursor {}", d.changed.len(), self.cursor);
        let now = crate::now();
        for a in &d.changed {
            let p = lnd_pair(a);
            if let Err(e) = rpc::validate_import(std::slice::from_ref(&p)) {
                panic!("served a pair LND's import refuses: {e}: {a:?}");
            }
            for k in [&p.node_from, &p.node_to] {
                assert!(NodeId::from_bytes(k).is_ok(), "served a key off the curve: {a:?}");
            }
            for t in [a.result.success_time, a.result.fail_time] {
                assert!(!t.after(now), "served a time after the receive time: {a:?}");
            }
        }
        self.cursor = d.cursor;
    }
}

/// Runs `f` on `target`'s server (a fresh one every `RESET_EVERY` uses).
/// Each target has its own, so replaying one target's corpus does not
/// depend on what another target's inputs stored.
fn with_server<R>(target: &'static str, f: impl FnOnce(&mut Server) -> R) -> R {
    static SERVERS: Mutex<BTreeMap<&'static str, Server>> = Mutex::new(BTreeMap::new());
    let mut servers = SERVERS.lock().unwrap_or_else(|p| p.into_inner());
    if servers.get(target).is_none_or(|s| s.uses >= RESET_EVERY) {
        servers.remove(target); // drop the old store before the new one opens
        servers.insert(target, Server::new());
    }
    let s = servers.get_mut(target).expect("just inserted");
    s.uses += 1;
    f(s)
}

/// `POST /v1/register_mission_control` with the input as the body (the
/// Go coordinator's grpc-gateway JSON: `rest::parse_json_body`,
/// `rest::parse_gateway_pairs`, `Coordinator::register_unsigned`).
/// Checks: no panic, never a 500, the answer is JSON; once accepted, what
/// is served is valid (`check_served`).
pub fn rest_v1(data: &[u8]) {
    with_server("rest_v1", |s| {
        let (status, _) = s.post("/v1/register_mission_control", data.to_vec());
        if status == StatusCode::OK {
            s.check_served();
        }
    })
}

/// `POST /v2/register` with the input as the body (`{"body": base64,
/// "signature": zbase32}`: `v2::register_rest`, base64, prost decoding of
/// `RegistrationBody`, signature recovery, `Coordinator::register_signed`).
/// Checks as for [`rest_v1`].
pub fn rest_v2(data: &[u8]) {
    with_server("rest_v2", |s| {
        let (status, _) = s.post("/v2/register", data.to_vec());
        if status == StatusCode::OK {
            s.check_served();
        }
    })
}

/// A v2 gRPC `Register` request: the input decoded as tonic's prost codec
/// decodes it (`SignedRegistration::decode`), then `V2Service::register`
/// (`RegistrationBody` decoding, signature recovery and the server's
/// validation). Checks: no panic; a decoded message re-encodes and decodes
/// to itself; never an internal error; once accepted, what is served is
/// valid.
pub fn v2_grpc(data: &[u8]) {
    let Ok(msg) = pb::SignedRegistration::decode(data) else {
        return;
    };
    assert_eq!(
        pb::SignedRegistration::decode(msg.encode_to_vec().as_slice())
            .ok()
            .as_ref(),
        Some(&msg),
        "SignedRegistration does not round-trip"
    );
    if let Ok(body) = pb::RegistrationBody::decode(msg.body.as_slice()) {
        assert_eq!(
            pb::RegistrationBody::decode(body.encode_to_vec().as_slice())
                .ok()
                .as_ref(),
            Some(&body),
            "RegistrationBody does not round-trip"
        );
    }
    with_server("v2_grpc", |s| {
        if s.grpc_register(msg).is_ok() {
            s.check_served();
        }
    })
}

/// A v2 registration whose body bytes are the input (after one selector
/// byte), signed here so that the fuzzer reaches the server's validation
/// of the pairs: bit 0 of the selector picks the transport (0: gRPC
/// `V2Service::register`, 1: `POST /v2/register`), bit 1 the signer (0:
/// the reporter key the seeds name, 1: another key).
///
/// Checks: no panic, never an internal error; an accepted body decodes and
/// names the key that signed it; what is served is valid; the same signed
/// body sent again over the other transport is not accepted (replay).
pub fn v2_signed_body(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let secret = if selector & 2 == 0 {
        crate::reporter_secret()
    } else {
        crate::other_secret()
    };
    let signature = dmc_core::signmsg::sign_message(&secret, body);
    let rest = selector & 1 == 1;
    with_server("v2_signed_body", |s| {
        if !send_signed(s, rest, body, &signature) {
            return;
        }
        let decoded = pb::RegistrationBody::decode(body).expect("an accepted body decodes");
        assert_eq!(
            decoded.reporter,
            crate::public_key(&secret).0.to_vec(),
            "accepted a body naming a reporter other than its signer"
        );
        s.check_served();
        assert!(
            !send_signed(s, !rest, body, &signature),
            "a replayed registration was accepted again"
        );
    })
}

/// Sends a signed body over gRPC or REST; whether it was accepted.
fn send_signed(s: &mut Server, rest: bool, body: &[u8], signature: &str) -> bool {
    if rest {
        let envelope = serde_json::json!({
            "body": dmc_server::base64::encode(body),
            "signature": signature,
        });
        let (status, _) = s.post("/v2/register", envelope.to_string().into_bytes());
        status == StatusCode::OK
    } else {
        s.grpc_register(pb::SignedRegistration {
            body: body.to_vec(),
            signature: signature.to_string(),
        })
        .is_ok()
    }
}
