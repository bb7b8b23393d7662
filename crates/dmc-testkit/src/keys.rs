//! Deterministic keys. Real keys ([`secret_in`], [`node_in`]) where a
//! signature or a curve check is involved; [`fake_node`] where only the
//! 33 bytes matter (stores, graphs, estimators never check the curve).

use dmc_core::node::NodeId;
use secp256k1::{PublicKey, Secp256k1, SecretKey};

/// Secret key `i` of the family `tag`: byte 0 is `tag`, bytes 28..32 are
/// `i + 1` big-endian, the rest zero (always a valid scalar). Each test
/// file keeps its own family, so its keys and their order stay what its
/// assertions were written for.
pub fn secret_in(tag: u8, i: u32) -> SecretKey {
    let mut b = [0u8; 32];
    b[0] = tag;
    b[28..].copy_from_slice(&(i + 1).to_be_bytes());
    SecretKey::from_slice(&b).expect("a non-zero scalar below the order")
}

/// The 33-byte compressed public key of [`secret_in`].
pub fn node_in(tag: u8, i: u32) -> Vec<u8> {
    node_id_in(tag, i).0.to_vec()
}

/// [`node_in`] as a [`NodeId`].
pub fn node_id_in(tag: u8, i: u32) -> NodeId {
    NodeId(PublicKey::from_secret_key(&Secp256k1::signing_only(), &secret_in(tag, i)).serialize())
}

/// The [`NodeId`] of a secret key.
pub fn node_of(secret: &SecretKey) -> NodeId {
    NodeId(PublicKey::from_secret_key(&Secp256k1::signing_only(), secret).serialize())
}

/// A 33-byte id that need not be a curve point: `first`, then `index`
/// (big-endian bytes, as given), then `fill` to the end.
pub fn fake_node(first: u8, index: &[u8], fill: u8) -> NodeId {
    let mut k = [fill; 33];
    k[0] = first;
    k[1..1 + index.len()].copy_from_slice(index);
    NodeId(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_differ_and_fake_ids_are_laid_out_as_documented() {
        assert_ne!(node_in(1, 0), node_in(2, 0));
        assert_ne!(node_in(1, 0), node_in(1, 1));
        assert_eq!(node_in(7, 3)[0] & 0xfe, 2);
        let f = fake_node(2, &7u16.to_be_bytes(), 3);
        assert_eq!(&f.0[..4], &[2, 0, 7, 3]);
        assert_eq!(f.0[32], 3);
    }
}
