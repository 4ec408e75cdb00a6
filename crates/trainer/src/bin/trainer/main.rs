//! `trainer`: parallel SGD on real data. The binary parses options and calls the `trainer`
//! library; see `trainer --help`.

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use nn::data;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
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
mod progress;
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
    let config = args::build_config(a);
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
    summary::print_summary(&report, &a.json, &plots);
    Ok(match report.outcome {
        Outcome::Completed | Outcome::Converged | Outcome::Diverged => ExitCode::SUCCESS,
        Outcome::Crashed => ExitCode::from(1),
        Outcome::Interrupted => ExitCode::from(130),
    })
}
