//! `trainer`: parallel SGD on real data. The binary parses options and calls the `trainer`
//! library; see `trainer --help`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use nn::{data, Arch, Init, Scale, Shuffle};
use pvec::Persistence;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use trainer::report::{write_json_atomic, EvalPoint, Report};
use trainer::{Algorithm, Config, EpsBy, Job, Observer, Outcome, PolicyKind, Progress};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// MNIST / Fashion-MNIST IDX files (plain or .gz).
    Idx,
    /// CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin).
    Cifar10,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Preset {
    /// Our defaults: inputs in [0, 1], He initialisation, reshuffled epochs, η = 0.05, ε judged
    /// on an evaluation subset 40 times per run.
    Default,
    /// The thesis' code: raw 0–255 pixels, weights and biases N(0, 0.01²), one shuffle then
    /// batches in order, plain SGD, η = 0.005, ε judged by the trailing mean of 10 mini-batch
    /// losses against the whole training set's initial loss, no periodic evaluation.
    Thesis,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum InitArg {
    He,
    Glorot,
    /// N(0, 0.01²) for weights and biases (Alg. B.1).
    Normal,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ShuffleArg {
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
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    train: TrainArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Step-size policies (the `stepsize` crate).
    Stepsize(trainer_cli::StepsizeArgs),
    /// Staleness models (the `staleness` crate).
    Staleness(trainer_cli::StalenessArgs),
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// Settings bundle; explicit options override it.
    #[arg(long, value_enum, default_value = "default")]
    preset: Preset,
    /// Parallel SGD algorithm.
    #[arg(long, value_enum, default_value = "leashed")]
    algorithm: Algorithm,
    /// Worker threads m (seq: 1); with --elastic, the most workers M (alias --max-threads).
    #[arg(long, alias = "max-threads")]
    threads: Option<usize>,
    /// Architecture: mlp (3x128), mlp:LxU, cnn (Table B.2), lenet (no 84 layer), lenet5, cifar-cnn.
    #[arg(long, default_value = "mlp")]
    arch: Arch,
    /// Data directory (default: the repository's bundled MNIST).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Format of --data.
    #[arg(long, value_enum, default_value = "idx")]
    format: Format,
    /// Mini-batch size b.
    #[arg(long)]
    batch: Option<usize>,
    /// Base step size η0.
    #[arg(long)]
    eta: Option<f64>,
    /// Momentum μ (per worker); 0 = plain SGD.
    #[arg(long)]
    momentum: Option<f64>,
    /// Step-size policy η(τ).
    #[arg(long, value_enum, default_value = "constant")]
    policy: PolicyKind,
    /// TAIL-τ amplitude A in [0, 1].
    #[arg(long, default_value_t = 1.0)]
    amplitude: f64,
    /// MindTheStep (mts-geom): desired implicit momentum μ* (A.11).
    #[arg(long, default_value_t = 0.0)]
    mts_momentum: f64,
    /// MindTheStep (mts-poisson): momentum K (A.18).
    #[arg(long, default_value_t = 1.0)]
    mts_k: f64,
    /// Rescale the policy so that E[η] = η0 over the observed staleness.
    #[arg(long)]
    mean_preserving: bool,
    /// Cap η ≤ CAP·η0.
    #[arg(long)]
    eta_cap: Option<f64>,
    /// Drop updates with staleness above this.
    #[arg(long)]
    drop_above: Option<u64>,
    /// Leashed-SGD persistence bound T_p: a number or `inf`.
    #[arg(long, default_value = "inf")]
    persistence: Persistence,
    /// Passes over the training data (all workers together).
    #[arg(long)]
    epochs: Option<f64>,
    /// Wall-clock limit in seconds.
    #[arg(long)]
    max_seconds: Option<f64>,
    /// ε targets, fractions of the initial loss (comma-separated).
    #[arg(long, value_delimiter = ',')]
    eps: Option<Vec<f64>>,
    /// How ε-convergence is judged.
    #[arg(long, value_enum)]
    eps_by: Option<EpsBy>,
    /// Stop when the smallest ε target is reached.
    #[arg(long)]
    stop_at_eps: bool,
    /// Seed for initialisation and sampling (one thread replays bit for bit).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Initialisation.
    #[arg(long, value_enum)]
    init: Option<InitArg>,
    /// Train on raw 0–255 pixels.
    #[arg(long)]
    raw_pixels: bool,
    /// Sample order.
    #[arg(long, value_enum)]
    shuffle: Option<ShuffleArg>,
    /// Seconds between evaluations of a θ snapshot (default: by progress, see --eval-points).
    #[arg(long)]
    eval_every: Option<f64>,
    /// Evaluations spread evenly over the run's updates (0: only at start and end).
    #[arg(long)]
    eval_points: Option<usize>,
    /// Training samples in the fixed evaluation subset.
    #[arg(long, default_value_t = 10_000)]
    eval_subset: usize,
    /// Pin worker i to core i mod cores.
    #[arg(long)]
    pin: bool,
    /// ELAsyncSGD: --threads is the most workers M; the regulator (Alg. D.3–D.4) sets how many run.
    #[arg(long)]
    elastic: bool,
    /// ELAsyncSGD execution phase: I_P·m_E updates.
    #[arg(long, default_value_t = 100)]
    elastic_ip: u64,
    /// ELAsyncSGD probe of one level m: D_P·m updates.
    #[arg(long, default_value_t = 10)]
    elastic_dp: u64,
    /// ELAsyncSGD probing window ±W_P.
    #[arg(long, default_value_t = 1)]
    elastic_wp: usize,
    /// ELAsyncSGD starting level (default M/2).
    #[arg(long)]
    elastic_initial: Option<usize>,
    /// Measure the asynchrony-induced noise ‖ξ‖ exactly (always on with --elastic).
    #[arg(long)]
    ain: bool,
    /// Write the JSON report here (atomically).
    #[arg(long, default_value = "out/trainer-report.json")]
    json: PathBuf,
    /// Also write PNG and SVG plots into this directory.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
}

mod trainer_cli {
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
            #[arg(long, value_enum, default_value = "tail")]
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

/// `println!` that survives a closed pipe (`trainer staleness fit r.json | head`): stdout errors
/// are reported once on stderr, a broken pipe silently ends the output; never a panic.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($t)*) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("trainer: cannot write to stdout: {e}");
            }
        }
    }};
}

