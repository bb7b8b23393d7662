//! Resource limits at the transport edge (ARCHITECTURE.md, "Connection
//! limits"), over real sockets against the real server: connection caps on
//! both listeners, and the timeouts that cut off slow or silent clients
//! (configured short here: 1 s). Each refusal must show in `/metrics`.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use dmc_server::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const SECOND: dmc_core::time::DurationNs = dmc_core::time::DurationNs::SECOND;

/// The production defaults except the graph (off: faster start) and `tweak`.
async fn serve(tweak: impl FnOnce(&mut ServerConfig)) -> Server {
    serve_in(tempfile::tempdir().unwrap(), |c| {
        c.graph = None;
        tweak(c);
    })
    .await
}

/// Reads until the server closes (EOF or reset); `None` if it is still
/// open after `wait`. Returns when it closed and what was read before.
async fn closed_within(s: &mut (impl AsyncRead + Unpin), wait: Duration) -> Option<(Duration, Vec<u8>)> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = wait.checked_sub(start.elapsed())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some((start.elapsed(), got)),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// A TCP connection from the loopback address `from` (127.0.0.x).
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::from((from, 0))).unwrap();
    sock.connect(to).await.unwrap()
}

/// A TLS connection trusting the server's certificate, offering `alpn`.
async fn tls(s: &Server, to: SocketAddr, alpn: &[u8]) -> tokio_rustls::client::TlsStream<TcpStream> {
    let cfg = s.tls_client_config(alpn);
    let tcp = TcpStream::connect(to).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake")
}

