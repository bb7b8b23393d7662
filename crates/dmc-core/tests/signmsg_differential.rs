//! dmc's `signmessage`/`verifymessage` against rust-lightning's
//! `util::message_signing` (the same format as LND's), on many keys and
//! messages: both must produce the same text, recover the same key, and
//! dmc, being stricter about z-base-32, may refuse only what it documents.

use dmc_core::signmsg::{recover_signer, sign_message, zbase32_decode, zbase32_encode, SignError};
use dmc_testkit::SplitMix64 as Inputs;
use lightning::util::message_signing;
use secp256k1::{PublicKey, Secp256k1};

fn messages(inputs: &mut Inputs) -> Vec<Vec<u8>> {
    let mut m = vec![Vec::new(), b"test message".to_vec(), vec![0u8; 1000]];
    for _ in 0..40 {
        let len = (inputs.next_u64() % 300) as usize;
        m.push(inputs.bytes(len));
    }
    m
}

#[test]
fn signatures_match_rust_lightning_both_ways() {
    let secp = Secp256k1::new();
    let mut inputs = Inputs(0xd3c);
    for round in 0..50 {
        let secret = inputs.secret();
        let public = PublicKey::from_secret_key(&secp, &secret);
        for msg in messages(&mut inputs).iter().skip(round % 3) {
            let ours = sign_message(&secret, msg);
            let theirs = message_signing::sign(msg, &secret);
            assert_eq!(ours, theirs, "signature text differs for a {}-byte message", msg.len());
            assert!(message_signing::verify(msg, &ours, &public));
            assert_eq!(recover_signer(msg, &theirs).unwrap().0, public.serialize());
        }
    }
}

#[test]
fn zbase32_matches_on_every_length() {
    let mut inputs = Inputs(32);
    for len in 0..80 {
        let data = inputs.bytes(len);
        let text = zbase32_encode(&data);
        assert_eq!(zbase32_decode(&text).unwrap(), data);
        // rust-lightning has no public z-base-32 API; its signatures are the
        // 65-byte case, compared above. Here: length and alphabet only.
        assert_eq!(text.len(), (len * 8).div_ceil(5));
    }
}

/// Corrupted signatures: whatever dmc accepts, rust-lightning accepts and
/// recovers the same key from; where they part, dmc's refusal is one of
/// its documented strict-decoding errors.
#[test]
fn corrupted_signatures_are_never_accepted_differently() {
    let mut inputs = Inputs(7);
    let alphabet: Vec<char> = "ybndrfg8ejkmcpqxot1uwisza345h769".chars().collect();
    let (mut both_ok, mut both_refused, mut only_dmc_refused) = (0, 0, 0);
    for _ in 0..400 {
        let secret = inputs.secret();
        let msg = inputs.bytes(20);
        let mut chars: Vec<char> = sign_message(&secret, &msg).chars().collect();
        match inputs.next_u64() % 4 {
            0 => {
                let i = (inputs.next_u64() as usize) % chars.len();
                chars[i] = alphabet[(inputs.next_u64() % 32) as usize];
            }
            1 => {
                chars.pop();
            }
            2 => chars.push(alphabet[(inputs.next_u64() % 32) as usize]),
            _ => {
                // only the last character: touches the spare bits
                let last = chars.len() - 1;
                chars[last] = alphabet[(inputs.next_u64() % 32) as usize];
            }
        }
        let text: String = chars.into_iter().collect();
        let ours = recover_signer(&msg, &text);
        let theirs = message_signing::recover_pk(&msg, &text);
        match (ours, theirs) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.0, b.serialize(), "{text}");
                both_ok += 1;
            }
            (Err(_), Err(_)) => both_refused += 1,
            (Err(e), Ok(_)) => {
                assert!(
                    matches!(e, SignError::NonCanonicalZbase32 { .. } | SignError::WrongLength { .. }),
                    "dmc refused {text:?} with {e}, which rust-lightning accepts"
                );
                only_dmc_refused += 1;
            }
            (Ok(_), Err(e)) => panic!("dmc accepted {text:?}, which rust-lightning refuses: {e:?}"),
        }
    }
    // The corruption kinds above hit every branch.
    assert!(
        both_ok > 0 && both_refused > 0,
        "{both_ok} {both_refused} {only_dmc_refused}"
    );
}
