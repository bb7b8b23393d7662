//! LND's `signmessage` / `verifymessage` format, so a node operator can sign
//! with `lncli signmessage` and anyone can recover the signing node's key.
//!
//! * Digest: SHA-256 applied twice to `"Lightning Signed Message:" ‖ msg`.
//! * Signature: 65 bytes, a header byte then the compact `r ‖ s` (32 bytes
//!   each, big endian). LND writes the header as `27 + 4 + recovery id`
//!   (31..=34, "compressed key"); like LND's verifier (`btcec`'s
//!   `RecoverCompact`) [`recover_signer`] also accepts 27..=30, and always
//!   returns the compressed key.
//! * Text: the 65 bytes in z-base-32 ([`zbase32_encode`]), 104 characters.
//!
//! Everything here is pure computation on its arguments; malformed input
//! gives a [`SignError`], never a panic.

use std::fmt;

use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, Secp256k1, SecretKey};
use sha2::{Digest, Sha256};

use crate::node::NodeId;

/// Prefix that LND puts before every message it signs or verifies.
pub const SIGNED_MSG_PREFIX: &[u8] = b"Lightning Signed Message:";

/// Length of a decoded signature: header byte plus compact `r ‖ s`.
pub const SIGNATURE_LEN: usize = 65;

/// The z-base-32 alphabet: index = 5-bit value.
const ZBASE32_ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// LND's header offset for compact signatures (as in Bitcoin's message signing).
const HEADER_BASE: u8 = 27;
/// Added to the header when the recovered key is to be taken as compressed.
const HEADER_COMPRESSED: u8 = 4;

/// Why a signature could not be decoded or did not recover a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignError {
    /// A character outside the z-base-32 alphabet (lower case only, as LND).
    NotZbase32 {
        /// Character position in the signature text.
        index: usize,
        /// The offending character.
        found: char,
    },
    /// Valid characters, but not what the encoder produces for any byte
    /// string: a character count that leaves 5 or more spare bits, or
    /// spare bits that are not zero.
    NonCanonicalZbase32 {
        /// Length of the signature text in characters.
        chars: usize,
    },
    /// Decoded to this many bytes instead of [`SIGNATURE_LEN`].
    WrongLength {
        /// The decoded length.
        bytes: usize,
    },
    /// The header byte is not a recovery code (27..=34).
    BadRecoveryByte(u8),
    /// `r`/`s` out of range, or no public key recovers from this signature
    /// and message digest.
    InvalidSignature,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::NotZbase32 { index, found } => {
                write!(f, "signature is not zbase32: character {found:?} at index {index} is not in the alphabet")
            }
            SignError::NonCanonicalZbase32 { chars } => write!(
                f,
                "signature is not canonical zbase32: {chars} characters do not end on a whole byte with zero padding bits"
            ),
            SignError::WrongLength { bytes } => {
                write!(f, "signature decodes to {bytes} bytes, want {SIGNATURE_LEN}")
            }
            SignError::BadRecoveryByte(b) => write!(
                f,
                "signature header byte {b} is not a recovery code (want {HEADER_BASE}..={})",
                HEADER_BASE + HEADER_COMPRESSED + 3
            ),
            SignError::InvalidSignature => f.write_str("invalid signature: no public key recovers from it for this message"),
        }
    }
}

impl std::error::Error for SignError {}

/// z-base-32 text of `data`: 5 bits per character, most significant bit
/// first, the last character padded with zero bits, no `=` padding.
/// `n` bytes give `ceil(8n / 5)` characters.
pub fn zbase32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity((data.len() * 8).div_ceil(5));
    let mut acc: u16 = 0; // pending bits, right-aligned
    let mut nbits = 0u32;
    for &b in data {
        acc = (acc << 8) | u16::from(b);
        nbits += 8;
        while nbits >= 5 {
            nbits -= 5;
            out.push(ZBASE32_ALPHABET[usize::from((acc >> nbits) & 0x1f)] as char);
        }
        acc &= (1 << nbits) - 1;
    }
    if nbits > 0 {
        out.push(ZBASE32_ALPHABET[usize::from((acc << (5 - nbits)) & 0x1f)] as char);
    }
    out
}

