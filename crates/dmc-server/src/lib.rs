//! # dmc-server: the coordinator
//!
//! Nodes register what their mission control learned; wallets download the
//! merged result. Wire-compatible with the Go External Coordinator
//! (`ecrpc.ExternalCoordinator` over gRPC and its grpc-gateway REST paths),
//! and beyond it: per-reporter provenance with signed (v2) registrations,
//! time sanity, incremental sync with cursors, a cached compressed snapshot
//! with an ETag, limits, TLS by default, `/healthz` and `/metrics`.
//!
//! * [`coordinator`]: behaviour, independent of transport;
//! * [`signed`]: the signed registration body both transports receive;
//! * [`grpc`] (`ecrpc`, `v2`) and [`rest`] (`v1`, `v2`, `ops`): the
//!   transports, by protocol; [`encode`]: the snapshot's wire renderings;
//! * [`limits`], [`transport`]: the listeners, their connection caps and timeouts;
//! * [`config`], [`tls`]: how it is started.
//!
//! Dependencies point one way: the transports use [`signed`], [`encode`]
//! and the coordinator; `signed` and `encode` use the coordinator; the
//! coordinator uses none of them (nor `limits`), only `config` and
//! `standing`.

pub mod base64;
pub mod config;
pub mod coordinator;
pub mod encode;
pub mod grpc;
pub mod limits;
pub mod rest;
pub mod signed;
pub mod standing;
pub mod tls;
pub mod transport;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dmc_store::coordinator::{CoordinatorStore, RedbCoordinatorStore};
use dmc_store::postgres::PostgresCoordinatorStore;

pub use config::ServerConfig;
pub use coordinator::{system_clock, Coordinator};

/// File name of the coordinator's embedded store in the data dir.
pub const STORE_FILE: &str = "coordinator.redb";

/// Why `dmc serve` could not start or stopped with an error. Each names
/// what failed; the CLI prints it as it is.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is invalid; fix the setting it names.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The store could not be opened or migrated (file, permissions, `database_url`).
    #[error("{0}")]
    Store(#[from] dmc_store::StoreError),
    /// The TLS certificate or key could not be read, generated or used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The admin token in the data dir could not be read or created.
    #[error(transparent)]
    AdminToken(#[from] AdminTokenError),
    #[error("{0} (give --graph FILE with `lncli describegraph` or CLN `listchannels` output, or --graph none)")]
    /// The `--graph` file did not load.
    Graph(#[from] standing::GraphLoadError),
    /// The store refused to recompute the pairs with a new graph.
    #[error("{}", .0.message())]
    Policy(coordinator::ApiError),
    /// The store's records could not be read to seed the liquidity model.
    #[error("seeding the liquidity model from the store: {}", .0.message())]
    Liquidity(coordinator::ApiError),
    /// A blocking start-up task (`what`: "opening the store", "loading the graph") panicked.
    #[error("{what}: {source}")]
    Task {
        /// The start-up step that panicked.
        what: &'static str,
        /// The panic, as the runtime reports it.
        source: tokio::task::JoinError,
    },
    /// `setting` is `grpc_listen` or `rest_listen`.
    #[error("{setting} {addr}: {source}")]
    Bind {
        /// The setting that gave the address.
        setting: &'static str,
        /// The address that could not be bound (in use, or not local).
        addr: SocketAddr,
        /// The operating system's refusal.
        source: std::io::Error,
    },
    /// A bound socket could not report its own address.
    #[error("{0}")]
    LocalAddr(std::io::Error),
    /// The gRPC server stopped with an error while serving.
    #[error("grpc server: {0}")]
    Grpc(#[from] tonic::transport::Error),
}

/// Where the servers ended up listening (ports may have been 0).
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    /// The gRPC listener's address.
    pub grpc: SocketAddr,
    /// The REST listener's address.
    pub rest: SocketAddr,
}

/// Opens the configured store: PostgreSQL when `database_url` is set (its
/// schema migrated), else the embedded file in the data dir. Blocking.
pub fn open_store(config: &ServerConfig) -> Result<Arc<dyn CoordinatorStore>, dmc_store::StoreError> {
    Ok(match &config.database_url {
        Some(url) => {
            let s = PostgresCoordinatorStore::open(url)?;
            tracing::info!(database = %s.target(), "coordinator store: PostgreSQL");
            Arc::new(s)
        }
        None => {
            let path = config.data_dir.join(STORE_FILE);
            match RedbCoordinatorStore::open(&path) {
                Ok(s) => Arc::new(s),
                // A store held by a running server is not damaged: never set it aside.
                Err(e) if config.fresh_store && !matches!(e, dmc_store::StoreError::Locked(_)) => {
                    let now = system_clock()().unix_secs();
                    let aside = dmc_store::coordinator::set_aside(&path, now)?;
                    tracing::warn!(
                        error = %e,
                        kept_at = %aside.map_or("(nothing)".into(), |p| p.display().to_string()),
                        "--fresh-store: the store could not be opened; it was set aside and a new one begun"
                    );
                    Arc::new(RedbCoordinatorStore::open(&path)?)
                }
                Err(e) => return Err(e),
            }
        }
    })
}

/// File of the admin endpoints' bearer token in the data dir.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Why the admin token could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    /// The token file holds fewer than 32 characters; delete it and restart to make a new one.
    #[error("{}: too short to be an admin token; delete it to make a new one", .0.display())]
    TooShort(std::path::PathBuf),
    /// Reading the token, the random source, or writing a new token.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file that failed: the token, `/dev/urandom` or the data dir.
        path: std::path::PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// The admin token: read from `<data-dir>/admin.token`, or created there on
/// first start (32 random bytes as hex, mode 0600, as lnd guards its admin
/// macaroon).
pub fn admin_token(data_dir: &std::path::Path) -> Result<String, AdminTokenError> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let io = |p: &std::path::Path| {
        let path = p.to_path_buf();
        move |source| AdminTokenError::Io { path, source }
    };
    match std::fs::read_to_string(&path) {
        Ok(t) if t.trim().len() >= 32 => return Ok(t.trim().to_string()),
        Ok(_) => return Err(AdminTokenError::TooShort(path)),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path)(e)),
        Err(_) => {}
    }
    let urandom = std::path::Path::new("/dev/urandom");
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(&mut std::fs::File::open(urandom).map_err(io(urandom))?, &mut bytes)
        .map_err(io(urandom))?;
    let token = dmc_core::node::encode_hex(&bytes);
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&path).map_err(io(&path))?;
    std::io::Write::write_all(&mut f, format!("{token}\n").as_bytes()).map_err(io(&path))?;
    Ok(token)
}

