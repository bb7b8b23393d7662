//! The signed (v2) registration body, as both transports receive it: the
//! protobuf `RegistrationBody` whose exact bytes the reporter signed,
//! decoded here and handed to the coordinator, which checks the signature
//! over those bytes and never sees the wire type.

use dmc_proto::dmc::coordinator::v2 as pb;
use dmc_proto::pair_from_proto;
use prost::Message;

use crate::coordinator::{ApiError, Coordinator, Registered};

/// Decodes a signed body and registers it (both transports).
pub fn register(c: &Coordinator, body: &[u8], signature: &str) -> Result<Registered, ApiError> {
    let decoded = pb::RegistrationBody::decode(body)
        .map_err(|e| ApiError::Invalid(format!("body: not a RegistrationBody: {e}")))?;
    let pairs = decoded.pairs.iter().map(pair_from_proto).collect();
    c.register_signed(
        body,
        signature,
        &decoded.reporter,
        decoded.timestamp,
        pairs,
        decoded.successes_only,
    )
}
