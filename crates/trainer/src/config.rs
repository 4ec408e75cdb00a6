//! What a run does: algorithm, model, data handling, step size, limits, measurement.
//!
//! A [`Config`] is plain data. [`Config::validate`] names the offending fields in backticks
//! (`` `threads` must be at least 1 ``), so that a front end can say it in its own terms (the
//! binary turns `` `threads` `` into `--threads`).

use nn::{Arch, Init, Scale, Shuffle};
use pvec::Persistence;
use serde::Serialize;
use stepsize::{CdfForm, Phi, Policy};

/// The parallel SGD algorithm (Table 1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Sequential SGD, one thread.
    Seq,
    /// Synchronous data-parallel SGD: m gradients on the same θ, averaged, one step (effective
    /// batch m·b, Thm A.3.1).
    Sync,
    /// Lock-based AsyncSGD (Alg. B.2).
    Async,
    /// HOGWILD!.
    Hogwild,
    /// Leashed-SGD (Alg. B.3).
    Leashed,
}

impl Algorithm {
    /// Every algorithm, in the order of Table 1.3.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Seq,
        Algorithm::Sync,
        Algorithm::Async,
        Algorithm::Hogwild,
        Algorithm::Leashed,
    ];
}

impl std::str::FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.to_string() == s)
            .ok_or_else(|| {
                format!("unknown algorithm `{s}` (expected seq, sync, async, hogwild or leashed)")
            })
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Algorithm::Seq => "seq",
            Algorithm::Sync => "sync",
            Algorithm::Async => "async",
            Algorithm::Hogwild => "hogwild",
            Algorithm::Leashed => "leashed",
        })
    }
}

/// The step-size policy as chosen on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    Constant,
    /// 1/τ.
    Inverse,
    /// FLeet's exponential dampening, β from τ_th = m + 1.
    Fleet,
    /// TAIL-τ, exactly mean-preserving discrete form.
    Tail,
    /// TAIL-τ with F(τ) = P[τ' ≤ τ], as Def. C.4.5 prints it.
    TailThesis,
    /// TAIL-τ as the thesis' C++ code computes it (strict CDF, sampled once).
    TailCode,
    /// MindTheStep, geometric model (A.9, C from A.11 for `--mts-momentum`), p fitted live.
    MtsGeom,
    /// MindTheStep, CMP model (A.14), (λ, ν) fitted live.
    MtsCmp,
    /// MindTheStep momentum-tuned for a Poisson model (A.18 as printed), λ = m, K = `--mts-k`;
    /// §A.6 also uses `--mean-preserving --eta-cap 5 --drop-above 150`.
    MtsPoisson,
}

impl PolicyKind {
    /// Every policy, with the word that names it (`--policy WORD`).
    pub const ALL: [(PolicyKind, &'static str); 9] = [
        (PolicyKind::Constant, "constant"),
        (PolicyKind::Inverse, "inverse"),
        (PolicyKind::Fleet, "fleet"),
        (PolicyKind::Tail, "tail"),
        (PolicyKind::TailThesis, "tail-thesis"),
        (PolicyKind::TailCode, "tail-code"),
        (PolicyKind::MtsGeom, "mts-geom"),
        (PolicyKind::MtsCmp, "mts-cmp"),
        (PolicyKind::MtsPoisson, "mts-poisson"),
    ];

    pub fn name(self) -> &'static str {
        PolicyKind::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map(|(_, n)| *n)
            .expect("every policy is listed")
    }
}

impl std::str::FromStr for PolicyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let want = s.replace('_', "-");
        PolicyKind::ALL
            .iter()
            .find(|(_, n)| *n == want)
            .map(|(p, _)| *p)
            .ok_or_else(|| {
                let names: Vec<&str> = PolicyKind::ALL.iter().map(|(_, n)| *n).collect();
                format!(
                    "unknown policy `{s}` (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// How ε-convergence is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EpsBy {
    /// The loss on the fixed evaluation subset of the training set, at each evaluation.
    Eval,
    /// The trailing mean of 10 consecutive mini-batch losses against the initial loss on the
    /// whole training set: how the thesis' code measures it.
    Minibatch,
}

impl std::str::FromStr for EpsBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "eval" => Ok(EpsBy::Eval),
            "minibatch" => Ok(EpsBy::Minibatch),
            _ => Err(format!(
                "unknown ε basis `{s}` (expected eval or minibatch)"
            )),
        }
    }
}

