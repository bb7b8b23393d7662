//! The coordinator's v2 API (`dmc.coordinator.v2.Coordinator`) from the
//! node's side: signed registrations and cursor queries.

use std::path::PathBuf;
use std::time::Duration;

use dmc_core::rpc;
use dmc_proto::dmc::coordinator::v2 as pb;
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

use crate::client::connect_error;
use crate::error::{Error, ErrorKind, Result};
use crate::tls::{load_certs, pinned_client_config, public_roots_client_config, TlsConnector};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest query message accepted (the coordinator streams 4600 pairs per
/// message by default, well below this).
const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Where the coordinator is and which certificate to trust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoordinatorOptions {
    /// `https://host:port` (or `http://` for a `--no-tls` loopback one).
    pub url: String,
    /// PEM certificate to trust (pinned, or as roots); `None` trusts the
    /// public CAs.
    pub tls_cert: Option<PathBuf>,
    /// The flag that gave `tls_cert`, for error messages.
    pub tls_cert_flag: &'static str,
}

/// How a registration ended, when it did not fail.
#[derive(Clone, Debug, PartialEq)]
pub enum Registered {
    Accepted(pb::RegisterResponse),
    /// Over `max_pairs_per_request` or `max_body_bytes`: send fewer pairs.
    TooLarge(String),
    /// Every pair was older than the coordinator's staleness window.
    AllStale(String),
    /// The coordinator had already received this exact body.
    Duplicate,
}

/// One pair of a query answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregatedPair {
    pub pair: rpc::PairHistory,
    pub reporters: u32,
    pub age_seconds: i64,
}

/// A query answer, all streamed messages together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    pub pairs: Vec<AggregatedPair>,
    pub removed: Vec<(Vec<u8>, Vec<u8>)>,
    pub cursor: u64,
    pub full_resync: bool,
}

/// A connected coordinator.
pub struct CoordinatorClient {
    url: String,
    inner: pb::coordinator_client::CoordinatorClient<Channel>,
}

