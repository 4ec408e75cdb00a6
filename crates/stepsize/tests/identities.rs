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

/// Thm A.4.3 and Cor. A.4.4, derived from Lemma A.4.1 (docs/stepsize.md): with η of A.9 under
/// Geom(p), every coefficient p(j)η(j) − p(j+1)η(j+1) of the series (A.7) is (1 − μ)·p(j)η(j)
/// with μ = (1 − p)/C, so Σ^∇ = −(1 − μ)·E[θ_i − θ_{i−1}] and the implicit momentum is μ; C of
/// the corrected A.11, C = (1 − p)/μ*, yields μ = μ*. (A.10 as printed, 2 − (1 − p)/C, would
/// give 1 + p at C = 1 instead of Thm A.4.2's 1 − p.)
#[test]
fn a9_a11_geometric_momentum() {
    for (p, mu_star) in [(0.3, 0.7), (0.3, 0.2), (0.1, 0.5), (0.05, 0.9)] {
        let model = Model::Geometric { p };
        let policy = Policy::MindTheStepGeometric {
            p: Some(p),
            momentum: mu_star,
        };
        let c = (1.0 - p) / mu_star;
        let f = policy.factors(None, J + 1, 1.0);
        for (t, &x) in f.iter().enumerate() {
            let want = c.powi(-(t as i32)) / p;
            assert!(
                (x - want).abs() <= 1e-12 * want,
                "A.9 at τ = {t}: {x} vs {want}"
            );
        }
        let (coef, pj) = coefficients(&model, policy, 1.0);
        for j in 0..J {
            let want = (1.0 - mu_star) * pj[j] * f[j];
            assert!(
                (coef[j] - want).abs() <= 1e-12 * want.abs().max(1e-300),
                "p={p} μ*={mu_star} j={j}: {} vs {want}",
                coef[j]
            );
        }
    }
}

/// The implicit momentum measured, not derived: asynchronous SGD on L(θ) = θ²/2 with Geom(p)
/// staleness (τ_i i.i.d., the view θ_{i−τ_i}, history before the start equal to θ_0), step
/// η0·c(τ) from the policy. Averaged over R runs, x_i = E[θ_i] obeys
/// x_{i+1} − x_i = μ (x_i − x_{i−1}) − η0 x_i exactly (the gradient is linear and τ_i is
/// independent of the past), so μ is the least-squares slope of x_{i+1} − x_i + η0 x_i on
/// x_i − x_{i−1}. With R = 20 000 runs of 60 updates the estimate's Monte-Carlo spread is below
/// 0.01 (measured over seeds); the tolerance is 0.03, and A.10's prediction 2 − μ* is ≥ 0.6 away.
#[test]
fn geometric_staleness_on_a_quadratic_has_the_momentum_a11_asks_for() {
    use rand::{RngExt, SeedableRng};
    let (p, eta0, runs, steps) = (0.3, 0.1, 20_000, 60);
    for (i, mu_star) in [0.7, 0.5, 0.2, 0.0].into_iter().enumerate() {
        let f = Policy::MindTheStepGeometric {
            p: Some(p),
            momentum: mu_star,
        }
        .factors(None, 400, eta0);
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(40 + i as u64);
        let mut x = vec![0.0f64; steps + 1];
        let mut theta = vec![0.0f64; steps + 1];
        for _ in 0..runs {
            theta[0] = 1.0;
            for t in 0..steps {
                // Geom(p) on {0, 1, …}: failures before the first success.
                let u: f64 = 1.0 - rng.random::<f64>();
                let tau = (u.ln() / (1.0 - p).ln()).floor() as usize;
                let view = theta[t.saturating_sub(tau)];
                theta[t + 1] = theta[t] - eta0 * f[tau.min(400)] * view;
            }
            x.iter_mut().zip(&theta).for_each(|(a, b)| *a += b);
        }
        x.iter_mut().for_each(|v| *v /= runs as f64);
        let (mut yz, mut zz) = (0.0, 0.0);
        for t in 1..steps {
            let y = x[t + 1] - x[t] + eta0 * x[t];
            let z = x[t] - x[t - 1];
            yz += y * z;
            zz += z * z;
        }
        let mu = yz / zz;
        assert!(
            (mu - mu_star).abs() <= 0.03,
            "μ* = {mu_star}: measured implicit momentum {mu:.4}"
        );
        assert!((mu - (2.0 - mu_star)).abs() > 0.5);
        eprintln!("μ* = {mu_star}: measured {mu:.4}");
    }
}

/// μ* = 0 is the limit C → ∞ of A.11: fresh updates get η0/p, stale ones nothing; E[η] under
/// Geom(p) is then exactly η0 (Σ μ*^τ = 1), not a divergent series kept finite by a clamp.
#[test]
fn zero_momentum_is_the_explicit_limit() {
    let f = Policy::MindTheStepGeometric {
        p: Some(0.25),
        momentum: 0.0,
    }
    .factors(None, 8, 0.01);
    assert_eq!(f, [4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    let model = Model::Geometric { p: 0.25 };
    let mean: f64 = (0..=8).map(|t| model.pmf(t as u64) * f[t]).sum();
    assert!((mean - 1.0).abs() < 1e-12);
}
