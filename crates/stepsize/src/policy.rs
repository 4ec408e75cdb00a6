//! The policies: the shape of η(τ)/η0, tabulated over τ = 0..=τ_max.

use crate::PolicyError;
use staleness::special::{gamma_q, ln_factorial};
use staleness::{cmp_ln_z, Counts, Family, Model};

/// The shape φ of Theorem C.4.8: non-decreasing on [0, 1], φ(0) = 0, φ(1) = 1, ∫φ = 1/2 (C.8).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Phi {
    /// φ(x) = x: Definition C.4.5.
    Identity,
    /// φ(x) = 3x² − 2x³: flat near both ends, so small CDF differences among the commonest τ
    /// move the step less.
    Smoothstep,
    /// φ(x) = 2^{k−1}x^k below 1/2, mirrored above (k ≥ 1): k > 1 sharpens the transition
    /// around the median staleness.
    Power(f64),
}

impl Phi {
    pub fn eval(self, x: f64) -> f64 {
        let x = x.clamp(0.0, 1.0);
        match self {
            Phi::Identity => x,
            Phi::Smoothstep => x * x * (3.0 - 2.0 * x),
            Phi::Power(k) => {
                if x <= 0.5 {
                    2f64.powf(k - 1.0) * x.powf(k)
                } else {
                    1.0 - 2f64.powf(k - 1.0) * (1.0 - x).powf(k)
                }
            }
        }
    }

    /// Φ(x) = ∫₀ˣ φ, so that Φ(1) = 1/2 under (C.8).
    pub fn integral(self, x: f64) -> f64 {
        let x = x.clamp(0.0, 1.0);
        match self {
            Phi::Identity => x * x / 2.0,
            Phi::Smoothstep => x * x * x - x * x * x * x / 2.0,
            Phi::Power(k) => {
                let c = 2f64.powf(k - 1.0);
                if x <= 0.5 {
                    c * x.powf(k + 1.0) / (k + 1.0)
                } else {
                    // ∫₀^½ + ∫_½^x (1 − c(1−t)^k) dt
                    let half = c * 0.5f64.powf(k + 1.0) / (k + 1.0);
                    half + (x - 0.5)
                        - c * (0.5f64.powf(k + 1.0) - (1.0 - x).powf(k + 1.0)) / (k + 1.0)
                }
            }
        }
    }
}

/// Which CDF TAIL-τ evaluates φ on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CdfForm {
    /// φ(F(τ)), F(τ) = P[τ' ≤ τ]: Definition C.4.5 as printed. On a discrete distribution the
    /// mean factor is 1 − A(Σ_τ p(τ)(2φ(F(τ))) − 1) ≠ 1 (the proof of Thm C.4.8 integrates a
    /// continuous extension).
    Thesis,
    /// The average of φ over the CDF step of τ: (Φ(F(τ)) − Φ(F(τ−1))) / p(τ). Exactly
    /// mean-preserving on any discrete distribution and still non-increasing in τ. For
    /// φ(x) = x this is the mid-point CDF F(τ−1) + p(τ)/2.
    Exact,
    /// The thesis' C++ code: P[τ' < τ] (strict), from a histogram sampled once and then frozen.
    /// Mean factor 1 + A·Σp² (with φ = identity).
    ThesisCode,
}

