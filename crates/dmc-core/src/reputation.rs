//! How a reporter found lying loses weight, and how it earns it back.
//!
//! The aggregate ([`crate::aggregate`]) already keeps a minority from moving
//! a pair's served amounts. What it cannot do alone is discount a reporter
//! on pairs only it reports (the blackhole attack: fake failures on a
//! competitor's channels where nobody else looks). The reputation rule
//! carries what the majority sees on shared pairs over to those lone pairs:
//!
//! * Each pass, every established reporter is judged on each pair it shares with
//!   others ([`crate::aggregate::contradicted`]): its view is compared with
//!   the aggregate of the *other* reporters, where those weigh more than it
//!   and at least half an established reporter (so unverified or anonymous
//!   sybils can never smear an established node).
//! * A reporter judged on at least [`ReputationParams::min_judged`] pairs
//!   with more than [`ReputationParams::tolerance`] of them contradicted
//!   loses weight: its score halves every
//!   [`ReputationParams::penalty_half_life`]. Otherwise the score recovers
//!   linearly, from 0 to 1 in [`ReputationParams::recovery`].
//! * Each step is scaled by the time since the reporter's last update
//!   (at most [`ReputationParams::max_step`]), so the rule does not depend
//!   on how often passes run, and replicas that run a pass concurrently do
//!   not apply it twice.
//!
//! Honest reporters disagree too (liquidity moves between two reports), so
//! the tolerance is a share of contradicted pairs, not a single one; an
//! inverted or blackholing liar is contradicted on nearly all of them.

use std::collections::HashMap;

use crate::aggregate::{contradicted, AggregationParams, Standing, View};
use crate::node::{DirectedPair, NodeId};
use crate::time::{DurationNs, Timestamp};

const MINUTE: DurationNs = 60_000_000_000;
const HOUR: DurationNs = 60 * MINUTE;

/// The reputation rule's parameters (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReputationParams {
    /// Judged pairs needed before a reporter can be penalised (5).
    pub min_judged: u32,
    /// Share of judged pairs that may be contradicted without penalty (½).
    pub tolerance: f64,
    /// Time for a penalised reporter's score to halve (30 minutes).
    pub penalty_half_life: DurationNs,
    /// Time to recover from 0 to 1 (48 hours).
    pub recovery: DurationNs,
    /// The longest time one update accounts for (1 hour).
    pub max_step: DurationNs,
    /// The time a reporter's first update accounts for (10 minutes).
    pub first_step: DurationNs,
}

impl Default for ReputationParams {
    fn default() -> Self {
        ReputationParams {
            min_judged: 5,
            tolerance: 0.5,
            penalty_half_life: 30 * MINUTE,
            recovery: 48 * HOUR,
            max_step: HOUR,
            first_step: 10 * MINUTE,
        }
    }
}

/// A reporter's standing from the rule: a score in [0, 1] that multiplies
/// its weight, and when it was last updated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reputation {
    pub score: f64,
    pub updated: Timestamp,
}

/// How a reporter fared in one pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub judged: u32,
    pub contradicted: u32,
}

impl Tally {
    pub fn add(&mut self, contradicted: bool) {
        self.judged += 1;
        self.contradicted += u32::from(contradicted);
    }

    /// Whether this pass counts against the reporter.
    pub fn penalised(&self, p: &ReputationParams) -> bool {
        self.judged >= p.min_judged.max(1) && f64::from(self.contradicted) > p.tolerance * f64::from(self.judged)
    }
}

/// The reporter's reputation after a pass at `now` (`prev`: `None` for a
/// reporter never updated, which starts at 1).
pub fn update(prev: Option<Reputation>, tally: Tally, now: Timestamp, p: &ReputationParams) -> Reputation {
    let (score, step) = match prev {
        Some(r) => (r.score, now.sub(r.updated).clamp(0, p.max_step)),
        None => (1.0, p.first_step.clamp(0, p.max_step)),
    };
    let score = if !score.is_finite() { 1.0 } else { score.clamp(0.0, 1.0) };
    let step = step as f64;
    let score = if tally.penalised(p) {
        score * 0.5f64.powf(step / p.penalty_half_life.max(1) as f64)
    } else {
        (score + step / p.recovery.max(1) as f64).min(1.0)
    };
    Reputation { score, updated: now }
}

