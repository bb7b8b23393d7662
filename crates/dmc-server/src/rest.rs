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

use crate::coordinator::{ApiError, Coordinator, V2Answer};
use crate::encode::CachedSnapshot;

pub fn router(c: Arc<Coordinator>) -> Router {
    let limit = c.config.max_body_bytes;
    Router::new()
        .route("/v1/register_mission_control", post(register_v1))
        .route("/v1/registermissioncontrol", post(register_v1))
        .route("/v1/query_aggregated_mission_control", get(query_v1))
        .route("/v1/queryaggregatedmissioncontrol", get(query_v1))
        .route("/v2/register", post(register_v2))
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

/// `POST /v2/register` with `{"body": base64, "signature": zbase32}`.
async fn register_v2(
    State(c): State<Arc<Coordinator>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let res = async {
        let body = body_or_limit(body, c.config.max_body_bytes)?;
        let v: Value = parse_json_body(&body)?;
        let b = v
            .get("body")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::Invalid("body: missing base64 string".into()))?;
        let b = crate::base64::decode(b).ok_or_else(|| ApiError::Invalid("body: not base64".into()))?;
        let sig = v
            .get("signature")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::Invalid("signature: missing".into()))?
            .to_string();
        let c2 = c.clone();
        tokio::task::spawn_blocking(move || crate::v2::register(&c2, &b, &sig))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    }
    .await;
    match res {
        Ok(r) => (
            [(header::CONTENT_TYPE, "application/json")],
            Json::object([
                ("accepted", Json::int32(r.accepted)),
                ("stale_dropped", Json::int32(r.stale_dropped)),
                ("cursor", Json::int64(r.outcome.cursor)),
                ("message", Json::str(r.message())),
            ])
            .compact()
                + "\n",
        )
            .into_response(),
        Err(e) => error_response(&e),
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
    let delta = match tokio::task::spawn_blocking(move || c2.query_v2(Some(since))).await {
        Ok(Ok(V2Answer::Delta(d))) => d,
        Ok(Ok(V2Answer::Full { snapshot, full_resync })) => {
            let mut resp = Response::new(Body::from_stream(v2_full_body(c, snapshot, full_resync)));
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, "application/json".parse().expect("literal"));
            return resp;
        }
        Ok(Err(e)) => return error_response(&e),
        Err(e) => return error_response(&ApiError::Internal(e.to_string())),
    };
    let now = c.now();
    json_response(v2_envelope(
        Json::Array(delta.changed.iter().map(|a| v2_pair_json(a, now)).collect()),
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
        delta.cursor,
        delta.full_resync,
    ))
}

/// A `/v2/query` answer: `{"pairs":[...],"removed":[...],"cursor":...,"full_resync":...}`.
fn v2_envelope(pairs: Json, removed: Json, cursor: u64, full_resync: bool) -> Json {
    Json::object([
        ("pairs", pairs),
        ("removed", removed),
        ("cursor", Json::int64(cursor)),
        ("full_resync", Json::bool(full_resync)),
    ])
}

/// The whole aggregate as a `/v2/query` body, byte for byte what
/// [`v2_envelope`] renders, produced `query_batch_size` pairs at a time as
/// the connection drains, from the snapshot every download shares.
fn v2_full_body(
    c: Arc<Coordinator>,
    snapshot: Arc<CachedSnapshot>,
    full_resync: bool,
) -> impl tokio_stream::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static {
    // The envelope with no pairs, split where they go.
    let empty = v2_envelope(
        Json::Array(Vec::new()),
        Json::Array(Vec::new()),
        snapshot.cursor,
        full_resync,
    )
    .compact();
    let open = "{\"pairs\":[".len();
    let (head, tail) = (
        Bytes::from(empty[..open].to_string()),
        Bytes::from(empty[open..].to_string() + "\n"),
    );
    let batch = c.config.query_batch_size.max(1);
    let chunks = snapshot.pairs.len().div_ceil(batch);
    let body = (0..chunks).map(move |i| {
        let now = c.now();
        let mut out = String::new();
        for (j, a) in snapshot.chunk(i, batch).iter().enumerate() {
            if i > 0 || j > 0 {
                out.push(',');
            }
            out += &v2_pair_json(a, now).compact();
        }
        Bytes::from(out)
    });
    tokio_stream::iter(std::iter::once(head).chain(body).chain(std::iter::once(tail)).map(Ok))
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
    let text = tokio::task::spawn_blocking(move || {
        // The file's size is the edge's to read: the coordinator does no I/O of its own.
        let size = std::fs::metadata(c.config.data_dir.join(crate::STORE_FILE)).map_or(0, |m| m.len());
        c.metrics_text()
            + &format!(
                "# HELP dmc_store_file_bytes Size of the store file.\n# TYPE dmc_store_file_bytes gauge\ndmc_store_file_bytes {size}\n"
            )
    })
    .await
    .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmc_store::coordinator::{CoordinatorStore, RedbCoordinatorStore};

    /// The streamed full `/v2/query` body is, byte for byte, the one
    /// rendered whole (empty, one chunk, several chunks and a short last one).
    #[tokio::test]
    async fn streamed_full_query_body_is_the_whole_rendering() {
        for n in [0u8, 1, 2, 5] {
            let dir = tempfile::tempdir().expect("tempdir");
            let store: Arc<dyn CoordinatorStore> =
                Arc::new(RedbCoordinatorStore::open(&dir.path().join("c.redb")).expect("store"));
            let mut config = crate::ServerConfig::with_data_dir(dir.path().to_path_buf());
            config.graph = None;
            config.min_serving_weight = 0.0;
            config.query_batch_size = 2;
            let now = dmc_core::Timestamp::from_unix_secs(1_800_000_000);
            let c = Arc::new(Coordinator::new(config, store, Arc::new(move || now)));
            c.set_graph(None).expect("policy");
            let key = |b: u8| {
                let sk = secp256k1::SecretKey::from_slice(&[b; 32]).expect("valid");
                secp256k1::PublicKey::from_secret_key(&secp256k1::Secp256k1::signing_only(), &sk)
                    .serialize()
                    .to_vec()
            };
            let pairs: Vec<PairHistory> = (1..=n)
                .map(|i| PairHistory {
                    node_from: key(i),
                    node_to: key(i + 100),
                    history: PairData {
                        success_time: now.unix_secs() - 60 * i64::from(i),
                        success_amt_sat: 5,
                        success_amt_msat: 5_000,
                        ..Default::default()
                    },
                })
                .collect();
            if n > 0 {
                c.register_unsigned(pairs, "10.0.0.1").expect("stored");
            }
            let V2Answer::Full { snapshot, full_resync } = c.query_v2(Some(0)).expect("answer") else {
                panic!("cursor 0 is answered from the snapshot");
            };
            let whole = v2_envelope(
                Json::Array(snapshot.pairs.iter().map(|a| v2_pair_json(a, now)).collect()),
                Json::Array(Vec::new()),
                snapshot.cursor,
                full_resync,
            )
            .compact()
                + "\n";
            let chunks: Vec<Bytes> =
                tokio_stream::StreamExt::collect::<Vec<_>>(v2_full_body(c.clone(), snapshot.clone(), full_resync))
                    .await
                    .into_iter()
                    .map(|r| r.expect("infallible"))
                    .collect();
            assert_eq!(chunks.len(), 2 + snapshot.pairs.len().div_ceil(2), "{n} pairs");
            assert_eq!(String::from_utf8(chunks.concat()).expect("utf-8"), whole, "{n} pairs");
        }
    }
}
