//! # dmc-lnd: the bridge to a real LND node
//!
//! * [`lnrpc`] and [`routerrpc`]: the subsets of lnd's gRPC API that dmc
//!   uses (`Lightning.GetInfo`, `Lightning.SignMessage`,
//!   `Router.QueryMissionControl`, `Router.XImportMissionControl`,
//!   `Router.GetMissionControlConfig`), written for dmc with lnd's package,
//!   service, method and field numbers and generated at build time by
//!   `protox` + `tonic-prost-build` (pure Rust, no `protoc`), as in
//!   dmc-proto.
//! * [`options`]: lncli's connection flags and defaults (`--lnddir`,
//!   `--rpcserver`, `--tlscertpath`, `--macaroonpath`, `--network`).
//! * [`client::LndClient`]: TLS trusting lnd's `tls.cert` (dmc-client's
//!   [`tls`] pinning), the macaroon in hex in the `macaroon` header of
//!   every call.
//! * The coordinator is called through dmc-client's v2 client.
//! * [`sync`]: `dmc sync` — export the node's mission control with a signed
//!   v2 registration, import the coordinator's delta since the stored
//!   cursor ([`state`]), retry with backoff, log what moved.
//! * [`testing`]: an in-repo test LND serving the same protos with TLS and
//!   macaroon checks over a dmc-core `MissionControl` (used by the tests
//!   of this crate and of `dmc sync`).

/// lnd's `lnrpc` package (subset: `Lightning.GetInfo`, `Lightning.SignMessage`).
// Generated from proto/lnrpc/lightning.proto: the .proto comments are the docs.
#[allow(missing_docs)]
pub mod lnrpc {
    tonic::include_proto!("lnrpc");
}

/// lnd's `routerrpc` package (subset: the mission-control RPCs).
// Generated from proto/routerrpc/router.proto: the .proto comments are the docs.
#[allow(missing_docs)]
pub mod routerrpc {
    tonic::include_proto!("routerrpc");
}

pub mod client;
pub mod convert;
pub mod options;
pub mod state;
pub mod sync;
#[cfg(feature = "testing")]
pub mod testing;

pub use client::{LndClient, NodeInfo};
/// The error type and TLS pinning the lnd client shares with the coordinator client.
pub use dmc_client::{error, tls};
pub use dmc_client::{CoordinatorOptions, Error, ErrorKind, Result};
pub use options::{LndOptions, LndTarget};
pub use sync::{CycleReport, Direction, SyncConfig};