/// One pass's judgement: every signed reporter's tally over the pairs it
/// shares with others (pairs with one reporter are skipped).
pub fn judge<'a>(
    pairs: impl IntoIterator<Item = (DirectedPair, &'a [View])>,
    standing: &dyn Standing,
    params: &AggregationParams,
) -> HashMap<NodeId, Tally> {
    let mut tallies: HashMap<NodeId, Tally> = HashMap::new();
    for (pair, views) in pairs {
        judge_pair(&pair, views, standing, params, &mut tallies);
    }
    tallies
}

/// [`judge`] for one pair, adding to `tallies` (for callers that stream pairs).
pub fn judge_pair(
    pair: &DirectedPair,
    views: &[View],
    standing: &dyn Standing,
    params: &AggregationParams,
    tallies: &mut HashMap<NodeId, Tally>,
) {
    if views.len() < 2 {
        return;
    }
    for (i, v) in views.iter().enumerate() {
        let Some(key) = v.reporter.key() else { continue };
        if let Some(c) = contradicted(pair, views, i, standing, params) {
            tallies.entry(*key).or_default().add(c);
        }
    }
}

/// The reputations to store after a pass at `now`: every reporter with a
/// stored reputation, updated, and every newly penalised one. A reporter
/// at full score with nothing against it needs no record.
pub fn after_pass(
    stored: &HashMap<NodeId, Reputation>,
    tallies: &HashMap<NodeId, Tally>,
    now: Timestamp,
    p: &ReputationParams,
) -> Vec<(NodeId, Reputation)> {
    let mut out: Vec<(NodeId, Reputation)> = stored
        .iter()
        .map(|(k, r)| {
            (
                *k,
                update(Some(*r), tallies.get(k).copied().unwrap_or_default(), now, p),
            )
        })
        .collect();
    out.extend(
        tallies
            .iter()
            .filter(|(k, t)| !stored.contains_key(k) && t.penalised(p))
            .map(|(k, t)| (*k, update(None, *t, now, p))),
    );
    out.sort_by_key(|(k, _)| *k);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{aggregate, Held, Reporter, Ungraphed};
    use crate::state::TimedPairResult;

    /// The rule check: an established reporter lying alone on 100
    /// pairs while contradicted on 20 shared ones ends with less weight
    /// than an honest one, and its lone pairs are no longer served.
    #[test]
    fn a_liar_contradicted_on_shared_pairs_loses_its_lone_pairs() {
        let key = |i: u8| {
            NodeId([
                2, i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ])
        };
        let (liar, honest) = (Reporter::Node(key(1)), Reporter::Node(key(2)));
        let witnesses = [Reporter::Node(key(3)), Reporter::Node(key(4))];
        let pair = |i: u8| DirectedPair::new(key(100), key(i));
        let at = |s: i64| Timestamp::from_unix_secs(1_800_000_000 + s);
        let succ = |a: u64| TimedPairResult {
            success_time: at(0),
            success_amt_msat: a,
            ..Default::default()
        };
        let fail = |a: u64| TimedPairResult {
            fail_time: at(1),
            fail_amt_msat: a,
            ..Default::default()
        };
        let mut pairs: Vec<(DirectedPair, Vec<View>)> = Vec::new();
        for i in 0..20 {
            let mut v: Vec<View> = witnesses
                .iter()
                .map(|w| View {
                    reporter: *w,
                    record: succ(500_000),
                })
                .collect();
            v.push(View {
                reporter: liar,
                record: fail(1),
            });
            v.push(View {
                reporter: honest,
                record: succ(400_000),
            });
            pairs.push((pair(i), v));
        }
        for i in 20..120 {
            pairs.push((
                pair(i),
                vec![View {
                    reporter: liar,
                    record: fail(1),
                }],
            ));
            pairs.push((
                pair(i + 100),
                vec![View {
                    reporter: honest,
                    record: succ(300_000),
                }],
            ));
        }
        /// Ungraphed, with the reputations of a pass.
        struct WithRep<'a>(&'a HashMap<NodeId, Reputation>);
        impl Standing for WithRep<'_> {
            fn class(&self, r: &Reporter) -> crate::aggregate::ReporterClass {
                Ungraphed.class(r)
            }
            fn reputation(&self, r: &Reporter) -> f64 {
                r.key().and_then(|k| self.0.get(k)).map_or(1.0, |x| x.score)
            }
            fn channel(&self, p: &DirectedPair) -> crate::aggregate::ChannelCheck {
                Ungraphed.channel(p)
            }
        }
        let params = AggregationParams::default();
        let rp = ReputationParams::default();
        let mut stored: HashMap<NodeId, Reputation> = HashMap::new();
        let lone = |stored: &HashMap<NodeId, Reputation>, p: &DirectedPair, v: &[View]| {
            aggregate(p, v, &WithRep(stored), &params)
        };
        assert!(
            lone(&stored, &pairs[20].0, &pairs[20].1).is_ok(),
            "served before any pass"
        );
        for pass in 0..3 {
            let tallies = judge(pairs.iter().map(|(p, v)| (*p, &v[..])), &WithRep(&stored), &params);
            assert_eq!(
                tallies[&key(1)],
                Tally {
                    judged: 20,
                    contradicted: 20
                },
                "pass {pass}"
            );
            assert_eq!(
                tallies[&key(2)],
                Tally {
                    judged: 20,
                    contradicted: 0
                },
                "pass {pass}"
            );
            for (k, r) in after_pass(&stored, &tallies, at(600 * (pass + 1)), &rp) {
                stored.insert(k, r);
            }
        }
        let st = WithRep(&stored);
        assert!(
            st.reputation(&liar) < 0.51 && st.reputation(&honest) == 1.0,
            "{stored:?}"
        );
        for (p, v) in &pairs[20..] {
            let served = lone(&stored, p, v);
            if v[0].reporter == liar {
                assert_eq!(served, Err(Held::Unbacked));
            } else {
                assert!(served.is_ok());
            }
        }
        // Honest again: it recovers, slowly.
        let quiet = HashMap::new();
        let mut later = stored.clone();
        for h in 1..=48 {
            for (k, r) in after_pass(&later, &quiet, at(1800 + h * 3600), &rp) {
                later.insert(k, r);
            }
        }
        assert_eq!(later[&key(1)].score, 1.0);
    }

    fn t(m: i64) -> Timestamp {
        Timestamp::from_unix_secs(1_800_000_000 + m * 60)
    }

    #[test]
    fn a_contradicted_reporter_halves_every_half_life_and_recovers_slowly() {
        let p = ReputationParams::default();
        let liar = Tally {
            judged: 20,
            contradicted: 19,
        };
        let r = update(None, liar, t(0), &p);
        assert!((r.score - 0.5f64.powf(1.0 / 3.0)).abs() < 1e-12, "{r:?}");
        let r = update(Some(r), liar, t(30), &p);
        assert!((r.score - 0.5f64.powf(4.0 / 3.0)).abs() < 1e-12, "{r:?}");
        // Recovery: +1/48 per hour, at most one hour per update.
        let honest = Tally {
            judged: 20,
            contradicted: 2,
        };
        let back = update(Some(r), honest, t(30 + 600), &p);
        assert!((back.score - (r.score + 1.0 / 48.0)).abs() < 1e-12, "{back:?}");
        // A second replica's pass right after changes nothing.
        let again = update(Some(back), liar, t(30 + 600), &p);
        assert_eq!(again.score, back.score);
    }

    #[test]
    fn too_few_judged_pairs_or_a_minority_of_contradictions_is_no_penalty() {
        let p = ReputationParams::default();
        let few = Tally {
            judged: 4,
            contradicted: 4,
        };
        assert_eq!(update(None, few, t(0), &p).score, 1.0);
        let half = Tally {
            judged: 10,
            contradicted: 5,
        };
        assert!(!half.penalised(&p));
        let mut tally = Tally::default();
        for i in 0..6 {
            tally.add(i > 0);
        }
        assert_eq!(
            tally,
            Tally {
                judged: 6,
                contradicted: 5
            }
        );
        assert!(tally.penalised(&p));
        // Garbage in the stored score is repaired, a clock going back is no step.
        let weird = Reputation {
            score: f64::NAN,
            updated: t(10),
        };
        assert_eq!(update(Some(weird), tally, t(0), &p).score, 1.0);
    }
}
