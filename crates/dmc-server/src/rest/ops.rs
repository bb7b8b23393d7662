//! The operator's endpoints: admin (bearer token), `/healthz`, `/metrics`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dmc_core::json::Json;

use super::{authorization, json_response};
use crate::coordinator::{blocking, ApiError, Coordinator};

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

/// The body of `POST /v2/admin/forget-reporter`. Unknown fields are
/// refused, so a misspelt `"ban"` cannot silently forget without banning.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ForgetRequest {
    /// A reporter key, `anonymous:ADDR` or `unattributed`.
    reporter: String,
    /// Also refuse the reporter's future registrations.
    #[serde(default, deserialize_with = "super::true_or_false")]
    ban: bool,
}

/// `POST /v2/admin/forget-reporter` `{"reporter": KEY | "anonymous:ADDR" |
/// "unattributed", "ban": bool}` with `Authorization: Bearer <admin.token>`.
pub(super) async fn admin_forget(
    State(c): State<Arc<Coordinator>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let auth = authorization(&headers);
    let ForgetRequest { reporter, ban } = super::parse_body(&body)?;
    let (n, newly) = blocking(&c, move |c| c.admin_forget(auth.as_deref(), &reporter, ban)).await?;
    Ok(json_response(Json::object([
        ("forgotten", Json::Raw(n.to_string())),
        ("banned", Json::bool(ban)),
        ("newly_banned", Json::bool(newly)),
    ])))
}

/// `GET /v2/admin/check` with `Authorization: Bearer <admin.token>`:
/// `{"ok", "problems_total", "problems": [...], "entries": {table: n}}`.
pub(super) async fn admin_check(State(c): State<Arc<Coordinator>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let auth = authorization(&headers);
    let r = blocking(&c, move |c| c.admin_check(auth.as_deref())).await?;
    Ok(json_response(Json::object([
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
    ])))
}

/// Prometheus text: the coordinator's counters, the listeners' and the
/// store file's size.
pub(super) async fn metrics(State(c): State<Arc<Coordinator>>) -> Response {
    // Reads store counts: blocking with PostgreSQL, so off the async workers.
    let text = blocking(&c, |c| {
        // The file's size is the edge's to read: the coordinator does no I/O of its own.
        let size = std::fs::metadata(c.config.data_dir.join(crate::STORE_FILE)).map_or(0, |m| m.len());
        Ok(c.metrics_text()
            + &format!(
                "# HELP dmc_store_file_bytes Size of the store file.\n# TYPE dmc_store_file_bytes gauge\ndmc_store_file_bytes {size}\n"
            ))
    })
    .await
    .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
