//! REST: the Go coordinator's grpc-gateway paths, plus dmc's v2 endpoints,
//! `/healthz` and `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use dmc_core::json::Json;
use dmc_core::rpc::{parse_int64, PairData, PairHistory};
use serde_json::Value;

use crate::coordinator::{ApiError, Coordinator};

pub fn router(c: Arc<Coordinator>) -> Router {
    let limit = c.config.max_body_bytes;
    Router::new()
        .route("/v1/register_mission_control", post(register_v1))
        .route("/v1/registermissioncontrol", post(register_v1))
        .route("/v1/query_aggregated_mission_control", get(query_v1))
        .route("/v1/queryaggregatedmissioncontrol", get(query_v1))
        .route("/v2/register", post(crate::v2::register_rest))
        .route("/v2/query", get(query_v2))
        .route("/v2/snapshot", get(snapshot_lnd))
        .route("/v2/admin/forget-reporter", post(admin_forget))
        .route("/v2/admin/check", get(admin_check))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(c)
}

/// `{"status": "ok" | "degraded", "graph_date": ..., ...}`: degraded when
/// the graph is older than 14 days (or off), so an operator's probe sees
/// that reporter standing and channel checks rest on stale data.
async fn healthz(State(c): State<Arc<Coordinator>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        c.health_json().pretty() + "\n",
    )
        .into_response()
}

/// `POST /v2/admin/forget-reporter` `{"reporter": KEY | "anonymous:ADDR" |
/// "unattributed", "ban": bool}` with `Authorization: Bearer <admin.token>`.
async fn admin_forget(State(c): State<Arc<Coordinator>>, headers: HeaderMap, body: Bytes) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error_response(&ApiError::Invalid(format!("body: not JSON: {e}"))),
    };
    let Some(reporter) = req.get("reporter").and_then(Value::as_str).map(str::to_string) else {
        return error_response(&ApiError::Invalid("reporter: missing or not a string".into()));
    };
    let ban = match req.get("ban") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => return error_response(&ApiError::Invalid(format!("ban: {v} is not true or false"))),
    };
    match tokio::task::spawn_blocking(move || c.admin_forget(auth.as_deref(), &reporter, ban)).await {
        Ok(Ok((n, newly))) => json_response(Json::object([
            ("forgotten", Json::Raw(n.to_string())),
            ("banned", Json::bool(ban)),
            ("newly_banned", Json::bool(newly)),
        ])),
        Ok(Err(e)) => error_response(&e),
        Err(e) => error_response(&ApiError::Internal(e.to_string())),
    }
}

/// `GET /v2/admin/check` with `Authorization: Bearer <admin.token>`:
/// `{"ok", "problems_total", "problems": [...], "entries": {table: n}}`.
async fn admin_check(State(c): State<Arc<Coordinator>>, headers: HeaderMap) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match tokio::task::spawn_blocking(move || c.admin_check(auth.as_deref())).await {
        Ok(Ok(r)) => json_response(Json::object([
            ("ok", Json::bool(r.is_ok())),
            ("problems_total", Json::Raw(r.problems_total.to_string())),
            ("problems", Json::Array(r.problems.iter().map(Json::str).collect())),
            (
                "entries",
                Json::Object(
                    r.entries
                        .iter()
                        .map(|(k, v)| (k.to_string(), Json::Raw(v.to_string())))
                        .collect(),
                ),
            ),
        ])),
        Ok(Err(e)) => error_response(&e),
        Err(e) => error_response(&ApiError::Internal(e.to_string())),
    }
}

/// An error as a JSON body with the matching status code.
pub fn error_response(e: &ApiError) -> Response {
    let status = match e {
        ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
        ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::Limit {
            limit:
                "requests_per_minute" | "max_unverified_observations" | "max_observations_per_reporter" | "max_observations",
            ..
        } => StatusCode::TOO_MANY_REQUESTS,
        ApiError::Limit {
            limit: "body_read_timeout",
            ..
        } => StatusCode::REQUEST_TIMEOUT,
        ApiError::Limit { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        e.to_json().compact() + "\n",
    )
        .into_response()
}

fn json_response(j: Json) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], j.compact() + "\n").into_response()
}

