//! Why a request was refused, as plain data; each transport maps it to its
//! own status (`crate::rest`, `crate::grpc`).

use dmc_core::json::Json;

/// Why a request was refused; each maps to a gRPC status and an HTTP code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// Bad data; the message names the pair or field.
    Invalid(String),
    /// Signature missing, forged, replayed, or unsigned data not accepted.
    Unauthenticated(String),
    /// Authenticated, but not allowed (a banned reporter).
    Forbidden(String),
    /// A configured limit; `limit` names it.
    Limit {
        /// The setting that refused it (`max_pairs_per_request`, `requests_per_minute`, ...).
        limit: &'static str,
        /// What was exceeded, with the numbers; the client waits, splits or reports less.
        message: String,
    },
    /// What was asked for does not exist; the message names it.
    NotFound(String),
    /// The store failed; the detail is logged, the client is told only to look there.
    Internal(String),
}

/// Client bytes as hex for an error message, at most 33 bytes' worth: a
/// megabyte "key" must not come back in full (it would overflow gRPC
/// metadata and amplify the request).
pub fn echo_bytes(b: &[u8]) -> String {
    if b.len() <= 33 {
        dmc_core::node::encode_hex(b)
    } else {
        format!("{}… ({} bytes)", dmc_core::node::encode_hex(&b[..33]), b.len())
    }
}

/// What a client is told of an internal error: the details (store paths,
/// database messages) go to the log only.
pub const INTERNAL_MESSAGE: &str = "internal error; the coordinator's log has the details";

impl ApiError {
    /// The text a client receives (internal details are logged, not sent).
    pub fn client_message(&self) -> &str {
        match self {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                INTERNAL_MESSAGE
            }
            other => other.message(),
        }
    }

    /// The full text, internal details included: for logs, not for clients.
    pub fn message(&self) -> &str {
        match self {
            ApiError::Invalid(m)
            | ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Internal(m) => m,
            ApiError::Limit { message, .. } => message,
        }
    }

    /// `{"error": ..., "code": ..., "limit": ...}` for REST bodies.
    pub fn to_json(&self) -> Json {
        let (code, limit) = match self {
            ApiError::Invalid(_) => ("invalid_argument", None),
            ApiError::Unauthenticated(_) => ("unauthenticated", None),
            ApiError::Forbidden(_) => ("permission_denied", None),
            ApiError::NotFound(_) => ("not_found", None),
            ApiError::Limit { limit, .. } => ("resource_exhausted", Some(*limit)),
            ApiError::Internal(_) => ("internal", None),
        };
        let mut f = vec![("error", Json::str(self.client_message())), ("code", Json::str(code))];
        if let Some(l) = limit {
            f.push(("limit", Json::str(l)));
        }
        Json::object(f)
    }
}
