//! What a run does: algorithm, model, data handling, step size, limits, measurement.
//!
//! A [`Config`] is plain data, read and written as JSON with the same field names everywhere
//! (the report's `config`, the binary's options as `--field-name`, Python's keyword arguments).
//! Every field has a default, so a partial description is a complete one; unknown fields are
//! refused. [`Config::validate`] names the offending fields in backticks
//! (`` `threads` must be at least 1 ``), so that a front end can say it in its own terms (the
//! binary turns `` `threads` `` into `--threads`).

mod kinds;
mod sim;
mod validate;

pub(crate) use kinds::words;
pub use kinds::{Algorithm, EpsBy, ExecutorKind, InitKind, PolicyKind};
pub use sim::SimTiming;

use nn::{Arch, Init, Scale, Shuffle};
use pvec::Persistence;
use serde::{Deserialize, Serialize};
use stepsize::{CdfForm, Phi, Policy};

/// A complete run description. [`Config::validate`] checks it before anything starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The parallel SGD algorithm (Table 1.3).
    pub algorithm: Algorithm,
    /// Who runs the workers: `threads`, `simulated` (virtual time) or `mpi`.
    pub executor: ExecutorKind,
    /// Workers m (seq: 1); with `elastic`, the most workers M.
    pub threads: usize,
    /// `mlp` (3×128), `mlp:LxU`, `cnn` (Table B.2), `lenet` (the thesis code's), `lenet5`,
    /// `cifar-cnn`.
    #[serde(with = "words::arch")]
    pub arch: Arch,
    /// Mini-batch size b (per worker; SYNC steps with m·b).
    pub batch: usize,
    /// Base step size η0.
    pub eta: f64,
    /// Momentum μ (eq. 1.3); 0 = plain SGD. Momentum state is per worker.
    pub momentum: f64,
    /// The step-size policy η(τ).
    pub policy: PolicyKind,
    /// TAIL-τ amplitude A ∈ [0, 1].
    pub amplitude: f64,
    /// MindTheStep's desired implicit momentum μ* ∈ [0, 1) (geometric model, A.11); `mts_geom`
    /// needs it set (there is no neutral default: μ* = 0 gives every stale update a zero step).
    pub mts_momentum: Option<f64>,
    /// MindTheStep's momentum K (A.16–A.18); `mts_poisson` needs it set (K is in units of η:
    /// A.18 divides it by η0, and the thesis' K = 1 at η0 = 0.01 zeroes most stale steps).
    pub mts_k: Option<f64>,
    /// Rescale any policy to E[η] = η0 over the observed staleness (C.5, A.26).
    pub mean_preserving: bool,
    /// Cap η ≤ cap·η0.
    pub eta_cap: Option<f64>,
    /// Drop updates with τ above this.
    pub drop_above: Option<u64>,
    /// Leashed-SGD's persistence bound T_p: a number, or `"inf"`.
    #[serde(with = "words::persistence")]
    pub persistence: Persistence,
    /// Passes over the training data (all workers together): the run's budget.
    pub epochs: f64,
    /// Wall-clock limit in seconds (a safety cap; the budget is `epochs`).
    pub max_seconds: Option<f64>,
    /// ε targets as fractions of the initial loss.
    pub eps: Vec<f64>,
    /// What ε is judged on.
    pub eps_by: EpsBy,
    /// Stop as soon as the smallest ε target is reached.
    pub stop_at_eps: bool,
    /// Seed of the initialisation and the sampling (one worker replays bit for bit).
    pub seed: u64,
    /// How θ0 is drawn.
    pub init: InitKind,
    /// The standard deviation of `init = normal`.
    pub init_std: f64,
    /// Pixels as `unit` (x/255) or `raw` (0–255).
    #[serde(with = "words::scale")]
    pub scale: Scale,
    /// Sample order: `every_epoch`, `once`, `never`, `thesis_code` (the C++'s shuffle and
    /// epoch-aligned batches, the last of each epoch short).
    #[serde(with = "words::shuffle")]
    pub shuffle: Shuffle,
    /// Seconds between evaluations; 0 = schedule by progress instead (`eval_points`).
    pub eval_every: f64,
    /// With `eval_every = 0`: evaluations spread evenly over the run's budget, whichever of
    /// `epochs` and `max_seconds` binds first (0: only at the start and the end).
    pub eval_points: usize,
    /// Size of the fixed evaluation subset of the training set (at most its size).
    pub eval_subset: usize,
    /// Pin worker i to core i mod cores.
    pub pin_threads: bool,
    /// Largest staleness with its own histogram bucket (and step-size table entry).
    pub tau_max: usize,
    /// A run whose trailing mini-batch loss rises above this many times the initial loss has
    /// diverged (as has one whose loss is not finite).
    pub divergence_factor: f64,
    /// ELAsyncSGD: `threads` is the most workers M; the regulator sets how many run.
    pub elastic: bool,
    /// ELAsyncSGD's execution phase: I_P·m_E updates (Alg. D.3).
    pub elastic_ip: u64,
    /// ELAsyncSGD's probe of one level m: D_P·m updates.
    pub elastic_dp: u64,
    /// ELAsyncSGD's probing window ±W_P.
    pub elastic_wp: usize,
    /// ELAsyncSGD's starting level (default M/2).
    pub elastic_initial: Option<usize>,
    /// Measure the asynchrony-induced noise ξ (Def. D.4.2) exactly (implied by `elastic`).
    pub ain: bool,
    /// Simulated executor: where T_c, T_u (and T_r) come from (`docs/simulator.md`).
    pub sim_timing: SimTiming,
    /// Simulated: mean gradient time T_c(1) in ms (`constant`, `lognormal`).
    pub sim_tc_ms: Option<f64>,
    /// Simulated: mean update (publish) time T_u in µs (`constant`, `lognormal`).
    pub sim_tu_us: Option<f64>,
    /// Simulated: mean read time T_r in µs of the strategies that copy θ (async, hogwild);
    /// default: T_u's distribution (a copy of θ costs about one pass over it, as an update does).
    pub sim_tr_us: Option<f64>,
    /// Simulated, `lognormal`: standard deviation of ln T (the spread around the mean).
    pub sim_spread: f64,
    /// Simulated, `empirical`: T_c samples in ms, drawn uniformly.
    pub sim_tc_list_ms: Vec<f64>,
    /// Simulated, `empirical`: T_u samples in µs, drawn uniformly.
    pub sim_tu_list_us: Vec<f64>,
    /// Simulated: memory-bandwidth contention, T_c(m) = T_c(1)·(1 + κ(m − 1)) for m active
    /// workers.
    pub sim_kappa: f64,
    /// Simulated, `measured`: timed calls of each kind before the run.
    pub sim_calibration: usize,
}

