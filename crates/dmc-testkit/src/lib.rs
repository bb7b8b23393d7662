//! What dmc's tests share, in one dev-only crate: deterministic keys and
//! node ids ([`keys`]), the wall clock as tests read it ([`clock`]), a
//! seeded input stream ([`SplitMix64`]), ecrpc pair builders ([`ecrpc`]),
//! a gRPC channel that trusts one certificate ([`tls`]), a scratch
//! PostgreSQL database ([`postgres`]) and the `dmc serve` process harness
//! ([`serve`]); those four with the `server` feature.
//!
//! Every crate lists it under `[dev-dependencies]` only, so nothing here
//! reaches a release build. It depends on dmc-core, dmc-proto and
//! dmc-store (`testing`), never on a crate whose tests use it for that
//! crate's own unit tests (that would give two copies of its types).

pub mod clock;
#[cfg(feature = "server")]
pub mod ecrpc;
pub mod keys;
#[cfg(feature = "server")]
pub mod postgres;
mod rng;
#[cfg(feature = "server")]
pub mod serve;
#[cfg(feature = "server")]
pub mod tls;

pub use dmc_core::node::encode_hex as hex;
pub use rng::SplitMix64;
