//! The summarised node probability (`MissionControl::prober`) equals the
//! sequential one LND computes, on states with every kind of record.

use dmc_core::{
    AprioriConfig, DirectedPair, EstimatorConfig, MissionControl, MissionControlConfig, Msat, NodeId, PairSnapshot,
    Sat, TimedPairResult, Timestamp,
};

fn node(i: u32) -> NodeId {
    dmc_testkit::keys::fake_node(3, &i.to_be_bytes(), 0)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn state(rng: &mut Rng, hubs: u32, per_hub: u32, now: i64) -> MissionControl {
    let mut mc = MissionControl::new(Some(node(0)), MissionControlConfig::default());
    let mut pairs = Vec::new();
    for h in 1..=hubs {
        for j in 0..per_hub {
            let t = |rng: &mut Rng| Timestamp::from_unix_secs(now - (rng.next() % 20_000) as i64);
            let amt = |rng: &mut Rng| 1 + rng.next() % 10_000_000;
            let result = match rng.next() % 5 {
                0 => TimedPairResult {
                    success_time: t(rng),
                    success_amt_msat: Msat(amt(rng)),
                    ..Default::default()
                },
                1 => TimedPairResult {
                    fail_time: t(rng),
                    fail_amt_msat: Msat(amt(rng)),
                    ..Default::default()
                },
                // Node failure shape: amount-independent.
                2 => TimedPairResult {
                    fail_time: t(rng),
                    ..Default::default()
                },
                _ => {
                    let s = amt(rng);
                    TimedPairResult {
                        success_time: t(rng),
                        success_amt_msat: Msat(s),
                        fail_time: t(rng),
                        fail_amt_msat: Msat(s + 1 + rng.next() % 1_000_000),
                    }
                }
            };
            pairs.push(PairSnapshot {
                pair: DirectedPair::new(node(h), node(1000 + j)),
                result,
            });
        }
    }
    mc.import_pairs(&pairs, true);
    mc
}

#[test]
fn summarised_equals_sequential() {
    let now = 1_800_000_000;
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for weight in [0.5, 0.75, 0.2] {
        let mut mc = state(&mut rng, 4, 120, now);
        mc.config.estimator = EstimatorConfig::Apriori(AprioriConfig {
            weight,
            ..Default::default()
        });
        let t = Timestamp::from_unix_secs(now);
        let prober = mc.prober(t);
        let snap = mc.snapshot();
        for _ in 0..4000 {
            let hub = node(1 + (rng.next() % 4) as u32);
            let to = node(1000 + (rng.next() % 130) as u32);
            // Amounts at and around every boundary, and random ones.
            let rec = &snap[(rng.next() % snap.len() as u64) as usize].result;
            let amt = match rng.next() % 6 {
                0 => rec.success_amt_msat.0,
                1 => rec.success_amt_msat.0 + 1,
                2 => rec.fail_amt_msat.0,
                3 => rec.fail_amt_msat.0.saturating_sub(1),
                4 => 0,
                _ => rng.next() % 12_000_000,
            };
            let cap = Sat([0u64, 20_000, 5_000_000][(rng.next() % 3) as usize]);
            let a = mc.probability(t, &hub, &to, Msat(amt), cap);
            let b = prober.probability(&hub, &to, Msat(amt), cap);
            assert!(
                (a - b).abs() <= 1e-12,
                "weight {weight} amt {amt}: sequential {a} vs summarised {b}"
            );
        }
    }
}
