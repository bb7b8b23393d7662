//! The Go coordinator's grpc-gateway paths: unsigned registration and the
//! whole aggregate as JSON lines (gzip and ETag).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dmc_core::json::Json;
use dmc_core::rpc::{parse_int64, PairData, PairHistory};
use serde_json::Value;

use super::{body_or_limit, json_response, not_modified, parse_json_body, wants_gzip};
use crate::coordinator::{blocking, ApiError, Coordinator};
use crate::encode::Render;

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
                    Some(v) => {
                        parse_int64(v, &format!("{path}.history.{snake}")).map_err(|e| ApiError::Invalid(e.to_string()))
                    }
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

/// `POST /v1/register_mission_control`: an unsigned registration.
pub(super) async fn register(
    State(c): State<Arc<Coordinator>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_limit(body, c.config.max_body_bytes)?;
    let v = parse_json_body(&body)?;
    let pairs = parse_gateway_pairs(&v, "")?;
    let remote = remote.ip().to_string();
    let r = blocking(&c, move |c| c.register_unsigned(pairs, &remote)).await?;
    Ok(json_response(Json::object([(
        "successMessage",
        Json::str(r.message()),
    )])))
}

/// `GET /v1/query_aggregated_mission_control`: the whole aggregate.
pub(super) async fn query(State(c): State<Arc<Coordinator>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let snap = blocking(&c, |c| c.snapshot()).await?;
    let etag = snap.etag();
    if not_modified(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
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
    Ok(resp)
}
