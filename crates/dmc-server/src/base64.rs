//! Base64 as protojson reads and writes bytes: written standard and padded
//! (RFC 4648 §4); read in the standard or the URL-safe alphabet (§5),
//! padded or not, as Go's protojson accepts. Built on the `base64` crate:
//! a leftover partial character (a length of 4n + 1) is refused, as Go
//! refuses it; non-zero trailing bits are accepted, as Go accepts them.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

const READ: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, READ);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, READ);

/// Standard, padded base64: what protojson writes for bytes.
pub fn encode(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Decodes standard or URL-safe base64, padded or not; `None` for anything else.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    let alphabet = if s.contains(['-', '_']) { URL_SAFE } else { STANDARD };
    alphabet.decode(s).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        for s in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(super::decode(&super::encode(s)).unwrap(), s);
        }
        assert_eq!(super::encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(super::encode(b"fo"), "Zm8=");
        assert_eq!(super::decode("Zm8"), Some(b"fo".to_vec()));
        assert_eq!(super::decode("Z!"), None);
    }

    /// What the hand-written decoder accepted and Go's protojson refuses.
    #[test]
    fn refuses_what_protojson_refuses() {
        // A leftover partial character: 4n + 1 characters.
        assert_eq!(super::decode("Zm9vY"), None);
        assert_eq!(super::decode("Z"), None);
        // Both alphabets in one string.
        assert_eq!(super::decode("+_8="), None);
        // Padding inside the data.
        assert_eq!(super::decode("Zm=9v"), None);
        // URL-safe, unpadded: accepted.
        assert_eq!(super::decode("-_8"), Some(vec![0xfb, 0xff]));
        // Non-zero trailing bits: accepted, as Go's non-strict decoder does.
        assert_eq!(super::decode("Zm9="), Some(b"fo".to_vec()));
    }
}
