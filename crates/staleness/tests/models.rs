//! Properties of the models, fit recovery on synthetic samples, histogram behaviour.

use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use staleness::fit::bhattacharyya;
use staleness::{
    fit_all, fit_bhattacharyya, fit_cmp_a13, fit_mle, Contention, Counts, Family, Histogram, Model,
};

/// Enough support to hold all but ~1e-17 of the mass.
fn support(m: &Model) -> u64 {
    match *m {
        Model::Geometric { p } => ((1e-18f64).ln() / (-p).ln_1p()).ceil() as u64 + 1,
        Model::Uniform { max } => max,
        Model::Poisson { lambda } => (lambda + 60.0 * lambda.sqrt() + 60.0) as u64,
        Model::Cmp { lambda, nu } => {
            let mu = (lambda.ln() / nu).exp();
            (mu + 60.0 * (mu / nu).sqrt() + 60.0) as u64
        }
    }
}

fn model_strategy() -> impl Strategy<Value = Model> {
    prop_oneof![
        (0.01f64..=1.0).prop_map(|p| Model::Geometric { p }),
        (0u64..500).prop_map(|max| Model::Uniform { max }),
        (-3.0f64..3.0).prop_map(|l| Model::Poisson {
            lambda: 10f64.powf(l)
        }),
        // CMP over the supported range, restricted to modes that a sum can cover.
        (-3.0f64..3.0, 0.05f64..10.0)
            .prop_filter("mode ≤ 1e4", |(l, nu)| 10f64.powf(*l).ln() / nu
                <= (1e4f64).ln())
            .prop_map(|(l, nu)| Model::Cmp {
                lambda: 10f64.powf(l),
                nu
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn pmf_sums_to_one_and_cdf_is_monotone(m in model_strategy()) {
        let n = support(&m);
        let lp = m.ln_pmf_range(n);
        let total: f64 = lp.iter().map(|l| l.exp()).sum();
        prop_assert!((total - 1.0).abs() <= 1e-12, "{m:?}: Σ pmf = {total}");
        // log-pmf agrees with pmf, and the range version with single evaluations.
        for k in [0, 1.min(n), n / 3, n / 2, n] {
            let single = m.ln_pmf(k);
            prop_assert!((single - lp[k as usize]).abs() <= 1e-9 * single.abs().max(1.0) || (single.exp() < 1e-300), "{m:?} k={k}: {single} vs {}", lp[k as usize]);
            prop_assert!((m.pmf(k) - single.exp()).abs() <= 1e-15);
        }
        // CDF: monotone, ends at 1, agrees with the summed pmf.
        let mut prev = 0.0;
        let mut acc = 0.0;
        for k in (0..=n).step_by((n as usize / 40).max(1)) {
            let c = m.cdf(k);
            prop_assert!(c >= prev - 1e-15, "{m:?}: F({k}) = {c} < {prev}");
            prev = c;
            acc = lp[..=k as usize].iter().map(|l| l.exp()).sum::<f64>();
            prop_assert!((c - acc).abs() <= 1e-9, "{m:?}: F({k}) = {c}, Σ pmf = {acc}");
        }
        let _ = acc;
        prop_assert!((m.cdf(n) - 1.0).abs() <= 1e-12, "{m:?}: F(end) = {}", m.cdf(n));
        // Mean from the pmf.
        let mean: f64 = lp.iter().enumerate().map(|(k, l)| k as f64 * l.exp()).sum();
        prop_assert!((m.mean() - mean).abs() <= 1e-6 * mean.max(1.0), "{m:?}: mean {} vs {mean}", m.mean());
        // Mode: no value has a larger pmf.
        let mode = m.mode() as usize;
        prop_assert!(lp.iter().all(|&l| l <= lp[mode] + 1e-12), "{m:?}: mode {mode}");
    }

    #[test]
    fn bhattacharyya_is_zero_on_itself_and_symmetric(a in proptest::collection::vec(0u64..50, 1..30), b in proptest::collection::vec(0u64..50, 1..30)) {
        let (ca, cb) = (Counts::from_counts(a.clone()), Counts::from_counts(b));
        prop_assume!(ca.total() > 0 && cb.total() > 0);
        prop_assert!(bhattacharyya(&ca, &ca).abs() <= 1e-12);
        prop_assert!((bhattacharyya(&ca, &cb) - bhattacharyya(&cb, &ca)).abs() <= 1e-12);
        prop_assert!(bhattacharyya(&ca, &cb) >= 0.0);
        // Scaling all counts does not change the distribution.
        let scaled = Counts::from_counts(a.iter().map(|x| 3 * x).collect());
        prop_assert!(bhattacharyya(&ca, &scaled).abs() <= 1e-12);
    }
}

/// Inverse-CDF sampling from a model's pmf table.
fn sample(m: &Model, n: usize, seed: u64) -> Counts {
    let top = support(m).min(100_000);
    let mut cum = Vec::with_capacity(top as usize + 1);
    let mut acc = 0.0;
    for l in m.ln_pmf_range(top) {
        acc += l.exp();
        cum.push(acc);
    }
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    Counts::from_samples((0..n).map(|_| {
        let u: f64 = rng.random::<f64>() * acc;
        cum.partition_point(|&c| c < u) as u64
    }))
}

/// Recovery from 10⁵ samples; tolerances (relative) are ~5 standard errors of each estimator
/// at that sample size, measured and stated in docs/staleness.md.
#[test]
fn fits_recover_the_generating_parameters() {
    let n = 100_000;
    let cases = [
        (Model::Geometric { p: 0.3 }, 0.02),
        (Model::Geometric { p: 0.05 }, 0.03),
        (Model::Poisson { lambda: 2.0 }, 0.02),
        (Model::Poisson { lambda: 16.0 }, 0.01),
        (Model::Uniform { max: 22 }, 0.0),
        (
            Model::Cmp {
                lambda: 8.0,
                nu: 1.8,
            },
            0.10,
        ),
        (
            Model::Cmp {
                lambda: 3.0,
                nu: 0.6,
            },
            0.10,
        ),
    ];
    for (i, (truth, tol)) in cases.iter().enumerate() {
        let c = sample(truth, n, i as u64 + 7);
        for fit in [
            fit_bhattacharyya(truth.family(), &c).unwrap(),
            fit_mle(truth.family(), &c).unwrap(),
        ] {
            for ((name, want), (_, got)) in truth.params().iter().zip(fit.model.params()) {
                let rel = (got - want).abs() / want.abs();
                assert!(
                    rel <= *tol,
                    "{truth:?} by {:?}: {name} = {got}, relative error {rel:.4} > {tol}",
                    fit.method
                );
            }
        }
        // The generating family fits best (or ties) by likelihood.
        let r = fit_all(&c, None);
        let best = &r.by_likelihood[0];
        let own = r
            .by_likelihood
            .iter()
            .find(|f| f.model.family() == truth.family())
            .unwrap();
        assert!(
            own.log_likelihood >= best.log_likelihood - 2.0,
            "{truth:?}: best is {:?}",
            best.model
        );
    }
}

#[test]
fn a13_search_lands_on_lambda_equal_m_to_the_nu() {
    let c = sample(
        &Model::Cmp {
            lambda: 4f64.powf(3.0),
            nu: 3.0,
        },
        50_000,
        3,
    );
    let f = fit_cmp_a13(&c, 4.0).unwrap();
    let Model::Cmp { lambda, nu } = f.model else {
        panic!()
    };
    assert!((nu - 3.0).abs() < 0.15, "ν = {nu}");
    assert!((lambda - 4f64.powf(nu)).abs() < 1e-9 * lambda);
    assert!(f.bhattacharyya < 1e-3);
}

#[test]
fn overflow_is_a_censored_cell() {
    // Poisson(30) recorded into a histogram with τ_max = 25: the MLE must still find λ ≈ 30.
    let full = sample(&Model::Poisson { lambda: 30.0 }, 100_000, 11);
    let h = Histogram::new(25);
    for (k, &c) in full.counts().iter().enumerate() {
        for _ in 0..c {
            h.record(k as u64);
        }
    }
    let c = h.snapshot();
    assert!(c.overflow() > 0);
    let Model::Poisson { lambda } = fit_mle(Family::Poisson, &c).unwrap().model else {
        panic!()
    };
    assert!((lambda - 30.0).abs() < 0.3, "λ = {lambda}");
}

#[test]
fn concurrent_recording_loses_no_count() {
    let h = Histogram::new(32);
    let threads = 8;
    let per = 100_000u64;
    std::thread::scope(|s| {
        for t in 0..threads {
            let h = &h;
            s.spawn(move || (0..per).for_each(|i| h.record((i * 7 + t) % 40)));
        }
    });
    let c = h.snapshot();
    assert_eq!(c.total(), threads * per);
    // Values 33..39 land in the overflow bucket.
    let want_over: u64 = (0..threads)
        .map(|t| (0..per).filter(|i| (i * 7 + t) % 40 > 32).count() as u64)
        .sum();
    assert_eq!(c.overflow(), want_over);
}

#[test]
fn counts_statistics() {
    let c = Counts::from_counts(vec![1, 2, 3, 4]);
    assert_eq!(c.total(), 10);
    assert!((c.mean() - 2.0).abs() < 1e-12);
    assert!((c.variance() - 1.0).abs() < 1e-12);
    assert_eq!(
        (
            c.quantile(0.1),
            c.quantile(0.3),
            c.quantile(0.31),
            c.quantile(1.0)
        ),
        (0, 1, 2, 3)
    );
    assert_eq!(c.mode(), 3);
    assert_eq!((c.cdf(0), c.cdf(2), c.cdf(9)), (0.1, 0.6, 1.0));
    let mut m = c.clone();
    m.merge(&Counts::from_counts(vec![0, 0, 0, 0, 10]));
    assert_eq!((m.total(), m.count(4)), (20, 10));
    assert_eq!(m.since(&c).counts(), &[0, 0, 0, 0, 10]);
}

#[test]
fn contention_model_closed_form_matches_iteration() {
    let c = Contention {
        m: 16.0,
        tc: 40.0,
        tu: 1.5,
    };
    let traj = c.trajectory(0.0, 200);
    let mut n = 0.0;
    for (i, &t) in traj.iter().enumerate() {
        assert!(
            (t - n).abs() < 1e-9,
            "step {i}: closed form {t}, iteration {n}"
        );
        n = c.step(n);
    }
    assert!((traj[199] - c.fixed_point()).abs() < 1e-6);
    assert!((c.step(c.fixed_point()) - c.fixed_point()).abs() < 1e-12);
    assert!((c.fixed_point() - 16.0 * 1.5 / 41.5).abs() < 1e-12);
    assert!(c.fixed_point_persistence(0.5) < c.fixed_point());
    assert!((c.fixed_point_persistence(0.0) - c.fixed_point()).abs() < 1e-12);
}

/// Counts whose total passes u64::MAX: refused with a typed error where read from input, and
/// saturating (never wrapping to a small total) otherwise.
#[test]
fn counts_total_never_wraps() {
    use staleness::CountsError;
    let big = vec![u64::MAX, u64::MAX, 5];
    assert_eq!(
        Counts::try_from_counts(big.clone()),
        Err(CountsError::TotalOverflow { at_tau: 1 })
    );
    let c = Counts::from_counts(big);
    assert_eq!(c.total(), u64::MAX);
    assert!(c.mean().is_finite() && c.cdf(2) <= 1.0);
    let mut m = Counts::from_counts(vec![u64::MAX - 1, 0]);
    m.merge(&Counts::from_counts(vec![7, 3]));
    assert_eq!((m.count(0), m.total()), (u64::MAX, u64::MAX));
    let ok = Counts::try_from_counts(vec![u64::MAX - 5, 5]).unwrap();
    assert_eq!(ok.total(), u64::MAX);
}
