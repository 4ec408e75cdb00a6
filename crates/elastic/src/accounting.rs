/// Worker-seconds of an elastic run (D.10) against a static baseline (D.11).
///
/// Record every change of the parallelism level with its time; R^E(t) integrates the resulting
/// step function.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Accounting {
    /// (time, level from then on), times non-decreasing.
    changes: Vec<(f64, usize)>,
}

impl Accounting {
    /// Start at time 0 with `level` workers.
    pub fn new(level: usize) -> Self {
        Accounting {
            changes: vec![(0.0, level)],
        }
    }

    /// The level becomes `level` at time `t` (≥ every earlier time).
    pub fn change(&mut self, t: f64, level: usize) {
        let t = t.max(self.changes.last().map_or(0.0, |c| c.0));
        self.changes.push((t, level));
    }

    /// The parallelism trajectory (time, level).
    pub fn trajectory(&self) -> &[(f64, usize)] {
        &self.changes
    }

    /// R^E(t) = ∫₀ᵗ m dt' (D.10).
    pub fn worker_seconds(&self, t: f64) -> f64 {
        let mut r = 0.0;
        for (k, &(t0, m)) in self.changes.iter().enumerate() {
            if t0 >= t {
                break;
            }
            let t1 = self.changes.get(k + 1).map_or(t, |c| c.0.min(t));
            r += (t1 - t0) * m as f64;
        }
        r
    }

    /// R^S(t) = t·m_S (D.11).
    pub fn static_worker_seconds(t: f64, m_static: usize) -> f64 {
        t * m_static as f64
    }

    /// t_break-even = min{t | t' > t ⇒ R^E(t') − R^S(t') < 0} on [0, `end`] (the run's
    /// duration), or `None` if the elastic run is not ahead at the end. R^{E−S} is piecewise
    /// linear with kinks at the level changes, so its last zero crossing is found exactly.
    pub fn break_even(&self, m_static: usize, end: f64) -> Option<f64> {
        let diff = |t: f64| self.worker_seconds(t) - Self::static_worker_seconds(t, m_static);
        if diff(end) >= 0.0 {
            return None;
        }
        // Walk the segments backwards from `end` while R^{E−S} stays negative.
        let mut knots: Vec<f64> = self
            .changes
            .iter()
            .map(|c| c.0)
            .filter(|&t| t < end)
            .collect();
        knots.push(end);
        let mut t_be = 0.0;
        for w in knots.windows(2).rev() {
            let (a, b) = (w[0], w[1]);
            let (da, db) = (diff(a), diff(b));
            if da >= 0.0 {
                // Linear on [a, b]: crossing where it becomes negative.
                t_be = if db < da {
                    a + (b - a) * da / (da - db)
                } else {
                    b
                };
                break;
            }
        }
        Some(t_be)
    }
}