/// Bytes in gateway JSON: base64, or hex for convenience (66 hex chars).
fn parse_bytes_field(v: Option<&Value>, path: &str) -> Result<Vec<u8>, ApiError> {
    let s = match v {
        Some(Value::String(s)) => s,
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(v) => return Err(ApiError::Invalid(format!("{path}: {v} is not a string"))),
    };
    if s.len() == 66 {
        if let Some(b) = dmc_core::node::decode_hex(s) {
            return Ok(b);
        }
    }
    crate::base64::decode(s).ok_or_else(|| ApiError::Invalid(format!("{path}: {s:?} is neither base64 nor hex")))
}

fn field<'a>(o: &'a serde_json::Map<String, Value>, snake: &str, camel: &str) -> Option<&'a Value> {
    o.get(snake).or_else(|| o.get(camel))
}

/// Parses `{"pairs": [...]}` in grpc-gateway's JSON mapping (camelCase or
/// snake_case names, int64 as strings or numbers, bytes base64).
pub fn parse_gateway_pairs(v: &Value, base: &str) -> Result<Vec<PairHistory>, ApiError> {
    let pairs = match v.get("pairs") {
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(_) => return Err(ApiError::Invalid(format!("{base}pairs: not an array"))),
    };
    pairs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let path = format!("{base}pairs[{i}]");
            let o = p
                .as_object()
                .ok_or_else(|| ApiError::Invalid(format!("{path}: not an object")))?;
            let h = match field(o, "history", "history") {
                Some(Value::Object(h)) => Some(h),
                None | Some(Value::Null) => None,
                Some(_) => return Err(ApiError::Invalid(format!("{path}.history: not an object"))),
            };
            let int = |snake: &str, camel: &str| -> Result<i64, ApiError> {
                match h.and_then(|h| field(h, snake, camel)) {
                    None => Ok(0),
                    Some(v) => parse_int64(v, &format!("{path}.history.{snake}")).map_err(|e| ApiError::Invalid(e.0)),
                }
            };
            Ok(PairHistory {
                node_from: parse_bytes_field(field(o, "node_from", "nodeFrom"), &format!("{path}.node_from"))?,
                node_to: parse_bytes_field(field(o, "node_to", "nodeTo"), &format!("{path}.node_to"))?,
                history: PairData {
                    fail_time: int("fail_time", "failTime")?,
                    fail_amt_sat: int("fail_amt_sat", "failAmtSat")?,
                    fail_amt_msat: int("fail_amt_msat", "failAmtMsat")?,
                    success_time: int("success_time", "successTime")?,
                    success_amt_sat: int("success_amt_sat", "successAmtSat")?,
                    success_amt_msat: int("success_amt_msat", "successAmtMsat")?,
                },
            })
        })
        .collect()
}

/// The request body, or the refusal naming `max_body_bytes` or
/// `body_read_timeout`.
pub fn body_or_limit(
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    max: usize,
) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if let Some(t) = crate::limits::body_timeout_in(&e) {
            ApiError::Limit {
                limit: "body_read_timeout",
                message: t.to_string(),
            }
        } else if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::Limit {
                limit: "max_body_bytes",
                message: format!("request body exceeds max_body_bytes ({max})"),
            }
        } else {
            ApiError::Invalid(format!("body: {e}"))
        }
    })
}

pub fn parse_json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Invalid(format!("body: malformed JSON: {e}")))
}

async fn register_v1(
    State(c): State<Arc<Coordinator>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let res = async {
        let body = body_or_limit(body, c.config.max_body_bytes)?;
        let v = parse_json_body(&body)?;
        let pairs = parse_gateway_pairs(&v, "")?;
        let c2 = c.clone();
        let remote = remote.ip().to_string();
        tokio::task::spawn_blocking(move || c2.register_unsigned(pairs, &remote))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    }
    .await;
    match res {
        Ok(r) => json_response(Json::object([("successMessage", Json::str(r.message()))])),
        Err(e) => error_response(&e),
    }
}

