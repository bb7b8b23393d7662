//! `dmc`: Distributed Mission Control for the Lightning Network.
//!
//! This binary only parses arguments and wires the crates together:
//! `dmc-core` (the engine), `dmc-store` (the local store), `dmc-graph`
//! (channel graphs), `dmc-sim`, `dmc-server`, `dmc-client` and `dmc-lnd`.
//! Exit codes: 0 success, 2 bad input (the store is left unchanged), 1 any
//! other failure.
//!
//! `cli` is the command line as clap reads it, typed by `args`' parsers
//! (`args` is a leaf: the CLI's error and the parsers every command shares);
//! `main` dispatches each subcommand to its module: `commands` (the local
//! store), `query_cmd` (`queryprob`, `queryroutes`), `sim_cmd`, `ec`
//! (`dmc serve`, `dmc ec`, `dmc admin`) and `sync`.

mod args;
mod cli;
mod commands;
mod ec;
mod query_cmd;
mod sim_cmd;
mod sync;

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use dmc_core::Timestamp;

use crate::args::{ArgError, CliError, Result};
use crate::cli::{Cli, Command, SimCommand};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return refused_by_clap(e),
    };
    // `dmc querymc | head -1`: a one-shot command ends quietly when its
    // reader goes away, as other command-line tools do, instead of
    // panicking in `println!`. Never for the long-running ones: a peer
    // closing a socket must not kill `dmc serve` or `dmc sync`.
    #[cfg(unix)]
    if !matches!(cli.command, Command::Serve(_) | Command::Sync(_)) {
        // SAFETY: restoring the default disposition of one signal before
        // any thread exists; no handler code runs.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dmc: {}", e.message());
            ExitCode::from(e.exit_code())
        }
    }
}

/// A value one of [`args`]'s parsers refused: one line naming the field,
/// exit code 2, as bad input found later. Anything else (an unknown flag,
/// `--help`) as clap prints it.
fn refused_by_clap(e: clap::Error) -> ExitCode {
    if let Some(bad) = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<ArgError>()) {
        eprintln!("dmc: {bad}");
        return ExitCode::from(2);
    }
    e.exit()
}

/// One subcommand, its arguments already typed by clap.
fn run(cli: Cli) -> Result<()> {
    let now = match cli.now {
        Some(now) => now,
        None => {
            let ns = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|e| CliError::Runtime(format!("system clock: {e}")))?
                .as_nanos();
            Timestamp::from_raw(ns as i128)
        }
    };
    let data_dir = cli.data_dir;
    let ctx = commands::Ctx::new(data_dir.clone(), now, cli.self_node);
    match cli.command {
        Command::Querymc { view } => commands::querymc(&ctx, view),
        Command::Loadmc {
            mcdatapath,
            timeoffset,
            force,
            skip_confirmation: _,
        } => commands::loadmc(&ctx, &mcdatapath, timeoffset, force),
        Command::Importmc {
            failure,
            force,
            from,
            to,
            unix_ts,
            amt_msat,
        } => commands::importmc(&ctx, failure, force, from, to, unix_ts, amt_msat),
        Command::Queryprob(args) => query_cmd::queryprob(&ctx, &args),
        Command::Queryroutes(args) => query_cmd::queryroutes(&ctx, &args),
        Command::Report { file } => commands::report(&ctx, &file),
        Command::Resetmc => commands::resetmc(&ctx),
        Command::Getmccfg => commands::getmccfg(&ctx),
        Command::Setmccfg(args) => commands::setmccfg(&ctx, &args),
        Command::SelfNode { pubkey } => commands::self_cmd(&ctx, pubkey),
        Command::Sim(SimCommand::Scenario { name, json }) => sim_cmd::scenario(&name, json),
        Command::Sim(SimCommand::Experiment(args)) => sim_cmd::experiment(&args),
        Command::Sim(SimCommand::Reach(args)) => sim_cmd::reach(&args),
        Command::Serve(args) => ec::serve(&data_dir, &args),
        Command::Ec(cmd) => ec::client(&data_dir, now, cmd),
        Command::Admin(cmd) => ec::admin(&data_dir, cmd),
        Command::Sync(args) => sync::run(&data_dir, cli.self_node, &args),
    }
}
