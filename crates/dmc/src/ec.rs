//! `dmc serve`, `dmc ec ...` and `dmc admin ...`: wiring of the coordinator
//! and its clients.

use std::path::{Path, PathBuf};

use dmc_core::aggregate::Reporter;
use dmc_core::json::Json;
use dmc_core::rpc;
use dmc_core::time::DurationNs;
use dmc_core::Timestamp;
use dmc_server::ServerConfig;

use crate::args::{input, read_input, CliError, Result};
use crate::cli::{AdminCommand, EcCommand, EcFormat, ServeArgs};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Runtime(format!("starting the async runtime: {e}")))
}

/// Builds the server config: defaults, then the TOML file, then env/flags.
pub fn server_config(data_dir: &Path, a: &ServeArgs) -> Result<ServerConfig> {
    let mut cfg = ServerConfig::with_data_dir(data_dir.to_path_buf());
    let file = a
        .config
        .clone()
        .or_else(|| Some(data_dir.join("dmc.toml")).filter(|p| p.exists()));
    if let Some(f) = file {
        let text = std::fs::read_to_string(&f).or_else(|e| input(format!("--config: {}: {e}", f.display())))?;
        cfg.apply_toml(&text)
            .or_else(|e| input(format!("{}: {e}", f.display())))?;
    }
    if let Some(addr) = a.grpc_listen {
        cfg.grpc_listen = addr;
    }
    if let Some(addr) = a.rest_listen {
        cfg.rest_listen = addr;
    }
    if a.tls_cert.is_some() {
        cfg.tls_cert = a.tls_cert.clone();
    }
    if a.tls_key.is_some() {
        cfg.tls_key = a.tls_key.clone();
    }
    cfg.no_tls |= a.no_tls;
    cfg.fresh_store |= a.fresh_store;
    if a.require_signatures {
        cfg.accept_unsigned = false;
    }
    if let Some(d) = a.staleness_window {
        cfg.staleness_window = d;
    }
    if let Some(d) = a.future_skew {
        cfg.future_skew = d;
    }
    if let Some(n) = a.max_pairs_per_request {
        cfg.max_pairs_per_request = n as usize;
    }
    if let Some(n) = a.requests_per_minute {
        cfg.requests_per_minute = n;
    }
    if a.database_url.is_some() {
        cfg.database_url = a.database_url.clone();
    }
    if let Some(n) = a.max_connections {
        cfg.max_connections = n as usize;
    }
    if let Some(n) = a.max_connections_per_ip {
        cfg.max_connections_per_ip = n as usize;
    }
    if let Some(n) = a.max_concurrent_streams {
        cfg.max_concurrent_streams = n;
    }
    for (v, slot) in [
        (a.tls_handshake_timeout, &mut cfg.tls_handshake_timeout),
        (a.header_read_timeout, &mut cfg.header_read_timeout),
        (a.body_read_timeout, &mut cfg.body_read_timeout),
        (a.idle_timeout, &mut cfg.idle_timeout),
        (a.http2_keepalive_interval, &mut cfg.http2_keepalive_interval),
        (a.http2_keepalive_timeout, &mut cfg.http2_keepalive_timeout),
        (a.grpc_request_timeout, &mut cfg.grpc_request_timeout),
    ] {
        if let Some(d) = v {
            *slot = d;
        }
    }
    if let Some(g) = &a.graph {
        if g.trim().is_empty() {
            return input("--graph: empty (give a file, or none)");
        }
        cfg.graph = dmc_server::config::parse_graph_setting(g);
    }
    if let Some(n) = a.min_reporter_capacity_sat {
        cfg.min_reporter_capacity_sat = n;
    }
    for (v, slot) in [
        (a.min_serving_weight, &mut cfg.min_serving_weight),
        (a.failure_corroboration, &mut cfg.failure_corroboration),
        (a.weight_established, &mut cfg.weight_established),
        (a.weight_unverified, &mut cfg.weight_unverified),
        (a.weight_anonymous, &mut cfg.weight_anonymous),
    ] {
        if let Some(w) = v {
            *slot = w;
        }
    }
    if let Some(v) = &a.lnd_records {
        cfg.lnd_records = dmc_server::config::LndRecords::parse(v)
            .or_else(|_| input(format!("--lnd-records: {v:?} is neither aggregate nor model")))?;
    }
    cfg.validate().or_else(|e| input(e.to_string()))?;
    Ok(cfg)
}

pub fn serve(data_dir: &Path, a: &ServeArgs) -> Result<()> {
    let cfg = server_config(data_dir, a)?;
    init_logging(a.log_json);
    let rt = runtime()?;
    rt.block_on(async move {
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
        };
        dmc_server::serve(
            cfg,
            |b| {
                // One line on stdout, for scripts and tests to read the ports.
                println!("listening grpc={} rest={}", b.grpc, b.rest);
            },
            shutdown,
        )
        .await
    })
    .map_err(|e| CliError::Runtime(e.to_string()))
}

