//! A span of time as Go's `time.Duration` sees it: signed nanoseconds in
//! an `i64`, about ±292 years.
//!
//! The name is [`DurationNs`] rather than `GoDuration` because what it
//! holds (nanoseconds) is what a reader needs at the byte and wire
//! boundaries, and because `std::time::Duration` (unsigned, seconds plus
//! nanoseconds) is the other duration in the code: the suffix tells them
//! apart. It crosses crates wherever LND's mission control takes or returns
//! a `time.Duration`: half-lives, relax intervals, the server's windows and
//! timeouts, the CLI's flags.
//!
//! The conversions are named methods: [`DurationNs::as_nanos`] and the
//! public field for storage and wire forms, [`DurationNs::hours`] and
//! [`DurationNs::secs`] for the estimators' formulas (Go's float forms,
//! bit for bit). Saturating helpers are there where Go's `Time.Sub`
//! saturates; the `+`, `-`, `× i64` and `÷ i64` operators are `i64`'s own (Go's
//! `Duration` arithmetic on the same integer), for spans of time built from
//! units as in `30 * DurationNs::MINUTE`.

#![deny(clippy::arithmetic_side_effects)]

use std::ops::{Add, Div, Mul, Neg, Sub};

use serde::{Deserialize, Serialize};

/// Nanoseconds in one second.
const NANOS_PER_SEC: i64 = 1_000_000_000;
/// Nanoseconds in one hour, as Go's `time.Hour`.
const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

/// A Go `time.Duration`: signed nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DurationNs(pub i64);

impl DurationNs {
    /// No time.
    pub const ZERO: DurationNs = DurationNs(0);
    /// Go's `time.Nanosecond`.
    pub const NANOSECOND: DurationNs = DurationNs(1);
    /// Go's `time.Millisecond`.
    pub const MILLISECOND: DurationNs = DurationNs(1_000_000);
    /// Go's `time.Second`.
    pub const SECOND: DurationNs = DurationNs(NANOS_PER_SEC);
    /// Go's `time.Minute`.
    pub const MINUTE: DurationNs = DurationNs(60 * NANOS_PER_SEC);
    /// Go's `time.Hour`.
    pub const HOUR: DurationNs = DurationNs(NANOS_PER_HOUR);
    /// The longest duration, where Go's `Time.Sub` saturates.
    pub const MAX: DurationNs = DurationNs(i64::MAX);
    /// The most negative duration, where Go's `Time.Sub` saturates.
    pub const MIN: DurationNs = DurationNs(i64::MIN);

    /// A count of nanoseconds, as Go's `time.Duration(n)`.
    pub const fn from_nanos(nanos: i64) -> Self {
        DurationNs(nanos)
    }

