//! The RPC and JSON surface of mission control (spec §3.1, §3.4, §8):
//! `PairHistory`/`PairData` as `routerrpc` defines them, LND's import
//! validation, lncli's `loadmc` sanitising, and the JSON that lncli prints
//! and reads.

use std::fmt;

use serde_json::Value;

use crate::amount::{Msat, Sat};
use crate::estimator::{AprioriConfig, BimodalConfig, EstimatorConfig};
use crate::json::Json;
use crate::mission_control::MissionControlConfig;
use crate::node::{decode_hex, DirectedPair, NodeId, NodeIdError};
use crate::state::{PairSnapshot, TimedPairResult};
use crate::time::{DurationNs, Timestamp};

/// `routerrpc.PairData`: times in Unix seconds (0 = none), amounts as int64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PairData {
    /// Unix seconds of the last failure (field 1); 0 = none.
    pub fail_time: i64,
    /// Failure amount in sat (field 2): msat truncated on output; on import
    /// reconciled with `fail_amt_msat` (§3.1).
    pub fail_amt_sat: i64,
    /// Failure amount in msat (field 4); 0 = amount-independent.
    pub fail_amt_msat: i64,
    /// Unix seconds of the last success (field 5); 0 = none.
    pub success_time: i64,
    /// Success amount in sat (field 6), truncated like `fail_amt_sat`.
    pub success_amt_sat: i64,
    /// Highest amount known to pass, msat (field 7).
    pub success_amt_msat: i64,
}

/// `routerrpc.PairHistory`. Node keys are raw bytes: their length is
/// checked by import validation, as LND does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairHistory {
    /// The forwarding node's key (field 1); 33 bytes once validated.
    pub node_from: Vec<u8>,
    /// The next node's key (field 2); 33 bytes, different from `node_from`.
    pub node_to: Vec<u8>,
    /// The pair's record (field 7).
    pub history: PairData,
}

impl PairData {
    /// Only a success of `msat` at Unix second `t` (sat and msat agreeing).
    pub fn success_at(t: i64, msat: i64) -> Self {
        PairData {
            success_time: t,
            success_amt_sat: msat / 1000,
            success_amt_msat: msat,
            ..Default::default()
        }
    }

    /// Only a failure of `msat` at Unix second `t` (sat and msat agreeing).
    pub fn failure_at(t: i64, msat: i64) -> Self {
        PairData {
            fail_time: t,
            fail_amt_sat: msat / 1000,
            fail_amt_msat: msat,
            ..Default::default()
        }
    }

    /// The server-side mapping of `QueryMissionControl` (spec §8.2): sat
    /// amounts truncated, zero times as 0.
    pub fn from_result(r: &TimedPairResult) -> Self {
        let msat = |v: Msat| v.0 as i64;
        let sat = |v: Msat| v.to_sat_floor().0 as i64;
        PairData {
            fail_time: r.fail_time.rpc_unix_secs(),
            fail_amt_sat: sat(r.fail_amt_msat),
            fail_amt_msat: msat(r.fail_amt_msat),
            success_time: r.success_time.rpc_unix_secs(),
            success_amt_sat: sat(r.success_amt_msat),
            success_amt_msat: msat(r.success_amt_msat),
        }
    }

    /// The six fields as lncli prints them, int64 as strings.
    pub fn to_json(&self) -> Json {
        Json::object([
            ("fail_time", Json::int64(self.fail_time)),
            ("fail_amt_sat", Json::int64(self.fail_amt_sat)),
            ("fail_amt_msat", Json::int64(self.fail_amt_msat)),
            ("success_time", Json::int64(self.success_time)),
            ("success_amt_sat", Json::int64(self.success_amt_sat)),
            ("success_amt_msat", Json::int64(self.success_amt_msat)),
        ])
    }
}

impl PairHistory {
    /// One `QueryMissionControl` entry for a record (§8.2).
    pub fn from_snapshot(s: &PairSnapshot) -> Self {
        PairHistory {
            node_from: s.pair.from.0.to_vec(),
            node_to: s.pair.to.0.to_vec(),
            history: PairData::from_result(&s.result),
        }
    }

    /// As lncli prints it: keys in hex, then `history`.
    pub fn to_json(&self) -> Json {
        Json::object([
            ("node_from", Json::str(crate::node::encode_hex(&self.node_from))),
            ("node_to", Json::str(crate::node::encode_hex(&self.node_to))),
            ("history", self.history.to_json()),
        ])
    }
}

