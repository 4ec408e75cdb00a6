//! `trainer`: parallel SGD on real data. The binary parses options and calls the `trainer`
//! library; see `trainer --help`.

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::process::ExitCode;
use trainer::report::write_json_atomic;
use trainer::{Job, Outcome};

#[macro_use]
mod macros {
    /// `println!` that survives a closed pipe (`trainer staleness fit r.json | head`): stdout
    /// errors are reported once on stderr, a broken pipe silently ends the output; never a panic.
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
}

mod args;
#[cfg(feature = "mpi")]
mod mpirun;
mod progress;
mod signals;
mod summary;
mod tools;

use args::{Cli, Command, Format, TrainArgs};
use progress::Display;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Stepsize(s)) => tools::stepsize_cmd(s),
        Some(Command::Staleness(s)) => tools::staleness_cmd(s),
        None => train_cmd(&cli.train),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("trainer: error: {}", args::flagify(&e.to_string()));
            ExitCode::from(2)
        }
    }
}

fn train_cmd(a: &TrainArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    signals::install()?;
    let config = args::build_config(a)?;
    #[cfg(feature = "mpi")]
    if config.executor == trainer::ExecutorKind::Mpi {
        return mpirun::train_cmd(a, config);
    }
    config.validate()?;
    // Every output is checked (created and writable) before anything is loaded or trained.
    trainer::report::probe_writable(&a.json)
        .map_err(|e| format!("--json {}: {e}", a.json.display()))?;
    if let Some(d) = &a.plot {
        trainer::report::probe_dir(d).map_err(|e| format!("--plot {}: {e}", d.display()))?;
    }
    let (train, test, dir, net) = load(a, &config)?;
    let theta0 = net.init_params(config.init(), config.seed);
    run_report(a, &config, &net, &train, &test, &dir, theta0)
}

type Loaded = (nn::Dataset, nn::Dataset, std::path::PathBuf, nn::Network);

/// The data and the network, checked against each other and this machine's memory.
pub(crate) fn load(
    a: &TrainArgs,
    config: &trainer::Config,
) -> Result<Loaded, Box<dyn std::error::Error>> {
    let format = match a.format {
        Format::Idx => trainer::DataFormat::Idx,
        Format::Cifar10 => trainer::DataFormat::Cifar10,
    };
    let (train, test, dir) = trainer::load_data(a.data.as_deref(), format, config.scale)?;
    let net = config.arch.build(train.shape, train.classes)?;
    trainer::check_compatible(&net, &train, config.batch)?;
    // Before θ is allocated: refuse what does not fit this machine's memory.
    trainer::check_memory(config, &net, &train, &test)?;
    Ok((train, test, dir, net))
}

/// Train the loaded job, write its report (and plots), summarise it: the exit code says how it
/// ended.
pub(crate) fn run_report(
    a: &TrainArgs,
    config: &trainer::Config,
    net: &nn::Network,
    train: &nn::Dataset,
    test: &nn::Dataset,
    dir: &std::path::Path,
    theta0: Vec<f32>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let terminal = std::io::stderr().is_terminal();
    if !a.quiet {
        let limit = config
            .max_seconds
            .map(|s| format!(", at most {s} s"))
            .unwrap_or_default();
        eprintln!(
            "trainer: {} with m = {}, {} (d = {}), b = {}, η0 = {}, policy {}, {} epochs{limit} on {} ({} train / {} test); kernels: {} on {}",
            config.algorithm,
            config.threads,
            config.arch,
            net.num_params(),
            config.batch,
            config.eta,
            config.policy.name(),
            config.epochs,
            dir.display(),
            train.len(),
            test.len(),
            net.isa_path(),
            nn::cpu_model(),
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
        config,
        net,
        train,
        test,
        source: dir.display().to_string(),
        command: std::env::args().collect(),
        interrupt: &signals::INTERRUPT,
    };
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
    summary::print_summary(&report, &a.json, &plots);
    Ok(match report.outcome {
        Outcome::Completed | Outcome::Converged | Outcome::NotConverged => ExitCode::SUCCESS,
        Outcome::Diverged => ExitCode::from(1),
        Outcome::Interrupted => ExitCode::from(signals::exit_code()),
    })
}
