//! dmc's v2 API (`dmc.coordinator.v2.Coordinator`): signed registrations
//! and cursor queries. Each call comes in two forms: the coordinator's
//! answer as it came (`call_*`, a [`tonic::Status`] on refusal, for
//! `dmc ec` to print), and classified for a loop that retries
//! ([`V2Client::register`], [`V2Client::query`]).

use dmc_core::rpc;
use dmc_proto::coordinator_v2 as pb;
use prost::Message;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::channel::{channel, CoordinatorOptions};
use crate::error::{paren, Error, ErrorKind, Result};

/// Largest query message accepted (the coordinator streams 4600 pairs per
/// message by default, well below this).
const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// How a registration ended, when it did not fail.
#[derive(Clone, Debug, PartialEq)]
pub enum RegisterOutcome {
    /// Merged: the coordinator's counts of accepted and stale pairs, and its new cursor.
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
    /// The pair as merged by the coordinator.
    pub pair: rpc::PairHistory,
    /// Distinct established reporters: signed keys that are nodes of the coordinator's graph with enough public capacity.
    pub reporters: u32,
    /// Distinct other signed keys (they share one weight per pair).
    pub reporters_unverified: u32,
    /// Distinct source addresses of unsigned (v1) registrations (they share one weight per pair).
    pub reporters_anonymous: u32,
    /// Seconds since the pair was last updated, when the coordinator answered.
    pub age_seconds: i64,
}

/// A query answer, all streamed messages together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// Pairs added or changed since the cursor asked for (all pairs on a full resync).
    pub pairs: Vec<AggregatedPair>,
    /// `(node_from, node_to)` keys removed from the aggregate since the cursor.
    pub removed: Vec<(Vec<u8>, Vec<u8>)>,
    /// The cursor to ask from next time (the last message's).
    pub cursor: u64,
    /// The coordinator could not answer incrementally: drop the local copy and rebuild it from `pairs`.
    pub full_resync: bool,
}

/// What a pair's latest success was, as a registration tells the
/// coordinator's liquidity model (`RegistrationBody.success_kinds`).
pub use dmc_proto::SuccessKind;

/// The serialized body a v2 registration signs (the signature covers
/// these exact bytes), every success of unknown kind: what `dmc sync`
/// sends, since LND's `querymc` does not record whether a success settled
/// or came back before a failure.
pub fn registration_body(reporter: &[u8], timestamp: i64, pairs: &[rpc::PairHistory], successes_only: bool) -> Vec<u8> {
    registration_body_with_kinds(reporter, timestamp, pairs, successes_only, &[])
}

/// [`registration_body`] telling what each pair's success was: `kinds` is
/// empty (all unknown) or parallel to `pairs` (the coordinator refuses any
/// other length, naming `success_kinds`).
pub fn registration_body_with_kinds(
    reporter: &[u8],
    timestamp: i64,
    pairs: &[rpc::PairHistory],
    successes_only: bool,
    kinds: &[SuccessKind],
) -> Vec<u8> {
    pb::RegistrationBody {
        reporter: reporter.to_vec(),
        timestamp,
        pairs: dmc_proto::pairs_to_proto(pairs),
        successes_only,
        success_kinds: kinds.iter().map(|k| *k as i32).collect(),
    }
    .encode_to_vec()
}

/// A connected coordinator.
pub struct V2Client {
    url: String,
    inner: pb::coordinator_client::CoordinatorClient<Channel>,
}

impl V2Client {
    /// Opens a channel as [`channel`] does (TLS per `opts`).
    pub async fn connect(opts: &CoordinatorOptions) -> Result<V2Client> {
        Ok(V2Client::new(opts.trimmed_url(), channel(opts).await?))
    }

    /// Over a channel already open to `url`.
    pub fn new(url: String, channel: Channel) -> V2Client {
        V2Client {
            url,
            inner: pb::coordinator_client::CoordinatorClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        }
    }

    /// The coordinator's URL without trailing slashes, as errors name it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `Register`: one signed registration, the answer as it came.
    pub async fn call_register(
        &mut self,
        body: Vec<u8>,
        signature: String,
    ) -> std::result::Result<pb::RegisterResponse, Status> {
        Ok(self
            .inner
            .register(pb::SignedRegistration { body, signature })
            .await?
            .into_inner())
    }

    /// `Query`: the changes after `since`, or everything; every streamed
    /// message gathered, a refusal as it came.
    pub async fn call_query(&mut self, since: Option<u64>) -> std::result::Result<Delta, Status> {
        let mut stream = self
            .inner
            .query(pb::QueryRequest {
                since_cursor: since.unwrap_or(0),
                has_cursor: since.is_some(),
                max_pairs_per_message: 0,
            })
            .await?
            .into_inner();
        let mut d = Delta::default();
        while let Some(msg) = stream.message().await? {
            d.cursor = msg.cursor;
            d.full_resync |= msg.full_resync;
            for p in msg.pairs {
                if let Some(pair) = p.pair.as_ref() {
                    d.pairs.push(AggregatedPair {
                        pair: dmc_proto::pair_from_proto(pair),
                        reporters: p.reporters,
                        reporters_unverified: p.reporters_unverified,
                        reporters_anonymous: p.reporters_anonymous,
                        age_seconds: p.age_seconds,
                    });
                }
            }
            d.removed
                .extend(msg.removed.into_iter().map(|r| (r.node_from, r.node_to)));
        }
        Ok(d)
    }

