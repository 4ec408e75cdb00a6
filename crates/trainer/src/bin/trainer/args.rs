//! The command line: every option, its help text, and the one conversion into a
//! [`trainer::Config`] (presets first, explicit options over them).

use clap::{Args, Parser, Subcommand, ValueEnum};
use nn::{Arch, Init, Scale, Shuffle};
use pvec::Persistence;
use std::path::PathBuf;
use trainer::{Algorithm, Config, EpsBy, PolicyKind};

/// A value parser for any `FromStr` word of the library (`--algorithm`, `--policy`, `--eps-by`).
pub fn parse<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, String> {
    s.parse()
}

/// The library names fields in backticks (`` `eta_cap` ``); on the command line they are flags
/// (`--eta-cap`).
pub fn flagify(message: &str) -> String {
    let mut out = String::new();
    let mut parts = message.split('`');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let rest: Vec<&str> = parts.collect();
    for (i, p) in rest.iter().enumerate() {
        let field = i % 2 == 0 && i + 1 < rest.len();
        if field
            && !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            out.push_str("--");
            out.push_str(&p.replace('_', "-"));
        } else if field {
            out.push('`');
            out.push_str(p);
            out.push('`');
        } else {
            out.push_str(p);
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
    /// The thesis' code: raw 0–255 pixels, weights and biases N(0, 0.01²), one shuffle then
    /// batches in order, plain SGD, η = 0.005, ε judged by the trailing mean of 10 mini-batch
    /// losses against the whole training set's initial loss, no periodic evaluation.
    Thesis,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum InitArg {
    He,
    Glorot,
    /// N(0, 0.01²) for weights and biases (Alg. B.1).
    Normal,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ShuffleArg {
    EveryEpoch,
    Once,
    Never,
}

/// Train a network with parallel SGD on real data and report what the thesis measures.
///
/// Examples:
///   trainer                                        # Leashed-SGD, 2 threads, MLP 3x128, bundled MNIST
///   trainer --algorithm hogwild --threads 4 --policy tail --json out/hog.json --plot out/hog
///   trainer --preset thesis --arch cnn --batch 512 --algorithm seq --threads 1 --eps 0.5 --stop-at-eps
///   trainer --data ~/fashion-mnist --arch lenet5 --max-seconds 60
///   trainer --elastic --threads 8 --algorithm hogwild --plot out/elastic    # ELAsyncSGD, M = 8
///   trainer --data ~/cifar-10-batches-bin --format cifar10 --arch cifar-cnn --batch 16
///   trainer stepsize show --policy tail --histogram staleness.json
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
    Stepsize(trainer_cli::StepsizeArgs),
    /// Staleness models (the `staleness` crate).
    Staleness(trainer_cli::StalenessArgs),
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Settings bundle; explicit options override it.
    #[arg(long, value_enum, default_value = "default")]
    pub preset: Preset,
    /// Parallel SGD algorithm: seq, sync, async, hogwild, leashed.
    #[arg(long, default_value = "leashed", value_parser = parse::<Algorithm>)]
    pub algorithm: Algorithm,
    /// Worker threads m (seq: 1); with --elastic, the most workers M (alias --max-threads).
    #[arg(long, alias = "max-threads")]
    pub threads: Option<usize>,
    /// Architecture: mlp (3x128), mlp:LxU, cnn (Table B.2), lenet (no 84 layer), lenet5, cifar-cnn.
    #[arg(long, default_value = "mlp")]
    pub arch: Arch,
    /// Data directory (default: the repository's bundled MNIST).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Format of --data.
    #[arg(long, value_enum, default_value = "idx")]
    pub format: Format,
    /// Mini-batch size b.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Base step size η0.
    #[arg(long)]
    pub eta: Option<f64>,
    /// Momentum μ (per worker); 0 = plain SGD.
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Step-size policy η(τ): constant, inverse, fleet, tail, tail-thesis, tail-code, mts-geom,
    /// mts-cmp, mts-poisson.
    #[arg(long, default_value = "constant", value_parser = parse::<PolicyKind>)]
    pub policy: PolicyKind,
    /// TAIL-τ amplitude A in [0, 1].
    #[arg(long, default_value_t = 1.0)]
    pub amplitude: f64,
    /// MindTheStep (mts-geom): desired implicit momentum μ* (A.11).
    #[arg(long, default_value_t = 0.0)]
    pub mts_momentum: f64,
    /// MindTheStep (mts-poisson): momentum K (A.18).
    #[arg(long, default_value_t = 1.0)]
    pub mts_k: f64,
    /// Rescale the policy so that E[η] = η0 over the observed staleness.
    #[arg(long)]
    pub mean_preserving: bool,
    /// Cap η ≤ CAP·η0.
    #[arg(long)]
    pub eta_cap: Option<f64>,
    /// Drop updates with staleness above this.
    #[arg(long)]
    pub drop_above: Option<u64>,
    /// Leashed-SGD persistence bound T_p: a number or `inf`.
    #[arg(long, default_value = "inf")]
    pub persistence: Persistence,
    /// Passes over the training data (all workers together).
    #[arg(long)]
    pub epochs: Option<f64>,
    /// Wall-clock limit in seconds.
    #[arg(long)]
    pub max_seconds: Option<f64>,
    /// ε targets, fractions of the initial loss (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub eps: Option<Vec<f64>>,
    /// How ε-convergence is judged: eval (the evaluation subset) or minibatch (trailing 10).
    #[arg(long, value_parser = parse::<EpsBy>)]
    pub eps_by: Option<EpsBy>,
    /// Stop when the smallest ε target is reached.
    #[arg(long)]
    pub stop_at_eps: bool,
    /// Seed for initialisation and sampling (one thread replays bit for bit).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Initialisation.
    #[arg(long, value_enum)]
    pub init: Option<InitArg>,
    /// Train on raw 0–255 pixels.
    #[arg(long)]
    pub raw_pixels: bool,
    /// Sample order.
    #[arg(long, value_enum)]
    pub shuffle: Option<ShuffleArg>,
    /// Seconds between evaluations of a θ snapshot (default: by progress, see --eval-points).
    #[arg(long)]
    pub eval_every: Option<f64>,
    /// Evaluations spread evenly over the run's updates (0: only at start and end).
    #[arg(long)]
    pub eval_points: Option<usize>,
    /// Training samples in the fixed evaluation subset.
    #[arg(long, default_value_t = 10_000)]
    pub eval_subset: usize,
    /// Pin worker i to core i mod cores.
    #[arg(long)]
    pub pin: bool,
    /// ELAsyncSGD: --threads is the most workers M; the regulator (Alg. D.3–D.4) sets how many run.
    #[arg(long)]
    pub elastic: bool,
    /// ELAsyncSGD execution phase: I_P·m_E updates.
    #[arg(long, default_value_t = 100)]
    pub elastic_ip: u64,
    /// ELAsyncSGD probe of one level m: D_P·m updates.
    #[arg(long, default_value_t = 10)]
    pub elastic_dp: u64,
    /// ELAsyncSGD probing window ±W_P.
    #[arg(long, default_value_t = 1)]
    pub elastic_wp: usize,
    /// ELAsyncSGD starting level (default M/2).
    #[arg(long)]
    pub elastic_initial: Option<usize>,
    /// Measure the asynchrony-induced noise ‖ξ‖ exactly (always on with --elastic).
    #[arg(long)]
    pub ain: bool,
    /// Write the JSON report here (atomically).
    #[arg(long, default_value = "out/trainer-report.json")]
    pub json: PathBuf,
    /// Also write PNG and SVG plots into this directory.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
}

pub mod trainer_cli {
    //! `trainer stepsize show`.
    use clap::Args;
    use std::path::PathBuf;

    #[derive(Args, Debug)]
    pub struct StepsizeArgs {
        #[command(subcommand)]
        pub cmd: StepsizeCmd,
    }

    #[derive(Args, Debug)]
    pub struct StalenessArgs {
        #[command(subcommand)]
        pub cmd: StalenessCmd,
    }

    #[derive(clap::Subcommand, Debug)]
    pub enum StalenessCmd {
        /// Fit the Geometric, Uniform, Poisson and CMP models to a histogram (`{"counts": [...]}`
        /// or a trainer report): by Bhattacharyya distance, by likelihood, and CMP under A.13.
        /// Prints a table on a terminal, JSON otherwise (or with --json).
        Fit {
            file: PathBuf,
            /// Workers m for the A.13 search λ^{1/ν} = m (default: the histogram's mode + 1).
            #[arg(long)]
            threads: Option<f64>,
            /// Print JSON even on a terminal.
            #[arg(long)]
            json: bool,
        },
    }

    #[derive(clap::Subcommand, Debug)]
    pub enum StepsizeCmd {
        /// Print η(τ)/η0 for τ = 0..τ_max and E[η]/η0 over a histogram, as JSON.
        Show {
            #[arg(long, default_value = "tail", value_parser = super::parse::<trainer::PolicyKind>)]
            policy: trainer::PolicyKind,
            #[arg(long, default_value_t = 1.0)]
            amplitude: f64,
            /// Threads m (FLeet's β uses τ_th = m + 1).
            #[arg(long, default_value_t = 2)]
            threads: usize,
            /// `{"counts": [...]}` or a trainer JSON report.
            #[arg(long)]
            histogram: Option<PathBuf>,
            #[arg(long)]
            mean_preserving: bool,
            #[arg(long, default_value_t = 16)]
            tau_max: usize,
        },
    }
}

/// The run these options describe.
pub fn build_config(a: &TrainArgs) -> Config {
    let mut c = Config::default();
    if a.preset == Preset::Thesis {
        c.apply_thesis_preset();
    }
    c.algorithm = a.algorithm;
    c.threads = a.threads.unwrap_or(if a.algorithm == Algorithm::Seq {
        1
    } else {
        c.threads
    });
    c.arch = a.arch;
    if let Some(v) = a.batch {
        c.batch = v;
    }
    if let Some(v) = a.eta {
        c.eta = v;
    }
    if let Some(v) = a.momentum {
        c.momentum = v;
    }
    c.policy = a.policy;
    c.amplitude = a.amplitude;
    c.mts_momentum = a.mts_momentum;
    c.mts_k = a.mts_k;
    c.mean_preserving = a.mean_preserving;
    c.eta_cap = a.eta_cap;
    c.drop_above = a.drop_above;
    c.persistence = a.persistence;
    if let Some(v) = a.epochs {
        c.epochs = v;
    }
    c.max_seconds = a.max_seconds;
    if let Some(v) = &a.eps {
        c.eps = v.clone();
    }
    if let Some(v) = a.eps_by {
        c.eps_by = v;
    }
    c.stop_at_eps = a.stop_at_eps;
    c.seed = a.seed;
    if let Some(i) = a.init {
        c.init = match i {
            InitArg::He => Init::He,
            InitArg::Glorot => Init::Glorot,
            InitArg::Normal => Init::THESIS,
        };
    }
    if a.raw_pixels {
        c.scale = Scale::Raw;
    }
    if let Some(s) = a.shuffle {
        c.shuffle = match s {
            ShuffleArg::EveryEpoch => Shuffle::EveryEpoch,
            ShuffleArg::Once => Shuffle::Once,
            ShuffleArg::Never => Shuffle::Never,
        };
    }
    if let Some(v) = a.eval_every {
        c.eval_every = v;
    }
    if let Some(v) = a.eval_points {
        c.eval_points = v;
    }
    c.eval_subset = a.eval_subset;
    c.pin_threads = a.pin;
    c.elastic = a.elastic;
    c.elastic_ip = a.elastic_ip;
    c.elastic_dp = a.elastic_dp;
    c.elastic_wp = a.elastic_wp;
    c.elastic_initial = a.elastic_initial;
    c.ain = a.ain;
    c
}
