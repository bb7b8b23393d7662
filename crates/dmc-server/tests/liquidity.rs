//! The coordinator's liquidity model over real sockets: signed
//! registrations with `success_kinds` feed it, `GET /v2/liquidity` shows
//! it (pagination, `?pair=`, refusals naming the parameter), replays
//! change nothing, a restart reseeds it from the store, and with
//! `lnd_records = "model"` the LND snapshot and v2 queries serve its
//! records. `dmc_server::serve` runs in-process with TLS on ports 0.

mod common;

use common::*;
use dmc_proto::dmc::coordinator::v2 as pb;
use dmc_proto::ecrpc::{PairData, PairHistory};
use hyper::StatusCode;
use prost::Message;
use secp256k1::SecretKey;
use serde_json::Value;

// The wiring is under test here, not the weighing: servers are open (`common::start_open`).
use common::{start_open as start, start_open_in as start_in};

/// A registration signed by `signer` naming itself, with `kinds`.
fn signed_kinds(
    signer: &SecretKey,
    reporter: &[u8],
    timestamp: i64,
    pairs: Vec<PairHistory>,
    kinds: &[pb::SuccessKind],
) -> pb::SignedRegistration {
    let body = pb::RegistrationBody {
        reporter: reporter.to_vec(),
        timestamp,
        pairs,
        successes_only: false,
        success_kinds: kinds.iter().map(|k| *k as i32).collect(),
    }
    .encode_to_vec();
    let signature = dmc_core::signmsg::sign_message(signer, &body);
    pb::SignedRegistration { body, signature }
}

fn hex_of(i: u8) -> String {
    hex(&node(i))
}

fn pair_param(from: u8, to: u8) -> String {
    format!("{}:{}", hex_of(from), hex_of(to))
}

fn sum(v: &Value) -> f64 {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).sum()
}