/// `QueryMissionControl`'s pairs for these records (what `lncli querymc`
/// prints; give it [`crate::MissionControl::snapshot`]).
pub fn query_mc_pairs(pairs: &[PairSnapshot]) -> Vec<PairHistory> {
    pairs.iter().map(PairHistory::from_snapshot).collect()
}

/// `lncli querymc` output for these pairs.
pub fn query_mc_json(pairs: &[PairSnapshot]) -> Json {
    Json::object([(
        "pairs",
        Json::Array(pairs.iter().map(|p| PairHistory::from_snapshot(p).to_json()).collect()),
    )])
}

/// Why an import request was refused. Validation is all or nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportError(pub String);

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ImportError {}

/// Why one side (failure or success) of an imported pair is refused:
/// LND's `getMsatPairValue` and `getPair` checks, in their words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SideError {
    /// `{side}_amt_msat` below zero.
    NegativeMsat {
        /// `fail` or `success`.
        side: &'static str,
        /// The value given.
        msat: i64,
    },
    /// `{side}_amt_sat` below zero.
    NegativeSat {
        /// `fail` or `success`.
        side: &'static str,
        /// The value given.
        sat: i64,
    },
    /// Only sat given, and × 1000 leaves int64 (LND's int64 product).
    SatOverflows {
        /// `fail` or `success`.
        side: &'static str,
        /// The value given.
        sat: i64,
    },
    /// Both given, and the msat amount is not the sat amount (floor).
    NotEqual {
        /// `fail` or `success`.
        side: &'static str,
        /// The msat value given.
        msat: i64,
        /// The sat value given.
        sat: i64,
    },
    /// A success time with a zero amount.
    SuccessTimeWithoutAmount {
        /// The Unix time given.
        time: i64,
    },
    /// A success amount with a zero time.
    SuccessAmountWithoutTime {
        /// The amount given.
        amt: Msat,
    },
}

impl fmt::Display for SideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SideError::NegativeMsat { side, msat } => write!(f, "{side}_amt_msat: {msat} is negative"),
            SideError::NegativeSat { side, sat } => write!(f, "{side}_amt_sat: {sat} is negative"),
            SideError::SatOverflows { side, sat } => {
                write!(f, "{side}_amt_sat: {sat} overflows when converted to msat")
            }
            SideError::NotEqual { side, msat, sat } => {
                write!(f, "{side}_amt_msat: {msat} and {side}_amt_sat: {sat} values not equal")
            }
            SideError::SuccessTimeWithoutAmount { time } => write!(
                f,
                "success_time: {time} with a zero amount: non-zero timestamp requires non-zero amount for success pairs"
            ),
            SideError::SuccessAmountWithoutTime { amt } => write!(
                f,
                "success_amt_msat: {} with a zero time: non-zero amount for success pairs requires non-zero timestamp",
                amt.0
            ),
        }
    }
}

impl std::error::Error for SideError {}

/// Why an imported pair is refused (LND's `toPairSnapshot`, §3.1, and the
/// curve check dmc adds before an import into lnd).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PairError {
    /// `node_from` or `node_to` is not 33 bytes with a key prefix.
    BadKey {
        /// `node_from` or `node_to`.
        field: &'static str,
        /// What is wrong with it.
        error: NodeIdError,
    },
    /// A key that is not a point on the curve (lnd would refuse it).
    NotOnCurve {
        /// `node_from` or `node_to`.
        field: &'static str,
        /// The key's bytes in hex.
        hex: String,
        /// What the curve check said.
        error: NodeIdError,
    },
    /// `node_from` equals `node_to`.
    SameNode {
        /// The node.
        node: NodeId,
    },
    /// The failure side is refused.
    InvalidFailure {
        /// The pair.
        pair: DirectedPair,
        /// Why.
        error: SideError,
    },
    /// The success side is refused.
    InvalidSuccess {
        /// The pair.
        pair: DirectedPair,
        /// Why.
        error: SideError,
    },
    /// Neither a success nor a failure amount.
    NoResult {
        /// The pair.
        pair: DirectedPair,
    },
}

