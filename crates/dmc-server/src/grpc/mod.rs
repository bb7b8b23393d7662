//! gRPC: the Go coordinator's `ecrpc.ExternalCoordinator` ([`ecrpc`],
//! unchanged on the wire, so existing clients work against dmc) and dmc's
//! `dmc.coordinator.v2.Coordinator` ([`v2`]). This module holds what both
//! share: errors as statuses and the stream type.

pub mod ecrpc;
pub mod v2;

use std::pin::Pin;

use tonic::Status;

use crate::coordinator::ApiError;

/// The longest status message sent, in characters. Messages echo client
/// input only through `coordinator::echo_bytes` (at most 33 bytes' worth);
/// this is the backstop, so no message can overflow gRPC metadata (the
/// `grpc-message` header) or amplify a request.
pub const MAX_STATUS_MESSAGE_CHARS: usize = 1024;

/// `m` cut to [`MAX_STATUS_MESSAGE_CHARS`] characters, ending in `…` if cut.
pub fn bounded(m: &str) -> String {
    // Byte offsets of the characters: the cap's last one, and one past it.
    let mut starts = m.char_indices().map(|(i, _)| i);
    match (starts.nth(MAX_STATUS_MESSAGE_CHARS - 1), starts.next()) {
        (Some(last), Some(_)) => format!("{}…", &m[..last]),
        _ => m.to_string(),
    }
}

/// The error as a gRPC status, so handlers use `?`; limits carry a JSON
/// body naming them. Messages are [`bounded`].
impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        match &e {
            ApiError::Invalid(m) => Status::invalid_argument(bounded(m)),
            ApiError::Unauthenticated(m) => Status::unauthenticated(bounded(m)),
            ApiError::Forbidden(m) => Status::permission_denied(bounded(m)),
            ApiError::NotFound(m) => Status::not_found(bounded(m)),
            ApiError::Limit { limit, message } => Status::resource_exhausted(
                ApiError::Limit {
                    limit,
                    message: bounded(message),
                }
                .to_json()
                .compact(),
            ),
            ApiError::Internal(_) => Status::internal(e.client_message()),
        }
    }
}

/// A server-streaming answer.
pub(crate) type Stream<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send + 'static>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_messages_are_bounded() {
        let short = "x".repeat(MAX_STATUS_MESSAGE_CHARS);
        assert_eq!(bounded(&short), short, "a message at the cap is kept whole");
        let long = "é".repeat(1 << 20);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), MAX_STATUS_MESSAGE_CHARS);
        assert!(cut.ends_with('…') && cut.starts_with("éé"), "{cut}");
        for e in [
            ApiError::Invalid(long.clone()),
            ApiError::Unauthenticated(long.clone()),
            ApiError::Forbidden(long.clone()),
        ] {
            assert_eq!(Status::from(e).message(), cut);
        }
        let s = Status::from(ApiError::Limit {
            limit: "max_pairs_per_request",
            message: long,
        });
        assert_eq!(s.code(), tonic::Code::ResourceExhausted);
        assert!(
            s.message().len() < 4 * MAX_STATUS_MESSAGE_CHARS,
            "{}",
            s.message().len()
        );
        let v: serde_json::Value = serde_json::from_str(s.message()).expect("still JSON");
        assert_eq!(v["limit"], "max_pairs_per_request");
    }
}
