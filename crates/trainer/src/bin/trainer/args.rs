//! The command line: every option with its help text, and the one conversion into a
//! [`trainer::Config`]. Options that describe the run are `ConfigArgs`, named as the `Config`
//! fields they set (`--eta-cap` sets `eta_cap`); they are serialised as a partial JSON object and
//! laid over the preset's configuration, which serde then checks field by field, so no field is
//! copied by hand.

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;
use trainer::{Algorithm, Config, EpsBy, ExecutorKind, InitKind, PolicyKind, SimTiming};

/// A value parser for any `FromStr` word of the library (`--algorithm`, `--policy`, …).
pub fn parse<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, String> {
    s.parse()
}

/// The library names fields in backticks (`` `eta_cap` ``); on the command line they are flags
/// (`--eta-cap`).
pub fn flagify(message: &str) -> String {
    let mut out = String::new();
    for (i, part) in message.split('`').enumerate() {
        let field = i % 2 == 1
            && !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if field {
            out.push_str("--");
            out.push_str(&part.replace('_', "-"));
        } else if i % 2 == 1 {
            out.push('`');
            out.push_str(part);
            out.push('`');
        } else {
            out.push_str(part);
        }
    }
    out
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// MNIST / Fashion-MNIST IDX files (plain or .gz).
    Idx,
    /// CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin).
    Cifar10,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum Preset {
    /// Our defaults: inputs in [0, 1], He initialisation, reshuffled epochs, η = 0.05, ε judged
    /// on an evaluation subset 40 times per run.
    Default,
    /// The thesis' C++ code with `-A MLP`: MLP 1×128, seed 1337, raw 0–255 pixels, weights and
    /// biases N(0, 0.01²) from its generator, its shuffle and epoch-aligned batches, plain SGD,
    /// η = 0.005, ε judged by the trailing mean of 10 mini-batch losses against the whole
    /// training set's initial loss, no periodic evaluation.
    Thesis,
}

/// Train a network with parallel SGD on real data and report what the thesis measures.
///
/// Examples:
///   trainer                                        # Leashed-SGD, 2 threads, MLP 3x128, bundled MNIST
///   trainer --algorithm hogwild --threads 4 --policy tail --json out/hog.json --plot out/hog
///   trainer --preset thesis --arch cnn --batch 512 --algorithm seq --eps 0.5 --stop-at-eps
///   trainer --data ~/fashion-mnist --arch lenet5 --max-seconds 60
///   trainer --elastic --threads 8 --algorithm hogwild --plot out/elastic    # ELAsyncSGD, M = 8
///   trainer --data ~/cifar-10-batches-bin --format cifar10 --arch cifar-cnn --batch 16
///   trainer stepsize show --policy tail --histogram staleness.json
///
/// Signals: SIGINT (Ctrl-C) or SIGTERM stops the run within one gradient and writes its report
/// (outcome `interrupted`, exit 130 / 143); a second signal exits at once.
#[derive(Parser, Debug)]
#[command(
    version,
    verbatim_doc_comment,
    args_conflicts_with_subcommands = true,
    allow_negative_numbers = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub train: TrainArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Step-size policies (the `stepsize` crate).
    Stepsize(Box<StepsizeArgs>),
    /// Staleness models (the `staleness` crate).
    Staleness(StalenessArgs),
}

/// What a training run reads and writes, and the run itself.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Settings bundle; explicit options override it.
    #[arg(long, value_enum, default_value = "default")]
    pub preset: Preset,
    /// Data directory (default: the repository's bundled MNIST).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Format of --data.
    #[arg(long, value_enum, default_value = "idx")]
    pub format: Format,
    /// Train on raw 0–255 pixels (same as --scale raw).
    #[arg(long)]
    pub raw_pixels: bool,
    /// Write the JSON report here (atomically; checked before training starts).
    #[arg(long, default_value = "out/trainer-report.json")]
    pub json: PathBuf,
    /// Also write PNG and SVG plots into this directory (checked before training starts).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Options that set `trainer::Config` fields of the same names. Unset ones keep the preset's