    /// `Register`: one signed registration. Refusals that the caller can
    /// act on (too big: split; all stale: nothing to send) come back as
    /// [`RegisterOutcome`] variants, the rest as errors.
    pub async fn register(&mut self, body: Vec<u8>, signature: String) -> Result<RegisterOutcome> {
        match self.call_register(body, signature).await {
            Ok(r) => Ok(RegisterOutcome::Accepted(r)),
            Err(s) => {
                if s.code() == Code::ResourceExhausted
                    && matches!(
                        limit_name(&s).as_deref(),
                        Some("max_pairs_per_request" | "max_body_bytes")
                    )
                {
                    return Ok(RegisterOutcome::TooLarge(s.message().to_string()));
                }
                if s.code() == Code::Unauthenticated && s.message().contains("already received") {
                    // A retry of a registration whose answer was lost.
                    return Ok(RegisterOutcome::Duplicate);
                }
                if s.code() == Code::InvalidArgument && s.message().contains("older than the staleness window") {
                    return Ok(RegisterOutcome::AllStale(s.message().to_string()));
                }
                Err(coordinator_status_error(&self.url, "Register", &s))
            }
        }
    }

    /// `Query`: the changes after `since`, or everything.
    pub async fn query(&mut self, since: Option<u64>) -> Result<Delta> {
        self.call_query(since)
            .await
            .map_err(|s| coordinator_status_error(&self.url, "Query", &s))
    }
}

/// Which coordinator limit a ResourceExhausted answer names (its message
/// is a JSON object with a `limit` field).
pub fn limit_name(s: &Status) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(s.message()).ok()?;
    v.get("limit")?.as_str().map(str::to_string)
}

/// The coordinator's refusal as an [`Error`] whose kind says whether to retry.
pub fn coordinator_status_error(url: &str, rpc: &str, s: &Status) -> Error {
    if s.code() == Code::Unimplemented {
        return Error::config(format!(
            "the server at {url} does not offer dmc.coordinator.v2.Coordinator/{rpc}{}; is --ec a dmc \
             coordinator's gRPC address?",
            paren(s.message())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_classified_for_retrying() {
        let url = "https://ec:1";
        let kind = |s: Status| coordinator_status_error(url, "Register", &s).kind;
        assert_eq!(kind(Status::unavailable("down")), ErrorKind::Unavailable);
        assert_eq!(kind(Status::unauthenticated("bad signature")), ErrorKind::Refused);
        let rate = Status::resource_exhausted(r#"{"limit": "requests_per_minute"}"#);
        assert_eq!(limit_name(&rate).as_deref(), Some("requests_per_minute"));
        assert_eq!(kind(rate), ErrorKind::Unavailable);
        let cap = Status::resource_exhausted(r#"{"limit": "max_observations"}"#);
        assert_eq!(kind(cap), ErrorKind::Invalid);
        assert_eq!(kind(Status::resource_exhausted("busy")), ErrorKind::Unavailable);
        let e = coordinator_status_error(url, "Query", &Status::unimplemented(""));
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("dmc.coordinator.v2.Coordinator/Query;"), "{e}");
        let e = coordinator_status_error(url, "Query", &Status::invalid_argument("no"));
        assert_eq!(e.message, "the coordinator at https://ec:1: Query: InvalidArgument: no");
    }

    #[test]
    fn registration_body_is_the_wire_message() {
        let pair = rpc::PairHistory {
            node_from: vec![2; 33],
            node_to: vec![3; 33],
            history: rpc::PairData::success_at(7, 1000),
        };
        let body = registration_body(&[2; 33], 9, std::slice::from_ref(&pair), true);
        let back = pb::RegistrationBody::decode(body.as_slice()).unwrap();
        assert_eq!(
            (back.reporter, back.timestamp, back.successes_only),
            (vec![2; 33], 9, true)
        );
        assert_eq!(dmc_proto::pairs_from_proto(&back.pairs), vec![pair.clone()]);
        assert!(back.success_kinds.is_empty(), "unknown: the field is absent");
        let body = registration_body_with_kinds(&[2; 33], 9, &[pair], false, &[SuccessKind::Returned]);
        let back = pb::RegistrationBody::decode(body.as_slice()).unwrap();
        assert_eq!(back.success_kinds, vec![SuccessKind::Returned as i32]);
    }
}