fn wants_gzip(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

fn not_modified(h: &HeaderMap, etag: &str) -> bool {
    h.get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
}

async fn query_v1(State(c): State<Arc<Coordinator>>, headers: HeaderMap) -> Response {
    let c2 = c.clone();
    let snap = match tokio::task::spawn_blocking(move || c2.snapshot()).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return error_response(&e),
        Err(e) => return error_response(&ApiError::Internal(e.to_string())),
    };
    let etag = snap.etag();
    if not_modified(&headers, &etag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mut resp = if wants_gzip(&headers) {
        let mut r = Response::new(Body::from(snap.rest_lines_gzip()));
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, "gzip".parse().expect("literal"));
        r
    } else {
        Response::new(Body::from(snap.rest_lines()))
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, "application/json".parse().expect("literal"));
    h.insert(header::ETAG, etag.parse().expect("ascii"));
    h.insert(header::VARY, "accept-encoding".parse().expect("literal"));
    resp
}

#[derive(serde::Deserialize)]
struct SinceQuery {
    since: Option<String>,
}

/// A pair for v2 JSON: lncli's shape plus how many reporters back it and its age.
pub fn v2_pair_json(a: &dmc_store::coordinator::AggregatedPair, now: dmc_core::Timestamp) -> Json {
    let age = dmc_core::aggregate::age_seconds(a.newest, now);
    Json::object([
        ("node_from", Json::str(a.pair.from.to_hex())),
        ("node_to", Json::str(a.pair.to.to_hex())),
        ("history", PairData::from_result(&a.result).to_json()),
        ("reporters", Json::int32(a.reporters)),
        ("reporters_unverified", Json::int32(a.reporters_unverified)),
        ("reporters_anonymous", Json::int32(a.reporters_anonymous)),
        ("age_seconds", Json::int64(age)),
    ])
}

async fn query_v2(State(c): State<Arc<Coordinator>>, Query(q): Query<SinceQuery>) -> Response {
    let since = match q.since.as_deref() {
        None | Some("") => 0,
        Some(s) => match s.parse::<u64>() {
            Ok(v) => v,
            Err(_) => return error_response(&ApiError::Invalid(format!("since: {s:?} is not a cursor"))),
        },
    };
    let c2 = c.clone();
    let delta = match tokio::task::spawn_blocking(move || c2.delta(since)).await {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => return error_response(&e),
        Err(e) => return error_response(&ApiError::Internal(e.to_string())),
    };
    let now = c.now();
    json_response(Json::object([
        (
            "pairs",
            Json::Array(delta.changed.iter().map(|a| v2_pair_json(a, now)).collect()),
        ),
        (
            "removed",
            Json::Array(
                delta
                    .removed
                    .iter()
                    .map(|p| {
                        Json::object([
                            ("node_from", Json::str(p.from.to_hex())),
                            ("node_to", Json::str(p.to.to_hex())),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("cursor", Json::int64(delta.cursor)),
        ("full_resync", Json::bool(delta.full_resync)),
    ]))
}

/// The aggregate as `lncli querymc` prints it: what `loadmc` accepts.
async fn snapshot_lnd(State(c): State<Arc<Coordinator>>, headers: HeaderMap) -> Response {
    let c2 = c.clone();
    let snap = match tokio::task::spawn_blocking(move || c2.snapshot()).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return error_response(&e),
        Err(e) => return error_response(&ApiError::Internal(e.to_string())),
    };
    let etag = format!("\"dmc-lnd-{}\"", snap.cursor);
    if not_modified(&headers, &etag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mut resp = ([(header::CONTENT_TYPE, "application/json")], snap.lnd_json()).into_response();
    resp.headers_mut().insert(header::ETAG, etag.parse().expect("ascii"));
    resp
}

async fn metrics(State(c): State<Arc<Coordinator>>) -> Response {
    // Reads store counts: blocking with PostgreSQL, so off the async workers.
    let text = tokio::task::spawn_blocking(move || c.metrics_text())
        .await
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
