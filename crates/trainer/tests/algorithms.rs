//! Every algorithm for a few hundred updates on a small MLP over real MNIST.

use nn::{arch, data, Dataset, Scale};
use pvec::Persistence;
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;
use trainer::{train as train_run, Algorithm, Config, Job, Outcome, PolicyKind, Quiet, Report};

fn mnist() -> &'static (Dataset, Dataset) {
    static D: OnceLock<(Dataset, Dataset)> = OnceLock::new();
    D.get_or_init(|| {
        let (train, test) = data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit).unwrap();
        (train.truncated(8_000), test.truncated(2_000))
    })
}

fn run(cfg: Config) -> Report {
    let (train, test) = mnist();
    let net = cfg.arch.build(train.shape, 10).unwrap();
    let stop = AtomicBool::new(false);
    let job = Job {
        config: &cfg,
        net: &net,
        train,
        test,
        source: "mnist subset".into(),
        command: vec![],
        interrupt: &stop,
    };
    train_job(&job, &net, &cfg)
}

fn train_job(job: &Job, net: &nn::Network, cfg: &Config) -> Report {
    train_run(job, net.init_params(cfg.init(), cfg.seed), &mut Quiet).unwrap()
}

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
        epochs: 1.2, // 300 updates of 32 samples
        eval_points: 5,
        eval_subset: 2_000,
        ..Config::default()
    }
}

fn check_common(r: &Report) {
    assert!(
        matches!(r.outcome, Outcome::Completed),
        "{:?} {:?}",
        r.outcome,
        r.failure
    );
    assert!(
        r.final_eval.train_loss < 0.5 * r.initial_loss,
        "loss {} → {}",
        r.initial_loss,
        r.final_eval.train_loss
    );
    assert_eq!(
        r.staleness.total, r.updates.applied,
        "one staleness count per applied update"
    );
    assert_eq!(r.attempts.total, r.updates.total);
    assert_eq!(
        r.updates.total,
        r.updates.applied + r.updates.dropped + r.updates.not_published
    );
    assert!(r.tc_ms.samples > 0 && r.tc_ms.p50 > 0.0);
    assert!(r.series.len() >= 2);
    // The report is valid JSON with the documented schema tag, written atomically.
    let dir = std::env::temp_dir().join(format!(
        "trainer-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r.json");
    trainer::report::write_json_atomic(&path, r).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema"], trainer::report::SCHEMA);
    // The schema has a reader: the file reads back as the same report (compared as JSON, where
    // a NaN is `null` on both sides).
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        serde_json::to_value(r).unwrap(),
        "the report does not read back as written"
    );
    assert_eq!(v["staleness"]["total"], r.updates.applied);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left behind"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn seq_learns_and_has_no_staleness() {
    let r = run(small(Algorithm::Seq, 1));
    check_common(&r);
    assert_eq!(r.updates.applied, 300);
    assert_eq!(r.staleness.counts, vec![300]);
}

#[test]
fn sync_averages_m_gradients_per_step() {
    let r = run(small(Algorithm::Sync, 2));
    check_common(&r);
    // 1.2 epochs of 8000 samples in steps of 2 × 32.
    assert_eq!(r.updates.applied, 150);
    assert_eq!(r.staleness.counts, vec![150]);
}

#[test]
fn async_hogwild_leashed_learn() {
    for alg in [Algorithm::Async, Algorithm::Hogwild, Algorithm::Leashed] {
        let r = run(small(alg, 3));
        check_common(&r);
        assert_eq!(r.updates.applied, 300, "{alg}");
    }
}

#[test]
fn leashed_with_persistence_zero_reports_unpublished_updates() {
    let mut c = small(Algorithm::Leashed, 3);
    c.persistence = Persistence::Bounded(0);
    let r = run(c);
    check_common(&r);
    assert!(
        r.attempts.counts.len() <= 2,
        "T_p = 0 means one attempt: {:?}",
        r.attempts.counts
    );
    assert_eq!(r.updates.total, 300);
}

#[test]
fn tail_tau_and_drop_above_are_applied_per_update() {
    let mut c = small(Algorithm::Hogwild, 3);
    c.policy = PolicyKind::Tail;
    c.drop_above = Some(3);
    let r = run(c);
    assert!(!matches!(r.outcome, Outcome::Diverged));
    // TAIL-τ emphasises fresh updates: the factor at τ = 0 is above the last one.
    assert!(r.step_size.factors[0] >= *r.step_size.factors.last().unwrap());
    assert!(
        r.staleness.counts.len() <= 4,
        "updates above τ = 3 were dropped, not applied: {:?}",
        r.staleness.counts
    );
}

