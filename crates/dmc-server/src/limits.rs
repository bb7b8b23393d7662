//! Resource limits at the transport edge (ARCHITECTURE.md, "Connection
//! limits"): connection caps in total and per source address, enforced on
//! accept before any TLS work; the TLS-handshake, header, body and idle
//! timeouts that free a slot a slow or silent client holds; the counters
//! `/metrics` shows and rate-limited logs of every refusal.
//!
//! Nothing here knows about HTTP routes or the coordinator: [`crate::transport`]
//! wires these pieces into the REST and gRPC listeners.

use dmc_core::time::DurationNs;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use crate::config::ServerConfig;
use crate::coordinator::{source_key, MetricsText};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// At most one warning per kind of refusal in this interval; the next one
/// says how many were not logged.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The two listeners; each has its own caps, so a flood of one leaves the
/// other reachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The REST listener (`rest_listen`).
    Rest = 0,
    /// The gRPC listener (`grpc_listen`).
    Grpc = 1,
}

impl Listener {
    /// Both, in the order `/metrics` lists them.
    pub const ALL: [Listener; 2] = [Listener::Rest, Listener::Grpc];

    /// Its `listener` label in `/metrics` and the logs.
    pub fn name(self) -> &'static str {
        match self {
            Listener::Rest => "rest",
            Listener::Grpc => "grpc",
        }
    }
}

/// A limit that refused or cut off a connection, named as its config key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The listener already holds `max_connections`: closed on accept.
    MaxConnections = 0,
    /// The source address (an IPv6 /64) already holds `max_connections_per_ip`: closed on accept.
    MaxConnectionsPerIp = 1,
    /// The TLS handshake took longer than `tls_handshake_timeout`.
    TlsHandshakeTimeout = 2,
    /// No request head (gRPC: no first bytes) within `header_read_timeout`.
    HeaderReadTimeout = 3,
    /// A REST request body did not arrive whole within `body_read_timeout`.
    BodyReadTimeout = 4,
    /// Nothing in flight (gRPC: nothing read), or writes stuck, for `idle_timeout`.
    IdleTimeout = 5,
    /// A gRPC call not answered within `grpc_request_timeout`.
    GrpcRequestTimeout = 6,
}

const LIMITS: usize = 7;

impl Limit {
    /// Its config key, as `/metrics` labels and the logs name it.
    pub fn name(self) -> &'static str {
        match self {
            Limit::MaxConnections => "max_connections",
            Limit::MaxConnectionsPerIp => "max_connections_per_ip",
            Limit::TlsHandshakeTimeout => "tls_handshake_timeout",
            Limit::HeaderReadTimeout => "header_read_timeout",
            Limit::BodyReadTimeout => "body_read_timeout",
            Limit::IdleTimeout => "idle_timeout",
            Limit::GrpcRequestTimeout => "grpc_request_timeout",
        }
    }

    /// Whether `listener` enforces this limit (for `/metrics`).
    fn applies_to(self, listener: Listener) -> bool {
        match self {
            Limit::BodyReadTimeout => listener == Listener::Rest,
            Limit::GrpcRequestTimeout => listener == Listener::Grpc,
            _ => true,
        }
    }

    fn is_cap(self) -> bool {
        matches!(self, Limit::MaxConnections | Limit::MaxConnectionsPerIp)
    }

    fn what(self) -> &'static str {
        match self {
            Limit::MaxConnections => "connection refused: max_connections open",
            Limit::MaxConnectionsPerIp => "connection refused: max_connections_per_ip open from this address",
            Limit::TlsHandshakeTimeout => "connection closed: TLS handshake not done within tls_handshake_timeout",
            Limit::HeaderReadTimeout => "connection closed: request head not received within header_read_timeout",
            Limit::BodyReadTimeout => "request refused: body not received within body_read_timeout",
            Limit::IdleTimeout => "connection closed: idle for idle_timeout",
            Limit::GrpcRequestTimeout => "request cancelled: not answered within grpc_request_timeout",
        }
    }
}

