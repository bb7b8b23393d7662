//! Replay protection over real sockets: the signature window cannot be
//! bypassed with an extreme timestamp, replays are refused after a
//! restart, an older body after a newer one is refused, and a body that
//! was refused (not stored) can be sent again as is.

mod common;

use common::*;
use dmc_proto::dmc::coordinator::v2 as pb;
use tonic::Code;

async fn register(srv: &Server, reg: &pb::SignedRegistration) -> Result<pb::RegisterResponse, tonic::Status> {
    srv.v2().await.register(reg.clone()).await.map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extreme_timestamp_does_not_bypass_the_signature_window() {
    let srv = serve_in(tempfile::tempdir().unwrap(), |c| c.graph = None).await;
    let (sk, pk) = key(40);
    for ts in [
        i64::MAX,
        i64::MIN,
        i64::MAX / 1_000_000_000 + 1,
        // 5 s beyond the window ahead: the server reads its clock after
        // the request's flight, a second later under load (601 failed CI once).
        now() + 605,
        now() - 601,
    ] {
        let e = register(
            &srv,
            &signed(&sk, &pk, ts, vec![pair(1, 2, success(now() - 60, 1_000))]),
        )
        .await
        .expect_err("outside the window");
        assert_eq!(e.code(), Code::Unauthenticated, "{ts}: {e:?}");
        assert!(e.message().contains("signature window"), "{ts}: {}", e.message());
    }
    let ok = register(
        &srv,
        &signed(&sk, &pk, now() + 590, vec![pair(1, 2, success(now() - 60, 1_000))]),
    )
    .await;
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_and_older_bodies_are_refused_also_after_a_restart() {
    let srv = serve_in(tempfile::tempdir().unwrap(), |c| c.graph = None).await;
    let (sk, pk) = key(41);
    let t = now();
    let older = signed(&sk, &pk, t - 5, vec![pair(1, 2, failure(t - 70, 1))]);
    let newer = signed(&sk, &pk, t, vec![pair(1, 2, success(t - 60, 500_000))]);
    let chunk = signed(&sk, &pk, t, vec![pair(3, 4, success(t - 60, 7_000))]);
    register(&srv, &newer).await.unwrap();
    register(&srv, &chunk).await.expect("a second chunk of the same second");
    let e = register(&srv, &older).await.expect_err("older than the last");
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(
        e.message().contains("older than this reporter's last"),
        "{}",
        e.message()
    );
    let dir = srv.stop().await;
    let srv = serve_in(dir, |c| c.graph = None).await;
    let e = register(&srv, &newer).await.expect_err("replay after a restart");
    assert!(e.message().contains("already received"), "{}", e.message());
    assert!(register(&srv, &older).await.is_err());
    let (pairs, _) = query_all(&mut srv.ec().await).await;
    let p12 = pairs.iter().find(|p| p.node_from == node(1)).unwrap();
    assert_eq!(
        p12.history.unwrap().success_amt_msat,
        500_000,
        "the newer success survives"
    );
    assert_eq!(p12.history.unwrap().fail_amt_msat, 0);
}

/// A body refused before it was stored (here by the shared storage budget
/// of reporters that are not established) is not "already received": sent
/// again as is once there is room, without a restart, it is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_body_can_be_retried_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let graph = dir.path().join("graph.json");
    let t = now();
    let policy = format!(
        r#"{{"time_lock_delta":40,"min_htlc":"1000","fee_base_msat":"1000","fee_rate_milli_msat":"1","disabled":false,"last_update":{t}}}"#
    );
    let (a, b) = (hex(&node(1)), hex(&node(2)));
    std::fs::write(
        &graph,
        format!(
            r#"{{"nodes":[],"edges":[{{"channel_id":"1","node1_pub":"{}","node2_pub":"{}","capacity":"5000000","node1_policy":{policy},"node2_policy":{policy}}}]}}"#,
            a.clone().min(b.clone()),
            a.max(b)
        ),
    )
    .unwrap();
    let srv = serve_in(dir, |c| {
        c.graph = Some(graph.clone());
        c.max_unverified_observations = 2;
        // The anonymous observation below goes stale within seconds; the
        // budget is recounted after every reputation pass.
        c.staleness_window = dmc_core::time::DurationNs(63_000_000_000);
        c.cleanup_interval = dmc_core::time::DurationNs(300_000_000);
        c.reputation_interval = dmc_core::time::DurationNs(300_000_000);
    })
    .await;
    let r = srv
        .post(
            "/v1/register_mission_control",
            &format!(
                r#"{{"pairs":[{{"nodeFrom":"{}","nodeTo":"{}","history":{{"successTime":"{}","successAmtSat":"1","successAmtMsat":"1000"}}}}]}}"#,
                dmc_server::base64::encode(&node(1)),
                dmc_server::base64::encode(&node(2)),
                t - 60
            ),
        )
        .await;
    assert_eq!(r.status, hyper::StatusCode::OK, "{}", r.text());
    // A fresh (unverified) key's two pairs do not fit beside the one stored.
    let (sk, pk) = key(42);
    let body = signed(
        &sk,
        &pk,
        t,
        vec![pair(1, 2, success(t - 1, 2_000)), pair(2, 1, success(t - 1, 2_000))],
    );
    let e = register(&srv, &body).await.expect_err("over the budget");
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("max_unverified_observations"), "{}", e.message());
    // Once the anonymous observation expired, the same body is accepted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match register(&srv, &body).await {
            Ok(ok) => {
                assert_eq!(ok.accepted, 2);
                break;
            }
            Err(e) if e.code() == Code::ResourceExhausted && std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the refused body, retried as is: {e:?}"),
        }
    }
}
