//! `dmc sim`: the tutorial scenarios, the cold-versus-warm experiment and
//! the reach measurement, their arguments turned into the simulator's
//! parameter structs (bad ones refused with exit code 2 before anything runs).

use dmc_graph::Graph;

use crate::args::{input, int_arg, CliError, Result};
use crate::cli::{ExperimentArgs, ReachArgs};

pub fn scenario(name: &str, json: bool) -> Result<()> {
    let Some(outcome) = dmc_sim::scenario::run(name) else {
        return input(format!(
            "scenario: unknown scenario {name:?}, want one of {}",
            dmc_sim::scenario::NAMES.join(", ")
        ));
    };
    if json {
        println!("{}", outcome.to_json().pretty());
    } else {
        print!("{}", outcome.to_text());
    }
    Ok(())
}

/// `--background-rate` and `--rebalances-per-day` applied to flowing balances.
fn with_traffic(mut b: dmc_sim::traffic::Balances, bg: f64, rb: f64) -> Result<dmc_sim::traffic::Balances> {
    if !(0.0..=1e7).contains(&bg) {
        return input(format!(
            "--background-rate: {bg} is not between 0 and 10000000 per hour"
        ));
    }
    if !(0.0..=1e5).contains(&rb) {
        return input(format!("--rebalances-per-day: {rb} is not between 0 and 100000"));
    }
    if let dmc_sim::traffic::Balances::Flowing { traffic, .. } = &mut b {
        traffic.payments_per_hour = bg;
        traffic.rebalance.rate_per_hour = rb / 24.0;
    }
    Ok(b)
}

/// `--offline-share` and `--mean-outage`.
fn availability_args(offline_share: f64, mean_outage_s: i64) -> Result<dmc_sim::availability::AvailabilityParams> {
    if !(0.0..=0.9).contains(&offline_share) {
        return input(format!("--offline-share: {offline_share} is not between 0 and 0.9"));
    }
    Ok(dmc_sim::availability::AvailabilityParams {
        offline_share,
        mean_outage_s,
        ..Default::default()
    })
}

