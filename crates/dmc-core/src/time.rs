//! Time as Go's `time.Time` sees it.
//!
//! LND's mission control compares and subtracts `time.Time` values, and the
//! zero time (0001-01-01 UTC) means "nothing recorded". Subtractions involving
//! it saturate. [`Timestamp`] keeps nanoseconds since the Unix epoch in an
//! `i128`, wide enough to hold the zero time itself, so every comparison and
//! every `Sub` behaves exactly as Go's does without special cases.

use std::fmt;

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: i128 = 1_000_000_000;
/// Nanoseconds in one hour, as Go's `time.Hour`.
pub const NANOS_PER_HOUR: i64 = 3_600_000_000_000;
/// Seconds from 0001-01-01 UTC (Go's zero time) to the Unix epoch.
const ZERO_TIME_UNIX_SECS: i128 = -62_135_596_800;

/// A point in time with nanosecond precision, or Go's zero time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i128);

pub use crate::duration::DurationNs;

impl Timestamp {
    /// Go's zero `time.Time{}`; `is_zero()` is how LND says "none".
    pub const ZERO: Timestamp = Timestamp(ZERO_TIME_UNIX_SECS * NANOS_PER_SEC);

    /// `time.Unix(secs, 0)`.
    pub const fn from_unix_secs(secs: i64) -> Self {
        Timestamp(secs as i128 * NANOS_PER_SEC)
    }

    /// `time.Unix(0, nanos)`.
    pub const fn from_unix_nanos(nanos: i64) -> Self {
        Timestamp(nanos as i128)
    }

    /// Nanoseconds since the Unix epoch, for storage.
    pub const fn to_raw(self) -> i128 {
        self.0
    }

    /// The inverse of [`Timestamp::to_raw`]: nanoseconds since the Unix
    /// epoch, the zero time included.
    pub const fn from_raw(nanos: i128) -> Self {
        Timestamp(nanos)
    }

    /// Go's `t.IsZero()`: true only for [`Timestamp::ZERO`], not for the
    /// Unix epoch.
    pub const fn is_zero(self) -> bool {
        self.0 == Self::ZERO.0
    }

    /// `t.Unix()`: whole seconds, rounded toward minus infinity as Go does.
    pub fn unix_secs(self) -> i64 {
        clamp_i64(self.0.div_euclid(NANOS_PER_SEC))
    }

    /// Seconds as the RPC layer prints them: 0 for the zero time.
    pub fn rpc_unix_secs(self) -> i64 {
        if self.is_zero() {
            0
        } else {
            self.unix_secs()
        }
    }

    /// `t.UnixNano()` when it fits in an i64, else `None`.
    pub fn unix_nanos(self) -> Option<i64> {
        i64::try_from(self.0).ok()
    }

    /// Go's `t.Sub(u)`: the difference, saturated to the i64 range. Named
    /// after Go's method rather than `ops::Sub` because it saturates.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, earlier: Timestamp) -> DurationNs {
        DurationNs(clamp_i64(self.0 - earlier.0))
    }

    /// Go's `t.Add(d)`.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, d: DurationNs) -> Timestamp {
        Timestamp(self.0 + d.as_nanos() as i128)
    }

    /// Go's `t.After(u)`.
    pub fn after(self, other: Timestamp) -> bool {
        self.0 > other.0
    }
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

impl Default for Timestamp {
    fn default() -> Self {
        Timestamp::ZERO
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            write!(f, "Timestamp(zero)")
        } else {
            write!(f, "Timestamp({}ns)", self.0)
        }
    }
}

/// Why a Go duration string did not parse (Go's `time.ParseDuration` errors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DurationError {
    /// Not a duration, or out of the `i64` nanosecond range.
    Invalid {
        /// The text as given.
        input: String,
    },
    /// A number without a unit (only `0` may stand alone).
    MissingUnit {
        /// The text as given.
        input: String,
    },
    /// A unit other than `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`.
    UnknownUnit {
        /// The unit found.
        unit: String,
        /// The text as given.
        input: String,
    },
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Invalid { input } => write!(f, "invalid duration {input:?}"),
            DurationError::MissingUnit { input } => write!(f, "missing unit in duration {input:?}"),
            DurationError::UnknownUnit { unit, input } => write!(f, "unknown unit {unit:?} in duration {input:?}"),
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses a Go duration string such as `72h3m0.5s`, `-1m`, `300ms` or `0`.
pub fn parse_go_duration(s: &str) -> Result<DurationNs, DurationError> {
    let orig = s;
    let err = || DurationError::Invalid { input: orig.into() };
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(DurationNs::ZERO);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let int_part = &rest[..int_end];
        rest = &rest[int_end..];
        let mut frac_part = "";
        if let Some(r) = rest.strip_prefix('.') {
            let frac_end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            frac_part = &r[..frac_end];
            rest = &r[frac_end..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(err());
        }
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit: u128 = match &rest[..unit_end] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(DurationError::MissingUnit { input: orig.into() }),
            u => {
                return Err(DurationError::UnknownUnit {
                    unit: u.into(),
                    input: orig.into(),
                })
            }
        };
        rest = &rest[unit_end..];
        let int_val: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| err())?
        };
        let mut value = int_val.checked_mul(unit).ok_or_else(err)?;
        if !frac_part.is_empty() {
            let digits = frac_part.len().min(30) as u32;
            let frac: u128 = frac_part[..digits as usize].parse().map_err(|_| err())?;
            value += frac * unit / 10u128.pow(digits);
        }
        total = total.checked_add(value).ok_or_else(err)?;
        if total > i64::MAX as u128 + neg as u128 {
            return Err(err());
        }
    }
    Ok(DurationNs(if neg { (-(total as i128)) as i64 } else { total as i64 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_time_saturates_like_go() {
        let real = Timestamp::from_unix_secs(1_700_000_000);
        assert_eq!(real.sub(Timestamp::ZERO), DurationNs::MAX);
        assert_eq!(Timestamp::ZERO.sub(real), DurationNs::MIN);
        assert_eq!(Timestamp::ZERO.sub(Timestamp::ZERO), DurationNs::ZERO);
        assert!(!Timestamp::from_unix_secs(0).is_zero());
        assert_eq!(Timestamp::ZERO.rpc_unix_secs(), 0);
        assert_eq!(Timestamp::from_unix_nanos(-1).unix_secs(), -1);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("72h").unwrap(), DurationNs(72 * NANOS_PER_HOUR));
        assert_eq!(
            parse_go_duration("72h3m0.5s").unwrap(),
            DurationNs(72 * NANOS_PER_HOUR + 180_000_000_000 + 500_000_000)
        );
        assert_eq!(parse_go_duration("-1.5h").unwrap(), DurationNs(-NANOS_PER_HOUR * 3 / 2));
        assert_eq!(parse_go_duration("0").unwrap(), DurationNs::ZERO);
        assert_eq!(parse_go_duration("300ms").unwrap(), DurationNs(300_000_000));
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("5x").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("99999999999999h").is_err());
    }
}