/// The value of one line of `/metrics` (labels included in `name`).
async fn metric(s: &Server, name: &str) -> u64 {
    let text = s.get("/metrics").await.text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

fn refused(listener: &str, limit: &str) -> String {
    format!("dmc_connections_refused_total{{listener=\"{listener}\",limit=\"{limit}\"}}")
}

fn timed_out(listener: &str, limit: &str) -> String {
    format!("dmc_connections_timed_out_total{{listener=\"{listener}\",limit=\"{limit}\"}}")
}

/// Opens `n` connections that stay in their TLS handshake (long timeout),
/// then `extra` more: those must be closed by the server at once while the
/// first `n` stay open.
async fn fill_and_overflow(to: SocketAddr, n: usize, extra: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(TcpStream::connect(to).await.unwrap());
    }
    // The server accepts in order; let it take the first n before the rest
    // (generously: under a loaded CI machine its accept loop can lag).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for i in 0..extra {
        let mut c = TcpStream::connect(to).await.unwrap();
        let (t, _) = closed_within(&mut c, Duration::from_secs(2))
            .await
            .unwrap_or_else(|| panic!("connection {} beyond the cap of {n} is still open after 2 s", n + i + 1));
        assert!(t < Duration::from_secs(1), "refused only after {t:?}");
    }
    for (i, c) in held.iter_mut().enumerate() {
        assert!(
            closed_within(c, Duration::from_millis(200)).await.is_none(),
            "connection {} within the cap was closed",
            i + 1
        );
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_refuses_connections_beyond_the_per_ip_cap_at_once() {
    let s = serve(|c| {
        c.max_connections_per_ip = 4;
        c.tls_handshake_timeout = 30 * SECOND;
    })
    .await;
    let mut held = fill_and_overflow(s.bound.rest, 4, 3).await;
    // Freeing two slots lets normal requests through again (two: the
    // server may still be closing the first request's connection).
    held.truncate(2);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let r = s.get("/healthz").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(metric(&s, &refused("rest", "max_connections_per_ip")).await, 3);
    assert_eq!(metric(&s, &refused("rest", "max_connections")).await, 0);
    drop(held);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_refuses_connections_beyond_the_per_ip_cap_at_once() {
    let s = serve(|c| {
        c.max_connections_per_ip = 4;
        c.tls_handshake_timeout = 30 * SECOND;
    })
    .await;
    let mut held = fill_and_overflow(s.bound.grpc, 4, 3).await;
    held.truncate(2);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (pairs, _) = query_all(&mut s.ec().await).await;
    assert!(pairs.is_empty());
    assert_eq!(metric(&s, &refused("grpc", "max_connections_per_ip")).await, 3);
    // The REST listener has caps of its own: untouched.
    assert_eq!(metric(&s, &refused("rest", "max_connections_per_ip")).await, 0);
    drop(held);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_cap_counts_every_source_and_the_per_ip_cap_each_alone() {
    let s = serve(|c| {
        c.max_connections = 3;
        c.max_connections_per_ip = 2;
        c.tls_handshake_timeout = 30 * SECOND;
    })
    .await;
    let to = s.bound.rest;
    let mut held = vec![
        connect_from([127, 0, 0, 2], to).await,
        connect_from([127, 0, 0, 2], to).await,
    ];
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // 127.0.0.2 is at its cap; 127.0.0.3 is not.
    let mut c = connect_from([127, 0, 0, 2], to).await;
    assert!(closed_within(&mut c, Duration::from_secs(2)).await.is_some());
    held.push(connect_from([127, 0, 0, 3], to).await);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // Three open: the total cap refuses a fourth address too.
    let mut c = connect_from([127, 0, 0, 4], to).await;
    assert!(closed_within(&mut c, Duration::from_secs(2)).await.is_some());
    for c in held.iter_mut() {
        assert!(closed_within(c, Duration::from_millis(200)).await.is_none());
    }
    held.truncate(1);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(metric(&s, &refused("rest", "max_connections_per_ip")).await, 1);
    assert_eq!(metric(&s, &refused("rest", "max_connections")).await, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_header_is_cut_off_after_header_read_timeout() {
    let s = serve(|c| {
        c.header_read_timeout = SECOND;
    })
    .await;
    let mut t = tls(&s, s.bound.rest, b"http/1.1").await;
    t.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: a")
        .await
        .unwrap();
    t.flush().await.unwrap();
    let (after, got) = closed_within(&mut t, Duration::from_secs(4))
        .await
        .expect("a stalled request head is still open after 4 s");
    assert!(
        after >= Duration::from_millis(700),
        "closed after {after:?}, before the timeout"
    );
    assert!(
        got.is_empty(),
        "no response to a partial head: {:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(metric(&s, &timed_out("rest", "header_read_timeout")).await, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_body_is_cut_off_after_body_read_timeout() {
    let s = serve(|c| {
        c.body_read_timeout = SECOND;
    })
    .await;
    let mut t = tls(&s, s.bound.rest, b"http/1.1").await;
    t.write_all(
        b"POST /v1/register_mission_control HTTP/1.1\r\nHost: localhost\r\n\
          Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"pairs\":[",
    )
    .await
    .unwrap();
    t.flush().await.unwrap();
    let (after, got) = closed_within(&mut t, Duration::from_secs(4))
        .await
        .expect("a stalled body is still open after 4 s");
    let text = String::from_utf8_lossy(&got);
    assert!(
        after >= Duration::from_millis(700),
        "closed after {after:?}, before the timeout"
    );
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"limit\":\"body_read_timeout\""), "{text}");
    assert!(text.to_ascii_lowercase().contains("connection: close"), "{text}");
    assert_eq!(metric(&s, &timed_out("rest", "body_read_timeout")).await, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_never_starts_tls_is_dropped_after_the_handshake_timeout() {
    let s = serve(|c| {
        c.tls_handshake_timeout = SECOND;
    })
    .await;
    let (mut rest, mut grpc) = (
        TcpStream::connect(s.bound.rest).await.unwrap(),
        TcpStream::connect(s.bound.grpc).await.unwrap(),
    );
    let (r, g) = tokio::join!(
        closed_within(&mut rest, Duration::from_secs(4)),
        closed_within(&mut grpc, Duration::from_secs(4))
    );
    for (name, c) in [("rest", r), ("grpc", g)] {
        let (after, _) = c.unwrap_or_else(|| panic!("{name}: a silent TCP client is still connected after 4 s"));
        assert!(after >= Duration::from_millis(700), "{name}: closed after {after:?}");
        assert_eq!(metric(&s, &timed_out(name, "tls_handshake_timeout")).await, 1, "{name}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_client_silent_after_tls_is_dropped_after_the_header_timeout() {
    let s = serve(|c| {
        c.header_read_timeout = SECOND;
    })
    .await;
    let mut t = tls(&s, s.bound.grpc, b"h2").await;
    let (after, _) = closed_within(&mut t, Duration::from_secs(4))
        .await
        .expect("a silent gRPC connection is still open after 4 s");
    assert!(after >= Duration::from_millis(700), "closed after {after:?}");
    assert_eq!(metric(&s, &timed_out("grpc", "header_read_timeout")).await, 1);
    s.stop().await;
}

/// As Go's `net/http` does: the header timeout runs from a request's first
/// byte, the idle timeout between requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_alive_connection_waits_idle_timeout_not_header_timeout() {
    let s = serve(|c| {
        c.header_read_timeout = SECOND;
        c.idle_timeout = 3 * SECOND;
        c.http2_keepalive_interval = SECOND;
    })
    .await;
    let mut t = tls(&s, s.bound.rest, b"http/1.1").await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut buf = vec![0u8; 8192];
    for round in 0..2 {
        t.write_all(request).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(2), t.read(&mut buf))
            .await
            .expect("response in time")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 200"), "round {round}: {text}");
        if round == 0 {
            // Longer than the header timeout, shorter than the idle one.
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
    }
    let (after, _) = closed_within(&mut t, Duration::from_secs(6))
        .await
        .expect("an idle connection is still open after 6 s");
    assert!(
        after >= Duration::from_millis(2500),
        "closed after {after:?}, before idle_timeout"
    );
    assert_eq!(metric(&s, &timed_out("rest", "idle_timeout")).await, 1);
    assert_eq!(metric(&s, &timed_out("rest", "header_read_timeout")).await, 0);
    s.stop().await;
}

// ------------------------------------------------------------ HTTP/2 by hand

/// HTTP/2 frame types and codes these tests use (RFC 9113).
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const WINDOW_UPDATE: u8 = 8;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
const REFUSED_STREAM: u32 = 0x7;
const CANCEL: u32 = 0x8;
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend([kind, flags]);
    f.extend(stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A gRPC call's request head, HPACK-encoded as literals (no table, no Huffman).
fn grpc_head(path: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in [
        (":method", "POST"),
        (":scheme", "https"),
        (":path", path),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ] {
        b.push(0);
        for s in [k, v] {
            b.push(s.len() as u8);
            b.extend_from_slice(s.as_bytes());
        }
    }
    b
}

const V2_QUERY: &str = "/dmc.coordinator.v2.Coordinator/Query";
/// An empty `QueryRequest` as one gRPC message: the whole aggregate.
const EMPTY_MESSAGE: [u8; 5] = [0, 0, 0, 0, 0];

/// Reads one frame: (type, flags, stream, payload).
async fn read_frame(s: &mut (impl AsyncRead + Unpin)) -> (u8, u8, u32, Vec<u8>) {
    let mut h = [0u8; 9];
    s.read_exact(&mut h).await.expect("frame header");
    let len = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).await.expect("frame payload");
    let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
    (h[3], h[4], stream, payload)
}

/// Opens an HTTP/2 connection to the gRPC listener; returns it and the
/// server's SETTINGS (acknowledged).
async fn h2_raw(s: &Server) -> (tokio_rustls::client::TlsStream<TcpStream>, Vec<(u16, u32)>) {
    let mut t = tls(s, s.bound.grpc, b"h2").await;
    t.write_all(&[PREFACE, &frame(SETTINGS, 0, 0, &[])].concat())
        .await
        .unwrap();
    loop {
        let (kind, flags, _, payload) = tokio::time::timeout(Duration::from_secs(2), read_frame(&mut t))
            .await
            .expect("server SETTINGS in time");
        if kind == SETTINGS && flags & ACK == 0 {
            let settings = payload
                .chunks_exact(6)
                .map(|c| {
                    (
                        u16::from_be_bytes([c[0], c[1]]),
                        u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
                    )
                })
                .collect();
            t.write_all(&frame(SETTINGS, ACK, 0, &[])).await.unwrap();
            return (t, settings);
        }
    }
}

/// The frames on streams (not the connection) that arrive within `wait`.
async fn stream_frames(t: &mut (impl AsyncRead + Unpin), wait: Duration) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut got = Vec::new();
    let end = tokio::time::Instant::now() + wait;
    while let Ok(f) = tokio::time::timeout_at(end, read_frame(t)).await {
        if f.2 != 0 {
            got.push(f);
        }
    }
    got
}

/// Over one connection the server advertises `max_concurrent_streams` and
/// refuses a stream beyond it while the earlier ones are open (an h2
/// client never sends one, so this client writes its frames by hand);
/// once one ends, the next is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_refuses_streams_beyond_max_concurrent_streams() {
    let s = serve(|c| {
        c.max_concurrent_streams = 2;
    })
    .await;
    let (mut t, settings) = h2_raw(&s).await;
    assert!(
        settings.contains(&(SETTINGS_MAX_CONCURRENT_STREAMS, 2)),
        "SETTINGS {settings:?}"
    );
    // Three calls whose requests stay open (no END_STREAM): each holds its stream.
    for id in [1, 3, 5] {
        t.write_all(&frame(HEADERS, END_HEADERS, id, &grpc_head(V2_QUERY)))
            .await
            .unwrap();
    }
    let got = stream_frames(&mut t, Duration::from_secs(1)).await;
    let resets: Vec<(u32, u32)> = got
        .iter()
        .filter(|f| f.0 == RST_STREAM)
        .map(|f| (f.2, u32::from_be_bytes(f.3[..4].try_into().unwrap())))
        .collect();
    assert_eq!(resets, vec![(5, REFUSED_STREAM)], "frames on streams: {got:?}");
    assert!(
        got.iter().all(|f| f.2 == 5),
        "streams 1 and 3 are open and unanswered: {got:?}"
    );
    // Stream 1 ends: a complete call on a new stream is answered.
    t.write_all(&frame(RST_STREAM, 0, 1, &CANCEL.to_be_bytes()))
        .await
        .unwrap();
    t.write_all(
        &[
            frame(HEADERS, END_HEADERS, 7, &grpc_head(V2_QUERY)),
            frame(DATA, END_STREAM, 7, &EMPTY_MESSAGE),
        ]
        .concat(),
    )
    .await
    .unwrap();
    let got = stream_frames(&mut t, Duration::from_secs(1)).await;
    assert!(
        got.iter().any(|f| f.0 == HEADERS && f.2 == 7) && !got.iter().any(|f| f.0 == RST_STREAM),
        "stream 7 within the cap is answered: {got:?}"
    );
    // Its open calls would hold the server's graceful shutdown.
    drop(t);
    s.stop().await;
}

/// A call whose request never completes ends with `DEADLINE_EXCEEDED` after
/// `grpc_request_timeout`, counted in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_call_with_an_unfinished_request_ends_after_grpc_request_timeout() {
    let s = serve(|c| {
        c.grpc_request_timeout = SECOND;
    })
    .await;
    let (mut client, conn) = h2::client::handshake(tls(&s, s.bound.grpc, b"h2").await)
        .await
        .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    let req = hyper::Request::post(format!("https://localhost{V2_QUERY}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (resp, mut body) = client.send_request(req, false).unwrap();
    // A message that announces 10 bytes and sends one, and never the rest.
    body.send_data(hyper::body::Bytes::from_static(&[0, 0, 0, 0, 10, 0x08]), false)
        .unwrap();
    let started = Instant::now();
    let resp = tokio::time::timeout(Duration::from_secs(4), resp)
        .await
        .expect("an unfinished call is still unanswered after 4 s")
        .expect("a response, not a reset");
    let after = started.elapsed();
    assert!(after >= Duration::from_millis(700), "answered after {after:?}");
    let h = resp.headers();
    assert_eq!(h.get("grpc-status").map(|v| v.to_str().unwrap()), Some("4"), "{h:?}");
    let message = h.get("grpc-message").map(|v| v.to_str().unwrap()).unwrap_or_default();
    assert!(message.contains("grpc_request_timeout"), "{message}");
    assert_eq!(metric(&s, &timed_out("grpc", "grpc_request_timeout")).await, 1);
    drop(body);
    s.stop().await;
}

// ------------------------------------------------------------ stalled readers

/// Nodes `1..=n` and every directed pair among them, up to `max` pairs,
/// each with a recent success.
fn many_pairs(n: u8, max: usize) -> Vec<dmc_proto::ecrpc::PairHistory> {
    let nodes: Vec<Vec<u8>> = (1..=n).map(node).collect();
    let t = now() - 60;
    let mut out = Vec::new();
    for (i, a) in nodes.iter().enumerate() {
        for (j, b) in nodes.iter().enumerate() {
            if i != j && out.len() < max {
                out.push(dmc_proto::ecrpc::PairHistory {
                    node_from: a.clone(),
                    node_to: b.clone(),
                    history: Some(success(t, 1_000 * (1 + out.len() as i64))),
                });
            }
        }
    }
    out
}

/// Registers `pairs` signed by one established reporter (no graph: every
/// signed key is); returns the cursor.
async fn register_many(s: &Server, pairs: Vec<dmc_proto::ecrpc::PairHistory>) -> u64 {
    let (sk, pk) = key(250);
    let n = pairs.len() as u32;
    let r = s
        .v2()
        .await
        .register(signed(&sk, &pk, now(), pairs))
        .await
        .expect("registered")
        .into_inner();
    assert_eq!(r.accepted, n);
    r.cursor
}

/// A TCP connection with a small receive buffer, so a client that does not
/// read stalls the server's writes after little data.
async fn small_window_tls(s: &Server, to: SocketAddr, alpn: &[u8]) -> tokio_rustls::client::TlsStream<TcpStream> {
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(to).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(s.tls_client_config(alpn)))
        .connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake")
}

/// A client that asks for a large answer and never reads it is cut off once
/// the server's writes make no progress for `idle_timeout`, on both
/// listeners, and each cut-off is counted. REST: the full `/v2/query` is
/// streamed, so its request stays in flight while the client does not read
/// and no read timeout applies: only the write side can end it.
/// gRPC: the client opens its flow-control windows wide, asks for the
/// whole aggregate on several streams and keeps sending pings (the server
/// reads something every 200 ms, so no read timeout is due).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_that_never_reads_is_cut_off_after_idle_timeout() {
    let s = serve(|c| {
        c.idle_timeout = SECOND;
        c.http2_keepalive_interval = SECOND / 2;
    })
    .await;
    register_many(&s, many_pairs(142, 20_000)).await;

    let whole = s.get("/v2/query").await.body.len();
    assert!(
        whole > 4 << 20,
        "the body ({whole} bytes) must outgrow the socket buffers"
    );
    let mut t = small_window_tls(&s, s.bound.rest, b"http/1.1").await;
    t.write_all(b"GET /v2/query HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    t.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(metric(&s, &timed_out("rest", "idle_timeout")).await, 0, "cut off early");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(metric(&s, &timed_out("rest", "idle_timeout")).await, 1);
    let (_, got) = closed_within(&mut t, Duration::from_secs(10))
        .await
        .expect("the stalled connection is closed: what it buffered, then EOF");
    assert!(got.len() < whole, "got all {whole} bytes: the server never gave up");

    // A slow reader that keeps taking bytes is not cut off, though its
    // download takes longer than idle_timeout (also once hyper has taken
    // the whole pre-rendered body and only its writing is left).
    let whole = s.get("/v2/snapshot").await.body.len();
    let mut t = small_window_tls(&s, s.bound.rest, b"http/1.1").await;
    t.write_all(b"GET /v2/snapshot HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (mut got, mut buf) = (0, vec![0u8; 16 << 10]);
    loop {
        match tokio::time::timeout(Duration::from_secs(5), t.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got += n,
            Err(_) => panic!("no byte for 5 s"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "not slow: {:?}",
        started.elapsed()
    );
    assert!(
        got > whole,
        "a slow but live reader got {got} bytes of a {whole}-byte body"
    );
    assert_eq!(metric(&s, &timed_out("rest", "idle_timeout")).await, 1);

    let mut t = small_window_tls(&s, s.bound.grpc, b"h2").await;
    let mut wide = SETTINGS_INITIAL_WINDOW_SIZE.to_be_bytes().to_vec();
    wide.extend(0x7fff_ffffu32.to_be_bytes());
    let mut request = [
        PREFACE,
        &frame(SETTINGS, 0, 0, &wide),
        &frame(WINDOW_UPDATE, 0, 0, &(0x7fff_ffffu32 - 65_535).to_be_bytes()),
    ]
    .concat();
    // Eight full downloads (2 MB each) on one connection.
    for id in (1..16).step_by(2) {
        request.extend(frame(HEADERS, END_HEADERS, id, &grpc_head(V2_QUERY)));
        request.extend(frame(DATA, END_STREAM, id, &EMPTY_MESSAGE));
    }
    t.write_all(&request).await.unwrap();
    let started = Instant::now();
    let mut cut_off = None;
    while started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if metric(&s, &timed_out("grpc", "idle_timeout")).await > 0 {
            cut_off = Some(started.elapsed());
            break;
        }
        let ping = frame(PING, 0, 0, &[0; 8]);
        if tokio::time::timeout(Duration::from_secs(1), t.write_all(&ping))
            .await
            .is_err()
        {
            break;
        }
    }
    let after = cut_off.expect("a gRPC client that never reads is still connected after 5 s");
    assert!(after >= Duration::from_millis(700), "cut off after {after:?}");
    assert_eq!(metric(&s, &timed_out("grpc", "idle_timeout")).await, 1);
    assert!(
        closed_within(&mut t, Duration::from_secs(10)).await.is_some(),
        "the connection is closed"
    );
    s.stop().await;
}

// ------------------------------------------------------------ full downloads

/// Full v2 downloads are served from the snapshot cached per cursor (as
/// v1's and `/v2/snapshot` are): twelve concurrent ones, over gRPC and
/// REST, get the same complete answer, and the store's aggregate was read
/// once for them all; a new cursor is read once more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_full_v2_downloads_share_one_snapshot_per_cursor() {
    let s = serve(|c| {
        c.query_batch_size = 500;
    })
    .await;
    let sent = many_pairs(72, 5_000);
    let cursor = register_many(&s, sent.clone()).await;
    let builds = "dmc_snapshot_builds_total";
    let before = metric(&s, builds).await;
    let start = Arc::new(tokio::sync::Barrier::new(12));
    let mut downloads = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let mut v2 = s.v2().await;
        let start = start.clone();
        downloads.spawn(async move {
            start.wait().await;
            let mut stream = v2
                .query(dmc_proto::dmc::coordinator::v2::QueryRequest::default())
                .await
                .expect("query")
                .into_inner();
            let mut messages = Vec::new();
            while let Some(m) = stream.message().await.expect("message") {
                messages.push(m);
            }
            messages
        });
    }
    let mut answers = Vec::new();
    while let Some(r) = downloads.join_next().await {
        answers.push(r.unwrap());
    }
    assert_eq!(
        metric(&s, builds).await - before,
        1,
        "twelve downloads, one snapshot read"
    );
    let want: Vec<_> = sort(sent.clone())
        .into_iter()
        .map(|p| (p.node_from, p.node_to, p.history))
        .collect();
    for messages in &answers {
        assert_eq!(messages.len(), 10, "5000 pairs, 500 a message");
        assert!(messages
            .iter()
            .all(|m| m.cursor == cursor && m.full_resync && m.removed.is_empty()));
        let got: Vec<_> = messages
            .iter()
            .flat_map(|m| &m.pairs)
            .map(|a| {
                assert_eq!(a.reporters, 1);
                let p = a.pair.clone().unwrap();
                (p.node_from, p.node_to, p.history)
            })
            .collect();
        assert_eq!(got, want, "every download gets every pair, in order");
    }

    // REST full queries and the other snapshot forms share the same read.
    let mut rest = tokio::task::JoinSet::new();
    let s = Arc::new(s);
    for i in 0..12 {
        let s = s.clone();
        let path = ["/v2/query", "/v2/snapshot", "/v1/query_aggregated_mission_control"][i % 3];
        rest.spawn(async move { (path, s.get(path).await) });
    }
    while let Some(r) = rest.join_next().await {
        let (path, r) = r.unwrap();
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        if path == "/v2/query" {
            let j = r.json();
            assert_eq!(j["pairs"].as_array().unwrap().len(), 5_000);
            assert_eq!(j["cursor"], cursor.to_string().as_str());
            assert_eq!(j["full_resync"], false, "cursor 0 is still served incrementally");
        }
    }
    assert_eq!(metric(&s, builds).await - before, 1, "still one snapshot read");

    // A new cursor: one more read, and the new pair is in it.
    let (sk, pk) = key(251);
    let more = s
        .v2()
        .await
        .register(signed(
            &sk,
            &pk,
            now(),
            vec![pair(201, 202, success(now() - 60, 7_000))],
        ))
        .await
        .unwrap()
        .into_inner();
    let (pairs, at, full) = query_v2(&mut s.v2().await, None).await;
    assert_eq!((pairs.len(), at, full), (5_001, more.cursor, true));
    assert_eq!(metric(&s, builds).await - before, 2);
    Arc::into_inner(s).expect("no other holder").stop().await;
}
