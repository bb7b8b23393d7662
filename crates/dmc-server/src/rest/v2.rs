//! dmc's v2 REST endpoints: signed registration, cursor queries, the
//! aggregate as `lncli querymc` prints it, and the liquidity model's
//! estimates (`/v2/liquidity`).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dmc_core::json::Json;
use dmc_core::liquidity::bucket_edges;
use dmc_core::rpc::PairData;
use dmc_core::Timestamp;

use super::{body_or_limit, json_response, not_modified, parse_body};
use crate::coordinator::liquidity::{parse_pair_param, LIQUIDITY_PAGE_DEFAULT, LIQUIDITY_PAGE_MAX};
use crate::coordinator::{blocking, ApiError, CachedSnapshot, Coordinator, LiquidityPage, LiquidityQuery, V2Answer};
use crate::encode::Render;

/// The JSON form of a `SignedRegistration` (protojson: bytes as base64).
#[derive(serde::Deserialize)]
struct RegisterRequest {
    /// The serialized `RegistrationBody`, base64.
    body: Option<String>,
    /// lncli's zbase32 signature over the body's bytes.
    signature: Option<String>,
}

/// `POST /v2/register` with `{"body": base64, "signature": zbase32}`.
pub(super) async fn register(
    State(c): State<Arc<Coordinator>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_limit(body, c.config.max_body_bytes)?;
    let RegisterRequest { body: b, signature } = parse_body(&body)?;
    let b = b.ok_or_else(|| ApiError::Invalid("body: missing base64 string".into()))?;
    let b = crate::base64::decode(&b).ok_or_else(|| ApiError::Invalid("body: not base64".into()))?;
    let sig = signature.ok_or_else(|| ApiError::Invalid("signature: missing".into()))?;
    let r = blocking(&c, move |c| crate::signed::register(c, &b, &sig)).await?;
    Ok(json_response(Json::object([
        ("accepted", Json::int32(r.accepted)),
        ("stale_dropped", Json::int32(r.stale_dropped)),
        ("cursor", Json::int64(r.outcome.cursor)),
        ("message", Json::str(r.message())),
    ])))
}

#[derive(serde::Deserialize)]
pub(super) struct SinceQuery {
    since: Option<String>,
}

/// A pair for v2 JSON: lncli's shape plus how many reporters back it and its age.
pub fn v2_pair_json(a: &dmc_store::coordinator::AggregatedPair, now: dmc_core::Timestamp) -> Json {
    let age = dmc_core::aggregate::age_seconds(a.newest, now);
    Json::object([
        ("node_from", Json::str(a.pair.from.to_hex())),
        ("node_to", Json::str(a.pair.to.to_hex())),
        ("history", PairData::from_result(&a.result).to_json()),
        ("reporters", Json::int32(a.reporters)),
        ("reporters_unverified", Json::int32(a.reporters_unverified)),
        ("reporters_anonymous", Json::int32(a.reporters_anonymous)),
        ("age_seconds", Json::int64(age)),
    ])
}

/// `GET /v2/query?since=CURSOR`.
pub(super) async fn query(
    State(c): State<Arc<Coordinator>>,
    Query(q): Query<SinceQuery>,
) -> Result<Response, ApiError> {
    let since = match q.since.as_deref() {
        None | Some("") => 0,
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| ApiError::Invalid(format!("since: {s:?} is not a cursor")))?,
    };
    let delta = match blocking(&c, move |c| c.query_v2(Some(since))).await? {
        V2Answer::Delta(d) => d,
        V2Answer::Full { snapshot, full_resync } => {
            let mut resp = Response::new(Body::from_stream(v2_full_body(c, snapshot, full_resync)));
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, "application/json".parse().expect("literal"));
            return Ok(resp);
        }
    };
    let now = c.now();
    Ok(json_response(v2_envelope(
        Json::Array(delta.changed.iter().map(|a| v2_pair_json(a, now)).collect()),
        Json::Array(
            delta
                .removed
                .iter()
                .map(|p| {
                    Json::object([
                        ("node_from", Json::str(p.from.to_hex())),
                        ("node_to", Json::str(p.to.to_hex())),
                    ])
                })
                .collect(),
        ),
        delta.cursor,
        delta.full_resync,
    )))
}

/// A `/v2/query` answer: `{"pairs":[...],"removed":[...],"cursor":...,"full_resync":...}`.
fn v2_envelope(pairs: Json, removed: Json, cursor: u64, full_resync: bool) -> Json {
    Json::object([
        ("pairs", pairs),
        ("removed", removed),
        ("cursor", Json::int64(cursor)),
        ("full_resync", Json::bool(full_resync)),
    ])
}

