//! The command line as clap reads it: every subcommand, flag and
//! positional argument, already typed where a value has one meaning (the
//! parsers are [`crate::args`]'s, so a refusal reads as every other bad
//! input does). Depends only on `args`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dmc_core::time::DurationNs;
use dmc_core::{Msat, NodeId, Sat, Timestamp};

use crate::args::{self, named, Result};

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
    #[arg(long, global = true, value_name = "UNIX_SECONDS", allow_negative_numbers = true,
          value_parser = named("--now", args::unix_now_arg))]
    pub now: Option<Timestamp>,
    /// The local node's public key (overrides the one saved with `dmc self`).
    #[arg(long = "self", global = true, value_name = "PUBKEY", value_parser = named("--self", args::pubkey))]
    pub self_node: Option<NodeId>,
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
        #[arg(long, allow_hyphen_values = true, value_parser = named("--timeoffset", args::signed_duration_arg))]
        timeoffset: Option<DurationNs>,
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
        #[arg(value_parser = named("FROM", args::pubkey))]
        from: NodeId,
        #[arg(value_parser = named("TO", args::pubkey))]
        to: NodeId,
        #[arg(allow_negative_numbers = true, value_parser = named("UNIX_TS", unix_ts_arg))]
        unix_ts: i64,
        #[arg(allow_negative_numbers = true, value_parser = named("AMT_MSAT", args::int_arg))]
        amt_msat: i64,
    },
    /// Success probability of a hop, as `lncli queryprob`.
    Queryprob(QueryprobArgs),
    /// Find a route with LND's pathfinding, printed as `lncli queryroutes` does.
    Queryroutes(Box<QueryroutesArgs>),
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
    /// Simulated Lightning network: replay scenarios, run experiments.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Run the coordinator: gRPC (ecrpc-compatible and v2) and REST.
    Serve(Box<ServeArgs>),
    /// Coordinator client: register mission control, query the aggregate.
    #[command(subcommand)]
    Ec(EcCommand),
    /// Coordinator administration: on the data dir's store, or through the running server that holds it.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Connect a running lnd to a coordinator: export its mission control
    /// (signed by the node), import the merged data back, on a schedule.
    Sync(Box<SyncArgs>),
    /// Show the saved local node, or save a new one.
    #[command(name = "self")]
    SelfNode {
        #[arg(value_parser = named("PUBKEY", args::pubkey))]
        pubkey: Option<NodeId>,
    },
}