impl Default for Config {
    /// Our defaults: Leashed-SGD, 2 threads, MLP 3×128, inputs in [0, 1], He initialisation,
    /// reshuffled epochs.
    fn default() -> Self {
        Config {
            algorithm: Algorithm::Leashed,
            executor: ExecutorKind::Threads,
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
            mts_momentum: None,
            mts_k: None,
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
            init: InitKind::He,
            init_std: 0.01,
            scale: Scale::Unit,
            shuffle: Shuffle::EveryEpoch,
            eval_every: 0.0,
            eval_points: 40,
            eval_subset: 10_000,
            pin_threads: false,
            tau_max: 256,
            divergence_factor: 10.0,
            elastic: false,
            elastic_ip: 100,
            elastic_dp: 10,
            elastic_wp: 1,
            elastic_initial: None,
            ain: false,
            sim_timing: SimTiming::Measured,
            sim_tc_ms: None,
            sim_tu_us: None,
            sim_tr_us: None,
            sim_spread: 0.25,
            sim_tc_list_ms: Vec::new(),
            sim_tu_list_us: Vec::new(),
            sim_kappa: 0.0,
            sim_calibration: 10,
        }
    }
}

impl Config {
    /// What the thesis' C++ code (dcs-chalmers/shared-memory-sgd) does with `-A MLP`:
    /// its default MLP, one hidden layer of 128 (`mlp:1x128`); raw 0–255 pixels; every weight
    /// and bias N(0, 0.01²) from its Park–Miller generator seeded with its default seed 1337
    /// (`init = thesis_code`); one Fisher–Yates shuffle by the same generator and seed, cut
    /// into epoch-aligned batches with a short last one, the same every epoch
    /// (`shuffle = thesis_code`); plain SGD (its momentum μ is an unset global, 0); η = 0.005;
    /// ε judged by the trailing mean of 10 mini-batch losses against the whole training set's
    /// initial loss; no periodic evaluation (the C++ never evaluates while training). Each
    /// quirk with its C++ file and line: `docs/trainer.md`, "What the thesis code does".
    pub fn apply_thesis_preset(&mut self) {
        self.arch = Arch::Mlp {
            hidden_layers: 1,
            units: 128,
        };
        self.seed = 1337;
        self.scale = Scale::Raw;
        self.init = InitKind::ThesisCode;
        self.init_std = 0.01;
        self.shuffle = Shuffle::ThesisCode;
        self.momentum = 0.0;
        self.eta = 0.005;
        self.eps_by = EpsBy::Minibatch;
        self.eval_every = 0.0;
        self.eval_points = 0;
    }

