//! The run report: everything the thesis measures, serialised as JSON (schema
//! [`SCHEMA`], documented in `docs/trainer.md`) and written atomically.

use crate::config::Config;
use serde::{Deserialize, Serialize};
use std::path::Path;

mod assemble;
mod machine;
mod mpi;
mod simulation;

pub use machine::Machine;
pub use mpi::{MpiReport, RankReport, ServerCost};
pub use simulation::{DistributionReport, SimulationReport, TimingReport};

/// Version tag of the JSON layout; bump on incompatible changes.
pub const SCHEMA: &str = "asgd-trainer-report/2";

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Spent its budget and reached the loosest ε target.
    Completed,
    /// Stopped early because the smallest ε target was reached (`stop_at_eps`).
    Converged,
    /// Spent its budget (epochs, or the time limit) without reaching the loosest ε target.
    NotConverged,
    /// The loss became non-finite, or the trailing mini-batch loss rose past
    /// `divergence_factor` × the initial loss: stopped at once (`failure` says which).
    Diverged,
    /// Stopped by a signal (SIGINT, SIGTERM) or by its caller.
    Interrupted,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Converged => "converged",
            Outcome::NotConverged => "not_converged",
            Outcome::Diverged => "diverged",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// What ended the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The data budget (`epochs`) was used up.
    Budget,
    /// The wall-clock limit (`max_seconds`).
    TimeLimit,
    /// The smallest ε target (`stop_at_eps`).
    Eps,
    /// Divergence (see [`Outcome::Diverged`]).
    Divergence,
    /// A signal or the caller.
    Interrupt,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub arch: String,
    pub params: usize,
    pub forward_flops_per_sample: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub source: String,
    pub train: usize,
    pub test: usize,
    pub eval_subset: usize,
}

/// The first time the loss reached `fraction` × initial loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpsTime {
    pub fraction: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub threshold: f64,
    pub seconds: Option<f64>,
    pub updates: Option<u64>,
}

/// One periodic evaluation (on a snapshot of θ, while the workers keep running).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalPoint {
    pub seconds: f64,
    pub updates: u64,
    pub epochs: f64,
    /// Mean cross-entropy on the fixed evaluation subset of the training set.
    #[serde(deserialize_with = "nan_if_null")]
    pub train_loss: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub test_loss: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub test_accuracy: f64,
}

/// A mini-batch loss observation (every update's loss is seen; the series is thinned).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MinibatchPoint {
    pub seconds: f64,
    pub updates: u64,
    /// Mean of the last 10 mini-batch losses.
    #[serde(deserialize_with = "nan_if_null")]
    pub trailing_loss: f64,
}

/// A histogram of small integers (staleness, publish attempts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistogramReport {
    /// `counts[k]` observations of value k.
    pub counts: Vec<u64>,
    /// Observations above the last bucket.
    pub overflow: u64,
    pub total: u64,
    #[serde(deserialize_with = "nan_if_null")]
    pub mean: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub variance: f64,
    pub p50: usize,
    pub p90: usize,
    pub p99: usize,
}

impl HistogramReport {
    pub fn from_counts(c: &staleness::Counts) -> Self {
        // Trim trailing empty buckets for readability.
        let used = c.counts().iter().rposition(|&x| x > 0).map_or(1, |i| i + 1);
        HistogramReport {
            counts: c.counts()[..used].to_vec(),
            overflow: c.overflow(),
            total: c.total(),
            mean: c.mean(),
            variance: c.variance(),
            p50: c.quantile(0.5),
            p90: c.quantile(0.9),
            p99: c.quantile(0.99),
        }
    }
}

/// Summary of a sampled duration distribution.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DurationSummary {
    pub samples: usize,
    #[serde(deserialize_with = "nan_if_null")]
    pub mean: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub p10: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub p50: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub p90: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub p99: f64,
}

