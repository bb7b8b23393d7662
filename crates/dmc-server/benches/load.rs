//! Coordinator load benchmark: register and query latency over real gRPC
//! with TLS, on a store preloaded with real node pairs of the 2026-02-03
//! mainnet snapshot, then grown to 1 000 000 pairs.
//!
//! Run: `cargo bench -p dmc-server --bench load` (env `DMC_LOAD_MAX_PAIRS`
//! to change the final store size). With `DMC_LOAD_DATABASE_URL` (a
//! PostgreSQL server where databases may be created) the coordinator keeps
//! its store in a scratch database there, dropped at the end, instead of
//! the embedded redb file.

use dmc_core::Msat;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dmc_core::aggregate::Reporter;
use dmc_core::{DirectedPair, NodeId, PairSnapshot, TimedPairResult, Timestamp};
use dmc_graph::Graph;
use dmc_proto::dmc::coordinator::v2 as pb;
use dmc_proto::ecrpc;
use dmc_store::coordinator::{CoordinatorStore, RedbCoordinatorStore, Registration};
use dmc_store::postgres::{PostgresCoordinatorStore, ScratchDatabase};

use dmc_testkit::SplitMix64 as Rng;

fn now_secs() -> i64 {
    dmc_testkit::clock::unix_now_secs()
}

fn record(rng: &mut Rng, now: i64) -> TimedPairResult {
    let t = Timestamp::from_unix_secs(now - 60 - (rng.next_u64() % 3600) as i64);
    let amt = 1_000 + rng.next_u64() % 100_000_000;
    if rng.next_u64() % 10 < 7 {
        TimedPairResult {
            success_time: t,
            success_amt_msat: Msat(amt),
            ..Default::default()
        }
    } else {
        TimedPairResult {
            fail_time: t,
            fail_amt_msat: Msat(amt),
            ..Default::default()
        }
    }
}

fn wire(p: &PairSnapshot) -> ecrpc::PairHistory {
    dmc_proto::pair_to_proto(&dmc_core::rpc::PairHistory::from_snapshot(p))
}

/// Synthetic but valid keys for growing the store beyond the real graph.
fn synthetic_key(i: u64) -> NodeId {
    let secp = secp256k1::Secp256k1::signing_only();
    let mut b = [0u8; 32];
    b[24..].copy_from_slice(&(i + 1).to_be_bytes());
    b[0] = 0x42;
    let sk = secp256k1::SecretKey::from_slice(&b).unwrap();
    NodeId(secp256k1::PublicKey::from_secret_key(&secp, &sk).serialize())
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

type EcClient = ecrpc::external_coordinator_client::ExternalCoordinatorClient<tonic::transport::Channel>;
type V2Client = pb::coordinator_client::CoordinatorClient<tonic::transport::Channel>;

/// Starts `dmc serve` in-process on loopback ports (TLS on, no rate limit)
/// and connects both clients trusting its generated certificate.
fn start_server(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    database_url: Option<String>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), dmc_server::ServeError>>,
    EcClient,
    V2Client,
) {
    let mut cfg = dmc_server::ServerConfig::with_data_dir(dir.to_path_buf());
    cfg.grpc_listen = "127.0.0.1:0".parse().unwrap();
    cfg.rest_listen = "127.0.0.1:0".parse().unwrap();
    cfg.requests_per_minute = u32::MAX;
    cfg.database_url = database_url;
    // Random keys are in no graph: measure the Go coordinator's openness
    // (every pair served), so snapshots carry everything that was loaded.
    cfg.graph = None;
    cfg.min_serving_weight = 0.0;
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(dmc_server::serve(cfg, move |b| tx.send(b).unwrap(), async move {
        let _ = stop_rx.await;
    }));
    let bound = rx.recv_timeout(Duration::from_secs(60)).expect("server bound");
    let pem = std::fs::read_to_string(dir.join("tls.cert")).unwrap();
    let channel = rt.block_on(async {
        tonic::transport::Endpoint::from_shared(format!("https://{}", bound.grpc))
            .unwrap()
            .tls_config(
                tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(pem))
                    .domain_name("localhost"),
            )
            .unwrap()
            .connect()
            .await
            .unwrap()
    });
    (stop_tx, server, EcClient::new(channel.clone()), V2Client::new(channel))
}

