//! What every command shares to turn its arguments into typed values: the
//! CLI's error (exit code 2 for bad input, 1 for anything else), the
//! parsers clap calls through `value_parser` (each refusal names its field
//! and value), and the same checks for values that come from elsewhere
//! (files, JSON lines, environment). A leaf: it uses no other module of the
//! binary.

use std::io::Read;
use std::path::Path;

use dmc_core::time::{parse_go_duration, DurationNs};
use dmc_core::{Msat, NodeId, Sat, Timestamp};

/// A failed command: bad input (exit 2) or anything else (exit 1).
pub enum CliError {
    // Input: exit 2; Runtime: exit 1.
    Input(String),
    Runtime(String),
}

impl CliError {
    pub fn message(&self) -> &str {
        match self {
            CliError::Input(m) | CliError::Runtime(m) => m,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Input(_) => 2,
            CliError::Runtime(_) => 1,
        }
    }
}

impl From<dmc_store::StoreError> for CliError {
    fn from(e: dmc_store::StoreError) -> Self {
        CliError::Runtime(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, CliError>;

pub fn input<T>(msg: impl Into<String>) -> Result<T> {
    Err(CliError::Input(msg.into()))
}

/// A value refused while clap parses the command line. `main` prints it
/// as every other bad input (`dmc: <message>`, one line, exit code 2),
/// not in clap's own multi-line form.
#[derive(Debug)]
pub struct ArgError(pub String);

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

/// A clap `value_parser`: `parse` with `field` named in its refusals.
pub fn named<T>(
    field: &'static str,
    parse: fn(&str, &str) -> Result<T>,
) -> impl Fn(&str) -> std::result::Result<T, ArgError> + Clone + Send + Sync + 'static
where
    T: Clone + Send + Sync + 'static,
{
    move |s| parse(s, field).map_err(|e| ArgError(e.message().to_string()))
}

pub fn pubkey(s: &str, field: &str) -> Result<NodeId> {
    NodeId::from_hex(s.trim()).or_else(|e| input(format!("{field}: {s:?} is not a node public key: {e}")))
}

/// A non-negative integer argument that fits an i64 (LND's int64 fields).
pub fn int_arg(s: &str, field: &str) -> Result<i64> {
    match s.trim().parse::<i64>() {
        Ok(v) if v >= 0 => Ok(v),
        Ok(v) => input(format!("{field}: {v} is negative")),
        Err(_) => input(format!("{field}: {s:?} is not an integer in the int64 range")),
    }
}

/// [`int_arg`] as an unsigned number.
pub fn uint_arg(s: &str, field: &str) -> Result<u64> {
    int_arg(s, field).map(|v| v as u64)
}

/// [`int_arg`] within LND's uint32 fields.
/// An amount in sat as lncli takes it, in msat; refused where the msat
/// value leaves lncli's int64.
pub fn sat_arg(s: &str, field: &str) -> Result<Msat> {
    let sat = int_arg(s, field)?;
    Sat(sat as u64)
        .to_msat()
        .filter(|m| i64::try_from(m.0).is_ok())
        .ok_or_else(|| CliError::Input(format!("{field}: {sat} overflows when converted to msat")))
}

/// An msat amount as lncli takes it (an int64, cast as lncli's uint64).
pub fn msat_arg(s: &str, field: &str) -> Result<Msat> {
    Ok(Msat(int_arg(s, field)? as u64))
}

/// A sat count (a capacity) as an int64 field, cast as lncli's uint64.
pub fn sat_count_arg(s: &str, field: &str) -> Result<Sat> {
    Ok(Sat(int_arg(s, field)? as u64))
}

/// A sat limit in msat, saturating where × 1000 overflows (a limit that
/// large means no limit).
pub fn sat_saturating_arg(s: &str, field: &str) -> Result<Msat> {
    Ok(sat_count_arg(s, field)?.to_msat_saturating())
}

/// An int64 field taken as lncli's uint64 (a channel id).
pub fn u64_count_arg(s: &str, field: &str) -> Result<u64> {
    Ok(int_arg(s, field)? as u64)
}

/// A CLTV delta: a uint32 that must fit 16 bits.
pub fn u16_arg(s: &str, field: &str) -> Result<u16> {
    let v = u32_arg(s, field)?;
    u16::try_from(v).or_else(|_| input(format!("{field}: {v} exceeds 65535")))
}

/// `--sign-key`: a secret key in hex, or a file holding it.
pub fn sign_key(s: &str) -> Result<secp256k1::SecretKey> {
    let text = if Path::new(s).exists() {
        std::fs::read_to_string(s).or_else(|e| input(format!("--sign-key: {s}: {e}")))?
    } else {
        s.to_string()
    };
    let bytes = dmc_core::node::decode_hex(text.trim())
        .ok_or_else(|| CliError::Input("--sign-key: neither a file nor hex".into()))?;
    secp256k1::SecretKey::from_slice(&bytes).or_else(|e| input(format!("--sign-key: not a secret key: {e}")))
}

pub fn u32_arg(s: &str, field: &str) -> Result<u32> {
    let v = int_arg(s, field)?;
    u32::try_from(v).or_else(|_| input(format!("{field}: {v} exceeds the uint32 range")))
}

/// [`int_arg`] that must be at least 1 (a count of connections or streams).
pub fn count_arg(s: &str, field: &str) -> Result<i64> {
    match int_arg(s, field)? {
        0 => input(format!("{field}: must be at least 1")),
        n => Ok(n),
    }
}

/// [`count_arg`] within a u32.
pub fn u32_count_arg(s: &str, field: &str) -> Result<u32> {
    u32::try_from(count_arg(s, field)?).or_else(|_| input(format!("{field}: too large")))
}

pub fn float_arg(s: &str, field: &str) -> Result<f64> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => input(format!("{field}: {s:?} is not a number")),
    }
}

/// A weight of the coordinator's aggregate: finite and not negative.
pub fn weight_arg(s: &str, field: &str) -> Result<f64> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => input(format!("{field}: {s:?} is not a number ≥ 0")),
    }
}

/// A Go duration that is not negative.
pub fn duration_arg(s: &str, field: &str) -> Result<DurationNs> {
    match parse_go_duration(s.trim()) {
        Ok(d) if d >= DurationNs::ZERO => Ok(d),
        Ok(_) => input(format!("{field}: {s:?} is negative")),
        Err(e) => input(format!("{field}: {e}")),
    }
}

/// A Go duration, either sign (a shift of times).
pub fn signed_duration_arg(s: &str, field: &str) -> Result<DurationNs> {
    parse_go_duration(s.trim()).or_else(|e| input(format!("{field}: {e}")))
}

/// `host:port`.
pub fn socket_addr_arg(s: &str, field: &str) -> Result<std::net::SocketAddr> {
    s.parse().or_else(|_| input(format!("{field}: {s:?} is not host:port")))
}

/// `--now`: a Unix time in whole seconds, not before 1970.
pub fn unix_now_arg(s: &str, field: &str) -> Result<Timestamp> {
    match s.parse::<i64>() {
        Ok(secs) if secs >= 0 => Ok(Timestamp::from_unix_secs(secs)),
        _ => input(format!("{field}: {s:?} is not a non-negative Unix time in seconds")),
    }
}

/// A file's text; `-` reads stdin.
pub fn read_input(path: &Path, field: &str) -> Result<String> {
    let mut text = String::new();
    let res = if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    res.or_else(|e| input(format!("{field}: cannot read {}: {e}", path.display())))?;
    Ok(text)
}