#[derive(Subcommand)]
pub enum SimCommand {
    /// Replay one of the tutorial's use cases (usecase1, usecase2).
    Scenario {
        name: String,
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Cold versus warm: a fresh wallet with and without shared mission control.
    Experiment(Box<ExperimentArgs>),
    /// Reach: a fresh LND sender probes high-degree targets, as LDK's
    /// maintainers measured on mainnet (share through within 10 s).
    Reach(Box<ReachArgs>),
}

/// How the simulated world moves: shared by `sim experiment` and `sim reach`.
#[derive(Args)]
pub struct WorldArgs {
    /// Background payments per simulated hour under flowing balances.
    #[arg(long = "background-rate", default_value = "9000", value_parser = named("--background-rate", args::float_arg))]
    pub background_rate: f64,
    /// How often per simulated day an active depleted direction is refilled, on average; 0: never.
    #[arg(long = "rebalances-per-day", default_value = "1", value_parser = named("--rebalances-per-day", args::float_arg))]
    pub rebalances_per_day: f64,
    /// Share of the time a node is offline (0: always online); its peers
    /// answer UNKNOWN_NEXT_PEER and gossip disables its channels after 20 min.
    #[arg(long = "offline-share", default_value = "0", value_parser = named("--offline-share", args::float_arg))]
    pub offline_share: f64,
    /// Mean length of an outage (Go duration).
    #[arg(long = "mean-outage", default_value = "1h", value_parser = named("--mean-outage", mean_outage_arg))]
    pub mean_outage: i64,
}

#[derive(Args)]
pub struct ReachArgs {
    /// describegraph or listchannels JSON (or .gz).
    #[arg(long, default_value = "data/mainnet-2026-02-03.describegraph.json.gz")]
    pub graph: PathBuf,
    #[arg(long, default_value = "3", value_parser = named("--seeds", args::int_arg))]
    pub seeds: i64,
    #[arg(long, default_value = "1", value_parser = named("--seed", args::uint_arg))]
    pub seed: u64,
    /// flowing, uniform, bimodal or fixed.
    #[arg(long, default_value = "flowing")]
    pub balances: String,
    #[command(flatten)]
    pub world: WorldArgs,
    /// Probe amounts in sat, comma-separated.
    #[arg(long, default_value = "1000,10000,30000")]
    pub amounts: String,
    /// Probes per amount and seed.
    #[arg(long, default_value = "300", value_parser = named("--probes", args::int_arg))]
    pub probes: i64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ExperimentArgs {
    /// describegraph or listchannels JSON (or .gz).
    #[arg(long, default_value = "data/mainnet-2026-02-03.describegraph.json.gz")]
    pub graph: PathBuf,
    /// Independent worlds (seeds seed, seed+1, ...), run in parallel.
    #[arg(long, default_value = "6", value_parser = named("--seeds", usize_arg))]
    pub seeds: usize,
    /// Base seed.
    #[arg(long, default_value = "1", value_parser = named("--seed", args::uint_arg))]
    pub seed: u64,
    /// Worker threads (0: one per core).
    #[arg(long, default_value = "0", value_parser = named("--threads", usize_arg))]
    pub threads: usize,
    /// Balances, comma-separated: flowing (background traffic and
    /// rebalancing), or the static i.i.d. models uniform, bimodal, fixed.
    #[arg(long, alias = "models", default_value = "flowing")]
    pub balances: String,
    #[command(flatten)]
    pub world: WorldArgs,
    /// Wallet profiles, comma-separated: mobile, routing.
    #[arg(long, default_value = "mobile,routing")]
    pub wallets: String,
    /// Wallet estimators, comma-separated: apriori, bimodal.
    #[arg(long, default_value = "apriori,bimodal")]
    pub estimators: String,
    /// Nodes that share their mission control (half well-connected, half random).
    #[arg(long, default_value = "50", value_parser = named("--contributors", usize_arg))]
    pub contributors: usize,
    /// Payments per contributor per simulated hour.
    #[arg(long = "contributor-rate", default_value = "1", value_parser = named("--contributor-rate", args::float_arg))]
    pub contributor_rate: f64,
    /// How long contributors pay before the wallets start (Go duration).
    #[arg(long = "contributor-time", default_value = "12h", value_parser = named("--contributor-time", hours_arg))]
    pub contributor_time: f64,
    /// How long the wallets' payments are spread over (Go duration).
    #[arg(long = "wallet-time", default_value = "24h", value_parser = named("--wallet-time", hours_arg))]
    pub wallet_time: f64,
    /// How often contributors export and warm wallets import (Go duration).
    #[arg(long = "sync-interval", default_value = "10m", value_parser = named("--sync-interval", sync_interval_arg))]
    pub sync_interval: i64,
    /// How long the warm wallet's own observations outrank contrary
    /// coordinator claims on import, as `dmc sync` does (Go duration; 0s:
    /// LND's import alone).
    #[arg(long = "first-hand-hold", default_value = "1h", value_parser = named("--first-hand-hold", first_hand_hold_arg))]
    pub first_hand_hold: i64,
    /// Payments of the routing wallet per seed (the mobile wallet makes 20-50).
    #[arg(long = "routing-payments", default_value = "200", value_parser = named("--routing-payments", usize_arg))]
    pub routing_payments: usize,
    /// Bootstrap replicates for the confidence intervals.
    #[arg(long, default_value = "1000", value_parser = named("--bootstrap", usize_arg))]
    pub bootstrap: usize,
    /// Share of the contributors that lie, in [0, 1): chosen among the
    /// established ones (nodes with at least 1 000 000 sat of channels).
    #[arg(long, default_value = "0", allow_hyphen_values = true, value_parser = named("--liars", args::float_arg))]
    pub liars: f64,
    /// How the liars lie: inverted, blackhole or fake-capacity (required
    /// with --liars above 0; see docs/simulator.md).
    #[arg(long)]
    pub lie: Option<String>,
    /// Write the JSON report here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write learning curves here as SVG, and beside it as PNG (P.svg and P.png).
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

#[derive(Args, Default)]
pub struct ServeArgs {
    /// TOML config file (default: <data-dir>/dmc.toml if it exists).
    #[arg(long, env = "DMC_CONFIG")]
    pub config: Option<PathBuf>,
    /// gRPC address (default 127.0.0.1:50050).
    #[arg(long = "grpc-listen", env = "DMC_GRPC_LISTEN", value_parser = named("--grpc-listen", args::socket_addr_arg))]
    pub grpc_listen: Option<std::net::SocketAddr>,
    /// REST address (default 127.0.0.1:8081).
    #[arg(long = "rest-listen", env = "DMC_REST_LISTEN", value_parser = named("--rest-listen", args::socket_addr_arg))]
    pub rest_listen: Option<std::net::SocketAddr>,
    /// TLS certificate (default: generated at <data-dir>/tls.cert).
    #[arg(long = "tls-cert", env = "DMC_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long = "tls-key", env = "DMC_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Plain text, for loopback addresses only.
    #[arg(long = "no-tls", env = "DMC_NO_TLS", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_tls: bool,
    /// Refuse unsigned (v1) registrations.
    #[arg(long = "require-signatures", env = "DMC_REQUIRE_SIGNATURES", value_parser = clap::builder::BoolishValueParser::new())]
    pub require_signatures: bool,
    /// Drop observations older than this (Go duration, default 168h).
    #[arg(long = "staleness-window", env = "DMC_STALENESS_WINDOW", value_parser = named("--staleness-window", args::duration_arg))]
    pub staleness_window: Option<DurationNs>,
    /// Refuse observation times further ahead than this (default 10m).
    #[arg(long = "future-skew", env = "DMC_FUTURE_SKEW", value_parser = named("--future-skew", args::duration_arg))]
    pub future_skew: Option<DurationNs>,
    #[arg(long = "max-pairs-per-request", env = "DMC_MAX_PAIRS_PER_REQUEST", value_parser = named("--max-pairs-per-request", args::int_arg))]
    pub max_pairs_per_request: Option<i64>,
    #[arg(long = "requests-per-minute", env = "DMC_REQUESTS_PER_MINUTE", value_parser = named("--requests-per-minute", u32_or_too_large))]
    pub requests_per_minute: Option<u32>,
    /// Keep the coordinator's store in PostgreSQL (postgres://user@host/db),
    /// shared by replicas, instead of the embedded file in the data dir.
    #[arg(long = "database-url", env = "DMC_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Print logs as JSON lines.
    #[arg(long = "log-json", env = "DMC_LOG_JSON", value_parser = clap::builder::BoolishValueParser::new())]
    pub log_json: bool,
    /// The channel graph: `lncli describegraph` or CLN `listchannels` JSON
    /// (plain or .gz), reloaded on SIGHUP; `none` turns graph checks off
    /// (default: the shipped mainnet snapshot).
    #[arg(long, env = "DMC_GRAPH")]
    pub graph: Option<String>,
    /// Public capacity a signed reporter's node needs to be established
    /// (sat, default 1000000).
    #[arg(long = "min-reporter-capacity-sat", env = "DMC_MIN_REPORTER_CAPACITY_SAT", value_parser = named("--min-reporter-capacity-sat", args::uint_arg))]
    pub min_reporter_capacity_sat: Option<u64>,
    /// Serve a pair once its reporters weigh this much (default 1: one
    /// established reporter; 0 serves every pair, as the Go coordinator does).
    #[arg(long = "min-serving-weight", env = "DMC_MIN_SERVING_WEIGHT", value_parser = named("--min-serving-weight", args::weight_arg))]
    pub min_serving_weight: Option<f64>,
    /// Serve a failure once reporters weighing this many times
    /// --min-serving-weight back it (default 2: two established reporters;
    /// 1: one reporter's failure is served, as its success is).
    #[arg(long = "failure-corroboration", env = "DMC_FAILURE_CORROBORATION", value_parser = named("--failure-corroboration", args::weight_arg))]
    pub failure_corroboration: Option<f64>,
    /// Weight of an established reporter (default 1).
    #[arg(long = "weight-established", env = "DMC_WEIGHT_ESTABLISHED", value_parser = named("--weight-established", args::weight_arg))]
    pub weight_established: Option<f64>,
    /// Weight all unverified signed keys of a pair share (default 0.1).
    #[arg(long = "weight-unverified", env = "DMC_WEIGHT_UNVERIFIED", value_parser = named("--weight-unverified", args::weight_arg))]
    pub weight_unverified: Option<f64>,
    /// If the embedded store is empty or damaged, move it aside
    /// (<file>.broken-<time>) and begin with an empty one.
    #[arg(long = "fresh-store")]
    pub fresh_store: bool,
    /// Weight all anonymous (v1) sources of a pair share (default 0.01; 0
    /// with --require-signatures).
    #[arg(long = "weight-anonymous", env = "DMC_WEIGHT_ANONYMOUS", value_parser = named("--weight-anonymous", args::weight_arg))]
    pub weight_anonymous: Option<f64>,
    /// What the LND snapshot and v2 queries serve: "aggregate" (default:
    /// the robust aggregate of reporters' last observations) or "model"
    /// (the liquidity model's records, always as full snapshots; failure
    /// times encode confidence). File: [aggregation] lnd_records.
    #[arg(long = "lnd-records", env = "DMC_LND_RECORDS", value_name = "aggregate|model")]
    pub lnd_records: Option<String>,
    /// Connections open at once on each listener (default 1024); more are
    /// closed on accept.
    #[arg(long = "max-connections", env = "DMC_MAX_CONNECTIONS", value_parser = named("--max-connections", args::count_arg))]
    pub max_connections: Option<i64>,
    /// Connections open at once from one address (an IPv6 /64) on each
    /// listener (default 64; behind a proxy, raise it to --max-connections).
    #[arg(long = "max-connections-per-ip", env = "DMC_MAX_CONNECTIONS_PER_IP", value_parser = named("--max-connections-per-ip", args::count_arg))]
    pub max_connections_per_ip: Option<i64>,
    /// A TLS handshake must be done within this (Go duration, default 10s).
    #[arg(long = "tls-handshake-timeout", env = "DMC_TLS_HANDSHAKE_TIMEOUT", value_parser = named("--tls-handshake-timeout", args::duration_arg))]
    pub tls_handshake_timeout: Option<DurationNs>,
    /// A REST request head must arrive within this (default 10s).
    #[arg(long = "header-read-timeout", env = "DMC_HEADER_READ_TIMEOUT", value_parser = named("--header-read-timeout", args::duration_arg))]
    pub header_read_timeout: Option<DurationNs>,
    /// A REST request body must arrive whole within this (default 60s).
    #[arg(long = "body-read-timeout", env = "DMC_BODY_READ_TIMEOUT", value_parser = named("--body-read-timeout", args::duration_arg))]
    pub body_read_timeout: Option<DurationNs>,
    /// Close connections idle for this long (default 60s).
    #[arg(long = "idle-timeout", env = "DMC_IDLE_TIMEOUT", value_parser = named("--idle-timeout", args::duration_arg))]
    pub idle_timeout: Option<DurationNs>,
    /// HTTP/2 keep-alive ping interval (default 20s).
    #[arg(long = "http2-keepalive-interval", env = "DMC_HTTP2_KEEPALIVE_INTERVAL", value_parser = named("--http2-keepalive-interval", args::duration_arg))]
    pub http2_keepalive_interval: Option<DurationNs>,
    /// Close an HTTP/2 connection whose ping is not answered within this (default 20s).
    #[arg(long = "http2-keepalive-timeout", env = "DMC_HTTP2_KEEPALIVE_TIMEOUT", value_parser = named("--http2-keepalive-timeout", args::duration_arg))]
    pub http2_keepalive_timeout: Option<DurationNs>,
    /// HTTP/2 requests at once on one connection (default 64).
    #[arg(long = "max-concurrent-streams", env = "DMC_MAX_CONCURRENT_STREAMS", value_parser = named("--max-concurrent-streams", args::u32_count_arg))]
    pub max_concurrent_streams: Option<u32>,
    /// A gRPC call must be answered within this (default 60s).
    #[arg(long = "grpc-request-timeout", env = "DMC_GRPC_REQUEST_TIMEOUT", value_parser = named("--grpc-request-timeout", args::duration_arg))]
    pub grpc_request_timeout: Option<DurationNs>,
}

#[derive(Args)]
pub struct SyncArgs {
    /// Coordinator gRPC URL (https://host:port; http:// for a --no-tls one).
    #[arg(long)]
    pub ec: String,
    /// The coordinator's TLS certificate (default: <data-dir>/tls.cert if it
    /// exists, else the public root CAs).
    #[arg(long = "ec-tls-cert")]
    pub ec_tls_cert: Option<PathBuf>,
    /// Time between cycles (Go duration).
    #[arg(long, default_value = "10m", value_parser = named("--interval", interval_arg))]
    pub interval: DurationNs,
    /// Run one cycle, print what moved as JSON, and exit.
    #[arg(long)]
    pub once: bool,
    /// Only send the node's mission control to the coordinator.
    #[arg(long = "export-only", conflicts_with = "import_only")]
    pub export_only: bool,
    /// Only import the coordinator's data into the node.
    #[arg(long = "import-only")]
    pub import_only: bool,
    /// Share successes only, never failures.
    #[arg(long = "successes-only")]
    pub successes_only: bool,
    /// lnd's base directory (lncli's --lnddir; default ~/.lnd).
    #[arg(long, env = "LNCLI_LNDDIR")]
    pub lnddir: Option<PathBuf>,
    /// lnd's gRPC host:port (default localhost:10009).
    #[arg(long, env = "LNCLI_RPCSERVER")]
    pub rpcserver: Option<String>,
    /// lnd's TLS certificate (default <lnddir>/tls.cert).
    #[arg(long, env = "LNCLI_TLSCERTPATH")]
    pub tlscertpath: Option<PathBuf>,
    /// Macaroon file (default <lnddir>/data/chain/bitcoin/<network>/admin.macaroon).
    #[arg(long, env = "LNCLI_MACAROONPATH")]
    pub macaroonpath: Option<PathBuf>,
    /// mainnet, testnet, testnet4, regtest, simnet or signet.
    #[arg(long, env = "LNCLI_NETWORK", default_value = "mainnet")]
    pub network: String,
    /// Offline: register this saved `lncli querymc` file instead of lnd's data.
    #[arg(long = "from-file")]
    pub from_file: Option<PathBuf>,
    /// Offline: write the coordinator's merged data here (for `lncli loadmc`)
    /// instead of importing into lnd.
    #[arg(long = "to-file")]
    pub to_file: Option<PathBuf>,
    /// With --from-file: sign with this secret key (hex, or a file holding
    /// it) instead of through lnd's SignMessage.
    #[arg(long = "sign-key")]
    pub sign_key: Option<String>,
    /// Import with XImportMissionControl's force (override newer local results).
    #[arg(long)]
    pub force: bool,
    /// Pairs per XImportMissionControl request.
    #[arg(long = "import-batch", default_value = "1000", allow_negative_numbers = true,
          value_parser = named("--import-batch", import_batch_arg))]
    pub import_batch: usize,
    /// Retries after lnd or the coordinator is unreachable (default: 5 with
    /// --once, unlimited otherwise); backoff doubles from 1s up to 5m, with jitter.
    #[arg(long, allow_negative_numbers = true, value_parser = named("--retries", retries_arg))]
    pub retries: Option<u32>,
    /// Print logs as JSON lines.
    #[arg(long = "log-json")]
    pub log_json: bool,
}

#[derive(Subcommand)]
pub enum EcCommand {
    /// Send a querymc JSON file to a coordinator (signed with --sign-key: v2).
    Register {
        #[arg(long)]
        file: PathBuf,
        /// Coordinator gRPC address.
        #[arg(long, default_value = "https://127.0.0.1:50050")]
        ec: String,
        /// The coordinator's certificate, pinned (default: <data-dir>/tls.cert
        /// if there is one, else the public certificate authorities).
        #[arg(long = "tls-cert")]
        tls_cert: Option<PathBuf>,
        /// Secret key (hex, or a file holding it) of the reporting node.
        #[arg(long = "sign-key")]
        sign_key: Option<String>,
        /// Share only successes.
        #[arg(long = "successes-only")]
        successes_only: bool,
        /// Shift all times so the newest is now (for old files and demos).
        #[arg(long = "rebase-times")]
        rebase_times: bool,
    },
    /// Download the aggregate (all of it, or changes since a cursor).
    Query {
        #[arg(long, default_value = "https://127.0.0.1:50050")]
        ec: String,
        /// As for `dmc ec register`.
        #[arg(long = "tls-cert")]
        tls_cert: Option<PathBuf>,
        /// Only changes after this cursor.
        #[arg(long, value_parser = named("--since", args::uint_arg))]
        since: Option<u64>,
        /// lnd: what `loadmc` accepts; json: with reporters, age and cursor.
        #[arg(long, value_enum, default_value_t = EcFormat::Lnd)]
        format: EcFormat,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum EcFormat {
    Lnd,
    Json,
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Remove a reporter's observations and recompute the aggregate.
    ForgetReporter {
        /// Node key; anonymous:ADDRESS for unsigned registrations from one
        /// source address; unattributed for unsigned ones stored before
        /// sources were told apart.
        reporter: String,
        /// Also refuse the reporter's future registrations.
        #[arg(long)]
        ban: bool,
        /// The running server's REST address, used when its embedded store
        /// is open (default 127.0.0.1:8081); the admin token and certificate
        /// are read from the data dir.
        #[arg(long)]
        rest: Option<String>,
        /// The coordinator's PostgreSQL store (as `dmc serve --database-url`);
        /// default: the embedded store in the data dir.
        #[arg(long = "database-url", env = "DMC_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Verify the embedded store: redb's page check, every record decoded,
    /// the derived tables compared with the observations. Reads only; exits
    /// non-zero when anything is wrong.
    Check {
        /// The store file (default: <data-dir>/coordinator.redb).
        #[arg(long)]
        store: Option<PathBuf>,
        /// The running server's REST address, used when it holds the store
        /// open (default 127.0.0.1:8081).
        #[arg(long)]
        rest: Option<String>,
    },
    /// Copy every readable observation, reputation, ban and replay record
    /// of a damaged embedded store into a new store in DIR, recomputing the
    /// aggregate. The damaged file is not written; stop the server first.
    Salvage {
        /// The store file (default: <data-dir>/coordinator.redb).
        #[arg(long)]
        store: Option<PathBuf>,
        /// Directory for the new store (must not hold one); start the
        /// server with `--data-dir DIR` or move DIR/coordinator.redb in place.
        #[arg(long)]
        out: PathBuf,
    },
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
    #[arg(value_parser = named("FROM", args::pubkey))]
    pub from: Option<NodeId>,
    #[arg(value_parser = named("TO", args::pubkey))]
    pub to: Option<NodeId>,
    /// Amount in satoshis.
    #[arg(allow_negative_numbers = true, value_parser = named("AMT_SAT", args::sat_arg))]
    pub amt_sat: Option<Msat>,
    /// Amount in millisatoshis instead of AMT_SAT.
    #[arg(long, allow_negative_numbers = true, conflicts_with = "amt_sat", value_parser = named("--msat", args::msat_arg))]
    pub msat: Option<Msat>,
    /// describegraph JSON (or .gz) to look the pair's capacity up in, as LND does.
    #[arg(long)]
    pub graph: Option<PathBuf>,
    /// The pair's capacity in satoshis.
    #[arg(long, conflicts_with = "graph", allow_negative_numbers = true, value_parser = named("--capacity-sat", args::sat_count_arg))]
    pub capacity_sat: Option<Sat>,
    /// JSON lines of {"from","to","amt_msat","capacity_sat"}; one result line each.
    #[arg(long, conflicts_with_all = ["from", "to", "amt_sat", "msat"])]
    pub batch: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ViewArg::Merged)]
    pub view: ViewArg,
}

#[derive(Args)]
pub struct QueryroutesArgs {
    /// Destination node public key (or --dest).
    #[arg(required_unless_present = "dest", value_parser = named("DEST", args::pubkey))]
    pub dest_pos: Option<NodeId>,
    /// Amount in satoshis (or --amt / --amt_msat).
    #[arg(allow_negative_numbers = true, value_parser = named("AMT", args::sat_arg))]
    pub amt_pos: Option<Msat>,
    #[arg(long, conflicts_with = "dest_pos", value_parser = named("DEST", args::pubkey))]
    pub dest: Option<NodeId>,
    #[arg(long, allow_negative_numbers = true, conflicts_with = "amt_pos", value_parser = named("AMT", args::sat_arg))]
    pub amt: Option<Msat>,
    #[arg(long = "amt_msat", allow_negative_numbers = true, conflicts_with_all = ["amt_pos", "amt"], value_parser = named("--amt_msat", args::msat_arg))]
    pub amt_msat: Option<Msat>,
    /// describegraph JSON (or .gz) of the network.
    #[arg(long, default_value = "data/mainnet-2026-02-03.describegraph.json.gz")]
    pub graph: PathBuf,
    /// Source node (default: --self).
    #[arg(long, value_parser = named("--source", args::pubkey))]
    pub source: Option<NodeId>,
    /// Weigh hops by mission control's probabilities (default: every hop 1).
    #[arg(long = "use_mc")]
    pub use_mc: bool,
    /// Maximum total fee in satoshis (default: the amount).
    #[arg(long = "fee_limit", allow_negative_numbers = true, value_parser = named("--fee_limit", args::sat_saturating_arg))]
    pub fee_limit: Option<Msat>,
    /// Maximum total time lock in blocks (default 2016).
    #[arg(long = "cltv_limit", allow_negative_numbers = true, value_parser = named("--cltv_limit", args::u32_arg))]
    pub cltv_limit: Option<u32>,
    /// CLTV delta of the final hop (default 80).
    #[arg(long = "final_cltv_delta", allow_negative_numbers = true, value_parser = named("--final_cltv_delta", args::u16_arg))]
    pub final_cltv_delta: Option<u16>,
    /// −1 (cheapest) to 1 (most likely).
    #[arg(long = "time_pref", allow_negative_numbers = true, default_value = "0", value_parser = named("--time_pref", args::float_arg))]
    pub time_pref: f64,
    /// Nodes to avoid (repeatable).
    #[arg(long = "ignored_node", value_parser = named("--ignored_node", args::pubkey))]
    pub ignored_nodes: Vec<NodeId>,
    /// Directed pairs FROM:TO to avoid (repeatable).
    #[arg(long = "ignored_pair")]
    pub ignored_pairs: Vec<String>,
    /// Only these of our channels may be the first hop (repeatable).
    #[arg(long = "outgoing_chan_id", value_parser = named("--outgoing_chan_id", args::u64_count_arg))]
    pub outgoing_chan_ids: Vec<u64>,
    /// The node before the destination.
    #[arg(long = "last_hop", value_parser = named("--last_hop", args::pubkey))]
    pub last_hop: Option<NodeId>,
    /// Current block height for time locks.
    #[arg(long = "block_height", default_value = "0", value_parser = named("--block_height", args::u32_arg))]
    pub block_height: u32,
    /// Split into shards as LND's MPP does when one route cannot carry it.
    #[arg(long)]
    pub mpp: bool,
    #[arg(long = "max_parts", default_value = "16", value_parser = named("--max_parts", args::u32_arg))]
    pub max_parts: u32,
    /// Smallest shard in satoshis.
    #[arg(long = "min_shard_sat", default_value = "10000", value_parser = named("--min_shard_sat", args::sat_saturating_arg))]
    pub min_shard: Msat,
    #[arg(long, value_enum, default_value_t = ViewArg::Merged)]
    pub view: ViewArg,
}

#[derive(Args, Default)]
pub struct SetmccfgArgs {
    /// Number of payment results to keep (0: unlimited).
    #[arg(long, allow_negative_numbers = true, value_parser = named("--pmtnr", args::u32_arg))]
    pub pmtnr: Option<u32>,
    /// Wait after a failure before a higher failure amount counts (Go duration).
    #[arg(long, allow_hyphen_values = true, value_parser = named("--failrelax", args::duration_arg))]
    pub failrelax: Option<DurationNs>,
    /// apriori or bimodal; required to set estimator parameters.
    #[arg(long)]
    pub estimator: Option<String>,
    #[arg(long, allow_hyphen_values = true, value_parser = named("--apriorihalflife", args::duration_arg))]
    pub apriorihalflife: Option<DurationNs>,
    #[arg(long, allow_hyphen_values = true, value_parser = named("--apriorihopprob", args::float_arg))]
    pub apriorihopprob: Option<f64>,
    #[arg(long, allow_hyphen_values = true, value_parser = named("--aprioriweight", args::float_arg))]
    pub aprioriweight: Option<f64>,
    #[arg(long, allow_hyphen_values = true, value_parser = named("--aprioricapacityfraction", args::float_arg))]
    pub aprioricapacityfraction: Option<f64>,
    #[arg(long, allow_hyphen_values = true, value_parser = named("--bimodaldecaytime", args::duration_arg))]
    pub bimodaldecaytime: Option<DurationNs>,
    #[arg(long, allow_hyphen_values = true, value_parser = named("--bimodalscale", args::uint_arg))]
    pub bimodalscale: Option<u64>,
    #[arg(long, allow_hyphen_values = true, value_parser = named("--bimodalweight", args::float_arg))]
    pub bimodalweight: Option<f64>,
}

/// `importmc`'s time: a Unix time in seconds after 1970.
fn unix_ts_arg(s: &str, field: &str) -> Result<i64> {
    match s.trim().parse::<i64>() {
        Ok(t) if t > 0 => Ok(t),
        _ => args::input(format!("{field}: {s:?} is not a positive Unix time in seconds")),
    }
}

/// `--requests-per-minute`: a count that fits the config's u32.
fn u32_or_too_large(s: &str, field: &str) -> Result<u32> {
    u32::try_from(args::int_arg(s, field)?).or_else(|_| args::input(format!("{field}: too large")))
}

/// `dmc sync --interval`: a Go duration of at least a second.
fn interval_arg(s: &str, field: &str) -> Result<DurationNs> {
    let d = dmc_core::time::parse_go_duration(s).or_else(|e| args::input(format!("{field}: {s:?}: {e}")))?;
    if d < DurationNs::SECOND {
        return args::input(format!("{field}: {s:?} is shorter than 1s"));
    }
    Ok(d)
}

/// `dmc sync --import-batch`: pairs per request, at least one.
fn import_batch_arg(s: &str, field: &str) -> Result<usize> {
    usize::try_from(args::int_arg(s, field)?)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| args::CliError::Input(format!("{field}: {s:?} must be at least 1")))
}

/// `dmc sync --retries`.
fn retries_arg(s: &str, field: &str) -> Result<u32> {
    u32::try_from(args::int_arg(s, field)?).or_else(|_| args::input(format!("{field}: {s:?} is too large")))
}

/// A count of seeds, threads, contributors, payments or replicates.
fn usize_arg(s: &str, field: &str) -> Result<usize> {
    let v = args::int_arg(s, field)?;
    usize::try_from(v).or_else(|_| args::input(format!("{field}: {v} is too large")))
}

/// A simulated stretch of time of at most a year, in hours.
fn hours_arg(s: &str, field: &str) -> Result<f64> {
    let d = args::duration_arg(s, field)?.as_nanos();
    if d > 365 * 24 * 3_600_000_000_000 {
        return args::input(format!("{field}: {s:?} is longer than a year"));
    }
    Ok(d as f64 / 3.6e12)
}

/// `--sync-interval`: whole seconds, at least one.
fn sync_interval_arg(s: &str, field: &str) -> Result<i64> {
    let d = args::duration_arg(s, field)?.as_nanos();
    if d < 1_000_000_000 || d % 1_000_000_000 != 0 {
        return args::input(format!("{field}: {s:?} is not a whole number of seconds (at least 1s)"));
    }
    Ok(d / 1_000_000_000)
}

/// `--first-hand-hold`: whole seconds (0 turns the hold off).
fn first_hand_hold_arg(s: &str, field: &str) -> Result<i64> {
    let d = args::duration_arg(s, field)?.as_nanos();
    if d % 1_000_000_000 != 0 {
        return args::input(format!("{field}: {s:?} is not a whole number of seconds"));
    }
    Ok(d / 1_000_000_000)
}

/// `--mean-outage`: between a minute and 30 days, in seconds.
fn mean_outage_arg(s: &str, field: &str) -> Result<i64> {
    let d = args::duration_arg(s, field)?.as_nanos();
    if !(60_000_000_000..=30 * 86_400_000_000_000).contains(&d) {
        return args::input(format!("{field}: {s:?} is not between 1m and 720h"));
    }
    Ok(d / 1_000_000_000)
}