/// The edge's settings, taken from [`ServerConfig`].
#[derive(Clone, Debug)]
pub struct EdgeLimits {
    /// [`ServerConfig::max_connections`]: open connections per listener.
    pub max_connections: usize,
    /// [`ServerConfig::max_connections_per_ip`]: open connections per listener from one source.
    pub max_connections_per_ip: usize,
    /// [`ServerConfig::tls_handshake_timeout`].
    pub tls_handshake_timeout: Duration,
    /// [`ServerConfig::header_read_timeout`].
    pub header_read_timeout: Duration,
    /// [`ServerConfig::body_read_timeout`] (REST only).
    pub body_read_timeout: Duration,
    /// [`ServerConfig::idle_timeout`].
    pub idle_timeout: Duration,
    /// [`ServerConfig::http2_keepalive_interval`].
    pub http2_keepalive_interval: Duration,
    /// [`ServerConfig::http2_keepalive_timeout`].
    pub http2_keepalive_timeout: Duration,
    /// [`ServerConfig::max_concurrent_streams`]: HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// [`ServerConfig::grpc_request_timeout`] (gRPC only).
    pub grpc_request_timeout: Duration,
}

fn dur(ns: DurationNs) -> Duration {
    Duration::from_nanos(ns.max(DurationNs::ZERO).as_nanos() as u64)
}

impl EdgeLimits {
    /// The connection settings of `c`, durations as [`Duration`] (a negative one as zero).
    pub fn from_config(c: &ServerConfig) -> Self {
        EdgeLimits {
            max_connections: c.max_connections,
            max_connections_per_ip: c.max_connections_per_ip,
            tls_handshake_timeout: dur(c.tls_handshake_timeout),
            header_read_timeout: dur(c.header_read_timeout),
            body_read_timeout: dur(c.body_read_timeout),
            idle_timeout: dur(c.idle_timeout),
            http2_keepalive_interval: dur(c.http2_keepalive_interval),
            http2_keepalive_timeout: dur(c.http2_keepalive_timeout),
            max_concurrent_streams: c.max_concurrent_streams,
            grpc_request_timeout: dur(c.grpc_request_timeout),
        }
    }
}

/// Lets one message through per [`LOG_INTERVAL`] and counts the rest.
#[derive(Default)]
struct LogGate(Mutex<(Option<Instant>, u64)>);

impl LogGate {
    /// `Some(suppressed since the last message)` when this one may be logged.
    fn pass(&self, now: Instant) -> Option<u64> {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match g.0 {
            Some(last) if now < last + LOG_INTERVAL => {
                g.1 += 1;
                None
            }
            _ => {
                let suppressed = std::mem::take(&mut g.1);
                g.0 = Some(now);
                Some(suppressed)
            }
        }
    }
}

/// The edge's counters for `/metrics`, with the log gates of its refusals.
#[derive(Default)]
pub struct EdgeMetrics {
    open: [AtomicU64; 2],
    hits: [[AtomicU64; LIMITS]; 2],
    tls_failed: [AtomicU64; 2],
    gates: [[LogGate; LIMITS]; 2],
}

impl MetricsText for EdgeMetrics {
    fn metrics_text(&self) -> String {
        self.text()
    }
}

impl EdgeMetrics {
    /// Counts a refusal or cut-off and logs it (a warning, at most one per
    /// kind per [`LOG_INTERVAL`]; idle closes are routine and logged at debug).
    pub fn record(&self, listener: Listener, limit: Limit, peer: IpAddr) {
        self.hits[listener as usize][limit as usize].fetch_add(1, Ordering::Relaxed);
        if limit == Limit::IdleTimeout {
            tracing::debug!(listener = listener.name(), %peer, "{}", limit.what());
            return;
        }
        if let Some(suppressed) = self.gates[listener as usize][limit as usize].pass(Instant::now()) {
            tracing::warn!(
                listener = listener.name(),
                limit = limit.name(),
                %peer,
                suppressed,
                "{}",
                limit.what()
            );
        }
    }

