//! Money with its unit in the type: [`Msat`] (millisatoshi, what HTLCs,
//! fees and mission control's amounts are counted in; LND's
//! `lnwire.MilliSatoshi`) and [`Sat`] (satoshi, what channel capacities and
//! `lncli`'s `amt` arguments are counted in; LND's `btcutil.Amount`).
//!
//! A sat is 1000 msat. The conversions are named methods, one per
//! overflow rule the code needs, so no `× 1000` or `/ 1000` on money is
//! written anywhere else:
//!
//! * [`Sat::to_msat`]: checked, for user input (refused if it overflows);
//! * [`Sat::to_msat_saturating`]: capacities compared with amounts, where a
//!   capacity beyond `u64` msat means "more than any amount";
//! * [`Sat::to_msat_wrapping`]: LND's `btcutil.Amount.ToMSat`, Go's
//!   wrapping `int64` product, where the estimators must match LND bit for
//!   bit;
//! * [`Msat::to_sat_floor`]: whole sats, rounding down as LND's
//!   `MilliSatoshi.ToSatoshis` does.
//!
//! Arithmetic is explicit too: `checked_*`, `saturating_*` and `wrapping_*`
//! helpers, no `+`/`-` operators, so every overflow rule is visible where
//! it is chosen.

#![deny(clippy::arithmetic_side_effects)]

use std::fmt;

use serde::{Deserialize, Serialize};

/// Millisatoshi per satoshi.
const MSAT_PER_SAT: u64 = 1000;

/// An amount in millisatoshi (LND's `lnwire.MilliSatoshi`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Msat(pub u64);

/// An amount in satoshi (LND's `btcutil.Amount`, unsigned): capacities and
/// the amounts `lncli` takes in sat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sat(pub u64);

impl Msat {
    /// No msat; as a failure amount, "fails at every amount" (§1.1).
    pub const ZERO: Msat = Msat(0);
    /// The largest amount `u64` msat can hold.
    pub const MAX: Msat = Msat(u64::MAX);

    /// Whole sats, rounded down (LND's `MilliSatoshi.ToSatoshis`).
    pub const fn to_sat_floor(self) -> Sat {
        Sat(self.0 / MSAT_PER_SAT)
    }

    /// Whole sats and the msat left over (`1005 msat` is `1 sat` and
    /// `5 msat`), for printing sat amounts with their fraction.
    pub const fn split_sat(self) -> (Sat, Msat) {
        (Sat(self.0 / MSAT_PER_SAT), Msat(self.0 % MSAT_PER_SAT))
    }

    /// `self + other`; `None` on overflow.
    pub fn checked_add(self, other: Msat) -> Option<Msat> {
        self.0.checked_add(other.0).map(Msat)
    }

    /// `self − other`; `None` if `other` is larger.
    pub fn checked_sub(self, other: Msat) -> Option<Msat> {
        self.0.checked_sub(other.0).map(Msat)
    }

    /// `self + other`, [`Msat::MAX`] on overflow.
    pub const fn saturating_add(self, other: Msat) -> Msat {
        Msat(self.0.saturating_add(other.0))
    }

    /// `self − other`, zero if `other` is larger.
    pub const fn saturating_sub(self, other: Msat) -> Msat {
        Msat(self.0.saturating_sub(other.0))
    }

    /// `self + other` modulo 2⁶⁴, as Go's unsigned arithmetic does.
    pub const fn wrapping_add(self, other: Msat) -> Msat {
        Msat(self.0.wrapping_add(other.0))
    }

    /// `self − other` modulo 2⁶⁴, as Go's unsigned arithmetic does.
    pub const fn wrapping_sub(self, other: Msat) -> Msat {
        Msat(self.0.wrapping_sub(other.0))
    }

    /// Half, rounded down (MPP's shard halving).
    pub const fn half(self) -> Msat {
        Msat(self.0 >> 1)
    }

    /// The amount as a float, for the estimators' formulas.
    pub const fn as_f64(self) -> f64 {
        self.0 as f64
    }
}

impl Sat {
    /// No sat.
    pub const ZERO: Sat = Sat(0);

    /// In msat; `None` if that overflows `u64`.
    pub const fn to_msat(self) -> Option<Msat> {
        match self.0.checked_mul(MSAT_PER_SAT) {
            Some(m) => Some(Msat(m)),
            None => None,
        }
    }

    /// In msat, `u64::MAX` msat if that overflows (a capacity beyond
    /// every amount).
    pub const fn to_msat_saturating(self) -> Msat {
        Msat(self.0.saturating_mul(MSAT_PER_SAT))
    }

    /// In msat modulo 2⁶⁴: LND's `btcutil.Amount.ToMSat`, whose Go
    /// multiplication wraps. Only where results must match LND's bit for bit.
    pub const fn to_msat_wrapping(self) -> Msat {
        Msat(self.0.wrapping_mul(MSAT_PER_SAT))
    }

    /// `self + other`, `u64::MAX` sat on overflow.
    pub const fn saturating_add(self, other: Sat) -> Sat {
        Sat(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Msat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} msat", self.0)
    }
}

impl fmt::Display for Sat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} sat", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_keep_their_overflow_rules() {
        assert_eq!(Sat(21).to_msat(), Some(Msat(21_000)));
        assert_eq!(Sat(u64::MAX / 1000 + 1).to_msat(), None);
        assert_eq!(Sat(u64::MAX).to_msat_saturating(), Msat::MAX);
        assert_eq!(Sat(u64::MAX).to_msat_wrapping(), Msat(u64::MAX.wrapping_mul(1000)));
        assert_eq!(Msat(1999).to_sat_floor(), Sat(1));
        assert_eq!(Msat(1005).split_sat(), (Sat(1), Msat(5)));
        assert_eq!(Msat(u64::MAX).split_sat(), (Sat(u64::MAX / 1000), Msat(615)));
        assert_eq!(Msat(5).saturating_sub(Msat(7)), Msat::ZERO);
        assert_eq!(Msat(u64::MAX).checked_add(Msat(1)), None);
        assert_eq!(Msat(9).half(), Msat(4));
    }

    #[test]
    fn units_print_and_serialise() {
        assert_eq!(Msat(1500).to_string(), "1500 msat");
        assert_eq!(Sat(2).to_string(), "2 sat");
        assert_eq!(serde_json::to_string(&Msat(7)).unwrap(), "7");
        assert_eq!(serde_json::from_str::<Sat>("8").unwrap(), Sat(8));
    }
}
