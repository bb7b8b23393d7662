//! The listeners: one accept loop for REST and gRPC that applies the
//! connection caps before any TLS work and bounds the handshake
//! ([`crate::limits`]), REST connections served by hyper with the
//! header, body and idle timeouts, and the gRPC request timeout.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response, Version};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::limits::{
    Edge, EdgeIo, EdgeLimits, EdgeMetrics, GuardedBody, Limit, Listener, Permit, RestPhase, TimedBody, Transport,
};

/// How long open connections may finish their requests after shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Waits until `stop` turns true.
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|v| *v).await;
}

/// Errors of one connection that `accept` reports; the listener is fine.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::Interrupted
            | std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::TimedOut
    )
}

/// Accepts on `listener` until `stop`. Each connection is admitted by
/// `edge`'s caps or closed at once (before reading a byte of it); admitted
/// ones get `TCP_NODELAY` (without it Nagle's algorithm and delayed ACKs
/// stall small responses by ~40 ms), their TLS handshake within
/// `tls_handshake_timeout`, and are then handed to `serve` in their own
/// task. Returns once stopped and every connection task has ended.
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    edge: Arc<Edge>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
    serve: F,
) where
    F: Fn(Transport, Permit, SocketAddr, SocketAddr) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let local = listener.local_addr().ok();
    let mut tasks = tokio::task::JoinSet::new();
    let mut last_accept_warning: Option<tokio::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = stopped(&mut stop) => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            a = listener.accept() => a,
        };
        let (tcp, remote) = match accepted {
            Ok(a) => a,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors or memory: back off instead of
                // spinning; open connections finishing frees them.
                let now = tokio::time::Instant::now();
                if last_accept_warning.is_none_or(|t| now >= t + crate::limits::LOG_INTERVAL) {
                    last_accept_warning = Some(now);
                    tracing::warn!(listener = edge.listener.name(), error = %e, "accept failed; retrying");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = edge.admit(remote.ip()) else {
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().ok().or(local).unwrap_or(remote);
        let tls = tls.clone();
        let serve = serve.clone();
        let mut stop = stop.clone();
        let timeout = edge.limits.tls_handshake_timeout;
        let listener_kind = edge.listener;
        tasks.spawn(async move {
            let io = match tls {
                None => Transport::Plain(tcp),
                Some(acceptor) => {
                    let shake = tokio::time::timeout(timeout, acceptor.accept(tcp));
                    let r = tokio::select! {
                        r = shake => r,
                        _ = stopped(&mut stop) => return,
                    };
                    let metrics = &permit.edge().metrics;
                    match r {
                        Ok(Ok(s)) => Transport::Tls(Box::new(s)),
                        Ok(Err(e)) => return metrics.tls_failed(listener_kind, remote.ip(), &e),
                        Err(_) => return metrics.record(listener_kind, Limit::TlsHandshakeTimeout, remote.ip()),
                    }
                }
            };
            serve(io, permit, local, remote).await;
        });
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

/// hyper's connection settings for REST. hyper's own header timer is off:
/// it would also run while a kept-alive connection waits for its next
/// request, so [`EdgeIo`] times heads and idleness apart.
pub fn rest_builder(l: &EdgeLimits) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None::<Duration>)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(l.http2_keepalive_interval))
        .keep_alive_timeout(l.http2_keepalive_timeout)
        .max_concurrent_streams(l.max_concurrent_streams);
    b
}

/// Serves one admitted REST connection until it ends, or until `stop`
/// (then its requests get [`SHUTDOWN_GRACE`] to finish).
pub async fn serve_rest_connection(
    io: Transport,
    permit: Permit,
    local: SocketAddr,
    remote: SocketAddr,
    router: axum::Router,
    builder: auto::Builder<TokioExecutor>,
    mut stop: watch::Receiver<bool>,
) {
    let phase = RestPhase::new();
    let edge = permit.edge().clone();
    let io = EdgeIo::rest(io, permit, phase.clone(), local, remote);
    let svc = RestService {
        router,
        remote,
        phase,
        edge,
    };
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(peer = %remote, error = %e, "REST connection ended with an error");
            }
        }
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn.as_mut()).await;
        }
    }
}

/// The router for one connection: times each request's body, marks the
/// connection busy until the response body ends, and gives handlers the
/// peer address (`ConnectInfo<SocketAddr>`).
#[derive(Clone)]
struct RestService {
    router: axum::Router,
    remote: SocketAddr,
    phase: Arc<RestPhase>,
    edge: Arc<Edge>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl hyper::service::Service<Request<Incoming>> for RestService {
    type Response = Response<GuardedBody<axum::body::Body>>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let guard = self.phase.request_started();
        let http1 = req.version() < Version::HTTP_2;
        let (phase, edge, remote) = (self.phase.clone(), self.edge.clone(), self.remote);
        let mut req = req.map(|b| TimedBody::new(b, phase.clone(), edge, remote.ip()));
        req.extensions_mut().insert(ConnectInfo(remote));
        let router = self.router.clone();
        Box::pin(async move {
            let Ok(mut resp) = tower::ServiceExt::oneshot(router, req).await;
            if http1 && phase.body_timed_out.load(std::sync::atomic::Ordering::Relaxed) {
                // The rest of that body may still arrive: never read it as a request.
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(resp.map(|b| GuardedBody::new(b, guard)))
        })
    }
}

/// The gRPC server's request timeout: a call not answered (for a stream:
/// its first message not ready) within `grpc_request_timeout` ends with
/// `DEADLINE_EXCEEDED`, counted and logged. A client's shorter
/// `grpc-timeout` still applies (tonic).
#[derive(Clone)]
pub struct GrpcTimeoutLayer {
    /// The configured `grpc_request_timeout`.
    pub timeout: Duration,
    /// Where timed-out calls are counted.
    pub metrics: Arc<EdgeMetrics>,
}

impl<S> tower::Layer<S> for GrpcTimeoutLayer {
    type Service = GrpcTimeout<S>;

    fn layer(&self, inner: S) -> GrpcTimeout<S> {
        GrpcTimeout {
            inner,
            timeout: self.timeout,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`GrpcTimeoutLayer`] wraps around tonic's.
#[derive(Clone)]
pub struct GrpcTimeout<S> {
    inner: S,
    timeout: Duration,
    metrics: Arc<EdgeMetrics>,
}

impl<S, B> tower::Service<Request<B>> for GrpcTimeout<S>
where
    S: tower::Service<Request<B>, Response = Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let peer = req
            .extensions()
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|i| i.remote_addr())
            .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
        let (timeout, metrics) = (self.timeout, self.metrics.clone());
        let call = self.inner.call(req);
        Box::pin(async move {
            match tokio::time::timeout(timeout, call).await {
                Ok(r) => r,
                Err(_) => {
                    metrics.record(Listener::Grpc, Limit::GrpcRequestTimeout, peer);
                    Ok(tonic::Status::deadline_exceeded(format!(
                        "not answered within grpc_request_timeout ({}s)",
                        timeout.as_secs_f64()
                    ))
                    .into_http())
                }
            }
        })
    }
}
