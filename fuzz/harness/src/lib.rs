//! # dmc-fuzz-harness: what each fuzz target checks
//!
//! One function per target, taking the raw input bytes. Each feeds them to
//! the entry point dmc itself uses for that input (named in its doc
//! comment) and asserts what must hold: it never panics, and where cheap a
//! round trip or an invariant. The libFuzzer binaries in `../fuzz_targets`
//! call these functions; so does `tests/replay.rs`, which replays the
//! committed corpus on stable Rust without libFuzzer. FUZZING.md says how
//! to run them.
//!
//! A failed check is a panic, which libFuzzer reports as a crash.

/// `eprintln!` when `DMC_FUZZ_DEBUG` is set: what each check saw (answers,
/// acceptance), for triage and for checking that seeds reach deep.
macro_rules! debug {
    ($($t:tt)*) => {
        if std::env::var_os("DMC_FUZZ_DEBUG").is_some() {
            eprintln!($($t)*);
        }
    };
}

mod config;
mod graph;
mod mc;
mod server;
mod sign;

pub use config::serve_config;
pub use graph::{describegraph, graph_file, listchannels};
pub use mc::{loadmc, report};
pub use server::{rest_v1, rest_v2, v2_grpc, v2_signed_body};
pub use sign::signmsg;

use dmc_core::{NodeId, Timestamp};
use secp256k1::{PublicKey, Secp256k1, SecretKey};

/// A target's check: the raw input in, a panic if something does not hold.
pub type Check = fn(&[u8]);

/// Every target by name (the name of its binary and of its corpus folder).
pub const TARGETS: &[(&str, Check)] = &[
    ("loadmc", loadmc),
    ("describegraph", describegraph),
    ("listchannels", listchannels),
    ("graph_file", graph_file),
    ("rest_v1", rest_v1),
    ("rest_v2", rest_v2),
    ("v2_grpc", v2_grpc),
    ("v2_signed_body", v2_signed_body),
    ("signmsg", signmsg),
    ("serve_config", serve_config),
    ("report", report),
];

/// The fixed clock of the targets: 2026-12-02T00:00:00Z. Seeds stamp
/// their registrations with it, so they fall inside the signature window
/// and the staleness window.
pub const NOW_SECS: i64 = 1_796_169_600;

pub fn now() -> Timestamp {
    Timestamp::from_unix_secs(NOW_SECS)
}

/// The key the harness signs v2 bodies with (the seeds name its public key
/// as the reporter). A test key: never use it for anything else.
pub fn reporter_secret() -> SecretKey {
    SecretKey::from_slice(&[0x42; 32]).expect("valid secret key")
}

/// A second key, for bodies signed by someone other than the reporter they name.
pub fn other_secret() -> SecretKey {
    SecretKey::from_slice(&[0x43; 32]).expect("valid secret key")
}

pub fn public_key(secret: &SecretKey) -> NodeId {
    NodeId(PublicKey::from_secret_key(&Secp256k1::signing_only(), secret).serialize())
}

pub fn reporter_key() -> NodeId {
    public_key(&reporter_secret())
}
