//! REST: the Go coordinator's grpc-gateway paths ([`v1`]), dmc's v2
//! endpoints ([`v2`]), and the operator's ([`ops`]: admin, `/healthz`,
//! `/metrics`). This module holds the router and what every route shares:
//! error bodies, JSON answers and body limits.

pub mod ops;
pub mod v1;
pub mod v2;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use dmc_core::json::Json;
use serde_json::Value;

use crate::coordinator::{ApiError, Coordinator};

/// Every REST route (v1, v2, admin, `/healthz`, `/metrics`) on `c`, bodies capped at `max_body_bytes`.
pub fn router(c: Arc<Coordinator>) -> Router {
    let limit = c.config.max_body_bytes;
    Router::new()
        .route("/v1/register_mission_control", post(v1::register))
        .route("/v1/registermissioncontrol", post(v1::register))
        .route("/v1/query_aggregated_mission_control", get(v1::query))
        .route("/v1/queryaggregatedmissioncontrol", get(v1::query))
        .route("/v2/register", post(v2::register))
        .route("/v2/query", get(v2::query))
        .route("/v2/snapshot", get(v2::snapshot_lnd))
        .route("/v2/liquidity", get(v2::liquidity))
        .route("/v2/admin/forget-reporter", post(ops::admin_forget))
        .route("/v2/admin/check", get(ops::admin_check))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(c)
}

/// An error as a JSON body with the matching status code: handlers
/// return `Result<_, ApiError>` and use `?`.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Limit {
                limit:
                    "requests_per_minute"
                    | "max_unverified_observations"
                    | "max_observations_per_reporter"
                    | "max_observations",
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
            self.to_json().compact() + "\n",
        )
            .into_response()
    }
}

/// The `Authorization` header, if it is text.
pub(crate) fn authorization(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(crate) fn json_response(j: Json) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], j.compact() + "\n").into_response()
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

/// The body as JSON, or `Invalid` naming the parse error.
pub fn parse_json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Invalid(format!("body: malformed JSON: {e}")))
}

/// The body as one of dmc's own request types (serde derive), or
/// `Invalid` naming the field's path (`serde_path_to_error`) and what is
/// wrong with it. For the grpc-gateway paths, whose protojson rules a
/// derive does not express, see `v1`.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let mut json = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ApiError::Invalid(if inner.is_syntax() || inner.is_eof() {
            format!("body: malformed JSON: {inner}")
        } else if path == "." {
            format!("body: {inner}")
        } else {
            format!("{path}: {inner}")
        })
    })
}

/// `true`, `false`, or absent/`null` (false); anything else is named.
pub(crate) fn true_or_false<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    use serde::Deserialize;
    match Value::deserialize(d)? {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(b),
        v => Err(serde::de::Error::custom(format!("{v} is not true or false"))),
    }
}

pub(crate) fn wants_gzip(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

pub(crate) fn not_modified(h: &HeaderMap, etag: &str) -> bool {
    h.get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
}
