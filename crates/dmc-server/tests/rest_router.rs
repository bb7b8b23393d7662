//! REST routing, JSON bodies and status codes through the axum router
//! itself (`tower::ServiceExt::oneshot`): no socket, no TLS, a coordinator
//! on a fixed clock. What sockets add (TLS, connection limits, timeouts)
//! is tested over them in `grpc_rest.rs` and `limits.rs`.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use common::*;
use dmc_core::Timestamp;
use dmc_server::{Coordinator, ServerConfig};
use dmc_store::coordinator::{CoordinatorStore, RedbCoordinatorStore};
use serde_json::Value;
use tower::ServiceExt;

/// The REST router of a coordinator on an in-memory store, no graph,
/// every accepted pair served, its clock fixed at `t0`.
struct Rest {
    router: axum::Router,
    coordinator: Arc<Coordinator>,
    t0: i64,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.status, self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn rest(tweak: impl FnOnce(&mut ServerConfig)) -> Rest {
    let mut config = ServerConfig::with_data_dir(std::path::PathBuf::from("/nonexistent/dmc-rest-router"));
    config.graph = None;
    config.min_serving_weight = 0.0;
    tweak(&mut config);
    let store: Arc<dyn CoordinatorStore> = Arc::new(RedbCoordinatorStore::in_memory().expect("store"));
    let t0 = now();
    let coordinator = Arc::new(Coordinator::new(
        config,
        store,
        Arc::new(move || Timestamp::from_unix_secs(t0)),
    ));
    coordinator.set_graph(None).expect("policy");
    Rest {
        router: dmc_server::rest::router(coordinator.clone()),
        coordinator,
        t0,
    }
}

impl Rest {
    async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .extension(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 4242))));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body)).expect("request"))
            .await
            .expect("axum routers are infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        Answer { status, headers, body }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send(Method::GET, path, headers, Vec::new()).await
    }

    async fn post(&self, path: &str, body: &str) -> Answer {
        self.send(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            body.as_bytes().to_vec(),
        )
        .await
    }

    /// `{"pairs":[...]}` in grpc-gateway's camelCase: pair `from -> to`
    /// succeeded at 5 sat a minute before the clock.
    fn gateway_body(&self, from: u8, to: u8) -> String {
        format!(
            r#"{{"pairs":[{{"nodeFrom":"{}","nodeTo":"{}","history":{{"successTime":"{}","successAmtSat":"5","successAmtMsat":"5000"}}}}]}}"#,
            dmc_server::base64::encode(&node(from)),
            dmc_server::base64::encode(&node(to)),
            self.t0 - 60
        )
    }
}

fn assert_refused(a: &Answer, status: StatusCode, code: &str, needle: &str) {
    assert_eq!(a.status, status, "{}", a.text());
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/json", "{}", a.text());
    let j = a.json();
    assert_eq!(j["code"], code, "{j}");
    assert!(j["error"].as_str().expect("error text").contains(needle), "{j}");
}

