//! routerrpc wire types ⇄ `dmc_core::rpc` (and mission-control config).
//! The field values are the same on both sides; only the field numbers on
//! the wire differ from ecrpc's (see `proto/routerrpc/router.proto`).

use dmc_core::amount::Msat;
use dmc_core::estimator::{AprioriConfig, BimodalConfig, EstimatorConfig};
use dmc_core::mission_control::MissionControlConfig;
use dmc_core::rpc;
use dmc_core::time::DurationNs;

use crate::routerrpc;

/// routerrpc → core, field for field.
pub fn pair_data_from_router(d: &routerrpc::PairData) -> rpc::PairData {
    rpc::PairData {
        fail_time: d.fail_time,
        fail_amt_sat: d.fail_amt_sat,
        fail_amt_msat: d.fail_amt_msat,
        success_time: d.success_time,
        success_amt_sat: d.success_amt_sat,
        success_amt_msat: d.success_amt_msat,
    }
}

/// Core → routerrpc, field for field.
pub fn pair_data_to_router(d: &rpc::PairData) -> routerrpc::PairData {
    routerrpc::PairData {
        fail_time: d.fail_time,
        fail_amt_sat: d.fail_amt_sat,
        fail_amt_msat: d.fail_amt_msat,
        success_time: d.success_time,
        success_amt_sat: d.success_amt_sat,
        success_amt_msat: d.success_amt_msat,
    }
}

/// Wire → core. An absent `history` reads as all zeros, as Go's getters do.
pub fn pair_from_router(p: &routerrpc::PairHistory) -> rpc::PairHistory {
    rpc::PairHistory {
        node_from: p.node_from.clone(),
        node_to: p.node_to.clone(),
        history: p.history.as_ref().map(pair_data_from_router).unwrap_or_default(),
    }
}

/// Core → wire; `history` is always set.
pub fn pair_to_router(p: &rpc::PairHistory) -> routerrpc::PairHistory {
    routerrpc::PairHistory {
        node_from: p.node_from.clone(),
        node_to: p.node_to.clone(),
        history: Some(pair_data_to_router(&p.history)),
    }
}

const NS: i64 = 1_000_000_000;

/// lnd's `GetMissionControlConfig` answer for `cfg` (spec §8.2): the
/// deprecated apriori fields are filled (as float32) for apriori only.
pub fn config_to_router(cfg: &MissionControlConfig) -> routerrpc::MissionControlConfig {
    use routerrpc::mission_control_config::{EstimatorConfig as Oneof, ProbabilityModel};
    let secs = |d: DurationNs| (d.max(DurationNs::ZERO).as_nanos() / NS) as u64;
    let mut out = routerrpc::MissionControlConfig {
        maximum_payment_results: cfg.max_history,
        minimum_failure_relax_interval: secs(cfg.min_failure_relax_interval),
        ..Default::default()
    };
    match &cfg.estimator {
        EstimatorConfig::Apriori(a) => {
            out.model = ProbabilityModel::Apriori as i32;
            out.half_life_seconds = secs(a.penalty_half_life);
            out.hop_probability = a.hop_probability as f32;
            out.weight = a.weight as f32;
            out.estimator_config = Some(Oneof::Apriori(routerrpc::AprioriParameters {
                half_life_seconds: secs(a.penalty_half_life),
                hop_probability: a.hop_probability,
                weight: a.weight,
                capacity_fraction: a.capacity_fraction,
            }));
        }
        EstimatorConfig::Bimodal(b) => {
            out.model = ProbabilityModel::Bimodal as i32;
            out.estimator_config = Some(Oneof::Bimodal(routerrpc::BimodalParameters {
                node_weight: b.node_weight,
                scale_msat: b.scale_msat.0,
                decay_time: secs(b.decay_time),
            }));
        }
    }
    out
}

/// Why lnd's mission-control config has no dmc-core equivalent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouterConfigError {
    /// A duration that does not fit dmc-core's `i64` nanoseconds.
    #[error("{seconds} seconds is out of range")]
    DurationOutOfRange {
        /// The duration as lnd reported it, in seconds.
        seconds: u64,
    },
    /// The model is unknown, or its parameters (the `estimator_config`
    /// oneof) are missing or belong to the other model; only apriori may
    /// come without them (old lnds).
    #[error("model {model:?} ({number}) without matching parameters")]
    ModelWithoutParameters {
        /// The model as prost decodes the enum.
        model: Result<routerrpc::mission_control_config::ProbabilityModel, prost::UnknownEnumValue>,
        /// The model's number as it came.
        number: i32,
    },
}

