//! Integration tests of the coordinator over real sockets: `dmc_server::serve`
//! runs in-process on ports 127.0.0.1:0 with its generated self-signed
//! certificate, and clients connect over TLS trusting `<data-dir>/tls.cert`
//! (tonic for gRPC, hyper over tokio-rustls for REST). No mocks.

mod common;

use std::time::Duration;

use common::*;
use dmc_proto::dmc::coordinator::v2 as pb;
use dmc_proto::ecrpc::external_coordinator_client::ExternalCoordinatorClient;
use dmc_proto::ecrpc::{PairData, PairHistory, QueryAggregatedMissionControlRequest, RegisterMissionControlRequest};
use hyper::{Method, StatusCode};
use prost::Message;
use secp256k1::SecretKey;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

/// Starts a coordinator on a fresh temp data dir (TLS on, ports 0); `tweak`
/// adjusts the config. Rate limiting is effectively off unless re-enabled.
// The wiring is under test here, not the weighing: servers are open (`common::start_open`).
use common::{start_open as start, start_open_in as start_in};

// ------------------------------------------------------------ (a) ecrpc v1

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecrpc_register_and_streamed_query_return_the_same_pairs() {
    let srv = start(|c| c.query_batch_size = 2).await;
    let t = now() - 300;
    let sent = vec![
        pair(1, 2, success(t, 5_000_000)),
        pair(2, 3, failure(t + 10, 7_000)),
        pair(3, 1, success(t + 20, 123_456)),
        pair(
            1,
            3,
            PairData {
                fail_time: t + 30,
                fail_amt_sat: 9,
                fail_amt_msat: 9_000,
                success_time: t,
                success_amt_sat: 2,
                success_amt_msat: 2_000,
            },
        ),
        pair(3, 2, success(t + 40, 1_000)),
    ];
    let mut ec = srv.ec().await;
    let r = ec
        .register_mission_control(RegisterMissionControlRequest { pairs: sent.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.success_message, "Successfully registered 5 pairs");

    let (got, messages) = query_all(&mut ec).await;
    assert_eq!(messages, 3, "5 pairs in batches of 2");
    let (got, sent) = (sort(got), sort(sent));
    assert_eq!(got, sent);
    // Byte for byte on the wire, as a Go client would see them.
    let enc = |v: &[PairHistory]| v.iter().map(|p| p.encode_to_vec()).collect::<Vec<_>>();
    assert_eq!(enc(&got), enc(&sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_does_not_trust_the_certificate_is_refused() {
    let srv = start(|_| {}).await;
    // Another server's self-signed certificate is not this one's.
    let other = tempfile::tempdir().unwrap();
    let m = dmc_server::tls::load_or_generate(&other.path().join("c"), &other.path().join("k"), &[]).unwrap();
    let r = Endpoint::from_shared(format!("https://{}", srv.bound.grpc))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(m.cert_pem))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await;
    assert!(r.is_err(), "handshake must fail against an untrusted certificate");
    // Plain text to the TLS port gets no gRPC answer either.
    let plain = Endpoint::from_shared(format!("http://{}", srv.bound.grpc))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))
        .connect()
        .await;
    if let Ok(ch) = plain {
        let r = ExternalCoordinatorClient::new(ch)
            .query_aggregated_mission_control(QueryAggregatedMissionControlRequest {})
            .await;
        assert!(r.is_err(), "plain text must not be served on the TLS port");
    }
}

// ------------------------------------------------------------- (b) v2 signed

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_signed_registration_is_accepted_and_attributed() {
    let srv = start(|_| {}).await;
    let (sk, pk) = key(10);
    let t = now() - 120;
    let mut v2 = srv.v2().await;
    let r = v2
        .register(signed(
            &sk,
            &pk,
            now(),
            vec![pair(1, 2, success(t, 40_000)), pair(2, 1, failure(t, 3_000))],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.accepted, 2);
    assert_eq!(r.stale_dropped, 0);
    assert!(r.cursor > 0);
    assert_eq!(r.message, "Successfully registered 2 pairs");
    let (pairs, cursor, full) = query_v2(&mut v2, None).await;
    assert_eq!(cursor, r.cursor);
    assert!(full, "a query without a cursor is a full resync");
    assert_eq!(pairs.len(), 2);
    assert!(pairs.iter().all(|p| p.reporters == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_forged_or_tampered_registration_is_unauthenticated() {
    let srv = start(|_| {}).await;
    let (sk_a, pk_a) = key(10);
    let (sk_b, _) = key(11);
    let t = now() - 120;
    let mut v2 = srv.v2().await;

    // Signed by B, but the body claims A.
    let forged = signed(&sk_b, &pk_a, now(), vec![pair(1, 2, success(t, 40_000))]);
    let e = v2.register(forged).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e:?}");
    assert!(e.message().contains(&hex(&pk_a)), "{}", e.message());

    // Signed by A, then the amount changed in the body.
    let good = signed(&sk_a, &pk_a, now(), vec![pair(1, 2, success(t, 40_000))]);
    let mut body = pb::RegistrationBody::decode(good.body.as_slice()).unwrap();
    body.pairs[0].history.as_mut().unwrap().success_amt_msat = 99_000_000;
    body.pairs[0].history.as_mut().unwrap().success_amt_sat = 99_000;
    let tampered = pb::SignedRegistration {
        body: body.encode_to_vec(),
        signature: good.signature.clone(),
    };
    let e = v2.register(tampered).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e:?}");

    // Garbage signature.
    let e = v2
        .register(pb::SignedRegistration {
            body: good.body.clone(),
            signature: "not-a-signature".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e:?}");

    // Nothing was stored; the untouched original is still accepted.
    let (pairs, _, _) = query_v2(&mut v2, None).await;
    assert!(pairs.is_empty());
    assert_eq!(v2.register(good).await.unwrap().into_inner().accepted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_replay_of_the_same_signed_body_is_refused() {
    let srv = start(|_| {}).await;
    let (sk, pk) = key(12);
    let reg = signed(&sk, &pk, now(), vec![pair(1, 2, success(now() - 60, 1_000))]);
    let mut v2 = srv.v2().await;
    assert_eq!(v2.register(reg.clone()).await.unwrap().into_inner().accepted, 1);
    let e = v2.register(reg.clone()).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e:?}");
    assert!(e.message().contains("replay"), "{}", e.message());
    // Also over another connection (the replay cache is server-wide).
    let e = srv.v2().await.register(reg.clone()).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e:?}");

    // Other encodings of the same signature recover the same key, so they
    // are replays too: the "uncompressed" header byte (27 + recid instead of
    // 31 + recid), and the high-S twin (r, n - s) with the recovery id flipped.
    let raw = dmc_core::signmsg::zbase32_decode(&reg.signature).unwrap();
    let mut uncompressed_header = raw.clone();
    uncompressed_header[0] -= 4;
    let mut high_s = raw.clone();
    let s = secp256k1::Scalar::from_be_bytes(raw[33..].try_into().unwrap()).unwrap();
    let neg_s = SecretKey::from_slice(&s.to_be_bytes()).unwrap().negate();
    high_s[33..].copy_from_slice(&neg_s.secret_bytes());
    high_s[0] = 31 + ((raw[0] - 31) ^ 1);
    for (name, variant) in [("header 27+recid", uncompressed_header), ("high S", high_s)] {
        let signature = dmc_core::signmsg::zbase32_encode(&variant);
        assert_ne!(signature, reg.signature);
        let recovered = dmc_core::signmsg::recover_signer(&reg.body, &signature).unwrap();
        assert_eq!(recovered.0.to_vec(), pk, "{name} is a valid signature by the same key");
        let e = v2
            .register(pb::SignedRegistration {
                body: reg.body.clone(),
                signature,
            })
            .await
            .expect_err(name);
        assert_eq!(e.code(), tonic::Code::Unauthenticated, "{name}: {e:?}");
        assert!(e.message().contains("replay"), "{name}: {}", e.message());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_timestamp_outside_the_signature_window_is_refused() {
    let srv = start(|_| {}).await;
    let (sk, pk) = key(13);
    let obs = vec![pair(1, 2, success(now() - 60, 1_000))];
    let mut v2 = srv.v2().await;
    for ts in [now() - 11 * 60, now() + 11 * 60, 0] {
        let e = v2.register(signed(&sk, &pk, ts, obs.clone())).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated, "timestamp {ts}: {e:?}");
        assert!(e.message().contains("signature window"), "{}", e.message());
    }
    // Inside the window (9 minutes old) it is fine.
    let r = v2.register(signed(&sk, &pk, now() - 9 * 60, obs)).await.unwrap();
    assert_eq!(r.into_inner().accepted, 1);
}

// ------------------------------------------------------ (c) time in future

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observation_in_the_future_is_refused_naming_the_pair() {
    let srv = start(|_| {}).await;
    let mut ec = srv.ec().await;
    let ok = pair(1, 2, success(now() - 60, 1_000));
    let bad = pair(3, 4, failure(now() + 11 * 60, 2_000));
    let e = ec
        .register_mission_control(RegisterMissionControlRequest {
            pairs: vec![ok.clone(), bad],
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains(&hex(&node(3))), "{}", e.message());
    assert!(e.message().contains(&hex(&node(4))), "{}", e.message());
    assert!(e.message().contains("future"), "{}", e.message());
    // All or nothing: the good pair of the refused request was not stored.
    assert!(query_all(&mut ec).await.0.is_empty());

    // The same through v2.
    let (sk, pk) = key(14);
    let e = srv
        .v2()
        .await
        .register(signed(&sk, &pk, now(), vec![pair(5, 6, success(now() + 3600, 1_000))]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains(&hex(&node(5))), "{}", e.message());

    // Within the allowed skew (5 minutes ahead) is accepted.
    let r = ec
        .register_mission_control(RegisterMissionControlRequest {
            pairs: vec![pair(1, 2, success(now() + 300, 1_000))],
        })
        .await
        .unwrap();
    assert_eq!(r.into_inner().success_message, "Successfully registered 1 pairs");
}

// ------------------------------------------------ (d) inconsistent record

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inconsistent_record_is_normalised_as_lnd_import() {
    let srv = start(|_| {}).await;
    let mut ec = srv.ec().await;
    let t = now() - 300;
    let sent = pair(
        1,
        2,
        PairData {
            fail_time: t,
            fail_amt_sat: 1,
            fail_amt_msat: 1_000,
            success_time: t + 10,
            success_amt_sat: 5,
            success_amt_msat: 5_000,
        },
    );
    ec.register_mission_control(RegisterMissionControlRequest { pairs: vec![sent] })
        .await
        .unwrap();
    let (got, _) = query_all(&mut ec).await;
    assert_eq!(got.len(), 1);
    let h = got[0].history.unwrap();
    assert_eq!(h.success_amt_msat, 5_000);
    assert_eq!(h.success_time, t + 10);
    assert_eq!(h.fail_amt_msat, 5_001);
    assert_eq!(h.fail_amt_sat, 5);
    assert_eq!(h.fail_time, t);
}

// ------------------------------------------------------- (e) delta query

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_query_returns_only_changes_after_the_cursor() {
    let srv = start(|_| {}).await;
    let (sk1, pk1) = key(21);
    let (sk2, pk2) = key(22);
    let t = now() - 120;
    let mut v2 = srv.v2().await;
    let r1 = v2
        .register(signed(
            &sk1,
            &pk1,
            now(),
            vec![pair(1, 2, success(t, 10_000)), pair(3, 4, success(t, 1_000))],
        ))
        .await
        .unwrap()
        .into_inner();
    let r2 = v2
        .register(signed(
            &sk2,
            &pk2,
            now(),
            vec![pair(1, 2, success(t - 60, 20_000)), pair(5, 6, failure(t, 7_000))],
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(r2.cursor > r1.cursor);

    let (pairs, cursor, full) = query_v2(&mut v2, Some(r1.cursor)).await;
    assert!(!full);
    assert_eq!(cursor, r2.cursor);
    let mut keys: Vec<(Vec<u8>, Vec<u8>)> = pairs
        .iter()
        .map(|p| {
            let p = p.pair.as_ref().unwrap();
            (p.node_from.clone(), p.node_to.clone())
        })
        .collect();
    keys.sort();
    let mut want = vec![(node(1), node(2)), (node(5), node(6))];
    want.sort();
    assert_eq!(keys, want, "pair 3->4 did not change after the cursor");
    for p in &pairs {
        let ph = p.pair.as_ref().unwrap();
        let want_reporters = if ph.node_from == node(1) { 2 } else { 1 };
        assert_eq!(p.reporters, want_reporters, "{}", hex(&ph.node_from));
        assert!((115..=200).contains(&p.age_seconds), "age {}", p.age_seconds);
    }
    // The 1->2 aggregate keeps reporter 1's newer success.
    let p12 = pairs
        .iter()
        .find(|p| p.pair.as_ref().unwrap().node_from == node(1))
        .unwrap();
    assert_eq!(p12.pair.as_ref().unwrap().history.unwrap().success_amt_msat, 10_000);

    // Nothing after the newest cursor.
    let (pairs, cursor, _) = query_v2(&mut v2, Some(r2.cursor)).await;
    assert!(pairs.is_empty());
    assert_eq!(cursor, r2.cursor);
    // The full query has all three.
    assert_eq!(query_v2(&mut v2, None).await.0.len(), 3);
}

// ------------------------------------------------------ staleness window

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_pairs_are_dropped_and_an_all_stale_request_is_refused() {
    let srv = start(|_| {}).await;
    let mut ec = srv.ec().await;
    let old = now() - 8 * 24 * 3600;
    let e = ec
        .register_mission_control(RegisterMissionControlRequest {
            pairs: vec![pair(1, 2, success(old, 1_000)), pair(2, 3, failure(old, 1_000))],
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("staleness window"), "{}", e.message());
    let r = srv
        .post(
            "/v1/register_mission_control",
            &format!(
                r#"{{"pairs":[{{"nodeFrom":"{}","nodeTo":"{}","history":{{"successTime":"{old}","successAmtMsat":"1000"}}}}]}}"#,
                dmc_server::base64::encode(&node(1)),
                dmc_server::base64::encode(&node(2))
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("staleness window"));

    // A mix: the stale pair is dropped, the fresh one kept.
    let r = ec
        .register_mission_control(RegisterMissionControlRequest {
            pairs: vec![pair(1, 2, success(old, 1_000)), pair(2, 3, success(now() - 60, 1_000))],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.success_message,
        "Successfully registered 1 pairs and removed 1 stale pairs"
    );
    let (got, _) = query_all(&mut ec).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].node_from, node(2));
}

// ---------------------------------------------------------------- (f) REST

fn gateway_camel(from: u8, to: u8, t: i64, msat: i64) -> String {
    format!(
        r#"{{"nodeFrom":"{}","nodeTo":"{}","history":{{"successTime":"{t}","successAmtSat":"{}","successAmtMsat":"{msat}"}}}}"#,
        dmc_server::base64::encode(&node(from)),
        dmc_server::base64::encode(&node(to)),
        msat / 1000
    )
}

fn gateway_snake(from: u8, to: u8, t: i64, msat: i64) -> String {
    format!(
        r#"{{"node_from":"{}","node_to":"{}","history":{{"fail_time":"{t}","fail_amt_sat":"{}","fail_amt_msat":"{msat}"}}}}"#,
        dmc_server::base64::encode(&node(from)),
        dmc_server::base64::encode(&node(to)),
        msat / 1000
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_registers_on_both_gateway_paths_and_streams_ndjson() {
    let srv = start(|_| {}).await;
    let t = now() - 200;
    let r = srv
        .post(
            "/v1/register_mission_control",
            &format!(
                r#"{{"pairs":[{},{}]}}"#,
                gateway_camel(1, 2, t, 4_000),
                gateway_camel(2, 3, t, 6_000)
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["successMessage"], "Successfully registered 2 pairs");
    let r = srv
        .post(
            "/v1/registermissioncontrol",
            &format!(r#"{{"pairs":[{}]}}"#, gateway_snake(3, 1, t + 5, 8_000)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["successMessage"], "Successfully registered 1 pairs");

    // Malformed input is a 400 naming the field.
    let r = srv
        .post(
            "/v1/register_mission_control",
            r#"{"pairs":[{"nodeFrom":"!!","nodeTo":"AA=="}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(
        r.json()["error"].as_str().unwrap().contains("pairs[0].node_from"),
        "{}",
        r.text()
    );

    let r = srv.get("/v1/query_aggregated_mission_control").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    let pairs = ndjson_pairs(&r.text());
    assert_eq!(pairs.len(), 3, "{}", r.text());
    let find = |from: u8| {
        let b = dmc_server::base64::encode(&node(from));
        pairs.iter().find(|p| p["nodeFrom"] == b.as_str()).cloned().unwrap()
    };
    let p = find(1);
    assert_eq!(p["nodeTo"], dmc_server::base64::encode(&node(2)).as_str());
    assert_eq!(p["history"]["successTime"], t.to_string().as_str());
    assert_eq!(p["history"]["successAmtMsat"], "4000");
    assert_eq!(p["history"]["successAmtSat"], "4");
    assert!(p["history"].get("failTime").is_none(), "zero values are omitted: {p}");
    let p = find(3);
    assert_eq!(p["history"]["failTime"], (t + 5).to_string().as_str());
    assert_eq!(p["history"]["failAmtMsat"], "8000");
    // The alias path serves the same.
    let r2 = srv.get("/v1/queryaggregatedmissioncontrol").await;
    assert_eq!(r2.body, r.body);
    // And gRPC agrees.
    assert_eq!(query_all(&mut srv.ec().await).await.0.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_query_has_etag_304_and_gzip() {
    let srv = start(|_| {}).await;
    let t = now() - 100;
    let r = srv
        .post(
            "/v1/register_mission_control",
            &format!(r#"{{"pairs":[{}]}}"#, gateway_camel(1, 2, t, 4_000)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let plain = srv.get("/v1/query_aggregated_mission_control").await;
    assert_eq!(plain.status, StatusCode::OK);
    let etag = plain.header("etag").expect("ETag").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    let r = srv
        .http(
            Method::GET,
            "/v1/query_aggregated_mission_control",
            &[("if-none-match", &etag)],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));

    let gz = srv
        .http(
            Method::GET,
            "/v1/query_aggregated_mission_control",
            &[("accept-encoding", "gzip, deflate")],
            "",
        )
        .await;
    assert_eq!(gz.status, StatusCode::OK);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("etag"), Some(etag.as_str()));
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.body.as_slice()), &mut unzipped).unwrap();
    assert_eq!(unzipped, plain.body);

    // A change moves the ETag; the old one no longer matches.
    let r = srv
        .post(
            "/v1/register_mission_control",
            &format!(r#"{{"pairs":[{}]}}"#, gateway_camel(2, 1, t, 4_000)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = srv
        .http(
            Method::GET,
            "/v1/query_aggregated_mission_control",
            &[("if-none-match", &etag)],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(ndjson_pairs(&r.text()).len(), 2);
}

/// A body over `max_body_bytes` announced with an honest Content-Length is
/// answered 413 naming the limit (not a reset), on v1 and v2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_with_content_length_is_413_naming_the_limit() {
    let srv = start(|c| c.max_body_bytes = 64 * 1024).await;
    let body = format!(r#"{{"pairs":[],"pad":"{}"}}"#, "a".repeat(200 * 1024));
    for path in ["/v1/register_mission_control", "/v2/register"] {
        let r = srv.post(path, &body).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {}", r.text());
        assert_eq!(r.json()["limit"], "max_body_bytes", "{path}");
    }
    // The server still answers on a fresh connection.
    assert_eq!(srv.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_pairs_is_413_naming_the_limit() {
    let srv = start(|c| c.max_pairs_per_request = 5).await;
    let t = now() - 100;
    let six: Vec<String> = (1..=6).map(|i| gateway_camel(i, i + 10, t, 1_000)).collect();
    let r = srv
        .post(
            "/v1/register_mission_control",
            &format!(r#"{{"pairs":[{}]}}"#, six.join(",")),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    let j = r.json();
    assert_eq!(j["limit"], "max_pairs_per_request");
    assert!(j["error"].as_str().unwrap().contains("max_pairs_per_request"));
    // Five is fine.
    let r = srv
        .post(
            "/v1/register_mission_control",
            &format!(r#"{{"pairs":[{}]}}"#, six[..5].join(",")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // gRPC: ResourceExhausted with the same JSON.
    let e = srv
        .ec()
        .await
        .register_mission_control(RegisterMissionControlRequest {
            pairs: (1..=6).map(|i| pair(i, i + 10, success(t, 1_000))).collect(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted);
    assert!(e.message().contains("max_pairs_per_request"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_is_429_naming_the_limit() {
    const RPM: u32 = 3;
    let srv = start(|c| c.requests_per_minute = RPM).await;
    let t = now() - 100;
    let body = format!(r#"{{"pairs":[{}]}}"#, gateway_camel(1, 2, t, 1_000));
    // A burst of RPM, then one more every 60/RPM s: within 2*RPM+1 quick
    // requests a 429 must appear.
    let mut limited = None;
    for i in 0..(2 * RPM + 1) {
        let r = srv.post("/v1/register_mission_control", &body).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((i, r));
            break;
        }
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let (i, r) = limited.expect("a 429 within 2*RPM+1 requests");
    assert!(i >= RPM, "limited after only {i} requests");
    let j = r.json();
    assert_eq!(j["limit"], "requests_per_minute");
    assert!(j["error"].as_str().unwrap().contains("requests"), "{j}");
    // Queries are not rate limited.
    assert_eq!(
        srv.get("/v1/query_aggregated_mission_control").await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics() {
    let srv = start(|_| {}).await;
    let r = srv.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = srv
        .post(
            "/v1/register_mission_control",
            &format!(r#"{{"pairs":[{}]}}"#, gateway_camel(1, 2, now() - 60, 1_000)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = srv.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    assert!(text.contains("dmc_store_pairs 1\n"), "{text}");
    assert!(text.contains("dmc_register_requests_total 1\n"), "{text}");
    assert!(text.contains("# TYPE dmc_store_pairs gauge"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_v2_register_signed_json_and_query_since() {
    let srv = start(|_| {}).await;
    let (sk, pk) = key(30);
    let t = now() - 90;
    let reg = signed(&sk, &pk, now(), vec![pair(1, 2, success(t, 3_000))]);
    let body = rest_json(&reg);
    let r = srv.post("/v2/register", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let j = r.json();
    assert_eq!(j["accepted"], 1);
    let c1: u64 = j["cursor"].as_str().unwrap().parse().unwrap();
    assert!(c1 > 0);
    // Replay over REST: 401.
    let r = srv.post("/v2/register", &body).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert_eq!(r.json()["code"], "unauthenticated");
    // Forged over REST: 401.
    let (sk_other, _) = key(31);
    let forged = signed(&sk_other, &pk, now(), vec![pair(1, 2, success(t, 3_000))]);
    let r = srv.post("/v2/register", &rest_json(&forged)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());

    // A second, v1 change after c1.
    let r = srv
        .post(
            "/v1/register_mission_control",
            &format!(r#"{{"pairs":[{}]}}"#, gateway_camel(4, 5, t, 9_000)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let all = srv.get("/v2/query").await.json();
    assert_eq!(all["pairs"].as_array().unwrap().len(), 2, "{all}");
    let since = srv.get(&format!("/v2/query?since={c1}")).await;
    assert_eq!(since.status, StatusCode::OK);
    let j = since.json();
    let pairs = j["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 1, "{j}");
    assert_eq!(pairs[0]["node_from"], hex(&node(4)).as_str());
    assert_eq!(pairs[0]["history"]["success_amt_msat"], "9000");
    assert_eq!(
        (pairs[0]["reporters"].clone(), pairs[0]["reporters_anonymous"].clone()),
        (0.into(), 1.into()),
        "v1 is anonymous"
    );
    let age: i64 = pairs[0]["age_seconds"].as_str().unwrap().parse().unwrap();
    assert!((85..=170).contains(&age), "{age}");
    assert_eq!(j["full_resync"], false);
    assert!(j["cursor"].as_str().unwrap().parse::<u64>().unwrap() > c1);
    let r = srv.get("/v2/query?since=banana").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

// ------------------------------------------------------------ persistence

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_restart_keeps_data_and_certificate() {
    let srv = start(|_| {}).await;
    let cert = srv.cert_pem();
    let sent = vec![pair(1, 2, success(now() - 60, 2_000))];
    srv.ec()
        .await
        .register_mission_control(RegisterMissionControlRequest { pairs: sent.clone() })
        .await
        .unwrap();
    let dir = srv.stop().await;
    let srv = start_in(dir, |_| {}).await;
    assert_eq!(srv.cert_pem(), cert, "the generated certificate is reused");
    assert_eq!(query_all(&mut srv.ec().await).await.0, sent);
}
