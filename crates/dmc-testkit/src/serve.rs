//! The `dmc` binary as a process: a command with a clean environment,
//! and a running `dmc serve` that is killed when dropped. The binary's
//! path comes from the caller (`env!("CARGO_BIN_EXE_dmc")` exists only in
//! the `dmc` crate's own tests).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tonic::transport::Channel;

use crate::clock::unix_now_nanos;

/// `BIN --data-dir DIR` with none of the caller's `DMC_*` or `LNCLI_*`
/// variables and no stdin.
pub fn dmc_command(bin: &Path, data_dir: &Path) -> Command {
    let mut c = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        let name = k.to_string_lossy();
        if name.starts_with("DMC_") || name.starts_with("LNCLI_") {
            c.env_remove(k);
        }
    }
    c.arg("--data-dir").arg(data_dir).stdin(Stdio::null());
    c
}

/// Runs `BIN --data-dir DIR ARGS` to completion.
pub fn run(bin: &Path, data_dir: &Path, args: &[&str]) -> Output {
    dmc_command(bin, data_dir).args(args).output().expect("running dmc")
}

/// [`run`], asserting success; its stdout.
pub fn run_ok(bin: &Path, data_dir: &Path, args: &[&str]) -> String {
    let out = run(bin, data_dir, args);
    assert!(
        out.status.success(),
        "dmc {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// A running `dmc serve`; SIGKILLed when dropped, its log printed if the
/// test is failing.
pub struct Serve {
    /// The server process.
    pub child: Child,
    /// Its gRPC address, as printed.
    pub grpc: String,
    /// Its REST address, as printed.
    pub rest: String,
    /// Its data dir.
    pub data_dir: PathBuf,
    /// Where its stderr goes.
    pub log: PathBuf,
}

impl Serve {
    /// `BIN serve ARGS` in `data_dir` (ARGS name the listen addresses);
    /// returns once it printed its `listening grpc=… rest=…` line.
    pub fn spawn(bin: &Path, data_dir: &Path, args: &[&str]) -> Serve {
        std::fs::create_dir_all(data_dir).expect("creating the data dir");
        let log = data_dir.with_extension(format!("serve-{}.log", unix_now_nanos()));
        let mut child = dmc_command(bin, data_dir)
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("creating the log"))
            .spawn()
            .expect("starting dmc serve");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
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

    /// Its gRPC URL.
    pub fn url(&self) -> String {
        format!("https://{}", self.grpc)
    }

    /// The certificate it made in its data dir.
    pub fn cert(&self) -> PathBuf {
        self.data_dir.join("tls.cert")
    }

    /// A gRPC channel trusting [`Serve::cert`].
    pub async fn channel(&self) -> Channel {
        let pem = std::fs::read_to_string(self.cert()).expect("the server's tls.cert");
        crate::tls::channel_trusting(self.url(), pem).await
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        self.child.kill().expect("killing dmc serve");
        self.child.wait().expect("reaping dmc serve");
    }

    /// SIGTERM, and a graceful exit with status 0 and no panic in the log.
    pub fn terminate(mut self) {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for dmc serve") {
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
