//! Node identities and directed node pairs.

use std::fmt;
use std::str::FromStr;

/// A node's 33-byte compressed public key (LND's `route.Vertex`).
///
/// LND checks only the length of a vertex. Parsing from text here also
/// checks that the bytes are a point on secp256k1, because user input that
/// is not a real key is always a mistake; [`NodeId::from_bytes_unchecked`]
/// keeps LND's length-only rule for data that already passed through LND.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub [u8; 33]);

/// Why a public key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeIdError {
    /// The text is not hex (odd length or a non-hex digit).
    NotHex,
    /// The key has this many bytes instead of 33.
    WrongLength(usize),
    /// The 33 bytes are not a compressed secp256k1 point.
    NotOnCurve,
}

impl fmt::Display for NodeIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeIdError::NotHex => write!(f, "not hex"),
            NodeIdError::WrongLength(n) => write!(f, "{n} bytes, want 33"),
            NodeIdError::NotOnCurve => write!(f, "not a point on the secp256k1 curve"),
        }
    }
}

impl std::error::Error for NodeIdError {}

impl NodeId {
    /// LND's `NewVertexFromBytes`: only the length is checked.
    pub fn from_bytes_unchecked(bytes: &[u8]) -> Result<Self, NodeIdError> {
        let arr: [u8; 33] = bytes.try_into().map_err(|_| NodeIdError::WrongLength(bytes.len()))?;
        Ok(NodeId(arr))
    }

    /// Length and curve checked.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, NodeIdError> {
        let id = Self::from_bytes_unchecked(bytes)?;
        secp256k1::PublicKey::from_slice(&id.0).map_err(|_| NodeIdError::NotOnCurve)?;
        Ok(id)
    }

    /// Hex text, length and curve checked.
    pub fn from_hex(s: &str) -> Result<Self, NodeIdError> {
        Self::from_bytes(&decode_hex(s).ok_or(NodeIdError::NotHex)?)
    }

    /// Hex text, only the length checked (LND's `NewVertexFromStr`).
    pub fn from_hex_unchecked(s: &str) -> Result<Self, NodeIdError> {
        Self::from_bytes_unchecked(&decode_hex(s).ok_or(NodeIdError::NotHex)?)
    }

    /// 66 lowercase hex digits, as lncli prints a pubkey.
    pub fn to_hex(&self) -> String {
        encode_hex(&self.0)
    }
}

impl FromStr for NodeId {
    type Err = NodeIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeId::from_hex(s)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", &self.to_hex()[..10])
    }
}

/// A directed pair of nodes: `from` forwards to `to`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct DirectedPair {
    /// The forwarding node.
    pub from: NodeId,
    /// The node it forwards to.
    pub to: NodeId,
}

impl DirectedPair {
    /// The pair `from → to` (LND's `NewDirectedNodePair`).
    pub fn new(from: NodeId, to: NodeId) -> Self {
        DirectedPair { from, to }
    }

    /// The opposite direction, `to → from`: an independent pair with its
    /// own record (§1.1).
    pub fn reverse(self) -> Self {
        DirectedPair {
            from: self.to,
            to: self.from,
        }
    }
}

/// Lowercase hex of `bytes`.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Bytes of a hex string (either case), or `None` if it is not hex.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

    #[test]
    fn parses_and_checks_keys() {
        let id = NodeId::from_hex(G).unwrap();
        assert_eq!(id.to_hex(), G);
        assert_eq!(NodeId::from_hex(&G.to_uppercase()).unwrap(), id);
        assert_eq!(NodeId::from_hex("02abcd"), Err(NodeIdError::WrongLength(3)));
        assert_eq!(NodeId::from_hex("zz"), Err(NodeIdError::NotHex));
        let off_curve = format!("05{}", &G[2..]);
        assert_eq!(NodeId::from_hex(&off_curve), Err(NodeIdError::NotOnCurve));
        assert!(NodeId::from_hex_unchecked(&off_curve).is_ok());
    }
}