/// A step-size policy: the shape of η(τ)/η0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Policy {
    Constant,
    /// η0 / max(τ, 1).
    Inverse,
    /// η0 · e^{−βτ}.
    Fleet {
        beta: f64,
    },
    /// η0 · (1 + A(1 − 2φ(F(τ)))), A ∈ [0, 1].
    TailTau {
        amplitude: f64,
        phi: Phi,
        form: CdfForm,
    },
    /// MindTheStep under a geometric staleness model (A.9): η0 · C^{−τ} / p, with C chosen for a
    /// desired implicit momentum μ* ∈ [0, 1): C = (1 − p)/μ* (A.11 corrected; the printed
    /// (1 − p)/(2 − μ*) carries a sign error, see `docs/stepsize.md`). μ* = 0 is the limit
    /// C → ∞: η0/p for τ = 0 and 0 for every stale update. `p = None`: fitted to the live
    /// histogram (maximum likelihood) at every refresh.
    MindTheStepGeometric {
        p: Option<f64>,
        momentum: f64,
    },
    /// MindTheStep under a CMP model (A.14): η0 · C λ^{−τ} (τ!)^ν, which cancels the series
    /// Σ^∇_{p,η} of A.7 (Thm A.4.5). `None`: (λ, ν) fitted to the live histogram (minimum
    /// Bhattacharyya distance).
    MindTheStepCmp {
        lambda_nu: Option<(f64, f64)>,
        c: f64,
    },
    /// Momentum-tuned MindTheStep (A.16–A.17): η0 · c(τ) λ^{−τ} (τ!)^ν with
    /// c(τ) = 1 − (K/η0)·Σ_{j<τ} λ^j/(j!)^ν, times e^{−λ} in the `printed` form (see
    /// `docs/stepsize.md`: only the form without e^{−λ} makes every coefficient of A.7 equal
    /// K·p(j), as Thm A.4.6 states). For ν = 1 this is A.18, evaluated with the regularised upper
    /// incomplete gamma function. `None`: fitted to the live histogram.
    MindTheStepMomentum {
        lambda_nu: Option<(f64, f64)>,
        k: f64,
        printed: bool,
    },
}