impl fmt::Display for PairError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PairError::BadKey { field, error } => write!(f, "{field}: {error}"),
            PairError::NotOnCurve { field, hex, error } => write!(f, "{field} {hex}: {error}"),
            PairError::SameNode { node } => {
                write!(f, "pair {node} -> {node}: source and destination node must differ")
            }
            PairError::InvalidFailure { pair, error } => {
                write!(f, "pair {} -> {}: invalid failure: {error}", pair.from, pair.to)
            }
            PairError::InvalidSuccess { pair, error } => {
                write!(f, "pair {} -> {}: invalid success: {error}", pair.from, pair.to)
            }
            PairError::NoResult { pair } => write!(
                f,
                "pair {} -> {}: either success or failure result required",
                pair.from, pair.to
            ),
        }
    }
}

impl std::error::Error for PairError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PairError::BadKey { error, .. } | PairError::NotOnCurve { error, .. } => Some(error),
            PairError::InvalidFailure { error, .. } | PairError::InvalidSuccess { error, .. } => Some(error),
            PairError::SameNode { .. } | PairError::NoResult { .. } => None,
        }
    }
}

/// LND's `getMsatPairValue`: reconcile the msat and sat fields.
fn msat_pair_value(msat: i64, sat: i64, side: &'static str) -> Result<Msat, SideError> {
    if msat < 0 {
        return Err(SideError::NegativeMsat { side, msat });
    }
    if sat < 0 {
        return Err(SideError::NegativeSat { side, sat });
    }
    // Both are non-negative here, so the casts keep their values.
    if Msat(msat as u64).to_sat_floor() == Sat(sat as u64) {
        return Ok(Msat(msat as u64));
    }
    if msat == 0 {
        // LND's int64 product: refused beyond the int64 range.
        return Sat(sat as u64)
            .to_msat()
            .filter(|m| i64::try_from(m.0).is_ok())
            .ok_or(SideError::SatOverflows { side, sat });
    }
    if sat == 0 {
        return Ok(Msat(msat as u64));
    }
    Err(SideError::NotEqual { side, msat, sat })
}

/// LND's `getPair` for one side: (amount, time).
fn side(amt_msat: i64, amt_sat: i64, time: i64, is_failure: bool) -> Result<(Msat, Timestamp), SideError> {
    let field = if is_failure { "fail" } else { "success" };
    let amt = msat_pair_value(amt_msat, amt_sat, field)?;
    // Negative times are accepted, as LND's RPC does (`time.Unix(t, 0)`);
    // only lncli insists on ts > 0.
    match (time != 0, amt != Msat::ZERO) {
        (true, true) => Ok((amt, Timestamp::from_unix_secs(time))),
        (true, false) if !is_failure => Err(SideError::SuccessTimeWithoutAmount { time }),
        (false, true) if !is_failure => Err(SideError::SuccessAmountWithoutTime { amt }),
        // A failure with only one of amount and time is silently dropped.
        _ => Ok((Msat::ZERO, Timestamp::ZERO)),
    }
}

/// LND's `toPairSnapshot` (spec §3.1).
pub fn to_pair_snapshot(p: &PairHistory) -> Result<PairSnapshot, PairError> {
    let from = NodeId::from_bytes_unchecked(&p.node_from).map_err(|error| PairError::BadKey {
        field: "node_from",
        error,
    })?;
    let to = NodeId::from_bytes_unchecked(&p.node_to).map_err(|error| PairError::BadKey {
        field: "node_to",
        error,
    })?;
    if from == to {
        return Err(PairError::SameNode { node: from });
    }
    let pair = DirectedPair::new(from, to);
    let h = &p.history;
    let (fail_amt, fail_time) = side(h.fail_amt_msat, h.fail_amt_sat, h.fail_time, true)
        .map_err(|error| PairError::InvalidFailure { pair, error })?;
    let (success_amt, success_time) = side(h.success_amt_msat, h.success_amt_sat, h.success_time, false)
        .map_err(|error| PairError::InvalidSuccess { pair, error })?;
    if success_amt == Msat::ZERO && fail_amt == Msat::ZERO {
        return Err(PairError::NoResult { pair });
    }
    Ok(PairSnapshot {
        pair,
        result: TimedPairResult {
            fail_time,
            fail_amt_msat: fail_amt,
            success_time,
            success_amt_msat: success_amt,
        },
    })
}

/// LND's `XImportMissionControl` validation: all pairs or none.
pub fn validate_import(pairs: &[PairHistory]) -> Result<Vec<PairSnapshot>, ImportError> {
    if pairs.is_empty() {
        return Err(ImportError("at least one pair required for import".into()));
    }
    pairs
        .iter()
        .enumerate()
        .map(|(i, p)| to_pair_snapshot(p).map_err(|e| ImportError(format!("pairs[{i}]: {e}"))))
        .collect()
}