    /// The `nn` initialisation this configuration draws θ0 with.
    pub fn init(&self) -> Init {
        match self.init {
            InitKind::He => Init::He,
            InitKind::Glorot => Init::Glorot,
            InitKind::Normal => Init::Normal {
                std: self.init_std as f32,
            },
            InitKind::ThesisCode => Init::ThesisCode { std: self.init_std },
        }
    }

    /// A configuration from JSON (a report's `config`, or any subset of its fields), checked.
    pub fn from_json(v: serde_json::Value) -> Result<Config, crate::TrainError> {
        let c: Config =
            serde_json::from_value(v).map_err(|e| crate::TrainError::Invalid(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// This configuration with `over`'s fields (by `Config` field name, as JSON) laid over it,
    /// as serde reads them; not yet checked ([`Config::validate`]). Serde's messages do not say
    /// which field they are about, so an error names it: `` `field`: <serde's reason> ``. Both
    /// front ends (the binary's options, Python's keywords) make their configuration this way.
    pub fn overlay(
        &self,
        over: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Config, crate::TrainError> {
        let invalid = |e: &dyn std::fmt::Display| crate::TrainError::Invalid(e.to_string());
        let base = serde_json::to_value(self).map_err(|e| invalid(&e))?;
        let with = |keys: &mut dyn Iterator<Item = (&String, &serde_json::Value)>| {
            let mut v = base.clone();
            if let Some(o) = v.as_object_mut() {
                for (k, x) in keys {
                    o.insert(k.clone(), x.clone());
                }
            }
            serde_json::from_value::<Config>(v)
        };
        with(&mut over.iter()).map_err(|e| {
            for (k, x) in over {
                if let Err(e) = with(&mut std::iter::once((k, x))) {
                    return invalid(&format!("`{k}`: {e}"));
                }
            }
            invalid(&e)
        })
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
                momentum: self.mts_momentum.unwrap_or(0.0),
            },
            PolicyKind::MtsCmp => Policy::MindTheStepCmp {
                lambda_nu: None,
                c: 1.0,
            },
            PolicyKind::MtsPoisson => Policy::MindTheStepMomentum {
                lambda_nu: Some((self.threads as f64, 1.0)),
                k: self.mts_k.unwrap_or(0.0),
                printed: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Config;
    use serde_json::json;

    fn over(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn overlay_sets_the_fields_it_names_and_keeps_the_rest() {
        let base = Config::default();
        let c = base
            .overlay(&over(json!({"batch": 7, "eta": 0.25})))
            .unwrap();
        assert_eq!((c.batch, c.eta), (7, 0.25));
        assert_eq!(c.seed, base.seed);
    }

    #[test]
    fn overlay_names_the_field_serde_refuses() {
        let e = Config::default()
            .overlay(&over(json!({"eta": 0.1, "batch": "many"})))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("`batch`: "), "{e}");
    }
}
