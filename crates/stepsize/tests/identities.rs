//! The thesis' identities, checked numerically rather than restated: the coefficients
//! p(j)η(j) − p(j+1)η(j+1) of the series Σ^∇_{p,η} (A.7) for the MindTheStep step sizes.

use staleness::Model;
use stepsize::Policy;

const J: usize = 40;

/// p(j)η(j) − p(j+1)η(j+1) for j = 0..J, with η(τ)/η0 from `policy` and η0 = `eta0`.
fn coefficients(model: &Model, policy: Policy, eta0: f64) -> (Vec<f64>, Vec<f64>) {
    let (c, p, _) = coefficients_and_scale(model, policy, eta0);
    (c, p)
}

/// Also the size of the two terms each coefficient subtracts: the identities are exact, and
/// rounding is relative to those operands (for momentum-tuned η the coefficient is ~10⁷ times
/// smaller than its terms at j = 17: catastrophic cancellation, not a failed identity).
fn coefficients_and_scale(
    model: &Model,
    policy: Policy,
    eta0: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let f = policy.factors(None, J + 1, eta0);
    let p: Vec<f64> = (0..=J + 1).map(|j| model.pmf(j as u64)).collect();
    let pe: Vec<f64> = (0..=J + 1).map(|j| p[j] * f[j] * eta0).collect();
    let coef = (0..J).map(|j| pe[j] - pe[j + 1]).collect();
    let scale = (0..J).map(|j| pe[j].abs() + pe[j + 1].abs()).collect();
    (coef, p, scale)
}

/// Thm A.4.5: with η of A.14 every coefficient vanishes for a CMP staleness pmf.
#[test]
fn a14_cancels_every_coefficient_for_cmp() {
    for (lambda, nu) in [(3.0, 1.0), (8.0, 1.7), (2.5, 0.6), (16.0, 3.48)] {
        let model = Model::Cmp { lambda, nu };
        let (coef, p) = coefficients(
            &model,
            Policy::MindTheStepCmp {
                lambda_nu: Some((lambda, nu)),
                c: 0.7,
            },
            0.01,
        );
        for (j, c) in coef.iter().enumerate() {
            // Relative to the size of the terms being subtracted (p(j)η(j) = C·η0/Z).
            let scale = p[j]
                * Policy::MindTheStepCmp {
                    lambda_nu: Some((lambda, nu)),
                    c: 0.7,
                }
                .factors(None, j, 0.01)[j]
                * 0.01;
            assert!(
                c.abs() <= 1e-12 * scale.abs().max(1e-300),
                "λ={lambda} ν={nu} j={j}: {c} (terms {scale})"
            );
        }
    }
}

/// Thm A.4.6 / Cor. A.4.7: every coefficient equals K·p(j) — true for the corrected c(τ)
/// (without the e^{−λ} of the printed A.17/A.18), for Poisson and for CMP with ν ≠ 1.
#[test]
fn a16_a17_coefficients_equal_k_p_in_the_corrected_form() {
    for (lambda, nu) in [(4.0, 1.0), (2.0, 1.0), (6.0, 1.6), (3.0, 0.7)] {
        let (k, eta0) = (0.8, 0.01);
        let model = Model::Cmp { lambda, nu };
        let (coef, p, scale) = coefficients_and_scale(
            &model,
            Policy::MindTheStepMomentum {
                lambda_nu: Some((lambda, nu)),
                k,
                printed: false,
            },
            eta0,
        );
        for j in 0..J {
            let want = k * p[j];
            assert!(
                (coef[j] - want).abs() <= 1e-13 * scale[j] + 1e-12 * want.abs(),
                "λ={lambda} ν={nu} j={j}: {} vs K·p(j) = {want} (terms {})",
                coef[j],
                scale[j]
            );
        }
    }
}

/// The printed A.17 (and A.18, its ν = 1 case) give K·e^{−λ}·p(j) instead: the identity as
/// printed does not hold. Documented in docs/stepsize.md with these numbers.
#[test]
fn a17_as_printed_gives_k_exp_minus_lambda_p() {
    for (lambda, nu) in [(4.0, 1.0), (6.0, 1.6)] {
        let (k, eta0) = (0.8, 0.01);
        let model = Model::Cmp { lambda, nu };
        let (coef, p, scale) = coefficients_and_scale(
            &model,
            Policy::MindTheStepMomentum {
                lambda_nu: Some((lambda, nu)),
                k,
                printed: true,
            },
            eta0,
        );
        for j in 0..J {
            let want = k * (-lambda).exp() * p[j];
            assert!(
                (coef[j] - want).abs() <= 1e-13 * scale[j] + 1e-12 * want.abs(),
                "λ={lambda} ν={nu} j={j}: {} vs K·e^-λ·p(j) = {want}",
                coef[j]
            );
            assert!(
                (coef[j] - k * p[j]).abs() > 0.5 * k * p[j],
                "printed form unexpectedly matches K·p(j)"
            );
        }
    }
}

/// A.18 through the incomplete gamma function equals the direct sum of A.17 for ν = 1.
#[test]
fn a18_matches_a17_for_poisson() {
    let lambda = 5.0;
    let direct = Policy::MindTheStepMomentum {
        lambda_nu: Some((lambda, 1.0 + 1e-12)),
        k: 0.5,
        printed: true,
    }
    .factors(None, 20, 0.01);
    let gamma = Policy::MindTheStepMomentum {
        lambda_nu: Some((lambda, 1.0)),
        k: 0.5,
        printed: true,
    }
    .factors(None, 20, 0.01);
    for t in 0..=20 {
        assert!(
            (direct[t] - gamma[t]).abs() <= 1e-8 * gamma[t].abs().max(1.0),
            "τ={t}: {} vs {}",
            direct[t],
            gamma[t]
        );
    }
}

/// Thm A.4.3 and Cor. A.4.4: with η of A.9 under Geom(p), every coefficient is
/// (μ − 1)·p(j)η(j) with μ = 2 − (1 − p)/C (A.10), and C of A.11 yields the desired μ*.
#[test]
fn a9_a11_geometric_momentum() {
    for (p, mu_star) in [(0.3, 0.0), (0.1, 0.5), (0.05, 0.9)] {
        let model = Model::Geometric { p };
        let policy = Policy::MindTheStepGeometric {
            p: Some(p),
            momentum: mu_star,
        };
        let c = (1.0 - p) / (2.0 - mu_star);
        let mu = 2.0 - (1.0 - p) / c;
        assert!((mu - mu_star).abs() < 1e-12, "A.10 ∘ A.11");
        let f = policy.factors(None, J + 1, 1.0);
        let (coef, pj) = coefficients(&model, policy, 1.0);
        for j in 0..J {
            let want = (mu - 1.0) * pj[j] * f[j];
            assert!(
                (coef[j] - want).abs() <= 1e-12 * want.abs().max(1e-300),
                "p={p} μ*={mu_star} j={j}: {} vs {want}",
                coef[j]
            );
        }
    }
}
