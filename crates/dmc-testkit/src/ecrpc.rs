//! Builders of the Go coordinator's wire types (`ecrpc`), as a reporter
//! sends them: both the sat and the msat field filled, as lnd does.

use dmc_proto::ecrpc::{PairData, PairHistory};

/// A success of `msat` at unix second `t`.
pub fn success(t: i64, msat: i64) -> PairData {
    PairData {
        success_time: t,
        success_amt_sat: msat / 1000,
        success_amt_msat: msat,
        ..Default::default()
    }
}

/// A failure of `msat` at unix second `t`.
pub fn failure(t: i64, msat: i64) -> PairData {
    PairData {
        fail_time: t,
        fail_amt_sat: msat / 1000,
        fail_amt_msat: msat,
        ..Default::default()
    }
}

/// The pair `from → to` with `history`.
pub fn pair(from: Vec<u8>, to: Vec<u8>, history: PairData) -> PairHistory {
    PairHistory {
        node_from: from,
        node_to: to,
        history: Some(history),
    }
}

/// Pairs in key order, as the coordinator serves them.
pub fn sorted(mut v: Vec<PairHistory>) -> Vec<PairHistory> {
    v.sort_by(|a, b| (&a.node_from, &a.node_to).cmp(&(&b.node_from, &b.node_to)));
    v
}
