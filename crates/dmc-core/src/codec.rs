//! Binary encoding of what the local store persists: raw payment results
//! (as LND persists them, §1.7) and import batches. A leading version byte
//! lets later formats coexist; decoding never panics on bad bytes.

use crate::amount::Msat;
use crate::interpret::{FailureCode, Hop, PaymentFailure, PaymentResult, Route};
use crate::node::{DirectedPair, NodeId};
use crate::state::{PairSnapshot, TimedPairResult};
use crate::time::Timestamp;

const VERSION: u8 = 1;

/// Key under which a result is stored: reply time (Unix ns, big-endian) ‖
/// attempt id ‖ source key, as LND's, so keys sort chronologically.
/// `None` if the reply time is before 1970 (LND stores it as u64).
pub fn result_key(r: &PaymentResult) -> Option<[u8; 49]> {
    let t = u64::try_from(r.time_reply.unix_nanos()?).ok()?;
    let mut k = [0u8; 49];
    k[..8].copy_from_slice(&t.to_be_bytes());
    k[8..16].copy_from_slice(&r.id.to_be_bytes());
    k[16..].copy_from_slice(&r.route.source.0);
    Some(k)
}

/// An import as the store keeps it: validated pairs, applied at `time`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportBatch {
    /// When the import was made; a replay applies it among the stored
    /// results in this time order.
    pub time: Timestamp,
    /// The import's `force` flag (§3.3).
    pub force: bool,
    /// The pairs after import validation (§3.1), merged in this order.
    pub pairs: Vec<PairSnapshot>,
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn time(&mut self, t: Timestamp) {
        self.0.extend_from_slice(&t.to_raw().to_be_bytes());
    }
    fn node(&mut self, n: &NodeId) {
        self.0.extend_from_slice(&n.0);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_be_bytes)
    }
    fn time(&mut self) -> Option<Timestamp> {
        self.take().map(|b| Timestamp::from_raw(i128::from_be_bytes(b)))
    }
    fn node(&mut self) -> Option<NodeId> {
        self.take().map(NodeId)
    }
}

/// The store's value for one result: version byte, then id, both times,
/// route and optional failure in fixed-width big-endian fields. Not LND's
/// TLV stream (§1.7); only this crate reads it back.
pub fn encode_result(r: &PaymentResult) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(64 + 50 * r.route.hops.len()));
    w.u8(VERSION);
    w.u64(r.id);
    w.time(r.time_fwd);
    w.time(r.time_reply);
    w.node(&r.route.source);
    w.u64(r.route.total_amt_msat.0);
    w.u16(r.route.hops.len() as u16);
    for h in &r.route.hops {
        w.u64(h.chan_id);
        w.node(&h.pub_key);
        w.u64(h.amt_to_forward_msat.0);
        w.u8(h.has_blinding_point as u8 | (h.has_custom_records as u8) << 1);
    }
    match &r.failure {
        None => w.u8(0),
        Some(f) => {
            w.u8(1);
            w.u8(f.source_index.is_some() as u8 | (f.message.is_some() as u8) << 1);
            w.u8(f.source_index.unwrap_or(0));
            w.u16(f.message.map(FailureCode::wire_code).unwrap_or(0));
        }
    }
    w.0
}

/// Reads what [`encode_result`] wrote; `None` for another version, a
/// truncated or over-long value, or a failure code LND does not know.
pub fn decode_result(bytes: &[u8]) -> Option<PaymentResult> {
    let mut r = Reader(bytes);
    if r.u8()? != VERSION {
        return None;
    }
    let id = r.u64()?;
    let time_fwd = r.time()?;
    let time_reply = r.time()?;
    let source = r.node()?;
    let total_amt_msat = Msat(r.u64()?);
    let n = r.u16()?;
    let mut hops = Vec::with_capacity(n.min(64) as usize);
    for _ in 0..n {
        let chan_id = r.u64()?;
        let pub_key = r.node()?;
        let amt_to_forward_msat = Msat(r.u64()?);
        let flags = r.u8()?;
        hops.push(Hop {
            chan_id,
            pub_key,
            amt_to_forward_msat,
            has_blinding_point: flags & 1 != 0,
            has_custom_records: flags & 2 != 0,
        });
    }
    let failure = match r.u8()? {
        0 => None,
        1 => {
            let flags = r.u8()?;
            let idx = r.u8()?;
            let code = r.u16()?;
            Some(PaymentFailure {
                source_index: (flags & 1 != 0).then_some(idx),
                message: if flags & 2 != 0 {
                    Some(FailureCode::from_wire_code(code)?)
                } else {
                    None
                },
            })
        }
        _ => return None,
    };
    if !r.0.is_empty() {
        return None;
    }
    Some(PaymentResult {
        id,
        time_fwd,
        time_reply,
        route: Route {
            source,
            total_amt_msat,
            hops,
        },
        failure,
    })
}

/// The store's value for one import batch: version byte, time, force flag,
/// then each pair's nodes and record in fixed-width big-endian fields.
pub fn encode_import(b: &ImportBatch) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(24 + 130 * b.pairs.len()));
    w.u8(VERSION);
    w.time(b.time);
    w.u8(b.force as u8);
    w.u32(b.pairs.len() as u32);
    for p in &b.pairs {
        w.node(&p.pair.from);
        w.node(&p.pair.to);
        w.time(p.result.fail_time);
        w.u64(p.result.fail_amt_msat.0);
        w.time(p.result.success_time);
        w.u64(p.result.success_amt_msat.0);
    }
    w.0
}

/// Reads what [`encode_import`] wrote; `None` for another version, a force
/// byte other than 0 or 1, or a truncated or over-long value.
pub fn decode_import(bytes: &[u8]) -> Option<ImportBatch> {
    let mut r = Reader(bytes);
    if r.u8()? != VERSION {
        return None;
    }
    let time = r.time()?;
    let force = match r.u8()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    let n = r.u32()?;
    let mut pairs = Vec::with_capacity((n as usize).min(bytes.len() / 130 + 1));
    for _ in 0..n {
        let from = r.node()?;
        let to = r.node()?;
        let result = TimedPairResult {
            fail_time: r.time()?,
            fail_amt_msat: Msat(r.u64()?),
            success_time: r.time()?,
            success_amt_msat: Msat(r.u64()?),
        };
        pairs.push(PairSnapshot {
            pair: DirectedPair::new(from, to),
            result,
        });
    }
    if !r.0.is_empty() {
        return None;
    }
    Some(ImportBatch { time, force, pairs })
}