pub fn experiment(a: &ExperimentArgs) -> Result<()> {
    use dmc_sim::experiment::{self, Estimator, ExperimentParams, WalletProfile};
    use dmc_sim::traffic::Balances;
    fn list<T>(s: &str, field: &str, what: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>> {
        let mut seen: Vec<&str> = Vec::new();
        let mut v = Vec::new();
        for x in s.split(',').map(str::trim) {
            // A repeated entry would be pooled as if it were independent data.
            if seen.contains(&x) {
                return input(format!("{field}: {x:?} is listed twice"));
            }
            seen.push(x);
            v.push(parse(x).ok_or_else(|| CliError::Input(format!("{field}: {x:?} is not {what}")))?);
        }
        Ok(v)
    }
    let rate = a.contributor_rate;
    if !(0.0..=3600.0).contains(&rate) {
        return input(format!("--contributor-rate: {rate} is not between 0 and 3600 per hour"));
    }
    let mut wallets = list(&a.wallets, "--wallets", "mobile or routing", WalletProfile::parse)?;
    let routing_payments = a.routing_payments;
    for w in &mut wallets {
        if w.name == "routing" {
            w.payments = (routing_payments, routing_payments);
        }
    }
    let liars = experiment_liars(a.liars, a.lie.as_deref())?;
    let params = ExperimentParams {
        seed: a.seed,
        seeds: a.seeds,
        threads: a.threads,
        balances: list(
            &a.balances,
            "--balances",
            "flowing, uniform, bimodal or fixed",
            Balances::parse,
        )?
        .into_iter()
        .map(|b| with_traffic(b, a.world.background_rate, a.world.rebalances_per_day))
        .collect::<Result<Vec<_>>>()?,
        wallets,
        estimators: list(&a.estimators, "--estimators", "apriori or bimodal", Estimator::parse)?,
        contributors: a.contributors,
        contributor_payments_per_hour: rate,
        contributor_hours: a.contributor_time,
        wallet_hours: a.wallet_time,
        sync_interval_s: a.sync_interval,
        first_hand_hold_s: a.first_hand_hold,
        bootstrap_reps: a.bootstrap,
        availability: availability_args(a.world.offline_share, a.world.mean_outage)?,
        liars,
        ..ExperimentParams::default()
    };
    if params.seeds == 0 {
        return input("--seeds must be at least 1");
    }
    if params.bootstrap_reps < 100 {
        return input(format!(
            "--bootstrap: {} replicates are too few for a 95% interval (at least 100)",
            params.bootstrap_reps
        ));
    }
    if params.seeds > 1000 || params.contributors > 10_000 || params.bootstrap_reps > 100_000 {
        return input("--seeds (max 1000), --contributors (max 10000) or --bootstrap (max 100000) is too large");
    }
    if params.wallet_hours <= 0.0 {
        return input("--wallet-time must be longer than 0");
    }
    let graph = Graph::load(&a.graph).or_else(|e| input(format!("--graph: {e}")))?;
    // Check the output paths before the long run, not after it.
    let svg = a.plot.as_ref().map(|p| p.with_extension("svg"));
    for (flag, path) in [("--out", &a.out), ("--plot", &svg)] {
        if let Some(p) = path {
            std::fs::write(p, b"").map_err(|e| CliError::Runtime(format!("{flag}: writing {}: {e}", p.display())))?;
        }
    }
    let started = std::time::Instant::now();
    let mut last_draw = usize::MAX;
    let mut progress = |done: usize, total: usize| {
        let pct = done * 100 / total.max(1);
        if pct != last_draw {
            last_draw = pct;
            let bar = "#".repeat(pct / 2) + &" ".repeat(50 - pct / 2);
            eprint!(
                "\r[{bar}] {pct:3}% of the simulated time, {:.0}s",
                started.elapsed().as_secs_f64()
            );
            if done >= total {
                eprintln!();
            }
        }
    };
    let seeds = experiment::run(&graph, &params, &mut progress).or_else(|e| input(format!("--graph: {e}")))?;
    let report = experiment::report_json(&seeds, &params);
    if let Some(out) = &a.out {
        std::fs::write(out, report.pretty() + "\n")
            .map_err(|e| CliError::Runtime(format!("--out: writing {}: {e}", out.display())))?;
    }
    if let Some(plot) = &a.plot {
        let fig = experiment::learning_figure(&seeds, &params);
        // P.svg and P.png side by side, whichever of the two was named.
        let svg = plot.with_extension("svg");
        std::fs::write(&svg, dmc_sim::plot::render_svg(&fig))
            .map_err(|e| CliError::Runtime(format!("--plot: writing {}: {e}", svg.display())))?;
        let png = plot.with_extension("png");
        std::fs::write(&png, dmc_sim::plot::render_png(&fig))
            .map_err(|e| CliError::Runtime(format!("--plot: writing {}: {e}", png.display())))?;
    }
    print!("{}", experiment::summary_text(&seeds, &params));
    eprintln!("finished in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `--liars FRACTION --lie KIND` of `sim experiment`.
fn experiment_liars(f: f64, lie: Option<&str>) -> Result<Option<dmc_sim::liars::LiarParams>> {
    use dmc_sim::liars::{LiarParams, Lie};
    let kinds = "inverted, blackhole or fake-capacity";
    if !(0.0..1.0).contains(&f) {
        return input(format!("--liars: {f} is not a share of the contributors in [0, 1)"));
    }
    let kind = match lie.map(str::trim) {
        Some(k) => Some(Lie::parse(k).ok_or_else(|| CliError::Input(format!("--lie: {k:?} is not {kinds}")))?),
        None => None,
    };
    match (f > 0.0, kind) {
        (false, None) => Ok(None),
        (true, Some(kind)) => Ok(Some(LiarParams { fraction: f, kind })),
        (true, None) => input(format!("--lie is required with --liars above 0: {kinds}")),
        (false, Some(_)) => input("--lie needs --liars above 0 (with --liars 0 nobody lies)"),
    }
}

pub fn reach(a: &ReachArgs) -> Result<()> {
    use dmc_core::json::Json;
    use dmc_sim::reach::{self, ReachParams};
    use dmc_sim::traffic::Balances;
    let count = |v: i64, field: &str, max: i64| -> Result<usize> {
        match v {
            0 => input(format!("{field} must be at least 1")),
            v if v > max => input(format!("{field}: {v} is more than {max}")),
            v => Ok(v as usize),
        }
    };
    let amounts = a
        .amounts
        .split(',')
        .map(|x| match int_arg(x, "--amounts")? {
            v @ 1..=100_000_000 => Ok(v as u64),
            v => input(format!("--amounts: {v} is not between 1 and 100000000 sat")),
        })
        .collect::<Result<Vec<u64>>>()?;
    let params = ReachParams {
        seed: a.seed,
        seeds: count(a.seeds, "--seeds", 1000)?,
        balances: with_traffic(
            Balances::parse(a.balances.trim()).ok_or_else(|| {
                CliError::Input(format!(
                    "--balances: {:?} is not flowing, uniform, bimodal or fixed",
                    a.balances
                ))
            })?,
            a.world.background_rate,
            a.world.rebalances_per_day,
        )?,
        amounts_sat: amounts,
        probes_per_amount: count(a.probes, "--probes", 100_000)?,
        availability: availability_args(a.world.offline_share, a.world.mean_outage)?,
        ..ReachParams::default()
    };
    let graph = Graph::load(&a.graph).or_else(|e| input(format!("--graph: {e}")))?;
    let rows = reach::run(&graph, &params).or_else(|e| input(format!("--graph: {e}")))?;
    if a.json {
        let rows = rows
            .iter()
            .map(|r| {
                Json::object([
                    (
                        "amount_sat",
                        if r.amount_sat == 0 {
                            Json::str("all")
                        } else {
                            Json::int32(r.amount_sat)
                        },
                    ),
                    ("probes", Json::int32(r.probes)),
                    ("reached_within_10s", Json::int32(r.reached)),
                    ("reached_eventually", Json::int32(r.reached_eventually)),
                    ("share", Json::double(r.share)),
                    (
                        "ci95",
                        Json::Array(vec![Json::double(r.ci95.0), Json::double(r.ci95.1)]),
                    ),
                    ("mean_attempts", Json::double(r.mean_attempts)),
                ])
            })
            .collect();
        println!(
            "{}",
            Json::object([
                ("balances", Json::str(params.balances.name())),
                ("rows", Json::Array(rows))
            ])
            .pretty()
        );
    } else {
        println!(
            "reach within 10 s, {} balances, {} seeds x {} probes per amount, targets among the 600 best-connected nodes",
            params.balances.name(),
            params.seeds,
            params.probes_per_amount
        );
        println!(
            "{:>10} {:>7} {:>24} {:>12} {:>10}",
            "amount", "probes", "within 10 s [95% CI]", "eventually", "attempts"
        );
        for r in &rows {
            let amount = if r.amount_sat == 0 {
                "all".to_string()
            } else {
                format!("{} sat", r.amount_sat)
            };
            println!(
                "{amount:>10} {:>7} {:>24} {:>11.1}% {:>10.2}",
                r.probes,
                format!(
                    "{:.1}% [{:.1}, {:.1}]",
                    r.share * 100.0,
                    r.ci95.0 * 100.0,
                    r.ci95.1 * 100.0
                ),
                r.reached_eventually as f64 * 100.0 / r.probes.max(1) as f64,
                r.mean_attempts
            );
        }
    }
    Ok(())
}