/// lncli `loadmc --timeoffset`: shift every non-zero time. Returns the
/// newest shifted time (Unix seconds), or `None` if no pair has a time.
pub fn shift_times(pairs: &mut [PairHistory], offset: DurationNs) -> Option<i64> {
    let mut newest = None;
    let mut shift = |t: &mut i64| {
        if *t != 0 {
            *t = Timestamp::from_unix_secs(*t).add(offset).unix_secs();
            newest = newest.max(Some(*t));
        }
    };
    for p in pairs {
        shift(&mut p.history.success_time);
        shift(&mut p.history.fail_time);
    }
    newest
}

/// lncli `loadmc`'s sanitising (spec §3.4), so raw `querymc` output imports.
pub fn sanitize_loadmc(pairs: &mut [PairHistory]) {
    for p in pairs {
        let h = &mut p.history;
        if h.success_time != 0 && h.success_amt_msat == 0 && h.success_amt_sat == 0 {
            h.success_time = 0;
        }
        if h.success_time == 0 && h.fail_time != 0 && h.fail_amt_msat == 0 && h.fail_amt_sat == 0 {
            h.fail_amt_msat = 1;
        }
    }
}

/// A JSON document that does not have the expected shape; names the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError(pub String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JsonError {}

/// Looks a field up by its proto name or its camelCase JSON name, as
/// protojson accepts both.
fn field<'a>(obj: &'a serde_json::Map<String, Value>, proto_name: &str) -> Option<&'a Value> {
    obj.get(proto_name).or_else(|| obj.get(&camel_case(proto_name)))
}

fn camel_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for c in s.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// An int64 field: protojson accepts a string or a number.
pub fn parse_int64(v: &Value, path: &str) -> Result<i64, JsonError> {
    let bad = || JsonError(format!("{path}: {v} is not an int64"));
    match v {
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| bad()),
        Value::Number(n) => n.as_i64().ok_or_else(bad),
        Value::Null => Ok(0),
        _ => Err(bad()),
    }
}

fn parse_bytes(v: &Value, path: &str) -> Result<Vec<u8>, JsonError> {
    match v {
        Value::String(s) => decode_hex(s).ok_or_else(|| JsonError(format!("{path}: {s:?} is not hex"))),
        _ => Err(JsonError(format!("{path}: {v} is not a hex string"))),
    }
}

/// Parses `lncli querymc` output (`{"pairs": [...]}`, or the bare array of
/// pairs). Int64 values may be strings or numbers; field names may be
/// snake_case or camelCase; unknown fields are refused as protojson does.
pub fn parse_query_mc_json(text: &str) -> Result<Vec<PairHistory>, JsonError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| JsonError(format!("malformed JSON: {e}")))?;
    let (pairs, base) = match &doc {
        Value::Array(a) => (a, String::from("")),
        Value::Object(o) => {
            if let Some(k) = o.keys().find(|k| k.as_str() != "pairs") {
                return Err(JsonError(format!("unknown field {k:?}, expected \"pairs\"")));
            }
            match o.get("pairs") {
                Some(Value::Array(a)) => (a, String::from("pairs")),
                Some(Value::Null) | None => return Ok(Vec::new()),
                Some(v) => return Err(JsonError(format!("pairs: {v} is not an array"))),
            }
        }
        _ => {
            return Err(JsonError(
                "expected an object with \"pairs\" or an array of pairs".into(),
            ))
        }
    };
    pairs
        .iter()
        .enumerate()
        .map(|(i, p)| parse_pair_history(p, &format!("{base}[{i}]")))
        .collect()
}

const PAIR_FIELDS: [&str; 3] = ["node_from", "node_to", "history"];
const DATA_FIELDS: [&str; 6] = [
    "fail_time",
    "fail_amt_sat",
    "fail_amt_msat",
    "success_time",
    "success_amt_sat",
    "success_amt_msat",
];

fn check_known(obj: &serde_json::Map<String, Value>, known: &[&str], path: &str) -> Result<(), JsonError> {
    for k in obj.keys() {
        if !known.iter().any(|f| *f == k || camel_case(f) == *k) {
            return Err(JsonError(format!("{path}: unknown field {k:?}")));
        }
    }
    Ok(())
}

