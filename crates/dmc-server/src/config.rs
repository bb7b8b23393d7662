//! The coordinator's configuration: defaults, overlaid by a TOML file, then
//! environment variables and flags (the CLI does the last two).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use dmc_core::time::{parse_go_duration, DurationNs};
use serde::Deserialize;

const SECOND: DurationNs = DurationNs::SECOND;

/// Why a config file or a config was refused; the message names the setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file is not TOML, or has a key or a value of the wrong kind.
    #[error("config file: {0}")]
    Toml(#[from] toml::de::Error),
    /// A duration Go's `time.ParseDuration` would refuse.
    #[error("config file: {field}: {source}")]
    Duration {
        /// The setting whose value was refused.
        field: &'static str,
        /// What is wrong with the value.
        source: dmc_core::time::DurationError,
    },
    /// A listen address that is not `host:port` with a numeric host (`127.0.0.1:8081`, `[::1]:50050`).
    #[error("config file: {field}: {value:?} is not host:port")]
    Address {
        /// The setting whose value was refused.
        field: &'static str,
        /// The value as the file gave it.
        value: String,
    },
    /// `database_url` is not a connection string (passwords never shown).
    #[error("{0}")]
    DatabaseUrl(String),
    /// Settings out of range or that cannot work together.
    #[error("{0}")]
    Invalid(String),
}

