//! The contention model of §B.4: threads move between gradient computation (time T_c) and
//! Leashed-SGD's publish loop (time T_u per attempt).
//!
//! Times are in units of the model's discrete step (eq. B.4 is a difference equation): with
//! T_c, T_u ≥ 1 the iteration is a contraction towards the fixed point.

/// An m-thread system with gradient time `tc` and update time `tu`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Contention {
    pub m: f64,
    pub tc: f64,
    pub tu: f64,
}

impl Contention {
    /// One step of (B.4): n_{i+1} = n_i + (m − n_i)/T_c − n_i/T_u.
    pub fn step(&self, n: f64) -> f64 {
        n + (self.m - n) / self.tc - n / self.tu
    }

    /// The fixed point n* = m / (T_c/T_u + 1) of (B.4): threads in the publish loop at balance.
    pub fn fixed_point(&self) -> f64 {
        self.m / (self.tc / self.tu + 1.0)
    }

    /// n*_γ = m / ((T_c/T_u)(1 + γ) + 1) (B.7): the fixed point when the persistence bound raises
    /// the departure rate by the factor 1 + γ (B.6).
    pub fn fixed_point_persistence(&self, gamma: f64) -> f64 {
        self.m / (self.tc / self.tu * (1.0 + gamma) + 1.0)
    }

    /// n_i from n_0 by the closed form (B.5), i = 0..steps.
    pub fn trajectory(&self, n0: f64, steps: usize) -> Vec<f64> {
        let a = 1.0 - 1.0 / self.tc - 1.0 / self.tu;
        (0..steps)
            .map(|i| {
                (1.0 - a.powi(i as i32)) / (1.0 + self.tc / self.tu) * self.m
                    + a.powi(i as i32) * n0
            })
            .collect()
    }
}
