//! `dmc`: Distributed Mission Control for the Lightning Network.
//!
//! This binary only parses arguments and wires the crates together:
//! `dmc-core` (the engine), `dmc-store` (the local store) and `dmc-graph`
//! (channel graphs). Exit codes: 0 success, 2 bad input (the store is left
//! unchanged), 1 any other failure.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "dmc",
    version,
    about = "Distributed Mission Control for the Lightning Network"
)]
pub struct Cli {
    /// Directory of the local mission-control store.
    #[arg(long, global = true, env = "DMC_DATA_DIR", default_value = "./dmc-data")]
    pub data_dir: PathBuf,
    /// Use this Unix time (seconds) as "now", for reproducible runs.
    #[arg(long, global = true, value_name = "UNIX_SECONDS", allow_negative_numbers = true)]
    pub now: Option<String>,
    /// The local node's public key (overrides the one saved with `dmc self`).
    #[arg(long = "self", global = true, value_name = "PUBKEY")]
    pub self_node: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Print mission control as `lncli querymc` does.
    Querymc {
        #[arg(long, value_enum, default_value_t = ViewArg::Merged)]
        view: ViewArg,
    },
    /// Import a saved `querymc` JSON file, as `lncli loadmc`.
    Loadmc {
        /// The querymc output file.
        #[arg(long)]
        mcdatapath: PathBuf,
        /// Shift every non-zero timestamp by this Go duration (e.g. 72h, -30m).
        #[arg(long, allow_hyphen_values = true)]
        timeoffset: Option<String>,
        /// Override newer results with older ones from the file.
        #[arg(long)]
        force: bool,
        /// Accepted for lncli compatibility; dmc never prompts.
        #[arg(long)]
        skip_confirmation: bool,
    },
    /// Import one pair result, as `lncli importmc`.
    Importmc {
        /// The result is a failure (default: a success).
        #[arg(long)]
        failure: bool,
        /// Force the import over newer results.
        #[arg(long)]
        force: bool,
        from: String,
        to: String,
        #[arg(allow_negative_numbers = true)]
        unix_ts: String,
        #[arg(allow_negative_numbers = true)]
        amt_msat: String,
    },
    /// Success probability of a hop, as `lncli queryprob`.
    Queryprob(QueryprobArgs),
    /// Record HTLC attempt outcomes (JSON lines or a JSON array) as LND's router does.
    Report {
        /// File of attempt outcomes; `-` reads stdin.
        #[arg(long)]
        file: PathBuf,
    },
    /// Delete all local results and imports, as `lncli resetmc`.
    Resetmc,
    /// Print the configuration, as `lncli getmccfg`.
    Getmccfg,
    /// Change the configuration, as `lncli setmccfg`.
    Setmccfg(SetmccfgArgs),
    /// Show the saved local node, or save a new one.
    #[command(name = "self")]
    SelfNode { pubkey: Option<String> },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum ViewArg {
    /// Local results and imports together (what LND would hold).
    Merged,
    /// Only this node's own attempt results.
    Local,
    /// Only imported data.
    Imported,
}

#[derive(Args)]
pub struct QueryprobArgs {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Amount in satoshis.
    #[arg(allow_negative_numbers = true)]
    pub amt_sat: Option<String>,
    /// Amount in millisatoshis instead of AMT_SAT.
    #[arg(long, allow_negative_numbers = true, conflicts_with = "amt_sat")]
    pub msat: Option<String>,
    /// describegraph JSON (or .gz) to look the pair's capacity up in, as LND does.
    #[arg(long)]
    pub graph: Option<PathBuf>,
    /// The pair's capacity in satoshis.
    #[arg(long, conflicts_with = "graph", allow_negative_numbers = true)]
    pub capacity_sat: Option<String>,
    /// JSON lines of {"from","to","amt_msat","capacity_sat"}; one result line each.
    #[arg(long, conflicts_with_all = ["from", "to", "amt_sat", "msat"])]
    pub batch: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ViewArg::Merged)]
    pub view: ViewArg,
}

#[derive(Args, Default)]
pub struct SetmccfgArgs {
    /// Number of payment results to keep (0: unlimited).
    #[arg(long, allow_negative_numbers = true)]
    pub pmtnr: Option<String>,
    /// Wait after a failure before a higher failure amount counts (Go duration).
    #[arg(long, allow_hyphen_values = true)]
    pub failrelax: Option<String>,
    /// apriori or bimodal; required to set estimator parameters.
    #[arg(long)]
    pub estimator: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub apriorihalflife: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub apriorihopprob: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub aprioriweight: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub aprioricapacityfraction: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub bimodaldecaytime: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub bimodalscale: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub bimodalweight: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dmc: {}", e.message());
            ExitCode::from(e.exit_code())
        }
    }
}
