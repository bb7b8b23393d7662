//! TLS to a coordinator (and to lnd, whose client in dmc-lnd uses the same
//! pinning) with rustls.
//!
//! lnd's `tls.cert` is self-signed and marked as a CA (`IsCA: true`, so it
//! can sign itself). lncli trusts it as its only root, and Go accepts a root
//! as its own leaf; webpki does not (`CaUsedAsEndEntity`). So the verifier
//! here accepts the server's certificate if it is **byte for byte one of
//! the certificates in the trusted file** (pinning: the server then proved
//! it holds that certificate's key), and otherwise checks the chain and
//! name against those certificates as roots, as usual. Without a file
//! (a coordinator with a public certificate) the Mozilla roots of
//! `webpki-roots` are used.
//!
//! [`TlsConnector`] dials TCP and does the handshake itself (ALPN `h2`,
//! which grpc-go servers require); tonic then speaks HTTP/2 over it.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;

use crate::error::{Error, Result};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads the PEM certificates of `path`; errors name `flag` and the file.
pub fn load_certs(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path).map_err(|e| Error::config(format!("{flag}: {}: {e}", path.display())))?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::config(format!("{flag}: {}: not a PEM certificate file: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::config(format!(
            "{flag}: {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file",
            path.display()
        )));
    }
    Ok(certs)
}

/// Pins `certs` (see the module doc), falling back to chain validation
/// with them as roots.
#[derive(Debug)]
struct PinnedVerifier {
    pinned: Vec<CertificateDer<'static>>,
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if self.pinned.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            return Ok(ServerCertVerified::assertion());
        }
        match &self.chain {
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now),
            None => Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A client config trusting exactly `certs` (pinned, or as roots).
pub fn pinned_client_config(certs: Vec<CertificateDer<'static>>) -> Result<Arc<rustls::ClientConfig>> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    let (_added, _ignored) = roots.add_parsable_certificates(certs.iter().cloned());
    let chain = if roots.is_empty() {
        None
    } else {
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .ok()
    };
    let verifier = Arc::new(PinnedVerifier {
        pinned: certs,
        chain,
        provider: provider.clone(),
    });
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("tls: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

/// A client config trusting the Mozilla root CAs (public certificates).
pub fn public_roots_client_config() -> Result<Arc<rustls::ClientConfig>> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("tls: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

/// Why a connection could not be set up; found again in tonic's error
/// chain by [`connect_failure`].
#[derive(Debug)]
pub enum ConnectFailure {
    /// TCP connect failed (refused, unreachable, name not found).
    Tcp(std::io::Error),
    /// The TLS handshake failed; `rustls` holds the TLS reason if it was one.
    Tls {
        /// The I/O error the handshake ended with.
        io: std::io::Error,
        /// The rustls error inside `io`, if any.
        rustls: Option<rustls::Error>,
    },
}

impl ConnectFailure {
    /// The server's certificate was not the trusted one.
    pub fn is_certificate_problem(&self) -> bool {
        matches!(
            self,
            ConnectFailure::Tls {
                rustls: Some(rustls::Error::InvalidCertificate(_)),
                ..
            }
        )
    }

    /// What is wrong with the certificate, when it says more than "not
    /// the trusted one" (expired, not yet valid, wrong name).
    pub fn certificate_detail(&self) -> Option<String> {
        match self {
            ConnectFailure::Tls {
                rustls: Some(rustls::Error::InvalidCertificate(c)),
                ..
            } => match c {
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. }
                | CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => Some(format!("{c:?}")),
                _ => None,
            },
            _ => None,
        }
    }

    /// TLS itself failed (not TLS on the other side, no common protocol):
    /// a configuration problem rather than an outage.
    pub fn is_tls_problem(&self) -> bool {
        matches!(self, ConnectFailure::Tls { rustls: Some(_), .. })
    }
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectFailure::Tcp(e) => write!(f, "{e}"),
            ConnectFailure::Tls { rustls: Some(e), .. } => write!(f, "TLS handshake failed: {e}"),
            ConnectFailure::Tls { io, rustls: None } => write!(f, "TLS handshake failed: {io}"),
        }
    }
}

impl std::error::Error for ConnectFailure {}

/// Finds a [`ConnectFailure`] in an error's source chain.
pub fn connect_failure<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a ConnectFailure> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(f) = err.downcast_ref::<ConnectFailure>() {
            return Some(f);
        }
        cur = err.source();
    }
    None
}

/// The whole source chain as one line (tonic's top-level messages are
/// often just "transport error").
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// Dials `host:port` and does the TLS handshake with `config`; tonic's
/// channel then runs HTTP/2 over the stream. The URI tonic passes is
/// ignored: the address is fixed here.
#[derive(Clone)]
pub struct TlsConnector {
    host: String,
    port: u16,
    config: Arc<rustls::ClientConfig>,
}

impl TlsConnector {
    /// A connector to `host:port` (a name or IP address, IPv6 without
    /// brackets; also the TLS server name) with `config`; it dials only
    /// when tonic connects.
    pub fn new(host: &str, port: u16, config: Arc<rustls::ClientConfig>) -> Self {
        TlsConnector {
            host: host.to_string(),
            port,
            config,
        }
    }
}

type ConnectFuture = Pin<
    Box<
        dyn Future<Output = std::result::Result<TokioIo<tokio_rustls::client::TlsStream<TcpStream>>, ConnectFailure>>
            + Send,
    >,
>;

impl tower_service::Service<http::Uri> for TlsConnector {
    type Response = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;
    type Error = ConnectFailure;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<std::result::Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: http::Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let tcp = TcpStream::connect((this.host.as_str(), this.port))
                .await
                .map_err(ConnectFailure::Tcp)?;
            let _ = tcp.set_nodelay(true);
            let name = ServerName::try_from(this.host.clone()).map_err(|e| ConnectFailure::Tls {
                io: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("server name {:?}: {e}", this.host),
                ),
                rustls: None,
            })?;
            let tls = tokio_rustls::TlsConnector::from(this.config.clone())
                .connect(name, tcp)
                .await
                .map_err(|io| {
                    let rustls = io
                        .get_ref()
                        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                        .cloned();
                    ConnectFailure::Tls { io, rustls }
                })?;
            Ok(TokioIo::new(tls))
        })
    }
}

/// A failed connect, with the file to check when TLS was the problem.
/// `who` is "lnd" or "the coordinator"; `cert_flag` the flag that gave `cert`.
pub fn connect_error(
    e: &tonic::transport::Error,
    address: &str,
    who: &str,
    cert: Option<&Path>,
    cert_flag: &str,
) -> Error {
    match connect_failure(e) {
        Some(f) if f.is_certificate_problem() => {
            let detail = f.certificate_detail().map(|d| format!(" ({d})")).unwrap_or_default();
            match cert {
                Some(cert) => Error::refused(format!(
                    "TLS: the certificate {who} presented at {address} is not the one in {} ({cert_flag}) nor \
                     issued by it{detail}; is {} the certificate of {who} at {address}?",
                    cert.display(),
                    cert.display()
                )),
                None => Error::refused(format!(
                    "TLS: the certificate {who} presented at {address} is not issued by a public root CA{detail}; \
                     give {who}'s certificate with {cert_flag}"
                )),
            }
        }
        Some(f) if f.is_tls_problem() => Error::refused(format!(
            "TLS with {who} at {address} failed: {f} (is {address} {who}'s TLS gRPC port?)"
        )),
        Some(f) => Error::unavailable(format!("{who} at {address} is not reachable: {f}")),
        None => Error::unavailable(format!("{who} at {address} is not reachable: {}", error_chain(e))),
    }
}
