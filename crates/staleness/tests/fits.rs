//! The fits over the whole parameter range: exact-pmf histograms (counts = round(N·pmf),
//! N = 10⁶) must be recovered to 3 % by the generating family, which must rank first (or tie);
//! sampled histograms (10⁴ draws) within tolerances stated per case; a parameter that sits on a
//! search bound is flagged; the 1-D fits are global.

// Table A.1's ν = 6.28 is a measured value, not τ.
#![allow(clippy::approx_constant)]

use rand::{RngExt, SeedableRng};
use staleness::{
    fit_bhattacharyya, fit_cmp_a13, fit_families, fit_mle, Counts, Family, Fit, Model, Side,
};

/// Enough support to hold all but 1e-13 of the mass.
fn support(m: &Model) -> u64 {
    let mut acc = 0.0;
    let mut k = 0;
    while acc < 1.0 - 1e-13 || k <= m.mode() {
        acc += m.pmf(k);
        k += 1;
    }
    k
}

/// counts(τ) = round(N·pmf(τ)).
fn exact(m: &Model, n: f64) -> Counts {
    Counts::from_counts(
        (0..=support(m))
            .map(|k| (n * m.pmf(k)).round() as u64)
            .collect(),
    )
}

/// Inverse-CDF sampling.
fn sample(m: &Model, n: usize, seed: u64) -> Counts {
    let mut cum = Vec::new();
    let mut acc = 0.0;
    for k in 0..=support(m) {
        acc += m.pmf(k);
        cum.push(acc);
    }
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    Counts::from_samples((0..n).map(|_| {
        let u: f64 = rng.random::<f64>() * acc;
        cum.partition_point(|&c| c < u) as u64
    }))
}

/// CMP's (μ = λ^{1/ν}, ν), other families' own parameters.
fn shape(m: &Model) -> Vec<(&'static str, f64)> {
    match *m {
        Model::Cmp { lambda, nu } => vec![("mu", lambda.powf(1.0 / nu)), ("nu", nu)],
        _ => m.params(),
    }
}

