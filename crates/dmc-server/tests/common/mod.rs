//! The harness shared by the integration tests (`grpc_rest.rs`,
//! `attacks.rs`): the real coordinator started in-process with
//! `dmc_server::serve` on 127.0.0.1 port 0 with TLS, clients that trust its
//! generated certificate (tonic for gRPC, hyper over tokio-rustls for
//! REST), and key, pair and signing builders. No mocks.

// Each test crate uses a different part of the harness.
#![allow(dead_code, unused_imports)]

use std::sync::Arc;
use std::time::Duration;

use dmc_core::signmsg::sign_message;
use dmc_proto::dmc::coordinator::v2 as pb;
use dmc_proto::dmc::coordinator::v2::coordinator_client::CoordinatorClient;
use dmc_proto::ecrpc::external_coordinator_client::ExternalCoordinatorClient;
use dmc_proto::ecrpc::{PairData, PairHistory, QueryAggregatedMissionControlRequest};
use dmc_server::{Bound, ServerConfig};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Request, StatusCode};
use prost::Message;
use secp256k1::SecretKey;
use serde_json::Value;
use tonic::transport::Channel;

pub use dmc_testkit::ecrpc::{failure, success};
pub use dmc_testkit::hex;

pub fn now() -> i64 {
    dmc_testkit::clock::unix_now_secs()
}

/// Secret key `i` (1-based) and its 33-byte compressed public key.
pub fn key(i: u8) -> (SecretKey, Vec<u8>) {
    let i = u32::from(i) - 1;
    (
        dmc_testkit::keys::secret_in(0x11, i),
        dmc_testkit::keys::node_in(0x11, i),
    )
}

pub fn node(i: u8) -> Vec<u8> {
    key(i).1
}

pub fn pair(from: u8, to: u8, h: PairData) -> PairHistory {
    dmc_testkit::ecrpc::pair(node(from), node(to), h)
}

/// The REST form of a signed registration: `{"body": base64, "signature": zbase32}`.
pub fn rest_json(reg: &pb::SignedRegistration) -> String {
    format!(
        r#"{{"body":"{}","signature":"{}"}}"#,
        dmc_server::base64::encode(&reg.body),
        reg.signature
    )
}

/// A signed v2 registration by `signer`, naming `reporter` in the body.
pub fn signed(signer: &SecretKey, reporter: &[u8], timestamp: i64, pairs: Vec<PairHistory>) -> pb::SignedRegistration {
    let body = pb::RegistrationBody {
        reporter: reporter.to_vec(),
        timestamp,
        pairs,
        successes_only: false,
        success_kinds: Vec::new(),
    }
    .encode_to_vec();
    let signature = sign_message(signer, &body);
    pb::SignedRegistration { body, signature }
}

pub use dmc_testkit::ecrpc::sorted as sort;

pub struct Server {
    pub dir: tempfile::TempDir,
    pub bound: Bound,
    /// Dropping it (with the `Server`) also shuts the server down.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), dmc_server::ServeError>>>,
}

/// A server with the Go coordinator's openness (no graph, every pair with
/// any weight served), for tests of the wire and the store's mechanics;
/// the weighing is tested in `attacks.rs`.
#[allow(dead_code)]
pub async fn start_open(tweak: impl FnOnce(&mut ServerConfig)) -> Server {
    start_open_in(tempfile::tempdir().unwrap(), tweak).await
}

/// [`start_open`] on a given data directory (to restart on the same store).
#[allow(dead_code)]
pub async fn start_open_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut ServerConfig)) -> Server {
    serve_in(dir, |cfg| {
        cfg.graph = None;
        cfg.min_serving_weight = 0.0;
        tweak(cfg);
    })
    .await
}

