//! The simulated executor (`docs/simulator.md`): it replays the real sequential run at
//! m = 1, is deterministic, and reproduces the thesis' asynchrony at scale — mean τ ≈ m − 1 for
//! the lock-based and HOGWILD! baselines when T_u ≪ T_c, Leashed-SGD's retry-loop occupancy at
//! the B.4/B.7 fixed point, and a persistence bound that lowers τ.

use nn::{data, Dataset, Scale};
use pvec::Persistence;
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;
use trainer::{train, Algorithm, Config, ExecutorKind, Job, Outcome, Quiet, Report, SimTiming};

fn mnist() -> &'static (Dataset, Dataset) {
    static D: OnceLock<(Dataset, Dataset)> = OnceLock::new();
    D.get_or_init(|| {
        let (train, test) = data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit).unwrap();
        (train.truncated(8_000), test.truncated(1_000))
    })
}

fn run(cfg: &Config) -> Report {
    let (train_set, test) = mnist();
    let net = cfg.arch.build(train_set.shape, 10).unwrap();
    let stop = AtomicBool::new(false);
    let job = Job {
        config: cfg,
        net: &net,
        train: train_set,
        test,
        source: "mnist subset".into(),
        command: vec![],
        interrupt: &stop,
    };
    train(&job, net.init_params(cfg.init(), cfg.seed), &mut Quiet).unwrap()
}

/// A small MLP, few updates, evaluations only at the start and the end.
fn small(algorithm: Algorithm, threads: usize) -> Config {
    Config {
        algorithm,
        threads,
        arch: nn::Arch::Mlp {
            hidden_layers: 1,
            units: 32,
        },
        batch: 32,
        eta: 0.1,
        epochs: 0.5, // 125 updates of 32 samples
        eval_points: 0,
        eval_subset: 1_000,
        ..Config::default()
    }
}

/// Simulated, with a given model: T_c ms, T_u µs (T_r = T_u), log-normal spread 0.25.
fn simulated(mut c: Config, tc_ms: f64, tu_us: f64) -> Config {
    c.executor = ExecutorKind::Simulated;
    c.sim_timing = SimTiming::Lognormal;
    c.sim_tc_ms = Some(tc_ms);
    c.sim_tu_us = Some(tu_us);
    c
}

#[test]
fn one_worker_replays_the_real_run_bit_for_bit() {
    for (algorithm, momentum) in [
        (Algorithm::Seq, 0.0),
        (Algorithm::Async, 0.5),
        (Algorithm::Hogwild, 0.0),
        (Algorithm::Leashed, 0.0),
        (Algorithm::Sync, 0.5),
    ] {
        let real_cfg = Config {
            momentum,
            ..small(algorithm, 1)
        };
        let real = run(&real_cfg);
        let sim = run(&simulated(real_cfg.clone(), 0.5, 20.0));
        assert_eq!(real.executor, "threads");
        assert_eq!(sim.executor, "simulated");
        assert_eq!(real.outcome, Outcome::Completed, "{algorithm}");
        assert_eq!(sim.updates, {
            let mut u = real.updates.clone();
            u.per_second = sim.updates.per_second;
            u
        });
        // The same θ at the end: every loss and the accuracy agree to the bit.
        assert_eq!(
            sim.final_eval.train_loss.to_bits(),
            real.final_eval.train_loss.to_bits(),
            "{algorithm}: final training loss"
        );
        assert_eq!(
            sim.final_eval.test_loss.to_bits(),
            real.final_eval.test_loss.to_bits()
        );
        assert_eq!(sim.final_eval.test_accuracy, real.final_eval.test_accuracy);
        // And the same mini-batch losses on the way, update by update.
        let losses = |r: &Report| -> Vec<(u64, u64)> {
            r.minibatch_series
                .iter()
                .map(|p| (p.updates, p.trailing_loss.to_bits()))
                .collect()
        };
        assert!(!real.minibatch_series.is_empty());
        assert_eq!(
            losses(&sim),
            losses(&real),
            "{algorithm}: mini-batch losses"
        );
        let eps_updates = |r: &Report| r.eps.iter().map(|e| e.updates).collect::<Vec<_>>();
        assert_eq!(eps_updates(&sim), eps_updates(&real));
        assert_eq!(sim.staleness.counts, real.staleness.counts);
        // Virtual time is the model's: about (T_r + T_c + T_u) per update.
        let s = sim.simulation.as_ref().expect("a simulation section");
        assert_eq!(s.virtual_seconds, sim.seconds);
        let per = sim.seconds / sim.updates.total as f64;
        assert!(
            (0.4e-3..0.7e-3).contains(&per),
            "{algorithm}: {per} s per update"
        );
    }
}

