//! Which run descriptions are possible: every check made before anything starts.

use super::{Algorithm, Config, PolicyKind};
use crate::TrainError;
use pvec::Persistence;
use stepsize::{Adaptive, Options, PolicyError};

impl Config {
    /// Reject impossible or contradictory settings; the message names each field in backticks.
    pub fn validate(&self) -> Result<(), TrainError> {
        use crate::TrainError::Invalid;
        let bad = |m: String| Err(Invalid(m));
        if self.threads == 0 {
            return bad("`threads` must be at least 1".into());
        }
        if self.algorithm == Algorithm::Seq && self.threads != 1 {
            return bad(format!(
                "`algorithm` seq runs one thread, but `threads` {} was given",
                self.threads
            ));
        }
        if self.threads > 1024 {
            return bad(format!(
                "`threads` {} is more than the supported 1024",
                self.threads
            ));
        }
        if self.batch == 0 {
            return bad("`batch` must be at least 1".into());
        }
        if !(self.eta.is_finite() && self.eta > 0.0) {
            return bad(format!(
                "`eta` must be positive and finite, got {}",
                self.eta
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!(
                "`momentum` must be in [0, 1), got {}",
                self.momentum
            ));
        }
        if let Some(mu) = self.mts_momentum.filter(|m| !(0.0..1.0).contains(m)) {
            return bad(format!(
                "`mts_momentum` must be in [0, 1) (E[η] = η0/(1 − μ*) under A.9), got {mu}"
            ));
        }
        if self.policy == PolicyKind::MtsGeom && self.mts_momentum.is_none() {
            return bad(
                "`policy` mts_geom tunes the implicit momentum to μ* (A.9, A.11): set \
                 `mts_momentum` in [0, 1) (0 removes it, and gives every stale update a zero \
                 step)"
                    .into(),
            );
        }
        if let Some(k) = self.mts_k.filter(|k| !(k.is_finite() && *k >= 0.0)) {
            return bad(format!("`mts_k` must be ≥ 0, got {k}"));
        }
        if self.policy == PolicyKind::MtsPoisson && self.mts_k.is_none() {
            return bad(
                "`policy` mts_poisson tunes the implicit momentum to K (A.18): set `mts_k` \
                 (in units of η: η(τ) has the factor 1 − (K/η0)·Γ(τ, λ)/Γ(τ); the thesis' §A.6 \
                 uses K = 1 with `eta` 0.01, `eta_cap` 5 and `drop_above` 150)"
                    .into(),
            );
        }
        if !(0.0..=1.0).contains(&self.amplitude) {
            return bad(format!(
                "`amplitude` must be in [0, 1], got {}",
                self.amplitude
            ));
        }
        if !(self.epochs.is_finite() && self.epochs > 0.0) {
            return bad(format!("`epochs` must be positive, got {}", self.epochs));
        }
        if let Some(s) = self.max_seconds {
            if !(s.is_finite() && s > 0.0) {
                return bad(format!("`max_seconds` must be positive, got {s}"));
            }
        }
        if self.eps.is_empty()
            || self
                .eps
                .iter()
                .any(|e| !(e.is_finite() && *e > 0.0 && *e < 1.0))
        {
            return bad(format!(
                "`eps` targets must be fractions in (0, 1), got {:?}",
                self.eps
            ));
        }
        if let Some(c) = self.eta_cap {
            if !(c.is_finite() && c > 0.0) {
                return bad(format!("`eta_cap` must be positive, got {c}"));
            }
        }
        if !(self.eval_every.is_finite() && self.eval_every >= 0.0) {
            return bad(format!("`eval_every` must be ≥ 0, got {}", self.eval_every));
        }
        if self.eval_subset == 0 {
            return bad("`eval_subset` must be at least 1".into());
        }
        if (self.elastic || self.ain)
            && !matches!(
                self.algorithm,
                Algorithm::Async | Algorithm::Hogwild | Algorithm::Leashed
            )
        {
            return bad(format!("`elastic` and `ain` need an asynchronous algorithm (async, hogwild, leashed), not {}", self.algorithm));
        }
        if self.elastic && (self.elastic_ip == 0 || self.elastic_dp == 0) {
            return bad("`elastic_ip` and `elastic_dp` must be at least 1".into());
        }
        if let Some(m0) = self.elastic_initial {
            if m0 == 0 || m0 > self.threads {
                return bad(format!(
                    "`elastic_initial` must be in 1..={}, got {m0}",
                    self.threads
                ));
            }
        }
        if self.persistence != Persistence::Unbounded && self.algorithm != Algorithm::Leashed {
            return bad(format!(
                "`persistence` applies to leashed only, not {}",
                self.algorithm
            ));
        }
        let adaptive = !matches!(self.policy, PolicyKind::Constant) || self.mean_preserving;
        if adaptive
            && matches!(self.algorithm, Algorithm::Seq | Algorithm::Sync)
            && self.policy != PolicyKind::Constant
        {
            return bad(format!(
                "`policy` {} adapts to staleness, but {} has none (every update has τ = 0)",
                self.policy.name(),
                self.algorithm
            ));
        }
        if !(self.init_std.is_finite() && self.init_std > 0.0) {
            return bad(format!(
                "`init_std` must be positive and finite, got {}",
                self.init_std
            ));
        }
        if !(self.divergence_factor.is_finite() && self.divergence_factor > 1.0) {
            return bad(format!(
                "`divergence_factor` must be above 1, got {}",
                self.divergence_factor
            ));
        }
        self.validate_sim()?;
        // The table the run would build, checked the way training builds it.
        self.adaptive().map(|_| ())
    }

    /// The step-size table this configuration trains with: the one code path for training and
    /// for showing a policy (`trainer stepsize show`), refusing what cannot be tabulated sanely.
    pub fn adaptive(&self) -> Result<Adaptive, TrainError> {
        let opts = Options {
            mean_preserving: self.mean_preserving,
            cap: self.eta_cap,
            drop_above: self.drop_above,
        };
        Adaptive::try_new(self.step_policy(), self.eta, opts, self.tau_max)
            .map_err(|e| TrainError::Invalid(policy_message(self, e)))
    }
}

/// A `stepsize` error in this configuration's terms (its fields in backticks).
fn policy_message(cfg: &Config, e: PolicyError) -> String {
    match e {
        PolicyError::NeedsCap { .. } => format!(
            "`policy` {}: its factors η(τ)/η0 grow without bound in τ, so one stale update \
             would take a step near f32::MAX; set `eta_cap` (the thesis' §A.6 uses 5, with \
             `mean_preserving`)",
            cfg.policy.name()
        ),
        other => {
            let mut s = other.to_string();
            for (lib, ours) in [
                ("Options.cap", "`eta_cap`"),
                ("TailTau.amplitude", "`amplitude`"),
                ("MindTheStepGeometric.momentum", "`mts_momentum`"),
                ("MindTheStepMomentum.k", "`mts_k`"),
                ("tau_max", "`tau_max`"),
                ("eta0", "`eta`"),
            ] {
                s = s.replace(lib, ours);
            }
            format!("`policy` {}: {s}", cfg.policy.name())
        }
    }
}