    /// How often `limit` refused or cut off a connection on `listener`.
    pub fn hits(&self, listener: Listener, limit: Limit) -> u64 {
        self.hits[listener as usize][limit as usize].load(Ordering::Relaxed)
    }

    /// Connections `listener` holds now (`dmc_connections_open`).
    pub fn open(&self, listener: Listener) -> u64 {
        self.open[listener as usize].load(Ordering::Relaxed)
    }

    /// Counts a TLS handshake from `peer` that failed other than by timing
    /// out (`dmc_tls_handshakes_failed_total`), logged at debug: scanners
    /// and plain-text clients are routine.
    pub fn tls_failed(&self, listener: Listener, peer: IpAddr, error: &dyn std::fmt::Display) {
        self.tls_failed[listener as usize].fetch_add(1, Ordering::Relaxed);
        tracing::debug!(listener = listener.name(), %peer, %error, "TLS handshake failed");
    }

    /// The Prometheus text of these counters, in `Coordinator::metrics_text`'s style.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, lines: Vec<(String, u64)>| {
            out += &format!("# HELP {name} {help}\n# TYPE {name} {kind}\n");
            for (labels, v) in lines {
                out += &format!("{name}{{{labels}}} {v}\n");
            }
        };
        let per_listener = |a: &[AtomicU64; 2]| {
            Listener::ALL
                .iter()
                .map(|l| {
                    (
                        format!("listener=\"{}\"", l.name()),
                        a[*l as usize].load(Ordering::Relaxed),
                    )
                })
                .collect::<Vec<_>>()
        };
        let by_limit = |caps: bool| {
            let mut v = Vec::new();
            for l in Listener::ALL {
                for limit in ALL_LIMITS {
                    if limit.is_cap() == caps && limit.applies_to(l) {
                        v.push((
                            format!("listener=\"{}\",limit=\"{}\"", l.name(), limit.name()),
                            self.hits(l, limit),
                        ));
                    }
                }
            }
            v
        };
        family(
            "dmc_connections_open",
            "gauge",
            "Connections open now (accepted within the caps, TLS handshakes included).",
            per_listener(&self.open),
        );
        family(
            "dmc_connections_refused_total",
            "counter",
            "Connections closed on accept, before TLS: max_connections or max_connections_per_ip reached.",
            by_limit(true),
        );
        family(
            "dmc_connections_timed_out_total",
            "counter",
            "Connections or requests cut off by a timeout (idle_timeout also counts routine idle closes).",
            by_limit(false),
        );
        family(
            "dmc_tls_handshakes_failed_total",
            "counter",
            "TLS handshakes that failed (other than by tls_handshake_timeout).",
            per_listener(&self.tls_failed),
        );
        out
    }
}

const ALL_LIMITS: [Limit; LIMITS] = [
    Limit::MaxConnections,
    Limit::MaxConnectionsPerIp,
    Limit::TlsHandshakeTimeout,
    Limit::HeaderReadTimeout,
    Limit::BodyReadTimeout,
    Limit::IdleTimeout,
    Limit::GrpcRequestTimeout,
];

/// What every connection of one listener shares: its limits, counters and caps.
pub struct Edge {
    /// Which listener this is.
    pub listener: Listener,
    /// Its caps and timeouts.
    pub limits: EdgeLimits,
    /// The counters, shared by both listeners.
    pub metrics: Arc<EdgeMetrics>,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    /// Open connections per source ([`source_key`]); no zero entries.
    per_ip: HashMap<IpAddr, usize>,
}