/// Starts `dmc_server::serve` in-process on `dir` (TLS on with the
/// generated self-signed certificate, ports 127.0.0.1:0, rate limiting
/// effectively off); every other setting is the production default until
/// `tweak` adjusts it.
pub async fn serve_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut ServerConfig)) -> Server {
    let mut cfg = ServerConfig::with_data_dir(dir.path().to_path_buf());
    cfg.grpc_listen = "127.0.0.1:0".parse().unwrap();
    cfg.rest_listen = "127.0.0.1:0".parse().unwrap();
    cfg.requests_per_minute = 1_000_000;
    tweak(&mut cfg);
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(dmc_server::serve(
        cfg,
        move |b| {
            let _ = bound_tx.send(b);
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let bound = tokio::time::timeout(Duration::from_secs(10), bound_rx)
        .await
        .expect("server bound in time")
        .expect("server started");
    Server {
        dir,
        bound,
        stop: Some(stop_tx),
        task: Some(task),
    }
}

impl Server {
    pub fn cert_pem(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tls.cert")).expect("generated tls.cert")
    }

    pub async fn channel(&self) -> Channel {
        dmc_testkit::tls::channel_trusting(format!("https://{}", self.bound.grpc), self.cert_pem()).await
    }

    pub async fn ec(&self) -> ExternalCoordinatorClient<Channel> {
        ExternalCoordinatorClient::new(self.channel().await)
    }

    pub async fn v2(&self) -> CoordinatorClient<Channel> {
        CoordinatorClient::new(self.channel().await)
    }

    /// A TLS client configuration trusting this server's certificate, offering `alpn`.
    pub fn tls_client_config(&self, alpn: &[u8]) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut self.cert_pem().as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = vec![alpn.to_vec()];
        cfg
    }

    /// One HTTPS/1.1 request to the REST server, over a fresh TLS connection.
    pub async fn http(&self, method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let cfg = self.tls_client_config(b"http/1.1");
        let tcp = tokio::net::TcpStream::connect(self.bound.rest).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .expect("TLS handshake with the REST server");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("localhost:{}", self.bound.rest.port()));
        if !body.is_empty() {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = sender
            .send_request(req.body(Full::new(Bytes::from(body.to_string()))).unwrap())
            .await
            .unwrap();
        let (parts, body) = resp.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes().to_vec(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.http(Method::GET, path, &[], "").await
    }

    pub async fn post(&self, path: &str, body: &str) -> Reply {
        self.http(Method::POST, path, &[], body).await
    }

    /// Graceful shutdown; returns the data dir for a restart.
    pub async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().unwrap().send(());
        let r = tokio::time::timeout(Duration::from_secs(8), self.task.take().unwrap())
            .await
            .expect("server stopped in time")
            .unwrap();
        r.expect("server ran without error");
        self.dir
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

pub async fn query_all(ec: &mut ExternalCoordinatorClient<Channel>) -> (Vec<PairHistory>, usize) {
    let mut s = ec
        .query_aggregated_mission_control(QueryAggregatedMissionControlRequest {})
        .await
        .unwrap()
        .into_inner();
    let (mut pairs, mut messages) = (Vec::new(), 0);
    while let Some(m) = s.message().await.unwrap() {
        messages += 1;
        pairs.extend(m.pairs);
    }
    (pairs, messages)
}

pub async fn query_v2(v2: &mut CoordinatorClient<Channel>, since: Option<u64>) -> (Vec<pb::AggregatedPair>, u64, bool) {
    let mut s = v2
        .query(pb::QueryRequest {
            since_cursor: since.unwrap_or(0),
            has_cursor: since.is_some(),
            max_pairs_per_message: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let (mut pairs, mut cursor, mut full) = (Vec::new(), 0, false);
    while let Some(m) = s.message().await.unwrap() {
        pairs.extend(m.pairs);
        cursor = m.cursor;
        full |= m.full_resync;
    }
    (pairs, cursor, full)
}

/// The pairs of a grpc-gateway NDJSON stream (`{"result":{"pairs":[...]}}` per line).
pub fn ndjson_pairs(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad NDJSON line ({e}): {line}"));
        let pairs = v["result"]["pairs"]
            .as_array()
            .unwrap_or_else(|| panic!("line is not {{\"result\":{{\"pairs\":[...]}}}}: {line}"));
        out.extend(pairs.iter().cloned());
    }
    out
}
