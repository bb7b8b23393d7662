//! Local mission-control files: `dmc loadmc` and `dmc report`.

use dmc_core::codec::{decode_import, decode_result, encode_import, encode_result, result_key, ImportBatch};
use dmc_core::json::Json;
use dmc_core::mission_control::MissionControlConfig;
use dmc_core::rpc::{self, PairHistory};
use dmc_core::time::DurationNs;
use dmc_core::{MissionControl, Msat, NodeId};

/// `dmc loadmc --mcdatapath FILE` (crates/dmc/src/commands.rs, `loadmc`
/// and `import`): `rpc::parse_query_mc_json`, `--timeoffset`'s
/// `rpc::shift_times`, `rpc::sanitize_loadmc`, the CLI's curve check and
/// `rpc::validate_import`, then what the store keeps
/// (`codec::encode_import`) and the import into a `MissionControl`.
///
/// Checks: no panic; every document the parser accepts prints (as
/// `querymc` prints) and parses back to the same pairs; an accepted import
/// is a valid one (distinct nodes, some result), survives the store's
/// encoding unchanged, and once imported, what `dmc querymc` then prints is
/// accepted by `dmc loadmc` again.
pub fn loadmc(data: &[u8]) {
    // `read_input` (read_to_string) refuses non-UTF-8 before the parser.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(mut pairs) = rpc::parse_query_mc_json(text) else {
        return;
    };

    let printed = pairs_json(&pairs).pretty();
    match rpc::parse_query_mc_json(&printed) {
        Ok(again) => assert_eq!(
            again, pairs,
            "querymc JSON does not parse back to the same pairs:\n{printed}"
        ),
        Err(e) => panic!("querymc JSON of accepted pairs does not parse: {e}\n{printed}"),
    }

    // `--timeoffset 72h` (README's example): must not panic on any time.
    let mut shifted = pairs.clone();
    rpc::shift_times(&mut shifted, 72 * DurationNs::HOUR);
    rpc::shift_times(&mut shifted, -72 * DurationNs::HOUR);

    rpc::sanitize_loadmc(&mut pairs);
    // The CLI's `check_curve`: user input must be secp256k1 points.
    if pairs
        .iter()
        .any(|p| NodeId::from_bytes(&p.node_from).is_err() || NodeId::from_bytes(&p.node_to).is_err())
    {
        return;
    }
    let snapshots = match rpc::validate_import(&pairs) {
        Ok(s) => s,
        Err(e) => return debug!("loadmc: refused: {e}"),
    };
    debug!("loadmc: {} pairs accepted", snapshots.len());
    assert_eq!(snapshots.len(), pairs.len(), "validate_import dropped or added pairs");
    for s in &snapshots {
        assert_ne!(s.pair.from, s.pair.to, "import accepted a pair from a node to itself");
        assert!(
            s.result.success_amt_msat > Msat::ZERO || s.result.fail_amt_msat > Msat::ZERO,
            "import accepted a pair with neither success nor failure: {s:?}"
        );
    }
    for force in [false, true] {
        let batch = ImportBatch {
            time: crate::now(),
            force,
            pairs: snapshots.clone(),
        };
        assert_eq!(
            decode_import(&encode_import(&batch)).as_ref(),
            Some(&batch),
            "the store's import encoding does not round-trip"
        );
        let mut mc = MissionControl::new(None, MissionControlConfig::default());
        mc.import_pairs(&snapshots, force);
        reloads(&mc, if force { "loadmc --force" } else { "loadmc" });
    }
}

/// `dmc report --file ATTEMPTS` (crates/dmc/src/commands.rs, `report`):
/// `rpc::parse_payment_results` with the CLI's defaults (ids counting
/// from 0, the clock, `--self`), the time-before-1970 refusal
/// (`codec::result_key`), what the store keeps (`codec::encode_result`),
/// and interpretation by `MissionControl::apply_payment_result`.
///
/// Checks: no panic; every accepted result is a valid route
/// (`PaymentResult::validate`) and survives the store's encoding
/// unchanged; after interpretation, what `dmc querymc` prints is accepted
/// by `dmc loadmc`.
pub fn report(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let self_node = crate::reporter_key();
    let results = match rpc::parse_payment_results(text, |i| (i as u64, crate::now(), Some(self_node))) {
        Ok(r) => r,
        Err(e) => return debug!("report: refused: {e}"),
    };
    debug!("report: {} results", results.len());
    for r in &results {
        if let Err(e) = r.validate() {
            panic!("parse_payment_results accepted an invalid result ({e:?}): {r:?}");
        }
        assert_eq!(
            decode_result(&encode_result(r)).as_ref(),
            Some(r),
            "the store's result encoding does not round-trip"
        );
    }
    if results.is_empty() || results.iter().any(|r| result_key(r).is_none()) {
        return; // refused by `report`
    }
    let mut mc = MissionControl::new(Some(self_node), MissionControlConfig::default());
    for r in &results {
        let _ = mc.apply_payment_result(r);
    }
    reloads(&mc, "report");
}

fn pairs_json(pairs: &[PairHistory]) -> Json {
    Json::object([("pairs", Json::Array(pairs.iter().map(PairHistory::to_json).collect()))])
}

/// What `dmc querymc` prints for `mc` is accepted by `dmc loadmc`.
fn reloads(mc: &MissionControl, after: &str) {
    let out = rpc::query_mc_json(&mc.snapshot()).pretty();
    let mut again = match rpc::parse_query_mc_json(&out) {
        Ok(p) => p,
        Err(e) => panic!("querymc output after {after} does not parse: {e}\n{out}"),
    };
    rpc::sanitize_loadmc(&mut again);
    if again.is_empty() {
        return;
    }
    if let Err(e) = rpc::validate_import(&again) {
        panic!("querymc output after {after} is refused by loadmc: {e}\n{out}");
    }
}
