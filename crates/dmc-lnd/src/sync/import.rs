//! Import: the coordinator's merged data into the node (or a file).

use super::*;

/// One import, no retries.
pub async fn import_once(cfg: &SyncConfig) -> Result<ImportReport> {
    if let Some(file) = &cfg.to_file {
        return import_to_file(cfg, file).await;
    }
    let (mut lnd, info) = connect_lnd(cfg).await?;
    let node = info.pubkey;
    // Which estimator will use the imported data (for the log).
    let estimator = match lnd.get_mission_control_config().await {
        Ok(c) => match c.estimator {
            dmc_core::estimator::EstimatorConfig::Apriori(_) => "apriori",
            dmc_core::estimator::EstimatorConfig::Bimodal(_) => "bimodal",
        },
        Err(e) if e.is_transient() || e.needs_operator() => return Err(e),
        Err(e) => {
            warn!(error = %e, "GetMissionControlConfig failed; importing anyway");
            "unknown"
        }
    };
    let node_mc = by_pair(&lnd.query_mission_control().await?);
    let mut state = SyncState::load(&cfg.data_dir, &cfg.coordinator.url, &node)?;
    let mut report = ImportReport {
        node: Some(node),
        ..Default::default()
    };
    report.lost_imports = lost_imports(&state.imported, &node_mc);
    if report.lost_imports > 0 {
        warn!(node = %node, missing = report.lost_imports,
            "lnd no longer holds pairs imported earlier (restarted or resetmc): importing everything again");
        state.reset();
    }
    report.cursor_from = state.cursor;
    let mut ec = V2Client::connect(&cfg.coordinator).await?;
    let delta = ec.query(state.cursor).await?;
    let pairs: Vec<PairHistory> = delta.pairs.iter().map(|a| a.pair.clone()).collect();
    let held = NodeState {
        mc: &node_mc,
        imported: &state.imported,
        now_unix: unix_now(),
        first_hand_hold_secs: FIRST_HAND_HOLD_SECS,
    };
    let plan = prepare_import(&pairs, Some(&node), Some(&held));
    report.cursor = delta.cursor;
    report.full_resync = delta.full_resync;
    report.received = plan.received;
    report.removed = delta.removed.len();
    report.own_dropped = plan.own_dropped;
    report.not_newer = plan.not_newer.len();
    report.first_hand_kept = plan.first_hand_kept;
    report.invalid = plan.invalid.count;
    if plan.invalid.count > 0 {
        warn!(count = plan.invalid.count, examples = ?plan.invalid.examples,
            "import: pairs LND would refuse were left out");
    }
    for batch in plan.pairs.chunks(cfg.import_batch) {
        if let Err(e) = lnd.import_mission_control(batch, cfg.force).await {
            // Keep the ledger of what did land; the cursor stays.
            let _ = state.save(unix_now());
            return Err(e);
        }
        record_imports(&mut state.imported, batch);
        report.imported += batch.len();
        report.batches += 1;
    }
    // lnd is relied on to keep what it already had as recently, too: if
    // those pairs vanish (restart), the next import starts from scratch.
    record_imports(&mut state.imported, &plan.not_newer);
    state.cursor = Some(delta.cursor);
    state.save(unix_now())?;
    let from = report.cursor_from.map_or_else(|| "none".to_string(), |c| c.to_string());
    info!(node = %node, coordinator = %ec.url(), cursor_from = %from, cursor = report.cursor,
        full_resync = report.full_resync, received = report.received, imported = report.imported,
        batches = report.batches, own_dropped = report.own_dropped, not_newer = report.not_newer,
        first_hand_kept = report.first_hand_kept,
        removed_ignored = report.removed, invalid = report.invalid, force = cfg.force, lnd_estimator = estimator,
        "imported");
    Ok(report)
}

pub(super) async fn import_to_file(cfg: &SyncConfig, file: &std::path::Path) -> Result<ImportReport> {
    let node = cfg.self_node.or_else(|| cfg.sign_key.as_ref().map(public_key));
    let mut ec = V2Client::connect(&cfg.coordinator).await?;
    let delta = ec.query(None).await?;
    let pairs: Vec<PairHistory> = delta.pairs.iter().map(|a| a.pair.clone()).collect();
    let plan = prepare_import(&pairs, node.as_ref(), None);
    let doc = Json::object([(
        "pairs",
        Json::Array(plan.pairs.iter().map(PairHistory::to_json).collect()),
    )]);
    std::fs::write(file, doc.pretty() + "\n")
        .map_err(|e| Error::config(format!("--to-file: {}: {e}", file.display())))?;
    let report = ImportReport {
        node,
        cursor: delta.cursor,
        full_resync: true,
        received: plan.received,
        removed: delta.removed.len(),
        own_dropped: plan.own_dropped,
        invalid: plan.invalid.count,
        imported: plan.pairs.len(),
        to_file: Some(file.to_path_buf()),
        ..Default::default()
    };
    if node.is_none() {
        warn!("--to-file: the node's key is unknown (give --self or --sign-key), so pairs touching it were kept");
    }
    info!(coordinator = %ec.url(), file = %file.display(), pairs = report.imported, own_dropped = report.own_dropped,
        invalid = report.invalid, cursor = report.cursor, "wrote the merged mission control for lncli loadmc");
    Ok(report)
}