/// value; the defaults shown are `--preset default`'s.
#[derive(Args, Debug, Default, Serialize)]
pub struct ConfigArgs {
    /// Parallel SGD algorithm: seq, sync, async, hogwild, leashed [default: leashed].
    #[arg(long, value_parser = parse::<Algorithm>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    /// Who runs the workers: threads, simulated (alias sim; virtual time), mpi [default:
    /// threads].
    #[arg(long, value_parser = parse::<ExecutorKind>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executor: Option<ExecutorKind>,
    /// Workers m [default: 2; seq: 1]; with --elastic, the most workers M (alias --max-threads).
    #[arg(long, alias = "max-threads")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Architecture: mlp (3x128), mlp:LxU, cnn (Table B.2), lenet (no 84 layer), lenet5,
    /// cifar-cnn [default: mlp; thesis preset: mlp:1x128, the C++'s `-A MLP`].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Mini-batch size b [default: 64].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// Base step size η0 [default: 0.05; thesis preset: 0.005].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta: Option<f64>,
    /// Momentum μ (per worker); 0 = plain SGD [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// Step-size policy η(τ): constant, inverse, fleet, tail, tail_thesis, tail_code, mts_geom,
    /// mts_cmp (needs --eta-cap), mts_poisson [default: constant].
    #[arg(long, value_parser = parse::<PolicyKind>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyKind>,
    /// TAIL-τ amplitude A in [0, 1] [default: 1].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amplitude: Option<f64>,
    /// MindTheStep (mts_geom, required there): desired implicit momentum μ* in [0, 1) (A.11).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mts_momentum: Option<f64>,
    /// MindTheStep (mts_poisson, required there): momentum K (A.18), in units of η.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mts_k: Option<f64>,
    /// Rescale the policy so that E[η] = η0 over the observed staleness.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mean_preserving: bool,
    /// Cap η ≤ CAP·η0 [default: none].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_cap: Option<f64>,
    /// Drop updates with staleness above this [default: none].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop_above: Option<u64>,
    /// Leashed-SGD persistence bound T_p: a number or `inf` [default: inf].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistence: Option<String>,
    /// Passes over the training data, all workers together: the run's budget [default: 3].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<f64>,
    /// Wall-clock limit in seconds, a safety cap [default: none].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_seconds: Option<f64>,
    /// ε targets, fractions of the initial loss, comma-separated [default:
    /// 0.5,0.25,0.1,0.05,0.025].
    #[arg(long, value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eps: Option<Vec<f64>>,
    /// How ε is judged: eval (the evaluation subset) or minibatch (trailing mean of 10)
    /// [default: eval; thesis preset: minibatch].
    #[arg(long, value_parser = parse::<EpsBy>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eps_by: Option<EpsBy>,
    /// Stop when the smallest ε target is reached.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stop_at_eps: bool,
    /// Seed for initialisation and sampling (one worker replays bit for bit) [default: 1; thesis
    /// preset: 1337].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Initialisation: he, glorot, normal (N(0, --init-std²) for weights and biases, Alg. B.1),
    /// thesis_code (the same, drawn as the thesis' C++ draws it) [default: he; thesis preset:
    /// thesis_code].
    #[arg(long, value_parser = parse::<InitKind>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<InitKind>,
    /// Standard deviation of --init normal [default: 0.01].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_std: Option<f64>,
    /// Pixels: unit (x/255) or raw (0–255) [default: unit; thesis preset: raw].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<String>,
    /// Sample order: every_epoch, once, never, thesis_code (the C++'s shuffle, epoch-aligned
    /// batches) [default: every_epoch; thesis preset: thesis_code].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shuffle: Option<String>,
    /// Seconds between evaluations of a θ snapshot [default: 0, by progress: --eval-points].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<f64>,
    /// Evaluations spread evenly over the run's budget (0: only at start and end) [default: 40;
    /// thesis preset: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_points: Option<usize>,
    /// Training samples in the fixed evaluation subset [default: 10000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_subset: Option<usize>,
    /// Pin worker i to core i mod cores (alias --pin).
    #[arg(long, alias = "pin")]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pin_threads: bool,
    /// Largest staleness with its own histogram bucket and step-size entry [default: 256].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tau_max: Option<usize>,
    /// The run has diverged when its trailing loss passes this many times the initial loss
    /// [default: 10].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergence_factor: Option<f64>,
    /// ELAsyncSGD: --threads is the most workers M; the regulator (Alg. D.3–D.4) sets how many
    /// run.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub elastic: bool,
    /// ELAsyncSGD execution phase: I_P·m_E updates [default: 100].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elastic_ip: Option<u64>,
    /// ELAsyncSGD probe of one level m: D_P·m updates [default: 10].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elastic_dp: Option<u64>,
    /// ELAsyncSGD probing window ±W_P [default: 1].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elastic_wp: Option<usize>,
    /// ELAsyncSGD starting level [default: M/2].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elastic_initial: Option<usize>,
    /// Measure the asynchrony-induced noise ‖ξ‖ exactly (always on with --elastic).
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ain: bool,
    /// --executor simulated: where T_c, T_u come from: measured (timed on this host before the
    /// run), constant, lognormal, empirical [default: measured].
    #[arg(long, value_parser = parse::<SimTiming>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_timing: Option<SimTiming>,
    /// --executor simulated: mean gradient time T_c(1) in ms (constant, lognormal).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_tc_ms: Option<f64>,
    /// --executor simulated: mean update time T_u in µs (constant, lognormal).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_tu_us: Option<f64>,
    /// --executor simulated: mean read (copy) time T_r in µs of async and hogwild [default: as
    /// T_u].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_tr_us: Option<f64>,
    /// --executor simulated, lognormal: standard deviation of ln T [default: 0.25].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_spread: Option<f64>,
    /// --executor simulated, empirical: T_c samples in ms, comma-separated.
    #[arg(long, value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_tc_list_ms: Option<Vec<f64>>,
    /// --executor simulated, empirical: T_u samples in µs, comma-separated.
    #[arg(long, value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_tu_list_us: Option<Vec<f64>>,
    /// --executor simulated: contention κ, T_c(m) = T_c(1)·(1 + κ(m − 1)) [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_kappa: Option<f64>,
    /// --executor simulated, measured: timed calls of each kind before the run [default: 10].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_calibration: Option<usize>,
}

