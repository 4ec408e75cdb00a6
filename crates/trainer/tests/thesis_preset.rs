//! `--preset thesis` trains as the thesis' C++ code does: the same first 40
//! mini-batch losses as dcs-chalmers/shared-memory-sgd (ddf760e) printed for
//! `-a SEQ -n 1 -A MLP -e 1 -b 512 -l 0.005 -D MNIST` (seed 1337), and the same ε = 50 % update.
//!
//! Tolerance: ±2e-3 per loss. The C++ computes in double precision and the reference values are
//! printed to 3 decimals (±5e-4); we compute in f32 with another summation order, which the
//! NumPy reproduction (`float32` against `float64`) puts well inside the rest. A wrong seed,
//! shuffle or initialisation is off by far more: seed 1 instead of 1337 starts at 2.821 instead
//! of 3.582 and differs by more than 0.5 at most of the 40 steps.

use nn::{data, Dataset, Scale};
use std::sync::atomic::AtomicBool;
use trainer::{train, Algorithm, Config, Job, Quiet, Report};

/// The C++'s mini-batch losses, steps 1..=40.
const CPP: [f64; 40] = [
    3.582, 11.591, 4.484, 2.404, 1.769, 1.541, 1.325, 1.245, 0.974, 1.090, 1.320, 1.306, 1.061,
    0.966, 0.860, 0.747, 0.775, 0.794, 0.591, 0.488, 0.671, 0.744, 0.985, 0.863, 0.867, 0.760,
    0.545, 0.451, 0.483, 0.515, 0.506, 0.714, 0.587, 0.720, 0.516, 0.495, 0.460, 0.395, 0.359,
    0.412,
];
const TOL: f64 = 2e-3;
/// The initial loss the reference figures judged ε = 50 % against.
const REFERENCE_INITIAL: f64 = 2.3012;
const CPP_CROSSING: u64 = 16;

fn mnist_raw() -> (Dataset, Dataset) {
    let (train, test) = data::load_mnist(&data::bundled_mnist_dir(), Scale::Raw).unwrap();
    (train, test.truncated(1_000))
}

/// `--preset thesis --algorithm seq --batch 512` (the preset's own arch and seed) for `steps`
/// updates.
fn preset_run(seed: Option<u64>, steps: usize) -> Report {
    let mut cfg = Config::default();
    cfg.apply_thesis_preset();
    cfg.algorithm = Algorithm::Seq;
    cfg.threads = 1;
    cfg.batch = 512;
    cfg.eps = vec![0.5];
    if let Some(s) = seed {
        cfg.seed = s;
    }
    let (train_set, test) = mnist_raw();
    cfg.epochs = (steps * cfg.batch) as f64 / train_set.len() as f64;
    cfg.eval_subset = 1_000;
    let net = cfg.arch.build(train_set.shape, 10).unwrap();
    let stop = AtomicBool::new(false);
    let job = Job {
        config: &cfg,
        net: &net,
        train: &train_set,
        test: &test,
        source: "mnist".into(),
        command: vec![],
        interrupt: &stop,
    };
    train(&job, net.init_params(cfg.init(), cfg.seed), &mut Quiet).unwrap()
}

/// Per-step losses recovered from the report's every-update trailing means T_k
/// (l_k = k·T_k − (k−1)·T_{k−1} while the window fills, then l_k = 10·(T_k − T_{k−1}) + l_{k−10}).
fn step_losses(r: &Report) -> Vec<f64> {
    let s = &r.minibatch_series;
    for (k, p) in s.iter().enumerate() {
        assert_eq!(p.updates, k as u64 + 1, "the series is not every update");
    }
    let mut l: Vec<f64> = Vec::with_capacity(s.len());
    for k in 0..s.len() {
        let t = s[k].trailing_loss;
        let prev = if k > 0 { s[k - 1].trailing_loss } else { 0.0 };
        let x = if k < 10 {
            (k + 1) as f64 * t - k as f64 * prev
        } else {
            10.0 * (t - prev) + l[k - 10]
        };
        l.push(x);
    }
    l
}

/// The first update (1-based) whose trailing mean of 10 is at most `threshold`.
fn crossing(losses: &[f64], threshold: f64) -> Option<u64> {
    (10..=losses.len())
        .find(|&k| losses[k - 10..k].iter().sum::<f64>() / 10.0 <= threshold)
        .map(|k| k as u64)
}

#[test]
fn first_40_losses_follow_the_cpp() {
    let r = preset_run(None, 40);
    let ours = step_losses(&r);
    assert_eq!(ours.len(), 40, "{} updates", ours.len());
    let worst = ours
        .iter()
        .zip(CPP)
        .enumerate()
        .map(|(k, (a, b))| (k + 1, (a - b).abs()))
        .fold((0, 0.0), |w, x| if x.1 > w.1 { x } else { w });
    eprintln!(
        "ours: {ours:.3?}\nworst |Δ| = {:.2e} at step {}",
        worst.1, worst.0
    );
    assert!(
        worst.1 <= TOL,
        "step {}: |Δ| = {:.4} > {TOL} (ours {ours:.3?})",
        worst.0,
        worst.1
    );
}

#[test]
fn half_the_reference_loss_is_crossed_where_the_cpp_crosses_it() {
    let ours = step_losses(&preset_run(None, 40));
    let at = crossing(&ours, 0.5 * REFERENCE_INITIAL).expect("not crossed in 40 updates");
    assert_eq!(crossing(&CPP, 0.5 * REFERENCE_INITIAL), Some(CPP_CROSSING));
    let (lo, hi) = (CPP_CROSSING as f64 * 0.7, CPP_CROSSING as f64 * 1.3);
    assert!(
        (lo..=hi).contains(&(at as f64)),
        "crossed at update {at}, the C++ at {CPP_CROSSING} (±30 %: {lo}..={hi})"
    );
}

#[test]
fn another_seed_is_far_outside_the_tolerance() {
    // The tolerance above means something: the C++ semantics with seed 1 are not the trajectory.
    let ours = step_losses(&preset_run(Some(1), 10));
    let far = ours
        .iter()
        .zip(CPP)
        .filter(|(a, b)| (*a - b).abs() > 100.0 * TOL)
        .count();
    assert!(
        far >= 5,
        "seed 1 is close to seed 1337's trajectory: {ours:.3?}"
    );
}