/// Everything `dmc serve` can be told. Durations are Go-style strings in
/// the file (`"168h"`, `"10m"`).
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// Folder of the embedded store, the admin token and the generated TLS pair.
    pub data_dir: PathBuf,
    /// Address of the gRPC listener (default `127.0.0.1:50050`); port 0 picks a free one.
    pub grpc_listen: SocketAddr,
    /// Address of the REST listener (default `127.0.0.1:8081`); port 0 picks a free one.
    pub rest_listen: SocketAddr,
    /// `None`: generate a self-signed pair in the data dir, as lnd does.
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of `tls_cert`; give both or neither.
    pub tls_key: Option<PathBuf>,
    /// Plain TCP; allowed only on loopback addresses (default false: TLS).
    pub no_tls: bool,
    /// Observations older than this are dropped on arrival and by cleanup (default 168h).
    pub staleness_window: DurationNs,
    /// How often stale observations and expired replay digests are removed
    /// (default 1h); shorter frees storage sooner at the cost of more store scans.
    pub cleanup_interval: DurationNs,
    /// Observation times further in the future than this are refused (default 10m).
    pub future_skew: DurationNs,
    /// Accept unsigned (v1) registrations, marked unattributed (default
    /// true; `--require-signatures` turns it off).
    pub accept_unsigned: bool,
    /// A signed registration's timestamp must be within this of now (default 10m).
    pub signature_window: DurationNs,
    /// Largest request body, in bytes, REST and gRPC accept (default 8 MiB);
    /// larger ones are refused naming the limit.
    pub max_body_bytes: usize,
    /// Most pairs one registration may carry (default 50 000); more are refused naming the limit.
    pub max_pairs_per_request: usize,
    /// Registrations a minute per established key, per remote address (v1),
    /// and for all unverified keys together (default 60); beyond it the
    /// client is told when to retry.
    pub requests_per_minute: u32,
    /// Pairs per streamed message (the Go coordinator's 4600).
    pub query_batch_size: usize,
    /// PostgreSQL connection string: the store replicas share. `None`: the
    /// embedded store in the data dir. May hold a password: never logged.
    pub database_url: Option<String>,
    /// The channel graph (describegraph or listchannels JSON, plain or
    /// gzip) that says who is established and which channels exist;
    /// `None` (`--graph none`) turns every graph check off.
    pub graph: Option<PathBuf>,
    /// Public capacity a signed key's node needs to be established (sat; default 1 000 000).
    pub min_reporter_capacity_sat: u64,
    /// Class weights (ARCHITECTURE.md, "Robust aggregation"). The
    /// anonymous weight is 0 whenever unsigned registrations are refused.
    /// This one, an established reporter's, is 1 by default and must be above 0.
    pub weight_established: f64,
    /// Weight all unverified signed keys share on a pair (default 0.1).
    pub weight_unverified: f64,
    /// Weight all unsigned (v1) sources share on a pair (default 0.01).
    pub weight_anonymous: f64,
    /// A pair is served once its reporters weigh this much (default 1: one
    /// established reporter; 0: any weight).
    pub min_serving_weight: f64,
    /// A failure is served once reporters weighing this many times
    /// `min_serving_weight` back it (default 2: two established reporters).
    pub failure_corroboration: f64,
    /// How often the reputation rule runs (default 10m).
    pub reputation_interval: DurationNs,
    /// Observations all reporters that are not established (unverified
    /// keys and anonymous sources) may hold together: a fresh key costs
    /// nothing, so they share one storage budget (default 1 000 000).
    pub max_unverified_observations: u64,
    /// Set an empty or damaged embedded store aside and begin empty (default false).
    pub fresh_store: bool,
    /// Observations one reporter may hold (default 500 000); beyond it its
    /// registrations are refused with 429.
    pub max_observations_per_reporter: u64,
    /// Observations the store holds from all reporters together (default
    /// 50 000 000); beyond it registrations are refused with 429.
    pub max_observations: u64,
    /// Connections open at once on each listener, in total and from one
    /// source address (an IPv6 source counts per /64); beyond them a new
    /// connection is closed on accept, before TLS (default 1024 in total).
    pub max_connections: usize,
    /// Connections one source address may hold on each listener (default 64);
    /// behind a proxy every client shares its address: raise it to `max_connections`.
    pub max_connections_per_ip: usize,
    /// A connection's TLS handshake must be done within this (default 10s).
    pub tls_handshake_timeout: DurationNs,
    /// REST: a request head must arrive within this of the connection's
    /// start or of its first byte (gRPC: the first bytes after the handshake; default 10s).
    pub header_read_timeout: DurationNs,
    /// REST: a request body must arrive whole within this of its head (default 60s).
    pub body_read_timeout: DurationNs,
    /// A connection with no request in flight for this long is closed (gRPC:
    /// one nothing is read from); so is one whose writes make no progress
    /// (default 60s; must exceed `http2_keepalive_interval`).
    pub idle_timeout: DurationNs,
    /// HTTP/2 (gRPC and REST): ping a connection silent for the interval;
    /// close it when the answer takes longer than the timeout (default 20s).
    pub http2_keepalive_interval: DurationNs,
    /// How long a keep-alive ping's answer may take before the connection is closed (default 20s).
    pub http2_keepalive_timeout: DurationNs,
    /// HTTP/2 streams (requests) at once on one connection (default 64).
    pub max_concurrent_streams: u32,
    /// A gRPC call must be answered (a stream: begin) within this (default 60s).
    pub grpc_request_timeout: DurationNs,
    /// What the LND snapshot (v1 query, `/v2/snapshot`, REST v1) and v2
    /// queries serve (`[aggregation] lnd_records`, `--lnd-records`;
    /// default the aggregate).
    pub lnd_records: LndRecords,
}

/// Where the LND records a coordinator serves come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LndRecords {
    /// The robust aggregate of the reporters' last observations (`"aggregate"`).
    #[default]
    Aggregate,
    /// The liquidity model's records (`"model"`,
    /// `dmc_core::liquidity::LiquidityModel::serve_lnd`): failure times
    /// encode confidence. Always a full snapshot: v2 queries answer with a
    /// full resync.
    Model,
}