impl ConfigArgs {
    /// `base` with these options laid over it, checked.
    pub fn apply(&self, mut base: Config) -> Result<Config, String> {
        if self.threads.is_none() && self.algorithm == Some(Algorithm::Seq) {
            base.threads = 1;
        }
        let over = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let over = over.as_object().cloned().unwrap_or_default();
        // JSON has no NaN: a given NaN reads as null, which an optional field would take as unset.
        if let Some((k, _)) = over.iter().find(|(_, x)| x.is_null()) {
            return Err(format!("`{k}` must be a finite number"));
        }
        base.overlay(&over).map_err(|e| e.to_string())
    }
}

/// The run these options describe: the preset's configuration, then the options over it.
pub fn build_config(a: &TrainArgs) -> Result<Config, String> {
    let mut c = Config::default();
    if a.preset == Preset::Thesis {
        c.apply_thesis_preset();
    }
    if a.raw_pixels {
        c.scale = nn::Scale::Raw;
    }
    a.config.apply(c)
}

#[derive(Args, Debug)]
pub struct StepsizeArgs {
    #[command(subcommand)]
    pub cmd: StepsizeCmd,
}

#[derive(Subcommand, Debug)]
pub enum StepsizeCmd {
    /// Print η(τ)/η0 for τ = 0..τ_max and E[η]/η0 over a histogram, as JSON. The policy is built
    /// from the same options, by the same code, as a training run's; --tau-max defaults to the
    /// histogram's support (16 without one) and is at most 100000.
    #[command(allow_negative_numbers = true)]
    Show {
        /// `{"counts": [...]}` or a trainer JSON report (instance-based policies need one).
        #[arg(long)]
        histogram: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Args, Debug)]
pub struct StalenessArgs {
    #[command(subcommand)]
    pub cmd: StalenessCmd,
}

#[derive(Subcommand, Debug)]
pub enum StalenessCmd {
    /// Fit the Geometric, Uniform, Poisson and CMP models to a histogram (`{"counts": [...]}` or
    /// a trainer report): by Bhattacharyya distance, by likelihood, and CMP under A.13. Prints a
    /// table on a terminal, JSON otherwise (or with --json).
    Fit {
        /// The histogram file.
        file: PathBuf,
        /// Workers m for the A.13 search λ^{1/ν} = m (default: the histogram's mode + 1).
        #[arg(long)]
        threads: Option<f64>,
        /// Print JSON even on a terminal.
        #[arg(long)]
        json: bool,
    },
}
