//! Core Lightning `lightning-cli listchannels` JSON.
//!
//! The document is `{"channels":[...]}` with one entry per direction of a
//! channel: `source` announced the entry's `channel_update` for payments
//! towards `destination`. Entries are grouped by `short_channel_id` and
//! each channel is added to a [`Graph`] once, with node 1 the
//! lexicographically lesser key (BOLT 7's `node_id_1`) and `p1` its policy.
//!
//! Both the older output (millisatoshi fields as `"1000msat"` strings,
//! `satoshis` present) and the newer one (plain integers, `satoshis`
//! omitted) are accepted. A direction with `active: false` becomes a
//! policy with `disabled = true`; a direction with no entry has no policy.
//! As in the describegraph loader, an `htlc_maximum_msat` of 0 is read as
//! "no maximum announced".
//!
//! Malformed input is refused with an error that names the channel's SCID
//! (or, before the SCID is known, the entry index) and the field.

use std::collections::HashMap;
use std::path::Path;

use dmc_core::{Msat, NodeId, Sat};
use serde_json::{Map, Value};

use crate::{Graph, GraphError, Policy};

/// Reads a listchannels file; gzip (magic bytes `1f 8b`) is decompressed.
pub fn load_listchannels(path: &Path) -> Result<Graph, GraphError> {
    let text = crate::read_graph_text(path)?;
    parse_listchannels(&text).map_err(|e| GraphError(format!("{}: {e}", path.display())))
}

/// Parses listchannels JSON text.
pub fn parse_listchannels(text: &str) -> Result<Graph, GraphError> {
    let mut g = Graph::default();
    let (channels, newest) = parse_channels(text)?;
    for c in channels {
        g.add_channel(c.chan_id, c.n1, c.n2, c.capacity_sat, c.p1, c.p2);
    }
    g.note_update(newest);
    Ok(g)
}

/// The file's bytes as text, gunzipped when they start with the gzip magic.
/// One channel, ready for [`Graph::add_channel`].
#[derive(Clone, Debug, PartialEq, Eq)]
struct ChannelRecord {
    chan_id: u64,
    /// The lesser node id of the two.
    n1: NodeId,
    n2: NodeId,
    capacity_sat: Sat,
    /// `n1`'s policy towards `n2`.
    p1: Option<Policy>,
    /// `n2`'s policy towards `n1`.
    p2: Option<Policy>,
}

/// One validated listchannels entry (one direction).
struct Half<'a> {
    index: usize,
    scid: &'a str,
    source: NodeId,
    destination: NodeId,
    capacity_sat: Sat,
    policy: Policy,
}

/// Parses and validates all entries, returning the channels in the order
/// their SCIDs first appear, and the newest `last_update` (0: none).
fn parse_channels(text: &str) -> Result<(Vec<ChannelRecord>, u64), GraphError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| GraphError(format!("malformed JSON: {e}")))?;
    let newest = doc.get("channels").and_then(Value::as_array).map_or(0, |cs| {
        cs.iter()
            .filter_map(|c| crate::update_time(c.get("last_update")))
            .max()
            .unwrap_or(0)
    });
    let entries = doc
        .get("channels")
        .and_then(Value::as_array)
        .ok_or_else(|| GraphError("channels: missing or not an array".into()))?;

    // Channels in first-seen order; `by_id` maps a chan_id to its slot.
    let mut halves: Vec<(Half, Option<Half>)> = Vec::new();
    let mut by_id: HashMap<u64, usize> = HashMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let (chan_id, half) = parse_half(index, entry)?;
        match by_id.get(&chan_id) {
            None => {
                by_id.insert(chan_id, halves.len());
                halves.push((half, None));
            }
            Some(&slot) => {
                let (first, second) = &mut halves[slot];
                check_other_direction(first, second.as_ref(), &half)?;
                *second = Some(half);
            }
        }
    }

    let ids: Vec<u64> = {
        let mut ids = vec![0; halves.len()];
        for (&id, &slot) in &by_id {
            ids[slot] = id;
        }
        ids
    };
    Ok((
        halves
            .into_iter()
            .zip(ids)
            .map(|((first, second), chan_id)| {
                let (n1, n2) = if first.source < first.destination {
                    (first.source, first.destination)
                } else {
                    (first.destination, first.source)
                };
                let capacity_sat = first.capacity_sat;
                let (mut p1, mut p2) = (None, None);
                for h in std::iter::once(first).chain(second) {
                    if h.source == n1 {
                        p1 = Some(h.policy);
                    } else {
                        p2 = Some(h.policy);
                    }
                }
                ChannelRecord {
                    chan_id,
                    n1,
                    n2,
                    capacity_sat,
                    p1,
                    p2,
                }
            })
            .collect(),
        newest,
    ))
}

