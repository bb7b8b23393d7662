//! What the CLI's process-level tests (`serve_crash`, `replicas`, `sync`)
//! share: the `dmc` command builder, test keys, clocks, the PostgreSQL
//! scratch database and the `dmc serve` process harness.
#![allow(dead_code)]

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use dmc_store::postgres::ScratchDatabase;
use secp256k1::{PublicKey, Secp256k1, SecretKey};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

pub use dmc_core::node::encode_hex as hex;

/// Test key `i` of the family `tag` (each test file keeps its own family,
/// so its keys and their order stay what its assertions were written for).
pub fn secret_in(tag: u8, i: u32) -> SecretKey {
    let mut b = [0u8; 32];
    b[0] = tag;
    b[28..].copy_from_slice(&(i + 1).to_be_bytes());
    SecretKey::from_slice(&b).unwrap()
}

/// The 33-byte public key of [`secret_in`].
pub fn node_in(tag: u8, i: u32) -> Vec<u8> {
    PublicKey::from_secret_key(&Secp256k1::signing_only(), &secret_in(tag, i))
        .serialize()
        .to_vec()
}

/// `dmc --data-dir DIR` with no `DMC_*` or `LNCLI_*` variable of the
/// caller's and no stdin.
pub fn dmc(data_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dmc"));
    for (k, _) in std::env::vars_os() {
        let name = k.to_string_lossy();
        if name.starts_with("DMC_") || name.starts_with("LNCLI_") {
            c.env_remove(k);
        }
    }
    c.arg("--data-dir").arg(data_dir).stdin(Stdio::null());
    c
}

pub fn run(data_dir: &Path, args: &[&str]) -> Output {
    dmc(data_dir).args(args).output().unwrap()
}

pub fn run_ok(data_dir: &Path, args: &[&str]) -> String {
    let out = run(data_dir, args);
    assert!(
        out.status.success(),
        "dmc {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A scratch PostgreSQL database from `DMC_TEST_DATABASE_URL`, or `None`
/// (printing `SKIPPED <test>` past the harness's capture) without it.
pub fn scratch(test: &str) -> Option<ScratchDatabase> {
    match std::env::var("DMC_TEST_DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => {
            Some(ScratchDatabase::create(&u, "dmc_test").unwrap_or_else(|e| panic!("{test}: {e}")))
        }
        _ => {
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: DMC_TEST_DATABASE_URL not set");
            None
        }
    }
}

/// A running `dmc serve`; SIGKILLed when dropped, its log printed if the
/// test is failing.
pub struct Serve {
    pub child: Child,
    pub grpc: String,
    pub rest: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

impl Serve {
    /// `dmc serve ARGS` in `data_dir` (ARGS name the listen addresses);
    /// returns once it printed its `listening grpc=… rest=…` line.
    pub fn spawn(data_dir: &Path, args: &[&str]) -> Serve {
        std::fs::create_dir_all(data_dir).unwrap();
        let log = data_dir.with_extension(format!("serve-{}.log", now_nanos()));
        let mut child = dmc(data_dir)
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        // Read on a thread so a server that never binds cannot hang the
        // test; then keep the pipe open and drained while the server runs.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(str::to_string)
        };
        let (Some(grpc), Some(rest)) = (field("grpc="), field("rest=")) else {
            let _ = child.kill();
            panic!(
                "dmc serve did not print its ports ({line:?}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        assert!(line.starts_with("listening "), "{line:?}");
        Serve {
            child,
            grpc,
            rest,
            data_dir: data_dir.to_path_buf(),
            log,
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.grpc)
    }

    /// The certificate it made in its data dir.
    pub fn cert(&self) -> PathBuf {
        self.data_dir.join("tls.cert")
    }

    /// A gRPC channel trusting [`Serve::cert`].
    pub async fn channel(&self) -> Channel {
        let pem = std::fs::read_to_string(self.cert()).unwrap();
        Endpoint::from_shared(self.url())
            .unwrap()
            .tls_config(
                ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(pem))
                    .domain_name("localhost"),
            )
            .unwrap()
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("TLS connection to dmc serve")
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and a graceful exit with status 0 and no panic in the log.
    pub fn terminate(mut self) {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                assert!(status.success(), "dmc serve exited with {status}: {log}");
                assert!(!log.contains("panicked"), "{log}");
                return;
            }
            assert!(Instant::now() < deadline, "dmc serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "log of {}:\n{}",
                self.data_dir.display(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}