impl DurationSummary {
    pub fn from_samples(mut v: Vec<f64>) -> Self {
        if v.is_empty() {
            return DurationSummary::default();
        }
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        DurationSummary {
            samples: v.len(),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            p10: q(0.1),
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
        }
    }
}

/// One staleness model fitted to a histogram (`staleness::Fit`, in serialisable form).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelFit {
    pub family: String,
    pub params: std::collections::BTreeMap<String, f64>,
    pub method: String,
    #[serde(deserialize_with = "nan_if_null")]
    pub bhattacharyya: f64,
    /// Serialised as `null` when −∞ (an observed τ has zero probability under the model).
    #[serde(deserialize_with = "neg_inf_if_null")]
    pub log_likelihood: f64,
    /// Parameters that ended on a search bound (`"nu"`, …): not a fit, a bound.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_bound: Vec<String>,
    /// The model's pmf on τ = 0..=len−1 of the observed histogram (for plots).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pmf: Vec<f64>,
}

impl ModelFit {
    pub fn from_fit(f: &staleness::Fit, len: usize) -> Self {
        let method = match f.method {
            staleness::Method::Bhattacharyya => "bhattacharyya".to_string(),
            staleness::Method::MaximumLikelihood => "maximum_likelihood".to_string(),
            staleness::Method::CmpA13 { .. } => "cmp_a13".to_string(),
        };
        ModelFit {
            family: f.model.family().name().to_string(),
            params: f
                .model
                .params()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            at_bound: f.at_bound.iter().map(|b| b.param.to_string()).collect(),
            method,
            bhattacharyya: f.bhattacharyya,
            log_likelihood: f.log_likelihood,
            pmf: f
                .model
                .ln_pmf_range(len.saturating_sub(1) as u64)
                .iter()
                .map(|l| l.exp())
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateCounts {
    /// Update calls made (applied + dropped + not published).
    pub total: u64,
    pub applied: u64,
    /// Dropped by the step-size policy (τ above `--drop-above`).
    pub dropped: u64,
    /// Not published because the persistence bound ran out (Leashed with finite T_p).
    pub not_published: u64,
    pub per_second: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepSizeReport {
    /// The policy's word (as `config.policy`).
    pub policy: String,
    /// Its parameters as run: numbers (fitted ones fitted to the final histogram) and words
    /// (`form`, `phi`).
    pub params: serde_json::Map<String, serde_json::Value>,
    pub eta0: f64,
    /// η(τ)/η0 at the end of the run, τ = 0..len.
    pub factors: Vec<f64>,
    /// E[η]/η0 over the run's staleness histogram.
    #[serde(deserialize_with = "nan_if_null")]
    pub mean_factor: f64,
    /// The thesis code's TAIL-τ samples its histogram once: the update counts it sampled
    /// between and how many updates the sample held (`tail_code` runs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<SampleWindow>,
}

/// The update window a step-size table was sampled from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleWindow {
    pub from: u64,
    pub to: u64,
    pub updates: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// Most parameter vectors alive at once (shared state + per-worker copies / arena slots).
    pub peak_live_vectors: usize,
    pub vector_bytes: usize,
    /// Peak resident set size of the process (VmHWM), if the OS reports it.
    pub peak_rss_bytes: Option<u64>,
}

/// ELAsyncSGD: the parallelism trajectory and worker-seconds (D.10).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElasticReport {
    pub max_threads: usize,
    /// Every change of the level m_E, from the start.
    pub trajectory: Vec<LevelChange>,
    /// R^E at the end of the run (worker-seconds).
    pub worker_seconds: f64,
    /// Mean m_E over the run: R^E / duration.
    pub mean_threads: f64,
}

/// From `seconds` on, `threads` workers run (m_E).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelChange {
    pub seconds: f64,
    pub threads: usize,
}

/// One measured ‖ξ‖ at `seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoisePoint {
    pub seconds: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub norm: f64,
}

