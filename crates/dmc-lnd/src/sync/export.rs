//! Export: the node's own mission control to the coordinator, signed.

use super::*;

/// Seconds since the Unix epoch, from the system clock.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Pairs imported earlier that lnd no longer holds: lnd keeps imports in
/// memory only and never drops a pair otherwise, so any such pair means a
/// restart or `resetmc`.
pub fn lost_imports(imported: &HashMap<PairKey, ImportedTimes>, node_mc: &HashMap<PairKey, PairData>) -> usize {
    imported.keys().filter(|k| !node_mc.contains_key(k)).count()
}

/// The pairs an export sends, and what it left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportPlan {
    /// The pairs to register, each valid by LND's import rules.
    pub pairs: Vec<PairHistory>,
    /// Pairs given to [`prepare_export`].
    pub read: usize,
    /// Pairs dropped because every slot came from an earlier import.
    pub skipped_imported: usize,
    /// Pairs dropped by `--successes-only` because they hold no success.
    pub skipped_no_success: usize,
    /// Pairs LND's import rules would refuse, with examples.
    pub invalid: Refusals,
    /// Pairs dropped for a time more than [`FUTURE_SKEW_SECS`] ahead.
    pub future: usize,
}

/// Chooses what to export from `pairs` (pure; see the module doc).
/// `imported`: the import ledger, when the pairs come from lnd.
pub fn prepare_export(
    pairs: Vec<PairHistory>,
    imported: Option<&HashMap<PairKey, ImportedTimes>>,
    successes_only: bool,
    now_unix: i64,
) -> ExportPlan {
    let mut plan = ExportPlan {
        read: pairs.len(),
        ..Default::default()
    };
    for mut p in pairs {
        if let (Some(ledger), Some(k)) = (imported, key_of(&p)) {
            if let Some(t) = ledger.get(&k) {
                let h = &mut p.history;
                if t.fail_time != 0 && h.fail_time <= t.fail_time {
                    (h.fail_time, h.fail_amt_sat, h.fail_amt_msat) = (0, 0, 0);
                }
                if t.success_time != 0 && h.success_time <= t.success_time {
                    (h.success_time, h.success_amt_sat, h.success_amt_msat) = (0, 0, 0);
                }
                if h.fail_time == 0 && h.success_time == 0 {
                    plan.skipped_imported += 1;
                    continue;
                }
            }
        }
        if successes_only {
            let h = &mut p.history;
            (h.fail_time, h.fail_amt_sat, h.fail_amt_msat) = (0, 0, 0);
            if h.success_time == 0 {
                plan.skipped_no_success += 1;
                continue;
            }
        }
        match validate_pair(p) {
            Ok((p, eff)) => {
                if eff.fail_time.max(eff.success_time) > now_unix + FUTURE_SKEW_SECS {
                    plan.future += 1;
                } else {
                    plan.pairs.push(p);
                }
            }
            Err(e) => plan.invalid.add(e.to_string()),
        }
    }
    plan
}

/// Reads a saved `lncli querymc` file; errors name it.
pub fn read_querymc_file(path: &std::path::Path) -> Result<Vec<PairHistory>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::config(format!("--from-file: {}: {e}", path.display())))?;
    rpc::parse_query_mc_json(&text).map_err(|e| Error::config(format!("--from-file: {}: {e}", path.display())))
}

pub(super) async fn connect_lnd(cfg: &SyncConfig) -> Result<(LndClient, NodeInfo)> {
    let target = cfg.lnd.resolve()?;
    let mut c = LndClient::connect(&target).await?;
    let info = c.get_info().await?;
    if let Some(net) = info.network.as_deref() {
        if !net.is_empty() && net != target.network {
            warn!(lnd = %target.address(), lnd_network = net, network = %target.network,
                "lnd runs on another network than --network");
        }
    }
    Ok((c, info))
}

pub(super) fn public_key(k: &SecretKey) -> NodeId {
    NodeId(secp256k1::PublicKey::from_secret_key(&secp256k1::Secp256k1::signing_only(), k).serialize())
}