fn parse_pair_history(v: &Value, path: &str) -> Result<PairHistory, JsonError> {
    let obj = v
        .as_object()
        .ok_or_else(|| JsonError(format!("{path}: expected an object")))?;
    check_known(obj, &PAIR_FIELDS, path)?;
    let bytes = |name: &str| match field(obj, name) {
        Some(v) => parse_bytes(v, &format!("{path}.{name}")),
        None => Ok(Vec::new()),
    };
    let node_from = bytes("node_from")?;
    let node_to = bytes("node_to")?;
    let history = match field(obj, "history") {
        Some(Value::Object(h)) => {
            let hp = format!("{path}.history");
            check_known(h, &DATA_FIELDS, &hp)?;
            let int = |name: &str| match field(h, name) {
                Some(v) => parse_int64(v, &format!("{hp}.{name}")),
                None => Ok(0),
            };
            PairData {
                fail_time: int("fail_time")?,
                fail_amt_sat: int("fail_amt_sat")?,
                fail_amt_msat: int("fail_amt_msat")?,
                success_time: int("success_time")?,
                success_amt_sat: int("success_amt_sat")?,
                success_amt_msat: int("success_amt_msat")?,
            }
        }
        Some(Value::Null) | None => PairData::default(),
        Some(v) => return Err(JsonError(format!("{path}.history: {v} is not an object"))),
    };
    Ok(PairHistory {
        node_from,
        node_to,
        history,
    })
}

/// `lncli getmccfg` output for this configuration (spec §8.2).
pub fn config_json(cfg: &MissionControlConfig) -> Json {
    let secs = |d: DurationNs| Json::int64(d.max(DurationNs::ZERO).whole_secs());
    let mut fields: Vec<(&str, Json)> = Vec::new();
    let (half_life, hop_prob, weight) = match &cfg.estimator {
        EstimatorConfig::Apriori(a) => (a.penalty_half_life, a.hop_probability as f32, a.weight as f32),
        EstimatorConfig::Bimodal(_) => (DurationNs::ZERO, 0.0, 0.0),
    };
    fields.push(("half_life_seconds", secs(half_life)));
    fields.push(("hop_probability", Json::float32(hop_prob)));
    fields.push(("weight", Json::float32(weight)));
    fields.push(("maximum_payment_results", Json::int32(cfg.max_history)));
    fields.push(("minimum_failure_relax_interval", secs(cfg.min_failure_relax_interval)));
    match &cfg.estimator {
        EstimatorConfig::Apriori(a) => {
            fields.push(("model", Json::str("APRIORI")));
            fields.push((
                "apriori",
                Json::object([
                    ("half_life_seconds", secs(a.penalty_half_life)),
                    ("hop_probability", Json::double(a.hop_probability)),
                    ("weight", Json::double(a.weight)),
                    ("capacity_fraction", Json::double(a.capacity_fraction)),
                ]),
            ));
        }
        EstimatorConfig::Bimodal(b) => {
            fields.push(("model", Json::str("BIMODAL")));
            fields.push((
                "bimodal",
                Json::object([
                    ("node_weight", Json::double(b.node_weight)),
                    ("scale_msat", Json::int64(b.scale_msat.0)),
                    ("decay_time", secs(b.decay_time)),
                ]),
            ));
        }
    }
    Json::object([("config", Json::object(fields))])
}

