//! The regulator as a deterministic state machine on synthetic convergence-rate curves.

use elastic::{Phase, Regulator, RegulatorConfig};

/// Drive the regulator on a synthetic run: at level m, each update takes 1/m ms and the loss
/// falls at rate(m, t) per second, plus Gaussian-ish noise of size `noise` per mini-batch.
fn simulate(
    cfg: RegulatorConfig,
    updates: u64,
    mut rate: impl FnMut(usize, f64) -> f64,
    noise: f64,
    seed: u64,
) -> Regulator {
    let mut reg = Regulator::new(cfg);
    let (mut loss, mut t) = (1000.0, 0.0);
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut gauss = || {
        // Sum of 4 uniforms, centred and scaled to unit variance.
        let mut acc = 0.0;
        for _ in 0..4 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            acc += (s >> 11) as f64 / (1u64 << 53) as f64;
        }
        (acc - 2.0) * 3f64.sqrt()
    };
    // Run at least `updates`, then finish any probing phase: the level is judged in execution.
    let mut i = 0;
    while i < updates || reg.phase() == elastic::Phase::Probing {
        let m = reg.parallelism();
        let dt = 1e-3 / m as f64;
        t += dt;
        loss += rate(m, t) * dt;
        reg.on_update(i, loss + noise * gauss(), t);
        i += 1;
    }
    reg
}

/// Unimodal: the best level is `opt`.
fn unimodal(opt: usize) -> impl FnMut(usize, f64) -> f64 {
    move |m, _| -(10.0 - (m as f64 - opt as f64).powi(2))
}

#[test]
fn reaches_the_optimum_of_a_unimodal_curve_from_any_start() {
    for opt in 1..=8 {
        for start in 1..=8 {
            let cfg = RegulatorConfig {
                max_workers: 8,
                initial: Some(start),
                ..RegulatorConfig::default()
            };
            let reg = simulate(cfg, 6_000, unimodal(opt), 0.0, 1);
            assert_eq!(
                reg.parallelism(),
                opt,
                "optimum {opt}, start {start}: history {:?}",
                reg.history()
            );
        }
    }
}

#[test]
fn first_probe_walks_and_then_runs_an_execution_phase() {
    let cfg = RegulatorConfig {
        max_workers: 16,
        initial: Some(2),
        ..RegulatorConfig::default()
    };
    let mut reg = Regulator::new(cfg);
    let (mut loss, mut t, mut i) = (1000.0, 0.0, 0u64);
    while reg.phase() == Phase::Probing || i == 0 {
        let m = reg.parallelism();
        t += 1e-3 / m as f64;
        loss -= (10.0 - (m as f64 - 9.0).powi(2)) * 1e-3 / m as f64;
        reg.on_update(i, loss, t);
        i += 1;
    }
    assert_eq!(
        reg.parallelism(),
        9,
        "walked from 2 to 9: {:?}",
        reg.history()
    );
    let levels: Vec<usize> = reg.history().iter().map(|h| h.1).collect();
    assert!(
        levels.windows(2).all(|w| w[0].abs_diff(w[1]) <= 2),
        "moves by at most the window: {levels:?}"
    );
    // Execution phase lasts I_P·m updates.
    let at = i;
    while reg.phase() == Phase::Executing {
        reg.on_update(i, loss, t);
        i += 1;
        t += 1e-3;
    }
    assert_eq!(i - at, 100 * 9);
}

#[test]
fn follows_an_optimum_that_drifts_by_at_most_wp_per_cycle() {
    // The optimum moves 2 → 7 and back, one level every ~3 cycles.
    let cfg = RegulatorConfig {
        max_workers: 8,
        initial: Some(2),
        ..RegulatorConfig::default()
    };
    let drift = |t: f64| -> usize {
        let phase = (t / 1.5) as usize % 10;
        if phase < 5 {
            2 + phase
        } else {
            12 - phase
        }
    };
    let mut reg = Regulator::new(cfg);
    let (mut loss, mut t) = (1000.0, 0.0);
    let mut tracked = 0;
    let mut samples = 0;
    for i in 0..200_000u64 {
        let m = reg.parallelism();
        let dt = 1e-3 / m as f64;
        t += dt;
        let opt = drift(t);
        loss -= (10.0 - (m as f64 - opt as f64).powi(2)) * dt;
        reg.on_update(i, loss, t);
        if reg.phase() == Phase::Executing && i % 100 == 0 {
            samples += 1;
            tracked += usize::from(reg.parallelism().abs_diff(opt) <= 1);
        }
    }
    assert!(
        tracked as f64 >= 0.9 * samples as f64,
        "within ±1 of the drifting optimum in {tracked}/{samples} samples"
    );
}

#[test]
fn least_squares_slope_finds_the_optimum_under_noise() {
    // Per-batch noise 0.05 against a loss change of ~0.01 per probe update: a two-point
    // difference of single losses would be dominated by noise; the fitted slope is not.
    let mut hits = 0;
    for seed in 0..20 {
        let cfg = RegulatorConfig {
            max_workers: 8,
            initial: Some(1),
            ..RegulatorConfig::default()
        };
        let reg = simulate(cfg, 8_000, unimodal(5), 0.05, seed);
        hits += usize::from(reg.parallelism().abs_diff(5) <= 1);
    }
    assert!(hits >= 19, "found the optimum (±1) in {hits}/20 noisy runs");
}