/// The whole aggregate as a `/v2/query` body, byte for byte what
/// [`v2_envelope`] renders, produced `query_batch_size` pairs at a time as
/// the connection drains, from the snapshot every download shares.
fn v2_full_body(
    c: Arc<Coordinator>,
    snapshot: Arc<CachedSnapshot>,
    full_resync: bool,
) -> impl tokio_stream::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static {
    // The envelope with no pairs, split where they go.
    let empty = v2_envelope(
        Json::Array(Vec::new()),
        Json::Array(Vec::new()),
        snapshot.cursor,
        full_resync,
    )
    .compact();
    let open = "{\"pairs\":[".len();
    let (head, tail) = (
        Bytes::from(empty[..open].to_string()),
        Bytes::from(empty[open..].to_string() + "\n"),
    );
    let batch = c.config.query_batch_size.max(1);
    let chunks = snapshot.pairs.len().div_ceil(batch);
    let body = (0..chunks).map(move |i| {
        let now = c.now();
        let mut out = String::new();
        for (j, a) in snapshot.chunk(i, batch).iter().enumerate() {
            if i > 0 || j > 0 {
                out.push(',');
            }
            out += &v2_pair_json(a, now).compact();
        }
        Bytes::from(out)
    });
    tokio_stream::iter(std::iter::once(head).chain(body).chain(std::iter::once(tail)).map(Ok))
}

