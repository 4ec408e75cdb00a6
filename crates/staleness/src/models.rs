//! The staleness models of Chapter A (Table A.1, eq. A.12): Geometric, bounded Uniform, Poisson
//! and Conway–Maxwell–Poisson, all on τ ∈ {0, 1, 2, …}.

use crate::special::{gamma_q, ln_dpois, ln_dpois_range, ln_int, log_sum_exp};

/// A staleness distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Model {
    /// P[τ = k] = p(1 − p)^k, p ∈ (0, 1] ([40], Thm A.4.2).
    Geometric { p: f64 },
    /// P[τ = k] = 1/(τ̂ + 1) for k ≤ τ̂ ([53]).
    Uniform { max: u64 },
    /// P[τ = k] = e^{−λ} λ^k / k!.
    Poisson { lambda: f64 },
    /// P[τ = k] = λ^k / ((k!)^ν Z(λ, ν)) (A.12).
    Cmp { lambda: f64, nu: f64 },
}

/// The four families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Geometric,
    Uniform,
    Poisson,
    Cmp,
}

impl Family {
    pub const ALL: [Family; 4] = [
        Family::Geometric,
        Family::Uniform,
        Family::Poisson,
        Family::Cmp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Family::Geometric => "geometric",
            Family::Uniform => "uniform",
            Family::Poisson => "poisson",
            Family::Cmp => "cmp",
        }
    }
}

/// ln Z(λ, ν) of the CMP distribution, λ > 0, ν > 0.
///
/// With μ = λ^{1/ν}, λ^k/(k!)^ν = e^{νμ}·dpois(k, μ)^ν, so Z = e^{νμ}·S with
/// S = Σ_k dpois(k, μ)^ν: every term of S is a moderate number computed to full precision
/// ([`crate::special::ln_dpois`]), and ln Z = νμ + ln S. For μ ≤ 10⁵, S is summed outwards from
/// the mode until each remaining tail is provably below 10⁻¹⁷·S: the term ratios, (μ/(k+1))^ν
/// to the right and (k/μ)^ν to the left, decrease away from the mode, so a tail after term t
/// with ratio r < 1 is at most t·r/(1 − r). For μ > 10⁵ (only reachable with ν < 1) S has ~μ
/// significant terms and the asymptotic expansion of Gaunt, Iyengar, Olde Daalhuis and Simsek
/// (2019) is used: S ~ (2πμ)^{(1−ν)/2} ν^{−1/2} (1 + c₁/(νμ) + c₂/(νμ)²), c₁ = (ν² − 1)/24,
/// c₂ = (ν² − 1)(ν² + 23)/1152, relative error O((νμ)⁻³) ≤ 10⁻¹¹ there (νμ ≥ 5000 for
/// ν ≥ 0.05). Checked against mpmath in `tests/cmp_fixtures.rs` over λ ∈ [1e-3, 1e3],
/// ν ∈ [0.05, 10].
pub fn cmp_ln_z(lambda: f64, nu: f64) -> f64 {
    let (nu_mu, ln_s) = cmp_parts(lambda, nu);
    nu_mu + ln_s
}

/// (νμ, ln S): see [`cmp_ln_z`].
fn cmp_parts(lambda: f64, nu: f64) -> (f64, f64) {
    assert!(lambda > 0.0 && nu > 0.0, "CMP needs λ > 0 and ν > 0");
    let mu = (lambda.ln() / nu).exp();
    if mu > 1e5 {
        let z = nu * mu;
        let n2 = nu * nu;
        let corr = 1.0 + (n2 - 1.0) / 24.0 / z + (n2 - 1.0) * (n2 + 23.0) / 1152.0 / (z * z);
        return (
            z,
            (1.0 - nu) / 2.0 * (2.0 * std::f64::consts::PI * mu).ln() - 0.5 * nu.ln() + corr.ln(),
        );
    }
    // Walk outwards from the mode with the re-anchored recurrence of `ln_dpois_range`.
    let ln_mu = mu.ln();
    let mode = mu.floor() as u64;
    let l_mode = ln_dpois(mode, mu);
    let mut sum = (nu * l_mode).exp();
    // Right of the mode.
    let (mut k, mut l) = (mode, l_mode);
    loop {
        k += 1;
        l = if (k - mode).is_multiple_of(16) {
            ln_dpois(k, mu)
        } else {
            l + ln_mu - ln_int(k)
        };
        let t = (nu * l).exp();
        sum += t;
        let r = (mu / (k + 1) as f64).powf(nu);
        if r < 1.0 && t * r / (1.0 - r) < 1e-17 * sum {
            break;
        }
    }
    // Left of the mode.
    let (mut k, mut l) = (mode, l_mode);
    while k > 0 {
        l = if (mode - k + 1).is_multiple_of(16) {
            ln_dpois(k - 1, mu)
        } else {
            l - ln_mu + ln_int(k)
        };
        k -= 1;
        let t = (nu * l).exp();
        sum += t;
        let r = (k as f64 / mu).powf(nu);
        if r < 1.0 && t * r / (1.0 - r) < 1e-17 * sum {
            break;
        }
    }
    (nu * mu, sum.ln())
}