impl LndRecords {
    /// `"aggregate"` or `"model"`, as the file and `--lnd-records` name them.
    pub fn parse(s: &str) -> Result<LndRecords, ConfigError> {
        match s {
            "aggregate" => Ok(LndRecords::Aggregate),
            "model" => Ok(LndRecords::Model),
            other => Err(ConfigError::Invalid(format!(
                "lnd_records: {:?} is neither \"aggregate\" nor \"model\"",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    /// The name [`LndRecords::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            LndRecords::Aggregate => "aggregate",
            LndRecords::Model => "model",
        }
    }
}

/// The graph `dmc serve` uses by default: the shipped mainnet snapshot,
/// looked up in the current folder, then in the source tree dmc was built from.
pub fn default_graph() -> PathBuf {
    let rel = Path::new("data").join("mainnet-2026-02-03.describegraph.json.gz");
    if rel.exists() {
        return rel;
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(&rel);
    if built.exists() {
        built
    } else {
        rel
    }
}

impl ServerConfig {
    /// The defaults (those of `dmc serve` with no file, variable or flag), keeping state in `data_dir`.
    pub fn with_data_dir(data_dir: PathBuf) -> Self {
        ServerConfig {
            data_dir,
            grpc_listen: "127.0.0.1:50050".parse().expect("literal"),
            rest_listen: "127.0.0.1:8081".parse().expect("literal"),
            tls_cert: None,
            tls_key: None,
            no_tls: false,
            staleness_window: DurationNs::from_hours(168),
            cleanup_interval: DurationNs::HOUR,
            future_skew: DurationNs::from_mins(10),
            accept_unsigned: true,
            signature_window: DurationNs::from_mins(10),
            max_body_bytes: 8 << 20,
            max_pairs_per_request: 50_000,
            requests_per_minute: 60,
            query_batch_size: 4600,
            database_url: None,
            graph: Some(default_graph()),
            min_reporter_capacity_sat: 1_000_000,
            weight_established: 1.0,
            weight_unverified: 0.1,
            weight_anonymous: 0.01,
            min_serving_weight: 1.0,
            failure_corroboration: 2.0,
            reputation_interval: DurationNs::from_mins(10),
            max_unverified_observations: 1_000_000,
            fresh_store: false,
            max_observations_per_reporter: 500_000,
            max_observations: 50_000_000,
            max_connections: 1024,
            max_connections_per_ip: 64,
            tls_handshake_timeout: 10 * SECOND,
            header_read_timeout: 10 * SECOND,
            body_read_timeout: 60 * SECOND,
            idle_timeout: 60 * SECOND,
            http2_keepalive_interval: 20 * SECOND,
            http2_keepalive_timeout: 20 * SECOND,
            max_concurrent_streams: 64,
            grpc_request_timeout: 60 * SECOND,
            lnd_records: LndRecords::Aggregate,
        }
    }

    /// The aggregation parameters these settings give.
    pub fn aggregation_params(&self) -> dmc_core::aggregate::AggregationParams {
        dmc_core::aggregate::AggregationParams {
            weights: dmc_core::aggregate::ClassWeights {
                established: self.weight_established,
                unverified: self.weight_unverified,
                anonymous: if self.accept_unsigned {
                    self.weight_anonymous
                } else {
                    0.0
                },
            },
            min_serving_weight: self.min_serving_weight,
            failure_corroboration: self.failure_corroboration,
            ..Default::default()
        }
    }

    /// Checks combinations that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.no_tls && !(self.grpc_listen.ip().is_loopback() && self.rest_listen.ip().is_loopback()) {
            return Err(ConfigError::Invalid(format!(
                "no_tls: plain text is allowed only on loopback, but listening on {} and {}",
                self.grpc_listen, self.rest_listen
            )));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert and tls_key: give both or neither".into(),
            ));
        }
        for (name, d) in [
            ("staleness_window", self.staleness_window),
            ("cleanup_interval", self.cleanup_interval),
            ("signature_window", self.signature_window),
            ("reputation_interval", self.reputation_interval),
            ("tls_handshake_timeout", self.tls_handshake_timeout),
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("idle_timeout", self.idle_timeout),
            ("http2_keepalive_interval", self.http2_keepalive_interval),
            ("http2_keepalive_timeout", self.http2_keepalive_timeout),
            ("grpc_request_timeout", self.grpc_request_timeout),
        ] {
            if d <= DurationNs::ZERO {
                return Err(ConfigError::Invalid(format!("{name}: must be positive")));
            }
        }
        if self.future_skew.is_negative() {
            return Err(ConfigError::Invalid("future_skew: must not be negative".into()));
        }
        if self.max_pairs_per_request == 0 || self.query_batch_size == 0 || self.requests_per_minute == 0 {
            return Err(ConfigError::Invalid(
                "max_pairs_per_request, query_batch_size and requests_per_minute must be at least 1".into(),
            ));
        }
        if let Some(url) = &self.database_url {
            dmc_store::postgres::parse_url(url).map_err(|e| ConfigError::DatabaseUrl(e.to_string()))?;
        }
        if self.max_connections == 0 || self.max_connections_per_ip == 0 || self.max_concurrent_streams == 0 {
            return Err(ConfigError::Invalid(
                "max_connections, max_connections_per_ip and max_concurrent_streams must be at least 1".into(),
            ));
        }
        if self.http2_keepalive_interval >= self.idle_timeout {
            // gRPC connections are idle when nothing is read from them; a
            // live client's answers to keep-alive pings must come sooner.
            return Err(ConfigError::Invalid(format!(
                "http2_keepalive_interval ({}s) must be shorter than idle_timeout ({}s)",
                self.http2_keepalive_interval.as_nanos() as f64 / SECOND.as_nanos() as f64,
                self.idle_timeout.as_nanos() as f64 / SECOND.as_nanos() as f64
            )));
        }
        for (name, w) in [
            ("weight_established", self.weight_established),
            ("weight_unverified", self.weight_unverified),
            ("weight_anonymous", self.weight_anonymous),
            ("min_serving_weight", self.min_serving_weight),
            ("failure_corroboration", self.failure_corroboration),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(ConfigError::Invalid(format!("{name}: {w} is not a number ≥ 0")));
            }
        }
        if self.weight_established <= 0.0 {
            return Err(ConfigError::Invalid(
                "weight_established: must be above 0 (established reporters are the aggregate)".into(),
            ));
        }
        Ok(())
    }

    /// Where the generated certificate lives, as lnd keeps it.
    pub fn default_cert_path(&self) -> PathBuf {
        self.data_dir.join("tls.cert")
    }

    /// Where the generated certificate's private key lives.
    pub fn default_key_path(&self) -> PathBuf {
        self.data_dir.join("tls.key")
    }

    /// Applies a TOML file's values over this config.
    pub fn apply_toml(&mut self, text: &str) -> Result<(), ConfigError> {
        let f: FileConfig = toml::from_str(text)?;
        let dur = |v: Option<String>, field: &'static str| -> Result<Option<DurationNs>, ConfigError> {
            v.map(|s| parse_go_duration(&s).map_err(|source| ConfigError::Duration { field, source }))
                .transpose()
        };
        let addr = |v: Option<String>, field: &'static str| -> Result<Option<SocketAddr>, ConfigError> {
            v.map(|s| s.parse().map_err(|_| ConfigError::Address { field, value: s }))
                .transpose()
        };
        if let Some(v) = addr(f.grpc_listen, "grpc_listen")? {
            self.grpc_listen = v;
        }
        if let Some(v) = addr(f.rest_listen, "rest_listen")? {
            self.rest_listen = v;
        }
        if f.tls_cert.is_some() {
            self.tls_cert = f.tls_cert;
        }
        if f.tls_key.is_some() {
            self.tls_key = f.tls_key;
        }
        if let Some(v) = f.no_tls {
            self.no_tls = v;
        }
        if let Some(v) = dur(f.staleness_window, "staleness_window")? {
            self.staleness_window = v;
        }
        if let Some(v) = dur(f.cleanup_interval, "cleanup_interval")? {
            self.cleanup_interval = v;
        }
        if let Some(v) = dur(f.future_skew, "future_skew")? {
            self.future_skew = v;
        }
        if let Some(v) = f.accept_unsigned {
            self.accept_unsigned = v;
        }
        if let Some(v) = dur(f.signature_window, "signature_window")? {
            self.signature_window = v;
        }
        if let Some(v) = f.max_body_bytes {
            self.max_body_bytes = v;
        }
        if let Some(v) = f.max_pairs_per_request {
            self.max_pairs_per_request = v;
        }
        if let Some(v) = f.requests_per_minute {
            self.requests_per_minute = v;
        }
        if let Some(v) = f.query_batch_size {
            self.query_batch_size = v;
        }
        if f.database_url.is_some() {
            self.database_url = f.database_url;
        }
        if let Some(g) = f.graph {
            self.graph = parse_graph_setting(&g);
        }
        if let Some(v) = f.min_reporter_capacity_sat {
            self.min_reporter_capacity_sat = v;
        }
        for (v, slot) in [
            (f.weight_established, &mut self.weight_established),
            (f.weight_unverified, &mut self.weight_unverified),
            (f.weight_anonymous, &mut self.weight_anonymous),
            (f.min_serving_weight, &mut self.min_serving_weight),
            (f.failure_corroboration, &mut self.failure_corroboration),
        ] {
            if let Some(v) = v {
                *slot = v;
            }
        }
        if let Some(v) = dur(f.reputation_interval, "reputation_interval")? {
            self.reputation_interval = v;
        }
        if let Some(v) = f.max_unverified_observations {
            self.max_unverified_observations = v;
        }
        if let Some(v) = f.max_observations_per_reporter {
            self.max_observations_per_reporter = v;
        }
        if let Some(v) = f.max_observations {
            self.max_observations = v;
        }
        if let Some(v) = f.max_connections {
            self.max_connections = v;
        }
        if let Some(v) = f.max_connections_per_ip {
            self.max_connections_per_ip = v;
        }
        if let Some(v) = f.max_concurrent_streams {
            self.max_concurrent_streams = v;
        }
        for (v, name, slot) in [
            (
                f.tls_handshake_timeout,
                "tls_handshake_timeout",
                &mut self.tls_handshake_timeout,
            ),
            (
                f.header_read_timeout,
                "header_read_timeout",
                &mut self.header_read_timeout,
            ),
            (f.body_read_timeout, "body_read_timeout", &mut self.body_read_timeout),
            (f.idle_timeout, "idle_timeout", &mut self.idle_timeout),
            (
                f.http2_keepalive_interval,
                "http2_keepalive_interval",
                &mut self.http2_keepalive_interval,
            ),
            (
                f.http2_keepalive_timeout,
                "http2_keepalive_timeout",
                &mut self.http2_keepalive_timeout,
            ),
            (
                f.grpc_request_timeout,
                "grpc_request_timeout",
                &mut self.grpc_request_timeout,
            ),
        ] {
            if let Some(v) = dur(v, name)? {
                *slot = v;
            }
        }
        if let Some(v) = f.aggregation.and_then(|a| a.lnd_records) {
            self.lnd_records = LndRecords::parse(&v)?;
        }
        Ok(())
    }
}

