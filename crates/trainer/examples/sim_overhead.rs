//! The simulated executor's own cost per virtual update next to a gradient (issue 16): the host
//! time of a simulated m = 64 run of N MLP updates at b = 512 against that of N real sequential
//! gradient steps, side by side in one process, as ratios.
//!
//! `cargo run --release -p trainer --example sim_overhead -- [epochs] [m]` (default 2 epochs of
//! the bundled MNIST, i.e. N = 234 updates; m = 64). Each side runs twice, alternating; the
//! faster of each pair is kept (this machine may be shared).

use nn::{data, Scale};
use std::sync::atomic::AtomicBool;
use trainer::{train, Algorithm, Config, ExecutorKind, Job, Quiet, Report, SimTiming};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let epochs: f64 = args.get(1).map_or(2.0, |s| s.parse().expect("epochs"));
    let m: usize = args.get(2).map_or(64, |s| s.parse().expect("m"));
    let (train_set, test) = data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit).unwrap();
    let test = test.truncated(1_000);
    let base = Config {
        batch: 512,
        epochs,
        eval_points: 0,
        eval_subset: 1_000,
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
    let seq = Config {
        algorithm: Algorithm::Seq,
        threads: 1,
        ..base.clone()
    };
    let machine = trainer::report::Machine::detect(net.isa());
    println!(
        "machine: {} ({} cores), ISA {}; MLP {} b=512, {epochs} epochs",
        machine.cpu, machine.cores, machine.isa, base.arch
    );
    println!("| algorithm | m | updates | host s (sim) | host s (real seq) | ratio |");
    println!("|---|---|---|---|---|---|");
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
            // SYNC's steps hold m·b samples: as many gradients of b as the others' updates.
            ..base.clone()
        };
        let mut real_s = f64::INFINITY;
        let mut sim_s = f64::INFINITY;
        let mut updates = (0, 0);
        for _ in 0..2 {
            let r = go(&seq);
            real_s = real_s.min(r.seconds);
            let s = go(&sim);
            sim_s = sim_s.min(s.simulation.as_ref().unwrap().host_seconds);
            let gradients = if algorithm == Algorithm::Sync {
                s.updates.total * m as u64
            } else {
                s.updates.total
            };
            updates = (r.updates.total, gradients);
        }
        assert_eq!(updates.0, updates.1, "the same number of gradients");
        println!(
            "| {algorithm} | {m} | {} | {sim_s:.3} | {real_s:.3} | {:.3} |",
            updates.0,
            sim_s / real_s
        );
    }
}
