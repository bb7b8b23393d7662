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
    let pairs: Vec<_> = decoded.pairs.iter().map(pair_from_proto).collect();
    let settled = settled_kinds(&decoded.success_kinds, pairs.len())?;
    c.register_signed(
        body,
        signature,
        &decoded.reporter,
        decoded.timestamp,
        pairs,
        decoded.successes_only,
        settled,
    )
}

/// `success_kinds` as the liquidity model reads it, one per pair: settled
/// (`Some(true)`), returned before a failure (`Some(false)`) or unknown
/// (`None`). Empty (an older client) is all unknown; a value this server
/// does not know counts as unknown; any other length than the pairs' is
/// refused, naming the field.
pub fn settled_kinds(kinds: &[i32], pairs: usize) -> Result<Vec<Option<bool>>, ApiError> {
    if kinds.is_empty() {
        return Ok(vec![None; pairs]);
    }
    if kinds.len() != pairs {
        return Err(ApiError::Invalid(format!(
            "success_kinds: {} entries for {pairs} pairs (give one per pair, or none)",
            kinds.len()
        )));
    }
    Ok(kinds
        .iter()
        .map(|k| match pb::SuccessKind::try_from(*k) {
            Ok(pb::SuccessKind::Settled) => Some(true),
            Ok(pb::SuccessKind::Returned) => Some(false),
            Ok(pb::SuccessKind::Unknown) | Err(_) => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_kinds_are_parallel_to_pairs_or_absent() {
        assert_eq!(settled_kinds(&[], 2).unwrap(), vec![None, None]);
        assert_eq!(
            settled_kinds(&[1, 2, 0, 9], 4).unwrap(),
            vec![Some(true), Some(false), None, None]
        );
        let e = settled_kinds(&[1], 2).unwrap_err();
        assert!(
            e.message().starts_with("success_kinds: 1 entries for 2 pairs"),
            "{}",
            e.message()
        );
    }
}
