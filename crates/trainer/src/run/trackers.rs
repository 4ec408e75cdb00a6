//! The coordinator's small, named pieces of state: ε targets, the trailing mini-batch loss, the
//! evaluation schedule, the thinned mini-batch series, and ELAsyncSGD's regulator with the AIN.

use crate::config::Config;
use crate::report::{EpsTime, MinibatchPoint};
use std::collections::VecDeque;

/// The ε targets (fractions of the initial loss) and when each was first reached.
pub(crate) struct EpsTracker {
    pub times: Vec<EpsTime>,
    smallest: f64,
}

impl EpsTracker {
    pub fn new(fractions: &[f64], initial_loss: f64) -> Self {
        EpsTracker {
            times: fractions
                .iter()
                .map(|&f| EpsTime {
                    fraction: f,
                    threshold: f * initial_loss,
                    seconds: None,
                    updates: None,
                })
                .collect(),
            smallest: fractions.iter().cloned().fold(f64::INFINITY, f64::min),
        }
    }

    /// Credit every target `loss` reaches for the first time; whether the smallest is reached.
    pub fn reach(&mut self, loss: f64, seconds: f64, updates: u64) -> bool {
        for e in &mut self.times {
            if e.seconds.is_none() && loss <= e.threshold {
                e.seconds = Some(seconds);
                e.updates = Some(updates);
            }
        }
        self.times
            .iter()
            .any(|e| e.fraction == self.smallest && e.seconds.is_some())
    }
}

/// Mean of the last 10 mini-batch losses: how the thesis' code judges ε.
#[derive(Default)]
pub(crate) struct TrailingLoss {
    window: VecDeque<f32>,
}

impl TrailingLoss {
    pub const LEN: usize = 10;

    pub fn push(&mut self, loss: f32) {
        if self.window.len() == Self::LEN {
            self.window.pop_front();
        }
        self.window.push_back(loss);
    }

    /// Whether the window holds 10 losses.
    pub fn full(&self) -> bool {
        self.window.len() == Self::LEN
    }

    /// The mean of the window (NaN while empty).
    pub fn mean(&self) -> f64 {
        if self.window.is_empty() {
            return f64::NAN;
        }
        self.window.iter().map(|&l| f64::from(l)).sum::<f64>() / self.window.len() as f64
    }
}

/// When to evaluate a snapshot of θ: every `eval_every` seconds, or `eval_points` times spread
/// over the run's budget, whichever of the epoch budget (in updates) and the time limit binds
/// first (0 points: only at the start and the end).
pub(crate) struct EvalSchedule {
    every_seconds: f64,
    next_seconds: f64,
    points: usize,
    expected_updates: f64,
    max_seconds: Option<f64>,
    next_point: usize,
}

impl EvalSchedule {
    pub fn new(cfg: &Config, expected_updates: f64) -> Self {
        EvalSchedule {
            every_seconds: cfg.eval_every,
            next_seconds: cfg.eval_every,
            points: cfg.eval_points,
            expected_updates,
            max_seconds: cfg.max_seconds,
            next_point: 1,
        }
    }

    /// The fraction of the budget spent after `updates` calls at `seconds`.
    fn progress(&self, seconds: f64, updates: u64) -> f64 {
        let by_updates = updates as f64 / self.expected_updates;
        let by_time = self.max_seconds.map_or(0.0, |l| seconds / l);
        by_updates.max(by_time)
    }

    /// Whether an evaluation is due at `seconds` after `updates` update calls.
    pub fn due(&self, seconds: f64, updates: u64) -> bool {
        if self.every_seconds > 0.0 {
            seconds >= self.next_seconds
        } else {
            self.points > 0
                && self.next_point < self.points
                && self.progress(seconds, updates) * self.points as f64 >= self.next_point as f64
        }
    }

    /// An evaluation started at `seconds` after `updates` calls; the next one by progress is
    /// the next point past where the run is now (points already passed are skipped).
    pub fn started(&mut self, seconds: f64, updates: u64) {
        let at = (self.progress(seconds, updates) * self.points as f64).floor() as usize;
        self.next_point = self.next_point.max(at + 1);
    }

    /// An evaluation ended at `seconds`; the next one by time is a period later.
    pub fn ended(&mut self, seconds: f64) {
        self.next_seconds = seconds + self.every_seconds;
    }
}

/// Every update's trailing loss, thinned to about 2000 points over the expected run.
pub(crate) struct MinibatchSeries {
    pub points: Vec<MinibatchPoint>,
    thin: u64,
}

impl MinibatchSeries {
    pub fn new(expected_updates: f64) -> Self {
        MinibatchSeries {
            points: Vec::new(),
            thin: ((expected_updates / 2000.0) as u64).max(1),
        }
    }

    pub fn push(&mut self, seconds: f64, updates: u64, trailing_loss: f64) {
        if updates.is_multiple_of(self.thin) {
            self.points.push(MinibatchPoint {
                seconds,
                updates,
                trailing_loss,
            });
        }
    }
}

/// Summary statistics of the measured asynchrony-induced noise ‖ξ‖ (Def. D.4.2), with a thinned
/// series.
pub(crate) struct NoiseStats {
    pub sum: f64,
    /// Σ‖ξ‖/η: Alg. D.4's unscaled measure.
    pub sum_distance: f64,
    pub max: f64,
    pub n: u64,
    thin: u64,
    pub series: Vec<(f64, f64)>,
}

impl NoiseStats {
    pub fn new(expected_updates: f64) -> Self {
        NoiseStats {
            sum: 0.0,
            sum_distance: 0.0,
            max: 0.0,
            n: 0,
            thin: ((expected_updates / 2000.0) as u64).max(1),
            series: Vec::new(),
        }
    }

    pub fn push(&mut self, seconds: f64, norm: f64, distance: f64) {
        self.sum += norm;
        self.sum_distance += distance;
        self.max = self.max.max(norm);
        self.n += 1;
        if self.n.is_multiple_of(self.thin) {
            self.series.push((seconds, norm));
        }
    }

    pub fn mean(&self) -> f64 {
        if self.n > 0 {
            self.sum / self.n as f64
        } else {
            0.0
        }
    }

    /// The mean of ‖ξ‖ without η (Alg. D.4).
    pub fn mean_distance(&self) -> f64 {
        if self.n > 0 {
            self.sum_distance / self.n as f64
        } else {
            0.0
        }
    }
}

/// ELAsyncSGD (Ch. D) as the coordinator runs it: the probing regulator (Alg. D.3–D.4) with its
/// worker-second accounting (D.10), and the exact AIN measurement.
pub(crate) struct ElasticTracker {
    pub regulator: Option<elastic::Regulator>,
    pub accounting: elastic::Accounting,
    pub ain: elastic::AinTracker,
    pub noise: NoiseStats,
}