fn rel(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

/// The thesis' Table A.1 CMP cells under A.13 (λ = m^ν): m = 2, 4, 8, 16, 20, 24, 28, 32.
fn table_a1() -> Vec<Model> {
    [
        (2.0f64, 6.28),
        (4.0, 5.26),
        (8.0, 4.18),
        (16.0, 3.48),
        (20.0, 0.93),
        (24.0, 0.95),
        (28.0, 0.39),
        (32.0, 0.87),
    ]
    .iter()
    .map(|&(m, nu)| Model::Cmp {
        lambda: m.powf(nu),
        nu,
    })
    .collect()
}

fn whole_range() -> Vec<Model> {
    let mut v = table_a1();
    v.extend([
        // λ ≈ 3.6·10⁷: far past the old search's λ ≤ 1000.
        Model::Cmp {
            lambda: 16f64.powf(6.28),
            nu: 6.28,
        },
        Model::Cmp {
            lambda: 8.0,
            nu: 1.8,
        },
        // Over-dispersed (ν < 1), down to near-geometric.
        Model::Cmp {
            lambda: 3.0,
            nu: 0.6,
        },
        Model::Cmp {
            lambda: 0.5,
            nu: 0.3,
        },
        Model::Cmp {
            lambda: 0.9,
            nu: 0.1,
        },
        Model::Poisson { lambda: 0.5 },
        Model::Poisson { lambda: 2.0 },
        Model::Poisson { lambda: 16.0 },
        Model::Poisson { lambda: 200.0 },
        Model::Geometric { p: 0.9 },
        Model::Geometric { p: 0.34 },
        Model::Geometric { p: 0.06 },
        Model::Geometric { p: 0.02 },
    ]);
    v
}

fn own(fits: &[Fit], family: Family) -> &Fit {
    fits.iter().find(|f| f.model.family() == family).unwrap()
}

#[test]
fn exact_histograms_are_recovered_by_their_family_within_3_percent() {
    for truth in whole_range() {
        let c = exact(&truth, 1e6);
        let fits = fit_families(&c);
        let mine = own(&fits, truth.family());
        // Ties: CMP at ν = 1 is Poisson; 1e-6 is far below any gap between families here.
        assert!(
            mine.bhattacharyya <= fits[0].bhattacharyya + 1e-6,
            "{truth:?}: {:?} (D_B {:.2e}) beats the generating family (D_B {:.2e})",
            fits[0].model,
            fits[0].bhattacharyya,
            mine.bhattacharyya
        );
        assert!(
            mine.bhattacharyya < 1e-3,
            "{truth:?}: D_B {:.2e}",
            mine.bhattacharyya
        );
        assert!(mine.is_interior(), "{truth:?}: {:?}", mine.at_bound);
        let ml = fit_mle(truth.family(), &c).unwrap();
        for f in [mine, &ml] {
            for ((name, want), (_, got)) in truth
                .params()
                .iter()
                .chain(&shape(&truth))
                .zip(f.model.params().iter().chain(&shape(&f.model)))
            {
                assert!(
                    rel(*got, *want) <= 0.03,
                    "{truth:?} by {:?}: {name} = {got}, relative error {:.4}",
                    f.method,
                    rel(*got, *want)
                );
            }
        }
    }
}

/// 10⁴ draws (one fixed seed per case). Tolerances are 5 times the root-mean-square relative
/// error measured over 40 other seeds (docs/staleness.md): CMP μ 3 %, ν 10 %; Poisson λ 4 %;
/// Geometric p 10 %. Ties: a model with one more parameter gains about χ²₁/(8N) in D_B, whose
/// 99.9 % quantile is 1.4e-4 at N = 10⁴, so the generating family must come within 2e-4 of the
/// best.
#[test]
fn sampled_histograms_are_recovered_within_stated_tolerances() {
    let mut cases: Vec<(Model, [f64; 2])> = table_a1()
        .into_iter()
        .filter(|m| matches!(m, Model::Cmp { nu, .. } if *nu > 1.0 || *nu < 0.5))
        .map(|m| (m, [0.03, 0.10]))
        .collect();
    cases.extend([
        (
            Model::Cmp {
                lambda: 3.0,
                nu: 0.6,
            },
            [0.03, 0.10],
        ),
        (
            Model::Cmp {
                lambda: 8.0,
                nu: 1.8,
            },
            [0.03, 0.10],
        ),
        (Model::Poisson { lambda: 2.0 }, [0.04, 0.0]),
        (Model::Poisson { lambda: 16.0 }, [0.04, 0.0]),
        (Model::Geometric { p: 0.34 }, [0.10, 0.0]),
        (Model::Geometric { p: 0.06 }, [0.10, 0.0]),
    ]);
    for (i, (truth, tol)) in cases.iter().enumerate() {
        let c = sample(truth, 10_000, 1000 + i as u64);
        let fits = fit_families(&c);
        let mine = own(&fits, truth.family());
        assert!(
            mine.bhattacharyya <= fits[0].bhattacharyya + 2e-4,
            "{truth:?}: {:?} (D_B {:.2e}) beats the generating family (D_B {:.2e})",
            fits[0].model,
            fits[0].bhattacharyya,
            mine.bhattacharyya
        );
        let ml = fit_mle(truth.family(), &c).unwrap();
        for f in [mine, &ml] {
            for (((name, want), (_, got)), t) in shape(truth).iter().zip(shape(&f.model)).zip(tol) {
                assert!(
                    rel(got, *want) <= *t,
                    "{truth:?} by {:?}: {name} = {got}, relative error {:.4} > {t}",
                    f.method,
                    rel(got, *want)
                );
            }
        }
    }
}

#[test]
fn a_parameter_on_a_search_bound_is_flagged() {
    // A geometric histogram: CMP approaches it only as ν → 0, below the searched 0.05.
    let c = exact(&Model::Geometric { p: 0.34 }, 1e6);
    let cmp = fit_bhattacharyya(Family::Cmp, &c).unwrap();
    assert!(
        cmp.at_bound
            .iter()
            .any(|b| b.param == "nu" && b.side == Side::Lower && b.bound == 0.05),
        "{cmp:?}"
    );
    // Every update fresh: Poisson's optimum is λ → 0, the lower bound; Geometric's is p = 1,
    // the family's own limit (not a search bound).
    let zeros = Counts::from_counts(vec![1000]);
    let pois = fit_bhattacharyya(Family::Poisson, &zeros).unwrap();
    assert_eq!(pois.at_bound.len(), 1, "{pois:?}");
    assert_eq!(
        (pois.at_bound[0].param, pois.at_bound[0].side),
        ("lambda", Side::Lower)
    );
    let geo = fit_mle(Family::Geometric, &zeros).unwrap();
    assert!(geo.is_interior() && geo.model == Model::Geometric { p: 1.0 });
    // A.13 with the wrong m: a CMP(16^3.48, 3.48) histogram searched with its mode pinned at 2
    // wants ν past 20 or below 0.05; either way the fit must say it is on a bound.
    let a1 = exact(&table_a1()[3], 1e6);
    let a13 = fit_cmp_a13(&a1, 2.0).unwrap();
    assert!(!a13.is_interior(), "{a13:?}");
    // ... and with the right m it is interior and exact.
    let a13 = fit_cmp_a13(&a1, 16.0).unwrap();
    assert!(a13.is_interior() && a13.bhattacharyya < 1e-6, "{a13:?}");
}

/// A histogram with a spike at τ = 0 and a bump near 12: D_B(λ) has a local minimum near
/// λ = 1 and the global one in the bump. The fit must find the global one (checked against a
/// brute-force scan of λ).
#[test]
fn poisson_fit_is_global_on_a_bimodal_histogram() {
    let bump = Model::Poisson { lambda: 12.5 };
    let mut counts: Vec<u64> = (0..60)
        .map(|k| (7e5 * bump.pmf(k)).round() as u64)
        .collect();
    counts[0] += 300_000;
    counts[1] += 60_000;
    let c = Counts::from_counts(counts);
    let fit = fit_bhattacharyya(Family::Poisson, &c).unwrap();
    let db = |lambda: f64| {
        let t = c.total() as f64;
        let bc: f64 = (0..=c.tau_max())
            .map(|k| (c.count(k) as f64 / t * Model::Poisson { lambda }.pmf(k as u64)).sqrt())
            .sum();
        -bc.ln()
    };
    let (best, best_d) = (1..=40_000)
        .map(|i| i as f64 * 1e-3)
        .map(|l| (l, db(l)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    let Model::Poisson { lambda } = fit.model else {
        panic!()
    };
    assert!(
        (lambda - best).abs() < 2e-3 && fit.bhattacharyya <= best_d + 1e-9,
        "fit λ = {lambda} (D_B {}), brute force λ = {best} (D_B {best_d})",
        fit.bhattacharyya
    );
}
