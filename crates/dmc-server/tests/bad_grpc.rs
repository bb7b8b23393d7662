//! Hostile gRPC input over real sockets: `dmc_server::serve` in-process
//! with TLS (the harness in `common`), requests sent as raw gRPC frames so
//! their bodies can be malformed protobuf, and oversized client strings in
//! well-formed requests. The server must answer `INVALID_ARGUMENT` with a
//! short message that names the problem and does not echo the input.

mod common;

use common::*;
use dmc_proto::ecrpc::{PairHistory, RegisterMissionControlRequest, RegisterMissionControlResponse};
use prost::bytes::{Buf, BufMut};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// These tests are about the wire, so no graph weighs the pairs (as in
/// `grpc_rest.rs`).
async fn start() -> Server {
    serve_in(tempfile::tempdir().unwrap(), |cfg| {
        cfg.graph = None;
        cfg.min_serving_weight = 0.0;
    })
    .await
}

/// A codec that sends and receives message bodies as given bytes, framed as
/// gRPC (5-byte prefix) by tonic.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

const EC_REGISTER: &str = "/ecrpc.ExternalCoordinator/RegisterMissionControl";
const EC_QUERY: &str = "/ecrpc.ExternalCoordinator/QueryAggregatedMissionControl";
const V2_REGISTER: &str = "/dmc.coordinator.v2.Coordinator/Register";
const V2_QUERY: &str = "/dmc.coordinator.v2.Coordinator/Query";

/// One unary call with `body` as the request message's bytes.
async fn raw_unary(ch: &Channel, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(ch.clone());
    grpc.ready().await.expect("channel ready");
    grpc.unary(tonic::Request::new(body), PathAndQuery::from_static(path), Raw)
        .await
        .map(tonic::Response::into_inner)
}

/// One server-streaming call with `body` as the request message's bytes;
/// the streamed messages' bytes.
async fn raw_stream(ch: &Channel, path: &'static str, body: Vec<u8>) -> Result<Vec<Vec<u8>>, Status> {
    let mut grpc = tonic::client::Grpc::new(ch.clone());
    grpc.ready().await.expect("channel ready");
    let mut s = grpc
        .server_streaming(tonic::Request::new(body), PathAndQuery::from_static(path), Raw)
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(m) = s.message().await? {
        out.push(m);
    }
    Ok(out)
}

/// Bodies that are not protobuf: a varint that never ends (`ff ff ff`), a
/// truncated tag varint (`80`), and a length-delimited field 1 claiming 5
/// bytes with 1 present.
const MALFORMED: &[&[u8]] = &[&[0xff, 0xff, 0xff], &[0x80], &[0x0a, 0x05, 0x01]];