/// Structured logs on stderr: key=value text, or JSON lines.
fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DMC_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The coordinator as dmc-client reaches it (`dmc sync` too): `cert`
/// pinned when given, public CAs otherwise.
fn coordinator(ec: &str, cert: Option<PathBuf>) -> dmc_client::CoordinatorOptions {
    dmc_client::CoordinatorOptions {
        url: ec.to_string(),
        tls_cert: cert,
        tls_cert_flag: "--tls-cert",
    }
}

/// A connection failure: a flag or file to fix is bad input.
fn connect_error(e: dmc_client::Error) -> CliError {
    if e.needs_operator() {
        CliError::Input(e.message)
    } else {
        CliError::Runtime(e.message)
    }
}

fn grpc_error(e: tonic::Status) -> CliError {
    match e.code() {
        tonic::Code::InvalidArgument | tonic::Code::Unauthenticated | tonic::Code::ResourceExhausted => {
            CliError::Input(format!("coordinator refused: {:?}: {}", e.code(), e.message()))
        }
        _ => CliError::Runtime(format!("coordinator: {:?}: {}", e.code(), e.message())),
    }
}

pub fn client(data_dir: &Path, now: Timestamp, cmd: EcCommand) -> Result<()> {
    // The certificate to pin: --tls-cert, else the local server's when there
    // is one (<data-dir>/tls.cert), else none (a coordinator with a public CA's).
    let default_cert = |c: Option<PathBuf>| c.or_else(|| Some(data_dir.join("tls.cert")).filter(|p| p.exists()));
    match cmd {
        EcCommand::Register {
            file,
            ec,
            tls_cert,
            sign_key,
            successes_only,
            rebase_times,
        } => {
            let text = read_input(&file, "--file")?;
            let mut pairs = rpc::parse_query_mc_json(&text).or_else(|e| input(format!("{}: {e}", file.display())))?;
            if rebase_times {
                let newest = pairs
                    .iter()
                    .map(|p| p.history.fail_time.max(p.history.success_time))
                    .max()
                    .unwrap_or(0);
                if newest > 0 {
                    rpc::shift_times(
                        &mut pairs,
                        DurationNs((now.unix_secs() - newest).saturating_mul(1_000_000_000)),
                    );
                }
            }
            rpc::sanitize_loadmc(&mut pairs);
            let key = sign_key.as_deref().map(crate::args::sign_key).transpose()?;
            let cert = default_cert(tls_cert);
            runtime()?.block_on(async {
                let opts = coordinator(&ec, cert);
                let ch = dmc_client::channel(&opts).await.map_err(connect_error)?;
                match key {
                    None => {
                        if successes_only {
                            return input("--successes-only needs --sign-key (the v2 API)");
                        }
                        let mut c = dmc_client::EcrpcClient::new(ch);
                        println!("{}", c.register(&pairs).await.map_err(grpc_error)?);
                    }
                    Some(sk) => {
                        let secp = secp256k1::Secp256k1::signing_only();
                        let reporter = secp256k1::PublicKey::from_secret_key(&secp, &sk).serialize();
                        let body =
                            dmc_client::v2::registration_body(&reporter, now.unix_secs(), &pairs, successes_only);
                        let signature = dmc_core::signmsg::sign_message(&sk, &body);
                        let mut c = dmc_client::V2Client::new(opts.trimmed_url(), ch);
                        let r = c.call_register(body, signature).await.map_err(grpc_error)?;
                        println!(
                            "{}",
                            Json::object([
                                ("accepted", Json::int32(r.accepted)),
                                ("stale_dropped", Json::int32(r.stale_dropped)),
                                ("cursor", Json::int64(r.cursor)),
                                ("message", Json::str(r.message)),
                            ])
                            .pretty()
                        );
                    }
                }
                Ok(())
            })
        }
        EcCommand::Query {
            ec,
            tls_cert,
            since,
            format,
        } => {
            let cert = default_cert(tls_cert);
            runtime()?.block_on(async {
                let mut c = dmc_client::V2Client::connect(&coordinator(&ec, cert))
                    .await
                    .map_err(connect_error)?;
                let delta = c.call_query(since).await.map_err(grpc_error)?;
                match format {
                    EcFormat::Lnd => {
                        let items: Vec<Json> = delta.pairs.iter().map(|p| p.pair.to_json()).collect();
                        println!("{}", Json::object([("pairs", Json::Array(items))]).pretty());
                        eprintln!("cursor {}", delta.cursor);
                    }
                    EcFormat::Json => {
                        let items: Vec<Json> = delta
                            .pairs
                            .iter()
                            .map(|p| {
                                Json::object([
                                    ("node_from", Json::str(dmc_core::node::encode_hex(&p.pair.node_from))),
                                    ("node_to", Json::str(dmc_core::node::encode_hex(&p.pair.node_to))),
                                    ("history", p.pair.history.to_json()),
                                    ("reporters", Json::int32(p.reporters)),
                                    ("reporters_unverified", Json::int32(p.reporters_unverified)),
                                    ("reporters_anonymous", Json::int32(p.reporters_anonymous)),
                                    ("age_seconds", Json::int64(p.age_seconds)),
                                ])
                            })
                            .collect();
                        let removed: Vec<Json> = delta
                            .removed
                            .iter()
                            .map(|(from, to)| {
                                Json::object([
                                    ("node_from", Json::str(dmc_core::node::encode_hex(from))),
                                    ("node_to", Json::str(dmc_core::node::encode_hex(to))),
                                ])
                            })
                            .collect();
                        println!(
                            "{}",
                            Json::object([
                                ("pairs", Json::Array(items)),
                                ("removed", Json::Array(removed)),
                                ("cursor", Json::int64(delta.cursor)),
                                ("full_resync", Json::bool(delta.full_resync)),
                            ])
                            .pretty()
                        );
                    }
                }
                Ok(())
            })
        }
    }
}