impl Edge {
    /// A listener's edge with no connection admitted yet.
    pub fn new(listener: Listener, limits: EdgeLimits, metrics: Arc<EdgeMetrics>) -> Arc<Edge> {
        Arc::new(Edge {
            listener,
            limits,
            metrics,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// A slot for a connection from `ip`, or the cap that is full (counted
    /// and logged). Released when the [`Permit`] drops.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Limit> {
        let key = source_key(ip);
        let refused = {
            let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            if c.total >= self.limits.max_connections {
                Some(Limit::MaxConnections)
            } else {
                let n = c.per_ip.entry(key).or_insert(0);
                if *n >= self.limits.max_connections_per_ip {
                    Some(Limit::MaxConnectionsPerIp)
                } else {
                    *n += 1;
                    c.total += 1;
                    None
                }
            }
        };
        if let Some(limit) = refused {
            self.metrics.record(self.listener, limit, ip);
            return Err(limit);
        }
        self.metrics.open[self.listener as usize].fetch_add(1, Ordering::Relaxed);
        Ok(Permit {
            edge: self.clone(),
            key,
            peer: ip,
        })
    }

    /// Open connections from `ip`'s source (for tests and diagnostics).
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.per_ip.get(&source_key(ip)).copied().unwrap_or(0)
    }
}

/// One admitted connection's slot; dropping it frees the slot.
pub struct Permit {
    edge: Arc<Edge>,
    key: IpAddr,
    peer: IpAddr,
}

impl Permit {
    /// The listener's edge the slot belongs to.
    pub fn edge(&self) -> &Arc<Edge> {
        &self.edge
    }