/// The TOML file's shape; every key optional, unknown keys refused.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    grpc_listen: Option<String>,
    rest_listen: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    no_tls: Option<bool>,
    staleness_window: Option<String>,
    cleanup_interval: Option<String>,
    future_skew: Option<String>,
    accept_unsigned: Option<bool>,
    signature_window: Option<String>,
    max_body_bytes: Option<usize>,
    max_pairs_per_request: Option<usize>,
    requests_per_minute: Option<u32>,
    query_batch_size: Option<usize>,
    database_url: Option<String>,
    graph: Option<String>,
    min_reporter_capacity_sat: Option<u64>,
    weight_established: Option<f64>,
    weight_unverified: Option<f64>,
    weight_anonymous: Option<f64>,
    min_serving_weight: Option<f64>,
    failure_corroboration: Option<f64>,
    reputation_interval: Option<String>,
    max_unverified_observations: Option<u64>,
    max_observations_per_reporter: Option<u64>,
    max_observations: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    tls_handshake_timeout: Option<String>,
    header_read_timeout: Option<String>,
    body_read_timeout: Option<String>,
    idle_timeout: Option<String>,
    http2_keepalive_interval: Option<String>,
    http2_keepalive_timeout: Option<String>,
    max_concurrent_streams: Option<u32>,
    grpc_request_timeout: Option<String>,
    aggregation: Option<AggregationSection>,
}