/// How long the workers waited to hand their events to the coordinator (the measurement's own
/// cost to the run it measures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HandoffReport {
    /// Seconds, all workers together.
    pub blocked_seconds: f64,
    /// Seconds the workers ran, all together.
    pub worker_seconds: f64,
    /// `blocked_seconds / worker_seconds`.
    pub blocked_fraction: f64,
}

/// The asynchrony-induced noise ‖ξ‖ (Def. D.4.2), measured for every state whose first viewer
/// submitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AinReport {
    pub measured: u64,
    #[serde(deserialize_with = "nan_if_null")]
    pub mean_norm: f64,
    /// Mean ‖ξ‖ without η, ‖δ_i − δ_{i−τ}‖ as Alg. D.4 computes it (the "Avg ξ" of Table D.2).
    #[serde(default = "nan", deserialize_with = "nan_if_null")]
    pub mean_distance: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub max_norm: f64,
    /// Most gradients retained by the tracker at once (about one per active worker, more when a
    /// worker is descheduled between publishing and its next read).
    pub peak_retained: usize,
    /// ‖ξ‖ over time, thinned to ~2000 points.
    pub series: Vec<NoisePoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalEval {
    #[serde(deserialize_with = "nan_if_null")]
    pub train_loss: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub test_loss: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub test_accuracy: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: String,
    pub command: Vec<String>,
    pub config: Config,
    pub machine: Machine,
    pub network: NetworkInfo,
    pub data: DataInfo,
    /// L(θ0) on the basis ε is judged on (evaluation subset, or the whole training set for
    /// `eps_by = minibatch`).
    #[serde(deserialize_with = "nan_if_null")]
    pub initial_loss: f64,
    pub outcome: Outcome,
    pub stopped_by: StopReason,
    /// Why the run diverged (a non-finite loss, or the loss past its bound).
    pub failure: Option<String>,
    /// Who ran the workers: `threads`, `simulated` (then `seconds` are virtual; see
    /// `simulation`) or `mpi`.
    pub executor: String,
    pub eps: Vec<EpsTime>,
    /// Training time from time zero (every worker released) to the last worker's end.
    pub seconds: f64,
    pub epochs: f64,
    pub updates: UpdateCounts,
    pub series: Vec<EvalPoint>,
    pub minibatch_series: Vec<MinibatchPoint>,
    pub staleness: HistogramReport,
    /// The four staleness models of Table A.1 fitted by minimum Bhattacharyya distance, best
    /// first (empty if no update was applied).
    pub staleness_fits: Vec<ModelFit>,
    pub attempts: HistogramReport,
    /// Gradient computation time T_c, milliseconds (sampled).
    pub tc_ms: DurationSummary,
    /// Update time T_u (including Leashed's retries), microseconds (sampled).
    pub tu_us: DurationSummary,
    pub handoff: HandoffReport,
    pub step_size: StepSizeReport,
    pub memory: Memory,
    #[serde(rename = "final")]
    pub final_eval: FinalEval,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elastic: Option<ElasticReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ain: Option<AinReport>,
    /// The simulated executor's clocks and model (`executor: "simulated"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<SimulationReport>,
    /// The MPI executor's ranks, messages and server cost (`executor = "mpi"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpi: Option<MpiReport>,
}

/// JSON has no NaN or ±∞ (serde_json writes them as `null`): read `null` back as NaN.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn nan() -> f64 {
    f64::NAN
}

/// A log-likelihood written as `null` was −∞.
fn neg_inf_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NEG_INFINITY))
}

/// Write `value` as pretty JSON to `path` atomically: a temporary file in the same directory,
/// then a rename, so a reader never sees a half-written report.
pub fn write_json_atomic(path: &Path, value: &impl Serialize) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the report path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text + "\n")?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Check before a run that `path` can be written atomically: its directory is created, and a
/// probe file is written there and removed.
pub fn probe_writable(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::other("is a directory"));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    probe_dir(dir)
}

/// Create `dir` if missing and check a file can be written in it.
pub fn probe_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".probe.tmp{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

/// Peak resident set size (Linux `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = l.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
