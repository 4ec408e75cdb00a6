/// ELAsyncSGD's knobs (§D.6 defaults: m0 = M/2, I_P = 100·m, D_P = 10·m, W_P = 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegulatorConfig {
    /// The most workers M (levels are 1..=M).
    pub max_workers: usize,
    /// The starting level m0 (default M/2).
    pub initial: Option<usize>,
    /// Execution phase: I_P·m_E updates.
    pub ip: u64,
    /// Probe of one level: D_P·m updates.
    pub dp: u64,
    /// Probing window ±W_P around the current level.
    pub wp: usize,
}

impl Default for RegulatorConfig {
    fn default() -> Self {
        RegulatorConfig {
            max_workers: 8,
            initial: None,
            ip: 100,
            dp: 10,
            wp: 1,
        }
    }
}

/// What the regulator is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Measuring the convergence rate of one level (Alg. D.3).
    Probing,
    /// Running at the chosen level until the next probe.
    Executing,
}

/// The parallelism regulator of Alg. D.3–D.4 as a deterministic state machine.
///
/// Feed it every applied update with [`Regulator::on_update`]`(i, loss, t)`; it answers with a
/// new parallelism level when one is due. A probe of level m lasts D_P·m updates and measures the
/// convergence rate dL/dt (negative = the loss falls). The first
/// probing phase walks: its window ±W_P follows the best level found so far until every level
/// around the best one has been measured, so it reaches the optimum of a unimodal rate curve from
/// any start. Later phases probe ±W_P around the level they started from, so an optimum that
/// drifts by at most W_P per cycle (Assumption D.4.4) is followed. Ties go to fewer workers.
///
/// Noise: mini-batch losses are noisy, and Alg. D.3's two-point difference of single losses
/// inherits all of it. We estimate dL/dt as the least-squares slope of every mini-batch loss of
/// the probe against its time: unbiased for a linear trend, with standard error
/// σ/(duration·√(n/12)) for per-batch noise σ over n evenly spaced updates. (A trailing mean of
/// the last k losses would lag by k/2 *updates*, which is a different time at each level and
/// biases the comparison.) `tests/regulator.rs` checks the choice under noise.
#[derive(Clone, Debug)]
pub struct Regulator {
    cfg: RegulatorConfig,
    level: usize,
    phase: Phase,
    first: bool,
    pre_probe: usize,
    rates: Vec<Option<f64>>,
    /// Least-squares sums over the current probe: n, Σt, Σl, Σt², Σtl (t relative to t0).
    fit: (f64, f64, f64, f64, f64),
    t0: f64,
    finish_at: u64,
    next_probe_at: u64,
    history: Vec<(u64, usize)>,
}

impl Regulator {
    pub fn new(cfg: RegulatorConfig) -> Self {
        assert!(
            cfg.max_workers >= 1 && cfg.dp >= 1 && cfg.ip >= 1,
            "regulator needs M, D_P, I_P ≥ 1"
        );
        let level = cfg
            .initial
            .unwrap_or(cfg.max_workers / 2)
            .clamp(1, cfg.max_workers);
        Regulator {
            cfg,
            level,
            phase: Phase::Executing,
            first: true,
            pre_probe: level,
            rates: vec![None; cfg.max_workers],
            fit: (0.0, 0.0, 0.0, 0.0, 0.0),
            t0: 0.0,
            finish_at: 0,
            next_probe_at: 0,
            history: vec![(0, level)],
        }
    }

    /// The level m_E workers should run at now.
    pub fn parallelism(&self) -> usize {
        self.level
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// (update index, level) at every change.
    pub fn history(&self) -> &[(u64, usize)] {
        &self.history
    }

    /// The rates measured in the current probing phase, indexed by m − 1.
    pub fn rates(&self) -> &[Option<f64>] {
        &self.rates
    }
    fn start_probe(&mut self, i: u64, t: f64) {
        self.fit = (0.0, 0.0, 0.0, 0.0, 0.0);
        self.t0 = t;
        self.finish_at = i + self.cfg.dp * self.level as u64;
    }

    /// dL/dt over the probe so far (least squares).
    fn slope(&self) -> f64 {
        let (n, st, sl, stt, stl) = self.fit;
        let den = n * stt - st * st;
        if n < 2.0 || den <= 0.0 {
            0.0
        } else {
            (n * stl - st * sl) / den
        }
    }

    fn best(&self) -> usize {
        let mut best: Option<(usize, f64)> = None;
        for (k, r) in self.rates.iter().enumerate() {
            if let Some(r) = *r {
                if best.is_none_or(|(_, b)| r < b) {
                    best = Some((k + 1, r));
                }
            }
        }
        best.map_or(self.level, |b| b.0)
    }

    /// Update `i` (0, 1, 2, …) was applied at time `t` with mini-batch loss `loss`. Returns the
    /// new level when it changes.
    pub fn on_update(&mut self, i: u64, loss: f64, t: f64) -> Option<usize> {
        if loss.is_finite() && self.phase == Phase::Probing {
            let x = t - self.t0;
            let f = &mut self.fit;
            *f = (f.0 + 1.0, f.1 + x, f.2 + loss, f.3 + x * x, f.4 + x * loss);
        }
        let before = self.level;
        match self.phase {
            Phase::Executing => {
                if i >= self.next_probe_at {
                    self.phase = Phase::Probing;
                    self.pre_probe = self.level;
                    self.rates.iter_mut().for_each(|r| *r = None);
                    self.start_probe(i, t);
                }
            }
            Phase::Probing => {
                if i >= self.finish_at {
                    self.rates[self.level - 1] = Some(self.slope());
                    let center = if self.first {
                        self.best()
                    } else {
                        self.pre_probe
                    };
                    let m = self.cfg.max_workers;
                    let lo = center.saturating_sub(self.cfg.wp).max(1);
                    let hi = (center + self.cfg.wp).min(m);
                    match (lo..=hi).find(|&c| self.rates[c - 1].is_none()) {
                        Some(next) => {
                            self.level = next;
                            self.start_probe(i, t);
                        }
                        None => {
                            self.first = false;
                            self.level = self.best();
                            self.phase = Phase::Executing;
                            self.next_probe_at = i + self.cfg.ip * self.level as u64;
                        }
                    }
                }
            }
        }
        if self.level != before {
            self.history.push((i, self.level));
            Some(self.level)
        } else {
            None
        }
    }
}