/// The one pair of `/v2/liquidity?pair=from:to`.
async fn one(srv: &Server, from: u8, to: u8) -> (Value, i64) {
    let r = srv.get(&format!("/v2/liquidity?pair={}", pair_param(from, to))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let j = r.json();
    let pairs = j["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 1, "{j}");
    (pairs[0].clone(), j["served_at"].as_i64().unwrap())
}

/// Two signed reporters (one over gRPC, one over REST) register a pair's
/// successes and failures with their kinds; `/v2/liquidity` shows it with
/// histograms summing to the observations, the registered times as the
/// newest, and an LND record stamped no later than `served_at`. A replayed
/// body is refused and a re-sent record changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reporters_shape_a_pair_and_replays_change_nothing() {
    let srv = start(|_| {}).await;
    let mut v2 = srv.v2().await;
    let t = now() - 600;
    let (ka, a) = key(10);
    let (kb, b) = key(11);
    // A: a settled success of 2 000 sat, then a failure of 9 000 sat.
    let first = signed_kinds(
        &ka,
        &a,
        now(),
        vec![pair(1, 2, success(t, 2_000_000))],
        &[pb::SuccessKind::Settled],
    );
    v2.register(first.clone()).await.expect("A's success");
    let second = signed_kinds(&ka, &a, now() + 1, vec![pair(1, 2, failure(t + 60, 9_000_000))], &[]);
    v2.register(second).await.expect("A's failure");
    // B over REST: a returned success of 3 000 sat and a failure of 8 000 sat in one record.
    let both = PairData {
        success_time: t + 120,
        success_amt_sat: 3_000,
        success_amt_msat: 3_000_000,
        fail_time: t + 180,
        fail_amt_sat: 8_000,
        fail_amt_msat: 8_000_000,
    };
    let reg = signed_kinds(&kb, &b, now(), vec![pair(1, 2, both)], &[pb::SuccessKind::Returned]);
    let r = srv.post("/v2/register", &rest_json(&reg)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let (p, served_at) = one(&srv, 1, 2).await;
    assert_eq!(p["from"], hex_of(1));
    assert_eq!(p["to"], hex_of(2));
    assert_eq!(p["reporters"], 2);
    // Two successes and two failures, each one datapoint of weight 1,
    // decayed by at most a few minutes of a 3-day half-life.
    let (s, f) = (sum(&p["success_histogram"]), sum(&p["failure_histogram"]));
    assert!((s - 2.0).abs() < 0.01 && (f - 2.0).abs() < 0.01, "sums {s} {f}: {p}");
    assert_eq!(p["success_histogram"].as_array().unwrap().len(), 32);
    assert_eq!(p["newest_success_time"], t + 120);
    assert_eq!(p["newest_failure_time"], t + 180);
    let lnd = &p["lnd"];
    assert!(lnd.is_object(), "a record is derived: {p}");
    for k in ["success_time", "fail_time"] {
        assert!(
            lnd[k].as_i64().unwrap() <= served_at,
            "{k} after served_at {served_at}: {lnd}"
        );
    }
    assert!(
        lnd["fail_amt_msat"].as_i64().unwrap() > lnd["success_amt_msat"].as_i64().unwrap(),
        "{lnd}"
    );
    let lo = p["lower_bound_msat"].as_i64().unwrap();
    let hi = p["upper_bound_msat"].as_i64().unwrap();
    assert!(lo <= hi && hi <= p["capacity_msat"].as_i64().unwrap(), "{p}");

    // The same body again: refused as a replay, the model unchanged.
    let replay = v2.register(first).await.expect_err("a replayed body is refused");
    assert_eq!(replay.code(), tonic::Code::Unauthenticated, "{replay:?}");
    // A new body re-sending A's old success: stored as before, nothing new observed.
    let resend = signed_kinds(
        &ka,
        &a,
        now() + 2,
        vec![pair(1, 2, success(t, 2_000_000))],
        &[pb::SuccessKind::Settled],
    );
    v2.register(resend).await.expect("a re-send is accepted");
    let (again, _) = one(&srv, 1, 2).await;
    assert!((sum(&again["success_histogram"]) - s).abs() < 1e-4, "{again}");
    assert!((sum(&again["failure_histogram"]) - f).abs() < 1e-4, "{again}");
    assert_eq!(again["newest_success_time"], t + 120);

    // A restart seeds the model from the store's last records: the pair is still there.
    let dir = srv.stop().await;
    let srv = start_in(dir, |_| {}).await;
    let (after, _) = one(&srv, 1, 2).await;
    assert_eq!(after["reporters"], 2, "{after}");
    assert_eq!(after["newest_failure_time"], t + 180);
}

/// `success_kinds` must be empty or one per pair: another length is
/// refused on both transports, naming the field, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatched_success_kinds_length_is_refused_naming_the_field() {
    let srv = start(|_| {}).await;
    let mut v2 = srv.v2().await;
    let t = now() - 60;
    let (k, r) = key(12);
    let pairs = vec![pair(1, 2, success(t, 1_000_000)), pair(2, 3, success(t, 1_000_000))];
    let reg = signed_kinds(&k, &r, now(), pairs.clone(), &[pb::SuccessKind::Settled]);
    let e = v2.register(reg.clone()).await.expect_err("refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("success_kinds"), "{}", e.message());
    let reg = signed_kinds(&k, &r, now(), pairs, &[pb::SuccessKind::Settled; 3]);
    let rest = srv.post("/v2/register", &rest_json(&reg)).await;
    assert_eq!(rest.status, StatusCode::BAD_REQUEST);
    assert!(
        rest.text().contains("success_kinds: 3 entries for 2 pairs"),
        "{}",
        rest.text()
    );
    let j = srv.get("/v2/liquidity").await.json();
    assert_eq!(j["pairs"], Value::Array(vec![]), "{j}");
}

/// Pages of `?limit=` follow each other through `next_after`; `?pair=`
/// of a pair without evidence is a 404 naming it; bad parameters are
/// 400s naming the parameter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liquidity_pages_and_refusals() {
    let srv = start(|_| {}).await;
    let t = now() - 60;
    let (k, r) = key(13);
    let pairs = vec![
        pair(1, 2, success(t, 1_000_000)),
        pair(2, 3, failure(t, 5_000_000)),
        pair(3, 1, success(t, 7_000_000)),
    ];
    let reg = signed(&k, &r, now(), pairs);
    let reply = srv.post("/v2/register", &rest_json(&reg)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let all = srv.get("/v2/liquidity").await.json();
    let keys: Vec<(String, String)> = all["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["from"].as_str().unwrap().to_string(),
                p["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 3, "{all}");
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "sorted by pair");
    assert_eq!(all["bucket_edges"].as_array().unwrap().len(), 33);
    assert!(all.get("next_after").is_none(), "{all}");

    let first = srv.get("/v2/liquidity?limit=2").await.json();
    assert_eq!(first["pairs"].as_array().unwrap().len(), 2);
    let next = first["next_after"].as_str().expect("more follow").to_string();
    assert_eq!(next, format!("{}:{}", keys[1].0, keys[1].1));
    let rest = srv.get(&format!("/v2/liquidity?limit=2&after={next}")).await.json();
    let rest_pairs = rest["pairs"].as_array().unwrap();
    assert_eq!(rest_pairs.len(), 1, "{rest}");
    assert_eq!(rest_pairs[0]["from"], keys[2].0.as_str());
    assert!(rest.get("next_after").is_none(), "{rest}");

    let missing = pair_param(2, 1);
    let r = srv.get(&format!("/v2/liquidity?pair={missing}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    assert!(r.text().contains(&missing), "{}", r.text());

    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=ten", "limit"),
        ("after=nothex", "after"),
        (&*format!("after={}:zz", hex_of(1)), "after"),
        ("pair=02:03", "pair"),
        ("colour=blue", "colour"),
        ("limit=1&limit=2", "limit"),
    ] {
        let r = srv.get(&format!("/v2/liquidity?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text());
        let j = r.json();
        assert!(
            j["error"].as_str().unwrap().starts_with(&format!("{param}:")),
            "{query}: {j}"
        );
    }
}

/// With `lnd_records = "model"` the v1 stream, `/v2/snapshot` and v2
/// queries serve the model's records: what `/v2/liquidity` shows as
/// `lnd`, stamped no later than the serving time (a success, if served, at
/// the serving time, not the registered one), every one loading in LND; v2
/// answers are full snapshots flagged `full_resync`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lnd_records_model_serves_the_models_records() {
    let srv = start(|c| c.lnd_records = dmc_server::config::LndRecords::Model).await;
    let mut v2 = srv.v2().await;
    let t = now() - 600;
    for (i, k) in [(20u8, 0i64), (21, 30)] {
        let (sk, r) = key(i);
        let both = PairData {
            success_time: t + k,
            success_amt_sat: 2_000,
            success_amt_msat: 2_000_000,
            fail_time: t + k + 10,
            fail_amt_sat: 9_000,
            fail_amt_msat: 9_000_000,
        };
        let reg = signed_kinds(
            &sk,
            &r,
            now(),
            vec![pair(1, 2, both), pair(2, 3, success(t + k, 4_000_000))],
            &[pb::SuccessKind::Returned, pb::SuccessKind::Settled],
        );
        v2.register(reg).await.expect("registered");
    }
    let before = now();
    let (grpc, _) = query_all(&mut srv.ec().await).await;
    let after = now();
    assert_eq!(grpc.len(), 2, "{grpc:?}");
    for p in &grpc {
        let h = p.history.unwrap();
        let history = dmc_core::rpc::PairData {
            fail_time: h.fail_time,
            fail_amt_sat: h.fail_amt_sat,
            fail_amt_msat: h.fail_amt_msat,
            success_time: h.success_time,
            success_amt_sat: h.success_amt_sat,
            success_amt_msat: h.success_amt_msat,
        };
        let core = dmc_core::rpc::PairHistory {
            node_from: p.node_from.clone(),
            node_to: p.node_to.clone(),
            history,
        };
        dmc_core::sync_plan::validate_pair(core).expect("every served record loads in LND");
        // A success, where the model serves one, is stamped at the serving
        // time; with these few unverified reporters the model may serve
        // only a failure (its prior lends no success).
        assert!(
            h.success_time == 0 || (h.success_time >= before - 1 && h.success_time <= after),
            "stamped at serving: {h:?}"
        );
        assert!(h.success_time != 0 || h.fail_time != 0, "an empty record: {h:?}");
        assert!(h.fail_time <= after, "{h:?}");
    }
    let (p, served_at) = one(&srv, 1, 2).await;
    let served = grpc.iter().find(|g| g.node_from == node(1)).unwrap().history.unwrap();
    assert_eq!(p["lnd"]["fail_amt_msat"], served.fail_amt_msat, "{p}");
    assert_eq!(p["lnd"]["success_amt_msat"], served.success_amt_msat, "{p}");
    assert!(served.success_time <= served_at + 1);

    let snap = srv.get("/v2/snapshot").await;
    assert_eq!(snap.status, StatusCode::OK);
    assert_eq!(snap.json()["pairs"].as_array().unwrap().len(), 2, "{}", snap.text());
    let (pairs, cursor, full) = query_v2(&mut v2, Some(1)).await;
    assert_eq!(pairs.len(), 2);
    assert!(full, "model answers are full snapshots");
    assert!(cursor > 0);
}