/// Loads the configured graph (`None` with `--graph none`). Blocking.
pub fn load_graph(config: &ServerConfig) -> Result<Option<Arc<standing::ServerGraph>>, ServeError> {
    let Some(path) = &config.graph else { return Ok(None) };
    Ok(Some(Arc::new(standing::ServerGraph::load(
        path,
        config.min_reporter_capacity_sat,
    )?)))
}

/// Loads the configured graph and recomputes every pair with it (at start
/// and on SIGHUP). Blocking. Returns how many served pairs changed.
fn apply_graph(c: &Coordinator) -> Result<usize, ServeError> {
    let graph = load_graph(&c.config)?;
    c.set_graph(graph).map_err(ServeError::Policy)
}

fn log_graph(c: &Coordinator, changed: usize, started: std::time::Instant) {
    match c.graph() {
        Some(g) => tracing::info!(
            file = %g.path.display(),
            nodes = g.node_count(),
            channels = g.channel_count(),
            established_nodes = g.established_count(),
            graph_date = %c.graph_age().map_or("unknown".into(), |(t, _)| standing::utc_date(t)),
            pairs_changed = changed,
            millis = started.elapsed().as_millis() as u64,
            "graph loaded"
        ),
        None => tracing::warn!(
            pairs_changed = changed,
            "no graph (--graph none): every signed key counts as established, no channel is checked"
        ),
    }
}