impl Model {
    pub fn family(&self) -> Family {
        match self {
            Model::Geometric { .. } => Family::Geometric,
            Model::Uniform { .. } => Family::Uniform,
            Model::Poisson { .. } => Family::Poisson,
            Model::Cmp { .. } => Family::Cmp,
        }
    }

    /// The parameters as (name, value) pairs.
    pub fn params(&self) -> Vec<(&'static str, f64)> {
        match *self {
            Model::Geometric { p } => vec![("p", p)],
            Model::Uniform { max } => vec![("max", max as f64)],
            Model::Poisson { lambda } => vec![("lambda", lambda)],
            Model::Cmp { lambda, nu } => vec![("lambda", lambda), ("nu", nu)],
        }
    }

    /// ln P[τ = k] (−∞ outside the support).
    pub fn ln_pmf(&self, k: u64) -> f64 {
        match *self {
            Model::Geometric { p } => p.ln() + k as f64 * (-p).ln_1p(),
            Model::Uniform { max } => {
                if k <= max {
                    -((max + 1) as f64).ln()
                } else {
                    f64::NEG_INFINITY
                }
            }
            Model::Poisson { lambda } => ln_dpois(k, lambda),
            Model::Cmp { lambda, nu } => {
                let (_, ln_s) = cmp_parts(lambda, nu);
                nu * ln_dpois(k, (lambda.ln() / nu).exp()) - ln_s
            }
        }
    }

    pub fn pmf(&self, k: u64) -> f64 {
        self.ln_pmf(k).exp()
    }

    /// ln P[τ = k] for k = 0..=n, computing shared terms (the normaliser) once.
    pub fn ln_pmf_range(&self, n: u64) -> Vec<f64> {
        match *self {
            Model::Cmp { lambda, nu } => {
                let (_, ln_s) = cmp_parts(lambda, nu);
                let mut v = Vec::with_capacity(n as usize + 1);
                ln_dpois_range(0, n, (lambda.ln() / nu).exp(), &mut v);
                v.iter_mut().for_each(|l| *l = nu * *l - ln_s);
                v
            }
            Model::Poisson { lambda } => {
                let mut v = Vec::with_capacity(n as usize + 1);
                ln_dpois_range(0, n, lambda, &mut v);
                v
            }
            _ => (0..=n).map(|k| self.ln_pmf(k)).collect(),
        }
    }

    /// F(k) = P[τ ≤ k].
    pub fn cdf(&self, k: u64) -> f64 {
        match *self {
            Model::Geometric { p } => -((k + 1) as f64 * (-p).ln_1p()).exp_m1(),
            Model::Uniform { max } => ((k.min(max) + 1) as f64 / (max + 1) as f64).min(1.0),
            // P[Poisson(λ) ≤ k] = Q(k + 1, λ).
            Model::Poisson { lambda } => gamma_q(k as f64 + 1.0, lambda),
            Model::Cmp { .. } => log_sum_exp(self.ln_pmf_range(k)).exp().min(1.0),
        }
    }

    /// E[τ].
    pub fn mean(&self) -> f64 {
        match *self {
            Model::Geometric { p } => (1.0 - p) / p,
            Model::Uniform { max } => max as f64 / 2.0,
            Model::Poisson { lambda } => lambda,
            Model::Cmp { lambda, nu } => {
                // E[τ] = λ ∂ln Z/∂λ; by central differences in ln λ (smooth, well conditioned).
                let h: f64 = 1e-5;
                let (a, b) = (
                    cmp_ln_z(lambda * (h).exp(), nu),
                    cmp_ln_z(lambda * (-h).exp(), nu),
                );
                (a - b) / (2.0 * h)
            }
        }
    }

    /// The most likely τ (the smallest one on ties).
    pub fn mode(&self) -> u64 {
        match *self {
            Model::Geometric { .. } | Model::Uniform { .. } => 0,
            Model::Poisson { lambda } => mode_from_ratio(lambda, 1.0),
            Model::Cmp { lambda, nu } => mode_from_ratio(lambda, nu),
        }
    }
}

/// For pmf ratios p(k+1)/p(k) = λ/(k+1)^ν: the first k where the ratio drops to ≤ 1, i.e.
/// ⌈λ^{1/ν}⌉ − 1 (= ⌊λ^{1/ν}⌋ unless λ^{1/ν} is an integer, where both are modes).
fn mode_from_ratio(lambda: f64, nu: f64) -> u64 {
    let mu = (lambda.ln() / nu).exp();
    if mu <= 1.0 {
        return 0;
    }
    (mu.ceil() as u64).saturating_sub(1)
}