    /// Whole seconds, saturated to the `i64` nanosecond range.
    pub const fn from_secs(secs: i64) -> Self {
        DurationNs(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// Whole minutes, saturated to the `i64` nanosecond range.
    pub const fn from_mins(mins: i64) -> Self {
        DurationNs(mins.saturating_mul(Self::MINUTE.0))
    }

    /// Whole hours, saturated to the `i64` nanosecond range.
    pub const fn from_hours(hours: i64) -> Self {
        DurationNs(hours.saturating_mul(NANOS_PER_HOUR))
    }

    /// The nanosecond count, for storage and wire forms.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds, truncated toward zero (Go's `d / time.Second`).
    pub const fn whole_secs(self) -> i64 {
        self.0 / NANOS_PER_SEC
    }

    /// Whole hours, truncated toward zero (Go's `d / time.Hour`).
    pub const fn whole_hours(self) -> i64 {
        self.0 / NANOS_PER_HOUR
    }

    /// Go's `Duration.Hours()`: integer hours plus the remainder as a
    /// fraction, computed in this exact order so results match bit for bit.
    pub fn hours(self) -> f64 {
        let hours = self.0 / NANOS_PER_HOUR;
        let rem = self.0 % NANOS_PER_HOUR;
        hours as f64 + rem as f64 / (60.0 * 60.0 * 1e9)
    }

    /// Go's `Duration.Seconds()`, in the same split form as [`Self::hours`].
    pub fn secs(self) -> f64 {
        let sec = self.0 / NANOS_PER_SEC;
        let nsec = self.0 % NANOS_PER_SEC;
        sec as f64 + nsec as f64 / 1e9
    }

    /// `self + other`, clamped to the `i64` nanosecond range.
    pub const fn saturating_add(self, other: DurationNs) -> DurationNs {
        DurationNs(self.0.saturating_add(other.0))
    }

    /// `self − other`, clamped to the `i64` nanosecond range.
    pub const fn saturating_sub(self, other: DurationNs) -> DurationNs {
        DurationNs(self.0.saturating_sub(other.0))
    }

    /// `self × factor`, clamped to the `i64` nanosecond range.
    pub const fn saturating_mul(self, factor: i64) -> DurationNs {
        DurationNs(self.0.saturating_mul(factor))
    }

    /// `self + other`; `None` past the `i64` nanosecond range.
    pub const fn checked_add(self, other: DurationNs) -> Option<DurationNs> {
        match self.0.checked_add(other.0) {
            Some(d) => Some(DurationNs(d)),
            None => None,
        }
    }

    /// `−self`; `None` for [`Self::MIN`], which has no negation.
    pub const fn checked_neg(self) -> Option<DurationNs> {
        match self.0.checked_neg() {
            Some(d) => Some(DurationNs(d)),
            None => None,
        }
    }

    /// The magnitude in nanoseconds; `MIN` has one, unlike `i64::abs`.
    pub const fn unsigned_abs(self) -> u64 {
        self.0.unsigned_abs()
    }

    /// Shorter than zero (an end before its start).
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }
}

// The operators are i64's, with its overflow rule, as the plain `i64`
// durations had.
#[allow(clippy::arithmetic_side_effects)]
impl Add for DurationNs {
    type Output = DurationNs;
    fn add(self, other: DurationNs) -> DurationNs {
        DurationNs(self.0 + other.0)
    }
}

#[allow(clippy::arithmetic_side_effects)]
impl Sub for DurationNs {
    type Output = DurationNs;
    fn sub(self, other: DurationNs) -> DurationNs {
        DurationNs(self.0 - other.0)
    }
}

#[allow(clippy::arithmetic_side_effects)]
impl Neg for DurationNs {
    type Output = DurationNs;
    fn neg(self) -> DurationNs {
        DurationNs(-self.0)
    }
}

#[allow(clippy::arithmetic_side_effects)]
impl Mul<i64> for DurationNs {
    type Output = DurationNs;
    fn mul(self, factor: i64) -> DurationNs {
        DurationNs(self.0 * factor)
    }
}

#[allow(clippy::arithmetic_side_effects)]
impl Mul<DurationNs> for i64 {
    type Output = DurationNs;
    fn mul(self, d: DurationNs) -> DurationNs {
        DurationNs(self * d.0)
    }
}

#[allow(clippy::arithmetic_side_effects)]
impl Div<i64> for DurationNs {
    type Output = DurationNs;
    fn div(self, divisor: i64) -> DurationNs {
        DurationNs(self.0 / divisor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_matches_go_form() {
        assert_eq!(DurationNs::HOUR.hours(), 1.0);
        assert_eq!(DurationNs(-NANOS_PER_HOUR / 2).hours(), -0.5);
        assert_eq!(DurationNs::MAX.hours(), 2562047.7880152157);
        assert_eq!(DurationNs(1_500_000_000).secs(), 1.5);
    }

    #[test]
    fn constructors_saturate_and_serialise_as_nanos() {
        assert_eq!(DurationNs::from_hours(72), DurationNs(72 * NANOS_PER_HOUR));
        assert_eq!(DurationNs::from_mins(1), DurationNs::MINUTE);
        assert_eq!(DurationNs::from_secs(i64::MAX), DurationNs::MAX);
        assert_eq!(DurationNs::MAX.saturating_add(DurationNs::SECOND), DurationNs::MAX);
        assert_eq!(DurationNs(-1_500_000_000).whole_secs(), -1);
        assert_eq!(serde_json::to_string(&DurationNs(7)).unwrap(), "7");
    }
}
