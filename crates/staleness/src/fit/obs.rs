//! The observed distribution, prepared once for the many model evaluations of a fit.

use crate::models::Model;
use crate::Counts;

/// A histogram as the fits see it: cells 0..=n (n the last observed τ, or τ_max when some
/// updates overflowed) plus, when there is an overflow, one censored cell τ > τ_max with model
/// mass 1 − F(τ_max). Cells past the last observed τ carry no observed mass, so neither the
/// Bhattacharyya coefficient nor the likelihood depends on them: trimming them keeps a fit's
/// cost proportional to the observed support, not to the histogram's allocated length.
pub(crate) struct Obs<'a> {
    pub c: &'a Counts,
    /// Empirical ln p(τ) for τ = 0..=n (−∞ where nothing was observed).
    ln_p: Vec<f64>,
    p_over: f64,
    /// The last cell evaluated.
    pub n: u64,
}

impl<'a> Obs<'a> {
    pub fn new(c: &'a Counts) -> Self {
        let t = c.total().max(1) as f64;
        let n = if c.overflow() > 0 {
            c.tau_max()
        } else {
            c.counts().iter().rposition(|&x| x > 0).unwrap_or(0)
        };
        Obs {
            c,
            ln_p: c.counts()[..=n]
                .iter()
                .map(|&x| (x as f64 / t).ln())
                .collect(),
            p_over: c.overflow() as f64 / t,
            n: n as u64,
        }
    }

    /// The support the search bounds scale with: the last observed τ, or τ_max + 1 when some
    /// updates overflowed (the overflow cell's τ are at least that).
    pub fn support(&self) -> u64 {
        if self.c.overflow() > 0 {
            self.n + 1
        } else {
            self.n
        }
    }

    /// (ln q(0..=n), model mass above n).
    fn model(&self, m: &Model) -> (Vec<f64>, f64) {
        let lq = m.ln_pmf_range(self.n);
        let q_over = if self.p_over > 0.0 {
            (1.0 - lq.iter().map(|l| l.exp()).sum::<f64>()).max(0.0)
        } else {
            0.0
        };
        (lq, q_over)
    }

    /// D_B = −ln Σ √(p_obs q) (0 for identical distributions).
    pub fn bhattacharyya(&self, m: &Model) -> f64 {
        let (lq, q_over) = self.model(m);
        let bc: f64 = self
            .ln_p
            .iter()
            .zip(&lq)
            .map(|(&lp, &l)| {
                if lp > f64::NEG_INFINITY {
                    (0.5 * (lp + l)).exp()
                } else {
                    0.0
                }
            })
            .sum::<f64>()
            + (self.p_over * q_over).sqrt();
        let d = -bc.clamp(1e-300, 1.0).ln();
        if d.is_nan() {
            f64::INFINITY
        } else {
            d
        }
    }

    /// Σ counts(τ) ln q(τ), the overflow cell censored (−∞ if an observed τ has no mass).
    pub fn log_likelihood(&self, m: &Model) -> f64 {
        let (lq, q_over) = self.model(m);
        let mut ll = 0.0;
        for (&c, &l) in self.c.counts().iter().zip(&lq) {
            if c > 0 {
                ll += c as f64 * l;
            }
        }
        if self.c.overflow() > 0 {
            ll += self.c.overflow() as f64 * q_over.ln();
        }
        if ll.is_nan() {
            f64::NEG_INFINITY
        } else {
            ll
        }
    }

    /// −log-likelihood per update (a scale-free objective for the minimisers).
    pub fn nll_per_update(&self, m: &Model) -> f64 {
        let v = -self.log_likelihood(m) / self.c.total().max(1) as f64;
        if v.is_nan() {
            f64::INFINITY
        } else {
            v
        }
    }
}
