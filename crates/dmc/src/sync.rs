//! `dmc sync`: flags to a [`dmc_lnd::SyncConfig`], logging, signals. The
//! work itself is in `dmc_lnd::sync`.

use std::path::Path;
use std::time::Duration;

use dmc_client::{CoordinatorOptions, ErrorKind};
use dmc_core::node::NodeId;
use dmc_lnd::sync::{self as engine, Direction, SyncConfig};
use dmc_lnd::LndOptions;

use crate::args::{input, CliError, Result};
use crate::cli::SyncArgs;

/// Parses and checks every flag before anything connects or writes.
pub fn config(data_dir: &Path, self_node: Option<NodeId>, a: &SyncArgs) -> Result<SyncConfig> {
    let ec_tls_cert = a
        .ec_tls_cert
        .clone()
        .or_else(|| Some(data_dir.join("tls.cert")).filter(|p| p.exists()));
    let mut cfg = SyncConfig::new(
        CoordinatorOptions {
            url: a.ec.clone(),
            tls_cert: ec_tls_cert,
            tls_cert_flag: "--ec-tls-cert",
        },
        data_dir.to_path_buf(),
    );
    cfg.lnd = LndOptions {
        lnddir: a.lnddir.clone(),
        rpcserver: a.rpcserver.clone(),
        tlscertpath: a.tlscertpath.clone(),
        macaroonpath: a.macaroonpath.clone(),
        network: Some(a.network.clone()),
    };
    cfg.direction = match (a.export_only, a.import_only) {
        (true, _) => Direction::ExportOnly,
        (_, true) => Direction::ImportOnly,
        _ => Direction::Both,
    };
    cfg.successes_only = a.successes_only;
    cfg.from_file = a.from_file.clone();
    cfg.to_file = a.to_file.clone();
    cfg.sign_key = a.sign_key.as_deref().map(crate::args::sign_key).transpose()?;
    cfg.self_node = self_node;
    cfg.force = a.force;
    cfg.import_batch = a.import_batch;
    cfg.interval = Duration::from_nanos(a.interval.as_nanos() as u64);
    let once = a.once || a.from_file.is_some() || a.to_file.is_some();
    cfg.retries = match a.retries {
        Some(n) => Some(n),
        None if once => Some(5),
        None => None,
    };
    if !a.ec.starts_with("https://") && !a.ec.starts_with("http://") {
        return input(format!(
            "--ec: {:?} must start with https:// (or http:// for a --no-tls coordinator)",
            a.ec
        ));
    }
    if a.sign_key.is_some() && a.from_file.is_none() {
        return input("--sign-key signs --from-file registrations; with lnd the node signs through SignMessage");
    }
    cfg.validate().map_err(to_cli)?;
    // Resolve lnd's paths now so a bad --network or --rpcserver is refused
    // before anything connects.
    if cfg.needs_lnd() {
        cfg.lnd.resolve().map_err(to_cli)?;
    }
    Ok(cfg)
}

fn to_cli(e: dmc_client::Error) -> CliError {
    match e.kind {
        ErrorKind::Config | ErrorKind::Refused => CliError::Input(e.message),
        ErrorKind::Unavailable | ErrorKind::Invalid => CliError::Runtime(e.message),
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DMC_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub fn run(data_dir: &Path, self_node: Option<NodeId>, a: &SyncArgs) -> Result<()> {
    let cfg = config(data_dir, self_node, a)?;
    init_logging(a.log_json);
    let once = a.once || a.from_file.is_some() || a.to_file.is_some();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Runtime(format!("starting the async runtime: {e}")))?;
    rt.block_on(async move {
        if once {
            let report = engine::run_cycle(&cfg).await.map_err(to_cli)?;
            println!("{}", report.to_json().pretty());
            return Ok(());
        }
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
        };
        engine::run_forever(&cfg, shutdown).await.map_err(to_cli)
    })
}