/// A complete run description. [`Config::validate`] checks it before anything starts.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    pub algorithm: Algorithm,
    pub threads: usize,
    #[serde(serialize_with = "display")]
    pub arch: Arch,
    pub batch: usize,
    /// Base step size η0.
    pub eta: f64,
    /// Momentum μ (eq. 1.3); 0 = plain SGD. Momentum state is per worker.
    pub momentum: f64,
    pub policy: PolicyKind,
    /// TAIL-τ amplitude A ∈ [0, 1].
    pub amplitude: f64,
    /// MindTheStep's desired implicit momentum μ* (geometric model, A.11).
    pub mts_momentum: f64,
    /// MindTheStep's momentum K (A.16–A.18).
    pub mts_k: f64,
    /// Rescale any policy to E[η] = η0 over the observed staleness (C.5, A.26).
    pub mean_preserving: bool,
    /// Cap η ≤ cap·η0.
    pub eta_cap: Option<f64>,
    /// Drop updates with τ above this.
    pub drop_above: Option<u64>,
    #[serde(serialize_with = "display")]
    pub persistence: Persistence,
    /// Passes over the training data (all workers together).
    pub epochs: f64,
    /// Wall-clock limit.
    pub max_seconds: Option<f64>,
    /// ε targets as fractions of the initial loss.
    pub eps: Vec<f64>,
    pub eps_by: EpsBy,
    /// Stop as soon as the smallest ε target is reached.
    pub stop_at_eps: bool,
    pub seed: u64,
    #[serde(serialize_with = "debug")]
    pub init: Init,
    #[serde(serialize_with = "debug")]
    pub scale: Scale,
    #[serde(serialize_with = "debug")]
    pub shuffle: Shuffle,
    /// Seconds between evaluations; 0 = schedule by progress instead (`eval_points`).
    pub eval_every: f64,
    /// With `eval_every = 0`: evaluations spread evenly over the run's updates (0: only at the
    /// start and the end).
    pub eval_points: usize,
    /// Size of the fixed evaluation subset of the training set.
    pub eval_subset: usize,
    /// Pin worker i to core i mod cores.
    pub pin_threads: bool,
    /// Largest staleness with its own histogram bucket (and step-size table entry).
    pub tau_max: usize,
    /// ELAsyncSGD: `threads` is the most workers M; the regulator sets how many run.
    pub elastic: bool,
    /// ELAsyncSGD knobs: execution phase I_P·m, probe D_P·m updates, window ±W_P, start m0.
    pub elastic_ip: u64,
    pub elastic_dp: u64,
    pub elastic_wp: usize,
    pub elastic_initial: Option<usize>,
    /// Measure the asynchrony-induced noise ξ (Def. D.4.2) exactly (implied by `elastic`).
    pub ain: bool,
}

fn display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn debug<T: std::fmt::Debug, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{v:?}"))
}

impl Default for Config {
    /// Our defaults: Leashed-SGD, 2 threads, MLP 3×128, inputs in [0, 1], He initialisation,
    /// reshuffled epochs.
    fn default() -> Self {
        Config {
            algorithm: Algorithm::Leashed,
            threads: 2,
            arch: Arch::Mlp {
                hidden_layers: 3,
                units: 128,
            },
            batch: 64,
            eta: 0.05,
            momentum: 0.0,
            policy: PolicyKind::Constant,
            amplitude: 1.0,
            mts_momentum: 0.0,
            mts_k: 1.0,
            mean_preserving: false,
            eta_cap: None,
            drop_above: None,
            persistence: Persistence::Unbounded,
            epochs: 3.0,
            max_seconds: None,
            eps: vec![0.5, 0.25, 0.1, 0.05, 0.025],
            eps_by: EpsBy::Eval,
            stop_at_eps: false,
            seed: 1,
            init: Init::He,
            scale: Scale::Unit,
            shuffle: Shuffle::EveryEpoch,
            eval_every: 0.0,
            eval_points: 40,
            eval_subset: 10_000,
            pin_threads: false,
            tau_max: 256,
            elastic: false,
            elastic_ip: 100,
            elastic_dp: 10,
            elastic_wp: 1,
            elastic_initial: None,
            ain: false,
        }
    }
}

impl Config {
    /// The thesis code's setup (issue #6's reference): raw 0–255 pixels, every weight and bias
    /// N(0, 0.01²), one shuffle then batches in order, plain SGD, η = 0.005, ε judged by the
    /// trailing mean of 10 mini-batch losses against the full training set's initial loss, and no
    /// periodic evaluation (the thesis' code never evaluates a full set while training).
    pub fn apply_thesis_preset(&mut self) {
        self.scale = Scale::Raw;
        self.init = Init::THESIS;
        self.shuffle = Shuffle::Once;
        self.momentum = 0.0;
        self.eta = 0.005;
        self.eps_by = EpsBy::Minibatch;
        self.eval_every = 0.0;
        self.eval_points = 0;
    }

    /// The step-size policy this configuration asks for.
    pub fn step_policy(&self) -> Policy {
        let tail = |form| Policy::TailTau {
            amplitude: self.amplitude,
            phi: Phi::Identity,
            form,
        };
        match self.policy {
            PolicyKind::Constant => Policy::Constant,
            PolicyKind::Inverse => Policy::Inverse,
            PolicyKind::Fleet => Policy::fleet_for_threads(self.threads),
            PolicyKind::Tail => tail(CdfForm::Exact),
            PolicyKind::TailThesis => tail(CdfForm::Thesis),
            PolicyKind::TailCode => tail(CdfForm::ThesisCode),
            PolicyKind::MtsGeom => Policy::MindTheStepGeometric {
                p: None,
                momentum: self.mts_momentum,
            },
            PolicyKind::MtsCmp => Policy::MindTheStepCmp {
                lambda_nu: None,
                c: 1.0,
            },
            PolicyKind::MtsPoisson => Policy::MindTheStepMomentum {
                lambda_nu: Some((self.threads as f64, 1.0)),
                k: self.mts_k,
                printed: true,
            },
        }
    }

    /// Reject impossible or contradictory settings; the message names each field in backticks.
    pub fn validate(&self) -> Result<(), crate::TrainError> {
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
        if !(self.mts_momentum.is_finite() && self.mts_momentum < 2.0) {
            return bad(format!(
                "`mts_momentum` must be below 2 (A.11 divides by 2 − μ*), got {}",
                self.mts_momentum
            ));
        }
        if !(self.mts_k.is_finite() && self.mts_k >= 0.0) {
            return bad(format!("`mts_k` must be ≥ 0, got {}", self.mts_k));
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
        Ok(())
    }
}