/// Reads the `config` object that [`config_json`] writes.
pub fn parse_config_json(text: &str) -> Result<MissionControlConfig, JsonError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| JsonError(format!("malformed JSON: {e}")))?;
    let cfg = doc
        .get("config")
        .and_then(Value::as_object)
        .ok_or_else(|| JsonError("config: missing object".into()))?;
    let uint = |obj: &serde_json::Map<String, Value>, name: &str, path: &str| -> Result<i64, JsonError> {
        let v = parse_int64(field(obj, name).unwrap_or(&Value::Null), &format!("{path}.{name}"))?;
        if v < 0 {
            return Err(JsonError(format!("{path}.{name}: {v} is negative")));
        }
        Ok(v)
    };
    let double = |obj: &serde_json::Map<String, Value>, name: &str, path: &str| -> Result<f64, JsonError> {
        match field(obj, name) {
            Some(Value::Number(n)) => n
                .as_f64()
                .ok_or_else(|| JsonError(format!("{path}.{name}: not a number"))),
            Some(v) => Err(JsonError(format!("{path}.{name}: {v} is not a number"))),
            None => Ok(0.0),
        }
    };
    let secs_to_ns = |s: i64, path: &str| -> Result<DurationNs, JsonError> {
        s.checked_mul(1_000_000_000)
            .map(DurationNs)
            .ok_or_else(|| JsonError(format!("{path}: {s} seconds is out of range")))
    };
    let max_history = uint(cfg, "maximum_payment_results", "config")?;
    let max_history = u32::try_from(max_history)
        .map_err(|_| JsonError(format!("config.maximum_payment_results: {max_history} is not a uint32")))?;
    let relax = secs_to_ns(
        uint(cfg, "minimum_failure_relax_interval", "config")?,
        "config.minimum_failure_relax_interval",
    )?;
    let model = field(cfg, "model").and_then(Value::as_str).unwrap_or("APRIORI");
    let estimator = match model {
        "APRIORI" => {
            let a = field(cfg, "apriori")
                .and_then(Value::as_object)
                .ok_or_else(|| JsonError("config.apriori: missing object".into()))?;
            EstimatorConfig::Apriori(AprioriConfig {
                penalty_half_life: secs_to_ns(
                    uint(a, "half_life_seconds", "config.apriori")?,
                    "config.apriori.half_life_seconds",
                )?,
                hop_probability: double(a, "hop_probability", "config.apriori")?,
                weight: double(a, "weight", "config.apriori")?,
                capacity_fraction: double(a, "capacity_fraction", "config.apriori")?,
            })
        }
        "BIMODAL" => {
            let b = field(cfg, "bimodal")
                .and_then(Value::as_object)
                .ok_or_else(|| JsonError("config.bimodal: missing object".into()))?;
            EstimatorConfig::Bimodal(BimodalConfig {
                node_weight: double(b, "node_weight", "config.bimodal")?,
                scale_msat: Msat(uint(b, "scale_msat", "config.bimodal")? as u64),
                decay_time: secs_to_ns(uint(b, "decay_time", "config.bimodal")?, "config.bimodal.decay_time")?,
            })
        }
        other => return Err(JsonError(format!("config.model: {other:?} is not APRIORI or BIMODAL"))),
    };
    let cfg = MissionControlConfig {
        estimator,
        max_history,
        min_failure_relax_interval: relax,
    };
    cfg.validate().map_err(|e| JsonError(format!("config: {e}")))?;
    Ok(cfg)
}

/// Parses HTLC attempt outcomes for `dmc report`: a JSON array or JSON
/// lines of
/// `{"id", "time", "route": {"source", "total_amt_msat", "hops": [{"chan_id",
/// "pub_key", "amt_to_forward_msat", "blinding_point"}]}, "failure": null |
/// {"source_index", "code"}}`.
/// `id`, `time` (Unix seconds) and `route.source` may be left out; the
/// caller supplies them through `defaults(index)`.
pub fn parse_payment_results(
    text: &str,
    mut defaults: impl FnMut(usize) -> (u64, Timestamp, Option<NodeId>),
) -> Result<Vec<crate::PaymentResult>, JsonError> {
    let trimmed = text.trim_start();
    let docs: Vec<(String, Value)> = if trimmed.starts_with('[') {
        let v: Value = serde_json::from_str(text).map_err(|e| JsonError(format!("malformed JSON: {e}")))?;
        v.as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, v)| (format!("[{i}]"), v.clone()))
            .collect()
    } else {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: Value =
                serde_json::from_str(line).map_err(|e| JsonError(format!("line {}: malformed JSON: {e}", i + 1)))?;
            out.push((format!("line {}", i + 1), v));
        }
        out
    };
    docs.iter()
        .enumerate()
        .map(|(i, (path, v))| parse_payment_result(v, path, defaults(i)))
        .collect()
}

fn node_field(v: Option<&Value>, path: &str) -> Result<Option<NodeId>, JsonError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => NodeId::from_hex(s)
            .map(Some)
            .map_err(|e| JsonError(format!("{path}: {s:?}: {e}"))),
        Some(v) => Err(JsonError(format!("{path}: {v} is not a hex string"))),
    }
}

fn uint_field(v: Option<&Value>, path: &str) -> Result<Option<u64>, JsonError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| JsonError(format!("{path}: {s:?} is not a non-negative integer"))),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| JsonError(format!("{path}: {n} is not a non-negative integer"))),
        Some(v) => Err(JsonError(format!("{path}: {v} is not an integer"))),
    }
}