impl Policy {
    /// FLeet with β from §C.6 footnote 3: (τ_th/2 + 1)⁻¹ = e^{−βτ_th/2}, τ_th = m + 1.
    pub fn fleet_for_threads(m: usize) -> Policy {
        let th = (m + 1) as f64;
        Policy::Fleet {
            beta: 2.0 * (th / 2.0 + 1.0).ln() / th,
        }
    }
    /// Check every parameter against its domain (the table would otherwise be meaningless: NaN,
    /// negative, or a division by zero).
    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |field, value: f64, expected| {
            Err(PolicyError::Invalid {
                field,
                value,
                expected,
            })
        };
        match *self {
            Policy::Constant | Policy::Inverse => Ok(()),
            Policy::Fleet { beta } if !(beta.is_finite() && beta >= 0.0) => {
                bad("Fleet.beta", beta, "finite and >= 0")
            }
            Policy::Fleet { .. } => Ok(()),
            Policy::TailTau { amplitude, phi, .. } => {
                if !(0.0..=1.0).contains(&amplitude) {
                    return bad("TailTau.amplitude", amplitude, "in [0, 1] (Lemma C.4.7)");
                }
                match phi {
                    Phi::Power(k) if !(k.is_finite() && k >= 1.0) => {
                        bad("TailTau.phi.Power", k, "finite and >= 1")
                    }
                    _ => Ok(()),
                }
            }
            Policy::MindTheStepGeometric { p, momentum } => {
                if let Some(p) = p.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
                    return bad("MindTheStepGeometric.p", p, "in (0, 1]");
                }
                if !(0.0..1.0).contains(&momentum) {
                    // μ = (1 − p)/C ≥ 0 for C > 0, and E[η]/η0 = Σ μ*^τ = 1/(1 − μ*) under the
                    // model: infinite at μ* = 1.
                    return bad(
                        "MindTheStepGeometric.momentum",
                        momentum,
                        "in [0, 1): E[eta] = eta0/(1 - momentum) under Geom(p)",
                    );
                }
                Ok(())
            }
            Policy::MindTheStepCmp { lambda_nu, c } => {
                check_cmp("MindTheStepCmp.lambda_nu", lambda_nu)?;
                if !(c.is_finite() && c > 0.0) {
                    return bad("MindTheStepCmp.c", c, "finite and > 0");
                }
                Ok(())
            }
            Policy::MindTheStepMomentum { lambda_nu, k, .. } => {
                check_cmp("MindTheStepMomentum.lambda_nu", lambda_nu)?;
                if !(k.is_finite() && k >= 0.0) {
                    return bad("MindTheStepMomentum.k", k, "finite and >= 0");
                }
                Ok(())
            }
        }
    }

    /// Whether η(τ)/η0 is bounded in τ whatever histogram it is refreshed from, given η0. The
    /// MindTheStep forms are not in general, and then need [`crate::Options::cap`]:
    /// - A.14: (τ!)^ν/λ^τ → ∞, and E[η] = Σ_τ p(τ)·Cη0/(Z p(τ)) = ∞ under its own model.
    /// - A.16–A.17: c(τ) decreases to 1 − (K/η0)·S with S = Z (corrected) or Z e^{−λ}
    ///   (printed); if that limit is ≥ 0 the factor grows like (τ!)^ν/λ^τ. Bounded only for
    ///   given (λ, ν) with (K/η0)·S > 1 (the tail is then negative and clamped to 0).
    /// - A.9: C^{−τ}/p = (μ*/(1 − p))^τ/p grows when μ* > 1 − p; bounded for μ* = 0, or for a
    ///   given p ≤ 1 − μ*.
    pub fn is_bounded(&self, eta0: f64) -> bool {
        match *self {
            Policy::MindTheStepCmp { .. } => false,
            Policy::MindTheStepMomentum {
                lambda_nu: Some((lambda, nu)),
                k,
                printed,
            } => {
                let ln_s = cmp_ln_z(lambda, nu) - if printed { lambda } else { 0.0 };
                (k / eta0).ln() + ln_s > 0.0
            }
            Policy::MindTheStepMomentum {
                lambda_nu: None, ..
            } => false,
            Policy::MindTheStepGeometric { p, momentum } => {
                momentum == 0.0 || p.is_some_and(|p| momentum <= 1.0 - p)
            }
            _ => true,
        }
    }

    /// Whether the table depends on the observed staleness distribution.
    pub fn is_instance_based(&self) -> bool {
        matches!(
            self,
            Policy::TailTau { .. }
                | Policy::MindTheStepGeometric { p: None, .. }
                | Policy::MindTheStepCmp {
                    lambda_nu: None,
                    ..
                }
                | Policy::MindTheStepMomentum {
                    lambda_nu: None,
                    ..
                }
        )
    }
    /// This policy with every parameter it would fit live filled in from `counts` (mts-geom's
    /// p, the CMP forms' (λ, ν)), as its table was computed: what a report shows.
    pub fn resolved(&self, counts: &Counts) -> Policy {
        let counts = Some(counts).filter(|c| c.total() > 0);
        match *self {
            Policy::MindTheStepGeometric { p: None, momentum } => Policy::MindTheStepGeometric {
                p: counts
                    .and_then(|c| staleness::fit_mle(Family::Geometric, c))
                    .and_then(|f| f.model.params().first().map(|x| x.1)),
                momentum,
            },
            Policy::MindTheStepCmp { lambda_nu: None, c } => Policy::MindTheStepCmp {
                lambda_nu: fitted_cmp(counts),
                c,
            },
            Policy::MindTheStepMomentum {
                lambda_nu: None,
                k,
                printed,
            } => Policy::MindTheStepMomentum {
                lambda_nu: fitted_cmp(counts),
                k,
                printed,
            },
            other => other,
        }
    }

    /// The factor c(τ) = η(τ)/η0 for τ = 0..=τ_max, given the observed counts (needed by
    /// instance-based policies; without a histogram they give c = 1) and η0 (which the
    /// momentum-tuned form depends on). Factors may be negative or huge for MindTheStep forms;
    /// [`crate::Adaptive`] clamps them to [0, cap].
    pub fn factors(&self, counts: Option<&Counts>, tau_max: usize, eta0: f64) -> Vec<f64> {
        let counts = counts.filter(|c| c.total() > 0);
        let ones = || vec![1.0; tau_max + 1];
        match *self {
            Policy::MindTheStepGeometric { p, momentum } => {
                let Some(p) = p.or_else(|| {
                    counts
                        .and_then(|c| staleness::fit_mle(Family::Geometric, c))
                        .and_then(|f| f.model.params().first().map(|x| x.1))
                }) else {
                    return ones();
                };
                if momentum == 0.0 {
                    // C → ∞: C^{−τ} is 1 at τ = 0 and 0 above (ln C = ∞ would give 0·∞ = NaN).
                    return (0..=tau_max)
                        .map(|t| if t == 0 { 1.0 / p } else { 0.0 })
                        .collect();
                }
                // C^{−τ} = (μ*/(1 − p))^τ, with C = (1 − p)/μ*.
                let r = momentum / (1.0 - p);
                (0..=tau_max)
                    .map(|t| (t as f64 * r.ln()).exp() / p)
                    .collect()
            }
            Policy::MindTheStepCmp { lambda_nu, c } => {
                let Some((lambda, nu)) = lambda_nu.or_else(|| fitted_cmp(counts)) else {
                    return ones();
                };
                (0..=tau_max)
                    .map(|t| c * (nu * ln_factorial(t as u64) - t as f64 * lambda.ln()).exp())
                    .collect()
            }
            Policy::MindTheStepMomentum {
                lambda_nu,
                k,
                printed,
            } => {
                let Some((lambda, nu)) = lambda_nu.or_else(|| fitted_cmp(counts)) else {
                    return ones();
                };
                (0..=tau_max)
                    .map(|t| momentum_factor(t as u64, lambda, nu, k, eta0, printed))
                    .collect()
            }
            Policy::Constant => vec![1.0; tau_max + 1],
            Policy::Inverse => (0..=tau_max).map(|t| 1.0 / t.max(1) as f64).collect(),
            Policy::Fleet { beta } => (0..=tau_max).map(|t| (-beta * t as f64).exp()).collect(),
            Policy::TailTau {
                amplitude,
                phi,
                form,
            } => {
                let Some(c) = counts.filter(|c| c.total() > 0) else {
                    return vec![1.0; tau_max + 1];
                };
                (0..=tau_max)
                    .map(|t| {
                        // The last entry stands for every τ ≥ τ_max (η(τ) reads it for all of
                        // them), so its CDF step runs to 1: the cell's own mass, overflow
                        // included, which keeps the exact form mean-preserving for any table
                        // length.
                        let f_le = if t == tau_max { 1.0 } else { c.cdf(t) };
                        let f_lt = if t == 0 { 0.0 } else { c.cdf(t - 1) };
                        let v = match form {
                            CdfForm::Thesis => phi.eval(f_le),
                            CdfForm::ThesisCode => phi.eval(f_lt),
                            CdfForm::Exact => {
                                let p = f_le - f_lt;
                                if p > 0.0 {
                                    (phi.integral(f_le) - phi.integral(f_lt)) / p
                                } else {
                                    // Unobserved τ: any value between its neighbours keeps the
                                    // function monotone; φ at the CDF is the natural one.
                                    phi.eval(f_le)
                                }
                            }
                        };
                        1.0 + amplitude * (1.0 - 2.0 * v)
                    })
                    .collect()
            }
        }
    }
}