fn assert_malformed(r: Result<impl std::fmt::Debug, Status>, what: &str, body: &[u8], message_type: &str) {
    let e = r.expect_err(&format!("{what} with body {body:02x?} must be refused"));
    assert_eq!(
        e.code(),
        Code::InvalidArgument,
        "{what} with body {body:02x?}: {e:?} (tonic-prost's default would be INTERNAL)"
    );
    let want = format!("malformed request: not a valid {message_type}: failed to decode Protobuf message");
    assert!(e.message().starts_with(&want), "{what}: {:?}", e.message());
    assert!(
        e.message().len() < 200,
        "{what}: a short message, got {} bytes",
        e.message().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_protobuf_requests_are_invalid_argument() {
    let srv = start().await;
    let ch = srv.channel().await;

    // The raw path works: a well-formed body sent the same way is served.
    let good = RegisterMissionControlRequest {
        pairs: vec![pair(1, 2, success(now() - 60, 1_000))],
    };
    let reply = raw_unary(&ch, EC_REGISTER, good.encode_to_vec())
        .await
        .expect("well-formed");
    let reply = RegisterMissionControlResponse::decode(reply.as_slice()).unwrap();
    assert_eq!(reply.success_message, "Successfully registered 1 pairs");
    assert_eq!(
        raw_stream(&ch, EC_QUERY, Vec::new()).await.expect("well-formed").len(),
        1
    );

    for body in MALFORMED {
        assert_malformed(
            raw_unary(&ch, EC_REGISTER, body.to_vec()).await,
            "ecrpc RegisterMissionControl",
            body,
            "ecrpc.RegisterMissionControlRequest",
        );
        assert_malformed(
            raw_stream(&ch, EC_QUERY, body.to_vec()).await,
            "ecrpc QueryAggregatedMissionControl",
            body,
            "ecrpc.QueryAggregatedMissionControlRequest",
        );
        assert_malformed(
            raw_unary(&ch, V2_REGISTER, body.to_vec()).await,
            "v2 Register",
            body,
            "dmc.coordinator.v2.SignedRegistration",
        );
        assert_malformed(
            raw_stream(&ch, V2_QUERY, body.to_vec()).await,
            "v2 Query",
            body,
            "dmc.coordinator.v2.QueryRequest",
        );
    }

    // Nothing was stored by the refused requests, and the generated
    // clients (same codec) still work on the same connection.
    let (pairs, _) = query_all(&mut dmc_proto::ExternalCoordinatorClient::new(ch.clone())).await;
    assert_eq!(pairs.len(), 1);
    let (pairs, _, _) = query_v2(&mut dmc_proto::CoordinatorClient::new(ch), None).await;
    assert_eq!(pairs.len(), 1);
}

/// About 1 MB of text that is no key.
fn megabyte_string() -> Vec<u8> {
    b"not-a-node-key/".repeat(70_000)
}

fn assert_short(e: &Status, code: Code, names: &str) {
    assert_eq!(e.code(), code, "{e:?}");
    let m = e.message();
    assert!(
        m.len() <= 200,
        "the 1 MB input must not be echoed: {} bytes: {:?}…",
        m.len(),
        &m[..200.min(m.len())]
    );
    assert!(m.contains(names), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn megabyte_client_strings_are_not_echoed() {
    let srv = start().await;
    let huge = megabyte_string();
    let n = huge.len();
    assert!(n > 1_000_000);
    let t = now() - 60;

    // ecrpc: a 1 MB node_from in a pair.
    let bogus = PairHistory {
        node_from: huge.clone(),
        ..pair(1, 2, success(t, 1_000))
    };
    let e = srv
        .ec()
        .await
        .register_mission_control(RegisterMissionControlRequest { pairs: vec![bogus] })
        .await
        .unwrap_err();
    assert_short(&e, Code::InvalidArgument, "pairs[0].node_from");
    assert!(e.message().contains(&format!("({n} bytes)")), "{}", e.message());

    // v2: a 1 MB reporter, correctly signed (by a key that is not it).
    let (sk, pk) = key(20);
    let mut v2 = srv.v2().await;
    let e = v2
        .register(signed(&sk, &huge, now(), vec![pair(1, 2, success(t, 1_000))]))
        .await
        .unwrap_err();
    assert_short(&e, Code::InvalidArgument, "reporter");

    // v2: a 1 MB node_to in a correctly signed body.
    let bogus = PairHistory {
        node_to: huge.clone(),
        ..pair(1, 2, success(t, 1_000))
    };
    let e = v2.register(signed(&sk, &pk, now(), vec![bogus])).await.unwrap_err();
    assert_short(&e, Code::InvalidArgument, "pairs[0].node_to");

    // v2: a 1 MB signature string.
    let mut reg = signed(&sk, &pk, now(), vec![pair(1, 2, success(t, 1_000))]);
    reg.signature = String::from_utf8(huge).unwrap();
    let e = v2.register(reg).await.unwrap_err();
    assert_short(&e, Code::Unauthenticated, "signature");

    // Nothing was stored.
    let (pairs, _, _) = query_v2(&mut v2, None).await;
    assert!(pairs.is_empty());
}
