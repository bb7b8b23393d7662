//! # dmc-core: LND's mission control as a pure state machine
//!
//! Mission control (MC) is a Lightning sender's memory of payment outcomes:
//! for each directed node pair, the last failure and the largest success,
//! with their times. Pathfinding asks it how likely each hop is to forward
//! an amount. This crate reproduces LND's MC exactly, quirks included, as
//! specified in `docs/lnd-mission-control.md` (LND commit `90ea05d5a7f9`):
//!
//! * [`amount`]: [`Msat`] and [`Sat`], money with its unit in the type,
//! * [`state`]: pair records and their update rules (§1),
//! * [`interpret`]: HTLC attempt outcomes → pair results (§2),
//! * [`rpc`]: import validation, `loadmc` sanitising, the JSON lncli prints (§3, §8),
//! * [`estimator`]: the apriori and bimodal estimators (§4),
//! * [`mission_control`]: the whole, driven by explicit inputs,
//! * [`sync_plan`]: `dmc sync`'s import of coordinator data into a wallet
//!   (what to take, then `XImportMissionControl`), shared with the simulator,
//! * [`codec`]: a compact binary form of raw results and imports for storage,
//! * [`liquidity`]: the shared liquidity model many reporters build, and the LND records it implies.
//!
//! No I/O, no clock, no async: every input, time included, is an argument.
//! Times follow Go's `time.Time` semantics ([`time`]), so zero times and
//! saturating subtraction behave as in LND.

pub mod aggregate;
pub mod amount;
pub mod codec;
pub mod duration;
pub mod estimator;
pub mod interpret;
pub mod json;
pub mod liquidity;
pub mod mission_control;
pub mod node;
pub mod reputation;
pub mod rpc;
pub mod signmsg;
pub mod state;
pub mod sync_plan;
pub mod time;

pub use amount::{Msat, Sat};
pub use estimator::{AprioriConfig, BimodalConfig, EstimatorConfig};
pub use interpret::{FailureCode, FailureReason, Hop, PaymentFailure, PaymentResult, Route};
pub use mission_control::{MissionControl, MissionControlConfig, SuccessProbability};
pub use node::{DirectedPair, NodeId};
pub use state::{PairResult, PairSnapshot, TimedPairResult};
pub use time::Timestamp;