/// `second` arrives for a channel whose first entry is `first` (and whose
/// other direction, if already seen, is `seen`).
fn check_other_direction(first: &Half, seen: Option<&Half>, second: &Half) -> Result<(), GraphError> {
    let ctx = format!("channel {} (channels[{}])", second.scid, second.index);
    if let Some(prev) = seen.into_iter().chain([first]).find(|h| h.source == second.source) {
        return Err(GraphError(format!(
            "{ctx}: a second entry for the direction from source {} (the first is channels[{}])",
            second.source, prev.index
        )));
    }
    if second.source != first.destination || second.destination != first.source {
        return Err(GraphError(format!(
            "{ctx}: source/destination {} → {} do not match the reverse of channels[{}] ({} → {})",
            second.source, second.destination, first.index, first.source, first.destination
        )));
    }
    if second.capacity_sat != first.capacity_sat {
        return Err(GraphError(format!(
            "{ctx}.satoshis: capacity {} sat differs from {} sat in channels[{}]",
            second.capacity_sat, first.capacity_sat, first.index
        )));
    }
    Ok(())
}

/// Parses entry `index`, returning its LND channel id and the direction.
fn parse_half(index: usize, entry: &Value) -> Result<(u64, Half<'_>), GraphError> {
    let o = entry
        .as_object()
        .ok_or_else(|| GraphError(format!("channels[{index}]: not an object")))?;
    let scid = match o.get("short_channel_id") {
        Some(Value::String(s)) => s.as_str(),
        None | Some(Value::Null) => return Err(GraphError(format!("channels[{index}].short_channel_id: missing"))),
        Some(v) => {
            return Err(GraphError(format!(
                "channels[{index}].short_channel_id: {v} is not a string"
            )))
        }
    };
    let chan_id = parse_scid(scid).map_err(|why| {
        GraphError(format!(
            "channels[{index}].short_channel_id: {scid:?} is not a short channel id ({why})"
        ))
    })?;
    let ctx = format!("channel {scid} (channels[{index}])");

    let node = |name: &str| -> Result<NodeId, GraphError> {
        let s = match o.get(name) {
            Some(Value::String(s)) => s,
            None | Some(Value::Null) => return Err(GraphError(format!("{ctx}.{name}: missing"))),
            Some(v) => return Err(GraphError(format!("{ctx}.{name}: {v} is not a string"))),
        };
        NodeId::from_hex_unchecked(s).map_err(|e| GraphError(format!("{ctx}.{name}: {s:?}: {e}")))
    };
    let source = node("source")?;
    let destination = node("destination")?;
    if source == destination {
        return Err(GraphError(format!("{ctx}: source and destination are the same node")));
    }

    let capacity_sat = capacity(o, &ctx)?;

    let delay = int(o, "delay", &ctx)?;
    let time_lock_delta =
        u16::try_from(delay).map_err(|_| GraphError(format!("{ctx}.delay: {delay} exceeds 65535")))?;
    let min_htlc_msat = Msat(
        msat(o, "htlc_minimum_msat", &ctx)?.ok_or_else(|| GraphError(format!("{ctx}.htlc_minimum_msat: missing")))?,
    );
    let max_htlc_msat = msat(o, "htlc_maximum_msat", &ctx)?.filter(|m| *m > 0).map(Msat);
    if let Some(max) = max_htlc_msat {
        if max < min_htlc_msat {
            return Err(GraphError(format!(
                "{ctx}.htlc_maximum_msat: {max} is below htlc_minimum_msat {min_htlc_msat}"
            )));
        }
    }
    // The describegraph loader's rule too, so a graph read from either
    // format can be written as the other (found by the listchannels fuzzer).
    if capacity_sat > Sat::ZERO && min_htlc_msat > capacity_sat.to_msat_saturating() {
        return Err(GraphError(format!(
            "{ctx}.htlc_minimum_msat: {min_htlc_msat} exceeds the capacity of {capacity_sat}"
        )));
    }
    let active = match o.get("active") {
        Some(Value::Bool(b)) => *b,
        None | Some(Value::Null) => return Err(GraphError(format!("{ctx}.active: missing"))),
        Some(v) => return Err(GraphError(format!("{ctx}.active: {v} is not a boolean"))),
    };
    let policy = Policy {
        time_lock_delta,
        min_htlc_msat,
        max_htlc_msat,
        fee_base_msat: Msat(int(o, "base_fee_millisatoshi", &ctx)?),
        fee_rate_ppm: int(o, "fee_per_millionth", &ctx)?,
        disabled: !active,
    };
    Ok((
        chan_id,
        Half {
            index,
            scid,
            source,
            destination,
            capacity_sat,
            policy,
        },
    ))
}

