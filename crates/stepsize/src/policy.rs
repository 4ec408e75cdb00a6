use staleness::special::{gamma_q, ln_factorial};
use staleness::{Counts, Family, Model};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// η(τ) for an update of staleness τ, or `None` to drop the update. Called once per update on
/// the hot path.
pub trait StepSize: Send + Sync {
    fn eta(&self, tau: u64) -> Option<f32>;
}

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
    /// desired implicit momentum μ* by A.11, C = (1 − p)/(2 − μ*). `p = None`: fitted to the live
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
    /// The factor c(τ) = η(τ)/η0 for τ = 0..=τ_max, given the observed counts (needed by
    /// instance-based policies; without a histogram they give c = 1) and η0 (which the
    /// momentum-tuned form depends on). Factors may be negative or huge for MindTheStep forms;
    /// [`Adaptive`] clamps them to [0, cap].
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
                let c = (1.0 - p) / (2.0 - momentum);
                (0..=tau_max)
                    .map(|t| (-(t as f64) * c.ln()).exp() / p)
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
                        let f_le = c.cdf(t);
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

/// Options that apply to every policy (default: none).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Options {
    /// Rescale so that E[η] = η0 over the observed distribution (C.5; the normalisation A.26).
    pub mean_preserving: bool,
    /// Cap η(τ) ≤ cap·η0 (§A.6 uses 5).
    pub cap: Option<f64>,
    /// Drop updates with τ above this bound (§A.6).
    pub drop_above: Option<u64>,
}

/// A policy made concrete: η0, options, and the table workers read.
#[derive(Debug)]
pub struct Adaptive {
    policy: Policy,
    eta0: f64,
    opts: Options,
    /// η(τ) as f32 bits for τ = 0..=τ_max; τ above uses the last entry.
    table: Box<[AtomicU32]>,
    /// For the thesis code's form: frozen after its first non-empty refresh.
    frozen: AtomicU64,
}

impl Adaptive {
    /// A table over τ = 0..=`tau_max`. Static policies are tabulated now; instance-based ones
    /// start at η0 until the first [`Adaptive::refresh`].
    pub fn new(policy: Policy, eta0: f64, opts: Options, tau_max: usize) -> Self {
        let a = Adaptive {
            policy,
            eta0,
            opts,
            table: (0..=tau_max)
                .map(|_| AtomicU32::new((eta0 as f32).to_bits()))
                .collect(),
            frozen: AtomicU64::new(0),
        };
        a.store(&policy.factors(None, tau_max, eta0), None);
        a
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    pub fn eta0(&self) -> f64 {
        self.eta0
    }

    pub fn tau_max(&self) -> usize {
        self.table.len() - 1
    }

    /// Whether [`Adaptive::refresh`] changes anything (instance-based policy or mean
    /// preservation).
    pub fn needs_histogram(&self) -> bool {
        self.policy.is_instance_based() || self.opts.mean_preserving
    }

    /// Re-tabulate from the observed counts. One refresher at a time; workers keep reading (each
    /// entry is one atomic, so a reader sees an old or a new value per τ, never a torn one).
    pub fn refresh(&self, counts: &Counts) {
        if !self.needs_histogram() || counts.total() == 0 {
            return;
        }
        if matches!(
            self.policy,
            Policy::TailTau {
                form: CdfForm::ThesisCode,
                ..
            }
        ) && self.frozen.swap(1, Relaxed) == 1
        {
            return;
        }
        let c = self.policy.factors(Some(counts), self.tau_max(), self.eta0);
        self.store(&c, Some(counts));
    }

    /// The factor actually used: clamped to [0, cap] (a step is never negative, NaN or infinite).
    fn clamped(&self, f: f64) -> f64 {
        let hi = self.opts.cap.unwrap_or(f64::from(f32::MAX) / self.eta0);
        if f.is_nan() {
            0.0
        } else {
            f.clamp(0.0, hi)
        }
    }

    fn store(&self, c: &[f64], counts: Option<&Counts>) {
        let mut scale = 1.0;
        if self.opts.mean_preserving {
            if let Some(h) = counts.filter(|h| h.total() > 0) {
                // E[clamp(s·c(τ))] over the histogram is non-decreasing in s: bisect for 1, so that
                // mean preservation holds after the cap and the clamp at 0, not before.
                let last = *c.last().expect("non-empty table");
                let w_over = h.overflow() as f64 / h.total() as f64;
                let mean_at = |s: f64| -> f64 {
                    (0..=h.tau_max())
                        .map(|t| h.pmf(t) * self.clamped(s * c.get(t).copied().unwrap_or(last)))
                        .sum::<f64>()
                        + w_over * self.clamped(s * last)
                };
                // Bracket by doubling / halving, then bisect on ln s: the scale can be tiny
                // (MindTheStep's (τ!)^ν grows past 10⁸⁰ over 60 values of τ).
                let (mut lo, mut hi) = (1.0f64, 1.0f64);
                while mean_at(hi) < 1.0 && hi < 1e300 {
                    hi *= 2.0;
                }
                while mean_at(lo) >= 1.0 && lo > 1e-300 {
                    lo *= 0.5;
                }
                for _ in 0..200 {
                    let mid = (0.5 * (lo.ln() + hi.ln())).exp();
                    if mid <= lo || mid >= hi {
                        break;
                    }
                    if mean_at(mid) < 1.0 {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                // Where cap·P[c > 0] < 1 no scale reaches 1: `hi` is then the largest tried.
                scale = hi;
            }
        }
        for (slot, &f) in self.table.iter().zip(c) {
            let v = self.eta0 * self.clamped(f * scale);
            slot.store((v as f32).to_bits(), Relaxed);
        }
    }

    /// η(τ)/η0 for τ = 0..=τ_max as currently tabulated (for reports and plots).
    pub fn factors_now(&self) -> Vec<f64> {
        self.table
            .iter()
            .map(|a| f64::from(f32::from_bits(a.load(Relaxed))) / self.eta0)
            .collect()
    }

    /// E[η]/η0 of the current table over `counts`.
    pub fn mean_factor(&self, counts: &Counts) -> f64 {
        let f = self.factors_now();
        let last = *f.last().expect("non-empty table");
        if counts.total() == 0 {
            return f[0];
        }
        (0..=counts.tau_max())
            .map(|t| counts.pmf(t) * f.get(t).copied().unwrap_or(last))
            .sum::<f64>()
            + last * counts.overflow() as f64 / counts.total() as f64
    }
}

impl StepSize for Adaptive {
    #[inline]
    fn eta(&self, tau: u64) -> Option<f32> {
        if let Some(b) = self.opts.drop_above {
            if tau > b {
                return None;
            }
        }
        let i = (tau as usize).min(self.table.len() - 1);
        Some(f32::from_bits(self.table[i].load(Relaxed)))
    }
}