fn build_config(a: &TrainArgs) -> Config {
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

/// Progress: one bar for all workers on a terminal, plain lines otherwise.
struct Display {
    bar: Option<ProgressBar>,
    plain: bool,
    last_line: f64,
}

impl Observer for Display {
    fn progress(&mut self, p: &Progress) {
        if let Some(bar) = &self.bar {
            bar.set_position((p.epochs / p.total_epochs * 1000.0) as u64);
            bar.set_message(format!(
                "epoch {:.2}/{} · {} updates · {:.0} upd/s · loss {:.4}",
                p.epochs, p.total_epochs, p.updates, p.updates_per_second, p.trailing_loss
            ));
        } else if self.plain && p.seconds - self.last_line >= 5.0 {
            eprintln!(
                "[{:7.1}s] epoch {:.2}/{}  updates {}  {:.0} upd/s  mini-batch loss {:.4}",
                p.seconds,
                p.epochs,
                p.total_epochs,
                p.updates,
                p.updates_per_second,
                p.trailing_loss
            );
            self.last_line = p.seconds;
        }
    }

    fn evaluated(&mut self, e: &EvalPoint) {
        let line = format!("[{:7.1}s] eval: train-subset loss {:.4}  test loss {:.4}  test accuracy {:.2}%  ({} updates)", e.seconds, e.train_loss, e.test_loss, 100.0 * e.test_accuracy, e.updates);
        match &self.bar {
            Some(bar) => bar.println(line),
            None if self.plain => eprintln!("{line}"),
            None => {}
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Stepsize(s)) => stepsize_cmd(s),
        Some(Command::Staleness(s)) => staleness_cmd(s),
        None => train_cmd(&cli.train),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("trainer: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn train_cmd(a: &TrainArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let config = build_config(a);
    config.validate()?;
    if a.json.is_dir() {
        return Err(format!("--json {} is a directory", a.json.display()).into());
    }
    let dir = a.data.clone().unwrap_or_else(data::bundled_mnist_dir);
    let (train, test) = match a.format {
        Format::Idx => data::load_mnist(&dir, config.scale)?,
        Format::Cifar10 => data::load_cifar10(&dir, config.scale)?,
    };
    let net = config.arch.build(train.shape, train.classes)?;
    trainer::check_compatible(&net, &train, config.batch)?;
    // Create the output directory now, so a bad path fails before training, not after.
    if let Some(parent) = a.json.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    static INTERRUPT: AtomicBool = AtomicBool::new(false);
    ctrlc::set_handler(|| INTERRUPT.store(true, Ordering::Relaxed))
        .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;
    let terminal = std::io::stderr().is_terminal();
    if !a.quiet {
        eprintln!(
            "trainer: {} with m = {}, {} (d = {}), b = {}, η0 = {}, policy {:?}, {} epochs on {} ({} train / {} test)",
            config.algorithm,
            config.threads,
            config.arch,
            net.num_params(),
            config.batch,
            config.eta,
            config.policy,
            config.epochs,
            dir.display(),
            train.len(),
            test.len()
        );
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        if config.threads > cores {
            eprintln!(
                "trainer: note: {} threads on {cores} cores: the run is oversubscribed",
                config.threads
            );
        }
    }
    let bar = (terminal && !a.quiet).then(|| {
        let b = ProgressBar::new(1000);
        b.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        b
    });
    let mut display = Display {
        bar,
        plain: !terminal && !a.quiet,
        last_line: 0.0,
    };
    let job = Job {
        config: &config,
        net: &net,
        train: &train,
        test: &test,
        source: dir.display().to_string(),
        command: std::env::args().collect(),
        interrupt: &INTERRUPT,
    };
    let theta0 = net.init_params(config.init, config.seed);
    let report = trainer::train(&job, theta0, &mut display)?;
    if let Some(bar) = &display.bar {
        bar.finish_and_clear();
    }
    write_json_atomic(&a.json, &report)
        .map_err(|e| format!("cannot write {}: {e}", a.json.display()))?;
    let plots = match &a.plot {
        Some(d) => trainer::plot::write_all(&report, d)
            .map_err(|e| format!("cannot write plots into {}: {e}", d.display()))?,
        None => Vec::new(),
    };
    print_summary(&report, &a.json, &plots);
    Ok(match report.outcome {
        Outcome::Completed | Outcome::Converged | Outcome::Diverged => ExitCode::SUCCESS,
        Outcome::Crashed => ExitCode::from(1),
        Outcome::Interrupted => ExitCode::from(130),
    })
}

fn print_summary(r: &Report, json: &std::path::Path, plots: &[PathBuf]) {
    let f = &r.final_eval;
    out!(
        "outcome          {:?}{}",
        r.outcome,
        r.crash
            .as_ref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default()
    );
    out!("run              {} m={} {} b={} η0={} · {:.2} epochs · {} updates ({} applied) in {:.2}s · {:.0} updates/s", r.config.algorithm, r.config.threads, r.network.arch, r.config.batch, r.config.eta, r.epochs, r.updates.total, r.updates.applied, r.seconds, r.updates.per_second);
    out!("loss             initial {:.4} → final {:.4} ({:.1}% of initial) · test loss {:.4} · test accuracy {:.2}%", r.initial_loss, f.train_loss, 100.0 * f.train_loss / r.initial_loss, f.test_loss, 100.0 * f.test_accuracy);
    let eps: Vec<String> = r
        .eps
        .iter()
        .map(|e| match (e.seconds, e.updates) {
            (Some(s), Some(u)) => format!("{}%: {s:.2}s/{u} upd", e.fraction * 100.0),
            _ => format!("{}%: –", e.fraction * 100.0),
        })
        .collect();
    out!("ε-times          {}", eps.join(" · "));
    out!(
        "staleness τ      mean {:.2} · p50 {} · p90 {} · p99 {} · attempts mean {:.2}",
        r.staleness.mean,
        r.staleness.p50,
        r.staleness.p90,
        r.staleness.p99,
        r.attempts.mean
    );
    out!(
        "T_c / T_u        {:.3} ms / {:.1} µs (medians) · dropped {} · not published {}",
        r.tc_ms.p50,
        r.tu_us.p50,
        r.updates.dropped,
        r.updates.not_published
    );
    out!(
        "memory           peak live vectors {} × {} KiB · peak RSS {}",
        r.memory.peak_live_vectors,
        r.memory.vector_bytes / 1024,
        r.memory
            .peak_rss_bytes
            .map(|b| format!("{} MiB", b >> 20))
            .unwrap_or_else(|| "n/a".into())
    );
    if let Some(e) = &r.elastic {
        out!(
            "elastic          M = {} · mean m_E {:.2} · {:.1} worker-seconds · {} level changes",
            e.max_threads,
            e.mean_threads,
            e.worker_seconds,
            e.trajectory.len() - 1
        );
    }
    if let Some(a) = &r.ain {
        out!(
            "AIN ‖ξ‖          mean {:.3e} · max {:.3e} over {} states · ≤ {} gradients retained",
            a.mean_norm,
            a.max_norm,
            a.measured,
            a.peak_retained
        );
    }
    out!("report           {}", json.display());
    if !plots.is_empty() {
        out!(
            "plots            {}",
            plots
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

fn stepsize_cmd(s: &trainer_cli::StepsizeArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let trainer_cli::StepsizeCmd::Show {
        policy,
        amplitude,
        threads,
        histogram,
        mean_preserving,
        tau_max,
    } = &s.cmd;
    let config = Config {
        policy: *policy,
        amplitude: *amplitude,
        threads: *threads,
        ..Config::default()
    };
    if !(0.0..=1.0).contains(amplitude) {
        return Err(format!("--amplitude must be in [0, 1], got {amplitude}").into());
    }
    let counts = match histogram {
        Some(p) => Some(read_histogram(p)?),
        None => None,
    };
    let p = config.step_policy();
    if p.is_instance_based() && counts.is_none() {
        return Err(
            format!("--policy {policy:?} is instance-based: it needs --histogram FILE").into(),
        );
    }
    let opts = stepsize::Options {
        mean_preserving: *mean_preserving,
        ..Default::default()
    };
    let a = stepsize::Adaptive::new(p, 1.0, opts, *tau_max);
    if let Some(c) = &counts {
        a.refresh(c);
    }
    let out = serde_json::json!({
        "policy": format!("{p:?}"),
        "factors": a.factors_now(),
        "mean_factor": counts.as_ref().map(|c| a.mean_factor(c)),
    });
    out!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

fn staleness_cmd(s: &trainer_cli::StalenessArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let trainer_cli::StalenessCmd::Fit {
        file,
        threads,
        json,
    } = &s.cmd;
    if let Some(m) = threads {
        if !(m.is_finite() && *m > 0.0) {
            return Err(format!("--threads must be positive, got {m}").into());
        }
    }
    let counts = read_histogram(file)?;
    let r = staleness::fit_all(&counts, *threads);
    let len = counts.counts().len();
    let fits = |v: &[staleness::Fit]| {
        v.iter()
            .map(|f| trainer::report::ModelFit::from_fit(f, len))
            .map(|mut f| {
                f.pmf.clear();
                f
            })
            .collect::<Vec<_>>()
    };
    if std::io::stdout().is_terminal() && !json {
        out!(
            "{} updates, mean τ {:.3}, variance {:.3}, mode {}",
            counts.total(),
            counts.mean(),
            counts.variance(),
            counts.mode()
        );
        let params = |f: &trainer::report::ModelFit| {
            f.params
                .iter()
                .map(|(k, v)| format!("{k}={v:.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let table = |title: &str, rows: &[trainer::report::ModelFit]| {
            out!(
                "{:<10} {:<34} {:>14} {:>16}",
                "family",
                title,
                "Bhattacharyya",
                "log-likelihood"
            );
            for f in rows {
                out!(
                    "{:<10} {:<34} {:>14.6} {:>16.2}",
                    f.family,
                    params(f),
                    f.bhattacharyya,
                    f.log_likelihood
                );
            }
        };
        table(
            "parameters (min. Bhattacharyya)",
            &fits(&r.by_bhattacharyya),
        );
        table("parameters (max. likelihood)", &fits(&r.by_likelihood));
        if let Some(f) = fits(r.cmp_a13.as_slice()).first() {
            out!(
                "{:<10} {:<34} {:>14.6} {:>16.2}   ({})",
                "cmp A.13",
                params(f),
                f.bhattacharyya,
                f.log_likelihood,
                f.method
            );
        }
    } else {
        let out = serde_json::json!({
            "observed": {"total": counts.total(), "mean": counts.mean(), "variance": counts.variance(), "mode": counts.mode()},
            "by_bhattacharyya": fits(&r.by_bhattacharyya),
            "by_likelihood": fits(&r.by_likelihood),
            "cmp_a13": fits(r.cmp_a13.as_slice()).first(),
        });
        out!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// `{"counts": [...]}` or a trainer report (its `staleness.counts`).
fn read_histogram(p: &std::path::Path) -> Result<staleness::Counts, String> {
    let text =
        std::fs::read_to_string(p).map_err(|e| format!("{}: cannot read: {e}", p.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", p.display()))?;
    let arr = v
        .get("counts")
        .or_else(|| v.get("staleness").and_then(|s| s.get("counts")))
        .and_then(|c| c.as_array())
        .ok_or_else(|| {
            format!(
                "{}: expected {{\"counts\": [...]}} or a trainer report",
                p.display()
            )
        })?;
    let counts: Option<Vec<u64>> = arr.iter().map(|x| x.as_u64()).collect();
    let counts =
        counts.ok_or_else(|| format!("{}: counts must be non-negative integers", p.display()))?;
    if counts.iter().sum::<u64>() == 0 {
        return Err(format!("{}: the histogram is empty", p.display()));
    }
    Ok(staleness::Counts::from_counts(counts))
}