/// Decodes z-base-32 text produced by [`zbase32_encode`]. Strict: only the
/// 32 lower-case alphabet characters, and the trailing spare bits (fewer
/// than 5) must be zero, so each byte string has exactly one text form.
pub fn zbase32_decode(s: &str) -> Result<Vec<u8>, SignError> {
    let chars = s.chars().count();
    let mut out = Vec::with_capacity(chars * 5 / 8);
    let mut acc: u16 = 0;
    let mut nbits = 0u32;
    for (index, c) in s.chars().enumerate() {
        let value = value_of(c).ok_or(SignError::NotZbase32 { index, found: c })?;
        acc = (acc << 5) | u16::from(value);
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
            acc &= (1 << nbits) - 1;
        }
    }
    if nbits >= 5 || acc != 0 {
        return Err(SignError::NonCanonicalZbase32 { chars });
    }
    Ok(out)
}

fn value_of(c: char) -> Option<u8> {
    let b = u8::try_from(c).ok()?;
    ZBASE32_ALPHABET.iter().position(|&a| a == b).map(|i| i as u8)
}

/// The 32-byte digest LND signs: `SHA-256(SHA-256(prefix ‖ msg))`.
pub fn message_digest(msg: &[u8]) -> [u8; 32] {
    let first = Sha256::new()
        .chain_update(SIGNED_MSG_PREFIX)
        .chain_update(msg)
        .finalize();
    Sha256::digest(first).into()
}

/// `lncli signmessage`: signs `msg` with `secret` and returns the zbase32
/// text LND would return (header 31..=34). Deterministic (RFC 6979 nonces).
pub fn sign_message(secret: &SecretKey, msg: &[u8]) -> String {
    let secp = Secp256k1::signing_only();
    let sig = secp.sign_ecdsa_recoverable(&Message::from_digest(message_digest(msg)), secret);
    let (rec_id, rs) = sig.serialize_compact();
    let mut bytes = [0u8; SIGNATURE_LEN];
    // to_i32 is 0..=3 by construction.
    bytes[0] = HEADER_BASE + HEADER_COMPRESSED + rec_id.to_i32() as u8;
    bytes[1..].copy_from_slice(&rs);
    zbase32_encode(&bytes)
}

