//! The simulated executor's own cost per virtual update next to a gradient: the host
//! time of a simulated m = 64 run of N MLP updates at b = 512 against that of N real sequential
//! gradient steps, side by side in one process, as ratios.
//!
//! `cargo run --release -p trainer --example sim_overhead -- [epochs] [m]` (default 2 epochs of
//! the bundled MNIST, i.e. N = 234 updates; m = 64; SYNC's steps are m gradients each). Each side
//! runs three times, alternating; the best of each is kept (this machine may be shared), as wall
//! time per gradient and as the process's CPU time per gradient.

use nn::{data, Scale};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use trainer::{train, Algorithm, Config, ExecutorKind, Job, Quiet, Report, SimTiming};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sim_overhead: {e}");
            ExitCode::from(2)
        }
    }
}

/// The positional argument `i`, parsed, or `default` when absent.
fn arg<T: std::str::FromStr>(
    i: usize,
    name: &str,
    default: T,
    ok: fn(&T) -> bool,
) -> Result<T, String> {
    match std::env::args().nth(i) {
        None => Ok(default),
        Some(s) => s.parse().ok().filter(ok).ok_or_else(|| {
            format!(
                "{name} must be a positive number, got `{s}` (usage: sim_overhead [epochs] [m])"
            )
        }),
    }
}

fn run() -> Result<(), String> {
    let epochs: f64 = arg(1, "epochs", 2.0, |e: &f64| e.is_finite() && *e > 0.0)?;
    let m: usize = arg(2, "m", 64, |m| *m >= 1)?;
    let (train_set, test) = data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit)
        .map_err(|e| format!("bundled MNIST: {e}"))?;
    let test = test.truncated(1_000);
    let base = Config {
        batch: 512,
        epochs,
        eval_points: 0,
        eval_subset: 1_000,
        ..Config::default()
    };
    let net = base
        .arch
        .build(train_set.shape, 10)
        .map_err(|e| e.to_string())?;
    let stop = AtomicBool::new(false);
    let go = |cfg: &Config| -> Result<Report, String> {
        let job = Job {
            config: cfg,
            net: &net,
            train: &train_set,
            test: &test,
            source: "bundled MNIST".into(),
            command: vec![],
            interrupt: &stop,
        };
        train(&job, net.init_params(cfg.init(), cfg.seed), &mut Quiet).map_err(|e| e.to_string())
    };
    let seq = Config {
        algorithm: Algorithm::Seq,
        threads: 1,
        ..base.clone()
    };
    let machine = trainer::report::Machine::detect(&net);
    println!(
        "machine: {} ({} cores), ISA {}; MLP {} b=512, {epochs} epochs",
        machine.cpu,
        machine.cores,
        machine.isa_path(),
        base.arch
    );
    println!(
        "| algorithm | m | gradients (sim) | gradients (real seq) | host ms/gradient (sim) | \
         host ms/gradient (real seq) | ratio (wall) | ratio (CPU) | simulated run's outcome |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for algorithm in [
        Algorithm::Async,
        Algorithm::Hogwild,
        Algorithm::Leashed,
        Algorithm::Sync,
    ] {
        let sim = Config {
            algorithm,
            threads: m,
            executor: ExecutorKind::Simulated,
            sim_timing: SimTiming::Lognormal,
            sim_tc_ms: Some(5.0),
            sim_tu_us: Some(100.0),
            // τ ≈ m at m = 64: the default η diverges in a few hundred updates; a tenth of it
            // runs the whole budget (the step size does not change the cost of a gradient).
            eta: base.eta / 10.0,
            // SYNC's steps hold m·b samples: as many gradients of b as the others' updates.
            ..base.clone()
        };
        // Interleaved, best of three: wall and CPU seconds of the process per gradient.
        let (mut real_w, mut real_c, mut sim_w, mut sim_c) =
            (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
        let mut n = (0, 0);
        // A run that diverges stops early: fewer gradients, so say so.
        let mut outcome = None;
        for _ in 0..3 {
            let c0 = cpu_seconds();
            let r = go(&seq)?;
            let c1 = cpu_seconds();
            let s = go(&sim)?;
            let c2 = cpu_seconds();
            let sim_gradients = if algorithm == Algorithm::Sync {
                s.updates.total * m as u64
            } else {
                s.updates.total
            };
            n = (r.updates.total, sim_gradients);
            outcome = Some(s.outcome);
            let (rg, sg) = (n.0 as f64, n.1 as f64);
            real_w = real_w.min(r.seconds / rg);
            let host = s
                .simulation
                .as_ref()
                .ok_or("the simulated run has no simulation section")?;
            sim_w = sim_w.min(host.host_seconds / sg);
            // CPU time includes each run's two evaluations (θ0 and final, 2000 samples: the
            // same for both sides).
            real_c = real_c.min((c1 - c0) / rg);
            sim_c = sim_c.min((c2 - c1) / sg);
        }
        println!(
            "| {algorithm} | {m} | {} | {} | {:.2} | {:.2} | {:.3} | {:.3} | {} |",
            n.1,
            n.0,
            sim_w * 1e3,
            real_w * 1e3,
            sim_w / real_w,
            sim_c / real_c,
            outcome.map_or("–".into(), |o| format!("{o:?}"))
        );
    }
    Ok(())
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`, 100 Hz ticks).
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        f.get(i)
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    (tick(11) + tick(12)) / 100.0
}