fn parse_payment_result(
    v: &Value,
    path: &str,
    (default_id, default_time, default_source): (u64, Timestamp, Option<NodeId>),
) -> Result<crate::PaymentResult, JsonError> {
    use crate::interpret::{FailureCode, Hop, PaymentFailure, PaymentResult, Route};
    let o = v
        .as_object()
        .ok_or_else(|| JsonError(format!("{path}: expected an object")))?;
    let id = uint_field(o.get("id"), &format!("{path}.id"))?.unwrap_or(default_id);
    let time = match uint_field(o.get("time"), &format!("{path}.time"))? {
        Some(t) => {
            let t = i64::try_from(t).map_err(|_| JsonError(format!("{path}.time: {t} is out of range")))?;
            Timestamp::from_unix_secs(t)
        }
        None => default_time,
    };
    let route = o
        .get("route")
        .and_then(Value::as_object)
        .ok_or_else(|| JsonError(format!("{path}.route: missing object")))?;
    let source = node_field(route.get("source"), &format!("{path}.route.source"))?
        .or(default_source)
        .ok_or_else(|| JsonError(format!("{path}.route.source: missing, and no --self is set")))?;
    let total_amt_msat = uint_field(route.get("total_amt_msat"), &format!("{path}.route.total_amt_msat"))?
        .map(Msat)
        .ok_or_else(|| JsonError(format!("{path}.route.total_amt_msat: missing")))?;
    let hops_v = route
        .get("hops")
        .and_then(Value::as_array)
        .ok_or_else(|| JsonError(format!("{path}.route.hops: missing array")))?;
    if hops_v.is_empty() || hops_v.len() > 255 {
        return Err(JsonError(format!(
            "{path}.route.hops: {} hops, want 1 to 255",
            hops_v.len()
        )));
    }
    let mut hops: Vec<Hop> = Vec::with_capacity(hops_v.len());
    for (i, h) in hops_v.iter().enumerate() {
        let hp = format!("{path}.route.hops[{i}]");
        let pub_key = node_field(h.get("pub_key"), &format!("{hp}.pub_key"))?
            .ok_or_else(|| JsonError(format!("{hp}.pub_key: missing")))?;
        // A hop to the node it leaves from is no channel: LND's import
        // refuses the pair it would record (found by the `report` fuzzer).
        let previous = hops.last().map_or(&source, |h| &h.pub_key);
        if pub_key == *previous {
            return Err(JsonError(format!(
                "{hp}.pub_key: {pub_key} is the node the hop leaves from"
            )));
        }
        hops.push(Hop {
            chan_id: uint_field(h.get("chan_id"), &format!("{hp}.chan_id"))?.unwrap_or(0),
            pub_key,
            amt_to_forward_msat: uint_field(h.get("amt_to_forward_msat"), &format!("{hp}.amt_to_forward_msat"))?
                .map(Msat)
                .ok_or_else(|| JsonError(format!("{hp}.amt_to_forward_msat: missing")))?,
            has_blinding_point: h.get("blinding_point").and_then(Value::as_bool).unwrap_or(false),
            has_custom_records: h.get("custom_records").and_then(Value::as_bool).unwrap_or(false),
        });
    }
    let failure = match o.get("failure") {
        None | Some(Value::Null) => None,
        Some(Value::Object(f)) => {
            let source_index = match uint_field(f.get("source_index"), &format!("{path}.failure.source_index"))? {
                None => None,
                Some(i) => Some(
                    u8::try_from(i).map_err(|_| JsonError(format!("{path}.failure.source_index: {i} exceeds 255")))?,
                ),
            };
            let message = match f.get("code") {
                None | Some(Value::Null) => None,
                Some(c) => {
                    let text = match c {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    Some(FailureCode::parse(&text).ok_or_else(|| {
                        JsonError(format!("{path}.failure.code: {text:?} is not a BOLT 4 failure code"))
                    })?)
                }
            };
            Some(PaymentFailure { source_index, message })
        }
        Some(v) => return Err(JsonError(format!("{path}.failure: {v} is not an object or null"))),
    };
    let result = PaymentResult {
        id,
        time_fwd: time,
        time_reply: time,
        route: Route {
            source,
            total_amt_msat,
            hops,
        },
        failure,
    };
    result.validate().map_err(|e| JsonError(format!("{path}: {e}")))?;
    Ok(result)
}