/// The file's `[aggregation]` table.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AggregationSection {
    /// `"aggregate"` or `"model"` ([`LndRecords`]).
    lnd_records: Option<String>,
}

/// `none` (any case) turns the graph off; anything else is a file.
pub fn parse_graph_setting(s: &str) -> Option<PathBuf> {
    if s.trim().eq_ignore_ascii_case("none") {
        None
    } else {
        Some(PathBuf::from(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_bad_keys_are_named() {
        let mut c = ServerConfig::with_data_dir("d".into());
        c.apply_toml("staleness_window = \"24h\"\nrest_listen = \"127.0.0.1:9000\"\naccept_unsigned = false\n")
            .unwrap();
        assert_eq!(c.staleness_window, DurationNs(24 * 3_600_000_000_000));
        assert_eq!(c.rest_listen.port(), 9000);
        assert!(!c.accept_unsigned);
        let e = c.apply_toml("stalenes_window = \"1h\"").unwrap_err();
        assert!(e.to_string().contains("stalenes_window"), "{e}");
        let e = c.apply_toml("future_skew = \"soon\"").unwrap_err();
        assert!(e.to_string().contains("future_skew"), "{e}");
        c.no_tls = true;
        c.grpc_listen = "0.0.0.0:1".parse().unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("loopback"));
    }

    #[test]
    fn database_url_from_the_file_is_checked() {
        let mut c = ServerConfig::with_data_dir("d".into());
        c.apply_toml("database_url = \"postgres://dmc@127.0.0.1:5432/coord\"\n")
            .unwrap();
        assert_eq!(c.database_url.as_deref(), Some("postgres://dmc@127.0.0.1:5432/coord"));
        assert_eq!(c.validate(), Ok(()));
        c.database_url = Some("postgres://dmc:s3cret@host:port/x".into());
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("database_url") && !e.contains("s3cret"), "{e}");
    }

    #[test]
    fn lnd_records_from_the_aggregation_table() {
        let mut c = ServerConfig::with_data_dir("d".into());
        assert_eq!(c.lnd_records, LndRecords::Aggregate, "the default");
        c.apply_toml("[aggregation]\nlnd_records = \"model\"\n").unwrap();
        assert_eq!(c.lnd_records, LndRecords::Model);
        let e = c
            .apply_toml("[aggregation]\nlnd_records = \"both\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lnd_records") && e.contains("both"), "{e}");
        let e = c
            .apply_toml("[aggregation]\nlnd_record = \"model\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lnd_record"), "unknown keys are refused: {e}");
    }

    #[test]
    fn graph_and_weights_from_the_file() {
        let mut c = ServerConfig::with_data_dir("d".into());
        c.apply_toml("graph = \"none\"\nmin_serving_weight = 0\nweight_unverified = 0.5\n")
            .unwrap();
        assert_eq!(
            (c.graph.clone(), c.min_serving_weight, c.weight_unverified),
            (None, 0.0, 0.5)
        );
        assert_eq!(c.validate(), Ok(()));
        c.apply_toml("graph = \"g.json\"\n").unwrap();
        assert_eq!(c.graph, Some(PathBuf::from("g.json")));
        c.weight_anonymous = f64::NAN;
        assert!(c.validate().unwrap_err().to_string().contains("weight_anonymous"));
        c.weight_anonymous = 0.01;
        c.accept_unsigned = false;
        assert_eq!(c.aggregation_params().weights.anonymous, 0.0, "--require-signatures");
    }

    #[test]
    fn connection_limits_from_the_file() {
        let mut c = ServerConfig::with_data_dir("d".into());
        c.apply_toml(
            "max_connections = 10\nmax_connections_per_ip = 2\nheader_read_timeout = \"2s\"\n\
             body_read_timeout = \"1m\"\nidle_timeout = \"90s\"\nmax_concurrent_streams = 8\n\
             tls_handshake_timeout = \"5s\"\ngrpc_request_timeout = \"30s\"\n\
             http2_keepalive_interval = \"30s\"\nhttp2_keepalive_timeout = \"10s\"\n",
        )
        .unwrap();
        assert_eq!(
            (c.max_connections, c.max_connections_per_ip, c.max_concurrent_streams),
            (10, 2, 8)
        );
        assert_eq!(
            (c.header_read_timeout, c.body_read_timeout, c.idle_timeout),
            (2 * SECOND, 60 * SECOND, 90 * SECOND)
        );
        assert_eq!(c.validate(), Ok(()));
        let e = c.apply_toml("idle_timeout = \"soon\"").unwrap_err();
        assert!(e.to_string().contains("idle_timeout"), "{e}");
        c.max_connections_per_ip = 0;
        assert!(c.validate().unwrap_err().to_string().contains("max_connections_per_ip"));
        c.max_connections_per_ip = 2;
        c.idle_timeout = 30 * SECOND;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("http2_keepalive_interval"));
        c.idle_timeout = DurationNs::ZERO;
        assert!(c.validate().unwrap_err().to_string().contains("idle_timeout"));
    }
}