/// One export, no retries.
pub async fn export_once(cfg: &SyncConfig) -> Result<ExportReport> {
    let (mut lnd, node, pairs, ledger, source) = match (&cfg.from_file, &cfg.sign_key) {
        (Some(file), Some(key)) => (
            None,
            public_key(key),
            read_querymc_file(file)?,
            None,
            file.display().to_string(),
        ),
        (Some(file), None) => {
            let pairs = read_querymc_file(file)?;
            let (c, info) = connect_lnd(cfg).await?;
            (Some(c), info.pubkey, pairs, None, file.display().to_string())
        }
        (None, _) => {
            let (mut c, info) = connect_lnd(cfg).await?;
            let pairs = c.query_mission_control().await?;
            let state = SyncState::load(&cfg.data_dir, &cfg.coordinator.url, &info.pubkey)?;
            let lost = lost_imports(&state.imported, &by_pair(&pairs));
            // After lnd lost its imports, everything it holds is its own.
            let ledger = (lost == 0).then_some(state.imported);
            (Some(c), info.pubkey, pairs, ledger, "lnd".to_string())
        }
    };
    let plan = prepare_export(pairs, ledger.as_ref(), cfg.successes_only, unix_now());
    let mut report = ExportReport {
        node: Some(node),
        source,
        read: plan.read,
        skipped_imported: plan.skipped_imported,
        skipped_no_success: plan.skipped_no_success,
        invalid: plan.invalid.count,
        future: plan.future,
        ..Default::default()
    };
    if plan.invalid.count > 0 {
        warn!(count = plan.invalid.count, examples = ?plan.invalid.examples,
            "export: pairs LND's import rules would refuse were left out");
    }
    if plan.pairs.is_empty() {
        info!(node = %node, read = report.read, skipped_imported = report.skipped_imported,
            "export: nothing to send");
        return Ok(report);
    }
    let mut ec = V2Client::connect(&cfg.coordinator).await?;
    let mut chunk = cfg.export_batch;
    let mut rest: &[PairHistory] = &plan.pairs;
    while !rest.is_empty() {
        let n = chunk.min(rest.len());
        // Every success of unknown kind (no `success_kinds`): LND's
        // `querymc` does not record whether a success settled or was a hop
        // before a failure.
        let body = registration_body(&node.0, unix_now(), &rest[..n], cfg.successes_only);
        let signature = match (&cfg.sign_key, lnd.as_mut()) {
            (Some(k), _) => dmc_core::signmsg::sign_message(k, &body),
            (None, Some(c)) => c.sign_message(&body).await?,
            (None, None) => return Err(Error::config("no signer: give --sign-key or let dmc reach lnd")),
        };
        match dmc_core::signmsg::recover_signer(&body, &signature) {
            Ok(k) if k == node => {}
            Ok(k) => {
                return Err(Error::invalid(format!(
                    "SignMessage signed with key {k}, not the node's identity {node}"
                )))
            }
            Err(e) => {
                return Err(Error::invalid(format!(
                    "SignMessage returned an unusable signature: {e}"
                )))
            }
        }
        match ec.register(body, signature).await? {
            RegisterOutcome::Accepted(r) => {
                report.sent += n;
                report.accepted += r.accepted as usize;
                report.stale_dropped += r.stale_dropped as usize;
                report.registrations += 1;
                report.cursor = Some(r.cursor);
                rest = &rest[n..];
            }
            RegisterOutcome::Duplicate => {
                report.sent += n;
                report.registrations += 1;
                rest = &rest[n..];
            }
            RegisterOutcome::AllStale(_) => {
                report.sent += n;
                report.stale_dropped += n;
                report.registrations += 1;
                rest = &rest[n..];
            }
            RegisterOutcome::TooLarge(msg) => {
                if n == 1 {
                    return Err(Error::invalid(format!(
                        "the coordinator at {} refuses even one pair per registration: {msg}",
                        ec.url()
                    )));
                }
                chunk = n / 2;
                warn!(pairs = n, next = chunk, limit = %msg, "export: registration too large; splitting");
            }
        }
    }
    info!(node = %node, coordinator = %ec.url(), source = %report.source, read = report.read,
        sent = report.sent, accepted = report.accepted, stale_dropped = report.stale_dropped,
        skipped_imported = report.skipped_imported, skipped_no_success = report.skipped_no_success,
        invalid = report.invalid, registrations = report.registrations,
        cursor = report.cursor.unwrap_or(0), successes_only = cfg.successes_only, "exported");
    Ok(report)
}