#[test]
fn single_thread_runs_repeat_bit_for_bit() {
    let a = run(small(Algorithm::Seq, 1));
    let b = run(small(Algorithm::Seq, 1));
    // Every update's mini-batch loss, in order (evaluation snapshots are taken asynchronously,
    // so which update they land on is not part of the contract; the trajectory is).
    let losses = |r: &Report| {
        r.minibatch_series
            .iter()
            .map(|p| (p.updates, p.trailing_loss.to_bits()))
            .collect::<Vec<_>>()
    };
    assert_eq!(losses(&a).len(), 300);
    assert_eq!(losses(&a), losses(&b));
    assert_eq!(
        a.final_eval.test_loss.to_bits(),
        b.final_eval.test_loss.to_bits()
    );
    let mut c = small(Algorithm::Seq, 1);
    c.seed = 2;
    assert_ne!(losses(&a), losses(&run(c)));
}

#[test]
fn a_huge_step_size_crashes_cleanly_with_a_report() {
    let mut c = small(Algorithm::Leashed, 2);
    // Infinite as f32: 0·∞ = NaN on the exactly-zero gradient entries (weights on MNIST's
    // always-black border pixels), so θ holds NaN after the first update. (A merely huge η
    // can leave θ finite but huge — dead ReLUs, saturated logits — which is "diverged".)
    c.eta = 1e300;
    let r = run(c);
    assert_eq!(r.outcome, Outcome::Diverged);
    assert!(
        r.failure.as_deref().unwrap().contains("non-finite"),
        "{:?}",
        r.failure
    );
    assert!(
        r.updates.total < 300,
        "stopped at the crash, not at the end"
    );
}

#[test]
fn eps_times_are_monotone_and_stop_at_eps_stops() {
    let mut c = small(Algorithm::Leashed, 2);
    c.stop_at_eps = true;
    c.eps = vec![0.5, 0.3];
    c.epochs = 10.0;
    c.eval_points = 200;
    let r = run(c);
    assert_eq!(r.outcome, Outcome::Converged);
    let t: Vec<f64> = r.eps.iter().map(|e| e.seconds.unwrap()).collect();
    assert!(t[0] <= t[1]);
    assert!(r.epochs < 10.0, "stopped early at {} epochs", r.epochs);
}

#[test]
fn contradictory_configs_are_rejected_before_training() {
    let (train, test) = mnist();
    let bad = [
        Config {
            threads: 0,
            ..small(Algorithm::Leashed, 1)
        },
        Config {
            threads: 2,
            ..small(Algorithm::Seq, 1)
        },
        Config {
            batch: 9_000,
            ..small(Algorithm::Leashed, 1)
        },
        Config {
            eta: f64::NAN,
            ..small(Algorithm::Leashed, 1)
        },
        Config {
            persistence: Persistence::Bounded(1),
            ..small(Algorithm::Hogwild, 2)
        },
        Config {
            policy: PolicyKind::Tail,
            ..small(Algorithm::Seq, 1)
        },
        Config {
            eps: vec![1.5],
            ..small(Algorithm::Leashed, 1)
        },
    ];
    for cfg in bad {
        let net = cfg.arch.build(train.shape, 10).unwrap();
        let stop = AtomicBool::new(false);
        let job = Job {
            config: &cfg,
            net: &net,
            train,
            test,
            source: String::new(),
            command: vec![],
            interrupt: &stop,
        };
        assert!(
            train_run(&job, net.init_params(cfg.init(), 1), &mut Quiet).is_err(),
            "{cfg:?}"
        );
    }
    let _ = arch::MNIST_INPUT;
}

#[test]
fn elastic_runs_regulate_parallelism_and_measure_noise() {
    let mut c = small(Algorithm::Hogwild, 4);
    c.elastic = true;
    c.elastic_dp = 2;
    c.elastic_ip = 10;
    c.epochs = 3.0;
    let r = run(c);
    check_common(&r);
    let e = r.elastic.as_ref().expect("elastic report");
    assert_eq!(e.max_threads, 4);
    assert!(
        e.trajectory.len() > 1,
        "the regulator probed other levels: {:?}",
        e.trajectory
    );
    assert!(e.trajectory.iter().all(|c| (1..=4).contains(&c.threads)));
    assert!(e.worker_seconds > 0.0 && e.worker_seconds <= 4.0 * r.seconds + 1e-9);
    let a = r.ain.as_ref().expect("AIN report");
    assert!(a.measured > 100, "ξ measured for {} states", a.measured);
    assert!(a.mean_norm.is_finite() && a.mean_norm >= 0.0);
    // Bounded, not growing with the run: about one per worker, plus what others apply while a
    // worker is descheduled between publishing and its next read (4 threads on 2 cores here).
    assert!(
        a.peak_retained <= 64 && (a.peak_retained as u64) * 10 < r.updates.applied,
        "retained {} of {} updates",
        a.peak_retained,
        r.updates.applied
    );
}