/// A report as JSON without the fields that measure the host (time, RSS).
fn deterministic_part(r: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap();
    v["simulation"]
        .as_object_mut()
        .unwrap()
        .remove("host_seconds");
    v["memory"]
        .as_object_mut()
        .unwrap()
        .remove("peak_rss_bytes");
    v
}

#[test]
fn same_configuration_and_seed_give_the_same_report() {
    for algorithm in [Algorithm::Async, Algorithm::Hogwild, Algorithm::Leashed] {
        let cfg = Config {
            eval_points: 3,
            persistence: if algorithm == Algorithm::Leashed {
                Persistence::Bounded(1)
            } else {
                Persistence::Unbounded
            },
            ..simulated(small(algorithm, 8), 0.5, 40.0)
        };
        let (a, b) = (run(&cfg), run(&cfg));
        assert!(a.series.len() >= 4, "{algorithm}: evaluations were made");
        assert!(
            a.staleness.mean > 1.0,
            "{algorithm}: the run was asynchronous"
        );
        assert_eq!(
            deterministic_part(&a),
            deterministic_part(&b),
            "{algorithm}: two runs differ"
        );
        // A different seed is a different run (the comparison can fail).
        let c = run(&Config { seed: 2, ..cfg });
        assert_ne!(deterministic_part(&a), deterministic_part(&c));
    }
}

#[test]
fn elastic_regulation_runs_on_virtual_time_deterministically() {
    let cfg = Config {
        elastic: true,
        elastic_ip: 5,
        elastic_dp: 3,
        ..simulated(small(Algorithm::Hogwild, 8), 0.5, 40.0)
    };
    let (a, b) = (run(&cfg), run(&cfg));
    let e = a.elastic.as_ref().expect("an elastic section");
    assert!(e.trajectory.len() > 1, "the regulator changed m_E");
    assert!(e.mean_threads < 8.0);
    assert!(a.ain.as_ref().unwrap().measured > 0, "the AIN was measured");
    assert_eq!(deterministic_part(&a), deterministic_part(&b));
}

#[test]
fn mean_staleness_is_m_minus_one_when_updates_are_cheap() {
    let m = 32;
    for algorithm in [Algorithm::Async, Algorithm::Hogwild] {
        let cfg = Config {
            batch: 16,
            epochs: 3.2, // 1600 updates: 50 per worker
            ..simulated(small(algorithm, m), 1.0, 1.0)
        };
        let r = run(&cfg);
        assert_eq!(r.updates.applied, 1600);
        // The first round averages (m − 1)/2; afterwards every worker sees the other m − 1
        // updates of one cycle (T_r + T_c + T_u, of which T_u is 0.1%).
        let tau = r.staleness.mean;
        let want = (m - 1) as f64;
        eprintln!("{algorithm} m = {m}: mean τ {tau:.3} (m − 1 = {want})");
        assert!(
            tau > 0.95 * want && tau < want + 0.5,
            "{algorithm}: mean τ {tau}, thesis ≈ m − 1 = {want}"
        );
    }
}

/// Leashed-SGD at m = 16, T_c = 1 ms, T_u = `tu_us`, persistence `p`.
fn leashed(tu_us: f64, p: Persistence) -> Report {
    let cfg = Config {
        batch: 16,
        epochs: 1.6, // 800 updates: 50 per worker
        persistence: p,
        ..simulated(small(Algorithm::Leashed, 16), 1.0, tu_us)
    };
    run(&cfg)
}

#[test]
fn leashed_retry_loop_occupancy_is_the_b7_fixed_point() {
    let m = 16.0;
    let (tc, tu) = (1.0e-3, 20.0e-6);
    let inf = leashed(20.0, Persistence::Unbounded);
    let zero = leashed(20.0, Persistence::Bounded(0));
    let occupancy = |r: &Report| r.simulation.as_ref().unwrap().retry_loop_mean.unwrap();
    let (n_inf, n_zero) = (occupancy(&inf), occupancy(&zero));
    // B.4's fixed point n* = m/(T_c/T_u + 1), with T_u the time an update spends in the loop:
    // a·T_u for a publish attempts per update (a = 1 at T_p = 0).
    let (a_inf, a_zero) = (inf.attempts.mean, zero.attempts.mean);
    eprintln!(
        "leashed m = 16, T_c/T_u = 50: occupancy T_p=∞ {n_inf:.4} (attempts {a_inf:.3}), \
         T_p=0 {n_zero:.4}; raw n* = {:.4}",
        m / (tc / tu + 1.0)
    );
    assert!(a_inf > 1.05, "contention: {a_inf} attempts per update");
    assert_eq!(a_zero, 1.0, "T_p = 0 is a single attempt");
    let model = staleness::Contention {
        m,
        tc,
        tu: a_inf * tu,
    };
    let n_star = model.fixed_point();
    assert!(
        (n_inf / n_star - 1.0).abs() < 0.05,
        "T_p = ∞: occupancy {n_inf}, n* = {n_star}"
    );
    // B.7: the bound raises the departure rate by 1 + γ = a_∞/a_0, and the fixed point moves
    // to n*_γ = m/((T_c/T_u)(1 + γ) + 1) < n*.
    let gamma = a_inf / a_zero - 1.0;
    let n_gamma = model.fixed_point_persistence(gamma);
    eprintln!("B.4 n* = {n_star:.4}, B.7 n*_γ = {n_gamma:.4} (γ = {gamma:.3})");
    assert!(
        (n_zero / n_gamma - 1.0).abs() < 0.05,
        "T_p = 0: occupancy {n_zero}, n*_γ = {n_gamma}"
    );
    assert!(n_zero < n_inf);
}

