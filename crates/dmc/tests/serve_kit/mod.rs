//! What the CLI's process-level tests (`serve_crash`, `replicas`, `sync`)
//! share: dmc-testkit's keys, clocks, scratch database and `dmc serve`
//! harness, bound to this crate's `dmc` binary.
// Each test file uses a different part.
#![allow(dead_code, unused_imports)]

use std::path::Path;
use std::process::{Command, Output};

pub use dmc_testkit::clock::unix_now_nanos as now_nanos;
pub use dmc_testkit::hex;
pub use dmc_testkit::keys::{node_in, secret_in};
pub use dmc_testkit::postgres::scratch;

/// The `dmc` binary cargo built for these tests.
fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_dmc"))
}

/// Unix seconds now.
pub fn now() -> i64 {
    dmc_testkit::clock::unix_now_secs()
}

/// `dmc --data-dir DIR` with no `DMC_*` or `LNCLI_*` variable of the
/// caller's and no stdin.
pub fn dmc(data_dir: &Path) -> Command {
    dmc_testkit::serve::dmc_command(bin(), data_dir)
}

/// `dmc --data-dir DIR ARGS` to completion.
pub fn run(data_dir: &Path, args: &[&str]) -> Output {
    dmc_testkit::serve::run(bin(), data_dir, args)
}

/// [`run`], asserting success; its stdout.
pub fn run_ok(data_dir: &Path, args: &[&str]) -> String {
    dmc_testkit::serve::run_ok(bin(), data_dir, args)
}

/// A running `dmc serve` of this crate's binary (a local type, so each
/// test file can add its own ways to start one).
pub struct Serve(dmc_testkit::serve::Serve);

impl std::ops::Deref for Serve {
    type Target = dmc_testkit::serve::Serve;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Serve {
    /// `dmc serve ARGS` in `data_dir`, once it printed its ports.
    pub fn spawn(data_dir: &Path, args: &[&str]) -> Serve {
        Serve(dmc_testkit::serve::Serve::spawn(bin(), data_dir, args))
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(self) {
        self.0.kill()
    }

    /// SIGTERM, and a graceful exit with status 0 and no panic in the log.
    pub fn terminate(self) {
        self.0.terminate()
    }
}