/// `"BLOCKxTXxOUTPUT"` to LND's `block << 40 | tx << 16 | output`.
fn parse_scid(s: &str) -> Result<u64, &'static str> {
    let mut parts = s.split('x');
    let mut next = |limit: u64, what: &'static str| -> Result<u64, &'static str> {
        let p = parts.next().ok_or("want BLOCKxTXxOUTPUT")?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err("want BLOCKxTXxOUTPUT in decimal");
        }
        match p.parse::<u64>() {
            Ok(n) if n <= limit => Ok(n),
            _ => Err(what),
        }
    };
    let block = next(0xff_ffff, "block height exceeds 16777215")?;
    let tx = next(0xff_ffff, "transaction index exceeds 16777215")?;
    let output = next(0xffff, "output index exceeds 65535")?;
    if parts.next().is_some() {
        return Err("want BLOCKxTXxOUTPUT");
    }
    Ok(block << 40 | tx << 16 | output)
}

/// The channel's capacity from `satoshis` and/or `amount_msat` (newer CLN
/// prints only the latter); when both are present they must agree.
fn capacity(o: &Map<String, Value>, ctx: &str) -> Result<Sat, GraphError> {
    let sat = match o.get("satoshis") {
        None | Some(Value::Null) => None,
        Some(_) => Some(int(o, "satoshis", ctx)?),
    };
    let amount = msat(o, "amount_msat", ctx)?.map(Msat);
    match (sat.map(Sat), amount) {
        (Some(sat), Some(msat)) => {
            if sat.to_msat() != Some(msat) {
                return Err(GraphError(format!(
                    "{ctx}.amount_msat: {msat} disagrees with satoshis {}",
                    sat.0
                )));
            }
            Ok(sat)
        }
        (Some(sat), None) => Ok(sat),
        (None, Some(msat)) if msat.to_sat_floor().to_msat() == Some(msat) => Ok(msat.to_sat_floor()),
        (None, Some(msat)) => Err(GraphError(format!(
            "{ctx}.amount_msat: {msat} is not a whole number of satoshis"
        ))),
        (None, None) => Err(GraphError(format!("{ctx}.satoshis: missing (and no amount_msat)"))),
    }
}

/// A required non-negative JSON integer.
fn int(o: &Map<String, Value>, name: &str, ctx: &str) -> Result<u64, GraphError> {
    match o.get(name) {
        None | Some(Value::Null) => Err(GraphError(format!("{ctx}.{name}: missing"))),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| GraphError(format!("{ctx}.{name}: {n} is not a non-negative integer"))),
        Some(v) => Err(GraphError(format!("{ctx}.{name}: {v} is not an integer"))),
    }
}

