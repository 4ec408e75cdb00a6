//! A policy made concrete: η0, options, and the lock-free table workers read.

use crate::{Policy, PolicyError};
use staleness::Counts;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// η(τ) for an update of staleness τ, or `None` to drop the update. Called once per update on
/// the hot path.
pub trait StepSize: Send + Sync {
    fn eta(&self, tau: u64) -> Option<f32>;
}

/// The longest table [`Adaptive::try_new`] accepts (4 MiB of f32 entries).
pub const MAX_TAU_MAX: usize = 1 << 20;

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
}

impl Adaptive {
    /// [`Adaptive::new`] after checking that the table will be sane: the policy's parameters
    /// ([`Policy::validate`]), η0 > 0 and finite, a cap that is > 0 and finite, `tau_max` ≤
    /// [`MAX_TAU_MAX`], and a cap wherever the factors grow without bound in τ
    /// ([`Policy::is_bounded`]; without one the clamp would hand workers steps near f32::MAX).
    pub fn try_new(
        policy: Policy,
        eta0: f64,
        opts: Options,
        tau_max: usize,
    ) -> Result<Self, PolicyError> {
        policy.validate()?;
        if !(eta0.is_finite() && eta0 > 0.0) {
            return Err(PolicyError::Invalid {
                field: "eta0",
                value: eta0,
                expected: "finite and > 0",
            });
        }
        if let Some(c) = opts.cap.filter(|c| !(c.is_finite() && *c > 0.0)) {
            return Err(PolicyError::Invalid {
                field: "Options.cap",
                value: c,
                expected: "finite and > 0",
            });
        }
        if tau_max > MAX_TAU_MAX {
            return Err(PolicyError::TableTooLong {
                tau_max,
                max: MAX_TAU_MAX,
            });
        }
        if opts.cap.is_none() && !policy.is_bounded(eta0) {
            return Err(PolicyError::NeedsCap { policy });
        }
        Ok(Adaptive::new(policy, eta0, opts, tau_max))
    }

    /// A table over τ = 0..=`tau_max`. Static policies are tabulated now; instance-based ones
    /// start at η0 until the first [`Adaptive::refresh`]. Does not validate: see
    /// [`Adaptive::try_new`].
    pub fn new(policy: Policy, eta0: f64, opts: Options, tau_max: usize) -> Self {
        let a = Adaptive {
            policy,
            eta0,
            opts,
            table: (0..=tau_max)
                .map(|_| AtomicU32::new((eta0 as f32).to_bits()))
                .collect(),
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
    /// When to refresh (periodically, or once from the thesis code's window) is the
    /// [`crate::Refresher`]'s decision, not this method's.
    pub fn refresh(&self, counts: &Counts) {
        if !self.needs_histogram() || counts.total() == 0 {
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
