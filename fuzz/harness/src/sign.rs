//! LND's `signmessage` format (crates/dmc-core/src/signmsg.rs), as the
//! coordinator checks v2 registrations with it.

use dmc_core::signmsg::{recover_signer, sign_message, zbase32_decode, zbase32_encode, SIGNATURE_LEN};
use dmc_core::NodeId;
use secp256k1::SecretKey;
use sha2::{Digest, Sha256};

/// Input: one length byte `n`, `n` message bytes, then the signature text
/// (lossy UTF-8, as a protobuf or JSON string always is). Calls
/// `zbase32_decode` and `recover_signer` (what `register_signed` calls).
///
/// Checks: no panic; zbase32 is canonical both ways (decoded text
/// re-encodes to itself, encoded bytes decode to themselves); a recovered
/// key is a point on the curve, and the same signature with the other
/// header form (27..=30 vs 31..=34) recovers the same key; a signature
/// made by `sign_message` with a key derived from the input is 104
/// characters and recovers that key.
pub fn signmsg(data: &[u8]) {
    let (msg, sig) = match data.split_first() {
        Some((&n, rest)) => rest.split_at(usize::from(n).min(rest.len())),
        None => (&[][..], &[][..]),
    };
    let sig = String::from_utf8_lossy(sig);

    if let Ok(bytes) = zbase32_decode(&sig) {
        assert_eq!(
            zbase32_encode(&bytes),
            sig,
            "zbase32 decoding accepted a non-canonical text"
        );
    }
    assert_eq!(
        zbase32_decode(&zbase32_encode(data)).as_deref(),
        Ok(data),
        "zbase32 does not round-trip"
    );

    let recovered = recover_signer(msg, &sig);
    debug!("signmsg: {recovered:?}");
    if let Ok(key) = recovered {
        assert!(NodeId::from_bytes(&key.0).is_ok(), "recovered a key off the curve");
        let mut bytes = zbase32_decode(&sig).expect("a recovered signature decodes");
        assert_eq!(bytes.len(), SIGNATURE_LEN);
        bytes[0] = if bytes[0] >= 31 { bytes[0] - 4 } else { bytes[0] + 4 };
        assert_eq!(
            recover_signer(msg, &zbase32_encode(&bytes)).as_ref(),
            Ok(&key),
            "the two header forms recover different keys"
        );
    }

    if let Ok(secret) = SecretKey::from_slice(&Sha256::digest(data)) {
        let made = sign_message(&secret, msg);
        assert_eq!(made.len(), 104, "signature text length");
        assert_eq!(
            recover_signer(msg, &made),
            Ok(crate::public_key(&secret)),
            "a signature does not recover its signer"
        );
    }
}