    /// The connection's source address (not reduced to its /64).
    pub fn peer(&self) -> IpAddr {
        self.peer
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut c = self.edge.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_ip.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.key);
            }
        }
        drop(c);
        self.edge.metrics.open[self.edge.listener as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

// ------------------------------------------------------------ timeouts

/// Where a REST connection is, for its timeouts (Go's `net/http` model):
/// waiting for a request head (`header_read_timeout`, from the connection's
/// start or a kept-alive request's first byte), idle between requests
/// (`idle_timeout`), or busy with requests (no connection timeout; the
/// body has its own).
#[derive(Debug)]
enum Phase {
    Head(Instant),
    Idle(Instant),
    Busy(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    /// Bytes of the HTTP/2 preface's start ("PRI ") seen so far.
    Sniffing(u8),
    Http1,
    Http2,
}

struct PhaseState {
    phase: Phase,
    proto: Proto,
    /// The task that last waited for a read: woken when the phase changes
    /// so it re-arms its timer.
    reader: Option<Waker>,
}

/// The phase of one REST connection, shared by its I/O (which sees bytes
/// arrive) and its service (which sees requests start and end).
pub struct RestPhase {
    state: Mutex<PhaseState>,
    /// A request body on this HTTP/1.1 connection hit `body_read_timeout`:
    /// the response closes the connection.
    pub body_timed_out: AtomicBool,
}

const H2_START: &[u8; 4] = b"PRI ";

impl RestPhase {
    /// A new connection's phase: waiting for its first request head since now.
    pub fn new() -> Arc<RestPhase> {
        Arc::new(RestPhase {
            state: Mutex::new(PhaseState {
                phase: Phase::Head(Instant::now()),
                proto: Proto::Sniffing(0),
                reader: None,
            }),
            body_timed_out: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PhaseState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn on_read(&self, bytes: &[u8]) {
        let mut s = self.lock();
        if let Proto::Sniffing(mut k) = s.proto {
            for &b in bytes {
                if b != H2_START[k as usize] {
                    s.proto = Proto::Http1;
                    break;
                }
                k += 1;
                if k as usize == H2_START.len() {
                    // HTTP/2: the connection is idle until a stream opens;
                    // its frames are not a request head.
                    s.proto = Proto::Http2;
                    if let Phase::Head(t) = s.phase {
                        s.phase = Phase::Idle(t);
                    }
                    break;
                }
            }
            if let Proto::Sniffing(_) = s.proto {
                s.proto = Proto::Sniffing(k);
            }
        }
        if s.proto == Proto::Http1 {
            if let Phase::Idle(_) = s.phase {
                s.phase = Phase::Head(Instant::now());
            }
        }
    }

    fn deadline(&self, limits: &EdgeLimits, waker: &Waker) -> Option<(Instant, Limit)> {
        let mut s = self.lock();
        if !s.reader.as_ref().is_some_and(|w| w.will_wake(waker)) {
            s.reader = Some(waker.clone());
        }
        match s.phase {
            Phase::Head(t) => Some((t + limits.header_read_timeout, Limit::HeaderReadTimeout)),
            Phase::Idle(t) => Some((t + limits.idle_timeout, Limit::IdleTimeout)),
            Phase::Busy(_) => None,
        }
    }

    /// A request head arrived: the connection is busy until the guard drops.
    pub fn request_started(self: &Arc<Self>) -> RequestGuard {
        let mut s = self.lock();
        s.phase = match s.phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        };
        RequestGuard(self.clone())
    }
}

/// Held from a request's head until its response body ends.
pub struct RequestGuard(Arc<RestPhase>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.phase = match s.phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        };
        if let Phase::Idle(_) = s.phase {
            if let Some(w) = s.reader.take() {
                drop(s);
                w.wake();
            }
        }
    }
}

/// How a connection's reads are timed.
enum ReadClock {
    /// REST: by its [`RestPhase`].
    Rest(Arc<RestPhase>),
    /// gRPC: the first bytes within `header_read_timeout` of the handshake,
    /// then something (a request, a frame, a keep-alive ping's answer) at
    /// least every `idle_timeout`.
    Grpc { since: Instant, last_read: Option<Instant> },
}

/// A TCP connection, with TLS or (loopback only) without.
pub enum Transport {
    /// Plain TCP (`no_tls`, loopback only).
    Plain(TcpStream),
    /// TLS over TCP, handshake done.
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

macro_rules! delegate {
    ($self:ident, $io:ident => $e:expr) => {
        match &mut *$self {
            Transport::Plain($io) => $e,
            Transport::Tls($io) => $e,
        }
    };
}

impl AsyncRead for Transport {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        delegate!(self, io => Pin::new(io).poll_read(cx, buf))
    }
}

impl AsyncWrite for Transport {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        delegate!(self, io => Pin::new(io).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, io => Pin::new(io).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(io) => io.is_write_vectored(),
            Transport::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, io => Pin::new(io).poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, io => Pin::new(io).poll_shutdown(cx))
    }
}

/// An admitted connection after its handshake: holds its [`Permit`] and
/// enforces the read timeouts of its `ReadClock` and, for writes, that
/// the client takes some bytes at least every `idle_timeout` (a reader that
/// never drains its window holds a slot otherwise). A timeout fails the
/// pending read or write with `TimedOut`, which ends the connection.
pub struct EdgeIo {
    io: Transport,
    clock: ReadClock,
    permit: Permit,
    local: SocketAddr,
    remote: SocketAddr,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
    write_blocked_since: Option<Instant>,
    /// When a write last made progress: a response still being written
    /// (hyper has taken its whole body) is no idle connection.
    last_write: Option<Instant>,
    expired: bool,
    /// Set once the write side is shut: until then, what the client still
    /// sends is drained ([`LINGER`]).
    lingering: Option<(Instant, usize)>,
}

/// How long, and how many bytes, a REST connection closing with a request
/// body still arriving (a 413, a refusal before the body was read) keeps
/// reading and discarding it after its response, as nginx's lingering
/// close does: closing at once resets the connection under the client,
/// which then sees a broken pipe instead of the answer.
pub const LINGER: Duration = Duration::from_secs(2);
/// The most bytes a lingering close reads and discards (4 MiB).
pub const LINGER_BYTES: usize = 4 << 20;

impl EdgeIo {
    /// A REST connection, its reads timed by `phase`.
    pub fn rest(io: Transport, permit: Permit, phase: Arc<RestPhase>, local: SocketAddr, remote: SocketAddr) -> Self {
        Self::new(io, ReadClock::Rest(phase), permit, local, remote)
    }

    /// A gRPC connection: first bytes within `header_read_timeout` from now, then reads at least every `idle_timeout`.
    pub fn grpc(io: Transport, permit: Permit, local: SocketAddr, remote: SocketAddr) -> Self {
        let clock = ReadClock::Grpc {
            since: Instant::now(),
            last_read: None,
        };
        Self::new(io, clock, permit, local, remote)
    }

    fn new(io: Transport, clock: ReadClock, permit: Permit, local: SocketAddr, remote: SocketAddr) -> Self {
        EdgeIo {
            io,
            clock,
            permit,
            local,
            remote,
            read_timer: None,
            write_timer: None,
            write_blocked_since: None,
            last_write: None,
            expired: false,
            lingering: None,
        }
    }

    /// The listener's address the connection arrived on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote
    }

    fn timed_out(&mut self, limit: Limit) -> io::Error {
        if !self.expired {
            self.expired = true;
            let edge = self.permit.edge();
            edge.metrics.record(edge.listener, limit, self.remote.ip());
        }
        io::Error::new(io::ErrorKind::TimedOut, limit.name())
    }

    /// Arms `timer` for `deadline`; true once it has passed.
    fn fires(timer: &mut Option<Pin<Box<Sleep>>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
        let t = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if t.deadline() != deadline {
            t.as_mut().reset(deadline);
        }
        t.as_mut().poll(cx).is_ready()
    }

    fn poll_read_deadline(&mut self, cx: &mut Context<'_>) -> Option<Limit> {
        let limits = &self.permit.edge().limits;
        let (deadline, limit) = match &self.clock {
            ReadClock::Rest(phase) => match phase.deadline(limits, cx.waker())? {
                (t, Limit::IdleTimeout) => {
                    let wrote = self.last_write.map_or(t, |w| w + limits.idle_timeout);
                    (t.max(wrote), Limit::IdleTimeout)
                }
                d => d,
            },
            ReadClock::Grpc { since, last_read: None } => {
                (*since + limits.header_read_timeout, Limit::HeaderReadTimeout)
            }
            ReadClock::Grpc { last_read: Some(t), .. } => (*t + limits.idle_timeout, Limit::IdleTimeout),
        };
        Self::fires(&mut self.read_timer, deadline, cx).then_some(limit)
    }

    /// A write is pending: fails it once none has made progress for `idle_timeout`.
    fn write_pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let since = *self.write_blocked_since.get_or_insert_with(Instant::now);
        let deadline = since + self.permit.edge().limits.idle_timeout;
        if Self::fires(&mut self.write_timer, deadline, cx) {
            return Poll::Ready(Err(self.timed_out(Limit::IdleTimeout)));
        }
        Poll::Pending
    }

    /// After a write or flush: `bytes` is whether it moved any (a flush
    /// with nothing to send is no activity: hyper flushes whenever its task
    /// wakes, the idle timer's own wake-up included).
    fn wrote<T>(
        &mut self,
        r: Poll<io::Result<T>>,
        bytes: impl Fn(&T) -> bool,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match r {
            Poll::Pending => self.write_pending(cx),
            ready => {
                self.write_blocked_since = None;
                if matches!(&ready, Poll::Ready(Ok(v)) if bytes(v)) {
                    self.last_write = Some(Instant::now());
                }
                ready
            }
        }
    }
}

