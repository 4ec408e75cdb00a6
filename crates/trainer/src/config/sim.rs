//! The simulated executor's settings: where its gradient and update durations T_c, T_u (and the
//! read time T_r of the strategies that copy θ) come from, and their checks.

use super::{Config, ExecutorKind};
use crate::TrainError;
use serde::{Deserialize, Serialize};

/// Where the simulator's durations come from (`sim_timing`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimTiming {
    /// Timed on this host before the run: `sim_calibration` real gradients, reads and publishes
    /// of the run's own strategy on θ0, then drawn from those samples (the report lists them, so
    /// `empirical` replays the run).
    #[default]
    Measured,
    /// Always `sim_tc_ms`, `sim_tu_us` (and `sim_tr_us`).
    Constant,
    /// Log-normal with those means and log-standard deviation `sim_spread`.
    Lognormal,
    /// Drawn uniformly from `sim_tc_list_ms` and `sim_tu_list_us` (e.g. a report's samples).
    Empirical,
}

impl SimTiming {
    pub const ALL: [(SimTiming, &'static str); 4] = [
        (SimTiming::Measured, "measured"),
        (SimTiming::Constant, "constant"),
        (SimTiming::Lognormal, "lognormal"),
        (SimTiming::Empirical, "empirical"),
    ];

    pub fn name(self) -> &'static str {
        SimTiming::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, n)| *n)
            .expect("every timing model is listed")
    }
}

impl std::str::FromStr for SimTiming {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SimTiming::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(k, _)| *k)
            .ok_or_else(|| {
                format!(
                    "unknown timing model `{s}` (expected measured, constant, lognormal or \
                     empirical)"
                )
            })
    }
}

impl Config {
    /// Whether any simulator setting differs from its default.
    fn sim_fields_set(&self) -> Option<&'static str> {
        let d = Config::default();
        [
            (self.sim_timing != d.sim_timing, "sim_timing"),
            (self.sim_tc_ms.is_some(), "sim_tc_ms"),
            (self.sim_tu_us.is_some(), "sim_tu_us"),
            (self.sim_tr_us.is_some(), "sim_tr_us"),
            (self.sim_spread != d.sim_spread, "sim_spread"),
            (!self.sim_tc_list_ms.is_empty(), "sim_tc_list_ms"),
            (!self.sim_tu_list_us.is_empty(), "sim_tu_list_us"),
            (self.sim_kappa != d.sim_kappa, "sim_kappa"),
            (self.sim_calibration != d.sim_calibration, "sim_calibration"),
        ]
        .into_iter()
        .find(|(set, _)| *set)
        .map(|(_, name)| name)
    }

    /// The simulator's settings: only with `executor` simulated, and complete for the chosen
    /// `sim_timing`.
    pub(super) fn validate_sim(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Invalid(m));
        if self.executor != ExecutorKind::Simulated {
            return match self.sim_fields_set() {
                Some(f) => bad(format!(
                    "`{f}` applies to `executor` simulated only, not {}",
                    self.executor.name()
                )),
                None => Ok(()),
            };
        }
        let positive = |name: &str, v: f64| -> Result<(), TrainError> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                bad(format!("`{name}` must be positive and finite, got {v}"))
            }
        };
        let non_negative = |name: &str, v: f64| -> Result<(), TrainError> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                bad(format!("`{name}` must be ≥ 0 and finite, got {v}"))
            }
        };
        if let Some(v) = self.sim_tr_us {
            non_negative("sim_tr_us", v)?;
        }
        non_negative("sim_kappa", self.sim_kappa)?;
        match self.sim_timing {
            SimTiming::Measured => {
                if self.sim_calibration == 0 {
                    return bad("`sim_calibration` must be at least 1 timed call".into());
                }
                for (set, f) in [
                    (self.sim_tc_ms.is_some(), "sim_tc_ms"),
                    (self.sim_tu_us.is_some(), "sim_tu_us"),
                    (!self.sim_tc_list_ms.is_empty(), "sim_tc_list_ms"),
                    (!self.sim_tu_list_us.is_empty(), "sim_tu_list_us"),
                ] {
                    if set {
                        return bad(format!(
                            "`{f}` is not used by `sim_timing` measured (it times this host): \
                             choose constant, lognormal or empirical"
                        ));
                    }
                }
            }
            SimTiming::Constant | SimTiming::Lognormal => {
                let (Some(tc), Some(tu)) = (self.sim_tc_ms, self.sim_tu_us) else {
                    return bad(format!(
                        "`sim_timing` {} needs `sim_tc_ms` and `sim_tu_us`",
                        self.sim_timing.name()
                    ));
                };
                positive("sim_tc_ms", tc)?;
                non_negative("sim_tu_us", tu)?;
                if self.sim_timing == SimTiming::Lognormal {
                    positive("sim_spread", self.sim_spread)?;
                }
                if !self.sim_tc_list_ms.is_empty() || !self.sim_tu_list_us.is_empty() {
                    return bad(format!(
                        "`sim_tc_list_ms` and `sim_tu_list_us` are for `sim_timing` empirical, \
                         not {}",
                        self.sim_timing.name()
                    ));
                }
            }
            SimTiming::Empirical => {
                if self.sim_tc_list_ms.is_empty() || self.sim_tu_list_us.is_empty() {
                    return bad("`sim_timing` empirical needs `sim_tc_list_ms` and \
                         `sim_tu_list_us` (comma-separated samples)"
                        .into());
                }
                for &v in &self.sim_tc_list_ms {
                    positive("sim_tc_list_ms", v)?;
                }
                for &v in &self.sim_tu_list_us {
                    non_negative("sim_tu_list_us", v)?;
                }
                if self.sim_tc_ms.is_some() || self.sim_tu_us.is_some() {
                    return bad(
                        "`sim_tc_ms` and `sim_tu_us` are for `sim_timing` constant or \
                         lognormal, not empirical"
                            .into(),
                    );
                }
            }
        }
        Ok(())
    }
}