#[test]
fn persistence_zero_lowers_staleness() {
    let inf = leashed(50.0, Persistence::Unbounded);
    let zero = leashed(50.0, Persistence::Bounded(0));
    eprintln!(
        "leashed m = 16, T_c/T_u = 20: mean τ T_p=∞ {:.3}, T_p=0 {:.3} ({} not published); \
         peak vectors {} / {}",
        inf.staleness.mean,
        zero.staleness.mean,
        zero.updates.not_published,
        inf.memory.peak_live_vectors,
        zero.memory.peak_live_vectors
    );
    assert_eq!(inf.updates.not_published, 0);
    assert!(
        zero.updates.not_published > 0,
        "T_p = 0 gives up on conflicts"
    );
    // With T_p = 0 no publish lands between a successful attempt's start and its CAS: τ^s = 0
    // (§B.4.2), only the updates concurrent with the gradient count.
    assert!(
        zero.staleness.mean < inf.staleness.mean - 0.5,
        "mean τ: T_p = 0 {} vs T_p = ∞ {}",
        zero.staleness.mean,
        inf.staleness.mean
    );
    // The modelled arena stays within Leashed-SGD's bound of 2m + 2 vectors.
    for r in [&inf, &zero] {
        assert!(r.memory.peak_live_vectors <= 2 * 16 + 2);
        assert!(r.memory.peak_live_vectors > 2);
    }
}

#[test]
fn settings_are_checked_by_name() {
    let bad = |c: Config, field: &str| {
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(&format!("`{field}`")), "{e}");
    };
    bad(
        Config {
            sim_tc_ms: Some(1.0),
            ..Config::default()
        },
        "sim_tc_ms",
    );
    let sim = Config {
        executor: ExecutorKind::Simulated,
        ..Config::default()
    };
    sim.validate().unwrap();
    bad(
        Config {
            sim_timing: SimTiming::Constant,
            sim_tc_ms: Some(1.0),
            ..sim.clone()
        },
        "sim_tu_us",
    );
    bad(
        Config {
            sim_timing: SimTiming::Lognormal,
            sim_tc_ms: Some(-1.0),
            sim_tu_us: Some(1.0),
            ..sim.clone()
        },
        "sim_tc_ms",
    );
    bad(
        Config {
            sim_timing: SimTiming::Empirical,
            sim_tc_list_ms: vec![1.0],
            ..sim.clone()
        },
        "sim_tu_list_us",
    );
    bad(
        Config {
            sim_kappa: f64::NAN,
            ..sim.clone()
        },
        "sim_kappa",
    );
    bad(
        Config {
            sim_tu_us: Some(1.0),
            ..sim
        },
        "sim_tu_us",
    );
}

#[test]
fn the_binary_runs_sixty_four_simulated_workers() {
    let dir = std::env::temp_dir().join(format!("trainer-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("r.json");
    let trainer = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = trainer(&[
        "--executor",
        "simulated",
        "--threads",
        "64",
        "--batch",
        "16",
        "--epochs",
        "0.02",
        "--eval-points",
        "0",
        "--eval-subset",
        "500",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r.executor, "simulated");
    assert_eq!(r.config.threads, 64);
    let s = r.simulation.expect("a simulation section");
    assert_eq!(s.timing.source, "measured");
    assert_eq!(
        s.timing.tc_ms.samples.len(),
        10,
        "the host's timed gradients"
    );
    assert!(
        r.staleness.mean > 10.0,
        "64 workers: mean τ {}",
        r.staleness.mean
    );
    // Simulator settings are checked by flag name, exit 2.
    for (args, flag) in [
        (
            vec![
                "--executor",
                "sim",
                "--sim-timing",
                "constant",
                "--sim-tc-ms",
                "1",
            ],
            "--sim-tu-us",
        ),
        (vec!["--sim-kappa", "0.1"], "--sim-kappa"),
    ] {
        let out = trainer(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
