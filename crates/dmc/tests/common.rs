//! Helpers shared by the CLI tests: run the real `dmc` binary on a
//! temporary data directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A node key on the curve (33-byte compressed, hex) for test pairs.
pub const ALICE: &str = "02c60c3aea280fe7b161ba08722206a3fc6895fa4fb8c07ff68985a4bccb4992a4";
/// A second valid node key (hex).
pub const BOB: &str = "03dbd084631519fcaccfd3a72cad4a65f42d808b86b7e362629aa221d097cb0f71";
/// A third valid node key (hex).
pub const CAROL: &str = "029ab357867f95efd81d3cff3c043dcea8cb3f96db8f5754b1a4155a590f8d50f3";

/// The `dmc` binary run on a temporary directory (its data dir and input
/// files) at a fixed `--now`.
pub struct Dmc {
    /// The temporary directory (deleted when dropped).
    pub dir: tempfile::TempDir,
    /// Unix seconds passed as `--now`.
    pub now: i64,
}

impl Dmc {
    /// A fresh temporary directory, runs at `now` (Unix seconds).
    pub fn new(now: i64) -> Self {
        Dmc {
            dir: tempfile::tempdir().unwrap(),
            now,
        }
    }

    /// The `--data-dir` every run uses (`<dir>/data`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `name` inside the temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to `name` in the temporary directory; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs `dmc --now <now> --data-dir <data dir> args...`, whatever its exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        let now = self.now.to_string();
        let mut full = vec!["--now", &now];
        full.extend_from_slice(args);
        self.run_without_now(&full)
    }

    /// Runs `dmc --data-dir <data dir> args...` without `--now` (stdin empty, `DMC_DATA_DIR` unset).
    pub fn run_without_now(&self, args: &[&str]) -> Output {
        let data_dir = self.data_dir();
        let mut full = vec!["--data-dir", data_dir.to_str().unwrap()];
        full.extend_from_slice(args);
        Command::new(env!("CARGO_BIN_EXE_dmc"))
            .args(&full)
            .stdin(Stdio::null())
            .env_remove("DMC_DATA_DIR")
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "dmc {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs, expects success and parses stdout as JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let text = self.ok(args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("dmc {args:?} printed invalid JSON ({e}): {text}"))
    }
}

/// ../shared beside the repository, or `DMC_SHARED_DIR`.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("DMC_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}
