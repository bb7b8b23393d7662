//! The operator's endpoints: admin (bearer token), `/healthz`, `/metrics`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dmc_core::json::Json;
use serde_json::Value;

use super::{error_response, json_response};
use crate::coordinator::{ApiError, Coordinator};

/// `{"status": "ok" | "degraded", "graph_date": ..., ...}`: degraded when
/// the graph is older than 14 days (or off), so an operator's probe sees
/// that reporter standing and channel checks rest on stale data.
pub(super) async fn healthz(State(c): State<Arc<Coordinator>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        c.health_json().pretty() + "\n",
    )
        .into_response()
}

/// `POST /v2/admin/forget-reporter` `{"reporter": KEY | "anonymous:ADDR" |
/// "unattributed", "ban": bool}` with `Authorization: Bearer <admin.token>`.
pub(super) async fn admin_forget(State(c): State<Arc<Coordinator>>, headers: HeaderMap, body: Bytes) -> Response {
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
pub(super) async fn admin_check(State(c): State<Arc<Coordinator>>, headers: HeaderMap) -> Response {
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

pub(super) async fn metrics(State(c): State<Arc<Coordinator>>) -> Response {
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