/// The config lnd reported, as dmc-core's type. Old lnds without the
/// oneof report apriori through the deprecated fields.
pub fn config_from_router(c: &routerrpc::MissionControlConfig) -> Result<MissionControlConfig, RouterConfigError> {
    use routerrpc::mission_control_config::{EstimatorConfig as Oneof, ProbabilityModel};
    let dur = |seconds: u64| -> Result<DurationNs, RouterConfigError> {
        i64::try_from(seconds)
            .ok()
            .and_then(|s| s.checked_mul(NS))
            .map(DurationNs)
            .ok_or(RouterConfigError::DurationOutOfRange { seconds })
    };
    let estimator = match (ProbabilityModel::try_from(c.model), &c.estimator_config) {
        (Ok(ProbabilityModel::Bimodal), Some(Oneof::Bimodal(b))) => EstimatorConfig::Bimodal(BimodalConfig {
            node_weight: b.node_weight,
            scale_msat: Msat(b.scale_msat),
            decay_time: dur(b.decay_time)?,
        }),
        (Ok(ProbabilityModel::Apriori), Some(Oneof::Apriori(a))) => EstimatorConfig::Apriori(AprioriConfig {
            hop_probability: a.hop_probability,
            weight: a.weight,
            penalty_half_life: dur(a.half_life_seconds)?,
            capacity_fraction: a.capacity_fraction,
        }),
        (Ok(ProbabilityModel::Apriori), None) => EstimatorConfig::Apriori(AprioriConfig {
            hop_probability: f64::from(c.hop_probability),
            weight: f64::from(c.weight),
            penalty_half_life: dur(c.half_life_seconds)?,
            ..AprioriConfig::default()
        }),
        (model, _) => return Err(RouterConfigError::ModelWithoutParameters { model, number: c.model }),
    };
    Ok(MissionControlConfig {
        estimator,
        max_history: c.maximum_payment_results,
        min_failure_relax_interval: dur(c.minimum_failure_relax_interval)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn pair_history_uses_lnds_field_numbers() {
        let p = rpc::PairHistory {
            node_from: vec![0x02; 33],
            node_to: vec![0x03; 33],
            history: rpc::PairData {
                fail_time: 1,
                fail_amt_sat: 2,
                fail_amt_msat: 3,
                success_time: 4,
                success_amt_sat: 5,
                success_amt_msat: 6,
            },
        };
        let bytes = pair_to_router(&p).encode_to_vec();
        let mut want = vec![0x0a, 33];
        want.extend([0x02; 33]);
        want.extend([0x12, 33]);
        want.extend([0x03; 33]);
        // history = 7, length-delimited: tag (7 << 3) | 2 = 0x3a.
        want.extend([0x3a, 12]);
        want.extend([0x08, 1]); // fail_time = 1
        want.extend([0x10, 2]); // fail_amt_sat = 2
        want.extend([0x20, 3]); // fail_amt_msat = 4
        want.extend([0x28, 4]); // success_time = 5
        want.extend([0x30, 5]); // success_amt_sat = 6
        want.extend([0x38, 6]); // success_amt_msat = 7
        assert_eq!(bytes, want);
        let back = routerrpc::PairHistory::decode(bytes.as_slice()).unwrap();
        assert_eq!(pair_from_router(&back), p);
        assert_eq!(
            pair_from_router(&routerrpc::PairHistory::default()).history,
            rpc::PairData::default()
        );
    }

    #[test]
    fn query_and_import_messages_use_lnds_field_numbers() {
        let resp = routerrpc::QueryMissionControlResponse {
            pairs: vec![routerrpc::PairHistory::default()],
        };
        // pairs = 2 (1 is reserved): tag 0x12, empty message.
        assert_eq!(resp.encode_to_vec(), vec![0x12, 0]);
        let req = routerrpc::XImportMissionControlRequest {
            pairs: vec![routerrpc::PairHistory::default()],
            force: true,
        };
        assert_eq!(req.encode_to_vec(), vec![0x0a, 0, 0x10, 1]);
        let sign = crate::lnrpc::SignMessageRequest {
            msg: vec![7],
            single_hash: true,
        };
        assert_eq!(sign.encode_to_vec(), vec![0x0a, 1, 7, 0x10, 1]);
        let info = crate::lnrpc::GetInfoResponse {
            identity_pubkey: "k".into(),
            version: "v".into(),
            chains: vec![crate::lnrpc::Chain { network: "n".into() }],
            ..Default::default()
        };
        // identity_pubkey = 1, version = 14 (0x72), chains = 16 (0x82 0x01) with network = 2.
        assert_eq!(
            info.encode_to_vec(),
            vec![0x0a, 1, b'k', 0x72, 1, b'v', 0x82, 0x01, 3, 0x12, 1, b'n']
        );
    }

    #[test]
    fn config_round_trips_for_both_models() {
        let apriori = MissionControlConfig::default();
        let wire = config_to_router(&apriori);
        assert_eq!(wire.minimum_failure_relax_interval, 60);
        assert_eq!(wire.maximum_payment_results, 1000);
        assert_eq!(wire.hop_probability, 0.6f32);
        assert_eq!(config_from_router(&wire).unwrap(), apriori);
        let bimodal = MissionControlConfig {
            estimator: EstimatorConfig::Bimodal(BimodalConfig::default()),
            ..Default::default()
        };
        let wire = config_to_router(&bimodal);
        assert_eq!((wire.hop_probability, wire.half_life_seconds), (0.0, 0));
        assert_eq!(config_from_router(&wire).unwrap(), bimodal);
        // The oneof numbers: apriori = 7, bimodal = 8.
        let only_bimodal = routerrpc::MissionControlConfig {
            estimator_config: config_to_router(&bimodal).estimator_config,
            ..Default::default()
        };
        assert_eq!(only_bimodal.encode_to_vec()[0], 0x42);
    }

    #[test]
    fn unusable_configs_say_why() {
        let no_params = routerrpc::MissionControlConfig {
            model: 1,
            ..Default::default()
        };
        assert_eq!(
            config_from_router(&no_params).unwrap_err().to_string(),
            "model Ok(Bimodal) (1) without matching parameters"
        );
        let unknown = routerrpc::MissionControlConfig {
            model: 7,
            ..Default::default()
        };
        assert_eq!(
            config_from_router(&unknown).unwrap_err().to_string(),
            "model Err(UnknownEnumValue(7)) (7) without matching parameters"
        );
        let long = routerrpc::MissionControlConfig {
            minimum_failure_relax_interval: u64::MAX,
            ..config_to_router(&MissionControlConfig::default())
        };
        assert_eq!(
            config_from_router(&long).unwrap_err(),
            RouterConfigError::DurationOutOfRange { seconds: u64::MAX }
        );
        assert_eq!(
            config_from_router(&long).unwrap_err().to_string(),
            "18446744073709551615 seconds is out of range"
        );
    }
}