/// `lncli verifymessage`'s recovery: the compressed key of the node that
/// signed `msg`, from LND's zbase32 signature text. A valid signature over
/// a different message recovers a different (unrelated) key, so callers
/// must compare the result with the expected signer.
pub fn recover_signer(msg: &[u8], signature_zbase32: &str) -> Result<NodeId, SignError> {
    let bytes = zbase32_decode(signature_zbase32)?;
    if bytes.len() != SIGNATURE_LEN {
        return Err(SignError::WrongLength { bytes: bytes.len() });
    }
    let header = bytes[0];
    if !(HEADER_BASE..=HEADER_BASE + HEADER_COMPRESSED + 3).contains(&header) {
        return Err(SignError::BadRecoveryByte(header));
    }
    let rec_id =
        RecoveryId::from_i32(i32::from((header - HEADER_BASE) & 3)).map_err(|_| SignError::BadRecoveryByte(header))?;
    let sig = RecoverableSignature::from_compact(&bytes[1..], rec_id).map_err(|_| SignError::InvalidSignature)?;
    let secp = Secp256k1::verification_only();
    let key = secp
        .recover_ecdsa(&Message::from_digest(message_digest(msg)), &sig)
        .map_err(|_| SignError::InvalidSignature)?;
    Ok(NodeId(key.serialize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        let mut b = [0u8; 32];
        b[31] = byte;
        SecretKey::from_slice(&b).unwrap()
    }

    fn node_of(secret: &SecretKey) -> NodeId {
        NodeId(secp256k1::PublicKey::from_secret_key(&Secp256k1::signing_only(), secret).serialize())
    }

    /// rust-lightning `lightning/src/util/message_signing.rs` (`test_sign`,
    /// `test_recover_pk`): secret key 1 signs "test message".
    const RL_SIG: &str =
        "d9tibmnic9t5y41hg7hkakdcra94akas9ku3rmmj4ag9mritc8ok4p5qzefs78c9pqfhpuftqqzhydbdwfg7u6w6wdxcqpqn4sj4e73e";

    #[test]
    fn known_vector_sign_with_key_one() {
        assert_eq!(sign_message(&key(1), b"test message"), RL_SIG);
        assert_eq!(recover_signer(b"test message", RL_SIG), Ok(node_of(&key(1))));
        assert_eq!(
            node_of(&key(1)).to_hex(),
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        );
    }

    /// Core Lightning's `tests/test_misc.py` vectors (signatures posted by
    /// users), as quoted in rust-lightning's `test_verify_ground_truth_ish`:
    /// (message, zbase32 signature, pubkey).
    const FIELD_VECTORS: [(&str, &str, &str); 3] = [
        (
            "is this compatible?",
            "rbgfioj114mh48d8egqx8o9qxqw4fmhe8jbeeabdioxnjk8z3t1ma1hu1fiswpakgucwwzwo6ofycffbsqusqdimugbh41n1g698hr9t",
            "02b80cabdf82638aac86948e4c06e82064f547768dcef977677b9ea931ea75bab5",
        ),
        (
            "hi",
            "rnrphcjswusbacjnmmmrynh9pqip7sy5cx695h6mfu64iac6qmcmsd8xnsyczwmpqp9shqkth3h4jmkgyqu5z47jfn1q7gpxtaqpx4xg",
            "02de60d194e1ca5947b59fe8e2efd6aadeabfb67f2e89e13ae1a799c1e08e4a43b",
        ),
        (
            "hi",
            "ry8bbsopmduhxy3dr5d9ekfeabdpimfx95kagdem7914wtca79jwamtbw4rxh69hg7n6x9ty8cqk33knbxaqftgxsfsaeprxkn1k48p3",
            "022b8ece90ee891cbcdac0c1cc6af46b73c47212d8defbce80265ac81a6b794931",
        ),
    ];

    #[test]
    fn known_vectors_from_cln_recover() {
        for (msg, sig, pubkey) in FIELD_VECTORS {
            let got = recover_signer(msg.as_bytes(), sig).unwrap();
            assert_eq!(got.to_hex(), pubkey, "{msg:?}");
            // Our decoder and encoder agree with the text form.
            assert_eq!(zbase32_encode(&zbase32_decode(sig).unwrap()), sig);
        }
    }

    /// Double SHA-256 of the prefixed message, as computed independently
    /// with Python's hashlib.
    #[test]
    fn digest_is_double_sha256_of_prefixed_message() {
        assert_eq!(
            crate::node::encode_hex(&message_digest(b"test message")),
            "63b62dc720ee1c303772a917b0ae5cf10075a0525ff45b097477a54bbb5c5aec"
        );
        assert_eq!(
            crate::node::encode_hex(&message_digest(b"")),
            "dff05719125534329ba4f51825a452b7abbdc17f52cd8193bc4b134e126d91f3"
        );
    }

    #[test]
    fn round_trip_many_keys_and_messages() {
        for k in 1..=20u8 {
            let secret = key(k);
            for msg in [&b""[..], b"a", b"registration body \x00\xff", &[0xab; 1000][..]] {
                let sig = sign_message(&secret, msg);
                assert_eq!(sig.len(), 104);
                let header = zbase32_decode(&sig).unwrap()[0];
                assert!((31..=34).contains(&header), "header {header}");
                assert_eq!(recover_signer(msg, &sig), Ok(node_of(&secret)));
            }
        }
    }

    #[test]
    fn tampered_message_or_signature_does_not_recover_signer() {
        let secret = key(7);
        let me = node_of(&secret);
        let sig = sign_message(&secret, b"hello");
        assert_ne!(recover_signer(b"hellp", &sig), Ok(me));
        assert_ne!(recover_signer(b"hello ", &sig), Ok(me));
        // Flip each bit of r||s in turn: never the same key, never a panic.
        let bytes = zbase32_decode(&sig).unwrap();
        for i in 1..SIGNATURE_LEN {
            for bit in [0x01u8, 0x80] {
                let mut b = bytes.clone();
                b[i] ^= bit;
                assert_ne!(recover_signer(b"hello", &zbase32_encode(&b)), Ok(me), "byte {i}");
            }
        }
        // Another recovery id recovers another key (or none).
        let mut b = bytes.clone();
        b[0] = if b[0] == 31 { 32 } else { 31 };
        assert_ne!(recover_signer(b"hello", &zbase32_encode(&b)), Ok(me));
    }

    #[test]
    fn uncompressed_header_is_accepted_like_lnd() {
        let secret = key(9);
        let mut bytes = zbase32_decode(&sign_message(&secret, b"m")).unwrap();
        bytes[0] -= HEADER_COMPRESSED; // 27..=30
        assert_eq!(recover_signer(b"m", &zbase32_encode(&bytes)), Ok(node_of(&secret)));
    }

    #[test]
    fn malformed_inputs_give_errors() {
        let good = zbase32_decode(RL_SIG).unwrap();
        assert_eq!(recover_signer(b"x", ""), Err(SignError::WrongLength { bytes: 0 }));
        // 'l', 'v', '0', '2' and upper case are not in the alphabet.
        assert_eq!(
            recover_signer(b"x", &format!("l{}", &RL_SIG[1..])),
            Err(SignError::NotZbase32 { index: 0, found: 'l' })
        );
        assert_eq!(
            recover_signer(b"x", &RL_SIG.to_uppercase()),
            Err(SignError::NotZbase32 { index: 0, found: 'D' })
        );
        assert_eq!(
            recover_signer(b"x", "yyyé"),
            Err(SignError::NotZbase32 { index: 3, found: 'é' })
        );
        assert_eq!(
            recover_signer(b"x", &format!("{RL_SIG} ")),
            Err(SignError::NotZbase32 { index: 104, found: ' ' })
        );
        // 64 and 66 bytes.
        assert_eq!(
            recover_signer(b"x", &zbase32_encode(&good[..64])),
            Err(SignError::WrongLength { bytes: 64 })
        );
        let mut long = good.clone();
        long.push(0);
        assert_eq!(
            recover_signer(b"x", &zbase32_encode(&long)),
            Err(SignError::WrongLength { bytes: 66 })
        );
        // Header bytes outside 27..=34.
        for h in [0u8, 26, 35, 0x1f + 4, 255] {
            let mut b = good.clone();
            b[0] = h;
            assert_eq!(
                recover_signer(b"x", &zbase32_encode(&b)),
                Err(SignError::BadRecoveryByte(h))
            );
        }
        // r = 0 or s = 0, and r/s >= the group order: invalid.
        let mut zero = good.clone();
        zero[1..].fill(0);
        assert_eq!(
            recover_signer(b"x", &zbase32_encode(&zero)),
            Err(SignError::InvalidSignature)
        );
        let mut big = good.clone();
        big[1..].fill(0xff);
        assert_eq!(
            recover_signer(b"x", &zbase32_encode(&big)),
            Err(SignError::InvalidSignature)
        );
        // Messages are readable.
        for e in [
            SignError::NotZbase32 { index: 3, found: 'l' },
            SignError::NonCanonicalZbase32 { chars: 3 },
            SignError::WrongLength { bytes: 64 },
            SignError::BadRecoveryByte(26),
            SignError::InvalidSignature,
        ] {
            assert!(e.to_string().contains("signature"), "{e}");
        }
    }

    #[test]
    fn zbase32_known_encodings_and_strictness() {
        // Worked examples: 0x00 -> "yy", 0xff -> "9h", "hello" in zbase32.
        assert_eq!(zbase32_encode(&[]), "");
        assert_eq!(zbase32_encode(&[0x00]), "yy");
        assert_eq!(zbase32_encode(&[0xff]), "9h");
        assert_eq!(zbase32_encode(&[0xf0, 0xbf, 0xc7]), "6n9hq");
        assert_eq!(zbase32_encode(b"hello"), "pb1sa5dx");
        for data in [&b""[..], b"\x00", b"\xff", b"\xf0\xbf\xc7", b"hello", &[0x5a; 65][..]] {
            assert_eq!(zbase32_decode(&zbase32_encode(data)).unwrap(), data);
        }
        // 1 and 3 characters can never come from whole bytes.
        assert_eq!(zbase32_decode("y"), Err(SignError::NonCanonicalZbase32 { chars: 1 }));
        assert_eq!(zbase32_decode("yyy"), Err(SignError::NonCanonicalZbase32 { chars: 3 }));
        // Non-zero padding bits: "9h" is canonical for 0xff, "99" is not.
        assert_eq!(zbase32_decode("99"), Err(SignError::NonCanonicalZbase32 { chars: 2 }));
    }

    #[test]
    fn arbitrary_text_never_panics() {
        let mut state = 0x1234_5678_9abc_def0u64;
        let alphabet: Vec<char> = "ybndrfg8ejkmcpqxot1uwisza345h769lv02YB é".chars().collect();
        for _ in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 120) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((state >> (i % 50)) as usize + i * 7) % alphabet.len()])
                .collect();
            let _ = recover_signer(b"m", &s);
            let _ = zbase32_decode(&s);
        }
    }
}