pub fn admin(data_dir: &Path, cmd: AdminCommand) -> Result<()> {
    match cmd {
        AdminCommand::ForgetReporter {
            reporter,
            ban,
            rest,
            database_url,
        } => {
            let r = Reporter::parse(&reporter).map_err(|e| CliError::Input(format!("REPORTER: {e}")))?;
            let store: Box<dyn dmc_store::coordinator::CoordinatorStore> = match database_url {
                // Safe while replicas run: writes take the database's write lock.
                Some(url) => {
                    dmc_store::postgres::parse_url(&url).map_err(|e| CliError::Input(e.to_string()))?;
                    Box::new(
                        dmc_store::postgres::PostgresCoordinatorStore::open(&url)
                            .map_err(|e| CliError::Runtime(e.to_string()))?,
                    )
                }
                None => {
                    let path = data_dir.join(dmc_server::STORE_FILE);
                    // The server has the file open: ask it.
                    if dmc_store::coordinator::salvage::held_by_a_server(&path) {
                        let addr = rest.unwrap_or_else(|| "127.0.0.1:8081".into());
                        let body = Json::object([("reporter", Json::str(&reporter)), ("ban", Json::bool(ban))]);
                        let v = admin_over_rest(data_dir, &addr, "POST", "forget-reporter", Some(body.compact()))?;
                        println!(
                            "forgot {} observations of {r}{} (through the running server)",
                            v["forgotten"],
                            if ban { "; banned" } else { "" }
                        );
                        return Ok(());
                    }
                    Box::new(
                        dmc_store::coordinator::RedbCoordinatorStore::open(&path)
                            .map_err(|e| CliError::Runtime(e.to_string()))?,
                    )
                }
            };
            if ban {
                store.ban_reporter(r).map_err(|e| CliError::Runtime(e.to_string()))?;
            }
            let n = store.forget_reporter(r).map_err(|e| CliError::Runtime(e.to_string()))?;
            println!("forgot {n} observations of {r}{}", if ban { "; banned" } else { "" });
            Ok(())
        }
        AdminCommand::Check { store, rest } => {
            use dmc_store::coordinator::salvage;
            let path = existing_store(store, data_dir)?;
            let report = match salvage::check_file(&path) {
                Ok(r) => r,
                Err(_) if salvage::held_by_a_server(&path) => {
                    let addr = rest.unwrap_or_else(|| "127.0.0.1:8081".into());
                    let v = admin_over_rest(data_dir, &addr, "GET", "check", None)?;
                    let entries = v["entries"].as_object().cloned().unwrap_or_default();
                    let problems: Vec<String> = v["problems"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    let total = v["problems_total"].as_u64().unwrap_or(problems.len() as u64);
                    let entries: Vec<String> = entries.iter().map(|(k, n)| format!("{k} {n}")).collect();
                    return print_check(&path, &entries, &problems, total, None, " (through the running server)");
                }
                Err(e) => return Err(CliError::Runtime(e.to_string())),
            };
            let entries: Vec<String> = report.entries.iter().map(|(k, n)| format!("{k} {n}")).collect();
            print_check(
                &path,
                &entries,
                &report.problems,
                report.problems_total,
                report.integrity,
                "",
            )
        }
        AdminCommand::Salvage { store, out } => {
            let path = existing_store(store, data_dir)?;
            let r = dmc_store::coordinator::salvage::salvage_file(&path, &out, dmc_server::STORE_FILE)
                .map_err(|e| CliError::Runtime(e.to_string()))?;
            let list = |m: &std::collections::BTreeMap<&str, u64>| {
                m.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
            };
            println!("salvaged into {}: {}", r.out.display(), list(&r.copied));
            if !r.refused.is_empty() {
                println!("left out as undecodable: {}", list(&r.refused));
            }
            if r.unreadable_ranges > 0 {
                println!("unreadable stretches skipped: {}", r.unreadable_ranges);
            }
            println!(
                "{} pairs served after recomputing; start `dmc serve --data-dir {}` (with your other flags), or move {} in place of {}",
                r.served_pairs,
                out.display(),
                r.out.display(),
                path.display()
            );
            Ok(())
        }
    }
}

/// The embedded store `--store` names (default `<data-dir>/coordinator.redb`), which must exist.
fn existing_store(store: Option<PathBuf>, data_dir: &Path) -> Result<PathBuf> {
    let path = store.unwrap_or_else(|| data_dir.join(dmc_server::STORE_FILE));
    if path.exists() {
        Ok(path)
    } else {
        Err(CliError::Input(format!("{}: no store there", path.display())))
    }
}

/// `dmc admin check`'s report; an error (non-zero exit) when anything is wrong.
fn print_check(
    path: &Path,
    entries: &[String],
    problems: &[String],
    total: u64,
    integrity: Option<bool>,
    how: &str,
) -> Result<()> {
    println!("{}{how}: {}", path.display(), entries.join(", "));
    match integrity {
        Some(true) => println!("pages: checksums verified"),
        Some(false) => println!("pages: damaged"),
        None => {}
    }
    for p in problems {
        println!("problem: {p}");
    }
    if (total as usize) > problems.len() {
        println!("... and {} more", total as usize - problems.len());
    }
    if total == 0 && integrity != Some(false) {
        println!("ok");
        Ok(())
    } else {
        Err(CliError::Runtime(format!(
            "{}: {total} problems{}: stop the server and run `dmc admin salvage --out DIR` to copy what is readable into a new store",
            path.display(),
            if integrity == Some(false) { ", damaged pages" } else { "" }
        )))
    }
}

/// `METHOD /v2/admin/ENDPOINT` to a running server, authenticated with
/// `<data-dir>/admin.token`, trusting `<data-dir>/tls.cert`; the JSON reply.
fn admin_over_rest(
    data_dir: &Path,
    addr: &str,
    method: &str,
    endpoint: &str,
    body: Option<String>,
) -> Result<serde_json::Value> {
    let token_file = data_dir.join(dmc_server::ADMIN_TOKEN_FILE);
    let token = std::fs::read_to_string(&token_file).map_err(|e| {
        CliError::Runtime(format!(
            "{}: {e} (is this the server's data dir?)",
            token_file.display()
        ))
    })?;
    let cert_file = data_dir.join("tls.cert");
    let pem = std::fs::read(&cert_file).map_err(|e| CliError::Runtime(format!("{}: {e}", cert_file.display())))?;
    let body = body.unwrap_or_default();
    let (method, endpoint) = (method.to_string(), endpoint.to_string());
    let addr = addr.trim_start_matches("https://").to_string();
    let target = addr.clone();
    let reply = runtime()?.block_on(async move {
        let addr = target;
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut &pem[..]) {
            let c = c.map_err(|e| format!("{}: {e}", cert_file.display()))?;
            roots.add(c).map_err(|e| format!("{}: {e}", cert_file.display()))?;
        }
        let cfg =
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(&addr).await.map_err(|e| {
            format!(
                "a running `dmc serve` holds the store open, but {addr} does not answer (pass its --rest address): {e}"
            )
        })?;
        let name = rustls::pki_types::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
        let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {addr}: {e}"))?;
        let req = format!(
            "{method} /v2/admin/{endpoint} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            token.trim(),
            body.len()
        );
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tls.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        let mut resp = Vec::new();
        // A server may close without TLS close_notify; what was read counts.
        let _ = tls.read_to_end(&mut resp).await;
        Ok::<_, String>(String::from_utf8_lossy(&resp).into_owned())
    });
    let reply = reply.map_err(CliError::Runtime)?;
    let (head, json) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap_or(serde_json::Value::Null);
    if status != "200" {
        let msg = v["error"]
            .as_str()
            .unwrap_or(head.lines().next().unwrap_or("no answer"));
        return Err(CliError::Runtime(format!("{addr}: admin: {msg}")));
    }
    Ok(v)
}