#[tokio::test]
async fn unknown_paths_and_methods_and_bad_json_are_refused() {
    let r = rest(|_| {});
    assert_eq!(r.get("/v3/nothing", &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.get("/v1/register_mission_control", &[]).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let a = r.post("/v1/register_mission_control", "{not json").await;
    assert_refused(&a, StatusCode::BAD_REQUEST, "invalid_argument", "malformed JSON");
    let a = r.post("/v1/register_mission_control", r#"{"pairs":{}}"#).await;
    assert_refused(&a, StatusCode::BAD_REQUEST, "invalid_argument", "pairs: not an array");
    let a = r.get("/v2/query?since=soon", &[]).await;
    assert_refused(&a, StatusCode::BAD_REQUEST, "invalid_argument", "is not a cursor");
    let a = r.post("/v2/register", r#"{"signature":"x"}"#).await;
    assert_refused(
        &a,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        "body: missing base64 string",
    );
}

/// Both v1 paths register; the query is grpc-gateway's JSON lines with an
/// ETag that a repeat answers with 304, and gzip when asked for.
#[tokio::test]
async fn v1_registers_and_serves_lines_with_etag_and_gzip() {
    let r = rest(|_| {});
    let a = r.post("/v1/register_mission_control", &r.gateway_body(1, 2)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["successMessage"], "Successfully registered 1 pairs");
    let a = r.post("/v1/registermissioncontrol", &r.gateway_body(3, 4)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());

    let plain = r.get("/v1/query_aggregated_mission_control", &[]).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.headers[header::CONTENT_TYPE], "application/json");
    let pairs: usize = plain
        .text()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("one JSON message a line");
            v["result"]["pairs"].as_array().expect("pairs").len()
        })
        .sum();
    assert_eq!(pairs, 2);
    let etag = plain.headers[header::ETAG].to_str().expect("ascii").to_string();

    let again = r
        .get("/v1/queryaggregatedmissioncontrol", &[("if-none-match", &etag)])
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());

    let gz = r
        .get("/v1/query_aggregated_mission_control", &[("accept-encoding", "gzip")])
        .await;
    assert_eq!(gz.headers[header::CONTENT_ENCODING], "gzip");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut unzipped)
        .expect("gzip");
    assert_eq!(unzipped, plain.body);
}

/// A signed body registers once; `/v2/query` answers the whole aggregate
/// from cursor 0 and nothing new from the returned cursor; a replay and a
/// forged signature are 401.
#[tokio::test]
async fn v2_registers_signed_bodies_and_answers_by_cursor() {
    let r = rest(|_| {});
    let (sk, reporter) = key(7);
    let reg = signed(&sk, &reporter, r.t0, vec![pair(1, 2, success(r.t0 - 60, 5_000))]);
    let body = rest_json(&reg);
    let a = r.post("/v2/register", &body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let j = a.json();
    assert_eq!(
        (j["accepted"].as_i64(), j["stale_dropped"].as_i64()),
        (Some(1), Some(0))
    );
    let cursor = j["cursor"].as_str().expect("int64 as a string").to_string();

    let a = r.post("/v2/register", &body).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "unauthenticated", "already received");
    let (other, _) = key(8);
    let forged = signed(&other, &reporter, r.t0, vec![pair(1, 2, success(r.t0 - 30, 5_000))]);
    let a = r.post("/v2/register", &rest_json(&forged)).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "unauthenticated", "signature");

    let full = r.get("/v2/query?since=0", &[]).await;
    assert_eq!(full.status, StatusCode::OK, "{}", full.text());
    let j = full.json();
    assert_eq!(j["pairs"].as_array().expect("pairs").len(), 1, "{j}");
    assert_eq!(j["pairs"][0]["node_from"], hex(&node(1)));
    assert_eq!(j["cursor"], cursor.as_str());
    let since = r.get(&format!("/v2/query?since={cursor}"), &[]).await;
    let j = since.json();
    assert_eq!(
        (j["pairs"].as_array().map(Vec::len), j["full_resync"].as_bool()),
        (Some(0), Some(false)),
        "{j}"
    );

    let lnd = r.get("/v2/snapshot", &[]).await;
    assert_eq!(lnd.status, StatusCode::OK);
    assert_eq!(lnd.json()["pairs"].as_array().expect("querymc pairs").len(), 1);
}