/// (λ, ν) of the CMP model fitted to the histogram by minimum Bhattacharyya distance.
fn fitted_cmp(counts: Option<&Counts>) -> Option<(f64, f64)> {
    match staleness::fit_bhattacharyya(Family::Cmp, counts?)?.model {
        Model::Cmp { lambda, nu } => Some((lambda, nu)),
        _ => None,
    }
}

/// c(τ)·λ^{−τ}(τ!)^ν of A.16–A.17 (A.18 for ν = 1).
fn momentum_factor(t: u64, lambda: f64, nu: f64, k: f64, eta0: f64, printed: bool) -> f64 {
    let scale = (nu * ln_factorial(t) - t as f64 * lambda.ln()).exp();
    if t == 0 {
        return scale;
    }
    // S(τ) = Σ_{j<τ} λ^j/(j!)^ν; the printed A.17 divides it by e^λ.
    let partial = if nu == 1.0 {
        // e^{−λ} S(τ) = Q(τ, λ) = Γ(τ, λ)/Γ(τ) (A.18).
        let q = gamma_q(t as f64, lambda);
        if printed {
            q
        } else {
            q * lambda.exp()
        }
    } else {
        let s: f64 = (0..t)
            .map(|j| (j as f64 * lambda.ln() - nu * ln_factorial(j)).exp())
            .sum();
        if printed {
            s * (-lambda).exp()
        } else {
            s
        }
    };
    (1.0 - k / eta0 * partial) * scale
}

fn check_cmp(field: &'static str, lambda_nu: Option<(f64, f64)>) -> Result<(), PolicyError> {
    match lambda_nu {
        Some((l, n)) if !(l.is_finite() && l > 0.0 && n.is_finite() && n > 0.0) => {
            Err(PolicyError::Invalid {
                field,
                value: if l.is_finite() && l > 0.0 { n } else { l },
                expected: "lambda and nu finite and > 0",
            })
        }
        _ => Ok(()),
    }
}