fn main() {
    let max_pairs: usize = std::env::var("DMC_LOAD_MAX_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let graph_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mainnet-2026-02-03.describegraph.json.gz");
    let graph = Graph::load_describegraph(&graph_path).expect("mainnet snapshot");
    let mut real_pairs: Vec<DirectedPair> = Vec::new();
    for ch in graph.channels() {
        let (a, b) = (*graph.node(ch.node1), *graph.node(ch.node2));
        real_pairs.push(DirectedPair::new(a, b));
        real_pairs.push(DirectedPair::new(b, a));
    }
    real_pairs.sort_unstable();
    real_pairs.dedup();
    real_pairs.retain(|p| NodeId::from_bytes(&p.from.0).is_ok() && NodeId::from_bytes(&p.to.0).is_ok());
    println!("real directed pairs in the snapshot: {}", real_pairs.len());

    let dir = tempfile::tempdir().unwrap();
    let scratch = std::env::var("DMC_LOAD_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .map(|u| ScratchDatabase::create(&u, "dmc_bench").expect("scratch database"));
    let database_url = scratch.as_ref().map(|d| d.url().to_string());
    let backend = if database_url.is_some() { "postgres" } else { "embedded" };
    println!("store backend: {backend}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop_tx, server, mut ec, mut v2) = start_server(&rt, dir.path(), database_url.clone());
    let now = now_secs();
    let mut rng = Rng(7);

    // Bulk ingest through gRPC: 1000-pair requests of real pairs.
    let started = Instant::now();
    let mut ingested = 0usize;
    let mut big_latencies = Vec::new();
    for chunk in real_pairs.chunks(1000) {
        let pairs: Vec<ecrpc::PairHistory> = chunk
            .iter()
            .map(|p| {
                wire(&PairSnapshot {
                    pair: *p,
                    result: record(&mut rng, now),
                })
            })
            .collect();
        let t = Instant::now();
        rt.block_on(ec.register_mission_control(ecrpc::RegisterMissionControlRequest { pairs }))
            .unwrap();
        big_latencies.push(t.elapsed());
        ingested += chunk.len();
    }
    let ingest_secs = started.elapsed().as_secs_f64();
    println!(
        "\nbulk ingest over gRPC+TLS: {ingested} pairs in {ingest_secs:.2} s = {:.0} pairs/s (1000-pair requests)",
        ingested as f64 / ingest_secs
    );
    println!(
        "register 1000 pairs: p50 {} p95 {} (n={})",
        ms(percentile(&mut big_latencies, 0.5)),
        ms(percentile(&mut big_latencies.clone(), 0.95)),
        big_latencies.len()
    );

    let measure =
        |rt: &tokio::runtime::Runtime,
         ec: &mut ecrpc::external_coordinator_client::ExternalCoordinatorClient<tonic::transport::Channel>,
         v2: &mut pb::coordinator_client::CoordinatorClient<tonic::transport::Channel>,
         rng: &mut Rng,
         label: &str| {
            let mut small = Vec::new();
            for _ in 0..300 {
                let pairs: Vec<ecrpc::PairHistory> = (0..3)
                    .map(|_| {
                        let p = real_pairs[(rng.next_u64() % real_pairs.len() as u64) as usize];
                        wire(&PairSnapshot {
                            pair: p,
                            result: record(rng, now_secs()),
                        })
                    })
                    .collect();
                let t = Instant::now();
                rt.block_on(ec.register_mission_control(ecrpc::RegisterMissionControlRequest { pairs }))
                    .unwrap();
                small.push(t.elapsed());
            }
            let cursor = rt
                .block_on(v2.query(pb::QueryRequest {
                    since_cursor: u64::MAX,
                    has_cursor: false,
                    max_pairs_per_message: 1,
                }))
                .map(|_| ())
                .ok();
            let _ = cursor;
            // Full snapshot over the ecrpc stream.
            let mut full = Vec::new();
            let mut n_pairs = 0;
            for _ in 0..5 {
                let t = Instant::now();
                n_pairs = rt.block_on(async {
                    let mut s = ec
                        .query_aggregated_mission_control(ecrpc::QueryAggregatedMissionControlRequest {})
                        .await
                        .unwrap()
                        .into_inner();
                    let mut n = 0;
                    while let Some(m) = s.message().await.unwrap() {
                        n += m.pairs.len();
                    }
                    n
                });
                full.push(t.elapsed());
            }
            // Delta: what changed in the last 300 small registrations.
            let stats = rt.block_on(async {
                let mut s = v2
                    .query(pb::QueryRequest {
                        since_cursor: 0,
                        has_cursor: false,
                        max_pairs_per_message: 0,
                    })
                    .await
                    .unwrap()
                    .into_inner();
                let mut cursor = 0;
                while let Some(m) = s.message().await.unwrap() {
                    cursor = m.cursor;
                }
                cursor
            });
            let mut delta = Vec::new();
            let mut delta_pairs = 0;
            for _ in 0..20 {
                let t = Instant::now();
                delta_pairs = rt.block_on(async {
                    let mut s = v2
                        .query(pb::QueryRequest {
                            since_cursor: stats.saturating_sub(900),
                            has_cursor: true,
                            max_pairs_per_message: 0,
                        })
                        .await
                        .unwrap()
                        .into_inner();
                    let mut n = 0;
                    while let Some(m) = s.message().await.unwrap() {
                        n += m.pairs.len();
                    }
                    n
                });
                delta.push(t.elapsed());
            }
            let mut full_sorted = full.clone();
            println!(
                "| {label} | {n_pairs} | {} | {} | {} (first {}) | {} ({delta_pairs} pairs) |",
                ms(percentile(&mut small.clone(), 0.5)),
                ms(percentile(&mut small, 0.95)),
                ms(percentile(&mut full_sorted, 0.5)),
                ms(full[0]),
                ms(percentile(&mut delta, 0.5)),
            );
        };

    println!(
        "\n| store | pairs served | register 3 pairs p50 | p95 | full snapshot p50 | delta (last ~900 changes) p50 |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    measure(
        &rt,
        &mut ec,
        &mut v2,
        &mut rng,
        &format!("{backend}: real mainnet pairs"),
    );

    // Grow the store with synthetic pairs directly (not timed), re-measure.
    if max_pairs > real_pairs.len() {
        rt.block_on(async { stop_tx.send(()).ok() });
        let _ = rt.block_on(server);
        let store: Arc<dyn CoordinatorStore> = match &database_url {
            Some(url) => Arc::new(PostgresCoordinatorStore::open(url).unwrap()),
            None => Arc::new(RedbCoordinatorStore::open(&dir.path().join(dmc_server::STORE_FILE)).unwrap()),
        };
        // As the server above: every pair served.
        store
            .set_policy(dmc_store::coordinator::AggregationPolicy {
                params: dmc_core::aggregate::AggregationParams {
                    min_serving_weight: 0.0,
                    ..Default::default()
                },
                ..Default::default()
            })
            .unwrap();
        let need = max_pairs - real_pairs.len();
        let keys: Vec<NodeId> = (0..2_000u64).map(synthetic_key).collect();
        let t = Instant::now();
        let mut added = 0usize;
        let mut i = 0u64;
        while added < need {
            let mut batch = Vec::with_capacity(10_000);
            while batch.len() < 10_000 && added + batch.len() < need {
                let (a, b) = ((i / 2_000) as usize % 2_000, (i % 2_000) as usize);
                i += 1;
                if a == b {
                    continue;
                }
                batch.push(PairSnapshot {
                    pair: DirectedPair::new(keys[a], keys[b]),
                    result: record(&mut rng, now),
                });
            }
            added += batch.len();
            store
                .register(Registration {
                    reporter: Reporter::Unattributed,
                    pairs: batch,
                    received: Timestamp::from_unix_secs(now),
                    signed: None,
                })
                .unwrap();
        }
        println!(
            "\n(grew the store by {added} synthetic pairs in {:.1} s through the store API: {:.0} pairs/s)",
            t.elapsed().as_secs_f64(),
            added as f64 / t.elapsed().as_secs_f64()
        );
        let cur = store.cursor().unwrap();
        let t = Instant::now();
        let d = store.changes_since(cur.saturating_sub(900)).unwrap();
        println!("(store-level delta of {} pairs: {})", d.changed.len(), ms(t.elapsed()));
        drop(store);
        let (_stop2, _server2, mut ec, mut v2) = start_server(&rt, dir.path(), database_url.clone());
        measure(&rt, &mut ec, &mut v2, &mut rng, &format!("{backend}: grown"));
    }
    // Stop the servers before the scratch database is dropped.
    drop(rt);
    drop(scratch);
}