/// Raises the soft open-file limit towards the hard one (as Go's runtime
/// does), so that the connection caps, not `EMFILE`, bind first; warns if
/// it stays below `wanted`.
fn raise_open_file_limit(wanted: usize) {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let mut l = getrlimit(Resource::Nofile);
        let soft = l.current.unwrap_or(u64::MAX);
        if soft < wanted as u64 && l.current != l.maximum {
            l.current = l.maximum;
            if let Err(e) = setrlimit(Resource::Nofile, l) {
                tracing::debug!(error = %e, "raising the open-file limit failed");
            }
        }
        let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
        if soft < wanted as u64 {
            tracing::warn!(
                open_files = soft,
                wanted,
                "the open-file limit is below both listeners' max_connections: connections beyond it fail on accept"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = wanted;
}

/// Opens the store and runs both servers until `shutdown` resolves.
/// `on_bound` is called once both sockets are listening.
pub async fn serve(
    config: ServerConfig,
    on_bound: impl FnOnce(Bound),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    config.validate()?;
    // The PostgreSQL client blocks: never on an async worker.
    let store = {
        let c = config.clone();
        tokio::task::spawn_blocking(move || open_store(&c))
            .await
            .map_err(|source| ServeError::Task {
                what: "opening the store",
                source,
            })??
    };
    let tls = if config.no_tls {
        None
    } else {
        let cert = config.tls_cert.clone().unwrap_or_else(|| config.default_cert_path());
        let key = config.tls_key.clone().unwrap_or_else(|| config.default_key_path());
        Some(tls::load_or_generate(&cert, &key, &[])?)
    };
    let coordinator = Arc::new(Coordinator::new(config.clone(), store, system_clock()));
    coordinator.set_admin_token(admin_token(&config.data_dir)?);
    {
        let c = coordinator.clone();
        let started = std::time::Instant::now();
        let changed = tokio::task::spawn_blocking(move || apply_graph(&c))
            .await
            .map_err(|source| ServeError::Task {
                what: "loading the graph",
                source,
            })??;
        log_graph(&coordinator, changed, started);
        // The liquidity model starts from the store's current records
        // (coordinator::liquidity: its history before a restart is
        // reduced to them).
        let c = coordinator.clone();
        let started = std::time::Instant::now();
        let pairs = tokio::task::spawn_blocking(move || c.seed_liquidity())
            .await
            .map_err(|source| ServeError::Task {
                what: "seeding the liquidity model",
                source,
            })?
            .map_err(ServeError::Liquidity)?;
        tracing::info!(
            pairs,
            millis = started.elapsed().as_millis() as u64,
            "liquidity model seeded from the store"
        );
    }

    let bind = |setting: &'static str, addr: SocketAddr| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { setting, addr, source })
    };
    let grpc_listener = bind("grpc_listen", config.grpc_listen).await?;
    let rest_listener = bind("rest_listen", config.rest_listen).await?;
    let bound = Bound {
        grpc: grpc_listener.local_addr().map_err(ServeError::LocalAddr)?,
        rest: rest_listener.local_addr().map_err(ServeError::LocalAddr)?,
    };

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };

    // The transport edge (crate::limits): each listener admits connections
    // within its caps, bounds their TLS handshakes, then serves them.
    let limits = limits::EdgeLimits::from_config(&config);
    let metrics = Arc::new(limits::EdgeMetrics::default());
    coordinator.add_metrics(metrics.clone());
    raise_open_file_limit(2 * limits.max_connections + 256);
    let (rest_tls, grpc_tls) = match &tls {
        Some(m) => {
            let rest = tls::rustls_server_config(m)?;
            let mut grpc = (*rest).clone();
            grpc.alpn_protocols = vec![b"h2".to_vec()];
            (
                Some(tokio_rustls::TlsAcceptor::from(rest)),
                Some(tokio_rustls::TlsAcceptor::from(Arc::new(grpc))),
            )
        }
        None => (None, None),
    };

    // gRPC: tonic serves the connections the accept loop hands over.
    let (grpc_tx, grpc_rx) = tokio::sync::mpsc::channel::<limits::EdgeIo>(64);
    let grpc_accept = transport::accept_loop(
        grpc_listener,
        limits::Edge::new(limits::Listener::Grpc, limits.clone(), metrics.clone()),
        grpc_tls,
        stop_rx.clone(),
        move |io, permit, local, remote| {
            let tx = grpc_tx.clone();
            async move {
                let _ = tx.send(limits::EdgeIo::grpc(io, permit, local, remote)).await;
            }
        },
    );
    let grpc = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(limits.http2_keepalive_interval))
        .http2_keepalive_timeout(Some(limits.http2_keepalive_timeout))
        .max_concurrent_streams(Some(limits.max_concurrent_streams))
        .layer(transport::GrpcTimeoutLayer {
            timeout: limits.grpc_request_timeout,
            metrics: metrics.clone(),
        })
        .add_service(
            dmc_proto::ecrpc::external_coordinator_server::ExternalCoordinatorServer::new(grpc::ecrpc::EcService {
                coordinator: coordinator.clone(),
            })
            .max_decoding_message_size(config.max_body_bytes),
        )
        .add_service(grpc::v2::grpc_service(coordinator.clone()))
        .serve_with_incoming_shutdown(
            tokio_stream::StreamExt::map(
                tokio_stream::wrappers::ReceiverStream::new(grpc_rx),
                Ok::<_, std::io::Error>,
            ),
            stopped(stop_rx.clone()),
        );

    // REST.
    let router = rest::router(coordinator.clone());
    let builder = transport::rest_builder(&limits);
    let rest = {
        let stop = stop_rx.clone();
        transport::accept_loop(
            rest_listener,
            limits::Edge::new(limits::Listener::Rest, limits.clone(), metrics.clone()),
            rest_tls,
            stop_rx.clone(),
            move |io, permit, local, remote| {
                transport::serve_rest_connection(
                    io,
                    permit,
                    local,
                    remote,
                    router.clone(),
                    builder.clone(),
                    stop.clone(),
                )
            },
        )
    };

    // Periodic cleanup of stale observations.
    let cleaner = {
        let c = coordinator.clone();
        let mut rx = stop_rx.clone();
        async move {
            let every = Duration::from_nanos(c.config.cleanup_interval.as_nanos() as u64);
            loop {
                let c2 = c.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    let cutoff = c2.now().add(-c2.config.staleness_window);
                    match c2.store.cleanup(cutoff) {
                        Ok(n) if n > 0 => tracing::info!(removed = n, "stale observations removed"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "cleanup failed"),
                    }
                    // Bodies stamped before the window are refused by it anyway.
                    let before = c2.now().unix_secs() - c2.config.signature_window.whole_secs();
                    if let Err(e) = c2.store.prune_digests(before) {
                        tracing::warn!(error = %e, "pruning body digests failed");
                    }
                })
                .await;
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = rx.wait_for(|v| *v) => break,
                }
            }
        }
    };

    // Reputation passes (dmc_core::reputation).
    let judge = {
        let c = coordinator.clone();
        let mut rx = stop_rx.clone();
        async move {
            let every = Duration::from_nanos(c.config.reputation_interval.as_nanos() as u64);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = rx.wait_for(|v| *v) => break,
                }
                let c2 = c.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    match c2.store.reputation_pass(c2.now()) {
                        Ok(o) if o.penalised > 0 || o.pairs_changed > 0 => tracing::info!(
                            judged = o.judged,
                            penalised = o.penalised,
                            pairs_changed = o.pairs_changed,
                            "reputation pass"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "reputation pass failed"),
                    }
                    if let Err(e) = c2.recount_unverified() {
                        tracing::warn!(error = %e.message(), "recounting unverified observations failed");
                    }
                })
                .await;
            }
        }
    };

    // SIGHUP reloads the graph; a file that does not load keeps the old one.
    let reloader = {
        let c = coordinator.clone();
        let mut rx = stop_rx.clone();
        async move {
            #[cfg(unix)]
            {
                let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
                    tracing::warn!("SIGHUP handler not installed: the graph cannot be reloaded");
                    return;
                };
                loop {
                    tokio::select! {
                        _ = hup.recv() => {}
                        _ = rx.wait_for(|v| *v) => break,
                    }
                    let c2 = c.clone();
                    let started = std::time::Instant::now();
                    let r = tokio::task::spawn_blocking(move || apply_graph(&c2)).await;
                    match r {
                        Ok(Ok(changed)) => log_graph(&c, changed, started),
                        Ok(Err(e)) => tracing::warn!(error = %e, "graph reload failed; keeping the previous graph"),
                        Err(e) => tracing::warn!(error = %e, "graph reload failed; keeping the previous graph"),
                    }
                }
            }
            #[cfg(not(unix))]
            let _ = rx.wait_for(|v| *v).await;
        }
    };

    on_bound(bound);
    tracing::info!(grpc = %bound.grpc, rest = %bound.rest, tls = !config.no_tls, "coordinator listening");
    let stopper = async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    };
    let (g, _, _, _, _, _, _) = tokio::join!(
        async { grpc.await.map_err(ServeError::Grpc) },
        grpc_accept,
        rest,
        cleaner,
        judge,
        reloader,
        stopper
    );
    g?;
    Ok(())
}