/// Limits are refused naming them: 413 past `max_body_bytes`, 429 past
/// `requests_per_minute` (per source; queries are not limited).
#[tokio::test]
async fn limits_are_named_with_their_status_codes() {
    let r = rest(|c| {
        c.max_body_bytes = 1_000;
        c.requests_per_minute = 1;
    });
    let big = format!(r#"{{"pairs":[],"pad":"{}"}}"#, "x".repeat(2_000));
    let a = r.post("/v1/register_mission_control", &big).await;
    assert_refused(
        &a,
        StatusCode::PAYLOAD_TOO_LARGE,
        "resource_exhausted",
        "max_body_bytes",
    );
    assert_eq!(a.json()["limit"], "max_body_bytes");

    let ok = r.post("/v1/register_mission_control", &r.gateway_body(1, 2)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    let a = r.post("/v1/register_mission_control", &r.gateway_body(3, 4)).await;
    assert_refused(&a, StatusCode::TOO_MANY_REQUESTS, "resource_exhausted", "requests");
    assert_eq!(a.json()["limit"], "requests_per_minute");
    assert_eq!(
        r.get("/v1/query_aggregated_mission_control", &[]).await.status,
        StatusCode::OK
    );
}

/// `/healthz` says why it is degraded, `/metrics` is Prometheus text, and
/// the admin endpoints want the bearer token.
#[tokio::test]
async fn operator_endpoints() {
    let r = rest(|_| {});
    let h = r.get("/healthz", &[]).await;
    assert_eq!(h.status, StatusCode::OK);
    let j = h.json();
    assert_eq!(j["status"], "degraded", "{j}");
    assert!(j["reason"].as_str().expect("reason").contains("no graph"), "{j}");

    r.post("/v1/register_mission_control", &r.gateway_body(1, 2)).await;
    let m = r.get("/metrics", &[]).await;
    assert_eq!(m.status, StatusCode::OK);
    assert_eq!(m.headers[header::CONTENT_TYPE], "text/plain; version=0.0.4");
    let text = m.text();
    assert!(text.contains("\ndmc_register_requests_total 1\n"), "{text}");
    assert!(text.contains("\ndmc_store_file_bytes 0\n"), "{text}");

    let a = r.get("/v2/admin/check", &[]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "unauthenticated", "Bearer");
    let token = "t".repeat(64);
    r.coordinator.set_admin_token(token.clone());
    let bearer = format!("Bearer {token}");
    let a = r.get("/v2/admin/check", &[("authorization", &bearer)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["ok"], true, "{}", a.text());
    let a = r
        .send(
            Method::POST,
            "/v2/admin/forget-reporter",
            &[("authorization", &bearer)],
            br#"{"reporter":"unattributed","ban":"yes"}"#.to_vec(),
        )
        .await;
    assert_refused(&a, StatusCode::BAD_REQUEST, "invalid_argument", "is not true or false");
    let a = r
        .send(
            Method::POST,
            "/v2/admin/forget-reporter",
            &[("authorization", &bearer)],
            br#"{"reporter":"anonymous:192.0.2.1"}"#.to_vec(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["forgotten"], 1, "{}", a.text());
}

/// dmc's own JSON bodies are read by serde derive through
/// serde_path_to_error: a refusal names the field, an unknown admin field
/// is refused (a misspelt "ban" must not forget without banning), and a
/// body of the wrong type says which field and what it expected.
#[tokio::test]
async fn own_json_bodies_name_the_field_that_is_wrong() {
    let r = rest(|_| {});
    let token = "t".repeat(64);
    r.coordinator.set_admin_token(token.clone());
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];
    let forget = |body: &'static str| {
        r.send(
            Method::POST,
            "/v2/admin/forget-reporter",
            &auth,
            body.as_bytes().to_vec(),
        )
    };
    let a = forget(r#"{"reporter":"unattributed","bann":true}"#).await;
    assert_refused(&a, StatusCode::BAD_REQUEST, "invalid_argument", "unknown field `bann`");
    let a = forget(r#"{"ban":true}"#).await;
    assert_refused(
        &a,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        "missing field `reporter`",
    );
    let a = forget(r#"{"reporter":7}"#).await;
    assert_refused(
        &a,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        "reporter: invalid type",
    );
    let a = forget(r#"{"reporter":"unattributed""#).await;
    assert_refused(&a, StatusCode::BAD_REQUEST, "invalid_argument", "body: malformed JSON");
    let a = r.post("/v2/register", r#"{"body":5,"signature":"x"}"#).await;
    assert_refused(
        &a,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        "body: invalid type: integer `5`",
    );
    let a = r.post("/v2/register", r#"{"body":"AAAA","signature":["x"]}"#).await;
    assert_refused(
        &a,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        "signature: invalid type",
    );
    let a = r.post("/v2/register", r#"{"body":"AAAA"}"#).await;
    assert_refused(&a, StatusCode::BAD_REQUEST, "invalid_argument", "signature: missing");
}
