//! The simulator's memory: m = 256 virtual workers on the 3×128 MLP over the full
//! MNIST training set stay under 1 GiB of resident memory, and the modelled strategy holds what
//! the real one would. Its own test binary, so the process's peak RSS is this test's alone.

use nn::{data, Scale};
use std::sync::atomic::AtomicBool;
use trainer::{train, Algorithm, Config, ExecutorKind, Job, Quiet, SimTiming};

#[test]
fn m256_on_the_mlp_stays_under_one_gibibyte() {
    let (train_set, test) = data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit).unwrap();
    let test = test.truncated(1_000);
    let m = 256;
    for algorithm in [Algorithm::Async, Algorithm::Leashed] {
        let cfg = Config {
            algorithm,
            threads: m,
            executor: ExecutorKind::Simulated,
            sim_timing: SimTiming::Constant,
            sim_tc_ms: Some(2.0),
            sim_tu_us: Some(50.0),
            batch: 64,
            epochs: 2.0 * m as f64 * 64.0 / train_set.len() as f64, // two updates per worker
            eval_points: 0,
            eval_subset: 1_000,
            ..Config::default()
        };
        let net = cfg.arch.build(train_set.shape, 10).unwrap();
        let stop = AtomicBool::new(false);
        let job = Job {
            config: &cfg,
            net: &net,
            train: &train_set,
            test: &test,
            source: "bundled MNIST".into(),
            command: vec![],
            interrupt: &stop,
        };
        let r = train(&job, net.init_params(cfg.init(), cfg.seed), &mut Quiet).unwrap();
        assert_eq!(r.updates.total, 2 * m as u64);
        let sim = r.simulation.as_ref().unwrap();
        assert_eq!(sim.host_vectors, 1 + m, "θ and one gradient per worker");
        match algorithm {
            Algorithm::Leashed => assert!(r.memory.peak_live_vectors <= 2 * m + 2),
            _ => assert_eq!(r.memory.peak_live_vectors, 1 + m),
        }
        let rss = r.memory.peak_rss_bytes.expect("Linux reports VmHWM");
        eprintln!(
            "{algorithm} m = {m}: peak RSS {} MiB, modelled peak vectors {}",
            rss >> 20,
            r.memory.peak_live_vectors
        );
        assert!(rss < 1 << 30, "peak RSS {} MiB", rss >> 20);
    }
}