/// An optional millisatoshi amount: `"1000msat"` (older CLN) or `1000`.
fn msat(o: &Map<String, Value>, name: &str, ctx: &str) -> Result<Option<u64>, GraphError> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let digits = s.strip_suffix("msat").unwrap_or("");
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(GraphError(format!(
                    "{ctx}.{name}: {s:?} is not a non-negative \"<integer>msat\" amount"
                )));
            }
            digits
                .parse()
                .map(Some)
                .map_err(|_| GraphError(format!("{ctx}.{name}: {s:?} is too large")))
        }
        Some(_) => int(o, name, ctx).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const A: &str = "02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "03bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "02cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    fn id(s: &str) -> NodeId {
        NodeId::from_hex_unchecked(s).unwrap()
    }

    /// An entry in the older format (msat strings, `satoshis` present).
    fn legacy(src: &str, dst: &str, scid: &str, active: bool, base: u64, delay: u64) -> String {
        format!(
            r#"{{"source":"{src}","destination":"{dst}","short_channel_id":"{scid}","public":true,
              "satoshis":50000,"amount_msat":"50000000msat","message_flags":1,"channel_flags":0,
              "active":{active},"last_update":1618492788,"base_fee_millisatoshi":{base},
              "fee_per_millionth":1,"delay":{delay},"htlc_minimum_msat":"1000msat",
              "htlc_maximum_msat":"49500000msat","features":""}}"#
        )
    }

    /// An entry in the newer format (msat integers, no `satoshis`).
    fn modern(src: &str, dst: &str, scid: &str, active: bool, base: u64, delay: u64) -> String {
        format!(
            r#"{{"source":"{src}","destination":"{dst}","short_channel_id":"{scid}","public":true,
              "amount_msat":50000000,"message_flags":1,"channel_flags":1,
              "active":{active},"last_update":1700000000,"base_fee_millisatoshi":{base},
              "fee_per_millionth":1,"delay":{delay},"htlc_minimum_msat":1000,
              "htlc_maximum_msat":49500000,"features":""}}"#
        )
    }

    fn doc(entries: &[String]) -> String {
        format!(r#"{{"channels":[{}]}}"#, entries.join(","))
    }

    fn policy(base: u64, delay: u16, disabled: bool) -> Policy {
        Policy {
            time_lock_delta: delay,
            min_htlc_msat: Msat(1000),
            max_htlc_msat: Some(Msat(49_500_000)),
            fee_base_msat: Msat(base),
            fee_rate_ppm: 1,
            disabled,
        }
    }

    const SCID: &str = "513887x1177x0";
    const CHAN_ID: u64 = 513_887 << 40 | 1177 << 16;

    fn expected_pair() -> Vec<ChannelRecord> {
        vec![ChannelRecord {
            chan_id: CHAN_ID,
            n1: id(A),
            n2: id(B),
            capacity_sat: Sat(50_000),
            p1: Some(policy(1000, 144, false)),
            p2: Some(policy(0, 40, true)),
        }]
    }

    #[test]
    fn legacy_format_groups_both_directions() {
        // B → A listed first: node 1 is still the lesser key A.
        let text = doc(&[legacy(B, A, SCID, false, 0, 40), legacy(A, B, SCID, true, 1000, 144)]);
        assert_eq!(parse_channels(&text).unwrap().0, expected_pair());
        let g = parse_listchannels(&text).unwrap();
        assert_eq!((g.node_count(), g.channel_count()), (2, 1));
        assert_eq!(g.newest_update(), Some(1_618_492_788));
        use dmc_core::aggregate::{ChannelCheck, GraphStanding};
        use dmc_core::DirectedPair;
        let st = crate::Standing::new(&g, Sat(50_000));
        assert!(st.is_established(&id(A)) && !crate::Standing::new(&g, Sat(50_001)).is_established(&id(A)));
        assert_eq!(
            st.channel(&DirectedPair::new(id(B), id(A))),
            ChannelCheck::Capacity(Msat(50_000_000))
        );
        assert_eq!(st.channel(&DirectedPair::new(id(A), id(C))), ChannelCheck::NoChannel);
        assert_eq!(g.node_capacities_sat(), vec![Sat(50_000), Sat(50_000)]);
    }

    #[test]
    fn modern_format_matches_legacy() {
        let text = doc(&[modern(A, B, SCID, true, 1000, 144), modern(B, A, SCID, false, 0, 40)]);
        assert_eq!(parse_channels(&text).unwrap().0, expected_pair());
        // Mixed within one file is fine too.
        let text = doc(&[modern(A, B, SCID, true, 1000, 144), legacy(B, A, SCID, false, 0, 40)]);
        assert_eq!(parse_channels(&text).unwrap().0, expected_pair());
    }

    #[test]
    fn one_direction_channels_and_order() {
        let text = doc(&[
            legacy(B, A, "1x2x3", false, 7, 18),
            legacy(A, C, "700000x5x1", true, 1, 80),
            legacy(C, A, "700000x5x1", true, 2, 80),
        ]);
        let cs = parse_channels(&text).unwrap().0;
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].chan_id, 1 << 40 | 2 << 16 | 3);
        assert_eq!((cs[0].n1, cs[0].n2), (id(A), id(B)));
        assert_eq!(cs[0].p1, None);
        assert_eq!(cs[0].p2, Some(policy(7, 18, true)));
        assert_eq!(cs[1].chan_id, 700_000 << 40 | 5 << 16 | 1);
        assert_eq!((cs[1].n1, cs[1].n2), (id(A), id(C)));
        assert_eq!(cs[1].p1.unwrap().fee_base_msat, Msat(1));
        assert_eq!(cs[1].p2.unwrap().fee_base_msat, Msat(2));
        let g = parse_listchannels(&text).unwrap();
        assert_eq!((g.node_count(), g.channel_count()), (3, 2));
        assert_eq!(parse_listchannels(r#"{"channels":[]}"#).unwrap().channel_count(), 0);
    }

    #[test]
    fn optional_and_zero_max_htlc() {
        let e = legacy(A, B, SCID, true, 0, 40).replace(r#""htlc_maximum_msat":"49500000msat","#, "");
        assert_eq!(parse_channels(&doc(&[e])).unwrap().0[0].p1.unwrap().max_htlc_msat, None);
        let e = modern(A, B, SCID, true, 0, 40).replace("49500000", "0");
        assert_eq!(parse_channels(&doc(&[e])).unwrap().0[0].p1.unwrap().max_htlc_msat, None);
    }

    #[test]
    fn scid_conversion() {
        assert_eq!(parse_scid("0x0x0"), Ok(0));
        assert_eq!(parse_scid("16777215x16777215x65535"), Ok(u64::MAX));
        assert_eq!(parse_scid("513887x1177x0"), Ok(565_024_731_940_061_184));
        for bad in [
            "",
            "1x2",
            "1x2x3x4",
            "1xx3",
            "ax2x3",
            "1x2x3 ",
            "+1x2x3",
            "-1x2x3",
            "1:2:3",
            "16777216x0x0",
            "0x16777216x0",
            "0x0x65536",
            "99999999999999999999x0x0",
        ] {
            assert!(parse_scid(bad).is_err(), "{bad:?}");
        }
    }

    /// Applies `edit` to the second entry of a valid two-direction channel
    /// and returns the error.
    fn err_with(edit: impl Fn(String) -> String) -> String {
        let text = doc(&[
            legacy(A, B, SCID, true, 1000, 144),
            edit(legacy(B, A, SCID, true, 0, 40)),
        ]);
        parse_listchannels(&text).unwrap_err().0
    }

    fn assert_names(e: &str, parts: &[&str]) {
        for p in parts {
            assert!(e.contains(p), "{e:?} should mention {p:?}");
        }
    }

    #[test]
    fn malformed_scid_names_the_entry() {
        let e = err_with(|s| s.replace(SCID, "513887x1177"));
        assert_names(&e, &["channels[1]", "short_channel_id", "513887x1177"]);
        let e = err_with(|s| s.replace(SCID, "513887x1177x70000"));
        assert_names(&e, &["channels[1]", "short_channel_id", "output index"]);
        let e = err_with(|s| s.replace(&format!("\"{SCID}\""), "513887"));
        assert_names(&e, &["channels[1]", "short_channel_id", "not a string"]);
        let e = err_with(|s| s.replace(&format!(r#""short_channel_id":"{SCID}","#), ""));
        assert_names(&e, &["channels[1]", "short_channel_id", "missing"]);
    }

    #[test]
    fn bad_pubkeys_are_refused() {
        let e = err_with(|s| s.replacen(B, &B[..64], 1));
        assert_names(&e, &[SCID, "channels[1]", "source", "32 bytes"]);
        let e = err_with(|s| s.replacen(A, &A.replace('a', "g"), 1));
        assert_names(&e, &[SCID, "destination", "not hex"]);
        let e = err_with(|s| s.replacen(A, B, 1));
        assert_names(&e, &[SCID, "same node"]);
    }

    #[test]
    fn bad_numbers_are_refused() {
        let e = err_with(|s| s.replace(r#""base_fee_millisatoshi":0"#, r#""base_fee_millisatoshi":-1"#));
        assert_names(&e, &[SCID, "base_fee_millisatoshi", "non-negative"]);
        let e = err_with(|s| s.replace(r#""fee_per_millionth":1"#, r#""fee_per_millionth":1.5"#));
        assert_names(&e, &[SCID, "fee_per_millionth", "1.5"]);
        let e = err_with(|s| s.replace(r#""fee_per_millionth":1"#, r#""fee_per_millionth":"1""#));
        assert_names(&e, &[SCID, "fee_per_millionth", "not an integer"]);
        let e = err_with(|s| s.replace(r#""satoshis":50000"#, r#""satoshis":-50000"#));
        assert_names(&e, &[SCID, "satoshis"]);
        let e = err_with(|s| s.replace("\"1000msat\"", "\"-1000msat\""));
        assert_names(&e, &[SCID, "htlc_minimum_msat", "-1000msat"]);
        let e = err_with(|s| s.replace("\"1000msat\"", "\"1000\""));
        assert_names(&e, &[SCID, "htlc_minimum_msat"]);
        let e = err_with(|s| s.replace("\"1000msat\"", "\"1.5msat\""));
        assert_names(&e, &[SCID, "htlc_minimum_msat"]);
        let e = err_with(|s| s.replace("\"1000msat\"", "-1000"));
        assert_names(&e, &[SCID, "htlc_minimum_msat", "non-negative"]);
        let e = err_with(|s| s.replace("\"49500000msat\"", "99999999999999999999999"));
        assert_names(&e, &[SCID, "htlc_maximum_msat"]);
        let e = err_with(|s| s.replace("\"49500000msat\"", "\"99999999999999999999999msat\""));
        assert_names(&e, &[SCID, "htlc_maximum_msat", "too large"]);
        let e = err_with(|s| s.replace(r#""delay":40"#, r#""delay":65536"#));
        assert_names(&e, &[SCID, "delay", "65535"]);
        let e = err_with(|s| s.replace(r#""active":true"#, r#""active":1"#));
        assert_names(&e, &[SCID, "active", "boolean"]);
        let e = err_with(|s| s.replace(r#""delay":40,"#, ""));
        assert_names(&e, &[SCID, "delay", "missing"]);
    }

    #[test]
    fn delay_at_the_limit_is_fine() {
        let text = doc(&[legacy(A, B, SCID, true, 0, 65535)]);
        assert_eq!(parse_channels(&text).unwrap().0[0].p1.unwrap().time_lock_delta, 65535);
    }

    #[test]
    fn htlc_maximum_below_minimum_is_refused() {
        let e = err_with(|s| s.replace("\"49500000msat\"", "\"999msat\""));
        assert_names(&e, &[SCID, "channels[1]", "htlc_maximum_msat", "999"]);
        // Equal is fine.
        let text = doc(&[legacy(A, B, SCID, true, 0, 40).replace("\"49500000msat\"", "\"1000msat\"")]);
        assert!(parse_channels(&text).is_ok());
    }

    #[test]
    fn htlc_minimum_above_capacity_is_refused() {
        // Without a maximum, a minimum above the 50 000 sat capacity: the
        // describegraph loader refuses the same channel.
        let e = err_with(|s| {
            s.replace(r#""htlc_maximum_msat":"49500000msat","#, "")
                .replace("\"1000msat\"", "\"50000001msat\"")
        });
        assert_names(&e, &[SCID, "channels[1]", "htlc_minimum_msat", "50000001", "capacity"]);
    }

    #[test]
    fn capacity_checks() {
        let e = err_with(|s| s.replace("50000000msat", "20000000msat").replace("50000,", "20000,"));
        assert_names(&e, &[SCID, "channels[1]", "satoshis", "20000", "50000", "channels[0]"]);
        let e = err_with(|s| s.replace("50000000msat", "50000001msat"));
        assert_names(&e, &[SCID, "amount_msat", "disagrees"]);
        let e = err_with(|s| {
            s.replace(r#""satoshis":50000,"#, "")
                .replace("50000000msat", "50000001msat")
        });
        assert_names(&e, &[SCID, "amount_msat", "whole number"]);
        let e = err_with(|s| {
            s.replace(r#""satoshis":50000,"#, "")
                .replace(r#""amount_msat":"50000000msat","#, "")
        });
        assert_names(&e, &[SCID, "satoshis", "missing"]);
        // satoshis alone is enough.
        let text = doc(&[legacy(A, B, SCID, true, 0, 40).replace(r#""amount_msat":"50000000msat","#, "")]);
        assert_eq!(parse_channels(&text).unwrap().0[0].capacity_sat, Sat(50_000));
    }

    #[test]
    fn directions_must_agree() {
        // A third node in the second direction.
        let e = err_with(|s| s.replacen(B, C, 1));
        assert_names(&e, &[SCID, "channels[1]", "channels[0]", "do not match"]);
        // Same direction twice.
        let e = err_with(|s| s.replacen(B, "X", 1).replacen(A, B, 1).replacen("X", A, 1));
        assert_names(&e, &[SCID, "channels[1]", "second entry", "channels[0]"]);
        // A third entry for a complete channel.
        let text = doc(&[
            legacy(A, B, SCID, true, 1000, 144),
            legacy(B, A, SCID, true, 0, 40),
            legacy(B, A, SCID, true, 0, 40),
        ]);
        let e = parse_listchannels(&text).unwrap_err().0;
        assert_names(&e, &[SCID, "channels[2]", "second entry", "channels[1]"]);
    }

    #[test]
    fn malformed_documents() {
        assert_names(&parse_listchannels("{").unwrap_err().0, &["malformed JSON"]);
        assert_names(&parse_listchannels("{}").unwrap_err().0, &["channels"]);
        assert_names(&parse_listchannels(r#"{"channels":{}}"#).unwrap_err().0, &["channels"]);
        assert_names(
            &parse_listchannels(r#"{"channels":[1]}"#).unwrap_err().0,
            &["channels[0]", "not an object"],
        );
    }

    #[test]
    fn load_plain_and_gzip_files() {
        let text = doc(&[legacy(A, B, SCID, true, 1000, 144), legacy(B, A, SCID, false, 0, 40)]);
        let dir = std::env::temp_dir();
        let plain = dir.join(format!("dmc-listchannels-{}.json", std::process::id()));
        let gz = dir.join(format!("dmc-listchannels-{}.json.gz", std::process::id()));
        std::fs::write(&plain, &text).unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let counts = |p: &Path| {
            let g = load_listchannels(p).unwrap();
            (g.node_count(), g.channel_count())
        };
        let (a, b) = (counts(&plain), counts(&gz));
        std::fs::write(&plain, doc(&[legacy(A, B, "1x2", true, 0, 40)])).unwrap();
        let e = load_listchannels(&plain).unwrap_err().0;
        std::fs::remove_file(&plain).unwrap();
        std::fs::remove_file(&gz).unwrap();
        assert_eq!(a, (2, 1));
        assert_eq!(b, (2, 1));
        assert_names(&e, &[&plain.display().to_string(), "short_channel_id"]);
        let missing = dir.join("dmc-listchannels-does-not-exist.json");
        assert_names(&load_listchannels(&missing).unwrap_err().0, &["reading"]);
    }

    #[test]
    fn real_2021_listchannels_dump_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/cln-listchannels-2021-04-16/topo-20210416.json.gz");
        if !path.exists() {
            eprintln!(
                "SKIPPED real_2021_listchannels_dump_loads: {} not found",
                path.display()
            );
            return;
        }
        let start = std::time::Instant::now();
        let g = load_listchannels(&path).unwrap();
        eprintln!(
            "loaded {} in {:.3} s: {} nodes, {} channels",
            path.display(),
            start.elapsed().as_secs_f64(),
            g.node_count(),
            g.channel_count()
        );
        // Counts from shared/data/PROVENANCE.md.
        assert_eq!(g.node_count(), 8_827);
        assert_eq!(g.channel_count(), 37_454);
    }
}
