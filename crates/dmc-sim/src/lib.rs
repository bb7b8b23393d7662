//! # dmc-sim: a simulated Lightning network
//!
//! Channels from any graph dmc loads, with hidden per-direction balances
//! drawn from a seeded model ([`network`]); senders that each keep their own
//! dmc-core mission control and pay like LND's payment lifecycle
//! ([`payment`]); the tutorial's use cases replayed ([`scenario`]). Time is a
//! simulated clock, so mission control's decay is exact and reproducible.

pub mod availability;
pub mod coordinator;
pub mod experiment;
pub mod flow;
pub mod liars;
pub mod network;
pub mod payment;
pub mod plot;
pub mod reach;
pub mod rng;
pub mod scenario;
pub mod stats;
pub mod traffic;

pub use network::{BalanceModel, Network};
pub use payment::{pay, PaymentRecord, Sender, SimConfig};
