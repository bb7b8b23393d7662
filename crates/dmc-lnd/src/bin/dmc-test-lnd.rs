//! `dmc-test-lnd`: the in-repo test LND as a program, to try `dmc sync`
//! without a real node.
//!
//! ```text
//! dmc-test-lnd --lnddir DIR [--network regtest] [--listen 127.0.0.1:10009]
//!              [--key HEX] [--seed querymc.json]
//! ```
//!
//! Writes `DIR/tls.cert`, `DIR/tls.key` and
//! `DIR/data/chain/bitcoin/<network>/admin.macaroon` as lnd does, prints
//! `listening ADDR node PUBKEY` and serves `GetInfo`, `SignMessage`,
//! `QueryMissionControl`, `XImportMissionControl` and
//! `GetMissionControlConfig` until interrupted.

use std::process::ExitCode;

use dmc_lnd::testing::{TestLnd, TestLndOptions};

fn usage(msg: &str) -> ExitCode {
    eprintln!("dmc-test-lnd: {msg}");
    eprintln!("usage: dmc-test-lnd --lnddir DIR [--network regtest] [--listen 127.0.0.1:10009] [--key HEX] [--seed querymc.json]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut lnddir, mut network, mut listen, mut key, mut seed) =
        (None, "regtest".to_string(), "127.0.0.1:10009".to_string(), None, None);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let r = match a.as_str() {
            "--lnddir" => val("--lnddir").map(|v| lnddir = Some(v)),
            "--network" => val("--network").map(|v| network = v),
            "--listen" => val("--listen").map(|v| listen = v),
            "--key" => val("--key").map(|v| key = Some(v)),
            "--seed" => val("--seed").map(|v| seed = Some(v)),
            "-h" | "--help" => return usage("serves lnd's mission-control RPCs for tests"),
            other => Err(format!("unknown argument {other:?}")),
        };
        if let Err(e) = r {
            return usage(&e);
        }
    }
    let Some(lnddir) = lnddir else {
        return usage("--lnddir is required");
    };
    let secret = match key {
        Some(k) => match dmc_core::node::decode_hex(k.trim()).and_then(|b| secp256k1::SecretKey::from_slice(&b).ok()) {
            Some(s) => s,
            None => return usage("--key: not a 32-byte hex secret key"),
        },
        None => {
            // A fixed key per lnd dir, so restarts keep the identity.
            use sha2::Digest;
            let h = sha2::Sha256::digest(lnddir.as_bytes());
            match secp256k1::SecretKey::from_slice(&h) {
                Ok(s) => s,
                Err(e) => return usage(&format!("deriving a key: {e}")),
            }
        }
    };
    let mut opts = TestLndOptions::new(&lnddir, &network, secret);
    opts.listen = match listen.parse() {
        Ok(a) => a,
        Err(_) => return usage(&format!("--listen: {listen:?} is not host:port")),
    };
    let lnd = match TestLnd::start(opts) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("dmc-test-lnd: starting: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(path) = seed {
        let pairs = match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| dmc_core::rpc::parse_query_mc_json(&t).map_err(|e| e.to_string()))
        {
            Ok(mut p) => {
                dmc_core::rpc::sanitize_loadmc(&mut p);
                p
            }
            Err(e) => return usage(&format!("--seed: {path}: {e}")),
        };
        if let Err(e) = lnd.seed(&pairs) {
            return usage(&format!("--seed: {path}: {e}"));
        }
    }
    println!("listening {} node {}", lnd.addr, lnd.node);
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dmc-test-lnd: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    lnd.stop();
    ExitCode::SUCCESS
}