/// The aggregate as `lncli querymc` prints it: what `loadmc` accepts.
pub(super) async fn snapshot_lnd(State(c): State<Arc<Coordinator>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let snap = blocking(&c, |c| c.snapshot()).await?;
    let etag = format!("\"dmc-lnd-{}\"", snap.tag);
    if not_modified(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let mut resp = ([(header::CONTENT_TYPE, "application/json")], snap.lnd_json()).into_response();
    resp.headers_mut().insert(header::ETAG, etag.parse().expect("ascii"));
    Ok(resp)
}

/// `GET /v2/liquidity[?limit=N][&after=FROM:TO][&pair=FROM:TO]`: the
/// liquidity model's estimates (`coordinator::liquidity`), sorted by pair,
/// `limit` (default 1000, at most 10 000) after `after`; `pair` answers
/// one pair or 404 naming it. `receive` holds the receive capacity of the
/// page's destinations; `next_after` (when present) is the `after` of the
/// next page. An unknown or malformed parameter is a 400 naming it.
pub(super) async fn liquidity(
    State(c): State<Arc<Coordinator>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let q = liquidity_query(&params)?;
    let page = blocking(&c, move |c| c.liquidity(&q)).await?;
    Ok(json_response(liquidity_json(&page)))
}

/// The query of `GET /v2/liquidity`, every parameter checked.
fn liquidity_query(params: &[(String, String)]) -> Result<LiquidityQuery, ApiError> {
    let mut q = LiquidityQuery {
        limit: LIQUIDITY_PAGE_DEFAULT,
        ..Default::default()
    };
    let mut seen: Vec<&str> = Vec::new();
    for (k, v) in params {
        if seen.contains(&k.as_str()) {
            return Err(ApiError::Invalid(format!("{k}: given more than once")));
        }
        match k.as_str() {
            "limit" => {
                q.limit = match v.parse::<usize>() {
                    Ok(n) if (1..=LIQUIDITY_PAGE_MAX).contains(&n) => n,
                    _ => {
                        return Err(ApiError::Invalid(format!(
                            "limit: {:?} is not a number from 1 to {LIQUIDITY_PAGE_MAX}",
                            v.chars().take(40).collect::<String>()
                        )))
                    }
                }
            }
            "after" => q.after = Some(parse_pair_param("after", v)?),
            "pair" => q.pair = Some(parse_pair_param("pair", v)?),
            other => {
                return Err(ApiError::Invalid(format!(
                    "{}: unknown parameter (limit, after and pair are)",
                    other.chars().take(40).collect::<String>()
                )))
            }
        }
        seen.push(k);
    }
    Ok(q)
}

/// A finite number, or `null`.
fn num(v: f64) -> Json {
    if v.is_finite() {
        Json::double(v)
    } else {
        Json::Raw("null".into())
    }
}

/// A JSON integer (not protojson's quoted int64: this body is dmc's own).
fn int(v: impl ToString) -> Json {
    Json::Raw(v.to_string())
}

/// Unix seconds, 0 for none.
fn secs(t: Timestamp) -> Json {
    int(t.rpc_unix_secs())
}

/// The `/v2/liquidity` body of `page`.
pub fn liquidity_json(page: &LiquidityPage) -> Json {
    let hist = |h: &[f64]| Json::Array(h.iter().map(|v| num(*v)).collect());
    let pairs = page
        .pairs
        .iter()
        .map(|p| {
            let e = &p.estimate;
            let lnd = match &p.lnd {
                Some(r) => Json::object([
                    ("success_amt_msat", int(r.success_amt_msat.0)),
                    ("success_time", secs(r.success_time)),
                    ("fail_amt_msat", int(r.fail_amt_msat.0)),
                    ("fail_time", secs(r.fail_time)),
                ]),
                None => Json::Raw("null".into()),
            };
            Json::object([
                ("from", Json::str(e.pair.from.to_hex())),
                ("to", Json::str(e.pair.to.to_hex())),
                ("capacity_msat", int(e.capacity.0)),
                ("lower_bound_msat", int(e.lower_bound.0)),
                ("upper_bound_msat", int(e.upper_bound.0)),
                ("success_histogram", hist(&e.success_histogram)),
                ("failure_histogram", hist(&e.failure_histogram)),
                ("live_half_life_s", num(e.live_half_life.secs())),
                ("moves", num(e.moves)),
                ("exposure_s", num(e.exposure_s)),
                ("reporters", int(e.reporters)),
                ("weight", num(e.weight)),
                ("newest_success_time", secs(e.newest_success)),
                ("newest_failure_time", secs(e.newest_failure)),
                ("lnd", lnd),
            ])
        })
        .collect();
    let receive = page
        .receive
        .iter()
        .map(|r| {
            Json::object([
                ("node", Json::str(r.node.to_hex())),
                ("median_fraction", num(r.median_fraction)),
                ("reporters", int(r.reporters)),
                ("pairs", int(r.pairs)),
            ])
        })
        .collect();
    let mut fields = vec![
        ("served_at", secs(page.served_at)),
        ("bucket_edges", hist(&bucket_edges())),
        ("pairs", Json::Array(pairs)),
        ("receive", Json::Array(receive)),
    ];
    if let Some(a) = page.next_after {
        fields.push((
            "next_after",
            Json::str(format!("{}:{}", a.from.to_hex(), a.to.to_hex())),
        ));
    }
    Json::object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmc_core::rpc::PairHistory;
    use dmc_store::coordinator::{CoordinatorStore, RedbCoordinatorStore};

    /// The streamed full `/v2/query` body is, byte for byte, the one
    /// rendered whole (empty, one chunk, several chunks and a short last one).
    #[tokio::test]
    async fn streamed_full_query_body_is_the_whole_rendering() {
        for n in [0u8, 1, 2, 5] {
            let dir = tempfile::tempdir().expect("tempdir");
            let store: Arc<dyn CoordinatorStore> =
                Arc::new(RedbCoordinatorStore::open(&dir.path().join("c.redb")).expect("store"));
            let mut config = crate::ServerConfig::with_data_dir(dir.path().to_path_buf());
            config.graph = None;
            config.min_serving_weight = 0.0;
            config.query_batch_size = 2;
            let now = dmc_core::Timestamp::from_unix_secs(1_800_000_000);
            let c = Arc::new(Coordinator::new(config, store, Arc::new(move || now)));
            c.set_graph(None).expect("policy");
            let key = |b: u8| {
                let sk = secp256k1::SecretKey::from_slice(&[b; 32]).expect("valid");
                secp256k1::PublicKey::from_secret_key(&secp256k1::Secp256k1::signing_only(), &sk)
                    .serialize()
                    .to_vec()
            };
            let pairs: Vec<PairHistory> = (1..=n)
                .map(|i| PairHistory {
                    node_from: key(i),
                    node_to: key(i + 100),
                    history: PairData {
                        success_time: now.unix_secs() - 60 * i64::from(i),
                        success_amt_sat: 5,
                        success_amt_msat: 5_000,
                        ..Default::default()
                    },
                })
                .collect();
            if n > 0 {
                c.register_unsigned(pairs, "10.0.0.1").expect("stored");
            }
            let V2Answer::Full { snapshot, full_resync } = c.query_v2(Some(0)).expect("answer") else {
                panic!("cursor 0 is answered from the snapshot");
            };
            let whole = v2_envelope(
                Json::Array(snapshot.pairs.iter().map(|a| v2_pair_json(a, now)).collect()),
                Json::Array(Vec::new()),
                snapshot.cursor,
                full_resync,
            )
            .compact()
                + "\n";
            let chunks: Vec<Bytes> =
                tokio_stream::StreamExt::collect::<Vec<_>>(v2_full_body(c.clone(), snapshot.clone(), full_resync))
                    .await
                    .into_iter()
                    .map(|r| r.expect("infallible"))
                    .collect();
            assert_eq!(chunks.len(), 2 + snapshot.pairs.len().div_ceil(2), "{n} pairs");
            assert_eq!(String::from_utf8(chunks.concat()).expect("utf-8"), whole, "{n} pairs");
        }
    }
}
