//! # dmc-client: the clients of a coordinator
//!
//! Everything dmc needs to call a coordinator (dmc's own or the Go one),
//! used by `dmc ec` (the binary) and `dmc sync` (through dmc-lnd):
//!
//! * [`channel`](mod@channel): the connection: [`CoordinatorOptions`] (URL, certificate)
//!   to a tonic channel, over TLS with the coordinator's certificate
//!   pinned when one is given and the public CAs otherwise ([`tls`]), or
//!   plain `http://` for a `--no-tls` loopback coordinator.
//! * [`v1`]: the Go External Coordinator's ecrpc (unsigned registrations).
//! * [`v2`]: dmc's v2 API: signed registrations and cursor queries, each
//!   call as it came or classified for retrying.
//! * [`error`]: one error type whose [`ErrorKind`] tells a retry loop what
//!   to do (retry, or stop and name the flag or file); dmc-lnd's lnd
//!   client shares it, and the TLS pinning, since lnd's certificate is
//!   trusted the same way.
//!
//! The wire types come from dmc-proto; nothing here knows the server.

pub mod channel;
pub mod error;
pub mod tls;
pub mod v1;
pub mod v2;

pub use channel::{channel, CoordinatorOptions};
pub use error::{Error, ErrorKind, Result};
pub use v1::EcrpcClient;
pub use v2::{AggregatedPair, Delta, RegisterOutcome, V2Client};
