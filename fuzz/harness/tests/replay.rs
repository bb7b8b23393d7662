//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) and any
//! regression inputs (`fuzz/regressions/<target>/`) through the same
//! checks the libFuzzer targets run, on stable Rust and without libFuzzer:
//!
//! ```sh
//! cargo test --manifest-path fuzz/Cargo.toml -p dmc-fuzz-harness --locked
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("reading a corpus folder").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str) {
    let (_, check) = dmc_fuzz_harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no target {target}"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let corpus = inputs(&root.join("corpus").join(target));
    assert!(!corpus.is_empty(), "fuzz/corpus/{target}/ is empty or missing");
    let regressions = inputs(&root.join("regressions").join(target));
    for file in corpus.iter().chain(&regressions) {
        let data = std::fs::read(file).expect("reading a corpus file");
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| check(&data))) {
            let msg = e
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| e.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!("{target}: {} fails: {msg}", file.display());
        }
    }
    eprintln!(
        "{target}: {} corpus and {} regression inputs pass",
        corpus.len(),
        regressions.len()
    );
}

#[test]
fn every_target_has_a_test() {
    let source = include_str!("replay.rs");
    for (name, _) in dmc_fuzz_harness::TARGETS {
        assert!(source.contains(&format!("fn {name}()")), "no replay test for {name}");
    }
}

#[test]
fn loadmc() {
    replay("loadmc");
}

#[test]
fn describegraph() {
    replay("describegraph");
}

#[test]
fn listchannels() {
    replay("listchannels");
}

#[test]
fn graph_file() {
    replay("graph_file");
}

#[test]
fn rest_v1() {
    replay("rest_v1");
}

#[test]
fn rest_v2() {
    replay("rest_v2");
}

#[test]
fn v2_grpc() {
    replay("v2_grpc");
}

#[test]
fn v2_signed_body() {
    replay("v2_signed_body");
}

#[test]
fn signmsg() {
    replay("signmsg");
}

#[test]
fn serve_config() {
    replay("serve_config");
}

#[test]
fn report() {
    replay("report");
}