impl AsyncRead for EdgeIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.expired {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let got = &buf.filled()[before..];
                if !got.is_empty() {
                    match &mut this.clock {
                        ReadClock::Rest(phase) => phase.on_read(got),
                        ReadClock::Grpc { last_read, .. } => *last_read = Some(Instant::now()),
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.poll_read_deadline(cx) {
                Some(limit) => Poll::Ready(Err(this.timed_out(limit))),
                None => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for EdgeIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(r, |n| *n > 0, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(r, |n| *n > 0, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.io).poll_flush(cx);
        this.wrote(r, |_| false, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let (until, mut drained) = match this.lingering {
            Some(l) => l,
            None => {
                std::task::ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
                if !matches!(this.clock, ReadClock::Rest(_)) || this.expired {
                    return Poll::Ready(Ok(()));
                }
                (Instant::now() + LINGER, 0)
            }
        };
        // Drain until the client closes, the linger time or bytes run out.
        let mut scratch = [0u8; 8192];
        loop {
            this.lingering = Some((until, drained));
            if drained >= LINGER_BYTES || Self::fires(&mut this.read_timer, until, cx) {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => drained += buf.filled().len(),
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl tonic::transport::server::Connected for EdgeIo {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        tonic::transport::server::TcpConnectInfo {
            local_addr: Some(self.local),
            remote_addr: Some(self.remote),
        }
    }
}

// ------------------------------------------------------------ request bodies

/// A request body not received whole within `body_read_timeout` of its head.
#[derive(Debug)]
pub struct BodyTimeout(pub Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "request body not received within body_read_timeout ({}s)",
            self.0.as_secs_f64()
        )
    }
}

impl std::error::Error for BodyTimeout {}

/// The [`BodyTimeout`] in `e`'s chain of sources, if any.
pub fn body_timeout_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyTimeout> {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<BodyTimeout>() {
            return Some(t);
        }
        cur = e.source();
    }
    None
}

/// A REST request body that fails with [`BodyTimeout`] once
/// `body_read_timeout` has passed since its head (only a body that is
/// waited for arms a timer).
pub struct TimedBody<B> {
    inner: B,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    phase: Arc<RestPhase>,
    edge: Arc<Edge>,
    peer: IpAddr,
    expired: bool,
}

impl<B> TimedBody<B> {
    /// Wraps `inner`; its deadline is `body_read_timeout` from now (the head's arrival).
    pub fn new(inner: B, phase: Arc<RestPhase>, edge: Arc<Edge>, peer: IpAddr) -> Self {
        TimedBody {
            inner,
            deadline: Instant::now() + edge.limits.body_read_timeout,
            timer: None,
            phase,
            edge,
            peer,
            expired: false,
        }
    }
}

impl<B> http_body::Body for TimedBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.expired {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(this.edge.limits.body_read_timeout)))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(f) => Poll::Ready(f.map(|r| r.map_err(Into::into))),
            Poll::Pending => {
                if EdgeIo::fires(&mut this.timer, this.deadline, cx) {
                    this.expired = true;
                    this.phase.body_timed_out.store(true, Ordering::Relaxed);
                    this.edge
                        .metrics
                        .record(this.edge.listener, Limit::BodyReadTimeout, this.peer);
                    return Poll::Ready(Some(Err(Box::new(BodyTimeout(this.edge.limits.body_read_timeout)))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        !self.expired && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request's [`RequestGuard`] until it ends.
pub struct GuardedBody<B> {
    inner: B,
    guard: Option<RequestGuard>,
}

impl<B> GuardedBody<B> {
    /// Wraps `inner`, holding `guard` until the body ends or is dropped.
    pub fn new(inner: B, guard: RequestGuard) -> Self {
        GuardedBody {
            inner,
            guard: Some(guard),
        }
    }
}

impl<B> http_body::Body for GuardedBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, B::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = r {
            self.guard = None;
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_ip: usize) -> EdgeLimits {
        let mut c = ServerConfig::with_data_dir("d".into());
        c.max_connections = total;
        c.max_connections_per_ip = per_ip;
        EdgeLimits::from_config(&c)
    }

    #[test]
    fn permits_count_per_source_and_in_total_and_free_on_drop() {
        let metrics = Arc::new(EdgeMetrics::default());
        let edge = Edge::new(Listener::Rest, limits(3, 2), metrics.clone());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let p1 = edge.admit(a).unwrap();
        let p2 = edge.admit(a).unwrap();
        assert_eq!(edge.admit(a).err(), Some(Limit::MaxConnectionsPerIp));
        let p3 = edge.admit(b).unwrap();
        assert_eq!(edge.admit(b).err(), Some(Limit::MaxConnections));
        assert_eq!(metrics.open(Listener::Rest), 3);
        drop(p1);
        assert_eq!(edge.open_from(a), 1);
        let p4 = edge.admit(b).unwrap();
        drop((p2, p3, p4));
        assert_eq!(metrics.open(Listener::Rest), 0);
        assert!(
            edge.counts.lock().unwrap().per_ip.is_empty(),
            "zero entries are removed"
        );
        assert_eq!(metrics.hits(Listener::Rest, Limit::MaxConnectionsPerIp), 1);
        assert_eq!(metrics.hits(Listener::Rest, Limit::MaxConnections), 1);
        let text = metrics.text();
        assert!(
            text.contains("dmc_connections_refused_total{listener=\"rest\",limit=\"max_connections_per_ip\"} 1\n"),
            "{text}"
        );
        assert!(
            !text.contains("listener=\"grpc\",limit=\"body_read_timeout\""),
            "{text}"
        );
    }

    #[test]
    fn ipv6_sources_count_per_64_and_mapped_ipv4_as_ipv4() {
        let k = |s: &str| source_key(s.parse().unwrap());
        assert_eq!(k("2001:db8:1:2:aaaa::1"), k("2001:db8:1:2:bbbb::9"));
        assert_ne!(k("2001:db8:1:2::1"), k("2001:db8:1:3::1"));
        assert_eq!(k("::ffff:192.0.2.7"), k("192.0.2.7"));
    }

    #[test]
    fn log_gate_passes_one_per_interval_and_counts_the_rest() {
        let g = LogGate::default();
        let t = Instant::now();
        assert_eq!(g.pass(t), Some(0));
        assert_eq!(g.pass(t + Duration::from_secs(1)), None);
        assert_eq!(g.pass(t + Duration::from_secs(2)), None);
        assert_eq!(g.pass(t + LOG_INTERVAL), Some(2));
    }

    #[test]
    fn rest_phase_follows_http1_and_http2() {
        let l = limits(10, 10);
        let w = futures_noop_waker();
        let p = RestPhase::new();
        assert_eq!(
            p.deadline(&l, &w).unwrap().1,
            Limit::HeaderReadTimeout,
            "first request head"
        );
        p.on_read(b"GET / HTTP/1.1\r\n");
        let g = p.request_started();
        assert!(p.deadline(&l, &w).is_none(), "busy: no connection timeout");
        drop(g);
        assert_eq!(p.deadline(&l, &w).unwrap().1, Limit::IdleTimeout, "kept alive");
        p.on_read(b"G");
        assert_eq!(
            p.deadline(&l, &w).unwrap().1,
            Limit::HeaderReadTimeout,
            "next head begun"
        );

        let p = RestPhase::new();
        p.on_read(b"PR");
        assert_eq!(p.deadline(&l, &w).unwrap().1, Limit::HeaderReadTimeout);
        p.on_read(b"I * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert_eq!(
            p.deadline(&l, &w).unwrap().1,
            Limit::IdleTimeout,
            "HTTP/2 frames are no head"
        );
        p.on_read(b"more frames");
        assert_eq!(p.deadline(&l, &w).unwrap().1, Limit::IdleTimeout);
    }

    fn futures_noop_waker() -> Waker {
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }
        Waker::from(Arc::new(Noop))
    }
}
