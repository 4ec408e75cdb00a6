//! Updates per second of each algorithm at m ∈ {1, 2, 4}: one short `trainer::train` run per
//! iteration (0.05 epochs of the bundled MNIST, MLP 3×128, b = 64, no periodic evaluation),
//! throughput counted in updates. More threads than cores oversubscribe (and say so).
//!
//! `cargo bench -p asgd-benches --bench algorithms`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nn::{data, Scale};
use std::sync::atomic::AtomicBool;
use trainer::{train, Algorithm, Config, Job, Quiet};

fn algorithms(c: &mut Criterion) {
    let (tr, te) =
        data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit).expect("bundled MNIST");
    let te = te.truncated(1_000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!(
        "algorithms bench on {} ({} cores; kernels {})",
        nn::cpu_model(),
        cores,
        nn::Isa::preferred().map_or("?".into(), |i| i.to_string())
    );
    let epochs = 0.05;
    let updates = (epochs * tr.len() as f64 / 64.0).round() as u64;
    let mut g = c.benchmark_group("updates");
    g.sample_size(10);
    for alg in [
        Algorithm::Seq,
        Algorithm::Sync,
        Algorithm::Async,
        Algorithm::Hogwild,
        Algorithm::Leashed,
    ] {
        for m in [1usize, 2, 4] {
            if alg == Algorithm::Seq && m > 1 {
                continue;
            }
            let cfg = Config {
                algorithm: alg,
                threads: m,
                epochs,
                eval_points: 0,
                eval_subset: 1_000,
                ..Config::default()
            };
            let net = cfg.arch.build(tr.shape, 10).expect("the MLP");
            let theta = net.init_params(cfg.init(), cfg.seed);
            let per_call = if alg == Algorithm::Sync { m as u64 } else { 1 };
            g.throughput(Throughput::Elements(updates / per_call));
            let over = if m > cores { " (oversubscribed)" } else { "" };
            g.bench_function(format!("{alg}/m={m}{over}"), |b| {
                b.iter(|| {
                    let stop = AtomicBool::new(false);
                    let job = Job {
                        config: &cfg,
                        net: &net,
                        train: &tr,
                        test: &te,
                        source: "bundled MNIST".into(),
                        command: vec![],
                        interrupt: &stop,
                    };
                    train(&job, theta.clone(), &mut Quiet).expect("a valid run")
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, algorithms);
criterion_main!(benches);
