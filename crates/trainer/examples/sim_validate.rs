//! The simulator against real threads at m = 2: for lock-based ASYNC,
//! HOGWILD! and Leashed-SGD, a real 2-thread run (two seeds, for the seed-to-seed spread), then a
//! simulated one with the T_c and T_u the real run measured (log-normal: the real medians, the
//! spread from their p90/p50). Prints, per algorithm, the Bhattacharyya distance between the real
//! and simulated staleness histograms, the mean τ of each, and how far the simulated
//! trailing-loss-vs-updates curve is from the real one next to how far the two real seeds are.
//!
//! `cargo run --release -p trainer --example sim_validate -- [epochs] [m]` (default 1 epoch of
//! the bundled MNIST at b = 128, m = 2). On a machine with fewer than m free cores the real runs
//! oversubscribe and measure the OS scheduler too: say so next to the numbers.

use nn::{data, Scale};
use staleness::Counts;
use std::sync::atomic::AtomicBool;
use trainer::report::{DurationSummary, Report};
use trainer::{train, Algorithm, Config, ExecutorKind, Job, Quiet, SimTiming};

/// Log-normal (mean, σ of ln) with the summary's median and p90.
fn lognormal(d: &DurationSummary) -> (f64, f64) {
    let sigma = if d.p90 > d.p50 && d.p50 > 0.0 {
        (d.p90 / d.p50).ln() / 1.2816
    } else {
        0.05
    };
    (d.p50 * (0.5 * sigma * sigma).exp(), sigma)
}

/// Mean |difference| of two trailing-loss curves at the update counts both recorded.
fn curve_gap(a: &Report, b: &Report) -> f64 {
    let bm: std::collections::HashMap<u64, f64> = b
        .minibatch_series
        .iter()
        .map(|p| (p.updates, p.trailing_loss))
        .collect();
    let gaps: Vec<f64> = a
        .minibatch_series
        .iter()
        .filter(|p| p.trailing_loss.is_finite())
        .filter_map(|p| bm.get(&p.updates).map(|q| (p.trailing_loss - q).abs()))
        .filter(|g| g.is_finite())
        .collect();
    gaps.iter().sum::<f64>() / gaps.len().max(1) as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let epochs: f64 = args.get(1).map_or(1.0, |s| s.parse().expect("epochs"));
    let m: usize = args.get(2).map_or(2, |s| s.parse().expect("m"));
    let (train_set, test) = data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit).unwrap();
    let test = test.truncated(2_000);
    let base = Config {
        threads: m,
        batch: 128,
        eta: 0.05,
        epochs,
        eval_points: 0,
        eval_subset: 2_000,
        ..Config::default()
    };
    let net = base.arch.build(train_set.shape, 10).unwrap();
    let stop = AtomicBool::new(false);
    let go = |cfg: &Config| -> Report {
        let job = Job {
            config: cfg,
            net: &net,
            train: &train_set,
            test: &test,
            source: "bundled MNIST".into(),
            command: vec![],
            interrupt: &stop,
        };
        train(&job, net.init_params(cfg.init(), cfg.seed), &mut Quiet).unwrap()
    };
    let machine = trainer::report::Machine::detect(&net);
    println!(
        "machine: {} ({} cores), ISA {}; MLP {} b={} η={} m={m}, {epochs} epochs",
        machine.cpu,
        machine.cores,
        machine.isa_path(),
        base.arch,
        base.batch,
        base.eta
    );
    println!(
        "| algorithm | T_c ms (p50) | T_u µs (p50) | mean τ real | mean τ sim | Bhattacharyya | \
         loss gap sim–real | loss gap seed–seed |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for algorithm in [Algorithm::Async, Algorithm::Hogwild, Algorithm::Leashed] {
        let real_cfg = Config {
            algorithm,
            ..base.clone()
        };
        let real = go(&real_cfg);
        let real2 = go(&Config {
            seed: 2,
            ..real_cfg.clone()
        });
        let (tc, tc_sigma) = lognormal(&real.tc_ms);
        let (tu, _) = lognormal(&real.tu_us);
        let sim = go(&Config {
            executor: ExecutorKind::Simulated,
            sim_timing: SimTiming::Lognormal,
            sim_tc_ms: Some(tc),
            sim_tu_us: Some(tu),
            sim_spread: tc_sigma,
            ..real_cfg.clone()
        });
        let counts = |r: &Report| Counts::from_counts(r.staleness.counts.clone());
        let b = staleness::fit::bhattacharyya(&counts(&real), &counts(&sim));
        println!(
            "| {algorithm} | {:.3} | {:.1} | {:.3} | {:.3} | {b:.4} | {:.4} | {:.4} |",
            real.tc_ms.p50,
            real.tu_us.p50,
            real.staleness.mean,
            sim.staleness.mean,
            curve_gap(&sim, &real),
            curve_gap(&real2, &real)
        );
    }
}