/// A channel to a coordinator, for either protocol (v2 here, ecrpc in
/// `dmc ec`): `https://` with the certificate in `opts.tls_cert` pinned
/// (whatever name it carries, as lnd's own self-signed certificates are
/// trusted) or the public CAs without one; `http://` for a `--no-tls`
/// loopback coordinator.
pub async fn channel(opts: &CoordinatorOptions) -> Result<Channel> {
    let url = opts.url.trim_end_matches('/').to_string();
    let uri: http::Uri = url
        .parse()
        .map_err(|e| Error::config(format!("--ec: {url:?} is not a URL: {e}")))?;
    let scheme = uri.scheme_str().unwrap_or("");
    let host = uri
        .host()
        .ok_or_else(|| Error::config(format!("--ec: {url:?} has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    match scheme {
        "https" => {
            let port = uri.port_u16().unwrap_or(443);
            let tls = match &opts.tls_cert {
                Some(path) => pinned_client_config(load_certs(path, opts.tls_cert_flag)?)?,
                None => public_roots_client_config()?,
            };
            let authority = uri.authority().map(|a| a.as_str()).unwrap_or(&host);
            endpoint(&format!("http://{authority}"), &url)?
                .connect_with_connector(TlsConnector::new(&host, port, tls))
                .await
                .map_err(|e| {
                    connect_error(
                        &e,
                        &url,
                        "the coordinator",
                        opts.tls_cert.as_deref(),
                        opts.tls_cert_flag,
                    )
                })
        }
        "http" => endpoint(&url, &url)?
            .connect()
            .await
            .map_err(|e| Error::unavailable(format!("the coordinator at {url} is not reachable: {e}"))),
        _ => Err(Error::config(format!(
            "--ec: {url:?} must start with https:// (or http:// for a --no-tls coordinator)"
        ))),
    }
}

impl CoordinatorClient {
    pub async fn connect(opts: &CoordinatorOptions) -> Result<CoordinatorClient> {
        let url = opts.url.trim_end_matches('/').to_string();
        let channel = channel(opts).await?;
        Ok(CoordinatorClient {
            url,
            inner: pb::coordinator_client::CoordinatorClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// `Register`: one signed registration. Refusals that the caller can
    /// act on (too big: split; all stale: nothing to send) come back as
    /// [`Registered`] variants, the rest as errors.
    pub async fn register(&mut self, body: Vec<u8>, signature: String) -> Result<Registered> {
        match self.inner.register(pb::SignedRegistration { body, signature }).await {
            Ok(r) => Ok(Registered::Accepted(r.into_inner())),
            Err(s) => {
                if s.code() == Code::ResourceExhausted
                    && matches!(
                        limit_name(&s).as_deref(),
                        Some("max_pairs_per_request" | "max_body_bytes")
                    )
                {
                    return Ok(Registered::TooLarge(s.message().to_string()));
                }
                if s.code() == Code::Unauthenticated && s.message().contains("already received") {
                    // A retry of a registration whose answer was lost.
                    return Ok(Registered::Duplicate);
                }
                if s.code() == Code::InvalidArgument && s.message().contains("older than the staleness window") {
                    return Ok(Registered::AllStale(s.message().to_string()));
                }
                Err(coordinator_status_error(&self.url, "Register", &s))
            }
        }
    }

    /// `Query`: the changes after `since`, or everything.
    pub async fn query(&mut self, since: Option<u64>) -> Result<Delta> {
        let mut stream = self
            .inner
            .query(pb::QueryRequest {
                since_cursor: since.unwrap_or(0),
                has_cursor: since.is_some(),
                max_pairs_per_message: 0,
            })
            .await
            .map_err(|s| coordinator_status_error(&self.url, "Query", &s))?
            .into_inner();
        let mut d = Delta::default();
        while let Some(msg) = stream
            .message()
            .await
            .map_err(|s| coordinator_status_error(&self.url, "Query", &s))?
        {
            d.cursor = msg.cursor;
            d.full_resync |= msg.full_resync;
            for p in msg.pairs {
                if let Some(pair) = p.pair.as_ref() {
                    d.pairs.push(AggregatedPair {
                        pair: dmc_proto::pair_from_proto(pair),
                        reporters: p.reporters,
                        age_seconds: p.age_seconds,
                    });
                }
            }
            d.removed
                .extend(msg.removed.into_iter().map(|r| (r.node_from, r.node_to)));
        }
        Ok(d)
    }
}

fn endpoint(uri: &str, url: &str) -> Result<Endpoint> {
    Ok(Endpoint::from_shared(uri.to_string())
        .map_err(|e| Error::config(format!("--ec: {url:?} is not a URL: {e}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .tcp_nodelay(true))
}

/// Which coordinator limit a ResourceExhausted answer names (its message
/// is a JSON object with a `limit` field).
pub fn limit_name(s: &tonic::Status) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(s.message()).ok()?;
    v.get("limit")?.as_str().map(str::to_string)
}

pub fn coordinator_status_error(url: &str, rpc: &str, s: &tonic::Status) -> Error {
    if s.code() == Code::Unimplemented {
        return Error::config(format!(
            "the server at {url} does not offer dmc.coordinator.v2.Coordinator/{rpc}{}; is --ec a dmc \
             coordinator's gRPC address?",
            crate::client::paren(s.message())
        ));
    }
    let kind = match s.code() {
        Code::Unauthenticated | Code::PermissionDenied => ErrorKind::Refused,
        Code::ResourceExhausted => match limit_name(s).as_deref() {
            // Too many requests this minute: wait and retry.
            Some("requests_per_minute") | None => ErrorKind::Unavailable,
            _ => ErrorKind::Invalid,
        },
        Code::Unavailable | Code::DeadlineExceeded | Code::Aborted | Code::Cancelled => ErrorKind::Unavailable,
        Code::Unknown if s.message().contains("transport") => ErrorKind::Unavailable,
        _ => ErrorKind::Invalid,
    };
    Error::new(
        kind,
        format!("the coordinator at {url}: {rpc}: {:?}: {}", s.code(), s.message()),
    )
}
